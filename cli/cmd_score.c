/* neurocmp score: predictivity of a layer's activations for neural recordings (SPEC §7, §9). */
#include "results/activations.h"
#include "analysis/linear_score.h"
#include "analysis/metrics.h"
#include "analysis/pls.h"
#include "results/protocol.h"
#include "results/score_json.h"
#include "analysis/similarity.h"
#include "analysis/splits.h"
#include "cli/commands.h"
#include "core/h5.h"
#include "core/log.h"
#include "core/provenance.h"
#include "neural/assembly.h"
#include "neural/io.h"
#include "results/splits_json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* --details FILE.h5: per-split, per-neuroid values of every scored iteration (docs/scoring.md). */
static ncmp_status write_details(const char *path, bool force, const ncmp_score *const *scores, const long long *its,
                                 size_t n_its, const ncmp_score_inputs *in, const ncmp_splits *splits,
                                 const ncmp_assembly *a, const char *region, const char *layer, const char *metric,
                                 const char *activations, const char *neural, ncmp_error *err)
{
    ncmp_h5_output out;
    ncmp_status st = ncmp_h5_output_begin(&out, path, force ? NCMP_H5_OVERWRITE : 0, err);
    if (st)
        return st;
    const size_t ns = splits->n_splits, n = in->n_stimuli, q = in->n_neuroids;
    const char **nids = malloc((q ? q : 1) * sizeof *nids);
    double *raw = malloc(n_its * sizeof *raw), *error = malloc(n_its * sizeof *error);
    double *ceiled = malloc(n_its * sizeof *ceiled);
    long long *itv = malloc(n_its * sizeof *itv);
    if (!nids || !raw || !error || !ceiled || !itv) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        goto done;
    }
    /* The scored neuroids: the region's, in file order (as ncmp_assembly_select_regions keeps them). */
    const ncmp_coord *id = ncmp_coord_find(&a->neuroid, "neuroid_id");
    const ncmp_coord *rg = region ? ncmp_coord_find(&a->neuroid, "region") : NULL;
    size_t k = 0;
    for (size_t j = 0; id && id->strings && j < a->n_neuroids; j++)
        if (!region || (rg && rg->strings && !strcmp(rg->strings[j], region))) {
            if (k < q)
                nids[k] = id->strings[j];
            k++;
        }
    if (k != q) {
        st = ncmp_fail(err, NCMP_ERR_INTERNAL, "--details: %zu neuroid ids for %zu scored neuroids", k, q);
        goto done;
    }
    hid_t f = out.file;
    if ((st = ncmp_provenance_write_h5(f, err)) ||
        (st = ncmp_provenance_add_input_h5(f, "activations", activations, err)) ||
        (st = ncmp_provenance_add_input_h5(f, "neural", neural, err)) ||
        (st = ncmp_h5_attr_set_string(f, "layer", layer, err)) ||
        (st = ncmp_h5_attr_set_string(f, "metric", metric, err)) ||
        (st = ncmp_h5_attr_set_string(f, "region", region ? region : "", err)) ||
        (st = ncmp_h5_attr_set_string(f, "splits", splits->description, err)) ||
        (st = ncmp_h5_attr_set_double(f, "ceiling", in->ceiling, err)) ||
        (st = ncmp_h5_attr_set_double(f, "ceiling_error", in->ceiling_error, err)) ||
        (st = ncmp_h5_write_strings(f, "stimulus_id", (const char *const *)in->stimulus_ids, n, err)) ||
        (st = ncmp_h5_write_strings(f, "neuroid_id", nids, q, err)))
        goto done;
    if ((st = ncmp_splits_write_masks_h5(f, splits, err)))
        goto done;
    for (size_t i = 0; i < n_its; i++) {
        raw[i] = scores[i]->raw;
        error[i] = scores[i]->error;
        ceiled[i] = scores[i]->raw / in->ceiling; /* NaN without a ceiling */
        itv[i] = its[i];
    }
    /* What `neurocmp compare` needs: the test rows of every split, their responses and, per iteration, the
     * predictions (rows test_offset[s]..test_offset[s+1]-1 belong to split s). */
    size_t rows = splits->test_offset[ns];
    unsigned long long *offs = malloc((ns + 1) * sizeof *offs), *test = malloc((rows + 1) * sizeof *test);
    double *observed = malloc((rows * q + 1) * sizeof *observed);
    if (!offs || !test || !observed) {
        free(offs);
        free(test);
        free(observed);
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t s = 0; s <= ns; s++)
        offs[s] = splits->test_offset[s];
    for (size_t i = 0; i < rows; i++) {
        test[i] = splits->test[i];
        memcpy(observed + i * q, in->responses + splits->test[i] * q, q * sizeof *observed);
    }
    hsize_t d_off = ns + 1, d_rows = rows, d_obs[2] = {rows, q};
    st = ncmp_h5_write_array(f, "test_offset", H5T_STD_U64LE, H5T_NATIVE_ULLONG, 1, &d_off, offs, err);
    if (!st)
        st = ncmp_h5_write_array(f, "test_index", H5T_STD_U64LE, H5T_NATIVE_ULLONG, 1, &d_rows, test, err);
    if (!st)
        st = ncmp_h5_write_array(f, "observed", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, d_obs, observed, err);
    free(offs);
    free(test);
    free(observed);
    if (st)
        goto done;
    hsize_t ni = n_its;
    if ((st = ncmp_h5_write_array(f, "iteration", H5T_STD_I64LE, H5T_NATIVE_LLONG, 1, &ni, itv, err)) ||
        (st = ncmp_h5_attr_set_double_array(f, "raw", raw, n_its, err)) ||
        (st = ncmp_h5_attr_set_double_array(f, "error", error, n_its, err)) ||
        (st = ncmp_h5_attr_set_double_array(f, "ceiled", ceiled, n_its, err)))
        goto done;
    for (size_t i = 0; i < n_its; i++) {
        char name[64];
        snprintf(name, sizeof name, "/iteration_%lld", its[i]);
        hid_t g;
        if ((st = ncmp_h5_ensure_group(f, name, &g, err)))
            goto done;
        hsize_t pd[2] = {scores[i]->n_splits, scores[i]->n_neuroids}, sd = scores[i]->n_splits;
        if (!(st = ncmp_h5_attr_set_int64(g, "iteration", its[i], err)) &&
            !(st = ncmp_h5_attr_set_double(g, "raw", raw[i], err)) &&
            !(st = ncmp_h5_attr_set_double(g, "error", error[i], err)) &&
            !(st = ncmp_h5_attr_set_double(g, "ceiling", in->ceiling, err)) &&
            !(st = ncmp_h5_attr_set_double(g, "ceiled", ceiled[i], err)) &&
            !(st = ncmp_h5_write_array(g, "per_neuroid", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, pd,
                                       scores[i]->per_neuroid, err)) &&
            !(st = ncmp_h5_write_array(g, "split_median", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &sd,
                                       scores[i]->split_median, err)) &&
            (!scores[i]->predictions || !(st = ncmp_h5_write_array(g, "predictions", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
                                                                   2, d_obs, scores[i]->predictions, err))) &&
            scores[i]->alpha)
            st = ncmp_h5_write_array(g, "alpha", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, pd, scores[i]->alpha, err);
        H5Gclose(g);
        if (st)
            goto done;
    }
    st = ncmp_h5_output_commit(&out, err);
done:
    if (st)
        ncmp_h5_output_abort(&out, false);
    free(nids);
    free(raw);
    free(error);
    free(ceiled);
    free(itv);
    return st;
}

int cmd_score(int argc, char **argv)
{
    const char *activations = NULL, *layer = NULL, *iteration = "all", *neural = NULL, *region = NULL;
    const char *metric = "pls", *window = "70:170", *out = NULL, *splits_from = NULL, *splits_to = NULL;
    const char *details = NULL;
    const char *solver_name = "auto";
    long block_mb = 256;
    bool force = false;
    long components = 25;
    const cli_option options[] = {
        {.name = "activations",
         .kind = CLI_STRING,
         .target = &activations,
         .metavar = "FILE.h5",
         .help = "activations file written by 'neurocmp export' or any tool following SPEC §5 (required)"},
        {.name = "layer", .kind = CLI_STRING, .target = &layer, .metavar = "L", .help = "layer to score (required)"},
        {.name = "iteration",
         .kind = CLI_STRING,
         .target = &iteration,
         .metavar = "t|all",
         .help = "model iteration to score, or all of them (one row each)"},
        {.name = "neural",
         .kind = CLI_STRING,
         .target = &neural,
         .metavar = "FILE.nc",
         .help = "recordings: a BrainIO NeuroidAssembly netCDF-4 file (required)"},
        {.name = "region",
         .kind = CLI_STRING,
         .target = &region,
         .metavar = "R",
         .help = "only the neuroids of this region (default: all)"},
        {.name = "metric",
         .kind = CLI_STRING,
         .target = &metric,
         .metavar = "M",
         .help = "pls, ridge (RidgeCV, alpha per neuroid by leave-one-out over 1e-3..1e3), ols, rsa or cka"},
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
         .help = "auto (kernel when features outnumber training stimuli), nipals or kernel: same predictions"},
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
         .help = "write the splits used (indices into the sorted stimulus ids) as JSON"},
        {.name = "out",
         .short_name = 'o',
         .kind = CLI_STRING,
         .target = &out,
         .metavar = "FILE.json",
         .help = "write the result as JSON (SPEC §9)"},
        {.name = "details",
         .kind = CLI_STRING,
         .target = &details,
         .metavar = "FILE.h5",
         .help = "write per-split, per-neuroid Pearson r, split medians and the splits as HDF5"},
        {.name = "force",
         .short_name = 'f',
         .kind = CLI_FLAG,
         .target = &force,
         .help = "replace existing --out / --splits-to files"},
    };
    const cli_command cmd = {
        .name = "score",
        .usage = "",
        .summary = "Predictivity of a layer's activations for neural recordings.",
        .description =
            "Brain-Score's public neural predictivity protocol (SPEC §7): the region's neuroids, time bins inside\n"
            "the window averaged, repetitions averaged, stimuli sorted by stimulus_id and matched to the\n"
            "activations; 10 x StratifiedShuffleSplit(train_size=0.9, random_state=1) by object_name (ShuffleSplit\n"
            "without it), bit-identical to scikit-learn 1.2; PLSRegression(25, scale=False) fit on train,\n"
            "Pearson r per neuroid on test, median over neuroids, mean over splits (raw) with its standard error,\n"
            "divided by the split-half ceiling (ceiled; null for data without repetitions).",
        .options = options,
        .n_options = sizeof options / sizeof options[0],
        .min_positional = 0,
        .max_positional = 0,
    };
    cli_parsed p;
    int rc = cli_begin(&cmd, argc, argv, &p);
    if (rc >= 0)
        return rc;
    cli_parsed_free(&p);
    ncmp_error err;
    ncmp_error_clear(&err);
    if (!activations || !layer || !neural) {
        ncmp_fail(&err, NCMP_ERR_USAGE,
                  "score needs --activations FILE.h5, --layer L and --neural FILE.nc (see "
                  "'neurocmp score --help')");
        return cli_report(&err);
    }
    ncmp_metric metric_kind;
    if (ncmp_metric_parse(metric, &metric_kind, &err))
        return cli_report(&err);
    bool is_pls = metric_kind == NCMP_METRIC_PLS, is_rsa = metric_kind == NCMP_METRIC_RSA;
    bool is_linear = metric_kind == NCMP_METRIC_RIDGE || metric_kind == NCMP_METRIC_OLS;
    if (components < 1 || components > 10000) {
        ncmp_fail(&err, NCMP_ERR_USAGE, "--components must be in 1..10000, got %ld", components);
        return cli_report(&err);
    }
    ncmp_pls_solver solver;
    if (ncmp_pls_solver_parse(solver_name, &solver, &err))
        return cli_report(&err);
    if (block_mb < 1 || block_mb > 1 << 20) {
        ncmp_fail(&err, NCMP_ERR_USAGE, "--block-mb must be in 1..1048576, got %ld", block_mb);
        return cli_report(&err);
    }
    bool all = !strcmp(iteration, "all");
    long long it_value = 0;
    if (!all) {
        char *end;
        errno = 0;
        it_value = strtoll(iteration, &end, 10);
        if (end == iteration || *end || errno) {
            ncmp_fail(&err, NCMP_ERR_USAGE, "--iteration '%s': expected an integer or 'all'", iteration);
            return cli_report(&err);
        }
    }
    double w0 = NAN, w1 = NAN;
    if (cli_parse_time_window(window, false, &w0, &w1, &err))
        return cli_report(&err);
    struct stat sb;
    if (!force && out && stat(out, &sb) == 0) {
        ncmp_fail(&err, NCMP_ERR_EXISTS, "'%s' exists; use --force to replace it", out);
        return cli_report(&err);
    }
    if (!force && details && stat(details, &sb) == 0) {
        ncmp_fail(&err, NCMP_ERR_EXISTS, "'%s' exists; use --force to replace it", details);
        return cli_report(&err);
    }
    if (!force && splits_to && stat(splits_to, &sb) == 0) {
        ncmp_fail(&err, NCMP_ERR_EXISTS, "'%s' exists; use --force to replace it", splits_to);
        return cli_report(&err);
    }

    ncmp_activations *acts = NULL;
    ncmp_assembly *a = NULL;
    ncmp_score_inputs *in = NULL;
    ncmp_splits *splits = NULL;
    ncmp_score **scores = NULL;
    long long *its = NULL;
    size_t *it_index = NULL, n_its = 0;
    size_t n_features = 0;
    if (ncmp_activations_open(activations, &acts, &err) ||
        ncmp_activations_layer_features(acts, layer, &n_features, &err))
        goto fail;
    n_its = all ? acts->n_iterations : 1;
    its = malloc(n_its * sizeof *its);
    it_index = malloc(n_its * sizeof *it_index);
    scores = calloc(n_its, sizeof *scores);
    if (!its || !it_index || !scores) {
        ncmp_fail(&err, NCMP_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n_its; i++) {
        its[i] = all ? acts->iterations[i] : it_value;
        if (ncmp_activations_iteration_index(acts, its[i], &it_index[i], &err))
            goto fail;
    }
    if (ncmp_assembly_read_netcdf(neural, &a, &err))
        goto fail;
    if (ncmp_score_inputs_prepare(a, region, w0, w1, acts, &in, &err))
        goto fail;
    if (isnan(in->window_start_ms) && strcmp(window, "70:170"))
        ncmp_log_warn("%s has no time bins; --time-window does not apply", neural);
    if (in->n_unused_activations)
        ncmp_log_info("%zu stimuli of %s are not in the recordings and are not used", in->n_unused_activations,
                      activations);
    if (ncmp_score_inputs_splits(in, splits_from, &splits, &err))
        goto fail;
    for (size_t s = 0; is_pls && s < splits->n_splits; s++)
        if (ncmp_splits_n_train(splits, s) < (size_t)components) {
            ncmp_fail(&err, NCMP_ERR_VALUE,
                      "split %zu trains on %zu stimuli, fewer than the %ld PLS components; need more stimuli (or "
                      "--components)",
                      s, ncmp_splits_n_train(splits, s), components);
            goto fail;
        }
    if (is_pls && n_features < (size_t)components) {
        ncmp_fail(&err, NCMP_ERR_VALUE, "layer '%s' has %zu features, fewer than the %ld PLS components", layer,
                  n_features, components);
        goto fail;
    }
    if (splits_to && ncmp_splits_write_json(splits, (const char *const *)in->stimulus_ids, splits_to, &err))
        goto fail;
    solver = ncmp_score_solver(metric_kind, solver, n_features, splits);
    printf("score: layer %s of %s vs %s%s%s\n", layer, activations, neural, region ? ", region " : "",
           region ? region : "");
    char method[128];
    if (is_pls)
        snprintf(method, sizeof method, "PLS(%ld), %s solver", components,
                 solver == NCMP_PLS_KERNEL ? "kernel" : "NIPALS");
    else if (is_linear)
        snprintf(method, sizeof method, "%s, %s", !strcmp(metric, "ridge") ? "RidgeCV (LOO per neuroid)" : "OLS",
                 solver == NCMP_PLS_KERNEL ? "dual (streamed Gram matrix)" : "from the features");
    else
        snprintf(method, sizeof method, "%s on the test stimuli of each split",
                 is_rsa ? "RSA (1 - Pearson RDMs, Spearman)" : "linear CKA");
    printf("%zu stimuli x %zu features, %zu neuroids; %s; %s\n", in->n_stimuli, n_features, in->n_neuroids,
           splits->description, method);
    if (!isnan(in->ceiling))
        printf("ceiling %.4f +- %.4f (split-half, Spearman-Brown)\n", in->ceiling, in->ceiling_error);
    printf("\n  %9s %10s %10s %10s %8s\n", "iteration", "raw", "error", "ceiled", "seconds");
    ncmp_pls_options po = NCMP_PLS_DEFAULTS;
    po.n_components = (int)components;
    po.solver = solver;
    for (size_t i = 0; i < n_its; i++) {
        double t0 = now_seconds();
        ncmp_status st = ncmp_score_layer(acts, layer, it_index[i], in, splits, metric_kind, &po,
                                          (size_t)block_mb << 20, &scores[i], &err);
        if (st) {
            ncmp_error_context(&err, "iteration %lld", its[i]);
            goto fail;
        }
        if (is_pls && scores[i]->min_components_used < po.n_components)
            ncmp_log_warn("iteration %lld: the responses were fully explained after %d components in some split",
                          its[i], scores[i]->min_components_used);
        printf("  %9lld %10.4f %10.4f ", its[i], scores[i]->raw, scores[i]->error);
        if (isnan(in->ceiling))
            printf("%10s", "-");
        else
            printf("%10.4f", scores[i]->raw / in->ceiling);
        printf(" %8.2f\n", now_seconds() - t0);
        fflush(stdout);
    }
    if (out) {
        char bench[512];
        const char *base = strrchr(neural, '/');
        snprintf(bench, sizeof bench, "%s:%s-%s", base ? base + 1 : neural, region ? region : "all", metric);
        ncmp_score_report rep = {
            .benchmark = bench,
            .metric = metric,
            .layer = layer,
            .region = region,
            .activations_path = activations,
            .neural_path = neural,
            .splits_path = splits_from,
            .splits_description = splits->description,
            .seed = splits_from ? splits->seed : 1,
            .window_start_ms = in->window_start_ms,
            .window_end_ms = in->window_end_ms,
            .ceiling = in->ceiling,
            .ceiling_error = in->ceiling_error,
            .n_components = is_pls ? (size_t)components : 0,
            .details_path = details,
        };
        if (ncmp_score_write_json((const ncmp_score *const *)scores, its, n_its, &rep, out, &err))
            goto fail;
        printf("\nwrote %s\n", out);
    }
    if (details) {
        if (write_details(details, force, (const ncmp_score *const *)scores, its, n_its, in, splits, a, region, layer,
                          metric, activations, neural, &err))
            goto fail;
        printf("wrote %s\n", details);
    }
    rc = 0;
    goto cleanup;
fail:
    rc = cli_report(&err);
cleanup:
    for (size_t i = 0; scores && i < n_its; i++)
        ncmp_score_free(scores[i]);
    free(scores);
    free(its);
    free(it_index);
    ncmp_splits_free(splits);
    ncmp_score_inputs_free(in);
    ncmp_assembly_free(a);
    ncmp_activations_close(acts);
    return rc;
}
