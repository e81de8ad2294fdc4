/* Training checkpoints: weights plus optimiser state, settings and history (docs/training.md §4). */
#include "model/train/checkpoint.h"
#include "core/h5.h"
#include "core/provenance.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GROUP "training"

void ncmp_train_settings_add(ncmp_train_settings *s, const char *name, const char *option, const char *fmt, ...)
{
    if (s->n >= NCMP_TRAIN_MAX_SETTINGS)
        return;
    ncmp_train_setting *it = &s->items[s->n++];
    it->name = name;
    it->option = option;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(it->value, sizeof it->value, fmt, ap);
    va_end(ap);
}

/* ---- history ---------------------------------------------------------------------- */

ncmp_status ncmp_train_history_init(ncmp_train_history *h, int cycles, int capacity, ncmp_error *err)
{
    memset(h, 0, sizeof *h);
    h->cycles = cycles;
    h->cap = capacity > 0 ? capacity : 1;
    const size_t n = (size_t)h->cap, w = (size_t)h->cap * (size_t)(cycles + 1);
    double **cols1[] = {&h->epoch, &h->step, &h->lr, &h->loss, &h->mse, &h->images_per_second, &h->seconds};
    double **colsw[] = {&h->ce, &h->train_accuracy, &h->adversarial_accuracy, &h->test_accuracy};
    for (size_t k = 0; k < sizeof cols1 / sizeof cols1[0]; k++)
        if (!(*cols1[k] = calloc(n, sizeof(double))))
            goto oom;
    for (size_t k = 0; k < sizeof colsw / sizeof colsw[0]; k++)
        if (!(*colsw[k] = calloc(w, sizeof(double))))
            goto oom;
    return NCMP_OK;
oom:
    ncmp_train_history_release(h);
    return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
}

void ncmp_train_history_release(ncmp_train_history *h)
{
    double *cols[] = {h->epoch,
                      h->step,
                      h->lr,
                      h->loss,
                      h->mse,
                      h->images_per_second,
                      h->seconds,
                      h->ce,
                      h->train_accuracy,
                      h->adversarial_accuracy,
                      h->test_accuracy};
    for (size_t k = 0; k < sizeof cols / sizeof cols[0]; k++)
        free(cols[k]);
    memset(h, 0, sizeof *h);
}

double *ncmp_train_history_row(const ncmp_train_history *h, double *column, int row)
{
    return column + (size_t)row * (size_t)(h->cycles + 1);
}

typedef struct column {
    const char *name;
    double *data;
    bool wide;
} column;

static int history_columns(const ncmp_train_history *h, column *c)
{
    int n = 0;
    c[n++] = (column){"epoch", h->epoch, false};
    c[n++] = (column){"step", h->step, false};
    c[n++] = (column){"lr", h->lr, false};
    c[n++] = (column){"loss", h->loss, false};
    c[n++] = (column){"reconstruction_mse", h->mse, false};
    c[n++] = (column){"cross_entropy", h->ce, true};
    c[n++] = (column){"train_accuracy", h->train_accuracy, true};
    c[n++] = (column){"adversarial_train_accuracy", h->adversarial_accuracy, true};
    c[n++] = (column){"test_accuracy", h->test_accuracy, true};
    c[n++] = (column){"images_per_second", h->images_per_second, false};
    c[n++] = (column){"seconds", h->seconds, false};
    return n;
}

/* ---- writing ---------------------------------------------------------------------- */

static ncmp_status write_buffers(hid_t g, const char *sub, const ncmp_params *p, void *const *bufs_w,
                                 void *const *bufs_b, const bool *only, ncmp_error *err)
{
    hid_t grp;
    ncmp_status st = ncmp_h5_ensure_group(g, sub, &grp, err);
    if (st)
        return st;
    const bool f64 = p->dtype == NCMP_FLOAT64;
    for (int i = 0; i < p->arch->n_layers && !st; i++)
        for (int which = 0; which < 2 && !st; which++) {
            void *const *bufs = which ? bufs_b : bufs_w;
            if (!bufs || !bufs[i] || (only && !only[i]))
                continue;
            const char *key = which ? p->arch->layers[i].bias_key : p->arch->layers[i].weight_key;
            hsize_t dims[1] = {which ? ncmp_params_bias_size(p, i) : ncmp_params_weight_size(p, i)};
            st = ncmp_h5_write_array(grp, key, f64 ? H5T_IEEE_F64LE : H5T_IEEE_F32LE,
                                     f64 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT, 1, dims, bufs[i], err);
        }
    H5Gclose(grp);
    return st;
}

ncmp_status ncmp_checkpoint_write(const char *path, const ncmp_checkpoint *ck, ncmp_error *err)
{
    NCMP_H5_QUIET_SCOPE;
    const ncmp_params *p = ck->params;
    const ncmp_arch *a = p->arch;
    const bool f64 = p->dtype == NCMP_FLOAT64;
    ncmp_h5_output out;
    ncmp_status st = ncmp_h5_output_begin(&out, path, NCMP_H5_OVERWRITE, err);
    if (st)
        return st;
    char digest[NCMP_SHA256_HEX_LEN];
    ncmp_params_digest(p, f64, digest);
    hid_t g = -1;
    if ((st = ncmp_provenance_write_h5(out.file, err)) || (st = ncmp_params_write_h5(p, out.file, f64, err)) ||
        (st = ncmp_h5_attr_set_string(out.file, "arch", a->name, err)) ||
        (st = ncmp_h5_attr_set_double(out.file, "width", a->width, err)) ||
        (st = ncmp_h5_attr_set_int64(out.file, "input_size", a->input.h, err)) ||
        (st = ncmp_h5_attr_set_int64(out.file, "input_channels", a->input.c, err)) ||
        (st = ncmp_h5_attr_set_int64(out.file, "num_classes", a->num_classes, err)) ||
        (st = ncmp_h5_attr_set_string(out.file, "update_layer",
                                      a->cnnf ? ncmp_arch_layer_label(a, a->update_layer) : "none", err)) ||
        (st = ncmp_h5_attr_set_double(out.file, "cnnf_step", a->step, err)) ||
        (st = ncmp_h5_attr_set_string(out.file, "precision", f64 ? "float64" : "float32", err)) ||
        (st = ncmp_h5_attr_set_string(out.file, "weights_digest", digest, err)) ||
        (st = ncmp_h5_attr_set_int64(out.file, "training_complete", ck->complete, err)) ||
        (st = ncmp_h5_attr_set_int64(out.file, "training_epochs_done", ck->epochs_done, err)) ||
        (st = ncmp_h5_attr_set_int64(out.file, "training_step", (long long)ck->sgd->step, err)) ||
        (st = ncmp_h5_attr_set_string(out.file, "training_data", ck->data_description, err)) ||
        (st = ncmp_h5_ensure_group(out.file, GROUP, &g, err)))
        goto fail;
    if (ck->test_description &&
        (st = ncmp_h5_attr_set_string(out.file, "training_test_data", ck->test_description, err)))
        goto fail;
    for (int k = 0; k < ck->settings->n; k++)
        if ((st = ncmp_h5_attr_set_string(g, ck->settings->items[k].name, ck->settings->items[k].value, err)))
            goto fail;
    /* A finished run cannot be continued (--epochs is a resume setting), so
     * its file drops the momentum buffers: a third of the size of a
     * checkpoint (half without a linear top-down layer). */
    if ((st = ncmp_h5_attr_set_int64(g, "optimizer_step", (long long)ck->sgd->step, err)) ||
        (!ck->complete && (st = write_buffers(g, "momentum", p, ck->sgd->buf_weight, ck->sgd->buf_bias, NULL, err))) ||
        (!ck->complete &&
         (st = write_buffers(g, "momentum_topdown", p, ck->sgd->buf_weight_t, NULL, ck->sgd->has_buf_weight_t, err))))
        goto fail;
    {
        const ncmp_train_accumulators *acc = ck->acc;
        const int T1 = ck->history->cycles + 1;
        double scalars[4] = {acc->loss, acc->mse, acc->batches, acc->images};
        hsize_t d4[1] = {4}, dT[1] = {(hsize_t)T1};
        hid_t ag;
        if ((st = ncmp_h5_ensure_group(g, "epoch_accumulators", &ag, err)))
            goto fail;
        st = ncmp_h5_write_array(ag, "loss_mse_batches_images", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, d4, scalars, err);
        if (!st)
            st = ncmp_h5_write_array(ag, "cross_entropy", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dT, acc->ce, err);
        if (!st)
            st = ncmp_h5_write_array(ag, "correct", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dT, acc->correct, err);
        if (!st)
            st = ncmp_h5_write_array(ag, "correct_adversarial", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dT,
                                     acc->correct_adversarial, err);
        H5Gclose(ag);
        if (st)
            goto fail;
    }
    if (ck->history->n > 0) {
        const ncmp_train_history *h = ck->history;
        hid_t hg;
        if ((st = ncmp_h5_ensure_group(g, "history", &hg, err)))
            goto fail;
        column cols[16];
        int nc = history_columns(h, cols);
        for (int k = 0; k < nc && !st; k++) {
            hsize_t dims[2] = {(hsize_t)h->n, (hsize_t)(h->cycles + 1)};
            st = ncmp_h5_write_array(hg, cols[k].name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, cols[k].wide ? 2 : 1, dims,
                                     cols[k].data, err);
        }
        if (!st)
            st = ncmp_h5_attr_set_string(hg, "description",
                                         "one row per finished epoch; [epoch, iteration] columns hold iterations "
                                         "0..T; accuracies are fractions; test_accuracy is NaN without test data",
                                         err);
        H5Gclose(hg);
        if (st)
            goto fail;
    }
    H5Gclose(g);
    /* complete = 1 only when training is done: a checkpoint mid-run is a
     * consistent file (renamed into place) but not a finished result. */
    return ncmp_h5_output_commit_as(&out, ck->complete, err);
fail:
    if (g >= 0)
        H5Gclose(g);
    ncmp_h5_output_abort(&out, false);
    return ncmp_error_context(err, "writing checkpoint '%s': ", path);
}

/* ---- reading ---------------------------------------------------------------------- */

bool ncmp_checkpoint_probe(const char *path, int *epochs_done, bool *complete, unsigned long long *step)
{
    NCMP_H5_QUIET_SCOPE;
    hid_t f;
    if (ncmp_h5_open_read(path, false, &f, NULL))
        return false;
    long long e = 0, c = 0, s = 0;
    bool is = ncmp_h5_attr_exists(f, "training_complete") &&
              !ncmp_h5_attr_get_int64(f, "training_complete", &c, NULL) &&
              !ncmp_h5_attr_get_int64(f, "training_epochs_done", &e, NULL) &&
              !ncmp_h5_attr_get_int64(f, "training_step", &s, NULL);
    H5Fclose(f);
    if (is) {
        *epochs_done = (int)e;
        *complete = c != 0;
        *step = (unsigned long long)s;
    }
    return is;
}

static ncmp_status read_array(hid_t loc, const char *name, hid_t mem_type, size_t count, void *dst, bool optional,
                              const char *path, ncmp_error *err)
{
    if (optional && H5Lexists(loc, name, H5P_DEFAULT) <= 0)
        return NCMP_OK;
    int rank;
    hsize_t dims[NCMP_H5_MAX_RANK];
    ncmp_status st = ncmp_h5_dataset_shape(loc, name, &rank, dims, err);
    if (st)
        return ncmp_error_context(err, "checkpoint '%s': ", path);
    size_t n = 1;
    for (int d = 0; d < rank; d++)
        n *= (size_t)dims[d];
    if (n != count)
        return ncmp_fail(err, NCMP_ERR_SHAPE, "checkpoint '%s': '%s' holds %zu values, expected %zu", path, name, n,
                         count);
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    herr_t r = H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst);
    H5Dclose(d);
    return r < 0 ? ncmp_h5_fail(err, NCMP_ERR_FORMAT, "checkpoint '%s': cannot read '%s'", path, name) : NCMP_OK;
}

ncmp_status ncmp_checkpoint_read(const char *path, const ncmp_train_settings *settings, ncmp_params *p, ncmp_sgd *sgd,
                                 ncmp_train_accumulators *acc, ncmp_train_history *h, int *epochs_done, bool *complete,
                                 ncmp_error *err)
{
    NCMP_H5_QUIET_SCOPE;
    hid_t f;
    ncmp_status st = ncmp_h5_open_read(path, false, &f, err);
    if (st)
        return st;
    hid_t g = -1;
    char *value = NULL;
    long long e = 0, c = 0, step = 0;
    if (H5Lexists(f, GROUP, H5P_DEFAULT) <= 0 || ncmp_h5_attr_get_int64(f, "training_epochs_done", &e, NULL) ||
        ncmp_h5_attr_get_int64(f, "training_complete", &c, NULL)) {
        st = ncmp_fail(err, NCMP_ERR_FORMAT, "'%s' is a weights file, not a training checkpoint: nothing to resume",
                       path);
        goto done;
    }
    g = H5Gopen2(f, GROUP, H5P_DEFAULT);
    for (int k = 0; k < settings->n; k++) {
        const ncmp_train_setting *s = &settings->items[k];
        free(value);
        value = NULL;
        if (ncmp_h5_attr_get_string(g, s->name, &value, NULL)) {
            st = ncmp_fail(err, NCMP_ERR_FORMAT, "checkpoint '%s' does not record %s; it cannot be resumed", path,
                           s->option);
            goto done;
        }
        if (strcmp(value, s->value)) {
            st = ncmp_fail(err, NCMP_ERR_USAGE,
                           "cannot resume '%s': %s was %s, now %s (resume with the settings of the interrupted run, "
                           "or start over with --force)",
                           path, s->option, value, s->value);
            goto done;
        }
    }
    if ((st = ncmp_params_load(p, path, err)))
        goto done;
    if ((st = ncmp_h5_attr_get_int64(g, "optimizer_step", &step, err)))
        goto done;
    sgd->step = (uint64_t)step;
    const bool f64 = p->dtype == NCMP_FLOAT64;
    const hid_t mt = f64 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT;
    for (int i = 0; i < p->arch->n_layers && !st && !c; i++) { /* finished: no momentum kept */
        char name[512];
        const ncmp_layer_desc *L = &p->arch->layers[i];
        size_t w = ncmp_params_weight_size(p, i), b = ncmp_params_bias_size(p, i);
        if (w) {
            snprintf(name, sizeof name, "momentum/%s", L->weight_key);
            st = read_array(g, name, mt, w, sgd->buf_weight[i], false, path, err);
            if (!st && sgd->buf_weight_t[i]) {
                snprintf(name, sizeof name, "momentum_topdown/%s", L->weight_key);
                sgd->has_buf_weight_t[i] =
                    H5Lexists(g, "momentum_topdown", H5P_DEFAULT) > 0 && H5Lexists(g, name, H5P_DEFAULT) > 0;
                st = read_array(g, name, mt, w, sgd->buf_weight_t[i], true, path, err);
            }
        }
        if (!st && b) {
            snprintf(name, sizeof name, "momentum/%s", L->bias_key);
            st = read_array(g, name, mt, b, sgd->buf_bias[i], false, path, err);
        }
    }
    if (st)
        goto done;
    const size_t T1 = (size_t)h->cycles + 1;
    double scalars[4];
    if ((st = read_array(g, "epoch_accumulators/loss_mse_batches_images", H5T_NATIVE_DOUBLE, 4, scalars, false, path,
                         err)) ||
        (st = read_array(g, "epoch_accumulators/cross_entropy", H5T_NATIVE_DOUBLE, T1, acc->ce, false, path, err)) ||
        (st = read_array(g, "epoch_accumulators/correct", H5T_NATIVE_DOUBLE, T1, acc->correct, false, path, err)) ||
        (st = read_array(g, "epoch_accumulators/correct_adversarial", H5T_NATIVE_DOUBLE, T1, acc->correct_adversarial,
                         false, path, err)))
        goto done;
    acc->loss = scalars[0];
    acc->mse = scalars[1];
    acc->batches = scalars[2];
    acc->images = scalars[3];
    h->n = (int)e;
    if (h->n > h->cap) {
        st = ncmp_fail(err, NCMP_ERR_FORMAT, "checkpoint '%s' has %d epochs of history, more than the %d planned", path,
                       h->n, h->cap);
        goto done;
    }
    if (h->n > 0) {
        column cols[16];
        int nc = history_columns(h, cols);
        for (int k = 0; k < nc && !st; k++) {
            char name[128];
            snprintf(name, sizeof name, "history/%s", cols[k].name);
            st = read_array(g, name, H5T_NATIVE_DOUBLE, (size_t)h->n * (cols[k].wide ? T1 : 1), cols[k].data, false,
                            path, err);
        }
    }
    *epochs_done = (int)e;
    *complete = c != 0;
done:
    free(value);
    if (g >= 0)
        H5Gclose(g);
    H5Fclose(f);
    return st;
}
