-- Upgrading a 1.x database (one extension, nutragenie, holding the FDW and
-- the app) in place to the two extensions of 2.0 gives the same objects as
-- a fresh CREATE EXTENSION nutragenie CASCADE, and keeps the data: app rows,
-- queued writes, dead letters, servers and foreign tables (whose objectid
-- columns keep their type).  Recreates the extensions, so it runs last, and
-- leaves them installed at the default versions as the suite found them.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE SCHEMA upgrade;
SET search_path = upgrade;

-- what the installed extensions consist of, as comparable text; names print
-- without the schema the FDW was installed into (nutragenie after an
-- upgrade, public in a fresh install), and the app's pinned search_path is
-- checked against that schema
CREATE TABLE snapshot (how text, kind text, item text);
CREATE PROCEDURE take_snapshot(how text) LANGUAGE plpgsql AS $$
DECLARE
    fdw name := (SELECT e.extnamespace::regnamespace::name FROM pg_extension e
                 WHERE e.extname = 'nutragenie_fdw');
    pinned text := CASE WHEN fdw = 'nutragenie' THEN 'search_path=pg_catalog, nutragenie, pg_temp'
                        ELSE format('search_path=pg_catalog, nutragenie, %I, pg_temp', fdw) END;
BEGIN
  PERFORM set_config('search_path', format('upgrade, nutragenie, %I', fdw), true);
  INSERT INTO upgrade.snapshot
  WITH members AS (
    SELECT e.extname, d.classid, d.objid, d.objsubid
    FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
    WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
      AND e.extname IN ('nutragenie', 'nutragenie_fdw'))
  SELECT how, 'version', extname || ' ' || extversion FROM pg_extension
  WHERE extname IN ('nutragenie', 'nutragenie_fdw')
  UNION ALL
  SELECT how, 'requires', e.extname || ' requires ' || r.extname
  FROM pg_depend d JOIN pg_extension e ON e.oid = d.objid JOIN pg_extension r ON r.oid = d.refobjid
  WHERE d.classid = 'pg_extension'::regclass AND d.refclassid = 'pg_extension'::regclass
    AND e.extname IN ('nutragenie', 'nutragenie_fdw')
  UNION ALL
  SELECT how, 'config', e.extname || ' ' || c::regclass::text
  FROM pg_extension e, unnest(e.extconfig) c WHERE e.extname IN ('nutragenie', 'nutragenie_fdw')
  UNION ALL
  SELECT how, 'member', m.extname || ': ' || pg_describe_object(m.classid, m.objid, m.objsubid)
  FROM members m
  UNION ALL
  SELECT how, 'index', indexdef FROM pg_indexes WHERE schemaname IN ('nutragenie', 'nutragenie_fdw')
  UNION ALL
  SELECT how, 'column', c.oid::regclass || '.' || a.attname || ' ' ||
         format_type(a.atttypid, a.atttypmod) ||
         CASE WHEN a.attnotnull THEN ' not null' ELSE '' END ||
         coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
  FROM pg_class c
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
  WHERE c.relnamespace IN ('nutragenie'::regnamespace, 'nutragenie_fdw'::regnamespace)
  UNION ALL
  SELECT how, 'constraint', conrelid::regclass || ' ' || pg_get_constraintdef(oid)
  FROM pg_constraint
  WHERE connamespace IN ('nutragenie'::regnamespace, 'nutragenie_fdw'::regnamespace)
  UNION ALL
  SELECT how, 'function', p.oid::regprocedure || ' ' || p.provolatile::text || p.proisstrict::text ||
         p.proparallel::text || ' ' || md5(p.prosrc) || ' ' || coalesce(p.probin, '-') || ' ' ||
         CASE WHEN p.proconfig = ARRAY[pinned] THEN 'pinned' ELSE coalesce(p.proconfig::text, '-') END ||
         ' ' || coalesce(p.proacl::text, '-')
  FROM pg_proc p JOIN members m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
  UNION ALL
  SELECT how, 'relation', c.oid::regclass || ' ' || c.relkind::text || ' ' || coalesce(c.relacl::text, '-') ||
         CASE WHEN c.relkind IN ('v', 'm') THEN ' ' || md5(pg_get_viewdef(c.oid)) ELSE '' END
  FROM pg_class c JOIN members m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid
  UNION ALL
  SELECT how, 'schema', n.nspname || ' ' || coalesce(n.nspacl::text, '-')
  FROM pg_namespace n WHERE n.nspname IN ('nutragenie', 'nutragenie_fdw')
  UNION ALL
  SELECT how, 'comment', d.classoid::regclass || ' ' ||
         pg_describe_object(d.classoid, d.objoid, d.objsubid) || ' ' || md5(d.description)
  FROM pg_description d JOIN members m ON m.classid = d.classoid AND m.objid = d.objoid
  UNION ALL
  SELECT how, 'event trigger', t.evtname || ' ' || t.evtevent || ' ' || t.evtfoid::regprocedure || ' ' ||
         t.evttags::text || ' ' || t.evtenabled::text
  FROM pg_event_trigger t JOIN members m ON m.classid = 'pg_event_trigger'::regclass AND m.objid = t.oid;
END
$$;

DROP EXTENSION nutragenie;
DROP EXTENSION nutragenie_fdw;

-- nutragenie_fdw 1.2 only takes over the FDW of nutragenie 1.2
CREATE EXTENSION nutragenie_fdw VERSION '1.2' SCHEMA public;

-- 1.0, then the update to 1.2, as a 1.x database went
CREATE EXTENSION nutragenie VERSION '1.0';
SELECT extversion FROM pg_extension WHERE extname = 'nutragenie';
SELECT indexdef FROM pg_indexes
WHERE schemaname = 'nutragenie' AND tablename = 'outbox' ORDER BY 1;
ALTER EXTENSION nutragenie UPDATE TO '1.2';
SELECT extversion FROM pg_extension WHERE extname = 'nutragenie';
SELECT indexdef FROM pg_indexes
WHERE schemaname = 'nutragenie' AND tablename = 'outbox' ORDER BY 1;
-- nutragenie 1.2 cannot go to 2.0 on its own
ALTER EXTENSION nutragenie UPDATE;
-- and the takeover happens in nutragenie's schema
CREATE EXTENSION nutragenie_fdw VERSION '1.2' SCHEMA public;

-- a 1.2 database in use: a server, a foreign table, app rows, a queued
-- write and a dead letter
CREATE SERVER upgrade_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri 'mongodb://127.0.0.1:1', database 'ng_upgrade');
CREATE USER MAPPING FOR CURRENT_USER SERVER upgrade_srv;
CREATE FOREIGN TABLE upgrade.docs (_id nutragenie.objectid, name text)
  SERVER upgrade_srv OPTIONS (collection 'docs');
SELECT 'nutragenie.objectid'::regtype::oid AS objectid_oid \gset
-- one transaction, so that no applier sees the queued write of this made-up
-- server
BEGIN;
INSERT INTO nutragenie.users (email, password_hash, mongodb_profile_id)
VALUES ('old@example.com', 'h', '650000000000000000000001');
INSERT INTO nutragenie.outbox (serverid, userid, database, collection, op, doc_id)
SELECT oid, 10, 'ng_upgrade', 'docs', 'd', '\x0e000000105f6964000100000000' FROM pg_foreign_server
WHERE srvname = 'upgrade_srv';
INSERT INTO nutragenie.dead_letters (seq, xid, serverid, userid, database, collection, op, doc_id,
                                    created_at, error)
SELECT 7, '1', oid, 10, 'ng_upgrade', 'docs', 'd', '\x0e000000105f6964000200000000', now(), 'rejected'
FROM pg_foreign_server WHERE srvname = 'upgrade_srv';
-- 1.x named its library nutragenie: the C functions of a real 1.x database
-- point there
UPDATE pg_proc SET probin = '$libdir/nutragenie' WHERE probin = '$libdir/nutragenie_fdw';

-- the three steps (README, "Upgrading")
CREATE EXTENSION nutragenie_fdw VERSION '1.2' SCHEMA nutragenie;
ALTER EXTENSION nutragenie_fdw UPDATE;
ALTER EXTENSION nutragenie UPDATE;
SELECT e.extname, e.extversion, e.extnamespace::regnamespace AS schema
FROM pg_extension e WHERE e.extname LIKE 'nutragenie%' ORDER BY 1;
SELECT count(*) AS bound_to_old_library FROM pg_proc WHERE probin = '$libdir/nutragenie';
-- the data survived
SELECT email, mongodb_profile_id FROM nutragenie.users;
SELECT s.srvname, o.database, o.collection, o.op, nutragenie_fdw.bson_to_jsonb(o.doc_id) AS doc_id
FROM nutragenie_fdw.outbox o JOIN pg_foreign_server s ON s.oid = o.serverid;
SELECT server, _id, error FROM nutragenie_fdw.dead_letter_queue;
SELECT a.atttypid = :objectid_oid AND a.atttypid = 'nutragenie.objectid'::regtype AS same_type
FROM pg_attribute a WHERE a.attrelid = 'upgrade.docs'::regclass AND a.attname = '_id';
CALL take_snapshot('updated');
DELETE FROM nutragenie_fdw.outbox;
DELETE FROM nutragenie_fdw.dead_letters;
COMMIT;

DROP FOREIGN TABLE upgrade.docs;
DROP SERVER upgrade_srv CASCADE;
DROP EXTENSION nutragenie;
DROP EXTENSION nutragenie_fdw;

-- a fresh install of the default versions, the FDW into public
SET search_path = public;
CREATE EXTENSION nutragenie CASCADE;
CALL upgrade.take_snapshot('fresh');
SET search_path = upgrade;

SELECT (SELECT count(*) FROM snapshot WHERE how = 'updated') =
       (SELECT count(*) FROM snapshot WHERE how = 'fresh') AS same_count,
       (SELECT count(*) FROM snapshot WHERE how = 'fresh') > 100 AS nontrivial;
-- what the comparison covers
SELECT kind, count(*) FROM snapshot WHERE how = 'fresh' GROUP BY kind ORDER BY kind;
SELECT count(*) FILTER (WHERE item LIKE '% pinned %') AS pinned,
       count(*) FILTER (WHERE item LIKE '%$libdir/nutragenie_fdw%') AS in_library
FROM snapshot WHERE how = 'fresh' AND kind = 'function';
-- what only one of them has: nothing
(SELECT 'only updated' AS what, kind, item FROM snapshot WHERE how = 'updated'
 EXCEPT ALL
 SELECT 'only updated', kind, item FROM snapshot WHERE how = 'fresh')
UNION ALL
(SELECT 'only fresh', kind, item FROM snapshot WHERE how = 'fresh'
 EXCEPT ALL
 SELECT 'only fresh', kind, item FROM snapshot WHERE how = 'updated')
ORDER BY 1, 2, 3;

-- the outbox's per-document check is an index condition
SET enable_seqscan = off;
EXPLAIN (COSTS OFF)
SELECT count(*) FROM nutragenie_fdw.outbox
WHERE serverid = 1 AND database = 'db' AND collection = 'c'
  AND doc_id = ANY (ARRAY['\x0e000000105f6964000100000000'::bytea])
  AND xid <> pg_current_xact_id();
RESET enable_seqscan;

DROP SCHEMA upgrade CASCADE;
