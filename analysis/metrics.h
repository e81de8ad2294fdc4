/* Predictivity metrics and their aggregation (docs/scoring.md; Brain-Score
 * CrossRegressedCorrelation with pls_regression and pearsonr_correlation).
 *
 * Per split: fit the regression on the train stimuli, predict the test
 * stimuli, Pearson r per neuroid between prediction and response (NaN when
 * either is constant), median over neuroids (NaN skipped).  raw = mean of
 * the split medians, error = std (ddof 0) of the split medians / sqrt(n_splits).
 * A ncmp_score is owned by the caller: free it with ncmp_score_free.
 */
#ifndef NCMP_ANALYSIS_METRICS_H
#define NCMP_ANALYSIS_METRICS_H

#include <stddef.h>

#include "analysis/pls.h"
#include "analysis/splits.h"
#include "core/status.h"

/* Pearson r of x[i*sx] and y[i*sy], i < n (two-pass); NaN if n < 2 or either is constant. */
double ncmp_pearson(const double *x, size_t sx, const double *y, size_t sy, size_t n);

/* split_median[s] = median over neuroids of per_neuroid[s][.] (NaN skipped);
 * raw = mean of the non-NaN split medians; error = their std (ddof 0) / sqrt(count). */
void ncmp_score_aggregate(const double *per_neuroid, size_t n_splits, size_t n_neuroids, double *split_median,
                          double *raw, double *error);

typedef struct ncmp_score {
    size_t n_splits, n_neuroids, n_stimuli;
    double raw, error;
    double *split_median;    /* [n_splits] */
    double *per_neuroid;     /* [n_splits][n_neuroids] Pearson r on the test stimuli */
    int min_components_used; /* fewest PLS components fitted in any split */
    double *alpha;           /* ridge: [n_splits][n_neuroids] alpha chosen by leave-one-out, else NULL */
    double *predictions;     /* regressions: [test rows][n_neuroids], the test predictions of every split in the
                                order of splits->test (rows test_offset[s]..test_offset[s+1]-1 for split s);
                                NULL for RSA and CKA */
} ncmp_score;

/* G[n][n] = Fs Fs' with Fs = features[n][p] minus their column means,
 * accumulated over blocks of 256 columns. */
ncmp_status ncmp_gram_matrix(const double *features, size_t n, size_t p, double *G, ncmp_error *err);

/* PLS protocol over features[n][p] and responses[n][q] (rows = stimuli in
 * the order the splits index).  Shapes and NaNs are checked first.
 * options->solver AUTO uses the kernel replay (one Gram matrix for all splits)
 * when features outnumber training stimuli, NIPALS otherwise. */
ncmp_status ncmp_score_pls(const double *features, size_t n, size_t p, const double *responses, size_t q,
                           const ncmp_splits *splits, const ncmp_pls_options *options, ncmp_score **out,
                           ncmp_error *err);
/* The kernel path of ncmp_score_pls from a precomputed Gram matrix G[n][n]
 * of all stimuli (ncmp_gram_matrix or ncmp_activations_gram: any common
 * shift of the features); p is the number of features. */
ncmp_status ncmp_score_pls_gram(const double *G, size_t n, size_t p, const double *responses, size_t q,
                                const ncmp_splits *splits, const ncmp_pls_options *options, ncmp_score **out,
                                ncmp_error *err);
/* The kernel path for several response matrices over one Gram matrix and the
 * same splits (e.g. the time bins of a recording, results/temporal.h): per
 * split the centred kernels are formed once and the PLS fits run in lockstep
 * (ncmp_pls_kernel_fit_many).  out[b] is the score of responses[b][n][q]. */
ncmp_status ncmp_score_pls_gram_many(const double *G, size_t n, size_t p, const double *const *responses, size_t n_sets,
                                     size_t q, const ncmp_splits *splits, const ncmp_pls_options *options,
                                     ncmp_score **out, ncmp_error *err);
void ncmp_score_free(ncmp_score *s);
/* An empty score for these splits: split_median[K], per_neuroid[K][q] and
 * predictions[test rows][q] allocated, min_components_used = n_components;
 * NULL when memory is exhausted. */
ncmp_score *ncmp_score_new(const ncmp_splits *splits, size_t n, size_t q, int n_components);

/* Checks of the score functions: splits over n samples and valid, p and q
 * non-zero, finite responses; the largest train and test sizes. */
ncmp_status ncmp_score_check_inputs(size_t n, size_t p, const double *responses, size_t q, const ncmp_splits *splits,
                                    size_t *max_train, size_t *max_test, ncmp_error *err);

#endif
