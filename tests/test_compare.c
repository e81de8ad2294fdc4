/* Tests for analysis/compare.h (paired bootstrap, permutation and sign tests between two models) against the
 * independent NumPy/SciPy reference of tests/gen_compare_fixtures.py, plus statistical properties
 * (identical models, a planted improvement, the false-positive rate) and bad input. */
#include "test_util.h"

#include "analysis/compare.h"
#include "results/json.h"
#include "core/mt19937.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif
#ifndef UNDER_SANITIZER
#define UNDER_SANITIZER 0
#endif

static double seconds_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- NumPy fixtures -------------------------------------------------------------------------------- */

static double json_double(const ncmp_json_value *v)
{
    return v->type == NCMP_JSON_NULL ? NAN : v->number;
}

static double *json_doubles(const ncmp_json_value *v, size_t expect)
{
    CU_ASSERT_FATAL(v && v->type == NCMP_JSON_ARRAY);
    CU_ASSERT_EQUAL_FATAL(v->n, expect);
    double *x = malloc((expect ? expect : 1) * sizeof *x);
    for (size_t i = 0; i < expect; i++)
        x[i] = json_double(&v->items[i]);
    return x;
}

static size_t *json_sizes(const ncmp_json_value *v, size_t expect)
{
    CU_ASSERT_FATAL(v && v->type == NCMP_JSON_ARRAY);
    CU_ASSERT_EQUAL_FATAL(v->n, expect);
    size_t *x = malloc((expect ? expect : 1) * sizeof *x);
    for (size_t i = 0; i < expect; i++)
        x[i] = (size_t)v->items[i].number;
    return x;
}

static size_t json_size(const ncmp_json_value *obj, const char *key)
{
    const ncmp_json_value *v = ncmp_json_get(obj, key);
    CU_ASSERT_FATAL(v != NULL);
    return (size_t)v->number;
}

/* Equal within tol * max(1, |expected|), NaN only where NaN is expected. */
static int close_or_both_nan(double got, double expected, double tol)
{
    if (isnan(expected) || isnan(got))
        return isnan(expected) && isnan(got);
    return fabs(got - expected) <= tol * fmax(1, fabs(expected));
}

/* Largest deviation of got[n] from the reference, and whether NaNs agree. */
static double check_array(const char *what, const char *case_name, const double *got, const ncmp_json_value *v,
                          size_t n, double tol)
{
    double *expected = json_doubles(v, n), worst = 0;
    for (size_t i = 0; i < n; i++) {
        if (!close_or_both_nan(got[i], expected[i], tol))
            fprintf(stderr, "\n  %s %s[%zu] = %.17g, NumPy %.17g", case_name, what, i, got[i], expected[i]);
        CU_ASSERT(close_or_both_nan(got[i], expected[i], tol));
        if (!isnan(expected[i]) && !isnan(got[i]))
            worst = fmax(worst, fabs(got[i] - expected[i]) / fmax(1, fabs(expected[i])));
    }
    free(expected);
    return worst;
}

/* ncmp_mt19937_randint against RandomState(5).randint(0, high, size=k), one stream. */
static void test_randint_matches_numpy(void)
{
    ncmp_json_value *doc = NULL;
    ncmp_error err;
    CU_ASSERT_EQUAL_FATAL(ncmp_json_parse_file(test_fixture_path("compare/cases.json"), &doc, &err), NCMP_OK);
    ncmp_mt19937 mt;
    ncmp_mt19937_seed(&mt, (uint32_t)json_size(doc, "randint_seed"));
    const ncmp_json_value *list = ncmp_json_get(doc, "randint");
    CU_ASSERT_FATAL(list && list->n >= 5);
    for (size_t c = 0; c < list->n; c++) {
        size_t high = json_size(&list->items[c], "high");
        const ncmp_json_value *values = ncmp_json_get(&list->items[c], "values");
        size_t n = values->n, *got = malloc(n * sizeof *got), *expected = json_sizes(values, n);
        ncmp_mt19937_randint(&mt, high, got, n);
        for (size_t i = 0; i < n; i++) {
            if (got[i] != expected[i])
                fprintf(stderr, "\n  randint(0, %zu)[%zu] = %zu, NumPy %zu", high, i, got[i], expected[i]);
            CU_ASSERT_EQUAL(got[i], expected[i]);
        }
        free(got);
        free(expected);
    }
    ncmp_json_free(doc);
}

/* Every output against NumPy.  Tolerances: 1e-12 relative (to max(1, |x|)) for
 * scores, per-neuroid values, replicates and intervals, because the C computes
 * the replicates' r from one-pass sums of shifted columns and NumPy from
 * two-pass centred columns, which agree to rounding (~1e-15) but not bit for
 * bit; the same bound for p_sign (GSL's incomplete beta vs SciPy's binomial
 * pmf sums).  Counts (better/worse/ties, extreme permutations, NaN
 * replicates) must be equal: the generator checks that no permuted difference
 * lies within 1e-6 of the threshold, so rounding cannot move one across. */
static void test_matches_numpy(void)
{
    ncmp_json_value *doc = NULL;
    ncmp_error err;
    CU_ASSERT_EQUAL_FATAL(ncmp_json_parse_file(test_fixture_path("compare/cases.json"), &doc, &err), NCMP_OK);
    const ncmp_json_value *cases = ncmp_json_get(doc, "cases");
    CU_ASSERT_FATAL(cases && cases->n >= 3);
    double worst = 0;
    for (size_t c = 0; c < cases->n; c++) {
        const ncmp_json_value *k = &cases->items[c], *o = ncmp_json_get(k, "options"),
                              *e = ncmp_json_get(k, "expected");
        const char *name = ncmp_json_get(k, "name")->string;
        size_t S = json_size(k, "n_splits"), q = json_size(k, "n_neuroids");
        size_t *offset = json_sizes(ncmp_json_get(k, "test_offset"), S + 1);
        size_t rows = offset[S];
        size_t *test = json_sizes(ncmp_json_get(k, "test"), rows);
        double *observed = json_doubles(ncmp_json_get(k, "observed"), rows * q);
        double *pa = json_doubles(ncmp_json_get(k, "predicted_a"), rows * q);
        double *pb = json_doubles(ncmp_json_get(k, "predicted_b"), rows * q);
        ncmp_predictions A = {S, q, offset, test, observed, pa}, B = {S, q, offset, test, observed, pb};
        ncmp_compare_options opt = NCMP_COMPARE_DEFAULTS;
        opt.n_bootstrap = json_size(o, "n_bootstrap");
        opt.n_permutations = json_size(o, "n_permutations");
        opt.confidence = ncmp_json_get(o, "confidence")->number;
        opt.seed = (uint32_t)json_size(o, "seed");
        CU_ASSERT_FATAL(json_double(ncmp_json_get(e, "permutation_margin")) > 1e-6);

        ncmp_comparison *r = NULL;
        ncmp_status st = ncmp_compare_predictions(&A, &B, &opt, &r, &err);
        if (st)
            fprintf(stderr, "\n  %s: %s", name, err.message);
        CU_ASSERT_EQUAL_FATAL(st, NCMP_OK);
        const double tol = 1e-12;
        double got3[3] = {r->score_a, r->score_b, r->difference};
        static const char *const keys3[3] = {"score_a", "score_b", "difference"};
        for (int i = 0; i < 3; i++) {
            double want = json_double(ncmp_json_get(e, keys3[i]));
            CU_ASSERT(close_or_both_nan(got3[i], want, tol));
            worst = fmax(worst, fabs(got3[i] - want) / fmax(1, fabs(want)));
        }
        worst = fmax(worst,
                     check_array("per_neuroid_a", name, r->per_neuroid_a, ncmp_json_get(e, "per_neuroid_a"), q, tol));
        worst = fmax(worst,
                     check_array("per_neuroid_b", name, r->per_neuroid_b, ncmp_json_get(e, "per_neuroid_b"), q, tol));
        worst = fmax(worst, check_array("per_neuroid_difference", name, r->per_neuroid_difference,
                                        ncmp_json_get(e, "per_neuroid_difference"), q, tol));
        worst = fmax(worst, check_array("bootstrap_a", name, r->bootstrap_a, ncmp_json_get(e, "bootstrap_a"),
                                        opt.n_bootstrap, tol));
        worst = fmax(worst, check_array("bootstrap_b", name, r->bootstrap_b, ncmp_json_get(e, "bootstrap_b"),
                                        opt.n_bootstrap, tol));
        worst = fmax(worst, check_array("bootstrap_difference", name, r->bootstrap_difference,
                                        ncmp_json_get(e, "bootstrap_difference"), opt.n_bootstrap, tol));
        worst = fmax(worst, check_array("ci_a", name, r->ci_a, ncmp_json_get(e, "ci_a"), 2, tol));
        worst = fmax(worst, check_array("ci_b", name, r->ci_b, ncmp_json_get(e, "ci_b"), 2, tol));
        worst = fmax(worst,
                     check_array("ci_difference", name, r->ci_difference, ncmp_json_get(e, "ci_difference"), 2, tol));
        CU_ASSERT_EQUAL(r->n_a_better, json_size(e, "n_a_better"));
        CU_ASSERT_EQUAL(r->n_b_better, json_size(e, "n_b_better"));
        CU_ASSERT_EQUAL(r->n_ties, json_size(e, "n_ties"));
        CU_ASSERT_EQUAL(r->n_undefined_neuroids, json_size(e, "n_undefined_neuroids"));
        CU_ASSERT_EQUAL(r->n_bootstrap_undefined, json_size(e, "n_bootstrap_undefined"));
        CU_ASSERT_EQUAL(r->n_permutation_undefined, json_size(e, "n_permutation_undefined"));
        TEST_ASSERT_CLOSE(r->p_sign, json_double(ncmp_json_get(e, "p_sign")), tol);
        /* Same count of extreme permutations: the p-values are then the same double. */
        double p_expected = json_double(ncmp_json_get(e, "p_permutation"));
        CU_ASSERT_EQUAL(r->p_permutation, p_expected);
        CU_ASSERT_EQUAL((size_t)llround(r->p_permutation * (double)(1 + opt.n_permutations)) - 1,
                        json_size(e, "n_extreme"));
        printf("\n    %-16s diff %+.4f CI [%+.4f, %+.4f] p_perm %.4f p_sign %.4f", name, r->difference,
               r->ci_difference[0], r->ci_difference[1], r->p_permutation, r->p_sign);
        ncmp_comparison_free(r);
        free(offset);
        free(test);
        free(observed);
        free(pa);
        free(pb);
    }
    printf("\n    largest relative deviation from NumPy: %.2e ", worst);
    ncmp_json_free(doc);
}

/* ---- synthetic data for the properties ------------------------------------------------------------- */

static double normal(ncmp_mt19937 *mt)
{
    double u = ncmp_mt19937_uniform(mt), v = ncmp_mt19937_uniform(mt);
    return sqrt(-2 * log1p(-u)) * cos(6.283185307179586 * v);
}

/* S splits of m test rows drawn from n_stimuli; observed = signal + noise;
 * A = signal + noise_a * N(0,1), B = signal + noise_b * N(0,1) (independent). */
typedef struct synthetic {
    size_t S, m, q;
    size_t *offset, *test;
    double *observed, *pa, *pb;
} synthetic;

static synthetic synthetic_make(uint32_t seed, size_t S, size_t m, size_t q, size_t n_stimuli, double noise_a,
                                double noise_b)
{
    synthetic d = {S, m, q, NULL, NULL, NULL, NULL, NULL};
    ncmp_mt19937 mt;
    ncmp_mt19937_seed(&mt, seed);
    double *signal = malloc(n_stimuli * q * sizeof *signal), *resp = malloc(n_stimuli * q * sizeof *resp);
    for (size_t i = 0; i < n_stimuli * q; i++) {
        signal[i] = normal(&mt);
        resp[i] = signal[i] + normal(&mt);
    }
    d.offset = malloc((S + 1) * sizeof *d.offset);
    d.test = malloc(S * m * sizeof *d.test);
    d.observed = malloc(S * m * q * sizeof *d.observed);
    d.pa = malloc(S * m * q * sizeof *d.pa);
    d.pb = malloc(S * m * q * sizeof *d.pb);
    size_t *perm = malloc(n_stimuli * sizeof *perm);
    for (size_t s = 0; s <= S; s++)
        d.offset[s] = s * m;
    for (size_t s = 0; s < S; s++) {
        ncmp_mt19937_permutation(&mt, perm, n_stimuli);
        for (size_t i = 0; i < m; i++) {
            size_t r = s * m + i, t = perm[i];
            d.test[r] = t;
            for (size_t j = 0; j < q; j++) {
                d.observed[r * q + j] = resp[t * q + j];
                d.pa[r * q + j] = signal[t * q + j] + noise_a * normal(&mt);
                d.pb[r * q + j] = signal[t * q + j] + noise_b * normal(&mt);
            }
        }
    }
    free(perm);
    free(signal);
    free(resp);
    return d;
}

static void synthetic_free(synthetic *d)
{
    free(d->offset);
    free(d->test);
    free(d->observed);
    free(d->pa);
    free(d->pb);
}

static ncmp_predictions view(const synthetic *d, const double *predicted)
{
    ncmp_predictions p = {d->S, d->q, d->offset, d->test, d->observed, predicted};
    return p;
}

static void test_identical_models(void)
{
    synthetic d = synthetic_make(11, 4, 30, 12, 100, 1.0, 1.0);
    ncmp_predictions A = view(&d, d.pa);
    ncmp_compare_options o = NCMP_COMPARE_DEFAULTS;
    o.n_bootstrap = o.n_permutations = 200;
    ncmp_comparison *c = NULL;
    ncmp_error err;
    CU_ASSERT_EQUAL_FATAL(ncmp_compare_predictions(&A, &A, &o, &c, &err), NCMP_OK);
    CU_ASSERT_EQUAL(c->difference, 0.0);
    CU_ASSERT_EQUAL(c->p_permutation, 1.0);
    CU_ASSERT(c->ci_difference[0] <= 0 && c->ci_difference[1] >= 0);
    CU_ASSERT_EQUAL(c->n_ties, 12);
    CU_ASSERT_EQUAL(c->p_sign, 1.0);
    CU_ASSERT(c->score_a > 0.3 && c->ci_a[0] < c->score_a && c->score_a < c->ci_a[1]);
    ncmp_comparison_free(c);
    synthetic_free(&d);
}

/* B = A's predictions plus extra noise: A must win clearly, and swapping the order negates everything. */
static void test_planted_improvement(void)
{
    synthetic d = synthetic_make(12, 5, 40, 30, 150, 0.7, 0.0);
    ncmp_mt19937 mt;
    ncmp_mt19937_seed(&mt, 99);
    for (size_t i = 0; i < d.S * d.m * d.q; i++)
        d.pb[i] = d.pa[i] + 0.7 * normal(&mt);
    ncmp_predictions A = view(&d, d.pa), B = view(&d, d.pb);
    ncmp_compare_options o = NCMP_COMPARE_DEFAULTS;
    o.n_bootstrap = o.n_permutations = 500;
    o.seed = 7;
    ncmp_comparison *ab = NULL, *ba = NULL;
    ncmp_error err;
    CU_ASSERT_EQUAL_FATAL(ncmp_compare_predictions(&A, &B, &o, &ab, &err), NCMP_OK);
    CU_ASSERT_EQUAL_FATAL(ncmp_compare_predictions(&B, &A, &o, &ba, &err), NCMP_OK);
    printf("\n    planted: A %.3f B %.3f diff %+.3f CI [%+.3f, %+.3f] p_perm %.4f p_sign %.2g ", ab->score_a,
           ab->score_b, ab->difference, ab->ci_difference[0], ab->ci_difference[1], ab->p_permutation, ab->p_sign);
    CU_ASSERT(ab->difference > 0);
    CU_ASSERT(ab->p_permutation < 0.01);
    CU_ASSERT(ab->ci_difference[0] > 0);
    CU_ASSERT(ab->n_a_better > ab->n_b_better);
    CU_ASSERT_EQUAL(ba->difference, -ab->difference);
    CU_ASSERT_EQUAL(ba->score_a, ab->score_b);
    /* Same draws, roles swapped: replicates negate, so do the intervals (to rounding of the interpolation). */
    for (size_t i = 0; i < o.n_bootstrap; i++)
        CU_ASSERT_EQUAL(ba->bootstrap_difference[i], -ab->bootstrap_difference[i]);
    TEST_ASSERT_CLOSE(ba->ci_difference[0], -ab->ci_difference[1], 1e-15);
    TEST_ASSERT_CLOSE(ba->ci_difference[1], -ab->ci_difference[0], 1e-15);
    CU_ASSERT_EQUAL(ba->n_b_better, ab->n_a_better);
    CU_ASSERT_EQUAL(ba->p_sign, ab->p_sign);
    CU_ASSERT(ba->p_permutation < 0.01);
    ncmp_comparison_free(ab);
    ncmp_comparison_free(ba);
    synthetic_free(&d);
}

/* Two different but equally good models (independent noise of the same size on the same signal): at
 * alpha 0.05 the permutation test and the bootstrap interval must reject about 5% of the time. */
static void test_false_positive_rate(void)
{
    const size_t n_data = 100;
    ncmp_compare_options o = NCMP_COMPARE_DEFAULTS;
    o.n_bootstrap = o.n_permutations = 400;
    size_t perm_reject = 0, ci_reject = 0, sign_reject = 0;
    double t0 = seconds_now();
    for (size_t k = 0; k < n_data; k++) {
        synthetic d = synthetic_make(1000 + (uint32_t)k, 5, 30, 20, 120, 1.0, 1.0);
        ncmp_predictions A = view(&d, d.pa), B = view(&d, d.pb);
        o.seed = (uint32_t)k;
        ncmp_comparison *c = NULL;
        ncmp_error err;
        CU_ASSERT_EQUAL_FATAL(ncmp_compare_predictions(&A, &B, &o, &c, &err), NCMP_OK);
        perm_reject += c->p_permutation < 0.05;
        ci_reject += c->ci_difference[0] > 0 || c->ci_difference[1] < 0;
        sign_reject += c->p_sign < 0.05;
        ncmp_comparison_free(c);
        synthetic_free(&d);
    }
    double rate = (double)perm_reject / (double)n_data;
    printf("\n    false-positive rate at 0.05 over %zu data sets: permutation %.2f, bootstrap CI %.2f, sign test %.2f "
           "(%.1f s) ",
           n_data, rate, (double)ci_reject / (double)n_data, (double)sign_reject / (double)n_data, seconds_now() - t0);
    CU_ASSERT(rate <= 0.12);
    CU_ASSERT((double)ci_reject / (double)n_data <= 0.12);
    CU_ASSERT((double)sign_reject / (double)n_data <= 0.12); /* measured 0.08 */
}

static void test_bad_input(void)
{
    synthetic d = synthetic_make(13, 3, 10, 4, 40, 1.0, 1.0);
    ncmp_predictions A = view(&d, d.pa), B = view(&d, d.pb);
    ncmp_compare_options o = NCMP_COMPARE_DEFAULTS;
    o.n_bootstrap = o.n_permutations = 10;
    ncmp_comparison *c = (ncmp_comparison *)&o; /* must be reset to NULL on failure */
    ncmp_error err;

    /* Different split boundaries. */
    size_t offset2[4] = {0, 11, 20, 30};
    ncmp_predictions B2 = B;
    B2.test_offset = offset2;
    CU_ASSERT_EQUAL(ncmp_compare_predictions(&A, &B2, &o, &c, &err), NCMP_ERR_SHAPE);
    CU_ASSERT(c == NULL);
    CU_ASSERT(strstr(err.message, "not scored on the same splits") && strstr(err.message, "split 0"));

    /* Different stimulus in one row. */
    size_t test2[30];
    memcpy(test2, d.test, sizeof test2);
    test2[14] += 1;
    B2 = B;
    B2.test = test2;
    CU_ASSERT_EQUAL(ncmp_compare_predictions(&A, &B2, &o, &c, &err), NCMP_ERR_VALUE);
    CU_ASSERT(strstr(err.message, "split 1 row 4") != NULL);

    /* Observed values differ by one ulp. */
    double *obs2 = malloc(30 * 4 * sizeof *obs2);
    memcpy(obs2, d.observed, 30 * 4 * sizeof *obs2);
    obs2[25 * 4 + 2] = nextafter(obs2[25 * 4 + 2], INFINITY);
    B2 = B;
    B2.observed = obs2;
    CU_ASSERT_EQUAL(ncmp_compare_predictions(&A, &B2, &o, &c, &err), NCMP_ERR_VALUE);
    CU_ASSERT(strstr(err.message, "observed") && strstr(err.message, "split 2 row 5"));
    free(obs2);

    /* NaN prediction. */
    double *p2 = malloc(30 * 4 * sizeof *p2);
    memcpy(p2, d.pb, 30 * 4 * sizeof *p2);
    p2[7 * 4 + 3] = NAN;
    B2 = B;
    B2.predicted = p2;
    CU_ASSERT_EQUAL(ncmp_compare_predictions(&A, &B2, &o, &c, &err), NCMP_ERR_VALUE);
    CU_ASSERT(strstr(err.message, "model B") && strstr(err.message, "split 0 row 7") &&
              strstr(err.message, "neuroid 3"));
    free(p2);

    /* Other shapes. */
    B2 = B;
    B2.n_neuroids = 3;
    CU_ASSERT_EQUAL(ncmp_compare_predictions(&A, &B2, &o, &c, &err), NCMP_ERR_SHAPE);
    CU_ASSERT(strstr(err.message, "4 neuroids") != NULL);

    /* Confidence out of range. */
    o.confidence = 1.5;
    CU_ASSERT_EQUAL(ncmp_compare_predictions(&A, &B, &o, &c, &err), NCMP_ERR_USAGE);
    CU_ASSERT(strstr(err.message, "confidence 1.5") != NULL);
    o.confidence = 0;
    CU_ASSERT_EQUAL(ncmp_compare_predictions(&A, &B, &o, &c, &err), NCMP_ERR_USAGE);

    /* n_bootstrap = n_permutations = 0 skip those parts. */
    o = NCMP_COMPARE_DEFAULTS;
    o.n_bootstrap = o.n_permutations = 0;
    CU_ASSERT_EQUAL_FATAL(ncmp_compare_predictions(&A, &B, &o, &c, &err), NCMP_OK);
    CU_ASSERT(c->bootstrap_difference == NULL && isnan(c->ci_difference[0]) && isnan(c->p_permutation));
    CU_ASSERT(!isnan(c->difference) && !isnan(c->p_sign));
    ncmp_comparison_free(c);
    synthetic_free(&d);
}

/* The typical size (10 splits x 320 test rows x 200 neuroids, 1000 + 1000 replicates), timed for the log. */
static void test_timing(void)
{
    size_t m = UNDER_SANITIZER ? 64 : 320, q = UNDER_SANITIZER ? 100 : 200;
    synthetic d = synthetic_make(14, 10, m, q, 3200, 1.0, 1.2);
    ncmp_predictions A = view(&d, d.pa), B = view(&d, d.pb);
    ncmp_compare_options o = NCMP_COMPARE_DEFAULTS;
    if (UNDER_SANITIZER)
        o.n_bootstrap = o.n_permutations = 100;
    ncmp_comparison *c = NULL;
    ncmp_error err;
    double t0 = seconds_now();
    CU_ASSERT_EQUAL_FATAL(ncmp_compare_predictions(&A, &B, &o, &c, &err), NCMP_OK);
    double t = seconds_now() - t0;
    printf("\n    10 splits x %zu rows x %zu neuroids, %zu bootstrap + %zu permutations: %.2f s (diff %+.4f, p %.4f) ",
           m, q, o.n_bootstrap, o.n_permutations, t, c->difference, c->p_permutation);
    /* Runs at the typical size and reports its time; speed itself is a
     * benchmark's business (bench/), not a timed assertion. */
    CU_ASSERT(isfinite(c->difference) && c->p_permutation > 0 && c->p_permutation <= 1);
    ncmp_comparison_free(c);
    synthetic_free(&d);
}

int main(void)
{
    static const test_case reference_cases[] = {
        {"randint matches NumPy", test_randint_matches_numpy},
        {"matches the NumPy reference", test_matches_numpy},
    };
    static const test_case property_cases[] = {
        {"identical models", test_identical_models},
        {"planted improvement and swapped order", test_planted_improvement},
        {"false-positive rate", test_false_positive_rate},
        {"bad input", test_bad_input},
        {"typical size runs (time reported)", test_timing},
    };
    static const test_suite suites[] = {{"reference", TEST_CASES(reference_cases)},
                                        {"properties", TEST_CASES(property_cases)}};
    return test_run("compare", suites, sizeof suites / sizeof suites[0]);
}
