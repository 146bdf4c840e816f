#!/usr/bin/env bash
# Every dual-write ng_* function (and the sync triggers) is atomic: when an
# error is injected after its MongoDB write -- a later statement of the same
# transaction, or a deferred constraint trigger on a PostgreSQL table that
# fails at COMMIT -- neither PostgreSQL nor MongoDB keeps anything.  Both
# stores are compared, document by document, before and after.  Events
# (NOTIFY nutragenie_events) are delivered for committed work only.
source "$(dirname "$0")/lib/common.bash"
S=ng_dom_atomic
DB=ng_dom_atomic
setup_domain $S 4 5 3

q -v srv=$S -v db=$DB <<'SQL' >/dev/null
SELECT ng_start_cooking_session(1, 1, 'voice');

-- the state of both stores, as text: every row of the domain tables, every
-- document of the collections (read by a plain find, as any client would)
CREATE OR REPLACE FUNCTION public.ng_dom_state(srv name, db text) RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(part, E'\n' ORDER BY part) FROM (
    SELECT t || ' ' || coalesce((xpath('/x/text()', query_to_xml(format(
             'SELECT md5(coalesce(string_agg(x::text, %L ORDER BY x::text), %L)) AS x FROM nutragenie.%I x', '|', '', t),
             false, false, '')))[1]::text, '') AS part
    FROM unnest(ARRAY['users', 'recipes', 'recipe_ratings', 'nutrition_entries', 'nutrition_goals',
                      'cooking_sessions']) t
    UNION ALL
    SELECT c || ' ' || md5(coalesce((nutragenie_fdw.run_command(srv, json_build_object('find', c, 'sort', json_build_object('_id', 1),
                                                    'batchSize', 100000), db) -> 'cursor' -> 'firstBatch')::text, ''))
    FROM unnest(ARRAY['recipe_content', 'user_profiles', 'cooking_session_details', 'chef_personalities',
                      'user_behavior']) c) p
$$;

-- a deferred constraint trigger that fails at COMMIT when asked to
CREATE OR REPLACE FUNCTION public.ng_dom_fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('ng_dom_test.fail', true) = 'on' THEN
    RAISE EXCEPTION 'injected failure at commit';
  END IF;
  RETURN NULL;
END $$;
DO $$ DECLARE t text; BEGIN
  FOREACH t IN ARRAY ARRAY['users', 'recipes', 'recipe_ratings', 'nutrition_entries', 'cooking_sessions'] LOOP
    EXECUTE format('DROP TRIGGER IF EXISTS ng_dom_fail ON nutragenie.%I', t);
    EXECUTE format('CREATE CONSTRAINT TRIGGER ng_dom_fail AFTER INSERT OR UPDATE OR DELETE ON nutragenie.%I
                    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.ng_dom_fail_at_commit()', t);
  END LOOP;
END $$;
SQL

state() { q -v srv=$S -v db=$DB <<<"SELECT public.ng_dom_state(:'srv', :'db')"; }

# each call writes MongoDB; the first arguments are chosen so that it would
# succeed on its own
calls=(
  "SELECT ng_create_recipe('{\"title\": \"Atomic soup\", \"steps\": [\"Boil\"], \"tags\": [\"x\"]}')"
  "SELECT ng_create_user('{\"email\": \"atomic@example.com\", \"passwordHash\": \"\$2a\$10\$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy\", \"dietaryProfile\": {\"dietType\": \"vegan\"}}')"
  "SELECT ng_start_cooking_session(2, 3, 'voice')"
  "SELECT ng_log_voice_interaction(4, '{\"command\": \"next\", \"step\": 1, \"stepCompleted\": true}')"
  "SELECT ng_finish_cooking_session(4)"
  "SELECT ng_rate_recipe(1, 2, 1, 'changed my mind')"
  "SELECT ng_rate_recipe(4, 5, 5)"
  "SELECT ng_log_nutrition('[{\"userId\": 1, \"date\": \"2026-02-01\", \"foodName\": \"Soup\", \"calories\": 300}, {\"userId\": 3, \"date\": \"2026-02-01\", \"foodName\": \"Tea\", \"calories\": 5}]')"
  "SELECT nutragenie_demo.ng_seed_demo(2, 2, 2)"
  "INSERT INTO nutragenie.users (email, password_hash) VALUES ('plain@example.com', 'h')"
  "DELETE FROM nutragenie.recipes WHERE id = 3"
  "DELETE FROM nutragenie.users WHERE id = 4"
  "DELETE FROM nutragenie.cooking_sessions WHERE id = 1"
  "INSERT INTO nutragenie.cooking_sessions (user_id, recipe_id) VALUES (1, 1); SELECT count(*) FROM ng_repair_consistency(false)"
)

before=$(state)
for call in "${calls[@]}"; do
    # 1. an error in a later statement of the same transaction
    out=$(q -v ON_ERROR_STOP=0 2>&1 <<SQL
BEGIN;
$call;
SELECT 'wrote' FROM nutragenie_fdw.outbox LIMIT 1;
SELECT 1 / 0;
COMMIT;
SQL
    ) || true
    [[ $out == *wrote* ]] || fail "no MongoDB write queued by: $call ($out)"
    [[ $out == *"division by zero"* ]] || fail "the injected error did not happen: $call ($out)"
    [[ $(state) == "$before" ]] || fail "a later error left changes behind: $call"
    # 2. a deferred constraint trigger failing at COMMIT, after the function returned
    out=$(q -v ON_ERROR_STOP=0 2>&1 <<SQL
BEGIN;
SET LOCAL ng_dom_test.fail = on;
$call;
COMMIT;
SQL
    ) || true
    [[ $out == *"injected failure at commit"* ]] || fail "the commit-time failure did not happen: $call ($out)"
    [[ $(state) == "$before" ]] || fail "a failing COMMIT left changes behind: $call"
    echo "atomic: $call"
done

# the same calls, committed, do change both stores
for call in "${calls[@]}"; do
    cur=$(state)
    q -c "$call" >/dev/null
    after=$(state)
    [[ $after != "$cur" ]] || fail "committing changed nothing: $call"
    grep -q '^recipe_content\|^user_profiles\|^cooking_session_details\|^user_behavior' <<<"$(diff <(echo "$cur") <(echo "$after") | sed -n 's/^> //p')" \
        || fail "committing did not change MongoDB: $call"
done
wait_queue_empty
[[ $(q -c "SELECT count(*) FROM ng_check_consistency()") == 0 ]] || fail "inconsistent after the committed calls: $(q -c 'SELECT * FROM ng_check_consistency()')"
[[ $(q -c "SELECT dead_letters FROM nutragenie_fdw.write_queue_status()") == 0 ]] || fail "dead letters"
ok "every dual-write function and trigger is atomic with the transaction"

# events: delivered at commit, never for a rolled-back transaction
events=$(q 2>&1 <<'SQL'
LISTEN nutragenie_events;
BEGIN;
SELECT ng_create_user('{"email": "rolled-back@example.com", "passwordHash": "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"}');
ROLLBACK;
SELECT 1;
BEGIN;
SELECT ng_create_user('{"email": "committed@example.com", "passwordHash": "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"}');
SELECT ng_rate_recipe(1, 1, 4);
COMMIT;
SELECT 1;
SQL
)
grep -q 'rolled-back@example.com' <<<"$events" && fail "an event of a rolled-back transaction was delivered"
grep 'committed@example.com' <<<"$events" | grep -q '"event": "user.created"' || fail "user.created was not delivered: $events"
grep -q '"event": "recipe.rated"' <<<"$events" || fail "recipe.rated was not delivered: $events"
ok "events are published at commit only"

q -v srv=$S -v db=$DB <<'SQL' >/dev/null
SET client_min_messages = warning;
DO $$ DECLARE t text; BEGIN
  FOREACH t IN ARRAY ARRAY['users', 'recipes', 'recipe_ratings', 'nutrition_entries', 'cooking_sessions'] LOOP
    EXECUTE format('DROP TRIGGER IF EXISTS ng_dom_fail ON nutragenie.%I', t);
  END LOOP;
END $$;
DROP FUNCTION public.ng_dom_fail_at_commit();
DROP FUNCTION public.ng_dom_state(name, text);
SELECT ng_detach_mongo();
TRUNCATE nutragenie.users, nutragenie.recipes, nutragenie.payments, nutragenie.nutrition_goals,
         nutragenie.nutrition_entries, nutragenie.recipe_ratings, nutragenie.chat_messages,
         nutragenie.cooking_sessions RESTART IDENTITY CASCADE;
SELECT nutragenie_fdw.run_command(:'srv', '{"dropDatabase": 1}', :'db');
DROP SERVER :"srv" CASCADE;
SQL
