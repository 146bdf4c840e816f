-- What PostgreSQL 16 changed in the planner's nullability bookkeeping, and
-- the two places that broke on it (both pass on 15, failed on 16+ before
-- the fix):
-- * an ORDER BY is pushed with PostgreSQL's default NULLS placement only
--   where a condition proves the column NOT NULL; find_nonnullable_vars()
--   returns per-relation attribute sets since 16, and reading them as a
--   list of Vars crashed the backend on any such query;
-- * a LEFT JOIN planned as a batched key join failed with "wrong
--   varnullingrels": since 16 the join's target list marks the nullable
--   side's columns as nulled by the join, and the join's scan tuple must
--   match.
\set VERBOSITY terse
CREATE SCHEMA nullability;
SET search_path = nullability, public;
\getenv mongo_uri MONGODB_URI
CREATE SERVER null_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri :'mongo_uri', database 'ng_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER null_srv;
DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('null_srv', '{"drop": "null_items"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;
-- n is null in 3 and missing in 5; m is never null
SELECT nutragenie_fdw.run_command('null_srv', $$
{"insert": "null_items", "documents": [
  {"_id": 1, "n": 4, "m": 10, "name": "one"},
  {"_id": 2, "n": -1, "m": 20, "name": "two"},
  {"_id": 3, "n": null, "m": 30, "name": null},
  {"_id": 4, "n": 9, "m": 40, "name": "four"},
  {"_id": 5, "m": 50},
  {"_id": 6, "n": 0, "m": 60, "name": "six"}
]}$$)->>'n' AS inserted;
CREATE FOREIGN TABLE items (id int OPTIONS (field '_id'), n int, m int, name text)
  SERVER null_srv OPTIONS (collection 'null_items', batch_size '2');
-- strict conditions prove n NOT NULL: ORDER BY n (NULLS LAST) is pushed
EXPLAIN (COSTS OFF) SELECT id FROM items WHERE n > -5 ORDER BY n;
EXPLAIN (COSTS OFF) SELECT id FROM items WHERE n IN (0, 4, 9) ORDER BY n DESC;
EXPLAIN (COSTS OFF) SELECT id FROM items WHERE n + m > 0 ORDER BY n, m;
SELECT id, n FROM items WHERE n > -5 ORDER BY n;
SELECT id, n FROM items WHERE n IN (0, 4, 9) ORDER BY n DESC;
SELECT id, n, m FROM items WHERE n + m > 0 ORDER BY n, m;
-- conditions that do not prove it: the sort takes a computed "null or
-- missing" key (an aggregation; sorted locally where the server lacks it)
EXPLAIN (COSTS OFF) SELECT id FROM items WHERE n IS DISTINCT FROM 4 ORDER BY n;
EXPLAIN (COSTS OFF) SELECT id FROM items WHERE n > 0 OR m > 0 ORDER BY n;
EXPLAIN (COSTS OFF) SELECT id FROM items WHERE m > 0 ORDER BY n;
SELECT id, n FROM items WHERE n IS DISTINCT FROM 4 ORDER BY n, id;
SELECT id, n FROM items WHERE n > 0 OR m > 0 ORDER BY n DESC, id;

-- LEFT JOIN as a batched key join, the nullable side's columns used in the
-- target list, in the join condition, and in a condition above the join
SET enable_hashjoin = off;
SET enable_mergejoin = off;
CREATE TABLE picks (pick int PRIMARY KEY, item int);
INSERT INTO picks VALUES (1, 1), (2, 3), (3, 5), (4, 7), (5, NULL), (6, 4);
ANALYZE picks;
EXPLAIN (COSTS OFF)
SELECT p.pick, i.id, i.name FROM picks p LEFT JOIN items i ON i.id = p.item;
SELECT p.pick, i.id, i.name FROM picks p LEFT JOIN items i ON i.id = p.item ORDER BY p.pick;
SELECT p.pick, i.n FROM picks p LEFT JOIN items i ON i.id = p.item AND i.n > 0
ORDER BY p.pick;
SELECT p.pick, i.id FROM picks p LEFT JOIN items i ON i.id = p.item
WHERE i.name IS NULL ORDER BY p.pick;
SELECT p.pick, coalesce(i.name, '-') AS name, count(*) OVER () AS total
FROM picks p LEFT JOIN items i ON i.id = p.item ORDER BY p.pick;
-- the same through a view and under another join
CREATE VIEW picked AS
  SELECT p.pick, i.id, i.m FROM picks p LEFT JOIN items i ON i.id = p.item;
SELECT v.pick, v.m, q.pick AS again FROM picked v JOIN picks q ON q.pick = v.pick
WHERE v.m IS NULL OR v.m > 20 ORDER BY v.pick;
RESET enable_hashjoin;
RESET enable_mergejoin;

SELECT (nutragenie_fdw.run_command('null_srv', '{"drop": "null_items"}')->>'ok')::float8 = 1 AS dropped;
SET client_min_messages = warning;
DROP SCHEMA nullability CASCADE;
DROP SERVER null_srv CASCADE;
RESET client_min_messages;
