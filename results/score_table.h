/* Score tables: every requested layer at every requested iteration for every
 * requested region, in one call, with the same splits as a single `score`
 * run (docs/scoring.md "Tables").
 *
 * Each region's neural inputs (window, repetitions, ceiling, stimulus
 * matching) and splits are prepared once.  For each (layer, iteration) the
 * data the metric reads (the Gram matrix on the kernel path, else the
 * features) is read once and shared by every region whose stimuli are the
 * same; so every cell equals the corresponding single `score --layer L
 * --iteration t --region R` call, bit for bit.
 * An ncmp_score_table is owned by the caller: free it with ncmp_score_table_free.
 */
#ifndef NCMP_RESULTS_SCORE_TABLE_H
#define NCMP_RESULTS_SCORE_TABLE_H

#include <stdbool.h>
#include <stddef.h>

#include "analysis/metrics.h"
#include "analysis/normalization.h"
#include "analysis/pls.h"
#include "analysis/splits.h"
#include "core/status.h"
#include "neural/assembly.h"
#include "results/activations.h"
#include "results/protocol.h"

typedef struct ncmp_score_table_options {
    const char *const *layers; /* layers to score, or NULL for every layer of the file */
    size_t n_layers;
    const long long *iterations; /* iteration values, or NULL for every iteration of the file */
    size_t n_iterations;
    const char *const *regions; /* regions, or NULL for all neuroids together (one "region" NULL) */
    size_t n_regions;
    double window_start_ms, window_end_ms; /* applies to recordings with time bins (70:170 by default) */
    ncmp_metric metric;
    ncmp_pls_options pls;    /* components; solver AUTO resolved per layer by ncmp_score_solver */
    size_t block_bytes;      /* Gram streaming buffer */
    const char *splits_path; /* --splits-from JSON, or NULL to draw them (docs/scoring.md "Splits") */
    ncmp_normalization normalization;
    bool progress; /* a progress bar over (layer, iteration, split) on stderr */
} ncmp_score_table_options;

void ncmp_score_table_defaults(ncmp_score_table_options *o);

typedef struct ncmp_score_table_region {
    char *name; /* NULL: all neuroids */
    ncmp_score_inputs *inputs;
    ncmp_splits *splits;
} ncmp_score_table_region;

typedef struct ncmp_score_cell {
    size_t layer, iteration, region; /* indices into the table's lists */
    ncmp_score *score;               /* NULL until computed */
    double ceiled, ceiled_error;     /* analysis/normalization.h; NaN without a ceiling */
    ncmp_pls_solver solver;          /* the path used: kernel (Gram matrix) or NIPALS / features */
    double seconds;                  /* wall time of this cell (the shared read counted in the first) */
} ncmp_score_cell;

typedef struct ncmp_score_table {
    size_t n_layers, n_iterations, n_regions;
    char **layers;
    size_t *n_features;      /* [n_layers] */
    long long *iterations;   /* [n_iterations] values */
    size_t *iteration_index; /* [n_iterations] index into the file's /iteration */
    ncmp_score_table_region *regions;
    ncmp_score_cell *cells; /* [n_layers][n_iterations][n_regions] */
    ncmp_metric metric;
    ncmp_normalization normalization;
    int n_components;
} ncmp_score_table;

/* Check the requested layers (an unknown one is NCMP_ERR_NOT_FOUND with a
 * "did you mean"), iterations and regions, and prepare every region's inputs
 * and splits; no scoring yet (the cells are empty). */
ncmp_status ncmp_score_table_prepare(const ncmp_activations *activations, const ncmp_assembly *neural,
                                     const ncmp_score_table_options *options, ncmp_score_table **out, ncmp_error *err);

/* Called after each cell is scored (cells arrive layer by layer, iteration
 * by iteration); return non-zero to stop (the run then fails with
 * NCMP_ERR_INTERRUPTED). */
typedef int (*ncmp_score_cell_fn)(const ncmp_score_table *table, const ncmp_score_cell *cell, void *context);

/* Score every cell of a prepared table. */
ncmp_status ncmp_score_table_run(ncmp_score_table *table, const ncmp_activations *activations,
                                 const ncmp_score_table_options *options, ncmp_score_cell_fn on_cell, void *context,
                                 ncmp_error *err);

/* Prepare and run: what `neurocmp score` computes. */
ncmp_status ncmp_score_table_compute(const ncmp_activations *activations, const ncmp_assembly *neural,
                                     const ncmp_score_table_options *options, ncmp_score_table **out, ncmp_error *err);

void ncmp_score_table_free(ncmp_score_table *t);

/* The cell of (layer, iteration, region) indices. */
ncmp_score_cell *ncmp_score_table_cell(const ncmp_score_table *t, size_t layer, size_t iteration, size_t region);

/* Parse a comma-separated list ("block3,block4"), or "all" into *n = 0 and
 * *items = NULL.  Empty items are NCMP_ERR_USAGE naming the option. */
ncmp_status ncmp_parse_name_list(const char *option, const char *text, char ***items, size_t *n, ncmp_error *err);
/* Parse "all" (NULL, 0) or a comma-separated list of integers and ranges A-B. */
ncmp_status ncmp_parse_iteration_list(const char *option, const char *text, long long **values, size_t *n,
                                      ncmp_error *err);

#endif
