-- Authentication: failures of every mechanism are "could not authenticate"
-- (HV00N) and leave the connection marked broken; a non-superuser must log
-- in with the password of their user mapping, so mechanisms that ignore it
-- (MONGODB-X509, GSSAPI, MONGODB-AWS without a key pair) and mappings
-- without a user name are refused before any connection is made.
--
-- The test server is FerretDB 1.24 in embedded mode: it has no SCRAM (it
-- answers saslStart for SCRAM with AuthenticationFailed), no authenticate
-- command (MONGODB-X509 fails), and it accepts any PLAIN login without
-- checking it.  So PLAIN stands in for "a mechanism that uses the password"
-- and the SCRAM path ends in the server's refusal; a wrong password against
-- a server that checks it, and the driver's SCRAM-domain errors, need a
-- server with users (FerretDB 2 with authentication, or MongoDB).
--
-- expected/connection_auth_1.out is FerretDB 2 without authentication (the
-- suite's DocumentDB legs): it refuses PLAIN ("mechanism PLAIN which is not
-- enabled"), so the PLAIN logins that FerretDB 1.24 waves through fail there
-- with HV00N; test/scripts/fdw_auth_documentdb.sh covers real passwords.
\set VERBOSITY terse
CREATE SCHEMA connection_auth;
SET search_path = connection_auth, public;
\getenv mongo_uri MONGODB_URI
CREATE SERVER ca_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri :'mongo_uri', database 'ng_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER ca_srv;
DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('ca_srv', '{"drop": "ca_coll"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;
SELECT nutragenie_fdw.run_command('ca_srv', '{"insert": "ca_coll", "documents": [{"_id": 1}]}')->>'ok';
CREATE FOREIGN TABLE ca_t (_id int) SERVER ca_srv OPTIONS (collection 'ca_coll');
SELECT nutragenie_fdw.disconnect_all();

-- failures of each mechanism: HV00N, and the connection is marked broken
ALTER USER MAPPING FOR CURRENT_USER SERVER ca_srv
  OPTIONS (ADD username 'nobody', ADD password 'wrong-password');
SELECT * FROM ca_t;
SELECT server_name, valid FROM nutragenie_fdw.connections();
ALTER USER MAPPING FOR CURRENT_USER SERVER ca_srv OPTIONS (ADD auth_mechanism 'SCRAM-SHA-256');
SELECT * FROM ca_t;
ALTER USER MAPPING FOR CURRENT_USER SERVER ca_srv OPTIONS (SET auth_mechanism 'SCRAM-SHA-1');
SELECT * FROM ca_t;
ALTER USER MAPPING FOR CURRENT_USER SERVER ca_srv
  OPTIONS (SET auth_mechanism 'MONGODB-X509', DROP password);
SELECT * FROM ca_t;
DO $$ BEGIN
  PERFORM * FROM connection_auth.ca_t;
EXCEPTION WHEN fdw_unable_to_establish_connection THEN
  RAISE NOTICE 'caught %: %', SQLSTATE, SQLERRM;
END $$;
SELECT server_name, valid FROM nutragenie_fdw.connections();
-- a login the server accepts: the broken connection is rebuilt
ALTER USER MAPPING FOR CURRENT_USER SERVER ca_srv
  OPTIONS (SET auth_mechanism 'PLAIN', ADD password 'pw');
SELECT * FROM ca_t;
SELECT server_name, valid FROM nutragenie_fdw.connections();

-- a non-superuser (the errors below are ours, not the server's)
\set VERBOSITY default
CREATE ROLE ca_user;
GRANT USAGE ON SCHEMA connection_auth, nutragenie TO ca_user;
GRANT SELECT ON ca_t TO ca_user;
GRANT USAGE ON FOREIGN SERVER ca_srv TO ca_user;
CREATE USER MAPPING FOR ca_user SERVER ca_srv
  OPTIONS (username 'ca_user', password 'pw', auth_mechanism 'PLAIN');
SET ROLE ca_user;
-- with a mechanism that uses the mapping's password: fine
SELECT * FROM ca_t;
RESET ROLE;
-- a password but no user name: the driver would log in as nobody
ALTER USER MAPPING FOR ca_user SERVER ca_srv OPTIONS (DROP username, DROP auth_mechanism);
SET ROLE ca_user;
SELECT * FROM ca_t;
RESET ROLE;
-- a mechanism that ignores the password, from the mapping or the uri
ALTER USER MAPPING FOR ca_user SERVER ca_srv
  OPTIONS (ADD username 'CN=ca_user', ADD auth_mechanism 'MONGODB-X509');
SET ROLE ca_user;
SELECT * FROM ca_t;
RESET ROLE;
ALTER USER MAPPING FOR ca_user SERVER ca_srv OPTIONS (DROP auth_mechanism);
SELECT :'mongo_uri' LIKE '%?%' AS has_query \gset
\if :has_query
\set x509_uri :mongo_uri '&authMechanism=MONGODB-X509'
\else
\set x509_uri :mongo_uri '?authMechanism=MONGODB-X509'
\endif
CREATE SERVER ca_x509 FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri :'x509_uri', database 'ng_regress');
GRANT USAGE ON FOREIGN SERVER ca_x509 TO ca_user;
CREATE FOREIGN TABLE ca_x509_t (_id int) SERVER ca_x509 OPTIONS (collection 'ca_coll');
GRANT SELECT ON ca_x509_t TO ca_user;
CREATE USER MAPPING FOR ca_user SERVER ca_x509 OPTIONS (username 'CN=ca_user', password 'pw');
SET ROLE ca_user;
SELECT * FROM ca_x509_t;
DO $$ BEGIN
  PERFORM * FROM connection_auth.ca_x509_t;
EXCEPTION WHEN sqlstate '2F003' THEN
  RAISE NOTICE 'caught %', SQLSTATE;
END $$;
RESET ROLE;
-- a superuser may waive the password: then any mechanism, or none
ALTER USER MAPPING FOR ca_user SERVER ca_srv
  OPTIONS (DROP username, DROP password, ADD password_required 'false');
SET ROLE ca_user;
SELECT * FROM ca_t;
RESET ROLE;

SELECT nutragenie_fdw.run_command('ca_srv', '{"drop": "ca_coll"}')->>'ok';
SELECT nutragenie_fdw.disconnect_all();
SET client_min_messages = warning;
DROP SCHEMA connection_auth CASCADE;
DROP SERVER ca_srv, ca_x509 CASCADE;
DROP OWNED BY ca_user;
DROP ROLE ca_user;
