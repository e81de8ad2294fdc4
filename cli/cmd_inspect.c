/* neurocmp inspect: a readable summary of any neurocmp (or other HDF5/netCDF-4) file. */
#include "cli/commands.h"
#include "core/h5.h"

#include <hdf5_hl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void print_type(hid_t t)
{
    H5T_class_t c = H5Tget_class(t);
    size_t size = H5Tget_size(t);
    switch (c) {
    case H5T_FLOAT:
        printf("float%zu", 8 * size);
        break;
    case H5T_INTEGER:
        printf("%sint%zu", H5Tget_sign(t) == H5T_SGN_NONE ? "u" : "", 8 * size);
        break;
    case H5T_STRING:
        printf(H5Tis_variable_str(t) > 0 ? "string" : "string%zu", size);
        break;
    default:
        printf("other");
    }
}

static void print_attr_value(hid_t a)
{
    hid_t t = H5Aget_type(a);
    hid_t s = H5Aget_space(a);
    hssize_t n = H5Sget_simple_extent_npoints(s);
    H5T_class_t c = H5Tget_class(t);
    if (c == H5T_STRING && n == 1) {
        char *v = NULL;
        if (H5Tis_variable_str(t) > 0) {
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            H5Tset_cset(mt, H5Tget_cset(t));
            if (H5Aread(a, mt, &v) >= 0 && v) {
                printf("\"%s\"", v);
                H5Dvlen_reclaim(mt, s, H5P_DEFAULT, &v);
            }
            H5Tclose(mt);
        } else {
            size_t size = H5Tget_size(t);
            char *buf = calloc(size + 1, 1);
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, size);
            if (buf && H5Aread(a, mt, buf) >= 0)
                printf("\"%s\"", buf);
            H5Tclose(mt);
            free(buf);
        }
    } else if ((c == H5T_INTEGER || c == H5T_FLOAT) && n >= 1) {
        hssize_t shown = n < 8 ? n : 8;
        double *vals = malloc(sizeof(double) * (size_t)n);
        if (vals && H5Aread(a, H5T_NATIVE_DOUBLE, vals) >= 0) {
            if (n > 1)
                printf("[");
            for (hssize_t i = 0; i < shown; i++)
                printf(i ? ", %.10g" : "%.10g", vals[i]);
            if (n > shown)
                printf(", ... (%lld values)", (long long)n);
            if (n > 1)
                printf("]");
        }
        free(vals);
    } else {
        print_type(t);
        printf(" x %lld", (long long)n);
    }
    H5Sclose(s);
    H5Tclose(t);
}

static herr_t attr_cb(hid_t loc, const char *name, const H5A_info_t *info, void *data)
{
    (void)info;
    const char *indent = data;
    if (!strcmp(name, "DIMENSION_LIST") || !strcmp(name, "REFERENCE_LIST") || !strcmp(name, "CLASS") ||
        !strcmp(name, "NAME") || !strcmp(name, "_Netcdf4Dimid") || !strcmp(name, "_Netcdf4Coordinates"))
        return 0; /* bookkeeping of dimension scales and netCDF */
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0)
        return 0;
    printf("%s%s = ", indent, name);
    print_attr_value(a);
    printf("\n");
    H5Aclose(a);
    return 0;
}

static void print_attributes(hid_t obj, const char *indent)
{
    hsize_t idx = 0;
    H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, &idx, attr_cb, (void *)indent);
}

static void print_dataset(hid_t d)
{
    hid_t t = H5Dget_type(d);
    hid_t s = H5Dget_space(d);
    int rank = H5Sget_simple_extent_ndims(s);
    hsize_t dims[32], maxdims[32];
    if (rank > 32)
        rank = 32;
    H5Sget_simple_extent_dims(s, dims, maxdims);
    print_type(t);
    printf(" [");
    for (int i = 0; i < rank; i++)
        printf(i ? ", %llu" : "%llu", (unsigned long long)dims[i]);
    printf("]");
    hid_t dcpl = H5Dget_create_plist(d);
    if (H5Pget_layout(dcpl) == H5D_CHUNKED) {
        hsize_t chunk[32];
        int cr = H5Pget_chunk(dcpl, 32, chunk);
        printf("  chunks [");
        for (int i = 0; i < cr; i++)
            printf(i ? ", %llu" : "%llu", (unsigned long long)chunk[i]);
        printf("]");
        int nf = H5Pget_nfilters(dcpl);
        for (int f = 0; f < nf; f++) {
            unsigned flags, cd[8];
            size_t ncd = 8;
            char fname[64] = "";
            H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)f, &flags, &ncd, cd, sizeof fname, fname, NULL);
            if (id == H5Z_FILTER_DEFLATE && ncd > 0)
                printf(" deflate(%u)", cd[0]);
            else if (id == H5Z_FILTER_SHUFFLE)
                printf(" shuffle");
            else
                printf(" %s", fname[0] ? fname : "filter");
        }
    }
    H5Pclose(dcpl);
    if (H5DSis_scale(d) > 0) {
        char sname[128] = "";
        if (H5DSget_scale_name(d, sname, sizeof sname) > 0)
            printf("  (dimension scale '%s')", sname);
        else
            printf("  (dimension scale)");
    } else {
        for (int i = 0; i < rank; i++) {
            int n = H5DSget_num_scales(d, (unsigned)i);
            if (n > 0) {
                printf("  (axis %d has %d scale%s)", i, n, n > 1 ? "s" : "");
            }
        }
    }
    /* First few values of 1-D string datasets, e.g. stimulus_id. */
    if (H5Tget_class(t) == H5T_STRING && rank == 1 && dims[0] > 0 && H5Tis_variable_str(t) > 0) {
        hsize_t n = dims[0] < 3 ? dims[0] : 3, start = 0;
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(t));
        hid_t ms = H5Screate_simple(1, &n, NULL);
        H5Sselect_hyperslab(s, H5S_SELECT_SET, &start, NULL, &n, NULL);
        char *vals[3] = {0};
        if (H5Dread(d, mt, ms, s, H5P_DEFAULT, vals) >= 0) {
            printf("  first: ");
            for (hsize_t i = 0; i < n; i++)
                printf(i ? ", \"%s\"" : "\"%s\"", vals[i] ? vals[i] : "");
            if (dims[0] > n)
                printf(", ...");
            H5Dvlen_reclaim(mt, ms, H5P_DEFAULT, vals);
        }
        H5Sclose(ms);
        H5Tclose(mt);
    }
    printf("\n");
    H5Sclose(s);
    H5Tclose(t);
}

static herr_t visit_cb(hid_t root, const char *name, const H5L_info_t *info, void *data)
{
    (void)info;
    (void)data;
    hid_t o = H5Oopen(root, name, H5P_DEFAULT);
    if (o < 0) {
        printf("  /%s  (cannot open)\n", name);
        return 0;
    }
    H5I_type_t type = H5Iget_type(o);
    if (type == H5I_GROUP) {
        printf("  /%s/\n", name);
        print_attributes(o, "      @");
    } else if (type == H5I_DATASET) {
        printf("  /%-28s ", name);
        print_dataset(o);
        print_attributes(o, "      @");
    }
    H5Oclose(o);
    return 0;
}

/* What the file is to neurocmp: an activations file's layers (never its axis-label datasets), a recording's shape. */
static void describe_kind(hid_t f)
{
    if (H5Lexists(f, "activations", H5P_DEFAULT) > 0 && H5Lexists(f, "iteration", H5P_DEFAULT) > 0) {
        hid_t g = H5Gopen2(f, "activations", H5P_DEFAULT);
        H5G_info_t gi;
        if (g < 0 || H5Gget_info(g, &gi) < 0) {
            if (g >= 0)
                H5Gclose(g);
            return;
        }
        printf("kind: activations file; layers:");
        for (hsize_t i = 0; i < gi.nlinks; i++) {
            char name[256];
            if (H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name, H5P_DEFAULT) < 0)
                continue;
            hid_t d = H5Oexists_by_name(g, name, H5P_DEFAULT) > 0 ? H5Dopen2(g, name, H5P_DEFAULT) : -1;
            if (d < 0)
                continue;
            hid_t sp = H5Dget_space(d);
            int rank = H5Sget_simple_extent_ndims(sp);
            hsize_t dims[32];
            if (rank >= 2 && rank <= 32 && H5DSis_scale(d) <= 0) {
                H5Sget_simple_extent_dims(sp, dims, NULL);
                printf(" %s [", name);
                for (int k = 2; k < rank; k++)
                    printf(k > 2 ? "x%llu" : "%llu", (unsigned long long)dims[k]);
                printf("]");
            }
            H5Sclose(sp);
            H5Dclose(d);
        }
        printf("\n");
        H5Gclose(g);
    } else if (H5Lexists(f, "presentation", H5P_DEFAULT) > 0 && H5Lexists(f, "neuroid", H5P_DEFAULT) > 0)
        printf("kind: recordings (a BrainIO assembly; 'neurocmp neural info' describes it)\n");
}

int cmd_inspect(int argc, char **argv)
{
    static const cli_command cmd = {
        .name = "inspect",
        .usage = "FILE",
        .summary = "Summarise a neurocmp HDF5 file (activations, weights, results) or any HDF5/netCDF-4 file.",
        .description = "Prints whether the file is complete, its provenance (root attributes) and every\n"
                       "group and dataset with type, shape, chunking, compression and dimension scales.",
        .min_positional = 1,
        .max_positional = 1,
    };
    cli_parsed p;
    int rc = cli_begin(&cmd, argc, argv, &p);
    if (rc >= 0)
        return rc;
    const char *path = p.positional[0];
    cli_parsed_free(&p);
    ncmp_error err;
    ncmp_error_clear(&err);
    hid_t f;
    if (ncmp_h5_open_read(path, false, &f, &err))
        return cli_report(&err);
    struct stat sb;
    stat(path, &sb);
    printf("file: %s (%.1f MB)\n", path, (double)sb.st_size / 1e6);
    if (ncmp_h5_attr_exists(f, "complete"))
        printf("status: %s\n",
               ncmp_h5_is_complete(f) ? "complete" : "INCOMPLETE (interrupted while written; readers refuse it)");
    else if (ncmp_h5_attr_exists(f, "neurocmp_version"))
        printf("status: complete (a neurocmp netCDF-4 file: recordings are renamed into place only when whole)\n");
    else if (ncmp_h5_attr_exists(f, "arch"))
        printf("status: a weights file (converted or written outside neurocmp's own writers: no 'complete' "
               "attribute)\n");
    else
        printf("status: not written by neurocmp (no 'complete' attribute)\n");
    describe_kind(f);
    printf("attributes:\n");
    print_attributes(f, "  ");
    printf("contents:\n");
    H5Lvisit(f, H5_INDEX_NAME, H5_ITER_INC, visit_cb, NULL);
    H5Fclose(f);
    return 0;
}
