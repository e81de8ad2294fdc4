/* Checked products of declared sizes (core/sizes.h). */
#include "core/sizes.h"

#include <limits.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>

static _Atomic size_t size_limit = NCMP_MAX_DECLARED_BYTES;

size_t ncmp_size_limit(void)
{
    return atomic_load(&size_limit);
}

void ncmp_size_set_limit(size_t bytes)
{
    atomic_store(&size_limit, bytes ? bytes : NCMP_MAX_DECLARED_BYTES);
}

static void describe(char *buf, size_t size, const size_t *dims, int n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && used < size; i++) {
        int w = snprintf(buf + used, size - used, "%s%zu", i ? " x " : "", dims[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

ncmp_status ncmp_size_product(const char *file, const char *what, const size_t *dims, int n, size_t elem_size,
                              size_t *out, ncmp_error *err)
{
    *out = 0;
    size_t total = elem_size;
    bool overflow = false, zero = elem_size == 0;
    for (int i = 0; i < n; i++) {
        if (dims[i] == 0)
            zero = true;
        else if (!overflow && __builtin_mul_overflow(total, dims[i], &total))
            overflow = true;
    }
    if (zero)
        return NCMP_OK;
    const size_t limit = ncmp_size_limit();
    if (overflow || total > limit) {
        char shape[512];
        describe(shape, sizeof shape, dims, n);
        return ncmp_fail(err, NCMP_ERR_SHAPE,
                         "%s%s%s%s declares %s values of %zu byte%s: %s (neurocmp reads at most %zu %s per array); "
                         "the file is corrupt or not what it claims",
                         file ? "'" : "", file ? file : "", file ? "': " : "", what ? what : "an array", shape,
                         elem_size, elem_size == 1 ? "" : "s", overflow ? "the size overflows" : "too large",
                         limit >= ((size_t)1 << 30) ? limit >> 30 : limit >> 20,
                         limit >= ((size_t)1 << 30) ? "GiB" : "MiB");
    }
    *out = total;
    return NCMP_OK;
}

ncmp_status ncmp_size_2d(const char *file, const char *what, size_t a, size_t b, size_t elem_size, size_t *out,
                         ncmp_error *err)
{
    const size_t d[2] = {a, b};
    return ncmp_size_product(file, what, d, 2, elem_size, out, err);
}

ncmp_status ncmp_size_3d(const char *file, const char *what, size_t a, size_t b, size_t c, size_t elem_size,
                         size_t *out, ncmp_error *err)
{
    const size_t d[3] = {a, b, c};
    return ncmp_size_product(file, what, d, 3, elem_size, out, err);
}

ncmp_status ncmp_blas_int(size_t value, const char *what, int *out, ncmp_error *err)
{
    if (value > (size_t)INT_MAX) {
        *out = 0;
        return ncmp_fail(err, NCMP_ERR_SHAPE, "%s is %zu, beyond the %d a BLAS call takes", what ? what : "a dimension",
                         value, INT_MAX);
    }
    *out = (int)value;
    return NCMP_OK;
}

ncmp_status ncmp_blas_dims(const char *what, const size_t *dims, size_t n, ncmp_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (dims[i] > (size_t)INT_MAX)
            return ncmp_fail(err, NCMP_ERR_SHAPE, "%s: a dimension of %zu is beyond the %d a BLAS call takes",
                             what ? what : "BLAS", dims[i], INT_MAX);
    return NCMP_OK;
}
