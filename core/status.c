/* Status codes and error messages (see status.h). */
#include "core/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *ncmp_status_name(ncmp_status status)
{
    switch (status) {
    case NCMP_OK:
        return "ok";
    case NCMP_ERR_USAGE:
        return "usage error";
    case NCMP_ERR_IO:
        return "I/O error";
    case NCMP_ERR_FORMAT:
        return "format error";
    case NCMP_ERR_SHAPE:
        return "shape mismatch";
    case NCMP_ERR_VALUE:
        return "invalid value";
    case NCMP_ERR_NOT_FOUND:
        return "not found";
    case NCMP_ERR_EXISTS:
        return "already exists";
    case NCMP_ERR_INCOMPLETE:
        return "incomplete file";
    case NCMP_ERR_NOMEM:
        return "out of memory";
    case NCMP_ERR_INTERRUPTED:
        return "interrupted";
    case NCMP_ERR_INTERNAL:
        return "internal error";
    }
    return "unknown status";
}

void ncmp_error_clear(ncmp_error *err)
{
    if (err) {
        err->status = NCMP_OK;
        err->message[0] = '\0';
    }
}

ncmp_status ncmp_fail(ncmp_error *err, ncmp_status status, const char *fmt, ...)
{
    if (status == NCMP_OK)
        status = NCMP_ERR_INTERNAL;
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

ncmp_status ncmp_error_context(ncmp_error *err, const char *fmt, ...)
{
    if (!err)
        return NCMP_ERR_INTERNAL;
    char prefix[NCMP_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    /* Join by hand: both parts may be long, and truncation is intended. */
    char joined[NCMP_ERROR_MESSAGE_MAX];
    size_t n = strlen(prefix);
    if (n > sizeof joined - 1)
        n = sizeof joined - 1;
    memcpy(joined, prefix, n);
    size_t room = sizeof joined - 1 - n;
    const char sep[] = ": ";
    size_t k = room < 2 ? room : 2;
    memcpy(joined + n, sep, k);
    n += k;
    room -= k;
    size_t m = strlen(err->message);
    if (m > room)
        m = room;
    memcpy(joined + n, err->message, m);
    joined[n + m] = '\0';
    memcpy(err->message, joined, sizeof joined);
    if (err->status == NCMP_OK)
        err->status = NCMP_ERR_INTERNAL;
    return err->status;
}

int ncmp_status_exit_code(ncmp_status status)
{
    if (status == NCMP_OK)
        return 0;
    if (status == NCMP_ERR_USAGE)
        return 2;
    /* Not 128 + SIGINT: a shell cannot tell that from being killed. */
    return status == NCMP_ERR_INTERRUPTED ? 3 : 1;
}
