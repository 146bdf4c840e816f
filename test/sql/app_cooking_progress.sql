-- The app: abandoning a cooking session, a user's sessions and a
-- session's progress; the step totals a finished session reports.
SET search_path = public, nutragenie;
\getenv mongo_uri MONGODB_URI
CREATE SERVER app_cooking_progress_srv FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (uri :'mongo_uri');
CREATE USER MAPPING FOR CURRENT_USER SERVER app_cooking_progress_srv;
SELECT nutragenie_fdw.run_command('app_cooking_progress_srv', '{"dropDatabase": 1}', 'ng_app_cooking_progress') ->> 'ok' AS dropped;
TRUNCATE users, recipes, payments, nutrition_goals, nutrition_entries, recipe_ratings,
         chat_messages, cooking_sessions, event_log RESTART IDENTITY CASCADE;
SELECT ng_attach_mongo('app_cooking_progress_srv', 'ng_app_cooking_progress') ->> 'database' AS attached;

CREATE FUNCTION pg_temp.try(cmd text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE cmd;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT ng_create_user('{"email": "cook@example.com", "passwordHash": "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"}') AS cook;
SELECT ng_create_recipe('{"title": "Pancakes", "steps": ["Mix", "Rest", "Fry"]}') AS pancakes;
SELECT ng_create_recipe('{"title": "Toast"}') AS toast;

SELECT ng_start_cooking_session(1, 1) AS s1;
SELECT ng_log_voice_interaction(1, '{"command": "start", "step": 1, "stepCompleted": true}');
SELECT ng_cooking_progress(1) - 'lastInteraction' AS progress;
SELECT (ng_cooking_progress(1) -> 'lastInteraction') - 'at' AS last;
SELECT ng_abandon_cooking_session(1, 'burnt the first one') - 'durationSeconds' AS summary;
SELECT status, steps_completed, total_steps, ended_at IS NOT NULL AS ended FROM cooking_sessions WHERE id = 1;
SELECT session_metadata ->> 'status' AS status, summary - 'durationSeconds' AS summary
FROM cooking_session_details WHERE postgres_session_id = 1;
SELECT pg_temp.try('SELECT ng_abandon_cooking_session(1)');
SELECT pg_temp.try('SELECT ng_finish_cooking_session(1)');
SELECT pg_temp.try('SELECT ng_abandon_cooking_session(9)');
SELECT ng_cooking_progress(1) ->> 'nextStep' AS next_when_ended, ng_cooking_progress(9) AS unknown;

-- a recipe without steps: the total is never below the steps done
SELECT ng_start_cooking_session(1, 2) AS s2;
SELECT ng_log_voice_interaction(2, '{"transcript": "toasted", "step": 1, "stepCompleted": true}');
SELECT ng_finish_cooking_session(2) - 'durationSeconds' AS summary;
SELECT steps_completed, total_steps FROM cooking_sessions WHERE id = 2;

SELECT ng_start_cooking_session(1, 1, 'guided') AS s3;
SELECT session_id, recipe_title, mode, status, total_steps, steps_completed, percent_complete
FROM ng_user_cooking_sessions(1) ORDER BY session_id;
SELECT session_id FROM ng_user_cooking_sessions(1, 'active');
SELECT count(*) FROM ng_user_cooking_sessions(1, NULL, 1);
SELECT pg_temp.try($$SELECT * FROM ng_user_cooking_sessions(1, 'paused')$$);
SELECT pg_temp.try($$SELECT * FROM ng_user_cooking_sessions(1, NULL, 0)$$);
SELECT patterns -> 'cooking' AS cooking FROM user_behavior WHERE _id = 1;

SET client_min_messages = warning;
SELECT ng_detach_mongo();
TRUNCATE users, recipes, payments, nutrition_goals, nutrition_entries, recipe_ratings,
         chat_messages, cooking_sessions, event_log RESTART IDENTITY CASCADE;
SELECT nutragenie_fdw.run_command('app_cooking_progress_srv', '{"dropDatabase": 1}', 'ng_app_cooking_progress') ->> 'ok' AS dropped;
DROP SERVER app_cooking_progress_srv CASCADE;
