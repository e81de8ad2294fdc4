/* Offline reports: an HTML page (index.html, no scripts, no network) and the
 * same content as Markdown (report.md) in a directory, next to the figures
 * they show.  The temporal report gives the iteration x time-bin heatmap and
 * line plots, the ceiling of every bin, the full table, the best iteration
 * per bin, the peak latency per iteration, the standard-window scores, and
 * the exact command line with the inputs' SHA-256, so it can be attached to
 * a paper or rerun.  Files are written atomically (PATH.partial, rename).
 */
#ifndef NCMP_RESULTS_REPORT_H
#define NCMP_RESULTS_REPORT_H

#include "results/temporal.h"
#include "results/temporal_output.h"
#include "core/status.h"
#include "results/doc.h"

/* index.html and report.md in dir for the results of one or more regions
 * (t[r] with report[r]); the figures (ncmp_temporal_write_figures with the
 * same arguments) must be there. */
ncmp_status ncmp_report_write_temporal(const ncmp_temporal *const *t, const ncmp_temporal_report *report,
                                       size_t n_regions, const char *dir, ncmp_error *err);

/* The report's body without its title and "Reproduce" part, for a larger
 * document (the demo's): every region's summary, figures and table, and the
 * score_vs_iteration figure, with headings at `level`. */
void ncmp_report_write_temporal_section(const ncmp_doc *d, const ncmp_temporal *const *t,
                                        const ncmp_temporal_report *report, size_t n_regions, int level);

#endif
