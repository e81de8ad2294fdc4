/* HDF5 helpers: atomic output files, attributes, UTF-8 string datasets,
 * chunked extendible datasets and dimension scales.
 *
 * Every neurocmp output is written as "<path>.partial" and renamed to <path>
 * only by ncmp_h5_output_commit, after the root attribute `complete = 1` is
 * set.  An interrupted run therefore never leaves a file at <path> that looks
 * finished, and readers refuse files without `complete = 1`.
 * HDF5's own error printing is silenced; its innermost message is appended
 * to ours instead.
 */
#ifndef NCMP_CORE_H5_H
#define NCMP_CORE_H5_H

#include <hdf5.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/status.h"

/* HDF5 prints its error stack to stderr by default.  neurocmp reports HDF5
 * errors through ncmp_error instead (with HDF5's innermost message), so its
 * functions that call HDF5 silence the printing for their own duration and
 * restore the application's setting on return: they begin with
 * NCMP_H5_QUIET_SCOPE.  The library never changes the setting for good;
 * an application that wants it off everywhere calls ncmp_h5_quiet() (the
 * neurocmp command does).  Like HDF5 itself (Debian's build is not
 * thread-safe), not for concurrent use from several threads. */
void ncmp_h5_quiet(void);
typedef struct ncmp_h5_quiet_state {
    H5E_auto2_t func;
    void *data;
} ncmp_h5_quiet_state;
ncmp_h5_quiet_state ncmp_h5_quiet_enter(void);
void ncmp_h5_quiet_leave(const ncmp_h5_quiet_state *saved);
#define NCMP_H5_QUIET_SCOPE                                                                                            \
    ncmp_h5_quiet_state ncmp_h5_quiet_saved_ __attribute__((cleanup(ncmp_h5_quiet_leave), unused)) =                   \
        ncmp_h5_quiet_enter()

/* Like ncmp_fail, appending HDF5's innermost error description if any. */
ncmp_status ncmp_h5_fail(ncmp_error *err, ncmp_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- atomic output files ------------------------------------------------ */

enum {
    NCMP_H5_OVERWRITE = 1u << 0, /* replace an existing complete file (--force) */
    NCMP_H5_RESUME = 1u << 1     /* reopen "<path>.partial" if present (--resume) */
};

typedef struct ncmp_h5_output {
    hid_t file;
    char *final_path;
    char *partial_path;
    bool resumed; /* true if an existing .partial file was reopened */
} ncmp_h5_output;

/* Open "<path>.partial" for writing.  Fails with NCMP_ERR_EXISTS if <path>
 * exists and NCMP_H5_OVERWRITE is not given; NCMP_ERR_IO naming the
 * directory if it cannot be written. */
ncmp_status ncmp_h5_output_begin(ncmp_h5_output *out, const char *path, unsigned flags, ncmp_error *err);
/* Set `complete = 1`, flush, close and rename to the final path. */
ncmp_status ncmp_h5_output_commit(ncmp_h5_output *out, ncmp_error *err);
/* The same, renamed into place as a consistent file whose work is not done
 * yet when !complete (`complete = 0`: a training checkpoint mid-run, which
 * --resume continues; readers that require complete files refuse it). */
ncmp_status ncmp_h5_output_commit_as(ncmp_h5_output *out, bool complete, ncmp_error *err);
/* Close; delete the partial file unless keep_partial (kept for --resume). */
void ncmp_h5_output_abort(ncmp_h5_output *out, bool keep_partial);

/* Open an existing HDF5 file read-only.  With require_complete, a file
 * without root attribute complete = 1 is refused (NCMP_ERR_INCOMPLETE). */
ncmp_status ncmp_h5_open_read(const char *path, bool require_complete, hid_t *file, ncmp_error *err);
/* True if the root attribute `complete` exists and equals 1. */
bool ncmp_h5_is_complete(hid_t file);

/* ---- attributes ----------------------------------------------------------- */

bool ncmp_h5_attr_exists(hid_t obj, const char *name);
ncmp_status ncmp_h5_attr_set_string(hid_t obj, const char *name, const char *value, ncmp_error *err);
ncmp_status ncmp_h5_attr_set_int64(hid_t obj, const char *name, long long value, ncmp_error *err);
ncmp_status ncmp_h5_attr_set_double(hid_t obj, const char *name, double value, ncmp_error *err);
ncmp_status ncmp_h5_attr_set_double_array(hid_t obj, const char *name, const double *values, size_t n, ncmp_error *err);
/* Reads fixed-length or variable-length strings; *value is malloc'ed (free it). */
ncmp_status ncmp_h5_attr_get_string(hid_t obj, const char *name, char **value, ncmp_error *err);
ncmp_status ncmp_h5_attr_get_int64(hid_t obj, const char *name, long long *value, ncmp_error *err);
ncmp_status ncmp_h5_attr_get_double(hid_t obj, const char *name, double *value, ncmp_error *err);

/* ---- string datasets --------------------------------------------------- */

/* 1-D dataset of variable-length UTF-8 strings (h5py's str, xarray's object). */
ncmp_status ncmp_h5_write_strings(hid_t loc, const char *name, const char *const *strings, size_t n, ncmp_error *err);
/* Reads fixed- or variable-length string datasets; free with ncmp_strings_free. */
ncmp_status ncmp_h5_read_strings(hid_t loc, const char *name, char ***strings, size_t *n, ncmp_error *err);
void ncmp_strings_free(char **strings, size_t n);

/* ---- numeric datasets ------------------------------------------------------ */

#define NCMP_H5_MAX_RANK 8

/* Create a chunked dataset.  maxdims may be NULL (= dims) and may hold
 * H5S_UNLIMITED; chunk may be NULL (first axis 1, the rest whole);
 * deflate_level 0 = no compression, 1..9 = shuffle + deflate. */
ncmp_status ncmp_h5_create_chunked(hid_t loc, const char *name, hid_t file_type, int rank, const hsize_t *dims,
                                   const hsize_t *maxdims, const hsize_t *chunk, int deflate_level, hid_t *dset,
                                   ncmp_error *err);
/* Write a contiguous block of `count` at `start`, growing an extendible
 * dataset first when the block reaches past its current extent. */
ncmp_status ncmp_h5_write_block(hid_t dset, hid_t mem_type, const hsize_t *start, const hsize_t *count, const void *buf,
                                ncmp_error *err);
ncmp_status ncmp_h5_read_block(hid_t dset, hid_t mem_type, const hsize_t *start, const hsize_t *count, void *buf,
                               ncmp_error *err);
/* Open a dataset by path: NCMP_ERR_NOT_FOUND if it is missing, NCMP_ERR_FORMAT
 * if the path is not a dataset.  Close with H5Dclose. */
ncmp_status ncmp_h5_open_dataset(hid_t loc, const char *name, hid_t *dset, ncmp_error *err);
/* Shape of a dataset by path (rank and dims filled; dims must hold NCMP_H5_MAX_RANK). */
ncmp_status ncmp_h5_dataset_shape(hid_t loc, const char *name, int *rank, hsize_t *dims, ncmp_error *err);
/* Write a whole small 1-D/ N-D contiguous dataset in one call. */
ncmp_status ncmp_h5_write_array(hid_t loc, const char *name, hid_t file_type, hid_t mem_type, int rank,
                                const hsize_t *dims, const void *buf, ncmp_error *err);

/* ---- dimension scales ------------------------------------------------------ */

/* Turn `scale` into a dimension scale called dim_name and attach it to axis
 * `axis` of `dset`. */
ncmp_status ncmp_h5_make_scale(hid_t scale, const char *dim_name, ncmp_error *err);
ncmp_status ncmp_h5_attach_scale(hid_t dset, hid_t scale, unsigned axis, ncmp_error *err);

/* Create every missing group along a path such as "/activations/block1". */
ncmp_status ncmp_h5_ensure_group(hid_t loc, const char *path, hid_t *group, ncmp_error *err);

#endif
