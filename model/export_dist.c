/* neurocmp export on the ranks of an MPI job: one activations file written collectively with parallel HDF5
 * (docs/formats.md, Activations; docs/scale-out.md; the HDF Group's parallel HDF5 tutorial: hyperslabs per
 * rank, collective transfers, H5Sselect_none for a rank with nothing to write).
 *
 * The stimuli are split into P contiguous shares (ncmp_dist_partition).  Rank 0 alone makes the file as one
 * process would (attributes, the variable-length strings that MPI-IO cannot write in HDF5 1.10, every dataset,
 * the first-batch checks), then closes it; every rank opens it through MPI-IO and the ranks write in lock-step
 * rounds, one batch of its share per rank per round.  Each round ends with the exact sum of the near-tie counts
 * and every rank's progress written collectively, so that --resume continues each share where it stopped.  Rank
 * 0 sets the final count and `complete` and renames the file once every rank has closed it.  Values do not
 * depend on how the stimuli are batched (docs/cnnf-semantics.md §8): the file is bit-identical to one
 * process's. */
#include "core/dist.h"
#include "core/dist_h5.h"
#include "core/log.h"
#include "core/progress.h"
#include "model/export_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

static size_t share_of(size_t n, int ranks, int rank)
{
    size_t lo, hi;
    ncmp_dist_partition(n, ranks, rank, &lo, &hi);
    return hi - lo;
}

static ncmp_status write_int64_array_attr(hid_t obj, const char *name, const long long *values, size_t n,
                                          ncmp_error *err)
{
    if (ncmp_h5_attr_exists(obj, name) && H5Adelete(obj, name) < 0)
        return ncmp_h5_fail(err, NCMP_ERR_IO, "cannot replace attribute '%s'", name);
    hsize_t dims[1] = {n};
    hid_t space = H5Screate_simple(1, dims, NULL);
    hid_t a = H5Acreate2(obj, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Sclose(space);
    if (a < 0)
        return ncmp_h5_fail(err, NCMP_ERR_IO, "cannot create attribute '%s'", name);
    herr_t rc = H5Awrite(a, H5T_NATIVE_LLONG, values);
    H5Aclose(a);
    return rc < 0 ? ncmp_h5_fail(err, NCMP_ERR_IO, "cannot write attribute '%s'", name) : NCMP_OK;
}

/* Overwrite an existing int64 attribute in place: under MPI every rank calls this with the same values. */
static ncmp_status update_int64_attr(hid_t obj, const char *name, const long long *values, ncmp_error *err)
{
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0)
        return ncmp_h5_fail(err, NCMP_ERR_IO, "cannot open attribute '%s'", name);
    herr_t rc = H5Awrite(a, H5T_NATIVE_LLONG, values);
    H5Aclose(a);
    return rc < 0 ? ncmp_h5_fail(err, NCMP_ERR_IO, "cannot write attribute '%s'", name) : NCMP_OK;
}

/* Rank 0, in a file of an earlier run on the same number of ranks: how far each rank got. */
static ncmp_status read_done_by_rank(hid_t file, const char *partial, size_t n, long long n_done, long long *done,
                                     ncmp_error *err)
{
    const int P = ncmp_dist_size();
    hid_t a = H5Aopen(file, NCMP_EXPORT_ATTR_DONE_BY_RANK, H5P_DEFAULT);
    if (a < 0)
        return ncmp_h5_fail(err, NCMP_ERR_FORMAT,
                            "cannot resume '%s': it has no attribute '%s' (delete it, or use "
                            "--force to start over)",
                            partial, NCMP_EXPORT_ATTR_DONE_BY_RANK);
    hid_t space = H5Aget_space(a);
    hssize_t count = H5Sget_simple_extent_npoints(space);
    H5Sclose(space);
    herr_t rc = count == (hssize_t)P ? H5Aread(a, H5T_NATIVE_LLONG, done) : -1;
    H5Aclose(a);
    long long sum = 0;
    bool fits = rc >= 0;
    for (int r = 0; r < P && fits; r++) {
        fits = done[r] >= 0 && (unsigned long long)done[r] <= share_of(n, P, r);
        sum += done[r];
    }
    if (!fits || sum != n_done)
        return ncmp_fail(err, NCMP_ERR_FORMAT,
                         "cannot resume '%s': its per-rank progress '%s' does not fit %d ranks and %zu stimuli "
                         "(n_done %lld); the file is damaged (delete it, or use --force to start over)",
                         partial, NCMP_EXPORT_ATTR_DONE_BY_RANK, P, n, n_done);
    return NCMP_OK;
}

/* Rank 0 alone: make or reopen the partial file as one process would, record the ranks' progress, close it. */
static ncmp_status prepare_file(export_state *s, ncmp_h5_output *out, long long *done, ncmp_error *err)
{
    const int P = ncmp_dist_size();
    const size_t N = ncmp_stimuli_count(s->stimuli);
    size_t n_done = 0;
    ncmp_status st = ncmp_export_open_output(s, out, &n_done, err);
    if (st)
        return st;
    if (out->resumed) {
        /* ncmp_export_open_output checked that it was made on as many ranks. */
        st = read_done_by_rank(s->file, out->partial_path, N, (long long)n_done, done, err);
    } else {
        memset(done, 0, sizeof(long long) * (size_t)P);
        if (!(st = ncmp_h5_attr_set_int64(s->file, NCMP_EXPORT_ATTR_RANKS, P, err)))
            st = write_int64_array_attr(s->file, NCMP_EXPORT_ATTR_DONE_BY_RANK, done, (size_t)P, err);
    }
    ncmp_export_close_datasets(s);
    if (!st && H5Fflush(out->file, H5F_SCOPE_GLOBAL) < 0)
        st = ncmp_h5_fail(err, NCMP_ERR_IO, "cannot write '%s' (disk full?)", out->partial_path);
    if (st)
        return ncmp_export_output_fail(out, st, err);
    if (H5Fclose(out->file) < 0)
        st = ncmp_h5_fail(err, NCMP_ERR_IO, "cannot close '%s' (disk full?)", out->partial_path);
    out->file = s->file = H5I_INVALID_HID;
    return st ? ncmp_export_output_fail(out, st, err) : NCMP_OK;
}

/* Every rank: the partial file through MPI-IO, its datasets, collective transfers. */
static ncmp_status open_parallel(export_state *s, const char *partial, ncmp_error *err)
{
    hid_t fapl = ncmp_dist_h5_fapl(err);
    if (fapl < 0)
        return err ? err->status : NCMP_ERR_INTERNAL;
    s->file = H5Fopen(partial, H5F_ACC_RDWR, fapl);
    H5Pclose(fapl);
    if (s->file < 0)
        return ncmp_h5_fail(err, NCMP_ERR_IO,
                            "rank %d of %d cannot open '%s' through MPI-IO (the ranks need a file system they all "
                            "share)",
                            ncmp_dist_rank(), ncmp_dist_size(), partial);
    char path[512];
    for (int k = 0; k < s->n_outs; k++) {
        layer_out *L = &s->outs[k];
        snprintf(path, sizeof path, "activations/%s", L->label);
        if ((L->dset = H5Dopen2(s->file, path, H5P_DEFAULT)) < 0)
            return ncmp_h5_fail(err, NCMP_ERR_FORMAT, "cannot open '%s' in '%s'", path, partial);
        snprintf(path, sizeof path, "diagnostics/relative_change/%s", L->label);
        if ((L->change_dset = H5Dopen2(s->file, path, H5P_DEFAULT)) < 0)
            return ncmp_h5_fail(err, NCMP_ERR_FORMAT, "cannot open '%s' in '%s'", path, partial);
    }
    const char *names[3] = {"diagnostics/predicted_class", "diagnostics/predicted_probability",
                            "diagnostics/near_ties"};
    hid_t *dsets[3] = {&s->class_dset, &s->prob_dset, &s->ties_dset};
    for (int i = 0; i < 3; i++)
        if ((*dsets[i] = H5Dopen2(s->file, names[i], H5P_DEFAULT)) < 0)
            return ncmp_h5_fail(err, NCMP_ERR_FORMAT, "cannot open '%s' in '%s'", names[i], partial);
    if ((s->transfer = ncmp_dist_h5_dxpl(err)) < 0) {
        s->transfer = H5P_DEFAULT;
        return err ? err->status : NCMP_ERR_INTERNAL;
    }
    return NCMP_OK;
}

/* Every rank, collectively: close the file (parallel HDF5 closes only with no object open). */
static ncmp_status close_parallel(export_state *s, const char *partial, ncmp_error *err)
{
    ncmp_export_close_datasets(s);
    if (s->transfer != H5P_DEFAULT)
        H5Pclose(s->transfer);
    s->transfer = H5P_DEFAULT;
    ncmp_status st = NCMP_OK;
    if (s->file >= 0 && H5Fclose(s->file) < 0)
        st = ncmp_h5_fail(err, NCMP_ERR_IO, "cannot close '%s' (disk full?)", partial);
    s->file = H5I_INVALID_HID;
    return st;
}

/* Rank 0, once every rank has closed the file: the final count, `complete`, the rename. */
static ncmp_status finish_file(ncmp_h5_output *out, size_t n, ncmp_error *err)
{
    ncmp_status st = NCMP_OK;
    out->file = H5Fopen(out->partial_path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (out->file < 0)
        st = ncmp_h5_fail(err, NCMP_ERR_IO, "cannot reopen '%s' to finish it", out->partial_path);
    else if (H5Adelete(out->file, NCMP_EXPORT_ATTR_DONE_BY_RANK) < 0)
        st = ncmp_h5_fail(err, NCMP_ERR_IO, "cannot remove attribute '%s' from '%s'", NCMP_EXPORT_ATTR_DONE_BY_RANK,
                          out->partial_path);
    else
        st = ncmp_h5_attr_set_int64(out->file, "n_done", (long long)n, err);
    if (st)
        return ncmp_export_output_fail(out, st, err);
    return ncmp_h5_output_commit(out, err);
}

/* The lock-step rounds of every rank; returns with the file still open. */
static ncmp_status write_rounds(export_state *s, long long *done, const char *partial, ncmp_error *err)
{
    const ncmp_export_options *o = s->o;
    const ncmp_arch *a = s->net->arch;
    const int P = ncmp_dist_size(), me = ncmp_dist_rank();
    const size_t N = ncmp_stimuli_count(s->stimuli), B = o->batch;
    const size_t n_ties = (size_t)(o->iterations + 1) * (size_t)(s->n_routing ? s->n_routing : 1);
    size_t lo, hi;
    ncmp_dist_partition(N, P, me, &lo, &hi);

    /* Every rank takes min(B, what is left of its share) per round, so each knows every rank's progress. */
    size_t rounds = 0;
    long long total = 0;
    for (int r = 0; r < P; r++) {
        size_t left = share_of(N, P, r) - (size_t)done[r], need = left / B + (left % B ? 1 : 0);
        rounds = need > rounds ? need : rounds;
        total += done[r];
    }
    const long long total_before = total;

    ncmp_cnnf *engine = NULL;
    ncmp_tensor input;
    memset(&input, 0, sizeof input);
    size_t shape[4] = {B, (size_t)a->input.c, (size_t)a->input.h, (size_t)a->input.w};
    long long *sums = malloc(sizeof(long long) * (n_ties + 1));
    ncmp_status st = sums ? NCMP_OK : ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    if (!st && !(st = ncmp_export_engine_create(s, &engine, err)))
        st = ncmp_tensor_alloc(&input, NCMP_FLOAT32, 4, shape, err);
    if ((st = ncmp_dist_agree(st, err))) {
        ncmp_cnnf_free(engine);
        ncmp_tensor_release(&input);
        free(sums);
        return st;
    }
    if (me == 0)
        ncmp_log_info("%d ranks, %zu to %zu stimuli each, %zu round%s of up to %zu stimuli per rank", P,
                      share_of(N, P, P - 1), share_of(N, P, 0), rounds, rounds == 1 ? "" : "s", B);
    const ncmp_preprocess_options po = ncmp_arch_preprocess(a, o->center_crop);
    ncmp_progress *bar = ncmp_progress_start(total ? "export (resumed)" : "export", N - (size_t)total, "images");
    size_t next = lo + (size_t)done[me];
    for (size_t round = 0; round < rounds; round++) {
        const size_t n = min_size(B, hi - next);
        /* An unreadable image in one rank's share ends every rank with its message, before any collective write. */
        st = n ? ncmp_export_load_batch(s, &po, &input, next, n, err) : NCMP_OK;
        if ((st = ncmp_dist_agree(st, err)))
            break;
        s->start = next;
        if (n) {
            ncmp_tensor batch;
            ncmp_tensor_view_slice(&input, 0, 0, n, &batch, NULL);
            st = ncmp_cnnf_run(engine, &batch, o->iterations, ncmp_export_observe, s, err);
        } else {
            st = ncmp_export_observe_nothing(s, err);
        }
        if (st)
            break; /* met by this rank alone, inside collective writes: cli/main.c ends every rank */
        next += n;
        for (int r = 0; r < P; r++) {
            size_t step = min_size(B, share_of(N, P, r) - (size_t)done[r]);
            done[r] += (long long)step;
            total += (long long)step;
        }
        /* The near-tie sums over every rank's stimuli so far, and whether any rank was interrupted: one exact
         * integer reduction.  Then, as in one process: data, the counts that say it is there, flush. */
        memcpy(sums, s->ties, sizeof(long long) * n_ties);
        sums[n_ties] = ncmp_export_interrupted ? 1 : 0;
        if ((st = ncmp_dist_sum_i64(sums, n_ties + 1, err)))
            break;
        const hsize_t z[2] = {0, 0}, none[2] = {0, 0},
                      all[2] = {(hsize_t)o->iterations + 1, (hsize_t)(s->n_routing ? s->n_routing : 1)};
        if (H5Fflush(s->file, H5F_SCOPE_GLOBAL) < 0 ||
            ncmp_export_write_rows(s, s->ties_dset, H5T_NATIVE_LLONG, z, me == 0 ? all : none, sums, err) ||
            update_int64_attr(s->file, NCMP_EXPORT_ATTR_DONE_BY_RANK, done, err) ||
            update_int64_attr(s->file, "n_done", &total, err) || H5Fflush(s->file, H5F_SCOPE_GLOBAL) < 0)
            st = ncmp_h5_fail(err, NCMP_ERR_IO, "cannot write '%s' (disk full?)", partial);
        if ((st = ncmp_dist_agree(st, err)))
            break;
        ncmp_progress_update(bar, (uint64_t)(total - total_before));
        if (sums[n_ties] && round + 1 < rounds) {
            st = ncmp_fail(err, NCMP_ERR_INTERRUPTED,
                           "interrupted after %lld of %zu stimuli (every rank finished its current batch); '%s' is "
                           "kept: rerun the same command on %d ranks with --resume to continue",
                           total, N, partial, P);
            st = ncmp_dist_agree(st, err);
            break;
        }
    }
    if (st)
        ncmp_progress_abandon(bar);
    else
        ncmp_progress_finish(bar);
    ncmp_tensor_release(&input);
    ncmp_cnnf_free(engine);
    free(sums);
    return st;
}

ncmp_status ncmp_export_run_ranks(export_state *s, ncmp_error *err)
{
    NCMP_H5_QUIET_SCOPE;
    const int P = ncmp_dist_size(), me = ncmp_dist_rank();
    const size_t N = ncmp_stimuli_count(s->stimuli);
    char partial[4200];
    snprintf(partial, sizeof partial, "%s.partial", s->o->out_path);
    long long *done = calloc((size_t)P, sizeof(long long));
    ncmp_h5_output out;
    memset(&out, 0, sizeof out);
    out.file = H5I_INVALID_HID;
    ncmp_status st = done ? NCMP_OK : ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    if (!st && me == 0)
        st = prepare_file(s, &out, done, err);
    if ((st = ncmp_dist_agree(st, err)) || (st = ncmp_dist_bcast(done, sizeof(long long) * (size_t)P, 0, err))) {
        if (me == 0 && out.partial_path) /* rank 0 made the file, another rank failed */
            ncmp_export_output_fail(&out, st, err);
        free(done);
        return st;
    }
    st = open_parallel(s, partial, err);
    if (!(st = ncmp_dist_agree(st, err)))
        st = write_rounds(s, done, partial, err);
    free(done);
    if (st && !ncmp_dist_failure_agreed())
        return st; /* this rank alone: no collective call can follow, cli/main.c ends every rank */
    ncmp_status closed = ncmp_dist_agree(close_parallel(s, partial, err), err);
    if (!st)
        st = closed;
    /* Rank 0 finishes (or removes) the file only once every rank has closed it; the others wait for that, so
     * that the job ends after the rename (or with the partial file kept for --resume). */
    ncmp_status finished = NCMP_OK;
    if (me == 0) {
        if (st)
            ncmp_export_output_fail(&out, st, err);
        else
            finished = finish_file(&out, N, err);
    }
    finished = ncmp_dist_agree(finished, err);
    return st ? st : finished;
}
