/* Partial least squares regression exactly as scikit-learn 1.2
 * PLSRegression(n_components, scale=False) (docs/scoring.md).
 *
 * NIPALS: X and Y are centred; per component, the power method of
 * _get_first_singular_vectors_power_method (mode A, max_iter, tol,
 * norm_y_weights false) starting from the first Y column with a value above
 * machine epsilon, the sign flip of _svd_flip_1d, then regression deflation
 * of X and Y on the X score.  Y columns whose residual is below 10 eps are
 * zeroed first; when every Y column is, the remaining components are skipped
 * (scikit-learn warns "Y residual is constant at iteration k") and count as
 * zero.  coef = W pinv(P'W) Q' with scipy's pinv cut-off
 * (max(K, K) eps times the largest singular value); predict X -> (X - x_mean) coef + y_mean.
 *
 * This NIPALS works on a dense float64 copy of X (n x p): memory O(n p).
 * analysis/pls_kernel.h replays the same iterations on the Gram matrix.
 * A ncmp_pls is owned by the caller: free it with ncmp_pls_free.
 */
#ifndef NCMP_ANALYSIS_PLS_H
#define NCMP_ANALYSIS_PLS_H

#include <stddef.h>

#include "core/status.h"

/* Which implementation ncmp_score_pls uses (both give scikit-learn's predictions). */
typedef enum ncmp_pls_solver {
    NCMP_PLS_AUTO = 0, /* by cost (ncmp_pls_choose_solver) */
    NCMP_PLS_NIPALS,   /* this file: O(n p) per power iteration */
    NCMP_PLS_KERNEL    /* analysis/pls_kernel.h: O(n^2) per power iteration */
} ncmp_pls_solver;

/* "auto", "nipals" or "kernel" (anything else is NCMP_ERR_USAGE naming --solver). */
ncmp_status ncmp_pls_solver_parse(const char *name, ncmp_pls_solver *solver, ncmp_error *err);

typedef struct ncmp_pls_options {
    int n_components; /* 25 */
    int max_iter;     /* 500 */
    double tol;       /* 1e-6 */
    ncmp_pls_solver solver;
} ncmp_pls_options;

#define NCMP_PLS_DEFAULTS                                                                                              \
    {                                                                                                                  \
        25, 500, 1e-6, NCMP_PLS_AUTO                                                                                   \
    }

typedef struct ncmp_pls {
    size_t n_features, n_targets;
    int n_components;         /* requested */
    int n_components_used;    /* fitted before the Y residual became constant */
    int max_power_iterations; /* most power-method iterations any component needed */
    double *x_mean;           /* [n_features] */
    double *y_mean;           /* [n_targets] */
    double *coef;             /* [n_features][n_targets] */
} ncmp_pls;

/* Fit on X[n][p] (row-major, row stride p) and Y[n][q].  Errors: fewer than 2
 * samples, n_components > p (as scikit-learn), fewer samples than
 * components, non-finite values (naming row and column). */
ncmp_status ncmp_pls_fit(const double *X, size_t n, size_t p, const double *Y, size_t q,
                         const ncmp_pls_options *options, ncmp_pls **out, ncmp_error *err);

/* Y_out[m][q] = (X[m][p] - x_mean) coef + y_mean. */
ncmp_status ncmp_pls_predict(const ncmp_pls *pls, const double *X, size_t m, size_t p, double *Y_out, ncmp_error *err);

void ncmp_pls_free(ncmp_pls *pls);

/* Checks shared by the NIPALS and kernel fits: K components need at least K
 * feature columns and K training stimuli; responses must be finite. */
ncmp_status ncmp_pls_check_components(size_t K, size_t n, size_t p, ncmp_error *err);
ncmp_status ncmp_pls_check_responses(const double *Y, size_t n, size_t q, ncmp_error *err);

/* Shared by the NIPALS and kernel fits: zero the Y residual columns below
 * 10 eps, then return the first column with a value above eps (q if none:
 * the residual is constant and the remaining components are zero). */
size_t ncmp_pls_first_active_target(double *Yk, size_t n, size_t q);

/* The solver NCMP_PLS_AUTO resolves to, by a cost model.  One power
 * iteration costs about 2 n_train (p + q) flops in NIPALS and 2 n_train^2 in
 * the kernel replay, whose flops run about 20 times faster (BLAS on one
 * contiguous kernel vs strided passes over the features; measured on
 * 640 stimuli x 30..4096 features x 50 neuroids: kernel 0.11 s vs NIPALS
 * 0.31 s at p = 30, 0.36 vs 1.40 s at p = 512, docs/scoring.md "Solvers").
 * So the kernel when 20 (p + q) >= max_train, or when p > max_train; NIPALS
 * otherwise, and always when the n x n Gram matrix would pass 2 GiB while
 * the features would not. */
ncmp_pls_solver ncmp_pls_choose_solver(size_t n, size_t max_train, size_t p, size_t q);

#endif
