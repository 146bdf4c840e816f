-- Large key lists: col IN (100,000 values), col = ANY(a bound array) and the
-- batched key join are deparsed in time and memory linear in the list, and
-- a filter over nutragenie.max_filter_size is sent as several finds (each
-- with a slice of the $in), or its terms that cannot be split are checked
-- locally.  The collection is small; the key lists are large.
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SCHEMA scan_large_in;
SET search_path = scan_large_in, public;
\getenv mongo_uri MONGODB_URI
CREATE SERVER li_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri :'mongo_uri', database 'ng_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER li_srv;

DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('li_srv', '{"drop": "li_items"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;
-- 20 documents
SELECT nutragenie_fdw.run_command('li_srv', json_build_object('insert', 'li_items', 'documents',
  (SELECT json_agg(json_build_object('_id', i, 'code', 'k' || i, 'qty', i * 10) ORDER BY i)
   FROM generate_series(1, 20) i))) ->> 'n' AS inserted;
CREATE FOREIGN TABLE items (_id int, code text, qty int)
  SERVER li_srv OPTIONS (collection 'li_items');

-- The finds a query sent, how its filter was split, and its local
-- fallbacks, for each foreign scan of the plan (the commands themselves
-- are too long to print).
CREATE FUNCTION finds(q text, run bool DEFAULT true) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
  j jsonb;
BEGIN
  EXECUTE format('EXPLAIN (ANALYZE %s, COSTS OFF, TIMING OFF, SUMMARY OFF, FORMAT JSON) %s',
                 run::text, q) INTO j;
  RETURN QUERY
    SELECT concat_ws(', ', 'finds: ' || (n ->> 'MongoDB Finds'),
                     'fallbacks: ' || (n ->> 'MongoDB Fallbacks'),
                     'split scans: ' || (n ->> 'MongoDB Split Scans'),
                     'split: ' || (n ->> 'MongoDB Filter Split'))
    FROM jsonb_path_query(j, 'strict $.** ? (exists (@."MongoDB Database"))') n;
END $$;

-- 100,000 keys, 4 of which match (-99995 .. 4)
SELECT string_agg(g::text, ',') AS keys FROM generate_series(-99995, 4) g \gset
SELECT _id, code FROM items WHERE _id IN (:keys) ORDER BY _id;
-- 1.5 MB of filter: one find
SELECT * FROM finds($$SELECT _id FROM items WHERE _id IN ($$ || :'keys' || $$)$$);

-- A smaller limit splits the same $in into finds of at most 64 kB
SET nutragenie.max_filter_size = '64kB';
SELECT _id, code FROM items WHERE _id IN (:keys) ORDER BY _id;
SELECT * FROM finds($$SELECT _id FROM items WHERE _id IN ($$ || :'keys' || $$)$$);
-- EXPLAIN alone shows the split too
SELECT * FROM finds($$SELECT _id FROM items WHERE _id IN ($$ || :'keys' || $$)$$, false);
-- every key twice: duplicates are dropped, each document comes back once
SELECT _id, code FROM items WHERE _id IN (:keys, :keys) ORDER BY _id;
SELECT * FROM finds($$SELECT _id FROM items WHERE _id IN ($$ || :'keys' || ',' || :'keys' || $$)$$);
-- with other conditions, repeated in every find (also one on the same field)
SELECT _id FROM items WHERE _id IN (:keys) AND qty > 20 ORDER BY _id;
SELECT _id FROM items WHERE _id IN (:keys) AND _id <> 3 ORDER BY _id;
-- a split filter carries no sort or limit: both are done locally
SELECT _id FROM items WHERE _id IN (:keys) ORDER BY _id DESC LIMIT 2;
SELECT * FROM finds($$SELECT _id FROM items WHERE _id IN ($$ || :'keys' || $$) ORDER BY _id DESC LIMIT 2$$);
-- nor an aggregation: the local plan runs it
SELECT count(*), sum(qty) FROM items WHERE _id IN (:keys);
SELECT * FROM finds($$SELECT count(*) FROM items WHERE _id IN ($$ || :'keys' || $$)$$);

-- Arrays known at run time: a sub-select's ...
SELECT _id, code FROM items
WHERE code = ANY (ARRAY(SELECT 'k' || g FROM generate_series(-99995, 4) g))
ORDER BY _id;
SELECT * FROM finds($$SELECT _id FROM items
  WHERE code = ANY (ARRAY(SELECT 'k' || g FROM generate_series(-99995, 4) g))$$);
-- ... and a parameter of a generic plan
CREATE FUNCTION ids_in(keys int[]) RETURNS SETOF int
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
BEGIN
  RETURN QUERY SELECT _id FROM scan_large_in.items WHERE _id = ANY (keys) ORDER BY _id;
END $$;
SELECT * FROM ids_in(ARRAY(SELECT generate_series(-99995, 4)));

-- NOT IN cannot be split ($nin slices would have to hold together): the
-- term is left out of the filter and checked locally
SELECT count(*), min(_id), max(_id) FROM items WHERE _id NOT IN (:keys) AND qty < 150;
SELECT * FROM finds($$SELECT _id FROM items WHERE _id NOT IN ($$ || :'keys' || $$) AND qty < 150$$);

-- A single value larger than the limit
SET nutragenie.max_filter_size = '1kB';
SELECT _id, code FROM items WHERE code = repeat('x', 2000) OR _id = 3;
SELECT * FROM finds($$SELECT _id FROM items WHERE code = repeat('x', 2000) OR _id = 3$$);

-- The batched key join: one batch of 3,000 keys, its $in split in 4 kB finds
SET nutragenie.max_filter_size = '4kB';
CREATE TABLE keys AS SELECT g AS k FROM generate_series(-2995, 4) g;
ANALYZE keys;
ALTER FOREIGN TABLE items OPTIONS (ADD batch_size '5000');
SET enable_hashjoin = off;
SET enable_mergejoin = off;
SELECT k, i.code FROM keys JOIN items i ON i._id = keys.k ORDER BY k;
SELECT * FROM finds($$SELECT k, i.code FROM keys JOIN items i ON i._id = keys.k$$);
RESET enable_hashjoin;
RESET enable_mergejoin;

-- MongoDB's own limit: 100,000 keys of 161 bytes (16.5 MB) in two finds
RESET nutragenie.max_filter_size;
SELECT _id, code FROM items
WHERE code = ANY (ARRAY(SELECT CASE WHEN g > 0 THEN 'k' || g ELSE lpad(g::text, 161, 'x') END
                        FROM generate_series(-99995, 4) g))
ORDER BY _id;
SELECT * FROM finds($$SELECT _id FROM items
  WHERE code = ANY (ARRAY(SELECT CASE WHEN g > 0 THEN 'k' || g ELSE lpad(g::text, 161, 'x') END
                          FROM generate_series(-99995, 4) g))$$);

-- The limit's range
-- (the range's wording differs between PostgreSQL versions: the SQLSTATE only)
\set VERBOSITY sqlstate
SET nutragenie.max_filter_size = '16MB';
\set VERBOSITY default

SET client_min_messages = warning;
DROP SCHEMA scan_large_in CASCADE;
DROP SERVER li_srv CASCADE;
RESET client_min_messages;
