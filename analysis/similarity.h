/* Representational similarity metrics over the same cross-validation splits
 * as the predictivity metrics (no fitting: each split's *test* stimuli only,
 * so the 10 values are comparable to the regression metrics' split medians).
 *
 * RSA: per split, RDM = 1 - Pearson r between the test stimuli's patterns
 * (rows of the features; rows of the responses over neuroids), Spearman rank
 * correlation (average ranks for ties) between the upper triangles (i < j) of
 * the model RDM and the neural RDM.  Needs the features (row-wise Pearson is
 * not a function of a column-centred Gram matrix).
 *
 * Linear CKA (Kornblith et al. 2019): per split, K = Xc Xc' and L = Yc Yc'
 * of the test stimuli centred by their own means (centring matrix H),
 * CKA = <HKH, HLH>_F / (||HKH||_F ||HLH||_F) = ||Yc'Xc||^2_F / (||Xc'Xc||_F ||Yc'Yc||_F).
 * Works from a Gram matrix of all stimuli (any common shift cancels).
 *
 * raw = mean of the 10 split values, error = std (ddof 0) / sqrt(n_splits);
 * split_median[s] is the split's value, per_neuroid[s][j] repeats it for
 * every neuroid (the metrics are population-level).
 */
#ifndef NCMP_ANALYSIS_SIMILARITY_H
#define NCMP_ANALYSIS_SIMILARITY_H

#include <stddef.h>

#include "analysis/metrics.h"

/* Spearman rank correlation of x[0..n-1] and y[0..n-1] (average ranks for ties); NaN if either is constant. */
double ncmp_spearman(const double *x, const double *y, size_t n);

ncmp_status ncmp_score_rsa(const double *features, size_t n, size_t p, const double *responses, size_t q,
                           const ncmp_splits *splits, ncmp_score **out, ncmp_error *err);
ncmp_status ncmp_score_cka_gram(const double *G, size_t n, size_t p, const double *responses, size_t q,
                                const ncmp_splits *splits, ncmp_score **out, ncmp_error *err);
/* ncmp_score_cka_gram on ncmp_gram_matrix(features). */
ncmp_status ncmp_score_cka(const double *features, size_t n, size_t p, const double *responses, size_t q,
                           const ncmp_splits *splits, ncmp_score **out, ncmp_error *err);

#endif
