/* `neurocmp verify` (results/verify.h, docs/verify.md): outputs re-hashed against a study's manifest or their own
 * provenance, staleness carried downstream, and cheap steps recomputed and compared number by number. */
/* realpath is XSI, beyond the POSIX level the build asks for */
#define _XOPEN_SOURCE 700

#include "results/verify.h"

#include "core/h5.h"
#include "core/log.h"
#include "core/paths.h"
#include "core/sha256.h"
#include "datasets/stimuli.h"
#include "results/json.h"
#include "results/manifest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* How far up from a file a manifest is looked for: a study's outputs sit at most this deep below it. */
#define MANIFEST_SEARCH_LEVELS 3

static const char *const state_names[NCMP_VERIFY_N_STATES] = {"up to date", "stale",    "missing input",
                                                              "incomplete", "modified", "unreadable"};

const char *ncmp_verify_state_name(ncmp_verify_state state)
{
    return state < NCMP_VERIFY_N_STATES ? state_names[state] : "?";
}

void ncmp_verify_options_default(ncmp_verify_options *o)
{
    *o = (ncmp_verify_options){.recompute = false, .tolerance = 1e-9};
}

void ncmp_verify_report_init(ncmp_verify_report *r)
{
    *r = (ncmp_verify_report){0};
}

void ncmp_verify_report_free(ncmp_verify_report *r)
{
    for (size_t i = 0; i < r->n_items; i++) {
        free(r->items[i].path);
        free(r->items[i].reason);
        free(r->items[i].note);
        free(r->items[i].step);
    }
    free(r->items);
    for (size_t i = 0; i < r->n_notes; i++)
        free(r->notes[i]);
    free(r->notes);
    *r = (ncmp_verify_report){0};
}

ncmp_verify_state ncmp_verify_worst(const ncmp_verify_report *r)
{
    ncmp_verify_state worst = NCMP_VERIFY_UP_TO_DATE;
    for (size_t i = 0; i < r->n_items; i++)
        if (r->items[i].state > worst)
            worst = r->items[i].state;
    return worst;
}

/* ---- small helpers ------------------------------------------------------------------------------------------- */

static char *format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *format(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n >= 0 && (s = malloc((size_t)n + 1))) {
        va_start(ap, fmt);
        vsnprintf(s, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    return s;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static ncmp_status add_item(ncmp_verify_report *r, const char *path, ncmp_verify_state state, const char *reason,
                            const char *note, const char *step, ncmp_error *err)
{
    ncmp_verify_item *grown = realloc(r->items, (r->n_items + 1) * sizeof *grown);
    if (!grown)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    r->items = grown;
    ncmp_verify_item *it = &r->items[r->n_items];
    *it = (ncmp_verify_item){dup_or_null(path), state, dup_or_null(reason), dup_or_null(note), dup_or_null(step)};
    if (!it->path || (reason && !it->reason) || (note && !it->note) || (step && !it->step)) {
        free(it->path);
        free(it->reason);
        free(it->note);
        free(it->step);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    }
    r->n_items++;
    r->count[state]++;
    return NCMP_OK;
}

static ncmp_status add_note(ncmp_verify_report *r, char *owned_note, ncmp_error *err)
{
    char **grown = owned_note ? realloc(r->notes, (r->n_notes + 1) * sizeof *grown) : NULL;
    if (!grown) {
        free(owned_note);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    }
    r->notes = grown;
    r->notes[r->n_notes++] = owned_note;
    return NCMP_OK;
}

static char *join_path(const char *dir, const char *name)
{
    if (!dir || !*dir || !strcmp(dir, ".") || name[0] == '/')
        return strdup(name);
    return format("%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", name);
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    return strndup(path, slash == path ? 1 : (size_t)(slash - path));
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* A file's extension ("json"), or "". */
static const char *extension(const char *path)
{
    const char *base = strrchr(path, '/');
    const char *dot = strrchr(base ? base : path, '.');
    return dot ? dot + 1 : "";
}

/* realpath, or the real folder joined with the last component when the file does not exist. */
static char *real_or_parent(const char *path)
{
    char *r = realpath(path, NULL);
    if (r)
        return r;
    char *dir = dir_of(path);
    const char *slash = strrchr(path, '/');
    char *rd = dir ? realpath(dir, NULL) : NULL;
    free(dir);
    if (!rd)
        return NULL;
    char *out = format("%s/%s", strcmp(rd, "/") ? rd : "", slash ? slash + 1 : path);
    free(rd);
    return out;
}

/* ---- hashing an input ------------------------------------------------------------------------------------------ */

typedef enum hash_result { HASH_SAME, HASH_DIFFERENT, HASH_MISSING } hash_result;

/* Compare a file's SHA-256 with the recorded one.  Stimuli (a folder, or a zip/CSV/IDX set whose recorded hash is
 * the set's fingerprint, datasets/stimuli.h) are compared by their fingerprint.  An input that exists but cannot
 * be read counts as missing, with the reason in `why`. */
static hash_result check_hash(const char *path, const char *role, const char *recorded, char *why, size_t why_size)
{
    why[0] = '\0';
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (errno != ENOENT && errno != ENOTDIR)
            snprintf(why, why_size, ": %s", strerror(errno));
        return HASH_MISSING;
    }
    char hex[NCMP_SHA256_HEX_LEN];
    ncmp_error e;
    ncmp_error_clear(&e);
    if (S_ISREG(sb.st_mode)) {
        if (ncmp_sha256_file(path, hex, &e)) {
            snprintf(why, why_size, ": %s", e.message);
            return HASH_MISSING;
        }
        if (!strcmp(hex, recorded))
            return HASH_SAME;
        if (strcmp(role, "stimuli"))
            return HASH_DIFFERENT;
    }
    ncmp_stimulus_set *set = NULL;
    if (ncmp_stimuli_open(path, &set, &e)) {
        if (S_ISREG(sb.st_mode))
            return HASH_DIFFERENT;
        snprintf(why, why_size, ": a folder that is not a stimulus set (%s)", e.message);
        return HASH_MISSING;
    }
    ncmp_status st = ncmp_stimuli_fingerprint(set, hex, &e);
    ncmp_stimuli_close(set);
    if (st) {
        snprintf(why, why_size, ": %s", e.message);
        return HASH_MISSING;
    }
    return strcmp(hex, recorded) ? HASH_DIFFERENT : HASH_SAME;
}

/* ---- a study: its manifest, evaluated step by step -------------------------------------------------------------- */

typedef struct step_eval {
    int visit;               /* 0 not yet, 1 being evaluated (a cycle stops here), 2 done */
    ncmp_verify_state state; /* of its inputs: up to date, stale, missing input or incomplete */
    char *reason;
    ncmp_verify_state *output_state; /* the outputs themselves: up to date or modified */
    char **output_reason;
    char **output_real; /* real paths of the outputs, to find which step made an input */
    ncmp_verify_state *recompute_state;
    char **recompute_text;
} step_eval;

typedef struct study {
    ncmp_manifest *m;
    char *dir;      /* the manifest's folder as given */
    char *real_dir; /* its real path */
    char *manifest_name;
    step_eval *eval;
} study;

static void study_free(study *s)
{
    if (s->eval)
        for (size_t i = 0; i < s->m->n_steps; i++) {
            step_eval *e = &s->eval[i];
            for (size_t k = 0; k < s->m->steps[i].n_outputs; k++) {
                if (e->output_reason)
                    free(e->output_reason[k]);
                if (e->output_real)
                    free(e->output_real[k]);
                if (e->recompute_text)
                    free(e->recompute_text[k]);
            }
            free(e->reason);
            free(e->output_state);
            free(e->output_reason);
            free(e->output_real);
            free(e->recompute_state);
            free(e->recompute_text);
        }
    free(s->eval);
    ncmp_manifest_free(s->m);
    free(s->dir);
    free(s->real_dir);
    free(s->manifest_name);
    *s = (study){0};
}

static ncmp_status study_open(const char *dir, study *s, ncmp_error *err)
{
    *s = (study){0};
    s->dir = strdup(dir);
    s->real_dir = realpath(dir, NULL);
    s->manifest_name = join_path(dir, "manifest.json");
    if (!s->dir || !s->real_dir || !s->manifest_name) {
        study_free(s);
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    }
    ncmp_status st = ncmp_manifest_read(s->manifest_name, &s->m, err);
    if (st) {
        study_free(s);
        return st;
    }
    if (!(s->eval = calloc(s->m->n_steps ? s->m->n_steps : 1, sizeof *s->eval)))
        goto nomem;
    for (size_t i = 0; i < s->m->n_steps; i++) {
        size_t n = s->m->steps[i].n_outputs ? s->m->steps[i].n_outputs : 1;
        step_eval *e = &s->eval[i];
        if (!(e->output_state = calloc(n, sizeof *e->output_state)) ||
            !(e->output_reason = calloc(n, sizeof *e->output_reason)) ||
            !(e->output_real = calloc(n, sizeof *e->output_real)) ||
            !(e->recompute_state = calloc(n, sizeof *e->recompute_state)) ||
            !(e->recompute_text = calloc(n, sizeof *e->recompute_text)))
            goto nomem;
        for (size_t k = 0; k < s->m->steps[i].n_outputs; k++) {
            char *p = ncmp_manifest_resolve_path(s->dir, s->m->steps[i].outputs[k].path);
            e->output_real[k] = p ? real_or_parent(p) : NULL;
            free(p);
        }
    }
    return NCMP_OK;
nomem:
    study_free(s);
    return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
}

/* The step (other than `self`) that lists `real` among its outputs, or -1. */
static long producer_of(const study *s, const char *real, size_t self)
{
    if (!real)
        return -1;
    for (size_t j = 0; j < s->m->n_steps; j++)
        for (size_t k = 0; j != self && k < s->m->steps[j].n_outputs; k++)
            if (s->eval[j].output_real[k] && !strcmp(s->eval[j].output_real[k], real))
                return (long)j;
    return -1;
}

static void set_reason(step_eval *e, ncmp_verify_state state, char *owned_reason)
{
    if (state > e->state) {
        e->state = state;
        free(e->reason);
        e->reason = owned_reason;
    } else
        free(owned_reason);
}

static void evaluate_step(study *s, size_t i)
{
    step_eval *e = &s->eval[i];
    if (e->visit)
        return;
    e->visit = 1;
    const ncmp_manifest_step *step = &s->m->steps[i];
    char why[NCMP_ERROR_MESSAGE_MAX + 64];
    if (strcmp(step->state, "done")) {
        set_reason(e, NCMP_VERIFY_INCOMPLETE,
                   format("step '%s' was still running when %s was last written (interrupted?)", step->name,
                          s->manifest_name));
        e->visit = 2;
        return;
    }
    for (size_t k = 0; k < step->n_outputs; k++) {
        const ncmp_manifest_file *f = &step->outputs[k];
        char *p = ncmp_manifest_resolve_path(s->dir, f->path);
        hash_result h = p ? check_hash(p, "", f->sha256, why, sizeof why) : HASH_MISSING;
        free(p);
        if (h == HASH_MISSING) {
            e->output_state[k] = NCMP_VERIFY_MODIFIED;
            e->output_reason[k] = why[0] ? format("output cannot be read%s", why)
                                         : format("missing output, listed in %s", s->manifest_name);
        } else if (h == HASH_DIFFERENT) {
            e->output_state[k] = NCMP_VERIFY_MODIFIED;
            e->output_reason[k] = format("sha256 differs from %s", s->manifest_name);
        }
    }
    for (size_t k = 0; k < step->n_inputs; k++) {
        const ncmp_manifest_file *f = &step->inputs[k];
        char *p = ncmp_manifest_resolve_path(s->dir, f->path);
        hash_result h = p ? check_hash(p, f->role, f->sha256, why, sizeof why) : HASH_MISSING;
        char *real = p ? real_or_parent(p) : NULL;
        free(p);
        if (h == HASH_MISSING)
            set_reason(e, NCMP_VERIFY_MISSING_INPUT, format("input '%s' (%s) is missing%s", f->role, f->path, why));
        else if (h == HASH_DIFFERENT)
            set_reason(e, NCMP_VERIFY_STALE, format("input '%s' (%s) changed since the step ran", f->role, f->path));
        else {
            long j = producer_of(s, real, i);
            if (j >= 0) {
                evaluate_step(s, (size_t)j);
                const step_eval *up = &s->eval[j];
                ncmp_verify_state up_state = up->state;
                for (size_t o = 0; o < s->m->steps[j].n_outputs; o++)
                    if (up->output_state[o] > up_state)
                        up_state = up->output_state[o];
                if (up->visit == 2 && up_state != NCMP_VERIFY_UP_TO_DATE)
                    set_reason(e, NCMP_VERIFY_STALE,
                               format("input '%s' (%s) comes from step '%s', which is %s", f->role, f->path,
                                      s->m->steps[j].name, ncmp_verify_state_name(up_state)));
            }
        }
        free(real);
    }
    e->visit = 2;
}

/* ---- recompute ----------------------------------------------------------------------------------------------- */

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        for (struct dirent *de; (de = readdir(d));) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char *p = join_path(path, de->d_name);
            struct stat sb;
            if (p && lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
                remove_tree(p);
            else if (p)
                unlink(p);
            free(p);
        }
        closedir(d);
    }
    rmdir(path);
}

/* Is `real` strictly inside the folder `dir` (both real paths)? */
static bool inside(const char *real, const char *dir)
{
    size_t n = strlen(dir);
    return !strncmp(real, dir, n) && (real[n] == '/' || !strcmp(dir, "/")) && real[n + (real[n] == '/')] != '\0';
}

/* The last non-empty line of a small text file, for a failed step's message. */
static void last_line(const char *path, char *buf, size_t size)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[1024];
    /* a line longer than buf is cut */
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0])
            snprintf(buf, size, "%s", line);
    }
    fclose(f);
}

/* Run `argv` in `cwd`, stdout to /dev/null unless show, stderr to err_path; the exit status, or -1. */
static int run_child(char *const *argv, const char *cwd, bool show, const char *err_path)
{
    int null_fd = show ? -1 : open("/dev/null", O_WRONLY | O_CLOEXEC);
    int err_fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        /* only async-signal-safe calls between fork and exec */
        if (chdir(cwd) != 0)
            _exit(126);
        if (null_fd >= 0)
            dup2(null_fd, STDOUT_FILENO);
        if (err_fd >= 0)
            dup2(err_fd, STDERR_FILENO);
        execv(argv[0], argv);
        _exit(127);
    }
    if (null_fd >= 0)
        close(null_fd);
    if (err_fd >= 0)
        close(err_fd);
    if (pid < 0)
        return -1;
    int status = 0;
    pid_t r;
    while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        ;
    if (r < 0)
        return -1;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* Rerun step i with every output (and every other existing file or folder under the study that is not an input,
 * so that no output the manifest does not list is overwritten) redirected into a temporary folder, then compare
 * each output's numbers with the recorded ones. */
static ncmp_status recompute_step(study *s, size_t i, const ncmp_verify_options *o, ncmp_error *err)
{
    const ncmp_manifest_step *step = &s->m->steps[i];
    step_eval *e = &s->eval[i];
    const char *base_tmp = getenv("TMPDIR");
    char *tmp = format("%s/neurocmp-verify.XXXXXX", base_tmp && *base_tmp ? base_tmp : "/tmp");
    if (!tmp)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    if (!mkdtemp(tmp)) {
        ncmp_status st = ncmp_fail(err, NCMP_ERR_IO, "cannot make a temporary folder '%s': %s", tmp, strerror(errno));
        free(tmp);
        return st;
    }
    char exe[PATH_MAX] = "";
    if (o->executable)
        snprintf(exe, sizeof exe, "%s", o->executable);
    else {
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        exe[n > 0 ? n : 0] = '\0';
    }
    char **argv = calloc(step->argc + 1, sizeof *argv);
    char **redirected = calloc(step->n_outputs ? step->n_outputs : 1, sizeof *redirected);
    char **input_real = calloc(step->n_inputs ? step->n_inputs : 1, sizeof *input_real);
    ncmp_status st = NCMP_OK;
    if (!argv || !redirected || !input_real) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t k = 0; k < step->n_inputs; k++) {
        char *p = ncmp_manifest_resolve_path(s->dir, step->inputs[k].path);
        input_real[k] = p ? real_or_parent(p) : NULL;
        free(p);
    }
    for (size_t a = 0; a < step->argc; a++) {
        const char *t = step->argv[a];
        if (a == 0 && !strcmp(t, "neurocmp") && exe[0]) {
            argv[a] = strdup(exe);
            continue;
        }
        /* --option=VALUE or VALUE */
        const char *eq = !strncmp(t, "--", 2) ? strchr(t, '=') : NULL;
        const char *value = eq ? eq + 1 : t;
        size_t prefix = (size_t)(value - t);
        char *joined = *value ? join_path(s->dir, value) : NULL;
        char *real = joined ? real_or_parent(joined) : NULL;
        free(joined);
        char *replacement = NULL;
        for (size_t k = 0; real && !replacement && k < step->n_outputs; k++)
            if (e->output_real[k] && !strcmp(real, e->output_real[k])) {
                const char *b = strrchr(real, '/');
                replacement = format("%s/%zu_%s", tmp, k, b ? b + 1 : real);
                if (replacement && !redirected[k])
                    redirected[k] = strdup(replacement);
            }
        struct stat sb;
        if (real && !replacement && a > 1 && inside(real, s->real_dir) && stat(real, &sb) == 0) {
            bool is_input = false;
            for (size_t k = 0; k < step->n_inputs; k++)
                is_input |= input_real[k] && !strcmp(input_real[k], real);
            if (!is_input) {
                const char *b = strrchr(real, '/');
                replacement = format("%s/other%zu_%s", tmp, a, b ? b + 1 : real);
                if (replacement && S_ISDIR(sb.st_mode)) {
                    mkdir(replacement, 0700);
                    /* a report folder: the outputs listed inside it are compared from the redirected one */
                    size_t n = strlen(real);
                    for (size_t k = 0; k < step->n_outputs; k++)
                        if (!redirected[k] && e->output_real[k] && !strncmp(e->output_real[k], real, n) &&
                            e->output_real[k][n] == '/')
                            redirected[k] = format("%s%s", replacement, e->output_real[k] + n);
                }
                ncmp_log_debug("verify: step '%s': argument '%s' names an existing file that is not a listed input; "
                               "redirected to '%s'",
                               step->name, t, replacement ? replacement : "?");
            }
        }
        if (replacement) {
            argv[a] = format("%.*s%s", (int)prefix, t, replacement);
            free(replacement);
        } else
            argv[a] = strdup(t);
        free(real);
        if (!argv[a]) {
            st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
            goto done;
        }
    }
    char *err_path = format("%s/stderr.txt", tmp);
    if (!err_path) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        goto done;
    }
    ncmp_log_debug("verify: recomputing step '%s' in %s", step->name, s->dir);
    int rc = run_child(argv, s->dir, o->show_step_output, err_path);
    char msg[1024];
    if (rc != 0) {
        char line[1100];
        last_line(err_path, line, sizeof line);
        for (size_t k = 0; k < step->n_outputs; k++) {
            e->recompute_state[k] = NCMP_VERIFY_UNREADABLE;
            e->recompute_text[k] =
                format("recompute failed: '%s' exited with %d%s%s", step->argv[0], rc, line[0] ? ": " : "", line);
        }
    } else
        for (size_t k = 0; k < step->n_outputs; k++) {
            const char *ext = extension(step->outputs[k].path);
            bool comparable = !strcmp(ext, "json") || !strcmp(ext, "csv") || !strcmp(ext, "tsv");
            if (!redirected[k]) {
                e->recompute_text[k] = format("recompute: not compared (the path is not among the step's arguments)");
                continue;
            }
            if (!comparable) {
                e->recompute_text[k] = format("recompute: not compared (only JSON and CSV numbers are)");
                continue;
            }
            char *recorded = ncmp_manifest_resolve_path(s->dir, step->outputs[k].path);
            bool agree = false;
            ncmp_error ce;
            ncmp_error_clear(&ce);
            ncmp_status cs = recorded ? ncmp_verify_compare_numbers(recorded, redirected[k], o->tolerance, &agree, msg,
                                                                    sizeof msg, &ce)
                                      : ncmp_fail(&ce, NCMP_ERR_NOMEM, "out of memory");
            free(recorded);
            if (cs) {
                e->recompute_state[k] = NCMP_VERIFY_UNREADABLE;
                e->recompute_text[k] = format("recompute: %s", ce.message);
            } else if (!agree) {
                e->recompute_state[k] = NCMP_VERIFY_MODIFIED;
                e->recompute_text[k] = format("recomputed: %s", msg);
            } else
                e->recompute_text[k] = format("recomputed: %s", msg);
        }
    free(err_path);
done:
    for (size_t a = 0; argv && a < step->argc; a++)
        free(argv[a]);
    free(argv);
    for (size_t k = 0; redirected && k < step->n_outputs; k++)
        free(redirected[k]);
    free(redirected);
    for (size_t k = 0; input_real && k < step->n_inputs; k++)
        free(input_real[k]);
    free(input_real);
    remove_tree(tmp);
    free(tmp);
    return st;
}

/* Append the items of step i (only its output `only` when only >= 0), recomputing it first when asked. */
static ncmp_status report_step(study *s, size_t i, long only, const char *shown_path, const ncmp_verify_options *o,
                               ncmp_verify_report *r, ncmp_error *err)
{
    const ncmp_manifest_step *step = &s->m->steps[i];
    step_eval *e = &s->eval[i];
    evaluate_step(s, i);
    bool outputs_intact = true;
    for (size_t k = 0; k < step->n_outputs; k++)
        outputs_intact &= e->output_state[k] == NCMP_VERIFY_UP_TO_DATE;
    ncmp_status st;
    if (o->recompute && step->cheap && e->state == NCMP_VERIFY_UP_TO_DATE && outputs_intact && step->n_outputs &&
        (st = recompute_step(s, i, o, err)))
        return st;
    if (!step->n_outputs) {
        char *label = format("step '%s'", step->name);
        st = label ? add_item(r, label, e->state, e->reason, NULL, step->name, err)
                   : ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        free(label);
        return st;
    }
    for (size_t k = 0; k < step->n_outputs; k++) {
        if (only >= 0 && (size_t)only != k)
            continue;
        ncmp_verify_state state = e->state;
        const char *reason = e->reason;
        if (e->output_state[k] > state) {
            state = e->output_state[k];
            reason = e->output_reason[k];
        }
        if (e->recompute_state[k] > state) {
            state = e->recompute_state[k];
            reason = e->recompute_text[k];
        }
        const char *note = e->recompute_state[k] == NCMP_VERIFY_UP_TO_DATE ? e->recompute_text[k] : NULL;
        if (o->recompute && !note && state == NCMP_VERIFY_UP_TO_DATE && !step->cheap)
            note = "not recomputed (not a cheap step)";
        char *path = only >= 0 ? strdup(shown_path) : ncmp_manifest_resolve_path(s->dir, step->outputs[k].path);
        if (!path)
            return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        st = add_item(r, path, state, reason, note, step->name, err);
        free(path);
        if (st)
            return st;
    }
    return NCMP_OK;
}

/* A note when the study's config changed since the manifest was written (its steps' keys may then differ). */
static ncmp_status note_config(const study *s, ncmp_verify_report *r, ncmp_error *err)
{
    if (!s->m->config_path || !s->m->config_sha256[0])
        return NCMP_OK;
    char *p = ncmp_manifest_resolve_path(s->dir, s->m->config_path);
    char why[NCMP_ERROR_MESSAGE_MAX + 64];
    hash_result h = p ? check_hash(p, "config", s->m->config_sha256, why, sizeof why) : HASH_SAME;
    free(p);
    if (h == HASH_SAME)
        return NCMP_OK;
    return add_note(r,
                    format("the study config %s %s since %s was written ('neurocmp study' reruns the steps whose "
                           "settings changed)",
                           s->m->config_path, h == HASH_MISSING ? "is gone" : "changed", s->manifest_name),
                    err);
}

static ncmp_status verify_study(const char *dir, const ncmp_verify_options *o, ncmp_verify_report *r, ncmp_error *err)
{
    study s;
    ncmp_error e;
    ncmp_error_clear(&e);
    ncmp_status st = study_open(dir, &s, &e);
    if (st == NCMP_ERR_NOMEM)
        return ncmp_fail(err, st, "%s", e.message);
    if (st) {
        char *name = join_path(dir, "manifest.json");
        st = name ? add_item(r, name, NCMP_VERIFY_UNREADABLE, e.message, NULL, NULL, err)
                  : ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        free(name);
        return st;
    }
    st = note_config(&s, r, err);
    for (size_t i = 0; !st && i < s.m->n_steps; i++)
        st = report_step(&s, i, -1, NULL, o, r, err);
    study_free(&s);
    return st;
}

/* ---- a file's own provenance ---------------------------------------------------------------------------------- */

typedef struct recorded_input {
    char *role, *path, *sha256;
} recorded_input;

typedef struct recorded_inputs {
    recorded_input *items;
    size_t n;
} recorded_inputs;

static void recorded_free(recorded_inputs *in)
{
    for (size_t i = 0; i < in->n; i++) {
        free(in->items[i].role);
        free(in->items[i].path);
        free(in->items[i].sha256);
    }
    free(in->items);
    *in = (recorded_inputs){0};
}

/* Take ownership of role, path and hash; inputs without a path or hash (a seeded network) are dropped. */
static bool recorded_add(recorded_inputs *in, char *role, char *path, char *sha256)
{
    if (!role || !path || !sha256 || !*path || !*sha256) {
        free(role);
        free(path);
        free(sha256);
        return role && path && sha256;
    }
    recorded_input *grown = realloc(in->items, (in->n + 1) * sizeof *grown);
    if (!grown) {
        free(role);
        free(path);
        free(sha256);
        return false;
    }
    in->items = grown;
    in->items[in->n++] = (recorded_input){role, path, sha256};
    return true;
}

typedef struct attr_names {
    char **names;
    size_t n;
    bool failed;
} attr_names;

static herr_t collect_attr(hid_t loc, const char *name, const H5A_info_t *info, void *data)
{
    (void)loc;
    (void)info;
    attr_names *a = data;
    if (!ends_with(name, "_sha256"))
        return 0;
    char **grown = realloc(a->names, (a->n + 1) * sizeof *grown);
    if (!grown || !(grown[a->n] = strdup(name))) {
        if (grown)
            a->names = grown;
        a->failed = true;
        return -1;
    }
    a->names = grown;
    a->n++;
    return 0;
}

/* Root attributes "<role>_sha256" with "<role>_path" (or "<role>", as an activations file names its weights and
 * stimuli).  *is_output false when the file has no neurocmp provenance. */
static ncmp_status read_h5_inputs(const char *path, recorded_inputs *in, bool *is_output, bool *incomplete,
                                  ncmp_error *err)
{
    NCMP_H5_QUIET_SCOPE;
    hid_t f;
    ncmp_status st = ncmp_h5_open_read(path, false, &f, err);
    if (st)
        return st;
    *is_output = ncmp_h5_attr_exists(f, "neurocmp_version");
    *incomplete = ncmp_h5_attr_exists(f, "complete") && !ncmp_h5_is_complete(f);
    attr_names a = {0};
    hsize_t idx = 0;
    if (*is_output)
        H5Aiterate2(f, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_attr, &a);
    if (a.failed)
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !st && i < a.n; i++) {
        size_t role_len = strlen(a.names[i]) - strlen("_sha256");
        char *role = strndup(a.names[i], role_len);
        char *path_attr = role ? format("%s_path", role) : NULL;
        char *hash = NULL, *input = NULL;
        ncmp_h5_attr_get_string(f, a.names[i], &hash, NULL);
        if (path_attr && ncmp_h5_attr_exists(f, path_attr))
            ncmp_h5_attr_get_string(f, path_attr, &input, NULL);
        else if (role && ncmp_h5_attr_exists(f, role))
            ncmp_h5_attr_get_string(f, role, &input, NULL);
        free(path_attr);
        if (!hash || !input) {
            /* not a string, or no path recorded beside it: nothing to re-hash */
            free(role);
            free(hash);
            free(input);
            continue;
        }
        if (!recorded_add(in, role, input, hash))
            st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < a.n; i++)
        free(a.names[i]);
    free(a.names);
    H5Fclose(f);
    return st;
}

/* The "provenance" object of a JSON result: "<role>_sha256" with "<role>_path" (or "<role>"). */
static ncmp_status read_json_inputs(const char *path, recorded_inputs *in, bool *is_output, ncmp_error *err)
{
    ncmp_json_value *root = NULL;
    ncmp_status st = ncmp_json_parse_file(path, &root, err);
    if (st)
        return st;
    const ncmp_json_value *prov = ncmp_json_get(root, "provenance");
    const ncmp_json_value *version = ncmp_json_get(prov, "neurocmp_version");
    *is_output = prov && prov->type == NCMP_JSON_OBJECT && version && version->type == NCMP_JSON_STRING;
    for (size_t i = 0; *is_output && !st && i < prov->n; i++) {
        const char *key = prov->keys[i];
        if (!ends_with(key, "_sha256") || prov->items[i].type != NCMP_JSON_STRING)
            continue;
        char *role = strndup(key, strlen(key) - strlen("_sha256"));
        char *path_key = role ? format("%s_path", role) : NULL;
        const ncmp_json_value *p = path_key ? ncmp_json_get(prov, path_key) : NULL;
        if (!p && role)
            p = ncmp_json_get(prov, role);
        free(path_key);
        if (!p || p->type != NCMP_JSON_STRING) {
            free(role);
            continue;
        }
        if (!recorded_add(in, role, strdup(p->string), strdup(prov->items[i].string)))
            st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    }
    ncmp_json_free(root);
    return st;
}

static bool has_hdf5_signature(const char *path)
{
    static const unsigned char magic[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    unsigned char buf[8];
    bool yes = false;
    /* the superblock may sit at 0, 512, 1024, 2048, ... */
    for (long at = 0; !yes && at <= (1L << 20); at = at ? 2 * at : 512)
        yes = fseek(f, at, SEEK_SET) == 0 && fread(buf, 1, 8, f) == 8 && !memcmp(buf, magic, 8);
    fclose(f);
    return yes;
}

/* Check a file against its own provenance.  With from_scan, a file that is not a neurocmp output is skipped
 * silently (a folder holds other files too); named on the command line it is unreadable. */
static ncmp_status verify_own_provenance(const char *path, bool from_scan, ncmp_verify_report *r, ncmp_error *err)
{
    recorded_inputs in = {0};
    bool is_output = false, incomplete = false;
    ncmp_error e;
    ncmp_error_clear(&e);
    ncmp_status st;
    const char *ext = extension(path);
    if (has_hdf5_signature(path))
        st = read_h5_inputs(path, &in, &is_output, &incomplete, &e);
    else if (!strcmp(ext, "json"))
        st = read_json_inputs(path, &in, &is_output, &e);
    else if (from_scan)
        return NCMP_OK;
    else
        st = ncmp_fail(&e, NCMP_ERR_FORMAT,
                       "'%s' is not an HDF5, netCDF-4 or JSON file, and no manifest.json in its folder or the %d "
                       "above lists it: not a neurocmp output whose inputs can be checked",
                       path, MANIFEST_SEARCH_LEVELS);
    if (st == NCMP_ERR_NOMEM) {
        recorded_free(&in);
        return ncmp_fail(err, st, "%s", e.message);
    }
    if (st || !is_output) {
        recorded_free(&in);
        if (!st && from_scan)
            return NCMP_OK;
        if (!st)
            snprintf(e.message, sizeof e.message, "'%s' carries no neurocmp provenance (%s): not a neurocmp output",
                     path, !strcmp(ext, "json") ? "no \"provenance\" object" : "no neurocmp_version attribute");
        return add_item(r, path, NCMP_VERIFY_UNREADABLE, e.message, NULL, NULL, err);
    }
    ncmp_verify_state state = incomplete ? NCMP_VERIFY_INCOMPLETE : NCMP_VERIFY_UP_TO_DATE;
    char *reason =
        incomplete ? strdup("the file was not finished (complete = 0); rerun the command that makes it") : NULL;
    char *dir = dir_of(path);
    char why[NCMP_ERROR_MESSAGE_MAX + 64];
    size_t checked = 0;
    for (size_t i = 0; i < in.n && dir; i++) {
        const recorded_input *x = &in.items[i];
        /* recorded relative to the working folder of the run that wrote it: try it from here, then from the file */
        char *p = strdup(x->path);
        struct stat sb;
        if (p && x->path[0] != '/' && stat(p, &sb) != 0) {
            char *beside = join_path(dir, x->path);
            if (beside && stat(beside, &sb) == 0) {
                free(p);
                p = beside;
            } else
                free(beside);
        }
        if (!p)
            continue;
        hash_result h = check_hash(p, x->role, x->sha256, why, sizeof why);
        free(p);
        checked++;
        ncmp_verify_state s = h == HASH_MISSING     ? NCMP_VERIFY_MISSING_INPUT
                              : h == HASH_DIFFERENT ? NCMP_VERIFY_STALE
                                                    : NCMP_VERIFY_UP_TO_DATE;
        if (s > state) {
            state = s;
            free(reason);
            reason = s == NCMP_VERIFY_MISSING_INPUT
                         ? format("input '%s' (%s) is missing%s", x->role, x->path, why)
                         : format("input '%s' (%s) changed since the file was written", x->role, x->path);
        }
    }
    const char *note = checked ? "no manifest: the file itself is not checked"
                               : "no manifest and no inputs recorded: nothing to check";
    st = dir ? add_item(r, path, state, reason, note, NULL, err) : ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    free(dir);
    free(reason);
    recorded_free(&in);
    return st;
}

/* ---- a file: through the nearest manifest that lists it, else its own provenance ----------------------------- */

static ncmp_status verify_file(const char *path, bool from_scan, const ncmp_verify_options *o, ncmp_verify_report *r,
                               ncmp_error *err)
{
    char *real = realpath(path, NULL);
    if (!real)
        return add_item(r, path, NCMP_VERIFY_UNREADABLE, strerror(errno), NULL, NULL, err);
    char *dir = dir_of(path);
    ncmp_status st = NCMP_OK;
    bool done = false;
    for (int level = 0; dir && !done && !st && level <= MANIFEST_SEARCH_LEVELS; level++) {
        char *candidate = join_path(dir, "manifest.json");
        bool exists = candidate && ncmp_file_exists(candidate);
        free(candidate);
        if (exists) {
            study s;
            ncmp_error e;
            ncmp_error_clear(&e);
            ncmp_status os = study_open(dir, &s, &e);
            if (os == NCMP_ERR_NOMEM)
                st = ncmp_fail(err, os, "%s", e.message);
            else if (os) {
                /* a damaged manifest beside the file: nothing about it can be trusted */
                st = add_item(r, path, NCMP_VERIFY_UNREADABLE, e.message, NULL, NULL, err);
                done = true;
            } else {
                for (size_t i = 0; !done && i < s.m->n_steps; i++)
                    for (size_t k = 0; !done && k < s.m->steps[i].n_outputs; k++)
                        if (s.eval[i].output_real[k] && !strcmp(s.eval[i].output_real[k], real)) {
                            st = note_config(&s, r, err);
                            if (!st)
                                st = report_step(&s, i, (long)k, path, o, r, err);
                            done = true;
                        }
                study_free(&s);
            }
        }
        char *up = join_path(dir, "..");
        free(dir);
        dir = up;
    }
    free(dir);
    free(real);
    if (st || done)
        return st;
    return verify_own_provenance(path, from_scan, r, err);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* A folder without a manifest: every neurocmp output in it and below, in name order; a subfolder holding a
 * manifest is verified as a study. */
static ncmp_status verify_folder(const char *dir, const ncmp_verify_options *o, ncmp_verify_report *r, ncmp_error *err)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, by_name);
    if (n < 0)
        return add_item(r, dir, NCMP_VERIFY_UNREADABLE, strerror(errno), NULL, NULL, err);
    ncmp_status st = NCMP_OK;
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        char *p = name[0] != '.' && !ends_with(name, ".partial") ? join_path(dir, name) : NULL;
        struct stat sb;
        if (!st && p && lstat(p, &sb) == 0) {
            if (S_ISDIR(sb.st_mode)) {
                char *m = join_path(p, "manifest.json");
                bool is_study = m && ncmp_file_exists(m);
                free(m);
                st = is_study ? verify_study(p, o, r, err) : verify_folder(p, o, r, err);
            } else if (S_ISREG(sb.st_mode)) {
                const char *ext = extension(name);
                if (!strcmp(ext, "h5") || !strcmp(ext, "nc") || !strcmp(ext, "hdf5") || !strcmp(ext, "json"))
                    st = verify_file(p, true, o, r, err);
            }
        }
        free(p);
        free(names[i]);
    }
    free(names);
    return st;
}

ncmp_status ncmp_verify_path(const char *path, const ncmp_verify_options *o, ncmp_verify_report *r, ncmp_error *err)
{
    ncmp_verify_options defaults;
    if (!o) {
        ncmp_verify_options_default(&defaults);
        o = &defaults;
    }
    struct stat sb;
    if (stat(path, &sb) != 0)
        return add_item(r, path, NCMP_VERIFY_UNREADABLE, strerror(errno), NULL, NULL, err);
    if (S_ISDIR(sb.st_mode)) {
        char *m = join_path(path, "manifest.json");
        bool is_study = m && ncmp_file_exists(m);
        free(m);
        return is_study ? verify_study(path, o, r, err) : verify_folder(path, o, r, err);
    }
    const char *base = strrchr(path, '/');
    if (!strcmp(base ? base + 1 : path, "manifest.json")) {
        char *dir = dir_of(path);
        ncmp_status st = dir ? verify_study(dir, o, r, err) : ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        free(dir);
        return st;
    }
    return verify_file(path, false, o, r, err);
}
