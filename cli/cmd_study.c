/* neurocmp study: run a whole study from one study file, skipping what is
 * up to date (docs/reproducibility.md). */
#include "cli/commands.h"
#include "cli/interrupt.h"
#include "core/dist.h"
#include "core/log.h"
#include "core/paths.h"
#include "study/config.h"
#include "study/plan.h"
#include "study/report.h"
#include "study/results.h"
#include "study/run.h"
#include "study/schedule.h"

#include "core/provenance.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void human_bytes(char *buf, size_t size, double b)
{
    if (b <= 0)
        snprintf(buf, size, "-");
    else if (b < 1e6)
        snprintf(buf, size, "%.0f kB", b / 1e3);
    else if (b < 1e9)
        snprintf(buf, size, "%.0f MB", b / 1e6);
    else
        snprintf(buf, size, "%.1f GB", b / 1e9);
}

static void human_seconds(char *buf, size_t size, double s)
{
    if (s <= 0)
        snprintf(buf, size, "-");
    else if (s < 90)
        snprintf(buf, size, "%.0f s", s < 1 ? 1 : s);
    else if (s < 5400)
        snprintf(buf, size, "%.0f min", s / 60);
    else
        snprintf(buf, size, "%.1f h", s / 3600);
}

static void print_plan(const study_config *c, const study_plan *p)
{
    char *manifest = study_manifest_path(c);
    cli_printf("study %s: %zu steps, outputs in %s\n\n", c->name, p->n_steps, c->out);
    cli_printf("  %-44s %-11s %9s %9s %9s\n", "step", "state", "time", "disk", "memory");
    double total_s = 0, total_d = 0, peak_m = 0;
    for (size_t i = 0; i < p->n_steps; i++) {
        const study_step *s = &p->steps[i];
        bool fresh = manifest && study_step_up_to_date(c, s, manifest);
        char t[32], d[32], m[32];
        human_seconds(t, sizeof t, s->seconds);
        human_bytes(d, sizeof d, s->disk_bytes);
        human_bytes(m, sizeof m, s->memory_bytes);
        cli_printf("  %-44s %-11s %9s %9s %9s\n      %s\n", s->name, fresh ? "up to date" : "to run", t, d, m, s->what);
        if (!fresh) {
            total_s += s->seconds;
            total_d += s->disk_bytes;
        }
        if (s->memory_bytes > peak_m)
            peak_m = s->memory_bytes;
    }
    char t[32], d[32], m[32];
    human_seconds(t, sizeof t, total_s);
    human_bytes(d, sizeof d, total_d);
    human_bytes(m, sizeof m, peak_m);
    cli_printf("\n  to run: about %s, %s of new files, %s of memory at most (rough estimates for 2 cores;\n"
               "  the steps print their own progress)\n",
               t, d, m);
    free(manifest);
}

/* The study's own command line, restored after an in-process step. */
static int study_argc;
static char **study_argv;

/* An export step under MPI, run in this process on every rank at once (study/schedule.h): as its child
 * process would run it, in the output folder, with its own command line and the study file in its
 * provenance; then the study's working folder and command line again. */
static int run_collective(const study_config *c, int argc, char **argv)
{
    int here = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (here < 0 || chdir(c->out) != 0) {
        ncmp_log_error("cannot enter '%s' for an export step", c->out);
        if (here >= 0)
            close(here);
        return 1;
    }
    ncmp_error err;
    ncmp_error_clear(&err);
    ncmp_provenance_set_command_line(argc, argv);
    int rc = 1;
    if (ncmp_provenance_set_study(c->path, &err))
        ncmp_log_error("%s", err.message);
    else {
        /* argv[0] is "neurocmp", then -q when the study is quiet (already the log level here) */
        int first = 1;
        while (first < argc && argv[first][0] == '-')
            first++;
        rc = cmd_export(argc - first, argv + first);
    }
    /* as cli/main.c does: a failure one rank met alone would leave the others waiting in the export */
    if (rc != 0 && ncmp_dist_parallel() && !ncmp_dist_failure_agreed()) {
        char line[1024] = "";
        for (int a = 0; a < argc; a++)
            snprintf(line + strlen(line), sizeof line - strlen(line), "%s%s", a ? " " : "", argv[a]);
        ncmp_log_error("the export step failed on rank %d of %d alone: ending every rank (no output is complete); its "
                       "command, run in '%s':\n  %s",
                       ncmp_dist_rank(), ncmp_dist_size(), c->out, line);
        ncmp_dist_abort(rc);
    }
    ncmp_provenance_clear();
    ncmp_provenance_set_command_line(study_argc, study_argv);
    if (fchdir(here) != 0)
        ncmp_log_warn("cannot return to the study's working folder");
    close(here);
    return rc;
}

int cmd_study(int argc, char **argv)
{
    const char *config = NULL, *check = NULL;
    bool dry_run = false, rerun = false, results_only = false;
    const cli_option options[] = {
        {"config", 'c', CLI_STRING, &config, "FILE.ini", "the study file (docs/reproducibility.md)", NULL, true},
        {"dry-run", 'n', CLI_FLAG, &dry_run, NULL,
         "print the plan (each step, whether it is up to date, estimated time, disk and memory) and stop"},
        {"rerun", 0, CLI_FLAG, &rerun, NULL, "run every step again, even those that are up to date"},
        {"check", 0, CLI_STRING, &check, "expected.json",
         "compare the results with these expected values and tolerances; exit 1 if any is not reproduced"},
        {"results-only", 0, CLI_FLAG, &results_only, NULL,
         "only rewrite results.csv and the report from the steps' outputs"},
    };
    const cli_command cmd = {
        .name = "study",
        .summary = "run a study from one file: train, export, ceiling, score, temporal, compare, report",
        .description = "Runs every step a study file asks for, in order: train (when a model has a training recipe),\n"
                       "eval, import or simulate recordings, export activations, ceilings, score every layer x\n"
                       "iteration, the iteration x time-bin analysis, paired comparisons; then writes OUT/results.csv\n"
                       "(every number, one row each) and OUT/report/. A step runs only when its command or the\n"
                       "content of one of its inputs changed, or an output is missing or modified (SHA-256, recorded\n"
                       "in OUT/manifest.json): run it twice and the second run does nothing. An interrupted run\n"
                       "continues where it stopped (exports and training resume). Every output records the study\n"
                       "file in its provenance; 'neurocmp verify OUT' checks them later.\n"
                       "exit status: 0 done (and --check reproduced), 1 a step failed or a value was not reproduced,\n"
                       "2 bad usage or study file, 3 interrupted (run again to resume).",
        .options = options,
        .n_options = sizeof options / sizeof options[0],
        .max_positional = 0,
    };
    ncmp_error err;
    int rc = cli_start(&cmd, argc, argv, &err);
    if (rc >= 0)
        return rc;
    study_config *c = NULL;
    study_plan *p = NULL;
    if (study_config_read(config, &c, &err))
        return cli_report(&err);
    /* The output folder first: the steps' paths are relative to it, and so their keys.  Under MPI
     * rank 0 makes it before any rank plans; then every rank makes the same plan (study/schedule.h). */
    bool root = ncmp_dist_rank() == 0;
    ncmp_status made = NCMP_OK;
    if (!dry_run && root)
        made = ncmp_make_directories(c->out, &err);
    if (!(made = ncmp_dist_agree(made, &err)) && !(made = study_plan_make(c, &p, &err)))
        made = study_plan_add_results(c, p, &err);
    if (ncmp_dist_agree(made, &err)) {
        study_plan_free(p);
        study_config_free(c);
        return cli_report(&err);
    }
    if (dry_run) {
        if (root)
            print_plan(c, p);
        study_plan_free(p);
        study_config_free(c);
        return 0;
    }
    ncmp_status st = NCMP_OK;
    if (results_only) {
        if (root)
            st = study_write_results(c, p, &err);
        st = ncmp_dist_agree(st, &err);
    } else {
        /* /proc/self/exe in the child is this very binary, even if a rebuild replaced the file meanwhile */
        const char *exe = "/proc/self/exe";
        study_run_options o = {exe, ncmp_log_get_level() <= NCMP_LOG_QUIET, rerun, NULL};
        /* Under MPI an export step is one export over every rank (model/export_dist.c). */
        if (ncmp_dist_parallel() && !getenv("NEUROCMP_STUDY_EXPORT_TASKS")) {
            o.collective = run_collective;
            study_argc = argc;
            study_argv = argv;
        }
        study_run_summary sum;
        volatile sig_atomic_t stop = 0;
        cli_interrupt saved;
        /* Ctrl-C reaches the running step too; it stops cleanly and the study reports it. */
        cli_interrupt_begin(&saved, &stop);
        st = ncmp_dist_parallel() ? study_schedule_run(c, p, &o, &sum, &err) : study_run(c, p, &o, &sum, &err);
        cli_interrupt_end(&saved);
        if (!st && root)
            cli_printf("study %s: %zu steps run, %zu up to date, %.1f s; results in %s/results.csv, report in "
                       "%s/report/index.html\n",
                       c->name, sum.n_run, sum.n_skipped, sum.seconds, c->out, c->out);
        free(sum.ran);
    }
    int code = st ? cli_report(&err) : 0;
    if (!st && check && root) {
        char csv[4200];
        snprintf(csv, sizeof csv, "%s/results.csv", c->out);
        study_table *t = NULL;
        bool passed = false;
        if (study_results_read_csv(csv, &t, &err) || study_results_check(t, check, stdout, &passed, &err))
            code = cli_report(&err);
        else if (!passed) {
            ncmp_log_error("study %s: some expected values were not reproduced (see the table above)", c->name);
            code = 1;
        }
        study_table_free(t);
    }
    if (!st && check) {
        /* rank 0's verdict (already printed) is every rank's exit status, a failure agreed by all */
        ncmp_error quiet;
        ncmp_error_clear(&quiet);
        ncmp_dist_agree(code ? NCMP_ERR_VALUE : NCMP_OK, &quiet);
        long long verdict = code;
        if (ncmp_dist_bcast(&verdict, sizeof verdict, 0, &quiet))
            verdict = 1;
        code = (int)verdict;
    }
    study_plan_free(p);
    study_config_free(c);
    return code;
}
