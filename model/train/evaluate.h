/* Classification accuracy of a (CNN-F) network at every iteration, clean and
 * under attack (the reference's Evaluator in yjhuangcd/CNNF eval.py).
 *
 * For every iteration t = 0..T: the share of images whose logits_t have
 * their (first) maximum at the label; and of the logits averaged over the
 * iterations 0..T (the reference's run_average).  With an attack, the same
 * for adversarial examples made from each batch (model/train/attack.h; each
 * batch draws its random start from stream (seed, batch index)).  Batches
 * run through the unrolled network (model/train/unroll.h), so the numbers do
 * not depend on the thread count.
 */
#ifndef NCMP_MODEL_TRAIN_EVALUATE_H
#define NCMP_MODEL_TRAIN_EVALUATE_H

#include "datasets/labeled.h"
#include "model/train/attack.h"
#include "model/train/objective.h"

typedef struct ncmp_eval_options {
    int cycles;
    size_t batch;
    ncmp_attack_options attack; /* kind NCMP_ATTACK_NONE: clean only */
    uint64_t seed;
    bool progress;
} ncmp_eval_options;

typedef struct ncmp_eval_result {
    size_t n;
    int cycles;
    size_t correct[NCMP_MAX_CYCLES + 1], correct_average;
    double cross_entropy[NCMP_MAX_CYCLES + 1];
    bool attacked;
    size_t adversarial_correct[NCMP_MAX_CYCLES + 1], adversarial_correct_average;
} ncmp_eval_result;

/* Evaluate with a new unroll sized for opts->batch and opts->cycles. */
ncmp_status ncmp_evaluate(ncmp_params *params, const ncmp_labeled_set *set, const ncmp_preprocess_options *pp,
                          const ncmp_eval_options *opts, ncmp_eval_result *result, ncmp_error *err);
/* Evaluate on an existing unroll (max_batch >= opts->batch, max_cycles >= opts->cycles; input_grad if attacked). */
ncmp_status ncmp_evaluate_with(ncmp_unroll *unroll, const ncmp_labeled_set *set, const ncmp_preprocess_options *pp,
                               const ncmp_eval_options *opts, ncmp_eval_result *result, ncmp_error *err);

#endif
