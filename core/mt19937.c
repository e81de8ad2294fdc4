/* NumPy's legacy MT19937 stream and permutation (Matsumoto & Nishimura 1998; numpy/random legacy code). */
#include "core/mt19937.h"

#include <math.h>
#include <stdlib.h>

#define MT_M       397
#define MATRIX_A   0x9908b0dfU
#define UPPER_MASK 0x80000000U
#define LOWER_MASK 0x7fffffffU

void ncmp_mt19937_seed(ncmp_mt19937 *mt, uint32_t seed)
{
    mt->key[0] = seed;
    for (int i = 1; i < NCMP_MT19937_N; i++)
        mt->key[i] = 1812433253U * (mt->key[i - 1] ^ (mt->key[i - 1] >> 30)) + (uint32_t)i;
    mt->pos = NCMP_MT19937_N;
}

static void mt_generate(ncmp_mt19937 *mt)
{
    uint32_t y;
    int i;
    for (i = 0; i < NCMP_MT19937_N - MT_M; i++) {
        y = (mt->key[i] & UPPER_MASK) | (mt->key[i + 1] & LOWER_MASK);
        mt->key[i] = mt->key[i + MT_M] ^ (y >> 1) ^ (-(y & 1U) & MATRIX_A);
    }
    for (; i < NCMP_MT19937_N - 1; i++) {
        y = (mt->key[i] & UPPER_MASK) | (mt->key[i + 1] & LOWER_MASK);
        mt->key[i] = mt->key[i + (MT_M - NCMP_MT19937_N)] ^ (y >> 1) ^ (-(y & 1U) & MATRIX_A);
    }
    y = (mt->key[NCMP_MT19937_N - 1] & UPPER_MASK) | (mt->key[0] & LOWER_MASK);
    mt->key[NCMP_MT19937_N - 1] = mt->key[MT_M - 1] ^ (y >> 1) ^ (-(y & 1U) & MATRIX_A);
    mt->pos = 0;
}

uint32_t ncmp_mt19937_next_u32(ncmp_mt19937 *mt)
{
    if (mt->pos >= NCMP_MT19937_N)
        mt_generate(mt);
    uint32_t y = mt->key[mt->pos++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680U;
    y ^= (y << 15) & 0xefc60000U;
    y ^= y >> 18;
    return y;
}

double ncmp_mt19937_uniform(ncmp_mt19937 *mt)
{
    uint32_t a = ncmp_mt19937_next_u32(mt) >> 5, b = ncmp_mt19937_next_u32(mt) >> 6;
    return (a * 67108864.0 + b) / 9007199254740992.0;
}

uint64_t ncmp_mt19937_interval(ncmp_mt19937 *mt, uint64_t max)
{
    if (max == 0)
        return 0;
    uint64_t mask = max, value;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    mask |= mask >> 16;
    mask |= mask >> 32;
    if (max <= 0xffffffffULL) {
        while ((value = (ncmp_mt19937_next_u32(mt) & mask)) > max)
            ;
    } else {
        /* NumPy's legacy next_uint64: high word first. */
        do {
            uint64_t hi = ncmp_mt19937_next_u32(mt), lo = ncmp_mt19937_next_u32(mt);
            value = ((hi << 32) | lo) & mask;
        } while (value > max);
    }
    return value;
}

void ncmp_mt19937_permutation(ncmp_mt19937 *mt, size_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = i;
    for (size_t i = n; i-- > 1;) {
        size_t j = (size_t)ncmp_mt19937_interval(mt, i);
        size_t t = out[i];
        out[i] = out[j];
        out[j] = t;
    }
}

void ncmp_mt19937_randint(ncmp_mt19937 *mt, size_t high, size_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = high > 1 ? (size_t)ncmp_mt19937_interval(mt, (uint64_t)high - 1) : 0;
}

ncmp_status ncmp_shuffle_split_sizes(size_t n, double train_fraction, size_t *n_train, size_t *n_test, ncmp_error *err)
{
    if (!(train_fraction > 0 && train_fraction < 1))
        return ncmp_fail(err, NCMP_ERR_USAGE, "shuffle split: train fraction %g is not in (0, 1)", train_fraction);
    size_t tr = (size_t)floor(train_fraction * (double)n);
    if (tr == 0 || tr >= n)
        return ncmp_fail(err, NCMP_ERR_VALUE,
                         "shuffle split of %zu samples with train fraction %g leaves an empty train or test set "
                         "(%zu train, %zu test)",
                         n, train_fraction, tr, n - (tr < n ? tr : n));
    *n_train = tr;
    *n_test = n - tr;
    return NCMP_OK;
}

ncmp_status ncmp_shuffle_split(size_t n, double train_fraction, int n_splits, uint32_t seed, size_t *train,
                               size_t *test, ncmp_error *err)
{
    size_t n_train, n_test;
    ncmp_status st = ncmp_shuffle_split_sizes(n, train_fraction, &n_train, &n_test, err);
    if (st)
        return st;
    size_t *perm = malloc(n * sizeof *perm);
    if (!perm)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "shuffle split: out of memory for %zu samples", n);
    ncmp_mt19937 mt;
    ncmp_mt19937_seed(&mt, seed);
    for (int s = 0; s < n_splits; s++) {
        ncmp_mt19937_permutation(&mt, perm, n);
        for (size_t k = 0; k < n_test; k++)
            test[(size_t)s * n_test + k] = perm[k];
        for (size_t k = 0; k < n_train; k++)
            train[(size_t)s * n_train + k] = perm[n_test + k];
    }
    free(perm);
    return NCMP_OK;
}
