#!/usr/bin/env bash
# The shared document cache is invalidated across sessions: session A (one
# long-lived backend) reads a recipe twice (a miss, then a hit); session B
# updates the document through the foreign table and commits; A's next read
# is a miss that returns the new version.  A write command sent with
# nutragenie_fdw.run_command empties the whole cache.
source "$(dirname "$0")/lib/common.bash"
S=ng_dom_cache_sh
DB=ng_dom_cache_sh
setup_domain $S 2 3 0

q -v srv=$S -v db=$DB <<'SQL' >/dev/null
SELECT nutragenie_fdw.cache_reset();
SQL
[[ $(q -c "SELECT enabled FROM nutragenie_fdw.cache_stats()") == t ]] ||
    fail "the cache is off (is the library preloaded?)"
OID=$(q -c "SELECT mongodb_recipe_id::text FROM recipes WHERE id = 2")

# session A: one backend for the whole test
coproc A { PGOPTIONS='-c search_path=public,nutragenie' psql -X -q -At -v ON_ERROR_STOP=1 2>&1; }
a() {
    local line out=
    printf '%s\n\\echo __done__\n' "$1" >&"${A[1]}"
    while IFS= read -r -t 60 line <&"${A[0]}"; do
        [[ $line == __done__ ]] && { printf '%s' "$out"; return; }
        out+=$line
    done
    fail "session A did not answer: $out"
}
read_a() { a "SELECT ng_full_recipe(2) -> 'content' ->> 'description';"; }
stats_a() { a "SELECT hits || '/' || misses FROM nutragenie_fdw.cache_stats();"; }

pid_a=$(a "SELECT pg_backend_pid();")
v1=$(read_a)
[[ $(stats_a) == 0/1 ]] || fail "first read: expected 0 hits/1 miss, got $(stats_a)"
[[ $(read_a) == "$v1" ]] || fail "second read differs"
[[ $(stats_a) == 1/1 ]] || fail "second read: expected a hit, got $(stats_a)"
ok "session A: miss then hit ($v1)"

# a write command through nutragenie_fdw.run_command (documents unknown) empties the cache
q -v srv=$S -v db=$DB -v oid="$OID" >/dev/null <<'SQL'
SELECT nutragenie_fdw.run_command(:'srv', json_build_object('update', 'recipe_content', 'updates', json_build_array(
         json_build_object('q', json_build_object('_id', json_build_object('$oid', :'oid')),
                           'u', json_build_object('$set', json_build_object('description', 'behind our back'))))),
       :'db');
SQL
[[ $(read_a) == "behind our back" ]] || fail "the cache served the version before nutragenie_fdw.run_command's update"
[[ $(stats_a) == 1/2 ]] || fail "the read after nutragenie_fdw.run_command was not a miss ($(stats_a))"
ok "a write command through nutragenie_fdw.run_command emptied the cache"

# session B (another backend) writes through the foreign table and commits
pid_b=$(q -v oid="$OID" <<'SQL'
BEGIN;
UPDATE recipe_content SET description = 'written by session B' WHERE _id = :'oid'::objectid;
COMMIT;
SELECT pg_backend_pid();
SQL
)
[[ $pid_b != "$pid_a" ]] || fail "sessions A and B share a backend"
before=$(stats_a)
v2=$(read_a)
[[ $v2 == "written by session B" ]] || fail "session A read '$v2' after session B's commit"
after=$(stats_a)
[[ ${after#*/} -eq $(( ${before#*/} + 1 )) ]] || fail "the read after B's commit was not a miss ($before -> $after)"
[[ $(read_a) == "$v2" ]] || fail "the new version is not served again"
[[ $(stats_a) == "$(( ${after%/*} + 1 ))/${after#*/}" ]] || fail "the new version is not cached ($(stats_a))"
ok "session B's committed write invalidated session A's cache entry"

# an uncommitted write of B does not disturb A; a rolled-back one neither
q -v oid="$OID" >/dev/null <<'SQL'
BEGIN;
UPDATE recipe_content SET description = 'rolled back' WHERE _id = :'oid'::objectid;
ROLLBACK;
SQL
[[ $(read_a) == "$v2" ]] || fail "a rolled-back write changed what A reads"
ok "a rolled-back write leaves the document as it was"

# the health report carries the counters
[[ $(a "SELECT (ng_health() -> 'cache' ->> 'hits')::int > 0;") == t ]] || fail "ng_health has no cache hits"

apid=$A_PID
printf '\\q\n' >&"${A[1]}"
wait "$apid" 2>/dev/null || true
q -v srv=$S -v db=$DB >/dev/null <<'SQL'
SET client_min_messages = warning;
SELECT ng_detach_mongo();
SELECT nutragenie_fdw.run_command(:'srv', '{"dropDatabase": 1}', :'db');
SQL
ok "done"
