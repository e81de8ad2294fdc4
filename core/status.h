/* Status codes and error messages shared by every neurocmp module.
 *
 * Library functions return an ncmp_status and, on failure, fill an
 * ncmp_error whose message names the file, dataset, shape or line at fault.
 * Only the command-line tool prints messages and chooses exit codes.
 * The error object is owned by the caller (usually on the stack); passing
 * NULL is allowed and simply drops the message.
 */
#ifndef NCMP_CORE_STATUS_H
#define NCMP_CORE_STATUS_H

#include <stddef.h>

typedef enum ncmp_status {
    NCMP_OK = 0,
    NCMP_ERR_USAGE,       /* bad argument or option value */
    NCMP_ERR_IO,          /* cannot open, read, write or rename a file */
    NCMP_ERR_FORMAT,      /* file exists but its content is not what was expected */
    NCMP_ERR_SHAPE,       /* dimensions do not agree */
    NCMP_ERR_VALUE,       /* NaN/Inf, out-of-range or inconsistent values */
    NCMP_ERR_NOT_FOUND,   /* a named layer, dataset, stimulus or neuroid is missing */
    NCMP_ERR_EXISTS,      /* output already exists and overwriting was not requested */
    NCMP_ERR_INCOMPLETE,  /* file was not completely written (no complete = 1) */
    NCMP_ERR_NOMEM,       /* allocation failed */
    NCMP_ERR_INTERRUPTED, /* stopped by a signal */
    NCMP_ERR_INTERNAL     /* a bug: an invariant did not hold */
} ncmp_status;

#define NCMP_ERROR_MESSAGE_MAX 1024

typedef struct ncmp_error {
    ncmp_status status;
    char message[NCMP_ERROR_MESSAGE_MAX];
} ncmp_error;

/* Short lowercase name of a status, e.g. "shape mismatch". */
const char *ncmp_status_name(ncmp_status status);

/* Reset to NCMP_OK with an empty message. */
void ncmp_error_clear(ncmp_error *err);

/* Record a failure and return `status`, so callers can write
 *   return ncmp_fail(err, NCMP_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
 * Passing NCMP_OK is a programming error and is recorded as NCMP_ERR_INTERNAL. */
ncmp_status ncmp_fail(ncmp_error *err, ncmp_status status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prepend context ("reading 'x.h5': ") to an existing message; returns err->status
 * (NCMP_ERR_INTERNAL if err is NULL). */
ncmp_status ncmp_error_context(ncmp_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Exit code the command-line tool uses for a status: 0 for OK, 2 for usage
 * errors, 3 when stopped by SIGINT/SIGTERM (the partial output is kept for
 * --resume), 1 for everything else (so scripts can tell bad calls from bad
 * data).  Never 128 or more: those mean a process died of a signal. */
int ncmp_status_exit_code(ncmp_status status);

#endif
