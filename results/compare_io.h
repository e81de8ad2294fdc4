/* Inputs and outputs of model comparisons (analysis/compare.h): a model's
 * cross-validated test predictions taken from a score just computed, or read
 * back from a `neurocmp score --details` HDF5 file (or the score JSON that
 * names one), and the comparison written as JSON with provenance.
 * An ncmp_prediction_set owns its arrays: free it with ncmp_prediction_set_free.
 */
#ifndef NCMP_RESULTS_COMPARE_IO_H
#define NCMP_RESULTS_COMPARE_IO_H

#include <stdint.h>

#include "analysis/compare.h"
#include "analysis/metrics.h"
#include "analysis/normalization.h"
#include "results/protocol.h"
#include "analysis/splits.h"
#include "core/status.h"

typedef struct ncmp_prediction_set {
    ncmp_predictions view; /* points into the arrays below */
    size_t *test_offset, *test;
    double *observed, *predicted;
    char *label;         /* e.g. "block5 t=5 (acts.h5)" */
    char *source;        /* the file the predictions came from (details file or activations file) */
    char *neural_sha256; /* of the recordings the score used ("" if unknown) */
    double ceiling;      /* NaN if none */
} ncmp_prediction_set;

/* From a score with predictions, its splits and the inputs it was fit on. */
ncmp_status ncmp_prediction_set_from_score(const ncmp_score *score, const ncmp_splits *splits,
                                           const ncmp_score_inputs *in, const char *label, const char *source,
                                           ncmp_prediction_set **out, ncmp_error *err);

/* From a --details HDF5 file, or a score JSON whose "details" names one.
 * iteration < 0: the file's only iteration (an error listing them if it has several). */
ncmp_status ncmp_prediction_set_read(const char *path, long long iteration, ncmp_prediction_set **out, ncmp_error *err);
void ncmp_prediction_set_free(ncmp_prediction_set *set);

typedef struct ncmp_compare_report {
    const ncmp_prediction_set *a, *b;
    const char *metric;      /* or NULL */
    const char *region;      /* or NULL */
    const char *neural_path; /* or NULL (compared from files) */
    const char *splits_description;
    ncmp_normalization normalization; /* of ceiled_a, ceiled_b, ceiled_difference */
} ncmp_compare_report;

ncmp_status ncmp_compare_write_json(const ncmp_comparison *c, const ncmp_compare_report *report, const char *path,
                                    ncmp_error *err);

#endif
