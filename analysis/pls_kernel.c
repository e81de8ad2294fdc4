/* Kernel (Gram-matrix) replay of scikit-learn 1.2's NIPALS PLS regression (see pls_kernel.h; Lindgren, Geladi & Wold
 * 1993 for kernel PLS). */
#include "analysis/pls_kernel.h"

#include "analysis/linalg.h"
#include "core/log.h"
#include "core/parallel.h"
#include "core/provenance.h"

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
    double *G, *S;         /* [q][q]: Yk' K0 Yk, Yk' Yk */
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
    pb->R = calloc(K * q, sizeof(double));
    pb->A = calloc(n * K, sizeof(double));
    pb->T = calloc(n * K, sizeof(double));
    pb->KT = calloc(n * K, sizeof(double));
    pb->Q = calloc(q * K, sizeof(double));
    pb->tts = calloc(K, sizeof(double));
    pb->yl = malloc(q * sizeof(double));
    pb->zeroed = calloc(q, 1);
    return pb->Yk && pb->Z && pb->G && pb->S && pb->R && pb->A && pb->T && pb->KT && pb->Q && pb->tts && pb->yl &&
           pb->zeroed;
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
            pb->G[i * q + j] = pb->G[j * q + i] = pb->S[i * q + j] = pb->S[j * q + i] = 0;
    }
    for (size_t j = 0; j < q; j++)
        for (size_t i = 0; i < n; i++)
            if (fabs(pb->Yk[i * q + j]) > eps)
                return j;
    return q;
}

/* Scratch shared by the problems of one lockstep fit. */
typedef struct kernel_scratch {
    double *Rs;                     /* [K][q]: R / tts */
    double *cw, *c_old, *gc, *coef; /* [q], [q], [q], [K] */
    double *ys, *v, *Yu;            /* [n], [n], [q] */
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
    /* The power method of NIPALS in the span of Yk: with ys = Yk c, the x
     * weights are w = X'ys / ||X'ys|| and the next ys is proportional to
     * Yk Yk' Kk ys, i.e. c <- G c with G = Yk' Kk Yk (Kk = Dk K0 Dk, Dk = I -
     * sum_i t_i t_i'/t_i't_i projects out the earlier x scores, and Dk Yk =
     * Yk, so G = Yk' Z with Z = K0 Yk, kept up to date by rank-one updates).
     * One q x q product per iteration; the stopping rule ||w - w_old||^2 <
     * tol is 2 - 2 c'G c_old / sqrt(c'Gc c_old'G c_old).  The scale of c only
     * enters NIPALS through its eps guards, so c is kept at unit length. */
    if (k)
        for (size_t i = 0; i < k; i++)
            for (size_t j = 0; j < q; j++)
                w->Rs[i * q + j] = pb->R[i * q + j] / pb->tts[i];
    double *cw = w->cw, *gc = w->gc, *g_old = w->c_old;
    memset(cw, 0, q * sizeof *cw);
    cw[first] = 1.0;
    double yu = 0, yu_old = 0;
    for (int iter = 0; iter < o->max_iter; iter++) {
        cblas_dgemv(CblasRowMajor, CblasNoTrans, qi, qi, 1.0, pb->G, qi, cw, 1, 0.0, gc, 1);
        yu = cblas_ddot(qi, cw, 1, gc, 1); /* ||X'ys||^2 */
        bool converged = q == 1;
        if (iter > 0 && !converged) {
            double cross = cblas_ddot(qi, cw, 1, g_old, 1); /* G c_old was the previous iteration's G c */
            double diff = 2 - 2 * cross / sqrt(fmax(yu, 0) * fmax(yu_old, 0));
            converged = diff < o->tol;
        }
        if (converged || iter + 1 == o->max_iter)
            break; /* NIPALS keeps the weights of its last iteration */
        yu_old = yu;
        memcpy(g_old, gc, q * sizeof *gc);
        double norm = cblas_dnrm2(qi, gc, 1);
        for (size_t j = 0; j < q; j++)
            cw[j] = gc[j] / norm;
    }
    /* a scales ys into the x weights: w = a X'ys, a = 1 / (ys'ys (||X'ys|| / ys'ys + eps)). */
    cblas_dgemv(CblasRowMajor, CblasNoTrans, qi, qi, 1.0, pb->S, qi, cw, 1, 0.0, gc, 1);
    double yy = cblas_ddot(qi, cw, 1, gc, 1);
    double a = 1.0 / (yy * (sqrt(fmax(yu, 0)) / yy + eps));
    /* Back to n-vectors: ys = Yk cw; t = a Kk ys = a Dk Z cw
     * = a (Z cw - sum_i t_i (R_i cw) / tts_i). */
    double *restrict ys = w->ys, *restrict t = w->v;
    const double *restrict cwr = cw;
    for (size_t i = 0; i < n; i++) { /* one pass over Yk and Z */
        const double *restrict y = pb->Yk + i * q, *restrict z = pb->Z + i * q;
        double sy = 0, sz = 0;
        for (size_t j = 0; j < q; j++) {
            sy += y[j] * cwr[j];
            sz += z[j] * cwr[j];
        }
        ys[i] = sy;
        t[i] = a * sz;
    }
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
    double *restrict Yu = w->Yu, *restrict Rk = pb->R + k * q;
    const double *restrict ylr = yl;
    double tu = 0;
    /* t_i'u for the earlier scores, then their R rows: R_i -= (t_i'u) yl'. */
    if (k) {
        cblas_dgemv(CblasRowMajor, CblasTrans, ni, (int)k, 1.0, pb->T, (int)K, uk, (int)K, 0.0, w->coef, 1);
        cblas_dger(CblasRowMajor, (int)k, qi, -1.0, w->coef, 1, yl, 1, pb->R, qi);
    }
    /* One pass over Yk and Z: Yu = Yk'u (old rows), Yk -= t yl', Z -= u yl', R_k = Z_new't. */
    memset(Yu, 0, q * sizeof *Yu);
    memset(Rk, 0, q * sizeof *Rk);
    for (size_t i = 0; i < n; i++) {
        const double ui = uk[i * K], ti = t[i];
        double *restrict y = pb->Yk + i * q, *restrict z = pb->Z + i * q;
        tu += ti * ui;
        for (size_t j = 0; j < q; j++) {
            Yu[j] += y[j] * ui;
            y[j] -= ti * ylr[j];
            z[j] -= ui * ylr[j];
            Rk[j] += z[j] * ti;
        }
    }
    for (size_t i = 0; i < q; i++)
        for (size_t j = 0; j < q; j++) {
            pb->G[i * q + j] += -Yu[i] * ylr[j] - ylr[i] * Yu[j] + tu * ylr[i] * ylr[j];
            pb->S[i * q + j] -= tt * ylr[i] * ylr[j];
        }
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

static void kernel_scratch_free(kernel_scratch *w)
{
    free(w->Rs);
    free(w->cw);
    free(w->c_old);
    free(w->gc);
    free(w->coef);
    free(w->ys);
    free(w->v);
    free(w->Yu);
}

static bool kernel_scratch_alloc(kernel_scratch *w, size_t n, size_t q, size_t K)
{
    w->Rs = malloc(K * q * sizeof(double));
    w->cw = malloc(q * sizeof(double));
    w->c_old = malloc(q * sizeof(double));
    w->gc = malloc(q * sizeof(double));
    w->coef = malloc(K * sizeof(double));
    w->ys = malloc(n * sizeof(double));
    w->v = malloc(n * sizeof(double));
    w->Yu = malloc(q * sizeof(double));
    return w->Rs && w->cw && w->c_old && w->gc && w->coef && w->ys && w->v && w->Yu;
}

/* Centre one problem's responses and form Z = K0 Yk and the q x q products. */
static void kernel_problem_setup(kernel_problem *pb, const double *K0, const double *Y, const double *Z0, size_t z0_ld,
                                 size_t n, size_t q, ncmp_pls_kernel *m)
{
    const int ni = (int)n, qi = (int)q;
    m->n_train = n;
    m->n_targets = q;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < q; j++)
            m->y_mean[j] += Y[i * q + j];
    for (size_t j = 0; j < q; j++)
        m->y_mean[j] /= (double)n;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < q; j++)
            pb->Yk[i * q + j] = Y[i * q + j] - m->y_mean[j];
    if (Z0)
        for (size_t i = 0; i < n; i++)
            memcpy(pb->Z + i * q, Z0 + i * z0_ld, q * sizeof *pb->Z);
    else
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ni, qi, ni, 1.0, K0, ni, pb->Yk, qi, 0.0, pb->Z, qi);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, qi, qi, ni, 1.0, pb->Yk, qi, pb->Z, qi, 0.0, pb->G, qi);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, qi, qi, ni, 1.0, pb->Yk, qi, pb->Yk, qi, 0.0, pb->S, qi);
}

typedef enum { PHASE_SETUP, PHASE_SCORE, PHASE_PRODUCT, PHASE_DEFLATE, PHASE_FINISH } lockstep_phase;

/* One phase of the lockstep fit for the problems active[0..n_active-1], shared over the pool. */
typedef struct lockstep {
    kernel_problem *pb;
    kernel_scratch *w;
    const size_t *active;
    int *scored;
    double *Ub;
    const ncmp_pls_options *o;
    size_t n, q, K, B, k, n_active;
    lockstep_phase phase;
    const double *K0;
    const double *const *Y;
    const double *Z0;
    size_t z0_ld;
    ncmp_pls_kernel **out;
    const double *Tb;
    ncmp_error *errors; /* [B], for the finish phase */
} lockstep;

static void lockstep_task(void *ctx, int task, int n_tasks)
{
    lockstep *j = ctx;
    size_t begin, end;
    if (j->phase == PHASE_PRODUCT) { /* rows [begin, end) of U = K0 Tb */
        ncmp_parallel_split(j->n, task, n_tasks, &begin, &end);
        if (end == begin)
            return;
        if (j->n_active == 1)
            cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)(end - begin), (int)j->n, 1.0, j->K0 + begin * j->n,
                        (int)j->n, j->Tb, (int)j->B, 0.0, j->Ub + begin * j->B, (int)j->B);
        else
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(end - begin), (int)j->n_active, (int)j->n, 1.0,
                        j->K0 + begin * j->n, (int)j->n, j->Tb, (int)j->B, 0.0, j->Ub + begin * j->B, (int)j->B);
        return;
    }
    ncmp_parallel_split(j->n_active, task, n_tasks, &begin, &end);
    for (size_t c = begin; c < end; c++) {
        size_t b = j->active[c];
        if (j->phase == PHASE_SETUP)
            kernel_problem_setup(&j->pb[b], j->K0, j->Y[b], j->Z0 ? j->Z0 + b * j->q : NULL, j->z0_ld, j->n, j->q,
                                 j->out[b]);
        else if (j->phase == PHASE_FINISH)
            j->scored[b] = kernel_problem_finish(&j->pb[b], j->n, j->q, j->K, j->out[b], &j->errors[b]);
        else if (j->phase == PHASE_DEFLATE)
            kernel_problem_deflate(&j->pb[b], &j->w[task], j->Ub + c, j->B, j->n, j->q, j->K, j->k);
        else
            j->scored[b] = kernel_problem_score(&j->pb[b], &j->w[task], j->n, j->q, j->K, j->k, j->o);
    }
}

ncmp_status ncmp_pls_kernel_fit_many(const double *K0, size_t n, size_t p, const double *const *Y, size_t n_problems,
                                     size_t q, const double *Z0, size_t z0_ld, const ncmp_pls_options *options,
                                     ncmp_pls_kernel **out, ncmp_error *err)
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
    int n_workers = B > 1 ? ncmp_parallel_threads() : 1;
    if (n_workers < 1)
        n_workers = 1;
    if (n_workers > (int)B)
        n_workers = (int)B;
    kernel_scratch *w = calloc((size_t)n_workers, sizeof *w);
    size_t *active = malloc(B * sizeof *active);
    int *scored = malloc(B * sizeof *scored);
    double *Tb = malloc(n * B * sizeof *Tb), *Ub = malloc(n * B * sizeof *Ub);
    bool ok = pb && w && active && scored && Tb && Ub;
    for (int t = 0; ok && t < n_workers; t++)
        ok = kernel_scratch_alloc(&w[t], n, q, K);
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
    /* With several problems everything below runs on the pool with single-threaded
     * BLAS: alternating pool phases with OpenBLAS's own threads left both spinning
     * for the 2 cores (a third of the time in sched_yield). */
    const int blas_threads = ncmp_blas_threads();
    const int pool = B > 1 ? ncmp_parallel_threads() : 1;
    lockstep job = {pb, w, active, scored, Ub, &o, n, q, K, B, 0, 0, PHASE_SETUP, K0, Y, Z0, z0_ld, out, Tb, NULL};
    if (B > 1)
        ncmp_blas_set_threads(1);
    for (size_t b = 0; b < B; b++)
        active[b] = b;
    job.n_active = B;
    ncmp_parallel_run(n_workers, lockstep_task, &job);
    for (size_t k = 0; k < K; k++) {
        size_t nc = 0;
        for (size_t b = 0; b < B; b++)
            if (!pb[b].done)
                active[nc++] = b;
        if (!nc)
            break;
        job.k = k;
        job.n_active = nc;
        job.phase = PHASE_SCORE;
        ncmp_parallel_run(n_workers < (int)nc ? n_workers : (int)nc, lockstep_task, &job);
        size_t na = 0;
        for (size_t c = 0; c < nc; c++) {
            size_t b = active[c];
            if (!scored[b]) {
                pb[b].done = 1;
                continue;
            }
            for (size_t i = 0; i < n; i++)
                Tb[i * B + na] = pb[b].T[i * K + k];
            active[na++] = b;
        }
        if (!na)
            break;
        /* The one O(n^2) step of a component, for every problem at once: U = K0 [t_1 .. t_na]. */
        job.n_active = na;
        job.phase = PHASE_PRODUCT;
        ncmp_parallel_run(pool, lockstep_task, &job);
        job.phase = PHASE_DEFLATE;
        ncmp_parallel_run(n_workers < (int)na ? n_workers : (int)na, lockstep_task, &job);
    }
    if (B > 1)
        ncmp_blas_set_threads(blas_threads);
    /* The dual coefficients of every problem (scored[] now holds their status). */
    if (!(job.errors = calloc(B, sizeof *job.errors))) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t b = 0; b < B; b++)
        active[b] = b;
    job.n_active = B;
    job.phase = PHASE_FINISH;
    if (B > 1)
        ncmp_blas_set_threads(1);
    ncmp_parallel_run(n_workers, lockstep_task, &job);
    if (B > 1)
        ncmp_blas_set_threads(blas_threads);
    for (size_t b = 0; b < B && !st; b++)
        if ((st = (ncmp_status)job.scored[b]))
            *err = job.errors[b];
    free(job.errors);
    if (st)
        goto done;
done:
    for (size_t b = 0; pb && b < B; b++)
        kernel_problem_free(&pb[b]);
    free(pb);
    free(active);
    free(Tb);
    free(Ub);
    free(scored);
    for (int t = 0; w && t < n_workers; t++)
        kernel_scratch_free(&w[t]);
    free(w);
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
    return ncmp_pls_kernel_fit_many(K0, n, p, &Y, 1, q, NULL, 0, options, out, err);
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
