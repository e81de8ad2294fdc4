/* --details files: every per-split, per-neuroid value of a score (results/score_details.h). */
#include "results/score_details.h"

#include "core/h5.h"
#include "core/provenance.h"
#include "results/score_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ncmp_status ncmp_score_write_details(const char *path, bool overwrite, const ncmp_score *const *scores,
                                     const long long *its, size_t n_its, const ncmp_score_inputs *in,
                                     const ncmp_splits *splits, const ncmp_assembly *a, const char *region,
                                     const char *layer, const char *metric, const char *activations, const char *neural,
                                     ncmp_normalization normalization, ncmp_error *err)
{
    NCMP_H5_QUIET_SCOPE;
    ncmp_h5_output out;
    ncmp_status st = ncmp_h5_output_begin(&out, path, overwrite ? NCMP_H5_OVERWRITE : 0, err);
    if (st)
        return st;
    const size_t ns = splits->n_splits, n = in->n_stimuli, q = in->n_neuroids;
    const char **nids = malloc((q ? q : 1) * sizeof *nids);
    double *raw = malloc(n_its * sizeof *raw), *error = malloc(n_its * sizeof *error);
    double *ceiled = malloc(n_its * sizeof *ceiled);
    long long *itv = malloc(n_its * sizeof *itv);
    if (!nids || !raw || !error || !ceiled || !itv) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        goto done;
    }
    /* The scored neuroids: the region's, in file order (as ncmp_assembly_select_regions keeps them). */
    const ncmp_coord *id = ncmp_coord_find(&a->neuroid, "neuroid_id");
    const ncmp_coord *rg = region ? ncmp_coord_find(&a->neuroid, "region") : NULL;
    size_t k = 0;
    for (size_t j = 0; id && id->strings && j < a->n_neuroids; j++)
        if (!region || (rg && rg->strings && !strcmp(rg->strings[j], region))) {
            if (k < q)
                nids[k] = id->strings[j];
            k++;
        }
    if (k != q) {
        st = ncmp_fail(err, NCMP_ERR_INTERNAL, "--details: %zu neuroid ids for %zu scored neuroids", k, q);
        goto done;
    }
    hid_t f = out.file;
    if ((st = ncmp_provenance_write_h5(f, err)) ||
        (st = ncmp_provenance_add_input_h5(f, "activations", activations, err)) ||
        (st = ncmp_provenance_add_input_h5(f, "neural", neural, err)) ||
        (st = ncmp_h5_attr_set_string(f, "layer", layer, err)) ||
        (st = ncmp_h5_attr_set_string(f, "metric", metric, err)) ||
        (st = ncmp_h5_attr_set_string(f, "region", region ? region : "", err)) ||
        (st = ncmp_h5_attr_set_string(f, "splits", splits->description, err)) ||
        (st = ncmp_h5_attr_set_string(f, "normalization", ncmp_normalization_name(normalization), err)) ||
        (st = ncmp_h5_attr_set_double(f, "ceiling", in->ceiling, err)) ||
        (st = ncmp_h5_attr_set_double(f, "ceiling_error", in->ceiling_error, err)) ||
        (st = ncmp_h5_write_strings(f, "stimulus_id", (const char *const *)in->stimulus_ids, n, err)) ||
        (st = ncmp_h5_write_strings(f, "neuroid_id", nids, q, err)))
        goto done;
    if ((st = ncmp_splits_write_masks_h5(f, splits, err)))
        goto done;
    for (size_t i = 0; i < n_its; i++) {
        raw[i] = scores[i]->raw;
        error[i] = scores[i]->error;
        ceiled[i] = ncmp_ceiled(scores[i]->raw, in->ceiling, normalization); /* NaN without a ceiling */
        itv[i] = its[i];
    }
    /* What `neurocmp compare` needs: the test rows of every split, their responses and, per iteration, the
     * predictions (rows test_offset[s]..test_offset[s+1]-1 belong to split s). */
    size_t rows = splits->test_offset[ns];
    unsigned long long *offs = malloc((ns + 1) * sizeof *offs), *test = malloc((rows + 1) * sizeof *test);
    double *observed = malloc((rows * q + 1) * sizeof *observed);
    if (!offs || !test || !observed) {
        free(offs);
        free(test);
        free(observed);
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t s = 0; s <= ns; s++)
        offs[s] = splits->test_offset[s];
    for (size_t i = 0; i < rows; i++) {
        test[i] = splits->test[i];
        memcpy(observed + i * q, in->responses + splits->test[i] * q, q * sizeof *observed);
    }
    hsize_t d_off = ns + 1, d_rows = rows, d_obs[2] = {rows, q};
    st = ncmp_h5_write_array(f, "test_offset", H5T_STD_U64LE, H5T_NATIVE_ULLONG, 1, &d_off, offs, err);
    if (!st)
        st = ncmp_h5_write_array(f, "test_index", H5T_STD_U64LE, H5T_NATIVE_ULLONG, 1, &d_rows, test, err);
    if (!st)
        st = ncmp_h5_write_array(f, "observed", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, d_obs, observed, err);
    free(offs);
    free(test);
    free(observed);
    if (st)
        goto done;
    hsize_t ni = n_its;
    if ((st = ncmp_h5_write_array(f, "iteration", H5T_STD_I64LE, H5T_NATIVE_LLONG, 1, &ni, itv, err)) ||
        (st = ncmp_h5_attr_set_double_array(f, "raw", raw, n_its, err)) ||
        (st = ncmp_h5_attr_set_double_array(f, "error", error, n_its, err)) ||
        (st = ncmp_h5_attr_set_double_array(f, "ceiled", ceiled, n_its, err)))
        goto done;
    for (size_t i = 0; i < n_its; i++) {
        char name[64];
        snprintf(name, sizeof name, "/iteration_%lld", its[i]);
        hid_t g;
        if ((st = ncmp_h5_ensure_group(f, name, &g, err)))
            goto done;
        hsize_t pd[2] = {scores[i]->n_splits, scores[i]->n_neuroids}, sd = scores[i]->n_splits;
        if (!(st = ncmp_h5_attr_set_int64(g, "iteration", its[i], err)) &&
            !(st = ncmp_h5_attr_set_double(g, "raw", raw[i], err)) &&
            !(st = ncmp_h5_attr_set_double(g, "error", error[i], err)) &&
            !(st = ncmp_h5_attr_set_double(g, "ceiling", in->ceiling, err)) &&
            !(st = ncmp_h5_attr_set_double(g, "ceiled", ceiled[i], err)) &&
            !(st = ncmp_h5_write_array(g, "per_neuroid", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, pd,
                                       scores[i]->per_neuroid, err)) &&
            !(st = ncmp_h5_write_array(g, "split_median", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &sd,
                                       scores[i]->split_median, err)) &&
            (!scores[i]->predictions || !(st = ncmp_h5_write_array(g, "predictions", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
                                                                   2, d_obs, scores[i]->predictions, err))) &&
            scores[i]->alpha)
            st = ncmp_h5_write_array(g, "alpha", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, pd, scores[i]->alpha, err);
        H5Gclose(g);
        if (st)
            goto done;
    }
    st = ncmp_h5_output_commit(&out, err);
done:
    if (st)
        ncmp_h5_output_abort(&out, false);
    free(nids);
    free(raw);
    free(error);
    free(ceiled);
    free(itv);
    return st;
}
