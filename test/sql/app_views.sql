-- The NutraGenie domain: demo data, the analysts' views and what they push
-- down to MongoDB, health and report.
SET search_path = public, nutragenie;
-- explain_plan(): what is sent to MongoDB, the same on every version
\i test/sql/include/explain.sql
\getenv mongo_uri MONGODB_URI
CREATE SERVER dom_views_srv FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (uri :'mongo_uri');
CREATE USER MAPPING FOR CURRENT_USER SERVER dom_views_srv;
SELECT nutragenie_fdw.run_command('dom_views_srv', '{"dropDatabase": 1}', 'ng_dom_views') ->> 'ok' AS dropped;
TRUNCATE users, recipes, payments, nutrition_goals, nutrition_entries, recipe_ratings,
         chat_messages, cooking_sessions RESTART IDENTITY CASCADE;
SELECT ng_attach_mongo('dom_views_srv', 'ng_dom_views') ->> 'database' AS attached;

\set ECHO none
\i test/demo_seed.sql
\set ECHO all
SELECT nutragenie_demo.ng_seed_demo(12, 15, 20);
-- plans below depend on the local tables' statistics: take them now rather
-- than whenever autovacuum gets to it
ANALYZE users, recipes, payments, nutrition_goals, nutrition_entries, recipe_ratings,
        chat_messages, cooking_sessions;
SELECT ng_report() - 'consistencyIssues' AS report, ng_report() -> 'consistencyIssues' AS issues;
DO $$ BEGIN PERFORM nutragenie_demo.ng_seed_demo(0, 1, 1); EXCEPTION WHEN invalid_parameter_value THEN RAISE NOTICE 'rejected: %', SQLERRM; END $$;
SELECT _id, name, cuisines FROM chef_personalities ORDER BY _id;

-- recipe_full: one recipe is one keyed find
SELECT id, title, category, difficulty_level, average_rating, rating_count, calories, protein_g, tags,
       jsonb_array_length(steps) AS steps, content_missing
FROM recipe_full WHERE id = 7;
EXPLAIN (COSTS OFF) SELECT id, title, calories FROM recipe_full WHERE id = 7;
SELECT category, count(*), round(avg(calories)) AS avg_kcal FROM recipe_full GROUP BY category ORDER BY category;

-- user_full_profile: the profile by _id, the behaviour document by user id
SELECT id, email, diet_type, calorie_target, allergies, skill_level, preferred_chef,
       nutrition_analytics ->> 'daysLogged' AS days, profile_missing
FROM user_full_profile WHERE id = 3;
SELECT explain_plan($$SELECT diet_type, nutrition_analytics FROM user_full_profile WHERE id = 3$$, remote_only => true);

-- cooking_session_analytics: one user's sessions
SELECT session_id, recipe_title, mode, status, duration_seconds, total_steps, steps_completed,
       voice_interaction_count, percent_complete
FROM cooking_session_analytics WHERE user_id = 4 AND status <> 'active' ORDER BY session_id;
EXPLAIN (COSTS OFF) SELECT session_id, voice_interaction_count FROM cooking_session_analytics WHERE user_id = 4;
SELECT mode, count(*), sum(voice_interaction_count) AS voice, round(avg(duration_seconds) FILTER (WHERE status = 'completed')) AS avg_s
FROM cooking_session_analytics GROUP BY mode ORDER BY mode;

-- nutrition_vs_goals: a user and a date range
SELECT user_id, entry_date, entries, calories, goal_calories, calories_pct_of_goal, diet_type, profile_calorie_target
FROM nutrition_vs_goals WHERE user_id = 2 AND entry_date BETWEEN '2026-01-06' AND '2026-01-08' ORDER BY entry_date;
SELECT explain_plan($$SELECT * FROM nutrition_vs_goals WHERE user_id = 2 AND entry_date BETWEEN '2026-01-06' AND '2026-01-08'$$, remote_only => true);

-- popular recipes: one find for all of their documents
SELECT rank, recipe_id, title, average_rating, rating_count, content -> 'cuisine' AS cuisine FROM ng_popular_recipes(5);

-- health: the shape (latency and versions vary)
SELECT ng_health() ->> 'status' AS status,
       (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(ng_health()) k) AS keys,
       (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(ng_health() -> 'mongodb') k) AS mongodb,
       (ng_health() -> 'writeQueue') - 'oldestAgeSeconds' AS queue;

-- the demo data is deterministic: same data on every run
SELECT md5(string_agg(format('%s %s %s %s', id, title, category, average_rating), ',' ORDER BY id)) FROM recipes;
SELECT md5(string_agg(format('%s %s %s', user_id, recipe_id, rating), ',' ORDER BY user_id, recipe_id)) FROM recipe_ratings;

SET client_min_messages = warning;
SELECT ng_detach_mongo();
TRUNCATE users, recipes, payments, nutrition_goals, nutrition_entries, recipe_ratings,
         chat_messages, cooking_sessions RESTART IDENTITY CASCADE;
SELECT nutragenie_fdw.run_command('dom_views_srv', '{"dropDatabase": 1}', 'ng_dom_views') ->> 'ok' AS dropped;
DROP SERVER dom_views_srv CASCADE;
DROP FUNCTION explain_analyze(text), explain_plan(text, bool);
