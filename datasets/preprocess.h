/* Image preprocessing: what turns a decoded image into a network input.
 *
 * Steps, in order (docs/preprocessing.md states how each differs from
 * torchvision/PIL):
 *   1. channels: grey -> RGB by repeating the grey value; RGB -> grey by
 *      ITU-R 601-2 luma (L = R*299/1000 + G*587/1000 + B*114/1000, as PIL's convert("L"));
 *   2. geometry: resize to size x size, or with center_crop, resize the shorter
 *      side to `size` (keeping the aspect ratio) and crop the centre size x size
 *      (torchvision Resize(size) + CenterCrop(size)); bilinear interpolation
 *      with antialiasing when shrinking (PIL's BILINEAR resampling, whose
 *      filter support widens by the scale factor);
 *   3. values: x/255, then ImageNet mean/std per channel
 *      ((x - mean) / std, mean 0.485 0.456 0.406, std 0.229 0.224 0.225;
 *      grey uses the mean of the three), or [-1, 1] (2x/255 - 1).
 * Pixel arithmetic is in float64 and the result rounded to float32 once.
 */
#ifndef NCMP_DATASETS_PREPROCESS_H
#define NCMP_DATASETS_PREPROCESS_H

#include <stdbool.h>

#include <stddef.h>

#include "datasets/image.h"

typedef enum ncmp_scaling {
    NCMP_SCALING_IMAGENET,  /* x/255, then (x - mean) / std with ImageNet statistics */
    NCMP_SCALING_MINUS1_1   /* 2x/255 - 1 */
} ncmp_scaling;

typedef struct ncmp_preprocess_options {
    int channels;           /* 1 or 3: the network's input channels */
    int size;               /* output height = width */
    bool center_crop;       /* resize shorter side then crop; else stretch to size x size */
    ncmp_scaling scaling;
} ncmp_preprocess_options;

/* Human-readable description stored in output files' provenance. */
void ncmp_preprocess_describe(const ncmp_preprocess_options *opts, char *buf, size_t size);

/* Write the network input [channels][size][size] into `out`. */
ncmp_status ncmp_preprocess_image(const ncmp_image *image, const ncmp_preprocess_options *opts, float *out,
                                  ncmp_error *err);

#endif
