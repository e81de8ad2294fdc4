/* Fuzz harness: weights files (model/net.h) for a small CNN-F
 * (cnnf-fmnist at width 1/16, the architecture of the seeds). */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "model/arch.h"
#include "model/net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ncmp_net *net;
    ncmp_error err;
    if (!net) {
        fuzz_init();
        ncmp_arch_options opts = {.width = 0.0625};
        ncmp_arch *arch = NULL;
        if (ncmp_arch_load("cnnf-fmnist", &opts, &arch, &err) || ncmp_net_create(arch, &net, &err)) {
            fprintf(stderr, "fuzz_weights: %s\n", err.message);
            abort();
        }
    }
    const char *path = fuzz_write("weights.h5", data, size);
    fuzz_outcome(ncmp_net_load_weights(net, path, &err), &err);
    char name[64];
    (void)ncmp_arch_name_from_weights(path, name, sizeof name);
    ncmp_arch_options opts = {0};
    ncmp_arch_options_from_weights(&opts, path);
    fuzz_require_no_open_hdf5();
    return 0;
}
