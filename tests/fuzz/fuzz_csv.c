/* Fuzz harness: BrainIO-style CSV stimulus sets (datasets/stimuli.h), next
 * to two small images they may name (a.png, b.jpg), and the stimulus-id
 * reader of `neural from-npy` (neural/io.h). */
#include "datasets/stimuli.h"
#include "fuzz_util.h"
#include "neural/io.h"

#include "fuzz_images.inc"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        fuzz_write("a.png", png_seed, sizeof png_seed);
        fuzz_write("b.jpg", jpeg_seed, sizeof jpeg_seed);
        ready = 1;
    }
    const char *path = fuzz_write("set.csv", data, size);
    ncmp_error err;
    ncmp_stimulus_set *set = NULL;
    ncmp_status st = ncmp_stimuli_open(path, &set, &err);
    fuzz_outcome(st, &err);
    if (st == NCMP_OK) {
        size_t n = ncmp_stimuli_count(set);
        for (size_t i = 0; i < n && i < 4; i++) {
            ncmp_image image;
            if (ncmp_stimuli_load(set, i, &image, &err) == NCMP_OK)
                ncmp_image_release(&image);
            for (size_t c = 0; c < ncmp_stimuli_column_count(set); c++)
                (void)ncmp_stimuli_value(set, i, c);
        }
        char hex[NCMP_SHA256_HEX_LEN];
        (void)ncmp_stimuli_fingerprint(set, hex, &err);
        ncmp_stimuli_close(set);
    }
    char **ids = NULL;
    size_t n_ids = 0;
    ncmp_status ids_st = ncmp_stimulus_ids_read(path, &ids, &n_ids, &err);
    if (ids_st == NCMP_OK)
        ncmp_stimulus_ids_free(ids, n_ids);
    if (st != NCMP_OK) /* a list of ids without images is valid for the second reader */
        fuzz_outcome(ids_st, &err);
    return 0;
}
