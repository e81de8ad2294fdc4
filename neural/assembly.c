/* Assemblies (presentation x neuroid x time bin) and their operations, after BrainIO's NeuroidAssembly
 * (docs/formats.md, Recordings).
 */
#include "neural/assembly.h"

#include "core/sizes.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *src_name(const ncmp_assembly *a)
{
    return a->source && a->source[0] ? a->source : "assembly";
}

static char *dup_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

ncmp_status ncmp_assembly_alloc(size_t n_presentations, size_t n_neuroids, size_t n_time_bins, const char *name,
                                const char *source, ncmp_assembly **out, ncmp_error *err)
{
    *out = NULL;
    /* the data, and the per-presentation / per-neuroid / per-bin coordinate arrays, in bytes */
    const size_t T1 = n_time_bins ? n_time_bins : 1;
    size_t bytes, coord_bytes;
    char what[300];
    snprintf(what, sizeof what, "'%s' (presentation x neuroid x time_bin)", name ? name : "responses");
    ncmp_status st = ncmp_size_3d(source, what, n_presentations, n_neuroids, T1, sizeof(double), &bytes, err);
    if (!st)
        st = ncmp_size_2d(source, "the presentation coordinates", n_presentations, 1, 64, &coord_bytes, err);
    if (!st)
        st = ncmp_size_2d(source, "the neuroid coordinates", n_neuroids, 1, 64, &coord_bytes, err);
    if (!st)
        st = ncmp_size_2d(source, "the time bins", T1, 2, sizeof(double), &coord_bytes, err);
    if (st)
        return st;
    const size_t total = bytes / sizeof(double);
    ncmp_assembly *a = calloc(1, sizeof *a);
    if (!a)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory for an assembly");
    a->has_time_bins = n_time_bins > 0;
    a->n_presentations = n_presentations;
    a->n_neuroids = n_neuroids;
    a->n_time_bins = T1;
    a->presentation.length = n_presentations;
    a->neuroid.length = n_neuroids;
    a->data = malloc((total ? total : 1) * sizeof *a->data);
    a->name = dup_string(name ? name : "responses");
    a->source = dup_string(source ? source : "");
    if (a->has_time_bins) {
        a->time_bin_start = calloc(a->n_time_bins, sizeof(double));
        a->time_bin_end = calloc(a->n_time_bins, sizeof(double));
    }
    if (!a->data || !a->name || !a->source || (a->has_time_bins && (!a->time_bin_start || !a->time_bin_end))) {
        ncmp_assembly_free(a);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory for an assembly of %zu x %zu x %zu", n_presentations,
                         n_neuroids, a->n_time_bins);
    }
    for (size_t i = 0; i < total; i++)
        a->data[i] = NAN;
    *out = a;
    return NCMP_OK;
}

static void coord_free(ncmp_coord *c, size_t length)
{
    free(c->name);
    if (c->strings)
        for (size_t i = 0; i < length; i++)
            free(c->strings[i]);
    free(c->strings);
    free(c->numbers);
}

void ncmp_coord_list_free(ncmp_coord_list *list)
{
    for (size_t i = 0; i < list->n_coords; i++)
        coord_free(&list->coords[i], list->length);
    free(list->coords);
    list->coords = NULL;
    list->n_coords = 0;
}

void ncmp_assembly_free(ncmp_assembly *a)
{
    if (!a)
        return;
    ncmp_coord_list_free(&a->presentation);
    ncmp_coord_list_free(&a->neuroid);
    free(a->data);
    free(a->time_bin_start);
    free(a->time_bin_end);
    free(a->name);
    free(a->source);
    for (size_t i = 0; i < a->n_attributes; i++) {
        free(a->attribute_names[i]);
        free(a->attribute_values[i]);
    }
    free(a->attribute_names);
    free(a->attribute_values);
    free(a);
}

const char *ncmp_assembly_get_attribute(const ncmp_assembly *a, const char *name)
{
    for (size_t i = 0; i < a->n_attributes; i++)
        if (!strcmp(a->attribute_names[i], name))
            return a->attribute_values[i];
    return NULL;
}

ncmp_status ncmp_assembly_set_attribute(ncmp_assembly *a, const char *name, const char *value, ncmp_error *err)
{
    char *v = dup_string(value);
    if (!v)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < a->n_attributes; i++)
        if (!strcmp(a->attribute_names[i], name)) {
            free(a->attribute_values[i]);
            a->attribute_values[i] = v;
            return NCMP_OK;
        }
    char **n = realloc(a->attribute_names, (a->n_attributes + 1) * sizeof *n);
    if (n)
        a->attribute_names = n;
    char **vv = realloc(a->attribute_values, (a->n_attributes + 1) * sizeof *vv);
    if (vv)
        a->attribute_values = vv;
    char *k = dup_string(name);
    if (!n || !vv || !k) {
        free(v);
        free(k);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    }
    a->attribute_names[a->n_attributes] = k;
    a->attribute_values[a->n_attributes++] = v;
    return NCMP_OK;
}

const ncmp_coord *ncmp_coord_find(const ncmp_coord_list *list, const char *name)
{
    for (size_t i = 0; i < list->n_coords; i++)
        if (!strcmp(list->coords[i].name, name))
            return &list->coords[i];
    return NULL;
}

/* A fresh slot for `name` (replacing an existing coordinate of that name). */
static ncmp_coord *coord_slot(ncmp_coord_list *list, const char *name, ncmp_error *err)
{
    for (size_t i = 0; i < list->n_coords; i++)
        if (!strcmp(list->coords[i].name, name)) {
            coord_free(&list->coords[i], list->length);
            memset(&list->coords[i], 0, sizeof list->coords[i]);
            list->coords[i].name = dup_string(name);
            if (!list->coords[i].name) {
                ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory for coordinate '%s'", name);
                return NULL;
            }
            return &list->coords[i];
        }
    ncmp_coord *grown = realloc(list->coords, (list->n_coords + 1) * sizeof *grown);
    if (!grown) {
        ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory for coordinate '%s'", name);
        return NULL;
    }
    list->coords = grown;
    ncmp_coord *c = &list->coords[list->n_coords];
    memset(c, 0, sizeof *c);
    c->name = dup_string(name);
    if (!c->name) {
        ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory for coordinate '%s'", name);
        return NULL;
    }
    list->n_coords++;
    return c;
}

ncmp_status ncmp_coord_add_strings(ncmp_coord_list *list, const char *name, const char *const *values, ncmp_error *err)
{
    ncmp_coord *c = coord_slot(list, name, err);
    if (!c)
        return NCMP_ERR_NOMEM;
    c->kind = NCMP_COORD_STRING;
    c->strings = calloc(list->length ? list->length : 1, sizeof *c->strings);
    if (!c->strings)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory for coordinate '%s'", name);
    for (size_t i = 0; i < list->length; i++)
        if (!(c->strings[i] = dup_string(values[i] ? values[i] : "")))
            return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory for coordinate '%s'", name);
    return NCMP_OK;
}

ncmp_status ncmp_coord_add_numbers(ncmp_coord_list *list, const char *name, ncmp_coord_kind kind, const double *values,
                                   ncmp_error *err)
{
    if (kind == NCMP_COORD_STRING)
        return ncmp_fail(err, NCMP_ERR_INTERNAL, "coordinate '%s': numbers added as strings", name);
    ncmp_coord *c = coord_slot(list, name, err);
    if (!c)
        return NCMP_ERR_NOMEM;
    c->kind = kind;
    c->numbers = malloc((list->length ? list->length : 1) * sizeof *c->numbers);
    if (!c->numbers)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory for coordinate '%s'", name);
    if (list->length)
        memcpy(c->numbers, values, list->length * sizeof *values);
    return NCMP_OK;
}

const char *ncmp_coord_value_text(const ncmp_coord *c, size_t i, char *buf, size_t size)
{
    if (c->kind == NCMP_COORD_STRING)
        return c->strings[i];
    if (c->kind == NCMP_COORD_INT64)
        snprintf(buf, size, "%.0f", c->numbers[i]); /* int64 held as double: no cast that can overflow */
    else
        snprintf(buf, size, "%.17g", c->numbers[i]);
    return buf;
}

/* out gets the coordinates of `in` at positions idx[0..n-1]. */
static ncmp_status coord_list_subset(const ncmp_coord_list *in, const size_t *idx, size_t n, ncmp_coord_list *out,
                                     ncmp_error *err)
{
    out->length = n;
    for (size_t c = 0; c < in->n_coords; c++) {
        const ncmp_coord *src = &in->coords[c];
        ncmp_status st;
        if (src->kind == NCMP_COORD_STRING) {
            const char **v = malloc((n ? n : 1) * sizeof *v);
            if (!v)
                return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
            for (size_t i = 0; i < n; i++)
                v[i] = src->strings[idx[i]];
            st = ncmp_coord_add_strings(out, src->name, v, err);
            free(v);
        } else {
            double *v = malloc((n ? n : 1) * sizeof *v);
            if (!v)
                return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
            for (size_t i = 0; i < n; i++)
                v[i] = src->numbers[idx[i]];
            st = ncmp_coord_add_numbers(out, src->name, src->kind, v, err);
            free(v);
        }
        if (st)
            return st;
    }
    return NCMP_OK;
}

static size_t *iota(size_t n)
{
    size_t *v = malloc((n ? n : 1) * sizeof *v);
    if (v)
        for (size_t i = 0; i < n; i++)
            v[i] = i;
    return v;
}

static ncmp_status copy_attributes(const ncmp_assembly *from, ncmp_assembly *to, ncmp_error *err)
{
    for (size_t i = 0; i < from->n_attributes; i++) {
        ncmp_status st = ncmp_assembly_set_attribute(to, from->attribute_names[i], from->attribute_values[i], err);
        if (st)
            return st;
    }
    return NCMP_OK;
}

/* New assembly with presentations pidx, neuroids nidx, time bins tidx (NULL = all). */
static ncmp_status assembly_subset(const ncmp_assembly *a, const size_t *pidx, size_t np, const size_t *nidx, size_t nn,
                                   ncmp_assembly **out, ncmp_error *err)
{
    ncmp_assembly *b;
    ncmp_status st = ncmp_assembly_alloc(np, nn, a->has_time_bins ? a->n_time_bins : 0, a->name, a->source, &b, err);
    if (st)
        return st;
    if ((st = coord_list_subset(&a->presentation, pidx, np, &b->presentation, err)) ||
        (st = coord_list_subset(&a->neuroid, nidx, nn, &b->neuroid, err)) || (st = copy_attributes(a, b, err))) {
        ncmp_assembly_free(b);
        return st;
    }
    size_t T = a->n_time_bins;
    for (size_t p = 0; p < np; p++)
        for (size_t n = 0; n < nn; n++)
            memcpy(ncmp_assembly_at(b, p, n, 0), ncmp_assembly_at(a, pidx[p], nidx[n], 0), T * sizeof(double));
    if (a->has_time_bins) {
        memcpy(b->time_bin_start, a->time_bin_start, T * sizeof(double));
        memcpy(b->time_bin_end, a->time_bin_end, T * sizeof(double));
    }
    *out = b;
    return NCMP_OK;
}

ncmp_status ncmp_assembly_copy(const ncmp_assembly *a, ncmp_assembly **out, ncmp_error *err)
{
    size_t *p = iota(a->n_presentations), *n = iota(a->n_neuroids);
    ncmp_status st = (p && n) ? assembly_subset(a, p, a->n_presentations, n, a->n_neuroids, out, err)
                              : ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    free(p);
    free(n);
    return st;
}

static int cmp_str_ptr(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* Indices 0..n-1 sorted by strcmp of strings[i] (stable for equal strings). */
static _Thread_local const char *const
    *sort_keys; /* qsort has no context argument; thread-local keeps callers on different threads apart */
static int cmp_index_by_key(const void *x, const void *y)
{
    size_t i = *(const size_t *)x, j = *(const size_t *)y;
    int c = strcmp(sort_keys[i], sort_keys[j]);
    return c ? c : (i < j ? -1 : i > j);
}
static size_t *sorted_order(const char *const *strings, size_t n)
{
    size_t *idx = iota(n);
    if (!idx)
        return NULL;
    sort_keys = strings;
    qsort(idx, n, sizeof *idx, cmp_index_by_key);
    sort_keys = NULL;
    return idx;
}

ncmp_status ncmp_assembly_validate(ncmp_assembly *a, ncmp_error *err)
{
    const char *src = src_name(a);
    const ncmp_coord *sid = ncmp_coord_find(&a->presentation, "stimulus_id");
    if (!sid) {
        const ncmp_coord *img = ncmp_coord_find(&a->presentation, "image_id");
        if (img && img->kind == NCMP_COORD_STRING) {
            ncmp_status st =
                ncmp_coord_add_strings(&a->presentation, "stimulus_id", (const char *const *)img->strings, err);
            if (st)
                return st;
            sid = ncmp_coord_find(&a->presentation, "stimulus_id");
        }
    }
    if (!sid)
        return ncmp_fail(err, NCMP_ERR_FORMAT,
                         "%s: no 'stimulus_id' (or older 'image_id') coordinate along 'presentation'", src);
    if (sid->kind != NCMP_COORD_STRING)
        return ncmp_fail(err, NCMP_ERR_FORMAT, "%s: coordinate 'stimulus_id' holds numbers, expected strings", src);
    const ncmp_coord *nid = ncmp_coord_find(&a->neuroid, "neuroid_id");
    if (!nid)
        return ncmp_fail(err, NCMP_ERR_FORMAT, "%s: no 'neuroid_id' coordinate along 'neuroid'", src);
    char b1[64];
    if (a->n_neuroids > 1) {
        const char **ids = malloc(a->n_neuroids * sizeof *ids);
        char **texts = calloc(a->n_neuroids, sizeof *texts);
        if (!ids || !texts) {
            free(ids);
            free(texts);
            return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        }
        for (size_t i = 0; i < a->n_neuroids; i++) {
            if (nid->kind == NCMP_COORD_STRING)
                ids[i] = nid->strings[i];
            else
                ids[i] = texts[i] = dup_string(ncmp_coord_value_text(nid, i, b1, sizeof b1));
        }
        size_t *order = sorted_order(ids, a->n_neuroids);
        ncmp_status st = NCMP_OK;
        for (size_t k = 1; order && k < a->n_neuroids; k++)
            if (ids[order[k]] && ids[order[k - 1]] && !strcmp(ids[order[k]], ids[order[k - 1]])) {
                st = ncmp_fail(err, NCMP_ERR_VALUE, "%s: duplicate neuroid_id '%s' (neuroids %zu and %zu)", src,
                               ids[order[k]], order[k - 1], order[k]);
                break;
            }
        if (!order)
            st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        free(order);
        for (size_t i = 0; i < a->n_neuroids; i++)
            free(texts[i]);
        free(texts);
        free(ids);
        if (st)
            return st;
    }
    size_t T = a->n_time_bins;
    for (size_t n = 0; n < a->n_neuroids; n++) {
        size_t finite = 0;
        for (size_t p = 0; p < a->n_presentations; p++)
            for (size_t t = 0; t < T; t++) {
                double v = *ncmp_assembly_at(a, p, n, t);
                if (isinf(v))
                    return ncmp_fail(
                        err, NCMP_ERR_VALUE,
                        "%s: infinite value at presentation %zu (stimulus_id '%s'), neuroid '%s', time bin %zu", src, p,
                        sid->strings[p], ncmp_coord_value_text(nid, n, b1, sizeof b1), t);
                finite += !isnan(v);
            }
        if (!finite && a->n_presentations)
            return ncmp_fail(err, NCMP_ERR_VALUE, "%s: neuroid '%s' (index %zu) has no value: every entry is NaN", src,
                             ncmp_coord_value_text(nid, n, b1, sizeof b1), n);
    }
    if (a->has_time_bins)
        for (size_t t = 0; t < T; t++)
            if (!(a->time_bin_end[t] >= a->time_bin_start[t]))
                return ncmp_fail(err, NCMP_ERR_VALUE, "%s: time bin %zu ends (%g ms) before it starts (%g ms)", src, t,
                                 a->time_bin_end[t], a->time_bin_start[t]);
    return NCMP_OK;
}

ncmp_status ncmp_assembly_regions(const ncmp_assembly *a, const char ***regions, size_t *n, ncmp_error *err)
{
    *regions = NULL;
    *n = 0;
    const ncmp_coord *r = ncmp_coord_find(&a->neuroid, "region");
    if (!r || r->kind != NCMP_COORD_STRING)
        return ncmp_fail(err, NCMP_ERR_NOT_FOUND, "%s: no string coordinate 'region' along 'neuroid'", src_name(a));
    const char **v = malloc((a->n_neuroids + 1) * sizeof *v);
    if (!v)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    memcpy(v, r->strings, a->n_neuroids * sizeof *v);
    qsort(v, a->n_neuroids, sizeof *v, cmp_str_ptr);
    size_t k = 0;
    for (size_t i = 0; i < a->n_neuroids; i++)
        if (!k || strcmp(v[k - 1], v[i]))
            v[k++] = v[i];
    v[k] = NULL;
    *regions = v;
    *n = k;
    return NCMP_OK;
}

ncmp_status ncmp_assembly_select_neuroids(const ncmp_assembly *a, const size_t *index, size_t n, ncmp_assembly **out,
                                          ncmp_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (index[i] >= a->n_neuroids)
            return ncmp_fail(err, NCMP_ERR_USAGE, "%s: neuroid index %zu out of range (%zu neuroids)", src_name(a),
                             index[i], a->n_neuroids);
    size_t *p = iota(a->n_presentations);
    if (!p)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    ncmp_status st = assembly_subset(a, p, a->n_presentations, index, n, out, err);
    free(p);
    return st;
}

ncmp_status ncmp_assembly_select_regions(const ncmp_assembly *a, const char *const *regions, size_t n_regions,
                                         ncmp_assembly **out, ncmp_error *err)
{
    const char **have;
    size_t n_have;
    ncmp_status st = ncmp_assembly_regions(a, &have, &n_have, err);
    if (st)
        return st;
    for (size_t r = 0; r < n_regions; r++) {
        bool found = false;
        for (size_t h = 0; h < n_have; h++)
            found |= !strcmp(have[h], regions[r]);
        if (!found) {
            char list[512] = "";
            for (size_t h = 0; h < n_have; h++) {
                size_t len = strlen(list);
                snprintf(list + len, sizeof list - len, "%s%s", h ? ", " : "", have[h]);
            }
            free(have);
            return ncmp_fail(err, NCMP_ERR_NOT_FOUND, "%s: no neuroid in region '%s' (regions: %s)", src_name(a),
                             regions[r], list);
        }
    }
    free(have);
    const ncmp_coord *rc = ncmp_coord_find(&a->neuroid, "region");
    size_t *idx = malloc((a->n_neuroids ? a->n_neuroids : 1) * sizeof *idx), k = 0;
    if (!idx)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < a->n_neuroids; i++)
        for (size_t r = 0; r < n_regions; r++)
            if (!strcmp(rc->strings[i], regions[r])) {
                idx[k++] = i;
                break;
            }
    st = ncmp_assembly_select_neuroids(a, idx, k, out, err);
    free(idx);
    return st;
}

ncmp_status ncmp_assembly_select_time_bin(const ncmp_assembly *a, size_t t, ncmp_assembly **out, ncmp_error *err)
{
    if (t >= a->n_time_bins)
        return ncmp_fail(err, NCMP_ERR_USAGE, "%s: time bin %zu out of range (%zu bins)", src_name(a), t,
                         a->n_time_bins);
    ncmp_assembly *b;
    ncmp_status st = ncmp_assembly_time_window(a, -INFINITY, INFINITY, &b, err);
    if (st)
        return st;
    /* time_window averaged everything; redo with bin t alone. */
    for (size_t p = 0; p < a->n_presentations; p++)
        for (size_t n = 0; n < a->n_neuroids; n++)
            *ncmp_assembly_at(b, p, n, 0) = *ncmp_assembly_at(a, p, n, t);
    if (a->has_time_bins) {
        b->time_bin_start[0] = a->time_bin_start[t];
        b->time_bin_end[0] = a->time_bin_end[t];
    }
    *out = b;
    return NCMP_OK;
}

ncmp_status ncmp_assembly_time_window(const ncmp_assembly *a, double start_ms, double end_ms, ncmp_assembly **out,
                                      ncmp_error *err)
{
    if (!a->has_time_bins)
        return ncmp_assembly_copy(a, out, err);
    size_t T = a->n_time_bins, k = 0;
    bool *in = calloc(T, sizeof *in);
    if (!in)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    double lo = INFINITY, hi = -INFINITY;
    for (size_t t = 0; t < T; t++)
        if (a->time_bin_start[t] >= start_ms && a->time_bin_end[t] <= end_ms) {
            in[t] = true;
            k++;
            lo = fmin(lo, a->time_bin_start[t]);
            hi = fmax(hi, a->time_bin_end[t]);
        }
    if (!k) {
        char list[512] = "";
        for (size_t t = 0; t < T && strlen(list) < 400; t++) {
            size_t len = strlen(list);
            snprintf(list + len, sizeof list - len, "%s%g-%g", t ? ", " : "", a->time_bin_start[t], a->time_bin_end[t]);
        }
        free(in);
        return ncmp_fail(err, NCMP_ERR_VALUE, "%s: no time bin lies inside %g-%g ms (bins, ms: %s)", src_name(a),
                         start_ms, end_ms, list);
    }
    ncmp_assembly *b;
    ncmp_status st = ncmp_assembly_alloc(a->n_presentations, a->n_neuroids, 1, a->name, a->source, &b, err);
    size_t *p = iota(a->n_presentations), *n = iota(a->n_neuroids);
    if (!st && (!p || !n))
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    if (!st && !(st = coord_list_subset(&a->presentation, p, a->n_presentations, &b->presentation, err)) &&
        !(st = coord_list_subset(&a->neuroid, n, a->n_neuroids, &b->neuroid, err)))
        st = copy_attributes(a, b, err);
    free(p);
    free(n);
    if (st) {
        free(in);
        ncmp_assembly_free(b);
        return st;
    }
    for (size_t pi = 0; pi < a->n_presentations; pi++)
        for (size_t ni = 0; ni < a->n_neuroids; ni++) {
            const double *x = ncmp_assembly_at(a, pi, ni, 0);
            double sum = 0;
            size_t cnt = 0;
            for (size_t t = 0; t < T; t++)
                if (in[t] && !isnan(x[t])) {
                    sum += x[t];
                    cnt++;
                }
            *ncmp_assembly_at(b, pi, ni, 0) = cnt ? sum / (double)cnt : NAN;
        }
    b->time_bin_start[0] = lo;
    b->time_bin_end[0] = hi;
    free(in);
    *out = b;
    return NCMP_OK;
}

ncmp_status ncmp_assembly_average_repetitions(const ncmp_assembly *a, ncmp_assembly **out, ncmp_error *err)
{
    const ncmp_coord *sid = ncmp_coord_find(&a->presentation, "stimulus_id");
    if (!sid || sid->kind != NCMP_COORD_STRING)
        return ncmp_fail(err, NCMP_ERR_FORMAT, "%s: no string coordinate 'stimulus_id' along 'presentation'",
                         src_name(a));
    size_t P = a->n_presentations;
    size_t *order = sorted_order((const char *const *)sid->strings, P);
    size_t *group = malloc((P ? P : 1) * sizeof *group), *first = malloc((P ? P : 1) * sizeof *first);
    if (!order || !group || !first) {
        free(order);
        free(group);
        free(first);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    }
    size_t S = 0;
    for (size_t k = 0; k < P; k++) {
        size_t p = order[k];
        if (k == 0 || strcmp(sid->strings[p], sid->strings[order[k - 1]]))
            first[S++] = p;
        group[p] = S - 1;
    }
    /* Presentation coordinates constant within every stimulus survive. */
    ncmp_coord_list kept = {.length = P};
    ncmp_status st = NCMP_OK;
    ncmp_assembly *b = NULL;
    for (size_t c = 0; c < a->presentation.n_coords && !st; c++) {
        const ncmp_coord *co = &a->presentation.coords[c];
        bool constant = true;
        for (size_t p = 0; p < P && constant; p++) {
            size_t f = first[group[p]];
            constant = co->kind == NCMP_COORD_STRING
                           ? !strcmp(co->strings[p], co->strings[f])
                           : (co->numbers[p] == co->numbers[f] || (isnan(co->numbers[p]) && isnan(co->numbers[f])));
        }
        if (!constant)
            continue;
        st = co->kind == NCMP_COORD_STRING
                 ? ncmp_coord_add_strings(&kept, co->name, (const char *const *)co->strings, err)
                 : ncmp_coord_add_numbers(&kept, co->name, co->kind, co->numbers, err);
    }
    if (!st)
        st = ncmp_assembly_alloc(S, a->n_neuroids, a->has_time_bins ? a->n_time_bins : 0, a->name, a->source, &b, err);
    size_t *nidx = iota(a->n_neuroids);
    if (!st && !nidx)
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    if (!st && !(st = coord_list_subset(&kept, first, S, &b->presentation, err)) &&
        !(st = coord_list_subset(&a->neuroid, nidx, a->n_neuroids, &b->neuroid, err)))
        st = copy_attributes(a, b, err);
    free(nidx);
    ncmp_coord_list_free(&kept);
    if (st) {
        ncmp_assembly_free(b);
        free(order);
        free(group);
        free(first);
        return st;
    }
    size_t NT = a->n_neuroids * a->n_time_bins;
    double *count = calloc((S * NT) > 0 ? S * NT : 1, sizeof *count);
    if (!count) {
        ncmp_assembly_free(b);
        free(order);
        free(group);
        free(first);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < S * NT; i++)
        b->data[i] = 0;
    for (size_t p = 0; p < P; p++) {
        const double *x = a->data + p * NT;
        double *y = b->data + group[p] * NT, *c = count + group[p] * NT;
        for (size_t i = 0; i < NT; i++)
            if (!isnan(x[i])) {
                y[i] += x[i];
                c[i] += 1;
            }
    }
    for (size_t i = 0; i < S * NT; i++)
        b->data[i] = count[i] > 0 ? b->data[i] / count[i] : NAN;
    if (a->has_time_bins) {
        memcpy(b->time_bin_start, a->time_bin_start, a->n_time_bins * sizeof(double));
        memcpy(b->time_bin_end, a->time_bin_end, a->n_time_bins * sizeof(double));
    }
    free(count);
    free(order);
    free(group);
    free(first);
    *out = b;
    return NCMP_OK;
}

ncmp_status ncmp_assembly_align(const ncmp_assembly *a, const char *const *ids, size_t n, ncmp_assembly **out,
                                ncmp_error *err)
{
    const ncmp_coord *sid = ncmp_coord_find(&a->presentation, "stimulus_id");
    if (!sid || sid->kind != NCMP_COORD_STRING)
        return ncmp_fail(err, NCMP_ERR_FORMAT, "%s: no string coordinate 'stimulus_id' along 'presentation'",
                         src_name(a));
    size_t P = a->n_presentations;
    const char *const *have = (const char *const *)sid->strings;
    size_t *order = sorted_order(have, P);
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    if (!order || !idx) {
        free(order);
        free(idx);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    }
    for (size_t k = 1; k < P; k++)
        if (!strcmp(have[order[k]], have[order[k - 1]])) {
            ncmp_status st = ncmp_fail(err, NCMP_ERR_VALUE,
                                       "%s: stimulus_id '%s' appears in presentations %zu and %zu; average the "
                                       "repetitions before aligning",
                                       src_name(a), have[order[k]], order[k - 1], order[k]);
            free(order);
            free(idx);
            return st;
        }
    size_t missing = 0;
    char list[400] = "";
    for (size_t i = 0; i < n; i++) {
        size_t lo = 0, hi = P;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (strcmp(have[order[mid]], ids[i]) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < P && !strcmp(have[order[lo]], ids[i])) {
            idx[i] = order[lo];
        } else {
            if (missing < 5) {
                size_t len = strlen(list);
                snprintf(list + len, sizeof list - len, "%s'%s'", missing ? ", " : "", ids[i]);
            }
            missing++;
        }
    }
    free(order);
    if (missing) {
        free(idx);
        return ncmp_fail(err, NCMP_ERR_NOT_FOUND, "%s: %zu of %zu stimulus_ids are not in the recordings: %s%s",
                         src_name(a), missing, n, list, missing > 5 ? ", …" : "");
    }
    size_t *nidx = iota(a->n_neuroids);
    ncmp_status st = nidx ? assembly_subset(a, idx, n, nidx, a->n_neuroids, out, err)
                          : ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    free(nidx);
    free(idx);
    return st;
}
