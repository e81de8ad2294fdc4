/* Levelled logging to stderr (see log.h). */
#include "core/log.h"

#include <stdarg.h>
#include <string.h>

static ncmp_log_level current_level = NCMP_LOG_INFO;
static FILE *log_stream = NULL;
static int log_rank = 0, log_size = 1;

void ncmp_log_set_rank(int rank, int size)
{
    log_rank = rank;
    log_size = size;
}

void ncmp_log_set_level(ncmp_log_level level)
{
    current_level = level;
}
ncmp_log_level ncmp_log_get_level(void)
{
    if (log_rank > 0 && current_level > NCMP_LOG_WARN)
        return NCMP_LOG_WARN;
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
    if (level > ncmp_log_get_level() && level != NCMP_LOG_ERROR)
        return;
    static const char *const prefix[] = {"error: ", "warning: ", "", "debug: "};
    char body[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    size_t n = strlen(body);
    const char *newline = (n > 0 && body[n - 1] == '\n') ? "" : "\n";
    if (log_size > 1)
        fprintf(ncmp_log_stream(), "neurocmp[rank %d/%d]: %s%s%s", log_rank, log_size, prefix[level], body, newline);
    else
        fprintf(ncmp_log_stream(), "neurocmp: %s%s%s", prefix[level], body, newline);
}
