/* Ridge / OLS predictivity over cross-validation splits (analysis/linear_score.h). */
#include "analysis/linear_score.h"

#include "analysis/pls_kernel.h"

#include <cblas.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

static ncmp_score *alloc_score(const ncmp_splits *splits, size_t n, size_t q, int ridge)
{
    size_t K = splits->n_splits;
    ncmp_score *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->split_median = malloc(K * sizeof(double));
    r->per_neuroid = malloc(K * q * sizeof(double));
    r->alpha = ridge ? malloc(K * q * sizeof(double)) : NULL;
    r->predictions = malloc((splits->test_offset[K] * q + 1) * sizeof(double));
    if (!r->split_median || !r->per_neuroid || (ridge && !r->alpha) || !r->predictions) {
        ncmp_score_free(r);
        return NULL;
    }
    r->n_splits = K;
    r->n_neuroids = q;
    r->n_stimuli = n;
    return r;
}

/* One split fitted and scored.  G (may be NULL when the primal is used) is the
 * Gram matrix of all n stimuli. */
typedef struct work {
    double *Xtr, *Xte, *Ytr, *Yte, *Ktr, *Kte, *coef, *xm, *ym, *pred;
} work;

static ncmp_status run(const double *features, const double *G, size_t n, size_t p, const double *responses, size_t q,
                       const ncmp_splits *splits, const ncmp_linear_options *o, int primal_ok, ncmp_score **out,
                       ncmp_error *err)
{
    size_t max_train, max_test;
    ncmp_status st = ncmp_score_check_inputs(n, p, responses, q, splits, &max_train, &max_test, err);
    if (st)
        return st;
    const double *alphas = o && o->alphas ? o->alphas : ncmp_ridge_default_alphas;
    size_t n_alphas = o && o->alphas ? o->n_alphas : NCMP_RIDGE_DEFAULT_N_ALPHAS;
    int ridge = !o || o->kind == NCMP_LINEAR_RIDGE;
    size_t K = splits->n_splits;
    ncmp_score *r = alloc_score(splits, n, q, ridge);
    double *Gown = NULL;
    work w = {0};
    size_t pc = primal_ok && p < max_train ? p : 0; /* primal buffers only when some split may use them */
    w.Ytr = malloc(max_train * q * sizeof(double));
    w.Yte = malloc(max_test * q * sizeof(double));
    w.pred = malloc(max_test * q * sizeof(double));
    w.ym = malloc(q * sizeof(double));
    w.coef = malloc((pc > max_train ? pc : max_train) * q * sizeof(double));
    w.xm = malloc((pc ? pc : 1) * sizeof(double));
    w.Xtr = malloc((max_train * pc + 1) * sizeof(double));
    w.Xte = malloc((max_test * pc + 1) * sizeof(double));
    if (!r || !w.Ytr || !w.Yte || !w.pred || !w.ym || !w.coef || !w.xm || !w.Xtr || !w.Xte) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "score: out of memory for %zu stimuli", n);
        goto done;
    }
    for (size_t s = 0; s < K; s++) {
        size_t ntr = ncmp_splits_n_train(splits, s), nte = ncmp_splits_n_test(splits, s);
        const size_t *tr = splits->train + splits->train_offset[s], *te = splits->test + splits->test_offset[s];
        for (size_t i = 0; i < ntr; i++)
            memcpy(w.Ytr + i * q, responses + tr[i] * q, q * sizeof(double));
        for (size_t i = 0; i < nte; i++)
            memcpy(w.Yte + i * q, responses + te[i] * q, q * sizeof(double));
        double *alpha = ridge ? r->alpha + s * q : NULL;
        if (primal_ok && p < ntr) {
            for (size_t i = 0; i < ntr; i++)
                memcpy(w.Xtr + i * p, features + tr[i] * p, p * sizeof(double));
            st = ridge
                     ? ncmp_ridge_fit_primal(w.Xtr, ntr, p, w.Ytr, q, alphas, n_alphas, w.coef, w.xm, w.ym, alpha, err)
                     : ncmp_ols_fit_primal(w.Xtr, ntr, p, w.Ytr, q, w.coef, w.xm, w.ym, err);
            if (st)
                goto split_fail;
            for (size_t i = 0; i < nte; i++)
                for (size_t j = 0; j < p; j++)
                    w.Xte[i * p + j] = features[te[i] * p + j] - w.xm[j];
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nte, (int)q, (int)p, 1.0, w.Xte, (int)p, w.coef,
                        (int)q, 0.0, w.pred, (int)q);
        } else {
            if (!G) {
                Gown = malloc(n * n * sizeof *Gown);
                if (!Gown) {
                    st = ncmp_fail(err, NCMP_ERR_NOMEM, "score: out of memory for the %zu x %zu Gram matrix", n, n);
                    goto done;
                }
                if ((st = ncmp_gram_matrix(features, n, p, Gown, err)))
                    goto done;
                G = Gown;
            }
            if (!w.Ktr) {
                w.Ktr = malloc(max_train * max_train * sizeof(double));
                w.Kte = malloc(max_test * max_train * sizeof(double));
                if (!w.Ktr || !w.Kte) {
                    st = ncmp_fail(err, NCMP_ERR_NOMEM, "score: out of memory for %zu stimuli", n);
                    goto done;
                }
            }
            ncmp_pls_kernel_center(G, n, tr, ntr, te, nte, w.Ktr, w.Kte);
            st = ridge ? ncmp_ridge_fit_dual(w.Ktr, ntr, w.Ytr, q, alphas, n_alphas, w.coef, w.ym, alpha, err)
                       : ncmp_ols_fit_dual(w.Ktr, ntr, w.Ytr, q, w.coef, w.ym, err);
            if (st)
                goto split_fail;
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nte, (int)q, (int)ntr, 1.0, w.Kte, (int)ntr,
                        w.coef, (int)q, 0.0, w.pred, (int)q);
        }
        for (size_t i = 0; i < nte; i++)
            for (size_t j = 0; j < q; j++)
                w.pred[i * q + j] += w.ym[j];
        for (size_t j = 0; j < q; j++)
            r->per_neuroid[s * q + j] = ncmp_pearson(w.pred + j, q, w.Yte + j, q, nte);
        memcpy(r->predictions + splits->test_offset[s] * q, w.pred, nte * q * sizeof *w.pred);
        continue;
    split_fail:
        ncmp_error_context(err, "split %zu", s);
        goto done;
    }
    ncmp_score_aggregate(r->per_neuroid, K, q, r->split_median, &r->raw, &r->error);
done:
    free(Gown);
    free(w.Xtr);
    free(w.Xte);
    free(w.Ytr);
    free(w.Yte);
    free(w.Ktr);
    free(w.Kte);
    free(w.coef);
    free(w.xm);
    free(w.ym);
    free(w.pred);
    if (st) {
        ncmp_score_free(r);
        *out = NULL;
        return st;
    }
    *out = r;
    return NCMP_OK;
}

ncmp_status ncmp_score_linear(const double *features, size_t n, size_t p, const double *responses, size_t q,
                              const ncmp_splits *splits, const ncmp_linear_options *options, ncmp_score **out,
                              ncmp_error *err)
{
    *out = NULL;
    for (size_t i = 0; i < n * p; i++)
        if (!isfinite(features[i]))
            return ncmp_fail(err, NCMP_ERR_VALUE, "score: feature %zu of stimulus %zu is %g; features must be finite",
                             i % p, i / p, features[i]);
    return run(features, NULL, n, p, responses, q, splits, options, 1, out, err);
}

ncmp_status ncmp_score_linear_gram(const double *G, size_t n, size_t p, const double *responses, size_t q,
                                   const ncmp_splits *splits, const ncmp_linear_options *options, ncmp_score **out,
                                   ncmp_error *err)
{
    *out = NULL;
    return run(NULL, G, n, p, responses, q, splits, options, 0, out, err);
}
