/* Tests for core/: status, logging, progress, tensors, RNG, SHA-256, HDF5 helpers, provenance. */
#include "test_util.h"

#include "results/activations.h"
#include "core/h5.h"
#include "core/log.h"
#include "core/paths.h"
#include "core/progress.h"
#include "core/provenance.h"
#include "core/rng.h"
#include "core/sha256.h"
#include "core/status.h"
#include "core/tensor.h"

#include <hdf5_hl.h>
#include <math.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void sleep_seconds(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* ---- status ---------------------------------------------------------------- */

/* The comparison every numeric test uses fails on a NaN anywhere (it once
 * dropped a NaN when a later element differed). */
static void test_comparison_helper_fails_on_nan(void)
{
    const double a[3] = {NAN, 1, 2}, b[3] = {1, 1, 2 + 1e-7}, c[3] = {1, 1, NAN}, d[3] = {1, 1, 2};
    CU_ASSERT(!(test_normalised_error_f64(a, b, 3) < 1e-3));
    CU_ASSERT(!(test_normalised_error_f64(d, c, 3) < 1e-3));
    CU_ASSERT(!(test_normalised_error_f64(c, d, 3) < 1e-3));
    CU_ASSERT(test_normalised_error_f64(d, b, 3) < 1e-7);
}

static void test_status_messages(void)
{
    ncmp_error err;
    ncmp_error_clear(&err);
    CU_ASSERT_EQUAL(err.status, NCMP_OK);
    ncmp_status st = ncmp_fail(&err, NCMP_ERR_SHAPE, "layer '%s' has shape %s", "block1", "[2, 3]");
    CU_ASSERT_EQUAL(st, NCMP_ERR_SHAPE);
    CU_ASSERT_STRING_EQUAL(err.message, "layer 'block1' has shape [2, 3]");
    CU_ASSERT_EQUAL(ncmp_error_context(&err, "reading '%s'", "acts.h5"), NCMP_ERR_SHAPE);
    CU_ASSERT_STRING_EQUAL(err.message, "reading 'acts.h5': layer 'block1' has shape [2, 3]");
    /* NULL error objects are allowed; OK is never recorded as a failure. */
    CU_ASSERT_EQUAL(ncmp_fail(NULL, NCMP_ERR_IO, "x"), NCMP_ERR_IO);
    CU_ASSERT_EQUAL(ncmp_fail(&err, NCMP_OK, "bug"), NCMP_ERR_INTERNAL);
    CU_ASSERT_EQUAL(ncmp_status_exit_code(NCMP_OK), 0);
    CU_ASSERT_EQUAL(ncmp_status_exit_code(NCMP_ERR_USAGE), 2);
    CU_ASSERT_EQUAL(ncmp_status_exit_code(NCMP_ERR_FORMAT), 1);
    CU_ASSERT_STRING_EQUAL(ncmp_status_name(NCMP_ERR_INCOMPLETE), "incomplete file");
    /* Long messages are truncated, never overflowed. */
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ncmp_fail(&err, NCMP_ERR_VALUE, "%s", big);
    CU_ASSERT_EQUAL(strlen(err.message), NCMP_ERROR_MESSAGE_MAX - 1);
    ncmp_error_context(&err, "%s", big);
    CU_ASSERT_EQUAL(strlen(err.message), NCMP_ERROR_MESSAGE_MAX - 1);
}

/* ---- logging ------------------------------------------------------------------ */

static char *read_stream(FILE *f)
{
    fflush(f);
    long n = ftell(f);
    rewind(f);
    char *buf = calloc((size_t)n + 1, 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n)
        buf[0] = '\0';
    return buf;
}

static void test_log_levels(void)
{
    FILE *f = tmpfile();
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    ncmp_log_set_stream(f);
    ncmp_log_set_level(NCMP_LOG_WARN);
    ncmp_log_info("hidden %d", 1);
    ncmp_log_warn("shown %d", 2);
    ncmp_log_error("always %d", 3);
    ncmp_log_set_level(NCMP_LOG_QUIET);
    ncmp_log_warn("hidden when quiet");
    ncmp_log_error("errors survive -q");
    ncmp_log_set_level(NCMP_LOG_DEBUG);
    ncmp_log_debug("detail");
    char *text = read_stream(f);
    CU_ASSERT_PTR_NULL(strstr(text, "hidden"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "neurocmp: warning: shown 2\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "neurocmp: error: always 3\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "neurocmp: error: errors survive -q\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "neurocmp: debug: detail\n"));
    free(text);
    ncmp_log_set_stream(NULL);
    ncmp_log_set_level(NCMP_LOG_INFO);
    fclose(f);
}

/* ---- progress ---------------------------------------------------------------- */

static void test_progress_plain_and_tty(void)
{
    FILE *f = tmpfile();
    /* Plain mode with a zero-length interval prints a line per update. */
    ncmp_progress *p = ncmp_progress_start_on(f, NCMP_PROGRESS_PLAIN, 1e-9, "export", 10, "images");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    sleep_seconds(0.002);
    ncmp_progress_update(p, 5);
    ncmp_progress_finish(p);
    char *text = read_stream(f);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "export: 5/10 images (50%)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "images/s, ETA "));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "export: done, 5 images in"));
    CU_ASSERT_PTR_NULL(strchr(text, '\r')); /* no terminal control codes in logs */
    free(text);
    fclose(f);

    f = tmpfile();
    p = ncmp_progress_start_on(f, NCMP_PROGRESS_TTY, 0, "score", 4, "splits");
    sleep_seconds(0.11);
    ncmp_progress_advance(p, 2);
    ncmp_progress_finish(p);
    text = read_stream(f);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\rscore ["));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "2/4 splits"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "ETA"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "elapsed"));
    free(text);
    fclose(f);

    /* -q silences progress entirely; NULL handles are accepted. */
    f = tmpfile();
    ncmp_log_set_level(NCMP_LOG_QUIET);
    p = ncmp_progress_start_on(f, NCMP_PROGRESS_PLAIN, 1e-9, "quiet", 3, "x");
    ncmp_progress_update(p, 3);
    ncmp_progress_finish(p);
    ncmp_log_set_level(NCMP_LOG_INFO);
    CU_ASSERT_EQUAL(ftell(f), 0);
    fclose(f);
    ncmp_progress_update(NULL, 1);
    ncmp_progress_finish(NULL);

    char buf[32];
    ncmp_format_duration(42, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "42s");
    ncmp_format_duration(185, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "3m05s");
    ncmp_format_duration(7620, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "2h07m");
    ncmp_format_duration(-1, buf, sizeof buf);
    CU_ASSERT_STRING_EQUAL(buf, "--");
}

/* ---- tensors ------------------------------------------------------------------ */

static void test_tensor_alloc_and_views(void)
{
    ncmp_error err;
    ncmp_tensor t;
    size_t shape[3] = {2, 3, 4};
    CU_ASSERT_EQUAL_FATAL(ncmp_tensor_alloc(&t, NCMP_FLOAT32, 3, shape, &err), NCMP_OK);
    CU_ASSERT_EQUAL(ncmp_tensor_numel(&t), 24);
    CU_ASSERT_EQUAL(t.strides[0], 12);
    CU_ASSERT_EQUAL(t.strides[2], 1);
    CU_ASSERT_EQUAL((size_t)t.data % 64, 0);
    CU_ASSERT(ncmp_tensor_is_contiguous(&t));
    for (size_t i = 0; i < 24; i++)
        ((float *)t.data)[i] = (float)i;
    size_t idx[3] = {1, 2, 3};
    CU_ASSERT_EQUAL(ncmp_tensor_get(&t, idx), 23.0);

    ncmp_tensor v;
    CU_ASSERT_EQUAL(ncmp_tensor_view_index(&t, 1, &v, &err), NCMP_OK);
    CU_ASSERT_EQUAL(v.ndim, 2);
    size_t i2[2] = {0, 1};
    CU_ASSERT_EQUAL(ncmp_tensor_get(&v, i2), 13.0);
    CU_ASSERT_FALSE(v.owns_data);
    CU_ASSERT_EQUAL(ncmp_tensor_view_index(&t, 2, &v, &err), NCMP_ERR_SHAPE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "length 2"));

    CU_ASSERT_EQUAL(ncmp_tensor_view_slice(&t, 2, 1, 3, &v, &err), NCMP_OK);
    CU_ASSERT_FALSE(ncmp_tensor_is_contiguous(&v));
    size_t i3[3] = {1, 1, 0};
    CU_ASSERT_EQUAL(ncmp_tensor_get(&v, i3), 17.0);
    CU_ASSERT_EQUAL(ncmp_tensor_view_slice(&t, 2, 3, 5, &v, &err), NCMP_ERR_SHAPE);

    /* Strided slice copied into a contiguous float64 tensor keeps values. */
    ncmp_tensor sl, dst;
    CU_ASSERT_EQUAL_FATAL(ncmp_tensor_view_slice(&t, 2, 1, 3, &sl, &err), NCMP_OK);
    size_t dshape[3] = {2, 3, 2};
    CU_ASSERT_EQUAL_FATAL(ncmp_tensor_alloc(&dst, NCMP_FLOAT64, 3, dshape, &err), NCMP_OK);
    CU_ASSERT_EQUAL(ncmp_tensor_copy(&dst, &sl, &err), NCMP_OK);
    CU_ASSERT_EQUAL(((double *)dst.data)[0], 1.0);
    CU_ASSERT_EQUAL(((double *)dst.data)[11], 22.0);
    size_t wrong[3] = {2, 3, 3};
    ncmp_tensor bad = ncmp_tensor_wrap(NCMP_FLOAT64, 3, wrong, dst.data);
    CU_ASSERT_EQUAL(ncmp_tensor_copy(&bad, &sl, &err), NCMP_ERR_SHAPE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "[2, 3, 2]"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "[2, 3, 3]"));

    /* Transpose view then copy is a real transpose. */
    ncmp_tensor mat, tr, out;
    size_t ms[2] = {2, 3}, ts[2] = {3, 2};
    CU_ASSERT_EQUAL_FATAL(ncmp_tensor_view_reshape(&t, 2, (size_t[]){4, 6}, &mat, &err), NCMP_OK);
    CU_ASSERT_EQUAL(ncmp_tensor_view_reshape(&t, 2, ms, &mat, &err), NCMP_ERR_SHAPE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "24 elements"));
    ncmp_tensor small;
    CU_ASSERT_EQUAL_FATAL(ncmp_tensor_alloc(&small, NCMP_FLOAT64, 2, ms, &err), NCMP_OK);
    for (int i = 0; i < 6; i++)
        ((double *)small.data)[i] = i;
    CU_ASSERT_EQUAL_FATAL(ncmp_tensor_view_transpose(&small, 0, 1, &tr, &err), NCMP_OK);
    CU_ASSERT_EQUAL_FATAL(ncmp_tensor_alloc(&out, NCMP_FLOAT64, 2, ts, &err), NCMP_OK);
    CU_ASSERT_EQUAL_FATAL(ncmp_tensor_copy(&out, &tr, &err), NCMP_OK);
    double expect[6] = {0, 3, 1, 4, 2, 5};
    for (int i = 0; i < 6; i++)
        CU_ASSERT_EQUAL(((double *)out.data)[i], expect[i]);

    ncmp_tensor_fill(&small, 2.5);
    CU_ASSERT_EQUAL(((double *)small.data)[5], 2.5);
    CU_ASSERT_EQUAL(ncmp_tensor_count_nonfinite(&small), 0);
    ((double *)small.data)[2] = NAN;
    ((double *)small.data)[3] = INFINITY;
    CU_ASSERT_EQUAL(ncmp_tensor_count_nonfinite(&small), 2);

    char text[64];
    ncmp_tensor_shape_string(&t, text, sizeof text);
    CU_ASSERT_STRING_EQUAL(text, "[2, 3, 4]");
    CU_ASSERT_EQUAL(ncmp_tensor_alloc(&bad, NCMP_FLOAT32, 9, shape, &err), NCMP_ERR_SHAPE);
    size_t huge[2] = {SIZE_MAX / 2, 4};
    CU_ASSERT_EQUAL(ncmp_tensor_alloc(&bad, NCMP_FLOAT32, 2, huge, &err), NCMP_ERR_NOMEM);

    ncmp_tensor_release(&v); /* views: no-op */
    ncmp_tensor_release(&small);
    ncmp_tensor_release(&out);
    ncmp_tensor_release(&dst);
    ncmp_tensor_release(&t);
    CU_ASSERT_PTR_NULL(t.data);
}

/* ---- RNG ---------------------------------------------------------------------------- */

static void test_rng_matches_python_reference(void)
{
    FILE *f = fopen(test_fixture_path("core/rng.txt"), "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char line[4096];
    int records = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        char kind[16];
        unsigned long long seed;
        int off = 0;
        if (sscanf(line, "%15s %llu%n", kind, &seed, &off) != 2)
            continue;
        char *p = line + off;
        ncmp_rng g;
        ncmp_rng_seed(&g, seed);
        int n;
        if (!strcmp(kind, "u64")) {
            unsigned long long want;
            while (sscanf(p, "%llu%n", &want, &n) == 1) {
                CU_ASSERT_EQUAL(ncmp_rng_next_u64(&g), want);
                p += n;
            }
        } else if (!strcmp(kind, "uniform")) {
            double want;
            while (sscanf(p, "%lf%n", &want, &n) == 1) {
                CU_ASSERT_EQUAL(ncmp_rng_uniform(&g), want); /* exact: 53-bit integer / 2^53 */
                p += n;
            }
        } else if (!strcmp(kind, "normal")) {
            double want;
            while (sscanf(p, "%lf%n", &want, &n) == 1) {
                /* libm sin/cos/log may differ in the last ulp across platforms. */
                TEST_ASSERT_CLOSE(ncmp_rng_normal(&g), want, 1e-14);
                p += n;
            }
        } else if (!strcmp(kind, "below") || !strcmp(kind, "perm")) {
            unsigned long long nn, want;
            sscanf(p, "%llu%n", &nn, &n);
            p += n;
            size_t perm[64];
            if (!strcmp(kind, "perm"))
                ncmp_rng_permutation(&g, perm, (size_t)nn);
            size_t k = 0;
            while (sscanf(p, "%llu%n", &want, &n) == 1) {
                if (!strcmp(kind, "below")) {
                    CU_ASSERT_EQUAL(ncmp_rng_below(&g, nn), want);
                } else {
                    CU_ASSERT_EQUAL(perm[k++], want);
                }
                p += n;
            }
        } else if (!strcmp(kind, "stream")) {
            unsigned long long stream, want;
            sscanf(p, "%llu%n", &stream, &n);
            p += n;
            ncmp_rng_seed_stream(&g, seed, stream);
            while (sscanf(p, "%llu%n", &want, &n) == 1) {
                CU_ASSERT_EQUAL(ncmp_rng_next_u64(&g), want);
                p += n;
            }
        }
        records++;
    }
    fclose(f);
    CU_ASSERT(records >= 30);
}

static void test_rng_statistics(void)
{
    ncmp_rng g;
    ncmp_rng_seed(&g, 7);
    enum { N = 200000 };
    double sum = 0, sum2 = 0, usum = 0;
    for (int i = 0; i < N; i++) {
        double z = ncmp_rng_normal(&g);
        sum += z;
        sum2 += z * z;
        double u = ncmp_rng_uniform(&g);
        CU_ASSERT(u >= 0 && u < 1);
        usum += u;
    }
    /* 5-sigma bounds for the sample moments. */
    CU_ASSERT(fabs(sum / N) < 5 / sqrt(N));
    CU_ASSERT(fabs(sum2 / N - 1) < 5 * sqrt(2.0 / N));
    CU_ASSERT(fabs(usum / N - 0.5) < 5 * sqrt(1.0 / 12 / N));
    /* Same seed, same stream; different seeds differ. */
    ncmp_rng a, b;
    ncmp_rng_seed(&a, 99);
    ncmp_rng_seed(&b, 99);
    for (int i = 0; i < 100; i++)
        CU_ASSERT_EQUAL(ncmp_rng_next_u64(&a), ncmp_rng_next_u64(&b));
    ncmp_rng_seed(&b, 100);
    CU_ASSERT_NOT_EQUAL(ncmp_rng_next_u64(&a), ncmp_rng_next_u64(&b));
    size_t perm[1000];
    int seen[1000] = {0};
    ncmp_rng_permutation(&g, perm, 1000);
    for (int i = 0; i < 1000; i++)
        seen[perm[i]]++;
    for (int i = 0; i < 1000; i++)
        CU_ASSERT_EQUAL(seen[i], 1);
}

/* ---- SHA-256 ----------------------------------------------------------------------- */

/* The digest cache must not hide a change: same size, new content and mtime. */
static void test_sha256_rehashes_changed_file(void)
{
    const char *path = test_tmp_path("sha-cache.bin");
    char first[NCMP_SHA256_HEX_LEN], again[NCMP_SHA256_HEX_LEN], changed[NCMP_SHA256_HEX_LEN];
    char expect[NCMP_SHA256_HEX_LEN];
    ncmp_error err;
    FILE *f = fopen(path, "wb");
    CU_ASSERT_FATAL(f != NULL);
    fputs("abc", f);
    fclose(f);
    CU_ASSERT_EQUAL(ncmp_sha256_file(path, first, &err), NCMP_OK);
    CU_ASSERT_EQUAL(ncmp_sha256_file(path, again, &err), NCMP_OK);
    CU_ASSERT_STRING_EQUAL(first, again);
    f = fopen(path, "wb");
    CU_ASSERT_FATAL(f != NULL);
    fputs("abd", f);
    fclose(f);
    struct timespec times[2] = {{0, UTIME_OMIT}, {12345, 678}}; /* a different mtime even on coarse clocks */
    CU_ASSERT_EQUAL(utimensat(AT_FDCWD, path, times, 0), 0);
    CU_ASSERT_EQUAL(ncmp_sha256_file(path, changed, &err), NCMP_OK);
    ncmp_sha256_buffer("abd", 3, expect);
    CU_ASSERT_STRING_EQUAL(changed, expect);
    CU_ASSERT_STRING_NOT_EQUAL(changed, first);
    test_remove(path);
}

static void test_sha256_matches_hashlib(void)
{
    FILE *f = fopen(test_fixture_path("core/sha256.txt"), "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char line[512], kind[32], want[80];
    size_t len;
    int checked = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || sscanf(line, "%31s %zu %79s", kind, &len, want) != 3)
            continue;
        unsigned char *data = malloc(len + 1);
        if (!strcmp(kind, "pattern"))
            for (size_t i = 0; i < len; i++)
                data[i] = (unsigned char)((i * 31 + (i >> 8)) & 0xFF);
        else if (!strcmp(kind, "abc"))
            memcpy(data, "abc", 3);
        char hex[NCMP_SHA256_HEX_LEN];
        ncmp_sha256_buffer(data, len, hex);
        CU_ASSERT_STRING_EQUAL(hex, want);
        /* The streamed file path must give the same digest. */
        const char *path = test_tmp_path("sha.bin");
        FILE *out = fopen(path, "wb");
        fwrite(data, 1, len, out);
        fclose(out);
        ncmp_error err;
        CU_ASSERT_EQUAL(ncmp_sha256_file(path, hex, &err), NCMP_OK);
        CU_ASSERT_STRING_EQUAL(hex, want);
        test_remove(path);
        free(data);
        checked++;
    }
    fclose(f);
    CU_ASSERT_EQUAL(checked, 3);
    ncmp_error err;
    char hex[NCMP_SHA256_HEX_LEN];
    CU_ASSERT_EQUAL(ncmp_sha256_file("/nonexistent/file.npy", hex, &err), NCMP_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "/nonexistent/file.npy"));
}

/* ---- HDF5 helpers ----------------------------------------------------------------- */

static void test_h5_atomic_commit_and_exists(void)
{
    ncmp_error err;
    const char *path = test_tmp_path("atomic.h5");
    char partial[4200];
    snprintf(partial, sizeof partial, "%s.partial", path);
    test_remove(path);
    ncmp_h5_output out;
    CU_ASSERT_EQUAL_FATAL(ncmp_h5_output_begin(&out, path, 0, &err), NCMP_OK);
    CU_ASSERT(test_file_exists(partial));
    CU_ASSERT_FALSE(test_file_exists(path)); /* nothing at the final path while writing */
    CU_ASSERT_EQUAL(ncmp_h5_attr_set_string(out.file, "arch", "vgg16-cnnf", &err), NCMP_OK);
    CU_ASSERT_EQUAL(ncmp_h5_output_commit(&out, &err), NCMP_OK);
    CU_ASSERT(test_file_exists(path));
    CU_ASSERT_FALSE(test_file_exists(partial));

    hid_t f;
    CU_ASSERT_EQUAL_FATAL(ncmp_h5_open_read(path, true, &f, &err), NCMP_OK);
    char *arch = NULL;
    CU_ASSERT_EQUAL(ncmp_h5_attr_get_string(f, "arch", &arch, &err), NCMP_OK);
    CU_ASSERT_STRING_EQUAL(arch, "vgg16-cnnf");
    free(arch);
    H5Fclose(f);

    /* An existing output is never overwritten without the overwrite flag. */
    CU_ASSERT_EQUAL(ncmp_h5_output_begin(&out, path, 0, &err), NCMP_ERR_EXISTS);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "--force"));
    CU_ASSERT_EQUAL(ncmp_h5_output_begin(&out, path, NCMP_H5_OVERWRITE, &err), NCMP_OK);
    /* Until commit, the old complete file is still in place. */
    CU_ASSERT_EQUAL(ncmp_h5_open_read(path, true, &f, &err), NCMP_OK);
    H5Fclose(f);
    ncmp_h5_output_abort(&out, false);
    CU_ASSERT(test_file_exists(path));
    CU_ASSERT_FALSE(test_file_exists(partial));
    test_remove(path);
}

static void test_h5_unwritable_destinations(void)
{
    ncmp_error err;
    ncmp_h5_output out;
    CU_ASSERT_EQUAL(ncmp_h5_output_begin(&out, "/nonexistent-dir/sub/out.h5", 0, &err), NCMP_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "'/nonexistent-dir/sub'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "does not exist"));

    /* Parent is a regular file. */
    const char *file = test_tmp_path("plainfile");
    FILE *f = fopen(file, "w");
    fclose(f);
    char under[4200];
    snprintf(under, sizeof under, "%s/out.h5", file);
    CU_ASSERT_EQUAL(ncmp_h5_output_begin(&out, under, 0, &err), NCMP_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "not a directory"));
    test_remove(file);

    /* A directory without write permission (root bypasses permissions, so
     * use a read-only mount point there: /proc refuses new files). */
    const char *dir = test_tmp_path("readonly-dir");
    mkdir(dir, 0555);
    chmod(dir, 0555);
    char inside[4200];
    snprintf(inside, sizeof inside, "%s/out.h5", geteuid() == 0 ? "/proc" : dir);
    CU_ASSERT_EQUAL(ncmp_h5_output_begin(&out, inside, 0, &err), NCMP_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, geteuid() == 0 ? "/proc" : dir));
    CU_ASSERT_FALSE(test_file_exists(inside));
    rmdir(dir);

    /* The output path is a directory. */
    CU_ASSERT_EQUAL(ncmp_h5_output_begin(&out, "/tmp", 0, &err), NCMP_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "is a directory"));
}

static void test_h5_interrupted_write_leaves_no_final_file(void)
{
    const char *path = test_tmp_path("killed.h5");
    char partial[4200];
    snprintf(partial, sizeof partial, "%s.partial", path);
    test_remove(path);
    test_remove(partial);
    fflush(NULL);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        ncmp_error err;
        ncmp_h5_output out;
        if (ncmp_h5_output_begin(&out, path, 0, &err))
            _exit(3);
        double data[1000];
        for (int i = 0; i < 1000; i++)
            data[i] = i;
        hsize_t dims[1] = {1000};
        CU_ASSERT_EQUAL_FATAL(
            ncmp_h5_write_array(out.file, "values", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dims, data, &err), NCMP_OK);
        H5Fflush(out.file, H5F_SCOPE_GLOBAL);
        raise(SIGKILL); /* killed mid-run: no commit, no cleanup */
        _exit(4);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    CU_ASSERT_FALSE(test_file_exists(path));
    CU_ASSERT(test_file_exists(partial));
    /* The partial file is readable but refused by readers that need complete files. */
    ncmp_error err;
    hid_t f;
    CU_ASSERT_EQUAL(ncmp_h5_open_read(partial, true, &f, &err), NCMP_ERR_INCOMPLETE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "incomplete"));
    /* --resume reopens it with its content. */
    ncmp_h5_output out;
    CU_ASSERT_EQUAL_FATAL(ncmp_h5_output_begin(&out, path, NCMP_H5_RESUME, &err), NCMP_OK);
    CU_ASSERT(out.resumed);
    int rank;
    hsize_t dims[NCMP_H5_MAX_RANK];
    CU_ASSERT_EQUAL(ncmp_h5_dataset_shape(out.file, "values", &rank, dims, &err), NCMP_OK);
    CU_ASSERT_EQUAL(dims[0], 1000);
    CU_ASSERT_EQUAL(ncmp_h5_output_commit(&out, &err), NCMP_OK);
    CU_ASSERT_EQUAL(ncmp_h5_open_read(path, true, &f, &err), NCMP_OK);
    H5Fclose(f);
    test_remove(path);
}

static void test_h5_attributes_and_strings(void)
{
    ncmp_error err;
    const char *path = test_tmp_path("attrs.h5");
    test_remove(path);
    ncmp_h5_output out;
    CU_ASSERT_EQUAL_FATAL(ncmp_h5_output_begin(&out, path, 0, &err), NCMP_OK);
    hid_t f = out.file;
    CU_ASSERT_EQUAL(ncmp_h5_attr_set_int64(f, "iterations", 5, &err), NCMP_OK);
    CU_ASSERT_EQUAL(ncmp_h5_attr_set_double(f, "step", 0.1, &err), NCMP_OK);
    CU_ASSERT_EQUAL(ncmp_h5_attr_set_string(f, "note", "V4 \xc3\xa9t\xc3\xa9", &err), NCMP_OK);
    CU_ASSERT_EQUAL(ncmp_h5_attr_set_string(f, "note", "replaced", &err), NCMP_OK);
    double edges[3] = {70, 170, 270};
    CU_ASSERT_EQUAL(ncmp_h5_attr_set_double_array(f, "edges", edges, 3, &err), NCMP_OK);
    /* A fixed-length string attribute, as other tools write them. */
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, 6);
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, "fixed", t, s, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, "abcdef");
    H5Aclose(a);
    H5Sclose(s);
    H5Tclose(t);

    const char *ids[4] = {"image0001", "", "caf\xc3\xa9", "image0640"};
    CU_ASSERT_EQUAL(ncmp_h5_write_strings(f, "stimulus_id", ids, 4, &err), NCMP_OK);
    CU_ASSERT_EQUAL(ncmp_h5_write_strings(f, "empty", ids, 0, &err), NCMP_OK);
    CU_ASSERT_EQUAL(ncmp_h5_output_commit(&out, &err), NCMP_OK);

    CU_ASSERT_EQUAL_FATAL(ncmp_h5_open_read(path, true, &f, &err), NCMP_OK);
    long long iv;
    double dv;
    char *sv = NULL;
    CU_ASSERT_EQUAL(ncmp_h5_attr_get_int64(f, "iterations", &iv, &err), NCMP_OK);
    CU_ASSERT_EQUAL(iv, 5);
    CU_ASSERT_EQUAL(ncmp_h5_attr_get_double(f, "step", &dv, &err), NCMP_OK);
    CU_ASSERT_EQUAL(dv, 0.1);
    CU_ASSERT_EQUAL(ncmp_h5_attr_get_double(f, "iterations", &dv, &err), NCMP_OK);  /* ints read as numbers */
    CU_ASSERT_EQUAL(ncmp_h5_attr_get_int64(f, "step", &iv, &err), NCMP_ERR_FORMAT); /* floats are not ints */
    CU_ASSERT_EQUAL(ncmp_h5_attr_get_string(f, "note", &sv, &err), NCMP_OK);
    CU_ASSERT_STRING_EQUAL(sv, "replaced");
    free(sv);
    CU_ASSERT_EQUAL(ncmp_h5_attr_get_string(f, "fixed", &sv, &err), NCMP_OK);
    CU_ASSERT_STRING_EQUAL(sv, "abcdef");
    free(sv);
    CU_ASSERT_EQUAL(ncmp_h5_attr_get_string(f, "missing", &sv, &err), NCMP_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "'missing'"));
    CU_ASSERT_EQUAL(ncmp_h5_attr_get_string(f, "step", &sv, &err), NCMP_ERR_FORMAT);

    char **got = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL(ncmp_h5_read_strings(f, "stimulus_id", &got, &n, &err), NCMP_OK);
    CU_ASSERT_EQUAL_FATAL(n, 4);
    for (size_t i = 0; i < 4; i++)
        CU_ASSERT_STRING_EQUAL(got[i], ids[i]);
    ncmp_strings_free(got, n);
    CU_ASSERT_EQUAL(ncmp_h5_read_strings(f, "empty", &got, &n, &err), NCMP_OK);
    CU_ASSERT_EQUAL(n, 0);
    ncmp_strings_free(got, n);
    CU_ASSERT_EQUAL(ncmp_h5_read_strings(f, "nothere", &got, &n, &err), NCMP_ERR_NOT_FOUND);
    H5Fclose(f);
    test_remove(path);
}

static void test_h5_chunked_extendible_and_scales(void)
{
    ncmp_error err;
    const char *path = test_tmp_path("chunked.h5");
    test_remove(path);
    ncmp_h5_output out;
    CU_ASSERT_EQUAL_FATAL(ncmp_h5_output_begin(&out, path, 0, &err), NCMP_OK);
    hsize_t dims[3] = {2, 0, 5}, maxdims[3] = {2, H5S_UNLIMITED, 5}, chunk[3] = {1, 4, 5};
    hid_t d;
    CU_ASSERT_EQUAL_FATAL(
        ncmp_h5_create_chunked(out.file, "/activations/block1", H5T_IEEE_F32LE, 3, dims, maxdims, chunk, 4, &d, &err),
        NCMP_OK);
    float block[2 * 3 * 5];
    for (hsize_t start = 0; start < 9; start += 3) {
        for (int i = 0; i < 30; i++)
            block[i] = (float)(start * 100 + (hsize_t)i);
        hsize_t s[3] = {0, start, 0}, c[3] = {2, 3, 5};
        CU_ASSERT_EQUAL(ncmp_h5_write_block(d, H5T_NATIVE_FLOAT, s, c, block, &err), NCMP_OK);
    }
    /* Growing a fixed axis is refused with the extent named. */
    hsize_t s_bad[3] = {1, 0, 0}, c_bad[3] = {2, 1, 5};
    CU_ASSERT_EQUAL(ncmp_h5_write_block(d, H5T_NATIVE_FLOAT, s_bad, c_bad, block, &err), NCMP_ERR_SHAPE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "axis 0"));

    const char *ids[9] = {"a", "b", "c", "d", "e", "f", "g", "h", "i"};
    CU_ASSERT_EQUAL(ncmp_h5_write_strings(out.file, "stimulus_id", ids, 9, &err), NCMP_OK);
    hid_t scale = H5Dopen2(out.file, "stimulus_id", H5P_DEFAULT);
    CU_ASSERT_EQUAL(ncmp_h5_make_scale(scale, "stimulus_id", &err), NCMP_OK);
    CU_ASSERT_EQUAL(ncmp_h5_attach_scale(d, scale, 1, &err), NCMP_OK);
    CU_ASSERT(H5DSis_attached(d, scale, 1) > 0);
    H5Dclose(scale);
    H5Dclose(d);
    CU_ASSERT_EQUAL(ncmp_h5_output_commit(&out, &err), NCMP_OK);

    hid_t f;
    CU_ASSERT_EQUAL_FATAL(ncmp_h5_open_read(path, true, &f, &err), NCMP_OK);
    int rank;
    hsize_t got_dims[NCMP_H5_MAX_RANK];
    CU_ASSERT_EQUAL(ncmp_h5_dataset_shape(f, "activations/block1", &rank, got_dims, &err), NCMP_OK);
    CU_ASSERT_EQUAL(rank, 3);
    CU_ASSERT_EQUAL(got_dims[1], 9);
    d = H5Dopen2(f, "activations/block1", H5P_DEFAULT);
    float back[2 * 9 * 5];
    hsize_t s0[3] = {0, 0, 0};
    CU_ASSERT_EQUAL(ncmp_h5_read_block(d, H5T_NATIVE_FLOAT, s0, got_dims, back, &err), NCMP_OK);
    /* element [i, j, k] was written as (j/3*3)*100 + i*15 + (j%3)*5 + k */
    int bad = 0;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 9; j++)
            for (int k = 0; k < 5; k++)
                bad += back[(i * 9 + j) * 5 + k] != (float)((j / 3 * 3) * 100 + i * 15 + (j % 3) * 5 + k);
    CU_ASSERT_EQUAL(bad, 0);
    hsize_t beyond[3] = {2, 10, 5};
    CU_ASSERT_EQUAL(ncmp_h5_read_block(d, H5T_NATIVE_FLOAT, s0, beyond, back, &err), NCMP_ERR_SHAPE);
    H5Dclose(d);
    CU_ASSERT_EQUAL(ncmp_h5_dataset_shape(f, "activations/nope", &rank, got_dims, &err), NCMP_ERR_NOT_FOUND);
    H5Fclose(f);
    test_remove(path);
}

static void test_h5_bad_files(void)
{
    ncmp_error err;
    hid_t f;
    CU_ASSERT_EQUAL(ncmp_h5_open_read("/nonexistent/acts.h5", true, &f, &err), NCMP_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "/nonexistent/acts.h5"));
    const char *text = test_tmp_path("not-hdf5.h5");
    FILE *t = fopen(text, "w");
    fputs("stimulus_id,filename\n", t);
    fclose(t);
    CU_ASSERT_EQUAL(ncmp_h5_open_read(text, false, &f, &err), NCMP_ERR_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "not an HDF5 file"));
    test_remove(text);

    /* A truncated HDF5 file: an error, never a crash. */
    const char *path = test_tmp_path("truncated.h5");
    test_remove(path);
    ncmp_h5_output out;
    CU_ASSERT_EQUAL_FATAL(ncmp_h5_output_begin(&out, path, 0, &err), NCMP_OK);
    double big[20000];
    for (int i = 0; i < 20000; i++)
        big[i] = i;
    hsize_t dims[1] = {20000};
    CU_ASSERT_EQUAL_FATAL(ncmp_h5_write_array(out.file, "x", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dims, big, &err),
                          NCMP_OK);
    CU_ASSERT_EQUAL(ncmp_h5_output_commit(&out, &err), NCMP_OK);
    CU_ASSERT_EQUAL(truncate(path, 4096), 0);
    ncmp_status st = ncmp_h5_open_read(path, true, &f, &err);
    if (st == NCMP_OK) {
        /* Some truncations still open; reading the data must then fail cleanly. */
        hid_t d = H5Dopen2(f, "x", H5P_DEFAULT);
        hsize_t s[1] = {0};
        st = d < 0 ? NCMP_ERR_FORMAT : ncmp_h5_read_block(d, H5T_NATIVE_DOUBLE, s, dims, big, &err);
        if (d >= 0)
            H5Dclose(d);
        H5Fclose(f);
    }
    CU_ASSERT_NOT_EQUAL(st, NCMP_OK);
    test_remove(path);
}

static herr_t count_h5_prints(hid_t stack, void *data)
{
    (void)stack;
    (*(int *)data)++;
    return 0;
}

/* The library reports HDF5 errors through ncmp_error and leaves HDF5's own
 * printing as the application set it (core/h5.h). */
static void test_h5_error_printing_left_to_application(void)
{
    H5E_auto2_t old_func;
    void *old_data;
    H5Eget_auto2(H5E_DEFAULT, &old_func, &old_data);
    int prints = 0;
    H5Eset_auto2(H5E_DEFAULT, count_h5_prints, &prints);

    const char *path = test_tmp_path("printing.h5");
    test_remove(path);
    ncmp_error err;
    ncmp_h5_output out;
    CU_ASSERT_EQUAL_FATAL(ncmp_h5_output_begin(&out, path, 0, &err), NCMP_OK);
    /* /iteration as strings: the activations reader's own H5Dread fails. */
    const char *ids[2] = {"a", "b"};
    CU_ASSERT_EQUAL(ncmp_h5_write_strings(out.file, "stimulus_id", ids, 2, &err), NCMP_OK);
    CU_ASSERT_EQUAL(ncmp_h5_write_strings(out.file, "iteration", ids, 2, &err), NCMP_OK);
    CU_ASSERT_EQUAL(ncmp_h5_output_commit(&out, &err), NCMP_OK);
    hid_t f;
    CU_ASSERT_EQUAL_FATAL(ncmp_h5_open_read(path, true, &f, &err), NCMP_OK);
    long long v;
    CU_ASSERT_NOT_EQUAL(ncmp_h5_attr_get_int64(f, "no_such_attribute", &v, &err), NCMP_OK);
    H5Fclose(f);
    ncmp_activations *a = NULL;
    CU_ASSERT_NOT_EQUAL(ncmp_activations_open(path, &a, &err), NCMP_OK); /* cannot read /iteration */
    CU_ASSERT_EQUAL(prints, 0);

    H5E_auto2_t now_func;
    void *now_data;
    H5Eget_auto2(H5E_DEFAULT, &now_func, &now_data);
    CU_ASSERT(now_func == count_h5_prints && now_data == &prints);
    /* The handler is live: HDF5 called directly prints (counts) once. */
    hid_t bad = H5Fopen("/nonexistent/x.h5", H5F_ACC_RDONLY, H5P_DEFAULT);
    CU_ASSERT(bad < 0);
    CU_ASSERT_EQUAL(prints, 1);
    H5Eset_auto2(H5E_DEFAULT, old_func, old_data);
    test_remove(path);
}

static void test_provenance_attributes(void)
{
    char *argv[] = {"neurocmp", "export", "--out", "my file.h5", "--note", "it's"};
    ncmp_provenance_set_command_line(6, argv);
    CU_ASSERT_STRING_EQUAL(ncmp_provenance_command_line(), "neurocmp export --out 'my file.h5' --note 'it'\\''s'");
    ncmp_error err;
    const char *path = test_tmp_path("prov.h5");
    const char *input = test_tmp_path("input.txt");
    FILE *in = fopen(input, "w");
    fputs("abc", in);
    fclose(in);
    test_remove(path);
    ncmp_h5_output out;
    CU_ASSERT_EQUAL_FATAL(ncmp_h5_output_begin(&out, path, 0, &err), NCMP_OK);
    CU_ASSERT_EQUAL(ncmp_provenance_write_h5(out.file, &err), NCMP_OK);
    CU_ASSERT_EQUAL(ncmp_provenance_add_input_h5(out.file, "weights", input, &err), NCMP_OK);
    CU_ASSERT_EQUAL(ncmp_provenance_add_input_h5(out.file, "stimuli", "/nonexistent", &err), NCMP_ERR_IO);
    CU_ASSERT_EQUAL(ncmp_h5_output_commit(&out, &err), NCMP_OK);
    hid_t f;
    CU_ASSERT_EQUAL_FATAL(ncmp_h5_open_read(path, true, &f, &err), NCMP_OK);
    char *v = NULL;
    CU_ASSERT_EQUAL(ncmp_h5_attr_get_string(f, "weights_sha256", &v, &err), NCMP_OK);
    CU_ASSERT_STRING_EQUAL(v, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    free(v);
    CU_ASSERT_EQUAL(ncmp_h5_attr_get_string(f, "command_line", &v, &err), NCMP_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(v, "'my file.h5'"));
    free(v);
    const char *names[] = {"neurocmp_version", "created_utc", "hdf5_version", "gsl_version", "blas"};
    for (int i = 0; i < 5; i++) {
        CU_ASSERT_EQUAL(ncmp_h5_attr_get_string(f, names[i], &v, &err), NCMP_OK);
        CU_ASSERT(v && strlen(v) > 0);
        free(v);
    }
    H5Fclose(f);
    test_remove(path);
    test_remove(input);
    ncmp_provenance_clear();
    CU_ASSERT_STRING_EQUAL(ncmp_provenance_command_line(), "");
}

static void test_paths(void)
{
    ncmp_error err;
    char out[4096];
    CU_ASSERT_EQUAL(ncmp_data_path("datasets/cowley2023-v4-210325/LICENSE", out, sizeof out, &err), NCMP_OK);
    CU_ASSERT(test_file_exists(out));
    CU_ASSERT_EQUAL(ncmp_data_path("no/such/file.spec", out, sizeof out, &err), NCMP_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "no/such/file.spec"));
    const char *dir = test_tmp_path("a/b/c");
    CU_ASSERT_EQUAL(ncmp_make_directories(dir, &err), NCMP_OK);
    struct stat sb;
    CU_ASSERT(stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode));
    CU_ASSERT_EQUAL(ncmp_make_directories("/proc/self/cannot/here", &err), NCMP_ERR_IO);
    /* durable rename: moved into place; a missing partial or folder is an error naming it */
    char partial[4096], final[4096];
    snprintf(partial, sizeof partial, "%s", test_tmp_path("out.json.partial"));
    snprintf(final, sizeof final, "%s", test_tmp_path("out.json"));
    FILE *f = fopen(partial, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs("{}\n", f);
    fclose(f);
    CU_ASSERT_EQUAL(ncmp_rename_durable(partial, final, &err), NCMP_OK);
    CU_ASSERT(test_file_exists(final) && !test_file_exists(partial));
    CU_ASSERT_EQUAL(ncmp_rename_durable(partial, final, &err), NCMP_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "out.json.partial"));
    CU_ASSERT_EQUAL(ncmp_rename_durable(final, "/nonexistent-folder/out.json", &err), NCMP_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "/nonexistent-folder/out.json"));
}

int main(void)
{
    static const test_case status_cases[] = {{"messages and exit codes", test_status_messages},
                                             {"comparisons fail on NaN", test_comparison_helper_fails_on_nan}};
    static const test_case log_cases[] = {{"levels", test_log_levels},
                                          {"progress plain, tty and quiet", test_progress_plain_and_tty}};
    static const test_case tensor_cases[] = {{"alloc, views, copy", test_tensor_alloc_and_views}};
    static const test_case rng_cases[] = {{"matches Python reference", test_rng_matches_python_reference},
                                          {"statistics and determinism", test_rng_statistics}};
    static const test_case sha_cases[] = {{"matches hashlib", test_sha256_matches_hashlib},
                                          {"rehashes a changed file", test_sha256_rehashes_changed_file}};
    static const test_case h5_cases[] = {
        {"atomic commit, exists, overwrite", test_h5_atomic_commit_and_exists},
        {"unwritable destinations", test_h5_unwritable_destinations},
        {"interrupted write leaves no final file", test_h5_interrupted_write_leaves_no_final_file},
        {"attributes and strings", test_h5_attributes_and_strings},
        {"chunked extendible and scales", test_h5_chunked_extendible_and_scales},
        {"bad files", test_h5_bad_files},
        {"error printing left to the application", test_h5_error_printing_left_to_application},
        {"provenance", test_provenance_attributes},
        {"paths", test_paths},
    };
    static const test_suite suites[] = {
        {"status", TEST_CASES(status_cases)}, {"log", TEST_CASES(log_cases)},    {"tensor", TEST_CASES(tensor_cases)},
        {"rng", TEST_CASES(rng_cases)},       {"sha256", TEST_CASES(sha_cases)}, {"h5", TEST_CASES(h5_cases)},
    };
    return test_run("core", suites, sizeof suites / sizeof suites[0]);
}
