/* --details FILE.h5 (docs/formats.md "Details files"): per-split,
 * per-neuroid Pearson r, split medians, the splits as masks and index
 * lists, the observed test responses and every regression's test
 * predictions, per scored iteration; what `neurocmp compare` reads
 * (results/compare_io.h).  Written through ncmp_h5_output (partial, then
 * renamed); overwrite replaces an existing file.
 */
#ifndef NCMP_RESULTS_SCORE_DETAILS_H
#define NCMP_RESULTS_SCORE_DETAILS_H

#include <stdbool.h>
#include <stddef.h>

#include "analysis/metrics.h"
#include "analysis/normalization.h"
#include "analysis/splits.h"
#include "core/status.h"
#include "neural/assembly.h"
#include "results/protocol.h"

/* scores[i] is iteration its[i] of layer, scored on in and splits; region
 * (NULL: all neuroids) names the scored neuroids of assembly a. */
ncmp_status ncmp_score_write_details(const char *path, bool overwrite, const ncmp_score *const *scores,
                                     const long long *its, size_t n_its, const ncmp_score_inputs *in,
                                     const ncmp_splits *splits, const ncmp_assembly *a, const char *region,
                                     const char *layer, const char *metric, const char *activations, const char *neural,
                                     ncmp_normalization normalization, ncmp_error *err);

#endif
