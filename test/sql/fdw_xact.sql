-- One transaction writes PostgreSQL and MongoDB, all or nothing: commit,
-- rollback, errors, savepoints, read your own writes, refused PREPARE.
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SCHEMA xact;
SET search_path = xact, public;
\getenv mongo_uri MONGODB_URI
CREATE SERVER xact_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri :'mongo_uri', database 'ng_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER xact_srv;
DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('xact_srv', '{"drop": "xact_docs"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;
SELECT nutragenie_fdw.run_command('xact_srv', '{"create": "xact_docs"}')->>'ok';

CREATE FOREIGN TABLE docs (_id int, v text, n int) SERVER xact_srv
  OPTIONS (collection 'xact_docs');
CREATE TABLE local_log (id int PRIMARY KEY, note text);

-- what MongoDB holds, seen by another client
CREATE FUNCTION mongo_state() RETURNS text LANGUAGE sql AS $$
  SELECT coalesce(string_agg(d->>'_id' || '=' || coalesce(d->>'v', '-') || '/' || coalesce(d->>'n', '-'), ' ' ORDER BY (d->>'_id')::int), '(empty)')
  FROM jsonb_array_elements(nutragenie_fdw.run_command('xact_srv', '{"find": "xact_docs"}')->'cursor'->'firstBatch') d
$$;

-- commit: both stores
BEGIN;
INSERT INTO local_log VALUES (1, 'committed');
INSERT INTO docs VALUES (1, 'one', 10);
-- not visible to other MongoDB clients before COMMIT
SELECT mongo_state();
COMMIT;
SELECT mongo_state();

-- rollback: neither store
BEGIN;
INSERT INTO local_log VALUES (2, 'rolled back');
INSERT INTO docs VALUES (2, 'two', 20);
UPDATE docs SET v = 'changed' WHERE _id = 1;
DELETE FROM docs WHERE _id = 1;
ROLLBACK;
SELECT mongo_state(), (SELECT count(*) FROM local_log) AS local_rows;

-- an error in a later statement aborts the MongoDB writes too
BEGIN;
INSERT INTO docs VALUES (3, 'three', 30);
SELECT 1 / 0;
COMMIT;
SELECT mongo_state();

-- an error on row 3 of a multi-row statement: none of its rows
INSERT INTO docs VALUES (4, 'four', 40), (5, 'five', 50), (1, 'dup', 0), (6, 'six', 60);
SELECT mongo_state();

-- savepoints: only the rolled-back part disappears
BEGIN;
INSERT INTO docs VALUES (7, 'seven', 70);
SAVEPOINT a;
INSERT INTO docs VALUES (8, 'eight', 80);
UPDATE docs SET n = n + 1 WHERE _id = 1;
ROLLBACK TO SAVEPOINT a;
SELECT _id, v, n FROM docs ORDER BY _id;
SAVEPOINT b;
UPDATE docs SET n = n + 100 WHERE _id = 7;
RELEASE SAVEPOINT b;
COMMIT;
SELECT mongo_state();

-- read your own writes: scans, pushed-down filters and joins see them
BEGIN;
INSERT INTO docs VALUES (9, 'nine', 90);
UPDATE docs SET v = 'uno' WHERE _id = 1;
DELETE FROM docs WHERE _id = 7;
SELECT _id, v, n FROM docs ORDER BY _id;
SELECT _id, v FROM docs WHERE v = 'uno';
SELECT _id FROM docs WHERE n >= 90;
SELECT _id FROM docs WHERE _id = 7;
EXPLAIN (COSTS OFF) SELECT _id FROM docs WHERE n >= 90;
INSERT INTO local_log VALUES (9, 'nine');
SELECT l.note, d.v FROM local_log l JOIN docs d ON d._id = l.id ORDER BY l.id;
-- other MongoDB clients still see the old state
SELECT mongo_state();
COMMIT;
SELECT mongo_state();

-- a document written twice in one transaction ends in its last state
BEGIN;
INSERT INTO docs VALUES (10, 'ten', 1);
UPDATE docs SET n = n + 1 WHERE _id = 10;
UPDATE docs SET n = n + 1 WHERE _id = 10;
DELETE FROM docs WHERE _id = 10;
INSERT INTO docs VALUES (10, 'ten again', 5);
COMMIT;
SELECT mongo_state();

-- COPY (queued batch_size rows at a time; 2 here): read back in the
-- transaction; a savepoint rolled back, or a COPY that failed in one,
-- takes its rows away
ALTER FOREIGN TABLE docs OPTIONS (ADD batch_size '2');
BEGIN;
COPY docs FROM STDIN;
20	twenty	20
21	twenty-one	21
22	twenty-two	22
\.
SELECT _id, v, n FROM docs WHERE _id >= 20 ORDER BY _id;
SAVEPOINT c;
COPY docs FROM STDIN;
23	twenty-three	23
24	twenty-four	24
25	twenty-five	25
\.
SELECT _id FROM docs WHERE _id >= 20 ORDER BY _id;
ROLLBACK TO SAVEPOINT c;
SELECT _id FROM docs WHERE _id >= 20 ORDER BY _id;
SAVEPOINT d;
-- (without CONTEXT: see test copy_context)
\set SHOW_CONTEXT never
COPY docs FROM STDIN;
26	twenty-six	26
27	twenty-seven	27
21	again	0
\.
\set SHOW_CONTEXT errors
ROLLBACK TO SAVEPOINT d;
COPY docs FROM STDIN;
23	twenty-three again	23
\.
SELECT _id, v FROM docs WHERE _id >= 20 ORDER BY _id;
-- other MongoDB clients see none of it yet
SELECT mongo_state();
COMMIT;
SELECT mongo_state();
ALTER FOREIGN TABLE docs OPTIONS (DROP batch_size);

-- a statement reads the collection as it was when the statement started,
-- also when a nested loop rescans it: the document the first outer row
-- inserts (_id 101) is not found for the second outer row
BEGIN;
SET LOCAL nutragenie.enable_batched_join = off;
SET LOCAL enable_hashjoin = off;
SET LOCAL enable_mergejoin = off;
SET LOCAL enable_material = off;
INSERT INTO docs SELECT d._id + 100, d.v || ' copy', d.n
FROM (VALUES (1), (101)) k(id) JOIN docs d ON d._id = k.id;
SELECT _id, v FROM docs WHERE _id > 100 ORDER BY _id;
ROLLBACK;

-- PREPARE TRANSACTION is refused once a transaction wrote to MongoDB
BEGIN;
INSERT INTO docs VALUES (11, 'eleven', 11);
PREPARE TRANSACTION 'ng_xact';
SELECT mongo_state();
-- a transaction that only read MongoDB is not concerned
BEGIN;
SELECT count(*) FROM docs;
-- (terse: PostgreSQL's hint is worded differently since 17)
\set VERBOSITY terse
PREPARE TRANSACTION 'ng_read_only';
\set VERBOSITY default
SELECT pending FROM nutragenie_fdw.write_queue_status();

SELECT nutragenie_fdw.run_command('xact_srv', '{"drop": "xact_docs"}')->>'ok';
SET client_min_messages = warning;
DROP SCHEMA xact CASCADE;
DROP SERVER xact_srv CASCADE;
