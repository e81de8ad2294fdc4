/* CNN / CNN-F kernels in float64: the engine's (model/cnnf_kernels.inc) and their
 * gradients (model/train/grad_kernels.inc), from one generic source. */
#include <cblas.h>
#define REAL    double
#define RSUFFIX f64
#define GEMM    cblas_dgemm
#include "model/cnnf_kernels.inc"
#include "model/train/grad_kernels.inc"
