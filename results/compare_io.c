/* Predictions for model comparisons from scores or `score --details` files, and comparison JSON
 * (results/compare_io.h). */
#include "results/compare_io.h"

#include "results/json.h"
#include "results/score_json.h"
#include "core/h5.h"
#include "core/sha256.h"
#include "core/sizes.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void ncmp_prediction_set_free(ncmp_prediction_set *set)
{
    if (!set)
        return;
    free(set->test_offset);
    free(set->test);
    free(set->observed);
    free(set->predicted);
    free(set->label);
    free(set->source);
    free(set->neural_sha256);
    free(set);
}

static ncmp_prediction_set *set_alloc(size_t K, size_t rows, size_t q, const char *label, const char *source)
{
    ncmp_prediction_set *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->test_offset = malloc((K + 1) * sizeof(size_t));
    s->test = malloc((rows + 1) * sizeof(size_t));
    s->observed = malloc((rows * q + 1) * sizeof(double));
    s->predicted = malloc((rows * q + 1) * sizeof(double));
    s->label = strdup(label ? label : "");
    s->source = strdup(source ? source : "");
    s->neural_sha256 = strdup("");
    if (!s->test_offset || !s->test || !s->observed || !s->predicted || !s->label || !s->source || !s->neural_sha256) {
        ncmp_prediction_set_free(s);
        return NULL;
    }
    s->ceiling = NAN;
    s->view = (ncmp_predictions){K, q, s->test_offset, s->test, s->observed, s->predicted};
    return s;
}

ncmp_status ncmp_prediction_set_from_score(const ncmp_score *score, const ncmp_splits *splits,
                                           const ncmp_score_inputs *in, const char *label, const char *source,
                                           ncmp_prediction_set **out, ncmp_error *err)
{
    *out = NULL;
    if (!score->predictions)
        return ncmp_fail(err, NCMP_ERR_USAGE,
                         "%s: this metric has no predictions to compare (RSA and CKA compare similarity matrices); use "
                         "pls, ridge or ols",
                         label);
    if (score->n_splits != splits->n_splits || score->n_neuroids != in->n_neuroids)
        return ncmp_fail(err, NCMP_ERR_SHAPE, "%s: score of %zu splits x %zu neuroids, inputs have %zu x %zu", label,
                         score->n_splits, score->n_neuroids, splits->n_splits, in->n_neuroids);
    size_t K = splits->n_splits, rows = splits->test_offset[K], q = in->n_neuroids;
    ncmp_prediction_set *s = set_alloc(K, rows, q, label, source);
    if (!s)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    memcpy(s->test_offset, splits->test_offset, (K + 1) * sizeof(size_t));
    memcpy(s->test, splits->test, rows * sizeof(size_t));
    for (size_t i = 0; i < rows; i++)
        memcpy(s->observed + i * q, in->responses + splits->test[i] * q, q * sizeof(double));
    memcpy(s->predicted, score->predictions, rows * q * sizeof(double));
    s->ceiling = in->ceiling;
    *out = s;
    return NCMP_OK;
}

/* A whole dataset of the expected shape (rank and dims; dims[k] == 0 accepts any). */
static ncmp_status read_all(hid_t f, const char *path, const char *name, hid_t mem, int rank, hsize_t *dims, void *buf,
                            ncmp_error *err)
{
    int r = 0;
    hsize_t d[NCMP_H5_MAX_RANK];
    ncmp_status st = ncmp_h5_dataset_shape(f, name, &r, d, err);
    if (st)
        return ncmp_error_context(err, "%s (not written by 'neurocmp score --details'?)", path);
    if (r != rank)
        return ncmp_fail(err, NCMP_ERR_SHAPE, "%s: /%s has rank %d, expected %d", path, name, r, rank);
    for (int k = 0; k < rank; k++)
        if (dims[k] && d[k] != dims[k])
            return ncmp_fail(err, NCMP_ERR_SHAPE, "%s: /%s axis %d has %llu entries, expected %llu", path, name, k,
                             (unsigned long long)d[k], (unsigned long long)dims[k]);
    if (!buf) {
        for (int k = 0; k < rank; k++)
            dims[k] = d[k];
        return NCMP_OK;
    }
    hid_t ds;
    if ((st = ncmp_h5_open_dataset(f, name, &ds, err)))
        return st;
    hsize_t start[NCMP_H5_MAX_RANK] = {0};
    st = ncmp_h5_read_block(ds, mem, start, d, buf, err);
    H5Dclose(ds);
    return st;
}

/* The details file a score JSON names, or path itself. */
static ncmp_status details_path(const char *path, char **out, ncmp_error *err)
{
    *out = NULL;
    size_t len = strlen(path);
    if (len < 5 || strcmp(path + len - 5, ".json"))
        return (*out = strdup(path)) ? NCMP_OK : ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    ncmp_json_value *root = NULL;
    ncmp_status st = ncmp_json_parse_file(path, &root, err);
    if (st)
        return st;
    const ncmp_json_value *d = ncmp_json_get(root, "details");
    if (!d || d->type != NCMP_JSON_STRING)
        st = ncmp_fail(err, NCMP_ERR_VALUE,
                       "%s names no per-split details file: rerun 'neurocmp score' with --details FILE.h5 (compare "
                       "needs each model's test predictions), or compare from the activations directly",
                       path);
    else if (d->string[0] == '/' || !strchr(path, '/')) /* relative to the JSON's directory */
        *out = strdup(d->string);
    else {
        size_t dir = (size_t)(strrchr(path, '/') - path);
        *out = malloc(dir + strlen(d->string) + 2);
        if (*out)
            sprintf(*out, "%.*s/%s", (int)dir, path, d->string);
    }
    if (!st && !*out)
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    ncmp_json_free(root);
    return st;
}

ncmp_status ncmp_prediction_set_read(const char *path, long long iteration, ncmp_prediction_set **out, ncmp_error *err)
{
    NCMP_H5_QUIET_SCOPE;
    *out = NULL;
    char *file = NULL, *layer = NULL, *sha = NULL;
    ncmp_status st = details_path(path, &file, err);
    if (st)
        return st;
    if (strcmp(file, path) && access(file, R_OK) != 0) {
        /* The JSON may hold the path as given on the command line: try it as is. */
        st = ncmp_fail(err, NCMP_ERR_NOT_FOUND, "%s names the details file '%s', which cannot be read", path, file);
        free(file);
        return st;
    }
    hid_t f = H5I_INVALID_HID;
    long long *its = NULL;
    ncmp_prediction_set *s = NULL;
    if ((st = ncmp_h5_open_read(file, true, &f, err)))
        goto done;
    hsize_t d_it[1] = {0}, d_off[1] = {0}, d_obs[2] = {0, 0};
    if ((st = read_all(f, file, "iteration", H5T_NATIVE_LLONG, 1, d_it, NULL, err)) ||
        (st = read_all(f, file, "test_offset", H5T_NATIVE_ULLONG, 1, d_off, NULL, err)) ||
        (st = read_all(f, file, "observed", H5T_NATIVE_DOUBLE, 2, d_obs, NULL, err)))
        goto done;
    size_t n_its = d_it[0], K = d_off[0] ? d_off[0] - 1 : 0, rows = d_obs[0], q = d_obs[1], bytes;
    /* every size below, +1 or +2 elements: checked before set_alloc multiplies */
    if ((st = ncmp_size_2d(file, "/iteration", n_its + 1, 1, sizeof *its, &bytes, err)) ||
        (st = ncmp_size_2d(file, "/test_offset", K + 1, 1, sizeof(size_t), &bytes, err)) ||
        (st = ncmp_size_2d(file, "/test_index and /test_offset", rows + K + 2, 1, sizeof(unsigned long long), &bytes,
                           err)) ||
        (st = ncmp_size_2d(file, "/observed (test rows x neuroids)", rows, q, sizeof(double), &bytes, err)) ||
        (st = ncmp_size_2d(file, "/observed (test rows x neuroids, +1)", rows * q + 1, 1, sizeof(double), &bytes, err)))
        goto done;
    its = malloc((n_its + 1) * sizeof *its);
    if (!its || !K) {
        st = ncmp_fail(err, its ? NCMP_ERR_FORMAT : NCMP_ERR_NOMEM, "%s: no splits", file);
        goto done;
    }
    if ((st = read_all(f, file, "iteration", H5T_NATIVE_LLONG, 1, d_it, its, err)))
        goto done;
    size_t pick = n_its;
    for (size_t i = 0; i < n_its; i++)
        if (iteration < 0 ? n_its == 1 : its[i] == iteration)
            pick = i;
    if (pick == n_its) {
        char list[256] = "";
        size_t len = 0;
        for (size_t i = 0; i < n_its && len < sizeof list - 24; i++)
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%lld", i ? ", " : "", its[i]);
        st = iteration < 0
                 ? ncmp_fail(err, NCMP_ERR_USAGE,
                             "%s holds iterations %s: say which one with --iteration-a/--iteration-b", file, list)
                 : ncmp_fail(err, NCMP_ERR_NOT_FOUND, "%s has no iteration %lld (it has %s)", file, iteration, list);
        goto done;
    }
    ncmp_h5_attr_get_string(f, "layer", &layer, NULL);
    ncmp_h5_attr_get_string(f, "neural_sha256", &sha, NULL);
    char label[512];
    const char *base = strrchr(file, '/');
    snprintf(label, sizeof label, "%s t=%lld (%s)", layer ? layer : "?", its[pick], base ? base + 1 : file);
    if (!(s = set_alloc(K, rows, q, label, file))) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory for %zu x %zu predictions", rows, q);
        goto done;
    }
    unsigned long long *tmp = malloc((rows + K + 2) * sizeof *tmp);
    if (!tmp) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        goto done;
    }
    hsize_t d_rows[1] = {rows}, d_pred[2] = {rows, q};
    char group[64];
    snprintf(group, sizeof group, "iteration_%lld/predictions", its[pick]);
    if (!(st = read_all(f, file, "test_offset", H5T_NATIVE_ULLONG, 1, d_off, tmp, err)))
        for (size_t k = 0; k <= K; k++)
            s->test_offset[k] = (size_t)tmp[k];
    if (!st && !(st = read_all(f, file, "test_index", H5T_NATIVE_ULLONG, 1, d_rows, tmp, err)))
        for (size_t i = 0; i < rows; i++)
            s->test[i] = (size_t)tmp[i];
    free(tmp);
    if (st || (st = read_all(f, file, "observed", H5T_NATIVE_DOUBLE, 2, d_obs, s->observed, err)) ||
        (st = read_all(f, file, group, H5T_NATIVE_DOUBLE, 2, d_pred, s->predicted, err)))
        goto done;
    if (s->test_offset[0] != 0 || s->test_offset[K] != rows) {
        st = ncmp_fail(err, NCMP_ERR_FORMAT, "%s: /test_offset does not cover the %zu test rows", file, rows);
        goto done;
    }
    for (size_t k = 0; k < K; k++)
        if (s->test_offset[k + 1] < s->test_offset[k]) {
            st = ncmp_fail(err, NCMP_ERR_FORMAT, "%s: /test_offset decreases at split %zu", file, k);
            goto done;
        }
    double c = NAN;
    if (ncmp_h5_attr_get_double(f, "ceiling", &c, NULL) == NCMP_OK)
        s->ceiling = c;
    if (sha) {
        free(s->neural_sha256);
        s->neural_sha256 = sha;
        sha = NULL;
    }
done:
    if (f != H5I_INVALID_HID)
        H5Fclose(f);
    free(its);
    free(file);
    free(layer);
    free(sha);
    if (st) {
        ncmp_prediction_set_free(s);
        return st;
    }
    *out = s;
    return NCMP_OK;
}

static void pair(FILE *f, const double *v)
{
    fputc('[', f);
    ncmp_json_number(f, v[0]);
    fputs(", ", f);
    ncmp_json_number(f, v[1]);
    fputc(']', f);
}

ncmp_status ncmp_compare_write_json(const ncmp_comparison *c, const ncmp_compare_report *r, const char *path,
                                    ncmp_error *err)
{
    char neu_hex[NCMP_SHA256_HEX_LEN] = "";
    ncmp_status st;
    if (r->neural_path && (st = ncmp_sha256_file(r->neural_path, neu_hex, err)))
        return st;
    ncmp_atomic_file jf;
    if ((st = ncmp_atomic_begin(&jf, path, true, err)))
        return st;
    FILE *f = jf.stream;
    fputs("{\n  \"a\": ", f);
    ncmp_json_string(f, r->a->label);
    fputs(",\n  \"b\": ", f);
    ncmp_json_string(f, r->b->label);
    fputs(",\n  \"metric\": ", f);
    if (r->metric)
        ncmp_json_string(f, r->metric);
    else
        fputs("null", f);
    fputs(",\n  \"region\": ", f);
    if (r->region)
        ncmp_json_string(f, r->region);
    else
        fputs("null", f);
    fputs(",\n  \"score_a\": ", f);
    ncmp_json_number(f, c->score_a);
    fputs(", \"score_b\": ", f);
    ncmp_json_number(f, c->score_b);
    fputs(", \"difference\": ", f);
    ncmp_json_number(f, c->difference);
    fputs(",\n  \"ci_a\": ", f);
    pair(f, c->ci_a);
    fputs(", \"ci_b\": ", f);
    pair(f, c->ci_b);
    fputs(", \"ci_difference\": ", f);
    pair(f, c->ci_difference);
    fputs(",\n  \"confidence\": ", f);
    ncmp_json_number(f, c->confidence);
    fputs(", \"p_permutation\": ", f);
    ncmp_json_number(f, c->p_permutation);
    fputs(", \"p_sign\": ", f);
    ncmp_json_number(f, c->p_sign);
    fprintf(f, ",\n  \"n_a_better\": %zu, \"n_b_better\": %zu, \"n_ties\": %zu, \"n_undefined_neuroids\": %zu",
            c->n_a_better, c->n_b_better, c->n_ties, c->n_undefined_neuroids);
    fputs(",\n  \"ceiling\": ", f);
    ncmp_json_number(f, r->a->ceiling);
    const double ca = ncmp_ceiled(c->score_a, r->a->ceiling, r->normalization),
                 cb = ncmp_ceiled(c->score_b, r->a->ceiling, r->normalization);
    fputs(", \"ceiled_a\": ", f);
    ncmp_json_number(f, ca);
    fputs(", \"ceiled_b\": ", f);
    ncmp_json_number(f, cb);
    fputs(", \"ceiled_difference\": ", f);
    ncmp_json_number(f, ca - cb);
    fputs(", \"normalization\": ", f);
    ncmp_json_string(f, ncmp_normalization_name(r->normalization));
    fprintf(f, ",\n  \"n_splits\": %zu, \"n_neuroids\": %zu, \"n_bootstrap\": %zu, \"n_permutations\": %zu",
            c->n_splits, c->n_neuroids, c->n_bootstrap, c->n_permutations);
    fprintf(f, ", \"n_bootstrap_undefined\": %zu, \"n_permutation_undefined\": %zu, \"seed\": %u",
            c->n_bootstrap_undefined, c->n_permutation_undefined, (unsigned)c->seed);
    fputs(",\n  \"splits\": ", f);
    ncmp_json_string(f, r->splits_description ? r->splits_description : "");
    fputs(",\n  \"per_neuroid_difference\": [", f);
    for (size_t j = 0; j < c->n_neuroids; j++) {
        if (j)
            fputs(", ", f);
        ncmp_json_number(f, c->per_neuroid_difference[j]);
    }
    fputs("],\n  \"provenance\": ", f);
    const char *roles[3] = {"a", "b", "neural"};
    char ha[NCMP_SHA256_HEX_LEN] = "", hb[NCMP_SHA256_HEX_LEN] = "";
    if ((st = ncmp_sha256_file(r->a->source, ha, err)) || (st = ncmp_sha256_file(r->b->source, hb, err))) {
        ncmp_atomic_abort(&jf);
        return st;
    }
    const char *paths[3] = {r->a->source, r->b->source, r->neural_path};
    const char *hashes[3] = {ha, hb, neu_hex};
    ncmp_json_write_provenance(f, roles, paths, hashes, r->neural_path ? 3 : 2);
    fputs("\n}\n", f);
    return ncmp_atomic_commit(&jf, err);
}
