/* Ceiling normalisation: how a raw predictivity and the data's noise ceiling
 * become a "ceiled" score, in the three forms Brain-Score has used
 * (docs/scoring.md "Ceiling normalisation"):
 *
 *   ev      raw^2 / ceiling      Brain-Score since 2026-01-13 (brain-score/vision
 *                                e376e306, PR #2169); the default
 *   ev2024  (raw / ceiling)^2    Brain-Score 2.0, 2019-07-25 (65064366) to 2026-01-13
 *   ratio   raw / ceiling        Brain-Score 1.x (Schrimpf et al. 2018)
 *
 * Brain-Score squares the raw score whatever its sign and clips nothing; so
 * do these.  A NaN ceiling (recordings without repetitions) gives NaN.
 */
#ifndef NCMP_ANALYSIS_NORMALIZATION_H
#define NCMP_ANALYSIS_NORMALIZATION_H

#include "core/status.h"

typedef enum ncmp_normalization {
    NCMP_NORM_EV = 0, /* raw^2 / ceiling */
    NCMP_NORM_EV2024, /* (raw / ceiling)^2 */
    NCMP_NORM_RATIO   /* raw / ceiling */
} ncmp_normalization;

/* "ev", "ev2024" or "ratio"; anything else is NCMP_ERR_USAGE listing them. */
ncmp_status ncmp_normalization_parse(const char *name, ncmp_normalization *out, ncmp_error *err);
/* "ev", "ev2024", "ratio". */
const char *ncmp_normalization_name(ncmp_normalization n);
/* "raw^2 / ceiling", "(raw / ceiling)^2", "raw / ceiling": for labels of figures and reports. */
const char *ncmp_normalization_formula(ncmp_normalization n);

/* The ceiled score. */
double ncmp_ceiled(double raw, double ceiling, ncmp_normalization n);
/* The raw score's standard error carried to the ceiled scale to first order,
 * |d ceiled / d raw| * error (ceiling held fixed): error / ceiling for ratio,
 * 2 |raw| error / ceiling for ev, 2 |raw| error / ceiling^2 for ev2024.
 * Brain-Score itself attaches the raw error unchanged; results keep that
 * as "error" and use this only to draw error bars on the ceiled scale. */
double ncmp_ceiled_error(double raw, double error, double ceiling, ncmp_normalization n);

#endif
