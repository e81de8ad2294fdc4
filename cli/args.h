/* Option parsing for neurocmp subcommands: --long VALUE, --long=VALUE,
 * -s VALUE, flags, `--` to end options; help text lists every option with
 * its default; unknown options are rejected with the nearest known name. */
#ifndef NCMP_CLI_ARGS_H
#define NCMP_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/status.h"

typedef enum cli_option_kind { CLI_FLAG, CLI_STRING, CLI_INT, CLI_DOUBLE } cli_option_kind;

typedef struct cli_option {
    const char *name; /* long name without dashes */
    char short_name;  /* 0 if none */
    cli_option_kind kind;
    void *target;        /* bool*, const char**, long*, double*; its initial value is the default */
    const char *metavar; /* e.g. "FILE" */
    const char *help;
    const char *alias; /* another long name accepted for it (e.g. "iterations" for "iteration"), or NULL */
    bool required;     /* a CLI_STRING that must be given: cli_parse fails naming it */
    bool output;       /* a CLI_STRING output path: when it exists and the command's --force is not given,
                          cli_parse fails with "'PATH' exists; use --force to replace it" */
} cli_option;

typedef struct cli_command {
    const char *name;        /* "inspect" */
    const char *usage;       /* "FILE" — positional part of the synopsis */
    const char *summary;     /* one line for `neurocmp --help` */
    const char *description; /* paragraph(s) for `neurocmp CMD --help` */
    const cli_option *options;
    size_t n_options;
    int min_positional, max_positional; /* max < 0: unlimited */
} cli_command;

typedef struct cli_parsed {
    char **positional; /* points into argv */
    int n_positional;
    bool help; /* --help was given: caller prints help and exits 0 */
} cli_parsed;

/* Parse argv[1..argc-1] (argv[0] is the subcommand name).  -q/--quiet,
 * -v/--verbose and -h/--help are accepted by every command; -q/-v set the
 * log level.  On an error the message names the option and suggests one.
 * Then the prologue every command shares: the positional count, every
 * required option given (all missing ones named), and no output option
 * naming an existing path unless --force (an option named "force") is set. */
ncmp_status cli_parse(const cli_command *cmd, int argc, char **argv, cli_parsed *out, ncmp_error *err);
void cli_parsed_free(cli_parsed *p);

void cli_print_help(const cli_command *cmd, FILE *stream);

/* printf to stdout unless -q was given: tables, summaries and "wrote" lines. */
void cli_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Closest of `candidates` to `word` within a small edit distance, else NULL. */
const char *cli_suggest(const char *word, const char *const *candidates, size_t n);

/* --time-window START:END in ms (START < END, both finite); with allow_none,
 * "none" gives NaN for both.  Errors name the option and the text. */
ncmp_status cli_parse_time_window(const char *text, bool allow_none, double *start, double *end, ncmp_error *err);

#endif
