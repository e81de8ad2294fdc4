/* Minimal JSON writing (atomic) and reading for analysis files (RFC 8259). */
#include "results/json.h"

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

/* ---- reader ---------------------------------------------------------------- */

typedef struct parser {
    const char *p, *start, *source;
    ncmp_error *err;
    int depth;
} parser;

static ncmp_status parse_fail(parser *ps, const char *what)
{
    size_t line = 1;
    for (const char *q = ps->start; q < ps->p; q++)
        line += *q == '\n';
    return ncmp_fail(ps->err, NCMP_ERR_FORMAT, "%s: line %zu: %s", ps->source, line, what);
}

static void skip_ws(parser *ps)
{
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
        ps->p++;
}

static ncmp_status parse_value(parser *ps, ncmp_json_value *v);

static ncmp_status parse_string(parser *ps, char **out)
{
    ps->p++; /* opening quote */
    size_t cap = 16, n = 0;
    char *s = malloc(cap);
    if (!s)
        return ncmp_fail(ps->err, NCMP_ERR_NOMEM, "out of memory");
    for (;;) {
        char c = *ps->p;
        if (!c || (unsigned char)c < 0x20) {
            free(s);
            return parse_fail(ps, "unterminated string");
        }
        ps->p++;
        if (c == '"')
            break;
        if (c == '\\') {
            char e = *ps->p++;
            switch (e) {
            case '"':
            case '\\':
            case '/':
                c = e;
                break;
            case 'n':
                c = '\n';
                break;
            case 't':
                c = '\t';
                break;
            case 'r':
                c = '\r';
                break;
            case 'b':
                c = '\b';
                break;
            case 'f':
                c = '\f';
                break;
            case 'u': {
                unsigned code = 0;
                for (int i = 0; i < 4; i++) {
                    char h = *ps->p++;
                    unsigned d = h >= '0' && h <= '9'   ? (unsigned)(h - '0')
                                 : h >= 'a' && h <= 'f' ? (unsigned)(h - 'a' + 10)
                                 : h >= 'A' && h <= 'F' ? (unsigned)(h - 'A' + 10)
                                                        : 99u;
                    if (d > 15) {
                        free(s);
                        return parse_fail(ps, "bad \\u escape");
                    }
                    code = code * 16 + d;
                }
                c = code < 0x80 ? (char)code : '?';
                break;
            }
            default:
                free(s);
                return parse_fail(ps, "bad escape in string");
            }
        }
        if (n + 2 > cap) {
            char *t = realloc(s, cap *= 2);
            if (!t) {
                free(s);
                return ncmp_fail(ps->err, NCMP_ERR_NOMEM, "out of memory");
            }
            s = t;
        }
        s[n++] = c;
    }
    s[n] = 0;
    *out = s;
    return NCMP_OK;
}

static ncmp_status parse_container(parser *ps, ncmp_json_value *v, bool object)
{
    char close = object ? '}' : ']';
    v->type = object ? NCMP_JSON_OBJECT : NCMP_JSON_ARRAY;
    ps->p++;
    if (++ps->depth > 64)
        return parse_fail(ps, "nested too deeply");
    size_t cap = 0;
    skip_ws(ps);
    if (*ps->p == close) {
        ps->p++;
        ps->depth--;
        return NCMP_OK;
    }
    for (;;) {
        if (v->n == cap) {
            cap = cap ? 2 * cap : 8;
            ncmp_json_value *items = realloc(v->items, cap * sizeof *items);
            if (!items)
                return ncmp_fail(ps->err, NCMP_ERR_NOMEM, "out of memory");
            v->items = items;
            if (object) {
                char **keys = realloc(v->keys, cap * sizeof *keys);
                if (!keys)
                    return ncmp_fail(ps->err, NCMP_ERR_NOMEM, "out of memory");
                v->keys = keys;
            }
        }
        memset(&v->items[v->n], 0, sizeof v->items[0]);
        skip_ws(ps);
        if (object) {
            v->keys[v->n] = NULL;
            if (*ps->p != '"')
                return parse_fail(ps, "expected a string key");
            ncmp_status st = parse_string(ps, &v->keys[v->n]);
            if (st)
                return st;
            skip_ws(ps);
            if (*ps->p != ':') {
                v->n++;
                return parse_fail(ps, "expected ':'");
            }
            ps->p++;
        }
        ncmp_status st = parse_value(ps, &v->items[v->n]);
        v->n++;
        if (st)
            return st;
        skip_ws(ps);
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == close) {
            ps->p++;
            ps->depth--;
            return NCMP_OK;
        }
        return parse_fail(ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static ncmp_status parse_value(parser *ps, ncmp_json_value *v)
{
    skip_ws(ps);
    char c = *ps->p;
    if (c == '{' || c == '[')
        return parse_container(ps, v, c == '{');
    if (c == '"') {
        v->type = NCMP_JSON_STRING;
        return parse_string(ps, &v->string);
    }
    if (!strncmp(ps->p, "null", 4)) {
        ps->p += 4;
        v->type = NCMP_JSON_NULL;
        return NCMP_OK;
    }
    if (!strncmp(ps->p, "true", 4) || !strncmp(ps->p, "false", 5)) {
        v->type = NCMP_JSON_BOOL;
        v->number = c == 't';
        ps->p += c == 't' ? 4 : 5;
        return NCMP_OK;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        char *end;
        v->type = NCMP_JSON_NUMBER;
        v->number = strtod(ps->p, &end);
        ps->p = end;
        return NCMP_OK;
    }
    return parse_fail(ps, c ? "unexpected character" : "unexpected end of file");
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
    parser ps = {text, text, source ? source : "JSON", err, 0};
    ncmp_json_value *v = calloc(1, sizeof *v);
    if (!v)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    ncmp_status st = parse_value(&ps, v);
    if (!st) {
        skip_ws(&ps);
        if (*ps.p)
            st = parse_fail(&ps, "trailing characters after the JSON value");
    }
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
