/* The ranks of an MPI job (see dist.h; docs/scale-out.md). */
#include "core/dist.h"
#include "core/log.h"
#include "core/parallel.h"
#include "core/provenance.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef NCMP_HAVE_MPI
#include <mpi.h>
#endif

static int dist_rank = 0, dist_size = 1;
static bool failure_agreed = false;
#ifdef NCMP_HAVE_MPI
static bool dist_initialised = false;
#endif

/* MPI counts are int: larger transfers go in pieces of this many bytes. */
#define PIECE_BYTES ((size_t)1 << 28)

bool ncmp_dist_built(void)
{
#ifdef NCMP_HAVE_MPI
    return true;
#else
    return false;
#endif
}

#ifdef NCMP_HAVE_MPI
static bool launched_by_mpi(void)
{
    const char *off = getenv("NEUROCMP_NO_MPI");
    if (off && *off && strcmp(off, "0"))
        return false;
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

static ncmp_status mpi_fail(ncmp_error *err, int code, const char *what)
{
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, text, &len) != MPI_SUCCESS)
        snprintf(text, sizeof text, "MPI error %d", code);
    return ncmp_fail(err, NCMP_ERR_IO, "%s failed on rank %d of %d: %s", what, dist_rank, dist_size, text);
}
#endif

#ifdef NCMP_HAVE_MPI
/* Wait for a request without holding a core: poll briefly, then sleep between polls (50 us, doubling up
 * to 10 ms).  Ranks waiting for a slower one (rank 0 making a file alone) then leave it the cores. */
static int patient_wait(MPI_Request *req)
{
    long nap_ns = 50 * 1000;
    for (int polls = 0;; polls++) {
        int done = 0;
        int rc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS || done)
            return rc;
        if (polls < 200)
            continue;
        struct timespec nap = {0, nap_ns};
        nanosleep(&nap, NULL);
        if (nap_ns < 10 * 1000 * 1000)
            nap_ns *= 2;
    }
}
#endif

ncmp_status ncmp_dist_init(int *argc, char ***argv, ncmp_error *err)
{
#ifdef NCMP_HAVE_MPI
    if (!launched_by_mpi())
        return NCMP_OK;
    int provided = 0;
    /* Engine and scoring threads never call MPI: only the main thread does. */
    int rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    if (rc != MPI_SUCCESS)
        return mpi_fail(err, rc, "MPI_Init");
    dist_initialised = true;
    /* Errors come back as return codes, so that they are reported with their context. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &dist_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &dist_size);
    ncmp_log_set_rank(dist_rank, dist_size);
    /* Ranks sharing a node share its cores: each takes cores / ranks-on-node threads (at least
     * one) for BLAS and the engine, unless the command's --threads says otherwise. */
    MPI_Comm node;
    int local = 1;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, dist_rank, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
        MPI_Comm_size(node, &local);
        MPI_Comm_free(&node);
    }
    if (local > 1) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        int per = cpus > local ? (int)(cpus / local) : 1;
        ncmp_set_threads(per);
        ncmp_log_debug("%d ranks on this node, %ld cores: %d thread(s) per rank", local, cpus, per);
    }
    return NCMP_OK;
#else
    (void)argc;
    (void)argv;
    (void)err;
    return NCMP_OK;
#endif
}

void ncmp_dist_finalize(void)
{
#ifdef NCMP_HAVE_MPI
    if (dist_initialised) {
        MPI_Finalize();
        dist_initialised = false;
    }
#endif
}

_Noreturn void ncmp_dist_abort(int code)
{
    fflush(stdout);
    fflush(stderr);
#ifdef NCMP_HAVE_MPI
    if (dist_initialised && dist_size > 1)
        MPI_Abort(MPI_COMM_WORLD, code);
#endif
    exit(code);
}

int ncmp_dist_rank(void)
{
    return dist_rank;
}
int ncmp_dist_size(void)
{
    return dist_size;
}
bool ncmp_dist_parallel(void)
{
    return dist_size > 1;
}

void ncmp_dist_partition(size_t n, int parts, int part, size_t *lo, size_t *hi)
{
    ncmp_parallel_split(n, part > 0 ? part : 0, parts > 0 ? parts : 1, lo, hi);
}

bool ncmp_dist_failure_agreed(void)
{
    return failure_agreed;
}

ncmp_status ncmp_dist_agree(ncmp_status st, ncmp_error *err)
{
#ifdef NCMP_HAVE_MPI
    if (dist_size <= 1)
        return st;
    int mine = st == NCMP_OK ? dist_size : dist_rank, first = dist_size;
    MPI_Request req;
    int rc = MPI_Iallreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD, &req);
    if (rc == MPI_SUCCESS)
        rc = patient_wait(&req);
    if (rc != MPI_SUCCESS)
        return mpi_fail(err, rc, "MPI_Allreduce (agreeing on failures)");
    if (first == dist_size)
        return NCMP_OK;
    struct {
        int status;
        char message[NCMP_ERROR_MESSAGE_MAX];
    } packet;
    memset(&packet, 0, sizeof packet);
    if (dist_rank == first) {
        packet.status = (int)st;
        if (err)
            snprintf(packet.message, sizeof packet.message, "%s", err->message);
    }
    rc = MPI_Bcast(&packet, (int)sizeof packet, MPI_BYTE, first, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS)
        return mpi_fail(err, rc, "MPI_Bcast (agreeing on failures)");
    failure_agreed = true;
    ncmp_status agreed = (ncmp_status)packet.status;
    if (dist_rank == first)
        return agreed;
    if (!err)
        return agreed;
    err->status = agreed;
    snprintf(err->message, sizeof err->message, "rank %d of %d: %.960s", first, dist_size, packet.message);
    return agreed;
#else
    (void)err;
    return st;
#endif
}

ncmp_status ncmp_dist_sum_ordered(double *buf, size_t n, ncmp_error *err)
{
#ifdef NCMP_HAVE_MPI
    if (dist_size <= 1 || n == 0)
        return NCMP_OK;
    /* A binomial tree in rank order: at distance d = 1, 2, 4, ... rank r (a multiple of 2d) adds
     * the sum of ranks [r + d, r + 2d) after its own [r, r + d).  The additions are fixed by the
     * number of ranks alone, and no rank receives more than log2(P) partial sums. */
    const size_t piece = PIECE_BYTES / sizeof(double);
    double *tmp = NULL;
    ncmp_status st = NCMP_OK;
    for (int d = 1; d < dist_size && !st; d *= 2) {
        if (dist_rank % (2 * d) == d) {
            for (size_t off = 0; off < n && !st; off += piece) {
                int count = (int)(n - off < piece ? n - off : piece);
                int rc = MPI_Send(buf + off, count, MPI_DOUBLE, dist_rank - d, 7101, MPI_COMM_WORLD);
                if (rc != MPI_SUCCESS)
                    st = mpi_fail(err, rc, "MPI_Send (sum over ranks)");
            }
            break; /* this rank's partial sum is handed on; it waits for the broadcast */
        }
        if (dist_rank % (2 * d) == 0 && dist_rank + d < dist_size) {
            if (!tmp && !(tmp = malloc(sizeof(double) * (n < piece ? n : piece)))) {
                st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory for the sum over ranks (%zu values)", n);
                break;
            }
            for (size_t off = 0; off < n && !st; off += piece) {
                int count = (int)(n - off < piece ? n - off : piece);
                int rc = MPI_Recv(tmp, count, MPI_DOUBLE, dist_rank + d, 7101, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                if (rc != MPI_SUCCESS) {
                    st = mpi_fail(err, rc, "MPI_Recv (sum over ranks)");
                    break;
                }
                for (int i = 0; i < count; i++)
                    buf[off + (size_t)i] += tmp[i];
            }
        }
    }
    free(tmp);
    if (st)
        return st;
    return ncmp_dist_bcast(buf, n * sizeof(double), 0, err);
#else
    (void)buf;
    (void)n;
    (void)err;
    return NCMP_OK;
#endif
}

ncmp_status ncmp_dist_sum_i64(long long *buf, size_t n, ncmp_error *err)
{
#ifdef NCMP_HAVE_MPI
    if (dist_size <= 1)
        return NCMP_OK;
    const size_t piece = PIECE_BYTES / sizeof(long long);
    for (size_t off = 0; off < n; off += piece) {
        int count = (int)(n - off < piece ? n - off : piece);
        int rc = MPI_Allreduce(MPI_IN_PLACE, buf + off, count, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS)
            return mpi_fail(err, rc, "MPI_Allreduce (integer sum)");
    }
    return NCMP_OK;
#else
    (void)buf;
    (void)n;
    (void)err;
    return NCMP_OK;
#endif
}

ncmp_status ncmp_dist_bcast(void *buf, size_t bytes, int root, ncmp_error *err)
{
#ifdef NCMP_HAVE_MPI
    if (dist_size <= 1)
        return NCMP_OK;
    for (size_t off = 0; off < bytes; off += PIECE_BYTES) {
        int count = (int)(bytes - off < PIECE_BYTES ? bytes - off : PIECE_BYTES);
        int rc = MPI_Bcast((char *)buf + off, count, MPI_BYTE, root, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS)
            return mpi_fail(err, rc, "MPI_Bcast");
    }
    return NCMP_OK;
#else
    (void)buf;
    (void)bytes;
    (void)root;
    (void)err;
    return NCMP_OK;
#endif
}

ncmp_status ncmp_dist_allgather_i64(long long value, long long *all, ncmp_error *err)
{
#ifdef NCMP_HAVE_MPI
    if (dist_size > 1) {
        int rc = MPI_Allgather(&value, 1, MPI_LONG_LONG, all, 1, MPI_LONG_LONG, MPI_COMM_WORLD);
        return rc == MPI_SUCCESS ? NCMP_OK : mpi_fail(err, rc, "MPI_Allgather");
    }
#else
    (void)err;
#endif
    all[0] = value;
    return NCMP_OK;
}

ncmp_status ncmp_dist_barrier(ncmp_error *err)
{
#ifdef NCMP_HAVE_MPI
    if (dist_size > 1) {
        MPI_Request req;
        int rc = MPI_Ibarrier(MPI_COMM_WORLD, &req);
        if (rc == MPI_SUCCESS)
            rc = patient_wait(&req);
        return rc == MPI_SUCCESS ? NCMP_OK : mpi_fail(err, rc, "MPI_Barrier");
    }
#else
    (void)err;
#endif
    return NCMP_OK;
}

ncmp_status ncmp_dist_send(int dest, int tag, const void *buf, size_t bytes, ncmp_error *err)
{
#ifdef NCMP_HAVE_MPI
    if (bytes > (size_t)INT32_MAX)
        return ncmp_fail(err, NCMP_ERR_INTERNAL, "message of %zu bytes is too large", bytes);
    int rc = MPI_Send(buf, (int)bytes, MPI_BYTE, dest, tag, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? NCMP_OK : mpi_fail(err, rc, "MPI_Send");
#else
    (void)dest;
    (void)tag;
    (void)buf;
    (void)bytes;
    return ncmp_fail(err, NCMP_ERR_INTERNAL, "no other ranks without MPI");
#endif
}

bool ncmp_dist_poll(int tag, int *source, size_t *bytes)
{
#ifdef NCMP_HAVE_MPI
    if (dist_size <= 1)
        return false;
    int flag = 0, count = 0;
    MPI_Status status;
    if (MPI_Iprobe(MPI_ANY_SOURCE, tag, MPI_COMM_WORLD, &flag, &status) != MPI_SUCCESS || !flag)
        return false;
    MPI_Get_count(&status, MPI_BYTE, &count);
    *source = status.MPI_SOURCE;
    *bytes = (size_t)count;
    return true;
#else
    (void)tag;
    (void)source;
    (void)bytes;
    return false;
#endif
}

ncmp_status ncmp_dist_recv(int source, int tag, void *buf, size_t bytes, ncmp_error *err)
{
#ifdef NCMP_HAVE_MPI
    if (bytes > (size_t)INT32_MAX)
        return ncmp_fail(err, NCMP_ERR_INTERNAL, "message of %zu bytes is too large", bytes);
    int rc = MPI_Recv(buf, (int)bytes, MPI_BYTE, source, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    return rc == MPI_SUCCESS ? NCMP_OK : mpi_fail(err, rc, "MPI_Recv");
#else
    (void)source;
    (void)tag;
    (void)buf;
    (void)bytes;
    return ncmp_fail(err, NCMP_ERR_INTERNAL, "no other ranks without MPI");
#endif
}

void ncmp_dist_wait_for_root(int *code)
{
#ifdef NCMP_HAVE_MPI
    if (dist_size <= 1)
        return;
    if (dist_rank == 0) {
        for (int r = 1; r < dist_size; r++)
            MPI_Send(code, 1, MPI_INT, r, 7102, MPI_COMM_WORLD);
        return;
    }
    MPI_Request req;
    if (MPI_Irecv(code, 1, MPI_INT, 0, 7102, MPI_COMM_WORLD, &req) != MPI_SUCCESS || patient_wait(&req) != MPI_SUCCESS)
        *code = 1;
#else
    (void)code;
#endif
}
