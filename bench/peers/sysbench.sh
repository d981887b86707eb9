#!/usr/bin/env bash
# Peers, side by side: the same sysbench OLTP workloads against MariaDB (started by hand, as
# ../shared/VERIFY.md shows: scratch datadir, port 3307, no systemd) and against rutile-server
# (its default embedded 3-node cluster, durable LevelDB on a scratch --data-dir, every write
# replicated three ways by Raft). Both servers get the identical sysbench command lines:
# prepare (1 table x TABLE_SIZE rows), then oltp_point_select, oltp_read_only,
# oltp_read_write and oltp_insert, each THREADS threads for TIME seconds, --rand-type=uniform.
# Prints each workload's QPS for both servers and `RATIO <workload> <rutile_qps/mariadb_qps>`
# (targets: point_select >= 0.5, read_write >= 0.3). A workload that aborts (any sysbench
# error other than the ones sysbench retries itself: 1213, 1020, 1205) is reported as
# ABORTED with sysbench's error lines, and the script exits non-zero at the end.
#
# Usage (as root, from the repository root):
#   bench/peers/sysbench.sh
#   RUTILE_SERVER=build/rel/examples/rutile-server TABLE_SIZE=10000 TIME=5 bench/peers/sysbench.sh
# Environment: RUTILE_SERVER (default build/examples/rutile-server), TABLE_SIZE (100000),
# TIME (20), THREADS (4), MARIADB_PORT (3307), WORKLOADS (space-separated list),
# KEEP=1 keeps the scratch directory (logs, sysbench outputs) for inspection.
# Figures are noisy on a loaded machine: the script prints `uptime` before and after.
set -euo pipefail

RUTILE_SERVER=${RUTILE_SERVER:-build/examples/rutile-server}
TABLE_SIZE=${TABLE_SIZE:-100000}
TIME=${TIME:-20}
THREADS=${THREADS:-4}
MARIADB_PORT=${MARIADB_PORT:-3307}
WORKLOADS=${WORKLOADS:-"oltp_point_select oltp_read_only oltp_read_write oltp_insert"}

log() { echo "peers: $*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

[ -x "$RUTILE_SERVER" ] || die "no rutile-server at $RUTILE_SERVER (build it, or set RUTILE_SERVER)"

# 1. Packages: install only what is missing (Debian 12).
missing=()
for p in mariadb-server mariadb-client sysbench; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
  $SUDO apt-get update -qq
  # No init system here: installing mariadb-server must not try to start a service.
  # policy-rc.d denies it; one that already exists is left as it is.
  own_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null || {
    [ -z "$own_policy" ] || $SUDO rm -f /usr/sbin/policy-rc.d
    die "apt-get install ${missing[*]} failed"
  }
  [ -z "$own_policy" ] || $SUDO rm -f /usr/sbin/policy-rc.d
fi

D=$(mktemp -d /tmp/rutile-peers.XXXXXX)
MARIADB_PID=""
RUTILE_PID=""

# True while $1 runs (a child that exited but is not yet reaped is a zombie: not running).
alive() {
  local st
  st=$(ps -o stat= -p "$1" 2>/dev/null || true)
  [ -n "$st" ] && [ "${st:0:1}" != Z ]
}

# Stops one server by its saved pid: SIGTERM, then up to 60 s for it to exit, then SIGKILL.
stop_pid() {
  local name=$1 pid=$2
  [ -n "$pid" ] || return 0
  if ! alive "$pid"; then
    wait "$pid" 2>/dev/null || true
    return 0
  fi
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 600); do
    if ! alive "$pid"; then
      wait "$pid" 2>/dev/null || true
      return 0
    fi
    sleep 0.1
  done
  log "$name (pid $pid) did not exit within 60 s of SIGTERM; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  stop_pid rutile-server "$RUTILE_PID"
  RUTILE_PID=""
  stop_pid mariadbd "$MARIADB_PID"
  MARIADB_PID=""
  if [ "${KEEP:-0}" = 1 ]; then
    log "kept $D"
  else
    rm -rf "$D"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Waits until a MySQL-protocol server on 127.0.0.1:$1 answers `SELECT 1` as root.
wait_sql() {
  local port=$1 pid=$2 name=$3
  for _ in $(seq 1200); do
    if mariadb --no-defaults -h127.0.0.1 -P"$port" -uroot -e 'SELECT 1' >/dev/null 2>&1; then
      return 0
    fi
    alive "$pid" || die "$name exited before accepting connections"
    sleep 0.1
  done
  die "$name did not accept connections on port $port within 120 s"
}

# 2. MariaDB, by hand, as VERIFY.md shows.
start_mariadb() {
  mkdir -p "$D/maria"
  mariadb-install-db --no-defaults --user=root --datadir="$D/maria/data" \
    --auth-root-authentication-method=normal --skip-test-db >"$D/maria/install.log" 2>&1 ||
    die "mariadb-install-db failed: $(tail -5 "$D/maria/install.log")"
  /usr/sbin/mariadbd --no-defaults --user=root --datadir="$D/maria/data" --port="$MARIADB_PORT" \
    --bind-address=127.0.0.1 --socket="$D/maria/s.sock" --pid-file="$D/maria/pid" \
    --log-error="$D/maria/err" --innodb-buffer-pool-size=1G &
  MARIADB_PID=$!
  wait_sql "$MARIADB_PORT" "$MARIADB_PID" mariadbd
  log "mariadbd $(mariadb --no-defaults -h127.0.0.1 -P"$MARIADB_PORT" -uroot -N -e 'SELECT VERSION()') up on port $MARIADB_PORT (pid $MARIADB_PID)"
}

# 3. rutile-server: default 3-node durable cluster on a scratch data dir, ephemeral ports
# (port 0: the server binds a free port and prints it; no race with another process).
RUTILE_PORT=""
start_rutile() {
  mkdir -p "$D/rutile"
  # Created here, not by the background job's redirection, which may not have run yet
  # when the loop below first reads it.
  : >"$D/rutile/out.log"
  "$RUTILE_SERVER" --host 127.0.0.1 --port 0 --status-port 0 --data-dir "$D/rutile/data" \
    >"$D/rutile/out.log" 2>&1 &
  RUTILE_PID=$!

  for _ in $(seq 1200); do
    RUTILE_PORT=$(sed -n 's/.*SQL over the MySQL protocol on [0-9.]*:\([0-9]*\),.*/\1/p' \
      "$D/rutile/out.log" | head -1)
    [ -n "$RUTILE_PORT" ] && break
    alive "$RUTILE_PID" ||
      die "rutile-server exited at start: $(tail -5 "$D/rutile/out.log")"
    sleep 0.1
  done
  [ -n "$RUTILE_PORT" ] || die "rutile-server printed no port within 120 s"
  wait_sql "$RUTILE_PORT" "$RUTILE_PID" rutile-server
  log "rutile-server ($RUTILE_SERVER) up on port $RUTILE_PORT (pid $RUTILE_PID), data under $D/rutile/data"
}

# 4. The identical sysbench command lines against one server ($1 = name, $2 = port).
declare -A QPS TPS STATUS
ABORTED=0
run_sysbench() {
  local name=$1 port=$2 out w
  mariadb --no-defaults -h127.0.0.1 -P"$port" -uroot -e 'CREATE DATABASE IF NOT EXISTS sbtest' ||
    die "$name: CREATE DATABASE sbtest failed"
  local C=(--db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$port" --mysql-user=root
    --mysql-password= --mysql-db=sbtest --tables=1 --table-size="$TABLE_SIZE")
  out="$D/$name.prepare.out"
  log "$name: prepare (1 table x $TABLE_SIZE rows)"
  local t0=$SECONDS
  if ! sysbench oltp_common "${C[@]}" prepare >"$out" 2>&1; then
    log "$name: PREPARE ABORTED; sysbench said:"
    grep -E 'FATAL|ERROR|error' "$out" | head -10 >&2 || tail -10 "$out" >&2
    for w in $WORKLOADS; do STATUS[$name.$w]="ABORTED(prepare)"; done
    ABORTED=1
    return 0
  fi
  local rows
  rows=$(mariadb --no-defaults -h127.0.0.1 -P"$port" -uroot -N -e 'SELECT COUNT(*) FROM sbtest.sbtest1' 2>&1) ||
    true
  log "$name: prepared in $((SECONDS - t0)) s; SELECT COUNT(*) FROM sbtest1 = $rows"
  if [ "$rows" != "$TABLE_SIZE" ]; then
    log "$name: PREPARE WRONG: expected $TABLE_SIZE rows, got: $rows"
    for w in $WORKLOADS; do STATUS[$name.$w]="ABORTED(prepare: $rows rows)"; done
    ABORTED=1
    return 0
  fi
  log "$name: each workload runs: sysbench <workload> ${C[*]} --threads=$THREADS --time=$TIME --rand-type=uniform --report-interval=0 run"
  for w in $WORKLOADS; do
    out="$D/$name.$w.out"
    log "$name: $w, $THREADS threads, $TIME s"
    if sysbench "$w" "${C[@]}" --threads="$THREADS" --time="$TIME" --rand-type=uniform \
      --report-interval=0 run >"$out" 2>&1; then
      QPS[$name.$w]=$(sed -n 's/.*queries: *[0-9]* *(\([0-9.]*\) per sec.).*/\1/p' "$out" | head -1)
      TPS[$name.$w]=$(sed -n 's/.*transactions: *[0-9]* *(\([0-9.]*\) per sec.).*/\1/p' "$out" | head -1)
      local ign
      ign=$(sed -n 's/.*ignored errors: *\([0-9]*\) .*/\1/p' "$out" | head -1)
      STATUS[$name.$w]="ok, ${ign:-?} retried"
    else
      STATUS[$name.$w]=ABORTED
      ABORTED=1
      log "$name: $w ABORTED; sysbench said:"
      grep -E 'FATAL|ERROR|error' "$out" | head -10 >&2 || tail -10 "$out" >&2
    fi
  done
}

log "load before: $(uptime)"
start_mariadb
run_sysbench mariadb "$MARIADB_PORT"
stop_pid mariadbd "$MARIADB_PID"
MARIADB_PID=""

start_rutile
run_sysbench rutile "$RUTILE_PORT"
stop_pid rutile-server "$RUTILE_PID"
RUTILE_PID=""
log "load after: $(uptime)"

# 6. Results.
echo
echo "sysbench: 1 table x $TABLE_SIZE rows, $THREADS threads, $TIME s, --rand-type=uniform"
printf '%-18s %11s %11s %10s %10s  %-16s %s\n' workload mariadb_qps rutile_qps mariadb_tps \
  rutile_tps mariadb_status rutile_status
for w in $WORKLOADS; do
  printf '%-18s %11s %11s %10s %10s  %-16s %s\n' "$w" "${QPS[mariadb.$w]:--}" \
    "${QPS[rutile.$w]:--}" "${TPS[mariadb.$w]:--}" "${TPS[rutile.$w]:--}" \
    "${STATUS[mariadb.$w]:-not run}" "${STATUS[rutile.$w]:-not run}"
done
for w in $WORKLOADS; do
  short=${w#oltp_}
  m=${QPS[mariadb.$w]:-}
  r=${QPS[rutile.$w]:-}
  if [ -n "$m" ] && [ -n "$r" ]; then
    echo "RATIO $short $(awk -v r="$r" -v m="$m" 'BEGIN { printf "%.3f", (m > 0 ? r / m : 0) }')"
  else
    echo "RATIO $short ABORTED (mariadb: ${STATUS[mariadb.$w]:-not run}, rutile: ${STATUS[rutile.$w]:-not run})"
  fi
done
echo "load: $(uptime)"
[ "$ABORTED" = 0 ] || die "at least one run aborted (see above)"
