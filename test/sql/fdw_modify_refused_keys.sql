-- What MongoDB will certainly refuse (field names with "." or a leading "$",
-- empty field names, nesting beyond 180 levels, an array or regex _id) is
-- refused at the statement, naming column, key path and _id, so that
-- nothing reaches either store; before, such writes were queued and
-- dead-lettered after COMMIT while PostgreSQL kept its rows.
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SCHEMA modify_refused_keys;
SET search_path = modify_refused_keys, public, nutragenie;
\getenv mongo_uri MONGODB_URI
CREATE SERVER rk_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri :'mongo_uri', database 'ng_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER rk_srv;
DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('rk_srv', '{"drop": "refused_keys"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;
SELECT nutragenie_fdw.run_command('rk_srv', '{"create": "refused_keys"}')->>'ok' AS created;
SELECT count(*) AS dead_before FROM nutragenie_fdw.dead_letters \gset

CREATE FUNCTION mongo_docs() RETURNS SETOF jsonb LANGUAGE sql AS $$
  SELECT jsonb_array_elements(nutragenie_fdw.run_command('rk_srv',
           '{"find": "refused_keys", "sort": {"_id": 1}}') -> 'cursor' -> 'firstBatch')
$$;
-- nothing queued, nothing dead-lettered, in either store
CREATE FUNCTION nothing_left(dead_before bigint) RETURNS TABLE (queued bigint, dead bigint)
LANGUAGE sql AS $$
  SELECT (SELECT count(*) FROM nutragenie_fdw.outbox),
         (SELECT count(*) - dead_before FROM nutragenie_fdw.dead_letters)
$$;

CREATE FOREIGN TABLE docs (
    _id int,
    body jsonb,
    meta jsonb OPTIONS (field 'info.meta')
) SERVER rk_srv OPTIONS (collection 'refused_keys');
CREATE FOREIGN TABLE whole (
    _id int,
    doc jsonb OPTIONS (field '$$ROOT')
) SERVER rk_srv OPTIONS (collection 'refused_keys');
CREATE FOREIGN TABLE ids (
    _id jsonb,
    n int
) SERVER rk_srv OPTIONS (collection 'refused_keys');

INSERT INTO docs VALUES (1, '{"ok": true}', '{"fine": 1}');

-- each refused kind, through a jsonb column
INSERT INTO docs (_id, body) VALUES (2, '{"a.b": 1}');
INSERT INTO docs (_id, body) VALUES (2, '{"$bad": 1}');
INSERT INTO docs (_id, body) VALUES (2, '{"": 1}');
INSERT INTO docs (_id, body) VALUES (2, '{"steps": [{"x": 1}, 2, {"ok": 1, "$bad": 2}]}');
-- a $$ROOT column; a nested field column
INSERT INTO whole VALUES (2, '{"title": "t", "nested": {"$where": "1"}}');
INSERT INTO whole VALUES (2, '{"title": "t", "x.y": 1}');
INSERT INTO docs (_id, meta) VALUES (2, '{"": {"k": 1}}');
-- the top-level _id: not an array, not a regex; its own keys are checked too
INSERT INTO ids VALUES ('[1, 2]', 1);
INSERT INTO ids VALUES ('{"$regularExpression": {"pattern": "^a", "options": ""}}', 1);
INSERT INTO ids VALUES ('{"$k": 1}', 1);
-- COPY goes the same way (its error context, which names the line only on
-- PostgreSQL 15, is the concern of copy_context)
\set VERBOSITY terse
COPY docs (_id, body) FROM stdin;
3	{"ok": 1}
4	{"a": {"b.c": 1}}
\.
\set VERBOSITY default
-- a statement with a good row and a bad one writes neither
INSERT INTO docs (_id, body) VALUES (5, '{"ok": 1}'), (6, '{"$bad": 1}');

-- UPDATE: the $set of a jsonb, of a nested field, and a replacement
UPDATE docs SET body = '{"a": {"$inc": 1}}' WHERE _id = 1;
UPDATE docs SET meta = '[{"": 1}]' WHERE _id = 1;
UPDATE whole SET doc = '{"_id": 1, "new.field": 1}' WHERE _id = 1;

-- nesting: the document is level 1, each non-empty document or array one
-- more, empty ones none; 180 levels are stored, 181 refused
SELECT format('CREATE FOREIGN TABLE deep (_id int, v jsonb OPTIONS (field %L))'
              ' SERVER rk_srv OPTIONS (collection %L)',
              array_to_string(array_fill('f'::text, ARRAY[150]), '.'), 'refused_keys') \gexec
CREATE FUNCTION nest(levels int, inner_value text) RETURNS jsonb LANGUAGE sql AS $$
  SELECT (repeat('{"a":', levels) || inner_value || repeat('}', levels))::jsonb
$$;
INSERT INTO deep VALUES (10, nest(30, '1'));        -- 1 + 149 + 30 = 180 levels
INSERT INTO deep VALUES (11, nest(30, '{}'));       -- empty: no level
INSERT INTO deep VALUES (12, nest(29, '[true]'));   -- an array is a level
INSERT INTO deep VALUES (13, nest(31, '1'));
INSERT INTO deep VALUES (13, nest(30, '[1]'));
UPDATE deep SET v = nest(31, '2') WHERE _id = 10;
UPDATE deep SET v = nest(30, '2') WHERE _id = 10;
SELECT _id FROM deep ORDER BY _id;

-- a transaction that hits one stops before COMMIT: the PostgreSQL side too
CREATE TABLE local_rows (id int);
BEGIN;
INSERT INTO local_rows VALUES (1);
INSERT INTO docs (_id, body) VALUES (7, '{"ok": 1}');
INSERT INTO docs (_id, body) VALUES (8, '{"bad.key": 1}');
COMMIT;
SELECT count(*) AS local_rows FROM local_rows;

SELECT d FROM mongo_docs() d WHERE (d->>'_id')::int < 10;
SELECT * FROM nothing_left(:dead_before);

-- the domain functions fail at the call, and write nothing in either store
-- (terse: the documents' _ids are new ObjectIds)
SELECT nutragenie_fdw.run_command('rk_srv', '{"dropDatabase": 1}', 'ng_refused_keys') ->> 'ok' AS dropped;
TRUNCATE users, recipes, payments, nutrition_goals, nutrition_entries, recipe_ratings,
         chat_messages, cooking_sessions RESTART IDENTITY CASCADE;
SELECT ng_attach_mongo('rk_srv', 'ng_refused_keys') ->> 'database' AS attached;
SELECT ng_create_user('{"email": "cook@example.com", "passwordHash": "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"}') AS cook;
SELECT ng_create_recipe('{"title": "Pancakes", "steps": ["Mix", "Fry"]}') AS pancakes;
\set VERBOSITY terse
SELECT ng_create_recipe('{"title": "Bad", "steps": ["Mix", {"instruction": "Fry", "$bad": 1}]}');
SELECT ng_create_recipe('{"title": "Bad", "nutrition": {"energy.kcal": 100}}');
\set VERBOSITY default
SELECT ng_start_cooking_session(1, 1) AS session;
SELECT ng_log_voice_interaction(1, '{"command": "start", "step": 1}');
\set VERBOSITY terse
SELECT ng_log_voice_interaction(1, '{"command": "next", "": "empty"}');
SELECT ng_log_voice_interaction(1, '{"transcript": "hm", "meta": {"a.b": 1}}');
\set VERBOSITY default
SELECT count(*) AS recipes FROM recipes;
SELECT (nutragenie_fdw.run_command('rk_srv', '{"count": "recipe_content"}', 'ng_refused_keys') ->> 'n')::int
       AS recipe_documents;
SELECT voice_interactions FROM cooking_sessions WHERE id = 1;
SELECT jsonb_array_length(voice_interactions) AS interactions
FROM cooking_session_details WHERE postgres_session_id = 1;
SELECT * FROM nothing_left(:dead_before);

SET client_min_messages = warning;
SELECT ng_detach_mongo();
TRUNCATE users, recipes, payments, nutrition_goals, nutrition_entries, recipe_ratings,
         chat_messages, cooking_sessions RESTART IDENTITY CASCADE;
SELECT nutragenie_fdw.run_command('rk_srv', '{"dropDatabase": 1}', 'ng_refused_keys') ->> 'ok' AS dropped;
SELECT nutragenie_fdw.run_command('rk_srv', '{"drop": "refused_keys"}') ->> 'ok' AS dropped;
DROP SCHEMA modify_refused_keys CASCADE;
DROP SERVER rk_srv CASCADE;
