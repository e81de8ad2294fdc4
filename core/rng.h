/* Seeded pseudo-random numbers with a stable, documented stream.
 *
 * Generator: xoshiro256** (Blackman & Vigna 2018), state filled from the
 * 64-bit seed by SplitMix64.  The sequence for a given seed is part of
 * neurocmp's contract (random projections, initial weights and simulated data
 * depend on it) and will not change between versions; tests pin it against an
 * independent Python implementation (tests/gen_core_fixtures.py).
 * Normal deviates use the polar-free Box-Muller transform, two per pair of
 * uniforms, in order.  One generator per thread; the struct is plain data.
 */
#ifndef NCMP_CORE_RNG_H
#define NCMP_CORE_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct ncmp_rng {
    uint64_t s[4];
    double cached_normal;
    int has_cached_normal;
} ncmp_rng;

void ncmp_rng_seed(ncmp_rng *rng, uint64_t seed);
/* Independent stream number `stream` of a seed (e.g. one per layer). */
void ncmp_rng_seed_stream(ncmp_rng *rng, uint64_t seed, uint64_t stream);
uint64_t ncmp_rng_next_u64(ncmp_rng *rng);
/* Uniform on [0, 1) with 53 random bits. */
double ncmp_rng_uniform(ncmp_rng *rng);
/* Uniform integer in [0, n), unbiased; n must be > 0. */
uint64_t ncmp_rng_below(ncmp_rng *rng, uint64_t n);
/* Standard normal N(0, 1). */
double ncmp_rng_normal(ncmp_rng *rng);
/* Fill with N(mean, std^2). */
void ncmp_rng_fill_normal_f32(ncmp_rng *rng, float *out, size_t n, double mean, double std);
void ncmp_rng_fill_normal_f64(ncmp_rng *rng, double *out, size_t n, double mean, double std);
/* Random permutation of 0..n-1 (Fisher-Yates from the top). */
void ncmp_rng_permutation(ncmp_rng *rng, size_t *out, size_t n);

#endif
