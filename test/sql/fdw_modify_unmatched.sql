-- An UPDATE or DELETE whose document another MongoDB client deletes
-- between the statement and the applier's write matches nothing there.
-- That is never silent: the change goes to the dead letters as "matched no
-- document" (counted by nutragenie_fdw.write_queue_status) and COMMIT warns.
\set VERBOSITY default
CREATE SCHEMA modify_unmatched;
-- (a busy machine must not turn the wait for the applier into a WARNING)
SET nutragenie.commit_timeout = '60s';
SET search_path = modify_unmatched, public;
\getenv mongo_uri MONGODB_URI
CREATE SERVER mu_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri :'mongo_uri', database 'ng_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER mu_srv;
DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('mu_srv', '{"drop": "mu_docs"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;
SELECT (nutragenie_fdw.run_command('mu_srv', '{"insert": "mu_docs", "documents": [
  {"_id": 1, "v": 1}, {"_id": 2, "v": 2}, {"_id": 3, "v": 3},
  {"_id": 4, "v": 4}, {"_id": 5, "v": 5}, {"_id": 6, "v": 6},
  {"_id": 7, "v": 7}, {"_id": 8, "v": 8}, {"_id": 9, "v": 9}]}') ->> 'n')::int AS inserted;
CREATE FOREIGN TABLE docs (_id int, v int)
  SERVER mu_srv OPTIONS (collection 'mu_docs');
-- another client, straight to MongoDB
CREATE FUNCTION delete_behind(id int) RETURNS int LANGUAGE sql AS $$
  SELECT (nutragenie_fdw.run_command('mu_srv', json_build_object('delete', 'mu_docs',
    'deletes', json_build_array(json_build_object('q', json_build_object('_id', id), 'limit', 1))))
    ->> 'n')::int
$$;
CREATE TABLE before AS SELECT dead_letters FROM nutragenie_fdw.write_queue_status();

-- an update whose document is gone when it is applied
BEGIN;
UPDATE docs SET v = 10 WHERE _id = 1;
SELECT delete_behind(1);
COMMIT;
-- a delete
BEGIN;
DELETE FROM docs WHERE _id = 2;
SELECT delete_behind(2);
COMMIT;
-- several documents in one transaction: only the one deleted behind
-- our back is flagged, the others are applied (the applier finds out
-- which update matched nothing after the write)
BEGIN;
UPDATE docs SET v = v + 100 WHERE _id IN (3, 4, 5);
DELETE FROM docs WHERE _id = 6;
SELECT delete_behind(4);
COMMIT;
-- several deletes (the applier asks MongoDB before the write)
BEGIN;
DELETE FROM docs WHERE _id IN (7, 8, 9);
SELECT delete_behind(8);
COMMIT;
SELECT * FROM docs ORDER BY _id;
-- a change that finds its document warns of nothing
UPDATE docs SET v = 0 WHERE _id = 3;
-- a whole-document update (a $$ROOT column) is a replace: it does not
-- bring back a document another client deleted
CREATE FOREIGN TABLE raw (_id int, doc jsonb OPTIONS (field '$$ROOT'))
  SERVER mu_srv OPTIONS (collection 'mu_docs');
BEGIN;
UPDATE raw SET doc = '{"v": 50}' WHERE _id = 5;
SELECT delete_behind(5);
COMMIT;
UPDATE raw SET doc = '{"v": 30}' WHERE _id = 3;
SELECT * FROM docs ORDER BY _id;

SELECT operation, _id, error, error_code FROM nutragenie_fdw.dead_letter_queue
WHERE collection = 'mu_docs' ORDER BY seq;
SELECT s.dead_letters - b.dead_letters AS new_dead_letters
FROM nutragenie_fdw.write_queue_status() s, before b;
SELECT bool_and(nutragenie_fdw.discard_dead_letter(id)) AS discarded
FROM nutragenie_fdw.dead_letters WHERE collection = 'mu_docs';

SET client_min_messages = warning;
DROP SCHEMA modify_unmatched CASCADE;
DROP SERVER mu_srv CASCADE;
