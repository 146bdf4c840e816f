-- The NutraGenie domain: cooking sessions with voice interaction logs, in
-- both stores, and the cooking_session_analytics view.
SET search_path = public, nutragenie;
\getenv mongo_uri MONGODB_URI
CREATE SERVER dom_sessions_srv FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (uri :'mongo_uri');
CREATE USER MAPPING FOR CURRENT_USER SERVER dom_sessions_srv;
SELECT nutragenie_fdw.run_command('dom_sessions_srv', '{"dropDatabase": 1}', 'ng_dom_sessions') ->> 'ok' AS dropped;
TRUNCATE users, recipes, payments, nutrition_goals, nutrition_entries, recipe_ratings,
         chat_messages, cooking_sessions RESTART IDENTITY CASCADE;
SELECT ng_attach_mongo('dom_sessions_srv', 'ng_dom_sessions') ->> 'database' AS attached;

CREATE FUNCTION pg_temp.try(cmd text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE cmd;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

SELECT ng_create_user('{"email": "cook@example.com", "passwordHash": "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"}') AS cook;
SELECT ng_create_recipe('{"title": "Pancakes", "steps": ["Mix", "Rest", "Fry"]}') AS pancakes;

SELECT ng_start_cooking_session(1, 1) AS session;
SELECT id, user_id, recipe_id, mode, status, total_steps, steps_completed, voice_interactions,
       ended_at IS NULL AS running
FROM cooking_sessions;
SELECT d.postgres_session_id, d.postgres_user_id, d.postgres_recipe_id, d.mode,
       d.session_metadata - 'startedAt' AS metadata, d.voice_interactions, d.step_progress
FROM cooking_sessions s JOIN cooking_session_details d ON d._id = s.mongodb_session_id;

-- voice interactions: appended to the document, counted on the row
SELECT ng_log_voice_interaction(1, '{"command": "start", "response": "Mix the flour and eggs.", "step": 1}');
SELECT ng_log_voice_interaction(1, '{"transcript": "done mixing", "step": 1, "stepCompleted": true, "durationMs": 950}');
SELECT ng_log_voice_interaction(1, '{"transcript": "done mixing", "step": 1, "stepCompleted": true}');
SELECT ng_log_voice_interaction(1, '{"command": "next", "step": 2, "stepCompleted": true}');
SELECT jsonb_path_query_array(voice_interactions, '$[*] ? (@.seq > 0)') @? '$[3]' AS four,
       (SELECT jsonb_agg(e - 'at') FROM jsonb_array_elements(voice_interactions) e) AS interactions,
       (SELECT jsonb_agg(e -> 'step') FROM jsonb_array_elements(step_progress) e) AS steps_done
FROM cooking_session_details WHERE postgres_session_id = 1;
SELECT voice_interactions, steps_completed, updated_at > started_at AS touched FROM cooking_sessions WHERE id = 1;
SELECT session_id, recipe_title, mode, status, total_steps, steps_completed, voice_interaction_count,
       percent_complete, details_missing
FROM cooking_session_analytics ORDER BY session_id;

-- bad input
SELECT pg_temp.try('SELECT ng_start_cooking_session(1, 1, ''telepathy'')');
SELECT pg_temp.try('SELECT ng_start_cooking_session(9, 1)');
SELECT pg_temp.try('SELECT ng_start_cooking_session(1, 9)');
SELECT pg_temp.try('SELECT ng_log_voice_interaction(9, ''{"command": "x"}'')');
SELECT pg_temp.try('SELECT ng_log_voice_interaction(1, ''{"response": "only a response"}'')');
SELECT pg_temp.try('SELECT ng_log_voice_interaction(1, ''{"command": 3}'')');
SELECT pg_temp.try('SELECT ng_log_voice_interaction(1, ''{"command": "x", "step": 4}'')');
SELECT pg_temp.try('SELECT ng_log_voice_interaction(1, ''{"command": "x", "stepCompleted": "yes"}'')');
SELECT pg_temp.try('SELECT ng_log_voice_interaction(1, ''[]'')');

-- finish: status and summary in PostgreSQL, summary in the document
SELECT ng_finish_cooking_session(1) - 'durationSeconds' AS summary;
SELECT status, steps_completed, voice_interactions, ended_at IS NOT NULL AS ended,
       duration_seconds IS NOT NULL AS has_duration
FROM cooking_sessions WHERE id = 1;
SELECT summary - 'durationSeconds' AS summary, session_metadata ->> 'status' AS status,
       session_metadata ? 'endedAt' AS has_end
FROM cooking_session_details WHERE postgres_session_id = 1;
SELECT pg_temp.try('SELECT ng_finish_cooking_session(1)');
SELECT pg_temp.try('SELECT ng_log_voice_interaction(1, ''{"command": "more"}'')');
SELECT pg_temp.try('SELECT ng_finish_cooking_session(77)');

-- a manual session; its detail document lost: functions say so
SELECT ng_start_cooking_session(1, 1, 'manual') AS manual;
SELECT nutragenie_fdw.run_command('dom_sessions_srv', '{"delete": "cooking_session_details", "deletes": [{"q": {"postgresSessionId": 2}, "limit": 1}]}', 'ng_dom_sessions') ->> 'n' AS lost;
SELECT pg_temp.try('SELECT ng_log_voice_interaction(2, ''{"command": "x"}'')');
SELECT session_id, mode, status, voice_interaction_count, details_missing
FROM cooking_session_analytics ORDER BY session_id;
SELECT issue, pg_id FROM ng_check_consistency();

-- deleting a session deletes its document
SELECT ng_start_cooking_session(1, 1, 'guided') AS guided;
DELETE FROM cooking_sessions WHERE id = 3;
SELECT count(*) AS details FROM cooking_session_details;

SET client_min_messages = warning;
SELECT ng_detach_mongo();
TRUNCATE users, recipes, payments, nutrition_goals, nutrition_entries, recipe_ratings,
         chat_messages, cooking_sessions RESTART IDENTITY CASCADE;
SELECT nutragenie_fdw.run_command('dom_sessions_srv', '{"dropDatabase": 1}', 'ng_dom_sessions') ->> 'ok' AS dropped;
DROP SERVER dom_sessions_srv CASCADE;
