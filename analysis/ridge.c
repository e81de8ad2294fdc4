/* Ridge (RidgeCV efficient LOO, per target) and OLS on GSL (no OpenBLAS cblas.h here: the headers clash). */
#include "analysis/ridge.h"

#include "analysis/linalg.h"
#include "core/sizes.h"

#include <float.h>
#include <gsl/gsl_blas.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const double ncmp_ridge_default_alphas[NCMP_RIDGE_DEFAULT_N_ALPHAS] = {1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3};

/* Column means of A[n][m] into mean, and A - mean into out (gsl matrix n x m, columns 0..m-1). */
static void center(const double *A, size_t n, size_t m, double *mean, gsl_matrix *out)
{
    for (size_t j = 0; j < m; j++)
        mean[j] = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < m; j++)
            mean[j] += A[i * m + j];
    for (size_t j = 0; j < m; j++)
        mean[j] /= (double)n;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < m; j++)
            gsl_matrix_set(out, i, j, A[i * m + j] - mean[j]);
}

/* Column of U (n x k) with the largest |cosine| to the constant vector (sklearn _find_smallest_angle). */
static size_t intercept_dim(const gsl_matrix *U)
{
    size_t best = 0;
    double bv = -1;
    for (size_t k = 0; k < U->size2; k++) {
        double s = 0;
        for (size_t i = 0; i < U->size1; i++)
            s += gsl_matrix_get(U, i, k);
        if (fabs(s) > bv) {
            bv = fabs(s);
            best = k;
        }
    }
    return best;
}

/* The LOO search shared by both modes.  U (n x k) orthonormal columns, UTy (k x q);
 * for each alpha, w[k] = f(alpha, ev[k]); c = U diag(w) UTy + extra * y; G_ii = sum w U_ik^2 + extra. */
static ncmp_status loo_search(const gsl_matrix *U, const double *ev, const gsl_matrix *UTy, const gsl_matrix *y,
                              int svd_mode, const double *alphas, size_t n_alphas, double *c_out, double *alpha_out,
                              ncmp_error *err)
{
    size_t n = U->size1, k = U->size2, q = UTy->size2;
    size_t idim = intercept_dim(U);
    gsl_matrix *WU = gsl_matrix_alloc(k, q), *C = gsl_matrix_alloc(n, q);
    double *w = malloc(k * sizeof *w), *G = malloc(n * sizeof *G), *best = malloc(q * sizeof *best);
    if (!WU || !C || !w || !G || !best) {
        if (WU)
            gsl_matrix_free(WU);
        if (C)
            gsl_matrix_free(C);
        free(w);
        free(G);
        free(best);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "ridge: out of memory for %zu samples", n);
    }
    for (size_t j = 0; j < q; j++)
        best[j] = INFINITY;
    for (size_t a = 0; a < n_alphas; a++) {
        double al = alphas[a], extra = svd_mode ? 1.0 / al : 0.0;
        for (size_t r = 0; r < k; r++)
            w[r] = svd_mode ? 1.0 / (ev[r] + al) - 1.0 / al : 1.0 / (ev[r] + al);
        w[idim] = svd_mode ? -1.0 / al : 0.0;
        for (size_t r = 0; r < k; r++)
            for (size_t j = 0; j < q; j++)
                gsl_matrix_set(WU, r, j, w[r] * gsl_matrix_get(UTy, r, j));
        gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, U, WU, 0.0, C);
        for (size_t i = 0; i < n; i++) {
            double g = extra;
            for (size_t r = 0; r < k; r++) {
                double u = gsl_matrix_get(U, i, r);
                g += w[r] * u * u;
            }
            G[i] = g;
            if (svd_mode)
                for (size_t j = 0; j < q; j++)
                    gsl_matrix_set(C, i, j, gsl_matrix_get(C, i, j) + extra * gsl_matrix_get(y, i, j));
        }
        for (size_t j = 0; j < q; j++) {
            double e = 0;
            for (size_t i = 0; i < n; i++) {
                double r = gsl_matrix_get(C, i, j) / G[i];
                e += r * r;
            }
            e /= (double)n;
            if (e < best[j]) { /* -e > best score: strictly better, first alpha kept on ties */
                best[j] = e;
                if (alpha_out)
                    alpha_out[j] = al;
                for (size_t i = 0; i < n; i++)
                    c_out[i * q + j] = gsl_matrix_get(C, i, j);
            }
        }
    }
    ncmp_status st = NCMP_OK;
    for (size_t j = 0; j < q; j++)
        if (!isfinite(best[j]))
            st = ncmp_fail(err, NCMP_ERR_VALUE, "ridge: leave-one-out errors of target %zu are not finite", j);
    gsl_matrix_free(WU);
    gsl_matrix_free(C);
    free(w);
    free(G);
    free(best);
    return st;
}

static ncmp_status nomem(ncmp_error *err, size_t n, size_t p)
{
    return ncmp_fail(err, NCMP_ERR_NOMEM, "regression: out of memory for %zu samples x %zu", n, p);
}

/* Eigendecomposition of the symmetric K (+ add to every entry); eval[n], evec n x n. */
static ncmp_status eigen(const double *K, size_t n, double add, gsl_vector *eval, gsl_matrix *evec, ncmp_error *err)
{
    gsl_matrix *A = gsl_matrix_alloc(n, n);
    gsl_eigen_symmv_workspace *ws = gsl_eigen_symmv_alloc(n);
    if (!A || !ws) {
        if (A)
            gsl_matrix_free(A);
        if (ws)
            gsl_eigen_symmv_free(ws);
        return nomem(err, n, n);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            gsl_matrix_set(A, i, j, K[i * n + j] + add);
    int rc = gsl_eigen_symmv(A, eval, evec, ws);
    gsl_matrix_free(A);
    gsl_eigen_symmv_free(ws);
    if (rc)
        return ncmp_fail(err, NCMP_ERR_VALUE, "regression: eigendecomposition of the %zu x %zu kernel failed (GSL %d)",
                         n, n, rc);
    return NCMP_OK;
}

/* The thin SVD U S V' of U (in place). */
static ncmp_status svd(gsl_matrix *U, gsl_matrix *V, gsl_vector *S, gsl_vector *work, const char *what, ncmp_error *err)
{
    int rc = gsl_linalg_SV_decomp(U, V, S, work);
    if (rc)
        return ncmp_fail(err, NCMP_ERR_VALUE, "%s: SVD of the %zu x %zu design failed (GSL %d)", what, U->size1,
                         U->size2, rc);
    return NCMP_OK;
}

/* out = right diag(w) left' y with w_r = 1 / values_r, or 0 where values_r <= cut * max(values):
 * the truncated pseudo-inverse solve of both OLS paths.  tmp is values->size x y->size2. */
static void pseudo_solve(const gsl_matrix *left, const gsl_vector *values, double cut, const gsl_matrix *y,
                         gsl_matrix *tmp, const gsl_matrix *right, gsl_matrix *out)
{
    double vmax = 0;
    for (size_t r = 0; r < values->size; r++)
        vmax = fmax(vmax, gsl_vector_get(values, r));
    cut *= vmax;
    gsl_blas_dgemm(CblasTrans, CblasNoTrans, 1.0, left, y, 0.0, tmp);
    for (size_t r = 0; r < values->size; r++) {
        double v = gsl_vector_get(values, r), w = v > cut ? 1.0 / v : 0.0;
        for (size_t j = 0; j < tmp->size2; j++)
            gsl_matrix_set(tmp, r, j, w * gsl_matrix_get(tmp, r, j));
    }
    gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, right, tmp, 0.0, out);
}

ncmp_status ncmp_ridge_fit_dual(const double *K, size_t n, const double *Y, size_t q, const double *alphas,
                                size_t n_alphas, double *c, double *y_mean, double *alpha, ncmp_error *err)
{
    ncmp_gsl_init();
    if (n < 2 || !q || !n_alphas)
        return ncmp_fail(err, NCMP_ERR_SHAPE, "ridge: need at least 2 samples, 1 target and 1 alpha");
    if (NCMP_BLAS_DIMS("ridge", err, n, q))
        return NCMP_ERR_SHAPE;
    gsl_vector *ev = gsl_vector_alloc(n);
    gsl_matrix *Q = gsl_matrix_alloc(n, n), *y = gsl_matrix_alloc(n, q), *QTy = gsl_matrix_alloc(n, q);
    ncmp_status st = NCMP_OK;
    if (!ev || !Q || !y || !QTy) {
        st = nomem(err, n, q);
        goto done;
    }
    center(Y, n, q, y_mean, y);
    /* sklearn _eigen_decompose_gram: K + sqrt_sw sqrt_sw' with unit weights. */
    if ((st = eigen(K, n, 1.0, ev, Q, err)))
        goto done;
    gsl_blas_dgemm(CblasTrans, CblasNoTrans, 1.0, Q, y, 0.0, QTy);
    st = loo_search(Q, ev->data, QTy, y, 0, alphas, n_alphas, c, alpha, err);
done:
    if (ev)
        gsl_vector_free(ev);
    if (Q)
        gsl_matrix_free(Q);
    if (y)
        gsl_matrix_free(y);
    if (QTy)
        gsl_matrix_free(QTy);
    return st;
}

ncmp_status ncmp_ridge_fit_primal(const double *X, size_t n, size_t p, const double *Y, size_t q, const double *alphas,
                                  size_t n_alphas, double *coef, double *x_mean, double *y_mean, double *alpha,
                                  ncmp_error *err)
{
    ncmp_gsl_init();
    if (n < p + 1 || !q || !p || !n_alphas)
        return ncmp_fail(err, NCMP_ERR_SHAPE, "ridge (primal): need samples > features (%zu, %zu), targets, alphas", n,
                         p);
    if (NCMP_BLAS_DIMS("ridge (primal)", err, n, p + 1, q))
        return NCMP_ERR_SHAPE;
    size_t k = p + 1;
    gsl_matrix *U = gsl_matrix_alloc(n, k), *V = gsl_matrix_alloc(k, k), *Xc = gsl_matrix_alloc(n, p);
    gsl_matrix *y = gsl_matrix_alloc(n, q), *UTy = gsl_matrix_alloc(k, q), *C = gsl_matrix_alloc(n, q);
    gsl_vector *S = gsl_vector_alloc(k), *work = gsl_vector_alloc(k);
    ncmp_status st = NCMP_OK;
    if (!U || !V || !Xc || !y || !UTy || !C || !S || !work) {
        st = nomem(err, n, p);
        goto done;
    }
    center(X, n, p, x_mean, Xc);
    center(Y, n, q, y_mean, y);
    /* sklearn _svd_decompose_design_matrix: thin SVD of [Xc, sqrt_sw]. */
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < p; j++)
            gsl_matrix_set(U, i, j, gsl_matrix_get(Xc, i, j));
        gsl_matrix_set(U, i, p, 1.0);
    }
    if ((st = svd(U, V, S, work, "ridge", err)))
        goto done;
    for (size_t r = 0; r < k; r++)
        gsl_vector_set(S, r, gsl_vector_get(S, r) * gsl_vector_get(S, r));
    gsl_blas_dgemm(CblasTrans, CblasNoTrans, 1.0, U, y, 0.0, UTy);
    if ((st = loo_search(U, S->data, UTy, y, 1, alphas, n_alphas, C->data, alpha, err)))
        goto done;
    /* coef = Xc' c (sklearn: dual_coef_.T @ X with X centred). */
    gsl_matrix_view cf = gsl_matrix_view_array(coef, p, q);
    gsl_blas_dgemm(CblasTrans, CblasNoTrans, 1.0, Xc, C, 0.0, &cf.matrix);
done:
    if (U)
        gsl_matrix_free(U);
    if (V)
        gsl_matrix_free(V);
    if (Xc)
        gsl_matrix_free(Xc);
    if (y)
        gsl_matrix_free(y);
    if (UTy)
        gsl_matrix_free(UTy);
    if (C)
        gsl_matrix_free(C);
    if (S)
        gsl_vector_free(S);
    if (work)
        gsl_vector_free(work);
    return st;
}

ncmp_status ncmp_ols_fit_dual(const double *K, size_t n, const double *Y, size_t q, double *c, double *y_mean,
                              ncmp_error *err)
{
    ncmp_gsl_init();
    if (n < 2 || !q)
        return ncmp_fail(err, NCMP_ERR_SHAPE, "OLS: need at least 2 samples and 1 target");
    if (NCMP_BLAS_DIMS("OLS", err, n, q))
        return NCMP_ERR_SHAPE;
    gsl_vector *ev = gsl_vector_alloc(n);
    gsl_matrix *Q = gsl_matrix_alloc(n, n), *y = gsl_matrix_alloc(n, q), *QTy = gsl_matrix_alloc(n, q);
    ncmp_status st = NCMP_OK;
    if (!ev || !Q || !y || !QTy) {
        st = nomem(err, n, q);
        goto done;
    }
    center(Y, n, q, y_mean, y);
    if ((st = eigen(K, n, 0.0, ev, Q, err)))
        goto done;
    gsl_matrix_view cv = gsl_matrix_view_array(c, n, q);
    pseudo_solve(Q, ev, (double)n * DBL_EPSILON, y, QTy, Q, &cv.matrix);
done:
    if (ev)
        gsl_vector_free(ev);
    if (Q)
        gsl_matrix_free(Q);
    if (y)
        gsl_matrix_free(y);
    if (QTy)
        gsl_matrix_free(QTy);
    return st;
}

ncmp_status ncmp_ols_fit_primal(const double *X, size_t n, size_t p, const double *Y, size_t q, double *coef,
                                double *x_mean, double *y_mean, ncmp_error *err)
{
    ncmp_gsl_init();
    if (n < p || !p || !q)
        return ncmp_fail(err, NCMP_ERR_SHAPE, "OLS (primal): need samples >= features (%zu, %zu)", n, p);
    if (NCMP_BLAS_DIMS("OLS (primal)", err, n, p, q))
        return NCMP_ERR_SHAPE;
    gsl_matrix *U = gsl_matrix_alloc(n, p), *V = gsl_matrix_alloc(p, p), *y = gsl_matrix_alloc(n, q);
    gsl_matrix *UTy = gsl_matrix_alloc(p, q);
    gsl_vector *S = gsl_vector_alloc(p), *work = gsl_vector_alloc(p);
    ncmp_status st = NCMP_OK;
    if (!U || !V || !y || !UTy || !S || !work) {
        st = nomem(err, n, p);
        goto done;
    }
    center(X, n, p, x_mean, U);
    center(Y, n, q, y_mean, y);
    if ((st = svd(U, V, S, work, "OLS", err)))
        goto done;
    /* scipy.linalg.lstsq default cond = eps: singular values <= eps * s_max are zero. */
    gsl_matrix_view cf = gsl_matrix_view_array(coef, p, q);
    pseudo_solve(U, S, DBL_EPSILON, y, UTy, V, &cf.matrix);
done:
    if (U)
        gsl_matrix_free(U);
    if (V)
        gsl_matrix_free(V);
    if (y)
        gsl_matrix_free(y);
    if (UTy)
        gsl_matrix_free(UTy);
    if (S)
        gsl_vector_free(S);
    if (work)
        gsl_vector_free(work);
    return st;
}
