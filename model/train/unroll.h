/* The unrolled CNN-F: every iteration of a batch kept, and backpropagation
 * through all of them.
 *
 * ncmp_unroll_forward runs the network exactly as the inference engine does
 * (model/cnnf.h, docs/cnnf-semantics.md): iteration 0 is the feed-forward
 * pass; each cycle t = 1..T runs the feedback pass from logits_{t-1} down to
 * the update layer, blends h_t = h_{t-1} + step (r_t - h_{t-1}) and runs
 * forward from the layer above.  Unlike the engine it keeps every pass: the
 * outputs of every layer in every forward pass, the top-down signal after
 * every step of every feedback pass, every AdaReLU mask, AdaPool index and
 * stored h.  The engine's own kernels compute these passes (the same code,
 * so the same numbers).
 *
 * ncmp_unroll_backward then propagates a loss gradient through the whole
 * unrolled graph (backpropagation through time): through the forward
 * passes, the blends and the feedback passes, including the gradient that
 * reaches the stored top-down signals h through AdaReLU's later passes and
 * the transposed convolutions and linear maps (tied weights).  Discrete
 * routing choices (masks, argmax/argmin, the signs of h) are constants of
 * the differentiation, as in PyTorch's autograd.  The loss enters as
 * *seeds*: gradients added at chosen layer outputs of forward pass t
 * (logits, reconstruction targets) and at chosen top-down step outputs of
 * cycle t (reconstructions).  Gradients of the parameters are accumulated
 * into the ncmp_params given at creation (zero them first); the gradient
 * of the input is written if asked.
 *
 * Results do not depend on the thread count: every BLAS call runs
 * single-threaded with a shape that depends only on the batch, per-sample
 * work is split by sample, and every reduction over samples (weight and
 * bias gradients) sums fixed chunks of samples in a fixed order.  (OpenBLAS
 * rounds the same product differently with 1 and 2 threads, and when the
 * call is split by rows.)  Forward and backward set OpenBLAS to one thread
 * for their duration and restore the application's setting on return; the
 * work is spread over core/parallel's pool instead.
 *
 * Memory: all buffers for max_batch inputs and max_cycles cycles are
 * allocated by ncmp_unroll_create (ncmp_unroll_memory_bytes tells how
 * much); forward and backward allocate nothing.
 */
#ifndef NCMP_MODEL_TRAIN_UNROLL_H
#define NCMP_MODEL_TRAIN_UNROLL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/tensor.h"
#include "model/train/params.h"

typedef struct ncmp_unroll ncmp_unroll;

typedef struct ncmp_unroll_options {
    size_t max_batch; /* inputs per forward, >= 1 */
    int max_cycles;   /* feedback cycles the buffers hold (0 for a feed-forward CNN) */
    bool input_grad;  /* allow ncmp_unroll_backward to return d loss / d input */
    /* Forward-pass layers whose outputs may receive seeds (besides the last
     * layer, which always can): e.g. reconstruction targets. */
    const int *seed_layers;
    int n_seed_layers;
    /* Top-down plan steps (indices into arch->topdown) whose outputs may
     * receive seeds: e.g. reconstructions. */
    const int *seed_steps;
    int n_seed_steps;
} ncmp_unroll_options;

/* The precision is the params'.  params must outlive the unroll; its
 * weights are read at every forward (so an optimiser may update them in
 * place between steps). */
ncmp_status ncmp_unroll_create(ncmp_params *params, const ncmp_unroll_options *opts, ncmp_unroll **unroll,
                               ncmp_error *err);
void ncmp_unroll_free(ncmp_unroll *unroll);
size_t ncmp_unroll_memory_bytes(const ncmp_unroll *unroll);

/* Run `input` ([n, C, H, W], float32 or float64, n <= max_batch) for
 * `cycles` CNN-F cycles (<= max_cycles) and keep every pass.  Inputs with
 * NaN/Inf are refused, naming the sample.  All seeds are zeroed. */
ncmp_status ncmp_unroll_forward(ncmp_unroll *unroll, const ncmp_tensor *input, int cycles, ncmp_error *err);

/* Views of the latest forward, in the params' precision (valid until the
 * next forward).  layer_output: [n, size of layer] of forward pass t
 * (0 <= t <= cycles; for t >= 1 only layers at or above the update layer);
 * step_output: [n, size] of top-down plan step s in cycle t (1 <= t <= cycles). */
const void *ncmp_unroll_layer_output(const ncmp_unroll *unroll, int t, int layer);
const void *ncmp_unroll_step_output(const ncmp_unroll *unroll, int t, int step);
size_t ncmp_unroll_batch(const ncmp_unroll *unroll);
int ncmp_unroll_cycles(const ncmp_unroll *unroll);
ncmp_dtype ncmp_unroll_precision(const ncmp_unroll *unroll);
const ncmp_arch *ncmp_unroll_arch(const ncmp_unroll *unroll);

/* Seed buffers ([n, size], zeroed by forward; add the loss gradient into
 * them).  NULL if that layer/step was not declared in the options (the last
 * layer always is). */
void *ncmp_unroll_layer_seed(ncmp_unroll *unroll, int t, int layer);
void *ncmp_unroll_step_seed(ncmp_unroll *unroll, int t, int step);

/* Backpropagate the seeds through the latest forward.  With param_grads,
 * adds the parameter gradients into the params' grad arrays (and sets
 * has_topdown_grad when a feedback pass ran); input_grad, if not NULL,
 * receives d loss / d input ([n, C, H, W] in the params' precision;
 * requires opts.input_grad).  The seeds are consumed (modified). */
ncmp_status ncmp_unroll_backward(ncmp_unroll *unroll, bool param_grads, void *input_grad, ncmp_error *err);

#endif
