/* Ridge and OLS predictivity: the PLS protocol of analysis/metrics.h (fit on
 * train, Pearson per neuroid on test, median over neuroids, mean and standard
 * error over splits) with analysis/ridge.h as the regression.
 *
 * ncmp_score_linear picks, per split, the primal solver (features) when
 * features < training stimuli and the dual one (centred Gram matrix)
 * otherwise, as scikit-learn's RidgeCV gcv_mode=None (eigen when n_features >
 * n_samples; svd otherwise; p == n goes to the dual here since the primal SVD
 * of [Xc, 1] needs n > p).  ncmp_score_linear_gram is the dual path from a
 * Gram matrix of all stimuli (ncmp_gram_matrix or ncmp_activations_gram).
 * For ridge the chosen alphas are in score->alpha[split][neuroid].
 */
#ifndef NCMP_ANALYSIS_LINEAR_SCORE_H
#define NCMP_ANALYSIS_LINEAR_SCORE_H

#include <stddef.h>

#include "analysis/metrics.h"
#include "analysis/ridge.h"

typedef enum { NCMP_LINEAR_RIDGE, NCMP_LINEAR_OLS } ncmp_linear_kind;

typedef struct ncmp_linear_options {
    ncmp_linear_kind kind;
    const double *alphas; /* NULL: ncmp_ridge_default_alphas */
    size_t n_alphas;
} ncmp_linear_options;

ncmp_status ncmp_score_linear(const double *features, size_t n, size_t p, const double *responses, size_t q,
                              const ncmp_splits *splits, const ncmp_linear_options *options, ncmp_score **out,
                              ncmp_error *err);
ncmp_status ncmp_score_linear_gram(const double *G, size_t n, size_t p, const double *responses, size_t q,
                                   const ncmp_splits *splits, const ncmp_linear_options *options, ncmp_score **out,
                                   ncmp_error *err);

#endif
