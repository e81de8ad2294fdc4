/* Fuzz harness: IDX image files with their labels file, through the
 * stimuli reader (datasets/stimuli.h).  Input: 2 bytes (little-endian)
 * giving the labels file's length L, L bytes of labels, then the images. */
#include "datasets/stimuli.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n_labels = size >= 2 ? (size_t)data[0] | (size_t)data[1] << 8 : 0;
    size_t skip = size >= 2 ? 2 : 0;
    if (n_labels > size - skip)
        n_labels = size - skip;
    if (n_labels)
        fuzz_write("set-labels-idx1-ubyte", data + skip, n_labels);
    else
        fuzz_remove("set-labels-idx1-ubyte");
    const char *path = fuzz_write("set-images-idx3-ubyte", data + skip + n_labels, size - skip - n_labels);
    ncmp_stimulus_set *set = NULL;
    ncmp_error err;
    ncmp_status st = ncmp_stimuli_open(path, &set, &err);
    fuzz_outcome(st, &err);
    if (st != NCMP_OK)
        return 0;
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
    return 0;
}
