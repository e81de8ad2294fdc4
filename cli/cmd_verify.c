/* neurocmp verify: are a study's outputs (or any neurocmp outputs) still what their inputs make? (results/verify.h)
 *
 * Exit status, most severe first (a file that could not be read outranks everything, since nothing could be
 * said about it):
 *   1  a file could not be read: not a neurocmp output, damaged, or a damaged manifest (or a failed recompute)
 *   6  an output was modified or is missing (or recomputes to other numbers, or its step never finished)
 *   5  an input is missing
 *   4  an output is stale: an input, or an upstream step, changed since it was made
 *   0  everything is up to date
 *   2  usage error (3, interrupted, is the tool's own)
 */
#include "cli/commands.h"
#include "core/log.h"
#include "results/verify.h"

#include <stdio.h>

enum { VERIFY_EXIT_STALE = 4, VERIFY_EXIT_MISSING_INPUT = 5, VERIFY_EXIT_MODIFIED = 6 };

static int exit_code(ncmp_verify_state worst)
{
    switch (worst) {
    case NCMP_VERIFY_UP_TO_DATE:
        return 0;
    case NCMP_VERIFY_STALE:
        return VERIFY_EXIT_STALE;
    case NCMP_VERIFY_MISSING_INPUT:
        return VERIFY_EXIT_MISSING_INPUT;
    case NCMP_VERIFY_INCOMPLETE:
    case NCMP_VERIFY_MODIFIED:
        return VERIFY_EXIT_MODIFIED;
    default:
        return 1;
    }
}

/* One line per file: "stale       PATH  (why)"; problems always, up-to-date files unless -q. */
static void print_items(const ncmp_verify_report *r, size_t from)
{
    for (size_t i = from; i < r->n_items; i++) {
        const ncmp_verify_item *it = &r->items[i];
        const char *name = ncmp_verify_state_name(it->state);
        if (it->state == NCMP_VERIFY_UP_TO_DATE) {
            cli_printf("%-11s %s%s%s%s\n", name, it->path, it->note ? "  (" : "", it->note ? it->note : "",
                       it->note ? ")" : "");
            continue;
        }
        printf("%-11s %s%s%s%s\n", name, it->path, it->reason ? "  (" : "", it->reason ? it->reason : "",
               it->reason ? ")" : "");
        if (it->note)
            cli_printf("            %s\n", it->note);
    }
    fflush(stdout);
}

int cmd_verify(int argc, char **argv)
{
    ncmp_verify_options o;
    ncmp_verify_options_default(&o);
    bool recompute = false;
    double tolerance = o.tolerance;
    const cli_option options[] = {
        {.name = "recompute",
         .kind = CLI_FLAG,
         .target = &recompute,
         .help = "rerun the cheap steps (scores) whose inputs are up to date, into a temporary folder, and "
                 "compare the numbers of their JSON/CSV outputs with the recorded ones"},
        {.name = "tolerance",
         .kind = CLI_DOUBLE,
         .target = &tolerance,
         .metavar = "X",
         .help = "--recompute: agree when |recomputed - recorded| <= X max(1, |recorded|); the same activations, "
                 "splits and double arithmetic leave only summation-order rounding"},
    };
    const cli_command cmd = {
        .name = "verify",
        .usage = "DIR|FILE...",
        .summary = "Check that outputs are up to date with their inputs; optionally recompute cheap steps.",
        .description =
            "A DIR holding manifest.json (a `neurocmp study` folder): every output of every finished step is\n"
            "re-hashed (SHA-256) and compared with the manifest, and every input with what the step read; a step\n"
            "reading another step's output is stale when that step is.  A FILE (or a folder without manifest):\n"
            "checked through a manifest.json in its folder or up to 3 folders above that lists it, else through\n"
            "the inputs' hashes it records itself (HDF5/netCDF-4 attributes, the \"provenance\" of JSON results);\n"
            "without a manifest the file's own content cannot be checked.  One line per file, then a summary;\n"
            "-q prints only the problems, -v shows recomputed steps' output.  See docs/verify.md.\n"
            "\n"
            "exit status (the most severe wins): 1 a file could not be read (not a neurocmp output, damaged,\n"
            "a damaged manifest, a failed recompute); 6 an output was modified or is missing, recomputes to other\n"
            "numbers, or its step never finished; 5 an input is missing; 4 an output is stale (an input changed\n"
            "since it was made); 0 everything up to date; 2 usage error.",
        .options = options,
        .n_options = sizeof options / sizeof options[0],
        .min_positional = 1,
        .max_positional = -1,
    };
    cli_parsed p;
    int rc = cli_begin(&cmd, argc, argv, &p);
    if (rc >= 0)
        return rc;
    ncmp_error err;
    ncmp_error_clear(&err);
    if (!(tolerance >= 0 && tolerance < 1)) {
        cli_parsed_free(&p);
        ncmp_fail(&err, NCMP_ERR_USAGE, "--tolerance must be in [0, 1), got %g", tolerance);
        return cli_report(&err);
    }
    o.recompute = recompute;
    o.tolerance = tolerance;
    o.show_step_output = ncmp_log_get_level() >= NCMP_LOG_DEBUG;
    ncmp_verify_report r;
    ncmp_verify_report_init(&r);
    size_t printed = 0;
    ncmp_status st = NCMP_OK;
    for (int i = 0; i < p.n_positional && !st; i++) {
        st = ncmp_verify_path(p.positional[i], &o, &r, &err);
        print_items(&r, printed);
        printed = r.n_items;
    }
    cli_parsed_free(&p);
    if (st) {
        ncmp_verify_report_free(&r);
        return cli_report(&err);
    }
    for (size_t i = 0; i < r.n_notes; i++)
        printf("note: %s\n", r.notes[i]);
    ncmp_verify_state worst = ncmp_verify_worst(&r);
    if (worst != NCMP_VERIFY_UP_TO_DATE || ncmp_log_get_level() >= NCMP_LOG_INFO) {
        printf("%zu file%s: ", r.n_items, r.n_items == 1 ? "" : "s");
        bool first = true;
        for (int s = 0; s < NCMP_VERIFY_N_STATES; s++)
            if (r.count[s] || (s == NCMP_VERIFY_UP_TO_DATE && !r.n_items)) {
                printf("%s%zu %s", first ? "" : ", ", r.count[s], ncmp_verify_state_name((ncmp_verify_state)s));
                first = false;
            }
        printf("\n");
    }
    ncmp_verify_report_free(&r);
    return exit_code(worst);
}
