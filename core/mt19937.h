/* NumPy's legacy random stream: MT19937 seeded like RandomState(seed), and
 * RandomState.permutation, bit for bit.
 *
 * scikit-learn's ShuffleSplit and StratifiedShuffleSplit draw their splits
 * from numpy.random.RandomState(random_state); reproducing Brain-Score's
 * splits (docs/neural.md) therefore needs this exact generator, not
 * neurocmp's own ncmp_rng.  References: Matsumoto & Nishimura (1998),
 * mt19937ar.c (init_genrand, genrand_int32); numpy/random/src/legacy and
 * distributions.c (random_interval: masked rejection sampling); the legacy
 * shuffle draws j = interval(i) for i = n-1 … 1 and swaps x[i], x[j].
 * Tests compare with NumPy 1.24 and scikit-learn 1.2 (tests/gen_neural_fixtures.py).
 * The struct is plain data; one per thread.
 */
#ifndef NCMP_CORE_MT19937_H
#define NCMP_CORE_MT19937_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

#define NCMP_MT19937_N 624

typedef struct ncmp_mt19937 {
    uint32_t key[NCMP_MT19937_N];
    int pos;
} ncmp_mt19937;

/* As numpy.random.RandomState(seed) for an integer seed in [0, 2^32). */
void ncmp_mt19937_seed(ncmp_mt19937 *mt, uint32_t seed);
/* Next 32-bit output (genrand_int32). */
uint32_t ncmp_mt19937_next_u32(ncmp_mt19937 *mt);
/* As RandomState.random_sample(): 53-bit double in [0, 1). */
double ncmp_mt19937_uniform(ncmp_mt19937 *mt);
/* Uniform integer in [0, max] by NumPy's legacy masked rejection (rk_interval). */
uint64_t ncmp_mt19937_interval(ncmp_mt19937 *mt, uint64_t max);
/* As RandomState.permutation(n): out[0..n-1] filled with a shuffled 0..n-1. */
void ncmp_mt19937_permutation(ncmp_mt19937 *mt, size_t *out, size_t n);
/* As RandomState.randint(0, high, size=n) (default int64 dtype, legacy masked
 * rejection on 32-bit outputs): out[i] = interval(high - 1); high >= 1, and
 * high = 1 draws nothing from the stream, as NumPy. */
void ncmp_mt19937_randint(ncmp_mt19937 *mt, size_t high, size_t *out, size_t n);

/* scikit-learn 1.2 ShuffleSplit(n_splits, train_size=train_fraction,
 * test_size=None, random_state=seed) over n samples: n_train =
 * floor(train_fraction * n), n_test = n - n_train; per split
 * perm = permutation(n), test = perm[:n_test], train = perm[n_test:].
 * train[s * n_train + k] and test[s * n_test + k] (caller-allocated, sizes
 * from ncmp_shuffle_split_sizes).  Fails (NCMP_ERR_VALUE) when either set would
 * be empty, with the numbers in the message. */
ncmp_status ncmp_shuffle_split_sizes(size_t n, double train_fraction, size_t *n_train, size_t *n_test, ncmp_error *err);
ncmp_status ncmp_shuffle_split(size_t n, double train_fraction, int n_splits, uint32_t seed, size_t *train,
                               size_t *test, ncmp_error *err);

#endif
