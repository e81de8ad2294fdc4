/* Persistent condition-variable thread pool (see parallel.h). */
#include "core/parallel.h"

#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_WORKERS 64

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_ready = PTHREAD_COND_INITIALIZER;
static pthread_cond_t work_done = PTHREAD_COND_INITIALIZER;
static pthread_t workers[MAX_WORKERS];
static int n_workers = 0;      /* threads started (besides the caller) */
static int wanted_threads = 0; /* 0: not decided yet */
static unsigned long generation = 0;
static int pending = 0;
static ncmp_task_fn job_fn;
static void *job_ctx;
static int job_tasks;

void ncmp_parallel_split(size_t n, int task, int n_tasks, size_t *begin, size_t *end)
{
    size_t base = n / (size_t)n_tasks, extra = n % (size_t)n_tasks, t = (size_t)task;
    *begin = t * base + (t < extra ? t : extra);
    *end = *begin + base + (t < extra ? 1 : 0);
}

int ncmp_parallel_threads(void)
{
    if (wanted_threads <= 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        wanted_threads = cpus < 1 ? 1 : (cpus > MAX_WORKERS ? MAX_WORKERS : (int)cpus);
    }
    return wanted_threads;
}

void ncmp_parallel_set_threads(int n)
{
    if (n > 0)
        wanted_threads = n > MAX_WORKERS ? MAX_WORKERS : n;
}

static void *worker_main(void *arg)
{
    int id = (int)(size_t)arg; /* 1-based task number */
    unsigned long seen = 0;
    pthread_mutex_lock(&lock);
    for (;;) {
        while (generation == seen)
            pthread_cond_wait(&work_ready, &lock);
        seen = generation;
        if (id >= job_tasks)
            continue;
        ncmp_task_fn fn = job_fn;
        void *ctx = job_ctx;
        int tasks = job_tasks;
        pthread_mutex_unlock(&lock);
        fn(ctx, id, tasks);
        pthread_mutex_lock(&lock);
        if (--pending == 0)
            pthread_cond_signal(&work_done);
    }
    return NULL;
}

void ncmp_parallel_run(int n_tasks, ncmp_task_fn fn, void *ctx)
{
    int cap = ncmp_parallel_threads();
    if (n_tasks > cap)
        n_tasks = cap;
    if (n_tasks <= 1) {
        fn(ctx, 0, 1);
        return;
    }
    pthread_mutex_lock(&lock);
    while (n_workers < n_tasks - 1) {
        if (pthread_create(&workers[n_workers], NULL, worker_main, (void *)(size_t)(n_workers + 1)) != 0)
            break;
        pthread_detach(workers[n_workers]);
        n_workers++;
    }
    if (n_tasks > n_workers + 1)
        n_tasks = n_workers + 1; /* could not start more threads: do with fewer */
    job_fn = fn;
    job_ctx = ctx;
    job_tasks = n_tasks;
    pending = n_tasks - 1;
    generation++;
    pthread_cond_broadcast(&work_ready);
    pthread_mutex_unlock(&lock);
    fn(ctx, 0, n_tasks);
    pthread_mutex_lock(&lock);
    while (pending > 0)
        pthread_cond_wait(&work_done, &lock);
    pthread_mutex_unlock(&lock);
}
