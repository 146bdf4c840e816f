-- Connections: one client per user mapping, reused; rebuilt after ALTER
-- SERVER / ALTER USER MAPPING; listed and closed from SQL; clear errors for
-- unreachable servers.
\set VERBOSITY default
CREATE SCHEMA connection;
SET search_path = connection, public;
\getenv mongo_uri MONGODB_URI
CREATE SERVER conn_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri :'mongo_uri', database 'ng_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER conn_srv;
CREATE FOREIGN TABLE conn_t (_id objectid) SERVER conn_srv OPTIONS (collection 'conn_coll');
DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('conn_srv', '{"drop": "conn_coll"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;
SELECT nutragenie_fdw.run_command('conn_srv', '{"insert": "conn_coll", "documents": [{"_id": 1}]}')->>'ok';

SELECT nutragenie_fdw.disconnect_all();
SELECT * FROM nutragenie_fdw.connections();
SELECT count(*) FROM conn_t;
SELECT server_name, user_name = current_user AS me, valid, in_use FROM nutragenie_fdw.connections();
-- reused: still one
SELECT count(*) FROM conn_t;
SELECT count(*) FROM nutragenie_fdw.connections();

-- ALTER SERVER invalidates; the next use rebuilds it
ALTER SERVER conn_srv OPTIONS (ADD batch_size '50');
SELECT server_name, valid FROM nutragenie_fdw.connections();
SELECT count(*) FROM conn_t;
SELECT server_name, valid FROM nutragenie_fdw.connections();
ALTER USER MAPPING FOR CURRENT_USER SERVER conn_srv OPTIONS (ADD username 'nobody');
SELECT server_name, valid FROM nutragenie_fdw.connections();
ALTER USER MAPPING FOR CURRENT_USER SERVER conn_srv OPTIONS (DROP username);
SELECT count(*) FROM conn_t;
SELECT server_name, valid FROM nutragenie_fdw.connections();

-- disconnecting
SELECT nutragenie_fdw.disconnect('conn_srv');
SELECT nutragenie_fdw.disconnect('conn_srv');
SELECT count(*) FROM nutragenie_fdw.connections();
SELECT nutragenie_fdw.disconnect('no_such_server');

-- an unreachable server fails within the timeout, with a clear error
CREATE SERVER conn_dead FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri 'mongodb://127.0.0.1:9/?connectTimeoutMS=300&serverSelectionTimeoutMS=300',
           database 'ng_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER conn_dead;
CREATE FOREIGN TABLE conn_dead_t (_id objectid) SERVER conn_dead;
\set VERBOSITY terse
SELECT * FROM conn_dead_t;
\set VERBOSITY default
DO $$ BEGIN
  PERFORM * FROM connection.conn_dead_t;
EXCEPTION WHEN fdw_unable_to_establish_connection THEN
  RAISE NOTICE 'caught %', SQLSTATE;
END $$;
-- the failed connection is not valid, and is rebuilt on next use
SELECT server_name, valid FROM nutragenie_fdw.connections() ORDER BY 1;

-- authentication failure (FerretDB refuses SCRAM; MongoDB the wrong password)
CREATE SERVER conn_auth FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (uri :'mongo_uri', database 'ng_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER conn_auth OPTIONS (username 'nobody', password 'wrong-password');
CREATE FOREIGN TABLE conn_auth_t (_id objectid) SERVER conn_auth;
\set VERBOSITY terse
SELECT * FROM conn_auth_t;
\set VERBOSITY default

-- no user mapping (PostgreSQL's own error, worded differently since 16)
CREATE SERVER conn_nomap FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (uri :'mongo_uri', database 'x');
CREATE FOREIGN TABLE conn_nomap_t (_id objectid) SERVER conn_nomap;
DO $$ BEGIN
  PERFORM * FROM conn_nomap_t;
EXCEPTION WHEN undefined_object THEN
  RAISE NOTICE 'no user mapping (%)', SQLSTATE;
END $$;

SELECT nutragenie_fdw.run_command('conn_srv', '{"drop": "conn_coll"}')->>'ok';
SELECT nutragenie_fdw.disconnect_all();
SET client_min_messages = warning;
DROP SCHEMA connection CASCADE;
DROP SERVER conn_srv, conn_dead, conn_nomap, conn_auth CASCADE;
