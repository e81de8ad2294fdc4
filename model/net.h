/* A network: an architecture plus its parameters (float32, PyTorch layout).
 *
 * Parameters come from a weights file (docs/formats.md, Weights: one float32
 * dataset per PyTorch state_dict key) or from a seeded initialisation
 * (He normal, fan_out, for convs as in the CNN-F reference and torchvision).
 * The engine (model/cnnf.h) reads them; a net can serve several engines.
 */
#ifndef NCMP_MODEL_NET_H
#define NCMP_MODEL_NET_H

#include <stdint.h>

#include "core/sha256.h"
#include "core/tensor.h"
#include "model/arch.h"

typedef struct ncmp_net {
    ncmp_arch *arch;         /* owned */
    float **weight;          /* per layer: conv [out,in,k,k] / linear [out,in] weights, else NULL */
    float **bias;            /* per layer: conv/linear bias or bias-layer parameter [C], else NULL */
    char weights_path[4096]; /* "" when seeded */
    char weights_sha256[NCMP_SHA256_HEX_LEN];
    uint64_t seed;
    int seeded;
} ncmp_net;

/* Take ownership of `arch` and allocate (zeroed) parameters. On failure
 * `arch` is freed too. */
ncmp_status ncmp_net_create(ncmp_arch *arch, ncmp_net **net, ncmp_error *err);
void ncmp_net_free(ncmp_net *net);

/* Load every parameter from a weights file.  A missing, extra or mis-shaped
 * tensor, or one holding NaN/Inf, is an error that names it.  Aliases that
 * PyTorch state_dicts of the CNN-F reference also hold (*.conv_t.weight,
 * *.linear_t.weight, fcN.weight beside fcN.linear.weight) are ignored. */
ncmp_status ncmp_net_load_weights(ncmp_net *net, const char *path, ncmp_error *err);

/* The reader behind ncmp_net_load_weights, for any precision: fills
 * weight[i] / bias[i] (caller-owned arrays of ncmp_net_weight_size /
 * ncmp_net_bias_size elements of `dtype`, NULL where a layer has none) with
 * the same checks.  Float32 files read as float64 are widened exactly.
 * Datasets under the group `training/` (checkpoint state, model/train) are
 * not tensors of the network and are skipped. */
ncmp_status ncmp_weights_read(const ncmp_arch *arch, const char *path, ncmp_dtype dtype, void **weight, void **bias,
                              ncmp_error *err);

/* A weights file by path, or by the name of a set shipped in model/weights/
 * ("cnnf-fmnist" -> <data dir>/model/weights/cnnf-fmnist.h5) when no such
 * file exists; returns name unchanged otherwise (buf holds a resolved path). */
const char *ncmp_weights_resolve(const char *name, char *buf, size_t size);

/* The network a weights file written by `neurocmp train` describes: the file
 * (a path, or a set's name as ncmp_weights_resolve takes it) names its
 * architecture and options (ncmp_arch_name_from_weights,
 * ncmp_arch_options_from_weights), and its tensors are loaded into it; what
 * `neurocmp export --weights FILE` runs.  *net is the caller's
 * (ncmp_net_free); NULL on failure. */
ncmp_status ncmp_net_open_weights(const char *weights, ncmp_net **net, ncmp_error *err);

/* Deterministic initialisation from a seed: conv weights N(0, 2/(k*k*out))
 * (He normal, fan_out), linear weights U(-1/sqrt(in), 1/sqrt(in)) (PyTorch's
 * nn.Linear default), biases zero.  Each tensor draws from its own stream
 * (ncmp_rng_seed_stream(seed, layer index)). */
ncmp_status ncmp_net_init_seeded(ncmp_net *net, uint64_t seed, ncmp_error *err);

/* The initialisation behind ncmp_net_init_seeded, into caller-owned float
 * arrays (per layer, NULL where a layer has none). */
void ncmp_weights_init_seeded(const ncmp_arch *arch, uint64_t seed, float **weight, float **bias);

/* Write the parameters as a weights file (docs/formats.md) (atomic). */
ncmp_status ncmp_net_save_weights(const ncmp_net *net, const char *path, ncmp_error *err);

/* PyTorch shape of layer i's weight (bias = false) or bias tensor as
 * written to a weights file; returns the rank, 0 if the layer has none. */
int ncmp_net_tensor_dims(const ncmp_arch *arch, int layer, bool bias, unsigned long long dims[4]);

/* Number of parameters (weights and biases). */
size_t ncmp_net_param_count(const ncmp_net *net);
/* Element count of layer i's weight / bias tensor (0 if none). */
size_t ncmp_net_weight_size(const ncmp_net *net, int layer);
size_t ncmp_net_bias_size(const ncmp_net *net, int layer);

#endif
