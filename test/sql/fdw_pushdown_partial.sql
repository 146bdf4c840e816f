-- Aggregates as partial groups (sum, avg, min/max of float8, numeric and
-- text), GROUP BY keys merged instead of guarded, and sorts with computed
-- keys (PostgreSQL's default NULL placement, float8): the pipeline each is
-- sent as, what stays local, and that each ran on the server where the
-- server can run it.  fdw_pushdown_exact compares many more results with a
-- plain table.
--
-- The same output on every server: whether a pipeline ran on the server is
-- printed against what server_probe.sql found the server can do (FerretDB
-- 1.x has no $min, $max, $cond or $addFields expressions, and returns 0 for
-- every $sum of a $group but the first; it runs the local plan instead).
\set VERBOSITY terse
SET timezone = 'UTC';
-- PostgreSQL 16+ may feed an aggregate's ORDER BY/DISTINCT from a sorted
-- scan (enable_presorted_aggregate), which turns the scans of these queries
-- into sorted pipelines there but not on 15: keep the plans of every version
-- alike.
DO $$
BEGIN
    IF current_setting('server_version_num')::int >= 160000 THEN
        PERFORM set_config('enable_presorted_aggregate', 'off', false);
    END IF;
END $$;
CREATE SCHEMA fdw_pushdown_partial;
SET search_path = fdw_pushdown_partial, public;
\getenv mongo_uri MONGODB_URI
CREATE SERVER partial_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri :'mongo_uri', database 'ng_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER partial_srv;
DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('partial_srv', '{"drop": "partial_items"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;
\set probe_srv partial_srv
\i test/sql/include/server_probe.sql
\i test/sql/include/explain.sql

-- cat: strings, an ObjectId with the hex digits of one string, null,
-- missing; n: int32 and int64 (two of them near the int64 limits); q:
-- numeric values as int32/int64; f: doubles with -0.0 and zeros apart
SELECT nutragenie_fdw.run_command('partial_srv', $$
{"insert": "partial_items", "documents": [
  {"_id": 1, "cat": "soup", "n": 5, "q": 1, "f": 1.5, "s": "pear", "nest": {"k": 1}},
  {"_id": 2, "cat": "soup", "n": {"$numberLong": "7"}, "q": {"$numberLong": "2"}, "f": 2.5, "s": "Apple", "nest": {"k": 1}},
  {"_id": 3, "cat": "stew", "n": null, "q": null, "f": null, "s": null, "nest": null},
  {"_id": 4, "cat": "stew", "n": 10, "q": 3, "f": -4.25, "s": "apple", "nest": "x"},
  {"_id": 5, "cat": null, "n": -3, "q": -1, "f": 8.0, "s": "zebra", "nest": {"k": null}},
  {"_id": 6, "n": 2147483647, "q": 2147483647, "f": 1e300, "s": ""},
  {"_id": 7, "cat": "650000000000000000000001", "n": 1, "q": 1, "f": 3.0, "s": "banana", "nest": {"k": 2}},
  {"_id": 8, "cat": {"$oid": "650000000000000000000001"}, "n": 2, "q": 2, "f": 4.0, "s": {"$oid": "650000000000000000000009"}, "nest": {"k": 2}},
  {"_id": 9, "cat": "big", "n": {"$numberLong": "9223372036854775807"}, "q": 5, "f": 6.0, "s": "kiwi"},
  {"_id": 10, "cat": "big", "n": {"$numberLong": "1"}, "q": 5, "f": 7.0, "s": "lime"}
]}$$)->>'n' AS inserted;

CREATE FOREIGN TABLE items (
    id int OPTIONS (field '_id'),
    cat text COLLATE "C",
    n bigint,
    q numeric,
    f float8,
    s text COLLATE "C",
    sd text OPTIONS (field 's'),
    k int OPTIONS (field 'nest.k')
) SERVER partial_srv OPTIONS (collection 'partial_items');
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
-- ... in the same order
CREATE FUNCTION same_order(q text) RETURNS bool LANGUAGE plpgsql AS $$
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
-- ran_on_server: an aggregate was sent and no scan fell back
CREATE FUNCTION ran_on_server(q text) RETURNS bool LANGUAGE plpgsql AS $$
DECLARE
    lines text;
BEGIN
    SELECT string_agg(l, E'\n') INTO lines FROM explain_analyze(q) l;
    RETURN lines ~ '\n  MongoDB Aggregates: [1-9]' AND lines !~ 'MongoDB Fallbacks: [1-9]';
END $$;

-- fell_back: the scan computed locally what it had pushed
CREATE FUNCTION fell_back(q text) RETURNS bool LANGUAGE plpgsql AS $$
DECLARE
    lines text;
BEGIN
    SELECT string_agg(l, E'\n') INTO lines FROM explain_analyze(q) l;
    RETURN lines ~ 'MongoDB Fallbacks: [1-9]';
END $$;

-- sum and avg: grouped by the key and the $type of the argument, merged
-- and finalized here; NULL for a group without values, numeric for
-- sum(bigint) and avg
EXPLAIN (VERBOSE, COSTS OFF) SELECT cat, sum(q), avg(q), count(q) FROM items GROUP BY cat;
SELECT cat, sum(q), avg(q), count(q) FROM items GROUP BY cat ORDER BY cat;
SELECT same('SELECT cat, sum(q), avg(q), count(q) FROM %s GROUP BY cat');
SELECT ran_on_server('SELECT cat, sum(q), avg(q), count(q) FROM items GROUP BY cat') = :'has_min_max'::bool AS as_expected;
-- int4 sums are bigint; no GROUP BY: one row, NULL sum over no rows
SELECT sum(k), avg(k), count(*) FROM items WHERE id > 100;
-- (an expression as the argument stays local)
EXPLAIN (VERBOSE, COSTS OFF) SELECT sum(k::int2) FROM items;
SELECT same('SELECT sum(k), avg(k), count(*) FROM %s WHERE id > 100');
SELECT same('SELECT sum(k), avg(k) FROM %s');
-- an int64 sum past 2^63 overflows to a double in MongoDB: seen, and
-- the local plan gives the exact numeric
SELECT cat, sum(n), avg(n) FROM items WHERE cat = 'big' GROUP BY cat;
SELECT ran_on_server($$SELECT cat, sum(n) FROM items WHERE cat = 'big' GROUP BY cat$$) AS big_on_server;
SELECT ran_on_server($$SELECT cat, sum(n) FROM items WHERE cat <> 'big' GROUP BY cat$$) = :'has_min_max'::bool AS as_expected;
SELECT same('SELECT cat, sum(n), avg(n) FROM %s GROUP BY cat');

-- min/max of float8, numeric and text ("C"): $min and $max per type
EXPLAIN (VERBOSE, COSTS OFF) SELECT cat, min(f), max(f), min(q), max(s) FROM items GROUP BY cat;
SELECT same('SELECT cat, min(f), max(f), min(q), max(q), min(s), max(s) FROM %s GROUP BY cat');
SELECT ran_on_server('SELECT cat, min(f), max(f), min(s), max(s) FROM items GROUP BY cat') = :'has_min_max'::bool AS as_expected;
-- the ObjectId reads as its hex digits and compares as text
SELECT min(s), max(s) FROM items WHERE id IN (7, 8);

-- GROUP BY a text column without ORDER BY/LIMIT: the string and the
-- ObjectId of the same hex digits merged here, no guard, no check; on every
-- server (count(*) alone needs no operator FerretDB 1.x lacks)
SELECT explain_analyze('SELECT cat, count(*) FROM items GROUP BY cat');
SELECT cat, count(*) FROM items GROUP BY cat ORDER BY cat;
-- a nested key: a null parent, a string parent and a missing field all
-- group with null
SELECT ran_on_server('SELECT k, count(*) FROM items GROUP BY k') AS nested_on_server;
SELECT same('SELECT k, count(*) FROM %s GROUP BY k');
-- with ORDER BY and LIMIT on the groups, the guards stay and MongoDB sorts
EXPLAIN (VERBOSE, COSTS OFF) SELECT cat, count(*) FROM items GROUP BY cat ORDER BY count(*) DESC, cat NULLS FIRST LIMIT 2;

-- count(DISTINCT col): the partial groups are split by the value too, and
-- the merge counts the distinct values (the ObjectId and the string of the
-- same hex digits are one)
EXPLAIN (VERBOSE, COSTS OFF) SELECT k, count(DISTINCT cat), count(*) FROM items GROUP BY k;
SELECT count(DISTINCT cat), count(DISTINCT s) FROM items;
SELECT same('SELECT k, count(DISTINCT cat), count(*) FROM %s GROUP BY k');
SELECT ran_on_server('SELECT k, count(DISTINCT cat), count(*) FROM items GROUP BY k') AS on_server;
-- SELECT DISTINCT: a GROUP BY without aggregates
EXPLAIN (VERBOSE, COSTS OFF) SELECT DISTINCT cat FROM items;
SELECT same('SELECT DISTINCT cat FROM %s');
SELECT same('SELECT DISTINCT cat, k FROM %s WHERE id > 2');

-- kept local: float8 sum and avg (PostgreSQL adds in scan order),
-- min/max of text under another collation, DISTINCT in sum
EXPLAIN (COSTS OFF) SELECT sum(f), avg(f) FROM items;
EXPLAIN (COSTS OFF) SELECT min(sd) FROM items GROUP BY cat;
EXPLAIN (COSTS OFF) SELECT sum(DISTINCT n) FROM items;

-- Sorts with computed keys: PostgreSQL's default NULL placement (ASC NULLS
-- LAST, DESC NULLS FIRST) and float8 (NaN above every number)
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM items ORDER BY n, id LIMIT 3;
EXPLAIN (VERBOSE, COSTS OFF) SELECT id, f FROM items ORDER BY f DESC, id;
SELECT id, f FROM items ORDER BY f DESC, id;
SELECT fell_back('SELECT id FROM items ORDER BY n, id LIMIT 3') = NOT :'has_min_max'::bool AS as_expected;
SELECT fell_back('SELECT id FROM items ORDER BY n DESC, id LIMIT 3') = NOT :'has_min_max'::bool AS as_expected;
SELECT same_order('SELECT id, n FROM %s ORDER BY n, id LIMIT 4 OFFSET 1');
SELECT same_order('SELECT id, f FROM %s ORDER BY f, id');
SELECT same_order('SELECT id, s FROM %s ORDER BY s DESC, id');
SELECT id, n FROM items ORDER BY n DESC, id LIMIT 3;
-- not with a column reading the whole document (it would show the computed
-- keys): sorted locally
CREATE FOREIGN TABLE items_doc (id int OPTIONS (field '_id'), n bigint,
    doc jsonb OPTIONS (field '$$ROOT'))
  SERVER partial_srv OPTIONS (collection 'partial_items');
EXPLAIN (COSTS OFF) SELECT id, doc FROM items_doc ORDER BY n, id;
SELECT doc FROM items_doc WHERE id = 6 ORDER BY n;

DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('partial_srv', '{"drop": "partial_items"}');
END $$;
SET client_min_messages = warning;
DROP SCHEMA fdw_pushdown_partial CASCADE;
DROP SERVER partial_srv CASCADE;
RESET client_min_messages;
