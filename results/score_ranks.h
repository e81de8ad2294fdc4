/* Scoring shared by the ranks of an MPI job (docs/scale-out.md).
 *
 * Two kinds of sharing, both giving every number within rounding of one
 * process (tests/mpi/test_score.sh checks 1e-10):
 *  - the Gram matrix of a layer at one iteration: each rank reads only its
 *    contiguous range of feature columns, forms that range's part of the
 *    Gram matrix, and the parts are summed in rank order
 *    (ncmp_dist_sum_ordered: the same additions on every run with the same
 *    number of ranks), so every rank holds the n x n matrix and at most one
 *    block of its own features;
 *  - the cross-validation splits of a score: each rank fits a contiguous
 *    range of the splits on that Gram matrix (a split's fit depends on no
 *    other split, so each split's numbers are what one process computes) and
 *    rank 0 gathers them into the whole score and aggregates it.
 * Both apply only when there are fewer Gram-matrix tasks than ranks (one
 * `score --layer block3`).  With at least as many tasks as ranks (a table's
 * (layer, iteration) cells, temporal's iterations) the callers
 * (results/score_table.c, results/temporal.c) give whole tasks to ranks
 * instead (ncmp_tasks_assign): a rank reads only its own tasks' activations,
 * computes their Gram matrices and every fit alone, and rank 0 gathers the
 * finished scores; each such task is then bit-identical to one process and no
 * Gram matrix is communicated.  Work that does not use the Gram matrix (the
 * features path) always goes as whole tasks.
 *
 * Every function here that says "collective" must be called by every rank in
 * the same order; each agrees on failures first (ncmp_dist_agree), so a
 * failure one rank met ends every rank with its message.  With one rank they
 * reduce to the single-process computation.
 */
#ifndef NCMP_RESULTS_SCORE_RANKS_H
#define NCMP_RESULTS_SCORE_RANKS_H

#include <stddef.h>

#include "analysis/metrics.h"
#include "analysis/splits.h"
#include "core/status.h"
#include "results/activations.h"

/* Collective.  G[n][n] = ncmp_activations_gram(...) of every rank's share of
 * the layer's features, summed in rank order; identical on every rank.  `st`
 * is the caller's status so far (a failure on any rank is agreed before the
 * sum and returned by every rank). */
ncmp_status ncmp_gram_over_ranks(ncmp_status st, const ncmp_activations *activations, const char *layer,
                                 size_t iteration_index, const size_t *rows, size_t n, size_t block_bytes, double *G,
                                 ncmp_error *err);

/* Whole tasks to ranks, deterministically (depends only on the costs and
 * n_ranks): tasks sorted by cost, largest first (ties by index), each given to
 * the least-loaded rank so far (ties to the lowest rank): the longest
 * processing time first rule (Graham 1969, within 4/3 of the best makespan).
 * owner[k] is the rank of task k; tasks whose cost is 0 are not assigned
 * (owner -1). */
void ncmp_tasks_assign(const double *cost, size_t n, int n_ranks, int *owner);

/* The splits [first, end) of `all` as splits of their own (over the same
 * samples): what one rank fits.  Owned by the caller (ncmp_splits_free). */
ncmp_status ncmp_splits_range(const ncmp_splits *all, size_t first, size_t end, ncmp_splits **out, ncmp_error *err);

/* Tasks 0..total-1 (splits of one or more scores, numbered score by score)
 * shared contiguously over the ranks: the splits [*first, *end) of the score
 * whose tasks are [offset, offset + n_splits) that `rank` takes (possibly
 * none: *first == *end == 0). */
void ncmp_split_share(size_t offset, size_t n_splits, size_t total, int rank, int n_ranks, size_t *first, size_t *end);

/* Collective.  Each rank holds *part, the score of splits
 * [first[r], end[r]) of `all` (NULL where the range is empty); rank 0 ends
 * with the whole score (every split's values in place, then aggregated as one
 * process aggregates them), the other ranks with *part freed and NULL.  n and
 * q as in the score; first and end hold one entry per rank. */
ncmp_status ncmp_score_gather(ncmp_status st, ncmp_score **part, const ncmp_splits *all, const size_t *first,
                              const size_t *end, size_t n, size_t q, ncmp_error *err);

#endif
