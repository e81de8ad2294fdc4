/* N-dimensional float32/float64 arrays and strided views (see tensor.h). */
#include "core/tensor.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t ncmp_dtype_size(ncmp_dtype dtype)
{
    return dtype == NCMP_FLOAT64 ? sizeof(double) : sizeof(float);
}
const char *ncmp_dtype_name(ncmp_dtype dtype)
{
    return dtype == NCMP_FLOAT64 ? "float64" : "float32";
}

ncmp_status ncmp_dtype_parse(const char *text, ncmp_dtype *dtype)
{
    if (!strcmp(text, "float") || !strcmp(text, "float32"))
        *dtype = NCMP_FLOAT32;
    else if (!strcmp(text, "double") || !strcmp(text, "float64"))
        *dtype = NCMP_FLOAT64;
    else
        return NCMP_ERR_USAGE;
    return NCMP_OK;
}

static void set_contiguous_strides(ncmp_tensor *t)
{
    ptrdiff_t s = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        t->strides[d] = s;
        s *= (ptrdiff_t)t->shape[d];
    }
}

static ncmp_status check_ndim(int ndim, ncmp_error *err)
{
    if (ndim < 0 || ndim > NCMP_TENSOR_MAX_DIMS)
        return ncmp_fail(err, NCMP_ERR_SHAPE, "tensor rank %d is outside 0..%d", ndim, NCMP_TENSOR_MAX_DIMS);
    return NCMP_OK;
}

ncmp_status ncmp_tensor_alloc(ncmp_tensor *t, ncmp_dtype dtype, int ndim, const size_t *shape, ncmp_error *err)
{
    memset(t, 0, sizeof *t);
    ncmp_status st = check_ndim(ndim, err);
    if (st)
        return st;
    t->dtype = dtype;
    t->ndim = ndim;
    size_t n = 1;
    for (int d = 0; d < ndim; d++) {
        t->shape[d] = shape[d];
        if (shape[d] && n > SIZE_MAX / shape[d] / ncmp_dtype_size(dtype))
            return ncmp_fail(err, NCMP_ERR_NOMEM, "tensor size overflows size_t");
        n *= shape[d];
    }
    set_contiguous_strides(t);
    size_t bytes = n * ncmp_dtype_size(dtype);
    size_t rounded = (bytes + 63) / 64 * 64;
    if (rounded == 0)
        rounded = 64;
    t->data = aligned_alloc(64, rounded);
    if (!t->data) {
        char shape_text[128];
        ncmp_tensor_shape_string(t, shape_text, sizeof shape_text);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "cannot allocate %zu bytes for a %s tensor %s", bytes,
                         ncmp_dtype_name(dtype), shape_text);
    }
    memset(t->data, 0, rounded);
    t->owns_data = true;
    return NCMP_OK;
}

void ncmp_tensor_release(ncmp_tensor *t)
{
    if (t && t->owns_data)
        free(t->data);
    if (t) {
        t->data = NULL;
        t->owns_data = false;
    }
}

ncmp_tensor ncmp_tensor_wrap(ncmp_dtype dtype, int ndim, const size_t *shape, void *data)
{
    ncmp_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = dtype;
    t.ndim = ndim < 0 ? 0 : (ndim > NCMP_TENSOR_MAX_DIMS ? NCMP_TENSOR_MAX_DIMS : ndim);
    for (int d = 0; d < t.ndim; d++)
        t.shape[d] = shape[d];
    set_contiguous_strides(&t);
    t.data = data;
    return t;
}

size_t ncmp_tensor_numel(const ncmp_tensor *t)
{
    size_t n = 1;
    for (int d = 0; d < t->ndim; d++)
        n *= t->shape[d];
    return n;
}

bool ncmp_tensor_is_contiguous(const ncmp_tensor *t)
{
    ptrdiff_t s = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->shape[d] != 1 && t->strides[d] != s)
            return false;
        s *= (ptrdiff_t)t->shape[d];
    }
    return true;
}

bool ncmp_tensor_same_shape(const ncmp_tensor *a, const ncmp_tensor *b)
{
    if (a->ndim != b->ndim)
        return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d])
            return false;
    return true;
}

void ncmp_tensor_shape_string(const ncmp_tensor *t, char *buf, size_t size)
{
    size_t used = 0;
    if (size == 0)
        return;
    buf[0] = '\0';
    used += (size_t)snprintf(buf + used, size - used, "[");
    for (int d = 0; d < t->ndim && used < size; d++)
        used += (size_t)snprintf(buf + used, size - used, d ? ", %zu" : "%zu", t->shape[d]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
}

ncmp_status ncmp_tensor_view_index(const ncmp_tensor *t, size_t i, ncmp_tensor *view, ncmp_error *err)
{
    if (t->ndim < 1)
        return ncmp_fail(err, NCMP_ERR_SHAPE, "cannot index a rank-0 tensor");
    if (i >= t->shape[0])
        return ncmp_fail(err, NCMP_ERR_SHAPE, "index %zu is out of range for axis 0 of length %zu", i, t->shape[0]);
    ncmp_tensor v = *t;
    v.owns_data = false;
    v.data = (char *)t->data + (ptrdiff_t)i * t->strides[0] * (ptrdiff_t)ncmp_dtype_size(t->dtype);
    v.ndim = t->ndim - 1;
    for (int d = 0; d < v.ndim; d++) {
        v.shape[d] = t->shape[d + 1];
        v.strides[d] = t->strides[d + 1];
    }
    *view = v;
    return NCMP_OK;
}

ncmp_status ncmp_tensor_view_slice(const ncmp_tensor *t, int axis, size_t start, size_t stop, ncmp_tensor *view,
                                   ncmp_error *err)
{
    if (axis < 0 || axis >= t->ndim)
        return ncmp_fail(err, NCMP_ERR_SHAPE, "axis %d is out of range for a rank-%d tensor", axis, t->ndim);
    if (start > stop || stop > t->shape[axis])
        return ncmp_fail(err, NCMP_ERR_SHAPE, "slice [%zu, %zu) is out of range for axis %d of length %zu", start, stop,
                         axis, t->shape[axis]);
    ncmp_tensor v = *t;
    v.owns_data = false;
    v.data = (char *)t->data + (ptrdiff_t)start * t->strides[axis] * (ptrdiff_t)ncmp_dtype_size(t->dtype);
    v.shape[axis] = stop - start;
    *view = v;
    return NCMP_OK;
}

ncmp_status ncmp_tensor_view_reshape(const ncmp_tensor *t, int ndim, const size_t *shape, ncmp_tensor *view,
                                     ncmp_error *err)
{
    ncmp_status st = check_ndim(ndim, err);
    if (st)
        return st;
    if (!ncmp_tensor_is_contiguous(t))
        return ncmp_fail(err, NCMP_ERR_SHAPE, "cannot reshape a non-contiguous view");
    ncmp_tensor v = ncmp_tensor_wrap(t->dtype, ndim, shape, t->data);
    if (ncmp_tensor_numel(&v) != ncmp_tensor_numel(t)) {
        char a[128], b[128];
        ncmp_tensor_shape_string(t, a, sizeof a);
        ncmp_tensor_shape_string(&v, b, sizeof b);
        return ncmp_fail(err, NCMP_ERR_SHAPE, "cannot reshape %s (%zu elements) to %s (%zu elements)", a,
                         ncmp_tensor_numel(t), b, ncmp_tensor_numel(&v));
    }
    *view = v;
    return NCMP_OK;
}

ncmp_status ncmp_tensor_view_transpose(const ncmp_tensor *t, int a, int b, ncmp_tensor *view, ncmp_error *err)
{
    if (a < 0 || b < 0 || a >= t->ndim || b >= t->ndim)
        return ncmp_fail(err, NCMP_ERR_SHAPE, "axes %d and %d are out of range for a rank-%d tensor", a, b, t->ndim);
    ncmp_tensor v = *t;
    v.owns_data = false;
    v.shape[a] = t->shape[b];
    v.shape[b] = t->shape[a];
    v.strides[a] = t->strides[b];
    v.strides[b] = t->strides[a];
    *view = v;
    return NCMP_OK;
}

static ptrdiff_t offset_of(const ncmp_tensor *t, const size_t *index)
{
    ptrdiff_t off = 0;
    for (int d = 0; d < t->ndim; d++)
        off += (ptrdiff_t)index[d] * t->strides[d];
    return off;
}

double ncmp_tensor_get(const ncmp_tensor *t, const size_t *index)
{
    ptrdiff_t off = offset_of(t, index);
    return t->dtype == NCMP_FLOAT64 ? ((const double *)t->data)[off] : (double)((const float *)t->data)[off];
}

void ncmp_tensor_set(ncmp_tensor *t, const size_t *index, double value)
{
    ptrdiff_t off = offset_of(t, index);
    if (t->dtype == NCMP_FLOAT64)
        ((double *)t->data)[off] = value;
    else
        ((float *)t->data)[off] = (float)value;
}

/* Visit every element in C order, calling fn with the offsets into a and b. */
static void for_each_pair(const ncmp_tensor *a, const ncmp_tensor *b, void (*fn)(void *, ptrdiff_t, ptrdiff_t),
                          void *ctx)
{
    size_t n = ncmp_tensor_numel(a);
    if (n == 0)
        return;
    size_t idx[NCMP_TENSOR_MAX_DIMS] = {0};
    ptrdiff_t oa = 0, ob = 0;
    for (size_t k = 0; k < n; k++) {
        fn(ctx, oa, ob);
        for (int d = a->ndim - 1; d >= 0; d--) {
            idx[d]++;
            oa += a->strides[d];
            ob += b ? b->strides[d] : 0;
            if (idx[d] < a->shape[d])
                break;
            oa -= (ptrdiff_t)a->shape[d] * a->strides[d];
            ob -= b ? (ptrdiff_t)a->shape[d] * b->strides[d] : 0;
            idx[d] = 0;
        }
    }
}

struct copy_ctx {
    ncmp_tensor *dst;
    const ncmp_tensor *src;
};

static void copy_one(void *p, ptrdiff_t od, ptrdiff_t os)
{
    struct copy_ctx *c = p;
    double v =
        c->src->dtype == NCMP_FLOAT64 ? ((const double *)c->src->data)[os] : (double)((const float *)c->src->data)[os];
    if (c->dst->dtype == NCMP_FLOAT64)
        ((double *)c->dst->data)[od] = v;
    else
        ((float *)c->dst->data)[od] = (float)v;
}

ncmp_status ncmp_tensor_copy(ncmp_tensor *dst, const ncmp_tensor *src, ncmp_error *err)
{
    if (!ncmp_tensor_same_shape(dst, src)) {
        char a[128], b[128];
        ncmp_tensor_shape_string(dst, a, sizeof a);
        ncmp_tensor_shape_string(src, b, sizeof b);
        return ncmp_fail(err, NCMP_ERR_SHAPE, "cannot copy a %s tensor into a %s tensor", b, a);
    }
    if (dst->dtype == src->dtype && ncmp_tensor_is_contiguous(dst) && ncmp_tensor_is_contiguous(src)) {
        memmove(dst->data, src->data, ncmp_tensor_numel(src) * ncmp_dtype_size(src->dtype));
        return NCMP_OK;
    }
    struct copy_ctx c = {dst, src};
    for_each_pair(dst, src, copy_one, &c);
    return NCMP_OK;
}

struct fill_ctx {
    ncmp_tensor *t;
    double v;
};

static void fill_one(void *p, ptrdiff_t o, ptrdiff_t unused)
{
    (void)unused;
    struct fill_ctx *c = p;
    if (c->t->dtype == NCMP_FLOAT64)
        ((double *)c->t->data)[o] = c->v;
    else
        ((float *)c->t->data)[o] = (float)c->v;
}

void ncmp_tensor_fill(ncmp_tensor *t, double value)
{
    struct fill_ctx c = {t, value};
    for_each_pair(t, NULL, fill_one, &c);
}

struct finite_ctx {
    const ncmp_tensor *t;
    size_t bad;
};

static void count_nonfinite_one(void *p, ptrdiff_t o, ptrdiff_t unused)
{
    (void)unused;
    struct finite_ctx *c = p;
    double v = c->t->dtype == NCMP_FLOAT64 ? ((const double *)c->t->data)[o] : (double)((const float *)c->t->data)[o];
    if (!isfinite(v))
        c->bad++;
}

size_t ncmp_tensor_count_nonfinite(const ncmp_tensor *t)
{
    struct finite_ctx c = {t, 0};
    for_each_pair(t, NULL, count_nonfinite_one, &c);
    return c.bad;
}
