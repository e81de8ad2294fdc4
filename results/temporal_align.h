/* Brain-Score's temporal protocols for a recurrent model (docs/temporal.md
 * "Span regression and committed maps"):
 *
 * - A map commits model iterations to intervals of time: "0@70:120,1@120:170"
 *   or "linear:START:STEP" (the k-th scored iteration covers
 *   [START + k STEP, START + (k+1) STEP)).  Each recording bin then gets the
 *   features of the iterations overlapping it, averaged with weights = the
 *   fraction of each iteration's interval inside the bin, as Brain-Score's
 *   time_align (model_helpers/brain_transformation/temporal.py, "portion"); a
 *   bin the map does not cover from its start to its end is an error, as
 *   there.
 * - Span regression (metric_helpers/temporal.py SpanTimeRegression): one PLS
 *   fit on the (stimulus, bin) samples of the training stimuli stacked,
 *   predicting each bin; the score of a bin is the protocol's Pearson r per
 *   neuroid on the test stimuli of that bin, median over neuroids, mean over
 *   splits.  The splits are over stimuli, so all bins of a stimulus are on
 *   the same side.
 *
 * With one iteration for every bin (the matrix's cells in span mode) the
 * stacked samples repeat each stimulus's features, and PLS on them equals
 * PLS on the features with the responses averaged over the bins (the cross
 * covariance, scores and deflations are the same), so that case costs one
 * ordinary fit; a map mixing iterations fits the stacked problem on its
 * (stimulus x bin) Gram matrix.
 */
#ifndef NCMP_RESULTS_TEMPORAL_ALIGN_H
#define NCMP_RESULTS_TEMPORAL_ALIGN_H

#include <stddef.h>

#include "analysis/metrics.h"
#include "analysis/pls.h"
#include "analysis/splits.h"
#include "core/status.h"
#include "results/activations.h"

typedef struct ncmp_temporal_map {
    size_t n_steps;
    long long *iterations; /* [n_steps] iteration values */
    double *start, *end;   /* [n_steps] ms */
    char *text;            /* as given */
} ncmp_temporal_map;

/* Parse --map.  iterations (n, the scored iterations in order) are what
 * "linear:" assigns; explicit steps may name any iteration.  Steps must not
 * overlap and each must end after it starts. */
ncmp_status ncmp_temporal_map_parse(const char *text, const long long *iterations, size_t n, ncmp_temporal_map **out,
                                    ncmp_error *err);
void ncmp_temporal_map_free(ncmp_temporal_map *m);

/* W[b][k] (B x n_steps, rows summing to 1): the weight of step k in bin b. */
ncmp_status ncmp_temporal_map_weights(const ncmp_temporal_map *m, const double *bin_start, const double *bin_end,
                                      size_t B, double *W, ncmp_error *err);

/* Scores of the bins when bin b's features are sum_k W[b][k] F(it_index[k])
 * of the layer (it_index: file iteration indices of the steps; rows: the
 * stimuli's rows in the file), against responses Y[b][n][q].  span: one
 * stacked PLS (as above); else one PLS per bin (PerTimeRegression).  out[b]
 * receives bin b's score (per-neuroid r, split medians, raw, error). */
ncmp_status ncmp_temporal_aligned_scores(const ncmp_activations *acts, const char *layer, const size_t *it_index,
                                         size_t n_steps, const double *W, size_t B, const size_t *rows, size_t n,
                                         const double *const *Y, size_t q, const ncmp_splits *splits, bool span,
                                         const ncmp_pls_options *pls, size_t block_bytes, ncmp_score **out,
                                         ncmp_error *err);

/* Span regression of one iteration for every bin from its Gram matrix G (or
 * features, kernel false) of the n stimuli: PLS on the bin-averaged
 * responses, each bin scored on its own responses.  out[b] as above. */
ncmp_status ncmp_temporal_span_scores(const double *data, bool kernel, size_t n, size_t p, const double *const *Y,
                                      size_t B, size_t q, const ncmp_splits *splits, const ncmp_pls_options *pls,
                                      ncmp_score **out, ncmp_error *err);

/* The best monotone path through a T x B matrix S (rows in iteration order):
 * path[b] non-decreasing in b maximising sum_b S[path[b]][b] (NaN cells
 * skipped as -inf); returns that mean over bins (NaN if no finite path). */
double ncmp_temporal_best_monotone_path(const double *S, size_t T, size_t B, size_t *path);

#endif
