/* Neural inputs of the Brain-Score predictivity protocol (docs/neural.md). */
#include "results/protocol.h"

#include "analysis/linear_score.h"
#include "analysis/similarity.h"
#include "core/log.h"
#include "core/sizes.h"
#include "neural/ceiling.h"
#include "results/splits_json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ncmp_score_inputs_free(ncmp_score_inputs *in)
{
    if (!in)
        return;
    for (size_t i = 0; in->stimulus_ids && i < in->n_stimuli; i++)
        free(in->stimulus_ids[i]);
    for (size_t i = 0; in->labels && i < in->n_stimuli; i++)
        free(in->labels[i]);
    free(in->stimulus_ids);
    free(in->labels);
    free(in->responses);
    free(in->rows);
    free(in);
}

ncmp_status ncmp_score_inputs_prepare(const ncmp_assembly *neural, const char *region, double w0, double w1,
                                      const ncmp_activations *acts, ncmp_score_inputs **out, ncmp_error *err)
{
    *out = NULL;
    ncmp_assembly *sel = NULL, *win = NULL, *avg = NULL;
    ncmp_ceiling *ceil = NULL;
    ncmp_status st = NCMP_OK;
    ncmp_score_inputs *in = calloc(1, sizeof *in);
    if (!in)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    in->ceiling = in->ceiling_error = NAN;
    in->window_start_ms = in->window_end_ms = NAN;
    const ncmp_assembly *src = neural;
    if (region) {
        if ((st = ncmp_assembly_select_regions(src, &region, 1, &sel, err)))
            goto done;
        src = sel;
    }
    if (src->has_time_bins) {
        if ((st = ncmp_assembly_time_window(src, w0, w1, &win, err)))
            goto done;
        src = win;
        in->window_start_ms = w0;
        in->window_end_ms = w1;
    }
    if (ncmp_coord_find(&src->presentation, "repetition")) {
        ncmp_ceiling_options co = NCMP_CEILING_DEFAULTS;
        if ((st = ncmp_ceiling_split_half(src, &co, &ceil, err))) {
            ncmp_error_context(err, "ceiling");
            goto done;
        }
        in->ceiling = ceil->ceiling[0];
        in->ceiling_error = ceil->error[0];
    } else
        ncmp_log_warn("%s has no 'repetition' coordinate (already averaged): no ceiling; ceiling and ceiled are null",
                      neural->source && neural->source[0] ? neural->source : "the recordings");
    if ((st = ncmp_assembly_average_repetitions(src, &avg, err)))
        goto done;
    size_t S = avg->n_presentations, N = avg->n_neuroids;
    const ncmp_coord *sid = ncmp_coord_find(&avg->presentation, "stimulus_id");
    if (!sid || sid->kind != NCMP_COORD_STRING) {
        st = ncmp_fail(err, NCMP_ERR_FORMAT, "recordings: no string stimulus_id after averaging repetitions");
        goto done;
    }
    in->n_stimuli = S;
    in->n_neuroids = N;
    in->stimulus_ids = calloc(S, sizeof(char *));
    in->responses = malloc(S * N * sizeof(double));
    in->rows = malloc(S * sizeof(size_t));
    if (!in->stimulus_ids || !in->responses || !in->rows) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory for %zu stimuli x %zu neuroids", S, N);
        goto done;
    }
    for (size_t s = 0; s < S; s++) {
        if (!(in->stimulus_ids[s] = strdup(sid->strings[s]))) {
            st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
            goto done;
        }
        for (size_t n = 0; n < N; n++)
            in->responses[s * N + n] = *ncmp_assembly_at(avg, s, n, 0);
    }
    const ncmp_coord *obj = ncmp_coord_find(&avg->presentation, "object_name");
    if (obj && obj->kind == NCMP_COORD_STRING) {
        in->labels = calloc(S, sizeof(char *));
        if (!in->labels) {
            st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
            goto done;
        }
        for (size_t s = 0; s < S; s++)
            if (!(in->labels[s] = strdup(obj->strings[s]))) {
                st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
                goto done;
            }
    } else if (ncmp_coord_find(&src->presentation, "object_name"))
        ncmp_log_warn("object_name is not constant within every stimulus; splits are not stratified");
    if ((st = ncmp_activations_match(acts, (const char *const *)in->stimulus_ids, S, in->rows, err)))
        goto done;
    in->n_unused_activations = acts->n_stimuli > S ? acts->n_stimuli - S : 0;
done:
    ncmp_ceiling_free(ceil);
    ncmp_assembly_free(sel);
    ncmp_assembly_free(win);
    ncmp_assembly_free(avg);
    if (st) {
        ncmp_score_inputs_free(in);
        return st;
    }
    *out = in;
    return NCMP_OK;
}

ncmp_status ncmp_score_inputs_splits(const ncmp_score_inputs *in, const char *splits_path, ncmp_splits **out,
                                     ncmp_error *err)
{
    ncmp_status st;
    if (splits_path)
        return ncmp_splits_read_json(splits_path, in->n_stimuli, (const char *const *)in->stimulus_ids, out, err);
    if (in->labels) {
        if ((st = ncmp_splits_stratified((const char *const *)in->labels, in->n_stimuli, 0.9, 10, 1, out, err)))
            ncmp_error_context(err, "splitting %zu stimuli by object_name", in->n_stimuli);
        return st;
    }
    if ((st = ncmp_splits_shuffle(in->n_stimuli, 0.9, 10, 1, out, err)))
        ncmp_error_context(err, "splitting %zu stimuli", in->n_stimuli);
    return st;
}

ncmp_status ncmp_metric_parse(const char *name, ncmp_metric *metric, ncmp_error *err)
{
    static const char *const names[] = {"pls", "ridge", "ols", "rsa", "cka"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(name, names[i])) {
            *metric = (ncmp_metric)i;
            return NCMP_OK;
        }
    return ncmp_fail(err, NCMP_ERR_USAGE, "--metric '%s' is unknown; expected pls, ridge, ols, rsa or cka", name);
}

ncmp_pls_solver ncmp_score_solver(ncmp_metric metric, ncmp_pls_solver requested, size_t p, size_t q,
                                  const ncmp_splits *splits)
{
    if (metric == NCMP_METRIC_RSA)
        return NCMP_PLS_NIPALS;
    if (metric == NCMP_METRIC_CKA)
        return NCMP_PLS_KERNEL;
    if (requested != NCMP_PLS_AUTO)
        return requested;
    size_t max_train = 0;
    for (size_t s = 0; s < splits->n_splits; s++)
        if (ncmp_splits_n_train(splits, s) > max_train)
            max_train = ncmp_splits_n_train(splits, s);
    if (metric == NCMP_METRIC_PLS)
        return ncmp_pls_choose_solver(splits->n_samples, max_train, p, q);
    return p > max_train ? NCMP_PLS_KERNEL : NCMP_PLS_NIPALS; /* ridge/OLS: dual when p > n */
}

ncmp_status ncmp_score_layer_data(const ncmp_activations *acts, const char *layer, size_t it, const size_t *rows,
                                  size_t n, bool kernel, size_t block_bytes, double **out, ncmp_error *err)
{
    *out = NULL;
    size_t p = 0;
    ncmp_status st = ncmp_activations_layer_features(acts, layer, &p, err);
    if (st)
        return st;
    size_t bytes;
    if ((st = ncmp_size_2d(acts->path, kernel ? "the Gram matrix" : "the features", n, kernel ? n : p, sizeof(double),
                           &bytes, err)))
        return st;
    double *buf = malloc(bytes ? bytes : 1);
    if (!buf)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory for %s (%.1f GB)",
                         kernel ? "the Gram matrix" : "the features", (double)bytes * 1e-9);
    st = kernel ? ncmp_activations_gram(acts, layer, it, rows, n, block_bytes, buf, err)
                : ncmp_activations_read_features(acts, layer, it, rows, n, buf, err);
    if (st) {
        free(buf);
        return st;
    }
    *out = buf;
    return NCMP_OK;
}

ncmp_status ncmp_score_from_data(const double *data, bool kernel, size_t p, const ncmp_score_inputs *in,
                                 const ncmp_splits *splits, ncmp_metric metric, const ncmp_pls_options *pls,
                                 ncmp_score **out, ncmp_error *err)
{
    const size_t n = in->n_stimuli, q = in->n_neuroids;
    ncmp_linear_options lo = {metric == NCMP_METRIC_OLS ? NCMP_LINEAR_OLS : NCMP_LINEAR_RIDGE, NULL, 0};
    switch (metric) {
    case NCMP_METRIC_PLS:
        return kernel ? ncmp_score_pls_gram(data, n, p, in->responses, q, splits, pls, out, err)
                      : ncmp_score_pls(data, n, p, in->responses, q, splits, pls, out, err);
    case NCMP_METRIC_RIDGE:
    case NCMP_METRIC_OLS:
        return kernel ? ncmp_score_linear_gram(data, n, p, in->responses, q, splits, &lo, out, err)
                      : ncmp_score_linear(data, n, p, in->responses, q, splits, &lo, out, err);
    case NCMP_METRIC_RSA:
        return ncmp_score_rsa(data, n, p, in->responses, q, splits, out, err);
    case NCMP_METRIC_CKA:
        return ncmp_score_cka_gram(data, n, p, in->responses, q, splits, out, err);
    }
    return ncmp_fail(err, NCMP_ERR_INTERNAL, "unknown metric %d", (int)metric);
}

ncmp_status ncmp_score_layer(const ncmp_activations *acts, const char *layer, size_t it, const ncmp_score_inputs *in,
                             const ncmp_splits *splits, ncmp_metric metric, const ncmp_pls_options *pls,
                             size_t block_bytes, ncmp_score **out, ncmp_error *err)
{
    *out = NULL;
    size_t p = 0;
    ncmp_status st = ncmp_activations_layer_features(acts, layer, &p, err);
    if (st)
        return st;
    ncmp_pls_options po = NCMP_PLS_DEFAULTS;
    if (pls)
        po = *pls;
    po.solver = ncmp_score_solver(metric, po.solver, p, in->n_neuroids, splits);
    bool kernel = po.solver == NCMP_PLS_KERNEL;
    double *buf;
    if ((st = ncmp_score_layer_data(acts, layer, it, in->rows, in->n_stimuli, kernel, block_bytes, &buf, err)))
        return st;
    st = ncmp_score_from_data(buf, kernel, p, in, splits, metric, &po, out, err);
    free(buf);
    return st;
}
