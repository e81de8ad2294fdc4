/* Shared helpers for the CUnit suites: temporary paths, fixture paths,
 * tolerance checks with messages, and a main() that runs the registry. */
#ifndef NCMP_TEST_UTIL_H
#define NCMP_TEST_UTIL_H

#include <CUnit/Basic.h>
#include <stddef.h>

/* A fresh path under $NCMP_TEST_TMPDIR (or /tmp) unique to this process:
 * "<tmpdir>/<pid>-<name>".  Returned buffer is static per call slot (8 slots). */
const char *test_tmp_path(const char *name);
/* "$NCMP_FIXTURES/<relative>" (or tests/fixtures relative to cwd). */
const char *test_fixture_path(const char *relative);
/* Remove a file if it exists. */
void test_remove(const char *path);
int test_file_exists(const char *path);

/* Max |a-b| / max|b| (normalised error, as ggml's test-backend-ops); NaN if
 * either array holds a NaN anywhere, so `err < tol` fails. */
double test_normalised_error_f64(const double *a, const double *b, size_t n);

/* Assert that |a - b| <= tol * max(1, |b|), printing both on failure. */
#define TEST_ASSERT_CLOSE(a, b, tol)                                                                                   \
    do {                                                                                                               \
        double ta_ = (a), tb_ = (b), tt_ = (tol);                                                                      \
        double scale_ = fabs(tb_) > 1 ? fabs(tb_) : 1;                                                                 \
        if (!(fabs(ta_ - tb_) <= tt_ * scale_))                                                                        \
            fprintf(stderr, "\n  %s:%d: %s = %.17g, expected %.17g (tol %g)\n", __FILE__, __LINE__, #a, ta_, tb_,      \
                    tt_);                                                                                              \
        CU_ASSERT(fabs(ta_ - tb_) <= tt_ * scale_);                                                                    \
    } while (0)

typedef struct test_case {
    const char *name;
    void (*fn)(void);
} test_case;

typedef struct test_suite {
    const char *name;
    const test_case *cases;
    size_t n_cases;
} test_suite;

/* A suite's cases and their count, counted by the compiler:
 *   {"splits", TEST_CASES(split_cases)}  */
#define TEST_CASES(array) (array), sizeof(array) / sizeof((array)[0])

/* A case that cannot run here (a dependency is missing): print why; the
 * program then exits 77 (ctest: Skipped) unless something failed, so a
 * missing dependency never passes silently. */
void test_skip(const char *why);

/* Register the suites, run them, print a summary and return the exit code
 * (1 if any assertion failed, else 77 if a case was skipped, else 0). */
int test_run(const char *module, const test_suite *suites, size_t n_suites);

#endif
