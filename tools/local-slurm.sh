#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for testing `busmtl sweep --executor slurm` against a
# real scheduler (tests/test_slurm.py; .ci/run starts it before `make test`).
#
#   tools/local-slurm.sh               start it (installing slurm-wlm + munge when missing)
#   tools/local-slurm.sh --no-install  start it only if the packages are already installed
#   tools/local-slurm.sh status        exit 0 when a partition `cpu` answers, else 3
#   tools/local-slurm.sh stop          stop the daemons this script started (by their pid files)
#
# Needs root and Debian/Ubuntu packages (slurm-wlm, munge): munge key, /etc/slurm/slurm.conf with
# this host as controller and only compute node, partition `cpu`, slurmctld + slurmd. About a
# minute to install the packages, seconds to start. Idempotent: a cluster that already answers
# is reused, and a slurm.conf not written by this script is never overwritten. There is no
# accounting storage, so `sacct` does not work; busmtl asks `squeue` and the job logs instead.
#
# Exit codes: 0 the cluster answers (`sinfo` is printed); 3 it cannot be started here, with the
# reason on the last line of stderr (the SLURM test prints it as its skip reason).
set -u

PARTITION=cpu
MARK="# written by busmtl tools/local-slurm.sh"
CONF=/etc/slurm/slurm.conf
CTLD_PID=/run/slurmctld.pid
SLURMD_PID=/run/slurmd.pid

fail() { echo "local-slurm: $*" >&2; exit 3; }

answers() {  # the partition exists and has a node that can run jobs
    command -v sinfo >/dev/null 2>&1 || return 1
    sinfo -h -p "$PARTITION" -o "%a %t" 2>/dev/null | grep -Eq '^up (idle|mix|alloc)'
}

stop() {
    for pidfile in "$SLURMD_PID" "$CTLD_PID"; do
        if [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null; then
            echo "stopped $(basename "$pidfile" .pid)"
        fi
    done
}

case "${1:-start}" in
    status) answers && { sinfo; exit 0; }; fail "no SLURM partition '$PARTITION' answers" ;;
    stop) stop; exit 0 ;;
    start|--no-install) ;;
    *) fail "unknown argument '$1': use start, --no-install, status or stop" ;;
esac

if answers; then
    sinfo
    exit 0
fi
[ "$(id -u)" = 0 ] || fail "not root: a local SLURM cluster needs root (sudo $0), or use a real cluster"

if ! command -v slurmctld >/dev/null 2>&1; then
    [ "${1:-start}" = --no-install ] && fail "SLURM is not installed: run 'sudo $0' (installs slurm-wlm and munge, about a minute)"
    command -v apt-get >/dev/null 2>&1 || fail "no apt-get: install slurm-wlm and munge with this system's package manager"
    echo "installing slurm-wlm and munge (about a minute)"
    if ! { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >/dev/null; }; then
        fail "apt-get could not install slurm-wlm and munge (no network to the package mirrors?)"
    fi
fi

if [ -f "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
    fail "$CONF exists and was not written by this script: not touching a real cluster's configuration"
fi

# munge: the authentication daemon that slurmctld and slurmd share
mkdir -p /etc/munge /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge /etc/slurm
[ -f /etc/munge/munge.key ] || dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
chown -R munge:munge /etc/munge /run/munge
chmod 400 /etc/munge/munge.key
if ! munge -n >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged || fail "munged did not start"
fi

HOST=$(hostname -s)
CPUS=$(nproc)
MEM_MB=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 2048 ))
cat > "$CONF" <<CONF
$MARK
ClusterName=local
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
KillWait=10
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
MpiDefault=none
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
running "$CTLD_PID" || /usr/sbin/slurmctld || fail "slurmctld did not start (see /var/log/slurm/slurmctld.log)"
running "$SLURMD_PID" || /usr/sbin/slurmd || fail "slurmd did not start (see /var/log/slurm/slurmd.log)"
for _ in $(seq 1 30); do
    answers && { sinfo; exit 0; }
    sleep 1
done
tail -n 5 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 2>/dev/null
fail "the node did not become idle within 30 s (logs above)"
