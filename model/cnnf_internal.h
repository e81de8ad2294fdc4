/* Internal layout of the inference engine, shared by model/cnnf.c and the
 * precision-generic kernels (model/cnnf_kernels.inc).  Not installed. */
#ifndef NCMP_MODEL_CNNF_INTERNAL_H
#define NCMP_MODEL_CNNF_INTERNAL_H

#include <stdint.h>

#include "model/cnnf.h"

#define NCMP_ENGINE_MAX_THREADS 16

/* The work of one thread: the samples [n0, n1) of the batch, or, for a
 * linear layer, every sample and the features [c0, c1) (outputs forward,
 * inputs top-down); with its im2col buffer. */
typedef struct ncmp_span {
    size_t n0, n1;
    int c0, c1;
    void *cols;
} ncmp_span;

/* Features per block of a linear layer's work: threads take whole blocks. */
#define NCMP_ENGINE_LINEAR_BLOCK 64

/* Column blocks (output positions) of a convolution's GEMMs: between 1 and
 * 8 blocks of at least 256 positions, a multiple of 16 wide, fixed by the
 * layer's shape.  Each sample's GEMM is always these calls, run in order or,
 * when the batch has fewer samples than threads, on several threads: the
 * result is the same either way. */
static inline int ncmp_conv_blocks(int N)
{
    int b = N / 256;
    return b < 1 ? 1 : (b > 8 ? 8 : b);
}
static inline void ncmp_conv_block_range(int N, int blocks, int k, int *j0, int *j1)
{
    int w = (N + blocks - 1) / blocks;
    w = (w + 15) / 16 * 16;
    *j0 = k * w < N ? k * w : N;
    *j1 = (k + 1) * w < N ? (k + 1) * w : N;
}

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
    bool count_ties; /* routing near-tie diagnostics (off while training: they cost a pass per layer) */
    void *cols[NCMP_ENGINE_MAX_THREADS]; /* one im2col buffer per thread */
    int threads;                         /* sample-parallel threads (1: BLAS threads only) */
    size_t cols_elems;
    void *g[2];
    size_t g_elems;
    size_t bytes;
};

/* Precision-specific kernels (model/cnnf_f32.c, model/cnnf_f64.c), each on a span of samples. */
size_t ncmp_cnnf_forward_span_f32(ncmp_cnnf *e, int layer, const ncmp_span *sp);
size_t ncmp_cnnf_forward_span_f64(ncmp_cnnf *e, int layer, const ncmp_span *sp);
void ncmp_cnnf_topdown_span_f32(ncmp_cnnf *e, int step, const void *g, void *gin, const ncmp_span *sp);
void ncmp_cnnf_topdown_span_f64(ncmp_cnnf *e, int step, const void *g, void *gin, const ncmp_span *sp);
void ncmp_cnnf_update_span_f32(ncmp_cnnf *e, const void *r, const ncmp_span *sp);
void ncmp_cnnf_update_span_f64(ncmp_cnnf *e, const void *r, const ncmp_span *sp);

/* Pieces of one sample's convolution, for splitting it over threads. */
void ncmp_conv_gemm_block_f32(ncmp_cnnf *e, int layer, const void *cols, void *out, int j0, int j1);
void ncmp_conv_gemm_block_f64(ncmp_cnnf *e, int layer, const void *cols, void *out, int j0, int j1);
void ncmp_convt_gemm_block_f32(ncmp_cnnf *e, int layer, const void *g, void *cols, int j0, int j1);
void ncmp_convt_gemm_block_f64(ncmp_cnnf *e, int layer, const void *g, void *cols, int j0, int j1);
void ncmp_conv_im2col_f32(ncmp_cnnf *e, int layer, const void *in, void *cols);
void ncmp_conv_im2col_f64(ncmp_cnnf *e, int layer, const void *in, void *cols);
void ncmp_conv_col2im_f32(ncmp_cnnf *e, int layer, const void *cols, void *out);
void ncmp_conv_col2im_f64(ncmp_cnnf *e, int layer, const void *cols, void *out);

/* Engine steps as ncmp_cnnf_run executes them (sample-parallel), for the
 * benchmark's per-layer timings: forward of layers [from, to); the whole
 * feedback pass plus update; one top-down plan step from g to gin. */
void ncmp_cnnf_forward_layers(ncmp_cnnf *e, int from, int to);
void ncmp_cnnf_feedback_pass(ncmp_cnnf *e);
void ncmp_cnnf_topdown_step(ncmp_cnnf *e, int step, const void *g, void *gin);

/* Single-layer application, for tests of the adjoint identities. */
void ncmp_cnnf_apply_forward_f32(ncmp_cnnf *e, int layer, const void *in, void *out);
void ncmp_cnnf_apply_forward_f64(ncmp_cnnf *e, int layer, const void *in, void *out);
void ncmp_cnnf_apply_topdown_f32(ncmp_cnnf *e, int layer, const void *g, void *gin);
void ncmp_cnnf_apply_topdown_f64(ncmp_cnnf *e, int layer, const void *g, void *gin);

#endif
