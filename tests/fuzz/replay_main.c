/* Replays fuzz inputs without libFuzzer: every file named on the command
 * line, or every file in a folder named there, goes through the harness's
 * LLVMFuzzerTestOneInput once.  The normal and sanitizer builds run the
 * committed corpus this way (ctest fuzz_replay_*), so every crash ever
 * found stays fixed.  Seeds (files named seed-*) must also read as valid:
 * otherwise the harness would fuzz nothing past the first check. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_util.h"

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open '%s'\n", path);
        return 1;
    }
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            unsigned char *grown = realloc(buf, cap *= 2);
            if (!grown) {
                free(buf);
                buf = NULL;
            }
            buf = grown;
        }
    }
    fclose(f);
    if (!buf) {
        fprintf(stderr, "replay: out of memory reading '%s'\n", path);
        return 1;
    }
    fuzz_last_status = NCMP_OK;
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    if (!strncmp(base, "seed-", 5) && fuzz_last_status != NCMP_OK) {
        fprintf(stderr, "replay: seed '%s' is not read as valid: %s\n", path, fuzz_last_message);
        return 1;
    }
    return 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    size_t n_run = 0;
    int failed = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: no such file or folder '%s'\n", argv[i]);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            failed |= run_file(argv[i]);
            n_run++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        if (!d) {
            fprintf(stderr, "replay: cannot list '%s'\n", argv[i]);
            return 1;
        }
        char **names = NULL;
        size_t n = 0, cap = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 64;
                char **grown = realloc(names, cap * sizeof *names);
                if (!grown)
                    abort();
                names = grown;
            }
            size_t len = strlen(argv[i]) + strlen(e->d_name) + 2;
            names[n] = malloc(len);
            if (!names[n])
                abort();
            snprintf(names[n++], len, "%s/%s", argv[i], e->d_name);
        }
        closedir(d);
        qsort(names, n, sizeof *names, compare_names);
        for (size_t k = 0; k < n; k++) {
            failed |= run_file(names[k]);
            free(names[k]);
        }
        free(names);
        n_run += n;
    }
    if (!n_run) {
        fprintf(stderr, "replay: no inputs given (a replay that runs nothing proves nothing)\n");
        return 1;
    }
    printf("replay: %zu inputs ran without a crash\n", n_run);
    return failed;
}
