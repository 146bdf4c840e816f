-- A WHERE condition whose MongoDB filter would nest deeper than MongoDB
-- accepts (100 BSON levels, less what the command wraps around the filter)
-- stays local; below the bound (90 levels) it is pushed.  Before, a
-- 900-deep AND/OR chain was sent as a 900-deep $or/$and, which MongoDB
-- refuses.  EXPLAIN only: the server's URI points nowhere.
CREATE SCHEMA deparse_depth;
SET search_path = deparse_depth, public;
CREATE SERVER depth_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri 'mongodb://127.0.0.1:9/', database 'ng_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER depth_srv;
CREATE FOREIGN TABLE ft (id int OPTIONS (field '_id'), a int, b int)
  SERVER depth_srv OPTIONS (collection 'depth');

-- chain(1) = a = 1;  chain(k) = (a = k OR (b = k AND chain(k - 1)))
CREATE FUNCTION chain(levels int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    c text := 'a = 1';
BEGIN
    FOR k IN 2 .. levels LOOP
        c := format('(a = %s OR (b = %s AND %s))', k, k, c);
    END LOOP;
    RETURN c;
END $$;
-- BSON levels of a JSON value: a document or array is one more than its
-- deepest member
CREATE FUNCTION depth(j jsonb) RETURNS int LANGUAGE sql AS $$
  SELECT CASE jsonb_typeof(j)
    WHEN 'object' THEN 1 + coalesce((SELECT max(depth(v)) FROM jsonb_each(j) AS e(k, v)), 0)
    WHEN 'array' THEN 1 + coalesce((SELECT max(depth(v)) FROM jsonb_array_elements(j) AS e(v)), 0)
    ELSE 0 END
$$;
-- the depth of the filter sent (NULL: none) and whether PostgreSQL still
-- evaluates the condition
CREATE FUNCTION pushdown(query text, OUT pushed_depth int, OUT kept bool)
LANGUAGE plpgsql AS $$
DECLARE
    line text;
    cmd jsonb;
BEGIN
    kept := false;
    FOR line IN EXECUTE 'EXPLAIN (VERBOSE, COSTS OFF) ' || query
    LOOP
        IF line ~ 'MongoDB Command: ' THEN
            cmd := substring(line FROM 'MongoDB Command: (.*)$')::jsonb;
            pushed_depth := depth(coalesce(cmd -> 'filter',
                                           cmd -> 'pipeline' -> 0 -> '$match'));
        ELSIF line ~ '^\s*Filter: ' THEN
            kept := true;
        END IF;
    END LOOP;
END $$;

-- each OR level adds two BSON levels ($or array, its element)
SELECT levels, (pushdown('SELECT id FROM ft WHERE ' || chain(levels))).*
FROM (VALUES (1), (2), (10), (45), (46), (900)) AS v(levels)
ORDER BY levels;
-- the shallow conditions of the same WHERE are still pushed
SELECT (pushdown('SELECT id FROM ft WHERE id > 5 AND ' || chain(46))).*;
-- the same bound for an aggregation's $match
SELECT levels,
       (pushdown('SELECT count(*) FROM ft WHERE ' || chain(levels))).*
FROM (VALUES (45), (46)) AS v(levels)
ORDER BY levels;

DROP SCHEMA deparse_depth CASCADE;
DROP SERVER depth_srv CASCADE;
