/* Reading an untrusted file's structure in a child process first
 * (docs/hardening.md "Libraries that crash").
 *
 * HDF5 1.10 (Debian 12) and the netCDF-C built on it crash on some
 * malformed files: fuzzing found invalid frees and wild reads inside
 * H5Literate/H5Lvisit on damaged link tables, before any neurocmp check can
 * run.  So the HDF5 and netCDF readers first walk the file's whole
 * structure (every object, dataspace, datatype, attribute, and the first
 * element of every numeric dataset) in a forked child.  If the child dies
 * of a signal, a sanitizer report or does not finish in
 * NCMP_PROBE_SECONDS (a loop inside HDF5), the reader fails with a clear error naming the file
 * instead of taking the process down.  A walk that fails normally (not HDF5,
 * unreadable) is left to the reader, whose message is more specific.
 *
 * The probe costs a fork and a metadata walk per file opened (a few
 * milliseconds).  Set the environment variable NEUROCMP_NO_PROBE=1 to skip
 * it (trusted files, or a platform without fork).
 */
#ifndef NCMP_CORE_PROBE_H
#define NCMP_CORE_PROBE_H

#include "core/status.h"

/* How long the walk may take before the file is declared damaged (HDF5
 * loops forever on some damaged files); NEUROCMP_PROBE_SECONDS overrides it. */
#define NCMP_PROBE_SECONDS 30

/* walk(path) returns 0 if it read the structure, non-zero if the file is
 * unreadable in an ordinary way.  kind names the format in the message
 * ("HDF5", "netCDF"). */
ncmp_status ncmp_probe_file(const char *path, const char *kind, int (*walk)(const char *path), ncmp_error *err);

/* The walk of an HDF5 file (0: every object visited). */
int ncmp_probe_walk_hdf5(const char *path);

#endif
