-- Security: the shared document cache serves a document only to a caller
-- whose own user mapping read it, and an _id is a value, never a query
-- operator.
\getenv mongo_uri MONGODB_URI
CREATE SCHEMA security_cache;
CREATE SERVER sec_cache_srv FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (uri :'mongo_uri');
CREATE USER MAPPING FOR CURRENT_USER SERVER sec_cache_srv;
SELECT nutragenie_fdw.run_command('sec_cache_srv', '{"dropDatabase": 1}', 'ng_sec_cache') ->> 'ok' AS dropped;
SELECT nutragenie_fdw.run_command('sec_cache_srv',
  '{"insert": "docs", "documents": [{"_id": 1, "secret": "s1"}, {"_id": "one", "secret": "s2"}]}',
  'ng_sec_cache') ->> 'n' AS inserted;
SELECT nutragenie_fdw.cache_reset();
CREATE FUNCTION security_cache.counters() RETURNS TABLE (hits bigint, stores bigint)
LANGUAGE sql AS $$ SELECT hits, stores FROM nutragenie_fdw.cache_stats() $$;

-- a: a mapping that works; b: one that cannot connect (no password for a
-- non-superuser); c: none
CREATE ROLE sec_cache_a NOLOGIN;
CREATE ROLE sec_cache_b NOLOGIN;
CREATE ROLE sec_cache_c NOLOGIN;
GRANT USAGE ON SCHEMA nutragenie TO sec_cache_a, sec_cache_b, sec_cache_c;
GRANT USAGE ON FOREIGN SERVER sec_cache_srv TO sec_cache_a, sec_cache_b, sec_cache_c;
CREATE USER MAPPING FOR sec_cache_a SERVER sec_cache_srv OPTIONS (password_required 'false');
CREATE USER MAPPING FOR sec_cache_b SERVER sec_cache_srv;

-- a warms the cache: a miss, then a hit
SET ROLE sec_cache_a;
SELECT nutragenie_fdw.cached_document('sec_cache_srv', 'ng_sec_cache', 'docs', '1') ->> 'secret' AS a_reads;
SELECT nutragenie_fdw.cached_document('sec_cache_srv', 'ng_sec_cache', 'docs', '1') ->> 'secret' AS a_reads_again;
RESET ROLE;
SELECT * FROM security_cache.counters();

-- b and c get their own errors, not a's document
\set VERBOSITY terse
SET ROLE sec_cache_b;
SELECT nutragenie_fdw.cached_document('sec_cache_srv', 'ng_sec_cache', 'docs', '1') ->> 'secret' AS b_reads;
SET ROLE sec_cache_c;
-- (PostgreSQL's wording of a missing user mapping differs between versions)
\set VERBOSITY sqlstate
SELECT nutragenie_fdw.cached_document('sec_cache_srv', 'ng_sec_cache', 'docs', '1') ->> 'secret' AS c_reads;
\set VERBOSITY terse
RESET ROLE;

-- a changed mapping is another reader: a's, now without its waiver, fails too
ALTER USER MAPPING FOR sec_cache_a SERVER sec_cache_srv OPTIONS (DROP password_required);
SET ROLE sec_cache_a;
SELECT nutragenie_fdw.cached_document('sec_cache_srv', 'ng_sec_cache', 'docs', '1') ->> 'secret' AS a_reads_unwaived;
RESET ROLE;
\set VERBOSITY default
SELECT * FROM security_cache.counters();

-- the superuser's own mapping reads MongoDB (a miss), then its own entry
SELECT nutragenie_fdw.cached_document('sec_cache_srv', 'ng_sec_cache', 'docs', '1') ->> 'secret' AS own_read;
SELECT nutragenie_fdw.cached_document('sec_cache_srv', 'ng_sec_cache', 'docs', '1') ->> 'secret' AS own_read_again;
SELECT * FROM security_cache.counters();

-- ids are values: an operator document or a regular expression matches
-- only an _id equal to it, of which there is none
SELECT nutragenie_fdw.cached_document('sec_cache_srv', 'ng_sec_cache', 'docs', '{"$ne": null}') AS ne_null;
SELECT nutragenie_fdw.cached_document('sec_cache_srv', 'ng_sec_cache', 'docs', '{"$gt": 0}') AS gt_zero;
SELECT nutragenie_fdw.cached_document('sec_cache_srv', 'ng_sec_cache', 'docs',
  '{"$regularExpression": {"pattern": "^o", "options": ""}}') AS regex;
SELECT nutragenie_fdw.cached_document('sec_cache_srv', 'ng_sec_cache', 'docs', '"one"') ->> 'secret' AS by_string_id;

SELECT nutragenie_fdw.run_command('sec_cache_srv', '{"dropDatabase": 1}', 'ng_sec_cache') ->> 'ok' AS dropped;
DROP SERVER sec_cache_srv CASCADE;
REVOKE USAGE ON SCHEMA nutragenie FROM sec_cache_a, sec_cache_b, sec_cache_c;
DROP ROLE sec_cache_a, sec_cache_b, sec_cache_c;
DROP SCHEMA security_cache CASCADE;
