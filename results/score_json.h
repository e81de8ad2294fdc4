/* Score results as score-result JSON (docs/formats.md): benchmark, metric, layer, iteration,
 * region, raw, error, ceiling, ceiled, n_stimuli, n_neuroids, splits, and
 * provenance (neurocmp version and revision, linked HDF5/GSL/BLAS, input
 * paths and SHA-256, seed, command line, time).  One iteration: numbers;
 * several: arrays in iteration order.  Written to PATH.partial and renamed.
 */
#ifndef NCMP_RESULTS_SCORE_JSON_H
#define NCMP_RESULTS_SCORE_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "analysis/metrics.h"
#include "analysis/normalization.h"
#include "analysis/splits.h"

#include <hdf5.h>
#include "core/status.h"

typedef struct ncmp_score_report {
    const char *benchmark; /* e.g. "file.nc:V4-pls" */
    const char *metric;    /* "pls" */
    const char *layer;
    const char *region; /* NULL: all neuroids */
    const char *activations_path, *neural_path;
    const char *splits_path; /* --splits-from file or NULL */
    const char *splits_description;
    uint32_t seed;
    double window_start_ms, window_end_ms; /* NaN: not windowed */
    double ceiling, ceiling_error;         /* NaN: no ceiling (no repetitions) -> null */
    size_t n_components;
    const char *details_path;         /* --details file (named in the JSON so `compare` can find it) or NULL */
    ncmp_normalization normalization; /* how ceiled is computed from raw and ceiling (analysis/normalization.h) */
} ncmp_score_report;

ncmp_status ncmp_score_write_json(const ncmp_score *const *scores, const long long *iterations, size_t n,
                                  const ncmp_score_report *report, const char *path, ncmp_error *err);

/* The "provenance" object of every JSON result (an indented JSON object, no
 * trailing newline): neurocmp version and revision, HDF5/GSL/BLAS, UTC time,
 * command line, and "<role>_path"/"<role>_sha256" for each input. */
void ncmp_json_write_provenance(FILE *f, const char *const *roles, const char *const *paths, const char *const *hashes,
                                size_t n_inputs);

/* The inputs of a score result: paths and SHA-256, hashed once
 * (ncmp_result_inputs_hash) and written as the JSON provenance object
 * (ncmp_result_inputs_write) or as the text embedded in figures
 * (ncmp_result_inputs_text). splits_path may be NULL. */
typedef struct ncmp_result_inputs {
    const char *activations_path, *neural_path, *splits_path;
    char activations_sha256[65], neural_sha256[65], splits_sha256[65];
} ncmp_result_inputs;

ncmp_status ncmp_result_inputs_hash(ncmp_result_inputs *in, const char *activations_path, const char *neural_path,
                                    const char *splits_path, ncmp_error *err);
void ncmp_result_inputs_write(FILE *f, const ncmp_result_inputs *in);
/* "neurocmp VERSION (REVISION)\ncommand: ...\nactivations: PATH sha256 HEX\nneural: ..."; *out malloc'ed. */
ncmp_status ncmp_result_inputs_text(const ncmp_result_inputs *in, char **out, ncmp_error *err);

/* /train_mask and /test_mask [n_splits][n_stimuli] (uint8, 1 = in that split's
 * train / test set) under loc, as `score --details` and `temporal` write them. */
ncmp_status ncmp_splits_write_masks_h5(hid_t loc, const ncmp_splits *splits, ncmp_error *err);

#endif
