/* The study manifest (results/manifest.h, docs/reproducibility.md): read with every field checked, written
 * atomically, and the paths it stores made relative to its folder. */
/* realpath is XSI, beyond the POSIX level the build asks for */
#define _XOPEN_SOURCE 700

#include "results/manifest.h"

#include "core/atomic.h"
#include "core/provenance.h"
#include "results/json.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* JSON cannot hold more than 2^53 exactly: larger byte counts are not real files. */
#define MAX_BYTES 9007199254740992.0
/* Far more than any study; bounds what a damaged file can make us allocate. */
#define MAX_ITEMS 1000000

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static bool is_hex_digest(const char *s)
{
    if (!s || strlen(s) != 64)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

/* ---- memory ------------------------------------------------------------------------------------------------- */

static void file_clear(ncmp_manifest_file *f)
{
    free(f->role);
    free(f->path);
    *f = (ncmp_manifest_file){0};
}

void ncmp_manifest_step_clear(ncmp_manifest_step *step)
{
    if (!step)
        return;
    free(step->name);
    free(step->kind);
    free(step->key);
    free(step->state);
    for (size_t i = 0; i < step->argc; i++)
        free(step->argv[i]);
    free(step->argv);
    for (size_t i = 0; i < step->n_inputs; i++)
        file_clear(&step->inputs[i]);
    free(step->inputs);
    for (size_t i = 0; i < step->n_outputs; i++)
        file_clear(&step->outputs[i]);
    free(step->outputs);
    *step = (ncmp_manifest_step){0};
}

void ncmp_manifest_free(ncmp_manifest *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_steps; i++)
        ncmp_manifest_step_clear(&m->steps[i]);
    free(m->steps);
    free(m->study);
    free(m->config_path);
    free(m->updated_utc);
    free(m);
}

ncmp_status ncmp_manifest_create(const char *study, const char *config_path, const char *config_sha256,
                                 ncmp_manifest **out, ncmp_error *err)
{
    *out = NULL;
    if (!study || !*study)
        return ncmp_fail(err, NCMP_ERR_USAGE, "a manifest needs a study name");
    if (config_sha256 && *config_sha256 && !is_hex_digest(config_sha256))
        return ncmp_fail(err, NCMP_ERR_USAGE, "config_sha256 '%s' is not 64 lowercase hex digits", config_sha256);
    ncmp_manifest *m = calloc(1, sizeof *m);
    if (!m)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    m->study = strdup(study);
    m->config_path = dup_or_null(config_path);
    snprintf(m->config_sha256, sizeof m->config_sha256, "%s", config_sha256 ? config_sha256 : "");
    if (!m->study || (config_path && !m->config_path)) {
        ncmp_manifest_free(m);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    }
    *out = m;
    return NCMP_OK;
}

ncmp_manifest_step *ncmp_manifest_find(ncmp_manifest *m, const char *name)
{
    if (!m || !name)
        return NULL;
    for (size_t i = 0; i < m->n_steps; i++)
        if (m->steps[i].name && !strcmp(m->steps[i].name, name))
            return &m->steps[i];
    return NULL;
}

static bool copy_files(ncmp_manifest_file **dst, const ncmp_manifest_file *src, size_t n)
{
    *dst = calloc(n ? n : 1, sizeof **dst);
    if (!*dst)
        return false;
    for (size_t i = 0; i < n; i++) {
        (*dst)[i] = src[i];
        (*dst)[i].role = dup_or_null(src[i].role);
        (*dst)[i].path = dup_or_null(src[i].path);
        if ((src[i].role && !(*dst)[i].role) || (src[i].path && !(*dst)[i].path))
            return false;
    }
    return true;
}

static ncmp_status step_copy(ncmp_manifest_step *dst, const ncmp_manifest_step *src, ncmp_error *err)
{
    *dst = (ncmp_manifest_step){.cheap = src->cheap, .seconds = src->seconds};
    bool ok = (dst->name = dup_or_null(src->name)) || !src->name;
    ok = ok && ((dst->kind = dup_or_null(src->kind)) || !src->kind);
    ok = ok && ((dst->key = dup_or_null(src->key)) || !src->key);
    ok = ok && ((dst->state = dup_or_null(src->state)) || !src->state);
    if (ok && (dst->argv = calloc(src->argc ? src->argc : 1, sizeof *dst->argv)))
        for (; dst->argc < src->argc && ok; dst->argc++)
            ok = (dst->argv[dst->argc] = dup_or_null(src->argv[dst->argc])) || !src->argv[dst->argc];
    else
        ok = false;
    /* the counts are set before the copies so that a failed copy is freed in full */
    dst->n_inputs = src->n_inputs;
    dst->n_outputs = src->n_outputs;
    ok = ok && copy_files(&dst->inputs, src->inputs, src->n_inputs);
    ok = ok && copy_files(&dst->outputs, src->outputs, src->n_outputs);
    if (!ok) {
        if (!dst->inputs)
            dst->n_inputs = 0;
        if (!dst->outputs)
            dst->n_outputs = 0;
        ncmp_manifest_step_clear(dst);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    }
    return NCMP_OK;
}

ncmp_status ncmp_manifest_put(ncmp_manifest *m, const ncmp_manifest_step *step, ncmp_error *err)
{
    if (!step->name || !*step->name)
        return ncmp_fail(err, NCMP_ERR_USAGE, "a manifest step needs a name");
    ncmp_manifest_step copy;
    ncmp_status st = step_copy(&copy, step, err);
    if (st)
        return st;
    ncmp_manifest_step *old = ncmp_manifest_find(m, step->name);
    if (old) {
        ncmp_manifest_step_clear(old);
        *old = copy;
        return NCMP_OK;
    }
    ncmp_manifest_step *grown = realloc(m->steps, (m->n_steps + 1) * sizeof *grown);
    if (!grown) {
        ncmp_manifest_step_clear(&copy);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    }
    m->steps = grown;
    m->steps[m->n_steps++] = copy;
    return NCMP_OK;
}

/* ---- reading ------------------------------------------------------------------------------------------------ */

/* Where a field is, for messages: "steps[2] ('score.v4').inputs[0].sha256". */
typedef struct field_name {
    const char *file;
    char at[512];
} field_name;

static const char *type_name(const ncmp_json_value *v)
{
    static const char *const names[] = {"null", "a boolean", "a number", "a string", "an array", "an object"};
    return v ? names[v->type] : "missing";
}

static ncmp_status bad_field(const field_name *where, const char *key, const char *expected, const ncmp_json_value *v,
                             ncmp_error *err)
{
    return ncmp_fail(err, NCMP_ERR_FORMAT, "%s: field '%s%s%s' must be %s, but is %s", where->file, where->at,
                     where->at[0] ? "." : "", key, expected, type_name(v));
}

/* A string member; optional members may be absent or null (*out = NULL). */
static ncmp_status get_string(const ncmp_json_value *obj, const char *key, bool required, const field_name *where,
                              char **out, ncmp_error *err)
{
    *out = NULL;
    const ncmp_json_value *v = ncmp_json_get(obj, key);
    if ((!v || v->type == NCMP_JSON_NULL) && !required)
        return NCMP_OK;
    if (!v || v->type != NCMP_JSON_STRING)
        return bad_field(where, key, "a string", v, err);
    if (required && !v->string[0])
        return ncmp_fail(err, NCMP_ERR_FORMAT, "%s: field '%s%s%s' is empty", where->file, where->at,
                         where->at[0] ? "." : "", key);
    if (strlen(v->string) >= PATH_MAX)
        return ncmp_fail(err, NCMP_ERR_FORMAT, "%s: field '%s%s%s' is %zu characters long (at most %d)", where->file,
                         where->at, where->at[0] ? "." : "", key, strlen(v->string), PATH_MAX - 1);
    if (!(*out = strdup(v->string)))
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    return NCMP_OK;
}

/* A hex SHA-256 member; with allow_empty, absent, null or "" give "". */
static ncmp_status get_digest(const ncmp_json_value *obj, const char *key, bool allow_empty, const field_name *where,
                              char hex[NCMP_SHA256_HEX_LEN], ncmp_error *err)
{
    hex[0] = '\0';
    const ncmp_json_value *v = ncmp_json_get(obj, key);
    if (allow_empty && (!v || v->type == NCMP_JSON_NULL || (v->type == NCMP_JSON_STRING && !v->string[0])))
        return NCMP_OK;
    if (!v || v->type != NCMP_JSON_STRING)
        return bad_field(where, key, "a SHA-256 (64 hex digits)", v, err);
    if (!is_hex_digest(v->string))
        return ncmp_fail(err, NCMP_ERR_FORMAT, "%s: field '%s%s%s' is '%.80s', not a SHA-256 (64 lowercase hex digits)",
                         where->file, where->at, where->at[0] ? "." : "", key, v->string);
    memcpy(hex, v->string, NCMP_SHA256_HEX_LEN);
    return NCMP_OK;
}

static ncmp_status get_array(const ncmp_json_value *obj, const char *key, const field_name *where,
                             const ncmp_json_value **out, ncmp_error *err)
{
    const ncmp_json_value *v = ncmp_json_get(obj, key);
    if (!v || v->type != NCMP_JSON_ARRAY)
        return bad_field(where, key, "an array", v, err);
    if (v->n > MAX_ITEMS)
        return ncmp_fail(err, NCMP_ERR_FORMAT, "%s: field '%s%s%s' has %zu items (at most %d)", where->file, where->at,
                         where->at[0] ? "." : "", key, v->n, MAX_ITEMS);
    *out = v;
    return NCMP_OK;
}

static ncmp_status read_files(const ncmp_json_value *step, const char *key, bool digests_required,
                              const field_name *step_where, ncmp_manifest_file **files, size_t *n, ncmp_error *err)
{
    const ncmp_json_value *arr;
    ncmp_status st = get_array(step, key, step_where, &arr, err);
    if (st)
        return st;
    if (!(*files = calloc(arr->n ? arr->n : 1, sizeof **files)))
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < arr->n; i++) {
        field_name where = {step_where->file, ""};
        snprintf(where.at, sizeof where.at, "%.400s.%s[%zu]", step_where->at, key, i);
        const ncmp_json_value *v = &arr->items[i];
        ncmp_manifest_file *f = &(*files)[i];
        (*n)++;
        f->bytes = -1;
        if (v->type != NCMP_JSON_OBJECT)
            return ncmp_fail(err, NCMP_ERR_FORMAT, "%s: field '%s' must be an object, but is %s", where.file, where.at,
                             type_name(v));
        if ((st = get_string(v, "role", true, &where, &f->role, err)) ||
            (st = get_string(v, "path", true, &where, &f->path, err)) ||
            (st = get_digest(v, "sha256", !digests_required, &where, f->sha256, err)))
            return st;
        const ncmp_json_value *b = ncmp_json_get(v, "bytes");
        if (b && b->type != NCMP_JSON_NULL) {
            if (b->type != NCMP_JSON_NUMBER || !(b->number >= 0) || b->number != floor(b->number) ||
                b->number > MAX_BYTES)
                return ncmp_fail(err, NCMP_ERR_FORMAT, "%s: field '%s.bytes' must be a byte count (an integer >= 0)",
                                 where.file, where.at);
            f->bytes = (long long)b->number;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp((*files)[j].role, f->role) && !strcmp((*files)[j].path, f->path))
                return ncmp_fail(err, NCMP_ERR_FORMAT, "%s: field '%s' repeats %s[%zu] (role '%s', path '%s')",
                                 where.file, where.at, key, j, f->role, f->path);
    }
    return NCMP_OK;
}

static ncmp_status read_step(const ncmp_json_value *v, size_t index, const char *file, ncmp_manifest_step *s,
                             ncmp_error *err)
{
    field_name where = {file, ""};
    snprintf(where.at, sizeof where.at, "steps[%zu]", index);
    if (v->type != NCMP_JSON_OBJECT)
        return ncmp_fail(err, NCMP_ERR_FORMAT, "%s: field '%s' must be an object, but is %s", file, where.at,
                         type_name(v));
    ncmp_status st = get_string(v, "name", true, &where, &s->name, err);
    if (st)
        return st;
    snprintf(where.at, sizeof where.at, "steps[%zu] ('%.160s')", index, s->name);
    char key[NCMP_SHA256_HEX_LEN];
    if ((st = get_string(v, "kind", true, &where, &s->kind, err)) ||
        (st = get_string(v, "state", true, &where, &s->state, err)) ||
        (st = get_digest(v, "key", false, &where, key, err)))
        return st;
    if (!(s->key = strdup(key)))
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    if (strcmp(s->state, "done") && strcmp(s->state, "running"))
        return ncmp_fail(err, NCMP_ERR_FORMAT, "%s: field '%s.state' is '%.40s'; expected \"done\" or \"running\"",
                         file, where.at, s->state);
    const ncmp_json_value *c = ncmp_json_get(v, "cheap");
    if (c && c->type != NCMP_JSON_BOOL && c->type != NCMP_JSON_NULL)
        return bad_field(&where, "cheap", "true or false", c, err);
    s->cheap = c && c->type == NCMP_JSON_BOOL && c->number != 0;
    const ncmp_json_value *sec = ncmp_json_get(v, "seconds");
    if (sec && sec->type != NCMP_JSON_NULL && (sec->type != NCMP_JSON_NUMBER || !(sec->number >= 0)))
        return bad_field(&where, "seconds", "a number >= 0", sec, err);
    s->seconds = sec && sec->type == NCMP_JSON_NUMBER ? sec->number : 0;
    const ncmp_json_value *argv;
    if ((st = get_array(v, "argv", &where, &argv, err)))
        return st;
    if (!argv->n)
        return ncmp_fail(err, NCMP_ERR_FORMAT, "%s: field '%s.argv' is empty; it must hold the command", file,
                         where.at);
    if (!(s->argv = calloc(argv->n, sizeof *s->argv)))
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < argv->n; i++, s->argc++) {
        if (argv->items[i].type != NCMP_JSON_STRING)
            return ncmp_fail(err, NCMP_ERR_FORMAT, "%s: field '%s.argv[%zu]' must be a string, but is %s", file,
                             where.at, i, type_name(&argv->items[i]));
        if (!(s->argv[i] = strdup(argv->items[i].string)))
            return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    }
    /* a running step has not hashed its outputs yet */
    bool done = !strcmp(s->state, "done");
    if ((st = read_files(v, "inputs", true, &where, &s->inputs, &s->n_inputs, err)) ||
        (st = read_files(v, "outputs", done, &where, &s->outputs, &s->n_outputs, err)))
        return st;
    return NCMP_OK;
}

static ncmp_status read_root(const ncmp_json_value *root, const char *file, ncmp_manifest *m, ncmp_error *err)
{
    field_name where = {file, ""};
    if (root->type != NCMP_JSON_OBJECT)
        return ncmp_fail(err, NCMP_ERR_FORMAT, "%s: a manifest is a JSON object, but this is %s", file,
                         type_name(root));
    const ncmp_json_value *version = ncmp_json_get(root, "neurocmp_manifest");
    if (!version || version->type != NCMP_JSON_NUMBER)
        return ncmp_fail(err, NCMP_ERR_FORMAT,
                         "%s: field 'neurocmp_manifest' must be the format version 1, but is %s; not a neurocmp "
                         "manifest",
                         file, type_name(version));
    if (version->number != 1)
        return ncmp_fail(err, NCMP_ERR_FORMAT,
                         "%s: field 'neurocmp_manifest' is %g; this neurocmp reads version 1 (a newer neurocmp wrote "
                         "it?)",
                         file, version->number);
    ncmp_status st;
    if ((st = get_string(root, "study", true, &where, &m->study, err)) ||
        (st = get_string(root, "config_path", false, &where, &m->config_path, err)) ||
        (st = get_digest(root, "config_sha256", !m->config_path, &where, m->config_sha256, err)) ||
        (st = get_string(root, "updated_utc", false, &where, &m->updated_utc, err)))
        return st;
    const ncmp_json_value *steps;
    if ((st = get_array(root, "steps", &where, &steps, err)))
        return st;
    if (!(m->steps = calloc(steps->n ? steps->n : 1, sizeof *m->steps)))
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < steps->n; i++) {
        m->n_steps++;
        if ((st = read_step(&steps->items[i], i, file, &m->steps[i], err)))
            return st;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(m->steps[j].name, m->steps[i].name))
                return ncmp_fail(err, NCMP_ERR_FORMAT,
                                 "%s: field 'steps[%zu].name': '%s' is also the name of steps[%zu]", file, i,
                                 m->steps[i].name, j);
    }
    return NCMP_OK;
}

ncmp_status ncmp_manifest_read(const char *path, ncmp_manifest **out, ncmp_error *err)
{
    *out = NULL;
    /* DIR or DIR/manifest.json */
    char *file = NULL;
    size_t len = strlen(path);
    if (len < 5 || strcmp(path + len - 5, ".json")) {
        if (!(file = malloc(len + 16)))
            return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        snprintf(file, len + 16, "%s%smanifest.json", path, len && path[len - 1] == '/' ? "" : "/");
    } else if (!(file = strdup(path)))
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    ncmp_json_value *root = NULL;
    ncmp_status st = ncmp_json_parse_file(file, &root, err);
    ncmp_manifest *m = NULL;
    if (!st && !(m = calloc(1, sizeof *m)))
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    if (!st)
        st = read_root(root, file, m, err);
    ncmp_json_free(root);
    free(file);
    if (st) {
        ncmp_manifest_free(m);
        return st;
    }
    *out = m;
    return NCMP_OK;
}

/* ---- writing ------------------------------------------------------------------------------------------------ */

static void write_files(FILE *f, const char *key, const ncmp_manifest_file *files, size_t n)
{
    fprintf(f, ",\n      \"%s\": [", key);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ",\n        {\"role\": " : "\n        {\"role\": ", f);
        ncmp_json_string(f, files[i].role);
        fputs(", \"path\": ", f);
        ncmp_json_string(f, files[i].path);
        fputs(", \"sha256\": ", f);
        if (files[i].sha256[0])
            ncmp_json_string(f, files[i].sha256);
        else
            fputs("null", f);
        if (files[i].bytes >= 0)
            fprintf(f, ", \"bytes\": %lld}", files[i].bytes);
        else
            fputs(", \"bytes\": null}", f);
    }
    fputs(n ? "\n      ]" : "]", f);
}

static ncmp_status check_for_writing(const ncmp_manifest *m, ncmp_error *err)
{
    if (!m->study || !m->study[0])
        return ncmp_fail(err, NCMP_ERR_USAGE, "manifest: no study name");
    for (size_t i = 0; i < m->n_steps; i++) {
        const ncmp_manifest_step *s = &m->steps[i];
        if (!s->name || !s->kind || !s->state || !s->argc || !is_hex_digest(s->key))
            return ncmp_fail(err, NCMP_ERR_USAGE,
                             "manifest: step %zu ('%s') lacks a name, kind, state, argv or a hex key", i,
                             s->name ? s->name : "?");
        for (size_t k = 0; k < s->n_inputs + s->n_outputs; k++) {
            const ncmp_manifest_file *f = k < s->n_inputs ? &s->inputs[k] : &s->outputs[k - s->n_inputs];
            bool need_digest = k < s->n_inputs || !strcmp(s->state, "done");
            if (!f->role || !f->path || (need_digest && !is_hex_digest(f->sha256)))
                return ncmp_fail(err, NCMP_ERR_USAGE, "manifest: step '%s' has a file without role, path or sha256",
                                 s->name);
        }
    }
    return NCMP_OK;
}

ncmp_status ncmp_manifest_write(ncmp_manifest *m, const char *path, ncmp_error *err)
{
    ncmp_status st = check_for_writing(m, err);
    if (st)
        return st;
    char stamp[64];
    ncmp_utc_timestamp(stamp, sizeof stamp);
    char *updated = strdup(stamp);
    if (!updated)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    free(m->updated_utc);
    m->updated_utc = updated;
    ncmp_atomic_file af;
    if ((st = ncmp_atomic_begin(&af, path, true, err)))
        return st;
    FILE *f = af.stream;
    fputs("{\n  \"neurocmp_manifest\": 1,\n  \"study\": ", f);
    ncmp_json_string(f, m->study);
    fputs(",\n  \"config_path\": ", f);
    ncmp_json_opt_string(f, m->config_path);
    fputs(",\n  \"config_sha256\": ", f);
    ncmp_json_opt_string(f, m->config_sha256[0] ? m->config_sha256 : NULL);
    fputs(",\n  \"updated_utc\": ", f);
    ncmp_json_string(f, m->updated_utc);
    fputs(",\n  \"steps\": [", f);
    for (size_t i = 0; i < m->n_steps; i++) {
        const ncmp_manifest_step *s = &m->steps[i];
        fputs(i ? ",\n    {\n      \"name\": " : "\n    {\n      \"name\": ", f);
        ncmp_json_string(f, s->name);
        fputs(",\n      \"kind\": ", f);
        ncmp_json_string(f, s->kind);
        fputs(",\n      \"key\": ", f);
        ncmp_json_string(f, s->key);
        fputs(",\n      \"state\": ", f);
        ncmp_json_string(f, s->state);
        fprintf(f, ",\n      \"cheap\": %s,\n      \"seconds\": ", s->cheap ? "true" : "false");
        ncmp_json_number(f, s->seconds);
        fputs(",\n      \"argv\": [", f);
        for (size_t a = 0; a < s->argc; a++) {
            if (a)
                fputs(", ", f);
            ncmp_json_string(f, s->argv[a] ? s->argv[a] : "");
        }
        fputc(']', f);
        write_files(f, "inputs", s->inputs, s->n_inputs);
        write_files(f, "outputs", s->outputs, s->n_outputs);
        fputs("\n    }", f);
    }
    fputs(m->n_steps ? "\n  ]\n}\n" : "]\n}\n", f);
    return ncmp_atomic_commit(&af, err);
}

/* ---- paths -------------------------------------------------------------------------------------------------- */

/* Lexically normalised absolute form of `path` ("." and ".." removed), for paths whose folder does not exist. */
static char *absolute_lexical(const char *path)
{
    char cwd[PATH_MAX] = "/";
    if (path[0] != '/' && !getcwd(cwd, sizeof cwd))
        return NULL;
    size_t cap = strlen(cwd) + strlen(path) + 3;
    char *joined = malloc(cap), *out = malloc(cap);
    if (!joined || !out) {
        free(joined);
        free(out);
        return NULL;
    }
    snprintf(joined, cap, "%s/%s", path[0] == '/' ? "" : cwd, path);
    size_t n = 0;
    out[0] = '\0';
    for (char *save = NULL, *part = strtok_r(joined, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
        if (!strcmp(part, "."))
            continue;
        if (!strcmp(part, "..")) {
            while (n > 0 && out[n - 1] != '/')
                n--;
            if (n > 0)
                n--;
            out[n] = '\0';
            continue;
        }
        n += (size_t)sprintf(out + n, "/%s", part);
    }
    if (!n)
        strcpy(out, "/");
    free(joined);
    return out;
}

/* realpath of `path`, or of its folder joined with its last component when it does not exist yet. */
static char *resolve_existing(const char *path)
{
    char *r = realpath(path, NULL);
    if (r)
        return r;
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
        return absolute_lexical(path);
    char *parent = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    char *rp = parent ? realpath(parent, NULL) : NULL;
    free(parent);
    if (!rp)
        return absolute_lexical(path);
    size_t cap = strlen(rp) + strlen(base) + 2;
    char *out = malloc(cap);
    if (out)
        snprintf(out, cap, "%s%s%s", rp, strcmp(rp, "/") ? "/" : "", base);
    free(rp);
    return out;
}

char *ncmp_manifest_relative_path(const char *manifest_dir, const char *path)
{
    char *dir = realpath(manifest_dir, NULL);
    char *target = resolve_existing(path);
    if (!dir || !target) {
        free(dir);
        if (target)
            return target;
        return strdup(path);
    }
    /* the longest common prefix of whole components */
    size_t common = 0;
    for (size_t i = 0;; i++) {
        bool dir_end = dir[i] == '\0' || dir[i] == '/', target_end = target[i] == '\0' || target[i] == '/';
        if (dir_end && target_end)
            common = i;
        if (dir[i] != target[i] || !dir[i] || !target[i])
            break;
    }
    /* only the root in common: the two are unrelated, keep the absolute path */
    if (common == 0) {
        free(dir);
        return target;
    }
    size_t ups = 0;
    for (const char *p = dir + common; *p; p++)
        ups += *p == '/';
    const char *rest = target + common + (target[common] == '/');
    size_t cap = 3 * ups + strlen(rest) + 2;
    char *out = malloc(cap);
    if (out) {
        out[0] = '\0';
        for (size_t i = 0; i < ups; i++)
            strcat(out, "../");
        strcat(out, rest);
        size_t n = strlen(out);
        if (!n)
            strcpy(out, ".");
        else if (out[n - 1] == '/')
            out[n - 1] = '\0';
    }
    free(dir);
    free(target);
    return out;
}

char *ncmp_manifest_resolve_path(const char *manifest_dir, const char *stored)
{
    if (!stored)
        return NULL;
    if (stored[0] == '/' || !manifest_dir || !manifest_dir[0] || !strcmp(manifest_dir, "."))
        return strdup(stored);
    size_t cap = strlen(manifest_dir) + strlen(stored) + 2;
    char *out = malloc(cap);
    if (out)
        snprintf(out, cap, "%s%s%s", manifest_dir, manifest_dir[strlen(manifest_dir) - 1] == '/' ? "" : "/", stored);
    return out;
}
