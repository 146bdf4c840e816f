-- What CREATE EXTENSION installs, and its attributes.
\set VERBOSITY terse

SELECT extname, extversion, nspname AS schema, extrelocatable
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE extname = 'nutragenie';

SELECT fdwname, fdwhandler::regproc, fdwvalidator::regproc
FROM pg_foreign_data_wrapper WHERE fdwname = 'nutragenie_fdw';

-- Every member object of the extension (but the row types of its tables
-- and views and the array types, which newer PostgreSQL versions record
-- as members too)
SELECT pg_describe_object(classid, objid, objsubid) AS object
FROM pg_depend d
WHERE refclassid = 'pg_extension'::regclass
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'nutragenie')
  AND deptype = 'e'
  AND NOT EXISTS (SELECT FROM pg_type t LEFT JOIN pg_class c ON c.oid = t.typrelid
                  WHERE d.classid = 'pg_type'::regclass AND t.oid = d.objid
                    AND (c.relkind <> 'c' OR t.typcategory = 'A'))
ORDER BY 1;

-- Every function states volatility, strictness and parallel safety on
-- purpose; list them so that a change shows up here.
SELECT p.proname, pg_get_function_identity_arguments(p.oid) AS args,
       p.provolatile, p.proisstrict, p.proparallel
FROM pg_proc p
WHERE p.pronamespace = 'nutragenie'::regnamespace
ORDER BY 1, 2;

-- Every user-facing function and type has a comment.
SELECT p.proname AS missing_comment
FROM pg_proc p
WHERE p.pronamespace = 'nutragenie'::regnamespace
  AND obj_description(p.oid, 'pg_proc') IS NULL
ORDER BY 1;

SELECT t.typname AS missing_comment
FROM pg_type t
WHERE t.typnamespace = 'nutragenie'::regnamespace AND t.typtype = 'b' AND t.typelem = 0
  AND obj_description(t.oid, 'pg_type') IS NULL;

-- ng_run_command is not for everyone.
SELECT has_function_privilege('public', 'nutragenie.ng_run_command(name, json, text)', 'EXECUTE');
