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
    writer text;
    f record;
BEGIN
    IF fdw_schema IS NULL THEN
        RAISE EXCEPTION 'extension "nutragenie_fdw" is not installed'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    -- A role that can create objects in a schema on this path could make
    -- the app's functions run its code (an overload that matches better
    -- than pg_catalog's), with the caller's rights: the FDW's schema must
    -- be writable by its owner (and superusers) only.
    IF fdw_schema OPERATOR(pg_catalog.<>) '@extschema@' THEN
        SELECT r.rolname INTO writer
        FROM pg_catalog.pg_namespace n, pg_catalog.pg_roles r
        WHERE n.nspname OPERATOR(pg_catalog.=) fdw_schema
          AND NOT r.rolsuper
          AND pg_catalog.has_schema_privilege(r.oid, n.oid, 'CREATE')
          AND NOT pg_catalog.pg_has_role(r.oid, n.nspowner, 'USAGE')
        ORDER BY r.rolname LIMIT 1;
        IF writer IS NULL AND EXISTS (
                SELECT FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) a
                WHERE n.nspname OPERATOR(pg_catalog.=) fdw_schema
                  AND a.grantee OPERATOR(pg_catalog.=) 0
                  AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE') THEN
            writer := 'PUBLIC';
        END IF;
        IF writer IS NOT NULL THEN
            RAISE EXCEPTION 'schema "%" of extension "nutragenie_fdw" is writable by roles other than its owner',
                            fdw_schema
                USING ERRCODE = 'insufficient_privilege',
                      DETAIL = pg_catalog.format('The app''s functions find the type objectid through this schema, and %s may create objects in it that they would run.',
                                                 CASE writer WHEN 'PUBLIC' THEN 'every role' ELSE pg_catalog.format('role "%s"', writer) END),
                      HINT = pg_catalog.format('Revoke CREATE on schema %I from roles other than its owner, or install nutragenie_fdw into a schema of its own (CREATE SCHEMA mongo; CREATE EXTENSION nutragenie_fdw SCHEMA mongo;) before the app.', fdw_schema);
        END IF;
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
