/* The CNN-F training objective of the reference training script
 * (yjhuangcd/CNNF train.py, train_adv), generalised to any CNN-F spec.
 *
 * For a batch run through T cycles (model/train/unroll.h):
 *   loss = sum_{t=0..T} CE(logits_t) / (T + 1)
 *        + mse_parameter * sum_{t=1..T} sum_k MSE(recon_{t,k}, target_k) / (K T)
 * CE is the mean cross-entropy over the batch; the reconstruction pairs k
 * ("taps") are the update layer (target: its iteration-0 value h_0;
 * reconstruction: the feedback's output r_t) and every observed feature map
 * above it (target: its iteration-0 output; reconstruction: the top-down
 * signal there in cycle t: after the layer's rule for an AdaReLU, as the
 * reference's `block1_recon`, else arriving at the layer).  MSE is the mean
 * over every element.  Targets are not detached: gradients flow into both
 * sides, as in the reference.
 *
 * Adversarial training (n_clean > 0): the batch holds n_clean clean inputs
 * followed by n_clean perturbed copies; CE terms become
 * (clean_parameter CE(clean half) + CE(adversarial half)) / (2 (T + 1)) and
 * every reconstruction is that of the adversarial half against the target of
 * the clean half.  docs/training.md gives the details.
 */
#ifndef NCMP_MODEL_TRAIN_OBJECTIVE_H
#define NCMP_MODEL_TRAIN_OBJECTIVE_H

#include <stdint.h>

#include "model/train/unroll.h"

#define NCMP_OBJECTIVE_MAX_TAPS 32
#define NCMP_MAX_CYCLES         64

typedef struct ncmp_objective {
    const ncmp_arch *arch;
    int n_taps;
    int tap_layer[NCMP_OBJECTIVE_MAX_TAPS]; /* target: output of this layer at iteration 0 */
    int tap_step[NCMP_OBJECTIVE_MAX_TAPS];  /* reconstruction: output of this plan step */
} ncmp_objective;

/* Find the reconstruction pairs of a CNN-F (none for a feed-forward CNN). */
void ncmp_objective_init(ncmp_objective *obj, const ncmp_arch *arch);
/* The seed layers and steps the unroll needs for this objective (arrays of
 * NCMP_OBJECTIVE_MAX_TAPS). */
void ncmp_objective_unroll_options(const ncmp_objective *obj, int *layers, int *steps, ncmp_unroll_options *opts);

typedef struct ncmp_objective_options {
    double mse_parameter;   /* weight of the reconstruction terms */
    double clean_parameter; /* adversarial training: weight of the clean cross-entropy */
    size_t n_clean;         /* 0: every input is clean; else the batch is n_clean clean + n_clean adversarial */
} ncmp_objective_options;

typedef struct ncmp_objective_result {
    double loss;
    double ce[NCMP_MAX_CYCLES + 1];      /* mean cross-entropy per iteration (of the clean half when adversarial) */
    double mse;                          /* sum_t sum_k MSE(recon, target) / (K T) (unweighted) */
    size_t correct[NCMP_MAX_CYCLES + 1]; /* argmax = label per iteration (clean half) */
    size_t correct_adversarial[NCMP_MAX_CYCLES + 1];
} ncmp_objective_result;

/* Evaluate the loss of the latest forward and write its gradient into the
 * unroll's seeds (labels: one per clean input, 0 <= label < classes).
 * Refuses a non-finite loss with a message naming the term. */
ncmp_status ncmp_objective_eval(const ncmp_objective *obj, ncmp_unroll *unroll, const int32_t *labels,
                                const ncmp_objective_options *opts, ncmp_objective_result *result, ncmp_error *err);

/* Cross-entropy of a batch of logits (mean over rows, double) with its
 * gradient scaled by `scale` added into grad (may be NULL); counts correct
 * argmaxes (first maximum wins, as torch.argmax). */
double ncmp_cross_entropy(const void *logits, ncmp_dtype dtype, size_t rows, int classes, const int32_t *labels,
                          double scale, void *grad, size_t *correct);

#endif
