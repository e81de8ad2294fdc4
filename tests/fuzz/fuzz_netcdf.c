/* Fuzz harness: BrainIO netCDF-4 assemblies (neural/io.h). */
#include "fuzz_util.h"
#include "neural/assembly.h"
#include "neural/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ncmp_assembly *a = NULL;
    ncmp_error err;
    ncmp_status st = ncmp_assembly_read_netcdf(fuzz_write("assembly.nc", data, size), &a, &err);
    fuzz_outcome(st, &err);
    if (st == NCMP_OK)
        ncmp_assembly_free(a);
    fuzz_close_open_hdf5();
    return 0;
}
