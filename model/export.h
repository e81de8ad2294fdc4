/* neurocmp export: stimuli in, per-iteration layer activations out (docs/formats.md, Activations).
 *
 * Streams a stimulus set through an engine batch by batch and writes every
 * requested layer at every iteration to an HDF5 file readable by h5py and, as
 * netCDF-4, by xarray:
 *   /stimulus_id                  vlen UTF-8 [n_stimuli]           (dimension)
 *   /iteration                    int32 [T+1]                      (dimension)
 *   /activations/<layer>          float32|float64 [T+1, n_stimuli, ...layer shape]
 *   /diagnostics/relative_change/<layer>   float64 [T+1, n_stimuli]
 *   /diagnostics/predicted_class           int32   [T+1, n_stimuli]
 *   /diagnostics/predicted_probability     float64 [T+1, n_stimuli]
 *   /diagnostics/near_ties                 int64   [T+1, n_routing_layers]
 *   /diagnostics/stability_divergence      float64 [T+1, n_layers] (with check_stability)
 *   /diagnostics/precision_divergence      float64 [T+1, n_layers] (float arithmetic, T >= 1:
 *                                          the first batch against double arithmetic)
 *   /stimulus_metadata/<column>   vlen UTF-8 [n_stimuli] (CSV columns, IDX labels)
 * Memory is bounded by the batch size.  The file is written as
 * "<out>.partial", flushed after every batch with the count of finished
 * stimuli, and renamed once complete; --resume continues a partial file
 * made by the same command and ends bit-identical to an uninterrupted run.
 * Under mpirun with P > 1 ranks (the MPI build), every rank calls
 * ncmp_export_run: each exports a contiguous share of the stimuli into the
 * same file through parallel HDF5 (model/export_dist.c), bit-identical to
 * one process's file but for created_utc and mpi_ranks.
 */
#ifndef NCMP_MODEL_EXPORT_H
#define NCMP_MODEL_EXPORT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "datasets/stimuli.h"
#include "model/cnnf.h"

typedef enum ncmp_reduce_kind {
    NCMP_REDUCE_NONE,    /* the whole layer tensor */
    NCMP_REDUCE_AVGPOOL, /* mean over height and width: one value per channel */
    NCMP_REDUCE_PROJECT  /* seeded Gaussian random projection to K features: y = R x / sqrt(K), R ~ N(0, 1) */
} ncmp_reduce_kind;

typedef struct ncmp_export_options {
    const char *out_path;
    int iterations;
    const int *layers; /* layer indices to export */
    int n_layers;
    size_t batch;
    ncmp_dtype precision; /* arithmetic of the engine */
    ncmp_dtype store;     /* what the file holds */
    ncmp_reduce_kind reduce;
    int project_dim;       /* K for NCMP_REDUCE_PROJECT */
    uint64_t project_seed; /* seed of R (stored in the file) */
    int compress;          /* 0 = none, 1..9 = shuffle + deflate level */
    bool center_crop;
    bool force;                /* replace an existing complete output */
    bool resume;               /* continue "<out>.partial" */
    bool check_stability;      /* rerun the first batch in float32 one ulp off; store the divergence */
    bool skip_precision_check; /* float arithmetic, T >= 1: do not check the first batch against double */
} ncmp_export_options;

/* Parse "none", "avgpool" or "project:K". */
ncmp_status ncmp_reduce_parse(const char *text, ncmp_reduce_kind *kind, int *project_dim, ncmp_error *err);

ncmp_status ncmp_export_run(const ncmp_net *net, ncmp_stimulus_set *stimuli, const ncmp_export_options *opts,
                            ncmp_error *err);

/* Set by a SIGINT/SIGTERM handler: the export stops after the current
 * batch, keeps the partial file for --resume and returns NCMP_ERR_INTERRUPTED. */
extern volatile sig_atomic_t ncmp_export_interrupted;

#endif
