/* The training loop of the CNN-F reference (yjhuangcd/CNNF train.py, train_adv
 * and main) with checkpoints, resumption and progress (docs/training.md §4). */
#include "model/train/train.h"
#include "core/log.h"
#include "core/progress.h"
#include "model/train/checkpoint.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

volatile sig_atomic_t ncmp_train_interrupted = 0;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The shortest %g text that reads back as the same double ("0.05", not "0.050000000000000003"). */
static const char *num(double v, char *buf, size_t size)
{
    for (int digits = 6; digits <= 17; digits++) {
        snprintf(buf, size, "%.*g", digits, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return buf;
}

static void build_settings(ncmp_train_settings *s, const ncmp_params *p, const ncmp_labeled_set *data,
                           const ncmp_train_options *o, uint64_t steps_per_epoch)
{
    const ncmp_arch *a = p->arch;
    char nb[16][40];
    memset(s, 0, sizeof *s);
    ncmp_train_settings_add(s, "arch", "--arch", "%s", a->name);
    ncmp_train_settings_add(s, "width", "--width", "%s", num(a->width, nb[1], sizeof nb[0]));
    ncmp_train_settings_add(s, "input_size", "--input-size", "%d", a->input.h);
    ncmp_train_settings_add(s, "input_channels", "--channels", "%d", a->input.c);
    ncmp_train_settings_add(s, "classes", "--classes", "%d", a->num_classes);
    ncmp_train_settings_add(s, "update_layer", "--update-layer", "%s",
                            a->cnnf ? ncmp_arch_layer_label(a, a->update_layer) : "none");
    ncmp_train_settings_add(s, "res_parameter", "--res-parameter", "%s", num(a->step, nb[2], sizeof nb[0]));
    ncmp_train_settings_add(s, "cycles", "--cycles", "%d", o->cycles);
    ncmp_train_settings_add(s, "epochs", "--epochs", "%d", o->epochs);
    ncmp_train_settings_add(s, "batch", "--batch", "%zu", o->batch);
    ncmp_train_settings_add(s, "lr", "--lr", "%s", num(o->sgd.lr, nb[3], sizeof nb[0]));
    ncmp_train_settings_add(s, "schedule", "--schedule", "%s", ncmp_schedule_name(o->sgd.schedule));
    ncmp_train_settings_add(s, "momentum", "--momentum", "%s", num(o->sgd.momentum, nb[4], sizeof nb[0]));
    ncmp_train_settings_add(s, "weight_decay", "--weight-decay", "%s", num(o->sgd.weight_decay, nb[5], sizeof nb[0]));
    ncmp_train_settings_add(s, "grad_clip", "--grad-clip", "%s", num(o->sgd.grad_clip, nb[6], sizeof nb[0]));
    ncmp_train_settings_add(s, "mse_parameter", "--mse-parameter", "%s", num(o->mse_parameter, nb[7], sizeof nb[0]));
    ncmp_train_settings_add(s, "adversarial", "--adversarial", "%s", ncmp_attack_name(o->adversarial.kind));
    if (o->adversarial.kind != NCMP_ATTACK_NONE) {
        ncmp_train_settings_add(s, "clean_parameter", "--clean-parameter", "%s",
                                num(o->clean_parameter, nb[8], sizeof nb[0]));
        ncmp_train_settings_add(s, "eps", "--eps", "%s", num(o->adversarial.eps, nb[9], sizeof nb[0]));
        ncmp_train_settings_add(s, "eps_iter", "--eps-iter", "%s", num(o->adversarial.eps_iter, nb[10], sizeof nb[0]));
        ncmp_train_settings_add(s, "pgd_steps", "--pgd-steps", "%d", o->adversarial.steps);
    }
    ncmp_train_settings_add(s, "shuffle", "--no-shuffle", "%s", o->shuffle ? "yes" : "no");
    ncmp_train_settings_add(s, "seed", "--seed", "%llu", (unsigned long long)o->seed);
    ncmp_train_settings_add(s, "precision", "--precision", "%s", p->dtype == NCMP_FLOAT64 ? "double" : "float");
    ncmp_train_settings_add(s, "init", "--init/--seed", "%s", o->init);
    ncmp_train_settings_add(s, "data_sha256", "the training data", "%s", data->sha256);
    ncmp_train_settings_add(s, "steps_per_epoch", "the training data size", "%llu",
                            (unsigned long long)steps_per_epoch);
}

typedef struct trainer {
    ncmp_params *params;
    const ncmp_labeled_set *data;
    const ncmp_train_options *o;
    ncmp_objective obj;
    ncmp_unroll *unroll;
    ncmp_sgd *sgd;
    ncmp_train_settings settings;
    ncmp_train_accumulators acc;
    ncmp_train_history hist;
    int epochs_done;
    uint64_t spe; /* steps per epoch */
    size_t *perm;
    void *x;         /* [2 B, input] batch (clean, then adversarial) */
    int32_t *labels; /* [B] */
    double seconds;  /* training time of the current epoch (this process) */
} trainer;

static ncmp_status write_checkpoint(trainer *tr, bool complete, ncmp_error *err)
{
    ncmp_checkpoint ck = {tr->params,
                          tr->sgd,
                          &tr->settings,
                          &tr->acc,
                          &tr->hist,
                          tr->epochs_done,
                          complete,
                          tr->data->description,
                          tr->o->test ? tr->o->test->description : NULL};
    return ncmp_checkpoint_write(tr->o->out_path, &ck, err);
}

/* The permutation of epoch e: file order, or a draw from stream (seed, e). */
static void epoch_order(trainer *tr, int epoch)
{
    const size_t n = tr->data->n;
    if (!tr->o->shuffle) {
        for (size_t i = 0; i < n; i++)
            tr->perm[i] = i;
        return;
    }
    ncmp_rng rng;
    ncmp_rng_seed_stream(&rng, tr->o->seed, (uint64_t)epoch);
    ncmp_rng_permutation(&rng, tr->perm, n);
}

static ncmp_status train_step(trainer *tr, uint64_t step, uint64_t batch_in_epoch, double *loss, ncmp_error *err)
{
    const ncmp_train_options *o = tr->o;
    const ncmp_arch *a = tr->params->arch;
    const ncmp_dtype dt = tr->params->dtype;
    const size_t B = o->batch, per = ncmp_shape_size(a->input), rs = ncmp_dtype_size(dt);
    const bool adversarial = o->adversarial.kind != NCMP_ATTACK_NONE;
    ncmp_labeled_gather(tr->data, tr->perm + batch_in_epoch * B, B, dt, tr->x, tr->labels);
    ncmp_status st;
    if (adversarial) {
        /* PGD against the feed-forward pass (the reference attacks model(x) after reset()) */
        ncmp_rng rng;
        ncmp_rng_seed_stream(&rng, o->seed, (1ull << 40) + step);
        ncmp_attack_options ao = o->adversarial;
        ao.through = NCMP_ATTACK_FIRST;
        if ((st = ncmp_attack_run(tr->unroll, &ao, o->pp, tr->x, tr->labels, B, &rng, (char *)tr->x + B * per * rs,
                                  err)))
            return st;
    }
    const size_t n = adversarial ? 2 * B : B;
    size_t shape[4] = {n, (size_t)a->input.c, (size_t)a->input.h, (size_t)a->input.w};
    ncmp_tensor x = ncmp_tensor_wrap(dt, 4, shape, tr->x);
    if ((st = ncmp_unroll_forward(tr->unroll, &x, o->cycles, err)))
        return st;
    ncmp_objective_options oo = {o->mse_parameter, o->clean_parameter, adversarial ? B : 0};
    ncmp_objective_result res;
    if ((st = ncmp_objective_eval(&tr->obj, tr->unroll, tr->labels, &oo, &res, err)))
        return ncmp_error_context(err, "step %llu (epoch %llu, batch %llu): ", (unsigned long long)step + 1,
                                  (unsigned long long)(step / tr->spe) + 1, (unsigned long long)batch_in_epoch + 1);
    ncmp_params_zero_grad(tr->params);
    if ((st = ncmp_unroll_backward(tr->unroll, true, NULL, err)))
        return st;
    size_t bad = ncmp_params_count_nonfinite(tr->params, true);
    if (bad || !isfinite(res.loss))
        return ncmp_fail(err, NCMP_ERR_VALUE,
                         "training diverged at step %llu (epoch %llu, batch %llu): loss %g, %zu non-finite gradient "
                         "values; no weights were written for this step (the last checkpoint is kept); try a "
                         "smaller --lr or --grad-clip",
                         (unsigned long long)step + 1, (unsigned long long)(step / tr->spe) + 1,
                         (unsigned long long)batch_in_epoch + 1, res.loss, bad);
    ncmp_sgd_step(tr->sgd, tr->params, NULL);
    if ((bad = ncmp_params_count_nonfinite(tr->params, false)))
        return ncmp_fail(err, NCMP_ERR_VALUE,
                         "training diverged at step %llu: %zu weights became non-finite after the update; the last "
                         "checkpoint is kept; try a smaller --lr or --grad-clip",
                         (unsigned long long)step + 1, bad);
    ncmp_train_accumulators *acc = &tr->acc;
    acc->loss += res.loss;
    acc->mse += res.mse;
    acc->batches += 1;
    acc->images += (double)B;
    for (int t = 0; t <= o->cycles; t++) {
        acc->ce[t] += res.ce[t];
        acc->correct[t] += (double)res.correct[t];
        acc->correct_adversarial[t] += (double)res.correct_adversarial[t];
    }
    *loss = res.loss;
    return NCMP_OK;
}

static ncmp_status finish_epoch(trainer *tr, double lr, ncmp_train_summary *sum, ncmp_error *err)
{
    const ncmp_train_options *o = tr->o;
    ncmp_train_history *h = &tr->hist;
    ncmp_train_accumulators *acc = &tr->acc;
    const int r = h->n, T = o->cycles;
    h->epoch[r] = r + 1;
    h->step[r] = (double)tr->sgd->step;
    h->lr[r] = lr;
    h->loss[r] = acc->loss / acc->batches;
    h->mse[r] = acc->mse / acc->batches;
    h->seconds[r] = tr->seconds;
    h->images_per_second[r] = tr->seconds > 0 ? acc->images / tr->seconds : 0;
    double *ce = ncmp_train_history_row(h, h->ce, r), *tra = ncmp_train_history_row(h, h->train_accuracy, r);
    double *adv = ncmp_train_history_row(h, h->adversarial_accuracy, r);
    double *tea = ncmp_train_history_row(h, h->test_accuracy, r);
    for (int t = 0; t <= T; t++) {
        ce[t] = acc->ce[t] / acc->batches;
        tra[t] = acc->correct[t] / acc->images;
        adv[t] = o->adversarial.kind != NCMP_ATTACK_NONE ? acc->correct_adversarial[t] / acc->images : NAN;
        tea[t] = NAN;
    }
    char line[1024];
    int at = snprintf(line, sizeof line, "epoch %d/%d: loss %.4f, train accuracy", r + 1, o->epochs, h->loss[r]);
    for (int t = 0; t <= T && at < (int)sizeof line; t++)
        at += snprintf(line + at, sizeof line - (size_t)at, " %.4f", tra[t]);
    if (o->test) {
        ncmp_eval_options eo = {.cycles = T, .batch = o->batch, .seed = o->seed};
        if (eo.batch > o->test->n)
            eo.batch = o->test->n;
        ncmp_status st = ncmp_evaluate_with(tr->unroll, o->test, o->pp, &eo, &sum->test, err);
        if (st)
            return ncmp_error_context(err, "testing after epoch %d: ", r + 1);
        sum->tested = true;
        at += snprintf(line + at, sizeof line - (size_t)at, ", test accuracy");
        for (int t = 0; t <= T && at < (int)sizeof line; t++) {
            tea[t] = (double)sum->test.correct[t] / (double)sum->test.n;
            at += snprintf(line + at, sizeof line - (size_t)at, " %.4f", tea[t]);
        }
    }
    if (at < (int)sizeof line)
        snprintf(line + at, sizeof line - (size_t)at, " (iterations 0..%d), %.0f images/s", T, h->images_per_second[r]);
    ncmp_log_info("%s", line);
    sum->loss = h->loss[r];
    h->n++;
    tr->epochs_done = h->n;
    memset(acc, 0, sizeof *acc);
    tr->seconds = 0;
    return NCMP_OK;
}

ncmp_status ncmp_train_run(ncmp_params *params, const ncmp_labeled_set *data, const ncmp_train_options *o,
                           ncmp_train_summary *sum, ncmp_error *err)
{
    memset(sum, 0, sizeof *sum);
    const ncmp_arch *a = params->arch;
    if (o->cycles < 0 || o->cycles > NCMP_MAX_CYCLES)
        return ncmp_fail(err, NCMP_ERR_USAGE, "--cycles must be in 0..%d", NCMP_MAX_CYCLES);
    if (o->cycles > 0 && !a->cnnf)
        return ncmp_fail(err, NCMP_ERR_USAGE,
                         "%s is a feed-forward network: it trains with --cycles 0 (or use a CNN-F such as %s-cnnf)",
                         a->name, a->name);
    if (o->epochs < 1 || o->batch < 1)
        return ncmp_fail(err, NCMP_ERR_USAGE, "--epochs and --batch must be at least 1");
    if (data->n < o->batch)
        return ncmp_fail(err, NCMP_ERR_USAGE, "%s holds %zu images, fewer than one batch of %zu; use a smaller --batch",
                         data->description, data->n, o->batch);
    if (data->channels != a->input.c || data->size != a->input.h)
        return ncmp_fail(err, NCMP_ERR_SHAPE, "the data are %dx%dx%d, %s takes %dx%dx%d", data->channels, data->size,
                         data->size, a->name, a->input.c, a->input.h, a->input.w);
    trainer tr = {.params = params, .data = data, .o = o};
    tr.spe = data->n / o->batch;
    const uint64_t total = (uint64_t)o->epochs * tr.spe;
    build_settings(&tr.settings, params, data, o, tr.spe);

    int done_epochs = 0;
    bool done_complete = false;
    unsigned long long done_step = 0;
    struct stat sb;
    bool exists = stat(o->out_path, &sb) == 0;
    bool is_checkpoint = exists && ncmp_checkpoint_probe(o->out_path, &done_epochs, &done_complete, &done_step);
    if (o->resume && !exists)
        return ncmp_fail(err, NCMP_ERR_NOT_FOUND, "--resume: '%s' does not exist (nothing to resume; drop --resume)",
                         o->out_path);
    if (exists && !o->resume && !o->force) {
        if (is_checkpoint && !done_complete)
            return ncmp_fail(
                err, NCMP_ERR_EXISTS,
                "'%s' is an unfinished training checkpoint (%d epoch%s, %llu steps done): continue it with "
                "--resume, or start over with --force",
                o->out_path, done_epochs, done_epochs == 1 ? "" : "s", done_step);
        return ncmp_fail(err, NCMP_ERR_EXISTS, "'%s' exists; use --force to replace it", o->out_path);
    }
    if (o->resume && !is_checkpoint)
        return ncmp_fail(err, NCMP_ERR_FORMAT, "--resume: '%s' is not a training checkpoint of neurocmp", o->out_path);

    ncmp_status st;
    const bool adversarial = o->adversarial.kind != NCMP_ATTACK_NONE;
    ncmp_objective_init(&tr.obj, a);
    int seed_layers[NCMP_OBJECTIVE_MAX_TAPS], seed_steps[NCMP_OBJECTIVE_MAX_TAPS];
    ncmp_unroll_options uo = {
        .max_batch = adversarial ? 2 * o->batch : o->batch, .max_cycles = o->cycles, .input_grad = adversarial};
    if (o->mse_parameter != 0)
        ncmp_objective_unroll_options(&tr.obj, seed_layers, seed_steps, &uo);
    else
        tr.obj.n_taps = 0; /* no reconstruction terms: no seeds needed */
    ncmp_sgd_options so = o->sgd;
    so.total_steps = total;
    const size_t per = ncmp_shape_size(a->input), rs = ncmp_dtype_size(params->dtype);
    tr.perm = malloc(data->n * sizeof(size_t));
    tr.x = malloc(uo.max_batch * per * rs);
    tr.labels = malloc(o->batch * sizeof(int32_t));
    if (!tr.perm || !tr.x || !tr.labels) {
        st = ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory for a batch of %zu", o->batch);
        goto done;
    }
    if ((st = ncmp_unroll_create(params, &uo, &tr.unroll, err)) || (st = ncmp_sgd_create(params, &so, &tr.sgd, err)) ||
        (st = ncmp_train_history_init(&tr.hist, o->cycles, o->epochs, err)))
        goto done;
    sum->memory_bytes = ncmp_unroll_memory_bytes(tr.unroll);
    ncmp_log_info("training %s (%zu parameters, %s) on %s: %zu images, %llu steps of %zu per epoch, %d epoch%s, "
                  "%d cycle%s; buffers %.2f GB",
                  a->name, ncmp_params_count(params), params->dtype == NCMP_FLOAT64 ? "float64" : "float32",
                  data->description, data->n, (unsigned long long)tr.spe, o->batch, o->epochs,
                  o->epochs == 1 ? "" : "s", o->cycles, o->cycles == 1 ? "" : "s", (double)sum->memory_bytes / 1e9);
    if (o->resume) {
        bool complete = false;
        if ((st = ncmp_checkpoint_read(o->out_path, &tr.settings, params, tr.sgd, &tr.acc, &tr.hist, &tr.epochs_done,
                                       &complete, err)))
            goto done;
        if (complete || tr.sgd->step >= total) {
            ncmp_log_info("'%s' is already trained to the end (%d epochs, %llu steps): nothing to do", o->out_path,
                          tr.epochs_done, (unsigned long long)tr.sgd->step);
            sum->nothing_to_do = sum->finished = true;
            sum->steps = tr.sgd->step;
            sum->epochs_done = tr.epochs_done;
            ncmp_params_digest(params, params->dtype == NCMP_FLOAT64, sum->digest);
            goto done;
        }
        ncmp_log_info("resuming '%s' at step %llu (epoch %llu, batch %llu)", o->out_path,
                      (unsigned long long)tr.sgd->step, (unsigned long long)(tr.sgd->step / tr.spe) + 1,
                      (unsigned long long)(tr.sgd->step % tr.spe) + 1);
    }

    uint64_t stop = o->max_steps && o->max_steps < total ? o->max_steps : total;
    if (tr.sgd->step >= stop) {
        ncmp_log_info("'%s' is already at step %llu: nothing to do for --max-steps %llu", o->out_path,
                      (unsigned long long)tr.sgd->step, (unsigned long long)o->max_steps);
        stop = tr.sgd->step;
    }
    ncmp_progress *progress = ncmp_progress_start("training", (stop - tr.sgd->step) * (uint64_t)o->batch, "images");
    double lr = o->sgd.lr;
    int last_epoch = -1;
    while (tr.sgd->step < stop) {
        const uint64_t step = tr.sgd->step, epoch = step / tr.spe, b = step % tr.spe;
        if ((int)epoch != last_epoch) {
            epoch_order(&tr, (int)epoch);
            last_epoch = (int)epoch;
        }
        lr = o->sgd.lr * ncmp_schedule_factor(so.schedule, step, total);
        double t0 = now_seconds(), loss = 0;
        if ((st = train_step(&tr, step, b, &loss, err)))
            break;
        tr.seconds += now_seconds() - t0;
        char note[96];
        snprintf(note, sizeof note, "loss %.4f, epoch %llu/%d", tr.acc.loss / tr.acc.batches,
                 (unsigned long long)epoch + 1, o->epochs);
        ncmp_progress_set_note(progress, note);
        ncmp_progress_advance(progress, o->batch);
        if (tr.sgd->step % tr.spe == 0) {
            if ((st = finish_epoch(&tr, lr, sum, err)))
                break;
            if ((st = write_checkpoint(&tr, tr.sgd->step >= total, err)))
                break;
        } else if (tr.sgd->step == stop || ncmp_train_interrupted) {
            if ((st = write_checkpoint(&tr, false, err)))
                break;
        }
        if (ncmp_train_interrupted) {
            st = ncmp_fail(err, NCMP_ERR_INTERRUPTED,
                           "interrupted after step %llu; '%s' holds that state: continue with --resume",
                           (unsigned long long)tr.sgd->step, o->out_path);
            break;
        }
    }
    ncmp_progress_finish(progress);
    if (!st) {
        sum->finished = tr.sgd->step >= total;
        if (tr.acc.batches > 0)
            sum->loss = tr.acc.loss / tr.acc.batches;
    }
    sum->steps = tr.sgd->step;
    sum->epochs_done = tr.epochs_done;
    ncmp_params_digest(params, params->dtype == NCMP_FLOAT64, sum->digest);
done:
    ncmp_train_history_release(&tr.hist);
    ncmp_sgd_free(tr.sgd);
    ncmp_unroll_free(tr.unroll);
    free(tr.perm);
    free(tr.x);
    free(tr.labels);
    return st;
}
