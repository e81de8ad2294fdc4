/* Locating the data neurocmp ships (architecture specs, bundled recordings). */
#ifndef NCMP_CORE_PATHS_H
#define NCMP_CORE_PATHS_H

#include <stddef.h>
#include <stdbool.h>

#include "core/status.h"

/* Resolve a shipped file such as "model/archs/vgg16.spec" or
 * "datasets/cowley2023-v4-210325/responses_raw_210325.npy".  Looks in
 * $NEUROCMP_DATADIR, then the source tree the tool was built from, then the
 * install prefix's share/neurocmp.  Fails with NCMP_ERR_NOT_FOUND listing
 * the places tried. */
ncmp_status ncmp_data_path(const char *relative, char *out, size_t size, ncmp_error *err);

bool ncmp_file_exists(const char *path);
/* mkdir -p; fails naming the component that could not be created. */
ncmp_status ncmp_make_directories(const char *path, ncmp_error *err);

/* Put a finished `partial` in place as `final`, durably: fsync the file,
 * rename it, fsync the folder (so a power cut cannot leave a renamed but
 * empty or partly written output).  On failure NCMP_ERR_IO naming the file;
 * the partial file is left for the caller to remove. */
ncmp_status ncmp_rename_durable(const char *partial, const char *final, ncmp_error *err);

#endif
