/* Image -> network input: channels, PIL-exact bilinear resize (Pillow 9 Resample.c), centre crop, scaling. */
#include "datasets/preprocess.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NCMP_PREPROCESS_MAX_SIZE 16384

/* Pillow's fixed-point format for 8-bit resampling: 32 - 8 - 2 bits of fraction. */
#define PIL_PRECISION_BITS (32 - 8 - 2)

static const double imagenet_mean[3] = {0.485, 0.456, 0.406};
static const double imagenet_std[3] = {0.229, 0.224, 0.225};

/* x/255 is mapped to (x/255 - mean) / std. */
static void channel_scaling(const ncmp_preprocess_options *opts, int c, double *mean, double *std)
{
    if (opts->scaling == NCMP_SCALING_IMAGENET) {
        *mean = opts->channels == 3 ? imagenet_mean[c] : (imagenet_mean[0] + imagenet_mean[1] + imagenet_mean[2]) / 3;
        *std = opts->channels == 3 ? imagenet_std[c] : (imagenet_std[0] + imagenet_std[1] + imagenet_std[2]) / 3;
    } else {
        *mean = 0.5;
        *std = 0.5;
    }
}

void ncmp_preprocess_range(const ncmp_preprocess_options *opts, int channel, double *lo, double *hi)
{
    double mean, std;
    channel_scaling(opts, channel, &mean, &std);
    *lo = (0 - mean) / std;
    *hi = (1 - mean) / std;
}

void ncmp_preprocess_describe(const ncmp_preprocess_options *opts, char *buf, size_t size)
{
    if (!buf || size == 0)
        return;
    if (!opts) {
        snprintf(buf, size, "none");
        return;
    }
    const char *scaling = opts->scaling == NCMP_SCALING_IMAGENET ? "imagenet mean/std" : "[-1,1] (2x/255-1)";
    if (opts->center_crop)
        snprintf(buf, size, "resize shorter side to %d bilinear-antialias (PIL), center crop %dx%d; %s; %s", opts->size,
                 opts->size, opts->size, scaling, opts->channels == 1 ? "grey (PIL L)" : "RGB");
    else
        snprintf(buf, size, "resize %dx%d bilinear-antialias (PIL); %s; %s", opts->size, opts->size, scaling,
                 opts->channels == 1 ? "grey (PIL L)" : "RGB");
}

/* ---- resampling coefficients (Pillow's precompute_coeffs + normalize_coeffs_8bpc) ---- */

typedef struct resample_axis {
    int ksize;      /* coefficients per output sample */
    int *bounds;    /* [out][2]: first input index, number of inputs */
    int32_t *coeff; /* [out][ksize], fixed point with PIL_PRECISION_BITS */
} resample_axis;

static double triangle_filter(double x)
{
    if (x < 0)
        x = -x;
    return x < 1 ? 1 - x : 0;
}

static void axis_free(resample_axis *a)
{
    free(a->bounds);
    free(a->coeff);
    a->bounds = NULL;
    a->coeff = NULL;
}

/* Coefficients of a bilinear ("triangle") filter from in_size to out_size samples; when
 * shrinking the support widens by the scale factor, which is Pillow's antialiasing. */
static int axis_init(resample_axis *a, int in_size, int out_size)
{
    double scale = (double)in_size / out_size;
    double filterscale = scale < 1 ? 1 : scale;
    double support = 1.0 * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    a->ksize = ksize;
    a->bounds = malloc(sizeof(int) * 2 * (size_t)out_size);
    a->coeff = malloc(sizeof(int32_t) * (size_t)ksize * (size_t)out_size);
    double *k = malloc(sizeof(double) * (size_t)ksize);
    if (!a->bounds || !a->coeff || !k) {
        free(k);
        axis_free(a);
        return -1;
    }
    for (int xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale;
        double ss = 1.0 / filterscale;
        /* (int) truncates toward zero, as in Pillow; the clamp makes negatives irrelevant. */
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0)
            xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size)
            xmax = in_size;
        xmax -= xmin;
        double ww = 0;
        int x;
        for (x = 0; x < xmax; x++) {
            double w = triangle_filter((x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        for (x = 0; x < xmax; x++)
            if (ww != 0)
                k[x] /= ww;
        for (; x < ksize; x++)
            k[x] = 0;
        a->bounds[2 * xx] = xmin;
        a->bounds[2 * xx + 1] = xmax;
        for (x = 0; x < ksize; x++) {
            double v = k[x] * (1 << PIL_PRECISION_BITS);
            a->coeff[(size_t)xx * (size_t)ksize + (size_t)x] = (int32_t)(v < 0 ? -0.5 + v : 0.5 + v);
        }
    }
    free(k);
    return 0;
}

static unsigned char clip8(int64_t v)
{
    if (v >= ((int64_t)1 << PIL_PRECISION_BITS << 8))
        return 255;
    if (v <= 0)
        return 0;
    return (unsigned char)(v >> PIL_PRECISION_BITS);
}

static int python_round(double v)
{
    return (int)nearbyint(v);
}

/* ---- the pipeline ---------------------------------------------------------- */

ncmp_status ncmp_preprocess_image(const ncmp_image *image, const ncmp_preprocess_options *opts, float *out,
                                  ncmp_error *err)
{
    if (!image || !opts || !out)
        return ncmp_fail(err, NCMP_ERR_USAGE, "ncmp_preprocess_image: missing image, options or output");
    if (!image->pixels || image->width <= 0 || image->height <= 0 || (image->channels != 1 && image->channels != 3))
        return ncmp_fail(err, NCMP_ERR_SHAPE, "cannot preprocess an image of shape %dx%dx%d (need HxWx1 or HxWx3)",
                         image->height, image->width, image->channels);
    if (opts->channels != 1 && opts->channels != 3)
        return ncmp_fail(err, NCMP_ERR_USAGE, "preprocessing: the network takes %d channels (need 1 or 3)",
                         opts->channels);
    if (opts->size < 1 || opts->size > NCMP_PREPROCESS_MAX_SIZE)
        return ncmp_fail(err, NCMP_ERR_USAGE, "preprocessing: output size %d is out of range [1, %d]", opts->size,
                         NCMP_PREPROCESS_MAX_SIZE);
    if (opts->scaling != NCMP_SCALING_IMAGENET && opts->scaling != NCMP_SCALING_MINUS1_1)
        return ncmp_fail(err, NCMP_ERR_USAGE, "preprocessing: unknown scaling %d", (int)opts->scaling);

    const int w = image->width, h = image->height, size = opts->size;
    /* Channels first, in 8 bits, as PIL's convert("L") would: grey stays grey until the
     * very end (repeating after the resize gives the same values for less work). */
    const unsigned char *src = image->pixels;
    unsigned char *grey = NULL;
    int c_in = image->channels;
    if (c_in == 3 && opts->channels == 1) {
        grey = malloc((size_t)w * (size_t)h);
        if (!grey)
            return ncmp_fail(err, NCMP_ERR_NOMEM, "cannot allocate %dx%d grey image", h, w);
        for (size_t i = 0; i < (size_t)w * (size_t)h; i++) {
            const unsigned char *p = image->pixels + 3 * i;
            /* Pillow's rgb2l: L24 fixed point, i.e. R*299/1000 + G*587/1000 + B*114/1000 rounded. */
            grey[i] = (unsigned char)((p[0] * 19595u + p[1] * 38470u + p[2] * 7471u + 0x8000u) >> 16);
        }
        src = grey;
        c_in = 1;
    }

    /* Geometry: the resized size, then the window of it that is kept. */
    int rw = size, rh = size, left = 0, top = 0;
    if (opts->center_crop) {
        /* torchvision 0.14 _compute_resized_output_size: the long side is truncated. */
        int shorter = w <= h ? w : h, longer = w <= h ? h : w;
        int new_long = (int)((double)size * longer / shorter);
        if (w <= h) {
            rw = size;
            rh = new_long;
        } else {
            rw = new_long;
            rh = size;
        }
        /* CenterCrop: int(round((H - size) / 2)) with Python's round-half-to-even. */
        top = python_round((rh - size) / 2.0);
        left = python_round((rw - size) / 2.0);
    }

    resample_axis ax = {0, NULL, NULL}, ay = {0, NULL, NULL};
    unsigned char *tmp = NULL, *res = NULL;
    ncmp_status st = NCMP_OK;
    if (axis_init(&ax, w, rw) || axis_init(&ay, h, rh)) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "cannot allocate resampling coefficients (%dx%d -> %dx%d)", h, w, rh, rw);
        goto done;
    }
    /* Only output rows top..top+size-1 and columns left..left+size-1 are computed: each output
     * sample of Pillow's separable resize depends only on its own coefficients, so cropping
     * before or after gives identical values. Input rows needed by the vertical pass: */
    int y_first = ay.bounds[2 * top];
    int y_last = ay.bounds[2 * (top + size - 1)] + ay.bounds[2 * (top + size - 1) + 1];
    int n_rows = y_last - y_first;
    tmp = malloc((size_t)n_rows * (size_t)size * (size_t)c_in);
    res = malloc((size_t)size * (size_t)size * (size_t)c_in);
    if (!tmp || !res) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "cannot allocate resampling buffers for a %dx%d image", h, w);
        goto done;
    }
    /* Horizontal pass, rounded to 8 bits as Pillow does for 8-bit images (skipped, as in
     * Pillow, when the width does not change: the filter is then the identity). */
    for (int y = 0; y < n_rows; y++) {
        const unsigned char *in_row = src + (size_t)(y + y_first) * (size_t)w * (size_t)c_in;
        unsigned char *t_row = tmp + (size_t)y * (size_t)size * (size_t)c_in;
        for (int xo = 0; xo < size; xo++) {
            int xx = xo + left;
            if (rw == w) {
                memcpy(t_row + (size_t)xo * (size_t)c_in, in_row + (size_t)xx * (size_t)c_in, (size_t)c_in);
                continue;
            }
            int xmin = ax.bounds[2 * xx], xn = ax.bounds[2 * xx + 1];
            const int32_t *k = ax.coeff + (size_t)xx * (size_t)ax.ksize;
            for (int c = 0; c < c_in; c++) {
                int64_t ss = (int64_t)1 << (PIL_PRECISION_BITS - 1);
                for (int x = 0; x < xn; x++)
                    ss += (int64_t)in_row[(size_t)(x + xmin) * (size_t)c_in + (size_t)c] * k[x];
                t_row[(size_t)xo * (size_t)c_in + (size_t)c] = clip8(ss);
            }
        }
    }
    /* Vertical pass, rounded to 8 bits again. */
    for (int yo = 0; yo < size; yo++) {
        int yy = yo + top;
        unsigned char *r_row = res + (size_t)yo * (size_t)size * (size_t)c_in;
        if (rh == h) {
            memcpy(r_row, tmp + (size_t)(yy - y_first) * (size_t)size * (size_t)c_in, (size_t)size * (size_t)c_in);
            continue;
        }
        int ymin = ay.bounds[2 * yy] - y_first, yn = ay.bounds[2 * yy + 1];
        const int32_t *k = ay.coeff + (size_t)yy * (size_t)ay.ksize;
        for (int i = 0; i < size * c_in; i++) {
            int64_t ss = (int64_t)1 << (PIL_PRECISION_BITS - 1);
            for (int y = 0; y < yn; y++)
                ss += (int64_t)tmp[(size_t)(y + ymin) * (size_t)size * (size_t)c_in + (size_t)i] * k[y];
            r_row[i] = clip8(ss);
        }
    }

    /* Values: float64 arithmetic, one rounding to float32 (torchvision rounds after each op). */
    size_t plane = (size_t)size * (size_t)size;
    for (int c = 0; c < opts->channels; c++) {
        double mean, std;
        channel_scaling(opts, c, &mean, &std);
        int c_src = c_in == 1 ? 0 : c;
        float *o = out + (size_t)c * plane;
        for (size_t i = 0; i < plane; i++)
            o[i] = (float)((res[i * (size_t)c_in + (size_t)c_src] / 255.0 - mean) / std);
    }

done:
    axis_free(&ax);
    axis_free(&ay);
    free(tmp);
    free(res);
    free(grey);
    return st;
}
