/* The neural side of the predictivity protocol (docs/scoring.md): from a
 * recorded assembly and an activations file to the matrices the regression
 * needs.  Select the region, average the time bins inside the window,
 * compute the split-half ceiling when repetitions exist, average the
 * repetitions per stimulus, order stimuli by sorted stimulus_id, find each
 * stimulus in the activations file (missing ones are an error saying how
 * many and which), and pick the stratification labels (object_name) if any.
 * An ncmp_score_inputs is owned by the caller: free with ncmp_score_inputs_free.
 */
#ifndef NCMP_RESULTS_PROTOCOL_H
#define NCMP_RESULTS_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>

#include "results/activations.h"
#include "analysis/metrics.h"
#include "analysis/pls.h"
#include "analysis/splits.h"
#include "core/status.h"
#include "neural/assembly.h"

typedef struct ncmp_score_inputs {
    size_t n_stimuli, n_neuroids;
    char **stimulus_ids;                   /* [n_stimuli], sorted by strcmp */
    char **labels;                         /* [n_stimuli] object_name per stimulus, or NULL when absent */
    double *responses;                     /* [n_stimuli][n_neuroids] averaged over the window and the repetitions */
    size_t *rows;                          /* [n_stimuli] row of each stimulus in the activations file */
    size_t n_unused_activations;           /* stimuli in the activations file but not in the recordings */
    double ceiling, ceiling_error;         /* NaN when the data has no repetitions */
    double window_start_ms, window_end_ms; /* NaN when the data has no time bins */
} ncmp_score_inputs;

/* region may be NULL (all neuroids); the window applies only to data with time bins. */
ncmp_status ncmp_score_inputs_prepare(const ncmp_assembly *neural, const char *region, double window_start_ms,
                                      double window_end_ms, const ncmp_activations *activations,
                                      ncmp_score_inputs **out, ncmp_error *err);
void ncmp_score_inputs_free(ncmp_score_inputs *in);

/* The splits of docs/scoring.md for these inputs: read from splits_path (a
 * --splits-to file, checked against the sorted stimulus ids) when given,
 * else 10 x StratifiedShuffleSplit(0.9, random_state=1) by object_name, or
 * ShuffleSplit without labels. */
ncmp_status ncmp_score_inputs_splits(const ncmp_score_inputs *in, const char *splits_path, ncmp_splits **out,
                                     ncmp_error *err);

typedef enum ncmp_metric {
    NCMP_METRIC_PLS = 0,
    NCMP_METRIC_RIDGE,
    NCMP_METRIC_OLS,
    NCMP_METRIC_RSA,
    NCMP_METRIC_CKA
} ncmp_metric;

/* "pls", "ridge", "ols", "rsa", "cka" (an unknown name is NCMP_ERR_USAGE listing them). */
ncmp_status ncmp_metric_parse(const char *name, ncmp_metric *metric, ncmp_error *err);

/* The solver `score` uses: pls->solver unless AUTO; then for PLS the cost
 * model of ncmp_pls_choose_solver, for ridge/OLS the dual (Gram matrix) when
 * features outnumber the largest training set; RSA always reads features,
 * CKA always uses the Gram matrix.  q is the number of neuroids. */
ncmp_pls_solver ncmp_score_solver(ncmp_metric metric, ncmp_pls_solver requested, size_t n_features, size_t q,
                                  const ncmp_splits *splits);

/* What a metric reads for one layer at one iteration and the stimuli
 * rows[0..n-1]: the n x n Gram matrix (kernel, streamed in blocks of
 * block_bytes) or the n x p features.  *out is malloc'ed; free it. */
ncmp_status ncmp_score_layer_data(const ncmp_activations *activations, const char *layer, size_t iteration_index,
                                  const size_t *rows, size_t n, bool kernel, size_t block_bytes, double **out,
                                  ncmp_error *err);

/* The metric on data from ncmp_score_layer_data (kernel as given there, p
 * features); pls->solver must be resolved. */
ncmp_status ncmp_score_from_data(const double *data, bool kernel, size_t p, const ncmp_score_inputs *in,
                                 const ncmp_splits *splits, ncmp_metric metric, const ncmp_pls_options *pls,
                                 ncmp_score **out, ncmp_error *err);

/* One layer at one iteration of the activations file scored on the prepared
 * inputs and splits: ncmp_score_layer_data, then ncmp_score_from_data, with
 * pls's solver resolved by ncmp_score_solver. */
ncmp_status ncmp_score_layer(const ncmp_activations *activations, const char *layer, size_t iteration_index,
                             const ncmp_score_inputs *in, const ncmp_splits *splits, ncmp_metric metric,
                             const ncmp_pls_options *pls, size_t block_bytes, ncmp_score **out, ncmp_error *err);

#endif
