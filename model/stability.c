/* Routing-stability checks of CNN-F iterates: one-ulp perturbation, and
 * float against double arithmetic (see stability.h). */
#include "model/stability.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct record_ctx {
    ncmp_stability *rep;
    double *saved;  /* [(T+1) * sum of layer sizes * batch] from the first run */
    size_t *offset; /* per observed layer, offset into one iteration's block */
    size_t per_iteration;
    bool compare;
} record_ctx;

static ncmp_status observe(void *p, const ncmp_cnnf *e, int t, ncmp_error *err)
{
    record_ctx *c = p;
    ncmp_stability *r = c->rep;
    for (int k = 0; k < r->n_layers; k++) {
        ncmp_tensor v;
        ncmp_status st = ncmp_cnnf_output(e, r->layers[k], &v, err);
        if (st)
            return st;
        size_t n = ncmp_tensor_numel(&v);
        double *slot = c->saved + (size_t)t * c->per_iteration + c->offset[k];
        const float *x32 = v.data;
        const double *x64 = v.data;
        const bool f64 = v.dtype == NCMP_FLOAT64;
        if (!c->compare) {
            for (size_t j = 0; j < n; j++)
                slot[j] = f64 ? x64[j] : (double)x32[j];
            r->near_ties[t * r->n_layers + k] += ncmp_cnnf_near_ties(e, r->layers[k]);
        } else {
            double max_diff = 0, max_ref = 0;
            for (size_t j = 0; j < n; j++) {
                double d = fabs((f64 ? x64[j] : (double)x32[j]) - slot[j]);
                if (d > max_diff)
                    max_diff = d;
                if (fabs((double)slot[j]) > max_ref)
                    max_ref = fabs((double)slot[j]);
            }
            double d = max_ref > 0 ? max_diff / max_ref : max_diff;
            double *cell = &r->divergence[t * r->n_layers + k];
            if (!(d <= *cell)) /* the largest over chunks; NaN sticks */
                *cell = d;
        }
    }
    if (!c->compare)
        for (int i = 0; i < r->n_arch_layers; i++)
            r->route_ties[(size_t)t * r->n_arch_layers + i] += ncmp_cnnf_near_ties(e, i);
    return NCMP_OK;
}

void ncmp_stability_free(ncmp_stability *r)
{
    if (!r)
        return;
    free(r->layers);
    free(r->divergence);
    free(r->near_ties);
    free(r->route_ties);
    free(r);
}

/* Run `input` chunk by chunk (at most `batch` samples) through a `first`
 * engine, record, then through a `second` engine (on the input moved one
 * float32 ulp up when `perturb`) and compare; both engines are made once. */
static ncmp_status compare_runs(const ncmp_net *net, const ncmp_tensor *input, size_t batch, int iterations,
                                const int *layers, int n_layers, ncmp_dtype first, ncmp_dtype second, bool perturb,
                                ncmp_stability **report, ncmp_error *err)
{
    *report = NULL;
    if (input->ndim != 4 || n_layers < 1 || input->shape[0] < 1)
        return ncmp_fail(err, NCMP_ERR_USAGE, "stability check needs a [n, C, H, W] input and at least one layer");
    const ncmp_arch *a = net->arch;
    const size_t n = input->shape[0];
    if (batch < 1 || batch > n)
        batch = n;
    ncmp_stability *r = calloc(1, sizeof *r);
    record_ctx c = {r, NULL, NULL, 0, false};
    ncmp_tensor moved = {0};
    ncmp_cnnf *e1 = NULL, *e2 = NULL;
    ncmp_status st = NCMP_OK;
    if (!r)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    r->iterations = iterations;
    r->n_layers = n_layers;
    r->n_arch_layers = a->n_layers;
    size_t cells = (size_t)(iterations + 1) * (size_t)n_layers;
    r->layers = malloc(sizeof(int) * (size_t)n_layers);
    r->divergence = calloc(cells, sizeof(double));
    r->near_ties = calloc(cells, sizeof(size_t));
    r->route_ties = calloc((size_t)(iterations + 1) * (size_t)a->n_layers, sizeof(size_t));
    c.offset = malloc(sizeof(size_t) * (size_t)n_layers);
    if (!r->layers || !r->divergence || !r->near_ties || !r->route_ties || !c.offset) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int k = 0; k < n_layers; k++) {
        if (layers[k] < 0 || layers[k] >= a->n_layers) {
            st = ncmp_fail(err, NCMP_ERR_USAGE, "layer index %d is out of range", layers[k]);
            goto done;
        }
        r->layers[k] = layers[k];
        c.offset[k] = c.per_iteration;
        c.per_iteration += batch * ncmp_shape_size(a->layers[layers[k]].out);
    }
    c.saved = malloc(sizeof(double) * c.per_iteration * (size_t)(iterations + 1));
    if (!c.saved) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory for the stability check");
        goto done;
    }
    const ncmp_tensor *second_input = input;
    if (perturb) {
        /* The same input, every value moved one float32 ulp towards +infinity. */
        if ((st = ncmp_tensor_alloc(&moved, NCMP_FLOAT32, 4, input->shape, err)) ||
            (st = ncmp_tensor_copy(&moved, input, err)))
            goto done;
        float *m = moved.data;
        for (size_t j = 0; j < ncmp_tensor_numel(&moved); j++)
            m[j] = nextafterf(m[j], INFINITY);
        second_input = &moved;
    }
    ncmp_cnnf_options o1 = {first, batch, layers, n_layers, false}, o2 = {second, batch, layers, n_layers, false};
    if ((st = ncmp_cnnf_create(net, &o1, &e1, err)) || (second != first && (st = ncmp_cnnf_create(net, &o2, &e2, err))))
        goto done;
    for (size_t start = 0; start < n && !st; start += batch) {
        size_t m = n - start < batch ? n - start : batch;
        ncmp_tensor one, two;
        ncmp_tensor_view_slice(input, 0, start, start + m, &one, NULL);
        ncmp_tensor_view_slice(second_input, 0, start, start + m, &two, NULL);
        c.compare = false;
        if ((st = ncmp_cnnf_run(e1, &one, iterations, observe, &c, err)))
            break;
        c.compare = true;
        st = ncmp_cnnf_run(e2 ? e2 : e1, &two, iterations, observe, &c, err);
    }
done:
    ncmp_cnnf_free(e1);
    ncmp_cnnf_free(e2);
    ncmp_tensor_release(&moved);
    free(c.saved);
    free(c.offset);
    if (st)
        ncmp_stability_free(r);
    else
        *report = r;
    return st;
}

ncmp_status ncmp_stability_check(const ncmp_net *net, const ncmp_tensor *input, int iterations, const int *layers,
                                 int n_layers, ncmp_stability **report, ncmp_error *err)
{
    return compare_runs(net, input, input->ndim == 4 ? input->shape[0] : 0, iterations, layers, n_layers, NCMP_FLOAT32,
                        NCMP_FLOAT32, true, report, err);
}

ncmp_status ncmp_precision_check(const ncmp_net *net, const ncmp_tensor *input, size_t batch, int iterations,
                                 const int *layers, int n_layers, ncmp_stability **report, ncmp_error *err)
{
    return compare_runs(net, input, batch, iterations, layers, n_layers, NCMP_FLOAT64, NCMP_FLOAT32, false, report,
                        err);
}
