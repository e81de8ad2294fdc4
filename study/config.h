/* A study file: one INI file (read with libinih) naming the models, the
 * stimuli, the recordings, the analyses and where the outputs go
 * (docs/reproducibility.md, "The study file").
 *
 * Paths in the file are relative to the file's own folder; study_config_read
 * resolves them to absolute paths.  Every section and key is checked: an
 * unknown one is an error naming its line, with a suggestion.
 */
#ifndef NCMP_STUDY_CONFIG_H
#define NCMP_STUDY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/sha256.h"
#include "core/status.h"

enum { STUDY_MAX_MODELS = 16, STUDY_MAX_RECORDINGS = 16, STUDY_MAX_LIST = 32 };

/* [model NAME] */
typedef struct study_model {
    char *name;
    char *weights;      /* a weights file, or NULL when trained or seeded */
    char *train;        /* options of `neurocmp train` (whitespace-separated), or NULL */
    long seed;          /* seeded initialisation when neither weights nor train */
    char *arch;         /* default: what the weights record */
    double width;       /* 0: the spec's */
    long input_size;    /* 0: the spec's */
    long channels;      /* 0: the spec's */
    long classes;       /* 0: the spec's */
    char *update_layer; /* NULL: the spec's */
    long iterations;    /* CNN-F feedback cycles exported (0: feed-forward) */
    char *precision;    /* NULL: export's default (double when iterations >= 1) */
    char *layers;       /* export's --layers (default all) */
    long batch;
    bool center_crop;
    char *evaluate[STUDY_MAX_LIST]; /* "clean", "fgsm:0.1", "pgd:0.2" ... */
    size_t n_evaluate;
    char *eval_data;  /* default fashion-mnist */
    long eval_images; /* 0: all */
    char *eval_attack_through;
    int line;
} study_model;

/* [recordings NAME]: imported from NumPy, an existing assembly, or simulated from a model */
typedef struct study_recordings {
    char *name;
    char *responses;      /* .npy to import */
    char *stimulus_ids;   /* folder/zip/csv/txt of ids in row order (default: the study's stimuli) */
    char *assembly;       /* an existing BrainIO netCDF-4 assembly */
    char *region;         /* the region (import: required; else a filter) */
    char *bin_starts;     /* 4-D import: --bin-starts */
    double bin_size;      /* 4-D import: --bin-size */
    char *simulate_model; /* simulated: from this model's activations */
    char *simulate_bins;  /* LAYER@ITERATION,... */
    long neuroids, repetitions, seed;
    double snr, start_ms, bin_ms;
    int line;
} study_recordings;

typedef struct study_config {
    char *path; /* absolute */
    char *dir;  /* its folder, absolute */
    char *text; /* the whole file */
    char sha256[NCMP_SHA256_HEX_LEN];

    char *name, *title, *description;
    char *out; /* absolute */
    long threads;
    char *stimuli;

    study_model models[STUDY_MAX_MODELS];
    size_t n_models;
    study_recordings recordings[STUDY_MAX_RECORDINGS];
    size_t n_recordings;

    /* [score] */
    bool score;
    char *score_models[STUDY_MAX_LIST], *score_recordings[STUDY_MAX_LIST];
    size_t n_score_models, n_score_recordings;
    char *metrics[STUDY_MAX_LIST]; /* one score step per metric (default pls); comparisons use the first */
    size_t n_metrics;
    char *score_layers, *score_iterations, *normalization, *time_window;
    long components;

    /* [ceiling] (always computed for scored recordings) */
    long ceiling_splits;

    /* [temporal] */
    bool temporal;
    char *temporal_model, *temporal_layer, *temporal_recordings, *temporal_bins, *temporal_mode, *temporal_map,
        *temporal_iterations;

    /* [compare]: "A vs B" with A, B = MODEL:LAYER@ITERATION */
    char *compare_pairs[STUDY_MAX_LIST];
    size_t n_compare_pairs;
    char *compare_recordings;
    long bootstrap, permutations, compare_seed;
} study_config;

/* Read and check a study file; *out is owned by the caller (study_config_free). */
ncmp_status study_config_read(const char *path, study_config **out, ncmp_error *err);
void study_config_free(study_config *c);

/* The model or recordings of that name, or NULL. */
const study_model *study_config_model(const study_config *c, const char *name);
const study_recordings *study_config_recordings(const study_config *c, const char *name);

#endif
