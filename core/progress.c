/* Progress bar with rate and ETA (see progress.h). */
#include "core/progress.h"
#include "core/log.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct ncmp_progress {
    FILE *stream;
    ncmp_progress_mode mode;
    double interval;
    char label[64];
    char unit[24];
    char note[96]; /* e.g. "loss 0.412", shown after the rate */
    uint64_t total, done;
    double start, last_draw;
    int drew_tty_line;
};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void ncmp_format_duration(double s, char *buf, size_t size)
{
    if (!(s >= 0) || s > 1e8) {
        snprintf(buf, size, "--");
        return;
    }
    long t = (long)(s + 0.5);
    if (t < 60)
        snprintf(buf, size, "%lds", t);
    else if (t < 3600)
        snprintf(buf, size, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(buf, size, "%ldh%02ldm", t / 3600, (t % 3600) / 60);
}

ncmp_progress *ncmp_progress_start_on(FILE *stream, ncmp_progress_mode mode, double interval_s, const char *label,
                                      uint64_t total, const char *unit)
{
    ncmp_progress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->stream = stream ? stream : stderr;
    if (mode == NCMP_PROGRESS_AUTO)
        mode = isatty(fileno(p->stream)) ? NCMP_PROGRESS_TTY : NCMP_PROGRESS_PLAIN;
    if (ncmp_log_get_level() < NCMP_LOG_INFO)
        mode = NCMP_PROGRESS_OFF;
    p->mode = mode;
    p->interval = interval_s > 0 ? interval_s : 10.0;
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    snprintf(p->unit, sizeof p->unit, "%s", unit ? unit : "items");
    p->total = total;
    p->start = p->last_draw = now_seconds();
    return p;
}

ncmp_progress *ncmp_progress_start(const char *label, uint64_t total, const char *unit)
{
    return ncmp_progress_start_on(ncmp_log_stream(), NCMP_PROGRESS_AUTO, 10.0, label, total, unit);
}

static void draw(ncmp_progress *p, double t, int final)
{
    double elapsed = t - p->start;
    double rate = elapsed > 0 ? (double)p->done / elapsed : 0.0;
    char eta[32], el[32];
    ncmp_format_duration(rate > 0 && p->total >= p->done ? (double)(p->total - p->done) / rate : -1, eta, sizeof eta);
    ncmp_format_duration(elapsed, el, sizeof el);
    double frac = p->total ? (double)p->done / (double)p->total : 0.0;
    const char *sep = p->note[0] ? ", " : "";
    if (frac > 1)
        frac = 1;
    if (p->mode == NCMP_PROGRESS_TTY) {
        enum { WIDTH = 28 };
        char bar[WIDTH + 1];
        int filled = (int)(frac * WIDTH);
        for (int i = 0; i < WIDTH; i++)
            bar[i] = i < filled ? '#' : '-';
        bar[WIDTH] = '\0';
        if (final)
            fprintf(p->stream, "\r%s [%s] %llu/%llu %s, %.1f %s/s%s%s, %s elapsed\033[K\n", p->label, bar,
                    (unsigned long long)p->done, (unsigned long long)p->total, p->unit, rate, p->unit, sep, p->note,
                    el);
        else
            fprintf(p->stream, "\r%s [%s] %llu/%llu %s, %.1f %s/s%s%s, ETA %s\033[K", p->label, bar,
                    (unsigned long long)p->done, (unsigned long long)p->total, p->unit, rate, p->unit, sep, p->note,
                    eta);
        p->drew_tty_line = !final;
    } else if (final) {
        fprintf(p->stream, "neurocmp: %s: done, %llu %s in %s (%.1f %s/s)%s%s\n", p->label, (unsigned long long)p->done,
                p->unit, el, rate, p->unit, sep, p->note);
    } else {
        fprintf(p->stream, "neurocmp: %s: %llu/%llu %s (%.0f%%), %.1f %s/s%s%s, ETA %s\n", p->label,
                (unsigned long long)p->done, (unsigned long long)p->total, p->unit, 100.0 * frac, rate, p->unit, sep,
                p->note, eta);
    }
    fflush(p->stream);
    p->last_draw = t;
}

void ncmp_progress_update(ncmp_progress *p, uint64_t done)
{
    if (!p)
        return;
    p->done = done;
    if (p->mode == NCMP_PROGRESS_OFF)
        return;
    double t = now_seconds();
    double min_gap = p->mode == NCMP_PROGRESS_TTY ? 0.1 : p->interval;
    if (t - p->last_draw >= min_gap)
        draw(p, t, 0);
}

void ncmp_progress_set_note(ncmp_progress *p, const char *note)
{
    if (p)
        snprintf(p->note, sizeof p->note, "%s", note ? note : "");
}

void ncmp_progress_advance(ncmp_progress *p, uint64_t n)
{
    if (p)
        ncmp_progress_update(p, p->done + n);
}

void ncmp_progress_finish(ncmp_progress *p)
{
    if (!p)
        return;
    if (p->mode != NCMP_PROGRESS_OFF)
        draw(p, now_seconds(), 1);
    free(p);
}

void ncmp_progress_abandon(ncmp_progress *p)
{
    if (!p)
        return;
    if (p->mode == NCMP_PROGRESS_TTY && p->last_draw > 0) {
        fputc('\n', p->stream); /* end the line redrawn in place; no "done" */
        fflush(p->stream);
    }
    free(p);
}
