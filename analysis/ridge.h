/* Ridge regression with per-target alpha chosen by efficient leave-one-out
 * (scikit-learn 1.2 RidgeCV(alphas, alpha_per_target=True, fit_intercept=True),
 * default gcv_mode), and ordinary least squares (LinearRegression), both with
 * an intercept (X and Y centred by their train means).
 *
 * Dual forms work on the centred train kernel K = Xc Xc' (n x n) and return
 * dual coefficients c, predictions K_test c + y_mean with K_test = (X_test -
 * x_mean) Xc' (ncmp_pls_kernel_center gives both from a Gram matrix).  Primal
 * forms work on X (n x p) and return coef (p x q), predictions (X_test -
 * x_mean) coef + y_mean.
 *
 * Ridge dual = sklearn's "eigen" mode (eigendecomposition of K + 1 1', the
 * regularisation of the eigenvector closest to 1 cancelled); ridge primal =
 * sklearn's "svd" mode (thin SVD of [Xc, 1]).  sklearn picks eigen when
 * n_features > n_samples, svd otherwise; the LOO residuals are c_i / G^-1_ii
 * in closed form, the alpha with the smallest mean squared LOO residual wins
 * per target (the first one on ties, as sklearn).
 *
 * OLS primal = scipy.linalg.lstsq (gelsd, rcond = DBL_EPSILON) on the
 * centred data: singular values <= eps * s_max dropped (minimum-norm
 * solution).  OLS dual = minimum-norm solution through K: c = pinv(K) yc with
 * eigenvalues <= n * eps * lambda_max dropped; for p >= n it interpolates the
 * train responses and equals the minimum-norm least-squares solution.
 */
#ifndef NCMP_ANALYSIS_RIDGE_H
#define NCMP_ANALYSIS_RIDGE_H

#include <stddef.h>

#include "core/status.h"

/* np.logspace(-3, 3, 7): 1e-3 .. 1e3. */
#define NCMP_RIDGE_DEFAULT_N_ALPHAS 7
extern const double ncmp_ridge_default_alphas[NCMP_RIDGE_DEFAULT_N_ALPHAS];

/* K[n][n] centred train kernel, Y[n][q] raw.  Out: c[n][q], y_mean[q],
 * alpha[q] (chosen alpha per target; may be NULL). */
ncmp_status ncmp_ridge_fit_dual(const double *K, size_t n, const double *Y, size_t q, const double *alphas,
                                size_t n_alphas, double *c, double *y_mean, double *alpha, ncmp_error *err);
/* X[n][p] raw with n >= p + 1, Y[n][q] raw.  Out: coef[p][q], x_mean[p], y_mean[q], alpha[q] (may be NULL). */
ncmp_status ncmp_ridge_fit_primal(const double *X, size_t n, size_t p, const double *Y, size_t q, const double *alphas,
                                  size_t n_alphas, double *coef, double *x_mean, double *y_mean, double *alpha,
                                  ncmp_error *err);
/* OLS, dual: c[n][q], y_mean[q]. */
ncmp_status ncmp_ols_fit_dual(const double *K, size_t n, const double *Y, size_t q, double *c, double *y_mean,
                              ncmp_error *err);
/* OLS, primal (n >= p): coef[p][q], x_mean[p], y_mean[q]. */
ncmp_status ncmp_ols_fit_primal(const double *X, size_t n, size_t p, const double *Y, size_t q, double *coef,
                                double *x_mean, double *y_mean, ncmp_error *err);

#endif
