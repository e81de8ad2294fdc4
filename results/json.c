/* JSON for result files: string and number writers; reading through cJSON (Debian's libcjson). */
#include "results/json.h"

#include <cjson/cJSON.h>

#include "core/paths.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void ncmp_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            fputc('\\', f);
            fputc(*p, f);
        } else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

void ncmp_json_number(FILE *f, double x)
{
    if (isfinite(x))
        fprintf(f, "%.17g", x);
    else
        fputs("null", f);
}

void ncmp_json_opt_string(FILE *f, const char *s)
{
    if (s)
        ncmp_json_string(f, s);
    else
        fputs("null", f);
}

void ncmp_json_window(FILE *f, double start, double end)
{
    if (isnan(start)) {
        fputs("null", f);
        return;
    }
    fputc('[', f);
    ncmp_json_number(f, start);
    fputs(", ", f);
    ncmp_json_number(f, end);
    fputc(']', f);
}

/* ---- reader: cJSON's parser, its tree copied into ncmp_json_value ----------- */

static ncmp_status convert(const cJSON *c, ncmp_json_value *v, const char *source, ncmp_error *err)
{
    if (cJSON_IsNull(c))
        v->type = NCMP_JSON_NULL;
    else if (cJSON_IsBool(c)) {
        v->type = NCMP_JSON_BOOL;
        v->number = cJSON_IsTrue(c) ? 1 : 0;
    } else if (cJSON_IsNumber(c)) {
        v->type = NCMP_JSON_NUMBER;
        v->number = c->valuedouble;
        if (!isfinite(v->number)) /* 1e999: JSON has no infinities */
            return ncmp_fail(err, NCMP_ERR_FORMAT, "%s: a number is out of the range of a double", source);
    } else if (cJSON_IsString(c)) {
        v->type = NCMP_JSON_STRING;
        if (!(v->string = strdup(c->valuestring)))
            return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    } else if (cJSON_IsArray(c) || cJSON_IsObject(c)) {
        bool object = cJSON_IsObject(c);
        v->type = object ? NCMP_JSON_OBJECT : NCMP_JSON_ARRAY;
        size_t n = 0;
        for (const cJSON *e = c->child; e; e = e->next)
            n++;
        v->items = calloc(n ? n : 1, sizeof *v->items);
        v->keys = object ? calloc(n ? n : 1, sizeof *v->keys) : NULL;
        if (!v->items || (object && !v->keys))
            return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        for (const cJSON *e = c->child; e; e = e->next) {
            ncmp_json_value *item = &v->items[v->n++];
            if (object && !(v->keys[v->n - 1] = strdup(e->string ? e->string : "")))
                return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
            ncmp_status st = convert(e, item, source, err);
            if (st)
                return st;
        }
    } else
        return ncmp_fail(err, NCMP_ERR_FORMAT, "%s: an unexpected JSON value", source);
    return NCMP_OK;
}

static void free_members(ncmp_json_value *v)
{
    free(v->string);
    for (size_t i = 0; i < v->n; i++) {
        free_members(&v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
}

void ncmp_json_free(ncmp_json_value *v)
{
    if (!v)
        return;
    free_members(v);
    free(v);
}

ncmp_status ncmp_json_parse(const char *text, const char *source, ncmp_json_value **out, ncmp_error *err)
{
    *out = NULL;
    source = source ? source : "JSON";
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 1); /* the whole text, nothing after the value */
    if (!root) {
        size_t line = 1;
        const char *at = end && end >= text ? end : text;
        for (const char *q = text; q < at && *q; q++)
            line += *q == '\n';
        return ncmp_fail(err, NCMP_ERR_FORMAT, "%s: line %zu: not valid JSON (near '%.20s')", source, line, at);
    }
    ncmp_json_value *v = calloc(1, sizeof *v);
    ncmp_status st = v ? convert(root, v, source, err) : ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    cJSON_Delete(root);
    if (st) {
        ncmp_json_free(v);
        return st;
    }
    *out = v;
    return NCMP_OK;
}

ncmp_status ncmp_json_parse_file(const char *path, ncmp_json_value **out, ncmp_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return ncmp_fail(err, NCMP_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            char *t = realloc(buf, cap *= 2);
            if (!t) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = t;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (!got)
            break;
    }
    fclose(f);
    if (!buf)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory reading '%s'", path);
    buf[n] = 0;
    if (strlen(buf) != n) {
        free(buf);
        return ncmp_fail(err, NCMP_ERR_FORMAT, "%s: contains a NUL byte; not a JSON text file", path);
    }
    ncmp_status st = ncmp_json_parse(buf, path, out, err);
    free(buf);
    return st;
}

const ncmp_json_value *ncmp_json_get(const ncmp_json_value *object, const char *key)
{
    if (!object || object->type != NCMP_JSON_OBJECT)
        return NULL;
    for (size_t i = 0; i < object->n; i++)
        if (object->keys[i] && !strcmp(object->keys[i], key))
            return &object->items[i];
    return NULL;
}
