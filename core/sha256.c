/* SHA-256 (FIPS 180-4) of files and buffers, computed by GNU Nettle. */
#include "core/sha256.h"

#include <errno.h>
#include <nettle/sha2.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Digests of files already hashed by this process, keyed by what stat says of
 * them: writers of one result (JSON, HDF5, figures, report) each record the
 * inputs' SHA-256, and a multi-GB activations file should be read once, not
 * once per output.  A file changed since (other size, mtime or inode) is
 * hashed again. */
enum { CACHE_SLOTS = 16 };
typedef struct cache_entry {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    char hex[NCMP_SHA256_HEX_LEN];
    int used;
} cache_entry;
static cache_entry cache[CACHE_SLOTS];
static unsigned cache_next;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static int same_file(const cache_entry *e, const struct stat *sb)
{
    return e->used && e->dev == sb->st_dev && e->ino == sb->st_ino && e->size == sb->st_size &&
           e->mtime.tv_sec == sb->st_mtim.tv_sec && e->mtime.tv_nsec == sb->st_mtim.tv_nsec;
}

static int cache_lookup(const struct stat *sb, char hex[NCMP_SHA256_HEX_LEN])
{
    int hit = 0;
    pthread_mutex_lock(&cache_lock);
    for (int i = 0; i < CACHE_SLOTS && !hit; i++)
        if (same_file(&cache[i], sb)) {
            memcpy(hex, cache[i].hex, NCMP_SHA256_HEX_LEN);
            hit = 1;
        }
    pthread_mutex_unlock(&cache_lock);
    return hit;
}

static void cache_store(const struct stat *sb, const char hex[NCMP_SHA256_HEX_LEN])
{
    pthread_mutex_lock(&cache_lock);
    cache_entry *e = &cache[cache_next++ % CACHE_SLOTS];
    *e = (cache_entry){sb->st_dev, sb->st_ino, sb->st_size, sb->st_mtim, "", 1};
    memcpy(e->hex, hex, NCMP_SHA256_HEX_LEN);
    pthread_mutex_unlock(&cache_lock);
}

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
    struct stat sb;
    int have_stat = fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode);
    if (have_stat && cache_lookup(&sb, hex)) {
        fclose(f);
        return NCMP_OK;
    }
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
    if (have_stat)
        cache_store(&sb, hex);
    return NCMP_OK;
}
