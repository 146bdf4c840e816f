-- Every function above with a pinned search_path gets the same one: this
-- extension's schema and the schema nutragenie_fdw was installed into (found
-- here, at install time: PostgreSQL 15 has no @extschema:name@), pg_catalog
-- first and pg_temp last.  The functions name the FDW's type and functions
-- (objectid, objectid_generate) without a schema and resolve them through
-- this path; the FDW's queue and administration functions are in the fixed
-- schema nutragenie_fdw and named with it.  ng_migrate_to_mongo, which
-- cannot have a SET clause, reads the path from ng_require_mongo.
DO $pin$
DECLARE
    fdw_schema name := (SELECT n.nspname
                        FROM pg_catalog.pg_extension e
                        JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
                        WHERE e.extname OPERATOR(pg_catalog.=) 'nutragenie_fdw');
    path text;
    f record;
BEGIN
    IF fdw_schema IS NULL THEN
        RAISE EXCEPTION 'extension "nutragenie_fdw" is not installed'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    path := CASE WHEN fdw_schema OPERATOR(pg_catalog.=) '@extschema@'
                 THEN pg_catalog.format('pg_catalog, %I, pg_temp', '@extschema@')
                 ELSE pg_catalog.format('pg_catalog, %I, %I, pg_temp', '@extschema@', fdw_schema) END;
    FOR f IN
        SELECT p.oid::pg_catalog.regprocedure AS fn, p.prokind
        FROM pg_catalog.pg_proc p
        JOIN pg_catalog.pg_depend d ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
                                   AND d.objid OPERATOR(pg_catalog.=) p.oid AND d.deptype OPERATOR(pg_catalog.=) 'e'
        JOIN pg_catalog.pg_extension e ON e.oid OPERATOR(pg_catalog.=) d.refobjid
        WHERE e.extname OPERATOR(pg_catalog.=) 'nutragenie'
          AND EXISTS (SELECT FROM pg_catalog.unnest(p.proconfig) c
                      WHERE pg_catalog.starts_with(c, 'search_path='))
        ORDER BY p.oid
    LOOP
        EXECUTE pg_catalog.format('ALTER %s %s SET search_path = %s',
                                  CASE f.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, f.fn, path);
    END LOOP;
END
$pin$;
