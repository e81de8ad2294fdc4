/* Tests for model/: spec parsing and its errors, weights I/O and its errors,
 * adjoint identities of every top-down operator, and the engine against the
 * independent PyTorch float64 reference (tests/gen_model_fixtures.py). */
#include "test_util.h"

#include "core/h5.h"
#include "core/rng.h"
#include "model/arch.h"
#include "model/cnnf.h"
#include "model/cnnf_internal.h"
#include "model/net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------------ */

static ncmp_arch *parse_ok(const char *text, const ncmp_arch_options *opts)
{
    ncmp_arch *a = NULL;
    ncmp_error err;
    ncmp_status st = ncmp_arch_parse(text, "test.spec", opts, &a, &err);
    if (st)
        fprintf(stderr, "\n  unexpected parse error: %s\n", err.message);
    return a;
}

/* Parse must fail with a message containing `needle`. */
static void expect_parse_error(const char *text, const char *needle)
{
    ncmp_arch *a = NULL;
    ncmp_error err;
    ncmp_status st = ncmp_arch_parse(text, "test.spec", NULL, &a, &err);
    CU_ASSERT_NOT_EQUAL(st, NCMP_OK);
    CU_ASSERT_PTR_NULL(a);
    if (st == NCMP_OK || !strstr(err.message, needle))
        fprintf(stderr, "\n  expected an error containing '%s', got: %s\n", needle, st ? err.message : "success");
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, needle));
    ncmp_arch_free(a);
}

static ncmp_net *load_net(const char *arch, double width, int size, int classes, const char *weights)
{
    ncmp_arch_options o = {.width = width, .input_size = size, .num_classes = classes, .update_layer = NULL};
    ncmp_arch *a = NULL;
    ncmp_net *net = NULL;
    ncmp_error err;
    if (ncmp_arch_load(arch, &o, &a, &err) || ncmp_net_create(a, &net, &err)) {
        fprintf(stderr, "\n  %s\n", err.message);
        return NULL;
    }
    if (weights && ncmp_net_load_weights(net, weights, &err)) {
        fprintf(stderr, "\n  %s\n", err.message);
        ncmp_net_free(net);
        return NULL;
    }
    return net;
}

/* ---- spec files ---------------------------------------------------------------- */

static void test_builtin_architectures(void)
{
    ncmp_arch *a = NULL;
    ncmp_error err;
    CU_ASSERT_EQUAL_FATAL(ncmp_arch_load("vgg16", NULL, &a, &err), NCMP_OK);
    int i;
    CU_ASSERT_EQUAL(ncmp_arch_require_layer(a, "block5", &i, &err), NCMP_OK);
    CU_ASSERT_EQUAL(a->layers[i].out.c, 512);
    CU_ASSERT_EQUAL(a->layers[i].out.h, 7);
    CU_ASSERT_EQUAL(ncmp_arch_require_layer(a, "fc6", &i, &err), NCMP_OK);
    CU_ASSERT_EQUAL(a->layers[i].type, NCMP_LAYER_RELU);
    CU_ASSERT_EQUAL(a->layers[a->n_layers - 1].out.c, 1000);
    CU_ASSERT_FALSE(a->cnnf);
    CU_ASSERT(ncmp_arch_find_layer(a, "conv4_3") >= 0);
    /* 15.47 GMAC per 224x224 image: the standard VGG-16 count. */
    CU_ASSERT(fabs(ncmp_arch_forward_macs(a, 0) / 1e9 - 15.47) < 0.01);
    CU_ASSERT_EQUAL(ncmp_arch_require_layer(a, "block9", &i, &err), NCMP_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "block5"));
    ncmp_arch_free(a);

    CU_ASSERT_EQUAL_FATAL(ncmp_arch_load("cnnf-fmnist", NULL, &a, &err), NCMP_OK);
    CU_ASSERT(a->cnnf);
    CU_ASSERT_STRING_EQUAL(a->layers[a->update_layer].name, "relu2");
    CU_ASSERT_EQUAL(ncmp_arch_require_layer(a, "block2", &i, &err), NCMP_OK);
    CU_ASSERT_EQUAL(a->layers[i].out.c, 64);
    CU_ASSERT_EQUAL(a->layers[i].out.h, 14);
    /* Feedback order of docs/cnnf-semantics.md §2. */
    const char *order[] = {"fc3_linear", "relu6", "fc2_linear", "relu5", "fc1_linear", "flatten", "ins4",
                           "pool4",      "relu4", "conv4",      "ins3",  "pool3",      "relu3",   "conv3"};
    CU_ASSERT_EQUAL_FATAL(a->n_topdown, 14);
    for (int s = 0; s < 14; s++)
        CU_ASSERT_STRING_EQUAL(a->layers[a->topdown[s].layer].name, order[s]);
    CU_ASSERT_EQUAL(a->topdown[6].op, NCMP_TD_INSNORM);
    ncmp_arch_free(a);

    ncmp_arch_options o = {.width = 0.25, .input_size = 32, .num_classes = 10, .update_layer = NULL};
    CU_ASSERT_EQUAL_FATAL(ncmp_arch_load("vgg16-cnnf", &o, &a, &err), NCMP_OK);
    CU_ASSERT_STRING_EQUAL(ncmp_arch_layer_label(a, a->update_layer), "block1");
    CU_ASSERT_EQUAL(ncmp_arch_require_layer(a, "block5", &i, &err), NCMP_OK);
    CU_ASSERT_EQUAL(a->layers[i].out.c, 128);
    CU_ASSERT_EQUAL(a->layers[i].out.h, 1);
    CU_ASSERT_EQUAL(a->layers[a->n_layers - 1].out.c, 10);
    CU_ASSERT_STRING_EQUAL(a->layers[a->topdown[a->n_topdown - 1].layer].name, "conv2_1");
    ncmp_arch_free(a);

    o = (ncmp_arch_options){.width = 0, .input_size = 0, .num_classes = 0, .update_layer = "block2"};
    CU_ASSERT_EQUAL_FATAL(ncmp_arch_load("vgg16-cnnf", &o, &a, &err), NCMP_OK);
    CU_ASSERT_STRING_EQUAL(a->layers[a->topdown[a->n_topdown - 1].layer].name, "conv3_1");
    ncmp_arch_free(a);
    o = (ncmp_arch_options){.width = 0, .input_size = 0, .num_classes = 0, .update_layer = "ins2_1"};
    CU_ASSERT_EQUAL(ncmp_arch_load("vgg16-cnnf", &o, &a, &err), NCMP_ERR_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "must end a stage"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "'ins2_1'"));
    CU_ASSERT_EQUAL(ncmp_arch_load("vgg16", &o, &a, &err), NCMP_ERR_USAGE);
    CU_ASSERT_EQUAL(ncmp_arch_load("vgg17", NULL, &a, &err), NCMP_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "vgg16-cnnf"));
    CU_ASSERT_EQUAL(ncmp_arch_load("/nonexistent/my.spec", NULL, &a, &err), NCMP_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "/nonexistent/my.spec"));
    o = (ncmp_arch_options){.width = 0, .input_size = 16, .num_classes = 0, .update_layer = NULL};
    CU_ASSERT_EQUAL(ncmp_arch_load("vgg16", &o, &a, &err), NCMP_ERR_FORMAT); /* 16 px: pool5 gets 0x0 */
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "pool5"));
}

static void test_spec_errors_name_the_line(void)
{
    const char *head = "arch t\ninput 1 8 8\n";
    char buf[1024];
#define SPEC(body) (snprintf(buf, sizeof buf, "%s%s", head, body), buf)
    expect_parse_error(SPEC("conv c1 out=4 weight=w\nsoftmax s\n"),
                       "test.spec:4: unknown layer type or directive 'softmax'");
    expect_parse_error(SPEC("convv c1 out=4 weight=w\n"), "did you mean 'conv'");
    expect_parse_error(SPEC("conv c1 out=4 weight=w\nconv c1 out=4 weight=v\n"),
                       "test.spec:4: layer name 'c1' is used twice");
    expect_parse_error(SPEC("conv c1 weight=w\n"), "test.spec:3: conv 'c1' needs out=CHANNELS");
    expect_parse_error(SPEC("conv c1 out=4 weight=w kernel=3\n"), "unknown option 'kernel'");
    expect_parse_error(SPEC("conv c1 out=4*depth weight=w\n"), "unknown parameter 'depth'");
    expect_parse_error(SPEC("conv c1 out=4 weight=w k=x\n"), "k=x: expected an integer");
    expect_parse_error(SPEC("conv c1 out=4 weight=w pad\n"), "expected key=value");
    expect_parse_error(SPEC("conv c1 out=4 weight=w\nlinear f out=3 weight=v\n"),
                       "test.spec:4: linear 'f' needs a vector");
    expect_parse_error(SPEC("flatten f\nlinear l out=3 in=65 weight=v\n"),
                       "declares in=65 but its input has 64 features");
    expect_parse_error(SPEC("flatten f\nmaxpool p\n"), "needs a feature map");
    expect_parse_error(SPEC("maxpool p1\nmaxpool p2\nmaxpool p3\nmaxpool p4\n"), "test.spec:6: maxpool 'p4'");
    expect_parse_error(SPEC("conv c1 out=4 weight=w k=11\n"), "does not fit its input");
    expect_parse_error(SPEC("observe x\n"), "comes before any layer");
    expect_parse_error(SPEC("conv c1 out=4 weight=w\nobserve c1\n"), "already a layer or observation name");
    expect_parse_error(SPEC("cnnf update=r\nconv c1 out=4 weight=w\nrelu r\nconv c2 out=4 weight=v\nrelu r2\n"),
                       "layer 'r2' (relu) has no feedback rule");
    expect_parse_error(SPEC("cnnf update=nowhere\nconv c1 out=4 weight=w\n"), "update layer 'nowhere'");
    expect_parse_error(SPEC("cnnf step=0.1\n"), "cnnf needs update=LAYER");
    expect_parse_error("input 1 8 8\nconv c out=1 weight=w\n", "no 'arch NAME' line");
    expect_parse_error("arch t\nconv c out=1 weight=w\n", "no 'input");
    expect_parse_error("arch t\ninput 1 8 8\n", "no layers");
    expect_parse_error(SPEC("preprocess sepia\n"), "unknown preprocessing 'sepia'");
#undef SPEC
    /* Comments, blank lines, width expressions and aliases. */
    ncmp_arch_options o = {.width = 0.5, .input_size = 0, .num_classes = 0, .update_layer = NULL};
    ncmp_arch *a = parse_ok("# a comment\narch t\n\ninput 3 8 8  # trailing\nparam width 1\n"
                            "conv c1 out=64*width weight=w k=3 pad=1 as=early\nmaxpool p\n",
                            &o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_EQUAL(a->layers[0].out.c, 32);
    CU_ASSERT_EQUAL(ncmp_arch_find_layer(a, "early"), 0);
    CU_ASSERT_EQUAL(a->layers[1].out.h, 4);
    ncmp_arch_free(a);
}

/* ---- weights ----------------------------------------------------------------------- */

static void write_tensor(hid_t f, const char *key, int rank, const hsize_t *dims, const float *v)
{
    ncmp_error err;
    CU_ASSERT_EQUAL_FATAL(ncmp_h5_write_array(f, key, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, rank, dims, v, &err), NCMP_OK);
}

static void test_weights_errors_name_the_tensor(void)
{
    ncmp_error err;
    const char *good = test_fixture_path("model/cnnf-fmnist.weights.h5");
    ncmp_net *net = load_net("cnnf-fmnist", 0, 0, 0, good);
    CU_ASSERT_PTR_NOT_NULL_FATAL(net);
    CU_ASSERT_EQUAL(strlen(net->weights_sha256), 64);
    CU_ASSERT_EQUAL(ncmp_net_param_count(net), 16 * 9 + 16 + 32 * 16 * 9 + 32 + 32 * 32 * 9 + 32 + 64 * 32 * 9 + 64 +
                                                   3136 * 1000 + 1000 + 1000 * 128 + 128 + 128 * 10 + 10);

    /* Weights of another architecture. */
    CU_ASSERT_EQUAL(ncmp_net_load_weights(net, test_fixture_path("model/vgg16-cnnf-w0125.weights.h5"), &err),
                    NCMP_ERR_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "which cnnf-fmnist does not use"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "arch 'vgg16-cnnf'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "another architecture"));
    ncmp_net_free(net);

    /* Right architecture, wrong width: mis-shaped tensor named with both shapes. */
    net = load_net("vgg16-cnnf", 0.25, 32, 10, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(net);
    CU_ASSERT_EQUAL(ncmp_net_load_weights(net, test_fixture_path("model/vgg16-cnnf-w0125.weights.h5"), &err),
                    NCMP_ERR_SHAPE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "'features.0.weight' has shape [8, 3, 3, 3]"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "needs [16, 3, 3, 3]"));
    ncmp_net_free(net);

    /* Save a seeded net, then damage copies of it: missing, NaN, extra, not HDF5. */
    net = load_net("cnnf-fmnist", 0.25, 0, 0, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(net);
    CU_ASSERT_EQUAL(ncmp_net_init_seeded(net, 5, &err), NCMP_OK);
    const char *path = test_tmp_path("w.h5");
    CU_ASSERT_EQUAL_FATAL(ncmp_net_save_weights(net, path, &err), NCMP_OK);
    ncmp_net *back = load_net("cnnf-fmnist", 0.25, 0, 0, path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(back);
    CU_ASSERT_EQUAL(memcmp(back->weight[0], net->weight[0], ncmp_net_weight_size(net, 0) * sizeof(float)), 0);
    ncmp_net_free(back);

    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    H5Ldelete(f, "fc2.linear.weight", H5P_DEFAULT);
    H5Fclose(f);
    CU_ASSERT_EQUAL(ncmp_net_load_weights(net, path, &err), NCMP_ERR_NOT_FOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "lacks tensor 'fc2.linear.weight'"));

    CU_ASSERT_EQUAL_FATAL(ncmp_net_save_weights(net, path, &err), NCMP_OK);
    f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    float bad[32] = {0};
    bad[7] = NAN;
    H5Ldelete(f, "fc3_bias.bias", H5P_DEFAULT);
    hsize_t d10[2] = {1, 10};
    write_tensor(f, "fc3_bias.bias", 2, d10, bad);
    float extra[4] = {1, 2, 3, 4};
    hsize_t d4[1] = {4};
    write_tensor(f, "conv1.conv_t.weight", 1, d4, extra); /* reference alias: ignored */
    H5Fclose(f);
    CU_ASSERT_EQUAL(ncmp_net_load_weights(net, path, &err), NCMP_ERR_VALUE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "'fc3_bias.bias' holds NaN at flat index 7"));

    CU_ASSERT_EQUAL_FATAL(ncmp_net_save_weights(net, path, &err), NCMP_OK);
    f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    write_tensor(f, "classifier.9.weight", 1, d4, extra);
    H5Fclose(f);
    CU_ASSERT_EQUAL(ncmp_net_load_weights(net, path, &err), NCMP_ERR_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "'classifier.9.weight'"));

    FILE *t = fopen(path, "w");
    fputs("not weights", t);
    fclose(t);
    CU_ASSERT_EQUAL(ncmp_net_load_weights(net, path, &err), NCMP_ERR_FORMAT);
    test_remove(path);
    ncmp_net_free(net);
}

/* ---- adjoint identities ---------------------------------------------------------------- */

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* <A x, g> = <x, A^T g> for the layer `name` of a small CNN-F, in both precisions. */
static void check_adjoint(const char *spec, const char *name, double tol32)
{
    ncmp_arch *a = parse_ok(spec, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    ncmp_net *net;
    ncmp_error err;
    CU_ASSERT_EQUAL_FATAL(ncmp_net_create(a, &net, &err), NCMP_OK);
    CU_ASSERT_EQUAL_FATAL(ncmp_net_init_seeded(net, 11, &err), NCMP_OK);
    int li = ncmp_arch_find_layer(net->arch, name);
    CU_ASSERT_FATAL(li >= 0);
    const ncmp_layer_desc *L = &net->arch->layers[li];
    const size_t B = 2, nin = B * ncmp_shape_size(L->in), nout = B * ncmp_shape_size(L->out);
    double *x = malloc(nin * 8), *g = malloc(nout * 8), *ax = malloc(nout * 8), *atg = malloc(nin * 8);
    float *xf = malloc(nin * 4), *gf = malloc(nout * 4), *axf = malloc(nout * 4), *atgf = malloc(nin * 4);
    ncmp_rng rng;
    ncmp_rng_seed(&rng, 3);
    ncmp_rng_fill_normal_f64(&rng, x, nin, 0, 1);
    ncmp_rng_fill_normal_f64(&rng, g, nout, 0, 1);
    for (size_t i = 0; i < nin; i++)
        xf[i] = (float)x[i];
    for (size_t i = 0; i < nout; i++)
        gf[i] = (float)g[i];
    for (int prec = 0; prec < 2; prec++) {
        ncmp_cnnf_options o = {prec ? NCMP_FLOAT64 : NCMP_FLOAT32, B, NULL, 0, true};
        ncmp_cnnf *e;
        CU_ASSERT_EQUAL_FATAL(ncmp_cnnf_create(net, &o, &e, &err), NCMP_OK);
        e->n = B;
        double lhs, rhs;
        if (prec) {
            ncmp_cnnf_apply_forward_f64(e, li, x, ax); /* sets pool routing, which the transpose then uses */
            ncmp_cnnf_apply_topdown_f64(e, li, g, atg);
            lhs = dot(ax, g, nout);
            rhs = dot(x, atg, nin);
        } else {
            ncmp_cnnf_apply_forward_f32(e, li, xf, axf);
            ncmp_cnnf_apply_topdown_f32(e, li, gf, atgf);
            for (size_t i = 0; i < nout; i++)
                ax[i] = axf[i];
            for (size_t i = 0; i < nin; i++)
                atg[i] = atgf[i];
            lhs = dot(ax, g, nout);
            double *xx = malloc(nin * 8);
            for (size_t i = 0; i < nin; i++)
                xx[i] = xf[i];
            rhs = dot(xx, atg, nin);
            free(xx);
        }
        double scale = sqrt(dot(ax, ax, nout) * dot(g, g, nout));
        double rel = fabs(lhs - rhs) / scale;
        /* float64: rounding only (1e-12); float32: ~1e-6 per product, summed. */
        double tol = prec ? 1e-12 : tol32;
        if (!(rel <= tol))
            fprintf(stderr, "\n  adjoint %s (%s): <Ax,g> = %.17g, <x,A'g> = %.17g, rel %.3g\n", name,
                    prec ? "f64" : "f32", lhs, rhs, rel);
        CU_ASSERT(rel <= tol);
        ncmp_cnnf_free(e);
    }
    free(x), free(g), free(ax), free(atg), free(xf), free(gf), free(axf), free(atgf);
    ncmp_net_free(net);
}

static void test_adjoint_identities(void)
{
    const char *tail = "conv top out=3 k=1 weight=t\n"; /* something above, so the layer is in the plan */
    char spec[1024];
    snprintf(spec, sizeof spec,
             "arch a\ninput 3 9 11\ncnnf update=in\nbias in param=b0\nconv c out=5 k=3 pad=1 weight=w\n%s", tail);
    check_adjoint(spec, "c", 1e-5);
    snprintf(spec, sizeof spec,
             "arch a\ninput 3 10 12\ncnnf update=in\nbias in param=b0\nconv c out=4 k=3 stride=2 pad=1 weight=w\n%s",
             tail);
    check_adjoint(spec, "c", 1e-5);
    snprintf(spec, sizeof spec,
             "arch a\ninput 3 9 9\ncnnf update=in\nbias in param=b0\nconv c out=4 k=5 pad=0 weight=w\n%s", tail);
    check_adjoint(spec, "c", 1e-5);
    check_adjoint("arch a\ninput 2 4 4\ncnnf update=in\nbias in param=b0\nflatten f\nlinear l out=7 weight=w\n", "l",
                  1e-5);
    /* AdaPool: with routing fixed by the forward pass, unpool is the adjoint of pool. */
    check_adjoint("arch a\ninput 3 8 10\ncnnf update=in\nbias in param=b0\nconv c out=3 k=1 weight=w\n"
                  "adapool p\nconv top out=2 k=1 weight=t\n",
                  "p", 1e-6);
    check_adjoint("arch a\ninput 3 9 7\ncnnf update=in\nbias in param=b0\nconv c out=3 k=1 weight=w\n"
                  "adapool p\nconv top out=2 k=1 weight=t\n",
                  "p", 1e-6);
    /* The general (non 2x2) pooling path, with overlapping windows. */
    check_adjoint("arch a\ninput 3 9 9\ncnnf update=in\nbias in param=b0\nconv c out=3 k=1 weight=w\n"
                  "adapool p k=3 stride=2\nconv top out=2 k=1 weight=t\n",
                  "p", 1e-6);
    /* Adaptive average pooling, shrinking with overlapping windows and growing. */
    for (int s = 1; s <= 15; s += 2) {
        snprintf(spec, sizeof spec,
                 "arch a\ninput 2 %d %d\ncnnf update=in\nbias in param=b0\navgpool ap out=7\nflatten f\n"
                 "linear l out=2 weight=w\n",
                 s, s + 1);
        check_adjoint(spec, "ap", 1e-6);
    }
}

/* Pooling with many exact ties: the first maximum / minimum in row-major
 * window order wins (PyTorch's rule), checked against a brute-force scan. */
static void test_pool_ties_first_extreme(void)
{
    ncmp_arch *a = parse_ok("arch a\ninput 2 6 8\ncnnf update=in\nbias in param=b0\nconv c out=2 k=1 weight=w\n"
                            "adapool p\nconv top out=2 k=1 weight=t\n",
                            NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    ncmp_net *net;
    ncmp_error err;
    CU_ASSERT_EQUAL_FATAL(ncmp_net_create(a, &net, &err), NCMP_OK);
    int li = ncmp_arch_find_layer(net->arch, "p");
    ncmp_cnnf_options o = {NCMP_FLOAT32, 3, NULL, 0, true};
    ncmp_cnnf *e;
    CU_ASSERT_EQUAL_FATAL(ncmp_cnnf_create(net, &o, &e, &err), NCMP_OK);
    e->n = 3;
    enum { C = 2, H = 6, W = 8, HO = 3, WO = 4 };
    float x[3 * C * H * W], y[3 * C * HO * WO], h[3 * C * HO * WO];
    ncmp_rng rng;
    ncmp_rng_seed(&rng, 17);
    for (size_t j = 0; j < sizeof x / sizeof x[0]; j++)
        x[j] = (float)ncmp_rng_below(&rng, 3) - 1.0f; /* values in {-1, 0, 1}: ties everywhere */
    for (size_t j = 0; j < sizeof h / sizeof h[0]; j++)
        h[j] = (float)ncmp_rng_below(&rng, 3) - 1.0f;
    for (int pass = 0; pass < 2; pass++) {
        e->has_h[li] = pass == 1; /* second pass: AdaPool routes by the sign of h */
        if (pass)
            memcpy(e->h[li], h, sizeof h);
        ncmp_cnnf_apply_forward_f32(e, li, x, y);
        int bad = 0;
        for (int n = 0; n < 3; n++)
            for (int c = 0; c < C; c++)
                for (int oy = 0; oy < HO; oy++)
                    for (int ox = 0; ox < WO; ox++) {
                        const float *pl = x + (n * C + c) * H * W;
                        int best = -1, worst = -1;
                        for (int ky = 0; ky < 2; ky++)
                            for (int kx = 0; kx < 2; kx++) {
                                int idx = (2 * oy + ky) * W + 2 * ox + kx;
                                if (best < 0 || pl[idx] > pl[best])
                                    best = idx;
                                if (worst < 0 || pl[idx] < pl[worst])
                                    worst = idx;
                            }
                        int o_ = ((n * C + c) * HO + oy) * WO + ox;
                        float hv = pass ? h[o_] : 1.0f;
                        float want = hv > 0 ? pl[best] : (hv < 0 ? pl[worst] : 0.0f);
                        bad += e->imax[li][o_] != best || e->imin[li][o_] != worst || y[o_] != want;
                    }
        CU_ASSERT_EQUAL(bad, 0);
    }
    ncmp_cnnf_free(e);
    ncmp_net_free(net);
}

/* ---- engine against the PyTorch reference --------------------------------------------- */

typedef struct ref_case {
    const char *name;
    const char *arch;
    double width;
    int input_size, classes, iterations;
    int n_layers;
    const char *layers[8];
} ref_case;

typedef struct compare_ctx {
    hid_t ref;
    const ref_case *rc;
    int layer_index[8];
    double tol_t0, tol_later;
    double worst, unasserted;
    int checked, skipped;
} compare_ctx;

static ncmp_status compare_iteration(void *p, const ncmp_cnnf *e, int t, ncmp_error *err)
{
    compare_ctx *c = p;
    for (int k = 0; k < c->rc->n_layers; k++) {
        ncmp_tensor view;
        CU_ASSERT_EQUAL(ncmp_cnnf_output(e, c->layer_index[k], &view, NULL), NCMP_OK);
        size_t n = ncmp_tensor_numel(&view);
        char path[128];
        snprintf(path, sizeof path, "outputs/%s", c->rc->layers[k]);
        hid_t d = H5Dopen2(c->ref, path, H5P_DEFAULT);
        hid_t s = H5Dget_space(d);
        hsize_t dims[8];
        int rank = H5Sget_simple_extent_dims(s, dims, NULL);
        H5Sclose(s);
        hsize_t start[8] = {(hsize_t)t}, count[8] = {1};
        size_t per = 1;
        for (int r = 1; r < rank; r++) {
            count[r] = dims[r];
            per *= dims[r];
        }
        if (per != n) { /* no FATAL assert here: it would longjmp out of the engine's run */
            CU_FAIL("reference layer size differs from the engine's");
            H5Dclose(d);
            return ncmp_fail(err, NCMP_ERR_SHAPE, "reference has %zu values per sample, the engine %zu", per, n);
        }
        double *want = malloc(n * 8), *got = malloc(n * 8);
        CU_ASSERT_EQUAL(ncmp_h5_read_block(d, H5T_NATIVE_DOUBLE, start, count, want, NULL), NCMP_OK);
        H5Dclose(d);
        for (size_t i = 0; i < n; i++)
            got[i] = view.dtype == NCMP_FLOAT64 ? ((double *)view.data)[i] : ((float *)view.data)[i];
        double ne = test_normalised_error_f64(got, want, n);
        double tol = t == 0 ? c->tol_t0 : c->tol_later;
        if (isnan(tol)) { /* reported, not asserted (see the caller) */
            if (!(ne <= c->unasserted))
                c->unasserted = ne;
            c->skipped++;
            free(want);
            free(got);
            continue;
        }
        if (!(ne <= tol))
            fprintf(stderr, "\n  %s %s t=%d (%s): normalised error %.3g > %.0e\n", c->rc->name, c->rc->layers[k], t,
                    view.dtype == NCMP_FLOAT64 ? "float64" : "float32", ne, tol);
        CU_ASSERT(ne <= tol);
        if (ne > c->worst)
            c->worst = ne;
        c->checked++;
        free(want);
        free(got);
    }
    return NCMP_OK;
}

static void run_reference_case(const ref_case *rc, const char *dir, ncmp_dtype precision, double tol_t0,
                               double tol_later)
{
    char wpath[4096], rpath[4096];
    snprintf(wpath, sizeof wpath, "%s/%s.weights.h5", dir, rc->name);
    snprintf(rpath, sizeof rpath, "%s/%s.ref.h5", dir, rc->name);
    ncmp_net *net = load_net(rc->arch, rc->width, rc->input_size, rc->classes, wpath);
    CU_ASSERT_PTR_NOT_NULL_FATAL(net);
    ncmp_error err;
    hid_t ref;
    CU_ASSERT_EQUAL_FATAL(ncmp_h5_open_read(rpath, false, &ref, &err), NCMP_OK);
    int rank;
    hsize_t dims[8];
    CU_ASSERT_EQUAL_FATAL(ncmp_h5_dataset_shape(ref, "input", &rank, dims, &err), NCMP_OK);
    size_t shape[4] = {dims[0], dims[1], dims[2], dims[3]};
    ncmp_tensor input;
    CU_ASSERT_EQUAL_FATAL(ncmp_tensor_alloc(&input, NCMP_FLOAT32, 4, shape, &err), NCMP_OK);
    hid_t d = H5Dopen2(ref, "input", H5P_DEFAULT);
    H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, input.data);
    H5Dclose(d);
    compare_ctx c = {ref, rc, {0}, tol_t0, tol_later, 0, 0, 0, 0};
    for (int k = 0; k < rc->n_layers; k++)
        CU_ASSERT_EQUAL_FATAL(ncmp_arch_require_layer(net->arch, rc->layers[k], &c.layer_index[k], &err), NCMP_OK);
    ncmp_cnnf_options o = {precision, shape[0], NULL, 0, false};
    ncmp_cnnf *e;
    CU_ASSERT_EQUAL_FATAL(ncmp_cnnf_create(net, &o, &e, &err), NCMP_OK);
    CU_ASSERT_EQUAL(ncmp_cnnf_run(e, &input, rc->iterations, compare_iteration, &c, &err), NCMP_OK);
    CU_ASSERT_EQUAL(c.checked + c.skipped, rc->n_layers * (rc->iterations + 1));
    printf("[%s %s: max normalised error %.2e over %d layer-iterations", rc->name,
           precision == NCMP_FLOAT64 ? "f64" : "f32", c.worst, c.checked);
    if (c.skipped)
        printf("; %d not asserted, max %.2e", c.skipped, c.unasserted);
    printf("] ");
    ncmp_cnnf_free(e);
    ncmp_tensor_release(&input);
    H5Fclose(ref);
    ncmp_net_free(net);
}

static const ref_case committed_cases[] = {
    {"cnnf-fmnist", "cnnf-fmnist", 0, 0, 0, 5, 5, {"block1", "block2", "fc1", "fc2", "logits"}},
    {"vgg16-w0125",
     "vgg16",
     0.125,
     32,
     10,
     0,
     8,
     {"block1", "block2", "block3", "block4", "block5", "fc6", "fc7", "logits"}},
    {"vgg16-cnnf-w0125",
     "vgg16-cnnf",
     0.125,
     32,
     10,
     2,
     8,
     {"block1", "block2", "block3", "block4", "block5", "fc6", "fc7", "logits"}},
};

/* What README.md and docs/cnnf-semantics.md state: float64 within 1e-13 of
 * the PyTorch float64 reference at every iteration (measured <= 5.6e-15);
 * float32 within 1e-5 at every iteration (measured <= 3.7e-6), including
 * t >= 1 of vgg16-cnnf: the committed inputs are dithered, so no routing
 * decision is a near-tie that float32 rounding could flip. */
static void test_reference_float64(void)
{
    for (int k = 0; k < 3; k++)
        run_reference_case(&committed_cases[k], test_fixture_path("model"), NCMP_FLOAT64, 1e-13, 1e-13);
}

static void test_reference_float32(void)
{
    for (int k = 0; k < 3; k++)
        run_reference_case(&committed_cases[k], test_fixture_path("model"), NCMP_FLOAT32, 1e-5, 1e-5);
}

/* Full-size cases, not committed (~1.2 GB): tests/run_full_vgg16.sh generates
 * them with `gen_model_fixtures.py --full-vgg16 DIR` and runs `test_model --full DIR`. */
static const char *full_dir;
static const ref_case full_cases[] = {
    {"vgg16", "vgg16", 1, 224, 1000, 0, 8, {"block1", "block2", "block3", "block4", "block5", "fc6", "fc7", "logits"}},
    {"vgg16-cnnf",
     "vgg16-cnnf",
     1,
     224,
     1000,
     2,
     8,
     {"block1", "block2", "block3", "block4", "block5", "fc6", "fc7", "logits"}},
};

static void test_full_float64(void)
{
    for (int k = 0; k < 2; k++)
        run_reference_case(&full_cases[k], full_dir, NCMP_FLOAT64, 1e-13, 1e-13); /* measured <= 1.3e-14 */
}

static void test_full_float32(void)
{
    run_reference_case(&full_cases[0], full_dir, NCMP_FLOAT32, 1e-5, 1e-5); /* measured 7.8e-7 */
    /* Full-size vgg16-cnnf on undithered images: float32 rounding flips
     * near-tied routing decisions at t >= 1 (measured 0.39; docs say so and
     * point to --precision double), so only t = 0 is asserted; t >= 1 is
     * reported as "not asserted", never compared against a vacuous bound. */
    run_reference_case(&full_cases[1], full_dir, NCMP_FLOAT32, 1e-4, NAN);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--full")) {
        full_dir = argv[2];
        static const test_case full[] = {{"float64 within 1e-13", test_full_float64},
                                         {"float32 within 1e-5 (vgg16-cnnf: 1e-4 at t=0)", test_full_float32}};
        static const test_suite full_suite[] = {{"full-vgg16", TEST_CASES(full)}};
        return test_run("model", full_suite, 1);
    }
    if (argc != 1) {
        fprintf(stderr, "usage: %s [--full DIR]\n", argv[0]);
        return 2;
    }
    static const test_case spec_cases[] = {{"built-in architectures", test_builtin_architectures},
                                           {"errors name the line", test_spec_errors_name_the_line}};
    static const test_case weight_cases[] = {{"errors name the tensor", test_weights_errors_name_the_tensor}};
    static const test_case adjoint_cases[] = {{"conv, linear, pool, avgpool", test_adjoint_identities},
                                              {"pool ties go to the first extreme", test_pool_ties_first_extreme}};
    static const test_case ref_cases[] = {{"float64 within 1e-13", test_reference_float64},
                                          {"float32 within 1e-5 at every iteration", test_reference_float32}};
    static const test_suite suites[] = {{"spec", TEST_CASES(spec_cases)},
                                        {"weights", TEST_CASES(weight_cases)},
                                        {"adjoint", TEST_CASES(adjoint_cases)},
                                        {"reference", TEST_CASES(ref_cases)}};
    return test_run("model", suites, sizeof suites / sizeof suites[0]);
}
