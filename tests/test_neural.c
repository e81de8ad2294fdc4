/* Tests for neural/ (assemblies, netCDF/NPY I/O, ceilings) and core/mt19937, against NumPy, xarray and
 * scikit-learn through the fixtures tests/gen_neural_fixtures.py writes. */
#include "test_util.h"

#include "core/mt19937.h"
#include "core/paths.h"
#include "neural/assembly.h"
#include "neural/ceiling.h"
#include "neural/io.h"
#include "neural/simulate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Split a line into tab-separated fields in place. */
static size_t split_tabs(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(line, "\t\n", &save); tok && n < max; tok = strtok_r(NULL, "\t\n", &save))
        fields[n++] = tok;
    return n;
}

static char *read_line(FILE *f)
{
    char *line = NULL;
    size_t cap = 0;
    if (getline(&line, &cap, f) < 0) {
        free(line);
        return NULL;
    }
    return line;
}

/* ---- MT19937 and ShuffleSplit ----------------------------------------------------- */

static void test_mt19937_matches_numpy_and_sklearn(void)
{
    FILE *f = fopen(test_fixture_path("neural/mt19937.txt"), "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char *line, *fld[2100];
    size_t checked = 0, bad = 0;
    while ((line = read_line(f))) {
        if (line[0] == '#') {
            free(line);
            continue;
        }
        size_t n = split_tabs(line, fld, 2100);
        ncmp_mt19937 mt;
        if (!strcmp(fld[0], "u32") || !strcmp(fld[0], "uniform") || !strcmp(fld[0], "perm")) {
            ncmp_mt19937_seed(&mt, (uint32_t)strtoul(fld[1], NULL, 10));
            size_t k = strtoul(fld[2], NULL, 10);
            CU_ASSERT_EQUAL(n, 3 + k);
            if (!strcmp(fld[0], "u32")) {
                for (size_t i = 0; i < k; i++)
                    bad += ncmp_mt19937_next_u32(&mt) != strtoul(fld[3 + i], NULL, 10);
            } else if (!strcmp(fld[0], "uniform")) {
                for (size_t i = 0; i < k; i++)
                    bad += ncmp_mt19937_uniform(&mt) != strtod(fld[3 + i], NULL); /* bit-identical */
            } else {
                size_t *perm = malloc(k * sizeof *perm);
                ncmp_mt19937_permutation(&mt, perm, k);
                for (size_t i = 0; i < k; i++)
                    bad += perm[i] != strtoul(fld[3 + i], NULL, 10);
                free(perm);
            }
            checked++;
        } else if (!strcmp(fld[0], "split")) {
            size_t nr = strtoul(fld[1], NULL, 10), s = strtoul(fld[2], NULL, 10), ntr, nte;
            CU_ASSERT_EQUAL(ncmp_shuffle_split_sizes(nr, 0.5, &ntr, &nte, NULL), NCMP_OK);
            CU_ASSERT_EQUAL_FATAL(n, 3 + ntr + 1 + nte);
            size_t *tr = malloc(10 * ntr * sizeof *tr), *te = malloc(10 * nte * sizeof *te);
            CU_ASSERT_EQUAL(ncmp_shuffle_split(nr, 0.5, 10, 1, tr, te, NULL), NCMP_OK);
            for (size_t i = 0; i < ntr; i++)
                bad += tr[s * ntr + i] != strtoul(fld[3 + i], NULL, 10);
            CU_ASSERT_STRING_EQUAL(fld[3 + ntr], "|");
            for (size_t i = 0; i < nte; i++)
                bad += te[s * nte + i] != strtoul(fld[4 + ntr + i], NULL, 10);
            free(tr);
            free(te);
            checked++;
        }
        free(line);
    }
    fclose(f);
    CU_ASSERT(checked > 100);
    CU_ASSERT_EQUAL(bad, 0);
    /* One repetition cannot be halved. */
    ncmp_error err;
    size_t a, b;
    CU_ASSERT_EQUAL(ncmp_shuffle_split_sizes(1, 0.5, &a, &b, &err), NCMP_ERR_VALUE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "empty"));
}

/* ---- netCDF reader ------------------------------------------------------------------ */

/* Compare an assembly with the expected text written by the generator; returns mismatches. */
static size_t compare_with_expected(const ncmp_assembly *a, const char *expected)
{
    FILE *f = fopen(test_fixture_path(expected), "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    size_t bad = 0, coords_seen = 0;
    char *line, **fld = malloc(20000 * sizeof *fld);
    while ((line = read_line(f))) {
        size_t n = split_tabs(line, fld, 20000);
        if (!strcmp(fld[0], "dims")) {
            bad += a->n_presentations != strtoul(fld[1], NULL, 10);
            bad += a->n_neuroids != strtoul(fld[2], NULL, 10);
            size_t T = strtoul(fld[3], NULL, 10);
            bad += a->has_time_bins != (T > 0) || a->n_time_bins != (T ? T : 1);
        } else if (!strcmp(fld[0], "data")) {
            size_t total = a->n_presentations * a->n_neuroids * a->n_time_bins;
            bad += n != total + 1;
            for (size_t i = 0; i < total && i + 1 < n; i++) {
                double e = strtod(fld[i + 1], NULL), g = a->data[i];
                bad += !((isnan(e) && isnan(g)) || e == g);
            }
        } else {
            coords_seen++;
            if (!strcmp(fld[0], "time_bin")) {
                const double *v = !strcmp(fld[1], "time_bin_start") ? a->time_bin_start : a->time_bin_end;
                for (size_t i = 0; i + 3 < n; i++)
                    bad += v[i] != strtod(fld[3 + i], NULL);
                free(line);
                continue;
            }
            const ncmp_coord_list *list = !strcmp(fld[0], "presentation") ? &a->presentation : &a->neuroid;
            const ncmp_coord *c = ncmp_coord_find(list, fld[1]);
            if (!c) {
                fprintf(stderr, "\n  coordinate %s missing\n", fld[1]);
                bad++;
            } else {
                bad += n != 3 + list->length;
                for (size_t i = 0; i < list->length && 3 + i < n; i++) {
                    if (fld[2][0] == 's')
                        bad += c->kind != NCMP_COORD_STRING || strcmp(c->strings[i], fld[3 + i]) != 0;
                    else
                        bad += c->kind != (fld[2][0] == 'i' ? NCMP_COORD_INT64 : NCMP_COORD_FLOAT64) ||
                               c->numbers[i] != strtod(fld[3 + i], NULL);
                }
            }
        }
        free(line);
    }
    free(fld);
    fclose(f);
    CU_ASSERT(coords_seen >= 8);
    return bad;
}

static void test_read_brainio_from_xarray(void)
{
    ncmp_error err;
    ncmp_assembly *a;
    CU_ASSERT_EQUAL_FATAL(ncmp_assembly_read_netcdf(test_fixture_path("neural/assembly_bins.nc"), &a, &err), NCMP_OK);
    CU_ASSERT_EQUAL(compare_with_expected(a, "neural/assembly_bins.expected.txt"), 0);
    CU_ASSERT_STRING_EQUAL(a->name, "dicarlo.Test2024");
    ncmp_assembly_free(a);
    /* Older image_id name, float32 data stored (time_bin, neuroid, presentation). */
    CU_ASSERT_EQUAL_FATAL(ncmp_assembly_read_netcdf(test_fixture_path("neural/assembly_old.nc"), &a, &err), NCMP_OK);
    CU_ASSERT_EQUAL(compare_with_expected(a, "neural/assembly_old.expected.txt"), 0);
    const ncmp_coord *sid = ncmp_coord_find(&a->presentation, "stimulus_id");
    CU_ASSERT_PTR_NOT_NULL_FATAL(sid);
    CU_ASSERT_STRING_EQUAL(sid->strings[0], ncmp_coord_find(&a->presentation, "image_id")->strings[0]);
    ncmp_assembly_free(a);
}

static void expect_read_error(const char *fixture, ncmp_status status, const char *needle)
{
    ncmp_error err;
    ncmp_assembly *a = NULL;
    const char *path = test_fixture_path(fixture);
    ncmp_status st = ncmp_assembly_read_netcdf(path, &a, &err);
    CU_ASSERT_EQUAL(st, status);
    CU_ASSERT_PTR_NULL(a);
    if (st == NCMP_OK)
        ncmp_assembly_free(a);
    else {
        if (!strstr(err.message, needle))
            fprintf(stderr, "\n  %s: message '%s' lacks '%s'\n", fixture, err.message, needle);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, needle));
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, fixture)); /* names the file */
    }
}

static void test_bad_netcdf_inputs(void)
{
    expect_read_error("neural/bad_dims.nc", NCMP_ERR_SHAPE,
                      "has dims (stimulus, cell, time_bin); expected presentation");
    expect_read_error("neural/bad_no_stimulus_id.nc", NCMP_ERR_FORMAT, "no 'stimulus_id'");
    expect_read_error("neural/bad_duplicate_neuroid.nc", NCMP_ERR_VALUE, "duplicate neuroid_id 'n1'");
    expect_read_error("neural/bad_all_nan_neuroid.nc", NCMP_ERR_VALUE, "'Chabo_L_4' (index 4) has no value");
    expect_read_error("neural/bad_two_variables.nc", NCMP_ERR_FORMAT, "2 data variables ('a', 'b')");
    expect_read_error("neural/small_ids.txt", NCMP_ERR_FORMAT, "not a netCDF");
    ncmp_error err;
    ncmp_assembly *a = NULL;
    CU_ASSERT_EQUAL(ncmp_assembly_read_netcdf("/nonexistent/x.nc", &a, &err), NCMP_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "/nonexistent/x.nc"));
    /* A truncated copy of a good file. */
    const char *trunc = test_tmp_path("truncated.nc");
    FILE *in = fopen(test_fixture_path("neural/assembly_bins.nc"), "rb"), *out = fopen(trunc, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(in);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    char buf[12000];
    size_t n = fread(buf, 1, sizeof buf, in);
    fwrite(buf, 1, n, out);
    fclose(in);
    fclose(out);
    CU_ASSERT_NOT_EQUAL(ncmp_assembly_read_netcdf(trunc, &a, &err), NCMP_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, trunc));
    test_remove(trunc);
}

/* ---- writer: round trip in C and through xarray ------------------------------------- */

static void test_write_round_trip(void)
{
    ncmp_error err;
    ncmp_assembly *a, *b;
    CU_ASSERT_EQUAL_FATAL(ncmp_assembly_read_netcdf(test_fixture_path("neural/assembly_bins.nc"), &a, &err), NCMP_OK);
    const char *path = test_tmp_path("roundtrip.nc");
    test_remove(path);
    ncmp_input_file in = {"source", test_fixture_path("neural/assembly_bins.nc")};
    CU_ASSERT_EQUAL_FATAL(ncmp_assembly_write_netcdf(a, path, false, &in, 1, &err), NCMP_OK);
    CU_ASSERT(!test_file_exists(test_tmp_path("roundtrip.nc.partial")));
    /* Refuses to replace without overwrite. */
    CU_ASSERT_EQUAL(ncmp_assembly_write_netcdf(a, path, false, NULL, 0, &err), NCMP_ERR_EXISTS);
    CU_ASSERT_EQUAL_FATAL(ncmp_assembly_read_netcdf(path, &b, &err), NCMP_OK);
    CU_ASSERT_EQUAL(compare_with_expected(b, "neural/assembly_bins.expected.txt"), 0);
    ncmp_assembly_free(b);
    /* xarray reads what neurocmp wrote as the same DataArray as the original fixture. */
    const char *py = getenv("NCMP_PYTHON3");
    if (py && py[0]) {
        char cmd[4096];
        snprintf(cmd, sizeof cmd,
                 "%s -c \"import sys, numpy as np, xarray as xr\n"
                 "a = xr.open_dataarray(sys.argv[1]); b = xr.open_dataarray(sys.argv[2])\n"
                 "assert a.dims == b.dims, (a.dims, b.dims)\n"
                 "assert set(a.coords) == set(b.coords), (set(a.coords) ^ set(b.coords))\n"
                 "[np.testing.assert_array_equal(a[c].values, b[c].values) for c in a.coords]\n"
                 "assert all(a[c].dims == b[c].dims for c in a.coords)\n"
                 "np.testing.assert_array_equal(a.values, b.values)\n"
                 "assert a.name == b.name\n"
                 "assert len(xr.open_dataset(sys.argv[2]).attrs['source_sha256']) == 64\n\" '%s' '%s'",
                 py, test_fixture_path("neural/assembly_bins.nc"), path);
        CU_ASSERT_EQUAL(system(cmd), 0);
    } else {
        test_skip("xarray cross-read: NCMP_PYTHON3 unset");
    }
    test_remove(path);
    ncmp_assembly_free(a);
}

/* ---- operations ------------------------------------------------------------------- */

/* 5 presentations (s1 x2, s0 x2, s2), 2 neuroids (V4, IT), 3 bins (0-50, 70-120, 120-170). */
static ncmp_assembly *small_assembly(void)
{
    ncmp_assembly *a;
    CU_ASSERT_EQUAL_FATAL(ncmp_assembly_alloc(5, 2, 3, "r", "small.nc", &a, NULL), NCMP_OK);
    const char *sid[] = {"s1", "s1", "s0", "s0", "s2"}, *obj[] = {"b", "b", "a", "a", "c"};
    const char *nid[] = {"n0", "n1"}, *reg[] = {"V4", "IT"};
    double rep[] = {0, 1, 0, 1, 0};
    CU_ASSERT_EQUAL_FATAL(ncmp_coord_add_strings(&a->presentation, "stimulus_id", sid, NULL), NCMP_OK);
    CU_ASSERT_EQUAL_FATAL(ncmp_coord_add_strings(&a->presentation, "object_name", obj, NULL), NCMP_OK);
    CU_ASSERT_EQUAL_FATAL(ncmp_coord_add_numbers(&a->presentation, "repetition", NCMP_COORD_INT64, rep, NULL), NCMP_OK);
    CU_ASSERT_EQUAL_FATAL(ncmp_coord_add_strings(&a->neuroid, "neuroid_id", nid, NULL), NCMP_OK);
    CU_ASSERT_EQUAL_FATAL(ncmp_coord_add_strings(&a->neuroid, "region", reg, NULL), NCMP_OK);
    double s[] = {0, 70, 120}, e[] = {50, 120, 170};
    memcpy(a->time_bin_start, s, sizeof s);
    memcpy(a->time_bin_end, e, sizeof e);
    for (size_t p = 0; p < 5; p++)
        for (size_t n = 0; n < 2; n++)
            for (size_t t = 0; t < 3; t++)
                *ncmp_assembly_at(a, p, n, t) = 100.0 * (double)p + 10.0 * (double)n + (double)t;
    *ncmp_assembly_at(a, 1, 0, 2) = NAN; /* a missing trial */
    CU_ASSERT_EQUAL(ncmp_assembly_validate(a, NULL), NCMP_OK);
    return a;
}

static void test_operations(void)
{
    ncmp_error err;
    ncmp_assembly *a = small_assembly(), *w, *r, *avg, *al;
    /* Default window 70-170 ms: bins 1 and 2, NaN skipped. */
    CU_ASSERT_EQUAL_FATAL(ncmp_assembly_time_window(a, 70, 170, &w, &err), NCMP_OK);
    CU_ASSERT_EQUAL(w->n_time_bins, 1);
    CU_ASSERT_EQUAL(w->time_bin_start[0], 70);
    CU_ASSERT_EQUAL(w->time_bin_end[0], 170);
    CU_ASSERT_EQUAL(*ncmp_assembly_at(w, 0, 0, 0), 1.5);
    CU_ASSERT_EQUAL(*ncmp_assembly_at(w, 1, 0, 0), 101.0); /* bin 2 was NaN */
    CU_ASSERT_EQUAL(*ncmp_assembly_at(w, 4, 1, 0), 411.5);
    CU_ASSERT_EQUAL(ncmp_assembly_time_window(a, 200, 300, &r, &err), NCMP_ERR_VALUE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "no time bin lies inside 200-300 ms"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "70-120"));
    /* Regions. */
    const char *it[] = {"IT"}, *nope[] = {"V1"};
    CU_ASSERT_EQUAL_FATAL(ncmp_assembly_select_regions(w, it, 1, &r, &err), NCMP_OK);
    CU_ASSERT_EQUAL(r->n_neuroids, 1);
    CU_ASSERT_STRING_EQUAL(ncmp_coord_find(&r->neuroid, "neuroid_id")->strings[0], "n1");
    CU_ASSERT_EQUAL(*ncmp_assembly_at(r, 4, 0, 0), 411.5);
    ncmp_assembly_free(r);
    CU_ASSERT_EQUAL(ncmp_assembly_select_regions(w, nope, 1, &r, &err), NCMP_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "no neuroid in region 'V1' (regions: IT, V4)"));
    /* Repetitions: one presentation per stimulus, sorted; repetition dropped, object_name kept. */
    CU_ASSERT_EQUAL_FATAL(ncmp_assembly_average_repetitions(w, &avg, &err), NCMP_OK);
    CU_ASSERT_EQUAL(avg->n_presentations, 3);
    const ncmp_coord *sid = ncmp_coord_find(&avg->presentation, "stimulus_id");
    CU_ASSERT_STRING_EQUAL(sid->strings[0], "s0");
    CU_ASSERT_STRING_EQUAL(sid->strings[2], "s2");
    CU_ASSERT_STRING_EQUAL(ncmp_coord_find(&avg->presentation, "object_name")->strings[1], "b");
    CU_ASSERT_PTR_NULL(ncmp_coord_find(&avg->presentation, "repetition"));
    CU_ASSERT_EQUAL(*ncmp_assembly_at(avg, 0, 0, 0), 251.5); /* (201.5 + 301.5) / 2 */
    CU_ASSERT_EQUAL(*ncmp_assembly_at(avg, 1, 0, 0), 51.25); /* (1.5 + 101) / 2 */
    /* Align to a list of ids. */
    const char *ids[] = {"s2", "s0"};
    CU_ASSERT_EQUAL_FATAL(ncmp_assembly_align(avg, ids, 2, &al, &err), NCMP_OK);
    CU_ASSERT_STRING_EQUAL(ncmp_coord_find(&al->presentation, "stimulus_id")->strings[0], "s2");
    CU_ASSERT_EQUAL(*ncmp_assembly_at(al, 1, 0, 0), 251.5);
    ncmp_assembly_free(al);
    const char *missing[] = {"s0", "x1", "x2", "x3", "x4", "x5", "x6"};
    CU_ASSERT_EQUAL(ncmp_assembly_align(avg, missing, 7, &al, &err), NCMP_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "6 of 7 stimulus_ids are not in the recordings: 'x1', 'x2'"));
    CU_ASSERT_EQUAL(ncmp_assembly_align(w, ids, 2, &al, &err), NCMP_ERR_VALUE); /* repeated presentations */
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "average the repetitions"));
    /* Single bin selection keeps its edges. */
    CU_ASSERT_EQUAL_FATAL(ncmp_assembly_select_time_bin(a, 2, &r, &err), NCMP_OK);
    CU_ASSERT_EQUAL(r->time_bin_start[0], 120);
    CU_ASSERT(isnan(*ncmp_assembly_at(r, 1, 0, 0)));
    CU_ASSERT_EQUAL(*ncmp_assembly_at(r, 2, 1, 0), 212);
    ncmp_assembly_free(r);
    ncmp_assembly_free(avg);
    ncmp_assembly_free(w);
    ncmp_assembly_free(a);
}

/* ---- ceilings --------------------------------------------------------------------- */

static void test_ceiling_matches_numpy(void)
{
    ncmp_error err;
    ncmp_assembly *a;
    CU_ASSERT_EQUAL_FATAL(ncmp_assembly_read_netcdf(test_fixture_path("neural/assembly_bins.nc"), &a, &err), NCMP_OK);
    FILE *f = fopen(test_fixture_path("neural/ceiling_expected.txt"), "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char *line, *fld[8];
    size_t rows = 0;
    while ((line = read_line(f))) {
        CU_ASSERT_EQUAL_FATAL(split_tabs(line, fld, 8), 5);
        ncmp_assembly *sel = NULL, *win = NULL;
        const char *region = fld[0];
        if (strcmp(region, "all"))
            CU_ASSERT_EQUAL_FATAL(ncmp_assembly_select_regions(a, &region, 1, &sel, &err), NCMP_OK);
        const ncmp_assembly *src = sel ? sel : a;
        bool window = !strcmp(fld[1], "window");
        if (window)
            CU_ASSERT_EQUAL_FATAL(ncmp_assembly_time_window(src, 70, 170, &win, &err), NCMP_OK);
        ncmp_ceiling *c;
        CU_ASSERT_EQUAL_FATAL(ncmp_ceiling_split_half(win ? win : src, NULL, &c, &err), NCMP_OK);
        size_t t = window ? 0 : strtoul(fld[2], NULL, 10);
        /* Same halves, same arithmetic up to summation order: 1e-12. */
        TEST_ASSERT_CLOSE(c->ceiling[t], strtod(fld[3], NULL), 1e-12);
        TEST_ASSERT_CLOSE(c->error[t], strtod(fld[4], NULL), 1e-12);
        CU_ASSERT_EQUAL(c->n_repetitions, 5);
        CU_ASSERT_EQUAL(c->n_stimuli, 12);
        ncmp_ceiling_free(c);
        ncmp_assembly_free(win);
        ncmp_assembly_free(sel);
        free(line);
        rows++;
    }
    fclose(f);
    CU_ASSERT_EQUAL(rows, 18);
    ncmp_assembly_free(a);
}

static void test_ceiling_refuses_without_repetitions(void)
{
    ncmp_error err;
    ncmp_assembly *a;
    ncmp_ceiling *c = NULL;
    CU_ASSERT_EQUAL_FATAL(ncmp_assembly_read_netcdf(test_fixture_path("neural/averaged_no_repetition.nc"), &a, &err),
                          NCMP_OK);
    CU_ASSERT_EQUAL(ncmp_ceiling_split_half(a, NULL, &c, &err), NCMP_ERR_VALUE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "no 'repetition' coordinate"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "averaged_no_repetition.nc"));
    ncmp_assembly_free(a);
    CU_ASSERT_EQUAL_FATAL(ncmp_assembly_read_netcdf(test_fixture_path("neural/one_repetition.nc"), &a, &err), NCMP_OK);
    CU_ASSERT_EQUAL(ncmp_ceiling_split_half(a, NULL, &c, &err), NCMP_ERR_VALUE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "at least 2 distinct repetitions"));
    CU_ASSERT_PTR_NULL(c);
    ncmp_assembly_free(a);
}

static void test_ceiling_json(void)
{
    ncmp_assembly *a = small_assembly();
    ncmp_ceiling *c;
    ncmp_error err;
    CU_ASSERT_EQUAL_FATAL(ncmp_ceiling_split_half(a, NULL, &c, &err), NCMP_OK);
    const char *path = test_tmp_path("ceiling \"q\".json");
    ncmp_ceiling_report rep = {
        test_fixture_path("neural/small_ids.txt"), "V\"4\\", NAN, NAN, a->time_bin_start, a->time_bin_end};
    CU_ASSERT_EQUAL_FATAL(ncmp_ceiling_write_json(c, &rep, path, &err), NCMP_OK);
    const char *py = getenv("NCMP_PYTHON3");
    if (py && py[0]) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd,
                 "%s -c \"import json, sys; d = json.load(open(sys.argv[1]))\n"
                 "assert d['region'] == 'V\\\"4\\\\\\\\', d['region']\n"
                 "assert d['n_repetitions'] == 2 and d['n_stimuli'] == 3 and len(d['ceiling']) == 3\n"
                 "assert len(d['provenance']['input_sha256']) == 64\n\" '%s'",
                 py, path);
        CU_ASSERT_EQUAL(system(cmd), 0);
    }
    test_remove(path);
    ncmp_ceiling_free(c);
    ncmp_assembly_free(a);
}

/* ---- NumPy files and the importer ----------------------------------------------------- */

static void test_npy_reader(void)
{
    ncmp_error err;
    ncmp_npy_array x;
    FILE *f = fopen(test_fixture_path("neural/small_f8.expected.txt"), "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    double expect[60];
    for (int i = 0; i < 60; i++)
        CU_ASSERT_EQUAL(fscanf(f, "%lf", &expect[i]), 1);
    fclose(f);
    const char *files[] = {"neural/small_f8_v1.npy", "neural/small_f8_v3.npy", "neural/small_f4be_v2.npy"};
    for (int k = 0; k < 3; k++) {
        CU_ASSERT_EQUAL_FATAL(ncmp_npy_read(test_fixture_path(files[k]), &x, &err), NCMP_OK);
        CU_ASSERT_EQUAL(x.ndim, 3);
        CU_ASSERT(x.shape[0] == 3 && x.shape[1] == 4 && x.shape[2] == 5);
        size_t bad = 0;
        for (int i = 0; i < 60; i++) {
            double e = k == 2 ? (double)(float)expect[i] : expect[i]; /* float32 file: exact after rounding */
            bad += !((isnan(e) && isnan(x.data[i])) || e == x.data[i]);
        }
        CU_ASSERT_EQUAL(bad, 0);
        ncmp_npy_release(&x);
    }
    CU_ASSERT_EQUAL(ncmp_npy_read(test_fixture_path("neural/bad_fortran.npy"), &x, &err), NCMP_ERR_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "Fortran order"));
    /* spike counts: signed and unsigned integers of 1..8 bytes, either byte order, read as their values */
    const char *counts[] = {"neural/counts_i4.npy", "neural/counts_i2be.npy", "neural/counts_u1.npy",
                            "neural/counts_i8.npy"};
    for (int k = 0; k < 4; k++) {
        CU_ASSERT_EQUAL_FATAL(ncmp_npy_read(test_fixture_path(counts[k]), &x, &err), NCMP_OK);
        size_t bad = 0;
        for (int i = 0; i < 60; i++)
            bad += x.data[i] != (double)(i * 37 % 23 - 5 + (k == 2 ? 5 : 0));
        CU_ASSERT_EQUAL(bad, 0);
        CU_ASSERT(x.ndim == 3 && x.shape[2] == 5);
        ncmp_npy_release(&x);
    }
    CU_ASSERT_EQUAL(ncmp_npy_read(test_fixture_path("neural/bad_complex.npy"), &x, &err), NCMP_ERR_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "dtype '<c8' is not supported"));
    CU_ASSERT_EQUAL(ncmp_npy_read(test_fixture_path("neural/bad_truncated.npy"), &x, &err), NCMP_ERR_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "truncated"));
    CU_ASSERT_EQUAL(ncmp_npy_read(test_fixture_path("neural/small_ids.txt"), &x, &err), NCMP_ERR_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "not a NumPy .npy file"));
}

static void test_import(void)
{
    ncmp_error err;
    ncmp_npy_array x;
    char **ids, **ids_csv;
    size_t n, n_csv;
    CU_ASSERT_EQUAL_FATAL(ncmp_npy_read(test_fixture_path("neural/small_f8_v1.npy"), &x, &err), NCMP_OK);
    CU_ASSERT_EQUAL_FATAL(ncmp_stimulus_ids_read(test_fixture_path("neural/small_ids.txt"), &ids, &n, &err), NCMP_OK);
    CU_ASSERT_EQUAL_FATAL(ncmp_stimulus_ids_read(test_fixture_path("neural/small_ids.csv"), &ids_csv, &n_csv, &err),
                          NCMP_OK);
    CU_ASSERT_EQUAL(n, 4);
    CU_ASSERT_EQUAL(n_csv, 4);
    for (size_t i = 0; i < n && i < n_csv; i++)
        CU_ASSERT_STRING_EQUAL(ids[i], ids_csv[i]);
    ncmp_import_options o = {"V4", "PE", "small.npy"};
    ncmp_assembly *a;
    CU_ASSERT_EQUAL_FATAL(ncmp_assembly_from_responses(&x, (const char *const *)ids, n, &o, &a, &err), NCMP_OK);
    CU_ASSERT_EQUAL(a->n_presentations, 4 * 5 - 2); /* stimulus 'c' lost repeats 3 and 4 */
    CU_ASSERT_EQUAL(a->n_neuroids, 3);
    CU_ASSERT(!a->has_time_bins);
    const ncmp_coord *sid = ncmp_coord_find(&a->presentation, "stimulus_id"),
                     *rep = ncmp_coord_find(&a->presentation, "repetition");
    CU_ASSERT_STRING_EQUAL(sid->strings[5], "b");
    CU_ASSERT_EQUAL(rep->numbers[6], 1);
    CU_ASSERT_STRING_EQUAL(ncmp_coord_find(&a->neuroid, "animal")->strings[2], "PE");
    CU_ASSERT_EQUAL(*ncmp_assembly_at(a, 6, 2, 0), x.data[(2 * 4 + 1) * 5 + 1]);
    CU_ASSERT(isnan(*ncmp_assembly_at(a, 9, 0, 0))); /* neuron 0, stimulus b, repeat 4: NaN kept */
    CU_ASSERT(!isnan(*ncmp_assembly_at(a, 9, 1, 0)));
    ncmp_assembly_free(a);
    /* Mismatched id count, duplicate ids, missing region. */
    CU_ASSERT_EQUAL(ncmp_assembly_from_responses(&x, (const char *const *)ids, 3, &o, &a, &err), NCMP_ERR_SHAPE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "4 stimuli along axis 1 but 3 stimulus ids"));
    const char *dup[] = {"a", "b", "a", "d"};
    CU_ASSERT_EQUAL(ncmp_assembly_from_responses(&x, dup, 4, &o, &a, &err), NCMP_ERR_VALUE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "'a' is given twice"));
    ncmp_import_options none = {NULL, NULL, "small.npy"};
    CU_ASSERT_EQUAL(ncmp_assembly_from_responses(&x, (const char *const *)ids, n, &none, &a, &err), NCMP_ERR_USAGE);
    ncmp_stimulus_ids_free(ids, n);
    ncmp_stimulus_ids_free(ids_csv, n_csv);
    ncmp_npy_release(&x);
}

static void test_bundled_v4_ceiling(void)
{
    char npy[4096], zip[4096];
    ncmp_error err;
    CU_ASSERT_EQUAL_FATAL(
        ncmp_data_path("datasets/cowley2023-v4-210325/responses_raw_210325.npy", npy, sizeof npy, &err), NCMP_OK);
    CU_ASSERT_EQUAL_FATAL(ncmp_data_path("datasets/cowley2023-v4-210325/images_210325.zip", zip, sizeof zip, &err),
                          NCMP_OK);
    FILE *f = fopen(test_fixture_path("neural/v4_ceiling_expected.txt"), "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    size_t en, es, er, ep;
    double ceil_same, err_same, ceil_other;
    CU_ASSERT_EQUAL_FATAL(
        fscanf(f, "%zu %zu %zu %zu %lf %lf %lf", &en, &es, &er, &ep, &ceil_same, &err_same, &ceil_other), 7);
    fclose(f);
    ncmp_npy_array x;
    char **ids;
    size_t n;
    CU_ASSERT_EQUAL_FATAL(ncmp_npy_read(npy, &x, &err), NCMP_OK);
    CU_ASSERT_EQUAL_FATAL(ncmp_stimulus_ids_read(zip, &ids, &n, &err), NCMP_OK);
    CU_ASSERT_STRING_EQUAL(ids[0], "image0001");
    ncmp_import_options o = {"V4", NULL, npy};
    ncmp_assembly *a;
    CU_ASSERT_EQUAL_FATAL(ncmp_assembly_from_responses(&x, (const char *const *)ids, n, &o, &a, &err), NCMP_OK);
    CU_ASSERT_EQUAL(a->n_neuroids, en);
    CU_ASSERT_EQUAL(a->n_presentations, ep);
    ncmp_ceiling *c;
    CU_ASSERT_EQUAL_FATAL(ncmp_ceiling_split_half(a, NULL, &c, &err), NCMP_OK);
    CU_ASSERT_EQUAL(c->n_stimuli, es);
    CU_ASSERT_EQUAL(c->n_repetitions, er);
    /* Same halves as scikit-learn: equal up to rounding. */
    TEST_ASSERT_CLOSE(c->ceiling[0], ceil_same, 1e-12);
    TEST_ASSERT_CLOSE(c->error[0], err_same, 1e-12);
    /* Acceptance: within 0.02 of NumPy with other random halvings. */
    CU_ASSERT(fabs(c->ceiling[0] - ceil_other) < 0.02);
    fprintf(stderr, "\n  V4 ceiling: C %.6f, NumPy same halves %.6f, NumPy seed-2024 halves %.6f\n", c->ceiling[0],
            ceil_same, ceil_other);
    ncmp_ceiling_free(c);
    ncmp_assembly_free(a);
    ncmp_stimulus_ids_free(ids, n);
    ncmp_npy_release(&x);
}

/* ---- simulator -------------------------------------------------------------------- */

/* Median over neuroids of the correlation across stimuli between two time bins of an averaged assembly. */
static double median_bin_correlation(const ncmp_assembly *avg, size_t b0, size_t b1)
{
    size_t S = avg->n_presentations, N = avg->n_neuroids;
    double *r = malloc(N * sizeof *r), *work = malloc(N * sizeof *work);
    for (size_t n = 0; n < N; n++) {
        double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
        for (size_t s = 0; s < S; s++) {
            mx += *ncmp_assembly_at(avg, s, n, b0) / (double)S;
            my += *ncmp_assembly_at(avg, s, n, b1) / (double)S;
        }
        for (size_t s = 0; s < S; s++) {
            double dx = *ncmp_assembly_at(avg, s, n, b0) - mx, dy = *ncmp_assembly_at(avg, s, n, b1) - my;
            sxy += dx * dy;
            sxx += dx * dx;
            syy += dy * dy;
        }
        r[n] = sxy / sqrt(sxx * syy);
    }
    double m = ncmp_nan_median(r, N, work);
    free(r);
    free(work);
    return m;
}

static void test_simulator(void)
{
    ncmp_error err;
    const char *acts = test_fixture_path("neural/activations_small.h5");
    ncmp_simulate_options o;
    ncmp_simulate_defaults(&o);
    char *storage;
    CU_ASSERT_EQUAL_FATAL(ncmp_simulate_parse_bins("block2@0,block2@0,block2@1,block1@2", &o, &storage, &err), NCMP_OK);
    CU_ASSERT_EQUAL(o.n_bins, 4);
    o.snr = 0.3;
    TEST_ASSERT_CLOSE(ncmp_simulate_expected_ceiling(&o), 0.75, 1e-15); /* 10 * 0.3 / (10 * 0.3 + 1) */
    for (int model = 0; model < 2; model++) {
        if (model == 1) {
            o.noise = NCMP_NOISE_POISSON;
            o.rate_hz = 200; /* 4 spikes per 20 ms bin, modulation 1 spike per unit of signal */
            o.snr = 1;
            TEST_ASSERT_CLOSE(ncmp_simulate_expected_ceiling(&o), 2.0 / 3.0, 1e-15);
        }
        ncmp_assembly *a, *b, *avg;
        ncmp_ceiling *c;
        CU_ASSERT_EQUAL_FATAL(ncmp_simulate_responses(acts, &o, &a, &err), NCMP_OK);
        CU_ASSERT_EQUAL(a->n_presentations, 1500);
        CU_ASSERT_EQUAL(a->n_time_bins, 4);
        CU_ASSERT_EQUAL(a->time_bin_start[1], 90);
        CU_ASSERT_PTR_NOT_NULL(ncmp_coord_find(&a->presentation, "object_name"));
        CU_ASSERT_EQUAL_FATAL(ncmp_ceiling_split_half(a, NULL, &c, &err), NCMP_OK);
        /* Tolerance 0.03: the sampling error of a median of 40 split-half correlations over 150 stimuli
         * (measured deviations below 0.016); Poisson clipping at 0 is rarer than 0.3 %. */
        double expected = ncmp_simulate_expected_ceiling(&o);
        for (size_t t = 0; t < 4; t++)
            TEST_ASSERT_CLOSE(c->ceiling[t], expected, 0.03);
        /* Ground truth: bins 0 and 1 read the same source, bin 2 another iteration (independent). */
        CU_ASSERT_EQUAL_FATAL(ncmp_assembly_average_repetitions(a, &avg, &err), NCMP_OK);
        double same = median_bin_correlation(avg, 0, 1), other = median_bin_correlation(avg, 0, 2);
        CU_ASSERT(same > expected - 0.1 && same < expected + 0.1);
        CU_ASSERT(fabs(other) < 0.2);
        /* Same seed, same file content. */
        CU_ASSERT_EQUAL_FATAL(ncmp_simulate_responses(acts, &o, &b, &err), NCMP_OK);
        CU_ASSERT_EQUAL(memcmp(a->data, b->data, 1500 * 40 * 4 * sizeof(double)), 0);
        ncmp_assembly_free(b);
        ncmp_assembly_free(avg);
        ncmp_ceiling_free(c);
        ncmp_assembly_free(a);
    }
    free(storage);
    ncmp_assembly *a = NULL;
    CU_ASSERT_EQUAL(ncmp_simulate_parse_bins("block2@0,block9@1", &o, &storage, &err), NCMP_OK);
    CU_ASSERT_EQUAL(ncmp_simulate_responses(acts, &o, &a, &err), NCMP_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "activations/block9"));
    free(storage);
    CU_ASSERT_EQUAL(ncmp_simulate_parse_bins("block2@7", &o, &storage, &err), NCMP_OK);
    CU_ASSERT_EQUAL(ncmp_simulate_responses(acts, &o, &a, &err), NCMP_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "no iteration 7"));
    free(storage);
    CU_ASSERT_EQUAL(ncmp_simulate_parse_bins("block2", &o, &storage, &err), NCMP_ERR_USAGE);
    CU_ASSERT_EQUAL(ncmp_simulate_parse_bins("@1", &o, &storage, &err), NCMP_ERR_USAGE);
    CU_ASSERT_EQUAL(ncmp_simulate_parse_bins("b@x", &o, &storage, &err), NCMP_ERR_USAGE);
    CU_ASSERT_PTR_NULL(a);
}

int main(void)
{
    static const test_case mt_cases[] = {{"matches NumPy and scikit-learn", test_mt19937_matches_numpy_and_sklearn}};
    static const test_case io_cases[] = {
        {"reads BrainIO files written by xarray", test_read_brainio_from_xarray},
        {"bad netCDF inputs", test_bad_netcdf_inputs},
        {"write, read back, open in xarray", test_write_round_trip},
        {"npy reader", test_npy_reader},
        {"import responses + ids", test_import},
    };
    static const test_case op_cases[] = {{"window, regions, repetitions, align", test_operations}};
    static const test_case ceiling_cases[] = {
        {"matches NumPy per bin, window, region", test_ceiling_matches_numpy},
        {"refuses data without repetitions", test_ceiling_refuses_without_repetitions},
        {"JSON output", test_ceiling_json},
        {"bundled V4 data", test_bundled_v4_ceiling},
    };
    static const test_case sim_cases[] = {{"ceiling and ground truth as designed", test_simulator}};
    static const test_suite suites[] = {{"mt19937", TEST_CASES(mt_cases)},
                                        {"io", TEST_CASES(io_cases)},
                                        {"operations", TEST_CASES(op_cases)},
                                        {"ceiling", TEST_CASES(ceiling_cases)},
                                        {"simulator", TEST_CASES(sim_cases)}};
    return test_run("neural", suites, sizeof suites / sizeof suites[0]);
}
