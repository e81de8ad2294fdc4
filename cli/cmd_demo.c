/* neurocmp demo: the end-to-end path on the bundled data, saying what it does.
 *
 * Today the path covers the foundation: locate and fingerprint the bundled V4
 * recordings, stream a seeded feature table to an HDF5 file through the
 * atomic writer (with dimension scales and provenance), reopen it as a reader
 * would, verify every value, and summarise it.  Model inference, neural
 * predictivity and the iteration x time-bin analysis join this path as they land.
 */
#include "cli/commands.h"
#include "core/h5.h"
#include "core/log.h"
#include "core/paths.h"
#include "core/progress.h"
#include "core/provenance.h"
#include "core/rng.h"
#include "core/sha256.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { DEMO_STIMULI = 640, DEMO_FEATURES = 256, DEMO_BATCH = 32 };
static const uint64_t DEMO_SEED = 20201206;

/* The demo owns its output directory and replaces its own earlier files, so
 * the README command can be run again; the swap is still atomic. */
static ncmp_status write_smoke_file(const char *path, const char *const *inputs, size_t n_inputs, ncmp_error *err)
{
    ncmp_h5_output out;
    ncmp_status st = ncmp_h5_output_begin(&out, path, NCMP_H5_OVERWRITE, err);
    if (st)
        return st;
    char **ids = calloc(DEMO_STIMULI, sizeof *ids);
    float *block = malloc(sizeof(float) * DEMO_BATCH * DEMO_FEATURES);
    hid_t dset = H5I_INVALID_HID, ids_dset = H5I_INVALID_HID;
    if (!ids || !block) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < DEMO_STIMULI; i++) {
        ids[i] = malloc(16);
        if (!ids[i]) {
            st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
            goto fail;
        }
        snprintf(ids[i], 16, "image%04d", i + 1);
    }
    if ((st = ncmp_provenance_write_h5(out.file, err)))
        goto fail;
    for (size_t i = 0; i < n_inputs; i++) {
        char role[32];
        snprintf(role, sizeof role, "input%zu", i);
        if ((st = ncmp_provenance_add_input_h5(out.file, role, inputs[i], err)))
            goto fail;
    }
    if ((st = ncmp_h5_attr_set_int64(out.file, "seed", (long long)DEMO_SEED, err)) ||
        (st = ncmp_h5_attr_set_string(out.file, "description",
                                      "neurocmp demo smoke file: seeded N(0,1) features per bundled stimulus", err)))
        goto fail;
    if ((st = ncmp_h5_write_strings(out.file, "stimulus_id", (const char *const *)ids, DEMO_STIMULI, err)))
        goto fail;
    ids_dset = H5Dopen2(out.file, "stimulus_id", H5P_DEFAULT);
    if ((st = ncmp_h5_make_scale(ids_dset, "stimulus_id", err)))
        goto fail;

    hsize_t dims[2] = {0, DEMO_FEATURES}, maxdims[2] = {H5S_UNLIMITED, DEMO_FEATURES};
    hsize_t chunk[2] = {DEMO_BATCH, DEMO_FEATURES};
    if ((st = ncmp_h5_create_chunked(out.file, "features", H5T_IEEE_F32LE, 2, dims, maxdims, chunk, 4, &dset, err)))
        goto fail;
    ncmp_rng rng;
    ncmp_rng_seed(&rng, DEMO_SEED);
    ncmp_progress *bar = ncmp_progress_start("demo: writing features", DEMO_STIMULI, "stimuli");
    for (hsize_t start = 0; start < DEMO_STIMULI; start += DEMO_BATCH) {
        ncmp_rng_fill_normal_f32(&rng, block, (size_t)DEMO_BATCH * DEMO_FEATURES, 0.0, 1.0);
        hsize_t s[2] = {start, 0}, c[2] = {DEMO_BATCH, DEMO_FEATURES};
        if ((st = ncmp_h5_write_block(dset, H5T_NATIVE_FLOAT, s, c, block, err))) {
            ncmp_progress_finish(bar);
            goto fail;
        }
        ncmp_progress_update(bar, start + DEMO_BATCH);
    }
    ncmp_progress_finish(bar);
    if ((st = ncmp_h5_attach_scale(dset, ids_dset, 0, err)))
        goto fail;
    H5Dclose(dset);
    H5Dclose(ids_dset);
    dset = ids_dset = H5I_INVALID_HID;
    ncmp_strings_free(ids, DEMO_STIMULI);
    free(block);
    return ncmp_h5_output_commit(&out, err);
fail:
    if (dset >= 0)
        H5Dclose(dset);
    if (ids_dset >= 0)
        H5Dclose(ids_dset);
    ncmp_strings_free(ids, DEMO_STIMULI);
    free(block);
    ncmp_h5_output_abort(&out, false);
    return st;
}

/* Reopen as any reader would (refusing incomplete files) and check every value. */
static ncmp_status verify_smoke_file(const char *path, double *max_abs_diff, ncmp_error *err)
{
    hid_t f;
    ncmp_status st = ncmp_h5_open_read(path, true, &f, err);
    if (st)
        return st;
    int rank;
    hsize_t dims[NCMP_H5_MAX_RANK];
    char **ids = NULL;
    size_t n_ids = 0;
    float *got = NULL, *want = NULL;
    if ((st = ncmp_h5_dataset_shape(f, "features", &rank, dims, err)))
        goto done;
    if (rank != 2 || dims[0] != DEMO_STIMULI || dims[1] != DEMO_FEATURES) {
        st = ncmp_fail(err, NCMP_ERR_SHAPE, "'%s': /features has the wrong shape", path);
        goto done;
    }
    if ((st = ncmp_h5_read_strings(f, "stimulus_id", &ids, &n_ids, err)))
        goto done;
    if (n_ids != DEMO_STIMULI || strcmp(ids[0], "image0001") || strcmp(ids[DEMO_STIMULI - 1], "image0640")) {
        st = ncmp_fail(err, NCMP_ERR_VALUE, "'%s': /stimulus_id does not hold image0001..image0640", path);
        goto done;
    }
    size_t n = (size_t)DEMO_STIMULI * DEMO_FEATURES;
    got = malloc(sizeof(float) * n);
    want = malloc(sizeof(float) * n);
    if (!got || !want) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        goto done;
    }
    hid_t d = H5Dopen2(f, "features", H5P_DEFAULT);
    hsize_t s[2] = {0, 0};
    st = ncmp_h5_read_block(d, H5T_NATIVE_FLOAT, s, dims, got, err);
    H5Dclose(d);
    if (st)
        goto done;
    ncmp_rng rng;
    ncmp_rng_seed(&rng, DEMO_SEED);
    ncmp_rng_fill_normal_f32(&rng, want, n, 0.0, 1.0);
    *max_abs_diff = 0;
    for (size_t i = 0; i < n; i++) {
        double dlt = got[i] > want[i] ? got[i] - want[i] : want[i] - got[i];
        if (dlt > *max_abs_diff)
            *max_abs_diff = dlt;
    }
    if (*max_abs_diff != 0)
        st = ncmp_fail(err, NCMP_ERR_VALUE, "'%s': values read back differ from those written (max %g)", path,
                       *max_abs_diff);
done:
    free(got);
    free(want);
    ncmp_strings_free(ids, n_ids);
    H5Fclose(f);
    return st;
}

int cmd_demo(int argc, char **argv)
{
    const char *out_dir = "neurocmp-demo";
    const cli_option options[] = {
        {"out", 'o', CLI_STRING, &out_dir, "DIR", "directory for the demo's outputs (earlier demo files in it are replaced)"},
    };
    const cli_command cmd = {
        .name = "demo",
        .summary = "Run the end-to-end demonstration on the bundled V4 recordings and say what it did.",
        .description = "Fingerprints the bundled data (Cowley et al. 2023, V4 session 210325), streams a\n"
                       "seeded feature table for its 640 stimuli into DIR/smoke.h5 through the atomic\n"
                       "HDF5 writer, reopens it as a reader would and verifies every value.",
        .options = options,
        .n_options = sizeof options / sizeof options[0],
        .max_positional = 0,
    };
    cli_parsed p;
    int rc = cli_begin(&cmd, argc, argv, &p);
    if (rc >= 0)
        return rc;
    cli_parsed_free(&p);

    ncmp_error err;
    ncmp_error_clear(&err);
    static const char *const bundled[] = {
        "datasets/cowley2023-v4-210325/responses_raw_210325.npy",
        "datasets/cowley2023-v4-210325/images_210325.zip",
    };
    char paths[2][4096];
    const char *inputs[2];
    printf("neurocmp demo\n\n1. Bundled data (Cowley et al. 2023, V4 session 210325; GPL-3.0, see its LICENSE):\n");
    for (int i = 0; i < 2; i++) {
        char hex[NCMP_SHA256_HEX_LEN];
        if (ncmp_data_path(bundled[i], paths[i], sizeof paths[i], &err) || ncmp_sha256_file(paths[i], hex, &err))
            return cli_report(&err);
        inputs[i] = paths[i];
        printf("   %s\n     sha256 %s\n", paths[i], hex);
    }
    if (ncmp_make_directories(out_dir, &err))
        return cli_report(&err);
    char smoke[4096];
    snprintf(smoke, sizeof smoke, "%s/smoke.h5", out_dir);
    printf("\n2. Writing %s: %d stimuli x %d seeded features (seed %llu), streamed in batches of %d\n"
           "   to %s.partial and renamed only once complete.\n",
           smoke, DEMO_STIMULI, DEMO_FEATURES, (unsigned long long)DEMO_SEED, DEMO_BATCH, smoke);
    fflush(stdout);
    if (write_smoke_file(smoke, inputs, 2, &err))
        return cli_report(&err);
    double diff = -1;
    if (verify_smoke_file(smoke, &diff, &err))
        return cli_report(&err);
    printf("\n3. Reopened %s as a reader (complete = 1 required): all %d values equal the seeded stream "
           "(max |difference| = %g).\n",
           smoke, DEMO_STIMULI * DEMO_FEATURES, diff);
    printf("\n4. Summary of the file (neurocmp inspect %s):\n\n", smoke);
    fflush(stdout);
    char *inspect_argv[] = {"inspect", smoke, NULL};
    rc = cmd_inspect(2, inspect_argv);
    if (rc)
        return rc;
    printf("\nDone. Outputs are in %s/. The CNN-F engine, activation export, neural scoring and the\n"
           "iteration x time-bin analysis join this demo as they land (see README.md).\n",
           out_dir);
    return 0;
}
