/* The activations writer's state and steps, shared by model/export.c (one
 * process) and model/export_dist.c (the ranks of an MPI job).  Not installed. */
#ifndef NCMP_MODEL_EXPORT_INTERNAL_H
#define NCMP_MODEL_EXPORT_INTERNAL_H

#include "core/h5.h"
#include "datasets/preprocess.h"
#include "model/export.h"

/* Root attributes of a partial file written by P > 1 ranks (docs/formats.md,
 * Activations): the rank count, and how many stimuli of its own contiguous
 * share each rank has written.  "n_done" is then their sum; the first is kept
 * in the complete file (provenance), the second is removed. */
#define NCMP_EXPORT_ATTR_RANKS        "mpi_ranks"
#define NCMP_EXPORT_ATTR_DONE_BY_RANK "n_done_by_rank"

typedef struct layer_out {
    int layer;
    const char *label;
    int rank; /* of one stimulus' features: 1 (flat/reduced) or 3 */
    hsize_t dims[3];
    size_t features; /* product of dims */
    hid_t dset, change_dset;
    double *prev;      /* previous iteration's features for the batch [batch * features] */
    void *buffer;      /* reduced features of the batch, in the file's precision */
    float *projection; /* cached R [K x F] when small enough, else NULL (regenerated per batch) */
    double *reduced;   /* scratch [batch * features] */
    float *row;        /* scratch: one regenerated row of R */
    float *store32;    /* scratch [batch * features]: double results rounded for a float32 file */
} layer_out;

typedef struct export_state {
    const ncmp_net *net;
    const ncmp_export_options *o;
    ncmp_stimulus_set *stimuli;
    hid_t file;
    hid_t transfer; /* H5P_DEFAULT in one process; collective transfers under MPI */
    layer_out *outs;
    int n_outs;
    hid_t class_dset, prob_dset, ties_dset;
    int *routing; /* layer indices of AdaPool/AdaReLU (and max pools) */
    int n_routing;
    long long *ties; /* [(T+1) * n_routing], accumulated over batches */
    size_t start;    /* first stimulus of the current batch */
    double *act64;   /* scratch: one stimulus' layer in double */
    size_t act64_size;
    double *change; /* scratch [batch] */
    int *cls;       /* scratch [batch] */
    double *prob;   /* scratch [batch] */
} export_state;

/* Check the options and allocate every buffer (no file is touched). */
ncmp_status ncmp_export_state_init(export_state *s, const ncmp_net *net, ncmp_stimulus_set *stimuli,
                                   const ncmp_export_options *o, ncmp_error *err);
/* Close the datasets the state holds (the file stays open). */
void ncmp_export_close_datasets(export_state *s);
/* Close the datasets and free every buffer. */
void ncmp_export_state_free(export_state *s);

/* Open "<out>.partial" in this process alone: a new file with the root
 * attributes, the whole layout and the first-batch checks, or (--resume) the
 * partial file after checking that it was made by the same command; *done is
 * its n_done.  On failure the output is closed (kept or deleted as
 * ncmp_export_output_fail says) and out->file is invalid. */
ncmp_status ncmp_export_open_output(export_state *s, ncmp_h5_output *out, size_t *done, ncmp_error *err);
/* After a failure with `out` open: close it, keep the partial file for
 * --resume when the run was interrupted or a write failed (unless it is left
 * unreadable), else delete it.  Returns st (the message may be extended). */
ncmp_status ncmp_export_output_fail(ncmp_h5_output *out, ncmp_status st, ncmp_error *err);

/* The engine for batches of o->batch with the requested layers kept. */
ncmp_status ncmp_export_engine_create(const export_state *s, ncmp_cnnf **engine, ncmp_error *err);
/* Stimuli [start, start + n) preprocessed into the first n rows of input. */
ncmp_status ncmp_export_load_batch(export_state *s, const ncmp_preprocess_options *po, ncmp_tensor *input, size_t start,
                                   size_t n, ncmp_error *err);
/* The engine's observer: writes iteration t of the batch at s->start. */
ncmp_status ncmp_export_observe(void *state, const ncmp_cnnf *e, int t, ncmp_error *err);
/* Under MPI, a rank without a batch in a round: the same collective writes
 * as ncmp_export_observe makes for iterations 0..T, each with no rows. */
ncmp_status ncmp_export_observe_nothing(export_state *s, ncmp_error *err);

/* Write [start, start + count) of a 2-D dataset (near-ties): in one process
 * as ncmp_h5_write_block; under MPI collectively, `count` of {0, 0} taking
 * part with an empty selection. */
ncmp_status ncmp_export_write_rows(const export_state *s, hid_t dset, hid_t mem_type, const hsize_t *start,
                                   const hsize_t *count, const void *buf, ncmp_error *err);

/* The export on the ranks of an MPI job (model/export_dist.c). */
ncmp_status ncmp_export_run_ranks(export_state *s, ncmp_error *err);

#endif
