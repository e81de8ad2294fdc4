/* A score table written out (docs/scoring.md "Tables"):
 *   JSON   {"results": [one record per (layer, iteration, region)], "normalization": ..., "provenance": {...}};
 *          each record has the fields of a single score's JSON (docs/formats.md "Score results") with a
 *          scalar iteration;
 *   CSV / TSV  layer, iteration, region, raw, error, ceiling, ceiled, n_stimuli, n_neuroids, normalization;
 *   report DIR  index.html and report.md: a layer x iteration heatmap per region (PNG + SVG, provenance
 *          embedded), the best layer and iteration per region, the whole table, the command line and the
 *          inputs' SHA-256.
 * Every file is written to PATH.partial and renamed when complete.
 */
#ifndef NCMP_RESULTS_SCORE_TABLE_OUTPUT_H
#define NCMP_RESULTS_SCORE_TABLE_OUTPUT_H

#include <stdint.h>

#include "core/status.h"
#include "results/doc.h"
#include "results/score_table.h"

typedef struct ncmp_score_table_report {
    const char *activations_path, *neural_path;
    const char *splits_path; /* --splits-from file or NULL */
    const char *metric;      /* "pls", ... as given */
    double vmin, vmax;       /* heatmap colour range; NaN: the data's range */
    const char *name;        /* or NULL; else it starts the figures' titles and file names (NAME_heatmap_<region>),
                                so several tables can share a report directory */
} ncmp_score_table_report;

ncmp_status ncmp_score_table_write_json(const ncmp_score_table *t, const ncmp_score_table_report *rep, const char *path,
                                        ncmp_error *err);
/* sep ',' (CSV, fields quoted when they need it) or '\t' (TSV). */
ncmp_status ncmp_score_table_write_csv(const ncmp_score_table *t, char sep, const char *path, ncmp_error *err);
/* dir must exist. */
ncmp_status ncmp_score_table_write_report(const ncmp_score_table *t, const ncmp_score_table_report *rep,
                                          const char *dir, ncmp_error *err);

/* The report's parts, for a larger document (the demo's): the heatmap figure of every region into dir
 * (which must exist), and the section that shows them (description, per region the best cell and the
 * figure, the whole table) with its headings at `level`. */
ncmp_status ncmp_score_table_write_heatmaps(const ncmp_score_table *t, const ncmp_score_table_report *rep,
                                            const char *dir, ncmp_error *err);
void ncmp_score_table_write_section(const ncmp_doc *d, const ncmp_score_table *t, const ncmp_score_table_report *rep,
                                    int level);

#endif
