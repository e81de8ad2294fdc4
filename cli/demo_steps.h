/* The steps of `neurocmp demo`, each saying on the console what it does
 * (cli/demo_steps.c); cli/cmd_demo.c parses the options and calls
 * cli_demo_run.  The analyses and the report are library calls
 * (results/demo_report.h, model/export.h). */
#ifndef NCMP_CLI_DEMO_STEPS_H
#define NCMP_CLI_DEMO_STEPS_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct cli_demo_options {
    const char *out_dir; /* every output goes here; earlier demo files in it are replaced */
    int iterations;      /* CNN-F feedback iterations exported and scored (1..20) */
    size_t batch;        /* images per export batch (results do not depend on it) */
    uint64_t seed;       /* seed of the simulated recordings of the temporal step */
} cli_demo_options;

/* Run the demo; on failure err says what failed (the caller prints it). */
ncmp_status cli_demo_run(const cli_demo_options *options, ncmp_error *err);

#endif
