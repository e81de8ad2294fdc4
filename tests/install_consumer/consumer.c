/* Uses the installed library: hash a buffer, write and reread an attribute. */
#include <neurocmp.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    char hex[NCMP_SHA256_HEX_LEN];
    ncmp_sha256_buffer("abc", 3, hex);
    if (strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") != 0)
        return 1;
    ncmp_error err;
    ncmp_h5_output out;
    const char *path = argc > 1 ? argv[1] : "consumer.h5";
    if (ncmp_h5_output_begin(&out, path, NCMP_H5_OVERWRITE, &err) ||
        ncmp_h5_attr_set_string(out.file, "made_by", "consumer", &err) || ncmp_h5_output_commit(&out, &err)) {
        fprintf(stderr, "consumer: %s\n", err.message);
        return 1;
    }
    printf("consumer: neurocmp %s works\n", NCMP_VERSION);
    return 0;
}
