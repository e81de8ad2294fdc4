/* CSV/TSV fields with RFC 4180 quoting (see csv.h). */
#include "results/csv.h"

#include <string.h>

void ncmp_csv_field(FILE *f, const char *s, char sep)
{
    if (!strchr(s, sep) && !strpbrk(s, "\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}
