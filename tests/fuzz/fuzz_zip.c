/* Fuzz harness: ZIP archives of images through the stimuli reader
 * (datasets/stimuli.h) and the stimulus-id reader (neural/io.h). */
#include "datasets/stimuli.h"
#include "fuzz_util.h"
#include "neural/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write("images.zip", data, size);
    ncmp_stimulus_set *set = NULL;
    ncmp_error err;
    ncmp_status st = ncmp_stimuli_open(path, &set, &err);
    fuzz_outcome(st, &err);
    if (st == NCMP_OK) {
        size_t n = ncmp_stimuli_count(set);
        for (size_t i = 0; i < n && i < 4; i++) {
            ncmp_image image;
            if (ncmp_stimuli_load(set, i, &image, &err) == NCMP_OK)
                ncmp_image_release(&image);
        }
        char hex[NCMP_SHA256_HEX_LEN];
        (void)ncmp_stimuli_fingerprint(set, hex, &err);
        ncmp_stimuli_close(set);
    }
    char **ids = NULL;
    size_t n_ids = 0;
    if (ncmp_stimulus_ids_read(path, &ids, &n_ids, &err) == NCMP_OK)
        ncmp_stimulus_ids_free(ids, n_ids);
    return 0;
}
