/* Shared between model/train/unroll.c and the precision-generic gradient
 * kernels (model/train/grad_kernels.inc, compiled into model/cnnf_f32.c and
 * model/cnnf_f64.c next to the engine's kernels, whose helpers they reuse).
 * Not installed. */
#ifndef NCMP_MODEL_TRAIN_UNROLL_INTERNAL_H
#define NCMP_MODEL_TRAIN_UNROLL_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "model/cnnf_internal.h"

/* Samples per partial sum of a weight or bias gradient: gradients are summed
 * within fixed chunks of this many samples, then over chunks in order, so
 * the result does not depend on how chunks are spread over threads. */
#define NCMP_GRAD_CHUNK 8
/* Output features per block of a linear layer's GEMMs: every BLAS call has
 * a shape fixed by the batch and the layer, never by the thread count. */
#define NCMP_LINEAR_BLOCK 128

/* One backward step: of a forward layer (step < 0) or of a top-down plan step. */
typedef struct ncmp_grad_args {
    ncmp_cnnf *e;   /* architecture and weights (in the working precision) */
    int layer;      /* the layer (for a top-down step: the layer whose rule ran) */
    int step;       /* top-down plan step, or -1 */
    bool later;     /* AdaReLU / AdaPool ran its later-pass rule (h set) */
    const void *x;  /* forward: the layer's input; top-down: the step's input g */
    const void *y;  /* forward: the layer's output (relu) */
    const void *dy; /* gradient of the output */
    void *dx;       /* receives the gradient of the input (may be dy for elementwise layers); NULL: not needed */
    const unsigned char *mask; /* AdaReLU mask of the forward pass that ran (top-down: of the previous forward) */
    const int32_t *imax, *imin;
    const void *h;      /* AdaPool: the stored h whose signs routed (later passes) */
    void *dh;           /* forward AdaReLU, later pass: receives d loss / d h */
    const void *dh_add; /* top-down AdaReLU: gradient of the h this step stored, added to d g */
} ncmp_grad_args;

/* Per-sample part of a backward step for samples [n0, n1): the input
 * gradient, and the weight / bias gradient contributions added into gw / gb
 * (NULL: not wanted).  Not for linear layers (ncmp_linear_gemm_*). */
void ncmp_grad_samples_f32(const ncmp_grad_args *a, size_t n0, size_t n1, void *cols, void *gw, void *gb);
void ncmp_grad_samples_f64(const ncmp_grad_args *a, size_t n0, size_t n1, void *cols, void *gw, void *gb);

/* The three products of a linear layer W [O, In] on a batch of n rows, for
 * the output features / columns [c0, c1) only (so blocks of a fixed size can
 * run on any thread):
 *   NCMP_LINEAR_XWT:  C[n, O]  = A[n, In] W^T (+ bias), columns c0..c1 of C
 *   NCMP_LINEAR_XW:   C[n, In] = A[n, O] W, columns c0..c1 of C
 *   NCMP_LINEAR_GRAD: G[O, In] += A[n, O]^T X[n, In], rows c0..c1 of G */
typedef enum ncmp_linear_product { NCMP_LINEAR_XWT, NCMP_LINEAR_XW, NCMP_LINEAR_GRAD } ncmp_linear_product;
void ncmp_linear_gemm_f32(ncmp_linear_product kind, int n, int O, int In, const void *A, const void *W_or_X,
                          const void *bias, void *C, int c0, int c1);
void ncmp_linear_gemm_f64(ncmp_linear_product kind, int n, int O, int In, const void *A, const void *W_or_X,
                          const void *bias, void *C, int c0, int c1);

/* dst[j] += src[j] (a seed into a gradient), dst[j] += alpha src[j], dst = alpha src. */
void ncmp_grad_axpy_f32(void *dst, const void *src, double alpha, size_t n);
void ncmp_grad_axpy_f64(void *dst, const void *src, double alpha, size_t n);
void ncmp_grad_scale_f32(void *dst, const void *src, double alpha, size_t n);
void ncmp_grad_scale_f64(void *dst, const void *src, double alpha, size_t n);

#endif
