/* Train/test splits as JSON, so a run can be repeated or shared with another tool. */
#ifndef NCMP_RESULTS_SPLITS_JSON_H
#define NCMP_RESULTS_SPLITS_JSON_H

#include <stddef.h>

#include "analysis/splits.h"
#include "core/status.h"

/* JSON: {"n_samples": N, "n_splits": K, "description": "...", "seed": S,
 *        "sample_ids": [...] (optional, the order indices refer to),
 *        "train": [[...], ...], "test": [[...], ...]}.
 * Written to PATH.partial and renamed.  sample_ids may be NULL. */
ncmp_status ncmp_splits_write_json(const ncmp_splits *s, const char *const *sample_ids, const char *path,
                                   ncmp_error *err);
/* Read a file written by ncmp_splits_write_json (or by hand with at least
 * "train" and "test").  n_samples must match the file's n_samples when it
 * has one, and every index must be < n_samples; if the file lists
 * sample_ids and expected_ids is not NULL, they must be equal, so splits are
 * never applied to a different stimulus order by mistake. */
ncmp_status ncmp_splits_read_json(const char *path, size_t n_samples, const char *const *expected_ids,
                                  ncmp_splits **out, ncmp_error *err);

#endif
