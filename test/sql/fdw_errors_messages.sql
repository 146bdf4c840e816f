-- Errors that say what is wrong: timestamps with microseconds (and the
-- timestamp_rounding option that rounds them), JSON nested too deeply for
-- BSON, integers a float column cannot hold exactly, and a write that maps
-- two columns to one field.
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SCHEMA errors_messages;
SET search_path = errors_messages, public;
\getenv mongo_uri MONGODB_URI
CREATE SERVER em_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri :'mongo_uri', database 'ng_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER em_srv;
DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('em_srv', '{"drop": "em_docs"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;
SELECT nutragenie_fdw.run_command('em_srv', '{"create": "em_docs"}')->>'ok';

-- the documents as MongoDB holds them
CREATE FUNCTION mongo_docs() RETURNS SETOF jsonb LANGUAGE sql AS $$
  SELECT jsonb_array_elements(nutragenie_fdw.run_command('em_srv',
           '{"find": "em_docs", "sort": {"_id": 1}}') -> 'cursor' -> 'firstBatch')
$$;

CREATE FOREIGN TABLE ts (
    _id int,
    at timestamptz,
    at_round timestamptz OPTIONS (timestamp_rounding 'round'),
    at_trunc timestamp OPTIONS (timestamp_rounding 'truncate'),
    ats timestamptz[] OPTIONS (timestamp_rounding 'round')
) SERVER em_srv OPTIONS (collection 'em_docs');

-- a BSON date holds milliseconds: an error with a hint, not a silent round
INSERT INTO ts (_id, at) VALUES (1, '2026-03-01 10:00:00.123456+00');
INSERT INTO ts (_id, at) VALUES (1, 'infinity');
DO $$ BEGIN
  INSERT INTO errors_messages.ts (_id, at) VALUES (1, '2026-03-01 10:00:00.123456+00');
EXCEPTION WHEN fdw_invalid_data_type THEN RAISE NOTICE 'caught %', SQLSTATE;
END $$;
-- whole milliseconds are stored as they are
INSERT INTO ts (_id, at) VALUES (1, '2026-03-01 10:00:00.123+00');
UPDATE ts SET at = '2026-03-01 10:00:00.1234+00' WHERE _id = 1;
-- the option rounds (halves away from zero, as timestamptz(3) does) or
-- truncates (towards the past, as date_trunc does), also before 1970 and in
-- arrays
INSERT INTO ts (_id, at_round, at_trunc, ats) VALUES
  (2, '2026-03-01 10:00:00.1235+00', '2026-03-01 10:00:00.1239', '{"2026-03-01 10:00:00.0004+00","2026-03-01 10:00:00.9996+00"}'),
  (3, '1960-03-01 10:00:00.1235+00', '1960-03-01 10:00:00.1231', NULL),
  (4, '1960-03-01 10:00:00.1234+00', '1960-03-01 10:00:00.0001', NULL);
SELECT _id, at, at_round, at_trunc, ats FROM ts ORDER BY _id;
SELECT _id, at_round = given::timestamptz(3) AS as_cast
FROM ts JOIN (VALUES (2, '2026-03-01 10:00:00.1235+00'::timestamptz),
                     (3, '1960-03-01 10:00:00.1235+00'),
                     (4, '1960-03-01 10:00:00.1234+00')) v(id, given) ON _id = id
ORDER BY _id;
SELECT doc->'_id' AS id, doc->'at_round' AS at_round, doc->'at_trunc' AS at_trunc
FROM mongo_docs() doc ORDER BY 1;
-- an UPDATE rounds too; a filter is never rounded (it stays local)
UPDATE ts SET at_round = '2026-03-01 10:00:00.9999+00' WHERE _id = 2;
SELECT at_round FROM ts WHERE _id = 2;
SELECT count(*) FROM ts WHERE at_round = '2026-03-01 10:00:01.0001+00';
-- set on the table, for every timestamp column
ALTER FOREIGN TABLE ts OPTIONS (ADD timestamp_rounding 'truncate');
UPDATE ts SET at = '2026-03-01 10:00:00.123999+00' WHERE _id = 1;
SELECT at FROM ts WHERE _id = 1;
ALTER FOREIGN TABLE ts OPTIONS (DROP timestamp_rounding);

-- JSON nested deeper than BSON allows says so
CREATE FOREIGN TABLE js (_id int, j jsonb, t json, doc jsonb OPTIONS (field '$$ROOT'))
  SERVER em_srv OPTIONS (collection 'em_docs');
INSERT INTO js (_id, j) VALUES (10, (repeat('[', 150) || '1' || repeat(']', 150))::jsonb);
INSERT INTO js (_id, t) VALUES (10, (repeat('{"a": ', 150) || '1' || repeat('}', 150))::json);
INSERT INTO js (doc) VALUES (('{"_id": 10, "a": ' || repeat('[', 150) || '1' || repeat(']', 150) || '}')::jsonb);
DO $$ BEGIN
  INSERT INTO errors_messages.js (_id, j) VALUES (10, (repeat('[', 150) || '1' || repeat(']', 150))::jsonb);
EXCEPTION WHEN program_limit_exceeded THEN RAISE NOTICE 'caught %', SQLSTATE;
END $$;
-- shallower is fine (objects: FerretDB 1.24 stores no nested arrays)
INSERT INTO js (_id, j) VALUES (10, (repeat('{"a": ', 50) || '1' || repeat('}', 50))::jsonb);
SELECT j = (repeat('{"a": ', 50) || '1' || repeat('}', 50))::jsonb AS stored FROM js WHERE _id = 10;
-- Extended JSON libbson refuses is not "too deep"
\set VERBOSITY terse
INSERT INTO js (_id, j) VALUES (11, '{"$date": "not a date"}');
\set VERBOSITY default

-- integers a float column cannot hold exactly: "inexact", not "out of range"
SELECT nutragenie_fdw.run_command('em_srv', $$
{"insert": "em_docs", "documents": [
  {"_id": 20, "n": {"$numberLong": "9007199254740993"}, "m": 16777217},
  {"_id": 21, "n": {"$numberLong": "9007199254740992"}, "m": 16777216}
]}$$)->>'ok';
CREATE FOREIGN TABLE fl (_id int, n float8, m float4)
  SERVER em_srv OPTIONS (collection 'em_docs');
SELECT n FROM fl WHERE _id = 20;
SELECT m FROM fl WHERE _id = 20;
SELECT n, m FROM fl WHERE _id = 21;
DO $$ BEGIN
  PERFORM n FROM errors_messages.fl WHERE _id = 20;
EXCEPTION WHEN datatype_mismatch THEN RAISE NOTICE 'caught %', SQLSTATE;
END $$;
-- NULL under type_mismatch 'null', as for any value that does not fit
ALTER FOREIGN TABLE fl ALTER COLUMN n OPTIONS (ADD type_mismatch 'null');
SELECT n IS NULL AS is_null FROM fl WHERE _id = 20;

-- two columns may read one field, but a write cannot set it from both
CREATE FOREIGN TABLE two (_id int, n int8, n_json jsonb OPTIONS (field 'n'), label text)
  SERVER em_srv OPTIONS (collection 'em_docs');
SELECT n, n_json FROM two WHERE _id = 21;
INSERT INTO two VALUES (22, 1, '1', 'x');
UPDATE two SET n = 1, n_json = '2' WHERE _id = 21;
-- setting one of them is fine (an INSERT leaves a NULL out)
UPDATE two SET label = 'one' WHERE _id = 21;
UPDATE two SET n_json = '7' WHERE _id = 21;
INSERT INTO two (_id, n, label) VALUES (22, 5, 'five');
SELECT _id, n, n_json, label FROM two WHERE _id IN (21, 22) ORDER BY _id;
-- ... unless NULL is stored as BSON null
ALTER FOREIGN TABLE two ALTER COLUMN n_json OPTIONS (ADD null_mode 'null');
INSERT INTO two (_id, n, label) VALUES (23, 5, 'five');
DO $$ BEGIN
  INSERT INTO errors_messages.two VALUES (22, 1, '1', 'x');
EXCEPTION WHEN duplicate_column THEN RAISE NOTICE 'caught %', SQLSTATE;
END $$;

SELECT nutragenie_fdw.run_command('em_srv', '{"drop": "em_docs"}')->>'ok';
SET client_min_messages = warning;
DROP SCHEMA errors_messages CASCADE;
DROP SERVER em_srv CASCADE;
