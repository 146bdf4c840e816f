--
-- objectid: the 12-byte MongoDB ObjectId type
--
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
CREATE SCHEMA objectid_test;
-- the type and its operators live in the extension's schema
SET search_path = objectid_test, public;

-- input and output: lower case out, either case in
SELECT '507f1f77bcf86cd799439011'::objectid;
SELECT '507F1F77BCF86CD799439011'::objectid;
SELECT '507f1F77bCf86cD799439011'::objectid = '507f1f77bcf86cd799439011';
SELECT '000000000000000000000000'::objectid AS lo,
       'ffffffffffffffffffffffff'::objectid AS hi;
SELECT NULL::objectid IS NULL AS is_null;
SELECT ARRAY['507f1f77bcf86cd799439011', '000000000000000000000001']::objectid[];

-- bad input: wrong length, not hexadecimal, empty, whitespace
SELECT '507f1f77bcf86cd79943901'::objectid;
SELECT '507f1f77bcf86cd7994390111'::objectid;
SELECT '507f1f77bcf86cd79943901g'::objectid;
SELECT 'zzzzzzzzzzzzzzzzzzzzzzzz'::objectid;
SELECT ''::objectid;
SELECT ' 507f1f77bcf86cd799439011'::objectid;
SELECT '507f1f77bcf86cd799439011 '::objectid;
SELECT '0x507f1f77bcf86cd7994390'::objectid;

-- comparisons are bytewise and unsigned, as in MongoDB
SELECT a, b, a = b AS eq, a <> b AS ne, a < b AS lt, a <= b AS le,
       a > b AS gt, a >= b AS ge, objectid_cmp(a, b) AS cmp
FROM (VALUES
  ('507f1f77bcf86cd799439011'::objectid, '507f1f77bcf86cd799439011'::objectid),
  ('507f1f77bcf86cd799439011', '507f1f77bcf86cd799439012'),
  ('507f1f77bcf86cd799439012', '507f1f77bcf86cd799439011'),
  ('7fffffffffffffffffffffff', '800000000000000000000000'),
  ('ff0000000000000000000000', '00ffffffffffffffffffffff')
) AS v(a, b);

CREATE TABLE ids (id objectid PRIMARY KEY, label text);
INSERT INTO ids VALUES
  ('507f1f77bcf86cd799439011', 'mongodb docs example'),
  ('507f191e810c19729de860ea', 'same day, earlier'),
  ('5a934e000102030405000000', '2018'),
  ('000000000000000000000000', 'zero'),
  ('ffffffffffffffffffffffff', 'max'),
  ('80000000000000000000000a', 'high bit set'),
  ('7fffffffffffffffffffffff', 'below high bit');

SELECT id, label FROM ids ORDER BY id;
SELECT id FROM ids ORDER BY id DESC;

-- btree index
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF)
SELECT * FROM ids WHERE id = '507f1f77bcf86cd799439011';
SELECT * FROM ids WHERE id = '507f1f77bcf86cd799439011';
EXPLAIN (COSTS OFF)
SELECT * FROM ids
WHERE id >= objectid_from_timestamp('2012-10-17') AND
      id < objectid_from_timestamp('2012-10-18')
ORDER BY id;
SELECT * FROM ids
WHERE id >= objectid_from_timestamp('2012-10-17') AND
      id < objectid_from_timestamp('2012-10-18')
ORDER BY id;
RESET enable_seqscan;
RESET enable_bitmapscan;

-- hashing: join, aggregate, DISTINCT, hash index
CREATE TABLE refs (ref objectid, n int);
INSERT INTO refs
SELECT id, g FROM ids, generate_series(1, 3) AS g WHERE id <> '000000000000000000000000';
INSERT INTO refs VALUES ('0123456789abcdef01234567', 1);
SET enable_mergejoin = off;
SET enable_nestloop = off;
SET enable_sort = off;
EXPLAIN (COSTS OFF)
SELECT i.label, count(*) FROM ids i JOIN refs r ON r.ref = i.id GROUP BY i.label;
SELECT label, n FROM (
  SELECT i.label, count(*) AS n FROM ids i JOIN refs r ON r.ref = i.id GROUP BY i.label
) AS s ORDER BY label;
EXPLAIN (COSTS OFF)
SELECT ref, count(*) FROM refs GROUP BY ref;
SELECT ref, n FROM (SELECT ref, count(*) AS n FROM refs GROUP BY ref) AS s ORDER BY ref;
EXPLAIN (COSTS OFF)
SELECT DISTINCT ref FROM refs;
SELECT ref FROM (SELECT DISTINCT ref FROM refs) AS s ORDER BY ref;
RESET enable_mergejoin;
RESET enable_nestloop;
RESET enable_sort;
CREATE INDEX refs_ref_hash ON refs USING hash (ref);
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF)
SELECT * FROM refs WHERE ref = '0123456789abcdef01234567';
SELECT * FROM refs WHERE ref = '0123456789abcdef01234567';
RESET enable_seqscan;
RESET enable_bitmapscan;

-- the extended hash with seed 0 agrees with the 32-bit hash
SELECT bool_and((objectid_hash_extended(id, 0) & x'ffffffff'::bigint) =
                (objectid_hash(id)::bigint & x'ffffffff'::bigint)) AS seed0_ok,
       bool_and(objectid_hash_extended(id, 0) <> objectid_hash_extended(id, 1)) AS seeded
FROM ids;

-- the operator classes are consistent
SELECT am.amname, amvalidate(opc.oid)
FROM pg_opclass opc JOIN pg_am am ON am.oid = opc.opcmethod
WHERE opc.opcname = 'objectid_ops' AND opc.opcintype = 'objectid'::regtype
ORDER BY am.amname;

-- timestamps
SELECT objectid_timestamp('507f1f77bcf86cd799439011');
SELECT objectid_timestamp('000000000000000000000000'),
       objectid_timestamp('ffffffffffffffffffffffff');
SELECT objectid_from_timestamp('2012-10-17 21:13:27+00');
SELECT objectid_from_timestamp('2012-10-17 21:13:27.999999+00');
SELECT objectid_from_timestamp('2012-10-17 23:13:27+02');
SELECT objectid_from_timestamp('1970-01-01 00:00:00+00'),
       objectid_from_timestamp('2106-02-07 06:28:15.999999+00');
SELECT objectid_timestamp(objectid_from_timestamp('2024-02-29 12:34:56.789+00'));
SELECT objectid_from_timestamp('2012-10-17 21:13:27+00') <= '507f1f77bcf86cd799439011'
   AND '507f1f77bcf86cd799439011' < objectid_from_timestamp('2012-10-17 21:13:28+00')
   AS within_second;
SELECT objectid_from_timestamp('1969-12-31 23:59:59.999999+00');
SELECT objectid_from_timestamp('2106-02-07 06:28:16+00');
SELECT objectid_from_timestamp('infinity');
SELECT objectid_from_timestamp('-infinity');
SELECT objectid_timestamp(NULL) IS NULL AS strict_ts,
       objectid_from_timestamp(NULL) IS NULL AS strict_from;

-- generated ids: distinct, and stamped with the current time
SELECT count(DISTINCT g) = 1000 AS all_distinct
FROM (SELECT objectid_generate() AS g FROM generate_series(1, 1000)) AS s;
SELECT objectid_timestamp(g) >= date_trunc('second', now()) - interval '1 minute'
   AND objectid_timestamp(g) <= clock_timestamp() + interval '1 minute' AS recent
FROM (SELECT objectid_generate() AS g) AS s;
SELECT objectid_generate() <> objectid_generate() AS differ;

-- casts: text through I/O, bytea through the 12 raw bytes
SELECT '507f1f77bcf86cd799439011'::objectid::text;
SELECT 'ABCDEF0123456789abcdef01'::text::objectid;
SELECT 'abcdef0123456789abcdef0'::text::objectid;
SELECT '507f1f77bcf86cd799439011'::objectid::bytea;
SELECT '\x507f1f77bcf86cd799439011'::bytea::objectid;
SELECT '\x507f1f77'::bytea::objectid;
SELECT '\x507f1f77bcf86cd79943901100'::bytea::objectid;
SELECT ''::bytea::objectid;
SELECT objectid_send('507f1f77bcf86cd799439011') =
       '507f1f77bcf86cd799439011'::objectid::bytea AS send_is_raw_bytes;
SELECT bool_and(id::bytea::objectid = id AND id::text::objectid = id) AS round_trip
FROM ids;
CREATE TABLE labels (t text);
INSERT INTO labels SELECT id FROM ids WHERE label = 'zero';  -- assignment cast to text
SELECT t FROM labels;

SET client_min_messages = warning;
DROP SCHEMA objectid_test CASCADE;
RESET client_min_messages;
RESET search_path;
RESET datestyle;
RESET timezone;
