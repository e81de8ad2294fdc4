/* Shipped-data lookup and directory helpers (see paths.h). */
#include "core/paths.h"
#include "core/version.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool ncmp_file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

ncmp_status ncmp_data_path(const char *relative, char *out, size_t size, ncmp_error *err)
{
    const char *roots[3] = {getenv("NEUROCMP_DATADIR"), NCMP_DATADIR_BUILD, NCMP_DATADIR_INSTALL};
    for (int i = 0; i < 3; i++) {
        if (!roots[i] || !roots[i][0])
            continue;
        snprintf(out, size, "%s/%s", roots[i], relative);
        if (ncmp_file_exists(out))
            return NCMP_OK;
    }
    out[0] = '\0';
    return ncmp_fail(err, NCMP_ERR_NOT_FOUND,
                     "shipped file '%s' not found in $NEUROCMP_DATADIR, '%s' or '%s' (set NEUROCMP_DATADIR to the "
                     "neurocmp source or share directory)",
                     relative, NCMP_DATADIR_BUILD, NCMP_DATADIR_INSTALL);
}

ncmp_status ncmp_make_directories(const char *path, ncmp_error *err)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return ncmp_fail(err, NCMP_ERR_USAGE, "path too long: '%s'", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return ncmp_fail(err, NCMP_ERR_IO, "cannot create directory '%s': %s", buf, strerror(errno));
            struct stat sb;
            if (stat(buf, &sb) != 0 || !S_ISDIR(sb.st_mode))
                return ncmp_fail(err, NCMP_ERR_IO, "'%s' exists and is not a directory", buf);
            *p = saved;
            if (saved == '\0')
                break;
        }
    }
    return NCMP_OK;
}

static int fsync_path(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

ncmp_status ncmp_rename_durable(const char *partial, const char *final, ncmp_error *err)
{
    if (fsync_path(partial, O_RDONLY) != 0)
        return ncmp_fail(err, NCMP_ERR_IO, "cannot write '%s' to disk: %s (disk full?)", partial, strerror(errno));
    if (rename(partial, final) != 0)
        return ncmp_fail(err, NCMP_ERR_IO, "cannot rename '%s' to '%s': %s", partial, final, strerror(errno));
    /* the folder holding the new name: "." for a bare file name */
    char dir[4096];
    const char *slash = strrchr(final, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == final)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - final), final);
    /* some file systems refuse fsync on a directory (EINVAL): the rename stands */
    if (fsync_path(dir, O_RDONLY | O_DIRECTORY) != 0 && errno != EINVAL && errno != EBADF)
        return ncmp_fail(err, NCMP_ERR_IO, "cannot write the folder of '%s' to disk: %s", final, strerror(errno));
    return NCMP_OK;
}
