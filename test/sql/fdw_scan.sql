-- Reading documents: columns, nested fields, $$ROOT, missing versus null,
-- batches, projection, rescans.
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SCHEMA scan;
SET search_path = scan, public;
-- explain_analyze(): EXPLAIN ANALYZE the same on every version
\i test/sql/include/explain.sql
\getenv mongo_uri MONGODB_URI
CREATE SERVER scan_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri :'mongo_uri', database 'ng_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER scan_srv;

-- Fixture: a fresh collection
DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('scan_srv', '{"drop": "scan_recipes"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;
SELECT nutragenie_fdw.run_command('scan_srv', $$
{"insert": "scan_recipes", "documents": [
  {"_id": {"$oid": "650000000000000000000001"}, "title": "Porridge", "servings": 2,
   "nutrition": {"energy": {"kcal": 350}, "protein_g": 12.5},
   "tags": ["breakfast", "vegan"], "published": true},
  {"_id": {"$oid": "650000000000000000000002"}, "title": "Omelette", "servings": 1,
   "nutrition": {"energy": {"kcal": 420}, "protein_g": 25},
   "tags": [], "published": false},
  {"_id": {"$oid": "650000000000000000000003"}, "title": "Salad", "servings": null,
   "nutrition": {"protein_g": 4},
   "tags": null},
  {"_id": {"$oid": "650000000000000000000004"}, "title": "Soup",
   "nutrition": "unknown"},
  {"_id": {"$oid": "650000000000000000000005"}, "title": "Crêpe «fine»", "servings": 4,
   "tags": ["dessert", null, "sweet"], "published": true}
]}$$)->>'ok';

CREATE FOREIGN TABLE recipes (
    _id objectid,
    title text,
    servings int,
    kcal int OPTIONS (field 'nutrition.energy.kcal'),
    protein numeric OPTIONS (field 'nutrition.protein_g'),
    tags text[],
    published boolean,
    doc jsonb OPTIONS (field '$$ROOT')
) SERVER scan_srv OPTIONS (collection 'scan_recipes');

SELECT _id, title, servings, kcal, protein, tags, published FROM recipes ORDER BY _id;

-- missing field and BSON null are both NULL; a path under a scalar is missing
SELECT title, servings IS NULL AS no_servings, kcal IS NULL AS no_kcal,
       tags IS NULL AS no_tags
FROM recipes ORDER BY _id;

-- the whole document
SELECT doc FROM recipes WHERE _id = '650000000000000000000001';
SELECT doc->'nutrition'->'energy'->>'kcal' AS kcal FROM recipes ORDER BY _id;

-- count(*) fetches only _id
SELECT count(*) FROM recipes;
EXPLAIN (COSTS OFF) SELECT count(*) FROM recipes;

-- projection: only what the query needs (prefixes of nested paths merge)
EXPLAIN (COSTS OFF) SELECT title, kcal FROM recipes;
EXPLAIN (COSTS OFF) SELECT title, doc FROM recipes;
EXPLAIN (VERBOSE, COSTS OFF) SELECT title FROM recipes WHERE upper(title) = 'SOUP';

-- a small cursor batch still returns every document, in several round trips
ALTER FOREIGN TABLE recipes OPTIONS (ADD batch_size '2');
SELECT count(*), count(DISTINCT _id), string_agg(title, ', ' ORDER BY _id) FROM recipes;
ALTER FOREIGN TABLE recipes OPTIONS (DROP batch_size);

-- rescans: the foreign table on the inner side of a nested loop (batched
-- key joins, test batchjoin, are turned off here)
SET nutragenie.enable_batched_join = off;
CREATE TABLE picks (id objectid, note text);
INSERT INTO picks VALUES ('650000000000000000000002', 'b'), ('650000000000000000000004', 'a'),
                         ('650000000000000000000009', 'none');
SET enable_hashjoin = off; SET enable_mergejoin = off;
SELECT p.note, r.title FROM picks p LEFT JOIN recipes r ON r._id = p.id ORDER BY p.note;
EXPLAIN (COSTS OFF)
SELECT p.note, r.title FROM picks p LEFT JOIN recipes r ON r._id = p.id;
-- without Materialize, a parameterized scan: one keyed find per outer row
SET enable_material = off;
SELECT p.note, r.title FROM picks p LEFT JOIN recipes r ON r._id = p.id ORDER BY p.note;
SELECT explain_analyze($$SELECT p.note, r.title FROM picks p LEFT JOIN recipes r ON r._id = p.id$$);
-- a prepared statement's parameter is bound at execution
PREPARE by_servings(int) AS SELECT title FROM recipes WHERE servings >= $1 ORDER BY title;
EXECUTE by_servings(2);
EXPLAIN (COSTS OFF) EXECUTE by_servings(2);
SET plan_cache_mode = force_generic_plan;
EXECUTE by_servings(4);
EXPLAIN (COSTS OFF) EXECUTE by_servings(4);
RESET plan_cache_mode;
RESET enable_hashjoin; RESET enable_mergejoin; RESET enable_material;
RESET nutragenie.enable_batched_join;

-- a collection that does not exist is an error, not an empty table
CREATE FOREIGN TABLE nothing (_id objectid) SERVER scan_srv OPTIONS (collection 'scan_no_such');
SELECT count(*) FROM nothing;
-- an existing but empty collection is fine
SELECT nutragenie_fdw.run_command('scan_srv', '{"create": "scan_empty"}')->>'ok';
ALTER FOREIGN TABLE nothing OPTIONS (SET collection 'scan_empty');
SELECT count(*) FROM nothing;
SELECT nutragenie_fdw.run_command('scan_srv', '{"drop": "scan_empty"}')->>'ok';

-- the same collection through a text _id column reads ObjectIds as hex
CREATE FOREIGN TABLE recipes_text (_id text, title text)
  SERVER scan_srv OPTIONS (collection 'scan_recipes');
SELECT _id, title FROM recipes_text ORDER BY _id LIMIT 2;

-- EXPLAIN ANALYZE counts round trips and documents
SELECT explain_analyze($$SELECT title FROM recipes$$);

SELECT nutragenie_fdw.run_command('scan_srv', '{"drop": "scan_recipes"}')->>'ok';
SET client_min_messages = warning;
DROP SCHEMA scan CASCADE;
DROP SERVER scan_srv CASCADE;
