/* Offline HTML and Markdown reports of an iteration x time-bin analysis (results/report.h). */
#include "results/report.h"

#include "results/json.h"
#include "core/provenance.h"
#include "core/sha256.h"
#include "core/version.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One writer for both formats: the HTML and Markdown differ in markup only. */
typedef struct doc {
    FILE *f;
    bool html;
} doc;

static void text(const doc *d, const char *s)
{
    for (; s && *s; s++) {
        if (d->html && (*s == '<' || *s == '>' || *s == '&' || *s == '"'))
            fputs(*s == '<' ? "&lt;" : *s == '>' ? "&gt;" : *s == '&' ? "&amp;" : "&quot;", d->f);
        else if (!d->html && (*s == '|' || *s == '*' || *s == '_' || *s == '`'))
            fprintf(d->f, "\\%c", *s);
        else
            fputc(*s, d->f);
    }
}

static void heading(const doc *d, int level, const char *s)
{
    if (d->html) {
        fprintf(d->f, "<h%d>", level);
        text(d, s);
        fprintf(d->f, "</h%d>\n", level);
    } else {
        fprintf(d->f, "\n%.*s ", level, "######");
        text(d, s);
        fputs("\n\n", d->f);
    }
}

static void para_begin(const doc *d)
{
    fputs(d->html ? "<p>" : "", d->f);
}
static void para_end(const doc *d)
{
    fputs(d->html ? "</p>\n" : "\n\n", d->f);
}

static void code_block(const doc *d, const char *s)
{
    fputs(d->html ? "<pre>" : "```\n", d->f);
    if (d->html)
        text(d, s);
    else
        fputs(s, d->f);
    fputs(d->html ? "</pre>\n" : "\n```\n\n", d->f);
}

static void figure(const doc *d, const char *name, const char *caption)
{
    if (d->html) {
        fprintf(d->f, "<figure><img src=\"%s.svg\" alt=\"", name);
        text(d, caption);
        fprintf(d->f, "\"><figcaption>");
        text(d, caption);
        fprintf(d->f, " (<a href=\"%s.png\">PNG</a>, <a href=\"%s.svg\">SVG</a>)</figcaption></figure>\n", name, name);
    } else {
        fprintf(d->f, "![");
        text(d, caption);
        fprintf(d->f, "](%s.png)\n\n", name);
    }
}

/* Table rows: cells as strings. */
static void table_row(const doc *d, const char *const *cells, size_t n, bool header)
{
    if (d->html) {
        fputs("<tr>", d->f);
        for (size_t i = 0; i < n; i++) {
            fputs(header ? "<th>" : "<td>", d->f);
            text(d, cells[i]);
            fputs(header ? "</th>" : "</td>", d->f);
        }
        fputs("</tr>\n", d->f);
        return;
    }
    fputs("|", d->f);
    for (size_t i = 0; i < n; i++) {
        fputc(' ', d->f);
        text(d, cells[i]);
        fputs(" |", d->f);
    }
    fputc('\n', d->f);
    if (header) {
        fputs("|", d->f);
        for (size_t i = 0; i < n; i++)
            fputs(i ? "---:|" : "---|", d->f);
        fputc('\n', d->f);
    }
}

static void table_begin(const doc *d)
{
    fputs(d->html ? "<table>\n" : "", d->f);
}
static void table_end(const doc *d)
{
    fputs(d->html ? "</table>\n" : "\n", d->f);
}

static void fmt(char *buf, size_t size, double v)
{
    if (isnan(v))
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, "%.4f", v);
}

/* One region: intro, summary, its figures and its table. */
static void write_region(const doc *d, const ncmp_temporal *t, const ncmp_temporal_report *rep, const char *suffix,
                         int level)
{
    const size_t T = t->n_iterations, B = t->n_bins;
    bool ceiled = false;
    for (size_t b = 0; b < B; b++)
        ceiled = ceiled || !isnan(t->ceiling[b]);
    const double *vals = ceiled ? t->ceiled : t->raw;
    char line[2048], name[256];
    para_begin(d);
    snprintf(line, sizeof line,
             "Each cell is the Brain-Score predictivity protocol (%s, %s, Pearson r per neuroid on held-out "
             "stimuli, median over neuroids, mean over splits) of layer %s at one model iteration for the responses "
             "of one time bin of %s, %s by that bin's split-half ceiling. %zu stimuli, %zu neuroids, %zu features, "
             "%zu iterations x %zu time bins, mode %s.",
             rep->metric, t->splits->description, rep->layer, rep->region ? rep->region : "all neuroids",
             ceiled ? "divided" : "not divided (the recordings have no repetitions)", t->n_stimuli, t->n_neuroids,
             t->n_features, T, B, rep->mode);
    text(d, line);
    para_end(d);
    /* What it says: best iteration per bin and peak latency. */
    heading(d, level, "Summary");
    para_begin(d);
    size_t later = 0, counted = 0;
    for (size_t b = 0; b < B; b++)
        if (t->best_iteration[b] < T) {
            counted++;
            later += t->best_iteration[b] > 0;
        }
    snprintf(line, sizeof line,
             "In %zu of %zu time bins a later iteration (t > %lld) predicts the responses better than the first "
             "one. Peak latency (centre of the best bin) per iteration: ",
             later, counted, t->iterations[0]);
    text(d, line);
    for (size_t i = 0; i < T; i++) {
        snprintf(line, sizeof line, "%st=%lld: %g ms", i ? ", " : "", t->iterations[i], t->peak_latency_ms[i]);
        text(d, line);
    }
    text(d, ". If feedback iterations correspond to later neural responses, the best iteration should grow and "
            "the peak latency should shift later with the iteration. Differences within about two standard errors "
            "are not reliable: use 'neurocmp compare' for a test.");
    para_end(d);
    heading(d, level, "Figures");
    snprintf(name, sizeof name, "heatmap%s", suffix);
    figure(d, name,
           ceiled ? "Ceiled predictivity per model iteration and time bin; outlined: best iteration of each bin"
                  : "Raw predictivity per model iteration and time bin; outlined: best iteration of each bin");
    snprintf(name, sizeof name, "score_vs_time%s", suffix);
    figure(d, name, "Predictivity over time, one line per iteration (error bars: standard error over splits)");
    heading(d, level, "Table");
    para_begin(d);
    text(d, ceiled ? "Ceiled score (raw / ceiling of the bin) +- its standard error; the best iteration of each bin "
                     "is marked."
                   : "Raw score +- its standard error; the best iteration of each bin is marked.");
    para_end(d);
    table_begin(d);
    size_t ncols = T + 2;
    char **cells = calloc(ncols, sizeof *cells);
    char *store = calloc(ncols, 64);
    if (!cells || !store) {
        free(cells);
        free(store);
        table_end(d);
        return;
    }
    for (size_t c = 0; c < ncols; c++)
        cells[c] = store + 64 * c;
    snprintf(cells[0], 64, "bin (ms)");
    snprintf(cells[1], 64, "ceiling");
    for (size_t i = 0; i < T; i++)
        snprintf(cells[2 + i], 64, "t = %lld", t->iterations[i]);
    table_row(d, (const char *const *)cells, ncols, true);
    for (size_t b = 0; b < B; b++) {
        snprintf(cells[0], 64, "%g-%g", t->bin_start[b], t->bin_end[b]);
        if (isnan(t->ceiling[b]))
            snprintf(cells[1], 64, "-");
        else
            snprintf(cells[1], 64, "%.3f +- %.3f", t->ceiling[b], t->ceiling_error[b]);
        for (size_t i = 0; i < T; i++) {
            double v = vals[i * B + b], e = t->error[i * B + b] / (ceiled ? t->ceiling[b] : 1.0);
            if (isnan(v))
                snprintf(cells[2 + i], 64, "-");
            else
                snprintf(cells[2 + i], 64, "%.3f +- %.3f%s", v, e, t->best_iteration[b] == i ? " *" : "");
        }
        table_row(d, (const char *const *)cells, ncols, false);
    }
    if (t->has_window) {
        snprintf(cells[0], 64, "%g-%g window", t->window_start_ms, t->window_end_ms);
        fmt(cells[1], 64, t->window_ceiling);
        bool wc = !isnan(t->window_ceiling);
        for (size_t i = 0; i < T; i++)
            snprintf(cells[2 + i], 64, "%.3f +- %.3f", wc ? t->window_ceiled[i] : t->window_raw[i],
                     wc ? t->window_error[i] / t->window_ceiling : t->window_error[i]);
        table_row(d, (const char *const *)cells, ncols, false);
    }
    snprintf(cells[0], 64, "peak latency");
    snprintf(cells[1], 64, " ");
    for (size_t i = 0; i < T; i++)
        snprintf(cells[2 + i], 64, "%g ms", t->peak_latency_ms[i]);
    table_row(d, (const char *const *)cells, ncols, false);
    table_end(d);
    free(cells);
    free(store);
}

static void write_doc(const doc *d, const ncmp_temporal *const *t, const ncmp_temporal_report *rep, size_t n_regions,
                      const char *act_hex, const char *neu_hex)
{
    char title[1024], line[2048];
    size_t len =
        (size_t)snprintf(title, sizeof title, "neurocmp: %s across model iterations and time bins (", rep[0].layer);
    for (size_t r = 0; r < n_regions && len < sizeof title - 64; r++)
        len += (size_t)snprintf(title + len, sizeof title - len, "%s%s", r ? ", " : "",
                                rep[r].region ? rep[r].region : "all neuroids");
    snprintf(title + len, sizeof title - len, ")");
    if (d->html) {
        fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>", d->f);
        text(d, title);
        fputs("</title>\n<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;"
              "color:#222}table{border-collapse:collapse;font-size:13px;margin:1em 0}td,th{border:1px solid #ccc;"
              "padding:3px 7px;text-align:right}th{background:#f3f3f3}td.best{font-weight:bold;background:#fff3c4}"
              "img{max-width:100%}pre{background:#f6f6f6;padding:.7em;overflow-x:auto;white-space:pre-wrap}"
              "figure{margin:1.5em 0}figcaption{font-size:13px;color:#555}</style></head><body>\n",
              d->f);
    }
    heading(d, 1, title);
    if (n_regions == 1)
        write_region(d, t[0], &rep[0], "", 2);
    else
        for (size_t r = 0; r < n_regions; r++) {
            char suffix[160];
            snprintf(suffix, sizeof suffix, "_%s", rep[r].region ? rep[r].region : "all");
            snprintf(line, sizeof line, "Region %s", rep[r].region ? rep[r].region : "all neuroids");
            heading(d, 2, line);
            write_region(d, t[r], &rep[r], suffix, 3);
        }
    heading(d, 2, n_regions > 1 ? "Across regions" : "Across iterations");
    figure(d, "score_vs_iteration",
           n_regions > 1 ? "Predictivity per iteration, one line per region (the standard time window, or the best "
                           "time bin without one; error bars: standard error)"
                         : "Predictivity per iteration: the standard time window and the best time bin (error bars: "
                           "standard error)");
    heading(d, 2, "Reproduce");
    para_begin(d);
    text(d, "Command line, inputs and versions (also embedded in every figure and in the temporal JSON / HDF5 "
            "files, which hold every per-split, per-neuroid value):");
    para_end(d);
    snprintf(line, sizeof line, "%s", ncmp_provenance_command_line());
    code_block(d, line);
    char buf[4096];
    snprintf(buf, sizeof buf,
             "activations  %s\n             sha256 %s\nneural       %s\n             sha256 %s\nneurocmp     %s "
             "(%s)",
             rep[0].activations_path, act_hex, rep[0].neural_path, neu_hex, NCMP_VERSION, NCMP_GIT_REVISION);
    code_block(d, buf);
    if (d->html)
        fputs("</body></html>\n", d->f);
}

static ncmp_status write_one(const char *dir, const char *name, bool html, const ncmp_temporal *const *t,
                             const ncmp_temporal_report *rep, size_t n_regions, const char *act_hex,
                             const char *neu_hex, ncmp_error *err)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return ncmp_fail(err, NCMP_ERR_USAGE, "report directory path is too long");
    ncmp_json_file jf; /* the atomic text-file writer of results/json.h */
    ncmp_status st = ncmp_json_file_begin(&jf, path, err);
    if (st)
        return st;
    doc d = {jf.stream, html};
    write_doc(&d, t, rep, n_regions, act_hex, neu_hex);
    return ncmp_json_file_commit(&jf, err);
}

ncmp_status ncmp_report_write_temporal(const ncmp_temporal *const *t, const ncmp_temporal_report *rep, size_t n_regions,
                                       const char *dir, ncmp_error *err)
{
    if (!n_regions)
        return ncmp_fail(err, NCMP_ERR_USAGE, "no results to report");
    char act_hex[NCMP_SHA256_HEX_LEN] = "", neu_hex[NCMP_SHA256_HEX_LEN] = "";
    ncmp_status st;
    if ((st = ncmp_sha256_file(rep[0].activations_path, act_hex, err)) ||
        (st = ncmp_sha256_file(rep[0].neural_path, neu_hex, err)) ||
        (st = write_one(dir, "report.md", false, t, rep, n_regions, act_hex, neu_hex, err)) ||
        (st = write_one(dir, "index.html", true, t, rep, n_regions, act_hex, neu_hex, err)))
        return st;
    return NCMP_OK;
}
