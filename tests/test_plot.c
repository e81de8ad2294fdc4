/* Tests for analysis/plot: heatmap and line figures as PNG (read back with libpng and a chunk walker) and SVG. */
#include "test_util.h"

#include "results/plot.h"
#include "core/status.h"

#include <math.h>
#include <png.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Set NCMP_KEEP_PLOTS=1 to keep the rendered figures in $NCMP_TEST_TMPDIR for a look. */
static int keep_plots(void)
{
    const char *v = getenv("NCMP_KEEP_PLOTS");
    return v && v[0] && strcmp(v, "0") != 0;
}

static char *read_whole_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        *size = (size_t)n;
    }
    return buf;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Text of the first tEXt or iTXt chunk with this keyword (walking the chunks
 * by hand, independently of the writer's libpng), malloc'd, or NULL. */
static char *png_text_chunk(const char *path, const char *keyword)
{
    size_t size;
    unsigned char *buf = (unsigned char *)read_whole_file(path, &size);
    char *found = NULL;
    if (!buf || size < 8 || memcmp(buf, "\x89PNG\r\n\x1a\n", 8) != 0) {
        free(buf);
        return NULL;
    }
    size_t klen = strlen(keyword);
    for (size_t pos = 8; pos + 12 <= size && !found;) {
        uint32_t len = be32(buf + pos);
        const unsigned char *type = buf + pos + 4, *data = buf + pos + 8;
        if (pos + 12 + len > size)
            break;
        if (len > klen && memcmp(data, keyword, klen) == 0 && data[klen] == '\0') {
            const unsigned char *text = NULL;
            if (memcmp(type, "tEXt", 4) == 0)
                text = data + klen + 1;
            else if (memcmp(type, "iTXt", 4) == 0 && data[klen + 1] == 0) {
                /* keyword\0 flag method language\0 translated\0 text */
                text = data + klen + 3;
                text = memchr(text, 0, (size_t)(data + len - text));
                text = text ? memchr(text + 1, 0, (size_t)(data + len - text - 1)) : NULL;
                text = text ? text + 1 : NULL;
            }
            if (text) {
                size_t n = (size_t)(data + len - text);
                found = malloc(n + 1);
                memcpy(found, text, n);
                found[n] = '\0';
            }
        }
        pos += 12 + len;
    }
    free(buf);
    return found;
}

typedef struct rgb_image {
    unsigned width, height;
    unsigned char *pixels; /* RGB */
} rgb_image;

/* Read with libpng's simplified API; 0 on success. */
static int read_png_rgb(const char *path, rgb_image *img)
{
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&pi, path))
        return -1;
    pi.format = PNG_FORMAT_RGB;
    img->width = pi.width;
    img->height = pi.height;
    img->pixels = malloc(PNG_IMAGE_SIZE(pi));
    if (!img->pixels || !png_image_finish_read(&pi, NULL, img->pixels, 0, NULL)) {
        png_image_free(&pi);
        free(img->pixels);
        img->pixels = NULL;
        return -1;
    }
    return 0;
}

static size_t count_colours(const rgb_image *img)
{
    unsigned char *seen = calloc(1u << 21, 1); /* one bit per 24-bit colour */
    size_t n = 0;
    for (size_t i = 0; seen && i < (size_t)img->width * img->height; i++) {
        const unsigned char *p = img->pixels + 3 * i;
        uint32_t c = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
        if (!(seen[c >> 3] & (1u << (c & 7)))) {
            seen[c >> 3] |= (unsigned char)(1u << (c & 7));
            n++;
        }
    }
    free(seen);
    return n;
}

static size_t count_pixels_of(const rgb_image *img, const unsigned char rgb[3])
{
    size_t n = 0;
    for (size_t i = 0; i < (size_t)img->width * img->height; i++)
        n += memcmp(img->pixels + 3 * i, rgb, 3) == 0;
    return n;
}

static int contains(const char *haystack, const char *needle)
{
    int found = haystack && strstr(haystack, needle) != NULL;
    if (!found)
        fprintf(stderr, "\n  SVG lacks: %s\n", needle);
    return found;
}

static int files_equal(const char *a, const char *b)
{
    size_t na, nb;
    char *x = read_whole_file(a, &na), *y = read_whole_file(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

static void remove_outputs(const char *png, const char *svg)
{
    if (keep_plots())
        return;
    test_remove(png);
    test_remove(svg);
}

/* ---- colormap -------------------------------------------------------------- */

static void test_viridis_table(void)
{
    /* matplotlib's viridis at 0, 0.5 and 1, times 255 (listed colormap entries 0, 127/128 and 255) */
    unsigned char c[3];
    ncmp_plot_viridis(0, c);
    CU_ASSERT(c[0] == 68 && c[1] == 1 && c[2] == 84);
    ncmp_plot_viridis(1, c);
    CU_ASSERT(c[0] == 253 && c[1] == 231 && c[2] == 37);
    ncmp_plot_viridis(0.5, c); /* between 127 (33,144,141) and 128 (33,145,140): within 1 */
    CU_ASSERT(abs(c[0] - 33) <= 1 && abs(c[1] - 145) <= 1 && abs(c[2] - 140) <= 1);
    ncmp_plot_viridis(-3, c); /* clamped */
    CU_ASSERT(c[0] == 68 && c[1] == 1 && c[2] == 84);
}

/* ---- heatmap ---------------------------------------------------------------- */

#define ROWS 6
#define COLS 20
static const char *const ROW_LABELS[ROWS] = {"0", "1", "2", "3", "4", "5"};

typedef struct heatmap_data {
    double values[ROWS * COLS], start[COLS], end[COLS];
    unsigned char mark[ROWS * COLS];
} heatmap_data;

/* Predictivity rising with iteration and peaking around 150 ms; one NaN; the best iteration per bin marked. */
static ncmp_heatmap make_heatmap(heatmap_data *d)
{
    for (size_t j = 0; j < COLS; j++) {
        d->start[j] = 70 + 10.0 * (double)j;
        d->end[j] = d->start[j] + 10;
    }
    for (size_t i = 0; i < ROWS; i++)
        for (size_t j = 0; j < COLS; j++) {
            double t = d->start[j];
            d->values[i * COLS + j] =
                0.1 + 0.6 * exp(-pow((t - 150 - 10.0 * (double)i) / 60, 2)) * (0.6 + 0.08 * (double)i);
        }
    d->values[2 * COLS + 5] = NAN;
    memset(d->mark, 0, sizeof d->mark);
    for (size_t j = 0; j < COLS; j++) {
        size_t best = 0;
        for (size_t i = 1; i < ROWS; i++)
            if (!(d->values[i * COLS + j] <= d->values[best * COLS + j]))
                best = i;
        d->mark[best * COLS + j] = 1;
    }
    ncmp_heatmap h = {.n_rows = ROWS,
                      .n_cols = COLS,
                      .values = d->values,
                      .row_labels = ROW_LABELS,
                      .col_start = d->start,
                      .col_end = d->end,
                      .x_label = "time bin (ms)",
                      .y_label = "model iteration",
                      .colorbar_label = "ceiled predictivity",
                      .vmin = NAN,
                      .vmax = NAN,
                      .mark = d->mark,
                      .annotate = 0};
    return h;
}

static const char *const PROVENANCE =
    "neurocmp 0.1.0; command: neurocmp plot --in scores.h5 --where 'a<b & c'; sha256 0f3a9c";

static void test_heatmap_png_and_svg(void)
{
    heatmap_data d;
    ncmp_heatmap h = make_heatmap(&d);
    ncmp_plot_meta meta = {.title = "V4 predictivity <CNN-F> & time", .provenance = PROVENANCE};
    const char *png = test_tmp_path("heatmap.png"), *svg = test_tmp_path("heatmap.svg");
    char partial[4200];
    ncmp_error err;
    ncmp_error_clear(&err);
    ncmp_status st = ncmp_plot_heatmap(&h, &meta, 800, 500, png, svg, &err);
    if (st)
        fprintf(stderr, "\n  %s\n", err.message);
    CU_ASSERT_EQUAL_FATAL(st, NCMP_OK);
    CU_ASSERT(test_file_exists(png));
    CU_ASSERT(test_file_exists(svg));
    snprintf(partial, sizeof partial, "%s.partial", png);
    CU_ASSERT(!test_file_exists(partial));
    snprintf(partial, sizeof partial, "%s.partial", svg);
    CU_ASSERT(!test_file_exists(partial));

    rgb_image img = {0};
    CU_ASSERT_EQUAL_FATAL(read_png_rgb(png, &img), 0);
    CU_ASSERT_EQUAL(img.width, 800);
    CU_ASSERT_EQUAL(img.height, 500);
    size_t n_colours = count_colours(&img);
    CU_ASSERT(n_colours > 100);
    /* the smallest and largest values are drawn in the colormap's end colours (solid cells, many pixels) */
    unsigned char lo[3], hi[3], grey[3];
    ncmp_plot_viridis(0, lo);
    ncmp_plot_viridis(1, hi);
    ncmp_plot_viridis(NAN, grey);
    CU_ASSERT(count_pixels_of(&img, lo) > 200);
    CU_ASSERT(count_pixels_of(&img, hi) > 200);
    CU_ASSERT(count_pixels_of(&img, grey) > 50); /* the NaN cell */
    free(img.pixels);

    char *text = png_text_chunk(png, "neurocmp:provenance");
    CU_ASSERT_PTR_NOT_NULL(text);
    CU_ASSERT(text && strcmp(text, PROVENANCE) == 0);
    free(text);
    text = png_text_chunk(png, "Title");
    CU_ASSERT(text && strcmp(text, meta.title) == 0);
    free(text);
    text = png_text_chunk(png, "Software");
    CU_ASSERT(text && strncmp(text, "neurocmp ", 9) == 0);
    free(text);

    size_t n;
    char *s = read_whole_file(svg, &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT(strncmp(s, "<?xml", 5) == 0 || strncmp(s, "<svg", 4) == 0);
    CU_ASSERT(n > 7 && strcmp(s + n - 7, "</svg>\n") == 0);
    CU_ASSERT(contains(s, "width=\"800\" height=\"500\""));
    CU_ASSERT(contains(s, ">time bin (ms)</text>"));
    CU_ASSERT(contains(s, ">model iteration</text>"));
    CU_ASSERT(contains(s, ">ceiled predictivity</text>"));
    CU_ASSERT(contains(s, ">70</text>"));
    CU_ASSERT(contains(s, ">5</text>"));
    CU_ASSERT(contains(s, ">V4 predictivity &lt;CNN-F&gt; &amp; time</text>"));
    CU_ASSERT(!strstr(s, "<CNN-F>"));
    CU_ASSERT(contains(s, "<metadata id=\"neurocmp-provenance\">neurocmp 0.1.0; command: neurocmp plot --in "
                          "scores.h5 --where &apos;a&lt;b &amp; c&apos;; sha256 0f3a9c</metadata>"));
    free(s);

    /* deterministic: the same figure twice gives the same bytes */
    const char *png2 = test_tmp_path("heatmap2.png"), *svg2 = test_tmp_path("heatmap2.svg");
    CU_ASSERT_EQUAL(ncmp_plot_heatmap(&h, &meta, 800, 500, png2, svg2, &err), NCMP_OK);
    CU_ASSERT(files_equal(png, png2));
    CU_ASSERT(files_equal(svg, svg2));
    test_remove(png2);
    test_remove(svg2);
    remove_outputs(png, svg);
}

static void test_heatmap_variants(void)
{
    heatmap_data d;
    ncmp_heatmap h = make_heatmap(&d);
    ncmp_error err;
    /* annotated, fixed colour range, few wide cells, overlapping (sliding) windows, no row labels */
    h.n_cols = 5;
    double v[ROWS * 5], start[5] = {50, 75, 100, 125, 150}, end[5] = {100, 125, 150, 175, 200};
    for (size_t k = 0; k < ROWS * 5; k++)
        v[k] = -0.2 + 0.05 * (double)k;
    h.values = v;
    h.col_start = start;
    h.col_end = end;
    h.row_labels = NULL;
    h.mark = NULL;
    h.annotate = 1;
    h.vmin = 0, h.vmax = 1;
    const char *png = test_tmp_path("heatmap-annotated.png"), *svg = test_tmp_path("heatmap-annotated.svg");
    ncmp_status st = ncmp_plot_heatmap(&h, &(ncmp_plot_meta){.title = "annotated"}, 640, 400, png, svg, &err);
    if (st)
        fprintf(stderr, "\n  %s\n", err.message);
    CU_ASSERT_EQUAL(st, NCMP_OK);
    size_t n;
    char *s = read_whole_file(svg, &n);
    CU_ASSERT(contains(s, ">-0.20</text>")); /* annotation of the first cell */
    CU_ASSERT(contains(s, ">1.00</text>"));  /* value beyond vmax is annotated, colour clamped */
    CU_ASSERT(!strstr(s, "<metadata"));      /* no provenance given */
    free(s);
    remove_outputs(png, svg);

    /* non-ASCII provenance goes to an iTXt chunk; invalid UTF-8 and control characters in labels are replaced */
    h.x_label = "window (\xc2\xb5s) \xff\x01"
                "end";
    const char *utf8 = "window 70\xe2\x80\x93"
                       "170 ms, \xce\xbcs";
    png = test_tmp_path("heatmap-utf8.png");
    svg = test_tmp_path("heatmap-utf8.svg");
    CU_ASSERT_EQUAL(ncmp_plot_heatmap(&h, &(ncmp_plot_meta){.provenance = utf8}, 640, 400, png, svg, &err), NCMP_OK);
    char *text = png_text_chunk(png, "neurocmp:provenance");
    CU_ASSERT(text && strcmp(text, utf8) == 0);
    free(text);
    s = read_whole_file(svg, &n);
    CU_ASSERT(contains(s, ">window (\xc2\xb5s) ? end</text>"));
    CU_ASSERT(contains(s, utf8));
    free(s);
    remove_outputs(png, svg);

    /* all NaN: a valid figure of grey cells, no meta at all, SVG only */
    for (size_t k = 0; k < ROWS * 5; k++)
        v[k] = NAN;
    h.vmin = h.vmax = NAN;
    svg = test_tmp_path("heatmap-nan.svg");
    CU_ASSERT_EQUAL(ncmp_plot_heatmap(&h, NULL, 300, 200, NULL, svg, &err), NCMP_OK);
    CU_ASSERT(test_file_exists(svg));
    test_remove(svg);
}

/* ---- line plot ----------------------------------------------------------------- */

static void test_lines_png_and_svg(void)
{
    enum { N = 6 };
    double x[N], y[3][N], e[3][N], ticks[N];
    for (int i = 0; i < N; i++) {
        x[i] = ticks[i] = i;
        for (int s = 0; s < 3; s++) {
            y[s][i] = 0.2 + 0.1 * s + 0.05 * i * (s + 1) - 0.01 * i * i;
            e[s][i] = 0.02 + 0.005 * i;
        }
    }
    y[1][3] = NAN; /* a gap */
    ncmp_line_series series[3] = {
        {.label = "CNN-F <V4> & IT", .n = N, .x = x, .y = y[0], .y_err = e[0]},
        {.label = "CNN (feedforward)", .n = N, .x = x, .y = y[1], .y_err = e[1]},
        {.label = "ceiling", .n = N, .x = x, .y = y[2], .y_err = NULL},
    };
    ncmp_line_plot p = {.series = series,
                        .n_series = 3,
                        .x_label = "model iteration",
                        .y_label = "predictivity (Pearson r)",
                        .x_ticks = ticks,
                        .n_x_ticks = N,
                        .y_min = NAN,
                        .y_max = NAN,
                        .hline = 0};
    ncmp_plot_meta meta = {.title = "Predictivity by iteration", .provenance = PROVENANCE};
    const char *png = test_tmp_path("lines.png"), *svg = test_tmp_path("lines.svg");
    ncmp_error err;
    ncmp_status st = ncmp_plot_lines(&p, &meta, 800, 500, png, svg, &err);
    if (st)
        fprintf(stderr, "\n  %s\n", err.message);
    CU_ASSERT_EQUAL_FATAL(st, NCMP_OK);

    rgb_image img = {0};
    CU_ASSERT_EQUAL_FATAL(read_png_rgb(png, &img), 0);
    CU_ASSERT_EQUAL(img.width, 800);
    CU_ASSERT_EQUAL(img.height, 500);
    CU_ASSERT(count_colours(&img) > 50);
    /* each series' colour (tab10 blue, orange, green) appears in solid pixels */
    static const unsigned char blue[3] = {0x1f, 0x77, 0xb4}, orange[3] = {0xff, 0x7f, 0x0e},
                               green[3] = {0x2c, 0xa0, 0x2c};
    CU_ASSERT(count_pixels_of(&img, blue) > 100);
    CU_ASSERT(count_pixels_of(&img, orange) > 100);
    CU_ASSERT(count_pixels_of(&img, green) > 100);
    free(img.pixels);
    char *text = png_text_chunk(png, "neurocmp:provenance");
    CU_ASSERT(text && strcmp(text, PROVENANCE) == 0);
    free(text);

    size_t n;
    char *s = read_whole_file(svg, &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT(strncmp(s, "<?xml", 5) == 0);
    CU_ASSERT(n > 7 && strcmp(s + n - 7, "</svg>\n") == 0);
    CU_ASSERT(contains(s, "width=\"800\" height=\"500\""));
    CU_ASSERT(contains(s, ">model iteration</text>"));
    CU_ASSERT(contains(s, ">predictivity (Pearson r)</text>"));
    CU_ASSERT(contains(s, ">Predictivity by iteration</text>"));
    CU_ASSERT(contains(s, ">CNN-F &lt;V4&gt; &amp; IT</text>"));
    CU_ASSERT(contains(s, ">CNN (feedforward)</text>"));
    CU_ASSERT(contains(s, ">ceiling</text>"));
    CU_ASSERT(contains(s, ">0</text>") && contains(s, ">5</text>"));
    CU_ASSERT(contains(s, "stroke-dasharray")); /* the hline */
    CU_ASSERT(contains(s, "<metadata id=\"neurocmp-provenance\">"));
    free(s);
    remove_outputs(png, svg);

    /* automatic ticks, explicit y range, no labels (no legend), all-NaN series: still a valid figure */
    double nan_y[N];
    for (int i = 0; i < N; i++)
        nan_y[i] = NAN;
    ncmp_line_series empty[2] = {{.n = N, .x = x, .y = nan_y}, {.n = 0}};
    ncmp_line_plot q = {.series = empty, .n_series = 2, .y_min = -1, .y_max = 1, .hline = NAN};
    svg = test_tmp_path("lines-empty.svg");
    png = test_tmp_path("lines-empty.png");
    st = ncmp_plot_lines(&q, NULL, 400, 300, png, svg, &err);
    if (st)
        fprintf(stderr, "\n  %s\n", err.message);
    CU_ASSERT_EQUAL(st, NCMP_OK);
    remove_outputs(png, svg);
}

/* ---- bad input ------------------------------------------------------------------- */

/* Status is not OK, the message names `what`, and neither file nor partial exists. */
static void expect_failure(ncmp_status st, const ncmp_error *err, const char *what, const char *path)
{
    CU_ASSERT_NOT_EQUAL(st, NCMP_OK);
    int named = strstr(err->message, what) != NULL;
    if (!named)
        fprintf(stderr, "\n  message '%s' does not name '%s'\n", err->message, what);
    CU_ASSERT(named);
    char partial[4200];
    snprintf(partial, sizeof partial, "%s.partial", path);
    CU_ASSERT(!test_file_exists(path));
    CU_ASSERT(!test_file_exists(partial));
}

static void test_bad_input(void)
{
    heatmap_data d;
    ncmp_heatmap h = make_heatmap(&d);
    ncmp_error err;
    const char *png = test_tmp_path("bad.png"), *svg = test_tmp_path("bad.svg");
    test_remove(png);
    test_remove(svg);

    ncmp_heatmap bad = h;
    bad.values = NULL;
    expect_failure(ncmp_plot_heatmap(&bad, NULL, 800, 500, png, NULL, &err), &err, "values", png);
    bad = h;
    bad.n_rows = 0;
    expect_failure(ncmp_plot_heatmap(&bad, NULL, 800, 500, png, NULL, &err), &err, "[0, 20]", png);
    bad = h;
    bad.col_start = NULL;
    expect_failure(ncmp_plot_heatmap(&bad, NULL, 800, 500, png, NULL, &err), &err, "col_start", png);
    double back[COLS];
    memcpy(back, d.start, sizeof back);
    back[4] = back[3];
    bad = h;
    bad.col_start = back;
    expect_failure(ncmp_plot_heatmap(&bad, NULL, 800, 500, png, NULL, &err), &err, "col_start[4]", png);
    expect_failure(ncmp_plot_heatmap(&h, NULL, 5, 500, png, NULL, &err), &err, "5 x 500", png);
    expect_failure(ncmp_plot_heatmap(&h, NULL, 800, 20000, png, NULL, &err), &err, "800 x 20000", png);
    expect_failure(ncmp_plot_heatmap(&h, NULL, 800, 500, NULL, NULL, &err), &err, "no output path", png);
    expect_failure(ncmp_plot_heatmap(NULL, NULL, 800, 500, png, NULL, &err), &err, "NULL", png);

    /* unwritable destination: the error names it; a good PNG path next to a bad SVG path leaves nothing */
    const char *nowhere = "/nonexistent-dir/x.png";
    expect_failure(ncmp_plot_heatmap(&h, NULL, 800, 500, nowhere, NULL, &err), &err, nowhere, nowhere);
    CU_ASSERT_EQUAL(err.status, NCMP_ERR_IO);
    expect_failure(ncmp_plot_heatmap(&h, NULL, 800, 500, png, "/nonexistent-dir/x.svg", &err), &err,
                   "/nonexistent-dir/x.svg", png);

    /* a figure too small for its labels: an error, not a negative-size plot */
    ncmp_line_series ser = {.label = "a rather long legend entry that takes room", .n = 0};
    ncmp_line_plot p = {
        .series = &ser, .n_series = 1, .x_label = "x", .y_label = "y", .y_min = NAN, .y_max = NAN, .hline = NAN};
    expect_failure(ncmp_plot_lines(&p, NULL, 150, 100, png, svg, &err), &err, "too small", png);

    double x[3] = {0, 1, 2}, y[3] = {1, 2, 3}, e[3] = {0.1, -0.1, 0.1};
    ncmp_line_series good = {.label = "s", .n = 3, .x = x, .y = y, .y_err = e};
    p.series = &good;
    expect_failure(ncmp_plot_lines(&p, NULL, 800, 500, png, svg, &err), &err, "y_err[1]", png);
    good.y_err = NULL;
    good.x = NULL;
    expect_failure(ncmp_plot_lines(&p, NULL, 800, 500, png, svg, &err), &err, "x is NULL", png);
    good.x = x;
    p.n_series = 0;
    expect_failure(ncmp_plot_lines(&p, NULL, 800, 500, png, svg, &err), &err, "n_series", png);
    p.n_series = 1;
    p.y_min = 2, p.y_max = 1;
    expect_failure(ncmp_plot_lines(&p, NULL, 800, 500, png, svg, &err), &err, "y range", png);
    p.y_min = p.y_max = NAN;
    p.n_x_ticks = 4;
    expect_failure(ncmp_plot_lines(&p, NULL, 800, 500, png, svg, &err), &err, "x_ticks", png);
    p.n_x_ticks = 0;
    expect_failure(ncmp_plot_lines(&p, NULL, 800, 500, "/nonexistent-dir/x.png", NULL, &err), &err,
                   "/nonexistent-dir/x.png", "/nonexistent-dir/x.png");
    CU_ASSERT(!test_file_exists(svg));
    /* the error object may be NULL */
    CU_ASSERT_NOT_EQUAL(ncmp_plot_lines(&p, NULL, 1, 1, png, NULL, NULL), NCMP_OK);
    CU_ASSERT_EQUAL(ncmp_plot_lines(&p, NULL, 800, 500, png, NULL, NULL), NCMP_OK);
    test_remove(png);
}

int main(void)
{
    static const test_case colormap_cases[] = {{"viridis table", test_viridis_table}};
    static const test_case heatmap_cases[] = {{"PNG and SVG, provenance, escaping", test_heatmap_png_and_svg},
                                              {"annotated, overlapping bins, all NaN", test_heatmap_variants}};
    static const test_case lines_cases[] = {{"PNG and SVG with error bars and legend", test_lines_png_and_svg}};
    static const test_case bad_cases[] = {{"bad input leaves no file", test_bad_input}};
    static const test_suite suites[] = {{"colormap", TEST_CASES(colormap_cases)},
                                        {"heatmap", TEST_CASES(heatmap_cases)},
                                        {"lines", TEST_CASES(lines_cases)},
                                        {"bad input", TEST_CASES(bad_cases)}};
    int rc = test_run("plot", suites, sizeof suites / sizeof suites[0]);
    ncmp_plot_release_font_caches(); /* so the sanitizer build reports no leaks from fontconfig */
    return rc;
}
