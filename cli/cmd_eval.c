/* neurocmp eval: accuracy at every CNN-F iteration, clean and under attack (docs/training.md §5). */
#include "results/json.h"
#include "results/score_json.h"
#include "cli/commands.h"
#include "cli/training_args.h"
#include "core/log.h"
#include "core/provenance.h"
#include "model/train/evaluate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_table(const ncmp_eval_result *r)
{
    cli_printf("%-10s %10s", "iteration", "clean");
    if (r->attacked)
        cli_printf(" %12s", "adversarial");
    cli_printf("\n");
    for (int t = 0; t <= r->cycles + 1; t++) {
        bool avg = t == r->cycles + 1;
        char label[32];
        snprintf(label, sizeof label, avg ? "average" : "%d", t);
        cli_printf("%-10s %10.4f", label, (double)(avg ? r->correct_average : r->correct[t]) / (double)r->n);
        if (r->attacked)
            cli_printf(" %12.4f",
                       (double)(avg ? r->adversarial_correct_average : r->adversarial_correct[t]) / (double)r->n);
        cli_printf("\n");
    }
}

static void json_accuracies(FILE *f, const size_t *correct, size_t n, int T)
{
    fputc('[', f);
    for (int t = 0; t <= T; t++) {
        if (t)
            fputs(", ", f);
        ncmp_json_number(f, (double)correct[t] / (double)n);
    }
    fputc(']', f);
}

static ncmp_status write_json(const char *path, const ncmp_eval_result *r, const char *arch, const char *weights,
                              const char *data, const char *data_sha, const ncmp_eval_options *o, const char *precision,
                              ncmp_error *err)
{
    ncmp_atomic_file jf;
    ncmp_status st = ncmp_atomic_begin(&jf, path, true, err);
    if (st)
        return st;
    FILE *f = jf.stream;
    fputs("{\n  \"arch\": ", f);
    ncmp_json_string(f, arch);
    fputs(",\n  \"data\": ", f);
    ncmp_json_string(f, data);
    fprintf(f, ",\n  \"n_images\": %zu,\n  \"cycles\": %d,\n  \"precision\": ", r->n, r->cycles);
    ncmp_json_string(f, precision);
    fputs(",\n  \"accuracy\": ", f);
    json_accuracies(f, r->correct, r->n, r->cycles);
    fputs(",\n  \"accuracy_average_logits\": ", f);
    ncmp_json_number(f, (double)r->correct_average / (double)r->n);
    fputs(",\n  \"cross_entropy\": [", f);
    for (int t = 0; t <= r->cycles; t++) {
        if (t)
            fputs(", ", f);
        ncmp_json_number(f, r->cross_entropy[t]);
    }
    fputs("]", f);
    if (r->attacked) {
        fputs(",\n  \"attack\": {\"kind\": ", f);
        ncmp_json_string(f, ncmp_attack_name(o->attack.kind));
        fputs(", \"eps\": ", f);
        ncmp_json_number(f, o->attack.eps);
        if (o->attack.kind == NCMP_ATTACK_PGD) {
            fputs(", \"eps_iter\": ", f);
            ncmp_json_number(f, o->attack.eps_iter);
            fprintf(f, ", \"steps\": %d", o->attack.steps);
        }
        fputs(", \"through\": ", f);
        ncmp_json_string(f, o->attack.through == NCMP_ATTACK_ALL ? "all" : "first");
        fprintf(f, ", \"seed\": %llu}", (unsigned long long)o->seed);
        fputs(",\n  \"adversarial_accuracy\": ", f);
        json_accuracies(f, r->adversarial_correct, r->n, r->cycles);
        fputs(",\n  \"adversarial_accuracy_average_logits\": ", f);
        ncmp_json_number(f, (double)r->adversarial_correct_average / (double)r->n);
    }
    char wsha[NCMP_SHA256_HEX_LEN] = "";
    if (weights && (st = ncmp_sha256_file(weights, wsha, err))) {
        ncmp_atomic_abort(&jf);
        return st;
    }
    const char *roles[] = {"weights", "data"};
    const char *paths[] = {weights ? weights : "(seeded initialisation)", data};
    const char *hashes[] = {wsha, data_sha};
    fputs(",\n  \"provenance\": ", f);
    ncmp_json_write_provenance(f, roles, paths, hashes, 2);
    fputs("\n}\n", f);
    return ncmp_atomic_commit(&jf, err);
}

int cmd_eval(int argc, char **argv)
{
    const char *arch_name = NULL, *weights = NULL, *data = NULL, *images = NULL, *labels = NULL, *out = NULL;
    const char *update = NULL, *precision = "float", *attack = "none", *through = "first", *split = "test";
    long seed = 1, cycles = 0, batch = 100, threads = 0, input_size = 0, channels = 0, classes = 0, pgd_steps = 7,
         limit = 0;
    double width = 0, res = 0, eps = 0.2, eps_iter = 0.071;
    const cli_option options[] = {
        {"arch", 'a', CLI_STRING, &arch_name, "NAME|FILE",
         "architecture: cnnf-fmnist, vgg16, vgg16-cnnf or a .spec file (default: the one --weights records)"},
        {"width", 0, CLI_DOUBLE, &width, "W", "width multiplier (0: the spec's)"},
        {"input-size", 0, CLI_INT, &input_size, "S", "network input size in pixels (0: the spec's)"},
        {"channels", 0, CLI_INT, &channels, "1|3", "input channels: 1 grey, 3 RGB (0: the spec's)"},
        {"classes", 0, CLI_INT, &classes, "K", "output classes (0: the spec's)"},
        {"update-layer", 0, CLI_STRING, &update, "LAYER", "CNN-F update layer (default: the spec's)"},
        {"res-parameter", 0, CLI_DOUBLE, &res, "S",
         "CNN-F step (0: the one the weights file records, else the spec's)"},
        {"weights", 'w', CLI_STRING, &weights, "W.h5", "weights (docs/formats.md, Weights, e.g. from neurocmp train)"},
        {"seed", 0, CLI_INT, &seed, "S",
         "seed of the attacks' random start (and of the initialisation without --weights)"},
        {"data", 'd', CLI_STRING, &data, "fashion-mnist|DIR", "test images: Fashion-MNIST or one folder per class"},
        {"split", 0, CLI_STRING, &split, "test|train", "which Fashion-MNIST split"},
        {"images", 0, CLI_STRING, &images, "X.idx[.gz]", "test images as an IDX file (with --labels)"},
        {"labels", 0, CLI_STRING, &labels, "Y.idx[.gz]", "IDX labels of --images"},
        {"max-images", 0, CLI_INT, &limit, "N", "evaluate the first N images only (0: all)"},
        {"cycles", 'T', CLI_INT, &cycles, "T", "CNN-F cycles: accuracy at iterations 0..T and of the averaged logits"},
        {"attack", 0, CLI_STRING, &attack, "none|fgsm|pgd", "also measure accuracy on adversarial examples"},
        {"eps", 0, CLI_DOUBLE, &eps, "E", "attack budget (L-infinity, in input units: [-1,1] for Fashion-MNIST)"},
        {"eps-iter", 0, CLI_DOUBLE, &eps_iter, "S", "PGD step size"},
        {"pgd-steps", 0, CLI_INT, &pgd_steps, "K", "PGD iterations"},
        {"attack-through", 0, CLI_STRING, &through, "first|all",
         "attack the feed-forward pass (as the reference) or the last iteration through every cycle"},
        {"batch", 'b', CLI_INT, &batch, "B", "images per batch"},
        {"precision", 0, CLI_STRING, &precision, "float|double", "arithmetic"},
        {"threads", 'j', CLI_INT, &threads, "N", "threads (0: all cores); results do not depend on it"},
        {"out", 'o', CLI_STRING, &out, "FILE.json", "also write the results as JSON with provenance"},
    };
    const cli_command cmd = {
        .name = "eval",
        .summary = "Classification accuracy at every CNN-F iteration, clean and under FGSM/PGD attack.",
        .description =
            "Prints accuracy at iterations 0..T and of the logits averaged over them (the reference's\n"
            "run_average), and with --attack the same on adversarial examples made per batch. --attack-through\n"
            "first attacks the feed-forward pass (the reference's test_pgd); all differentiates through every\n"
            "cycle to the logits of iteration T. docs/training.md.",
        .options = options,
        .n_options = sizeof options / sizeof options[0],
        .max_positional = 0,
    };
    ncmp_error err;
    int rc = cli_start(&cmd, argc, argv, &err);
    if (rc >= 0)
        return rc;
    ncmp_eval_options o;
    memset(&o, 0, sizeof o);
    ncmp_dtype dtype;
    ncmp_labeled_split sp = NCMP_SPLIT_TEST;
    char resolved_weights[4096], weights_arch[256];
    weights = ncmp_weights_resolve(weights, resolved_weights, sizeof resolved_weights);
    if (!arch_name)
        arch_name = ncmp_arch_name_from_weights(weights, weights_arch, sizeof weights_arch);
    if (!arch_name) {
        ncmp_fail(&err, NCMP_ERR_USAGE,
                  "eval needs --arch (or --weights from neurocmp train, which record it) and the data "
                  "(see 'neurocmp eval --help')");
        return cli_report(&err);
    }
    if (cycles < 0 || batch < 1 || threads < 0 || pgd_steps < 1 || seed < 0 || limit < 0 || !(eps >= 0) ||
        !(eps_iter >= 0) || !(res >= 0) || res >= 1) {
        ncmp_fail(&err, NCMP_ERR_USAGE,
                  "--cycles >= 0, --batch >= 1, --pgd-steps >= 1, --max-images >= 0, --eps and --eps-iter >= 0, "
                  "--res-parameter in [0, 1)");
        return cli_report(&err);
    }
    if (!strcmp(split, "train"))
        sp = NCMP_SPLIT_TRAIN;
    else if (strcmp(split, "test")) {
        ncmp_fail(&err, NCMP_ERR_USAGE, "--split must be test or train, got '%s'", split);
        return cli_report(&err);
    }
    if (cli_parse_precision(precision, &dtype, &err) || ncmp_attack_parse(attack, &o.attack.kind, &err) ||
        ncmp_attack_through_parse(through, &o.attack.through, &err))
        return cli_report(&err);
    ncmp_set_threads((int)threads);
    ncmp_arch_options ao = {
        .width = width, .input_size = (int)input_size, .num_classes = (int)classes, .update_layer = update};
    ao.input_channels = (int)channels;
    ncmp_arch_options_from_weights(&ao, weights);
    ncmp_arch *arch = NULL;
    ncmp_params *params = NULL;
    ncmp_labeled_set *set = NULL;
    int status = 0;
    char described[512];
    if (ncmp_arch_load(arch_name, &ao, &arch, &err))
        return cli_report(&err);
    cli_apply_weights_step(arch, weights, res);
    ncmp_preprocess_options pp = ncmp_arch_preprocess(arch, false);
    if (cycles > 0 && !arch->cnnf) {
        ncmp_fail(&err, NCMP_ERR_USAGE, "%s is a feed-forward network: it has only iteration 0 (--cycles 0)",
                  arch->name);
        status = cli_report(&err);
        goto done;
    }
    if (cli_load_params(arch, weights, (unsigned long long)seed, dtype, &params, described, sizeof described, &err) ||
        cli_open_labeled(data, images, labels, sp, arch, &set, &err)) {
        status = cli_report(&err);
        goto done;
    }
    if (!weights)
        ncmp_log_warn("no --weights given: evaluating the seeded initialisation (seed %ld)", seed);
    if (limit > 0 && (size_t)limit < set->n)
        set->n = (size_t)limit;
    o.cycles = (int)cycles;
    o.batch = (size_t)batch;
    o.seed = (uint64_t)seed;
    o.attack.eps = eps;
    o.attack.eps_iter = eps_iter;
    o.attack.steps = (int)pgd_steps;
    o.progress = true;
    ncmp_eval_result r;
    if (ncmp_evaluate(params, set, &pp, &o, &r, &err)) {
        status = cli_report(&err);
        goto done;
    }
    cli_printf("%s on %zu images of %s", arch->name, r.n, set->description);
    if (r.attacked) {
        cli_printf("; %s eps %g", ncmp_attack_name(o.attack.kind), eps);
        if (o.attack.kind == NCMP_ATTACK_PGD)
            cli_printf(" (step %g, %ld steps)", eps_iter, pgd_steps);
        cli_printf(", through %s", o.attack.through == NCMP_ATTACK_ALL ? "every iteration" : "the feed-forward pass");
    }
    cli_printf("\n");
    print_table(&r);
    if (out && write_json(out, &r, arch->name, weights, set->description, set->sha256, &o,
                          dtype == NCMP_FLOAT64 ? "float64" : "float32", &err))
        status = cli_report(&err);
done:
    ncmp_labeled_free(set);
    ncmp_params_free(params);
    ncmp_arch_free(arch);
    return status;
}
