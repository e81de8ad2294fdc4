/* Comparing the numbers of two result files (JSON trees, CSV/TSV cells) for
 * `neurocmp verify --recompute` (results/verify.h, docs/verify.md). */
#include "results/verify.h"

#include "results/json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Result files compared by --recompute are read whole; far larger than any table neurocmp writes. */
#define MAX_COMPARED_BYTES ((size_t)1 << 30)

/* A file's extension ("json"), or "". */
static const char *extension(const char *path)
{
    const char *base = strrchr(path, '/');
    const char *dot = strrchr(base ? base : path, '.');
    return dot ? dot + 1 : "";
}

typedef struct number_walk {
    double tolerance;
    size_t count;
    double max_difference;
    bool failed;
    char *message;
    size_t message_size;
} number_walk;

static bool skipped_key(const char *key)
{
    return !strcmp(key, "provenance") || !strcmp(key, "created_utc") || !strcmp(key, "seconds") ||
           !strcmp(key, "command_line") || strstr(key, "path") || strstr(key, "sha256");
}

static bool numbers_agree(number_walk *w, double recorded, double recomputed)
{
    double d = fabs(recomputed - recorded);
    w->count++;
    if (d > w->max_difference)
        w->max_difference = d;
    return d <= w->tolerance * fmax(1.0, fabs(recorded));
}

static void walk_json(number_walk *w, const ncmp_json_value *a, const ncmp_json_value *b, char *where, size_t len,
                      size_t cap)
{
    static const char *const kinds[] = {"null", "a boolean", "a number", "a string", "an array", "an object"};
    if (w->failed)
        return;
    const char *at = len ? where : "(top level)";
    if (a->type != b->type) {
        if (a->type == NCMP_JSON_NUMBER || b->type == NCMP_JSON_NUMBER)
            w->count++;
        snprintf(w->message, w->message_size, "'%s' is %s in the recorded file but %s recomputed", at, kinds[a->type],
                 kinds[b->type]);
        w->failed = true;
        return;
    }
    if (a->type == NCMP_JSON_NUMBER) {
        if (!numbers_agree(w, a->number, b->number)) {
            snprintf(w->message, w->message_size, "'%s' is %.17g recorded but %.17g recomputed (difference %.3g)", at,
                     a->number, b->number, fabs(a->number - b->number));
            w->failed = true;
        }
        return;
    }
    if (a->type == NCMP_JSON_ARRAY) {
        if (a->n != b->n) {
            snprintf(w->message, w->message_size, "'%s' has %zu items recorded but %zu recomputed", at, a->n, b->n);
            w->failed = true;
            return;
        }
        for (size_t i = 0; i < a->n && !w->failed; i++) {
            int n = snprintf(where + len, cap - len, "[%zu]", i);
            walk_json(w, &a->items[i], &b->items[i], where, n > 0 && len + (size_t)n < cap ? len + (size_t)n : len,
                      cap);
            where[len] = '\0';
        }
        return;
    }
    if (a->type == NCMP_JSON_OBJECT)
        for (size_t i = 0; i < a->n && !w->failed; i++) {
            if (skipped_key(a->keys[i]))
                continue;
            int n = snprintf(where + len, cap - len, "%s%s", len ? "." : "", a->keys[i]);
            size_t sub = n > 0 && len + (size_t)n < cap ? len + (size_t)n : len;
            const ncmp_json_value *other = ncmp_json_get(b, a->keys[i]);
            if (!other) {
                snprintf(w->message, w->message_size, "'%s' is missing from the recomputed file", where);
                w->failed = true;
            } else
                walk_json(w, &a->items[i], other, where, sub, cap);
            where[len] = '\0';
        }
    /* strings and booleans describe the run (paths, dates, labels), not its numbers */
}

static ncmp_status read_text(const char *path, char **out, ncmp_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return ncmp_fail(err, NCMP_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || (size_t)sb.st_size > MAX_COMPARED_BYTES) {
        fclose(f);
        return ncmp_fail(err, NCMP_ERR_FORMAT, "'%s' is larger than %zu bytes; not compared", path, MAX_COMPARED_BYTES);
    }
    char *buf = malloc((size_t)sb.st_size + 1);
    size_t n = buf ? fread(buf, 1, (size_t)sb.st_size, f) : 0;
    fclose(f);
    if (!buf)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory reading '%s'", path);
    buf[n] = '\0';
    *out = buf;
    return NCMP_OK;
}

/* The next CSV cell from *p (quoted cells with "" as a quote), NUL-terminated in place; *end_of_line set. */
static char *next_cell(char **p, char sep, bool *end_of_line)
{
    char *s = *p, *out = s, *start = s;
    if (*s == '"') {
        s++;
        for (;;) {
            if (*s == '"' && s[1] == '"') {
                *out++ = '"';
                s += 2;
            } else if (*s == '"' || !*s) {
                s += *s == '"';
                break;
            } else
                *out++ = *s++;
        }
        while (*s && *s != sep && *s != '\n')
            s++;
    } else {
        while (*s && *s != sep && *s != '\n' && *s != '\r')
            s++;
        out = s;
    }
    *end_of_line = *s != sep;
    if (*s == '\r')
        s++;
    if (*s)
        s++;
    *out = '\0';
    *p = s;
    return start;
}

static bool parse_number(const char *s, double *x)
{
    if (!*s)
        return false;
    char *end;
    *x = strtod(s, &end);
    return *end == '\0';
}

static void compare_csv(number_walk *w, char *a, char *b, char sep)
{
    size_t line = 1, column = 0;
    while (*a || *b) {
        if (!*a || !*b) {
            snprintf(w->message, w->message_size, "the recomputed file has %s lines than the recorded one (line %zu)",
                     *a ? "fewer" : "more", line);
            w->failed = true;
            return;
        }
        bool end_a, end_b;
        const char *x = next_cell(&a, sep, &end_a), *y = next_cell(&b, sep, &end_b);
        column++;
        double u, v;
        if (parse_number(x, &u) && parse_number(y, &v)) {
            if (isnan(u) != isnan(v) || (!isnan(u) && !numbers_agree(w, u, v))) {
                snprintf(w->message, w->message_size,
                         "line %zu, column %zu is %.17g recorded but %.17g recomputed (difference %.3g)", line, column,
                         u, v, fabs(u - v));
                w->failed = true;
                return;
            }
        } else if (strcmp(x, y)) {
            snprintf(w->message, w->message_size, "line %zu, column %zu is '%.80s' recorded but '%.80s' recomputed",
                     line, column, x, y);
            w->failed = true;
            return;
        }
        if (end_a != end_b) {
            snprintf(w->message, w->message_size, "line %zu has a different number of columns recomputed", line);
            w->failed = true;
            return;
        }
        if (end_a) {
            line++;
            column = 0;
        }
    }
}

ncmp_status ncmp_verify_compare_numbers(const char *recorded, const char *recomputed, double tolerance, bool *agree,
                                        char *message, size_t message_size, ncmp_error *err)
{
    *agree = false;
    message[0] = '\0';
    const char *ext = extension(recorded);
    number_walk w = {.tolerance = tolerance, .message = message, .message_size = message_size};
    ncmp_status st;
    if (!strcmp(ext, "json")) {
        ncmp_json_value *a = NULL, *b = NULL;
        if ((st = ncmp_json_parse_file(recorded, &a, err)) || (st = ncmp_json_parse_file(recomputed, &b, err))) {
            ncmp_json_free(a);
            return st;
        }
        char where[512] = "";
        walk_json(&w, a, b, where, 0, sizeof where);
        ncmp_json_free(a);
        ncmp_json_free(b);
    } else if (!strcmp(ext, "csv") || !strcmp(ext, "tsv")) {
        char *a = NULL, *b = NULL;
        if ((st = read_text(recorded, &a, err)) || (st = read_text(recomputed, &b, err))) {
            free(a);
            return st;
        }
        compare_csv(&w, a, b, !strcmp(ext, "tsv") ? '\t' : ',');
        free(a);
        free(b);
    } else
        return ncmp_fail(err, NCMP_ERR_USAGE, "'%s': only JSON and CSV/TSV results are compared number by number",
                         recorded);
    if (!w.failed)
        snprintf(message, message_size, "%zu numbers agree (max difference %.3g)", w.count, w.max_difference);
    *agree = !w.failed;
    return NCMP_OK;
}
