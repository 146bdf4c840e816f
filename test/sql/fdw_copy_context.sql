-- The error context of a row that fails in a COPY into a foreign table.
-- PostgreSQL 15 does not batch COPY into foreign tables: nutragenie queues
-- the rows batch_size at a time itself and names the failing row's line
-- (expected/copy_context.out).  From 16 on COPY hands the FDW whole batches
-- and deliberately names only the table for an error inside one
-- (expected/copy_context_1.out, the only difference).
\set VERBOSITY default
CREATE SCHEMA copy_context;
SET search_path = copy_context, public;
\getenv mongo_uri MONGODB_URI
CREATE SERVER cc_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri :'mongo_uri', database 'ng_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER cc_srv;
DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('cc_srv', '{"drop": "cc_docs"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;
CREATE FOREIGN TABLE docs (_id int, name text)
  SERVER cc_srv OPTIONS (collection 'cc_docs', batch_size '3');
INSERT INTO docs VALUES (1, 'one');
-- an existing document in the second batch
COPY docs FROM STDIN;
11	eleven
12	twelve
13	thirteen
1	again
15	fifteen
\.
-- a repeat within the last batch, queued at the end of the COPY
COPY docs FROM STDIN;
21	twenty-one
22	twenty-two
21	again
\.
SELECT _id, name FROM docs ORDER BY _id;

SELECT (nutragenie_fdw.run_command('cc_srv', '{"drop": "cc_docs"}')->>'ok')::float8 = 1 AS dropped;
SET client_min_messages = warning;
DROP SCHEMA copy_context CASCADE;
DROP SERVER cc_srv CASCADE;
RESET client_min_messages;
