/* neurocmp compare: is one model (or iteration) more predictive than another, with a p-value (analysis/compare.h). */
#include "analysis/normalization.h"
#include "results/activations.h"
#include "analysis/compare.h"
#include "results/compare_io.h"
#include "results/protocol.h"
#include "analysis/splits.h"
#include "cli/commands.h"
#include "core/log.h"
#include "neural/assembly.h"
#include "neural/io.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static ncmp_status parse_pair(const char *text, long long *a, long long *b, ncmp_error *err)
{
    char *end;
    errno = 0;
    *a = strtoll(text, &end, 10);
    if (end == text || *end != ',' || errno)
        return ncmp_fail(err, NCMP_ERR_USAGE, "--iterations '%s': expected two iterations A,B, e.g. 5,0", text);
    const char *second = end + 1;
    *b = strtoll(second, &end, 10);
    if (end == second || *end || errno)
        return ncmp_fail(err, NCMP_ERR_USAGE, "--iterations '%s': expected two iterations A,B, e.g. 5,0", text);
    return NCMP_OK;
}

/* Score one model from its activations on the shared inputs/splits and keep its predictions. */
static ncmp_status score_model(const char *path, const char *layer, long long t, const ncmp_assembly *neural,
                               const char *region, double w0, double w1, const ncmp_splits *splits_in,
                               ncmp_splits **splits_out, const char *splits_from, ncmp_metric metric,
                               const ncmp_pls_options *po, ncmp_prediction_set **out, ncmp_error *err)
{
    ncmp_activations *acts = NULL;
    ncmp_score_inputs *in = NULL;
    ncmp_score *score = NULL;
    ncmp_splits *own = NULL;
    size_t it = 0;
    ncmp_status st;
    if ((st = ncmp_activations_open(path, &acts, err)) || (st = ncmp_activations_iteration_index(acts, t, &it, err)) ||
        (st = ncmp_score_inputs_prepare(neural, region, w0, w1, acts, &in, err)))
        goto done;
    const ncmp_splits *splits = splits_in;
    if (!splits) {
        if ((st = ncmp_score_inputs_splits(in, splits_from, &own, err)))
            goto done;
        splits = own;
    } else if (splits->n_samples != in->n_stimuli) {
        st = ncmp_fail(err, NCMP_ERR_SHAPE, "%s: %zu stimuli match the recordings, the first model had %zu", path,
                       in->n_stimuli, splits->n_samples);
        goto done;
    }
    char label[512];
    const char *base = strrchr(path, '/');
    snprintf(label, sizeof label, "%s t=%lld (%s)", layer, t, base ? base + 1 : path);
    cli_printf("  scoring %s ...\n", label);
    fflush(stdout);
    if ((st = ncmp_score_layer(acts, layer, it, in, splits, metric, po, (size_t)256 << 20, &score, err)) ||
        (st = ncmp_prediction_set_from_score(score, splits, in, label, path, out, err)))
        goto done;
    if (splits_out) {
        *splits_out = own;
        own = NULL;
    }
done:
    if (st)
        ncmp_error_context(err, "%s, layer %s, iteration %lld", path, layer, t);
    ncmp_score_free(score);
    ncmp_splits_free(own);
    ncmp_score_inputs_free(in);
    ncmp_activations_close(acts);
    return st;
}

int cmd_compare(int argc, char **argv)
{
    const char *activations = NULL, *activations_b = NULL, *layer = NULL, *layer_b = NULL, *iterations = NULL;
    const char *neural = NULL, *region = NULL, *metric = "pls", *window = "70:170", *out = NULL;
    const char *splits_from = NULL, *normalization = "ev";
    long iteration_a = -1, iteration_b = -1, n_boot = 1000, n_perm = 1000, seed = 0, components = 25;
    double confidence = 0.95;
    bool force = false;
    const cli_option options[] = {
        {.name = "activations",
         .kind = CLI_STRING,
         .target = &activations,
         .metavar = "FILE.h5",
         .help = "activations of model A (and of B unless --activations-b)"},
        {.name = "activations-b",
         .kind = CLI_STRING,
         .target = &activations_b,
         .metavar = "FILE.h5",
         .help = "activations of model B, e.g. a feed-forward CNN against a CNN-F"},
        {.name = "layer", .kind = CLI_STRING, .target = &layer, .metavar = "L", .help = "layer of model A"},
        {.name = "layer-b",
         .kind = CLI_STRING,
         .target = &layer_b,
         .metavar = "L",
         .help = "layer of B (default: --layer)"},
        {.name = "iterations",
         .kind = CLI_STRING,
         .target = &iterations,
         .metavar = "A,B",
         .help = "iteration of model A and of model B, e.g. 5,0 (CNN-F-5 against its feed-forward pass)"},
        {.name = "neural",
         .kind = CLI_STRING,
         .target = &neural,
         .metavar = "FILE.nc",
         .help = "recordings (BrainIO netCDF-4) both models are scored on"},
        {.name = "region",
         .kind = CLI_STRING,
         .target = &region,
         .metavar = "R",
         .help = "only this region's neuroids"},
        {.name = "time-window",
         .kind = CLI_STRING,
         .target = &window,
         .metavar = "A:B",
         .help = "average the time bins inside A..B ms (one bin: its START:END)"},
        {.name = "metric", .kind = CLI_STRING, .target = &metric, .metavar = "M", .help = "pls, ridge or ols"},
        {.name = "components", .kind = CLI_INT, .target = &components, .metavar = "K", .help = "PLS components"},
        {.name = "splits-from",
         .kind = CLI_STRING,
         .target = &splits_from,
         .metavar = "FILE.json",
         .help = "use these train/test splits for both models"},
        {.name = "iteration-a",
         .kind = CLI_INT,
         .target = &iteration_a,
         .metavar = "t",
         .help = "files: the iteration of A when its details file holds several"},
        {.name = "iteration-b",
         .kind = CLI_INT,
         .target = &iteration_b,
         .metavar = "t",
         .help = "files: the iteration of B when its details file holds several"},
        {.name = "bootstrap",
         .kind = CLI_INT,
         .target = &n_boot,
         .metavar = "N",
         .help = "bootstrap resamples of the test stimuli (0: none)"},
        {.name = "permutations",
         .kind = CLI_INT,
         .target = &n_perm,
         .metavar = "N",
         .help = "sign-flip permutations of the paired predictions (0: none)"},
        {.name = "confidence", .kind = CLI_DOUBLE, .target = &confidence, .metavar = "C", .help = "interval level"},
        {.name = "normalization",
         .kind = CLI_STRING,
         .target = &normalization,
         .metavar = "N",
         .help = "ceiled scores as ev (raw^2/ceiling, Brain-Score since 2026), ev2024 ((raw/ceiling)^2) or ratio "
                 "(raw/ceiling)"},
        {.name = "seed",
         .kind = CLI_INT,
         .target = &seed,
         .metavar = "S",
         .help = "seed of the resampling (NumPy RandomState(S) stream)"},
        {.name = "out",
         .short_name = 'o',
         .kind = CLI_STRING,
         .target = &out,
         .metavar = "FILE.json",
         .output = true,
         .help = "write the comparison as JSON"},
        {.name = "force", .short_name = 'f', .kind = CLI_FLAG, .target = &force, .help = "replace an existing --out"},
    };
    const cli_command cmd = {
        .name = "compare",
        .usage = "[A.h5|A.json B.h5|B.json]",
        .summary = "Paired statistics: does model A predict the recordings better than model B?",
        .description =
            "Both models are scored with the same splits on the same responses, and their test predictions are\n"
            "compared stimulus by stimulus: the score difference (A - B) with a percentile bootstrap interval over\n"
            "test stimuli, a two-sided permutation test that swaps A's and B's predictions of random stimuli, and a\n"
            "descriptive sign test over neuroids. Name the models either by activations (--activations, --layer,\n"
            "--iterations A,B, optionally --activations-b/--layer-b, --neural) or as two 'neurocmp score --details'\n"
            "files (or the score JSONs naming them) scored on the same splits.",
        .options = options,
        .n_options = sizeof options / sizeof options[0],
        .min_positional = 0,
        .max_positional = 2,
    };
    cli_parsed p;
    int rc = cli_begin(&cmd, argc, argv, &p);
    if (rc >= 0)
        return rc;
    ncmp_error err;
    ncmp_error_clear(&err);
    char *file_a = p.n_positional > 0 ? strdup(p.positional[0]) : NULL;
    char *file_b = p.n_positional > 1 ? strdup(p.positional[1]) : NULL;
    size_t n_files = p.n_positional;
    cli_parsed_free(&p);
    ncmp_prediction_set *a = NULL, *b = NULL;
    ncmp_comparison *c = NULL;
    ncmp_assembly *nd = NULL;
    ncmp_splits *splits = NULL;
    ncmp_metric metric_kind = NCMP_METRIC_PLS;
    ncmp_normalization norm = NCMP_NORM_EV;
    if (ncmp_normalization_parse(normalization, &norm, &err))
        goto fail;
    if (n_files == 1 || (n_files == 2 && activations)) {
        ncmp_fail(&err, NCMP_ERR_USAGE,
                  "compare takes two result files, or --activations/--layer/--iterations/--neural; not both");
        goto fail;
    }
    if (n_boot < 0 || n_perm < 0 || n_boot > 10000000 || n_perm > 10000000 || seed < 0 || seed > 4294967295L) {
        ncmp_fail(&err, NCMP_ERR_USAGE, "--bootstrap/--permutations must be in 0..1e7 and --seed in 0..2^32-1");
        goto fail;
    }
    if (!(confidence > 0 && confidence < 1)) {
        ncmp_fail(&err, NCMP_ERR_USAGE, "--confidence must be between 0 and 1 (e.g. 0.95); got %g", confidence);
        goto fail;
    }
    if (n_files == 2) {
        if (ncmp_prediction_set_read(file_a, iteration_a, &a, &err) ||
            ncmp_prediction_set_read(file_b, iteration_b, &b, &err))
            goto fail;
        if (a->neural_sha256[0] && b->neural_sha256[0] && strcmp(a->neural_sha256, b->neural_sha256)) {
            ncmp_fail(&err, NCMP_ERR_VALUE,
                      "%s and %s were scored on different recordings (SHA-256 %.12s... vs %.12s...)", file_a, file_b,
                      a->neural_sha256, b->neural_sha256);
            goto fail;
        }
        cli_printf("compare: %s vs %s\n", a->label, b->label);
    } else {
        if (!activations || !layer || !iterations || !neural) {
            ncmp_fail(&err, NCMP_ERR_USAGE,
                      "compare needs two result files, or --activations FILE.h5 --layer L --iterations A,B --neural "
                      "FILE.nc (see 'neurocmp compare --help')");
            goto fail;
        }
        long long ta = 0, tb = 0;
        double w0 = NAN, w1 = NAN;
        if (parse_pair(iterations, &ta, &tb, &err) || cli_parse_time_window(window, false, &w0, &w1, &err) ||
            ncmp_metric_parse(metric, &metric_kind, &err))
            goto fail;
        if (metric_kind == NCMP_METRIC_RSA || metric_kind == NCMP_METRIC_CKA) {
            ncmp_fail(&err, NCMP_ERR_USAGE,
                      "--metric %s has no per-stimulus predictions to compare; use pls, ridge or ols", metric);
            goto fail;
        }
        if (components < 1 || components > 10000) {
            ncmp_fail(&err, NCMP_ERR_USAGE, "--components must be in 1..10000, got %ld", components);
            goto fail;
        }
        ncmp_pls_options po = NCMP_PLS_DEFAULTS;
        po.n_components = (int)components;
        if (ncmp_assembly_read_netcdf(neural, &nd, &err))
            goto fail;
        cli_printf("compare on %s%s%s (%g-%g ms), %s:\n", neural, region ? ", region " : "", region ? region : "", w0,
                   w1, metric);
        if (score_model(activations, layer, ta, nd, region, w0, w1, NULL, &splits, splits_from, metric_kind, &po, &a,
                        &err) ||
            score_model(activations_b ? activations_b : activations, layer_b ? layer_b : layer, tb, nd, region, w0, w1,
                        splits, NULL, NULL, metric_kind, &po, &b, &err))
            goto fail;
    }
    ncmp_compare_options co = NCMP_COMPARE_DEFAULTS;
    co.n_bootstrap = (size_t)n_boot;
    co.n_permutations = (size_t)n_perm;
    co.confidence = confidence;
    co.seed = (uint32_t)seed;
    if (ncmp_compare_predictions(&a->view, &b->view, &co, &c, &err)) {
        ncmp_error_context(&err, "comparing %s with %s", a->label, b->label);
        goto fail;
    }
    int pct = (int)lround(100 * confidence);
    cli_printf("\n  %-40s %9s   %d%% interval (bootstrap over test stimuli)\n", "", "score", pct);
    cli_printf("  A  %-37s %9.4f   [%.4f, %.4f]\n", a->label, c->score_a, c->ci_a[0], c->ci_a[1]);
    cli_printf("  B  %-37s %9.4f   [%.4f, %.4f]\n", b->label, c->score_b, c->ci_b[0], c->ci_b[1]);
    cli_printf("  %-40s %+9.4f   [%+.4f, %+.4f]\n", "A - B", c->difference, c->ci_difference[0], c->ci_difference[1]);
    if (!isnan(a->ceiling))
        cli_printf("  %-40s %+9.4f   (ceiling %.4f; ceiled = %s)\n", "A - B, ceiled",
                   ncmp_ceiled(c->score_a, a->ceiling, norm) - ncmp_ceiled(c->score_b, a->ceiling, norm), a->ceiling,
                   ncmp_normalization_formula(norm));
    cli_printf("\n  permutation test (%zu sign flips of paired stimuli): p = %.4g\n", c->n_permutations,
               c->p_permutation);
    cli_printf(
        "  neuroids: A better in %zu, B better in %zu, tied %zu; sign test p = %.3g (descriptive: neuroids are not\n"
        "  independent samples)\n",
        c->n_a_better, c->n_b_better, c->n_ties, c->p_sign);
    if (c->n_permutations) {
        if (c->p_permutation < 1 - confidence)
            cli_printf("  => %s predicts the recordings %s than %s (p = %.3g).\n", c->difference > 0 ? "A" : "B",
                       "better", c->difference > 0 ? "B" : "A", c->p_permutation);
        else
            cli_printf("  => no reliable difference at the %d%% level (p = %.3g).\n", pct, c->p_permutation);
    }
    if (out) {
        ncmp_compare_report rep = {a,
                                   b,
                                   n_files == 2 ? NULL : metric,
                                   region,
                                   n_files == 2 ? NULL : neural,
                                   splits ? splits->description : NULL,
                                   norm};
        if (ncmp_compare_write_json(c, &rep, out, &err))
            goto fail;
        cli_printf("\nwrote %s\n", out);
    }
    rc = 0;
    goto cleanup;
fail:
    rc = cli_report(&err);
cleanup:
    ncmp_comparison_free(c);
    ncmp_prediction_set_free(a);
    ncmp_prediction_set_free(b);
    ncmp_splits_free(splits);
    ncmp_assembly_free(nd);
    free(file_a);
    free(file_b);
    return rc;
}
