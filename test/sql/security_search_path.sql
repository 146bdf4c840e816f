-- Security: nothing an unprivileged role creates in a schema first on its
-- search_path (operators, functions, types, tables named like ours) runs
-- inside nutragenie's own statements: scans, INSERT/UPDATE/DELETE/COPY, the
-- outbox at commit, the applier, IMPORT, ANALYZE, remote estimates and the
-- domain functions.  Every shadow announces itself with a WARNING, counts
-- in a sequence (which no rollback undoes) and tries to make its owner a
-- superuser.
\getenv mongo_uri MONGODB_URI
SET search_path = public, nutragenie;
CREATE SERVER sec_sp_srv FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (uri :'mongo_uri');
CREATE USER MAPPING FOR CURRENT_USER SERVER sec_sp_srv;
SELECT nutragenie_fdw.run_command('sec_sp_srv', '{"dropDatabase": 1}', 'ng_sec_sp') ->> 'ok' AS dropped;
SELECT nutragenie_fdw.run_command('sec_sp_srv', '{"insert": "docs", "documents": [{"_id": 1, "name": "one", "n": 10}, {"_id": 2, "name": "two", "n": 20}]}', 'ng_sec_sp') ->> 'n' AS inserted;
TRUNCATE users, recipes, payments, nutrition_goals, nutrition_entries, recipe_ratings,
         chat_messages, cooking_sessions RESTART IDENTITY CASCADE;
SELECT ng_attach_mongo('sec_sp_srv', 'ng_sec_sp') ->> 'database' AS attached;

-- the role: its own schema, a user mapping, what an application needs of
-- the domain (not the outbox)
CREATE ROLE sec_sp_evil NOLOGIN;
CREATE SCHEMA security_search_path AUTHORIZATION sec_sp_evil;
CREATE SCHEMA security_search_path_import AUTHORIZATION sec_sp_evil;
GRANT USAGE ON FOREIGN SERVER sec_sp_srv TO sec_sp_evil;
CREATE USER MAPPING FOR sec_sp_evil SERVER sec_sp_srv OPTIONS (password_required 'false');
GRANT USAGE ON SCHEMA nutragenie TO sec_sp_evil;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA nutragenie TO sec_sp_evil;
REVOKE ALL ON nutragenie_fdw.outbox, nutragenie_fdw.dead_letters, nutragenie_fdw.write_queue,
              nutragenie_fdw.dead_letter_queue FROM sec_sp_evil;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA nutragenie TO sec_sp_evil;
REVOKE ALL ON nutragenie_fdw.outbox_seq_seq, nutragenie_fdw.dead_letters_id_seq FROM sec_sp_evil;
GRANT EXECUTE ON FUNCTION nutragenie.ng_publish(text, jsonb), nutragenie.ng_apply_ratings(bigint[], bigint[]),
    nutragenie.ng_apply_nutrition(bigint[]), nutragenie.ng_behavior_documents(bigint[]),
    nutragenie.ng_start_cooking_session(bigint, bigint, text), nutragenie.ng_log_voice_interaction(bigint, jsonb),
    nutragenie.ng_end_cooking_session(bigint, text, text), nutragenie.ng_cooking_progress(bigint),
    nutragenie.ng_update_user(bigint, jsonb), nutragenie.ng_search_recipes(jsonb, int),
    nutragenie.ng_refresh_behavior(bigint[]) TO sec_sp_evil;

SET ROLE sec_sp_evil;
SET search_path = security_search_path, pg_catalog, nutragenie, public;
CREATE SEQUENCE security_search_path.shadow_runs;
GRANT USAGE ON SEQUENCE security_search_path.shadow_runs TO PUBLIC;
CREATE FUNCTION security_search_path.shadow(what text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_catalog.nextval('security_search_path.shadow_runs');
    RAISE WARNING 'shadow % ran as %', what, current_user;
    BEGIN
        EXECUTE 'ALTER ROLE sec_sp_evil SUPERUSER';
    EXCEPTION WHEN OTHERS THEN
        NULL;
    END;
    RETURN true;
END
$$;
-- operators our SQL could use unqualified: each calls the built-in after
-- the shadow
DO $$
DECLARE
    o record;
BEGIN
    FOR o IN SELECT * FROM (VALUES ('=', 'bytea', 'bytea', 'bool', 'byteaeq'),
                                   ('=', 'text', 'text', 'bool', 'texteq'),
                                   ('=', 'int8', 'int8', 'bool', 'int8eq'),
                                   ('=', 'oid', 'oid', 'bool', 'oideq'),
                                   ('<>', 'xid8', 'xid8', 'bool', 'xid8ne'),
                                   ('||', 'jsonb', 'jsonb', 'jsonb', 'jsonb_concat'),
                                   ('->', 'jsonb', 'text', 'jsonb', 'jsonb_object_field'))
                          AS v(op, l, r, res, builtin)
    LOOP
        EXECUTE pg_catalog.format(
            'CREATE FUNCTION security_search_path.%1$I(pg_catalog.%2$I, pg_catalog.%3$I)'
            ' RETURNS pg_catalog.%4$I LANGUAGE plpgsql AS $f$ BEGIN'
            ' PERFORM security_search_path.shadow(%5$L); RETURN pg_catalog.%1$I($1, $2); END $f$',
            o.builtin, o.l, o.r, o.res, pg_catalog.format('%s(%s,%s)', o.op, o.l, o.r));
        EXECUTE pg_catalog.format(
            'CREATE OPERATOR security_search_path.%s (LEFTARG = pg_catalog.%I,'
            ' RIGHTARG = pg_catalog.%I, FUNCTION = security_search_path.%I)',
            o.op, o.l, o.r, o.builtin);
    END LOOP;
END
$$;
-- functions and tables named like what our SQL uses
CREATE FUNCTION security_search_path.now() RETURNS timestamptz LANGUAGE plpgsql AS
  $$ BEGIN PERFORM security_search_path.shadow('now()'); RETURN pg_catalog.now(); END $$;
CREATE FUNCTION security_search_path.pg_current_xact_id() RETURNS xid8 LANGUAGE plpgsql AS
  $$ BEGIN PERFORM security_search_path.shadow('pg_current_xact_id()'); RETURN pg_catalog.pg_current_xact_id(); END $$;
CREATE FUNCTION security_search_path.jsonb_typeof(jsonb) RETURNS text LANGUAGE plpgsql AS
  $$ BEGIN PERFORM security_search_path.shadow('jsonb_typeof()'); RETURN pg_catalog.jsonb_typeof($1); END $$;
CREATE FUNCTION security_search_path.jsonb_strip_nulls(jsonb) RETURNS jsonb LANGUAGE plpgsql AS
  $$ BEGIN PERFORM security_search_path.shadow('jsonb_strip_nulls()'); RETURN pg_catalog.jsonb_strip_nulls($1); END $$;
CREATE FUNCTION security_search_path.unnest(bytea[]) RETURNS SETOF bytea LANGUAGE plpgsql AS
  $$ BEGIN PERFORM security_search_path.shadow('unnest(bytea[])'); RETURN QUERY SELECT pg_catalog.unnest($1); END $$;
CREATE FUNCTION security_search_path.ng_mongo_server() RETURNS name LANGUAGE plpgsql AS
  $$ BEGIN PERFORM security_search_path.shadow('ng_mongo_server()'); RETURN 'sec_sp_srv'; END $$;
CREATE FUNCTION security_search_path.ng_bson_date(timestamptz) RETURNS jsonb LANGUAGE plpgsql AS
  $$ BEGIN PERFORM security_search_path.shadow('ng_bson_date()'); RETURN '{}'; END $$;
-- and like nutragenie_fdw's objects, which the suite installs into public,
-- a schema on the app's pinned search_path
CREATE FUNCTION security_search_path.objectid_generate() RETURNS objectid LANGUAGE plpgsql AS
  $$ BEGIN PERFORM security_search_path.shadow('objectid_generate()'); RETURN public.objectid_generate(); END $$;
CREATE FUNCTION security_search_path.objectid_eq(objectid, objectid) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN PERFORM security_search_path.shadow('=(objectid,objectid)'); RETURN public.objectid_eq($1, $2); END $$;
CREATE OPERATOR security_search_path.= (LEFTARG = objectid, RIGHTARG = objectid,
                                        FUNCTION = security_search_path.objectid_eq);
CREATE TABLE security_search_path.outbox (seq bigserial, xid xid8, serverid oid, userid oid,
  database text, collection text, op "char", doc_id bytea, body bytea, created_at timestamptz,
  attempts int, last_error text, last_attempt timestamptz);
CREATE TABLE security_search_path.dead_letters (id bigserial, seq bigint, xid xid8, serverid oid,
  userid oid, database text, collection text, op "char", doc_id bytea, body bytea,
  created_at timestamptz, attempts int, failed_at timestamptz, error text, error_code int);
CREATE TABLE security_search_path.recipes (LIKE nutragenie.recipes);
CREATE FUNCTION security_search_path.shadow_trigger() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN PERFORM security_search_path.shadow('a trigger on ' || TG_TABLE_NAME); RETURN NULL; END $$;
CREATE TRIGGER shadow AFTER INSERT OR UPDATE OR DELETE ON security_search_path.outbox
  FOR EACH STATEMENT EXECUTE FUNCTION security_search_path.shadow_trigger();
CREATE TRIGGER shadow AFTER INSERT OR UPDATE OR DELETE ON security_search_path.dead_letters
  FOR EACH STATEMENT EXECUTE FUNCTION security_search_path.shadow_trigger();
CREATE TRIGGER shadow AFTER INSERT OR UPDATE OR DELETE ON security_search_path.recipes
  FOR EACH STATEMENT EXECUTE FUNCTION security_search_path.shadow_trigger();
CREATE FUNCTION pg_temp.runs() RETURNS bigint LANGUAGE sql AS
  $$ SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM security_search_path.shadow_runs $$;
-- the shadows work: the role's own unqualified text = text finds them
SELECT 'a'::text = 'a'::text AS own_use;
SELECT objectid_generate() = objectid_generate() AS own_objectid_use;
SELECT pg_catalog.setval('security_search_path.shadow_runs', 1, false);

-- a foreign table of its own
CREATE FOREIGN TABLE security_search_path.docs (_id int4, name text, n int8, doc jsonb OPTIONS (field '$$ROOT'))
  SERVER sec_sp_srv OPTIONS (database 'ng_sec_sp', collection 'docs');
-- types named like those our SQL casts to, checked by a shadow
CREATE DOMAIN security_search_path.text AS pg_catalog.text CHECK (security_search_path.shadow('domain text'));
CREATE DOMAIN security_search_path.jsonb AS pg_catalog.jsonb CHECK (security_search_path.shadow('domain jsonb'));
CREATE DOMAIN security_search_path.bytea AS pg_catalog.bytea CHECK (security_search_path.shadow('domain bytea'));

-- scan, with pushed-down conditions
SELECT _id, name, n FROM security_search_path.docs WHERE _id OPERATOR(pg_catalog.=) 1;
SELECT count(*) FROM security_search_path.docs;

-- INSERT, UPDATE, DELETE, each committed (the applier sends them)
INSERT INTO security_search_path.docs (_id, name, n) VALUES (3, 'three', 30);
UPDATE security_search_path.docs SET n = 31 WHERE _id OPERATOR(pg_catalog.=) 3;
DELETE FROM security_search_path.docs WHERE _id OPERATOR(pg_catalog.=) 3;
-- with the transaction's own rows in the outbox, each later statement
-- checks the outbox for queued changes of the documents it writes
BEGIN;
INSERT INTO security_search_path.docs (_id, name, n) VALUES (4, 'four', 40), (5, 'five', 50);
UPDATE security_search_path.docs SET name = 'FOUR' WHERE _id OPERATOR(pg_catalog.=) 4;
UPDATE security_search_path.docs SET name = 'ONE' WHERE _id OPERATOR(pg_catalog.=) 1;
DELETE FROM security_search_path.docs WHERE _id OPERATOR(pg_catalog.=) 2;
-- COPY
COPY security_search_path.docs (_id, name, n) FROM STDIN;
6	six	60
7	seven	70
\.
COMMIT;
SELECT _id, name, n FROM security_search_path.docs ORDER BY _id;

-- IMPORT FOREIGN SCHEMA, ANALYZE, remote estimates
IMPORT FOREIGN SCHEMA ng_sec_sp LIMIT TO (docs) FROM SERVER sec_sp_srv INTO security_search_path_import;
SELECT attname, format_type(atttypid, atttypmod) FROM pg_catalog.pg_attribute
WHERE attrelid OPERATOR(pg_catalog.=) 'security_search_path_import.docs'::regclass AND attnum > 0 ORDER BY attnum;
ANALYZE security_search_path.docs;
ALTER FOREIGN TABLE security_search_path.docs OPTIONS (ADD use_remote_estimate 'true');
EXPLAIN (COSTS OFF) SELECT _id FROM security_search_path.docs WHERE n > 15;
SELECT count(*) FROM security_search_path.docs WHERE n > 15;

-- the domain functions, as an application calls them
SELECT nutragenie.ng_create_user('{"email": "eve@example.com", "passwordHash": "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"}') AS user_id;
SELECT nutragenie.ng_create_recipe('{"title": "Soup", "cuisine": "french", "steps": ["boil"], "createdBy": 1}') AS recipe_id;
SELECT nutragenie.ng_full_recipe(1) #>> '{content,cuisine}' AS cuisine;
SELECT nutragenie.ng_rate_recipe(1, 1, 4, 'fine');
SELECT (nutragenie.ng_user_full_profile(1) ->> 'email') AS email;
SELECT nutragenie.ng_start_cooking_session(1, 1, 'manual') AS session_id;
SELECT nutragenie.ng_log_voice_interaction(1, '{"transcript": "next", "step": 1}');
SELECT (nutragenie.ng_finish_cooking_session(1) ->> 'stepsCompleted') AS steps;
SELECT nutragenie.ng_log_nutrition('[{"userId": 1, "date": "2026-01-02", "mealType": "lunch", "foodName": "soup", "calories": 300}]');
SELECT count(*) FROM nutragenie.ng_popular_recipes(5);
SELECT nutragenie_fdw.cached_document('sec_sp_srv', 'ng_sec_sp', 'docs', '1') ->> 'name' AS cached;
SELECT title FROM nutragenie.recipe_full;
SELECT nutragenie.ng_publish('test.event', '{"a": 1}');
-- the SQL helpers the planner inlines into the caller's query
SELECT nutragenie.ng_bson_date('2026-01-02 03:04:05+00') AS bson_date;
SELECT nutragenie.ng_default_profile() #>> '{cookingProfile,skillLevel}' AS skill;
SELECT nutragenie.ng_profile_document(7, '{"dietaryProfile": {"dietType": "vegan"}}')
       #>> '{dietaryProfile,dietType}' AS diet;
SELECT nutragenie.ng_recipe_document(r) #>> '{title}' AS title FROM nutragenie.recipes r;
SELECT nutragenie.ng_session_document(s) #>> '{sessionMetadata,mode}' AS mode FROM nutragenie.cooking_sessions s;
SELECT nutragenie.ng_mongo_server() AS server;
DELETE FROM nutragenie.recipe_ratings;
DELETE FROM nutragenie.cooking_sessions;

-- nothing ran, and the role is no superuser
SELECT pg_temp.runs() AS shadow_runs;
DROP FUNCTION pg_temp.runs();
RESET ROLE;
SELECT rolsuper FROM pg_roles WHERE rolname = 'sec_sp_evil';
SELECT count(*) AS outbox_left FROM nutragenie_fdw.outbox;

RESET search_path;
SET search_path = public, nutragenie;
-- internal statements run as the owner of the outbox (the installing role),
-- not as the bootstrap superuser: hand the outbox to another role for a
-- moment and note who writes it (the statement, then the applier)
CREATE ROLE sec_sp_owner NOLOGIN;
GRANT USAGE ON SCHEMA nutragenie TO sec_sp_owner;
CREATE SCHEMA security_search_path_owner;
CREATE TABLE security_search_path_owner.ran_as (who name, op text);
GRANT USAGE ON SCHEMA security_search_path_owner TO PUBLIC;
GRANT INSERT ON security_search_path_owner.ran_as TO PUBLIC;
CREATE FUNCTION security_search_path_owner.note() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    INSERT INTO security_search_path_owner.ran_as VALUES (current_user, TG_OP);
    RETURN NULL;
END
$$;
CREATE TRIGGER sec_sp_note AFTER INSERT OR DELETE ON nutragenie_fdw.outbox
    FOR EACH STATEMENT EXECUTE FUNCTION security_search_path_owner.note();
ALTER TABLE nutragenie_fdw.outbox OWNER TO sec_sp_owner;
ALTER TABLE nutragenie_fdw.dead_letters OWNER TO sec_sp_owner;
SET ROLE sec_sp_evil;
INSERT INTO security_search_path.docs (_id, name, n) VALUES (8, 'eight', 80);
RESET ROLE;
SELECT who, bool_or(op = 'INSERT') AS queued FROM security_search_path_owner.ran_as GROUP BY who;
ALTER TABLE nutragenie_fdw.outbox OWNER TO CURRENT_USER;
ALTER TABLE nutragenie_fdw.dead_letters OWNER TO CURRENT_USER;
DROP TRIGGER sec_sp_note ON nutragenie_fdw.outbox;
DROP SCHEMA security_search_path_owner CASCADE;
REVOKE USAGE ON SCHEMA nutragenie FROM sec_sp_owner;
DROP ROLE sec_sp_owner;

SELECT ng_detach_mongo() IS NOT NULL AS detached;
TRUNCATE users, recipes, payments, nutrition_goals, nutrition_entries, recipe_ratings,
         chat_messages, cooking_sessions RESTART IDENTITY CASCADE;
SELECT nutragenie_fdw.run_command('sec_sp_srv', '{"dropDatabase": 1}', 'ng_sec_sp') ->> 'ok' AS dropped;
DROP SCHEMA security_search_path, security_search_path_import CASCADE;
DROP SERVER sec_sp_srv CASCADE;
REVOKE ALL ON ALL TABLES IN SCHEMA nutragenie FROM sec_sp_evil;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA nutragenie FROM sec_sp_evil;
REVOKE ALL ON SCHEMA nutragenie FROM sec_sp_evil;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA nutragenie FROM sec_sp_evil;
DROP ROLE sec_sp_evil;
