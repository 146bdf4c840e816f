-- ANALYZE on foreign tables: the sample fills pg_stats, the collection's
-- count becomes reltuples, and the planner's row estimates follow.  The
-- small collection is read whole (deterministic statistics); the large one
-- is sampled ($sample, or the first documents where the server lacks it),
-- so only its counts are shown.
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SCHEMA "analyze";  -- a keyword, hence the quotes
SET search_path = "analyze", public;
\getenv mongo_uri MONGODB_URI
CREATE SERVER analyze_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri :'mongo_uri', database 'ng_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER analyze_srv;

DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('analyze_srv', '{"drop": "analyze_recipes"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;
DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('analyze_srv', '{"drop": "analyze_big"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;
-- 50 recipes: 20 soups, 15 salads, 10 cakes, 3 without a category and 2
-- with a null one
SELECT nutragenie_fdw.run_command('analyze_srv', json_build_object(
  'insert', 'analyze_recipes',
  'documents', (SELECT json_agg(json_strip_nulls(json_build_object(
      '_id', g,
      'cat', CASE WHEN g <= 20 THEN 'soup' WHEN g <= 35 THEN 'salad'
                  WHEN g <= 45 THEN 'cake' END,
      'kcal', g * 10,
      'vegan', g % 2 = 0)) ORDER BY g)
    FROM generate_series(1, 50) g)))->>'n';
SELECT nutragenie_fdw.run_command('analyze_srv',
  '{"update": "analyze_recipes", "updates": [{"q": {"_id": {"$in": [49, 50]}}, "u": {"$set": {"cat": null}}, "multi": true}]}')->>'nModified';
SELECT nutragenie_fdw.run_command('analyze_srv', json_build_object(
  'insert', 'analyze_big',
  'documents', (SELECT json_agg(json_build_object('_id', g, 'k', g % 7, 'pad', repeat('x', 1500)) ORDER BY g)
    FROM generate_series(1, 500) g)))->>'n';

CREATE FOREIGN TABLE recipes (
    _id int, cat text, kcal int, vegan boolean, doc jsonb OPTIONS (field '$$ROOT')
) SERVER analyze_srv OPTIONS (collection 'analyze_recipes');

-- the planner's estimate for a query, without the costs
CREATE FUNCTION plan_rows(query text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE plan json;
BEGIN
  EXECUTE 'EXPLAIN (FORMAT JSON) ' || query INTO plan;
  RETURN (plan->0->'Plan'->>'Plan Rows')::float8;
END $$;

-- never analyzed: no statistics, default estimates
SELECT reltuples FROM pg_class WHERE oid = 'recipes'::regclass;
SELECT count(*) FROM pg_stats WHERE schemaname = 'analyze';
CREATE TEMP TABLE before AS
SELECT plan_rows('SELECT * FROM "analyze".recipes WHERE cat = ''soup''') AS soup,
       plan_rows('SELECT * FROM "analyze".recipes WHERE kcal > 400') AS kcal;

ANALYZE recipes;
SELECT reltuples FROM pg_class WHERE oid = 'recipes'::regclass;
SELECT attname, null_frac, n_distinct, most_common_vals, most_common_freqs
FROM pg_stats WHERE schemaname = 'analyze' AND tablename = 'recipes'
  AND attname IN ('_id', 'cat', 'vegan')
ORDER BY attname;
SELECT histogram_bounds FROM pg_stats
WHERE schemaname = 'analyze' AND tablename = 'recipes' AND attname = 'kcal';

-- the estimates now follow the data (20 soups, 10 recipes over 400 kcal)
SELECT plan_rows('SELECT * FROM "analyze".recipes WHERE cat = ''soup''') AS soup,
       plan_rows('SELECT * FROM "analyze".recipes WHERE kcal > 400') AS kcal,
       plan_rows('SELECT * FROM "analyze".recipes WHERE cat IS NULL') AS no_cat,
       plan_rows('SELECT * FROM "analyze".recipes') AS all_rows;
SELECT b.soup <> 20 AS soup_changed, b.kcal <> 10 AS kcal_changed FROM before b;
SELECT count(*) FILTER (WHERE cat = 'soup') AS soup,
       count(*) FILTER (WHERE kcal > 400) AS kcal FROM recipes;

-- a collection larger than the sample: targrows is 300 at statistics
-- target 1; reltuples is still the collection's count
CREATE FOREIGN TABLE big (_id int, k int) SERVER analyze_srv
  OPTIONS (collection 'analyze_big');
ALTER FOREIGN TABLE big ALTER COLUMN _id SET STATISTICS 1;
ALTER FOREIGN TABLE big ALTER COLUMN k SET STATISTICS 1;
ANALYZE big;
SELECT reltuples FROM pg_class WHERE oid = 'big'::regclass;
SELECT attname, null_frac FROM pg_stats
WHERE schemaname = 'analyze' AND tablename = 'big' ORDER BY attname;
SELECT plan_rows('SELECT * FROM "analyze".big') AS all_rows;
-- the 300 are a $sample where the server has it (probed): then their
-- largest _id is above 300; without $sample (FerretDB 1.x) they are the
-- first 300 in natural order.  With NG_SERVER=documentdb the server must
-- have $sample.  DocumentDB samples whole pages, hence the padding: about
-- 5 documents a page, and 60 random pages of 100 all among the first 60
-- has probability 1/C(100,60).
\set probe_srv analyze_srv
\i test/sql/include/server_probe.sql
SELECT ((histogram_bounds::text::int[])[2] > 300) = :'has_sample'::bool AS sampled_as_expected
FROM pg_stats WHERE schemaname = 'analyze' AND tablename = 'big' AND attname = '_id';

-- an empty collection
SELECT nutragenie_fdw.run_command('analyze_srv', '{"create": "analyze_empty"}')->>'ok';
CREATE FOREIGN TABLE empty (_id int) SERVER analyze_srv
  OPTIONS (collection 'analyze_empty');
ANALYZE empty;
SELECT reltuples FROM pg_class WHERE oid = 'empty'::regclass;
SELECT nutragenie_fdw.run_command('analyze_srv', '{"drop": "analyze_empty"}')->>'ok';

-- errors: a missing collection, as for a scan
ANALYZE empty;
-- a value that does not fit its column fails ANALYZE as it fails a SELECT
CREATE FOREIGN TABLE misfit (_id int, cat int) SERVER analyze_srv
  OPTIONS (collection 'analyze_recipes');
ANALYZE misfit;
-- unless the column reads mismatches as NULL
ALTER FOREIGN TABLE misfit ALTER COLUMN cat OPTIONS (ADD type_mismatch 'null');
ANALYZE misfit;
SELECT attname, null_frac FROM pg_stats
WHERE schemaname = 'analyze' AND tablename = 'misfit' ORDER BY attname;

SELECT nutragenie_fdw.run_command('analyze_srv', '{"drop": "analyze_recipes"}')->>'ok';
SELECT nutragenie_fdw.run_command('analyze_srv', '{"drop": "analyze_big"}')->>'ok';
SET client_min_messages = warning;
DROP SCHEMA "analyze" CASCADE;
DROP SERVER analyze_srv CASCADE;
