/* Span regression and committed iteration -> time maps, as Brain-Score (results/temporal_align.h). */
#include "results/temporal_align.h"

#include "analysis/pls_kernel.h"
#include "core/sizes.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ncmp_temporal_map_free(ncmp_temporal_map *m)
{
    if (!m)
        return;
    free(m->iterations);
    free(m->start);
    free(m->end);
    free(m->text);
    free(m);
}

static bool parse_double(const char *s, const char *end, double *v)
{
    char *stop;
    errno = 0;
    *v = strtod(s, &stop);
    return stop != s && stop == end && !errno && isfinite(*v);
}

ncmp_status ncmp_temporal_map_parse(const char *text, const long long *iterations, size_t n, ncmp_temporal_map **out,
                                    ncmp_error *err)
{
    *out = NULL;
    ncmp_temporal_map *m = calloc(1, sizeof *m);
    size_t cap = 1;
    for (const char *c = text; *c; c++)
        cap += *c == ',';
    if (!strncmp(text, "linear:", 7) && n > cap)
        cap = n;
    if (!m || !(m->text = strdup(text)) || !(m->iterations = calloc(cap, sizeof *m->iterations)) ||
        !(m->start = calloc(cap, sizeof *m->start)) || !(m->end = calloc(cap, sizeof *m->end))) {
        ncmp_temporal_map_free(m);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    }
    if (!strncmp(text, "linear:", 7)) {
        const char *a = text + 7, *colon = strchr(a, ':');
        double start, step;
        if (!colon || !parse_double(a, colon, &start) ||
            !parse_double(colon + 1, colon + 1 + strlen(colon + 1), &step) || !(step > 0)) {
            ncmp_temporal_map_free(m);
            return ncmp_fail(err, NCMP_ERR_USAGE, "--map '%s': expected linear:START:STEP in ms with STEP > 0", text);
        }
        for (size_t k = 0; k < n; k++) {
            m->iterations[k] = iterations[k];
            m->start[k] = start + (double)k * step;
            m->end[k] = start + (double)(k + 1) * step;
        }
        m->n_steps = n;
    } else {
        const char *p = text;
        for (;;) {
            const char *e = strchr(p, ','), *end = e ? e : p + strlen(p);
            const char *at = memchr(p, '@', (size_t)(end - p));
            const char *colon = at ? memchr(at, ':', (size_t)(end - at)) : NULL;
            char *stop;
            errno = 0;
            long long it = at ? strtoll(p, &stop, 10) : 0;
            double a, b;
            if (!at || !colon || stop != at || errno || !parse_double(at + 1, colon, &a) ||
                !parse_double(colon + 1, end, &b) || !(b > a)) {
                ncmp_temporal_map_free(m);
                return ncmp_fail(err, NCMP_ERR_USAGE,
                                 "--map '%s': expected ITER@START:END,... (ms, END > START) or linear:START:STEP "
                                 "(at '%.*s')",
                                 text, (int)(end - p), p);
            }
            m->iterations[m->n_steps] = it;
            m->start[m->n_steps] = a;
            m->end[m->n_steps] = b;
            m->n_steps++;
            if (!e)
                break;
            p = e + 1;
        }
    }
    if (!m->n_steps) {
        ncmp_temporal_map_free(m);
        return ncmp_fail(err, NCMP_ERR_USAGE, "--map '%s': no iterations to map", text);
    }
    for (size_t i = 0; i < m->n_steps; i++)
        for (size_t j = 0; j < m->n_steps; j++)
            if (i != j && m->start[i] < m->end[j] && m->start[j] < m->end[i]) {
                ncmp_status st =
                    ncmp_fail(err, NCMP_ERR_USAGE,
                              "--map '%s': the steps of iterations %lld (%g-%g ms) and %lld (%g-%g ms) "
                              "overlap; each moment belongs to one model step",
                              text, m->iterations[i], m->start[i], m->end[i], m->iterations[j], m->start[j], m->end[j]);
                ncmp_temporal_map_free(m);
                return st;
            }
    *out = m;
    return NCMP_OK;
}

ncmp_status ncmp_temporal_map_weights(const ncmp_temporal_map *m, const double *bs, const double *be, size_t B,
                                      double *W, ncmp_error *err)
{
    const size_t S = m->n_steps;
    for (size_t b = 0; b < B; b++) {
        double max_end = -INFINITY, min_start = INFINITY, sum = 0;
        for (size_t k = 0; k < S; k++) {
            double o0 = fmax(bs[b], m->start[k]), o1 = fmin(be[b], m->end[k]);
            W[b * S + k] = fmax(o1 - o0, 0) / (m->end[k] - m->start[k]); /* the part of step k inside bin b */
            max_end = fmax(max_end, o1);
            min_start = fmin(min_start, o0);
        }
        /* Brain-Score: a bin not covered up to its end, or from its start, gets no weight */
        if (max_end < be[b] || min_start > bs[b])
            for (size_t k = 0; k < S; k++)
                W[b * S + k] = 0;
        for (size_t k = 0; k < S; k++)
            sum += W[b * S + k];
        if (!(sum > 0))
            return ncmp_fail(err, NCMP_ERR_VALUE,
                             "--map '%s' does not cover the time bin %g-%g ms from its start to its end (the map spans "
                             "%g-%g ms); choose --bins inside it or extend the map",
                             m->text, bs[b], be[b], m->start[0], m->end[S - 1]);
        for (size_t k = 0; k < S; k++)
            W[b * S + k] /= sum;
    }
    return NCMP_OK;
}

/* A bin's score from test predictions (rows in the order of splits->test) against its responses Yb. */
static void score_bin(const double *pred, const ncmp_splits *sp, const double *Yb, size_t q, double *buf_x,
                      double *buf_y, ncmp_score *out)
{
    const size_t K = sp->n_splits;
    for (size_t s = 0; s < K; s++) {
        const size_t m = sp->test_offset[s + 1] - sp->test_offset[s];
        const double *P = pred + sp->test_offset[s] * q;
        for (size_t k = 0; k < q; k++) {
            for (size_t i = 0; i < m; i++) {
                buf_x[i] = P[i * q + k];
                buf_y[i] = Yb[sp->test[sp->test_offset[s] + i] * q + k];
            }
            out->per_neuroid[s * q + k] = ncmp_pearson(buf_x, 1, buf_y, 1, m);
        }
    }
    ncmp_score_aggregate(out->per_neuroid, K, q, out->split_median, &out->raw, &out->error);
}

static void free_scores(ncmp_score **out, size_t B)
{
    for (size_t b = 0; b < B; b++) {
        ncmp_score_free(out[b]);
        out[b] = NULL;
    }
}

ncmp_status ncmp_temporal_span_scores(const double *data, bool kernel, size_t n, size_t p, const double *const *Y,
                                      size_t B, size_t q, const ncmp_splits *splits, const ncmp_pls_options *pls,
                                      ncmp_score **out, ncmp_error *err)
{
    for (size_t b = 0; b < B; b++)
        out[b] = NULL;
    size_t bytes;
    ncmp_status st = ncmp_size_2d("span regression", "the bin-averaged responses", n, q, sizeof(double), &bytes, err);
    if (st)
        return st;
    double *mean = calloc(bytes ? bytes / sizeof(double) : 1, sizeof *mean), *bx = malloc((n + 1) * sizeof *bx),
           *by = malloc((n + 1) * sizeof *by);
    ncmp_score *fit = NULL;
    if (!mean || !bx || !by) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t b = 0; b < B; b++)
        for (size_t i = 0; i < n * q; i++)
            mean[i] += Y[b][i];
    for (size_t i = 0; i < n * q; i++)
        mean[i] /= (double)B;
    /* stacked samples with the same features: PLS on the bin-averaged responses (see the header) */
    st = kernel ? ncmp_score_pls_gram(data, n, p, mean, q, splits, pls, &fit, err)
                : ncmp_score_pls(data, n, p, mean, q, splits, pls, &fit, err);
    for (size_t b = 0; !st && b < B; b++) {
        if (!(out[b] = ncmp_score_new(splits, n, q, fit->min_components_used))) {
            st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
            break;
        }
        score_bin(fit->predictions, splits, Y[b], q, bx, by, out[b]);
        memcpy(out[b]->predictions, fit->predictions, splits->test_offset[splits->n_splits] * q * sizeof(double));
    }
done:
    if (st)
        free_scores(out, B);
    ncmp_score_free(fit);
    free(mean);
    free(bx);
    free(by);
    return st;
}

/* The Gram matrix of the aligned features of every (bin, stimulus) sample:
 * G[(b,i),(c,j)] = sum_k sum_l W[b][k] W[c][l] C[(k,i),(l,j)], C the Gram matrix of (step, stimulus) samples. */
static void aligned_gram(const double *C, const double *W, size_t S, size_t B, size_t n, double *M, double *G)
{
    const size_t SN = S * n, BN = B * n;
    /* M[(b,i)][(l,j)] = sum_k W[b][k] C[(k,i)][(l,j)] */
    for (size_t b = 0; b < B; b++)
        for (size_t i = 0; i < n; i++) {
            double *row = M + (b * n + i) * SN;
            memset(row, 0, SN * sizeof *row);
            for (size_t k = 0; k < S; k++) {
                double w = W[b * S + k];
                if (w == 0)
                    continue;
                const double *c = C + (k * n + i) * SN;
                for (size_t x = 0; x < SN; x++)
                    row[x] += w * c[x];
            }
        }
    /* G[(b,i)][(c,j)] = sum_l W[c][l] M[(b,i)][(l,j)] */
    for (size_t r = 0; r < BN; r++) {
        const double *m = M + r * SN;
        double *g = G + r * BN;
        for (size_t c = 0; c < B; c++)
            for (size_t j = 0; j < n; j++) {
                double v = 0;
                for (size_t l = 0; l < S; l++)
                    v += W[c * S + l] * m[l * n + j];
                g[c * n + j] = v;
            }
    }
}

ncmp_status ncmp_temporal_aligned_scores(const ncmp_activations *acts, const char *layer, const size_t *it_index,
                                         size_t S, const double *W, size_t B, const size_t *rows, size_t n,
                                         const double *const *Y, size_t q, const ncmp_splits *splits, bool span,
                                         const ncmp_pls_options *pls, size_t block_bytes, ncmp_score **out,
                                         ncmp_error *err)
{
    for (size_t b = 0; b < B; b++)
        out[b] = NULL;
    size_t p;
    ncmp_status st = ncmp_activations_layer_features(acts, layer, &p, err);
    if (st)
        return st;
    const size_t SN = S * n, BN = B * n, K = splits->n_splits;
    size_t c_bytes, m_bytes, g_bytes;
    if ((st = ncmp_size_2d(acts->path, "the (iteration, stimulus) Gram matrix", SN, SN, sizeof(double), &c_bytes,
                           err)) ||
        (st = ncmp_size_2d(acts->path, "the aligned Gram matrix", BN, SN, sizeof(double), &m_bytes, err)) ||
        (st = ncmp_size_2d(acts->path, "the (bin, stimulus) Gram matrix", BN, BN, sizeof(double), &g_bytes, err)))
        return st;
    size_t *srows = malloc(SN * sizeof *srows), *sits = malloc(SN * sizeof *sits);
    double *C = malloc(c_bytes), *M = malloc(m_bytes), *G = malloc(g_bytes);
    double *Ktr = NULL, *Kte = NULL, *Ytr = NULL, *pred = NULL, *bx = malloc((BN + 1) * sizeof *bx),
           *by = malloc((BN + 1) * sizeof *by), *Gb = NULL;
    size_t *tr = NULL, *te = NULL;
    ncmp_pls_kernel *model = NULL;
    if (!srows || !sits || !C || !M || !G || !bx || !by) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory for the aligned Gram matrices (%.2f GB)",
                       (double)(c_bytes + m_bytes + g_bytes) * 1e-9);
        goto done;
    }
    for (size_t k = 0; k < S; k++)
        for (size_t i = 0; i < n; i++) {
            srows[k * n + i] = rows[i];
            sits[k * n + i] = it_index[k];
        }
    if ((st = ncmp_activations_gram_rows(acts, layer, sits, srows, SN, block_bytes, C, err)))
        goto done;
    aligned_gram(C, W, S, B, n, M, G);
    for (size_t b = 0; b < B; b++)
        if (!(out[b] = ncmp_score_new(splits, n, q, pls->n_components))) {
            st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
            goto done;
        }
    if (!span) {
        /* PerTimeRegression: bin b on its own, from the block (b, b) of G */
        if (!(Gb = malloc(n * n * sizeof *Gb))) {
            st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
            goto done;
        }
        for (size_t b = 0; b < B; b++) {
            for (size_t i = 0; i < n; i++)
                memcpy(Gb + i * n, G + (b * n + i) * BN + b * n, n * sizeof *Gb);
            ncmp_score *s = NULL;
            if ((st = ncmp_score_pls_gram(Gb, n, p, Y[b], q, splits, pls, &s, err)))
                goto done;
            ncmp_score_free(out[b]);
            out[b] = s;
        }
        goto done;
    }
    /* SpanTimeRegression: per split, one PLS on the stacked training samples of every bin */
    size_t max_tr = 0, max_te = 0;
    for (size_t s = 0; s < K; s++) {
        size_t a = ncmp_splits_n_train(splits, s), e = splits->test_offset[s + 1] - splits->test_offset[s];
        max_tr = a > max_tr ? a : max_tr;
        max_te = e > max_te ? e : max_te;
    }
    const size_t NT = max_tr * B, NE = max_te * B;
    size_t k_bytes;
    if ((st = ncmp_size_2d(acts->path, "the stacked training kernel", NT, NT + NE, sizeof(double), &k_bytes, err)))
        goto done;
    Ktr = malloc(NT * NT * sizeof *Ktr);
    Kte = malloc(NE * NT * sizeof *Kte);
    Ytr = malloc(NT * q * sizeof *Ytr);
    pred = malloc(NE * q * sizeof *pred);
    tr = malloc(NT * sizeof *tr);
    te = malloc(NE * sizeof *te);
    if (!Ktr || !Kte || !Ytr || !pred || !tr || !te) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory for the stacked kernels (%.2f GB)", (double)k_bytes * 1e-9);
        goto done;
    }
    for (size_t s = 0; s < K; s++) {
        const size_t ntr = ncmp_splits_n_train(splits, s), nte = splits->test_offset[s + 1] - splits->test_offset[s];
        const size_t *train = splits->train + splits->train_offset[s], *test = splits->test + splits->test_offset[s];
        for (size_t b = 0; b < B; b++) {
            for (size_t i = 0; i < ntr; i++) {
                tr[b * ntr + i] = b * n + train[i];
                memcpy(Ytr + (b * ntr + i) * q, Y[b] + train[i] * q, q * sizeof *Ytr);
            }
            for (size_t i = 0; i < nte; i++)
                te[b * nte + i] = b * n + test[i];
        }
        ncmp_pls_kernel_center(G, BN, tr, ntr * B, te, nte * B, Ktr, Kte);
        if ((st = ncmp_pls_kernel_fit(Ktr, ntr * B, p, Ytr, q, pls, &model, err)) ||
            (st = ncmp_pls_kernel_predict(model, Kte, nte * B, pred, err))) {
            ncmp_error_context(err, "split %zu", s);
            goto done;
        }
        for (size_t b = 0; b < B; b++) {
            ncmp_score *o = out[b];
            if (model->n_components_used < o->min_components_used)
                o->min_components_used = model->n_components_used;
            memcpy(o->predictions + splits->test_offset[s] * q, pred + b * nte * q, nte * q * sizeof *pred);
            for (size_t k = 0; k < q; k++) {
                for (size_t i = 0; i < nte; i++) {
                    bx[i] = pred[(b * nte + i) * q + k];
                    by[i] = Y[b][test[i] * q + k];
                }
                o->per_neuroid[s * q + k] = ncmp_pearson(bx, 1, by, 1, nte);
            }
        }
        ncmp_pls_kernel_free(model);
        model = NULL;
    }
    for (size_t b = 0; b < B; b++)
        ncmp_score_aggregate(out[b]->per_neuroid, K, q, out[b]->split_median, &out[b]->raw, &out[b]->error);
done:
    if (st)
        free_scores(out, B);
    ncmp_pls_kernel_free(model);
    free(srows);
    free(sits);
    free(C);
    free(M);
    free(G);
    free(Gb);
    free(Ktr);
    free(Kte);
    free(Ytr);
    free(pred);
    free(tr);
    free(te);
    free(bx);
    free(by);
    return st;
}

double ncmp_temporal_best_monotone_path(const double *S, size_t T, size_t B, size_t *path)
{
    if (!T || !B)
        return NAN;
    double *best = malloc(T * B * sizeof *best);
    size_t *from = malloc(T * B * sizeof *from);
    double result = NAN;
    if (!best || !from)
        goto done;
    /* best[b][t]: the largest sum over bins 0..b of a non-decreasing path ending at iteration t in bin b */
    for (size_t b = 0; b < B; b++)
        for (size_t t = 0; t < T; t++) {
            double v = S[t * B + b], prev = 0;
            size_t arg = t;
            if (b) {
                prev = -INFINITY;
                for (size_t u = 0; u <= t; u++)
                    if (best[(b - 1) * T + u] > prev) {
                        prev = best[(b - 1) * T + u];
                        arg = u;
                    }
            }
            best[b * T + t] = isnan(v) ? -INFINITY : prev + v;
            from[b * T + t] = arg;
        }
    size_t t = 0;
    for (size_t u = 1; u < T; u++)
        if (best[(B - 1) * T + u] > best[(B - 1) * T + t])
            t = u;
    if (!isfinite(best[(B - 1) * T + t]))
        goto done;
    result = best[(B - 1) * T + t] / (double)B;
    for (size_t b = B; b-- > 0;) {
        path[b] = t;
        t = from[b * T + t];
    }
done:
    free(best);
    free(from);
    return result;
}
