/* Fuzz harness: ZIP archives of images through the stimuli reader
 * (datasets/stimuli.h) and the stimulus-id reader (neural/io.h). */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write("images.zip", data, size);
    fuzz_read_stimuli(path);
    ncmp_error err;
    fuzz_read_stimulus_ids(path, &err);
    return 0;
}
