/* Splits as JSON files (docs/scoring.md "Splits"): --splits-to writes them, --splits-from reads them back. */
#include "results/splits_json.h"

#include "results/json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void write_index_lists(FILE *f, const size_t *idx, const size_t *off, size_t k)
{
    fputc('[', f);
    for (size_t sp = 0; sp < k; sp++) {
        fputs(sp ? ",\n    [" : "\n    [", f);
        for (size_t i = off[sp]; i < off[sp + 1]; i++)
            fprintf(f, i > off[sp] ? ", %zu" : "%zu", idx[i]);
        fputc(']', f);
    }
    fputs("\n  ]", f);
}

ncmp_status ncmp_splits_write_json(const ncmp_splits *s, const char *const *sample_ids, const char *path,
                                   ncmp_error *err)
{
    ncmp_atomic_file jf;
    ncmp_status st = ncmp_atomic_begin(&jf, path, true, err);
    if (st)
        return st;
    FILE *f = jf.stream;
    fprintf(f, "{\n  \"n_samples\": %zu,\n  \"n_splits\": %zu,\n  \"seed\": %u,\n  \"description\": ", s->n_samples,
            s->n_splits, (unsigned)s->seed);
    ncmp_json_string(f, s->description ? s->description : "");
    if (sample_ids) {
        fputs(",\n  \"sample_ids\": [", f);
        for (size_t i = 0; i < s->n_samples; i++) {
            if (i)
                fputs(", ", f);
            ncmp_json_string(f, sample_ids[i]);
        }
        fputc(']', f);
    }
    fputs(",\n  \"train\": ", f);
    write_index_lists(f, s->train, s->train_offset, s->n_splits);
    fputs(",\n  \"test\": ", f);
    write_index_lists(f, s->test, s->test_offset, s->n_splits);
    fputs("\n}\n", f);
    return ncmp_atomic_commit(&jf, err);
}

/* Lists of lists of non-negative integers from value v (an array of arrays). */
static ncmp_status index_lists(const ncmp_json_value *v, const char *path, const char *key, size_t *n_lists,
                               size_t **idx, size_t **off, ncmp_error *err)
{
    if (!v || v->type != NCMP_JSON_ARRAY)
        return ncmp_fail(err, NCMP_ERR_FORMAT, "%s: \"%s\" must be an array of index arrays", path, key);
    size_t total = 0;
    for (size_t i = 0; i < v->n; i++) {
        if (v->items[i].type != NCMP_JSON_ARRAY)
            return ncmp_fail(err, NCMP_ERR_FORMAT, "%s: \"%s\"[%zu] is not an array", path, key, i);
        total += v->items[i].n;
    }
    *idx = malloc((total ? total : 1) * sizeof(size_t));
    *off = malloc((v->n + 1) * sizeof(size_t));
    if (!*idx || !*off)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < v->n; i++) {
        (*off)[i] = k;
        for (size_t j = 0; j < v->items[i].n; j++) {
            const ncmp_json_value *x = &v->items[i].items[j];
            if (x->type != NCMP_JSON_NUMBER || !(x->number >= 0) || x->number != floor(x->number) || x->number > 1e15)
                return ncmp_fail(err, NCMP_ERR_FORMAT, "%s: \"%s\"[%zu][%zu] is not a non-negative integer", path, key,
                                 i, j);
            (*idx)[k++] = (size_t)x->number;
        }
    }
    (*off)[v->n] = k;
    *n_lists = v->n;
    return NCMP_OK;
}

ncmp_status ncmp_splits_read_json(const char *path, size_t n_samples, const char *const *expected_ids,
                                  ncmp_splits **out, ncmp_error *err)
{
    *out = NULL;
    ncmp_json_value *root = NULL;
    ncmp_status st = ncmp_json_parse_file(path, &root, err);
    if (st)
        return st;
    ncmp_splits *s = calloc(1, sizeof *s);
    if (!s) {
        ncmp_json_free(root);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    }
    s->n_samples = n_samples;
    if (root->type != NCMP_JSON_OBJECT) {
        st = ncmp_fail(err, NCMP_ERR_FORMAT, "%s: expected a JSON object with \"train\" and \"test\"", path);
        goto done;
    }
    const ncmp_json_value *ns = ncmp_json_get(root, "n_samples");
    if (ns && (ns->type != NCMP_JSON_NUMBER || ns->number != (double)n_samples)) {
        st = ncmp_fail(err, NCMP_ERR_VALUE, "%s: splits are for %g samples, but there are %zu stimuli", path,
                       ns->type == NCMP_JSON_NUMBER ? ns->number : NAN, n_samples);
        goto done;
    }
    const ncmp_json_value *ids = ncmp_json_get(root, "sample_ids");
    if (ids && expected_ids) {
        if (ids->type != NCMP_JSON_ARRAY || ids->n != n_samples) {
            st = ncmp_fail(err, NCMP_ERR_VALUE, "%s: \"sample_ids\" must list %zu ids", path, n_samples);
            goto done;
        }
        for (size_t i = 0; i < n_samples; i++)
            if (ids->items[i].type != NCMP_JSON_STRING || strcmp(ids->items[i].string, expected_ids[i])) {
                st = ncmp_fail(err, NCMP_ERR_VALUE,
                               "%s: sample %zu is '%s' in the splits file but '%s' here; the splits were made for "
                               "other stimuli or another order",
                               path, i, ids->items[i].type == NCMP_JSON_STRING ? ids->items[i].string : "?",
                               expected_ids[i]);
                goto done;
            }
    }
    size_t k_train = 0, k_test = 0;
    if ((st = index_lists(ncmp_json_get(root, "train"), path, "train", &k_train, &s->train, &s->train_offset, err)))
        goto done;
    if ((st = index_lists(ncmp_json_get(root, "test"), path, "test", &k_test, &s->test, &s->test_offset, err)))
        goto done;
    if (k_train != k_test || k_train == 0) {
        st = ncmp_fail(err, NCMP_ERR_FORMAT, "%s: %zu train sets and %zu test sets; need the same number, at least 1",
                       path, k_train, k_test);
        goto done;
    }
    s->n_splits = k_train;
    const ncmp_json_value *seed = ncmp_json_get(root, "seed");
    s->seed = 0;
    if (seed && seed->type == NCMP_JSON_NUMBER) {
        if (!(seed->number >= 0 && seed->number <= UINT32_MAX && seed->number == floor(seed->number))) {
            st = ncmp_fail(err, NCMP_ERR_FORMAT, "%s: \"seed\" is %g; expected an integer 0 to %u", path, seed->number,
                           UINT32_MAX);
            goto done;
        }
        s->seed = (uint32_t)seed->number;
    }
    const ncmp_json_value *d = ncmp_json_get(root, "description");
    char buf[256];
    snprintf(buf, sizeof buf, "%s (from %s)", d && d->type == NCMP_JSON_STRING ? d->string : "splits", path);
    s->description = strdup(buf);
    if ((st = ncmp_splits_validate(s, err)))
        ncmp_error_context(err, "%s", path);
done:
    ncmp_json_free(root);
    if (st) {
        ncmp_splits_free(s);
        return st;
    }
    *out = s;
    return NCMP_OK;
}
