/* Levelled logging to stderr.
 *
 * The command-line tool sets the level from -q/-v; library code logs through
 * these functions and never writes to stdout.  Output is line-buffered and
 * each message is one fprintf, so lines from threads do not interleave.
 */
#ifndef NCMP_CORE_LOG_H
#define NCMP_CORE_LOG_H

#include <stdio.h>

typedef enum ncmp_log_level {
    NCMP_LOG_QUIET = 0, /* nothing but errors */
    NCMP_LOG_ERROR = 0,
    NCMP_LOG_WARN = 1,
    NCMP_LOG_INFO = 2, /* default */
    NCMP_LOG_DEBUG = 3
} ncmp_log_level;

void ncmp_log_set_level(ncmp_log_level level);
ncmp_log_level ncmp_log_get_level(void);
/* Redirect log output (default stderr); used by tests. NULL restores stderr. */
void ncmp_log_set_stream(FILE *stream);
FILE *ncmp_log_stream(void);

/* Under MPI (core/dist.h): ranks other than 0 print only warnings and errors
 * (so progress bars and info come from rank 0 alone), prefixed "[rank R/P]". */
void ncmp_log_set_rank(int rank, int size);

void ncmp_log(ncmp_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define ncmp_log_error(...) ncmp_log(NCMP_LOG_ERROR, __VA_ARGS__)
#define ncmp_log_warn(...)  ncmp_log(NCMP_LOG_WARN, __VA_ARGS__)
#define ncmp_log_info(...)  ncmp_log(NCMP_LOG_INFO, __VA_ARGS__)
#define ncmp_log_debug(...) ncmp_log(NCMP_LOG_DEBUG, __VA_ARGS__)

#endif
