/* Accuracy per CNN-F iteration, clean and adversarial (yjhuangcd/CNNF eval.py; docs/training.md §5). */
#include "model/train/evaluate.h"
#include "core/progress.h"

#include <stdlib.h>
#include <string.h>

static int argmax_row(const void *z, bool f64, size_t row, int K, double *sum_into)
{
    int best = 0;
    double bv = 0;
    for (int c = 0; c < K; c++) {
        double v = f64 ? ((const double *)z)[row * (size_t)K + c] : ((const float *)z)[row * (size_t)K + c];
        if (sum_into)
            sum_into[c] += v;
        if (c == 0 || v > bv) {
            bv = v;
            best = c;
        }
    }
    return best;
}

static int argmax_sum(const double *s, int K)
{
    int best = 0;
    for (int c = 1; c < K; c++)
        if (s[c] > s[best])
            best = c;
    return best;
}

/* Run x through T cycles; count correct per iteration and for the averaged logits. */
static ncmp_status score_batch(ncmp_unroll *u, const void *x, const int32_t *labels, size_t n, int T, size_t *correct,
                               size_t *correct_avg, double *ce, double *avg, ncmp_error *err)
{
    const ncmp_arch *a = ncmp_unroll_arch(u);
    const ncmp_dtype dt = ncmp_unroll_precision(u);
    size_t shape[4] = {n, (size_t)a->input.c, (size_t)a->input.h, (size_t)a->input.w};
    ncmp_tensor xt = ncmp_tensor_wrap(dt, 4, shape, (void *)x);
    ncmp_status st = ncmp_unroll_forward(u, &xt, T, err);
    if (st)
        return st;
    const int K = a->num_classes;
    memset(avg, 0, n * (size_t)K * sizeof(double));
    for (int t = 0; t <= T; t++) {
        const void *z = ncmp_unroll_layer_output(u, t, a->n_layers - 1);
        for (size_t r = 0; r < n; r++)
            correct[t] += argmax_row(z, dt == NCMP_FLOAT64, r, K, avg + r * (size_t)K) == labels[r];
        if (ce)
            ce[t] += ncmp_cross_entropy(z, dt, n, K, labels, 0, NULL, NULL) * (double)n;
    }
    /* The mean over iterations has its maximum where the sum does. */
    for (size_t r = 0; r < n; r++)
        *correct_avg += argmax_sum(avg + r * (size_t)K, K) == labels[r];
    return NCMP_OK;
}

ncmp_status ncmp_evaluate_with(ncmp_unroll *u, const ncmp_labeled_set *set, const ncmp_preprocess_options *pp,
                               const ncmp_eval_options *o, ncmp_eval_result *res, ncmp_error *err)
{
    const ncmp_arch *a = ncmp_unroll_arch(u);
    const ncmp_dtype dt = ncmp_unroll_precision(u);
    const size_t per = ncmp_shape_size(a->input), B = o->batch;
    memset(res, 0, sizeof *res);
    res->n = set->n;
    res->cycles = o->cycles;
    res->attacked = o->attack.kind != NCMP_ATTACK_NONE;
    if (o->cycles > NCMP_MAX_CYCLES)
        return ncmp_fail(err, NCMP_ERR_USAGE, "at most %d cycles", NCMP_MAX_CYCLES);
    void *x = malloc(B * per * ncmp_dtype_size(dt)), *xa = malloc(B * per * ncmp_dtype_size(dt));
    int32_t *labels = malloc(B * sizeof(int32_t));
    size_t *idx = malloc(B * sizeof(size_t));
    double *avg = malloc(B * (size_t)a->num_classes * sizeof(double));
    ncmp_status st = NCMP_OK;
    if (!x || !xa || !labels || !idx || !avg) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        goto done;
    }
    ncmp_progress *progress = o->progress ? ncmp_progress_start("evaluating", set->n, "images") : NULL;
    for (size_t b0 = 0, batch = 0; b0 < set->n && !st; b0 += B, batch++) {
        size_t n = set->n - b0 < B ? set->n - b0 : B;
        for (size_t k = 0; k < n; k++)
            idx[k] = b0 + k;
        ncmp_labeled_gather(set, idx, n, dt, x, labels);
        st = score_batch(u, x, labels, n, o->cycles, res->correct, &res->correct_average, res->cross_entropy, avg, err);
        if (!st && res->attacked) {
            ncmp_rng rng;
            ncmp_rng_seed_stream(&rng, o->seed, batch);
            ncmp_attack_options ao = o->attack;
            ao.cycles = o->cycles;
            if (!(st = ncmp_attack_run(u, &ao, pp, x, labels, n, &rng, xa, err)))
                st = score_batch(u, xa, labels, n, o->cycles, res->adversarial_correct,
                                 &res->adversarial_correct_average, NULL, avg, err);
        }
        ncmp_progress_advance(progress, n);
    }
    ncmp_progress_finish(progress);
    for (int t = 0; t <= o->cycles; t++)
        res->cross_entropy[t] /= (double)(set->n ? set->n : 1);
done:
    free(x);
    free(xa);
    free(labels);
    free(idx);
    free(avg);
    return st;
}

ncmp_status ncmp_evaluate(ncmp_params *params, const ncmp_labeled_set *set, const ncmp_preprocess_options *pp,
                          const ncmp_eval_options *o, ncmp_eval_result *res, ncmp_error *err)
{
    if (o->batch < 1)
        return ncmp_fail(err, NCMP_ERR_USAGE, "--batch must be at least 1");
    ncmp_unroll_options uo = {.max_batch = o->batch < set->n ? o->batch : set->n,
                              .max_cycles = o->cycles,
                              .input_grad = o->attack.kind != NCMP_ATTACK_NONE};
    ncmp_eval_options oo = *o;
    oo.batch = uo.max_batch;
    ncmp_unroll *u = NULL;
    ncmp_status st = ncmp_unroll_create(params, &uo, &u, err);
    if (st)
        return st;
    st = ncmp_evaluate_with(u, set, pp, &oo, res, err);
    ncmp_unroll_free(u);
    return st;
}
