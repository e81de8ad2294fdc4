/* Fuzz harness: NumPy .npy arrays (neural/io.h). */
#include "fuzz_util.h"
#include "neural/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ncmp_npy_array a;
    ncmp_error err;
    ncmp_status st = ncmp_npy_read(fuzz_write("input.npy", data, size), &a, &err);
    fuzz_outcome(st, &err);
    if (st == NCMP_OK)
        ncmp_npy_release(&a);
    return 0;
}
