-- Security: what PUBLIC may execute, and that every SQL and PL/pgSQL
-- function of the extension is immune to the caller's search_path (a
-- pinned search_path, or, for the SQL functions the planner inlines, names
-- qualified in the body: these are listed here so that a new one is seen).
CREATE SCHEMA security_grants;
CREATE VIEW security_grants.functions AS
SELECT p.oid::regprocedure::text AS function, l.lanname AS language, p.prosecdef,
       p.proconfig, p.proacl, p.prokind
FROM pg_proc p
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname IN ('nutragenie_fdw', 'nutragenie')
JOIN pg_language l ON l.oid = p.prolang;

-- functions PUBLIC may not execute
SELECT function FROM security_grants.functions
WHERE NOT has_function_privilege('public', function::regprocedure, 'EXECUTE')
ORDER BY function;

-- SECURITY DEFINER functions: ng_publish, the payments history trigger and
-- those that reach the per-user collections (README, Roles), each with a
-- pinned search_path (checked below); a new one shows up here
SELECT function, proconfig IS NOT NULL AS pinned FROM security_grants.functions WHERE prosecdef ORDER BY function;

-- SQL and PL/pgSQL without a pinned search_path (pg_catalog first, then
-- the extension's own schemas -- the app's, then the one nutragenie_fdw was
-- installed into, public here --, pg_temp last): inlinable SQL helpers
-- whose bodies qualify every name, and the procedure that pins it itself
SELECT function, language, prokind FROM security_grants.functions
WHERE language IN ('sql', 'plpgsql')
  AND NOT coalesce(proconfig::text[] && ARRAY['search_path=pg_catalog, nutragenie, public, pg_temp',
                                               'search_path=pg_catalog, nutragenie_fdw, pg_temp'], false)
ORDER BY function;

-- an unprivileged role cannot publish domain events through ng_publish
CREATE ROLE sec_grants_user NOLOGIN;
GRANT USAGE ON SCHEMA nutragenie TO sec_grants_user;
SET ROLE sec_grants_user;
\set VERBOSITY terse
SELECT nutragenie.ng_publish('recipe.created', '{"recipeId": 1}');
SELECT nutragenie_fdw.cache_reset();
\set VERBOSITY default
SELECT nutragenie_fdw.bson_to_jsonb('\x0c0000001069000100000000'::bytea) AS allowed;
RESET ROLE;

REVOKE USAGE ON SCHEMA nutragenie FROM sec_grants_user;
DROP ROLE sec_grants_user;
DROP SCHEMA security_grants CASCADE;
