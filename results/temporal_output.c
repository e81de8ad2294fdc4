/* Writing iteration x time-bin results: score-result-style JSON (docs/formats.md), HDF5 with every per-neuroid value
 * (docs/temporal.md), figures. */
#include "results/temporal_output.h"

#include "results/json.h"
#include "results/plot.h"
#include "results/score_json.h"
#include "core/h5.h"
#include "core/provenance.h"
#include "core/sha256.h"
#include "core/version.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void number_array(FILE *f, const double *v, size_t n, size_t stride)
{
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputs(", ", f);
        ncmp_json_number(f, v[i * stride]);
    }
    fputc(']', f);
}

static void matrix(FILE *f, const char *key, const double *v, size_t rows, size_t cols)
{
    fprintf(f, ",\n  \"%s\": [", key);
    for (size_t t = 0; t < rows; t++) {
        fputs(t ? ",\n    " : "\n    ", f);
        number_array(f, v + t * cols, cols, 1);
    }
    fputs("\n  ]", f);
}

ncmp_status ncmp_temporal_write_json(const ncmp_temporal *t, const ncmp_temporal_report *rep, const char *path,
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
    const size_t T = t->n_iterations, B = t->n_bins;
    const char *base = strrchr(rep->neural_path, '/');
    char bench[512];
    snprintf(bench, sizeof bench, "%s:%s-%s-temporal", base ? base + 1 : rep->neural_path,
             rep->region ? rep->region : "all", rep->metric);
    fputs("{\n  \"benchmark\": ", f);
    ncmp_json_string(f, bench);
    fputs(",\n  \"metric\": ", f);
    ncmp_json_string(f, rep->metric);
    fputs(",\n  \"mode\": ", f);
    ncmp_json_string(f, rep->mode);
    fputs(",\n  \"layer\": ", f);
    ncmp_json_string(f, rep->layer);
    fputs(",\n  \"region\": ", f);
    ncmp_json_opt_string(f, rep->region);
    fputs(",\n  \"iteration\": [", f);
    for (size_t i = 0; i < T; i++)
        fprintf(f, i ? ", %lld" : "%lld", t->iterations[i]);
    fputs("],\n  \"time_bin_start_ms\": ", f);
    number_array(f, t->bin_start, B, 1);
    fputs(",\n  \"time_bin_end_ms\": ", f);
    number_array(f, t->bin_end, B, 1);
    fputs(",\n  \"ceiling\": ", f);
    number_array(f, t->ceiling, B, 1);
    fputs(",\n  \"ceiling_error\": ", f);
    number_array(f, t->ceiling_error, B, 1);
    matrix(f, "raw", t->raw, T, B);
    matrix(f, "error", t->error, T, B);
    matrix(f, "ceiled", t->ceiled, T, B);
    fputs(",\n  \"normalization\": ", f);
    ncmp_json_string(f, ncmp_normalization_name(t->normalization));
    fputs(",\n  \"normalization_formula\": ", f);
    ncmp_json_string(f, ncmp_normalization_formula(t->normalization));
    fputs(",\n  \"best_iteration_per_bin\": [", f);
    for (size_t b = 0; b < B; b++) {
        if (b)
            fputs(", ", f);
        if (t->best_iteration[b] < T)
            fprintf(f, "%lld", t->iterations[t->best_iteration[b]]);
        else
            fputs("null", f);
    }
    fputs("],\n  \"best_bin_per_iteration_ms\": [", f);
    for (size_t i = 0; i < T; i++) {
        fputs(i ? ", " : "", f);
        if (t->best_bin[i] < B) {
            fputc('[', f);
            ncmp_json_number(f, t->bin_start[t->best_bin[i]]);
            fputs(", ", f);
            ncmp_json_number(f, t->bin_end[t->best_bin[i]]);
            fputc(']', f);
        } else
            fputs("null", f);
    }
    fputs("],\n  \"peak_latency_ms\": ", f);
    number_array(f, t->peak_latency_ms, T, 1);
    fputs(",\n  \"best_monotone_path\": [", f);
    for (size_t b = 0; b < B; b++)
        fprintf(f, b ? ", %lld" : "%lld", t->iterations[t->best_path[b]]);
    fputs("], \"best_monotone_path_mean\": ", f);
    ncmp_json_number(f, t->best_path_mean);
    fputs(",\n  \"map\": ", f);
    if (t->has_map) {
        const size_t S = t->map_steps;
        fputs("{\"text\": ", f);
        ncmp_json_string(f, t->map_text);
        fputs(", \"iteration\": [", f);
        for (size_t k = 0; k < S; k++)
            fprintf(f, k ? ", %lld" : "%lld", t->map_iterations[k]);
        fputs("], \"start_ms\": ", f);
        number_array(f, t->map_start, S, 1);
        fputs(", \"end_ms\": ", f);
        number_array(f, t->map_end, S, 1);
        fputs(",\n    \"weights\": [", f);
        for (size_t b = 0; b < B; b++) {
            fputs(b ? ", " : "", f);
            number_array(f, t->map_weights + b * S, S, 1);
        }
        fputs("],\n    \"raw\": ", f);
        number_array(f, t->map_raw, B, 1);
        fputs(", \"error\": ", f);
        number_array(f, t->map_error, B, 1);
        fputs(", \"ceiled\": ", f);
        number_array(f, t->map_ceiled, B, 1);
        fputs(", \"mean\": ", f);
        ncmp_json_number(f, t->map_mean);
        fputc('}', f);
    } else
        fputs("null", f);
    fputs(",\n  \"window\": ", f);
    if (t->has_window) {
        fputs("{\"time_window_ms\": [", f);
        ncmp_json_number(f, t->window_start_ms);
        fputs(", ", f);
        ncmp_json_number(f, t->window_end_ms);
        fputs("], \"ceiling\": ", f);
        ncmp_json_number(f, t->window_ceiling);
        fputs(", \"ceiling_error\": ", f);
        ncmp_json_number(f, t->window_ceiling_error);
        fputs(",\n    \"raw\": ", f);
        number_array(f, t->window_raw, T, 1);
        fputs(", \"error\": ", f);
        number_array(f, t->window_error, T, 1);
        fputs(", \"ceiled\": ", f);
        number_array(f, t->window_ceiled, T, 1);
        fputc('}', f);
    } else
        fputs("null", f);
    fprintf(f, ",\n  \"n_stimuli\": %zu,\n  \"n_neuroids\": %zu,\n  \"n_features\": %zu", t->n_stimuli, t->n_neuroids,
            t->n_features);
    fputs(",\n  \"splits\": ", f);
    ncmp_json_string(f, t->splits->description ? t->splits->description : "");
    fprintf(f, ",\n  \"n_splits\": %zu,\n  \"n_components\": %d", t->n_splits, rep->n_components);
    fputs(",\n  \"details\": ", f);
    ncmp_json_opt_string(f, rep->details_path);
    fprintf(f, ",\n  \"seed\": %u,\n  \"provenance\": ", (unsigned)t->splits->seed);
    ncmp_result_inputs_write(f, &inputs);
    fputs("\n}\n", f);
    return ncmp_atomic_commit(&jf, err);
}

ncmp_status ncmp_temporal_write_h5(const ncmp_temporal *t, const ncmp_temporal_report *rep, const char *path,
                                   bool force, ncmp_error *err)
{
    ncmp_h5_output out;
    ncmp_status st = ncmp_h5_output_begin(&out, path, force ? NCMP_H5_OVERWRITE : 0, err);
    if (st)
        return st;
    const size_t T = t->n_iterations, B = t->n_bins, K = t->n_splits, n = t->n_stimuli, q = t->n_neuroids;
    long long *best = malloc((B + 1) * sizeof *best);
    if (!best) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        goto done;
    }
    hid_t f = out.file;
    hsize_t dT = T, dB = B, dTB[2] = {T, B}, dTBK[3] = {T, B, K}, dTBKQ[4] = {T, B, K, q};
    for (size_t b = 0; b < B; b++)
        best[b] = t->best_iteration[b] < T ? t->iterations[t->best_iteration[b]] : -1;
    if ((st = ncmp_provenance_write_h5(f, err)) ||
        (st = ncmp_provenance_add_input_h5(f, "activations", rep->activations_path, err)) ||
        (st = ncmp_provenance_add_input_h5(f, "neural", rep->neural_path, err)) ||
        (rep->splits_path && (st = ncmp_provenance_add_input_h5(f, "splits", rep->splits_path, err))) ||
        (st = ncmp_h5_attr_set_string(f, "layer", rep->layer, err)) ||
        (st = ncmp_h5_attr_set_string(f, "metric", rep->metric, err)) ||
        (st = ncmp_h5_attr_set_string(f, "mode", rep->mode, err)) ||
        (st = ncmp_h5_attr_set_string(f, "normalization", ncmp_normalization_name(t->normalization), err)) ||
        (st = ncmp_h5_attr_set_string(f, "region", rep->region ? rep->region : "", err)) ||
        (st = ncmp_h5_attr_set_string(f, "splits", t->splits->description ? t->splits->description : "", err)) ||
        (st = ncmp_h5_attr_set_int64(f, "n_components", rep->n_components, err)) ||
        (st = ncmp_h5_write_strings(f, "stimulus_id", (const char *const *)t->stimulus_ids, n, err)) ||
        (st = ncmp_h5_write_strings(f, "neuroid_id", (const char *const *)t->neuroid_ids, q, err)) ||
        (st = ncmp_h5_write_array(f, "iteration", H5T_STD_I64LE, H5T_NATIVE_LLONG, 1, &dT, t->iterations, err)) ||
        (st = ncmp_h5_write_array(f, "time_bin_start", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &dB, t->bin_start, err)) ||
        (st = ncmp_h5_write_array(f, "time_bin_end", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &dB, t->bin_end, err)) ||
        (st = ncmp_h5_write_array(f, "ceiling", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &dB, t->ceiling, err)) ||
        (st = ncmp_h5_write_array(f, "ceiling_error", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &dB, t->ceiling_error,
                                  err)) ||
        (st = ncmp_h5_write_array(f, "raw", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dTB, t->raw, err)) ||
        (st = ncmp_h5_write_array(f, "error", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dTB, t->error, err)) ||
        (st = ncmp_h5_write_array(f, "ceiled", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dTB, t->ceiled, err)) ||
        (st = ncmp_h5_write_array(f, "split_median", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 3, dTBK, t->split_median,
                                  err)) ||
        (st =
             ncmp_h5_write_array(f, "per_neuroid", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 4, dTBKQ, t->per_neuroid, err)) ||
        (st = ncmp_h5_write_array(f, "best_iteration", H5T_STD_I64LE, H5T_NATIVE_LLONG, 1, &dB, best, err)) ||
        (st = ncmp_h5_write_array(f, "peak_latency_ms", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &dT, t->peak_latency_ms,
                                  err)))
        goto done;
    if (t->has_window &&
        ((st = ncmp_h5_write_array(f, "window_raw", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &dT, t->window_raw, err)) ||
         (st = ncmp_h5_write_array(f, "window_error", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &dT, t->window_error,
                                   err)) ||
         (st = ncmp_h5_attr_set_double(f, "window_start_ms", t->window_start_ms, err)) ||
         (st = ncmp_h5_attr_set_double(f, "window_end_ms", t->window_end_ms, err)) ||
         (st = ncmp_h5_attr_set_double(f, "window_ceiling", t->window_ceiling, err))))
        goto done;
    for (size_t b = 0; b < B; b++)
        best[b] = t->iterations[t->best_path[b]];
    if ((st = ncmp_h5_write_array(f, "best_monotone_path", H5T_STD_I64LE, H5T_NATIVE_LLONG, 1, &dB, best, err)) ||
        (st = ncmp_h5_attr_set_double(f, "best_monotone_path_mean", t->best_path_mean, err)))
        goto done;
    if (t->has_map) {
        hsize_t dS = t->map_steps, dBS[2] = {B, t->map_steps};
        if ((st = ncmp_h5_attr_set_string(f, "map", t->map_text, err)) ||
            (st = ncmp_h5_write_array(f, "map_iteration", H5T_STD_I64LE, H5T_NATIVE_LLONG, 1, &dS, t->map_iterations,
                                      err)) ||
            (st = ncmp_h5_write_array(f, "map_weights", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dBS, t->map_weights,
                                      err)) ||
            (st = ncmp_h5_write_array(f, "map_raw", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &dB, t->map_raw, err)) ||
            (st = ncmp_h5_write_array(f, "map_error", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &dB, t->map_error, err)) ||
            (st =
                 ncmp_h5_write_array(f, "map_ceiled", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &dB, t->map_ceiled, err)) ||
            (st = ncmp_h5_attr_set_double(f, "map_mean", t->map_mean, err)))
            goto done;
    }
    if ((st = ncmp_splits_write_masks_h5(f, t->splits, err)))
        goto done;
    st = ncmp_h5_output_commit(&out, err);
done:
    if (st)
        ncmp_h5_output_abort(&out, false);
    free(best);
    return st;
}

static ncmp_status figure_paths(const char *dir, const char *name, char *png, char *svg, size_t size)
{
    int a = snprintf(png, size, "%s/%s.png", dir, name), b = snprintf(svg, size, "%s/%s.svg", dir, name);
    return a > 0 && (size_t)a < size && b > 0 && (size_t)b < size ? NCMP_OK : NCMP_ERR_USAGE;
}

/* Values shown for one result: ceiled when any bin has a ceiling, else raw, with matching errors. */
static bool shows_ceiled(const ncmp_temporal *t)
{
    for (size_t b = 0; b < t->n_bins; b++)
        if (!isnan(t->ceiling[b]))
            return true;
    return false;
}

/* The heatmap and score-vs-time figures of one region (suffix "" or "_<region>"). */
static ncmp_status region_figures(const ncmp_temporal *t, const ncmp_temporal_report *rep, const char *dir,
                                  const char *suffix, const char *prov, ncmp_error *err)
{
    const size_t T = t->n_iterations, B = t->n_bins;
    char png[4096], svg[4096], title[512], name[256];
    ncmp_status st = NCMP_OK;
    bool ceiled = shows_ceiled(t);
    const double *vals = ceiled ? t->ceiled : t->raw;
    char **labels = calloc(T, sizeof *labels);
    unsigned char *mark = calloc(T * B, 1);
    double *x = malloc(B * sizeof *x), *err_scaled = malloc(T * B * sizeof *err_scaled);
    double *path = malloc(B * sizeof *path), *path_alt = malloc(B * sizeof *path_alt);
    ncmp_line_series *series = calloc(T, sizeof *series);
    char(*names)[48] = calloc(T, sizeof *names);
    if (!labels || !mark || !x || !err_scaled || !series || !names || !path || !path_alt) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < T; i++) {
        snprintf(names[i], sizeof names[i], "t = %lld", t->iterations[i]);
        labels[i] = names[i];
    }
    for (size_t b = 0; b < B; b++) {
        x[b] = 0.5 * (t->bin_start[b] + t->bin_end[b]);
        if (t->best_iteration[b] < T)
            mark[t->best_iteration[b] * B + b] = 1;
    }
    for (size_t i = 0; i < T * B; i++)
        err_scaled[i] = ceiled ? ncmp_temporal_ceiled_error(t, i / B, i % B) : t->error[i];
    /* the committed map (weighted mean row of its iterations in each bin) and the best monotone path */
    for (size_t b = 0; b < B; b++) {
        path_alt[b] = (double)t->best_path[b];
        double row = 0, wsum = 0;
        for (size_t k = 0; t->has_map && k < t->map_steps; k++) {
            double w = t->map_weights[b * t->map_steps + k];
            size_t r = T;
            for (size_t i = 0; i < T; i++)
                if (t->iterations[i] == t->map_iterations[k])
                    r = i;
            if (w > 0 && r < T) {
                row += w * (double)r;
                wsum += w;
            }
        }
        path[b] = wsum > 0 ? row / wsum : NAN;
    }
    char what[96];
    snprintf(what, sizeof what, ceiled ? "ceiled predictivity, %s" : "raw predictivity (no ceiling)",
             ncmp_normalization_formula(t->normalization));
    const char *region = rep->region ? rep->region : "all neuroids";
    /* 1. The matrix. */
    snprintf(title, sizeof title, "%s (%s) vs %s: %s per iteration and time bin (outlined: best iteration%s)",
             rep->layer, rep->metric, region, ceiled ? "ceiled score" : "raw score",
             t->has_map ? "; red: the committed map; dashed: best monotone path" : "; dashed: best monotone path");
    ncmp_plot_meta meta = {title, prov};
    ncmp_heatmap h = {
        .n_rows = T,
        .n_cols = B,
        .values = vals,
        .row_labels = (const char *const *)labels,
        .col_start = t->bin_start,
        .col_end = t->bin_end,
        .x_label = "time bin (ms)",
        .y_label = "model iteration",
        .colorbar_label = what,
        .vmin = rep->vmin,
        .vmax = rep->vmax,
        .mark = mark,
        .annotate = T * B <= 120,
        .path = t->has_map ? path : NULL,
        .path_alt = B > 1 ? path_alt : NULL,
    };
    snprintf(name, sizeof name, "heatmap%s", suffix);
    if (figure_paths(dir, name, png, svg, sizeof png)) {
        st = ncmp_fail(err, NCMP_ERR_USAGE, "figure path under '%s' is too long", dir);
        goto done;
    }
    if ((st = ncmp_plot_heatmap(&h, &meta, 900, 120 + 40 * (int)(T < 12 ? T : 12) + 160, png, svg, err)))
        goto done;
    /* 2. Score vs time bin, one line per iteration. */
    for (size_t i = 0; i < T; i++)
        series[i] = (ncmp_line_series){names[i], B, x, vals + i * B, err_scaled + i * B};
    snprintf(title, sizeof title, "%s vs %s: score over time, one line per iteration (bars: standard error)",
             rep->layer, region);
    ncmp_line_plot lp = {series, T, "time bin centre (ms)", what, NULL, 0, NAN, NAN, 0.0};
    snprintf(name, sizeof name, "score_vs_time%s", suffix);
    if (figure_paths(dir, name, png, svg, sizeof png)) {
        st = ncmp_fail(err, NCMP_ERR_USAGE, "figure path under '%s' is too long", dir);
        goto done;
    }
    st = ncmp_plot_lines(&lp, &meta, 900, 520, png, svg, err);
done:
    free(labels);
    free(mark);
    free(x);
    free(path);
    free(path_alt);
    free(err_scaled);
    free(series);
    free(names);
    return st;
}

ncmp_status ncmp_temporal_write_figures(const ncmp_temporal *const *t, const ncmp_temporal_report *rep,
                                        size_t n_regions, const char *dir, ncmp_error *err)
{
    if (!n_regions)
        return ncmp_fail(err, NCMP_ERR_USAGE, "no results to draw");
    const size_t T = t[0]->n_iterations;
    for (size_t r = 1; r < n_regions; r++)
        if (t[r]->n_iterations != T)
            return ncmp_fail(err, NCMP_ERR_SHAPE, "region %zu has %zu iterations, region 0 has %zu", r,
                             t[r]->n_iterations, T);
    char *prov = NULL, png[4096], svg[4096], title[512];
    ncmp_result_inputs inputs; /* the provenance embedded in every figure */
    ncmp_status st = ncmp_result_inputs_hash(&inputs, rep[0].activations_path, rep[0].neural_path, NULL, err);
    if (st || (st = ncmp_result_inputs_text(&inputs, &prov, err)))
        return st;
    for (size_t r = 0; r < n_regions && !st; r++) {
        char suffix[160] = "";
        if (n_regions > 1)
            snprintf(suffix, sizeof suffix, "_%s", rep[r].region ? rep[r].region : "all");
        st = region_figures(t[r], &rep[r], dir, suffix, prov, err);
    }
    /* Score vs iteration, per region: the standard window when it was scored, and (for
     * one region) also the best time bin of each iteration. */
    size_t n_series = n_regions + (n_regions == 1 ? 1 : 0);
    double *vals = malloc(n_series * 2 * T * sizeof *vals), *xi = malloc(T * sizeof *xi);
    ncmp_line_series *series = calloc(n_series, sizeof *series);
    char(*labels)[160] = calloc(n_series, sizeof *labels);
    if (!st && (!vals || !xi || !series || !labels))
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    size_t ns = 0;
    bool any_ceiled = false;
    for (size_t r = 0; r < n_regions && !st; r++) {
        const ncmp_temporal *tr = t[r];
        const char *region = rep[r].region ? rep[r].region : "all";
        bool ceiled = shows_ceiled(tr);
        any_ceiled = any_ceiled || ceiled;
        for (int pass = 0; pass < 2; pass++) {
            bool window = pass == 0;
            if (window ? !tr->has_window : (n_regions > 1 && tr->has_window))
                continue; /* several regions: one line each, the window if scored */
            double *v = vals + ns * 2 * T, *e = v + T;
            for (size_t i = 0; i < T; i++) {
                if (window) {
                    bool wc = !isnan(tr->window_ceiling);
                    v[i] = wc ? tr->window_ceiled[i] : tr->window_raw[i];
                    e[i] = wc ? ncmp_ceiled_error(tr->window_raw[i], tr->window_error[i], tr->window_ceiling,
                                                  tr->normalization)
                              : tr->window_error[i];
                } else {
                    size_t b = tr->best_bin[i], B = tr->n_bins;
                    v[i] = b < B ? (ceiled ? tr->ceiled[i * B + b] : tr->raw[i * B + b]) : NAN;
                    e[i] = b < B ? (ceiled ? ncmp_temporal_ceiled_error(tr, i, b) : tr->error[i * B + b]) : NAN;
                }
            }
            if (window)
                snprintf(labels[ns], sizeof labels[ns], "%s, %g-%g ms window", region, tr->window_start_ms,
                         tr->window_end_ms);
            else
                snprintf(labels[ns], sizeof labels[ns], "%s, best time bin", region);
            if (ns < n_series)
                series[ns] = (ncmp_line_series){labels[ns], T, xi, v, e};
            ns++;
            if (ns == n_series)
                break;
        }
    }
    if (!st) {
        for (size_t i = 0; i < T; i++)
            xi[i] = (double)t[0]->iterations[i];
        snprintf(title, sizeof title, "%s: score vs model iteration%s (bars: standard error over splits)", rep[0].layer,
                 n_regions > 1 ? " per region" : "");
        ncmp_plot_meta meta = {title, prov};
        ncmp_line_plot ip = {
            series, ns, "model iteration", any_ceiled ? "ceiled predictivity" : "raw predictivity", xi, T, NAN,
            NAN,    NAN};
        if (figure_paths(dir, "score_vs_iteration", png, svg, sizeof png))
            st = ncmp_fail(err, NCMP_ERR_USAGE, "figure path under '%s' is too long", dir);
        else
            st = ncmp_plot_lines(&ip, &meta, 900, 520, png, svg, err);
    }
    free(vals);
    free(xi);
    free(series);
    free(labels);
    free(prov);
    return st;
}
