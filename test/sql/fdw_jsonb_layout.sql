-- jsonb columns are written in jsonb's binary format directly (extjson.c's
-- jsonb writer), not through PostgreSQL's JsonbValue tree.  The bytes must
-- be the ones PostgreSQL's own jsonb input gives: same key order (length,
-- then bytes), last of duplicate keys kept, stride offsets past 32
-- entries, aligned numerics and containers.  Checked byte for byte (a
-- binary-coercible cast shows a jsonb's bytes as bytea) and by equality
-- and text against PostgreSQL's jsonb for fixed and for random documents
-- (BSON built here byte by byte, keys in a shuffled order), and by reading
-- members back through the binary layout (->, jsonb_each).
SET search_path = jsonb_layout, public;
CREATE SCHEMA jsonb_layout;
CREATE CAST (jsonb AS bytea) WITHOUT FUNCTION;
CREATE FUNCTION jsonb_bytes(j jsonb) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
  SELECT j::bytea $$;

-- little-endian bytes of a big-endian send() result
CREATE FUNCTION le(b bytea) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
  SELECT string_agg(substring(b FROM i FOR 1), ''::bytea ORDER BY i DESC)
  FROM generate_series(1, length(b)) i $$;

-- a BSON document from its elements
CREATE FUNCTION doc(VARIADIC elems bytea[]) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
  SELECT le(int4send(length(body) + 5)) || body || '\x00'::bytea
  FROM (SELECT coalesce(string_agg(e, ''::bytea ORDER BY i), ''::bytea) AS body
        FROM unnest(elems) WITH ORDINALITY AS u(e, i)) s $$;

-- one BSON element for a jsonb value: integers without a point as int32,
-- other numbers as doubles; object members in a shuffled order
CREATE FUNCTION elem(k text, v jsonb) RETURNS bytea LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  kb bytea := convert_to(k, 'UTF8') || '\x00'::bytea;
  s bytea;
  n numeric;
BEGIN
  CASE jsonb_typeof(v)
    WHEN 'string' THEN
      s := convert_to(v #>> '{}', 'UTF8');
      RETURN '\x02'::bytea || kb || le(int4send(length(s) + 1)) || s || '\x00'::bytea;
    WHEN 'number' THEN
      n := (v #>> '{}')::numeric;
      IF (v #>> '{}') !~ '[.eE]' AND n BETWEEN -2147483648 AND 2147483647 THEN
        RETURN '\x10'::bytea || kb || le(int4send(n::int4));
      END IF;
      RETURN '\x01'::bytea || kb || le(float8send(n::float8));
    WHEN 'boolean' THEN
      RETURN '\x08'::bytea || kb || CASE WHEN v::boolean THEN '\x01'::bytea ELSE '\x00'::bytea END;
    WHEN 'null' THEN
      RETURN '\x0a'::bytea || kb;
    WHEN 'object' THEN
      RETURN '\x03'::bytea || kb || bson(v);
    ELSE
      RETURN '\x04'::bytea || kb || bson(v);
  END CASE;
END $$;

CREATE FUNCTION bson(v jsonb) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
  SELECT doc(VARIADIC coalesce(array_agg(e ORDER BY o), '{}'))
  FROM (SELECT elem(key, value) AS e, md5(key) AS o
        FROM jsonb_each(CASE WHEN jsonb_typeof(v) = 'object' THEN v END)
        UNION ALL
        SELECT elem((i - 1)::text, value), lpad(i::text, 10, '0')
        FROM jsonb_array_elements(CASE WHEN jsonb_typeof(v) = 'array' THEN v END)
             WITH ORDINALITY AS a(value, i)) s $$;

-- a random jsonb value: objects and arrays up to 40 members (past the
-- stride of 32), keys of varied lengths and bytes, numbers of every kind
CREATE FUNCTION gen(depth int) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  r float8 := random();
  n int;
  res jsonb;
BEGIN
  IF depth > 0 AND r < 0.2 THEN
    n := (random() * 40)::int;
    SELECT coalesce(jsonb_object_agg(
             substr(md5(i::text || random()::text), 1, 1 + (random() * 12)::int)
               || CASE WHEN random() < 0.1 THEN 'é✓' ELSE '' END,
             gen(depth - 1)), '{}')
      INTO res FROM generate_series(1, n) i;
    RETURN res;
  ELSIF depth > 0 AND r < 0.35 THEN
    n := (random() * 40)::int;
    SELECT coalesce(jsonb_agg(gen(depth - 1)), '[]') INTO res
      FROM generate_series(1, n) i;
    RETURN res;
  ELSIF r < 0.5 THEN
    RETURN to_jsonb(repeat(chr(97 + (random() * 25)::int), (random() * 20)::int)
                    || CASE WHEN random() < 0.2 THEN 'ü€' ELSE '' END);
  ELSIF r < 0.65 THEN
    RETURN to_jsonb(((random() - 0.5) * 2e9)::int);
  ELSIF r < 0.8 THEN
    RETURN (round((random() - 0.5) * 1e6) / 64)::text::jsonb;
  ELSIF r < 0.85 THEN
    RETURN (((random() * 1000)::int)::text || '.0')::jsonb;
  ELSIF r < 0.93 THEN
    RETURN to_jsonb(random() < 0.5);
  END IF;
  RETURN 'null'::jsonb;
END $$;

-- fixed documents: empty, nested, more than 32 keys and elements
CREATE TABLE fixed (n int, j jsonb);
INSERT INTO fixed VALUES
  (1, '{}'),
  (2, '{"b": 1, "a": "x", "aa": [1, 2.5, "s", true, false, null, {}, []]}'),
  (3, (SELECT jsonb_object_agg('k' || i, i) FROM generate_series(1, 70) i)),
  (4, jsonb_build_object('arr', (SELECT jsonb_agg(i * 1.5) FROM generate_series(1, 100) i))),
  (5, '{"n": {"deep": {"deeper": {"x": 0.125, "y": [[1], [2.0, {"z": "é"}]]}}}}');
-- (j::text::jsonb: a fresh value, as a stored one may have a short header)
SELECT n, r = j AS equal, r::text = j::text AS same_text,
       jsonb_bytes(r) = jsonb_bytes(j::text::jsonb) AS same_bytes
FROM (SELECT n, j, nutragenie_fdw.bson_to_jsonb(bson(j)) AS r FROM fixed) s
ORDER BY n;

-- members found through the binary layout (binary search, stride offsets)
SELECT nutragenie_fdw.bson_to_jsonb(bson(j)) -> 'k70' AS k70,
       nutragenie_fdw.bson_to_jsonb(bson(j)) -> 'k33' AS k33,
       (SELECT count(*) FROM jsonb_each(nutragenie_fdw.bson_to_jsonb(bson(j)))) AS members
FROM fixed WHERE n = 3;
SELECT nutragenie_fdw.bson_to_jsonb(bson(j)) -> 'arr' -> 99 AS last
FROM fixed WHERE n = 4;

-- duplicate keys (MongoDB refuses them, BSON allows them): the last wins,
-- as in jsonb's own input
SELECT nutragenie_fdw.bson_to_jsonb(doc(elem('b', '1'), elem('a', '2'), elem('b', '"three"'),
                                        elem('c', '{"x": 1}'), elem('a', 'null'))) AS dups,
       pg_column_size(nutragenie_fdw.bson_to_jsonb(doc(elem('b', '1'), elem('a', '2'),
                                                       elem('b', '"three"'), elem('c', '{"x": 1}'),
                                                       elem('a', 'null'))))
         = pg_column_size('{"b": 1, "a": 2, "b": "three", "c": {"x": 1}, "a": null}'::jsonb) AS same_size,
       jsonb_bytes(nutragenie_fdw.bson_to_jsonb(doc(elem('b', '1'), elem('a', '2'),
                                                    elem('b', '"three"'), elem('c', '{"x": 1}'),
                                                    elem('a', 'null'))))
         = jsonb_bytes('{"b": 1, "a": 2, "b": "three", "c": {"x": 1}, "a": null}'::jsonb) AS same_bytes;

-- random documents
SELECT setseed(0.13);
CREATE TABLE rnd AS
  SELECT i, jsonb_build_object('_id', i, 'v', gen(3), 'w', gen(2)) AS j
  FROM generate_series(1, 100) i;
SELECT count(*) AS documents,
       count(*) FILTER (WHERE r = j AND r::text = j::text
                        AND jsonb_bytes(r) = jsonb_bytes(j::text::jsonb)) AS identical
FROM (SELECT j, nutragenie_fdw.bson_to_jsonb(bson(j)) AS r FROM rnd) s;

DROP SCHEMA jsonb_layout CASCADE;
DROP CAST (jsonb AS bytea);
