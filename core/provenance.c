/* Provenance stamps and linked library versions (see provenance.h). */
#include "core/provenance.h"
#include "core/dist.h"
#include "core/h5.h"
#include "core/parallel.h"
#include "core/sha256.h"
#include "core/version.h"

#include <cblas.h>
#include <errno.h>
#include <gsl/gsl_version.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char *command_line = NULL;
static char *study_text = NULL, *study_path = NULL;
static char study_sha256[NCMP_SHA256_HEX_LEN];

static int needs_quotes(const char *s)
{
    if (!*s)
        return 1;
    for (; *s; s++)
        if (!(strchr("-_./=:,+@%", *s) || (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
              (*s >= 'A' && *s <= 'Z')))
            return 1;
    return 0;
}

void ncmp_provenance_set_command_line(int argc, char *const *argv)
{
    size_t len = 1;
    for (int i = 0; i < argc; i++)
        len += 4 * strlen(argv[i]) + 3; /* worst case: every char becomes '\'' */
    char *line = malloc(len);
    if (!line)
        return;
    char *p = line;
    for (int i = 0; i < argc; i++) {
        if (i)
            *p++ = ' ';
        if (!needs_quotes(argv[i])) {
            p += sprintf(p, "%s", argv[i]);
            continue;
        }
        *p++ = '\'';
        for (const char *s = argv[i]; *s; s++) {
            if (*s == '\'') {
                memcpy(p, "'\\''", 4);
                p += 4;
            } else {
                *p++ = *s;
            }
        }
        *p++ = '\'';
    }
    *p = '\0';
    free(command_line);
    command_line = line;
}

const char *ncmp_provenance_command_line(void)
{
    return command_line ? command_line : "";
}

void ncmp_provenance_clear(void)
{
    free(command_line);
    command_line = NULL;
    free(study_text);
    free(study_path);
    study_text = study_path = NULL;
}

ncmp_status ncmp_provenance_set_study(const char *config_path, ncmp_error *err)
{
    FILE *f = fopen(config_path, "rb");
    if (!f)
        return ncmp_fail(err, NCMP_ERR_IO, "cannot open the study config '%s': %s", config_path, strerror(errno));
    /* A study config is a page of text; refuse anything that is clearly not one. */
    enum { MAX_CONFIG = 1 << 20 };
    char *text = malloc(MAX_CONFIG + 1);
    size_t n = text ? fread(text, 1, MAX_CONFIG + 1, f) : 0;
    int bad = text && ferror(f);
    fclose(f);
    if (!text)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    if (bad || n > MAX_CONFIG) {
        free(text);
        return ncmp_fail(err, bad ? NCMP_ERR_IO : NCMP_ERR_FORMAT, "the study config '%s' %s", config_path,
                         bad ? "could not be read" : "is larger than 1 MiB");
    }
    text[n] = '\0';
    char *path = strdup(config_path);
    if (!path) {
        free(text);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    }
    ncmp_sha256_buffer(text, n, study_sha256);
    free(study_text);
    free(study_path);
    study_text = text;
    study_path = path;
    return NCMP_OK;
}

const char *ncmp_provenance_study_text(void)
{
    return study_text;
}
const char *ncmp_provenance_study_path(void)
{
    return study_path;
}
const char *ncmp_provenance_study_sha256(void)
{
    return study_text ? study_sha256 : NULL;
}

void ncmp_utc_timestamp(char *buf, size_t size)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void ncmp_hdf5_version(char *buf, size_t size)
{
    unsigned maj = 0, min = 0, rel = 0;
    H5get_libversion(&maj, &min, &rel);
    snprintf(buf, size, "%u.%u.%u", maj, min, rel);
}

const char *ncmp_gsl_version(void)
{
    return gsl_version;
}
const char *ncmp_blas_config(void)
{
    return openblas_get_config();
}
const char *ncmp_blas_corename(void)
{
    return openblas_get_corename();
}
int ncmp_blas_threads(void)
{
    return openblas_get_num_threads();
}
/* The ThreadSanitizer build (NEUROCMP_TSAN) keeps OpenBLAS on one thread:
 * its workers hand results back through spin-waits in uninstrumented code,
 * which TSan would report as races of ours. */
static void blas_threads(int n)
{
#ifdef NCMP_BLAS_SINGLE_THREAD
    (void)n;
    openblas_set_num_threads(1);
#else
    openblas_set_num_threads(n);
#endif
}

void ncmp_blas_set_threads(int n)
{
    blas_threads(n);
}

#ifdef NCMP_HAVE_OPENMP
#include <omp.h>
int ncmp_openmp_enabled(void)
{
    return 1;
}
void ncmp_set_threads(int n)
{
    if (n > 0) {
        blas_threads(n);
        ncmp_parallel_set_threads(n);
        omp_set_num_threads(n);
    }
}
int ncmp_openmp_threads(void)
{
    return omp_get_max_threads();
}
#else
int ncmp_openmp_enabled(void)
{
    return 0;
}
void ncmp_set_threads(int n)
{
    if (n > 0) {
        blas_threads(n);
        ncmp_parallel_set_threads(n);
    }
}
int ncmp_openmp_threads(void)
{
    return 1;
}
#endif

ncmp_status ncmp_provenance_write_h5(hid_t obj, ncmp_error *err)
{
    char created[32], h5v[32], blas[256];
    ncmp_utc_timestamp(created, sizeof created);
    ncmp_hdf5_version(h5v, sizeof h5v);
    snprintf(blas, sizeof blas, "%s; core %s; %d threads", ncmp_blas_config(), ncmp_blas_corename(),
             ncmp_blas_threads());
    ncmp_status st;
    if ((st = ncmp_h5_attr_set_string(obj, "neurocmp_version", NCMP_VERSION, err)) ||
        (st = ncmp_h5_attr_set_string(obj, "neurocmp_revision", NCMP_GIT_REVISION, err)) ||
        (st = ncmp_h5_attr_set_string(obj, "created_utc", created, err)) ||
        (st = ncmp_h5_attr_set_string(obj, "command_line", ncmp_provenance_command_line(), err)) ||
        (st = ncmp_h5_attr_set_string(obj, "hdf5_version", h5v, err)) ||
        (st = ncmp_h5_attr_set_string(obj, "gsl_version", ncmp_gsl_version(), err)) ||
        (st = ncmp_h5_attr_set_string(obj, "blas", blas, err)) ||
        (ncmp_dist_parallel() && (st = ncmp_h5_attr_set_int64(obj, "mpi_ranks", ncmp_dist_size(), err))) ||
        (study_text && ((st = ncmp_h5_attr_set_string(obj, "study_config", study_text, err)) ||
                        (st = ncmp_h5_attr_set_string(obj, "study_config_path", study_path, err)) ||
                        (st = ncmp_h5_attr_set_string(obj, "study_config_sha256", study_sha256, err)))))
        return ncmp_error_context(err, "writing provenance");
    return NCMP_OK;
}

ncmp_status ncmp_provenance_add_input_h5(hid_t obj, const char *role, const char *path, ncmp_error *err)
{
    char hex[NCMP_SHA256_HEX_LEN];
    ncmp_status st = ncmp_sha256_file(path, hex, err);
    if (st)
        return st;
    char name[128];
    snprintf(name, sizeof name, "%s_path", role);
    if ((st = ncmp_h5_attr_set_string(obj, name, path, err)))
        return st;
    snprintf(name, sizeof name, "%s_sha256", role);
    return ncmp_h5_attr_set_string(obj, name, hex, err);
}
