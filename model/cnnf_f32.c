/* CNN / CNN-F kernels in float32: the engine's (model/cnnf_kernels.inc) and their
 * gradients (model/train/grad_kernels.inc), from one generic source. */
#include <cblas.h>
#define REAL    float
#define RSUFFIX f32
#define GEMM    cblas_sgemm
#include "model/cnnf_kernels.inc"
#include "model/train/grad_kernels.inc"
