/* Fuzz harness: JSON (results/json.h) and the splits files read by
 * `score --splits` (analysis/splits.h). */
#include <stdlib.h>

#include "results/json.h"
#include "analysis/splits.h"
#include "fuzz_util.h"
#include "results/splits_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init();
    char *text = fuzz_text(data, size);
    ncmp_json_value *v = NULL;
    ncmp_error err;
    ncmp_status st = ncmp_json_parse(text, "fuzz.json", &v, &err);
    fuzz_outcome(st, &err);
    if (st == NCMP_OK)
        ncmp_json_free(v);
    free(text);
    static const char *const ids[12] = {"s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11"};
    const char *path = fuzz_write("splits.json", data, size);
    ncmp_splits *s = NULL;
    if (ncmp_splits_read_json(path, 12, NULL, &s, &err) == NCMP_OK)
        ncmp_splits_free(s);
    if (ncmp_splits_read_json(path, 12, ids, &s, &err) == NCMP_OK)
        ncmp_splits_free(s);
    return 0;
}
