-- UPDATE and DELETE address the exact BSON _id of the document they read,
-- whatever the type of the column mapped to _id: a text column shows an
-- ObjectId and a string with the same hex digits alike, a jsonb column
-- (what IMPORT FOREIGN SCHEMA makes for mixed _id types) shows int32,
-- int64 and integral doubles alike.  What MongoDB ends up holding is read
-- back with nutragenie_fdw.run_command.
\set VERBOSITY terse
SET timezone = 'UTC';
CREATE SCHEMA modify_id_types;
-- (a busy machine must not turn the wait for the applier into a WARNING)
SET nutragenie.commit_timeout = '60s';
SET search_path = modify_id_types, public;
\getenv mongo_uri MONGODB_URI
CREATE SERVER mit_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri :'mongo_uri', database 'ng_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER mit_srv;
DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('mit_srv', '{"drop": "mit_docs"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;

-- what MongoDB holds: each document's v and the BSON type of its _id
CREATE FUNCTION mongo_docs() RETURNS TABLE (v int, id_type text) LANGUAGE sql AS $$
  SELECT (d->>'v')::int, d->>'t'
  FROM jsonb_array_elements(nutragenie_fdw.run_command('mit_srv',
         '{"aggregate": "mit_docs", "pipeline": [{"$project": {"_id": 0, "v": 1, "t": {"$type": "$_id"}}}], "cursor": {}}')
         -> 'cursor' -> 'firstBatch') d
  ORDER BY 1
$$;

SELECT (nutragenie_fdw.run_command('mit_srv', '{"insert": "mit_docs", "documents": [
  {"_id": 1, "v": 1},
  {"_id": {"$numberLong": "2"}, "v": 2},
  {"_id": 3.5, "v": 3},
  {"_id": {"$numberDouble": "4.0"}, "v": 4},
  {"_id": {"$numberLong": "9007199254740993"}, "v": 5},
  {"_id": "650000000000000000000006", "v": 6},
  {"_id": {"$oid": "650000000000000000000007"}, "v": 7},
  {"_id": {"$oid": "650000000000000000000008"}, "v": 8},
  {"_id": "s9", "v": 9},
  {"_id": {"a": 10}, "v": 10},
  {"_id": true, "v": 11},
  {"_id": {"$date": {"$numberLong": "1704067200000"}}, "v": 12},
  {"_id": {"$binary": {"base64": "EjRWeJq83vASNFZ4mrze8A==", "subType": "04"}}, "v": 13}
]}') ->> 'n')::int AS inserted;

SELECT * FROM mongo_docs();

-- A text _id column over strings and ObjectIds: both read as hex digits.
-- (The same digits in one collection would be a clearer test, but
-- FerretDB's unique _id index takes them for one key.)
CREATE FOREIGN TABLE by_text (_id text, v int)
  SERVER mit_srv OPTIONS (collection 'mit_docs');
SELECT _id, v FROM by_text WHERE v IN (6, 7, 8) ORDER BY v;
UPDATE by_text SET v = v * 100
WHERE _id IN ('650000000000000000000006', '650000000000000000000007');
UPDATE by_text SET v = 800 WHERE _id = '650000000000000000000008';
-- each document got its own change; before, the ObjectId ones did not
-- change at all (the updates went to a string _id that does not exist)
SELECT * FROM mongo_docs() WHERE v >= 600;
SELECT _id, v FROM by_text WHERE v >= 600 ORDER BY v;
-- DELETE through the text column removes the ObjectId document itself
DELETE FROM by_text WHERE v = 800;
SELECT count(*) AS oid_8_left FROM jsonb_array_elements(nutragenie_fdw.run_command('mit_srv',
  '{"find": "mit_docs", "filter": {"_id": {"$oid": "650000000000000000000008"}}}')
  -> 'cursor' -> 'firstBatch');
-- and neither wrote a document with a string _id
SELECT count(*) AS string_8 FROM jsonb_array_elements(nutragenie_fdw.run_command('mit_srv',
  '{"find": "mit_docs", "filter": {"_id": "650000000000000000000008"}}')
  -> 'cursor' -> 'firstBatch');
-- SET _id = _id keeps the ObjectId (the value the column shows is the same)
UPDATE by_text SET _id = _id, v = 701 WHERE v = 700;
SELECT count(*) AS oid_7_is_701 FROM jsonb_array_elements(nutragenie_fdw.run_command('mit_srv',
  '{"find": "mit_docs", "filter": {"_id": {"$oid": "650000000000000000000007"}, "v": 701}}')
  -> 'cursor' -> 'firstBatch');
-- a real change of the _id is still refused
UPDATE by_text SET _id = 'other' WHERE v = 701;

-- A jsonb _id column over every type: every document is writable, and
-- each change reaches the document read, with its _id's type unchanged.
CREATE FOREIGN TABLE by_jsonb (_id jsonb, v int)
  SERVER mit_srv OPTIONS (collection 'mit_docs');
SELECT count(*) AS rows FROM by_jsonb;
UPDATE by_jsonb SET v = v + 1000;
SELECT v FROM by_jsonb ORDER BY v;
SELECT * FROM mongo_docs();
-- the int32 1, the integral double 4.0, the document and the date go;
-- the int64 2 stays
DELETE FROM by_jsonb WHERE v IN (1001, 1004, 1010, 1012);
SELECT * FROM mongo_docs();
-- in a transaction: read your own writes by exact _id, then delete all
BEGIN;
UPDATE by_jsonb SET v = v + 100 WHERE v = 1002;
DELETE FROM by_jsonb WHERE v = 1003;
SELECT v FROM by_jsonb ORDER BY v;
DELETE FROM by_jsonb;
SELECT count(*) FROM by_jsonb;
COMMIT;
SELECT count(*) AS docs_left FROM mongo_docs();

SET client_min_messages = warning;
DROP SCHEMA modify_id_types CASCADE;
DROP SERVER mit_srv CASCADE;
