/* Neural assemblies: responses of neuroids to stimulus presentations over time bins (docs/formats.md, Recordings).
 *
 * An assembly holds data[presentation][neuroid][time_bin] (float64, C
 * order; NaN = a missing trial, skipped by every operation, never turned into
 * zero) with coordinates along each dimension:
 *   presentation: stimulus_id (required), repetition, object_name and any
 *                 other string or number coordinates, kept in file order;
 *   neuroid:      neuroid_id (required, unique), region, animal, …;
 *   time_bin:     time_bin_start / time_bin_end in ms (has_time_bins false
 *                 for 2-D data: one bin without edges).
 * Operations never modify their input: each returns a new assembly that the
 * caller frees with ncmp_assembly_free.  Coordinate values are copied.
 */
#ifndef NCMP_NEURAL_ASSEMBLY_H
#define NCMP_NEURAL_ASSEMBLY_H

#include <stdbool.h>
#include <stddef.h>

#include "core/status.h"

/* How a number coordinate is stored in a file (kept for round trips). */
typedef enum ncmp_coord_kind { NCMP_COORD_STRING, NCMP_COORD_INT64, NCMP_COORD_FLOAT64 } ncmp_coord_kind;

typedef struct ncmp_coord {
    char *name;
    ncmp_coord_kind kind;
    char **strings;  /* [length] for STRING, else NULL */
    double *numbers; /* [length] for INT64/FLOAT64, else NULL */
} ncmp_coord;

typedef struct ncmp_coord_list {
    size_t length; /* number of entries along the dimension */
    size_t n_coords;
    ncmp_coord *coords;
} ncmp_coord_list;

typedef struct ncmp_assembly {
    size_t n_presentations, n_neuroids, n_time_bins;
    bool has_time_bins;
    double *data; /* [n_presentations][n_neuroids][n_time_bins] */
    ncmp_coord_list presentation, neuroid;
    double *time_bin_start; /* [n_time_bins] ms; NULL without time bins */
    double *time_bin_end;
    char *name;          /* data variable name */
    char *source;        /* file it came from, for messages ("" if none) */
    size_t n_attributes; /* text attributes of the file (e.g. a simulation's ground truth) */
    char **attribute_names, **attribute_values;
} ncmp_assembly;

/* Zeroed coordinates, NaN-filled data.  n_time_bins 0 means 2-D data (one
 * bin, has_time_bins false).  name/source may be NULL. */
ncmp_status ncmp_assembly_alloc(size_t n_presentations, size_t n_neuroids, size_t n_time_bins, const char *name,
                                const char *source, ncmp_assembly **out, ncmp_error *err);
void ncmp_assembly_free(ncmp_assembly *a);

static inline double *ncmp_assembly_at(const ncmp_assembly *a, size_t p, size_t n, size_t t)
{
    return a->data + (p * a->n_neuroids + n) * a->n_time_bins + t;
}

/* Set (or replace) a text attribute; both strings are copied. */
ncmp_status ncmp_assembly_set_attribute(ncmp_assembly *a, const char *name, const char *value, ncmp_error *err);
/* The attribute's value, or NULL. */
const char *ncmp_assembly_get_attribute(const ncmp_assembly *a, const char *name);

/* ---- coordinates ---------------------------------------------------------- */

/* The coordinate called name, or NULL. */
const ncmp_coord *ncmp_coord_find(const ncmp_coord_list *list, const char *name);
/* Append a coordinate (values copied; strings must all be non-NULL).  A name
 * already present is replaced. */
ncmp_status ncmp_coord_add_strings(ncmp_coord_list *list, const char *name, const char *const *values, ncmp_error *err);
ncmp_status ncmp_coord_add_numbers(ncmp_coord_list *list, const char *name, ncmp_coord_kind kind, const double *values,
                                   ncmp_error *err);
void ncmp_coord_list_free(ncmp_coord_list *list);
/* Value i as text (numbers printed with %.17g, integers without decimals) into buf. */
const char *ncmp_coord_value_text(const ncmp_coord *c, size_t i, char *buf, size_t size);

/* Check an assembly is usable: stimulus_id along presentation (a copy of
 * image_id is added as stimulus_id for older files), neuroid_id present and
 * unique, time bin edges present with time bins, no infinite value, and no
 * neuroid whose every value is NaN.  Messages name the source file, the
 * coordinate and the offending entries. */
ncmp_status ncmp_assembly_validate(ncmp_assembly *a, ncmp_error *err);

/* ---- operations ------------------------------------------------------------ */

/* Keep the neuroids whose `region` is one of regions[0..n-1]; a region with no
 * neuroid is an error listing the regions the assembly has. */
ncmp_status ncmp_assembly_select_regions(const ncmp_assembly *a, const char *const *regions, size_t n_regions,
                                         ncmp_assembly **out, ncmp_error *err);
/* Keep neuroids by index. */
ncmp_status ncmp_assembly_select_neuroids(const ncmp_assembly *a, const size_t *index, size_t n, ncmp_assembly **out,
                                          ncmp_error *err);
/* Sorted distinct values of neuroid coordinate `region` (NULL-terminated
 * array of borrowed pointers into a; free the array only).  Error without a
 * region coordinate. */
ncmp_status ncmp_assembly_regions(const ncmp_assembly *a, const char ***regions, size_t *n, ncmp_error *err);

/* Average (NaN-aware) the time bins lying inside [start_ms, end_ms]
 * (time_bin_start >= start and time_bin_end <= end) into one bin with
 * the window's edges.  No bin inside is an error listing the bins.  Data
 * without time bins is returned unchanged (copied). */
ncmp_status ncmp_assembly_time_window(const ncmp_assembly *a, double start_ms, double end_ms, ncmp_assembly **out,
                                      ncmp_error *err);
/* Keep time bin t only (a copy with one bin). */
ncmp_status ncmp_assembly_select_time_bin(const ncmp_assembly *a, size_t t, ncmp_assembly **out, ncmp_error *err);

/* Average the repetitions of each stimulus (NaN-aware: NaN only where every
 * repetition is NaN).  One presentation per stimulus_id, sorted by strcmp of
 * the ids (docs/scoring.md); presentation coordinates constant within every
 * stimulus are kept (object_name, …), the others (repetition, …) dropped. */
ncmp_status ncmp_assembly_average_repetitions(const ncmp_assembly *a, ncmp_assembly **out, ncmp_error *err);

/* Reorder an assembly with one presentation per stimulus (e.g. averaged) to
 * ids[0..n-1].  Ids the assembly lacks are an error giving how many and the
 * first few; a stimulus_id appearing twice in the assembly is an error too. */
ncmp_status ncmp_assembly_align(const ncmp_assembly *a, const char *const *ids, size_t n, ncmp_assembly **out,
                                ncmp_error *err);

/* Deep copy. */
ncmp_status ncmp_assembly_copy(const ncmp_assembly *a, ncmp_assembly **out, ncmp_error *err);

#endif
