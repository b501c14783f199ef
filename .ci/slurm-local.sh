#!/usr/bin/env bash
# A single-node Slurm on this machine for tests/test_slurm.py (issue 42): install slurm-wlm and munge when apt
# can, write a slurm.conf for this host, start munged, slurmctld and slurmd. Idempotent: a running cluster is
# left as it is. Fails soft: without root or apt it prints why and exits 0, and the test skips with that reason.
set -uo pipefail
say() { echo "slurm-local: $*"; }
if sinfo -h -o %T 2>/dev/null | grep -qE 'idle|mix|alloc'; then say "already up"; exit 0; fi
if [ "$(id -u)" != 0 ]; then say "not root: no local Slurm (tests/test_slurm.py skips)"; exit 0; fi
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  command -v apt-get >/dev/null || { say "no apt-get: no local Slurm"; exit 0; }
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge) >/tmp/slurm-apt.log 2>&1 \
    || { say "apt-get install slurm-wlm munge failed (see /tmp/slurm-apt.log): no local Slurm"; exit 0; }
fi
host=$(hostname -s); cpus=$(nproc); mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
conf=/etc/slurm/slurm.conf; mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
cat > "$conf" <<CONF
ClusterName=resnetlab
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
MinJobAge=600
KillWait=5
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF
[ -s /etc/munge/munge.key ] || { mkdir -p /etc/munge; dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null; }
chown -R munge:munge /etc/munge /var/lib/munge /var/log/munge 2>/dev/null; chmod 400 /etc/munge/munge.key
mkdir -p /run/munge && chown munge:munge /run/munge
pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged || { say "munged did not start"; exit 0; }
pgrep -x slurmctld >/dev/null || slurmctld || { say "slurmctld did not start"; exit 0; }
pgrep -x slurmd >/dev/null || slurmd || { say "slurmd did not start"; exit 0; }
for _ in $(seq 30); do
  sinfo -h -o %T 2>/dev/null | grep -qE 'idle|mix|alloc' && { say "up: $(sinfo -h -o '%P %D %T')"; exit 0; }
  sleep 1
done
say "daemons started but the node is not idle: $(sinfo -h -o '%T' 2>&1); see /var/log/slurm"
exit 0
