/* Inference engine: allocation of every buffer up front, the CNN-F
 * iteration loop (Huang et al., NeurIPS 2020) and precision dispatch. */
#include "model/cnnf_internal.h"
#include "core/parallel.h"
#include "core/provenance.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *engine_alloc(ncmp_cnnf *e, size_t bytes)
{
    size_t rounded = (bytes + 63) / 64 * 64;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (p) {
        memset(p, 0, rounded ? rounded : 64);
        e->bytes += rounded;
    }
    return p;
}

void ncmp_cnnf_free(ncmp_cnnf *e)
{
    if (!e)
        return;
    int n = e->arch ? e->arch->n_layers : 0;
    for (int i = 0; i < n; i++) {
        if (e->owned)
            free(e->owned[i]);
        if (e->converted)
            free(e->converted[i]);
        if (e->mask)
            free(e->mask[i]);
        if (e->h)
            free(e->h[i]);
        if (e->imax)
            free(e->imax[i]);
        if (e->imin)
            free(e->imin[i]);
    }
    if (e->converted)
        for (int i = n; i < 2 * n; i++)
            free(e->converted[i]);
    free(e->out);
    free(e->owned);
    free(e->kept);
    free(e->weight);
    free(e->bias);
    free(e->converted);
    free(e->mask);
    free(e->h);
    free(e->imax);
    free(e->imin);
    free(e->has_h);
    free(e->fwd_used_h);
    free(e->near_ties);
    free(e->input);
    for (int t = 0; t < NCMP_ENGINE_MAX_THREADS; t++)
        free(e->cols[t]);
    free(e->g[0]);
    free(e->g[1]);
    free(e);
}

static bool elementwise(ncmp_layer_type t)
{
    return t == NCMP_LAYER_INSNORM || t == NCMP_LAYER_BIAS || t == NCMP_LAYER_RELU || t == NCMP_LAYER_ADARELU;
}

static const void *as_precision(ncmp_cnnf *e, const float *src, size_t n, int slot, bool *ok)
{
    if (!src)
        return NULL;
    if (e->dtype == NCMP_FLOAT32)
        return src;
    double *d = engine_alloc(e, n * sizeof(double));
    if (!d) {
        *ok = false;
        return NULL;
    }
    for (size_t j = 0; j < n; j++)
        d[j] = src[j];
    e->converted[slot] = d;
    return d;
}

ncmp_status ncmp_cnnf_create(const ncmp_net *net, const ncmp_cnnf_options *opts, ncmp_cnnf **out, ncmp_error *err)
{
    *out = NULL;
    if (!opts || opts->max_batch < 1)
        return ncmp_fail(err, NCMP_ERR_USAGE, "engine batch size must be at least 1");
    const ncmp_arch *a = net->arch;
    const int L = a->n_layers;
    ncmp_cnnf *e = calloc(1, sizeof *e);
    if (!e)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    e->net = net;
    e->arch = a;
    e->dtype = opts->precision;
    e->max_batch = opts->max_batch;
    e->count_ties = true;
    const size_t rs = e->dtype == NCMP_FLOAT64 ? sizeof(double) : sizeof(float);
    const size_t B = opts->max_batch;
#define ARRAY(field, type, count) (e->field = calloc((size_t)(count), sizeof(type)))
    if (!ARRAY(out, void *, L) || !ARRAY(owned, void *, L) || !ARRAY(kept, bool, L) || !ARRAY(weight, void *, L) ||
        !ARRAY(bias, void *, L) || !ARRAY(converted, void *, 2 * L) || !ARRAY(mask, unsigned char *, L) ||
        !ARRAY(h, void *, L) || !ARRAY(imax, int32_t *, L) || !ARRAY(imin, int32_t *, L) || !ARRAY(has_h, bool, L) ||
        !ARRAY(fwd_used_h, bool, L) || !ARRAY(near_ties, size_t, L))
        goto oom;
#undef ARRAY
    /* Which outputs must survive a whole pass. */
    for (int i = 0; i < L; i++)
        e->kept[i] = opts->keep_all || a->layers[i].alias[0] || i == L - 1 || (a->cnnf && i == a->update_layer);
    for (int k = 0; k < opts->n_keep; k++) {
        int i = opts->keep_layers[k];
        if (i < 0 || i >= L) {
            ncmp_cnnf_free(e);
            return ncmp_fail(err, NCMP_ERR_USAGE, "layer index %d is out of range for %s", i, a->name);
        }
        e->kept[i] = true;
    }
    e->input = engine_alloc(e, B * ncmp_shape_size(a->input) * rs);
    if (!e->input)
        goto oom;
    size_t cols = 1, g = ncmp_shape_size(a->layers[L - 1].out);
    bool ok = true;
    for (int i = 0; i < L; i++) {
        const ncmp_layer_desc *D = &a->layers[i];
        const size_t size = ncmp_shape_size(D->out);
        bool alias = i > 0 && (D->type == NCMP_LAYER_FLATTEN || D->type == NCMP_LAYER_DROPOUT ||
                               (elementwise(D->type) && !e->kept[i - 1]));
        if (alias) {
            e->out[i] = e->out[i - 1];
        } else {
            if (!(e->owned[i] = engine_alloc(e, B * size * rs)))
                goto oom;
            e->out[i] = e->owned[i];
        }
        e->weight[i] = as_precision(e, net->weight[i], ncmp_net_weight_size(net, i), i, &ok);
        e->bias[i] = as_precision(e, net->bias[i], ncmp_net_bias_size(net, i), L + i, &ok);
        if (!ok)
            goto oom;
        if (D->type == NCMP_LAYER_CONV) {
            size_t c = (size_t)D->in.c * D->kernel * D->kernel * (size_t)D->out.h * D->out.w;
            if (c > cols)
                cols = c;
        }
        if (D->type == NCMP_LAYER_ADARELU && !(e->mask[i] = engine_alloc(e, B * size)))
            goto oom;
        bool above = a->cnnf && i > a->update_layer;
        if (above && (D->type == NCMP_LAYER_ADARELU || D->type == NCMP_LAYER_ADAPOOL) &&
            !(e->h[i] = engine_alloc(e, B * size * rs)))
            goto oom;
        if (D->type == NCMP_LAYER_ADAPOOL && (!(e->imax[i] = engine_alloc(e, B * size * sizeof(int32_t))) ||
                                              !(e->imin[i] = engine_alloc(e, B * size * sizeof(int32_t)))))
            goto oom;
        if (above) {
            size_t s = ncmp_shape_size(D->in) > size ? ncmp_shape_size(D->in) : size;
            if (s > g)
                g = s;
        }
    }
    e->cols_elems = cols;
    e->g_elems = g * B;
    /* Batches are split across threads by sample (each needs its own im2col
     * buffer), linear layers by feature blocks. */
    e->threads = ncmp_parallel_threads();
    if (e->threads > NCMP_ENGINE_MAX_THREADS)
        e->threads = NCMP_ENGINE_MAX_THREADS;
    for (int t = 0; t < e->threads && (size_t)t < B; t++)
        if (!(e->cols[t] = engine_alloc(e, cols * rs)))
            goto oom;
    if (a->cnnf && (!(e->g[0] = engine_alloc(e, e->g_elems * rs)) || !(e->g[1] = engine_alloc(e, e->g_elems * rs))))
        goto oom;
    *out = e;
    return NCMP_OK;
oom:
    ncmp_cnnf_free(e);
    return ncmp_fail(err, NCMP_ERR_NOMEM,
                     "cannot allocate the %s engine for %s at batch %zu (%.2f GB so far); use a smaller --batch",
                     opts->precision == NCMP_FLOAT64 ? "float64" : "float32", a->name, B, (double)e->bytes / 1e9);
}

/* ---- deterministic parallel execution -----------------------------------------------
 * Every layer is split into units whose arithmetic does not depend on the
 * split: samples (each thread runs single-threaded BLAS with the same call
 * shapes for every sample), or, for linear layers, fixed blocks of
 * NCMP_ENGINE_LINEAR_BLOCK features computed over the whole batch by the
 * engine's own kernels.  BLAS never runs its own threads inside the engine,
 * so the result is bit-identical for any thread count and any batch size
 * (docs/cnnf-semantics.md, Reproducibility). */

typedef enum job_kind { JOB_FORWARD, JOB_TOPDOWN, JOB_UPDATE } job_kind;

typedef struct job {
    ncmp_cnnf *e;
    job_kind kind;
    int index; /* layer (forward) or plan step (top-down) */
    const void *src;
    void *dst;
    int features; /* > 0: a linear layer, split over blocks of this many features */
    size_t ties[NCMP_ENGINE_MAX_THREADS];
} job;

static size_t linear_blocks(int features)
{
    return ((size_t)features + NCMP_ENGINE_LINEAR_BLOCK - 1) / NCMP_ENGINE_LINEAR_BLOCK;
}

static void run_job_task(void *ctx, int task, int n_tasks)
{
    job *j = ctx;
    ncmp_cnnf *e = j->e;
    ncmp_span sp = {0, e->n, 0, 0, e->cols[task]};
    if (j->features > 0) {
        size_t b0, b1;
        ncmp_parallel_split(linear_blocks(j->features), task, n_tasks, &b0, &b1);
        sp.c0 = (int)(b0 * NCMP_ENGINE_LINEAR_BLOCK);
        sp.c1 = (int)(b1 * NCMP_ENGINE_LINEAR_BLOCK) < j->features ? (int)(b1 * NCMP_ENGINE_LINEAR_BLOCK) : j->features;
        if (sp.c0 >= sp.c1)
            return;
    } else {
        ncmp_parallel_split(e->n, task, n_tasks, &sp.n0, &sp.n1);
    }
    bool f64 = e->dtype == NCMP_FLOAT64;
    switch (j->kind) {
    case JOB_FORWARD:
        j->ties[task] =
            f64 ? ncmp_cnnf_forward_span_f64(e, j->index, &sp) : ncmp_cnnf_forward_span_f32(e, j->index, &sp);
        break;
    case JOB_TOPDOWN:
        if (f64)
            ncmp_cnnf_topdown_span_f64(e, j->index, j->src, j->dst, &sp);
        else
            ncmp_cnnf_topdown_span_f32(e, j->index, j->src, j->dst, &sp);
        break;
    case JOB_UPDATE:
        if (f64)
            ncmp_cnnf_update_span_f64(e, j->src, &sp);
        else
            ncmp_cnnf_update_span_f32(e, j->src, &sp);
        break;
    }
}

/* A convolution of a batch with fewer samples than threads: each sample's
 * im2col (or col2im) on one thread, its GEMM's fixed column blocks on all. */
typedef struct conv_split {
    ncmp_cnnf *e;
    int layer;
    bool topdown;
    const void *src; /* a sample's cols (forward) or g (top-down) */
    void *dst;       /* a sample's output (forward) or cols (top-down) */
    int blocks;
} conv_split;

static void conv_split_task(void *ctx, int task, int n_tasks)
{
    conv_split *c = ctx;
    const ncmp_layer_desc *L = &c->e->arch->layers[c->layer];
    const int N = L->out.h * L->out.w;
    const bool f64 = c->e->dtype == NCMP_FLOAT64;
    size_t b0, b1;
    ncmp_parallel_split((size_t)c->blocks, task, n_tasks, &b0, &b1);
    for (size_t k = b0; k < b1; k++) {
        int j0, j1;
        ncmp_conv_block_range(N, c->blocks, (int)k, &j0, &j1);
        if (!c->topdown)
            (f64 ? ncmp_conv_gemm_block_f64 : ncmp_conv_gemm_block_f32)(c->e, c->layer, c->src, c->dst, j0, j1);
        else
            (f64 ? ncmp_convt_gemm_block_f64 : ncmp_convt_gemm_block_f32)(c->e, c->layer, c->src, c->dst, j0, j1);
    }
}

static void run_conv_split(ncmp_cnnf *e, int layer, bool topdown, const void *src, void *dst, int blocks)
{
    const ncmp_layer_desc *L = &e->arch->layers[layer];
    const size_t rs = ncmp_dtype_size(e->dtype);
    const size_t in_bytes = ncmp_shape_size(L->in) * rs, out_bytes = ncmp_shape_size(L->out) * rs;
    const bool f64 = e->dtype == NCMP_FLOAT64;
    const int tasks = e->threads < blocks ? e->threads : blocks;
    for (size_t n = 0; n < e->n; n++) {
        conv_split c = {e, layer, topdown, NULL, NULL, blocks};
        if (!topdown) {
            (f64 ? ncmp_conv_im2col_f64 : ncmp_conv_im2col_f32)(e, layer, (const char *)src + n * in_bytes, e->cols[0]);
            c.src = e->cols[0];
            c.dst = (char *)dst + n * out_bytes;
            ncmp_parallel_run(tasks, conv_split_task, &c);
        } else {
            c.src = (const char *)src + n * out_bytes;
            c.dst = e->cols[0];
            ncmp_parallel_run(tasks, conv_split_task, &c);
            (f64 ? ncmp_conv_col2im_f64 : ncmp_conv_col2im_f32)(e, layer, e->cols[0], (char *)dst + n * in_bytes);
        }
    }
}

/* The convolution a job runs (-1: none), and whether it is split within samples. */
static int job_conv(const ncmp_cnnf *e, const job *j, bool *topdown)
{
    const ncmp_arch *a = e->arch;
    int layer = -1;
    *topdown = j->kind == JOB_TOPDOWN;
    if (j->kind == JOB_FORWARD)
        layer = j->index;
    else if (j->kind == JOB_TOPDOWN && a->topdown[j->index].op == NCMP_TD_LAYER)
        layer = a->topdown[j->index].layer;
    return layer >= 0 && a->layers[layer].type == NCMP_LAYER_CONV ? layer : -1;
}

static size_t run_job(ncmp_cnnf *e, job *j)
{
    int blas = ncmp_blas_threads();
    if (blas != 1)
        ncmp_blas_set_threads(1);
    size_t ties = 0;
    bool topdown;
    int conv = job_conv(e, j, &topdown);
    int blocks = conv >= 0 ? ncmp_conv_blocks(e->arch->layers[conv].out.h * e->arch->layers[conv].out.w) : 1;
    if (conv >= 0 && e->n < (size_t)e->threads && blocks > 1) {
        const void *src = topdown ? j->src : (conv == 0 ? e->input : e->out[conv - 1]);
        void *dst = topdown ? j->dst : e->out[conv];
        run_conv_split(e, conv, topdown, src, dst, blocks);
    } else {
        size_t units = j->features > 0 ? linear_blocks(j->features) : e->n;
        int tasks = (size_t)e->threads < units ? e->threads : (int)units;
        if (tasks < 1)
            tasks = 1;
        memset(j->ties, 0, sizeof j->ties);
        if (tasks > 1)
            ncmp_parallel_run(tasks, run_job_task, j);
        else
            run_job_task(j, 0, 1);
        for (int t = 0; t < tasks; t++)
            ties += j->ties[t];
    }
    if (blas != 1)
        ncmp_blas_set_threads(blas);
    return ties;
}

/* Linear layers split over features: outputs forward, inputs top-down. */
static int linear_features(const ncmp_arch *a, int layer, bool topdown)
{
    const ncmp_layer_desc *L = &a->layers[layer];
    if (L->type != NCMP_LAYER_LINEAR)
        return 0;
    return topdown ? L->in.c : L->out.c;
}

static void forward_range(ncmp_cnnf *e, int from, int to)
{
    for (int i = from; i < to; i++) {
        const ncmp_layer_desc *L = &e->arch->layers[i];
        job j = {e, JOB_FORWARD, i, NULL, NULL, linear_features(e->arch, i, false), {0}};
        bool used_h = e->has_h[i];
        e->near_ties[i] = run_job(e, &j);
        if (L->type == NCMP_LAYER_ADAPOOL)
            e->fwd_used_h[i] = used_h;
    }
}

/* Feedback from the last layer down to the update layer, then the update. */
static void feedback(ncmp_cnnf *e)
{
    const ncmp_arch *a = e->arch;
    const size_t rs = ncmp_dtype_size(e->dtype);
    void *cur = e->g[0], *next = e->g[1];
    memcpy(cur, e->out[a->n_layers - 1], rs * ncmp_shape_size(a->layers[a->n_layers - 1].out) * e->n);
    for (int s = 0; s < a->n_topdown; s++) {
        const ncmp_topdown_step *st = &a->topdown[s];
        const ncmp_layer_type t = a->layers[st->layer].type;
        job j = {e, JOB_TOPDOWN, s, cur, next, st->op == NCMP_TD_LAYER ? linear_features(a, st->layer, true) : 0, {0}};
        run_job(e, &j);
        if (st->op == NCMP_TD_INSNORM)
            continue; /* in place */
        if (t == NCMP_LAYER_ADARELU || t == NCMP_LAYER_ADAPOOL)
            e->has_h[st->layer] = true;
        void *tmp = cur;
        cur = next;
        next = tmp;
    }
    job j = {e, JOB_UPDATE, 0, cur, NULL, 0, {0}};
    run_job(e, &j);
}

void ncmp_cnnf_forward_layers(ncmp_cnnf *e, int from, int to)
{
    forward_range(e, from, to);
}
void ncmp_cnnf_feedback_pass(ncmp_cnnf *e)
{
    feedback(e);
}

void ncmp_cnnf_topdown_step(ncmp_cnnf *e, int s, const void *g, void *gin)
{
    const ncmp_topdown_step *st = &e->arch->topdown[s];
    job j = {e, JOB_TOPDOWN, s, g, gin, st->op == NCMP_TD_LAYER ? linear_features(e->arch, st->layer, true) : 0, {0}};
    run_job(e, &j);
}

ncmp_status ncmp_cnnf_run(ncmp_cnnf *e, const ncmp_tensor *input, int iterations, ncmp_cnnf_observer observer,
                          void *ctx, ncmp_error *err)
{
    const ncmp_arch *a = e->arch;
    char got[96], want[96];
    ncmp_tensor_shape_string(input, got, sizeof got);
    snprintf(want, sizeof want, "[n, %d, %d, %d]", a->input.c, a->input.h, a->input.w);
    if (input->ndim != 4 || input->shape[1] != (size_t)a->input.c || input->shape[2] != (size_t)a->input.h ||
        input->shape[3] != (size_t)a->input.w)
        return ncmp_fail(err, NCMP_ERR_SHAPE, "input of shape %s does not fit %s, which takes %s", got, a->name, want);
    if (input->shape[0] < 1 || input->shape[0] > e->max_batch)
        return ncmp_fail(err, NCMP_ERR_SHAPE, "batch of %zu inputs does not fit an engine made for 1..%zu",
                         input->shape[0], e->max_batch);
    if (iterations < 0)
        return ncmp_fail(err, NCMP_ERR_USAGE, "iterations must be >= 0, got %d", iterations);
    if (iterations > 0 && !a->cnnf)
        return ncmp_fail(err, NCMP_ERR_USAGE,
                         "%s is a feed-forward network (no 'cnnf' line in its spec): it has only iteration 0; use "
                         "--iterations 0 or a CNN-F architecture such as %s-cnnf",
                         a->name, a->name);
    e->n = input->shape[0];
    const size_t per = ncmp_shape_size(a->input);
    ncmp_tensor dst = ncmp_tensor_wrap(e->dtype, 4, input->shape, e->input);
    ncmp_status st = ncmp_tensor_copy(&dst, input, err);
    if (st)
        return st;
    for (size_t n = 0; n < e->n; n++) {
        ncmp_tensor one = ncmp_tensor_wrap(e->dtype, 1, &per, (char *)e->input + n * per * ncmp_dtype_size(e->dtype));
        size_t bad = ncmp_tensor_count_nonfinite(&one);
        if (bad)
            return ncmp_fail(err, NCMP_ERR_VALUE, "input %zu of the batch has %zu NaN/Inf values", n, bad);
    }
    for (int i = 0; i < a->n_layers; i++) {
        e->has_h[i] = e->fwd_used_h[i] = false;
        e->near_ties[i] = 0;
    }
    forward_range(e, 0, a->n_layers);
    if (observer && (st = observer(ctx, e, 0, err)))
        return st;
    for (int t = 1; t <= iterations; t++) {
        feedback(e);
        for (int i = 0; i <= a->update_layer; i++)
            e->near_ties[i] = 0;
        forward_range(e, a->update_layer + 1, a->n_layers);
        if (observer && (st = observer(ctx, e, t, err)))
            return st;
    }
    return NCMP_OK;
}

ncmp_status ncmp_cnnf_output(const ncmp_cnnf *e, int layer, ncmp_tensor *view, ncmp_error *err)
{
    if (layer < 0 || layer >= e->arch->n_layers)
        return ncmp_fail(err, NCMP_ERR_USAGE, "layer index %d is out of range", layer);
    if (!e->kept[layer])
        return ncmp_fail(err, NCMP_ERR_USAGE,
                         "layer '%s' was computed in place and is not kept; request it when creating the engine",
                         e->arch->layers[layer].name);
    const ncmp_shape s = e->arch->layers[layer].out;
    size_t shape[4] = {e->n, (size_t)s.c, (size_t)s.h, (size_t)s.w};
    *view = ncmp_tensor_wrap(e->dtype, s.flat ? 2 : 4, shape, e->out[layer]);
    return NCMP_OK;
}

size_t ncmp_cnnf_near_ties(const ncmp_cnnf *e, int layer)
{
    return layer >= 0 && layer < e->arch->n_layers ? e->near_ties[layer] : 0;
}

const ncmp_net *ncmp_cnnf_net(const ncmp_cnnf *e)
{
    return e->net;
}
ncmp_dtype ncmp_cnnf_precision(const ncmp_cnnf *e)
{
    return e->dtype;
}
size_t ncmp_cnnf_batch(const ncmp_cnnf *e)
{
    return e->n;
}
size_t ncmp_cnnf_max_batch(const ncmp_cnnf *e)
{
    return e->max_batch;
}
size_t ncmp_cnnf_memory_bytes(const ncmp_cnnf *e)
{
    return e->bytes;
}
bool ncmp_cnnf_is_kept(const ncmp_cnnf *e, int layer)
{
    return layer >= 0 && layer < e->arch->n_layers && e->kept[layer];
}
