/* Scoring shared by MPI ranks: the Gram matrix by feature columns, the splits by rank (docs/scale-out.md). */
#include "results/score_ranks.h"

#include "core/dist.h"
#include "core/log.h"
#include "core/sizes.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Tags of the gather's messages (core/dist.c uses 71xx). */
enum { TAG_HEADER = 7201, TAG_BODY = 7202 };
/* ncmp_dist_send takes int-sized messages: larger ones go in pieces. */
#define PIECE_BYTES ((size_t)1 << 28)

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

ncmp_status ncmp_gram_over_ranks(ncmp_status st, const ncmp_activations *a, const char *layer, size_t it,
                                 const size_t *rows, size_t n, size_t block_bytes, double *G, ncmp_error *err)
{
    if (!ncmp_dist_parallel())
        return st ? st : ncmp_activations_gram(a, layer, it, rows, n, block_bytes, G, err);
    size_t p = 0, lo = 0, hi = 0;
    double t0 = now_seconds(), t1 = t0, t2 = t0;
    if (!st && !(st = ncmp_activations_layer_features(a, layer, &p, err))) {
        ncmp_dist_partition(p, ncmp_dist_size(), ncmp_dist_rank(), &lo, &hi);
        st = ncmp_activations_gram_features(a, layer, it, rows, n, lo, hi, block_bytes, G, err);
    }
    t1 = now_seconds();
    if ((st = ncmp_dist_agree(st, err)))
        return st;
    t2 = now_seconds();
    /* The matrix is symmetric: sum the upper triangle only (half the bytes), packed in place row by row.  Packed
     * row i starts at i n - i (i - 1) / 2 <= i n + i, so moving rows in order never overwrites one not yet moved. */
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        memmove(G + off, G + i * n + i, (n - i) * sizeof *G);
        off += n - i;
    }
    if ((st = ncmp_dist_sum_ordered(G, off, err)))
        return st;
    for (size_t i = n; i-- > 0;) { /* back in place, last row first (the reverse argument) */
        off -= n - i;
        memmove(G + i * n + i, G + off, (n - i) * sizeof *G);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            G[j * n + i] = G[i * n + j];
    ncmp_log_debug("Gram matrix of %s, %zu x %zu: features %zu..%zu read and multiplied in %.3f s, waited %.3f s for "
                   "the other ranks, summed (%zu doubles) in %.3f s",
                   layer, n, n, lo, hi, t1 - t0, t2 - t1, n * (n + 1) / 2, now_seconds() - t2);
    return NCMP_OK;
}

void ncmp_tasks_assign(const double *cost, size_t n, int n_ranks, int *owner)
{
    if (n_ranks < 1)
        n_ranks = 1;
    double *load = calloc((size_t)n_ranks, sizeof *load);
    bool *given = calloc(n ? n : 1, sizeof *given);
    for (size_t k = 0; k < n; k++)
        owner[k] = -1;
    /* O(n^2 + n P) selection instead of a sort: tables have at most a few thousand cells. */
    for (size_t done = 0; load && given && done < n; done++) {
        size_t best = n;
        for (size_t k = 0; k < n; k++)
            if (!given[k] && cost[k] > 0 && (best == n || cost[k] > cost[best]))
                best = k;
        if (best == n)
            break;
        given[best] = true;
        int r = 0;
        for (int j = 1; j < n_ranks; j++)
            if (load[j] < load[r])
                r = j;
        owner[best] = r;
        load[r] += cost[best];
    }
    if (!load || !given) /* a few bytes short: round robin, still deterministic */
        for (size_t k = 0; k < n; k++)
            owner[k] = cost[k] > 0 ? (int)(k % (size_t)n_ranks) : -1;
    free(load);
    free(given);
}

ncmp_status ncmp_splits_range(const ncmp_splits *all, size_t first, size_t end, ncmp_splits **out, ncmp_error *err)
{
    *out = NULL;
    if (first > end || end > all->n_splits)
        return ncmp_fail(err, NCMP_ERR_USAGE, "splits %zu..%zu of %zu", first, end, all->n_splits);
    size_t k = end - first, tr0 = all->train_offset[first], te0 = all->test_offset[first];
    size_t ntr = all->train_offset[end] - tr0, nte = all->test_offset[end] - te0;
    ncmp_splits *s = calloc(1, sizeof *s);
    if (!s)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    s->n_samples = all->n_samples;
    s->n_splits = k;
    s->seed = all->seed;
    s->train = malloc((ntr ? ntr : 1) * sizeof *s->train);
    s->test = malloc((nte ? nte : 1) * sizeof *s->test);
    s->train_offset = malloc((k + 1) * sizeof *s->train_offset);
    s->test_offset = malloc((k + 1) * sizeof *s->test_offset);
    s->description = all->description ? strdup(all->description) : NULL;
    if (!s->train || !s->test || !s->train_offset || !s->test_offset || (all->description && !s->description)) {
        ncmp_splits_free(s);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    }
    memcpy(s->train, all->train + tr0, ntr * sizeof *s->train);
    memcpy(s->test, all->test + te0, nte * sizeof *s->test);
    for (size_t i = 0; i <= k; i++) {
        s->train_offset[i] = all->train_offset[first + i] - tr0;
        s->test_offset[i] = all->test_offset[first + i] - te0;
    }
    *out = s;
    return NCMP_OK;
}

void ncmp_split_share(size_t offset, size_t n_splits, size_t total, int rank, int n_ranks, size_t *first, size_t *end)
{
    size_t lo, hi, a = offset, b = offset + n_splits;
    ncmp_dist_partition(total, n_ranks, rank, &lo, &hi);
    lo = lo > a ? lo : a;
    hi = hi < b ? hi : b;
    *first = lo < hi ? lo - a : 0;
    *end = lo < hi ? hi - a : 0;
}

static ncmp_status send_all(const double *buf, size_t count, ncmp_error *err)
{
    const size_t piece = PIECE_BYTES / sizeof *buf;
    ncmp_status st = NCMP_OK;
    for (size_t off = 0; off < count && !st; off += piece)
        st = ncmp_dist_send(0, TAG_BODY, buf + off, (count - off < piece ? count - off : piece) * sizeof *buf, err);
    return st;
}

static ncmp_status recv_all(int source, double *buf, size_t count, ncmp_error *err)
{
    const size_t piece = PIECE_BYTES / sizeof *buf;
    ncmp_status st = NCMP_OK;
    for (size_t off = 0; off < count && !st; off += piece)
        st =
            ncmp_dist_recv(source, TAG_BODY, buf + off, (count - off < piece ? count - off : piece) * sizeof *buf, err);
    return st;
}

/* A part's values in message order: per_neuroid [k][q], then alpha [k][q], then predictions [test rows][q]. */
static size_t body_count(const ncmp_splits *all, size_t first, size_t end, size_t q, bool alpha, bool predictions)
{
    size_t k = end - first, rows = all->test_offset[end] - all->test_offset[first];
    return k * q * (alpha ? 2 : 1) + (predictions ? rows * q : 0);
}

/* A part's values as a message body; the part's own splits start at 0. */
static void pack(const ncmp_score *s, const ncmp_splits *all, size_t first, size_t end, size_t q, bool alpha,
                 bool predictions, double *body)
{
    size_t k = end - first, rows = all->test_offset[end] - all->test_offset[first];
    memcpy(body, s->per_neuroid, k * q * sizeof *body);
    if (alpha)
        memcpy(body + k * q, s->alpha, k * q * sizeof *body);
    if (predictions)
        memcpy(body + k * q * (alpha ? 2 : 1), s->predictions, rows * q * sizeof *body);
}

/* Rank 0: put the values of splits [first, end) (body as above) into the whole score. */
static void place(ncmp_score *full, const ncmp_splits *all, size_t first, size_t end, size_t q, bool alpha,
                  bool predictions, const double *body)
{
    size_t k = end - first, rows = all->test_offset[end] - all->test_offset[first];
    memcpy(full->per_neuroid + first * q, body, k * q * sizeof *body);
    body += k * q;
    if (alpha) {
        memcpy(full->alpha + first * q, body, k * q * sizeof *body);
        body += k * q;
    }
    if (predictions)
        memcpy(full->predictions + all->test_offset[first] * q, body, rows * q * sizeof *body);
}

ncmp_status ncmp_score_gather(ncmp_status st, ncmp_score **part, const ncmp_splits *all, const size_t *first,
                              const size_t *end, size_t n, size_t q, ncmp_error *err)
{
    if (!ncmp_dist_parallel())
        return st;
    if ((st = ncmp_dist_agree(st, err)))
        return st;
    const int rank = ncmp_dist_rank(), P = ncmp_dist_size();
    double *body = NULL;
    if (rank != 0) {
        const ncmp_score *s = *part;
        if (end[rank] > first[rank]) {
            bool alpha = s->alpha != NULL, predictions = s->predictions != NULL;
            double header[3] = {alpha, predictions, s->min_components_used};
            size_t count = body_count(all, first[rank], end[rank], q, alpha, predictions);
            if (!(body = malloc(count * sizeof *body)))
                st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory for a score's %zu values", count);
            else {
                pack(s, all, first[rank], end[rank], q, alpha, predictions, body);
                if (!(st = ncmp_dist_send(0, TAG_HEADER, header, sizeof header, err)))
                    st = send_all(body, count, err);
            }
        }
        free(body);
        ncmp_score_free(*part);
        *part = NULL;
        return st;
    }
    ncmp_score *full = NULL;
    const size_t K = all->n_splits;
    for (int r = 0; r < P && !st; r++) {
        if (end[r] <= first[r])
            continue;
        double header[3];
        if (r == 0) {
            const ncmp_score *s = *part;
            header[0] = s->alpha != NULL;
            header[1] = s->predictions != NULL;
            header[2] = s->min_components_used;
        } else if ((st = ncmp_dist_recv(r, TAG_HEADER, header, sizeof header, err)))
            break;
        bool alpha = header[0] != 0, predictions = header[1] != 0;
        size_t count = body_count(all, first[r], end[r], q, alpha, predictions);
        free(body);
        if (!(body = malloc((count ? count : 1) * sizeof *body))) {
            st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory for a score's %zu values", count);
            break;
        }
        if (r == 0)
            pack(*part, all, first[0], end[0], q, alpha, predictions, body);
        else if ((st = recv_all(r, body, count, err)))
            break;
        if (!full) {
            full = ncmp_score_new(all, n, q, (int)header[2]);
            if (full && !predictions) {
                free(full->predictions);
                full->predictions = NULL;
            }
            if (full && alpha && !(full->alpha = malloc(K * q * sizeof *full->alpha))) {
                ncmp_score_free(full);
                full = NULL;
            }
            if (!full) {
                st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory for a score of %zu splits x %zu neuroids", K, q);
                break;
            }
        }
        if ((int)header[2] < full->min_components_used)
            full->min_components_used = (int)header[2];
        place(full, all, first[r], end[r], q, alpha && full->alpha, predictions && full->predictions, body);
    }
    free(body);
    if (!st && !full)
        st = ncmp_fail(err, NCMP_ERR_INTERNAL, "no rank scored any of the %zu splits", K);
    if (st) {
        ncmp_score_free(full);
        return st;
    }
    ncmp_score_aggregate(full->per_neuroid, K, q, full->split_median, &full->raw, &full->error);
    ncmp_score_free(*part);
    *part = full;
    return NCMP_OK;
}
