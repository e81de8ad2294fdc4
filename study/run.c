/* Running a study's steps with content-hash keys, resuming and skipping as a
 * build system does (docs/reproducibility.md, "Skipping and resuming"). */
#include "study/run.h"
#include "core/dist.h"
#include "core/h5.h"
#include "core/log.h"
#include "core/paths.h"
#include "core/provenance.h"
#include "core/version.h"
#include "results/manifest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- hashing with a per-process cache ------------------------------------ */

typedef struct hash_entry {
    char *path;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    char hex[NCMP_SHA256_HEX_LEN];
} hash_entry;

static hash_entry *cache = NULL;
static size_t cache_n = 0, cache_cap = 0;

ncmp_status study_hash_file(const char *path, char hex[NCMP_SHA256_HEX_LEN], long long *bytes, ncmp_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return ncmp_fail(err, NCMP_ERR_NOT_FOUND, "'%s' does not exist", path);
    if (bytes)
        *bytes = (long long)st.st_size;
    for (size_t i = 0; i < cache_n; i++) {
        hash_entry *e = &cache[i];
        if (!strcmp(e->path, path) && e->dev == st.st_dev && e->ino == st.st_ino && e->size == st.st_size &&
            e->mtime.tv_sec == st.st_mtim.tv_sec && e->mtime.tv_nsec == st.st_mtim.tv_nsec) {
            memcpy(hex, e->hex, NCMP_SHA256_HEX_LEN);
            return NCMP_OK;
        }
    }
    ncmp_status s = ncmp_sha256_file(path, hex, err);
    if (s)
        return s;
    if (cache_n == cache_cap) {
        size_t cap = cache_cap ? 2 * cache_cap : 64;
        hash_entry *c = realloc(cache, cap * sizeof *c);
        if (!c)
            return NCMP_OK; /* the cache is an optimisation */
        cache = c;
        cache_cap = cap;
    }
    hash_entry *e = &cache[cache_n];
    if ((e->path = strdup(path))) {
        e->dev = st.st_dev;
        e->ino = st.st_ino;
        e->size = st.st_size;
        e->mtime = st.st_mtim;
        memcpy(e->hex, hex, NCMP_SHA256_HEX_LEN);
        cache_n++;
    }
    return NCMP_OK;
}

void study_step_key(const study_step *s, char (*input_sha256)[NCMP_SHA256_HEX_LEN], char key[NCMP_SHA256_HEX_LEN])
{
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    const char *head = "neurocmp study step 1\n" NCMP_VERSION "\n";
    sha256_update(&ctx, strlen(head), (const uint8_t *)head);
    sha256_update(&ctx, strlen(s->kind) + 1, (const uint8_t *)s->kind);
    if (s->local) {
        /* the in-process step's output format: a results.csv of an older layout is rewritten */
        const char *format = "results.csv 2 (metric column)";
        sha256_update(&ctx, strlen(format) + 1, (const uint8_t *)format);
    }
    for (size_t a = 0; a < s->argc; a++)
        sha256_update(&ctx, strlen(s->argv[a]) + 1, (const uint8_t *)s->argv[a]);
    for (size_t i = 0; i < s->n_inputs; i++) {
        sha256_update(&ctx, strlen(s->inputs[i].role) + 1, (const uint8_t *)s->inputs[i].role);
        sha256_update(&ctx, NCMP_SHA256_HEX_LEN, (const uint8_t *)input_sha256[i]);
    }
    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_digest(&ctx, sizeof digest, digest);
    for (int i = 0; i < SHA256_DIGEST_SIZE; i++)
        snprintf(key + 2 * i, 3, "%02x", digest[i]);
}

char *study_manifest_path(const study_config *c)
{
    size_t n = strlen(c->out) + 32;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/manifest.json", c->out);
    return p;
}

/* ---- outputs ---------------------------------------------------------------- */

typedef struct file_list {
    ncmp_manifest_file *files;
    size_t n, cap;
} file_list;

static ncmp_status list_add(file_list *l, const char *out_dir, const char *role, const char *abs, ncmp_error *err)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        ncmp_manifest_file *f = realloc(l->files, cap * sizeof *f);
        if (!f)
            return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        l->files = f;
        l->cap = cap;
    }
    ncmp_manifest_file *f = &l->files[l->n];
    memset(f, 0, sizeof *f);
    f->role = strdup(role);
    f->path = ncmp_manifest_relative_path(out_dir, abs);
    if (!f->role || !f->path) {
        free(f->role);
        free(f->path);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    }
    l->n++;
    ncmp_status st = study_hash_file(abs, f->sha256, &f->bytes, err);
    return st;
}

static void list_free(file_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->files[i].role);
        free(l->files[i].path);
    }
    free(l->files);
    memset(l, 0, sizeof *l);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file under dir, sorted, recorded with role "role/NAME". */
static ncmp_status list_directory(file_list *l, const char *out_dir, const char *role, const char *dir, ncmp_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return ncmp_fail(err, NCMP_ERR_IO, "the step did not write the folder '%s'", dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    ncmp_status st = NCMP_OK;
    while ((e = readdir(d)) && !st) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 32;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
                break;
            }
            names = nn;
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (names)
        qsort(names, n, sizeof *names, compare_names);
    for (size_t i = 0; i < n && !st; i++) {
        char path[4096], sub[512];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        snprintf(sub, sizeof sub, "%s/%s", role, names[i]);
        struct stat sb;
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
            st = list_directory(l, out_dir, sub, path, err);
        else if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && !strstr(names[i], ".partial"))
            st = list_add(l, out_dir, sub, path, err);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return st;
}

static ncmp_status hash_outputs(const study_config *c, const study_step *s, file_list *l, ncmp_error *err)
{
    ncmp_status st = NCMP_OK;
    for (size_t i = 0; i < s->n_outputs && !st; i++) {
        const study_file *o = &s->outputs[i];
        st = o->directory ? list_directory(l, c->out, o->role, o->path, err)
                          : list_add(l, c->out, o->role, o->path, err);
    }
    return st;
}

/* True if every output the manifest recorded for the step still hashes as recorded. */
static bool outputs_intact(const study_config *c, const ncmp_manifest_step *m)
{
    if (!m->n_outputs)
        return false;
    for (size_t i = 0; i < m->n_outputs; i++) {
        char *path = ncmp_manifest_resolve_path(c->out, m->outputs[i].path);
        char hex[NCMP_SHA256_HEX_LEN];
        bool ok = path && !study_hash_file(path, hex, NULL, NULL) && !strcmp(hex, m->outputs[i].sha256);
        free(path);
        if (!ok)
            return false;
    }
    return true;
}

/* Remove what an earlier run of the step wrote (only inside the output folder). */
static void remove_old_outputs(const study_config *c, const ncmp_manifest_step *m, const study_step *s)
{
    size_t n_out = strlen(c->out);
    for (size_t i = 0; m && i < m->n_outputs; i++) {
        char *path = ncmp_manifest_resolve_path(c->out, m->outputs[i].path);
        if (path && !strncmp(path, c->out, n_out) && !strstr(path, "/../"))
            unlink(path);
        free(path);
    }
    for (size_t i = 0; i < s->n_outputs; i++)
        if (!s->outputs[i].directory) {
            unlink(s->outputs[i].path);
            char partial[4200];
            snprintf(partial, sizeof partial, "%s.partial", s->outputs[i].path);
            unlink(partial);
        }
}

/* ---- running one command ---------------------------------------------------- */

ncmp_status study_step_start(const study_config *c, const study_run_options *o, char *const *argv, pid_t *pid,
                             ncmp_error *err)
{
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid(), child = fork();
    if (child < 0)
        return ncmp_fail(err, NCMP_ERR_IO, "cannot start a step: %s", strerror(errno));
    if (child == 0) {
        if (chdir(c->out) != 0) {
            fprintf(stderr, "neurocmp: error: cannot enter '%s': %s\n", c->out, strerror(errno));
            _exit(1);
        }
        setenv("NEUROCMP_STUDY_CONFIG", c->path, 1);
        /* a step of a study under MPI is a plain single process: MPI_Init in a rank's child would fail */
        setenv("NEUROCMP_NO_MPI", "1", 1);
        /* Under MPI, a rank the launcher kills takes its step with it (SIGTERM: it stops as if
         * interrupted, resumable), rather than leaving it writing while a rerun starts the step again. */
        if (ncmp_dist_parallel() && (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent))
            _exit(3);
        execv(o->exe, argv);
        fprintf(stderr, "neurocmp: error: cannot run '%s': %s\n", o->exe, strerror(errno));
        _exit(1);
    }
    *pid = child;
    return NCMP_OK;
}

bool study_step_wait(pid_t pid, bool block, int *exit_code)
{
    int status;
    for (;;) {
        pid_t r = waitpid(pid, &status, block ? 0 : WNOHANG);
        if (r == pid)
            break;
        if (r == 0)
            return false;
        if (errno != EINTR) {
            *exit_code = 1; /* lost the child: report a failure rather than wait forever */
            return true;
        }
    }
    *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return true;
}

static char *join_argv(char *const *argv, size_t argc)
{
    size_t n = 1;
    for (size_t a = 0; a < argc; a++)
        n += strlen(argv[a]) + 1;
    char *s = malloc(n);
    if (!s)
        return NULL;
    s[0] = '\0';
    for (size_t a = 0; a < argc; a++) {
        if (a)
            strcat(s, " ");
        strcat(s, argv[a]);
    }
    return s;
}

double study_now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

char **study_step_command(const study_step *s, const study_run_options *o, bool resume)
{
    char **argv = calloc(s->argc + 4, sizeof *argv);
    if (!argv)
        return NULL;
    /* the executable, -q, the command, then --resume/--force for resumable steps */
    size_t n = 0;
    argv[n++] = "neurocmp";
    if (o->quiet)
        argv[n++] = "-q";
    for (size_t a = 1; a < s->argc; a++)
        argv[n++] = s->argv[a];
    if (s->resumable)
        argv[n++] = resume ? "--resume" : "--force";
    argv[n] = NULL;
    return argv;
}

/* ---- a study's session: the lock, the manifest and each step's inputs --------- */

typedef struct step_state {
    file_list inputs;
    char key[NCMP_SHA256_HEX_LEN];
    bool checked, resume;
} step_state;

struct study_session {
    const study_config *c;
    const study_plan *p;
    const study_run_options *o;
    int lock;
    char *manifest_path;
    ncmp_manifest *m;
    step_state *steps;
};

void study_session_close(study_session *s)
{
    if (!s)
        return;
    for (size_t i = 0; s->steps && i < s->p->n_steps; i++)
        list_free(&s->steps[i].inputs);
    free(s->steps);
    ncmp_manifest_free(s->m);
    free(s->manifest_path);
    if (s->lock >= 0)
        close(s->lock); /* releases the lock */
    free(s);
}

ncmp_status study_session_open(const study_config *c, const study_plan *p, const study_run_options *o,
                               study_session **out, ncmp_error *err)
{
    *out = NULL;
    study_session *s = calloc(1, sizeof *s);
    if (!s)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    s->c = c;
    s->p = p;
    s->o = o;
    s->lock = -1;
    ncmp_status st = ncmp_make_directories(c->out, err);
    if (st) {
        study_session_close(s);
        return st;
    }
    /* One study process per output folder: a second one would interleave its steps and manifest writes. */
    char lock_path[4200];
    snprintf(lock_path, sizeof lock_path, "%s/.study.lock", c->out);
    s->lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (s->lock < 0) {
        st = ncmp_fail(err, NCMP_ERR_IO, "cannot create '%s': %s", lock_path, strerror(errno));
        study_session_close(s);
        return st;
    }
    if (flock(s->lock, LOCK_EX | LOCK_NB) != 0) {
        st = ncmp_fail(err, NCMP_ERR_EXISTS, "another 'neurocmp study' is running on '%s' (it holds %s)", c->out,
                       lock_path);
        study_session_close(s);
        return st;
    }
    s->manifest_path = study_manifest_path(c);
    s->steps = calloc(p->n_steps + 1, sizeof *s->steps);
    if (!s->manifest_path || !s->steps) {
        study_session_close(s);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    }
    if (ncmp_file_exists(s->manifest_path)) {
        if ((st = ncmp_manifest_read(s->manifest_path, &s->m, err))) {
            ncmp_error_context(err, "the study's manifest (remove it to start the study afresh)");
            study_session_close(s);
            return st;
        }
        memcpy(s->m->config_sha256, c->sha256, NCMP_SHA256_HEX_LEN);
    } else {
        char *cfg = ncmp_manifest_relative_path(c->out, c->path);
        st = ncmp_manifest_create(c->name, cfg ? cfg : c->path, c->sha256, &s->m, err);
        free(cfg);
        if (st) {
            study_session_close(s);
            return st;
        }
    }
    *out = s;
    return NCMP_OK;
}

static ncmp_status record(study_session *ss, const study_step *s, const char *state, double seconds,
                          const file_list *outputs, ncmp_error *err)
{
    step_state *t = &ss->steps[s - ss->p->steps];
    ncmp_manifest_step ms = {0};
    ms.name = (char *)s->name;
    ms.kind = (char *)s->kind;
    ms.key = t->key;
    ms.state = (char *)state;
    ms.cheap = s->cheap;
    ms.seconds = seconds;
    ms.argv = (char **)s->argv; /* copied by ncmp_manifest_put */
    ms.argc = s->argc;
    ms.inputs = t->inputs.files;
    ms.n_inputs = t->inputs.n;
    ms.outputs = outputs ? outputs->files : NULL;
    ms.n_outputs = outputs ? outputs->n : 0;
    ncmp_status st = ncmp_manifest_put(ss->m, &ms, err);
    if (!st)
        st = ncmp_manifest_write(ss->m, ss->manifest_path, err);
    return st;
}

ncmp_status study_session_check(study_session *ss, size_t step, bool *up_to_date, ncmp_error *err)
{
    const study_step *s = &ss->p->steps[step];
    step_state *t = &ss->steps[step];
    *up_to_date = false;
    list_free(&t->inputs);
    char(*hashes)[NCMP_SHA256_HEX_LEN] = calloc(s->n_inputs + 1, NCMP_SHA256_HEX_LEN);
    if (!hashes)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    ncmp_status st = NCMP_OK;
    for (size_t i = 0; i < s->n_inputs && !st; i++) {
        st = list_add(&t->inputs, ss->c->out, s->inputs[i].role, s->inputs[i].path, err);
        if (st)
            ncmp_error_context(err, "step %s: input '%s'", s->name, s->inputs[i].role);
        else
            memcpy(hashes[i], t->inputs.files[i].sha256, NCMP_SHA256_HEX_LEN);
    }
    if (!st) {
        study_step_key(s, hashes, t->key);
        t->checked = true;
        ncmp_manifest_step *prev = ncmp_manifest_find(ss->m, s->name);
        *up_to_date = !ss->o->rerun && prev && !strcmp(prev->state, "done") && !strcmp(prev->key, t->key) &&
                      outputs_intact(ss->c, prev);
    }
    free(hashes);
    return st;
}

/* The number of ranks an interrupted export ran on: its attribute mpi_ranks
 * (model/export_internal.h), one without it; -1 if unreadable.  An export
 * resumes only on as many ranks as it started on. */
static long long export_ranks(const char *path)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return -1;
    long long ranks = 1;
    if (ncmp_h5_attr_exists(f, "mpi_ranks") && ncmp_h5_attr_get_int64(f, "mpi_ranks", &ranks, NULL))
        ranks = -1;
    H5Fclose(f);
    return ranks;
}

ncmp_status study_session_begin(study_session *ss, size_t step, int ranks, bool *resume, ncmp_error *err)
{
    const study_config *c = ss->c;
    const study_step *s = &ss->p->steps[step];
    step_state *t = &ss->steps[step];
    if (!t->checked)
        return ncmp_fail(err, NCMP_ERR_INTERNAL, "step %s begun before its inputs were hashed", s->name);
    ncmp_manifest_step *prev = ncmp_manifest_find(ss->m, s->name);
    /* an interrupted export or training left OUT.partial (or, for training, OUT after an epoch) */
    char partial[4300];
    snprintf(partial, sizeof partial, "%s.partial", s->outputs[0].path);
    t->resume = s->resumable && prev && !strcmp(prev->state, "running") && !strcmp(prev->key, t->key) &&
                (ncmp_file_exists(s->outputs[0].path) || ncmp_file_exists(partial));
    if (t->resume && !strcmp(s->kind, "export")) {
        long long made = export_ranks(ncmp_file_exists(partial) ? partial : s->outputs[0].path);
        if (made != ranks) {
            ncmp_log_warn("study: %s: the interrupted export ran on %lld rank(s) and this run gives it %d: it starts "
                          "over",
                          s->name, made, ranks);
            t->resume = false;
        }
    }
    *resume = t->resume;
    if (!t->resume)
        remove_old_outputs(c, prev, s);
    ncmp_status st = NCMP_OK;
    for (size_t i = 0; i < s->n_outputs && !st; i++) {
        /* an output folder, or the folder of an output file */
        char dir[4200];
        snprintf(dir, sizeof dir, "%s", s->outputs[i].path);
        char *slash = s->outputs[i].directory ? NULL : strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        st = ncmp_make_directories(dir, err);
    }
    if (!st)
        st = record(ss, s, "running", 0, NULL, err);
    return st;
}

ncmp_status study_session_end(study_session *ss, size_t step, int exit_code, double seconds, const char *where,
                              ncmp_error *err)
{
    const study_config *c = ss->c;
    const study_step *s = &ss->p->steps[step];
    if (exit_code == 3 || exit_code == 130)
        return ncmp_fail(err, NCMP_ERR_INTERRUPTED,
                         "step %s was interrupted%s; run the study again to resume it (finished steps are kept)",
                         s->name, where ? where : "");
    if (exit_code != 0) {
        char *line = join_argv(s->argv, s->argc);
        ncmp_status st = ncmp_fail(err, NCMP_ERR_VALUE, "step %s failed (exit %d)%s; its command, run in '%s':\n  %s",
                                   s->name, exit_code, where ? where : "", c->out, line ? line : "");
        free(line);
        return st;
    }
    file_list outputs = {0};
    ncmp_status st = hash_outputs(c, s, &outputs, err);
    if (st)
        ncmp_error_context(err, "step %s", s->name);
    else
        st = record(ss, s, "done", seconds, &outputs, err);
    list_free(&outputs);
    return st;
}

char *study_step_line(const study_step *s)
{
    return join_argv(s->argv, s->argc);
}

static ncmp_status run_step(study_session *ss, size_t step, bool *ran, ncmp_error *err)
{
    const study_config *c = ss->c;
    const study_step *s = &ss->p->steps[step];
    *ran = false;
    bool fresh = false, resume = false;
    ncmp_status st = study_session_check(ss, step, &fresh, err);
    if (st)
        return st;
    if (fresh) {
        ncmp_log_info("study: %-40s up to date", s->name);
        return NCMP_OK;
    }
    if ((st = study_session_begin(ss, step, 1, &resume, err)))
        return st;
    char **argv = study_step_command(s, ss->o, resume);
    char *line = join_argv(s->argv, s->argc);
    if (!argv) {
        free(line);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    }
    ncmp_log_info("study: %-40s %s\n       %s", s->name, resume ? "resuming" : "running", line ? line : "");
    double t0 = study_now_seconds();
    int code = 0;
    pid_t pid;
    if (s->local)
        st = s->local(c, ss->p, err);
    else if (!(st = study_step_start(c, ss->o, argv, &pid, err)))
        study_step_wait(pid, true, &code);
    double seconds = study_now_seconds() - t0;
    if (!st)
        st = study_session_end(ss, step, code, seconds, NULL, err);
    if (!st) {
        *ran = true;
        ncmp_log_info("study: %-40s done in %.1f s", s->name, seconds);
    }
    free(line);
    free(argv);
    return st;
}

bool study_step_up_to_date(const study_config *c, const study_step *s, const char *manifest_path)
{
    ncmp_manifest *m = NULL;
    if (ncmp_manifest_read(manifest_path, &m, NULL))
        return false;
    char(*hashes)[NCMP_SHA256_HEX_LEN] = calloc(s->n_inputs + 1, NCMP_SHA256_HEX_LEN);
    bool ok = hashes != NULL;
    for (size_t i = 0; i < s->n_inputs && ok; i++)
        ok = !study_hash_file(s->inputs[i].path, hashes[i], NULL, NULL);
    char key[NCMP_SHA256_HEX_LEN];
    if (ok) {
        study_step_key(s, hashes, key);
        ncmp_manifest_step *prev = ncmp_manifest_find(m, s->name);
        ok = prev && !strcmp(prev->state, "done") && !strcmp(prev->key, key) && outputs_intact(c, prev);
    }
    free(hashes);
    ncmp_manifest_free(m);
    return ok;
}

ncmp_status study_run(const study_config *c, const study_plan *p, const study_run_options *o, study_run_summary *sum,
                      ncmp_error *err)
{
    memset(sum, 0, sizeof *sum);
    sum->ran = calloc(p->n_steps + 1, sizeof *sum->ran);
    if (!sum->ran)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    study_session *ss = NULL;
    ncmp_status st = study_session_open(c, p, o, &ss, err);
    if (st)
        return st;
    double t0 = study_now_seconds();
    for (size_t i = 0; i < p->n_steps && !st; i++) {
        st = run_step(ss, i, &sum->ran[i], err);
        if (!st)
            sum->ran[i] ? sum->n_run++ : sum->n_skipped++;
    }
    sum->seconds = study_now_seconds() - t0;
    study_session_close(ss);
    return st;
}
