/* The analyses and the report of `neurocmp demo` (cli/demo_steps.c), as
 * library calls on files: the bundled V4 recordings imported with their
 * ceiling, score tables of trained networks against them (the cells of
 * `neurocmp score`), paired comparisons of table cells (what `neurocmp
 * compare` computes), the iteration x time-bin analysis on recordings
 * simulated from a network, and one report (index.html + report.md) with a
 * section on the real recordings before the simulated temporal section.
 *
 * Like the rest of results/, nothing here includes model/: the networks
 * reach it as activations files.  Structs below that own something say so;
 * release them with the function named beside them.
 */
#ifndef NCMP_RESULTS_DEMO_REPORT_H
#define NCMP_RESULTS_DEMO_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analysis/compare.h"
#include "analysis/normalization.h"
#include "core/sha256.h"
#include "core/status.h"
#include "neural/assembly.h"
#include "results/score_table.h"
#include "results/temporal.h"

/* The recordings: where they came from (filled by the caller) and what the
 * import found (filled by ncmp_demo_import_recordings). */
typedef struct ncmp_demo_recordings {
    const char *responses_path; /* NumPy neurons x images x repeats (NaN = not shown) */
    const char *stimuli_path;   /* the images (zip) whose names are the stimulus ids */
    const char *neural_path;    /* the BrainIO assembly written from them */
    const char *citation;       /* data citation, licence */
    char responses_sha256[NCMP_SHA256_HEX_LEN], stimuli_sha256[NCMP_SHA256_HEX_LEN];
    size_t n_neuroids, n_stimuli, n_presentations, n_repetitions, n_halvings;
    bool has_time_bins;
    double ceiling, ceiling_error; /* split-half, Spearman-Brown (neural/ceiling.h) */
} ncmp_demo_recordings;

/* Read rec->responses_path and the stimulus ids of rec->stimuli_path, build
 * the assembly (region "V4"), write it to rec->neural_path (netCDF-4, with
 * both inputs' SHA-256) and measure its split-half ceiling; fills the
 * counts and the ceiling of rec.  *assembly is the caller's
 * (ncmp_assembly_free); NULL on failure. */
ncmp_status ncmp_demo_import_recordings(ncmp_demo_recordings *rec, ncmp_assembly **assembly, ncmp_error *err);

/* A network as the report describes it, and its score table. */
typedef struct ncmp_demo_model {
    const char *name;             /* "CNN-F" */
    const char *key;              /* "cnnf": figure file names */
    const char *description;      /* one sentence */
    const char *weights_path;     /* the weights the activations came from */
    const char *weights_sha256;   /* of that file */
    const char *activations_path; /* the activations file scored */
    int input_size;               /* the network's input, pixels a side (images are resized to it) */
    ncmp_score_table *table;      /* borrowed */
} ncmp_demo_model;

/* Score the layers at every iteration of an activations file against the
 * assembly with `neurocmp score`'s defaults (PLS-25, 10 splits, window
 * 70:170 ms where there are time bins, ceiled raw^2/ceiling): every cell is
 * the number `neurocmp score --activations FILE --layer L --iteration t`
 * prints.  progress: a bar on stderr. *out is the caller's
 * (ncmp_score_table_free). */
ncmp_status ncmp_demo_score(const ncmp_assembly *assembly, const char *activations_path, const char *const *layers,
                            size_t n_layers, bool progress, ncmp_score_table **out, ncmp_error *err);

/* The layer (index) with the highest ceiled score at the iteration with
 * index `iteration`; or, with iteration SIZE_MAX, the best cell of the table
 * (*best_iteration receives its iteration index). */
void ncmp_demo_best_cell(const ncmp_score_table *t, size_t iteration, size_t *best_layer, size_t *best_iteration);

/* A paired comparison of two table cells (model A - model B). */
typedef struct ncmp_demo_comparison {
    char label_a[160], label_b[160];
    ncmp_comparison *result; /* owned: ncmp_demo_comparison_release */
    double ceiling;
    ncmp_normalization normalization;
    double ceiled_a, ceiled_b, ceiled_difference; /* ceiled(score) of each, and their difference */
    double ceiled_interval[2]; /* percentile interval of the ceiled difference over the same bootstrap replicates */
} ncmp_demo_comparison;

/* Compare cell (layer_a, iteration_a) of table a with cell (layer_b,
 * iteration_b) of table b from the test predictions the tables kept: the
 * comparison `neurocmp compare --activations A --activations-b B --layer ..
 * --iterations ta,tb --neural ..` computes (both tables must come from the
 * same recordings and splits; ncmp_compare_predictions checks it).
 * name_a/name_b start the labels ("CNN-F block3 t=5"). options may be NULL
 * (NCMP_COMPARE_DEFAULTS). */
ncmp_status ncmp_demo_compare(const ncmp_score_table *a, size_t layer_a, size_t iteration_a, const char *name_a,
                              const ncmp_score_table *b, size_t layer_b, size_t iteration_b, const char *name_b,
                              const ncmp_compare_options *options, ncmp_demo_comparison *out, ncmp_error *err);
void ncmp_demo_comparison_release(ncmp_demo_comparison *c);

/* Recordings simulated from a network with a known answer, and what the
 * iteration x time-bin analysis finds in them. */
typedef struct ncmp_demo_simulation {
    const char *activations_path; /* the network the recordings are simulated from */
    const char *layer;            /* the layer driving every bin ("block4") */
    const char *neural_path;      /* where the simulated recordings are written */
    uint64_t seed;
    size_t n_neuroids, n_repetitions;
    double snr;
    char bins[1024];         /* "block4@0,block4@0,block4@1,..." : bin b driven by iteration b/2 */
    double expected_ceiling; /* what the simulation's noise implies */
    ncmp_temporal *temporal; /* owned: ncmp_demo_simulation_release */
    size_t n_recovered;      /* bins whose best iteration is the one that drove them */
} ncmp_demo_simulation;

/* Simulate 2 (T+1) bins of 20 ms from 70 ms for iterations 0..T of
 * sim->activations_path (bin b driven by sim->layer at iteration b/2;
 * sim->n_neuroids, n_repetitions, snr and seed as set by the caller), write
 * them to sim->neural_path and run the iteration x time-bin analysis of
 * sim->layer on them.  Fills bins, expected_ceiling, temporal and
 * n_recovered. */
ncmp_status ncmp_demo_simulate(ncmp_demo_simulation *sim, int iterations, ncmp_error *err);
void ncmp_demo_simulation_release(ncmp_demo_simulation *sim);

typedef struct ncmp_demo_report {
    const ncmp_demo_recordings *recordings;
    const ncmp_demo_model *models; /* the CNN-F first */
    size_t n_models;
    const ncmp_demo_comparison *comparisons;
    size_t n_comparisons;
    const ncmp_demo_simulation *simulation;
} ncmp_demo_report;

/* DIR/index.html and DIR/report.md (DIR must exist) with every figure they
 * show: the real V4 recordings (data, ceiling, each model's layer x
 * iteration heatmap and table, the comparisons, what the numbers mean and
 * do not mean), then the simulated temporal section, then how to reproduce
 * it. */
ncmp_status ncmp_demo_write_report(const ncmp_demo_report *report, const char *dir, ncmp_error *err);

#endif
