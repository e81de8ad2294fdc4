/* Dense linear algebra helpers for analysis/ (GSL). */
#ifndef NCMP_ANALYSIS_LINALG_H
#define NCMP_ANALYSIS_LINALG_H

#include <stddef.h>

#include "core/status.h"

/* GSL's default error handler aborts the process (on an allocation failure,
 * a failed decomposition, a domain error).  neurocmp turns it off with
 * gsl_set_error_handler_off() once, race-free (pthread_once), before its
 * first GSL call, and checks every GSL status and NULL itself.  It stays
 * off: an application that wants GSL's handler back sets it after its last
 * neurocmp call.  Every function of the library that calls GSL calls this
 * first; it costs nothing after the first time. */
void ncmp_gsl_init(void);

/* out[k][k] = pinv(A[k][k]) as scipy.linalg.pinv (SVD; singular values at or
 * below kmax * DBL_EPSILON * s_max dropped, kmax >= k being the size of the
 * zero-padded matrix scipy would see). */
ncmp_status ncmp_pinv_square(const double *A, size_t k, size_t kmax, double *out, ncmp_error *err);

#endif
