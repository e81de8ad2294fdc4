/* Score tables as JSON, CSV/TSV and an offline report (results/score_table_output.h). */
#include "results/score_table_output.h"
#include "results/csv.h"

#include "core/provenance.h"
#include "core/sha256.h"
#include "core/version.h"
#include "results/doc.h"
#include "results/json.h"
#include "results/plot.h"
#include "results/score_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *region_label(const ncmp_score_table_region *r)
{
    return r->name ? r->name : "all";
}

static void write_record(FILE *f, const ncmp_score_table *t, const ncmp_score_cell *c, const char *metric,
                         const char *neural_path)
{
    const ncmp_score_table_region *R = &t->regions[c->region];
    const ncmp_score_inputs *in = R->inputs;
    const char *base = strrchr(neural_path, '/');
    char bench[512];
    snprintf(bench, sizeof bench, "%s:%s-%s", base ? base + 1 : neural_path, region_label(R), metric);
    fputs("    {\"benchmark\": ", f);
    ncmp_json_string(f, bench);
    fputs(", \"metric\": ", f);
    ncmp_json_string(f, metric);
    fputs(", \"layer\": ", f);
    ncmp_json_string(f, t->layers[c->layer]);
    fprintf(f, ", \"iteration\": %lld, \"region\": ", t->iterations[c->iteration]);
    if (R->name)
        ncmp_json_string(f, R->name);
    else
        fputs("null", f);
    fputs(",\n     \"raw\": ", f);
    ncmp_json_number(f, c->score->raw);
    fputs(", \"error\": ", f);
    ncmp_json_number(f, c->score->error);
    fputs(", \"ceiling\": ", f);
    ncmp_json_number(f, in->ceiling);
    fputs(", \"ceiling_error\": ", f);
    ncmp_json_number(f, in->ceiling_error);
    fputs(", \"ceiled\": ", f);
    ncmp_json_number(f, c->ceiled);
    fputs(", \"ceiled_error\": ", f);
    ncmp_json_number(f, c->ceiled_error);
    fputs(", \"normalization\": ", f);
    ncmp_json_string(f, ncmp_normalization_name(t->normalization));
    fprintf(f, ",\n     \"n_stimuli\": %zu, \"n_neuroids\": %zu, \"n_features\": %zu, \"splits\": ", in->n_stimuli,
            in->n_neuroids, t->n_features[c->layer]);
    ncmp_json_string(f, R->splits->description ? R->splits->description : "");
    fprintf(f,
            ", \"n_splits\": %zu, \"n_components\": %d, \"solver\": \"%s\", \"time_window_ms\": ", R->splits->n_splits,
            t->metric == NCMP_METRIC_PLS ? t->n_components : 0, c->solver == NCMP_PLS_KERNEL ? "kernel" : "nipals");
    ncmp_json_window(f, in->window_start_ms, in->window_end_ms);
    fputs(",\n     \"split_medians\": [", f);
    for (size_t s = 0; s < c->score->n_splits; s++) {
        if (s)
            fputs(", ", f);
        ncmp_json_number(f, c->score->split_median[s]);
    }
    fputs("]}", f);
}

ncmp_status ncmp_score_table_write_json(const ncmp_score_table *t, const ncmp_score_table_report *rep, const char *path,
                                        ncmp_error *err)
{
    ncmp_result_inputs inputs;
    ncmp_status st = ncmp_result_inputs_hash(&inputs, rep->activations_path, rep->neural_path, rep->splits_path, err);
    if (st)
        return st;
    ncmp_atomic_file jf;
    if ((st = ncmp_atomic_begin(&jf, path, true, err)))
        return st;
    FILE *f = jf.stream;
    fputs("{\n  \"metric\": ", f);
    ncmp_json_string(f, rep->metric);
    fputs(",\n  \"normalization\": ", f);
    ncmp_json_string(f, ncmp_normalization_name(t->normalization));
    fputs(",\n  \"normalization_formula\": ", f);
    ncmp_json_string(f, ncmp_normalization_formula(t->normalization));
    fprintf(f, ",\n  \"n_layers\": %zu, \"n_iterations\": %zu, \"n_regions\": %zu,\n  \"results\": [\n", t->n_layers,
            t->n_iterations, t->n_regions);
    size_t n = t->n_layers * t->n_iterations * t->n_regions;
    for (size_t k = 0; k < n; k++) {
        if (k)
            fputs(",\n", f);
        write_record(f, t, &t->cells[k], rep->metric, rep->neural_path);
    }
    fprintf(f, "\n  ],\n  \"seed\": %u,\n  \"provenance\": ", (unsigned)t->regions[0].splits->seed);
    ncmp_result_inputs_write(f, &inputs);
    fputs("\n}\n", f);
    return ncmp_atomic_commit(&jf, err);
}

static void csv_number(FILE *f, double x)
{
    if (isnan(x))
        fputs("", f); /* empty: pandas and R read it as missing */
    else
        fprintf(f, "%.17g", x);
}

ncmp_status ncmp_score_table_write_csv(const ncmp_score_table *t, char sep, const char *path, ncmp_error *err)
{
    ncmp_atomic_file tf; /* the atomic text-file writer */
    ncmp_status st = ncmp_atomic_begin(&tf, path, true, err);
    if (st)
        return st;
    FILE *f = tf.stream;
    const char *cols[] = {"layer",   "iteration", "region",    "raw",        "error",
                          "ceiling", "ceiled",    "n_stimuli", "n_neuroids", "normalization"};
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
        if (i)
            fputc(sep, f);
        fputs(cols[i], f);
    }
    fputc('\n', f);
    size_t n = t->n_layers * t->n_iterations * t->n_regions;
    for (size_t k = 0; k < n; k++) {
        const ncmp_score_cell *c = &t->cells[k];
        const ncmp_score_table_region *R = &t->regions[c->region];
        ncmp_csv_field(f, t->layers[c->layer], sep);
        fprintf(f, "%c%lld%c", sep, t->iterations[c->iteration], sep);
        ncmp_csv_field(f, R->name ? R->name : "", sep);
        fputc(sep, f);
        csv_number(f, c->score->raw);
        fputc(sep, f);
        csv_number(f, c->score->error);
        fputc(sep, f);
        csv_number(f, R->inputs->ceiling);
        fputc(sep, f);
        csv_number(f, c->ceiled);
        fprintf(f, "%c%zu%c%zu%c%s\n", sep, R->inputs->n_stimuli, sep, R->inputs->n_neuroids, sep,
                ncmp_normalization_name(t->normalization));
    }
    return ncmp_atomic_commit(&tf, err);
}

/* ---- report ---------------------------------------------------------------- */

static bool region_has_ceiling(const ncmp_score_table *t, size_t r)
{
    return !isnan(t->regions[r].inputs->ceiling);
}

/* The value a region's heatmap and table show: ceiled when there is a ceiling, else raw. */
static double shown(const ncmp_score_table *t, const ncmp_score_cell *c)
{
    return region_has_ceiling(t, c->region) ? c->ceiled : c->score->raw;
}

/* NAME_heatmap_<region>, or heatmap_<region> without a name. */
static void figure_name(const ncmp_score_table *t, size_t r, const ncmp_score_table_report *rep, char *out, size_t size)
{
    snprintf(out, size, "%s%sheatmap_%s", rep->name ? rep->name : "", rep->name ? "_" : "",
             region_label(&t->regions[r]));
}

static ncmp_status write_heatmap(const ncmp_score_table *t, size_t r, const ncmp_score_table_report *rep,
                                 const char *dir, const char *prov, ncmp_error *err)
{
    const size_t L = t->n_layers, I = t->n_iterations;
    double *v = malloc(L * I * sizeof *v), *x0 = malloc(I * sizeof *x0), *x1 = malloc(I * sizeof *x1);
    unsigned char *mark = calloc(L * I, 1);
    char **labels = calloc(I, sizeof *labels), *label_text = calloc(I, 32);
    ncmp_status st = NCMP_OK;
    if (!v || !x0 || !x1 || !mark || !labels || !label_text) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        goto done;
    }
    size_t best = L * I;
    for (size_t l = 0; l < L; l++)
        for (size_t i = 0; i < I; i++) {
            v[l * I + i] = shown(t, ncmp_score_table_cell(t, l, i, r));
            if (!isnan(v[l * I + i]) && (best == L * I || v[l * I + i] > v[best]))
                best = l * I + i;
        }
    if (best < L * I)
        mark[best] = 1;
    for (size_t i = 0; i < I; i++) {
        x0[i] = (double)i; /* contiguous columns, labelled with the iteration values */
        x1[i] = (double)i + 1;
        labels[i] = label_text + 32 * i;
        snprintf(labels[i], 32, "%lld", t->iterations[i]);
    }
    char label[160], title[512], name[512], png[4096], svg[4096];
    bool ceiled = region_has_ceiling(t, r);
    snprintf(label, sizeof label, ceiled ? "ceiled predictivity, %s" : "raw predictivity (no ceiling)",
             ncmp_normalization_formula(t->normalization));
    snprintf(title, sizeof title, "%s%s%s: %s per layer and model iteration", rep->name ? rep->name : "",
             rep->name ? " " : "", region_label(&t->regions[r]), rep->metric);
    figure_name(t, r, rep, name, sizeof name);
    if (snprintf(png, sizeof png, "%s/%s.png", dir, name) >= (int)sizeof png ||
        snprintf(svg, sizeof svg, "%s/%s.svg", dir, name) >= (int)sizeof svg) {
        st = ncmp_fail(err, NCMP_ERR_USAGE, "report directory path is too long");
        goto done;
    }
    ncmp_heatmap h = {
        .n_rows = L,
        .n_cols = I,
        .values = v,
        .row_labels = (const char *const *)t->layers,
        .col_start = x0,
        .col_end = x1,
        .x_label = "model iteration",
        .y_label = "layer",
        .colorbar_label = label,
        .vmin = rep->vmin,
        .vmax = rep->vmax,
        .mark = mark,
        .annotate = 1,
        .col_labels = (const char *const *)labels,
    };
    ncmp_plot_meta meta = {title, prov};
    int height = 160 + 36 * (int)(L < 200 ? L : 200), width = 360 + 70 * (int)(I < 100 ? I : 100);
    st = ncmp_plot_heatmap(&h, &meta, width < 640 ? 640 : width, height < 360 ? 360 : height, png, svg, err);
done:
    free(v);
    free(x0);
    free(x1);
    free(mark);
    free(labels);
    free(label_text);
    return st;
}

void ncmp_score_table_write_section(const ncmp_doc *d, const ncmp_score_table *t, const ncmp_score_table_report *rep,
                                    int level)
{
    char line[4096];
    ncmp_doc_para_begin(d);
    const ncmp_score_inputs *in0 = t->regions[0].inputs;
    snprintf(line, sizeof line,
             "Each cell is the Brain-Score neural predictivity protocol (%s, %s; Pearson r per neuroid on held-out "
             "stimuli, median over neuroids, mean over splits) of one layer at one model iteration. Ceiled scores "
             "use the %s normalisation, %s (docs/scoring.md). %zu stimuli; %zu layers x %zu iterations x %zu "
             "region%s.",
             rep->metric, t->regions[0].splits->description, ncmp_normalization_name(t->normalization),
             ncmp_normalization_formula(t->normalization), in0->n_stimuli, t->n_layers, t->n_iterations, t->n_regions,
             t->n_regions > 1 ? "s" : "");
    ncmp_doc_text(d, line);
    ncmp_doc_para_end(d);
    for (size_t r = 0; r < t->n_regions; r++) {
        const ncmp_score_table_region *R = &t->regions[r];
        snprintf(line, sizeof line, "Region %s", R->name ? R->name : "(all neuroids)");
        ncmp_doc_heading(d, level, line);
        ncmp_doc_para_begin(d);
        size_t best_l = 0, best_i = 0;
        double best = NAN;
        for (size_t l = 0; l < t->n_layers; l++)
            for (size_t i = 0; i < t->n_iterations; i++) {
                double v = shown(t, ncmp_score_table_cell(t, l, i, r));
                if (!isnan(v) && (isnan(best) || v > best)) {
                    best = v;
                    best_l = l;
                    best_i = i;
                }
            }
        const ncmp_score_cell *bc = ncmp_score_table_cell(t, best_l, best_i, r);
        if (region_has_ceiling(t, r))
            snprintf(line, sizeof line,
                     "%zu neuroids; ceiling %.3f +- %.3f (split-half, Spearman-Brown). Best: layer %s at iteration "
                     "%lld, ceiled %.3f (raw %.3f +- %.3f). Differences within about two standard errors are not "
                     "reliable; 'neurocmp compare' tests them.",
                     R->inputs->n_neuroids, R->inputs->ceiling, R->inputs->ceiling_error, t->layers[best_l],
                     t->iterations[best_i], bc->ceiled, bc->score->raw, bc->score->error);
        else
            snprintf(line, sizeof line,
                     "%zu neuroids; no ceiling (the recordings have no repetitions), so raw scores are shown. Best: "
                     "layer %s at iteration %lld, raw %.3f +- %.3f.",
                     R->inputs->n_neuroids, t->layers[best_l], t->iterations[best_i], bc->score->raw, bc->score->error);
        ncmp_doc_text(d, line);
        ncmp_doc_para_end(d);
        char name[512];
        figure_name(t, r, rep, name, sizeof name);
        snprintf(line, sizeof line,
                 "%s predictivity per layer (rows) and model iteration (columns), %s; outlined: best",
                 region_has_ceiling(t, r) ? "Ceiled" : "Raw", ncmp_normalization_formula(t->normalization));
        ncmp_doc_figure(d, name, line);
    }
    ncmp_doc_heading(d, level, "Table");
    ncmp_doc_table_begin(d);
    const char *head[] = {"layer", "iteration", "region", "raw", "error", "ceiling", "ceiled", "stimuli", "neuroids"};
    ncmp_doc_table_row(d, head, 9, true);
    size_t n = t->n_layers * t->n_iterations * t->n_regions;
    for (size_t k = 0; k < n; k++) {
        const ncmp_score_cell *c = &t->cells[k];
        const ncmp_score_table_region *R = &t->regions[c->region];
        char it[32], raw[32], e[32], ceil[32], ceiled[32], ns[32], nq[32];
        snprintf(it, sizeof it, "%lld", t->iterations[c->iteration]);
        snprintf(raw, sizeof raw, "%.4f", c->score->raw);
        snprintf(e, sizeof e, "%.4f", c->score->error);
        snprintf(ceil, sizeof ceil, isnan(R->inputs->ceiling) ? "-" : "%.4f", R->inputs->ceiling);
        snprintf(ceiled, sizeof ceiled, isnan(c->ceiled) ? "-" : "%.4f", c->ceiled);
        snprintf(ns, sizeof ns, "%zu", R->inputs->n_stimuli);
        snprintf(nq, sizeof nq, "%zu", R->inputs->n_neuroids);
        const char *row[] = {t->layers[c->layer], it, region_label(R), raw, e, ceil, ceiled, ns, nq};
        ncmp_doc_table_row(d, row, 9, false);
    }
    ncmp_doc_table_end(d);
}

static void write_doc(const ncmp_doc *d, const ncmp_score_table *t, const ncmp_score_table_report *rep,
                      const ncmp_result_inputs *in)
{
    char line[4096];
    ncmp_doc_begin(d, "neurocmp: predictivity of every layer at every model iteration");
    ncmp_score_table_write_section(d, t, rep, 2);
    ncmp_doc_heading(d, 2, "Reproduce");
    ncmp_doc_code_block(d, ncmp_provenance_command_line());
    snprintf(line, sizeof line,
             "activations  %s\n             sha256 %s\nneural       %s\n             sha256 %s\nneurocmp     %s (%s)",
             rep->activations_path, in->activations_sha256, rep->neural_path, in->neural_sha256, NCMP_VERSION,
             NCMP_GIT_REVISION);
    ncmp_doc_code_block(d, line);
    ncmp_doc_end(d);
}

/* Every region's heatmap, with the inputs' hashes (returned in *inputs) embedded. */
static ncmp_status write_heatmaps(const ncmp_score_table *t, const ncmp_score_table_report *rep, const char *dir,
                                  ncmp_result_inputs *inputs, ncmp_error *err)
{
    char *prov = NULL;
    ncmp_status st = ncmp_result_inputs_hash(inputs, rep->activations_path, rep->neural_path, rep->splits_path, err);
    if (st || (st = ncmp_result_inputs_text(inputs, &prov, err)))
        return st;
    for (size_t r = 0; !st && r < t->n_regions; r++)
        st = write_heatmap(t, r, rep, dir, prov, err);
    free(prov);
    return st;
}

ncmp_status ncmp_score_table_write_heatmaps(const ncmp_score_table *t, const ncmp_score_table_report *rep,
                                            const char *dir, ncmp_error *err)
{
    ncmp_result_inputs inputs;
    return write_heatmaps(t, rep, dir, &inputs, err);
}

ncmp_status ncmp_score_table_write_report(const ncmp_score_table *t, const ncmp_score_table_report *rep,
                                          const char *dir, ncmp_error *err)
{
    ncmp_result_inputs inputs;
    ncmp_status st = write_heatmaps(t, rep, dir, &inputs, err);
    for (int html = 0; !st && html < 2; html++) {
        char path[4096];
        if (snprintf(path, sizeof path, "%s/%s", dir, html ? "index.html" : "report.md") >= (int)sizeof path)
            return ncmp_fail(err, NCMP_ERR_USAGE, "report directory path is too long");
        ncmp_atomic_file jf; /* the atomic text-file writer */
        if ((st = ncmp_atomic_begin(&jf, path, true, err)))
            return st;
        ncmp_doc d = {jf.stream, html != 0};
        write_doc(&d, t, rep, &inputs);
        st = ncmp_atomic_commit(&jf, err);
    }
    return st;
}
