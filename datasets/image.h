/* Decoded images: 8-bit grey or RGB pixels, row-major, channels interleaved.
 * Decoding uses libpng and libjpeg-turbo; the format is chosen by the
 * file's magic bytes, not its name.  Pixels equal Pillow's (Image.open then
 * convert("L"/"RGB")): palette -> RGB, alpha and tRNS dropped (not composited),
 * 1/2/4-bit grey scaled to 0..255, CMYK JPEGs converted as Pillow does.
 * 16-bit PNG samples keep their high byte (v >> 8; Pillow does the same for
 * RGB but clips 16-bit grey to 255).  Gamma/ICC chunks are ignored, as in Pillow. */
#ifndef NCMP_DATASETS_IMAGE_H
#define NCMP_DATASETS_IMAGE_H

#include <stddef.h>

#include "core/status.h"

typedef struct ncmp_image {
    int width, height;
    int channels;          /* 1 (grey) or 3 (RGB); grey+alpha and RGBA are reduced to these (alpha dropped) */
    unsigned char *pixels; /* [height][width][channels], owned */
} ncmp_image;

/* Decode a PNG or JPEG held in memory.  `name` (a file or zip entry) is used
 * in messages: a truncated JPEG (libjpeg's "Premature end of JPEG file"
 * warning is fatal here) or a corrupt PNG is an NCMP_ERR_FORMAT naming it;
 * anything else is "not a PNG or JPEG image".  On success image->pixels is
 * owned by the caller (ncmp_image_release); on failure it is NULL. */
ncmp_status ncmp_image_decode(const void *data, size_t size, const char *name, ncmp_image *image, ncmp_error *err);
/* Read and decode a file. */
ncmp_status ncmp_image_read(const char *path, ncmp_image *image, ncmp_error *err);
void ncmp_image_release(ncmp_image *image);

#endif
