/* CNN / CNN-F kernels in float64 (the generic source is model/cnnf_kernels.inc). */
#include <cblas.h>
#define REAL double
#define RSUFFIX f64
#define GEMM cblas_dgemm
#include "model/cnnf_kernels.inc"
#include "model/train/grad_kernels.inc"
