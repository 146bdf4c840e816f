-- The NutraGenie domain: cross-store consistency check and repair, and the
-- migration of a PostgreSQL-first deployment into MongoDB.
SET search_path = public, nutragenie;
\getenv mongo_uri MONGODB_URI
CREATE SERVER dom_cons_srv FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (uri :'mongo_uri');
CREATE USER MAPPING FOR CURRENT_USER SERVER dom_cons_srv;
SELECT nutragenie_fdw.run_command('dom_cons_srv', '{"dropDatabase": 1}', 'ng_dom_cons') ->> 'ok' AS dropped;
TRUNCATE users, recipes, payments, nutrition_goals, nutrition_entries, recipe_ratings,
         chat_messages, cooking_sessions RESTART IDENTITY CASCADE;

-- A PostgreSQL-first deployment: profiles and content as jsonb columns,
-- no MongoDB yet.
INSERT INTO users (email, password_hash, profile)
SELECT 'pg' || g || '@example.com', 'h',
       CASE WHEN g % 2 = 0 THEN jsonb_build_object('dietaryProfile', jsonb_build_object('dietType', 'vegan', 'calorieTarget', 1800 + g)) END
FROM generate_series(1, 5) g;
INSERT INTO recipes (title, category, content)
SELECT 'Old recipe ' || g, 'dinner',
       jsonb_build_object('ingredients', jsonb_build_array(jsonb_build_object('name', 'rice', 'quantity', g * 10)),
                          'steps', jsonb_build_array(jsonb_build_object('order', 1, 'instruction', 'Cook')),
                          'nutrition', jsonb_build_object('calories', 300 + g), 'tags', jsonb_build_array('legacy'))
FROM generate_series(1, 7) g;

SELECT ng_attach_mongo('dom_cons_srv', 'ng_dom_cons') ->> 'database' AS attached;
SELECT issue, count(*), min(detail) FROM ng_check_consistency() GROUP BY issue ORDER BY issue;

-- migrate in batches of 3 (one transaction each), with progress NOTICEs
CALL ng_migrate_to_mongo(3);
SELECT * FROM ng_check_consistency();
SELECT count(*) FILTER (WHERE content IS NULL AND mongodb_recipe_id IS NOT NULL) AS migrated FROM recipes;
SELECT c.postgres_id, c.title, c.calories, c.tags, c.ingredients -> 0 ->> 'quantity' AS qty
FROM recipes r JOIN recipe_content c ON c._id = r.mongodb_recipe_id ORDER BY r.id;
SELECT u.id, p.diet_type, p.calorie_target FROM users u JOIN user_profiles p ON p._id = u.mongodb_profile_id ORDER BY u.id;
-- a second run has nothing to do
CALL ng_migrate_to_mongo(3);
SELECT count(*) AS recipe_documents FROM recipe_content;
SELECT ng_full_recipe(4) -> 'content' -> 'nutrition' AS nutrition;
DO $$ BEGIN CALL nutragenie.ng_migrate_to_mongo(0); EXCEPTION WHEN invalid_parameter_value THEN RAISE NOTICE 'rejected: %', SQLERRM; END $$;

-- inject inconsistencies of every kind, behind nutragenie's back
SELECT ng_create_user('{"email": "fresh@example.com", "passwordHash": "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"}') AS fresh;
SELECT ng_create_recipe('{"title": "Fresh"}') AS fresh_recipe;
SELECT ng_start_cooking_session(1, 1, 'manual') AS session;
-- user 1: profile document deleted
SELECT nutragenie_fdw.run_command('dom_cons_srv', '{"delete": "user_profiles", "deletes": [{"q": {"postgresUserId": 1}, "limit": 1}]}', 'ng_dom_cons') ->> 'n';
-- user 2: pointer lost (the document becomes an orphan that names user 2)
UPDATE users SET mongodb_profile_id = NULL WHERE id = 2;
-- user 3: back-reference wrong
SELECT nutragenie_fdw.run_command('dom_cons_srv', '{"update": "user_profiles", "updates": [{"q": {"postgresUserId": 3}, "u": {"$set": {"postgresUserId": 333}}}]}', 'ng_dom_cons') ->> 'nModified';
-- orphan documents of users, recipes and sessions that do not exist
SELECT nutragenie_fdw.run_command('dom_cons_srv', '{"insert": "user_profiles", "documents": [{"postgresUserId": 999, "dietaryProfile": {}}]}', 'ng_dom_cons') ->> 'n';
SELECT nutragenie_fdw.run_command('dom_cons_srv', '{"insert": "user_behavior", "documents": [{"_id": 998, "patterns": {}}]}', 'ng_dom_cons') ->> 'n';
SELECT nutragenie_fdw.run_command('dom_cons_srv', '{"insert": "recipe_content", "documents": [{"postgresId": 997, "title": "Ghost"}]}', 'ng_dom_cons') ->> 'n';
SELECT nutragenie_fdw.run_command('dom_cons_srv', '{"insert": "cooking_session_details", "documents": [{"postgresSessionId": 996}]}', 'ng_dom_cons') ->> 'n';
-- recipe 2: content deleted; recipe 3: back-reference wrong
SELECT nutragenie_fdw.run_command('dom_cons_srv', '{"delete": "recipe_content", "deletes": [{"q": {"postgresId": 2}, "limit": 1}]}', 'ng_dom_cons') ->> 'n';
SELECT nutragenie_fdw.run_command('dom_cons_srv', '{"update": "recipe_content", "updates": [{"q": {"postgresId": 3}, "u": {"$unset": {"postgresId": ""}}}]}', 'ng_dom_cons') ->> 'nModified';
-- session 1: back-reference wrong; a session row without document
SELECT nutragenie_fdw.run_command('dom_cons_srv', '{"update": "cooking_session_details", "updates": [{"q": {"postgresSessionId": 1}, "u": {"$set": {"postgresSessionId": 5}}}]}', 'ng_dom_cons') ->> 'nModified';
INSERT INTO cooking_sessions (user_id, recipe_id, mode) VALUES (4, 4, 'voice');

SELECT issue, pg_table, pg_id, collection, detail FROM ng_check_consistency();
SELECT ng_report() -> 'consistencyIssues' AS issues;

-- dry run: says what it would do, changes nothing
SELECT issue, pg_id, action, applied FROM ng_repair_consistency();
SELECT count(*) AS still FROM ng_check_consistency();
-- repair
SELECT issue, pg_id, action, applied FROM ng_repair_consistency(false);
SELECT * FROM ng_check_consistency();
-- what the repairs did
SELECT u.id, p.postgres_user_id FROM users u JOIN user_profiles p ON p._id = u.mongodb_profile_id WHERE u.id <= 3 ORDER BY u.id;
SELECT ng_full_recipe(2) -> 'contentMissing' AS missing2, ng_full_recipe(2) -> 'content' -> 'steps' AS steps2;
SELECT count(*) AS orphans_left FROM recipe_content WHERE title = 'Ghost';
SELECT pending, dead_letters FROM nutragenie_fdw.write_queue_status();

SET client_min_messages = warning;
SELECT ng_detach_mongo();
TRUNCATE users, recipes, payments, nutrition_goals, nutrition_entries, recipe_ratings,
         chat_messages, cooking_sessions RESTART IDENTITY CASCADE;
SELECT nutragenie_fdw.run_command('dom_cons_srv', '{"dropDatabase": 1}', 'ng_dom_cons') ->> 'ok' AS dropped;
DROP SERVER dom_cons_srv CASCADE;
