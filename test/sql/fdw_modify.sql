-- INSERT, UPDATE, DELETE, COPY and RETURNING on foreign tables; what
-- MongoDB ends up holding (read back with nutragenie_fdw.run_command); errors.
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SCHEMA modify;
SET search_path = modify, public;
\getenv mongo_uri MONGODB_URI
CREATE SERVER mod_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri :'mongo_uri', database 'ng_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER mod_srv;
DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('mod_srv', '{"drop": "mod_recipes"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;
SELECT nutragenie_fdw.run_command('mod_srv', '{"create": "mod_recipes"}')->>'ok';

-- the documents as MongoDB holds them, in canonical Extended JSON
CREATE FUNCTION mongo_docs(coll text) RETURNS SETOF jsonb LANGUAGE sql AS $$
  SELECT jsonb_array_elements(nutragenie_fdw.run_command('mod_srv',
           json_build_object('find', coll, 'sort', json_build_object('_id', 1)))
         -> 'cursor' -> 'firstBatch')
$$;

CREATE FOREIGN TABLE recipes (
    _id objectid,
    title text,
    servings int,
    kcal numeric OPTIONS (bson_type 'double'),
    protein int OPTIONS (field 'nutrition.protein_g'),
    fat float8 OPTIONS (field 'nutrition.fat_g'),
    tags text[],
    vegan boolean,
    created timestamptz
) SERVER mod_srv OPTIONS (collection 'mod_recipes');

-- INSERT with and without _id, RETURNING
INSERT INTO recipes VALUES ('650000000000000000000001', 'Porridge', 2, 350.5, 12, 3.5,
                            '{breakfast,quick}', true, '2026-01-02 03:04:05.678+00')
RETURNING *;
INSERT INTO recipes (title, servings) VALUES ('Generated id', 1)
RETURNING _id IS NOT NULL AS has_id, objectid_timestamp(_id) > now() - interval '1 hour' AS fresh;
SELECT title, servings, kcal, protein, fat, tags, vegan, created FROM recipes ORDER BY title;
SELECT doc - '_id' FROM mongo_docs('mod_recipes') doc ORDER BY doc->>'title';

-- multi-row INSERT ... SELECT (batched)
INSERT INTO recipes (_id, title, servings, protein)
SELECT ('6500000000000000000001' || lpad(to_hex(g), 2, '0'))::objectid, 'Batch ' || g, g, g * 10
FROM generate_series(1, 25) g;
SELECT count(*), sum(servings), sum(protein) FROM recipes WHERE title LIKE 'Batch%';

-- UPDATE: only the assigned fields, nested paths as dotted $set
UPDATE recipes SET servings = servings + 1, protein = 13 WHERE _id = '650000000000000000000001'
RETURNING title, servings, protein, fat;
SELECT doc->'nutrition' AS nutrition, doc->'servings' AS servings
FROM mongo_docs('mod_recipes') doc WHERE doc->'_id'->>'$oid' = '650000000000000000000001';
-- NULL removes the field (null_mode 'unset', the default)
UPDATE recipes SET fat = NULL, tags = NULL WHERE title = 'Porridge';
SELECT doc ? 'tags' AS has_tags, doc->'nutrition' AS nutrition
FROM mongo_docs('mod_recipes') doc WHERE doc->>'title' = 'Porridge';
-- ... or stores BSON null with null_mode 'null'
ALTER FOREIGN TABLE recipes ALTER COLUMN tags OPTIONS (ADD null_mode 'null');
UPDATE recipes SET tags = NULL WHERE title = 'Porridge';
SELECT doc->'tags' AS tags FROM mongo_docs('mod_recipes') doc WHERE doc->>'title' = 'Porridge';
-- an UPDATE that matches nothing
UPDATE recipes SET servings = 0 WHERE title = 'No such recipe';
-- many documents at once
UPDATE recipes SET servings = servings * 10 WHERE title LIKE 'Batch%' AND servings > 20;
SELECT title, servings FROM recipes WHERE title LIKE 'Batch%' AND servings > 20 ORDER BY 1;

-- DELETE with RETURNING
WITH d AS (DELETE FROM recipes WHERE title LIKE 'Batch 1%' RETURNING title)
SELECT title FROM d ORDER BY title;
SELECT count(*) FROM recipes WHERE title LIKE 'Batch%';
SELECT count(*) FROM mongo_docs('mod_recipes') doc WHERE doc->>'title' LIKE 'Batch%';

-- duplicate _id: unique_violation at the statement, or skipped
INSERT INTO recipes (_id, title) VALUES ('650000000000000000000001', 'Again');
INSERT INTO recipes (_id, title) VALUES ('650000000000000000000001', 'Again')
ON CONFLICT DO NOTHING RETURNING *;
INSERT INTO recipes (_id, title) VALUES ('650000000000000000000077', 'Twice'),
                                        ('650000000000000000000077', 'Twice');
INSERT INTO recipes (_id, title) VALUES ('650000000000000000000078', 'Once'),
                                        ('650000000000000000000078', 'Once')
ON CONFLICT DO NOTHING;
-- a conflicting row before a new one
INSERT INTO recipes (_id, title) VALUES ('650000000000000000000001', 'Skipped'),
                                        ('650000000000000000000079', 'Kept')
ON CONFLICT DO NOTHING;
SELECT title FROM recipes WHERE _id IN ('650000000000000000000077', '650000000000000000000078',
                                        '650000000000000000000079') ORDER BY title;
INSERT INTO recipes (_id, title) VALUES ('650000000000000000000001', 'x') ON CONFLICT (_id) DO UPDATE SET title = 'y';
-- _id cannot change
UPDATE recipes SET _id = '650000000000000000000099' WHERE title = 'Porridge';
UPDATE recipes SET _id = _id WHERE title = 'Porridge';

-- COPY into a foreign table
COPY recipes (_id, title, servings) FROM STDIN;
650000000000000000000201	Copied one	1
650000000000000000000202	Copied two	2
\.
SELECT _id, title, servings FROM recipes WHERE title LIKE 'Copied%' ORDER BY _id;
-- COPY queues its rows batch_size at a time (PostgreSQL 15 does not batch
-- COPY into foreign tables); with batch_size 3, 10 rows are 4 batches
ALTER FOREIGN TABLE recipes OPTIONS (ADD batch_size '3');
COPY recipes (_id, title, servings) FROM STDIN;
650000000000000000000211	Copy batch	1
650000000000000000000212	Copy batch	2
650000000000000000000213	Copy batch	3
650000000000000000000214	Copy batch	4
650000000000000000000215	Copy batch	5
650000000000000000000216	Copy batch	6
650000000000000000000217	Copy batch	7
650000000000000000000218	Copy batch	8
650000000000000000000219	Copy batch	9
650000000000000000000220	Copy batch	10
\.
SELECT count(*), sum(servings) FROM recipes WHERE title = 'Copy batch';
SELECT count(*), sum((doc->>'servings')::int) FROM mongo_docs('mod_recipes') doc
WHERE doc->>'title' = 'Copy batch';
-- a duplicate _id in a later batch (an existing document, then one repeated
-- within the COPY): unique_violation, and none of the rows, not even those
-- of the batches already queued (without CONTEXT: the line is named on
-- PostgreSQL 15 only; test copy_context checks it)
\set SHOW_CONTEXT never
COPY recipes (_id, title, servings) FROM STDIN;
650000000000000000000221	Copy fails	1
650000000000000000000222	Copy fails	2
650000000000000000000223	Copy fails	3
650000000000000000000224	Copy fails	4
650000000000000000000001	Copy fails	5
650000000000000000000226	Copy fails	6
\.
COPY recipes (_id, title, servings) FROM STDIN;
650000000000000000000231	Copy fails	1
650000000000000000000232	Copy fails	2
650000000000000000000233	Copy fails	3
650000000000000000000234	Copy fails	4
650000000000000000000232	Copy fails	5
\.
-- (the last batch is queued at the end of the COPY)
COPY recipes (_id, title, servings) FROM STDIN;
650000000000000000000241	Copy fails	1
650000000000000000000242	Copy fails	2
650000000000000000000241	Copy fails	3
\.
\set SHOW_CONTEXT errors
SELECT count(*) FROM recipes WHERE title = 'Copy fails';
SELECT count(*) FROM mongo_docs('mod_recipes') doc WHERE doc->>'title' = 'Copy fails';
SELECT count(*) FROM nutragenie_fdw.outbox;
-- AFTER STATEMENT triggers run before a COPY's last batch would be queued:
-- with one, rows are queued one by one and the trigger sees them all
CREATE FUNCTION count_copied() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE NOTICE 'trigger sees % rows', (SELECT count(*) FROM recipes WHERE title = 'Copy trigger');
  RETURN NULL;
END $$;
CREATE TRIGGER count_copied AFTER INSERT ON recipes
  FOR EACH STATEMENT EXECUTE FUNCTION count_copied();
COPY recipes (_id, title, servings) FROM STDIN;
650000000000000000000251	Copy trigger	1
650000000000000000000252	Copy trigger	2
650000000000000000000253	Copy trigger	3
650000000000000000000254	Copy trigger	4
\.
DROP TRIGGER count_copied ON recipes;
ALTER FOREIGN TABLE recipes OPTIONS (DROP batch_size);

-- the whole document through a $$ROOT column: insert, replace on update
CREATE FOREIGN TABLE raw (_id int, doc jsonb OPTIONS (field '$$ROOT'))
  SERVER mod_srv OPTIONS (collection 'mod_raw');
INSERT INTO raw (doc) VALUES ('{"_id": 1, "a": {"b": [1, 2]}, "when": {"$date": "2026-05-01T00:00:00Z"}, "oid": {"$oid": "650000000000000000000001"}, "big": {"$numberLong": "9007199254740993"}}');
INSERT INTO raw VALUES (2, '{"name": "two"}');
SELECT _id, doc FROM raw ORDER BY _id;
UPDATE raw SET doc = '{"replaced": true}' WHERE _id = 1;
SELECT _id, doc FROM raw ORDER BY _id;
SELECT doc FROM mongo_docs('mod_raw') doc;
INSERT INTO raw (doc) VALUES ('[1, 2]');
INSERT INTO raw (doc) VALUES (NULL);

-- a document over MongoDB's 16 MB limit is refused at the statement
INSERT INTO raw VALUES (3, jsonb_build_object('big', repeat('x', 17000000)));
SELECT count(*) FROM raw WHERE _id = 3;

-- no _id column: cannot UPDATE or DELETE
CREATE FOREIGN TABLE no_id (title text) SERVER mod_srv OPTIONS (collection 'mod_recipes');
UPDATE no_id SET title = 'x';
-- an _id column of a type without generated values needs a value
CREATE FOREIGN TABLE int_id (_id int, title text) SERVER mod_srv OPTIONS (collection 'mod_int');
INSERT INTO int_id (title) VALUES ('no id');

-- nothing waits in the queue after commit
SELECT pending, dead_letters FROM nutragenie_fdw.write_queue_status();

EXPLAIN (COSTS OFF) UPDATE recipes SET servings = 1 WHERE _id = '650000000000000000000001';

SELECT nutragenie_fdw.run_command('mod_srv', '{"drop": "mod_recipes"}')->>'ok';
SELECT nutragenie_fdw.run_command('mod_srv', '{"drop": "mod_raw"}')->>'ok';
DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('mod_srv', '{"drop": "mod_int"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;
SET client_min_messages = warning;
DROP SCHEMA modify CASCADE;
DROP SERVER mod_srv CASCADE;
