/* neurocmp demo: the end-to-end path on the bundled data, saying what it does.
 *
 * Today: fingerprint the bundled V4 recordings (Cowley et al. 2023), import
 * them as a BrainIO assembly and measure their noise ceiling, run their
 * 640 images through a quarter-width VGG-16 CNN-F for T feedback iterations,
 * write every iteration's block activations to an HDF5 file (with
 * provenance), read the file back and summarise how the iterates move,
 * score every block at every iteration against the V4 recordings, and
 * finally run the iteration x time-bin analysis on recordings simulated from
 * the model with a known answer, writing an offline report with figures.
 */
#include "cli/commands.h"
#include "core/h5.h"
#include "core/log.h"
#include "core/paths.h"
#include "core/sha256.h"
#include "datasets/stimuli.h"
#include "model/export.h"
#include "results/activations.h"
#include "analysis/metrics.h"
#include "results/protocol.h"
#include "results/report.h"
#include "analysis/splits.h"
#include "results/temporal.h"
#include "results/temporal_output.h"
#include "neural/simulate.h"
#include "neural/ceiling.h"
#include "neural/io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Mean over stimuli of a [T+1, n] diagnostics dataset, per iteration. */
static ncmp_status iteration_means(hid_t f, const char *name, double *means, int T1, ncmp_error *err)
{
    int rank;
    hsize_t dims[NCMP_H5_MAX_RANK];
    ncmp_status st = ncmp_h5_dataset_shape(f, name, &rank, dims, err);
    if (st)
        return st;
    if (rank != 2 || dims[0] != (hsize_t)T1)
        return ncmp_fail(err, NCMP_ERR_SHAPE, "'%s' has an unexpected shape", name);
    double *v = malloc(sizeof(double) * dims[0] * dims[1]);
    if (!v)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    hsize_t z[2] = {0, 0};
    st = ncmp_h5_read_block(d, H5T_NATIVE_DOUBLE, z, dims, v, err);
    H5Dclose(d);
    for (int t = 0; t < T1 && !st; t++) {
        double s = 0;
        for (hsize_t i = 0; i < dims[1]; i++)
            s += v[t * dims[1] + i];
        means[t] = s / (double)dims[1];
    }
    free(v);
    return st;
}

/* PLS-25 predictivity (docs/scoring.md: 10 ShuffleSplits, Pearson, median, mean, ceiled) of
 * each layer at each iteration, from the Gram matrix streamed out of the file. */
static ncmp_status score_blocks(const ncmp_assembly *assembly, const char *acts_path, const char *const *layers,
                                int n_layers, int T1, ncmp_error *err)
{
    ncmp_activations *acts = NULL;
    ncmp_score_inputs *in = NULL;
    ncmp_splits *splits = NULL;
    double *gram = NULL;
    ncmp_status st;
    if ((st = ncmp_activations_open(acts_path, &acts, err)) ||
        (st = ncmp_score_inputs_prepare(assembly, NULL, 70, 170, acts, &in, err)) ||
        (st = ncmp_splits_shuffle(in->n_stimuli, 0.9, 10, 1, &splits, err)))
        goto done;
    gram = malloc(sizeof(double) * in->n_stimuli * in->n_stimuli);
    if (!gram) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        goto done;
    }
    cli_printf("\n5. Neural predictivity (docs/scoring.md): PLS-25 from each block to the %zu V4 neuroids, 10 random\n"
               "   90/10 splits of the %zu stimuli, Pearson r on held-out stimuli, median over neuroids, mean over\n"
               "   splits (raw), divided by the ceiling (ceiled):\n\n   %-9s",
               in->n_neuroids, in->n_stimuli, "iteration");
    for (int k = 0; k < n_layers; k++)
        cli_printf("   %-15s", layers[k]);
    cli_printf("\n   %-9s", "");
    for (int k = 0; k < n_layers; k++)
        cli_printf("   %7s %7s", "raw", "ceiled");
    cli_printf("\n");
    ncmp_pls_options po = NCMP_PLS_DEFAULTS;
    po.solver = NCMP_PLS_KERNEL;
    for (int t = 0; t < T1 && !st; t++) {
        cli_printf("   %-9d", t);
        for (int k = 0; k < n_layers && !st; k++) {
            size_t n_features = 0, index = 0;
            ncmp_score *sc = NULL;
            if ((st = ncmp_activations_layer_features(acts, layers[k], &n_features, err)) ||
                (st = ncmp_activations_iteration_index(acts, t, &index, err)) ||
                (st = ncmp_activations_gram(acts, layers[k], index, in->rows, in->n_stimuli, (size_t)64 << 20, gram,
                                            err)) ||
                (st = ncmp_score_pls_gram(gram, in->n_stimuli, n_features, in->responses, in->n_neuroids, splits, &po,
                                          &sc, err)))
                break;
            cli_printf("   %7.3f %7.3f", sc->raw, sc->raw / in->ceiling);
            ncmp_score_free(sc);
        }
        cli_printf("\n");
        fflush(stdout);
    }
done:
    free(gram);
    ncmp_splits_free(splits);
    ncmp_score_inputs_free(in);
    ncmp_activations_close(acts);
    return st;
}

/* Step 7: recordings simulated from the model itself, each time bin driven by a
 * known iteration of block4, then the iteration x time-bin matrix and a report. */
static ncmp_status temporal_demo(const char *out_dir, const char *acts_path, int T1, ncmp_error *err)
{
    char nc_path[4096], report_dir[4096], bins[512] = "";
    snprintf(nc_path, sizeof nc_path, "%s/simulated_bins.nc", out_dir);
    snprintf(report_dir, sizeof report_dir, "%s/report", out_dir);
    for (int b = 0; b < 2 * T1; b++) {
        size_t len = strlen(bins);
        snprintf(bins + len, sizeof bins - len, "%sblock4@%d", b ? "," : "", b / 2);
    }
    ncmp_simulate_options so;
    ncmp_simulate_defaults(&so);
    char *storage = NULL;
    ncmp_assembly *sim = NULL;
    ncmp_activations *acts = NULL;
    ncmp_temporal *t = NULL;
    so.n_neuroids = 40;
    so.n_repetitions = 6;
    so.snr = 0.5;
    so.region = "V4sim";
    so.seed = 7;
    ncmp_status st = ncmp_simulate_parse_bins(bins, &so, &storage, err);
    if (!st)
        st = ncmp_simulate_responses(acts_path, &so, &sim, err);
    if (!st)
        st = ncmp_assembly_write_netcdf(sim, nc_path, true, NULL, 0, err);
    if (st)
        goto done;
    cli_printf(
        "\n7. Across time: recordings simulated from the model, %d time bins of 20 ms from 70 ms, bin b driven by\n"
        "   block4 at iteration b/2 (%s; expected ceiling %.3f), written to %s.\n"
        "   The iteration x time-bin analysis should find that answer:\n",
        2 * T1, bins, ncmp_simulate_expected_ceiling(&so), nc_path);
    fflush(stdout);
    ncmp_temporal_options to;
    ncmp_temporal_defaults(&to);
    to.window_start_ms = NAN; /* no standard window here: the bins are the point */
    if ((st = ncmp_activations_open(acts_path, &acts, err)) ||
        (st = ncmp_temporal_compute(acts, "block4", sim, "V4sim", &to, &t, err)))
        goto done;
    cli_printf("\n   %-12s %-18s %s\n", "bin (ms)", "best iteration", "(true)");
    int right = 0;
    for (size_t b = 0; b < t->n_bins; b++) {
        long long best = t->best_iteration[b] < t->n_iterations ? t->iterations[t->best_iteration[b]] : -1;
        right += best == (long long)(b / 2);
        cli_printf("   %4g-%-7g %-18lld %zu\n", t->bin_start[b], t->bin_end[b], best, b / 2);
    }
    cli_printf("   %d of %zu bins recovered. ", right, t->n_bins);
    if ((st = ncmp_make_directories(report_dir, err)))
        goto done;
    ncmp_temporal_report rep = {"block4", "V4sim", "pls", "per-bin", acts_path, nc_path, NULL, NULL, 25};
    const ncmp_temporal *const results[1] = {t};
    if ((st = ncmp_temporal_write_figures(results, &rep, 1, report_dir, err)) ||
        (st = ncmp_report_write_temporal(results, &rep, 1, report_dir, err)))
        goto done;
    cli_printf("Report with the heatmap, line plots and tables:\n   %s/index.html (and report.md)\n", report_dir);
done:
    ncmp_temporal_free(t);
    ncmp_activations_close(acts);
    ncmp_assembly_free(sim);
    free(storage);
    return st;
}

int cmd_demo(int argc, char **argv)
{
    const char *out_dir = "neurocmp-demo";
    long iterations = 3, batch = 32, seed = 1;
    const cli_option options[] = {
        {"out", 'o', CLI_STRING, &out_dir, "DIR",
         "directory for the demo's outputs (earlier demo files in it are replaced)"},
        {"iterations", 'T', CLI_INT, &iterations, "T", "CNN-F feedback iterations"},
        {"batch", 'b', CLI_INT, &batch, "B", "images per batch"},
        {"seed", 0, CLI_INT, &seed, "S", "seed of the network's random weights"},
    };
    const cli_command cmd = {
        .name = "demo",
        .summary = "Run the end-to-end demonstration on the bundled V4 recordings and say what it did.",
        .description = "Fingerprints the bundled data (Cowley et al. 2023, V4 session 210325), imports the\n"
                       "responses as a BrainIO assembly (DIR/v4.nc) and reports their noise ceiling, scores\n"
                       "block3-5 at every iteration against them (PLS-25, ceiled), runs its 640\n"
                       "images through a quarter-width VGG-16 CNN-F (seeded weights, 64x64 input) for T\n"
                       "feedback iterations, writes block3, block4, block5 and the logits at every iteration\n"
                       "to DIR/activations.h5 and summarises how the iterates change.",
        .options = options,
        .n_options = sizeof options / sizeof options[0],
        .max_positional = 0,
    };
    ncmp_error err;
    int rc = cli_start(&cmd, argc, argv, &err);
    if (rc >= 0)
        return rc;
    if (iterations < 0 || iterations > 20 || batch < 1) {
        ncmp_fail(&err, NCMP_ERR_USAGE, "--iterations must be in 0..20 and --batch >= 1");
        return cli_report(&err);
    }

    static const char *const bundled[] = {
        "datasets/cowley2023-v4-210325/responses_raw_210325.npy",
        "datasets/cowley2023-v4-210325/images_210325.zip",
    };
    char paths[2][4096];
    cli_printf("neurocmp demo\n\n1. Bundled data (Cowley et al. 2023, V4 session 210325; GPL-3.0, see its LICENSE):\n");
    for (int i = 0; i < 2; i++) {
        char hex[NCMP_SHA256_HEX_LEN];
        if (ncmp_data_path(bundled[i], paths[i], sizeof paths[i], &err) || ncmp_sha256_file(paths[i], hex, &err))
            return cli_report(&err);
        cli_printf("   %s\n     sha256 %s\n", paths[i], hex);
    }
    if (ncmp_make_directories(out_dir, &err))
        return cli_report(&err);

    /* The recordings: import the NumPy responses as a BrainIO assembly and measure their ceiling. */
    char nc_path[4096];
    snprintf(nc_path, sizeof nc_path, "%s/v4.nc", out_dir);
    ncmp_assembly *assembly = NULL;
    {
        ncmp_npy_array responses;
        char **ids = NULL;
        size_t n_ids = 0;
        ncmp_ceiling *ceiling = NULL;
        ncmp_import_options io = {"V4", NULL, paths[0]};
        ncmp_ceiling_options co = NCMP_CEILING_DEFAULTS;
        ncmp_status nst = ncmp_npy_read(paths[0], &responses, &err);
        if (!nst) {
            nst = ncmp_stimulus_ids_read(paths[1], &ids, &n_ids, &err);
            if (!nst)
                nst = ncmp_assembly_from_responses(&responses, (const char *const *)ids, n_ids, &io, &assembly, &err);
            ncmp_npy_release(&responses);
            ncmp_stimulus_ids_free(ids, n_ids);
        }
        if (!nst) {
            ncmp_input_file inputs[2] = {{"responses", paths[0]}, {"stimuli", paths[1]}};
            nst = ncmp_assembly_write_netcdf(assembly, nc_path, true, inputs, 2, &err);
        }
        if (!nst)
            nst = ncmp_ceiling_split_half(assembly, &co, &ceiling, &err);
        if (nst) {
            ncmp_assembly_free(assembly);
            return cli_report(&err);
        }
        cli_printf("\n2. Recordings: %zu V4 neuroids x %zu stimuli, %zu presentations (repeats never shown dropped;\n"
                   "   NaN trials skipped), written as a BrainIO assembly to %s.\n"
                   "   Split-half noise ceiling (docs/neural.md, Spearman-Brown, 10 halvings of %zu repetitions):\n"
                   "   %.4f +- %.4f: how well the neurons predict themselves; model scores are divided by it.\n",
                   ceiling->n_neuroids, ceiling->n_stimuli, assembly->n_presentations, nc_path, ceiling->n_repetitions,
                   ceiling->ceiling[0], ceiling->error[0]);
        ncmp_ceiling_free(ceiling);
    }

    ncmp_arch_options ao = {.width = 0.25, .input_size = 64, .num_classes = 10, .update_layer = NULL};
    ncmp_arch *a;
    ncmp_net *net;
    if (ncmp_arch_load("vgg16-cnnf", &ao, &a, &err) || ncmp_net_create(a, &net, &err)) {
        ncmp_assembly_free(assembly);
        return cli_report(&err);
    }
    ncmp_net_init_seeded(net, (uint64_t)seed, &err);
    ncmp_stimulus_set *stimuli;
    if (ncmp_stimuli_open(paths[1], &stimuli, &err)) {
        ncmp_net_free(net);
        ncmp_assembly_free(assembly);
        return cli_report(&err);
    }
    const char *names[] = {"block3", "block4", "block5", "logits"};
    int layers[4];
    for (int k = 0; k < 4; k++)
        ncmp_arch_require_layer(net->arch, names[k], &layers[k], NULL);
    char out_path[4096];
    snprintf(out_path, sizeof out_path, "%s/activations.h5", out_dir);
    cli_printf("\n3. CNN-F: VGG-16 as a CNN-F (Huang et al. 2020) at width 1/4, 64x64 input, seeded random weights\n"
               "   (seed %ld; trained weights arrive with the training capability), update layer block1.\n"
               "   Exporting the %zu images for iterations 0..%ld (block3, block4, block5, logits) to %s,\n"
               "   computed in double and stored as float32: the same bits on any thread count or batch size.\n\n",
               seed, ncmp_stimuli_count(stimuli), iterations, out_path);
    fflush(stdout);
    ncmp_export_options o;
    memset(&o, 0, sizeof o);
    o.out_path = out_path;
    o.iterations = (int)iterations;
    o.layers = layers;
    o.n_layers = 4;
    o.batch = (size_t)batch;
    /* double arithmetic, float32 storage: the export default for T >= 1 (docs/cnnf-semantics.md §8) */
    o.precision = iterations >= 1 ? NCMP_FLOAT64 : NCMP_FLOAT32;
    o.store = NCMP_FLOAT32;
    o.reduce = NCMP_REDUCE_NONE;
    o.force = true; /* the demo owns its output directory */
    ncmp_status st = ncmp_export_run(net, stimuli, &o, &err);
    ncmp_stimuli_close(stimuli);
    ncmp_net_free(net);
    if (st) {
        ncmp_assembly_free(assembly);
        return cli_report(&err);
    }

    hid_t f;
    if (ncmp_h5_open_read(out_path, true, &f, &err)) {
        ncmp_assembly_free(assembly);
        return cli_report(&err);
    }
    const int T1 = (int)iterations + 1;
    double change[4][32] = {{0}}, prob[32] = {0};
    for (int k = 0; k < 4 && !st; k++) {
        char name[128];
        snprintf(name, sizeof name, "diagnostics/relative_change/%s", names[k]);
        st = iteration_means(f, name, change[k], T1, &err);
    }
    if (!st)
        st = iteration_means(f, "diagnostics/predicted_probability", prob, T1, &err);
    H5Fclose(f);
    if (st) {
        ncmp_assembly_free(assembly);
        return cli_report(&err);
    }
    cli_printf(
        "\n4. How the iterates move (means over the 640 images; relative change = ||a_t - a_(t-1)|| / ||a_t||):\n\n");
    cli_printf("   %-9s %10s %10s %10s %10s %14s\n", "iteration", "block3", "block4", "block5", "logits",
               "top-1 prob.");
    for (int t = 0; t < T1; t++) {
        cli_printf("   %-9d", t);
        for (int k = 0; k < 4; k++) {
            if (t == 0)
                cli_printf(" %10s", "-");
            else
                cli_printf(" %10.4f", change[k][t]);
        }
        cli_printf(" %14.4f\n", prob[t]);
    }
    st = score_blocks(assembly, out_path, names, 3, T1, &err);
    ncmp_assembly_free(assembly);
    if (st)
        return cli_report(&err);
    cli_printf("\n6. %s holds /activations/<layer> [iteration, stimulus, ...], /stimulus_id, /iteration,\n"
               "   /diagnostics and provenance; 'neurocmp inspect %s' shows it, and h5py or xarray read it.\n",
               out_path, out_path);
    if ((st = temporal_demo(out_dir, out_path, T1, &err)))
        return cli_report(&err);
    cli_printf("\nDone. Outputs are in %s/. With random weights the V4 scores only show the pipeline working;\n"
               "trained CNN-F weights join this demo with the training capability.\n",
               out_dir);
    return 0;
}
