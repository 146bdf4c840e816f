/* nutragenie_fdw--1.2.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION nutragenie_fdw VERSION '1.2' SCHEMA nutragenie" to load this file. \quit

-- Version 1.2 of nutragenie_fdw creates nothing: it takes over the foreign
-- data wrapper that extension nutragenie 1.2 holds (README, "Upgrading"),
-- the first of three steps from one extension to two:
--   CREATE EXTENSION nutragenie_fdw VERSION '1.2' SCHEMA nutragenie;
--   ALTER EXTENSION nutragenie_fdw UPDATE;   -- 1.2 -> 2.0: the queue and
--                                            -- admin functions move to
--                                            -- schema nutragenie_fdw
--   ALTER EXTENSION nutragenie UPDATE;       -- 1.2 -> 2.0: the app alone
-- Every object keeps its OID: foreign tables' objectid columns, servers,
-- user mappings, queued writes and dead letters stay as they are.

DO $check$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension e
                   WHERE e.extname OPERATOR(pg_catalog.=) 'nutragenie'
                     AND e.extversion OPERATOR(pg_catalog.=) '1.2') THEN
        RAISE EXCEPTION 'nutragenie_fdw 1.2 takes over the foreign data wrapper of extension nutragenie 1.2, which is not installed'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'For a new installation, CREATE EXTENSION nutragenie_fdw without VERSION; to upgrade nutragenie 1.0 or 1.1, first ALTER EXTENSION nutragenie UPDATE TO ''1.2''.';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension e
                   WHERE e.extname OPERATOR(pg_catalog.=) 'nutragenie'
                     AND e.extnamespace OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace) THEN
        RAISE EXCEPTION 'nutragenie_fdw 1.2 must be created in the schema of extension nutragenie'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'CREATE EXTENSION nutragenie_fdw VERSION ''1.2'' SCHEMA nutragenie';
    END IF;
END
$check$;

-- what belongs to the wrapper leaves nutragenie ...
ALTER EXTENSION nutragenie DROP TYPE @extschema@.objectid;
ALTER EXTENSION nutragenie DROP FUNCTION @extschema@.ng_applier_wake();
ALTER EXTENSION nutragenie DROP FUNCTION @extschema@.ng_bson_to_jsonb(bytea);
ALTER EXTENSION nutragenie DROP FUNCTION @extschema@.ng_cache_reset();
ALTER EXTENSION nutragenie DROP FUNCTION @extschema@.ng_cache_stats();
ALTER EXTENSION nutragenie DROP FUNCTION @extschema@.ng_cached_document(name, text, text, jsonb);
ALTER EXTENSION nutragenie DROP FUNCTION @extschema@.ng_connections();
ALTER EXTENSION nutragenie DROP FUNCTION @extschema@.ng_discard_dead_letter(bigint);
ALTER EXTENSION nutragenie DROP FUNCTION @extschema@.ng_disconnect(name);
ALTER EXTENSION nutragenie DROP FUNCTION @extschema@.ng_disconnect_all();
ALTER EXTENSION nutragenie DROP FUNCTION @extschema@.ng_retry_dead_letter(bigint);
ALTER EXTENSION nutragenie DROP FUNCTION @extschema@.ng_run_command(name, json, text);
ALTER EXTENSION nutragenie DROP FUNCTION @extschema@.ng_write_queue_status();
ALTER EXTENSION nutragenie DROP FUNCTION @extschema@.nutragenie_fdw_check_ddl();
ALTER EXTENSION nutragenie DROP FUNCTION @extschema@.nutragenie_fdw_handler();
ALTER EXTENSION nutragenie DROP FUNCTION @extschema@.nutragenie_fdw_validator(text[], oid);
ALTER EXTENSION nutragenie DROP FUNCTION @extschema@.objectid_cmp(@extschema@.objectid, @extschema@.objectid);
ALTER EXTENSION nutragenie DROP FUNCTION @extschema@.objectid_eq(@extschema@.objectid, @extschema@.objectid);
ALTER EXTENSION nutragenie DROP FUNCTION @extschema@.objectid_from_bytea(bytea);
ALTER EXTENSION nutragenie DROP FUNCTION @extschema@.objectid_from_timestamp(timestamp with time zone);
ALTER EXTENSION nutragenie DROP FUNCTION @extschema@.objectid_ge(@extschema@.objectid, @extschema@.objectid);
ALTER EXTENSION nutragenie DROP FUNCTION @extschema@.objectid_generate();
ALTER EXTENSION nutragenie DROP FUNCTION @extschema@.objectid_gt(@extschema@.objectid, @extschema@.objectid);
ALTER EXTENSION nutragenie DROP FUNCTION @extschema@.objectid_hash(@extschema@.objectid);
ALTER EXTENSION nutragenie DROP FUNCTION @extschema@.objectid_hash_extended(@extschema@.objectid, bigint);
ALTER EXTENSION nutragenie DROP FUNCTION @extschema@.objectid_in(cstring);
ALTER EXTENSION nutragenie DROP FUNCTION @extschema@.objectid_le(@extschema@.objectid, @extschema@.objectid);
ALTER EXTENSION nutragenie DROP FUNCTION @extschema@.objectid_lt(@extschema@.objectid, @extschema@.objectid);
ALTER EXTENSION nutragenie DROP FUNCTION @extschema@.objectid_ne(@extschema@.objectid, @extschema@.objectid);
ALTER EXTENSION nutragenie DROP FUNCTION @extschema@.objectid_out(@extschema@.objectid);
ALTER EXTENSION nutragenie DROP FUNCTION @extschema@.objectid_recv(internal);
ALTER EXTENSION nutragenie DROP FUNCTION @extschema@.objectid_send(@extschema@.objectid);
ALTER EXTENSION nutragenie DROP FUNCTION @extschema@.objectid_sortsupport(internal);
ALTER EXTENSION nutragenie DROP FUNCTION @extschema@.objectid_timestamp(@extschema@.objectid);
ALTER EXTENSION nutragenie DROP FUNCTION @extschema@.objectid_to_bytea(@extschema@.objectid);
ALTER EXTENSION nutragenie DROP OPERATOR @extschema@.< (@extschema@.objectid, @extschema@.objectid);
ALTER EXTENSION nutragenie DROP OPERATOR @extschema@.<= (@extschema@.objectid, @extschema@.objectid);
ALTER EXTENSION nutragenie DROP OPERATOR @extschema@.<> (@extschema@.objectid, @extschema@.objectid);
ALTER EXTENSION nutragenie DROP OPERATOR @extschema@.= (@extschema@.objectid, @extschema@.objectid);
ALTER EXTENSION nutragenie DROP OPERATOR @extschema@.> (@extschema@.objectid, @extschema@.objectid);
ALTER EXTENSION nutragenie DROP OPERATOR @extschema@.>= (@extschema@.objectid, @extschema@.objectid);
ALTER EXTENSION nutragenie DROP OPERATOR FAMILY @extschema@.objectid_ops USING btree;
ALTER EXTENSION nutragenie DROP OPERATOR FAMILY @extschema@.objectid_ops USING hash;
ALTER EXTENSION nutragenie DROP OPERATOR CLASS @extschema@.objectid_ops USING btree;
ALTER EXTENSION nutragenie DROP OPERATOR CLASS @extschema@.objectid_ops USING hash;
ALTER EXTENSION nutragenie DROP CAST (@extschema@.objectid AS bytea);
ALTER EXTENSION nutragenie DROP CAST (bytea AS @extschema@.objectid);
ALTER EXTENSION nutragenie DROP FOREIGN DATA WRAPPER nutragenie_fdw;
ALTER EXTENSION nutragenie DROP EVENT TRIGGER nutragenie_fdw_check_ddl;
ALTER EXTENSION nutragenie DROP TABLE @extschema@.dead_letters;
ALTER EXTENSION nutragenie DROP TABLE @extschema@.outbox;
ALTER EXTENSION nutragenie DROP SEQUENCE @extschema@.dead_letters_id_seq;
ALTER EXTENSION nutragenie DROP SEQUENCE @extschema@.outbox_seq_seq;
ALTER EXTENSION nutragenie DROP VIEW @extschema@.dead_letter_queue;
ALTER EXTENSION nutragenie DROP VIEW @extschema@.write_queue;

-- ... and joins nutragenie_fdw
ALTER EXTENSION nutragenie_fdw ADD TYPE @extschema@.objectid;
ALTER EXTENSION nutragenie_fdw ADD FUNCTION @extschema@.ng_applier_wake();
ALTER EXTENSION nutragenie_fdw ADD FUNCTION @extschema@.ng_bson_to_jsonb(bytea);
ALTER EXTENSION nutragenie_fdw ADD FUNCTION @extschema@.ng_cache_reset();
ALTER EXTENSION nutragenie_fdw ADD FUNCTION @extschema@.ng_cache_stats();
ALTER EXTENSION nutragenie_fdw ADD FUNCTION @extschema@.ng_cached_document(name, text, text, jsonb);
ALTER EXTENSION nutragenie_fdw ADD FUNCTION @extschema@.ng_connections();
ALTER EXTENSION nutragenie_fdw ADD FUNCTION @extschema@.ng_discard_dead_letter(bigint);
ALTER EXTENSION nutragenie_fdw ADD FUNCTION @extschema@.ng_disconnect(name);
ALTER EXTENSION nutragenie_fdw ADD FUNCTION @extschema@.ng_disconnect_all();
ALTER EXTENSION nutragenie_fdw ADD FUNCTION @extschema@.ng_retry_dead_letter(bigint);
ALTER EXTENSION nutragenie_fdw ADD FUNCTION @extschema@.ng_run_command(name, json, text);
ALTER EXTENSION nutragenie_fdw ADD FUNCTION @extschema@.ng_write_queue_status();
ALTER EXTENSION nutragenie_fdw ADD FUNCTION @extschema@.nutragenie_fdw_check_ddl();
ALTER EXTENSION nutragenie_fdw ADD FUNCTION @extschema@.nutragenie_fdw_handler();
ALTER EXTENSION nutragenie_fdw ADD FUNCTION @extschema@.nutragenie_fdw_validator(text[], oid);
ALTER EXTENSION nutragenie_fdw ADD FUNCTION @extschema@.objectid_cmp(@extschema@.objectid, @extschema@.objectid);
ALTER EXTENSION nutragenie_fdw ADD FUNCTION @extschema@.objectid_eq(@extschema@.objectid, @extschema@.objectid);
ALTER EXTENSION nutragenie_fdw ADD FUNCTION @extschema@.objectid_from_bytea(bytea);
ALTER EXTENSION nutragenie_fdw ADD FUNCTION @extschema@.objectid_from_timestamp(timestamp with time zone);
ALTER EXTENSION nutragenie_fdw ADD FUNCTION @extschema@.objectid_ge(@extschema@.objectid, @extschema@.objectid);
ALTER EXTENSION nutragenie_fdw ADD FUNCTION @extschema@.objectid_generate();
ALTER EXTENSION nutragenie_fdw ADD FUNCTION @extschema@.objectid_gt(@extschema@.objectid, @extschema@.objectid);
ALTER EXTENSION nutragenie_fdw ADD FUNCTION @extschema@.objectid_hash(@extschema@.objectid);
ALTER EXTENSION nutragenie_fdw ADD FUNCTION @extschema@.objectid_hash_extended(@extschema@.objectid, bigint);
ALTER EXTENSION nutragenie_fdw ADD FUNCTION @extschema@.objectid_in(cstring);
ALTER EXTENSION nutragenie_fdw ADD FUNCTION @extschema@.objectid_le(@extschema@.objectid, @extschema@.objectid);
ALTER EXTENSION nutragenie_fdw ADD FUNCTION @extschema@.objectid_lt(@extschema@.objectid, @extschema@.objectid);
ALTER EXTENSION nutragenie_fdw ADD FUNCTION @extschema@.objectid_ne(@extschema@.objectid, @extschema@.objectid);
ALTER EXTENSION nutragenie_fdw ADD FUNCTION @extschema@.objectid_out(@extschema@.objectid);
ALTER EXTENSION nutragenie_fdw ADD FUNCTION @extschema@.objectid_recv(internal);
ALTER EXTENSION nutragenie_fdw ADD FUNCTION @extschema@.objectid_send(@extschema@.objectid);
ALTER EXTENSION nutragenie_fdw ADD FUNCTION @extschema@.objectid_sortsupport(internal);
ALTER EXTENSION nutragenie_fdw ADD FUNCTION @extschema@.objectid_timestamp(@extschema@.objectid);
ALTER EXTENSION nutragenie_fdw ADD FUNCTION @extschema@.objectid_to_bytea(@extschema@.objectid);
ALTER EXTENSION nutragenie_fdw ADD OPERATOR @extschema@.< (@extschema@.objectid, @extschema@.objectid);
ALTER EXTENSION nutragenie_fdw ADD OPERATOR @extschema@.<= (@extschema@.objectid, @extschema@.objectid);
ALTER EXTENSION nutragenie_fdw ADD OPERATOR @extschema@.<> (@extschema@.objectid, @extschema@.objectid);
ALTER EXTENSION nutragenie_fdw ADD OPERATOR @extschema@.= (@extschema@.objectid, @extschema@.objectid);
ALTER EXTENSION nutragenie_fdw ADD OPERATOR @extschema@.> (@extschema@.objectid, @extschema@.objectid);
ALTER EXTENSION nutragenie_fdw ADD OPERATOR @extschema@.>= (@extschema@.objectid, @extschema@.objectid);
ALTER EXTENSION nutragenie_fdw ADD OPERATOR FAMILY @extschema@.objectid_ops USING btree;
ALTER EXTENSION nutragenie_fdw ADD OPERATOR FAMILY @extschema@.objectid_ops USING hash;
ALTER EXTENSION nutragenie_fdw ADD OPERATOR CLASS @extschema@.objectid_ops USING btree;
ALTER EXTENSION nutragenie_fdw ADD OPERATOR CLASS @extschema@.objectid_ops USING hash;
ALTER EXTENSION nutragenie_fdw ADD CAST (@extschema@.objectid AS bytea);
ALTER EXTENSION nutragenie_fdw ADD CAST (bytea AS @extschema@.objectid);
ALTER EXTENSION nutragenie_fdw ADD FOREIGN DATA WRAPPER nutragenie_fdw;
ALTER EXTENSION nutragenie_fdw ADD EVENT TRIGGER nutragenie_fdw_check_ddl;
ALTER EXTENSION nutragenie_fdw ADD TABLE @extschema@.dead_letters;
ALTER EXTENSION nutragenie_fdw ADD TABLE @extschema@.outbox;
ALTER EXTENSION nutragenie_fdw ADD SEQUENCE @extschema@.dead_letters_id_seq;
ALTER EXTENSION nutragenie_fdw ADD SEQUENCE @extschema@.outbox_seq_seq;
ALTER EXTENSION nutragenie_fdw ADD VIEW @extschema@.dead_letter_queue;
ALTER EXTENSION nutragenie_fdw ADD VIEW @extschema@.write_queue;

SELECT pg_catalog.pg_extension_config_dump('@extschema@.outbox', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.outbox_seq_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.dead_letters', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.dead_letters_id_seq', '');

-- The C functions were created for the library nutragenie, which 2.0
-- renamed nutragenie_fdw: bind them to it (same OIDs, same definitions),
-- before any statement the event trigger nutragenie_fdw_check_ddl watches.
DO $rebind$
DECLARE
    f record;
BEGIN
    FOR f IN
        SELECT p.oid
        FROM pg_catalog.pg_proc p
        JOIN pg_catalog.pg_depend d ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
                                   AND d.objid OPERATOR(pg_catalog.=) p.oid AND d.deptype OPERATOR(pg_catalog.=) 'e'
        JOIN pg_catalog.pg_extension e ON e.oid OPERATOR(pg_catalog.=) d.refobjid
        JOIN pg_catalog.pg_language l ON l.oid OPERATOR(pg_catalog.=) p.prolang
        WHERE e.extname OPERATOR(pg_catalog.=) 'nutragenie_fdw' AND l.lanname OPERATOR(pg_catalog.=) 'c'
          AND p.probin OPERATOR(pg_catalog.<>) 'MODULE_PATHNAME'
        ORDER BY p.oid
    LOOP
        EXECUTE pg_catalog.regexp_replace(pg_catalog.pg_get_functiondef(f.oid),
                                          '^AS ''[^'']*'', ', 'AS ''MODULE_PATHNAME'', ', 'n');
    END LOOP;
END
$rebind$;
