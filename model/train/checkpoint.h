/* Training checkpoints: a weights file (docs/formats.md) that also holds what is
 * needed to continue training.
 *
 * Root: one dataset per parameter (float32, or float64 when trained in
 * double precision), PyTorch keys and shapes; attributes: provenance, arch,
 * width, input_size, num_classes, update_layer, cnnf_step, precision,
 * weights_digest (model/train/params.h), training_complete,
 * training_epochs_done, training_step.
 * Group /training (ignored by weights readers): one string attribute per
 * setting (ncmp_train_setting), the optimiser's momentum buffers
 * (/training/momentum/<key>, /training/momentum_topdown/<key>; only while
 * training is unfinished: a complete file cannot be continued), the
 * accumulators of a partly done epoch, and the history
 * (/training/history/<column>, one row per finished epoch).
 */
#ifndef NCMP_MODEL_TRAIN_CHECKPOINT_H
#define NCMP_MODEL_TRAIN_CHECKPOINT_H

#include "model/train/objective.h"
#include "model/train/sgd.h"

#define NCMP_TRAIN_MAX_SETTINGS 48

/* A named setting of a training run, as text (numbers with %.17g). */
typedef struct ncmp_train_setting {
    const char *name;   /* attribute name, e.g. "lr" */
    const char *option; /* command-line option for messages, e.g. "--lr" */
    char value[600];
} ncmp_train_setting;

typedef struct ncmp_train_settings {
    ncmp_train_setting items[NCMP_TRAIN_MAX_SETTINGS];
    int n;
} ncmp_train_settings;

void ncmp_train_settings_add(ncmp_train_settings *s, const char *name, const char *option, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Sums over the batches of the current epoch. */
typedef struct ncmp_train_accumulators {
    double loss, mse;
    double ce[NCMP_MAX_CYCLES + 1];
    double correct[NCMP_MAX_CYCLES + 1], correct_adversarial[NCMP_MAX_CYCLES + 1];
    double batches, images;
} ncmp_train_accumulators;

/* One row per finished epoch. */
typedef struct ncmp_train_history {
    int cycles;
    int n, cap;
    double *epoch, *step, *lr, *loss, *mse, *images_per_second, *seconds;
    double *ce, *train_accuracy, *adversarial_accuracy, *test_accuracy; /* [n][cycles + 1] */
} ncmp_train_history;

ncmp_status ncmp_train_history_init(ncmp_train_history *h, int cycles, int capacity, ncmp_error *err);
void ncmp_train_history_release(ncmp_train_history *h);
/* Pointer to row `row` of a [n][cycles + 1] column. */
double *ncmp_train_history_row(const ncmp_train_history *h, double *column, int row);

typedef struct ncmp_checkpoint {
    const ncmp_params *params;
    const ncmp_sgd *sgd;
    const ncmp_train_settings *settings;
    const ncmp_train_accumulators *acc;
    const ncmp_train_history *history;
    int epochs_done;
    bool complete;
    const char *data_description;
    const char *test_description;
} ncmp_checkpoint;

/* Write atomically (PATH.partial, then rename), replacing PATH. */
ncmp_status ncmp_checkpoint_write(const char *path, const ncmp_checkpoint *ck, ncmp_error *err);

/* Is PATH a training checkpoint?  Fills epochs_done, complete and step if so. */
bool ncmp_checkpoint_probe(const char *path, int *epochs_done, bool *complete, unsigned long long *step);

/* Read a checkpoint to continue training: the settings must equal `settings`
 * (else NCMP_ERR_USAGE naming the first that differs, e.g. "--lr was 0.05,
 * now 0.1"); fills params, the optimiser (buffers and step), the
 * accumulators and the history. */
ncmp_status ncmp_checkpoint_read(const char *path, const ncmp_train_settings *settings, ncmp_params *params,
                                 ncmp_sgd *sgd, ncmp_train_accumulators *acc, ncmp_train_history *history,
                                 int *epochs_done, bool *complete, ncmp_error *err);

#endif
