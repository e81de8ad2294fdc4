/* A study's plan: the neurocmp commands that make its outputs, in order,
 * each with its inputs, outputs and an estimate of its cost
 * (docs/reproducibility.md, "Steps").
 *
 * train -> eval -> import / simulate -> export -> ceiling -> score -> temporal
 * -> compare, then the study's own results table and report.  Every command
 * runs in the study's output folder, with paths relative to it, so a moved
 * folder keeps its keys.
 */
#ifndef NCMP_STUDY_PLAN_H
#define NCMP_STUDY_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "study/config.h"

enum { STUDY_MAX_FILES = 64, STUDY_MAX_ARGS = 96 };

typedef struct study_file {
    char role[640];
    char *path;     /* absolute */
    bool directory; /* an output folder: every file written under it */
} study_file;

struct study_plan;

typedef struct study_step {
    char name[600]; /* "export.cnnf", unique */
    const char *kind;
    char model[128];            /* the model it concerns ("" if none; "A vs B" for a comparison) */
    char recordings[128];       /* the recordings it reads ("" if none) */
    char metric[16];            /* score and compare steps: the metric */
    char *argv[STUDY_MAX_ARGS]; /* argv[0] = "neurocmp"; paths relative to the output folder */
    size_t argc;
    study_file inputs[STUDY_MAX_FILES];
    size_t n_inputs;
    study_file outputs[STUDY_MAX_FILES];
    size_t n_outputs;
    bool cheap;     /* scores from files already made: verify --recompute may rerun it */
    bool resumable; /* export/train: an interrupted run continues with --resume */
    double seconds; /* estimates, for --dry-run */
    double disk_bytes;
    double memory_bytes;
    char what[700]; /* one line for the plan */
    /* in-process steps (the study's own results table and report) run this instead of argv */
    ncmp_status (*local)(const struct study_config *c, const struct study_plan *p, ncmp_error *err);
} study_step;

typedef struct study_plan {
    study_step *steps;
    size_t n_steps;
} study_plan;

/* Build the plan; the estimates need the architectures (loaded, not run)
 * and the number of stimuli.  Free with study_plan_free. */
ncmp_status study_plan_make(const study_config *c, study_plan **out, ncmp_error *err);
void study_plan_free(study_plan *p);

/* The output of a step by role, or NULL. */
const study_file *study_step_output(const study_step *s, const char *role);

#endif
