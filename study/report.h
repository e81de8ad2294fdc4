/* A study's own outputs: OUT/results.csv (every number, one row each) and
 * OUT/report/index.html + report.md (the tables, the figures the steps
 * drew, how the outputs were made, and the study file itself). */
#ifndef NCMP_STUDY_REPORT_H
#define NCMP_STUDY_REPORT_H

#include "study/config.h"
#include "study/plan.h"

/* The in-process step that writes both (a study_step's `local`). */
ncmp_status study_write_results(const study_config *c, const study_plan *p, ncmp_error *err);

/* Append that step to a plan: its inputs are every JSON result of the
 * earlier steps, its outputs results.csv and the report folder. */
ncmp_status study_plan_add_results(const study_config *c, study_plan *p, ncmp_error *err);

#endif
