/* Neural-response simulator: random linear readouts of model activations + repetition noise (+ Poisson spiking). */
#include "neural/simulate.h"

#include "core/h5.h"
#include "core/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ncmp_simulate_defaults(ncmp_simulate_options *o)
{
    memset(o, 0, sizeof *o);
    o->n_neuroids = 40;
    o->n_repetitions = 10;
    o->units_per_neuroid = 64;
    o->snr = 1;
    o->noise = NCMP_NOISE_GAUSSIAN;
    o->rate_hz = 100;
    o->modulation = 0.25;
    o->start_ms = 70;
    o->bin_ms = 20;
    o->n_objects = 8;
    o->region = "SIM";
}

ncmp_status ncmp_simulate_parse_bins(const char *text, ncmp_simulate_options *o, char **storage, ncmp_error *err)
{
    *storage = NULL;
    char *copy = strdup(text);
    if (!copy)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    o->n_bins = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *at = strchr(tok, '@'), *end;
        long it = at ? strtol(at + 1, &end, 10) : -1;
        if (!at || at == tok || end == at + 1 || *end || it < 0 || o->n_bins >= NCMP_SIMULATE_MAX_BINS) {
            free(copy);
            return ncmp_fail(err, NCMP_ERR_USAGE,
                             "--bins '%s': expected LAYER@ITERATION per time bin, comma-separated (at most %d), "
                             "e.g. block4@0,block4@1",
                             text, NCMP_SIMULATE_MAX_BINS);
        }
        *at = '\0';
        o->layer[o->n_bins] = tok;
        o->iteration[o->n_bins] = (int)it;
        o->n_bins++;
    }
    if (!o->n_bins) {
        free(copy);
        return ncmp_fail(err, NCMP_ERR_USAGE, "--bins is empty; expected LAYER@ITERATION,...");
    }
    *storage = copy;
    return NCMP_OK;
}

double ncmp_simulate_expected_ceiling(const ncmp_simulate_options *o)
{
    double s;
    if (o->noise == NCMP_NOISE_GAUSSIAN)
        s = o->snr;
    else {
        double m = o->rate_hz * o->bin_ms / 1000, a = o->modulation * m;
        s = a * a / (a * a / o->snr + m);
    }
    double R = (double)o->n_repetitions;
    return R * s / (R * s + 1);
}

/* Poisson deviate (Knuth's product of uniforms, in chunks of mean <= 30 so exp() never underflows). */
static double poisson(ncmp_rng *rng, double mean)
{
    double total = 0;
    while (mean > 0) {
        double part = mean > 30 ? 30 : mean, limit = exp(-part), p = 1;
        int k = -1;
        do {
            k++;
            p *= ncmp_rng_uniform(rng);
        } while (p > limit);
        total += k;
        mean -= part;
    }
    return total;
}

ncmp_status ncmp_simulate_responses(const char *path, const ncmp_simulate_options *o, ncmp_assembly **out,
                                    ncmp_error *err)
{
    NCMP_H5_QUIET_SCOPE;
    *out = NULL;
    if (!o->n_bins || !o->n_neuroids || o->n_repetitions < 1 || !(o->snr > 0) || !(o->bin_ms > 0) ||
        !o->units_per_neuroid || !o->n_objects)
        return ncmp_fail(err, NCMP_ERR_USAGE,
                         "simulate: need >= 1 bin, neuroid, repetition, unit and object, snr > 0 and bin width > 0");
    if (o->noise == NCMP_NOISE_POISSON && !(o->rate_hz > 0 && o->modulation > 0))
        return ncmp_fail(err, NCMP_ERR_USAGE, "simulate: Poisson spiking needs rate > 0 and modulation > 0");
    hid_t file;
    ncmp_status st = ncmp_h5_open_read(path, true, &file, err);
    if (st)
        return st;
    char **ids = NULL;
    size_t S = 0, n_iter = 0;
    int *iters = NULL;
    int rank;
    hsize_t dims[NCMP_H5_MAX_RANK];
    size_t N = o->n_neuroids, B = o->n_bins, R = o->n_repetitions;
    double *signal = NULL, *features = NULL, *weights = NULL;
    size_t *units = NULL;
    ncmp_assembly *a = NULL;
    hid_t d = -1;
    if ((st = ncmp_h5_read_strings(file, "stimulus_id", &ids, &S, err)))
        goto done;
    if ((st = ncmp_h5_dataset_shape(file, "iteration", &rank, dims, err)))
        goto done;
    n_iter = (size_t)dims[0];
    iters = malloc((n_iter ? n_iter : 1) * sizeof *iters);
    d = H5Dopen2(file, "iteration", H5P_DEFAULT);
    if (!iters || d < 0 || H5Dread(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, iters) < 0) {
        st = ncmp_h5_fail(err, NCMP_ERR_FORMAT, "%s: cannot read /iteration", path);
        goto done;
    }
    H5Dclose(d);
    d = -1;
    signal = calloc((S * N * B) > 0 ? S * N * B : 1, sizeof *signal); /* [bin][neuroid][stimulus] */
    if (!signal) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        goto done;
    }
    ncmp_rng rng;
    ncmp_rng_seed(&rng, o->seed);
    for (size_t b = 0; b < B; b++) {
        char name[512];
        snprintf(name, sizeof name, "activations/%s", o->layer[b]);
        if ((st = ncmp_h5_dataset_shape(file, name, &rank, dims, err))) {
            ncmp_error_context(err, "%s: time bin %zu (%s@%d)", path, b, o->layer[b], o->iteration[b]);
            goto done;
        }
        size_t it = n_iter;
        for (size_t i = 0; i < n_iter; i++)
            if (iters[i] == o->iteration[b])
                it = i;
        if (rank < 2 || dims[0] != n_iter || dims[1] != S || it == n_iter) {
            st = ncmp_fail(err, it == n_iter ? NCMP_ERR_NOT_FOUND : NCMP_ERR_SHAPE,
                           "%s: '%s' has no iteration %d, or is not [%zu iterations, %zu stimuli, ...]", path, name,
                           o->iteration[b], n_iter, S);
            goto done;
        }
        size_t F = 1;
        for (int r = 2; r < rank; r++)
            F *= (size_t)dims[r];
        size_t K = o->units_per_neuroid < F ? o->units_per_neuroid : F;
        free(features);
        free(weights);
        free(units);
        features = malloc(F * sizeof *features);
        weights = malloc(N * K * sizeof *weights);
        units = malloc(N * K * sizeof *units);
        if (!features || !weights || !units) {
            st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory for %zu features of '%s'", F, name);
            goto done;
        }
        /* The readout of a neuroid depends only on (seed, layer, neuroid), so bins reading the same
         * layer at different iterations compare the same readout across iterations. */
        size_t layer_index = b;
        for (size_t p = 0; p < b; p++)
            if (!strcmp(o->layer[p], o->layer[b])) {
                layer_index = p;
                break;
            }
        ncmp_rng wrng;
        ncmp_rng_seed_stream(&wrng, o->seed, 1000 + layer_index);
        for (size_t n = 0; n < N; n++)
            for (size_t k = 0; k < K; k++) {
                units[n * K + k] = (size_t)ncmp_rng_below(&wrng, F);
                weights[n * K + k] = ncmp_rng_normal(&wrng);
            }
        d = H5Dopen2(file, name, H5P_DEFAULT);
        if (d < 0) {
            st = ncmp_h5_fail(err, NCMP_ERR_FORMAT, "%s: cannot open '%s'", path, name);
            goto done;
        }
        hsize_t start[NCMP_H5_MAX_RANK] = {0}, count[NCMP_H5_MAX_RANK];
        for (int r = 0; r < rank; r++)
            count[r] = dims[r];
        start[0] = it;
        count[0] = 1;
        count[1] = 1;
        for (size_t s = 0; s < S; s++) {
            start[1] = s;
            if ((st = ncmp_h5_read_block(d, H5T_NATIVE_DOUBLE, start, count, features, err))) {
                ncmp_error_context(err, "%s: '%s' stimulus %zu", path, name, s);
                goto done;
            }
            for (size_t n = 0; n < N; n++) {
                double v = 0;
                for (size_t k = 0; k < K; k++)
                    v += weights[n * K + k] * features[units[n * K + k]];
                signal[(b * N + n) * S + s] = v;
            }
        }
        H5Dclose(d);
        d = -1;
        /* Standardise across stimuli. */
        for (size_t n = 0; n < N; n++) {
            double *z = signal + (b * N + n) * S, mean = 0, var = 0;
            for (size_t s = 0; s < S; s++)
                mean += z[s];
            mean /= (double)S;
            for (size_t s = 0; s < S; s++)
                var += (z[s] - mean) * (z[s] - mean);
            double sd = sqrt(var / (double)S);
            for (size_t s = 0; s < S; s++)
                z[s] = sd > 0 ? (z[s] - mean) / sd : 0;
        }
    }
    if ((st = ncmp_assembly_alloc(S * R, N, B, "simulated_responses", path, &a, err)))
        goto done;
    {
        const char **sid = malloc(S * R * sizeof *sid), **obj = malloc(S * R * sizeof *obj);
        const char **nid = malloc(N * sizeof *nid), **reg = malloc(N * sizeof *reg),
                   **animal = malloc(N * sizeof *animal);
        double *rep = malloc(S * R * sizeof *rep);
        char *objnames = malloc(o->n_objects * 32), *nnames = malloc(N * 32);
        if (!sid || !obj || !nid || !reg || !animal || !rep || !objnames || !nnames)
            st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        for (size_t k = 0; !st && k < o->n_objects; k++)
            snprintf(objnames + 32 * k, 32, "object%zu", k);
        for (size_t n = 0; !st && n < N; n++) {
            snprintf(nnames + 32 * n, 32, "sim%03zu", n);
            nid[n] = nnames + 32 * n;
            reg[n] = o->region ? o->region : "SIM";
            animal[n] = "simulated";
        }
        for (size_t s = 0; !st && s < S; s++)
            for (size_t r = 0; r < R; r++) {
                sid[s * R + r] = ids[s];
                obj[s * R + r] = objnames + 32 * (s % o->n_objects);
                rep[s * R + r] = (double)r;
            }
        if (!st && !(st = ncmp_coord_add_strings(&a->presentation, "stimulus_id", sid, err)) &&
            !(st = ncmp_coord_add_strings(&a->presentation, "object_name", obj, err)) &&
            !(st = ncmp_coord_add_numbers(&a->presentation, "repetition", NCMP_COORD_INT64, rep, err)) &&
            !(st = ncmp_coord_add_strings(&a->neuroid, "neuroid_id", nid, err)) &&
            !(st = ncmp_coord_add_strings(&a->neuroid, "region", reg, err)))
            st = ncmp_coord_add_strings(&a->neuroid, "animal", animal, err);
        free(sid);
        free(obj);
        free(nid);
        free(reg);
        free(animal);
        free(rep);
        free(objnames);
        free(nnames);
        if (st)
            goto done;
    }
    double noise_sd = 1 / sqrt(o->snr), m = o->rate_hz * o->bin_ms / 1000, amp = o->modulation * m;
    for (size_t b = 0; b < B; b++) {
        a->time_bin_start[b] = o->start_ms + (double)b * o->bin_ms;
        a->time_bin_end[b] = o->start_ms + (double)(b + 1) * o->bin_ms;
    }
    for (size_t s = 0; s < S; s++)
        for (size_t r = 0; r < R; r++)
            for (size_t n = 0; n < N; n++)
                for (size_t b = 0; b < B; b++) {
                    double x = signal[(b * N + n) * S + s] + noise_sd * ncmp_rng_normal(&rng);
                    if (o->noise == NCMP_NOISE_POISSON)
                        x = poisson(&rng, fmax(0, m + amp * x));
                    *ncmp_assembly_at(a, s * R + r, n, b) = x;
                }
    st = ncmp_assembly_validate(a, err);
done:
    if (d >= 0)
        H5Dclose(d);
    H5Fclose(file);
    if (ids)
        ncmp_strings_free(ids, S);
    free(iters);
    free(signal);
    free(features);
    free(weights);
    free(units);
    if (st) {
        ncmp_assembly_free(a);
        return st;
    }
    *out = a;
    return NCMP_OK;
}
