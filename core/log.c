/* Levelled logging to stderr (see log.h). */
#include "core/log.h"

#include <stdarg.h>
#include <string.h>

static ncmp_log_level current_level = NCMP_LOG_INFO;
static FILE *log_stream = NULL;

void ncmp_log_set_level(ncmp_log_level level)
{
    current_level = level;
}
ncmp_log_level ncmp_log_get_level(void)
{
    return current_level;
}
void ncmp_log_set_stream(FILE *stream)
{
    log_stream = stream;
}
FILE *ncmp_log_stream(void)
{
    return log_stream ? log_stream : stderr;
}

void ncmp_log(ncmp_log_level level, const char *fmt, ...)
{
    if (level > current_level && level != NCMP_LOG_ERROR)
        return;
    static const char *const prefix[] = {"error: ", "warning: ", "", "debug: "};
    char body[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    size_t n = strlen(body);
    const char *newline = (n > 0 && body[n - 1] == '\n') ? "" : "\n";
    fprintf(ncmp_log_stream(), "neurocmp: %s%s%s", prefix[level], body, newline);
}
