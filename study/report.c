/* The study's results table and report (docs/reproducibility.md, "Outputs"). */
#include "study/report.h"
#include "core/atomic.h"
#include "core/paths.h"
#include "core/version.h"
#include "results/doc.h"
#include "results/manifest.h"
#include "study/results.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fmt(char *buf, size_t size, double v, int digits)
{
    if (isnan(v))
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, "%.*f", digits, v);
}

/* The row with these fields (NULL: any), or NULL. */
static const study_row *find_metric(const study_table *t, const char *kind, const char *model, const char *layer,
                                    long long iteration, const char *recordings, const char *metric,
                                    const char *quantity)
{
    for (size_t i = 0; i < t->n; i++) {
        const study_row *r = &t->rows[i];
        if (!strcmp(r->kind, kind) && (!model || !strcmp(r->model, model)) && (!layer || !strcmp(r->layer, layer)) &&
            r->iteration == iteration && (!recordings || !strcmp(r->recordings, recordings)) &&
            (!metric || !strcmp(r->metric, metric)) && !strcmp(r->quantity, quantity))
            return r;
    }
    return NULL;
}

static const study_row *find(const study_table *t, const char *kind, const char *model, const char *layer,
                             long long iteration, const char *recordings, const char *quantity)
{
    return find_metric(t, kind, model, layer, iteration, recordings, NULL, quantity);
}

/* Distinct values of a string field among rows of one kind/model/recordings, in order of appearance. */
static size_t distinct_layers(const study_table *t, const char *model, const char *recordings, const char **out,
                              size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n && n < max; i++) {
        const study_row *r = &t->rows[i];
        if (strcmp(r->kind, "score") || strcmp(r->model, model) || strcmp(r->recordings, recordings))
            continue;
        size_t k = 0;
        while (k < n && strcmp(out[k], r->layer))
            k++;
        if (k == n)
            out[n++] = r->layer;
    }
    return n;
}

static long long max_iteration(const study_table *t, const char *kind, const char *model)
{
    long long m = -1;
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->rows[i].kind, kind) && !strcmp(t->rows[i].model, model) && t->rows[i].iteration > m)
            m = t->rows[i].iteration;
    return m;
}

static void eval_section(const ncmp_doc *d, const study_config *c, const study_table *t)
{
    bool any = false;
    for (size_t i = 0; i < t->n && !any; i++)
        any = !strcmp(t->rows[i].kind, "eval");
    if (!any)
        return;
    ncmp_doc_heading(d, 2, "Accuracy at every iteration");
    ncmp_doc_para_begin(d);
    ncmp_doc_text(d, "Fraction of the test images classified correctly after each feedback iteration (clean, and "
                     "on adversarial images where the study asks for attacks; neurocmp eval).");
    ncmp_doc_para_end(d);
    ncmp_doc_table_begin(d);
    char head[16][32];
    const char *cells[16];
    long long T = -1;
    for (size_t i = 0; i < c->n_models; i++)
        if (max_iteration(t, "eval", c->models[i].name) > T)
            T = max_iteration(t, "eval", c->models[i].name);
    if (T > 12)
        T = 12;
    cells[0] = "model";
    cells[1] = "measure";
    for (long long k = 0; k <= T; k++) {
        snprintf(head[k], sizeof head[k], "t%lld", k);
        cells[2 + k] = head[k];
    }
    ncmp_doc_table_row(d, cells, (size_t)(T + 3), true);
    for (size_t i = 0; i < t->n; i++) {
        const study_row *r = &t->rows[i];
        if (strcmp(r->kind, "eval") || r->iteration != 0)
            continue;
        char vals[16][32];
        cells[0] = r->model;
        cells[1] = r->quantity;
        for (long long k = 0; k <= T; k++) {
            const study_row *x = find(t, "eval", r->model, NULL, k, NULL, r->quantity);
            fmt(vals[k], sizeof vals[k], x ? 100 * x->value : NAN, 2);
            cells[2 + k] = vals[k];
        }
        ncmp_doc_table_row(d, cells, (size_t)(T + 3), false);
    }
    ncmp_doc_table_end(d);
}

static void ceiling_section(const ncmp_doc *d, const study_table *t)
{
    bool any = false;
    for (size_t i = 0; i < t->n && !any; i++)
        any = !strcmp(t->rows[i].kind, "ceiling");
    if (!any)
        return;
    ncmp_doc_heading(d, 2, "Noise ceilings");
    ncmp_doc_para_begin(d);
    ncmp_doc_text(d, "Split-half consistency of the recordings across repetitions (Spearman-Brown corrected; "
                     "neurocmp ceiling): how well the neurons predict themselves. Ceiled scores divide by it.");
    ncmp_doc_para_end(d);
    ncmp_doc_table_begin(d);
    const char *head[] = {"recordings", "region", "ceiling", "error"};
    ncmp_doc_table_row(d, head, 4, true);
    for (size_t i = 0; i < t->n; i++) {
        const study_row *r = &t->rows[i];
        if (strcmp(r->kind, "ceiling"))
            continue;
        char v[32], e[32];
        fmt(v, sizeof v, r->value, 4);
        fmt(e, sizeof e, r->error, 4);
        const char *cells[] = {r->recordings, r->region[0] ? r->region : "all", v, e};
        ncmp_doc_table_row(d, cells, 4, false);
    }
    ncmp_doc_table_end(d);
}

/* The heatmap files a score report folder holds ("heatmap_V4"), for figures. */
static void score_figures(const ncmp_doc *d, const char *dir, const char *rel_dir, const char *caption)
{
    DIR *dd = opendir(dir);
    if (!dd)
        return;
    struct dirent *e;
    while ((e = readdir(dd))) {
        size_t n = strlen(e->d_name);
        if (strncmp(e->d_name, "heatmap", 7) || n < 5 || strcmp(e->d_name + n - 4, ".svg"))
            continue;
        char name[1024];
        snprintf(name, sizeof name, "%s/%.*s", rel_dir, (int)(n - 4), e->d_name);
        ncmp_doc_figure(d, name, caption);
    }
    closedir(dd);
}

static void score_section(const ncmp_doc *d, const study_config *c, const study_plan *p, const study_table *t)
{
    bool heading = false;
    for (size_t i = 0; i < p->n_steps; i++) {
        const study_step *s = &p->steps[i];
        if (strcmp(s->kind, "score"))
            continue;
        const char *model = s->model, *recordings = s->recordings;
        if (!heading) {
            ncmp_doc_heading(d, 2, "Predictivity of every layer at every iteration");
            ncmp_doc_para_begin(d);
            ncmp_doc_text(d, "Ceiled scores (docs/scoring.md): PLS regression from a layer's activations to the "
                             "neuroids, cross-validated Pearson r, median over neuroids, mean over splits, "
                             "normalised by the ceiling (");
            ncmp_doc_text(d, c->normalization ? c->normalization : "ev");
            ncmp_doc_text(d, "). The error is the standard error over splits. (RSA and CKA: the metric's similarity in "
                             "place of Pearson r, without regression.)");
            ncmp_doc_para_end(d);
            heading = true;
        }
        char title[300];
        if (c->n_metrics > 1)
            snprintf(title, sizeof title, "%s on %s (%s)", model, recordings, s->metric);
        else
            snprintf(title, sizeof title, "%s on %s", model, recordings);
        ncmp_doc_heading(d, 3, title);
        const char *layers[64];
        size_t n_layers = distinct_layers(t, model, recordings, layers, 64);
        long long T = -1;
        for (size_t r = 0; r < t->n; r++)
            if (!strcmp(t->rows[r].kind, "score") && !strcmp(t->rows[r].model, model) &&
                !strcmp(t->rows[r].recordings, recordings) && t->rows[r].iteration > T)
                T = t->rows[r].iteration;
        if (T > 12)
            T = 12;
        char head[16][32];
        const char *cells[16];
        cells[0] = "layer";
        for (long long k = 0; k <= T; k++) {
            snprintf(head[k], sizeof head[k], "t%lld", k);
            cells[1 + k] = head[k];
        }
        ncmp_doc_table_begin(d);
        ncmp_doc_table_row(d, cells, (size_t)(T + 2), true);
        for (size_t l = 0; l < n_layers; l++) {
            char vals[16][48];
            cells[0] = layers[l];
            for (long long k = 0; k <= T; k++) {
                const study_row *x = find_metric(t, "score", model, layers[l], k, recordings, s->metric, "ceiled");
                if (x && !isnan(x->error))
                    snprintf(vals[k], sizeof vals[k], "%.3f ± %.3f", x->value, x->error);
                else
                    fmt(vals[k], sizeof vals[k], x ? x->value : NAN, 3);
                cells[1 + k] = vals[k];
            }
            ncmp_doc_table_row(d, cells, (size_t)(T + 2), false);
        }
        ncmp_doc_table_end(d);
        const study_file *rep = study_step_output(s, "report");
        const char *base = rep ? strrchr(rep->path, '/') : NULL;
        char rel_dir[400];
        snprintf(rel_dir, sizeof rel_dir, "../scores/%s", base ? base + 1 : "");
        if (rep)
            score_figures(d, rep->path, rel_dir, title);
    }
}

static void compare_section(const ncmp_doc *d, const study_table *t)
{
    bool any = false;
    for (size_t i = 0; i < t->n && !any; i++)
        any = !strcmp(t->rows[i].kind, "compare");
    if (!any)
        return;
    ncmp_doc_heading(d, 2, "Paired comparisons");
    ncmp_doc_para_begin(d);
    ncmp_doc_text(d, "Raw scores of A and B on the same splits and neuroids (neurocmp compare): the difference "
                     "A - B with half the width of its bootstrap interval, the ceiled difference, and the "
                     "permutation p-value of the paired predictions.");
    ncmp_doc_para_end(d);
    ncmp_doc_table_begin(d);
    const char *head[] = {"A vs B", "raw A", "raw B", "A - B", "± (CI half-width)", "ceiled A - B", "p"};
    ncmp_doc_table_row(d, head, 7, true);
    for (size_t i = 0; i < t->n; i++) {
        const study_row *r = &t->rows[i];
        if (strcmp(r->kind, "compare") || strcmp(r->quantity, "score_a"))
            continue;
        const char *q[] = {"score_a", "score_b", "difference", "difference", "ceiled_difference", "p_permutation"};
        char v[6][32];
        const char *cells[7] = {r->model};
        for (int k = 0; k < 6; k++) {
            const study_row *x = find(t, "compare", r->model, NULL, -1, NULL, q[k]);
            fmt(v[k], sizeof v[k], x ? (k == 3 ? x->error : x->value) : NAN, k == 5 ? 4 : 4);
            cells[1 + k] = v[k];
        }
        ncmp_doc_table_row(d, cells, 7, false);
    }
    ncmp_doc_table_end(d);
}

static void temporal_section(const ncmp_doc *d, const study_plan *p, const study_table *t)
{
    for (size_t i = 0; i < p->n_steps; i++) {
        const study_step *s = &p->steps[i];
        if (strcmp(s->kind, "temporal"))
            continue;
        ncmp_doc_heading(d, 2, "Model iterations across neural time");
        ncmp_doc_para_begin(d);
        ncmp_doc_text(d, "Ceiled predictivity of each model iteration for each time bin of the recordings "
                         "(neurocmp temporal), and the iteration that predicts each bin best.");
        ncmp_doc_para_end(d);
        const study_file *o = study_step_output(s, "temporal");
        const char *base = strrchr(o->path, '/');
        char name[400];
        snprintf(name, sizeof name, "../temporal/%s/heatmap", base ? base + 1 : o->path);
        ncmp_doc_figure(d, name, "Iteration x time bin, ceiled");
        ncmp_doc_table_begin(d);
        const char *head[] = {"bin (ms)", "best iteration"};
        ncmp_doc_table_row(d, head, 2, true);
        for (size_t r = 0; r < t->n; r++) {
            const study_row *x = &t->rows[r];
            if (strcmp(x->kind, "temporal") || strcmp(x->quantity, "best_iteration"))
                continue;
            char v[32];
            fmt(v, sizeof v, x->value, 0);
            const char *cells[] = {x->bin, v};
            ncmp_doc_table_row(d, cells, 2, false);
        }
        ncmp_doc_table_end(d);
    }
}

static void provenance_section(const ncmp_doc *d, const study_config *c, const study_plan *p)
{
    ncmp_doc_heading(d, 2, "How these outputs were made");
    char line[1200];
    ncmp_doc_para_begin(d);
    snprintf(line, sizeof line,
             "neurocmp %s (%s) ran the study file %s (sha256 %s). 'neurocmp verify %s' checks that every output "
             "still follows from its inputs; 'neurocmp study --config %s' reruns only what changed.",
             NCMP_VERSION, NCMP_GIT_REVISION, c->path, c->sha256, c->out, c->path);
    ncmp_doc_text(d, line);
    ncmp_doc_para_end(d);
    char mpath[4200];
    snprintf(mpath, sizeof mpath, "%s/manifest.json", c->out);
    ncmp_manifest *m = NULL;
    if (ncmp_manifest_read(mpath, &m, NULL))
        m = NULL;
    ncmp_doc_table_begin(d);
    const char *head[] = {"step", "what", "seconds"};
    ncmp_doc_table_row(d, head, 3, true);
    for (size_t i = 0; i < p->n_steps; i++) {
        const study_step *s = &p->steps[i];
        if (s->local)
            continue;
        ncmp_manifest_step *ms = m ? ncmp_manifest_find(m, s->name) : NULL;
        char sec[32];
        fmt(sec, sizeof sec, ms ? ms->seconds : NAN, 1);
        const char *cells[] = {s->name, s->what, sec};
        ncmp_doc_table_row(d, cells, 3, false);
    }
    ncmp_doc_table_end(d);
    ncmp_manifest_free(m);
    ncmp_doc_heading(d, 3, "The study file");
    ncmp_doc_code_block(d, c->text);
}

static ncmp_status write_page(const study_config *c, const study_plan *p, const study_table *t, const char *path,
                              bool html, ncmp_error *err)
{
    ncmp_atomic_file af;
    ncmp_status st = ncmp_atomic_begin(&af, path, true, err);
    if (st)
        return st;
    ncmp_doc d = {af.stream, html};
    ncmp_doc_begin(&d, c->title ? c->title : c->name);
    if (c->description) {
        ncmp_doc_para_begin(&d);
        ncmp_doc_text(&d, c->description);
        ncmp_doc_para_end(&d);
    }
    ncmp_doc_para_begin(&d);
    ncmp_doc_text(&d, "Every number below is also in ../results.csv (one row per number).");
    ncmp_doc_para_end(&d);
    eval_section(&d, c, t);
    ceiling_section(&d, t);
    score_section(&d, c, p, t);
    compare_section(&d, t);
    temporal_section(&d, p, t);
    provenance_section(&d, c, p);
    ncmp_doc_end(&d);
    return ncmp_atomic_commit(&af, err);
}

ncmp_status study_write_results(const study_config *c, const study_plan *p, ncmp_error *err)
{
    study_table *t = NULL;
    ncmp_status st = study_results_collect(c, p, &t, err);
    if (st)
        return st;
    char path[4400], dir[4200];
    snprintf(path, sizeof path, "%s/results.csv", c->out);
    snprintf(dir, sizeof dir, "%s/report", c->out);
    if (!(st = study_results_write_csv(t, path, err)) && !(st = ncmp_make_directories(dir, err))) {
        snprintf(path, sizeof path, "%s/index.html", dir);
        if (!(st = write_page(c, p, t, path, true, err))) {
            snprintf(path, sizeof path, "%s/report.md", dir);
            st = write_page(c, p, t, path, false, err);
        }
    }
    study_table_free(t);
    return st;
}

ncmp_status study_plan_add_results(const study_config *c, study_plan *p, ncmp_error *err)
{
    study_step *s = &p->steps[p->n_steps];
    memset(s, 0, sizeof *s);
    s->kind = "results";
    snprintf(s->name, sizeof s->name, "results");
    s->local = study_write_results;
    char *cfg = ncmp_manifest_relative_path(c->out, c->path);
    const char *argv[] = {"neurocmp", "study", "--config", cfg ? cfg : c->path, "--results-only"};
    for (size_t a = 0; a < 5; a++)
        s->argv[s->argc++] = strdup(argv[a]);
    free(cfg);
    for (size_t i = 0; i < p->n_steps; i++) {
        const study_step *x = &p->steps[i];
        const char *role = !strcmp(x->kind, "eval")      ? "accuracy"
                           : !strcmp(x->kind, "ceiling") ? "ceiling"
                           : !strcmp(x->kind, "score")   ? "scores"
                           : !strcmp(x->kind, "compare") ? "comparison"
                                                         : NULL;
        char buf[4200];
        const char *path = NULL;
        if (role)
            path = study_step_output(x, role)->path;
        else if (!strcmp(x->kind, "temporal")) {
            snprintf(buf, sizeof buf, "%s/temporal.json", study_step_output(x, "temporal")->path);
            path = buf;
        }
        if (!path || s->n_inputs >= STUDY_MAX_FILES)
            continue;
        study_file *f = &s->inputs[s->n_inputs++];
        snprintf(f->role, sizeof f->role, "%s", x->name);
        f->path = strdup(path);
    }
    /* the config itself: the report prints it */
    study_file *f = &s->inputs[s->n_inputs++];
    snprintf(f->role, sizeof f->role, "study_config");
    f->path = strdup(c->path);
    const char *outs[][2] = {{"results", "results.csv"}, {"report", "report"}};
    for (int k = 0; k < 2; k++) {
        study_file *o = &s->outputs[s->n_outputs++];
        snprintf(o->role, sizeof o->role, "%s", outs[k][0]);
        size_t n = strlen(c->out) + 32;
        o->path = malloc(n);
        if (o->path)
            snprintf(o->path, n, "%s/%s", c->out, outs[k][1]);
        o->directory = k == 1;
    }
    snprintf(s->what, sizeof s->what, "results table (results.csv) and report (report/index.html, report.md)");
    p->n_steps++;
    for (size_t i = 0; i < s->n_inputs; i++)
        if (!s->inputs[i].path)
            return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    return NCMP_OK;
}
