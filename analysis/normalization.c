/* Ceiling normalisation in Brain-Score's three historical forms (docs/scoring.md "Ceiling normalisation"). */
#include "analysis/normalization.h"

#include <math.h>
#include <string.h>

static const char *const names[] = {"ev", "ev2024", "ratio"};
static const char *const formulas[] = {"raw^2 / ceiling", "(raw / ceiling)^2", "raw / ceiling"};

ncmp_status ncmp_normalization_parse(const char *name, ncmp_normalization *out, ncmp_error *err)
{
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, names[i])) {
            *out = (ncmp_normalization)i;
            return NCMP_OK;
        }
    return ncmp_fail(err, NCMP_ERR_USAGE,
                     "--normalization '%s' is unknown; expected ev (raw^2 / ceiling, Brain-Score since 2026), ev2024 "
                     "((raw / ceiling)^2, Brain-Score 2019-2025) or ratio (raw / ceiling, Brain-Score 1.x)",
                     name);
}

const char *ncmp_normalization_name(ncmp_normalization n)
{
    return (unsigned)n < 3 ? names[n] : "?";
}

const char *ncmp_normalization_formula(ncmp_normalization n)
{
    return (unsigned)n < 3 ? formulas[n] : "?";
}

double ncmp_ceiled(double raw, double ceiling, ncmp_normalization n)
{
    switch (n) {
    case NCMP_NORM_EV:
        return raw * raw / ceiling;
    case NCMP_NORM_EV2024:
        return (raw / ceiling) * (raw / ceiling);
    case NCMP_NORM_RATIO:
        return raw / ceiling;
    }
    return NAN;
}

double ncmp_ceiled_error(double raw, double error, double ceiling, ncmp_normalization n)
{
    switch (n) {
    case NCMP_NORM_EV:
        return 2.0 * fabs(raw) * error / ceiling;
    case NCMP_NORM_EV2024:
        return 2.0 * fabs(raw) * error / (ceiling * ceiling);
    case NCMP_NORM_RATIO:
        return error / ceiling;
    }
    return NAN;
}
