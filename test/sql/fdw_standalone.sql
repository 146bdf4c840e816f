-- nutragenie_fdw stands alone: in a database that has never heard of
-- NutraGenie, CREATE EXTENSION nutragenie_fdw installs the wrapper into the
-- creation schema (public here) and, with the default search_path, a query
-- compares objectid columns with the extension's operators, pushed down.
-- The write queue lives in the fixed schema nutragenie_fdw.
\set VERBOSITY terse
SET client_min_messages = warning;
SELECT current_database() AS regression_db \gset
\getenv mongo_uri MONGODB_URI
DROP DATABASE IF EXISTS fdw_standalone;
CREATE DATABASE fdw_standalone;
\c fdw_standalone
SET client_min_messages = warning;
SHOW search_path;
CREATE EXTENSION nutragenie_fdw;
SELECT e.extname, e.extversion, e.extnamespace::regnamespace AS schema
FROM pg_extension e WHERE e.extname LIKE 'nutragenie%' ORDER BY 1;
SELECT count(*) AS app_schemas FROM pg_namespace WHERE nspname = 'nutragenie';
SELECT t.typnamespace::regnamespace AS objectid_schema FROM pg_type t WHERE t.typname = 'objectid';

CREATE SERVER standalone_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri :'mongo_uri', database 'ng_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER standalone_srv;
CREATE FOREIGN TABLE docs (_id objectid, name text)
  SERVER standalone_srv OPTIONS (collection 'fdw_standalone');
DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('standalone_srv', '{"drop": "fdw_standalone"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;
-- a write goes through the queue and its applier, started for this database
INSERT INTO docs VALUES ('650000000000000000000001', 'one'), ('650000000000000000000002', 'two');
SELECT pending, dead_letters FROM nutragenie_fdw.write_queue_status();
EXPLAIN (COSTS OFF) SELECT name FROM docs WHERE _id = '650000000000000000000002';
SELECT name FROM docs WHERE _id = '650000000000000000000002';
SELECT name FROM docs WHERE _id < '650000000000000000000002'::objectid ORDER BY _id;
SELECT nutragenie_fdw.run_command('standalone_srv', '{"drop": "fdw_standalone"}') ->> 'ok' AS dropped;

-- another schema of the DBA's choice: the type and the wrapper go there,
-- the queue stays in nutragenie_fdw
DROP EXTENSION nutragenie_fdw CASCADE;
CREATE SCHEMA mongo;
CREATE EXTENSION nutragenie_fdw SCHEMA mongo;
SELECT t.typnamespace::regnamespace AS objectid_schema FROM pg_type t WHERE t.typname = 'objectid';
SELECT c.relnamespace::regnamespace AS queue_schema FROM pg_class c WHERE c.relname = 'outbox';
SELECT 'ffffffffffffffffffffffff'::mongo.objectid OPERATOR(mongo.>) '000000000000000000000000' AS greater;

\c :regression_db
DROP DATABASE fdw_standalone WITH (FORCE);
