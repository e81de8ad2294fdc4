/* PLS regression on the stimulus x stimulus Gram matrix (kernel PLS): the
 * same iterates as scikit-learn 1.2's NIPALS (analysis/pls.h), replayed in
 * the dual, for features >> stimuli.
 *
 * With Xk the deflated centred features, every NIPALS quantity is a
 * function of Kk = Xk Xk' (n x n): x scores Xk w = a Kk y_score, the
 * weight norms and the convergence test ||w - w_old||^2 from y_score'
 * Kk y_score_old; deflation Kk+1 = (I - t t'/t't) Kk (I - t t'/t't).  The
 * weights stay implicit, W = X0' A and P = X0' B, so
 * predictions are K_test A pinv(B' K0 A) Q' + y_mean, with the same stopping
 * rule, Y masking (10 eps) and "Y residual constant" skip as NIPALS.  The
 * sign flip of _svd_flip_1d is skipped: predictions do not depend on it.
 * Cost per power iteration O(n^2) instead of O(n p); memory O(n^2 + n q).
 * A ncmp_pls_kernel is owned by the caller: free it with ncmp_pls_kernel_free.
 */
#ifndef NCMP_ANALYSIS_PLS_KERNEL_H
#define NCMP_ANALYSIS_PLS_KERNEL_H

#include <stddef.h>

#include "analysis/pls.h"
#include "core/status.h"

typedef struct ncmp_pls_kernel {
    size_t n_train, n_targets;
    int n_components_used;
    double *y_mean;    /* [n_targets] */
    double *dual_coef; /* [n_train][n_targets]: A pinv(B' K0 A) Q' */
} ncmp_pls_kernel;

/* K[n][n] = Xc Xc' of the train features centred by their train mean; Y[n][q]
 * raw (centred here).  n_features is only used for the n_components <= p check. */
ncmp_status ncmp_pls_kernel_fit(const double *K, size_t n, size_t n_features, const double *Y, size_t q,
                                const ncmp_pls_options *options, ncmp_pls_kernel **out, ncmp_error *err);
/* Y_out[m][q] = K_test[m][n] dual_coef + y_mean, K_test = (X_test - train mean) Xc'. */
ncmp_status ncmp_pls_kernel_predict(const ncmp_pls_kernel *model, const double *K_test, size_t m, double *Y_out,
                                    ncmp_error *err);
void ncmp_pls_kernel_free(ncmp_pls_kernel *model);

/* Centred train and test kernels of one split from the Gram matrix G[N][N] of
 * all stimuli (any common shift of the features cancels):
 *   K[i][j] = G[tr_i][tr_j] - r[i] - r[j] + c,  K_test[i][j] = G[te_i][tr_j] - s[i] - r[j] + c,
 * with r, s the means of G over the train columns and c their mean over train rows. */
void ncmp_pls_kernel_center(const double *G, size_t N, const size_t *train, size_t n, const size_t *test, size_t m,
                            double *K, double *K_test);

#endif
