/* Cross-validated PLS predictivity: Pearson per neuroid, median, mean and standard error over splits (Brain-Score;
 * docs/scoring.md). */
#include "analysis/metrics.h"

#include "analysis/pls_kernel.h"
#include "core/parallel.h"
#include "core/provenance.h"
#include "core/sizes.h"
#include "neural/ceiling.h"

#include <cblas.h>

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

double ncmp_pearson(const double *x, size_t sx, const double *y, size_t sy, size_t n)
{
    if (n < 2)
        return NAN;
    /* Exactly constant input is NaN (as scipy.stats.pearsonr), even where
     * rounding in the mean would leave tiny non-zero deviations. */
    bool xc = true, yc = true;
    for (size_t i = 1; i < n && (xc || yc); i++) {
        xc = xc && x[i * sx] == x[0];
        yc = yc && y[i * sy] == y[0];
    }
    if (xc || yc)
        return NAN;
    double mx = 0, my = 0;
    for (size_t i = 0; i < n; i++) {
        mx += x[i * sx];
        my += y[i * sy];
    }
    mx /= (double)n;
    my /= (double)n;
    double sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < n; i++) {
        double dx = x[i * sx] - mx, dy = y[i * sy] - my;
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if (!(sxx > 0 && syy > 0))
        return NAN;
    double r = sxy / sqrt(sxx * syy);
    return r > 1 ? 1 : r < -1 ? -1 : r;
}

void ncmp_score_aggregate(const double *per_neuroid, size_t n_splits, size_t n_neuroids, double *split_median,
                          double *raw, double *error)
{
    double *work = malloc((n_neuroids ? n_neuroids : 1) * sizeof *work);
    double mean = 0, var = 0;
    size_t k = 0;
    for (size_t s = 0; s < n_splits; s++) {
        split_median[s] = work ? ncmp_nan_median(per_neuroid + s * n_neuroids, n_neuroids, work) : NAN;
        if (!isnan(split_median[s])) {
            mean += split_median[s];
            k++;
        }
    }
    free(work);
    mean = k ? mean / (double)k : NAN;
    for (size_t s = 0; s < n_splits; s++)
        if (!isnan(split_median[s]))
            var += (split_median[s] - mean) * (split_median[s] - mean);
    *raw = mean;
    *error = k ? sqrt(var / (double)k) / sqrt((double)k) : NAN;
}

ncmp_status ncmp_gram_matrix(const double *features, size_t n, size_t p, double *G, ncmp_error *err)
{
    /* Shift by the column means first (centred kernels do not depend on a common
     * shift) so that large feature offsets do not cost precision, then accumulate
     * G += Fb Fb' over blocks of columns: extra memory n x block. */
    enum { BLOCK = 256 };
    ncmp_status dims = NCMP_BLAS_DIMS("Gram matrix", err, n, p);
    if (dims)
        return dims;
    double *mean = calloc(p ? p : 1, sizeof *mean), *blk = malloc(n * BLOCK * sizeof *blk);
    if (!mean || !blk) {
        free(mean);
        free(blk);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "Gram matrix: out of memory for %zu stimuli", n);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < p; j++)
            mean[j] += features[i * p + j];
    for (size_t j = 0; j < p; j++)
        mean[j] /= (double)n;
    memset(G, 0, n * n * sizeof *G);
    for (size_t j0 = 0; j0 < p; j0 += BLOCK) {
        size_t b = p - j0 < BLOCK ? p - j0 : BLOCK;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < b; j++)
                blk[i * b + j] = features[i * p + j0 + j] - mean[j0 + j];
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)n, (int)b, 1.0, blk, (int)b, 1.0, G, (int)n);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            G[i * n + j] = G[j * n + i];
    free(mean);
    free(blk);
    return NCMP_OK;
}

void ncmp_score_free(ncmp_score *s)
{
    if (!s)
        return;
    free(s->split_median);
    free(s->per_neuroid);
    free(s->alpha);
    free(s->predictions);
    free(s);
}

/* Checks shared by both paths; fills the largest train and test sizes. */
ncmp_status ncmp_score_check_inputs(size_t n, size_t p, const double *responses, size_t q, const ncmp_splits *splits,
                                    size_t *max_train, size_t *max_test, ncmp_error *err)
{
    if (splits->n_samples != n)
        return ncmp_fail(err, NCMP_ERR_SHAPE, "score: splits are over %zu samples but there are %zu stimuli",
                         splits->n_samples, n);
    if (!q || !p)
        return ncmp_fail(err, NCMP_ERR_SHAPE, "score: %zu features and %zu neuroids; need at least one of each", p, q);
    ncmp_status dims = NCMP_BLAS_DIMS("score", err, n, p, q);
    if (dims)
        return dims;
    for (size_t i = 0; i < n * q; i++)
        if (!isfinite(responses[i]))
            return ncmp_fail(err, NCMP_ERR_VALUE,
                             "score: the response of neuroid %zu to stimulus %zu is %g after averaging repetitions "
                             "(every repetition missing?); drop that neuroid or stimulus",
                             i % q, i / q, responses[i]);
    ncmp_status st = ncmp_splits_validate(splits, err);
    if (st)
        return st;
    *max_train = *max_test = 0;
    for (size_t s = 0; s < splits->n_splits; s++) {
        if (ncmp_splits_n_train(splits, s) > *max_train)
            *max_train = ncmp_splits_n_train(splits, s);
        if (ncmp_splits_n_test(splits, s) > *max_test)
            *max_test = ncmp_splits_n_test(splits, s);
    }
    return NCMP_OK;
}

static ncmp_score *score_alloc(const ncmp_splits *splits, size_t n, size_t q, const ncmp_pls_options *options)
{
    size_t K = splits->n_splits;
    ncmp_score *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->split_median = malloc(K * sizeof(double));
    r->per_neuroid = malloc(K * q * sizeof(double));
    r->predictions = malloc((splits->test_offset[K] * q + 1) * sizeof(double));
    if (!r->split_median || !r->per_neuroid || !r->predictions) {
        ncmp_score_free(r);
        return NULL;
    }
    r->n_splits = K;
    r->n_neuroids = q;
    r->n_stimuli = n;
    r->min_components_used = options ? options->n_components : 25;
    return r;
}

ncmp_score *ncmp_score_new(const ncmp_splits *splits, size_t n, size_t q, int n_components)
{
    ncmp_pls_options po = NCMP_PLS_DEFAULTS;
    po.n_components = n_components;
    return score_alloc(splits, n, q, &po);
}

/* Z0 = K0 Yc for one split, all response sets at once (columns of Y[N][QB]):
 * K0 = C G_tr C and Yc = C Y_tr (C centres over the n train rows), so
 *   K0 Yc = C (G_tr Y_tr - (G_tr 1) mu'),   G_tr Y_tr = (G Y)[tr] - G[tr, other] Y[other],
 * where "other" are the stimuli outside the train set (the test set for the
 * usual splits): with GY = G Y formed once, a split costs n x (N - n) x QB
 * instead of n x n x QB. */
static void z0_for_split(const double *G, size_t N, const double *Y, const double *GY, size_t QB, const size_t *tr,
                         size_t n, double *Z0, double *Gc, double *Yo, double *rs, size_t *other,
                         unsigned char *in_train)
{
    memset(in_train, 0, N);
    for (size_t i = 0; i < n; i++)
        in_train[tr[i]] = 1;
    size_t m = 0;
    for (size_t i = 0; i < N; i++)
        if (!in_train[i])
            other[m++] = i;
    double *mu = rs + n;
    memset(mu, 0, QB * sizeof *mu);
    for (size_t i = 0; i < n; i++) {
        memcpy(Z0 + i * QB, GY + tr[i] * QB, QB * sizeof *Z0);
        double acc = 0;
        for (size_t j = 0; j < n; j++)
            acc += G[tr[i] * N + tr[j]];
        rs[i] = acc;
        for (size_t c = 0; c < QB; c++)
            mu[c] += Y[tr[i] * QB + c];
    }
    for (size_t c = 0; c < QB; c++)
        mu[c] /= (double)n;
    if (m) {
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < m; j++)
                Gc[i * m + j] = G[tr[i] * N + other[j]];
        for (size_t j = 0; j < m; j++)
            memcpy(Yo + j * QB, Y + other[j] * QB, QB * sizeof *Yo);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)QB, (int)m, -1.0, Gc, (int)m, Yo, (int)QB,
                    1.0, Z0, (int)QB);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < QB; c++)
            Z0[i * QB + c] -= rs[i] * mu[c];
    /* C: centre the columns over the train rows (mu reused for the column means). */
    memset(mu, 0, QB * sizeof *mu);
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < QB; c++)
            mu[c] += Z0[i * QB + c];
    for (size_t c = 0; c < QB; c++)
        mu[c] /= (double)n;
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < QB; c++)
            Z0[i * QB + c] -= mu[c];
}

/* Predictions and Pearson r of every response set of one split, over the pool. */
typedef struct predict_job {
    ncmp_score **out;
    ncmp_pls_kernel *const *km;
    const double *const *responses;
    const double *Kte;
    double *Yte; /* [tasks][nte][q] */
    const size_t *te;
    size_t nte, q, split, row0, n_sets;
} predict_job;

static void predict_task(void *ctx, int task, int n_tasks)
{
    predict_job *j = ctx;
    size_t begin, end, q = j->q;
    ncmp_parallel_split(j->n_sets, task, n_tasks, &begin, &end);
    double *Yte = j->Yte + (size_t)task * j->nte * q;
    for (size_t b = begin; b < end; b++) {
        ncmp_score *r = j->out[b];
        if (j->km[b]->n_components_used < r->min_components_used)
            r->min_components_used = j->km[b]->n_components_used;
        double *pred = r->predictions + j->row0 * q;
        ncmp_pls_kernel_predict(j->km[b], j->Kte, j->nte, pred, NULL);
        for (size_t i = 0; i < j->nte; i++)
            memcpy(Yte + i * q, j->responses[b] + j->te[i] * q, q * sizeof *Yte);
        for (size_t c = 0; c < q; c++)
            r->per_neuroid[j->split * q + c] = ncmp_pearson(pred + c, q, Yte + c, q, j->nte);
    }
}

ncmp_status ncmp_score_pls_gram_many(const double *G, size_t n, size_t p, const double *const *responses, size_t n_sets,
                                     size_t q, const ncmp_splits *splits, const ncmp_pls_options *options,
                                     ncmp_score **out, ncmp_error *err)
{
    for (size_t b = 0; b < n_sets; b++)
        out[b] = NULL;
    size_t max_train = 0, max_test = 0;
    ncmp_status st = NCMP_OK;
    for (size_t b = 0; b < n_sets; b++)
        if ((st = ncmp_score_check_inputs(n, p, responses[b], q, splits, &max_train, &max_test, err))) {
            if (n_sets > 1)
                ncmp_error_context(err, "response set %zu", b);
            return st;
        }
    size_t K = splits->n_splits, B = n_sets, QB = q * B;
    if ((st = NCMP_BLAS_DIMS("score (response sets)", err, QB)))
        return st;
    double *Ktr = malloc(max_train * max_train * sizeof *Ktr), *Kte = malloc(max_test * max_train * sizeof *Kte);
    double *Ytr = malloc((B * max_train * q + 1) * sizeof *Ytr);
    int n_pool = ncmp_parallel_threads() > 0 ? ncmp_parallel_threads() : 1;
    double *Yte = malloc((size_t)n_pool * max_test * q * sizeof *Yte); /* one per pool task */
    /* K0 Yc for every split from one product with the full Gram matrix (see z0_for_split). */
    double *Yall = malloc(n * QB * sizeof *Yall), *GY = malloc(n * QB * sizeof *GY);
    double *Z0 = malloc(max_train * QB * sizeof *Z0), *Gc = malloc(max_train * n * sizeof *Gc);
    double *Yc = malloc(n * QB * sizeof *Yc), *rs = malloc((n + QB) * sizeof *rs);
    size_t *comp = malloc(n * sizeof *comp);
    unsigned char *in_train = malloc(n);
    const double **Yp = malloc((B + 1) * sizeof *Yp);
    ncmp_pls_kernel_workspace *ws = NULL;
    bool ok = Ktr && Kte && Ytr && Yte && Yp && Yall && GY && Z0 && Gc && Yc && rs && comp && in_train;
    for (size_t b = 0; ok && b < B; b++)
        ok = (out[b] = score_alloc(splits, n, q, options)) != NULL;
    if (!ok) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "score: out of memory for %zu stimuli", n);
        goto done;
    }
    if ((st = ncmp_pls_kernel_workspace_alloc(max_train, q, B, options ? options->n_components : 25, &ws, err)))
        goto done;
    for (size_t i = 0; i < n; i++)
        for (size_t b = 0; b < B; b++)
            memcpy(Yall + i * QB + b * q, responses[b] + i * q, q * sizeof *Yall);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)QB, (int)n, 1.0, G, (int)n, Yall, (int)QB, 0.0,
                GY, (int)QB);
    for (size_t s = 0; s < K; s++) {
        size_t ntr = ncmp_splits_n_train(splits, s), nte = ncmp_splits_n_test(splits, s);
        const size_t *tr = splits->train + splits->train_offset[s], *te = splits->test + splits->test_offset[s];
        for (size_t b = 0; b < B; b++) {
            double *Yb = Ytr + b * max_train * q;
            for (size_t i = 0; i < ntr; i++)
                memcpy(Yb + i * q, responses[b] + tr[i] * q, q * sizeof *Ytr);
            Yp[b] = Yb;
        }
        ncmp_pls_kernel_center(G, n, tr, ntr, te, nte, Ktr, Kte);
        z0_for_split(G, n, Yall, GY, QB, tr, ntr, Z0, Gc, Yc, rs, comp, in_train);
        ncmp_pls_kernel *const *km = NULL;
        if ((st = ncmp_pls_kernel_fit_workspace(ws, Ktr, ntr, p, Yp, B, Z0, QB, options, &km, err))) {
            ncmp_error_context(err, "split %zu", s);
            goto done;
        }
        predict_job pj = {out, km, responses, Kte, Yte, te, nte, q, s, splits->test_offset[s], B};
        int tasks = B > 1 ? ncmp_parallel_threads() : 1, blas = ncmp_blas_threads();
        if (tasks > 1)
            ncmp_blas_set_threads(1);
        ncmp_parallel_run(tasks, predict_task, &pj);
        if (tasks > 1)
            ncmp_blas_set_threads(blas);
    }
    for (size_t b = 0; b < B; b++)
        ncmp_score_aggregate(out[b]->per_neuroid, K, q, out[b]->split_median, &out[b]->raw, &out[b]->error);
done:
    free(Ktr);
    free(Kte);
    free(Ytr);
    free(Yte);
    free(Yp);
    ncmp_pls_kernel_workspace_free(ws);
    free(Yall);
    free(GY);
    free(Z0);
    free(Gc);
    free(Yc);
    free(rs);
    free(comp);
    free(in_train);
    if (st)
        for (size_t b = 0; b < B; b++) {
            ncmp_score_free(out[b]);
            out[b] = NULL;
        }
    return st;
}

ncmp_status ncmp_score_pls_gram(const double *G, size_t n, size_t p, const double *responses, size_t q,
                                const ncmp_splits *splits, const ncmp_pls_options *options, ncmp_score **out,
                                ncmp_error *err)
{
    return ncmp_score_pls_gram_many(G, n, p, &responses, 1, q, splits, options, out, err);
}

ncmp_status ncmp_score_pls(const double *features, size_t n, size_t p, const double *responses, size_t q,
                           const ncmp_splits *splits, const ncmp_pls_options *options, ncmp_score **out,
                           ncmp_error *err)
{
    *out = NULL;
    size_t max_train, max_test;
    ncmp_status st = ncmp_score_check_inputs(n, p, responses, q, splits, &max_train, &max_test, err);
    if (st)
        return st;
    for (size_t i = 0; i < n * p; i++)
        if (!isfinite(features[i]))
            return ncmp_fail(err, NCMP_ERR_VALUE, "score: feature %zu of stimulus %zu is %g; features must be finite",
                             i % p, i / p, features[i]);
    ncmp_pls_solver solver = options ? options->solver : NCMP_PLS_AUTO;
    if (solver == NCMP_PLS_AUTO)
        solver = ncmp_pls_choose_solver(n, max_train, p, q);
    if (solver == NCMP_PLS_KERNEL) {
        double *G = malloc(n * n * sizeof *G);
        if (!G)
            return ncmp_fail(err, NCMP_ERR_NOMEM, "score: out of memory for the %zu x %zu Gram matrix", n, n);
        if (!(st = ncmp_gram_matrix(features, n, p, G, err)))
            st = ncmp_score_pls_gram(G, n, p, responses, q, splits, options, out, err);
        free(G);
        return st;
    }
    size_t K = splits->n_splits;
    ncmp_score *r = score_alloc(splits, n, q, options);
    double *Xtr = malloc(max_train * p * sizeof *Xtr), *Ytr = malloc(max_train * q * sizeof *Ytr);
    double *Xte = malloc(max_test * p * sizeof *Xte), *Yte = malloc(max_test * q * sizeof *Yte);
    if (!r || !Xtr || !Ytr || !Xte || !Yte) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "score: out of memory for %zu stimuli x %zu features", n, p);
        goto done;
    }
    for (size_t s = 0; s < K; s++) {
        size_t ntr = ncmp_splits_n_train(splits, s), nte = ncmp_splits_n_test(splits, s);
        const size_t *tr = splits->train + splits->train_offset[s], *te = splits->test + splits->test_offset[s];
        for (size_t i = 0; i < ntr; i++) {
            memcpy(Xtr + i * p, features + tr[i] * p, p * sizeof *Xtr);
            memcpy(Ytr + i * q, responses + tr[i] * q, q * sizeof *Ytr);
        }
        for (size_t i = 0; i < nte; i++) {
            memcpy(Xte + i * p, features + te[i] * p, p * sizeof *Xte);
            memcpy(Yte + i * q, responses + te[i] * q, q * sizeof *Yte);
        }
        ncmp_pls *model = NULL;
        double *pred = r->predictions + splits->test_offset[s] * q;
        if ((st = ncmp_pls_fit(Xtr, ntr, p, Ytr, q, options, &model, err))) {
            ncmp_error_context(err, "split %zu", s);
            goto done;
        }
        if (model->n_components_used < r->min_components_used)
            r->min_components_used = model->n_components_used;
        st = ncmp_pls_predict(model, Xte, nte, p, pred, err);
        ncmp_pls_free(model);
        if (st)
            goto done;
        for (size_t j = 0; j < q; j++)
            r->per_neuroid[s * q + j] = ncmp_pearson(pred + j, q, Yte + j, q, nte);
    }
    ncmp_score_aggregate(r->per_neuroid, K, q, r->split_median, &r->raw, &r->error);
done:
    free(Xtr);
    free(Ytr);
    free(Xte);
    free(Yte);
    if (st) {
        ncmp_score_free(r);
        return st;
    }
    *out = r;
    return NCMP_OK;
}
