#!/usr/bin/env bash
# Peers, side by side: analytics on one table against SQLite and DuckDB on this machine
# (issue #8's benchmark). Generates t(id INTEGER PRIMARY KEY, g 0..999, v 0..9999, d DOUBLE)
# with ROWS rows and a 500-row dimension dim(id INTEGER PRIMARY KEY, w, f) from a fixed seed,
# loads the same CSV files into
#   Rutile   a single-node durable cluster (LevelDB) through the SQL path: multi-row INSERTs
#            in explicit transactions (Percolator 2PC over Raft), by analytics_rutile;
#   SQLite   a sqlite3 database file (.import);
#   DuckDB   a database file through npm's @duckdb/node-api (installed at run time into the
#            scratch directory, or DUCKDB_DIR to reuse one), SET threads = 1;
# then runs each query RUNS times on each engine and takes the median. Prints load times,
# `TIME <engine> <query> <s>`, `RESULT` lines (first row, to eyeball agreement),
# `RATIO <query> <sqlite_time/rutile_time>` (target > 1.0) and
# `RATIO_DUCKDB <query> <duckdb_time/rutile_time>`. Rutile runs with its columnar cache
# of region data ON (analytics_rutile: 1 GiB, RUTILE_COLUMNAR_CACHE_MB=0 turns it off);
# the script says so (or that it is OFF) and prints `FIRST rutile <query> <s>`, each
# query's first (cold) run, which builds the cache, and `FIRST_CPU rutile <query> <s>`, that
# run's CPU seconds (the figure to trust on a loaded machine), besides the median.
#
# Usage (from the repository root):
#   bench/peers/analytics.sh
#   ROWS=200000 bench/peers/analytics.sh
# Environment: RUTILE_TOOL (default build/rel/bench/analytics_rutile), ROWS (5000000),
# RUNS (3), ENGINES ("rutile sqlite duckdb"), DUCKDB_DIR (a directory with
# node_modules/@duckdb/node-api already installed), KEEP=1 keeps the scratch directory,
# RUTILE_DIR (reuse a Rutile data directory loaded with the same ROWS: skips its load).
# Figures are noisy on a loaded machine: the script prints `uptime` before and after.
set -euo pipefail

RUTILE_TOOL=${RUTILE_TOOL:-build/rel/bench/analytics_rutile}
ROWS=${ROWS:-5000000}
RUNS=${RUNS:-3}
ENGINES=${ENGINES:-"rutile sqlite duckdb"}

log() { echo "analytics: $*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}
has() { [[ " $ENGINES " == *" $1 "* ]]; }

[ -x "$RUTILE_TOOL" ] || die "no analytics_rutile at $RUTILE_TOOL (ninja -C build/rel analytics_rutile)"
command -v python3 >/dev/null || die "python3 is needed to generate the data"
if has sqlite; then command -v sqlite3 >/dev/null || die "sqlite3 is not installed"; fi
if has duckdb; then command -v node >/dev/null || die "node is not installed"; fi

D=$(mktemp -d /tmp/rutile-analytics.XXXXXX)
cleanup() { if [ -z "${KEEP:-}" ]; then rm -rf "$D"; else log "kept $D"; fi; }
trap cleanup EXIT
uptime

# The queries, as NAME<TAB>SQL; the same text runs on every engine.
QUERIES="$D/queries.tsv"
cat >"$QUERIES" <<'EOF'
count_sum_avg	SELECT COUNT(*), SUM(v), AVG(d) FROM t
group_g_mod4	SELECT g % 4, COUNT(*), SUM(v) FROM t GROUP BY g % 4 ORDER BY 1
group_g	SELECT g, COUNT(*), SUM(v) FROM t GROUP BY g ORDER BY 1 LIMIT 1
group_v	SELECT v, COUNT(*), AVG(d) FROM t GROUP BY v ORDER BY 1 LIMIT 1
join_dim	SELECT COUNT(*), SUM(t.v + dim.w) FROM t JOIN dim ON t.g = dim.id
topn	SELECT id, v, d FROM t ORDER BY d DESC, id LIMIT 10
EOF

# 1. Data: the same CSV files for every engine (fixed seed).
log "generating $ROWS rows"
python3 - "$ROWS" "$D" <<'EOF'
import random, sys
rows, d = int(sys.argv[1]), sys.argv[2]
rnd = random.Random(20261122)
with open(f"{d}/t.csv", "w") as f:
    buf = []
    for i in range(1, rows + 1):
        buf.append(f"{i},{rnd.randrange(1000)},{rnd.randrange(10000)},{rnd.randrange(10**6) / 100}\n")
        if len(buf) == 100000:
            f.write("".join(buf)); buf = []
    f.write("".join(buf))
with open(f"{d}/dim.csv", "w") as f:
    for i in range(500):
        f.write(f"{i},{rnd.randrange(100)},{rnd.randrange(10**4) / 100}\n")
EOF

SCHEMA_T="CREATE TABLE t (id INTEGER PRIMARY KEY, g INTEGER NOT NULL, v INTEGER NOT NULL, d DOUBLE NOT NULL)"
SCHEMA_DIM="CREATE TABLE dim (id INTEGER PRIMARY KEY, w INTEGER NOT NULL, f DOUBLE NOT NULL)"
declare -A T

# 2. Rutile.
if has rutile; then
  RD=${RUTILE_DIR:-$D/rutile}
  if [ -n "${RUTILE_DIR:-}" ] && [ -e "$RUTILE_DIR/node1" ]; then
    log "rutile: reusing $RUTILE_DIR"
  else
    mkdir -p "$RD"
    "$RUTILE_TOOL" sql "$RD" "$SCHEMA_T" "$SCHEMA_DIM" >/dev/null
    log "rutile: loading"
    "$RUTILE_TOOL" load "$RD" t "$D/t.csv" | tee -a "$D/rutile.load"
    "$RUTILE_TOOL" load "$RD" dim "$D/dim.csv" | tee -a "$D/rutile.load"
    echo "LOAD rutile $(awk '{s += $4} END {printf "%.2f", s}' "$D/rutile.load")"
  fi
  got=$("$RUTILE_TOOL" sql "$RD" "SELECT COUNT(*) FROM t")
  [ "$got" = "$ROWS" ] || die "rutile holds $got rows of t, not $ROWS"
  args=()
  while IFS=$'\t' read -r name q; do args+=("$name" "$q"); done <"$QUERIES"
  "$RUTILE_TOOL" query "$RD" "$RUNS" "${args[@]}" >"$D/rutile.out"
  while read -r kind name rest; do
    if [ "$kind" = TIME ]; then
      T[rutile,$name]=$rest
      echo "TIME rutile $name $rest"
    elif [ "$kind" = CPU ]; then
      echo "CPU rutile $name $rest"
    elif [ "$kind" = FIRST ]; then
      if [ "${RUTILE_COLUMNAR_CACHE_MB:-1024}" = 0 ]; then
        echo "FIRST rutile $name $rest (cold run)"
      else
        echo "FIRST rutile $name $rest (cold run: builds the columnar cache)"
      fi
    elif [ "$kind" = COLUMNAR_CACHE ]; then
      # `COLUMNAR_CACHE <MiB> MiB`: 0 is off.
      if [ "$name" = 0 ]; then
        echo "NOTE rutile runs with its columnar cache OFF (RUTILE_COLUMNAR_CACHE_MB=0): every run reads rows"
      else
        echo "NOTE rutile runs with its columnar cache ON ($name $rest; RUTILE_COLUMNAR_CACHE_MB=0 turns it off)"
      fi
    elif [ "$kind" = FIRST_CPU ]; then
      echo "FIRST_CPU rutile $name $rest"
    else
      echo "RESULT rutile $name $rest"
    fi
  done <"$D/rutile.out"
fi

# 3. SQLite.
if has sqlite; then
  SF="$D/sqlite.db"
  t0=$(date +%s.%N)
  sqlite3 "$SF" <<EOF
$SCHEMA_T;
$SCHEMA_DIM;
.mode csv
.import $D/t.csv t
.import $D/dim.csv dim
EOF
  t1=$(date +%s.%N)
  echo "LOAD sqlite $(echo "$t1 - $t0" | bc)"
  while IFS=$'\t' read -r name q; do
    times=()
    first=""
    for ((i = 0; i < RUNS; i++)); do
      out=$(printf '.timer on\n%s;\n' "$q" | sqlite3 -separator '|' "$SF")
      times+=("$(echo "$out" | sed -n 's/^Run Time: real \([0-9.]*\).*/\1/p')")
      first=$(echo "$out" | grep -v '^Run Time' | head -1)
    done
    med=$(printf '%s\n' "${times[@]}" | sort -g | sed -n "$((RUNS / 2 + 1))p")
    T[sqlite,$name]=$med
    echo "TIME sqlite $name $med"
    echo "RESULT sqlite $name $first"
  done <"$QUERIES"
fi

# 4. DuckDB (one thread).
if has duckdb; then
  DDIR=${DUCKDB_DIR:-$D/duckdb-npm}
  if [ ! -d "$DDIR/node_modules/@duckdb/node-api" ]; then
    log "duckdb: npm install @duckdb/node-api into $DDIR"
    mkdir -p "$DDIR"
    (cd "$DDIR" && npm init -y >/dev/null && npm install --no-audit --no-fund @duckdb/node-api >/dev/null) ||
      die "npm install @duckdb/node-api failed"
  fi
  cat >"$DDIR/analytics.mjs" <<'EOF'
import { DuckDBInstance } from '@duckdb/node-api';
import { readFileSync } from 'node:fs';
const [dir, runs, schemaT, schemaDim] = process.argv.slice(2);
const inst = await DuckDBInstance.create(`${dir}/duck.db`, { threads: '1' });
const c = await inst.connect();
let t0 = performance.now();
await c.run(schemaT);
await c.run(schemaDim);
await c.run(`INSERT INTO t SELECT * FROM read_csv('${dir}/t.csv', header = false)`);
await c.run(`INSERT INTO dim SELECT * FROM read_csv('${dir}/dim.csv', header = false)`);
await c.run('CHECKPOINT');
console.log(`LOAD duckdb ${((performance.now() - t0) / 1000).toFixed(3)}`);
for (const line of readFileSync(`${dir}/queries.tsv`, 'utf8').split('\n')) {
  if (!line) continue;
  const [name, q] = line.split('\t');
  const times = [];
  let first = '';
  for (let i = 0; i < Number(runs); i++) {
    t0 = performance.now();
    const r = await c.runAndReadAll(q);
    times.push((performance.now() - t0) / 1000);
    first = (r.getRows()[0] || []).map(String).join('|');
  }
  times.sort((a, b) => a - b);
  console.log(`TIME duckdb ${name} ${times[Math.floor(times.length / 2)].toFixed(4)}`);
  console.log(`RESULT duckdb ${name} ${first}`);
}
EOF
  (cd "$DDIR" && node analytics.mjs "$D" "$RUNS" "$SCHEMA_T" "$SCHEMA_DIM") >"$D/duckdb.out"
  cat "$D/duckdb.out"
  while read -r kind eng name rest; do
    if [ "$kind" = TIME ]; then T[duckdb,$name]=$rest; fi
  done < <(grep '^TIME' "$D/duckdb.out")
fi

# 5. Ratios.
while IFS=$'\t' read -r name q; do
  r=${T[rutile,$name]:-}
  [ -n "$r" ] || continue
  if [ -n "${T[sqlite,$name]:-}" ]; then
    echo "RATIO $name $(python3 -c "print(f'{${T[sqlite,$name]} / max($r, 1e-6):.3f}')")"
  fi
  if [ -n "${T[duckdb,$name]:-}" ]; then
    echo "RATIO_DUCKDB $name $(python3 -c "print(f'{${T[duckdb,$name]} / max($r, 1e-6):.3f}')")"
  fi
done <"$QUERIES"
uptime
