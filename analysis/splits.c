/* scikit-learn 1.2 ShuffleSplit / StratifiedShuffleSplit (model_selection/_split.py, _approximate_mode in
 * utils/__init__.py), bit for bit. */
#include "analysis/splits.h"

#include "core/mt19937.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void ncmp_splits_free(ncmp_splits *s)
{
    if (!s)
        return;
    free(s->train);
    free(s->train_offset);
    free(s->test);
    free(s->test_offset);
    free(s->description);
    free(s);
}

static ncmp_status splits_alloc(size_t n, size_t k, size_t total_train, size_t total_test, ncmp_splits **out,
                                ncmp_error *err)
{
    ncmp_splits *s = calloc(1, sizeof *s);
    if (s) {
        s->n_samples = n;
        s->n_splits = k;
        s->train = malloc((total_train ? total_train : 1) * sizeof(size_t));
        s->test = malloc((total_test ? total_test : 1) * sizeof(size_t));
        s->train_offset = calloc(k + 1, sizeof(size_t));
        s->test_offset = calloc(k + 1, sizeof(size_t));
    }
    if (!s || !s->train || !s->test || !s->train_offset || !s->test_offset) {
        ncmp_splits_free(s);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "splits: out of memory for %zu splits of %zu samples", k, n);
    }
    *out = s;
    return NCMP_OK;
}

static char *format_description(const char *kind, int n_splits, double f, uint32_t seed)
{
    char buf[160];
    snprintf(buf, sizeof buf, "%d x %s(train_size=%g, random_state=%u)", n_splits, kind, f, (unsigned)seed);
    return strdup(buf);
}

ncmp_status ncmp_splits_shuffle(size_t n, double train_fraction, int n_splits, uint32_t seed, ncmp_splits **out,
                                ncmp_error *err)
{
    *out = NULL;
    if (n_splits < 1)
        return ncmp_fail(err, NCMP_ERR_USAGE, "splits: %d splits requested; need at least 1", n_splits);
    size_t n_train, n_test;
    ncmp_status st = ncmp_shuffle_split_sizes(n, train_fraction, &n_train, &n_test, err);
    if (st)
        return st;
    size_t k = (size_t)n_splits;
    ncmp_splits *s;
    if ((st = splits_alloc(n, k, k * n_train, k * n_test, &s, err)))
        return st;
    if ((st = ncmp_shuffle_split(n, train_fraction, n_splits, seed, s->train, s->test, err))) {
        ncmp_splits_free(s);
        return st;
    }
    for (size_t i = 0; i <= k; i++) {
        s->train_offset[i] = i * n_train;
        s->test_offset[i] = i * n_test;
    }
    s->seed = seed;
    s->description = format_description("ShuffleSplit", n_splits, train_fraction, seed);
    *out = s;
    return NCMP_OK;
}

static int cmp_double_desc(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a > b ? -1 : a < b;
}

/* _approximate_mode(class_counts, n_draws, rng): floor the proportional
 * allocation, then hand out the remaining draws by decreasing remainder;
 * ties are broken by rng.choice(inds, add_now, replace=False), which in
 * the legacy RandomState is permutation(len(inds))[:add_now]. */
static void approximate_mode(const size_t *counts, size_t n_classes, size_t n_draws, ncmp_mt19937 *mt, size_t *drawn,
                             double *continuous, double *remainder, double *values, size_t *inds, size_t *perm)
{
    size_t total = 0;
    for (size_t c = 0; c < n_classes; c++)
        total += counts[c];
    double floored_sum = 0;
    for (size_t c = 0; c < n_classes; c++) {
        continuous[c] = (double)counts[c] / (double)total * (double)n_draws;
        double fl = floor(continuous[c]);
        drawn[c] = (size_t)fl;
        remainder[c] = continuous[c] - fl;
        floored_sum += fl;
    }
    long need = (long)((double)n_draws - floored_sum);
    if (need <= 0)
        return;
    memcpy(values, remainder, n_classes * sizeof *values);
    qsort(values, n_classes, sizeof *values, cmp_double_desc);
    for (size_t v = 0; v < n_classes && need > 0; v++) {
        if (v && values[v] == values[v - 1])
            continue; /* np.unique */
        size_t m = 0;
        for (size_t c = 0; c < n_classes; c++)
            if (remainder[c] == values[v])
                inds[m++] = c;
        size_t add_now = m < (size_t)need ? m : (size_t)need;
        ncmp_mt19937_permutation(mt, perm, m);
        for (size_t i = 0; i < add_now; i++)
            drawn[inds[perm[i]]] += 1;
        need -= (long)add_now;
    }
}

static const char *const *label_keys;
static int cmp_by_label(const void *x, const void *y)
{
    size_t i = *(const size_t *)x, j = *(const size_t *)y;
    int c = strcmp(label_keys[i], label_keys[j]);
    return c ? c : (i < j ? -1 : i > j); /* stable, as mergesort of the inverse indices */
}

ncmp_status ncmp_splits_stratified(const char *const *labels, size_t n, double train_fraction, int n_splits,
                                   uint32_t seed, ncmp_splits **out, ncmp_error *err)
{
    *out = NULL;
    if (n_splits < 1)
        return ncmp_fail(err, NCMP_ERR_USAGE, "splits: %d splits requested; need at least 1", n_splits);
    for (size_t i = 0; i < n; i++)
        if (!labels[i])
            return ncmp_fail(err, NCMP_ERR_VALUE, "stratified split: label %zu is missing", i);
    size_t n_train, n_test;
    ncmp_status st = ncmp_shuffle_split_sizes(n, train_fraction, &n_train, &n_test, err);
    if (st)
        return st;
    /* Samples grouped by class (classes in sorted order, samples ascending within a class). */
    size_t *order = malloc(n * sizeof *order), *counts = calloc(n, sizeof *counts);
    size_t *n_i = malloc(n * sizeof *n_i), *t_i = malloc(n * sizeof *t_i), *remaining = malloc(n * sizeof *remaining);
    size_t *inds = malloc(n * sizeof *inds), *perm = malloc(n * sizeof *perm), *start = malloc(n * sizeof *start);
    double *dwork = malloc(3 * n * sizeof *dwork);
    size_t *tmp = malloc(n * sizeof *tmp);
    ncmp_splits *s = NULL;
    if (!order || !counts || !n_i || !t_i || !remaining || !inds || !perm || !start || !dwork || !tmp) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "stratified split: out of memory for %zu samples", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    label_keys = labels;
    qsort(order, n, sizeof *order, cmp_by_label);
    label_keys = NULL;
    size_t n_classes = 0;
    for (size_t i = 0; i < n; i++) {
        if (!i || strcmp(labels[order[i]], labels[order[i - 1]])) {
            start[n_classes] = i;
            n_classes++;
        }
        counts[n_classes - 1]++;
    }
    for (size_t c = 0; c < n_classes; c++)
        if (counts[c] < 2) {
            st = ncmp_fail(err, NCMP_ERR_VALUE,
                           "stratified split: class '%s' has only 1 member; every class needs at least 2",
                           labels[order[start[c]]]);
            goto done;
        }
    if (n_train < n_classes || n_test < n_classes) {
        st = ncmp_fail(err, NCMP_ERR_VALUE,
                       "stratified split: %zu train and %zu test samples, but %zu classes; each set needs at least "
                       "one sample per class",
                       n_train, n_test, n_classes);
        goto done;
    }
    size_t k = (size_t)n_splits;
    if ((st = splits_alloc(n, k, k * n_train, k * n_test, &s, err)))
        goto done;
    ncmp_mt19937 mt;
    ncmp_mt19937_seed(&mt, seed);
    for (size_t sp = 0; sp < k; sp++) {
        approximate_mode(counts, n_classes, n_train, &mt, n_i, dwork, dwork + n, dwork + 2 * n, inds, perm);
        for (size_t c = 0; c < n_classes; c++)
            remaining[c] = counts[c] - n_i[c];
        approximate_mode(remaining, n_classes, n_test, &mt, t_i, dwork, dwork + n, dwork + 2 * n, inds, perm);
        size_t *tr = s->train + sp * n_train, *te = s->test + sp * n_test;
        size_t ntr = 0, nte = 0;
        for (size_t c = 0; c < n_classes; c++) {
            ncmp_mt19937_permutation(&mt, perm, counts[c]);
            const size_t *members = order + start[c];
            for (size_t i = 0; i < n_i[c]; i++)
                tr[ntr++] = members[perm[i]];
            for (size_t i = n_i[c]; i < n_i[c] + t_i[c]; i++)
                te[nte++] = members[perm[i]];
        }
        if (ntr != n_train || nte != n_test) {
            st = ncmp_fail(err, NCMP_ERR_INTERNAL, "stratified split: drew %zu/%zu samples, expected %zu/%zu", ntr, nte,
                           n_train, n_test);
            goto done;
        }
        /* rng.permutation(train) shuffles a copy with the same swaps as permutation(len). */
        ncmp_mt19937_permutation(&mt, perm, n_train);
        for (size_t i = 0; i < n_train; i++)
            tmp[i] = tr[perm[i]];
        memcpy(tr, tmp, n_train * sizeof *tr);
        ncmp_mt19937_permutation(&mt, perm, n_test);
        for (size_t i = 0; i < n_test; i++)
            tmp[i] = te[perm[i]];
        memcpy(te, tmp, n_test * sizeof *te);
    }
    for (size_t i = 0; i <= k; i++) {
        s->train_offset[i] = i * n_train;
        s->test_offset[i] = i * n_test;
    }
    s->seed = seed;
    s->description = format_description("StratifiedShuffleSplit", n_splits, train_fraction, seed);
done:
    free(order);
    free(counts);
    free(n_i);
    free(t_i);
    free(remaining);
    free(inds);
    free(perm);
    free(start);
    free(dwork);
    free(tmp);
    if (st) {
        ncmp_splits_free(s);
        return st;
    }
    *out = s;
    return NCMP_OK;
}

ncmp_status ncmp_splits_validate(const ncmp_splits *s, ncmp_error *err)
{
    unsigned char *mark = calloc(s->n_samples ? s->n_samples : 1, 1);
    if (!mark)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    ncmp_status st = NCMP_OK;
    for (size_t sp = 0; sp < s->n_splits && !st; sp++) {
        memset(mark, 0, s->n_samples);
        if (!ncmp_splits_n_train(s, sp) || !ncmp_splits_n_test(s, sp)) {
            st = ncmp_fail(err, NCMP_ERR_VALUE, "split %zu has %zu train and %zu test samples; neither may be empty",
                           sp, ncmp_splits_n_train(s, sp), ncmp_splits_n_test(s, sp));
            break;
        }
        for (int set = 0; set < 2 && !st; set++) {
            const size_t *idx = set ? s->test : s->train;
            const size_t *off = set ? s->test_offset : s->train_offset;
            for (size_t i = off[sp]; i < off[sp + 1]; i++) {
                if (idx[i] >= s->n_samples) {
                    st = ncmp_fail(err, NCMP_ERR_VALUE, "split %zu: %s index %zu is out of range for %zu samples", sp,
                                   set ? "test" : "train", idx[i], s->n_samples);
                    break;
                }
                if (mark[idx[i]]) {
                    st = ncmp_fail(err, NCMP_ERR_VALUE, "split %zu: sample %zu appears twice (%s)", sp, idx[i],
                                   set ? "in test, or in both train and test" : "in train");
                    break;
                }
                mark[idx[i]] = 1;
            }
        }
    }
    free(mark);
    return st;
}
