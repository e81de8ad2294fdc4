/* A forked walk of an untrusted file's structure (core/probe.h). */
#include "core/probe.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NCMP_PROBE_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define NCMP_PROBE_ASAN 1
#endif
#ifdef NCMP_PROBE_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

enum { PROBE_READ = 0, PROBE_UNREADABLE = 3 };

static unsigned probe_seconds(void)
{
    const char *v = getenv("NEUROCMP_PROBE_SECONDS");
    long s = v ? strtol(v, NULL, 10) : 0;
    return s > 0 && s < 86400 ? (unsigned)s : NCMP_PROBE_SECONDS;
}

/* In the child: nothing may outlive or report on the parent's behalf. */
static void child_setup(unsigned seconds)
{
    int fd = open("/dev/null", O_WRONLY);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
    }
    /* SIGALRM too: an inherited handler (a fuzzer's) would swallow the time limit. */
    const int fatal[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL, SIGALRM};
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
        sigaction(fatal[i], &dfl, NULL);
#ifdef NCMP_PROBE_ASAN
    /* A fuzzer's death callback would record the child's crash as its own. */
    __sanitizer_set_death_callback(NULL);
#endif
    alarm(seconds);
}

ncmp_status ncmp_probe_file(const char *path, const char *kind, int (*walk)(const char *path), ncmp_error *err)
{
    const char *off = getenv("NEUROCMP_NO_PROBE");
    if (off && *off && strcmp(off, "0") != 0)
        return NCMP_OK;
    const unsigned seconds = probe_seconds();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return NCMP_OK; /* no process to spare: read without the probe */
    if (pid == 0) {
        child_setup(seconds);
        int walked = walk(path);
        /* Damage HDF5 did to its own heap often shows only when memory is
         * released: release everything before reporting success. */
        H5garbage_collect();
        H5close();
        _exit(walked == 0 ? PROBE_READ : PROBE_UNREADABLE);
    }
    int status = 0;
    pid_t r;
    while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        ;
    if (r < 0)
        return NCMP_OK;
    if (WIFEXITED(status) && (WEXITSTATUS(status) == PROBE_READ || WEXITSTATUS(status) == PROBE_UNREADABLE))
        return NCMP_OK;
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
        return ncmp_fail(err, NCMP_ERR_FORMAT,
                         "'%s': the %s library did not finish reading the file's structure in %u s; the file is "
                         "damaged or crafted (docs/hardening.md)",
                         path, kind, seconds);
    char how[64];
    static const struct {
        int signal;
        const char *name;
    } names[] = {
        {SIGSEGV, "SIGSEGV"}, {SIGBUS, "SIGBUS"}, {SIGABRT, "SIGABRT"}, {SIGFPE, "SIGFPE"}, {SIGILL, "SIGILL"}};
    const char *name = "signal";
    for (size_t i = 0; WIFSIGNALED(status) && i < sizeof names / sizeof names[0]; i++)
        if (names[i].signal == WTERMSIG(status))
            name = names[i].name;
    if (WIFSIGNALED(status))
        snprintf(how, sizeof how, "%s, signal %d", name, WTERMSIG(status));
    else
        snprintf(how, sizeof how, "exit status %d", WEXITSTATUS(status));
    return ncmp_fail(err, NCMP_ERR_FORMAT,
                     "'%s' is damaged: the %s library crashed reading its structure (%s, in a separate process "
                     "neurocmp uses to check files first; docs/hardening.md)",
                     path, kind, how);
}

/* ---- the HDF5 walk ---------------------------------------------------------- */

/* String datasets (stimulus ids, layer names) are read whole, as the
 * readers read them: HDF5 follows each variable-length string into the
 * global heap, where a damaged heap object makes it copy with a negative size. */
static void reclaim(hid_t mem, hid_t space, void *buf)
{
#if H5_VERSION_GE(1, 12, 0)
    H5Treclaim(mem, space, H5P_DEFAULT, buf);
#else
    H5Dvlen_reclaim(mem, space, H5P_DEFAULT, buf);
#endif
}

static void read_strings(hid_t d, hid_t space, hid_t type, bool attribute)
{
    hssize_t n = H5Sget_simple_extent_npoints(space);
    if (n <= 0 || n > (1 << 24))
        return;
    htri_t vlen = H5Tis_variable_str(type);
    hid_t mem = H5Tcopy(H5T_C_S1);
    if (mem < 0)
        return;
    H5Tset_cset(mem, H5T_CSET_UTF8); /* as the readers read strings (core/h5.c) */
    size_t fixed = vlen > 0 ? 0 : H5Tget_size(type);
    if ((vlen > 0 ? H5Tset_size(mem, H5T_VARIABLE) : H5Tset_size(mem, fixed ? fixed : 1)) >= 0 &&
        (vlen > 0 || (fixed && fixed <= (1 << 20)))) {
        size_t bytes = vlen > 0 ? (size_t)n * sizeof(char *) : (size_t)n * fixed;
        void *buf = bytes <= ((size_t)1 << 28) ? calloc(1, bytes) : NULL;
        if (buf && (attribute ? H5Aread(d, mem, buf) : H5Dread(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf)) >= 0 &&
            vlen > 0)
            reclaim(mem, space, buf);
        free(buf);
    }
    H5Tclose(mem);
}

static herr_t visit_attribute(hid_t loc, const char *name, const H5A_info_t *info, void *data)
{
    (void)info;
    (void)data;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0)
        return 0;
    hid_t s = H5Aget_space(a), t = H5Aget_type(a);
    if (s >= 0 && t >= 0 && H5Tget_class(t) == H5T_STRING)
        read_strings(a, s, t, true);
    if (s >= 0)
        H5Sclose(s);
    if (t >= 0)
        H5Tclose(t);
    H5Aclose(a);
    return 0;
}

/* What a reader touches first: every string, or the first element of numbers. */
static void read_sample(hid_t d, hid_t space)
{
    hid_t t = H5Dget_type(d);
    if (t < 0)
        return;
    H5T_class_t cls = H5Tget_class(t);
    if (cls == H5T_STRING)
        read_strings(d, space, t, false);
    H5Tclose(t);
    if (cls != H5T_INTEGER && cls != H5T_FLOAT)
        return;
    int rank = H5Sget_simple_extent_ndims(space);
    hsize_t dims[H5S_MAX_RANK], start[H5S_MAX_RANK] = {0}, one[H5S_MAX_RANK];
    if (rank < 0 || rank > H5S_MAX_RANK || H5Sget_simple_extent_dims(space, dims, NULL) < 0)
        return;
    for (int i = 0; i < rank; i++) {
        if (!dims[i])
            return;
        one[i] = 1;
    }
    hid_t file_space = H5Scopy(space), mem = H5Screate(H5S_SCALAR);
    double value;
    if (file_space >= 0 && mem >= 0 &&
        (rank == 0 || H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, NULL, one, NULL) >= 0))
        H5Dread(d, H5T_NATIVE_DOUBLE, mem, file_space, H5P_DEFAULT, &value);
    if (mem >= 0)
        H5Sclose(mem);
    if (file_space >= 0)
        H5Sclose(file_space);
}

#if H5_VERSION_GE(1, 12, 0)
typedef H5O_info2_t probe_info;
#else
typedef H5O_info_t probe_info;
#endif

/* Attributes of any object; for a dataset also its layout, the first
 * element (numbers) or every string. */
static void inspect_object(hid_t o, bool dataset)
{
    H5Aiterate2(o, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, visit_attribute, NULL);
    if (dataset) {
        hid_t s = H5Dget_space(o), p = H5Dget_create_plist(o);
        if (s >= 0) {
            read_sample(o, s);
            H5Sclose(s);
        }
        if (p >= 0)
            H5Pclose(p);
    }
}

static herr_t visit_object(hid_t root, const char *name, const probe_info *info, void *data)
{
    (void)data;
    hid_t o = H5Oopen(root, name, H5P_DEFAULT);
    if (o < 0)
        return 0;
    inspect_object(o, info->type == H5O_TYPE_DATASET);
    H5Oclose(o);
    return 0;
}

#if H5_VERSION_GE(1, 12, 0)
typedef H5L_info2_t probe_link_info;
#else
typedef H5L_info_t probe_link_info;
#endif

static herr_t visit_link(hid_t group, const char *name, const probe_link_info *info, void *data)
{
    (void)info;
    (void)data;
    H5Lexists(group, name, H5P_DEFAULT);
    return 0;
}

/* The walk the readers do: links of each group in increasing name order (a
 * sorted link table for dense groups, where HDF5 1.10 frees wild pointers),
 * one level at a time, going on past objects that fail to open (H5Ovisit
 * stops at the first, before the objects a reader opens by name). */
typedef struct walk_state {
    int depth;
    size_t seen;
} walk_state;

static herr_t walk_link(hid_t group, const char *name, const probe_link_info *info, void *data)
{
    (void)info;
    walk_state *w = data;
    if (++w->seen > 100000)
        return 1;
    hid_t o = H5Oopen(group, name, H5P_DEFAULT);
    if (o < 0)
        return 0;
    H5I_type_t type = H5Iget_type(o);
    inspect_object(o, type == H5I_DATASET);
    if (type == H5I_GROUP && w->depth < 16) {
        w->depth++;
        H5Literate(o, H5_INDEX_NAME, H5_ITER_INC, NULL, walk_link, w);
        w->depth--;
    }
    H5Oclose(o);
    return 0;
}

int ncmp_probe_walk_hdf5(const char *path)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* the child's own state */
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return 1;
    walk_state w = {0, 0};
    inspect_object(f, false);
    herr_t r = H5Literate(f, H5_INDEX_NAME, H5_ITER_INC, NULL, walk_link, &w);
#if H5_VERSION_GE(1, 12, 0)
    H5Ovisit(f, H5_INDEX_NAME, H5_ITER_NATIVE, visit_object, NULL, H5O_INFO_BASIC);
#else
    H5Ovisit(f, H5_INDEX_NAME, H5_ITER_NATIVE, visit_object, NULL);
#endif
    H5Lvisit(f, H5_INDEX_NAME, H5_ITER_INC, visit_link, NULL);
    H5Fclose(f);
    return r < 0;
}
