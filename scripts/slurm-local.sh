#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, to try and test pgexp's SLURM path (Debian/Ubuntu,
# as root).
#   scripts/slurm-local.sh start    install slurm and munge if needed (apt), write a one-node
#                                   /etc/slurm/slurm.conf, start munged, slurmctld and slurmd
#   scripts/slurm-local.sh stop     cancel the cluster's jobs, then stop the daemons this script
#                                   started (by their process ids)
#   scripts/slurm-local.sh status   what runs, and sinfo
# Both start and stop can be run again: start leaves a running cluster as it is, stop does
# nothing when nothing it started runs. State lives in $SLURM_LOCAL_DIR (/tmp/pgexp-slurm).
set -euo pipefail

DIR=${SLURM_LOCAL_DIR:-/tmp/pgexp-slurm}
CONF=/etc/slurm/slurm.conf
MARK="# written by pgexp scripts/slurm-local.sh"
DAEMONS=(munged slurmctld slurmd)

running() {  # running NAME: the pid this script recorded for NAME is alive and is NAME
    local pidfile="$DIR/$1.pid"
    [[ -f $pidfile ]] || return 1
    local pid
    pid=$(cat "$pidfile")
    [[ -n $pid && -d /proc/$pid ]] && grep -q "$1" "/proc/$pid/comm" 2>/dev/null &&
        [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]]  # an exited, unreaped one
}

install() {
    command -v slurmctld >/dev/null && command -v munged >/dev/null && return
    [[ $(id -u) == 0 ]] || { echo "slurm-local: root is needed to install slurm" >&2; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        slurmctld slurmd slurm-client munge >/dev/null
}

configure() {
    if [[ -f $CONF ]] && ! grep -q "^$MARK" "$CONF"; then
        echo "slurm-local: $CONF exists and is not ours: not touching it" >&2
        exit 1
    fi
    mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"
    local host cpus mem
    host=$(hostname -s)
    cpus=$(nproc)
    mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
    cat > "$CONF" <<CONF
$MARK
ClusterName=pgexp-local
SlurmctldHost=$host
SlurmUser=root
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
ReturnToService=2
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SchedulerType=sched/backfill
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
}

start() {
    install
    configure
    if ! running munged; then
        mkdir -p /run/munge && chown munge:munge /run/munge
        runuser -u munge -- /usr/sbin/munged --force
        for _ in $(seq 1 20); do [[ -s /run/munge/munged.pid ]] && break; sleep 0.25; done
        cp /run/munge/munged.pid "$DIR/munged.pid"
    fi
    running slurmctld || /usr/sbin/slurmctld -f "$CONF"
    running slurmd || /usr/sbin/slurmd -f "$CONF"
    for _ in $(seq 1 60); do
        if sinfo -h -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
            sinfo
            return
        fi
        sleep 1
    done
    echo "slurm-local: the node did not become idle; see $DIR/log" >&2
    exit 1
}

cancel_jobs() {  # a job left running would outlive the daemons (its slurmstepd keeps going)
    running slurmctld || return 0
    local jobs
    jobs=$(squeue -h -o %A 2>/dev/null || true)
    [[ -n $jobs ]] || return 0
    # shellcheck disable=SC2086
    scancel $jobs || true
    for _ in $(seq 1 40); do
        [[ -z $(squeue -h -o %A 2>/dev/null) ]] && ! pgrep -x slurmstepd >/dev/null && return 0
        sleep 0.25
    done
    echo "slurm-local: jobs still ending after 10 s: $(squeue -h -o %A | tr '\n' ' ')" >&2
}

stop() {
    cancel_jobs
    for name in slurmd slurmctld munged; do
        if running "$name"; then
            kill "$(cat "$DIR/$name.pid")"
            for _ in $(seq 1 40); do running "$name" || break; sleep 0.25; done
        fi
        rm -f "$DIR/$name.pid"
    done
}

status() {
    for name in "${DAEMONS[@]}"; do
        if running "$name"; then echo "$name: running ($(cat "$DIR/$name.pid"))"; else echo "$name: stopped"; fi
    done
    sinfo 2>/dev/null || true
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
