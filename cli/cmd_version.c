/* neurocmp version: the tool and the libraries actually linked at run time. */
#include "cli/commands.h"
#include "core/provenance.h"
#include "core/version.h"

#include <stdio.h>

int cmd_version(int argc, char **argv)
{
    static const cli_command cmd = {
        .name = "version",
        .summary = "Print the neurocmp version and the HDF5, GSL and BLAS libraries actually linked.",
        .description = "The BLAS line gives the OpenBLAS build configuration, the core type it selected\n"
                       "for this processor and its thread count (set OPENBLAS_NUM_THREADS to change it).",
        .max_positional = 0,
    };
    cli_parsed p;
    int rc = cli_begin(&cmd, argc, argv, &p);
    if (rc >= 0)
        return rc;
    cli_parsed_free(&p);
    char h5[32];
    ncmp_hdf5_version(h5, sizeof h5);
    printf("neurocmp %s (revision %s)\n", NCMP_VERSION, NCMP_GIT_REVISION);
    printf("HDF5     %s\n", h5);
    printf("GSL      %s\n", ncmp_gsl_version());
    printf("BLAS     %s\n", ncmp_blas_config());
    printf("         core type %s, %d threads\n", ncmp_blas_corename(), ncmp_blas_threads());
    if (ncmp_openmp_enabled())
        printf("OpenMP   yes, %d threads\n", ncmp_openmp_threads());
    else
        printf("OpenMP   no (built with NEUROCMP_OPENMP=OFF)\n");
    return 0;
}
