-- BSON to PostgreSQL: each BSON type the test server stores, into each
-- column type that accepts it; boundaries; missing versus null.  Decimal128
-- and NaN/Infinity doubles are left out: FerretDB cannot store them (see
-- README, Limitations).
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SCHEMA types;
SET search_path = types, public;
\getenv mongo_uri MONGODB_URI
CREATE SERVER types_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri :'mongo_uri', database 'ng_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER types_srv;

DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('types_srv', '{"drop": "types_docs"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;
SELECT nutragenie_fdw.run_command('types_srv', $$
{"insert": "types_docs", "documents": [
  {"_id": 1, "s": "héllo wörld ✓", "i32": 2147483647, "i64": {"$numberLong": "9223372036854775807"},
   "dbl": 0.1, "dint": 42.0, "b": true,
   "dt": {"$date": "2024-02-29T12:34:56.789Z"}, "day": {"$date": "2024-02-29T00:00:00Z"},
   "oid": {"$oid": "507f1f77bcf86cd799439011"},
   "uuid": {"$binary": {"base64": "ASNFZ4mrze8BI0VniavN7w==", "subType": "04"}},
   "bin": {"$binary": {"base64": "AAEC/w==", "subType": "00"}},
   "arr_s": ["a", "b", null], "arr_i": [1, {"$numberLong": "2"}, 3.0], "arr_d": [1.5, -0.25],
   "arr_o": [{"$oid": "507f1f77bcf86cd799439011"}], "arr_doc": [{"k": 1}, {"k": [2]}],
   "sub": {"a": {"b": "deep"}, "n": -1}},
  {"_id": 2, "s": "", "i32": -2147483648, "i64": {"$numberLong": "-9223372036854775808"},
   "dbl": -1.5e300, "dint": -0.0, "b": false,
   "dt": {"$date": {"$numberLong": "-62135596800000"}}, "day": {"$date": "1969-12-31T00:00:00Z"},
   "oid": {"$oid": "000000000000000000000000"},
   "arr_s": [], "arr_i": [], "sub": {}},
  {"_id": 3, "s": null, "i32": null, "arr_s": null},
  {"_id": 4, "dbl": 1.7976931348623157e308, "i32": {"$numberLong": "5"}},
  {"_id": 5, "dbl": 5e-324, "dt": {"$date": "9999-12-31T23:59:59.999Z"}}
]}$$) - 'ok';

CREATE FOREIGN TABLE t (
    _id int,
    s text, s_vc varchar(20) OPTIONS (field 's'), s_ch char(15) OPTIONS (field 's'),
    i32 int4, i32_8 int8 OPTIONS (field 'i32'), i32_n numeric OPTIONS (field 'i32'),
    i32_f float8 OPTIONS (field 'i32'),
    i64 int8, i64_n numeric OPTIONS (field 'i64'),
    dbl float8, dbl_n numeric OPTIONS (field 'dbl'), dbl_4 float4 OPTIONS (field 'dbl', type_mismatch 'null'),
    dint int2 OPTIONS (field 'dint'), dint_n numeric OPTIONS (field 'dint'),
    b boolean,
    dt timestamptz, dt_l timestamp OPTIONS (field 'dt'),
    day date,
    oid objectid, oid_t text OPTIONS (field 'oid'),
    uuid uuid, uuid_b bytea OPTIONS (field 'uuid'),
    bin bytea,
    arr_s text[], arr_i int8[], arr_d float8[], arr_dn numeric[] OPTIONS (field 'arr_d'),
    arr_o objectid[], arr_doc jsonb[],
    deep text OPTIONS (field 'sub.a.b'), sub_n int OPTIONS (field 'sub.n'),
    sub jsonb, sub_j json OPTIONS (field 'sub'),
    missing text
) SERVER types_srv OPTIONS (collection 'types_docs');

\x on
SELECT * FROM t WHERE _id = 1;
SELECT * FROM t WHERE _id = 2;
\x off
SELECT _id, s IS NULL AS s_null, i32, dbl, dbl_n, dbl_4, missing IS NULL AS missing_null
FROM t ORDER BY _id;
SELECT _id, dt, dt_l FROM t WHERE dt IS NOT NULL ORDER BY _id;

-- json and jsonb: relaxed (default) and canonical Extended JSON
CREATE FOREIGN TABLE t_json (
    _id int,
    i64 jsonb, dbl jsonb, dt jsonb, oid jsonb, uuid jsonb, bin jsonb,
    doc jsonb OPTIONS (field '$$ROOT'),
    i64_c jsonb OPTIONS (field 'i64', json_mode 'canonical'),
    dbl_c jsonb OPTIONS (field 'dbl', json_mode 'canonical'),
    dt_c jsonb OPTIONS (field 'dt', json_mode 'canonical'),
    sub_j json OPTIONS (field 'sub'),
    sub_c json OPTIONS (field 'sub', json_mode 'canonical')
) SERVER types_srv OPTIONS (collection 'types_docs');
\x on
SELECT * FROM t_json WHERE _id = 1;
\x off
SELECT _id, dbl, dbl_c, dt FROM t_json ORDER BY _id;

-- an int64 that a float8 cannot hold exactly is refused as inexact, not rounded
CREATE FOREIGN TABLE t_f8 (_id int, i64 float8) SERVER types_srv OPTIONS (collection 'types_docs');
SELECT i64 FROM t_f8 WHERE _id = 1;
-- a date before PostgreSQL's "date" range start is fine; midnight check
CREATE FOREIGN TABLE t_day (_id int, dt date) SERVER types_srv OPTIONS (collection 'types_docs');
SELECT dt FROM t_day WHERE _id = 1;
-- text[] from an array with a nested document: a mismatch
CREATE FOREIGN TABLE t_arr (_id int, arr_doc text[]) SERVER types_srv OPTIONS (collection 'types_docs');
SELECT arr_doc FROM t_arr WHERE _id = 1;
-- a varchar too short for the value
CREATE FOREIGN TABLE t_vc (_id int, s varchar(3)) SERVER types_srv OPTIONS (collection 'types_docs');
SELECT s FROM t_vc WHERE _id = 1;
-- enum and domain columns
CREATE TYPE mood AS ENUM ('', 'héllo wörld ✓');
CREATE DOMAIN small_pos AS int CHECK (VALUE > 0);
CREATE FOREIGN TABLE t_dom (_id int, s mood, i32 small_pos) SERVER types_srv OPTIONS (collection 'types_docs');
SELECT _id, s FROM t_dom ORDER BY _id;
SELECT i32 FROM t_dom WHERE _id = 2;

SELECT nutragenie_fdw.run_command('types_srv', '{"drop": "types_docs"}')->>'ok';
SET client_min_messages = warning;
DROP SCHEMA types CASCADE;
DROP SERVER types_srv CASCADE;
