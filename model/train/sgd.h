/* Stochastic gradient descent exactly as torch.optim.SGD (PyTorch 1.13,
 * dampening 0, no Nesterov), with clip_grad_norm_ and the learning-rate
 * schedules of the CNN-F reference training script (yjhuangcd/CNNF).
 *
 * Per parameter p with gradient g, step k (0-based):
 *   d = g + weight_decay p;  buf = d (k = 0) else momentum buf + d;  p = p - lr_k buf
 * lr_k = lr * factor(k), factor:
 *   constant  1
 *   poly      (1 - k / total)^0.9                       (utils.lr_poly)
 *   cos       1e-5 + (1 - 1e-5) (1 + cos(pi k / total)) / 2   (utils.get_lr)
 * with total = epochs * steps per epoch, stepped after every batch, as the
 * reference's LambdaLR.  With grad_clip > 0 every gradient is first scaled
 * by min(1, grad_clip / (norm + 1e-6)), norm the 2-norm over all gradients
 * (nn.utils.clip_grad_norm_).
 *
 * Linear layers whose transpose ran top-down carry a second gradient (see
 * model/train/params.h): after W's own update, W takes a second update
 * with that gradient, its own momentum buffer and the weight decay of the
 * already updated W, which is what the reference's separate `linear_t`
 * parameter, sharing W's storage, does.  Its gradient also enters the
 * clipping norm.  docs/training.md §3.
 */
#ifndef NCMP_MODEL_TRAIN_SGD_H
#define NCMP_MODEL_TRAIN_SGD_H

#include <stdint.h>

#include "model/train/params.h"

typedef enum ncmp_schedule { NCMP_SCHEDULE_CONSTANT, NCMP_SCHEDULE_POLY, NCMP_SCHEDULE_COS } ncmp_schedule;

/* "constant", "poly", "cos" (NCMP_ERR_USAGE naming the choices otherwise). */
ncmp_status ncmp_schedule_parse(const char *text, ncmp_schedule *schedule, ncmp_error *err);
const char *ncmp_schedule_name(ncmp_schedule schedule);
/* Learning-rate factor of step k of `total`. */
double ncmp_schedule_factor(ncmp_schedule schedule, uint64_t k, uint64_t total);

typedef struct ncmp_sgd_options {
    double lr, momentum, weight_decay;
    double grad_clip; /* 0: off */
    ncmp_schedule schedule;
    uint64_t total_steps;
} ncmp_sgd_options;

typedef struct ncmp_sgd {
    ncmp_sgd_options opts;
    const ncmp_arch *arch;
    ncmp_dtype dtype;
    void **buf_weight, **buf_bias, **buf_weight_t; /* momentum buffers, per layer */
    bool *has_buf_weight_t;                        /* the top-down buffer exists (it starts at its first use) */
    uint64_t step;                                 /* optimiser steps taken */
} ncmp_sgd;

ncmp_status ncmp_sgd_create(const ncmp_params *params, const ncmp_sgd_options *opts, ncmp_sgd **sgd, ncmp_error *err);
void ncmp_sgd_free(ncmp_sgd *sgd);

typedef struct ncmp_sgd_report {
    double lr;         /* learning rate used */
    double grad_norm;  /* before clipping */
    double clip_scale; /* factor applied to the gradients (1: none) */
} ncmp_sgd_report;

/* One update of params from their gradients (modified in place by clipping). */
void ncmp_sgd_step(ncmp_sgd *sgd, ncmp_params *params, ncmp_sgd_report *report);

#endif
