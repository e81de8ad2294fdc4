/* neurocmp simulate-neural: synthetic BrainIO recordings with a known answer, from an activations file. */
#include "cli/commands.h"
#include "core/log.h"
#include "neural/io.h"
#include "neural/simulate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_simulate_neural(int argc, char **argv)
{
    const char *activations = NULL, *bins = NULL, *noise = "gaussian", *region = "SIM", *out = NULL;
    long neuroids = 40, repetitions = 10, units = 64, objects = 8, seed = 0;
    double snr = 1, rate = 100, modulation = 0.25, start_ms = 70, bin_ms = 20;
    bool force = false;
    const cli_option options[] = {
        {"activations", 0, CLI_STRING, &activations, "FILE.h5", "model activations (docs/formats.md, Activations)",
         .required = true},
        {"bins", 0, CLI_STRING, &bins, "L@I,...",
         "source of each time bin: LAYER@ITERATION, comma-separated, e.g. block4@0,block4@1,block4@2",
         .required = true},
        {"neuroids", 0, CLI_INT, &neuroids, "N", "number of synthetic neuroids"},
        {"repetitions", 0, CLI_INT, &repetitions, "R", "repetitions of every stimulus"},
        {"snr", 0, CLI_DOUBLE, &snr, "S", "per-trial signal variance / repetition-noise variance"},
        {"noise", 0, CLI_STRING, &noise, "MODEL", "gaussian (z + noise) or poisson (spike counts)"},
        {"rate", 0, CLI_DOUBLE, &rate, "HZ", "poisson: mean firing rate"},
        {"modulation", 0, CLI_DOUBLE, &modulation, "M",
         "poisson: rate change per unit of signal, as a fraction of the mean"},
        {"start-ms", 0, CLI_DOUBLE, &start_ms, "MS", "start of the first time bin"},
        {"bin-ms", 0, CLI_DOUBLE, &bin_ms, "MS", "width of the time bins"},
        {"units", 0, CLI_INT, &units, "K", "model units each neuroid reads out"},
        {"objects", 0, CLI_INT, &objects, "K", "object_name labels, assigned to stimuli in turn"},
        {"region", 0, CLI_STRING, &region, "R", "region of the synthetic neuroids"},
        {"seed", 0, CLI_INT, &seed, "S", "random seed"},
        {"out", 'o', CLI_STRING, &out, "FILE.nc", "BrainIO netCDF-4 file to write", .required = true, .output = true},
        {"force", 'f', CLI_FLAG, &force, NULL, "replace an existing --out file"},
    };
    const cli_command cmd = {
        .name = "simulate-neural",
        .usage = "",
        .summary = "Simulate recordings from an activations file, with a known best layer/iteration and ceiling.",
        .description =
            "Each neuroid reads out a fixed random combination of K units of the layer and iteration named\n"
            "for each time bin, standardised over stimuli, plus repetition noise of the given SNR (and Poisson\n"
            "spiking). The file records the ground truth (simulation_bins) and the ceiling it implies\n"
            "(simulation_expected_ceiling); see docs/neural.md.",
        .options = options,
        .n_options = sizeof options / sizeof options[0],
        .min_positional = 0,
        .max_positional = 0,
    };
    ncmp_error err;
    int rc = cli_start(&cmd, argc, argv, &err);
    if (rc >= 0)
        return rc;
    ncmp_simulate_options o;
    ncmp_simulate_defaults(&o);
    if (strcmp(noise, "gaussian") && strcmp(noise, "poisson")) {
        ncmp_fail(&err, NCMP_ERR_USAGE, "--noise '%s': expected gaussian or poisson", noise);
        return cli_report(&err);
    }
    if (neuroids < 1 || repetitions < 1 || units < 1 || objects < 1 || seed < 0 || neuroids > 1000000 ||
        repetitions > 10000) {
        ncmp_fail(&err, NCMP_ERR_USAGE, "--neuroids, --repetitions, --units and --objects must be >= 1, --seed >= 0");
        return cli_report(&err);
    }
    o.noise = strcmp(noise, "poisson") ? NCMP_NOISE_GAUSSIAN : NCMP_NOISE_POISSON;
    o.n_neuroids = (size_t)neuroids;
    o.n_repetitions = (size_t)repetitions;
    o.units_per_neuroid = (size_t)units;
    o.n_objects = (size_t)objects;
    o.snr = snr;
    o.rate_hz = rate;
    o.modulation = modulation;
    o.start_ms = start_ms;
    o.bin_ms = bin_ms;
    o.region = region;
    o.seed = (uint64_t)seed;
    char *storage = NULL;
    ncmp_assembly *a = NULL;
    if (ncmp_simulate_parse_bins(bins, &o, &storage, &err) || ncmp_simulate_responses(activations, &o, &a, &err))
        goto fail;
    char buf[64];
    double expected = ncmp_simulate_expected_ceiling(&o);
    snprintf(buf, sizeof buf, "%.17g", expected);
    ncmp_input_file in = {"activations", activations};
    if (ncmp_assembly_set_attribute(a, "simulation_bins", bins, &err) ||
        ncmp_assembly_set_attribute(a, "simulation_noise", noise, &err) ||
        ncmp_assembly_set_attribute(a, "simulation_expected_ceiling", buf, &err) ||
        ncmp_assembly_write_netcdf(a, out, force, &in, 1, &err))
        goto fail;
    cli_printf("wrote %s: %zu presentations (%zu stimuli x %zu repetitions) x %zu neuroids x %zu time bins of %g ms\n",
               out, a->n_presentations, a->n_presentations / o.n_repetitions, o.n_repetitions, a->n_neuroids,
               a->n_time_bins, o.bin_ms);
    cli_printf("ground truth: %s; expected ceiling %.4f (%s noise)\n", bins, expected, noise);
    ncmp_assembly_free(a);
    free(storage);
    return 0;
fail:
    ncmp_assembly_free(a);
    free(storage);
    return cli_report(&err);
}
