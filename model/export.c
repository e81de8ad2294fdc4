/* Streaming export of per-iteration activations to HDF5 (docs/formats.md, Activations; see export.h). */
#include "model/export.h"
#include "core/dist.h"
#include "core/h5.h"
#include "core/log.h"
#include "core/paths.h"
#include "core/progress.h"
#include "core/provenance.h"
#include "core/rng.h"
#include "datasets/preprocess.h"
#include "model/export_internal.h"
#include "model/stability.h"

#include <errno.h>
#include <hdf5_hl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

volatile sig_atomic_t ncmp_export_interrupted = 0;

ncmp_status ncmp_reduce_parse(const char *text, ncmp_reduce_kind *kind, int *k, ncmp_error *err)
{
    *k = 0;
    if (!strcmp(text, "none")) {
        *kind = NCMP_REDUCE_NONE;
        return NCMP_OK;
    }
    if (!strcmp(text, "avgpool")) {
        *kind = NCMP_REDUCE_AVGPOOL;
        return NCMP_OK;
    }
    if (!strncmp(text, "project:", 8)) {
        char *end;
        errno = 0;
        long v = strtol(text + 8, &end, 10);
        if (!errno && end != text + 8 && !*end && v >= 1 && v <= 1000000) {
            *kind = NCMP_REDUCE_PROJECT;
            *k = (int)v;
            return NCMP_OK;
        }
    }
    return ncmp_fail(err, NCMP_ERR_USAGE, "--reduce '%s' is not one of none, avgpool, project:K (K >= 1)", text);
}

/* ---- layout ---------------------------------------------------------------------- */

static const char *dim_names[3] = {"channel", "y", "x"};

/* A netCDF-4 "dimension without a variable": lets xarray name every axis. */
static ncmp_status make_plain_dimension(hid_t loc, const char *name, hsize_t size, hid_t *out, ncmp_error *err)
{
    hid_t d;
    ncmp_status st = ncmp_h5_create_chunked(loc, name, H5T_IEEE_F32LE, 1, &size, NULL, NULL, 0, &d, err);
    if (st)
        return st;
    char text[96];
    snprintf(text, sizeof text, "This is a netCDF dimension but not a netCDF variable.%10llu",
             (unsigned long long)size);
    if ((st = ncmp_h5_make_scale(d, text, err))) {
        H5Dclose(d);
        return st;
    }
    *out = d;
    return NCMP_OK;
}

static ncmp_status open_or_create(export_state *s, const char *path, hid_t type, int rank, const hsize_t *dims,
                                  const hsize_t *chunk, int level, hid_t *d, ncmp_error *err)
{
    if (H5Lexists(s->file, path, H5P_DEFAULT) > 0) {
        *d = H5Dopen2(s->file, path, H5P_DEFAULT);
        return *d < 0 ? ncmp_h5_fail(err, NCMP_ERR_FORMAT, "cannot reopen '%s' to resume", path) : NCMP_OK;
    }
    H5Eclear2(H5E_DEFAULT);
    return ncmp_h5_create_chunked(s->file, path, type, rank, dims, NULL, chunk, level, d, err);
}

static ncmp_status attach_scales(export_state *s, hid_t d, int n_axes, ncmp_error *err)
{
    hid_t it = H5Dopen2(s->file, "iteration", H5P_DEFAULT), st_id = H5Dopen2(s->file, "stimulus_id", H5P_DEFAULT);
    ncmp_status st = ncmp_h5_attach_scale(d, it, 0, err);
    if (!st && n_axes > 1)
        st = ncmp_h5_attach_scale(d, st_id, 1, err);
    H5Dclose(it);
    H5Dclose(st_id);
    return st;
}

/* netCDF/xarray open one group at a time and do not inherit the root's
 * coordinate variables: hard-link /stimulus_id and /iteration into the group
 * (the same HDF5 objects, no copy) so that xr.open_dataset(group=...) has them. */
static ncmp_status link_coordinates(export_state *s, const char *group, bool with_iteration, ncmp_error *err)
{
    const char *names[2] = {"stimulus_id", "iteration"};
    for (int i = 0; i < (with_iteration ? 2 : 1); i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", group, names[i]);
        if (H5Lexists(s->file, path, H5P_DEFAULT) > 0)
            continue;
        if (H5Lcreate_hard(s->file, names[i], s->file, path, H5P_DEFAULT, H5P_DEFAULT) < 0)
            return ncmp_h5_fail(err, NCMP_ERR_IO, "cannot link '%s'", path);
    }
    return NCMP_OK;
}

static ncmp_status create_layout(export_state *s, bool fresh, ncmp_error *err)
{
    const ncmp_export_options *o = s->o;
    const ncmp_arch *a = s->net->arch;
    const hsize_t T1 = (hsize_t)o->iterations + 1, N = ncmp_stimuli_count(s->stimuli);
    ncmp_status st = NCMP_OK;
    hid_t grp;
    if (fresh) {
        /* Coordinates first: stimulus_id and iteration are the dimensions. */
        const char **ids = malloc(sizeof(char *) * (N ? N : 1));
        if (!ids)
            return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        for (hsize_t i = 0; i < N; i++)
            ids[i] = ncmp_stimuli_id(s->stimuli, (size_t)i);
        st = ncmp_h5_write_strings(s->file, "stimulus_id", ids, (size_t)N, err);
        free(ids);
        if (st)
            return st;
        int *iters = malloc(sizeof(int) * T1);
        for (hsize_t t = 0; t < T1; t++)
            iters[t] = (int)t;
        st = ncmp_h5_write_array(s->file, "iteration", H5T_STD_I32LE, H5T_NATIVE_INT, 1, &T1, iters, err);
        free(iters);
        if (st)
            return st;
        hid_t d1 = H5Dopen2(s->file, "stimulus_id", H5P_DEFAULT), d2 = H5Dopen2(s->file, "iteration", H5P_DEFAULT);
        st = ncmp_h5_make_scale(d1, "stimulus_id", err);
        if (!st)
            st = ncmp_h5_make_scale(d2, "iteration", err);
        H5Dclose(d1);
        H5Dclose(d2);
        if (st)
            return st;
        /* Stimulus metadata (object_name, ...), aligned with stimulus_id. */
        size_t cols = ncmp_stimuli_column_count(s->stimuli);
        if (cols) {
            if ((st = ncmp_h5_ensure_group(s->file, "stimulus_metadata", &grp, err)))
                return st;
            const char **vals = malloc(sizeof(char *) * (N ? N : 1));
            for (size_t c = 0; c < cols && !st; c++) {
                for (hsize_t i = 0; i < N; i++)
                    vals[i] = ncmp_stimuli_value(s->stimuli, (size_t)i, c);
                st = ncmp_h5_write_strings(grp, ncmp_stimuli_column_name(s->stimuli, c), vals, (size_t)N, err);
                if (!st) {
                    hid_t d = H5Dopen2(grp, ncmp_stimuli_column_name(s->stimuli, c), H5P_DEFAULT);
                    hid_t sid = H5Dopen2(s->file, "stimulus_id", H5P_DEFAULT);
                    st = ncmp_h5_attach_scale(d, sid, 0, err);
                    H5Dclose(sid);
                    H5Dclose(d);
                }
            }
            free(vals);
            H5Gclose(grp);
            if (st || (st = link_coordinates(s, "stimulus_metadata", false, err)))
                return st;
        }
    }
    if ((st = ncmp_h5_ensure_group(s->file, "activations", &grp, err)))
        return st;
    H5Gclose(grp);
    if ((st = ncmp_h5_ensure_group(s->file, "diagnostics/relative_change", &grp, err)))
        return st;
    H5Gclose(grp);
    if ((st = link_coordinates(s, "activations", true, err)) || (st = link_coordinates(s, "diagnostics", true, err)) ||
        (st = link_coordinates(s, "diagnostics/relative_change", true, err)))
        return st;
    const hid_t ftype = o->store == NCMP_FLOAT64 ? H5T_IEEE_F64LE : H5T_IEEE_F32LE;
    for (int k = 0; k < s->n_outs; k++) {
        layer_out *L = &s->outs[k];
        char path[256];
        snprintf(path, sizeof path, "activations/%s", L->label);
        hsize_t dims[5] = {T1, N, L->dims[0], L->dims[1], L->dims[2]};
        hsize_t chunk[5] = {1, 1, L->dims[0], L->dims[1], L->dims[2]};
        bool existed = H5Lexists(s->file, path, H5P_DEFAULT) > 0;
        if ((st = open_or_create(s, path, ftype, 2 + L->rank, dims, chunk, o->compress, &L->dset, err)))
            return st;
        if (!existed) {
            if ((st = attach_scales(s, L->dset, 2, err)))
                return st;
            for (int ax = 0; ax < L->rank; ax++) {
                char dname[256];
                snprintf(dname, sizeof dname, "activations/%s_%s", L->label,
                         L->rank == 1 ? (o->reduce == NCMP_REDUCE_NONE      ? "feature"
                                         : o->reduce == NCMP_REDUCE_AVGPOOL ? "channel"
                                                                            : "component")
                                      : dim_names[ax]);
                hid_t dim;
                if ((st = make_plain_dimension(s->file, dname, L->dims[ax], &dim, err)))
                    return st;
                st = ncmp_h5_attach_scale(L->dset, dim, (unsigned)(2 + ax), err);
                H5Dclose(dim);
                if (st)
                    return st;
            }
            const ncmp_layer_desc *D = &a->layers[L->layer];
            if ((st = ncmp_h5_attr_set_string(L->dset, "layer", D->name, err)) ||
                (st = ncmp_h5_attr_set_string(L->dset, "layer_type", ncmp_layer_type_name(D->type), err)))
                return st;
        }
        snprintf(path, sizeof path, "diagnostics/relative_change/%s", L->label);
        hsize_t cd[2] = {T1, N}, cc[2] = {1, N < 4096 ? N : 4096};
        existed = H5Lexists(s->file, path, H5P_DEFAULT) > 0;
        if ((st = open_or_create(s, path, H5T_IEEE_F64LE, 2, cd, cc, 0, &L->change_dset, err)))
            return st;
        if (!existed && ((st = attach_scales(s, L->change_dset, 2, err)) ||
                         (st = ncmp_h5_attr_set_string(L->change_dset, "description",
                                                       "||a_t - a_(t-1)|| / ||a_t|| per stimulus (0 at t = 0)", err))))
            return st;
    }
    hsize_t cd[2] = {T1, N}, cc[2] = {1, N < 4096 ? N : 4096};
    bool existed = H5Lexists(s->file, "diagnostics/predicted_class", H5P_DEFAULT) > 0;
    if ((st = open_or_create(s, "diagnostics/predicted_class", H5T_STD_I32LE, 2, cd, cc, 0, &s->class_dset, err)) ||
        (st = open_or_create(s, "diagnostics/predicted_probability", H5T_IEEE_F64LE, 2, cd, cc, 0, &s->prob_dset, err)))
        return st;
    if (!existed && ((st = attach_scales(s, s->class_dset, 2, err)) || (st = attach_scales(s, s->prob_dset, 2, err))))
        return st;
    hsize_t td[2] = {T1, (hsize_t)(s->n_routing ? s->n_routing : 1)};
    existed = H5Lexists(s->file, "diagnostics/near_ties", H5P_DEFAULT) > 0;
    if ((st = open_or_create(s, "diagnostics/near_ties", H5T_STD_I64LE, 2, td, NULL, 0, &s->ties_dset, err)))
        return st;
    if (!existed) {
        hid_t it = H5Dopen2(s->file, "iteration", H5P_DEFAULT), dim;
        st = ncmp_h5_attach_scale(s->ties_dset, it, 0, err);
        H5Dclose(it);
        if (st || (st = make_plain_dimension(s->file, "diagnostics/routing_layer", td[1], &dim, err)))
            return st;
        st = ncmp_h5_attach_scale(s->ties_dset, dim, 1, err);
        H5Dclose(dim);
        if (st)
            return st;
        char names[4096] = "";
        size_t used = 0;
        for (int r = 0; r < s->n_routing && used < sizeof names - 80; r++)
            used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", r ? "," : "",
                                     a->layers[s->routing[r]].name);
        if ((st = ncmp_h5_attr_set_string(s->ties_dset, "layers", names, err)) ||
            (st = ncmp_h5_attr_set_string(s->ties_dset, "description",
                                          "routing choices within 1e-5 (relative to the layer's RMS) of a tie, "
                                          "summed over stimuli, per iteration and routing layer",
                                          err)))
            return st;
    } else {
        hsize_t z[2] = {0, 0};
        if ((st = ncmp_h5_read_block(s->ties_dset, H5T_NATIVE_LLONG, z, td, s->ties, err)))
            return st;
    }
    return NCMP_OK;
}

/* ---- reductions ------------------------------------------------------------------- */

static void projection_row(uint64_t seed, int layer, int row, size_t features, float *out)
{
    ncmp_rng rng;
    ncmp_rng_seed_stream(&rng, seed, ((uint64_t)(unsigned)layer << 32) | (uint64_t)(unsigned)row);
    ncmp_rng_fill_normal_f32(&rng, out, features, 0.0, 1.0);
}

/* Reduce one stimulus' layer (x: features_in doubles) into dst (in the file precision). */
static void reduce_one(export_state *s, layer_out *L, const double *x, size_t features_in, const ncmp_shape *shape,
                       double *dst, float *row_scratch)
{
    const ncmp_export_options *o = s->o;
    if (o->reduce == NCMP_REDUCE_NONE) {
        memcpy(dst, x, sizeof(double) * features_in);
    } else if (o->reduce == NCMP_REDUCE_AVGPOOL) {
        size_t plane = shape->flat ? 1 : (size_t)shape->h * shape->w;
        for (int c = 0; c < shape->c; c++) {
            double sum = 0;
            for (size_t j = 0; j < plane; j++)
                sum += x[(size_t)c * plane + j];
            dst[c] = sum / (double)plane;
        }
    } else {
        const double scale = 1.0 / sqrt((double)o->project_dim);
        for (int k = 0; k < o->project_dim; k++) {
            const float *r = L->projection ? L->projection + (size_t)k * features_in : row_scratch;
            if (!L->projection)
                projection_row(o->project_seed, L->layer, k, features_in, row_scratch);
            double sum = 0;
            for (size_t j = 0; j < features_in; j++)
                sum += (double)r[j] * x[j];
            dst[k] = sum * scale;
        }
    }
}

/* ---- writing ---------------------------------------------------------------------- */

ncmp_status ncmp_export_write_rows(const export_state *s, hid_t dset, hid_t mem_type, const hsize_t *start,
                                   const hsize_t *count, const void *buf, ncmp_error *err)
{
    if (s->transfer == H5P_DEFAULT)
        return ncmp_h5_write_block(dset, mem_type, start, count, buf, err);
    /* Collective: every rank calls, a rank with nothing to write selects nothing. */
    hid_t fspace = H5Dget_space(dset);
    const int rank = H5Sget_simple_extent_ndims(fspace);
    bool empty = rank < 1;
    for (int d = 0; d < rank; d++)
        empty = empty || count[d] == 0;
    hid_t mspace;
    if (empty) {
        H5Sselect_none(fspace);
        mspace = H5Scopy(fspace);
        H5Sselect_none(mspace);
    } else {
        H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
        mspace = H5Screate_simple(rank, count, NULL);
    }
    static const double nothing = 0; /* HDF5 wants a buffer even for no elements */
    herr_t rc = H5Dwrite(dset, mem_type, mspace, fspace, s->transfer, empty ? (const void *)&nothing : buf);
    H5Sclose(mspace);
    H5Sclose(fspace);
    return rc < 0 ? ncmp_h5_fail(err, NCMP_ERR_IO, "collective write failed") : NCMP_OK;
}

/* Collective writes under MPI are matched one by one across ranks, so
 * ncmp_export_observe_nothing below makes the same ones in the same order:
 * for each layer its activations then its relative change; then the class,
 * then the probability. */
ncmp_status ncmp_export_observe(void *state, const ncmp_cnnf *e, int t, ncmp_error *err)
{
    export_state *s = state;
    const ncmp_export_options *o = s->o;
    const size_t n = ncmp_cnnf_batch(e);
    ncmp_status st;
    const int top = s->net->arch->n_layers - 1;
    for (int k = 0; k < s->n_outs; k++) {
        layer_out *L = &s->outs[k];
        ncmp_tensor v;
        if ((st = ncmp_cnnf_output(e, L->layer, &v, err)))
            return st;
        const ncmp_shape shape = s->net->arch->layers[L->layer].out;
        const size_t fin = ncmp_shape_size(shape);
        double *reduced = L->reduced, *change = s->change;
        float *row = L->row;
        for (size_t b = 0; b < n; b++) {
            double *x = s->act64;
            for (size_t j = 0; j < fin; j++)
                x[j] = v.dtype == NCMP_FLOAT64 ? ((const double *)v.data)[b * fin + j]
                                               : (double)((const float *)v.data)[b * fin + j];
            double *prev = L->prev + b * fin, num = 0, den = 0;
            for (size_t j = 0; j < fin; j++) {
                double d = x[j] - prev[j];
                num += d * d;
                den += x[j] * x[j];
                prev[j] = x[j];
            }
            change[b] = t == 0 ? 0.0 : (den > 0 ? sqrt(num / den) : (num > 0 ? INFINITY : 0.0));
            reduce_one(s, L, x, fin, &shape, reduced + b * L->features, row);
        }
        /* Write [t, start:start+n, features...] in the file's precision. */
        hsize_t start[5] = {(hsize_t)t, s->start, 0, 0, 0}, count[5] = {1, n, L->dims[0], L->dims[1], L->dims[2]};
        if (o->store == NCMP_FLOAT64) {
            st = ncmp_export_write_rows(s, L->dset, H5T_NATIVE_DOUBLE, start, count, reduced, err);
        } else if (o->precision == NCMP_FLOAT32 && o->reduce == NCMP_REDUCE_NONE) {
            /* Float32 activations are written as computed, with no round trip through double. */
            st = ncmp_export_write_rows(s, L->dset, H5T_NATIVE_FLOAT, start, count, v.data, err);
        } else {
            /* Double values stored as float32: one rounding to nearest, done here. */
            float *f = L->store32;
            for (size_t j = 0; j < n * L->features; j++)
                f[j] = (float)reduced[j];
            st = ncmp_export_write_rows(s, L->dset, H5T_NATIVE_FLOAT, start, count, f, err);
        }
        if (!st) {
            hsize_t cs[2] = {(hsize_t)t, s->start}, cc[2] = {1, n};
            st = ncmp_export_write_rows(s, L->change_dset, H5T_NATIVE_DOUBLE, cs, cc, change, err);
        }
        if (st)
            return ncmp_error_context(err, "writing activations of '%s' at iteration %d", L->label, t);
    }
    /* Predicted class and its softmax probability, from the last layer. */
    ncmp_tensor logits;
    if ((st = ncmp_cnnf_output(e, top, &logits, err)))
        return st;
    const size_t nc = ncmp_shape_size(s->net->arch->layers[top].out);
    int *cls = s->cls;
    double *prob = s->prob;
    for (size_t b = 0; b < n; b++) {
        size_t best = 0;
        double vmax = -INFINITY;
        for (size_t c = 0; c < nc; c++) {
            double z = logits.dtype == NCMP_FLOAT64 ? ((const double *)logits.data)[b * nc + c]
                                                    : (double)((const float *)logits.data)[b * nc + c];
            if (z > vmax) {
                vmax = z;
                best = c;
            }
        }
        double sum = 0;
        for (size_t c = 0; c < nc; c++) {
            double z = logits.dtype == NCMP_FLOAT64 ? ((const double *)logits.data)[b * nc + c]
                                                    : (double)((const float *)logits.data)[b * nc + c];
            sum += exp(z - vmax);
        }
        cls[b] = (int)best;
        prob[b] = 1.0 / sum;
    }
    hsize_t cs[2] = {(hsize_t)t, s->start}, cc[2] = {1, n};
    st = ncmp_export_write_rows(s, s->class_dset, H5T_NATIVE_INT, cs, cc, cls, err);
    if (!st)
        st = ncmp_export_write_rows(s, s->prob_dset, H5T_NATIVE_DOUBLE, cs, cc, prob, err);
    for (int r = 0; r < s->n_routing; r++)
        s->ties[(size_t)t * s->n_routing + r] += (long long)ncmp_cnnf_near_ties(e, s->routing[r]);
    return st;
}

ncmp_status ncmp_export_observe_nothing(export_state *s, ncmp_error *err)
{
    const hsize_t none[5] = {0, 0, 0, 0, 0};
    ncmp_status st = NCMP_OK;
    for (int t = 0; t <= s->o->iterations && !st; t++) {
        for (int k = 0; k < s->n_outs && !st; k++) {
            layer_out *L = &s->outs[k];
            hid_t type = s->o->store == NCMP_FLOAT64 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT;
            if ((st = ncmp_export_write_rows(s, L->dset, type, none, none, NULL, err)) ||
                (st = ncmp_export_write_rows(s, L->change_dset, H5T_NATIVE_DOUBLE, none, none, NULL, err)))
                ncmp_error_context(err, "writing activations of '%s' at iteration %d", L->label, t);
        }
        if (!st)
            st = ncmp_export_write_rows(s, s->class_dset, H5T_NATIVE_INT, none, none, NULL, err);
        if (!st)
            st = ncmp_export_write_rows(s, s->prob_dset, H5T_NATIVE_DOUBLE, none, none, NULL, err);
    }
    return st;
}

/* ---- settings that a resumed file must share ----------------------------------------- */

/* "option=value;..." keyed by the export option that sets each value, so a
 * refused resume can name it.  --threads and --batch are not part of it:
 * results do not depend on them (docs/cnnf-semantics.md, Reproducibility). */
static ncmp_status settings_signature(export_state *s, char *buf, size_t size, const char *stimuli_sha, ncmp_error *err)
{
    (void)err;
    const ncmp_export_options *o = s->o;
    const ncmp_net *net = s->net;
    const char *reduce = o->reduce == NCMP_REDUCE_NONE      ? "none"
                         : o->reduce == NCMP_REDUCE_AVGPOOL ? "avgpool"
                                                            : "project";
    size_t used = (size_t)snprintf(
        buf, size,
        "arch=%s;width=%g;input-size=%d;classes=%d;update-layer=%s;iterations=%d;precision=%s;store=%s;"
        "reduce=%s:%d;project-seed=%llu;center-crop=%s;weights=%s;seed=%llu;stimuli=%s;layers=",
        net->arch->name, net->arch->width, net->arch->input.h, net->arch->num_classes,
        net->arch->cnnf ? ncmp_arch_layer_label(net->arch, net->arch->update_layer) : "none", o->iterations,
        o->precision == NCMP_FLOAT64 ? "double" : "float", ncmp_dtype_name(o->store), reduce, o->project_dim,
        (unsigned long long)o->project_seed, o->center_crop ? "yes" : "no",
        net->seeded ? "seeded" : net->weights_sha256, (unsigned long long)net->seed, stimuli_sha);
    for (int k = 0; k < s->n_outs && used < size; k++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", k ? "," : "", s->outs[k].label);
    return NCMP_OK;
}

/* The first setting in which two signatures differ, as "--key was A, now B"
 * (hashes shortened); false when `old` is not in this form (an older file). */
static bool settings_difference(const char *old, const char *now, char *out, size_t size)
{
    const char *p = old, *q = now;
    while (*p && *q) {
        const char *pe = strchr(p, ';'), *qe = strchr(q, ';');
        size_t pl = pe ? (size_t)(pe - p) : strlen(p), ql = qe ? (size_t)(qe - q) : strlen(q);
        const char *peq = memchr(p, '=', pl), *qeq = memchr(q, '=', ql);
        if (!peq || !qeq || peq - p != qeq - q || strncmp(p, q, (size_t)(peq - p)))
            return false;
        if (pl != ql || strncmp(p, q, pl)) {
            int klen = (int)(peq - p), alen = (int)(pl - (size_t)klen - 1), blen = (int)(ql - (size_t)klen - 1);
            bool hash = (klen == 7 && !strncmp(p, "weights", 7)) || (klen == 7 && !strncmp(p, "stimuli", 7));
            if (hash) {
                alen = alen > 12 ? 12 : alen;
                blen = blen > 12 ? 12 : blen;
            }
            snprintf(out, size, "%s%.*s was %.*s%s, now %.*s%s", hash ? "the " : "--", klen, p, alen, peq + 1,
                     hash ? "..." : "", blen, qeq + 1, hash ? "..." : "");
            if (hash)
                snprintf(out + strlen(out), size - strlen(out), " (sha256: other %s)",
                         !strncmp(p, "weights", 7) ? "weights" : "stimuli");
            return true;
        }
        p += pl + (pe ? 1 : 0);
        q += ql + (qe ? 1 : 0);
    }
    return false;
}

static ncmp_status write_root_attributes(export_state *s, const char *signature, const char *stimuli_path,
                                         const char *stimuli_sha, ncmp_error *err)
{
    const ncmp_export_options *o = s->o;
    const ncmp_net *net = s->net;
    const ncmp_arch *a = net->arch;
    char prep[256];
    ncmp_preprocess_options po = ncmp_arch_preprocess(a, o->center_crop);
    ncmp_preprocess_describe(&po, prep, sizeof prep);
    char spec_sha[NCMP_SHA256_HEX_LEN] = "";
    ncmp_sha256_file(a->source, spec_sha, NULL);
    const char *reduce = o->reduce == NCMP_REDUCE_NONE      ? "none"
                         : o->reduce == NCMP_REDUCE_AVGPOOL ? "avgpool"
                                                            : "project";
    ncmp_status st;
    if ((st = ncmp_provenance_write_h5(s->file, err)) ||
        (st = ncmp_h5_attr_set_string(s->file, "arch", a->name, err)) ||
        (st = ncmp_h5_attr_set_string(s->file, "arch_spec", a->source, err)) ||
        (st = ncmp_h5_attr_set_string(s->file, "arch_spec_sha256", spec_sha, err)) ||
        (st = ncmp_h5_attr_set_double(s->file, "width", a->width, err)) ||
        (st = ncmp_h5_attr_set_int64(s->file, "input_size", a->input.h, err)) ||
        (st = ncmp_h5_attr_set_int64(s->file, "iterations", o->iterations, err)) ||
        (st = ncmp_h5_attr_set_string(s->file, "update_layer",
                                      a->cnnf ? ncmp_arch_layer_label(a, a->update_layer) : "none", err)) ||
        (st = ncmp_h5_attr_set_double(s->file, "step", a->cnnf ? a->step : 0.0, err)) ||
        (st = ncmp_h5_attr_set_string(s->file, "precision", ncmp_dtype_name(o->precision), err)) ||
        (st = ncmp_h5_attr_set_string(s->file, "store", ncmp_dtype_name(o->store), err)) ||
        (st = ncmp_h5_attr_set_string(s->file, "preprocessing", prep, err)) ||
        (st = ncmp_h5_attr_set_string(s->file, "reduce", reduce, err)) ||
        (st = ncmp_h5_attr_set_string(s->file, "stimuli", stimuli_path, err)) ||
        (st = ncmp_h5_attr_set_string(s->file, "stimuli_kind",
                                      ncmp_stimuli_kind_name(ncmp_stimuli_get_kind(s->stimuli)), err)) ||
        (st = ncmp_h5_attr_set_string(s->file, "stimuli_sha256", stimuli_sha, err)) ||
        (st = ncmp_h5_attr_set_string(s->file, "export_settings", signature, err)) ||
        (st = ncmp_h5_attr_set_int64(s->file, "n_done", 0, err)))
        return st;
    if (o->reduce == NCMP_REDUCE_PROJECT &&
        ((st = ncmp_h5_attr_set_int64(s->file, "project_dim", o->project_dim, err)) ||
         (st = ncmp_h5_attr_set_int64(s->file, "project_seed", (long long)o->project_seed, err)) ||
         (st = ncmp_h5_attr_set_string(s->file, "project_method",
                                       "y = R x / sqrt(K); row k of R for layer index l: K normals from "
                                       "ncmp_rng_seed_stream(seed, l << 32 | k)",
                                       err))))
        return st;
    if (net->seeded)
        return ncmp_h5_attr_set_int64(s->file, "weights_seed", (long long)net->seed, err);
    if ((st = ncmp_h5_attr_set_string(s->file, "weights", net->weights_path, err)))
        return st;
    return ncmp_h5_attr_set_string(s->file, "weights_sha256", net->weights_sha256, err);
}

/* ---- routing checks on the first batch ------------------------------------------------ */

/* A float32 run's divergence above this (relative to the layer's largest
 * value) at any iteration: routing choices differ, and a warning says so. */
#define PRECISION_WARN 1e-3

/* The float-vs-double check covers at least this many stimuli (in batches):
 * divergent stimuli are often a minority (14 of 96 V4 images in
 * docs/cnnf-semantics.md), and one batch of 8 can miss them all. */
#define PRECISION_CHECK_STIMULI 32

typedef enum first_batch_check { CHECK_ULP, CHECK_PRECISION } first_batch_check;

/* Stimuli [0, n) preprocessed into one float32 tensor. */
static ncmp_status load_first(export_state *s, size_t n, ncmp_tensor *input, ncmp_error *err)
{
    const ncmp_export_options *o = s->o;
    const ncmp_arch *a = s->net->arch;
    const size_t per = ncmp_shape_size(a->input);
    size_t shape[4] = {n, (size_t)a->input.c, (size_t)a->input.h, (size_t)a->input.w};
    ncmp_status st = ncmp_tensor_alloc(input, NCMP_FLOAT32, 4, shape, err);
    if (st)
        return st;
    ncmp_preprocess_options po = ncmp_arch_preprocess(a, o->center_crop);
    for (size_t b = 0; b < n && !st; b++) {
        ncmp_image img;
        if (!(st = ncmp_stimuli_load(s->stimuli, b, &img, err))) {
            st = ncmp_preprocess_image(&img, &po, (float *)input->data + b * per, err);
            ncmp_image_release(&img);
        }
    }
    if (st)
        ncmp_tensor_release(input);
    return st;
}

static ncmp_status check_first_batch(export_state *s, first_batch_check kind, ncmp_error *err)
{
    const ncmp_export_options *o = s->o;
    const size_t N = ncmp_stimuli_count(s->stimuli);
    const size_t want = kind == CHECK_ULP ? o->batch : PRECISION_CHECK_STIMULI;
    const size_t n = N < want ? N : want;
    ncmp_stability *rep = NULL;
    ncmp_tensor input;
    ncmp_status st = load_first(s, n, &input, err);
    if (st)
        return st;
    if (kind == CHECK_ULP) {
        st = ncmp_stability_check(s->net, &input, o->iterations, o->layers, o->n_layers, &rep, err);
    } else {
        ncmp_log_info("float arithmetic: running the first %zu stimuli in double as well, to compare "
                      "(--no-precision-check skips this)",
                      n);
        st = ncmp_precision_check(s->net, &input, o->batch, o->iterations, o->layers, o->n_layers, &rep, err);
    }
    ncmp_tensor_release(&input);
    if (st)
        return st;
    const char *name = kind == CHECK_ULP ? "diagnostics/stability_divergence" : "diagnostics/precision_divergence";
    hsize_t dims[2] = {(hsize_t)o->iterations + 1, (hsize_t)o->n_layers};
    st = ncmp_h5_write_array(s->file, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dims, rep->divergence, err);
    if (!st) {
        hid_t d = H5Dopen2(s->file, name, H5P_DEFAULT), dim = H5I_INVALID_HID;
        if (!(st = attach_scales(s, d, 1, err)) &&
            !(st = make_plain_dimension(
                  s->file, kind == CHECK_ULP ? "diagnostics/stability_layer" : "diagnostics/precision_layer", dims[1],
                  &dim, err))) {
            st = ncmp_h5_attach_scale(d, dim, 1, err);
            H5Dclose(dim);
        }
        char names[4096] = "";
        size_t used = 0;
        for (int k = 0; k < o->n_layers && used < sizeof names - 80; k++)
            used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", k ? "," : "", s->outs[k].label);
        if (!st)
            st = ncmp_h5_attr_set_string(d, "layers", names, err);
        if (!st)
            st = ncmp_h5_attr_set_string(
                d, "description",
                kind == CHECK_ULP ? "float32, first batch: max |a - b| / max |a| between the stimuli and the "
                                    "same moved by one ulp, per iteration and layer"
                                  : "first 32 stimuli (or all, if fewer): max |a - b| / max |a| between double (a) "
                                    "and float (b) arithmetic, per iteration and layer; above 1e-3, routing choices "
                                    "differ",
                err);
        H5Dclose(d);
    }
    double worst = 0;
    int worst_t = 0, worst_k = 0;
    for (int t = 0; t <= o->iterations; t++)
        for (int k = 0; k < o->n_layers; k++)
            if (rep->divergence[t * o->n_layers + k] > worst) {
                worst = rep->divergence[t * o->n_layers + k];
                worst_t = t;
                worst_k = k;
            }
    bool warn = kind == CHECK_PRECISION && !(worst <= PRECISION_WARN);
    if (kind == CHECK_ULP)
        ncmp_log_info("routing stability (first %zu stimuli, float32, one-ulp perturbation): max |a-b|/max|a|", n);
    else if (warn)
        ncmp_log_warn("float arithmetic diverges from double on the first %zu stimuli: max |a-b|/max|a| = %.2g at "
                      "'%s', iteration %d (above %g: feedback routing differs); the values below are stored in "
                      "/diagnostics/precision_divergence; --precision double gives iterates that do not hinge on "
                      "float32 rounding",
                      n, worst, s->outs[worst_k].label, worst_t, PRECISION_WARN);
    else
        ncmp_log_info("float vs double arithmetic on the first %zu stimuli: max |a-b|/max|a| = %.2g (at most %g)", n,
                      worst, PRECISION_WARN);
    for (int k = 0; k < o->n_layers && (kind == CHECK_ULP || warn); k++) {
        char line[1024];
        size_t used = (size_t)snprintf(line, sizeof line, "  %-10s", s->outs[k].label);
        for (int t = 0; t <= o->iterations && used < sizeof line - 32; t++)
            used += (size_t)snprintf(line + used, sizeof line - used, "  t=%d %.1e", t,
                                     rep->divergence[t * o->n_layers + k]);
        if (warn)
            ncmp_log_warn("%s", line);
        else
            ncmp_log_info("%s", line);
    }
    ncmp_stability_free(rep);
    return st;
}

/* ---- the run --------------------------------------------------------------------------- */

void ncmp_export_close_datasets(export_state *s)
{
    for (int k = 0; k < s->n_outs; k++) {
        layer_out *L = &s->outs[k];
        if (L->dset > 0)
            H5Dclose(L->dset);
        if (L->change_dset > 0)
            H5Dclose(L->change_dset);
        L->dset = L->change_dset = H5I_INVALID_HID;
    }
    if (s->class_dset > 0)
        H5Dclose(s->class_dset);
    if (s->prob_dset > 0)
        H5Dclose(s->prob_dset);
    if (s->ties_dset > 0)
        H5Dclose(s->ties_dset);
    s->class_dset = s->prob_dset = s->ties_dset = H5I_INVALID_HID;
}

void ncmp_export_state_free(export_state *s)
{
    ncmp_export_close_datasets(s);
    for (int k = 0; k < s->n_outs; k++) {
        layer_out *L = &s->outs[k];
        free(L->prev);
        free(L->projection);
        free(L->reduced);
        free(L->row);
        free(L->store32);
    }
    free(s->outs);
    free(s->routing);
    free(s->ties);
    free(s->act64);
    free(s->change);
    free(s->cls);
    free(s->prob);
    memset(s, 0, sizeof *s);
}

ncmp_status ncmp_export_state_init(export_state *s, const ncmp_net *net, ncmp_stimulus_set *stimuli,
                                   const ncmp_export_options *o, ncmp_error *err)
{
    const ncmp_arch *a = net->arch;
    memset(s, 0, sizeof *s);
    if (o->batch < 1)
        return ncmp_fail(err, NCMP_ERR_USAGE, "--batch must be at least 1");
    if (o->n_layers < 1)
        return ncmp_fail(err, NCMP_ERR_USAGE, "no layers to export");
    if (o->iterations > 0 && !a->cnnf)
        return ncmp_fail(err, NCMP_ERR_USAGE, "%s is feed-forward: only --iterations 0 applies", a->name);
    s->net = net;
    s->o = o;
    s->stimuli = stimuli;
    s->file = H5I_INVALID_HID;
    s->transfer = H5P_DEFAULT;
    s->n_outs = o->n_layers;
    s->outs = calloc((size_t)o->n_layers, sizeof *s->outs);
    s->routing = calloc((size_t)a->n_layers, sizeof(int));
    if (!s->outs || !s->routing) {
        ncmp_export_state_free(s);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    }
    size_t max_features = 0;
    for (int k = 0; k < o->n_layers; k++) {
        layer_out *L = &s->outs[k];
        L->layer = o->layers[k];
        L->label = ncmp_arch_layer_label(a, L->layer);
        for (int j = 0; j < k; j++)
            if (s->outs[j].layer == L->layer) {
                char label[256];
                snprintf(label, sizeof label, "%s", L->label);
                ncmp_export_state_free(s);
                return ncmp_fail(err, NCMP_ERR_USAGE, "layer '%s' is requested twice", label);
            }
        const ncmp_shape sh = a->layers[L->layer].out;
        if (o->reduce == NCMP_REDUCE_NONE && !sh.flat) {
            L->rank = 3;
            L->dims[0] = (hsize_t)sh.c, L->dims[1] = (hsize_t)sh.h, L->dims[2] = (hsize_t)sh.w;
        } else {
            L->rank = 1;
            L->dims[0] = o->reduce == NCMP_REDUCE_PROJECT   ? (hsize_t)o->project_dim
                         : o->reduce == NCMP_REDUCE_AVGPOOL ? (hsize_t)sh.c
                                                            : (hsize_t)ncmp_shape_size(sh);
            L->dims[1] = L->dims[2] = 1;
        }
        L->features = (size_t)(L->dims[0] * L->dims[1] * L->dims[2]);
        size_t fin = ncmp_shape_size(sh);
        if (fin > max_features)
            max_features = fin;
        L->prev = calloc(o->batch * fin, sizeof(double));
        L->reduced = malloc(sizeof(double) * o->batch * L->features);
        if (o->reduce == NCMP_REDUCE_PROJECT)
            L->row = malloc(sizeof(float) * fin);
        bool rounds = o->store == NCMP_FLOAT32 && (o->precision == NCMP_FLOAT64 || o->reduce != NCMP_REDUCE_NONE);
        if (rounds)
            L->store32 = malloc(sizeof(float) * o->batch * L->features);
        if (!L->prev || !L->reduced || (o->reduce == NCMP_REDUCE_PROJECT && !L->row) || (rounds && !L->store32)) {
            char label[256];
            snprintf(label, sizeof label, "%s", L->label);
            ncmp_export_state_free(s);
            return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory for layer '%s' at batch %zu", label, o->batch);
        }
        /* Cache R when it is at most 64 M values (256 MB); otherwise rows are regenerated per stimulus. */
        if (o->reduce == NCMP_REDUCE_PROJECT && (double)o->project_dim * (double)fin <= 64e6) {
            L->projection = malloc(sizeof(float) * (size_t)o->project_dim * fin);
            if (L->projection)
                for (int r = 0; r < o->project_dim; r++)
                    projection_row(o->project_seed, L->layer, r, fin, L->projection + (size_t)r * fin);
        }
    }
    s->act64 = malloc(sizeof(double) * (max_features ? max_features : 1));
    s->change = malloc(sizeof(double) * o->batch);
    s->cls = malloc(sizeof(int) * o->batch);
    s->prob = malloc(sizeof(double) * o->batch);
    for (int i = 0; i < a->n_layers; i++)
        if (a->layers[i].type == NCMP_LAYER_ADAPOOL || a->layers[i].type == NCMP_LAYER_ADARELU)
            s->routing[s->n_routing++] = i;
    s->ties = calloc((size_t)(o->iterations + 1) * (size_t)(s->n_routing ? s->n_routing : 1), sizeof(long long));
    if (!s->act64 || !s->ties || !s->change || !s->cls || !s->prob) {
        ncmp_export_state_free(s);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    }
    return NCMP_OK;
}

ncmp_status ncmp_export_output_fail(ncmp_h5_output *out, ncmp_status st, ncmp_error *err)
{
    char partial[4200];
    snprintf(partial, sizeof partial, "%s", out->partial_path ? out->partial_path : "");
    /* Keep what was written for --resume, unless nothing useful exists yet. */
    ncmp_h5_output_abort(out, st == NCMP_ERR_INTERRUPTED || st == NCMP_ERR_IO);
    /* A write that failed (disk full) can leave the file unopenable: then it is of no use to --resume. */
    if (st == NCMP_ERR_IO && partial[0] && ncmp_file_exists(partial)) {
        hid_t f = H5Fopen(partial, H5F_ACC_RDONLY, H5P_DEFAULT);
        size_t used = err ? strlen(err->message) : 0;
        if (f < 0) {
            H5Eclear2(H5E_DEFAULT);
            unlink(partial);
            if (err)
                snprintf(err->message + used, sizeof err->message - used, "; it was left unreadable and is removed");
        } else {
            H5Fclose(f);
            if (err)
                snprintf(err->message + used, sizeof err->message - used,
                         "; it is kept: free some space and rerun with --resume");
        }
    }
    return st;
}

ncmp_status ncmp_export_open_output(export_state *s, ncmp_h5_output *out, size_t *done, ncmp_error *err)
{
    NCMP_H5_QUIET_SCOPE;
    const ncmp_export_options *o = s->o;
    const ncmp_arch *a = s->net->arch;
    const size_t N = ncmp_stimuli_count(s->stimuli);
    memset(out, 0, sizeof *out);
    out->file = H5I_INVALID_HID;
    *done = 0;
    /* Identify the inputs: a resumed file must have been made from the same ones. */
    char stimuli_sha[NCMP_SHA256_HEX_LEN];
    ncmp_status st = ncmp_stimuli_fingerprint(s->stimuli, stimuli_sha, err);
    if (st)
        return st;
    char signature[8192];
    settings_signature(s, signature, sizeof signature, stimuli_sha, err);

    char partial[4200];
    snprintf(partial, sizeof partial, "%s.partial", o->out_path);
    if (!o->resume && !o->force && ncmp_file_exists(partial))
        return ncmp_fail(err, NCMP_ERR_EXISTS,
                         "'%s' exists from an interrupted run: pass --resume to continue it, or --force to start over",
                         partial);
    if ((st = ncmp_h5_output_begin(out, o->out_path,
                                   (o->force ? NCMP_H5_OVERWRITE : 0) | (o->resume ? NCMP_H5_RESUME : 0), err)))
        return st;
    s->file = out->file;
    if (out->resumed) {
        char *old = NULL;
        long long n_done = 0, ranks = 1;
        if (ncmp_h5_attr_get_string(s->file, "export_settings", &old, NULL) || strcmp(old, signature) ||
            ncmp_h5_attr_get_int64(s->file, "n_done", &n_done, NULL)) {
            char what[512] = "";
            bool named = old && settings_difference(old, signature, what, sizeof what);
            free(old);
            ncmp_h5_output_abort(out, true);
            if (named)
                return ncmp_fail(err, NCMP_ERR_USAGE,
                                 "cannot resume '%s': %s; rerun the original command with --resume (--threads and "
                                 "--batch may differ), or use --force to start over",
                                 partial, what);
            return ncmp_fail(err, NCMP_ERR_USAGE,
                             "cannot resume '%s': it was made with other settings, weights or stimuli (or by an "
                             "older neurocmp); rerun the original command with --resume, or use --force to start over",
                             partial);
        }
        free(old);
        /* Each rank of an MPI run resumes its own share, so the rank count must be the same.  (One process's
         * partial file has chunks allocated only where it wrote; parallel HDF5 cannot allocate the rest.) */
        if (ncmp_h5_attr_exists(s->file, NCMP_EXPORT_ATTR_RANKS) &&
            ncmp_h5_attr_get_int64(s->file, NCMP_EXPORT_ATTR_RANKS, &ranks, NULL))
            ranks = -1;
        if (ranks != ncmp_dist_size()) {
            ncmp_h5_output_abort(out, true);
            if (ranks == 1)
                return ncmp_fail(err, NCMP_ERR_USAGE,
                                 "cannot resume '%s' on %d MPI ranks: it was started by one process; resume it "
                                 "with the same command without mpirun, or use --force to start over",
                                 partial, ncmp_dist_size());
            return ncmp_fail(err, NCMP_ERR_USAGE,
                             "cannot resume '%s': it was started on %lld MPI ranks and this run has %d; resume it "
                             "with 'mpirun -np %lld' and the same command, or use --force to start over",
                             partial, ranks, ncmp_dist_size(), ranks);
        }
        if (n_done < 0 || (unsigned long long)n_done > (unsigned long long)N) {
            ncmp_h5_output_abort(out, true);
            return ncmp_fail(err, NCMP_ERR_FORMAT,
                             "cannot resume '%s': it says %lld stimuli are done, but there are %zu; the file is "
                             "damaged (delete it, or use --force to start over)",
                             partial, n_done, N);
        }
        *done = (size_t)n_done;
        ncmp_log_info("resuming %s: %zu of %zu stimuli already exported", o->out_path, *done, N);
    } else if ((st = write_root_attributes(s, signature, ncmp_stimuli_source(s->stimuli, 0), stimuli_sha, err))) {
        return ncmp_export_output_fail(out, st, err);
    }
    if ((st = create_layout(s, !out->resumed, err)))
        return ncmp_export_output_fail(out, st, err);
    if (o->check_stability && !out->resumed && (st = check_first_batch(s, CHECK_ULP, err)))
        return ncmp_export_output_fail(out, st, err);
    if (o->precision == NCMP_FLOAT32 && o->iterations >= 1 && a->cnnf && !o->skip_precision_check && !out->resumed &&
        (st = check_first_batch(s, CHECK_PRECISION, err)))
        return ncmp_export_output_fail(out, st, err);
    return NCMP_OK;
}

ncmp_status ncmp_export_engine_create(const export_state *s, ncmp_cnnf **engine, ncmp_error *err)
{
    const ncmp_export_options *o = s->o;
    int *keep = malloc(sizeof(int) * (size_t)o->n_layers);
    if (!keep)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    for (int k = 0; k < o->n_layers; k++)
        keep[k] = o->layers[k];
    ncmp_cnnf_options eo = {o->precision, o->batch, keep, o->n_layers, false};
    ncmp_status st = ncmp_cnnf_create(s->net, &eo, engine, err);
    free(keep);
    if (st)
        return st;
    ncmp_log_info("engine: %.2f GB of buffers for batches of %zu (%s); weights %.2f GB",
                  ncmp_cnnf_memory_bytes(*engine) / 1e9, o->batch, ncmp_dtype_name(o->precision),
                  (double)ncmp_net_param_count(s->net) * 4 / 1e9);
    return NCMP_OK;
}

ncmp_status ncmp_export_load_batch(export_state *s, const ncmp_preprocess_options *po, ncmp_tensor *input, size_t start,
                                   size_t n, ncmp_error *err)
{
    const size_t per = ncmp_shape_size(s->net->arch->input);
    ncmp_status st = NCMP_OK;
    for (size_t b = 0; b < n && !st; b++) {
        ncmp_image img;
        st = ncmp_stimuli_load(s->stimuli, start + b, &img, err);
        if (!st) {
            st = ncmp_preprocess_image(&img, po, (float *)input->data + b * per, err);
            if (st)
                ncmp_error_context(err, "stimulus '%s' (%s)", ncmp_stimuli_id(s->stimuli, start + b),
                                   ncmp_stimuli_source(s->stimuli, start + b));
            ncmp_image_release(&img);
        }
    }
    return st;
}

ncmp_status ncmp_export_run(const ncmp_net *net, ncmp_stimulus_set *stimuli, const ncmp_export_options *o,
                            ncmp_error *err)
{
    NCMP_H5_QUIET_SCOPE;
    const ncmp_arch *a = net->arch;
    const size_t N = ncmp_stimuli_count(stimuli);
    export_state s;
    ncmp_status st = ncmp_export_state_init(&s, net, stimuli, o, err);
    if (ncmp_dist_parallel()) {
        /* Several ranks (mpirun -np P): model/export_dist.c. */
        if (!(st = ncmp_dist_agree(st, err)))
            st = ncmp_export_run_ranks(&s, err);
        ncmp_export_state_free(&s);
        return st;
    }
    if (st)
        return st;
    ncmp_h5_output out;
    size_t done = 0;
    if ((st = ncmp_export_open_output(&s, &out, &done, err))) {
        ncmp_export_state_free(&s);
        return st;
    }
    char partial[4200];
    snprintf(partial, sizeof partial, "%s.partial", o->out_path);
    {
        ncmp_cnnf *engine = NULL;
        if ((st = ncmp_export_engine_create(&s, &engine, err)))
            goto fail;
        ncmp_preprocess_options po = ncmp_arch_preprocess(a, o->center_crop);
        size_t shape[4] = {o->batch, (size_t)a->input.c, (size_t)a->input.h, (size_t)a->input.w};
        ncmp_tensor input;
        if ((st = ncmp_tensor_alloc(&input, NCMP_FLOAT32, 4, shape, err))) {
            ncmp_cnnf_free(engine);
            goto fail;
        }
        /* this run's images only: after a resume the rate and the final count leave out the earlier run's */
        ncmp_progress *bar = ncmp_progress_start(done ? "export (resumed)" : "export", N - done, "images");
        for (size_t start = done; start < N && !st; start += o->batch) {
            size_t n = N - start < o->batch ? N - start : o->batch;
            if ((st = ncmp_export_load_batch(&s, &po, &input, start, n, err)))
                break;
            ncmp_tensor batch;
            ncmp_tensor_view_slice(&input, 0, 0, n, &batch, NULL);
            s.start = start;
            if ((st = ncmp_cnnf_run(engine, &batch, o->iterations, ncmp_export_observe, &s, err)))
                break;
            hsize_t T1 = (hsize_t)o->iterations + 1, td[2] = {T1, (hsize_t)(s.n_routing ? s.n_routing : 1)},
                    z[2] = {0, 0};
            /* Data first, then the count that says it is there, with the near-tie
             * sums that include this batch (a resume reads both back). */
            if (H5Fflush(s.file, H5F_SCOPE_GLOBAL) < 0 ||
                ncmp_h5_write_block(s.ties_dset, H5T_NATIVE_LLONG, z, td, s.ties, err) ||
                ncmp_h5_attr_set_int64(s.file, "n_done", (long long)(start + n), err) ||
                H5Fflush(s.file, H5F_SCOPE_GLOBAL) < 0) {
                st = ncmp_h5_fail(err, NCMP_ERR_IO, "cannot write '%s' (disk full?)", partial);
                break;
            }
            ncmp_progress_update(bar, start + n - done);
            if (ncmp_export_interrupted && start + n < N) {
                st = ncmp_fail(err, NCMP_ERR_INTERRUPTED,
                               "interrupted after %zu of %zu stimuli; '%s' is kept: rerun with --resume to continue",
                               start + n, N, partial);
                break;
            }
        }
        if (st)
            ncmp_progress_abandon(bar);
        else
            ncmp_progress_finish(bar);
        ncmp_tensor_release(&input);
        ncmp_cnnf_free(engine);
    }
    if (st)
        goto fail;
    ncmp_export_state_free(&s);
    return ncmp_h5_output_commit(&out, err);
fail:
    ncmp_export_state_free(&s);
    return ncmp_export_output_fail(&out, st, err);
}
