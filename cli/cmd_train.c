/* neurocmp train: train a CNN or CNN-F on labelled images (docs/training.md). */
#include "cli/commands.h"
#include "cli/interrupt.h"
#include "cli/training_args.h"
#include "core/log.h"
#include "core/provenance.h"
#include "model/train/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_train(int argc, char **argv)
{
    const char *arch_name = NULL, *init = NULL, *data = NULL, *images = NULL, *labels = NULL, *out = NULL;
    const char *test_data = NULL, *update = NULL, *precision = "float", *schedule = "poly", *adversarial = "none";
    long seed = 1, cycles = 1, epochs = 10, max_steps = 0, batch = 256, threads = 0, input_size = 0, channels = 0,
         classes = 0;
    long pgd_steps = 7;
    double width = 0, lr = 0.05, momentum = 0.9, weight_decay = 5e-4, mse = 0.1, res = 0, clip = 0.5;
    double clean = 0.1, eps = 0.2, eps_iter = 0.071;
    bool no_shuffle = false, resume = false, force = false;
    const cli_option options[] = {
        {"arch", 'a', CLI_STRING, &arch_name, "NAME|FILE",
         "architecture: cnnf-fmnist, vgg16, vgg16-cnnf or a .spec file"},
        {"width", 0, CLI_DOUBLE, &width, "W", "width multiplier (0: the spec's)"},
        {"input-size", 0, CLI_INT, &input_size, "S", "network input size in pixels (0: the spec's)"},
        {"channels", 0, CLI_INT, &channels, "1|3", "input channels: 1 grey, 3 RGB (0: the spec's)"},
        {"classes", 0, CLI_INT, &classes, "K", "output classes (0: the spec's)"},
        {"update-layer", 0, CLI_STRING, &update, "LAYER", "CNN-F update layer (default: the spec's)"},
        {"init", 0, CLI_STRING, &init, "W.h5",
         "initial weights (docs/formats.md, Weights); default: seeded initialisation"},
        {"seed", 0, CLI_INT, &seed, "S", "seed of the initialisation, the shuffling and the attacks"},
        {"data", 'd', CLI_STRING, &data, "fashion-mnist|DIR",
         "training images: Fashion-MNIST's train split (Debian's dataset-fashion-mnist) or one folder per class"},
        {"images", 0, CLI_STRING, &images, "X.idx[.gz]", "training images as an IDX file (with --labels)"},
        {"labels", 0, CLI_STRING, &labels, "Y.idx[.gz]", "IDX labels of --images"},
        {"test-data", 0, CLI_STRING, &test_data, "fashion-mnist|DIR",
         "also measure test accuracy per iteration after every epoch (fashion-mnist: its test split)"},
        {"cycles", 'T', CLI_INT, &cycles, "T", "CNN-F feedback cycles trained through (0: the feed-forward CNN)"},
        {"epochs", 'e', CLI_INT, &epochs, "E", "epochs (the learning-rate schedule spans them)"},
        {"max-steps", 0, CLI_INT, &max_steps, "N", "stop after N optimiser steps in all (0: run every epoch)"},
        {"batch", 'b', CLI_INT, &batch, "B", "images per step (the last partial batch of an epoch is dropped)"},
        {"lr", 0, CLI_DOUBLE, &lr, "LR", "learning rate"},
        {"schedule", 0, CLI_STRING, &schedule, "constant|poly|cos", "learning-rate schedule, stepped per batch"},
        {"momentum", 0, CLI_DOUBLE, &momentum, "M", "SGD momentum"},
        {"weight-decay", 0, CLI_DOUBLE, &weight_decay, "WD", "L2 weight decay added to the gradient"},
        {"grad-clip", 0, CLI_DOUBLE, &clip, "N", "clip the gradient's 2-norm over all parameters to N (0: off)"},
        {"mse-parameter", 0, CLI_DOUBLE, &mse, "C", "weight of the feedback's reconstruction errors"},
        {"res-parameter", 0, CLI_DOUBLE, &res, "S", "CNN-F step of the update and of AdaReLU (0: the spec's, 0.1)"},
        {"adversarial", 0, CLI_STRING, &adversarial, "none|pgd|fgsm",
         "adversarial training: attack each batch's feed-forward pass and train on both halves"},
        {"eps", 0, CLI_DOUBLE, &eps, "E", "attack budget (L-infinity, in input units: [-1,1] for Fashion-MNIST)"},
        {"eps-iter", 0, CLI_DOUBLE, &eps_iter, "S", "PGD step size"},
        {"pgd-steps", 0, CLI_INT, &pgd_steps, "K", "PGD iterations"},
        {"clean-parameter", 0, CLI_DOUBLE, &clean, "C", "adversarial training: weight of the clean cross-entropy"},
        {"no-shuffle", 0, CLI_FLAG, &no_shuffle, NULL, "batches in file order (default: a seeded shuffle per epoch)"},
        {"precision", 0, CLI_STRING, &precision, "float|double",
         "arithmetic, and the precision the weights are stored in"},
        {"threads", 'j', CLI_INT, &threads, "N", "threads (0: all cores); results do not depend on it"},
        {"out", 'o', CLI_STRING, &out, "W.h5", "output: weights + training state, written after every epoch"},
        {"resume", 'r', CLI_FLAG, &resume, NULL, "continue an interrupted run (same settings) from --out"},
        {"force", 'f', CLI_FLAG, &force, NULL, "replace an existing --out"},
    };
    const cli_command cmd = {
        .name = "train",
        .summary = "Train a CNN or CNN-F (backpropagation through every feedback cycle) on labelled images.",
        .description =
            "Minimises the CNN-F objective of Huang et al. (2020): cross-entropy at every iteration 0..T, plus\n"
            "--mse-parameter times the feedback's reconstruction errors, by SGD with momentum (docs/training.md).\n"
            "Defaults follow the reference's Fashion-MNIST recipe (lr 0.05, batch 256, poly schedule, clip 0.5).\n"
            "The output is a weights file (docs/formats.md) that also holds the optimiser state and the history; it "
            "is\n"
            "rewritten atomically after every epoch, and --resume continues to the same final weights.\n"
            "Ctrl-C saves the current step first.",
        .options = options,
        .n_options = sizeof options / sizeof options[0],
        .max_positional = 0,
    };
    ncmp_error err;
    int rc = cli_start(&cmd, argc, argv, &err);
    if (rc >= 0)
        return rc;
    ncmp_train_options o;
    memset(&o, 0, sizeof o);
    ncmp_dtype dtype;
    if (!arch_name || !out) {
        ncmp_fail(&err, NCMP_ERR_USAGE, "train needs --arch, the data and --out (see 'neurocmp train --help')");
        return cli_report(&err);
    }
    if (cycles < 0 || epochs < 1 || batch < 1 || batch > 1000000 || max_steps < 0 || threads < 0 || pgd_steps < 1 ||
        seed < 0) {
        ncmp_fail(
            &err, NCMP_ERR_USAGE,
            "--cycles >= 0, --epochs >= 1, --batch in 1..1000000, --max-steps >= 0, --pgd-steps >= 1, --seed >= 0");
        return cli_report(&err);
    }
    if (!(lr > 0) || !(momentum >= 0) || !(weight_decay >= 0) || !(clip >= 0) || !(mse >= 0) || !(res >= 0) ||
        res >= 1 || !(clean >= 0) || !(eps >= 0) || !(eps_iter >= 0)) {
        ncmp_fail(&err, NCMP_ERR_USAGE,
                  "--lr must be > 0; --momentum, --weight-decay, --grad-clip, --mse-parameter, --clean-parameter, "
                  "--eps, --eps-iter >= 0; --res-parameter in [0, 1)");
        return cli_report(&err);
    }
    if (force && resume) {
        ncmp_fail(&err, NCMP_ERR_USAGE, "--force starts over and --resume continues: choose one");
        return cli_report(&err);
    }
    if (cli_parse_precision(precision, &dtype, &err) || ncmp_schedule_parse(schedule, &o.sgd.schedule, &err) ||
        ncmp_attack_parse(adversarial, &o.adversarial.kind, &err))
        return cli_report(&err);
    ncmp_set_threads((int)threads);

    char resolved_weights[4096];

    init = ncmp_weights_resolve(init, resolved_weights, sizeof resolved_weights);

    ncmp_arch_options ao = {
        .width = width, .input_size = (int)input_size, .num_classes = (int)classes, .update_layer = update};

    ao.input_channels = (int)channels;

    ncmp_arch_options_from_weights(&ao, init);
    ncmp_arch *arch = NULL;
    ncmp_params *params = NULL;
    ncmp_labeled_set *set = NULL, *test = NULL;
    if (ncmp_arch_load(arch_name, &ao, &arch, &err))
        return cli_report(&err);
    cli_apply_weights_step(arch, init, res);
    ncmp_preprocess_options pp = ncmp_arch_preprocess(arch, false);
    int status = 0;
    if (cli_load_params(arch, init, (unsigned long long)seed, dtype, &params, o.init, sizeof o.init, &err) ||
        cli_open_labeled(data, images, labels, NCMP_SPLIT_TRAIN, arch, &set, &err) ||
        (test_data && cli_open_labeled(test_data, NULL, NULL, NCMP_SPLIT_TEST, arch, &test, &err))) {
        status = cli_report(&err);
        goto done;
    }
    if (!init)
        ncmp_log_info("no --init given: starting from the seeded initialisation (seed %ld)", seed);
    o.cycles = (int)cycles;
    o.epochs = (int)epochs;
    o.max_steps = (uint64_t)max_steps;
    o.batch = (size_t)batch;
    o.sgd.lr = lr;
    o.sgd.momentum = momentum;
    o.sgd.weight_decay = weight_decay;
    o.sgd.grad_clip = clip;
    o.mse_parameter = mse;
    o.clean_parameter = clean;
    o.shuffle = !no_shuffle;
    o.seed = (uint64_t)seed;
    o.adversarial.eps = eps;
    o.adversarial.eps_iter = eps_iter;
    o.adversarial.steps = (int)pgd_steps;
    o.out_path = out;
    o.resume = resume;
    o.force = force;
    o.test = test;
    o.pp = &pp;
    cli_interrupt saved;
    cli_interrupt_begin(&saved, &ncmp_train_interrupted);
    ncmp_train_summary sum;
    ncmp_status st = ncmp_train_run(params, set, &o, &sum, &err);
    cli_interrupt_end(&saved);
    if (st) {
        status = cli_report(&err);
        goto done;
    }
    if (!sum.nothing_to_do) {
        printf("%s: %llu steps, %d epoch%s done%s, loss %.4f\n", out, (unsigned long long)sum.steps, sum.epochs_done,
               sum.epochs_done == 1 ? "" : "s", sum.finished ? " (finished)" : " (continue with --resume)", sum.loss);
        if (sum.tested) {
            printf("test accuracy by iteration:");
            for (int t = 0; t <= sum.test.cycles; t++)
                printf(" t%d %.4f", t, (double)sum.test.correct[t] / (double)sum.test.n);
            printf("\n");
        }
    }
    printf("weights digest %s\n", sum.digest);
done:
    ncmp_labeled_free(set);
    ncmp_labeled_free(test);
    ncmp_params_free(params);
    ncmp_arch_free(arch);
    return status;
}
