/* The CNN-F objective: cross-entropy at every iteration plus reconstruction
 * errors of the feedback (yjhuangcd/CNNF train.py, train_adv; docs/training.md §1). */
#include "model/train/objective.h"

#include <math.h>
#include <string.h>

void ncmp_objective_init(ncmp_objective *obj, const ncmp_arch *a)
{
    memset(obj, 0, sizeof *obj);
    obj->arch = a;
    if (!a->cnnf || a->n_topdown == 0)
        return;
    obj->tap_layer[0] = a->update_layer;
    obj->tap_step[0] = a->n_topdown - 1;
    obj->n_taps = 1;
    for (int i = a->update_layer + 1; i < a->n_layers && obj->n_taps < NCMP_OBJECTIVE_MAX_TAPS; i++) {
        const ncmp_layer_desc *L = &a->layers[i];
        if (!L->alias[0] || L->out.flat || i == a->n_layers - 1)
            continue;
        for (int s = 0; s < a->n_topdown; s++) {
            if (a->topdown[s].op != NCMP_TD_LAYER || a->topdown[s].layer != i)
                continue;
            int step = L->type == NCMP_LAYER_ADARELU ? s : s - 1;
            if (step >= 0) {
                obj->tap_layer[obj->n_taps] = i;
                obj->tap_step[obj->n_taps] = step;
                obj->n_taps++;
            }
            break;
        }
    }
}

void ncmp_objective_unroll_options(const ncmp_objective *obj, int *layers, int *steps, ncmp_unroll_options *opts)
{
    for (int k = 0; k < obj->n_taps; k++) {
        layers[k] = obj->tap_layer[k];
        steps[k] = obj->tap_step[k];
    }
    opts->seed_layers = layers;
    opts->n_seed_layers = obj->n_taps;
    opts->seed_steps = steps;
    opts->n_seed_steps = obj->n_taps;
}

static double value(const void *v, ncmp_dtype dtype, size_t j)
{
    return dtype == NCMP_FLOAT64 ? ((const double *)v)[j] : (double)((const float *)v)[j];
}

static void add_value(void *v, ncmp_dtype dtype, size_t j, double x)
{
    if (dtype == NCMP_FLOAT64)
        ((double *)v)[j] += x;
    else
        ((float *)v)[j] += (float)x;
}

double ncmp_cross_entropy(const void *logits, ncmp_dtype dtype, size_t rows, int classes, const int32_t *labels,
                          double scale, void *grad, size_t *correct)
{
    double total = 0;
    size_t right = 0;
    for (size_t r = 0; r < rows; r++) {
        const size_t base = r * (size_t)classes;
        double zmax = value(logits, dtype, base);
        int arg = 0;
        for (int c = 1; c < classes; c++)
            if (value(logits, dtype, base + c) > zmax) {
                zmax = value(logits, dtype, base + c);
                arg = c;
            }
        right += arg == labels[r];
        double sum = 0;
        for (int c = 0; c < classes; c++)
            sum += exp(value(logits, dtype, base + c) - zmax);
        const double lse = zmax + log(sum);
        total += lse - value(logits, dtype, base + labels[r]);
        if (grad)
            for (int c = 0; c < classes; c++) {
                double p = exp(value(logits, dtype, base + c) - lse);
                add_value(grad, dtype, base + c, scale * (p - (c == labels[r])) / (double)rows);
            }
    }
    if (correct)
        *correct = right;
    return rows ? total / (double)rows : 0;
}

ncmp_status ncmp_objective_eval(const ncmp_objective *obj, ncmp_unroll *u, const int32_t *labels,
                                const ncmp_objective_options *opts, ncmp_objective_result *res, ncmp_error *err)
{
    const ncmp_arch *a = obj->arch;
    const int T = ncmp_unroll_cycles(u), L = a->n_layers, K = a->num_classes;
    const size_t n = ncmp_unroll_batch(u);
    memset(res, 0, sizeof *res);
    if (T > NCMP_MAX_CYCLES)
        return ncmp_fail(err, NCMP_ERR_USAGE, "at most %d cycles", NCMP_MAX_CYCLES);
    const size_t nc = opts->n_clean ? opts->n_clean : n;
    if (opts->n_clean && 2 * opts->n_clean != n)
        return ncmp_fail(err, NCMP_ERR_SHAPE, "an adversarial batch holds %zu clean + %zu perturbed inputs, not %zu",
                         opts->n_clean, opts->n_clean, n);
    for (size_t r = 0; r < nc; r++)
        if (labels[r] < 0 || labels[r] >= K)
            return ncmp_fail(err, NCMP_ERR_VALUE, "label %d of input %zu is outside 0..%d", (int)labels[r], r, K - 1);
    const ncmp_dtype dtype = ncmp_unroll_precision(u);
    const size_t rs = ncmp_dtype_size(dtype);
    for (int t = 0; t <= T; t++) {
        const void *z = ncmp_unroll_layer_output(u, t, L - 1);
        void *dz = ncmp_unroll_layer_seed(u, t, L - 1);
        if (!opts->n_clean) {
            res->ce[t] = ncmp_cross_entropy(z, dtype, n, K, labels, 1.0 / (T + 1), dz, &res->correct[t]);
            res->loss += res->ce[t] / (T + 1);
        } else {
            const double cp = opts->clean_parameter;
            res->ce[t] = ncmp_cross_entropy(z, dtype, nc, K, labels, cp / (2.0 * (T + 1)), dz, &res->correct[t]);
            double adv =
                ncmp_cross_entropy((const char *)z + nc * (size_t)K * rs, dtype, nc, K, labels, 1.0 / (2.0 * (T + 1)),
                                   (char *)dz + nc * (size_t)K * rs, &res->correct_adversarial[t]);
            res->loss += (cp * res->ce[t] + adv) / (2.0 * (T + 1));
        }
        if (!isfinite(res->ce[t]))
            return ncmp_fail(err, NCMP_ERR_VALUE, "the cross-entropy of iteration %d is %g (the logits overflowed)", t,
                             res->ce[t]);
    }
    if (T == 0 || obj->n_taps == 0)
        return NCMP_OK;
    /* Reconstructions: of the adversarial half (or of everything) against the clean targets. */
    const size_t off = opts->n_clean ? nc : 0;
    const double coef = opts->mse_parameter / ((double)obj->n_taps * T);
    double mse = 0;
    for (int k = 0; k < obj->n_taps; k++) {
        const int i = obj->tap_layer[k], s = obj->tap_step[k];
        const size_t size = ncmp_shape_size(a->layers[i].out), numel = nc * size;
        const void *target = ncmp_unroll_layer_output(u, 0, i);
        void *dtarget = ncmp_unroll_layer_seed(u, 0, i);
        for (int t = 1; t <= T; t++) {
            const void *recon = ncmp_unroll_step_output(u, t, s);
            void *drecon = ncmp_unroll_step_seed(u, t, s);
            double sum = 0;
            for (size_t j = 0; j < numel; j++) {
                double d = value(recon, dtype, off * size + j) - value(target, dtype, j);
                sum += d * d;
                if (coef != 0) {
                    double g = coef * 2 * d / (double)numel;
                    add_value(drecon, dtype, off * size + j, g);
                    add_value(dtarget, dtype, j, -g);
                }
            }
            mse += sum / (double)numel;
        }
    }
    res->mse = mse / ((double)obj->n_taps * T);
    res->loss += opts->mse_parameter * res->mse;
    if (!isfinite(res->mse))
        return ncmp_fail(err, NCMP_ERR_VALUE, "the reconstruction error is %g (the feedback overflowed)", res->mse);
    return NCMP_OK;
}
