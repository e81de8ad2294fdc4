/* HTML and Markdown from one description (results/doc.h). */
#include "results/doc.h"

#include <stdio.h>

void ncmp_doc_text(const ncmp_doc *d, const char *s)
{
    for (; s && *s; s++) {
        if (d->html && (*s == '<' || *s == '>' || *s == '&' || *s == '"'))
            fputs(*s == '<' ? "&lt;" : *s == '>' ? "&gt;" : *s == '&' ? "&amp;" : "&quot;", d->f);
        else if (!d->html && (*s == '|' || *s == '*' || *s == '_' || *s == '`'))
            fprintf(d->f, "\\%c", *s);
        else
            fputc(*s, d->f);
    }
}

void ncmp_doc_heading(const ncmp_doc *d, int level, const char *s)
{
    if (d->html) {
        fprintf(d->f, "<h%d>", level);
        ncmp_doc_text(d, s);
        fprintf(d->f, "</h%d>\n", level);
    } else {
        fprintf(d->f, "\n%.*s ", level, "######");
        ncmp_doc_text(d, s);
        fputs("\n\n", d->f);
    }
}

void ncmp_doc_para_begin(const ncmp_doc *d)
{
    fputs(d->html ? "<p>" : "", d->f);
}
void ncmp_doc_para_end(const ncmp_doc *d)
{
    fputs(d->html ? "</p>\n" : "\n\n", d->f);
}

void ncmp_doc_code_block(const ncmp_doc *d, const char *s)
{
    fputs(d->html ? "<pre>" : "```\n", d->f);
    if (d->html)
        ncmp_doc_text(d, s);
    else
        fputs(s, d->f);
    fputs(d->html ? "</pre>\n" : "\n```\n\n", d->f);
}

void ncmp_doc_figure(const ncmp_doc *d, const char *name, const char *caption)
{
    if (d->html) {
        fprintf(d->f, "<figure><img src=\"%s.svg\" alt=\"", name);
        ncmp_doc_text(d, caption);
        fprintf(d->f, "\"><figcaption>");
        ncmp_doc_text(d, caption);
        fprintf(d->f, " (<a href=\"%s.png\">PNG</a>, <a href=\"%s.svg\">SVG</a>)</figcaption></figure>\n", name, name);
    } else {
        fprintf(d->f, "![");
        ncmp_doc_text(d, caption);
        fprintf(d->f, "](%s.png)\n\n", name);
    }
}

/* Table rows: cells as strings. */
void ncmp_doc_table_row(const ncmp_doc *d, const char *const *cells, size_t n, bool header)
{
    if (d->html) {
        fputs("<tr>", d->f);
        for (size_t i = 0; i < n; i++) {
            fputs(header ? "<th>" : "<td>", d->f);
            ncmp_doc_text(d, cells[i]);
            fputs(header ? "</th>" : "</td>", d->f);
        }
        fputs("</tr>\n", d->f);
        return;
    }
    fputs("|", d->f);
    for (size_t i = 0; i < n; i++) {
        fputc(' ', d->f);
        ncmp_doc_text(d, cells[i]);
        fputs(" |", d->f);
    }
    fputc('\n', d->f);
    if (header) {
        fputs("|", d->f);
        for (size_t i = 0; i < n; i++)
            fputs(i ? "---:|" : "---|", d->f);
        fputc('\n', d->f);
    }
}

void ncmp_doc_table_begin(const ncmp_doc *d)
{
    fputs(d->html ? "<table>\n" : "", d->f);
}
void ncmp_doc_table_end(const ncmp_doc *d)
{
    fputs(d->html ? "</table>\n" : "\n", d->f);
}

void ncmp_doc_begin(const ncmp_doc *d, const char *title)
{
    if (d->html) {
        fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>", d->f);
        ncmp_doc_text(d, title);
        fputs("</title>\n<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;"
              "color:#222}table{border-collapse:collapse;font-size:13px;margin:1em 0}td,th{border:1px solid #ccc;"
              "padding:3px 7px;text-align:right}th{background:#f3f3f3}td.best{font-weight:bold;background:#fff3c4}"
              "img{max-width:100%}pre{background:#f6f6f6;padding:.7em;overflow-x:auto;white-space:pre-wrap}"
              "figure{margin:1.5em 0}figcaption{font-size:13px;color:#555}</style></head><body>\n",
              d->f);
    }
    ncmp_doc_heading(d, 1, title);
}

void ncmp_doc_end(const ncmp_doc *d)
{
    if (d->html)
        fputs("</body></html>\n", d->f);
}
