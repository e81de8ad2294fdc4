/* Temporary files for the fuzz harnesses (fuzz_util.h). */
#include "fuzz_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>

#include "core/h5.h"
#include "datasets/stimuli.h"
#include "neural/io.h"
#include "core/sizes.h"

#define MAX_FILES 8

ncmp_status fuzz_last_status;
char fuzz_last_message[NCMP_ERROR_MESSAGE_MAX];

void fuzz_outcome(ncmp_status status, const ncmp_error *err)
{
    fuzz_last_status = status;
    snprintf(fuzz_last_message, sizeof fuzz_last_message, "%s", status && err ? err->message : "");
}

static char folder[256];
static char paths[MAX_FILES][320];
static int n_paths;

static void cleanup(void)
{
    for (int i = 0; i < n_paths; i++)
        unlink(paths[i]);
    if (folder[0])
        rmdir(folder);
}

void fuzz_init(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    ncmp_h5_quiet();
    ncmp_size_set_limit((size_t)64 << 20);
    /* Files on which HDF5 loops are declared damaged after 5 s, not 30. */
    setenv("NEUROCMP_PROBE_SECONDS", "5", 0);
}

static const char *path_for(const char *name)
{
    fuzz_init();
    if (!folder[0]) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        snprintf(folder, sizeof folder, "%s/ncmp-fuzz-XXXXXX", base);
        if (!mkdtemp(folder)) {
            perror("fuzz: mkdtemp");
            abort();
        }
        atexit(cleanup);
    }
    for (int i = 0; i < n_paths; i++) {
        const char *slash = strrchr(paths[i], '/');
        if (!strcmp(slash + 1, name))
            return paths[i];
    }
    if (n_paths == MAX_FILES)
        abort();
    snprintf(paths[n_paths], sizeof paths[n_paths], "%s/%s", folder, name);
    return paths[n_paths++];
}

const char *fuzz_write(const char *name, const void *data, size_t size)
{
    const char *path = path_for(name);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror("fuzz: cannot write the input file");
        abort();
    }
    return path;
}

void fuzz_remove(const char *name)
{
    unlink(path_for(name));
}

char *fuzz_text(const uint8_t *data, size_t size)
{
    char *t = malloc(size + 1);
    if (!t)
        abort();
    memcpy(t, data, size);
    t[size] = '\0';
    return t;
}

void fuzz_require_no_open_hdf5(void)
{
    ssize_t n = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
    if (n > 0) {
        fprintf(stderr, "fuzz: %zd HDF5 objects left open by the reader (a handle leak)\n", n);
        abort();
    }
}

void fuzz_close_open_hdf5(void)
{
    hid_t ids[256];
    const unsigned kinds[] = {H5F_OBJ_ATTR, H5F_OBJ_DATASET | H5F_OBJ_GROUP | H5F_OBJ_DATATYPE, H5F_OBJ_FILE};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        ssize_t n = H5Fget_obj_ids(H5F_OBJ_ALL, kinds[k], sizeof ids / sizeof ids[0], ids);
        for (ssize_t i = 0; i < n; i++) {
            if (kinds[k] == H5F_OBJ_ATTR)
                H5Aclose(ids[i]);
            else if (kinds[k] == H5F_OBJ_FILE)
                H5Fclose(ids[i]);
            else
                H5Oclose(ids[i]);
        }
    }
}

ncmp_status fuzz_read_stimuli(const char *path)
{
    ncmp_stimulus_set *set = NULL;
    ncmp_error err;
    ncmp_status st = ncmp_stimuli_open(path, &set, &err);
    fuzz_outcome(st, &err);
    if (st != NCMP_OK)
        return st;
    size_t n = ncmp_stimuli_count(set);
    for (size_t i = 0; i < n && i < 4; i++) {
        ncmp_image image;
        if (ncmp_stimuli_load(set, i, &image, &err) == NCMP_OK)
            ncmp_image_release(&image);
        (void)ncmp_stimuli_id(set, i);
        for (size_t c = 0; c < ncmp_stimuli_column_count(set); c++)
            (void)ncmp_stimuli_value(set, i, c);
    }
    char hex[NCMP_SHA256_HEX_LEN];
    (void)ncmp_stimuli_fingerprint(set, hex, &err);
    ncmp_stimuli_close(set);
    return st;
}

ncmp_status fuzz_read_stimulus_ids(const char *path, ncmp_error *err)
{
    char **ids = NULL;
    size_t n_ids = 0;
    ncmp_status st = ncmp_stimulus_ids_read(path, &ids, &n_ids, err);
    if (st == NCMP_OK)
        ncmp_stimulus_ids_free(ids, n_ids);
    return st;
}
