/* Sizes a file declares, checked before they are multiplied or allocated
 * (docs/hardening.md).
 *
 * Every reader (netCDF, HDF5 activations and weights, NPY, IDX, images,
 * spec files, JSON) turns the dimensions a file declares into a byte count
 * with ncmp_size_product: the product of the dimensions and the element
 * size, failing with a message that names the file, what is declared and
 * the declared values when it overflows size_t or exceeds
 * ncmp_size_limit() (1 TiB unless lowered).  Counts handed to BLAS/LAPACK go through
 * ncmp_blas_int: values beyond INT_MAX are rejected, never cast.
 */
#ifndef NCMP_CORE_SIZES_H
#define NCMP_CORE_SIZES_H

#include <stddef.h>

#include "core/status.h"

/* The most any single array read from a file may hold: 1 TiB, far beyond
 * any real input and far below where a product can wrap. */
#define NCMP_MAX_DECLARED_BYTES ((size_t)1 << 40)

/* The limit in force (NCMP_MAX_DECLARED_BYTES unless lowered).  An
 * application that must not try large allocations (a service, a fuzz
 * harness) may lower it once at start-up, before any reader runs; readers
 * with their own smaller limit (images: 1 GiB) keep theirs. */
size_t ncmp_size_limit(void);
void ncmp_size_set_limit(size_t bytes);

/* *out = dims[0] × … × dims[n-1] × elem_size.  On overflow or beyond
 * ncmp_size_limit(): NCMP_ERR_SHAPE naming `file` (may be NULL),
 * `what` (e.g. "variable 'responses'") and the dimensions, and *out = 0.
 * A zero dimension gives 0 (not an error: callers check emptiness). */
ncmp_status ncmp_size_product(const char *file, const char *what, const size_t *dims, int n, size_t elem_size,
                              size_t *out, ncmp_error *err);

/* The same for two or three dimensions. */
ncmp_status ncmp_size_2d(const char *file, const char *what, size_t a, size_t b, size_t elem_size, size_t *out,
                         ncmp_error *err);
ncmp_status ncmp_size_3d(const char *file, const char *what, size_t a, size_t b, size_t c, size_t elem_size,
                         size_t *out, ncmp_error *err);

/* A dimension for a BLAS/LAPACK call: NCMP_ERR_SHAPE naming `what` if it
 * exceeds INT_MAX (the interface's int), else *out = (int)value. */
ncmp_status ncmp_blas_int(size_t value, const char *what, int *out, ncmp_error *err);

/* Every dimension of a routine that hands them to BLAS/LAPACK as int:
 * NCMP_ERR_SHAPE naming `what` and the first one beyond INT_MAX.  A routine
 * that checks its dimensions (and leading dimensions) this way on entry may
 * then cast them to int.  NCMP_BLAS_DIMS(what, err, n, p, q) lists them inline. */
ncmp_status ncmp_blas_dims(const char *what, const size_t *dims, size_t n, ncmp_error *err);
#define NCMP_BLAS_DIMS(what, err, ...)                                                                                 \
    ncmp_blas_dims((what), (const size_t[]){__VA_ARGS__}, sizeof((const size_t[]){__VA_ARGS__}) / sizeof(size_t), (err))

#endif
