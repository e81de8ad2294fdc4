/* Parallel HDF5 property lists (see dist_h5.h). */
#include "core/dist_h5.h"
#include "core/dist.h"

#ifdef NCMP_HAVE_MPI
#include <mpi.h>
#endif

bool ncmp_dist_h5_parallel_built(void)
{
#ifdef H5_HAVE_PARALLEL
    return true;
#else
    return false;
#endif
}

hid_t ncmp_dist_h5_fapl(ncmp_error *err)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) {
        ncmp_fail(err, NCMP_ERR_INTERNAL, "cannot create an HDF5 file-access property list");
        return -1;
    }
#if defined(NCMP_HAVE_MPI) && defined(H5_HAVE_PARALLEL)
    if (ncmp_dist_parallel()) {
        if (H5Pset_fapl_mpio(fapl, MPI_COMM_WORLD, MPI_INFO_NULL) < 0 || H5Pset_all_coll_metadata_ops(fapl, true) < 0 ||
            H5Pset_coll_metadata_write(fapl, true) < 0) {
            H5Pclose(fapl);
            ncmp_fail(err, NCMP_ERR_INTERNAL, "cannot set up MPI-IO for HDF5");
            return -1;
        }
    }
#endif
    return fapl;
}

hid_t ncmp_dist_h5_dxpl(ncmp_error *err)
{
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    if (dxpl < 0) {
        ncmp_fail(err, NCMP_ERR_INTERNAL, "cannot create an HDF5 transfer property list");
        return -1;
    }
#if defined(NCMP_HAVE_MPI) && defined(H5_HAVE_PARALLEL)
    if (ncmp_dist_parallel() && H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) < 0) {
        H5Pclose(dxpl);
        ncmp_fail(err, NCMP_ERR_INTERNAL, "cannot set collective transfers for HDF5");
        return -1;
    }
#endif
    return dxpl;
}
