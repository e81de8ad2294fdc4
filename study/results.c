/* The study's results table: read back from the steps' JSON outputs,
 * written as CSV, and checked against expected values
 * (docs/reproducibility.md, "Results table" and "Expected values"). */
#include "study/results.h"
#include "core/atomic.h"
#include "results/csv.h"
#include "results/json.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static ncmp_status add(study_table *t, const study_row *r, ncmp_error *err)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 256;
        study_row *rows = realloc(t->rows, cap * sizeof *rows);
        if (!rows)
            return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
        t->rows = rows;
        t->cap = cap;
    }
    t->rows[t->n++] = *r;
    return NCMP_OK;
}

static study_row row(const char *kind, const char *model)
{
    study_row r;
    memset(&r, 0, sizeof r);
    snprintf(r.kind, sizeof r.kind, "%s", kind);
    snprintf(r.model, sizeof r.model, "%s", model ? model : "");
    r.iteration = -1;
    r.error = NAN;
    return r;
}

static double num(const ncmp_json_value *v, const char *key)
{
    const ncmp_json_value *x = v ? ncmp_json_get(v, key) : NULL;
    return x && x->type == NCMP_JSON_NUMBER ? x->number : NAN;
}

static const char *str(const ncmp_json_value *v, const char *key)
{
    const ncmp_json_value *x = v ? ncmp_json_get(v, key) : NULL;
    return x && x->type == NCMP_JSON_STRING ? x->string : "";
}

static ncmp_status collect_eval(study_table *t, const study_step *s, const ncmp_json_value *j, ncmp_error *err)
{
    const char *model = s->model;
    const ncmp_json_value *attack = ncmp_json_get(j, "attack");
    const ncmp_json_value *acc = ncmp_json_get(j, attack ? "adversarial_accuracy" : "accuracy");
    char quantity[48] = "accuracy";
    if (attack)
        snprintf(quantity, sizeof quantity, "accuracy_%s_%g", str(attack, "kind"), num(attack, "eps"));
    ncmp_status st = NCMP_OK;
    for (size_t i = 0; acc && acc->type == NCMP_JSON_ARRAY && i < acc->n && !st; i++) {
        study_row r = row("eval", model);
        r.iteration = (long long)i;
        snprintf(r.quantity, sizeof r.quantity, "%s", quantity);
        r.value = acc->items[i].number;
        st = add(t, &r, err);
    }
    return st;
}

static ncmp_status collect_ceiling(study_table *t, const study_step *s, const ncmp_json_value *j, ncmp_error *err)
{
    study_row r = row("ceiling", NULL);
    snprintf(r.recordings, sizeof r.recordings, "%s", s->recordings);
    snprintf(r.region, sizeof r.region, "%s", str(j, "region"));
    snprintf(r.quantity, sizeof r.quantity, "ceiling");
    r.value = num(j, "ceiling");
    r.error = num(j, "error");
    return isnan(r.value) ? NCMP_OK : add(t, &r, err);
}

static ncmp_status score_record(study_table *t, const char *model, const char *recordings, const char *metric,
                                const ncmp_json_value *rec, ncmp_error *err)
{
    study_row r = row("score", model);
    snprintf(r.layer, sizeof r.layer, "%s", str(rec, "layer"));
    r.iteration = (long long)num(rec, "iteration");
    snprintf(r.recordings, sizeof r.recordings, "%s", recordings);
    snprintf(r.region, sizeof r.region, "%s", str(rec, "region"));
    snprintf(r.metric, sizeof r.metric, "%s", metric);
    ncmp_status st;
    snprintf(r.quantity, sizeof r.quantity, "raw");
    r.value = num(rec, "raw");
    r.error = num(rec, "error");
    if ((st = add(t, &r, err)))
        return st;
    snprintf(r.quantity, sizeof r.quantity, "ceiled");
    r.value = num(rec, "ceiled");
    r.error = num(rec, "ceiled_error");
    return add(t, &r, err);
}

static ncmp_status collect_score(study_table *t, const study_step *s, const ncmp_json_value *j, ncmp_error *err)
{
    const char *model = s->model, *recordings = s->recordings;
    const ncmp_json_value *results = ncmp_json_get(j, "results");
    ncmp_status st = NCMP_OK;
    if (results && results->type == NCMP_JSON_ARRAY) {
        for (size_t i = 0; i < results->n && !st; i++)
            st = score_record(t, model, recordings, s->metric, &results->items[i], err);
        return st;
    }
    /* one layer: iteration, raw, error, ceiled are numbers or arrays over iterations */
    const ncmp_json_value *it = ncmp_json_get(j, "iteration"), *raw = ncmp_json_get(j, "raw"),
                          *e = ncmp_json_get(j, "error"), *ce = ncmp_json_get(j, "ceiled");
    size_t n = it && it->type == NCMP_JSON_ARRAY ? it->n : 1;
    for (size_t i = 0; i < n && !st; i++) {
        study_row r = row("score", model);
        snprintf(r.layer, sizeof r.layer, "%s", str(j, "layer"));
        snprintf(r.recordings, sizeof r.recordings, "%s", recordings);
        snprintf(r.region, sizeof r.region, "%s", str(j, "region"));
        snprintf(r.metric, sizeof r.metric, "%s", s->metric);
        r.iteration = (long long)(n > 1 ? it->items[i].number : it ? it->number : 0);
        snprintf(r.quantity, sizeof r.quantity, "raw");
        r.value = raw ? (n > 1 ? raw->items[i].number : raw->number) : NAN;
        r.error = e ? (n > 1 ? e->items[i].number : e->number) : NAN;
        if ((st = add(t, &r, err)))
            break;
        snprintf(r.quantity, sizeof r.quantity, "ceiled");
        r.value = ce ? (n > 1 ? ce->items[i].number : ce->number) : NAN;
        r.error = NAN;
        st = add(t, &r, err);
    }
    return st;
}

static ncmp_status collect_temporal(study_table *t, const study_step *s, const ncmp_json_value *j, ncmp_error *err)
{
    const char *model = s->model, *recordings = s->recordings;
    const ncmp_json_value *it = ncmp_json_get(j, "iteration"), *b0 = ncmp_json_get(j, "time_bin_start_ms"),
                          *b1 = ncmp_json_get(j, "time_bin_end_ms"), *ce = ncmp_json_get(j, "ceiled"),
                          *best = ncmp_json_get(j, "best_iteration_per_bin");
    if (!it || !b0 || !b1 || !ce || it->type != NCMP_JSON_ARRAY || b0->type != NCMP_JSON_ARRAY ||
        b1->type != NCMP_JSON_ARRAY || ce->type != NCMP_JSON_ARRAY || ce->n != it->n || b0->n != b1->n)
        return ncmp_fail(err, NCMP_ERR_FORMAT, "step %s: its temporal.json lacks the iteration x bin matrix", s->name);
    ncmp_status st = NCMP_OK;
    for (size_t i = 0; i < it->n && !st; i++)
        for (size_t k = 0; k < b0->n && !st; k++) {
            if (ce->items[i].type != NCMP_JSON_ARRAY || ce->items[i].n != b0->n)
                return ncmp_fail(err, NCMP_ERR_FORMAT, "step %s: temporal.json's ceiled matrix is ragged", s->name);
            study_row r = row("temporal", model);
            snprintf(r.layer, sizeof r.layer, "%s", str(j, "layer"));
            r.iteration = (long long)it->items[i].number;
            snprintf(r.recordings, sizeof r.recordings, "%s", recordings);
            snprintf(r.region, sizeof r.region, "%s", str(j, "region"));
            snprintf(r.bin, sizeof r.bin, "%g-%g", b0->items[k].number, b1->items[k].number);
            snprintf(r.quantity, sizeof r.quantity, "ceiled");
            r.value = ce->items[i].items[k].type == NCMP_JSON_NUMBER ? ce->items[i].items[k].number : NAN;
            st = add(t, &r, err);
        }
    for (size_t k = 0; best && best->type == NCMP_JSON_ARRAY && k < best->n && k < b0->n && !st; k++) {
        study_row r = row("temporal", model);
        snprintf(r.layer, sizeof r.layer, "%s", str(j, "layer"));
        snprintf(r.recordings, sizeof r.recordings, "%s", recordings);
        snprintf(r.region, sizeof r.region, "%s", str(j, "region"));
        snprintf(r.bin, sizeof r.bin, "%g-%g", b0->items[k].number, b1->items[k].number);
        snprintf(r.quantity, sizeof r.quantity, "best_iteration");
        r.value = best->items[k].type == NCMP_JSON_NUMBER ? best->items[k].number : NAN;
        st = add(t, &r, err);
    }
    return st;
}

static ncmp_status collect_compare(study_table *t, const study_step *s, const ncmp_json_value *j, ncmp_error *err)
{
    const char *pretty = s->model; /* "cnnf:block4@5 vs cnnf:block4@0" */
    static const char *const keys[] = {"score_a",  "score_b",           "difference",    "ceiled_a",
                                       "ceiled_b", "ceiled_difference", "p_permutation", "p_sign"};
    ncmp_status st = NCMP_OK;
    for (size_t k = 0; k < sizeof keys / sizeof keys[0] && !st; k++) {
        study_row r = row("compare", pretty);
        snprintf(r.recordings, sizeof r.recordings, "%s", s->recordings);
        snprintf(r.region, sizeof r.region, "%s", str(j, "region"));
        snprintf(r.metric, sizeof r.metric, "%s", s->metric);
        snprintf(r.quantity, sizeof r.quantity, "%s", keys[k]);
        r.value = num(j, keys[k]);
        if (!strcmp(keys[k], "difference")) {
            const ncmp_json_value *ci = ncmp_json_get(j, "ci_difference");
            if (ci && ci->type == NCMP_JSON_ARRAY && ci->n == 2)
                r.error = 0.5 * (ci->items[1].number - ci->items[0].number);
        }
        st = add(t, &r, err);
    }
    return st;
}

ncmp_status study_results_collect(const study_config *c, const study_plan *p, study_table **out, ncmp_error *err)
{
    (void)c;
    *out = NULL;
    study_table *t = calloc(1, sizeof *t);
    if (!t)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    ncmp_status st = NCMP_OK;
    for (size_t i = 0; i < p->n_steps && !st; i++) {
        const study_step *s = &p->steps[i];
        const char *kind = s->kind;
        char path[4200] = "";
        if (!strcmp(kind, "eval"))
            snprintf(path, sizeof path, "%s", study_step_output(s, "accuracy")->path);
        else if (!strcmp(kind, "ceiling"))
            snprintf(path, sizeof path, "%s", study_step_output(s, "ceiling")->path);
        else if (!strcmp(kind, "score"))
            snprintf(path, sizeof path, "%s", study_step_output(s, "scores")->path);
        else if (!strcmp(kind, "temporal"))
            snprintf(path, sizeof path, "%s/temporal.json", study_step_output(s, "temporal")->path);
        else if (!strcmp(kind, "compare"))
            snprintf(path, sizeof path, "%s", study_step_output(s, "comparison")->path);
        else
            continue;
        ncmp_json_value *j = NULL;
        if ((st = ncmp_json_parse_file(path, &j, err)))
            break;
        if (!strcmp(kind, "eval"))
            st = collect_eval(t, s, j, err);
        else if (!strcmp(kind, "ceiling"))
            st = collect_ceiling(t, s, j, err);
        else if (!strcmp(kind, "score"))
            st = collect_score(t, s, j, err);
        else if (!strcmp(kind, "temporal"))
            st = collect_temporal(t, s, j, err);
        else
            st = collect_compare(t, s, j, err);
        ncmp_json_free(j);
    }
    if (st) {
        study_table_free(t);
        return st;
    }
    *out = t;
    return NCMP_OK;
}

void study_table_free(study_table *t)
{
    if (!t)
        return;
    free(t->rows);
    free(t);
}

static const char *const COLUMNS = "kind,model,layer,iteration,recordings,region,bin,metric,quantity,value,error";

ncmp_status study_results_write_csv(const study_table *t, const char *path, ncmp_error *err)
{
    ncmp_atomic_file af;
    ncmp_status st = ncmp_atomic_begin(&af, path, true, err);
    if (st)
        return st;
    FILE *f = af.stream;
    fprintf(f, "%s\n", COLUMNS);
    for (size_t i = 0; i < t->n; i++) {
        const study_row *r = &t->rows[i];
        const char *cells[] = {r->kind, r->model, r->layer};
        for (int k = 0; k < 3; k++) {
            ncmp_csv_field(f, cells[k], ',');
            fputc(',', f);
        }
        if (r->iteration >= 0)
            fprintf(f, "%lld", r->iteration);
        fputc(',', f);
        const char *more[] = {r->recordings, r->region, r->bin, r->metric, r->quantity};
        for (int k = 0; k < 5; k++) {
            ncmp_csv_field(f, more[k], ',');
            fputc(',', f);
        }
        if (!isnan(r->value))
            fprintf(f, "%.17g", r->value);
        fputc(',', f);
        if (!isnan(r->error))
            fprintf(f, "%.17g", r->error);
        fputc('\n', f);
    }
    return ncmp_atomic_commit(&af, err);
}

/* One CSV line into fields (quotes as written above); returns the count. */
static int split_csv(char *line, char **fields, int max)
{
    int n = 0;
    char *p = line;
    while (n < max) {
        char *w = p;
        fields[n++] = w;
        if (*p == '"') {
            p++;
            for (;;) {
                if (!*p)
                    break;
                if (*p == '"' && p[1] == '"') {
                    *w++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else
                    *w++ = *p++;
            }
            char *after = p;
            *w = '\0';
            p = after;
        } else {
            while (*p && *p != ',')
                p++;
            if (*p == ',' || !*p) {
                char c = *p;
                *p = '\0';
                if (!c)
                    return n;
                p++;
                continue;
            }
        }
        if (*p == ',')
            p++;
        else
            return n;
    }
    return n;
}

ncmp_status study_results_read_csv(const char *path, study_table **out, ncmp_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f)
        return ncmp_fail(err, NCMP_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    study_table *t = calloc(1, sizeof *t);
    char line[2048];
    ncmp_status st = t ? NCMP_OK : ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    size_t lineno = 0;
    while (!st && fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (lineno == 1) {
            if (strcmp(line, COLUMNS))
                st = ncmp_fail(err, NCMP_ERR_FORMAT, "'%s' is not a study results table (header '%s')", path, line);
            continue;
        }
        char *fields[11];
        if (split_csv(line, fields, 11) != 11) {
            st = ncmp_fail(err, NCMP_ERR_FORMAT, "%s:%zu: expected 11 fields", path, lineno);
            break;
        }
        study_row r = row(fields[0], fields[1]);
        snprintf(r.layer, sizeof r.layer, "%s", fields[2]);
        r.iteration = fields[3][0] ? strtoll(fields[3], NULL, 10) : -1;
        snprintf(r.recordings, sizeof r.recordings, "%s", fields[4]);
        snprintf(r.region, sizeof r.region, "%s", fields[5]);
        snprintf(r.bin, sizeof r.bin, "%s", fields[6]);
        snprintf(r.metric, sizeof r.metric, "%s", fields[7]);
        snprintf(r.quantity, sizeof r.quantity, "%s", fields[8]);
        r.value = fields[9][0] ? strtod(fields[9], NULL) : NAN;
        r.error = fields[10][0] ? strtod(fields[10], NULL) : NAN;
        st = add(t, &r, err);
    }
    fclose(f);
    if (st) {
        study_table_free(t);
        return st;
    }
    *out = t;
    return NCMP_OK;
}

/* ---- expected values ---------------------------------------------------------- */

/* the columns of results.csv an expected entry may name, in order (the fields of `matches`) */
static const char *const SELECTORS[] = {"kind",   "model", "layer",  "iteration", "recordings",
                                        "region", "bin",   "metric", "quantity"};
enum { N_SELECTORS = sizeof SELECTORS / sizeof SELECTORS[0] };

/* The value an expected entry gives for selector k, as text, or NULL. */
static const char *selector(const ncmp_json_value *e, size_t k, char *buf, size_t size)
{
    const ncmp_json_value *v = ncmp_json_get(e, SELECTORS[k]);
    if (!v)
        return NULL;
    if (v->type == NCMP_JSON_NUMBER)
        snprintf(buf, size, "%lld", (long long)v->number);
    else
        snprintf(buf, size, "%s", v->type == NCMP_JSON_STRING ? v->string : "");
    return buf;
}

/* "score cnnf block3 0 V4 ceiled": the entry's selectors in column order. */
static void entry_label(const ncmp_json_value *e, char *label, size_t size)
{
    size_t used = 0;
    label[0] = '\0';
    for (size_t k = 0; k < N_SELECTORS && used < size; k++) {
        char buf[200];
        const char *want = selector(e, k, buf, sizeof buf);
        if (want)
            used += (size_t)snprintf(label + used, size - used, "%s%s", used ? " " : "", want);
    }
}

static bool matches(const study_row *r, const ncmp_json_value *e)
{
    for (size_t k = 0; k < N_SELECTORS; k++) {
        char buf[200], have[200];
        const char *want = selector(e, k, buf, sizeof buf);
        if (!want)
            continue;
        if (k == 3)
            snprintf(have, sizeof have, "%lld", r->iteration);
        else {
            const char *fields[] = {r->kind,   r->model, r->layer,  "",         r->recordings,
                                    r->region, r->bin,   r->metric, r->quantity};
            snprintf(have, sizeof have, "%s", fields[k]);
        }
        if (strcmp(want, have))
            return false;
    }
    return true;
}

ncmp_status study_results_check(const study_table *t, const char *expected_path, FILE *out, bool *passed,
                                ncmp_error *err)
{
    *passed = false;
    ncmp_json_value *j = NULL;
    ncmp_status st = ncmp_json_parse_file(expected_path, &j, err);
    if (st)
        return st;
    const ncmp_json_value *list = ncmp_json_get(j, "expect");
    if (!list || list->type != NCMP_JSON_ARRAY || !list->n) {
        ncmp_json_free(j);
        return ncmp_fail(err, NCMP_ERR_FORMAT, "'%s' has no \"expect\" list", expected_path);
    }
    size_t n_fail = 0;
    fprintf(out, "\n%-58s %12s %12s %10s  %s\n", "expected value", "expected", "obtained", "|diff|", "");
    for (size_t i = 0; i < list->n; i++) {
        const ncmp_json_value *e = &list->items[i];
        char label[400];
        entry_label(e, label, sizeof label);
        double value = num(e, "value"), tol = num(e, "tolerance"), lo = num(e, "min"), hi = num(e, "max");
        if (e->type != NCMP_JSON_OBJECT || (isnan(value) && isnan(lo) && isnan(hi)) || (!isnan(value) && isnan(tol))) {
            ncmp_json_free(j);
            return ncmp_fail(err, NCMP_ERR_FORMAT,
                             "%s: entry %zu (%s) needs \"value\" and \"tolerance\", or \"min\"/\"max\"", expected_path,
                             i + 1, label);
        }
        const study_row *found = NULL;
        size_t n_found = 0;
        for (size_t r = 0; r < t->n; r++)
            if (matches(&t->rows[r], e)) {
                found = &t->rows[r];
                n_found++;
            }
        char want[64];
        if (!isnan(value))
            snprintf(want, sizeof want, "%.6g ± %.2g", value, tol);
        else
            snprintf(want, sizeof want, "%s%.4g..%.4g", "", isnan(lo) ? -INFINITY : lo, isnan(hi) ? INFINITY : hi);
        if (n_found != 1) {
            n_fail++;
            fprintf(out, "%-58.58s %12s %12s %10s  FAIL (%s)\n", label, want, "-", "-",
                    n_found ? "more than one row matches" : "no such result");
            continue;
        }
        double v = found->value;
        bool ok;
        char diff[32] = "-";
        if (!isnan(value)) {
            ok = !isnan(v) && fabs(v - value) <= tol;
            snprintf(diff, sizeof diff, "%.2g", fabs(v - value));
        } else
            ok = !isnan(v) && (isnan(lo) || v >= lo) && (isnan(hi) || v <= hi);
        n_fail += !ok;
        fprintf(out, "%-58.58s %12s %12.6g %10s  %s\n", label, want, v, diff, ok ? "ok" : "FAIL");
    }
    fprintf(out, "\n%zu of %zu expected values reproduced\n", list->n - n_fail, list->n);
    *passed = n_fail == 0;
    ncmp_json_free(j);
    return NCMP_OK;
}
