/* Running a study's plan as a build system would: a step runs only when its
 * key (a hash of its command and its inputs' contents) changed or its
 * outputs are missing or modified; an interrupted export or training
 * resumes; the manifest records every step (docs/reproducibility.md). */
#ifndef NCMP_STUDY_RUN_H
#define NCMP_STUDY_RUN_H

#include <stdbool.h>
#include <sys/types.h>

#include "study/config.h"
#include "study/plan.h"

typedef struct study_run_options {
    const char *exe; /* the neurocmp executable the steps run (argv[0] of the plan) */
    bool quiet;      /* pass -q to the steps */
    bool rerun;      /* run every step, whatever the manifest says */
    /* Under MPI (study/schedule.h): run an export step in this process, on
     * every rank at once, with argv as its child would get it (argv[0]
     * "neurocmp"), in the output folder; returns its exit code.  NULL: exports
     * are child processes like every other step. */
    int (*collective)(const struct study_config *c, int argc, char **argv);
} study_run_options;

typedef struct study_run_summary {
    size_t n_run, n_skipped;
    double seconds;
    bool *ran; /* per step of the plan (caller frees) */
} study_run_summary;

/* Run (or skip) every step, then leave DIR/manifest.json complete. */
ncmp_status study_run(const study_config *c, const study_plan *p, const study_run_options *o, study_run_summary *sum,
                      ncmp_error *err);

/* For --dry-run: would the step be skipped?  (False when an input does not exist yet.) */
bool study_step_up_to_date(const study_config *c, const study_step *s, const char *manifest_path);

/* The manifest's path for a study: OUT/manifest.json (caller frees). */
char *study_manifest_path(const study_config *c);

/* The key of a step: SHA-256 of the neurocmp version, its command and its
 * inputs' hashes, in hex (the input hashes are in input_sha256, one per input). */
void study_step_key(const study_step *s, char (*input_sha256)[NCMP_SHA256_HEX_LEN], char key[NCMP_SHA256_HEX_LEN]);

/* SHA-256 of a file, remembered for the process by (device, inode, size, mtime). */
ncmp_status study_hash_file(const char *path, char hex[NCMP_SHA256_HEX_LEN], long long *bytes, ncmp_error *err);

/* ---- the pieces study_run is made of, shared with the MPI scheduler (study/schedule.h) ---- */

/* A study's session: the output folder's lock and the manifest (only one
 * process of a study, rank 0 under MPI, opens it).  Free with study_session_close. */
typedef struct study_session study_session;
ncmp_status study_session_open(const study_config *c, const study_plan *p, const study_run_options *o,
                               study_session **out, ncmp_error *err);
void study_session_close(study_session *s);
/* Hash the step's inputs (they must exist: the steps making them are done) and
 * compute its key; *up_to_date when the manifest says it is done with this
 * key and its outputs are intact (always false with o->rerun). */
ncmp_status study_session_check(study_session *s, size_t step, bool *up_to_date, ncmp_error *err);
/* After study_session_check said it must run on `ranks` ranks (1 but for an
 * export under MPI): remove what an earlier run wrote (unless it resumes:
 * an interrupted export only on as many ranks as it started on), make its
 * folders, record it "running".  *resume: the command gets --resume instead
 * of --force. */
ncmp_status study_session_begin(study_session *s, size_t step, int ranks, bool *resume, ncmp_error *err);
/* After the step's command exited with exit_code: an error naming the step
 * (and `where`, e.g. " on rank 2", when not NULL) if it failed, else its
 * outputs hashed and the step recorded "done" in the manifest. */
ncmp_status study_session_end(study_session *s, size_t step, int exit_code, double seconds, const char *where,
                              ncmp_error *err);

/* The argv a step runs with (-q, --resume/--force added); the strings are
 * the step's own; the caller frees the array only.  NULL when out of memory. */
char **study_step_command(const study_step *s, const study_run_options *o, bool resume);
/* The step's command as one line, for messages (caller frees). */
char *study_step_line(const study_step *s);
/* Start o->exe with argv in the study's output folder, as a plain process
 * (NEUROCMP_NO_MPI=1) that records the study file in its outputs. */
ncmp_status study_step_start(const study_config *c, const study_run_options *o, char *const *argv, pid_t *pid,
                             ncmp_error *err);
/* True once the child ended (its exit code, or 128 + signal, in *exit_code);
 * with block false, returns false at once while it still runs. */
bool study_step_wait(pid_t pid, bool block, int *exit_code);
double study_now_seconds(void);

#endif
