/* Fuzz harness: `score --details` files read by `neurocmp compare`
 * (results/compare_io.h). */
#include "results/compare_io.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ncmp_prediction_set *set = NULL;
    ncmp_error err;
    fuzz_init();
    ncmp_status st = ncmp_prediction_set_read(fuzz_write("details.h5", data, size), -1, &set, &err);
    fuzz_outcome(st, &err);
    if (st == NCMP_OK)
        ncmp_prediction_set_free(set);
    fuzz_require_no_open_hdf5();
    return 0;
}
