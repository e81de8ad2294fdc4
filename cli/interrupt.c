/* SIGINT/SIGTERM -> a flag (cli/interrupt.h). */
#include "cli/interrupt.h"

#include <stddef.h>
#include <string.h>

static volatile sig_atomic_t *target;

static void on_signal(int sig)
{
    (void)sig;
    if (target)
        *target = 1;
}

void cli_interrupt_begin(cli_interrupt *saved, volatile sig_atomic_t *flag)
{
    target = flag;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &saved->old_int);
    sigaction(SIGTERM, &sa, &saved->old_term);
}

void cli_interrupt_end(const cli_interrupt *saved)
{
    sigaction(SIGINT, &saved->old_int, NULL);
    sigaction(SIGTERM, &saved->old_term, NULL);
    target = NULL;
}
