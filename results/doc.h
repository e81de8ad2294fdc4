/* The markup writer of the reports: one call sequence writes either an HTML
 * page or the same content as Markdown (the two differ in markup only).
 * Text is escaped for the format. */
#ifndef NCMP_RESULTS_DOC_H
#define NCMP_RESULTS_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct ncmp_doc {
    FILE *f;
    bool html;
} ncmp_doc;

/* The page head (HTML) and the title as a level-1 heading; ncmp_doc_end closes the page. */
void ncmp_doc_begin(const ncmp_doc *d, const char *title);
void ncmp_doc_end(const ncmp_doc *d);
void ncmp_doc_text(const ncmp_doc *d, const char *s);
void ncmp_doc_heading(const ncmp_doc *d, int level, const char *s);
void ncmp_doc_para_begin(const ncmp_doc *d);
void ncmp_doc_para_end(const ncmp_doc *d);
void ncmp_doc_code_block(const ncmp_doc *d, const char *s);
/* NAME.svg shown (HTML) or NAME.png (Markdown), with a caption. */
void ncmp_doc_figure(const ncmp_doc *d, const char *name, const char *caption);
void ncmp_doc_table_begin(const ncmp_doc *d);
void ncmp_doc_table_row(const ncmp_doc *d, const char *const *cells, size_t n, bool header);
void ncmp_doc_table_end(const ncmp_doc *d);

#endif
