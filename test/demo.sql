-- make demo: a small NutraGenie sample across PostgreSQL and MongoDB, and a
-- few showcase queries.  Safe to run again: it rebuilds its own objects.
\set ON_ERROR_STOP 1
\pset footer off
SET client_min_messages = warning;
-- a fresh install each time, so that a rebuilt extension is what runs
DROP EXTENSION IF EXISTS nutragenie CASCADE;
DROP EXTENSION IF EXISTS nutragenie_fdw CASCADE;
CREATE EXTENSION nutragenie CASCADE;
-- the demo's data generator, nutragenie_demo.ng_seed_demo
\i test/demo_seed.sql
SET search_path = demo, public, nutragenie;
ALTER DATABASE :"DBNAME" SET search_path = demo, public, nutragenie;

DROP SCHEMA IF EXISTS demo CASCADE;
DROP SERVER IF EXISTS mongo CASCADE;
CREATE SCHEMA demo;

\getenv mongo_uri MONGODB_URI
CREATE SERVER mongo FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri :'mongo_uri', database 'nutragenie_demo');
CREATE USER MAPPING FOR CURRENT_USER SERVER mongo;

-- MongoDB side: full recipe content
DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('mongo', '{"drop": "recipe_content"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;
SELECT nutragenie_fdw.run_command('mongo', json_build_object(
  'insert', 'recipe_content',
  'documents', (
    SELECT json_agg(json_build_object(
      '_id', json_build_object('$oid', lpad(to_hex(g), 24, '6')),
      'postgresId', g,
      'title', (ARRAY['Overnight oats', 'Lentil soup', 'Chicken stir-fry', 'Greek salad',
                      'Salmon bowl', 'Veggie chili', 'Banana pancakes', 'Tofu curry'])[1 + (g - 1) % 8]
               || ' #' || g,
      'ingredients', json_build_array(
          json_build_object('name', 'ingredient A', 'grams', 50 + g % 50),
          json_build_object('name', 'ingredient B', 'grams', 20 + g % 30)),
      'steps', json_build_array('Prepare', 'Cook', 'Serve'),
      'nutrition', json_build_object('calories', 250 + (g * 37) % 500,
                                     'protein_g', round((5 + (g * 13) % 40)::numeric, 1)),
      'tags', CASE WHEN g % 3 = 0 THEN json_build_array('vegan', 'quick')
                   WHEN g % 3 = 1 THEN json_build_array('high-protein')
                   ELSE json_build_array() END,
      'updatedAt', json_build_object('$date', to_char(timestamptz '2026-01-01 00:00+00'
                                                      + g * interval '1 day',
                                                      'YYYY-MM-DD"T"HH24:MI:SS"Z"'))))
    FROM generate_series(1, 40) g))::json) - 'ok' AS inserted;

CREATE FOREIGN TABLE recipe_content (
    _id         objectid,
    postgres_id bigint      OPTIONS (field 'postgresId'),
    title       text,
    calories    int         OPTIONS (field 'nutrition.calories'),
    protein_g   numeric     OPTIONS (field 'nutrition.protein_g'),
    tags        text[],
    updated_at  timestamptz OPTIONS (field 'updatedAt'),
    doc         jsonb       OPTIONS (field '$$ROOT')
) SERVER mongo OPTIONS (collection 'recipe_content');

-- PostgreSQL side: recipe metadata pointing at the documents
CREATE TABLE recipes (
    id                bigint PRIMARY KEY,
    category          text NOT NULL,
    difficulty_level  int NOT NULL CHECK (difficulty_level BETWEEN 1 AND 5),
    mongodb_recipe_id objectid UNIQUE
);
INSERT INTO recipes
SELECT g, (ARRAY['breakfast', 'lunch', 'dinner', 'snack'])[1 + g % 4], 1 + g % 5,
       lpad(to_hex(g), 24, '6')::objectid
FROM generate_series(1, 40) g;
ANALYZE recipes;

\echo
\echo '== Documents read as rows: WHERE and projection run inside MongoDB'
SELECT title, calories, protein_g, tags FROM recipe_content
WHERE calories < 400 AND title LIKE 'Lentil%' ORDER BY title;
EXPLAIN (COSTS OFF)
SELECT title, calories, protein_g, tags FROM recipe_content
WHERE calories < 400 AND title LIKE 'Lentil%';

\echo
\echo '== A cross-store join: lunch recipes (PostgreSQL) with their content (MongoDB)'
SELECT r.id, r.difficulty_level, c.title, c.calories
FROM recipes r JOIN recipe_content c ON c._id = r.mongodb_recipe_id
WHERE r.category = 'lunch' AND r.difficulty_level >= 3
ORDER BY r.id;
-- The plan PostgreSQL picks: a batched key join, one find with the keys of
-- the matching recipes ({"_id": {"$in": [...]}}), never a full scan.
\echo '-- the plan: one $in find per batch of matching recipes'
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT r.id, c.title
FROM recipes r JOIN recipe_content c ON c._id = r.mongodb_recipe_id
WHERE r.category = 'lunch' AND r.difficulty_level >= 3;
\echo '-- without batching: a nested loop, one keyed find per outer row'
SET nutragenie.enable_batched_join = off;
SET enable_hashjoin = off; SET enable_mergejoin = off; SET enable_material = off;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT r.id, c.title
FROM recipes r JOIN recipe_content c ON c._id = r.mongodb_recipe_id
WHERE r.category = 'lunch' AND r.difficulty_level >= 3;
RESET enable_hashjoin; RESET enable_mergejoin; RESET enable_material;
RESET nutragenie.enable_batched_join;

\echo
\echo '== Whole documents as jsonb'
SELECT jsonb_pretty(doc - 'steps') FROM recipe_content WHERE postgres_id = 7;

\echo
\echo '== ObjectIds carry their creation time'
SELECT mongodb_recipe_id, objectid_timestamp(mongodb_recipe_id) FROM recipes ORDER BY id LIMIT 3;

\echo
\echo '== A document that does not fit its column is an error, never a silent NULL'
SELECT nutragenie_fdw.run_command('mongo', '{"insert": "recipe_content", "documents": [{"_id": {"$oid": "6666666666666666666666ff"}, "title": "Broken", "nutrition": {"calories": "lots"}}]}') - 'ok' AS inserted;
\set ON_ERROR_STOP 0
SELECT title, calories FROM recipe_content WHERE title = 'Broken';
\set ON_ERROR_STOP 1
SELECT nutragenie_fdw.run_command('mongo', '{"delete": "recipe_content", "deletes": [{"q": {"title": "Broken"}, "limit": 1}]}') - 'ok' AS deleted;

\echo
\echo '== Connections held by this session'
SELECT * FROM nutragenie_fdw.connections();

-- ==== The NutraGenie domain tour ====
-- The same server, another MongoDB database: the NutraGenie collections,
-- foreign tables and views, demo data in both stores, and what the app,
-- analysts and DBAs do with them.
SELECT ng_detach_mongo() AS detached_previous;
TRUNCATE nutragenie.users, nutragenie.recipes, nutragenie.payments, nutragenie.nutrition_goals,
         nutragenie.nutrition_entries, nutragenie.recipe_ratings, nutragenie.chat_messages,
         nutragenie.cooking_sessions RESTART IDENTITY CASCADE;
SELECT nutragenie_fdw.run_command('mongo', '{"dropDatabase": 1}', 'nutragenie_app') ->> 'ok' AS dropped;

\echo
\echo '== NutraGenie: attach the collections (foreign tables + views) and seed demo data'
SELECT jsonb_pretty(ng_attach_mongo('mongo', 'nutragenie_app'));
SELECT jsonb_pretty(nutragenie_demo.ng_seed_demo(20, 24, 30));

\echo
\echo '== The app: one call for a full recipe (PostgreSQL metadata + MongoDB content)'
SELECT jsonb_pretty(ng_full_recipe(5) #- '{content,steps}');

\echo
\echo '== The app: create a recipe -- row and document, each naming the other, one transaction'
SELECT ng_create_recipe('{"title": "Green shakshuka", "category": "breakfast", "difficultyLevel": 2,
  "servings": 2, "cuisine": "mediterranean", "tags": ["vegetarian", "quick"],
  "ingredients": [{"name": "eggs", "quantity": 4, "unit": "piece"}, {"name": "spinach", "quantity": 200, "unit": "g"}],
  "steps": ["Wilt the spinach.", "Make four wells and crack in the eggs.", "Cover and cook 6 minutes."],
  "nutrition": {"calories": 310, "protein_g": 21}}') AS new_recipe \gset
SELECT r.id, r.title, r.mongodb_recipe_id = c._id AS linked, c.postgres_id, c.calories, c.tags
FROM nutragenie.recipes r JOIN nutragenie.recipe_content c ON c._id = r.mongodb_recipe_id
WHERE r.id = :new_recipe;

\echo
\echo '== The app: a voice cooking session'
SELECT ng_start_cooking_session(3, :new_recipe, 'voice') AS session \gset
SELECT ng_log_voice_interaction(:session, '{"command": "start", "response": "Wilt the spinach in a wide pan.", "step": 1}') AS n;
SELECT ng_log_voice_interaction(:session, '{"transcript": "spinach is done", "step": 1, "stepCompleted": true}') AS n;
SELECT ng_log_voice_interaction(:session, '{"transcript": "eggs are in", "step": 2, "stepCompleted": true}') AS n;
SELECT ng_finish_cooking_session(:session) - 'durationSeconds' AS summary;
SELECT jsonb_pretty((SELECT jsonb_agg(e - 'at') FROM jsonb_array_elements(voice_interactions) e)) AS voice_log
FROM nutragenie.cooking_session_details WHERE postgres_session_id = :session;

\echo
\echo '== The app: a rating updates PostgreSQL aggregates and MongoDB analytics together'
SELECT ng_rate_recipe(3, :new_recipe, 5, 'Lovely and fast');
SELECT rating_analytics - 'lastRatedAt' AS mongo_analytics FROM nutragenie.recipe_content WHERE postgres_id = :new_recipe;

\echo
\echo '== Popular recipes: ranked in PostgreSQL, content fetched in one MongoDB request'
SELECT rank, recipe_id, title, average_rating, rating_count, content ->> 'cuisine' AS cuisine,
       content -> 'nutrition' ->> 'calories' AS kcal
FROM ng_popular_recipes(5);

\echo
\echo '== The app: recommendations that respect diet, allergies and the calorie goal, with the reasons'
SELECT jsonb_build_object('dietType', diet_type, 'allergies', allergies, 'calorieTarget', calorie_target) AS profile_of_user_3
FROM nutragenie.user_full_profile WHERE id = 3;
SELECT rank, title, cuisine, calories, score, reasons FROM ng_recommend_recipes(3, 5);

\echo
\echo '== The app: chat with an AI chef -- a deterministic reply that says why'
SELECT jsonb_pretty(ng_chat(3, 'Help, I think I burned the onions!') - 'messageId' - 'replyId');
SELECT jsonb_pretty(ng_chat(3, 'What can I use instead of butter?') - 'messageId' - 'replyId');
SELECT patterns -> 'chat' AS chat_patterns FROM nutragenie.user_behavior WHERE _id = 3;

\echo
\echo '== The app: a payment, recorded once per provider reference; the webhook repeats, then succeeds'
SELECT ng_record_payment('{"userId": 3, "amount": 9.99, "currency": "EUR", "provider": "stripe",
                           "providerReference": "pi_demo_1", "description": "Premium, 1 month"}') ->> 'paymentId' AS payment;
SELECT ng_record_payment('{"userId": 3, "amount": 9.99, "currency": "EUR", "provider": "stripe",
                           "providerReference": "pi_demo_1"}') ->> 'changed' AS repeat_changed_anything;
SELECT p ->> 'status' AS status, jsonb_path_query_array(p, '$.history[*].to') AS history
FROM ng_record_payment('{"userId": 3, "amount": 9.99, "currency": "EUR", "provider": "stripe",
                         "providerReference": "pi_demo_1", "status": "succeeded"}') p;
\set ON_ERROR_STOP 0
SELECT ng_set_payment_status(1, 'pending');
\set ON_ERROR_STOP 1

\echo
\echo '== Consumers: the durable event log, read from a cursor: the first page, then the next one'
SELECT id, event, payload FROM ng_events(0, 3);
SELECT id, event, payload FROM ng_events((SELECT id FROM ng_events(0, 3) OFFSET 2), 3);

\echo
\echo '== Analysts: a view across both stores; a selective query is one keyed find per row'
SELECT user_id, entry_date, calories, goal_calories, calories_pct_of_goal, diet_type
FROM nutragenie.nutrition_vs_goals WHERE user_id = 2 AND entry_date BETWEEN '2026-01-05' AND '2026-01-07'
ORDER BY entry_date;
EXPLAIN (COSTS OFF)
SELECT session_id, recipe_title, voice_interaction_count FROM nutragenie.cooking_session_analytics WHERE user_id = 3;
SELECT session_id, recipe_title, mode, status, steps_completed, voice_interaction_count, percent_complete
FROM nutragenie.cooking_session_analytics WHERE user_id = 3 ORDER BY session_id;

\echo
\echo '== DBAs: health and report'
SELECT jsonb_pretty(ng_health());
SELECT jsonb_pretty(ng_report());

\echo
\echo '== DBAs: an inconsistency injected behind nutragenie''s back, found and repaired'
SELECT nutragenie_fdw.run_command('mongo', '{"delete": "user_profiles", "deletes": [{"q": {"postgresUserId": 7}, "limit": 1}]}', 'nutragenie_app') ->> 'n' AS profile_deleted;
SELECT nutragenie_fdw.run_command('mongo', '{"insert": "recipe_content", "documents": [{"postgresId": 4242, "title": "Ghost recipe"}]}', 'nutragenie_app') ->> 'n' AS orphan_inserted;
SELECT issue, pg_table, pg_id, collection, detail FROM ng_check_consistency();
SELECT issue, pg_id, action, applied FROM ng_repair_consistency();        -- dry run
SELECT issue, pg_id, action, applied FROM ng_repair_consistency(false);
SELECT count(*) AS issues_left FROM ng_check_consistency();
