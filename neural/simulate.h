/* Simulated neural responses from a model's activations file (docs/formats.md, Activations), with a known answer.
 *
 * Each synthetic neuroid reads out, in time bin b, a fixed random linear
 * combination of k units of the layer and iteration chosen for that bin
 * (the ground truth a temporal analysis should recover).  Per neuroid and
 * bin the readout is standardised across stimuli (mean 0, variance 1) = z.
 * A trial is
 *   gaussian: z + e,                          e ~ N(0, 1/snr)
 *   poisson:  Poisson(max(0, m + a (z + e))) with m = rate_hz * bin_ms / 1000
 *             spikes per bin and a = modulation * m,
 * so the ceiling the recordings imply is, with R repetitions and the
 * per-trial signal-to-noise ratio s = 1 / (1/snr) for gaussian and
 * s = a^2 / (a^2/snr + m) for poisson (clipping at 0 ignored),
 *   ceiling = R s / (R s + 1)   (Spearman-Brown of halves of R/2 trials).
 * Activations are read one stimulus at a time (bounded memory).  The
 * generator is ncmp_rng seeded with `seed`; the same inputs and options give
 * the same file.
 */
#ifndef NCMP_NEURAL_SIMULATE_H
#define NCMP_NEURAL_SIMULATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "neural/assembly.h"

#define NCMP_SIMULATE_MAX_BINS 64

typedef enum ncmp_noise_model { NCMP_NOISE_GAUSSIAN, NCMP_NOISE_POISSON } ncmp_noise_model;

typedef struct ncmp_simulate_options {
    size_t n_neuroids;          /* 40 */
    size_t n_repetitions;       /* 10 */
    size_t units_per_neuroid;   /* 64 (fewer if the layer is smaller) */
    double snr;                 /* per-trial signal variance / repetition-noise variance: 1 */
    ncmp_noise_model noise;     /* gaussian */
    double rate_hz, modulation; /* poisson only: 100 Hz, 0.25 */
    double start_ms, bin_ms;    /* first bin's start and width: 70, 20 */
    size_t n_bins;
    const char *layer[NCMP_SIMULATE_MAX_BINS]; /* source layer of each bin */
    int iteration[NCMP_SIMULATE_MAX_BINS];     /* source iteration (the value in /iteration) of each bin */
    size_t n_objects;                          /* object_name = "object<k>" for stimulus i, k = i mod n_objects: 8 */
    const char *region;                        /* "SIM" */
    uint64_t seed;                             /* 0 */
} ncmp_simulate_options;

/* Defaults as above, with no bins. */
void ncmp_simulate_defaults(ncmp_simulate_options *o);

/* Parse "block4@0,block4@1,block5@2" into o->layer/o->iteration (pointers into a
 * copy that *storage receives; free it after use). */
ncmp_status ncmp_simulate_parse_bins(const char *text, ncmp_simulate_options *o, char **storage, ncmp_error *err);

/* The ceiling the options imply (see above). */
double ncmp_simulate_expected_ceiling(const ncmp_simulate_options *o);

/* Read `activations_path` and draw the assembly (presentations in stimulus
 * order, repetitions 0..R-1 each; neuroids sim000…; bins from start_ms). */
ncmp_status ncmp_simulate_responses(const char *activations_path, const ncmp_simulate_options *o, ncmp_assembly **out,
                                    ncmp_error *err);

#endif
