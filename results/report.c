/* Offline HTML and Markdown reports of an iteration x time-bin analysis (results/report.h). */
#include "results/report.h"

#include "results/doc.h"
#include "results/json.h"
#include "core/provenance.h"
#include "core/sha256.h"
#include "core/version.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fmt(char *buf, size_t size, double v)
{
    if (isnan(v))
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, "%.4f", v);
}

/* One region: intro, summary, its figures and its table. */
static void write_region(const ncmp_doc *d, const ncmp_temporal *t, const ncmp_temporal_report *rep, const char *suffix,
                         int level)
{
    const size_t T = t->n_iterations, B = t->n_bins;
    bool ceiled = false;
    for (size_t b = 0; b < B; b++)
        ceiled = ceiled || !isnan(t->ceiling[b]);
    const double *vals = ceiled ? t->ceiled : t->raw;
    char line[2048], name[256], norm[160];
    if (ceiled)
        snprintf(norm, sizeof norm, "normalised (--normalization %s: ceiled = %s) by",
                 ncmp_normalization_name(t->normalization), ncmp_normalization_formula(t->normalization));
    else
        snprintf(norm, sizeof norm, "not normalised (the recordings have no repetitions, so no ceiling) by");
    ncmp_doc_para_begin(d);
    snprintf(line, sizeof line,
             "Each cell is the Brain-Score predictivity protocol (%s, %s, Pearson r per neuroid on held-out "
             "stimuli, median over neuroids, mean over splits) of layer %s at one model iteration for the responses "
             "of one time bin of %s, %s that bin's split-half ceiling. %zu stimuli, %zu neuroids, %zu features, "
             "%zu iterations x %zu time bins, mode %s.",
             rep->metric, t->splits->description, rep->layer, rep->region ? rep->region : "all neuroids", norm,
             t->n_stimuli, t->n_neuroids, t->n_features, T, B, rep->mode);
    ncmp_doc_text(d, line);
    ncmp_doc_para_end(d);
    /* What it says: best iteration per bin and peak latency. */
    ncmp_doc_heading(d, level, "Summary");
    ncmp_doc_para_begin(d);
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
    ncmp_doc_text(d, line);
    for (size_t i = 0; i < T; i++) {
        snprintf(line, sizeof line, "%st=%lld: %g ms", i ? ", " : "", t->iterations[i], t->peak_latency_ms[i]);
        ncmp_doc_text(d, line);
    }
    ncmp_doc_text(
        d, ". If feedback iterations correspond to later neural responses, the best iteration should grow and "
           "the peak latency should shift later with the iteration. Differences within about two standard errors "
           "are not reliable: use 'neurocmp compare' for a test.");
    ncmp_doc_para_end(d);
    if (t->has_map) {
        ncmp_doc_heading(d, level, "The committed map");
        ncmp_doc_para_begin(d);
        snprintf(line, sizeof line,
                 "The map %s assigns model iterations to time; each bin gets the iterations overlapping it, "
                 "weighted by how much of each falls inside (Brain-Score's TemporalAligned), and is scored with the "
                 "%s regression. Its %s score, averaged over the %zu bins: %.3f. The best monotone path through the "
                 "matrix (one iteration per bin, never going back in time) averages %.3f; a committed map can do "
                 "no better than the matrix's best cells.",
                 t->map_text, rep->mode, ceiled ? "ceiled" : "raw", B, t->map_mean, t->best_path_mean);
        ncmp_doc_text(d, line);
        ncmp_doc_para_end(d);
        ncmp_doc_table_begin(d);
        const char *head[] = {"bin (ms)", "map weights", "raw", "error", ceiled ? "ceiled" : "-"};
        ncmp_doc_table_row(d, head, 5, true);
        for (size_t b = 0; b < B; b++) {
            char c0[48], c1[256], c2[32], c3[32], c4[32];
            size_t len = 0;
            c1[0] = 0;
            for (size_t k = 0; k < t->map_steps && len < sizeof c1 - 40; k++)
                if (t->map_weights[b * t->map_steps + k] > 0)
                    len += (size_t)snprintf(c1 + len, sizeof c1 - len, "%st=%lld x %.2f", len ? ", " : "",
                                            t->map_iterations[k], t->map_weights[b * t->map_steps + k]);
            snprintf(c0, sizeof c0, "%g-%g", t->bin_start[b], t->bin_end[b]);
            snprintf(c2, sizeof c2, "%.3f", t->map_raw[b]);
            snprintf(c3, sizeof c3, "%.3f", t->map_error[b]);
            snprintf(c4, sizeof c4, isnan(t->map_ceiled[b]) ? "-" : "%.3f", t->map_ceiled[b]);
            const char *row[] = {c0, c1, c2, c3, c4};
            ncmp_doc_table_row(d, row, 5, false);
        }
        ncmp_doc_table_end(d);
    }
    ncmp_doc_heading(d, level, "Figures");
    snprintf(name, sizeof name, "heatmap%s", suffix);
    snprintf(line, sizeof line,
             "%s predictivity per model iteration and time bin; outlined: best iteration of each bin; dashed: the "
             "best monotone path%s",
             ceiled ? "Ceiled" : "Raw", t->has_map ? "; red: the committed map" : "");
    ncmp_doc_figure(d, name, line);
    snprintf(name, sizeof name, "score_vs_time%s", suffix);
    ncmp_doc_figure(d, name, "Predictivity over time, one line per iteration (error bars: standard error over splits)");
    ncmp_doc_heading(d, level, "Table");
    ncmp_doc_para_begin(d);
    ncmp_doc_text(
        d, ceiled ? "Ceiled score (with the ceiling of the bin) +- its standard error carried to the ceiled scale; the "
                    "best iteration of each bin is marked."
                  : "Raw score +- its standard error; the best iteration of each bin is marked.");
    ncmp_doc_para_end(d);
    ncmp_doc_table_begin(d);
    size_t ncols = T + 2;
    char **cells = calloc(ncols, sizeof *cells);
    char *store = calloc(ncols, 64);
    if (!cells || !store) {
        free(cells);
        free(store);
        ncmp_doc_table_end(d);
        return;
    }
    for (size_t c = 0; c < ncols; c++)
        cells[c] = store + 64 * c;
    snprintf(cells[0], 64, "bin (ms)");
    snprintf(cells[1], 64, "ceiling");
    for (size_t i = 0; i < T; i++)
        snprintf(cells[2 + i], 64, "t = %lld", t->iterations[i]);
    ncmp_doc_table_row(d, (const char *const *)cells, ncols, true);
    for (size_t b = 0; b < B; b++) {
        snprintf(cells[0], 64, "%g-%g", t->bin_start[b], t->bin_end[b]);
        if (isnan(t->ceiling[b]))
            snprintf(cells[1], 64, "-");
        else
            snprintf(cells[1], 64, "%.3f +- %.3f", t->ceiling[b], t->ceiling_error[b]);
        for (size_t i = 0; i < T; i++) {
            double v = vals[i * B + b], e = ceiled ? ncmp_temporal_ceiled_error(t, i, b) : t->error[i * B + b];
            if (isnan(v))
                snprintf(cells[2 + i], 64, "-");
            else
                snprintf(cells[2 + i], 64, "%.3f +- %.3f%s", v, e, t->best_iteration[b] == i ? " *" : "");
        }
        ncmp_doc_table_row(d, (const char *const *)cells, ncols, false);
    }
    if (t->has_map) {
        snprintf(cells[0], 64, "committed map");
        snprintf(cells[1], 64, "mean %.3f", t->map_mean);
        for (size_t i = 0; i < T; i++)
            snprintf(cells[2 + i], 64, " ");
        ncmp_doc_table_row(d, (const char *const *)cells, ncols, false);
    }
    if (t->has_window) {
        snprintf(cells[0], 64, "%g-%g window", t->window_start_ms, t->window_end_ms);
        fmt(cells[1], 64, t->window_ceiling);
        bool wc = !isnan(t->window_ceiling);
        for (size_t i = 0; i < T; i++)
            snprintf(cells[2 + i], 64, "%.3f +- %.3f", wc ? t->window_ceiled[i] : t->window_raw[i],
                     wc ? ncmp_ceiled_error(t->window_raw[i], t->window_error[i], t->window_ceiling, t->normalization)
                        : t->window_error[i]);
        ncmp_doc_table_row(d, (const char *const *)cells, ncols, false);
    }
    snprintf(cells[0], 64, "peak latency");
    snprintf(cells[1], 64, " ");
    for (size_t i = 0; i < T; i++)
        snprintf(cells[2 + i], 64, "%g ms", t->peak_latency_ms[i]);
    ncmp_doc_table_row(d, (const char *const *)cells, ncols, false);
    ncmp_doc_table_end(d);
    free(cells);
    free(store);
}

void ncmp_report_write_temporal_section(const ncmp_doc *d, const ncmp_temporal *const *t,
                                        const ncmp_temporal_report *rep, size_t n_regions, int level)
{
    char line[2048];
    if (n_regions == 1)
        write_region(d, t[0], &rep[0], "", level);
    else
        for (size_t r = 0; r < n_regions; r++) {
            char suffix[160];
            snprintf(suffix, sizeof suffix, "_%s", rep[r].region ? rep[r].region : "all");
            snprintf(line, sizeof line, "Region %s", rep[r].region ? rep[r].region : "all neuroids");
            ncmp_doc_heading(d, level, line);
            write_region(d, t[r], &rep[r], suffix, level + 1);
        }
    ncmp_doc_heading(d, level, n_regions > 1 ? "Across regions" : "Across iterations");
    ncmp_doc_figure(d, "score_vs_iteration",
                    n_regions > 1
                        ? "Predictivity per iteration, one line per region (the standard time window, or the best "
                          "time bin without one; error bars: standard error)"
                        : "Predictivity per iteration: the standard time window and the best time bin (error bars: "
                          "standard error)");
}

static void write_doc(const ncmp_doc *d, const ncmp_temporal *const *t, const ncmp_temporal_report *rep,
                      size_t n_regions, const char *act_hex, const char *neu_hex)
{
    char title[1024], line[2048];
    size_t len =
        (size_t)snprintf(title, sizeof title, "neurocmp: %s across model iterations and time bins (", rep[0].layer);
    for (size_t r = 0; r < n_regions && len < sizeof title - 64; r++)
        len += (size_t)snprintf(title + len, sizeof title - len, "%s%s", r ? ", " : "",
                                rep[r].region ? rep[r].region : "all neuroids");
    snprintf(title + len, sizeof title - len, ")");
    ncmp_doc_begin(d, title);
    ncmp_report_write_temporal_section(d, t, rep, n_regions, 2);
    ncmp_doc_heading(d, 2, "Reproduce");
    ncmp_doc_para_begin(d);
    ncmp_doc_text(d, "Command line, inputs and versions (also embedded in every figure and in the temporal JSON / HDF5 "
                     "files, which hold every per-split, per-neuroid value):");
    ncmp_doc_para_end(d);
    snprintf(line, sizeof line, "%s", ncmp_provenance_command_line());
    ncmp_doc_code_block(d, line);
    char buf[4096];
    snprintf(buf, sizeof buf,
             "activations  %s\n             sha256 %s\nneural       %s\n             sha256 %s\nneurocmp     %s "
             "(%s)",
             rep[0].activations_path, act_hex, rep[0].neural_path, neu_hex, NCMP_VERSION, NCMP_GIT_REVISION);
    ncmp_doc_code_block(d, buf);
    ncmp_doc_end(d);
}

static ncmp_status write_one(const char *dir, const char *name, bool html, const ncmp_temporal *const *t,
                             const ncmp_temporal_report *rep, size_t n_regions, const char *act_hex,
                             const char *neu_hex, ncmp_error *err)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return ncmp_fail(err, NCMP_ERR_USAGE, "report directory path is too long");
    ncmp_atomic_file jf; /* the atomic text-file writer of results/json.h */
    ncmp_status st = ncmp_atomic_begin(&jf, path, true, err);
    if (st)
        return st;
    ncmp_doc d = {jf.stream, html};
    write_doc(&d, t, rep, n_regions, act_hex, neu_hex);
    return ncmp_atomic_commit(&jf, err);
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
