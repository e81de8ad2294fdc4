/* Turning a study file into the neurocmp commands that make its outputs,
 * with rough costs for --dry-run (docs/reproducibility.md, "Steps"). */
#include "study/plan.h"
#include "datasets/labeled.h"
#include "datasets/stimuli.h"
#include "model/arch.h"
#include "results/manifest.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rough rates of this kind of machine (2 cores, OpenBLAS), for estimates
 * only: the engine's multiply-adds per second in double arithmetic (export
 * measured 19 G/s on VGG-16, bench/RESULTS.md), training's (forward,
 * feedback and backward), and a Gram matrix's. */
static const double ENGINE_MACS_PER_S = 1.9e10, TRAIN_MACS_PER_S = 2.0e10, GRAM_FLOPS_PER_S = 2.0e10;

static ncmp_status nomem(ncmp_error *err)
{
    return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
}

static __attribute__((format(printf, 2, 3))) void arg(study_step *s, const char *fmt, ...)
{
    if (s->argc >= STUDY_MAX_ARGS - 1)
        return; /* checked after the step is built */
    va_list ap;
    va_start(ap, fmt);
    char buf[4096];
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    s->argv[s->argc++] = strdup(buf);
}

/* An option and its value: opt(s, "--layers", "%s", layers). */
static __attribute__((format(printf, 3, 4))) void opt(study_step *s, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char buf[4096];
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    arg(s, "%s", name);
    arg(s, "%s", buf);
}

/* Split train options on whitespace into argv. */
static void args_split(study_step *s, const char *text)
{
    char *copy = strdup(text);
    char *save = NULL;
    for (char *tok = copy ? strtok_r(copy, " \t\n", &save) : NULL; tok; tok = strtok_r(NULL, " \t\n", &save))
        arg(s, "%s", tok);
    free(copy);
}

/* A path as the commands see it: relative to the output folder. */
static char *rel(const study_config *c, const char *abs)
{
    return ncmp_manifest_relative_path(c->out, abs);
}

static void add_file(study_file *files, size_t *n, const char *role, char *abs, bool directory)
{
    if (*n >= STUDY_MAX_FILES) {
        free(abs);
        return;
    }
    study_file *f = &files[(*n)++];
    snprintf(f->role, sizeof f->role, "%s", role);
    f->path = abs;
    f->directory = directory;
}

static void input(study_step *s, const char *role, const char *abs)
{
    add_file(s->inputs, &s->n_inputs, role, strdup(abs), false);
}

/* An output named relative to the output folder; returns the relative name for argv. */
static const char *output(const study_config *c, study_step *s, const char *role, const char *relative, bool dir)
{
    size_t n = strlen(c->out) + strlen(relative) + 2;
    char *abs = malloc(n);
    if (abs)
        snprintf(abs, n, "%s/%s", c->out, relative);
    add_file(s->outputs, &s->n_outputs, role, abs, dir);
    return relative;
}

/* A new step named KIND.A or KIND.A.B */
static study_step *new_step(study_plan *p, const char *kind, const char *a, const char *b)
{
    study_step *s = &p->steps[p->n_steps++];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    /* names longer than the field are cut; study_plan_make refuses two equal names */
    if (b ? snprintf(s->name, sizeof s->name, "%s.%s.%s", kind, a, b) >= (int)sizeof s->name
          : snprintf(s->name, sizeof s->name, "%s.%s", kind, a) >= (int)sizeof s->name)
        s->name[sizeof s->name - 1] = '\0';
    s->argv[s->argc++] = strdup("neurocmp");
    return s;
}

const study_file *study_step_output(const study_step *s, const char *role)
{
    for (size_t i = 0; i < s->n_outputs; i++)
        if (!strcmp(s->outputs[i].role, role))
            return &s->outputs[i];
    return NULL;
}

static const study_step *find_step(const study_plan *p, const char *name)
{
    for (size_t i = 0; i < p->n_steps; i++)
        if (!strcmp(p->steps[i].name, name))
            return &p->steps[i];
    return NULL;
}

/* The value after `--key` in a train option string, or NULL. */
static const char *train_option(const char *train, const char *key, char *buf, size_t size)
{
    const char *p = train;
    size_t k = strlen(key);
    while ((p = strstr(p, key))) {
        if ((p == train || p[-1] == ' ' || p[-1] == '\t') && (p[k] == ' ' || p[k] == '=')) {
            p += k + 1;
            while (*p == ' ')
                p++;
            size_t n = strcspn(p, " \t\n");
            snprintf(buf, size, "%.*s", (int)n, p);
            return buf;
        }
        p += k;
    }
    return NULL;
}

/* The architecture a model will run as, for the estimates (NULL if unknown). */
static ncmp_arch *model_arch(const study_model *m)
{
    ncmp_arch_options o = {.width = m->width,
                           .input_size = (int)m->input_size,
                           .num_classes = (int)m->classes,
                           .update_layer = m->update_layer,
                           .input_channels = (int)m->channels};
    char name[256] = "", buf[64];
    const char *arch = m->arch;
    if (m->weights) {
        ncmp_arch_options_from_weights(&o, m->weights);
        if (!arch)
            arch = ncmp_arch_name_from_weights(m->weights, name, sizeof name);
    } else if (m->train) {
        if (!arch)
            arch = train_option(m->train, "--arch", name, sizeof name);
        if (!o.width && train_option(m->train, "--width", buf, sizeof buf))
            o.width = atof(buf);
        if (!o.input_size && train_option(m->train, "--input-size", buf, sizeof buf))
            o.input_size = atoi(buf);
        if (!o.input_channels && train_option(m->train, "--channels", buf, sizeof buf))
            o.input_channels = atoi(buf);
        if (!o.num_classes && train_option(m->train, "--classes", buf, sizeof buf))
            o.num_classes = atoi(buf);
    }
    ncmp_arch *a = NULL;
    if (!arch || ncmp_arch_load(arch, &o, &a, NULL))
        return NULL;
    return a;
}

/* Floats of the layers export writes (every observation point, or the named ones). */
static double exported_features(const ncmp_arch *a, const char *layers)
{
    double sum = 0;
    for (int l = 0; l < a->n_layers; l++) {
        const char *label = a->layers[l].alias[0] ? a->layers[l].alias : NULL;
        if (!label)
            continue;
        if (layers && strcmp(layers, "all")) {
            char pattern[NCMP_NAME_MAX + 2];
            snprintf(pattern, sizeof pattern, ",%s,", label);
            size_t n = strlen(layers) + 3;
            char *list = malloc(n);
            if (!list)
                continue;
            snprintf(list, n, ",%s,", layers);
            int found = strstr(list, pattern) != NULL;
            free(list);
            if (!found)
                continue;
        }
        sum += (double)ncmp_shape_size(a->layers[l].out);
    }
    return sum;
}

static double all_activations(const ncmp_arch *a)
{
    double sum = 0;
    for (int l = 0; l < a->n_layers; l++)
        sum += (double)ncmp_shape_size(a->layers[l].out);
    return sum;
}

/* Fashion-MNIST from Debian's package is an input like any file: a changed copy reruns what used it. */
static void fashion_mnist_inputs(study_step *s, const char *data, bool train_split)
{
    if (!data || strcmp(data, "fashion-mnist"))
        return;
    const char *stem = train_split ? "train" : "t10k";
    char path[4200], role[64];
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte.gz", ncmp_fashion_mnist_dir(), stem);
    snprintf(role, sizeof role, "%s_images", train_split ? "train" : "test");
    input(s, role, path);
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte.gz", ncmp_fashion_mnist_dir(), stem);
    snprintf(role, sizeof role, "%s_labels", train_split ? "train" : "test");
    input(s, role, path);
}

static void plan_train(const study_config *c, study_plan *p, const study_model *m, const ncmp_arch *a)
{
    study_step *s = new_step(p, "train", m->name, NULL);
    snprintf(s->model, sizeof s->model, "%s", m->name);
    arg(s, "train");
    args_split(s, m->train);
    char out[300];
    snprintf(out, sizeof out, "models/%s.h5", m->name);
    opt(s, "--out", "%s", output(c, s, "weights", out, false));
    opt(s, "--threads", "%ld", c->threads);
    s->resumable = true;
    char buf[64];
    fashion_mnist_inputs(s, train_option(m->train, "--data", buf, sizeof buf), true);
    fashion_mnist_inputs(s, train_option(m->train, "--test-data", buf, sizeof buf), false);
    double epochs = train_option(m->train, "--epochs", buf, sizeof buf) ? atof(buf) : 10;
    double steps = train_option(m->train, "--max-steps", buf, sizeof buf) ? atof(buf) : 0;
    double batch = train_option(m->train, "--batch", buf, sizeof buf) ? atof(buf) : 256;
    double cycles = train_option(m->train, "--cycles", buf, sizeof buf) ? atof(buf) : 1;
    double images = steps > 0 ? steps * batch : epochs * 60000;
    if (a) {
        /* calibrated on the shipped Fashion-MNIST runs: a CNN-F trained through two cycles costs 2.2 times
         * its feed-forward twin per image (71 against 32 min, docs/training.md) */
        double per_image = 3 * ncmp_arch_forward_macs(a, 0) * (1 + 0.6 * cycles);
        if (train_option(m->train, "--adversarial", buf, sizeof buf) && strcmp(buf, "none"))
            per_image *= 2.4; /* a PGD step measured 2.4 clean steps (docs/training.md) */
        s->seconds = images * per_image / TRAIN_MACS_PER_S;
        s->memory_bytes = 4.0 * batch * all_activations(a) * 6;
        s->disk_bytes = 4.0 * 3 * all_activations(a); /* weights + momentum, order of */
    }
    snprintf(s->what, sizeof s->what, "train %s (%s)", m->name, m->train);
}

static void plan_eval(const study_config *c, study_plan *p, const study_model *m, const char *weights_rel,
                      const char *weights_abs, const ncmp_arch *a)
{
    for (size_t e = 0; e < m->n_evaluate; e++) {
        const char *spec = m->evaluate[e];
        char label[64];
        snprintf(label, sizeof label, "%s", spec);
        for (char *q = label; *q; q++)
            if (*q == ':')
                *q = '-';
        study_step *s = new_step(p, "eval", m->name, label);
        snprintf(s->model, sizeof s->model, "%s", m->name);
        arg(s, "eval");
        opt(s, "--weights", "%s", weights_rel);
        input(s, "weights", weights_abs);
        opt(s, "--cycles", "%ld", m->iterations);
        opt(s, "--data", "%s", m->eval_data ? m->eval_data : "fashion-mnist");
        fashion_mnist_inputs(s, m->eval_data ? m->eval_data : "fashion-mnist", false);
        if (m->eval_images) {
            opt(s, "--max-images", "%ld", m->eval_images);
        }
        if (strcmp(spec, "clean")) {
            /* fgsm:EPS, pgd:EPS or pgd:EPS:STEP; PGD's step defaults to EPS/2.8, the reference's ratio
             * (0.071 for 0.2; docs/training.md) */
            const char *colon = strchr(spec, ':'), *second = strchr(colon + 1, ':');
            opt(s, "--attack", "%.*s", (int)(colon - spec), spec);
            opt(s, "--eps", "%.*s", second ? (int)(second - colon - 1) : (int)strlen(colon + 1), colon + 1);
            if (!strncmp(spec, "pgd:", 4)) {
                arg(s, "--eps-iter");
                if (second)
                    arg(s, "%s", second + 1);
                else
                    arg(s, "%.17g", atof(colon + 1) / 2.8);
            }
            if (m->eval_attack_through) {
                opt(s, "--attack-through", "%s", m->eval_attack_through);
            }
        }
        if (m->precision) {
            opt(s, "--precision", "%s", m->precision);
        }
        opt(s, "--threads", "%ld", c->threads);
        char out[300];
        snprintf(out, sizeof out, "eval/%s-%s.json", m->name, label);
        opt(s, "--out", "%s", output(c, s, "accuracy", out, false));
        double images = m->eval_images ? (double)m->eval_images : 10000;
        if (a) {
            double macs = ncmp_arch_forward_macs(a, 0) +
                          m->iterations * (ncmp_arch_forward_macs(a, 0) + ncmp_arch_feedback_macs(a));
            double attack = !strcmp(spec, "clean") ? 1 : strncmp(spec, "pgd", 3) ? 4 : 22;
            s->seconds = images * macs * attack / ENGINE_MACS_PER_S;
            s->memory_bytes = 8.0 * 100 * all_activations(a) * 3;
        }
        s->disk_bytes = 4096;
        snprintf(s->what, sizeof s->what, "accuracy of %s at iterations 0..%ld, %s", m->name, m->iterations, spec);
    }
}

static void plan_export(const study_config *c, study_plan *p, const study_model *m, const char *weights_rel,
                        const char *weights_abs, const ncmp_arch *a, size_t n_stimuli)
{
    study_step *s = new_step(p, "export", m->name, NULL);
    snprintf(s->model, sizeof s->model, "%s", m->name);
    arg(s, "export");
    if (weights_rel) {
        opt(s, "--weights", "%s", weights_rel);
        input(s, "weights", weights_abs);
    } else {
        opt(s, "--seed", "%ld", m->seed);
    }
    if (m->arch) {
        opt(s, "--arch", "%s", m->arch);
    }
    if (m->width) {
        opt(s, "--width", "%.17g", m->width);
    }
    if (m->input_size) {
        opt(s, "--input-size", "%ld", m->input_size);
    }
    if (m->channels) {
        opt(s, "--channels", "%ld", m->channels);
    }
    if (m->classes) {
        opt(s, "--classes", "%ld", m->classes);
    }
    if (m->update_layer) {
        opt(s, "--update-layer", "%s", m->update_layer);
    }
    char *stim = rel(c, c->stimuli);
    opt(s, "--stimuli", "%s", stim ? stim : c->stimuli);
    free(stim);
    input(s, "stimuli", c->stimuli);
    opt(s, "--iterations", "%ld", m->iterations);
    opt(s, "--layers", "%s", m->layers ? m->layers : "all");
    if (m->precision) {
        opt(s, "--precision", "%s", m->precision);
    }
    if (m->center_crop)
        arg(s, "--center-crop");
    opt(s, "--batch", "%ld", m->batch);
    opt(s, "--threads", "%ld", c->threads);
    char out[300];
    snprintf(out, sizeof out, "activations/%s.h5", m->name);
    opt(s, "--out", "%s", output(c, s, "activations", out, false));
    s->resumable = true;
    if (a) {
        double T = (double)m->iterations;
        double macs = ncmp_arch_forward_macs(a, 0) +
                      T * (ncmp_arch_forward_macs(a, a->cnnf ? a->update_layer : 0) + ncmp_arch_feedback_macs(a));
        int dbl = m->precision ? !strcmp(m->precision, "double") : m->iterations >= 1;
        s->seconds = 1 + (double)n_stimuli * macs / (ENGINE_MACS_PER_S * (dbl ? 1 : 2));
        s->disk_bytes = 4.0 * (double)n_stimuli * (T + 1) * exported_features(a, m->layers);
        s->memory_bytes = (dbl ? 8.0 : 4.0) * (double)m->batch * all_activations(a) * 3;
    }
    snprintf(s->what, sizeof s->what, "%zu stimuli through %s, iterations 0..%ld", n_stimuli, m->name, m->iterations);
}

static void plan_recordings(const study_config *c, study_plan *p, const study_recordings *r)
{
    char out[300];
    snprintf(out, sizeof out, "recordings/%s.nc", r->name);
    if (r->responses) {
        study_step *s = new_step(p, "import", r->name, NULL);
        const char *ids = r->stimulus_ids ? r->stimulus_ids : c->stimuli;
        char *rr = rel(c, r->responses), *ri = rel(c, ids);
        arg(s, "neural");
        arg(s, "import");
        opt(s, "--npy", "%s", rr ? rr : r->responses);
        opt(s, "--stimuli", "%s", ri ? ri : ids);
        free(rr);
        free(ri);
        input(s, "responses", r->responses);
        input(s, "stimulus_ids", ids);
        opt(s, "--region", "%s", r->region);
        if (r->bin_starts) {
            opt(s, "--bin-starts", "%s", r->bin_starts);
            opt(s, "--bin-size", "%.17g", r->bin_size);
        }
        arg(s, "--force");
        opt(s, "--out", "%s", output(c, s, "recordings", out, false));
        s->seconds = 2;
        snprintf(s->what, sizeof s->what, "import %s as a BrainIO assembly", r->name);
    } else if (r->simulate_model) {
        study_step *s = new_step(p, "simulate", r->name, NULL);
        char src[300];
        snprintf(src, sizeof src, "export.%s", r->simulate_model);
        const study_step *e = find_step(p, src);
        const study_file *acts = e ? study_step_output(e, "activations") : NULL;
        arg(s, "simulate-neural");
        opt(s, "--activations", "activations/%s.h5", r->simulate_model);
        if (acts)
            input(s, "activations", acts->path);
        opt(s, "--bins", "%s", r->simulate_bins);
        opt(s, "--neuroids", "%ld", r->neuroids);
        opt(s, "--repetitions", "%ld", r->repetitions);
        opt(s, "--snr", "%.17g", r->snr);
        opt(s, "--seed", "%ld", r->seed);
        opt(s, "--start-ms", "%.17g", r->start_ms);
        opt(s, "--bin-ms", "%.17g", r->bin_ms);
        opt(s, "--region", "%s", r->region ? r->region : r->name);
        arg(s, "--force");
        opt(s, "--out", "%s", output(c, s, "recordings", out, false));
        s->cheap = false;
        s->seconds = 3;
        snprintf(s->what, sizeof s->what, "simulate %s from %s (%s)", r->name, r->simulate_model, r->simulate_bins);
    }
}

/* The recordings file a step reads: imported/simulated into the output folder, or the given assembly. */
static void recordings_arg(const study_config *c, study_step *s, const study_recordings *r)
{
    arg(s, "--neural");
    if (r->assembly) {
        char *ra = rel(c, r->assembly);
        arg(s, "%s", ra ? ra : r->assembly);
        free(ra);
        input(s, "neural", r->assembly);
    } else {
        arg(s, "recordings/%s.nc", r->name);
        size_t n = strlen(c->out) + strlen(r->name) + 32;
        char *abs = malloc(n);
        if (abs)
            snprintf(abs, n, "%s/recordings/%s.nc", c->out, r->name);
        add_file(s->inputs, &s->n_inputs, "neural", abs, false);
    }
    /* simulated recordings carry their region (the section's region, else its name) */
    if (r->region || r->simulate_model) {
        opt(s, "--region", "%s", r->region ? r->region : r->name);
    }
}

static void activations_input(const study_config *c, study_step *s, const char *flag, const char *role,
                              const char *model)
{
    arg(s, "%s", flag);
    arg(s, "activations/%s.h5", model);
    size_t n = strlen(c->out) + strlen(model) + 32;
    char *abs = malloc(n);
    if (abs)
        snprintf(abs, n, "%s/activations/%s.h5", c->out, model);
    add_file(s->inputs, &s->n_inputs, role, abs, false);
}

static void plan_ceiling(const study_config *c, study_plan *p, const study_recordings *r, size_t n_stimuli)
{
    study_step *s = new_step(p, "ceiling", r->name, NULL);
    snprintf(s->recordings, sizeof s->recordings, "%s", r->name);
    arg(s, "ceiling");
    recordings_arg(c, s, r);
    if (c->time_window) {
        opt(s, "--time-window", "%s", c->time_window);
    }
    opt(s, "--splits", "%ld", c->ceiling_splits);
    arg(s, "--force");
    char out[300];
    snprintf(out, sizeof out, "ceiling/%s.json", r->name);
    opt(s, "--out", "%s", output(c, s, "ceiling", out, false));
    s->cheap = true;
    s->seconds = 1 + 1e-4 * (double)n_stimuli;
    snprintf(s->what, sizeof s->what, "split-half noise ceiling of %s", r->name);
}

/* One score step per metric: "score.MODEL.RECORDINGS", or "score.MODEL.RECORDINGS.METRIC" when the study
 * lists several metrics (its outputs then end in -METRIC too). */
static void plan_score(const study_config *c, study_plan *p, const study_model *m, const study_recordings *r,
                       const char *metric, const ncmp_arch *a, size_t n_stimuli)
{
    char name[300];
    if (c->n_metrics > 1)
        snprintf(name, sizeof name, "%s.%s", r->name, metric);
    else
        snprintf(name, sizeof name, "%s", r->name);
    study_step *s = new_step(p, "score", m->name, name);
    snprintf(s->model, sizeof s->model, "%s", m->name);
    snprintf(s->recordings, sizeof s->recordings, "%s", r->name);
    snprintf(s->metric, sizeof s->metric, "%s", metric);
    arg(s, "score");
    activations_input(c, s, "--activations", "activations", m->name);
    recordings_arg(c, s, r);
    opt(s, "--layer", "%s", c->score_layers ? c->score_layers : "all");
    opt(s, "--iteration", "%s", c->score_iterations ? c->score_iterations : "all");
    opt(s, "--metric", "%s", metric);
    opt(s, "--normalization", "%s", c->normalization ? c->normalization : "ev");
    if (c->time_window) {
        opt(s, "--time-window", "%s", c->time_window);
    }
    opt(s, "--components", "%ld", c->components);
    arg(s, "--force");
    char base[300], buf[320];
    if (c->n_metrics > 1)
        snprintf(base, sizeof base, "scores/%s-%s-%s", m->name, r->name, metric);
    else
        snprintf(base, sizeof base, "scores/%s-%s", m->name, r->name);
    snprintf(buf, sizeof buf, "%s.json", base);
    opt(s, "--out", "%s", output(c, s, "scores", buf, false));
    snprintf(buf, sizeof buf, "%s.csv", base);
    opt(s, "--table", "%s", output(c, s, "table", buf, false));
    opt(s, "--report", "%s", output(c, s, "report", base, true));
    s->cheap = true;
    double n = (double)n_stimuli;
    if (a) {
        double T1 = (double)m->iterations + 1;
        double features =
            exported_features(a, c->score_layers && strcmp(c->score_layers, "all") ? c->score_layers : m->layers);
        s->seconds = 1 + T1 * (n * n * features / GRAM_FLOPS_PER_S + 0.3 * 10);
    }
    s->memory_bytes = 8 * n * n * 2 + 256e6;
    s->disk_bytes = 2e5;
    snprintf(s->what, sizeof s->what, "score every layer x iteration of %s on %s (%s)", m->name, r->name, metric);
}

static void plan_temporal(const study_config *c, study_plan *p, size_t n_stimuli)
{
    const study_model *m = study_config_model(c, c->temporal_model);
    const study_recordings *r = study_config_recordings(c, c->temporal_recordings);
    study_step *s = new_step(p, "temporal", m->name, r->name);
    snprintf(s->model, sizeof s->model, "%s", m->name);
    snprintf(s->recordings, sizeof s->recordings, "%s", r->name);
    arg(s, "temporal");
    activations_input(c, s, "--activations", "activations", m->name);
    recordings_arg(c, s, r);
    opt(s, "--layer", "%s", c->temporal_layer);
    if (c->temporal_bins) {
        opt(s, "--bins", "%s", c->temporal_bins);
    }
    if (c->temporal_mode) {
        opt(s, "--mode", "%s", c->temporal_mode);
    }
    if (c->temporal_map) {
        opt(s, "--map", "%s", c->temporal_map);
    }
    if (c->temporal_iterations) {
        opt(s, "--iterations", "%s", c->temporal_iterations);
    }
    opt(s, "--normalization", "%s", c->normalization ? c->normalization : "ev");
    arg(s, "--force");
    char out[300];
    snprintf(out, sizeof out, "temporal/%s-%s", m->name, r->name);
    opt(s, "--out", "%s", output(c, s, "temporal", out, true));
    s->cheap = true;
    s->seconds = 2 + 0.002 * (double)n_stimuli * (double)(m->iterations + 1);
    s->memory_bytes = 8.0 * (double)n_stimuli * (double)n_stimuli * 3 + 256e6;
    s->disk_bytes = 1e6;
    snprintf(s->what, sizeof s->what, "iteration x time-bin matrix of %s %s on %s", m->name, c->temporal_layer,
             r->name);
}

/* "MODEL:LAYER@I" */
static ncmp_status parse_side(const study_config *c, const char *text, char *model, char *layer, long *iteration,
                              ncmp_error *err)
{
    const char *colon = strchr(text, ':'), *at = strrchr(text, '@');
    if (!colon || !at || at < colon || colon == text || at == colon + 1)
        return ncmp_fail(err, NCMP_ERR_USAGE, "%s: [compare] '%s' is not MODEL:LAYER@ITERATION", c->path, text);
    snprintf(model, 128, "%.*s", (int)(colon - text), text);
    snprintf(layer, 128, "%.*s", (int)(at - colon - 1), colon + 1);
    char *end;
    *iteration = strtol(at + 1, &end, 10);
    if (end == at + 1 || *end || *iteration < 0)
        return ncmp_fail(err, NCMP_ERR_USAGE, "%s: [compare] '%s' has no iteration after '@'", c->path, text);
    const study_model *m = study_config_model(c, model);
    if (!m)
        return ncmp_fail(err, NCMP_ERR_USAGE, "%s: [compare] '%s' names an unknown model '%s'", c->path, text, model);
    if (*iteration > m->iterations)
        return ncmp_fail(err, NCMP_ERR_USAGE, "%s: [compare] '%s': model %s exports iterations 0..%ld", c->path, text,
                         model, m->iterations);
    return NCMP_OK;
}

static ncmp_status plan_compare(const study_config *c, study_plan *p, size_t k, ncmp_error *err)
{
    const char *pair = c->compare_pairs[k];
    const char *vs = strstr(pair, " vs ");
    char left[256], ma[128], la[128], mb[128], lb[128];
    long ia, ib;
    snprintf(left, sizeof left, "%.*s", (int)(vs - pair), pair);
    const char *right = vs + 4;
    while (*right == ' ')
        right++;
    ncmp_status st;
    if ((st = parse_side(c, left, ma, la, &ia, err)) || (st = parse_side(c, right, mb, lb, &ib, err)))
        return st;
    const study_recordings *r = study_config_recordings(c, c->compare_recordings);
    char label[600];
    snprintf(label, sizeof label, "%s-%s-%ld_vs_%s-%s-%ld", ma, la, ia, mb, lb, ib);
    study_step *s = new_step(p, "compare", label, NULL);
    if (snprintf(s->model, sizeof s->model, "%s vs %s", left, right) >= (int)sizeof s->model)
        s->model[sizeof s->model - 1] = '\0';
    snprintf(s->recordings, sizeof s->recordings, "%s", r->name);
    arg(s, "compare");
    activations_input(c, s, "--activations", "a", ma);
    if (strcmp(ma, mb))
        activations_input(c, s, "--activations-b", "b", mb);
    opt(s, "--layer", "%s", la);
    opt(s, "--layer-b", "%s", lb);
    opt(s, "--iterations", "%ld,%ld", ia, ib);
    recordings_arg(c, s, r);
    /* compare regresses: the study's first metric when it is a regression, else PLS */
    const char *metric = strcmp(c->metrics[0], "rsa") && strcmp(c->metrics[0], "cka") ? c->metrics[0] : "pls";
    snprintf(s->metric, sizeof s->metric, "%s", metric);
    opt(s, "--metric", "%s", metric);
    opt(s, "--normalization", "%s", c->normalization ? c->normalization : "ev");
    if (c->time_window) {
        opt(s, "--time-window", "%s", c->time_window);
    }
    opt(s, "--bootstrap", "%ld", c->bootstrap);
    opt(s, "--permutations", "%ld", c->permutations);
    opt(s, "--seed", "%ld", c->compare_seed);
    arg(s, "--force");
    char out[700];
    snprintf(out, sizeof out, "compare/%s.json", label);
    opt(s, "--out", "%s", output(c, s, "comparison", out, false));
    s->cheap = true;
    s->seconds = 5;
    s->disk_bytes = 1e5;
    snprintf(s->what, sizeof s->what, "%s vs %s on %s (bootstrap %ld, permutations %ld)", left, right, r->name,
             c->bootstrap, c->permutations);
    return NCMP_OK;
}

/* Recordings the [score] section scores: those it names, else every recording that is not simulated. */
static bool recordings_in_score(const study_config *c, const study_recordings *r)
{
    if (!c->score)
        return false;
    if (!c->n_score_recordings)
        return !r->simulate_model;
    for (size_t i = 0; i < c->n_score_recordings; i++)
        if (!strcmp(c->score_recordings[i], r->name))
            return true;
    return false;
}

/* Scored or compared recordings get a ceiling step. */
static bool recordings_scored(const study_config *c, const study_recordings *r)
{
    return recordings_in_score(c, r) || (c->compare_recordings && !strcmp(c->compare_recordings, r->name));
}

static bool model_scored(const study_config *c, const study_model *m)
{
    if (!c->n_score_models)
        return true;
    for (size_t i = 0; i < c->n_score_models; i++)
        if (!strcmp(c->score_models[i], m->name))
            return true;
    return false;
}

ncmp_status study_plan_make(const study_config *c, study_plan **out, ncmp_error *err)
{
    *out = NULL;
    study_plan *p = calloc(1, sizeof *p);
    size_t cap = 4 * c->n_models + c->n_models * STUDY_MAX_LIST + 3 * c->n_recordings +
                 c->n_models * c->n_recordings * c->n_metrics + c->n_compare_pairs + 4;
    if (!p || !(p->steps = calloc(cap, sizeof *p->steps))) {
        free(p);
        return nomem(err);
    }
    size_t n_stimuli = 0;
    if (c->stimuli) {
        ncmp_stimulus_set *set = NULL;
        ncmp_status st = ncmp_stimuli_open(c->stimuli, &set, err);
        if (st) {
            study_plan_free(p);
            return ncmp_error_context(err, "%s: [stimuli] path", c->path);
        }
        n_stimuli = ncmp_stimuli_count(set);
        ncmp_stimuli_close(set);
    }
    ncmp_arch *archs[STUDY_MAX_MODELS] = {NULL};
    for (size_t i = 0; i < c->n_models; i++)
        archs[i] = model_arch(&c->models[i]);
    /* train, then evaluate and export each model */
    for (size_t i = 0; i < c->n_models; i++) {
        const study_model *m = &c->models[i];
        char *wrel = NULL, *wabs = NULL;
        if (m->train) {
            plan_train(c, p, m, archs[i]);
            wabs = strdup(study_step_output(&p->steps[p->n_steps - 1], "weights")->path);
            wrel = rel(c, wabs);
        } else if (m->weights) {
            wabs = strdup(m->weights);
            wrel = rel(c, m->weights);
        }
        if (m->n_evaluate)
            plan_eval(c, p, m, wrel, wabs, archs[i]);
        if (c->stimuli)
            plan_export(c, p, m, wrel, wabs, archs[i], n_stimuli);
        free(wrel);
        free(wabs);
    }
    for (size_t i = 0; i < c->n_recordings; i++)
        plan_recordings(c, p, &c->recordings[i]);
    for (size_t i = 0; i < c->n_recordings; i++)
        if (recordings_scored(c, &c->recordings[i]))
            plan_ceiling(c, p, &c->recordings[i], n_stimuli);
    if (c->score)
        for (size_t i = 0; i < c->n_models; i++)
            for (size_t j = 0; j < c->n_recordings; j++)
                for (size_t k = 0; k < c->n_metrics; k++)
                    if (model_scored(c, &c->models[i]) && recordings_in_score(c, &c->recordings[j]))
                        plan_score(c, p, &c->models[i], &c->recordings[j], c->metrics[k], archs[i], n_stimuli);
    if (c->temporal)
        plan_temporal(c, p, n_stimuli);
    ncmp_status st = NCMP_OK;
    for (size_t k = 0; k < c->n_compare_pairs && !st; k++)
        st = plan_compare(c, p, k, err);
    for (size_t i = 0; i < c->n_models; i++)
        ncmp_arch_free(archs[i]);
    for (size_t i = 0; i < p->n_steps && !st; i++) {
        study_step *s = &p->steps[i];
        if (s->argc >= STUDY_MAX_ARGS - 1 || s->n_inputs >= STUDY_MAX_FILES || s->n_outputs >= STUDY_MAX_FILES)
            st = ncmp_fail(err, NCMP_ERR_USAGE, "step %s has too many options or files", s->name);
        for (size_t a = 0; a < s->argc && !st; a++)
            if (!s->argv[a])
                st = nomem(err);
        for (size_t j = i + 1; j < p->n_steps && !st; j++)
            if (!strcmp(s->name, p->steps[j].name))
                st = ncmp_fail(err, NCMP_ERR_USAGE, "%s: two steps would both be called '%s'", c->path, s->name);
    }
    if (st) {
        study_plan_free(p);
        return st;
    }
    *out = p;
    return NCMP_OK;
}

void study_plan_free(study_plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_steps; i++) {
        study_step *s = &p->steps[i];
        for (size_t a = 0; a < s->argc; a++)
            free(s->argv[a]);
        for (size_t k = 0; k < s->n_inputs; k++)
            free(s->inputs[k].path);
        for (size_t k = 0; k < s->n_outputs; k++)
            free(s->outputs[k].path);
    }
    free(p->steps);
    free(p);
}
