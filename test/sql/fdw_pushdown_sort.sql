-- ORDER BY, LIMIT and OFFSET pushdown: what is sent to MongoDB, what stays
-- local, and that every query returns what the same query returns from a
-- plain table holding the same rows.
\set VERBOSITY terse
SET timezone = 'UTC';
CREATE SCHEMA pushdown_sort;
SET search_path = pushdown_sort, public;
-- explain_analyze(): EXPLAIN ANALYZE the same on every version
\i test/sql/include/explain.sql
\getenv mongo_uri MONGODB_URI
CREATE SERVER sort_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri :'mongo_uri', database 'ng_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER sort_srv;
DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('sort_srv', '{"drop": "sort_items"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;
DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('sort_srv', '{"drop": "sort_mixed"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;

-- n mixes int32, int64 and integral doubles, null and missing; s holds
-- strings only; f is float8
SELECT nutragenie_fdw.run_command('sort_srv', $$
{"insert": "sort_items", "documents": [
  {"_id": 1, "n": 5, "s": "pear", "f": 1.5, "b": true,
   "ts": {"$date": "2024-01-02T00:00:00Z"}, "o": {"$oid": "650000000000000000000003"}},
  {"_id": 2, "n": {"$numberLong": "-3"}, "s": "Apple", "f": -2.0, "b": false,
   "ts": {"$date": "2023-06-01T12:00:00Z"}, "o": {"$oid": "650000000000000000000001"}},
  {"_id": 3, "n": null, "s": "apple", "f": null, "b": null, "ts": null, "o": null},
  {"_id": 4, "n": 5.0, "s": "Éclair", "f": 0.0, "b": true,
   "ts": {"$date": "2024-01-02T00:00:00.001Z"}, "o": {"$oid": "650000000000000000000002"}},
  {"_id": 5, "s": "banana"},
  {"_id": 6, "n": 2147483647, "s": "", "f": 1e300, "b": false,
   "ts": {"$date": "1969-12-31T23:59:59.999Z"}, "o": {"$oid": "ffffffffffffffffffffffff"}},
  {"_id": 7, "n": {"$numberLong": "-2147483648"}, "s": "zebra", "f": -0.0, "b": true,
   "ts": {"$date": "2000-01-01T00:00:00Z"}, "o": {"$oid": "000000000000000000000000"}},
  {"_id": 8, "n": 0, "s": "apple pie", "f": 3.0, "b": false,
   "ts": {"$date": "2024-01-01T00:00:00Z"}, "o": {"$oid": "650000000000000000000001"}}
]}$$)->>'n' AS inserted;

CREATE FOREIGN TABLE items (
    id int OPTIONS (field '_id'),
    n int,
    s text,
    f float8,
    b bool,
    ts timestamptz,
    o objectid
) SERVER sort_srv OPTIONS (collection 'sort_items');
-- other views of the same documents
CREATE FOREIGN TABLE items_c (id int OPTIONS (field '_id'), s text COLLATE "C")
  SERVER sort_srv OPTIONS (collection 'sort_items');
CREATE FOREIGN TABLE items_lax (id int OPTIONS (field '_id'),
    s int OPTIONS (type_mismatch 'null'))
  SERVER sort_srv OPTIONS (collection 'sort_items');

-- the same rows in a plain table
CREATE TABLE items_local AS SELECT * FROM items;

-- Runs a query (%s stands for the table) on both tables; true when they
-- return the same rows in the same order.
CREATE FUNCTION same(q text) RETURNS bool LANGUAGE plpgsql AS $$
DECLARE
    a text[];
    b text[];
BEGIN
    EXECUTE format('SELECT array_agg(r::text) FROM (%s) r', format(q, 'items')) INTO a;
    EXECUTE format('SELECT array_agg(r::text) FROM (%s) r', format(q, 'items_local')) INTO b;
    IF a IS DISTINCT FROM b THEN
        RAISE NOTICE 'foreign: %', a;
        RAISE NOTICE 'local:   %', b;
    END IF;
    RETURN a IS NOT DISTINCT FROM b;
END $$;

-- MongoDB puts null and missing first in ascending order: ASC NULLS FIRST
-- and DESC NULLS LAST are pushed
EXPLAIN (VERBOSE, COSTS OFF) SELECT id, n FROM items ORDER BY n NULLS FIRST, id NULLS FIRST;
SELECT id, n FROM items ORDER BY n NULLS FIRST, id NULLS FIRST;
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM items ORDER BY n DESC NULLS LAST, id DESC NULLS LAST;
SELECT same('SELECT id, n FROM %s ORDER BY n NULLS FIRST, id NULLS FIRST');
SELECT same('SELECT id FROM %s ORDER BY n DESC NULLS LAST, id DESC NULLS LAST');

-- PostgreSQL's defaults (ASC NULLS LAST, DESC NULLS FIRST) are not MongoDB's
-- order: an aggregation sorts on a computed "null or missing" key first
-- (a server without $addFields expressions, FerretDB 1.x, makes the scan
-- sort locally) ...
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY n, id;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY n DESC, id DESC;
SELECT same('SELECT id, n FROM %s ORDER BY n, id');
SELECT same('SELECT id, n FROM %s ORDER BY n DESC, id DESC LIMIT 5 OFFSET 1');
-- ... a plain find when a condition proves the column NOT NULL (id is _id
-- here, but an _id may be null too)
EXPLAIN (COSTS OFF) SELECT id FROM items WHERE n IS NOT NULL AND id > 0 ORDER BY n, id;
EXPLAIN (COSTS OFF) SELECT id FROM items WHERE n > -10 AND id IN (1, 2, 4) ORDER BY n DESC, id DESC;
SELECT same('SELECT id, n FROM %s WHERE n IS NOT NULL AND id > 0 ORDER BY n, id');
SELECT same('SELECT id, n FROM %s WHERE n > -10 AND id IN (1, 2, 4) ORDER BY n DESC, id DESC');

-- other exact types: bool, timestamptz, objectid
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY b NULLS FIRST, ts DESC NULLS LAST, o NULLS FIRST, id NULLS FIRST;
SELECT same('SELECT id FROM %s ORDER BY b NULLS FIRST, ts DESC NULLS LAST, o NULLS FIRST, id NULLS FIRST');
SELECT same('SELECT id FROM %s ORDER BY o DESC NULLS LAST, id NULLS FIRST');

-- text: only in byte order ("C", or text_pattern_ops); the default
-- collation of this database is not "C"
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY s NULLS FIRST;
EXPLAIN (COSTS OFF) SELECT id FROM items_c ORDER BY s NULLS FIRST;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY s COLLATE "C" DESC NULLS LAST;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY s USING ~<~ NULLS FIRST;
SELECT id, s FROM items_c ORDER BY s NULLS FIRST;
SELECT same('SELECT id, s FROM %s ORDER BY s COLLATE "C" DESC NULLS LAST');

-- float8: MongoDB sorts NaN first, PostgreSQL last; a computed key puts
-- NaN above every number
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY f NULLS FIRST;
SELECT same('SELECT id, f FROM %s ORDER BY f NULLS FIRST, id NULLS FIRST');
SELECT same('SELECT id, f FROM %s ORDER BY f DESC, id');
-- kept local: type_mismatch 'null' columns, expressions
EXPLAIN (COSTS OFF) SELECT id FROM items_lax ORDER BY s NULLS FIRST;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY -n NULLS FIRST;
-- the whole ORDER BY or nothing
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY n NULLS FIRST, -f NULLS FIRST;

-- a local condition is applied after the pushed sort
EXPLAIN (COSTS OFF) SELECT id FROM items WHERE s ILIKE 'a%' ORDER BY n NULLS FIRST, id NULLS FIRST;
SELECT same('SELECT id FROM %s WHERE s ILIKE ''a%%'' ORDER BY n NULLS FIRST, id NULLS FIRST');

-- LIMIT and OFFSET: pushed with the sort, or without one
EXPLAIN (VERBOSE, COSTS OFF) SELECT id, n::bigint + 1 FROM items ORDER BY n NULLS FIRST, id NULLS FIRST LIMIT 3 OFFSET 2;
SELECT id, n::bigint + 1 FROM items ORDER BY n NULLS FIRST, id NULLS FIRST LIMIT 3 OFFSET 2;
SELECT same('SELECT id, n::bigint + 1 FROM %s ORDER BY n NULLS FIRST, id NULLS FIRST LIMIT 3 OFFSET 2');
SELECT same('SELECT id FROM %s WHERE n IS NOT NULL ORDER BY n DESC, id DESC NULLS LAST OFFSET 4');
EXPLAIN (COSTS OFF) SELECT id FROM items LIMIT 2;
SELECT count(*) FROM (SELECT id FROM items LIMIT 2) s;
SELECT count(*) FROM (SELECT id FROM items OFFSET 6) s;
-- not pushed: a local condition (LIMIT must count rows after it), a sort
-- that is not pushed, WITH TIES, LIMIT 0
EXPLAIN (COSTS OFF) SELECT id FROM items WHERE s ILIKE 'a%' ORDER BY n NULLS FIRST LIMIT 2;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY -n LIMIT 2;
EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY n NULLS FIRST FETCH FIRST 2 ROWS WITH TIES;
SELECT same('SELECT id FROM %s ORDER BY n NULLS FIRST, id NULLS FIRST FETCH FIRST 3 ROWS WITH TIES');
EXPLAIN (COSTS OFF) SELECT id FROM items LIMIT 0;

-- parameters: shown as placeholders, evaluated when the scan starts
SET plan_cache_mode = force_generic_plan;
PREPARE top(bigint, bigint) AS
  SELECT id FROM items ORDER BY n NULLS FIRST, id NULLS FIRST LIMIT $1 OFFSET $2;
EXPLAIN (COSTS OFF) EXECUTE top(2, 1);
EXECUTE top(2, 1);
EXECUTE top(0, 1);
EXECUTE top(NULL, 6);
EXECUTE top(-1, 0);
EXECUTE top(1, -1);
RESET plan_cache_mode;

-- a correlated subquery: one sorted, limited find per outer row
EXPLAIN (COSTS OFF)
SELECT v.x, (SELECT id FROM items WHERE b = v.x ORDER BY ts DESC NULLS LAST LIMIT 1)
FROM (VALUES (true), (false)) v(x);
SELECT v.x, (SELECT id FROM items WHERE b = v.x ORDER BY ts DESC NULLS LAST LIMIT 1)
FROM (VALUES (true), (false)) v(x);

-- EXPLAIN ANALYZE: MongoDB returns only the rows asked for
SELECT explain_analyze($$SELECT id FROM items ORDER BY ts NULLS FIRST LIMIT 2$$);

-- Guard: a text column also reads ObjectIds, which MongoDB sorts after
-- every string.  Such a column is checked first; when it holds both, the
-- scan sorts locally.
SELECT nutragenie_fdw.run_command('sort_srv', $$
{"insert": "sort_mixed", "documents": [
  {"_id": 1, "k": "650000000000000000000002"},
  {"_id": 2, "k": {"$oid": "650000000000000000000001"}},
  {"_id": 3, "k": "7"},
  {"_id": 4, "k": {"$oid": "000000000000000000000009"}},
  {"_id": 5, "k": "zz"},
  {"_id": 6}
]}$$)->>'n' AS inserted;
CREATE FOREIGN TABLE mixed (id int OPTIONS (field '_id'), k text COLLATE "C")
  SERVER sort_srv OPTIONS (collection 'sort_mixed');
SELECT explain_analyze($$SELECT id, k FROM mixed ORDER BY k NULLS FIRST LIMIT 4$$);
SELECT id, k FROM mixed ORDER BY k NULLS FIRST LIMIT 4;
SELECT id, k FROM mixed ORDER BY k DESC NULLS LAST;
-- only strings among the rows asked for: one check, and MongoDB sorts
SELECT explain_analyze($$SELECT id, k FROM mixed WHERE id <> 2 AND id <> 4 ORDER BY k NULLS FIRST LIMIT 3$$);
SELECT id, k FROM mixed WHERE id <> 2 AND id <> 4 ORDER BY k NULLS FIRST LIMIT 3;

-- The transaction's own writes are not in MongoDB yet: the scan sends the
-- find without sort, skip and limit, merges them, and sorts, skips and
-- limits itself.
BEGIN;
INSERT INTO items (id, n, s, b, ts) VALUES (9, 1, 'fig', true, '2024-05-01'), (10, NULL, 'kiwi', NULL, NULL);
UPDATE items SET n = -100 WHERE id = 1;
DELETE FROM items WHERE id = 2;
INSERT INTO items_local (id, n, s, b, ts) VALUES (9, 1, 'fig', true, '2024-05-01'), (10, NULL, 'kiwi', NULL, NULL);
UPDATE items_local SET n = -100 WHERE id = 1;
DELETE FROM items_local WHERE id = 2;
SELECT explain_analyze($$SELECT id FROM items ORDER BY n NULLS FIRST, id NULLS FIRST LIMIT 3 OFFSET 1$$);
SELECT same('SELECT id, n FROM %s ORDER BY n NULLS FIRST, id NULLS FIRST LIMIT 3 OFFSET 1');
SELECT same('SELECT id, n FROM %s ORDER BY n NULLS FIRST, id NULLS FIRST');
SELECT same('SELECT id FROM %s WHERE n IS NOT NULL ORDER BY n DESC, id DESC NULLS LAST LIMIT 4');
SELECT same('SELECT id FROM %s ORDER BY b DESC NULLS LAST, ts NULLS FIRST, id NULLS FIRST LIMIT 5 OFFSET 2');
SELECT count(*) FROM (SELECT id FROM items LIMIT 3 OFFSET 7) s;
-- (a condition on a column the query does not return)
SELECT same('SELECT id FROM %s WHERE n IS NOT NULL ORDER BY id NULLS FIRST LIMIT 4');
SELECT same('SELECT id FROM %s WHERE n IS NOT NULL');
ROLLBACK;
SELECT same('SELECT id, n FROM %s ORDER BY n NULLS FIRST, id NULLS FIRST');

DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('sort_srv', '{"drop": "sort_items"}');
  PERFORM nutragenie_fdw.run_command('sort_srv', '{"drop": "sort_mixed"}');
END $$;
SET client_min_messages = warning;
DROP SCHEMA pushdown_sort CASCADE;
DROP SERVER sort_srv CASCADE;
RESET client_min_messages;
