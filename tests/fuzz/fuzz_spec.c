/* Fuzz harness: architecture spec files (model/arch.h, docs/spec-files.md). */
#include <stdlib.h>

#include "fuzz_util.h"
#include "model/arch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init();
    char *text = fuzz_text(data, size);
    ncmp_arch *arch = NULL;
    ncmp_error err;
    ncmp_status st = ncmp_arch_parse(text, "fuzz.spec", NULL, &arch, &err);
    fuzz_outcome(st, &err);
    if (st == NCMP_OK) {
        (void)ncmp_arch_forward_macs(arch, 0);
        (void)ncmp_arch_feedback_macs(arch);
        for (int i = 0; i < arch->n_layers; i++)
            (void)ncmp_arch_layer_label(arch, i);
        ncmp_arch_free(arch);
    }
    free(text);
    return 0;
}
