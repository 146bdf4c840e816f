-- Differential test of writes: the same pseudo-random UPDATE and DELETE
-- statements run against a foreign table and a plain table holding the
-- same rows, for every type of _id column over documents whose _ids have
-- every BSON type that column reads.  Both must report the same row
-- counts and, inside the transaction (the overlay) and after COMMIT (what
-- MongoDB holds), the same contents.  Only counts are printed: a
-- difference shows as a non-zero count, with its statements below.
\set VERBOSITY terse
SET timezone = 'UTC';
CREATE SCHEMA differential_write;
-- (a busy machine must not turn the wait for the applier into a WARNING)
SET nutragenie.commit_timeout = '60s';
SET search_path = differential_write, public;
\getenv mongo_uri MONGODB_URI
CREATE SERVER dw_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri :'mongo_uri', database 'ng_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER dw_srv;

-- One collection per _id column type: the _id of document g (1..36) as
-- Extended JSON, per type.
CREATE TABLE kinds (name text, coltype text, id_sql text);
INSERT INTO kinds VALUES
('oid', 'objectid', $$format('{"$oid": "%s"}', lpad(to_hex(g), 24, '6'))$$),
('txt', 'text', $$CASE g % 3
    WHEN 0 THEN format('{"$oid": "%s"}', lpad(to_hex(g), 24, '6'))
    WHEN 1 THEN format('"%s"', lpad(to_hex(g), 24, '7'))
    ELSE format('"k%s"', g) END$$),
('i4', 'int4', $$CASE g % 3
    WHEN 0 THEN g::text
    WHEN 1 THEN format('{"$numberLong": "%s"}', g)
    ELSE format('{"$numberDouble": "%s.0"}', g) END$$),
('i8', 'int8', $$CASE g % 3
    WHEN 0 THEN (g - 20)::text
    WHEN 1 THEN format('{"$numberLong": "%s"}', 9007199254740000 + g)
    ELSE format('{"$numberDouble": "%s.0"}', g * 1024) END$$),
('f8', 'float8', $$CASE g % 3
    WHEN 0 THEN format('{"$numberDouble": "%s.25"}', g)
    WHEN 1 THEN g::text
    ELSE format('{"$numberLong": "%s"}', g) END$$),
('ts', 'timestamptz', $$format('{"$date": {"$numberLong": "%s"}}', 1704067200000 + g * 1001)$$),
('uu', 'uuid', $$format('{"$binary": {"base64": "%s", "subType": "04"}}',
    encode(decode(lpad(to_hex(g), 32, 'a'), 'hex'), 'base64'))$$),
('js', 'jsonb', $$CASE g % 9
    WHEN 0 THEN g::text
    WHEN 1 THEN format('{"$numberLong": "%s"}', g)
    WHEN 2 THEN format('{"$numberDouble": "%s.5"}', g)
    WHEN 3 THEN format('"%s"', lpad(to_hex(g), 24, '7'))
    WHEN 4 THEN format('{"$oid": "%s"}', lpad(to_hex(g), 24, '6'))
    WHEN 5 THEN format('{"k": %s, "s": "x"}', g)
    WHEN 6 THEN format('{"$date": {"$numberLong": "%s"}}', 1704067200000 + g)
    WHEN 7 THEN format('{"$binary": {"base64": "%s", "subType": "04"}}',
                       encode(decode(lpad(to_hex(g), 32, 'a'), 'hex'), 'base64'))
    ELSE CASE WHEN g = 8 THEN 'true' WHEN g = 17 THEN 'false'
              ELSE format('{"$numberDouble": "%s.0"}', g) END END$$);

-- The documents: {_id, a, b}, with a or b missing from some.
DO $$
DECLARE
  k record;
  n int;
BEGIN
  FOR k IN SELECT * FROM kinds ORDER BY name LOOP
    BEGIN
      PERFORM nutragenie_fdw.run_command('dw_srv', json_build_object('drop', 'dw_' || k.name));
    EXCEPTION WHEN fdw_table_not_found THEN NULL;
    END;
    EXECUTE format($q$
      SELECT (nutragenie_fdw.run_command('dw_srv', json_build_object('insert', %L,
        'documents', (SELECT json_agg(
           (format('{"_id": %%s', %s)
            || CASE WHEN g %% 5 = 0 THEN '' ELSE format(', "a": %%s', g * 7 %% 23) END
            || CASE WHEN g %% 4 = 0 THEN '' ELSE format(', "b": "v%%s"', g %% 6) END
            || '}')::json ORDER BY g)
          FROM generate_series(1, 36) g))) ->> 'n')::int$q$,
      'dw_' || k.name, k.id_sql) INTO n;
    IF n <> 36 THEN
      RAISE EXCEPTION 'inserted % documents into dw_%', n, k.name;
    END IF;
    EXECUTE format('CREATE FOREIGN TABLE f_%s (_id %s, a int, b text)'
                   ' SERVER dw_srv OPTIONS (collection %L)',
                   k.name, k.coltype, 'dw_' || k.name);
    EXECUTE format('CREATE TABLE p_%s AS SELECT * FROM f_%s', k.name, k.name);
  END LOOP;
END $$;
SELECT k.name, k.coltype,
       (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM f_%s', k.name), false, true, '')))[1]::text::int AS docs
FROM kinds k ORDER BY k.name;

-- A random statement; %T is the table written, %P the plain one.
CREATE FUNCTION random_statement() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  cond text;
  r int := floor(random() * 100);
  k int := floor(random() * 30);
BEGIN
  cond := CASE floor(random() * 7)
    WHEN 0 THEN format('a %% %s = %s', 3 + k % 5, k % 3)
    WHEN 1 THEN 'a IS NULL'
    WHEN 2 THEN format('b = %L', 'v' || k % 6)
    WHEN 3 THEN format('_id = (SELECT _id FROM %%P ORDER BY _id OFFSET %s LIMIT 1)', k)
    WHEN 4 THEN format('_id IN (SELECT _id FROM %%P ORDER BY _id OFFSET %s LIMIT 3)', k)
    WHEN 5 THEN format('a > %s AND b IS NOT NULL', 10 + k % 13)
    ELSE 'b LIKE ''v1%'' OR b IS NULL' END;
  IF r < 20 THEN
    RETURN format('UPDATE %%T SET a = a + %s WHERE %s', k - 15, cond);
  ELSIF r < 35 THEN
    RETURN format('UPDATE %%T SET b = %L WHERE %s', 'v' || k % 6, cond);
  ELSIF r < 45 THEN
    RETURN format('UPDATE %%T SET a = NULL WHERE %s', cond);
  ELSIF r < 55 THEN
    RETURN format('UPDATE %%T SET b = NULL, a = coalesce(a, %s) WHERE %s', k, cond);
  ELSIF r < 70 THEN
    RETURN format('UPDATE %%T SET a = coalesce(a, 0) * 2 + 1, b = b || %L WHERE %s',
                  chr(97 + k % 3), cond);
  ELSIF r < 75 THEN
    RETURN format('UPDATE %%T SET a = a - 1');
  ELSE
    -- deletes take one or a few documents, so that the tables last
    RETURN format('DELETE FROM %%T WHERE _id IN (SELECT _id FROM %%P ORDER BY _id OFFSET %s LIMIT %s)',
                  k, 1 + k % 2);
  END IF;
END $$;

CREATE TABLE stmts (batch int, kind text, sql text, n_foreign bigint, n_plain bigint);
CREATE TABLE diffs (batch int, kind text, phase text, n bigint);

CREATE FUNCTION differences(kind text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM ((SELECT * FROM f_%1$s EXCEPT ALL SELECT * FROM p_%1$s)'
                 ' UNION ALL (SELECT * FROM p_%1$s EXCEPT ALL SELECT * FROM f_%1$s)) d', kind)
    INTO n;
  RETURN n;
END $$;

-- Batches of statements over random tables, one transaction each.
CREATE PROCEDURE run_batches(batches int, per_batch int) LANGUAGE plpgsql AS $$
DECLARE
  b int;
  s int;
  kind text;
  stmt text;
  nf bigint;
  np bigint;
  names text[] := ARRAY(SELECT name FROM kinds ORDER BY name);
BEGIN
  PERFORM setseed(0.25);
  FOR b IN 1..batches LOOP
    FOR s IN 1..per_batch LOOP
      kind := names[1 + floor(random() * array_length(names, 1))::int];
      stmt := replace(random_statement(), '%P', 'p_' || kind);
      EXECUTE replace(stmt, '%T', 'f_' || kind);
      GET DIAGNOSTICS nf = ROW_COUNT;
      EXECUTE replace(stmt, '%T', 'p_' || kind);
      GET DIAGNOSTICS np = ROW_COUNT;
      INSERT INTO stmts VALUES (b, kind, stmt, nf, np);
    END LOOP;
    INSERT INTO diffs SELECT b, name, 'in transaction', differences(name) FROM kinds;
    COMMIT;
    INSERT INTO diffs SELECT b, name, 'after commit', differences(name) FROM kinds;
    COMMIT;
  END LOOP;
END $$;

CALL run_batches(25, 12);

-- per table: statements, rows they changed, and differences (all zero)
SELECT s.kind, count(*) AS statements,
       count(*) FILTER (WHERE s.sql LIKE 'DELETE%') AS deletes,
       sum(s.n_plain) AS rows_changed,
       count(*) FILTER (WHERE s.n_foreign <> s.n_plain) AS count_mismatches,
       (SELECT sum(d.n) FROM diffs d WHERE d.kind = s.kind) AS row_differences
FROM stmts s GROUP BY s.kind ORDER BY s.kind;
SELECT k.name, differences(k.name) AS final_differences,
       (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM p_%s', k.name), false, true, '')))[1]::text::int AS rows_left
FROM kinds k ORDER BY k.name;
-- the batches and statements where a difference appeared (none)
SELECT d.batch, d.kind, d.phase, d.n FROM diffs d WHERE d.n <> 0
ORDER BY d.batch, d.kind LIMIT 5;
SELECT batch, kind, sql, n_foreign, n_plain FROM stmts
WHERE n_foreign <> n_plain ORDER BY batch LIMIT 5;
SELECT count(*) AS dead_letters FROM nutragenie_fdw.dead_letters;

SET client_min_messages = warning;
DROP SCHEMA differential_write CASCADE;
DROP SERVER dw_srv CASCADE;
