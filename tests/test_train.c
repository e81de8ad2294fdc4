/* Tests for model/train/: the backward pass of every layer type and top-down
 * step against central finite differences (float64), through the whole
 * unrolled CNN-F; gradients that do not depend on the thread count. */
#include "test_util.h"

#include "core/h5.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "model/arch.h"
#include "model/net.h"
#include "model/train/attack.h"
#include "model/train/objective.h"
#include "model/train/params.h"
#include "model/train/sgd.h"
#include "model/train/unroll.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small architectures, each exercising some layer types -------------------------- */

/* Every CNN-F layer type: conv (stride 1 and 2), insnorm, bias, AdaReLU, AdaPool,
 * adaptive avgpool (upsampling 2x2 -> 3x3: overlapping windows), flatten, linear, dropout. */
static const char *SPEC_CNNF =
    "arch fd-cnnf\ninput 2 8 8\npreprocess minus1to1\nparam width 1\nparam classes 3\ncnnf update=relu1 step=0.1\n"
    "conv c1 out=3 k=3 pad=1 weight=c1.w\ninsnorm n1\nbias b1 param=b1.b\nadarelu relu1\n"
    "conv c2 out=4 k=3 pad=1 weight=c2.w\ninsnorm n2\nbias b2 param=b2.b\nadarelu relu2\nobserve block1\n"
    "adapool p2\nobserve block1p\n"
    "conv c3 out=4 k=3 stride=2 pad=1 weight=c3.w\ninsnorm n3\nbias b3 param=b3.b\nadarelu relu3\nobserve block2\n"
    "avgpool ap out=3\nflatten fl\nlinear f1 out=6 weight=f1.w\nbias fb1 param=fb1.b\nadarelu relu4\nobserve fc1\n"
    "dropout d1\nlinear f2 out=classes weight=f2.w\nbias fb2 param=fb2.b\nobserve logits\n";

/* The update layer is an AdaPool output (as vgg16-cnnf's block1), overlapping 3x3/2 AdaPools above it. */
static const char *SPEC_CNNF_POOL =
    "arch fd-cnnf-pool\ninput 1 13 13\npreprocess minus1to1\nparam width 1\nparam classes 2\ncnnf update=p1 step=0.1\n"
    "conv c1 out=2 k=3 pad=1 weight=c1.w\ninsnorm n1\nbias b1 param=b1.b\nadarelu r1\nadapool p1 k=3 stride=2\n"
    "conv c2 out=3 k=3 pad=1 weight=c2.w\ninsnorm n2\nbias b2 param=b2.b\nadarelu r2\nadapool p2 k=3 stride=2\n"
    "observe block2\nflatten fl\nlinear f1 out=classes weight=f1.w\nbias fb param=fb.b\n";

/* Plain CNN layers: conv and linear with built-in biases, ReLU, max-pool. */
static const char *SPEC_CNN =
    "arch fd-cnn\ninput 3 6 6\npreprocess imagenet\nparam width 1\nparam classes 4\n"
    "conv c1 out=4 k=3 pad=1 weight=c1.w bias=c1.b\nrelu r1\nmaxpool p1\nobserve block1\n"
    "conv c2 out=5 k=3 pad=0 weight=c2.w bias=c2.b\nrelu r2\nflatten fl\n"
    "linear f1 out=7 weight=f1.w bias=f1.b\nrelu r3\nlinear f2 out=classes weight=f2.w bias=f2.b\n";

static ncmp_arch *parse(const char *text)
{
    ncmp_arch *a = NULL;
    ncmp_error err;
    if (ncmp_arch_parse(text, "test.spec", NULL, &a, &err))
        fprintf(stderr, "\n  parse error: %s\n", err.message);
    return a;
}

static void fill_normal(void *v, ncmp_dtype dt, size_t n, ncmp_rng *rng, double std)
{
    for (size_t j = 0; j < n; j++) {
        double x = std * ncmp_rng_normal(rng);
        if (dt == NCMP_FLOAT64)
            ((double *)v)[j] = x;
        else
            ((float *)v)[j] = (float)x;
    }
}

static void randomise_params(ncmp_params *p, uint64_t seed)
{
    ncmp_rng rng;
    ncmp_rng_seed(&rng, seed);
    for (int i = 0; i < p->arch->n_layers; i++) {
        if (p->weight[i])
            fill_normal(p->weight[i], p->dtype, ncmp_params_weight_size(p, i), &rng, 0.5);
        if (p->bias[i])
            fill_normal(p->bias[i], p->dtype, ncmp_params_bias_size(p, i), &rng, 0.2);
    }
}

/* ---- a scalar of every output: L = sum over seedable buffers <R, output> --------- */

typedef struct probe {
    ncmp_unroll *u;
    const ncmp_arch *a;
    int T;
    int n_layers, layers[16];
    int n_steps, steps[64];
    double *R; /* one fixed random weight per element of every probed buffer, in order */
    size_t n_R;
} probe;

static size_t layer_numel(const probe *pr, int i, size_t n)
{
    return n * ncmp_shape_size(pr->a->layers[i].out);
}
static size_t step_numel(const probe *pr, int s, size_t n)
{
    return n * ncmp_shape_size(pr->a->topdown[s].shape);
}

/* Visit every probed buffer: fn(buffer, seed, count). */
static double probe_visit(probe *pr, size_t n, bool write_seeds)
{
    double loss = 0;
    size_t at = 0;
    for (int t = 0; t <= pr->T; t++)
        for (int k = 0; k < pr->n_layers; k++) {
            int i = pr->layers[k];
            const double *v = ncmp_unroll_layer_output(pr->u, t, i);
            double *seed = ncmp_unroll_layer_seed(pr->u, t, i);
            if (!v || !seed)
                continue;
            size_t m = layer_numel(pr, i, n);
            for (size_t j = 0; j < m; j++) {
                loss += pr->R[at + j] * v[j];
                if (write_seeds)
                    seed[j] += pr->R[at + j];
            }
            at += m;
        }
    for (int t = 1; t <= pr->T; t++)
        for (int k = 0; k < pr->n_steps; k++) {
            int s = pr->steps[k];
            const double *v = ncmp_unroll_step_output(pr->u, t, s);
            double *seed = ncmp_unroll_step_seed(pr->u, t, s);
            size_t m = step_numel(pr, s, n);
            for (size_t j = 0; j < m; j++) {
                loss += pr->R[at + j] * v[j];
                if (write_seeds)
                    seed[j] += pr->R[at + j];
            }
            at += m;
        }
    return loss;
}

static double probe_loss(probe *pr, const ncmp_tensor *x)
{
    ncmp_error err;
    if (ncmp_unroll_forward(pr->u, x, pr->T, &err)) {
        fprintf(stderr, "\n  forward: %s\n", err.message);
        return NAN;
    }
    return probe_visit(pr, x->shape[0], false);
}

/* Compare d L / d theta from the unrolled backward with central differences for
 * every parameter and every input element. */
static void check_gradients(const char *spec, int T, size_t n, uint64_t seed)
{
    ncmp_arch *a = parse(spec);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    ncmp_params *p = NULL;
    ncmp_error err;
    CU_ASSERT_EQUAL_FATAL(ncmp_params_create(a, NCMP_FLOAT64, &p, &err), NCMP_OK);
    randomise_params(p, seed);
    probe pr = {.a = a, .T = T};
    for (int i = 0; i < a->n_layers; i++)
        if (a->layers[i].alias[0] || i == a->n_layers - 1 || (a->cnnf && i == a->update_layer))
            pr.layers[pr.n_layers++] = i;
    for (int s = 0; s < a->n_topdown && T > 0; s++)
        pr.steps[pr.n_steps++] = s;
    ncmp_unroll_options o = {.max_batch = n,
                             .max_cycles = T,
                             .input_grad = true,
                             .seed_layers = pr.layers,
                             .n_seed_layers = pr.n_layers,
                             .seed_steps = pr.steps,
                             .n_seed_steps = pr.n_steps};
    CU_ASSERT_EQUAL_FATAL(ncmp_unroll_create(p, &o, &pr.u, &err), NCMP_OK);

    size_t shape[4] = {n, (size_t)a->input.c, (size_t)a->input.h, (size_t)a->input.w};
    ncmp_tensor x;
    CU_ASSERT_EQUAL_FATAL(ncmp_tensor_alloc(&x, NCMP_FLOAT64, 4, shape, &err), NCMP_OK);
    ncmp_rng rng;
    ncmp_rng_seed(&rng, seed + 1);
    fill_normal(x.data, NCMP_FLOAT64, ncmp_tensor_numel(&x), &rng, 1.0);
    /* enough random weights for every probed buffer */
    pr.n_R = 0;
    for (int k = 0; k < pr.n_layers; k++)
        pr.n_R += (size_t)(T + 1) * layer_numel(&pr, pr.layers[k], n);
    for (int k = 0; k < pr.n_steps; k++)
        pr.n_R += (size_t)T * step_numel(&pr, pr.steps[k], n);
    pr.R = malloc(pr.n_R * sizeof(double));
    fill_normal(pr.R, NCMP_FLOAT64, pr.n_R, &rng, 1.0);

    /* analytic */
    CU_ASSERT_EQUAL_FATAL(ncmp_unroll_forward(pr.u, &x, T, &err), NCMP_OK);
    probe_visit(&pr, n, true);
    ncmp_params_zero_grad(p);
    double *dx = calloc(ncmp_tensor_numel(&x), sizeof(double));
    CU_ASSERT_EQUAL_FATAL(ncmp_unroll_backward(pr.u, true, dx, &err), NCMP_OK);

    const double h = 1e-6;
    double worst = 0;
    int bad = 0;
    char where[160] = "";
    for (int i = 0; i < a->n_layers; i++)
        for (int which = 0; which < 3; which++) {
            double *theta = which == 0 ? p->weight[i] : which == 1 ? p->bias[i] : NULL;
            const double *grad = which == 0 ? p->grad_weight[i] : which == 1 ? p->grad_bias[i] : NULL;
            size_t count = which == 0 ? ncmp_params_weight_size(p, i) : ncmp_params_bias_size(p, i);
            if (which == 2 && i == 0) { /* the input, once */
                theta = x.data;
                grad = dx;
                count = ncmp_tensor_numel(&x);
            }
            if (!theta)
                continue;
            for (size_t j = 0; j < count; j++) {
                double keep = theta[j];
                theta[j] = keep + h;
                double lp = probe_loss(&pr, &x);
                theta[j] = keep - h;
                double lm = probe_loss(&pr, &x);
                theta[j] = keep;
                double fd = (lp - lm) / (2 * h);
                double an = grad[j];
                /* linear layers: the top-down use has its own gradient (summed here, as the update applies both) */
                if (which == 0 && p->grad_weight_t[i] && p->has_topdown_grad)
                    an += ((const double *)p->grad_weight_t[i])[j];
                double e = fabs(fd - an) / (fabs(fd) > 1 ? fabs(fd) : 1);
                if (e > worst) {
                    worst = e;
                    snprintf(where, sizeof where, "%s %s[%zu]: backward %.12g, finite difference %.12g",
                             which == 2 ? "input" : a->layers[i].name, which == 1 ? "bias" : "", j, an, fd);
                }
                bad += !(e < 1e-6);
            }
        }
    if (bad)
        fprintf(stderr, "\n  %s T=%d: %d gradient entries off; worst: %s\n", a->name, T, bad, where);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(worst < 1e-6);
    free(dx);
    free(pr.R);
    ncmp_tensor_release(&x);
    ncmp_unroll_free(pr.u);
    ncmp_params_free(p);
    ncmp_arch_free(a);
}

static void test_fd_cnnf_feedforward(void)
{
    check_gradients(SPEC_CNNF, 0, 3, 11);
}
static void test_fd_cnnf_one_cycle(void)
{
    check_gradients(SPEC_CNNF, 1, 3, 12);
}
static void test_fd_cnnf_three_cycles(void)
{
    check_gradients(SPEC_CNNF, 3, 2, 13);
}
static void test_fd_cnnf_pool_update(void)
{
    check_gradients(SPEC_CNNF_POOL, 2, 3, 14);
}
static void test_fd_cnn(void)
{
    check_gradients(SPEC_CNN, 0, 3, 15);
}

/* ---- learning dynamics of a deep linear network (Saxe, McClelland & Ganguli 2014) ---- */

/* Input-output map Syx = U diag(s) V^T (8 x 8, rank 3) taught to y = W2 W1 x by
 * full-batch gradient descent on L = 1/(2P) sum_p |W2 W1 x_p - y_p|^2 with
 * whitened inputs (x_p = sqrt(P) e_p).  From decoupled, balanced initial
 * weights W1 = R diag(sqrt(a0)) V^T, W2 = U diag(sqrt(a0)) R^T (R orthogonal)
 * each mode's strength a(t) = u^T W2 W1 v follows
 *   a(t) = s e^{2st/tau} / (e^{2st/tau} - 1 + s/a0),  tau = 1/learning rate
 * (their eq. 6), t counting steps; discrete steps of 0.002 differ from the
 * continuous solution by < 0.5% of s (checked in NumPy), so 1% is asserted. */
static const char *SPEC_LINEAR = "arch deep-linear\ninput 8 1 1\npreprocess minus1to1\nparam width 1\nparam classes 8\n"
                                 "flatten fl\nlinear l1 out=3 weight=l1.w\nlinear l2 out=classes weight=l2.w\n";

static void orthonormal_columns(ncmp_rng *rng, int n, int k, double *Q)
{
    /* Gram-Schmidt on normal draws: Q [n][k] with orthonormal columns */
    for (int j = 0; j < k; j++) {
        for (int i = 0; i < n; i++)
            Q[i * k + j] = ncmp_rng_normal(rng);
        for (int pass = 0; pass < 2; pass++)
            for (int q = 0; q < j; q++) {
                double d = 0;
                for (int i = 0; i < n; i++)
                    d += Q[i * k + j] * Q[i * k + q];
                for (int i = 0; i < n; i++)
                    Q[i * k + j] -= d * Q[i * k + q];
            }
        double nrm = 0;
        for (int i = 0; i < n; i++)
            nrm += Q[i * k + j] * Q[i * k + j];
        for (int i = 0; i < n; i++)
            Q[i * k + j] /= sqrt(nrm);
    }
}

/* Train and return the worst |a - analytic| / s over modes and steps (decoupled) or fill final strengths. */
static double deep_linear_run(bool decoupled, uint64_t seed, double *final, int *t_half)
{
    enum { N = 8, H = 3, STEPS = 4000 };
    const double s[H] = {3.0, 1.5, 0.75}, lr = 0.002;
    ncmp_arch *a = parse(SPEC_LINEAR);
    ncmp_params *p = NULL;
    ncmp_error err;
    if (!a || ncmp_params_create(a, NCMP_FLOAT64, &p, &err))
        return INFINITY;
    ncmp_rng rng;
    ncmp_rng_seed(&rng, seed);
    double U[N * H], V[N * H], R[H * H], a0[H], Syx[N * N];
    orthonormal_columns(&rng, N, H, U);
    orthonormal_columns(&rng, N, H, V);
    orthonormal_columns(&rng, H, H, R);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            Syx[i * N + j] = 0;
            for (int m = 0; m < H; m++)
                Syx[i * N + j] += U[i * H + m] * s[m] * V[j * H + m];
        }
    double *W1 = p->weight[1], *W2 = p->weight[2]; /* [H][N], [N][H] */
    for (int m = 0; m < H; m++)
        a0[m] = 1e-3 * (0.5 + ncmp_rng_uniform(&rng)); /* small, random per mode */
    for (int h = 0; h < H; h++)
        for (int j = 0; j < N; j++) {
            W1[h * N + j] = 0;
            for (int m = 0; m < H; m++)
                W1[h * N + j] += decoupled ? R[h * H + m] * sqrt(a0[m]) * V[j * H + m] : 0;
            if (!decoupled)
                W1[h * N + j] = 0.03 * ncmp_rng_normal(&rng);
        }
    for (int i = 0; i < N; i++)
        for (int h = 0; h < H; h++) {
            W2[i * H + h] = 0;
            for (int m = 0; m < H; m++)
                W2[i * H + h] += decoupled ? U[i * H + m] * sqrt(a0[m]) * R[h * H + m] : 0;
            if (!decoupled)
                W2[i * H + h] = 0.03 * ncmp_rng_normal(&rng);
        }
    ncmp_unroll_options uo = {.max_batch = N, .max_cycles = 0};
    ncmp_unroll *u = NULL;
    ncmp_sgd *sgd = NULL;
    ncmp_sgd_options so = {.lr = lr, .schedule = NCMP_SCHEDULE_CONSTANT};
    if (ncmp_unroll_create(p, &uo, &u, &err) || ncmp_sgd_create(p, &so, &sgd, &err))
        return INFINITY;
    double X[N * N], worst = 0;
    for (int i = 0; i < N * N; i++)
        X[i] = i % (N + 1) == 0 ? sqrt((double)N) : 0; /* x_p = sqrt(P) e_p */
    size_t shape[4] = {N, N, 1, 1};
    ncmp_tensor x = ncmp_tensor_wrap(NCMP_FLOAT64, 4, shape, X);
    for (int m = 0; m < H; m++)
        t_half[m] = -1;
    for (int k = 0; k <= STEPS; k++) {
        /* mode strengths a_m = u_m^T W2 W1 v_m */
        for (int m = 0; m < H; m++) {
            double am = 0;
            for (int i = 0; i < N; i++)
                for (int j = 0; j < N; j++) {
                    double w = 0;
                    for (int h = 0; h < H; h++)
                        w += W2[i * H + h] * W1[h * N + j];
                    am += U[i * H + m] * w * V[j * H + m];
                }
            double e = exp(2 * s[m] * lr * k), an = s[m] * e / (e - 1 + s[m] / a0[m]);
            if (decoupled && fabs(am - an) / s[m] > worst)
                worst = fabs(am - an) / s[m];
            if (t_half[m] < 0 && am >= s[m] / 2)
                t_half[m] = k;
            final[m] = am;
        }
        if (k == STEPS)
            break;
        if (ncmp_unroll_forward(u, &x, 0, &err))
            return INFINITY;
        const double *out = ncmp_unroll_layer_output(u, 0, 2);
        double *seed_out = ncmp_unroll_layer_seed(u, 0, 2);
        for (int q = 0; q < N; q++)     /* sample */
            for (int i = 0; i < N; i++) /* output unit: y_q = sqrt(P) Syx e_q */
                seed_out[q * N + i] = (out[q * N + i] - sqrt((double)N) * Syx[i * N + q]) / N;
        ncmp_params_zero_grad(p);
        if (ncmp_unroll_backward(u, true, NULL, &err))
            return INFINITY;
        ncmp_sgd_step(sgd, p, NULL);
    }
    ncmp_sgd_free(sgd);
    ncmp_unroll_free(u);
    ncmp_params_free(p);
    ncmp_arch_free(a);
    return worst;
}

static void test_deep_linear_analytic(void)
{
    double final[3];
    int t_half[3];
    for (uint64_t seed = 1; seed <= 3; seed++) {
        double worst = deep_linear_run(true, seed, final, t_half);
        printf("\n    seed %llu: max |a(t) - analytic| = %.4f of s; half-learned at steps %d, %d, %d ",
               (unsigned long long)seed, worst, t_half[0], t_half[1], t_half[2]);
        CU_ASSERT(worst < 0.01);
    }
}

/* From small random (not decoupled) weights the modes still rise one after
 * another, strongest first, towards their singular values. */
static void test_deep_linear_random_start(void)
{
    double final[3];
    int t_half[3];
    deep_linear_run(false, 10, final, t_half);
    printf("\n    half-learned at steps %d, %d, %d; final %.4f %.4f %.4f (s = 3, 1.5, 0.75) ", t_half[0], t_half[1],
           t_half[2], final[0], final[1], final[2]);
    CU_ASSERT(t_half[0] > 0 && t_half[1] > t_half[0] && t_half[2] > t_half[1]);
    TEST_ASSERT_CLOSE(final[0], 3.0, 1e-3);
    TEST_ASSERT_CLOSE(final[1], 1.5, 1e-3);
    CU_ASSERT(final[2] > 0.5 * 0.75 && final[2] < 0.75); /* the weakest mode is on its way up */
}

/* ---- against PyTorch autograd (tests/gen_train_fixtures.py, generated at test time) ---- */

static const char *reference_dir;

static const char *ref_path(const char *name)
{
    static char buf[4][4096];
    static int slot;
    char *b = buf[slot++ % 4];
    snprintf(b, sizeof buf[0], "%s/%s", reference_dir, name);
    return b;
}

/* Read a whole dataset as double (NULL on failure, with a message). */
static double *read_doubles(hid_t f, const char *name, size_t *count)
{
    int rank;
    hsize_t dims[NCMP_H5_MAX_RANK];
    ncmp_error err;
    if (ncmp_h5_dataset_shape(f, name, &rank, dims, &err)) {
        fprintf(stderr, "\n  %s\n", err.message);
        return NULL;
    }
    size_t n = 1;
    for (int d = 0; d < rank; d++)
        n *= dims[d];
    double *v = malloc(n * sizeof(double));
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(d);
    if (count)
        *count = n;
    return v;
}

/* max |a - b| / max |b| over a tensor, with NaN counting as a failure */
static double norm_error(const void *a, ncmp_dtype dt, const double *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t j = 0; j < n; j++) {
        double x = dt == NCMP_FLOAT64 ? ((const double *)a)[j] : ((const float *)a)[j];
        double d = fabs(x - b[j]);
        if (!(d == d))
            return INFINITY;
        if (d > num)
            num = d;
        if (fabs(b[j]) > den)
            den = fabs(b[j]);
    }
    return den > 0 ? num / den : num;
}

/* The objective and its gradient for one batch against autograd: loss, CE per
 * iteration, every parameter gradient (W and the top-down W^T separately) and
 * the input gradient, each within 1e-9 normalised error (float64: the two
 * computations differ only in summation order, ~1e-14). */
static void check_grad_case(const char *file, const char *arch_name, const char *weights, double width, int size,
                            int classes)
{
    hid_t f;
    ncmp_error err;
    CU_ASSERT_EQUAL_FATAL(ncmp_h5_open_read(ref_path(file), false, &f, &err), NCMP_OK);
    long long T = 0, n_clean = 0;
    double mse_parameter = 0, clean_parameter = 1, loss_ref = 0;
    CU_ASSERT_EQUAL_FATAL(ncmp_h5_attr_get_int64(f, "cycles", &T, NULL), NCMP_OK);
    CU_ASSERT_EQUAL_FATAL(ncmp_h5_attr_get_int64(f, "n_clean", &n_clean, NULL), NCMP_OK);
    CU_ASSERT_EQUAL_FATAL(ncmp_h5_attr_get_double(f, "mse_parameter", &mse_parameter, NULL), NCMP_OK);
    CU_ASSERT_EQUAL_FATAL(ncmp_h5_attr_get_double(f, "clean_parameter", &clean_parameter, NULL), NCMP_OK);
    CU_ASSERT_EQUAL_FATAL(ncmp_h5_attr_get_double(f, "loss", &loss_ref, NULL), NCMP_OK);
    ncmp_arch_options ao = {.width = width, .input_size = size, .num_classes = classes, .update_layer = NULL};
    ncmp_arch *a = NULL;
    CU_ASSERT_EQUAL_FATAL(ncmp_arch_load(arch_name, &ao, &a, &err), NCMP_OK);
    ncmp_params *p = NULL;
    CU_ASSERT_EQUAL_FATAL(ncmp_params_create(a, NCMP_FLOAT64, &p, &err), NCMP_OK);
    CU_ASSERT_EQUAL_FATAL(ncmp_params_load(p, test_fixture_path(weights), &err), NCMP_OK);
    size_t nx;
    double *x = read_doubles(f, "input", &nx);
    double *labels_d = read_doubles(f, "labels", NULL);
    const size_t per = ncmp_shape_size(a->input), n = nx / per;
    int32_t labels[64];
    for (size_t r = 0; r < (n_clean ? (size_t)n_clean : n); r++)
        labels[r] = (int32_t)labels_d[r];

    ncmp_objective obj;
    ncmp_objective_init(&obj, a);
    int seed_layers[NCMP_OBJECTIVE_MAX_TAPS], seed_steps[NCMP_OBJECTIVE_MAX_TAPS];
    ncmp_unroll_options uo = {.max_batch = n, .max_cycles = (int)T, .input_grad = true};
    ncmp_objective_unroll_options(&obj, seed_layers, seed_steps, &uo);
    ncmp_unroll *u = NULL;
    CU_ASSERT_EQUAL_FATAL(ncmp_unroll_create(p, &uo, &u, &err), NCMP_OK);
    size_t shape[4] = {n, (size_t)a->input.c, (size_t)a->input.h, (size_t)a->input.w};
    ncmp_tensor xt = ncmp_tensor_wrap(NCMP_FLOAT64, 4, shape, x);
    CU_ASSERT_EQUAL_FATAL(ncmp_unroll_forward(u, &xt, (int)T, &err), NCMP_OK);
    ncmp_objective_options oo = {mse_parameter, clean_parameter, (size_t)n_clean};
    ncmp_objective_result res;
    CU_ASSERT_EQUAL_FATAL(ncmp_objective_eval(&obj, u, labels, &oo, &res, &err), NCMP_OK);
    ncmp_params_zero_grad(p);
    double *dx = calloc(nx, sizeof(double));
    CU_ASSERT_EQUAL_FATAL(ncmp_unroll_backward(u, true, dx, &err), NCMP_OK);

    TEST_ASSERT_CLOSE(res.loss, loss_ref, 1e-12);
    double worst = 0;
    char where[256] = "";
    for (int i = 0; i < a->n_layers; i++)
        for (int which = 0; which < 3; which++) {
            const char *key = which == 1 ? a->layers[i].bias_key : a->layers[i].weight_key;
            const void *mine = which == 0 ? p->grad_weight[i] : which == 1 ? p->grad_bias[i] : p->grad_weight_t[i];
            if (!mine || !key[0])
                continue;
            char name[256];
            snprintf(name, sizeof name, "%s/%s", which == 2 ? "grad_topdown" : "grad", key);
            size_t m;
            double *ref = read_doubles(f, name, &m);
            CU_ASSERT_PTR_NOT_NULL_FATAL(ref);
            CU_ASSERT_EQUAL(m, which == 1 ? ncmp_params_bias_size(p, i) : ncmp_params_weight_size(p, i));
            double e = norm_error(mine, NCMP_FLOAT64, ref, m);
            if (!(e <= worst)) {
                worst = e;
                snprintf(where, sizeof where, "%s", name);
            }
            free(ref);
        }
    double *dx_ref = read_doubles(f, "input_grad", NULL);
    double ex = norm_error(dx, NCMP_FLOAT64, dx_ref, nx);
    printf("\n    %s: loss %.12f (autograd %.12f); worst gradient error %.2e (%s); input gradient %.2e ", file,
           res.loss, loss_ref, worst, where, ex);
    CU_ASSERT(worst <= 1e-9);
    CU_ASSERT(ex <= 1e-9);
    free(dx_ref);
    free(dx);
    free(x);
    free(labels_d);
    ncmp_unroll_free(u);
    ncmp_params_free(p);
    ncmp_arch_free(a);
    H5Fclose(f);
}

static void test_ref_cnnf_fmnist(void)
{
    check_grad_case("grad_cnnf-fmnist.h5", "cnnf-fmnist", "model/cnnf-fmnist.weights.h5", 0, 0, 0);
}
static void test_ref_cnnf_fmnist_adversarial(void)
{
    check_grad_case("grad_cnnf-fmnist-adversarial.h5", "cnnf-fmnist", "model/cnnf-fmnist.weights.h5", 0, 0, 0);
}
static void test_ref_vgg16_cnnf(void)
{
    check_grad_case("grad_vgg16-cnnf-w0125.h5", "vgg16-cnnf", "model/vgg16-cnnf-w0125.weights.h5", 0.125, 32, 10);
}

/* FGSM through the feed-forward pass and through every cycle equals PyTorch's
 * (advertorch GradientSignAttack): the sign of the input gradient decides, so
 * the perturbed images must agree exactly wherever |gradient| is not at
 * rounding level. */
static void test_ref_fgsm(void)
{
    hid_t f;
    ncmp_error err;
    CU_ASSERT_EQUAL_FATAL(ncmp_h5_open_read(ref_path("attack_cnnf-fmnist.h5"), false, &f, &err), NCMP_OK);
    long long T = 0;
    double eps = 0;
    CU_ASSERT_EQUAL_FATAL(ncmp_h5_attr_get_int64(f, "cycles", &T, NULL), NCMP_OK);
    CU_ASSERT_EQUAL_FATAL(ncmp_h5_attr_get_double(f, "eps", &eps, NULL), NCMP_OK);
    ncmp_arch *a = NULL;
    ncmp_params *p = NULL;
    CU_ASSERT_EQUAL_FATAL(ncmp_arch_load("cnnf-fmnist", NULL, &a, &err), NCMP_OK);
    CU_ASSERT_EQUAL_FATAL(ncmp_params_create(a, NCMP_FLOAT64, &p, &err), NCMP_OK);
    CU_ASSERT_EQUAL_FATAL(ncmp_params_load(p, test_fixture_path("model/cnnf-fmnist.weights.h5"), &err), NCMP_OK);
    size_t nx;
    double *x = read_doubles(f, "input", &nx), *ld = read_doubles(f, "labels", NULL);
    const size_t n = nx / ncmp_shape_size(a->input);
    int32_t labels[16];
    for (size_t r = 0; r < n; r++)
        labels[r] = (int32_t)ld[r];
    ncmp_unroll_options uo = {.max_batch = n, .max_cycles = (int)T, .input_grad = true};
    ncmp_unroll *u = NULL;
    CU_ASSERT_EQUAL_FATAL(ncmp_unroll_create(p, &uo, &u, &err), NCMP_OK);
    ncmp_preprocess_options pp = ncmp_arch_preprocess(a, false);
    double *xa = calloc(nx, sizeof(double));
    for (int which = 0; which < 2; which++) {
        ncmp_attack_options ao = {NCMP_ATTACK_FGSM, eps, 0, 1, which ? NCMP_ATTACK_ALL : NCMP_ATTACK_FIRST, (int)T};
        ncmp_rng rng;
        ncmp_rng_seed(&rng, 1);
        CU_ASSERT_EQUAL_FATAL(ncmp_attack_run(u, &ao, &pp, x, labels, n, &rng, xa, &err), NCMP_OK);
        double *ref = read_doubles(f, which ? "fgsm_all" : "fgsm_first", NULL);
        double *g = read_doubles(f, which ? "grad_all" : "grad_first", NULL);
        double gmax = 0;
        for (size_t j = 0; j < nx; j++)
            gmax = fabs(g[j]) > gmax ? fabs(g[j]) : gmax;
        size_t differ = 0, decided = 0;
        for (size_t j = 0; j < nx; j++) {
            if (fabs(g[j]) <= 1e-10 * gmax)
                continue; /* sign at rounding level */
            decided++;
            differ += fabs(xa[j] - ref[j]) > 1e-15;
        }
        printf("\n    FGSM through %s: %zu of %zu decided pixels differ ", which ? "every cycle" : "iteration 0",
               differ, decided);
        CU_ASSERT(decided > nx / 2);
        CU_ASSERT_EQUAL(differ, 0);
        free(ref);
        free(g);
    }
    free(xa);
    free(x);
    free(ld);
    ncmp_unroll_free(u);
    ncmp_params_free(p);
    ncmp_arch_free(a);
    H5Fclose(f);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--reference")) {
        reference_dir = argv[2];
        static const test_case ref[] = {
            {"cnnf-fmnist, T = 2: objective and gradients", test_ref_cnnf_fmnist},
            {"cnnf-fmnist, adversarial layout, T = 1", test_ref_cnnf_fmnist_adversarial},
            {"vgg16-cnnf width 1/8, T = 2", test_ref_vgg16_cnnf},
            {"FGSM through iteration 0 and through every cycle", test_ref_fgsm},
        };
        static const test_suite suites[] = {{"against PyTorch autograd (float64)", ref, sizeof ref / sizeof ref[0]}};
        return test_run("train", suites, 1);
    }
    if (argc != 1) {
        fprintf(stderr, "usage: %s [--reference DIR]\n", argv[0]);
        return 2;
    }

    static const test_case fd[] = {
        {"CNN-F layers, iteration 0 only", test_fd_cnnf_feedforward},
        {"CNN-F layers, one cycle", test_fd_cnnf_one_cycle},
        {"CNN-F layers, three cycles", test_fd_cnnf_three_cycles},
        {"AdaPool update layer, overlapping 3x3/2 pools, two cycles", test_fd_cnnf_pool_update},
        {"plain CNN: built-in biases, ReLU, max-pool", test_fd_cnn},
    };
    static const test_case saxe[] = {
        {"decoupled small initial weights follow the analytic sigmoid", test_deep_linear_analytic},
        {"small random initial weights learn the modes in order", test_deep_linear_random_start},
    };
    static const test_suite suites[] = {
        {"backward vs finite differences (float64)", fd, sizeof fd / sizeof fd[0]},
        {"deep linear network learning dynamics (Saxe et al. 2014)", saxe, sizeof saxe / sizeof saxe[0]},
    };
    return test_run("train", suites, sizeof suites / sizeof suites[0]);
}
