/* Shared by the fuzz harnesses (docs/hardening.md "Fuzzing"): most neurocmp
 * readers take a path, so a harness writes its input to a file in a private
 * temporary folder and hands the reader that path.  Built with libFuzzer
 * (-DNEUROCMP_FUZZ=ON, clang) or with replay_main.c, which feeds the files
 * of the committed corpus to the same entry point under the normal build. */
#ifndef NCMP_TESTS_FUZZ_UTIL_H
#define NCMP_TESTS_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Write size bytes to NAME in the harness's temporary folder (created on
 * first use, removed at exit); returns the path (static storage per name
 * slot: valid until the next call with the same name). */
const char *fuzz_write(const char *name, const void *data, size_t size);
/* Remove NAME from the temporary folder if it exists. */
void fuzz_remove(const char *name);
/* A NUL-terminated copy of data (free it). */
char *fuzz_text(const uint8_t *data, size_t size);
/* Once per process: quiet HDF5, a 64 MiB limit on declared array sizes
 * (libFuzzer treats larger allocations as findings; a real reader's limit is
 * 1 TiB, see core/sizes.h), and a 5 s limit on the probe's walk (core/probe.h). */
void fuzz_init(void);
/* Open a stimulus set (folder, ZIP, CSV, IDX), decode its first four
 * stimuli, read their metadata and fingerprint it; returns the open status
 * (also recorded with fuzz_outcome). */
ncmp_status fuzz_read_stimuli(const char *path);
/* The stimulus-id reader of `neural import` on the same file; its status. */
ncmp_status fuzz_read_stimulus_ids(const char *path, ncmp_error *err);

/* After an HDF5 reader: abort (a finding) if any HDF5 object or file is
 * still open, i.e. the reader leaked a handle. */
void fuzz_require_no_open_hdf5(void);
/* After netCDF: close what netCDF-C leaves open on a damaged file (it leaks
 * the HDF5 file on some error paths, and HDF5 would then hand the stale
 * file to the next open of the same path). */
void fuzz_close_open_hdf5(void);

/* The harness's main reader result for this input: replay_main.c requires
 * it to be NCMP_OK for the seeds (files named seed-*), so a harness whose
 * seeds no longer parse (and so fuzz nothing deep) fails its replay test. */
void fuzz_outcome(ncmp_status status, const ncmp_error *err);
extern ncmp_status fuzz_last_status;
extern char fuzz_last_message[NCMP_ERROR_MESSAGE_MAX];

#endif
