/* Dense linear algebra helpers on GSL (kept apart from CBLAS users: GSL's and OpenBLAS's cblas.h clash). */
#include "analysis/linalg.h"

#include <float.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

/* pinv(A) of a k x k matrix as scipy.linalg.pinv: singular values at or below
 * max(k, k) * eps * s_max (rtol taken with kmax = the requested components) are dropped. */
static void gsl_handler_off(void)
{
    gsl_set_error_handler_off();
}

void ncmp_gsl_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, gsl_handler_off);
}

ncmp_status ncmp_pinv_square(const double *A, size_t k, size_t kmax, double *out, ncmp_error *err)
{
    ncmp_gsl_init();
    gsl_matrix *U = gsl_matrix_alloc(k, k), *V = gsl_matrix_alloc(k, k);
    gsl_vector *S = gsl_vector_alloc(k);
    if (!U || !V || !S) {
        gsl_matrix_free(U);
        gsl_matrix_free(V);
        gsl_vector_free(S);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "PLS: out of memory for a %zu x %zu pseudo-inverse", k, k);
    }
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++)
            gsl_matrix_set(U, i, j, A[i * k + j]);
    int rc = gsl_linalg_SV_decomp_jacobi(U, V, S);
    ncmp_status st = NCMP_OK;
    if (rc)
        st = ncmp_fail(err, NCMP_ERR_VALUE, "PLS: SVD of P'W (%zu x %zu) failed (GSL error %d)", k, k, rc);
    else {
        double smax = 0;
        for (size_t i = 0; i < k; i++)
            smax = fmax(smax, gsl_vector_get(S, i));
        double cut = smax * (double)kmax * DBL_EPSILON;
        /* A = U S V'  ->  pinv = V S^+ U' */
        memset(out, 0, k * k * sizeof *out);
        for (size_t r = 0; r < k; r++) {
            double s = gsl_vector_get(S, r);
            if (!(s > cut))
                continue;
            for (size_t i = 0; i < k; i++) {
                double v = gsl_matrix_get(V, i, r) / s;
                for (size_t j = 0; j < k; j++)
                    out[i * k + j] += v * gsl_matrix_get(U, j, r);
            }
        }
    }
    gsl_matrix_free(U);
    gsl_matrix_free(V);
    gsl_vector_free(S);
    return st;
}
