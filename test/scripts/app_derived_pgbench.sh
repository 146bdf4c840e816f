#!/usr/bin/env bash
# Derived values stay exact under load: 16 pgbench clients for
# NG_DERIVED_SECONDS (default 60) mix domain calls and plain writes on a few
# recipes and users -- new ratings (ng_rate_recipe and plain INSERT), ratings
# replaced (ng_rate_recipe, plain UPDATE) and deleted, nutrition logged
# (ng_log_nutrition, plain INSERT) and deleted.  Every transaction also
# writes what it changed into a log table, in the same transaction.  At the
# end, with the outbox drained: ng_check_consistency() reports nothing, and
# the counts agree everywhere -- the log, the tables, the sums of
# recipes.rating_count, of ratingAnalytics.count and of ratingStats.count,
# and of nutritionAnalytics.entries (read by a plain find, as any client
# would): no lost increments.
source "$(dirname "$0")/lib/common.bash"
S=ng_derived_bench
SECONDS_RUN=${NG_DERIVED_SECONDS:-60}
CLIENTS=${NG_DERIVED_CLIENTS:-16}
BENCH_USERS=${NG_DERIVED_USERS:-2000}  # fresh users for new ratings (x10 recipes: new pairs)
RECIPES=10
PGBENCH=$(command -v pgbench || echo "$("$PG_CONFIG" --bindir)/pgbench")
[[ -x $PGBENCH ]] || fail "pgbench not found"

# FerretDB 1.24 can stall on update commands of ~100 updates (README,
# Limitations): keep the applier's batches small while this runs.
q -c "ALTER SYSTEM SET nutragenie.applier_batch_size = 50" -c "SELECT pg_reload_conf()" >/dev/null
trap 'q -c "ALTER SYSTEM RESET nutragenie.applier_batch_size" -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true' EXIT

# 18 seeded users (each rated some recipes: the pairs are kept in
# ng_derived_bench.seeded for the replacements), 10 recipes, a week of meals
# each; then BENCH_USERS users without ratings or user_behavior document,
# whose (user, recipe) pairs the new ratings take one by one
setup_domain $S 18 $RECIPES 0
q -v nb="$BENCH_USERS" -v nr="$RECIPES" >/dev/null <<'SQL'
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS ng_derived_bench CASCADE;
CREATE SCHEMA ng_derived_bench;
CREATE TABLE ng_derived_bench.log (kind text NOT NULL, n int NOT NULL);
CREATE SEQUENCE ng_derived_bench.pairs;
CREATE TABLE ng_derived_bench.seeded AS
SELECT row_number() OVER (ORDER BY user_id, recipe_id) AS n, user_id AS u, recipe_id AS r
FROM nutragenie.recipe_ratings;
INSERT INTO nutragenie.users (email, password_hash)
SELECT 'bench' || g || '@example.com', 'h' FROM generate_series(1, :nb) g;
CREATE TABLE ng_derived_bench.params AS
SELECT min(id) AS first_user, count(*) AS nusers, :nr::bigint AS nrecipes
FROM nutragenie.users WHERE email LIKE 'bench%';
-- the n-th new pair: consecutive n go to different users, and the recipe
-- turns with the block, so that concurrent clients meet on recipes
CREATE FUNCTION ng_derived_bench.pair(n bigint, OUT u bigint, OUT r bigint) LANGUAGE plpgsql AS $$
DECLARE p record;
BEGIN
    SELECT * INTO p FROM ng_derived_bench.params;
    IF n > p.nusers * p.nrecipes THEN
        RAISE EXCEPTION 'out of new (user, recipe) pairs; raise NG_DERIVED_USERS';
    END IF;
    u := p.first_user + (n - 1) % p.nusers;
    r := ((n - 1) / p.nusers + (n - 1) % p.nusers) % p.nrecipes + 1;
END $$;
CREATE FUNCTION ng_derived_bench.next_pair(OUT u bigint, OUT r bigint) LANGUAGE sql AS $$
    SELECT * FROM ng_derived_bench.pair(nextval('ng_derived_bench.pairs'))
$$;
SQL
wait_queue_empty 120
base_ratings=$(q -c "SELECT count(*) FROM nutragenie.recipe_ratings")
((base_ratings > 0)) || fail "the seed made no ratings to replace"
base_entries=$(q -c "SELECT count(*) FROM nutragenie.nutrition_entries")
nusers=$(q -c "SELECT count(*) FROM nutragenie.users")
[[ -z $(q -c "SELECT issue FROM ng_check_consistency()") ]] || fail "inconsistent before the run"
echo "seeded: $nusers users, $RECIPES recipes, $base_ratings ratings, $base_entries nutrition entries"

dir=$NG_STACK_DIR/derived_pgbench
rm -rf "$dir"; mkdir -p "$dir"
# new ratings, through the function and plainly
cat >"$dir/rate_new_fn.sql" <<'EOF'
\set v random(1, 5)
BEGIN;
SELECT nutragenie.ng_rate_recipe(p.u, p.r, :v) FROM ng_derived_bench.next_pair() p;
INSERT INTO ng_derived_bench.log VALUES ('ratings', 1);
END;
EOF
cat >"$dir/rate_new_plain.sql" <<'EOF'
\set v random(1, 5)
BEGIN;
INSERT INTO nutragenie.recipe_ratings (user_id, recipe_id, rating) SELECT p.u, p.r, :v FROM ng_derived_bench.next_pair() p;
INSERT INTO ng_derived_bench.log VALUES ('ratings', 1);
END;
EOF
# ratings replaced: one of the seeded ratings
cat >"$dir/rerate_fn.sql" <<EOF
\\set k random(1, $base_ratings)
SELECT u, r FROM ng_derived_bench.seeded WHERE n = :k \\gset
\\set v random(1, 5)
BEGIN;
SELECT nutragenie.ng_rate_recipe(:u, :r, :v, 'again');
INSERT INTO ng_derived_bench.log VALUES ('rerate', 1);
END;
EOF
cat >"$dir/rerate_plain.sql" <<EOF
\\set k random(1, $base_ratings)
SELECT u, r FROM ng_derived_bench.seeded WHERE n = :k \\gset
\\set v random(1, 5)
WITH c AS (UPDATE nutragenie.recipe_ratings SET rating = :v WHERE user_id = :u AND recipe_id = :r RETURNING 1)
INSERT INTO ng_derived_bench.log SELECT 'rerate', count(*) FROM c;
EOF
# new ratings deleted again (one of the pairs handed out so far)
cat >"$dir/unrate_plain.sql" <<EOF
SELECT greatest(last_value, 1) AS last FROM ng_derived_bench.pairs \\gset
\\set n random(1, :last)
WITH c AS (DELETE FROM nutragenie.recipe_ratings rr USING ng_derived_bench.pair(:n) p
           WHERE rr.user_id = p.u AND rr.recipe_id = p.r RETURNING 1)
INSERT INTO ng_derived_bench.log SELECT 'ratings', -count(*) FROM c;
EOF
# nutrition of any user
cat >"$dir/nutrition_fn.sql" <<EOF
\\set u random(1, $nusers)
\\set c random(50, 900)
BEGIN;
SELECT nutragenie.ng_log_nutrition(jsonb_build_array(
    jsonb_build_object('userId', :u, 'date', '2026-04-01', 'mealType', 'lunch', 'foodName', 'Bench bowl', 'calories', :c, 'proteinG', 20),
    jsonb_build_object('userId', :u, 'date', '2026-04-02', 'foodName', 'Bench snack', 'calories', 120)));
INSERT INTO ng_derived_bench.log VALUES ('entries', 2);
END;
EOF
cat >"$dir/nutrition_plain.sql" <<EOF
\\set u random(1, $nusers)
\\set c random(50, 900)
BEGIN;
INSERT INTO nutragenie.nutrition_entries (user_id, entry_date, food_name, calories, carbs_g) VALUES (:u, '2026-04-03', 'Plain plate', :c, 30);
INSERT INTO ng_derived_bench.log VALUES ('entries', 1);
END;
EOF
cat >"$dir/nutrition_delete.sql" <<EOF
\\set u random(1, $nusers)
WITH c AS (DELETE FROM nutragenie.nutrition_entries
           WHERE id = (SELECT min(e.id) FROM nutragenie.nutrition_entries e WHERE e.user_id = :u) RETURNING 1)
INSERT INTO ng_derived_bench.log SELECT 'entries', -count(*) FROM c;
EOF

echo "pgbench: $CLIENTS clients, ${SECONDS_RUN} s"
rc=0
"$PGBENCH" -n -c "$CLIENTS" -j 2 -T "$SECONDS_RUN" --max-tries=20 --failures-detailed \
    -f "$dir/rate_new_fn.sql@3" -f "$dir/rate_new_plain.sql@2" -f "$dir/rerate_fn.sql@2" \
    -f "$dir/rerate_plain.sql@1" -f "$dir/unrate_plain.sql@1" -f "$dir/nutrition_fn.sql@2" \
    -f "$dir/nutrition_plain.sql@1" -f "$dir/nutrition_delete.sql@1" \
    >"$dir/pgbench.out" 2>&1 || rc=$?
grep -E '^(number of|latency average|tps)' "$dir/pgbench.out" || true
# go on after a failure: the counts below show what it broke
problems=()
((rc == 0)) || problems+=("pgbench exited with $rc: $(grep -m 3 -A1 'error:' "$dir/pgbench.out")")
processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$dir/pgbench.out")
failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$dir/pgbench.out")
[[ -n $processed && $processed -gt 0 ]] || fail "pgbench processed no transactions: $(tail -20 "$dir/pgbench.out")"
[[ ${failed:-0} == 0 ]] || problems+=("$failed transactions failed")

wait_queue_empty 120
[[ $(q -c "SELECT dead_letters FROM nutragenie_fdw.write_queue_status()") == 0 ]] || fail "dead letters: $(q -c 'SELECT * FROM nutragenie_fdw.dead_letters')"
echo "outbox drained"

issues=$(q -c "SELECT issue || ' ' || pg_table || ' ' || pg_id || ' ' || coalesce(collection, '') || ': ' || detail FROM ng_check_consistency()")
if [[ -n $issues ]]; then
    problems+=("ng_check_consistency() reports $(wc -l <<<"$issues") issues")
    echo "ng_check_consistency():"$'\n'"$issues"
else
    echo "ng_check_consistency(): no drift"
fi

counts=$(q -v srv=$S -v db=$S -v br="$base_ratings" -v be="$base_entries" <<'SQL'
WITH rc AS (
    SELECT coalesce(sum((d -> 'ratingAnalytics' ->> 'count')::bigint), 0) AS n
    FROM jsonb_array_elements(nutragenie_fdw.run_command(:'srv', '{"find": "recipe_content", "projection": {"ratingAnalytics.count": 1}, "batchSize": 100000}', :'db')
                              -> 'cursor' -> 'firstBatch') d),
ub AS (
    SELECT coalesce(sum((d -> 'ratingStats' ->> 'count')::bigint), 0) AS rs,
           coalesce(sum((d -> 'nutritionAnalytics' ->> 'entries')::bigint), 0) AS na
    FROM jsonb_array_elements(nutragenie_fdw.run_command(:'srv', '{"find": "user_behavior", "projection": {"ratingStats.count": 1, "nutritionAnalytics.entries": 1}, "batchSize": 100000}', :'db')
                              -> 'cursor' -> 'firstBatch') d)
SELECT concat_ws(' ',
    (SELECT count(*) FROM ng_derived_bench.log),
    :br + (SELECT coalesce(sum(n), 0) FROM ng_derived_bench.log WHERE kind = 'ratings'),
    (SELECT count(*) FROM nutragenie.recipe_ratings),
    (SELECT sum(rating_count) FROM nutragenie.recipes),
    rc.n, ub.rs,
    :be + (SELECT coalesce(sum(n), 0) FROM ng_derived_bench.log WHERE kind = 'entries'),
    (SELECT count(*) FROM nutragenie.nutrition_entries),
    ub.na,
    (SELECT count(*) FROM ng_derived_bench.log WHERE kind = 'ratings' AND n > 0),
    (SELECT count(*) FROM ng_derived_bench.log WHERE kind = 'ratings' AND n < 0),
    (SELECT count(*) FROM ng_derived_bench.log WHERE kind = 'rerate' AND n > 0))
FROM rc, ub;
SQL
)
read -r logged exp_ratings ratings rating_count_sum analytics_sum stats_sum exp_entries entries analytics_entries \
    new_ratings deleted_ratings rerated <<<"$counts"
echo "transactions: pgbench $processed, logged $logged ($new_ratings new ratings, $deleted_ratings deleted, $rerated replaced)"
echo "ratings: expected $exp_ratings, table $ratings, sum(recipes.rating_count) $rating_count_sum, sum(ratingAnalytics.count) $analytics_sum, sum(ratingStats.count) $stats_sum"
echo "nutrition entries: expected $exp_entries, table $entries, sum(nutritionAnalytics.entries) $analytics_entries"
# per recipe and user, independently of ng_check_consistency()
drift=$(derived_drift $S)
w_recipes=$(grep -c ': rating_count' <<<"$drift" || true)
w_analytics=$(grep -c ': ratingAnalytics' <<<"$drift" || true)
w_stats=$(grep -c ': ratingStats' <<<"$drift" || true)
w_nutrition=$(grep -c ': nutritionAnalytics' <<<"$drift" || true)
echo "wrong: recipes.rating_* $w_recipes, ratingAnalytics $w_analytics, ratingStats $w_stats, nutritionAnalytics $w_nutrition"
[[ "$w_recipes $w_analytics $w_stats $w_nutrition" == "0 0 0 0" ]] ||
    problems+=("derived values drifted: $w_recipes recipes in PostgreSQL, $w_analytics in MongoDB, ratingStats of $w_stats users, nutritionAnalytics of $w_nutrition users")
[[ $logged == "$processed" ]] || problems+=("pgbench processed $processed transactions but $logged committed")
for v in "$ratings" "$rating_count_sum" "$analytics_sum" "$stats_sum"; do
    [[ $v == "$exp_ratings" ]] || { problems+=("lost rating increments: expected $exp_ratings everywhere"); break; }
done
for v in "$entries" "$analytics_entries"; do
    [[ $v == "$exp_entries" ]] || { problems+=("lost nutrition increments: expected $exp_entries everywhere"); break; }
done
((new_ratings > 0 && deleted_ratings > 0 && rerated > 0)) || problems+=("the workload did not exercise every kind of write")
((${#problems[@]} == 0)) || fail "$(printf '%s\n' "${problems[@]}")"
ok "no drift, no lost increments, outbox drained after ${SECONDS_RUN} s of $CLIENTS clients"

q -c "SET client_min_messages = warning" -c "DROP SCHEMA ng_derived_bench CASCADE" >/dev/null
teardown_domain $S
