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
 *
 * The deflated kernel is never formed: the x scores are orthogonal, so
 * Kk = Dk K0 Dk with Dk = I - sum_i t_i t_i'/t_i't_i, and Dk Yk = Yk.  With
 * Z = K0 Yk the power method's q x q products Yk'Kk Yk = Yk'Z and
 * (Kk Yk)'(Kk Yk) = Z'Z - sum_i (t_i'Z)'(t_i'Z)/t_i't_i follow Yk and Z by
 * rank-one updates, so a component costs one product K0 t (O(n^2)) plus
 * O(n q + q^2) work; the power iteration itself is O(q^2).  Several response
 * matrices over the same kernel (e.g. the time bins of a recording) are fit
 * in lockstep so that their K0 t products are one matrix product.
 * Memory O(n^2 + n q) per response matrix.
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
/* The same for n_problems independent response matrices Y[b][n][q] over one
 * kernel (out[b] receives each model); the fits of one problem do not depend
 * on the others, up to the rounding of the shared matrix products.  Z0, if
 * not NULL, holds K Yc_b (Yc_b = Y[b] centred) for every problem, problem b
 * in columns b*q .. b*q+q-1 of an n x z0_ld matrix (see
 * ncmp_score_pls_gram_many, which forms it for all splits from one product
 * with the full Gram matrix); NULL computes it (one n x n x q product each). */
ncmp_status ncmp_pls_kernel_fit_many(const double *K, size_t n, size_t n_features, const double *const *Y,
                                     size_t n_problems, size_t q, const double *Z0, size_t z0_ld,
                                     const ncmp_pls_options *options, ncmp_pls_kernel **out, ncmp_error *err);
/* A workspace for repeated lockstep fits (e.g. one per split) of n_problems
 * response sets of q targets over kernels of at most max_n stimuli, with
 * n_components components: everything the fits need, allocated once.  Owned
 * by the caller: free with ncmp_pls_kernel_workspace_free. */
typedef struct ncmp_pls_kernel_workspace ncmp_pls_kernel_workspace;
ncmp_status ncmp_pls_kernel_workspace_alloc(size_t max_n, size_t q, size_t n_problems, int n_components,
                                            ncmp_pls_kernel_workspace **out, ncmp_error *err);
void ncmp_pls_kernel_workspace_free(ncmp_pls_kernel_workspace *ws);
/* As ncmp_pls_kernel_fit_many, into the workspace: *models[b] are owned by the
 * workspace and valid until its next fit or its free. */
ncmp_status ncmp_pls_kernel_fit_workspace(ncmp_pls_kernel_workspace *ws, const double *K, size_t n, size_t n_features,
                                          const double *const *Y, size_t n_problems, const double *Z0, size_t z0_ld,
                                          const ncmp_pls_options *options, ncmp_pls_kernel *const **models,
                                          ncmp_error *err);
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
