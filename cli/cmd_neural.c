/* neurocmp neural: bring recordings into BrainIO form (import) and summarise them (info). */
#include "cli/commands.h"
#include "core/log.h"
#include "neural/assembly.h"
#include "neural/io.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* --bin-starts: a comma list, or START:STEP for n evenly spaced bins. */
static ncmp_status parse_bin_starts(const char *text, size_t n, double **out, size_t *count, ncmp_error *err)
{
    *out = NULL;
    *count = 0;
    const char *colon = strchr(text, ':');
    size_t k = colon ? n : 1;
    for (const char *c = text; !colon && *c; c++)
        k += *c == ',';
    double *v = calloc(k ? k : 1, sizeof *v);
    if (!v)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    char *end;
    if (colon) {
        double a = strtod(text, &end), step;
        bool ok = end == colon && isfinite(a);
        step = strtod(colon + 1, &end);
        if (!ok || *end || !(step > 0) || !isfinite(step)) {
            free(v);
            return ncmp_fail(err, NCMP_ERR_USAGE, "--bin-starts '%s': expected T0,T1,... or START:STEP (ms)", text);
        }
        for (size_t i = 0; i < k; i++)
            v[i] = a + (double)i * step;
    } else {
        const char *p = text;
        for (size_t i = 0; i < k; i++) {
            v[i] = strtod(p, &end);
            if (end == p || (*end && *end != ',') || !isfinite(v[i]) || (i && !(v[i] > v[i - 1]))) {
                free(v);
                return ncmp_fail(err, NCMP_ERR_USAGE,
                                 "--bin-starts '%s': expected increasing numbers T0,T1,... or START:STEP (ms)", text);
            }
            p = end + (*end == ',');
        }
    }
    *out = v;
    *count = k;
    return NCMP_OK;
}

static int neural_import(int argc, char **argv)
{
    const char *npy = NULL, *stimuli = NULL, *region = NULL, *animal = NULL, *out = NULL, *bin_starts = NULL;
    double bin_size = 0;
    bool force = false;
    const cli_option options[] = {
        {"npy", 0, CLI_STRING, &npy, "FILE.npy",
         "responses: neurons x stimuli x repeats [x time bins] (or neurons x stimuli), float64/float32 or integer "
         "counts, NaN = missing",
         .required = true},
        {"stimuli", 0, CLI_STRING, &stimuli, "DIR|ZIP|CSV|TXT",
         "stimulus ids in row order: image folder or ZIP (file stems, sorted by name), CSV with a stimulus_id "
         "column (and object_name, kept for stratified splits), or a text file with one id per line",
         .required = true},
        {"region", 0, CLI_STRING, &region, "R", "brain region of every neuron, e.g. V4", .required = true},
        {"animal", 0, CLI_STRING, &animal, "NAME", "animal of every neuron (adds an `animal` coordinate)"},
        {"bin-starts", 0, CLI_STRING, &bin_starts, "T0,T1,..|START:STEP",
         "4-D responses: the start of each time bin in ms (a list, or evenly spaced)"},
        {"bin-size", 0, CLI_DOUBLE, &bin_size, "MS", "4-D responses: the length of every time bin in ms"},
        {"out", 'o', CLI_STRING, &out, "FILE.nc", "BrainIO netCDF-4 file to write", .required = true, .output = true},
        {"force", 'f', CLI_FLAG, &force, NULL, "replace an existing --out file"},
    };
    const cli_command cmd = {
        .name = "neural import",
        .usage = "",
        .summary = "Turn a NumPy response array and its stimulus ids into a BrainIO assembly.",
        .description = "Each (stimulus, repeat) with at least one value becomes a presentation with coordinates\n"
                       "stimulus_id and repetition (repeats that are NaN for every neuron are dropped; other NaNs\n"
                       "stay NaN). Neuroids get neuroid_id neuron000..., region and animal. The file opens with\n"
                       "xarray.open_dataarray and in 'neurocmp ceiling'.",
        .options = options,
        .n_options = sizeof options / sizeof options[0],
        .min_positional = 0,
        .max_positional = 0,
    };
    ncmp_error err;
    int rc = cli_start(&cmd, argc, argv, &err);
    if (rc >= 0)
        return rc;
    ncmp_npy_array x = {0};
    char **ids = NULL, **labels = NULL;
    size_t n_ids = 0;
    double *starts = NULL;
    ncmp_assembly *a = NULL;
    if (ncmp_npy_read(npy, &x, &err) || ncmp_stimulus_table_read(stimuli, &ids, &labels, &n_ids, &err))
        goto fail;
    ncmp_import_options o = {region, animal, npy, (const char *const *)labels, NULL, 0, bin_size};
    if (bin_starts) {
        size_t nb = x.ndim == 4 ? x.shape[3] : 0;
        if (parse_bin_starts(bin_starts, nb, &starts, &o.n_bin_starts, &err))
            goto fail;
        o.bin_starts = starts;
    }
    if (ncmp_assembly_from_responses(&x, (const char *const *)ids, n_ids, &o, &a, &err))
        goto fail;
    ncmp_input_file inputs[2] = {{"responses", npy}, {"stimuli", stimuli}};
    /* A folder cannot be hashed as one file; record only the responses then. */
    struct stat sb;
    size_t n_inputs = stat(stimuli, &sb) == 0 && S_ISREG(sb.st_mode) ? 2 : 1;
    if (ncmp_assembly_write_netcdf(a, out, force, inputs, n_inputs, &err))
        goto fail;
    size_t dropped = (x.ndim >= 3 ? x.shape[1] * x.shape[2] : x.shape[1]) - a->n_presentations;
    cli_printf("wrote %s: %zu presentations (%zu stimuli%s%zu empty repeats dropped) x %zu neuroids", out,
               a->n_presentations, n_ids, x.ndim >= 3 ? ", " : "; ", dropped, a->n_neuroids);
    if (a->has_time_bins)
        cli_printf(" x %zu time bins of %g ms", a->n_time_bins, bin_size);
    cli_printf(", region %s%s\n", region, labels ? "; object_name kept" : "");
    rc = 0;
    goto done;
fail:
    rc = cli_report(&err);
done:
    ncmp_assembly_free(a);
    ncmp_stimulus_ids_free(ids, n_ids);
    ncmp_stimulus_ids_free(labels, labels ? n_ids : 0);
    free(starts);
    ncmp_npy_release(&x);
    return rc;
}

static void print_coords(const char *dim, const ncmp_coord_list *list)
{
    for (size_t c = 0; c < list->n_coords; c++) {
        const ncmp_coord *co = &list->coords[c];
        char buf[64];
        printf("  %-13s %-16s %-7s", dim, co->name,
               co->kind == NCMP_COORD_STRING  ? "string"
               : co->kind == NCMP_COORD_INT64 ? "int64"
                                              : "float64");
        for (size_t i = 0; i < list->length && i < 4; i++)
            printf(" %s", ncmp_coord_value_text(co, i, buf, sizeof buf));
        printf("%s\n", list->length > 4 ? " ..." : "");
    }
}

static int neural_info(int argc, char **argv)
{
    const cli_command cmd = {
        .name = "neural info",
        .usage = "FILE.nc",
        .summary = "Summarise a BrainIO assembly: dimensions, coordinates, regions, repetitions, missing trials.",
        .description = "Reads the file as 'neurocmp ceiling' and 'score' do, so it also checks it.",
        .options = NULL,
        .n_options = 0,
        .min_positional = 1,
        .max_positional = 1,
    };
    cli_parsed p;
    int rc = cli_begin(&cmd, argc, argv, &p);
    if (rc >= 0)
        return rc;
    const char *path = p.positional[0];
    cli_parsed_free(&p);
    ncmp_error err;
    ncmp_assembly *a;
    if (ncmp_assembly_read_netcdf(path, &a, &err))
        return cli_report(&err);
    size_t total = a->n_presentations * a->n_neuroids * a->n_time_bins, nan = 0;
    for (size_t i = 0; i < total; i++)
        nan += a->data[i] != a->data[i];
    printf("%s: '%s', %zu presentations x %zu neuroids x %zu time bins%s\n", path, a->name, a->n_presentations,
           a->n_neuroids, a->n_time_bins, a->has_time_bins ? "" : " (no time_bin dimension)");
    printf("missing (NaN): %zu of %zu values (%.1f%%)\n", nan, total, total ? 100.0 * (double)nan / (double)total : 0);
    print_coords("presentation", &a->presentation);
    print_coords("neuroid", &a->neuroid);
    for (size_t t = 0; a->has_time_bins && t < a->n_time_bins; t++)
        printf("  %-13s %g-%g ms\n", t ? "" : "time_bin", a->time_bin_start[t], a->time_bin_end[t]);
    for (size_t i = 0; i < a->n_attributes; i++)
        printf("  attribute     %s = %s\n", a->attribute_names[i], a->attribute_values[i]);
    ncmp_assembly_free(a);
    return 0;
}

int cmd_neural(int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : NULL;
    if (sub && !strcmp(sub, "import"))
        return neural_import(argc - 1, argv + 1);
    if (sub && !strcmp(sub, "info"))
        return neural_info(argc - 1, argv + 1);
    if (sub && (!strcmp(sub, "--help") || !strcmp(sub, "-h"))) {
        printf("usage: neurocmp neural import|info [options]\n\n"
               "  import  turn a NumPy response array and its stimulus ids into a BrainIO assembly (.nc)\n"
               "  info    summarise a BrainIO assembly\n\n"
               "'neurocmp neural SUBCOMMAND --help' lists each one's options.\n");
        return 0;
    }
    if (sub) {
        const char *names[] = {"import", "info"};
        const char *guess = cli_suggest(sub, names, 2);
        if (guess)
            ncmp_log_error("unknown subcommand 'neural %s'; did you mean '%s'?", sub, guess);
        else
            ncmp_log_error("unknown subcommand 'neural %s' (expected import or info)", sub);
    } else
        ncmp_log_error("neural needs a subcommand: import or info (see 'neurocmp neural --help')");
    return 2;
}
