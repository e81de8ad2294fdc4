# Shared by tests/mpi/test_*.sh (the MPI build, -DNEUROCMP_MPI=ON; docs/scale-out.md):
# run the same neurocmp on N ranks of this machine with mpirun, oversubscribed.
#   source "$(dirname "$0")/lib.sh"    (after setting NCMP to the neurocmp binary)
#   ranks 2 export ...                 neurocmp on 2 ranks
#   single export ...                  neurocmp as one plain process (no MPI initialised)
set -u
# CI and containers run as root; Open MPI refuses that unless told.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Two cores here: more ranks than cores is expected; shared memory between ranks only.
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
# ROMIO: the MPI-IO layer HDF5 is tested with.
export OMPI_MCA_io=romio321
# One BLAS thread per rank: ranks are the parallelism here.
export OPENBLAS_NUM_THREADS=1

ranks() {
  local n=$1
  shift
  mpirun -np "$n" "$NCMP" "$@"
}
single() {
  "$NCMP" "$@"
}
