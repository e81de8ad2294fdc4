/* neurocmp export: stimuli -> per-iteration block activations in HDF5 (docs/formats.md, Activations). */
#include "cli/commands.h"
#include "cli/interrupt.h"
#include "cli/training_args.h"
#include "core/dist.h"
#include "core/log.h"
#include "core/provenance.h"
#include "datasets/stimuli.h"
#include "model/export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "all" = every observation point; else a comma-separated list of layer or observation names. */
static ncmp_status parse_layers(const ncmp_arch *a, const char *text, int **out, int *n, ncmp_error *err)
{
    *out = calloc((size_t)a->n_layers, sizeof(int));
    *n = 0;
    if (!*out)
        return ncmp_fail(err, NCMP_ERR_NOMEM, "out of memory");
    if (!strcmp(text, "all")) {
        for (int i = 0; i < a->n_layers; i++)
            if (a->layers[i].alias[0])
                (*out)[(*n)++] = i;
        return NCMP_OK;
    }
    char *copy = strdup(text), *save = NULL;
    ncmp_status st = NCMP_OK;
    for (char *tok = strtok_r(copy, ",", &save); tok && !st; tok = strtok_r(NULL, ",", &save)) {
        int idx;
        if ((st = ncmp_arch_require_layer(a, tok, &idx, err)))
            break;
        if (*n >= a->n_layers) {
            st = ncmp_fail(err, NCMP_ERR_USAGE, "too many layers in --layers");
            break;
        }
        (*out)[(*n)++] = idx;
    }
    free(copy);
    if (!st && *n == 0)
        st = ncmp_fail(err, NCMP_ERR_USAGE, "--layers names no layer");
    return st;
}

/* Under MPI every rank runs export (docs/scale-out.md).  A failure met before the export starts is agreed
 * first (all ranks meet a usage error; only one may fail to read its node's copy of the weights), so that rank 0
 * prints it once and every rank ends cleanly instead of through MPI_Abort.  After an agreed failure the ranks wait
 * for rank 0's message: mpirun ends the job as soon as one rank exits non-zero. */
static int report(const ncmp_error *err)
{
    int rc = cli_report(err);
    if (ncmp_dist_failure_agreed())
        ncmp_dist_barrier(NULL);
    return rc;
}

static int report_before_export(ncmp_error *err)
{
    if (ncmp_dist_parallel() && !ncmp_dist_failure_agreed())
        ncmp_dist_agree(err->status, err);
    return report(err);
}

int cmd_export(int argc, char **argv)
{
    const char *arch_name = NULL, *weights = NULL, *stimuli_path = NULL, *layers_text = "all", *out = NULL;
    const char *update = NULL, *precision = NULL, *store = "float32", *reduce_text = "none";
    long seed = 0, iterations = 0, batch = 8, threads = 0, compress = 0, input_size = 0, channels = 0, classes = 0,
         project_seed = 0;
    double width = 0;
    bool force = false, resume = false, crop = false, stability = false, no_precision_check = false;
    const cli_option options[] = {
        {"arch", 'a', CLI_STRING, &arch_name, "NAME|FILE",
         "architecture: cnnf-fmnist, vgg16, vgg16-cnnf or a .spec file (default: the one --weights records)"},
        {"weights", 'w', CLI_STRING, &weights, "FILE.h5",
         "weights (docs/formats.md, Weights; scripts/torch_to_h5.py converts .pt)"},
        {"seed", 0, CLI_INT, &seed, "S", "seeded initialisation when no --weights are given"},
        {"width", 0, CLI_DOUBLE, &width, "W", "width multiplier (0: the spec's)"},
        {"input-size", 0, CLI_INT, &input_size, "S", "network input size in pixels (0: the spec's)"},
        {"channels", 0, CLI_INT, &channels, "1|3", "input channels: 1 grey, 3 RGB (0: the spec's)"},
        {"classes", 0, CLI_INT, &classes, "K", "output classes (0: the spec's)"},
        {"update-layer", 0, CLI_STRING, &update, "LAYER", "CNN-F update layer (default: the spec's)"},
        {"stimuli", 's', CLI_STRING, &stimuli_path, "PATH", "image folder, .zip, BrainIO .csv, or IDX file"},
        {"iterations", 'T', CLI_INT, &iterations, "T", "CNN-F feedback cycles (iterations 0..T are exported)"},
        {"layers", 'l', CLI_STRING, &layers_text, "L1,L2|all", "layers to export (all = every observation point)"},
        {"out", 'o', CLI_STRING, &out, "FILE.h5", "output activations file"},
        {"batch", 'b', CLI_INT, &batch, "B",
         "stimuli per batch (memory grows with it, not with the set; results do not depend on it)"},
        {"threads", 'j', CLI_INT, &threads, "N", "threads (0: all cores); results do not depend on it"},
        {"precision", 0, CLI_STRING, &precision, "float|double",
         "arithmetic (default: double when -T >= 1, so feedback routing does not hinge on float32 rounding; else "
         "float)"},
        {"store", 0, CLI_STRING, &store, "float32|float64", "what the file holds"},
        {"reduce", 0, CLI_STRING, &reduce_text, "none|avgpool|project:K",
         "store layers whole, channel means, or K random projections"},
        {"project-seed", 0, CLI_INT, &project_seed, "S", "seed of the random projection (stored in the file)"},
        {"compress", 0, CLI_INT, &compress, "LEVEL", "deflate level 0-9 (0: none)"},
        {"center-crop", 0, CLI_FLAG, &crop, NULL, "resize the shorter side, then crop the centre (else stretch)"},
        {"check-stability", 0, CLI_FLAG, &stability, NULL,
         "rerun the first batch in float32 one ulp off; report and store the divergence"},
        {"no-precision-check", 0, CLI_FLAG, &no_precision_check, NULL,
         "with --precision float and -T >= 1: skip checking the first 32 stimuli against double arithmetic"},
        {"force", 'f', CLI_FLAG, &force, NULL, "replace an existing output"},
        {"resume", 'r', CLI_FLAG, &resume, NULL, "continue an interrupted export of the same command"},
    };
    const cli_command cmd = {
        .name = "export",
        .summary = "Run stimuli through a (CNN-F) network and write every requested layer at every iteration to HDF5.",
        .description = "Output layout (docs/formats.md, Activations): /stimulus_id, /iteration, /activations/<layer> "
                       "[T+1, n, ...],\n"
                       "/diagnostics (relative change per iteration, predicted class and probability, routing\n"
                       "near-ties), provenance attributes. Memory is bounded by --batch. The file is written as\n"
                       "OUT.partial and renamed when complete; after an interruption, the same command with\n"
                       "--resume continues it.",
        .options = options,
        .n_options = sizeof options / sizeof options[0],
        .max_positional = 0,
    };
    ncmp_error err;
    int rc = cli_start(&cmd, argc, argv, &err);
    if (rc >= 0) {
        if (rc > 0 && ncmp_dist_parallel()) /* printed by every rank; agreed, so that they end without MPI_Abort */
            ncmp_dist_agree(NCMP_ERR_USAGE, &err);
        return rc;
    }
    char resolved_weights[4096], weights_arch[256];
    weights = ncmp_weights_resolve(weights, resolved_weights, sizeof resolved_weights);
    if (!arch_name)
        arch_name = ncmp_arch_name_from_weights(weights, weights_arch, sizeof weights_arch);
    if (!arch_name || !stimuli_path || !out) {
        ncmp_fail(&err, NCMP_ERR_USAGE,
                  "export needs --arch (or --weights from neurocmp train, which record it), --stimuli and --out "
                  "(see 'neurocmp export --help')");
        return report_before_export(&err);
    }
    ncmp_export_options o;
    memset(&o, 0, sizeof o);
    if (precision && cli_parse_precision(precision, &o.precision, &err))
        return report_before_export(&err);
    if (!precision)
        o.precision = iterations >= 1 ? NCMP_FLOAT64 : NCMP_FLOAT32;
    if (ncmp_dtype_parse(store, &o.store)) {
        ncmp_fail(&err, NCMP_ERR_USAGE, "--store must be float32 or float64, got '%s'", store);
        return report_before_export(&err);
    }
    if (iterations < 0 || batch < 1 || batch > 100000 || compress < 0 || compress > 9 || threads < 0) {
        ncmp_fail(&err, NCMP_ERR_USAGE, "--iterations >= 0, --batch in 1..100000, --compress in 0..9, --threads >= 0");
        return report_before_export(&err);
    }
    if (weights && seed) {
        ncmp_fail(&err, NCMP_ERR_USAGE, "give --weights or --seed, not both");
        return report_before_export(&err);
    }
    if (force && resume) {
        ncmp_fail(&err, NCMP_ERR_USAGE, "--force starts over and --resume continues: choose one");
        return report_before_export(&err);
    }
    if (ncmp_reduce_parse(reduce_text, &o.reduce, &o.project_dim, &err))
        return report_before_export(&err);
    ncmp_set_threads((int)threads);

    ncmp_arch_options ao = {
        .width = width, .input_size = (int)input_size, .num_classes = (int)classes, .update_layer = update};

    ao.input_channels = (int)channels;

    ncmp_arch_options_from_weights(&ao, weights);
    ncmp_arch *a;
    ncmp_net *net;
    if (ncmp_arch_load(arch_name, &ao, &a, &err) || ncmp_net_create(a, &net, &err))
        return report_before_export(&err);
    if (weights ? ncmp_net_load_weights(net, weights, &err) : ncmp_net_init_seeded(net, (uint64_t)seed, &err)) {
        ncmp_net_free(net);
        return report_before_export(&err);
    }
    if (!weights && ncmp_dist_rank() == 0)
        ncmp_log_warn("no --weights given: using seeded random weights (seed %ld)", seed);
    int *layers = NULL, n_layers = 0;
    ncmp_stimulus_set *stimuli = NULL;
    if (parse_layers(net->arch, layers_text, &layers, &n_layers, &err) ||
        ncmp_stimuli_open(stimuli_path, &stimuli, &err)) {
        free(layers);
        ncmp_net_free(net);
        return report_before_export(&err);
    }
    ncmp_log_info("exporting %zu stimuli (%s) through %s, iterations 0..%ld, %d layer%s, %s arithmetic, stored as "
                  "%s, batch %ld",
                  ncmp_stimuli_count(stimuli), ncmp_stimuli_kind_name(ncmp_stimuli_get_kind(stimuli)), net->arch->name,
                  iterations, n_layers, n_layers == 1 ? "" : "s", o.precision == NCMP_FLOAT64 ? "double" : "float",
                  ncmp_dtype_name(o.store), batch);
    o.out_path = out;
    o.iterations = (int)iterations;
    o.layers = layers;
    o.n_layers = n_layers;
    o.batch = (size_t)batch;
    o.project_seed = (uint64_t)project_seed;
    o.compress = (int)compress;
    o.center_crop = crop;
    o.force = force;
    o.resume = resume;
    o.check_stability = stability;
    o.skip_precision_check = no_precision_check;
    cli_interrupt saved;
    cli_interrupt_begin(&saved, &ncmp_export_interrupted);
    ncmp_status st = ncmp_export_run(net, stimuli, &o, &err);
    cli_interrupt_end(&saved);
    ncmp_stimuli_close(stimuli);
    free(layers);
    ncmp_net_free(net);
    if (st)
        return report(&err); /* agreed inside the export, or met by one rank alone (cli/main.c ends every rank) */
    ncmp_log_info("wrote %s", out);
    return 0;
}
