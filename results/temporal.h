/* Model iterations x neural time bins (docs/temporal.md): the predictivity protocol of
 * docs/scoring.md for every iteration t of a layer and every time bin b of the
 * recordings, S[t][b], with the ceiling of each bin.
 *
 * Bin b's responses are exactly what `neurocmp score --time-window
 * START_b:END_b` uses (the recorded bins inside the window), the splits are
 * drawn once (or given) and shared by every cell, so each cell equals a
 * separate `score` run with the same splits.  Cost: per iteration one Gram
 * matrix (streamed from the activations file, as `score`), then per split the
 * centred kernels once and the PLS fits of all bins in lockstep
 * (ncmp_score_pls_gram_many); ridge fits every neuroid of every bin as one
 * multi-target problem (the eigendecomposition of each split is shared).
 *
 * Modes: per-bin (docs/temporal.md: one regression per bin) and shared (one PLS
 * regression per iteration whose targets are every neuroid in every bin; each
 * bin is then scored on its own columns).
 *
 * Summaries: best_iteration[b] = argmax over iterations of raw[t][b] (the
 * ceiling is constant within a bin, so ceiled gives the same); best_bin[t] =
 * argmax over bins of raw[t][b] and peak_latency_ms[t] = the centre of that
 * bin.  Ties go to the first; NaN cells are skipped.
 * An ncmp_temporal is owned by the caller: free it with ncmp_temporal_free.
 */
#ifndef NCMP_RESULTS_TEMPORAL_H
#define NCMP_RESULTS_TEMPORAL_H

#include <stdbool.h>
#include <stddef.h>

#include "results/activations.h"
#include "results/temporal_align.h"
#include "analysis/linear_score.h"
#include "analysis/metrics.h"
#include "analysis/normalization.h"
#include "analysis/pls.h"
#include "analysis/splits.h"
#include "core/status.h"
#include "neural/assembly.h"

/* per-bin: one regression per bin (Brain-Score's PerTimeRegression); shared: one PLS whose targets are every
 * neuroid in every bin; span: one PLS over the (stimulus, bin) samples stacked, predicting each bin (Brain-Score's
 * SpanTimeRegression, results/temporal_align.h). */
typedef enum ncmp_temporal_mode {
    NCMP_TEMPORAL_PER_BIN = 0,
    NCMP_TEMPORAL_SHARED,
    NCMP_TEMPORAL_SPAN
} ncmp_temporal_mode;
typedef enum ncmp_temporal_metric { NCMP_TEMPORAL_PLS = 0, NCMP_TEMPORAL_RIDGE } ncmp_temporal_metric;

typedef struct ncmp_temporal_options {
    ncmp_temporal_mode mode;
    ncmp_temporal_metric metric;
    ncmp_pls_options pls;    /* PLS-25 defaults; solver AUTO as `score` */
    size_t block_bytes;      /* Gram streaming buffer (256 MB) */
    const double *bin_start; /* the time bins (windows, ms) to score, or NULL for the recording's own bins */
    const double *bin_end;
    size_t n_bins;
    const long long *iterations; /* iteration values to use, or NULL for all in the file */
    size_t n_iterations;
    const ncmp_splits *splits;             /* NULL: draw them as `score` does (docs/scoring.md) ... */
    const char *splits_path;               /* ... or read them from this JSON (ncmp_splits_read_json) */
    double window_start_ms, window_end_ms; /* also score this window (docs/scoring.md: 70-170) per iteration; NaN: no */
    bool progress;                         /* a progress line per iteration on stderr */
    ncmp_normalization normalization;      /* ceiled from raw and the bin's ceiling (analysis/normalization.h) */
    const ncmp_temporal_map *map; /* also score this committed iteration -> time map, with the mode's regression */
} ncmp_temporal_options;

void ncmp_temporal_defaults(ncmp_temporal_options *o);

typedef struct ncmp_temporal {
    size_t n_iterations, n_bins, n_neuroids, n_stimuli, n_splits;
    long long *iterations;           /* [n_iterations] */
    double *bin_start, *bin_end;     /* [n_bins] ms */
    double *ceiling, *ceiling_error; /* [n_bins]; NaN without repetitions */
    double *raw, *error, *ceiled;    /* [n_iterations][n_bins]; ceiled NaN without a ceiling */
    double *split_median;            /* [n_iterations][n_bins][n_splits] */
    double *per_neuroid;             /* [n_iterations][n_bins][n_splits][n_neuroids] Pearson r on test */
    size_t *best_iteration;          /* [n_bins] index into iterations (n_iterations if the column is all NaN) */
    size_t *best_bin;                /* [n_iterations] index into the bins (n_bins if the row is all NaN) */
    double *peak_latency_ms;         /* [n_iterations] */
    /* The standard window score per iteration (as `score --iteration all`), if asked and the window holds bins. */
    bool has_window;
    double window_start_ms, window_end_ms, window_ceiling, window_ceiling_error;
    double *window_raw, *window_error, *window_ceiled; /* [n_iterations] */
    char **stimulus_ids;                               /* [n_stimuli] sorted */
    char **neuroid_ids;                                /* [n_neuroids] */
    ncmp_splits *splits; /* the splits used (owned unless they were given in the options) */
    bool owns_splits;
    int min_components_used; /* PLS: fewest components fitted in any cell and split; 0 for ridge */
    size_t n_features;
    size_t n_unused_activations;
    ncmp_normalization normalization;
    /* The committed map, when given: its steps, the weight of each step in each bin, and the score of every bin
     * when the model's features in that bin are the map's (Brain-Score's TemporalAligned), with their mean. */
    bool has_map;
    char *map_text;
    size_t map_steps;
    long long *map_iterations;                /* [map_steps] */
    double *map_start, *map_end;              /* [map_steps] ms */
    double *map_weights;                      /* [n_bins][map_steps] */
    double *map_raw, *map_error, *map_ceiled; /* [n_bins] */
    double map_mean;                          /* mean over bins of map_ceiled (map_raw without ceilings) */
    /* The best monotone path through the matrix (ceiled, or raw without ceilings): best_path[b] (index into
     * iterations) never decreases with b; best_path_mean its mean over bins. */
    size_t *best_path; /* [n_bins] */
    double best_path_mean;
} ncmp_temporal;

/* The error of a ceiled cell for error bars: ncmp_ceiled_error of raw[i][b] (NaN without a ceiling). */
double ncmp_temporal_ceiled_error(const ncmp_temporal *t, size_t iteration, size_t bin);

/* The matrix for one layer of an activations file against a recording with
 * time bins (an error if it has none: use `score`).  region may be NULL. */
ncmp_status ncmp_temporal_compute(const ncmp_activations *activations, const char *layer, const ncmp_assembly *neural,
                                  const char *region, const ncmp_temporal_options *options, ncmp_temporal **out,
                                  ncmp_error *err);
void ncmp_temporal_free(ncmp_temporal *t);

/* Parse a --bins selection against the recording's bins: "all" (the
 * recording's own bins) or "A:B:STEP" (windows [A, A+STEP), [A+STEP, A+2 STEP),
 * ... ending at or before B ms; each averages the recorded bins inside it, as
 * `score --time-window`).  A window holding no recorded bin is an error.
 * *start and *end are malloc'ed (free them). */
ncmp_status ncmp_temporal_parse_bins(const char *text, const ncmp_assembly *neural, double **start, double **end,
                                     size_t *n_bins, ncmp_error *err);

#endif
