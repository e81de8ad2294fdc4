/* SHA-256 (FIPS 180-4) of files and buffers, computed by GNU Nettle. */
#include "core/sha256.h"

#include <errno.h>
#include <nettle/sha2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void to_hex(const uint8_t digest[SHA256_DIGEST_SIZE], char hex[NCMP_SHA256_HEX_LEN])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < SHA256_DIGEST_SIZE; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[2 * SHA256_DIGEST_SIZE] = '\0';
}

void ncmp_sha256_buffer(const void *data, size_t size, char hex[NCMP_SHA256_HEX_LEN])
{
    struct sha256_ctx ctx;
    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_init(&ctx);
    sha256_update(&ctx, size, data);
    sha256_digest(&ctx, SHA256_DIGEST_SIZE, digest);
    to_hex(digest, hex);
}

ncmp_status ncmp_sha256_file(const char *path, char hex[NCMP_SHA256_HEX_LEN], ncmp_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return ncmp_fail(err, NCMP_ERR_IO, "cannot open '%s' to hash it: %s", path, strerror(errno));
    enum { BLOCK = 1 << 20 };
    uint8_t *buf = malloc(BLOCK);
    if (!buf) {
        fclose(f);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "cannot allocate a buffer to hash '%s'", path);
    }
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    size_t n;
    while ((n = fread(buf, 1, BLOCK, f)) > 0)
        sha256_update(&ctx, n, buf);
    int failed = ferror(f);
    free(buf);
    fclose(f);
    if (failed)
        return ncmp_fail(err, NCMP_ERR_IO, "read error while hashing '%s'", path);
    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_digest(&ctx, SHA256_DIGEST_SIZE, digest);
    to_hex(digest, hex);
    return NCMP_OK;
}
