/* The inference engine: feed-forward CNN and CNN-F iterative inference.
 *
 * An engine runs one network in one precision on batches of up to
 * max_batch inputs.  All memory (every kept layer output, CNN-F states,
 * im2col and top-down buffers) is allocated once by ncmp_cnnf_create;
 * running allocates nothing.  Convolutions are im2col + BLAS GEMM, so
 * identical inputs give bit-identical outputs at every position.
 *
 * CNN-F (Huang et al., NeurIPS 2020; rules in docs/cnnf-semantics.md):
 *   logits_0 = forward(x); h_0 = output of the update layer
 *   for t = 1..T: r = feedback(logits_{t-1}); h_t = h_{t-1} + step (r - h_{t-1});
 *                 logits_t = forward from the layer above the update layer
 * After each iteration t the observer is called and may read any kept layer
 * with ncmp_cnnf_output.  Layers below the update layer keep their t = 0
 * values; the update layer's output is h_t.
 */
#ifndef NCMP_MODEL_CNNF_H
#define NCMP_MODEL_CNNF_H

#include <stdbool.h>
#include <stddef.h>

#include "core/tensor.h"
#include "model/net.h"

typedef struct ncmp_cnnf ncmp_cnnf;

typedef struct ncmp_cnnf_options {
    ncmp_dtype precision; /* NCMP_FLOAT32 (fast) or NCMP_FLOAT64 (verification, reproducible iterates) */
    size_t max_batch;     /* inputs per run, >= 1 */
    /* Layers whose outputs must stay readable after each iteration.  Other
     * layers may be computed in place (a conv's output overwritten by its
     * insnorm, ...), which saves most of the memory.  keep_all keeps every
     * layer (needed for training).  Observation points (aliases) and the
     * last layer are always kept. */
    const int *keep_layers;
    int n_keep;
    bool keep_all;
} ncmp_cnnf_options;

ncmp_status ncmp_cnnf_create(const ncmp_net *net, const ncmp_cnnf_options *opts, ncmp_cnnf **engine, ncmp_error *err);
void ncmp_cnnf_free(ncmp_cnnf *engine);

/* Called after iteration t (0 = the feed-forward pass).  Return non-OK to stop. */
typedef ncmp_status (*ncmp_cnnf_observer)(void *ctx, const ncmp_cnnf *engine, int iteration, ncmp_error *err);

/* Run `input` ([n, C, H, W] float32 or float64, n <= max_batch, shape as the
 * architecture's input) for `iterations` CNN-F cycles (0 for a plain CNN).
 * Inputs holding NaN/Inf are refused, naming the sample. */
ncmp_status ncmp_cnnf_run(ncmp_cnnf *engine, const ncmp_tensor *input, int iterations, ncmp_cnnf_observer observer,
                          void *ctx, ncmp_error *err);

/* View of a kept layer's output for the current batch: [n, C, H, W] or
 * [n, F], in the engine's precision.  Valid until the next run step. */
ncmp_status ncmp_cnnf_output(const ncmp_cnnf *engine, int layer, ncmp_tensor *view, ncmp_error *err);

/* Routing-stability diagnostics of the latest forward pass: the number of
 * AdaPool windows whose deciding two candidates (largest two, or smallest two
 * where the window routes to its minimum), and of AdaReLU units whose
 * deciding value (x on the first pass, x'·h later), lie within
 * NCMP_TIE_TOLERANCE (relative to the layer's RMS value for that sample) of
 * a tie, summed over the batch.  0 for other layers. */
#define NCMP_TIE_TOLERANCE 1e-5
size_t ncmp_cnnf_near_ties(const ncmp_cnnf *engine, int layer);

const ncmp_net *ncmp_cnnf_net(const ncmp_cnnf *engine);
ncmp_dtype ncmp_cnnf_precision(const ncmp_cnnf *engine);
size_t ncmp_cnnf_batch(const ncmp_cnnf *engine); /* inputs in the current run */
size_t ncmp_cnnf_max_batch(const ncmp_cnnf *engine);
size_t ncmp_cnnf_memory_bytes(const ncmp_cnnf *engine); /* all buffers the engine holds */
bool ncmp_cnnf_is_kept(const ncmp_cnnf *engine, int layer);

#endif
