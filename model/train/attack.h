/* Adversarial examples by the signed gradient of the cross-entropy: FGSM
 * (Goodfellow et al. 2015) and L-infinity PGD with a random start (Madry et
 * al. 2018), as advertorch's GradientSignAttack and LinfPGDAttack, which the
 * CNN-F reference uses (yjhuangcd/CNNF train.py, eval.py):
 *
 *   FGSM: x' = clip(x + eps sign(g(x)))
 *   PGD:  d = U(-eps, eps), d = clip(x + d) - x;  K times:
 *         d = d + eps_iter sign(g(x + d)); d = clamp(d, -eps, eps); d = clip(x + d) - x
 *         x' = clip(x + d)
 * g is the gradient of the summed cross-entropy w.r.t. the input, clip() the
 * range of the network's input scaling (datasets/preprocess.h), sign(0) = 0.
 * `through` chooses what is attacked: the feed-forward pass (iteration 0,
 * the reference's forward_adv), or the logits of the last iteration with the
 * gradient through every feedback cycle (exact; the reference's
 * run_cycles_adv).  The random start draws from a seeded stream, so an
 * attack is reproducible.
 */
#ifndef NCMP_MODEL_TRAIN_ATTACK_H
#define NCMP_MODEL_TRAIN_ATTACK_H

#include "core/rng.h"
#include "datasets/preprocess.h"
#include "model/train/unroll.h"

typedef enum ncmp_attack_kind { NCMP_ATTACK_NONE, NCMP_ATTACK_FGSM, NCMP_ATTACK_PGD } ncmp_attack_kind;
typedef enum ncmp_attack_through { NCMP_ATTACK_FIRST, NCMP_ATTACK_ALL } ncmp_attack_through;

typedef struct ncmp_attack_options {
    ncmp_attack_kind kind;
    double eps, eps_iter; /* in units of the network input */
    int steps;            /* PGD iterations */
    ncmp_attack_through through;
    int cycles; /* with NCMP_ATTACK_ALL: the iteration whose logits are attacked */
} ncmp_attack_options;

ncmp_status ncmp_attack_parse(const char *text, ncmp_attack_kind *kind, ncmp_error *err);
const char *ncmp_attack_name(ncmp_attack_kind kind);
ncmp_status ncmp_attack_through_parse(const char *text, ncmp_attack_through *through, ncmp_error *err);

/* Perturb x ([n, C, H, W] in the unroll's precision, labels[n]) into x_adv
 * (same layout).  The unroll must have been made with input_grad and hold
 * n inputs and the cycles asked for; its seeds and tape are overwritten.
 * pp gives the valid input range. */
ncmp_status ncmp_attack_run(ncmp_unroll *unroll, const ncmp_attack_options *opts, const ncmp_preprocess_options *pp,
                            const void *x, const int32_t *labels, size_t n, ncmp_rng *rng, void *x_adv,
                            ncmp_error *err);

#endif
