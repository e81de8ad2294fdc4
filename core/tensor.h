/* N-dimensional float32/float64 arrays and views.
 *
 * An ncmp_tensor is a small value: dtype, shape, strides (in elements) and a
 * data pointer.  A tensor made by ncmp_tensor_alloc owns its (64-byte aligned,
 * zeroed) buffer and must be released with ncmp_tensor_release; views made by
 * the ncmp_tensor_view_* functions borrow the buffer of their base and must
 * not outlive it (releasing a view is a no-op).
 */
#ifndef NCMP_CORE_TENSOR_H
#define NCMP_CORE_TENSOR_H

#include <stddef.h>
#include <stdbool.h>

#include "core/status.h"

#define NCMP_TENSOR_MAX_DIMS 8

typedef enum ncmp_dtype { NCMP_FLOAT32 = 0, NCMP_FLOAT64 = 1 } ncmp_dtype;

typedef struct ncmp_tensor {
    ncmp_dtype dtype;
    int ndim;
    size_t shape[NCMP_TENSOR_MAX_DIMS];
    ptrdiff_t strides[NCMP_TENSOR_MAX_DIMS]; /* in elements, not bytes */
    void *data;
    bool owns_data;
} ncmp_tensor;

size_t ncmp_dtype_size(ncmp_dtype dtype);
const char *ncmp_dtype_name(ncmp_dtype dtype);
/* "float"/"float32" or "double"/"float64"; NCMP_ERR_USAGE otherwise (no message). */
ncmp_status ncmp_dtype_parse(const char *text, ncmp_dtype *dtype);

/* Allocate a zeroed, contiguous (C order) tensor. */
ncmp_status ncmp_tensor_alloc(ncmp_tensor *t, ncmp_dtype dtype, int ndim, const size_t *shape, ncmp_error *err);
/* Free an owned buffer; a view or zero-initialised tensor is left alone. */
void ncmp_tensor_release(ncmp_tensor *t);

/* Wrap memory the caller owns as a contiguous tensor (no copy). */
ncmp_tensor ncmp_tensor_wrap(ncmp_dtype dtype, int ndim, const size_t *shape, void *data);

size_t ncmp_tensor_numel(const ncmp_tensor *t);
bool ncmp_tensor_is_contiguous(const ncmp_tensor *t);
bool ncmp_tensor_same_shape(const ncmp_tensor *a, const ncmp_tensor *b);
/* "[2, 3, 28, 28]" */
void ncmp_tensor_shape_string(const ncmp_tensor *t, char *buf, size_t size);

/* View of element i along axis 0 (drops that axis). */
ncmp_status ncmp_tensor_view_index(const ncmp_tensor *t, size_t i, ncmp_tensor *view, ncmp_error *err);
/* View of [start, stop) along `axis`. */
ncmp_status ncmp_tensor_view_slice(const ncmp_tensor *t, int axis, size_t start, size_t stop, ncmp_tensor *view,
                                   ncmp_error *err);
/* Contiguous tensor seen with another shape of equal size (no copy). */
ncmp_status ncmp_tensor_view_reshape(const ncmp_tensor *t, int ndim, const size_t *shape, ncmp_tensor *view,
                                     ncmp_error *err);
/* Swap two axes (no copy). */
ncmp_status ncmp_tensor_view_transpose(const ncmp_tensor *t, int axis_a, int axis_b, ncmp_tensor *view,
                                       ncmp_error *err);

/* Element access by multi-index, as double whatever the dtype. */
double ncmp_tensor_get(const ncmp_tensor *t, const size_t *index);
void ncmp_tensor_set(ncmp_tensor *t, const size_t *index, double value);

/* Copy src into dst elementwise (shapes must match; dtypes may differ,
 * converting float32<->float64; either may be strided). */
ncmp_status ncmp_tensor_copy(ncmp_tensor *dst, const ncmp_tensor *src, ncmp_error *err);
/* Fill every element with a value. */
void ncmp_tensor_fill(ncmp_tensor *t, double value);

/* Number of NaN/Inf elements (0 = all finite). */
size_t ncmp_tensor_count_nonfinite(const ncmp_tensor *t);

#endif
