/* nutragenie--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION nutragenie" to load this file. \quit

-- objectid: a 12-byte MongoDB ObjectId (src/objectid.c)

CREATE TYPE objectid;

CREATE FUNCTION objectid_in(cstring) RETURNS objectid
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION objectid_out(objectid) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION objectid_recv(internal) RETURNS objectid
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION objectid_send(objectid) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE objectid (
	INPUT = objectid_in,
	OUTPUT = objectid_out,
	RECEIVE = objectid_recv,
	SEND = objectid_send,
	INTERNALLENGTH = 12,
	ALIGNMENT = char,
	STORAGE = plain
);

COMMENT ON TYPE objectid IS 'MongoDB ObjectId (12 bytes, written as 24 hexadecimal digits)';
COMMENT ON FUNCTION objectid_in(cstring) IS 'I/O';
COMMENT ON FUNCTION objectid_out(objectid) IS 'I/O';
COMMENT ON FUNCTION objectid_recv(internal) IS 'I/O';
COMMENT ON FUNCTION objectid_send(objectid) IS 'I/O';

-- comparison: memcmp order, which is MongoDB's ObjectId order

CREATE FUNCTION objectid_eq(objectid, objectid) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION objectid_ne(objectid, objectid) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION objectid_lt(objectid, objectid) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION objectid_le(objectid, objectid) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION objectid_gt(objectid, objectid) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION objectid_ge(objectid, objectid) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION objectid_cmp(objectid, objectid) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION objectid_sortsupport(internal) RETURNS void
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION objectid_hash(objectid) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION objectid_hash_extended(objectid, bigint) RETURNS bigint
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

COMMENT ON FUNCTION objectid_eq(objectid, objectid) IS 'implementation of = operator';
COMMENT ON FUNCTION objectid_ne(objectid, objectid) IS 'implementation of <> operator';
COMMENT ON FUNCTION objectid_lt(objectid, objectid) IS 'implementation of < operator';
COMMENT ON FUNCTION objectid_le(objectid, objectid) IS 'implementation of <= operator';
COMMENT ON FUNCTION objectid_gt(objectid, objectid) IS 'implementation of > operator';
COMMENT ON FUNCTION objectid_ge(objectid, objectid) IS 'implementation of >= operator';
COMMENT ON FUNCTION objectid_cmp(objectid, objectid) IS 'less-equal-greater';
COMMENT ON FUNCTION objectid_sortsupport(internal) IS 'sort support';
COMMENT ON FUNCTION objectid_hash(objectid) IS 'hash';
COMMENT ON FUNCTION objectid_hash_extended(objectid, bigint) IS 'hash';

CREATE OPERATOR = (
	LEFTARG = objectid, RIGHTARG = objectid, FUNCTION = objectid_eq,
	COMMUTATOR = =, NEGATOR = <>,
	RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES
);

CREATE OPERATOR <> (
	LEFTARG = objectid, RIGHTARG = objectid, FUNCTION = objectid_ne,
	COMMUTATOR = <>, NEGATOR = =,
	RESTRICT = neqsel, JOIN = neqjoinsel
);

CREATE OPERATOR < (
	LEFTARG = objectid, RIGHTARG = objectid, FUNCTION = objectid_lt,
	COMMUTATOR = >, NEGATOR = >=,
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);

CREATE OPERATOR <= (
	LEFTARG = objectid, RIGHTARG = objectid, FUNCTION = objectid_le,
	COMMUTATOR = >=, NEGATOR = >,
	RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);

CREATE OPERATOR > (
	LEFTARG = objectid, RIGHTARG = objectid, FUNCTION = objectid_gt,
	COMMUTATOR = <, NEGATOR = <=,
	RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);

CREATE OPERATOR >= (
	LEFTARG = objectid, RIGHTARG = objectid, FUNCTION = objectid_ge,
	COMMUTATOR = <=, NEGATOR = <,
	RESTRICT = scalargesel, JOIN = scalargejoinsel
);

COMMENT ON OPERATOR = (objectid, objectid) IS 'equal';
COMMENT ON OPERATOR <> (objectid, objectid) IS 'not equal';
COMMENT ON OPERATOR < (objectid, objectid) IS 'less than';
COMMENT ON OPERATOR <= (objectid, objectid) IS 'less than or equal';
COMMENT ON OPERATOR > (objectid, objectid) IS 'greater than';
COMMENT ON OPERATOR >= (objectid, objectid) IS 'greater than or equal';

-- btequalimage: equal objectids are bytewise equal, so btree deduplication
-- is safe.
CREATE OPERATOR CLASS objectid_ops
	DEFAULT FOR TYPE objectid USING btree AS
		OPERATOR 1 <,
		OPERATOR 2 <=,
		OPERATOR 3 =,
		OPERATOR 4 >=,
		OPERATOR 5 >,
		FUNCTION 1 objectid_cmp(objectid, objectid),
		FUNCTION 2 objectid_sortsupport(internal),
		FUNCTION 4 btequalimage(oid);

CREATE OPERATOR CLASS objectid_ops
	DEFAULT FOR TYPE objectid USING hash AS
		OPERATOR 1 =,
		FUNCTION 1 objectid_hash(objectid),
		FUNCTION 2 objectid_hash_extended(objectid, bigint);

-- ObjectId functions

CREATE FUNCTION objectid_generate() RETURNS objectid
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE STRICT PARALLEL SAFE;

CREATE FUNCTION objectid_timestamp(objectid) RETURNS timestamptz
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION objectid_from_timestamp(timestamptz) RETURNS objectid
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION objectid_generate() IS 'new ObjectId made from the current time, per-process random bytes and a counter';
COMMENT ON FUNCTION objectid_timestamp(objectid) IS 'creation time stored in an ObjectId, to the second';
COMMENT ON FUNCTION objectid_from_timestamp(timestamptz) IS 'smallest ObjectId of the second containing the given time, for range conditions';

-- casts to and from bytea (the 12 raw bytes); text casts come from I/O

CREATE FUNCTION objectid_to_bytea(objectid) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION objectid_from_bytea(bytea) RETURNS objectid
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION objectid_to_bytea(objectid) IS 'the 12 bytes of an ObjectId';
COMMENT ON FUNCTION objectid_from_bytea(bytea) IS 'ObjectId from exactly 12 bytes';

CREATE CAST (objectid AS bytea) WITH FUNCTION objectid_to_bytea(objectid);
CREATE CAST (bytea AS objectid) WITH FUNCTION objectid_from_bytea(bytea);

CREATE FUNCTION nutragenie_fdw_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION nutragenie_fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

CREATE FOREIGN DATA WRAPPER nutragenie_fdw
  HANDLER nutragenie_fdw_handler
  VALIDATOR nutragenie_fdw_validator;

COMMENT ON FOREIGN DATA WRAPPER nutragenie_fdw IS 'MongoDB foreign data wrapper';
COMMENT ON FUNCTION nutragenie_fdw_handler() IS 'foreign data wrapper handler of nutragenie_fdw';
COMMENT ON FUNCTION nutragenie_fdw_validator(text[], oid) IS 'option validator of nutragenie_fdw';

-- Connections held by this backend

CREATE FUNCTION ng_connections(
    OUT server_name text,
    OUT user_name text,
    OUT valid boolean,
    OUT in_use boolean)
RETURNS SETOF record
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

COMMENT ON FUNCTION ng_connections() IS 'MongoDB connections held by this backend';

CREATE FUNCTION ng_disconnect(server name)
RETURNS boolean
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

COMMENT ON FUNCTION ng_disconnect(name) IS 'close this backend''s idle connections to a server';

CREATE FUNCTION ng_disconnect_all()
RETURNS boolean
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

COMMENT ON FUNCTION ng_disconnect_all() IS 'close all of this backend''s idle MongoDB connections';

-- Running a MongoDB command

CREATE FUNCTION ng_run_command(server name, command json, database text DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME'
LANGUAGE C CALLED ON NULL INPUT VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION ng_run_command(name, json, text) IS 'run one MongoDB command (Extended JSON) through the caller''s user mapping and return the reply';

REVOKE EXECUTE ON FUNCTION ng_run_command(name, json, text) FROM PUBLIC;

-- Writes: the transactional outbox (docs/dual-write.md)

CREATE TABLE outbox (
    seq          bigserial PRIMARY KEY,
    xid          xid8 NOT NULL DEFAULT pg_current_xact_id(),
    serverid     oid NOT NULL,
    userid       oid NOT NULL,
    database     text NOT NULL,
    collection   text NOT NULL,
    op           "char" NOT NULL CHECK (op IN ('i', 'u', 'd')),
    doc_id       bytea NOT NULL,
    body         bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    attempts     int NOT NULL DEFAULT 0,
    last_error   text,
    last_attempt timestamptz
);
CREATE INDEX outbox_document_idx ON outbox (serverid, database, collection, doc_id);

COMMENT ON TABLE outbox IS 'MongoDB operations of committed (or running) transactions, applied in order by the nutragenie applier';

CREATE TABLE dead_letters (
    id           bigserial PRIMARY KEY,
    seq          bigint NOT NULL,
    xid          xid8 NOT NULL,
    serverid     oid NOT NULL,
    userid       oid NOT NULL,
    database     text NOT NULL,
    collection   text NOT NULL,
    op           "char" NOT NULL,
    doc_id       bytea NOT NULL,
    body         bytea,
    created_at   timestamptz NOT NULL,
    attempts     int NOT NULL DEFAULT 0,
    failed_at    timestamptz NOT NULL DEFAULT now(),
    error        text NOT NULL,
    error_code   int
);

COMMENT ON TABLE dead_letters IS 'MongoDB operations that MongoDB rejected after their transaction committed';

REVOKE ALL ON outbox, dead_letters FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('outbox', '');
SELECT pg_catalog.pg_extension_config_dump('outbox_seq_seq', '');
SELECT pg_catalog.pg_extension_config_dump('dead_letters', '');
SELECT pg_catalog.pg_extension_config_dump('dead_letters_id_seq', '');

CREATE FUNCTION ng_bson_to_jsonb(bytea)
RETURNS jsonb
AS 'MODULE_PATHNAME'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION ng_bson_to_jsonb(bytea) IS 'a BSON document as relaxed Extended JSON';

CREATE FUNCTION ng_applier_wake()
RETURNS boolean
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION ng_applier_wake() IS 'wake this database''s applier now (for example when MongoDB is back); false if none is running';

CREATE VIEW write_queue AS
SELECT o.seq, o.xid, s.srvname AS server, o.database, o.collection,
       CASE o.op WHEN 'i' THEN 'insert' WHEN 'u' THEN 'update' ELSE 'delete' END AS operation,
       ng_bson_to_jsonb(o.doc_id) -> '_id' AS _id,
       ng_bson_to_jsonb(o.body) AS body,
       o.created_at, o.attempts, o.last_error, o.last_attempt
FROM outbox o LEFT JOIN pg_catalog.pg_foreign_server s ON s.oid = o.serverid;

COMMENT ON VIEW write_queue IS 'MongoDB operations waiting to be applied, oldest first';

CREATE VIEW dead_letter_queue AS
SELECT d.id, d.seq, d.xid, s.srvname AS server, d.database, d.collection,
       CASE d.op WHEN 'i' THEN 'insert' WHEN 'u' THEN 'update' ELSE 'delete' END AS operation,
       ng_bson_to_jsonb(d.doc_id) -> '_id' AS _id,
       ng_bson_to_jsonb(d.body) AS body,
       d.created_at, d.failed_at, d.attempts, d.error, d.error_code
FROM dead_letters d LEFT JOIN pg_catalog.pg_foreign_server s ON s.oid = d.serverid;

COMMENT ON VIEW dead_letter_queue IS 'MongoDB operations MongoDB rejected after commit, with its error';

REVOKE ALL ON write_queue, dead_letter_queue FROM PUBLIC;

CREATE FUNCTION ng_write_queue_status(
    OUT pending bigint,
    OUT oldest_age interval,
    OUT last_error text,
    OUT dead_letters bigint)
RETURNS record
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$
    SELECT (SELECT count(*) FROM @extschema@.outbox),
           (SELECT now() - min(created_at) FROM @extschema@.outbox),
           (SELECT o.last_error FROM @extschema@.outbox o
            WHERE o.last_error IS NOT NULL ORDER BY o.last_attempt DESC NULLS LAST LIMIT 1),
           (SELECT count(*) FROM @extschema@.dead_letters)
$$;

COMMENT ON FUNCTION ng_write_queue_status() IS 'backlog of MongoDB operations: pending count, age of the oldest, last error, dead letters';

CREATE FUNCTION ng_retry_dead_letter(id bigint)
RETURNS bigint
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
AS $$
DECLARE
    d @extschema@.dead_letters;
    new_seq bigint;
BEGIN
    DELETE FROM @extschema@.dead_letters WHERE dead_letters.id = ng_retry_dead_letter.id
    RETURNING * INTO d;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'dead letter % does not exist', id
            USING ERRCODE = 'no_data_found';
    END IF;
    INSERT INTO @extschema@.outbox (serverid, userid, database, collection, op, doc_id, body, created_at)
    VALUES (d.serverid, d.userid, d.database, d.collection, d.op, d.doc_id, d.body, d.created_at)
    RETURNING seq INTO new_seq;
    PERFORM @extschema@.ng_applier_wake();
    RETURN new_seq;
END
$$;

COMMENT ON FUNCTION ng_retry_dead_letter(bigint) IS 'queue a dead-lettered operation again, after the operations already queued; returns its new sequence number';

CREATE FUNCTION ng_discard_dead_letter(id bigint)
RETURNS boolean
LANGUAGE sql VOLATILE STRICT PARALLEL UNSAFE
AS $$
    WITH gone AS (DELETE FROM @extschema@.dead_letters d WHERE d.id = $1 RETURNING 1)
    SELECT count(*) > 0 FROM gone
$$;

COMMENT ON FUNCTION ng_discard_dead_letter(bigint) IS 'forget a dead-lettered operation; returns whether it existed';

REVOKE EXECUTE ON FUNCTION ng_retry_dead_letter(bigint), ng_discard_dead_letter(bigint), ng_applier_wake() FROM PUBLIC;
