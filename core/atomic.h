/* Outputs that are complete or absent: every file neurocmp writes goes to
 * PATH.partial and is renamed to PATH (after an fsync of the file and its
 * folder) only when it is whole, so an interrupted or failed run never leaves
 * a file that looks finished.  One helper for every writer: text files (JSON,
 * CSV, reports) through a stdio stream, and libraries that open the partial
 * path themselves (HDF5, netCDF) through the names alone.
 */
#ifndef NCMP_CORE_ATOMIC_H
#define NCMP_CORE_ATOMIC_H

#include <stdbool.h>
#include <stdio.h>

#include "core/status.h"

typedef struct ncmp_atomic_file {
    FILE *stream;       /* open on partial_path when begun with a stream, else NULL */
    char *path;         /* the final name */
    char *partial_path; /* PATH.partial */
} ncmp_atomic_file;

/* Check that PATH can be an output: its folder exists, is a folder and is
 * writable, and PATH itself is not a folder.  Each failure is NCMP_ERR_IO
 * naming the folder ("the folder 'out' does not exist"). */
ncmp_status ncmp_output_path_check(const char *path, ncmp_error *err);

/* Check PATH (ncmp_output_path_check), name PATH.partial and, with
 * open_stream, open it for writing (replacing any earlier partial file). */
ncmp_status ncmp_atomic_begin(ncmp_atomic_file *f, const char *path, bool open_stream, ncmp_error *err);
/* Close the stream (a write error, e.g. a full disk, is NCMP_ERR_IO) and
 * rename PATH.partial to PATH durably; on failure the partial file is
 * removed.  f is reset either way. */
ncmp_status ncmp_atomic_commit(ncmp_atomic_file *f, ncmp_error *err);
/* Close, remove the partial file, reset. */
void ncmp_atomic_abort(ncmp_atomic_file *f);

#endif
