/* FGSM and L-infinity PGD against a (CNN-F) network, as advertorch's attacks used
 * by the CNN-F reference (Goodfellow et al. 2015; Madry et al. 2018; docs/training.md §5). */
#include "model/train/attack.h"
#include "model/train/objective.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

ncmp_status ncmp_attack_parse(const char *text, ncmp_attack_kind *kind, ncmp_error *err)
{
    if (!strcmp(text, "none"))
        *kind = NCMP_ATTACK_NONE;
    else if (!strcmp(text, "fgsm"))
        *kind = NCMP_ATTACK_FGSM;
    else if (!strcmp(text, "pgd"))
        *kind = NCMP_ATTACK_PGD;
    else
        return ncmp_fail(err, NCMP_ERR_USAGE, "unknown attack '%s' (fgsm or pgd)", text);
    return NCMP_OK;
}

const char *ncmp_attack_name(ncmp_attack_kind kind)
{
    return kind == NCMP_ATTACK_FGSM ? "fgsm" : kind == NCMP_ATTACK_PGD ? "pgd" : "none";
}

ncmp_status ncmp_attack_through_parse(const char *text, ncmp_attack_through *through, ncmp_error *err)
{
    if (!strcmp(text, "first"))
        *through = NCMP_ATTACK_FIRST;
    else if (!strcmp(text, "all"))
        *through = NCMP_ATTACK_ALL;
    else
        return ncmp_fail(err, NCMP_ERR_USAGE, "--attack-through must be first or all, got '%s'", text);
    return NCMP_OK;
}

static double get(const void *v, bool f64, size_t j)
{
    return f64 ? ((const double *)v)[j] : ((const float *)v)[j];
}
static void put(void *v, bool f64, size_t j, double x)
{
    if (f64)
        ((double *)v)[j] = x;
    else
        ((float *)v)[j] = (float)x;
}

static double sign(double g)
{
    return g > 0 ? 1 : g < 0 ? -1 : 0;
}

/* d loss / d input of the summed cross-entropy at the attacked iteration, for input xin. */
static ncmp_status input_gradient(ncmp_unroll *u, const ncmp_attack_options *o, const void *xin, const int32_t *labels,
                                  size_t n, const ncmp_arch *a, void *grad, ncmp_error *err)
{
    const ncmp_dtype dt = ncmp_unroll_precision(u);
    size_t shape[4] = {n, (size_t)a->input.c, (size_t)a->input.h, (size_t)a->input.w};
    ncmp_tensor x = ncmp_tensor_wrap(dt, 4, shape, (void *)xin);
    const int T = o->through == NCMP_ATTACK_ALL ? o->cycles : 0;
    ncmp_status st = ncmp_unroll_forward(u, &x, T, err);
    if (st)
        return st;
    const int last = a->n_layers - 1;
    /* reduction="sum": the mean's gradient times n */
    ncmp_cross_entropy(ncmp_unroll_layer_output(u, T, last), dt, n, a->num_classes, labels, (double)n,
                       ncmp_unroll_layer_seed(u, T, last), NULL);
    return ncmp_unroll_backward(u, false, grad, err);
}

ncmp_status ncmp_attack_run(ncmp_unroll *u, const ncmp_attack_options *o, const ncmp_preprocess_options *pp,
                            const void *x, const int32_t *labels, size_t n, ncmp_rng *rng, void *x_adv, ncmp_error *err)
{
    const ncmp_dtype dt = ncmp_unroll_precision(u);
    const bool f64 = dt == NCMP_FLOAT64;
    const ncmp_arch *a = ncmp_unroll_arch(u);
    const size_t plane = (size_t)a->input.h * a->input.w, per = (size_t)a->input.c * plane, total = n * per;
    if (o->kind == NCMP_ATTACK_NONE) {
        memcpy(x_adv, x, total * ncmp_dtype_size(dt));
        return NCMP_OK;
    }
    if (!(o->eps >= 0) || (o->kind == NCMP_ATTACK_PGD && (!(o->eps_iter >= 0) || o->steps < 1)))
        return ncmp_fail(err, NCMP_ERR_USAGE,
                         "an attack needs --eps >= 0, and PGD --eps-iter >= 0 and --pgd-steps >= 1");
    double lo[3], hi[3];
    for (int c = 0; c < a->input.c && c < 3; c++)
        ncmp_preprocess_range(pp, c, &lo[c], &hi[c]);
    void *grad = malloc(total * ncmp_dtype_size(dt));
    double *delta = malloc(total * sizeof(double));
    if (!grad || !delta) {
        free(grad);
        free(delta);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory for the attack");
    }
    ncmp_status st = NCMP_OK;
#define CHANNEL(j) ((int)(((j) % per) / plane) < 3 ? (int)(((j) % per) / plane) : 2)
#define CLIP(v, j) fmin(fmax((v), lo[CHANNEL(j)]), hi[CHANNEL(j)])
    if (o->kind == NCMP_ATTACK_FGSM) {
        if (!(st = input_gradient(u, o, x, labels, n, a, grad, err)))
            for (size_t j = 0; j < total; j++)
                put(x_adv, f64, j, CLIP(get(x, f64, j) + o->eps * sign(get(grad, f64, j)), j));
    } else {
        for (size_t j = 0; j < total; j++) {
            double d = (2 * ncmp_rng_uniform(rng) - 1) * o->eps;
            double xj = get(x, f64, j);
            delta[j] = CLIP(xj + d, j) - xj;
            put(x_adv, f64, j, xj + delta[j]);
        }
        for (int k = 0; k < o->steps && !st; k++) {
            if ((st = input_gradient(u, o, x_adv, labels, n, a, grad, err)))
                break;
            for (size_t j = 0; j < total; j++) {
                double xj = get(x, f64, j);
                double d = delta[j] + o->eps_iter * sign(get(grad, f64, j));
                d = fmin(fmax(d, -o->eps), o->eps);
                delta[j] = CLIP(xj + d, j) - xj;
                put(x_adv, f64, j, xj + delta[j]);
            }
        }
        if (!st)
            for (size_t j = 0; j < total; j++)
                put(x_adv, f64, j, CLIP(get(x_adv, f64, j), j));
    }
#undef CLIP
#undef CHANNEL
    free(grad);
    free(delta);
    return st;
}
