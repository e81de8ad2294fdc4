#!/usr/bin/env bash
# A one-node Slurm on this machine (root, Debian 12), to try the cluster
# batch script of docs/scale-out.md before sending it to a real cluster:
#   bash scripts/slurm-one-node.sh            install slurmd, slurmctld, munge; write a slurm.conf for
#                                             this host's cores; start the daemons
#   sbatch docs/examples/study.sbatch          (or: srun -n 2 build-mpi/neurocmp batch --config study.ini)
#   bash scripts/slurm-one-node.sh --stop     stop the daemons
# It overwrites /etc/slurm/slurm.conf: use it on a test machine, never on a cluster node.
set -euo pipefail
if [ "${1:-}" = "--stop" ]; then
  pkill -x slurmd || true
  pkill -x slurmctld || true
  pkill -x munged || true
  exit 0
fi
[ "$(id -u)" -eq 0 ] || { echo "slurm-one-node.sh: run as root (it installs packages and starts daemons)" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
dpkg-query -W -f='${Status}' slurmd 2>/dev/null | grep -q "install ok installed" ||
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends slurmd slurmctld slurm-client munge; }
host=$(hostname)
cpus=$(nproc)
mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
mkdir -p /etc/slurm /var/lib/slurm/slurmd /var/lib/slurm/slurmctld /var/log/slurm /run/munge
cat >/etc/slurm/slurm.conf <<CONF
# written by neurocmp's scripts/slurm-one-node.sh: one node, this machine
ClusterName=local
SlurmctldHost=$host
MpiDefault=pmix
ProctrackType=proctrack/linuxproc
ReturnToService=2
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmdSpoolDir=/var/lib/slurm/slurmd
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmUser=root
TaskPlugin=task/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF
chown munge:munge /run/munge 2>/dev/null || true
pgrep -x munged >/dev/null || munged --force
pgrep -x slurmctld >/dev/null || slurmctld
pgrep -x slurmd >/dev/null || slurmd
for _ in $(seq 20); do
  sinfo -h -o %T 2>/dev/null | grep -q idle && { sinfo; exit 0; }
  sleep 1
done
echo "slurm-one-node.sh: the node did not become idle; see /var/log/slurm/" >&2
exit 1
