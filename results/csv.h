/* Writing CSV/TSV fields (RFC 4180 quoting), shared by every table writer. */
#ifndef NCMP_RESULTS_CSV_H
#define NCMP_RESULTS_CSV_H

#include <stdio.h>

/* A field: quoted when it holds the separator, a quote or a line break. */
void ncmp_csv_field(FILE *f, const char *s, char sep);

#endif
