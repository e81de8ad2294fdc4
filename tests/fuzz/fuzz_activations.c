/* Fuzz harness: activations files (results/activations.h, docs/formats.md):
 * open, then read every layer's features at every iteration. */
#include <stdlib.h>

#include "results/activations.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ncmp_activations *a = NULL;
    ncmp_error err;
    ncmp_status st = ncmp_activations_open(fuzz_write("acts.h5", data, size), &a, &err);
    fuzz_outcome(st, &err);
    if (st != NCMP_OK)
        return 0;
    size_t n = a->n_stimuli < 4 ? a->n_stimuli : 4;
    size_t rows[4] = {0, 1, 2, 3};
    for (size_t l = 0; l < a->n_layers; l++) {
        size_t p = 0;
        if (ncmp_activations_layer_features(a, a->layers[l], &p, &err) != NCMP_OK || !p || p > ((size_t)1 << 20))
            continue;
        double *out = malloc(n * p * sizeof *out + 1), G[16];
        for (size_t t = 0; out && t < a->n_iterations && t < 3; t++) {
            (void)ncmp_activations_read_features(a, a->layers[l], t, rows, n, out, &err);
            (void)ncmp_activations_gram(a, a->layers[l], t, rows, n, 1 << 16, G, &err);
        }
        free(out);
    }
    if (a->n_stimuli) {
        const char *ids[1] = {a->stimulus_ids[0]};
        size_t row;
        (void)ncmp_activations_match(a, ids, 1, &row, &err);
    }
    ncmp_activations_close(a);
    fuzz_require_no_open_hdf5();
    return 0;
}
