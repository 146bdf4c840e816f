#!/usr/bin/env bash
# Derived values stay exact when two sessions change the data they are
# computed from at the same time.  Each case is a deterministic race between
# two sessions: A makes its change and keeps its transaction open; B starts
# the same kind of change and A commits only once B waits for it (polled in
# pg_blocking_pids, no sleeps as ordering); then B commits.  Before 1.2 B
# recomputed from a snapshot without A's row and overwrote A's value:
#   1. two users rate one recipe: recipes.rating_* and ratingAnalytics;
#   2. one user rates two recipes (one by ng_rate_recipe, one by a plain
#      INSERT): the user's ratingStats;
#   3. one user logs nutrition twice: nutritionAnalytics;
#   4. a user without a user_behavior document rates two recipes: both
#      sessions create the document (B failed with unique_violation);
#   5. a plain INSERT into nutrition_entries races ng_log_nutrition (before
#      1.2 a plain write did not refresh nutritionAnalytics at all).
# After each case every derived value is compared with the rows it derives
# from, in PostgreSQL and in MongoDB (read by a plain find, as any client
# would), and ng_check_consistency() must report nothing.
source "$(dirname "$0")/lib/common.bash"
S=ng_derived_race
setup_domain $S 4 3 0
# users 5..8: 5 and 6 have a user_behavior document (from their nutrition
# log), 7 and 8 have none
q >/dev/null <<'SQL'
SELECT ng_create_user(jsonb_build_object('email', 'race' || g || '@example.com', 'passwordHash', '$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy'))
FROM generate_series(5, 8) g;
SELECT ng_log_nutrition('[{"userId": 5, "date": "2026-03-01", "foodName": "Soup", "calories": 100},
                          {"userId": 6, "date": "2026-03-01", "foodName": "Tea", "calories": 5}]');
SQL
[[ $(q -c "SELECT count(*) FROM users") == 8 ]] || fail "setup: expected 8 users"

failures=()

drift() { derived_drift $S; }

# race LABEL SQL_A SQL_B: the two-session race described above
race() {
    local label=$1 a=$2 b=$3 out=$NG_STACK_DIR/race.a.out pid i rc=0 d issues before
    before=$(drift)
    PGAPPNAME=ng_race_a q >"$out" 2>&1 <<SQL &
BEGIN;
$a;
SET application_name = 'ng_race_a_ready';
DO \$\$
DECLARE
    i int := 0;
    b_seen boolean := false;
BEGIN
    LOOP
        PERFORM pg_stat_clear_snapshot();
        EXIT WHEN EXISTS (SELECT FROM pg_stat_activity x WHERE pg_backend_pid() = ANY (pg_blocking_pids(x.pid)));
        IF EXISTS (SELECT FROM pg_stat_activity x WHERE x.application_name = 'ng_race_b') THEN
            b_seen := true;
        ELSIF b_seen THEN
            RAISE EXCEPTION 'session B finished without waiting for session A';
        END IF;
        i := i + 1;
        IF i > 12000 THEN
            RAISE EXCEPTION 'session B never waited for session A';
        END IF;
        PERFORM pg_sleep(0.005);
    END LOOP;
END
\$\$;
COMMIT;
SQL
    pid=$!
    for ((i = 0; i < 6000; i++)); do
        [[ $(q -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ng_race_a_ready'") == 1 ]] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.01
    done
    local bout
    bout=$(PGAPPNAME=ng_race_b q 2>&1 <<SQL
BEGIN;
$b;
COMMIT;
SQL
    ) || rc=$?
    if ! wait "$pid"; then
        failures+=("$label: session A failed: $(cat "$out")")
        echo "FAILED $label: session A failed: $(cat "$out")"
        return
    fi
    wait_queue_empty
    if ((rc != 0)); then
        failures+=("$label: session B failed: $bout")
        echo "FAILED $label: session B failed: $bout"
        return
    fi
    # only what this race broke (an earlier failed case may have left drift)
    d=$(comm -13 <(echo "$before") <(drift))
    if [[ -n $d ]]; then
        failures+=("$label: $d")
        echo "FAILED $label: derived values drifted:"$'\n'"$d"
        return
    fi
    [[ -n $before ]] && { echo "exact: $label (earlier drift left as it was)"; return; }
    issues=$(q -c "SELECT issue || ' ' || pg_table || ' ' || pg_id || ': ' || detail FROM ng_check_consistency()")
    if [[ -n $issues ]]; then
        failures+=("$label: ng_check_consistency reports $issues")
        echo "FAILED $label: ng_check_consistency reports: $issues"
        return
    fi
    echo "exact: $label"
}

[[ -z $(drift) ]] || fail "drift before the races: $(drift)"

race "two users rate one recipe" \
    "SELECT ng_rate_recipe(5, 1, 5)" \
    "SELECT ng_rate_recipe(6, 1, 1)"
race "one user rates two recipes (function and plain INSERT)" \
    "SELECT ng_rate_recipe(5, 2, 4)" \
    "INSERT INTO nutragenie.recipe_ratings (user_id, recipe_id, rating) VALUES (5, 3, 2)"
race "one user logs nutrition twice" \
    "SELECT ng_log_nutrition('{\"userId\": 6, \"date\": \"2026-03-02\", \"foodName\": \"Rice\", \"calories\": 300}')" \
    "SELECT ng_log_nutrition('{\"userId\": 6, \"date\": \"2026-03-03\", \"foodName\": \"Bread\", \"calories\": 250}')"
race "a user without behaviour document rates two recipes" \
    "SELECT ng_rate_recipe(7, 1, 3)" \
    "SELECT ng_rate_recipe(7, 2, 5)"
race "a plain nutrition INSERT races ng_log_nutrition" \
    "SELECT ng_log_nutrition('{\"userId\": 8, \"date\": \"2026-03-02\", \"foodName\": \"Egg\", \"calories\": 80}')" \
    "INSERT INTO nutragenie.nutrition_entries (user_id, entry_date, food_name, calories) VALUES (8, '2026-03-02', 'Toast', 120)"

((${#failures[@]} == 0)) || fail "${#failures[@]} of 5 races failed: $(printf '\n  %s' "${failures[@]}")"
[[ $(q -c "SELECT dead_letters FROM nutragenie_fdw.write_queue_status()") == 0 ]] || fail "dead letters"
ok "derived values are exact after every race"

teardown_domain $S
