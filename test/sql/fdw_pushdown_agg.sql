-- Aggregate pushdown: count, min, max with GROUP BY and HAVING as one
-- aggregation pipeline; what stays local; the local plan a scan falls back
-- on; and every result compared with the same query on a plain table.
\set VERBOSITY terse
SET timezone = 'UTC';
CREATE SCHEMA pushdown_agg;
SET search_path = pushdown_agg, public;
\getenv mongo_uri MONGODB_URI
CREATE SERVER agg_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri :'mongo_uri', database 'ng_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER agg_srv;
DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('agg_srv', '{"drop": "agg_items"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;
DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('agg_srv', '{"drop": "agg_mixed"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;

-- 1500 documents: cat is a string, null or missing; n an int32, int64 or
-- integral double, null or missing; flag true, false or missing; ts a date
-- or null; f a double
SELECT (nutragenie_fdw.run_command('agg_srv', json_build_object(
    'insert', 'agg_items',
    'documents', (SELECT json_agg(doc ORDER BY r) FROM (
        SELECT r, jsonb_build_object('_id', r, 'f', (r % 4) * 0.5)
            || CASE r % 6 WHEN 0 THEN '{"cat": "soup"}' WHEN 1 THEN '{"cat": "salad"}'
                          WHEN 2 THEN '{"cat": "Soup"}' WHEN 3 THEN '{"cat": "stew"}'
                          WHEN 4 THEN '{"cat": null}' ELSE '{}' END::jsonb
            || CASE WHEN r % 13 = 0 THEN '{}'::jsonb
                    WHEN r % 10 < 7 THEN jsonb_build_object('n', r % 7)
                    WHEN r % 10 = 7 THEN jsonb_build_object('n', jsonb_build_object('$numberLong', (r % 7)::text))
                    WHEN r % 10 = 8 THEN jsonb_build_object('n', jsonb_build_object('$numberDouble', (r % 7)::text || '.0'))
                    ELSE '{"n": null}' END
            || CASE WHEN r % 3 = 0 THEN '{}'::jsonb ELSE jsonb_build_object('flag', r % 2 = 0) END
            || CASE WHEN r % 11 = 0 THEN '{"ts": null}'::jsonb
                    ELSE jsonb_build_object('ts', jsonb_build_object('$date',
                           jsonb_build_object('$numberLong', (1704067200000 + (r % 5) * 86400000)::text)))
               END AS doc
        FROM generate_series(1, 1500) r) d))) ->> 'n')::int AS inserted;

CREATE FOREIGN TABLE items (
    id int OPTIONS (field '_id'),
    cat text COLLATE "C",
    n int,
    flag bool,
    ts timestamptz,
    f float8
) SERVER agg_srv OPTIONS (collection 'agg_items');
ANALYZE items;
CREATE TABLE items_local AS SELECT * FROM items;

-- Runs a query (%s stands for the table) on both tables; true when they
-- return the same rows (in any order).
CREATE FUNCTION same(q text) RETURNS bool LANGUAGE plpgsql AS $$
DECLARE
    a text[];
    b text[];
BEGIN
    EXECUTE format('SELECT array_agg(r::text ORDER BY r::text) FROM (%s) r', format(q, 'items')) INTO a;
    EXECUTE format('SELECT array_agg(r::text ORDER BY r::text) FROM (%s) r', format(q, 'items_local')) INTO b;
    IF a IS DISTINCT FROM b THEN
        RAISE NOTICE 'foreign: %', a;
        RAISE NOTICE 'local:   %', b;
    END IF;
    RETURN a IS NOT DISTINCT FROM b;
END $$;

-- explain_analyze(), explain_plan()
\i test/sql/include/explain.sql

-- count(*), with and without a pushed WHERE
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM items;
SELECT count(*) FROM items;
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM items WHERE n >= 3 AND flag;
SELECT same('SELECT count(*) FROM %s WHERE n >= 3 AND flag');
-- no rows: one row with count 0; with GROUP BY, no row
SELECT count(*) FROM items WHERE n > 100;
SELECT cat, count(*) FROM items WHERE n > 100 GROUP BY cat;
-- a WHERE condition evaluated locally keeps the aggregate local
EXPLAIN (COSTS OFF) SELECT count(*) FROM items WHERE f::text = '0.5';
SELECT same('SELECT count(*) FROM %s WHERE f::text = ''0.5''');

-- GROUP BY one column: MongoDB groups a missing field with null, as
-- PostgreSQL has one NULL group; 5, 5 (int64) and 5.0 are one group
EXPLAIN (VERBOSE, COSTS OFF) SELECT n, count(*) FROM items GROUP BY n;
SELECT n, count(*) FROM items GROUP BY n ORDER BY n;
SELECT same('SELECT n, count(*) FROM %s GROUP BY n');
SELECT same('SELECT flag, count(*) FROM %s WHERE n < 5 GROUP BY flag');
SELECT same('SELECT ts, count(*) FROM %s GROUP BY ts');
-- a text column reads ObjectIds too: grouped by MongoDB as it is, the
-- groups of a string and of an ObjectId of the same hex digits are merged
-- here (partial groups, fdw_pushdown_partial), without a check first
SELECT explain_analyze($$SELECT cat, count(*) FROM items GROUP BY cat$$);
SELECT cat, count(*) FROM items GROUP BY cat ORDER BY cat;

-- several GROUP BY columns: MongoDB's compound _id may keep a missing
-- field apart from a null one (FerretDB 1.x does, DocumentDB does not);
-- the groups are merged here, so MongoDB groups either way ...
SELECT explain_plan($$SELECT n, flag, count(*) FROM items GROUP BY n, flag$$, remote_only => true);
SELECT same('SELECT n, flag, count(*) FROM %s GROUP BY n, flag');
SELECT same('SELECT n, flag, count(*) FROM %s WHERE n IS NOT NULL GROUP BY n, flag');
-- ... but with ORDER BY/LIMIT on the groups (MongoDB sorts), checked
-- first, and aggregated locally when a field is missing in some documents
-- and null in others
SELECT explain_analyze($$SELECT n, flag, count(*) FROM items GROUP BY n, flag ORDER BY count(*) DESC LIMIT 2$$);
SELECT same('SELECT n, flag, count(*) FROM %s GROUP BY n, flag ORDER BY count(*) DESC, n NULLS FIRST, flag NULLS FIRST LIMIT 2');

-- HAVING: sent as a $match on the result when it is exact, else local
EXPLAIN (VERBOSE, COSTS OFF) SELECT n, count(*) FROM items GROUP BY n HAVING count(*) > 420;
SELECT same('SELECT n, count(*) FROM %s GROUP BY n HAVING count(*) > 420');
EXPLAIN (VERBOSE, COSTS OFF) SELECT n FROM items GROUP BY n HAVING count(*) % 2 = 0 AND count(*) < 500;
SELECT same('SELECT n FROM %s GROUP BY n HAVING count(*) %% 2 = 0 AND count(*) < 500');
-- without GROUP BY, HAVING applies to the one row even for no input: local
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM items WHERE n > 100 HAVING count(*) = 0;
SELECT count(*) FROM items WHERE n > 100 HAVING count(*) = 0;

-- ORDER BY and LIMIT on the groups: $sort, $skip, $limit
EXPLAIN (VERBOSE, COSTS OFF)
SELECT cat, count(*) FROM items GROUP BY cat ORDER BY count(*) DESC, cat NULLS FIRST LIMIT 3 OFFSET 1;
SELECT cat, count(*) FROM items GROUP BY cat ORDER BY count(*) DESC, cat NULLS FIRST LIMIT 3 OFFSET 1;
SELECT same('SELECT * FROM (SELECT cat, count(*) FROM %s GROUP BY cat ORDER BY count(*) DESC, cat NULLS FIRST LIMIT 3 OFFSET 1) s');
SELECT same('SELECT * FROM (SELECT n, count(*) FROM %s WHERE n IS NOT NULL GROUP BY n ORDER BY n DESC LIMIT 4) s');

-- count(col), min, max: pushed too (a server without $min or $cond, such as
-- FerretDB 1.x, rejects the pipeline and the scan runs the local plan)
EXPLAIN (VERBOSE, COSTS OFF)
SELECT cat, count(n), min(n), max(n), min(ts), max(id) FROM items GROUP BY cat;
SELECT same('SELECT cat, count(n), min(n), max(n), min(ts), max(id) FROM %s GROUP BY cat');
SELECT same('SELECT count(n), count(flag), min(ts), max(ts) FROM %s');
SELECT same('SELECT count(n), min(n), max(n) FROM %s WHERE n > 100');
SELECT same('SELECT n, count(*) FROM %s GROUP BY n HAVING max(id) > 2990');
-- ... and run there, not through the fallback, wherever the server has
-- $min, $max and $cond (MongoDB, FerretDB 2: probed; with NG_SERVER=documentdb
-- the server must have them); ran_on_server: documents came from an
-- aggregate and no scan fell back
CREATE FUNCTION ran_on_server(q text) RETURNS bool LANGUAGE plpgsql AS $$
DECLARE
    lines text;
BEGIN
    SELECT string_agg(l, E'\n') INTO lines FROM explain_analyze(q) l;
    RETURN lines ~ '\n  MongoDB Aggregates: [1-9]' AND lines !~ 'MongoDB Fallbacks: [1-9]';
END $$;
\set probe_srv agg_srv
\i test/sql/include/server_probe.sql
SELECT q, ran_on_server(q) = :'has_min_max'::bool AS as_expected
FROM unnest(ARRAY['SELECT cat, count(n), min(n), max(n), min(ts), max(id) FROM items GROUP BY cat',
                  'SELECT count(n), count(flag), min(ts), max(ts) FROM items',
                  'SELECT n, count(*) FROM items GROUP BY n HAVING max(id) > 2990']) q;

-- sum, avg and min/max of text ("C") are pushed as partial groups, merged
-- and finalized here (fdw_pushdown_partial shows them)
SELECT explain_plan($$SELECT sum(n), avg(n) FROM items$$, remote_only => true);
SELECT explain_plan($$SELECT min(cat) FROM items$$, remote_only => true);
-- (and count(DISTINCT col), the partial groups split by its value)
SELECT explain_plan($$SELECT count(DISTINCT n) FROM items$$, remote_only => true);
-- kept local: FILTER, ORDER BY in the aggregate, float8 and expressions as
-- GROUP BY items, grouping sets
EXPLAIN (COSTS OFF) SELECT count(*) FILTER (WHERE flag) FROM items;
EXPLAIN (COSTS OFF) SELECT f, count(*) FROM items GROUP BY f;
EXPLAIN (COSTS OFF) SELECT n % 2, count(*) FROM items GROUP BY n % 2;
EXPLAIN (COSTS OFF) SELECT n, count(*) FROM items GROUP BY ROLLUP (n);
SELECT same('SELECT sum(n), avg(n), count(DISTINCT n), count(*) FILTER (WHERE flag) FROM %s');

-- a parameter in HAVING
SET plan_cache_mode = force_generic_plan;
PREPARE big(bigint) AS SELECT n, count(*) FROM items GROUP BY n HAVING count(*) > $1 ORDER BY n;
EXPLAIN (COSTS OFF) EXECUTE big(420);
EXECUTE big(420);
RESET plan_cache_mode;

-- A text column reads an ObjectId as its hex digits, so PostgreSQL puts
-- the ObjectId and the string of the same digits into one group; MongoDB
-- does not.  Its two groups are merged here.
SELECT nutragenie_fdw.run_command('agg_srv', $$
{"insert": "agg_mixed", "documents": [
  {"_id": 1, "k": "650000000000000000000001"},
  {"_id": 2, "k": {"$oid": "650000000000000000000001"}},
  {"_id": 3, "k": "x"},
  {"_id": 4, "k": {"$oid": "650000000000000000000002"}}
]}$$)->>'n' AS inserted;
CREATE FOREIGN TABLE mixed (id int OPTIONS (field '_id'), k text)
  SERVER agg_srv OPTIONS (collection 'agg_mixed');
SELECT explain_analyze($$SELECT k, count(*) FROM mixed GROUP BY k$$);
SELECT k, count(*) FROM mixed GROUP BY k ORDER BY k;

-- The transaction's own writes are not in MongoDB yet: the scan runs the
-- local plan over the scan that merges them.
BEGIN;
INSERT INTO items (id, cat, n) VALUES (5001, 'soup', 1), (5002, 'new', NULL);
UPDATE items SET cat = 'new' WHERE id = 1;
DELETE FROM items WHERE id = 2;
INSERT INTO items_local (id, cat, n) VALUES (5001, 'soup', 1), (5002, 'new', NULL);
UPDATE items_local SET cat = 'new' WHERE id = 1;
DELETE FROM items_local WHERE id = 2;
SELECT explain_analyze($$SELECT cat, count(*) FROM items GROUP BY cat$$);
SELECT same('SELECT cat, count(*) FROM %s GROUP BY cat');
SELECT same('SELECT count(*) FROM %s');
SELECT same('SELECT count(*), max(id) FROM %s WHERE n IS NOT NULL');
SELECT same('SELECT * FROM (SELECT cat, count(*) FROM %s GROUP BY cat ORDER BY count(*) DESC, cat NULLS FIRST LIMIT 2) s');
ROLLBACK;
SELECT same('SELECT cat, count(*) FROM %s GROUP BY cat');

DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('agg_srv', '{"drop": "agg_items"}');
  PERFORM nutragenie_fdw.run_command('agg_srv', '{"drop": "agg_mixed"}');
END $$;
SET client_min_messages = warning;
DROP SCHEMA pushdown_agg CASCADE;
DROP SERVER agg_srv CASCADE;
RESET client_min_messages;
