/* The ranks of an MPI job (docs/scale-out.md).
 *
 * Built with -DNEUROCMP_MPI=ON and started by mpirun or srun, every rank runs
 * the same command on its share of the work; these helpers are how the rest of
 * neurocmp talks to MPI.  Built without it, or started as a plain process,
 * there is one rank and every function here is a cheap no-op, so
 * single-machine code paths are unchanged.
 *
 * MPI is initialised only when a launcher started the process (it sets
 * OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK) and NEUROCMP_NO_MPI is not
 * set: `neurocmp study` sets it for the steps it runs as child processes.
 *
 * Failure across ranks: a command that can fail on one rank only (an
 * unreadable image in its share) calls ncmp_dist_agree() before each
 * collective operation, so that every rank learns the first rank's error and
 * returns it.  Any other failure on one rank under MPI aborts the whole job
 * (cli/main.c): no rank is left waiting, and no output is committed.
 */
#ifndef NCMP_CORE_DIST_H
#define NCMP_CORE_DIST_H

#include <stdbool.h>
#include <stddef.h>

#include "core/status.h"

/* True when this neurocmp was built with MPI. */
bool ncmp_dist_built(void);

/* Initialise MPI when launched by mpirun/srun (see above).  Returns NCMP_OK
 * and leaves a single rank otherwise. */
ncmp_status ncmp_dist_init(int *argc, char ***argv, ncmp_error *err);
/* MPI_Finalize when initialised. */
void ncmp_dist_finalize(void);
/* End every rank of the job now with `code` (MPI_Abort); exit(code) with one rank. */
_Noreturn void ncmp_dist_abort(int code);

int ncmp_dist_rank(void); /* 0 .. size-1 */
int ncmp_dist_size(void); /* 1 without MPI */
/* More than one rank: the MPI code paths apply. */
bool ncmp_dist_parallel(void);

/* Contiguous, balanced share of n items for `part` of `parts`: [*lo, *hi).
 * The first n % parts parts get one item more. */
void ncmp_dist_partition(size_t n, int parts, int part, size_t *lo, size_t *hi);

/* Collective.  Every rank passes its own status (and error); every rank gets
 * back the status and message of the lowest-numbered failing rank, prefixed
 * with "rank R: " when it came from another rank, or NCMP_OK when all ranks
 * succeeded.  A failure agreed this way ends the job cleanly (no abort).
 * Waiting ranks sleep between polls rather than hold a core (as in
 * ncmp_dist_barrier and ncmp_dist_wait_for_root). */
ncmp_status ncmp_dist_agree(ncmp_status st, ncmp_error *err);
/* True after ncmp_dist_agree() returned a failure: every rank knows it. */
bool ncmp_dist_failure_agreed(void);

/* Collective.  Sum of buf over ranks in a fixed order: a binomial tree over
 * consecutive ranks ((r0 + r1) + (r2 + r3)) + ..., so the result is the same
 * on every rank and for every run with the same number of ranks, and no rank
 * receives more than log2(P) partial sums; then broadcast from rank 0.  Sent
 * in pieces (no int overflow in MPI counts). */
ncmp_status ncmp_dist_sum_ordered(double *buf, size_t n, ncmp_error *err);
/* Collective.  Exact integer sum over ranks. */
ncmp_status ncmp_dist_sum_i64(long long *buf, size_t n, ncmp_error *err);
/* Collective.  Copy `bytes` bytes of root's buf to every rank (in pieces). */
ncmp_status ncmp_dist_bcast(void *buf, size_t bytes, int root, ncmp_error *err);
/* Collective.  all[r] = value of rank r (all holds ncmp_dist_size() values). */
ncmp_status ncmp_dist_allgather_i64(long long value, long long *all, ncmp_error *err);
/* Collective. */
ncmp_status ncmp_dist_barrier(ncmp_error *err);

/* Collective.  Rank 0 passes its exit code; the other ranks wait for it
 * (sleeping, not spinning on a core) and get it in *code. */
void ncmp_dist_wait_for_root(int *code);

/* Point to point, for schedulers (study/schedule.c).  Messages are byte strings. */
ncmp_status ncmp_dist_send(int dest, int tag, const void *buf, size_t bytes, ncmp_error *err);
/* Non-blocking: true when a message with `tag` from any rank is waiting; its
 * source and size are returned. */
bool ncmp_dist_poll(int tag, int *source, size_t *bytes);
ncmp_status ncmp_dist_recv(int source, int tag, void *buf, size_t bytes, ncmp_error *err);

#endif
