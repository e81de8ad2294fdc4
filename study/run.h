/* Running a study's plan as a build system would: a step runs only when its
 * key (a hash of its command and its inputs' contents) changed or its
 * outputs are missing or modified; an interrupted export or training
 * resumes; the manifest records every step (docs/reproducibility.md). */
#ifndef NCMP_STUDY_RUN_H
#define NCMP_STUDY_RUN_H

#include <stdbool.h>

#include "study/config.h"
#include "study/plan.h"

typedef struct study_run_options {
    const char *exe; /* the neurocmp executable the steps run (argv[0] of the plan) */
    bool quiet;      /* pass -q to the steps */
    bool rerun;      /* run every step, whatever the manifest says */
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

#endif
