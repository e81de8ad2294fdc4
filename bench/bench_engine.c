/* bench_engine: performance benchmark of the neurocmp inference engine.
 *
 * Measures, in one process and with one thread count:
 *   - the OpenBLAS sgemm peak of this machine (square sgemm, best of several);
 *   - VGG-16 (vgg16) and VGG-16 CNN-F (vgg16-cnnf) forward passes at each
 *     requested batch size, and one CNN-F feedback cycle (feedback pass from
 *     the logits to the update layer + the update + the re-forward above it),
 *     timed directly and cross-checked as run(T=1) - run(T=0);
 *   - a per-layer / per-layer-type breakdown at the largest batch, with each
 *     conv layer's GEMM timed alone on the same shapes, so the efficiency of
 *     the convolutions relative to the sgemm peak can be checked;
 *   - peak resident memory and the engine's own buffer total.
 *
 * It writes the seeded weights (weights files, docs/formats.md) and the inputs and logits it
 * produced to OUT_DIR so bench/torch_peer.py can run PyTorch on identical
 * weights and inputs and check the outputs agree.  Machine-readable results
 * go to OUT_DIR/c_results.tsv.  See bench/run.sh and bench/RESULTS.md.
 */
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/h5.h"
#include "core/provenance.h"
#include "core/rng.h"
#include "core/version.h"
#include "model/arch.h"
#include "model/cnnf.h"
#include "model/cnnf_internal.h"
#include "model/net.h"

#define MAX_BATCHES 8

typedef struct options {
    int threads;
    int repeats;
    int batches[MAX_BATCHES];
    int n_batches;
    int input_size; /* 0: the spec's 224 */
    int gemm_size;
    int gemm_repeats;
    bool quick;
    bool layers;   /* per-layer breakdown */
    bool mem_only; /* only: vgg16-cnnf at the largest batch, T=1, report peak RSS */
    const char *out_dir;
    const char *archs[2];
    int n_archs;
} options;

static FILE *tsv;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double minimum(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++)
        if (v[i] < m)
            m = v[i];
    return m;
}

static void record(const char *key, double value)
{
    if (tsv) {
        fprintf(tsv, "%s\t%.9g\n", key, value);
        fflush(tsv);
    }
}

static void record_str(const char *key, const char *value)
{
    if (tsv) {
        fprintf(tsv, "%s\t%s\n", key, value);
        fflush(tsv);
    }
}

static void die(const char *what, const ncmp_error *err)
{
    fprintf(stderr, "bench_engine: %s: %s\n", what, err ? err->message : "failed");
    exit(1);
}

/* Current and peak resident set (VmRSS / VmHWM) in bytes from /proc. */
static size_t proc_status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    char line[256];
    size_t kb = 0, n = strlen(field);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, n) && line[n] == ':') {
            kb = (size_t)strtoull(line + n + 1, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}

/* Reset the peak-RSS watermark (Linux >= 4.0: "5" > /proc/self/clear_refs). */
static bool reset_peak_rss(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f)
        return false;
    bool ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok;
}

/* Busy CPU seconds of the whole machine (/proc/stat) and of this process, to
 * report how much of the machine other processes used during the benchmark. */
static void cpu_seconds(double *machine_busy, double *own)
{
    *machine_busy = *own = 0;
    FILE *f = fopen("/proc/stat", "r");
    if (f) {
        unsigned long long v[10] = {0};
        if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                   &v[6], &v[7], &v[8], &v[9]) >= 8) {
            unsigned long long busy = 0;
            for (int i = 0; i < 8; i++)
                if (i != 3 && i != 4)
                    busy += v[i];
            *machine_busy = (double)busy / (double)sysconf(_SC_CLK_TCK);
        }
        fclose(f);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *own = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
           1e-6 * (double)ru.ru_stime.tv_usec;
}

static double maxrss_bytes(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss * 1024.0;
}

/* ---- machine ------------------------------------------------------------ */

static void cpu_model(char *buf, size_t size)
{
    snprintf(buf, size, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10)) {
            char *p = strchr(line, ':');
            if (p) {
                p++;
                while (*p == ' ')
                    p++;
                p[strcspn(p, "\n")] = 0;
                snprintf(buf, size, "%s", p);
            }
            break;
        }
    fclose(f);
}

static void cpu_flags(char *buf, size_t size)
{
    buf[0] = 0;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[8192];
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "flags", 5)) {
            const char *want[] = {"avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni"};
            for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
                char pat[32];
                snprintf(pat, sizeof pat, " %s ", want[i]);
                if (strstr(line, pat)) {
                    size_t l = strlen(buf);
                    snprintf(buf + l, size - l, "%s%s", l ? " " : "", want[i]);
                }
            }
            break;
        }
    fclose(f);
}

static void print_machine(const options *o)
{
    char model[256], flags[256], h5v[32];
    cpu_model(model, sizeof model);
    cpu_flags(flags, sizeof flags);
    ncmp_hdf5_version(h5v, sizeof h5v);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    const char *coretype = getenv("OPENBLAS_CORETYPE");
    printf("== machine ==\n");
    printf("cpu              %s (%ld logical cpus online; flags: %s)\n", model, online, flags);
    printf("memory           %.1f GB\n", (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE) / 1e9);
    printf("neurocmp         %s (%s)\n", NCMP_VERSION, NCMP_GIT_REVISION);
    printf("openblas         %s\n", ncmp_blas_config());
    printf("openblas core    %s (OPENBLAS_CORETYPE=%s)\n", ncmp_blas_corename(), coretype ? coretype : "<unset>");
    printf("threads          blas %d, openmp %d (%s), requested %d\n", ncmp_blas_threads(), ncmp_openmp_threads(),
           ncmp_openmp_enabled() ? "enabled" : "disabled", o->threads);
    printf("OMP_WAIT_POLICY  %s\n", getenv("OMP_WAIT_POLICY") ? getenv("OMP_WAIT_POLICY") : "<unset>");
    printf("hdf5 / gsl       %s / %s\n", h5v, ncmp_gsl_version());
    record_str("machine.cpu", model);
    record("machine.cpus", (double)online);
    record_str("machine.openblas", ncmp_blas_config());
    record_str("machine.openblas_core", ncmp_blas_corename());
    record_str("machine.openblas_coretype_env", coretype ? coretype : "<unset>");
    record("machine.threads", (double)o->threads);
    record_str("machine.neurocmp", NCMP_GIT_REVISION);
}

/* ---- sgemm peak ------------------------------------------------------- */

static double time_sgemm(int M, int N, int K, const float *A, const float *B, float *C, int reps)
{
    double best = INFINITY;
    for (int r = 0; r < reps; r++) {
        double t = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);
        t = now() - t;
        if (t < best)
            best = t;
    }
    return best;
}

static double sgemm_peak(const options *o)
{
    int sizes[3] = {o->gemm_size / 2, 3 * o->gemm_size / 4, o->gemm_size};
    size_t nmax = (size_t)o->gemm_size * (size_t)o->gemm_size;
    float *A = malloc(nmax * sizeof(float)), *B = malloc(nmax * sizeof(float)), *C = malloc(nmax * sizeof(float));
    if (!A || !B || !C) {
        fprintf(stderr, "bench_engine: out of memory for the sgemm peak\n");
        exit(1);
    }
    ncmp_rng rng;
    ncmp_rng_seed(&rng, 7);
    ncmp_rng_fill_normal_f32(&rng, A, nmax, 0, 1);
    ncmp_rng_fill_normal_f32(&rng, B, nmax, 0, 1);
    printf("\n== OpenBLAS sgemm peak (row-major NN, best of %d, %d threads) ==\n", o->gemm_repeats,
           ncmp_blas_threads());
    double peak = 0;
    time_sgemm(256, 256, 256, A, B, C, 2); /* wake the thread pool */
    for (int s = 0; s < 3; s++) {
        int n = sizes[s];
        double t = time_sgemm(n, n, n, A, B, C, o->gemm_repeats);
        double gf = 2.0 * n * (double)n * n / t / 1e9;
        printf("  %5d^3   %8.2f ms   %7.1f GFLOP/s\n", n, 1e3 * t, gf);
        if (gf > peak)
            peak = gf;
    }
    /* single thread, for the per-core figure */
    ncmp_blas_set_threads(1);
    int n = sizes[1];
    double t1 = time_sgemm(n, n, n, A, B, C, o->gemm_repeats);
    double gf1 = 2.0 * n * (double)n * n / t1 / 1e9;
    ncmp_blas_set_threads(o->threads);
    printf("  %5d^3   %8.2f ms   %7.1f GFLOP/s  (1 thread)\n", n, 1e3 * t1, gf1);
    printf("  peak     %.1f GFLOP/s with %d threads\n", peak, o->threads);
    record("sgemm.peak_gflops", peak);
    record("sgemm.peak_gflops_1thread", gf1);
    free(A);
    free(B);
    free(C);
    return peak;
}

/* ---- networks --------------------------------------------------------- */

static ncmp_net *build_net(const char *arch_name, const options *o, const char *weights_path, bool save)
{
    ncmp_error err = {0};
    ncmp_arch_options ao = {0};
    ao.input_size = o->input_size;
    ncmp_arch *arch = NULL;
    if (ncmp_arch_load(arch_name, &ao, &arch, &err))
        die(arch_name, &err);
    ncmp_net *net = NULL;
    if (ncmp_net_create(arch, &net, &err))
        die(arch_name, &err);
    if (ncmp_net_init_seeded(net, 20240601u, &err))
        die("seeded init", &err);
    if (save && ncmp_net_save_weights(net, weights_path, &err))
        die(weights_path, &err);
    return net;
}

/* Seeded uniform [0,1] noise normalised with the ImageNet mean/std. */
static void make_input(ncmp_tensor *x, const ncmp_arch *a, size_t batch)
{
    ncmp_error err = {0};
    size_t shape[4] = {batch, (size_t)a->input.c, (size_t)a->input.h, (size_t)a->input.w};
    if (ncmp_tensor_alloc(x, NCMP_FLOAT32, 4, shape, &err))
        die("input", &err);
    const double mean[3] = {0.485, 0.456, 0.406}, sd[3] = {0.229, 0.224, 0.225};
    ncmp_rng rng;
    ncmp_rng_seed_stream(&rng, 99, 1);
    float *v = x->data;
    size_t plane = (size_t)a->input.h * a->input.w;
    for (size_t n = 0; n < batch; n++)
        for (int c = 0; c < a->input.c; c++)
            for (size_t j = 0; j < plane; j++) {
                double u = ncmp_rng_uniform(&rng);
                int cc = c % 3;
                v[(n * (size_t)a->input.c + (size_t)c) * plane + j] = (float)((u - mean[cc]) / sd[cc]);
            }
}

static ncmp_tensor batch_view(const ncmp_tensor *x, size_t b)
{
    size_t shape[4] = {b, x->shape[1], x->shape[2], x->shape[3]};
    return ncmp_tensor_wrap(NCMP_FLOAT32, 4, shape, x->data);
}

static void copy_logits(const ncmp_cnnf *e, float *dst)
{
    ncmp_error err = {0};
    ncmp_tensor v;
    if (ncmp_cnnf_output(e, e->arch->n_layers - 1, &v, &err))
        die("logits", &err);
    memcpy(dst, v.data, ncmp_tensor_numel(&v) * sizeof(float));
}

/* One feedback cycle exactly as ncmp_cnnf_run does for t = 1.  Returns the
 * feedback and re-forward times separately. */
static void cycle(ncmp_cnnf *e, double *t_feedback, double *t_reforward)
{
    double t0 = now();
    ncmp_cnnf_feedback_pass(e);
    double t1 = now();
    ncmp_cnnf_forward_layers(e, e->arch->update_layer + 1, e->arch->n_layers);
    double t2 = now();
    *t_feedback = t1 - t0;
    *t_reforward = t2 - t1;
}

/* ---- per-layer breakdown --------------------------------------------- */

typedef struct layer_times {
    double fwd;      /* the engine's forward of the layer */
    double fwd_gemm; /* the same GEMMs alone */
    double td;       /* the engine's top-down rule */
    double td_gemm;  /* its GEMMs alone */
    double batched;  /* one GEMM over the whole batch (N = n*Ho*Wo), if measured */
} layer_times;

static double time_conv_gemm(const ncmp_cnnf *e, int i, bool transpose, float *scratch)
{
    const ncmp_layer_desc *L = &e->arch->layers[i];
    const int M = L->out.c, N = L->out.h * L->out.w, K = L->in.c * L->kernel * L->kernel;
    const float *Wt = e->weight[i];
    float *cols = e->cols[0];
    double t = now();
    for (size_t n = 0; n < e->n; n++) {
        if (!transpose)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, Wt, K, cols, N, 0.0f, scratch, N);
        else
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, N, M, 1.0f, Wt, K, scratch, N, 0.0f, cols, N);
    }
    return now() - t;
}

static const char *type_label(ncmp_layer_type t)
{
    return ncmp_layer_type_name(t);
}

static void breakdown(ncmp_cnnf *e, const ncmp_tensor *x, const options *o, double peak, const char *tag)
{
    ncmp_error err = {0};
    const ncmp_arch *a = e->arch;
    const int L = a->n_layers;
    const size_t B = e->n;
    layer_times *lt = calloc((size_t)L, sizeof *lt);
    double *samples = calloc((size_t)o->repeats, sizeof(double));
    /* scratch for GEMM outputs: the largest conv output (or top-down g) of one sample */
    size_t scratch_elems = 1;
    for (int i = 0; i < L; i++)
        if (ncmp_shape_size(a->layers[i].out) > scratch_elems)
            scratch_elems = ncmp_shape_size(a->layers[i].out);
    float *scratch = calloc(scratch_elems, sizeof(float));
    if (!lt || !samples || !scratch)
        die("breakdown", NULL);

    /* forward, layer by layer (fresh run first so state is that of t = 0) */
    ncmp_tensor xb = batch_view(x, B);
    if (ncmp_cnnf_run(e, &xb, 0, NULL, NULL, &err))
        die("run", &err);
    for (int r = 0; r < o->repeats; r++)
        for (int i = 0; i < L; i++) {
            double t = now();
            ncmp_cnnf_forward_layers(e, i, i + 1);
            t = now() - t;
            if (r == 0 || t < lt[i].fwd)
                lt[i].fwd = t;
        }
    for (int i = 0; i < L; i++)
        if (a->layers[i].type == NCMP_LAYER_CONV)
            for (int r = 0; r < o->repeats; r++) {
                double t = time_conv_gemm(e, i, false, scratch);
                if (r == 0 || t < lt[i].fwd_gemm)
                    lt[i].fwd_gemm = t;
            }
    /* the same GEMM with im2col batched over the samples (N = B*Ho*Wo), where it fits in 320 MB */
    for (int i = 0; i < L && B > 1; i++) {
        const ncmp_layer_desc *D = &a->layers[i];
        if (D->type != NCMP_LAYER_CONV)
            continue;
        const int M = D->out.c, N = (int)B * D->out.h * D->out.w, K = D->in.c * D->kernel * D->kernel;
        size_t bytes = ((size_t)K * (size_t)N + (size_t)M * (size_t)N) * sizeof(float);
        if (bytes > 320u * 1024u * 1024u)
            continue;
        float *bc = malloc((size_t)K * (size_t)N * sizeof(float)), *bo = malloc((size_t)M * (size_t)N * sizeof(float));
        if (bc && bo) {
            memset(bc, 0, (size_t)K * (size_t)N * sizeof(float));
            lt[i].batched = time_sgemm(M, N, K, e->weight[i], bc, bo, o->repeats);
        }
        free(bc);
        free(bo);
    }

    /* top-down, step by step (CNN-F only) */
    double td_total = 0, td_steps = 0;
    if (a->cnnf) {
        for (int r = 0; r < o->repeats; r++) {
            if (ncmp_cnnf_run(e, &xb, 0, NULL, NULL, &err))
                die("run", &err);
            double t = now();
            ncmp_cnnf_feedback_pass(e);
            samples[r] = now() - t;
        }
        td_total = minimum(samples, o->repeats);
        for (int r = 0; r < o->repeats; r++) {
            if (ncmp_cnnf_run(e, &xb, 0, NULL, NULL, &err))
                die("run", &err);
            float *cur = e->g[0], *next = e->g[1];
            memcpy(cur, e->out[L - 1], sizeof(float) * ncmp_shape_size(a->layers[L - 1].out) * B);
            for (int s = 0; s < a->n_topdown; s++) {
                const ncmp_topdown_step *st = &a->topdown[s];
                if (st->op != NCMP_TD_LAYER) {
                    ncmp_cnnf_topdown_step(e, s, cur, next); /* insnorm of g, in place: in the remainder */
                    continue;
                }
                double t = now();
                ncmp_cnnf_topdown_step(e, s, cur, next);
                t = now() - t;
                if (r == 0 || t < lt[st->layer].td)
                    lt[st->layer].td = t;
                float *tmp = cur;
                cur = next;
                next = tmp;
            }
        }
        for (int s = 0; s < a->n_topdown; s++) {
            const ncmp_topdown_step *st = &a->topdown[s];
            if (st->op != NCMP_TD_LAYER)
                continue;
            td_steps += lt[st->layer].td;
            if (a->layers[st->layer].type == NCMP_LAYER_CONV)
                for (int r = 0; r < o->repeats; r++) {
                    double t = time_conv_gemm(e, st->layer, true, scratch);
                    if (r == 0 || t < lt[st->layer].td_gemm)
                        lt[st->layer].td_gemm = t;
                }
        }
    }

    /* per-layer table */
    printf("\n-- %s, batch %zu: per layer (best of %d) --\n", a->name, B, o->repeats);
    printf("%-12s %-8s %-14s %9s %9s %8s %8s %9s", "layer", "type", "output", "fwd ms", "GEMM ms", "GF/s", "%peak",
           "bGEMM ms");
    if (a->cnnf)
        printf(" %9s %9s %8s %8s", "td ms", "tdGEMM", "GF/s", "%peak");
    printf("\n");
    double conv_fwd = 0, conv_fwd_gemm = 0, conv_macs = 0, conv_td = 0, conv_td_gemm = 0, conv_td_macs = 0;
    double conv_batched = 0, conv_batched_unbatched = 0;
    double by_type_fwd[16] = {0}, by_type_td[16] = {0};
    for (int i = 0; i < L; i++) {
        const ncmp_layer_desc *D = &a->layers[i];
        char shape[48];
        ncmp_shape_string(D->out, shape, sizeof shape);
        by_type_fwd[D->type] += lt[i].fwd;
        by_type_td[D->type] += lt[i].td;
        printf("%-12s %-8s %-14s %9.2f", D->name, type_label(D->type), shape, 1e3 * lt[i].fwd);
        if (D->type == NCMP_LAYER_CONV) {
            double macs = (double)D->out.c * D->out.h * D->out.w * (double)D->in.c * D->kernel * D->kernel * (double)B;
            double gf = 2 * macs / lt[i].fwd / 1e9;
            printf(" %9.2f %8.1f %7.1f%%", 1e3 * lt[i].fwd_gemm, gf, 100 * gf / peak);
            if (lt[i].batched > 0)
                printf(" %9.2f", 1e3 * lt[i].batched);
            else
                printf(" %9s", "-");
            conv_fwd += lt[i].fwd;
            conv_fwd_gemm += lt[i].fwd_gemm;
            conv_macs += macs;
            if (lt[i].batched > 0) {
                conv_batched += lt[i].batched;
                conv_batched_unbatched += lt[i].fwd_gemm;
            }
            if (a->cnnf && lt[i].td > 0) {
                double gt = 2 * macs / lt[i].td / 1e9;
                printf(" %9.2f %9.2f %8.1f %7.1f%%", 1e3 * lt[i].td, 1e3 * lt[i].td_gemm, gt, 100 * gt / peak);
                conv_td += lt[i].td;
                conv_td_gemm += lt[i].td_gemm;
                conv_td_macs += macs;
            }
        } else {
            printf(" %9s %8s %8s %9s", "", "", "", "");
            if (a->cnnf && lt[i].td > 0)
                printf(" %9.2f", 1e3 * lt[i].td);
        }
        printf("\n");
        char key[160];
        snprintf(key, sizeof key, "%s.layer.%s.b%zu.fwd_s", tag, D->name, B);
        record(key, lt[i].fwd);
        if (D->type == NCMP_LAYER_CONV) {
            snprintf(key, sizeof key, "%s.layer.%s.b%zu.fwd_gemm_s", tag, D->name, B);
            record(key, lt[i].fwd_gemm);
            if (lt[i].batched > 0) {
                snprintf(key, sizeof key, "%s.layer.%s.b%zu.batched_gemm_s", tag, D->name, B);
                record(key, lt[i].batched);
            }
        }
        if (a->cnnf && lt[i].td > 0) {
            snprintf(key, sizeof key, "%s.layer.%s.b%zu.td_s", tag, D->name, B);
            record(key, lt[i].td);
            if (D->type == NCMP_LAYER_CONV) {
                snprintf(key, sizeof key, "%s.layer.%s.b%zu.td_gemm_s", tag, D->name, B);
                record(key, lt[i].td_gemm);
            }
        }
    }

    double fwd_sum = 0;
    for (int t = 0; t < 16; t++)
        fwd_sum += by_type_fwd[t];
    printf("\n-- %s, batch %zu: by layer type --\n", a->name, B);
    printf("%-10s %10s %7s %10s %7s\n", "type", "fwd ms", "share", "td ms", "share");
    for (int t = 0; t <= NCMP_LAYER_DROPOUT; t++) {
        if (by_type_fwd[t] == 0 && by_type_td[t] == 0)
            continue;
        printf("%-10s %10.2f %6.1f%% %10.2f %6.1f%%\n", type_label((ncmp_layer_type)t), 1e3 * by_type_fwd[t],
               100 * by_type_fwd[t] / fwd_sum, 1e3 * by_type_td[t], td_total > 0 ? 100 * by_type_td[t] / td_total : 0);
        char key[160];
        snprintf(key, sizeof key, "%s.type.%s.b%zu.fwd_s", tag, type_label((ncmp_layer_type)t), B);
        record(key, by_type_fwd[t]);
        if (a->cnnf) {
            snprintf(key, sizeof key, "%s.type.%s.b%zu.td_s", tag, type_label((ncmp_layer_type)t), B);
            record(key, by_type_td[t]);
        }
    }
    if (a->cnnf) {
        double rest = td_total - td_steps;
        printf("%-10s %10s %7s %10.2f %6.1f%%   (top-down insnorm of g + update + copies: total - steps)\n",
               "insnorm(g)", "", "", 1e3 * rest, 100 * rest / td_total);
        printf("%-10s %10.2f %7s %10.2f\n", "total", 1e3 * fwd_sum, "", 1e3 * td_total);
        char key[160];
        snprintf(key, sizeof key, "%s.type.td_rest.b%zu.td_s", tag, B);
        record(key, rest);
        snprintf(key, sizeof key, "%s.td_total.b%zu", tag, B);
        record(key, td_total);
    } else {
        printf("%-10s %10.2f\n", "total", 1e3 * fwd_sum);
    }

    double gf_conv = 2 * conv_macs / conv_fwd / 1e9, gf_gemm = 2 * conv_macs / conv_fwd_gemm / 1e9;
    printf("\nconv forward:   %.1f ms, %.1f GFLOP/s = %.1f%% of sgemm peak; GEMM alone %.1f ms, %.1f GFLOP/s = "
           "%.1f%%; im2col+bias = %.1f%% of conv time\n",
           1e3 * conv_fwd, gf_conv, 100 * gf_conv / peak, 1e3 * conv_fwd_gemm, gf_gemm, 100 * gf_gemm / peak,
           100 * (conv_fwd - conv_fwd_gemm) / conv_fwd);
    char key[160];
    snprintf(key, sizeof key, "%s.conv_fwd.b%zu.gflops", tag, B);
    record(key, gf_conv);
    snprintf(key, sizeof key, "%s.conv_fwd.b%zu.pct_peak", tag, B);
    record(key, 100 * gf_conv / peak);
    snprintf(key, sizeof key, "%s.conv_fwd_gemm.b%zu.pct_peak", tag, B);
    record(key, 100 * gf_gemm / peak);
    if (conv_batched > 0) {
        printf("batched GEMM:   the conv layers measured (im2col buffer <= 320 MB) take %.1f ms as per-sample "
               "GEMMs and %.1f ms as one GEMM over the batch (%.2fx)\n",
               1e3 * conv_batched_unbatched, 1e3 * conv_batched, conv_batched_unbatched / conv_batched);
        snprintf(key, sizeof key, "%s.batched_gemm_speedup.b%zu", tag, B);
        record(key, conv_batched_unbatched / conv_batched);
    }
    if (a->cnnf && conv_td > 0) {
        double gt = 2 * conv_td_macs / conv_td / 1e9, gg = 2 * conv_td_macs / conv_td_gemm / 1e9;
        printf("conv transpose: %.1f ms, %.1f GFLOP/s = %.1f%% of sgemm peak; GEMM alone %.1f ms, %.1f GFLOP/s = "
               "%.1f%%; col2im = %.1f%% of conv^T time\n",
               1e3 * conv_td, gt, 100 * gt / peak, 1e3 * conv_td_gemm, gg, 100 * gg / peak,
               100 * (conv_td - conv_td_gemm) / conv_td);
        snprintf(key, sizeof key, "%s.conv_td.b%zu.gflops", tag, B);
        record(key, gt);
        snprintf(key, sizeof key, "%s.conv_td.b%zu.pct_peak", tag, B);
        record(key, 100 * gt / peak);
        snprintf(key, sizeof key, "%s.conv_td_gemm.b%zu.pct_peak", tag, B);
        record(key, 100 * gg / peak);
    }
    free(lt);
    free(samples);
    free(scratch);
}

/* ---- one architecture ------------------------------------------------- */

typedef struct io_file {
    ncmp_h5_output out;
    bool open;
} io_file;

static void write_f32(hid_t loc, const char *name, int rank, const hsize_t *dims, const float *v)
{
    ncmp_error err = {0};
    if (ncmp_h5_write_array(loc, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, rank, dims, v, &err))
        die(name, &err);
}

static void bench_arch(const char *arch_name, const options *o, double peak, io_file *io)
{
    ncmp_error err = {0};
    char wpath[4096];
    snprintf(wpath, sizeof wpath, "%s/%s.weights.h5", o->out_dir, arch_name);
    ncmp_net *net = build_net(arch_name, o, wpath, true);
    const ncmp_arch *a = net->arch;
    int bmax = 0;
    for (int k = 0; k < o->n_batches; k++)
        if (o->batches[k] > bmax)
            bmax = o->batches[k];
    ncmp_tensor x;
    make_input(&x, a, (size_t)bmax);
    const double fwd_macs = ncmp_arch_forward_macs(a, 0);
    const double cyc_macs = a->cnnf ? ncmp_arch_feedback_macs(a) + ncmp_arch_forward_macs(a, a->update_layer + 1) : 0;
    printf("\n== %s (%dx%dx%d input, %.2f GMAC forward per image", a->name, a->input.c, a->input.h, a->input.w,
           fwd_macs / 1e9);
    if (a->cnnf)
        printf(", %.2f GMAC per feedback cycle per image (feedback to %s + re-forward)", cyc_macs / 1e9,
               ncmp_arch_layer_label(a, a->update_layer));
    printf("; weights %s) ==\n", wpath);
    record(a->cnnf ? "vgg16-cnnf.fwd_gmac" : "vgg16.fwd_gmac", fwd_macs / 1e9);
    if (a->cnnf)
        record("vgg16-cnnf.cycle_gmac", cyc_macs / 1e9);

    const size_t classes = ncmp_shape_size(a->layers[a->n_layers - 1].out);
    float *logits0 = calloc((size_t)bmax * classes, sizeof(float));
    float *logits1 = calloc((size_t)bmax * classes, sizeof(float));
    double *fw = calloc((size_t)o->repeats, sizeof(double)), *fb = calloc((size_t)o->repeats, sizeof(double));
    double *rf = calloc((size_t)o->repeats, sizeof(double)), *cy = calloc((size_t)o->repeats, sizeof(double));

    printf("%-6s %10s %10s %10s %9s %9s | %-40s\n", "batch", "fwd ms", "img/s", "GFLOP/s", "%peak", "engine MB",
           a->cnnf ? "cycle ms (feedback + re-forward), img/s, GFLOP/s, %peak; diff check" : "");
    for (int k = 0; k < o->n_batches; k++) {
        const size_t b = (size_t)o->batches[k];
        ncmp_cnnf_options eo = {.precision = NCMP_FLOAT32, .max_batch = b};
        ncmp_cnnf *e = NULL;
        bool reset = reset_peak_rss();
        if (ncmp_cnnf_create(net, &eo, &e, &err))
            die("engine", &err);
        ncmp_tensor xb = batch_view(&x, b);
        /* warm-up */
        if (ncmp_cnnf_run(e, &xb, a->cnnf ? 1 : 0, NULL, NULL, &err))
            die("run", &err);
        for (int r = 0; r < o->repeats; r++) {
            double t = now();
            if (ncmp_cnnf_run(e, &xb, 0, NULL, NULL, &err))
                die("run", &err);
            fw[r] = now() - t;
            if (a->cnnf) {
                cycle(e, &fb[r], &rf[r]);
                cy[r] = fb[r] + rf[r];
            }
        }
        /* outputs for the PyTorch cross-check: the largest batch */
        if ((int)b == bmax) {
            if (ncmp_cnnf_run(e, &xb, 0, NULL, NULL, &err))
                die("run", &err);
            copy_logits(e, logits0);
            if (a->cnnf) {
                double f1, f2;
                cycle(e, &f1, &f2);
                copy_logits(e, logits1);
            }
        }
        double diff = 0;
        if (a->cnnf) { /* cross-check: run(T=1) - run(T=0), best of repeats */
            double best1 = INFINITY;
            for (int r = 0; r < (o->repeats < 2 ? 1 : 2); r++) {
                double t = now();
                if (ncmp_cnnf_run(e, &xb, 1, NULL, NULL, &err))
                    die("run", &err);
                t = now() - t;
                if (t < best1)
                    best1 = t;
            }
            diff = best1 - minimum(fw, o->repeats);
        }
        double fmed = median(fw, o->repeats), fmin = minimum(fw, o->repeats);
        double gf = 2 * fwd_macs * (double)b / fmed / 1e9;
        double mb = (double)ncmp_cnnf_memory_bytes(e) / 1e6;
        printf("%-6zu %10.1f %10.2f %10.1f %8.1f%% %9.0f |", b, 1e3 * fmed, (double)b / fmed, gf, 100 * gf / peak, mb);
        char key[160];
        snprintf(key, sizeof key, "%s.fwd.b%zu.median_s", a->name, b);
        record(key, fmed);
        snprintf(key, sizeof key, "%s.fwd.b%zu.min_s", a->name, b);
        record(key, fmin);
        snprintf(key, sizeof key, "%s.engine_bytes.b%zu", a->name, b);
        record(key, (double)ncmp_cnnf_memory_bytes(e));
        if (a->cnnf) {
            double cmed = median(cy, o->repeats), fbm = median(fb, o->repeats), rfm = median(rf, o->repeats);
            double gc = 2 * cyc_macs * (double)b / cmed / 1e9;
            printf(" %.1f (%.1f + %.1f), %.2f img/s, %.1f GF/s, %.1f%%; T1-T0 %.1f", 1e3 * cmed, 1e3 * fbm, 1e3 * rfm,
                   (double)b / cmed, gc, 100 * gc / peak, 1e3 * diff);
            snprintf(key, sizeof key, "%s.cycle.b%zu.median_s", a->name, b);
            record(key, cmed);
            snprintf(key, sizeof key, "%s.cycle.b%zu.min_s", a->name, b);
            record(key, minimum(cy, o->repeats));
            snprintf(key, sizeof key, "%s.cycle.b%zu.feedback_s", a->name, b);
            record(key, fbm);
            snprintf(key, sizeof key, "%s.cycle.b%zu.reforward_s", a->name, b);
            record(key, rfm);
            snprintf(key, sizeof key, "%s.cycle.b%zu.diff_s", a->name, b);
            record(key, diff);
        }
        printf("\n");
        if (reset) {
            snprintf(key, sizeof key, "%s.peak_rss_phase.b%zu", a->name, b);
            record(key, (double)proc_status_kb("VmHWM") * 1024.0);
        }
        if (o->layers && (int)b == bmax)
            breakdown(e, &x, o, peak, a->name);
        else if (o->layers && b == 1 && o->n_batches > 1)
            breakdown(e, &x, o, peak, a->name);
        ncmp_cnnf_free(e);
    }

    /* inputs and outputs for torch_peer.py */
    hid_t g;
    if (ncmp_h5_ensure_group(io->out.file, a->name, &g, &err))
        die("io group", &err);
    hsize_t xd[4] = {(hsize_t)bmax, (hsize_t)a->input.c, (hsize_t)a->input.h, (hsize_t)a->input.w};
    hsize_t ld[2] = {(hsize_t)bmax, (hsize_t)classes};
    write_f32(g, "input", 4, xd, x.data);
    write_f32(g, "logits_t0", 2, ld, logits0);
    if (a->cnnf)
        write_f32(g, "logits_t1", 2, ld, logits1);
    ncmp_h5_attr_set_string(g, "weights", wpath, &err);
    ncmp_h5_attr_set_int64(g, "input_size", a->input.h, &err);
    ncmp_h5_attr_set_int64(g, "cnnf", a->cnnf, &err);
    H5Gclose(g);

    free(fw);
    free(fb);
    free(rf);
    free(cy);
    free(logits0);
    free(logits1);
    ncmp_tensor_release(&x);
    ncmp_net_free(net);
}

/* A fresh process's peak memory for vgg16-cnnf at the largest batch, T = 1. */
static void memory_only(const options *o)
{
    ncmp_error err = {0};
    int bmax = 0;
    for (int k = 0; k < o->n_batches; k++)
        if (o->batches[k] > bmax)
            bmax = o->batches[k];
    double rss0 = maxrss_bytes();
    ncmp_net *net = build_net("vgg16-cnnf", o, NULL, false);
    double rss_net = (double)proc_status_kb("VmRSS") * 1024.0;
    ncmp_tensor x;
    make_input(&x, net->arch, (size_t)bmax);
    ncmp_cnnf_options eo = {.precision = NCMP_FLOAT32, .max_batch = (size_t)bmax};
    ncmp_cnnf *e = NULL;
    if (ncmp_cnnf_create(net, &eo, &e, &err))
        die("engine", &err);
    if (ncmp_cnnf_run(e, &x, 1, NULL, NULL, &err))
        die("run", &err);
    double peak = maxrss_bytes();
    printf("== memory: vgg16-cnnf, batch %d, T = 1 (fresh process) ==\n", bmax);
    printf("peak RSS (ru_maxrss)  %.0f MB  (%.2f GB)\n", peak / 1e6, peak / 1e9);
    printf("  of which at start   %.0f MB; after building the net (weights %.0f MB) %.0f MB\n", rss0 / 1e6,
           (double)ncmp_net_param_count(net) * 4 / 1e6, rss_net / 1e6);
    printf("engine buffers        %.0f MB  (ncmp_cnnf_memory_bytes)\n", (double)ncmp_cnnf_memory_bytes(e) / 1e6);
    record("mem.vgg16-cnnf.batch", bmax);
    record("mem.vgg16-cnnf.peak_rss_bytes", peak);
    record("mem.vgg16-cnnf.engine_bytes", (double)ncmp_cnnf_memory_bytes(e));
    record("mem.vgg16-cnnf.weights_bytes", (double)ncmp_net_param_count(net) * 4);
    ncmp_cnnf_free(e);
    ncmp_tensor_release(&x);
    ncmp_net_free(net);
}

/* ---- main ------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_engine [--quick] [--threads N] [--batch 1,8] [--repeats R] [--size PX]\n"
               "                    [--gemm-size N] [--arch vgg16|vgg16-cnnf] [--no-layers] [--memory-only]\n"
               "                    [--out DIR]\n"
               "  --quick        smoke test: 64x64 inputs, batches 1,2, 2 repeats, 1024 sgemm\n"
               "  --threads N    BLAS and OpenMP threads (default: 2)\n"
               "  --batch LIST   batch sizes (default 1,8)\n"
               "  --repeats R    timed repetitions per measurement after a warm-up (default 3)\n"
               "  --size PX      input size (default: the spec's 224)\n"
               "  --arch NAME    only this architecture (repeatable; default both)\n"
               "  --no-layers    skip the per-layer breakdown\n"
               "  --memory-only  only measure the peak RSS of vgg16-cnnf at the largest batch, T = 1\n"
               "  --out DIR      weights, inputs/outputs (io.h5) and c_results.tsv (default bench-out)\n");
}

static void parse_batches(options *o, const char *s)
{
    o->n_batches = 0;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *tok = strtok(buf, ","); tok && o->n_batches < MAX_BATCHES; tok = strtok(NULL, ",")) {
        int b = atoi(tok);
        if (b < 1) {
            fprintf(stderr, "bench_engine: bad batch size '%s'\n", tok);
            exit(2);
        }
        o->batches[o->n_batches++] = b;
    }
}

int main(int argc, char **argv)
{
    options o = {.threads = 2,
                 .repeats = 3,
                 .batches = {1, 8},
                 .n_batches = 2,
                 .gemm_size = 4096,
                 .gemm_repeats = 3,
                 .layers = true,
                 .out_dir = "bench-out"};
    bool batches_given = false, repeats_given = false, size_given = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quick")) {
            o.quick = true;
        } else if (!strcmp(a, "--threads") && v) {
            o.threads = atoi(v);
            i++;
        } else if (!strcmp(a, "--batch") && v) {
            parse_batches(&o, v);
            batches_given = true;
            i++;
        } else if (!strcmp(a, "--repeats") && v) {
            o.repeats = atoi(v);
            repeats_given = true;
            i++;
        } else if (!strcmp(a, "--size") && v) {
            o.input_size = atoi(v);
            size_given = true;
            i++;
        } else if (!strcmp(a, "--gemm-size") && v) {
            o.gemm_size = atoi(v);
            i++;
        } else if (!strcmp(a, "--arch") && v && o.n_archs < 2) {
            o.archs[o.n_archs++] = v;
            i++;
        } else if (!strcmp(a, "--no-layers")) {
            o.layers = false;
        } else if (!strcmp(a, "--memory-only")) {
            o.mem_only = true;
        } else if (!strcmp(a, "--out") && v) {
            o.out_dir = v;
            i++;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (o.quick) {
        if (!batches_given)
            parse_batches(&o, "1,2");
        if (!repeats_given)
            o.repeats = 2;
        if (!size_given)
            o.input_size = 64;
        o.gemm_size = 1024;
    }
    if (o.repeats < 1 || o.threads < 1 || o.gemm_size < 64) {
        usage(stderr);
        return 2;
    }
    if (o.n_archs == 0) {
        o.archs[0] = "vgg16";
        o.archs[1] = "vgg16-cnnf";
        o.n_archs = 2;
    }
    if (!getenv("NEUROCMP_DATADIR"))
        setenv("NEUROCMP_DATADIR", NCMP_BENCH_SOURCE_DIR, 0);
    ncmp_provenance_set_command_line(argc, argv);
    ncmp_set_threads(o.threads);
    if (mkdir(o.out_dir, 0777) && errno != EEXIST) {
        fprintf(stderr, "bench_engine: cannot create %s: %s\n", o.out_dir, strerror(errno));
        return 1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", o.out_dir, o.mem_only ? "c_memory.tsv" : "c_results.tsv");
    tsv = fopen(path, "w");
    if (!tsv) {
        fprintf(stderr, "bench_engine: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    if (o.mem_only) {
        memory_only(&o);
        fclose(tsv);
        return 0;
    }
    double busy0, own0, wall0 = now();
    cpu_seconds(&busy0, &own0);
    print_machine(&o);
    record("opt.repeats", o.repeats);
    double peak = sgemm_peak(&o);

    io_file io = {0};
    ncmp_error err = {0};
    snprintf(path, sizeof path, "%s/io.h5", o.out_dir);
    if (ncmp_h5_output_begin(&io.out, path, NCMP_H5_OVERWRITE, &err))
        die(path, &err);
    for (int k = 0; k < o.n_archs; k++)
        bench_arch(o.archs[k], &o, peak, &io);
    ncmp_h5_attr_set_int64(io.out.file, "threads", o.threads, &err);
    if (ncmp_h5_output_commit(&io.out, &err))
        die(path, &err);
    double rss = maxrss_bytes();
    printf("\npeak RSS of this process (all runs, incl. the batched-GEMM scratch): %.0f MB\n", rss / 1e6);
    record("process.peak_rss_bytes", rss);
    double busy1, own1;
    cpu_seconds(&busy1, &own1);
    double foreign = ((busy1 - busy0) - (own1 - own0)) / ((now() - wall0) * (double)sysconf(_SC_NPROCESSORS_ONLN));
    if (foreign < 0)
        foreign = 0;
    printf("other processes used %.0f%% of the machine's CPU time during this run\n", 100 * foreign);
    record("c.foreign_cpu_share", foreign);
    fclose(tsv);
    return 0;
}
