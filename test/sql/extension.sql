-- What CREATE EXTENSION installs, and its attributes: nutragenie_fdw (the
-- wrapper, into the creation schema, public in the suite) and nutragenie
-- (the app, in schema nutragenie, requiring nutragenie_fdw).
\set VERBOSITY terse

SELECT extname, extversion, nspname AS schema, extrelocatable,
       ARRAY(SELECT r.extname FROM pg_depend d JOIN pg_extension r ON r.oid = d.refobjid
             WHERE d.classid = 'pg_extension'::regclass AND d.objid = e.oid
               AND d.refclassid = 'pg_extension'::regclass) AS requires
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE extname IN ('nutragenie_fdw', 'nutragenie')
ORDER BY 1;

SELECT fdwname, fdwhandler::regproc, fdwvalidator::regproc
FROM pg_foreign_data_wrapper WHERE fdwname = 'nutragenie_fdw';

-- Every member object of each extension (but the row types of its tables
-- and views and the array types, which newer PostgreSQL versions record
-- as members too)
CREATE VIEW pg_temp.members AS
SELECT e.extname, d.classid, d.objid, d.objsubid
FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
  AND e.extname IN ('nutragenie_fdw', 'nutragenie')
  AND NOT EXISTS (SELECT FROM pg_type t LEFT JOIN pg_class c ON c.oid = t.typrelid
                  WHERE d.classid = 'pg_type'::regclass AND t.oid = d.objid
                    AND (c.relkind <> 'c' OR t.typcategory = 'A'));
SELECT extname, pg_describe_object(classid, objid, objsubid) AS object
FROM pg_temp.members
ORDER BY 1, 2;

-- Every function states volatility, strictness and parallel safety on
-- purpose; list them so that a change shows up here.
SELECT m.extname, p.pronamespace::regnamespace AS schema, p.proname,
       pg_get_function_identity_arguments(p.oid) AS args,
       p.provolatile, p.proisstrict, p.proparallel
FROM pg_proc p JOIN pg_temp.members m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
ORDER BY 1, 2, 3, 4;

-- Every user-facing function and type has a comment.
SELECT p.proname AS missing_comment
FROM pg_proc p JOIN pg_temp.members m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
WHERE obj_description(p.oid, 'pg_proc') IS NULL
ORDER BY 1;

SELECT t.typname AS missing_comment
FROM pg_type t JOIN pg_temp.members m ON m.classid = 'pg_type'::regclass AND m.objid = t.oid
WHERE t.typtype = 'b' AND t.typelem = 0
  AND obj_description(t.oid, 'pg_type') IS NULL;

-- run_command is not for everyone.
SELECT has_function_privilege('public', 'nutragenie_fdw.run_command(name, json, text)', 'EXECUTE');
DROP VIEW pg_temp.members;
