-- Batched key joins: a local table joined to a foreign table on a key sends
-- one {key: {$in: [...]}} find per batch of outer rows.
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SCHEMA batchjoin;
SET search_path = batchjoin, public;
-- explain_analyze(): EXPLAIN ANALYZE the same on every version
\i test/sql/include/explain.sql
\getenv mongo_uri MONGODB_URI
CREATE SERVER bj_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri :'mongo_uri', database 'ng_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER bj_srv;

DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('bj_srv', '{"drop": "bj_items"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;
-- 60 documents; "code" repeats every 20; document 13 has a string in "bad"
SELECT nutragenie_fdw.run_command('bj_srv', json_build_object('insert', 'bj_items', 'documents',
  (SELECT json_agg(json_build_object('_id', i, 'code', 'c' || i % 20, 'name', 'item ' || i,
                                     'qty', i * 10, 'bad', CASE WHEN i = 13 THEN to_json('x'::text) ELSE to_json(i) END)
                   ORDER BY i)
   FROM generate_series(1, 60) i))) ->> 'n' AS inserted;

-- (not analyzed: the planner assumes 1000 documents)
CREATE FOREIGN TABLE items (_id int, code text, name text, qty int)
  SERVER bj_srv OPTIONS (collection 'bj_items', batch_size '4');
CREATE FOREIGN TABLE items_bad (_id int, bad int)
  SERVER bj_srv OPTIONS (collection 'bj_items', batch_size '4');
-- outer rows: keys that repeat, are NULL or match nothing
CREATE TABLE orders (id int PRIMARY KEY, item int, code text, n int);
INSERT INTO orders VALUES (1, 5, 'c5', 1), (2, 7, 'c7', 2), (3, 5, 'c5', 3), (4, NULL, NULL, 4),
  (5, 99, 'c99', 5), (6, 12, 'c12', 6), (7, 40, 'c0', 7), (8, 41, 'c1', 8), (9, 7, 'c7', 9),
  (10, 60, 'c0', 10);
ANALYZE orders;

-- a few outer rows against the collection: a batched key join by default
EXPLAIN (VERBOSE, COSTS OFF)
SELECT o.id, i.name FROM orders o JOIN items i ON i._id = o.item;
SELECT o.id, i.name FROM orders o JOIN items i ON i._id = o.item ORDER BY o.id;
-- 10 outer rows in batches of 4: 3 finds, each with the batch's distinct
-- non-NULL keys (3 + 3 + 2)
SELECT explain_analyze($$SELECT o.id, i.name FROM orders o JOIN items i ON i._id = o.item$$);

-- from here on hash and merge joins are off, so that the batched join is
-- the plan under test wherever it applies
SET enable_hashjoin = off;
SET enable_mergejoin = off;

-- left join: unmatched and NULL keys are null-extended; a condition on the
-- foreign table in ON is pushed with the keys
SELECT o.id, i._id, i.name FROM orders o LEFT JOIN items i ON i._id = o.item AND i.qty > 60
ORDER BY o.id;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT o.id, i._id, i.name FROM orders o LEFT JOIN items i ON i._id = o.item AND i.qty > 60;
-- a condition of the join in ON that only PostgreSQL can evaluate, and a
-- WHERE condition above the join
SELECT o.id, i._id FROM orders o LEFT JOIN items i ON i._id = o.item AND i.qty > o.n * 10
WHERE o.id <> 2 ORDER BY o.id;

-- a key other than _id, matching several documents per key
SELECT o.id, string_agg(i._id::text, ',' ORDER BY i._id) AS items
FROM orders o JOIN items i ON i.code = o.code GROUP BY o.id ORDER BY o.id;
EXPLAIN (COSTS OFF)
SELECT o.id, i._id FROM orders o JOIN items i ON i.code = o.code;

-- the key compared across types (bigint outer values, int column)
SELECT o.id, i.name FROM (SELECT id, item::bigint AS item FROM orders) o
JOIN items i ON i._id = o.item WHERE o.id < 4 ORDER BY o.id;

-- the same rows as a join to a local copy of the collection
CREATE TABLE items_local AS SELECT _id, code, name, qty FROM items;
SELECT count(*) AS differences FROM (
  (SELECT o.id, i._id, i.name FROM orders o LEFT JOIN items i ON i.code = o.code
   EXCEPT ALL
   SELECT o.id, i._id, i.name FROM orders o LEFT JOIN items_local i ON i.code = o.code)
  UNION ALL
  (SELECT o.id, i._id, i.name FROM orders o LEFT JOIN items_local i ON i.code = o.code
   EXCEPT ALL
   SELECT o.id, i._id, i.name FROM orders o LEFT JOIN items i ON i.code = o.code)) d;

-- rescans: under a correlated subquery, once per outer value
SELECT g, (SELECT string_agg(i.name, ', ' ORDER BY i._id) FROM orders o
           JOIN items i ON i._id = o.item WHERE o.id <= g) AS names
FROM generate_series(1, 7, 3) g;

-- read-your-writes: the transaction's own changes are joined too
BEGIN;
UPDATE items SET name = 'renamed 7' WHERE _id = 7;
DELETE FROM items WHERE _id = 12;
INSERT INTO items (_id, code, name, qty) VALUES (99, 'c99', 'new 99', 990);
SELECT o.id, i.name FROM orders o LEFT JOIN items i ON i._id = o.item ORDER BY o.id;
ROLLBACK;
SELECT o.id, i.name FROM orders o LEFT JOIN items i ON i._id = o.item WHERE o.item IN (7, 12, 99)
ORDER BY o.id;

-- a document that does not convert is an error naming it, not a NULL
SELECT o.id, i.bad FROM orders o JOIN items_bad i ON i._id = o.item + 8 ORDER BY o.id;

-- many outer rows against a small collection: one scan and a hash join
RESET enable_hashjoin;
RESET enable_mergejoin;
CREATE TABLE many AS SELECT g AS id, g % 70 AS item FROM generate_series(1, 5000) g;
ANALYZE many;
EXPLAIN (COSTS OFF) SELECT count(*) FROM many m JOIN items i ON i._id = m.item;
SELECT count(*) FROM many m JOIN items i ON i._id = m.item;

-- a statement that writes the foreign table it joins reads the table as it
-- was when the statement started, in every batch: the 6 rows copied from
-- the first batch have the code of order 5, in the second batch, and are
-- not joined to it
SET enable_hashjoin = off;
SET enable_mergejoin = off;
BEGIN;
EXPLAIN (COSTS OFF) INSERT INTO items SELECT 1000 + i._id * 100 + o.id, 'c99', 'copy', 0
FROM orders o JOIN items i ON i.code = o.code;
INSERT INTO items SELECT 1000 + i._id * 100 + o.id, 'c99', 'copy', 0
FROM orders o JOIN items i ON i.code = o.code;
SELECT count(*) FROM items WHERE name = 'copy';
WITH ins AS (INSERT INTO items SELECT 20000 + i._id * 100 + o.id, 'c99', 'again', 0
             FROM orders o JOIN items i ON i.code = o.code RETURNING _id)
SELECT count(*) FROM ins;
ROLLBACK;

-- not offered: row locks, a condition on the foreign table that needs no
-- column (a gating Result above its scan), or with the GUC off
EXPLAIN (COSTS OFF)
SELECT o.id, i.name FROM orders o JOIN items i ON i._id = o.item FOR UPDATE OF o;
SELECT o.id, s.name FROM orders o
LEFT JOIN (SELECT * FROM items WHERE now() > '2000-01-01') s ON s._id = o.item
WHERE o.id < 4 ORDER BY o.id;
SET nutragenie.enable_batched_join = off;
EXPLAIN (COSTS OFF)
SELECT o.id, i.name FROM orders o JOIN items i ON i._id = o.item;
RESET nutragenie.enable_batched_join;
RESET enable_hashjoin;
RESET enable_mergejoin;

DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('bj_srv', '{"drop": "bj_items"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;
SET client_min_messages = warning;
DROP SCHEMA batchjoin CASCADE;
DROP SERVER bj_srv CASCADE;
RESET client_min_messages;
