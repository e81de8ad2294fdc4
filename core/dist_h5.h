/* Parallel HDF5 for the ranks of an MPI job (core/dist.h; docs/scale-out.md).
 *
 * One file opened by every rank through MPI-IO: metadata operations (creating
 * datasets, writing attributes) are collective and must be made by every rank
 * with the same arguments; raw data is written with collective transfers, each
 * rank selecting its own hyperslab (an empty one when it has nothing to write).
 * Without MPI, or with one rank, these return the default property lists.
 */
#ifndef NCMP_CORE_DIST_H5_H
#define NCMP_CORE_DIST_H5_H

#include <hdf5.h>
#include <stdbool.h>

#include "core/status.h"

/* True when the HDF5 library linked is the parallel one. */
bool ncmp_dist_h5_parallel_built(void);

/* A file-access property list: MPI-IO on all ranks (collective metadata reads
 * and writes) when ncmp_dist_parallel(), else a plain copy of H5P_DEFAULT.
 * Close it with H5Pclose.  Negative on failure (err filled). */
hid_t ncmp_dist_h5_fapl(ncmp_error *err);

/* A data-transfer property list for collective writes and reads under MPI,
 * else H5P_DEFAULT's copy.  Close it with H5Pclose. */
hid_t ncmp_dist_h5_dxpl(ncmp_error *err);

#endif
