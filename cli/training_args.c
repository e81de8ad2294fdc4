/* Shared option handling of neurocmp train and neurocmp eval. */
#include "cli/training_args.h"
#include "core/h5.h"
#include "core/log.h"

#include <stdio.h>
#include <string.h>

ncmp_status cli_open_labeled(const char *data, const char *images, const char *labels, ncmp_labeled_split split,
                             const ncmp_arch *arch, ncmp_labeled_set **set, ncmp_error *err)
{
    if ((data != NULL) == (images != NULL || labels != NULL))
        return ncmp_fail(err, NCMP_ERR_USAGE,
                         "give the data as --data fashion-mnist, --data DIR (one sub-folder per class), or --images "
                         "FILE --labels FILE");
    if (!data && (!images || !labels))
        return ncmp_fail(err, NCMP_ERR_USAGE, "--images and --labels go together");
    ncmp_labeled_source src = {data, images, labels, split};
    ncmp_preprocess_options pp = ncmp_arch_preprocess(arch, false);
    return ncmp_labeled_open(&src, &pp, arch->num_classes, set, err);
}

ncmp_status cli_load_params(const ncmp_arch *arch, const char *weights, unsigned long long seed, ncmp_dtype dtype,
                            ncmp_params **params, char *described, size_t size, ncmp_error *err)
{
    ncmp_status st = ncmp_params_create(arch, dtype, params, err);
    if (st)
        return st;
    if (weights) {
        char hex[NCMP_SHA256_HEX_LEN];
        if ((st = ncmp_params_load(*params, weights, err)) || (st = ncmp_sha256_file(weights, hex, err))) {
            ncmp_params_free(*params);
            *params = NULL;
            return st;
        }
        snprintf(described, size, "%s (sha256 %s)", weights, hex);
        return NCMP_OK;
    }
    if ((st = ncmp_params_init_seeded(*params, seed, err))) {
        ncmp_params_free(*params);
        *params = NULL;
        return st;
    }
    snprintf(described, size, "seed %llu", seed);
    return NCMP_OK;
}

ncmp_status cli_parse_precision(const char *text, ncmp_dtype *dtype, ncmp_error *err)
{
    if (ncmp_dtype_parse(text, dtype))
        return ncmp_fail(err, NCMP_ERR_USAGE, "--precision must be float or double, got '%s'", text);
    return NCMP_OK;
}

void cli_apply_weights_step(ncmp_arch *arch, const char *weights, double explicit_step)
{
    if (explicit_step > 0) {
        arch->step = explicit_step;
        return;
    }
    hid_t f;
    double step;
    if (!arch->cnnf || !weights || ncmp_h5_open_read(weights, false, &f, NULL))
        return;
    if (ncmp_h5_attr_exists(f, "cnnf_step") && !ncmp_h5_attr_get_double(f, "cnnf_step", &step, NULL) && step > 0 &&
        step != arch->step) {
        ncmp_log_info("using the CNN-F step %g recorded in '%s' (the spec says %g)", step, weights, arch->step);
        arch->step = step;
    }
    H5Fclose(f);
}
