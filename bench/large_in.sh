#!/usr/bin/env bash
# bench/large_in.sh: peak backend memory and time of queries with large key
# lists (DESIGN: "every filter, pipeline and batch is built in time and
# memory linear in its size"), against a running stack:
#   in_list       SELECT ... WHERE _id IN (<N literals>)
#   any_param     WHERE _id = ANY($1), $1 a bound int[] of N keys (generic plan)
#   batched_join  a local table of N keys JOIN the foreign table on _id
#                 (batched key join: one $in find per batch of outer rows)
# each also on a local table with the same rows ("PostgreSQL alone": what the
# parser and executor cost without nutragenie).  N keys of which 5 match a
# 20-document collection.  Each measurement is a fresh session: it loads
# nutragenie and connects with a one-key query first, reads VmHWM (peak
# resident set) from /proc/self/status, runs the query and reads VmHWM
# again; planning time comes from EXPLAIN (SUMMARY) in another session.
#
#   eval "$(test/stack env)"; bash bench/large_in.sh          # or: bench/run
# Environment:
#   NG_LARGE_IN_KEYS [10000 100000 1000000]    key counts
#   NG_LARGE_IN_FORMS [in_list any_param batched_join]
#   NG_LARGE_IN_LOCAL [1]   0: skip the local-table baselines
#   NG_LARGE_IN_OUT [bench/out/large_in.md]    the Markdown table written
#   NG_LARGE_IN_DOCS        if set, that file's section between the markers
#                           <!-- large_in:begin --> and <!-- large_in:end -->
#                           is replaced by the table (docs/benchmarks.md)
#   NG_LARGE_IN_TITLE       a line written above the table
# The backends need the PostgreSQL server's /proc: run it on the same machine.
# To keep a runaway backend from taking the machine down, start the server
# under an address-space limit (ulimit -v before test/stack up/restart-pg):
# then an allocation failure is an "out of memory" error, reported as such.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KEYS=${NG_LARGE_IN_KEYS:-10000 100000 1000000}
FORMS=${NG_LARGE_IN_FORMS:-in_list any_param batched_join}
LOCAL=${NG_LARGE_IN_LOCAL:-1}
OUT=${NG_LARGE_IN_OUT:-$ROOT/bench/out/large_in.md}
: "${MONGODB_URI:?MONGODB_URI must name the MongoDB server (eval \"\$(test/stack env)\")}"
TMP=$(mktemp -d /tmp/ng-large-in.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

say() { printf 'large_in: %s\n' "$*" >&2; }
psql_() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

# ------------------------------------------------------------------ set-up
psql_ <<'SQL'
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS large_in_bench CASCADE;
DROP SERVER IF EXISTS large_in_srv CASCADE;
RESET client_min_messages;
CREATE SCHEMA large_in_bench;
SET search_path = large_in_bench, nutragenie;
\getenv mongo_uri MONGODB_URI
CREATE SERVER large_in_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri :'mongo_uri', database 'ng_bench_large_in');
CREATE USER MAPPING FOR CURRENT_USER SERVER large_in_srv;
DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('large_in_srv', '{"drop": "items"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;
SELECT nutragenie_fdw.run_command('large_in_srv', json_build_object('insert', 'items', 'documents',
  (SELECT json_agg(json_build_object('_id', i, 'code', 'k' || i, 'qty', i) ORDER BY i)
   FROM generate_series(1, 20) i))) IS NOT NULL AS loaded \gset
CREATE FOREIGN TABLE items (_id int, code text, qty int)
  SERVER large_in_srv OPTIONS (collection 'items');
CREATE TABLE local_items (_id int PRIMARY KEY, code text, qty int);
INSERT INTO local_items SELECT i, 'k' || i, i FROM generate_series(1, 20) i;
CREATE TABLE keys (k int);
ANALYZE local_items;
-- a generic plan: $1 is a parameter bound at execution time
CREATE FUNCTION count_any(tbl regclass, ids int[]) RETURNS bigint
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE n bigint;
BEGIN
  IF tbl = 'large_in_bench.items'::regclass THEN
    SELECT count(*) INTO n FROM (SELECT _id FROM large_in_bench.items WHERE _id = ANY (ids) OFFSET 0) s;
  ELSE
    SELECT count(*) INTO n FROM (SELECT _id FROM large_in_bench.local_items WHERE _id = ANY (ids) OFFSET 0) s;
  END IF;
  RETURN n;
END $$;
CREATE FUNCTION planning_ms(q text) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE j json;
BEGIN
  EXECUTE 'EXPLAIN (SUMMARY ON, FORMAT JSON) ' || q INTO j;
  RETURN round((j -> 0 ->> 'Planning Time')::numeric, 1);
END $$;
CREATE FUNCTION hwm_kb() RETURNS bigint LANGUAGE sql AS $$
  SELECT (regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\s+(\d+)'))[1]::bigint $$;
SQL

# ------------------------------------------------------------------ one run
# measure FORM N TABLE: prints "rows hwm_before_kb hwm_after_kb total_ms planning_ms"
measure() {
    local form=$1 n=$2 tbl=$3 q pre='' plan=NULL
    local first=-$((n - 6)) # keys first..5: 5 of them (1..5) match
    case $form in
        in_list)
            { printf 'SELECT _id FROM large_in_bench.%s WHERE _id IN (' "$tbl"
              seq -s, -- "$first" 5 | tr -d '\n'
              printf ')'; } >"$TMP/q.sql"
            q=$(<"$TMP/q.sql")
            printf '%s;\n' "$q" >"$TMP/run.sql"
            printf 'SELECT large_in_bench.planning_ms($q$%s$q$);\n' "$q" >"$TMP/plan.sql"
            ;;
        any_param)
            pre="SELECT array_agg(g) AS ids FROM generate_series($first, 5) g \\gset"
            printf "SELECT large_in_bench.count_any('large_in_bench.%s', :'ids');\n" "$tbl" >"$TMP/run.sql"
            : >"$TMP/plan.sql"
            ;;
        batched_join)
            psql_ -c "TRUNCATE large_in_bench.keys; INSERT INTO large_in_bench.keys SELECT generate_series($first, 5); ANALYZE large_in_bench.keys;"
            q="SELECT k.k, i.code FROM large_in_bench.keys k JOIN large_in_bench.$tbl i ON i._id = k.k"
            printf 'SET enable_hashjoin = off;\nSET enable_mergejoin = off;\n%s;\n' "$q" >"$TMP/run.sql"
            printf 'SET enable_hashjoin = off;\nSET enable_mergejoin = off;\nSELECT large_in_bench.planning_ms($q$%s$q$);\n' "$q" >"$TMP/plan.sql"
            ;;
    esac
    # the query's session: warm up, peak before, the query (timed), peak after
    psql -X -v ON_ERROR_STOP=1 -At >"$TMP/out" 2>&1 <<SQL || true
SELECT count(*) FROM large_in_bench.items WHERE _id = 1;
$pre
SELECT 'hwm0 ' || large_in_bench.hwm_kb();
\\echo rows-begin
\\timing on
\\i $TMP/run.sql
\\timing off
\\echo rows-end
SELECT 'hwm1 ' || large_in_bench.hwm_kb();
SQL
    if [[ -s $TMP/plan.sql ]]; then
        plan=$(psql -X -At -v ON_ERROR_STOP=1 -f "$TMP/plan.sql" 2>&1 | tail -1)
    fi
    local h0 h1 t rows err
    h0=$(awk '$1 == "hwm0" {print $2}' "$TMP/out")
    h1=$(awk '$1 == "hwm1" {print $2}' "$TMP/out")
    t=$(awk '/^Time: / {v = $2} END {print v}' "$TMP/out")
    err=$(grep -m1 -E '^(psql:.*)?ERROR|server closed' "$TMP/out" | sed -E 's/^psql:[^ ]*: //' || true)
    # the lines between the markers, without psql's timing and SET lines
    rows=$(awk '/^rows-end$/ {on = 0} on && !/^Time: / && !/^Timing is / && !/^SET$/ {n++} /^rows-begin$/ {on = 1} END {print n + 0}' "$TMP/out")
    # any_param returns the count as its one row
    [[ $form == any_param ]] && rows=$(awk '/^rows-end$/ {on = 0} on && /^[0-9]+$/ {v = $1} /^rows-begin$/ {on = 1} END {print v}' "$TMP/out")
    if [[ -n $err ]]; then
        printf 'ERROR %s\n' "${err//$'\n'/ }"
    else
        printf '%s %s %s %s %s\n' "$rows" "$h0" "$h1" "$t" "$plan"
    fi
}

fmt_mb() { awk -v k="$1" 'BEGIN {printf "%.1f MB", k / 1024}'; }
fmt_ms() { awk -v t="$1" 'BEGIN {if (t == "" || t == "NULL") print "–"; else if (t >= 1000) printf "%.2f s", t / 1000; else printf "%.0f ms", t}'; }

rows_md=()
for n in $KEYS; do
    for form in $FORMS; do
        tables=items
        [[ $LOCAL == 1 ]] && tables="items local_items"
        for tbl in $tables; do
            say "$form, $n keys, $tbl"
            read -r -a r <<<"$(measure "$form" "$n" "$tbl")"
            what=$([[ $tbl == items ]] && echo nutragenie || echo "PostgreSQL alone (local table)")
            if [[ ${r[0]} == ERROR ]]; then
                rows_md+=("| $form | $(printf "%'d" "$n") | $what | ${r[*]:1} | | | | |")
            else
                rows_md+=("| $form | $(printf "%'d" "$n") | $what | ${r[0]} | $(fmt_mb "$((r[2] - r[1]))") | $(fmt_mb "${r[2]}") | $(fmt_ms "${r[4]:-}") | $(fmt_ms "${r[3]}") |")
            fi
            say "  ${rows_md[-1]}"
        done
    done
done

mkdir -p "$(dirname "$OUT")"
{
    echo "<!-- large_in:begin -->"
    echo "## 5. Large key lists"
    echo
    echo "Peak resident memory of the backend and time for a query whose condition holds N keys, 5 of which"
    echo "match a 20-document collection, measured by \`bench/large_in.sh\` (\`make bench\` runs it; alone:"
    echo "\`eval \"\$(test/stack env)\"; bash bench/large_in.sh\`). *growth* is VmHWM after the query minus"
    echo "VmHWM of the same session after a warm-up query; *planning* is EXPLAIN's planning time (for"
    echo "\`in_list\` the parse of the literal list is outside it, inside *total*); *total* is the"
    echo "query's wall time seen by psql. Filters over \`nutragenie.max_filter_size\` (15 MB) are sent"
    echo "as several finds. PostgreSQL alone: the same query on a local table."
    [[ -n ${NG_LARGE_IN_TITLE:-} ]] && { echo; echo "$NG_LARGE_IN_TITLE"; }
    echo
    echo "| form | keys | | rows | growth | VmHWM peak | planning | total |"
    echo "|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows_md[@]}"
    echo
    echo "<!-- large_in:end -->"
} >"$OUT"
say "wrote $OUT"

if [[ -n ${NG_LARGE_IN_DOCS:-} ]]; then
    /usr/bin/python3 - "$NG_LARGE_IN_DOCS" "$OUT" <<'EOF'
import re, sys
from pathlib import Path
docs, sec = Path(sys.argv[1]), Path(sys.argv[2]).read_text().rstrip("\n") + "\n"
text = docs.read_text()
pat = re.compile(r"<!-- large_in:begin -->.*?<!-- large_in:end -->\n?", re.S)
if pat.search(text):
    text = pat.sub(lambda m: sec, text)
else:
    at = text.find("## How to run")
    text = text[:at] + sec + "\n" + text[at:] if at >= 0 else text + "\n" + sec
docs.write_text(text)
EOF
    say "updated $NG_LARGE_IN_DOCS"
fi

psql_ -c "SET client_min_messages = warning; DROP SCHEMA large_in_bench CASCADE; DROP SERVER large_in_srv CASCADE;"
