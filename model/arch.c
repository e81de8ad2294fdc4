/* Architecture spec-file parser, shape inference and CNN-F top-down plan
 * (see arch.h; rules from Huang et al. 2020 as recorded in docs/cnnf-semantics.md). */
#include "model/arch.h"
#include "core/paths.h"
#include "core/suggest.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = {"conv",    "insnorm", "bias",    "relu",   "adarelu", "maxpool",
                                         "adapool", "avgpool", "flatten", "linear", "dropout"};
enum { N_TYPES = sizeof type_names / sizeof type_names[0] };

const char *ncmp_layer_type_name(ncmp_layer_type type)
{
    return (unsigned)type < N_TYPES ? type_names[type] : "?";
}

size_t ncmp_shape_size(ncmp_shape s)
{
    return (size_t)s.c * (size_t)s.h * (size_t)s.w;
}

void ncmp_shape_string(ncmp_shape s, char *buf, size_t size)
{
    if (s.flat)
        snprintf(buf, size, "%d", s.c);
    else
        snprintf(buf, size, "%dx%dx%d", s.c, s.h, s.w);
}

/* ---- parser state ------------------------------------------------------- */

#define MAX_PARAMS 16

typedef struct parser {
    const char *source;
    int line;
    ncmp_error *err;
    char param_names[MAX_PARAMS][NCMP_NAME_MAX];
    double param_values[MAX_PARAMS];
    int n_params;
    char update_name[NCMP_NAME_MAX];
    ncmp_arch *arch;
    int capacity;
} parser;

static ncmp_status parse_fail(parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static ncmp_status parse_fail(parser *p, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ncmp_fail(p->err, NCMP_ERR_FORMAT, "%s:%d: %s", p->source, p->line, msg);
}

static double *find_param(parser *p, const char *name)
{
    for (int i = 0; i < p->n_params; i++)
        if (!strcmp(p->param_names[i], name))
            return &p->param_values[i];
    return NULL;
}

static ncmp_status parse_number(parser *p, const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v))
        return parse_fail(p, "'%s' is not a number", text);
    *out = v;
    return NCMP_OK;
}

static ncmp_status parse_int(parser *p, const char *key, const char *text, int min, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < min || v > 1000000)
        return parse_fail(p, "%s=%s: expected an integer >= %d", key, text, min);
    *out = (int)v;
    return NCMP_OK;
}

/* A channel count: a product of integers and parameter names, e.g. 64*width
 * or classes; rounded to the nearest integer, at least 1. */
static ncmp_status parse_count(parser *p, const char *key, const char *text, int *out)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", text);
    double v = 1;
    char *save = NULL;
    for (char *f = strtok_r(buf, "*", &save); f; f = strtok_r(NULL, "*", &save)) {
        if (isdigit((unsigned char)f[0])) {
            double x = 0;
            if (parse_number(p, f, &x))
                return p->err ? p->err->status : NCMP_ERR_FORMAT;
            v *= x;
        } else {
            double *pv = find_param(p, f);
            if (!pv)
                return parse_fail(p, "%s=%s: unknown parameter '%s' (declare it with 'param %s VALUE')", key, text, f,
                                  f);
            v *= *pv;
        }
    }
    double r = floor(v + 0.5);
    if (r < 1)
        r = 1;
    if (r > 1e7)
        return parse_fail(p, "%s=%s evaluates to %g, which is too large", key, text, v);
    *out = (int)r;
    return NCMP_OK;
}

static ncmp_status copy_name(parser *p, char *dst, size_t size, const char *src, const char *what)
{
    if (strlen(src) >= size)
        return parse_fail(p, "%s '%s' is longer than %zu characters", what, src, size - 1);
    for (const char *c = src; *c; c++)
        if (!(isalnum((unsigned char)*c) || strchr("_.-", *c)))
            return parse_fail(p, "%s '%s' may only contain letters, digits, '_', '.' and '-'", what, src);
    snprintf(dst, size, "%s", src);
    return NCMP_OK;
}

static int layer_by_name(const ncmp_arch *a, const char *name)
{
    for (int i = 0; i < a->n_layers; i++)
        if (!strcmp(a->layers[i].name, name) || !strcmp(a->layers[i].alias, name))
            return i;
    return -1;
}

/* ---- one layer line ------------------------------------------------------ */

typedef struct kv {
    char key[32];
    const char *value;
    bool used;
} kv;

static const char *get_kv(kv *kvs, int n, const char *key)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(kvs[i].key, key)) {
            kvs[i].used = true;
            return kvs[i].value;
        }
    return NULL;
}

static ncmp_status layer_line(parser *p, ncmp_layer_type type, char **tokens, int n_tokens)
{
    ncmp_arch *a = p->arch;
    if (n_tokens < 2)
        return parse_fail(p, "%s needs a layer name: '%s NAME key=value ...'", type_names[type], type_names[type]);
    if (a->n_layers == p->capacity) {
        int cap = p->capacity ? 2 * p->capacity : 32;
        ncmp_layer_desc *grown = realloc(a->layers, sizeof *grown * (size_t)cap);
        if (!grown)
            return ncmp_fail(p->err, NCMP_ERR_NOMEM, "out of memory");
        a->layers = grown;
        p->capacity = cap;
    }
    ncmp_layer_desc *L = &a->layers[a->n_layers];
    memset(L, 0, sizeof *L);
    L->type = type;
    L->line = p->line;
    L->kernel = type == NCMP_LAYER_CONV ? 3 : 2;
    L->stride = type == NCMP_LAYER_CONV ? 1 : 2;
    if (copy_name(p, L->name, sizeof L->name, tokens[1], "layer name"))
        return p->err ? p->err->status : NCMP_ERR_FORMAT;
    if (layer_by_name(a, L->name) >= 0)
        return parse_fail(p, "layer name '%s' is used twice", L->name);

    kv kvs[16];
    int n_kv = 0;
    for (int i = 2; i < n_tokens; i++) {
        char *eq = strchr(tokens[i], '=');
        if (!eq || eq == tokens[i] || !eq[1])
            return parse_fail(p, "expected key=value, got '%s'", tokens[i]);
        if (n_kv == 16)
            return parse_fail(p, "too many options");
        *eq = '\0';
        snprintf(kvs[n_kv].key, sizeof kvs[n_kv].key, "%s", tokens[i]);
        kvs[n_kv].value = eq + 1;
        kvs[n_kv].used = false;
        n_kv++;
    }
    ncmp_status st = NCMP_OK;
    const char *v;
    switch (type) {
    case NCMP_LAYER_CONV:
    case NCMP_LAYER_LINEAR: {
        int out;
        if (!(v = get_kv(kvs, n_kv, "out")))
            return parse_fail(p, "%s '%s' needs out=CHANNELS", type_names[type], L->name);
        if ((st = parse_count(p, "out", v, &out)))
            return st;
        L->out.c = out;
        if (!(v = get_kv(kvs, n_kv, "weight")))
            return parse_fail(p, "%s '%s' needs weight=STATE_DICT_KEY", type_names[type], L->name);
        snprintf(L->weight_key, sizeof L->weight_key, "%s", v);
        if ((v = get_kv(kvs, n_kv, "bias")))
            snprintf(L->bias_key, sizeof L->bias_key, "%s", v);
        if (type == NCMP_LAYER_CONV) {
            if ((v = get_kv(kvs, n_kv, "k")) && (st = parse_int(p, "k", v, 1, &L->kernel)))
                return st;
            if ((v = get_kv(kvs, n_kv, "stride")) && (st = parse_int(p, "stride", v, 1, &L->stride)))
                return st;
            if ((v = get_kv(kvs, n_kv, "pad")) && (st = parse_int(p, "pad", v, 0, &L->pad)))
                return st;
        } else if ((v = get_kv(kvs, n_kv, "in"))) {
            int in;
            if ((st = parse_count(p, "in", v, &in)))
                return st;
            L->in.c = in; /* checked against the inferred shape below */
        }
        break;
    }
    case NCMP_LAYER_BIAS:
        if (!(v = get_kv(kvs, n_kv, "param")))
            return parse_fail(p, "bias '%s' needs param=STATE_DICT_KEY", L->name);
        snprintf(L->bias_key, sizeof L->bias_key, "%s", v);
        if ((v = get_kv(kvs, n_kv, "shape"))) {
            if (strcmp(v, "broadcast") && strcmp(v, "flat"))
                return parse_fail(p, "bias '%s': shape=%s is not 'flat' ([C]) or 'broadcast' ([1,C,1,1] / [1,C])",
                                  L->name, v);
            L->bias_broadcast = !strcmp(v, "broadcast");
        }
        break;
    case NCMP_LAYER_MAXPOOL:
    case NCMP_LAYER_ADAPOOL:
        if ((v = get_kv(kvs, n_kv, "k")) && (st = parse_int(p, "k", v, 1, &L->kernel)))
            return st;
        L->stride = L->kernel;
        if ((v = get_kv(kvs, n_kv, "stride")) && (st = parse_int(p, "stride", v, 1, &L->stride)))
            return st;
        break;
    case NCMP_LAYER_AVGPOOL:
        if (!(v = get_kv(kvs, n_kv, "out")))
            return parse_fail(p, "avgpool '%s' needs out=SIZE (adaptive average pooling to SIZE x SIZE)", L->name);
        if ((st = parse_int(p, "out", v, 1, &L->out_size)))
            return st;
        break;
    case NCMP_LAYER_DROPOUT:
        get_kv(kvs, n_kv, "p"); /* accepted for documentation; inactive at inference */
        break;
    default:
        break;
    }
    if ((v = get_kv(kvs, n_kv, "as")) && (st = copy_name(p, L->alias, sizeof L->alias, v, "observation name")))
        return st;
    for (int i = 0; i < n_kv; i++)
        if (!kvs[i].used)
            return parse_fail(p, "%s '%s': unknown option '%s'", type_names[type], L->name, kvs[i].key);
    a->n_layers++;
    return NCMP_OK;
}

/* ---- directives -------------------------------------------------------------- */

static ncmp_status directive(parser *p, char **t, int n, const ncmp_arch_options *opts)
{
    ncmp_arch *a = p->arch;
    ncmp_status st;
    if (!strcmp(t[0], "arch")) {
        if (n != 2)
            return parse_fail(p, "usage: arch NAME");
        return copy_name(p, a->name, sizeof a->name, t[1], "architecture name");
    }
    if (!strcmp(t[0], "input")) {
        if (n != 4)
            return parse_fail(p, "usage: input CHANNELS HEIGHT WIDTH");
        if ((st = parse_int(p, "channels", t[1], 1, &a->input.c)) ||
            (st = parse_int(p, "height", t[2], 1, &a->input.h)) || (st = parse_int(p, "width", t[3], 1, &a->input.w)))
            return st;
        if (opts && opts->input_size > 0)
            a->input.h = a->input.w = opts->input_size;
        if (opts && opts->input_channels > 0) {
            if (opts->input_channels != 1 && opts->input_channels != 3)
                return parse_fail(p, "--channels must be 1 (grey) or 3 (RGB), got %d", opts->input_channels);
            a->input.c = opts->input_channels;
        }
        return NCMP_OK;
    }
    if (!strcmp(t[0], "preprocess")) {
        if (n != 2)
            return parse_fail(p, "usage: preprocess imagenet|minus1to1");
        if (!strcmp(t[1], "imagenet"))
            a->scaling = NCMP_SCALING_IMAGENET;
        else if (!strcmp(t[1], "minus1to1"))
            a->scaling = NCMP_SCALING_MINUS1_1;
        else
            return parse_fail(p, "unknown preprocessing '%s' (imagenet or minus1to1)", t[1]);
        return NCMP_OK;
    }
    if (!strcmp(t[0], "param")) {
        if (n != 3)
            return parse_fail(p, "usage: param NAME VALUE");
        if (find_param(p, t[1]))
            return parse_fail(p, "parameter '%s' is declared twice", t[1]);
        if (p->n_params == MAX_PARAMS)
            return parse_fail(p, "too many parameters");
        double v = 0;
        if ((st = parse_number(p, t[2], &v)))
            return st;
        if (opts && !strcmp(t[1], "width") && opts->width > 0)
            v = opts->width;
        if (opts && !strcmp(t[1], "classes") && opts->num_classes > 0)
            v = opts->num_classes;
        if (!(v > 0))
            return parse_fail(p, "parameter '%s' must be positive, got %g", t[1], v);
        snprintf(p->param_names[p->n_params], NCMP_NAME_MAX, "%s", t[1]);
        p->param_values[p->n_params++] = v;
        return NCMP_OK;
    }
    if (!strcmp(t[0], "cnnf")) {
        a->cnnf = true;
        for (int i = 1; i < n; i++) {
            if (!strncmp(t[i], "update=", 7)) {
                if ((st = copy_name(p, p->update_name, sizeof p->update_name, t[i] + 7, "update layer")))
                    return st;
            } else if (!strncmp(t[i], "step=", 5)) {
                if ((st = parse_number(p, t[i] + 5, &a->step)))
                    return st;
                if (!(a->step > 0 && a->step <= 1))
                    return parse_fail(p, "step=%s must be in (0, 1]", t[i] + 5);
            } else {
                return parse_fail(p, "cnnf: unknown option '%s' (update=LAYER step=VALUE)", t[i]);
            }
        }
        if (!p->update_name[0])
            return parse_fail(p, "cnnf needs update=LAYER");
        return NCMP_OK;
    }
    if (!strcmp(t[0], "observe")) {
        if (n != 2)
            return parse_fail(p, "usage: observe NAME (names the output of the layer above)");
        if (a->n_layers == 0)
            return parse_fail(p, "observe '%s' comes before any layer", t[1]);
        ncmp_layer_desc *L = &a->layers[a->n_layers - 1];
        if (L->alias[0])
            return parse_fail(p, "layer '%s' already has the observation name '%s'", L->name, L->alias);
        if (layer_by_name(a, t[1]) >= 0)
            return parse_fail(p, "observation name '%s' is already a layer or observation name", t[1]);
        return copy_name(p, L->alias, sizeof L->alias, t[1], "observation name");
    }
    for (int ty = 0; ty < N_TYPES; ty++)
        if (!strcmp(t[0], type_names[ty]))
            return layer_line(p, (ncmp_layer_type)ty, t, n);
    const char *words[N_TYPES + 6] = {"arch", "input", "preprocess", "param", "cnnf", "observe"};
    for (int ty = 0; ty < N_TYPES; ty++)
        words[6 + ty] = type_names[ty];
    const char *best = ncmp_suggest(t[0], words, N_TYPES + 6);
    if (best)
        return parse_fail(p, "unknown layer type or directive '%s'; did you mean '%s'?", t[0], best);
    return parse_fail(p,
                      "unknown layer type or directive '%s' (layer types: conv insnorm bias relu adarelu maxpool "
                      "adapool avgpool flatten linear dropout)",
                      t[0]);
}

/* ---- shapes ---------------------------------------------------------------------- */

static ncmp_status infer_shapes(parser *p)
{
    ncmp_arch *a = p->arch;
    ncmp_shape s = a->input;
    for (int i = 0; i < a->n_layers; i++) {
        ncmp_layer_desc *L = &a->layers[i];
        p->line = L->line;
        char in_text[64];
        ncmp_shape_string(s, in_text, sizeof in_text);
        int expected_in = L->in.c; /* linear: optional in= check */
        L->in = s;
        ncmp_shape o = s;
        switch (L->type) {
        case NCMP_LAYER_CONV:
            if (s.flat)
                return parse_fail(p, "conv '%s' needs a feature map, but its input is the vector %s", L->name, in_text);
            o.c = L->out.c;
            o.h = (s.h + 2 * L->pad - L->kernel) / L->stride + 1;
            o.w = (s.w + 2 * L->pad - L->kernel) / L->stride + 1;
            if (s.h + 2 * L->pad < L->kernel || s.w + 2 * L->pad < L->kernel)
                return parse_fail(p, "conv '%s': kernel %d does not fit its input %s (pad %d)", L->name, L->kernel,
                                  in_text, L->pad);
            break;
        case NCMP_LAYER_INSNORM:
        case NCMP_LAYER_MAXPOOL:
        case NCMP_LAYER_ADAPOOL:
        case NCMP_LAYER_AVGPOOL:
            if (s.flat)
                return parse_fail(p, "%s '%s' needs a feature map, but its input is the vector %s", type_names[L->type],
                                  L->name, in_text);
            if (L->type == NCMP_LAYER_MAXPOOL || L->type == NCMP_LAYER_ADAPOOL) {
                if (s.h < L->kernel || s.w < L->kernel)
                    return parse_fail(p,
                                      "%s '%s': its input %s is smaller than the %dx%d window (input too small "
                                      "for this network; use a larger --input-size)",
                                      type_names[L->type], L->name, in_text, L->kernel, L->kernel);
                o.h = (s.h - L->kernel) / L->stride + 1;
                o.w = (s.w - L->kernel) / L->stride + 1;
            } else if (L->type == NCMP_LAYER_AVGPOOL) {
                o.h = o.w = L->out_size;
            }
            break;
        case NCMP_LAYER_FLATTEN:
            o.c = (int)ncmp_shape_size(s);
            o.h = o.w = 1;
            o.flat = true;
            break;
        case NCMP_LAYER_LINEAR:
            if (!s.flat)
                return parse_fail(p,
                                  "linear '%s' needs a vector, but its input is the feature map %s (add a "
                                  "flatten layer)",
                                  L->name, in_text);
            if (expected_in > 0 && expected_in != s.c)
                return parse_fail(p, "linear '%s' declares in=%d but its input has %d features", L->name, expected_in,
                                  s.c);
            o.c = L->out.c;
            break;
        default:
            break;
        }
        /* The engine indexes a layer's activations and weights with int
         * (BLAS): a spec may not declare more (docs/hardening.md). */
        size_t weights = L->type == NCMP_LAYER_CONV     ? (size_t)o.c * (size_t)s.c * (size_t)L->kernel * L->kernel
                         : L->type == NCMP_LAYER_LINEAR ? (size_t)o.c * (size_t)s.c
                                                        : 0;
        if (ncmp_shape_size(o) > NCMP_ARCH_MAX_ELEMENTS || weights > NCMP_ARCH_MAX_ELEMENTS)
            return parse_fail(p, "%s '%s' declares %zu activations and %zu weights per input; at most %d each",
                              type_names[L->type], L->name, ncmp_shape_size(o), weights, NCMP_ARCH_MAX_ELEMENTS);
        L->out = o;
        L->stage_start = L->type == NCMP_LAYER_CONV || L->type == NCMP_LAYER_LINEAR || L->type == NCMP_LAYER_FLATTEN ||
                         L->type == NCMP_LAYER_AVGPOOL;
        s = o;
    }
    return NCMP_OK;
}

/* ---- CNN-F top-down plan ----------------------------------------------------------- */

static bool has_feedback_rule(ncmp_layer_type t)
{
    return t != NCMP_LAYER_RELU && t != NCMP_LAYER_MAXPOOL;
}

static ncmp_status build_topdown(parser *p)
{
    ncmp_arch *a = p->arch;
    int u = a->update_layer;
    if (u + 1 >= a->n_layers)
        return ncmp_fail(p->err, NCMP_ERR_FORMAT, "%s: the update layer '%s' is the last layer; nothing runs above it",
                         p->source, a->layers[u].name);
    if (!a->layers[u + 1].stage_start)
        return ncmp_fail(p->err, NCMP_ERR_FORMAT,
                         "%s:%d: the update layer '%s' must end a stage: the layer after it ('%s', %s) must be a conv, "
                         "linear, flatten or avgpool",
                         p->source, a->layers[u].line, ncmp_arch_layer_label(a, u), a->layers[u + 1].name,
                         type_names[a->layers[u + 1].type]);
    for (int i = u + 1; i < a->n_layers; i++)
        if (!has_feedback_rule(a->layers[i].type))
            return ncmp_fail(p->err, NCMP_ERR_FORMAT,
                             "%s:%d: layer '%s' (%s) has no feedback rule, but it is above the CNN-F update layer "
                             "'%s'; use adarelu/adapool",
                             p->source, a->layers[i].line, a->layers[i].name, type_names[a->layers[i].type],
                             ncmp_arch_layer_label(a, u));
    a->topdown = calloc((size_t)(2 * a->n_layers), sizeof *a->topdown);
    if (!a->topdown)
        return ncmp_fail(p->err, NCMP_ERR_NOMEM, "out of memory");
    int end = a->n_layers;
    ncmp_shape g = a->layers[a->n_layers - 1].out;
    while (end > u + 1) {
        int start = end - 1;
        while (start > u + 1 && !a->layers[start].stage_start)
            start--;
        /* Conv stages normalise the top-down signal first, at the stage's top. */
        if (a->layers[start].type == NCMP_LAYER_CONV)
            for (int i = start; i < end; i++)
                if (a->layers[i].type == NCMP_LAYER_INSNORM) {
                    a->topdown[a->n_topdown++] = (ncmp_topdown_step){NCMP_TD_INSNORM, i, g};
                    break;
                }
        for (int i = end - 1; i >= start; i--) {
            ncmp_layer_type t = a->layers[i].type;
            if (t == NCMP_LAYER_BIAS || t == NCMP_LAYER_DROPOUT)
                continue; /* identities top-down */
            if (t == NCMP_LAYER_INSNORM) {
                if (a->layers[start].type != NCMP_LAYER_CONV)
                    return ncmp_fail(p->err, NCMP_ERR_FORMAT,
                                     "%s:%d: insnorm '%s' must be inside a conv stage to have a feedback rule",
                                     p->source, a->layers[i].line, a->layers[i].name);
                continue;
            }
            g = a->layers[i].in;
            a->topdown[a->n_topdown++] = (ncmp_topdown_step){NCMP_TD_LAYER, i, g};
        }
        end = start;
    }
    return NCMP_OK;
}

/* ---- entry points ------------------------------------------------------------------ */

void ncmp_arch_free(ncmp_arch *arch)
{
    if (!arch)
        return;
    free(arch->layers);
    free(arch->topdown);
    free(arch);
}

ncmp_status ncmp_arch_parse(const char *text, const char *source, const ncmp_arch_options *opts, ncmp_arch **out,
                            ncmp_error *err)
{
    *out = NULL;
    parser p;
    memset(&p, 0, sizeof p);
    p.source = source ? source : "<spec>";
    p.err = err;
    p.arch = calloc(1, sizeof *p.arch);
    if (!p.arch)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    ncmp_arch *a = p.arch;
    snprintf(a->source, sizeof a->source, "%s", p.source);
    a->step = 0.1;
    a->update_layer = -1;
    ncmp_status st = NCMP_OK;
    const char *cursor = text;
    while (*cursor && !st) {
        p.line++;
        const char *eol = strchr(cursor, '\n');
        size_t len = eol ? (size_t)(eol - cursor) : strlen(cursor);
        char line[1024];
        if (len >= sizeof line) {
            st = parse_fail(&p, "line is longer than %zu characters", sizeof line - 1);
            break;
        }
        memcpy(line, cursor, len);
        line[len] = '\0';
        cursor = eol ? eol + 1 : cursor + len;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *tokens[32];
        int n = 0;
        char *save = NULL;
        for (char *tok = strtok_r(line, " \t\r", &save); tok && n < 32; tok = strtok_r(NULL, " \t\r", &save))
            tokens[n++] = tok;
        if (n == 0)
            continue;
        st = directive(&p, tokens, n, opts);
    }
    if (!st && !a->name[0])
        st = ncmp_fail(err, NCMP_ERR_FORMAT, "%s: no 'arch NAME' line", p.source);
    if (!st && a->input.c == 0)
        st = ncmp_fail(err, NCMP_ERR_FORMAT, "%s: no 'input CHANNELS HEIGHT WIDTH' line", p.source);
    if (!st && a->n_layers == 0)
        st = ncmp_fail(err, NCMP_ERR_FORMAT, "%s: no layers", p.source);
    if (!st) {
        double *w = find_param(&p, "width"), *c = find_param(&p, "classes");
        a->width = w ? *w : 1.0;
        bool classes_ok = !c || (*c >= 1 && *c <= 1e7);
        a->num_classes = c && classes_ok ? (int)*c : a->layers[a->n_layers - 1].out.c;
        if (!classes_ok)
            st = ncmp_fail(err, NCMP_ERR_FORMAT, "%s: param classes = %g; expected 1 to 10000000", p.source, *c);
        else if (opts && opts->width > 0 && !w)
            st = ncmp_fail(err, NCMP_ERR_USAGE, "%s has no width parameter; --width cannot be used with it", p.source);
        else if (opts && opts->num_classes > 0 && !c)
            st = ncmp_fail(err, NCMP_ERR_USAGE, "%s has no classes parameter; --classes cannot be used with it",
                           p.source);
    }
    if (!st)
        st = infer_shapes(&p);
    if (!st && a->cnnf) {
        const char *name = opts && opts->update_layer ? opts->update_layer : p.update_name;
        a->update_layer = layer_by_name(a, name);
        if (a->update_layer < 0)
            st = ncmp_fail(err, NCMP_ERR_NOT_FOUND, "%s: update layer '%s' is not a layer of %s", p.source, name,
                           a->name);
        else
            st = build_topdown(&p);
    } else if (!st && opts && opts->update_layer) {
        st = ncmp_fail(err, NCMP_ERR_USAGE, "%s is not a CNN-F (no 'cnnf' line); --update-layer does not apply",
                       a->name);
    }
    if (st) {
        ncmp_arch_free(a);
        return st;
    }
    *out = a;
    return NCMP_OK;
}

ncmp_status ncmp_arch_load(const char *name_or_path, const ncmp_arch_options *opts, ncmp_arch **out, ncmp_error *err)
{
    *out = NULL;
    char path[4096];
    size_t n = strlen(name_or_path);
    bool is_path = strchr(name_or_path, '/') || (n > 5 && !strcmp(name_or_path + n - 5, ".spec"));
    if (is_path) {
        snprintf(path, sizeof path, "%s", name_or_path);
    } else {
        char rel[256];
        snprintf(rel, sizeof rel, "model/archs/%s.spec", name_or_path);
        if (ncmp_data_path(rel, path, sizeof path, NULL) != NCMP_OK)
            return ncmp_fail(err, NCMP_ERR_NOT_FOUND,
                             "unknown architecture '%s' (built in: cnnf-fmnist, vgg16, vgg16-cnnf; or give a path "
                             "to a .spec file)",
                             name_or_path);
    }
    FILE *f = fopen(path, "rb");
    if (!f)
        return ncmp_fail(err, NCMP_ERR_IO, "cannot open architecture file '%s': %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    if (size < 0 || size > (1 << 22)) {
        fclose(f);
        return ncmp_fail(err, NCMP_ERR_FORMAT, "'%s' is not a spec file (size %ld)", path, size);
    }
    char *text = malloc((size_t)size + 1);
    if (!text) {
        fclose(f);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    }
    size_t got = fread(text, 1, (size_t)size, f);
    fclose(f);
    text[got] = '\0';
    if (memchr(text, '\0', got)) {
        free(text);
        return ncmp_fail(err, NCMP_ERR_FORMAT, "'%s' is binary, not a text spec file", path);
    }
    ncmp_status st = ncmp_arch_parse(text, path, opts, out, err);
    free(text);
    return st;
}

int ncmp_arch_find_layer(const ncmp_arch *arch, const char *name)
{
    return layer_by_name(arch, name);
}

const char *ncmp_arch_layer_label(const ncmp_arch *arch, int layer)
{
    const ncmp_layer_desc *L = &arch->layers[layer];
    return L->alias[0] ? L->alias : L->name;
}

ncmp_status ncmp_arch_require_layer(const ncmp_arch *arch, const char *name, int *index, ncmp_error *err)
{
    *index = layer_by_name(arch, name);
    if (*index >= 0)
        return NCMP_OK;
    char list[600] = "";
    size_t used = 0;
    for (int i = 0; i < arch->n_layers && used < sizeof list - 40; i++)
        if (arch->layers[i].alias[0])
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", arch->layers[i].alias);
    return ncmp_fail(err, NCMP_ERR_NOT_FOUND,
                     "layer '%s' is not in %s (observation points: %s; any layer name also works, see 'neurocmp "
                     "arch %s')",
                     name, arch->name, list, arch->name);
}

static double layer_macs(const ncmp_layer_desc *L)
{
    if (L->type == NCMP_LAYER_CONV)
        return (double)ncmp_shape_size(L->out) * L->in.c * L->kernel * L->kernel;
    if (L->type == NCMP_LAYER_LINEAR)
        return (double)L->in.c * L->out.c;
    return 0;
}

double ncmp_arch_forward_macs(const ncmp_arch *arch, int from_layer)
{
    double macs = 0;
    for (int i = from_layer < 0 ? 0 : from_layer; i < arch->n_layers; i++)
        macs += layer_macs(&arch->layers[i]);
    return macs;
}

double ncmp_arch_feedback_macs(const ncmp_arch *arch)
{
    double macs = 0;
    for (int s = 0; s < arch->n_topdown; s++)
        if (arch->topdown[s].op == NCMP_TD_LAYER)
            macs += layer_macs(&arch->layers[arch->topdown[s].layer]);
    return macs;
}

ncmp_preprocess_options ncmp_arch_preprocess(const ncmp_arch *arch, bool center_crop)
{
    ncmp_preprocess_options o = {arch->input.c, arch->input.h, center_crop, arch->scaling};
    return o;
}
