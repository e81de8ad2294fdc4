/* Split-half ceilings with Spearman-Brown correction (docs/scoring.md; Brain-Score InternalConsistency). */
#include "neural/ceiling.h"

#include "core/atomic.h"

#include "core/mt19937.h"
#include "core/paths.h"
#include "core/provenance.h"
#include "core/sha256.h"
#include "core/version.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void ncmp_ceiling_free(ncmp_ceiling *c)
{
    if (!c)
        return;
    free(c->ceiling);
    free(c->error);
    free(c->split_median);
    free(c->per_neuroid);
    free(c->repetitions);
    free(c->half_size);
    free(c->halves);
    free(c);
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

double ncmp_nan_median(const double *x, size_t n, double *work)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(x[i]))
            work[k++] = x[i];
    if (!k)
        return NAN;
    qsort(work, k, sizeof *work, cmp_double);
    return k % 2 ? work[k / 2] : 0.5 * (work[k / 2 - 1] + work[k / 2]);
}

static _Thread_local const char *const
    *sort_keys; /* qsort has no context argument; thread-local keeps callers on different threads apart */
static int cmp_index_by_key(const void *x, const void *y)
{
    size_t i = *(const size_t *)x, j = *(const size_t *)y;
    int c = strcmp(sort_keys[i], sort_keys[j]);
    return c ? c : (i < j ? -1 : i > j);
}

ncmp_status ncmp_ceiling_split_half(const ncmp_assembly *a, const ncmp_ceiling_options *options, ncmp_ceiling **out,
                                    ncmp_error *err)
{
    *out = NULL;
    ncmp_ceiling_options o = NCMP_CEILING_DEFAULTS;
    if (options)
        o = *options;
    const char *src = a->source && a->source[0] ? a->source : "assembly";
    if (o.n_splits < 1)
        return ncmp_fail(err, NCMP_ERR_USAGE, "ceiling: %d halvings requested; need at least 1", o.n_splits);
    const ncmp_coord *rep = ncmp_coord_find(&a->presentation, "repetition");
    const ncmp_coord *sid = ncmp_coord_find(&a->presentation, "stimulus_id");
    if (!sid || sid->kind != NCMP_COORD_STRING)
        return ncmp_fail(err, NCMP_ERR_FORMAT, "%s: no string coordinate 'stimulus_id' along 'presentation'", src);
    if (!rep)
        return ncmp_fail(err, NCMP_ERR_VALUE,
                         "%s: no 'repetition' coordinate along 'presentation': the responses look already averaged "
                         "over repetitions, and a split-half ceiling needs the individual repetitions",
                         src);
    if (rep->kind == NCMP_COORD_STRING)
        return ncmp_fail(err, NCMP_ERR_FORMAT, "%s: coordinate 'repetition' holds strings; expected numbers", src);
    size_t P = a->n_presentations, N = a->n_neuroids, T = a->n_time_bins;
    if (!N || !P)
        return ncmp_fail(err, NCMP_ERR_SHAPE, "%s: no data (%zu presentations x %zu neuroids)", src, P, N);
    ncmp_ceiling *c = calloc(1, sizeof *c);
    double *reps = malloc(P * sizeof *reps);
    size_t *order = malloc(P * sizeof *order), *stim = malloc(P * sizeof *stim), *repi = malloc(P * sizeof *repi);
    int *half = NULL;
    double *acc = NULL, *work = NULL;
    size_t *train = NULL, *test = NULL;
    ncmp_status st = NCMP_OK;
    if (!c || !reps || !order || !stim || !repi) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        goto done;
    }
    /* Distinct repetition values, sorted. */
    memcpy(reps, rep->numbers, P * sizeof *reps);
    qsort(reps, P, sizeof *reps, cmp_double);
    size_t R = 0;
    for (size_t i = 0; i < P; i++) {
        if (isnan(reps[i])) {
            st = ncmp_fail(err, NCMP_ERR_VALUE, "%s: coordinate 'repetition' has a NaN value", src);
            goto done;
        }
        if (!R || reps[i] != reps[R - 1])
            reps[R++] = reps[i];
    }
    if (R < 2) {
        st = ncmp_fail(err, NCMP_ERR_VALUE,
                       "%s: every presentation has repetition %g; a split-half ceiling needs at least 2 distinct "
                       "repetitions",
                       src, reps[0]);
        goto done;
    }
    for (size_t p = 0; p < P; p++) {
        size_t lo = 0, hi = R;
        while (lo + 1 < hi) {
            size_t mid = (lo + hi) / 2;
            if (reps[mid] <= rep->numbers[p])
                lo = mid;
            else
                hi = mid;
        }
        repi[p] = lo;
    }
    /* Stimulus index of each presentation (by sorted stimulus_id). */
    for (size_t p = 0; p < P; p++)
        order[p] = p;
    sort_keys = (const char *const *)sid->strings;
    qsort(order, P, sizeof *order, cmp_index_by_key);
    sort_keys = NULL;
    size_t S = 0;
    for (size_t k = 0; k < P; k++) {
        if (!k || strcmp(sid->strings[order[k]], sid->strings[order[k - 1]]))
            S++;
        stim[order[k]] = S - 1;
    }
    size_t n_train, n_test;
    if ((st = ncmp_shuffle_split_sizes(R, 0.5, &n_train, &n_test, err))) {
        ncmp_error_context(err, "%s: halving %zu repetitions", src, R);
        goto done;
    }
    size_t K = (size_t)o.n_splits;
    train = malloc(K * n_train * sizeof *train);
    test = malloc(K * n_test * sizeof *test);
    half = malloc(R * sizeof *half);
    acc = malloc(4 * S * sizeof *acc);
    c->ceiling = malloc(T * sizeof(double));
    c->error = malloc(T * sizeof(double));
    c->split_median = malloc(T * K * sizeof(double));
    c->per_neuroid = malloc(T * K * N * sizeof(double));
    c->repetitions = malloc(R * sizeof(double));
    c->half_size = malloc(2 * sizeof(size_t));
    c->halves = malloc(K * R * sizeof(size_t));
    work = malloc(N * sizeof *work);
    if (!train || !test || !half || !acc || !c->ceiling || !c->error || !c->split_median || !c->per_neuroid ||
        !c->repetitions || !c->half_size || !c->halves || !work) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory for the ceiling of %zu neuroids", N);
        goto done;
    }
    if ((st = ncmp_shuffle_split(R, 0.5, o.n_splits, o.seed, train, test, err)))
        goto done;
    c->n_time_bins = T;
    c->n_splits = K;
    c->n_neuroids = N;
    c->n_stimuli = S;
    c->n_repetitions = R;
    c->seed = o.seed;
    memcpy(c->repetitions, reps, R * sizeof *reps);
    c->half_size[0] = n_train;
    c->half_size[1] = n_test;
    for (size_t s = 0; s < K; s++) {
        memcpy(c->halves + s * R, train + s * n_train, n_train * sizeof *train);
        memcpy(c->halves + s * R + n_train, test + s * n_test, n_test * sizeof *test);
    }
    double *sumA = acc, *cntA = acc + S, *sumB = acc + 2 * S, *cntB = acc + 3 * S;
    for (size_t t = 0; t < T; t++) {
        for (size_t s = 0; s < K; s++) {
            for (size_t i = 0; i < R; i++)
                half[i] = -1;
            for (size_t i = 0; i < n_train; i++)
                half[train[s * n_train + i]] = 0;
            for (size_t i = 0; i < n_test; i++)
                half[test[s * n_test + i]] = 1;
            double *rn = c->per_neuroid + (t * K + s) * N;
            for (size_t n = 0; n < N; n++) {
                memset(acc, 0, 4 * S * sizeof *acc);
                for (size_t p = 0; p < P; p++) {
                    double x = *ncmp_assembly_at(a, p, n, t);
                    int h = half[repi[p]];
                    if (isnan(x) || h < 0)
                        continue;
                    if (h == 0) {
                        sumA[stim[p]] += x;
                        cntA[stim[p]] += 1;
                    } else {
                        sumB[stim[p]] += x;
                        cntB[stim[p]] += 1;
                    }
                }
                /* Pearson across stimuli with a value in both halves (two passes for accuracy). */
                double mx = 0, my = 0;
                size_t m = 0;
                for (size_t i = 0; i < S; i++)
                    if (cntA[i] > 0 && cntB[i] > 0) {
                        mx += sumA[i] / cntA[i];
                        my += sumB[i] / cntB[i];
                        m++;
                    }
                double corr = NAN;
                if (m >= 2) {
                    mx /= (double)m;
                    my /= (double)m;
                    double sxy = 0, sxx = 0, syy = 0;
                    for (size_t i = 0; i < S; i++)
                        if (cntA[i] > 0 && cntB[i] > 0) {
                            double dx = sumA[i] / cntA[i] - mx, dy = sumB[i] / cntB[i] - my;
                            sxy += dx * dy;
                            sxx += dx * dx;
                            syy += dy * dy;
                        }
                    if (sxx > 0 && syy > 0)
                        corr = sxy / sqrt(sxx * syy);
                }
                rn[n] = 2 * corr / (1 + corr);
            }
            c->split_median[t * K + s] = ncmp_nan_median(rn, N, work);
        }
        double mean = 0, var = 0;
        size_t k = 0;
        for (size_t s = 0; s < K; s++)
            if (!isnan(c->split_median[t * K + s])) {
                mean += c->split_median[t * K + s];
                k++;
            }
        mean = k ? mean / (double)k : NAN;
        for (size_t s = 0; s < K; s++)
            if (!isnan(c->split_median[t * K + s]))
                var += (c->split_median[t * K + s] - mean) * (c->split_median[t * K + s] - mean);
        c->ceiling[t] = mean;
        c->error[t] = k ? sqrt(var / (double)k) / sqrt((double)k) : NAN;
    }
done:
    free(reps);
    free(order);
    free(stim);
    free(repi);
    free(half);
    free(acc);
    free(work);
    free(train);
    free(test);
    if (st) {
        ncmp_ceiling_free(c);
        return st;
    }
    *out = c;
    return NCMP_OK;
}

/* ---- JSON ------------------------------------------------------------------- */

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        case '\b':
            fputs("\\b", f);
            break;
        case '\f':
            fputs("\\f", f);
            break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

static void json_number(FILE *f, double x)
{
    if (isfinite(x))
        fprintf(f, "%.17g", x);
    else
        fputs("null", f);
}

static void json_numbers(FILE *f, const double *x, size_t n, size_t stride)
{
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputs(", ", f);
        json_number(f, x[i * stride]);
    }
    fputc(']', f);
}

ncmp_status ncmp_ceiling_write_json(const ncmp_ceiling *c, const ncmp_ceiling_report *rep, const char *path,
                                    ncmp_error *err)
{
    char hex[NCMP_SHA256_HEX_LEN] = "";
    ncmp_status st;
    if (rep->input_path && (st = ncmp_sha256_file(rep->input_path, hex, err)))
        return st;
    ncmp_atomic_file out;
    if ((st = ncmp_atomic_begin(&out, path, true, err)))
        return st;
    FILE *f = out.stream;
    bool one = c->n_time_bins == 1;
    fputs("{\n  \"metric\": \"split-half internal consistency (Spearman-Brown)\",\n  \"region\": ", f);
    if (rep->region)
        json_string(f, rep->region);
    else
        fputs("null", f);
    fputs(",\n  \"ceiling\": ", f);
    if (one)
        json_number(f, c->ceiling[0]);
    else
        json_numbers(f, c->ceiling, c->n_time_bins, 1);
    fputs(",\n  \"error\": ", f);
    if (one)
        json_number(f, c->error[0]);
    else
        json_numbers(f, c->error, c->n_time_bins, 1);
    fprintf(f, ",\n  \"n_stimuli\": %zu,\n  \"n_neuroids\": %zu,\n  \"n_repetitions\": %zu,\n  \"n_splits\": %zu",
            c->n_stimuli, c->n_neuroids, c->n_repetitions, c->n_splits);
    fputs(",\n  \"time_window_ms\": ", f);
    if (isnan(rep->window_start_ms))
        fputs("null", f);
    else {
        fputc('[', f);
        json_number(f, rep->window_start_ms);
        fputs(", ", f);
        json_number(f, rep->window_end_ms);
        fputc(']', f);
    }
    if (rep->bin_start_ms && rep->bin_end_ms) {
        fputs(",\n  \"time_bin_start\": ", f);
        json_numbers(f, rep->bin_start_ms, c->n_time_bins, 1);
        fputs(",\n  \"time_bin_end\": ", f);
        json_numbers(f, rep->bin_end_ms, c->n_time_bins, 1);
    }
    fputs(",\n  \"split_medians\": [", f);
    for (size_t t = 0; t < c->n_time_bins; t++) {
        if (t)
            fputs(", ", f);
        json_numbers(f, c->split_median + t * c->n_splits, c->n_splits, 1);
    }
    fputs("]", f);
    char stamp[64];
    ncmp_utc_timestamp(stamp, sizeof stamp);
    fprintf(f, ",\n  \"splits\": \"%zu x ShuffleSplit(train_size=0.5, random_state=%u) over sorted repetitions\"",
            c->n_splits, (unsigned)c->seed);
    fprintf(f, ",\n  \"seed\": %u,\n  \"provenance\": {\n    \"neurocmp_version\": ", (unsigned)c->seed);
    json_string(f, NCMP_VERSION);
    fputs(",\n    \"neurocmp_revision\": ", f);
    json_string(f, NCMP_GIT_REVISION);
    fputs(",\n    \"created_utc\": ", f);
    json_string(f, stamp);
    fputs(",\n    \"command_line\": ", f);
    json_string(f, ncmp_provenance_command_line());
    fputs(",\n    \"input_path\": ", f);
    json_string(f, rep->input_path ? rep->input_path : "");
    fputs(",\n    \"input_sha256\": ", f);
    json_string(f, hex);
    if (ncmp_provenance_study_text()) {
        fputs(",\n    \"study_config\": ", f);
        json_string(f, ncmp_provenance_study_text());
        fputs(",\n    \"study_config_path\": ", f);
        json_string(f, ncmp_provenance_study_path());
        fputs(",\n    \"study_config_sha256\": ", f);
        json_string(f, ncmp_provenance_study_sha256());
    }
    fputs("\n  }\n}\n", f);
    return ncmp_atomic_commit(&out, err);
}
