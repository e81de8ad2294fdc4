/* xoshiro256** with SplitMix64 seeding (Blackman & Vigna, "Scrambled linear
 * pseudorandom number generators", ACM TOMS 2021). */
#include "core/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void ncmp_rng_seed(ncmp_rng *rng, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&x);
    rng->has_cached_normal = 0;
    rng->cached_normal = 0.0;
}

void ncmp_rng_seed_stream(ncmp_rng *rng, uint64_t seed, uint64_t stream)
{
    /* Mix the stream number through SplitMix64 so nearby streams are unrelated. */
    uint64_t x = stream;
    ncmp_rng_seed(rng, seed ^ splitmix64(&x));
}

uint64_t ncmp_rng_next_u64(ncmp_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double ncmp_rng_uniform(ncmp_rng *rng)
{
    return (double)(ncmp_rng_next_u64(rng) >> 11) * 0x1.0p-53;
}

uint64_t ncmp_rng_below(ncmp_rng *rng, uint64_t n)
{
    /* Rejection on the top of the range: unbiased and portable. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t r;
    do
        r = ncmp_rng_next_u64(rng);
    while (r >= limit);
    return r % n;
}

double ncmp_rng_normal(ncmp_rng *rng)
{
    if (rng->has_cached_normal) {
        rng->has_cached_normal = 0;
        return rng->cached_normal;
    }
    double u1 = 1.0 - ncmp_rng_uniform(rng); /* (0, 1]: log is finite */
    double u2 = ncmp_rng_uniform(rng);
    double r = sqrt(-2.0 * log(u1));
    double theta = 6.283185307179586 * u2; /* 2*pi, as Python math.tau */
    rng->cached_normal = r * sin(theta);
    rng->has_cached_normal = 1;
    return r * cos(theta);
}

void ncmp_rng_fill_normal_f32(ncmp_rng *rng, float *out, size_t n, double mean, double std)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (float)(mean + std * ncmp_rng_normal(rng));
}

void ncmp_rng_fill_normal_f64(ncmp_rng *rng, double *out, size_t n, double mean, double std)
{
    for (size_t i = 0; i < n; i++)
        out[i] = mean + std * ncmp_rng_normal(rng);
}

void ncmp_rng_permutation(ncmp_rng *rng, size_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)ncmp_rng_below(rng, i);
        size_t tmp = out[i - 1];
        out[i - 1] = out[j];
        out[j] = tmp;
    }
}
