/* Fuzz harness: BrainIO-style CSV stimulus sets (datasets/stimuli.h), next
 * to two small images they may name (a.png, b.jpg), and the stimulus-id
 * reader of `neural from-npy` (neural/io.h). */
#include "fuzz_util.h"

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
    ncmp_status st = fuzz_read_stimuli(path);
    ncmp_error err;
    ncmp_status ids_st = fuzz_read_stimulus_ids(path, &err);
    if (st != NCMP_OK) /* a list of ids without images is valid for the second reader */
        fuzz_outcome(ids_st, &err);
    return 0;
}
