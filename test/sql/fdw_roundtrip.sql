-- Every column type written through the FDW reads back identically, and
-- MongoDB stores it as the BSON type the read map expects.  (numeric is
-- written as double here: FerretDB, the test server, has no Decimal128.)
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SCHEMA roundtrip;
SET search_path = roundtrip, public;
\getenv mongo_uri MONGODB_URI
CREATE SERVER rt_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri :'mongo_uri', database 'ng_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER rt_srv;
DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('rt_srv', '{"drop": "rt_docs"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;
SELECT nutragenie_fdw.run_command('rt_srv', '{"create": "rt_docs"}')->>'ok';

CREATE TABLE src (
    _id objectid, t text, vc varchar(10), i2 int2, i4 int4, i8 int8,
    f4 float4, f8 float8, n numeric, b boolean, ts timestamp, tstz timestamptz,
    d date, u uuid, by bytea, j jsonb, js json,
    at text[], ai int8[], af float8[], ao objectid[], aj jsonb[], ab boolean[],
    nested int, deep text
);
INSERT INTO src VALUES
  ('650000000000000000000001', 'héllo ✓', 'short', -32768, 2147483647, -9223372036854775808,
   1.5, 0.1, 12.25, true, '2026-02-03 04:05:06.789', '1999-12-31 23:59:59.999+00',
   '2024-02-29', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\x00ff10',
   '{"k": [1, "two", null, {"$oid": "507f1f77bcf86cd799439011"}], "d": {"$date": "2020-01-01T00:00:00.000Z"}}',
   '{"z": 1, "a": 2}',
   '{a,NULL,"c d"}', '{1,-2,9007199254740993}', '{1.5,-0.25}',
   '{650000000000000000000001,650000000000000000000002}', '{"{\"x\": 1}",null}', '{t,f}',
   42, 'in a subdocument'),
  ('650000000000000000000002', '', NULL, 0, 0, 0, 0, -0, 0, false, '0001-01-01 00:00:00', '9999-12-31 23:59:59.999+00',
   '1970-01-01', '00000000-0000-0000-0000-000000000000', '\x', '{}', '[]',
   '{}', '{}', NULL, '{}', '{}', NULL, NULL, NULL);

CREATE FOREIGN TABLE dst (
    _id objectid, t text, vc varchar(10), i2 int2, i4 int4, i8 int8,
    f4 float4, f8 float8, n numeric OPTIONS (bson_type 'double'), b boolean,
    ts timestamp, tstz timestamptz, d date, u uuid, by bytea, j jsonb, js json,
    at text[], ai int8[], af float8[], ao objectid[], aj jsonb[], ab boolean[],
    nested int OPTIONS (field 'sub.nested'), deep text OPTIONS (field 'sub.deeper.text')
) SERVER rt_srv OPTIONS (collection 'rt_docs');

INSERT INTO dst SELECT * FROM src;

-- identical, column by column (json compared as jsonb: MongoDB keeps no
-- whitespace).  Extended JSON in jsonb comes back in relaxed form, so the
-- input uses that form; a top-level JSON null would read back as SQL NULL.
SELECT s._id,
       s.t IS NOT DISTINCT FROM d.t AS t, s.vc IS NOT DISTINCT FROM d.vc AS vc,
       s.i2 IS NOT DISTINCT FROM d.i2 AS i2, s.i4 IS NOT DISTINCT FROM d.i4 AS i4,
       s.i8 IS NOT DISTINCT FROM d.i8 AS i8, s.f4 IS NOT DISTINCT FROM d.f4 AS f4,
       s.f8 IS NOT DISTINCT FROM d.f8 AS f8, s.n IS NOT DISTINCT FROM d.n AS n,
       s.b IS NOT DISTINCT FROM d.b AS b, s.ts IS NOT DISTINCT FROM d.ts AS ts,
       s.tstz IS NOT DISTINCT FROM d.tstz AS tstz, s.d IS NOT DISTINCT FROM d.d AS d,
       s.u IS NOT DISTINCT FROM d.u AS u, s.by IS NOT DISTINCT FROM d.by AS by,
       s.j IS NOT DISTINCT FROM d.j AS j, s.js::jsonb IS NOT DISTINCT FROM d.js::jsonb AS js,
       s.at IS NOT DISTINCT FROM d.at AS at, s.ai IS NOT DISTINCT FROM d.ai AS ai,
       s.af IS NOT DISTINCT FROM d.af AS af, s.ao IS NOT DISTINCT FROM d.ao AS ao,
       s.aj IS NOT DISTINCT FROM d.aj AS aj, s.ab IS NOT DISTINCT FROM d.ab AS ab,
       s.nested IS NOT DISTINCT FROM d.nested AS nested, s.deep IS NOT DISTINCT FROM d.deep AS deep
FROM src s JOIN dst d USING (_id) ORDER BY s._id;
-- and nothing differs as whole rows either
SELECT count(*) AS differing FROM (
  (SELECT _id, t, vc, i2, i4, i8, f4, f8, n, b, ts, tstz, d, u, by, j, at, ai, af, ao, aj, ab, nested, deep FROM src
   EXCEPT
   SELECT _id, t, vc, i2, i4, i8, f4, f8, n, b, ts, tstz, d, u, by, j, at, ai, af, ao, aj, ab, nested, deep FROM dst)) x;

-- the BSON types MongoDB holds, as seen by another client
SELECT key, value
FROM jsonb_each((nutragenie_fdw.run_command('rt_srv', '{"find": "rt_docs", "filter": {"_id": {"$oid": "650000000000000000000001"}}}')
                 -> 'cursor' -> 'firstBatch' -> 0))
ORDER BY key;
SELECT f AS field, r -> 'cursor' -> 'firstBatch' -> 0 ->> 't' AS bson_type
FROM unnest(ARRAY['t','i2','i4','i8','f4','f8','n','b','ts','tstz','d','u','by','j','at','ao','sub']) f,
     LATERAL nutragenie_fdw.run_command('rt_srv', json_build_object(
       'aggregate', 'rt_docs',
       'pipeline', json_build_array(
         json_build_object('$match', json_build_object('_id', json_build_object('$oid', '650000000000000000000001'))),
         json_build_object('$project', json_build_object('_id', 0, 't', json_build_object('$type', '$' || f)))),
       'cursor', json_build_object())::json) r
ORDER BY f;

-- UPDATE with every type, back again
UPDATE dst d SET t = s.t, i8 = s.i8, f8 = s.f8, tstz = s.tstz, u = s.u, j = s.j, ai = s.ai, nested = s.nested
FROM src s WHERE s._id = '650000000000000000000001' AND d._id = '650000000000000000000002';
SELECT t, i8, f8, tstz, u, j, ai, nested FROM dst WHERE _id = '650000000000000000000002';

-- numeric with the default bson_type (Decimal128), and the doubles NaN,
-- +-Infinity and -0.0, where the server stores them (probed: FerretDB 1.x
-- has no Decimal128 and rejects NaN).  The output is the same on every server.
DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('rt_srv', '{"drop": "rt_dec"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;
\set probe_srv rt_srv
\i test/sql/include/server_probe.sql
CREATE TABLE dec_src (_id int, n numeric, f8 float8);
INSERT INTO dec_src VALUES
  (1, 12.25, 'NaN'), (2, '-2.50', 'Infinity'), (3, 'NaN', '-Infinity'), (4, 'Infinity', '-0'),
  (5, '-Infinity', 0), (6, '1E+20', 1e-300), (7, '0.0000000000000000000000000000000001', 5e-324),
  (8, '1234567890123456789012345678901234', -1.5), (9, 0, NULL), (10, NULL, 'NaN');
SELECT nutragenie_fdw.run_command('rt_srv', '{"create": "rt_dec"}')->>'ok';
CREATE FOREIGN TABLE dec_dst (_id int, n numeric, f8 float8) SERVER rt_srv OPTIONS (collection 'rt_dec');
\if :stores_decimal
INSERT INTO dec_dst SELECT * FROM dec_src;
\endif
-- the same values as text (so -2.50 keeps its scale and -0 its sign) ...
SELECT NOT :'stores_decimal'::bool OR count(*) = 0 AS same_values
FROM ((SELECT _id, n::text, f8::text FROM dec_src EXCEPT SELECT _id, n::text, f8::text FROM dec_dst)
      UNION ALL
      (SELECT _id, n::text, f8::text FROM dec_dst EXCEPT SELECT _id, n::text, f8::text FROM dec_src)) x;
-- ... stored as Decimal128 and double (a NULL is left out)
SELECT NOT :'stores_decimal'::bool OR
       bool_and(d->>'nt' = CASE WHEN s.n IS NULL THEN 'missing' ELSE 'decimal' END
                AND d->>'ft' = CASE WHEN s.f8 IS NULL THEN 'missing' ELSE 'double' END) AS bson_types
FROM dec_src s
LEFT JOIN jsonb_array_elements(nutragenie_fdw.run_command('rt_srv', '{"aggregate": "rt_dec", "cursor": {}, "pipeline": [
    {"$project": {"nt": {"$type": "$n"}, "ft": {"$type": "$f8"}}}]}') -> 'cursor' -> 'firstBatch') d
  ON (d->>'_id')::int = s._id;

SELECT nutragenie_fdw.run_command('rt_srv', '{"drop": "rt_docs"}')->>'ok';
DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('rt_srv', '{"drop": "rt_dec"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;
SET client_min_messages = warning;
DROP SCHEMA roundtrip CASCADE;
DROP SERVER rt_srv CASCADE;
