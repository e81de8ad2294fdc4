/* Is a result still what its inputs make?  `neurocmp verify` (docs/verify.md).
 *
 * For a study folder (one holding manifest.json, results/manifest.h) every
 * output of every finished step is re-hashed and compared with the manifest,
 * and every input with what the step read: an output that differs is
 * "modified", an input that differs makes the step "stale", an input that is
 * gone is a "missing input", a step still marked running is "incomplete".
 * Staleness flows downstream: a step reading another step's output is stale
 * when that step is.  A file not listed in any manifest is checked against
 * the provenance it carries itself (HDF5/netCDF-4 root attributes or the
 * "provenance" object of a JSON result: "<role>_path" and "<role>_sha256"
 * pairs); without a manifest the file's own content cannot be checked.
 *
 * With recompute, the cheap steps whose inputs are up to date are run again
 * into a temporary folder and the numbers of their JSON and CSV outputs
 * compared with the recorded ones within a relative tolerance.
 */
#ifndef NCMP_RESULTS_VERIFY_H
#define NCMP_RESULTS_VERIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "core/status.h"

/* In increasing severity: a report's worst state decides the exit status. */
typedef enum ncmp_verify_state {
    NCMP_VERIFY_UP_TO_DATE = 0,
    NCMP_VERIFY_STALE,         /* an input (or an upstream step) changed since the output was made */
    NCMP_VERIFY_MISSING_INPUT, /* an input is gone */
    NCMP_VERIFY_INCOMPLETE,    /* the step was still running: its outputs are not complete */
    NCMP_VERIFY_MODIFIED,      /* the output differs from the manifest, is missing, or recomputes differently */
    NCMP_VERIFY_UNREADABLE,    /* not a neurocmp output, damaged, or a damaged manifest: nothing could be checked */
    NCMP_VERIFY_N_STATES
} ncmp_verify_state;

/* "up to date", "stale", "missing input", "incomplete", "modified", "unreadable". */
const char *ncmp_verify_state_name(ncmp_verify_state state);

typedef struct ncmp_verify_options {
    bool recompute;         /* rerun cheap steps whose inputs are up to date and compare their numbers */
    double tolerance;       /* |recomputed - recorded| <= tolerance * max(1, |recorded|); default 1e-9 */
    bool show_step_output;  /* recompute: let the step's stdout through (else /dev/null) */
    const char *executable; /* recompute: the neurocmp that argv[0] "neurocmp" stands for; NULL: this process */
} ncmp_verify_options;

void ncmp_verify_options_default(ncmp_verify_options *o);

/* One checked file. */
typedef struct ncmp_verify_item {
    char *path; /* as the caller named it, or joined to the manifest's folder */
    ncmp_verify_state state;
    char *reason; /* why it is not up to date ("input 'weights' (x.h5) changed since the step ran"), or NULL */
    char *note;   /* a remark: "no manifest: the file itself is not checked", "recomputed: ...", or NULL */
    char *step;   /* the manifest step that made it, or NULL */
} ncmp_verify_item;

typedef struct ncmp_verify_report {
    ncmp_verify_item *items; /* in the order checked */
    size_t n_items;
    size_t count[NCMP_VERIFY_N_STATES];
    char **notes; /* remarks about a whole study ("the study config changed since ...") */
    size_t n_notes;
} ncmp_verify_report;

/* Zero a report before the first ncmp_verify_path. */
void ncmp_verify_report_init(ncmp_verify_report *r);
void ncmp_verify_report_free(ncmp_verify_report *r);

/* Check one path (a study folder, a folder of outputs, or one file) and append
 * its items to r.  Files that cannot be read become NCMP_VERIFY_UNREADABLE
 * items; the status is an error only when nothing could be reported (out of
 * memory, no temporary folder for recompute). */
ncmp_status ncmp_verify_path(const char *path, const ncmp_verify_options *o, ncmp_verify_report *r, ncmp_error *err);

/* The most severe state among r's items (NCMP_VERIFY_UP_TO_DATE when empty). */
ncmp_verify_state ncmp_verify_worst(const ncmp_verify_report *r);

/* Compare the numbers of two result files of the same kind (JSON: every number, walking both trees, skipping
 * "provenance" and keys named created_utc, seconds, command_line or containing "path" or "sha256"; CSV/TSV: every
 * numeric cell, the other cells equal).  *agree is false at the first difference beyond the tolerance, and
 * `message` says where and both values; else it holds "N numbers agree (max difference X)".  A file of another
 * kind is NCMP_ERR_USAGE. */
ncmp_status ncmp_verify_compare_numbers(const char *recorded, const char *recomputed, double tolerance, bool *agree,
                                        char *message, size_t message_size, ncmp_error *err);

#endif
