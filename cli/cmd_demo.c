/* neurocmp demo: the end-to-end path on the bundled data and the shipped trained networks, saying what it does.
 *
 * Fingerprint the bundled V4 recordings (Cowley et al. 2023) and the shipped
 * VGG-16 CNN-F (Huang et al. 2020; width 1/4, 32x32 grey, trained on
 * Fashion-MNIST through two feedback cycles) with its feed-forward twin;
 * import the recordings as a BrainIO assembly and measure their noise
 * ceiling; export the 640 images through both networks (every block and the
 * logits, the CNN-F at iterations 0..T); summarise how the iterates move;
 * score every block at every iteration against the recordings (the cells of
 * `neurocmp score`); compare the CNN-F's best block at iteration T with
 * iteration 0 and with the CNN (as `neurocmp compare`); run the iteration x
 * time-bin analysis on recordings simulated from the CNN-F with a known
 * answer; and write a report with a real-V4 section before the simulated
 * temporal one.  The steps are in cli/demo_steps.c, the analyses and the
 * report in results/demo_report.c; this file parses the options.
 */
#include "cli/commands.h"
#include "cli/demo_steps.h"

int cmd_demo(int argc, char **argv)
{
    const char *out_dir = "neurocmp-demo";
    long iterations = 5, batch = 32, seed = 7;
    const cli_option options[] = {
        {"out", 'o', CLI_STRING, &out_dir, "DIR",
         "directory for the demo's outputs (earlier demo files in it are replaced)"},
        {"iterations", 'T', CLI_INT, &iterations, "T", "CNN-F feedback iterations exported and scored (1..20)"},
        {"batch", 'b', CLI_INT, &batch, "B", "images per export batch (results do not depend on it)"},
        {"seed", 0, CLI_INT, &seed, "S", "seed of the recordings simulated for the temporal step"},
    };
    const cli_command cmd = {
        .name = "demo",
        .summary = "Run the end-to-end demonstration on the bundled V4 recordings and say what it did.",
        .description =
            "Fingerprints the bundled data (Cowley et al. 2023, V4 session 210325) and the shipped trained\n"
            "networks (VGG-16 CNN-F, width 1/4, 32x32 grey, trained on Fashion-MNIST through two cycles, and its\n"
            "feed-forward twin), imports the responses as a BrainIO assembly (DIR/v4.nc) with their noise\n"
            "ceiling, exports the 640 images through both networks (DIR/activations-cnnf.h5 at iterations 0..T,\n"
            "DIR/activations-cnn.h5), scores every block at every iteration against the recordings (PLS-25,\n"
            "ceiled raw^2/ceiling, as 'neurocmp score'), compares the CNN-F's best block at iteration T with\n"
            "iteration 0 and with the CNN (as 'neurocmp compare'), runs the iteration x time-bin analysis on\n"
            "recordings simulated from the CNN-F, and writes DIR/report/index.html and report.md.",
        .options = options,
        .n_options = sizeof options / sizeof options[0],
        .max_positional = 0,
    };
    ncmp_error err;
    int rc = cli_start(&cmd, argc, argv, &err);
    if (rc >= 0)
        return rc;
    if (iterations < 1 || iterations > 20 || batch < 1 || batch > 100000 || seed < 0) {
        ncmp_fail(&err, NCMP_ERR_USAGE, "--iterations must be in 1..20, --batch in 1..100000 and --seed >= 0");
        return cli_report(&err);
    }
    cli_demo_options o = {out_dir, (int)iterations, (size_t)batch, (uint64_t)seed};
    if (cli_demo_run(&o, &err))
        return cli_report(&err);
    return 0;
}
