-- Security: MongoDB is read with the user mapping of the role that runs a
-- statement, decided when the statement runs, and the transaction's own
-- pending documents (the overlay) reach only readers using the user mapping
-- that wrote or re-read them.
--
-- On FerretDB without authentication a mapping "works" when it is the
-- superuser's or waives password_required, and "cannot read" when it is a
-- non-superuser's without a password (refused before connecting).
\getenv mongo_uri MONGODB_URI
CREATE SCHEMA security_mapping;
CREATE SERVER sec_map_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri :'mongo_uri', database 'ng_sec_map');
CREATE USER MAPPING FOR CURRENT_USER SERVER sec_map_srv;
SELECT nutragenie_fdw.run_command('sec_map_srv', '{"dropDatabase": 1}') ->> 'ok' AS dropped;
SELECT nutragenie_fdw.run_command('sec_map_srv',
  '{"insert": "secret", "documents": [{"_id": 1, "pub": "hello", "secret": "TOPSECRET-1"},
    {"_id": 2, "pub": "world", "secret": "TOPSECRET-2"}, {"_id": 3, "pub": "!", "secret": "TOPSECRET-3"}]}')
  ->> 'n' AS inserted;

-- alice and carol: working mappings (each their own); mallory: one that
-- cannot read
CREATE ROLE sec_map_alice NOLOGIN;
CREATE ROLE sec_map_carol NOLOGIN;
CREATE ROLE sec_map_mallory NOLOGIN;
GRANT USAGE ON SCHEMA nutragenie, security_mapping
  TO sec_map_alice, sec_map_carol, sec_map_mallory;
GRANT USAGE ON FOREIGN SERVER sec_map_srv
  TO sec_map_alice, sec_map_carol, sec_map_mallory;
CREATE USER MAPPING FOR sec_map_alice SERVER sec_map_srv OPTIONS (password_required 'false');
CREATE USER MAPPING FOR sec_map_carol SERVER sec_map_srv OPTIONS (password_required 'false');
CREATE USER MAPPING FOR sec_map_mallory SERVER sec_map_srv;

CREATE FOREIGN TABLE security_mapping.secret (_id int, pub text, secret text)
  SERVER sec_map_srv OPTIONS (collection 'secret');
GRANT SELECT, UPDATE ON security_mapping.secret
  TO sec_map_alice, sec_map_carol, sec_map_mallory;

-- alice's function, run as alice by whoever calls it
CREATE FUNCTION security_mapping.touch(id int) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS $$
  UPDATE security_mapping.secret SET pub = 'touched' WHERE _id OPERATOR(pg_catalog.=) id
$$;
ALTER FUNCTION security_mapping.touch(int) OWNER TO sec_map_alice;

\set VERBOSITY terse
-- mallory's mapping cannot read, directly or through the document cache
SET ROLE sec_map_mallory;
SELECT pub FROM security_mapping.secret WHERE _id = 1;
SELECT nutragenie_fdw.cached_document('sec_map_srv', 'ng_sec_map', 'secret', '1') AS mallory_reads;

-- ... nor after alice's function changed (and re-read) the document in
-- mallory's own transaction: the overlay holds alice's version, not hers
BEGIN;
SELECT security_mapping.touch(1);
SELECT nutragenie_fdw.cached_document('sec_map_srv', 'ng_sec_map', 'secret', '1') AS mallory_reads_overlay;
ROLLBACK;
BEGIN;
SELECT security_mapping.touch(1);
SELECT _id, pub, secret FROM security_mapping.secret ORDER BY _id;
ROLLBACK;
RESET ROLE;

-- carol's mapping works: in a transaction where alice's mapping changed the
-- document, carol reads MongoDB as her mapping shows it (without alice's
-- pending change), and may not change that document herself
SET ROLE sec_map_carol;
BEGIN;
SELECT security_mapping.touch(1);
SELECT nutragenie_fdw.cached_document('sec_map_srv', 'ng_sec_map', 'secret', '1') ->> 'pub' AS carol_cached;
SELECT _id, pub FROM security_mapping.secret ORDER BY _id;
\set VERBOSITY default
UPDATE security_mapping.secret SET pub = 'carol' WHERE _id = 1;
\set VERBOSITY terse
ROLLBACK;
-- other documents are hers to change, and she reads her own writes
BEGIN;
SELECT security_mapping.touch(1);
UPDATE security_mapping.secret SET pub = 'carol' WHERE _id = 2;
SELECT _id, pub FROM security_mapping.secret ORDER BY _id;
ROLLBACK;
RESET ROLE;

-- alice reads her own writes, through both paths
SET ROLE sec_map_alice;
BEGIN;
SELECT security_mapping.touch(1);
SELECT nutragenie_fdw.cached_document('sec_map_srv', 'ng_sec_map', 'secret', '1') ->> 'pub' AS alice_cached;
SELECT _id, pub FROM security_mapping.secret WHERE _id = 1;
ROLLBACK;
RESET ROLE;

-- a plan made by one role and run by another uses the runner's mapping:
-- a prepared statement (an aggregate pushed down, and rows) ...
PREPARE sec_map_count AS SELECT count(*) FROM security_mapping.secret;
PREPARE sec_map_rows AS SELECT _id, secret FROM security_mapping.secret ORDER BY _id;
EXECUTE sec_map_count;
EXECUTE sec_map_rows;
SET ROLE sec_map_mallory;
SELECT count(*) FROM security_mapping.secret;
EXECUTE sec_map_count;
EXECUTE sec_map_rows;
RESET ROLE;
DEALLOCATE sec_map_count;
DEALLOCATE sec_map_rows;

-- ... and a PL/pgSQL function's cached plan
CREATE FUNCTION security_mapping.secrets() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  RETURN (SELECT string_agg(secret, ',' ORDER BY _id) FROM security_mapping.secret);
END $$;
SELECT security_mapping.secrets();
SET ROLE sec_map_mallory;
SELECT security_mapping.secrets();
RESET ROLE;
SET ROLE sec_map_carol;
SELECT security_mapping.secrets();
RESET ROLE;

-- a view reads with its owner's mapping, as for any foreign table: alice's
-- view works for mallory; mallory's view fails even for the superuser
CREATE VIEW security_mapping.alice_view AS
  SELECT _id, pub FROM security_mapping.secret;
ALTER VIEW security_mapping.alice_view OWNER TO sec_map_alice;
GRANT SELECT ON security_mapping.alice_view TO sec_map_mallory;
CREATE VIEW security_mapping.mallory_view AS
  SELECT _id, pub FROM security_mapping.secret;
ALTER VIEW security_mapping.mallory_view OWNER TO sec_map_mallory;
SET ROLE sec_map_mallory;
SELECT * FROM security_mapping.alice_view ORDER BY _id;
SELECT count(*) FROM security_mapping.alice_view;
RESET ROLE;
SELECT * FROM security_mapping.mallory_view ORDER BY _id;
-- the same plan, first run by the superuser, then by mallory
PREPARE sec_map_view AS SELECT count(*) FROM security_mapping.alice_view;
EXECUTE sec_map_view;
SET ROLE sec_map_mallory;
EXECUTE sec_map_view;
RESET ROLE;
DEALLOCATE sec_map_view;
\set VERBOSITY default

-- MongoDB unchanged
SELECT _id, pub FROM security_mapping.secret ORDER BY _id;

DROP SCHEMA security_mapping CASCADE;
DROP SERVER sec_map_srv CASCADE;
DROP OWNED BY sec_map_alice, sec_map_carol, sec_map_mallory;
DROP ROLE sec_map_alice, sec_map_carol, sec_map_mallory;
