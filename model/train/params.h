/* Trainable parameters of a network in one precision, with their gradients.
 *
 * An ncmp_params holds, per layer of an architecture, the weight and bias
 * tensors (PyTorch layout, as in ncmp_net) in float32 or float64, and a
 * gradient of the same shape for each.  Linear layers above a CNN-F update
 * layer have a second gradient, `grad_weight_t`: the gradient of the
 * top-down use W^T.  The reference implementation (yjhuangcd/CNNF,
 * layers.Linear) keeps that transpose as a separate parameter sharing W's
 * storage, so its optimiser applies the two gradients as two successive
 * updates of W, each with its own momentum buffer (docs/training.md §3);
 * model/train/sgd.h does the same.  Convolutions are tied (one parameter):
 * their top-down gradient is summed into grad_weight.
 *
 * Ownership: ncmp_params_create allocates everything; ncmp_params_free
 * releases it.  The architecture is borrowed and must outlive the params.
 */
#ifndef NCMP_MODEL_TRAIN_PARAMS_H
#define NCMP_MODEL_TRAIN_PARAMS_H

#include <hdf5.h>
#include <stdbool.h>

#include "core/sha256.h"
#include "core/tensor.h"
#include "model/net.h"

typedef struct ncmp_params {
    const ncmp_arch *arch; /* borrowed */
    ncmp_dtype dtype;
    void **weight, **bias;           /* per layer, NULL where the layer has none */
    void **grad_weight, **grad_bias; /* same shapes */
    void **grad_weight_t;            /* linear layers above the update layer of a CNN-F, else NULL */
    bool has_topdown_grad;           /* grad_weight_t hold this step's gradient (a feedback pass ran) */
} ncmp_params;

ncmp_status ncmp_params_create(const ncmp_arch *arch, ncmp_dtype dtype, ncmp_params **params, ncmp_error *err);
void ncmp_params_free(ncmp_params *params);

/* Copy (and widen) the float32 parameters of a net. */
void ncmp_params_from_net(ncmp_params *params, const ncmp_net *net);
/* Copy (rounding to float32 if needed) into a net of the same architecture. */
void ncmp_params_to_net(const ncmp_params *params, ncmp_net *net);
/* Read a weights file (docs/formats.md) in the params' precision (float64 files keep
 * their precision in a float64 params). */
ncmp_status ncmp_params_load(ncmp_params *params, const char *path, ncmp_error *err);

/* The seeded initialisation of ncmp_net_init_seeded (float32 values, widened
 * for float64 params: the same start in either precision). */
ncmp_status ncmp_params_init_seeded(ncmp_params *params, uint64_t seed, ncmp_error *err);

/* Element counts (0 where the layer has no such tensor). */
size_t ncmp_params_weight_size(const ncmp_params *params, int layer);
size_t ncmp_params_bias_size(const ncmp_params *params, int layer);
size_t ncmp_params_count(const ncmp_params *params);

/* Zero every gradient (and clear has_topdown_grad). */
void ncmp_params_zero_grad(ncmp_params *params);
/* Number of NaN/Inf values among the parameters (grads = false) or gradients (true). */
size_t ncmp_params_count_nonfinite(const ncmp_params *params, bool grads);

/* Write every tensor as a dataset named by its state_dict key under `loc`,
 * in PyTorch's shape (conv [out,in,k,k], linear [out,in], bias [C] or the
 * spec's broadcast shape), as float64 if `float64`, else float32. */
ncmp_status ncmp_params_write_h5(const ncmp_params *params, hid_t loc, bool float64, ncmp_error *err);

/* SHA-256 of the tensors as they would be stored (float32 or float64,
 * little-endian), in layer order, weight before bias, each preceded by its
 * key: identifies trained weights independently of the file's attributes
 * (timestamps, command line).  Stored as the `weights_digest` attribute. */
void ncmp_params_digest(const ncmp_params *params, bool float64, char hex[NCMP_SHA256_HEX_LEN]);

#endif
