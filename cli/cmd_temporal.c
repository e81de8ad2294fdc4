/* neurocmp temporal: predictivity of every model iteration for every neural time bin (docs/temporal.md). */
#include "results/activations.h"
#include "results/report.h"
#include "analysis/splits.h"
#include "results/temporal.h"
#include "results/temporal_output.h"
#include "cli/commands.h"
#include "core/dist.h"
#include "core/log.h"
#include "core/paths.h"
#include "neural/assembly.h"
#include "neural/io.h"
#include "results/splits_json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* "all" or "0,2,5" -> iteration values (*values NULL for all). */
static ncmp_status parse_iterations(const char *text, long long **values, size_t *n, ncmp_error *err)
{
    *values = NULL;
    *n = 0;
    if (!strcmp(text, "all"))
        return NCMP_OK;
    size_t cap = 1;
    for (const char *c = text; *c; c++)
        cap += *c == ',';
    long long *v = malloc(cap * sizeof *v);
    if (!v)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    const char *c = text;
    for (size_t i = 0; i < cap; i++) {
        char *end;
        errno = 0;
        v[i] = strtoll(c, &end, 10);
        if (end == c || errno || (*end && *end != ',')) {
            free(v);
            return ncmp_fail(err, NCMP_ERR_USAGE, "--iterations '%s': expected 'all' or a list such as 0,1,5", text);
        }
        c = end + (*end == ',');
    }
    *values = v;
    *n = cap;
    return NCMP_OK;
}

static void print_table(const ncmp_temporal *t)
{
    const size_t T = t->n_iterations, B = t->n_bins;
    bool ceiled = false;
    for (size_t b = 0; b < B; b++)
        ceiled = ceiled || !isnan(t->ceiling[b]);
    cli_printf("\n%s score per time bin (rows) and model iteration (columns); * = best iteration of the bin\n",
               ceiled ? "ceiled" : "raw");
    cli_printf("  %15s %8s ", "bin (ms)", "ceiling");
    for (size_t i = 0; i < T; i++)
        cli_printf(" %7s%-3lld", "t=", t->iterations[i]);
    cli_printf("\n");
    for (size_t b = 0; b < B; b++) {
        char bin[32];
        snprintf(bin, sizeof bin, "%g-%g", t->bin_start[b], t->bin_end[b]);
        cli_printf("  %15s ", bin);
        if (isnan(t->ceiling[b]))
            cli_printf("%8s ", "-");
        else
            cli_printf("%8.4f ", t->ceiling[b]);
        for (size_t i = 0; i < T; i++) {
            double v = ceiled ? t->ceiled[i * B + b] : t->raw[i * B + b];
            cli_printf(" %9.4f%c", v, t->best_iteration[b] == i ? '*' : ' ');
        }
        cli_printf("\n");
    }
    cli_printf("\n  %15s ", "peak latency");
    cli_printf("%8s ", "");
    for (size_t i = 0; i < T; i++)
        cli_printf(" %7.1fms", t->peak_latency_ms[i]);
    cli_printf("\n");
    cli_printf("\n  best monotone path (the iteration never decreases with time): ");
    for (size_t b = 0; b < B; b++)
        cli_printf("%s%lld", b ? " " : "", t->iterations[t->best_path[b]]);
    cli_printf("; mean %.4f\n", t->best_path_mean);
    if (t->has_map) {
        cli_printf("  committed map %s (%s scores, Brain-Score's TemporalAligned):\n  %15s %8s  %9s %9s %9s\n",
                   t->map_text, ceiled ? "ceiled" : "raw", "bin (ms)", "ceiling", "raw", "error", "ceiled");
        for (size_t b = 0; b < B; b++) {
            char bin[32];
            snprintf(bin, sizeof bin, "%g-%g", t->bin_start[b], t->bin_end[b]);
            cli_printf("  %15s %8.4f  %9.4f %9.4f %9.4f\n", bin, t->ceiling[b], t->map_raw[b], t->map_error[b],
                       t->map_ceiled[b]);
        }
        cli_printf("  %15s %8s  mean over bins %.4f\n", "", "", t->map_mean);
    }
    if (t->has_window) {
        cli_printf("  %15s %8.4f ", "window", t->window_ceiling);
        for (size_t i = 0; i < T; i++)
            cli_printf(" %9.4f ", isnan(t->window_ceiling) ? t->window_raw[i] : t->window_ceiled[i]);
        cli_printf("  (%g-%g ms, as 'neurocmp score')\n", t->window_start_ms, t->window_end_ms);
    }
}

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* A failure every rank meets alike (bad arguments), agreed so that the job ends cleanly under MPI. */
static int report_everywhere(ncmp_error *err)
{
    if (ncmp_dist_parallel())
        ncmp_dist_agree(err->status, err);
    return cli_report(err);
}

int cmd_temporal(int argc, char **argv)
{
    const char *activations = NULL, *layer = NULL, *neural = NULL, *region = NULL, *bins = "all";
    const char *mode = "per-bin", *metric = "pls", *iterations = "all", *window = "70:170";
    const char *out = NULL, *report = NULL, *splits_from = NULL, *splits_to = NULL, *solver = "auto";
    const char *normalization = "ev", *map_text = NULL;
    long components = 25, block_mb = 256;
    bool force = false, no_figures = false;
    double vmin = NAN, vmax = NAN;
    const cli_option options[] = {
        {.name = "activations",
         .kind = CLI_STRING,
         .target = &activations,
         .metavar = "FILE.h5",
         .required = true,
         .help = "activations file (docs/formats.md, Activations) with the layer at every iteration"},
        {.name = "layer",
         .kind = CLI_STRING,
         .target = &layer,
         .metavar = "L",
         .required = true,
         .help = "layer to score"},
        {.name = "neural",
         .kind = CLI_STRING,
         .target = &neural,
         .metavar = "FILE.nc",
         .required = true,
         .help = "recordings with a time_bin dimension (BrainIO netCDF-4)"},
        {.name = "region",
         .kind = CLI_STRING,
         .target = &region,
         .metavar = "R[,R2..]",
         .help = "only the neuroids of this region (default: all); several: a matrix each, compared in the figures"},
        {.name = "bins",
         .kind = CLI_STRING,
         .target = &bins,
         .metavar = "all|A:B:STEP",
         .help = "the recording's own bins, or windows [A, A+STEP), ... up to B ms averaging the bins inside"},
        {.name = "mode",
         .kind = CLI_STRING,
         .target = &mode,
         .metavar = "M",
         .help = "per-bin (one regression per bin: Brain-Score's PerTimeRegression), span (one PLS over the stacked "
                 "(stimulus, bin) samples: SpanTimeRegression) or shared (one PLS over every bin's neuroids)"},
        {.name = "map",
         .kind = CLI_STRING,
         .target = &map_text,
         .metavar = "I@A:B,..|linear:A:STEP",
         .help = "also score a committed mapping of iterations onto time (Brain-Score's TemporalAligned): iteration I "
                 "covers A..B ms; linear: the k-th iteration covers A+k STEP..A+(k+1) STEP"},
        {.name = "metric", .kind = CLI_STRING, .target = &metric, .metavar = "M", .help = "pls or ridge"},
        {.name = "normalization",
         .kind = CLI_STRING,
         .target = &normalization,
         .metavar = "N",
         .help = "ceiled = raw^2/ceiling (ev, Brain-Score since 2026), (raw/ceiling)^2 (ev2024) or raw/ceiling "
                 "(ratio, Brain-Score 1.x)"},
        {.name = "iterations",
         .alias = "iteration",
         .kind = CLI_STRING,
         .target = &iterations,
         .metavar = "all|LIST",
         .help = "model iterations to score, e.g. 0,1,5"},
        {.name = "time-window",
         .kind = CLI_STRING,
         .target = &window,
         .metavar = "A:B|none",
         .help = "also score this standard window per iteration (as 'neurocmp score')"},
        {.name = "components", .kind = CLI_INT, .target = &components, .metavar = "K", .help = "PLS components"},
        {.name = "solver",
         .kind = CLI_STRING,
         .target = &solver,
         .metavar = "S",
         .help = "auto (kernel when features outnumber training stimuli), nipals or kernel, as 'score'"},
        {.name = "block-mb",
         .kind = CLI_INT,
         .target = &block_mb,
         .metavar = "MB",
         .help = "memory for streaming feature blocks into the Gram matrix"},
        {.name = "splits-from",
         .kind = CLI_STRING,
         .target = &splits_from,
         .metavar = "FILE.json",
         .help = "use these train/test splits (e.g. from 'score --splits-to')"},
        {.name = "splits-to",
         .kind = CLI_STRING,
         .target = &splits_to,
         .metavar = "FILE.json",
         .output = true,
         .help = "write the splits used as JSON"},
        {.name = "out",
         .short_name = 'o',
         .kind = CLI_STRING,
         .target = &out,
         .metavar = "DIR",
         .help = "write temporal.json, temporal.h5 (per-neuroid values) and the figures here"},
        {.name = "report",
         .kind = CLI_STRING,
         .target = &report,
         .metavar = "DIR",
         .help = "write an offline HTML + Markdown report with figures and tables here"},
        {.name = "no-figures", .kind = CLI_FLAG, .target = &no_figures, .help = "with --out: skip the PNG/SVG figures"},
        {.name = "vmin",
         .kind = CLI_DOUBLE,
         .target = &vmin,
         .metavar = "V",
         .help = "heatmap: lower end of the colour scale (default: the data's), to compare figures"},
        {.name = "vmax",
         .kind = CLI_DOUBLE,
         .target = &vmax,
         .metavar = "V",
         .help = "heatmap: upper end of the colour scale (default: the data's)"},
        {.name = "force",
         .short_name = 'f',
         .kind = CLI_FLAG,
         .target = &force,
         .help = "replace existing output files"},
    };
    const cli_command cmd = {
        .name = "temporal",
        .usage = "",
        .summary = "Predictivity of every model iteration for every neural time bin.",
        .description =
            "The matrix S[t][b] of docs/temporal.md: for each model iteration t and time bin b, the predictivity "
            "protocol of\n"
            "'neurocmp score' with the responses of bin b (time bins inside the window averaged), the same splits\n"
            "for every cell, and the ceiling of each bin. Prints the matrix, the best iteration per bin and the peak\n"
            "latency of each iteration; --out writes JSON, HDF5 (per-neuroid values) and figures, --report a page.\n"
            "Each cell equals 'neurocmp score --time-window START:END --iteration t' with the same splits.",
        .options = options,
        .n_options = sizeof options / sizeof options[0],
        .min_positional = 0,
        .max_positional = 0,
    };
    ncmp_error err;
    int rc = cli_start(&cmd, argc, argv, &err);
    if (rc >= 0) {
        if (rc > 0) /* every rank met the same usage error: end them all cleanly */
            ncmp_dist_agree(NCMP_ERR_USAGE, &err);
        return rc;
    }
    ncmp_temporal_options o;
    ncmp_temporal_defaults(&o);
    if (ncmp_normalization_parse(normalization, &o.normalization, &err))
        return report_everywhere(&err);
    if (!strcmp(mode, "per-bin"))
        o.mode = NCMP_TEMPORAL_PER_BIN;
    else if (!strcmp(mode, "shared"))
        o.mode = NCMP_TEMPORAL_SHARED;
    else if (!strcmp(mode, "span"))
        o.mode = NCMP_TEMPORAL_SPAN;
    else {
        ncmp_fail(&err, NCMP_ERR_USAGE, "--mode '%s': expected per-bin, span or shared", mode);
        return report_everywhere(&err);
    }
    if (!strcmp(metric, "pls"))
        o.metric = NCMP_TEMPORAL_PLS;
    else if (!strcmp(metric, "ridge"))
        o.metric = NCMP_TEMPORAL_RIDGE;
    else {
        ncmp_fail(&err, NCMP_ERR_USAGE, "--metric '%s': expected pls or ridge", metric);
        return report_everywhere(&err);
    }
    if (components < 1 || components > 10000 || block_mb < 1 || block_mb > 1 << 20) {
        ncmp_fail(&err, NCMP_ERR_USAGE, "--components must be in 1..10000 and --block-mb in 1..1048576");
        return report_everywhere(&err);
    }
    o.pls.n_components = (int)components;
    if (ncmp_pls_solver_parse(solver, &o.pls.solver, &err))
        return report_everywhere(&err);
    o.block_bytes = (size_t)block_mb << 20;
    o.splits_path = splits_from;
    o.progress = true;
    if (cli_parse_time_window(window, true, &o.window_start_ms, &o.window_end_ms, &err))
        return report_everywhere(&err);
    /* One or more regions ("V4,IT"): a matrix each, figures and report over all of them. */
    size_t n_regions = 1;
    char *region_list = region ? strdup(region) : NULL;
    char *regions[64] = {NULL};
    if (region_list) {
        n_regions = 0;
        for (char *tok = strtok(region_list, ","); tok; tok = strtok(NULL, ","))
            if (n_regions < 64 && *tok)
                regions[n_regions++] = tok;
        if (!n_regions) {
            free(region_list);
            ncmp_fail(&err, NCMP_ERR_USAGE, "--region '%s': no region named", region);
            return report_everywhere(&err);
        }
    }
    char(*json_path)[4096] = calloc(n_regions, sizeof *json_path),
    (*h5_path)[4096] = calloc(n_regions, sizeof *h5_path);
    ncmp_temporal **t = calloc(n_regions, sizeof *t);
    ncmp_temporal_report *rep = calloc(n_regions, sizeof *rep);
    ncmp_activations *acts = NULL;
    ncmp_assembly *a = NULL;
    long long *its = NULL;
    double *bs = NULL, *be = NULL;
    ncmp_temporal_map *map = NULL;
    if (!json_path || !h5_path || !t || !rep) {
        ncmp_fail(&err, NCMP_ERR_NOMEM, "out of memory");
        goto fail;
    }
    const char *dir = out ? out : report;
    const bool root = ncmp_dist_rank() == 0;
    for (size_t r = 0; r < n_regions; r++) {
        const char *R = regions[r];
        if (dir) {
            if (n_regions > 1) {
                snprintf(json_path[r], sizeof json_path[r], "%s/temporal_%s.json", dir, R);
                snprintf(h5_path[r], sizeof h5_path[r], "%s/temporal_%s.h5", dir, R);
            } else {
                snprintf(json_path[r], sizeof json_path[r], "%s/temporal.json", dir);
                snprintf(h5_path[r], sizeof h5_path[r], "%s/temporal.h5", dir);
            }
            if (!force && (exists(json_path[r]) || exists(h5_path[r]))) {
                ncmp_fail(&err, NCMP_ERR_EXISTS, "'%s' already holds temporal results; use --force to replace them",
                          dir);
                goto fail;
            }
        }
        rep[r] = (ncmp_temporal_report){
            .layer = layer,
            .region = R,
            .metric = metric,
            .mode = mode,
            .activations_path = activations,
            .neural_path = neural,
            .splits_path = splits_from,
            .details_path = dir ? h5_path[r] : NULL,
            .n_components = o.metric == NCMP_TEMPORAL_PLS ? (int)components : 0,
            .vmin = vmin,
            .vmax = vmax,
        };
    }
    if (parse_iterations(iterations, &its, &o.n_iterations, &err))
        goto fail;
    o.iterations = its;
    if (ncmp_activations_open(activations, &acts, &err) || ncmp_assembly_read_netcdf(neural, &a, &err))
        goto fail;
    if (ncmp_temporal_parse_bins(bins, a, &bs, &be, &o.n_bins, &err)) {
        ncmp_error_context(&err, "%s", neural);
        goto fail;
    }
    o.bin_start = bs;
    o.bin_end = be;
    if (map_text) {
        const long long *mi = its ? its : acts->iterations;
        if (ncmp_temporal_map_parse(map_text, mi, its ? o.n_iterations : acts->n_iterations, &map, &err))
            goto fail;
        o.map = map;
    }
    for (size_t r = 0; r < n_regions; r++) {
        const char *R = regions[r];
        cli_printf("%stemporal: layer %s of %s vs %s%s%s; %zu time bins, %s, %s\n", r ? "\n" : "", layer, activations,
                   neural, R ? ", region " : "", R ? R : "", o.n_bins, metric, mode);
        fflush(stdout);
        if (ncmp_temporal_compute(acts, layer, a, R, &o, &t[r], &err)) {
            if (n_regions > 1)
                ncmp_error_context(&err, "region %s", R);
            goto fail;
        }
        cli_printf("%zu stimuli x %zu features, %zu neuroids; %s\n", t[r]->n_stimuli, t[r]->n_features,
                   t[r]->n_neuroids, t[r]->splits->description);
        if (t[r]->n_unused_activations)
            ncmp_log_info("%zu stimuli of %s are not in the recordings and are not used", t[r]->n_unused_activations,
                          activations);
        if (o.metric == NCMP_TEMPORAL_PLS && t[r]->min_components_used < o.pls.n_components)
            ncmp_log_warn("the responses were fully explained after %d components in some cell",
                          t[r]->min_components_used);
        if (!root) /* rank 0 alone writes the results (docs/scale-out.md) */
            continue;
        print_table(t[r]);
        if (dir) {
            if (ncmp_make_directories(dir, &err) || ncmp_temporal_write_h5(t[r], &rep[r], h5_path[r], force, &err) ||
                ncmp_temporal_write_json(t[r], &rep[r], json_path[r], &err))
                goto fail;
            cli_printf("\nwrote %s, %s\n", json_path[r], h5_path[r]);
        }
    }
    if (!root)
        goto written;
    if (splits_to && ncmp_splits_write_json(t[0]->splits, (const char *const *)t[0]->stimulus_ids, splits_to, &err))
        goto fail;
    const ncmp_temporal *const *results = (const ncmp_temporal *const *)t;
    if (dir && (!no_figures || report)) {
        if (ncmp_temporal_write_figures(results, rep, n_regions, dir, &err))
            goto fail;
        cli_printf("wrote the figures (PNG and SVG) to %s\n", dir);
    }
    if (report) {
        if (out && strcmp(out, report) &&
            (ncmp_make_directories(report, &err) || ncmp_temporal_write_figures(results, rep, n_regions, report, &err)))
            goto fail;
        if (ncmp_report_write_temporal(results, rep, n_regions, report, &err))
            goto fail;
        cli_printf("wrote %s/index.html and %s/report.md\n", report, report);
    }
written:
    if (ncmp_dist_agree(NCMP_OK, &err)) /* rank 0 wrote everything (or every rank learns why not) */
        goto fail;
    rc = 0;
    goto cleanup;
fail:
    /* Under MPI a failure this rank met alone is agreed here, matching the other ranks' next ncmp_dist_agree (each
     * collective step of the scoring starts with one, and so does the end above), so every rank ends with it. */
    if (ncmp_dist_parallel() && !ncmp_dist_failure_agreed())
        ncmp_dist_agree(err.status, &err);
    rc = cli_report(&err);
cleanup:
    ncmp_temporal_map_free(map);
    for (size_t r = 0; t && r < n_regions; r++)
        ncmp_temporal_free(t[r]);
    free(t);
    free(rep);
    free(json_path);
    free(h5_path);
    free(region_list);
    ncmp_activations_close(acts);
    ncmp_assembly_free(a);
    free(its);
    free(bs);
    free(be);
    return rc;
}
