/* SGD with momentum and weight decay as torch.optim.SGD, gradient clipping as
 * nn.utils.clip_grad_norm_, schedules as the CNN-F reference (docs/training.md §3). */
#include "model/train/sgd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

ncmp_status ncmp_schedule_parse(const char *text, ncmp_schedule *s, ncmp_error *err)
{
    if (!strcmp(text, "constant"))
        *s = NCMP_SCHEDULE_CONSTANT;
    else if (!strcmp(text, "poly"))
        *s = NCMP_SCHEDULE_POLY;
    else if (!strcmp(text, "cos"))
        *s = NCMP_SCHEDULE_COS;
    else
        return ncmp_fail(err, NCMP_ERR_USAGE, "--schedule must be constant, poly or cos, got '%s'", text);
    return NCMP_OK;
}

const char *ncmp_schedule_name(ncmp_schedule s)
{
    return s == NCMP_SCHEDULE_POLY ? "poly" : s == NCMP_SCHEDULE_COS ? "cos" : "constant";
}

double ncmp_schedule_factor(ncmp_schedule s, uint64_t k, uint64_t total)
{
    if (s == NCMP_SCHEDULE_CONSTANT || total == 0)
        return 1;
    double x = (double)k / (double)total;
    if (s == NCMP_SCHEDULE_POLY)
        return x >= 1 ? 0 : pow(1 - x, 0.9);
    const double pi = 3.14159265358979323846;
    return 1e-5 + (1 - 1e-5) * 0.5 * (1 + cos(x * pi));
}

void ncmp_sgd_free(ncmp_sgd *sgd)
{
    if (!sgd)
        return;
    for (int i = 0; i < sgd->arch->n_layers; i++) {
        free(sgd->buf_weight ? sgd->buf_weight[i] : NULL);
        free(sgd->buf_bias ? sgd->buf_bias[i] : NULL);
        free(sgd->buf_weight_t ? sgd->buf_weight_t[i] : NULL);
    }
    free(sgd->buf_weight);
    free(sgd->buf_bias);
    free(sgd->buf_weight_t);
    free(sgd->has_buf_weight_t);
    free(sgd);
}

ncmp_status ncmp_sgd_create(const ncmp_params *p, const ncmp_sgd_options *opts, ncmp_sgd **out, ncmp_error *err)
{
    *out = NULL;
    ncmp_sgd *s = calloc(1, sizeof *s);
    if (!s)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    s->opts = *opts;
    s->arch = p->arch;
    s->dtype = p->dtype;
    const size_t L = (size_t)p->arch->n_layers, rs = ncmp_dtype_size(p->dtype);
    s->buf_weight = calloc(L, sizeof(void *));
    s->buf_bias = calloc(L, sizeof(void *));
    s->buf_weight_t = calloc(L, sizeof(void *));
    s->has_buf_weight_t = calloc(L, sizeof(bool));
    if (!s->buf_weight || !s->buf_bias || !s->buf_weight_t || !s->has_buf_weight_t)
        goto oom;
    for (int i = 0; i < p->arch->n_layers; i++) {
        size_t w = ncmp_params_weight_size(p, i), b = ncmp_params_bias_size(p, i);
        if (w && !(s->buf_weight[i] = calloc(w, rs)))
            goto oom;
        if (b && !(s->buf_bias[i] = calloc(b, rs)))
            goto oom;
        if (p->grad_weight_t[i] && !(s->buf_weight_t[i] = calloc(w, rs)))
            goto oom;
    }
    *out = s;
    return NCMP_OK;
oom:
    ncmp_sgd_free(s);
    return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory for the optimiser state");
}

static double sumsq(const void *v, ncmp_dtype dt, size_t n)
{
    double s = 0;
    for (size_t j = 0; j < n; j++) {
        double x = dt == NCMP_FLOAT64 ? ((const double *)v)[j] : ((const float *)v)[j];
        s += x * x;
    }
    return s;
}

static void scale(void *v, ncmp_dtype dt, size_t n, double c)
{
    for (size_t j = 0; j < n; j++)
        if (dt == NCMP_FLOAT64)
            ((double *)v)[j] *= c;
        else
            ((float *)v)[j] *= (float)c;
}

/* d = g + wd p;  buf = first ? d : momentum buf + d;  p = p + (-lr) buf  (the operations of
 * torch.optim.SGD's _single_tensor_sgd, in its order). */
#define UPDATE(REAL)                                                                                                   \
    static void update_##REAL(REAL *p, const REAL *g, REAL *buf, size_t n, bool first, double lr, double mom,          \
                              double wd)                                                                               \
    {                                                                                                                  \
        const REAL lr_ = (REAL)lr, mom_ = (REAL)mom, wd_ = (REAL)wd;                                                   \
        for (size_t j = 0; j < n; j++) {                                                                               \
            REAL d = g[j];                                                                                             \
            if (wd_ != 0)                                                                                              \
                d = d + wd_ * p[j];                                                                                    \
            if (mom_ != 0) {                                                                                           \
                buf[j] = first ? d : mom_ * buf[j] + d;                                                                \
                d = buf[j];                                                                                            \
            }                                                                                                          \
            p[j] = p[j] + (-lr_) * d;                                                                                  \
        }                                                                                                              \
    }
UPDATE(float)
UPDATE(double)

static void update(ncmp_dtype dt, void *p, const void *g, void *buf, size_t n, bool first, double lr, double mom,
                   double wd)
{
    if (dt == NCMP_FLOAT64)
        update_double(p, g, buf, n, first, lr, mom, wd);
    else
        update_float(p, g, buf, n, first, lr, mom, wd);
}

void ncmp_sgd_step(ncmp_sgd *s, ncmp_params *p, ncmp_sgd_report *report)
{
    const ncmp_arch *a = p->arch;
    const ncmp_sgd_options *o = &s->opts;
    const double lr = o->lr * ncmp_schedule_factor(o->schedule, s->step, o->total_steps);
    const bool topdown = p->has_topdown_grad;
    /* clip_grad_norm_: the 2-norm of the norms of every gradient that exists this step */
    double total = 0;
    for (int i = 0; i < a->n_layers; i++) {
        size_t w = ncmp_params_weight_size(p, i), b = ncmp_params_bias_size(p, i);
        if (w)
            total += sumsq(p->grad_weight[i], p->dtype, w);
        if (b)
            total += sumsq(p->grad_bias[i], p->dtype, b);
        if (topdown && p->grad_weight_t[i])
            total += sumsq(p->grad_weight_t[i], p->dtype, w);
    }
    const double norm = sqrt(total);
    double c = 1;
    if (o->grad_clip > 0) {
        c = o->grad_clip / (norm + 1e-6);
        if (c > 1)
            c = 1;
        /* PyTorch 1.13 multiplies by the clamped coefficient even when it is 1. */
        for (int i = 0; i < a->n_layers; i++) {
            size_t w = ncmp_params_weight_size(p, i), b = ncmp_params_bias_size(p, i);
            if (w)
                scale(p->grad_weight[i], p->dtype, w, c);
            if (b)
                scale(p->grad_bias[i], p->dtype, b, c);
            if (topdown && p->grad_weight_t[i])
                scale(p->grad_weight_t[i], p->dtype, w, c);
        }
    }
    const bool first = s->step == 0;
    for (int i = 0; i < a->n_layers; i++) {
        size_t w = ncmp_params_weight_size(p, i), b = ncmp_params_bias_size(p, i);
        if (w) {
            update(p->dtype, p->weight[i], p->grad_weight[i], s->buf_weight[i], w, first, lr, o->momentum,
                   o->weight_decay);
            if (topdown && p->grad_weight_t[i]) {
                /* The reference's linear_t (a view of W's storage, kept here in W's layout; the
                 * update is elementwise) with its own buffer, after W's own update. */
                update(p->dtype, p->weight[i], p->grad_weight_t[i], s->buf_weight_t[i], w, !s->has_buf_weight_t[i], lr,
                       o->momentum, o->weight_decay);
                s->has_buf_weight_t[i] = true;
            }
        }
        if (b)
            update(p->dtype, p->bias[i], p->grad_bias[i], s->buf_bias[i], b, first, lr, o->momentum, o->weight_decay);
    }
    s->step++;
    if (report) {
        report->lr = lr;
        report->grad_norm = norm;
        report->clip_scale = c;
    }
}
