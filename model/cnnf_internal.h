/* Internal layout of the inference engine, shared by model/cnnf.c and the
 * precision-generic kernels (model/cnnf_kernels.inc).  Not installed. */
#ifndef NCMP_MODEL_CNNF_INTERNAL_H
#define NCMP_MODEL_CNNF_INTERNAL_H

#include <stdint.h>

#include "model/cnnf.h"

struct ncmp_cnnf {
    const ncmp_net *net;
    const ncmp_arch *arch;
    ncmp_dtype dtype;
    size_t max_batch, n; /* capacity and current batch */
    void *input;         /* [B, input size] */
    void **out;          /* per layer output [B, out size]; may alias the layer below (in place) */
    void **owned;        /* per layer: the buffer this layer allocated, or NULL */
    bool *kept;
    const void **weight, **bias; /* per layer, in the engine's precision */
    void **converted;            /* float64 engines: converted copies to free */
    unsigned char **mask;        /* adarelu: [B, size] */
    void **h;                    /* adarelu / adapool: stored top-down signal [B, out size] */
    int32_t **imax, **imin;      /* adapool: flat input-plane index per output element */
    bool *has_h;                 /* layer holds an h from a feedback pass */
    bool *fwd_used_h;            /* adapool: latest forward used pos/neg masks from h */
    size_t *near_ties;
    void *cols;
    size_t cols_elems;
    void *g[2];
    size_t g_elems;
    size_t bytes;
};

/* Precision-specific kernels (model/cnnf_f32.c, model/cnnf_f64.c). */
void ncmp_cnnf_forward_layer_f32(ncmp_cnnf *e, int layer);
void ncmp_cnnf_forward_layer_f64(ncmp_cnnf *e, int layer);
/* Feedback pass from the last layer down to the update layer, then the update. */
void ncmp_cnnf_feedback_f32(ncmp_cnnf *e);
void ncmp_cnnf_feedback_f64(ncmp_cnnf *e);

/* Single-layer application, for tests of the adjoint identities. */
void ncmp_cnnf_apply_forward_f32(ncmp_cnnf *e, int layer, const void *in, void *out);
void ncmp_cnnf_apply_forward_f64(ncmp_cnnf *e, int layer, const void *in, void *out);
void ncmp_cnnf_apply_topdown_f32(ncmp_cnnf *e, int layer, const void *g, void *gin);
void ncmp_cnnf_apply_topdown_f64(ncmp_cnnf *e, int layer, const void *g, void *gin);

#endif
