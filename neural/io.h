/* Reading and writing assemblies: BrainIO netCDF-4 (docs/formats.md, Recordings), NumPy .npy
 * response arrays, stimulus id lists, and the importer that turns
 * neurons x stimuli x repeats arrays into BrainIO-style assemblies.
 */
#ifndef NCMP_NEURAL_IO_H
#define NCMP_NEURAL_IO_H

#include <stdbool.h>
#include <stddef.h>

#include "core/status.h"
#include "neural/assembly.h"

/* Read a BrainIO NeuroidAssembly as written by xarray: dims `presentation`,
 * `neuroid`, optional `time_bin`; the file's one data variable (any
 * numeric type, dims in any order; _FillValue/missing_value become NaN,
 * scale_factor/add_offset applied); every 1-D variable along presentation or
 * neuroid becomes a coordinate (vlen strings, char arrays or numbers);
 * time_bin_start/time_bin_end along time_bin.  The result is validated
 * (ncmp_assembly_validate).  Errors name the file and the variable. */
ncmp_status ncmp_assembly_read_netcdf(const char *path, ncmp_assembly **out, ncmp_error *err);

/* An input file recorded in an output's provenance (role_path, role_sha256). */
typedef struct ncmp_input_file {
    const char *role; /* e.g. "responses" */
    const char *path;
} ncmp_input_file;

/* Write a netCDF-4 file that xarray.open_dataarray reads as the same
 * assembly: dims presentation, neuroid[, time_bin]; one variable per
 * coordinate (NC_STRING, NC_INT64 or NC_DOUBLE) listed in the data
 * variable's `coordinates` attribute; float64 data with _FillValue NaN;
 * provenance as global attributes.  Written to PATH.partial and renamed.
 * An existing PATH is an error unless overwrite. */
ncmp_status ncmp_assembly_write_netcdf(const ncmp_assembly *a, const char *path, bool overwrite,
                                       const ncmp_input_file *inputs, size_t n_inputs, ncmp_error *err);

/* ---- NumPy ---------------------------------------------------------------- */

typedef struct ncmp_npy_array {
    int ndim;
    size_t shape[8];
    double *data; /* C order, converted to float64 */
} ncmp_npy_array;

/* Read a .npy file (format versions 1.0, 2.0, 3.0; float64, float32 or integer (counts) in
 * either byte order; C order).  Fortran order, other dtypes and truncated
 * files are errors naming the file. */
ncmp_status ncmp_npy_read(const char *path, ncmp_npy_array *out, ncmp_error *err);
void ncmp_npy_release(ncmp_npy_array *a);

/* Stimulus ids from a folder or ZIP of images (file stems, sorted as
 * datasets/stimuli.h sorts them), a CSV with a `stimulus_id` (or
 * `image_id`) column, or a text file with one id per line.  Free with
 * ncmp_strings_free (core/h5.h) or ncmp_stimulus_ids_free. */
ncmp_status ncmp_stimulus_ids_read(const char *path, char ***ids, size_t *n, ncmp_error *err);
/* The same, and for a CSV with an `object_name` column its values aligned
 * with the ids (*object_names NULL otherwise; free like the ids): the labels
 * the stratified splits use. */
ncmp_status ncmp_stimulus_table_read(const char *path, char ***ids, char ***object_names, size_t *n, ncmp_error *err);
void ncmp_stimulus_ids_free(char **ids, size_t n);

typedef struct ncmp_import_options {
    const char *region;              /* required */
    const char *animal;              /* optional: adds an `animal` coordinate */
    const char *source;              /* for messages */
    const char *const *object_names; /* optional, aligned with the ids: adds an `object_name` coordinate */
    const double *bin_starts;        /* 4-D responses: the start of each time bin (ms) ... */
    size_t n_bin_starts;
    double bin_size_ms; /* ... and their common length */
} ncmp_import_options;

/* responses: neurons x stimuli x repeats x time bins (with bin_starts and
 * bin_size_ms), neurons x stimuli x repeats, or neurons x stimuli (no
 * repetition coordinate).  One presentation per (stimulus, repeat) in which
 * at least one neuron has a value, ordered by stimulus then repeat, with
 * coordinates stimulus_id and repetition (the repeat's index); neuroids get
 * neuroid_id "neuron000"…, region and animal.  The number of ids must equal
 * the stimuli axis. */
ncmp_status ncmp_assembly_from_responses(const ncmp_npy_array *responses, const char *const *ids, size_t n_ids,
                                         const ncmp_import_options *options, ncmp_assembly **out, ncmp_error *err);

#endif
