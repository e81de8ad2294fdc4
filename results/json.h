/* Small JSON helpers for result files: string and number formatting (non-finite numbers as null),
 * and a reader for splits and result files on cJSON (Debian's libcjson; its parser takes
 * no inf, nan or hexadecimal numbers), giving the tree below.  Parsed values are owned
 * by the root: free it with ncmp_json_free.
 */
#ifndef NCMP_RESULTS_JSON_H
#define NCMP_RESULTS_JSON_H

#include <stdio.h>

#include "core/status.h"

#include "core/atomic.h" /* ncmp_atomic_file: the writers open their outputs through it */

void ncmp_json_string(FILE *f, const char *s);
void ncmp_json_number(FILE *f, double x);                 /* %.17g; NaN/Inf as null */
void ncmp_json_opt_string(FILE *f, const char *s);        /* a string, or null for NULL */
void ncmp_json_window(FILE *f, double start, double end); /* [start, end], or null when start is NaN */

typedef enum ncmp_json_type {
    NCMP_JSON_NULL,
    NCMP_JSON_BOOL,
    NCMP_JSON_NUMBER,
    NCMP_JSON_STRING,
    NCMP_JSON_ARRAY,
    NCMP_JSON_OBJECT
} ncmp_json_type;

typedef struct ncmp_json_value {
    ncmp_json_type type;
    double number; /* NUMBER, BOOL (0/1) */
    char *string;  /* STRING */
    size_t n;      /* ARRAY/OBJECT: number of items */
    struct ncmp_json_value *items;
    char **keys; /* OBJECT: keys[n] */
} ncmp_json_value;

ncmp_status ncmp_json_parse(const char *text, const char *source, ncmp_json_value **out, ncmp_error *err);
ncmp_status ncmp_json_parse_file(const char *path, ncmp_json_value **out, ncmp_error *err);
/* Member of an object by key, or NULL. */
const ncmp_json_value *ncmp_json_get(const ncmp_json_value *object, const char *key);
void ncmp_json_free(ncmp_json_value *v);

#endif
