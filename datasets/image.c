/* PNG and JPEG decoding to 8-bit grey or RGB (libpng classic API, libjpeg-turbo), matching PIL's pixels. */
#include "datasets/image.h"

#include <errno.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h> /* before jpeglib.h, which uses FILE */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#include "core/sizes.h"

/* Refuse headers that would need more than this many bytes of pixels: a
 * corrupt or hostile header must not make us allocate gigabytes before the
 * missing data is noticed. */
#define NCMP_IMAGE_MAX_BYTES ((size_t)1 << 30)

void ncmp_image_release(ncmp_image *image)
{
    if (!image)
        return;
    free(image->pixels);
    image->pixels = NULL;
    image->width = image->height = image->channels = 0;
}

/* 1 GiB, or less if the application lowered ncmp_size_limit(). */
static size_t image_limit(void)
{
    size_t limit = ncmp_size_limit();
    return limit < NCMP_IMAGE_MAX_BYTES ? limit : NCMP_IMAGE_MAX_BYTES;
}

static ncmp_status check_dimensions(const char *name, size_t width, size_t height, int channels, ncmp_error *err)
{
    if (width == 0 || height == 0)
        return ncmp_fail(err, NCMP_ERR_FORMAT, "image '%s' has no pixels (%zux%zu)", name, width, height);
    size_t bytes = 0;
    if (ncmp_size_3d(name, "the image header", height, width, (size_t)channels, 1, &bytes, err))
        return NCMP_ERR_FORMAT;
    if (bytes > image_limit())
        return ncmp_fail(err, NCMP_ERR_FORMAT, "image '%s' is too large (%zux%zu, more than %zu bytes of pixels)", name,
                         width, height, image_limit());
    return NCMP_OK;
}

/* ---- PNG ------------------------------------------------------------------ */

typedef struct png_reader {
    const unsigned char *data;
    size_t size, offset;
    char message[256];
} png_reader;

static void png_read_memory(png_structp png, png_bytep out, size_t length)
{
    png_reader *r = png_get_io_ptr(png);
    if (length > r->size - r->offset)
        png_error(png, "file is truncated (read past the end of the data)");
    memcpy(out, r->data + r->offset, length);
    r->offset += length;
}

static void png_on_error(png_structp png, png_const_charp message)
{
    png_reader *r = png_get_error_ptr(png);
    snprintf(r->message, sizeof r->message, "%s", message);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp message)
{
    /* Warnings (e.g. an sRGB profile libpng dislikes) do not change pixels; PIL ignores them too. */
    (void)png;
    (void)message;
}

static ncmp_status decode_png(const unsigned char *data, size_t size, const char *name, ncmp_image *image,
                              ncmp_error *err)
{
    png_reader reader = {data, size, 0, ""};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &reader, png_on_error, png_on_warning);
    if (!png)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "cannot allocate a PNG decoder for '%s'", name);
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "cannot allocate a PNG decoder for '%s'", name);
    }
    /* Written after setjmp, read after longjmp: must be volatile. */
    unsigned char *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    volatile ncmp_status status = NCMP_OK;
    if (setjmp(png_jmpbuf(png))) {
        free(rows);
        free(pixels);
        png_destroy_read_struct(&png, &info, NULL);
        if (status != NCMP_OK)
            return status;
        return ncmp_fail(err, NCMP_ERR_FORMAT, "corrupt PNG '%s': %s", name, reader.message);
    }
    png_set_read_fn(png, &reader, png_read_memory);
    png_set_crc_action(png, PNG_CRC_DEFAULT, PNG_CRC_DEFAULT);
    png_read_info(png, info);

    png_uint_32 width = png_get_image_width(png, info);
    png_uint_32 height = png_get_image_height(png, info);
    int bit_depth = png_get_bit_depth(png, info);
    int color_type = png_get_color_type(png, info);
    /* 16-bit samples keep their high byte (PIL does the same for 16-bit RGB). */
    if (bit_depth == 16)
        png_set_strip_16(png);
    if (color_type == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if (color_type & PNG_COLOR_MASK_ALPHA)
        png_set_strip_alpha(png);
    /* tRNS transparency is ignored (not expanded to alpha), like PIL's convert("RGB"). */
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    int channels = png_get_channels(png, info);
    if (channels != 1 && channels != 3) {
        status = ncmp_fail(err, NCMP_ERR_FORMAT, "PNG '%s' decodes to %d channels (expected 1 or 3)", name, channels);
        png_longjmp(png, 1);
    }
    if (check_dimensions(name, width, height, channels, err) != NCMP_OK) {
        status = NCMP_ERR_FORMAT;
        png_longjmp(png, 1);
    }
    size_t stride = (size_t)width * (size_t)channels;
    if (png_get_rowbytes(png, info) != stride) {
        status = ncmp_fail(err, NCMP_ERR_INTERNAL, "PNG '%s': unexpected row size %zu (expected %zu)", name,
                           (size_t)png_get_rowbytes(png, info), stride);
        png_longjmp(png, 1);
    }
    pixels = malloc(stride * height);
    rows = malloc(sizeof(png_bytep) * height);
    if (!pixels || !rows) {
        status = ncmp_fail(err, NCMP_ERR_NOMEM, "cannot allocate %ux%u pixels for '%s'", (unsigned)width,
                           (unsigned)height, name);
        png_longjmp(png, 1);
    }
    for (png_uint_32 y = 0; y < height; y++)
        rows[y] = pixels + (size_t)y * stride;
    png_read_image(png, rows);
    png_read_end(png, NULL);

    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    image->width = (int)width;
    image->height = (int)height;
    image->channels = channels;
    image->pixels = pixels;
    return NCMP_OK;
}

/* ---- JPEG ----------------------------------------------------------------- */

typedef struct jpeg_failure {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
} jpeg_failure;

static void jpeg_on_error(j_common_ptr cinfo)
{
    jpeg_failure *f = (jpeg_failure *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, f->message);
    longjmp(f->jump, 1);
}

static void jpeg_on_message(j_common_ptr cinfo, int level)
{
    /* libjpeg pads a truncated file with grey and only warns; a stimulus
     * that is half grey must not pass silently, so that warning is fatal.
     * Other warnings (extraneous bytes between markers...) are tolerated,
     * as PIL tolerates them. */
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF)
        jpeg_on_error(cinfo);
}

/* PIL's CMYK -> RGB (Convert.c cmyk2rgb): R = (255 - K) - (C * (255 - K)) / 255, rounded as MULDIV255. */
static unsigned char cmyk_channel(unsigned c, unsigned k)
{
    unsigned nk = 255 - k;
    unsigned t = c * nk + 128;
    unsigned muldiv = ((t >> 8) + t) >> 8;
    return (unsigned char)(nk > muldiv ? nk - muldiv : 0);
}

static ncmp_status decode_jpeg(const unsigned char *data, size_t size, const char *name, ncmp_image *image,
                               ncmp_error *err)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_failure failure;
    unsigned char *volatile pixels = NULL;
    unsigned char *volatile row = NULL;
    volatile ncmp_status status = NCMP_OK;
    cinfo.err = jpeg_std_error(&failure.base);
    failure.base.error_exit = jpeg_on_error;
    failure.base.emit_message = jpeg_on_message;
    failure.message[0] = '\0';
    if (setjmp(failure.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        free(row);
        if (status != NCMP_OK)
            return status;
        return ncmp_fail(err, NCMP_ERR_FORMAT, "corrupt or truncated JPEG '%s': %s", name, failure.message);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);

    int channels;
    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    if (cinfo.num_components == 1) {
        cinfo.out_color_space = JCS_GRAYSCALE;
        channels = 1;
    } else if (cmyk) {
        cinfo.out_color_space = JCS_CMYK;
        channels = 3;
    } else {
        cinfo.out_color_space = JCS_RGB;
        channels = 3;
    }
    /* The header's size is checked before libjpeg allocates for it (a
     * progressive JPEG buffers every coefficient of the image), and
     * libjpeg's own working memory is capped the same way. */
    if (check_dimensions(name, cinfo.image_width, cinfo.image_height, cinfo.num_components, err) != NCMP_OK) {
        status = NCMP_ERR_FORMAT;
        longjmp(failure.jump, 1);
    }
    cinfo.mem->max_memory_to_use = (long)image_limit();
    jpeg_start_decompress(&cinfo);
    if (check_dimensions(name, cinfo.output_width, cinfo.output_height, channels, err) != NCMP_OK) {
        status = NCMP_ERR_FORMAT;
        longjmp(failure.jump, 1);
    }
    size_t stride = (size_t)cinfo.output_width * (size_t)channels;
    size_t in_stride = (size_t)cinfo.output_width * (size_t)cinfo.output_components;
    pixels = malloc(stride * cinfo.output_height);
    row = malloc(in_stride);
    if (!pixels || !row) {
        status = ncmp_fail(err, NCMP_ERR_NOMEM, "cannot allocate %ux%u pixels for '%s'", cinfo.output_width,
                           cinfo.output_height, name);
        longjmp(failure.jump, 1);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        unsigned y = cinfo.output_scanline;
        JSAMPROW rows[1] = {row};
        if (jpeg_read_scanlines(&cinfo, rows, 1) != 1) {
            status = ncmp_fail(err, NCMP_ERR_FORMAT, "truncated JPEG '%s': no data for row %u", name, y);
            longjmp(failure.jump, 1);
        }
        unsigned char *out = pixels + (size_t)y * stride;
        if (cmyk) {
            /* Adobe CMYK JPEGs store inverted samples; PIL assumes so for every CMYK JPEG. */
            for (unsigned x = 0; x < cinfo.output_width; x++) {
                const unsigned char *p = row + 4 * (size_t)x;
                unsigned k = 255u - p[3];
                for (int c = 0; c < 3; c++)
                    out[3 * (size_t)x + (size_t)c] = cmyk_channel(255u - p[c], k);
            }
        } else {
            memcpy(out, row, stride);
        }
    }
    jpeg_finish_decompress(&cinfo);
    image->width = (int)cinfo.output_width;
    image->height = (int)cinfo.output_height;
    image->channels = channels;
    image->pixels = pixels;
    jpeg_destroy_decompress(&cinfo);
    free(row);
    return NCMP_OK;
}

/* ---- entry points ---------------------------------------------------------- */

ncmp_status ncmp_image_decode(const void *data, size_t size, const char *name, ncmp_image *image, ncmp_error *err)
{
    if (!image)
        return ncmp_fail(err, NCMP_ERR_USAGE, "ncmp_image_decode: no output image");
    image->width = image->height = image->channels = 0;
    image->pixels = NULL;
    if (!name)
        name = "(memory)";
    if (!data && size)
        return ncmp_fail(err, NCMP_ERR_USAGE, "ncmp_image_decode: no data for '%s'", name);
    const unsigned char *bytes = data;
    static const unsigned char png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (size >= 8 && !memcmp(bytes, png_magic, 8))
        return decode_png(bytes, size, name, image, err);
    if (size >= 3 && bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff)
        return decode_jpeg(bytes, size, name, image, err);
    return ncmp_fail(err, NCMP_ERR_FORMAT, "'%s' is not a PNG or JPEG image", name);
}

ncmp_status ncmp_image_read(const char *path, ncmp_image *image, ncmp_error *err)
{
    if (image) {
        image->width = image->height = image->channels = 0;
        image->pixels = NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f)
        return ncmp_fail(err, NCMP_ERR_IO, "cannot open image '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return ncmp_fail(err, NCMP_ERR_IO, "cannot read image '%s': not a regular file", path);
    }
    long length = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        length = ftell(f);
    if (length < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return ncmp_fail(err, NCMP_ERR_IO, "cannot read image '%s' (not a regular file?)", path);
    }
    if ((size_t)length > NCMP_IMAGE_MAX_BYTES) {
        fclose(f);
        return ncmp_fail(err, NCMP_ERR_FORMAT, "image file '%s' is too large (%ld bytes)", path, length);
    }
    unsigned char *data = malloc(length > 0 ? (size_t)length : 1);
    if (!data) {
        fclose(f);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "cannot allocate %ld bytes to read '%s'", length, path);
    }
    size_t got = fread(data, 1, (size_t)length, f);
    int failed = ferror(f);
    fclose(f);
    if (failed || got != (size_t)length) {
        free(data);
        return ncmp_fail(err, NCMP_ERR_IO, "read error on image '%s'", path);
    }
    ncmp_status st = ncmp_image_decode(data, (size_t)length, path, image, err);
    free(data);
    return st;
}
