/* Figures for analysis results: an iteration x time-bin heatmap and line
 * plots with error bars, rendered to PNG (cairo raster, own libpng writer)
 * and SVG (real <text> elements, so labels stay searchable) from one drawing
 * description.  Both files carry the caller's provenance: a PNG tEXt chunk
 * "neurocmp:provenance" (iTXt when it is not plain ASCII) plus "Title" and
 * "Software", and an SVG <metadata id="neurocmp-provenance"> element.
 *
 * Output is deterministic (no timestamps) and written atomically: PATH.partial,
 * then rename; on failure no file is left behind.  Inputs are borrowed: the
 * functions keep no pointer after they return.  See docs/plots.md.
 */
#ifndef NCMP_RESULTS_PLOT_H
#define NCMP_RESULTS_PLOT_H

#include <stddef.h>

#include "core/status.h"

/* Accepted figure sizes, in pixels (SVG user units), for both width and height. */
#define NCMP_PLOT_SIZE_MIN 100
#define NCMP_PLOT_SIZE_MAX 10000

typedef struct ncmp_plot_meta {
    const char *title;      /* drawn at the top; may be NULL */
    const char *provenance; /* free text (version, command line, input hashes), embedded in the files: SVG
                               <metadata> (XML-escaped) and a PNG tEXt chunk "neurocmp:provenance"; also PNG
                               tEXt "Title" and "Software".  May be NULL (nothing embedded). */
} ncmp_plot_meta;

/* Rows are drawn top to bottom (row 0 at the top).  Columns are time bins:
 * col_start must be strictly increasing and col_end[j] > col_start[j]; a cell
 * spans col_start[j]..col_end[j] in ms, cut at col_start[j+1] when bins
 * overlap (sliding windows).  All-NaN values give a valid plot of grey cells
 * with a 0..1 colour bar. */
typedef struct ncmp_heatmap {
    size_t n_rows, n_cols;
    const double *values;              /* [n_rows][n_cols], NaN drawn as a hatched/grey "no value" cell */
    const char *const *row_labels;     /* [n_rows], e.g. "0","1",... (iterations); drawn on the y axis, row 0 at the
                                          TOP.  NULL: the row numbers. */
    const double *col_start, *col_end; /* [n_cols] bin edges in ms; x-axis tick labels in ms, e.g. "70", "90" */
    const char *x_label, *y_label;     /* e.g. "time bin (ms)", "model iteration"; may be NULL */
    const char *colorbar_label;        /* e.g. "ceiled predictivity"; may be NULL */
    double vmin, vmax;                 /* colour range; if vmin >= vmax (or NaN) use the finite data range */
    const unsigned char *mark;         /* optional [n_rows][n_cols]: nonzero cells get an outlined marker (e.g. best
                                          iteration per bin); NULL = none */
    int annotate;                  /* nonzero: print the value (2 decimals) in each cell when cells are big enough */
    const char *const *col_labels; /* optional [n_cols]: categorical columns (e.g. "t = 0"), labelled at their
                                      centres instead of the bin edges in ms; NULL = time bins */
    const double *path;            /* optional [n_cols]: a row position per column (row index, fractional for a mix;
                                      NaN = none), drawn as a solid red line with dots through the cell centres, e.g. a
                                      committed mapping of iterations onto time bins */
    const double *path_alt;        /* optional [n_cols]: a second path, drawn dashed (e.g. the best monotone path) */
} ncmp_heatmap;

typedef struct ncmp_line_series {
    const char *label;   /* legend entry; NULL: not in the legend */
    size_t n;            /* 0 allowed: only the legend entry */
    const double *x, *y; /* [n]; NaN y (or x) = gap */
    const double *y_err; /* [n] half-width of error bars, or NULL; NaN entries: no bar */
} ncmp_line_series;

/* An empty plot (all y NaN) is valid: axes 0..1 without data. */
typedef struct ncmp_line_plot {
    const ncmp_line_series *series;
    size_t n_series; /* at least 1; series i gets colour i of a tab10-like palette (cycling) */
    const char *x_label, *y_label;
    const double *x_ticks;
    size_t n_x_ticks;    /* optional explicit ticks (e.g. integer iterations 0..T); NULL = automatic "nice" ticks */
    double y_min, y_max; /* NaN = automatic from data incl. error bars and hline, padded */
    double hline;        /* NaN = none; else a dashed horizontal reference line (e.g. 0) */
} ncmp_line_plot;

/* Each writes the figure to path_png and/or path_svg (either may be NULL, not
 * both), atomically (write PATH.partial, then rename), and returns NCMP_OK or
 * an error (ncmp_fail) naming the path or the bad argument.  Fixed size:
 * width x height pixels, each in NCMP_PLOT_SIZE_MIN..NCMP_PLOT_SIZE_MAX (SVG
 * uses the same user units).  meta may be NULL.  Existing files are replaced. */
ncmp_status ncmp_plot_heatmap(const ncmp_heatmap *h, const ncmp_plot_meta *meta, int width, int height,
                              const char *path_png, const char *path_svg, ncmp_error *err);
ncmp_status ncmp_plot_lines(const ncmp_line_plot *p, const ncmp_plot_meta *meta, int width, int height,
                            const char *path_png, const char *path_svg, ncmp_error *err);

/* The colormap used by heatmaps: matplotlib's viridis at t in [0, 1]
 * (clamped; NaN gives the "no value" grey), as 8-bit sRGB. */
void ncmp_plot_viridis(double t, unsigned char rgb[3]);

/* Frees the process-wide font caches that cairo and fontconfig fill on the
 * first text drawn (about 1 kB that leak checkers report).  Only for clean
 * AddressSanitizer runs: call once at exit, when no thread is plotting. */
void ncmp_plot_release_font_caches(void);

#endif
