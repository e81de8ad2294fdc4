/* neurocmp arch: show a network as neurocmp parses it; validate weights; check CNN-F routing stability. */
#include "cli/commands.h"
#include "core/log.h"
#include "core/rng.h"
#include "model/arch.h"
#include "model/net.h"
#include "model/stability.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_table(const ncmp_net *net)
{
    const ncmp_arch *a = net->arch;
    char in[64];
    ncmp_shape_string(a->input, in, sizeof in);
    printf("%s (%s)\n", a->name, a->source);
    printf("input %s, preprocessing %s, width %g, %d classes\n", in,
           a->scaling == NCMP_SCALING_IMAGENET ? "imagenet (mean/std)" : "[-1, 1]", a->width, a->num_classes);
    if (a->cnnf)
        printf("CNN-F: update layer %s, step %g; layers up to it run once\n", ncmp_arch_layer_label(a, a->update_layer),
               a->step);
    else
        printf("feed-forward network (no feedback; iteration 0 only)\n");
    printf("\n  %3s  %-12s %-8s %-12s %12s %10s  %s\n", "#", "layer", "type", "output", "parameters", "MMAC",
           "observe as");
    for (int i = 0; i < a->n_layers; i++) {
        const ncmp_layer_desc *L = &a->layers[i];
        char out[64];
        ncmp_shape_string(L->out, out, sizeof out);
        size_t params = ncmp_net_weight_size(net, i) + ncmp_net_bias_size(net, i);
        double mmac = 0;
        if (L->type == NCMP_LAYER_CONV)
            mmac = (double)ncmp_shape_size(L->out) * L->in.c * L->kernel * L->kernel / 1e6;
        else if (L->type == NCMP_LAYER_LINEAR)
            mmac = (double)L->in.c * L->out.c / 1e6;
        char pbuf[32] = "", mbuf[32] = "";
        if (params)
            snprintf(pbuf, sizeof pbuf, "%zu", params);
        if (mmac > 0)
            snprintf(mbuf, sizeof mbuf, "%.1f", mmac);
        printf("  %3d  %-12s %-8s %-12s %12s %10s  %s%s\n", i, L->name, ncmp_layer_type_name(L->type), out, pbuf, mbuf,
               L->alias, a->cnnf && i == a->update_layer ? " (update layer)" : "");
    }
    printf("\n%zu parameters; %.3f GMAC per image forward", ncmp_net_param_count(net),
           ncmp_arch_forward_macs(a, 0) / 1e9);
    if (a->cnnf)
        printf(", %.3f GMAC per feedback cycle (+ %.3f re-forward)", ncmp_arch_feedback_macs(a) / 1e9,
               ncmp_arch_forward_macs(a, a->update_layer + 1) / 1e9);
    printf("\n");
    if (a->cnnf) {
        printf("feedback: ");
        for (int s = 0; s < a->n_topdown; s++) {
            const ncmp_topdown_step *st = &a->topdown[s];
            if (st->op == NCMP_TD_INSNORM)
                printf("insnorm -> ");
            else
                printf("%s' -> ", a->layers[st->layer].name);
        }
        printf("r (%s)\n", ncmp_arch_layer_label(a, a->update_layer));
    }
}

static int check_stability(const ncmp_net *net, long iterations, long n_inputs, long seed)
{
    const ncmp_arch *a = net->arch;
    ncmp_error err;
    int layers[64], n = 0;
    for (int i = 0; i < a->n_layers && n < 64; i++)
        if (a->layers[i].alias[0])
            layers[n++] = i;
    size_t shape[4] = {(size_t)n_inputs, (size_t)a->input.c, (size_t)a->input.h, (size_t)a->input.w};
    ncmp_tensor x;
    if (ncmp_tensor_alloc(&x, NCMP_FLOAT32, 4, shape, &err))
        return cli_report(&err);
    ncmp_rng rng;
    ncmp_rng_seed(&rng, (uint64_t)seed);
    ncmp_rng_fill_normal_f32(&rng, x.data, ncmp_tensor_numel(&x), 0.0, 1.0);
    ncmp_stability *rep;
    ncmp_status st = ncmp_stability_check(net, &x, (int)iterations, layers, n, &rep, &err);
    ncmp_tensor_release(&x);
    if (st)
        return cli_report(&err);
    printf("\nrouting stability (float32; %ld seeded N(0,1) inputs vs the same moved by one ulp):\n", n_inputs);
    printf("divergence = max |a - b| / max |a|; ties = near-tie routing choices (AdaPool windows, AdaReLU units)\n\n");
    printf("  %-10s", "layer");
    for (int t = 0; t <= iterations; t++)
        printf("  t=%-2d divergence  ties", t);
    printf("\n");
    for (int k = 0; k < n; k++) {
        printf("  %-10s", ncmp_arch_layer_label(a, layers[k]));
        for (int t = 0; t <= iterations; t++)
            printf("  %16.2e %5zu", rep->divergence[t * n + k], rep->near_ties[t * n + k]);
        printf("\n");
    }
    ncmp_stability_free(rep);
    return 0;
}

int cmd_arch(int argc, char **argv)
{
    double width = 0;
    long input_size = 0, channels = 0, classes = 0, seed = 0, iterations = 2, n_inputs = 4;
    const char *update = NULL, *weights = NULL;
    bool stability = false;
    const cli_option options[] = {
        {"width", 0, CLI_DOUBLE, &width, "W", "channel width multiplier (0: the spec's default)"},
        {"input-size", 0, CLI_INT, &input_size, "S", "input height and width in pixels (0: the spec's default)"},
        {"channels", 0, CLI_INT, &channels, "1|3", "input channels: 1 grey, 3 RGB (0: the spec's)"},
        {"classes", 0, CLI_INT, &classes, "K", "number of output classes (0: the spec's default)"},
        {"update-layer", 0, CLI_STRING, &update, "LAYER", "CNN-F update layer (default: the spec's)"},
        {"weights", 0, CLI_STRING, &weights, "FILE.h5",
         "check that these weights fit (PyTorch layout, docs/formats.md, Weights)"},
        {"seed", 0, CLI_INT, &seed, "S", "seed of the initialisation when no --weights are given"},
        {"check-stability", 0, CLI_FLAG, &stability, NULL,
         "rerun float32 with the input moved by one ulp and report divergence and near ties per layer and iteration"},
        {"iterations", 'T', CLI_INT, &iterations, "T", "CNN-F cycles for --check-stability"},
        {"inputs", 0, CLI_INT, &n_inputs, "N", "seeded random inputs for --check-stability"},
    };
    const cli_command cmd = {
        .name = "arch",
        .usage = "NAME|FILE.spec",
        .summary = "Show a network as neurocmp runs it: layers, shapes, parameters, cost, feedback order.",
        .description =
            "NAME is a built-in architecture (cnnf-fmnist, vgg16, vgg16-cnnf) or a path to a spec file\n"
            "(syntax: docs/spec-files.md). With --weights, also checks that every tensor is present,\n"
            "has the right shape and is finite. With --check-stability (CNN-F only), measures how\n"
            "fragile the feedback routing is (docs/cnnf-semantics.md): float32 runs on seeded inputs and on the\n"
            "same inputs moved by one ulp.",
        .options = options,
        .n_options = sizeof options / sizeof options[0],
        .min_positional = 1,
        .max_positional = 1,
    };
    cli_parsed p;
    int rc = cli_begin(&cmd, argc, argv, &p);
    if (rc >= 0)
        return rc;
    const char *name = p.positional[0];
    cli_parsed_free(&p);
    rc = 0;
    ncmp_error err;
    if (width < 0 || input_size < 0 || classes < 0 || iterations < 0 || n_inputs < 1 || n_inputs > 1024) {
        ncmp_fail(&err, NCMP_ERR_USAGE,
                  "--width, --input-size, --classes and --iterations must be >= 0, --inputs in 1..1024");
        return cli_report(&err);
    }
    char resolved_weights[4096];
    weights = ncmp_weights_resolve(weights, resolved_weights, sizeof resolved_weights);
    ncmp_arch_options o = {
        .width = width, .input_size = (int)input_size, .num_classes = (int)classes, .update_layer = update};
    o.input_channels = (int)channels;
    ncmp_arch_options_from_weights(&o, weights);
    ncmp_arch *a;
    ncmp_net *net;
    if (ncmp_arch_load(name, &o, &a, &err) || ncmp_net_create(a, &net, &err))
        return cli_report(&err);
    if (weights ? ncmp_net_load_weights(net, weights, &err) : ncmp_net_init_seeded(net, (uint64_t)seed, &err)) {
        ncmp_net_free(net);
        return cli_report(&err);
    }
    print_table(net);
    if (weights)
        printf("weights: %s fits (%zu parameters, all finite; sha256 %s)\n", weights, ncmp_net_param_count(net),
               net->weights_sha256);
    if (stability) {
        if (!net->arch->cnnf) {
            ncmp_net_free(net);
            ncmp_fail(&err, NCMP_ERR_USAGE, "--check-stability needs a CNN-F architecture; %s has no feedback", name);
            return cli_report(&err);
        }
        rc = check_stability(net, iterations, n_inputs, seed);
    }
    ncmp_net_free(net);
    return rc;
}
