#!/usr/bin/env bash
# SLURM smoke test: a real single-node SLURM (Debian's slurm-wlm, munge, slurmdbd accounting on a private
# MariaDB: submitit asks `sacct` for job states) on 127.0.0.1, and a 4-run checkpointed sweep through
# launcher=slurm in which one job is cancelled (scancel), one requeued (scontrol requeue) and one preempted
# (USR2, what SLURM sends before a time limit or a preemption). Then the same sweep again. Checks: the
# first sweep waits for every job, tallies the cancelled run as failed (CANCELLED) and exits 1; the
# requeued and preempted runs resume from their checkpoints; the second sweep finishes the cancelled run
# and skips the others; every run completed exactly once, with every step 1..max_steps logged exactly once.
#
#   sudo bash scripts/slurm_smoke.sh        # as root: installs packages, starts daemons (about 2 minutes)
#
# Installs what is missing with apt-get (services are kept from starting while it does), runs every daemon
# from a temporary directory on free 127.0.0.1 ports, bounds every wait, and stops every daemon it started
# on exit. NORMBENCH_PYTHON: the interpreter (default .venv/bin/python); NORMBENCH_SMOKE_KEEP=1 keeps the
# temporary directory (kept anyway when a check fails). Exit status 0 only if every check passed.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PY=${NORMBENCH_PYTHON:-$REPO/.venv/bin/python}
STEPS=3000  # per run; ~15 s on 2 cores with 4 runs at once, enough to act on each run mid-way
PACKAGES=(munge slurmctld slurmd slurm-client slurmdbd mariadb-server)
START=$SECONDS

say() { printf 'slurm_smoke: %s\n' "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }

# wait_for SECONDS WHAT COMMAND...: poll COMMAND every 0.2 s until it succeeds; fail after SECONDS.
wait_for() {
  local limit=$1 what=$2 deadline=$((SECONDS + $1))
  shift 2
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || die "$what: not within ${limit}s"
    sleep 0.2
  done
}

[ "$(id -u)" -eq 0 ] || die "run as root: it installs packages and starts SLURM's daemons"
command -v apt-get >/dev/null || die "needs apt-get (Debian's slurm-wlm packages)"
[ -x "$PY" ] || die "no python at $PY (bash scripts/setup.sh, or set NORMBENCH_PYTHON)"

W=$(mktemp -d /tmp/normbench-slurm-smoke.XXXXXX)
chmod 755 "$W"
POLICY_RC_CREATED=0
SWEEP_PID=""
STOP_ORDER=(slurmd slurmctld slurmdbd mariadbd munged)

stop_pidfile() {  # stop_pidfile NAME: TERM, up to 10 s, then KILL the daemon whose pid is in $W/NAME.pid
  local pid
  pid=$(cat "$W/$1.pid" 2>/dev/null) || return 0
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill "$pid" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
  say "$1 (pid $pid) ignored TERM: killing it"
  kill -9 "$pid" 2>/dev/null || true
}

cleanup() {
  local status=$?
  set +e
  if [ -n "$SWEEP_PID" ] && kill -0 "$SWEEP_PID" 2>/dev/null; then
    kill "$SWEEP_PID" 2>/dev/null
    wait "$SWEEP_PID" 2>/dev/null
  fi
  if [ -f "$W/slurmctld.pid" ] && kill -0 "$(cat "$W/slurmctld.pid")" 2>/dev/null; then
    scancel --user=root --full 2>/dev/null  # this private cluster's jobs: its job steps end before slurmd does
    for _ in $(seq 75); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.2; done
  fi
  for daemon in "${STOP_ORDER[@]}"; do stop_pidfile "$daemon"; done
  [ "$POLICY_RC_CREATED" = 1 ] && rm -f /usr/sbin/policy-rc.d
  if [ "$status" -eq 0 ] && [ -z "${NORMBENCH_SMOKE_KEEP:-}" ]; then
    rm -rf "$W"
  else
    say "kept $W (logs in $W/log, sweeps' output in $W/sweep-*.log)"
  fi
  say "$([ "$status" -eq 0 ] && echo passed || echo "failed (exit $status)") in $((SECONDS - START)) s"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- packages ------------------------------------------------------------------------------------------
missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]}"
  if [ ! -e /usr/sbin/policy-rc.d ]; then  # keep the packages' system services from starting
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    POLICY_RC_CREATED=1
  fi
  timeout 300 apt-get update -qq || die "apt-get update"
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    > "$W/apt.log" 2>&1 || { tail -20 "$W/apt.log" >&2; die "apt-get install ${missing[*]}"; }
  [ "$POLICY_RC_CREATED" = 1 ] && rm -f /usr/sbin/policy-rc.d && POLICY_RC_CREATED=0
fi
say "packages ready after $((SECONDS - START)) s"

# --- daemons, all from $W, on 127.0.0.1 --------------------------------------------------------------
mkdir -p "$W/etc" "$W/log" "$W/state" "$W/spool" "$W/munge"
chmod 711 "$W/munge"
read -r CTLD_PORT SLURMD_PORT DBD_PORT DB_PORT < <("$PY" -c '
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))')
NODE=$(hostname -s)
MUNGE_SOCKET=$W/munge/munge.socket
export SLURM_CONF=$W/etc/slurm.conf

head -c 1024 /dev/urandom > "$W/munge/munge.key"
chmod 400 "$W/munge/munge.key"
munged --force --socket="$MUNGE_SOCKET" --key-file="$W/munge/munge.key" --pid-file="$W/munged.pid" \
  --log-file="$W/log/munged.log" --seed-file="$W/munge/munged.seed" --origin=127.0.0.1
munge_works() { munge -S "$MUNGE_SOCKET" -n | unmunge -S "$MUNGE_SOCKET"; }
wait_for 20 "munged answering" munge_works

timeout 120 mariadb-install-db --no-defaults --datadir="$W/db" --user=root --skip-test-db \
  > "$W/log/mariadb-install.log" 2>&1 || die "mariadb-install-db (see $W/log/mariadb-install.log)"
setsid mariadbd --no-defaults --datadir="$W/db" --user=root --socket="$W/mariadb.sock" --port="$DB_PORT" \
  --bind-address=127.0.0.1 --skip-name-resolve --pid-file="$W/mariadbd.pid" --log-error="$W/log/mariadb.log" \
  --skip-log-bin --innodb-buffer-pool-size=32M < /dev/null > /dev/null 2>&1 &
wait_for 60 "mariadbd answering" mariadb --no-defaults --socket="$W/mariadb.sock" -u root -e "SELECT 1"
mariadb --no-defaults --socket="$W/mariadb.sock" -u root -e \
  "CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY 'smoke'; GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"

cat > "$W/etc/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$DBD_PORT
SlurmUser=root
PidFile=$W/slurmdbd.pid
LogFile=$W/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=smoke
StorageLoc=slurm_acct_db
EOF
chmod 600 "$W/etc/slurmdbd.conf"

# CPUs=4 on any machine (config_overrides): the four runs of the sweep run at once.
# cred_expire=10: a requeued job waits cred_expire + 1 s before it may start again (120 s by default).
# KillWait=5: submitit ignores SIGTERM, so scancel and scontrol requeue take effect after KillWait.
cat > "$SLURM_CONF" <<EOF
ClusterName=nbsmoke
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
AuthType=auth/munge
AuthInfo=cred_expire=10,socket=$MUNGE_SOCKET
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$W/state
SlurmdSpoolDir=$W/spool
SlurmctldPidFile=$W/slurmctld.pid
SlurmdPidFile=$W/slurmd.pid
SlurmctldLogFile=$W/log/slurmctld.log
SlurmdLogFile=$W/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
KillWait=5
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,bf_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$DBD_PORT
AccountingStoragePass=$MUNGE_SOCKET
NodeName=$NODE NodeAddr=127.0.0.1 NodeHostname=$NODE CPUs=4 State=UNKNOWN
PartitionName=smoke Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF

slurmdbd
wait_for 60 "slurmdbd answering" sacctmgr -i list cluster
sacctmgr -i add cluster nbsmoke > /dev/null
slurmctld -i
slurmd -N "$NODE"
node_idle() { [ "$(sinfo -h -n "$NODE" -o %T)" = idle ]; }
wait_for 60 "node $NODE idle" node_idle
say "SLURM up after $((SECONDS - START)) s: $(sinfo -h -o '%P %D %T %c')"

# --- the sweep -----------------------------------------------------------------------------------------
mkdir -p "$W/conf/experiment"
cat > "$W/conf/experiment/smoke.yaml" <<EOF
# @package _global_
experiment: smoke
batch_size: 100
data:
  num_train: 200
  num_test: 100
trainer:
  max_steps: $STEPS
  eval_interval: 50  # = checkpoint_interval: see below
  log_interval: 50
hydra:
  sweeper:
    params:
      seed: 0,1,2,3
EOF
RESULTS=$W/results
STUDY=$RESULTS/smoke
# checkpoint_interval on the command line: the launcher preset's own (250) comes after the study's.
# Checkpoints at evaluations only, as with the preset's defaults (250 and 250): metrics.csv rows are written
# at evaluations, so a SIGKILL after a checkpoint taken between two evaluations loses the rows since the
# last evaluation for good (a known normbench/engine bug: tests/sweeps/test_sweep_resume.py, xfail).
SWEEP=(env PYTHONPATH="$REPO" "$PY" -m normbench.cli.main train -m --config-dir "$W/conf" experiment=smoke
       launcher=slurm data=synthetic "results_dir=$RESULTS" trainer.checkpoint_interval=50
       hydra.launcher.cpus_per_task=1 hydra.launcher.mem_gb=null)

run_dir() { printf '%s/mlp_batch_synthetic_bs100_adam-lr0.01_s%s' "$STUDY" "$1"; }
# checkpoint.json: the sidecar written after checkpoint.pt, which makes the checkpoint one a run resumes from
mid_run() { [ -f "$(run_dir "$1")/checkpoint.json" ] && [ ! -f "$(run_dir "$1")/summary.json" ]; }
checkpoint_step() { grep -o '"step": *[0-9]*' "$(run_dir "$1")/checkpoint.json" 2>/dev/null | grep -o '[0-9]*$'; }

sweep() {  # sweep N: start the sweep in the background, its output into $W/sweep-N.log
  (cd "$W" && exec "${SWEEP[@]}") > "$W/sweep-$1.log" 2>&1 &
  SWEEP_PID=$!
}
finish_sweep() {  # finish_sweep N LIMIT: wait for it, at most LIMIT s; sets SWEEP_STATUS
  local deadline=$((SECONDS + $2))
  while kill -0 "$SWEEP_PID" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || { tail -30 "$W/sweep-$1.log" >&2; die "sweep $1 still running after $2 s"; }
    sleep 0.5
  done
  SWEEP_STATUS=0
  wait "$SWEEP_PID" || SWEEP_STATUS=$?
  SWEEP_PID=""
  say "sweep $1 ended with exit status $SWEEP_STATUS after $((SECONDS - START)) s"
}
expect_in() {  # expect_in FILE TEXT WHY
  grep -qF -- "$2" "$1" || { tail -30 "$1" >&2; die "$3: no '$2' in $1"; }
}

say "sweep 1: 4 runs of $STEPS steps; cancelling task 0, requeueing task 1, sending USR2 to task 2"
sweep 1
array_queued() { [ -n "$(squeue -h -o %F)" ]; }
wait_for 120 "the sweep's array job in the queue" array_queued
ARRAY=$(squeue -h -o %F | sort -u | head -1)
acted=()
deadline=$((SECONDS + 120))
while [ "${#acted[@]}" -lt 3 ]; do
  [ "$SECONDS" -lt "$deadline" ] || die "runs 0-2 did not all checkpoint mid-run within 120 s (acted on: ${acted[*]})"
  kill -0 "$SWEEP_PID" 2>/dev/null || { tail -30 "$W/sweep-1.log" >&2; die "sweep 1 ended early"; }
  for task in 0 1 2; do
    [[ " ${acted[*]} " == *" $task "* ]] && continue
    mid_run "$task" || continue
    case $task in
      0) action=(scancel "${ARRAY}_0") ;;
      1) action=(scontrol requeue "${ARRAY}_1") ;;
      2) action=(scancel --signal=USR2 "${ARRAY}_2") ;;
    esac
    "${action[@]}"
    say "${action[*]} (its run has a checkpoint at step $(checkpoint_step "$task"))"
    acted+=("$task")
  done
  sleep 0.2
done
finish_sweep 1 300
[ "$SWEEP_STATUS" -eq 1 ] || die "sweep 1 exited $SWEEP_STATUS, expected 1 (a cancelled run is a failed run)"
expect_in "$W/sweep-1.log" "sweep: 4/4 runs done" "progress lines on the submitting terminal"
expect_in "$W/sweep-1.log" "  completed      3" "sweep 1's tally"
expect_in "$W/sweep-1.log" "  failed         1" "sweep 1's tally"
expect_in "$W/sweep-1.log" "failed: $(basename "$(run_dir 0)"): CANCELLED" "the cancelled run's reason"
if grep -q "UncompletedJobError" "$W/sweep-1.log"; then die "sweep 1 raised UncompletedJobError"; fi
expect_in "$STUDY/.submitit/${ARRAY}_2/${ARRAY}_2_0_log.err" "Caught signal SIGUSR2" "task 2's USR2"
[ -z "$(squeue -h)" ] || die "jobs still queued after sweep 1 ended: $(squeue -h)"

say "sweep 2: the same command"
sweep 2
finish_sweep 2 300
[ "$SWEEP_STATUS" -eq 0 ] || { tail -30 "$W/sweep-2.log" >&2; die "sweep 2 exited $SWEEP_STATUS, expected 0"; }
expect_in "$W/sweep-2.log" "  completed      1" "sweep 2's tally"
expect_in "$W/sweep-2.log" "  skipped        3" "sweep 2's tally"

"$PY" - "$STUDY" "$STEPS" <<'EOF' || die "run checks"
import collections, json, sys
from pathlib import Path

import pandas as pd

study, steps = Path(sys.argv[1]), int(sys.argv[2])
runs = {f"mlp_batch_synthetic_bs100_adam-lr0.01_s{seed}": seed for seed in range(4)}
problems = []
assert sorted(p.name for p in study.iterdir() if p.is_dir() and not p.name.startswith(".")) == sorted(runs)
for name, seed in runs.items():
    run = study / name
    summary = json.loads((run / "summary.json").read_text())
    if summary["status"] != "completed" or summary["steps"] != steps:
        problems.append(f"{name}: status {summary['status']}, {summary['steps']} steps")
    resumed = summary.get("resumed_from_step")
    if (resumed is None) != (seed == 3):  # 0 cancelled, 1 requeued, 2 preempted: resumed; 3 untouched
        problems.append(f"{name}: resumed_from_step {resumed}")
    frame = pd.read_csv(run / "metrics.csv")
    duplicated = frame.duplicated(["step", "split", "metric"]).sum()
    train = frame.query("split == 'train' and metric == 'loss'").step.tolist()
    if duplicated or train != list(range(1, steps + 1)):
        problems.append(f"{name}: {duplicated} duplicated rows; train loss at {len(train)} steps, "
                        f"{len(set(train))} distinct, want 1..{steps} once each")
    if (run / "checkpoint.pt").exists():
        problems.append(f"{name}: checkpoint.pt left behind")
# The sweeps' ledgers: each run completed exactly once over both sweeps.
ledgers = sorted((study / ".sweeps").iterdir())
records = [json.loads(p.read_text()) for ledger in ledgers for p in sorted(ledger.glob("job-*.json"))]
statuses = collections.defaultdict(list)
for record in records:
    statuses[record["run"]].append(record["status"])
expected = {name: (["failed", "completed"] if seed == 0 else ["completed", "skipped"]) for name, seed in runs.items()}
if len(ledgers) != 2 or dict(statuses) != expected:
    problems.append(f"ledgers: {len(ledgers)} sweeps, statuses {dict(statuses)}, want {expected}")
for problem in problems:
    print(f"slurm_smoke: check failed: {problem}", file=sys.stderr)
if not problems:
    print(f"slurm_smoke: 4 runs, each completed once, every step 1..{steps} logged once", file=sys.stderr)
sys.exit(1 if problems else 0)
EOF
say "SLURM states: $(sacct -n -X -j "$ARRAY" -o JobID,State --parsable2 | tr '\n' ' ')"
