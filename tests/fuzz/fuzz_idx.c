/* Fuzz harness: IDX image files with their labels file, through the
 * stimuli reader (datasets/stimuli.h).  Input: 2 bytes (little-endian)
 * giving the labels file's length L, L bytes of labels, then the images. */
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
    fuzz_read_stimuli(path);
    return 0;
}
