/* The neurocmp subcommands: each parses its arguments, calls the library and
 * returns the process exit code (0 ok, 1 failure, 2 usage error). */
#ifndef NCMP_CLI_COMMANDS_H
#define NCMP_CLI_COMMANDS_H

#include <stdbool.h>
#include "cli/args.h"

typedef struct cli_entry {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
    /* Under MPI (docs/scale-out.md): true when the command shares its work over
     * every rank; otherwise rank 0 runs it alone and the other ranks wait. */
    bool all_ranks;
} cli_entry;

int cmd_version(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_arch(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_ceiling(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_temporal(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_neural(int argc, char **argv);
int cmd_simulate_neural(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_study(int argc, char **argv);

/* The prologue of a command without positional arguments: parse (required
 * options and --force checked by the parser), print help or the error, clear
 * err; returns -1 to continue, else the exit code to return. */
int cli_start(const cli_command *cmd, int argc, char **argv, ncmp_error *err);
/* Parse, print help or the error; returns -1 to continue, else an exit code. */
int cli_begin(const cli_command *cmd, int argc, char **argv, cli_parsed *parsed);
/* Print "neurocmp: error: <message>" and return the exit code for it. */
int cli_report(const ncmp_error *err);

#endif
