/* NIPALS PLS regression replicating scikit-learn 1.2 cross_decomposition/_pls.py (Wegelin 2000, §4.1), on CBLAS + GSL.
 */
#include "analysis/pls.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/linalg.h"
#include "core/log.h"
#include "core/sizes.h"

void ncmp_pls_free(ncmp_pls *pls)
{
    if (!pls)
        return;
    free(pls->x_mean);
    free(pls->y_mean);
    free(pls->coef);
    free(pls);
}

static void column_means(const double *A, size_t n, size_t p, double *mean)
{
    memset(mean, 0, p * sizeof *mean);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < p; j++)
            mean[j] += A[i * p + j];
    for (size_t j = 0; j < p; j++)
        mean[j] /= (double)n;
}

ncmp_status ncmp_pls_check_components(size_t K, size_t n, size_t p, ncmp_error *err)
{
    if (K > p)
        return ncmp_fail(err, NCMP_ERR_VALUE, "PLS: %zu components requested but the features have only %zu columns", K,
                         p);
    if (K > n)
        return ncmp_fail(err, NCMP_ERR_VALUE,
                         "PLS: %zu components requested but only %zu training stimuli; need at least as many "
                         "stimuli as components",
                         K, n);
    return NCMP_OK;
}

ncmp_status ncmp_pls_check_responses(const double *Y, size_t n, size_t q, ncmp_error *err)
{
    for (size_t i = 0; i < n * q; i++)
        if (!isfinite(Y[i]))
            return ncmp_fail(err, NCMP_ERR_VALUE, "PLS: response at stimulus %zu, target %zu is %g", i / q, i % q,
                             Y[i]);
    return NCMP_OK;
}

size_t ncmp_pls_first_active_target(double *Yk, size_t n, size_t q)
{
    const double eps = DBL_EPSILON;
    /* Zero the Y columns whose residual is entirely below 10 eps (scikit-learn 1.2). */
    for (size_t j = 0; j < q; j++) {
        bool small = true;
        for (size_t i = 0; i < n && small; i++)
            small = fabs(Yk[i * q + j]) < 10 * eps;
        if (small)
            for (size_t i = 0; i < n; i++)
                Yk[i * q + j] = 0;
    }
    for (size_t j = 0; j < q; j++)
        for (size_t i = 0; i < n; i++)
            if (fabs(Yk[i * q + j]) > eps)
                return j;
    return q;
}

ncmp_status ncmp_pls_fit(const double *X, size_t n, size_t p, const double *Y, size_t q,
                         const ncmp_pls_options *options, ncmp_pls **out, ncmp_error *err)
{
    *out = NULL;
    ncmp_pls_options o = NCMP_PLS_DEFAULTS;
    if (options)
        o = *options;
    if (o.n_components < 1 || o.max_iter < 1 || !(o.tol >= 0))
        return ncmp_fail(err, NCMP_ERR_USAGE, "PLS: need n_components >= 1, max_iter >= 1, tol >= 0 (got %d, %d, %g)",
                         o.n_components, o.max_iter, o.tol);
    if (n < 2 || p < 1 || q < 1)
        return ncmp_fail(err, NCMP_ERR_SHAPE,
                         "PLS: need at least 2 samples, 1 feature and 1 target; got X %zu x %zu, "
                         "Y %zu x %zu",
                         n, p, n, q);
    size_t K = (size_t)o.n_components;
    ncmp_status checked = ncmp_pls_check_components(K, n, p, err);
    if (checked)
        return checked;
    if ((checked = NCMP_BLAS_DIMS("PLS", err, n, p, q, K)))
        return checked;
    for (size_t i = 0; i < n * p; i++)
        if (!isfinite(X[i]))
            return ncmp_fail(err, NCMP_ERR_VALUE, "PLS: feature value at stimulus %zu, feature %zu is %g", i / p, i % p,
                             X[i]);
    if ((checked = ncmp_pls_check_responses(Y, n, q, err)))
        return checked;
    ncmp_pls *m = calloc(1, sizeof *m);
    double *Xk = malloc(n * p * sizeof *Xk), *Yk = malloc(n * q * sizeof *Yk);
    double *W = calloc(p * K, sizeof *W), *P = calloc(p * K, sizeof *P), *Q = calloc(q * K, sizeof *Q);
    double *xw = malloc(p * sizeof *xw), *xw_old = malloc(p * sizeof *xw_old), *xl = malloc(p * sizeof *xl);
    double *ys = malloc(n * sizeof *ys), *xs = malloc(n * sizeof *xs), *yw = malloc(q * sizeof *yw);
    double *yl = malloc(q * sizeof *yl), *PW = NULL, *PWinv = NULL, *rot = NULL;
    ncmp_status st = NCMP_OK;
    if (m) {
        m->x_mean = malloc(p * sizeof(double));
        m->y_mean = malloc(q * sizeof(double));
        m->coef = calloc(p * q, sizeof(double));
    }
    if (!m || !Xk || !Yk || !W || !P || !Q || !xw || !xw_old || !xl || !ys || !xs || !yw || !yl || !m->x_mean ||
        !m->y_mean || !m->coef) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "PLS: out of memory for X %zu x %zu", n, p);
        goto done;
    }
    m->n_features = p;
    m->n_targets = q;
    m->n_components = o.n_components;
    column_means(X, n, p, m->x_mean);
    column_means(Y, n, q, m->y_mean);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < p; j++)
            Xk[i * p + j] = X[i * p + j] - m->x_mean[j];
        for (size_t j = 0; j < q; j++)
            Yk[i * q + j] = Y[i * q + j] - m->y_mean[j];
    }
    const double eps = DBL_EPSILON;
    size_t used = 0;
    for (size_t k = 0; k < K; k++) {
        size_t first = ncmp_pls_first_active_target(Yk, n, q);
        if (first == q) {
            ncmp_log_debug("PLS: Y residual is constant at component %zu; the remaining components are zero", k);
            break;
        }
        for (size_t i = 0; i < n; i++)
            ys[i] = Yk[i * q + first];
        int iter;
        for (iter = 0; iter < o.max_iter; iter++) {
            double yy = cblas_ddot((int)n, ys, 1, ys, 1);
            cblas_dgemv(CblasRowMajor, CblasTrans, (int)n, (int)p, 1.0, Xk, (int)p, ys, 1, 0.0, xw, 1);
            for (size_t j = 0; j < p; j++)
                xw[j] /= yy;
            double norm = sqrt(cblas_ddot((int)p, xw, 1, xw, 1)) + eps;
            for (size_t j = 0; j < p; j++)
                xw[j] /= norm;
            cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)p, 1.0, Xk, (int)p, xw, 1, 0.0, xs, 1);
            double xx = cblas_ddot((int)n, xs, 1, xs, 1);
            cblas_dgemv(CblasRowMajor, CblasTrans, (int)n, (int)q, 1.0, Yk, (int)q, xs, 1, 0.0, yw, 1);
            for (size_t j = 0; j < q; j++)
                yw[j] /= xx;
            double ww = cblas_ddot((int)q, yw, 1, yw, 1) + eps;
            cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)q, 1.0, Yk, (int)q, yw, 1, 0.0, ys, 1);
            for (size_t i = 0; i < n; i++)
                ys[i] /= ww;
            double diff = 0;
            for (size_t j = 0; j < p; j++) {
                double d = xw[j] - (iter ? xw_old[j] : 100.0);
                diff += d * d;
            }
            if (diff < o.tol || q == 1)
                break;
            memcpy(xw_old, xw, p * sizeof *xw);
        }
        if (iter == o.max_iter)
            iter--;
        if (iter + 1 > m->max_power_iterations)
            m->max_power_iterations = iter + 1;
        if (iter + 1 == o.max_iter)
            ncmp_log_debug("PLS: component %zu: power method reached max_iter = %d", k, o.max_iter);
        /* _svd_flip_1d */
        size_t arg = 0;
        for (size_t j = 1; j < p; j++)
            if (fabs(xw[j]) > fabs(xw[arg]))
                arg = j;
        double sign = xw[arg] > 0 ? 1.0 : xw[arg] < 0 ? -1.0 : 0.0;
        cblas_dscal((int)p, sign, xw, 1);
        cblas_dscal((int)q, sign, yw, 1);
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)p, 1.0, Xk, (int)p, xw, 1, 0.0, xs, 1);
        double tt = cblas_ddot((int)n, xs, 1, xs, 1);
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)n, (int)p, 1.0, Xk, (int)p, xs, 1, 0.0, xl, 1);
        for (size_t j = 0; j < p; j++)
            xl[j] /= tt;
        cblas_dger(CblasRowMajor, (int)n, (int)p, -1.0, xs, 1, xl, 1, Xk, (int)p);
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)n, (int)q, 1.0, Yk, (int)q, xs, 1, 0.0, yl, 1);
        for (size_t j = 0; j < q; j++)
            yl[j] /= tt;
        cblas_dger(CblasRowMajor, (int)n, (int)q, -1.0, xs, 1, yl, 1, Yk, (int)q);
        for (size_t j = 0; j < p; j++) {
            W[j * K + k] = xw[j];
            P[j * K + k] = xl[j];
        }
        for (size_t j = 0; j < q; j++)
            Q[j * K + k] = yl[j];
        used = k + 1;
    }
    m->n_components_used = (int)used;
    if (used) {
        size_t u = used;
        PW = malloc(u * u * sizeof *PW);
        PWinv = malloc(u * u * sizeof *PWinv);
        rot = malloc(p * u * sizeof *rot);
        if (!PW || !PWinv || !rot) {
            st = ncmp_fail(err, NCMP_ERR_NOMEM, "PLS: out of memory for the rotations (%zu x %zu)", p, u);
            goto done;
        }
        /* P'W over the fitted components (unfitted ones are zero and drop out of the pinv). */
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)u, (int)u, (int)p, 1.0, P, (int)K, W, (int)K, 0.0, PW,
                    (int)u);
        if ((st = ncmp_pinv_square(PW, u, K, PWinv, err)))
            goto done;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)p, (int)u, (int)u, 1.0, W, (int)K, PWinv, (int)u,
                    0.0, rot, (int)u);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)p, (int)q, (int)u, 1.0, rot, (int)u, Q, (int)K, 0.0,
                    m->coef, (int)q);
    }
done:
    free(Xk);
    free(Yk);
    free(W);
    free(P);
    free(Q);
    free(xw);
    free(xw_old);
    free(xl);
    free(ys);
    free(xs);
    free(yw);
    free(yl);
    free(PW);
    free(PWinv);
    free(rot);
    if (st) {
        ncmp_pls_free(m);
        return st;
    }
    *out = m;
    return NCMP_OK;
}

ncmp_status ncmp_pls_predict(const ncmp_pls *pls, const double *X, size_t m, size_t p, double *Y_out, ncmp_error *err)
{
    if (p != pls->n_features)
        return ncmp_fail(err, NCMP_ERR_SHAPE, "PLS predict: X has %zu features, the model was fitted on %zu", p,
                         pls->n_features);
    size_t q = pls->n_targets;
    ncmp_status dims = NCMP_BLAS_DIMS("PLS predict", err, m, p, q);
    if (dims)
        return dims;
    double *Xc = malloc((m ? m : 1) * p * sizeof *Xc);
    if (!Xc)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "PLS predict: out of memory for %zu x %zu", m, p);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < p; j++)
            Xc[i * p + j] = X[i * p + j] - pls->x_mean[j];
    for (size_t i = 0; i < m; i++)
        memcpy(Y_out + i * q, pls->y_mean, q * sizeof *Y_out);
    if (m)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)q, (int)p, 1.0, Xc, (int)p, pls->coef,
                    (int)q, 1.0, Y_out, (int)q);
    free(Xc);
    return NCMP_OK;
}

ncmp_status ncmp_pls_solver_parse(const char *name, ncmp_pls_solver *solver, ncmp_error *err)
{
    static const char *const names[] = {"auto", "nipals", "kernel"};
    for (size_t i = 0; i < 3; i++)
        if (!strcmp(name, names[i])) {
            *solver = (ncmp_pls_solver)i;
            return NCMP_OK;
        }
    return ncmp_fail(err, NCMP_ERR_USAGE, "--solver '%s': expected auto, nipals or kernel", name);
}

ncmp_pls_solver ncmp_pls_choose_solver(size_t n, size_t max_train, size_t p, size_t q)
{
    const double gram_bytes = 8.0 * (double)n * (double)n, feature_bytes = 8.0 * (double)n * (double)p;
    if (gram_bytes > 2147483648.0 && feature_bytes < gram_bytes)
        return NCMP_PLS_NIPALS;
    if (p > max_train || 20.0 * ((double)p + (double)q) >= (double)max_train)
        return NCMP_PLS_KERNEL;
    return NCMP_PLS_NIPALS;
}
