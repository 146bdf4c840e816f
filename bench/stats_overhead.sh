#!/usr/bin/env bash
# bench/stats_overhead.sh: the cost of nutragenie_fdw.remote_stats per
# document, on a test/stack stack (PostgreSQL + FerretDB), for three
# settings: nutragenie.track_remote_stats off; on with
# nutragenie.track_remote_timing off (counts only); both on (the default):
#   1. the backend's CPU time (utime + stime, the server's excluded) of a
#      full scan of N documents converting five columns, alternating rounds;
#   2. instructions (valgrind --tool=callgrind) of the same scan and of one of
#      an empty collection in a single-user backend (`postgres --single`):
#      (instructions of the N-document run - those of the empty run) / N.
# Under valgrind clock_gettime is a system call whose kernel side callgrind
# does not count: the CPU time shows the clock readings' real cost.
# Usage (as root, with the stack of your build running and its env exported):
#   eval "$(NG_STACK_DIR=DIR test/stack env)"; NG_STACK_DIR=DIR bash bench/stats_overhead.sh
# Environment: NG_STATS_DOCS [50000], NG_STATS_ROUNDS [4]; PG_CONFIG (the
# stack's PostgreSQL).  The stack's PostgreSQL is stopped for the
# single-user runs and restarted.
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

# the backend's CPU time (utime + stime of /proc/self/stat, in ticks of
# 1/100 s; the server's time excluded), ROUNDS alternating rounds of five
# scans per setting
ROUNDS=${NG_STATS_ROUNDS:-4}
SETTINGS=("track_remote_stats = off" "track_remote_stats = on, track_remote_timing = off"
          "track_remote_stats = on, track_remote_timing = on")
set_sql() { sed -e 's/^/SET nutragenie./; s/, /; SET nutragenie./g; s/$/;/' <<<"$1"; }
{
    echo "CREATE TEMP VIEW cpu AS SELECT (f[12])::bigint + (f[13])::bigint AS ticks
          FROM (SELECT string_to_array(split_part(pg_read_file('/proc/self/stat'), ') ', 2), ' ') AS f) s;"
    echo "SELECT count(*) FROM (SELECT * FROM cg_docs OFFSET 0) s;"
    for ((r = 0; r < ROUNDS; r++)); do
        for i in 0 1 2; do
            set_sql "${SETTINGS[$i]}"
            echo "SELECT 'start', ticks FROM cpu;"
            for _ in 1 2 3 4 5; do
                echo "SELECT count(*), sum(num_nonnulls(id, n, s, f, b)) FROM (SELECT * FROM cg_docs OFFSET 0) s;"
            done
            echo "SELECT 'end $i', ticks FROM cpu;"
        done
    done
} >"$OUT/cpu.sql"
chmod 644 "$OUT/cpu.sql"
cpu=$(psql -X -q -At -F ' ' -d ng_stats_cg -f "$OUT/cpu.sql" |
      awk '$1 == "start" { s = $2 } $1 == "end" { t[$2] += $3 - s } END { print t[0], t[1], t[2] }')
read -r cpu_off cpu_count cpu_time <<<"$cpu"

stack stop-pg >/dev/null
trap 'stack start-pg >/dev/null' EXIT
run() {   # run TAG SETTINGS TABLE: prints the instructions of one single-user run
    local tag=$1 settings=$2 table=$3
    { set_sql "$settings"
      echo "SELECT count(*), sum(num_nonnulls(id, n, s, f, b)) FROM (SELECT * FROM $table OFFSET 0) s;"; } |
        runuser -u postgres -- valgrind --tool=callgrind --callgrind-out-file="$OUT/$tag.out" \
            "$PGBIN/postgres" --single -D "$PGDATA" -c jit=off ng_stats_cg >"$OUT/$tag.log" 2>&1 ||
        { cat "$OUT/$tag.log" >&2; exit 1; }
    sed -n 's/^summary: //p; s/^totals: //p' "$OUT/$tag.out" | head -1
}
per_doc=()
for i in 0 1 2; do
    full=$(run "full$i" "${SETTINGS[$i]}" cg_docs)
    empty=$(run "empty$i" "${SETTINGS[$i]}" cg_empty)
    per_doc+=($(( (full - empty) / N )))
done
scans=$((ROUNDS * 5))
echo "documents: $N; CPU: $ROUNDS rounds of 5 scans per setting"
for i in 0 1 2; do
    t=$(( (i == 0) ? cpu_off : (i == 1) ? cpu_count : cpu_time ))
    printf '%-52s %6d instructions/document  %6.0f ns CPU/document (%d ticks)\n' "${SETTINGS[$i]}:" \
        "${per_doc[$i]}" "$(awk -v t="$t" -v n="$N" -v k="$scans" 'BEGIN { print t * 1e7 / (n * k) }')" "$t"
done
echo "callgrind files: $OUT"
