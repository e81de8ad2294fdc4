/* Dense linear algebra helpers for analysis/ (GSL). */
#ifndef NCMP_ANALYSIS_LINALG_H
#define NCMP_ANALYSIS_LINALG_H

#include <stddef.h>

#include "core/status.h"

/* out[k][k] = pinv(A[k][k]) as scipy.linalg.pinv (SVD; singular values at or
 * below kmax * DBL_EPSILON * s_max dropped, kmax >= k being the size of the
 * zero-padded matrix scipy would see). */
ncmp_status ncmp_pinv_square(const double *A, size_t k, size_t kmax, double *out, ncmp_error *err);

#endif
