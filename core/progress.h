/* Progress reporting for long work (export, scoring, training).
 *
 * On a terminal: one line redrawn in place with a bar, count, rate and ETA.
 * Otherwise (logs, CI, pipes): a plain line at most every `interval` seconds
 * and one at the end, so log files stay readable.  Silent under -q.
 * Not thread-safe: update from one thread.
 */
#ifndef NCMP_CORE_PROGRESS_H
#define NCMP_CORE_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

typedef struct ncmp_progress ncmp_progress;

typedef enum ncmp_progress_mode {
    NCMP_PROGRESS_AUTO = 0, /* terminal bar if the stream is a tty, else plain lines */
    NCMP_PROGRESS_TTY,
    NCMP_PROGRESS_PLAIN,
    NCMP_PROGRESS_OFF
} ncmp_progress_mode;

/* Start tracking `total` items of `unit` (e.g. "images").  Returns NULL only
 * when memory is exhausted; every function accepts NULL and does nothing, so
 * callers need not check.  Owned by the caller: end with ncmp_progress_finish. */
ncmp_progress *ncmp_progress_start(const char *label, uint64_t total, const char *unit);

/* Same with an explicit stream, mode and plain-line interval (seconds). */
ncmp_progress *ncmp_progress_start_on(FILE *stream, ncmp_progress_mode mode, double interval_s, const char *label,
                                      uint64_t total, const char *unit);

/* Report that `done` items (cumulative) are finished. */
void ncmp_progress_update(ncmp_progress *p, uint64_t done);
/* A short text shown after the rate on every line (e.g. "loss 0.412"); NULL clears it. */
void ncmp_progress_set_note(ncmp_progress *p, const char *note);
/* Advance by `n` items. */
void ncmp_progress_advance(ncmp_progress *p, uint64_t n);
/* Print the final line (elapsed time and mean rate) and free. */
void ncmp_progress_finish(ncmp_progress *p);
/* End without the final "done" line: the work failed or was interrupted. */
void ncmp_progress_abandon(ncmp_progress *p);

/* Human-readable duration: "42s", "3m05s", "2h07m". */
void ncmp_format_duration(double seconds, char *buf, size_t size);

#endif
