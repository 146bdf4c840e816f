#!/usr/bin/env bash
# bench/recommend.sh: how good and how fast ng_recommend_recipes is, and
# what per-user isolation (row-level security) costs.  Run against a stack:
#   eval "$(test/stack env)"; bash bench/recommend.sh
# It makes its own database (NG_BENCH_DB, default ng_bench_recommend) and
# MongoDB database, and prints:
#   1. precision@k of held-out favourites (bench/recommend_precision.sql) on
#      the demo data (nutragenie_demo.ng_seed_demo(20, 24, 30), what make
#      demo loads) and on a larger seed of the same generator (NG_BENCH_USERS
#      x NG_BENCH_RECIPES, default 60 x 120), against "most popular";
#   2. the latency of ng_recommend_recipes(user, 10) with 10,000 recipes
#      (rows and recipe_features made in PostgreSQL: the function does not
#      read the recipes' documents), median and 95th percentile of
#      NG_BENCH_CALLS calls (default 200) in one session;
#   3. the cost of per-user isolation: ng_user_cooking_sessions and a
#      nutrition_entries lookup by a role with and without the policies.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${PGHOST:?eval \"\$(test/stack env)\" first}" "${MONGODB_URI:?}"
DB=${NG_BENCH_DB:-ng_bench_recommend}
USERS=${NG_BENCH_USERS:-60}
RECIPES=${NG_BENCH_RECIPES:-120}
CALLS=${NG_BENCH_CALLS:-200}
q() { PGOPTIONS='-c search_path=public,nutragenie' psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
# FerretDB 1.24 can stall on update commands of ~100 updates (README,
# Limitations): small applier batches while the seeds run
psql -X -q -d postgres -c "ALTER SYSTEM SET nutragenie.applier_batch_size = 50" -c "SELECT pg_reload_conf()" >/dev/null
trap 'psql -X -q -d postgres -c "ALTER SYSTEM RESET nutragenie.applier_batch_size" -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true' EXIT
drop_db() {  # (its applier worker, if any, first: it may be retrying)
    psql -X -q -At -d postgres -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$DB' AND backend_type = 'nutragenie applier'" >/dev/null
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
}
fresh() {  # fresh USERS RECIPES SESSIONS: a new database seeded by the demo's generator
    drop_db
    psql -X -q -d postgres -c "CREATE DATABASE $DB"
    q -c 'CREATE EXTENSION nutragenie CASCADE' 2>/dev/null
    q -f test/demo_seed.sql >/dev/null
    q -v uri="$MONGODB_URI" -v db="$DB" -v u="$1" -v r="$2" -v s="$3" >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE SERVER bench FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (uri :'uri');
CREATE USER MAPPING FOR CURRENT_USER SERVER bench;
SELECT nutragenie_fdw.run_command('bench', '{"dropDatabase": 1}', :'db');
SELECT ng_attach_mongo('bench', :'db');
SELECT nutragenie_demo.ng_seed_demo(:u, :r, :s);
SQL
}

echo "== 1. precision of held-out favourites"
fresh 20 24 30
for k in 3 5; do
    echo "-- demo data (20 users x 24 recipes), k=$k"
    q -v k=$k -F ' | ' -f bench/recommend_precision.sql
done
fresh "$USERS" "$RECIPES" 0
for k in 5 10; do
    echo "-- $USERS users x $RECIPES recipes, k=$k"
    q -v k=$k -F ' | ' -f bench/recommend_precision.sql
done

echo "== 2. latency with 10,000 recipes"
q >/dev/null <<'SQL'
SET client_min_messages = warning;
-- 10,000 recipes with features like the generator's (no documents)
WITH ins AS (
    INSERT INTO recipes (title, category, difficulty_level, servings)
    SELECT 'Bench recipe ' || g, (ARRAY['breakfast', 'lunch', 'dinner', 'snack'])[1 + g % 4], 1 + g % 5, 2
    FROM generate_series(1, 10000 - (SELECT count(*) FROM recipes)) g
    RETURNING id)
INSERT INTO recipe_features (recipe_id, cuisine, tags, ingredients, calories, protein_g, carbs_g, fat_g, conflicts)
SELECT id, c, t, i, 250 + (id * 37) % 500, 5 + (id * 13) % 40, 10 + (id * 7) % 60, 3 + (id * 5) % 25,
       ng_food_conflicts(i, 10 + (id * 7) % 60)
FROM ins, LATERAL (SELECT (ARRAY['international', 'italian', 'japanese', 'mexican', 'indian', 'mediterranean'])[1 + id % 6] AS c,
                          (ARRAY['{vegan,quick}', '{high-protein}', '{gluten-free}', '{comfort-food,batch-cooking}']::text[][])[1 + id % 4:1 + id % 4] AS t0,
                          ARRAY[(ARRAY['oats', 'lentils', 'chicken breast', 'feta', 'salmon', 'beans'])[1 + id % 6],
                                (ARRAY['onion', 'tomato', 'spinach', 'pepper'])[1 + id % 4], 'olive oil'] AS i) x,
     LATERAL (SELECT ARRAY(SELECT unnest(x.t0)) AS t) y;
-- and 40 more ratings per user over them (the triggers keep the aggregates)
INSERT INTO recipe_ratings (user_id, recipe_id, rating)
SELECT u.id, r.id, 1 + (u.id * 7 + r.id * 3) % 5
FROM users u, recipes r
WHERE (u.id * 7 + r.id * 11) % 250 = 0
ON CONFLICT DO NOTHING;
ANALYZE;
SQL
echo "recipes: $(q -c 'SELECT count(*) FROM recipes'), with features: $(q -c 'SELECT count(*) FROM recipe_features'), ratings: $(q -c 'SELECT count(*) FROM recipe_ratings')"
q -v calls="$CALLS" <<'SQL'
SET bench.calls = :'calls';
DO $$
DECLARE
    t0 timestamptz;
    ms float8[] := '{}';
    u bigint[] := ARRAY(SELECT id FROM nutragenie.users ORDER BY id);
    n int := current_setting('bench.calls', true)::int;
BEGIN
    PERFORM count(*) FROM nutragenie.ng_recommend_recipes(u[1], 10);   -- warm-up
    FOR i IN 1 .. coalesce(n, 200) LOOP
        t0 := clock_timestamp();
        PERFORM count(*) FROM nutragenie.ng_recommend_recipes(u[1 + i % array_length(u, 1)], 10);
        ms := ms || extract(epoch FROM clock_timestamp() - t0) * 1000;
    END LOOP;
    RAISE NOTICE 'ng_recommend_recipes(user, 10), 10000 recipes, % calls: median % ms, p95 % ms',
        array_length(ms, 1),
        round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(ms) x)::numeric, 1),
        round((SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY x) FROM unnest(ms) x)::numeric, 1);
END $$;
SQL

# the same calls' CPU time in the backend (utime + stime from /proc), which
# a loaded machine does not inflate as it does wall-clock time
coproc P { PGOPTIONS='-c search_path=public,nutragenie' psql -X -q -At -d "$DB" 2>&1; }
ask() {
    local l out=
    printf '%s\n\\echo __done__\n' "$1" >&"${P[1]}"
    while IFS= read -r -t 600 l <&"${P[0]}"; do
        [[ $l == __done__ ]] && { printf '%s' "$out"; return; }
        out+=$l
    done
}
pid=$(ask "SELECT pg_backend_pid();")
if [[ -r /proc/$pid/stat ]]; then
    ask "SELECT count(*) FROM ng_recommend_recipes((SELECT min(id) FROM users), 10);" >/dev/null
    cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
    c0=$(cpu)
    ask "DO \$\$ DECLARE u bigint[] := ARRAY(SELECT id FROM users ORDER BY id); BEGIN FOR i IN 1 .. $CALLS LOOP PERFORM count(*) FROM ng_recommend_recipes(u[1 + i % array_length(u, 1)], 10); END LOOP; END \$\$;" >/dev/null
    c1=$(cpu)
    echo "CPU time of the backend: $(( (c1 - c0) * 1000 / $(getconf CLK_TCK) / CALLS )) ms per call ($CALLS calls)"
fi
printf '\\q\n' >&"${P[1]}"

echo "== 3. per-user isolation (row-level security)"
ROLE=ng_bench_rls_app
q >/dev/null <<SQL
SET client_min_messages = warning;
DELETE FROM role_setup WHERE role = '$ROLE';
SELECT ng_apply_role_grants();
SELECT format('DROP OWNED BY %I', rolname) FROM pg_roles WHERE rolname = '$ROLE' \gexec
DROP ROLE IF EXISTS $ROLE;
CREATE ROLE $ROLE LOGIN;
CREATE USER MAPPING FOR $ROLE SERVER bench OPTIONS (password_required 'false');
SQL
measure() {  # measure LABEL: median per call of two lookups, as $ROLE acting for user 3
    PGUSER=$ROLE PGOPTIONS='-c search_path=public,nutragenie -c nutragenie_app.user_id=3' \
        psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" <<'SQL' 2>&1 | sed "s/^NOTICE:  /$1: /"
DO $$
DECLARE
    t0 timestamptz;
    a float8[] := '{}';
    b float8[] := '{}';
BEGIN
    FOR i IN 1 .. 2000 LOOP
        t0 := clock_timestamp();
        PERFORM count(*) FROM nutragenie.ng_user_cooking_sessions(3);
        a := a || extract(epoch FROM clock_timestamp() - t0) * 1e6;
        t0 := clock_timestamp();
        PERFORM count(*) FROM nutragenie.nutrition_entries WHERE user_id = 3;
        b := b || extract(epoch FROM clock_timestamp() - t0) * 1e6;
    END LOOP;
    RAISE NOTICE 'ng_user_cooking_sessions: median % us; nutrition_entries of one user: median % us',
        round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(a) x)::numeric, 1),
        round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(b) x)::numeric, 1);
END $$;
SQL
}
q -c "SELECT ng_setup_app_role('$ROLE', false)" >/dev/null
measure "without isolation"
q -c "SELECT ng_setup_app_role('$ROLE', true)" >/dev/null
measure "with isolation   "
q >/dev/null <<SQL
SET client_min_messages = warning;
DELETE FROM role_setup WHERE role = '$ROLE';
SELECT ng_apply_role_grants();
DROP OWNED BY $ROLE;
DROP ROLE $ROLE;
SQL
q -c "SELECT nutragenie_fdw.run_command('bench', '{\"dropDatabase\": 1}', '$DB')" >/dev/null
drop_db
