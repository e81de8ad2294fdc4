/* Test helper for tests/test_torch_to_h5.py: load a weights file with the C
 * library exactly as the engine does (ncmp_net_load_weights), then write what
 * was loaded back out (ncmp_net_save_weights), so the test can compare every
 * value the library holds with the PyTorch tensors.
 *
 * usage: weights_roundtrip ARCH WIDTH INPUT_SIZE CLASSES IN.h5 OUT.h5
 *        (0 for WIDTH, INPUT_SIZE or CLASSES: the architecture's default)
 * exit:  0 loaded and saved; 1 load or save failed (message on stderr); 2 usage. */
#include "model/arch.h"
#include "model/net.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: %s ARCH WIDTH INPUT_SIZE CLASSES IN.h5 OUT.h5\n", argv[0]);
        return 2;
    }
    ncmp_arch_options o = {
        .width = atof(argv[2]), .input_size = atoi(argv[3]), .num_classes = atoi(argv[4]), .update_layer = NULL};
    ncmp_arch *a = NULL;
    ncmp_net *net = NULL;
    ncmp_error err;
    if (ncmp_arch_load(argv[1], &o, &a, &err) || ncmp_net_create(a, &net, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    int rc = 0;
    if (ncmp_net_load_weights(net, argv[5], &err) || ncmp_net_save_weights(net, argv[6], &err)) {
        fprintf(stderr, "%s\n", err.message);
        rc = 1;
    } else {
        printf("%s: %zu parameters loaded as %s, sha256 %s\n", argv[5], ncmp_net_param_count(net), net->arch->name,
               net->weights_sha256);
    }
    ncmp_net_free(net);
    return rc;
}
