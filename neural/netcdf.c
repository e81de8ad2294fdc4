/* BrainIO NeuroidAssembly netCDF-4 reader and writer (docs/formats.md, Recordings), through netCDF-C, following
 * xarray's conventions (one data variable; coordinates named in its `coordinates` attribute; vlen UTF-8 strings;
 * _FillValue NaN). */
#include "core/atomic.h"
#include "core/log.h"
#include "core/paths.h"
#include "core/probe.h"
#include "core/provenance.h"
#include "core/sha256.h"
#include "core/sizes.h"
#include "core/version.h"
#include "neural/io.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <netcdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { DIM_PRESENTATION, DIM_NEUROID, DIM_TIME_BIN, DIM_OTHER };
static const char *const dim_names[] = {"presentation", "neuroid", "time_bin"};

/* The longest character-array string (e.g. a stimulus id) a reader accepts. */
#define NCMP_NETCDF_MAX_STRING (1 << 20)

static ncmp_status nc_fail(ncmp_error *err, int rc, const char *path, const char *what)
{
    ncmp_status st = rc > 0 && rc == ENOENT ? NCMP_ERR_IO : NCMP_ERR_FORMAT;
    if (rc == NC_ENOTNC || rc == NC_EHDFERR)
        return ncmp_fail(err, st, "%s: %s: not a netCDF-4/HDF5 file, or it is truncated (%s)", path, what,
                         nc_strerror(rc));
    return ncmp_fail(err, st, "%s: %s: %s", path, what, nc_strerror(rc));
}

static bool is_numeric(nc_type t)
{
    return t == NC_BYTE || t == NC_UBYTE || t == NC_SHORT || t == NC_USHORT || t == NC_INT || t == NC_UINT ||
           t == NC_INT64 || t == NC_UINT64 || t == NC_FLOAT || t == NC_DOUBLE;
}

static bool is_integer(nc_type t)
{
    return is_numeric(t) && t != NC_FLOAT && t != NC_DOUBLE;
}

/* Read 1-D variable `v` (length n, or 2-D char [n][len]) as strings. */
static ncmp_status read_string_var(int ncid, int v, nc_type type, int nd, const int *dimids, size_t n, const char *path,
                                   const char *name, char ***out, ncmp_error *err)
{
    char what[300];
    snprintf(what, sizeof what, "coordinate '%s'", name);
    size_t bytes;
    ncmp_status st = ncmp_size_2d(path, what, n, 1, sizeof(char *), &bytes, err);
    if (st)
        return st;
    size_t len = 1;
    if (type != NC_STRING && nd == 2) {
        int rc = nc_inq_dimlen(ncid, dimids[1], &len);
        if (rc)
            return nc_fail(err, rc, path, what);
        if (len > NCMP_NETCDF_MAX_STRING)
            return ncmp_fail(err, NCMP_ERR_SHAPE,
                             "'%s': %s declares strings of %zu characters (at most %d are read); the file is corrupt "
                             "or not what it claims",
                             path, what, len, NCMP_NETCDF_MAX_STRING);
        if ((st = ncmp_size_2d(path, what, n, len + 1, 1, &bytes, err)))
            return st;
    }
    char **s = calloc(n ? n : 1, sizeof *s);
    if (!s)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    int rc;
    if (type == NC_STRING) {
        char **raw = calloc(n ? n : 1, sizeof *raw);
        if (!raw) {
            free(s);
            return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        }
        if (n && (rc = nc_get_var_string(ncid, v, raw))) {
            free(raw);
            free(s);
            return nc_fail(err, rc, path, what);
        }
        for (size_t i = 0; i < n; i++)
            s[i] = strdup(raw[i] ? raw[i] : "");
        if (n)
            nc_free_string(n, raw);
        free(raw);
    } else {
        char *buf = calloc(n * len + 1, 1); /* checked above */
        if (!buf) {
            free(s);
            return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        }
        if (n && (rc = nc_get_var_text(ncid, v, buf))) {
            free(buf);
            free(s);
            return nc_fail(err, rc, path, what);
        }
        for (size_t i = 0; i < n; i++) {
            s[i] = calloc(len + 1, 1);
            if (s[i])
                memcpy(s[i], buf + i * len, len);
        }
        free(buf);
    }
    for (size_t i = 0; i < n; i++)
        if (!s[i]) {
            ncmp_stimulus_ids_free(s, n);
            return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        }
    *out = s;
    return NCMP_OK;
}

static double att_double(int ncid, int v, const char *name, bool *present)
{
    nc_type t;
    size_t len;
    double x = NAN;
    *present = nc_inq_att(ncid, v, name, &t, &len) == NC_NOERR && len == 1 && is_numeric(t) &&
               nc_get_att_double(ncid, v, name, &x) == NC_NOERR;
    return x;
}

/* The probe's walk (core/probe.h): HDF5's structure, then netCDF's view of it. */
static int walk_netcdf(const char *path)
{
    ncmp_probe_walk_hdf5(path);
    int ncid, nvars = 0, ndims = 0;
    if (nc_open(path, NC_NOWRITE, &ncid))
        return 1;
    nc_inq_nvars(ncid, &nvars);
    nc_inq_ndims(ncid, &ndims);
    for (int d = 0; d < ndims; d++) {
        char name[NC_MAX_NAME + 1];
        size_t len;
        nc_inq_dim(ncid, d, name, &len);
    }
    for (int v = -1; v < nvars; v++) {
        int natts = 0;
        if (v >= 0) {
            char name[NC_MAX_NAME + 1];
            nc_type t;
            int vdims, dimids[NC_MAX_VAR_DIMS];
            nc_inq_var(ncid, v, name, &t, &vdims, dimids, &natts);
        } else {
            nc_inq_natts(ncid, &natts);
        }
        for (int a = 0; a < natts; a++) {
            char name[NC_MAX_NAME + 1];
            nc_type t;
            size_t len;
            if (nc_inq_attname(ncid, v, a, name) == NC_NOERR)
                nc_inq_att(ncid, v, name, &t, &len);
        }
    }
    nc_close(ncid);
    return 0;
}

ncmp_status ncmp_assembly_read_netcdf(const char *path, ncmp_assembly **out, ncmp_error *err)
{
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return ncmp_fail(err, NCMP_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    ncmp_status probed = ncmp_probe_file(path, "netCDF/HDF5", walk_netcdf, err);
    if (probed)
        return probed;
    int ncid, rc;
    if ((rc = nc_open(path, NC_NOWRITE, &ncid)))
        return nc_fail(err, rc, path, "cannot open as netCDF");
    int ndims, nvars;
    if ((rc = nc_inq_ndims(ncid, &ndims)) || (rc = nc_inq_nvars(ncid, &nvars))) {
        nc_close(ncid);
        return nc_fail(err, rc, path, "cannot list dimensions");
    }
    /* Map dimension ids to roles. */
    int role[NC_MAX_DIMS];
    size_t len[NC_MAX_DIMS];
    int found[3] = {-1, -1, -1};
    char dimlist[512] = "";
    for (int d = 0; d < ndims && d < NC_MAX_DIMS; d++) {
        char name[NC_MAX_NAME + 1];
        nc_inq_dim(ncid, d, name, &len[d]);
        role[d] = DIM_OTHER;
        for (int r = 0; r < 3; r++)
            if (!strcmp(name, dim_names[r])) {
                role[d] = r;
                found[r] = d;
            }
        size_t l = strlen(dimlist);
        snprintf(dimlist + l, sizeof dimlist - l, "%s%s (%zu)", d ? ", " : "", name, len[d]);
    }
    /* The data variable: the one variable spanning presentation and neuroid. */
    int data_var = -1, n_candidates = 0;
    char candidates[512] = "";
    for (int v = 0; v < nvars; v++) {
        int nd, dimids[NC_MAX_VAR_DIMS];
        char name[NC_MAX_NAME + 1];
        nc_inq_varname(ncid, v, name);
        nc_inq_varndims(ncid, v, &nd);
        if (nd < 2 || nd > NC_MAX_VAR_DIMS)
            continue;
        nc_inq_vardimid(ncid, v, dimids);
        nc_type t;
        nc_inq_vartype(ncid, v, &t);
        if (t == NC_CHAR && nd == 2)
            continue; /* a char-array coordinate */
        data_var = v;
        n_candidates++;
        size_t l = strlen(candidates);
        snprintf(candidates + l, sizeof candidates - l, "%s'%s'", l ? ", " : "", name);
    }
    if (n_candidates != 1) {
        nc_close(ncid);
        if (!n_candidates)
            return ncmp_fail(err, NCMP_ERR_FORMAT,
                             "%s: no data variable with dims (presentation, neuroid[, time_bin]); dims: %s", path,
                             ndims ? dimlist : "none");
        return ncmp_fail(err, NCMP_ERR_FORMAT, "%s: %d data variables (%s); a NeuroidAssembly has exactly one", path,
                         n_candidates, candidates);
    }
    char data_name[NC_MAX_NAME + 1];
    int nd, dimids[NC_MAX_VAR_DIMS];
    nc_type data_type;
    nc_inq_var(ncid, data_var, data_name, &data_type, &nd, dimids, NULL);
    int axis_of[3] = {-1, -1, -1};
    char vdims[4096] = "";
    for (int i = 0; i < nd; i++) {
        char name[NC_MAX_NAME + 1];
        nc_inq_dimname(ncid, dimids[i], name);
        size_t l = strlen(vdims);
        snprintf(vdims + l, sizeof vdims - l, "%s%s", i ? ", " : "", name);
    }
    bool dims_ok = is_numeric(data_type);
    for (int i = 0; i < nd; i++) {
        int r = role[dimids[i]];
        if (r == DIM_OTHER || axis_of[r] >= 0)
            dims_ok = false;
        else
            axis_of[r] = i;
    }
    if (!dims_ok || axis_of[DIM_PRESENTATION] < 0 || axis_of[DIM_NEUROID] < 0) {
        nc_close(ncid);
        if (!is_numeric(data_type))
            return ncmp_fail(err, NCMP_ERR_FORMAT, "%s: data variable '%s' is not numeric", path, data_name);
        return ncmp_fail(err, NCMP_ERR_SHAPE,
                         "%s: data variable '%s' has dims (%s); expected presentation, neuroid and optionally "
                         "time_bin, in any order",
                         path, data_name, vdims);
    }
    bool has_t = axis_of[DIM_TIME_BIN] >= 0;
    size_t P = len[found[DIM_PRESENTATION]], N = len[found[DIM_NEUROID]], T = has_t ? len[found[DIM_TIME_BIN]] : 0;
    ncmp_assembly *a;
    ncmp_status st = ncmp_assembly_alloc(P, N, T, data_name, path, &a, err);
    if (st) {
        nc_close(ncid);
        return st;
    }
    size_t total = P * N * a->n_time_bins;
    double *raw = malloc((total ? total : 1) * sizeof *raw);
    if (!raw) {
        ncmp_assembly_free(a);
        nc_close(ncid);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory for %zu values of '%s'", total, data_name);
    }
    if (total && (rc = nc_get_var_double(ncid, data_var, raw))) {
        free(raw);
        ncmp_assembly_free(a);
        nc_close(ncid);
        char what[300];
        snprintf(what, sizeof what, "reading data variable '%s'", data_name);
        return nc_fail(err, rc, path, what);
    }
    bool has_fill, has_missing, has_scale, has_offset;
    double fill = att_double(ncid, data_var, "_FillValue", &has_fill);
    double missing = att_double(ncid, data_var, "missing_value", &has_missing);
    double scale = att_double(ncid, data_var, "scale_factor", &has_scale);
    double offset = att_double(ncid, data_var, "add_offset", &has_offset);
    /* Strides of the file's layout, per role. */
    size_t stride[NC_MAX_VAR_DIMS], s = 1;
    for (int i = nd - 1; i >= 0; i--) {
        stride[i] = s;
        s *= len[dimids[i]];
    }
    size_t sp = stride[axis_of[DIM_PRESENTATION]], sn = stride[axis_of[DIM_NEUROID]],
           st_ = has_t ? stride[axis_of[DIM_TIME_BIN]] : 0;
    for (size_t p = 0; p < P; p++)
        for (size_t n = 0; n < N; n++)
            for (size_t t = 0; t < a->n_time_bins; t++) {
                double x = raw[p * sp + n * sn + t * st_];
                if ((has_fill && (x == fill || (isnan(fill) && isnan(x)))) || (has_missing && x == missing))
                    x = NAN;
                else {
                    if (has_scale)
                        x *= scale;
                    if (has_offset)
                        x += offset;
                }
                *ncmp_assembly_at(a, p, n, t) = x;
            }
    free(raw);
    /* Coordinates. */
    for (int v = 0; v < nvars && !st; v++) {
        if (v == data_var)
            continue;
        char name[NC_MAX_NAME + 1];
        nc_type t;
        int vnd, vd[NC_MAX_VAR_DIMS];
        nc_inq_var(ncid, v, name, &t, &vnd, NULL, NULL);
        if (vnd < 1 || vnd > 2)
            continue;
        nc_inq_vardimid(ncid, v, vd);
        int r = role[vd[0]];
        if (r == DIM_OTHER || (vnd == 2 && t != NC_CHAR) || (vnd == 1 && t == NC_CHAR))
            continue;
        size_t n = len[vd[0]];
        if (r == DIM_TIME_BIN) {
            if (!has_t || (strcmp(name, "time_bin_start") && strcmp(name, "time_bin_end")))
                continue;
            if (!is_numeric(t)) {
                st = ncmp_fail(err, NCMP_ERR_FORMAT, "%s: coordinate '%s' is not numeric", path, name);
                break;
            }
            double *dst = !strcmp(name, "time_bin_start") ? a->time_bin_start : a->time_bin_end;
            if (n && (rc = nc_get_var_double(ncid, v, dst)))
                st = nc_fail(err, rc, path, name);
            continue;
        }
        ncmp_coord_list *list = r == DIM_PRESENTATION ? &a->presentation : &a->neuroid;
        if (t == NC_STRING || t == NC_CHAR) {
            char **strings = NULL;
            if (!(st = read_string_var(ncid, v, t, vnd, vd, n, path, name, &strings, err))) {
                st = ncmp_coord_add_strings(list, name, (const char *const *)strings, err);
                ncmp_stimulus_ids_free(strings, n);
            }
        } else if (is_numeric(t)) {
            double *x = malloc((n ? n : 1) * sizeof *x); /* n is a presentation/neuroid count: checked */
            if (!x) {
                st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
                break;
            }
            if (n && (rc = nc_get_var_double(ncid, v, x)))
                st = nc_fail(err, rc, path, name);
            else
                st = ncmp_coord_add_numbers(list, name, is_integer(t) ? NCMP_COORD_INT64 : NCMP_COORD_FLOAT64, x, err);
            free(x);
        } else {
            ncmp_log_debug("%s: skipping variable '%s' of unsupported type", path, name);
        }
    }
    if (!st && has_t) {
        bool have_s = false, have_e = false;
        for (int v = 0; v < nvars; v++) {
            char name[NC_MAX_NAME + 1];
            nc_inq_varname(ncid, v, name);
            have_s |= !strcmp(name, "time_bin_start");
            have_e |= !strcmp(name, "time_bin_end");
        }
        if (!have_s || !have_e)
            st = ncmp_fail(err, NCMP_ERR_FORMAT, "%s: data has a time_bin dimension but no '%s' coordinate", path,
                           !have_s ? "time_bin_start" : "time_bin_end");
    }
    int natts = 0;
    nc_inq_natts(ncid, &natts);
    for (int i = 0; i < natts && !st; i++) {
        char name[NC_MAX_NAME + 1];
        nc_type t;
        size_t alen;
        if (nc_inq_attname(ncid, NC_GLOBAL, i, name) || nc_inq_att(ncid, NC_GLOBAL, name, &t, &alen) || t != NC_CHAR ||
            name[0] == '_')
            continue;
        char *text = calloc(alen + 1, 1);
        if (!text || nc_get_att_text(ncid, NC_GLOBAL, name, text)) {
            free(text);
            continue;
        }
        st = ncmp_assembly_set_attribute(a, name, text, err);
        free(text);
    }
    nc_close(ncid);
    if (!st)
        st = ncmp_assembly_validate(a, err);
    if (st) {
        ncmp_assembly_free(a);
        return st;
    }
    *out = a;
    return NCMP_OK;
}

/* ---- writer -------------------------------------------------------------- */

#define NC_TRY(call, what)                                                                                             \
    do {                                                                                                               \
        int rc_ = (call);                                                                                              \
        if (rc_) {                                                                                                     \
            st = nc_fail(err, rc_, partial, what);                                                                     \
            goto fail;                                                                                                 \
        }                                                                                                              \
    } while (0)

static ncmp_status put_text_att(int ncid, const char *name, const char *value, const char *partial, ncmp_error *err)
{
    int rc = nc_put_att_text(ncid, NC_GLOBAL, name, strlen(value), value);
    return rc ? nc_fail(err, rc, partial, name) : NCMP_OK;
}

static bool all_integral(const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(x[i] == floor(x[i]) && fabs(x[i]) < 9e15))
            return false;
    return true;
}

static ncmp_status write_coord_list(int ncid, int dimid, const ncmp_coord_list *list, int *varids, const char *partial,
                                    ncmp_error *err)
{
    for (size_t c = 0; c < list->n_coords; c++) {
        const ncmp_coord *co = &list->coords[c];
        nc_type t = co->kind == NCMP_COORD_STRING ? NC_STRING : co->kind == NCMP_COORD_INT64 ? NC_INT64 : NC_DOUBLE;
        int rc = nc_def_var(ncid, co->name, t, 1, &dimid, &varids[c]);
        if (rc) {
            char what[300];
            snprintf(what, sizeof what, "defining coordinate '%s'", co->name);
            return nc_fail(err, rc, partial, what);
        }
        if (t == NC_DOUBLE) {
            double nan = NAN;
            nc_def_var_fill(ncid, varids[c], 0, &nan);
        }
    }
    return NCMP_OK;
}

static ncmp_status put_coord_list(int ncid, const ncmp_coord_list *list, const int *varids, const char *partial,
                                  ncmp_error *err)
{
    for (size_t c = 0; c < list->n_coords && list->length; c++) {
        const ncmp_coord *co = &list->coords[c];
        int rc;
        if (co->kind == NCMP_COORD_STRING)
            rc = nc_put_var_string(ncid, varids[c], (const char **)co->strings);
        else if (co->kind == NCMP_COORD_INT64) {
            long long *v = malloc(list->length * sizeof *v);
            if (!v)
                return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
            for (size_t i = 0; i < list->length; i++)
                v[i] = isnan(co->numbers[i])      ? 0
                       : co->numbers[i] >= 0x1p63 ? LLONG_MAX
                       : co->numbers[i] < -0x1p63 ? LLONG_MIN
                                                  : (long long)co->numbers[i];
            rc = nc_put_var_longlong(ncid, varids[c], v);
            free(v);
        } else
            rc = nc_put_var_double(ncid, varids[c], co->numbers);
        if (rc) {
            char what[300];
            snprintf(what, sizeof what, "writing coordinate '%s'", co->name);
            return nc_fail(err, rc, partial, what);
        }
    }
    return NCMP_OK;
}

ncmp_status ncmp_assembly_write_netcdf(const ncmp_assembly *a, const char *path, bool overwrite,
                                       const ncmp_input_file *inputs, size_t n_inputs, ncmp_error *err)
{
    struct stat sb;
    if (!overwrite && stat(path, &sb) == 0)
        return ncmp_fail(err, NCMP_ERR_EXISTS, "'%s' exists; use --force to replace it", path);
    ncmp_atomic_file out;
    ncmp_status st0 = ncmp_atomic_begin(&out, path, false, err);
    if (st0)
        return st0;
    const char *partial = out.partial_path;
    int *pvars = calloc(a->presentation.n_coords + 1, sizeof *pvars);
    int *nvars = calloc(a->neuroid.n_coords + 1, sizeof *nvars);
    char *coords_att = NULL;
    if (!pvars || !nvars) {
        ncmp_atomic_abort(&out);
        free(pvars);
        free(nvars);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    }
    ncmp_status st = NCMP_OK;
    int ncid = -1, dims[3], data_var, tvars[2] = {-1, -1};
    int rc = nc_create(partial, NC_CLOBBER | NC_NETCDF4, &ncid);
    if (rc) {
        st = ncmp_fail(err, NCMP_ERR_IO, "cannot create '%s': %s", partial, nc_strerror(rc));
        ncid = -1;
        goto fail;
    }
    NC_TRY(nc_def_dim(ncid, "presentation", a->n_presentations, &dims[0]), "defining dim presentation");
    NC_TRY(nc_def_dim(ncid, "neuroid", a->n_neuroids, &dims[1]), "defining dim neuroid");
    if (a->has_time_bins)
        NC_TRY(nc_def_dim(ncid, "time_bin", a->n_time_bins, &dims[2]), "defining dim time_bin");
    if ((st = write_coord_list(ncid, dims[0], &a->presentation, pvars, partial, err)) ||
        (st = write_coord_list(ncid, dims[1], &a->neuroid, nvars, partial, err)))
        goto fail;
    bool int_edges = a->has_time_bins && all_integral(a->time_bin_start, a->n_time_bins) &&
                     all_integral(a->time_bin_end, a->n_time_bins);
    if (a->has_time_bins) {
        NC_TRY(nc_def_var(ncid, "time_bin_start", int_edges ? NC_INT64 : NC_DOUBLE, 1, &dims[2], &tvars[0]),
               "defining time_bin_start");
        NC_TRY(nc_def_var(ncid, "time_bin_end", int_edges ? NC_INT64 : NC_DOUBLE, 1, &dims[2], &tvars[1]),
               "defining time_bin_end");
    }
    NC_TRY(nc_def_var(ncid, a->name && a->name[0] ? a->name : "responses", NC_DOUBLE, a->has_time_bins ? 3 : 2, dims,
                      &data_var),
           "defining the data variable");
    double nan = NAN;
    NC_TRY(nc_def_var_fill(ncid, data_var, 0, &nan), "setting _FillValue");
    if (a->n_presentations && a->n_neuroids)
        NC_TRY(nc_def_var_deflate(ncid, data_var, 1, 1, 4), "setting compression");
    /* xarray turns the variables named here into coordinates. */
    size_t clen = 64;
    for (size_t c = 0; c < a->presentation.n_coords; c++)
        clen += strlen(a->presentation.coords[c].name) + 1;
    for (size_t c = 0; c < a->neuroid.n_coords; c++)
        clen += strlen(a->neuroid.coords[c].name) + 1;
    coords_att = calloc(clen, 1);
    if (!coords_att) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t c = 0; c < a->presentation.n_coords; c++)
        strcat(strcat(coords_att, coords_att[0] ? " " : ""), a->presentation.coords[c].name);
    for (size_t c = 0; c < a->neuroid.n_coords; c++)
        strcat(strcat(coords_att, coords_att[0] ? " " : ""), a->neuroid.coords[c].name);
    if (a->has_time_bins)
        strcat(coords_att, coords_att[0] ? " time_bin_start time_bin_end" : "time_bin_start time_bin_end");
    if (coords_att[0])
        NC_TRY(nc_put_att_text(ncid, data_var, "coordinates", strlen(coords_att), coords_att), "coordinates");
    /* The assembly's own attributes first; this file's provenance then replaces any older one. */
    for (size_t i = 0; i < a->n_attributes; i++)
        if ((st = put_text_att(ncid, a->attribute_names[i], a->attribute_values[i], partial, err)))
            goto fail;
    char stamp[64], key[128], hex[NCMP_SHA256_HEX_LEN];
    ncmp_utc_timestamp(stamp, sizeof stamp);
    if ((st = put_text_att(ncid, "neurocmp_version", NCMP_VERSION, partial, err)) ||
        (st = put_text_att(ncid, "neurocmp_revision", NCMP_GIT_REVISION, partial, err)) ||
        (st = put_text_att(ncid, "created_utc", stamp, partial, err)) ||
        (st = put_text_att(ncid, "command_line", ncmp_provenance_command_line(), partial, err)) ||
        (ncmp_provenance_study_text() &&
         ((st = put_text_att(ncid, "study_config", ncmp_provenance_study_text(), partial, err)) ||
          (st = put_text_att(ncid, "study_config_path", ncmp_provenance_study_path(), partial, err)) ||
          (st = put_text_att(ncid, "study_config_sha256", ncmp_provenance_study_sha256(), partial, err)))))
        goto fail;
    for (size_t i = 0; i < n_inputs; i++) {
        if ((st = ncmp_sha256_file(inputs[i].path, hex, err)))
            goto fail;
        snprintf(key, sizeof key, "%s_path", inputs[i].role);
        if ((st = put_text_att(ncid, key, inputs[i].path, partial, err)))
            goto fail;
        snprintf(key, sizeof key, "%s_sha256", inputs[i].role);
        if ((st = put_text_att(ncid, key, hex, partial, err)))
            goto fail;
    }
    NC_TRY(nc_enddef(ncid), "ending definitions");
    if ((st = put_coord_list(ncid, &a->presentation, pvars, partial, err)) ||
        (st = put_coord_list(ncid, &a->neuroid, nvars, partial, err)))
        goto fail;
    if (a->has_time_bins) {
        if (int_edges) {
            long long *e = malloc(2 * a->n_time_bins * sizeof *e);
            if (!e) {
                st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
                goto fail;
            }
            for (size_t t = 0; t < a->n_time_bins; t++) {
                e[t] = (long long)a->time_bin_start[t];
                e[a->n_time_bins + t] = (long long)a->time_bin_end[t];
            }
            rc = nc_put_var_longlong(ncid, tvars[0], e);
            if (!rc)
                rc = nc_put_var_longlong(ncid, tvars[1], e + a->n_time_bins);
            free(e);
            NC_TRY(rc, "writing time bin edges");
        } else {
            NC_TRY(nc_put_var_double(ncid, tvars[0], a->time_bin_start), "writing time_bin_start");
            NC_TRY(nc_put_var_double(ncid, tvars[1], a->time_bin_end), "writing time_bin_end");
        }
    }
    if (a->n_presentations && a->n_neuroids)
        NC_TRY(nc_put_var_double(ncid, data_var, a->data), "writing the data");
    rc = nc_close(ncid);
    ncid = -1;
    if (rc) {
        st = nc_fail(err, rc, partial, "closing");
        goto fail;
    }
    free(pvars);
    free(nvars);
    free(coords_att);
    return ncmp_atomic_commit(&out, err);
fail:
    if (ncid >= 0)
        nc_close(ncid);
    ncmp_atomic_abort(&out);
    free(pvars);
    free(nvars);
    free(coords_att);
    return st;
}
