/* Score tables: layers x iterations x regions in one pass (docs/scoring.md "Tables"). */
#include "results/score_table.h"

#include "core/dist.h"
#include "core/h5.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/sizes.h"
#include "core/suggest.h"
#include "results/score_ranks.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void ncmp_score_table_defaults(ncmp_score_table_options *o)
{
    const ncmp_pls_options pls = NCMP_PLS_DEFAULTS;
    *o = (ncmp_score_table_options){0};
    o->window_start_ms = 70;
    o->window_end_ms = 170;
    o->metric = NCMP_METRIC_PLS;
    o->pls = pls;
    o->block_bytes = (size_t)256 << 20;
    o->normalization = NCMP_NORM_EV;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void ncmp_score_table_free(ncmp_score_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; t->cells && i < t->n_layers * t->n_iterations * t->n_regions; i++)
        ncmp_score_free(t->cells[i].score);
    free(t->cells);
    for (size_t r = 0; t->regions && r < t->n_regions; r++) {
        free(t->regions[r].name);
        ncmp_score_inputs_free(t->regions[r].inputs);
        ncmp_splits_free(t->regions[r].splits);
    }
    free(t->regions);
    ncmp_strings_free(t->layers, t->n_layers);
    free(t->n_features);
    free(t->iterations);
    free(t->iteration_index);
    free(t);
}

ncmp_score_cell *ncmp_score_table_cell(const ncmp_score_table *t, size_t layer, size_t iteration, size_t region)
{
    return &t->cells[(layer * t->n_iterations + iteration) * t->n_regions + region];
}

ncmp_status ncmp_score_table_prepare(const ncmp_activations *a, const ncmp_assembly *neural,
                                     const ncmp_score_table_options *o, ncmp_score_table **out, ncmp_error *err)
{
    *out = NULL;
    ncmp_score_table *t = calloc(1, sizeof *t);
    if (!t)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    ncmp_status st = NCMP_OK;
    t->metric = o->metric;
    t->normalization = o->normalization;
    t->n_components = o->pls.n_components;
    /* layers */
    const char *const *layers = o->layers ? o->layers : (const char *const *)a->layers;
    t->n_layers = o->layers ? o->n_layers : a->n_layers;
    if (!t->n_layers) {
        st = ncmp_fail(err, NCMP_ERR_NOT_FOUND, "%s has no layers under /activations", a->path);
        goto fail;
    }
    t->layers = calloc(t->n_layers, sizeof *t->layers);
    t->n_features = calloc(t->n_layers, sizeof *t->n_features);
    if (!t->layers || !t->n_features)
        goto nomem;
    for (size_t l = 0; l < t->n_layers; l++) {
        for (size_t k = 0; k < l; k++)
            if (!strcmp(layers[k], layers[l])) {
                st = ncmp_fail(err, NCMP_ERR_USAGE, "layer '%s' is listed twice", layers[l]);
                goto fail;
            }
        if (!(t->layers[l] = strdup(layers[l])))
            goto nomem;
        if ((st = ncmp_activations_layer_features(a, layers[l], &t->n_features[l], err)))
            goto fail;
    }
    /* iterations */
    t->n_iterations = o->iterations ? o->n_iterations : a->n_iterations;
    t->iterations = calloc(t->n_iterations ? t->n_iterations : 1, sizeof *t->iterations);
    t->iteration_index = calloc(t->n_iterations ? t->n_iterations : 1, sizeof *t->iteration_index);
    if (!t->iterations || !t->iteration_index)
        goto nomem;
    for (size_t i = 0; i < t->n_iterations; i++) {
        t->iterations[i] = o->iterations ? o->iterations[i] : a->iterations[i];
        if ((st = ncmp_activations_iteration_index(a, t->iterations[i], &t->iteration_index[i], err)))
            goto fail;
    }
    /* regions: inputs and splits, each prepared as a single `score` run prepares them */
    t->n_regions = o->regions ? o->n_regions : 1;
    t->regions = calloc(t->n_regions, sizeof *t->regions);
    if (!t->regions)
        goto nomem;
    for (size_t r = 0; r < t->n_regions; r++) {
        const char *name = o->regions ? o->regions[r] : NULL;
        for (size_t k = 0; name && k < r; k++)
            if (!strcmp(o->regions[k], name)) {
                st = ncmp_fail(err, NCMP_ERR_USAGE, "region '%s' is listed twice", name);
                goto fail;
            }
        if (name && !(t->regions[r].name = strdup(name)))
            goto nomem;
        if ((st = ncmp_score_inputs_prepare(neural, name, o->window_start_ms, o->window_end_ms, a,
                                            &t->regions[r].inputs, err)) ||
            (st = ncmp_score_inputs_splits(t->regions[r].inputs, o->splits_path, &t->regions[r].splits, err))) {
            if (name)
                ncmp_error_context(err, "region %s", name);
            goto fail;
        }
        const ncmp_splits *sp = t->regions[r].splits;
        for (size_t s = 0; o->metric == NCMP_METRIC_PLS && s < sp->n_splits; s++)
            if (ncmp_splits_n_train(sp, s) < (size_t)o->pls.n_components) {
                st = ncmp_fail(err, NCMP_ERR_VALUE,
                               "split %zu trains on %zu stimuli, fewer than the %d PLS components; need more "
                               "stimuli (or --components)",
                               s, ncmp_splits_n_train(sp, s), o->pls.n_components);
                goto fail;
            }
    }
    for (size_t l = 0; o->metric == NCMP_METRIC_PLS && l < t->n_layers; l++)
        if (t->n_features[l] < (size_t)o->pls.n_components) {
            st = ncmp_fail(err, NCMP_ERR_VALUE, "layer '%s' has %zu features, fewer than the %d PLS components",
                           t->layers[l], t->n_features[l], o->pls.n_components);
            goto fail;
        }
    size_t n_cells = t->n_layers * t->n_iterations * t->n_regions;
    t->cells = calloc(n_cells ? n_cells : 1, sizeof *t->cells);
    if (!t->cells)
        goto nomem;
    for (size_t l = 0; l < t->n_layers; l++)
        for (size_t i = 0; i < t->n_iterations; i++)
            for (size_t r = 0; r < t->n_regions; r++) {
                ncmp_score_cell *c = ncmp_score_table_cell(t, l, i, r);
                c->layer = l;
                c->iteration = i;
                c->region = r;
                c->ceiled = c->ceiled_error = NAN;
            }
    *out = t;
    return NCMP_OK;
nomem:
    st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
fail:
    ncmp_score_table_free(t);
    return st;
}

/* Regions whose scoring reads the same data: the same stimuli in the same order. */
static bool same_rows(const ncmp_score_inputs *x, const ncmp_score_inputs *y)
{
    return x->n_stimuli == y->n_stimuli && !memcmp(x->rows, y->rows, x->n_stimuli * sizeof *x->rows);
}

/* The regions of one (layer, iteration) that share the data they read: the same rows, the same solver. */
typedef struct cell_group {
    size_t layer, iteration;
    size_t *regions, n_regions;
    ncmp_pls_solver solver; /* as one process resolves it (ncmp_score_solver) */
    bool kernel;
} cell_group;

/* The groups in the order a single process scores them (ncmp_score_table_run). */
static ncmp_status make_groups(const ncmp_score_table *t, const ncmp_score_table_options *o, cell_group **out,
                               size_t *n_out, ncmp_error *err)
{
    size_t cap = t->n_layers * t->n_iterations * t->n_regions, n = 0;
    cell_group *g = calloc(cap ? cap : 1, sizeof *g);
    bool *done = calloc(t->n_regions, sizeof *done);
    ncmp_status st = g && done ? NCMP_OK : ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    for (size_t l = 0; !st && l < t->n_layers; l++)
        for (size_t i = 0; !st && i < t->n_iterations; i++) {
            memset(done, 0, t->n_regions * sizeof *done);
            for (size_t r0 = 0; !st && r0 < t->n_regions; r0++) {
                if (done[r0])
                    continue;
                const ncmp_score_table_region *R0 = &t->regions[r0];
                ncmp_pls_solver s0 =
                    ncmp_score_solver(o->metric, o->pls.solver, t->n_features[l], R0->inputs->n_neuroids, R0->splits);
                cell_group *G = &g[n++];
                *G = (cell_group){l, i, calloc(t->n_regions, sizeof *G->regions), 0, s0, s0 == NCMP_PLS_KERNEL};
                if (!G->regions) {
                    st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
                    break;
                }
                for (size_t r = r0; r < t->n_regions; r++) {
                    const ncmp_score_table_region *R = &t->regions[r];
                    if (done[r] || !same_rows(R0->inputs, R->inputs) ||
                        ncmp_score_solver(o->metric, o->pls.solver, t->n_features[l], R->inputs->n_neuroids,
                                          R->splits) != s0)
                        continue;
                    done[r] = true;
                    G->regions[G->n_regions++] = r;
                }
            }
        }
    free(done);
    *out = g;
    *n_out = n;
    return st;
}

static void free_groups(cell_group *g, size_t n)
{
    for (size_t k = 0; g && k < n; k++)
        free(g[k].regions);
    free(g);
}

static void finish_cell(const ncmp_score_table *t, ncmp_score_cell *c, ncmp_pls_solver solver)
{
    const ncmp_score_inputs *in = t->regions[c->region].inputs;
    c->solver = solver;
    c->ceiled = ncmp_ceiled(c->score->raw, in->ceiling, t->normalization);
    c->ceiled_error = ncmp_ceiled_error(c->score->raw, c->score->error, in->ceiling, t->normalization);
}

static void cell_context(const ncmp_score_table *t, const ncmp_score_cell *c, ncmp_error *err)
{
    const char *name = t->regions[c->region].name;
    ncmp_error_context(err, "layer %s, iteration %lld%s%s", t->layers[c->layer], t->iterations[c->iteration],
                       name ? ", region " : "", name ? name : "");
}

/* ncmp_score_table_run over the ranks of an MPI job (results/score_ranks.h, docs/scale-out.md).
 *
 * With at least as many Gram-matrix groups as ranks, every group is a whole task: given to one rank by
 * ncmp_tasks_assign (cost: features x stimuli), which reads its activations, forms its Gram matrix (or reads its
 * features) and fits every split alone, exactly as one process does; nothing but the finished scores is sent.
 * With fewer (one layer at one iteration, say), the groups that read features are still whole tasks, and each
 * Gram-matrix group in turn is shared: the matrix summed from every rank's feature columns, its (region, split)
 * tasks shared contiguously, each cell gathered on rank 0.  The whole tasks' cells are gathered last.  Rank 0 ends
 * with every cell, the others with none. */
static ncmp_status run_over_ranks(ncmp_score_table *t, const ncmp_activations *a, const ncmp_score_table_options *o,
                                  ncmp_score_cell_fn on_cell, void *context, ncmp_error *err)
{
    const int rank = ncmp_dist_rank(), P = ncmp_dist_size();
    cell_group *groups = NULL;
    size_t n_groups = 0, n_cells = t->n_layers * t->n_iterations * t->n_regions;
    size_t *first = calloc((size_t)P * t->n_regions, sizeof *first),
           *end = calloc((size_t)P * t->n_regions, sizeof *end);
    double *seconds = calloc(n_cells ? n_cells : 1, sizeof *seconds);
    ncmp_score **parts = calloc(t->n_regions, sizeof *parts);
    double *cost = NULL;
    int *owner = NULL;
    ncmp_status st = first && end && seconds && parts ? NCMP_OK : ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    if (!st)
        st = make_groups(t, o, &groups, &n_groups, err);
    if (!st && (!(cost = calloc(n_groups ? n_groups : 1, sizeof *cost)) ||
                !(owner = calloc(n_groups ? n_groups : 1, sizeof *owner))))
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    /* Who does what: depends only on the table and the number of ranks, so every rank computes the same. */
    size_t n_kernel = 0;
    for (size_t k = 0; !st && k < n_groups; k++)
        n_kernel += groups[k].kernel;
    const bool whole = n_kernel >= (size_t)P;
    double cost_total = 0, cost_mine = 0;
    size_t mine = 0, n_whole = 0;
    for (size_t k = 0; !st && k < n_groups; k++) {
        const cell_group *G = &groups[k];
        if (G->kernel && !whole)
            continue;
        /* at least 1: a task of no features still has an owner */
        cost[k] = (double)t->n_features[G->layer] * (double)t->regions[G->regions[0]].inputs->n_stimuli + 1;
        cost_total += cost[k];
        n_whole++;
    }
    if (!st)
        ncmp_tasks_assign(cost, n_groups, P, owner);
    for (size_t k = 0; !st && k < n_groups; k++)
        if (owner[k] == rank) {
            mine++;
            cost_mine += cost[k];
        }
    if (!st && rank == 0)
        ncmp_log_debug("score on %d ranks: %zu Gram-matrix group%s (layer x iteration) %s %d ranks: %s; %zu whole "
                       "task%s in all, dealt by features x stimuli, largest first, to the least-loaded rank",
                       P, n_kernel, n_kernel == 1 ? "" : "s", whole ? ">=" : "<", P,
                       whole ? "each whole on one rank (no Gram matrix communicated)"
                             : "each summed from every rank's feature columns, splits shared",
                       n_whole, n_whole == 1 ? "" : "s");
    uint64_t total = 0;
    for (size_t r = 0; r < t->n_regions; r++)
        total += (uint64_t)t->n_layers * t->n_iterations * t->regions[r].splits->n_splits;
    ncmp_progress *bar = o->progress && rank == 0 ? ncmp_progress_start("score", total, "splits") : NULL;
    /* -v: where time goes */
    double t_read = 0, t_own_fits = 0, t_gram = 0, t_fits = 0, t_gather = 0, t_wait = 0, mark = now_seconds();
    /* 1. This rank's whole tasks, each as one process scores it; a failure is kept for the next agreement. */
    for (size_t k = 0; !st && k < n_groups; k++) {
        const cell_group *G = &groups[k];
        if (owner[k] != rank)
            continue;
        const ncmp_score_table_region *R0 = &t->regions[G->regions[0]];
        ncmp_pls_options po = o->pls;
        po.solver = G->solver;
        double t0 = now_seconds(), *data = NULL;
        st = ncmp_score_layer_data(a, t->layers[G->layer], t->iteration_index[G->iteration], R0->inputs->rows,
                                   R0->inputs->n_stimuli, G->kernel, o->block_bytes, &data, err);
        t_read += now_seconds() - t0;
        for (size_t j = 0; !st && j < G->n_regions; j++) {
            ncmp_score_cell *c = ncmp_score_table_cell(t, G->layer, G->iteration, G->regions[j]);
            const ncmp_score_table_region *R = &t->regions[c->region];
            double t_fit0 = now_seconds();
            if ((st = ncmp_score_from_data(data, G->kernel, t->n_features[G->layer], R->inputs, R->splits, o->metric,
                                           &po, &c->score, err)))
                cell_context(t, c, err);
            double t1 = now_seconds();
            t_own_fits += t1 - t_fit0;
            seconds[(size_t)(c - t->cells)] = t1 - t0;
            t0 = t1;
        }
        free(data);
    }
    /* 2. Shared Gram-matrix groups (fewer than ranks), every rank in each. */
    double *G_data = NULL;
    size_t G_bytes = 0;
    for (size_t k = 0; !whole && k < n_groups; k++) {
        const cell_group *G = &groups[k];
        if (!G->kernel)
            continue;
        const ncmp_score_table_region *R0 = &t->regions[G->regions[0]];
        const size_t n = R0->inputs->n_stimuli, l = G->layer;
        ncmp_pls_options po = o->pls;
        po.solver = NCMP_PLS_KERNEL;
        double t0 = now_seconds();
        size_t bytes = 0;
        if (!st && !(st = ncmp_size_2d(a->path, "the Gram matrix", n, n, sizeof(double), &bytes, err)) &&
            bytes > G_bytes) {
            free(G_data);
            G_bytes = 0;
            if (!(G_data = malloc(bytes ? bytes : 1)))
                st =
                    ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory for the Gram matrix (%.1f GB)", (double)bytes * 1e-9);
            else
                G_bytes = bytes;
        }
        mark = now_seconds();
        st = ncmp_gram_over_ranks(st, a, t->layers[l], t->iteration_index[G->iteration], R0->inputs->rows, n,
                                  o->block_bytes, G_data, err);
        t_gram += now_seconds() - mark;
        if (st)
            break;
        mark = now_seconds();
        size_t tasks = 0;
        for (size_t j = 0; j < G->n_regions; j++)
            tasks += t->regions[G->regions[j]].splits->n_splits;
        for (size_t j = 0, offset = 0; j < G->n_regions; j++) {
            const ncmp_score_table_region *R = &t->regions[G->regions[j]];
            size_t *fj = first + j * (size_t)P, *ej = end + j * (size_t)P;
            for (int r = 0; r < P; r++)
                ncmp_split_share(offset, R->splits->n_splits, tasks, r, P, &fj[r], &ej[r]);
            offset += R->splits->n_splits;
            ncmp_splits *share = NULL;
            if (st || ej[rank] <= fj[rank])
                continue;
            if (!(st = ncmp_splits_range(R->splits, fj[rank], ej[rank], &share, err)) &&
                (st = ncmp_score_from_data(G_data, true, t->n_features[l], R->inputs, share, o->metric, &po, &parts[j],
                                           err)))
                cell_context(t, ncmp_score_table_cell(t, l, G->iteration, G->regions[j]), err);
            ncmp_splits_free(share);
        }
        t_fits += now_seconds() - mark;
        mark = now_seconds();
        for (size_t j = 0; j < G->n_regions; j++) {
            const ncmp_score_table_region *R = &t->regions[G->regions[j]];
            ncmp_score_cell *c = ncmp_score_table_cell(t, l, G->iteration, G->regions[j]);
            st = ncmp_score_gather(st, &parts[j], R->splits, first + j * (size_t)P, end + j * (size_t)P,
                                   R->inputs->n_stimuli, R->inputs->n_neuroids, err);
            if (st) /* agreed: every rank stops here */
                break;
            if (rank == 0) {
                c->score = parts[j];
                parts[j] = NULL;
                finish_cell(t, c, po.solver);
                double t1 = now_seconds();
                seconds[(size_t)(c - t->cells)] = t1 - t0;
                t0 = t1;
                ncmp_progress_advance(bar, R->splits->n_splits);
            }
        }
        t_gather += now_seconds() - mark;
        for (size_t j = 0; j < G->n_regions; j++) {
            ncmp_score_free(parts[j]);
            parts[j] = NULL;
        }
        if (st)
            break;
    }
    free(G_data);
    /* 3. The whole tasks' cells to rank 0 (after one agreement: a failure any rank met ends every rank here), then
     * every cell's time. */
    mark = now_seconds();
    if (!ncmp_dist_failure_agreed()) {
        st = ncmp_dist_agree(st, err);
        t_wait = now_seconds() - mark;
        for (size_t k = 0; !st && k < n_groups; k++) {
            const cell_group *G = &groups[k];
            if (owner[k] < 0)
                continue;
            for (size_t j = 0; j < G->n_regions; j++) {
                ncmp_score_cell *c = ncmp_score_table_cell(t, G->layer, G->iteration, G->regions[j]);
                const ncmp_score_table_region *R = &t->regions[c->region];
                for (int r = 0; r < P; r++) {
                    first[r] = 0;
                    end[r] = r == owner[k] ? R->splits->n_splits : 0;
                }
                if ((st = ncmp_score_gather(st, &c->score, R->splits, first, end, R->inputs->n_stimuli,
                                            R->inputs->n_neuroids, err)))
                    break;
                if (rank == 0) {
                    finish_cell(t, c, G->solver);
                    ncmp_progress_advance(bar, R->splits->n_splits);
                }
            }
        }
        if (!st)
            st = ncmp_dist_agree(st, err);
        if (!st)
            st = ncmp_dist_sum_ordered(seconds, n_cells, err); /* each cell's time is non-zero on one rank only */
    }
    t_gather += now_seconds() - mark - t_wait;
    /* -v: every rank's times on rank 0 (the other ranks log warnings only), one line per rank. */
    enum { N_TIMES = 8 };
    double *times = NULL;
    if (!st) /* st is the same on every rank here: failures were agreed in the gathers */
        st = ncmp_dist_agree((times = calloc((size_t)P * N_TIMES, sizeof *times))
                                 ? NCMP_OK
                                 : ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory"),
                             err);
    if (!st) {
        const double mine_times[N_TIMES] = {(double)mine, cost_total > 0 ? 100 * cost_mine / cost_total : 0.0,
                                            t_read,       t_own_fits,
                                            t_gram,       t_fits,
                                            t_wait,       t_gather};
        memcpy(times + (size_t)rank * N_TIMES, mine_times, sizeof mine_times);
        st = ncmp_dist_sum_ordered(times, (size_t)P * N_TIMES, err); /* zeros elsewhere: the sums are the values */
    }
    for (int r = 0; !st && rank == 0 && r < P; r++) {
        const double *x = times + (size_t)r * N_TIMES;
        if (whole)
            ncmp_log_debug("score, rank %d of %d: %.0f whole task%s (%.0f%% of the cost): activations read and Gram "
                           "matrices formed alone %.3f s, fits %.3f s; waited %.3f s for the other ranks, gathering "
                           "on rank 0 %.3f s",
                           r, P, x[0], x[0] == 1 ? "" : "s", x[1], x[2], x[3], x[6], x[7]);
        else
            ncmp_log_debug("score, rank %d of %d: shared Gram matrices %.3f s (own columns read and multiplied, then "
                           "summed), split fits %.3f s; %.0f whole features task%s: read %.3f s, fits %.3f s; waited "
                           "%.3f s, gathering on rank 0 %.3f s",
                           r, P, x[4], x[5], x[0], x[0] == 1 ? "" : "s", x[2], x[3], x[6], x[7]);
    }
    free(times);
    for (size_t k = 0; !st && rank == 0 && k < n_cells; k++) {
        t->cells[k].seconds = seconds[k];
        if (on_cell && on_cell(t, &t->cells[k], context))
            st = ncmp_fail(err, NCMP_ERR_INTERRUPTED, "interrupted");
    }
    if (rank != 0) /* partial or foreign cells: only rank 0 holds the table */
        for (size_t k = 0; k < n_cells; k++) {
            ncmp_score_free(t->cells[k].score);
            t->cells[k].score = NULL;
        }
    if (st)
        ncmp_progress_abandon(bar);
    else
        ncmp_progress_finish(bar);
    free_groups(groups, n_groups);
    free(first);
    free(end);
    free(seconds);
    free(parts);
    free(cost);
    free(owner);
    return st;
}

ncmp_status ncmp_score_table_run(ncmp_score_table *t, const ncmp_activations *a, const ncmp_score_table_options *o,
                                 ncmp_score_cell_fn on_cell, void *context, ncmp_error *err)
{
    if (ncmp_dist_parallel())
        return run_over_ranks(t, a, o, on_cell, context, err);
    uint64_t total = 0;
    for (size_t r = 0; r < t->n_regions; r++)
        total += (uint64_t)t->n_layers * t->n_iterations * t->regions[r].splits->n_splits;
    ncmp_progress *bar = o->progress ? ncmp_progress_start("score", total, "splits") : NULL;
    cell_group *groups = NULL;
    size_t n_groups = 0;
    ncmp_status st = make_groups(t, o, &groups, &n_groups, err);
    double t_gram = 0, t_read = 0, t_fits = 0; /* -v: where time goes */
    /* Each group's data (Gram matrix or features) is read once, for every region that reads the same rows. */
    for (size_t k = 0; !st && k < n_groups; k++) {
        const cell_group *G = &groups[k];
        const ncmp_score_table_region *R0 = &t->regions[G->regions[0]];
        ncmp_pls_options po = o->pls;
        po.solver = G->solver;
        double t0 = now_seconds();
        double *data = NULL;
        st = ncmp_score_layer_data(a, t->layers[G->layer], t->iteration_index[G->iteration], R0->inputs->rows,
                                   R0->inputs->n_stimuli, G->kernel, o->block_bytes, &data, err);
        *(G->kernel ? &t_gram : &t_read) += now_seconds() - t0;
        for (size_t j = 0; !st && j < G->n_regions; j++) {
            const ncmp_score_table_region *R = &t->regions[G->regions[j]];
            ncmp_score_cell *c = ncmp_score_table_cell(t, G->layer, G->iteration, G->regions[j]);
            double t_fit0 = now_seconds();
            st = ncmp_score_from_data(data, G->kernel, t->n_features[G->layer], R->inputs, R->splits, o->metric, &po,
                                      &c->score, err);
            t_fits += now_seconds() - t_fit0;
            if (st) {
                cell_context(t, c, err);
                break;
            }
            finish_cell(t, c, G->solver);
            double t1 = now_seconds();
            c->seconds = t1 - t0;
            t0 = t1;
            ncmp_progress_advance(bar, R->splits->n_splits);
            if (on_cell && on_cell(t, c, context)) {
                st = ncmp_fail(err, NCMP_ERR_INTERRUPTED, "interrupted");
                break;
            }
        }
        free(data);
    }
    free_groups(groups, n_groups);
    ncmp_log_debug("score: Gram matrices %.3f s, features read %.3f s, fits %.3f s", t_gram, t_read, t_fits);
    if (st)
        ncmp_progress_abandon(bar);
    else
        ncmp_progress_finish(bar);
    return st;
}

ncmp_status ncmp_score_table_compute(const ncmp_activations *a, const ncmp_assembly *neural,
                                     const ncmp_score_table_options *o, ncmp_score_table **out, ncmp_error *err)
{
    ncmp_status st = ncmp_score_table_prepare(a, neural, o, out, err);
    if (!st && (st = ncmp_score_table_run(*out, a, o, NULL, NULL, err))) {
        ncmp_score_table_free(*out);
        *out = NULL;
    }
    return st;
}

ncmp_status ncmp_parse_name_list(const char *option, const char *text, char ***items, size_t *n, ncmp_error *err)
{
    *items = NULL;
    *n = 0;
    if (!strcmp(text, "all"))
        return NCMP_OK;
    size_t count = 1;
    for (const char *c = text; *c; c++)
        count += *c == ',';
    char **v = calloc(count, sizeof *v);
    if (!v)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    const char *p = text;
    for (size_t k = 0; k < count; k++) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (!len) {
            ncmp_strings_free(v, count);
            return ncmp_fail(err, NCMP_ERR_USAGE, "--%s '%s': empty name in the list", option, text);
        }
        if (!(v[k] = strndup(p, len))) {
            ncmp_strings_free(v, count);
            return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        }
        p = e ? e + 1 : p + len;
    }
    *items = v;
    *n = count;
    return NCMP_OK;
}

static bool parse_ll(const char *s, const char *end, long long *v)
{
    char *stop;
    errno = 0;
    *v = strtoll(s, &stop, 10);
    return stop != s && stop == end && !errno;
}

ncmp_status ncmp_parse_iteration_list(const char *option, const char *text, long long **values, size_t *n,
                                      ncmp_error *err)
{
    *values = NULL;
    *n = 0;
    if (!strcmp(text, "all"))
        return NCMP_OK;
    long long *v = NULL;
    size_t count = 0, cap = 0;
    const char *p = text;
    for (;;) {
        const char *e = strchr(p, ',');
        const char *end = e ? e : p + strlen(p);
        const char *dash = memchr(p + 1 > end ? end : p + 1, '-', (size_t)(end - (p + 1 > end ? end : p + 1)));
        long long a, b;
        bool ok = dash ? parse_ll(p, dash, &a) && parse_ll(dash + 1, end, &b) && a <= b && b - a < 100000
                       : parse_ll(p, end, &a);
        if (!dash)
            b = a;
        if (!ok) {
            free(v);
            return ncmp_fail(err, NCMP_ERR_USAGE,
                             "--%s '%s': expected 'all' or integers and ranges such as 0,2-4 (at '%.*s')", option, text,
                             (int)(end - p), p);
        }
        for (long long x = a; x <= b; x++) {
            for (size_t k = 0; k < count; k++)
                if (v[k] == x) {
                    free(v);
                    return ncmp_fail(err, NCMP_ERR_USAGE, "--%s '%s': iteration %lld is listed twice", option, text, x);
                }
            if (count == cap) {
                cap = cap ? 2 * cap : 8;
                long long *nv = realloc(v, cap * sizeof *nv);
                if (!nv) {
                    free(v);
                    return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
                }
                v = nv;
            }
            v[count++] = x;
        }
        if (!e)
            break;
        p = e + 1;
    }
    *values = v;
    *n = count;
    return NCMP_OK;
}
