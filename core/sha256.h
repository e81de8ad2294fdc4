/* SHA-256 of files and buffers, for provenance (via GNU Nettle). */
#ifndef NCMP_CORE_SHA256_H
#define NCMP_CORE_SHA256_H

#include <stddef.h>

#include "core/status.h"

#define NCMP_SHA256_HEX_LEN 65 /* 64 hex digits + NUL */

/* Lowercase hex digest of a file's bytes, streamed in 1 MiB blocks.  A regular
 * file hashed before by this process and unchanged since (same device, inode,
 * size and modification time) is not read again. */
ncmp_status ncmp_sha256_file(const char *path, char hex[NCMP_SHA256_HEX_LEN], ncmp_error *err);
void ncmp_sha256_buffer(const void *data, size_t size, char hex[NCMP_SHA256_HEX_LEN]);

#endif
