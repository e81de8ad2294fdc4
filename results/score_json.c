/* score-result JSON (docs/formats.md) for predictivity scores, with provenance. */
#include "results/score_json.h"
#include "core/dist.h"

#include "results/json.h"
#include "core/h5.h"
#include "core/provenance.h"
#include "core/sha256.h"
#include "core/version.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef double (*score_field)(const ncmp_score *s, const ncmp_score_report *r);
static double field_raw(const ncmp_score *s, const ncmp_score_report *r)
{
    (void)r;
    return s->raw;
}
static double field_error(const ncmp_score *s, const ncmp_score_report *r)
{
    (void)r;
    return s->error;
}
static double field_ceiled(const ncmp_score *s, const ncmp_score_report *r)
{
    return ncmp_ceiled(s->raw, r->ceiling, r->normalization);
}

static void write_field(FILE *f, const char *key, const ncmp_score *const *scores, size_t n, const ncmp_score_report *r,
                        score_field get)
{
    fprintf(f, ",\n  \"%s\": ", key);
    if (n == 1) {
        ncmp_json_number(f, get(scores[0], r));
        return;
    }
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputs(", ", f);
        ncmp_json_number(f, get(scores[i], r));
    }
    fputc(']', f);
}

void ncmp_json_write_provenance(FILE *f, const char *const *roles, const char *const *paths, const char *const *hashes,
                                size_t n_inputs)
{
    char stamp[64], h5v[32];
    ncmp_utc_timestamp(stamp, sizeof stamp);
    ncmp_hdf5_version(h5v, sizeof h5v);
    fputs("{\n    \"neurocmp_version\": ", f);
    ncmp_json_string(f, NCMP_VERSION);
    fputs(",\n    \"neurocmp_revision\": ", f);
    ncmp_json_string(f, NCMP_GIT_REVISION);
    fputs(",\n    \"hdf5_version\": ", f);
    ncmp_json_string(f, h5v);
    fputs(",\n    \"gsl_version\": ", f);
    ncmp_json_string(f, ncmp_gsl_version());
    fputs(",\n    \"blas\": ", f);
    ncmp_json_string(f, ncmp_blas_config());
    fputs(",\n    \"created_utc\": ", f);
    ncmp_json_string(f, stamp);
    fputs(",\n    \"command_line\": ", f);
    ncmp_json_string(f, ncmp_provenance_command_line());
    if (ncmp_dist_parallel()) /* written by an MPI job (docs/scale-out.md) */
        fprintf(f, ",\n    \"mpi_ranks\": %d", ncmp_dist_size());
    for (size_t i = 0; i < n_inputs; i++) {
        fprintf(f, ",\n    \"%s_path\": ", roles[i]);
        ncmp_json_string(f, paths[i]);
        fprintf(f, ",\n    \"%s_sha256\": ", roles[i]);
        ncmp_json_string(f, hashes[i]);
    }
    if (ncmp_provenance_study_text()) {
        fputs(",\n    \"study_config\": ", f);
        ncmp_json_string(f, ncmp_provenance_study_text());
        fputs(",\n    \"study_config_path\": ", f);
        ncmp_json_string(f, ncmp_provenance_study_path());
        fputs(",\n    \"study_config_sha256\": ", f);
        ncmp_json_string(f, ncmp_provenance_study_sha256());
    }
    fputs("\n  }", f);
}

ncmp_status ncmp_result_inputs_hash(ncmp_result_inputs *in, const char *activations_path, const char *neural_path,
                                    const char *splits_path, ncmp_error *err)
{
    *in = (ncmp_result_inputs){activations_path, neural_path, splits_path, "", "", ""};
    ncmp_status st;
    if ((st = ncmp_sha256_file(activations_path, in->activations_sha256, err)) ||
        (st = ncmp_sha256_file(neural_path, in->neural_sha256, err)) ||
        (splits_path && (st = ncmp_sha256_file(splits_path, in->splits_sha256, err))))
        return st;
    return NCMP_OK;
}

void ncmp_result_inputs_write(FILE *f, const ncmp_result_inputs *in)
{
    const char *roles[3] = {"activations", "neural", "splits"};
    const char *paths[3] = {in->activations_path, in->neural_path, in->splits_path};
    const char *hashes[3] = {in->activations_sha256, in->neural_sha256, in->splits_sha256};
    ncmp_json_write_provenance(f, roles, paths, hashes, in->splits_path ? 3 : 2);
}

ncmp_status ncmp_result_inputs_text(const ncmp_result_inputs *in, char **out, ncmp_error *err)
{
    const char *cl = ncmp_provenance_command_line();
    size_t len = strlen(cl) + strlen(in->activations_path) + strlen(in->neural_path) + 512;
    char *s = malloc(len);
    if (!s)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    snprintf(s, len, "neurocmp %s (%s)\ncommand: %s\nactivations: %s sha256 %s\nneural: %s sha256 %s", NCMP_VERSION,
             NCMP_GIT_REVISION, cl, in->activations_path, in->activations_sha256, in->neural_path, in->neural_sha256);
    *out = s;
    return NCMP_OK;
}

ncmp_status ncmp_score_write_json(const ncmp_score *const *scores, const long long *iterations, size_t n,
                                  const ncmp_score_report *r, const char *path, ncmp_error *err)
{
    if (!n)
        return ncmp_fail(err, NCMP_ERR_USAGE, "no scores to write");
    ncmp_result_inputs inputs;
    ncmp_status st = ncmp_result_inputs_hash(&inputs, r->activations_path, r->neural_path, r->splits_path, err);
    if (st)
        return st;
    ncmp_atomic_file jf;
    if ((st = ncmp_atomic_begin(&jf, path, true, err)))
        return st;
    FILE *f = jf.stream;
    fputs("{\n  \"benchmark\": ", f);
    ncmp_json_string(f, r->benchmark ? r->benchmark : "");
    fputs(",\n  \"metric\": ", f);
    ncmp_json_string(f, r->metric);
    fputs(",\n  \"layer\": ", f);
    ncmp_json_string(f, r->layer);
    fputs(",\n  \"iteration\": ", f);
    if (n == 1)
        fprintf(f, "%lld", iterations[0]);
    else {
        fputc('[', f);
        for (size_t i = 0; i < n; i++)
            fprintf(f, i ? ", %lld" : "%lld", iterations[i]);
        fputc(']', f);
    }
    fputs(",\n  \"region\": ", f);
    ncmp_json_opt_string(f, r->region);
    write_field(f, "raw", scores, n, r, field_raw);
    write_field(f, "error", scores, n, r, field_error);
    fputs(",\n  \"ceiling\": ", f);
    ncmp_json_number(f, r->ceiling);
    fputs(",\n  \"ceiling_error\": ", f);
    ncmp_json_number(f, r->ceiling_error);
    write_field(f, "ceiled", scores, n, r, field_ceiled);
    fputs(",\n  \"normalization\": ", f);
    ncmp_json_string(f, ncmp_normalization_name(r->normalization));
    fputs(",\n  \"normalization_formula\": ", f);
    ncmp_json_string(f, ncmp_normalization_formula(r->normalization));
    fprintf(f, ",\n  \"n_stimuli\": %zu,\n  \"n_neuroids\": %zu", scores[0]->n_stimuli, scores[0]->n_neuroids);
    fputs(",\n  \"splits\": ", f);
    ncmp_json_string(f, r->splits_description ? r->splits_description : "");
    fprintf(f, ",\n  \"n_splits\": %zu,\n  \"n_components\": %zu", scores[0]->n_splits, r->n_components);
    fputs(",\n  \"time_window_ms\": ", f);
    ncmp_json_window(f, r->window_start_ms, r->window_end_ms);
    fputs(",\n  \"split_medians\": [", f);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ", [" : "[", f);
        for (size_t s = 0; s < scores[i]->n_splits; s++) {
            if (s)
                fputs(", ", f);
            ncmp_json_number(f, scores[i]->split_median[s]);
        }
        fputc(']', f);
    }
    fputs("]", f);
    fputs(",\n  \"details\": ", f);
    ncmp_json_opt_string(f, r->details_path);
    fprintf(f, ",\n  \"seed\": %u,\n  \"provenance\": ", (unsigned)r->seed);
    ncmp_result_inputs_write(f, &inputs);
    fputs("\n}\n", f);
    return ncmp_atomic_commit(&jf, err);
}

ncmp_status ncmp_splits_write_masks_h5(hid_t loc, const ncmp_splits *sp, ncmp_error *err)
{
    const size_t K = sp->n_splits, n = sp->n_samples;
    unsigned char *mask = calloc(K * n + 1, 1);
    if (!mask)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    hsize_t dims[2] = {K, n};
    for (size_t s = 0; s < K; s++)
        for (size_t i = sp->train_offset[s]; i < sp->train_offset[s + 1]; i++)
            mask[s * n + sp->train[i]] = 1;
    ncmp_status st = ncmp_h5_write_array(loc, "train_mask", H5T_STD_U8LE, H5T_NATIVE_UCHAR, 2, dims, mask, err);
    if (!st) {
        memset(mask, 0, K * n);
        for (size_t s = 0; s < K; s++)
            for (size_t i = sp->test_offset[s]; i < sp->test_offset[s + 1]; i++)
                mask[s * n + sp->test[i]] = 1;
        st = ncmp_h5_write_array(loc, "test_mask", H5T_STD_U8LE, H5T_NATIVE_UCHAR, 2, dims, mask, err);
    }
    free(mask);
    return st;
}
