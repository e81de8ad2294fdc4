/* neurocmp: git-style command-line entry point. */
#include "results/plot.h"
#include "cli/commands.h"
#include "core/dist.h"
#include "core/h5.h"
#include "core/log.h"
#include "core/provenance.h"
#include "core/version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cli_entry commands[] = {
    {"version", "print the neurocmp version and the HDF5, GSL and BLAS actually linked", cmd_version},
    {"inspect", "summarise a neurocmp HDF5 file: datasets, shapes, provenance", cmd_inspect},
    {"arch", "show a network's layers, shapes and cost; check weights and CNN-F routing stability", cmd_arch},
    {"train", "train a CNN or CNN-F on labelled images, backpropagating through every feedback cycle", cmd_train},
    {"eval", "accuracy at every CNN-F iteration, clean and under FGSM/PGD attack", cmd_eval},
    {"export", "run stimuli through a network; write every layer at every iteration to HDF5", cmd_export, true},
    {"neural", "import recordings (NumPy + stimulus ids) into BrainIO netCDF; summarise an assembly", cmd_neural},
    {"ceiling", "split-half noise ceiling of neural recordings, per region and time bin", cmd_ceiling},
    {"simulate-neural", "simulate recordings from activations, with a known best layer/iteration and ceiling",
     cmd_simulate_neural},
    {"score", "predictivity of a layer's activations for neural recordings (PLS, Brain-Score protocol)", cmd_score,
     true},
    {"temporal", "predictivity of every model iteration for every neural time bin, with figures and a report",
     cmd_temporal, true},
    {"compare", "paired test of two models or iterations on the same recordings: bootstrap interval and p-value",
     cmd_compare},
    {"verify", "check that outputs are up to date with their inputs (a study's manifest or their provenance)",
     cmd_verify},
    {"study",
     "run a whole study from one file (train, export, score, temporal, compare, report), skipping what is "
     "up to date",
     cmd_study, true},
    {"batch", "the same as 'study' (the name cluster scripts use: srun -n 64 neurocmp batch --config study.ini)",
     cmd_study, true},
    {"demo", "run the end-to-end demonstration on the bundled data", cmd_demo},
};
enum { N_COMMANDS = sizeof commands / sizeof commands[0] };

static void print_main_help(FILE *s)
{
    fprintf(s, "usage: neurocmp [-q | -v] COMMAND [options] [arguments]\n\n"
               "Compare deep networks (CNN and CNN-F, across feedback iterations) with neural recordings.\n\n"
               "commands:\n");
    for (int i = 0; i < N_COMMANDS; i++)
        fprintf(s, "  %-15s %s\n", commands[i].name, commands[i].summary);
    fprintf(s, "\nglobal options:\n"
               "  -q, --quiet    only print errors (no progress, no info)\n"
               "  -v, --verbose  print debugging detail\n"
               "  -h, --help     show this help; 'neurocmp COMMAND --help' shows a command's options\n"
               "  --version      same as 'neurocmp version'\n"
               "\nexit status: 0 done, 1 bad input or failure (the message says which), 2 bad usage,\n"
               "3 stopped by Ctrl-C/SIGTERM (the partial output is kept: rerun with --resume).\n"
               "\nSee README.md and docs/ for a tour.\n");
}

int cli_report(const ncmp_error *err)
{
    /* A failure every rank agreed on is printed once, by rank 0. */
    if (ncmp_dist_parallel() && ncmp_dist_failure_agreed() && ncmp_dist_rank() != 0)
        return ncmp_status_exit_code(err->status);
    ncmp_log_error("%s", err->message[0] ? err->message : ncmp_status_name(err->status));
    return ncmp_status_exit_code(err->status);
}

int cli_begin(const cli_command *cmd, int argc, char **argv, cli_parsed *parsed)
{
    ncmp_error err;
    ncmp_error_clear(&err);
    if (cli_parse(cmd, argc, argv, parsed, &err) != NCMP_OK) {
        cli_parsed_free(parsed);
        return cli_report(&err);
    }
    if (parsed->help) {
        cli_print_help(cmd, stdout);
        cli_parsed_free(parsed);
        return 0;
    }
    return -1;
}

int cli_start(const cli_command *cmd, int argc, char **argv, ncmp_error *err)
{
    ncmp_error_clear(err);
    cli_parsed p;
    int rc = cli_begin(cmd, argc, argv, &p);
    if (rc < 0)
        cli_parsed_free(&p);
    return rc;
}

/* Run a command on every rank, or on rank 0 alone when it does not share its
 * work (cli_entry.all_ranks).  Under MPI a failure that one rank met alone
 * (not agreed with ncmp_dist_agree) ends every rank: nobody is left waiting in
 * a collective operation, and no output is committed. */
static int run_command(const cli_entry *c, int argc, char **argv)
{
    if (!ncmp_dist_parallel()) {
        return c->run(argc, argv);
    }
    int rc;
    if (c->all_ranks) {
        rc = c->run(argc, argv);
    } else {
        rc = 0;
        if (ncmp_dist_rank() == 0) {
            ncmp_log_info("'%s' runs on rank 0; the other %d ranks wait", c->name, ncmp_dist_size() - 1);
            rc = c->run(argc, argv);
        }
        ncmp_dist_wait_for_root(&rc);
        return rc;
    }
    if (rc != 0 && !ncmp_dist_failure_agreed()) {
        ncmp_log_error("'%s' failed on rank %d of %d: ending every rank (no output is complete)", c->name,
                       ncmp_dist_rank(), ncmp_dist_size());
        ncmp_provenance_clear();
        ncmp_dist_abort(rc);
    }
    return rc;
}

static int finish(int rc)
{
    ncmp_provenance_clear();
    ncmp_dist_finalize();
    return rc;
}

int main(int argc, char **argv)
{
    /* HDF5 1.10 crashes in its atexit cleanup when an earlier H5Fclose failed
     * (disk full while flushing); every file is closed explicitly, so skip it. */
    H5dont_atexit();
    ncmp_h5_quiet();
    /* cairo/fontconfig keep their font caches for the process; release them at exit so
     * leak checkers (the sanitizer build) see a clean process. */
    atexit(ncmp_plot_release_font_caches);
    {
        ncmp_error err;
        ncmp_error_clear(&err);
        if (ncmp_dist_init(&argc, &argv, &err)) {
            ncmp_log_error("%s", err.message);
            return 1;
        }
    }
    /* Threads for BLAS and the engine when --threads is not given: NEUROCMP_THREADS (set for the
     * ranks of an MPI job and the steps they start, docs/scale-out.md), else every core. */
    const char *threads = getenv("NEUROCMP_THREADS");
    if (threads && atoi(threads) > 0)
        ncmp_set_threads(atoi(threads));
    ncmp_provenance_set_command_line(argc, argv);
    /* A step of `neurocmp study`: every output records the study's config (core/provenance.h). */
    const char *study = getenv("NEUROCMP_STUDY_CONFIG");
    if (study && *study) {
        ncmp_error err;
        ncmp_error_clear(&err);
        if (ncmp_provenance_set_study(study, &err)) {
            ncmp_log_error("NEUROCMP_STUDY_CONFIG: %s", err.message);
            return finish(1);
        }
    }
    int i = 1;
    /* Global options before the command. */
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet"))
            ncmp_log_set_level(NCMP_LOG_QUIET);
        else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose"))
            ncmp_log_set_level(NCMP_LOG_DEBUG);
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            print_main_help(stdout);
            return finish(0);
        } else if (!strcmp(argv[i], "--version")) {
            char *args[] = {"version", NULL};
            int rc = cmd_version(1, args);
            return finish(rc);
        } else {
            ncmp_log_error("unknown global option '%s' (see 'neurocmp --help')", argv[i]);
            return finish(2);
        }
    }
    if (i >= argc) {
        print_main_help(stderr);
        return finish(2);
    }
    const char *name = argv[i];
    if (!strcmp(name, "help")) {
        if (i + 1 < argc) {
            char *args[] = {argv[i + 1], "--help", NULL};
            for (int c = 0; c < N_COMMANDS; c++)
                if (!strcmp(commands[c].name, argv[i + 1])) {
                    int rc = commands[c].run(2, args);
                    return finish(rc);
                }
        } else {
            print_main_help(stdout);
            return finish(0);
        }
        name = argv[i + 1];
    }
    for (int c = 0; c < N_COMMANDS; c++) {
        if (!strcmp(commands[c].name, name))
            return finish(run_command(&commands[c], argc - i, argv + i));
    }
    const char *names[N_COMMANDS];
    for (int c = 0; c < N_COMMANDS; c++)
        names[c] = commands[c].name;
    const char *guess = cli_suggest(name, names, N_COMMANDS);
    if (guess)
        ncmp_log_error("unknown command '%s'; did you mean '%s'?", name, guess);
    else
        ncmp_log_error("unknown command '%s' (see 'neurocmp --help')", name);
    return finish(2);
}
