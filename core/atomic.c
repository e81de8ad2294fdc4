/* Complete-or-absent outputs (core/atomic.h). */
#include "core/atomic.h"

#include "core/paths.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

ncmp_status ncmp_output_path_check(const char *path, ncmp_error *err)
{
    struct stat sb;
    if (!path || !path[0])
        return ncmp_fail(err, NCMP_ERR_USAGE, "no output path given");
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return ncmp_fail(err, NCMP_ERR_IO, "cannot write '%s': it is a directory", path);
    char *copy = strdup(path);
    if (!copy)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    const char *dir = dirname(copy);
    ncmp_status st = NCMP_OK;
    if (stat(dir, &sb) != 0)
        st = ncmp_fail(err, NCMP_ERR_IO, "cannot write '%s': the directory '%s' does not exist", path, dir);
    else if (!S_ISDIR(sb.st_mode))
        st = ncmp_fail(err, NCMP_ERR_IO, "cannot write '%s': '%s' is not a directory", path, dir);
    else if (access(dir, W_OK) != 0)
        st = ncmp_fail(err, NCMP_ERR_IO, "cannot write '%s': the directory '%s' is not writable (%s)", path, dir,
                       strerror(errno));
    free(copy);
    return st;
}

static void reset(ncmp_atomic_file *f)
{
    free(f->path);
    free(f->partial_path);
    f->path = f->partial_path = NULL;
    f->stream = NULL;
}

ncmp_status ncmp_atomic_begin(ncmp_atomic_file *f, const char *path, bool open_stream, ncmp_error *err)
{
    memset(f, 0, sizeof *f);
    ncmp_status st = ncmp_output_path_check(path, err);
    if (st)
        return st;
    size_t len = strlen(path) + sizeof ".partial";
    f->path = strdup(path);
    f->partial_path = malloc(len);
    if (!f->path || !f->partial_path) {
        reset(f);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    }
    snprintf(f->partial_path, len, "%s.partial", path);
    if (open_stream && !(f->stream = fopen(f->partial_path, "w"))) {
        st = ncmp_fail(err, NCMP_ERR_IO, "cannot write '%s': %s", f->partial_path, strerror(errno));
        reset(f);
        return st;
    }
    return NCMP_OK;
}

void ncmp_atomic_abort(ncmp_atomic_file *f)
{
    if (f->stream)
        fclose(f->stream);
    if (f->partial_path)
        unlink(f->partial_path);
    reset(f);
}

ncmp_status ncmp_atomic_commit(ncmp_atomic_file *f, ncmp_error *err)
{
    ncmp_status st = NCMP_OK;
    if (f->stream) {
        bool bad = ferror(f->stream) != 0;
        bad |= fclose(f->stream) != 0;
        f->stream = NULL;
        if (bad)
            st = ncmp_fail(err, NCMP_ERR_IO, "cannot write '%s': %s", f->partial_path,
                           errno ? strerror(errno) : "write error");
    }
    if (!st && (st = ncmp_rename_durable(f->partial_path, f->path, err)) == NCMP_OK) {
        reset(f);
        return NCMP_OK;
    }
    ncmp_atomic_abort(f);
    return st;
}
