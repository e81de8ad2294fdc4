/* Outputs of the iteration x time-bin analysis (results/temporal.h):
 *   JSON   score-result keys (docs/formats.md) per cell as matrices (rows = iterations, columns =
 *          bins), per-bin ceilings, best iteration per bin, peak latency
 *          per iteration, the standard-window score, and provenance;
 *   HDF5   the same plus every per-split, per-neuroid value
 *          (/per_neuroid [iteration][bin][split][neuroid]) and the split masks;
 *   figures heatmap.{png,svg} (iterations x bins, best iteration outlined),
 *          score_vs_time.{png,svg} (one line per iteration) and
 *          score_vs_iteration.{png,svg} (the standard window and the best
 *          bin), each with its provenance embedded (results/plot.h).
 * Every file is written atomically (PATH.partial, then rename).
 */
#ifndef NCMP_RESULTS_TEMPORAL_OUTPUT_H
#define NCMP_RESULTS_TEMPORAL_OUTPUT_H

#include <stdbool.h>

#include "results/temporal.h"
#include "core/status.h"

typedef struct ncmp_temporal_report {
    const char *layer, *region; /* region NULL: all neuroids */
    const char *metric;         /* "pls" or "ridge" */
    const char *mode;           /* "per-bin", "span" or "shared" */
    const char *activations_path, *neural_path;
    const char *splits_path;  /* --splits-from file or NULL */
    const char *details_path; /* the HDF5 file, named in the JSON, or NULL */
    int n_components;         /* PLS components, 0 for ridge */
    double vmin, vmax;        /* heatmap colour range (--vmin/--vmax); NaN or equal: the data's range */
} ncmp_temporal_report;

ncmp_status ncmp_temporal_write_json(const ncmp_temporal *t, const ncmp_temporal_report *report, const char *path,
                                     ncmp_error *err);
ncmp_status ncmp_temporal_write_h5(const ncmp_temporal *t, const ncmp_temporal_report *report, const char *path,
                                   bool force, ncmp_error *err);
/* Figures as PNG and SVG in dir (which must exist) for the results of one or
 * more regions (t[r] with report[r], the same iterations): per region
 * heatmap and score_vs_time (named heatmap_<region>, ... when there are
 * several), and one score_vs_iteration with a line per region (the standard
 * window; for a single region also its best time bin). */
ncmp_status ncmp_temporal_write_figures(const ncmp_temporal *const *t, const ncmp_temporal_report *report,
                                        size_t n_regions, const char *dir, ncmp_error *err);

#endif
