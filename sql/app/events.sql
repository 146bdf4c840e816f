-- ---------------------------------------------------------------------------
-- Events: a durable, bounded log written in the transaction of the change.
-- ---------------------------------------------------------------------------
-- NOTIFY is lost for a listener that is not connected.  Every event the
-- triggers and services publish (ng_publish) is also a row of event_log,
-- inserted by the same transaction, so it exists exactly when the change
-- committed.  Consumers read it from a cursor with ng_events(after).
--
-- Order.  Ids come from a sequence, so a transaction that started earlier can
-- commit an id lower than one a reader has already passed.  The log's order
-- is therefore (xact, id), where xact is the writing transaction's id, and
-- ng_events returns only rows of transactions older than the oldest one
-- still running (pg_snapshot_xmin): no row can later appear before a row
-- already returned.  A long transaction holds the log back until it ends.
--
-- Bound.  ng_prune_events(keep) deletes the oldest rows in that order beyond
-- the newest "keep" (a prefix of the log, so a reader never skips a row
-- silently); ng_publish runs it every 1000 events with the setting
-- nutragenie_app.event_log_size (default 100000).  A cursor that was pruned
-- is an error, so the consumer knows to resynchronise.

CREATE TABLE event_log (
    id      bigserial PRIMARY KEY,
    xact    xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id(),
    at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    event   text NOT NULL,
    payload jsonb NOT NULL,
    user_id bigint
);
CREATE INDEX event_log_order_idx ON @extschema@.event_log (xact, id);
COMMENT ON COLUMN @extschema@.event_log.user_id IS 'the user the event is about (payload userId, else the user the request acted for); per-user isolation shows a user only his events';
COMMENT ON TABLE @extschema@.event_log IS 'the domain''s events, written in the transaction of the change; read them with ng_events(after)';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.event_log', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.event_log_id_seq', '');

CREATE FUNCTION ng_prune_events(keep bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    n bigint;
    cut_xact xid8;
    cut_id bigint;
BEGIN
    keep := coalesce(keep, nullif(current_setting('nutragenie_app.event_log_size', true), '')::bigint, 100000);
    IF keep < 0 THEN
        RAISE EXCEPTION 'keep must not be negative' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- one pruner at a time; the others skip
    IF NOT pg_try_advisory_xact_lock(hashtext('nutragenie.event_log'), 0) THEN
        RETURN 0;
    END IF;
    SELECT e.xact, e.id INTO cut_xact, cut_id
    FROM @extschema@.event_log e
    WHERE e.xact < pg_snapshot_xmin(pg_current_snapshot())
    ORDER BY e.xact DESC, e.id DESC OFFSET keep LIMIT 1;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    DELETE FROM @extschema@.event_log e WHERE (e.xact, e.id) <= (cut_xact, cut_id);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_prune_events(bigint) IS 'delete the oldest events beyond the newest keep (default: setting nutragenie_app.event_log_size, else 100000); returns how many';
REVOKE EXECUTE ON FUNCTION @extschema@.ng_prune_events(bigint) FROM PUBLIC;

CREATE FUNCTION ng_events(after bigint DEFAULT 0, max_events int DEFAULT 100)
RETURNS TABLE (id bigint, at timestamptz, event text, payload jsonb)
LANGUAGE plpgsql STABLE STRICT PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    after_xact xid8 := '0';
BEGIN
    IF max_events NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION 'max_events must be between 1 and 10000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF after <> 0 THEN
        SELECT e.xact INTO after_xact FROM @extschema@.event_log e WHERE e.id = after;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'event % is not in the event log', after
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'It was pruned (the log keeps the newest nutragenie_app.event_log_size events) or never existed: read from 0 and resynchronise.';
        END IF;
    END IF;
    RETURN QUERY
    SELECT e.id, e.at, e.event, e.payload
    FROM @extschema@.event_log e
    WHERE (e.xact, e.id) > (after_xact, after)
      AND e.xact < pg_snapshot_xmin(pg_current_snapshot())
    ORDER BY e.xact, e.id
    LIMIT max_events;
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_events(bigint, int) IS 'the events after the one with id "after" (0: from the start), in log order, at most max_events; only events of finished transactions, so none can later appear before one returned';
