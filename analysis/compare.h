/* Is model A more brain-like than model B?  Paired statistics on two models'
 * cross-validated predictions of the same neural responses (docs/scoring.md).
 *
 * Inputs are the test-set predictions each model made in the same splits
 * (same rows, same stimuli, bit-identical observed responses).  Definitions,
 * which tests/gen_compare_fixtures.py follows literally in NumPy:
 *
 *  - Score of a model: per split s and neuroid j, r_sj = Pearson r between
 *    predicted and observed over the split's rows (ncmp_pearson: NaN when
 *    either is constant); score = ncmp_score_aggregate of r (mean over splits
 *    of the median over neuroids, NaN skipped), so it equals the scoring code's
 *    `raw`.  difference = score_a - score_b.
 *  - per_neuroid_a[j] = mean over splits of r_sj (NaN skipped; NaN if none).
 *  - Paired bootstrap over stimuli: one numpy.random.RandomState(seed) stream
 *    (core/mt19937.h).  For rep = 0..n_bootstrap-1, for s = 0..n_splits-1:
 *    idx = rs.randint(0, m_s, size=m_s) with m_s the rows of split s; the SAME
 *    rows for A and B; r_sj recomputed on the resampled rows (a column that is
 *    constant in the resample gives NaN), then medians and means as above:
 *    bootstrap_a/b[rep], bootstrap_difference[rep].  A replicate that is NaN
 *    (every split median NaN) is kept in the arrays, left out of the
 *    intervals and counted in n_bootstrap_undefined.  Intervals: percentiles
 *    100(1-c)/2 and 100(1+c)/2 of the defined replicates with np.percentile's
 *    default linear interpolation (NaN if none is defined).
 *  - Permutation test (paired sign flip over stimuli), same generator
 *    continuing after the bootstrap draws: for rep, for s: flips =
 *    rs.randint(0, 2, size=m_s); rows with flip 1 swap A's and B's predictions
 *    (all neuroids of the stimulus together); diff* recomputed.
 *    p_permutation = (1 + #{|diff*| >= |diff| - 1e-12 max(1, |diff|)}) /
 *    (1 + n_permutations), two-sided; a NaN diff* counts as extreme
 *    (conservative) and in n_permutation_undefined.  Identical models give
 *    difference 0 and p 1.
 *  - Sign test over neuroids on per_neuroid_difference: ties (|d| <= 1e-15)
 *    dropped, NaN differences dropped (n_undefined_neuroids); with k = n_a_better
 *    of n = n_a_better + n_b_better, p_sign = min(1, 2 P(X <= min(k, n-k))),
 *    X ~ Binomial(n, 1/2); 1 when n = 0.  Neuroids share stimuli and noise,
 *    so they are NOT independent samples: p_sign is descriptive and the
 *    permutation p (which resamples stimuli) is the headline.
 *
 * n_bootstrap = 0 skips the bootstrap (intervals NaN, arrays NULL) and
 * n_permutations = 0 skips the permutation test (p_permutation NaN); skipping
 * the bootstrap shifts where the permutation draws start in the stream.
 *
 * Cost: O((n_bootstrap + n_permutations) x rows x n_neuroids) with one
 * workspace allocated up front; nothing is allocated inside the replicates.
 * A ncmp_comparison is owned by the caller: free it with ncmp_comparison_free.
 * References: Efron & Tibshirani (1993) An Introduction to the Bootstrap
 * (percentile interval); Good (2005) Permutation, Parametric and Bootstrap
 * Tests of Hypotheses (paired sign-flip test); Schrimpf et al. (2018)
 * Brain-Score (the score being compared).
 */
#ifndef NCMP_ANALYSIS_COMPARE_H
#define NCMP_ANALYSIS_COMPARE_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/* A model's cross-validated test-set predictions (a view: nothing is owned). */
typedef struct ncmp_predictions {
    size_t n_splits, n_neuroids;
    const size_t *test_offset; /* [n_splits+1]; split s covers rows test_offset[s]..test_offset[s+1]-1 */
    const size_t *test;        /* [test_offset[n_splits]] stimulus index (into the sorted stimuli) of each row */
    const double *observed;    /* [rows][n_neuroids] responses of the test stimuli */
    const double *predicted;   /* [rows][n_neuroids] the model's predictions */
} ncmp_predictions;

typedef struct ncmp_compare_options {
    size_t n_bootstrap;    /* 1000; 0 skips the bootstrap */
    size_t n_permutations; /* 1000; 0 skips the permutation test */
    double confidence;     /* 0.95; in (0, 1) */
    uint32_t seed;         /* 0: numpy.random.RandomState(seed), so a NumPy script reproduces every draw */
} ncmp_compare_options;

#define NCMP_COMPARE_DEFAULTS ((ncmp_compare_options){1000, 1000, 0.95, 0})

typedef struct ncmp_comparison {
    size_t n_splits, n_neuroids;
    size_t n_bootstrap, n_permutations;
    double confidence;
    uint32_t seed;
    double score_a, score_b, difference;       /* difference = score_a - score_b */
    double ci_a[2], ci_b[2], ci_difference[2]; /* percentile bootstrap intervals */
    double p_permutation;                      /* two-sided paired sign-flip permutation test: the headline */
    double *per_neuroid_a, *per_neuroid_b;     /* [n_neuroids] mean over splits of r */
    double *per_neuroid_difference;            /* [n_neuroids] a - b */
    size_t n_a_better, n_b_better, n_ties;     /* over neuroids (|d| <= 1e-15 is a tie) */
    size_t n_undefined_neuroids;               /* per-neuroid difference NaN: not in the sign test */
    double p_sign;                             /* exact two-sided binomial sign test over neuroids (descriptive) */
    double *bootstrap_a, *bootstrap_b;         /* [n_bootstrap] replicates of the scores */
    double *bootstrap_difference;              /* [n_bootstrap] replicates of the difference */
    size_t n_bootstrap_undefined;              /* NaN difference replicates (left out of ci_difference) */
    size_t n_permutation_undefined;            /* NaN permuted differences (counted as extreme) */
} ncmp_comparison;

/* Compare A and B (see the definitions above).  Checked first: same
 * n_splits, n_neuroids, test_offset, test indices and bit-identical observed
 * values (else NCMP_ERR_SHAPE/NCMP_ERR_VALUE naming the split and row);
 * at least 2 rows per split; finite observed values and predictions (else
 * NCMP_ERR_VALUE naming model, split, row and neuroid); confidence in (0, 1).
 * options may be NULL (NCMP_COMPARE_DEFAULTS).  *out is NULL on failure. */
ncmp_status ncmp_compare_predictions(const ncmp_predictions *a, const ncmp_predictions *b,
                                     const ncmp_compare_options *options, ncmp_comparison **out, ncmp_error *err);
void ncmp_comparison_free(ncmp_comparison *c);

/* Exact two-sided sign test: min(1, 2 P(X <= min(k, n-k))), X ~ Binomial(n, 1/2); 1 if n = 0. */
double ncmp_sign_test(size_t k, size_t n);

/* np.percentile(x, 100 q) with the default linear interpolation, for sorted[n] ascending (n >= 1). */
double ncmp_percentile_sorted(const double *sorted, size_t n, double q);

#endif
