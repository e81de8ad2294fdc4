/* Cross-validation splits bit-identical to scikit-learn 1.2 (docs/scoring.md).
 *
 * ShuffleSplit(n_splits, train_size=f, random_state=seed) and
 * StratifiedShuffleSplit(n_splits, train_size=f, random_state=seed), drawn
 * from NumPy's legacy RandomState(seed) (core/mt19937.h), so the indices
 * equal scikit-learn's element for element and in the same order.  Splits
 * can be written to and read back from JSON so users can audit or reuse them.
 * A ncmp_splits is owned by the caller: free it with ncmp_splits_free.
 */
#ifndef NCMP_ANALYSIS_SPLITS_H
#define NCMP_ANALYSIS_SPLITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct ncmp_splits {
    size_t n_samples, n_splits;
    /* Split s: train[train_offset[s] .. train_offset[s+1]-1], likewise test. */
    size_t *train, *train_offset; /* train_offset[n_splits + 1] */
    size_t *test, *test_offset;
    char *description; /* e.g. "10 x StratifiedShuffleSplit(train_size=0.9, random_state=1)" */
    uint32_t seed;
} ncmp_splits;

/* ShuffleSplit over n samples: per split perm = permutation(n), test =
 * perm[:n_test], train = perm[n_test:] with n_train = floor(f * n). */
ncmp_status ncmp_splits_shuffle(size_t n, double train_fraction, int n_splits, uint32_t seed, ncmp_splits **out,
                                ncmp_error *err);

/* StratifiedShuffleSplit with labels[0..n-1] as y (classes sorted by strcmp,
 * as np.unique sorts str).  A class with one member, or fewer train or test
 * samples than classes, is an error with the numbers, as in scikit-learn. */
ncmp_status ncmp_splits_stratified(const char *const *labels, size_t n, double train_fraction, int n_splits,
                                   uint32_t seed, ncmp_splits **out, ncmp_error *err);

void ncmp_splits_free(ncmp_splits *s);

/* Number of train / test samples of split s. */
static inline size_t ncmp_splits_n_train(const ncmp_splits *s, size_t split)
{
    return s->train_offset[split + 1] - s->train_offset[split];
}
static inline size_t ncmp_splits_n_test(const ncmp_splits *s, size_t split)
{
    return s->test_offset[split + 1] - s->test_offset[split];
}

/* Check every index is < n_samples, no index repeats within a train or test
 * set, and train and test of a split are disjoint and non-empty. */
ncmp_status ncmp_splits_validate(const ncmp_splits *s, ncmp_error *err);

#endif
