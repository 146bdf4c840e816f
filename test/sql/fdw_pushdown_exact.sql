-- Differential test of the aggregates pushed as partial groups (sum, avg,
-- min/max of float8, numeric and text) and of GROUP BY keys merged instead
-- of guarded: the same rows in a collection (read through a foreign table)
-- and in a plain table, many aggregations run against both, results
-- compared as text.  Any difference is reported with the query; the test
-- fails if one is found, if the queries stop being pushed, or if none of
-- them runs on the server where the server can run them.
--
-- The documents mix BSON types on purpose: int32, int64 (with its extremes,
-- so that some int64 sums overflow in MongoDB) and integral doubles in the
-- integer columns, strings and ObjectIds of the same hex digits in the
-- text column, nulls and missing fields everywhere.  Where the server stores
-- them (FerretDB 2 on DocumentDB, MongoDB: probed), 60 more documents hold
-- NaN, the infinities and -0.0 in the double column and Decimal128 values
-- (NaN and infinities too) in the numeric one; FerretDB 1.x rejects them.
-- The output is the same on every server: a pipeline that cannot be
-- finalized exactly, or that the server rejects, runs the local plan, and
-- only whether some query ran on the server is printed, against what the
-- probe says the server can do.
\set VERBOSITY terse
SET timezone = 'UTC';
CREATE SCHEMA fdw_pushdown_exact;
SET search_path = fdw_pushdown_exact, public;
\getenv mongo_uri MONGODB_URI
CREATE SERVER exact_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri :'mongo_uri', database 'ng_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER exact_srv;
DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('exact_srv', '{"drop": "exact"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;

-- Values per field, as Extended JSON; MISSING leaves the field out.
CREATE TABLE pools (field text, step int, vals text[]);
INSERT INTO pools VALUES
('g', 7, ARRAY['"a"', '"b"', '"c"', '"650000000000000000000001"',
  '{"$oid": "650000000000000000000001"}', '{"$oid": "650000000000000000000002"}',
  'null', 'MISSING']),
('h', 11, ARRAY['true', 'false', 'null', 'MISSING']),
('nest', 13, ARRAY['{"x": 1}', '{"x": {"$numberLong": "2"}}', '{"x": null}', '{}', '"str"',
  'null', 'MISSING']),
('i', 17, ARRAY['0', '1', '-1', '5', '7', '2147483647', '-2147483648',
  '{"$numberLong": "5"}', '{"$numberLong": "-7"}', 'null', 'MISSING']),
('l', 19, ARRAY['0', '1', '-1', '100', '{"$numberLong": "9223372036854775807"}',
  '{"$numberLong": "-9223372036854775808"}', '{"$numberLong": "9007199254740993"}',
  '{"$numberLong": "4611686018427387904"}', 'null', 'MISSING']),
('n', 23, ARRAY['0', '1', '-1', '3', '{"$numberLong": "-5"}',
  '{"$numberLong": "9007199254740993"}', 'null', 'MISSING']),
('f', 29, ARRAY['1.5', '-1.5', '0.5', '2.5', '1e300', '-1e300', '5', '3.0',
  '{"$numberLong": "-3"}', '0.30000000000000004', 'null', 'MISSING']),
('t', 31, ARRAY['""', '"abc"', '"abd"', '"ABC"', '"é"', '"日本"', '"a"', '"~"',
  '"650000000000000000000001"', '{"$oid": "650000000000000000000001"}',
  '{"$oid": "ffffffffffffffffffffffff"}', 'null', 'MISSING']),
-- a double in an integer column: read exactly, but never summed remotely
('d', 37, ARRAY['1', '2', '{"$numberDouble": "4.0"}', 'null', 'MISSING']);

-- Values only some servers store, for documents 241 to 300.
CREATE TABLE special_pools (field text, vals text[]);
INSERT INTO special_pools VALUES
('f', ARRAY['{"$numberDouble": "NaN"}', '{"$numberDouble": "Infinity"}',
  '{"$numberDouble": "-Infinity"}', '{"$numberDouble": "-0.0"}', '1.5', 'null', '7']),
('n', ARRAY['{"$numberDecimal": "5"}', '{"$numberDecimal": "5.0"}', '{"$numberDecimal": "2.50"}',
  '{"$numberDecimal": "-0"}', '{"$numberDecimal": "0.1"}', '{"$numberDecimal": "NaN"}',
  '{"$numberDecimal": "Infinity"}', '{"$numberDecimal": "-Infinity"}',
  '{"$numberDecimal": "1E+20"}', '{"$numberDecimal": "9999999999999999999999999999999999"}',
  '{"$numberDouble": "0.1"}', '3', 'null']);

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
                             coalesce(CASE WHEN special THEN s.vals[1 + (r * 5) % array_length(s.vals, 1)] END,
                                      p.vals[1 + (r * p.step) % array_length(p.vals, 1)])
                      FROM fdw_pushdown_exact.pools p
                      LEFT JOIN fdw_pushdown_exact.special_pools s USING (field)) e
                WHERE val <> 'MISSING') AS doc
        FROM generate_series(first, last) r) docs
$$;
SELECT (nutragenie_fdw.run_command('exact_srv', json_build_object(
    'insert', 'exact', 'documents', pool_docs(1, 240, false))) ->> 'n')::int AS inserted;
\set probe_srv exact_srv
\i test/sql/include/server_probe.sql
\if :stores_decimal
SELECT (nutragenie_fdw.run_command('exact_srv', json_build_object(
    'insert', 'exact', 'documents', pool_docs(241, 300, true))) ->> 'n')::int AS special_n \gset
\endif

CREATE FOREIGN TABLE ft (
    id int OPTIONS (field '_id'),
    g text COLLATE "C",
    h bool,
    nx int OPTIONS (field 'nest.x'),
    i int,
    l bigint,
    n numeric,
    f float8,
    t text COLLATE "C",
    td text OPTIONS (field 't'),
    d int
) SERVER exact_srv OPTIONS (collection 'exact');

CREATE TABLE lt (LIKE ft);
INSERT INTO lt SELECT * FROM ft;
SELECT count(*) AS rows, count(g) AS g, count(l) AS l, count(t) AS t FROM lt WHERE id <= 240;
SELECT count(*) = CASE WHEN :'stores_decimal'::bool THEN 60 ELSE 0 END AS special_rows,
       (count(*) FILTER (WHERE f = 'NaN' OR n = 'NaN') > 0) = :'stores_decimal'::bool AS nan_rows
FROM lt WHERE id > 240;

-- The queries: aggregate lists under GROUP BY choices and conditions.  %T
-- stands for the table.  (min and max of numeric compare trimmed: which of
-- 5 and 5.0 PostgreSQL returns depends on its own plan's row order.)
CREATE TABLE cases (seq serial, grp text, sql text);
CREATE TABLE agg_lists (k int, aggs text);
INSERT INTO agg_lists VALUES
(1, 'sum(i), avg(i)'), (2, 'sum(l), avg(l)'), (3, 'sum(n), avg(n)'),
(4, 'min(f), max(f)'), (5, 'trim_scale(min(n)), trim_scale(max(n))'), (6, 'min(t), max(t)'),
(7, 'count(*), count(i), sum(i), min(i), max(l)'), (8, 'count(*)'),
(9, 'sum(d), avg(d)'), (10, 'sum(i::int2)'), (11, 'count(*), sum(l), min(t), max(f), avg(n), count(n)'),
(12, 'count(DISTINCT t), count(*)'), (13, 'count(DISTINCT i), sum(i), min(f)'),
(14, 'count(DISTINCT td), count(DISTINCT td)');
CREATE TABLE group_lists (k int, keys text);
INSERT INTO group_lists VALUES (1, NULL), (2, 'g'), (3, 'h'), (4, 'nx'), (5, 'g, h'), (6, 't'),
  (7, 'i');
INSERT INTO cases (grp, sql)
SELECT 'aggregates ' || a.k,
       format('SELECT string_agg(r::text, '';'' ORDER BY r::text) FROM (SELECT %s%s FROM %%T WHERE %s%s) r',
              coalesce(gl.keys || ', ', ''), a.aggs, w.cond,
              coalesce(' GROUP BY ' || gl.keys, ''))
FROM agg_lists a, group_lists gl,
     unnest(ARRAY['true', 'i > 0', 'id > 240', 'id < 0']) w(cond)
WHERE a.k <> 10 OR gl.k IN (1, 2)
ORDER BY a.k, gl.k, w.cond;
-- SELECT DISTINCT of columns (a GROUP BY without aggregates)
INSERT INTO cases (grp, sql)
SELECT 'distinct',
       format('SELECT string_agg(r::text, '';'' ORDER BY r::text) FROM (SELECT DISTINCT %s FROM %%T WHERE %s) r',
              cols, cond)
FROM unnest(ARRAY['g', 'h', 'nx', 'g, h', 't', 'i, nx', 'td']) cols,
     unnest(ARRAY['true', 'i > 0', 'id > 240']) cond
ORDER BY 2;
INSERT INTO cases (grp, sql) VALUES
('distinct', 'SELECT string_agg(r::text, '';'') FROM (SELECT DISTINCT g FROM %T ORDER BY g NULLS FIRST LIMIT 4) r'),
('distinct', 'SELECT string_agg(r::text, '';'') FROM (SELECT DISTINCT i FROM %T ORDER BY i DESC NULLS LAST) r');
-- HAVING and ORDER BY above a partial aggregation (done locally)
INSERT INTO cases (grp, sql) VALUES
('having', 'SELECT string_agg(r::text, '';'' ORDER BY r::text) FROM (SELECT g, sum(i) FROM %T GROUP BY g HAVING sum(i) > 0) r'),
('having', 'SELECT string_agg(r::text, '';'' ORDER BY r::text) FROM (SELECT h, avg(l) FROM %T GROUP BY h HAVING count(*) > 10) r'),
('having', 'SELECT string_agg(r::text, '';'' ORDER BY r::text) FROM (SELECT g, count(*) FROM %T GROUP BY g HAVING count(*) > 30) r'),
('order', 'SELECT string_agg(r::text, '';'') FROM (SELECT g, sum(i) FROM %T GROUP BY g ORDER BY sum(i) DESC NULLS LAST, g NULLS FIRST LIMIT 3) r'),
('order', 'SELECT string_agg(r::text, '';'') FROM (SELECT t, min(f) FROM %T GROUP BY t ORDER BY t NULLS FIRST) r');

-- Run every case against both tables.  A case counts as pushed when the
-- first command of its plan (the top Foreign Scan's) is an aggregate, and as
-- run on the server when EXPLAIN ANALYZE shows an aggregate sent and no
-- fallback to the local plan.
CREATE TABLE outcomes (seq int, grp text, pushed bool, ran bool, mismatch bool);
DO $$
DECLARE
    c record;
    q text;
    got_ft text;
    got_lt text;
    err_ft text;
    err_lt text;
    line text;
    first_cmd text;
    ran bool;
BEGIN
    FOR c IN SELECT * FROM fdw_pushdown_exact.cases ORDER BY seq LOOP
        err_ft := NULL;
        err_lt := NULL;
        got_ft := NULL;
        got_lt := NULL;
        q := replace(c.sql, '%T', 'fdw_pushdown_exact.ft');
        BEGIN
            EXECUTE q INTO got_ft;
        EXCEPTION WHEN OTHERS THEN
            err_ft := SQLSTATE || ' ' || SQLERRM;
        END;
        BEGIN
            EXECUTE replace(c.sql, '%T', 'fdw_pushdown_exact.lt') INTO got_lt;
        EXCEPTION WHEN OTHERS THEN
            err_lt := SQLSTATE || ' ' || SQLERRM;
        END;

        first_cmd := NULL;
        FOR line IN EXECUTE 'EXPLAIN (VERBOSE, COSTS OFF) ' || q LOOP
            IF first_cmd IS NULL AND line ~ 'MongoDB Command: ' THEN
                first_cmd := substring(line FROM 'MongoDB Command: (.*)$');
            END IF;
        END LOOP;
        ran := false;
        IF err_ft IS NULL THEN
            FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
                IF line ~ '^\s*MongoDB Aggregates: [1-9]' THEN
                    ran := true;
                END IF;
                IF line ~ 'MongoDB Fallbacks: [1-9]' THEN
                    ran := false;
                    EXIT;
                END IF;
            END LOOP;
        END IF;

        IF got_ft IS DISTINCT FROM got_lt OR err_ft IS DISTINCT FROM err_lt THEN
            RAISE NOTICE 'mismatch: %', q;
            RAISE NOTICE '  through MongoDB: % %', got_ft, coalesce(err_ft, '');
            RAISE NOTICE '  locally:         % %', got_lt, coalesce(err_lt, '');
        END IF;
        INSERT INTO fdw_pushdown_exact.outcomes
        VALUES (c.seq, c.grp, coalesce(first_cmd::jsonb ? 'aggregate', false), ran,
                got_ft IS DISTINCT FROM got_lt OR err_ft IS DISTINCT FROM err_lt);
    END LOOP;
END $$;

-- Per group of cases: how many, how many pushed, mismatches (must be 0),
-- and whether some ran on the server exactly where the server can run
-- them ($min, $max and $cond: MongoDB, FerretDB 2; not FerretDB 1.x, whose
-- $sum returns 0 after the first of a $group: "z" catches that); count(*)
-- alone, count(DISTINCT col) with it, DISTINCT, and any pipeline over no
-- documents run on every server.
SELECT grp, count(*) AS queries, count(*) FILTER (WHERE pushed) AS pushed,
       count(*) FILTER (WHERE mismatch) AS mismatches
FROM outcomes GROUP BY grp ORDER BY min(seq);
SELECT count(*) AS queries, count(*) FILTER (WHERE pushed) AS pushed,
       count(*) FILTER (WHERE mismatch) AS mismatches,
       (count(*) FILTER (WHERE ran AND grp ~ '^aggregates' AND
                                 grp NOT IN ('aggregates 8', 'aggregates 12', 'aggregates 14') AND
                                 sql ~ 'WHERE (true|i > 0)') > 0) = :'has_min_max'::bool
         AS ran_where_supported,
       count(*) FILTER (WHERE ran AND grp = 'aggregates 8') > 0 AND
       count(*) FILTER (WHERE ran AND grp = 'distinct') > 0 AS ran_everywhere
FROM outcomes JOIN cases USING (seq, grp);

DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('exact_srv', '{"drop": "exact"}');
END $$;
SET client_min_messages = warning;
DROP SCHEMA fdw_pushdown_exact CASCADE;
DROP SERVER exact_srv CASCADE;
RESET client_min_messages;
