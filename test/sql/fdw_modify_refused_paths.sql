-- An UPDATE of a nested field column ($set of a dotted path) that MongoDB
-- will certainly refuse is refused at the statement, naming the column,
-- the path, the value that blocks it and the _id: MongoDB cannot create a
-- field under a scalar, null or (by name) an array.  The check reads the
-- version of the document the UPDATE locked and re-read, with this
-- transaction's earlier changes.  Before, such an UPDATE was queued and
-- dead-lettered after COMMIT ("Cannot create field 'b' in element ...").
-- A $unset there changes nothing, as in MongoDB, and is kept.  Two columns
-- assigning a field and a field nested in it are refused at the statement.
\set VERBOSITY default
CREATE SCHEMA modify_refused_paths;
SET search_path = modify_refused_paths, public;
\getenv mongo_uri MONGODB_URI
CREATE SERVER rp_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri :'mongo_uri', database 'ng_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER rp_srv;
DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('rp_srv', '{"drop": "refused_paths"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;
SELECT nutragenie_fdw.run_command('rp_srv', '{"create": "refused_paths"}')->>'ok' AS created;
SELECT count(*) AS dead_before FROM nutragenie_fdw.dead_letters \gset

CREATE FUNCTION mongo_docs() RETURNS SETOF jsonb LANGUAGE sql AS $$
  SELECT jsonb_array_elements(nutragenie_fdw.run_command('rp_srv',
           '{"find": "refused_paths", "sort": {"_id": 1}}') -> 'cursor' -> 'firstBatch')
$$;
CREATE FUNCTION nothing_left(dead_before bigint) RETURNS TABLE (queued bigint, dead bigint)
LANGUAGE sql AS $$
  SELECT (SELECT count(*) FROM nutragenie_fdw.outbox),
         (SELECT count(*) - dead_before FROM nutragenie_fdw.dead_letters)
$$;

CREATE FOREIGN TABLE t4 (
    _id int,
    a jsonb,
    ab int OPTIONS (field 'a.b'),
    abc int OPTIONS (field 'a.b.c'),
    a0 int OPTIONS (field 'a.0'),
    ax int OPTIONS (field 'a-x')
) SERVER rp_srv OPTIONS (collection 'refused_paths');
-- reading a path through an array is NULL here, so that UPDATE reaches it
CREATE FOREIGN TABLE t4arr (
    _id int,
    ab int OPTIONS (field 'a.b', type_mismatch 'null'),
    a0 int OPTIONS (field 'a.0', type_mismatch 'null')
) SERVER rp_srv OPTIONS (collection 'refused_paths');
CREATE FOREIGN TABLE t4n (
    _id int,
    ab int OPTIONS (field 'a.b', null_mode 'null')
) SERVER rp_srv OPTIONS (collection 'refused_paths');

INSERT INTO t4 (_id, a) VALUES (1, '{"x": 1}'), (2, NULL), (3, '"str"'),
    (4, '[1, 2]'), (5, '{"b": 5}'), (6, 'null');
INSERT INTO t4 (_id) VALUES (7), (9);

-- the review's case: a holds a string
UPDATE t4 SET ab = 9 WHERE _id = 3;
-- null, an array (by name and by index), a scalar one level down
UPDATE t4 SET ab = 9 WHERE _id = 6;
UPDATE t4arr SET ab = 9 WHERE _id = 4;
UPDATE t4arr SET a0 = 9 WHERE _id = 4;
-- removing a.0 would make the element null, and removing a.b through an
-- array is ignored by MongoDB but refused by DocumentDB: both refused
UPDATE t4arr SET a0 = NULL WHERE _id = 4;
UPDATE t4arr SET ab = NULL WHERE _id = 4;
UPDATE t4 SET abc = 9 WHERE _id = 5;
-- a BSON null written by null_mode 'null' is a value too
UPDATE t4n SET ab = NULL WHERE _id = 3;
-- one bad document stops the statement
UPDATE t4 SET ab = 9 WHERE _id IN (1, 3);
-- allowed: under a document, a missing field, the last segment itself
UPDATE t4 SET ab = 9 WHERE _id IN (1, 2, 7);
UPDATE t4 SET ab = 6 WHERE _id = 5;
-- $unset under a scalar, null or a missing field: nothing to do, kept,
-- and the transaction reads the documents unchanged
BEGIN;
UPDATE t4 SET ab = NULL WHERE _id IN (3, 6, 9);
SELECT _id, a, a IS NULL AS a_is_null FROM t4 WHERE _id IN (3, 6, 9) ORDER BY _id;
COMMIT;
SELECT _id, a, a IS NULL AS a_is_null FROM t4 WHERE _id IN (3, 6, 9) ORDER BY _id;

-- the version this transaction wrote is the one checked
BEGIN;
UPDATE t4 SET a = '"now a string"' WHERE _id = 1;
UPDATE t4 SET ab = 10 WHERE _id = 1;
ROLLBACK;
BEGIN;
UPDATE t4 SET a = '{}' WHERE _id = 3;
UPDATE t4 SET ab = 10 WHERE _id = 3;
SELECT _id, a, ab FROM t4 WHERE _id = 3;
COMMIT;

-- a field and a field nested in it, from two columns, even with a column
-- whose field sorts between them ("a-x" before "a.b" in byte order)
UPDATE t4 SET a = '{"b": 1}', ab = 2 WHERE _id = 1;
UPDATE t4 SET a = '{"b": 1}', ax = 0, ab = 2 WHERE _id = 1;
INSERT INTO t4 (_id, a, ab) VALUES (8, '"str"', 1);
INSERT INTO t4 (_id, a, ax, ab) VALUES (8, '"str"', 0, 1);

SELECT d FROM mongo_docs() d;
SELECT * FROM nothing_left(:dead_before);

SELECT nutragenie_fdw.run_command('rp_srv', '{"drop": "refused_paths"}') ->> 'ok' AS dropped;
DROP SCHEMA modify_refused_paths CASCADE;
DROP SERVER rp_srv CASCADE;
