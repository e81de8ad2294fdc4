/* A study's results table: every number its steps produced, one row each
 * (eval accuracies, ceilings, scores, temporal cells, comparisons), read
 * back from the steps' JSON outputs and written as OUT/results.csv; and the
 * check of a results table against expected values with tolerances
 * (reproduce/NAME/expected.json; docs/reproducibility.md).  Columns:
 * kind,model,layer,iteration,recordings,region,bin,metric,quantity,value,error. */
#ifndef NCMP_STUDY_RESULTS_H
#define NCMP_STUDY_RESULTS_H

#include <stdbool.h>
#include <stdio.h>

#include "study/config.h"
#include "study/plan.h"

typedef struct study_row {
    char kind[16];       /* eval, ceiling, score, temporal, compare */
    char model[160];     /* a model, or "A vs B" for a comparison */
    char layer[64];      /* "" when none */
    long long iteration; /* -1 when none */
    char recordings[128];
    char region[64];
    char bin[32];      /* temporal: "70-90" (ms) */
    char metric[16];   /* score and compare rows: pls, ridge, ... */
    char quantity[48]; /* accuracy, accuracy_fgsm_0.1, ceiling, raw, ceiled, difference, p_permutation, ... */
    double value;
    double error; /* NaN when none */
} study_row;

typedef struct study_table {
    study_row *rows;
    size_t n, cap;
} study_table;

/* Read every finished step's JSON output into a table. */
ncmp_status study_results_collect(const study_config *c, const study_plan *p, study_table **out, ncmp_error *err);
void study_table_free(study_table *t);
/* Write the table as CSV (atomically). */
ncmp_status study_results_write_csv(const study_table *t, const char *path, ncmp_error *err);
/* Read a CSV written by study_results_write_csv. */
ncmp_status study_results_read_csv(const char *path, study_table **out, ncmp_error *err);

/* Compare with expected.json: {"expect": [{selectors..., "value": V, "tolerance": T} |
 * {selectors..., "min": A, "max": B}]}, selectors among kind, model, layer,
 * iteration, recordings, region, bin, metric, quantity.  Prints a table of expected
 * vs obtained to `out`; *passed is false if any entry is missing or outside. */
ncmp_status study_results_check(const study_table *t, const char *expected_path, FILE *out, bool *passed,
                                ncmp_error *err);

#endif
