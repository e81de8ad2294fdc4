/* Writes the crafted files of tests/crafted/test_crafted.sh into a folder:
 * small files that declare huge sizes (docs/hardening.md).  Made with the
 * libraries neurocmp links (netCDF-C, HDF5), so the test needs nothing else.
 *
 *   make_crafted DIR
 *   make_crafted --set-int64 FILE.h5 ATTRIBUTE VALUE   (overwrite a root attribute)
 *   make_crafted --set-nan FILE.h5 DATASET              (its first element becomes NaN)
 */
#include "core/h5.h"

#include <hdf5.h>
#include <math.h>
#include <netcdf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HUGE_COUNT (((unsigned long long)1 << 61) + 1)

static int fail(const char *what)
{
    fprintf(stderr, "make_crafted: cannot write %s\n", what);
    return 1;
}

/* netCDF-4: `responses(presentation, neuroid)` with 2^61 + 1 presentations, chunked, no data. */
static int netcdf_huge(const char *path)
{
    int nc, dp, dn, v;
    if (nc_create(path, NC_NETCDF4 | NC_CLOBBER, &nc))
        return fail(path);
    nc_def_dim(nc, "presentation", (size_t)HUGE_COUNT, &dp);
    nc_def_dim(nc, "neuroid", 1, &dn);
    int dims[2] = {dp, dn};
    size_t chunks[2] = {1, 1};
    if (nc_def_var(nc, "responses", NC_DOUBLE, 2, dims, &v) || nc_def_var_chunking(nc, v, NC_CHUNKED, chunks))
        return fail(path);
    return nc_close(nc) ? fail(path) : 0;
}

/* A valid two-stimulus assembly (stimulus ids "a", "b", one neuroid), to pair with the crafted activations. */
static int netcdf_small(const char *path)
{
    int nc, dp, dn, v, ids;
    if (nc_create(path, NC_NETCDF4 | NC_CLOBBER, &nc))
        return fail(path);
    nc_def_dim(nc, "presentation", 2, &dp);
    nc_def_dim(nc, "neuroid", 1, &dn);
    int dims[2] = {dp, dn};
    const char *names[2] = {"a", "b"};
    const double values[2] = {1.0, 2.0};
    if (nc_def_var(nc, "responses", NC_DOUBLE, 2, dims, &v) || nc_def_var(nc, "stimulus_id", NC_STRING, 1, &dp, &ids) ||
        nc_enddef(nc) || nc_put_var_double(nc, v, values) || nc_put_var_string(nc, ids, names))
        return fail(path);
    return nc_close(nc) ? fail(path) : 0;
}

/* A char-array stimulus_id whose string dimension declares 2^40 characters. */
static int netcdf_long_strings(const char *path)
{
    int nc, dp, dn, ds, v, ids;
    if (nc_create(path, NC_NETCDF4 | NC_CLOBBER, &nc))
        return fail(path);
    nc_def_dim(nc, "presentation", 2, &dp);
    nc_def_dim(nc, "neuroid", 1, &dn);
    nc_def_dim(nc, "strlen", (size_t)1 << 40, &ds);
    int dims[2] = {dp, dn}, sdims[2] = {dp, ds};
    size_t chunks[2] = {1, 1};
    const double values[2] = {1.0, 2.0};
    if (nc_def_var(nc, "responses", NC_DOUBLE, 2, dims, &v) || nc_def_var(nc, "stimulus_id", NC_CHAR, 2, sdims, &ids) ||
        nc_def_var_chunking(nc, ids, NC_CHUNKED, chunks) || nc_enddef(nc) || nc_put_var_double(nc, v, values))
        return fail(path);
    return nc_close(nc) ? fail(path) : 0;
}

/* A dataset chunked one element at a time, nothing written (core/h5.h). */
static hid_t chunked(hid_t file, const char *name, hid_t type, int rank, const hsize_t *dims)
{
    hsize_t chunk[NCMP_H5_MAX_RANK];
    for (int i = 0; i < rank; i++)
        chunk[i] = 1;
    hid_t d = H5I_INVALID_HID;
    ncmp_h5_create_chunked(file, name, type, rank, dims, NULL, chunk, 0, &d, NULL);
    return d;
}

/* An activations file (docs/formats.md, Activations) with two stimuli, complete = 1, and either a
 * /iteration of 2^61 + 1 entries or a layer of 2^31 x 2^31 x 4 features. */
static int activations_huge(const char *path, int which)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0)
        return fail(path);
    hid_t str = H5Tcopy(H5T_C_S1);
    H5Tset_size(str, 2);
    hsize_t two = 2, one = 1;
    hid_t space = H5Screate_simple(1, &two, NULL);
    hid_t d = H5Dcreate2(f, "stimulus_id", str, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, str, H5S_ALL, H5S_ALL, H5P_DEFAULT, "a\0b\0");
    H5Dclose(d);
    H5Sclose(space);
    H5Tclose(str);
    if (which == 0) {
        hsize_t n = HUGE_COUNT;
        H5Dclose(chunked(f, "iteration", H5T_STD_I64LE, 1, &n));
        H5Gclose(H5Gcreate2(f, "activations", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    } else {
        space = H5Screate_simple(1, &one, NULL);
        long long zero = 0;
        d = H5Dcreate2(f, "iteration", H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Dwrite(d, H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, &zero);
        H5Dclose(d);
        H5Sclose(space);
        hsize_t dims[5] = {1, 2, (hsize_t)1 << 31, (hsize_t)1 << 31, 4};
        H5Dclose(chunked(f, "activations/block1", H5T_IEEE_F32LE, 5, dims));
    }
    space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, "complete", H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT);
    long long yes = 1;
    H5Awrite(a, H5T_NATIVE_LLONG, &yes);
    H5Aclose(a);
    H5Sclose(space);
    return H5Fclose(f) < 0 ? fail(path) : 0;
}

/* IDX images: one image of 65536 x 65536 (2^32 bytes: wraps an unsigned) and 100 bytes of pixels. */
static int idx_huge(const char *path)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return fail(path);
    const unsigned char head[16] = {0, 0, 8, 3, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0};
    unsigned char pixels[100] = {0};
    int bad = fwrite(head, 1, sizeof head, f) != sizeof head || fwrite(pixels, 1, sizeof pixels, f) != sizeof pixels;
    return fclose(f) || bad ? fail(path) : 0;
}

static int activations_huge_iterations(const char *path)
{
    return activations_huge(path, 0);
}

static int activations_huge_features(const char *path)
{
    return activations_huge(path, 1);
}

/* NumPy: a float64 array declaring (2^40, 2^40, 2) in a 128-byte header and 16 bytes of data. */
static int npy_huge(const char *path)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return fail(path);
    char header[128];
    memset(header, ' ', sizeof header);
    const char *magic = "\x93NUMPY\x01\x00";
    memcpy(header, magic, 8);
    header[8] = (char)(sizeof header - 10);
    header[9] = 0;
    const char *dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776, 1099511627776, 2), }";
    memcpy(header + 10, dict, strlen(dict));
    header[sizeof header - 1] = '\n';
    const double data[2] = {1, 2};
    int bad = fwrite(header, 1, sizeof header, f) != sizeof header || fwrite(data, sizeof data, 1, f) != 1;
    return fclose(f) || bad ? fail(path) : 0;
}

/* Two valid 28x28 IDX images, for runs whose outputs are then damaged. */
static int idx_small(const char *path)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return fail(path);
    const unsigned char head[16] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28};
    unsigned char pixels[2 * 28 * 28];
    for (size_t i = 0; i < sizeof pixels; i++)
        pixels[i] = (unsigned char)(i * 37u);
    int bad = fwrite(head, 1, sizeof head, f) != sizeof head || fwrite(pixels, 1, sizeof pixels, f) != sizeof pixels;
    return fclose(f) || bad ? fail(path) : 0;
}

static int set_int64(const char *path, const char *name, long long value)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0)
        return fail(path);
    if (H5Aexists(f, name) > 0)
        H5Adelete(f, name);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t w = H5Awrite(a, H5T_NATIVE_LLONG, &value);
    H5Aclose(a);
    H5Sclose(space);
    return H5Fclose(f) < 0 || w < 0 ? fail(path) : 0;
}

static int set_nan(const char *path, const char *name)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0)
        return fail(path);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t space = d >= 0 ? H5Dget_space(d) : -1;
    int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    herr_t w = -1;
    if (rank >= 0 && rank <= 8) {
        hsize_t start[8] = {0}, one[8] = {1, 1, 1, 1, 1, 1, 1, 1};
        hid_t mem = H5Screate(H5S_SCALAR);
        double nan = NAN;
        if (rank == 0 || H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, one, NULL) >= 0)
            w = H5Dwrite(d, H5T_NATIVE_DOUBLE, mem, space, H5P_DEFAULT, &nan);
        H5Sclose(mem);
    }
    if (space >= 0)
        H5Sclose(space);
    if (d >= 0)
        H5Dclose(d);
    return H5Fclose(f) < 0 || w < 0 ? fail(name) : 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "--set-nan"))
        return set_nan(argv[2], argv[3]);
    if (argc == 5 && !strcmp(argv[1], "--set-int64"))
        return set_int64(argv[2], argv[3], strtoll(argv[4], NULL, 10));
    if (argc != 2) {
        fprintf(stderr, "usage: make_crafted DIR\n");
        return 2;
    }
    const struct {
        const char *file;
        int (*write)(const char *path);
    } files[] = {
        {"huge-presentations.nc", netcdf_huge},
        {"long-strings.nc", netcdf_long_strings},
        {"small.nc", netcdf_small},
        {"huge-iterations.h5", activations_huge_iterations},
        {"huge-features.h5", activations_huge_features},
        {"huge.npy", npy_huge},
        {"small-images-idx3-ubyte", idx_small},
        {"huge-images-idx3-ubyte", idx_huge},
    };
    char path[4096];
    int bad = 0;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", argv[1], files[i].file);
        bad |= files[i].write(path);
    }
    return bad;
}
