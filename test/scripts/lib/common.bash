# Helpers shared by the scripted tests (sourced, not run).
set -euo pipefail
cd "${NG_ROOT:?run through test/run, or set NG_ROOT and the stack environment}"

fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
ok() { printf 'ok: %s\n' "$*"; }

# psql with errors fatal, unaligned, quiet; extension schema on the path.
q() { PGOPTIONS='-c search_path=public,nutragenie' psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }

# A stack reused across builds may hold extensions made by other install
# scripts (an older version, or the same version number built from other
# sources): start again whenever the installed scripts are not the ones the
# database's extensions were created from.
ext_sum=$(cat "$("${PG_CONFIG:-pg_config}" --sharedir)"/extension/nutragenie*--*.sql | md5sum | cut -c1-32)
if [[ $(psql -X -qAt -c "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = current_database()") != "nutragenie scripts $ext_sum" ]]; then
    psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS nutragenie CASCADE;
DROP EXTENSION IF EXISTS nutragenie_fdw CASCADE;
CREATE EXTENSION nutragenie CASCADE;
DO \$\$ BEGIN
    EXECUTE format('COMMENT ON DATABASE %I IS %L', current_database(), 'nutragenie scripts $ext_sum');
END \$\$;
SQL
fi
psql -X -q -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION IF NOT EXISTS nutragenie CASCADE' >/dev/null

# now_ms: monotonic-enough wall clock in milliseconds
now_ms() { date +%s%3N; }

# free_port: a free loopback TCP port
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# is_stack_mongo: true when MongoDB is the stack's own FerretDB (which the
# script may stop, start and freeze), false for an external MONGODB_URI.
is_stack_mongo() {
    [[ -f "$NG_STACK_DIR/mongo/pid" && ! -e "$NG_STACK_DIR/mongo/external" ]]
}

# make_server NAME URI: a server, a user mapping and nothing else
make_server() {
    q -v name="$1" -v uri="$2" <<'SQL'
SET client_min_messages = warning;
DROP SERVER IF EXISTS :"name" CASCADE;
CREATE SERVER :"name" FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (uri :'uri', database 'ng_scripts');
CREATE USER MAPPING FOR CURRENT_USER SERVER :"name";
SQL
}

# setup_domain NAME USERS RECIPES SESSIONS: server NAME on MONGODB_URI, the
# NutraGenie domain attached to a fresh MongoDB database NAME (tables
# emptied, collections dropped) and seeded with the demo's generator
# (test/demo_seed.sql).
setup_domain() {
    local name=$1
    make_server "$name" "$MONGODB_URI"
    clear_domain "$name"
    q -f test/demo_seed.sql >/dev/null
    q -v srv="$name" -v db="$name" -v u="$2" -v r="$3" -v s="$4" <<'SQL' >/dev/null
SET client_min_messages = warning;
SELECT ng_attach_mongo(:'srv', :'db');
SELECT nutragenie_demo.ng_seed_demo(:u, :r, :s);
SQL
}

# clear_domain NAME: the domain detached, its tables emptied and MongoDB
# database NAME (on server NAME) dropped
clear_domain() {
    q -v srv="$1" -v db="$1" <<'SQL' >/dev/null
SET client_min_messages = warning;
SELECT ng_detach_mongo();
TRUNCATE nutragenie.users, nutragenie.recipes, nutragenie.payments, nutragenie.nutrition_goals,
         nutragenie.nutrition_entries, nutragenie.recipe_ratings, nutragenie.chat_messages,
         nutragenie.cooking_sessions RESTART IDENTITY CASCADE;
SELECT nutragenie_fdw.run_command(:'srv', '{"dropDatabase": 1}', :'db');
SQL
}

# derived_drift NAME: one line per derived value of the domain attached to
# server and database NAME that differs from the rows it summarises --
# recipes.rating_count/rating_sum, ratingAnalytics count/sum, ratingStats
# count, nutritionAnalytics entries/totalCalories -- with the documents read
# by a plain find, as any client would (independent of ng_check_consistency).
derived_drift() {
    q -v srv="$1" -v db="$1" <<'SQL'
WITH rc AS (
    SELECT (d ->> 'postgresId')::bigint AS id, d -> 'ratingAnalytics' AS a
    FROM jsonb_array_elements(nutragenie_fdw.run_command(:'srv', '{"find": "recipe_content", "batchSize": 100000}', :'db')
                              -> 'cursor' -> 'firstBatch') d),
ub AS (
    SELECT (d ->> '_id')::bigint AS id, d -> 'ratingStats' AS rs, d -> 'nutritionAnalytics' AS na
    FROM jsonb_array_elements(nutragenie_fdw.run_command(:'srv', '{"find": "user_behavior", "batchSize": 100000}', :'db')
                              -> 'cursor' -> 'firstBatch') d),
r AS (
    SELECT r.id, r.rating_count, r.rating_sum, count(rr.rating) AS n, coalesce(sum(rr.rating), 0) AS s
    FROM nutragenie.recipes r LEFT JOIN nutragenie.recipe_ratings rr ON rr.recipe_id = r.id GROUP BY r.id),
u AS (
    SELECT u.id, (SELECT count(*) FROM nutragenie.recipe_ratings rr WHERE rr.user_id = u.id) AS n,
           (SELECT count(*) FROM nutragenie.nutrition_entries e WHERE e.user_id = u.id) AS entries,
           (SELECT sum(e.calories) FROM nutragenie.nutrition_entries e WHERE e.user_id = u.id) AS calories
    FROM nutragenie.users u)
SELECT format('recipe %s: rating_count %s, rating_sum %s; the ratings give %s, %s', r.id, r.rating_count, r.rating_sum, r.n, r.s)
FROM r WHERE r.rating_count <> r.n OR r.rating_sum <> r.s
UNION ALL
SELECT format('recipe %s: ratingAnalytics count %s, sum %s; the ratings give %s, %s', r.id,
              rc.a ->> 'count', rc.a ->> 'sum', r.n, r.s)
FROM r JOIN rc ON rc.id = r.id
WHERE coalesce((rc.a ->> 'count')::bigint, 0) <> r.n OR coalesce((rc.a ->> 'sum')::bigint, 0) <> r.s
UNION ALL
SELECT format('user %s: ratingStats count %s; the ratings give %s', u.id, ub.rs ->> 'count', u.n)
FROM u LEFT JOIN ub ON ub.id = u.id WHERE coalesce((ub.rs ->> 'count')::bigint, 0) <> u.n
UNION ALL
SELECT format('user %s: nutritionAnalytics entries %s, totalCalories %s; the entries give %s, %s', u.id,
              ub.na ->> 'entries', ub.na ->> 'totalCalories', u.entries, u.calories)
FROM u LEFT JOIN ub ON ub.id = u.id
WHERE coalesce((ub.na ->> 'entries')::bigint, 0) <> u.entries
   OR (ub.na ->> 'totalCalories')::numeric IS DISTINCT FROM u.calories
ORDER BY 1;
SQL
}

# teardown_domain NAME: clear_domain NAME, and server NAME dropped (the end
# of a script that began with setup_domain)
teardown_domain() {
    clear_domain "$1"
    q -v srv="$1" <<'SQL' >/dev/null
SET client_min_messages = warning;
DROP SERVER :"srv" CASCADE;
SQL
}

# Dual-write helpers.  setup_dual NAME creates server NAME on MONGODB_URI, a
# fresh collection NAME, a foreign table NAME_docs (_id int, v text, n int)
# and a local table NAME_local (id int primary key, v text, n int) that the
# tests keep equal to what MongoDB must hold.
setup_dual() {
    local name=$1
    make_server "$name" "$MONGODB_URI"
    q -c "DO \$\$ BEGIN PERFORM nutragenie_fdw.run_command('$name', '{\"drop\": \"$name\"}'); EXCEPTION WHEN fdw_table_not_found THEN NULL; END \$\$;" >/dev/null
    q -c "SELECT nutragenie_fdw.run_command('$name', '{\"create\": \"$name\"}')" >/dev/null
    q <<SQL >/dev/null
DROP TABLE IF EXISTS ${name}_local;
DROP FOREIGN TABLE IF EXISTS ${name}_docs;
CREATE TABLE ${name}_local (id int PRIMARY KEY, v text, n int);
CREATE FOREIGN TABLE ${name}_docs (_id int, v text, n int) SERVER $name OPTIONS (collection '$name');
SQL
}

# check_dual NAME: every document in MongoDB (read by a plain find, as any
# other client would) equals the local table, document by document; prints
# the counts and fails on any difference.
check_dual() {
    local name=$1 diff
    diff=$(q <<SQL
WITH m AS (
  SELECT (d->>'_id')::int AS id, d->>'v' AS v, (d->>'n')::int AS n
  FROM jsonb_array_elements(nutragenie_fdw.run_command('$name', '{"find": "$name", "batchSize": 100000}')->'cursor'->'firstBatch') d),
l AS (SELECT id, v, n FROM ${name}_local)
SELECT count(*) FROM ((SELECT * FROM m EXCEPT SELECT * FROM l) UNION ALL (SELECT * FROM l EXCEPT SELECT * FROM m)) x;
SQL
    )
    local counts
    counts=$(q -c "SELECT (SELECT count(*) FROM ${name}_local) || ' local rows, ' || jsonb_array_length(nutragenie_fdw.run_command('$name', '{\"find\": \"$name\", \"batchSize\": 100000}')->'cursor'->'firstBatch') || ' documents'")
    echo "check $name: $counts, $diff differing"
    [[ $diff == 0 ]] || fail "$name: MongoDB and the expected state differ in $diff rows"
}

# wait_queue_empty [SECONDS]: wait until the outbox is empty
wait_queue_empty() {
    local limit=${1:-30} i
    for ((i = 0; i < limit * 10; i++)); do
        [[ $(q -c "SELECT pending FROM nutragenie_fdw.write_queue_status()" 2>/dev/null) == 0 ]] && return 0
        sleep 0.1
    done
    fail "the write queue did not drain in ${limit} s: $(q -c "SELECT * FROM nutragenie_fdw.write_queue_status()")"
}

# wait_pg: wait until PostgreSQL accepts connections again
wait_pg() {
    local i
    for ((i = 0; i < 300; i++)); do
        q -c "SELECT 1" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    fail "PostgreSQL did not come back"
}
