-- Administration: this backend's connections, running a MongoDB command,
-- and the shared document cache.  In the fixed schema nutragenie_fdw, with
-- the write queue (queue.sql).  The C symbols keep the names of 1.x.

-- Connections held by this backend

CREATE FUNCTION nutragenie_fdw.connections(
    OUT server_name text,
    OUT user_name text,
    OUT valid boolean,
    OUT in_use boolean)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'ng_connections'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

COMMENT ON FUNCTION nutragenie_fdw.connections() IS 'MongoDB connections held by this backend';

CREATE FUNCTION nutragenie_fdw.disconnect(server name)
RETURNS boolean
AS 'MODULE_PATHNAME', 'ng_disconnect'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

COMMENT ON FUNCTION nutragenie_fdw.disconnect(name) IS 'close this backend''s idle connections to a server';

CREATE FUNCTION nutragenie_fdw.disconnect_all()
RETURNS boolean
AS 'MODULE_PATHNAME', 'ng_disconnect_all'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

COMMENT ON FUNCTION nutragenie_fdw.disconnect_all() IS 'close all of this backend''s idle MongoDB connections';

-- Running a MongoDB command

CREATE FUNCTION nutragenie_fdw.run_command(server name, command json, database text DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'ng_run_command'
LANGUAGE C CALLED ON NULL INPUT VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION nutragenie_fdw.run_command(name, json, text) IS 'run one MongoDB command (Extended JSON) through the caller''s user mapping and return the reply';

REVOKE EXECUTE ON FUNCTION nutragenie_fdw.run_command(name, json, text) FROM PUBLIC;

-- The shared document cache

CREATE FUNCTION nutragenie_fdw.cached_document(server name, database text, collection text, id jsonb)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'ng_cached_document'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION nutragenie_fdw.cached_document(name, text, text, jsonb) IS 'a MongoDB document by _id (relaxed Extended JSON, e.g. {"$oid": "..."}): the transaction''s own version, else the shared cache while younger than nutragenie.cache_ttl, else read through the server and cached; NULL when there is none';

CREATE FUNCTION nutragenie_fdw.cache_stats(OUT enabled boolean, OUT slots integer, OUT entries bigint,
                                      OUT hits bigint, OUT misses bigint, OUT stores bigint,
                                      OUT invalidations bigint, OUT ttl_ms integer)
RETURNS record
AS 'MODULE_PATHNAME', 'ng_cache_stats'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION nutragenie_fdw.cache_stats() IS 'the shared document cache: whether it is on for this session, slots, cached documents, and hits, misses, stores and invalidations since start or the last nutragenie_fdw.cache_reset()';

CREATE FUNCTION nutragenie_fdw.cache_reset()
RETURNS void
AS 'MODULE_PATHNAME', 'ng_cache_reset'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

COMMENT ON FUNCTION nutragenie_fdw.cache_reset() IS 'empty the shared document cache and zero its counters';

REVOKE EXECUTE ON FUNCTION nutragenie_fdw.cache_reset() FROM PUBLIC;

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
