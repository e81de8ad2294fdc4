/* NumPy .npy reader (format 1.0-3.0, numpy/lib/format.py), stimulus id lists, and the responses-array importer. */
#include "core/sizes.h"
#include "datasets/stimuli.h"
#include "neural/io.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void ncmp_npy_release(ncmp_npy_array *a)
{
    free(a->data);
    a->data = NULL;
}

/* Value of 'key' in the header dict text, or NULL. */
static const char *header_field(const char *h, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof pat, "'%s'", key);
    const char *p = strstr(h, pat);
    if (!p)
        return NULL;
    p = strchr(p + strlen(pat), ':');
    if (!p)
        return NULL;
    p++;
    while (*p == ' ')
        p++;
    return p;
}

ncmp_status ncmp_npy_read(const char *path, ncmp_npy_array *out, ncmp_error *err)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return ncmp_fail(err, NCMP_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    unsigned char pre[12];
    size_t got = fread(pre, 1, 10, f);
    if (got < 10 || memcmp(pre, "\x93NUMPY", 6)) {
        fclose(f);
        return ncmp_fail(err, NCMP_ERR_FORMAT, "%s: not a NumPy .npy file (no \\x93NUMPY magic)", path);
    }
    int major = pre[6];
    size_t hlen, pos;
    if (major == 1) {
        hlen = pre[8] | (size_t)pre[9] << 8;
        pos = 10;
    } else if (major == 2 || major == 3) {
        if (fread(pre + 10, 1, 2, f) != 2) {
            fclose(f);
            return ncmp_fail(err, NCMP_ERR_FORMAT, "%s: truncated .npy header", path);
        }
        hlen = pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
        pos = 12;
    } else {
        fclose(f);
        return ncmp_fail(err, NCMP_ERR_FORMAT, "%s: unsupported .npy format version %d.%d", path, major, pre[7]);
    }
    if (hlen > (1u << 20)) {
        fclose(f);
        return ncmp_fail(err, NCMP_ERR_FORMAT, "%s: implausible .npy header length %zu", path, hlen);
    }
    char *h = calloc(hlen + 1, 1);
    if (!h || fread(h, 1, hlen, f) != hlen) {
        free(h);
        fclose(f);
        return ncmp_fail(err, NCMP_ERR_FORMAT, "%s: truncated .npy header", path);
    }
    pos += hlen;
    ncmp_status st = NCMP_OK;
    const char *descr = header_field(h, "descr"), *fo = header_field(h, "fortran_order"),
               *shape = header_field(h, "shape");
    int itemsize = 0;
    char kind = 'f'; /* 'f' float, 'i' signed, 'u' unsigned integer (spike counts) */
    bool big = false;
    if (!descr || !fo || !shape)
        st = ncmp_fail(err, NCMP_ERR_FORMAT, "%s: .npy header lacks descr, fortran_order or shape: %s", path, h);
    else if (!strncmp(fo, "True", 4))
        st = ncmp_fail(err, NCMP_ERR_FORMAT,
                       "%s: array is in Fortran order; save it in C order (numpy.ascontiguousarray) first", path);
    else if (descr[0] == '\'' && strchr("<>=|", descr[1]) && strchr("fiu", descr[2]) && strchr("1248", descr[3]) &&
             descr[4] == '\'' && !(descr[2] == 'f' && (descr[3] == '1' || descr[3] == '2'))) {
        kind = descr[2];
        itemsize = descr[3] - '0';
        big = descr[1] == '>';
    } else {
        char d[32] = "";
        sscanf(descr, "%31[^,}]", d);
        st = ncmp_fail(err, NCMP_ERR_FORMAT,
                       "%s: dtype %s is not supported; expected float64, float32 or integers (counts)", path, d);
    }
    size_t count = 1;
    if (!st) {
        const char *p = shape;
        if (*p != '(')
            st = ncmp_fail(err, NCMP_ERR_FORMAT, "%s: cannot parse shape in .npy header: %s", path, h);
        else {
            p++;
            while (!st) {
                while (*p == ' ' || *p == ',')
                    p++;
                if (*p == ')')
                    break;
                char *end;
                errno = 0;
                unsigned long long v = strtoull(p, &end, 10);
                if (end == p || errno || out->ndim >= 8) {
                    st = ncmp_fail(err, NCMP_ERR_FORMAT, "%s: cannot parse shape in .npy header: %s", path, h);
                    break;
                }
                out->shape[out->ndim++] = (size_t)v;
                count *= (size_t)v; /* may wrap: the shape is checked below before count is used */
                p = end;
            }
        }
    }
    free(h);
    size_t bytes; /* as doubles in memory: the declared shape through the shared check */
    if (!st)
        st = ncmp_size_product(path, "the .npy array", out->shape, out->ndim, sizeof(double), &bytes, err);
    if (st) {
        fclose(f);
        return st;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && (size_t)sb.st_size < pos + count * (size_t)itemsize) {
        fclose(f);
        return ncmp_fail(err, NCMP_ERR_FORMAT, "%s: truncated: %zu bytes of data expected, %lld present", path,
                         count * (size_t)itemsize, (long long)sb.st_size - (long long)pos);
    }
    out->data = malloc((count ? count : 1) * sizeof(double));
    unsigned char *buf = malloc(count ? count * (size_t)itemsize : 1);
    if (!out->data || !buf || fread(buf, (size_t)itemsize, count, f) != count) {
        free(buf);
        ncmp_npy_release(out);
        fclose(f);
        return ncmp_fail(err, NCMP_ERR_FORMAT, "%s: cannot read %zu values", path, count);
    }
    fclose(f);
    uint16_t probe = 1;
    bool host_big = *(unsigned char *)&probe == 0;
    for (size_t i = 0; i < count; i++) {
        unsigned char *b = buf + i * (size_t)itemsize;
        if (big != host_big)
            for (int k = 0; k < itemsize / 2; k++) {
                unsigned char t = b[k];
                b[k] = b[itemsize - 1 - k];
                b[itemsize - 1 - k] = t;
            }
        if (kind == 'f' && itemsize == 8)
            memcpy(&out->data[i], b, 8);
        else if (kind == 'f') {
            float x;
            memcpy(&x, b, 4);
            out->data[i] = x;
        } else {
            uint64_t u = 0;
            memcpy(&u, b, (size_t)itemsize); /* host order now; little-endian hosts fill the low bytes */
            if (host_big)
                u >>= 8 * (8 - itemsize);
            if (kind == 'i' && itemsize < 8 && (u >> (8 * itemsize - 1)) & 1)
                u |= ~(uint64_t)0 << (8 * itemsize); /* sign-extend */
            out->data[i] = kind == 'i' ? (double)(int64_t)u : (double)u;
        }
    }
    free(buf);
    return NCMP_OK;
}

void ncmp_stimulus_ids_free(char **ids, size_t n)
{
    if (!ids)
        return;
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    if (a < b)
        return false;
    for (size_t i = 0; i < b; i++)
        if (tolower((unsigned char)s[a - b + i]) != suffix[i])
            return false;
    return true;
}

/* Split one CSV line into fields (RFC 4180 quotes), in place. */
static size_t csv_fields(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *p = line;
    while (n < max) {
        char *w = p, *start = p;
        if (*p == '"') {
            p++;
            for (;;) {
                if (*p == '"' && p[1] == '"') {
                    *w++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else if (!*p)
                    break;
                else
                    *w++ = *p++;
            }
            while (*p && *p != ',')
                p++;
        } else {
            while (*p && *p != ',')
                *w++ = *p++;
        }
        char sep = *p;
        *w = '\0';
        fields[n++] = start;
        if (sep != ',')
            break;
        p++;
    }
    return n;
}

ncmp_status ncmp_stimulus_ids_read(const char *path, char ***ids, size_t *n, ncmp_error *err)
{
    return ncmp_stimulus_table_read(path, ids, NULL, n, err);
}

ncmp_status ncmp_stimulus_table_read(const char *path, char ***ids, char ***object_names, size_t *n, ncmp_error *err)
{
    *ids = NULL;
    *n = 0;
    if (object_names)
        *object_names = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return ncmp_fail(err, NCMP_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    bool is_csv = ends_with(path, ".csv"), is_text = ends_with(path, ".txt");
    if (S_ISDIR(sb.st_mode) || (!is_csv && !is_text)) {
        ncmp_stimulus_set *set;
        ncmp_status st = ncmp_stimuli_open(path, &set, err);
        if (st)
            return st;
        size_t k = ncmp_stimuli_count(set);
        char **v = calloc(k ? k : 1, sizeof *v);
        for (size_t i = 0; v && i < k; i++)
            if (!(v[i] = strdup(ncmp_stimuli_id(set, i)))) {
                ncmp_stimulus_ids_free(v, i);
                v = NULL;
            }
        ncmp_stimuli_close(set);
        if (!v)
            return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        *ids = v;
        *n = k;
        return NCMP_OK;
    }
    FILE *f = fopen(path, "r");
    if (!f)
        return ncmp_fail(err, NCMP_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0, count = 0, alloc = 0, lineno = 0;
    ssize_t len;
    long column = is_csv ? -1 : 0, label_column = -1;
    char **v = NULL, **labels = NULL;
    ncmp_status st = NCMP_OK;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        char *text = line;
        if (lineno == 1 && !strncmp(text, "\xEF\xBB\xBF", 3))
            text += 3;
        char *fields[256];
        size_t nf = is_csv ? csv_fields(text, fields, 256) : 1;
        if (!is_csv)
            fields[0] = text;
        if (is_csv && column < 0) {
            for (size_t i = 0; i < nf && column < 0; i++)
                if (!strcmp(fields[i], "stimulus_id"))
                    column = (long)i;
            for (size_t i = 0; i < nf && column < 0; i++)
                if (!strcmp(fields[i], "image_id"))
                    column = (long)i;
            if (column < 0) {
                st = ncmp_fail(err, NCMP_ERR_FORMAT, "%s line 1: no 'stimulus_id' (or 'image_id') column", path);
                break;
            }
            for (size_t i = 0; i < nf && object_names; i++)
                if (!strcmp(fields[i], "object_name"))
                    label_column = (long)i;
            continue;
        }
        if (!is_csv && !text[0])
            continue; /* blank lines in a plain list */
        if ((size_t)column >= nf || !fields[column][0]) {
            st = ncmp_fail(err, NCMP_ERR_FORMAT, "%s line %zu: empty stimulus id", path, lineno);
            break;
        }
        if (label_column >= 0 && ((size_t)label_column >= nf || !fields[label_column][0])) {
            st = ncmp_fail(err, NCMP_ERR_FORMAT,
                           "%s line %zu: empty object_name (the stratified splits need one for every stimulus)", path,
                           lineno);
            break;
        }
        if (count == alloc) {
            alloc = alloc ? 2 * alloc : 256;
            char **g = realloc(v, alloc * sizeof *g);
            if (g)
                v = g;
            char **gl = label_column >= 0 ? realloc(labels, alloc * sizeof *gl) : labels;
            if (gl)
                labels = gl;
            if (!g || (label_column >= 0 && !gl)) {
                st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
                break;
            }
        }
        if (label_column >= 0 && !(labels[count] = strdup(fields[label_column]))) {
            st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
            break;
        }
        if (!(v[count] = strdup(fields[column]))) {
            if (label_column >= 0)
                free(labels[count]);
            st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
            break;
        }
        count++;
    }
    free(line);
    fclose(f);
    if (!st && count == 0)
        st = ncmp_fail(err, NCMP_ERR_FORMAT, "%s: no stimulus ids", path);
    if (st) {
        ncmp_stimulus_ids_free(v, count);
        ncmp_stimulus_ids_free(labels, label_column >= 0 ? count : 0);
        return st;
    }
    *ids = v;
    *n = count;
    if (object_names)
        *object_names = labels;
    return NCMP_OK;
}

static int cmp_str_ptr(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

ncmp_status ncmp_assembly_from_responses(const ncmp_npy_array *r, const char *const *ids, size_t n_ids,
                                         const ncmp_import_options *o, ncmp_assembly **out, ncmp_error *err)
{
    *out = NULL;
    const char *src = o && o->source ? o->source : "responses";
    if (!o || !o->region || !o->region[0])
        return ncmp_fail(err, NCMP_ERR_USAGE, "importing '%s': a region is required", src);
    if (r->ndim < 2 || r->ndim > 4)
        return ncmp_fail(err, NCMP_ERR_SHAPE,
                         "%s: array has %d dimensions; expected neurons x stimuli x repeats x time bins, neurons x "
                         "stimuli x repeats, or neurons x stimuli",
                         src, r->ndim);
    size_t N = r->shape[0], S = r->shape[1], R = r->ndim >= 3 ? r->shape[2] : 1, B = r->ndim == 4 ? r->shape[3] : 1;
    if (r->ndim == 4 && (!o->bin_starts || o->n_bin_starts != B || !(o->bin_size_ms > 0)))
        return ncmp_fail(err, NCMP_ERR_USAGE,
                         "%s: %zu time bins along axis 3: give their starts (--bin-starts, %zu values or START:STEP) "
                         "and --bin-size in ms",
                         src, B, B);
    if (r->ndim < 4 && o->bin_starts)
        return ncmp_fail(err, NCMP_ERR_USAGE,
                         "%s: --bin-starts needs a 4-D array (neurons x stimuli x repeats x time bins); this one has "
                         "%d dimensions",
                         src, r->ndim);
    if (S != n_ids)
        return ncmp_fail(err, NCMP_ERR_SHAPE, "%s: %zu stimuli along axis 1 but %zu stimulus ids were given", src, S,
                         n_ids);
    /* A repeated id would silently merge two different images' responses. */
    const char **sorted = malloc((n_ids ? n_ids : 1) * sizeof *sorted);
    if (!sorted)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    memcpy(sorted, ids, n_ids * sizeof *sorted);
    qsort(sorted, n_ids, sizeof *sorted, cmp_str_ptr);
    for (size_t i = 1; i < n_ids; i++)
        if (!strcmp(sorted[i], sorted[i - 1])) {
            ncmp_status dup = ncmp_fail(err, NCMP_ERR_VALUE, "%s: stimulus id '%s' is given twice", src, sorted[i]);
            free(sorted);
            return dup;
        }
    free(sorted);
    for (size_t i = 0; i < N * S * R * B; i++)
        if (isinf(r->data[i])) {
            char bin[48] = "";
            if (r->ndim == 4)
                snprintf(bin, sizeof bin, ", time bin %zu", i % B);
            return ncmp_fail(err, NCMP_ERR_VALUE,
                             "%s: an infinite value at neuron %zu, stimulus %zu ('%s'), repeat %zu%s (0-based); "
                             "responses must be finite (NaN marks a missing trial)",
                             src, i / (S * R * B), i / (R * B) % S, ids[i / (R * B) % S], i / B % R, bin);
        }
    /* Presentations: (stimulus, repeat) pairs where some neuron has a value. */
    size_t P = 0;
    size_t SR = S * R > 0 ? S * R : 1;
    size_t *ps = malloc(SR * sizeof *ps), *pr = malloc(SR * sizeof *pr);
    if (!ps || !pr) {
        free(ps);
        free(pr);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    }
    for (size_t s = 0; s < S; s++)
        for (size_t k = 0; k < R; k++) {
            bool any = false;
            for (size_t n = 0; n < N && !any; n++)
                for (size_t b = 0; b < B && !any; b++)
                    any = !isnan(r->data[((n * S + s) * R + k) * B + b]);
            if (any) {
                ps[P] = s;
                pr[P++] = k;
            }
        }
    ncmp_assembly *a;
    ncmp_status st = ncmp_assembly_alloc(P, N, r->ndim == 4 ? B : 0, "responses", src, &a, err);
    const char **sid = NULL, **nid = NULL, **reg = NULL, **lab = NULL;
    double *rep = NULL;
    char *names = NULL;
    if (!st) {
        sid = malloc((P ? P : 1) * sizeof *sid);
        rep = malloc((P ? P : 1) * sizeof *rep);
        nid = malloc((N ? N : 1) * sizeof *nid);
        reg = malloc((N ? N : 1) * sizeof *reg);
        names = malloc((N ? N : 1) * 32);
        lab = o->object_names ? malloc((P ? P : 1) * sizeof *lab) : NULL;
        if (!sid || !rep || !nid || !reg || !names || (o->object_names && !lab))
            st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    }
    if (!st) {
        for (size_t p = 0; p < P; p++) {
            sid[p] = ids[ps[p]];
            if (lab)
                lab[p] = o->object_names[ps[p]];
            rep[p] = (double)pr[p];
            for (size_t n = 0; n < N; n++)
                for (size_t b = 0; b < B; b++)
                    *ncmp_assembly_at(a, p, n, b) = r->data[((n * S + ps[p]) * R + pr[p]) * B + b];
        }
        for (size_t b = 0; r->ndim == 4 && b < B; b++) {
            a->time_bin_start[b] = o->bin_starts[b];
            a->time_bin_end[b] = o->bin_starts[b] + o->bin_size_ms;
        }
        for (size_t n = 0; n < N; n++) {
            snprintf(names + 32 * n, 32, "neuron%03zu", n);
            nid[n] = names + 32 * n;
            reg[n] = o->region;
        }
        if (!(st = ncmp_coord_add_strings(&a->presentation, "stimulus_id", sid, err)) && r->ndim >= 3)
            st = ncmp_coord_add_numbers(&a->presentation, "repetition", NCMP_COORD_INT64, rep, err);
        if (!st && lab)
            st = ncmp_coord_add_strings(&a->presentation, "object_name", lab, err);
        if (!st)
            st = ncmp_coord_add_strings(&a->neuroid, "neuroid_id", nid, err);
        if (!st)
            st = ncmp_coord_add_strings(&a->neuroid, "region", reg, err);
        if (!st && o->animal && o->animal[0]) {
            for (size_t n = 0; n < N; n++)
                reg[n] = o->animal;
            st = ncmp_coord_add_strings(&a->neuroid, "animal", reg, err);
        }
    }
    free(ps);
    free(pr);
    free(sid);
    free(rep);
    free(nid);
    free(reg);
    free(names);
    free(lab);
    if (!st)
        st = ncmp_assembly_validate(a, err);
    if (st) {
        ncmp_assembly_free(a);
        return st;
    }
    *out = a;
    return NCMP_OK;
}
