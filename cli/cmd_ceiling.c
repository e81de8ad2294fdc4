/* neurocmp ceiling: split-half noise ceiling of neural recordings (docs/neural.md, docs/formats.md). */
#include "cli/commands.h"
#include "core/log.h"
#include "neural/assembly.h"
#include "neural/ceiling.h"
#include "neural/io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* "A:B" in ms. */
int cmd_ceiling(int argc, char **argv)
{
    const char *neural = NULL, *region = NULL, *window = "70:170", *out = NULL;
    bool per_bin = false, force = false;
    long splits = 10;
    const cli_option options[] = {
        {"neural", 0, CLI_STRING, &neural, "FILE.nc", "recordings: a BrainIO NeuroidAssembly netCDF-4 file",
         .required = true},
        {"region", 0, CLI_STRING, &region, "R", "only the neuroids of this region (default: all)"},
        {"time-window", 0, CLI_STRING, &window, "A:B", "average the time bins inside A..B ms"},
        {"per-bin", 0, CLI_FLAG, &per_bin, NULL, "one ceiling per time bin instead of a window"},
        {"splits", 0, CLI_INT, &splits, "K", "number of random halvings of the repetitions"},
        {"out", 'o', CLI_STRING, &out, "FILE.json", "write the result as JSON (docs/formats.md, Score results)",
         .output = true},
        {"force", 'f', CLI_FLAG, &force, NULL, "replace an existing --out file"},
    };
    const cli_command cmd = {
        .name = "ceiling",
        .usage = "",
        .summary = "Split-half noise ceiling of neural recordings.",
        .description = "Halves the repetitions 10 times exactly as scikit-learn's ShuffleSplit(train_size=0.5,\n"
                       "random_state=1) does, averages each half per stimulus (NaN = missing trial, skipped),\n"
                       "correlates the halves per neuroid across stimuli, applies Spearman-Brown 2r/(1+r), and\n"
                       "reports the median over neuroids averaged over the halvings, with its standard error\n"
                       "(docs/scoring.md). Data without a repetition coordinate (already averaged) is refused.",
        .options = options,
        .n_options = sizeof options / sizeof options[0],
        .min_positional = 0,
        .max_positional = 0,
    };
    ncmp_error err;
    int rc = cli_start(&cmd, argc, argv, &err);
    if (rc >= 0)
        return rc;
    if (splits < 1 || splits > 10000) {
        ncmp_fail(&err, NCMP_ERR_USAGE, "--splits must be in 1..10000, got %ld", splits);
        return cli_report(&err);
    }
    double w0 = NAN, w1 = NAN;
    if (!per_bin && cli_parse_time_window(window, false, &w0, &w1, &err))
        return cli_report(&err);
    ncmp_assembly *a = NULL, *sel = NULL, *win = NULL;
    ncmp_ceiling *c = NULL;
    if (ncmp_assembly_read_netcdf(neural, &a, &err))
        goto fail;
    if (region && ncmp_assembly_select_regions(a, &region, 1, &sel, &err))
        goto fail;
    const ncmp_assembly *src = sel ? sel : a;
    if (!src->has_time_bins) {
        if (!per_bin && strcmp(window, "70:170"))
            ncmp_log_warn("%s has no time bins; --time-window does not apply", neural);
        w0 = w1 = NAN;
    } else if (!per_bin) {
        if (ncmp_assembly_time_window(src, w0, w1, &win, &err))
            goto fail;
        src = win;
    }
    ncmp_ceiling_options o = {(int)splits, 1};
    if (ncmp_ceiling_split_half(src, &o, &c, &err))
        goto fail;
    cli_printf("split-half ceiling of %s%s%s (Spearman-Brown; %zu halvings of %zu repetitions)\n", neural,
               region ? ", region " : "", region ? region : "", c->n_splits, c->n_repetitions);
    cli_printf("%zu neuroids, %zu stimuli, %zu presentations\n\n", c->n_neuroids, c->n_stimuli, src->n_presentations);
    cli_printf("  %-16s %10s %10s\n", "time bin (ms)", "ceiling", "error");
    for (size_t t = 0; t < c->n_time_bins; t++) {
        char label[64] = "all";
        if (src->has_time_bins)
            snprintf(label, sizeof label, "%g-%g", src->time_bin_start[t], src->time_bin_end[t]);
        cli_printf("  %-16s %10.4f %10.4f\n", label, c->ceiling[t], c->error[t]);
    }
    if (out) {
        ncmp_ceiling_report rep = {neural,
                                   region,
                                   w0,
                                   w1,
                                   src->has_time_bins ? src->time_bin_start : NULL,
                                   src->has_time_bins ? src->time_bin_end : NULL};
        if (ncmp_ceiling_write_json(c, &rep, out, &err))
            goto fail;
        cli_printf("\nwrote %s\n", out);
    }
    ncmp_ceiling_free(c);
    ncmp_assembly_free(win);
    ncmp_assembly_free(sel);
    ncmp_assembly_free(a);
    return 0;
fail:
    ncmp_ceiling_free(c);
    ncmp_assembly_free(win);
    ncmp_assembly_free(sel);
    ncmp_assembly_free(a);
    return cli_report(&err);
}
