/* Image preprocessing: what turns a decoded image into a network input.
 *
 * Steps, in order (docs/preprocessing.md states how each differs from
 * torchvision/PIL):
 *   1. channels: grey -> RGB by repeating the grey value; RGB -> grey by
 *      ITU-R 601-2 luma (L = R*299/1000 + G*587/1000 + B*114/1000, as PIL's
 *      convert("L"), computed as Pillow does: (19595 R + 38470 G + 7471 B + 2^15) >> 16);
 *   2. geometry: resize to size x size, or with center_crop, resize the shorter
 *      side to `size` (keeping the aspect ratio; the longer side becomes
 *      int(size * long / short)) and crop the centre size x size at offsets
 *      round((H - size) / 2) with Python's round-half-to-even
 *      (torchvision Resize(size) + CenterCrop(size)); bilinear interpolation
 *      with antialiasing when shrinking (PIL's BILINEAR resampling, whose
 *      filter support widens by the scale factor);
 *   3. values: x/255, then ImageNet mean/std per channel
 *      ((x - mean) / std, mean 0.485 0.456 0.406, std 0.229 0.224 0.225;
 *      grey uses the mean of the three), or [-1, 1] (2x/255 - 1).
 * The resize reproduces Pillow's 8-bit arithmetic exactly (22-bit fixed-point
 * coefficients, rounding to 8 bits after the horizontal and after the vertical
 * pass), so its pixels are bit-identical to Image.resize(..., BILINEAR); the
 * value scaling is in float64, rounded to float32 once.
 */
#ifndef NCMP_DATASETS_PREPROCESS_H
#define NCMP_DATASETS_PREPROCESS_H

#include <stdbool.h>

#include <stddef.h>

#include "datasets/image.h"

typedef enum ncmp_scaling {
    NCMP_SCALING_IMAGENET, /* x/255, then (x - mean) / std with ImageNet statistics */
    NCMP_SCALING_MINUS1_1  /* 2x/255 - 1 */
} ncmp_scaling;

typedef struct ncmp_preprocess_options {
    int channels;     /* 1 or 3: the network's input channels */
    int size;         /* output height = width */
    bool center_crop; /* resize shorter side then crop; else stretch to size x size */
    ncmp_scaling scaling;
} ncmp_preprocess_options;

/* Human-readable description stored in output files' provenance. */
void ncmp_preprocess_describe(const ncmp_preprocess_options *opts, char *buf, size_t size);

/* Write the network input [channels][size][size] into `out` (caller-owned,
 * channels*size*size floats).  Allocates scratch proportional to the image,
 * freed before returning.  Errors: image not HxWx1/HxWx3 (NCMP_ERR_SHAPE),
 * channels not 1/3 or size outside [1, 16384] (NCMP_ERR_USAGE). */
ncmp_status ncmp_preprocess_image(const ncmp_image *image, const ncmp_preprocess_options *opts, float *out,
                                  ncmp_error *err);

/* The values channel c of a preprocessed image can take: black and white
 * after scaling ([-1, 1] for minus1to1).  Adversarial examples are clipped
 * to it. */
void ncmp_preprocess_range(const ncmp_preprocess_options *opts, int channel, double *lo, double *hi);

#endif
