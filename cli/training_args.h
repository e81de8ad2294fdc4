/* What `neurocmp train` and `neurocmp eval` share: the labelled data options
 * and turning --init/--weights/--seed into parameters. */
#ifndef NCMP_CLI_TRAINING_ARGS_H
#define NCMP_CLI_TRAINING_ARGS_H

#include "datasets/labeled.h"
#include "model/train/params.h"

/* --data fashion-mnist|DIR or --images FILE --labels FILE (exactly one form),
 * preprocessed for `arch`; labels are checked against its classes. */
ncmp_status cli_open_labeled(const char *data, const char *images, const char *labels, ncmp_labeled_split split,
                             const ncmp_arch *arch, ncmp_labeled_set **set, ncmp_error *err);

/* Parameters in `dtype` from a weights file (checked against the
 * architecture), or the seeded initialisation; `described` receives
 * "FILE (sha256 HEX)" or "seed S". */
ncmp_status cli_load_params(const ncmp_arch *arch, const char *weights, unsigned long long seed, ncmp_dtype dtype,
                            ncmp_params **params, char *described, size_t size, ncmp_error *err);

/* "float"/"float32" or "double"/"float64". */
ncmp_status cli_parse_precision(const char *text, ncmp_dtype *dtype, ncmp_error *err);

/* A CNN-F weights file written by `neurocmp train` records its cnnf_step
 * (--res-parameter); use it for the architecture unless `explicit_step` > 0. */
void cli_apply_weights_step(ncmp_arch *arch, const char *weights, double explicit_step);

#endif
