/* Split-half noise ceilings over repetitions (docs/scoring.md; Brain-Score's
 * InternalConsistency with Spearman-Brown correction).
 *
 * The repetition values (sorted, distinct) are halved by 10 x scikit-learn
 * ShuffleSplit(train_size=0.5, random_state=1) (core/mt19937.h: bit-identical
 * halves).  Per halving, each half's presentations are averaged per stimulus
 * (NaN-aware); per neuroid, Pearson r between the halves across the
 * stimuli that have a value in both halves; Spearman-Brown 2r/(1+r); the
 * median over neuroids whose r is defined; then mean over halvings = the
 * ceiling, and error = std over halvings (ddof 0) / sqrt(n_halvings) as for
 * scores (docs/scoring.md).  Every time bin is treated separately with the same
 * halves.  Unequal repetition counts and NaNs need no special handling.
 */
#ifndef NCMP_NEURAL_CEILING_H
#define NCMP_NEURAL_CEILING_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "neural/assembly.h"

typedef struct ncmp_ceiling_options {
    int n_splits;  /* 10 */
    uint32_t seed; /* 1 */
} ncmp_ceiling_options;

#define NCMP_CEILING_DEFAULTS                                                                                          \
    {                                                                                                                  \
        10, 1                                                                                                          \
    }

typedef struct ncmp_ceiling {
    size_t n_time_bins, n_splits, n_neuroids, n_stimuli, n_repetitions;
    uint32_t seed;
    double *ceiling;      /* [n_time_bins] */
    double *error;        /* [n_time_bins] */
    double *split_median; /* [n_time_bins][n_splits] */
    double *per_neuroid;  /* [n_time_bins][n_splits][n_neuroids] corrected r; NaN where undefined */
    double *repetitions;  /* [n_repetitions] the sorted distinct repetition values */
    size_t *half_size;    /* [2]: repetitions in the first (train) and second (test) half */
    size_t *halves;       /* [n_splits][n_repetitions]: indices into repetitions, train half first */
} ncmp_ceiling;

/* Compute the ceiling of every time bin of `a` (select region and time
 * window first).  Fails with a clear message when `a` has no `repetition`
 * coordinate or fewer than 2 distinct repetition values. */
ncmp_status ncmp_ceiling_split_half(const ncmp_assembly *a, const ncmp_ceiling_options *options, ncmp_ceiling **out,
                                    ncmp_error *err);
void ncmp_ceiling_free(ncmp_ceiling *c);

/* Median of the non-NaN values (NaN if none); sorts a scratch copy in work[n]. */
double ncmp_nan_median(const double *x, size_t n, double *work);

/* What the ceiling JSON records besides the numbers. */
typedef struct ncmp_ceiling_report {
    const char *input_path;                  /* hashed into input_sha256 */
    const char *region;                      /* NULL: all neuroids */
    double window_start_ms, window_end_ms;   /* NaN when not windowed */
    const double *bin_start_ms, *bin_end_ms; /* [n_time_bins] or NULL */
} ncmp_ceiling_report;

/* score-result JSON (docs/formats.md): ceiling, error, n_stimuli, n_neuroids, n_repetitions (one
 * bin: numbers; several: arrays plus time_bin_start/end), the split medians,
 * and provenance (neurocmp version and revision, input path and SHA-256,
 * command line, seed, time).  Written to PATH.partial and renamed. */
ncmp_status ncmp_ceiling_write_json(const ncmp_ceiling *c, const ncmp_ceiling_report *report, const char *path,
                                    ncmp_error *err);

#endif
