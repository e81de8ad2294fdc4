/* Reading a study file (INI, through libinih): sections, keys, values and
 * their checks (docs/reproducibility.md, "The study file"). */
#define _XOPEN_SOURCE 700 /* realpath */
#include "study/config.h"
#include "core/suggest.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parse_state {
    study_config *c;
    ncmp_status st;
    char message[600];
} parse_state;

static void trim_copy(char **dst, const char *value)
{
    free(*dst);
    *dst = strdup(value);
}

/* The absolute path of a path written relative to the study file's folder. */
static char *resolve(const study_config *c, const char *value)
{
    if (value[0] == '/')
        return strdup(value);
    size_t n = strlen(c->dir) + strlen(value) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", c->dir, value);
    return p;
}

/* Record the first error; study_config_read adds the file and line. */
static __attribute__((format(printf, 3, 4))) int fail(parse_state *s, ncmp_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->message, sizeof s->message, fmt, ap);
    va_end(ap);
    s->st = st;
    return 0;
}

static int parse_long(parse_state *s, const char *key, const char *value, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || end == value || *end || v < lo || v > hi) {
        char range[96];
        snprintf(range, sizeof range, "%ld..%ld", lo, hi);
        return fail(s, NCMP_ERR_USAGE, "'%s' must be an integer in %s", key, range);
    }
    *out = v;
    return 1;
}

static int parse_double(parse_state *s, const char *key, const char *value, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(value, &end);
    if (errno || end == value || *end || !isfinite(v))
        return fail(s, NCMP_ERR_USAGE, "'%s' must be a finite number, not '%s'", key, value);
    *out = v;
    return 1;
}

static int parse_bool(parse_state *s, const char *key, const char *value, bool *out)
{
    if (!strcmp(value, "true") || !strcmp(value, "yes") || !strcmp(value, "1"))
        *out = true;
    else if (!strcmp(value, "false") || !strcmp(value, "no") || !strcmp(value, "0"))
        *out = false;
    else
        return fail(s, NCMP_ERR_USAGE, "'%s' must be true or false, not '%s'", key, value);
    return 1;
}

/* Split a list on commas and whitespace, appending to items. */
static int parse_list(parse_state *s, const char *key, const char *value, char **items, size_t *n)
{
    char *copy = strdup(value);
    if (!copy)
        return fail(s, NCMP_ERR_NOMEM, "out of memory");
    char *save = NULL;
    for (char *tok = strtok_r(copy, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
        if (*n >= STUDY_MAX_LIST) {
            free(copy);
            return fail(s, NCMP_ERR_USAGE, "'%s' lists more than 32 items", key);
        }
        items[(*n)++] = strdup(tok);
    }
    free(copy);
    return 1;
}

static int unknown_key(parse_state *s, const char *section, const char *name, const char *const *known, size_t n)
{
    const char *hint = ncmp_suggest(name, known, n);
    char buf[300];
    snprintf(buf, sizeof buf, "unknown key '%s' in [%s]", name, section);
    if (hint)
        return fail(s, NCMP_ERR_USAGE, "%s (did you mean '%s'?)", buf, hint);
    return fail(s, NCMP_ERR_USAGE, "%s", buf);
}

#define KEY(k)  (!strcmp(name, (k)))
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static int study_key(parse_state *s, const char *name, const char *value)
{
    study_config *c = s->c;
    static const char *const known[] = {"name", "title", "description", "out", "threads"};
    if (KEY("name"))
        trim_copy(&c->name, value);
    else if (KEY("title"))
        trim_copy(&c->title, value);
    else if (KEY("description")) {
        /* continuation lines (indented) append */
        if (c->description) {
            size_t n = strlen(c->description) + strlen(value) + 2;
            char *d = malloc(n);
            if (d)
                snprintf(d, n, "%s %s", c->description, value);
            free(c->description);
            c->description = d;
        } else
            trim_copy(&c->description, value);
    } else if (KEY("out")) {
        free(c->out);
        c->out = resolve(c, value);
    } else if (KEY("threads"))
        return parse_long(s, name, value, 0, 1024, &c->threads);
    else
        return unknown_key(s, "study", name, known, N_OF(known));
    return 1;
}

static int model_key(parse_state *s, study_model *m, const char *name, const char *value)
{
    static const char *const known[] = {"weights",    "train",       "seed",          "arch",         "width",
                                        "input_size", "channels",    "classes",       "update_layer", "iterations",
                                        "precision",  "layers",      "batch",         "center_crop",  "evaluate",
                                        "eval_data",  "eval_images", "attack_through"};
    if (KEY("weights")) {
        free(m->weights);
        m->weights = resolve(s->c, value);
    } else if (KEY("train")) {
        if (m->train) { /* continuation lines append */
            size_t n = strlen(m->train) + strlen(value) + 2;
            char *t = malloc(n);
            if (t)
                snprintf(t, n, "%s %s", m->train, value);
            free(m->train);
            m->train = t;
        } else
            trim_copy(&m->train, value);
    } else if (KEY("seed"))
        return parse_long(s, name, value, 0, LONG_MAX, &m->seed);
    else if (KEY("arch"))
        trim_copy(&m->arch, value);
    else if (KEY("width"))
        return parse_double(s, name, value, &m->width);
    else if (KEY("input_size"))
        return parse_long(s, name, value, 0, 4096, &m->input_size);
    else if (KEY("channels"))
        return parse_long(s, name, value, 0, 3, &m->channels);
    else if (KEY("classes"))
        return parse_long(s, name, value, 0, 100000, &m->classes);
    else if (KEY("update_layer"))
        trim_copy(&m->update_layer, value);
    else if (KEY("iterations"))
        return parse_long(s, name, value, 0, 100, &m->iterations);
    else if (KEY("precision")) {
        if (strcmp(value, "float") && strcmp(value, "double"))
            return fail(s, NCMP_ERR_USAGE, "'precision' must be float or double, not '%s'", value);
        trim_copy(&m->precision, value);
    } else if (KEY("layers"))
        trim_copy(&m->layers, value);
    else if (KEY("batch"))
        return parse_long(s, name, value, 1, 100000, &m->batch);
    else if (KEY("center_crop"))
        return parse_bool(s, name, value, &m->center_crop);
    else if (KEY("evaluate")) {
        size_t first = m->n_evaluate;
        if (!parse_list(s, name, value, m->evaluate, &m->n_evaluate))
            return 0;
        for (size_t i = first; i < m->n_evaluate; i++) {
            const char *e = m->evaluate[i];
            int fgsm = !strncmp(e, "fgsm:", 5), pgd = !strncmp(e, "pgd:", 4);
            const char *num = e + (fgsm ? 5 : 4);
            char *end = NULL;
            double eps = fgsm || pgd ? strtod(num, &end) : 0;
            if (end && *end == ':' && pgd)
                (void)strtod(end + 1, &end);
            if (strcmp(e, "clean") && (!(fgsm || pgd) || end == num || *end || !(eps > 0)))
                return fail(s, NCMP_ERR_USAGE, "'evaluate' takes clean, fgsm:EPS, pgd:EPS or pgd:EPS:STEP, not '%s'",
                            e);
        }
    } else if (KEY("eval_data"))
        trim_copy(&m->eval_data, value);
    else if (KEY("eval_images"))
        return parse_long(s, name, value, 0, LONG_MAX, &m->eval_images);
    else if (KEY("attack_through")) {
        if (strcmp(value, "first") && strcmp(value, "all"))
            return fail(s, NCMP_ERR_USAGE, "'attack_through' must be first or all, not '%s'", value);
        trim_copy(&m->eval_attack_through, value);
    } else {
        char section[200];
        snprintf(section, sizeof section, "model %s", m->name);
        return unknown_key(s, section, name, known, N_OF(known));
    }
    return 1;
}

static int recordings_key(parse_state *s, study_recordings *r, const char *name, const char *value)
{
    static const char *const known[] = {"responses", "stimulus_ids", "assembly", "region",      "bin_starts",
                                        "bin_size",  "simulate",     "neuroids", "repetitions", "snr",
                                        "seed",      "start_ms",     "bin_ms"};
    if (KEY("responses")) {
        free(r->responses);
        r->responses = resolve(s->c, value);
    } else if (KEY("stimulus_ids")) {
        free(r->stimulus_ids);
        r->stimulus_ids = resolve(s->c, value);
    } else if (KEY("assembly")) {
        free(r->assembly);
        r->assembly = resolve(s->c, value);
    } else if (KEY("region"))
        trim_copy(&r->region, value);
    else if (KEY("bin_starts"))
        trim_copy(&r->bin_starts, value);
    else if (KEY("bin_size"))
        return parse_double(s, name, value, &r->bin_size);
    else if (KEY("simulate")) {
        /* MODEL:LAYER@I,LAYER@I,... */
        const char *colon = strchr(value, ':');
        if (!colon || colon == value || !colon[1])
            return fail(s, NCMP_ERR_USAGE, "'simulate' must be MODEL:LAYER@ITERATION,..., not '%s'", value);
        free(r->simulate_model);
        free(r->simulate_bins);
        r->simulate_model = strndup(value, (size_t)(colon - value));
        r->simulate_bins = strdup(colon + 1);
    } else if (KEY("neuroids"))
        return parse_long(s, name, value, 1, 1000000, &r->neuroids);
    else if (KEY("repetitions"))
        return parse_long(s, name, value, 2, 100000, &r->repetitions);
    else if (KEY("snr"))
        return parse_double(s, name, value, &r->snr);
    else if (KEY("seed"))
        return parse_long(s, name, value, 0, LONG_MAX, &r->seed);
    else if (KEY("start_ms"))
        return parse_double(s, name, value, &r->start_ms);
    else if (KEY("bin_ms"))
        return parse_double(s, name, value, &r->bin_ms);
    else {
        char section[200];
        snprintf(section, sizeof section, "recordings %s", r->name);
        return unknown_key(s, section, name, known, N_OF(known));
    }
    return 1;
}

static int score_key(parse_state *s, const char *name, const char *value)
{
    study_config *c = s->c;
    static const char *const known[] = {"models", "recordings",    "layers",      "iterations",
                                        "metric", "normalization", "time_window", "components"};
    c->score = true;
    if (KEY("models"))
        return parse_list(s, name, value, c->score_models, &c->n_score_models);
    if (KEY("recordings"))
        return parse_list(s, name, value, c->score_recordings, &c->n_score_recordings);
    if (KEY("layers"))
        trim_copy(&c->score_layers, value);
    else if (KEY("iterations"))
        trim_copy(&c->score_iterations, value);
    else if (KEY("metric")) {
        size_t first = c->n_metrics;
        if (!parse_list(s, name, value, c->metrics, &c->n_metrics))
            return 0;
        for (size_t i = first; i < c->n_metrics; i++) {
            const char *m = c->metrics[i];
            if (strcmp(m, "pls") && strcmp(m, "ridge") && strcmp(m, "ols") && strcmp(m, "rsa") && strcmp(m, "cka"))
                return fail(s, NCMP_ERR_USAGE, "'metric' takes pls, ridge, ols, rsa or cka, not '%s'", m);
            for (size_t k = 0; k < i; k++)
                if (!strcmp(c->metrics[k], m))
                    return fail(s, NCMP_ERR_USAGE, "'metric' lists '%s' twice", m);
        }
    } else if (KEY("normalization")) {
        if (strcmp(value, "ev") && strcmp(value, "ev2024") && strcmp(value, "ratio"))
            return fail(s, NCMP_ERR_USAGE, "'normalization' must be ev, ev2024 or ratio, not '%s'", value);
        trim_copy(&c->normalization, value);
    } else if (KEY("time_window"))
        trim_copy(&c->time_window, value);
    else if (KEY("components"))
        return parse_long(s, name, value, 1, 10000, &c->components);
    else
        return unknown_key(s, "score", name, known, N_OF(known));
    return 1;
}

static int temporal_key(parse_state *s, const char *name, const char *value)
{
    study_config *c = s->c;
    static const char *const known[] = {"model", "layer", "recordings", "bins", "mode", "map", "iterations"};
    c->temporal = true;
    if (KEY("model"))
        trim_copy(&c->temporal_model, value);
    else if (KEY("layer"))
        trim_copy(&c->temporal_layer, value);
    else if (KEY("recordings"))
        trim_copy(&c->temporal_recordings, value);
    else if (KEY("bins"))
        trim_copy(&c->temporal_bins, value);
    else if (KEY("mode"))
        trim_copy(&c->temporal_mode, value);
    else if (KEY("map"))
        trim_copy(&c->temporal_map, value);
    else if (KEY("iterations"))
        trim_copy(&c->temporal_iterations, value);
    else
        return unknown_key(s, "temporal", name, known, N_OF(known));
    return 1;
}

static int compare_key(parse_state *s, const char *name, const char *value)
{
    study_config *c = s->c;
    static const char *const known[] = {"pair", "recordings", "bootstrap", "permutations", "seed"};
    if (KEY("pair")) {
        if (c->n_compare_pairs >= STUDY_MAX_LIST)
            return fail(s, NCMP_ERR_USAGE, "more than 32 comparisons");
        if (!strstr(value, " vs "))
            return fail(s, NCMP_ERR_USAGE, "'pair' must be 'MODEL:LAYER@I vs MODEL:LAYER@I', not '%s'", value);
        c->compare_pairs[c->n_compare_pairs++] = strdup(value);
    } else if (KEY("recordings"))
        trim_copy(&c->compare_recordings, value);
    else if (KEY("bootstrap"))
        return parse_long(s, name, value, 0, 10000000, &c->bootstrap);
    else if (KEY("permutations"))
        return parse_long(s, name, value, 0, 10000000, &c->permutations);
    else if (KEY("seed"))
        return parse_long(s, name, value, 0, LONG_MAX, &c->compare_seed);
    else
        return unknown_key(s, "compare", name, known, N_OF(known));
    return 1;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    parse_state *s = user;
    study_config *c = s->c;
    if (!strcmp(section, "study"))
        return study_key(s, name, value);
    if (!strcmp(section, "stimuli")) {
        if (KEY("path")) {
            free(c->stimuli);
            c->stimuli = resolve(c, value);
            return 1;
        }
        static const char *const known[] = {"path"};
        return unknown_key(s, "stimuli", name, known, 1);
    }
    if (!strcmp(section, "score"))
        return score_key(s, name, value);
    if (!strcmp(section, "ceiling")) {
        if (KEY("splits"))
            return parse_long(s, name, value, 2, 100000, &c->ceiling_splits);
        static const char *const known[] = {"splits"};
        return unknown_key(s, "ceiling", name, known, 1);
    }
    if (!strcmp(section, "temporal"))
        return temporal_key(s, name, value);
    if (!strcmp(section, "compare"))
        return compare_key(s, name, value);
    if (!strncmp(section, "model ", 6) && section[6]) {
        const char *mname = section + 6;
        study_model *m = NULL;
        for (size_t i = 0; i < c->n_models; i++)
            if (!strcmp(c->models[i].name, mname))
                m = &c->models[i];
        if (!m) {
            if (c->n_models >= STUDY_MAX_MODELS)
                return fail(s, NCMP_ERR_USAGE, "more than 16 [model] sections");
            m = &c->models[c->n_models++];
            m->name = strdup(mname);
            m->batch = 32;
        }
        return model_key(s, m, name, value);
    }
    if (!strncmp(section, "recordings ", 11) && section[11]) {
        const char *rname = section + 11;
        study_recordings *r = NULL;
        for (size_t i = 0; i < c->n_recordings; i++)
            if (!strcmp(c->recordings[i].name, rname))
                r = &c->recordings[i];
        if (!r) {
            if (c->n_recordings >= STUDY_MAX_RECORDINGS)
                return fail(s, NCMP_ERR_USAGE, "more than 16 [recordings] sections");
            r = &c->recordings[c->n_recordings++];
            r->name = strdup(rname);
            r->neuroids = 40;
            r->repetitions = 10;
            r->snr = 1;
            r->start_ms = 70;
            r->bin_ms = 20;
        }
        return recordings_key(s, r, name, value);
    }
    /* suggest on the section's first word: [modle a] -> [model NAME] */
    static const char *const words[] = {"study", "stimuli", "model",    "recordings",
                                        "score", "ceiling", "temporal", "compare"};
    static const char *const shown[] = {"study", "stimuli", "model NAME", "recordings NAME",
                                        "score", "ceiling", "temporal",   "compare"};
    char first[64];
    snprintf(first, sizeof first, "%.*s", (int)strcspn(section, " "), section);
    const char *hint = ncmp_suggest(first, words, N_OF(words));
    for (size_t i = 0; hint && i < N_OF(words); i++)
        if (hint == words[i])
            hint = shown[i];
    if (hint)
        return fail(s, NCMP_ERR_USAGE, "unknown section [%s] (did you mean [%s]?)", section, hint);
    return fail(s, NCMP_ERR_USAGE,
                "unknown section [%s]; sections are [study], [stimuli], [model NAME], [recordings NAME], [score], "
                "[ceiling], [temporal], [compare]",
                section);
}

static ncmp_status check(study_config *c, ncmp_error *err)
{
    if (!c->name)
        return ncmp_fail(err, NCMP_ERR_USAGE, "%s: [study] needs a name", c->path);
    for (const char *p = c->name; *p; p++)
        if (!(*p == '-' || *p == '_' || *p == '.' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
              (*p >= 'A' && *p <= 'Z')))
            return ncmp_fail(err, NCMP_ERR_USAGE, "%s: the study name '%s' may hold letters, digits, '-', '_', '.'",
                             c->path, c->name);
    if (!c->out)
        c->out = resolve(c, "out");
    for (size_t i = 0; i < c->n_models; i++) {
        study_model *m = &c->models[i];
        if (m->weights && m->train)
            return ncmp_fail(err, NCMP_ERR_USAGE, "%s: [model %s] has both weights and train; give one", c->path,
                             m->name);
        if (m->n_evaluate && !m->weights && !m->train)
            return ncmp_fail(err, NCMP_ERR_USAGE, "%s: [model %s] evaluates a network with neither weights nor train",
                             c->path, m->name);
    }
    int needs_stimuli = 0;
    for (size_t i = 0; i < c->n_recordings; i++) {
        study_recordings *r = &c->recordings[i];
        int sources = (r->responses != NULL) + (r->assembly != NULL) + (r->simulate_model != NULL);
        if (sources != 1)
            return ncmp_fail(err, NCMP_ERR_USAGE,
                             "%s: [recordings %s] needs exactly one of responses (NumPy), assembly (netCDF) or "
                             "simulate (MODEL:LAYER@I,...)",
                             c->path, r->name);
        if (r->responses && !r->region)
            return ncmp_fail(err, NCMP_ERR_USAGE, "%s: [recordings %s] imports responses and needs a region", c->path,
                             r->name);
        if (r->responses && !r->stimulus_ids)
            needs_stimuli = 1;
        if (r->simulate_model && !study_config_model(c, r->simulate_model))
            return ncmp_fail(err, NCMP_ERR_USAGE, "%s: [recordings %s] simulates from an unknown model '%s'", c->path,
                             r->name, r->simulate_model);
        if (r->simulate_model)
            needs_stimuli = 1;
    }
    if (c->score || c->temporal || c->n_compare_pairs)
        needs_stimuli = 1;
    for (size_t i = 0; i < c->n_models && !needs_stimuli; i++)
        needs_stimuli = c->models[i].n_evaluate == 0;
    if (needs_stimuli && !c->stimuli && c->n_models)
        return ncmp_fail(err, NCMP_ERR_USAGE, "%s: [stimuli] path is needed to export the models' activations",
                         c->path);
    for (size_t i = 0; i < c->n_score_models; i++)
        if (!study_config_model(c, c->score_models[i]))
            return ncmp_fail(err, NCMP_ERR_USAGE, "%s: [score] models names an unknown model '%s'", c->path,
                             c->score_models[i]);
    for (size_t i = 0; i < c->n_score_recordings; i++)
        if (!study_config_recordings(c, c->score_recordings[i]))
            return ncmp_fail(err, NCMP_ERR_USAGE, "%s: [score] recordings names unknown recordings '%s'", c->path,
                             c->score_recordings[i]);
    if (c->temporal) {
        if (!c->temporal_model || !c->temporal_layer || !c->temporal_recordings)
            return ncmp_fail(err, NCMP_ERR_USAGE, "%s: [temporal] needs model, layer and recordings", c->path);
        if (!study_config_model(c, c->temporal_model))
            return ncmp_fail(err, NCMP_ERR_USAGE, "%s: [temporal] names an unknown model '%s'", c->path,
                             c->temporal_model);
        if (!study_config_recordings(c, c->temporal_recordings))
            return ncmp_fail(err, NCMP_ERR_USAGE, "%s: [temporal] names unknown recordings '%s'", c->path,
                             c->temporal_recordings);
    }
    if (c->n_compare_pairs) {
        if (!c->compare_recordings)
            return ncmp_fail(err, NCMP_ERR_USAGE, "%s: [compare] needs recordings", c->path);
        if (!study_config_recordings(c, c->compare_recordings))
            return ncmp_fail(err, NCMP_ERR_USAGE, "%s: [compare] names unknown recordings '%s'", c->path,
                             c->compare_recordings);
    }
    return NCMP_OK;
}

ncmp_status study_config_read(const char *path, study_config **out, ncmp_error *err)
{
    *out = NULL;
    study_config *c = calloc(1, sizeof *c);
    if (!c)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    char *abs = realpath(path, NULL);
    if (!abs) {
        free(c);
        return ncmp_fail(err, NCMP_ERR_IO, "cannot open the study file '%s': %s", path, strerror(errno));
    }
    c->path = abs;
    c->dir = strdup(abs);
    char *slash = strrchr(c->dir, '/');
    if (slash == c->dir)
        slash[1] = '\0';
    else
        *slash = '\0';
    FILE *f = fopen(abs, "rb");
    if (!f) {
        ncmp_status st = ncmp_fail(err, NCMP_ERR_IO, "cannot open the study file '%s': %s", path, strerror(errno));
        study_config_free(c);
        return st;
    }
    enum { MAX_TEXT = 1 << 20 };
    c->text = malloc(MAX_TEXT + 1);
    size_t n = c->text ? fread(c->text, 1, MAX_TEXT + 1, f) : 0;
    fclose(f);
    if (!c->text || n > MAX_TEXT) {
        ncmp_status st = ncmp_fail(err, c->text ? NCMP_ERR_FORMAT : NCMP_ERR_NOMEM,
                                   c->text ? "the study file '%s' is larger than 1 MiB" : "out of memory (%s)", path);
        study_config_free(c);
        return st;
    }
    c->text[n] = '\0';
    if (memchr(c->text, '\0', n)) {
        study_config_free(c);
        return ncmp_fail(err, NCMP_ERR_FORMAT, "the study file '%s' is not text (it holds a NUL byte)", path);
    }
    /* libinih reads at most INI_MAX_LINE - 1 characters of a line and parses the rest as a line of its
     * own, which would silently cut a long value in two */
    size_t lineno = 1, len = 0;
    for (size_t i = 0; i < n; i++) {
        if (c->text[i] == '\n') {
            lineno++;
            len = 0;
        } else if (++len >= INI_MAX_LINE - 1) {
            study_config_free(c);
            return ncmp_fail(err, NCMP_ERR_USAGE,
                             "%s: line %zu is longer than %d characters; continue a long value on indented lines", path,
                             lineno, INI_MAX_LINE - 2);
        }
    }
    ncmp_sha256_buffer(c->text, n, c->sha256);
    c->components = 25;
    c->ceiling_splits = 10;
    c->bootstrap = 1000;
    c->permutations = 1000;
    parse_state s = {c, NCMP_OK, ""};
    int line = ini_parse_string(c->text, handler, &s);
    ncmp_status st = NCMP_OK;
    if (line > 0 && s.st)
        st = ncmp_fail(err, s.st, "%s: line %d: %s", path, line, s.message);
    else if (line > 0)
        st = ncmp_fail(err, NCMP_ERR_USAGE, "%s: line %d is not 'key = value' or '[section]'", path, line);
    else if (line < 0)
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory reading '%s'", path);
    if (!st && !c->n_metrics && !(c->metrics[c->n_metrics++] = strdup("pls")))
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    if (!st)
        st = check(c, err);
    if (st) {
        study_config_free(c);
        return st;
    }
    *out = c;
    return NCMP_OK;
}

static void free_model(study_model *m)
{
    free(m->name);
    free(m->weights);
    free(m->train);
    free(m->arch);
    free(m->update_layer);
    free(m->precision);
    free(m->layers);
    for (size_t i = 0; i < m->n_evaluate; i++)
        free(m->evaluate[i]);
    free(m->eval_data);
    free(m->eval_attack_through);
}

static void free_recordings(study_recordings *r)
{
    free(r->name);
    free(r->responses);
    free(r->stimulus_ids);
    free(r->assembly);
    free(r->region);
    free(r->bin_starts);
    free(r->simulate_model);
    free(r->simulate_bins);
}

void study_config_free(study_config *c)
{
    if (!c)
        return;
    free(c->path);
    free(c->dir);
    free(c->text);
    free(c->name);
    free(c->title);
    free(c->description);
    free(c->out);
    free(c->stimuli);
    for (size_t i = 0; i < c->n_models; i++)
        free_model(&c->models[i]);
    for (size_t i = 0; i < c->n_recordings; i++)
        free_recordings(&c->recordings[i]);
    for (size_t i = 0; i < c->n_score_models; i++)
        free(c->score_models[i]);
    for (size_t i = 0; i < c->n_score_recordings; i++)
        free(c->score_recordings[i]);
    free(c->score_layers);
    free(c->score_iterations);
    for (size_t i = 0; i < c->n_metrics; i++)
        free(c->metrics[i]);
    free(c->normalization);
    free(c->time_window);
    free(c->temporal_model);
    free(c->temporal_layer);
    free(c->temporal_recordings);
    free(c->temporal_bins);
    free(c->temporal_mode);
    free(c->temporal_map);
    free(c->temporal_iterations);
    for (size_t i = 0; i < c->n_compare_pairs; i++)
        free(c->compare_pairs[i]);
    free(c->compare_recordings);
    free(c);
}

const study_model *study_config_model(const study_config *c, const char *name)
{
    for (size_t i = 0; i < c->n_models; i++)
        if (!strcmp(c->models[i].name, name))
            return &c->models[i];
    return NULL;
}

const study_recordings *study_config_recordings(const study_config *c, const char *name)
{
    for (size_t i = 0; i < c->n_recordings; i++)
        if (!strcmp(c->recordings[i].name, name))
            return &c->recordings[i];
    return NULL;
}
