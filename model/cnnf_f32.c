/* CNN / CNN-F kernels in float32 (the generic source is model/cnnf_kernels.inc). */
#include <cblas.h>
#define REAL float
#define RSUFFIX f32
#define GEMM cblas_sgemm
#include "model/cnnf_kernels.inc"
#include "model/train/grad_kernels.inc"
