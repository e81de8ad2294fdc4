/* neurocmp score: predictivity of layers' activations for neural recordings (docs/scoring.md). */
#include "analysis/normalization.h"
#include "cli/commands.h"
#include "core/dist.h"
#include "core/log.h"
#include "core/paths.h"
#include "neural/assembly.h"
#include "neural/io.h"
#include "results/activations.h"
#include "results/protocol.h"
#include "results/score_details.h"
#include "results/score_json.h"
#include "results/score_table.h"
#include "results/score_table_output.h"
#include "results/splits_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --region each: every region of the recordings, in order of first appearance. */
static ncmp_status every_region(const ncmp_assembly *a, char ***out, size_t *n, ncmp_error *err)
{
    *out = NULL;
    *n = 0;
    const ncmp_coord *rg = ncmp_coord_find(&a->neuroid, "region");
    if (!rg || !rg->strings)
        return ncmp_fail(err, NCMP_ERR_NOT_FOUND, "--region each: the recordings have no 'region' coordinate");
    char **v = calloc(a->n_neuroids ? a->n_neuroids : 1, sizeof *v);
    if (!v)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    size_t k = 0;
    for (size_t j = 0; j < a->n_neuroids; j++) {
        bool seen = false;
        for (size_t r = 0; r < k && !seen; r++)
            seen = !strcmp(v[r], rg->strings[j]);
        if (!seen && !(v[k++] = strdup(rg->strings[j]))) {
            for (size_t r = 0; r + 1 < k; r++)
                free(v[r]);
            free(v);
            return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        }
    }
    *out = v;
    *n = k;
    return NCMP_OK;
}

static void free_names(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

/* A failure every rank meets alike (bad arguments), agreed so that the job ends cleanly under MPI. */
static int report_everywhere(ncmp_error *err)
{
    if (ncmp_dist_parallel())
        ncmp_dist_agree(err->status, err);
    return cli_report(err);
}

/* The single form (one layer, one region): the iteration rows as they finish. */
static int print_row(const ncmp_score_table *t, const ncmp_score_cell *c, void *context)
{
    (void)context;
    if (t->metric == NCMP_METRIC_PLS && c->score->min_components_used < t->n_components)
        ncmp_log_warn("iteration %lld: the responses were fully explained after %d components in some split",
                      t->iterations[c->iteration], c->score->min_components_used);
    cli_printf("  %9lld %10.4f %10.4f ", t->iterations[c->iteration], c->score->raw, c->score->error);
    if (isnan(c->ceiled))
        cli_printf("%10s", "-");
    else
        cli_printf("%10.4f", c->ceiled);
    cli_printf(" %8.2f\n", c->seconds);
    fflush(stdout);
    return 0;
}

static void print_table(const ncmp_score_table *t)
{
    cli_printf("\n  %-12s %9s %-8s %10s %10s %10s %8s\n", "layer", "iteration", "region", "raw", "error", "ceiled",
               "seconds");
    for (size_t k = 0; k < t->n_layers * t->n_iterations * t->n_regions; k++) {
        const ncmp_score_cell *c = &t->cells[k];
        const char *r = t->regions[c->region].name;
        cli_printf("  %-12s %9lld %-8s %10.4f %10.4f ", t->layers[c->layer], t->iterations[c->iteration], r ? r : "all",
                   c->score->raw, c->score->error);
        if (isnan(c->ceiled))
            cli_printf("%10s", "-");
        else
            cli_printf("%10.4f", c->ceiled);
        cli_printf(" %8.2f\n", c->seconds);
    }
}

static void describe(const ncmp_score_table *t, ncmp_pls_solver requested)
{
    for (size_t r = 0; r < t->n_regions; r++) {
        const ncmp_score_table_region *R = &t->regions[r];
        if (t->n_regions > 1)
            cli_printf("region %s: ", R->name);
        cli_printf("%zu stimuli, %zu neuroids; %s", R->inputs->n_stimuli, R->inputs->n_neuroids,
                   R->splits->description);
        if (!isnan(R->inputs->ceiling))
            cli_printf("; ceiling %.4f +- %.4f (split-half, Spearman-Brown)", R->inputs->ceiling,
                       R->inputs->ceiling_error);
        cli_printf("\n");
    }
    for (size_t l = 0; l < t->n_layers; l++) {
        const ncmp_score_table_region *R = &t->regions[0];
        ncmp_pls_solver s = ncmp_score_solver(t->metric, requested, t->n_features[l], R->inputs->n_neuroids, R->splits);
        char method[128];
        if (t->metric == NCMP_METRIC_PLS)
            snprintf(method, sizeof method, "PLS(%d), %s solver", t->n_components,
                     s == NCMP_PLS_KERNEL ? "kernel" : "NIPALS");
        else if (t->metric == NCMP_METRIC_RIDGE || t->metric == NCMP_METRIC_OLS)
            snprintf(method, sizeof method, "%s, %s",
                     t->metric == NCMP_METRIC_RIDGE ? "RidgeCV (LOO per neuroid)" : "OLS",
                     s == NCMP_PLS_KERNEL ? "dual (streamed Gram matrix)" : "from the features");
        else
            snprintf(method, sizeof method, "%s on the test stimuli of each split",
                     t->metric == NCMP_METRIC_RSA ? "RSA (1 - Pearson RDMs, Spearman)" : "linear CKA");
        cli_printf("layer %s: %zu features; %s\n", t->layers[l], t->n_features[l], method);
    }
    if (!isnan(t->regions[0].inputs->ceiling))
        cli_printf("ceiled = %s (--normalization %s)\n", ncmp_normalization_formula(t->normalization),
                   ncmp_normalization_name(t->normalization));
}

int cmd_score(int argc, char **argv)
{
    const char *activations = NULL, *layer = NULL, *iteration = "all", *neural = NULL, *region = NULL;
    const char *metric = "pls", *window = "70:170", *out = NULL, *splits_from = NULL, *splits_to = NULL;
    const char *details = NULL, *table_path = NULL, *report = NULL, *normalization = "ev";
    const char *solver_name = "auto";
    long block_mb = 256;
    bool force = false;
    long components = 25;
    double vmin = NAN, vmax = NAN;
    const cli_option options[] = {
        {.name = "activations",
         .kind = CLI_STRING,
         .target = &activations,
         .metavar = "FILE.h5",
         .required = true,
         .help = "activations file written by 'neurocmp export' or any tool following docs/formats.md"},
        {.name = "layer",
         .kind = CLI_STRING,
         .target = &layer,
         .metavar = "L|L1,L2|all",
         .required = true,
         .help = "layer to score; a list or 'all' scores each and writes a table"},
        {.name = "iteration",
         .alias = "iterations",
         .kind = CLI_STRING,
         .target = &iteration,
         .metavar = "t|LIST|all",
         .help = "model iterations to score: one, a list such as 0,2-4, or all of them"},
        {.name = "neural",
         .kind = CLI_STRING,
         .target = &neural,
         .metavar = "FILE.nc",
         .required = true,
         .help = "recordings: a BrainIO NeuroidAssembly netCDF-4 file"},
        {.name = "region",
         .kind = CLI_STRING,
         .target = &region,
         .metavar = "R|R1,R2|each",
         .help = "only the neuroids of this region; a list or 'each' scores every region separately (default: all "
                 "neuroids together)"},
        {.name = "metric",
         .kind = CLI_STRING,
         .target = &metric,
         .metavar = "M",
         .help = "pls, ridge (RidgeCV, alpha per neuroid by leave-one-out over 1e-3..1e3), ols, rsa or cka"},
        {.name = "normalization",
         .kind = CLI_STRING,
         .target = &normalization,
         .metavar = "N",
         .help = "ceiled = raw^2/ceiling (ev, Brain-Score since 2026), (raw/ceiling)^2 (ev2024) or raw/ceiling "
                 "(ratio, Brain-Score 1.x)"},
        {.name = "time-window",
         .kind = CLI_STRING,
         .target = &window,
         .metavar = "A:B",
         .help = "average the time bins inside A..B ms"},
        {.name = "components",
         .kind = CLI_INT,
         .target = &components,
         .metavar = "K",
         .help = "PLS components (Brain-Score: 25)"},
        {.name = "solver",
         .kind = CLI_STRING,
         .target = &solver_name,
         .metavar = "S",
         .help = "auto (by a cost model, docs/scoring.md), nipals or kernel: same predictions"},
        {.name = "block-mb",
         .kind = CLI_INT,
         .target = &block_mb,
         .metavar = "MB",
         .help = "kernel solver: memory for streaming feature blocks into the Gram matrix"},
        {.name = "splits-from",
         .kind = CLI_STRING,
         .target = &splits_from,
         .metavar = "FILE.json",
         .help = "use these train/test splits instead of drawing them"},
        {.name = "splits-to",
         .kind = CLI_STRING,
         .target = &splits_to,
         .metavar = "FILE.json",
         .output = true,
         .help = "write the splits used (indices into the sorted stimulus ids) as JSON"},
        {.name = "out",
         .short_name = 'o',
         .kind = CLI_STRING,
         .target = &out,
         .metavar = "FILE.json",
         .output = true,
         .help = "write the result as JSON (a table's records for a list of layers or regions)"},
        {.name = "table",
         .kind = CLI_STRING,
         .target = &table_path,
         .metavar = "FILE.csv|.tsv",
         .output = true,
         .help = "write one row per (layer, iteration, region) as CSV, or TSV when the name ends in .tsv"},
        {.name = "report",
         .kind = CLI_STRING,
         .target = &report,
         .metavar = "DIR",
         .help = "write an offline HTML + Markdown page: a layer x iteration heatmap per region and the table"},
        {.name = "vmin",
         .kind = CLI_DOUBLE,
         .target = &vmin,
         .metavar = "V",
         .help = "report heatmaps: lower end of the colour scale (default: the data's)"},
        {.name = "vmax",
         .kind = CLI_DOUBLE,
         .target = &vmax,
         .metavar = "V",
         .help = "report heatmaps: upper end of the colour scale (default: the data's)"},
        {.name = "details",
         .kind = CLI_STRING,
         .target = &details,
         .metavar = "FILE.h5",
         .output = true,
         .help = "one layer and region: write per-split, per-neuroid Pearson r, split medians and the splits as HDF5"},
        {.name = "force",
         .short_name = 'f',
         .kind = CLI_FLAG,
         .target = &force,
         .help = "replace existing output files"},
    };
    const cli_command cmd = {
        .name = "score",
        .usage = "",
        .summary = "Predictivity of layers' activations for neural recordings.",
        .description =
            "Brain-Score's public neural predictivity protocol (docs/scoring.md): the region's neuroids, time bins\n"
            "inside the window averaged, repetitions averaged, stimuli sorted by stimulus_id and matched to the\n"
            "activations; 10 x StratifiedShuffleSplit(train_size=0.9, random_state=1) by object_name (ShuffleSplit\n"
            "without it), bit-identical to scikit-learn 1.2; PLSRegression(25, scale=False) fit on train,\n"
            "Pearson r per neuroid on test, median over neuroids, mean over splits (raw) with its standard error,\n"
            "normalised by the split-half ceiling (ceiled; null for data without repetitions).\n"
            "\n"
            "--layer all (or a list) with --iteration all scores every layer at every iteration with the same\n"
            "splits in one pass: each cell equals the single call's number, and --table/--report write it out.",
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
    ncmp_score_table_options o;
    ncmp_score_table_defaults(&o);
    if (ncmp_metric_parse(metric, &o.metric, &err) || ncmp_normalization_parse(normalization, &o.normalization, &err) ||
        ncmp_pls_solver_parse(solver_name, &o.pls.solver, &err) ||
        cli_parse_time_window(window, false, &o.window_start_ms, &o.window_end_ms, &err))
        return report_everywhere(&err);
    if (components < 1 || components > 10000) {
        ncmp_fail(&err, NCMP_ERR_USAGE, "--components must be in 1..10000, got %ld", components);
        return report_everywhere(&err);
    }
    if (block_mb < 1 || block_mb > 1 << 20) {
        ncmp_fail(&err, NCMP_ERR_USAGE, "--block-mb must be in 1..1048576, got %ld", block_mb);
        return report_everywhere(&err);
    }
    o.pls.n_components = (int)components;
    o.block_bytes = (size_t)block_mb << 20;
    o.splits_path = splits_from;
    char **layers = NULL, **regions = NULL;
    size_t n_layers = 0, n_regions = 0;
    long long *its = NULL;
    size_t n_its = 0;
    ncmp_activations *acts = NULL;
    ncmp_assembly *a = NULL;
    ncmp_score_table *t = NULL;
    const bool root = ncmp_dist_rank() == 0;
    const bool table_form = strchr(layer, ',') || !strcmp(layer, "all") || (region && strchr(region, ',')) ||
                            (region && !strcmp(region, "each"));
    if (ncmp_parse_name_list("layer", layer, &layers, &n_layers, &err) ||
        ncmp_parse_iteration_list("iteration", iteration, &its, &n_its, &err))
        goto fail;
    if (region && strcmp(region, "each") && ncmp_parse_name_list("region", region, &regions, &n_regions, &err))
        goto fail;
    if (table_form && details) {
        ncmp_fail(&err, NCMP_ERR_USAGE,
                  "--details takes one layer and one region (it holds every per-neuroid value); score the layer "
                  "you want to compare on its own");
        goto fail;
    }
    if (report && root && ncmp_make_directories(report, &err))
        goto fail;
    if (ncmp_activations_open(activations, &acts, &err))
        goto fail;
    for (size_t l = 0; l < n_layers; l++) { /* a misspelt layer is reported before the recordings are read */
        size_t n_features;
        if (ncmp_activations_layer_features(acts, layers[l], &n_features, &err))
            goto fail;
    }
    if (ncmp_assembly_read_netcdf(neural, &a, &err))
        goto fail;
    if (region && !strcmp(region, "each") && every_region(a, &regions, &n_regions, &err))
        goto fail;
    o.layers = layers ? (const char *const *)layers : NULL;
    o.n_layers = n_layers;
    o.iterations = its;
    o.n_iterations = n_its;
    o.regions = regions ? (const char *const *)regions : NULL;
    o.n_regions = n_regions;
    o.progress = table_form;
    if (ncmp_score_table_prepare(acts, a, &o, &t, &err))
        goto fail;
    const ncmp_score_inputs *in0 = t->regions[0].inputs;
    if (isnan(in0->window_start_ms) && strcmp(window, "70:170"))
        ncmp_log_warn("%s has no time bins; --time-window does not apply", neural);
    if (in0->n_unused_activations)
        ncmp_log_info("%zu stimuli of %s are not in the recordings and are not used", in0->n_unused_activations,
                      activations);
    if (splits_to && root) {
        for (size_t r = 1; r < t->n_regions; r++)
            if (t->regions[r].inputs->n_stimuli != in0->n_stimuli) {
                ncmp_fail(&err, NCMP_ERR_USAGE,
                          "--splits-to: regions %s and %s have different stimuli, so different splits; score them "
                          "separately",
                          t->regions[0].name, t->regions[r].name);
                goto fail;
            }
        if (ncmp_splits_write_json(t->regions[0].splits, (const char *const *)in0->stimulus_ids, splits_to, &err))
            goto fail;
    }
    if (table_form)
        cli_printf("score: %zu layer%s x %zu iteration%s x %zu region%s of %s vs %s\n", t->n_layers,
                   t->n_layers > 1 ? "s" : "", t->n_iterations, t->n_iterations > 1 ? "s" : "", t->n_regions,
                   t->n_regions > 1 ? "s" : "", activations, neural);
    else
        cli_printf("score: layer %s of %s vs %s%s%s\n", layer, activations, neural, region ? ", region " : "",
                   region ? region : "");
    describe(t, o.pls.solver);
    if (!table_form)
        cli_printf("\n  %9s %10s %10s %10s %8s\n", "iteration", "raw", "error", "ceiled", "seconds");
    if (ncmp_dist_agree(NCMP_OK, &err)) /* every rank prepared: the scoring's collectives can start */
        goto fail;
    if (ncmp_score_table_run(t, acts, &o, table_form ? NULL : print_row, NULL, &err))
        goto fail;
    if (!root) /* rank 0 alone holds the scores and writes the results */
        goto written;
    if (table_form)
        print_table(t);
    ncmp_score_table_report rep = {activations, neural, splits_from, metric, vmin, vmax};
    if (out) {
        if (table_form) {
            if (ncmp_score_table_write_json(t, &rep, out, &err))
                goto fail;
        } else {
            /* the single form: one record, arrays over iterations (docs/formats.md "Score results") */
            ncmp_score **scores = malloc(t->n_iterations * sizeof *scores);
            if (!scores) {
                ncmp_fail(&err, NCMP_ERR_NOMEM, "out of memory");
                goto fail;
            }
            for (size_t i = 0; i < t->n_iterations; i++)
                scores[i] = ncmp_score_table_cell(t, 0, i, 0)->score;
            char bench[512];
            const char *base = strrchr(neural, '/');
            snprintf(bench, sizeof bench, "%s:%s-%s", base ? base + 1 : neural, region ? region : "all", metric);
            ncmp_score_report sr = {
                .benchmark = bench,
                .metric = metric,
                .layer = t->layers[0],
                .region = region,
                .activations_path = activations,
                .neural_path = neural,
                .splits_path = splits_from,
                .splits_description = t->regions[0].splits->description,
                .seed = splits_from ? t->regions[0].splits->seed : 1,
                .window_start_ms = in0->window_start_ms,
                .window_end_ms = in0->window_end_ms,
                .ceiling = in0->ceiling,
                .ceiling_error = in0->ceiling_error,
                .n_components = o.metric == NCMP_METRIC_PLS ? (size_t)components : 0,
                .details_path = details,
                .normalization = o.normalization,
            };
            ncmp_status st = ncmp_score_write_json((const ncmp_score *const *)scores, t->iterations, t->n_iterations,
                                                   &sr, out, &err);
            free(scores);
            if (st)
                goto fail;
        }
        cli_printf("\nwrote %s\n", out);
    }
    if (table_path) {
        size_t len = strlen(table_path);
        char sep = len > 4 && !strcmp(table_path + len - 4, ".tsv") ? '\t' : ',';
        if (ncmp_score_table_write_csv(t, sep, table_path, &err))
            goto fail;
        cli_printf("wrote %s\n", table_path);
    }
    if (report) {
        if (ncmp_score_table_write_report(t, &rep, report, &err))
            goto fail;
        cli_printf("wrote %s/index.html and %s/report.md\n", report, report);
    }
    if (details) {
        ncmp_score **scores = malloc(t->n_iterations * sizeof *scores);
        if (!scores) {
            ncmp_fail(&err, NCMP_ERR_NOMEM, "out of memory");
            goto fail;
        }
        for (size_t i = 0; i < t->n_iterations; i++)
            scores[i] = ncmp_score_table_cell(t, 0, i, 0)->score;
        ncmp_status st = ncmp_score_write_details(details, force, (const ncmp_score *const *)scores, t->iterations,
                                                  t->n_iterations, in0, t->regions[0].splits, a, region, t->layers[0],
                                                  metric, activations, neural, o.normalization, &err);
        free(scores);
        if (st)
            goto fail;
        cli_printf("wrote %s\n", details);
    }
written:
    if (ncmp_dist_agree(NCMP_OK, &err))
        goto fail;
    rc = 0;
    goto cleanup;
fail:
    /* Under MPI a failure this rank met alone is agreed here, matching the other ranks' next ncmp_dist_agree (each
     * collective step of the scoring starts with one, and so do the two above), so every rank ends with it. */
    if (ncmp_dist_parallel() && !ncmp_dist_failure_agreed())
        ncmp_dist_agree(err.status, &err);
    rc = cli_report(&err);
cleanup:
    ncmp_score_table_free(t);
    free_names(layers, n_layers);
    free_names(regions, n_regions);
    free(its);
    ncmp_assembly_free(a);
    ncmp_activations_close(acts);
    return rc;
}
