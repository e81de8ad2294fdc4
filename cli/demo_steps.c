/* The steps of `neurocmp demo` (cli/demo_steps.h): fingerprint the bundled V4 recordings (Cowley et al.
 * 2023) and the shipped trained networks, import the recordings and measure their ceiling, export the
 * images through the VGG-16 CNN-F (Huang et al. 2020) and its feed-forward twin, score every block at
 * every iteration against the recordings (Brain-Score's protocol, Schrimpf et al. 2018), compare cells,
 * analyse recordings simulated with a known answer across time, and write the report. */
#include "cli/demo_steps.h"

#include "cli/args.h"
#include "core/h5.h"
#include "core/paths.h"
#include "core/sha256.h"
#include "datasets/stimuli.h"
#include "model/export.h"
#include "model/net.h"
#include "results/demo_report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEMO_DATA     "datasets/cowley2023-v4-210325/"
#define DEMO_N_BLOCKS 5

static const char *const demo_blocks[DEMO_N_BLOCKS] = {"block1", "block2", "block3", "block4", "block5"};

/* One shipped network of the demo and what it becomes. */
typedef struct demo_network {
    const char *name, *key, *weights, *trained; /* trained: how, for the description */
    int iterations;                             /* exported iterations 0..iterations */
    char weights_path[4096], weights_sha256[NCMP_SHA256_HEX_LEN], activations_path[4096], description[512];
    int input_size;
    ncmp_score_table *table;
} demo_network;

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

/* Export the images through one network: every block and the logits at iterations 0..T, computed in
 * double and stored as float32 (the same bits on any thread count or batch size). */
static ncmp_status export_network(demo_network *n, const char *stimuli_path, size_t batch, ncmp_error *err)
{
    ncmp_net *net = NULL;
    ncmp_stimulus_set *stimuli = NULL;
    ncmp_status st = ncmp_net_open_weights(n->weights_path, &net, err);
    if (st)
        return st;
    const ncmp_arch *a = net->arch;
    n->input_size = a->input.h;
    char network[256];
    snprintf(network, sizeof network, "VGG-16%s (%s) at width %g, %dx%d %s input", a->cnnf ? " CNN-F" : "", a->name,
             a->width, a->input.h, a->input.w, a->input.c == 1 ? "grey" : "RGB");
    snprintf(n->description, sizeof n->description, "%s, %s.", network, n->trained);
    static const char *const names[DEMO_N_BLOCKS + 1] = {"block1", "block2", "block3", "block4", "block5", "logits"};
    int layers[DEMO_N_BLOCKS + 1];
    for (int k = 0; k < DEMO_N_BLOCKS + 1 && !st; k++)
        st = ncmp_arch_require_layer(a, names[k], &layers[k], err);
    if (!st)
        st = ncmp_stimuli_open(stimuli_path, &stimuli, err);
    if (!st) {
        cli_printf("   %s: %s,\n     %s\n     -> %s, iterations 0..%d\n", n->name, network, n->trained,
                   n->activations_path, n->iterations);
        fflush(stdout);
        ncmp_export_options o;
        memset(&o, 0, sizeof o);
        o.out_path = n->activations_path;
        o.iterations = n->iterations;
        o.layers = layers;
        o.n_layers = DEMO_N_BLOCKS + 1;
        o.batch = batch;
        o.precision = NCMP_FLOAT64; /* docs/cnnf-semantics.md §8 */
        o.store = NCMP_FLOAT32;
        o.reduce = NCMP_REDUCE_NONE;
        o.force = true; /* the demo owns its output directory */
        st = ncmp_export_run(net, stimuli, &o, err);
    }
    ncmp_stimuli_close(stimuli);
    ncmp_net_free(net);
    return st;
}

/* Step 4: how the CNN-F's iterates move, from the diagnostics its export wrote. */
static ncmp_status print_iterate_changes(const char *path, int T1, ncmp_error *err)
{
    static const char *const names[] = {"block1", "block2", "block3", "block4", "block5", "logits"};
    enum { N = sizeof names / sizeof names[0] };
    double change[N][21] = {{0}}, prob[21] = {0};
    hid_t f;
    ncmp_status st = ncmp_h5_open_read(path, true, &f, err);
    if (st)
        return st;
    for (int k = 0; k < N && !st; k++) {
        char name[128];
        snprintf(name, sizeof name, "diagnostics/relative_change/%s", names[k]);
        st = iteration_means(f, name, change[k], T1, err);
    }
    if (!st)
        st = iteration_means(f, "diagnostics/predicted_probability", prob, T1, err);
    H5Fclose(f);
    if (st)
        return st;
    cli_printf("\n4. How the CNN-F's iterates move (means over the images; relative change = ||a_t - a_(t-1)|| / "
               "||a_t||):\n\n   %-9s",
               "iteration");
    for (int k = 0; k < N; k++)
        cli_printf(" %9s", names[k]);
    cli_printf(" %12s\n", "top-1 prob.");
    for (int t = 0; t < T1; t++) {
        cli_printf("   %-9d", t);
        for (int k = 0; k < N; k++) {
            if (t == 0)
                cli_printf(" %9s", "-");
            else
                cli_printf(" %9.4f", change[k][t]);
        }
        cli_printf(" %12.4f\n", prob[t]);
    }
    return NCMP_OK;
}

/* One model's table, raw or ceiled: rows iterations, columns blocks, as `neurocmp score` prints them (%.4f). */
static void print_table(const demo_network *n, bool ceiled)
{
    const ncmp_score_table *t = n->table;
    if (ceiled)
        cli_printf("\n   %s (%s), ceiled = %s:\n     %-9s", n->name, n->key,
                   ncmp_normalization_formula(t->normalization), "iteration");
    else
        cli_printf("\n   %s (%s), raw:\n     %-9s", n->name, n->key, "iteration");
    for (size_t l = 0; l < t->n_layers; l++)
        cli_printf(" %9s", t->layers[l]);
    cli_printf("\n");
    for (size_t i = 0; i < t->n_iterations; i++) {
        cli_printf("     %-9lld", t->iterations[i]);
        for (size_t l = 0; l < t->n_layers; l++) {
            const ncmp_score_cell *c = ncmp_score_table_cell(t, l, i, 0);
            cli_printf(" %9.4f", ceiled ? c->ceiled : c->score->raw);
        }
        cli_printf("\n");
    }
}

static void print_comparison(const ncmp_demo_comparison *C, const char *question)
{
    const ncmp_comparison *c = C->result;
    int pct = (int)lround(100 * c->confidence);
    cli_printf("\n   %s\n", question);
    cli_printf("     A  %-22s ceiled %.4f   raw %.4f [%.4f, %.4f]\n", C->label_a, C->ceiled_a, c->score_a, c->ci_a[0],
               c->ci_a[1]);
    cli_printf("     B  %-22s ceiled %.4f   raw %.4f [%.4f, %.4f]\n", C->label_b, C->ceiled_b, c->score_b, c->ci_b[0],
               c->ci_b[1]);
    cli_printf("     A - B: ceiled %+.4f [%+.4f, %+.4f], raw %+.4f [%+.4f, %+.4f] (%d%% intervals), permutation p = "
               "%.4g\n",
               C->ceiled_difference, C->ceiled_interval[0], C->ceiled_interval[1], c->difference, c->ci_difference[0],
               c->ci_difference[1], pct, c->p_permutation);
    if (c->p_permutation < 1 - c->confidence)
        cli_printf("     => %s predicts the recordings better than %s; neuroids: A better in %zu, B in %zu.\n",
                   c->difference > 0 ? "A" : "B", c->difference > 0 ? "B" : "A", c->n_a_better, c->n_b_better);
    else
        cli_printf("     => no reliable difference at the %d%% level; neuroids: A better in %zu, B in %zu.\n", pct,
                   c->n_a_better, c->n_b_better);
}

/* Step 8: recordings simulated from the CNN-F, a known iteration per time bin, and what the analysis finds. */
static ncmp_status simulate_step(ncmp_demo_simulation *sim, int iterations, ncmp_error *err)
{
    ncmp_status st = ncmp_demo_simulate(sim, iterations, err);
    if (st)
        return st;
    const ncmp_temporal *t = sim->temporal;
    cli_printf(
        "\n8. Across time: recordings simulated from the CNN-F (not V4), %zu time bins of 20 ms from %g ms, bin b\n"
        "   driven by %s at iteration b/2 (%zu neuroids, %zu repetitions, expected ceiling %.3f; seed %llu),\n"
        "   written to %s. The iteration x time-bin analysis should find that answer:\n\n   %-12s %-18s %s\n",
        t->n_bins, t->bin_start[0], sim->layer, sim->n_neuroids, sim->n_repetitions, sim->expected_ceiling,
        (unsigned long long)sim->seed, sim->neural_path, "bin (ms)", "best iteration", "(true)");
    for (size_t b = 0; b < t->n_bins; b++) {
        long long best = t->best_iteration[b] < t->n_iterations ? t->iterations[t->best_iteration[b]] : -1;
        cli_printf("   %4g-%-7g %-18lld %zu\n", t->bin_start[b], t->bin_end[b], best, b / 2);
    }
    cli_printf("   %zu of %zu bins recovered.\n", sim->n_recovered, t->n_bins);
    return NCMP_OK;
}

ncmp_status cli_demo_run(const cli_demo_options *o, ncmp_error *err)
{
    const int T = o->iterations;
    if (T < 1 || T > 20)
        return ncmp_fail(err, NCMP_ERR_USAGE, "--iterations must be in 1..20, got %d", T);
    demo_network nets[2] = {
        {.name = "CNN-F",
         .key = "cnnf",
         .weights = "model/weights/vgg16-cnnf-fmnist32.h5",
         .trained = "trained on Fashion-MNIST through two feedback cycles (docs/training.md §6)",
         .iterations = T},
        {.name = "CNN",
         .key = "cnn",
         .weights = "model/weights/vgg16-cnn-fmnist32.h5",
         .trained = "the same network trained without feedback (0 cycles): the CNN-F's feed-forward twin",
         .iterations = 0},
    };
    char responses[4096], images[4096], nc_path[4096], report_dir[4096], sim_path[4096];
    ncmp_demo_recordings rec = {
        .responses_path = responses,
        .stimuli_path = images,
        .neural_path = nc_path,
        .citation = "Cowley, Stan, Pillow & Smith (2023), \"Compact deep neural network models of visual cortex\", "
                    "V4 session 210325; GPL-3.0 (datasets/cowley2023-v4-210325/LICENSE and SOURCE.md)",
    };
    ncmp_assembly *assembly = NULL;
    ncmp_demo_comparison comparisons[2];
    memset(comparisons, 0, sizeof comparisons);
    ncmp_demo_simulation sim = {.layer = "block4", .n_neuroids = 40, .n_repetitions = 6, .snr = 0.5, .seed = o->seed};
    ncmp_status st;

    cli_printf("neurocmp demo\n\n1. Bundled data (Cowley et al. 2023, V4 session 210325; GPL-3.0, see its LICENSE)\n"
               "   and the shipped trained networks (docs/training.md §6):\n");
    if ((st = ncmp_data_path(DEMO_DATA "responses_raw_210325.npy", responses, sizeof responses, err)) ||
        (st = ncmp_data_path(DEMO_DATA "images_210325.zip", images, sizeof images, err)) ||
        (st = ncmp_sha256_file(responses, rec.responses_sha256, err)) ||
        (st = ncmp_sha256_file(images, rec.stimuli_sha256, err)))
        return st;
    cli_printf("   %s\n     sha256 %s\n   %s\n     sha256 %s\n", responses, rec.responses_sha256, images,
               rec.stimuli_sha256);
    for (int m = 0; m < 2; m++) {
        demo_network *n = &nets[m];
        if ((st = ncmp_data_path(n->weights, n->weights_path, sizeof n->weights_path, err)) ||
            (st = ncmp_sha256_file(n->weights_path, n->weights_sha256, err)))
            return st;
        cli_printf("   %s\n     sha256 %s\n", n->weights_path, n->weights_sha256);
        if (snprintf(n->activations_path, sizeof n->activations_path, "%s/activations-%s.h5", o->out_dir, n->key) >=
            (int)sizeof n->activations_path)
            return ncmp_fail(err, NCMP_ERR_USAGE, "--out '%s' is too long", o->out_dir);
    }
    snprintf(nc_path, sizeof nc_path, "%s/v4.nc", o->out_dir);
    snprintf(sim_path, sizeof sim_path, "%s/simulated_bins.nc", o->out_dir);
    snprintf(report_dir, sizeof report_dir, "%s/report", o->out_dir);
    if ((st = ncmp_make_directories(o->out_dir, err)))
        return st;

    if ((st = ncmp_demo_import_recordings(&rec, &assembly, err)))
        goto done;
    cli_printf("\n2. Recordings: %zu V4 neuroids x %zu stimuli, %zu presentations (repeats never shown dropped;\n"
               "   NaN trials skipped), written as a BrainIO assembly to %s.\n"
               "   Split-half noise ceiling (docs/neural.md, Spearman-Brown, %zu halvings of %zu repetitions):\n"
               "   %.4f +- %.4f: how well the neurons predict themselves; model scores are divided by it.\n",
               rec.n_neuroids, rec.n_stimuli, rec.n_presentations, nc_path, rec.n_halvings, rec.n_repetitions,
               rec.ceiling, rec.ceiling_error);

    cli_printf("\n3. The trained networks (VGG-16 at width 1/4 on 32x32 grey Fashion-MNIST; the V4 images are\n"
               "   converted to their input) export every block and the logits for the %zu images, computed in\n"
               "   double and stored as float32: the same bits on any thread count or batch size.\n",
               rec.n_stimuli);
    for (int m = 0; m < 2 && !st; m++)
        st = export_network(&nets[m], images, o->batch, err);
    if (st || (st = print_iterate_changes(nets[0].activations_path, T + 1, err)))
        goto done;

    cli_printf(
        "\n5. Neural predictivity on the real V4 recordings (docs/scoring.md): every block at every iteration,\n"
        "   PLS-25 to the %zu neuroids, 10 random 90/10 splits of the %zu images, Pearson r on held-out images,\n"
        "   median over neuroids, mean over splits (raw), ceiled with the ceiling; each cell is what\n"
        "   'neurocmp score --activations FILE --layer L --iteration t --neural %s' prints.\n",
        rec.n_neuroids, rec.n_stimuli, nc_path);
    fflush(stdout);
    for (int m = 0; m < 2 && !st; m++)
        st = ncmp_demo_score(assembly, nets[m].activations_path, demo_blocks, DEMO_N_BLOCKS, true, &nets[m].table, err);
    if (st)
        goto done;
    for (int m = 0; m < 2; m++) {
        print_table(&nets[m], false);
        print_table(&nets[m], true);
    }
    for (int m = 0; m < 2; m++) {
        size_t l, i;
        ncmp_demo_best_cell(nets[m].table, SIZE_MAX, &l, &i);
        const ncmp_score_cell *c = ncmp_score_table_cell(nets[m].table, l, i, 0);
        cli_printf("%s   best %s cell: %s at iteration %lld, ceiled %.4f (raw %.4f +- %.4f)\n", m ? "" : "\n",
                   nets[m].name, nets[m].table->layers[l], nets[m].table->iterations[i], c->ceiled, c->score->raw,
                   c->score->error);
    }

    /* Step 6: the CNN-F's best block at iteration T against the same block at 0, and against the CNN. */
    size_t best_block, it_T;
    ncmp_demo_best_cell(nets[0].table, (size_t)T, &best_block, &it_T);
    cli_printf("\n6. Paired comparisons (neurocmp compare, docs/scoring.md): the same splits and held-out images for\n"
               "   A and B; bootstrap intervals over the held-out images, permutation test swapping A's and B's\n"
               "   predictions. %s is the CNN-F's best block at iteration %d.\n",
               demo_blocks[best_block], T);
    fflush(stdout);
    char question[256];
    if ((st = ncmp_demo_compare(nets[0].table, best_block, it_T, nets[0].name, nets[0].table, best_block, 0,
                                nets[0].name, NULL, &comparisons[0], err)))
        goto done;
    snprintf(question, sizeof question, "Do %d feedback iterations change how well the CNN-F's %s predicts V4?", T,
             demo_blocks[best_block]);
    print_comparison(&comparisons[0], question);
    if ((st = ncmp_demo_compare(nets[0].table, best_block, 0, nets[0].name, nets[1].table, best_block, 0, nets[1].name,
                                NULL, &comparisons[1], err)))
        goto done;
    snprintf(question, sizeof question,
             "At iteration 0, does the CNN-F's %s predict V4 differently from the CNN's (trained without feedback)?",
             demo_blocks[best_block]);
    print_comparison(&comparisons[1], question);

    cli_printf(
        "\n7. %s and %s hold /activations/<layer> [iteration, stimulus, ...],\n"
        "   /stimulus_id, /iteration, /diagnostics and provenance; 'neurocmp inspect FILE' shows them, and h5py\n"
        "   or xarray read them.\n",
        nets[0].activations_path, nets[1].activations_path);
    sim.activations_path = nets[0].activations_path;
    sim.neural_path = sim_path;
    if ((st = simulate_step(&sim, T, err)))
        goto done;

    ncmp_demo_model models[2];
    for (int m = 0; m < 2; m++)
        models[m] = (ncmp_demo_model){nets[m].name,           nets[m].key,
                                      nets[m].description,    nets[m].weights_path,
                                      nets[m].weights_sha256, nets[m].activations_path,
                                      nets[m].input_size,     nets[m].table};
    ncmp_demo_report report = {&rec, models, 2, comparisons, 2, &sim};
    if ((st = ncmp_make_directories(report_dir, err)) || (st = ncmp_demo_write_report(&report, report_dir, err)))
        goto done;
    cli_printf("\n9. Report: the real V4 recordings (data, ceiling, both networks' layer x iteration heatmaps and\n"
               "   tables, the comparisons, what the numbers mean and do not mean), then the simulated temporal\n"
               "   analysis:\n   %s/index.html (and report.md)\n",
               report_dir);
    cli_printf("\nDone. Outputs are in %s/.\n", o->out_dir);
done:
    ncmp_demo_simulation_release(&sim);
    for (int k = 0; k < 2; k++)
        ncmp_demo_comparison_release(&comparisons[k]);
    for (int m = 0; m < 2; m++)
        ncmp_score_table_free(nets[m].table);
    ncmp_assembly_free(assembly);
    return st;
}
