/* The unrolled CNN-F (every pass kept) and backpropagation through its
 * iterations (Huang et al., NeurIPS 2020; docs/training.md §2).  The passes
 * run on the inference engine's kernels through an engine view whose
 * buffer tables point at the pass being run. */
#include "model/train/unroll.h"
#include "core/parallel.h"
#include "core/provenance.h"
#include "model/train/unroll_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct forward_pass {
    void **out;           /* per layer output (elementwise layers may share the buffer below) */
    unsigned char **mask; /* adarelu */
    int32_t **imax, **imin;
    bool *has_h;  /* layer ran its later-pass rule */
    bool *used_h; /* adapool: routed by the signs of h */
    void **seed;  /* per layer: loss gradient of the output, or NULL */
} forward_pass;

typedef struct feedback_pass {
    void **g;    /* per plan step: the top-down signal after the step */
    void **h;    /* per layer: the h this feedback stored (adarelu, adapool above the update layer) */
    void **seed; /* per plan step, or NULL */
} feedback_pass;

struct ncmp_unroll {
    ncmp_params *params;
    const ncmp_arch *arch;
    ncmp_dtype dtype;
    size_t rs;
    ncmp_cnnf e; /* engine view handed to the kernels */
    size_t max_batch, n;
    int max_cycles, cycles;
    int L, u, S;
    bool input_grad;
    size_t chunk;     /* samples per gradient partial sum */
    forward_pass *F;  /* [max_cycles + 1] */
    feedback_pass *D; /* [max_cycles + 1]; D[0] unused */
    void *grad[2];    /* ping-pong gradients, [max_batch * largest map] */
    void **dh;        /* per adarelu above the update layer: d loss / d h of the current cycle */
    void *partial;    /* [chunks][partial_stride] weight/bias gradient partial sums */
    size_t partial_stride;
    bool *kept;
    size_t bytes;
    void **allocs;
    size_t n_allocs, cap_allocs;
};

/* ---- allocation ---------------------------------------------------------------- */

static void *take(ncmp_unroll *u, size_t bytes)
{
    if (u->n_allocs == u->cap_allocs) {
        size_t cap = u->cap_allocs ? 2 * u->cap_allocs : 256;
        void **grown = realloc(u->allocs, cap * sizeof *grown);
        if (!grown)
            return NULL;
        u->allocs = grown;
        u->cap_allocs = cap;
    }
    size_t rounded = (bytes + 63) / 64 * 64;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (!p)
        return NULL;
    memset(p, 0, rounded ? rounded : 64);
    u->bytes += rounded;
    u->allocs[u->n_allocs++] = p;
    return p;
}

void ncmp_unroll_free(ncmp_unroll *u)
{
    if (!u)
        return;
    for (size_t k = 0; k < u->n_allocs; k++)
        free(u->allocs[k]);
    free(u->allocs);
    free(u);
}

size_t ncmp_unroll_memory_bytes(const ncmp_unroll *u)
{
    return u->bytes;
}

static bool in_list(const int *list, int n, int v)
{
    for (int k = 0; k < n; k++)
        if (list[k] == v)
            return true;
    return false;
}

#define TAKE_ARRAY(ptr, count) ((ptr) = take(u, sizeof *(ptr) * (size_t)(count)))

ncmp_status ncmp_unroll_create(ncmp_params *params, const ncmp_unroll_options *opts, ncmp_unroll **out, ncmp_error *err)
{
    *out = NULL;
    const ncmp_arch *a = params->arch;
    if (!opts || opts->max_batch < 1)
        return ncmp_fail(err, NCMP_ERR_USAGE, "the training batch must hold at least 1 input");
    if (opts->max_cycles < 0 || (opts->max_cycles > 0 && !a->cnnf))
        return ncmp_fail(err, NCMP_ERR_USAGE,
                         "%s is a feed-forward network (no 'cnnf' line in its spec): it has no feedback cycles",
                         a->name);
    for (int k = 0; k < opts->n_seed_layers; k++)
        if (opts->seed_layers[k] < 0 || opts->seed_layers[k] >= a->n_layers)
            return ncmp_fail(err, NCMP_ERR_USAGE, "seed layer %d is out of range", opts->seed_layers[k]);
    for (int k = 0; k < opts->n_seed_steps; k++)
        if (opts->seed_steps[k] < 0 || opts->seed_steps[k] >= a->n_topdown)
            return ncmp_fail(err, NCMP_ERR_USAGE, "seed step %d is out of range", opts->seed_steps[k]);
    ncmp_unroll *u = calloc(1, sizeof *u);
    if (!u)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    u->params = params;
    u->arch = a;
    u->dtype = params->dtype;
    u->rs = ncmp_dtype_size(u->dtype);
    u->max_batch = opts->max_batch;
    u->max_cycles = opts->max_cycles;
    u->L = a->n_layers;
    u->u = a->cnnf ? a->update_layer : -1;
    u->S = a->cnnf ? a->n_topdown : 0;
    u->input_grad = opts->input_grad;
    u->chunk = (opts->max_batch + 31) / 32;
    if (u->chunk < NCMP_GRAD_CHUNK)
        u->chunk = NCMP_GRAD_CHUNK;
    const int L = u->L, T = u->max_cycles, S = u->S;
    const size_t B = u->max_batch, rs = u->rs;

    /* Which outputs must survive the pass: everything a backward step reads. */
    if (!TAKE_ARRAY(u->kept, L))
        goto oom;
    for (int i = 0; i < L; i++) {
        ncmp_layer_type t = a->layers[i].type;
        bool elementwise = t == NCMP_LAYER_INSNORM || t == NCMP_LAYER_BIAS;
        bool next_norm = i + 1 < L && a->layers[i + 1].type == NCMP_LAYER_INSNORM;
        u->kept[i] = !elementwise || next_norm || i == u->u || i == L - 1 || a->layers[i].alias[0];
    }

    size_t largest = ncmp_shape_size(a->input), cols = 1;
    for (int i = 0; i < L; i++) {
        const ncmp_layer_desc *D = &a->layers[i];
        if (ncmp_shape_size(D->out) > largest)
            largest = ncmp_shape_size(D->out);
        if (D->type == NCMP_LAYER_CONV) {
            size_t c = (size_t)D->in.c * D->kernel * D->kernel * (size_t)D->out.h * D->out.w;
            if (c > cols)
                cols = c;
        }
        size_t pw = ncmp_params_weight_size(params, i) + ncmp_params_bias_size(params, i);
        if (D->type != NCMP_LAYER_LINEAR && pw > u->partial_stride)
            u->partial_stride = pw;
    }

    /* The engine view the kernels run on. */
    ncmp_cnnf *e = &u->e;
    e->arch = a;
    e->dtype = u->dtype;
    e->max_batch = B;
    e->count_ties = false;
    e->weight = (const void **)params->weight;
    e->bias = (const void **)params->bias;
    if (!TAKE_ARRAY(e->near_ties, L) || !(e->input = take(u, B * ncmp_shape_size(a->input) * rs)))
        goto oom;
    e->threads = ncmp_parallel_threads();
    if (e->threads > NCMP_ENGINE_MAX_THREADS)
        e->threads = NCMP_ENGINE_MAX_THREADS;
    if ((size_t)e->threads > B)
        e->threads = (int)B;
    e->cols_elems = cols;
    for (int t = 0; t < e->threads; t++)
        if (!(e->cols[t] = take(u, cols * rs)))
            goto oom;

    /* Forward passes. */
    if (!TAKE_ARRAY(u->F, T + 1) || !TAKE_ARRAY(u->D, T + 1))
        goto oom;
    for (int t = 0; t <= T; t++) {
        forward_pass *P = &u->F[t];
        if (!TAKE_ARRAY(P->out, L) || !TAKE_ARRAY(P->mask, L) || !TAKE_ARRAY(P->imax, L) || !TAKE_ARRAY(P->imin, L) ||
            !TAKE_ARRAY(P->has_h, L) || !TAKE_ARRAY(P->used_h, L) || !TAKE_ARRAY(P->seed, L))
            goto oom;
        const int start = t == 0 ? 0 : u->u;
        for (int i = 0; i < L; i++) {
            const ncmp_layer_desc *D = &a->layers[i];
            const size_t size = ncmp_shape_size(D->out);
            if (i < start) { /* below the update layer: iteration 0's values */
                P->out[i] = u->F[0].out[i];
                continue;
            }
            bool alias = i > start && (D->type == NCMP_LAYER_FLATTEN || D->type == NCMP_LAYER_DROPOUT ||
                                       ((D->type == NCMP_LAYER_INSNORM || D->type == NCMP_LAYER_BIAS ||
                                         D->type == NCMP_LAYER_ADARELU || D->type == NCMP_LAYER_RELU) &&
                                        !u->kept[i - 1]));
            if (alias)
                P->out[i] = P->out[i - 1];
            else if (!(P->out[i] = take(u, B * size * rs)))
                goto oom;
            if (D->type == NCMP_LAYER_ADARELU && !(P->mask[i] = take(u, B * size)))
                goto oom;
            if (D->type == NCMP_LAYER_ADAPOOL && (!(P->imax[i] = take(u, B * size * sizeof(int32_t))) ||
                                                  !(P->imin[i] = take(u, B * size * sizeof(int32_t)))))
                goto oom;
            bool later = t > 0 && i > u->u && (D->type == NCMP_LAYER_ADARELU || D->type == NCMP_LAYER_ADAPOOL);
            P->has_h[i] = P->used_h[i] = later;
            bool seeded = i == L - 1 || (a->cnnf && i == u->u) || in_list(opts->seed_layers, opts->n_seed_layers, i);
            if (seeded && !(P->seed[i] = take(u, B * size * rs)))
                goto oom;
        }
    }
    /* Feedback passes. */
    for (int t = 1; t <= T; t++) {
        feedback_pass *P = &u->D[t];
        if (!TAKE_ARRAY(P->g, S) || !TAKE_ARRAY(P->seed, S) || !TAKE_ARRAY(P->h, L))
            goto oom;
        for (int s = 0; s < S; s++) {
            const ncmp_topdown_step *st = &a->topdown[s];
            const size_t size = ncmp_shape_size(st->shape);
            bool identity = st->op == NCMP_TD_LAYER && a->layers[st->layer].type == NCMP_LAYER_FLATTEN && s > 0;
            if (identity)
                P->g[s] = P->g[s - 1];
            else if (!(P->g[s] = take(u, B * size * rs)))
                goto oom;
            if (size > largest)
                largest = size;
            if (in_list(opts->seed_steps, opts->n_seed_steps, s) && !(P->seed[s] = take(u, B * size * rs)))
                goto oom;
        }
        for (int i = u->u + 1; i < L; i++) {
            ncmp_layer_type ty = a->layers[i].type;
            if ((ty == NCMP_LAYER_ADARELU || ty == NCMP_LAYER_ADAPOOL) &&
                !(P->h[i] = take(u, B * ncmp_shape_size(a->layers[i].out) * rs)))
                goto oom;
        }
    }
    if (!TAKE_ARRAY(u->dh, L))
        goto oom;
    if (T > 0)
        for (int i = u->u + 1; i < L; i++)
            if (a->layers[i].type == NCMP_LAYER_ADARELU &&
                !(u->dh[i] = take(u, B * ncmp_shape_size(a->layers[i].out) * rs)))
                goto oom;
    if (!(u->grad[0] = take(u, B * largest * rs)) || !(u->grad[1] = take(u, B * largest * rs)))
        goto oom;
    size_t chunks = (B + u->chunk - 1) / u->chunk;
    if (u->partial_stride && !(u->partial = take(u, chunks * u->partial_stride * rs)))
        goto oom;
    *out = u;
    return NCMP_OK;
oom:;
    double gb = (double)u->bytes / 1e9;
    ncmp_unroll_free(u);
    return ncmp_fail(err, NCMP_ERR_NOMEM,
                     "cannot allocate the training buffers of %s for batch %zu and %d cycle%s (%.2f GB so far); use "
                     "a smaller --batch",
                     a->name, B, T, T == 1 ? "" : "s", gb);
}

/* ---- parallel dispatch ----------------------------------------------------------- */

typedef enum task_kind { TASK_FORWARD, TASK_TOPDOWN, TASK_UPDATE, TASK_LINEAR, TASK_GRAD, TASK_REDUCE } task_kind;

typedef struct task {
    ncmp_unroll *u;
    task_kind kind;
    int index; /* layer (forward) or plan step (top-down) */
    const void *src;
    void *dst;
    /* linear products */
    ncmp_linear_product product;
    int rows, O, In, width;
    const void *A, *B, *bias;
    void *C;
    /* gradients */
    const ncmp_grad_args *args;
    bool chunked;
    void *gw, *gb; /* destinations of the reduced partial sums */
    size_t nw, nb;
} task;

static void task_run(void *ctx, int k, int n_tasks)
{
    task *j = ctx;
    ncmp_unroll *u = j->u;
    ncmp_cnnf *e = &u->e;
    const bool f64 = u->dtype == NCMP_FLOAT64;
    switch (j->kind) {
    case TASK_FORWARD:
    case TASK_TOPDOWN:
    case TASK_UPDATE: {
        ncmp_span sp = {0, 0, 0, 0, e->cols[k]};
        ncmp_parallel_split(u->n, k, n_tasks, &sp.n0, &sp.n1);
        if (j->kind == TASK_FORWARD)
            (void)(f64 ? ncmp_cnnf_forward_span_f64(e, j->index, &sp) : ncmp_cnnf_forward_span_f32(e, j->index, &sp));
        else if (j->kind == TASK_TOPDOWN)
            (f64 ? ncmp_cnnf_topdown_span_f64 : ncmp_cnnf_topdown_span_f32)(e, j->index, j->src, j->dst, &sp);
        else
            (f64 ? ncmp_cnnf_update_span_f64 : ncmp_cnnf_update_span_f32)(e, j->src, &sp);
        break;
    }
    case TASK_LINEAR: {
        /* Blocks of NCMP_LINEAR_BLOCK features, dealt round-robin: a block's result does not depend on k. */
        int blocks = (j->width + NCMP_LINEAR_BLOCK - 1) / NCMP_LINEAR_BLOCK;
        for (int b = k; b < blocks; b += n_tasks) {
            int c0 = b * NCMP_LINEAR_BLOCK, c1 = c0 + NCMP_LINEAR_BLOCK < j->width ? c0 + NCMP_LINEAR_BLOCK : j->width;
            (f64 ? ncmp_linear_gemm_f64 : ncmp_linear_gemm_f32)(j->product, j->rows, j->O, j->In, j->A, j->B, j->bias,
                                                                j->C, c0, c1);
        }
        break;
    }
    case TASK_GRAD:
        if (!j->chunked) {
            size_t n0, n1;
            ncmp_parallel_split(u->n, k, n_tasks, &n0, &n1);
            (f64 ? ncmp_grad_samples_f64 : ncmp_grad_samples_f32)(j->args, n0, n1, e->cols[k], NULL, NULL);
        } else {
            size_t chunks = (u->n + u->chunk - 1) / u->chunk;
            for (size_t c = (size_t)k; c < chunks; c += (size_t)n_tasks) {
                char *pw = (char *)u->partial + c * u->partial_stride * u->rs;
                memset(pw, 0, (j->nw + j->nb) * u->rs);
                size_t n0 = c * u->chunk, n1 = n0 + u->chunk < u->n ? n0 + u->chunk : u->n;
                (f64 ? ncmp_grad_samples_f64 : ncmp_grad_samples_f32)(j->args, n0, n1, e->cols[k], j->gw ? pw : NULL,
                                                                      j->gb ? pw + j->nw * u->rs : NULL);
            }
        }
        break;
    case TASK_REDUCE: {
        /* grad[q] += partial_0[q] + partial_1[q] + ... in chunk order, for this task's share of q. */
        size_t chunks = (u->n + u->chunk - 1) / u->chunk, q0, q1;
        ncmp_parallel_split(j->nw + j->nb, k, n_tasks, &q0, &q1);
        for (size_t q = q0; q < q1; q++) {
            double sum = 0;
            for (size_t c = 0; c < chunks; c++) {
                const char *pc = (const char *)u->partial + c * u->partial_stride * u->rs;
                sum += f64 ? ((const double *)pc)[q] : (double)((const float *)pc)[q];
            }
            void *dst = q < j->nw ? j->gw : j->gb;
            size_t at = q < j->nw ? q : q - j->nw;
            if (f64)
                ((double *)dst)[at] += sum;
            else
                ((float *)dst)[at] += (float)sum;
        }
        break;
    }
    }
}

static void run_tasks(ncmp_unroll *u, task *j, size_t work)
{
    int n_tasks = u->e.threads < (int)work ? u->e.threads : (int)work;
    if (n_tasks <= 1)
        task_run(j, 0, 1);
    else
        ncmp_parallel_run(n_tasks, task_run, j);
}

static void linear_product(ncmp_unroll *u, ncmp_linear_product kind, int layer, const void *A, const void *B,
                           const void *bias, void *C)
{
    const ncmp_layer_desc *L = &u->arch->layers[layer];
    task j = {.u = u,
              .kind = TASK_LINEAR,
              .product = kind,
              .rows = (int)u->n,
              .O = L->out.c,
              .In = L->in.c,
              .A = A,
              .B = B,
              .bias = bias,
              .C = C};
    j.width = kind == NCMP_LINEAR_XW ? L->in.c : L->out.c;
    run_tasks(u, &j, (size_t)(j.width + NCMP_LINEAR_BLOCK - 1) / NCMP_LINEAR_BLOCK);
}

/* ---- forward --------------------------------------------------------------------- */

static void bind_forward(ncmp_unroll *u, int t)
{
    forward_pass *P = &u->F[t];
    ncmp_cnnf *e = &u->e;
    e->out = P->out;
    e->mask = P->mask;
    e->imax = P->imax;
    e->imin = P->imin;
    e->has_h = P->has_h;
    e->fwd_used_h = P->used_h;
    e->h = t > 0 ? u->D[t].h : NULL;
}

static void forward_pass_run(ncmp_unroll *u, int t)
{
    bind_forward(u, t);
    for (int i = t == 0 ? 0 : u->u + 1; i < u->L; i++) {
        const ncmp_layer_desc *L = &u->arch->layers[i];
        if (L->type == NCMP_LAYER_LINEAR) {
            const void *in = i == 0 ? u->e.input : u->F[t].out[i - 1];
            linear_product(u, NCMP_LINEAR_XWT, i, in, u->e.weight[i], u->e.bias[i], u->F[t].out[i]);
            continue;
        }
        task j = {.u = u, .kind = TASK_FORWARD, .index = i};
        run_tasks(u, &j, u->n);
    }
}

static void feedback_pass_run(ncmp_unroll *u, int t)
{
    const ncmp_arch *a = u->arch;
    forward_pass *prev = &u->F[t - 1];
    feedback_pass *P = &u->D[t];
    ncmp_cnnf *e = &u->e;
    e->mask = prev->mask;
    e->imax = prev->imax;
    e->imin = prev->imin;
    e->fwd_used_h = prev->used_h;
    e->h = P->h;
    /* AdaPool's top-down rule reads the signs of the h the previous forward used before storing the new one. */
    for (int i = u->u + 1; i < u->L; i++)
        if (a->layers[i].type == NCMP_LAYER_ADAPOOL && prev->used_h[i])
            memcpy(P->h[i], u->D[t - 1].h[i], u->n * ncmp_shape_size(a->layers[i].out) * u->rs);
    for (int s = 0; s < u->S; s++) {
        const ncmp_topdown_step *st = &a->topdown[s];
        const void *in = s == 0 ? prev->out[u->L - 1] : P->g[s - 1];
        void *out = P->g[s];
        if (out == in)
            continue; /* flatten: a reshape */
        if (st->op == NCMP_TD_INSNORM) {
            memcpy(out, in, u->n * ncmp_shape_size(st->shape) * u->rs);
            task j = {.u = u, .kind = TASK_TOPDOWN, .index = s, .src = out, .dst = out};
            run_tasks(u, &j, u->n);
        } else if (a->layers[st->layer].type == NCMP_LAYER_LINEAR) {
            linear_product(u, NCMP_LINEAR_XW, st->layer, in, e->weight[st->layer], NULL, out);
        } else {
            task j = {.u = u, .kind = TASK_TOPDOWN, .index = s, .src = in, .dst = out};
            run_tasks(u, &j, u->n);
        }
    }
    /* h_t = h_{t-1} + step (r - h_{t-1}) into pass t's update-layer buffer. */
    const size_t usize = ncmp_shape_size(a->layers[u->u].out);
    memcpy(u->F[t].out[u->u], prev->out[u->u], u->n * usize * u->rs);
    e->out = u->F[t].out;
    task j = {.u = u, .kind = TASK_UPDATE, .src = P->g[u->S - 1]};
    run_tasks(u, &j, u->n);
}

ncmp_status ncmp_unroll_forward(ncmp_unroll *u, const ncmp_tensor *input, int cycles, ncmp_error *err)
{
    const ncmp_arch *a = u->arch;
    char got[96];
    ncmp_tensor_shape_string(input, got, sizeof got);
    if (input->ndim != 4 || input->shape[1] != (size_t)a->input.c || input->shape[2] != (size_t)a->input.h ||
        input->shape[3] != (size_t)a->input.w)
        return ncmp_fail(err, NCMP_ERR_SHAPE, "input of shape %s does not fit %s, which takes [n, %d, %d, %d]", got,
                         a->name, a->input.c, a->input.h, a->input.w);
    if (input->shape[0] < 1 || input->shape[0] > u->max_batch)
        return ncmp_fail(err, NCMP_ERR_SHAPE, "batch of %zu inputs does not fit training buffers made for 1..%zu",
                         input->shape[0], u->max_batch);
    if (cycles < 0 || cycles > u->max_cycles)
        return ncmp_fail(err, NCMP_ERR_USAGE, "%d cycles requested; the training buffers hold 0..%d", cycles,
                         u->max_cycles);
    u->n = u->e.n = input->shape[0];
    u->cycles = cycles;
    const size_t per = ncmp_shape_size(a->input);
    ncmp_tensor dst = ncmp_tensor_wrap(u->dtype, 4, input->shape, u->e.input);
    ncmp_status st = ncmp_tensor_copy(&dst, input, err);
    if (st)
        return st;
    for (size_t n = 0; n < u->n; n++) {
        ncmp_tensor one = ncmp_tensor_wrap(u->dtype, 1, &per, (char *)u->e.input + n * per * u->rs);
        size_t bad = ncmp_tensor_count_nonfinite(&one);
        if (bad)
            return ncmp_fail(err, NCMP_ERR_VALUE, "input %zu of the batch has %zu NaN/Inf values", n, bad);
    }
    /* Seeds start at zero for every layer and step that has one. */
    for (int t = 0; t <= cycles; t++)
        for (int i = 0; i < u->L; i++)
            if (u->F[t].seed[i])
                memset(u->F[t].seed[i], 0, u->n * ncmp_shape_size(a->layers[i].out) * u->rs);
    for (int t = 1; t <= cycles; t++)
        for (int s = 0; s < u->S; s++)
            if (u->D[t].seed[s])
                memset(u->D[t].seed[s], 0, u->n * ncmp_shape_size(a->topdown[s].shape) * u->rs);
    int blas = ncmp_blas_threads();
    ncmp_blas_set_threads(1);
    forward_pass_run(u, 0);
    for (int t = 1; t <= cycles; t++) {
        feedback_pass_run(u, t);
        forward_pass_run(u, t);
    }
    ncmp_blas_set_threads(blas);
    return NCMP_OK;
}

const void *ncmp_unroll_layer_output(const ncmp_unroll *u, int t, int layer)
{
    if (t < 0 || t > u->cycles || layer < 0 || layer >= u->L || (t > 0 && layer < u->u))
        return NULL;
    return u->F[t].out[layer];
}

const void *ncmp_unroll_step_output(const ncmp_unroll *u, int t, int step)
{
    if (t < 1 || t > u->cycles || step < 0 || step >= u->S)
        return NULL;
    return u->D[t].g[step];
}

void *ncmp_unroll_layer_seed(ncmp_unroll *u, int t, int layer)
{
    if (t < 0 || t > u->cycles || layer < 0 || layer >= u->L || (t > 0 && layer < u->u))
        return NULL;
    return u->F[t].seed[layer];
}

void *ncmp_unroll_step_seed(ncmp_unroll *u, int t, int step)
{
    if (t < 1 || t > u->cycles || step < 0 || step >= u->S)
        return NULL;
    return u->D[t].seed[step];
}

size_t ncmp_unroll_batch(const ncmp_unroll *u)
{
    return u->n;
}
int ncmp_unroll_cycles(const ncmp_unroll *u)
{
    return u->cycles;
}
ncmp_dtype ncmp_unroll_precision(const ncmp_unroll *u)
{
    return u->dtype;
}

/* ---- backward -------------------------------------------------------------------- */

static void axpy(ncmp_unroll *u, void *dst, const void *src, double alpha, size_t per_sample)
{
    (u->dtype == NCMP_FLOAT64 ? ncmp_grad_axpy_f64 : ncmp_grad_axpy_f32)(dst, src, alpha, u->n * per_sample);
}

/* Run a gradient step; param gradients (gw: weight, gb: bias) are summed per chunk, then in chunk order. */
static void grad_run(ncmp_unroll *u, const ncmp_grad_args *args, void *gw, size_t nw, void *gb, size_t nb)
{
    task j = {.u = u, .kind = TASK_GRAD, .args = args, .gw = gw, .gb = gb, .nw = gw ? nw : 0, .nb = gb ? nb : 0};
    j.chunked = gw || gb;
    if (!j.chunked) {
        run_tasks(u, &j, u->n);
        return;
    }
    run_tasks(u, &j, (u->n + u->chunk - 1) / u->chunk);
    task r = j;
    r.kind = TASK_REDUCE;
    run_tasks(u, &r, (j.nw + j.nb + 4095) / 4096);
}

/* Backward of forward layer i in pass t: *cur holds d output; on return, d input. */
static void layer_backward(ncmp_unroll *u, int t, int i, void **cur, void **other, bool param_grads, bool need_dx)
{
    const ncmp_arch *a = u->arch;
    const ncmp_layer_desc *L = &a->layers[i];
    forward_pass *P = &u->F[t];
    ncmp_params *pp = u->params;
    const void *x = i == 0 ? u->e.input : P->out[i - 1];
    if (L->type == NCMP_LAYER_LINEAR) {
        if (param_grads) {
            linear_product(u, NCMP_LINEAR_GRAD, i, *cur, x, NULL, pp->grad_weight[i]);
            if (pp->grad_bias[i]) { /* built-in bias: a sum over samples, in sample order */
                const int O = L->out.c;
                for (size_t n = 0; n < u->n; n++)
                    (u->dtype == NCMP_FLOAT64 ? ncmp_grad_axpy_f64 : ncmp_grad_axpy_f32)(
                        pp->grad_bias[i], (const char *)*cur + n * (size_t)O * u->rs, 1, (size_t)O);
            }
        }
        if (need_dx) {
            linear_product(u, NCMP_LINEAR_XW, i, *cur, u->e.weight[i], NULL, *other);
            void *tmp = *cur;
            *cur = *other;
            *other = tmp;
        }
        return;
    }
    bool in_place = L->type == NCMP_LAYER_INSNORM || L->type == NCMP_LAYER_BIAS || L->type == NCMP_LAYER_RELU ||
                    L->type == NCMP_LAYER_ADARELU || L->type == NCMP_LAYER_FLATTEN || L->type == NCMP_LAYER_DROPOUT;
    if (L->type == NCMP_LAYER_FLATTEN || L->type == NCMP_LAYER_DROPOUT)
        return; /* identity on the same data */
    ncmp_grad_args g = {.e = &u->e,
                        .layer = i,
                        .step = -1,
                        .later = P->has_h[i],
                        .x = x,
                        .y = P->out[i],
                        .dy = *cur,
                        .dx = in_place ? *cur : (need_dx ? *other : NULL),
                        .mask = P->mask[i],
                        .imax = P->imax[i],
                        .imin = P->imin[i],
                        .h = t > 0 ? u->D[t].h[i] : NULL,
                        .dh = u->dh[i]};
    void *gw = NULL, *gb = NULL;
    size_t nw = 0, nb = 0;
    if (param_grads) {
        if (L->type == NCMP_LAYER_CONV) {
            gw = pp->grad_weight[i];
            nw = ncmp_params_weight_size(pp, i);
        }
        if (L->type == NCMP_LAYER_CONV || L->type == NCMP_LAYER_BIAS) {
            gb = pp->grad_bias[i];
            nb = ncmp_params_bias_size(pp, i);
        }
    }
    if (!g.dx && !gw && !gb)
        return;
    grad_run(u, &g, gw, nw, gb, nb);
    if (!in_place && g.dx) {
        void *tmp = *cur;
        *cur = *other;
        *other = tmp;
    }
}

/* Backward of plan step s in cycle t: *cur holds d (step output); on return, d (step input). */
static void step_backward(ncmp_unroll *u, int t, int s, void **cur, void **other, bool param_grads)
{
    const ncmp_arch *a = u->arch;
    const ncmp_topdown_step *st = &a->topdown[s];
    feedback_pass *P = &u->D[t];
    forward_pass *prev = &u->F[t - 1];
    ncmp_params *pp = u->params;
    const void *in = s == 0 ? prev->out[u->L - 1] : P->g[s - 1];
    if (in == P->g[s])
        return; /* flatten */
    const int i = st->layer;
    if (st->op == NCMP_TD_LAYER && a->layers[i].type == NCMP_LAYER_LINEAR) {
        if (param_grads) {
            linear_product(u, NCMP_LINEAR_GRAD, i, in, *cur, NULL, pp->grad_weight_t[i]);
            pp->has_topdown_grad = true;
        }
        linear_product(u, NCMP_LINEAR_XWT, i, *cur, u->e.weight[i], NULL, *other);
        void *tmp = *cur;
        *cur = *other;
        *other = tmp;
        return;
    }
    ncmp_layer_type ty = a->layers[i].type;
    bool in_place = st->op == NCMP_TD_INSNORM || ty == NCMP_LAYER_ADARELU;
    ncmp_grad_args g = {.e = &u->e,
                        .layer = i,
                        .step = s,
                        .later = prev->used_h[i],
                        .x = in,
                        .dy = *cur,
                        .dx = in_place ? *cur : *other,
                        .mask = prev->mask[i],
                        .imax = prev->imax[i],
                        .imin = prev->imin[i],
                        .h = t > 1 ? u->D[t - 1].h[i] : NULL,
                        /* the h this step stored was read by forward t, whose backward just filled dh */
                        .dh_add = st->op == NCMP_TD_LAYER && ty == NCMP_LAYER_ADARELU ? u->dh[i] : NULL};
    bool conv = st->op == NCMP_TD_LAYER && ty == NCMP_LAYER_CONV;
    void *gw = conv && param_grads ? pp->grad_weight[i] : NULL;
    grad_run(u, &g, gw, conv ? ncmp_params_weight_size(pp, i) : 0, NULL, 0);
    if (!in_place) {
        void *tmp = *cur;
        *cur = *other;
        *other = tmp;
    }
}

ncmp_status ncmp_unroll_backward(ncmp_unroll *u, bool param_grads, void *input_grad, ncmp_error *err)
{
    if (input_grad && !u->input_grad)
        return ncmp_fail(err, NCMP_ERR_USAGE, "the training buffers were made without the input gradient");
    const ncmp_arch *a = u->arch;
    const int L = u->L;
    const double step = a->step;
    int blas = ncmp_blas_threads();
    ncmp_blas_set_threads(1);
    for (int t = u->cycles; t >= 0; t--) {
        forward_pass *P = &u->F[t];
        bind_forward(u, t);
        void *cur = u->grad[0], *other = u->grad[1];
        const size_t last = ncmp_shape_size(a->layers[L - 1].out);
        memcpy(cur, P->seed[L - 1], u->n * last * u->rs);
        const int start = t == 0 ? 0 : u->u + 1;
        for (int i = L - 1; i >= start; i--) {
            if (i < L - 1 && P->seed[i])
                axpy(u, cur, P->seed[i], 1, ncmp_shape_size(a->layers[i].out));
            bool need_dx = i > 0 || input_grad;
            layer_backward(u, t, i, &cur, &other, param_grads, need_dx);
        }
        if (t == 0) {
            if (input_grad)
                memcpy(input_grad, cur, u->n * ncmp_shape_size(a->input) * u->rs);
            break;
        }
        /* cur = d h_t from the layers above; add what the next cycle's blend and any loss put there. */
        const size_t usize = ncmp_shape_size(a->layers[u->u].out);
        axpy(u, cur, P->seed[u->u], 1, usize);
        /* h_t = h_{t-1} + step (r_t - h_{t-1}) */
        axpy(u, u->F[t - 1].seed[u->u], cur, 1 - step, usize);
        (u->dtype == NCMP_FLOAT64 ? ncmp_grad_scale_f64 : ncmp_grad_scale_f32)(other, cur, step, u->n * usize);
        void *tmp = cur;
        cur = other;
        other = tmp;
        for (int s = u->S - 1; s >= 0; s--) {
            if (u->D[t].seed[s])
                axpy(u, cur, u->D[t].seed[s], 1, ncmp_shape_size(a->topdown[s].shape));
            step_backward(u, t, s, &cur, &other, param_grads);
        }
        axpy(u, u->F[t - 1].seed[L - 1], cur, 1, ncmp_shape_size(a->layers[L - 1].out));
    }
    ncmp_blas_set_threads(blas);
    return NCMP_OK;
}

const ncmp_arch *ncmp_unroll_arch(const ncmp_unroll *u)
{
    return u->arch;
}
