-- use_remote_estimate: row estimates from MongoDB counts instead of a
-- guess, for the pushed conditions known at plan time.
\set VERBOSITY default
CREATE SCHEMA estimate;
SET search_path = estimate, public;
\getenv mongo_uri MONGODB_URI
CREATE SERVER est_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri :'mongo_uri', database 'ng_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER est_srv;
DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('est_srv', '{"drop": "est_docs"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;
SELECT nutragenie_fdw.run_command('est_srv', json_build_object('insert', 'est_docs', 'documents',
  (SELECT json_agg(json_build_object('_id', g, 'kind', CASE WHEN g % 10 = 0 THEN 'rare' ELSE 'common' END, 'n', g))
   FROM generate_series(1, 500) g))::json)->>'n' AS inserted;
CREATE FOREIGN TABLE docs (_id int, kind text, n int) SERVER est_srv OPTIONS (collection 'est_docs');

-- the planner's estimated rows for a query
CREATE FUNCTION est(q text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE line text;
BEGIN
  FOR line IN EXECUTE 'EXPLAIN ' || q LOOP
    RETURN substring(line FROM 'rows=(\d+)')::int;
  END LOOP;
END $$;

-- without it: a guess
SELECT est('SELECT * FROM docs'), est('SELECT * FROM docs WHERE kind = ''rare''');
-- with it (server option, overridden per table)
ALTER SERVER est_srv OPTIONS (ADD use_remote_estimate 'true');
SELECT est('SELECT * FROM docs') AS all_docs,
       est('SELECT * FROM docs WHERE kind = ''rare''') AS rare,
       est('SELECT * FROM docs WHERE n <= 50') AS small_n,
       est('SELECT * FROM docs WHERE kind = ''rare'' AND n <= 50') AS both;
-- a run-time value is left to PostgreSQL's estimate; the rest is counted
PREPARE p(int) AS SELECT * FROM docs WHERE kind = 'rare' AND n <= $1;
SET plan_cache_mode = force_generic_plan;
SELECT est('EXECUTE p(50)') <= 50 AS at_most_the_rare_ones;
RESET plan_cache_mode;
ALTER FOREIGN TABLE docs OPTIONS (ADD use_remote_estimate 'false');
SELECT est('SELECT * FROM docs WHERE kind = ''rare''') AS table_says_no;
ALTER FOREIGN TABLE docs OPTIONS (SET use_remote_estimate 'perhaps');
-- an unreachable server fails the planning with a clear error
CREATE SERVER est_dead FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri 'mongodb://127.0.0.1:9/?connectTimeoutMS=300&serverSelectionTimeoutMS=300',
           database 'ng_regress', use_remote_estimate 'true');
CREATE USER MAPPING FOR CURRENT_USER SERVER est_dead;
CREATE FOREIGN TABLE dead (_id int) SERVER est_dead;
\set VERBOSITY terse
EXPLAIN SELECT * FROM dead;
\set VERBOSITY default

SELECT nutragenie_fdw.run_command('est_srv', '{"drop": "est_docs"}')->>'ok';
SET client_min_messages = warning;
DROP SCHEMA estimate CASCADE;
DROP SERVER est_srv, est_dead CASCADE;
