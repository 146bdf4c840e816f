-- Differential test of condition pushdown: the same rows in a MongoDB
-- collection (read through a foreign table) and in a plain table, and
-- many WHERE clauses run against both.  Every clause must return the same
-- rows from both; any difference is reported with the clause.  The counts
-- of clauses whose filter reached MongoDB make the test fail if pushdown
-- silently stops.
--
-- The documents mix BSON types on purpose: int32, int64 and integral
-- doubles in integer columns, strings and ObjectIds in a text column,
-- missing fields and nulls everywhere, a type_mismatch 'null' column with
-- strings and arrays.  Where the server stores them (MongoDB, FerretDB 2 on
-- DocumentDB: probed), 50 more documents hold NaN, the
-- infinities and -0.0 in the double column and Decimal128 values (NaN,
-- infinities, -0 included) in the numeric one; FerretDB 1.x rejects them, and
-- there NaN and infinities only occur as constants.  The output is the same
-- either way; with NG_SERVER=documentdb the test fails if they were not stored.
-- The plain table is filled from the foreign table, so it holds exactly the
-- values PostgreSQL reads; only the evaluation of WHERE is compared.
\set VERBOSITY terse
SET timezone = 'UTC';
-- PostgreSQL 16+ may feed an aggregate's ORDER BY/DISTINCT from a sorted
-- scan (enable_presorted_aggregate), which turns the scans of these queries
-- into sorted pipelines there but not on 15: keep the plans of every version
-- alike.
DO $$
BEGIN
    IF current_setting('server_version_num')::int >= 160000 THEN
        PERFORM set_config('enable_presorted_aggregate', 'off', false);
    END IF;
END $$;
CREATE SCHEMA differential;
SET search_path = differential, public;
\getenv mongo_uri MONGODB_URI
CREATE SERVER differential_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri :'mongo_uri', database 'ng_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER differential_srv;
DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('differential_srv', '{"drop": "differential"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;

-- Values per field, as Extended JSON; MISSING leaves the field out.
CREATE TABLE pools (field text, step int, vals text[]);
INSERT INTO pools VALUES
('i', 41, ARRAY['0', '1', '-1', '5', '7', '10', '3', '{"$numberLong": "5"}',
  '{"$numberLong": "-7"}', '{"$numberDouble": "5.0"}', '{"$numberDouble": "10.0"}',
  '2147483647', '-2147483648', '{"$numberLong": "2147483647"}',
  '{"$numberDouble": "-2147483648.0"}', 'null', 'MISSING']),
('l', 43, ARRAY['0', '1', '-1', '5', '100', '{"$numberDouble": "-5.0"}',
  '{"$numberLong": "9007199254740993"}', '{"$numberLong": "-9007199254740993"}',
  '{"$numberLong": "9007199254740992"}', '{"$numberDouble": "9007199254740992.0"}',
  '{"$numberLong": "4611686018427387904"}', '{"$numberLong": "9223372036854775807"}',
  '{"$numberLong": "-9223372036854775808"}', 'null', 'MISSING']),
('f', 47, ARRAY['1.5', '-1.5', '0.0', '{"$numberDouble": "-0.0"}', '0.1', '2.5',
  '1e300', '-1e300', '5', '3.0', '{"$numberLong": "-3"}',
  '{"$numberLong": "9007199254740992"}', '0.30000000000000004',
  '{"$numberDouble": "5e-324"}', 'null', 'MISSING']),
('n', 53, ARRAY['0', '1', '-1', '3', '5', '{"$numberDouble": "5.0"}',
  '{"$numberLong": "-5"}', '0.1', '2.5', '-2.5', '1e20', '1e-300',
  '{"$numberLong": "9007199254740993"}', '{"$numberLong": "9007199254740992"}',
  '{"$numberDouble": "9007199254740992.0"}', 'null', 'MISSING']),
('t', 59, ARRAY['""', '"abc"', '"abd"', '"ABC"', '"a.c"', '"a%c"', '"a_c"',
  '"a\\c"', '"ß"', '"é"', '"日本"', '"abc "', '"a"', '"ab"', '"b"', '"z"', '"~"',
  '"a\nb"', '"5"', '"^a"', '"650000000000000000000001"',
  '"abcdef0123456789abcdef01"', '"ABCDEF0123456789ABCDEF01"',
  '"abcdef0123456789abcdef0"', '"abcdef0123456789abcdef012"',
  '{"$oid": "650000000000000000000001"}', '{"$oid": "abcdef0123456789abcdef01"}',
  '{"$oid": "ffffffffffffffffffffffff"}', '{"$oid": "000000000000000000000000"}',
  '{"$oid": "6500000000000000000000ff"}', 'null', 'MISSING']),
('o', 61, ARRAY['{"$oid": "650000000000000000000001"}',
  '{"$oid": "650000000000000000000002"}', '{"$oid": "000000000000000000000000"}',
  '{"$oid": "ffffffffffffffffffffffff"}', '{"$oid": "7fffffffffffffffffffffff"}',
  '{"$oid": "800000000000000000000000"}', 'null', 'MISSING']),
('b', 67, ARRAY['true', 'false', 'null', 'MISSING', 'true']),
('tz', 71, ARRAY['{"$date": {"$numberLong": "0"}}', '{"$date": {"$numberLong": "1"}}',
  '{"$date": {"$numberLong": "-1"}}', '{"$date": {"$numberLong": "1704067200000"}}',
  '{"$date": {"$numberLong": "1704067200001"}}', '{"$date": {"$numberLong": "1704067199999"}}',
  '{"$date": {"$numberLong": "1704153600000"}}', '{"$date": {"$numberLong": "-62135596800000"}}',
  '{"$date": {"$numberLong": "253402300799999"}}', 'null', 'MISSING']),
('ts', 73, ARRAY['{"$date": {"$numberLong": "0"}}', '{"$date": {"$numberLong": "-1"}}',
  '{"$date": {"$numberLong": "1704067200000"}}', '{"$date": {"$numberLong": "1704067200001"}}',
  '{"$date": {"$numberLong": "946684800000"}}', 'null', 'MISSING']),
('d', 79, ARRAY['{"$date": {"$numberLong": "0"}}', '{"$date": {"$numberLong": "86400000"}}',
  '{"$date": {"$numberLong": "-86400000"}}', '{"$date": {"$numberLong": "1704067200000"}}',
  '{"$date": {"$numberLong": "1704153600000"}}', '{"$date": {"$numberLong": "946684800000"}}',
  '{"$date": {"$numberLong": "-62135596800000"}}', 'null', 'MISSING']),
('u', 83, ARRAY['{"$binary": {"base64": "AAAAAAAAAAAAAAAAAAAAAA==", "subType": "04"}}',
  '{"$binary": {"base64": "/////////////////////w==", "subType": "04"}}',
  '{"$binary": {"base64": "EjRWeJq83vASNFZ4mrze8A==", "subType": "04"}}',
  '{"$binary": {"base64": "gAAAAAAAAAAAAAAAAAAAAA==", "subType": "04"}}', 'null', 'MISSING']),
('nest', 89, ARRAY['{"x": 1}', '{"x": 2}', '{"x": {"$numberLong": "2"}}', '{"x": 1.0}',
  '{"x": null}', '{}', '"str"', 'null', 'MISSING']),
('mixed', 97, ARRAY['1', '5', '{"$numberLong": "5"}', '2.0', '1.5', '"x"', '[1, 2]', '[5]',
  '[]', '{"a": 1}', 'true', '{"$numberLong": "99999999999"}', 'null', 'MISSING']);

-- Values only some servers store, for documents 151 to 200 (their other
-- fields come from the pools above).
CREATE TABLE special_pools (field text, vals text[]);
INSERT INTO special_pools VALUES
('f', ARRAY['{"$numberDouble": "NaN"}', '{"$numberDouble": "Infinity"}',
  '{"$numberDouble": "-Infinity"}', '{"$numberDouble": "-0.0"}', '1.5', 'null']),
('n', ARRAY['{"$numberDecimal": "5"}', '{"$numberDecimal": "5.0"}', '{"$numberDecimal": "2.5"}',
  '{"$numberDecimal": "-0"}', '{"$numberDecimal": "0.1"}', '{"$numberDecimal": "NaN"}',
  '{"$numberDecimal": "Infinity"}', '{"$numberDecimal": "-Infinity"}',
  '{"$numberDecimal": "1E+20"}', '{"$numberDecimal": "9007199254740993"}',
  '{"$numberDecimal": "-2.50"}', '{"$numberDouble": "NaN"}', '{"$numberDouble": "Infinity"}',
  '3', 'null']);

-- The documents first to last, as a JSON array; with special, the special
-- pools replace the others.
CREATE FUNCTION pool_docs(first int, last int, special bool) RETURNS json
LANGUAGE sql AS $$
    SELECT json_agg(doc ORDER BY id) FROM (
        SELECT r AS id,
               (SELECT json_object_agg(field, val::json ORDER BY ord)
                FROM (SELECT 0 AS ord, '_id' AS field, r::text AS val
                      UNION ALL
                      SELECT p.step, p.field,
                             coalesce(CASE WHEN special THEN s.vals[1 + (r * 7) % array_length(s.vals, 1)] END,
                                      p.vals[1 + (r * p.step) % array_length(p.vals, 1)])
                      FROM differential.pools p
                      LEFT JOIN differential.special_pools s USING (field)) e
                WHERE val <> 'MISSING') AS doc
        FROM generate_series(first, last) r) docs
$$;
SELECT (nutragenie_fdw.run_command('differential_srv', json_build_object(
    'insert', 'differential', 'documents', pool_docs(1, 150, false))) ->> 'n')::int AS inserted;
\set probe_srv differential_srv
\i test/sql/include/server_probe.sql
\if :stores_decimal
SELECT (nutragenie_fdw.run_command('differential_srv', json_build_object(
    'insert', 'differential', 'documents', pool_docs(151, 200, true))) ->> 'n')::int AS special_n \gset
\endif

CREATE FOREIGN TABLE ft (
    id int OPTIONS (field '_id'),
    i int,
    l bigint,
    f float8,
    n numeric,
    t text,
    vc varchar OPTIONS (field 't'),
    o objectid,
    b bool,
    tz timestamptz,
    ts timestamp,
    d date,
    u uuid,
    nx int OPTIONS (field 'nest.x'),
    lax int OPTIONS (field 'mixed', type_mismatch 'null')
) SERVER differential_srv OPTIONS (collection 'differential');

CREATE TABLE lt (LIKE ft);
INSERT INTO lt SELECT * FROM ft;
SELECT count(*) AS rows, count(i) AS i, count(t) AS t, count(lax) AS lax FROM lt WHERE id <= 150;
SELECT count(*) = CASE WHEN :'stores_decimal'::bool THEN 50 ELSE 0 END AS special_rows,
       (count(*) FILTER (WHERE f = 'NaN' OR n = 'NaN') > 0) = :'stores_decimal'::bool AS nan_rows
FROM lt WHERE id > 150;

-- The conditions.  sql uses %T for the table.
CREATE TABLE cases (seq serial, grp text, sql text);
CREATE FUNCTION where_sql(cond text) RETURNS text LANGUAGE sql AS $$
    SELECT 'SELECT array_agg(id ORDER BY id) FROM %T WHERE ' || cond
$$;

-- col op const for every comparison and constant
CREATE TABLE operands (grp text, col text, ops text[], consts text[]);
INSERT INTO operands VALUES
('int', 'i', '{=,<>,<,<=,>,>=}', ARRAY['NULL::int', '0', '1', '-1', '5', '7', '-7',
  '2147483647', '-2147483648', '5::int8', '3000000000::int8', '5::int2']),
('bigint', 'l', '{=,<>,<,<=,>,>=}', ARRAY['NULL::bigint', '0', '5', '-5', '100::int4',
  '9007199254740993', '9007199254740992', '-9007199254740993',
  '9223372036854775807', '-9223372036854775808', '4611686018427387904']),
('float8', 'f', '{=,<>,<,<=,>,>=}', ARRAY['NULL::float8', '0', '''-0''::float8', '1.5',
  '-1.5', '0.1', '5', '3', '2.5::real', '0.1::real', '1e300', '-1e300', '''NaN''::float8',
  '''Infinity''::float8', '''-Infinity''::float8', '9007199254740992',
  '0.30000000000000004', '5e-324']),
('numeric', 'n', '{=,<>,<,<=,>,>=}', ARRAY['NULL::numeric', '0', '1', '5', '5.0', '-5', '3',
  '2.5', '0.1', '1e20', '9007199254740993', '9007199254740992', '-9007199254740992',
  '''NaN''::numeric', '1e-300']),
('text', 't', '{=,<>}', ARRAY['NULL::text', '''''', '''abc''', '''ab''', '''ABC''', '''abc ''',
  '''ß''', '''日本''', '''650000000000000000000001''', '''65''',
  '''abcdef0123456789abcdef01''', '''ffffffffffffffffffffffff''', '''a.c''', '''5''']),
('text C order', 't', '{<,<=,>,>=}', ARRAY['NULL::text', '''''', '''abc'' COLLATE "C"',
  '''ab'' COLLATE "C"', '''a'' COLLATE "C"', '''ABC'' COLLATE "C"', '''abc '' COLLATE "C"',
  '''é'' COLLATE "C"', '''~'' COLLATE "C"', '''650000000000000000000001'' COLLATE "C"',
  '''650000000000000000000001x'' COLLATE "C"', '''65'' COLLATE "C"', '''6'' COLLATE "C"',
  '''6g'' COLLATE "C"', '''abcdef'' COLLATE "C"', '''abcdef0123456789abcdef01'' COLLATE "C"',
  '''abcdef0123456789abcdef0'' COLLATE "C"', '''g'' COLLATE "C"', '''A'' COLLATE "C"',
  '''0'' COLLATE "C"', '''ffffffffffffffffffffffff'' COLLATE "C"',
  '''fffffffffffffffffffffffg'' COLLATE "C"', '''000000000000000000000000'' COLLATE "C"']),
('text pattern order', 't', '{~<~,~<=~,~>~,~>=~}', ARRAY['''abc''', '''65''',
  '''650000000000000000000001''', '''A''']),
('text ICU order', 't', '{<,>=}', ARRAY['''abc'' COLLATE "und-x-icu"',
  '''B'' COLLATE "und-x-icu"']),
('varchar', 'vc', '{=,<>}', ARRAY['''abc''', '''650000000000000000000001''']),
('objectid', 'o', '{=,<>,<,<=,>,>=}', ARRAY['NULL::objectid',
  '''650000000000000000000001''::objectid', '''650000000000000000000003''::objectid',
  '''000000000000000000000000''::objectid', '''ffffffffffffffffffffffff''::objectid',
  '''7fffffffffffffffffffffff''::objectid']),
('bool', 'b', '{=,<>,<,<=,>,>=}', ARRAY['NULL::bool', 'true', 'false', 'true']),
('timestamptz', 'tz', '{=,<>,<,<=,>,>=}', ARRAY['NULL::timestamptz',
  '''1970-01-01 00:00:00+00''::timestamptz', '''2024-01-01 00:00:00+00''::timestamptz',
  '''2024-01-01 00:00:00.001+00''::timestamptz', '''2023-12-31 23:59:59.999+00''::timestamptz',
  '''2024-01-01 00:00:00.0005+00''::timestamptz', '''infinity''::timestamptz',
  '''-infinity''::timestamptz', '''0001-01-01 00:00:00+00''::timestamptz',
  '''1969-12-31 23:59:59.999+00''::timestamptz']),
('timestamp', 'ts', '{=,<>,<,<=,>,>=}', ARRAY['NULL::timestamp',
  '''1970-01-01 00:00:00''::timestamp', '''2024-01-01 00:00:00.001''::timestamp',
  '''1969-12-31 23:59:59.999''::timestamp', '''2000-01-01 00:00:00.0001''::timestamp',
  '''infinity''::timestamp']),
('date', 'd', '{=,<>,<,<=,>,>=}', ARRAY['NULL::date', '''1970-01-01''::date',
  '''1969-12-31''::date', '''2024-01-01''::date', '''2024-01-02''::date',
  '''infinity''::date', '''-infinity''::date', '''0001-01-01''::date']),
('uuid', 'u', '{=,<>,<,<=,>,>=}', ARRAY['NULL::uuid',
  '''00000000-0000-0000-0000-000000000000''::uuid',
  '''12345678-9abc-def0-1234-56789abcdef0''::uuid',
  '''7fffffff-ffff-ffff-ffff-ffffffffffff''::uuid',
  '''ffffffff-ffff-ffff-ffff-ffffffffffff''::uuid']),
('nested', 'nx', '{=,<>,>}', ARRAY['1', '2', '0', '-1']),
('type_mismatch null', 'lax', '{=,<>,<,>=}', ARRAY['1', '5', '2', '99999999999::int8']);

INSERT INTO cases (grp, sql)
SELECT grp, where_sql(format('%s %s %s', col, op, c))
FROM operands, unnest(ops) op, unnest(consts) c ORDER BY grp, col, op, c;

-- IS [NOT] NULL, IN, NOT IN, ANY, ALL
INSERT INTO cases (grp, sql)
SELECT o.grp, where_sql(x)
FROM operands o,
     LATERAL (SELECT consts[2] AS c1, consts[3] AS c2, consts[4] AS c3) c,
     unnest(ARRAY[
        format('%s IS NULL', col), format('%s IS NOT NULL', col),
        format('%s IN (%s, %s)', col, c1, c2), format('%s IN (%s, NULL)', col, c1),
        format('%s NOT IN (%s, %s)', col, c1, c3),
        format('%s NOT IN (%s, NULL)', col, c2),
        format('%s = ANY (ARRAY[%s, %s])', col, c2, c3),
        format('%s = ANY (''{}'')', col), format('%s <> ALL (''{}'')', col),
        format('%s %s ANY (ARRAY[%s, %s])', col, ops[array_upper(ops, 1)], c1, c2),
        format('%s %s ALL (ARRAY[%s, %s])', col, ops[array_upper(ops, 1)], c1, c3)]) x
WHERE o.grp NOT IN ('text ICU order', 'text pattern order', 'varchar')
ORDER BY o.grp, x;

-- bool columns and tests
INSERT INTO cases (grp, sql)
SELECT 'bool', where_sql(x) FROM unnest(ARRAY['b', 'NOT b', 'b IS TRUE', 'b IS NOT TRUE',
  'b IS FALSE', 'b IS NOT FALSE', 'b IS UNKNOWN', 'b IS NOT UNKNOWN']) x;

-- LIKE and friends
INSERT INTO cases (grp, sql)
SELECT 'like', where_sql(format('%s %s %L', col, op, p))
FROM unnest(ARRAY['t', 'vc']) col,
     unnest(ARRAY['LIKE', 'NOT LIKE']) op,
     unnest(ARRAY['ab%', 'a%', '%', '', 'abc', 'a.%', 'a\%%', 'a\_c', 'a_c', '%c', '65%',
                  '6500%', 'abcdef0123456789abcdef01%', 'abcdef0123456789abcdef01',
                  '650000000000000000000001', 'ABC%', 'ß%', 'a\\%', 'abc%%', 'f%', '0%',
                  '^a%', 'a', '日%']) p
ORDER BY 2;
INSERT INTO cases (grp, sql)
SELECT 'like', where_sql(format('t ^@ %L', p))
FROM unnest(ARRAY['ab', '', '65', 'abcdef0123456789abcdef01', 'a.', 'é']) p;

-- run-time values: the constant comes from a LATERAL outer row, so the scan
-- sees a Param evaluated when it starts
INSERT INTO cases (grp, sql)
SELECT 'param ' || o.grp,
       format('SELECT array_agg(s.id ORDER BY s.id) FROM (SELECT %s AS x OFFSET 0) v '
              'CROSS JOIN LATERAL (SELECT id FROM %%T WHERE %s %s v.x%s OFFSET 0) s',
              c, o.col, op, CASE WHEN o.grp = 'text C order' THEN ' COLLATE "C"' ELSE '' END)
FROM operands o, unnest(o.ops) op, unnest(o.consts) c
WHERE o.grp IN ('int', 'float8', 'numeric', 'text', 'text C order', 'objectid',
                'timestamptz', 'date', 'uuid')
  AND op IN ('=', '<>', '<', '>=')
ORDER BY 2;
INSERT INTO cases (grp, sql)
SELECT 'param like',
       format('SELECT array_agg(s.id ORDER BY s.id) FROM (SELECT %L::text AS x OFFSET 0) v '
              'CROSS JOIN LATERAL (SELECT id FROM %%T WHERE t %s v.x OFFSET 0) s', p, op)
FROM unnest(ARRAY['ab%', 'a_c', '65%', 'abc', '%', 'a\%%']) p,
     unnest(ARRAY['LIKE', 'NOT LIKE']) op;

-- NOT of every condition so far, then AND / OR / NOT over pairs
INSERT INTO cases (grp, sql)
SELECT 'NOT ' || grp, regexp_replace(sql, ' WHERE (.*)$', ' WHERE NOT (\1)')
FROM cases WHERE grp NOT LIKE 'param%' ORDER BY seq;

CREATE TABLE base AS
SELECT row_number() OVER (ORDER BY seq) AS k, substring(sql FROM ' WHERE (.*)$') AS cond
FROM cases WHERE grp NOT LIKE 'param%' AND grp NOT LIKE 'NOT %';
INSERT INTO cases (grp, sql)
SELECT 'pairs ' || shape,
       'SELECT array_agg(id ORDER BY id) FROM %T WHERE ' ||
       format(shape, a.cond, b.cond)
FROM generate_series(1, 150) g,
     unnest(ARRAY['(%s) AND (%s)', '(%s) OR (%s)', 'NOT ((%s) OR (%s))',
                  'NOT ((%s) AND (%s))']) shape,
     base a, base b
WHERE a.k = 1 + (g * 37) % (SELECT count(*) FROM base)
  AND b.k = 1 + (g * 61 + 11) % (SELECT count(*) FROM base)
ORDER BY shape, g;

-- Run every case against both tables.
CREATE TABLE outcomes (seq int, grp text, pushed bool, mismatch bool);
-- Run the cases of a table of cases (seq, grp, sql) whose group matches
-- grp_like against both tables, comparing the results as text.  A case
-- counts as pushed when a line of its EXPLAIN (VERBOSE) satisfies
-- pushed_when, an expression over $1, the line.  Outcomes are numbered
-- seq + seq_offset.
CREATE PROCEDURE run_cases(cases regclass, seq_offset int, grp_like text, pushed_when text)
LANGUAGE plpgsql AS $$
DECLARE
    c record;
    q text;
    got_ft text;
    got_lt text;
    err_ft text;
    err_lt text;
    line text;
    pushed bool;
    hit bool;
BEGIN
    FOR c IN EXECUTE format('SELECT * FROM %s WHERE grp LIKE $1 ORDER BY seq', cases)
             USING grp_like LOOP
        err_ft := NULL;
        err_lt := NULL;
        got_ft := NULL;
        got_lt := NULL;
        q := replace(c.sql, '%T', 'differential.ft');
        BEGIN
            EXECUTE q INTO got_ft;
        EXCEPTION WHEN OTHERS THEN
            err_ft := SQLSTATE || ' ' || SQLERRM;
        END;
        BEGIN
            EXECUTE replace(c.sql, '%T', 'differential.lt') INTO got_lt;
        EXCEPTION WHEN OTHERS THEN
            err_lt := SQLSTATE || ' ' || SQLERRM;
        END;

        pushed := false;
        FOR line IN EXECUTE 'EXPLAIN (VERBOSE, COSTS OFF) ' || q LOOP
            EXECUTE 'SELECT ' || pushed_when INTO hit USING line;
            pushed := pushed OR hit;
        END LOOP;

        IF got_ft IS DISTINCT FROM got_lt OR err_ft IS DISTINCT FROM err_lt THEN
            RAISE NOTICE 'mismatch: %', q;
            RAISE NOTICE '  through MongoDB: % %', got_ft, coalesce(err_ft, '');
            RAISE NOTICE '  locally:         % %', got_lt, coalesce(err_lt, '');
        END IF;
        INSERT INTO differential.outcomes
        VALUES (c.seq + seq_offset, c.grp, pushed,
                got_ft IS DISTINCT FROM got_lt OR err_ft IS DISTINCT FROM err_lt);
    END LOOP;
END $$;
CALL run_cases('cases', 0, '%', $$
    $1 ~ 'MongoDB Command: ' AND
    (SELECT count(*) FROM json_object_keys(
         substring($1 FROM 'MongoDB Command: (.*)$')::json -> 'filter')) > 0$$);

-- ORDER BY / LIMIT / OFFSET and aggregates.  The result of each query is
-- compared as text: the ids in the order returned (id, the unique _id, is
-- the last sort key, so the order is total), or the sorted groups.  A
-- query counts as pushed when its MongoDB command sorts, skips, limits or
-- aggregates.  On a server without $min, $max or $cond (FerretDB 1.x) the
-- aggregates using them run through the scan's local fallback.
CREATE TABLE upper_cases (seq serial, grp text, sql text);

-- every column under the four NULL placements, with no condition, with
-- "col IS NOT NULL", or with a condition from above; half of them with
-- LIMIT and OFFSET
CREATE TABLE sort_cols (k int, col text, expr text);
INSERT INTO sort_cols VALUES (1, 'i', 'i'), (2, 'l', 'l'), (3, 'f', 'f'), (4, 'n', 'n'),
  (5, 't', 't COLLATE "C"'), (6, 't default', 't'), (7, 'vc', 'vc COLLATE "C"'), (8, 'o', 'o'),
  (9, 'b', 'b'), (10, 'tz', 'tz'), (11, 'ts', 'ts'), (12, 'd', 'd'), (13, 'u', 'u'),
  (14, 'nx', 'nx'), (15, 'lax', 'lax');
INSERT INTO upper_cases (grp, sql)
SELECT 'sort ' || c.col,
       format('SELECT array_agg(id)::text FROM (SELECT id FROM %%T WHERE %s ORDER BY %s %s, id NULLS FIRST%s) s',
              CASE v WHEN 0 THEN 'true'
                     WHEN 1 THEN format('%s IS NOT NULL', split_part(c.expr, ' ', 1))
                     ELSE (SELECT cond FROM base
                           WHERE base.k = 1 + (w * 53 + c.k * 7 + lim) % (SELECT count(*) FROM base)) END,
              c.expr, dir,
              CASE lim WHEN 0 THEN '' ELSE format(' LIMIT %s OFFSET %s', 2 + (c.k + w) % 7, (c.k * w) % 4) END)
FROM sort_cols c,
     unnest(ARRAY['ASC NULLS FIRST', 'DESC NULLS LAST', 'ASC', 'DESC']) WITH ORDINALITY AS d(dir, w),
     generate_series(0, 2) v, LATERAL (SELECT (c.k + w + v) % 2 AS lim) l
ORDER BY c.k, w, v;
INSERT INTO upper_cases (grp, sql)
SELECT 'limit',
       format('SELECT array_agg(id)::text FROM (SELECT id FROM %%T WHERE %s ORDER BY id DESC NULLS LAST LIMIT %s OFFSET %s) s',
              cond, 1 + base.k % 9, base.k % 4)
FROM base WHERE base.k % 25 = 0
ORDER BY base.k;

-- GROUP BY each column (and none, and pairs) with count(*) only, which any
-- server runs, and with count(col), min and max; with no condition, a
-- pushed one, or one kept local; with and without HAVING; and the groups
-- sorted and limited
CREATE TABLE group_cols (k int, g text);
INSERT INTO group_cols VALUES (1, NULL), (2, 'i'), (3, 'l'), (4, 't'), (5, 'vc'), (6, 'o'),
  (7, 'b'), (8, 'tz'), (9, 'd'), (10, 'u'), (11, 'nx'), (12, 'f'), (13, 'lax'), (14, 'i, b'),
  (15, 't, o'), (16, 'nx, d');
INSERT INTO upper_cases (grp, sql)
SELECT 'group by ' || coalesce(g, 'nothing'),
       format('SELECT string_agg(r::text, '';'' ORDER BY r::text) FROM (SELECT %s%s FROM %%T WHERE %s%s%s) r',
              coalesce(g || ', ', ''), aggs, cond,
              coalesce(' GROUP BY ' || g, ''),
              CASE WHEN h AND g IS NOT NULL THEN ' HAVING count(*) > 1' ELSE '' END)
FROM group_cols,
     unnest(ARRAY['count(*)', 'count(*), count(i), min(i), max(l), min(tz), max(d), count(t)']) WITH ORDINALITY AS a(aggs, ak),
     unnest(ARRAY['true', 'i > 0', 'f::text <> ''1.5''']) WITH ORDINALITY AS w(cond, ck),
     unnest(ARRAY[false, true]) h
WHERE h = false OR cond = 'i > 0'
ORDER BY group_cols.k, ak, ck, h;
INSERT INTO upper_cases (grp, sql)
SELECT 'group by limit',
       format('SELECT string_agg(r::text, '';'') FROM (SELECT %s, count(*) FROM %%T GROUP BY %s ORDER BY count(*) DESC, %s NULLS FIRST, %s DESC NULLS LAST LIMIT %s OFFSET %s) r',
              g, g, g, g, 2 + k, k % 2)
FROM unnest(ARRAY['i', 'l', 'o', 'b', 'tz', 'd', 'u', 'nx']) WITH ORDINALITY AS x(g, k)
ORDER BY k;

CALL run_cases('upper_cases', 100000, '%', $$
    $1 ~ 'MongoDB Command: ' AND
    EXISTS (SELECT FROM json_object_keys(substring($1 FROM 'MongoDB Command: (.*)$')::json) k
            WHERE k IN ('sort', 'skip', 'limit', 'aggregate'))$$);

-- Joins of a local table to the collection on every column, as batched key
-- joins (one $in find per batch of 16 outer rows): inner and left joins,
-- with conditions on either side, same-type and cross-type keys, keys that
-- repeat, are NULL or match nothing.  The other join methods are disabled
-- so that the batched join is used wherever it applies; a query counts as
-- pushed when its plan has one.
CREATE TABLE jk (LIKE lt);
INSERT INTO jk SELECT * FROM lt WHERE id % 3 = 0;
INSERT INTO jk SELECT * FROM lt WHERE id % 9 = 0;
INSERT INTO jk (id, i, l, f, n, t, vc, o, b, tz, ts, d, u, nx, lax)
VALUES (1001, 123456, 123456, 0.25, 0.25, 'zzz', 'zzz', 'aaaaaaaaaaaaaaaaaaaaaaaa', NULL,
        '2001-01-01 00:00:00+00', '2001-01-01 00:00:00', '2001-01-01',
        '11111111-1111-1111-1111-111111111111', 77, 77),
       (1002, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
       (1003, 5, 5, 5, 5, '650000000000000000000001', 'abcdef0123456789abcdef01',
        '650000000000000000000001', true, '2024-01-01 00:00:00+00', '1970-01-01 00:00:00',
        '1970-01-01', '00000000-0000-0000-0000-000000000000', 1, 5);
ALTER FOREIGN TABLE ft OPTIONS (ADD batch_size '16');
INSERT INTO upper_cases (grp, sql)
SELECT 'join ' || j.kind,
       format('SELECT string_agg(k.id || '':'' || coalesce(x.id::text, ''-''), '','' ORDER BY k.id, x.id) '
              'FROM jk k %s JOIN %%T x ON x.%s = %s%s%s',
              j.kind, c.col, c.outer_expr, j.extra, j.filter)
FROM (VALUES ('i', 'k.i'), ('l', 'k.l'), ('f', 'k.f'), ('n', 'k.n'), ('t', 'k.t'),
             ('vc', 'k.vc'), ('o', 'k.o'), ('b', 'k.b'), ('tz', 'k.tz'), ('ts', 'k.ts'),
             ('d', 'k.d'), ('u', 'k.u'), ('nx', 'k.nx'), ('lax', 'k.lax'),
             ('i', 'k.l'), ('l', 'k.i'), ('f', 'k.i::float8'), ('n', 'k.l::numeric'),
             ('t', 'k.vc'), ('t', 'k.o::text'), ('id', 'k.nx + 1')) AS c(col, outer_expr),
     (VALUES ('', '', ''), ('LEFT', '', ''), ('LEFT', ' AND x.i > 0', ''),
             ('', '', ' WHERE k.id % 2 = 0 AND x.b IS NOT TRUE')) AS j(kind, extra, filter)
ORDER BY c.col, c.outer_expr, j.kind, j.extra;

SET enable_hashjoin = off;
SET enable_mergejoin = off;
SET enable_nestloop = off;
CALL run_cases('upper_cases', 100000, 'join %', $$$1 ~ 'NutragenieBatchedKeyJoin'$$);
RESET enable_hashjoin;
RESET enable_mergejoin;
RESET enable_nestloop;

SELECT grp, count(*) AS queries, count(*) FILTER (WHERE mismatch) AS mismatches,
       count(*) FILTER (WHERE pushed) AS pushed
FROM outcomes GROUP BY ROLLUP (grp) ORDER BY grp NULLS LAST;

DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('differential_srv', '{"drop": "differential"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;
SET client_min_messages = warning;
DROP SCHEMA differential CASCADE;
DROP SERVER differential_srv CASCADE;
RESET client_min_messages;
