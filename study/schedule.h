/* A study under MPI (docs/scale-out.md): its steps spread over the ranks as
 * independent tasks, each started once the steps making its inputs are done.
 *
 * Rank 0 leads: it holds the output folder's lock and the manifest, decides
 * which steps are up to date (the same keys as study_run), hands each ready
 * step to an idle rank (itself included) and, when a rank reports the step's
 * exit status, hashes its outputs and records it in manifest.json, so an
 * interrupted study keeps every finished step.  The other ranks run the steps
 * they are given as child processes (the same argv as study_run, in the
 * output folder, NEUROCMP_NO_MPI=1) and report back.  In-process steps (the
 * results table and report) run on rank 0 once every other step is done.
 *
 * Export steps are sharded instead: once the running steps end, every rank
 * runs the export in-process (o->collective; cli/cmd_study.c calls
 * cmd_export), the stimuli split over the ranks and one file written with
 * parallel HDF5 (model/export_dist.c); nothing else starts until it ends.
 * With NEUROCMP_STUDY_EXPORT_TASKS=1 in the environment exports are ordinary
 * one-rank steps (several models' exports then run side by side).
 *
 * A failed step stops the study: rank 0 stops the steps still running (an
 * export or training resumes on the next run), and every rank returns the
 * same error (ncmp_dist_agree), naming the step, its rank and its command.
 */
#ifndef NCMP_STUDY_SCHEDULE_H
#define NCMP_STUDY_SCHEDULE_H

#include "study/run.h"

/* Collective: every rank calls it with the same study (checked: the study
 * file's SHA-256 and the number of steps must agree).  sum is filled on rank
 * 0 (steps run, skipped, seconds); every rank gets the same status. */
ncmp_status study_schedule_run(const study_config *c, const study_plan *p, const study_run_options *o,
                               study_run_summary *sum, ncmp_error *err);

/* True when step `later` reads a file that step `earlier` writes (or one
 * under a folder it writes): `later` waits for it. */
bool study_step_depends_on(const study_step *later, const study_step *earlier);

#endif
