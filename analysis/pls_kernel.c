/* Kernel (Gram-matrix) replay of scikit-learn 1.2's NIPALS PLS regression (see pls_kernel.h; Lindgren, Geladi & Wold
 * 1993 for kernel PLS). */
#include "analysis/pls_kernel.h"

#include "analysis/linalg.h"
#include "core/log.h"
#include "core/parallel.h"
#include "core/provenance.h"
#include "core/sizes.h"

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

/* Per-problem state of the lockstep fit (see ncmp_pls_kernel_fit_many).
 *
 * The deflated responses are never written: with the y loadings L = [yl_1 ..
 * yl_k] (the first k columns of Q), Yk = Y0 - T L' and Z = K0 Yk = Z0 - (K0 T) L',
 * so every product with Yk or Z is one read-only pass over Y0 and Z0 plus an
 * O(n k) correction.  That halves the memory traffic of a component, which
 * is what bounds the lockstep fit of many time bins. */
typedef struct kernel_problem {
    double *Y0, *Z0;       /* [n][q]: centred responses and K0 Y0 (read-only) */
    double *G, *S;         /* [q][q]: Yk' K0 Yk, Yk' Yk (rank-one updates) */
    double *S0;            /* [q]: the diagonal of Y0'Y0 (scale of the drift of S) */
    double *R;             /* [K][q]: t_i' Z for the scores found so far */
    double *A, *T, *KT;    /* [n][K]: dual x weights, x scores, K0 x scores */
    double *Q;             /* [q][K]: y loadings */
    double *tts;           /* [K]: t_i' t_i */
    unsigned char *zeroed; /* [q]: columns masked as fully explained */
    size_t used;
    int done;
} kernel_problem;

static void kernel_problem_free(kernel_problem *pb)
{
    free(pb->Y0);
    free(pb->Z0);
    free(pb->G);
    free(pb->S);
    free(pb->S0);
    free(pb->R);
    free(pb->A);
    free(pb->T);
    free(pb->KT);
    free(pb->Q);
    free(pb->tts);
    free(pb->zeroed);
}

static int kernel_problem_alloc(kernel_problem *pb, size_t n, size_t q, size_t K)
{
    memset(pb, 0, sizeof *pb);
    pb->Y0 = malloc(n * q * sizeof(double));
    pb->Z0 = malloc(n * q * sizeof(double));
    pb->G = malloc(q * q * sizeof(double));
    pb->S = malloc(q * q * sizeof(double));
    pb->S0 = malloc(q * sizeof(double));
    pb->R = calloc(K * q, sizeof(double));
    pb->A = calloc(n * K, sizeof(double));
    pb->T = calloc(n * K, sizeof(double));
    pb->KT = calloc(n * K, sizeof(double));
    pb->Q = calloc(q * K, sizeof(double));
    pb->tts = calloc(K, sizeof(double));
    pb->zeroed = calloc(q, 1);
    return pb->Y0 && pb->Z0 && pb->G && pb->S && pb->S0 && pb->R && pb->A && pb->T && pb->KT && pb->Q && pb->tts &&
           pb->zeroed;
}

/* Scratch shared by the problems of one lockstep fit. */
typedef struct kernel_scratch {
    double *Rs;              /* [K][q]: R / tts */
    double *cw, *g_old, *gc; /* [q] */
    double *coef, *c2, *c3;  /* [K] */
    double *ys, *v, *col;    /* [n] */
    double *Yu, *Yt, *Zt;    /* [q] */
} kernel_scratch;

/* scikit-learn's masking of fully explained Y columns (as ncmp_pls_first_active_target):
 * a column whose residual is entirely below 10 eps is zeroed.  ||Yk[:, j]||^2 = S_jj
 * rules most columns out; the others (S_jj within rounding of n (10 eps)^2) are
 * formed exactly, Y0[:, j] - T L[j, :]'.  The first column left is the first active
 * one (any unmasked column has an entry above 10 eps > eps). */
static size_t kernel_problem_first_active(kernel_problem *pb, kernel_scratch *w, size_t n, size_t q, size_t K, size_t k)
{
    const double eps = DBL_EPSILON;
    size_t first = q;
    for (size_t j = 0; j < q; j++) {
        if (pb->zeroed[j])
            continue;
        double margin = 64 * eps * pb->S0[j] * (double)(k + 1);
        bool small = false;
        if (pb->S[j * q + j] <= (double)n * 100 * eps * eps + margin) {
            for (size_t i = 0; i < n; i++)
                w->col[i] = pb->Y0[i * q + j];
            if (k)
                cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)k, -1.0, pb->T, (int)K, pb->Q + j * K, 1, 1.0,
                            w->col, 1);
            small = true;
            for (size_t i = 0; i < n && small; i++)
                small = fabs(w->col[i]) < 10 * eps;
        }
        if (!small) {
            if (first == q)
                first = j;
            continue;
        }
        pb->zeroed[j] = 1;
        for (size_t i = 0; i < k; i++)
            pb->R[i * q + j] = 0;
        for (size_t i = 0; i < q; i++)
            pb->G[i * q + j] = pb->G[j * q + i] = pb->S[i * q + j] = pb->S[j * q + i] = 0;
    }
    return first;
}

/* One component of one problem up to its x score t (written to pb->T[:, k])
 * and its dual x weights A[:, k].  Returns 0 when the Y residual is constant
 * (the problem is done). */
static int kernel_problem_score(kernel_problem *pb, kernel_scratch *w, size_t n, size_t q, size_t K, size_t k,
                                const ncmp_pls_options *o)
{
    const double eps = DBL_EPSILON;
    const int ni = (int)n, qi = (int)q, Ki = (int)K, ki = (int)k;
    size_t first = kernel_problem_first_active(pb, w, n, q, K, k);
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
    double *cw = w->cw, *gc = w->gc, *g_old = w->g_old;
    memset(cw, 0, q * sizeof *cw);
    cw[first] = 1.0;
    double yu = 0, yu_old = 0;
    for (int iter = 0; iter < o->max_iter; iter++) {
        cblas_dgemv(CblasRowMajor, CblasNoTrans, qi, qi, 1.0, pb->G, qi, cw, 1, 0.0, gc, 1);
        yu = cblas_ddot(qi, cw, 1, gc, 1); /* ||X'ys||^2 */
        bool converged = q == 1;
        if (iter > 0 && !converged) {
            double cross = cblas_ddot(qi, cw, 1, g_old, 1); /* g_old = G c_old, the previous iteration's G c */
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
    /* Back to n-vectors, one read of Y0 and Z0:
     *   ys = Yk cw = Y0 cw - T (L'cw),
     *   t = a Kk ys = a Dk Z cw = a (Z0 cw - (K0 T)(L'cw) - T (R cw / tts)). */
    double *ys = w->ys, *t = w->v;
    /* BLAS, not a fused C loop: the row dot products are reductions, which the
     * compiler may not vectorise without reassociating (measured 2x slower). */
    cblas_dgemv(CblasRowMajor, CblasNoTrans, ni, qi, 1.0, pb->Y0, qi, cw, 1, 0.0, ys, 1);
    cblas_dgemv(CblasRowMajor, CblasNoTrans, ni, qi, a, pb->Z0, qi, cw, 1, 0.0, t, 1);
    if (k) {
        cblas_dgemv(CblasRowMajor, CblasTrans, qi, ki, 1.0, pb->Q, Ki, cw, 1, 0.0, w->c2, 1); /* L'cw */
        cblas_dgemv(CblasRowMajor, CblasNoTrans, ni, ki, -1.0, pb->T, Ki, w->c2, 1, 1.0, ys, 1);
        cblas_dgemv(CblasRowMajor, CblasNoTrans, ki, qi, 1.0, w->Rs, qi, cw, 1, 0.0, w->coef, 1);
        for (size_t c = 0; c < k; c++)
            w->c3[c] = -a * w->c2[c];
        cblas_dgemv(CblasRowMajor, CblasNoTrans, ni, ki, 1.0, pb->KT, Ki, w->c3, 1, 1.0, t, 1);
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
    return 1;
}

/* Deflation of one problem after its x score t = T[:, k] and u = K0 t are known:
 * the y loadings yl = Yk't / t't, then Yk+1 = Yk - t yl' and Z_k+1 = Z - u yl'
 * implicitly (yl becomes column k of L = Q), with G, S and R updated to match.
 * One read of Y0 and Z0 gives Y0'u, Y0't and Z0't. */
static void kernel_problem_deflate(kernel_problem *pb, kernel_scratch *w, const double *u, size_t ustride, size_t n,
                                   size_t q, size_t K, size_t k)
{
    const int ni = (int)n, qi = (int)q, Ki = (int)K, ki = (int)k;
    double *t = w->v, tt = pb->tts[k];
    for (size_t i = 0; i < n; i++) {
        t[i] = pb->T[i * K + k];
        pb->KT[i * K + k] = u[i * ustride];
    }
    const double *uk = pb->KT + k; /* column k, stride K */
    double *restrict Yu = w->Yu, *restrict Yt = w->Yt, *restrict Zt = w->Zt;
    double tu = 0;
    memset(Yu, 0, q * sizeof *Yu);
    memset(Yt, 0, q * sizeof *Yt);
    memset(Zt, 0, q * sizeof *Zt);
    for (size_t i = 0; i < n; i++) {
        const double ui = uk[i * K], ti = t[i];
        const double *restrict y = pb->Y0 + i * q, *restrict z = pb->Z0 + i * q;
        tu += ti * ui;
        for (size_t j = 0; j < q; j++) {
            Yu[j] += y[j] * ui;
            Yt[j] += y[j] * ti;
            Zt[j] += z[j] * ti;
        }
    }
    /* Corrections for the earlier components: Yk'x = Y0'x - L (T'x), Z'x = Z0'x - L ((K0 T)'x). */
    double *yl = w->col; /* [q] of the n-long scratch */
    if (k) {
        cblas_dgemv(CblasRowMajor, CblasTrans, ni, ki, 1.0, pb->T, Ki, uk, Ki, 0.0, w->coef, 1); /* T'u */
        cblas_dgemv(CblasRowMajor, CblasTrans, ni, ki, 1.0, pb->T, Ki, t, 1, 0.0, w->c2, 1);     /* T't */
        cblas_dgemv(CblasRowMajor, CblasTrans, ni, ki, 1.0, pb->KT, Ki, t, 1, 0.0, w->c3, 1);    /* (K0 T)'t */
        cblas_dgemv(CblasRowMajor, CblasNoTrans, qi, ki, -1.0, pb->Q, Ki, w->coef, 1, 1.0, Yu, 1);
        cblas_dgemv(CblasRowMajor, CblasNoTrans, qi, ki, -1.0, pb->Q, Ki, w->c2, 1, 1.0, Yt, 1);
        cblas_dgemv(CblasRowMajor, CblasNoTrans, qi, ki, -1.0, pb->Q, Ki, w->c3, 1, 1.0, Zt, 1);
    }
    for (size_t j = 0; j < q; j++) {
        yl[j] = pb->zeroed[j] ? 0 : Yt[j] / tt;
        if (pb->zeroed[j])
            Yu[j] = Zt[j] = 0;
        pb->Q[j * K + k] = yl[j];
    }
    /* R_i -= (t_i'u) yl' for the earlier scores; R_k = t'Z_k+1 = t'Z - (t'u) yl'. */
    if (k)
        cblas_dger(CblasRowMajor, ki, qi, -1.0, w->coef, 1, yl, 1, pb->R, qi);
    for (size_t j = 0; j < q; j++)
        pb->R[k * q + j] = Zt[j] - tu * yl[j];
    for (size_t i = 0; i < q; i++)
        for (size_t j = 0; j < q; j++) {
            pb->G[i * q + j] += -Yu[i] * yl[j] - yl[i] * Yu[j] + tu * yl[i] * yl[j];
            pb->S[i * q + j] -= tt * yl[i] * yl[j];
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
    if (!U) { /* every response constant: predictions are the train means */
        memset(m->dual_coef, 0, n * q * sizeof *m->dual_coef);
        return NCMP_OK;
    }
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
    free(w->g_old);
    free(w->gc);
    free(w->coef);
    free(w->c2);
    free(w->c3);
    free(w->ys);
    free(w->v);
    free(w->col);
    free(w->Yu);
    free(w->Yt);
    free(w->Zt);
}

static bool kernel_scratch_alloc(kernel_scratch *w, size_t n, size_t q, size_t K)
{
    w->Rs = malloc(K * q * sizeof(double));
    w->cw = malloc(q * sizeof(double));
    w->g_old = malloc(q * sizeof(double));
    w->gc = malloc(q * sizeof(double));
    w->coef = malloc(K * sizeof(double));
    w->c2 = malloc(K * sizeof(double));
    w->c3 = malloc(K * sizeof(double));
    w->ys = malloc(n * sizeof(double));
    w->v = malloc(n * sizeof(double));
    w->col = malloc((n > q ? n : q) * sizeof(double));
    w->Yu = malloc(q * sizeof(double));
    w->Yt = malloc(q * sizeof(double));
    w->Zt = malloc(q * sizeof(double));
    return w->Rs && w->cw && w->g_old && w->gc && w->coef && w->c2 && w->c3 && w->ys && w->v && w->col && w->Yu &&
           w->Yt && w->Zt;
}

/* Centre one problem's responses and form Z = K0 Yk and the q x q products. */
static void kernel_problem_setup(kernel_problem *pb, const double *K0, const double *Y, const double *Z0, size_t z0_ld,
                                 size_t n, size_t q, ncmp_pls_kernel *m)
{
    const int ni = (int)n, qi = (int)q;
    m->n_train = n;
    m->n_targets = q;
    memset(m->y_mean, 0, q * sizeof *m->y_mean);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < q; j++)
            m->y_mean[j] += Y[i * q + j];
    for (size_t j = 0; j < q; j++)
        m->y_mean[j] /= (double)n;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < q; j++)
            pb->Y0[i * q + j] = Y[i * q + j] - m->y_mean[j];
    if (Z0)
        for (size_t i = 0; i < n; i++)
            memcpy(pb->Z0 + i * q, Z0 + i * z0_ld, q * sizeof *pb->Z0);
    else
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ni, qi, ni, 1.0, K0, ni, pb->Y0, qi, 0.0, pb->Z0, qi);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, qi, qi, ni, 1.0, pb->Y0, qi, pb->Z0, qi, 0.0, pb->G, qi);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, qi, qi, ni, 1.0, pb->Y0, qi, pb->Y0, qi, 0.0, pb->S, qi);
    for (size_t j = 0; j < q; j++)
        pb->S0[j] = pb->S[j * q + j];
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
    ncmp_pls_kernel *const *out;
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

struct ncmp_pls_kernel_workspace {
    size_t max_n, q, B, K;
    int n_workers;
    kernel_problem *pb;
    kernel_scratch *w;
    size_t *active;
    int *scored;
    double *Tb, *Ub;
    ncmp_error *errors;
    ncmp_pls_kernel *models;
    ncmp_pls_kernel **model_ptrs;
};

void ncmp_pls_kernel_workspace_free(ncmp_pls_kernel_workspace *ws)
{
    if (!ws)
        return;
    for (size_t b = 0; ws->pb && b < ws->B; b++)
        kernel_problem_free(&ws->pb[b]);
    for (int t = 0; ws->w && t < ws->n_workers; t++)
        kernel_scratch_free(&ws->w[t]);
    for (size_t b = 0; ws->models && b < ws->B; b++) {
        free(ws->models[b].y_mean);
        free(ws->models[b].dual_coef);
    }
    free(ws->pb);
    free(ws->w);
    free(ws->active);
    free(ws->scored);
    free(ws->Tb);
    free(ws->Ub);
    free(ws->errors);
    free(ws->models);
    free(ws->model_ptrs);
    free(ws);
}

ncmp_status ncmp_pls_kernel_workspace_alloc(size_t max_n, size_t q, size_t n_problems, int n_components,
                                            ncmp_pls_kernel_workspace **out, ncmp_error *err)
{
    *out = NULL;
    if (!max_n || !q || !n_problems || n_components < 1)
        return ncmp_fail(err, NCMP_ERR_USAGE, "kernel PLS workspace: need stimuli, targets, problems and components");
    ncmp_status dims = NCMP_BLAS_DIMS("kernel PLS", err, max_n, q, n_problems * (size_t)n_components);
    if (dims)
        return dims;
    ncmp_pls_kernel_workspace *ws = calloc(1, sizeof *ws);
    if (!ws)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    const size_t B = n_problems, K = (size_t)n_components, n = max_n;
    ws->max_n = n;
    ws->q = q;
    ws->B = B;
    ws->K = K;
    ws->n_workers = B > 1 ? ncmp_parallel_threads() : 1;
    if (ws->n_workers < 1)
        ws->n_workers = 1;
    if (ws->n_workers > (int)B)
        ws->n_workers = (int)B;
    ws->pb = calloc(B, sizeof *ws->pb);
    ws->w = calloc((size_t)ws->n_workers, sizeof *ws->w);
    ws->active = malloc(B * sizeof *ws->active);
    ws->scored = malloc(B * sizeof *ws->scored);
    ws->Tb = malloc(n * B * sizeof *ws->Tb);
    ws->Ub = malloc(n * B * sizeof *ws->Ub);
    ws->errors = calloc(B, sizeof *ws->errors);
    ws->models = calloc(B, sizeof *ws->models);
    ws->model_ptrs = calloc(B, sizeof *ws->model_ptrs);
    bool ok =
        ws->pb && ws->w && ws->active && ws->scored && ws->Tb && ws->Ub && ws->errors && ws->models && ws->model_ptrs;
    for (int t = 0; ok && t < ws->n_workers; t++)
        ok = kernel_scratch_alloc(&ws->w[t], n, q, K);
    for (size_t b = 0; ok && b < B; b++) {
        ok = kernel_problem_alloc(&ws->pb[b], n, q, K);
        ws->models[b].y_mean = calloc(q, sizeof(double));
        ws->models[b].dual_coef = calloc(n * q, sizeof(double));
        ws->model_ptrs[b] = &ws->models[b];
        ok = ok && ws->models[b].y_mean && ws->models[b].dual_coef;
    }
    if (!ok) {
        ncmp_pls_kernel_workspace_free(ws);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "kernel PLS: out of memory for %zu problems of %zu stimuli x %zu targets",
                         B, n, q);
    }
    *out = ws;
    return NCMP_OK;
}

ncmp_status ncmp_pls_kernel_fit_workspace(ncmp_pls_kernel_workspace *ws, const double *K0, size_t n, size_t p,
                                          const double *const *Y, size_t n_problems, const double *Z0, size_t z0_ld,
                                          const ncmp_pls_options *options, ncmp_pls_kernel *const **models,
                                          ncmp_error *err)
{
    *models = NULL;
    ncmp_pls_options o = NCMP_PLS_DEFAULTS;
    if (options)
        o = *options;
    if (o.n_components < 1 || o.max_iter < 1 || !(o.tol >= 0))
        return ncmp_fail(err, NCMP_ERR_USAGE, "PLS: need n_components >= 1, max_iter >= 1, tol >= 0 (got %d, %d, %g)",
                         o.n_components, o.max_iter, o.tol);
    const size_t q = ws->q, B = n_problems, K = (size_t)o.n_components;
    if (n < 2)
        return ncmp_fail(err, NCMP_ERR_SHAPE, "kernel PLS: need at least 2 samples and 1 target; got %zu x %zu", n, q);
    if (n > ws->max_n || B != ws->B || K != ws->K)
        return ncmp_fail(err, NCMP_ERR_SHAPE,
                         "kernel PLS: workspace for %zu stimuli, %zu problems, %zu components; asked for %zu, %zu, %zu",
                         ws->max_n, ws->B, ws->K, n, B, K);
    ncmp_status st = ncmp_pls_check_components(K, n, p, err);
    if (st)
        return st;
    if ((st = NCMP_BLAS_DIMS("kernel PLS", err, n, p, q, z0_ld, B * K)))
        return st;
    for (size_t i = 0; i < n * n; i++)
        if (!isfinite(K0[i]))
            return ncmp_fail(err, NCMP_ERR_VALUE, "kernel PLS: Gram matrix entry (%zu, %zu) is %g", i / n, i % n,
                             K0[i]);
    for (size_t b = 0; b < B; b++)
        if ((st = ncmp_pls_check_responses(Y[b], n, q, err)))
            return st;
    kernel_problem *pb = ws->pb;
    size_t *active = ws->active;
    int *scored = ws->scored;
    double *Tb = ws->Tb;
    const int n_workers = ws->n_workers;
    for (size_t b = 0; b < B; b++) {
        memset(pb[b].zeroed, 0, q);
        pb[b].used = 0;
        pb[b].done = 0;
    }
    /* With several problems everything below runs on the pool with single-threaded
     * BLAS: alternating pool phases with OpenBLAS's own threads left both spinning
     * for the 2 cores (a third of the time in sched_yield). */
    const int ni = (int)n, blas_threads = ncmp_blas_threads();
    const int pool = B > 1 ? ncmp_parallel_threads() : 1;
    lockstep job = {pb, ws->w, active, scored, ws->Ub,         &o, n,         q, K, B, 0, 0, PHASE_SETUP,
                    K0, Y,     Z0,     z0_ld,  ws->model_ptrs, Tb, ws->errors};
    (void)ni;
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
    /* The dual coefficients of every problem (scored[] then holds their status). */
    for (size_t b = 0; b < B; b++)
        active[b] = b;
    job.n_active = B;
    job.phase = PHASE_FINISH;
    ncmp_parallel_run(n_workers, lockstep_task, &job);
    if (B > 1)
        ncmp_blas_set_threads(blas_threads);
    for (size_t b = 0; b < B && !st; b++)
        if ((st = (ncmp_status)scored[b]))
            *err = ws->errors[b];
    if (st)
        return st;
    *models = ws->model_ptrs;
    return NCMP_OK;
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
    if (n < 2 || q < 1)
        return ncmp_fail(err, NCMP_ERR_SHAPE, "kernel PLS: need at least 2 samples and 1 target; got %zu x %zu", n, q);
    if (!n_problems)
        return NCMP_OK;
    if (o.n_components < 1)
        return ncmp_fail(err, NCMP_ERR_USAGE, "PLS: need n_components >= 1, max_iter >= 1, tol >= 0 (got %d, %d, %g)",
                         o.n_components, o.max_iter, o.tol);
    ncmp_pls_kernel_workspace *ws = NULL;
    ncmp_pls_kernel *const *models = NULL;
    ncmp_status st = ncmp_pls_kernel_workspace_alloc(n, q, n_problems, o.n_components, &ws, err);
    if (!st)
        st = ncmp_pls_kernel_fit_workspace(ws, K0, n, p, Y, n_problems, Z0, z0_ld, options, &models, err);
    for (size_t b = 0; !st && b < n_problems; b++) {
        /* Hand the workspace's model arrays over to the caller. */
        if (!(out[b] = calloc(1, sizeof **out))) {
            st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
            break;
        }
        *out[b] = *models[b];
        ws->models[b].y_mean = NULL;
        ws->models[b].dual_coef = NULL;
    }
    if (st)
        for (size_t b = 0; b < n_problems; b++) {
            ncmp_pls_kernel_free(out[b]);
            out[b] = NULL;
        }
    ncmp_pls_kernel_workspace_free(ws);
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
    size_t q = m->n_targets;
    ncmp_status dims = NCMP_BLAS_DIMS("kernel PLS predict", err, mm, q);
    if (dims)
        return dims;
    for (size_t i = 0; i < mm; i++)
        memcpy(Y_out + i * q, m->y_mean, q * sizeof *Y_out);
    if (mm)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)mm, (int)q, (int)m->n_train, 1.0, K_test,
                    (int)m->n_train, m->dual_coef, (int)q, 1.0, Y_out, (int)q);
    return NCMP_OK;
}
