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

/* Per-problem state of the lockstep fit (see ncmp_pls_kernel_fit_many). */
typedef struct kernel_problem {
    double *Yk, *Z;        /* [n][q]: deflated centred responses and Z = K0 Yk */
    double *G, *S, *ZtZ;   /* [q][q]: Yk' K0 Yk, Yk' Yk, Z' Z */
    double *R;             /* [K][q]: t_i' Z for the scores found so far */
    double *A, *T, *KT;    /* [n][K]: dual x weights, x scores, K0 x scores */
    double *Q;             /* [q][K]: y loadings */
    double *tts;           /* [K]: t_i' t_i */
    double *yl;            /* [q]: y loadings of the current component */
    unsigned char *zeroed; /* [q]: columns masked as fully explained */
    size_t used;
    int done;
} kernel_problem;

static void kernel_problem_free(kernel_problem *pb)
{
    free(pb->Yk);
    free(pb->Z);
    free(pb->G);
    free(pb->S);
    free(pb->ZtZ);
    free(pb->R);
    free(pb->A);
    free(pb->T);
    free(pb->KT);
    free(pb->Q);
    free(pb->tts);
    free(pb->yl);
    free(pb->zeroed);
}

static int kernel_problem_alloc(kernel_problem *pb, size_t n, size_t q, size_t K)
{
    memset(pb, 0, sizeof *pb);
    pb->Yk = malloc(n * q * sizeof(double));
    pb->Z = malloc(n * q * sizeof(double));
    pb->G = malloc(q * q * sizeof(double));
    pb->S = malloc(q * q * sizeof(double));
    pb->ZtZ = malloc(q * q * sizeof(double));
    pb->R = calloc(K * q, sizeof(double));
    pb->A = calloc(n * K, sizeof(double));
    pb->T = calloc(n * K, sizeof(double));
    pb->KT = calloc(n * K, sizeof(double));
    pb->Q = calloc(q * K, sizeof(double));
    pb->tts = calloc(K, sizeof(double));
    pb->yl = malloc(q * sizeof(double));
    pb->zeroed = calloc(q, 1);
    return pb->Yk && pb->Z && pb->G && pb->S && pb->ZtZ && pb->R && pb->A && pb->T && pb->KT && pb->Q && pb->tts &&
           pb->yl && pb->zeroed;
}

/* scikit-learn's masking of fully explained Y columns (as ncmp_pls_first_active_target),
 * keeping Z = K0 Yk and the q x q products consistent with the zeroed columns. */
static size_t kernel_problem_first_active(kernel_problem *pb, size_t n, size_t q, size_t k)
{
    const double eps = DBL_EPSILON;
    for (size_t j = 0; j < q; j++) {
        if (pb->zeroed[j])
            continue;
        bool small = true;
        for (size_t i = 0; i < n && small; i++)
            small = fabs(pb->Yk[i * q + j]) < 10 * eps;
        if (!small)
            continue;
        pb->zeroed[j] = 1;
        for (size_t i = 0; i < n; i++)
            pb->Yk[i * q + j] = pb->Z[i * q + j] = 0;
        for (size_t i = 0; i < k; i++)
            pb->R[i * q + j] = 0;
        for (size_t i = 0; i < q; i++)
            pb->G[i * q + j] = pb->G[j * q + i] = pb->S[i * q + j] = pb->S[j * q + i] = pb->ZtZ[i * q + j] =
                pb->ZtZ[j * q + i] = 0;
    }
    for (size_t j = 0; j < q; j++)
        for (size_t i = 0; i < n; i++)
            if (fabs(pb->Yk[i * q + j]) > eps)
                return j;
    return q;
}

/* Scratch shared by the problems of one lockstep fit. */
typedef struct kernel_scratch {
    double *H, *Rs;                      /* [q][q], [K][q] */
    double *cw, *c_old, *gc, *yw, *coef; /* [q], [q], [q], [q], [K] */
    double *ys, *v, *Yu, *Zu;            /* [n], [n], [q], [q] */
} kernel_scratch;

/* One component of one problem up to its x score t (written to pb->T[:, k]):
 * the power method of NIPALS in the span of Yk, then A, Q and yl.  Returns 0
 * when the Y residual is constant (the problem is done). */
static int kernel_problem_score(kernel_problem *pb, kernel_scratch *w, size_t n, size_t q, size_t K, size_t k,
                                const ncmp_pls_options *o)
{
    const double eps = DBL_EPSILON;
    const int ni = (int)n, qi = (int)q, Ki = (int)K, ki = (int)k;
    size_t first = kernel_problem_first_active(pb, n, q, k);
    if (first == q) {
        ncmp_log_debug("PLS: Y residual is constant at component %zu; the remaining components are zero", k);
        return 0;
    }
    /* Kk = Dk K0 Dk with Dk = I - sum_i t_i t_i'/t_i't_i (the x scores are
     * orthogonal), and Dk Yk = Yk, so with Z = K0 Yk:
     *   Yk' Kk Yk = Yk' Z = G,   (Kk Yk)'(Kk Yk) = Z' Dk Z = Z'Z - R' diag(1/tts) R = H,
     * all kept up to date by rank-one updates: no n x n product per component. */
    memcpy(w->H, pb->ZtZ, q * q * sizeof *w->H);
    if (k) {
        for (size_t i = 0; i < k; i++)
            for (size_t j = 0; j < q; j++)
                w->Rs[i * q + j] = pb->R[i * q + j] / pb->tts[i];
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, qi, qi, ki, -1.0, pb->R, qi, w->Rs, qi, 1.0, w->H, qi);
    }
    double *cw = w->cw, *gc = w->gc, *yw = w->yw, *c_old = w->c_old;
    memset(cw, 0, q * sizeof *cw);
    cw[first] = 1.0;
    double a = 0, yu = 0, a_old = 0, yu_old = 0;
    for (int iter = 0; iter < o->max_iter; iter++) {
        cblas_dgemv(CblasRowMajor, CblasNoTrans, qi, qi, 1.0, pb->S, qi, cw, 1, 0.0, gc, 1);
        double yy = cblas_ddot(qi, cw, 1, gc, 1);
        cblas_dgemv(CblasRowMajor, CblasNoTrans, qi, qi, 1.0, pb->G, qi, cw, 1, 0.0, gc, 1); /* G cw = Yk' u */
        yu = cblas_ddot(qi, cw, 1, gc, 1);
        double norm = sqrt(fmax(yu, 0)) / yy;
        a = 1.0 / (yy * (norm + eps));
        cblas_dgemv(CblasRowMajor, CblasNoTrans, qi, qi, 1.0, w->H, qi, cw, 1, 0.0, yw, 1);
        double xx = a * a * cblas_ddot(qi, cw, 1, yw, 1); /* t't with t = a u */
        for (size_t j = 0; j < q; j++)
            yw[j] = a * gc[j] / xx; /* Yk' t / t't */
        double ww = cblas_ddot(qi, yw, 1, yw, 1) + eps;
        bool converged = q == 1;
        if (iter > 0 && !converged) {
            /* ||w - w_old||^2 = a^2 ys'Kys + a_old^2 ys_old'Kys_old - 2 a a_old ys'Kys_old */
            cblas_dgemv(CblasRowMajor, CblasNoTrans, qi, qi, 1.0, pb->G, qi, c_old, 1, 0.0, gc, 1);
            double cross = cblas_ddot(qi, cw, 1, gc, 1);
            double diff = a * a * yu + a_old * a_old * yu_old - 2 * a * a_old * cross;
            converged = diff < o->tol;
        }
        if (converged || iter + 1 == o->max_iter)
            break; /* NIPALS keeps the weights of its last iteration */
        a_old = a;
        yu_old = yu;
        memcpy(c_old, cw, q * sizeof *cw);
        for (size_t j = 0; j < q; j++)
            cw[j] = yw[j] / ww; /* ys_next = Yk yw / ww */
    }
    /* Back to n-vectors: ys = Yk cw; t = a Kk ys = a Dk Z cw
     * = a (Z cw - sum_i t_i (R_i cw) / tts_i). */
    double *ys = w->ys, *t = w->v;
    cblas_dgemv(CblasRowMajor, CblasNoTrans, ni, qi, 1.0, pb->Yk, qi, cw, 1, 0.0, ys, 1);
    cblas_dgemv(CblasRowMajor, CblasNoTrans, ni, qi, a, pb->Z, qi, cw, 1, 0.0, t, 1);
    if (k) {
        cblas_dgemv(CblasRowMajor, CblasNoTrans, ki, qi, 1.0, w->Rs, qi, cw, 1, 0.0, w->coef, 1);
        cblas_dgemv(CblasRowMajor, CblasNoTrans, ni, ki, -a, pb->T, Ki, w->coef, 1, 1.0, t, 1);
    }
    double tt = cblas_ddot(ni, t, 1, t, 1);
    /* A_k = a D_k ys (the dual of the x weights). */
    for (size_t i = 0; i < n; i++)
        ys[i] *= a;
    if (k) {
        cblas_dgemv(CblasRowMajor, CblasTrans, ni, ki, 1.0, pb->T, Ki, ys, 1, 0.0, w->coef, 1);
        for (size_t c = 0; c < k; c++)
            w->coef[c] /= pb->tts[c];
        cblas_dgemv(CblasRowMajor, CblasNoTrans, ni, ki, -1.0, pb->T, Ki, w->coef, 1, 1.0, ys, 1);
    }
    for (size_t i = 0; i < n; i++) {
        pb->A[i * K + k] = ys[i];
        pb->T[i * K + k] = t[i];
    }
    pb->tts[k] = tt;
    cblas_dgemv(CblasRowMajor, CblasTrans, ni, qi, 1.0 / tt, pb->Yk, qi, t, 1, 0.0, pb->yl, 1);
    for (size_t j = 0; j < q; j++)
        pb->Q[j * K + k] = pb->yl[j];
    return 1;
}

/* Deflation of one problem after its x score t = T[:, k] and u = K0 t are known:
 *   Yk+1 = Yk - t yl',  Z_k+1 = Z - u yl',  and the products updated to match. */
static void kernel_problem_deflate(kernel_problem *pb, kernel_scratch *w, const double *u, size_t ustride, size_t n,
                                   size_t q, size_t K, size_t k)
{
    const int ni = (int)n, qi = (int)q;
    double *t = w->v, *yl = pb->yl, tt = pb->tts[k];
    for (size_t i = 0; i < n; i++) {
        t[i] = pb->T[i * K + k];
        pb->KT[i * K + k] = u[i * ustride];
    }
    const double *uk = pb->KT + k; /* column k, stride K */
    cblas_dgemv(CblasRowMajor, CblasTrans, ni, qi, 1.0, pb->Yk, qi, uk, (int)K, 0.0, w->Yu, 1);
    cblas_dgemv(CblasRowMajor, CblasTrans, ni, qi, 1.0, pb->Z, qi, uk, (int)K, 0.0, w->Zu, 1);
    double uu = cblas_ddot(ni, uk, (int)K, uk, (int)K), tu = cblas_ddot(ni, t, 1, uk, (int)K);
    for (size_t i = 0; i < k; i++) {
        double tiu = cblas_ddot(ni, pb->T + i, (int)K, uk, (int)K);
        cblas_daxpy(qi, -tiu, yl, 1, pb->R + i * q, 1);
    }
    for (size_t i = 0; i < q; i++)
        for (size_t j = 0; j < q; j++) {
            pb->G[i * q + j] += -w->Yu[i] * yl[j] - yl[i] * w->Yu[j] + tu * yl[i] * yl[j];
            pb->S[i * q + j] -= tt * yl[i] * yl[j];
            pb->ZtZ[i * q + j] += -w->Zu[i] * yl[j] - yl[i] * w->Zu[j] + uu * yl[i] * yl[j];
        }
    cblas_dger(CblasRowMajor, ni, qi, -1.0, uk, (int)K, yl, 1, pb->Z, qi);
    cblas_dger(CblasRowMajor, ni, qi, -1.0, t, 1, yl, 1, pb->Yk, qi);
    cblas_dgemv(CblasRowMajor, CblasTrans, ni, qi, 1.0, pb->Z, qi, t, 1, 0.0, pb->R + k * q, 1);
    pb->used = k + 1;
}

/* The dual coefficients A pinv(B' K0 A) Q' of a fitted problem, B = T diag(1/tts):
 * B' K0 A = diag(1/tts) (K0 T)' A needs no n x n product. */
static ncmp_status kernel_problem_finish(const kernel_problem *pb, size_t n, size_t q, size_t K, ncmp_pls_kernel *m,
                                         ncmp_error *err)
{
    size_t U = pb->used;
    m->n_components_used = (int)U;
    if (!U)
        return NCMP_OK;
    double *M = malloc(U * U * sizeof *M), *Minv = malloc(U * U * sizeof *Minv), *AM = malloc(n * U * sizeof *AM);
    ncmp_status st = NCMP_OK;
    if (!M || !Minv || !AM) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "kernel PLS: out of memory");
        goto done;
    }
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)U, (int)U, (int)n, 1.0, pb->KT, (int)K, pb->A, (int)K,
                0.0, M, (int)U);
    for (size_t i = 0; i < U; i++)
        for (size_t j = 0; j < U; j++)
            M[i * U + j] /= pb->tts[i];
    if ((st = ncmp_pinv_square(M, U, K, Minv, err)))
        goto done;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)U, (int)U, 1.0, pb->A, (int)K, Minv, (int)U,
                0.0, AM, (int)U);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)q, (int)U, 1.0, AM, (int)U, pb->Q, (int)K, 0.0,
                m->dual_coef, (int)q);
done:
    free(M);
    free(Minv);
    free(AM);
    return st;
}

ncmp_status ncmp_pls_kernel_fit_many(const double *K0, size_t n, size_t p, const double *const *Y, size_t n_problems,
                                     size_t q, const ncmp_pls_options *options, ncmp_pls_kernel **out, ncmp_error *err)
{
    for (size_t b = 0; b < n_problems; b++)
        out[b] = NULL;
    ncmp_pls_options o = NCMP_PLS_DEFAULTS;
    if (options)
        o = *options;
    if (o.n_components < 1 || o.max_iter < 1 || !(o.tol >= 0))
        return ncmp_fail(err, NCMP_ERR_USAGE, "PLS: need n_components >= 1, max_iter >= 1, tol >= 0 (got %d, %d, %g)",
                         o.n_components, o.max_iter, o.tol);
    if (n < 2 || q < 1)
        return ncmp_fail(err, NCMP_ERR_SHAPE, "kernel PLS: need at least 2 samples and 1 target; got %zu x %zu", n, q);
    if (!n_problems)
        return NCMP_OK;
    size_t K = (size_t)o.n_components;
    ncmp_status st = ncmp_pls_check_components(K, n, p, err);
    if (st)
        return st;
    for (size_t i = 0; i < n * n; i++)
        if (!isfinite(K0[i]))
            return ncmp_fail(err, NCMP_ERR_VALUE, "kernel PLS: Gram matrix entry (%zu, %zu) is %g", i / n, i % n,
                             K0[i]);
    for (size_t b = 0; b < n_problems; b++)
        if ((st = ncmp_pls_check_responses(Y[b], n, q, err)))
            return st;
    const size_t B = n_problems;
    kernel_problem *pb = calloc(B, sizeof *pb);
    kernel_scratch w = {0};
    size_t *active = malloc(B * sizeof *active);
    double *Tb = malloc(n * B * sizeof *Tb), *Ub = malloc(n * B * sizeof *Ub);
    w.H = malloc(q * q * sizeof(double));
    w.Rs = malloc(K * q * sizeof(double));
    w.cw = malloc(q * sizeof(double));
    w.c_old = malloc(q * sizeof(double));
    w.gc = malloc(q * sizeof(double));
    w.yw = malloc(q * sizeof(double));
    w.coef = malloc(K * sizeof(double));
    w.ys = malloc(n * sizeof(double));
    w.v = malloc(n * sizeof(double));
    w.Yu = malloc(q * sizeof(double));
    w.Zu = malloc(q * sizeof(double));
    bool ok = pb && active && Tb && Ub && w.H && w.Rs && w.cw && w.c_old && w.gc && w.yw && w.coef && w.ys && w.v &&
              w.Yu && w.Zu;
    for (size_t b = 0; ok && b < B; b++) {
        ok = kernel_problem_alloc(&pb[b], n, q, K);
        if (ok && (out[b] = calloc(1, sizeof **out))) {
            out[b]->y_mean = calloc(q, sizeof(double));
            out[b]->dual_coef = calloc(n * q, sizeof(double));
        }
        ok = ok && out[b] && out[b]->y_mean && out[b]->dual_coef;
    }
    if (!ok) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "kernel PLS: out of memory for %zu problems of %zu stimuli x %zu targets",
                       B, n, q);
        goto done;
    }
    const int ni = (int)n, qi = (int)q;
    for (size_t b = 0; b < B; b++) {
        ncmp_pls_kernel *m = out[b];
        m->n_train = n;
        m->n_targets = q;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < q; j++)
                m->y_mean[j] += Y[b][i * q + j];
        for (size_t j = 0; j < q; j++)
            m->y_mean[j] /= (double)n;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < q; j++)
                pb[b].Yk[i * q + j] = Y[b][i * q + j] - m->y_mean[j];
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ni, qi, ni, 1.0, K0, ni, pb[b].Yk, qi, 0.0, pb[b].Z, qi);
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, qi, qi, ni, 1.0, pb[b].Yk, qi, pb[b].Z, qi, 0.0, pb[b].G,
                    qi);
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, qi, qi, ni, 1.0, pb[b].Yk, qi, pb[b].Yk, qi, 0.0, pb[b].S,
                    qi);
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, qi, qi, ni, 1.0, pb[b].Z, qi, pb[b].Z, qi, 0.0, pb[b].ZtZ,
                    qi);
    }
    for (size_t k = 0; k < K; k++) {
        size_t na = 0;
        for (size_t b = 0; b < B; b++) {
            if (pb[b].done)
                continue;
            if (!kernel_problem_score(&pb[b], &w, n, q, K, k, &o)) {
                pb[b].done = 1;
                continue;
            }
            for (size_t i = 0; i < n; i++)
                Tb[i * B + na] = pb[b].T[i * K + k];
            active[na++] = b;
        }
        if (!na)
            break;
        /* The one O(n^2) step of a component, for every problem at once. */
        if (na == 1)
            cblas_dgemv(CblasRowMajor, CblasNoTrans, ni, ni, 1.0, K0, ni, Tb, (int)B, 0.0, Ub, (int)B);
        else
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ni, (int)na, ni, 1.0, K0, ni, Tb, (int)B, 0.0, Ub,
                        (int)B);
        for (size_t c = 0; c < na; c++)
            kernel_problem_deflate(&pb[active[c]], &w, Ub + c, B, n, q, K, k);
    }
    for (size_t b = 0; b < B; b++)
        if ((st = kernel_problem_finish(&pb[b], n, q, K, out[b], err)))
            goto done;
done:
    for (size_t b = 0; pb && b < B; b++)
        kernel_problem_free(&pb[b]);
    free(pb);
    free(active);
    free(Tb);
    free(Ub);
    free(w.H);
    free(w.Rs);
    free(w.cw);
    free(w.c_old);
    free(w.gc);
    free(w.yw);
    free(w.coef);
    free(w.ys);
    free(w.v);
    free(w.Yu);
    free(w.Zu);
    if (st)
        for (size_t b = 0; b < B; b++) {
            ncmp_pls_kernel_free(out[b]);
            out[b] = NULL;
        }
    return st;
}

ncmp_status ncmp_pls_kernel_fit(const double *K0, size_t n, size_t p, const double *Y, size_t q,
                                const ncmp_pls_options *options, ncmp_pls_kernel **out, ncmp_error *err)
{
    return ncmp_pls_kernel_fit_many(K0, n, p, &Y, 1, q, options, out, err);
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
