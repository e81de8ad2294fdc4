/* The neural side of the predictivity protocol (SPEC §7.1-7.3, 7.6): from a
 * recorded assembly and an activations file to the matrices the regression
 * needs.  Select the region, average the time bins inside the window,
 * compute the split-half ceiling when repetitions exist, average the
 * repetitions per stimulus, order stimuli by sorted stimulus_id, find each
 * stimulus in the activations file (missing ones are an error saying how
 * many and which), and pick the stratification labels (object_name) if any.
 * An ncmp_score_inputs is owned by the caller: free with ncmp_score_inputs_free.
 */
#ifndef NCMP_ANALYSIS_PROTOCOL_H
#define NCMP_ANALYSIS_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>

#include "analysis/activations.h"
#include "core/status.h"
#include "neural/assembly.h"

typedef struct ncmp_score_inputs {
    size_t n_stimuli, n_neuroids;
    char **stimulus_ids;                   /* [n_stimuli], sorted by strcmp */
    char **labels;                         /* [n_stimuli] object_name per stimulus, or NULL when absent */
    double *responses;                     /* [n_stimuli][n_neuroids] averaged over the window and the repetitions */
    size_t *rows;                          /* [n_stimuli] row of each stimulus in the activations file */
    size_t n_unused_activations;           /* stimuli in the activations file but not in the recordings */
    double ceiling, ceiling_error;         /* NaN when the data has no repetitions */
    double window_start_ms, window_end_ms; /* NaN when the data has no time bins */
} ncmp_score_inputs;

/* region may be NULL (all neuroids); the window applies only to data with time bins. */
ncmp_status ncmp_score_inputs_prepare(const ncmp_assembly *neural, const char *region, double window_start_ms,
                                      double window_end_ms, const ncmp_activations *activations,
                                      ncmp_score_inputs **out, ncmp_error *err);
void ncmp_score_inputs_free(ncmp_score_inputs *in);

#endif
