/* Network parameters: allocation, PyTorch-layout HDF5 weights I/O, seeded init. */
#include "model/net.h"
#include "core/h5.h"
#include "core/paths.h"
#include "core/provenance.h"
#include "core/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t ncmp_net_weight_size(const ncmp_net *net, int i)
{
    const ncmp_layer_desc *L = &net->arch->layers[i];
    if (L->type == NCMP_LAYER_CONV)
        return (size_t)L->out.c * (size_t)L->in.c * (size_t)L->kernel * (size_t)L->kernel;
    if (L->type == NCMP_LAYER_LINEAR)
        return (size_t)L->out.c * (size_t)L->in.c;
    return 0;
}

size_t ncmp_net_bias_size(const ncmp_net *net, int i)
{
    const ncmp_layer_desc *L = &net->arch->layers[i];
    if (!L->bias_key[0])
        return 0;
    return (size_t)L->out.c;
}

size_t ncmp_net_param_count(const ncmp_net *net)
{
    size_t n = 0;
    for (int i = 0; i < net->arch->n_layers; i++)
        n += ncmp_net_weight_size(net, i) + ncmp_net_bias_size(net, i);
    return n;
}

void ncmp_net_free(ncmp_net *net)
{
    if (!net)
        return;
    for (int i = 0; net->arch && i < net->arch->n_layers; i++) {
        free(net->weight ? net->weight[i] : NULL);
        free(net->bias ? net->bias[i] : NULL);
    }
    free(net->weight);
    free(net->bias);
    ncmp_arch_free(net->arch);
    free(net);
}

ncmp_status ncmp_net_create(ncmp_arch *arch, ncmp_net **out, ncmp_error *err)
{
    *out = NULL;
    ncmp_net *net = calloc(1, sizeof *net);
    if (!net) {
        ncmp_arch_free(arch);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    }
    net->arch = arch;
    int n = arch->n_layers;
    net->weight = calloc((size_t)n, sizeof *net->weight);
    net->bias = calloc((size_t)n, sizeof *net->bias);
    if (!net->weight || !net->bias)
        goto oom;
    for (int i = 0; i < n; i++) {
        size_t w = ncmp_net_weight_size(net, i), b = ncmp_net_bias_size(net, i);
        if (w && !(net->weight[i] = calloc(w, sizeof(float))))
            goto oom;
        if (b && !(net->bias[i] = calloc(b, sizeof(float))))
            goto oom;
    }
    *out = net;
    return NCMP_OK;
oom:
    ncmp_net_free(net);
    return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory for the parameters of %s", arch->name);
}

/* ---- weights file ------------------------------------------------------------ */

typedef struct wanted {
    const char *key;
    void *dest; /* float or double, as the reader was asked */
    size_t count;
    int layer;
    bool is_bias;
    bool found;
} wanted;

typedef struct listing {
    char **names;
    size_t n, cap;
} listing;

static herr_t collect_cb(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    (void)info;
    listing *l = data;
    H5O_type_t type = H5O_TYPE_UNKNOWN;
    hid_t o = H5Oopen(g, name, H5P_DEFAULT);
    if (o >= 0) {
        type = H5Iget_type(o) == H5I_DATASET ? H5O_TYPE_DATASET : H5O_TYPE_GROUP;
        H5Oclose(o);
    }
    if (type != H5O_TYPE_DATASET)
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        char **grown = realloc(l->names, cap * sizeof *grown);
        if (!grown)
            return -1;
        l->names = grown;
        l->cap = cap;
    }
    size_t len = strlen(name) + 1;
    l->names[l->n] = malloc(len);
    if (!l->names[l->n])
        return -1;
    memcpy(l->names[l->n++], name, len);
    return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* Keys a CNN-F reference state_dict holds beside the canonical ones. */
static bool is_ignorable_alias(const char *key, const wanted *w, size_t n_wanted)
{
    if (ends_with(key, ".conv_t.weight") || ends_with(key, ".linear_t.weight"))
        return true;
    if (ends_with(key, ".weight")) {
        char canon[NCMP_KEY_MAX + 16];
        snprintf(canon, sizeof canon, "%.*s.linear.weight", (int)(strlen(key) - 7), key);
        for (size_t i = 0; i < n_wanted; i++)
            if (!strcmp(w[i].key, canon))
                return true;
    }
    return false;
}

static void describe_shape(const hsize_t *dims, int rank, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < rank && used < size; d++)
        used += (size_t)snprintf(buf + used, size - used, d ? ", %llu" : "%llu", (unsigned long long)dims[d]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
}

/* The group where training checkpoints keep their optimiser state and history
 * (model/train/checkpoint.h): not tensors of the network. */
#define TRAINING_GROUP "training"

static ncmp_status check_shape(const ncmp_net *net, const wanted *w, const hsize_t *dims, int rank, const char *path,
                               ncmp_error *err)
{
    const ncmp_layer_desc *L = &net->arch->layers[w->layer];
    hsize_t want[4];
    int want_rank;
    char got_text[96], want_text[96];
    describe_shape(dims, rank, got_text, sizeof got_text);
    if (w->is_bias) {
        /* Biases: any shape holding C values with all other axes 1 ([C], [1,C,1,1], [1,C]). */
        size_t numel = 1, non_one = 0;
        for (int d = 0; d < rank; d++) {
            numel *= dims[d];
            non_one += dims[d] != 1;
        }
        if (numel == w->count && non_one <= 1)
            return NCMP_OK;
        return ncmp_fail(err, NCMP_ERR_SHAPE,
                         "weights file '%s': tensor '%s' has shape %s, but %s layer '%s' needs %zu values ([%zu])",
                         path, w->key, got_text, net->arch->name, L->name, w->count, w->count);
    }
    if (L->type == NCMP_LAYER_CONV) {
        want_rank = 4;
        want[0] = (hsize_t)L->out.c;
        want[1] = (hsize_t)L->in.c;
        want[2] = want[3] = (hsize_t)L->kernel;
    } else {
        want_rank = 2;
        want[0] = (hsize_t)L->out.c;
        want[1] = (hsize_t)L->in.c;
    }
    bool same = rank == want_rank;
    for (int d = 0; same && d < rank; d++)
        same = dims[d] == want[d];
    if (same)
        return NCMP_OK;
    describe_shape(want, want_rank, want_text, sizeof want_text);
    return ncmp_fail(err, NCMP_ERR_SHAPE,
                     "weights file '%s': tensor '%s' has shape %s, but layer '%s' of %s (width %g, input %dx%d) "
                     "needs %s",
                     path, w->key, got_text, L->name, net->arch->name, net->arch->width, net->arch->input.h,
                     net->arch->input.w, want_text);
}

ncmp_status ncmp_weights_read(const ncmp_arch *a, const char *path, ncmp_dtype dtype, void **weight, void **bias,
                              ncmp_error *err)
{
    NCMP_H5_QUIET_SCOPE;
    const bool f64 = dtype == NCMP_FLOAT64;
    /* check_shape only reads the architecture */
    const ncmp_net shape_view = {.arch = (ncmp_arch *)a};
    const ncmp_net *net = &shape_view;
    hid_t f;
    ncmp_status st = ncmp_h5_open_read(path, false, &f, err);
    if (st)
        return st;
    wanted *w = calloc((size_t)(2 * a->n_layers), sizeof *w);
    listing keys = {0};
    if (!w) {
        H5Fclose(f);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    }
    size_t n_wanted = 0;
    for (int i = 0; i < a->n_layers; i++) {
        if (a->layers[i].weight_key[0])
            w[n_wanted++] = (wanted){a->layers[i].weight_key, weight[i], ncmp_net_weight_size(net, i), i, false, false};
        if (a->layers[i].bias_key[0])
            w[n_wanted++] = (wanted){a->layers[i].bias_key, bias[i], ncmp_net_bias_size(net, i), i, true, false};
    }
    if (H5Lvisit(f, H5_INDEX_NAME, H5_ITER_INC, collect_cb, &keys) < 0) {
        st = ncmp_h5_fail(err, NCMP_ERR_FORMAT, "cannot list the tensors of weights file '%s'", path);
        goto done;
    }
    /* Extra tensors first: they say most clearly "this is another network". */
    for (size_t k = 0; k < keys.n; k++) {
        bool used = !strncmp(keys.names[k], TRAINING_GROUP "/", sizeof TRAINING_GROUP);
        for (size_t i = 0; i < n_wanted && !used; i++)
            used = !strcmp(keys.names[k], w[i].key);
        if (!used && !is_ignorable_alias(keys.names[k], w, n_wanted)) {
            char *file_arch = NULL;
            ncmp_h5_attr_get_string(f, "arch", &file_arch, NULL);
            st = ncmp_fail(err, NCMP_ERR_FORMAT,
                           "weights file '%s' has tensor '%s', which %s does not use (the file says arch '%s'; "
                           "are these weights for another architecture?)",
                           path, keys.names[k], a->name, file_arch ? file_arch : "unknown");
            free(file_arch);
            goto done;
        }
    }
    for (size_t i = 0; i < n_wanted; i++) {
        hsize_t dims[NCMP_H5_MAX_RANK];
        int rank = 0;
        ncmp_error probe;
        if (ncmp_h5_dataset_shape(f, w[i].key, &rank, dims, &probe) != NCMP_OK) {
            size_t missing = 0;
            for (size_t j = i; j < n_wanted; j++)
                missing += H5Lexists(f, w[j].key, H5P_DEFAULT) <= 0;
            H5Eclear2(H5E_DEFAULT);
            st = ncmp_fail(err, NCMP_ERR_NOT_FOUND, "weights file '%s' lacks tensor '%s' (layer '%s' of %s)%s", path,
                           w[i].key, a->layers[w[i].layer].name, a->name,
                           missing > 1 ? "; more tensors are missing too: are these weights for another architecture?"
                                       : "");
            goto done;
        }
        if ((st = check_shape(net, &w[i], dims, rank, path, err)))
            goto done;
        hid_t d = H5Dopen2(f, w[i].key, H5P_DEFAULT);
        hid_t type = H5Dget_type(d);
        H5T_class_t cls = H5Tget_class(type);
        H5Tclose(type);
        if (cls != H5T_FLOAT) {
            H5Dclose(d);
            st =
                ncmp_fail(err, NCMP_ERR_FORMAT, "weights file '%s': tensor '%s' is not floating point", path, w[i].key);
            goto done;
        }
        herr_t r = H5Dread(d, f64 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, w[i].dest);
        H5Dclose(d);
        if (r < 0) {
            st = ncmp_h5_fail(err, NCMP_ERR_FORMAT, "weights file '%s': cannot read tensor '%s'", path, w[i].key);
            goto done;
        }
        for (size_t e = 0; e < w[i].count; e++) {
            double v = f64 ? ((const double *)w[i].dest)[e] : ((const float *)w[i].dest)[e];
            if (!isfinite(v)) {
                st = ncmp_fail(err, NCMP_ERR_VALUE, "weights file '%s': tensor '%s' holds %s at flat index %zu", path,
                               w[i].key, isnan(v) ? "NaN" : "Inf", e);
                goto done;
            }
        }
    }
done:
    for (size_t k = 0; k < keys.n; k++)
        free(keys.names[k]);
    free(keys.names);
    free(w);
    H5Fclose(f);
    return st;
}

ncmp_status ncmp_net_load_weights(ncmp_net *net, const char *path, ncmp_error *err)
{
    ncmp_status st = ncmp_weights_read(net->arch, path, NCMP_FLOAT32, (void **)net->weight, (void **)net->bias, err);
    if (st)
        return st;
    snprintf(net->weights_path, sizeof net->weights_path, "%s", path);
    if ((st = ncmp_sha256_file(path, net->weights_sha256, err)))
        return st;
    net->seeded = 0;
    return NCMP_OK;
}

ncmp_status ncmp_net_open_weights(const char *weights, ncmp_net **out, ncmp_error *err)
{
    *out = NULL;
    char resolved[4096], arch_name[256];
    const char *path = ncmp_weights_resolve(weights, resolved, sizeof resolved);
    if (!ncmp_file_exists(path))
        return ncmp_fail(err, NCMP_ERR_NOT_FOUND, "weights '%s' not found (neither a file nor a set in model/weights/)",
                         weights);
    if (!ncmp_arch_name_from_weights(path, arch_name, sizeof arch_name))
        return ncmp_fail(err, NCMP_ERR_VALUE,
                         "'%s' does not record its architecture (attribute 'arch'); give the architecture explicitly",
                         path);
    ncmp_arch_options ao = {0};
    ncmp_arch_options_from_weights(&ao, path);
    ncmp_arch *a;
    ncmp_net *net;
    ncmp_status st;
    if ((st = ncmp_arch_load(arch_name, &ao, &a, err)) || (st = ncmp_net_create(a, &net, err)))
        return st;
    if ((st = ncmp_net_load_weights(net, path, err))) {
        ncmp_net_free(net);
        return st;
    }
    *out = net;
    return NCMP_OK;
}

void ncmp_weights_init_seeded(const ncmp_arch *a, uint64_t seed, float **weight, float **bias)
{
    const ncmp_net shape_view = {.arch = (ncmp_arch *)a};
    for (int i = 0; i < a->n_layers; i++) {
        const ncmp_layer_desc *L = &a->layers[i];
        ncmp_rng rng;
        ncmp_rng_seed_stream(&rng, seed, (uint64_t)i);
        size_t nw = ncmp_net_weight_size(&shape_view, i);
        if (L->type == NCMP_LAYER_CONV) {
            double std = sqrt(2.0 / ((double)L->kernel * L->kernel * L->out.c));
            ncmp_rng_fill_normal_f32(&rng, weight[i], nw, 0.0, std);
        } else if (L->type == NCMP_LAYER_LINEAR) {
            double bound = 1.0 / sqrt((double)L->in.c);
            for (size_t e = 0; e < nw; e++)
                weight[i][e] = (float)((2.0 * ncmp_rng_uniform(&rng) - 1.0) * bound);
        }
        size_t nb = ncmp_net_bias_size(&shape_view, i);
        if (nb)
            memset(bias[i], 0, nb * sizeof(float));
    }
}

ncmp_status ncmp_net_init_seeded(ncmp_net *net, uint64_t seed, ncmp_error *err)
{
    (void)err;
    ncmp_weights_init_seeded(net->arch, seed, net->weight, net->bias);
    net->weights_path[0] = '\0';
    net->weights_sha256[0] = '\0';
    net->seed = seed;
    net->seeded = 1;
    return NCMP_OK;
}

const char *ncmp_weights_resolve(const char *name, char *buf, size_t size)
{
    if (!name || ncmp_file_exists(name) || strchr(name, '/') || ends_with(name, ".h5"))
        return name;
    char rel[512];
    snprintf(rel, sizeof rel, "model/weights/%s.h5", name);
    return ncmp_data_path(rel, buf, size, NULL) == NCMP_OK ? buf : name;
}

const char *ncmp_arch_name_from_weights(const char *path, char *buf, size_t size)
{
    NCMP_H5_QUIET_SCOPE;
    hid_t f;
    if (!path || !size || ncmp_h5_open_read(path, false, &f, NULL))
        return NULL;
    char *name = NULL;
    const char *got = NULL;
    if (ncmp_h5_attr_exists(f, "arch") && !ncmp_h5_attr_get_string(f, "arch", &name, NULL) && name[0] &&
        strlen(name) < size) {
        memcpy(buf, name, strlen(name) + 1);
        got = buf;
    }
    free(name);
    H5Fclose(f);
    return got;
}

void ncmp_arch_options_from_weights(ncmp_arch_options *o, const char *path)
{
    NCMP_H5_QUIET_SCOPE;
    hid_t f;
    if (!path || ncmp_h5_open_read(path, false, &f, NULL))
        return;
    double width;
    long long v;
    char *update = NULL;
    if (o->width <= 0 && ncmp_h5_attr_exists(f, "width") && !ncmp_h5_attr_get_double(f, "width", &width, NULL) &&
        width > 0)
        o->width = width;
    if (o->input_size <= 0 && ncmp_h5_attr_exists(f, "input_size") &&
        !ncmp_h5_attr_get_int64(f, "input_size", &v, NULL) && v > 0 && v <= 1 << 16)
        o->input_size = (int)v;
    if (o->input_channels <= 0 && ncmp_h5_attr_exists(f, "input_channels") &&
        !ncmp_h5_attr_get_int64(f, "input_channels", &v, NULL) && (v == 1 || v == 3))
        o->input_channels = (int)v;
    if (o->num_classes <= 0 && ncmp_h5_attr_exists(f, "num_classes") &&
        !ncmp_h5_attr_get_int64(f, "num_classes", &v, NULL) && v > 0 && v <= 1 << 20)
        o->num_classes = (int)v;
    if (!o->update_layer && ncmp_h5_attr_exists(f, "update_layer") &&
        !ncmp_h5_attr_get_string(f, "update_layer", &update, NULL) && strcmp(update, "none") &&
        strlen(update) < sizeof o->update_buf) {
        snprintf(o->update_buf, sizeof o->update_buf, "%s", update);
        o->update_layer = o->update_buf;
    }
    free(update);
    H5Fclose(f);
}

int ncmp_net_tensor_dims(const ncmp_arch *a, int i, bool bias, unsigned long long dims[4])
{
    const ncmp_layer_desc *L = &a->layers[i];
    if (bias) {
        if (!L->bias_key[0])
            return 0;
        if (!L->bias_broadcast) {
            dims[0] = (unsigned long long)L->out.c;
            return 1;
        }
        dims[0] = 1;
        dims[1] = (unsigned long long)L->out.c;
        if (L->out.flat)
            return 2;
        dims[2] = dims[3] = 1;
        return 4;
    }
    if (!L->weight_key[0])
        return 0;
    dims[0] = (unsigned long long)L->out.c;
    dims[1] = (unsigned long long)L->in.c;
    if (L->type != NCMP_LAYER_CONV)
        return 2;
    dims[2] = dims[3] = (unsigned long long)L->kernel;
    return 4;
}

ncmp_status ncmp_net_save_weights(const ncmp_net *net, const char *path, ncmp_error *err)
{
    NCMP_H5_QUIET_SCOPE;
    const ncmp_arch *a = net->arch;
    ncmp_h5_output out;
    ncmp_status st = ncmp_h5_output_begin(&out, path, NCMP_H5_OVERWRITE, err);
    if (st)
        return st;
    if ((st = ncmp_provenance_write_h5(out.file, err)) ||
        (st = ncmp_h5_attr_set_string(out.file, "arch", a->name, err)) ||
        (st = ncmp_h5_attr_set_double(out.file, "width", a->width, err)) ||
        (st = ncmp_h5_attr_set_int64(out.file, "input_size", a->input.h, err)) ||
        (st = ncmp_h5_attr_set_int64(out.file, "input_channels", a->input.c, err)) ||
        (st = ncmp_h5_attr_set_int64(out.file, "num_classes", a->num_classes, err)))
        goto fail;
    if (net->seeded && (st = ncmp_h5_attr_set_int64(out.file, "seed", (long long)net->seed, err)))
        goto fail;
    for (int i = 0; i < a->n_layers; i++) {
        const ncmp_layer_desc *L = &a->layers[i];
        for (int which = 0; which < 2; which++) {
            const char *key = which ? L->bias_key : L->weight_key;
            unsigned long long d[4];
            hsize_t dims[4]; /* unsigned long long in HDF5 1.10, uint64_t from 1.12 on */
            int rank = key[0] ? ncmp_net_tensor_dims(a, i, which == 1, d) : 0;
            for (int r = 0; r < rank; r++)
                dims[r] = (hsize_t)d[r];
            if (rank && (st = ncmp_h5_write_array(out.file, key, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, rank, dims,
                                                  which ? net->bias[i] : net->weight[i], err)))
                goto fail;
        }
    }
    return ncmp_h5_output_commit(&out, err);
fail:
    ncmp_h5_output_abort(&out, false);
    return st;
}
