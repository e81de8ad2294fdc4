/* RSA (RDM Spearman) and linear CKA over the test stimuli of each split (analysis/similarity.h). */
#include "analysis/similarity.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    double v;
    size_t i;
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
    double x = ((const ranked *)a)->v, y = ((const ranked *)b)->v;
    return x < y ? -1 : x > y;
}

/* Average ranks (scipy.stats.rankdata 'average'). */
static int rank_avg(const double *x, size_t n, double *r)
{
    ranked *t = malloc((n ? n : 1) * sizeof *t);
    if (!t)
        return -1;
    for (size_t i = 0; i < n; i++)
        t[i] = (ranked){x[i], i};
    qsort(t, n, sizeof *t, cmp_ranked);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && t[j + 1].v == t[i].v)
            j++;
        double avg = 0.5 * (double)(i + j) + 1.0;
        for (size_t k = i; k <= j; k++)
            r[t[k].i] = avg;
        i = j + 1;
    }
    free(t);
    return 0;
}

double ncmp_spearman(const double *x, const double *y, size_t n)
{
    double *rx = malloc((n ? n : 1) * sizeof *rx), *ry = malloc((n ? n : 1) * sizeof *ry);
    double r = NAN;
    if (rx && ry && !rank_avg(x, n, rx) && !rank_avg(y, n, ry))
        r = ncmp_pearson(rx, 1, ry, 1, n);
    free(rx);
    free(ry);
    return r;
}

static ncmp_score *finish(double *vals, size_t K, size_t n, size_t q)
{
    ncmp_score *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->split_median = malloc(K * sizeof(double));
    r->per_neuroid = malloc(K * q * sizeof(double));
    if (!r->split_median || !r->per_neuroid) {
        ncmp_score_free(r);
        return NULL;
    }
    r->n_splits = K;
    r->n_neuroids = q;
    r->n_stimuli = n;
    for (size_t s = 0; s < K; s++)
        for (size_t j = 0; j < q; j++)
            r->per_neuroid[s * q + j] = vals[s];
    ncmp_score_aggregate(vals, K, 1, r->split_median, &r->raw, &r->error);
    return r;
}

/* RDM upper triangle of rows idx[0..m-1] of A[.][d]: 1 - Pearson r. */
static void rdm_upper(const double *A, size_t d, const size_t *idx, size_t m, double *out)
{
    size_t k = 0;
    for (size_t i = 0; i < m; i++)
        for (size_t j = i + 1; j < m; j++)
            out[k++] = 1.0 - ncmp_pearson(A + idx[i] * d, 1, A + idx[j] * d, 1, d);
}

ncmp_status ncmp_score_rsa(const double *features, size_t n, size_t p, const double *responses, size_t q,
                           const ncmp_splits *splits, ncmp_score **out, ncmp_error *err)
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
    size_t K = splits->n_splits, npair = max_test * (max_test - 1) / 2;
    double *vals = malloc(K * sizeof *vals), *a = malloc((npair + 1) * sizeof *a), *b = malloc((npair + 1) * sizeof *b);
    if (!vals || !a || !b) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "RSA: out of memory for %zu test stimuli", max_test);
        goto done;
    }
    for (size_t s = 0; s < K; s++) {
        size_t m = ncmp_splits_n_test(splits, s);
        const size_t *te = splits->test + splits->test_offset[s];
        rdm_upper(features, p, te, m, a);
        rdm_upper(responses, q, te, m, b);
        vals[s] = ncmp_spearman(a, b, m * (m - 1) / 2);
    }
    if (!(*out = finish(vals, K, n, q)))
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "RSA: out of memory");
done:
    free(vals);
    free(a);
    free(b);
    return st;
}

/* Double-centre the m x m matrix M in place (H M H). */
static void double_center(double *M, size_t m)
{
    double *r = calloc(m, sizeof *r), c = 0;
    if (!r)
        return;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < m; j++)
            r[i] += M[i * m + j] / (double)m;
    for (size_t i = 0; i < m; i++)
        c += r[i] / (double)m;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < m; j++)
            M[i * m + j] += c - r[i] - r[j]; /* M symmetric: column means = row means */
    free(r);
}

ncmp_status ncmp_score_cka_gram(const double *G, size_t n, size_t p, const double *responses, size_t q,
                                const ncmp_splits *splits, ncmp_score **out, ncmp_error *err)
{
    *out = NULL;
    size_t max_train, max_test;
    ncmp_status st = ncmp_score_check_inputs(n, p, responses, q, splits, &max_train, &max_test, err);
    if (st)
        return st;
    size_t K = splits->n_splits;
    double *vals = malloc(K * sizeof *vals), *Km = malloc(max_test * max_test * sizeof *Km);
    double *L = malloc(max_test * max_test * sizeof *L);
    if (!vals || !Km || !L) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "CKA: out of memory for %zu test stimuli", max_test);
        goto done;
    }
    for (size_t s = 0; s < K; s++) {
        size_t m = ncmp_splits_n_test(splits, s);
        const size_t *te = splits->test + splits->test_offset[s];
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < m; j++) {
                Km[i * m + j] = G[te[i] * n + te[j]];
                double acc = 0;
                for (size_t k = 0; k < q; k++)
                    acc += responses[te[i] * q + k] * responses[te[j] * q + k];
                L[i * m + j] = acc;
            }
        double_center(Km, m);
        double_center(L, m);
        double kl = 0, kk = 0, ll = 0;
        for (size_t i = 0; i < m * m; i++) {
            kl += Km[i] * L[i];
            kk += Km[i] * Km[i];
            ll += L[i] * L[i];
        }
        vals[s] = kk > 0 && ll > 0 ? kl / sqrt(kk * ll) : NAN;
    }
    if (!(*out = finish(vals, K, n, q)))
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "CKA: out of memory");
done:
    free(vals);
    free(Km);
    free(L);
    return st;
}

ncmp_status ncmp_score_cka(const double *features, size_t n, size_t p, const double *responses, size_t q,
                           const ncmp_splits *splits, ncmp_score **out, ncmp_error *err)
{
    *out = NULL;
    for (size_t i = 0; i < n * p; i++)
        if (!isfinite(features[i]))
            return ncmp_fail(err, NCMP_ERR_VALUE, "score: feature %zu of stimulus %zu is %g; features must be finite",
                             i % p, i / p, features[i]);
    double *G = malloc(n * n * sizeof *G);
    if (!G)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "CKA: out of memory for the %zu x %zu Gram matrix", n, n);
    ncmp_status st = ncmp_gram_matrix(features, n, p, G, err);
    if (!st)
        st = ncmp_score_cka_gram(G, n, p, responses, q, splits, out, err);
    free(G);
    return st;
}
