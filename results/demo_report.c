/* The demo's analyses of the bundled V4 recordings and its report (results/demo_report.h).
 * Data: Cowley, Stan, Pillow & Smith (2023), "Compact deep neural network models of visual cortex";
 * protocol: Schrimpf et al. (2018) Brain-Score; network: Huang et al. (2020) CNN-F. */
#include "results/demo_report.h"

#include "core/atomic.h"
#include "core/provenance.h"
#include "core/version.h"
#include "neural/ceiling.h"
#include "neural/io.h"
#include "neural/simulate.h"
#include "results/compare_io.h"
#include "results/doc.h"
#include "results/report.h"
#include "results/score_table_output.h"
#include "results/temporal_output.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ncmp_status ncmp_demo_import_recordings(ncmp_demo_recordings *rec, ncmp_assembly **assembly, ncmp_error *err)
{
    *assembly = NULL;
    ncmp_npy_array responses;
    char **ids = NULL;
    size_t n_ids = 0;
    ncmp_assembly *a = NULL;
    ncmp_ceiling *ceiling = NULL;
    ncmp_import_options io = {"V4", NULL, rec->responses_path};
    ncmp_ceiling_options co = NCMP_CEILING_DEFAULTS;
    ncmp_status st = ncmp_npy_read(rec->responses_path, &responses, err);
    if (st)
        return st;
    st = ncmp_stimulus_ids_read(rec->stimuli_path, &ids, &n_ids, err);
    if (!st)
        st = ncmp_assembly_from_responses(&responses, (const char *const *)ids, n_ids, &io, &a, err);
    ncmp_npy_release(&responses);
    ncmp_stimulus_ids_free(ids, n_ids);
    if (!st) {
        ncmp_input_file inputs[2] = {{"responses", rec->responses_path}, {"stimuli", rec->stimuli_path}};
        st = ncmp_assembly_write_netcdf(a, rec->neural_path, true, inputs, 2, err);
    }
    if (!st)
        st = ncmp_ceiling_split_half(a, &co, &ceiling, err);
    if (st) {
        ncmp_assembly_free(a);
        return st;
    }
    rec->n_neuroids = ceiling->n_neuroids;
    rec->n_stimuli = ceiling->n_stimuli;
    rec->n_presentations = a->n_presentations;
    rec->n_repetitions = ceiling->n_repetitions;
    rec->n_halvings = ceiling->n_splits;
    rec->has_time_bins = a->has_time_bins;
    rec->ceiling = ceiling->ceiling[0];
    rec->ceiling_error = ceiling->error[0];
    ncmp_ceiling_free(ceiling);
    *assembly = a;
    return NCMP_OK;
}

ncmp_status ncmp_demo_score(const ncmp_assembly *assembly, const char *activations_path, const char *const *layers,
                            size_t n_layers, bool progress, ncmp_score_table **out, ncmp_error *err)
{
    *out = NULL;
    ncmp_activations *acts = NULL;
    ncmp_score_table_options o;
    ncmp_score_table_defaults(&o); /* what `neurocmp score` runs without options */
    o.layers = layers;
    o.n_layers = n_layers;
    o.progress = progress;
    ncmp_status st = ncmp_activations_open(activations_path, &acts, err);
    if (!st)
        st = ncmp_score_table_compute(acts, assembly, &o, out, err);
    ncmp_activations_close(acts);
    return st;
}

void ncmp_demo_best_cell(const ncmp_score_table *t, size_t iteration, size_t *best_layer, size_t *best_iteration)
{
    double best = NAN;
    *best_layer = 0;
    *best_iteration = iteration == SIZE_MAX ? 0 : iteration;
    for (size_t l = 0; l < t->n_layers; l++)
        for (size_t i = 0; i < t->n_iterations; i++) {
            if (iteration != SIZE_MAX && i != iteration)
                continue;
            double v = ncmp_score_table_cell(t, l, i, 0)->ceiled;
            if (!isnan(v) && (isnan(best) || v > best)) {
                best = v;
                *best_layer = l;
                *best_iteration = i;
            }
        }
}

static int compare_doubles(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

ncmp_status ncmp_demo_compare(const ncmp_score_table *a, size_t layer_a, size_t iteration_a, const char *name_a,
                              const ncmp_score_table *b, size_t layer_b, size_t iteration_b, const char *name_b,
                              const ncmp_compare_options *options, ncmp_demo_comparison *out, ncmp_error *err)
{
    memset(out, 0, sizeof *out);
    if (layer_a >= a->n_layers || iteration_a >= a->n_iterations || layer_b >= b->n_layers ||
        iteration_b >= b->n_iterations)
        return ncmp_fail(err, NCMP_ERR_USAGE, "comparison of cells outside the tables (%zu x %zu, %zu x %zu)",
                         a->n_layers, a->n_iterations, b->n_layers, b->n_iterations);
    const ncmp_score_table *tables[2] = {a, b};
    const size_t layers[2] = {layer_a, layer_b}, iterations[2] = {iteration_a, iteration_b};
    const char *names[2] = {name_a, name_b};
    char *labels[2] = {out->label_a, out->label_b};
    ncmp_prediction_set *sets[2] = {NULL, NULL};
    ncmp_status st = NCMP_OK;
    for (int k = 0; k < 2 && !st; k++) {
        const ncmp_score_table *t = tables[k];
        snprintf(labels[k], sizeof out->label_a, "%s %s t=%lld", names[k], t->layers[layers[k]],
                 t->iterations[iterations[k]]);
        st = ncmp_prediction_set_from_score(ncmp_score_table_cell(t, layers[k], iterations[k], 0)->score,
                                            t->regions[0].splits, t->regions[0].inputs, labels[k], labels[k], &sets[k],
                                            err);
    }
    if (!st && (st = ncmp_compare_predictions(&sets[0]->view, &sets[1]->view, options, &out->result, err)))
        ncmp_error_context(err, "comparing %s with %s", out->label_a, out->label_b);
    double *diff = NULL;
    if (!st) {
        const ncmp_comparison *c = out->result;
        out->ceiling = a->regions[0].inputs->ceiling;
        out->normalization = a->normalization;
        out->ceiled_a = ncmp_ceiled(c->score_a, out->ceiling, out->normalization);
        out->ceiled_b = ncmp_ceiled(c->score_b, out->ceiling, out->normalization);
        out->ceiled_difference = out->ceiled_a - out->ceiled_b;
        out->ceiled_interval[0] = out->ceiled_interval[1] = NAN;
        size_t n = 0;
        diff = malloc((c->n_bootstrap ? c->n_bootstrap : 1) * sizeof *diff);
        if (!diff)
            st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        for (size_t r = 0; !st && r < c->n_bootstrap; r++) {
            double d = ncmp_ceiled(c->bootstrap_a[r], out->ceiling, out->normalization) -
                       ncmp_ceiled(c->bootstrap_b[r], out->ceiling, out->normalization);
            if (!isnan(d))
                diff[n++] = d;
        }
        if (!st && n) {
            qsort(diff, n, sizeof *diff, compare_doubles);
            out->ceiled_interval[0] = ncmp_percentile_sorted(diff, n, (1 - c->confidence) / 2);
            out->ceiled_interval[1] = ncmp_percentile_sorted(diff, n, (1 + c->confidence) / 2);
        }
    }
    free(diff);
    ncmp_prediction_set_free(sets[0]);
    ncmp_prediction_set_free(sets[1]);
    if (st)
        ncmp_demo_comparison_release(out);
    return st;
}

void ncmp_demo_comparison_release(ncmp_demo_comparison *c)
{
    if (!c)
        return;
    ncmp_comparison_free(c->result);
    c->result = NULL;
}

ncmp_status ncmp_demo_simulate(ncmp_demo_simulation *sim, int iterations, ncmp_error *err)
{
    sim->temporal = NULL;
    sim->n_recovered = 0;
    sim->bins[0] = '\0';
    const int n_bins = 2 * (iterations + 1);
    if (iterations < 0 || n_bins > NCMP_SIMULATE_MAX_BINS)
        return ncmp_fail(err, NCMP_ERR_USAGE, "the simulation takes 0..%d iterations, got %d",
                         NCMP_SIMULATE_MAX_BINS / 2 - 1, iterations);
    for (int b = 0; b < n_bins; b++) {
        size_t len = strlen(sim->bins);
        if (snprintf(sim->bins + len, sizeof sim->bins - len, "%s%s@%d", b ? "," : "", sim->layer, b / 2) >=
            (int)(sizeof sim->bins - len))
            return ncmp_fail(err, NCMP_ERR_USAGE, "layer name '%s' too long for the simulation", sim->layer);
    }
    ncmp_simulate_options so;
    ncmp_simulate_defaults(&so);
    so.n_neuroids = sim->n_neuroids;
    so.n_repetitions = sim->n_repetitions;
    so.snr = sim->snr;
    so.region = "V4sim";
    so.seed = sim->seed;
    char *storage = NULL;
    ncmp_assembly *simulated = NULL;
    ncmp_activations *acts = NULL;
    ncmp_temporal_options to;
    ncmp_temporal_defaults(&to);
    to.window_start_ms = NAN; /* no standard window here: the bins are the point */
    ncmp_status st;
    if ((st = ncmp_simulate_parse_bins(sim->bins, &so, &storage, err)) ||
        (st = ncmp_simulate_responses(sim->activations_path, &so, &simulated, err)) ||
        (st = ncmp_assembly_write_netcdf(simulated, sim->neural_path, true, NULL, 0, err)) ||
        (st = ncmp_activations_open(sim->activations_path, &acts, err)) ||
        (st = ncmp_temporal_compute(acts, sim->layer, simulated, "V4sim", &to, &sim->temporal, err)))
        goto done;
    sim->expected_ceiling = ncmp_simulate_expected_ceiling(&so);
    const ncmp_temporal *t = sim->temporal;
    for (size_t b = 0; b < t->n_bins; b++)
        sim->n_recovered +=
            t->best_iteration[b] < t->n_iterations && t->iterations[t->best_iteration[b]] == (long long)(b / 2);
done:
    ncmp_activations_close(acts);
    ncmp_assembly_free(simulated);
    free(storage);
    return st;
}

void ncmp_demo_simulation_release(ncmp_demo_simulation *sim)
{
    if (!sim)
        return;
    ncmp_temporal_free(sim->temporal);
    sim->temporal = NULL;
}

/* ---- the report ---------------------------------------------------------------------------------------- */

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* A comparison is reliable at its confidence level when its permutation p is below 1 - confidence. */
static bool reliable(const ncmp_demo_comparison *c)
{
    return c->result->n_permutations && c->result->p_permutation < 1 - c->result->confidence;
}

static void para(const ncmp_doc *d, const char *text)
{
    ncmp_doc_para_begin(d);
    ncmp_doc_text(d, text);
    ncmp_doc_para_end(d);
}

static void write_recordings(const ncmp_doc *d, const ncmp_demo_recordings *rec)
{
    char line[4096];
    ncmp_doc_heading(d, 3, "The recordings");
    snprintf(line, sizeof line,
             "%s. %zu V4 neuroids x %zu natural images, %zu presentations (up to %zu repetitions of each image; "
             "repeats never shown are dropped and NaN trials skipped), %s, imported as the BrainIO assembly %s.",
             rec->citation, rec->n_neuroids, rec->n_stimuli, rec->n_presentations, rec->n_repetitions,
             rec->has_time_bins ? "with time bins" : "one response per trial (no time bins)",
             base_name(rec->neural_path));
    para(d, line);
    snprintf(line, sizeof line, "responses  %s\n           sha256 %s\nimages     %s\n           sha256 %s",
             rec->responses_path, rec->responses_sha256, rec->stimuli_path, rec->stimuli_sha256);
    ncmp_doc_code_block(d, line);
    snprintf(line, sizeof line,
             "Noise ceiling: %.4f +- %.4f (split-half internal consistency: %zu halvings of the %zu repetitions, each "
             "half averaged per image, Pearson r per neuroid across images, Spearman-Brown corrected, median over "
             "neuroids, mean over halvings; docs/neural.md). It is how well the recordings predict themselves, "
             "the limit a model's score is measured against.",
             rec->ceiling, rec->ceiling_error, rec->n_halvings, rec->n_repetitions);
    para(d, line);
}

static void write_models(const ncmp_doc *d, const ncmp_demo_report *r)
{
    char line[4096];
    ncmp_doc_heading(d, 3, "The networks");
    for (size_t m = 0; m < r->n_models; m++) {
        const ncmp_demo_model *M = &r->models[m];
        snprintf(line, sizeof line, "%s: %s Weights %s (sha256 %s); activations of every block at every iteration: %s.",
                 M->name, M->description, M->weights_path, M->weights_sha256, base_name(M->activations_path));
        para(d, line);
    }
    const ncmp_score_table *t = r->models[0].table;
    const ncmp_score_inputs *in = t->regions[0].inputs;
    snprintf(line, sizeof line,
             "Each cell of the tables below is the number 'neurocmp score --activations FILE --layer L --iteration "
             "t --neural %s' prints: PLS regression with %d components from the layer's features to the %zu "
             "neuroids, fit on 90 %% of the %zu images and tested on the other 10 %% (%s), Pearson r per neuroid on "
             "the held-out images, median over neuroids, mean over splits (raw, +- its standard error over "
             "splits); ceiled = %s with the ceiling %.4f (--normalization %s, Brain-Score's today).",
             base_name(r->recordings->neural_path), t->n_components, in->n_neuroids, in->n_stimuli,
             t->regions[0].splits->description, ncmp_normalization_formula(t->normalization), in->ceiling,
             ncmp_normalization_name(t->normalization));
    para(d, line);
    for (size_t m = 0; m < r->n_models; m++) {
        const ncmp_demo_model *M = &r->models[m];
        snprintf(line, sizeof line, "%s (%s)", M->name, base_name(M->weights_path));
        ncmp_doc_heading(d, 3, line);
        ncmp_score_table_report rep = {M->activations_path, r->recordings->neural_path, NULL, "pls", NAN, NAN, M->key};
        ncmp_score_table_write_section(d, M->table, &rep, 4);
    }
}

static void interval_text(char *buf, size_t size, double value, const double interval[2])
{
    snprintf(buf, size, "%+.4f [%+.4f, %+.4f]", value, interval[0], interval[1]);
}

static void write_comparisons(const ncmp_doc *d, const ncmp_demo_report *r)
{
    char line[4096];
    ncmp_doc_heading(d, 3, "Comparisons");
    if (!r->n_comparisons)
        return;
    const ncmp_comparison *c0 = r->comparisons[0].result;
    int pct = (int)lround(100 * c0->confidence);
    snprintf(line, sizeof line,
             "Paired comparisons of two cells (what 'neurocmp compare' computes; docs/scoring.md): both are scored "
             "on the same splits and the same held-out images, so their predictions are compared image by image. "
             "Intervals: %d %% percentile bootstrap over the held-out images (%zu resamples; the ceiled interval "
             "from the same replicates). p: two-sided permutation test swapping A's and B's predictions of random "
             "images (%zu sign flips).",
             pct, c0->n_bootstrap, c0->n_permutations);
    para(d, line);
    ncmp_doc_table_begin(d);
    const char *head[] = {"A",
                          "B",
                          "ceiled A",
                          "ceiled B",
                          "A - B ceiled [interval]",
                          "A - B raw [interval]",
                          "permutation p",
                          "neuroids A / B better"};
    ncmp_doc_table_row(d, head, 8, true);
    for (size_t k = 0; k < r->n_comparisons; k++) {
        const ncmp_demo_comparison *C = &r->comparisons[k];
        const ncmp_comparison *c = C->result;
        char ca[32], cb[32], dc[96], dr[96], p[32], nb[64];
        snprintf(ca, sizeof ca, "%.4f", C->ceiled_a);
        snprintf(cb, sizeof cb, "%.4f", C->ceiled_b);
        interval_text(dc, sizeof dc, C->ceiled_difference, C->ceiled_interval);
        interval_text(dr, sizeof dr, c->difference, c->ci_difference);
        snprintf(p, sizeof p, "%.4g", c->p_permutation);
        snprintf(nb, sizeof nb, "%zu / %zu", c->n_a_better, c->n_b_better);
        const char *row[] = {C->label_a, C->label_b, ca, cb, dc, dr, p, nb};
        ncmp_doc_table_row(d, row, 8, false);
    }
    ncmp_doc_table_end(d);
}

static void write_meaning(const ncmp_doc *d, const ncmp_demo_report *r)
{
    char line[4096];
    size_t len;
    ncmp_doc_heading(d, 3, "What these numbers mean, and what they do not");
    const ncmp_demo_model *M0 = &r->models[0];
    snprintf(line, sizeof line,
             "What the networks saw. The networks learned from Fashion-MNIST, small grey images of clothing, not "
             "from natural images. The %zu natural images the V4 neurons saw are shown to them converted to grey "
             "and resized to %dx%d pixels (docs/preprocessing.md). So these scores say how well features learned "
             "for clothing predict V4 responses to natural images; they do not say how a CNN-F trained on natural "
             "images would do, nor how feedback works in the brain.",
             r->recordings->n_stimuli, M0->input_size, M0->input_size);
    para(d, line);
    const ncmp_score_table *t0 = M0->table;
    const double ceiling = t0->regions[0].inputs->ceiling;
    len = (size_t)snprintf(line, sizeof line,
                           "What a score is. raw is a correlation between predicted and recorded responses on "
                           "held-out images; the ceiled score is %s, so with the ceiling %.4f a raw 0.40 becomes "
                           "%.4f. It is not the fraction of neurons explained, and it reaches 1 only when raw^2 "
                           "equals the ceiling. Best cells:",
                           ncmp_normalization_formula(t0->normalization), ceiling,
                           ncmp_ceiled(0.40, ceiling, t0->normalization));
    for (size_t m = 0; m < r->n_models && len < sizeof line - 200; m++) {
        const ncmp_score_table *t = r->models[m].table;
        size_t l, i;
        ncmp_demo_best_cell(t, SIZE_MAX, &l, &i);
        const ncmp_score_cell *c = ncmp_score_table_cell(t, l, i, 0);
        len += (size_t)snprintf(
            line + len, sizeof line - len, "%s %s %s at iteration %lld, ceiled %.4f (raw %.4f +- %.4f)", m ? ";" : "",
            r->models[m].name, t->layers[l], t->iterations[i], c->ceiled, c->score->raw, c->score->error);
    }
    snprintf(line + len, sizeof line - len, ".");
    para(d, line);
    len = (size_t)snprintf(line, sizeof line,
                           "Reading differences. Cells of one table share their images and splits, so whether one "
                           "beats another, iterations included, is read from a paired comparison's interval and "
                           "p-value, not from the tables' standard errors. Here:");
    for (size_t k = 0; k < r->n_comparisons && len < sizeof line - 400; k++) {
        const ncmp_demo_comparison *C = &r->comparisons[k];
        const ncmp_comparison *c = C->result;
        int pct = (int)lround(100 * c->confidence);
        len += (size_t)snprintf(line + len, sizeof line - len,
                                " %s minus %s is %+.4f ceiled (%d %% interval %+.4f to %+.4f), p = %.3g: %s%s.",
                                C->label_a, C->label_b, C->ceiled_difference, pct, C->ceiled_interval[0],
                                C->ceiled_interval[1], c->p_permutation,
                                reliable(C) ? "reliably better for " : "no reliable difference",
                                reliable(C) ? (c->difference > 0 ? C->label_a : C->label_b) : "");
    }
    para(d, line);
    /* the CNN-F's blocks from the first iteration to the last */
    const ncmp_score_table *tf = M0->table;
    if (tf->n_iterations > 1) {
        size_t last = tf->n_iterations - 1, lower = 0;
        for (size_t l = 0; l < tf->n_layers; l++)
            lower += ncmp_score_table_cell(tf, l, last, 0)->ceiled < ncmp_score_table_cell(tf, l, 0, 0)->ceiled;
        len = (size_t)snprintf(line, sizeof line,
                               "The %s's iterations. From iteration %lld to %lld the ceiled score is lower in %zu of "
                               "its %zu blocks (",
                               M0->name, tf->iterations[0], tf->iterations[last], lower, tf->n_layers);
        for (size_t l = 0; l < tf->n_layers && len < sizeof line - 200; l++)
            len += (size_t)snprintf(line + len, sizeof line - len, "%s%s %.4f to %.4f", l ? ", " : "", tf->layers[l],
                                    ncmp_score_table_cell(tf, l, 0, 0)->ceiled,
                                    ncmp_score_table_cell(tf, l, last, 0)->ceiled);
        snprintf(line + len, sizeof line - len,
                 "): on these recordings its feedback iterations move the features %s V4's responses as a linear "
                 "read-out sees them. Only the compared cells above carry an interval and a p-value.",
                 2 * lower > tf->n_layers ? "away from"
                 : lower                  ? "both towards and away from"
                                          : "towards");
        para(d, line);
    }
    para(d, "What a null result would mean. A comparison whose interval contains 0 and whose p is 0.05 or more says "
            "that these images and neuroids cannot tell the two cells apart with this protocol. It is not evidence "
            "that they are equal; for iterations, it does not show that feedback is irrelevant to V4. A reliable "
            "difference, in turn, is a statement about these networks on these recordings, not about the brain's "
            "feedback.");
    snprintf(line, sizeof line,
             "Time. %s The next section runs the iteration x time-bin analysis on recordings simulated from the "
             "%s itself, with a known answer, to show what that analysis recovers; its recordings are simulated, "
             "and its numbers say nothing about V4.",
             r->recordings->has_time_bins
                 ? "The scores above average the time bins of 70-170 ms, so they do not match iterations to moments "
                   "of the response."
                 : "These recordings give one response per trial (no time bins), so model iterations cannot be "
                   "matched to moments of the neural response here.",
             M0->name);
    para(d, line);
}

static void write_simulation(const ncmp_doc *d, const ncmp_demo_simulation *sim)
{
    char line[4096];
    const ncmp_temporal *t = sim->temporal;
    ncmp_doc_heading(d, 2, "Simulated recordings across time (a known answer)");
    snprintf(line, sizeof line,
             "These recordings are simulated, not recorded: %zu neuroids, %zu repetitions, signal-to-noise %.2g "
             "(expected ceiling %.3f), %zu time bins of 20 ms from %g ms; bin b is driven by %s at iteration b/2 "
             "(%s; seed %llu). The iteration x time-bin analysis of %s should find that answer: it recovered it in "
             "%zu of %zu bins.",
             sim->n_neuroids, sim->n_repetitions, sim->snr, sim->expected_ceiling, t->n_bins, t->bin_start[0],
             sim->layer, sim->bins, (unsigned long long)sim->seed, sim->layer, sim->n_recovered, t->n_bins);
    para(d, line);
    ncmp_temporal_report rep = {sim->layer, "V4sim", "pls", "per-bin", sim->activations_path, sim->neural_path, NULL,
                                NULL,       25,      NAN,   NAN};
    const ncmp_temporal *const results[1] = {t};
    ncmp_report_write_temporal_section(d, results, &rep, 1, 3);
}

static void write_doc(const ncmp_doc *d, const ncmp_demo_report *r, char hashes[][NCMP_SHA256_HEX_LEN],
                      const char *const *hashed, size_t n_hashed)
{
    char line[8192];
    ncmp_doc_begin(d, "neurocmp demo: trained VGG-16 CNN-F and CNN against V4 recordings");
    para(d, "Written by 'neurocmp demo'. Two parts: trained networks scored against real V4 recordings, then the "
            "iteration x time-bin analysis on recordings simulated with a known answer. Every number below was "
            "computed by the run that wrote this page.");
    ncmp_doc_heading(d, 2, "Real V4 recordings");
    write_recordings(d, r->recordings);
    write_models(d, r);
    write_comparisons(d, r);
    write_meaning(d, r);
    if (r->simulation)
        write_simulation(d, r->simulation);
    ncmp_doc_heading(d, 2, "Reproduce");
    ncmp_doc_code_block(d, ncmp_provenance_command_line());
    size_t len = 0;
    line[0] = '\0';
    for (size_t k = 0; k < n_hashed && len < sizeof line - 256; k++)
        len += (size_t)snprintf(line + len, sizeof line - len, "%s\n  sha256 %s\n", hashed[k], hashes[k]);
    snprintf(line + len, sizeof line - len, "neurocmp %s (%s)", NCMP_VERSION, NCMP_GIT_REVISION);
    ncmp_doc_code_block(d, line);
    ncmp_doc_end(d);
}

#define DEMO_MAX_HASHED 8

ncmp_status ncmp_demo_write_report(const ncmp_demo_report *r, const char *dir, ncmp_error *err)
{
    if (!r->n_models || r->n_models > 3)
        return ncmp_fail(err, NCMP_ERR_USAGE, "the demo report takes 1 to 3 models, got %zu", r->n_models);
    ncmp_status st = NCMP_OK;
    double vmin = NAN, vmax = NAN; /* one colour scale for every model's heatmap, so they can be compared */
    for (size_t m = 0; m < r->n_models; m++) {
        const ncmp_score_table *t = r->models[m].table;
        for (size_t k = 0; k < t->n_layers * t->n_iterations * t->n_regions; k++) {
            double v = t->cells[k].ceiled;
            if (!isnan(v) && (isnan(vmin) || v < vmin))
                vmin = v;
            if (!isnan(v) && (isnan(vmax) || v > vmax))
                vmax = v;
        }
    }
    for (size_t m = 0; !st && m < r->n_models; m++) {
        const ncmp_demo_model *M = &r->models[m];
        ncmp_score_table_report rep = {
            M->activations_path, r->recordings->neural_path, NULL, "pls", vmin, vmax, M->key};
        st = ncmp_score_table_write_heatmaps(M->table, &rep, dir, err);
    }
    if (!st && r->simulation) {
        const ncmp_demo_simulation *sim = r->simulation;
        ncmp_temporal_report rep = {
            sim->layer, "V4sim", "pls", "per-bin", sim->activations_path, sim->neural_path, NULL, NULL, 25, NAN, NAN};
        const ncmp_temporal *const results[1] = {sim->temporal};
        st = ncmp_temporal_write_figures(results, &rep, 1, dir, err);
    }
    /* the files the numbers came from, hashed once for both pages */
    const char *hashed[DEMO_MAX_HASHED];
    char hashes[DEMO_MAX_HASHED][NCMP_SHA256_HEX_LEN];
    size_t n_hashed = 0;
    hashed[n_hashed++] = r->recordings->neural_path;
    for (size_t m = 0; m < r->n_models; m++)
        hashed[n_hashed++] = r->models[m].activations_path;
    if (r->simulation)
        hashed[n_hashed++] = r->simulation->neural_path;
    for (size_t k = 0; !st && k < n_hashed; k++)
        st = ncmp_sha256_file(hashed[k], hashes[k], err);
    for (int html = 0; !st && html < 2; html++) {
        char path[4096];
        if (snprintf(path, sizeof path, "%s/%s", dir, html ? "index.html" : "report.md") >= (int)sizeof path)
            return ncmp_fail(err, NCMP_ERR_USAGE, "report directory path is too long");
        ncmp_atomic_file f;
        if ((st = ncmp_atomic_begin(&f, path, true, err)))
            return st;
        ncmp_doc d = {f.stream, html != 0};
        write_doc(&d, r, hashes, hashed, n_hashed);
        st = ncmp_atomic_commit(&f, err);
    }
    return st;
}
