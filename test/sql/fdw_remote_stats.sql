-- nutragenie_fdw.remote_stats: what each foreign table sends to MongoDB and
-- what it costs, counted exactly per command and mode (times only as
-- "more than zero"), the applier's writes once COMMIT returns, fallbacks
-- when a guard trips, nothing while nutragenie.track_remote_stats is off;
-- who may read which rows and who may reset.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE SCHEMA fdw_remote_stats;
SET search_path = fdw_remote_stats, public;
\getenv mongo_uri MONGODB_URI
CREATE SERVER rs_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri :'mongo_uri', database 'ng_regress');
CREATE USER MAPPING FOR PUBLIC SERVER rs_srv;
DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('rs_srv', '{"drop": "rs_items"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;
DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('rs_srv', '{"drop": "rs_mixed"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;
SELECT nutragenie_fdw.run_command('rs_srv', json_build_object('insert', 'rs_items', 'documents',
  (SELECT json_agg(json_build_object('_id', i, 'n', i, 's', 'item ' || i) ORDER BY i)
   FROM generate_series(1, 10) i))) ->> 'n' AS inserted;
-- "k" holds strings and ObjectIds: ORDER BY k must sort locally
SELECT nutragenie_fdw.run_command('rs_srv', $$
{"insert": "rs_mixed", "documents": [
  {"_id": 1, "k": "b"}, {"_id": 2, "k": {"$oid": "650000000000000000000001"}},
  {"_id": 3, "k": "a"}, {"_id": 4}
]}$$)->>'n' AS inserted;

CREATE FOREIGN TABLE items (id int OPTIONS (field '_id'), n int, s text)
  SERVER rs_srv OPTIONS (collection 'rs_items', batch_size '4');
CREATE FOREIGN TABLE mixed (id int OPTIONS (field '_id'), k text COLLATE "C")
  SERVER rs_srv OPTIONS (collection 'rs_mixed');
CREATE TABLE keys (k int);
INSERT INTO keys SELECT g FROM generate_series(1, 6) g UNION ALL SELECT 99;
ANALYZE keys;

-- this test's rows
CREATE VIEW stats AS
SELECT foreign_table, collection, command, mode, calls, documents,
       bytes_received > 0 AS received, bytes_sent > 0 AS sent,
       wait_time > 0 AS waited, convert_time > 0 AS converted, fallbacks, errors
FROM nutragenie_fdw.remote_stats
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND collection LIKE 'ng\_regress.rs\_%'
ORDER BY collection, command, mode, foreign_table;
GRANT USAGE ON SCHEMA fdw_remote_stats TO PUBLIC;
GRANT SELECT ON stats TO PUBLIC;

SELECT nutragenie_fdw.remote_stats_reset();
SELECT * FROM stats;

-- a pushed find: one call, the 7 documents that match
SELECT sum(n), count(*) FROM (SELECT n FROM items WHERE n <= 7 OFFSET 0) s;
-- a pushed aggregate: one call, one result document
SELECT count(*) FROM items;
-- the batched key join: 7 outer rows, 4 per find, 6 documents found
EXPLAIN (COSTS OFF) SELECT k.k, i.s FROM keys k JOIN items i ON i.id = k.k;
SELECT k.k, i.s FROM keys k JOIN items i ON i.id = k.k ORDER BY 1;
-- a guard trips: two one-document finds check it, then the find without
-- its sort and limit (every document) is the fallback
SELECT id, k FROM mixed ORDER BY k NULLS FIRST LIMIT 2;
SELECT * FROM stats;

-- writes: each COMMIT waits for the applier, which counts its bulk writes
-- under the collection (the queue does not know the foreign table); the
-- UPDATE and DELETE read the document first and re-read it under its lock
SELECT nutragenie_fdw.remote_stats_reset();
INSERT INTO items VALUES (11, 11, 'item 11');
UPDATE items SET n = 0 WHERE id = 11;
DELETE FROM items WHERE id = 11;
SELECT * FROM stats;

-- off: nothing is counted
SELECT nutragenie_fdw.remote_stats_reset();
SET nutragenie.track_remote_stats = off;
SELECT count(*) FROM (SELECT n FROM items OFFSET 0) s;
RESET nutragenie.track_remote_stats;
SELECT * FROM stats;
SELECT count(*) FROM (SELECT n FROM items OFFSET 0) s;
SELECT foreign_table, command, mode, calls, documents FROM stats;
-- counts without the per-document clock readings: nothing waited or
-- converted is added
SELECT nutragenie_fdw.remote_stats_reset();
SET nutragenie.track_remote_timing = off;
SELECT count(*) FROM (SELECT n FROM items OFFSET 0) s;
RESET nutragenie.track_remote_timing;
SELECT foreign_table, command, mode, calls, documents, received, waited, converted FROM stats;
SELECT max_entries, entries >= 1 AS has_entries, evicted FROM nutragenie_fdw.remote_stats_info();

-- privileges: the view is readable by all, but a role sees only the rows
-- of its own commands and of the foreign tables it may SELECT from
SELECT count(*) FROM (SELECT k FROM mixed OFFSET 0) s;
CREATE ROLE rs_role;
SET ROLE rs_role;
SELECT nutragenie_fdw.remote_stats_reset();
SELECT count(*) AS rows_seen FROM stats;
RESET ROLE;
GRANT SELECT ON mixed TO rs_role;
SET ROLE rs_role;
SELECT foreign_table, command, mode, calls FROM stats;
RESET ROLE;
GRANT pg_read_all_stats TO rs_role;
SET ROLE rs_role;
SELECT foreign_table, command, mode, calls FROM stats;
RESET ROLE;
-- the reset can be granted
GRANT EXECUTE ON FUNCTION nutragenie_fdw.remote_stats_reset() TO rs_role;
SET ROLE rs_role;
SELECT nutragenie_fdw.remote_stats_reset();
SELECT count(*) AS rows_after_reset FROM stats;
RESET ROLE;

REVOKE EXECUTE ON FUNCTION nutragenie_fdw.remote_stats_reset() FROM rs_role;
DROP SCHEMA fdw_remote_stats CASCADE;
DROP SERVER rs_srv CASCADE;
DROP ROLE rs_role;
