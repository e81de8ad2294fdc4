/* Heatmap and line-plot figures drawn once through a small canvas with two backends: cairo -> PNG, hand-written SVG. */
#include "results/plot.h"

#include "results/json.h"
#include "core/version.h"

#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- colours ---------------------------------------------------------------- */

typedef struct colour {
    unsigned char r, g, b;
} colour;

static const colour INK = {0x22, 0x22, 0x22};       /* text */
static const colour FRAME = {0x44, 0x44, 0x44};     /* axes frame and ticks */
static const colour GRID = {0xe4, 0xe4, 0xe4};      /* line-plot grid */
static const colour NO_VALUE = {0xd9, 0xd9, 0xd9};  /* NaN heatmap cell */
static const colour HATCH = {0xb0, 0xb0, 0xb0};     /* its diagonal hatching */
static const colour REFERENCE = {0x55, 0x55, 0x55}; /* dashed hline */
static const colour WHITE = {0xff, 0xff, 0xff};
static const colour BLACK = {0x00, 0x00, 0x00};

/* Matplotlib's "tab10" qualitative palette (Tableau 10), matplotlib/_cm.py. */
static const colour PALETTE[10] = {{0x1f, 0x77, 0xb4}, {0xff, 0x7f, 0x0e}, {0x2c, 0xa0, 0x2c}, {0xd6, 0x27, 0x28},
                                   {0x94, 0x67, 0xbd}, {0x8c, 0x56, 0x4b}, {0xe3, 0x77, 0xc2}, {0x7f, 0x7f, 0x7f},
                                   {0xbc, 0xbd, 0x22}, {0x17, 0xbe, 0xcf}};

/* Viridis (van der Walt and Smith, 2015), perceptually uniform: entries 0, 8,
 * 16, ..., 248 and 255 of the 256-entry table _viridis_data in matplotlib's
 * lib/matplotlib/_cm_listed.py (released CC0 by its authors).  Linear
 * interpolation between these 33 samples stays within 1/255 of the full table. */
#define VIRIDIS_SAMPLES 33
static const double VIRIDIS[VIRIDIS_SAMPLES][3] = {
    {0.267004, 0.004874, 0.329415}, {0.277018, 0.050344, 0.375715}, {0.282327, 0.094955, 0.417331},
    {0.282884, 0.135920, 0.453427}, {0.278826, 0.175490, 0.483397}, {0.270595, 0.214069, 0.507052},
    {0.258965, 0.251537, 0.524736}, {0.244972, 0.287675, 0.537260}, {0.229739, 0.322361, 0.545706},
    {0.214298, 0.355619, 0.551184}, {0.199430, 0.387607, 0.554642}, {0.185556, 0.418570, 0.556753},
    {0.172719, 0.448791, 0.557885}, {0.160665, 0.478540, 0.558115}, {0.149039, 0.508051, 0.557250},
    {0.137770, 0.537492, 0.554906}, {0.127568, 0.566949, 0.550556}, {0.120565, 0.596422, 0.543611},
    {0.120638, 0.625828, 0.533488}, {0.132268, 0.655014, 0.519661}, {0.157851, 0.683765, 0.501686},
    {0.196571, 0.711827, 0.479221}, {0.246070, 0.738910, 0.452024}, {0.304148, 0.764704, 0.419943},
    {0.369214, 0.788888, 0.382914}, {0.440137, 0.811138, 0.340967}, {0.515992, 0.831158, 0.294279},
    {0.595839, 0.848717, 0.243329}, {0.678489, 0.863742, 0.189503}, {0.762373, 0.876424, 0.137064},
    {0.845561, 0.887322, 0.099702}, {0.926106, 0.897330, 0.104071}, {0.993248, 0.906157, 0.143936}};

/* Position in [0, 1] of VIRIDIS[k] in the 256-entry table. */
static double viridis_position(int k)
{
    return (k == VIRIDIS_SAMPLES - 1 ? 255.0 : 8.0 * k) / 255.0;
}

static unsigned char unit_to_byte(double v)
{
    return (unsigned char)floor(fmin(fmax(v, 0), 1) * 255 + 0.5);
}

void ncmp_plot_viridis(double t, unsigned char rgb[3])
{
    if (isnan(t)) {
        rgb[0] = NO_VALUE.r, rgb[1] = NO_VALUE.g, rgb[2] = NO_VALUE.b;
        return;
    }
    double p = fmin(fmax(t, 0), 1) * 255;
    int k = (int)(p / 8);
    if (k > VIRIDIS_SAMPLES - 2)
        k = VIRIDIS_SAMPLES - 2;
    double lo = 8.0 * k, hi = k == VIRIDIS_SAMPLES - 2 ? 255.0 : lo + 8;
    double f = (p - lo) / (hi - lo);
    for (int c = 0; c < 3; c++)
        rgb[c] = unit_to_byte(VIRIDIS[k][c] + f * (VIRIDIS[k + 1][c] - VIRIDIS[k][c]));
}

static colour viridis_colour(double t)
{
    unsigned char v[3];
    ncmp_plot_viridis(t, v);
    return (colour){v[0], v[1], v[2]};
}

/* Relative luminance (sRGB weights, gamma ignored): picks black or white for
 * text and markers drawn on top of a cell. */
static colour contrast_on(colour c)
{
    double y = (0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b) / 255;
    return y > 0.5 ? BLACK : WHITE;
}

/* ---- text hygiene ----------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if s does not start one. */
static size_t utf8_sequence_length(const unsigned char *s)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0;
        if (c == 0xed)
            hi = 0x9f; /* no UTF-16 surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;
        if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return n;
}

/* Copy a label into out as valid UTF-8 without control characters (invalid
 * bytes become '?', controls a space), truncated on a character boundary.
 * Cairo refuses invalid UTF-8 and XML 1.0 forbids most controls. */
static const char *clean_label(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        size_t n = utf8_sequence_length(p);
        if (o + (n ? n : 1) + 1 > cap)
            break;
        if (n == 0) {
            out[o++] = '?';
            p++;
        } else if (n == 1) {
            out[o++] = (char)(*p < 0x20 || *p == 0x7f ? ' ' : *p);
            p++;
        } else {
            memcpy(out + o, p, n);
            o += n;
            p += n;
        }
    }
    out[o] = '\0';
    return out;
}

/* XML-escape s into f; keeps tab and newlines when keep_newlines, otherwise as clean_label. */
static void xml_escape(FILE *f, const char *s, bool keep_newlines)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = utf8_sequence_length(p);
        if (n == 0) {
            fputc('?', f);
            p++;
            continue;
        }
        if (n > 1) {
            fwrite(p, 1, n, f);
            p += n;
            continue;
        }
        unsigned char c = *p++;
        switch (c) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&apos;", f);
            break;
        default:
            if (c == '\n' || c == '\t' || c == '\r')
                fputc(keep_newlines ? c : ' ', f);
            else if (c < 0x20 || c == 0x7f)
                fputc(keep_newlines ? '?' : ' ', f);
            else
                fputc(c, f);
        }
    }
}

/* Numbers in text never depend on the C locale (a CLI may call setlocale). */
static void fix_decimal_point(char *buf)
{
    for (char *p = buf; *p; p++)
        if (*p == ',')
            *p = '.';
}

static void format_fixed(char *buf, size_t cap, double v, int decimals)
{
    if (fabs(v) < 0.5 * pow(10, -decimals))
        v = 0; /* no "-0.00" */
    snprintf(buf, cap, "%.*f", decimals, v);
    fix_decimal_point(buf);
}

/* Fewest decimals (0..3) that show v exactly, e.g. 70 -> "70", 82.5 -> "82.5". */
static void format_short(char *buf, size_t cap, double v)
{
    int d = 0;
    for (; d < 3; d++) {
        double s = pow(10, d);
        if (fabs(nearbyint(v * s) / s - v) <= 1e-9 * fmax(1, fabs(v)))
            break;
    }
    format_fixed(buf, cap, v, d);
}

/* ---- canvas: one drawing description, two backends -------------------------- */

typedef enum text_anchor { ANCHOR_START, ANCHOR_MIDDLE, ANCHOR_END } text_anchor;

#define PLOT_PI         3.14159265358979323846
#define FONT_FAMILY     "DejaVu Sans"
#define SVG_FONT_FAMILY "DejaVu Sans, Bitstream Vera Sans, Verdana, sans-serif"
/* DejaVu Sans ascent/descent of typical text, as fractions of the font size,
 * for placing rotated labels and centring text on a point. */
#define TEXT_ASCENT  0.76
#define TEXT_DESCENT 0.24
#define LABEL_MAX    1024

typedef struct canvas {
    cairo_t *cr; /* draws (PNG backend) or only measures text (SVG backend) */
    FILE *svg;   /* non-NULL: the SVG backend writes here */
    unsigned next_id;
} canvas;

static void svg_attr(FILE *f, const char *name, double v)
{
    char buf[48];
    snprintf(buf, sizeof buf, "%.2f", v);
    fix_decimal_point(buf);
    /* trim "12.50" -> "12.5", "12.00" -> "12" to keep files small */
    char *dot = strchr(buf, '.');
    if (dot) {
        char *end = buf + strlen(buf) - 1;
        while (end > dot && *end == '0')
            *end-- = '\0';
        if (end == dot)
            *end = '\0';
    }
    if (strcmp(buf, "-0") == 0)
        strcpy(buf, "0");
    fprintf(f, " %s=\"%s\"", name, buf);
}

static void svg_box(FILE *f, double x, double y, double w, double h)
{
    svg_attr(f, "x", x);
    svg_attr(f, "y", y);
    svg_attr(f, "width", w);
    svg_attr(f, "height", h);
}

static void svg_colour(FILE *f, const char *name, colour c)
{
    fprintf(f, " %s=\"#%02x%02x%02x\"", name, c.r, c.g, c.b);
}

static void cairo_colour(cairo_t *cr, colour c)
{
    cairo_set_source_rgb(cr, c.r / 255.0, c.g / 255.0, c.b / 255.0);
}

static void cv_fill_rect(canvas *c, double x, double y, double w, double h, colour col)
{
    if (c->svg) {
        fputs("<rect", c->svg);
        svg_box(c->svg, x, y, w, h);
        svg_colour(c->svg, "fill", col);
        fputs("/>\n", c->svg);
        return;
    }
    cairo_colour(c->cr, col);
    cairo_rectangle(c->cr, x, y, w, h);
    cairo_fill(c->cr);
}

static void cv_stroke_rect(canvas *c, double x, double y, double w, double h, colour col, double lw)
{
    if (c->svg) {
        fputs("<rect", c->svg);
        svg_box(c->svg, x, y, w, h);
        fputs(" fill=\"none\"", c->svg);
        svg_colour(c->svg, "stroke", col);
        svg_attr(c->svg, "stroke-width", lw);
        fputs("/>\n", c->svg);
        return;
    }
    cairo_colour(c->cr, col);
    cairo_set_line_width(c->cr, lw);
    cairo_rectangle(c->cr, x, y, w, h);
    cairo_stroke(c->cr);
}

/* dash > 0: dashes of that length with gaps of 0.7 * dash. */
static void cv_line(canvas *c, double x1, double y1, double x2, double y2, colour col, double lw, double dash)
{
    if (c->svg) {
        fputs("<line", c->svg);
        svg_attr(c->svg, "x1", x1);
        svg_attr(c->svg, "y1", y1);
        svg_attr(c->svg, "x2", x2);
        svg_attr(c->svg, "y2", y2);
        svg_colour(c->svg, "stroke", col);
        svg_attr(c->svg, "stroke-width", lw);
        if (dash > 0) {
            char a[48], b[48];
            format_fixed(a, sizeof a, dash, 2);
            format_fixed(b, sizeof b, 0.7 * dash, 2);
            fprintf(c->svg, " stroke-dasharray=\"%s %s\"", a, b);
        }
        fputs("/>\n", c->svg);
        return;
    }
    cairo_colour(c->cr, col);
    cairo_set_line_width(c->cr, lw);
    if (dash > 0) {
        double d[2] = {dash, 0.7 * dash};
        cairo_set_dash(c->cr, d, 2, 0);
    }
    cairo_move_to(c->cr, x1, y1);
    cairo_line_to(c->cr, x2, y2);
    cairo_stroke(c->cr);
    cairo_set_dash(c->cr, NULL, 0, 0);
}

/* xy: n points as x0, y0, x1, y1, ... */
static void cv_polyline(canvas *c, const double *xy, size_t n, colour col, double lw)
{
    if (n < 2)
        return;
    if (c->svg) {
        fputs("<polyline points=\"", c->svg);
        for (size_t i = 0; i < n; i++) {
            char a[48], b[48];
            format_fixed(a, sizeof a, xy[2 * i], 2);
            format_fixed(b, sizeof b, xy[2 * i + 1], 2);
            fprintf(c->svg, "%s%s,%s", i ? " " : "", a, b);
        }
        fputs("\" fill=\"none\"", c->svg);
        svg_colour(c->svg, "stroke", col);
        svg_attr(c->svg, "stroke-width", lw);
        fputs(" stroke-linejoin=\"round\" stroke-linecap=\"round\"/>\n", c->svg);
        return;
    }
    cairo_colour(c->cr, col);
    cairo_set_line_width(c->cr, lw);
    cairo_set_line_join(c->cr, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_cap(c->cr, CAIRO_LINE_CAP_ROUND);
    cairo_move_to(c->cr, xy[0], xy[1]);
    for (size_t i = 1; i < n; i++)
        cairo_line_to(c->cr, xy[2 * i], xy[2 * i + 1]);
    cairo_stroke(c->cr);
    cairo_set_line_join(c->cr, CAIRO_LINE_JOIN_MITER);
    cairo_set_line_cap(c->cr, CAIRO_LINE_CAP_BUTT);
}

/* A filled disc with a white rim, so markers stay visible over lines. */
static void cv_marker(canvas *c, double x, double y, double r, colour col)
{
    double rim = fmax(0.75, r * 0.3);
    if (c->svg) {
        fputs("<circle", c->svg);
        svg_attr(c->svg, "cx", x);
        svg_attr(c->svg, "cy", y);
        svg_attr(c->svg, "r", r);
        svg_colour(c->svg, "fill", col);
        fputs(" stroke=\"#ffffff\"", c->svg);
        svg_attr(c->svg, "stroke-width", rim);
        fputs("/>\n", c->svg);
        return;
    }
    cairo_arc(c->cr, x, y, r, 0, 2 * PLOT_PI);
    cairo_colour(c->cr, col);
    cairo_fill_preserve(c->cr);
    cairo_colour(c->cr, WHITE);
    cairo_set_line_width(c->cr, rim);
    cairo_stroke(c->cr);
}

static void cairo_font(cairo_t *cr, double size, bool bold)
{
    cairo_select_font_face(cr, FONT_FAMILY, CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

static double cv_text_width(canvas *c, const char *s, double size, bool bold)
{
    char buf[LABEL_MAX];
    cairo_text_extents_t e;
    cairo_font(c->cr, size, bold);
    cairo_text_extents(c->cr, clean_label(s, buf, sizeof buf), &e);
    return e.x_advance;
}

/* Text with its baseline through (x, y); vertical: rotated -90 degrees (reads bottom to top). */
static void cv_text(canvas *c, double x, double y, const char *s, double size, colour col, text_anchor anchor,
                    bool vertical, bool bold)
{
    char buf[LABEL_MAX];
    clean_label(s, buf, sizeof buf);
    if (!buf[0])
        return;
    if (c->svg) {
        static const char *const anchors[] = {"start", "middle", "end"};
        fputs("<text", c->svg);
        svg_attr(c->svg, "x", x);
        svg_attr(c->svg, "y", y);
        svg_attr(c->svg, "font-size", size);
        if (anchor != ANCHOR_START)
            fprintf(c->svg, " text-anchor=\"%s\"", anchors[anchor]);
        if (bold)
            fputs(" font-weight=\"bold\"", c->svg);
        if (vertical) {
            char a[48], b[48];
            format_fixed(a, sizeof a, x, 2);
            format_fixed(b, sizeof b, y, 2);
            fprintf(c->svg, " transform=\"rotate(-90 %s %s)\"", a, b);
        }
        svg_colour(c->svg, "fill", col);
        fputc('>', c->svg);
        xml_escape(c->svg, buf, false);
        fputs("</text>\n", c->svg);
        return;
    }
    cairo_text_extents_t e;
    cairo_font(c->cr, size, bold);
    cairo_text_extents(c->cr, buf, &e);
    double shift = anchor == ANCHOR_START ? 0 : anchor == ANCHOR_MIDDLE ? -e.x_advance / 2 : -e.x_advance;
    cairo_save(c->cr);
    cairo_translate(c->cr, x, y);
    if (vertical)
        cairo_rotate(c->cr, -PLOT_PI / 2);
    cairo_move_to(c->cr, shift, 0);
    cairo_colour(c->cr, col);
    cairo_show_text(c->cr, buf);
    cairo_restore(c->cr);
}

static void cv_clip_begin(canvas *c, double x, double y, double w, double h)
{
    if (c->svg) {
        unsigned id = c->next_id++;
        fprintf(c->svg, "<clipPath id=\"clip%u\"><rect", id);
        svg_box(c->svg, x, y, w, h);
        fprintf(c->svg, "/></clipPath>\n<g clip-path=\"url(#clip%u)\">\n", id);
        return;
    }
    cairo_save(c->cr);
    cairo_rectangle(c->cr, x, y, w, h);
    cairo_clip(c->cr);
}

static void cv_clip_end(canvas *c)
{
    if (c->svg)
        fputs("</g>\n", c->svg);
    else
        cairo_restore(c->cr);
}

/* Adjacent heatmap cells: no anti-aliased seams in SVG viewers (the PNG uses whole-pixel edges). */
static void cv_crisp_begin(canvas *c)
{
    if (c->svg)
        fputs("<g shape-rendering=\"crispEdges\">\n", c->svg);
}

static void cv_crisp_end(canvas *c)
{
    if (c->svg)
        fputs("</g>\n", c->svg);
}

/* The viridis colour bar: a vertical gradient, t = 0 at the bottom. */
static void cv_viridis_bar(canvas *c, double x, double y, double w, double h)
{
    if (c->svg) {
        unsigned id = c->next_id++;
        fprintf(c->svg, "<linearGradient id=\"viridis%u\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">\n", id);
        for (int k = 0; k < VIRIDIS_SAMPLES; k++) {
            colour col = {unit_to_byte(VIRIDIS[k][0]), unit_to_byte(VIRIDIS[k][1]), unit_to_byte(VIRIDIS[k][2])};
            fputs("<stop", c->svg);
            svg_attr(c->svg, "offset", viridis_position(k));
            svg_colour(c->svg, "stop-color", col);
            fputs("/>\n", c->svg);
        }
        fputs("</linearGradient>\n<rect", c->svg);
        svg_box(c->svg, x, y, w, h);
        fprintf(c->svg, " fill=\"url(#viridis%u)\"/>\n", id);
        return;
    }
    cairo_pattern_t *pat = cairo_pattern_create_linear(0, y + h, 0, y);
    for (int k = 0; k < VIRIDIS_SAMPLES; k++)
        cairo_pattern_add_color_stop_rgb(pat, viridis_position(k), unit_to_byte(VIRIDIS[k][0]) / 255.0,
                                         unit_to_byte(VIRIDIS[k][1]) / 255.0, unit_to_byte(VIRIDIS[k][2]) / 255.0);
    cairo_set_source(c->cr, pat);
    cairo_rectangle(c->cr, x, y, w, h);
    cairo_fill(c->cr);
    cairo_pattern_destroy(pat);
}

/* ---- shared layout helpers ---------------------------------------------------- */

typedef struct style {
    double s;                                 /* scale: 1 at 800 x 500 */
    double tick_font, label_font, title_font; /* pixels */
    double pad, gap, tick_len, line;
} style;

static style style_for(int width, int height)
{
    double s = fmin(width / 800.0, height / 500.0);
    s = fmin(fmax(s, 0.8), 6); /* below 0.8 tick labels drop under 10 px */
    style st = {.s = s,
                .tick_font = 12.5 * s,
                .label_font = 14 * s,
                .title_font = 16 * s,
                .pad = 12 * s,
                .gap = 5 * s,
                .tick_len = 5 * s,
                .line = fmax(1, s)};
    return st;
}

/* Baseline that centres digits (cap height ~0.73 em) on y. */
static double centred_baseline(double y, double font)
{
    return y + 0.36 * font;
}

/* Pixel-aligned coordinate for a line of width lw (odd widths on half pixels). */
static double crisp(double v, double lw)
{
    double w = floor(lw + 0.5);
    return ((long)w % 2) ? floor(v) + 0.5 : floor(v + 0.5);
}

/* Nice tick step (1, 2 or 5 x 10^k) giving about `target` intervals over range. */
static double nice_step(double range, double target)
{
    double raw = range / fmax(target, 1);
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

#define MAX_TICKS 64

/* Ticks at multiples of a nice step inside [lo, hi]; *decimals for their labels. */
static size_t nice_ticks(double lo, double hi, double target, double *ticks, int *decimals)
{
    double step = nice_step(hi - lo, target);
    while ((hi - lo) / step > MAX_TICKS - 2)
        step *= 2;
    int d = -(int)floor(log10(step) + 1e-9);
    *decimals = d > 0 ? d : 0;
    size_t n = 0;
    for (double k = ceil(lo / step - 1e-9); n < MAX_TICKS; k++) {
        double t = k * step;
        if (t > hi + 1e-9 * step)
            break;
        ticks[n++] = fabs(t) < 1e-9 * step ? 0 : t;
    }
    return n;
}

typedef struct frame {
    double x0, y0, x1, y1; /* plot area, whole pixels */
} frame;

static ncmp_status check_frame(const frame *f, int width, int height, ncmp_error *err)
{
    if (f->x1 - f->x0 < 20 || f->y1 - f->y0 < 20)
        return ncmp_fail(err, NCMP_ERR_USAGE,
                         "figure %d x %d is too small for its labels (plot area %.0f x %.0f pixels)", width, height,
                         f->x1 - f->x0, f->y1 - f->y0);
    return NCMP_OK;
}

static double title_height(const ncmp_plot_meta *meta, const style *st)
{
    return meta && meta->title && meta->title[0] ? st->title_font * 1.3 + st->gap : 0;
}

static void draw_title(canvas *c, const ncmp_plot_meta *meta, const style *st, const frame *f, int width)
{
    if (!meta || !meta->title || !meta->title[0])
        return;
    /* centred on the plot area, shrunk (not cut) if wider than the figure */
    double size = st->title_font;
    double w = cv_text_width(c, meta->title, size, true);
    if (w > width - 2 * st->pad)
        size *= (width - 2 * st->pad) / w;
    double cx = (f->x0 + f->x1) / 2;
    w = cv_text_width(c, meta->title, size, true);
    cx = fmin(fmax(cx, st->pad + w / 2), width - st->pad - w / 2);
    cv_text(c, cx, st->pad + TEXT_ASCENT * st->title_font, meta->title, size, INK, ANCHOR_MIDDLE, false, true);
}

static void draw_axis_labels(canvas *c, const style *st, const frame *f, int height, const char *x_label,
                             const char *y_label)
{
    if (x_label && x_label[0])
        cv_text(c, (f->x0 + f->x1) / 2, height - st->pad - TEXT_DESCENT * st->label_font, x_label, st->label_font, INK,
                ANCHOR_MIDDLE, false, false);
    if (y_label && y_label[0])
        cv_text(c, st->pad + TEXT_ASCENT * st->label_font, (f->y0 + f->y1) / 2, y_label, st->label_font, INK,
                ANCHOR_MIDDLE, true, false);
}

static double label_band(const char *label, const style *st)
{
    return label && label[0] ? st->label_font * (TEXT_ASCENT + TEXT_DESCENT) + st->gap : 0;
}

/* Bottom margin: ticks, tick labels, x label. */
static double bottom_margin(const char *x_label, const style *st)
{
    return st->pad + label_band(x_label, st) + st->tick_font * 1.1 + st->tick_len + st->gap;
}

/* ---- heatmap ------------------------------------------------------------------ */

typedef struct heatmap_job {
    const ncmp_heatmap *h;
    double vmin, vmax;
} heatmap_job;

/* Right edge (ms) of cell j: its bin end, cut at the next bin's start when windows overlap. */
static double cell_end(const ncmp_heatmap *h, size_t j)
{
    return j + 1 < h->n_cols ? fmin(h->col_end[j], h->col_start[j + 1]) : h->col_end[j];
}

static void row_label(const ncmp_heatmap *h, size_t i, char *buf, size_t cap)
{
    if (h->row_labels && h->row_labels[i])
        snprintf(buf, cap, "%s", h->row_labels[i]);
    else
        snprintf(buf, cap, "%zu", i);
}

static void draw_nan_cell(canvas *c, double x, double y, double w, double h, const style *st)
{
    cv_fill_rect(c, x, y, w, h, NO_VALUE);
    cv_clip_begin(c, x, y, w, h);
    double step = 6 * st->s;
    for (double d = step / 2; d < w + h; d += step)
        cv_line(c, x + d, y, x + d - h, y + h, HATCH, fmax(0.8, 0.8 * st->s), 0);
    cv_clip_end(c);
}

/* 1, 2, 5, 10, 20, 50, ... */
static size_t next_label_step(size_t k)
{
    size_t decade = 1;
    while (decade * 10 <= k)
        decade *= 10;
    return k == decade ? 2 * decade : k == 2 * decade ? 5 * decade : 10 * decade;
}

static ncmp_status draw_heatmap(canvas *c, const void *arg, const ncmp_plot_meta *meta, int width, int height,
                                ncmp_error *err)
{
    const heatmap_job *job = arg;
    const ncmp_heatmap *h = job->h;
    style st = style_for(width, height);
    char buf[LABEL_MAX];

    /* colour bar ticks decide the right margin */
    double cb_ticks[MAX_TICKS];
    int cb_decimals;
    double plot_h_guess = height - 2 * st.pad - title_height(meta, &st) - bottom_margin(h->x_label, &st);
    size_t n_cb = nice_ticks(job->vmin, job->vmax, fmax(2, plot_h_guess / (60 * st.s)), cb_ticks, &cb_decimals);
    double cb_label_w = 0;
    for (size_t k = 0; k < n_cb; k++) {
        format_fixed(buf, sizeof buf, cb_ticks[k], cb_decimals);
        cb_label_w = fmax(cb_label_w, cv_text_width(c, buf, st.tick_font, false));
    }
    double cb_gap = 16 * st.s, cb_w = 18 * st.s;
    double right = st.pad + label_band(h->colorbar_label, &st) + cb_label_w + st.gap + st.tick_len + cb_w + cb_gap;

    double row_w = 0;
    for (size_t i = 0; i < h->n_rows; i++) {
        row_label(h, i, buf, sizeof buf);
        row_w = fmax(row_w, cv_text_width(c, buf, st.tick_font, false));
    }
    frame f;
    f.x0 = floor(st.pad + label_band(h->y_label, &st) + row_w + st.gap + st.tick_len + 0.5);
    f.x1 = floor(width - right + 0.5);
    f.y0 = floor(st.pad + title_height(meta, &st) + 0.6 * st.tick_font + 0.5);
    f.y1 = floor(height - bottom_margin(h->x_label, &st) + 0.5);
    ncmp_status status = check_frame(&f, width, height, err);
    if (status)
        return status;

    double ms0 = h->col_start[0], ms1 = h->col_end[h->n_cols - 1];
#define X_OF(ms)    (f.x0 + ((ms)-ms0) / (ms1 - ms0) * (f.x1 - f.x0))
#define Y_OF_ROW(i) (f.y0 + (double)(i) / (double)h->n_rows * (f.y1 - f.y0))

    /* cells */
    cv_crisp_begin(c);
    for (size_t i = 0; i < h->n_rows; i++) {
        double ya = floor(Y_OF_ROW(i) + 0.5), yb = floor(Y_OF_ROW(i + 1) + 0.5);
        for (size_t j = 0; j < h->n_cols; j++) {
            double xa = floor(X_OF(h->col_start[j]) + 0.5), xb = floor(X_OF(cell_end(h, j)) + 0.5);
            double v = h->values[i * h->n_cols + j];
            if (!isnan(v))
                cv_fill_rect(c, xa, ya, xb - xa, yb - ya, viridis_colour((v - job->vmin) / (job->vmax - job->vmin)));
        }
    }
    cv_crisp_end(c);
    for (size_t i = 0; i < h->n_rows; i++) {
        double ya = floor(Y_OF_ROW(i) + 0.5), yb = floor(Y_OF_ROW(i + 1) + 0.5);
        for (size_t j = 0; j < h->n_cols; j++) {
            double xa = floor(X_OF(h->col_start[j]) + 0.5), xb = floor(X_OF(cell_end(h, j)) + 0.5);
            if (isnan(h->values[i * h->n_cols + j]))
                draw_nan_cell(c, xa, ya, xb - xa, yb - ya, &st);
        }
    }

    /* values in cells, when every cell has room for "-0.00" */
    if (h->annotate) {
        double font = st.tick_font * 0.85;
        double need_w = cv_text_width(c, "-0.00", font, false) + 4 * st.s, need_h = font * 1.25;
        double min_w = INFINITY;
        for (size_t j = 0; j < h->n_cols; j++)
            min_w = fmin(min_w, X_OF(cell_end(h, j)) - X_OF(h->col_start[j]));
        if (min_w >= need_w && (f.y1 - f.y0) / (double)h->n_rows >= need_h) {
            for (size_t i = 0; i < h->n_rows; i++)
                for (size_t j = 0; j < h->n_cols; j++) {
                    double v = h->values[i * h->n_cols + j];
                    if (isnan(v))
                        continue;
                    format_fixed(buf, sizeof buf, v, 2);
                    colour ink = contrast_on(viridis_colour((v - job->vmin) / (job->vmax - job->vmin)));
                    double cx = (X_OF(h->col_start[j]) + X_OF(cell_end(h, j))) / 2;
                    double cy = (Y_OF_ROW(i) + Y_OF_ROW(i + 1)) / 2;
                    cv_text(c, cx, centred_baseline(cy, font), buf, font, ink, ANCHOR_MIDDLE, false, false);
                }
        }
    }

    /* marked cells: an outline inside the cell, black on light colours, white on dark */
    if (h->mark) {
        double lw = fmax(1.5, 2.2 * st.s);
        for (size_t i = 0; i < h->n_rows; i++) {
            double ya = floor(Y_OF_ROW(i) + 0.5), yb = floor(Y_OF_ROW(i + 1) + 0.5);
            for (size_t j = 0; j < h->n_cols; j++) {
                if (!h->mark[i * h->n_cols + j])
                    continue;
                double xa = floor(X_OF(h->col_start[j]) + 0.5), xb = floor(X_OF(cell_end(h, j)) + 0.5);
                double v = h->values[i * h->n_cols + j];
                colour ink = isnan(v) ? BLACK : contrast_on(viridis_colour((v - job->vmin) / (job->vmax - job->vmin)));
                double inset = lw / 2 + fmin(1.5 * st.s, (xb - xa) / 6);
                if (xb - xa > 2 * inset && yb - ya > 2 * inset)
                    cv_stroke_rect(c, xa + inset, ya + inset, xb - xa - 2 * inset, yb - ya - 2 * inset, ink, lw);
            }
        }
    }

    /* paths through the cell centres: the dashed one first, the solid one with dots over it */
    for (int k = 1; k >= 0; k--) {
        const double *path = k ? h->path_alt : h->path;
        if (!path)
            continue;
        double lw = fmax(1.5, 2.5 * st.s), px = NAN, py = NAN;
        for (size_t j = 0; j < h->n_cols; j++) {
            double x = (X_OF(h->col_start[j]) + X_OF(cell_end(h, j))) / 2;
            double y = isnan(path[j]) ? NAN : Y_OF_ROW(path[j] + 0.5);
            if (!isnan(y) && !isnan(py)) {
                if (k)
                    cv_line(c, px, py, x, y, WHITE, lw, 5 * st.s);
                else {
                    double xy[4] = {px, py, x, y};
                    cv_polyline(c, xy, 2, PALETTE[3], lw);
                }
            }
            if (!k && !isnan(y))
                cv_marker(c, x, y, 3.5 * st.s, PALETTE[3]);
            px = x;
            py = y;
        }
    }

    cv_stroke_rect(c, f.x0, f.y0, f.x1 - f.x0, f.y1 - f.y0, FRAME, st.line);

    /* y axis: row labels at row centres, thinned to one per tick_font * 1.2 pixels */
    double row_h = (f.y1 - f.y0) / (double)h->n_rows;
    size_t row_step = (size_t)ceil(st.tick_font * 1.2 / row_h);
    if (row_step < 1)
        row_step = 1;
    for (size_t i = 0; i < h->n_rows; i += row_step) {
        double y = crisp((Y_OF_ROW(i) + Y_OF_ROW(i + 1)) / 2, st.line);
        cv_line(c, f.x0 - st.tick_len, y, f.x0, y, FRAME, st.line, 0);
        row_label(h, i, buf, sizeof buf);
        cv_text(c, f.x0 - st.tick_len - st.gap, centred_baseline(y, st.tick_font), buf, st.tick_font, INK, ANCHOR_END,
                false, false);
    }

    if (h->col_labels) {
        /* categorical columns (e.g. model iterations): a label at each column centre, thinned to fit */
        size_t step = 1;
        for (; step < h->n_cols; step++) {
            bool fits = true;
            double prev_right = -INFINITY;
            for (size_t j = 0; j < h->n_cols && fits; j += step) {
                double w = cv_text_width(c, h->col_labels[j], st.tick_font, false);
                double x = (X_OF(h->col_start[j]) + X_OF(cell_end(h, j))) / 2;
                fits = x - w / 2 >= prev_right + 0.8 * st.tick_font;
                prev_right = x + w / 2;
            }
            if (fits)
                break;
        }
        for (size_t j = 0; j < h->n_cols; j += step) {
            double x = crisp((X_OF(h->col_start[j]) + X_OF(cell_end(h, j))) / 2, st.line);
            cv_line(c, x, f.y1, x, f.y1 + st.tick_len, FRAME, st.line, 0);
            cv_text(c, x, f.y1 + st.tick_len + st.gap * 0.6 + TEXT_ASCENT * st.tick_font, h->col_labels[j],
                    st.tick_font, INK, ANCHOR_MIDDLE, false, false);
        }
    } else {
        /* x axis: ticks at every bin start; labels at every k-th start, k the smallest that keeps them apart */
        for (size_t j = 0; j < h->n_cols; j++) {
            double x = crisp(X_OF(h->col_start[j]), st.line);
            cv_line(c, x, f.y1, x, f.y1 + st.tick_len * 0.6, FRAME, st.line, 0);
        }
        size_t n_ticks = h->n_cols + 1; /* bin starts and the last end */
        size_t k_step = 1;
        /* k in 1, 2, 5, 10, 20, ...: with even bins the labelled times stay round (every 10, 25, 50 ms) */
        for (; k_step < n_ticks; k_step = next_label_step(k_step)) {
            bool fits = true;
            double prev_right = -INFINITY;
            for (size_t j = 0; j < h->n_cols && fits; j += k_step) {
                format_short(buf, sizeof buf, h->col_start[j]);
                double w = cv_text_width(c, buf, st.tick_font, false), x = X_OF(h->col_start[j]);
                fits = x - w / 2 >= prev_right + 0.8 * st.tick_font;
                prev_right = x + w / 2;
            }
            if (fits)
                break;
        }
        double last_right = -INFINITY;
        for (size_t j = 0; j < h->n_cols; j += k_step) {
            double x = crisp(X_OF(h->col_start[j]), st.line);
            format_short(buf, sizeof buf, h->col_start[j]);
            cv_line(c, x, f.y1, x, f.y1 + st.tick_len, FRAME, st.line, 0);
            cv_text(c, x, f.y1 + st.tick_len + st.gap * 0.6 + TEXT_ASCENT * st.tick_font, buf, st.tick_font, INK,
                    ANCHOR_MIDDLE, false, false);
            last_right = x + cv_text_width(c, buf, st.tick_font, false) / 2;
        }
        /* the end of the last bin, when it has room */
        format_short(buf, sizeof buf, ms1);
        double w_end = cv_text_width(c, buf, st.tick_font, false);
        if (f.x1 - w_end / 2 >= last_right + 0.8 * st.tick_font) {
            double x = crisp(f.x1, st.line);
            cv_line(c, x, f.y1, x, f.y1 + st.tick_len, FRAME, st.line, 0);
            cv_text(c, x, f.y1 + st.tick_len + st.gap * 0.6 + TEXT_ASCENT * st.tick_font, buf, st.tick_font, INK,
                    ANCHOR_MIDDLE, false, false);
        }
    }

    /* colour bar */
    double cb_x = f.x1 + cb_gap;
    cv_viridis_bar(c, cb_x, f.y0, cb_w, f.y1 - f.y0);
    cv_stroke_rect(c, cb_x, f.y0, cb_w, f.y1 - f.y0, FRAME, st.line);
    for (size_t k = 0; k < n_cb; k++) {
        double y = crisp(f.y1 - (cb_ticks[k] - job->vmin) / (job->vmax - job->vmin) * (f.y1 - f.y0), st.line);
        cv_line(c, cb_x + cb_w, y, cb_x + cb_w + st.tick_len, y, FRAME, st.line, 0);
        format_fixed(buf, sizeof buf, cb_ticks[k], cb_decimals);
        cv_text(c, cb_x + cb_w + st.tick_len + st.gap, centred_baseline(y, st.tick_font), buf, st.tick_font, INK,
                ANCHOR_START, false, false);
    }
    if (h->colorbar_label && h->colorbar_label[0])
        cv_text(c, width - st.pad - TEXT_DESCENT * st.label_font, (f.y0 + f.y1) / 2, h->colorbar_label, st.label_font,
                INK, ANCHOR_MIDDLE, true, false);
#undef X_OF
#undef Y_OF_ROW

    draw_axis_labels(c, &st, &f, height, h->x_label, h->y_label);
    draw_title(c, meta, &st, &f, width);
    return NCMP_OK;
}

/* ---- line plot ---------------------------------------------------------------- */

typedef struct lines_job {
    const ncmp_line_plot *p;
    double x_lo, x_hi, y_lo, y_hi;
} lines_job;

static bool has_legend(const ncmp_line_plot *p)
{
    for (size_t s = 0; s < p->n_series; s++)
        if (p->series[s].label && p->series[s].label[0])
            return true;
    return false;
}

static ncmp_status draw_lines(canvas *c, const void *arg, const ncmp_plot_meta *meta, int width, int height,
                              ncmp_error *err)
{
    const lines_job *job = arg;
    const ncmp_line_plot *p = job->p;
    style st = style_for(width, height);
    char buf[LABEL_MAX];

    double plot_h_guess = height - 2 * st.pad - title_height(meta, &st) - bottom_margin(p->x_label, &st);
    double y_ticks[MAX_TICKS];
    int y_decimals;
    size_t n_y = nice_ticks(job->y_lo, job->y_hi, fmax(2, plot_h_guess / (55 * st.s)), y_ticks, &y_decimals);
    double y_label_w = 0;
    for (size_t k = 0; k < n_y; k++) {
        format_fixed(buf, sizeof buf, y_ticks[k], y_decimals);
        y_label_w = fmax(y_label_w, cv_text_width(c, buf, st.tick_font, false));
    }

    /* legend to the right of the plot area, top-aligned */
    double sample_w = 26 * st.s, legend_w = 0, entry_h = st.tick_font * 1.6;
    bool legend = has_legend(p);
    if (legend) {
        for (size_t s = 0; s < p->n_series; s++)
            if (p->series[s].label && p->series[s].label[0])
                legend_w = fmax(legend_w, cv_text_width(c, p->series[s].label, st.tick_font, false));
        legend_w += sample_w + 3 * st.gap + 2 * st.gap;
    }
    frame f;
    f.x0 = floor(st.pad + label_band(p->y_label, &st) + y_label_w + st.gap + st.tick_len + 0.5);
    f.x1 = floor(width - st.pad - (legend ? legend_w + 2 * st.gap : 3 * st.gap) + 0.5);
    f.y0 = floor(st.pad + title_height(meta, &st) + 0.6 * st.tick_font + 0.5);
    f.y1 = floor(height - bottom_margin(p->x_label, &st) + 0.5);
    ncmp_status status = check_frame(&f, width, height, err);
    if (status)
        return status;

#define PX(x) (f.x0 + ((x)-job->x_lo) / (job->x_hi - job->x_lo) * (f.x1 - f.x0))
#define PY(y) (f.y1 - ((y)-job->y_lo) / (job->y_hi - job->y_lo) * (f.y1 - f.y0))

    /* x ticks: the caller's, or nice ones spaced for their labels */
    double auto_x[MAX_TICKS];
    const double *x_ticks = p->x_ticks;
    size_t n_x = p->n_x_ticks;
    int x_decimals = -1; /* -1: shortest form per tick */
    if (!x_ticks) {
        n_x = nice_ticks(job->x_lo, job->x_hi, fmax(2, (f.x1 - f.x0) / (80 * st.s)), auto_x, &x_decimals);
        x_ticks = auto_x;
    }

    cv_fill_rect(c, f.x0, f.y0, f.x1 - f.x0, f.y1 - f.y0, WHITE);
    for (size_t k = 0; k < n_y; k++) {
        double y = crisp(PY(y_ticks[k]), st.line);
        cv_line(c, f.x0, y, f.x1, y, GRID, st.line, 0);
    }
    for (size_t k = 0; k < n_x; k++) {
        if (x_ticks[k] < job->x_lo || x_ticks[k] > job->x_hi)
            continue;
        double x = crisp(PX(x_ticks[k]), st.line);
        cv_line(c, x, f.y0, x, f.y1, GRID, st.line, 0);
    }

    cv_clip_begin(c, f.x0, f.y0, f.x1 - f.x0, f.y1 - f.y0);
    if (!isnan(p->hline))
        cv_line(c, f.x0, crisp(PY(p->hline), st.line), f.x1, crisp(PY(p->hline), st.line), REFERENCE,
                fmax(1, 1.2 * st.s), 6 * st.s);
    double lw = fmax(1.2, 2 * st.s), cap = 4 * st.s, r = 3.2 * st.s;
    size_t max_n = 0;
    for (size_t s = 0; s < p->n_series; s++)
        max_n = p->series[s].n > max_n ? p->series[s].n : max_n;
    double *xy = malloc(2 * (max_n ? max_n : 1) * sizeof *xy);
    if (!xy) {
        cv_clip_end(c);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "line plot: out of memory for %zu points", max_n);
    }
    for (size_t s = 0; s < p->n_series; s++) {
        const ncmp_line_series *ser = &p->series[s];
        colour col = PALETTE[s % 10];
        if (ser->y_err)
            for (size_t i = 0; i < ser->n; i++) {
                double x = ser->x[i], y = ser->y[i], e = ser->y_err[i];
                if (!isfinite(x) || !isfinite(y) || !isfinite(e) || e <= 0)
                    continue;
                double px = PX(x), ya = PY(y - e), yb = PY(y + e);
                cv_line(c, px, ya, px, yb, col, fmax(1, 1.2 * st.s), 0);
                cv_line(c, px - cap, ya, px + cap, ya, col, fmax(1, 1.2 * st.s), 0);
                cv_line(c, px - cap, yb, px + cap, yb, col, fmax(1, 1.2 * st.s), 0);
            }
        /* runs of finite points, broken at NaN */
        size_t run = 0;
        for (size_t i = 0; i <= ser->n; i++) {
            bool ok = i < ser->n && isfinite(ser->x[i]) && isfinite(ser->y[i]);
            if (ok) {
                xy[2 * run] = PX(ser->x[i]);
                xy[2 * run + 1] = PY(ser->y[i]);
                run++;
            } else {
                cv_polyline(c, xy, run, col, lw);
                run = 0;
            }
        }
        for (size_t i = 0; i < ser->n; i++)
            if (isfinite(ser->x[i]) && isfinite(ser->y[i]))
                cv_marker(c, PX(ser->x[i]), PY(ser->y[i]), r, col);
    }
    free(xy);
    cv_clip_end(c);
    cv_stroke_rect(c, f.x0, f.y0, f.x1 - f.x0, f.y1 - f.y0, FRAME, st.line);

    for (size_t k = 0; k < n_y; k++) {
        double y = crisp(PY(y_ticks[k]), st.line);
        cv_line(c, f.x0 - st.tick_len, y, f.x0, y, FRAME, st.line, 0);
        format_fixed(buf, sizeof buf, y_ticks[k], y_decimals);
        cv_text(c, f.x0 - st.tick_len - st.gap, centred_baseline(y, st.tick_font), buf, st.tick_font, INK, ANCHOR_END,
                false, false);
    }
    /* x tick labels, skipping any that would touch the previous one */
    double prev_right = -INFINITY;
    for (size_t k = 0; k < n_x; k++) {
        if (x_ticks[k] < job->x_lo || x_ticks[k] > job->x_hi)
            continue;
        double x = crisp(PX(x_ticks[k]), st.line);
        cv_line(c, x, f.y1, x, f.y1 + st.tick_len, FRAME, st.line, 0);
        if (x_decimals >= 0)
            format_fixed(buf, sizeof buf, x_ticks[k], x_decimals);
        else
            format_short(buf, sizeof buf, x_ticks[k]);
        double w = cv_text_width(c, buf, st.tick_font, false);
        if (x - w / 2 < prev_right + 0.8 * st.tick_font)
            continue;
        cv_text(c, x, f.y1 + st.tick_len + st.gap * 0.6 + TEXT_ASCENT * st.tick_font, buf, st.tick_font, INK,
                ANCHOR_MIDDLE, false, false);
        prev_right = x + w / 2;
    }

    if (legend) {
        double lx = f.x1 + 2 * st.gap, ly = f.y0;
        size_t n_entries = 0;
        for (size_t s = 0; s < p->n_series; s++)
            n_entries += p->series[s].label && p->series[s].label[0];
        cv_fill_rect(c, lx, ly, legend_w, entry_h * (double)n_entries + 2 * st.gap, WHITE);
        cv_stroke_rect(c, lx, ly, legend_w, entry_h * (double)n_entries + 2 * st.gap, GRID, st.line);
        double y = ly + st.gap + entry_h / 2;
        for (size_t s = 0; s < p->n_series; s++) {
            const char *label = p->series[s].label;
            if (!label || !label[0])
                continue;
            colour col = PALETTE[s % 10];
            double sx = lx + 2 * st.gap;
            cv_line(c, sx, y, sx + sample_w, y, col, lw, 0);
            cv_marker(c, sx + sample_w / 2, y, r, col);
            cv_text(c, sx + sample_w + st.gap, centred_baseline(y, st.tick_font), label, st.tick_font, INK,
                    ANCHOR_START, false, false);
            y += entry_h;
        }
    }
#undef PX
#undef PY

    draw_axis_labels(c, &st, &f, height, p->x_label, p->y_label);
    draw_title(c, meta, &st, &f, width);
    return NCMP_OK;
}

/* ---- PNG writer (libpng, so text chunks can be added) --------------------------- */

typedef struct png_job {
    png_structp png;
    png_infop info;
    unsigned char *row;
    char message[256];
} png_job;

static void png_error_to_job(png_structp png, png_const_charp msg)
{
    png_job *job = png_get_error_ptr(png);
    snprintf(job->message, sizeof job->message, "%s", msg);
    png_longjmp(png, 1);
}

static void png_ignore_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static bool is_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return false;
    return true;
}

static void set_png_text(png_text *t, const char *key, const char *value)
{
    memset(t, 0, sizeof *t);
    /* tEXt is Latin-1; anything else goes to iTXt (UTF-8) */
    t->compression = is_ascii(value) ? PNG_TEXT_COMPRESSION_NONE : PNG_ITXT_COMPRESSION_NONE;
    t->key = (png_charp)key;
    t->text = (png_charp)value;
    t->text_length = strlen(value);
}

/* Returns 0, or -1 after a libpng error (message in job). Only job is live across setjmp. */
static int png_write_surface(png_job *job, FILE *out, cairo_surface_t *surface, const ncmp_plot_meta *meta)
{
    if (setjmp(png_jmpbuf(job->png)))
        return -1;
    int w = cairo_image_surface_get_width(surface), h = cairo_image_surface_get_height(surface);
    int stride = cairo_image_surface_get_stride(surface);
    const unsigned char *data = cairo_image_surface_get_data(surface);
    png_init_io(job->png, out);
    png_set_IHDR(job->png, job->info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_sRGB_gAMA_and_cHRM(job->png, job->info, PNG_sRGB_INTENT_PERCEPTUAL);
    png_text text[3];
    int n_text = 0;
    if (meta && meta->title && meta->title[0])
        set_png_text(&text[n_text++], "Title", meta->title);
    set_png_text(&text[n_text++], "Software", "neurocmp " NCMP_VERSION);
    if (meta && meta->provenance)
        set_png_text(&text[n_text++], "neurocmp:provenance", meta->provenance);
    png_set_text(job->png, job->info, text, n_text);
    png_write_info(job->png, job->info);
    for (int y = 0; y < h; y++) {
        const uint32_t *src = (const uint32_t *)(const void *)(data + (size_t)y * (size_t)stride);
        for (int x = 0; x < w; x++) {
            /* premultiplied native-endian ARGB composited over white: c + (255 - a) */
            uint32_t px = src[x];
            unsigned a = px >> 24, r = (px >> 16) & 0xff, g = (px >> 8) & 0xff, b = px & 0xff;
            job->row[3 * x] = (unsigned char)(r + 255 - a);
            job->row[3 * x + 1] = (unsigned char)(g + 255 - a);
            job->row[3 * x + 2] = (unsigned char)(b + 255 - a);
        }
        png_write_row(job->png, job->row);
    }
    png_write_end(job->png, job->info);
    return 0;
}

/* ---- rendering driver ------------------------------------------------------------ */

typedef ncmp_status (*draw_fn)(canvas *c, const void *arg, const ncmp_plot_meta *meta, int width, int height,
                               ncmp_error *err);

/* Same font options for drawing and measuring, so both backends share one layout. */
static void set_font_options(cairo_t *cr)
{
    cairo_font_options_t *fo = cairo_font_options_create();
    cairo_font_options_set_antialias(fo, CAIRO_ANTIALIAS_GRAY);
    cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_SLIGHT);
    cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
    cairo_set_font_options(cr, fo);
    cairo_font_options_destroy(fo);
}

static ncmp_status cairo_failure(cairo_t *cr, const char *path, ncmp_error *err)
{
    cairo_status_t cs = cairo_status(cr);
    return ncmp_fail(err, cs == CAIRO_STATUS_NO_MEMORY ? NCMP_ERR_NOMEM : NCMP_ERR_INTERNAL,
                     "cannot render '%s': cairo: %s", path, cairo_status_to_string(cs));
}

static ncmp_status render_png(draw_fn draw, const void *arg, const ncmp_plot_meta *meta, int width, int height,
                              ncmp_atomic_file *out, ncmp_error *err)
{
    cairo_surface_t *surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, width, height);
    if (cairo_surface_status(surface) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(surface);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "cannot render '%s': no memory for a %d x %d image", out->path, width,
                         height);
    }
    cairo_t *cr = cairo_create(surface);
    set_font_options(cr);
    canvas c = {.cr = cr, .svg = NULL, .next_id = 0};
    cv_fill_rect(&c, 0, 0, width, height, WHITE);
    ncmp_status status = draw(&c, arg, meta, width, height, err);
    if (!status && cairo_status(cr) != CAIRO_STATUS_SUCCESS)
        status = cairo_failure(cr, out->path, err);
    cairo_surface_flush(surface);
    if (!status) {
        png_job job = {0};
        job.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &job, png_error_to_job, png_ignore_warning);
        job.info = job.png ? png_create_info_struct(job.png) : NULL;
        job.row = malloc((size_t)width * 3);
        if (!job.png || !job.info || !job.row)
            status = ncmp_fail(err, NCMP_ERR_NOMEM, "cannot write '%s': out of memory", out->path);
        else if (png_write_surface(&job, out->stream, surface, meta) != 0)
            status = ncmp_fail(err, NCMP_ERR_IO, "cannot write '%s': libpng: %s", out->path, job.message);
        png_destroy_write_struct(&job.png, &job.info);
        free(job.row);
    }
    cairo_destroy(cr);
    cairo_surface_destroy(surface);
    return status;
}

static ncmp_status render_svg(draw_fn draw, const void *arg, const ncmp_plot_meta *meta, int width, int height,
                              ncmp_atomic_file *out, ncmp_error *err)
{
    /* cairo only measures text here, on a 1 x 1 surface */
    cairo_surface_t *surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 1, 1);
    cairo_t *cr = cairo_create(surface);
    set_font_options(cr);
    FILE *f = out->stream;
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"%s\">\n",
            width, height, width, height, SVG_FONT_FAMILY);
    if (meta && meta->title && meta->title[0]) {
        fputs("<title>", f);
        xml_escape(f, meta->title, false);
        fputs("</title>\n", f);
    }
    fputs("<desc>Software: neurocmp " NCMP_VERSION "</desc>\n", f);
    if (meta && meta->provenance) {
        fputs("<metadata id=\"neurocmp-provenance\">", f);
        xml_escape(f, meta->provenance, true);
        fputs("</metadata>\n", f);
    }
    canvas c = {.cr = cr, .svg = f, .next_id = 0};
    cv_fill_rect(&c, 0, 0, width, height, WHITE);
    ncmp_status status = draw(&c, arg, meta, width, height, err);
    if (!status && cairo_status(cr) != CAIRO_STATUS_SUCCESS)
        status = cairo_failure(cr, out->path, err);
    fputs("</svg>\n", f);
    cairo_destroy(cr);
    cairo_surface_destroy(surface);
    return status;
}

static ncmp_status check_size(const char *what, int width, int height, ncmp_error *err)
{
    if (width < NCMP_PLOT_SIZE_MIN || width > NCMP_PLOT_SIZE_MAX || height < NCMP_PLOT_SIZE_MIN ||
        height > NCMP_PLOT_SIZE_MAX)
        return ncmp_fail(err, NCMP_ERR_USAGE, "%s: figure size %d x %d is outside %d..%d pixels", what, width, height,
                         NCMP_PLOT_SIZE_MIN, NCMP_PLOT_SIZE_MAX);
    return NCMP_OK;
}

/* Opens both partial files first (so a bad path fails before any drawing), renders, then renames. */
static ncmp_status render(draw_fn draw, const void *arg, const ncmp_plot_meta *meta, int width, int height,
                          const char *path_png, const char *path_svg, ncmp_error *err)
{
    ncmp_atomic_file png = {0}, svg = {0};
    ncmp_status status = NCMP_OK;
    if (path_png && (status = ncmp_atomic_begin(&png, path_png, true, err)))
        return status;
    if (path_svg && (status = ncmp_atomic_begin(&svg, path_svg, true, err))) {
        if (path_png)
            ncmp_atomic_abort(&png);
        return status;
    }
    if (path_png)
        status = render_png(draw, arg, meta, width, height, &png, err);
    if (!status && path_svg)
        status = render_svg(draw, arg, meta, width, height, &svg, err);
    if (!status && path_png)
        status = ncmp_atomic_commit(&png, err);
    if (!status && path_svg)
        status = ncmp_atomic_commit(&svg, err);
    if (png.stream || png.partial_path)
        ncmp_atomic_abort(&png);
    if (svg.stream || svg.partial_path)
        ncmp_atomic_abort(&svg);
    return status;
}

static ncmp_status check_outputs(const char *what, const char *path_png, const char *path_svg, ncmp_error *err)
{
    if (!path_png && !path_svg)
        return ncmp_fail(err, NCMP_ERR_USAGE, "%s: no output path (path_png and path_svg are both NULL)", what);
    if ((path_png && !path_png[0]) || (path_svg && !path_svg[0]))
        return ncmp_fail(err, NCMP_ERR_USAGE, "%s: empty output path", what);
    return NCMP_OK;
}

/* ---- public entry points ------------------------------------------------------------ */

ncmp_status ncmp_plot_heatmap(const ncmp_heatmap *h, const ncmp_plot_meta *meta, int width, int height,
                              const char *path_png, const char *path_svg, ncmp_error *err)
{
    ncmp_status status;
    if ((status = check_outputs("heatmap", path_png, path_svg, err)) ||
        (status = check_size("heatmap", width, height, err)))
        return status;
    if (!h)
        return ncmp_fail(err, NCMP_ERR_USAGE, "heatmap: description is NULL");
    if (h->n_rows == 0 || h->n_cols == 0)
        return ncmp_fail(err, NCMP_ERR_SHAPE, "heatmap: shape [%zu, %zu] is empty (nothing to draw)", h->n_rows,
                         h->n_cols);
    if (!h->values)
        return ncmp_fail(err, NCMP_ERR_USAGE, "heatmap: values [%zu, %zu] is NULL", h->n_rows, h->n_cols);
    if (!h->col_start || !h->col_end)
        return ncmp_fail(err, NCMP_ERR_USAGE, "heatmap: %s [%zu] is NULL", h->col_start ? "col_end" : "col_start",
                         h->n_cols);
    for (size_t j = 0; j < h->n_cols; j++) {
        if (!isfinite(h->col_start[j]) || !isfinite(h->col_end[j]) || !(h->col_end[j] > h->col_start[j]))
            return ncmp_fail(err, NCMP_ERR_VALUE, "heatmap: time bin %zu is [%g, %g] ms (need finite start < end)", j,
                             h->col_start[j], h->col_end[j]);
        if (j > 0 && !(h->col_start[j] > h->col_start[j - 1]))
            return ncmp_fail(err, NCMP_ERR_VALUE,
                             "heatmap: time bins must start in increasing order: col_start[%zu] = %g after "
                             "col_start[%zu] = %g",
                             j, h->col_start[j], j - 1, h->col_start[j - 1]);
    }
    heatmap_job job = {.h = h, .vmin = h->vmin, .vmax = h->vmax};
    if (!(job.vmin < job.vmax) || !isfinite(job.vmin) || !isfinite(job.vmax)) {
        job.vmin = INFINITY, job.vmax = -INFINITY;
        for (size_t k = 0; k < h->n_rows * h->n_cols; k++)
            if (isfinite(h->values[k])) {
                job.vmin = fmin(job.vmin, h->values[k]);
                job.vmax = fmax(job.vmax, h->values[k]);
            }
        if (job.vmin > job.vmax) /* all NaN: grey cells over a 0..1 bar */
            job.vmin = 0, job.vmax = 1;
        else if (job.vmin == job.vmax) {
            double half = job.vmin == 0 ? 0.5 : 0.05 * fabs(job.vmin);
            job.vmin -= half, job.vmax += half;
        }
    }
    status = render(draw_heatmap, &job, meta, width, height, path_png, path_svg, err);
    if (status && err)
        ncmp_error_context(err, "heatmap");
    return status;
}

/* Automatic axis limits: data (y with error bars, and hline) padded by 5 %. */
static void auto_range(double lo, double hi, double *out_lo, double *out_hi)
{
    if (lo > hi)
        lo = 0, hi = 1; /* no data */
    else if (lo == hi) {
        double half = lo == 0 ? 0.5 : 0.1 * fabs(lo);
        lo -= half, hi += half;
    } else {
        double padding = 0.05 * (hi - lo);
        lo -= padding, hi += padding;
    }
    *out_lo = lo, *out_hi = hi;
}

ncmp_status ncmp_plot_lines(const ncmp_line_plot *p, const ncmp_plot_meta *meta, int width, int height,
                            const char *path_png, const char *path_svg, ncmp_error *err)
{
    ncmp_status status;
    if ((status = check_outputs("line plot", path_png, path_svg, err)) ||
        (status = check_size("line plot", width, height, err)))
        return status;
    if (!p)
        return ncmp_fail(err, NCMP_ERR_USAGE, "line plot: description is NULL");
    if (p->n_series == 0 || !p->series)
        return ncmp_fail(err, NCMP_ERR_USAGE, "line plot: %s",
                         p->series ? "n_series is 0 (nothing to draw)" : "series is NULL");
    if (p->n_x_ticks && !p->x_ticks)
        return ncmp_fail(err, NCMP_ERR_USAGE, "line plot: x_ticks is NULL with n_x_ticks = %zu", p->n_x_ticks);
    if (p->x_ticks && p->n_x_ticks > 1000)
        return ncmp_fail(err, NCMP_ERR_USAGE, "line plot: %zu x ticks (at most 1000)", p->n_x_ticks);
    for (size_t k = 0; p->x_ticks && k < p->n_x_ticks; k++)
        if (!isfinite(p->x_ticks[k]))
            return ncmp_fail(err, NCMP_ERR_VALUE, "line plot: x_ticks[%zu] is %g", k, p->x_ticks[k]);
    if (isinf(p->hline))
        return ncmp_fail(err, NCMP_ERR_VALUE, "line plot: hline is %g", p->hline);
    if (isinf(p->y_min) || isinf(p->y_max) || (p->y_min >= p->y_max))
        return ncmp_fail(err, NCMP_ERR_VALUE, "line plot: y range [%g, %g] (need finite y_min < y_max, or NaN)",
                         p->y_min, p->y_max);

    double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
    for (size_t s = 0; s < p->n_series; s++) {
        const ncmp_line_series *ser = &p->series[s];
        const char *name = ser->label ? ser->label : "";
        if (ser->n && (!ser->x || !ser->y))
            return ncmp_fail(err, NCMP_ERR_USAGE, "line plot: series %zu ('%s'): %s is NULL with n = %zu", s, name,
                             ser->x ? "y" : "x", ser->n);
        for (size_t i = 0; i < ser->n; i++) {
            double x = ser->x[i], y = ser->y[i], e = ser->y_err ? ser->y_err[i] : 0;
            if (isinf(x) || isinf(y) || isinf(e))
                return ncmp_fail(err, NCMP_ERR_VALUE, "line plot: series %zu ('%s'): point %zu is (%g, %g +- %g)", s,
                                 name, i, x, y, e);
            if (e < 0)
                return ncmp_fail(err, NCMP_ERR_VALUE,
                                 "line plot: series %zu ('%s'): y_err[%zu] = %g is negative (a half-width)", s, name, i,
                                 e);
            if (isnan(x))
                continue;
            x_lo = fmin(x_lo, x), x_hi = fmax(x_hi, x);
            if (isnan(y))
                continue;
            if (isnan(e))
                e = 0;
            y_lo = fmin(y_lo, y - e), y_hi = fmax(y_hi, y + e);
        }
    }
    for (size_t k = 0; p->x_ticks && k < p->n_x_ticks; k++)
        x_lo = fmin(x_lo, p->x_ticks[k]), x_hi = fmax(x_hi, p->x_ticks[k]);
    if (!isnan(p->hline))
        y_lo = fmin(y_lo, p->hline), y_hi = fmax(y_hi, p->hline);

    lines_job job = {.p = p};
    /* x: 4 % padding so markers and error-bar caps at the ends stay inside */
    if (x_lo > x_hi)
        job.x_lo = 0, job.x_hi = 1;
    else if (x_lo == x_hi)
        job.x_lo = x_lo - 0.5, job.x_hi = x_hi + 0.5;
    else
        job.x_lo = x_lo - 0.04 * (x_hi - x_lo), job.x_hi = x_hi + 0.04 * (x_hi - x_lo);
    auto_range(y_lo, y_hi, &job.y_lo, &job.y_hi);
    if (!isnan(p->y_min))
        job.y_lo = p->y_min;
    if (!isnan(p->y_max))
        job.y_hi = p->y_max;
    if (!(job.y_lo < job.y_hi)) /* one limit given, the data on its wrong side */
        return ncmp_fail(err, NCMP_ERR_VALUE,
                         "line plot: y range [%g, %g] is empty for this data (y_min = %g, "
                         "y_max = %g)",
                         job.y_lo, job.y_hi, p->y_min, p->y_max);
    status = render(draw_lines, &job, meta, width, height, path_png, path_svg, err);
    if (status && err)
        ncmp_error_context(err, "line plot");
    return status;
}

void ncmp_plot_release_font_caches(void)
{
    cairo_debug_reset_static_data();
    FcFini();
}
