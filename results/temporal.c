/* Iteration x time-bin predictivity matrices (docs/temporal.md; the question of Huang et al., NeurIPS 2020, about
 * CNN-F's feedback iterations and late neural responses). */
#include "results/temporal.h"

#include "results/protocol.h"
#include "results/score_ranks.h"
#include "core/dist.h"
#include "core/log.h"
#include "core/parallel.h"
#include "core/progress.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void ncmp_temporal_defaults(ncmp_temporal_options *o)
{
    memset(o, 0, sizeof *o);
    ncmp_pls_options pls = NCMP_PLS_DEFAULTS;
    o->pls = pls;
    o->mode = NCMP_TEMPORAL_PER_BIN;
    o->metric = NCMP_TEMPORAL_PLS;
    o->block_bytes = (size_t)256 << 20;
    o->window_start_ms = 70;
    o->window_end_ms = 170;
}

void ncmp_temporal_free(ncmp_temporal *t)
{
    if (!t)
        return;
    free(t->iterations);
    free(t->bin_start);
    free(t->bin_end);
    free(t->ceiling);
    free(t->ceiling_error);
    free(t->raw);
    free(t->error);
    free(t->ceiled);
    free(t->split_median);
    free(t->per_neuroid);
    free(t->best_iteration);
    free(t->best_bin);
    free(t->peak_latency_ms);
    free(t->window_raw);
    free(t->window_error);
    free(t->window_ceiled);
    free(t->map_text);
    free(t->map_iterations);
    free(t->map_start);
    free(t->map_end);
    free(t->map_weights);
    free(t->map_raw);
    free(t->map_error);
    free(t->map_ceiled);
    free(t->best_path);
    for (size_t i = 0; t->stimulus_ids && i < t->n_stimuli; i++)
        free(t->stimulus_ids[i]);
    free(t->stimulus_ids);
    for (size_t i = 0; t->neuroid_ids && i < t->n_neuroids; i++)
        free(t->neuroid_ids[i]);
    free(t->neuroid_ids);
    if (t->owns_splits)
        ncmp_splits_free(t->splits);
    free(t);
}

static ncmp_status parse_number(const char *text, const char *what, double *v, ncmp_error *err)
{
    char *end;
    errno = 0;
    *v = strtod(text, &end);
    if (end == text || (*end && *end != ':') || errno || !isfinite(*v))
        return ncmp_fail(err, NCMP_ERR_USAGE, "--bins: %s in '%s' is not a number of ms", what, text);
    return NCMP_OK;
}

ncmp_status ncmp_temporal_parse_bins(const char *text, const ncmp_assembly *neural, double **start, double **end,
                                     size_t *n_bins, ncmp_error *err)
{
    *start = *end = NULL;
    *n_bins = 0;
    if (!neural->has_time_bins || !neural->n_time_bins)
        return ncmp_fail(
            err, NCMP_ERR_VALUE,
            "the recordings have no time_bin dimension: nothing to resolve in time (use 'neurocmp score')");
    size_t nb = 0;
    double a = 0, b = 0, step = 0;
    bool all = !strcmp(text, "all");
    if (all)
        nb = neural->n_time_bins;
    else {
        const char *c1 = strchr(text, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c1 || !c2 || strchr(c2 + 1, ':'))
            return ncmp_fail(err, NCMP_ERR_USAGE, "--bins '%s': expected 'all' or START:END:STEP in ms, e.g. 0:300:20",
                             text);
        ncmp_status st;
        if ((st = parse_number(text, "START", &a, err)) || (st = parse_number(c1 + 1, "END", &b, err)) ||
            (st = parse_number(c2 + 1, "STEP", &step, err)))
            return st;
        if (!(step > 0) || !(b > a))
            return ncmp_fail(err, NCMP_ERR_USAGE, "--bins '%s': need START < END and STEP > 0", text);
        double count = floor((b - a) / step + 1e-9);
        if (count < 1 || count > 100000)
            return ncmp_fail(err, NCMP_ERR_USAGE, "--bins '%s': gives %.0f windows (1..100000 allowed)", text, count);
        nb = (size_t)count;
        double last = a + count * step;
        if (b - last > 1e-9 * step)
            ncmp_log_warn("--bins %s: the last %g ms (%g-%g) do not fill a window of %g ms and are not scored; "
                          "choose END = START + k STEP to use them",
                          text, b - last, last, b, step);
    }
    double *s = malloc(nb * sizeof *s), *e = malloc(nb * sizeof *e);
    if (!s || !e) {
        free(s);
        free(e);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    }
    for (size_t k = 0; k < nb; k++) {
        if (all) {
            s[k] = neural->time_bin_start[k];
            e[k] = neural->time_bin_end[k];
            continue;
        }
        s[k] = a + (double)k * step;
        e[k] = a + (double)(k + 1) * step;
        bool any = false;
        for (size_t t = 0; t < neural->n_time_bins && !any; t++)
            any = neural->time_bin_start[t] >= s[k] && neural->time_bin_end[t] <= e[k];
        if (!any) {
            ncmp_fail(err, NCMP_ERR_VALUE,
                      "--bins %s: the window %g-%g ms holds no recorded time bin (the recordings have %zu bins from "
                      "%g to %g ms)",
                      text, s[k], e[k], neural->n_time_bins, neural->time_bin_start[0],
                      neural->time_bin_end[neural->n_time_bins - 1]);
            free(s);
            free(e);
            return NCMP_ERR_VALUE;
        }
    }
    *start = s;
    *end = e;
    *n_bins = nb;
    return NCMP_OK;
}

/* The inputs of bins [begin, end) over the pool (each bin independent). */
typedef struct prepare_job {
    const ncmp_assembly *neural;
    const ncmp_activations *acts;
    const double *start, *end;
    ncmp_score_inputs **in;
    size_t n_bins;
    ncmp_status *status;
    ncmp_error *errors;
} prepare_job;

static void prepare_task(void *ctx, int task, int n_tasks)
{
    prepare_job *j = ctx;
    size_t begin, end;
    ncmp_parallel_split(j->n_bins, task, n_tasks, &begin, &end);
    for (size_t b = begin; b < end; b++)
        j->status[b] =
            ncmp_score_inputs_prepare(j->neural, NULL, j->start[b], j->end[b], j->acts, &j->in[b], &j->errors[b]);
}

/* Argmax skipping NaN (first wins); n if every value is NaN. */
static size_t argmax(const double *v, size_t n, size_t stride)
{
    size_t best = n;
    for (size_t i = 0; i < n; i++)
        if (!isnan(v[i * stride]) && (best == n || v[i * stride] > v[best * stride]))
            best = i;
    return best;
}

/* The region's neuroid ids in file order (the order ncmp_assembly_select_regions keeps). */
static ncmp_status neuroid_ids(const ncmp_assembly *a, const char *region, size_t q, char ***out, ncmp_error *err)
{
    const ncmp_coord *id = ncmp_coord_find(&a->neuroid, "neuroid_id");
    const ncmp_coord *rg = region ? ncmp_coord_find(&a->neuroid, "region") : NULL;
    char **ids = calloc(q ? q : 1, sizeof *ids);
    if (!ids)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    size_t k = 0;
    for (size_t j = 0; j < a->n_neuroids; j++) {
        if (region && !(rg && rg->strings && !strcmp(rg->strings[j], region)))
            continue;
        if (k < q) {
            char buf[32];
            snprintf(buf, sizeof buf, "neuroid%zu", j);
            ids[k] = strdup(id && id->strings ? id->strings[j] : buf);
            if (!ids[k]) {
                for (size_t i = 0; i < k; i++)
                    free(ids[i]);
                free(ids);
                return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
            }
        }
        k++;
    }
    if (k != q) {
        for (size_t i = 0; i < q && i < k; i++)
            free(ids[i]);
        free(ids);
        return ncmp_fail(err, NCMP_ERR_INTERNAL, "temporal: %zu neuroid ids for %zu scored neuroids", k, q);
    }
    *out = ids;
    return NCMP_OK;
}

/* Store a score of nb * q target columns (bin-major) as nb cells of row t: its splits are splits
 * first.. of the matrix (all of them with one rank; a rank's share under MPI, results/score_ranks.h).  The
 * cells are aggregated once every split is in (aggregate_cells). */
static void store_columns(ncmp_temporal *r, size_t t, size_t b0, size_t nb, const ncmp_score *s, size_t first)
{
    size_t K = r->n_splits, q = r->n_neuroids, B = r->n_bins, qs = s->n_neuroids;
    for (size_t b = 0; b < nb; b++) {
        size_t cell = t * B + b0 + b;
        double *pn = r->per_neuroid + (cell * K + first) * q;
        for (size_t k = 0; k < s->n_splits; k++)
            memcpy(pn + k * q, s->per_neuroid + k * qs + b * q, q * sizeof *pn);
    }
    if (s->min_components_used < r->min_components_used)
        r->min_components_used = s->min_components_used;
}

/* Cell (t, b) from a score of its own; b == n_bins is the window score (its values go to window[t][K][q]). */
static void store_cell(ncmp_temporal *r, size_t t, size_t b, const ncmp_score *s, size_t first, double *window)
{
    if (b < r->n_bins) {
        store_columns(r, t, b, 1, s, first);
        return;
    }
    size_t K = r->n_splits, q = r->n_neuroids;
    memcpy(window + (t * K + first) * q, s->per_neuroid, s->n_splits * q * sizeof *window);
    if (s->min_components_used < r->min_components_used)
        r->min_components_used = s->min_components_used;
}

/* raw, error and split medians of every cell (and of the window) from the per-neuroid values, as each score
 * aggregates its own (ncmp_score_aggregate). */
static void aggregate_cells(ncmp_temporal *r, const double *window)
{
    size_t K = r->n_splits, q = r->n_neuroids, B = r->n_bins;
    for (size_t cell = 0; cell < r->n_iterations * B; cell++)
        ncmp_score_aggregate(r->per_neuroid + cell * K * q, K, q, r->split_median + cell * K, &r->raw[cell],
                             &r->error[cell]);
    for (size_t t = 0; r->has_window && t < r->n_iterations; t++) {
        double *median = malloc(K * sizeof *median);
        if (!median) /* K doubles: only when memory is already gone; the window stays NaN */
            break;
        ncmp_score_aggregate(window + t * K * q, K, q, median, &r->window_raw[t], &r->window_error[t]);
        r->window_ceiled[t] = ncmp_ceiled(r->window_raw[t], r->window_ceiling, r->normalization);
        free(median);
    }
}

/* The committed map's score per bin (results/temporal_align.h), with the mode's regression. */
static ncmp_status score_map(ncmp_temporal *r, const ncmp_activations *acts, const char *layer,
                             const ncmp_temporal_map *m, ncmp_score_inputs *const *in, const double *const *Y, size_t B,
                             size_t n, size_t q, const ncmp_temporal_options *o, const ncmp_pls_options *po,
                             bool any_ceiling, ncmp_error *err)
{
    const size_t S = m->n_steps;
    size_t *steps = malloc(S * sizeof *steps);
    ncmp_score **scores = calloc(B, sizeof *scores);
    r->map_text = strdup(m->text);
    r->map_steps = S;
    r->map_iterations = malloc(S * sizeof *r->map_iterations);
    r->map_start = malloc(S * sizeof *r->map_start);
    r->map_end = malloc(S * sizeof *r->map_end);
    r->map_weights = malloc(B * S * sizeof *r->map_weights);
    r->map_raw = malloc(B * sizeof *r->map_raw);
    r->map_error = malloc(B * sizeof *r->map_error);
    r->map_ceiled = malloc(B * sizeof *r->map_ceiled);
    ncmp_status st = NCMP_OK;
    if (!steps || !scores || !r->map_text || !r->map_iterations || !r->map_start || !r->map_end || !r->map_weights ||
        !r->map_raw || !r->map_error || !r->map_ceiled) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        goto done;
    }
    memcpy(r->map_iterations, m->iterations, S * sizeof *m->iterations);
    memcpy(r->map_start, m->start, S * sizeof *m->start);
    memcpy(r->map_end, m->end, S * sizeof *m->end);
    for (size_t k = 0; k < S && !st; k++)
        st = ncmp_activations_iteration_index(acts, m->iterations[k], &steps[k], err);
    if (st || (st = ncmp_temporal_map_weights(m, r->bin_start, r->bin_end, B, r->map_weights, err)))
        goto done;
    if ((st = ncmp_temporal_aligned_scores(acts, layer, steps, S, r->map_weights, B, in[0]->rows, n, Y, q, r->splits,
                                           o->mode == NCMP_TEMPORAL_SPAN, po, o->block_bytes, scores, err))) {
        ncmp_error_context(err, "--map %s", m->text);
        goto done;
    }
    double sum = 0;
    size_t counted = 0;
    for (size_t b = 0; b < B; b++) {
        r->map_raw[b] = scores[b]->raw;
        r->map_error[b] = scores[b]->error;
        r->map_ceiled[b] = ncmp_ceiled(scores[b]->raw, r->ceiling[b], r->normalization);
        double v = any_ceiling ? r->map_ceiled[b] : r->map_raw[b];
        if (!isnan(v)) {
            sum += v;
            counted++;
        }
    }
    r->map_mean = counted ? sum / (double)counted : NAN;
    r->has_map = true;
done:
    for (size_t b = 0; scores && b < B; b++)
        ncmp_score_free(scores[b]);
    free(scores);
    free(steps);
    return st;
}

ncmp_status ncmp_temporal_compute(const ncmp_activations *acts, const char *layer, const ncmp_assembly *neural,
                                  const char *region, const ncmp_temporal_options *options, ncmp_temporal **out,
                                  ncmp_error *err)
{
    *out = NULL;
    ncmp_temporal_options o;
    ncmp_temporal_defaults(&o);
    if (options)
        o = *options;
    if (o.mode == NCMP_TEMPORAL_SPAN && o.metric != NCMP_TEMPORAL_PLS)
        return ncmp_fail(err, NCMP_ERR_USAGE,
                         "--mode span is Brain-Score's spantime_pls: use it with --metric pls (ridge scores per bin)");
    if (o.map && o.mode == NCMP_TEMPORAL_SHARED)
        return ncmp_fail(err, NCMP_ERR_USAGE,
                         "--map scores with --mode per-bin or span (Brain-Score's protocols), "
                         "not shared");
    if (o.map && o.metric != NCMP_TEMPORAL_PLS)
        return ncmp_fail(err, NCMP_ERR_USAGE, "--map is scored with PLS (--metric pls)");
    if (o.mode == NCMP_TEMPORAL_SHARED && o.metric == NCMP_TEMPORAL_RIDGE)
        return ncmp_fail(err, NCMP_ERR_USAGE,
                         "ridge fits every neuroid of every bin on its own (alpha per target), so a shared mode would "
                         "be identical to per-bin; use --mode per-bin with ridge");
    if (!neural->has_time_bins || !neural->n_time_bins)
        return ncmp_fail(err, NCMP_ERR_VALUE,
                         "%s has no time_bin dimension: nothing to resolve in time (use 'neurocmp score')",
                         neural->source && neural->source[0] ? neural->source : "the recordings");
    ncmp_status st = NCMP_OK;
    size_t p = 0;
    if ((st = ncmp_activations_layer_features(acts, layer, &p, err)))
        return st;
    ncmp_temporal *r = calloc(1, sizeof *r);
    ncmp_assembly *selected = NULL;
    const ncmp_assembly *source = neural;
    ncmp_score_inputs **in = NULL;
    double *features = NULL, *Ycat = NULL;
    size_t *it_index = NULL;
    const double **Yp = NULL;
    ncmp_score **cells = NULL;
    ncmp_progress *bar = NULL;
    double *window_values = NULL;
    ncmp_splits *mine = NULL;
    int *owner = NULL;
    if (!r)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    r->n_features = p;
    r->min_components_used = o.pls.n_components;
    /* Bins (windows) and iterations. */
    size_t B = o.bin_start ? o.n_bins : neural->n_time_bins;
    size_t T = o.iterations ? o.n_iterations : acts->n_iterations;
    if (!B || !T) {
        st = ncmp_fail(err, NCMP_ERR_USAGE, "temporal: no %s selected", B ? "iterations" : "time bins");
        goto done;
    }
    r->n_bins = B;
    r->normalization = options->normalization;
    r->n_iterations = T;
    r->bin_start = malloc(B * sizeof(double));
    r->bin_end = malloc(B * sizeof(double));
    r->ceiling = malloc(B * sizeof(double));
    r->ceiling_error = malloc(B * sizeof(double));
    r->iterations = malloc(T * sizeof(long long));
    it_index = malloc(T * sizeof *it_index);
    in = calloc(B + 1, sizeof *in);
    if (!r->bin_start || !r->bin_end || !r->ceiling || !r->ceiling_error || !r->iterations || !it_index || !in) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t b = 0; b < B; b++) {
        r->bin_start[b] = o.bin_start ? o.bin_start[b] : neural->time_bin_start[b];
        r->bin_end[b] = o.bin_start ? o.bin_end[b] : neural->time_bin_end[b];
    }
    for (size_t t = 0; t < T; t++) {
        r->iterations[t] = o.iterations ? o.iterations[t] : acts->iterations[t];
        if ((st = ncmp_activations_iteration_index(acts, r->iterations[t], &it_index[t], err)))
            goto done;
    }
    /* The responses of every bin, exactly as `score --time-window START:END` prepares them
     * (the region selected once; the bins, each with its ceiling, over the pool). */
    if (region) {
        if ((st = ncmp_assembly_select_regions(neural, &region, 1, &selected, err)))
            goto done;
        source = selected;
    }
    {
        prepare_job job = {source, acts, r->bin_start, r->bin_end, in, B, NULL, NULL};
        job.status = calloc(B, sizeof *job.status);
        job.errors = calloc(B, sizeof *job.errors);
        if (!job.status || !job.errors) {
            free(job.status);
            free(job.errors);
            st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
            goto done;
        }
        /* Recordings without repetitions: say so once, not once per bin. */
        bool quiet = !ncmp_coord_find(&source->presentation, "repetition");
        ncmp_log_level level = ncmp_log_get_level();
        if (quiet) {
            ncmp_log_warn("%s has no 'repetition' coordinate (already averaged): no ceilings; ceiled is null",
                          neural->source && neural->source[0] ? neural->source : "the recordings");
            if (level > NCMP_LOG_ERROR)
                ncmp_log_set_level(NCMP_LOG_ERROR);
        }
        ncmp_parallel_run(ncmp_parallel_threads(), prepare_task, &job);
        ncmp_log_set_level(level);
        for (size_t b = 0; b < B && !st; b++)
            if ((st = job.status[b])) {
                *err = job.errors[b];
                ncmp_error_context(err, "time bin %g-%g ms", r->bin_start[b], r->bin_end[b]);
            }
        free(job.status);
        free(job.errors);
        if (st)
            goto done;
    }
    for (size_t b = 0; b < B; b++) {
        r->ceiling[b] = in[b]->ceiling;
        r->ceiling_error[b] = in[b]->ceiling_error;
        if (b && (in[b]->n_stimuli != in[0]->n_stimuli || in[b]->n_neuroids != in[0]->n_neuroids)) {
            st = ncmp_fail(err, NCMP_ERR_INTERNAL, "time bin %zu: %zu x %zu responses, bin 0 has %zu x %zu", b,
                           in[b]->n_stimuli, in[b]->n_neuroids, in[0]->n_stimuli, in[0]->n_neuroids);
            goto done;
        }
    }
    /* The standard window as one more response set, when it holds recorded bins. */
    r->window_start_ms = o.window_start_ms;
    r->window_end_ms = o.window_end_ms;
    r->window_ceiling = r->window_ceiling_error = NAN;
    if (!isnan(o.window_start_ms)) {
        bool any = false;
        for (size_t k = 0; k < neural->n_time_bins && !any; k++)
            any = neural->time_bin_start[k] >= o.window_start_ms && neural->time_bin_end[k] <= o.window_end_ms;
        if (!any)
            ncmp_log_warn("no recorded time bin lies inside %g-%g ms: no window score", o.window_start_ms,
                          o.window_end_ms);
        else if ((st =
                      ncmp_score_inputs_prepare(source, NULL, o.window_start_ms, o.window_end_ms, acts, &in[B], err))) {
            ncmp_error_context(err, "time window %g-%g ms", o.window_start_ms, o.window_end_ms);
            goto done;
        } else {
            r->has_window = true;
            r->window_ceiling = in[B]->ceiling;
            r->window_ceiling_error = in[B]->ceiling_error;
        }
    }
    const size_t n = in[0]->n_stimuli, q = in[0]->n_neuroids;
    const size_t W = r->has_window ? 1 : 0; /* response sets beyond the bins */
    r->n_stimuli = n;
    r->n_neuroids = q;
    r->n_unused_activations = in[0]->n_unused_activations;
    r->stimulus_ids = in[0]->stimulus_ids; /* take ownership */
    in[0]->stimulus_ids = NULL;
    if ((st = neuroid_ids(neural, region, q, &r->neuroid_ids, err)))
        goto done;
    /* Splits: drawn once, as `score` draws them, and shared by every cell. */
    if (o.splits) {
        if (o.splits->n_samples != n) {
            st = ncmp_fail(err, NCMP_ERR_SHAPE, "the given splits are over %zu stimuli, the recordings have %zu",
                           o.splits->n_samples, n);
            goto done;
        }
        r->splits = (ncmp_splits *)o.splits;
    } else {
        r->owns_splits = true;
        /* The ids moved to r: the inputs of the first bin still have the same labels. */
        ncmp_score_inputs ids = *in[0];
        ids.stimulus_ids = r->stimulus_ids;
        if ((st = ncmp_score_inputs_splits(&ids, o.splits_path, &r->splits, err)))
            goto done;
    }
    const size_t K = r->splits->n_splits;
    r->n_splits = K;
    size_t max_train = 0;
    for (size_t s = 0; s < K; s++)
        if (ncmp_splits_n_train(r->splits, s) > max_train)
            max_train = ncmp_splits_n_train(r->splits, s);
    bool pls = o.metric == NCMP_TEMPORAL_PLS;
    if (pls && (max_train < (size_t)o.pls.n_components || p < (size_t)o.pls.n_components)) {
        st = ncmp_fail(err, NCMP_ERR_VALUE, "%zu training stimuli and %zu features; PLS with %d components needs more",
                       max_train, p, o.pls.n_components);
        goto done;
    }
    ncmp_pls_solver solver = o.pls.solver;
    if (solver == NCMP_PLS_AUTO)
        solver = ncmp_pls_choose_solver(n, max_train, p, q);
    ncmp_pls_options po = o.pls;
    po.solver = solver;
    r->raw = malloc(T * B * sizeof(double));
    r->error = malloc(T * B * sizeof(double));
    r->ceiled = malloc(T * B * sizeof(double));
    r->split_median = malloc(T * B * K * sizeof(double));
    /* zeros: under MPI each value is written by one rank and the arrays are summed over the ranks */
    r->per_neuroid = calloc(T * B * K * q, sizeof(double));
    window_values = calloc(W ? T * K * q : 1, sizeof *window_values);
    r->best_iteration = malloc(B * sizeof(size_t));
    r->best_bin = malloc(T * sizeof(size_t));
    r->peak_latency_ms = malloc(T * sizeof(double));
    r->window_raw = malloc(T * sizeof(double));
    r->window_error = malloc(T * sizeof(double));
    r->window_ceiled = malloc(T * sizeof(double));
    size_t n_buf = solver == NCMP_PLS_KERNEL ? n * n : n * p;
    features = malloc(n_buf * sizeof *features);
    bool concat = !pls || o.mode == NCMP_TEMPORAL_SHARED;
    Ycat = concat ? malloc(n * B * q * sizeof *Ycat) : NULL;
    Yp = malloc((B + 1) * sizeof *Yp);
    cells = calloc(B + 1, sizeof *cells);
    if (!r->window_raw || !r->window_error || !r->window_ceiled || !r->raw || !r->error || !r->ceiled ||
        !r->split_median || !r->per_neuroid || !r->best_iteration || !r->best_bin || !r->peak_latency_ms || !features ||
        (concat && !Ycat) || !Yp || !cells || !window_values) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory for %zu iterations x %zu bins x %zu stimuli x %zu neuroids",
                       T, B, n, q);
        goto done;
    }
    if (W)
        Yp[B] = in[B]->responses;
    for (size_t t = 0; t < T; t++)
        r->window_raw[t] = r->window_error[t] = r->window_ceiled[t] = NAN;
    for (size_t b = 0; b < B; b++) {
        Yp[b] = in[b]->responses;
        for (size_t i = 0; concat && i < n; i++)
            memcpy(Ycat + i * B * q + b * q, in[b]->responses + i * q, q * sizeof *Ycat);
    }
    /* Responses checked per bin up front, so a bad one is named by its bin whichever solver runs. */
    for (size_t b = 0; b < B + W; b++) {
        size_t mt, ms;
        if ((st = ncmp_score_check_inputs(n, p, Yp[b], q, r->splits, &mt, &ms, err))) {
            if (b < B)
                ncmp_error_context(err, "time bin %g-%g ms", r->bin_start[b], r->bin_end[b]);
            else
                ncmp_error_context(err, "time window %g-%g ms", o.window_start_ms, o.window_end_ms);
            goto done;
        }
    }
    ncmp_linear_options lo = {NCMP_LINEAR_RIDGE, NULL, 0};
    /* Under MPI (results/score_ranks.h): with at least as many iterations as ranks, or from the features, each
     * rank scores whole iterations (ncmp_tasks_assign), reading them and forming their Gram matrices alone, as one
     * process does.  With fewer iterations than ranks on the Gram-matrix path, every rank takes part in each
     * iteration's matrix and fits its share of the splits (`splits`, the first of which is split `first`).  The
     * values meet in the sums after the loop. */
    const bool ranks = ncmp_dist_parallel(), kernel = solver == NCMP_PLS_KERNEL;
    const int rank = ncmp_dist_rank(), n_ranks = ncmp_dist_size();
    const bool whole = ranks && (!kernel || T >= (size_t)n_ranks);
    const ncmp_splits *splits = r->splits;
    size_t first = 0, end = K, mine_iterations = 0;
    if (ranks && !whole) {
        ncmp_split_share(0, K, K, rank, n_ranks, &first, &end);
        if (end > first && (st = ncmp_splits_range(r->splits, first, end, &mine, err)))
            goto done;
        splits = mine;
    }
    if (whole) {
        double *cost = malloc(T * sizeof *cost);
        if (!(owner = malloc(T * sizeof *owner)) || !cost) {
            free(cost);
            st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
            goto done;
        }
        for (size_t t = 0; t < T; t++)
            cost[t] = (double)n * (double)p + 1; /* the same for every iteration: dealt round robin */
        ncmp_tasks_assign(cost, T, n_ranks, owner);
        free(cost);
        for (size_t t = 0; t < T; t++)
            mine_iterations += owner[t] == rank;
    }
    if (ranks && rank == 0)
        ncmp_log_debug("temporal on %d ranks: %zu iteration%s %s", n_ranks, T, T == 1 ? "" : "s",
                       whole ? (kernel ? "each whole on one rank (its Gram matrix formed alone, none communicated)"
                                       : "each whole on one rank (features path)")
                             : "fewer than the ranks: each Gram matrix summed from every rank's feature columns, "
                               "splits shared");
    double t_read = 0, t_fits = 0, t_sums = 0, mark = 0; /* -v: where time goes */
    if (o.progress)
        bar = ncmp_progress_start("temporal", T, "iterations");
    for (size_t t = 0; t < T; t++) {
        mark = now_seconds();
        if (whole && owner[t] != rank)
            continue;
        if (kernel && !whole) {
            if ((st = ncmp_gram_over_ranks(NCMP_OK, acts, layer, it_index[t], in[0]->rows, n, o.block_bytes, features,
                                           err)))
                goto iteration_fail;
            t_read += now_seconds() - mark;
            if (!splits) /* more ranks than splits: nothing to fit here */
                continue;
        } else if (kernel) {
            if ((st = ncmp_activations_gram(acts, layer, it_index[t], in[0]->rows, n, o.block_bytes, features, err)))
                goto iteration_fail;
        } else if ((st = ncmp_activations_read_features(acts, layer, it_index[t], in[0]->rows, n, features, err)))
            goto iteration_fail;
        if (whole || !kernel)
            t_read += now_seconds() - mark;
        mark = now_seconds();
        if (o.mode == NCMP_TEMPORAL_SPAN) {
            /* one stacked fit for the bins; the window, a single response set, as per-bin */
            if ((st = ncmp_temporal_span_scores(features, kernel, n, p, Yp, B, q, splits, &po, cells, err)))
                goto iteration_fail;
            for (size_t b = 0; b < B; b++) {
                store_cell(r, t, b, cells[b], first, window_values);
                ncmp_score_free(cells[b]);
                cells[b] = NULL;
            }
            if (W) {
                ncmp_score *s = NULL;
                if ((st = kernel ? ncmp_score_pls_gram(features, n, p, Yp[B], q, splits, &po, &s, err)
                                 : ncmp_score_pls(features, n, p, Yp[B], q, splits, &po, &s, err)))
                    goto iteration_fail;
                store_cell(r, t, B, s, first, window_values);
                ncmp_score_free(s);
            }
        } else if (!concat && kernel) {
            if ((st = ncmp_score_pls_gram_many(features, n, p, Yp, B + W, q, splits, &po, cells, err)))
                goto iteration_fail;
            for (size_t b = 0; b < B + W; b++) {
                store_cell(r, t, b, cells[b], first, window_values);
                ncmp_score_free(cells[b]);
                cells[b] = NULL;
            }
        } else if (!concat) {
            for (size_t b = 0; b < B + W; b++) {
                ncmp_score *s = NULL;
                if ((st = ncmp_score_pls(features, n, p, Yp[b], q, splits, &po, &s, err))) {
                    if (b < B)
                        ncmp_error_context(err, "time bin %g-%g ms", r->bin_start[b], r->bin_end[b]);
                    goto iteration_fail;
                }
                store_cell(r, t, b, s, first, window_values);
                ncmp_score_free(s);
            }
        } else {
            if (W) { /* the window on its own (shared mode) or as ridge targets of their own */
                ncmp_score *s = NULL;
                if (pls)
                    st = kernel ? ncmp_score_pls_gram(features, n, p, Yp[B], q, splits, &po, &s, err)
                                : ncmp_score_pls(features, n, p, Yp[B], q, splits, &po, &s, err);
                else
                    st = kernel ? ncmp_score_linear_gram(features, n, p, Yp[B], q, splits, &lo, &s, err)
                                : ncmp_score_linear(features, n, p, Yp[B], q, splits, &lo, &s, err);
                if (st)
                    goto iteration_fail;
                store_cell(r, t, B, s, first, window_values);
                ncmp_score_free(s);
            }
            ncmp_score *s = NULL;
            if (pls)
                st = kernel ? ncmp_score_pls_gram(features, n, p, Ycat, B * q, splits, &po, &s, err)
                            : ncmp_score_pls(features, n, p, Ycat, B * q, splits, &po, &s, err);
            else
                st = kernel ? ncmp_score_linear_gram(features, n, p, Ycat, B * q, splits, &lo, &s, err)
                            : ncmp_score_linear(features, n, p, Ycat, B * q, splits, &lo, &s, err);
            if (st)
                goto iteration_fail;
            store_columns(r, t, 0, B, s, first);
            ncmp_score_free(s);
        }
        t_fits += now_seconds() - mark;
        ncmp_progress_update(bar, t + 1);
        continue;
    iteration_fail:
        ncmp_error_context(err, "iteration %lld", r->iterations[t]);
        goto done;
    }
    mark = now_seconds();
    if (ranks) { /* every value was written by one rank, zeros elsewhere: the sums are the values */
        long long *fewest = malloc((size_t)n_ranks * sizeof *fewest);
        if (!fewest)
            st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        if ((st = ncmp_dist_agree(st, err)) || (st = ncmp_dist_sum_ordered(r->per_neuroid, T * B * K * q, err)) ||
            (W && (st = ncmp_dist_sum_ordered(window_values, T * K * q, err))) ||
            (st = ncmp_dist_allgather_i64(r->min_components_used, fewest, err))) {
            free(fewest);
            goto done;
        }
        for (int k = 0; k < n_ranks; k++)
            if (fewest[k] < r->min_components_used)
                r->min_components_used = (int)fewest[k];
        free(fewest);
        t_sums = now_seconds() - mark;
        /* -v: every rank's times on rank 0 (the other ranks log warnings only), one line per rank. */
        double *times = calloc((size_t)n_ranks * 4, sizeof *times);
        if (!times)
            st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        if ((st = ncmp_dist_agree(st, err))) {
            free(times);
            goto done;
        }
        const double mine_times[4] = {(double)mine_iterations, t_read, t_fits, t_sums};
        memcpy(times + (size_t)rank * 4, mine_times, sizeof mine_times);
        if ((st = ncmp_dist_sum_ordered(times, (size_t)n_ranks * 4, err))) {
            free(times);
            goto done;
        }
        for (int k = 0; rank == 0 && k < n_ranks; k++) {
            const double *x = times + (size_t)k * 4;
            if (whole)
                ncmp_log_debug("temporal, rank %d of %d: %.0f whole iteration%s: activations read and %s alone %.3f "
                               "s, fits %.3f s; waited for the other ranks and summed the scores %.3f s",
                               k, n_ranks, x[0], x[0] == 1 ? "" : "s",
                               kernel ? "Gram matrices formed" : "features copied", x[1], x[2], x[3]);
            else
                ncmp_log_debug("temporal, rank %d of %d: shared Gram matrices %.3f s (own columns read and "
                               "multiplied, then summed), split fits %.3f s, waited and summed the scores %.3f s",
                               k, n_ranks, x[1], x[2], x[3]);
        }
        free(times);
    }
    aggregate_cells(r, window_values);
    if (!pls)
        r->min_components_used = 0;
    for (size_t t = 0; t < T; t++)
        for (size_t b = 0; b < B; b++)
            r->ceiled[t * B + b] = ncmp_ceiled(r->raw[t * B + b], r->ceiling[b], r->normalization);
    for (size_t b = 0; b < B; b++)
        r->best_iteration[b] = argmax(r->raw + b, T, B);
    for (size_t t = 0; t < T; t++) {
        r->best_bin[t] = argmax(r->raw + t * B, B, 1);
        r->peak_latency_ms[t] =
            r->best_bin[t] < B ? 0.5 * (r->bin_start[r->best_bin[t]] + r->bin_end[r->best_bin[t]]) : NAN;
    }
    bool any_ceiling = false;
    for (size_t b = 0; b < B; b++)
        any_ceiling = any_ceiling || !isnan(r->ceiling[b]);
    if (!(r->best_path = calloc(B, sizeof *r->best_path))) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        goto done;
    }
    r->best_path_mean = ncmp_temporal_best_monotone_path(any_ceiling ? r->ceiled : r->raw, T, B, r->best_path);
    /* The map's scores are not shared over ranks yet: rank 0, which writes the results, computes them alone. */
    if (o.map && rank == 0 && (st = score_map(r, acts, layer, o.map, in, Yp, B, n, q, &o, &po, any_ceiling, err)))
        goto done;
done:
    if (st) /* not "done": the matrix is not complete */
        ncmp_progress_abandon(bar);
    else
        ncmp_progress_finish(bar);
    ncmp_assembly_free(selected);
    for (size_t b = 0; in && b <= B; b++)
        ncmp_score_inputs_free(in[b]);
    for (size_t b = 0; cells && b <= B; b++)
        ncmp_score_free(cells[b]);
    free(in);
    free(cells);
    free(features);
    free(Ycat);
    free(Yp);
    free(it_index);
    free(window_values);
    ncmp_splits_free(mine);
    free(owner);
    if (st) {
        ncmp_temporal_free(r);
        return st;
    }
    *out = r;
    return NCMP_OK;
}

double ncmp_temporal_ceiled_error(const ncmp_temporal *t, size_t i, size_t b)
{
    const size_t B = t->n_bins;
    return ncmp_ceiled_error(t->raw[i * B + b], t->error[i * B + b], t->ceiling[b], t->normalization);
}
