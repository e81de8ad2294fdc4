/* Shared helpers for the CUnit suites (see test_util.h). */
#include "test_util.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *test_tmp_path(const char *name)
{
    static char slots[8][4096];
    static int next = 0;
    char *buf = slots[next];
    next = (next + 1) % 8;
    const char *dir = getenv("NCMP_TEST_TMPDIR");
    if (!dir || !dir[0])
        dir = "/tmp";
    mkdir(dir, 0777);
    snprintf(buf, sizeof slots[0], "%s/%ld-%s", dir, (long)getpid(), name);
    return buf;
}

const char *test_fixture_path(const char *relative)
{
    static char slots[4][4096];
    static int next = 0;
    char *buf = slots[next];
    next = (next + 1) % 4;
    const char *dir = getenv("NCMP_FIXTURES");
    snprintf(buf, sizeof slots[0], "%s/%s", dir && dir[0] ? dir : NCMP_TEST_FIXTURES_DIR, relative);
    return buf;
}

void test_remove(const char *path)
{
    unlink(path);
}

int test_file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

double test_normalised_error_f64(const double *a, const double *b, size_t n)
{
    double max_diff = 0, max_ref = 0;
    bool nan = false;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        nan |= isnan(d) || isnan(b[i]); /* NaN anywhere, in either array, fails every comparison */
        if (d > max_diff)
            max_diff = d;
        if (fabs(b[i]) > max_ref)
            max_ref = fabs(b[i]);
    }
    if (nan)
        return NAN;
    return max_ref > 0 ? max_diff / max_ref : max_diff;
}

static int skipped;

void test_skip(const char *why)
{
    fprintf(stderr, "\n  SKIPPED: %s\n", why);
    skipped++;
}

int test_run(const char *module, const test_suite *suites, size_t n_suites)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    for (size_t s = 0; s < n_suites; s++) {
        char name[128];
        snprintf(name, sizeof name, "%s/%s", module, suites[s].name);
        CU_pSuite suite = CU_add_suite(name, NULL, NULL);
        if (!suite) {
            CU_cleanup_registry();
            return 1;
        }
        for (size_t c = 0; c < suites[s].n_cases; c++)
            if (!CU_add_test(suite, suites[s].cases[c].name, suites[s].cases[c].fn)) {
                CU_cleanup_registry();
                return 1;
            }
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    unsigned run = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    if (run == 0) {
        fprintf(stderr, "%s: no tests ran\n", module);
        return 1;
    }
    if (!failed && skipped)
        fprintf(stderr, "%s: %d case%s skipped (see SKIPPED above)\n", module, skipped, skipped == 1 ? "" : "s");
    return failed ? 1 : skipped ? 77 : 0;
}
