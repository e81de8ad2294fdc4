/* Tests for analysis/ (splits, PLS, metrics, activations reader, protocol) against scikit-learn 1.2, NumPy and
 * SciPy through the fixtures tests/gen_analysis_fixtures.py writes. */
#include "test_util.h"

#include "results/activations.h"
#include "results/json.h"
#include "analysis/linalg.h"
#include "analysis/linear_score.h"
#include "analysis/metrics.h"
#include "analysis/ridge.h"
#include "analysis/similarity.h"
#include "analysis/pls.h"
#include "analysis/pls_kernel.h"
#include "results/protocol.h"
#include "results/score_json.h"
#include "analysis/splits.h"
#include "core/h5.h"
#include "neural/io.h"
#include "neural/simulate.h"
#include "results/splits_json.h"
#include "results/manifest.h"
#include "results/verify.h"
#include "core/paths.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *read_line(FILE *f)
{
    char *line = NULL;
    size_t cap = 0;
    if (getline(&line, &cap, f) < 0) {
        free(line);
        return NULL;
    }
    size_t n = strlen(line);
    if (n && line[n - 1] == '\n')
        line[n - 1] = 0;
    return line;
}

/* Split on one character in place (empty fields kept). */
static size_t split_on(char *s, char sep, char **fields, size_t max)
{
    size_t n = 0;
    fields[n++] = s;
    for (char *p = s; *p && n < max; p++)
        if (*p == sep) {
            *p = 0;
            fields[n++] = p + 1;
        }
    return n;
}

/* ---- splits ---------------------------------------------------------------------------------- */

static void test_splits_match_sklearn(void)
{
    FILE *f = fopen(test_fixture_path("analysis/splits.txt"), "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char *line;
    size_t cases = 0, compared = 0, bad = 0;
    ncmp_splits *s = NULL;
    size_t split = 0;
    char **labels = NULL;
    while ((line = read_line(f))) {
        if (line[0] == 'S') {
            char *fld[8];
            CU_ASSERT_EQUAL_FATAL(split_on(line, '\t', fld, 8), 7);
            int seed = atoi(fld[2]), k = atoi(fld[3]);
            double frac = strtod(fld[4], NULL);
            size_t n = strtoul(fld[5], NULL, 10);
            ncmp_splits_free(s);
            s = NULL;
            ncmp_error err;
            if (!strcmp(fld[1], "stratified")) {
                free(labels);
                labels = malloc(n * sizeof *labels);
                CU_ASSERT_EQUAL_FATAL(split_on(fld[6], ' ', labels, n), n);
                CU_ASSERT_EQUAL(
                    ncmp_splits_stratified((const char *const *)labels, n, frac, k, (uint32_t)seed, &s, &err), NCMP_OK);
            } else
                CU_ASSERT_EQUAL(ncmp_splits_shuffle(n, frac, k, (uint32_t)seed, &s, &err), NCMP_OK);
            CU_ASSERT_PTR_NOT_NULL_FATAL(s);
            split = 0;
            cases++;
        } else if (line[0] == 'T') {
            CU_ASSERT_FATAL(s && split < s->n_splits);
            char *fld[3];
            CU_ASSERT_EQUAL_FATAL(split_on(line, '\t', fld, 3), 3);
            for (int set = 0; set < 2; set++) {
                char *tok = fld[1 + set], *end;
                const size_t *idx = set ? s->test + s->test_offset[split] : s->train + s->train_offset[split];
                size_t m = set ? ncmp_splits_n_test(s, split) : ncmp_splits_n_train(s, split), i = 0;
                for (;; i++) {
                    unsigned long v = strtoul(tok, &end, 10);
                    if (end == tok)
                        break;
                    bad += i >= m || idx[i] != v;
                    tok = end;
                }
                bad += i != m;
            }
            split++;
            compared++;
        }
        free(line);
    }
    fclose(f);
    ncmp_splits_free(s);
    free(labels);
    CU_ASSERT(cases >= 15);
    CU_ASSERT(compared >= 140);
    CU_ASSERT_EQUAL(bad, 0);
    printf("\n    %zu split sets, %zu splits compared with scikit-learn: %zu indices differ ", cases, compared, bad);
}

static void test_splits_errors_and_json(void)
{
    ncmp_error err;
    ncmp_splits *s = NULL;
    const char *one[] = {"a", "a", "b", "c", "c", "b", "a"};
    CU_ASSERT_EQUAL(ncmp_splits_stratified(one, 4, 0.5, 10, 1, &s, &err), NCMP_ERR_VALUE); /* 'b' has 1 member */
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "class 'b' has only 1 member"));
    CU_ASSERT_EQUAL(ncmp_splits_stratified(one, 7, 0.9, 10, 1, &s, &err), NCMP_ERR_VALUE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "3 classes"));
    CU_ASSERT_EQUAL(ncmp_splits_shuffle(5, 0.1, 10, 1, &s, &err), NCMP_ERR_VALUE);
    CU_ASSERT_PTR_NULL(s);

    /* Round trip through JSON with sample ids. */
    const char *ids[12];
    char names[12][8];
    for (int i = 0; i < 12; i++) {
        snprintf(names[i], sizeof names[i], "s%02d", i);
        ids[i] = names[i];
    }
    CU_ASSERT_EQUAL_FATAL(ncmp_splits_shuffle(12, 0.75, 4, 3, &s, &err), NCMP_OK);
    const char *path = test_tmp_path("splits.json");
    CU_ASSERT_EQUAL_FATAL(ncmp_splits_write_json(s, ids, path, &err), NCMP_OK);
    ncmp_splits *back = NULL;
    CU_ASSERT_EQUAL_FATAL(ncmp_splits_read_json(path, 12, ids, &back, &err), NCMP_OK);
    CU_ASSERT_EQUAL(back->n_splits, 4);
    CU_ASSERT_EQUAL(memcmp(back->train, s->train, 4 * 9 * sizeof(size_t)), 0);
    CU_ASSERT_EQUAL(memcmp(back->test, s->test, 4 * 3 * sizeof(size_t)), 0);
    ncmp_splits_free(back);
    CU_ASSERT_EQUAL(ncmp_splits_read_json(path, 13, NULL, &back, &err), NCMP_ERR_VALUE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "splits are for 12 samples, but there are 13 stimuli"));
    const char *other[12];
    memcpy(other, ids, sizeof other);
    other[5] = "zzz";
    CU_ASSERT_EQUAL(ncmp_splits_read_json(path, 12, other, &back, &err), NCMP_ERR_VALUE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "sample 5 is 's05' in the splits file but 'zzz' here"));
    ncmp_splits_free(s);

    /* Hand-written files: overlap, out of range, bad syntax. */
    struct {
        const char *text, *message;
    } bad[] = {
        {"{\"train\": [[0, 1, 2]], \"test\": [[2, 3]]}", "sample 2 appears twice"},
        {"{\"train\": [[0, 1, 9]], \"test\": [[3]]}", "index 9 is out of range for 5 samples"},
        {"{\"train\": [[0, 1]], \"test\": []}", "1 train sets and 0 test sets"},
        {"{\"train\": [[0, 1.5]], \"test\": [[3]]}", "is not a non-negative integer"},
        {"{\"train\": [[0, 1], \"test\": [[3]]}", "line 1: not valid JSON"},
        {"[1, 2]", "expected a JSON object"},
        /* not JSON, although strtod reads them: the reader is cJSON's */
        {"{\"train\": [[0, inf]], \"test\": [[3]]}", "not valid JSON (near 'inf"},
        {"{\"train\": [[0, nan]], \"test\": [[3]]}", "not valid JSON (near 'nan"},
        {"{\"train\": [[0, 0x1]], \"test\": [[3]]}", "not valid JSON (near 'x1"},
        {"{\"train\": [[0, 1e999]], \"test\": [[3]]}", "out of the range of a double"},
        {"{\"train\": [[0, 1]], \"test\": [[3]]} trailing", "not valid JSON (near 'trailing"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FILE *f = fopen(path, "w");
        fputs(bad[i].text, f);
        fclose(f);
        back = NULL;
        CU_ASSERT_NOT_EQUAL(ncmp_splits_read_json(path, 5, NULL, &back, &err), NCMP_OK);
        CU_ASSERT_PTR_NULL(back);
        if (!strstr(err.message, bad[i].message))
            fprintf(stderr, "\n  case %zu: got '%s'\n", i, err.message);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, bad[i].message));
    }
    FILE *f = fopen(path, "w");
    fputs("{\"train\": [[0, 1, 2], [4, 3]], \"test\": [[3, 4], [0]], \"extra\": {\"x\": [true, null, \"\\u0041\"]}}",
          f);
    fclose(f);
    CU_ASSERT_EQUAL_FATAL(ncmp_splits_read_json(path, 5, NULL, &back, &err), NCMP_OK);
    CU_ASSERT_EQUAL(back->n_splits, 2);
    CU_ASSERT_EQUAL(ncmp_splits_n_train(back, 1), 2);
    CU_ASSERT_EQUAL(ncmp_splits_n_test(back, 1), 1);
    CU_ASSERT_EQUAL(back->train[3], 4);
    ncmp_splits_free(back);
    CU_ASSERT_EQUAL(ncmp_splits_read_json(test_tmp_path("does-not-exist.json"), 5, NULL, &back, &err), NCMP_ERR_IO);
    test_remove(path);
}

/* ---- PLS ----------------------------------------------------------------------------------------- */

static ncmp_npy_array load_npy(const char *name, const char *part)
{
    char rel[256];
    snprintf(rel, sizeof rel, "analysis/pls_%s_%s.npy", name, part);
    ncmp_npy_array a = {0};
    ncmp_error err;
    if (ncmp_npy_read(test_fixture_path(rel), &a, &err))
        fprintf(stderr, "\n  %s\n", err.message);
    return a;
}

static void test_pls_matches_sklearn(void)
{
    ncmp_json_value *cases = NULL;
    ncmp_error err;
    CU_ASSERT_EQUAL_FATAL(ncmp_json_parse_file(test_fixture_path("analysis/pls_cases.json"), &cases, &err), NCMP_OK);
    const ncmp_json_value *list = ncmp_json_get(cases, "cases");
    CU_ASSERT_FATAL(list && list->n >= 8);
    printf("\n");
    for (size_t c = 0; c < list->n; c++) {
        const char *name = ncmp_json_get(&list->items[c], "name")->string;
        int k = (int)ncmp_json_get(&list->items[c], "n_components")->number;
        int fitted = (int)ncmp_json_get(&list->items[c], "n_components_fitted")->number;
        ncmp_npy_array X = load_npy(name, "Xtrain"), Y = load_npy(name, "Ytrain"), T = load_npy(name, "Xtest"),
                       P = load_npy(name, "pred");
        CU_ASSERT_FATAL(X.data && Y.data && T.data && P.data);
        size_t n = X.shape[0], p = X.shape[1], q = Y.shape[1], m = T.shape[0];
        ncmp_pls_options o = {k, 500, 1e-6, NCMP_PLS_NIPALS};
        ncmp_pls *pls = NULL;
        CU_ASSERT_EQUAL_FATAL(ncmp_pls_fit(X.data, n, p, Y.data, q, &o, &pls, &err), NCMP_OK);
        CU_ASSERT_EQUAL(pls->n_components_used, fitted);
        double *pred = malloc(m * q * sizeof *pred);
        CU_ASSERT_EQUAL(ncmp_pls_predict(pls, T.data, m, p, pred, &err), NCMP_OK);
        /* Normalised error max|a-b|/max|b|: the power method stops at tol 1e-6 on the squared
         * change of unit weights, so both implementations stop at the same iteration and differ
         * only by rounding (BLAS summation order), amplified a little by 25 deflations. */
        double e = test_normalised_error_f64(pred, P.data, m * q);
        printf("    %-22s X %zux%zu Y %zu, %d components: normalised error %.2e\n", name, n, p, q, fitted, e);
        CU_ASSERT(e <= 1e-6);
        /* The kernel replay on Xc Xc' (and on centred kernels cut from one Gram matrix of all rows). */
        double *mean = calloc(p, sizeof *mean), *Xc = malloc(n * p * sizeof *Xc), *Tc = malloc(m * p * sizeof *Tc);
        double *K = malloc(n * n * sizeof *K), *Kt = malloc(m * n * sizeof *Kt);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < p; j++)
                mean[j] += X.data[i * p + j] / (double)n;
        for (size_t i = 0; i < n * p; i++)
            Xc[i] = X.data[i] - mean[i % p];
        for (size_t i = 0; i < m * p; i++)
            Tc[i] = T.data[i] - mean[i % p];
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) {
                double acc = 0;
                for (size_t f = 0; f < p; f++)
                    acc += Xc[i * p + f] * Xc[j * p + f];
                K[i * n + j] = acc;
            }
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
                double acc = 0;
                for (size_t f = 0; f < p; f++)
                    acc += Tc[i * p + f] * Xc[j * p + f];
                Kt[i * n + j] = acc;
            }
        ncmp_pls_kernel *km = NULL;
        CU_ASSERT_EQUAL_FATAL(ncmp_pls_kernel_fit(K, n, p, Y.data, q, &o, &km, &err), NCMP_OK);
        CU_ASSERT_EQUAL(km->n_components_used, fitted);
        CU_ASSERT_EQUAL(ncmp_pls_kernel_predict(km, Kt, m, pred, &err), NCMP_OK);
        double ek = test_normalised_error_f64(pred, P.data, m * q);
        /* From one Gram matrix of train + test rows, centred per split. */
        size_t N = n + m, *tr = malloc(n * sizeof *tr), *te = malloc(m * sizeof *te);
        double *all = malloc(N * p * sizeof *all), *G = malloc(N * N * sizeof *G);
        memcpy(all, X.data, n * p * sizeof *all);
        memcpy(all + n * p, T.data, m * p * sizeof *all);
        for (size_t i = 0; i < n; i++)
            tr[i] = i;
        for (size_t i = 0; i < m; i++)
            te[i] = n + i;
        CU_ASSERT_EQUAL(ncmp_gram_matrix(all, N, p, G, &err), NCMP_OK);
        ncmp_pls_kernel_center(G, N, tr, n, te, m, K, Kt);
        ncmp_pls_kernel_free(km);
        km = NULL;
        CU_ASSERT_EQUAL_FATAL(ncmp_pls_kernel_fit(K, n, p, Y.data, q, &o, &km, &err), NCMP_OK);
        CU_ASSERT_EQUAL(ncmp_pls_kernel_predict(km, Kt, m, pred, &err), NCMP_OK);
        double eg = test_normalised_error_f64(pred, P.data, m * q);
        printf("    %-22s kernel: normalised error %.2e; from the Gram matrix: %.2e\n", "", ek, eg);
        CU_ASSERT(ek <= 1e-6);
        CU_ASSERT(eg <= 1e-6);
        ncmp_pls_kernel_free(km);
        free(mean);
        free(Xc);
        free(Tc);
        free(K);
        free(Kt);
        free(tr);
        free(te);
        free(all);
        free(G);
        free(pred);
        ncmp_pls_free(pls);
        ncmp_npy_release(&X);
        ncmp_npy_release(&Y);
        ncmp_npy_release(&T);
        ncmp_npy_release(&P);
    }
    ncmp_json_free(cases);
}

static void test_pls_bad_input(void)
{
    ncmp_error err;
    ncmp_pls *pls = NULL;
    double X[30 * 4], Y[30];
    for (int i = 0; i < 120; i++)
        X[i] = sin(i * 0.7);
    for (int i = 0; i < 30; i++)
        Y[i] = cos(i * 1.3);
    ncmp_pls_options o = {25, 500, 1e-6, NCMP_PLS_NIPALS};
    CU_ASSERT_EQUAL(ncmp_pls_fit(X, 30, 4, Y, 1, &o, &pls, &err), NCMP_ERR_VALUE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "25 components requested but the features have only 4 columns"));
    CU_ASSERT_EQUAL(ncmp_pls_fit(X, 3, 40, Y, 1, &o, &pls, &err), NCMP_ERR_VALUE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "only 3 training stimuli"));
    o.n_components = 2;
    X[4 * 7 + 2] = NAN;
    CU_ASSERT_EQUAL(ncmp_pls_fit(X, 30, 4, Y, 1, &o, &pls, &err), NCMP_ERR_VALUE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "stimulus 7, feature 2 is nan"));
    X[4 * 7 + 2] = 0;
    CU_ASSERT_EQUAL(ncmp_pls_fit(X, 1, 4, Y, 1, &o, &pls, &err), NCMP_ERR_SHAPE);
    CU_ASSERT_PTR_NULL(pls);
    CU_ASSERT_EQUAL_FATAL(ncmp_pls_fit(X, 30, 4, Y, 1, &o, &pls, &err), NCMP_OK);
    double out[2];
    CU_ASSERT_EQUAL(ncmp_pls_predict(pls, X, 1, 3, out, &err), NCMP_ERR_SHAPE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "X has 3 features, the model was fitted on 4"));
    ncmp_pls_free(pls);
}

/* ---- metrics ------------------------------------------------------------------------------------ */

static void test_pearson_and_aggregate(void)
{
    /* r of (1,2,3,4) and (2,4,5,9): by hand, sxy = 11, sxx = 5, syy = 26. */
    double x[] = {1, 2, 3, 4}, y[] = {2, 4, 5, 9}, c[] = {3, 3, 3, 3};
    TEST_ASSERT_CLOSE(ncmp_pearson(x, 1, y, 1, 4), 11 / sqrt(5.0 * 26.0), 1e-15);
    CU_ASSERT(isnan(ncmp_pearson(x, 1, c, 1, 4)));
    CU_ASSERT(isnan(ncmp_pearson(x, 1, y, 1, 1)));
    TEST_ASSERT_CLOSE(ncmp_pearson(x, 2, y, 2, 2), 1.0, 1e-15); /* (1,3) vs (2,5) */
    /* 3 splits x 4 neuroids; NaN neuroids are skipped by the median (xarray skipna). */
    double r[] = {0.1, 0.5, 0.3, NAN, 0.2, 0.4, 0.6, 0.8, NAN, NAN, NAN, NAN};
    double med[3], raw, error;
    ncmp_score_aggregate(r, 3, 4, med, &raw, &error);
    TEST_ASSERT_CLOSE(med[0], 0.3, 1e-15);
    TEST_ASSERT_CLOSE(med[1], 0.5, 1e-15);
    CU_ASSERT(isnan(med[2]));
    TEST_ASSERT_CLOSE(raw, 0.4, 1e-15);
    TEST_ASSERT_CLOSE(error, 0.1 / sqrt(2.0), 1e-15); /* std ddof 0 of (0.3, 0.5) = 0.1 */
}

/* ---- activations file, protocol, end to end ------------------------------------------------------- */

/* Copy a fixture to a temporary path. */
static const char *copy_fixture(const char *rel, const char *name)
{
    const char *dst = test_tmp_path(name);
    FILE *in = fopen(test_fixture_path(rel), "rb"), *out = fopen(dst, "wb");
    CU_ASSERT_FATAL(in && out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        fwrite(buf, 1, n, out);
    fclose(in);
    fclose(out);
    return dst;
}

static void test_activations_reader(void)
{
    ncmp_error err;
    ncmp_activations *a = NULL;
    CU_ASSERT_EQUAL_FATAL(ncmp_activations_open(test_fixture_path("analysis/e2e_activations.h5"), &a, &err), NCMP_OK);
    CU_ASSERT_EQUAL(a->n_stimuli, 125);
    CU_ASSERT_EQUAL(a->n_iterations, 3);
    CU_ASSERT_EQUAL(a->n_layers, 2);
    size_t f = 0, idx = 0;
    CU_ASSERT_EQUAL(ncmp_activations_layer_features(a, "conv", &f, &err), NCMP_OK);
    CU_ASSERT_EQUAL(f, 72);
    CU_ASSERT_EQUAL(ncmp_activations_layer_features(a, "block9", &f, &err), NCMP_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "no layer 'block9'; the file has: conv, fc"));
    CU_ASSERT_EQUAL(ncmp_activations_iteration_index(a, 2, &idx, &err), NCMP_OK);
    CU_ASSERT_EQUAL(idx, 2);
    CU_ASSERT_EQUAL(ncmp_activations_iteration_index(a, 5, &idx, &err), NCMP_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "no iteration 5; the file has iterations 0..2"));
    const char *ids[] = {"img0003", "nope1", "img0001", "nope2"};
    size_t rows[4];
    CU_ASSERT_EQUAL(ncmp_activations_match(a, ids, 4, rows, &err), NCMP_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "2 of the 4 neural stimuli have no activations"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "'nope1', 'nope2'"));
    CU_ASSERT_EQUAL_FATAL(ncmp_activations_match(a, ids, 1, rows, &err), NCMP_OK);
    CU_ASSERT_STRING_EQUAL(a->stimulus_ids[rows[0]], "img0003");
    /* C-order flattening: feature (c, h, w) = c*9 + h*3 + w, read back through HDF5 directly. */
    double feat[72];
    CU_ASSERT_EQUAL_FATAL(ncmp_activations_read_features(a, "conv", 1, rows, 1, feat, &err), NCMP_OK);
    float direct[8 * 3 * 3];
    hid_t d = H5Dopen2(a->file, "activations/conv", H5P_DEFAULT);
    hsize_t start[5] = {1, rows[0], 0, 0, 0}, count[5] = {1, 1, 8, 3, 3};
    CU_ASSERT_EQUAL(ncmp_h5_read_block(d, H5T_NATIVE_FLOAT, start, count, direct, &err), NCMP_OK);
    H5Dclose(d);
    size_t bad = 0;
    for (int i = 0; i < 72; i++)
        bad += feat[i] != (double)direct[i];
    CU_ASSERT_EQUAL(bad, 0);
    /* Streamed Gram matrix in blocks of 3 stimuli (last block partial) = the dense one, once centred. */
    size_t rows20[20];
    for (size_t i = 0; i < 20; i++)
        rows20[i] = (i * 7) % 125;
    double *F = malloc(20 * 72 * sizeof *F), *G1 = malloc(400 * sizeof *G1), *G2 = malloc(400 * sizeof *G2);
    double *K1 = malloc(400 * sizeof *K1), *K2 = malloc(400 * sizeof *K2);
    CU_ASSERT_EQUAL_FATAL(ncmp_activations_read_features(a, "conv", 2, rows20, 20, F, &err), NCMP_OK);
    CU_ASSERT_EQUAL(ncmp_gram_matrix(F, 20, 72, G1, &err), NCMP_OK);
    CU_ASSERT_EQUAL(ncmp_activations_gram(a, "conv", 2, rows20, 20, 3 * 2 * 72 * sizeof(double), G2, &err), NCMP_OK);
    size_t all20[20];
    for (size_t i = 0; i < 20; i++)
        all20[i] = i;
    ncmp_pls_kernel_center(G1, 20, all20, 20, all20, 0, K1, NULL);
    ncmp_pls_kernel_center(G2, 20, all20, 20, all20, 0, K2, NULL);
    double sym = 0;
    for (size_t i = 0; i < 20; i++)
        for (size_t j = 0; j < 20; j++)
            sym = fmax(sym, fabs(G2[i * 20 + j] - G2[j * 20 + i]));
    CU_ASSERT_EQUAL(sym, 0);
    CU_ASSERT(test_normalised_error_f64(K2, K1, 400) < 1e-13);
    free(F);
    free(G1);
    free(G2);
    free(K1);
    free(K2);
    ncmp_activations_close(a);

    /* A NaN feature and an incomplete file, made from copies. */
    const char *nan_path = copy_fixture("analysis/e2e_activations.h5", "nan.h5");
    hid_t file = H5Fopen(nan_path, H5F_ACC_RDWR, H5P_DEFAULT);
    CU_ASSERT_FATAL(file >= 0);
    d = H5Dopen2(file, "activations/conv", H5P_DEFAULT);
    float nanv = NAN;
    hsize_t s1[5] = {2, 7, 1, 2, 0}, c1[5] = {1, 1, 1, 1, 1};
    CU_ASSERT_EQUAL(ncmp_h5_write_block(d, H5T_NATIVE_FLOAT, s1, c1, &nanv, &err), NCMP_OK);
    H5Dclose(d);
    H5Fclose(file);
    CU_ASSERT_EQUAL_FATAL(ncmp_activations_open(nan_path, &a, &err), NCMP_OK);
    size_t row7 = 7;
    double feat7[72];
    CU_ASSERT_EQUAL(ncmp_activations_read_features(a, "conv", 1, &row7, 1, feat7, &err), NCMP_OK);
    CU_ASSERT_EQUAL(ncmp_activations_read_features(a, "conv", 2, &row7, 1, feat7, &err), NCMP_ERR_VALUE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "iteration 2 has a NaN feature (index 15, C order)"));
    ncmp_activations_close(a);
    const char *inc_path = copy_fixture("analysis/e2e_activations.h5", "incomplete.h5");
    file = H5Fopen(inc_path, H5F_ACC_RDWR, H5P_DEFAULT);
    CU_ASSERT_EQUAL(ncmp_h5_attr_set_int64(file, "complete", 0, &err), NCMP_OK);
    H5Fclose(file);
    a = NULL;
    CU_ASSERT_EQUAL(ncmp_activations_open(inc_path, &a, &err), NCMP_ERR_INCOMPLETE);
    CU_ASSERT_PTR_NULL(a);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "is incomplete"));
    test_remove(nan_path);
    test_remove(inc_path);
}

/* The whole protocol through the library against scikit-learn + SciPy (e2e_expected.json). */
static void test_end_to_end_matches_sklearn(void)
{
    ncmp_error err;
    ncmp_json_value *exp = NULL;
    CU_ASSERT_EQUAL_FATAL(ncmp_json_parse_file(test_fixture_path("analysis/e2e_expected.json"), &exp, &err), NCMP_OK);
    ncmp_activations *a = NULL;
    ncmp_assembly *neural = NULL;
    ncmp_score_inputs *in = NULL;
    ncmp_splits *s = NULL;
    CU_ASSERT_EQUAL_FATAL(ncmp_activations_open(test_fixture_path("analysis/e2e_activations.h5"), &a, &err), NCMP_OK);
    CU_ASSERT_EQUAL_FATAL(ncmp_assembly_read_netcdf(test_fixture_path("analysis/e2e_neural.nc"), &neural, &err),
                          NCMP_OK);
    CU_ASSERT_EQUAL_FATAL(ncmp_score_inputs_prepare(neural, "V4", 70, 170, a, &in, &err), NCMP_OK);
    CU_ASSERT_EQUAL(in->n_stimuli, 120);
    CU_ASSERT_EQUAL(in->n_neuroids, 12);
    CU_ASSERT_EQUAL(in->n_unused_activations, 5);
    CU_ASSERT_PTR_NOT_NULL(in->labels);
    CU_ASSERT(in->ceiling > 0.5 && in->ceiling < 1);
    CU_ASSERT_EQUAL_FATAL(ncmp_splits_stratified((const char *const *)in->labels, 120, 0.9, 10, 1, &s, &err), NCMP_OK);
    double *feat = malloc(120 * 72 * sizeof *feat);
    const ncmp_json_value *its = ncmp_json_get(exp, "iterations");
    double worst = 0;
    for (size_t t = 0; t < its->n; t++) {
        CU_ASSERT_EQUAL_FATAL(ncmp_activations_read_features(a, "conv", t, in->rows, 120, feat, &err), NCMP_OK);
        ncmp_score *sc = NULL, *sk = NULL;
        CU_ASSERT_EQUAL_FATAL(ncmp_score_pls(feat, 120, 72, in->responses, 12, s, NULL, &sc, &err), NCMP_OK);
        ncmp_pls_options ko = {25, 500, 1e-6, NCMP_PLS_KERNEL};
        CU_ASSERT_EQUAL_FATAL(ncmp_score_pls(feat, 120, 72, in->responses, 12, s, &ko, &sk, &err), NCMP_OK);
        double raw = ncmp_json_get(&its->items[t], "raw")->number;
        TEST_ASSERT_CLOSE(sk->raw, raw, 1e-4);
        worst = fmax(worst, fabs(sk->raw - raw));
        for (size_t k = 0; k < 10; k++)
            worst = fmax(worst,
                         fabs(sk->split_median[k] - ncmp_json_get(&its->items[t], "split_medians")->items[k].number));
        ncmp_score_free(sk);
        double error = ncmp_json_get(&its->items[t], "error")->number;
        const ncmp_json_value *med = ncmp_json_get(&its->items[t], "split_medians");
        /* Scores within 1e-4 absolute (the bar); in practice they agree to ~1e-12. */
        TEST_ASSERT_CLOSE(sc->raw, raw, 1e-4);
        TEST_ASSERT_CLOSE(sc->error, error, 1e-4);
        worst = fmax(worst, fabs(sc->raw - raw));
        for (size_t k = 0; k < 10; k++) {
            TEST_ASSERT_CLOSE(sc->split_median[k], med->items[k].number, 1e-4);
            worst = fmax(worst, fabs(sc->split_median[k] - med->items[k].number));
        }
        ncmp_score_free(sc);
    }
    printf("\n    largest |difference| from scikit-learn over raw and split medians (NIPALS and kernel): %.2e ", worst);
    CU_ASSERT(worst < 1e-9);
    /* NaN responses and mismatched splits are refused. */
    ncmp_score *sc = NULL;
    double keep = in->responses[5];
    in->responses[5] = NAN;
    CU_ASSERT_EQUAL(ncmp_score_pls(feat, 120, 72, in->responses, 12, s, NULL, &sc, &err), NCMP_ERR_VALUE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "neuroid 5 to stimulus 0 is nan"));
    in->responses[5] = keep;
    CU_ASSERT_EQUAL(ncmp_score_pls(feat, 119, 72, in->responses, 12, s, NULL, &sc, &err), NCMP_ERR_SHAPE);
    CU_ASSERT_PTR_NULL(sc);
    /* Missing stimuli: recordings of stimuli the activations file lacks. */
    ncmp_score_inputs_free(in);
    in = NULL;
    ncmp_activations_close(a);
    a = NULL;
    free(feat);
    ncmp_splits_free(s);
    ncmp_assembly_free(neural);
    ncmp_json_free(exp);
}

static void test_missing_stimuli_and_no_repetitions(void)
{
    ncmp_error err;
    ncmp_activations *a = NULL;
    ncmp_assembly *neural = NULL, *renamed = NULL, *avg = NULL;
    ncmp_score_inputs *in = NULL;
    CU_ASSERT_EQUAL_FATAL(ncmp_activations_open(test_fixture_path("analysis/e2e_activations.h5"), &a, &err), NCMP_OK);
    CU_ASSERT_EQUAL_FATAL(ncmp_assembly_read_netcdf(test_fixture_path("analysis/e2e_neural.nc"), &neural, &err),
                          NCMP_OK);
    /* Rename three stimuli so the activations lack them. */
    CU_ASSERT_EQUAL_FATAL(ncmp_assembly_copy(neural, &renamed, &err), NCMP_OK);
    ncmp_coord *sid = (ncmp_coord *)ncmp_coord_find(&renamed->presentation, "stimulus_id");
    for (size_t p = 0; p < renamed->n_presentations; p++)
        if (!strcmp(sid->strings[p], "img0010") || !strcmp(sid->strings[p], "img0020") ||
            !strcmp(sid->strings[p], "img0030")) {
            sid->strings[p][0] = 'X';
        }
    CU_ASSERT_EQUAL(ncmp_score_inputs_prepare(renamed, "V4", 70, 170, a, &in, &err), NCMP_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "3 of the 120 neural stimuli have no activations"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "'Xmg0010', 'Xmg0020', 'Xmg0030'"));
    CU_ASSERT_PTR_NULL(in);
    /* Already averaged data (no repetition coordinate): scores, ceiling NaN (null in JSON). */
    CU_ASSERT_EQUAL_FATAL(ncmp_assembly_average_repetitions(neural, &avg, &err), NCMP_OK);
    CU_ASSERT_EQUAL_FATAL(ncmp_score_inputs_prepare(avg, NULL, 70, 170, a, &in, &err), NCMP_OK);
    CU_ASSERT(isnan(in->ceiling));
    CU_ASSERT_EQUAL(in->n_neuroids, 16);
    /* Unknown region. */
    ncmp_score_inputs *in2 = NULL;
    CU_ASSERT_EQUAL(ncmp_score_inputs_prepare(neural, "V1", 70, 170, a, &in2, &err), NCMP_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "V1"));

    /* JSON with a null ceiling. */
    ncmp_splits *s = NULL;
    CU_ASSERT_EQUAL_FATAL(ncmp_splits_shuffle(120, 0.9, 10, 1, &s, &err), NCMP_OK);
    double *feat = malloc(120 * 72 * sizeof *feat);
    CU_ASSERT_EQUAL_FATAL(ncmp_activations_read_features(a, "conv", 1, in->rows, 120, feat, &err), NCMP_OK);
    ncmp_score *sc = NULL;
    CU_ASSERT_EQUAL_FATAL(ncmp_score_pls(feat, 120, 72, in->responses, 16, s, NULL, &sc, &err), NCMP_OK);
    CU_ASSERT(sc->raw > 0.5);
    long long it = 1;
    ncmp_score_report rep = {.benchmark = "test",
                             .metric = "pls",
                             .layer = "conv",
                             .region = NULL,
                             .activations_path = test_fixture_path("analysis/e2e_activations.h5"),
                             .neural_path = test_fixture_path("analysis/e2e_neural.nc"),
                             .splits_description = s->description,
                             .seed = 1,
                             .window_start_ms = NAN,
                             .window_end_ms = NAN,
                             .ceiling = NAN,
                             .ceiling_error = NAN,
                             .n_components = 25};
    const char *out = test_tmp_path("score.json");
    const ncmp_score *const list[] = {sc};
    CU_ASSERT_EQUAL_FATAL(ncmp_score_write_json(list, &it, 1, &rep, out, &err), NCMP_OK);
    ncmp_json_value *j = NULL;
    CU_ASSERT_EQUAL_FATAL(ncmp_json_parse_file(out, &j, &err), NCMP_OK);
    CU_ASSERT_EQUAL(ncmp_json_get(j, "ceiling")->type, NCMP_JSON_NULL);
    CU_ASSERT_EQUAL(ncmp_json_get(j, "ceiled")->type, NCMP_JSON_NULL);
    CU_ASSERT_EQUAL(ncmp_json_get(j, "region")->type, NCMP_JSON_NULL);
    TEST_ASSERT_CLOSE(ncmp_json_get(j, "raw")->number, sc->raw, 1e-15);
    CU_ASSERT_EQUAL(ncmp_json_get(j, "iteration")->number, 1);
    CU_ASSERT_EQUAL(ncmp_json_get(j, "n_stimuli")->number, 120);
    CU_ASSERT_EQUAL(ncmp_json_get(ncmp_json_get(j, "provenance"), "activations_sha256")->type, NCMP_JSON_STRING);
    const char *keys[] = {"benchmark", "metric", "layer",     "iteration",  "region", "raw",        "error",
                          "ceiling",   "ceiled", "n_stimuli", "n_neuroids", "splits", "provenance", "seed"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        CU_ASSERT_PTR_NOT_NULL(ncmp_json_get(j, keys[k]));
    ncmp_json_free(j);
    test_remove(out);
    ncmp_score_free(sc);
    free(feat);
    ncmp_splits_free(s);
    ncmp_score_inputs_free(in);
    ncmp_assembly_free(avg);
    ncmp_assembly_free(renamed);
    ncmp_assembly_free(neural);
    ncmp_activations_close(a);
}

/* Recovery: recordings simulated from block1 at iteration 1 (neural/simulate.h) must score best there,
 * with both solvers, and well below the others (the fixture's iterations are independent draws). */
static void test_recovers_simulated_source(void)
{
    ncmp_error err;
    ncmp_simulate_options so;
    ncmp_simulate_defaults(&so);
    so.n_bins = 1;
    so.layer[0] = "block1";
    so.iteration[0] = 1;
    so.n_repetitions = 6;
    so.units_per_neuroid = 8;
    so.seed = 7;
    const char *path = test_fixture_path("neural/activations_small.h5");
    ncmp_assembly *sim = NULL;
    CU_ASSERT_EQUAL_FATAL(ncmp_simulate_responses(path, &so, &sim, &err), NCMP_OK);
    ncmp_activations *a = NULL;
    CU_ASSERT_EQUAL_FATAL(ncmp_activations_open(path, &a, &err), NCMP_OK);
    ncmp_score_inputs *in = NULL;
    CU_ASSERT_EQUAL_FATAL(ncmp_score_inputs_prepare(sim, NULL, 70, 90, a, &in, &err), NCMP_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(in->labels);
    ncmp_splits *s = NULL;
    CU_ASSERT_EQUAL_FATAL(ncmp_splits_stratified((const char *const *)in->labels, in->n_stimuli, 0.9, 10, 1, &s, &err),
                          NCMP_OK);
    size_t p = 0;
    CU_ASSERT_EQUAL_FATAL(ncmp_activations_layer_features(a, "block1", &p, &err), NCMP_OK);
    double *feat = malloc(in->n_stimuli * p * sizeof *feat), raw[2][3];
    for (int solver = 0; solver < 2; solver++)
        for (size_t t = 0; t < 3; t++) {
            CU_ASSERT_EQUAL_FATAL(ncmp_activations_read_features(a, "block1", t, in->rows, in->n_stimuli, feat, &err),
                                  NCMP_OK);
            ncmp_pls_options o = {25, 500, 1e-6, solver ? NCMP_PLS_KERNEL : NCMP_PLS_NIPALS};
            ncmp_score *sc = NULL;
            CU_ASSERT_EQUAL_FATAL(
                ncmp_score_pls(feat, in->n_stimuli, p, in->responses, in->n_neuroids, s, &o, &sc, &err), NCMP_OK);
            raw[solver][t] = sc->raw;
            ncmp_score_free(sc);
        }
    printf("\n    raw at iterations 0, 1 (true), 2: %.3f %.3f %.3f; ceiling %.3f (expected %.3f) ", raw[0][0],
           raw[0][1], raw[0][2], in->ceiling, ncmp_simulate_expected_ceiling(&so));
    CU_ASSERT(raw[0][1] > raw[0][0] + 0.3 && raw[0][1] > raw[0][2] + 0.3);
    for (size_t t = 0; t < 3; t++)
        TEST_ASSERT_CLOSE(raw[1][t], raw[0][t], 1e-9);
    free(feat);
    ncmp_splits_free(s);
    ncmp_score_inputs_free(in);
    ncmp_activations_close(a);
    ncmp_assembly_free(sim);
}

/* ---- Ridge (RidgeCV per-target LOO) and OLS vs scikit-learn (linear_cases.json) ---- */
static ncmp_npy_array load_lin(const char *name, const char *part)
{
    char rel[256];
    snprintf(rel, sizeof rel, "analysis/lin_%s_%s.npy", name, part);
    ncmp_npy_array a = {0};
    ncmp_error err;
    if (ncmp_npy_read(test_fixture_path(rel), &a, &err))
        fprintf(stderr, "%s\n", err.message);
    return a;
}

/* Centred train kernel K[n][n] and test kernel Kt[m][n] from one Gram matrix of train + test rows. */
static void lin_kernels(const double *X, size_t n, const double *T, size_t m, size_t p, double *K, double *Kt)
{
    ncmp_error err;
    size_t N = n + m, *tr = malloc(n * sizeof *tr), *te = malloc(m * sizeof *te);
    double *all = malloc(N * p * sizeof *all), *G = malloc(N * N * sizeof *G);
    memcpy(all, X, n * p * sizeof *all);
    memcpy(all + n * p, T, m * p * sizeof *all);
    for (size_t i = 0; i < N; i++)
        (i < n ? tr : te)[i < n ? i : i - n] = i;
    CU_ASSERT_EQUAL(ncmp_gram_matrix(all, N, p, G, &err), NCMP_OK);
    ncmp_pls_kernel_center(G, N, tr, n, te, m, K, Kt);
    free(tr);
    free(te);
    free(all);
    free(G);
}

static void test_linear_matches_sklearn(void)
{
    ncmp_json_value *cases = NULL;
    ncmp_error err;
    CU_ASSERT_EQUAL_FATAL(ncmp_json_parse_file(test_fixture_path("analysis/linear_cases.json"), &cases, &err), NCMP_OK);
    const ncmp_json_value *list = ncmp_json_get(cases, "cases");
    CU_ASSERT_FATAL(list && list->n >= 4);
    printf("\n");
    for (size_t c = 0; c < list->n; c++) {
        const char *name = ncmp_json_get(&list->items[c], "name")->string;
        int ridge = !strcmp(ncmp_json_get(&list->items[c], "kind")->string, "ridge");
        const ncmp_json_value *ea = ncmp_json_get(&list->items[c], "alphas");
        ncmp_npy_array X = load_lin(name, "Xtrain"), Y = load_lin(name, "Ytrain"), T = load_lin(name, "Xtest"),
                       P = load_lin(name, "pred");
        CU_ASSERT_FATAL(X.data && Y.data && T.data && P.data);
        size_t n = X.shape[0], p = X.shape[1], q = Y.shape[1], m = T.shape[0];
        double *pred = malloc(m * q * sizeof *pred), *alpha = malloc(q * sizeof *alpha), *ym = malloc(q * sizeof *ym);
        double *K = malloc(n * n * sizeof *K), *Kt = malloc(m * n * sizeof *Kt), *cf = malloc(n * q * sizeof *cf);
        double ep = NAN, ed;
        if (p < n) { /* primal: sklearn's own mode (svd) for these shapes */
            double *coef = malloc(p * q * sizeof *coef), *xm = malloc(p * sizeof *xm);
            CU_ASSERT_EQUAL_FATAL(ridge ? ncmp_ridge_fit_primal(X.data, n, p, Y.data, q, ncmp_ridge_default_alphas,
                                                                NCMP_RIDGE_DEFAULT_N_ALPHAS, coef, xm, ym, alpha, &err)
                                        : ncmp_ols_fit_primal(X.data, n, p, Y.data, q, coef, xm, ym, &err),
                                  NCMP_OK);
            for (size_t i = 0; i < m; i++)
                for (size_t j = 0; j < q; j++) {
                    double acc = ym[j];
                    for (size_t f = 0; f < p; f++)
                        acc += (T.data[i * p + f] - xm[f]) * coef[f * q + j];
                    pred[i * q + j] = acc;
                }
            ep = test_normalised_error_f64(pred, P.data, m * q);
            CU_ASSERT(ep <= 1e-6);
            for (size_t j = 0; ridge && j < q; j++)
                CU_ASSERT_EQUAL(alpha[j], ea->items[j].number);
            free(coef);
            free(xm);
        }
        /* dual, from the Gram matrix (sklearn's eigen mode when p > n) */
        lin_kernels(X.data, n, T.data, m, p, K, Kt);
        for (size_t j = 0; j < q; j++)
            alpha[j] = NAN;
        CU_ASSERT_EQUAL_FATAL(ridge ? ncmp_ridge_fit_dual(K, n, Y.data, q, ncmp_ridge_default_alphas,
                                                          NCMP_RIDGE_DEFAULT_N_ALPHAS, cf, ym, alpha, &err)
                                    : ncmp_ols_fit_dual(K, n, Y.data, q, cf, ym, &err),
                              NCMP_OK);
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < q; j++) {
                double acc = ym[j];
                for (size_t k = 0; k < n; k++)
                    acc += Kt[i * n + k] * cf[k * q + j];
                pred[i * q + j] = acc;
            }
        ed = test_normalised_error_f64(pred, P.data, m * q);
        CU_ASSERT(ed <= 1e-6);
        for (size_t j = 0; ridge && j < q; j++)
            CU_ASSERT_EQUAL(alpha[j], ea->items[j].number);
        printf("    %-12s X %zux%zu Y %zu: normalised error primal %.2e, dual %.2e%s\n", name, n, p, q, ep, ed,
               ridge ? "; alphas equal" : "");
        free(pred);
        free(alpha);
        free(ym);
        free(K);
        free(Kt);
        free(cf);
        ncmp_npy_release(&X);
        ncmp_npy_release(&Y);
        ncmp_npy_release(&T);
        ncmp_npy_release(&P);
    }
    ncmp_json_free(cases);
}

/* The ridge / OLS protocol on the end-to-end fixture (layer conv, V4) vs scikit-learn. */
static void test_linear_end_to_end(void)
{
    ncmp_error err;
    ncmp_json_value *exp = NULL;
    CU_ASSERT_EQUAL_FATAL(ncmp_json_parse_file(test_fixture_path("analysis/linear_cases.json"), &exp, &err), NCMP_OK);
    ncmp_activations *a = NULL;
    ncmp_assembly *neural = NULL;
    ncmp_score_inputs *in = NULL;
    ncmp_splits *s = NULL;
    CU_ASSERT_EQUAL_FATAL(ncmp_activations_open(test_fixture_path("analysis/e2e_activations.h5"), &a, &err), NCMP_OK);
    CU_ASSERT_EQUAL_FATAL(ncmp_assembly_read_netcdf(test_fixture_path("analysis/e2e_neural.nc"), &neural, &err),
                          NCMP_OK);
    CU_ASSERT_EQUAL_FATAL(ncmp_score_inputs_prepare(neural, "V4", 70, 170, a, &in, &err), NCMP_OK);
    CU_ASSERT_EQUAL_FATAL(ncmp_splits_stratified((const char *const *)in->labels, 120, 0.9, 10, 1, &s, &err), NCMP_OK);
    double *feat = malloc(120 * 72 * sizeof *feat), *G = malloc(120 * 120 * sizeof *G);
    const ncmp_json_value *e2e = ncmp_json_get(exp, "e2e_conv");
    const char *metrics[] = {"ridge", "ols"};
    double worst = 0;
    for (size_t mi = 0; mi < 2; mi++) {
        const ncmp_json_value *its = ncmp_json_get(e2e, metrics[mi]);
        ncmp_linear_options o = {mi == 0 ? NCMP_LINEAR_RIDGE : NCMP_LINEAR_OLS, NULL, 0};
        for (size_t t = 0; t < its->n; t++) {
            CU_ASSERT_EQUAL_FATAL(ncmp_activations_read_features(a, "conv", t, in->rows, 120, feat, &err), NCMP_OK);
            CU_ASSERT_EQUAL_FATAL(ncmp_gram_matrix(feat, 120, 72, G, &err), NCMP_OK);
            ncmp_score *sp = NULL, *sd = NULL;
            CU_ASSERT_EQUAL_FATAL(ncmp_score_linear(feat, 120, 72, in->responses, 12, s, &o, &sp, &err), NCMP_OK);
            CU_ASSERT_EQUAL_FATAL(ncmp_score_linear_gram(G, 120, 72, in->responses, 12, s, &o, &sd, &err), NCMP_OK);
            CU_ASSERT((mi == 0) == (sp->alpha != NULL));
            const ncmp_json_value *sv = ncmp_json_get(&its->items[t], "splits");
            double raw = ncmp_json_get(&its->items[t], "raw")->number;
            double error = ncmp_json_get(&its->items[t], "error")->number;
            /* 1e-4 absolute on scores, the bar. */
            TEST_ASSERT_CLOSE(sp->raw, raw, 1e-4);
            TEST_ASSERT_CLOSE(sd->raw, raw, 1e-4);
            TEST_ASSERT_CLOSE(sp->error, error, 1e-4);
            for (size_t k = 0; k < 10; k++) {
                worst = fmax(worst, fabs(sp->split_median[k] - sv->items[k].number));
                worst = fmax(worst, fabs(sd->split_median[k] - sv->items[k].number));
            }
            ncmp_score_free(sp);
            ncmp_score_free(sd);
        }
    }
    printf("\n    ridge/OLS: largest |split median difference| from scikit-learn (primal and dual): %.2e ", worst);
    CU_ASSERT(worst < 1e-6);
    free(feat);
    free(G);
    ncmp_splits_free(s);
    ncmp_score_inputs_free(in);
    ncmp_assembly_free(neural);
    ncmp_activations_close(a);
    ncmp_json_free(exp);
}

/* RSA and linear CKA on the end-to-end fixture vs NumPy/SciPy (linear_cases.json). */
static void test_similarity_end_to_end(void)
{
    /* Spearman with ties: scipy.stats.spearmanr([1, 2, 2, 3, 5], [2, 1, 4, 4, 9]) = 0.7631578947368421 */
    const double x[] = {1, 2, 2, 3, 5}, y[] = {2, 1, 4, 4, 9}, c[] = {3, 3, 3, 3, 3};
    TEST_ASSERT_CLOSE(ncmp_spearman(x, y, 5), 0.7631578947368421, 1e-12);
    CU_ASSERT(isnan(ncmp_spearman(x, c, 5)));
    ncmp_error err;
    ncmp_json_value *exp = NULL;
    CU_ASSERT_EQUAL_FATAL(ncmp_json_parse_file(test_fixture_path("analysis/linear_cases.json"), &exp, &err), NCMP_OK);
    ncmp_activations *a = NULL;
    ncmp_assembly *neural = NULL;
    ncmp_score_inputs *in = NULL;
    ncmp_splits *s = NULL;
    CU_ASSERT_EQUAL_FATAL(ncmp_activations_open(test_fixture_path("analysis/e2e_activations.h5"), &a, &err), NCMP_OK);
    CU_ASSERT_EQUAL_FATAL(ncmp_assembly_read_netcdf(test_fixture_path("analysis/e2e_neural.nc"), &neural, &err),
                          NCMP_OK);
    CU_ASSERT_EQUAL_FATAL(ncmp_score_inputs_prepare(neural, "V4", 70, 170, a, &in, &err), NCMP_OK);
    CU_ASSERT_EQUAL_FATAL(ncmp_splits_stratified((const char *const *)in->labels, 120, 0.9, 10, 1, &s, &err), NCMP_OK);
    double *feat = malloc(120 * 72 * sizeof *feat), *G = malloc(120 * 120 * sizeof *G);
    const ncmp_json_value *e2e = ncmp_json_get(exp, "e2e_conv");
    double worst = 0;
    for (size_t mi = 0; mi < 2; mi++) {
        const ncmp_json_value *its = ncmp_json_get(e2e, mi == 0 ? "rsa" : "cka");
        for (size_t t = 0; t < its->n; t++) {
            CU_ASSERT_EQUAL_FATAL(ncmp_activations_read_features(a, "conv", t, in->rows, 120, feat, &err), NCMP_OK);
            ncmp_score *sc = NULL, *sg = NULL;
            if (mi == 0) {
                CU_ASSERT_EQUAL_FATAL(ncmp_score_rsa(feat, 120, 72, in->responses, 12, s, &sc, &err), NCMP_OK);
            } else {
                CU_ASSERT_EQUAL_FATAL(ncmp_score_cka(feat, 120, 72, in->responses, 12, s, &sc, &err), NCMP_OK);
                /* from a Gram matrix of shifted features: the shift cancels */
                for (size_t i = 0; i < 120 * 72; i++)
                    feat[i] += 100.0;
                CU_ASSERT_EQUAL_FATAL(ncmp_gram_matrix(feat, 120, 72, G, &err), NCMP_OK);
                CU_ASSERT_EQUAL_FATAL(ncmp_score_cka_gram(G, 120, 72, in->responses, 12, s, &sg, &err), NCMP_OK);
                for (size_t k = 0; k < 10; k++)
                    worst = fmax(worst, fabs(sg->split_median[k] - sc->split_median[k]));
                ncmp_score_free(sg);
            }
            const ncmp_json_value *sv = ncmp_json_get(&its->items[t], "splits");
            TEST_ASSERT_CLOSE(sc->raw, ncmp_json_get(&its->items[t], "raw")->number, 1e-4);
            TEST_ASSERT_CLOSE(sc->error, ncmp_json_get(&its->items[t], "error")->number, 1e-4);
            for (size_t k = 0; k < 10; k++)
                worst = fmax(worst, fabs(sc->split_median[k] - sv->items[k].number));
            CU_ASSERT_EQUAL(sc->per_neuroid[3 * 12 + 5], sc->split_median[3]);
            ncmp_score_free(sc);
        }
    }
    printf("\n    RSA/CKA: largest |split value difference| from NumPy/SciPy: %.2e ", worst);
    CU_ASSERT(worst < 1e-9);
    free(feat);
    free(G);
    ncmp_splits_free(s);
    ncmp_score_inputs_free(in);
    ncmp_assembly_free(neural);
    ncmp_activations_close(a);
    ncmp_json_free(exp);
}

/* GSL's default handler aborts; neurocmp turns it off before its first GSL
 * call (analysis/linalg.h), so a failed decomposition returns its status.  Run in
 * a child forked before any test has called GSL (main), so the state is the
 * process's initial one. */
static int gsl_child_status = -1;

static void gsl_child_run(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        double A[4] = {1, 0, 0, 1}, out[4];
        if (ncmp_pinv_square(A, 2, 2, out, NULL) != NCMP_OK)
            _exit(2);
        /* not positive definite: GSL_EDOM through the error handler (an allocation
         * failure would do the same, but AddressSanitizer stops impossible ones itself) */
        gsl_matrix *m = gsl_matrix_alloc(2, 2);
        gsl_matrix_set(m, 0, 0, 1);
        gsl_matrix_set(m, 0, 1, 2);
        gsl_matrix_set(m, 1, 0, 2);
        gsl_matrix_set(m, 1, 1, 1);
        int rc = gsl_linalg_cholesky_decomp1(m);
        gsl_matrix_free(m);
        _exit(rc == GSL_EDOM ? 0 : 3);
    }
    int status = 0;
    if (pid > 0 && waitpid(pid, &status, 0) == pid)
        gsl_child_status = status;
}

static void test_gsl_never_aborts(void)
{
    CU_ASSERT(WIFEXITED(gsl_child_status) && WEXITSTATUS(gsl_child_status) == 0);
    if (!WIFEXITED(gsl_child_status))
        printf("\n    the child died of signal %d ", WTERMSIG(gsl_child_status));
}

/* ---- results/manifest.h and the number comparison of results/verify.h ---------------------------------------- */

static void test_manifest_round_trip(void)
{
    const char *dir = test_tmp_path("manifest-dir");
    char path[4096];
    CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0700), 0);
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    static const char hex[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    ncmp_manifest *m = NULL;
    ncmp_error err;
    CU_ASSERT_EQUAL_FATAL(ncmp_manifest_create("round \"trip\"", "study.ini", hex, &m, &err), NCMP_OK);
    char *argv[] = {"neurocmp", "score", "--out", "scores/a b.json"};
    ncmp_manifest_file in = {"activations", "../acts.h5", "", 1234};
    ncmp_manifest_file out = {"scores", "scores/a b.json", "", 99};
    memcpy(in.sha256, hex, sizeof hex);
    memcpy(out.sha256, hex, sizeof hex);
    ncmp_manifest_step step = {"score.v4", "score", (char *)hex, "done", true, 1.5, argv, 4, &in, 1, &out, 1};
    CU_ASSERT_EQUAL(ncmp_manifest_put(m, &step, &err), NCMP_OK);
    step.name = "export.cnnf";
    step.cheap = false;
    CU_ASSERT_EQUAL(ncmp_manifest_put(m, &step, &err), NCMP_OK);
    step.name = "score.v4"; /* replaced in place */
    step.cheap = true;
    step.seconds = 2.5;
    CU_ASSERT_EQUAL(ncmp_manifest_put(m, &step, &err), NCMP_OK);
    CU_ASSERT_EQUAL(m->n_steps, 2);
    CU_ASSERT_EQUAL_FATAL(ncmp_manifest_write(m, path, &err), NCMP_OK);
    ncmp_manifest *back = NULL;
    CU_ASSERT_EQUAL_FATAL(ncmp_manifest_read(dir, &back, &err), NCMP_OK); /* DIR means DIR/manifest.json */
    CU_ASSERT_STRING_EQUAL(back->study, "round \"trip\"");
    CU_ASSERT_STRING_EQUAL(back->config_sha256, hex);
    CU_ASSERT_PTR_NOT_NULL(back->updated_utc);
    CU_ASSERT_EQUAL_FATAL(back->n_steps, 2);
    const ncmp_manifest_step *s = ncmp_manifest_find(back, "score.v4");
    CU_ASSERT_PTR_EQUAL(s, &back->steps[0]);
    CU_ASSERT(s->cheap && s->seconds == 2.5 && s->argc == 4 && !strcmp(s->argv[3], "scores/a b.json"));
    CU_ASSERT(s->n_inputs == 1 && !strcmp(s->inputs[0].path, "../acts.h5") && s->inputs[0].bytes == 1234);
    CU_ASSERT(!back->steps[1].cheap && !strcmp(back->steps[1].name, "export.cnnf"));
    CU_ASSERT_PTR_NULL(ncmp_manifest_find(back, "nothing"));
    ncmp_manifest_free(back);
    ncmp_manifest_free(m);
    /* a damaged digest is named by its field */
    FILE *f = fopen(path, "w");
    fputs("{\"neurocmp_manifest\": 1, \"study\": \"s\", \"steps\": [{\"name\": \"a\", \"kind\": \"score\", "
          "\"key\": \"ABC\", \"state\": \"done\", \"argv\": [\"neurocmp\"], \"inputs\": [], \"outputs\": []}]}",
          f);
    fclose(f);
    CU_ASSERT_EQUAL(ncmp_manifest_read(path, &back, &err), NCMP_ERR_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "'steps[0] ('a').key' is 'ABC'"));
    test_remove(path);
    rmdir(dir);
}

static void test_manifest_relative_path(void)
{
    const char *base = test_tmp_path("manifest-rel");
    char study[2048], data[2048], file[4096], missing[4096];
    snprintf(study, sizeof study, "%s/out/study", base);
    snprintf(data, sizeof data, "%s/data", base);
    CU_ASSERT_EQUAL_FATAL(ncmp_make_directories(study, NULL), NCMP_OK);
    CU_ASSERT_EQUAL_FATAL(ncmp_make_directories(data, NULL), NCMP_OK);
    snprintf(file, sizeof file, "%s/x.nc", data);
    fclose(fopen(file, "w"));
    snprintf(missing, sizeof missing, "%s/scores.json", study); /* does not exist: its folder is resolved */
    char *r1 = ncmp_manifest_relative_path(study, file);
    char *r2 = ncmp_manifest_relative_path(study, missing);
    char *r3 = ncmp_manifest_relative_path(study, study);
    char *r4 = ncmp_manifest_relative_path(study, "/");
    CU_ASSERT_STRING_EQUAL(r1, "../../data/x.nc");
    CU_ASSERT_STRING_EQUAL(r2, "scores.json");
    CU_ASSERT_STRING_EQUAL(r3, ".");
    CU_ASSERT_STRING_EQUAL(r4, "/");
    char *back = ncmp_manifest_resolve_path(study, r1);
    struct stat sb_back, sb_file;
    CU_ASSERT(back && !stat(back, &sb_back) && !stat(file, &sb_file) && sb_back.st_ino == sb_file.st_ino);
    char *abs = ncmp_manifest_resolve_path(study, "/etc/hosts");
    CU_ASSERT_STRING_EQUAL(abs, "/etc/hosts");
    free(r1);
    free(r2);
    free(r3);
    free(r4);
    free(back);
    free(abs);
    test_remove(file);
}

static void test_verify_compare_numbers(void)
{
    const char *a = test_tmp_path("recorded.json"), *b = test_tmp_path("recomputed.json");
    FILE *f = fopen(a, "w");
    fputs("{\"raw\": [0.5, 1000], \"x\": {\"y\": 2}, \"seconds\": 3, \"provenance\": {\"n\": 1}, \"s\": \"p\"}", f);
    fclose(f);
    f = fopen(b, "w");
    fputs("{\"raw\": [0.5000000000001, 1000.0000001], \"x\": {\"y\": 2}, \"seconds\": 9, \"provenance\": {}, "
          "\"s\": \"q\"}",
          f);
    fclose(f);
    bool agree = false;
    char msg[512];
    ncmp_error err;
    CU_ASSERT_EQUAL(ncmp_verify_compare_numbers(a, b, 1e-9, &agree, msg, sizeof msg, &err), NCMP_OK);
    CU_ASSERT(agree);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "3 numbers agree"));
    /* 1e-7 on 1000 is beyond 1e-11 relative */
    CU_ASSERT_EQUAL(ncmp_verify_compare_numbers(a, b, 1e-11, &agree, msg, sizeof msg, &err), NCMP_OK);
    CU_ASSERT(!agree);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "'raw[1]' is 1000 recorded"));
    test_remove(a);
    test_remove(b);
}

int main(void)
{
    gsl_child_run();
    static const test_case split_cases[] = {
        {"bit-identical to scikit-learn", test_splits_match_sklearn},
        {"errors and JSON round trip", test_splits_errors_and_json},
    };
    static const test_case pls_cases[] = {
        {"predictions match scikit-learn", test_pls_matches_sklearn},
        {"bad input", test_pls_bad_input},
    };
    static const test_case metric_cases[] = {{"Pearson and aggregation", test_pearson_and_aggregate}};
    static const test_case linear_cases[] = {
        {"ridge and OLS predictions match scikit-learn", test_linear_matches_sklearn},
        {"ridge and OLS protocol vs scikit-learn", test_linear_end_to_end},
        {"RSA and CKA vs NumPy/SciPy", test_similarity_end_to_end},
        {"GSL errors return, never abort", test_gsl_never_aborts},
    };
    static const test_case protocol_cases[] = {
        {"activations file reader", test_activations_reader},
        {"end to end vs scikit-learn", test_end_to_end_matches_sklearn},
        {"missing stimuli, no repetitions, JSON", test_missing_stimuli_and_no_repetitions},
        {"recovers the simulated source iteration", test_recovers_simulated_source},
    };
    static const test_case manifest_cases[] = {
        {"write and read back", test_manifest_round_trip},
        {"relative paths", test_manifest_relative_path},
        {"recomputed numbers compared", test_verify_compare_numbers},
    };
    static const test_suite suites[] = {
        {"splits", TEST_CASES(split_cases)},   {"pls", TEST_CASES(pls_cases)},
        {"metrics", TEST_CASES(metric_cases)}, {"protocol", TEST_CASES(protocol_cases)},
        {"linear", TEST_CASES(linear_cases)},  {"manifest", TEST_CASES(manifest_cases)}};
    return test_run("analysis", suites, sizeof suites / sizeof suites[0]);
}
