-- Values that do not fit their column: a clear error naming the table,
-- column, field path, document _id and BSON type found -- or NULL when the
-- type_mismatch option asks for it.  Never a silent NULL by default.
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SCHEMA errors;
SET search_path = errors, public;
\getenv mongo_uri MONGODB_URI
CREATE SERVER err_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri :'mongo_uri', database 'ng_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER err_srv;

DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('err_srv', '{"drop": "err_docs"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;
SELECT nutragenie_fdw.run_command('err_srv', $$
{"insert": "err_docs", "documents": [
  {"_id": 1, "n": 5, "s": "five", "big": {"$numberLong": "3000000000"}, "frac": 1.5,
   "nested": {"a": [{"b": 1}]}, "d": {"$date": "2024-03-01T10:00:00Z"}},
  {"_id": "two", "n": "5", "s": 5}
]}$$)->>'ok';

CREATE FOREIGN TABLE docs (
    _id jsonb, n int, s text, big int8, frac numeric
) SERVER err_srv OPTIONS (collection 'err_docs');
CREATE FOREIGN TABLE docs_one (
    _id int, n int, s text, big int8, frac numeric
) SERVER err_srv OPTIONS (collection 'err_docs');
-- the first document alone converts fine
SELECT _id, n, s, big, frac FROM docs_one WHERE _id = 1;

-- a string where an integer is expected
SELECT n FROM docs;
-- an integer where text is expected
SELECT s FROM docs;
-- out of range, and not integral
CREATE FOREIGN TABLE docs_range (_id int, big int4 OPTIONS (field 'big')) SERVER err_srv
  OPTIONS (collection 'err_docs');
SELECT big FROM docs_range;
CREATE FOREIGN TABLE docs_frac (_id int, frac int4) SERVER err_srv
  OPTIONS (collection 'err_docs');
SELECT frac FROM docs_frac;
-- a path that crosses an array
CREATE FOREIGN TABLE docs_path (_id jsonb, b int OPTIONS (field 'nested.a.b')) SERVER err_srv
  OPTIONS (collection 'err_docs');
SELECT b FROM docs_path;
-- a date that is not a midnight into a date column
CREATE FOREIGN TABLE docs_date (_id jsonb, d date) SERVER err_srv
  OPTIONS (collection 'err_docs');
SELECT d FROM docs_date;

-- SQLSTATEs
DO $$ BEGIN
  PERFORM n FROM errors.docs;
EXCEPTION WHEN datatype_mismatch THEN RAISE NOTICE 'datatype_mismatch';
END $$;
DO $$ BEGIN
  PERFORM big FROM errors.docs_range;
EXCEPTION WHEN numeric_value_out_of_range THEN RAISE NOTICE 'numeric_value_out_of_range';
END $$;

-- opting in to NULL, per column or per table
ALTER FOREIGN TABLE docs ALTER COLUMN n OPTIONS (ADD type_mismatch 'null');
SELECT _id, n FROM docs ORDER BY n;
ALTER FOREIGN TABLE docs OPTIONS (ADD type_mismatch 'null');
SELECT _id, n, s FROM docs ORDER BY s;
-- a column option overrides the table's
ALTER FOREIGN TABLE docs ALTER COLUMN s OPTIONS (ADD type_mismatch 'error');
SELECT s FROM docs;

-- a column type with no mapping at all
CREATE TYPE pair AS (a int, b int);
CREATE FOREIGN TABLE docs_pair (_id jsonb, p pair) SERVER err_srv OPTIONS (collection 'err_docs');
SELECT p FROM docs_pair;
-- types without a BSON counterpart read strings through their input function
CREATE FOREIGN TABLE docs_inet (_id jsonb, s inet) SERVER err_srv OPTIONS (collection 'err_docs');
SELECT s FROM docs_inet;

SELECT nutragenie_fdw.run_command('err_srv', '{"drop": "err_docs"}')->>'ok';
SET client_min_messages = warning;
DROP SCHEMA errors CASCADE;
DROP SERVER err_srv CASCADE;
