-- IMPORT FOREIGN SCHEMA from a MongoDB database: one foreign table per
-- collection, columns inferred from the documents (types, nested paths,
-- arrays, mixed types), names quoted and made unique, the options, and the
-- errors for bad options, a missing database and a missing collection.
-- Every collection here but the last is smaller than sample_size, so every
-- document is read and the result does not depend on $sample.
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SCHEMA import;
SET search_path = import, public;
\getenv mongo_uri MONGODB_URI
CREATE SERVER import_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri :'mongo_uri', database 'ng_import');
CREATE USER MAPPING FOR CURRENT_USER SERVER import_srv;

-- Fixture: a database of our own, fresh
SELECT nutragenie_fdw.run_command('import_srv', '{"dropDatabase": 1}')->>'ok';
SELECT nutragenie_fdw.run_command('import_srv', $$
{"insert": "recipes", "documents": [
  {"_id": {"$oid": "650000000000000000000001"}, "title": "Porridge", "servings": 2,
   "rating": 4, "score": 1.5, "published": true,
   "created": {"$date": "2024-01-02T03:04:05Z"},
   "ref": {"$binary": {"base64": "ASNFZ4mrze8BI0VniavN7w==", "subType": "04"}},
   "thumb": {"$binary": {"base64": "AAEC/w==", "subType": "00"}},
   "nutrition": {"energy": {"kcal": 350}, "protein_g": 12.5},
   "tags": ["breakfast", "vegan"], "steps": [1, 2, 3], "odd": [1, "two"],
   "ingredients": [{"name": "oats"}], "mixed": 1, "nothing": null,
   "source": {"name": "grandma"}, "source_name": "book", "doc": "a field named doc",
   "xmin": 1, "CamelCase": "kept",
   "a_field_name_that_is_far_longer_than_the_sixty_three_bytes_of_a_name": 1,
   "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxé_cut": 2},
  {"_id": {"$oid": "650000000000000000000002"}, "title": "Omelette",
   "servings": {"$numberLong": "1"}, "rating": 4.5, "score": {"$numberLong": "9007199254740993"},
   "published": false, "nutrition": {"energy": {"kcal": 420}, "fat_g": 30},
   "tags": [], "steps": [4, null], "odd": [], "mixed": "one", "nothing": null},
  {"_id": {"$oid": "650000000000000000000003"}, "title": "Salad", "nutrition": null}
]}$$)->>'ok';
SELECT nutragenie_fdw.run_command('import_srv', $$
{"insert": "Events", "documents": [
  {"_id": 1, "kind": "cook", "at": {"$date": "2024-05-01T12:00:00Z"}},
  {"_id": 2, "kind": "rate", "at": {"$date": "2024-05-02T12:00:00Z"}, "stars": 5}
]}$$)->>'ok';
SELECT nutragenie_fdw.run_command('import_srv',
  '{"insert": "a_collection_whose_name_is_longer_than_the_sixty_three_bytes_of_an_identifier", "documents": [{"_id": "only"}]}')->>'ok';
SELECT nutragenie_fdw.run_command('import_srv', '{"create": "empty"}')->>'ok';

-- The tables as a catalog query: name, columns in order, types, options
CREATE VIEW imported AS
SELECT c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod) AS type,
       array_to_string(a.attfdwoptions, ', ') AS options
FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
WHERE c.relnamespace = 'import'::regnamespace AND c.relkind = 'f'
  AND a.attnum > 0 AND NOT a.attisdropped;
CREATE VIEW imported_tables AS
SELECT c.relname, array_to_string(ft.ftoptions, ', ') AS options
FROM pg_class c JOIN pg_foreign_table ft ON ft.ftrelid = c.oid
WHERE c.relnamespace = 'import'::regnamespace;

IMPORT FOREIGN SCHEMA ng_import FROM SERVER import_srv INTO import;
SELECT * FROM imported_tables ORDER BY relname COLLATE "C";
SELECT * FROM imported ORDER BY relname COLLATE "C", attnum;

-- the imported tables read every sampled document without a mismatch
SELECT _id, title, servings, rating, score, published, created, ref, thumb,
       nutrition_energy, nutrition_protein_g, nutrition_fat_g, tags, steps, odd,
       mixed, nothing, source_name, source_name_2, doc_2, xmin_2, "CamelCase"
FROM recipes ORDER BY _id;
SELECT doc FROM recipes WHERE _id = '650000000000000000000003';
SELECT * FROM "Events" ORDER BY _id;
SELECT * FROM empty;

-- LIMIT TO names collections (case-sensitive, as identifiers are when
-- quoted); depth 1 keeps subdocuments whole; root_column 'false' drops the
-- document column
DROP FOREIGN TABLE recipes, "Events";
IMPORT FOREIGN SCHEMA ng_import LIMIT TO (recipes, "Events") FROM SERVER import_srv
  INTO import OPTIONS (depth '1', root_column 'false');
SELECT * FROM imported WHERE relname IN ('recipes', 'Events')
ORDER BY relname COLLATE "C", attnum;

-- depth 3 flattens one level more; root_column names the document column
DROP FOREIGN TABLE recipes;
IMPORT FOREIGN SCHEMA ng_import LIMIT TO (recipes) FROM SERVER import_srv
  INTO import OPTIONS (depth '3', root_column 'everything', sample_size '10');
SELECT attname, type, options FROM imported
WHERE relname = 'recipes' AND (attname LIKE 'nutrition%' OR attname LIKE 'every%')
ORDER BY attnum;

-- EXCEPT leaves collections out
DROP FOREIGN TABLE recipes, "Events", empty,
  a_collection_whose_name_is_longer_than_the_sixty_three_bytes_of;
IMPORT FOREIGN SCHEMA ng_import EXCEPT (recipes, empty) FROM SERVER import_srv INTO import;
SELECT relname FROM imported_tables ORDER BY relname COLLATE "C";

-- errors: options are checked, with the valid ones listed
IMPORT FOREIGN SCHEMA ng_import FROM SERVER import_srv INTO import OPTIONS (sample 'all');
IMPORT FOREIGN SCHEMA ng_import FROM SERVER import_srv INTO import OPTIONS (sample_size '0');
IMPORT FOREIGN SCHEMA ng_import FROM SERVER import_srv INTO import OPTIONS (depth 'deep');
IMPORT FOREIGN SCHEMA ng_import FROM SERVER import_srv INTO import OPTIONS (depth '101');
-- integers and Booleans are parsed as the option validator parses them:
-- decimal digits only; true/false/on/off
IMPORT FOREIGN SCHEMA ng_import FROM SERVER import_srv INTO import OPTIONS (sample_size '1e3');
IMPORT FOREIGN SCHEMA ng_import FROM SERVER import_srv INTO import OPTIONS (depth '5.5');
IMPORT FOREIGN SCHEMA ng_import FROM SERVER import_srv INTO import OPTIONS (depth ' 5');
IMPORT FOREIGN SCHEMA ng_import FROM SERVER import_srv INTO import OPTIONS (import_views 'maybe');
IMPORT FOREIGN SCHEMA ng_import FROM SERVER import_srv INTO import OPTIONS (import_views 'yes');
IMPORT FOREIGN SCHEMA ng_import FROM SERVER import_srv INTO import OPTIONS (root_column 'ctid');
IMPORT FOREIGN SCHEMA ng_import FROM SERVER import_srv INTO import
  OPTIONS (depth '1', depth '2');
-- a database that does not exist is an error, not an empty import
IMPORT FOREIGN SCHEMA ng_no_such_db FROM SERVER import_srv INTO import;
IMPORT FOREIGN SCHEMA "NG_IMPORT" FROM SERVER import_srv INTO import;
-- so is a LIMIT TO name without a collection (nothing is imported)
IMPORT FOREIGN SCHEMA ng_import LIMIT TO (recipes, events) FROM SERVER import_srv INTO import;
SELECT relname FROM imported_tables ORDER BY relname COLLATE "C";

-- A collection larger than sample_size is sampled with $sample where the
-- server has it (probed), else read from its first documents in
-- natural order (FerretDB 1.x).  Only the last 100 of these 200 documents
-- have "late": a $sample of 100 finds it, the first 100 documents do not.
-- DocumentDB samples whole pages, hence the padding: about 5 documents a
-- page, and 20 random pages of 40 all among the first 20 has probability
-- 1/C(40,20).  With NG_SERVER=documentdb the server must have $sample.
SELECT nutragenie_fdw.run_command('import_srv', json_build_object('insert', 'sampled',
  'documents', (SELECT json_agg(json_strip_nulls(json_build_object(
      '_id', g, 'early', g, 'late', CASE WHEN g > 100 THEN g END,
      'pad', repeat('x', 1500))) ORDER BY g)
    FROM generate_series(1, 200) g)))->>'n';
\set probe_srv import_srv
\i test/sql/include/server_probe.sql
IMPORT FOREIGN SCHEMA ng_import LIMIT TO (sampled) FROM SERVER import_srv INTO import
  OPTIONS (sample_size '100');
SELECT EXISTS (SELECT FROM imported WHERE relname = 'sampled' AND attname = 'late')
       = :'has_sample'::bool AS sampled_as_expected;

SELECT nutragenie_fdw.run_command('import_srv', '{"dropDatabase": 1}')->>'ok';
SET client_min_messages = warning;
DROP SCHEMA import CASCADE;
DROP SERVER import_srv CASCADE;
