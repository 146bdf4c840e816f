-- The app: the durable event log -- written in the transaction of the
-- change, read from a cursor, kept bounded.  (The order across concurrent
-- transactions is test/scripts/app_events_order.sh.)
SET search_path = public, nutragenie;
\getenv mongo_uri MONGODB_URI
CREATE SERVER app_events_srv FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (uri :'mongo_uri');
CREATE USER MAPPING FOR CURRENT_USER SERVER app_events_srv;
SELECT nutragenie_fdw.run_command('app_events_srv', '{"dropDatabase": 1}', 'ng_app_events') ->> 'ok' AS dropped;
TRUNCATE users, recipes, payments, nutrition_goals, nutrition_entries, recipe_ratings,
         chat_messages, cooking_sessions, event_log RESTART IDENTITY CASCADE;
SELECT ng_attach_mongo('app_events_srv', 'ng_app_events') ->> 'database' AS attached;

CREATE FUNCTION pg_temp.try(cmd text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE cmd;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- events appear once every older transaction has ended (the applier's too)
CREATE FUNCTION pg_temp.settle() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..1000 LOOP
    EXIT WHEN NOT EXISTS (SELECT FROM event_log e WHERE e.xact >= pg_snapshot_xmin(pg_current_snapshot()));
    PERFORM pg_sleep(0.01);
  END LOOP;
END $$;
SELECT ng_create_user('{"email": "ana@example.com", "passwordHash": "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"}') AS ana;
-- rolled back: no event
BEGIN;
SELECT ng_create_user('{"email": "ghost@example.com", "passwordHash": "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"}') AS ghost;
SELECT count(*) AS own_event_not_readable_yet FROM ng_events() WHERE payload ->> 'email' = 'ghost@example.com';
ROLLBACK;
SELECT ng_create_recipe('{"title": "Soup"}') AS soup;
SELECT ng_rate_recipe(1, 1, 4);
SELECT pg_temp.settle();
SELECT id, event, payload - 'mongodbRecipeId' AS payload FROM ng_events() ORDER BY id;
-- a cursor: the events after the one given, at most max_events
SELECT id, event FROM ng_events(1, 1);
SELECT id, event FROM ng_events(3);
SELECT count(*) AS at_the_end FROM ng_events((SELECT max(id) FROM event_log));

-- bounded: the oldest go first; a cursor that was pruned is an error
SELECT ng_create_user(format('{"email": "u%s@example.com", "passwordHash": "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"}', g)::jsonb) FROM generate_series(1, 3) g;
SELECT pg_temp.settle();
SELECT ng_prune_events(2) AS pruned;
SELECT id, event FROM event_log ORDER BY id;
SELECT id, event FROM ng_events();
SELECT pg_temp.try('SELECT * FROM ng_events(2)');
SELECT pg_temp.try('SELECT * FROM ng_events(0, 0)');
SELECT pg_temp.try('SELECT ng_prune_events(-1)');
-- the setting bounds the automatic pruning (every 1000 events)
SET nutragenie_app.event_log_size = 1;
SELECT ng_prune_events() AS pruned_to_setting;
RESET nutragenie_app.event_log_size;
SELECT count(*) FROM event_log;

SET client_min_messages = warning;
SELECT ng_detach_mongo();
TRUNCATE users, recipes, payments, nutrition_goals, nutrition_entries, recipe_ratings,
         chat_messages, cooking_sessions, event_log RESTART IDENTITY CASCADE;
SELECT nutragenie_fdw.run_command('app_events_srv', '{"dropDatabase": 1}', 'ng_app_events') ->> 'ok' AS dropped;
DROP SERVER app_events_srv CASCADE;
