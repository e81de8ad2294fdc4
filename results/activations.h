/* Reading an activations file (docs/formats.md, Activations) for analysis, through HDF5 only:
 * analysis/ never includes model/, so files written by any tool in the
 * documented layout work.  Incomplete files (no root attribute complete = 1)
 * are refused.  Features of a stimulus are its layer tensor flattened in C
 * order, converted to float64.
 * An ncmp_activations is owned by the caller: close with ncmp_activations_close.
 */
#ifndef NCMP_RESULTS_ACTIVATIONS_H
#define NCMP_RESULTS_ACTIVATIONS_H

#include <hdf5.h>
#include <stddef.h>

#include "core/status.h"

typedef struct ncmp_activations {
    hid_t file;
    char *path;
    char **stimulus_ids; /* [n_stimuli] in file order */
    size_t n_stimuli;
    long long *iterations; /* [n_iterations] values of /iteration (0..T) */
    size_t n_iterations;
    char **layers; /* names under /activations, sorted */
    size_t n_layers;
} ncmp_activations;

ncmp_status ncmp_activations_open(const char *path, ncmp_activations **out, ncmp_error *err);
void ncmp_activations_close(ncmp_activations *a);

/* Number of features of a layer (product of the axes after the first two);
 * an unknown layer is NCMP_ERR_NOT_FOUND listing the layers the file has. */
ncmp_status ncmp_activations_layer_features(const ncmp_activations *a, const char *layer, size_t *n_features,
                                            ncmp_error *err);

/* Index into iterations of iteration value t; absent is NCMP_ERR_NOT_FOUND listing what exists. */
ncmp_status ncmp_activations_iteration_index(const ncmp_activations *a, long long t, size_t *index, ncmp_error *err);

/* rows[i] = index into stimulus_ids of ids[i], for every i < n.  Ids the file
 * lacks are NCMP_ERR_NOT_FOUND saying how many and which (the first few). */
ncmp_status ncmp_activations_match(const ncmp_activations *a, const char *const *ids, size_t n, size_t *rows,
                                   ncmp_error *err);

/* out[i][f] = layer[iteration_index][rows[i]] flattened, float64, for i < n.
 * A NaN or infinite value is NCMP_ERR_VALUE naming the stimulus and feature. */
ncmp_status ncmp_activations_read_features(const ncmp_activations *a, const char *layer, size_t iteration_index,
                                           const size_t *rows, size_t n, double *out, ncmp_error *err);

/* G[n][n] = Fs Fs' for the features of stimuli rows[0..n-1] at one iteration,
 * shifted by the first stimulus's features (centred kernels do not depend on a
 * common shift; it keeps large feature offsets from costing precision).
 * Streams blocks of stimuli: at most about block_bytes of features are held
 * (two blocks of float64 rows), and a block pair is multiplied with BLAS, so
 * memory is O(n^2 + block_bytes) whatever the number of features.  Feature
 * checks as ncmp_activations_read_features. */
ncmp_status ncmp_activations_gram(const ncmp_activations *a, const char *layer, size_t iteration_index,
                                  const size_t *rows, size_t n, size_t block_bytes, double *G, ncmp_error *err);

/* The share of features [first_feature, end_feature) (flattened C order) of
 * that Gram matrix, with the same shift restricted to them: the shares of a
 * partition of the features sum to ncmp_activations_gram's G up to rounding
 * (one rank's part of the sum, results/score_ranks.h).  Only those features
 * are read; an empty range gives zeros. */
ncmp_status ncmp_activations_gram_features(const ncmp_activations *a, const char *layer, size_t iteration_index,
                                           const size_t *rows, size_t n, size_t first_feature, size_t end_feature,
                                           size_t block_bytes, double *G, ncmp_error *err);

/* The same over rows from any iterations: row k is stimulus rows[k] at
 * iteration iteration_index[k] (one common shift, the features of row 0), so
 * G is the Gram matrix of (stimulus, iteration) samples: what a regression
 * over stacked time bins needs (results/temporal.h, span mode). */
ncmp_status ncmp_activations_gram_rows(const ncmp_activations *a, const char *layer, const size_t *iteration_index,
                                       const size_t *rows, size_t n, size_t block_bytes, double *G, ncmp_error *err);

#endif
