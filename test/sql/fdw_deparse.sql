-- Which WHERE conditions are sent to MongoDB, and as what filter.
-- EXPLAIN only: the server's URI points nowhere, nothing connects.
-- pushdown(cond) runs EXPLAIN (VERBOSE, COSTS OFF) of
--   SELECT id FROM ft WHERE <cond>
-- and returns the find command's filter ("pushed") and the conditions
-- PostgreSQL still evaluates ("kept"); a condition in both is pushed as a
-- superset and rechecked.
SET timezone = 'UTC';
CREATE SCHEMA deparse;
SET search_path = deparse, public;
CREATE SERVER deparse_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri 'mongodb://127.0.0.1:9/', database 'ng_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER deparse_srv;

CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2',
                     deterministic = false);

CREATE FOREIGN TABLE ft (
    id int OPTIONS (field '_id'),
    i2 smallint,
    i4 int,
    i8 bigint,
    f4 real,
    f8 float8,
    n numeric,
    n2 numeric(10,2),
    t text,
    vc varchar,
    vc10 varchar(10),
    bp char(5),
    o objectid,
    b bool,
    u uuid,
    ts timestamp,
    tstz timestamptz,
    d date,
    by bytea,
    arr int[],
    j jsonb,
    pi posint,
    nested int OPTIONS (field 'a.b.c'),
    a_doc jsonb OPTIONS (field 'a'),
    lax int OPTIONS (type_mismatch 'null'),
    doc jsonb OPTIONS (field '$$ROOT')
) SERVER deparse_srv OPTIONS (collection 'deparse');

CREATE FUNCTION pushdown(cond text, OUT pushed text, OUT kept text)
LANGUAGE plpgsql AS $$
DECLARE
    line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM deparse.ft WHERE ' || cond
    LOOP
        IF line ~ 'MongoDB Command: ' THEN
            pushed := (substring(line FROM 'MongoDB Command: (.*)$')::json -> 'filter')::text;
        ELSIF line ~ '^\s*Filter: ' THEN
            kept := substring(line FROM 'Filter: (.*)$');
        END IF;
    END LOOP;
END $$;

-- A few whole plans first.
EXPLAIN (VERBOSE, COSTS OFF) SELECT id, t FROM ft WHERE i4 = 5 AND t <> 'x';
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM ft WHERE i4 > 5 AND i4 < 10 AND t ILIKE 'a%';
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM ft WHERE b;
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM ft WHERE o = '650000000000000000000001';

\x on
-- integers, sent as int64 whatever the operator's input types
SELECT c AS condition, p.* FROM (VALUES
    ('i4 = 5'), ('i4 <> 5'), ('i4 < 5'), ('i4 <= 5'), ('i4 > 5'), ('i4 >= 5'),
    ('5 < i4'), ('5 <> i4'),
    ('i2 = 5'), ('i2 = 100000'), ('i8 = 9223372036854775807'),
    ('i4 = 3000000000'), ('i8 < -9007199254740993::int8'),
    ('nested = 1'), ('pi = 3')
) v(c), pushdown(c) p;

-- IN, NOT IN, ANY, ALL
SELECT c AS condition, p.* FROM (VALUES
    ('i4 IN (1, 2, 3)'), ('i4 IN (1, NULL)'), ('i4 IN (NULL::int)'),
    ('i4 NOT IN (1, 2)'), ('i4 NOT IN (1, NULL)'),
    ('i4 = ANY (''{}'')'), ('i4 <> ALL (''{}'')'),
    ('i4 < ANY (ARRAY[1, 5])'), ('i4 >= ALL (ARRAY[1, 5])'),
    ('i4 = ANY (NULL::int[])'),
    ('NOT (i4 IN (1, 2))'), ('NOT (i4 NOT IN (1, 2))')
) v(c), pushdown(c) p;

-- float8: NaN sorts above every number in PostgreSQL, matches no range in MongoDB
SELECT c AS condition, p.* FROM (VALUES
    ('f8 = 1.5'), ('f8 <> 1.5'), ('f8 < 1.5'), ('f8 <= 1.5'), ('f8 > 1.5'), ('f8 >= 1.5'),
    ('f8 = ''NaN'''), ('f8 <> ''NaN'''), ('f8 < ''NaN'''), ('f8 <= ''NaN'''),
    ('f8 > ''NaN'''), ('f8 >= ''NaN'''),
    ('f8 < ''Infinity'''), ('f8 = 2.5::real'), ('f8 IN (1, ''NaN'')'),
    ('NOT (f8 > 1.5)'),
    ('f4 = 1.5'), ('i4::float8 = 1.5')
) v(c), pushdown(c) p;

-- numeric: only integers within 2^53, and no typmod
SELECT c AS condition, p.* FROM (VALUES
    ('n = 5'), ('n = 5.000'), ('n > 5'), ('n <> -3'), ('n IN (1, 2)'),
    ('n = 9007199254740992'), ('n = 9007199254740993'), ('n = 2.5'),
    ('n = ''NaN'''), ('n2 = 5'), ('i4 = 1.5'), ('i4::numeric = 1')
) v(c), pushdown(c) p;

-- text: equality under any deterministic collation; ObjectIds read as hex
SELECT c AS condition, p.* FROM (VALUES
    ('t = ''abc'''), ('t <> ''abc'''), ('t = ''650000000000000000000001'''),
    ('t <> ''650000000000000000000001'''), ('t = ''650000000000000000000001x'''),
    ('t IN (''a'', ''650000000000000000000001'', NULL)'),
    ('t NOT IN (''a'', ''650000000000000000000001'')'),
    ('t = ''abc'' COLLATE "und-x-icu"'), ('t = ''abc'' COLLATE ci'),
    ('vc = ''abc'''), ('vc10 = ''abc'''), ('bp = ''abc''')
) v(c), pushdown(c) p;

-- text ordering: only in byte order ("C", "POSIX", ~<~), plus ObjectId ranges
SELECT c AS condition, p.* FROM (VALUES
    ('t < ''abc'' COLLATE "und-x-icu"'), ('t < ''abc'' COLLATE "C"'), ('t COLLATE "POSIX" >= ''abc'''),
    ('t ~<~ ''abc'''), ('t ~>=~ ''abc'''), ('vc < ''b'' COLLATE "C"'),
    ('t < ''650000000000000000000001'' COLLATE "C"'),
    ('t <= ''650000000000000000000001'' COLLATE "C"'),
    ('t > ''650000000000000000000001'' COLLATE "C"'),
    ('t > ''650000000000000000000001x'' COLLATE "C"'),
    ('t < ''65'' COLLATE "C"'), ('t >= ''6g'' COLLATE "C"'),
    ('t < ''A'' COLLATE "C"'), ('t < ''0'' COLLATE "C"'), ('t >= ''0'' COLLATE "C"'),
    ('t < ''ffffffffffffffffffffffffz'' COLLATE "C"'), ('t > ''g'' COLLATE "C"'),
    ('t < ''é'' COLLATE "C"'),
    ('NOT (t < ''b'' COLLATE "C")')
) v(c), pushdown(c) p;

-- LIKE: a literal prefix and then only %; ObjectIds whose hex starts with it
SELECT c AS condition, p.* FROM (VALUES
    ('t LIKE ''ab%'''), ('t LIKE ''a.b(c%'''), ('t LIKE ''a\%b%'''), ('t LIKE ''a\\%'''),
    ('t LIKE ''abc'''), ('t LIKE ''650000000000000000000001'''), ('t LIKE ''%'''),
    ('t LIKE ''65%'''), ('t LIKE ''ab%%'''), ('t LIKE ''é%'''),
    ('t NOT LIKE ''ab%'''), ('t NOT LIKE ''65%'''), ('t NOT LIKE ''abc'''),
    ('NOT (t LIKE ''ab%'')'), ('t ^@ ''ab'''), ('starts_with(t, ''ab'')'),
    ('t LIKE ''a_c%'''), ('t LIKE ''%c'''), ('t LIKE ''a%c'''),
    ('t ILIKE ''ab%'''), ('t ~ ''^ab'''), ('t LIKE ''ab%'' COLLATE ci')
) v(c), pushdown(c) p;

-- objectid, bool, uuid
SELECT c AS condition, p.* FROM (VALUES
    ('o = ''650000000000000000000001'''), ('o <> ''650000000000000000000001'''),
    ('o >= ''650000000000000000000001'''),
    ('o IN (''650000000000000000000001'', ''650000000000000000000002'')'),
    ('b'), ('NOT b'), ('b = true'), ('b <> true'), ('b < true'), ('b <= true'),
    ('b IS TRUE'), ('b IS NOT TRUE'), ('b IS FALSE'), ('b IS NOT FALSE'),
    ('b IS UNKNOWN'), ('b IS NOT UNKNOWN'),
    ('u = ''12345678-1234-1234-1234-123456789abc'''),
    ('u < ''12345678-1234-1234-1234-123456789abc''')
) v(c), pushdown(c) p;

-- dates and times: whole milliseconds, same type on both sides
SELECT c AS condition, p.* FROM (VALUES
    ('tstz >= ''2024-01-01 00:00:00+00'''), ('tstz = ''2024-01-01 12:00:00.123+02'''),
    ('tstz = ''2024-01-01 00:00:00.0005+00'''), ('tstz < ''infinity'''),
    ('ts <> ''1969-12-31 23:59:59.999'''), ('d = ''2024-01-01'''), ('d > ''1900-01-01'''),
    ('d < ''infinity'''), ('d < ''2024-01-01''::timestamptz'), ('ts = ''2024-01-01''::date'),
    ('tstz > now() - interval ''1 day'''), ('tstz > clock_timestamp()')
) v(c), pushdown(c) p;

-- NULL tests
SELECT c AS condition, p.* FROM (VALUES
    ('i4 IS NULL'), ('t IS NOT NULL'), ('NOT (i4 IS NULL)'), ('nested IS NULL'),
    ('arr IS NULL'), ('j IS NULL'), ('doc IS NULL'), ('lax IS NULL')
) v(c), pushdown(c) p;

-- AND, OR, NOT: negation pushed down to the leaves
SELECT c AS condition, p.* FROM (VALUES
    ('i4 = 1 OR t = ''x'''), ('NOT (i4 = 1 OR t = ''x'')'), ('NOT (i4 = 1 AND t = ''x'')'),
    ('i4 > 1 AND i4 < 5'), ('NOT (i4 > 1 AND i4 < 5)'), ('i4 = 1 OR i4 = 2 OR i4 IS NULL'),
    ('(i4 = 1 AND b) OR (i4 = 2 AND NOT b)'), ('NOT (NOT b OR i4 <> 3)'),
    ('i4 = 1 OR t ILIKE ''x'''), ('i4 = 1 AND t ILIKE ''x'''),
    ('(i4 > 1 OR f8 > 1) AND (i4 < 5 OR f8 < 5)')
) v(c), pushdown(c) p;

-- never pushed: other types, casts, columns on both sides, volatile functions
SELECT c AS condition, p.* FROM (VALUES
    ('by = ''\x00'''), ('arr = ''{1}'''), ('1 = ANY (arr)'), ('j @> ''{"a": 1}'''),
    ('doc ->> ''x'' = ''1'''), ('a_doc IS NULL'), ('i4 = i8'), ('i4 + 1 = 2'),
    ('i4::text = ''1'''), ('i4 = (random() * 10)::int'), ('t = lower(t)'),
    ('t = ''x'' COLLATE ci'), ('bp = ''x''')
) v(c), pushdown(c) p;

-- type_mismatch 'null': unfit values read as NULL, so pushed only with a recheck
SELECT c AS condition, p.* FROM (VALUES
    ('lax = 1'), ('lax <> 1'), ('lax IN (1, 2)'), ('lax IS NOT NULL')
) v(c), pushdown(c) p;
\x off

-- Values known at run time: Params (placeholders in EXPLAIN), recheck where
-- pushability depends on the value
SET plan_cache_mode = force_generic_plan;
PREPARE q_int(int) AS SELECT id FROM ft WHERE i4 = $1;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE q_int(1);
PREPARE q_text(text) AS SELECT id FROM ft WHERE t < $1 COLLATE "C" AND t <> $1;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE q_text('a');
PREPARE q_num(numeric) AS SELECT id FROM ft WHERE n >= $1;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE q_num(1);
PREPARE q_like(text) AS SELECT id FROM ft WHERE t LIKE $1;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE q_like('a%');
PREPARE q_arr(int[]) AS SELECT id FROM ft WHERE i4 = ANY ($1) AND i8 <> ALL ($1);
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE q_arr('{1,2}');
PREPARE q_list(int, int) AS SELECT id FROM ft WHERE i4 IN ($1, $2, 7);
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE q_list(1, 2);
PREPARE q_ts(timestamptz) AS SELECT id FROM ft WHERE tstz > $1 OR d = $1::date;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE q_ts('2024-01-01');
RESET plan_cache_mode;
DEALLOCATE ALL;

-- a correlated subquery: the outer value is a Param of the scan
EXPLAIN (VERBOSE, COSTS OFF)
SELECT x, (SELECT count(*) FROM ft WHERE ft.i4 = v.x) FROM (VALUES (1), (2)) v(x);

-- projection: only needed fields, no colliding paths, _id always
EXPLAIN (VERBOSE, COSTS OFF) SELECT nested, a_doc FROM ft;
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM ft;
EXPLAIN (VERBOSE, COSTS OFF) SELECT doc FROM ft WHERE i4 = 1;

SET client_min_messages = warning;
DROP SCHEMA deparse CASCADE;
DROP SERVER deparse_srv CASCADE;
RESET client_min_messages;
