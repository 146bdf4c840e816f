-- The NutraGenie domain: what ng_attach_mongo creates in both stores, that
-- it is idempotent, errors before and during attaching, and the events the
-- triggers publish.
SET search_path = public, nutragenie;
\getenv mongo_uri MONGODB_URI
CREATE SERVER dom_schema_srv FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (uri :'mongo_uri');
CREATE USER MAPPING FOR CURRENT_USER SERVER dom_schema_srv;
SELECT nutragenie_fdw.run_command('dom_schema_srv', '{"dropDatabase": 1}', 'ng_dom_schema') ->> 'ok' AS dropped;
TRUNCATE users, recipes, payments, nutrition_goals, nutrition_entries, recipe_ratings,
         chat_messages, cooking_sessions RESTART IDENTITY CASCADE;

-- report errors as SQLSTATE and message
CREATE FUNCTION pg_temp.try(cmd text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE cmd;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- PostgreSQL tables exist from CREATE EXTENSION
SELECT c.relname, c.relkind FROM pg_class c
WHERE c.relnamespace = 'nutragenie'::regnamespace AND c.relkind IN ('r', 'f', 'v')
  AND c.relname NOT IN ('outbox', 'dead_letters', 'write_queue', 'dead_letter_queue')
ORDER BY 1;

-- before attaching: a clear error, not "relation does not exist"
SELECT ng_mongo_server();
SELECT pg_temp.try('SELECT ng_full_recipe(1)');
SELECT pg_temp.try('SELECT ng_create_recipe(''{"title": "x"}'')');
SELECT (ng_health() -> 'mongodb') ->> 'ok' AS mongo_ok, ng_health() ->> 'status' AS status;
-- ... but plain SQL on PostgreSQL tables works (no profile document yet)
INSERT INTO users (email, password_hash) VALUES ('early@example.com', 'h');
SELECT id, email, mongodb_profile_id IS NULL AS no_profile FROM users;

-- bad arguments
SELECT pg_temp.try('SELECT ng_attach_mongo(''no_such_server'')');
SELECT pg_temp.try('SELECT ng_attach_mongo(''dom_schema_srv'', '''')');

-- attach: collections, indexes, foreign tables, views
SELECT ng_attach_mongo('dom_schema_srv', 'ng_dom_schema');
SELECT ng_mongo_server();
SELECT c.relname, c.relkind FROM pg_class c
WHERE c.relnamespace = 'nutragenie'::regnamespace AND c.relkind IN ('f', 'v')
ORDER BY 1;
SELECT ft.ftoptions FROM pg_foreign_table ft WHERE ft.ftrelid = 'recipe_content'::regclass;
SELECT obj_description('recipe_full'::regclass, 'pg_class');
SELECT coll, array_agg(ix ->> 'name' ORDER BY ix ->> 'name') AS indexes
FROM unnest(ARRAY['recipe_content', 'user_profiles', 'cooking_session_details',
                  'chef_personalities', 'user_behavior']) coll,
     jsonb_array_elements(nutragenie_fdw.run_command('dom_schema_srv', json_build_object('listIndexes', coll),
                                         'ng_dom_schema') -> 'cursor' -> 'firstBatch') ix
GROUP BY coll ORDER BY coll;

-- idempotent: a second call recreates the same objects
SELECT ng_attach_mongo('dom_schema_srv', 'ng_dom_schema') ->> 'database' AS again;
SELECT count(*) FROM pg_class c
WHERE c.relnamespace = 'nutragenie'::regnamespace AND c.relkind IN ('f', 'v');

-- the user created before attaching has no profile: the consistency check
-- says so
SELECT issue, pg_id, detail FROM ng_check_consistency();

-- a user inserted with plain SQL gets a default profile document
INSERT INTO users (email, password_hash, nickname) VALUES ('plain@example.com', 'h', 'plain');
SELECT u.id, p.postgres_user_id, p.diet_type, p.skill_level, p.calorie_target
FROM users u JOIN user_profiles p ON p._id = u.mongodb_profile_id ORDER BY u.id;
-- and a batch of users gets them in one statement
INSERT INTO users (email, password_hash, profile)
SELECT 'batch' || g || '@example.com', 'h', '{"dietaryProfile": {"dietType": "vegan"}}'
FROM generate_series(1, 3) g;
SELECT u.email, p.diet_type, u.profile IS NULL AS profile_moved
FROM users u JOIN user_profiles p ON p._id = u.mongodb_profile_id ORDER BY u.id;

-- deleting users deletes their documents
DELETE FROM users WHERE email LIKE 'batch%';
SELECT count(*) AS profiles FROM user_profiles;

-- events: NOTIFY nutragenie_events at commit, none for a rolled-back
-- transaction (the payloads are checked by test/scripts/app_atomic.sh)
LISTEN nutragenie_events;
BEGIN;
SELECT ng_publish('test.event', '{"n": 1}');
ROLLBACK;
UNLISTEN nutragenie_events;

-- every domain function has a comment and explicit attributes (checked in
-- extension.sql); the views hide the password hash
SELECT count(*) FROM information_schema.columns
WHERE table_schema = 'nutragenie' AND table_name = 'user_full_profile' AND column_name = 'password_hash';

SELECT ng_detach_mongo();
SELECT ng_detach_mongo();
SELECT count(*) FROM pg_class c
WHERE c.relnamespace = 'nutragenie'::regnamespace AND c.relkind IN ('f', 'v')
  AND c.relname NOT IN ('write_queue', 'dead_letter_queue');
SET client_min_messages = warning;
TRUNCATE users, recipes, payments, nutrition_goals, nutrition_entries, recipe_ratings,
         chat_messages, cooking_sessions RESTART IDENTITY CASCADE;
SELECT nutragenie_fdw.run_command('dom_schema_srv', '{"dropDatabase": 1}', 'ng_dom_schema') ->> 'ok' AS dropped;
DROP SERVER dom_schema_srv CASCADE;
