/* A study's steps spread over MPI ranks: rank 0 hands ready steps to idle
 * ranks and keeps the manifest (see schedule.h; docs/scale-out.md).  The
 * dependency rule is make's: a step waits for the steps whose outputs it reads. */
#include "study/schedule.h"
#include "core/dist.h"
#include "core/log.h"

#include <errno.h>
#include <nettle/sha2.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Message tags (core/dist.c uses 71xx). */
enum { TAG_TASK = 7201, TAG_REPORT = 7202 };

/* Rank 0 -> worker: run a step, stop the step it runs (another step failed), leave, or
 * take part in a step every rank runs together in-process (an export). */
enum { TASK_RUN = 1, TASK_CANCEL = 2, TASK_STOP = 3, TASK_COLLECTIVE = 4 };

typedef struct task_message {
    int what;   /* TASK_* */
    int step;   /* index in the plan */
    int resume; /* the command gets --resume rather than --force */
} task_message;

/* Worker -> rank 0: the step's exit status. */
typedef struct report_message {
    int step;
    int exit_code;
    double seconds;
} report_message;

/* Between polls for messages and children: short enough not to delay a step,
 * long enough that an idle rank costs nothing. */
static void nap(void)
{
    struct timespec t = {0, 5 * 1000 * 1000};
    nanosleep(&t, NULL);
}

bool study_step_depends_on(const study_step *later, const study_step *earlier)
{
    if (later->local)
        return true; /* the results table reads what every step wrote */
    for (size_t i = 0; i < later->n_inputs; i++) {
        const char *in = later->inputs[i].path;
        for (size_t o = 0; o < earlier->n_outputs; o++) {
            const study_file *out = &earlier->outputs[o];
            size_t n = strlen(out->path);
            if (!strcmp(in, out->path) || (out->directory && !strncmp(in, out->path, n) && in[n] == '/'))
                return true;
        }
    }
    return false;
}

/* ---- rank 0 ----------------------------------------------------------------- */

enum { WAITING, RUNNING, FINISHED };

typedef struct leader {
    const study_config *c;
    const study_plan *p;
    const study_run_options *o;
    study_session *session;
    study_run_summary *sum;
    int ranks;
    unsigned char *depends; /* depends[i * n + j]: step i waits for step j */
    int *state;             /* per step */
    double *started;        /* per step */
    int *rank_step;         /* per rank: the step it runs, or -1 */
    pid_t own_child;        /* rank 0's own step */
    bool cancelled;
    ncmp_status failed; /* the first failure; its message is in err */
    /* the collective step under way: ranks yet to report, and the first non-zero exit code */
    int collective_step, collective_pending, collective_code;
} leader;

/* Exports use every rank at once (model/export_dist.c), in-process. */
static bool is_collective(const leader *l, const study_step *s)
{
    return l->o->collective && !s->local && !strcmp(s->kind, "export");
}

static bool ready(const leader *l, size_t i)
{
    size_t n = l->p->n_steps;
    for (size_t j = 0; j < i; j++)
        if (l->depends[i * n + j] && l->state[j] != FINISHED)
            return false;
    return true;
}

static int running_count(const leader *l)
{
    int k = 0;
    for (int r = 0; r < l->ranks; r++)
        k += l->rank_step[r] >= 0;
    return k;
}

/* An idle rank, the workers first (rank 0 also answers the others), or -1. */
static int idle_rank(const leader *l)
{
    for (int r = 1; r < l->ranks; r++)
        if (l->rank_step[r] < 0)
            return r;
    return l->rank_step[0] < 0 ? 0 : -1;
}

static void fail(leader *l, ncmp_status st, const ncmp_error *e, ncmp_error *err)
{
    if (l->failed)
        ncmp_log_error("%s", e->message); /* a later failure, seen while the study stops */
    else {
        l->failed = st;
        if (e != err)
            *err = *e;
    }
}

/* A rank reported that its step ended: record it (rank 0 alone writes the manifest). */
static void finish(leader *l, int rank, int step, int exit_code, double seconds, ncmp_error *err)
{
    const study_step *s = &l->p->steps[step];
    l->state[step] = FINISHED;
    char where[64];
    if (rank < 0) /* a collective step */
        snprintf(where, sizeof where, " on all %d ranks", l->ranks);
    else {
        l->rank_step[rank] = -1;
        snprintf(where, sizeof where, " on rank %d of %d", rank, l->ranks);
    }
    if (l->cancelled && exit_code != 0) {
        ncmp_log_warn("study: %-40s stopped%s (it resumes or reruns on the next run)", s->name, where);
        return;
    }
    ncmp_error e;
    ncmp_error_clear(&e);
    ncmp_status st = study_session_end(l->session, (size_t)step, exit_code, seconds, where, &e);
    if (st) {
        fail(l, st, &e, err);
        return;
    }
    l->sum->ran[step] = true;
    l->sum->n_run++;
    ncmp_log_info("study: %-40s done in %.1f s%s", s->name, seconds, where);
}

/* Start every ready step an idle rank can take; true if anything changed. */
static bool dispatch(leader *l, ncmp_error *err)
{
    bool progress = false;
    for (size_t i = 0; i < l->p->n_steps && !l->failed; i++) {
        const study_step *s = &l->p->steps[i];
        if (l->state[i] != WAITING || !ready(l, i))
            continue;
        if ((s->local || is_collective(l, s)) && running_count(l) > 0) {
            if (is_collective(l, s))
                break; /* it needs every rank: start nothing more until the running steps end */
            continue;
        }
        int rank = idle_rank(l);
        if (rank < 0)
            break;
        ncmp_error e;
        ncmp_error_clear(&e);
        bool fresh = false, resume = false;
        ncmp_status st = study_session_check(l->session, i, &fresh, &e);
        if (!st && fresh) {
            l->state[i] = FINISHED;
            l->sum->n_skipped++;
            ncmp_log_info("study: %-40s up to date", s->name);
            progress = true;
            continue;
        }
        if (!st)
            st = study_session_begin(l->session, i, is_collective(l, s) ? l->ranks : 1, &resume, &e);
        if (st) {
            fail(l, st, &e, err);
            break;
        }
        char *line = study_step_line(s);
        if (is_collective(l, s))
            ncmp_log_info("study: %-40s %s on all %d ranks\n       %s", s->name, resume ? "resuming" : "running",
                          l->ranks, line ? line : "");
        else
            ncmp_log_info("study: %-40s %s on rank %d of %d\n       %s", s->name, resume ? "resuming" : "running",
                          s->local ? 0 : rank, l->ranks, line ? line : "");
        free(line);
        progress = true;
        l->started[i] = study_now_seconds();
        l->state[i] = RUNNING;
        if (s->local) {
            /* in-process, on rank 0: the other ranks are idle by now */
            l->rank_step[0] = (int)i;
            st = s->local(l->c, l->p, &e);
            if (st) {
                l->rank_step[0] = -1;
                l->state[i] = FINISHED;
                fail(l, st, &e, err);
                break;
            }
            finish(l, 0, (int)i, 0, study_now_seconds() - l->started[i], err);
            continue;
        }
        if (is_collective(l, s)) {
            /* every rank is idle: each joins the step, rank 0 last; the workers report as for any step */
            for (int r = 1; r < l->ranks && !st; r++) {
                task_message t = {TASK_COLLECTIVE, (int)i, resume};
                if (!(st = ncmp_dist_send(r, TAG_TASK, &t, sizeof t, &e)))
                    l->rank_step[r] = (int)i;
            }
            if (st) {
                /* the ranks told already wait in the step's first collective operation: end the job */
                ncmp_log_error("study: %s; ending every rank", e.message);
                ncmp_dist_abort(1);
            }
            char **argv = study_step_command(s, l->o, resume);
            size_t argc = 0;
            while (argv && argv[argc])
                argc++;
            l->collective_step = (int)i;
            l->collective_pending = l->ranks - 1;
            l->collective_code = argv ? l->o->collective(l->c, (int)argc, argv) : 1;
            free(argv);
            if (l->collective_pending == 0)
                finish(l, -1, (int)i, l->collective_code, study_now_seconds() - l->started[i], err);
            continue;
        }
        if (rank == 0) {
            char **argv = study_step_command(s, l->o, resume);
            st = argv ? study_step_start(l->c, l->o, argv, &l->own_child, &e)
                      : ncmp_fail(&e, NCMP_ERR_NOMEM, "out of memory");
            free(argv);
            if (st) {
                l->state[i] = FINISHED;
                fail(l, st, &e, err);
                break;
            }
        } else {
            task_message t = {TASK_RUN, (int)i, resume};
            if ((st = ncmp_dist_send(rank, TAG_TASK, &t, sizeof t, &e))) {
                l->state[i] = FINISHED;
                fail(l, st, &e, err);
                break;
            }
        }
        l->rank_step[rank] = (int)i;
    }
    return progress;
}

/* Collect ended steps: rank 0's own child and the workers' reports. */
static bool collect(leader *l, ncmp_error *err)
{
    bool progress = false;
    int code;
    if (l->rank_step[0] >= 0 && study_step_wait(l->own_child, false, &code)) {
        int step = l->rank_step[0];
        finish(l, 0, step, code, study_now_seconds() - l->started[step], err);
        progress = true;
    }
    int source;
    size_t bytes;
    while (ncmp_dist_poll(TAG_REPORT, &source, &bytes)) {
        report_message m;
        ncmp_error e;
        ncmp_error_clear(&e);
        ncmp_status st = bytes == sizeof m ? ncmp_dist_recv(source, TAG_REPORT, &m, sizeof m, &e)
                                           : ncmp_fail(&e, NCMP_ERR_INTERNAL,
                                                       "rank %d sent a report of %zu bytes, "
                                                       "not %zu",
                                                       source, bytes, sizeof m);
        if (!st && (source <= 0 || source >= l->ranks || l->rank_step[source] != m.step))
            st = ncmp_fail(&e, NCMP_ERR_INTERNAL, "rank %d reported step %d, which it was not running", source, m.step);
        if (st) {
            fail(l, st, &e, err);
            if (source > 0 && source < l->ranks && l->rank_step[source] >= 0)
                l->state[l->rank_step[source]] = FINISHED, l->rank_step[source] = -1;
            continue;
        }
        progress = true;
        if (m.step == l->collective_step && l->collective_pending > 0) {
            /* one rank's part of a collective step: the step ends with the last one */
            l->rank_step[source] = -1;
            if (m.exit_code && !l->collective_code)
                l->collective_code = m.exit_code;
            if (--l->collective_pending == 0)
                finish(l, -1, m.step, l->collective_code, study_now_seconds() - l->started[m.step], err);
            continue;
        }
        finish(l, source, m.step, m.exit_code, m.seconds, err);
    }
    return progress;
}

/* After a failure: stop the steps still running (SIGTERM: they end as if
 * interrupted, exports and training resumable). */
static void cancel(leader *l)
{
    if (l->cancelled)
        return;
    l->cancelled = true;
    if (l->rank_step[0] >= 0)
        kill(l->own_child, SIGTERM);
    for (int r = 1; r < l->ranks; r++)
        if (l->rank_step[r] >= 0) {
            task_message t = {TASK_CANCEL, l->rank_step[r], 0};
            ncmp_dist_send(r, TAG_TASK, &t, sizeof t, NULL);
        }
}

static ncmp_status lead(const study_config *c, const study_plan *p, const study_run_options *o, study_run_summary *sum,
                        ncmp_error *err)
{
    size_t n = p->n_steps;
    leader l = {.c = c, .p = p, .o = o, .sum = sum, .ranks = ncmp_dist_size(), .collective_step = -1};
    l.depends = calloc(n * n + 1, 1);
    l.state = calloc(n + 1, sizeof *l.state);
    l.started = calloc(n + 1, sizeof *l.started);
    l.rank_step = malloc((size_t)l.ranks * sizeof *l.rank_step);
    ncmp_status st = NCMP_OK;
    if (!l.depends || !l.state || !l.started || !l.rank_step)
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory for a plan of %zu steps", n);
    else
        st = study_session_open(c, p, o, &l.session, err);
    if (!st) {
        for (int r = 0; r < l.ranks; r++)
            l.rank_step[r] = -1;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < i; j++)
                l.depends[i * n + j] = study_step_depends_on(&p->steps[i], &p->steps[j]);
        double t0 = study_now_seconds();
        for (;;) {
            bool progress = dispatch(&l, err);
            progress |= collect(&l, err);
            if (l.failed)
                cancel(&l);
            int running = running_count(&l);
            if (l.failed && !running)
                break;
            size_t finished = 0;
            for (size_t i = 0; i < n; i++)
                finished += l.state[i] == FINISHED;
            if (finished == n && !running)
                break;
            if (!progress)
                nap();
        }
        sum->seconds = study_now_seconds() - t0;
        st = l.failed;
    }
    /* every worker is idle now: let them go */
    for (int r = 1; r < ncmp_dist_size(); r++) {
        task_message t = {TASK_STOP, -1, 0};
        ncmp_dist_send(r, TAG_TASK, &t, sizeof t, NULL);
    }
    study_session_close(l.session);
    free(l.depends);
    free(l.state);
    free(l.started);
    free(l.rank_step);
    return st;
}

/* ---- the other ranks ------------------------------------------------------------ */

static ncmp_status work(const study_config *c, const study_plan *p, const study_run_options *o, ncmp_error *err)
{
    pid_t child = 0;
    int step = -1;
    double started = 0;
    for (;;) {
        bool progress = false;
        int code;
        if (step >= 0 && study_step_wait(child, false, &code)) {
            report_message m = {step, code, study_now_seconds() - started};
            ncmp_status st = ncmp_dist_send(0, TAG_REPORT, &m, sizeof m, err);
            if (st)
                return st;
            step = -1;
            progress = true;
        }
        int source;
        size_t bytes;
        if (ncmp_dist_poll(TAG_TASK, &source, &bytes)) {
            task_message t;
            if (bytes != sizeof t || source != 0)
                return ncmp_fail(err, NCMP_ERR_INTERNAL, "a study task message of %zu bytes from rank %d", bytes,
                                 source);
            ncmp_status st = ncmp_dist_recv(0, TAG_TASK, &t, sizeof t, err);
            if (st)
                return st;
            progress = true;
            if (t.what == TASK_STOP)
                break;
            if (t.what == TASK_CANCEL) {
                if (step >= 0 && step == t.step)
                    kill(child, SIGTERM);
                continue;
            }
            if (t.what == TASK_COLLECTIVE && o->collective && t.step >= 0 && (size_t)t.step < p->n_steps && step < 0) {
                char **argv = study_step_command(&p->steps[t.step], o, t.resume != 0);
                size_t argc = 0;
                while (argv && argv[argc])
                    argc++;
                double t0 = study_now_seconds();
                report_message m = {t.step, argv ? o->collective(c, (int)argc, argv) : 1, 0};
                m.seconds = study_now_seconds() - t0;
                free(argv);
                if ((st = ncmp_dist_send(0, TAG_REPORT, &m, sizeof m, err)))
                    return st;
                continue;
            }
            if (t.what != TASK_RUN || t.step < 0 || (size_t)t.step >= p->n_steps || p->steps[t.step].local || step >= 0)
                return ncmp_fail(err, NCMP_ERR_INTERNAL, "rank 0 sent a task this rank cannot run (%d, step %d)",
                                 t.what, t.step);
            char **argv = study_step_command(&p->steps[t.step], o, t.resume != 0);
            if (!argv)
                return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
            ncmp_error e;
            ncmp_error_clear(&e);
            step = t.step;
            started = study_now_seconds();
            st = study_step_start(c, o, argv, &child, &e);
            free(argv);
            if (st) {
                /* reported as a failed step: rank 0 names it */
                ncmp_log_error("%s", e.message);
                report_message m = {step, 1, 0};
                step = -1;
                if ((st = ncmp_dist_send(0, TAG_REPORT, &m, sizeof m, err)))
                    return st;
            }
        }
        if (!progress)
            nap();
    }
    return NCMP_OK;
}

/* SHA-256 of every step's name and argv: equal on two ranks when they mean the same steps by the same index. */
static void plan_digest(const study_plan *p, uint8_t digest[SHA256_DIGEST_SIZE])
{
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    for (size_t i = 0; i < p->n_steps; i++) {
        const study_step *s = &p->steps[i];
        sha256_update(&ctx, strlen(s->name) + 1, (const uint8_t *)s->name);
        for (size_t a = 0; a < s->argc; a++)
            sha256_update(&ctx, strlen(s->argv[a]) + 1, (const uint8_t *)s->argv[a]);
    }
    sha256_digest(&ctx, SHA256_DIGEST_SIZE, digest);
}

/* ---- every rank ----------------------------------------------------------------- */

ncmp_status study_schedule_run(const study_config *c, const study_plan *p, const study_run_options *o,
                               study_run_summary *sum, ncmp_error *err)
{
    memset(sum, 0, sizeof *sum);
    sum->ran = calloc(p->n_steps + 1, sizeof *sum->ran);
    ncmp_status st = sum->ran ? NCMP_OK : ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    /* the same study on every rank: the step indices in the messages mean the same steps */
    struct {
        uint8_t plan[SHA256_DIGEST_SIZE];
        long long n_steps;
    } root, mine;
    memset(&mine, 0, sizeof mine);
    plan_digest(p, mine.plan);
    mine.n_steps = (long long)p->n_steps;
    root = mine;
    ncmp_error e;
    ncmp_error_clear(&e);
    if (ncmp_dist_bcast(&root, sizeof root, 0, &e))
        return ncmp_dist_agree(ncmp_fail(err, e.status, "%s", e.message), err);
    if (!st && (memcmp(root.plan, mine.plan, sizeof mine.plan) || root.n_steps != mine.n_steps))
        st = ncmp_fail(err, NCMP_ERR_VALUE,
                       "the study '%s' makes other steps here than on rank 0 (%lld steps here, %lld there): every "
                       "rank must read the same study file and inputs (a shared file system)",
                       c->path, mine.n_steps, root.n_steps);
    if ((st = ncmp_dist_agree(st, err)))
        return st;
    if (ncmp_dist_rank() == 0)
        st = lead(c, p, o, sum, err);
    else if ((st = work(c, p, o, err))) {
        /* this rank lost touch with rank 0, which may be waiting for its report: end the job */
        ncmp_log_error("study: %s; ending every rank", err->message);
        ncmp_dist_abort(1);
    }
    return ncmp_dist_agree(st, err);
}
