/* Ctrl-C / SIGTERM during a long command: set a flag the library polls
 * between steps, so the command stops cleanly (a resumable partial output,
 * exit 130).  Installed with sigaction; the previous handlers are restored. */
#ifndef NCMP_CLI_INTERRUPT_H
#define NCMP_CLI_INTERRUPT_H

#include <signal.h>

typedef struct cli_interrupt {
    struct sigaction old_int, old_term;
} cli_interrupt;

/* From now on SIGINT and SIGTERM set *flag to 1 (and nothing else). */
void cli_interrupt_begin(cli_interrupt *saved, volatile sig_atomic_t *flag);
/* Restore the handlers cli_interrupt_begin replaced. */
void cli_interrupt_end(const cli_interrupt *saved);

#endif
