/* Kernel (Gram-matrix) replay of scikit-learn 1.2's NIPALS PLS regression (see pls_kernel.h; Lindgren, Geladi & Wold
 * 1993 for kernel PLS). */
#include "analysis/pls_kernel.h"

#include "analysis/linalg.h"
#include "core/log.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void ncmp_pls_kernel_free(ncmp_pls_kernel *m)
{
    if (!m)
        return;
    free(m->y_mean);
    free(m->dual_coef);
    free(m);
}

void ncmp_pls_kernel_center(const double *G, size_t N, const size_t *train, size_t n, const size_t *test, size_t m,
                            double *K, double *K_test)
{
    double *r = malloc((n + m + 1) * sizeof *r);
    if (!r)
        return;
    double *s = r + n, c = 0;
    for (size_t i = 0; i < n; i++) {
        double acc = 0;
        for (size_t j = 0; j < n; j++)
            acc += G[train[i] * N + train[j]];
        r[i] = acc / (double)n;
        c += r[i];
    }
    c /= (double)n;
    for (size_t i = 0; i < m; i++) {
        double acc = 0;
        for (size_t j = 0; j < n; j++)
            acc += G[test[i] * N + train[j]];
        s[i] = acc / (double)n;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            K[i * n + j] = G[train[i] * N + train[j]] - r[i] - r[j] + c;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++)
            K_test[i * n + j] = G[test[i] * N + train[j]] - s[i] - r[j] + c;
    free(r);
}

ncmp_status ncmp_pls_kernel_fit(const double *K0, size_t n, size_t p, const double *Y, size_t q,
                                const ncmp_pls_options *options, ncmp_pls_kernel **out, ncmp_error *err)
{
    *out = NULL;
    ncmp_pls_options o = NCMP_PLS_DEFAULTS;
    if (options)
        o = *options;
    if (o.n_components < 1 || o.max_iter < 1 || !(o.tol >= 0))
        return ncmp_fail(err, NCMP_ERR_USAGE, "PLS: need n_components >= 1, max_iter >= 1, tol >= 0 (got %d, %d, %g)",
                         o.n_components, o.max_iter, o.tol);
    if (n < 2 || q < 1)
        return ncmp_fail(err, NCMP_ERR_SHAPE, "kernel PLS: need at least 2 samples and 1 target; got %zu x %zu", n, q);
    size_t K = (size_t)o.n_components;
    ncmp_status checked = ncmp_pls_check_components(K, n, p, err);
    if (checked)
        return checked;
    for (size_t i = 0; i < n * n; i++)
        if (!isfinite(K0[i]))
            return ncmp_fail(err, NCMP_ERR_VALUE, "kernel PLS: Gram matrix entry (%zu, %zu) is %g", i / n, i % n,
                             K0[i]);
    if ((checked = ncmp_pls_check_responses(Y, n, q, err)))
        return checked;
    ncmp_pls_kernel *m = calloc(1, sizeof *m);
    double *Kk = malloc(n * n * sizeof *Kk), *Yk = malloc(n * q * sizeof *Yk);
    double *A = calloc(n * K, sizeof *A), *B = calloc(n * K, sizeof *B), *Q = calloc(q * K, sizeof *Q);
    double *T = calloc(n * K, sizeof *T), *tts = calloc(K, sizeof *tts);
    double *ys = malloc(n * sizeof *ys), *t = malloc(n * sizeof *t);
    double *v = malloc(n * sizeof *v), *yw = malloc(q * sizeof *yw), *yl = malloc(q * sizeof *yl);
    double *KY = malloc(n * q * sizeof *KY), *G = malloc(q * q * sizeof *G), *H = malloc(q * q * sizeof *H);
    double *S = malloc(q * q * sizeof *S), *cw = malloc(q * sizeof *cw), *c_old = malloc(q * sizeof *c_old);
    double *gc = malloc(q * sizeof *gc);
    double *KA = NULL, *M = NULL, *Minv = NULL, *AM = NULL;
    ncmp_status st = NCMP_OK;
    if (m) {
        m->y_mean = calloc(q, sizeof(double));
        m->dual_coef = calloc(n * q, sizeof(double));
    }
    if (!m || !Kk || !Yk || !A || !B || !Q || !T || !tts || !ys || !t || !v ||
        !yw || !yl || !KY || !G || !H || !S || !cw || !c_old || !gc || !m->y_mean || !m->dual_coef) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "kernel PLS: out of memory for %zu stimuli", n);
        goto done;
    }
    m->n_train = n;
    m->n_targets = q;
    memcpy(Kk, K0, n * n * sizeof *Kk);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < q; j++)
            m->y_mean[j] += Y[i * q + j];
    for (size_t j = 0; j < q; j++)
        m->y_mean[j] /= (double)n;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < q; j++)
            Yk[i * q + j] = Y[i * q + j] - m->y_mean[j];
    const double eps = DBL_EPSILON;
    size_t used = 0;
    for (size_t k = 0; k < K; k++) {
        size_t first = ncmp_pls_first_active_target(Yk, n, q);
        if (first == q) {
            ncmp_log_debug("PLS: Y residual is constant at component %zu; the remaining components are zero", k);
            break;
        }
        /* x_weights = a Xk' ys, so x_scores = a Kk ys and ||x_weights||^2 = a^2 ys' Kk ys.
         * Every ys of the power iteration lies in the span of Yk's columns, ys = Yk cw,
         * so the iteration runs on q-vectors with KY = Kk Yk, G = Yk' Kk Yk,
         * H = KY' KY and S = Yk' Yk formed once per component: O(q^2) per
         * iteration instead of an n x n product (the same sequence of iterates
         * as scikit-learn's NIPALS, up to rounding). */
        const int ni = (int)n, qi = (int)q;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ni, qi, ni, 1.0, Kk, ni, Yk, qi, 0.0, KY, qi);
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, qi, qi, ni, 1.0, Yk, qi, KY, qi, 0.0, G, qi);
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, qi, qi, ni, 1.0, KY, qi, KY, qi, 0.0, H, qi);
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, qi, qi, ni, 1.0, Yk, qi, Yk, qi, 0.0, S, qi);
        memset(cw, 0, q * sizeof *cw);
        cw[first] = 1.0;
        double a = 0, yu = 0, a_old = 0, yu_old = 0;
        for (int iter = 0; iter < o.max_iter; iter++) {
            cblas_dgemv(CblasRowMajor, CblasNoTrans, qi, qi, 1.0, S, qi, cw, 1, 0.0, gc, 1);
            double yy = cblas_ddot(qi, cw, 1, gc, 1);
            cblas_dgemv(CblasRowMajor, CblasNoTrans, qi, qi, 1.0, G, qi, cw, 1, 0.0, gc, 1); /* G cw = Yk' u */
            yu = cblas_ddot(qi, cw, 1, gc, 1);
            double norm = sqrt(fmax(yu, 0)) / yy;
            a = 1.0 / (yy * (norm + eps));
            cblas_dgemv(CblasRowMajor, CblasNoTrans, qi, qi, 1.0, H, qi, cw, 1, 0.0, yw, 1);
            double xx = a * a * cblas_ddot(qi, cw, 1, yw, 1); /* t't with t = a u */
            for (size_t j = 0; j < q; j++)
                yw[j] = a * gc[j] / xx; /* Yk' t / t't */
            double ww = cblas_ddot(qi, yw, 1, yw, 1) + eps;
            bool converged = q == 1;
            if (iter > 0 && !converged) {
                /* ||w - w_old||^2 = a^2 ys'Kys + a_old^2 ys_old'Kys_old - 2 a a_old ys'Kys_old */
                cblas_dgemv(CblasRowMajor, CblasNoTrans, qi, qi, 1.0, G, qi, c_old, 1, 0.0, gc, 1);
                double cross = cblas_ddot(qi, cw, 1, gc, 1);
                double diff = a * a * yu + a_old * a_old * yu_old - 2 * a * a_old * cross;
                converged = diff < o.tol;
            }
            if (converged || iter + 1 == o.max_iter)
                break; /* NIPALS keeps the weights of its last iteration */
            a_old = a;
            yu_old = yu;
            memcpy(c_old, cw, q * sizeof *cw);
            for (size_t j = 0; j < q; j++)
                cw[j] = yw[j] / ww; /* ys_next = Yk yw / ww */
        }
        /* Back to n-vectors: ys = Yk cw, t = a Kk ys = a KY cw. */
        cblas_dgemv(CblasRowMajor, CblasNoTrans, ni, qi, 1.0, Yk, qi, cw, 1, 0.0, ys, 1);
        cblas_dgemv(CblasRowMajor, CblasNoTrans, ni, qi, a, KY, qi, cw, 1, 0.0, t, 1);
        /* t = Xk w (already in t); A_k = a D_k ys with D_k = I - sum_i t_i t_i'/t_i't_i. */
        double tt = cblas_ddot((int)n, t, 1, t, 1);
        for (size_t i = 0; i < n; i++)
            v[i] = a * ys[i];
        for (size_t c = 0; c < k; c++) {
            double coef = 0;
            for (size_t i = 0; i < n; i++)
                coef += T[i * K + c] * v[i];
            coef /= tts[c];
            for (size_t i = 0; i < n; i++)
                v[i] -= coef * T[i * K + c];
        }
        for (size_t i = 0; i < n; i++) {
            A[i * K + k] = v[i];
            B[i * K + k] = t[i] / tt;
            T[i * K + k] = t[i];
        }
        tts[k] = tt;
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)n, (int)q, 1.0, Yk, (int)q, t, 1, 0.0, yl, 1);
        for (size_t j = 0; j < q; j++) {
            yl[j] /= tt;
            Q[j * K + k] = yl[j];
        }
        cblas_dger(CblasRowMajor, (int)n, (int)q, -1.0, t, 1, yl, 1, Yk, (int)q);
        /* Kk <- (I - P) Kk (I - P), P = t t'/tt. */
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)n, 1.0 / tt, Kk, (int)n, t, 1, 0.0, v, 1);
        double tv = cblas_ddot((int)n, t, 1, v, 1) / tt;
        cblas_dger(CblasRowMajor, (int)n, (int)n, -1.0, t, 1, v, 1, Kk, (int)n);
        cblas_dger(CblasRowMajor, (int)n, (int)n, -1.0, v, 1, t, 1, Kk, (int)n);
        cblas_dger(CblasRowMajor, (int)n, (int)n, tv, t, 1, t, 1, Kk, (int)n);
        used = k + 1;
    }
    m->n_components_used = (int)used;
    if (used) {
        size_t U = used;
        KA = malloc(n * U * sizeof *KA);
        M = malloc(U * U * sizeof *M);
        Minv = malloc(U * U * sizeof *Minv);
        AM = malloc(n * U * sizeof *AM);
        if (!KA || !M || !Minv || !AM) {
            st = ncmp_fail(err, NCMP_ERR_NOMEM, "kernel PLS: out of memory");
            goto done;
        }
        /* P'W = B' K0 A */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)U, (int)n, 1.0, K0, (int)n, A, (int)K, 0.0,
                    KA, (int)U);
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)U, (int)U, (int)n, 1.0, B, (int)K, KA, (int)U, 0.0, M,
                    (int)U);
        if ((st = ncmp_pinv_square(M, U, K, Minv, err)))
            goto done;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)U, (int)U, 1.0, A, (int)K, Minv, (int)U,
                    0.0, AM, (int)U);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)q, (int)U, 1.0, AM, (int)U, Q, (int)K, 0.0,
                    m->dual_coef, (int)q);
    }
done:
    free(Kk);
    free(Yk);
    free(A);
    free(B);
    free(Q);
    free(T);
    free(tts);
    free(ys);
    free(t);
    free(KY);
    free(G);
    free(H);
    free(S);
    free(cw);
    free(c_old);
    free(gc);
    free(v);
    free(yw);
    free(yl);
    free(KA);
    free(M);
    free(Minv);
    free(AM);
    if (st) {
        ncmp_pls_kernel_free(m);
        return st;
    }
    *out = m;
    return NCMP_OK;
}

ncmp_status ncmp_pls_kernel_predict(const ncmp_pls_kernel *m, const double *K_test, size_t mm, double *Y_out,
                                    ncmp_error *err)
{
    (void)err;
    size_t q = m->n_targets;
    for (size_t i = 0; i < mm; i++)
        memcpy(Y_out + i * q, m->y_mean, q * sizeof *Y_out);
    if (mm)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)mm, (int)q, (int)m->n_train, 1.0, K_test,
                    (int)m->n_train, m->dual_coef, (int)q, 1.0, Y_out, (int)q);
    return NCMP_OK;
}
