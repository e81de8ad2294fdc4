/* Provenance: what made an output file, recorded in every output.
 *
 * The command line is captured once by the tool (ncmp_provenance_set_command_line);
 * writers then stamp files with the tool version and revision, the linked
 * library versions, the UTC creation time, the command line, and the
 * SHA-256 of each input.
 */
#ifndef NCMP_CORE_PROVENANCE_H
#define NCMP_CORE_PROVENANCE_H

#include <hdf5.h>

#include "core/status.h"

/* Remember argv as one shell-quoted line (copied; safe to call again). */
void ncmp_provenance_set_command_line(int argc, char *const *argv);
/* The remembered line, or "" if none. */
const char *ncmp_provenance_command_line(void);
/* Release the stored command line and study config (optional, for leak checkers). */
void ncmp_provenance_clear(void);

/* The study config a run belongs to (`neurocmp study` runs each step with
 * NEUROCMP_STUDY_CONFIG set to it): read once, then every writer adds
 * study_config (the file's text), study_config_path and study_config_sha256
 * to the provenance it writes, so an output names the study that made it and
 * `neurocmp verify` treats the config as one of its inputs. */
ncmp_status ncmp_provenance_set_study(const char *config_path, ncmp_error *err);
/* The study config's text, path and SHA-256, or NULL when the run is not part of a study. */
const char *ncmp_provenance_study_text(void);
const char *ncmp_provenance_study_path(void);
const char *ncmp_provenance_study_sha256(void);

/* Current UTC time as ISO 8601 "2026-11-23T13:30:00Z". */
void ncmp_utc_timestamp(char *buf, size_t size);

/* Root attributes: neurocmp_version, neurocmp_revision, created_utc,
 * command_line, hdf5_version, gsl_version, blas. */
ncmp_status ncmp_provenance_write_h5(hid_t obj, ncmp_error *err);
/* Attributes "<role>_path" and "<role>_sha256" for an input file. */
ncmp_status ncmp_provenance_add_input_h5(hid_t obj, const char *role, const char *path, ncmp_error *err);

/* ---- versions of what is linked ----------------------------------------- */

/* "1.10.8" — the HDF5 library actually loaded. */
void ncmp_hdf5_version(char *buf, size_t size);
/* "2.7.1" */
const char *ncmp_gsl_version(void);
/* OpenBLAS configuration string, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Zen MAX_THREADS=64". */
const char *ncmp_blas_config(void);
/* Core type OpenBLAS selected at run time, e.g. "Zen". */
const char *ncmp_blas_corename(void);
/* OpenBLAS's thread count belongs to the application.  Library functions
 * that run their own thread pool (the engine, training, lockstep PLS,
 * prediction) set it to 1 for the duration, from the calling thread, and
 * restore the caller's count before they return, on every path; no worker
 * thread changes it. */
int ncmp_blas_threads(void);
void ncmp_blas_set_threads(int n);
/* True if the library was built with OpenMP (NEUROCMP_OPENMP). */
int ncmp_openmp_enabled(void);
/* Threads OpenMP loops will use (1 without OpenMP). */
int ncmp_openmp_threads(void);
/* Use n threads for BLAS and the engine thread pool (n <= 0: leave the
 * defaults).  An application call (the neurocmp command's --threads); the
 * library never calls it. */
void ncmp_set_threads(int n);

#endif
