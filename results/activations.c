/* Activations file reader for analysis (docs/formats.md, Activations), HDF5 only. */
#include "results/activations.h"

#include "core/h5.h"
#include "core/sizes.h"
#include "core/suggest.h"

#include <cblas.h>
#include <hdf5_hl.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ncmp_activations_close(ncmp_activations *a)
{
    NCMP_H5_QUIET_SCOPE;
    if (!a)
        return;
    if (a->file >= 0)
        H5Fclose(a->file);
    ncmp_strings_free(a->stimulus_ids, a->n_stimuli);
    for (size_t i = 0; i < a->n_layers; i++)
        free(a->layers[i]);
    free(a->layers);
    free(a->iterations);
    free(a->path);
    free(a);
}

typedef struct name_list {
    char **names;
    size_t n, cap;
} name_list;

/* A layer is a dataset of rank >= 2 ([iteration, stimulus, ...]) that is not a dimension scale: the axis labels
 * an export writes next to the layers (block1_channel, the linked stimulus_id and iteration) are not layers. */
static bool is_layer(hid_t group, const char *name)
{
    H5O_info_t oi;
#if H5_VERSION_GE(1, 12, 0)
    if (H5Oget_info_by_name3(group, name, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0)
#else
    if (H5Oget_info_by_name2(group, name, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0)
#endif
        return false;
    if (oi.type != H5O_TYPE_DATASET)
        return false;
    hid_t d = H5Dopen2(group, name, H5P_DEFAULT);
    if (d < 0)
        return false;
    hid_t sp = H5Dget_space(d);
    int rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    if (sp >= 0)
        H5Sclose(sp);
    htri_t scale = H5DSis_scale(d);
    H5Dclose(d);
    return rank >= 2 && scale <= 0;
}

static herr_t collect_name(hid_t group, const char *name, const H5L_info_t *info, void *data)
{
    (void)info;
    name_list *l = data;
    if (!is_layer(group, name))
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        char **t = realloc(l->names, cap * sizeof *t);
        if (!t)
            return -1;
        l->names = t;
        l->cap = cap;
    }
    l->names[l->n] = strdup(name);
    if (!l->names[l->n])
        return -1;
    l->n++;
    return 0;
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

ncmp_status ncmp_activations_open(const char *path, ncmp_activations **out, ncmp_error *err)
{
    NCMP_H5_QUIET_SCOPE;
    *out = NULL;
    ncmp_activations *a = calloc(1, sizeof *a);
    if (!a)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    a->file = -1;
    a->path = strdup(path);
    ncmp_status st = ncmp_h5_open_read(path, true, &a->file, err);
    if (st) {
        if (st == NCMP_ERR_INCOMPLETE) /* one message, not the generic one with a prefix */
            ncmp_fail(err, NCMP_ERR_INCOMPLETE,
                      "activations file '%s' is incomplete (no root attribute complete = 1): an export was "
                      "interrupted or is still running; finish it with the same 'neurocmp export' command and --resume",
                      path);
        goto fail;
    }
    if ((st = ncmp_h5_read_strings(a->file, "stimulus_id", &a->stimulus_ids, &a->n_stimuli, err))) {
        ncmp_error_context(err, "%s", path);
        goto fail;
    }
    int rank;
    hsize_t dims[NCMP_H5_MAX_RANK];
    if ((st = ncmp_h5_dataset_shape(a->file, "iteration", &rank, dims, err))) {
        ncmp_error_context(err, "%s", path);
        goto fail;
    }
    if (rank != 1 || dims[0] == 0) {
        st = ncmp_fail(err, NCMP_ERR_FORMAT, "%s: /iteration must be a non-empty 1-D dataset", path);
        goto fail;
    }
    size_t it_bytes;
    if ((st = ncmp_size_2d(path, "/iteration", (size_t)dims[0], 1, sizeof *a->iterations, &it_bytes, err)))
        goto fail;
    a->n_iterations = dims[0];
    a->iterations = malloc(it_bytes);
    hid_t d = H5Dopen2(a->file, "iteration", H5P_DEFAULT);
    if (!a->iterations || d < 0 || H5Dread(d, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, a->iterations) < 0) {
        if (d >= 0)
            H5Dclose(d);
        st = ncmp_h5_fail(err, NCMP_ERR_FORMAT, "%s: cannot read /iteration", path);
        goto fail;
    }
    H5Dclose(d);
    if (H5Lexists(a->file, "activations", H5P_DEFAULT) <= 0) {
        st = ncmp_fail(err, NCMP_ERR_FORMAT,
                       "%s: no /activations group; not an activations file (docs/formats.md, Activations)", path);
        goto fail;
    }
    hid_t g = H5Gopen2(a->file, "activations", H5P_DEFAULT);
    name_list l = {0};
    herr_t rc = g >= 0 ? H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, collect_name, &l) : -1;
    if (g >= 0)
        H5Gclose(g);
    a->layers = l.names;
    a->n_layers = l.n;
    if (rc < 0) {
        st = ncmp_h5_fail(err, NCMP_ERR_FORMAT, "%s: cannot list /activations", path);
        goto fail;
    }
    qsort(a->layers, a->n_layers, sizeof *a->layers, cmp_str);
    *out = a;
    return NCMP_OK;
fail:
    ncmp_activations_close(a);
    return st;
}

static void list_layers(const ncmp_activations *a, char *buf, size_t size)
{
    buf[0] = 0;
    size_t len = 0;
    for (size_t i = 0; i < a->n_layers && len + 4 < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? ", " : "", a->layers[i]);
    if (!a->n_layers)
        snprintf(buf, size, "none");
}

static ncmp_status layer_shape(const ncmp_activations *a, const char *layer, int *rank, hsize_t *dims, ncmp_error *err)
{
    bool found = false;
    for (size_t i = 0; i < a->n_layers; i++)
        found |= !strcmp(a->layers[i], layer);
    if (!found) {
        char names[512];
        list_layers(a, names, sizeof names);
        const char *close = ncmp_suggest(layer, (const char *const *)a->layers, a->n_layers);
        if (close)
            return ncmp_fail(err, NCMP_ERR_NOT_FOUND, "%s: no layer '%s' (did you mean '%s'?); the file has: %s",
                             a->path, layer, close, names);
        return ncmp_fail(err, NCMP_ERR_NOT_FOUND, "%s: no layer '%s'; the file has: %s", a->path, layer, names);
    }
    char path[1024];
    snprintf(path, sizeof path, "activations/%s", layer);
    ncmp_status st = ncmp_h5_dataset_shape(a->file, path, rank, dims, err);
    if (st)
        return ncmp_error_context(err, "%s", a->path);
    if (*rank < 2 || dims[0] != a->n_iterations || dims[1] != a->n_stimuli)
        return ncmp_fail(err, NCMP_ERR_SHAPE,
                         "%s: /activations/%s has rank %d and first axes %llu x %llu; expected [%zu iterations, %zu "
                         "stimuli, ...]",
                         a->path, layer, *rank, *rank > 0 ? (unsigned long long)dims[0] : 0ULL,
                         *rank > 1 ? (unsigned long long)dims[1] : 0ULL, a->n_iterations, a->n_stimuli);
    /* features per stimulus, as doubles: checked here once for every reader below */
    size_t d[NCMP_H5_MAX_RANK], bytes;
    for (int i = 2; i < *rank; i++)
        d[i - 2] = (size_t)dims[i];
    char what[1100];
    snprintf(what, sizeof what, "/activations/%s (features per stimulus)", layer);
    return ncmp_size_product(a->path, what, d, *rank - 2, sizeof(double), &bytes, err);
}

ncmp_status ncmp_activations_layer_features(const ncmp_activations *a, const char *layer, size_t *n_features,
                                            ncmp_error *err)
{
    NCMP_H5_QUIET_SCOPE;
    int rank;
    hsize_t dims[NCMP_H5_MAX_RANK];
    ncmp_status st = layer_shape(a, layer, &rank, dims, err);
    if (st)
        return st;
    size_t f = 1;
    for (int i = 2; i < rank; i++)
        f *= (size_t)dims[i];
    *n_features = f;
    return NCMP_OK;
}

ncmp_status ncmp_activations_iteration_index(const ncmp_activations *a, long long t, size_t *index, ncmp_error *err)
{
    for (size_t i = 0; i < a->n_iterations; i++)
        if (a->iterations[i] == t) {
            *index = i;
            return NCMP_OK;
        }
    return ncmp_fail(err, NCMP_ERR_NOT_FOUND, "%s: no iteration %lld; the file has iterations %lld..%lld", a->path, t,
                     a->iterations[0], a->iterations[a->n_iterations - 1]);
}

static _Thread_local const char *const
    *match_keys; /* qsort has no context argument; thread-local keeps callers on different threads apart */
static int cmp_index(const void *x, const void *y)
{
    return strcmp(match_keys[*(const size_t *)x], match_keys[*(const size_t *)y]);
}

ncmp_status ncmp_activations_match(const ncmp_activations *a, const char *const *ids, size_t n, size_t *rows,
                                   ncmp_error *err)
{
    NCMP_H5_QUIET_SCOPE;
    size_t S = a->n_stimuli;
    size_t *order = malloc((S ? S : 1) * sizeof *order);
    if (!order)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < S; i++)
        order[i] = i;
    match_keys = (const char *const *)a->stimulus_ids;
    qsort(order, S, sizeof *order, cmp_index);
    match_keys = NULL;
    size_t missing = 0;
    char list[600] = "";
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t lo = 0, hi = S;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (strcmp(a->stimulus_ids[order[mid]], ids[i]) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < S && !strcmp(a->stimulus_ids[order[lo]], ids[i]))
            rows[i] = order[lo];
        else {
            if (missing < 10 && len + 4 < sizeof list)
                len += (size_t)snprintf(list + len, sizeof list - len, "%s'%s'", missing ? ", " : "", ids[i]);
            missing++;
        }
    }
    free(order);
    if (missing)
        return ncmp_fail(err, NCMP_ERR_NOT_FOUND,
                         "%zu of the %zu neural stimuli have no activations in %s (which has %zu stimuli): %s%s",
                         missing, n, a->path, S, list, missing > 10 ? ", ..." : "");
    return NCMP_OK;
}

/* OR into `space` the features [lo, hi) (flattened in C order) of axes axis..rank-1, the axes before them at
 * start[]: at most two partial pieces and one full block per axis, so a contiguous range of features is a handful
 * of hyperslabs whatever the layer's shape (HDF5 returns a selection's elements in C order). */
static herr_t select_features(hid_t space, int rank, const hsize_t *dims, hsize_t *start, int axis, hsize_t lo,
                              hsize_t hi)
{
    if (lo >= hi)
        return 0;
    hsize_t inner = 1;
    for (int k = axis + 1; k < rank; k++)
        inner *= dims[k];
    hsize_t a = lo / inner, b = hi / inner, lo_rest = lo % inner, hi_rest = hi % inner;
    if (a == b) {
        start[axis] = a;
        return select_features(space, rank, dims, start, axis + 1, lo_rest, hi_rest);
    }
    if (lo_rest) {
        start[axis] = a++;
        if (select_features(space, rank, dims, start, axis + 1, lo_rest, inner) < 0)
            return -1;
    }
    if (b > a) {
        hsize_t s[NCMP_H5_MAX_RANK], count[NCMP_H5_MAX_RANK];
        for (int k = 0; k < rank; k++) {
            s[k] = k < axis ? start[k] : k == axis ? a : 0;
            count[k] = k < axis ? 1 : k == axis ? b - a : dims[k];
        }
        if (H5Sselect_hyperslab(space, H5S_SELECT_OR, s, NULL, count, NULL) < 0)
            return -1;
    }
    if (hi_rest) {
        start[axis] = b;
        return select_features(space, rank, dims, start, axis + 1, 0, hi_rest);
    }
    return 0;
}

/* Rows of features [c0, c1): stimulus rows[i] at iteration its[i] (or iteration_index for every row when its is
 * NULL); out holds c1 - c0 values per row.  c1 == 0 means every feature. */
static ncmp_status read_rows(const ncmp_activations *a, const char *layer, const size_t *its, size_t iteration_index,
                             const size_t *rows, size_t n, size_t c0, size_t c1, double *out, ncmp_error *err)
{
    int rank;
    hsize_t dims[NCMP_H5_MAX_RANK];
    ncmp_status st = layer_shape(a, layer, &rank, dims, err);
    if (st)
        return st;
    for (size_t i = 0; i < (its ? n : 1); i++)
        if ((its ? its[i] : iteration_index) >= a->n_iterations)
            return ncmp_fail(err, NCMP_ERR_USAGE, "iteration index %zu out of range (%zu iterations)",
                             its ? its[i] : iteration_index, a->n_iterations);
    size_t f = 1;
    for (int i = 2; i < rank; i++)
        f *= (size_t)dims[i];
    if (!c1)
        c1 = f;
    if (c0 > c1 || c1 > f)
        return ncmp_fail(err, NCMP_ERR_USAGE, "features %zu..%zu out of range (%zu features)", c0, c1, f);
    const size_t w = c1 - c0;
    const bool all = w == f;
    char path[1024];
    snprintf(path, sizeof path, "activations/%s", layer);
    hid_t d = H5Dopen2(a->file, path, H5P_DEFAULT);
    if (d < 0)
        return ncmp_h5_fail(err, NCMP_ERR_FORMAT, "%s: cannot open /%s", a->path, path);
    /* One stimulus at a time: the datasets are chunked by stimulus, and
     * memory stays at the features being assembled.  A range of features
     * (one rank's share, results/score_ranks.h) is selected once at stimulus
     * (0, 0) and moved to each stimulus with an offset; but when one chunk
     * holds every feature of a stimulus (what `neurocmp export` writes),
     * HDF5 reads that whole chunk anyway, and reading the row whole into
     * `row` and copying the range measured 2-3x faster than the selection. */
    hsize_t start[NCMP_H5_MAX_RANK] = {0}, count[NCMP_H5_MAX_RANK];
    count[0] = count[1] = 1;
    for (int i = 2; i < rank; i++)
        count[i] = dims[i];
    hid_t fs = H5I_INVALID_HID, ms = H5I_INVALID_HID;
    double *row = NULL;
    if (!all) {
        hid_t dcpl = H5Dget_create_plist(d);
        hsize_t chunk[NCMP_H5_MAX_RANK];
        bool whole = dcpl >= 0 && H5Pget_layout(dcpl) == H5D_CHUNKED && H5Pget_chunk(dcpl, rank, chunk) == rank;
        for (int i = 2; whole && i < rank; i++)
            whole = chunk[i] == dims[i];
        if (dcpl >= 0)
            H5Pclose(dcpl);
        if (whole && !(row = malloc(f * sizeof *row))) {
            H5Dclose(d);
            return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory for %zu features", f);
        }
    }
    if (!all && !row) {
        hsize_t mdim = w ? w : 1, at[NCMP_H5_MAX_RANK] = {0};
        fs = H5Dget_space(d);
        ms = H5Screate_simple(1, &mdim, NULL);
        if (fs < 0 || ms < 0 || H5Sselect_none(fs) < 0 || select_features(fs, rank, dims, at, 2, c0, c1) < 0)
            st =
                ncmp_h5_fail(err, NCMP_ERR_FORMAT, "%s: cannot select features %zu..%zu of /%s", a->path, c0, c1, path);
    }
    for (size_t i = 0; i < n && !st && w; i++) {
        start[0] = its ? its[i] : iteration_index;
        if (rows[i] >= a->n_stimuli) {
            st = ncmp_fail(err, NCMP_ERR_USAGE, "stimulus row %zu out of range (%zu stimuli)", rows[i], a->n_stimuli);
            break;
        }
        start[1] = rows[i];
        if (all)
            st = ncmp_h5_read_block(d, H5T_NATIVE_DOUBLE, start, count, out + i * w, err);
        else if (row) {
            if (!(st = ncmp_h5_read_block(d, H5T_NATIVE_DOUBLE, start, count, row, err)))
                memcpy(out + i * w, row + c0, w * sizeof *row);
        } else {
            hssize_t offset[NCMP_H5_MAX_RANK] = {(hssize_t)start[0], (hssize_t)start[1]};
            if (H5Soffset_simple(fs, offset) < 0 || H5Dread(d, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, out + i * w) < 0)
                st = ncmp_h5_fail(err, NCMP_ERR_FORMAT, "cannot read features %zu..%zu", c0, c1);
        }
        if (st) {
            ncmp_error_context(err, "%s: /%s", a->path, path);
            break;
        }
        for (size_t j = 0; j < w; j++)
            if (!isfinite(out[i * w + j])) {
                st = ncmp_fail(err, NCMP_ERR_VALUE,
                               "%s: layer '%s' iteration %lld has a %s feature (index %zu, C order) for stimulus "
                               "'%s'; features must be finite",
                               a->path, layer, a->iterations[start[0]], isnan(out[i * w + j]) ? "NaN" : "infinite",
                               c0 + j, a->stimulus_ids[rows[i]]);
                break;
            }
    }
    free(row);
    if (fs >= 0)
        H5Sclose(fs);
    if (ms >= 0)
        H5Sclose(ms);
    H5Dclose(d);
    return st;
}

ncmp_status ncmp_activations_read_features(const ncmp_activations *a, const char *layer, size_t iteration_index,
                                           const size_t *rows, size_t n, double *out, ncmp_error *err)
{
    NCMP_H5_QUIET_SCOPE;
    return read_rows(a, layer, NULL, iteration_index, rows, n, 0, 0, out, err);
}

/* The Gram matrix of features [c0, c1) (c1 == 0: all of them). */
static ncmp_status gram(const ncmp_activations *a, const char *layer, const size_t *its, size_t iteration_index,
                        const size_t *rows, size_t n, size_t c0, size_t c1, size_t block_bytes, double *G,
                        ncmp_error *err)
{
    size_t f;
    ncmp_status st = ncmp_activations_layer_features(a, layer, &f, err);
    if (st)
        return st;
    if (!n || !f)
        return ncmp_fail(err, NCMP_ERR_SHAPE, "Gram matrix of %zu stimuli x %zu features", n, f);
    if (!c1)
        c1 = f;
    if (c0 > c1 || c1 > f)
        return ncmp_fail(err, NCMP_ERR_USAGE, "Gram matrix of features %zu..%zu out of range (%zu features)", c0, c1,
                         f);
    const size_t p = c1 - c0;
    if (!p) { /* a share with no features (more ranks than features) adds nothing */
        size_t bytes;
        if ((st = ncmp_size_2d(a->path, "the Gram matrix", n, n, sizeof(double), &bytes, err)))
            return st;
        memset(G, 0, bytes);
        return NCMP_OK;
    }
    size_t B = block_bytes / (2 * p * sizeof(double));
    B = B < 1 ? 1 : B > n ? n : B;
    int n_int, p_int; /* B <= n, so the block sizes fit too */
    size_t block;
    if ((st = ncmp_blas_int(n, "the number of stimuli", &n_int, err)) ||
        (st = ncmp_blas_int(p, "the number of features", &p_int, err)) ||
        (st = ncmp_size_2d(a->path, "a Gram block", B, p, sizeof(double), &block, err)))
        return st;
    double *shift = malloc(p * sizeof *shift), *bi = malloc(B * p * sizeof *bi), *bj = malloc(B * p * sizeof *bj);
    if (!shift || !bi || !bj) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "Gram matrix: out of memory for blocks of %zu x %zu", B, p);
        goto done;
    }
    if ((st = read_rows(a, layer, its, iteration_index, rows, 1, c0, c1, shift, err)))
        goto done;
    for (size_t i0 = 0; i0 < n; i0 += B) {
        size_t ni = n - i0 < B ? n - i0 : B;
        if ((st = read_rows(a, layer, its ? its + i0 : NULL, iteration_index, rows + i0, ni, c0, c1, bi, err)))
            goto done;
        for (size_t k = 0; k < ni * p; k++)
            bi[k] -= shift[k % p];
        for (size_t j0 = 0; j0 <= i0; j0 += B) {
            size_t nj = n - j0 < B ? n - j0 : B;
            if (j0 == i0) {
                /* a diagonal block is symmetric: the upper triangle by a rank-k update (half the flops), mirrored */
                cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)ni, p_int, 1.0, bi, p_int, 0.0,
                            G + i0 * n + i0, n_int);
                for (size_t i = 0; i < ni; i++)
                    for (size_t j = 0; j < i; j++)
                        G[(i0 + i) * n + i0 + j] = G[(i0 + j) * n + i0 + i];
                continue;
            }
            if ((st = read_rows(a, layer, its ? its + j0 : NULL, iteration_index, rows + j0, nj, c0, c1, bj, err)))
                goto done;
            for (size_t k = 0; k < nj * p; k++)
                bj[k] -= shift[k % p];
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)ni, (int)nj, p_int, 1.0, bi, p_int, bj, p_int,
                        0.0, G + i0 * n + j0, n_int); /* ni, nj <= B: checked above */
            for (size_t i = 0; i < ni; i++)
                for (size_t j = 0; j < nj; j++)
                    G[(j0 + j) * n + i0 + i] = G[(i0 + i) * n + j0 + j];
        }
    }
done:
    free(shift);
    free(bi);
    free(bj);
    return st;
}

ncmp_status ncmp_activations_gram(const ncmp_activations *a, const char *layer, size_t iteration_index,
                                  const size_t *rows, size_t n, size_t block_bytes, double *G, ncmp_error *err)
{
    NCMP_H5_QUIET_SCOPE;
    return gram(a, layer, NULL, iteration_index, rows, n, 0, 0, block_bytes, G, err);
}

ncmp_status ncmp_activations_gram_rows(const ncmp_activations *a, const char *layer, const size_t *iteration_index,
                                       const size_t *rows, size_t n, size_t block_bytes, double *G, ncmp_error *err)
{
    NCMP_H5_QUIET_SCOPE;
    return gram(a, layer, iteration_index, 0, rows, n, 0, 0, block_bytes, G, err);
}

ncmp_status ncmp_activations_gram_features(const ncmp_activations *a, const char *layer, size_t iteration_index,
                                           const size_t *rows, size_t n, size_t first_feature, size_t end_feature,
                                           size_t block_bytes, double *G, ncmp_error *err)
{
    NCMP_H5_QUIET_SCOPE;
    if (end_feature <= first_feature) { /* an empty share: zeros (c1 == 0 would mean every feature) */
        size_t bytes;
        ncmp_status st = ncmp_size_2d(a->path, "the Gram matrix", n, n, sizeof(double), &bytes, err);
        if (!st)
            memset(G, 0, bytes);
        return st;
    }
    return gram(a, layer, NULL, iteration_index, rows, n, first_feature, end_feature, block_bytes, G, err);
}
