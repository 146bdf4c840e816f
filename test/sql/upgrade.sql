-- Installing 1.0 and updating to the latest version gives the same objects
-- as a fresh install of the latest version.  Recreates the extension, so it
-- runs last, and leaves it installed at the default version as the suite
-- found it.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE SCHEMA upgrade;
SET search_path = upgrade;

-- what an installed extension consists of, as comparable text
CREATE TABLE snapshot (how text, kind text, item text);
CREATE PROCEDURE take_snapshot(how text) LANGUAGE sql AS $$
  INSERT INTO upgrade.snapshot
  SELECT how, 'version', extversion FROM pg_extension WHERE extname = 'nutragenie'
  UNION ALL
  SELECT how, 'member', pg_describe_object(classid, objid, objsubid)
  FROM pg_depend
  WHERE refclassid = 'pg_extension'::regclass
    AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'nutragenie')
    AND deptype = 'e'
  UNION ALL
  SELECT how, 'index', indexdef FROM pg_indexes WHERE schemaname = 'nutragenie'
  UNION ALL
  SELECT how, 'column', c.relname || '.' || a.attname || ' ' ||
         format_type(a.atttypid, a.atttypmod) ||
         CASE WHEN a.attnotnull THEN ' not null' ELSE '' END ||
         coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
  FROM pg_class c
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
  WHERE c.relnamespace = 'nutragenie'::regnamespace
  UNION ALL
  SELECT how, 'constraint', conrelid::regclass || ' ' || pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = 'nutragenie'::regnamespace
  UNION ALL
  SELECT how, 'function', p.oid::regprocedure || ' ' || p.provolatile::text || p.proisstrict::text ||
         p.proparallel::text || ' ' || md5(p.prosrc)
  FROM pg_proc p WHERE p.pronamespace = 'nutragenie'::regnamespace
  UNION ALL
  SELECT how, 'view', c.relname || ' ' || md5(pg_get_viewdef(c.oid))
  FROM pg_class c
  WHERE c.relnamespace = 'nutragenie'::regnamespace AND c.relkind IN ('v', 'm')
  UNION ALL
  SELECT how, 'comment', d.classoid::regclass || ' ' ||
         pg_describe_object(d.classoid, d.objoid, d.objsubid) || ' ' || md5(d.description)
  FROM pg_description d
  WHERE pg_describe_object(d.classoid, d.objoid, d.objsubid) LIKE '%nutragenie%'
$$;

DROP EXTENSION nutragenie;

-- 1.0, then the update
CREATE EXTENSION nutragenie VERSION '1.0';
SELECT extversion FROM pg_extension WHERE extname = 'nutragenie';
SELECT indexdef FROM pg_indexes
WHERE schemaname = 'nutragenie' AND tablename = 'outbox' ORDER BY 1;
ALTER EXTENSION nutragenie UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'nutragenie';
SELECT indexdef FROM pg_indexes
WHERE schemaname = 'nutragenie' AND tablename = 'outbox' ORDER BY 1;
CALL take_snapshot('updated');
DROP EXTENSION nutragenie;

-- a fresh install of the default version
CREATE EXTENSION nutragenie;
CALL take_snapshot('fresh');

SELECT (SELECT count(*) FROM snapshot WHERE how = 'updated') =
       (SELECT count(*) FROM snapshot WHERE how = 'fresh') AS same_count,
       (SELECT count(*) FROM snapshot WHERE how = 'fresh') > 100 AS nontrivial;
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
SELECT count(*) FROM nutragenie.outbox
WHERE serverid = 1 AND database = 'db' AND collection = 'c'
  AND doc_id = ANY (ARRAY['\x0e000000105f6964000100000000'::bytea])
  AND xid <> pg_current_xact_id();
RESET enable_seqscan;

DROP SCHEMA upgrade CASCADE;
