/* nutragenie_fdw--1.2--2.0.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION nutragenie_fdw UPDATE TO '2.0'" to load this file. \quit

-- 2.0: the write queue and the administration functions move to the fixed
-- schema nutragenie_fdw, the administration functions named without the
-- app's ng_ prefix (their C symbols stay).  Objects keep their OIDs; the
-- queue's rows and dead letters stay.  The type objectid, its operators and
-- the wrapper stay in the extension's schema.

CREATE SCHEMA nutragenie_fdw;
COMMENT ON SCHEMA nutragenie_fdw IS 'write queue and administration of the nutragenie_fdw foreign data wrapper';
GRANT USAGE ON SCHEMA nutragenie_fdw TO PUBLIC;

-- the queue (with its sequences and indexes) and its views
ALTER TABLE @extschema@.outbox SET SCHEMA nutragenie_fdw;
ALTER TABLE @extschema@.dead_letters SET SCHEMA nutragenie_fdw;
ALTER VIEW @extschema@.write_queue SET SCHEMA nutragenie_fdw;
ALTER VIEW @extschema@.dead_letter_queue SET SCHEMA nutragenie_fdw;

-- the administration functions
ALTER FUNCTION @extschema@.ng_connections() RENAME TO connections;
ALTER FUNCTION @extschema@.connections() SET SCHEMA nutragenie_fdw;
ALTER FUNCTION @extschema@.ng_disconnect(name) RENAME TO disconnect;
ALTER FUNCTION @extschema@.disconnect(name) SET SCHEMA nutragenie_fdw;
ALTER FUNCTION @extschema@.ng_disconnect_all() RENAME TO disconnect_all;
ALTER FUNCTION @extschema@.disconnect_all() SET SCHEMA nutragenie_fdw;
ALTER FUNCTION @extschema@.ng_run_command(name, json, text) RENAME TO run_command;
ALTER FUNCTION @extschema@.run_command(name, json, text) SET SCHEMA nutragenie_fdw;
ALTER FUNCTION @extschema@.ng_bson_to_jsonb(bytea) RENAME TO bson_to_jsonb;
ALTER FUNCTION @extschema@.bson_to_jsonb(bytea) SET SCHEMA nutragenie_fdw;
ALTER FUNCTION @extschema@.ng_applier_wake() RENAME TO applier_wake;
ALTER FUNCTION @extschema@.applier_wake() SET SCHEMA nutragenie_fdw;
ALTER FUNCTION @extschema@.ng_write_queue_status() RENAME TO write_queue_status;
ALTER FUNCTION @extschema@.write_queue_status() SET SCHEMA nutragenie_fdw;
ALTER FUNCTION @extschema@.ng_retry_dead_letter(bigint) RENAME TO retry_dead_letter;
ALTER FUNCTION @extschema@.retry_dead_letter(bigint) SET SCHEMA nutragenie_fdw;
ALTER FUNCTION @extschema@.ng_discard_dead_letter(bigint) RENAME TO discard_dead_letter;
ALTER FUNCTION @extschema@.discard_dead_letter(bigint) SET SCHEMA nutragenie_fdw;
ALTER FUNCTION @extschema@.ng_cached_document(name, text, text, jsonb) RENAME TO cached_document;
ALTER FUNCTION @extschema@.cached_document(name, text, text, jsonb) SET SCHEMA nutragenie_fdw;
ALTER FUNCTION @extschema@.ng_cache_stats() RENAME TO cache_stats;
ALTER FUNCTION @extschema@.cache_stats() SET SCHEMA nutragenie_fdw;
ALTER FUNCTION @extschema@.ng_cache_reset() RENAME TO cache_reset;
ALTER FUNCTION @extschema@.cache_reset() SET SCHEMA nutragenie_fdw;

-- their bodies and comments name the new places

CREATE OR REPLACE FUNCTION nutragenie_fdw.write_queue_status(
    OUT pending bigint,
    OUT oldest_age interval,
    OUT last_error text,
    OUT dead_letters bigint)
RETURNS record
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, nutragenie_fdw, pg_temp
AS $$
    SELECT (SELECT count(*) FROM nutragenie_fdw.outbox),
           (SELECT now() - min(created_at) FROM nutragenie_fdw.outbox),
           (SELECT o.last_error FROM nutragenie_fdw.outbox o
            WHERE o.last_error IS NOT NULL ORDER BY o.last_attempt DESC NULLS LAST LIMIT 1),
           (SELECT count(*) FROM nutragenie_fdw.dead_letters)
$$;

CREATE OR REPLACE FUNCTION nutragenie_fdw.retry_dead_letter(id bigint)
RETURNS bigint
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, nutragenie_fdw, pg_temp
AS $$
DECLARE
    d nutragenie_fdw.dead_letters;
    new_seq bigint;
BEGIN
    DELETE FROM nutragenie_fdw.dead_letters WHERE dead_letters.id = retry_dead_letter.id
    RETURNING * INTO d;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'dead letter % does not exist', id
            USING ERRCODE = 'no_data_found';
    END IF;
    INSERT INTO nutragenie_fdw.outbox (serverid, userid, database, collection, op, doc_id, body, created_at)
    VALUES (d.serverid, d.userid, d.database, d.collection, d.op, d.doc_id, d.body, d.created_at)
    RETURNING seq INTO new_seq;
    PERFORM nutragenie_fdw.applier_wake();
    RETURN new_seq;
END
$$;

CREATE OR REPLACE FUNCTION nutragenie_fdw.discard_dead_letter(id bigint)
RETURNS boolean
LANGUAGE sql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, nutragenie_fdw, pg_temp
AS $$
    WITH gone AS (DELETE FROM nutragenie_fdw.dead_letters d WHERE d.id = $1 RETURNING 1)
    SELECT count(*) > 0 FROM gone
$$;

COMMENT ON FUNCTION nutragenie_fdw.cache_stats() IS 'the shared document cache: whether it is on for this session, slots, cached documents, and hits, misses, stores and invalidations since start or the last nutragenie_fdw.cache_reset()';

-- 2.0: remote statistics (new)

-- Remote statistics: what each foreign table sends to MongoDB and what it
-- costs (src/stats/).  Readable by everyone, each role seeing the rows of
-- its own commands and of the foreign tables it may SELECT from (members of
-- pg_read_all_stats see all); the reset is for superusers and whom they
-- grant it to.

CREATE FUNCTION nutragenie_fdw.remote_stats_rows()
RETURNS TABLE (dbid oid, userid oid, relid oid, collection text, command text, mode text,
               calls bigint, documents bigint, bytes_received bigint, bytes_sent bigint,
               wait_time double precision, convert_time double precision,
               fallbacks bigint, errors bigint)
AS 'MODULE_PATHNAME', 'nutragenie_fdw_remote_stats'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION nutragenie_fdw.remote_stats_rows() IS 'the rows of nutragenie_fdw.remote_stats the current role may see';

CREATE VIEW nutragenie_fdw.remote_stats AS
SELECT s.dbid, s.userid, s.relid::pg_catalog.regclass AS foreign_table, s.collection,
       s.command, s.mode, s.calls, s.documents, s.bytes_received, s.bytes_sent,
       s.wait_time, s.convert_time, s.fallbacks, s.errors
FROM nutragenie_fdw.remote_stats_rows() s;

COMMENT ON VIEW nutragenie_fdw.remote_stats IS 'per database, role, foreign table (or collection, for the applier''s writes), command and mode: calls, documents, bytes received and sent, milliseconds waiting on MongoDB and converting documents, fallbacks and errors since the last nutragenie_fdw.remote_stats_reset()';

GRANT SELECT ON nutragenie_fdw.remote_stats TO PUBLIC;

CREATE FUNCTION nutragenie_fdw.remote_stats_reset()
RETURNS void
AS 'MODULE_PATHNAME', 'nutragenie_fdw_remote_stats_reset'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

COMMENT ON FUNCTION nutragenie_fdw.remote_stats_reset() IS 'empty nutragenie_fdw.remote_stats (every database)';

REVOKE EXECUTE ON FUNCTION nutragenie_fdw.remote_stats_reset() FROM PUBLIC;

CREATE FUNCTION nutragenie_fdw.remote_stats_info(OUT max_entries integer, OUT entries bigint,
                                            OUT evicted bigint, OUT stats_reset timestamptz)
RETURNS record
AS 'MODULE_PATHNAME', 'nutragenie_fdw_remote_stats_info'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION nutragenie_fdw.remote_stats_info() IS 'nutragenie_fdw.remote_stats'' table: its capacity (nutragenie.stats_max), entries, entries evicted to make room and the time of the last reset';
