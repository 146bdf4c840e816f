#!/usr/bin/env bash
# bench/stats_overhead.sh: the cost of nutragenie_fdw.remote_stats per
# document, in instructions (valgrind --tool=callgrind), on a test/stack
# stack (PostgreSQL 15 + FerretDB 1.24 by default):
#   a full scan of N documents converting five columns, and the same scan of
#   an empty collection, each with nutragenie.track_remote_stats on and off,
#   in a single-user backend (`postgres --single`); per document:
#   (instructions of the N-document run - those of the empty run) / N;
#   and the same scan's wall clock, on and off alternating (medians).
# Under valgrind clock_gettime is a system call whose kernel side callgrind
# does not count: the wall clock shows the clock readings' real cost.
# Usage (as root, with the stack of your build running and its env exported):
#   eval "$(NG_STACK_DIR=DIR test/stack env)"; NG_STACK_DIR=DIR bash bench/stats_overhead.sh
# Environment: NG_STATS_DOCS [50000]; PG_CONFIG (the stack's PostgreSQL).
# The stack's PostgreSQL is stopped for the single-user runs and restarted.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=${NG_STATS_DOCS:-50000}
DIR=$(realpath -m -- "${NG_STACK_DIR:?set NG_STACK_DIR to the stack directory}")
PGBIN=$("${PG_CONFIG:-pg_config}" --bindir)
PGDATA=$DIR/pg/data
OUT=$(mktemp -d /tmp/ng-stats-overhead.XXXXXX)
chmod 777 "$OUT"
stack() { NG_STACK_DIR=$DIR bash "$ROOT/test/stack" "$@"; }

psql -X -q -v ON_ERROR_STOP=1 -d postgres <<'SQL'
DROP DATABASE IF EXISTS ng_stats_cg;
CREATE DATABASE ng_stats_cg;
SQL
psql -X -q -v ON_ERROR_STOP=1 -d ng_stats_cg -v uri="$MONGODB_URI" -v n="$N" <<'SQL'
CREATE EXTENSION nutragenie_fdw;
CREATE SERVER cg_srv FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (uri :'uri', database 'ng_stats_cg');
CREATE USER MAPPING FOR PUBLIC SERVER cg_srv;
DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('cg_srv', '{"drop": "cg_docs"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL; END $$;
DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('cg_srv', '{"drop": "cg_empty"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL; END $$;
SELECT nutragenie_fdw.run_command('cg_srv', '{"create": "cg_empty"}') IS NOT NULL AS created;
SELECT sum((nutragenie_fdw.run_command('cg_srv', json_build_object('insert', 'cg_docs', 'documents',
         (SELECT json_agg(json_build_object('_id', i, 'n', i, 's', 'item ' || i, 'f', i * 1.5,
                                            'b', i % 2 = 0, 'tags', json_build_array('a', 'b')))
          FROM generate_series(b * 1000 + 1, least((b + 1) * 1000, :n)) i)))->>'n')::int) AS inserted
FROM generate_series(0, (:n - 1) / 1000) b;
CREATE FOREIGN TABLE cg_docs (id int OPTIONS (field '_id'), n int, s text, f float8, b bool)
  SERVER cg_srv OPTIONS (collection 'cg_docs', batch_size '1000');
CREATE FOREIGN TABLE cg_empty (id int OPTIONS (field '_id'), n int, s text, f float8, b bool)
  SERVER cg_srv OPTIONS (collection 'cg_empty', batch_size '1000');
SQL

# wall clock: alternating runs of the same scan, on and off, medians
RUNS=${NG_STATS_RUNS:-7}
wall() {   # wall TRACK: milliseconds of one scan of cg_docs
    psql -X -q -At -d ng_stats_cg <<SQL | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1
SET nutragenie.track_remote_stats = $1;
SELECT count(*) FROM (SELECT * FROM cg_docs OFFSET 0) s;
\timing on
SELECT count(*), sum(num_nonnulls(id, n, s, f, b)) FROM (SELECT * FROM cg_docs OFFSET 0) s;
SQL
}
on_ms=(); off_ms=()
for ((i = 0; i < RUNS; i++)); do on_ms+=("$(wall on)"); off_ms+=("$(wall off)"); done
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
wall_on=$(median "${on_ms[@]}"); wall_off=$(median "${off_ms[@]}")

stack stop-pg >/dev/null
trap 'stack start-pg >/dev/null' EXIT
run() {   # run TAG TRACK TABLE: prints the instructions of one single-user run
    local tag=$1 track=$2 table=$3
    printf '%s\n' "SET nutragenie.track_remote_stats = $track;" \
        "SELECT count(*), sum(num_nonnulls(id, n, s, f, b)) FROM (SELECT * FROM $table OFFSET 0) s;" |
        runuser -u postgres -- valgrind --tool=callgrind --callgrind-out-file="$OUT/$tag.out" \
            "$PGBIN/postgres" --single -D "$PGDATA" -c jit=off ng_stats_cg >"$OUT/$tag.log" 2>&1 ||
        { cat "$OUT/$tag.log" >&2; exit 1; }
    sed -n 's/^summary: //p; s/^totals: //p' "$OUT/$tag.out" | head -1
}
on_full=$(run on_full on cg_docs);    on_empty=$(run on_empty on cg_empty)
off_full=$(run off_full off cg_docs); off_empty=$(run off_empty off cg_empty)
on=$(( (on_full - on_empty) / N )); off=$(( (off_full - off_empty) / N ))
echo "documents: $N"
echo "track_remote_stats = on:  $on instructions per document ($on_full - $on_empty)"
echo "track_remote_stats = off: $off instructions per document ($off_full - $off_empty)"
echo "overhead: $((on - off)) instructions per document ($(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.1f", (a - b) * 100 / b }') %)"
echo "wall clock, median of $RUNS alternating runs: on $wall_on ms, off $wall_off ms (on: ${on_ms[*]}; off: ${off_ms[*]})"
echo "callgrind files: $OUT"
