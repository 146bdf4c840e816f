-- Writes: the transactional outbox (docs/dual-write.md).  The queue's state
-- and the functions that manage it live in the fixed schema nutragenie_fdw
-- (the C code names nutragenie_fdw.outbox), whatever schema the extension
-- is installed into; only the extension's owner may create in it.

CREATE SCHEMA nutragenie_fdw;
COMMENT ON SCHEMA nutragenie_fdw IS 'write queue and administration of the nutragenie_fdw foreign data wrapper';
-- as for postgres_fdw's functions in public: what each object grants decides
-- (README, "Security"); the queue's tables and views grant nothing
GRANT USAGE ON SCHEMA nutragenie_fdw TO PUBLIC;

CREATE TABLE nutragenie_fdw.outbox (
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
-- The statement-time check for queued operations on the documents a
-- statement writes (ng_outbox_check_queued) asks
--   serverid = $1 AND database = $2 AND collection = $3 AND doc_id = ANY ($4)
-- doc_id leads: alone it nearly identifies a row, so the ANY is an index
-- condition, not a filter over every queued row of the collection.  The
-- applier reads and deletes by seq (the primary key).
CREATE INDEX outbox_document_idx ON nutragenie_fdw.outbox (doc_id, collection, database, serverid);

COMMENT ON TABLE nutragenie_fdw.outbox IS 'MongoDB operations of committed (or running) transactions, applied in order by the nutragenie applier';

CREATE TABLE nutragenie_fdw.dead_letters (
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

COMMENT ON TABLE nutragenie_fdw.dead_letters IS 'MongoDB operations that MongoDB rejected, or that matched no document, after their transaction committed';

REVOKE ALL ON nutragenie_fdw.outbox, nutragenie_fdw.dead_letters FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('nutragenie_fdw.outbox', '');
SELECT pg_catalog.pg_extension_config_dump('nutragenie_fdw.outbox_seq_seq', '');
SELECT pg_catalog.pg_extension_config_dump('nutragenie_fdw.dead_letters', '');
SELECT pg_catalog.pg_extension_config_dump('nutragenie_fdw.dead_letters_id_seq', '');

CREATE FUNCTION nutragenie_fdw.bson_to_jsonb(bytea)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'ng_bson_to_jsonb'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION nutragenie_fdw.bson_to_jsonb(bytea) IS 'a BSON document as relaxed Extended JSON';

CREATE FUNCTION nutragenie_fdw.applier_wake()
RETURNS boolean
AS 'MODULE_PATHNAME', 'ng_applier_wake'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION nutragenie_fdw.applier_wake() IS 'wake this database''s applier now (for example when MongoDB is back); false if none is running';

CREATE VIEW nutragenie_fdw.write_queue AS
SELECT o.seq, o.xid, s.srvname AS server, o.database, o.collection,
       CASE o.op WHEN 'i' THEN 'insert' WHEN 'u' THEN 'update' ELSE 'delete' END AS operation,
       nutragenie_fdw.bson_to_jsonb(o.doc_id) -> '_id' AS _id,
       nutragenie_fdw.bson_to_jsonb(o.body) AS body,
       o.created_at, o.attempts, o.last_error, o.last_attempt
FROM nutragenie_fdw.outbox o LEFT JOIN pg_catalog.pg_foreign_server s ON s.oid = o.serverid;

COMMENT ON VIEW nutragenie_fdw.write_queue IS 'MongoDB operations waiting to be applied, oldest first';

CREATE VIEW nutragenie_fdw.dead_letter_queue AS
SELECT d.id, d.seq, d.xid, s.srvname AS server, d.database, d.collection,
       CASE d.op WHEN 'i' THEN 'insert' WHEN 'u' THEN 'update' ELSE 'delete' END AS operation,
       nutragenie_fdw.bson_to_jsonb(d.doc_id) -> '_id' AS _id,
       nutragenie_fdw.bson_to_jsonb(d.body) AS body,
       d.created_at, d.failed_at, d.attempts, d.error, d.error_code
FROM nutragenie_fdw.dead_letters d LEFT JOIN pg_catalog.pg_foreign_server s ON s.oid = d.serverid;

COMMENT ON VIEW nutragenie_fdw.dead_letter_queue IS 'MongoDB operations MongoDB rejected, or that matched no document, after commit, with the reason';

REVOKE ALL ON nutragenie_fdw.write_queue, nutragenie_fdw.dead_letter_queue FROM PUBLIC;

CREATE FUNCTION nutragenie_fdw.write_queue_status(
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

COMMENT ON FUNCTION nutragenie_fdw.write_queue_status() IS 'backlog of MongoDB operations: pending count, age of the oldest, last error, dead letters';

CREATE FUNCTION nutragenie_fdw.retry_dead_letter(id bigint)
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

COMMENT ON FUNCTION nutragenie_fdw.retry_dead_letter(bigint) IS 'queue a dead-lettered operation again, after the operations already queued; returns its new sequence number';

CREATE FUNCTION nutragenie_fdw.discard_dead_letter(id bigint)
RETURNS boolean
LANGUAGE sql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, nutragenie_fdw, pg_temp
AS $$
    WITH gone AS (DELETE FROM nutragenie_fdw.dead_letters d WHERE d.id = $1 RETURNING 1)
    SELECT count(*) > 0 FROM gone
$$;

COMMENT ON FUNCTION nutragenie_fdw.discard_dead_letter(bigint) IS 'forget a dead-lettered operation; returns whether it existed';

REVOKE EXECUTE ON FUNCTION nutragenie_fdw.retry_dead_letter(bigint), nutragenie_fdw.discard_dead_letter(bigint),
    nutragenie_fdw.applier_wake() FROM PUBLIC;
