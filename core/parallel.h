/* A small persistent thread pool for the loops BLAS does not cover
 * (im2col, pooling, normalisation, ...).
 *
 * Idle workers sleep on a condition variable rather than spin, so they do not
 * fight OpenBLAS's own threads for the cores (libgomp's spinning workers did:
 * 20x slower on 2 cores).  Task 0 runs on the calling thread.
 */
#ifndef NCMP_CORE_PARALLEL_H
#define NCMP_CORE_PARALLEL_H

#include <stddef.h>

typedef void (*ncmp_task_fn)(void *ctx, int task, int n_tasks);

/* Run fn(ctx, t, n_tasks) for t = 0..n_tasks-1 concurrently and wait for all.
 * n_tasks is capped at ncmp_parallel_threads(); n_tasks <= 1 runs inline.
 * Not re-entrant: call from one thread at a time. */
void ncmp_parallel_run(int n_tasks, ncmp_task_fn fn, void *ctx);

/* Worker count (default: the number of online processors, at most 64). */
int ncmp_parallel_threads(void);
void ncmp_parallel_set_threads(int n);

/* Split [0, n) into n_tasks near-equal parts; part t is [*begin, *end). */
void ncmp_parallel_split(size_t n, int task, int n_tasks, size_t *begin, size_t *end);

#endif
