/* Training a (CNN-F) network on labelled images: the reference training loop
 * (yjhuangcd/CNNF train.py) in C, with checkpoints and resumption.
 *
 * Every epoch visits floor(n / batch) batches (the last partial batch is
 * dropped, as the reference's DataLoader(drop_last=True)); batches follow
 * the file order, or a permutation of it drawn per epoch from stream
 * (seed, epoch).  Per batch: optionally PGD examples against the
 * feed-forward pass, concatenated after the clean batch (adversarial
 * training); the unrolled forward through T cycles; the CNN-F objective
 * (model/train/objective.h); backpropagation through every cycle; one SGD
 * step (model/train/sgd.h).  After every epoch (and when stopped by
 * max_steps or an interrupt) the weights, the optimiser state, the
 * settings and the training history are written atomically to the output
 * (model/train/checkpoint.h), so a resumed run ends with the same weights
 * as an uninterrupted one.  A non-finite loss or gradient stops training
 * with an error naming the step; the last checkpoint is left untouched.
 */
#ifndef NCMP_MODEL_TRAIN_TRAIN_H
#define NCMP_MODEL_TRAIN_TRAIN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "datasets/labeled.h"
#include "model/train/attack.h"
#include "model/train/evaluate.h"
#include "model/train/sgd.h"

typedef struct ncmp_train_options {
    int cycles;         /* T: feedback cycles trained through */
    int epochs;         /* the schedule's length */
    uint64_t max_steps; /* stop after this many optimiser steps in all (0: no limit) */
    size_t batch;
    ncmp_sgd_options sgd; /* total_steps is set from epochs */
    double mse_parameter, clean_parameter;
    bool shuffle;
    uint64_t seed;                   /* shuffling and the attacks' random starts */
    ncmp_attack_options adversarial; /* kind PGD or FGSM: adversarial training (against iteration 0) */
    const char *out_path;
    bool resume, force;
    const ncmp_labeled_set *test; /* optional: accuracy per iteration after every epoch */
    const ncmp_preprocess_options *pp;
    char init[512]; /* where the initial weights came from, for the settings ("seed 1", "FILE sha256 ...") */
} ncmp_train_options;

typedef struct ncmp_train_summary {
    uint64_t steps; /* optimiser steps taken in all (also before a resume) */
    int epochs_done;
    bool finished;      /* every epoch done */
    bool nothing_to_do; /* --resume of a finished run */
    double loss;        /* mean loss of the last epoch (or partial epoch) */
    double images_per_second;
    size_t memory_bytes; /* training buffers */
    bool tested;
    ncmp_eval_result test; /* of the last epoch */
    char digest[NCMP_SHA256_HEX_LEN];
} ncmp_train_summary;

/* Set by a signal handler of the application: training stops after the
 * current step, writes a checkpoint and returns NCMP_ERR_INTERRUPTED. */
extern volatile sig_atomic_t ncmp_train_interrupted;

ncmp_status ncmp_train_run(ncmp_params *params, const ncmp_labeled_set *data, const ncmp_train_options *opts,
                           ncmp_train_summary *summary, ncmp_error *err);

#endif
