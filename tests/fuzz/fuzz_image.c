/* Fuzz harness: PNG and JPEG decoding (datasets/image.h). */
#include "datasets/image.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ncmp_image image;
    ncmp_error err;
    ncmp_status st = ncmp_image_decode(data, size, "fuzz", &image, &err);
    fuzz_outcome(st, &err);
    if (st == NCMP_OK)
        ncmp_image_release(&image);
    return 0;
}
