/* Trainable parameters in float32 or float64 with their gradients (docs/training.md §3). */
#include "model/train/params.h"
#include "core/h5.h"

#include <math.h>
#include <nettle/sha2.h>
#include <stdlib.h>
#include <string.h>

size_t ncmp_params_weight_size(const ncmp_params *p, int i)
{
    const ncmp_layer_desc *L = &p->arch->layers[i];
    if (L->type == NCMP_LAYER_CONV)
        return (size_t)L->out.c * (size_t)L->in.c * (size_t)L->kernel * (size_t)L->kernel;
    if (L->type == NCMP_LAYER_LINEAR)
        return (size_t)L->out.c * (size_t)L->in.c;
    return 0;
}

size_t ncmp_params_bias_size(const ncmp_params *p, int i)
{
    return p->arch->layers[i].bias_key[0] ? (size_t)p->arch->layers[i].out.c : 0;
}

size_t ncmp_params_count(const ncmp_params *p)
{
    size_t n = 0;
    for (int i = 0; i < p->arch->n_layers; i++)
        n += ncmp_params_weight_size(p, i) + ncmp_params_bias_size(p, i);
    return n;
}

void ncmp_params_free(ncmp_params *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->arch->n_layers; i++) {
        free(p->weight ? p->weight[i] : NULL);
        free(p->bias ? p->bias[i] : NULL);
        free(p->grad_weight ? p->grad_weight[i] : NULL);
        free(p->grad_bias ? p->grad_bias[i] : NULL);
        free(p->grad_weight_t ? p->grad_weight_t[i] : NULL);
    }
    free(p->weight);
    free(p->bias);
    free(p->grad_weight);
    free(p->grad_bias);
    free(p->grad_weight_t);
    free(p);
}

static void *zeroed(size_t count, size_t size)
{
    size_t bytes = (count * size + 63) / 64 * 64;
    void *q = aligned_alloc(64, bytes);
    if (q)
        memset(q, 0, bytes);
    return q;
}

ncmp_status ncmp_params_create(const ncmp_arch *arch, ncmp_dtype dtype, ncmp_params **out, ncmp_error *err)
{
    *out = NULL;
    ncmp_params *p = calloc(1, sizeof *p);
    if (!p)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    p->arch = arch;
    p->dtype = dtype;
    const size_t L = (size_t)arch->n_layers, rs = ncmp_dtype_size(dtype);
    p->weight = calloc(L, sizeof(void *));
    p->bias = calloc(L, sizeof(void *));
    p->grad_weight = calloc(L, sizeof(void *));
    p->grad_bias = calloc(L, sizeof(void *));
    p->grad_weight_t = calloc(L, sizeof(void *));
    if (!p->weight || !p->bias || !p->grad_weight || !p->grad_bias || !p->grad_weight_t)
        goto oom;
    for (int i = 0; i < arch->n_layers; i++) {
        size_t w = ncmp_params_weight_size(p, i), b = ncmp_params_bias_size(p, i);
        if (w && (!(p->weight[i] = zeroed(w, rs)) || !(p->grad_weight[i] = zeroed(w, rs))))
            goto oom;
        if (b && (!(p->bias[i] = zeroed(b, rs)) || !(p->grad_bias[i] = zeroed(b, rs))))
            goto oom;
        bool topdown_linear = arch->cnnf && i > arch->update_layer && arch->layers[i].type == NCMP_LAYER_LINEAR;
        if (topdown_linear && !(p->grad_weight_t[i] = zeroed(w, rs)))
            goto oom;
    }
    *out = p;
    return NCMP_OK;
oom:
    ncmp_params_free(p);
    return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory for the parameters of %s", arch->name);
}

static void widen(void *dst, ncmp_dtype dtype, const float *src, size_t n)
{
    if (dtype == NCMP_FLOAT32) {
        memcpy(dst, src, n * sizeof(float));
        return;
    }
    double *d = dst;
    for (size_t j = 0; j < n; j++)
        d[j] = src[j];
}

static void narrow(float *dst, ncmp_dtype dtype, const void *src, size_t n)
{
    if (dtype == NCMP_FLOAT32) {
        memcpy(dst, src, n * sizeof(float));
        return;
    }
    const double *s = src;
    for (size_t j = 0; j < n; j++)
        dst[j] = (float)s[j];
}

void ncmp_params_from_net(ncmp_params *p, const ncmp_net *net)
{
    for (int i = 0; i < p->arch->n_layers; i++) {
        if (p->weight[i])
            widen(p->weight[i], p->dtype, net->weight[i], ncmp_params_weight_size(p, i));
        if (p->bias[i])
            widen(p->bias[i], p->dtype, net->bias[i], ncmp_params_bias_size(p, i));
    }
}

void ncmp_params_to_net(const ncmp_params *p, ncmp_net *net)
{
    for (int i = 0; i < p->arch->n_layers; i++) {
        if (p->weight[i])
            narrow(net->weight[i], p->dtype, p->weight[i], ncmp_params_weight_size(p, i));
        if (p->bias[i])
            narrow(net->bias[i], p->dtype, p->bias[i], ncmp_params_bias_size(p, i));
    }
}

ncmp_status ncmp_params_load(ncmp_params *p, const char *path, ncmp_error *err)
{
    return ncmp_weights_read(p->arch, path, p->dtype, p->weight, p->bias, err);
}

ncmp_status ncmp_params_init_seeded(ncmp_params *p, uint64_t seed, ncmp_error *err)
{
    const int L = p->arch->n_layers;
    float **w = calloc((size_t)L, sizeof *w), **b = calloc((size_t)L, sizeof *b);
    ncmp_status st = NCMP_OK;
    if (!w || !b)
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    for (int i = 0; i < L && !st; i++) {
        size_t nw = ncmp_params_weight_size(p, i), nb = ncmp_params_bias_size(p, i);
        if ((nw && !(w[i] = malloc(nw * sizeof(float)))) || (nb && !(b[i] = malloc(nb * sizeof(float)))))
            st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    }
    if (!st) {
        ncmp_weights_init_seeded(p->arch, seed, w, b);
        for (int i = 0; i < L; i++) {
            if (p->weight[i])
                widen(p->weight[i], p->dtype, w[i], ncmp_params_weight_size(p, i));
            if (p->bias[i])
                widen(p->bias[i], p->dtype, b[i], ncmp_params_bias_size(p, i));
        }
    }
    for (int i = 0; w && b && i < L; i++) {
        free(w[i]);
        free(b[i]);
    }
    free(w);
    free(b);
    return st;
}

void ncmp_params_zero_grad(ncmp_params *p)
{
    const size_t rs = ncmp_dtype_size(p->dtype);
    for (int i = 0; i < p->arch->n_layers; i++) {
        size_t w = ncmp_params_weight_size(p, i), b = ncmp_params_bias_size(p, i);
        if (p->grad_weight[i])
            memset(p->grad_weight[i], 0, w * rs);
        if (p->grad_weight_t[i])
            memset(p->grad_weight_t[i], 0, w * rs);
        if (p->grad_bias[i])
            memset(p->grad_bias[i], 0, b * rs);
    }
    p->has_topdown_grad = false;
}

static size_t nonfinite(const void *v, ncmp_dtype dtype, size_t n)
{
    size_t bad = 0;
    if (!v)
        return 0;
    for (size_t j = 0; j < n; j++)
        bad += !isfinite(dtype == NCMP_FLOAT64 ? ((const double *)v)[j] : ((const float *)v)[j]);
    return bad;
}

size_t ncmp_params_count_nonfinite(const ncmp_params *p, bool grads)
{
    size_t bad = 0;
    for (int i = 0; i < p->arch->n_layers; i++) {
        size_t w = ncmp_params_weight_size(p, i), b = ncmp_params_bias_size(p, i);
        bad += nonfinite(grads ? p->grad_weight[i] : p->weight[i], p->dtype, w);
        bad += nonfinite(grads ? p->grad_bias[i] : p->bias[i], p->dtype, b);
        if (grads && p->has_topdown_grad)
            bad += nonfinite(p->grad_weight_t[i], p->dtype, w);
    }
    return bad;
}

/* The tensor in the stored precision: a float64 params written as float32 is rounded. */
static const void *as_stored(const void *v, ncmp_dtype dtype, size_t n, bool float64, void *scratch)
{
    if ((dtype == NCMP_FLOAT64) == float64)
        return v;
    if (float64)
        widen(scratch, NCMP_FLOAT64, v, n);
    else
        narrow(scratch, NCMP_FLOAT64, v, n);
    return scratch;
}

static size_t largest_tensor(const ncmp_params *p)
{
    size_t m = 1;
    for (int i = 0; i < p->arch->n_layers; i++) {
        if (ncmp_params_weight_size(p, i) > m)
            m = ncmp_params_weight_size(p, i);
        if (ncmp_params_bias_size(p, i) > m)
            m = ncmp_params_bias_size(p, i);
    }
    return m;
}

ncmp_status ncmp_params_write_h5(const ncmp_params *p, hid_t loc, bool float64, ncmp_error *err)
{
    const ncmp_arch *a = p->arch;
    void *scratch = malloc(largest_tensor(p) * sizeof(double));
    if (!scratch)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    ncmp_status st = NCMP_OK;
    for (int i = 0; i < a->n_layers && !st; i++)
        for (int which = 0; which < 2 && !st; which++) {
            unsigned long long d[4];
            hsize_t dims[4]; /* unsigned long long in HDF5 1.10, uint64_t from 1.12 on */
            int rank = ncmp_net_tensor_dims(a, i, which == 1, d);
            if (!rank)
                continue;
            for (int r = 0; r < rank; r++)
                dims[r] = (hsize_t)d[r];
            const void *v = which ? p->bias[i] : p->weight[i];
            size_t n = which ? ncmp_params_bias_size(p, i) : ncmp_params_weight_size(p, i);
            const char *key = which ? a->layers[i].bias_key : a->layers[i].weight_key;
            st = ncmp_h5_write_array(loc, key, float64 ? H5T_IEEE_F64LE : H5T_IEEE_F32LE,
                                     float64 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT, rank, dims,
                                     as_stored(v, p->dtype, n, float64, scratch), err);
        }
    free(scratch);
    return st;
}

void ncmp_params_digest(const ncmp_params *p, bool float64, char hex[NCMP_SHA256_HEX_LEN])
{
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    void *scratch = malloc(largest_tensor(p) * sizeof(double));
    const char *tag = float64 ? "neurocmp-weights-1 float64\n" : "neurocmp-weights-1 float32\n";
    sha256_update(&ctx, strlen(tag), (const uint8_t *)tag);
    for (int i = 0; scratch && i < p->arch->n_layers; i++)
        for (int which = 0; which < 2; which++) {
            const void *v = which ? p->bias[i] : p->weight[i];
            if (!v)
                continue;
            size_t n = which ? ncmp_params_bias_size(p, i) : ncmp_params_weight_size(p, i);
            const char *key = which ? p->arch->layers[i].bias_key : p->arch->layers[i].weight_key;
            sha256_update(&ctx, strlen(key) + 1, (const uint8_t *)key); /* with its NUL: keys cannot run together */
            /* x86-64 and every platform Debian's HDF5 supports store IEEE little-endian natively. */
            sha256_update(&ctx, n * (float64 ? sizeof(double) : sizeof(float)),
                          as_stored(v, p->dtype, n, float64, scratch));
        }
    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_digest(&ctx, sizeof digest, digest);
    free(scratch);
    for (int k = 0; k < SHA256_DIGEST_SIZE; k++)
        snprintf(hex + 2 * k, 3, "%02x", digest[k]);
    if (!scratch)
        hex[0] = '\0';
}
