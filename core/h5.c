/* HDF5 helpers: atomic outputs, attributes, strings, chunked datasets,
 * dimension scales (see h5.h; patterns after HDF5's examples/h5_extend.c). */
#include "core/h5.h"

#include "core/atomic.h"
#include "core/probe.h"

#include "core/paths.h"

#include <errno.h>
#include <hdf5_hl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* H5Fis_accessible replaced H5Fis_hdf5 in HDF5 1.12; Debian 12 ships 1.10. */
static htri_t is_hdf5_file(const char *path)
{
#if H5_VERSION_GE(1, 12, 0)
    return H5Fis_accessible(path, H5P_DEFAULT);
#else
    return H5Fis_hdf5(path);
#endif
}

void ncmp_h5_quiet(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

ncmp_h5_quiet_state ncmp_h5_quiet_enter(void)
{
    ncmp_h5_quiet_state saved = {NULL, NULL};
    H5Eget_auto2(H5E_DEFAULT, &saved.func, &saved.data);
    if (saved.func)
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    return saved;
}

void ncmp_h5_quiet_leave(const ncmp_h5_quiet_state *saved)
{
    if (saved->func)
        H5Eset_auto2(H5E_DEFAULT, saved->func, saved->data);
}

static herr_t innermost_cb(unsigned n, const H5E_error2_t *e, void *data)
{
    (void)n;
    char *out = data;
    if (e->desc && e->desc[0])
        snprintf(out, 256, "%s", e->desc); /* keep overwriting: the last walked is the innermost */
    return 0;
}

ncmp_status ncmp_h5_fail(ncmp_error *err, ncmp_status status, const char *fmt, ...)
{
    char msg[NCMP_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char detail[256] = "";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost_cb, detail);
    H5Eclear2(H5E_DEFAULT);
    /* Walking upward, the first entry is the innermost; we kept the last
     * (outermost) above, which is usually the clearest for users.  Either way
     * it is only a hint after our own message. */
    if (detail[0])
        return ncmp_fail(err, status, "%.700s (HDF5: %.250s)", msg, detail);
    return ncmp_fail(err, status, "%s", msg);
}

static char *dup_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* ---- atomic output files -------------------------------------------------- */

static void output_reset(ncmp_h5_output *out)
{
    free(out->final_path);
    free(out->partial_path);
    out->final_path = out->partial_path = NULL;
    out->file = H5I_INVALID_HID;
}

ncmp_status ncmp_h5_output_begin(ncmp_h5_output *out, const char *path, unsigned flags, ncmp_error *err)
{
    NCMP_H5_QUIET_SCOPE;
    memset(out, 0, sizeof *out);
    out->file = H5I_INVALID_HID;
    if (!path || !path[0])
        return ncmp_fail(err, NCMP_ERR_USAGE, "no output path given");
    ncmp_status st = ncmp_output_path_check(path, err); /* core/atomic.h */
    if (st)
        return st;
    struct stat sb;
    if (!(flags & NCMP_H5_OVERWRITE) && stat(path, &sb) == 0)
        return ncmp_fail(err, NCMP_ERR_EXISTS, "output '%s' already exists; pass --force to overwrite it", path);
    out->final_path = dup_string(path);
    size_t n = strlen(path) + sizeof ".partial";
    out->partial_path = malloc(n);
    if (!out->final_path || !out->partial_path) {
        output_reset(out);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    }
    snprintf(out->partial_path, n, "%s.partial", path);

    if ((flags & NCMP_H5_RESUME) && access(out->partial_path, F_OK) == 0) {
        if (is_hdf5_file(out->partial_path) <= 0) {
            ncmp_h5_fail(err, NCMP_ERR_FORMAT,
                         "cannot resume: '%s' is not a readable HDF5 file (delete it to start over)",
                         out->partial_path);
            output_reset(out);
            return err ? err->status : NCMP_ERR_FORMAT;
        }
        out->file = H5Fopen(out->partial_path, H5F_ACC_RDWR, H5P_DEFAULT);
        if (out->file < 0) {
            ncmp_h5_fail(err, NCMP_ERR_IO,
                         "cannot reopen '%s' to resume: it was damaged when the run stopped; delete it to start over",
                         out->partial_path);
            output_reset(out);
            return err ? err->status : NCMP_ERR_IO;
        }
        out->resumed = true;
        return NCMP_OK;
    }

    /* Track creation order so netCDF-4 and xarray list variables as written. */
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    H5Pset_link_creation_order(fcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
    H5Pset_attr_creation_order(fcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
    out->file = H5Fcreate(out->partial_path, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
    H5Pclose(fcpl);
    if (out->file < 0) {
        ncmp_h5_fail(err, NCMP_ERR_IO, "cannot create '%s'", out->partial_path);
        output_reset(out);
        return err ? err->status : NCMP_ERR_IO;
    }
    st = ncmp_h5_attr_set_int64(out->file, "complete", 0, err);
    if (st) {
        ncmp_h5_output_abort(out, false);
        return st;
    }
    return NCMP_OK;
}

ncmp_status ncmp_h5_output_commit(ncmp_h5_output *out, ncmp_error *err)
{
    return ncmp_h5_output_commit_as(out, true, err);
}

ncmp_status ncmp_h5_output_commit_as(ncmp_h5_output *out, bool complete, ncmp_error *err)
{
    if (out->file < 0)
        return ncmp_fail(err, NCMP_ERR_INTERNAL, "output file is not open");
    ncmp_status st = ncmp_h5_attr_set_int64(out->file, "complete", complete ? 1 : 0, err);
    if (!st && H5Fflush(out->file, H5F_SCOPE_GLOBAL) < 0)
        st = ncmp_h5_fail(err, NCMP_ERR_IO, "cannot flush '%s' (disk full?)", out->partial_path);
    if (H5Fclose(out->file) < 0 && !st)
        st = ncmp_h5_fail(err, NCMP_ERR_IO, "cannot close '%s' (disk full?)", out->partial_path);
    out->file = H5I_INVALID_HID;
    if (!st)
        st = ncmp_rename_durable(out->partial_path, out->final_path, err);
    if (st)
        unlink(out->partial_path);
    output_reset(out);
    return st;
}

void ncmp_h5_output_abort(ncmp_h5_output *out, bool keep_partial)
{
    if (out->file >= 0)
        H5Fclose(out->file);
    out->file = H5I_INVALID_HID;
    if (out->partial_path && !keep_partial)
        unlink(out->partial_path);
    output_reset(out);
}

bool ncmp_h5_is_complete(hid_t file)
{
    long long v = 0;
    if (!ncmp_h5_attr_exists(file, "complete"))
        return false;
    if (ncmp_h5_attr_get_int64(file, "complete", &v, NULL) != NCMP_OK)
        return false;
    return v == 1;
}

ncmp_status ncmp_h5_open_read(const char *path, bool require_complete, hid_t *file, ncmp_error *err)
{
    NCMP_H5_QUIET_SCOPE;
    *file = H5I_INVALID_HID;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return ncmp_fail(err, NCMP_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return ncmp_fail(err, NCMP_ERR_IO, "cannot open '%s': it is a directory", path);
    if (access(path, R_OK) != 0)
        return ncmp_fail(err, NCMP_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    htri_t ok = is_hdf5_file(path);
    H5Eclear2(H5E_DEFAULT);
    if (ok <= 0)
        return ncmp_fail(err, NCMP_ERR_FORMAT, "'%s' is not an HDF5 file (or it is truncated or corrupt)", path);
    ncmp_status probed = ncmp_probe_file(path, "HDF5", ncmp_probe_walk_hdf5, err);
    if (probed)
        return probed;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return ncmp_h5_fail(err, NCMP_ERR_FORMAT, "cannot open HDF5 file '%s'", path);
    if (require_complete && !ncmp_h5_is_complete(f)) {
        H5Fclose(f);
        return ncmp_fail(err, NCMP_ERR_INCOMPLETE,
                         "'%s' is incomplete (no root attribute complete = 1): it was not finished when written; "
                         "rerun the command that made it (with --resume if it offers one)",
                         path);
    }
    *file = f;
    return NCMP_OK;
}

/* ---- attributes --------------------------------------------------------------- */

bool ncmp_h5_attr_exists(hid_t obj, const char *name)
{
    NCMP_H5_QUIET_SCOPE;
    htri_t r = H5Aexists(obj, name);
    H5Eclear2(H5E_DEFAULT);
    return r > 0;
}

static ncmp_status write_attr(hid_t obj, const char *name, hid_t file_type, hid_t mem_type, hid_t space,
                              const void *value, ncmp_error *err)
{
    NCMP_H5_QUIET_SCOPE;
    if (ncmp_h5_attr_exists(obj, name) && H5Adelete(obj, name) < 0)
        return ncmp_h5_fail(err, NCMP_ERR_IO, "cannot replace attribute '%s'", name);
    hid_t a = H5Acreate2(obj, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0)
        return ncmp_h5_fail(err, NCMP_ERR_IO, "cannot create attribute '%s'", name);
    herr_t w = H5Awrite(a, mem_type, value);
    H5Aclose(a);
    if (w < 0)
        return ncmp_h5_fail(err, NCMP_ERR_IO, "cannot write attribute '%s'", name);
    return NCMP_OK;
}

static hid_t vlen_utf8_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

ncmp_status ncmp_h5_attr_set_string(hid_t obj, const char *name, const char *value, ncmp_error *err)
{
    hid_t t = vlen_utf8_type();
    hid_t s = H5Screate(H5S_SCALAR);
    const char *v = value ? value : "";
    ncmp_status st = write_attr(obj, name, t, t, s, &v, err);
    H5Sclose(s);
    H5Tclose(t);
    return st;
}

ncmp_status ncmp_h5_attr_set_int64(hid_t obj, const char *name, long long value, ncmp_error *err)
{
    hid_t s = H5Screate(H5S_SCALAR);
    ncmp_status st = write_attr(obj, name, H5T_STD_I64LE, H5T_NATIVE_LLONG, s, &value, err);
    H5Sclose(s);
    return st;
}

ncmp_status ncmp_h5_attr_set_double(hid_t obj, const char *name, double value, ncmp_error *err)
{
    hid_t s = H5Screate(H5S_SCALAR);
    ncmp_status st = write_attr(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, s, &value, err);
    H5Sclose(s);
    return st;
}

ncmp_status ncmp_h5_attr_set_double_array(hid_t obj, const char *name, const double *values, size_t n, ncmp_error *err)
{
    hsize_t dims[1] = {n};
    hid_t s = H5Screate_simple(1, dims, NULL);
    ncmp_status st = write_attr(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, s, values, err);
    H5Sclose(s);
    return st;
}

static ncmp_status open_attr(hid_t obj, const char *name, hid_t *a, ncmp_error *err)
{
    if (!ncmp_h5_attr_exists(obj, name))
        return ncmp_fail(err, NCMP_ERR_NOT_FOUND, "attribute '%s' is missing", name);
    *a = H5Aopen(obj, name, H5P_DEFAULT);
    if (*a < 0)
        return ncmp_h5_fail(err, NCMP_ERR_FORMAT, "cannot open attribute '%s'", name);
    return NCMP_OK;
}

ncmp_status ncmp_h5_attr_get_string(hid_t obj, const char *name, char **value, ncmp_error *err)
{
    *value = NULL;
    hid_t a = H5I_INVALID_HID;
    ncmp_status st = open_attr(obj, name, &a, err);
    if (st)
        return st;
    hid_t ft = H5Aget_type(a);
    hid_t space = H5Aget_space(a);
    if (H5Tget_class(ft) != H5T_STRING || H5Sget_simple_extent_npoints(space) != 1) {
        st = ncmp_fail(err, NCMP_ERR_FORMAT, "attribute '%s' is not a single string", name);
    } else if (H5Tis_variable_str(ft) > 0) {
        hid_t mt = vlen_utf8_type();
        char *v = NULL;
        if (H5Aread(a, mt, &v) < 0) {
            st = ncmp_h5_fail(err, NCMP_ERR_FORMAT, "cannot read attribute '%s'", name);
        } else {
            *value = dup_string(v ? v : "");
            H5Dvlen_reclaim(mt, space, H5P_DEFAULT, &v);
        }
        H5Tclose(mt);
    } else {
        size_t size = H5Tget_size(ft);
        char *v = calloc(size + 1, 1);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, size);
        if (!v || H5Aread(a, mt, v) < 0) {
            free(v);
            st = ncmp_h5_fail(err, NCMP_ERR_FORMAT, "cannot read attribute '%s'", name);
        } else {
            *value = v;
        }
        H5Tclose(mt);
    }
    if (!st && !*value)
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory reading attribute '%s'", name);
    H5Sclose(space);
    H5Tclose(ft);
    H5Aclose(a);
    return st;
}

static ncmp_status read_scalar_attr(hid_t obj, const char *name, hid_t mem_type, H5T_class_t want, void *value,
                                    ncmp_error *err)
{
    hid_t a = H5I_INVALID_HID;
    ncmp_status st = open_attr(obj, name, &a, err);
    if (st)
        return st;
    hid_t ft = H5Aget_type(a);
    hid_t space = H5Aget_space(a);
    H5T_class_t cls = H5Tget_class(ft);
    if ((cls != H5T_INTEGER && cls != H5T_FLOAT) || (want == H5T_INTEGER && cls == H5T_FLOAT) ||
        H5Sget_simple_extent_npoints(space) != 1)
        st = ncmp_fail(err, NCMP_ERR_FORMAT, "attribute '%s' is not a single %s", name,
                       want == H5T_INTEGER ? "integer" : "number");
    else if (H5Aread(a, mem_type, value) < 0)
        st = ncmp_h5_fail(err, NCMP_ERR_FORMAT, "cannot read attribute '%s'", name);
    H5Sclose(space);
    H5Tclose(ft);
    H5Aclose(a);
    return st;
}

ncmp_status ncmp_h5_attr_get_int64(hid_t obj, const char *name, long long *value, ncmp_error *err)
{
    return read_scalar_attr(obj, name, H5T_NATIVE_LLONG, H5T_INTEGER, value, err);
}

ncmp_status ncmp_h5_attr_get_double(hid_t obj, const char *name, double *value, ncmp_error *err)
{
    return read_scalar_attr(obj, name, H5T_NATIVE_DOUBLE, H5T_FLOAT, value, err);
}

/* ---- string datasets -------------------------------------------------------------- */

ncmp_status ncmp_h5_write_strings(hid_t loc, const char *name, const char *const *strings, size_t n, ncmp_error *err)
{
    NCMP_H5_QUIET_SCOPE;
    hid_t t = vlen_utf8_type();
    hsize_t dims[1] = {n};
    hid_t s = H5Screate_simple(1, dims, NULL);
    hid_t d = H5Dcreate2(loc, name, t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ncmp_status st = NCMP_OK;
    if (d < 0)
        st = ncmp_h5_fail(err, NCMP_ERR_IO, "cannot create string dataset '%s'", name);
    else if (n > 0 && H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, strings) < 0)
        st = ncmp_h5_fail(err, NCMP_ERR_IO, "cannot write string dataset '%s'", name);
    if (d >= 0)
        H5Dclose(d);
    H5Sclose(s);
    H5Tclose(t);
    return st;
}

void ncmp_strings_free(char **strings, size_t n)
{
    if (!strings)
        return;
    for (size_t i = 0; i < n; i++)
        free(strings[i]);
    free(strings);
}

ncmp_status ncmp_h5_read_strings(hid_t loc, const char *name, char ***strings, size_t *n, ncmp_error *err)
{
    *strings = NULL;
    *n = 0;
    hid_t d;
    ncmp_status opened = ncmp_h5_open_dataset(loc, name, &d, err);
    if (opened)
        return opened;
    hid_t ft = H5Dget_type(d);
    hid_t space = H5Dget_space(d);
    ncmp_status st = NCMP_OK;
    int rank = H5Sget_simple_extent_ndims(space);
    hssize_t count = H5Sget_simple_extent_npoints(space);
    if (H5Tget_class(ft) != H5T_STRING || rank != 1) {
        st = ncmp_fail(err, NCMP_ERR_FORMAT, "dataset '%s' is not a 1-D array of strings", name);
        goto done;
    }
    char **out = calloc(count > 0 ? (size_t)count : 1, sizeof *out);
    if (!out) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory reading '%s'", name);
        goto done;
    }
    if (count == 0) {
        *strings = out;
        goto done;
    }
    if (H5Tis_variable_str(ft) > 0) {
        hid_t mt = vlen_utf8_type();
        char **raw = calloc((size_t)count, sizeof *raw);
        if (!raw || H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) < 0) {
            st = raw ? ncmp_h5_fail(err, NCMP_ERR_FORMAT, "cannot read strings of '%s'", name)
                     : ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory reading '%s'", name);
        } else {
            for (hssize_t i = 0; i < count && !st; i++)
                if (!(out[i] = dup_string(raw[i] ? raw[i] : "")))
                    st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory reading '%s'", name);
            H5Dvlen_reclaim(mt, space, H5P_DEFAULT, raw);
        }
        free(raw);
        H5Tclose(mt);
    } else {
        size_t size = H5Tget_size(ft);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, size);
        char *raw = calloc((size_t)count, size);
        if (!raw || H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) < 0) {
            st = raw ? ncmp_h5_fail(err, NCMP_ERR_FORMAT, "cannot read strings of '%s'", name)
                     : ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory reading '%s'", name);
        } else {
            for (hssize_t i = 0; i < count && !st; i++) {
                char *s = calloc(size + 1, 1);
                if (!s) {
                    st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory reading '%s'", name);
                    break;
                }
                memcpy(s, raw + (size_t)i * size, size);
                out[i] = s;
            }
        }
        free(raw);
        H5Tclose(mt);
    }
    if (st)
        ncmp_strings_free(out, (size_t)count);
    else {
        *strings = out;
        *n = (size_t)count;
    }
done:
    H5Sclose(space);
    H5Tclose(ft);
    H5Dclose(d);
    return st;
}

/* ---- numeric datasets ------------------------------------------------------------ */

ncmp_status ncmp_h5_create_chunked(hid_t loc, const char *name, hid_t file_type, int rank, const hsize_t *dims,
                                   const hsize_t *maxdims, const hsize_t *chunk, int deflate_level, hid_t *dset,
                                   ncmp_error *err)
{
    NCMP_H5_QUIET_SCOPE;
    *dset = H5I_INVALID_HID;
    if (rank < 1 || rank > NCMP_H5_MAX_RANK)
        return ncmp_fail(err, NCMP_ERR_SHAPE, "dataset '%s': rank %d is outside 1..%d", name, rank, NCMP_H5_MAX_RANK);
    if (deflate_level < 0 || deflate_level > 9)
        return ncmp_fail(err, NCMP_ERR_USAGE, "compression level %d is outside 0..9", deflate_level);
    hsize_t ch[NCMP_H5_MAX_RANK];
    for (int d = 0; d < rank; d++) {
        ch[d] = chunk ? chunk[d] : (d == 0 ? 1 : dims[d]);
        if (ch[d] == 0)
            ch[d] = 1;
    }
    hid_t space = H5Screate_simple(rank, dims, maxdims ? maxdims : dims);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, rank, ch);
    if (deflate_level > 0) {
        H5Pset_shuffle(dcpl);
        H5Pset_deflate(dcpl, (unsigned)deflate_level);
    }
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t d = H5Dcreate2(loc, name, file_type, space, lcpl, dcpl, H5P_DEFAULT);
    H5Pclose(lcpl);
    H5Pclose(dcpl);
    H5Sclose(space);
    if (d < 0)
        return ncmp_h5_fail(err, NCMP_ERR_IO, "cannot create dataset '%s'", name);
    *dset = d;
    return NCMP_OK;
}

static ncmp_status select_block(hid_t dset, const hsize_t *start, const hsize_t *count, bool grow, hid_t *fspace,
                                hid_t *mspace, ncmp_error *err)
{
    hid_t space = H5Dget_space(dset);
    int rank = H5Sget_simple_extent_ndims(space);
    hsize_t dims[NCMP_H5_MAX_RANK], maxdims[NCMP_H5_MAX_RANK];
    H5Sget_simple_extent_dims(space, dims, maxdims);
    bool need_grow = false;
    hsize_t want[NCMP_H5_MAX_RANK];
    for (int d = 0; d < rank; d++) {
        want[d] = dims[d];
        if (start[d] + count[d] > dims[d]) {
            if (!grow || (maxdims[d] != H5S_UNLIMITED && start[d] + count[d] > maxdims[d])) {
                H5Sclose(space);
                return ncmp_fail(err, NCMP_ERR_SHAPE,
                                 "block [%llu, %llu) on axis %d is outside the dataset's extent %llu",
                                 (unsigned long long)start[d], (unsigned long long)(start[d] + count[d]), d,
                                 (unsigned long long)dims[d]);
            }
            want[d] = start[d] + count[d];
            need_grow = true;
        }
    }
    if (need_grow) {
        H5Sclose(space);
        if (H5Dset_extent(dset, want) < 0)
            return ncmp_h5_fail(err, NCMP_ERR_IO, "cannot extend dataset");
        space = H5Dget_space(dset);
    }
    if (H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, count, NULL) < 0) {
        H5Sclose(space);
        return ncmp_h5_fail(err, NCMP_ERR_SHAPE, "cannot select block");
    }
    *fspace = space;
    *mspace = H5Screate_simple(rank, count, NULL);
    return NCMP_OK;
}

ncmp_status ncmp_h5_write_block(hid_t dset, hid_t mem_type, const hsize_t *start, const hsize_t *count, const void *buf,
                                ncmp_error *err)
{
    hid_t fs, ms;
    ncmp_status st = select_block(dset, start, count, true, &fs, &ms, err);
    if (st)
        return st;
    if (H5Dwrite(dset, mem_type, ms, fs, H5P_DEFAULT, buf) < 0)
        st = ncmp_h5_fail(err, NCMP_ERR_IO, "cannot write block (disk full?)");
    H5Sclose(ms);
    H5Sclose(fs);
    return st;
}

ncmp_status ncmp_h5_read_block(hid_t dset, hid_t mem_type, const hsize_t *start, const hsize_t *count, void *buf,
                               ncmp_error *err)
{
    hid_t fs, ms;
    ncmp_status st = select_block(dset, start, count, false, &fs, &ms, err);
    if (st)
        return st;
    if (H5Dread(dset, mem_type, ms, fs, H5P_DEFAULT, buf) < 0)
        st = ncmp_h5_fail(err, NCMP_ERR_FORMAT, "cannot read block");
    H5Sclose(ms);
    H5Sclose(fs);
    return st;
}

ncmp_status ncmp_h5_open_dataset(hid_t loc, const char *name, hid_t *dset, ncmp_error *err)
{
    NCMP_H5_QUIET_SCOPE;
    *dset = H5I_INVALID_HID;
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return ncmp_fail(err, NCMP_ERR_NOT_FOUND, "dataset '%s' is missing", name);
    }
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0)
        return ncmp_h5_fail(err, NCMP_ERR_FORMAT, "'%s' is not a dataset", name);
    *dset = d;
    return NCMP_OK;
}

ncmp_status ncmp_h5_dataset_shape(hid_t loc, const char *name, int *rank, hsize_t *dims, ncmp_error *err)
{
    hid_t d;
    ncmp_status opened = ncmp_h5_open_dataset(loc, name, &d, err);
    if (opened)
        return opened;
    hid_t s = H5Dget_space(d);
    int r = H5Sget_simple_extent_ndims(s);
    ncmp_status st = NCMP_OK;
    if (r < 0 || r > NCMP_H5_MAX_RANK)
        st = ncmp_fail(err, NCMP_ERR_SHAPE, "dataset '%s' has unsupported rank %d", name, r);
    else {
        *rank = r;
        H5Sget_simple_extent_dims(s, dims, NULL);
    }
    H5Sclose(s);
    H5Dclose(d);
    return st;
}

ncmp_status ncmp_h5_write_array(hid_t loc, const char *name, hid_t file_type, hid_t mem_type, int rank,
                                const hsize_t *dims, const void *buf, ncmp_error *err)
{
    NCMP_H5_QUIET_SCOPE;
    hid_t s = H5Screate_simple(rank, dims, NULL);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t d = H5Dcreate2(loc, name, file_type, s, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    ncmp_status st = NCMP_OK;
    if (d < 0)
        st = ncmp_h5_fail(err, NCMP_ERR_IO, "cannot create dataset '%s'", name);
    else if (H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
        st = ncmp_h5_fail(err, NCMP_ERR_IO, "cannot write dataset '%s'", name);
    if (d >= 0)
        H5Dclose(d);
    H5Sclose(s);
    return st;
}

/* ---- dimension scales --------------------------------------------------------- */

ncmp_status ncmp_h5_make_scale(hid_t scale, const char *dim_name, ncmp_error *err)
{
    if (H5DSset_scale(scale, dim_name) < 0)
        return ncmp_h5_fail(err, NCMP_ERR_IO, "cannot make '%s' a dimension scale", dim_name);
    return NCMP_OK;
}

ncmp_status ncmp_h5_attach_scale(hid_t dset, hid_t scale, unsigned axis, ncmp_error *err)
{
    if (H5DSattach_scale(dset, scale, axis) < 0)
        return ncmp_h5_fail(err, NCMP_ERR_IO, "cannot attach a dimension scale to axis %u", axis);
    return NCMP_OK;
}

ncmp_status ncmp_h5_ensure_group(hid_t loc, const char *path, hid_t *group, ncmp_error *err)
{
    NCMP_H5_QUIET_SCOPE;
    *group = H5I_INVALID_HID;
    htri_t exists = H5Lexists(loc, path, H5P_DEFAULT);
    H5Eclear2(H5E_DEFAULT);
    if (exists > 0) {
        *group = H5Gopen2(loc, path, H5P_DEFAULT);
    } else {
        hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
        H5Pset_create_intermediate_group(lcpl, 1);
        hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
        H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
        *group = H5Gcreate2(loc, path, lcpl, gcpl, H5P_DEFAULT);
        H5Pclose(gcpl);
        H5Pclose(lcpl);
    }
    if (*group < 0)
        return ncmp_h5_fail(err, NCMP_ERR_IO, "cannot open or create group '%s'", path);
    return NCMP_OK;
}
