-- Options of nutragenie_fdw objects: every option in every context, bad
-- values, and the superuser-only ones.  Needs no MongoDB server.
\set VERBOSITY default
SET client_min_messages = notice;
CREATE SCHEMA validator;
SET search_path = validator, public;

-- Server options
CREATE SERVER val_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri 'mongodb://127.0.0.1:1/?replicaSet=rs0&readPreference=secondaryPreferred',
           database 'ng', batch_size '500');
CREATE SERVER val_srv_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri 'mongodb://a.example:27017,b.example:27018/?tls=true&authSource=admin&connectTimeoutMS=2000');
CREATE SERVER val_srv_dns FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri 'mongodb+srv://cluster0.example.net/?retryWrites=true&w=majority');
-- a connection string the driver rejects (terse: the detail is the
-- driver's own words, which differ between libmongoc versions)
\set VERBOSITY terse
CREATE SERVER val_bad FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (uri 'http://nope');
CREATE SERVER val_bad FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (uri 'mongodb://');
\set VERBOSITY default
-- credentials belong in user mappings
CREATE SERVER val_bad FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (uri 'mongodb://bob:secret@localhost/');
-- unknown option, and options of other objects, with the valid ones listed
CREATE SERVER val_bad FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (host 'localhost');
CREATE SERVER val_bad FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (collection 'x');
CREATE SERVER val_bad FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (password 'x');
CREATE SERVER val_bad FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (database '');
CREATE SERVER val_bad FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (batch_size '0');
CREATE SERVER val_bad FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (batch_size 'many');
ALTER SERVER val_srv OPTIONS (SET batch_size '100000');
ALTER SERVER val_srv OPTIONS (SET batch_size '100001');
-- the parser the planner uses: decimal digits only (parse_int took these)
CREATE SERVER val_bad FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (batch_size '1e3');
CREATE SERVER val_bad FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (batch_size '5.5');
CREATE SERVER val_bad FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (batch_size ' 5');
CREATE SERVER val_bad FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (batch_size '0x10');
CREATE SERVER val_bad FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (batch_size '99999999999');
CREATE SERVER val_bad FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (use_remote_estimate 'yes');
CREATE SERVER val_bad FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (use_remote_estimate 'on');
DROP SERVER val_bad;
-- secrets are refused in the uri, with the user mapping option to use
CREATE SERVER val_bad FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri 'mongodb://h/?tls=true&tlsCertificateKeyFilePassword=hunter2');
CREATE SERVER val_bad FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri 'mongodb://h/?ssl=true&sslClientCertificateKeyPassword=hunter2');
CREATE SERVER val_bad FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri 'mongodb://h/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:tok');
-- a property outside the allowed list is refused too (by us with libmongoc
-- 1, by libmongoc 2's own parser in its own words: the SQLSTATE only)
\set VERBOSITY sqlstate
CREATE SERVER val_bad FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri 'mongodb://h/?authMechanism=MONGODB-AWS&authMechanismProperties=SERVICE_NAME:x,API_KEY:k');
\set VERBOSITY default
CREATE SERVER val_aws FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri 'mongodb://h/?authMechanism=MONGODB-AWS');
CREATE SERVER val_x509 FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri 'mongodb://127.0.0.1:1/?authMechanism=MONGODB-X509');
-- files the backend reads: a superuser may name them, as absolute paths
CREATE SERVER val_tls FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri 'mongodb://h/?tls=true&tlsCAFile=/etc/ssl/certs/ca.pem', tls_ca_file '/etc/ssl/certs/ca.pem');
ALTER SERVER val_tls OPTIONS (SET tls_ca_file 'certs/ca.pem');
ALTER SERVER val_tls OPTIONS (SET tls_ca_file '');
-- no options at the wrapper level
ALTER FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (ADD uri 'mongodb://x');

-- User mapping options
CREATE USER MAPPING FOR CURRENT_USER SERVER val_srv
  OPTIONS (username 'app', password 'secret');
ALTER USER MAPPING FOR CURRENT_USER SERVER val_srv OPTIONS (ADD password_required 'false');
ALTER USER MAPPING FOR CURRENT_USER SERVER val_srv OPTIONS (SET password_required 'maybe');
CREATE USER MAPPING FOR public SERVER val_srv OPTIONS (uri 'mongodb://x');
CREATE USER MAPPING FOR public SERVER val_srv OPTIONS (password '');
-- the password is never shown by a failing option check
CREATE USER MAPPING FOR public SERVER val_srv OPTIONS (database 'x');
-- authentication and TLS client options
CREATE USER MAPPING FOR public SERVER val_tls
  OPTIONS (username 'app', password 'secret', auth_mechanism 'scram-sha-256',
           tls_certificate_key_file '/etc/ssl/private/client.pem',
           tls_certificate_key_file_password 'hunter2');
ALTER USER MAPPING FOR public SERVER val_tls OPTIONS (SET auth_mechanism 'KERBEROS');
ALTER USER MAPPING FOR public SERVER val_tls OPTIONS (SET tls_certificate_key_file 'client.pem');
ALTER USER MAPPING FOR public SERVER val_tls OPTIONS (SET tls_certificate_key_file_password '');
CREATE USER MAPPING FOR public SERVER val_aws OPTIONS (aws_session_token 'tok');

-- Table options
CREATE FOREIGN TABLE val_t (_id objectid, n int)
  SERVER val_srv OPTIONS (database 'other', collection 'things', batch_size '10',
                          type_mismatch 'null', json_mode 'canonical');
CREATE FOREIGN TABLE val_bad (a int) SERVER val_srv OPTIONS (uri 'mongodb://x');
CREATE FOREIGN TABLE val_bad (a int) SERVER val_srv OPTIONS (collection '');
CREATE FOREIGN TABLE val_bad (a int) SERVER val_srv OPTIONS (collection 'a$b');
CREATE FOREIGN TABLE val_bad (a int) SERVER val_srv OPTIONS (collection 'system.users');
CREATE FOREIGN TABLE val_bad (a int) SERVER val_srv OPTIONS (type_mismatch 'ignore');
CREATE FOREIGN TABLE val_bad (a int) SERVER val_srv OPTIONS (json_mode 'shell');
CREATE FOREIGN TABLE val_bad (a int) SERVER val_srv OPTIONS (batch_size '1e3');
CREATE FOREIGN TABLE val_bad (a int) SERVER val_srv OPTIONS (timestamp_rounding 'nearest');
ALTER FOREIGN TABLE val_t OPTIONS (ADD timestamp_rounding 'truncate');
CREATE FOREIGN TABLE val_bad (a int) SERVER val_srv OPTIONS (field 'a');

-- Column options
CREATE FOREIGN TABLE val_cols (
    _id text,
    kcal numeric OPTIONS (field 'nutrition.energy.kcal', type_mismatch 'null'),
    doc jsonb OPTIONS (field '$$ROOT', json_mode 'relaxed'),
    tags text[] OPTIONS (field 'tags')
) SERVER val_srv;
CREATE FOREIGN TABLE val_bad (a int OPTIONS (field '')) SERVER val_srv;
CREATE FOREIGN TABLE val_bad (a int OPTIONS (field 'a..b')) SERVER val_srv;
CREATE FOREIGN TABLE val_bad (a int OPTIONS (field '.a')) SERVER val_srv;
CREATE FOREIGN TABLE val_bad (a int OPTIONS (field 'a.$b')) SERVER val_srv;
CREATE FOREIGN TABLE val_bad (a int OPTIONS (collection 'x')) SERVER val_srv;
CREATE FOREIGN TABLE val_bad (a timestamptz OPTIONS (timestamp_rounding 'up')) SERVER val_srv;
ALTER FOREIGN TABLE val_cols ALTER COLUMN kcal OPTIONS (SET type_mismatch 'error');
ALTER FOREIGN TABLE val_cols ADD COLUMN at timestamptz OPTIONS (timestamp_rounding 'ROUND');

-- $$ROOT only fits json and jsonb: refused by the statement that makes it
CREATE FOREIGN TABLE val_root_text (doc text OPTIONS (field '$$ROOT')) SERVER val_srv;
ALTER FOREIGN TABLE val_cols ALTER COLUMN doc TYPE text;
ALTER FOREIGN TABLE val_cols ALTER COLUMN tags OPTIONS (SET field '$$ROOT');
ALTER TABLE val_cols ALTER COLUMN doc TYPE json;
-- and again when planned, should the table have been made without the check
ALTER EVENT TRIGGER nutragenie_fdw_check_ddl DISABLE;
CREATE FOREIGN TABLE val_root_text (doc text OPTIONS (field '$$ROOT')) SERVER val_srv;
ALTER EVENT TRIGGER nutragenie_fdw_check_ddl ENABLE;
EXPLAIN (COSTS OFF) SELECT * FROM val_root_text;
-- several columns may read one field
CREATE FOREIGN TABLE val_alias (n int, n_text text OPTIONS (field 'n')) SERVER val_srv;

-- A table without a database anywhere
CREATE SERVER val_nodb FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (uri 'mongodb://127.0.0.1:1/');
CREATE USER MAPPING FOR CURRENT_USER SERVER val_nodb;
CREATE FOREIGN TABLE val_nodb_t (a int) SERVER val_nodb;
EXPLAIN (COSTS OFF) SELECT * FROM val_nodb_t;
-- the database in the uri's path is used
ALTER SERVER val_nodb OPTIONS (SET uri 'mongodb://127.0.0.1:1/fromuri');
EXPLAIN (COSTS OFF) SELECT * FROM val_nodb_t;

-- Non-superusers: password_required, and connecting without a password
CREATE ROLE val_user;
GRANT USAGE ON FOREIGN SERVER val_srv, val_aws, val_x509 TO val_user;
GRANT USAGE ON FOREIGN DATA WRAPPER nutragenie_fdw TO val_user;
GRANT USAGE, CREATE ON SCHEMA validator TO val_user;
GRANT USAGE ON SCHEMA nutragenie TO val_user;
SET ROLE val_user;
CREATE USER MAPPING FOR val_user SERVER val_srv OPTIONS (password_required 'false');
CREATE USER MAPPING FOR val_user SERVER val_srv OPTIONS (username 'u');
CREATE FOREIGN TABLE val_user_t (_id objectid) SERVER val_srv;
-- refused before any connection attempt
SELECT * FROM val_user_t;
-- a password without a user name authenticates nobody
ALTER USER MAPPING FOR val_user SERVER val_srv OPTIONS (DROP username, ADD password 'pw');
SELECT * FROM val_user_t;
-- a mechanism that ignores the password is refused for them
ALTER USER MAPPING FOR val_user SERVER val_srv OPTIONS (ADD username 'u', ADD auth_mechanism 'MONGODB-X509');
SELECT * FROM val_user_t;
ALTER USER MAPPING FOR val_user SERVER val_srv OPTIONS (SET auth_mechanism 'GSSAPI');
SELECT * FROM val_user_t;
-- also when the server's uri names it
ALTER USER MAPPING FOR val_user SERVER val_srv OPTIONS (DROP auth_mechanism);
CREATE FOREIGN TABLE val_x509_t (_id int) SERVER val_x509 OPTIONS (database 'd');
CREATE USER MAPPING FOR val_user SERVER val_x509 OPTIONS (username 'u', password 'pw');
SELECT * FROM val_x509_t;
-- MONGODB-AWS without a key pair in the mapping would use the host's role
CREATE FOREIGN TABLE val_aws_t (_id int) SERVER val_aws OPTIONS (database 'd');
CREATE USER MAPPING FOR val_user SERVER val_aws OPTIONS (aws_session_token 't');
SELECT * FROM val_aws_t;
-- files and the waiver are superuser-only
CREATE SERVER val_user_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri 'mongodb://h/?tls=true&tlsCAFile=/etc/ssl/certs/ca.pem');
CREATE SERVER val_user_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri 'mongodb://h/?tls=true&sslClientCertificateKeyFile=/etc/ssl/private/host.pem');
CREATE SERVER val_user_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri 'mongodb://h/', tls_ca_file '/etc/ssl/certs/ca.pem');
CREATE SERVER val_user_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri 'mongodb://h/?tls=true', database 'd');
CREATE USER MAPPING FOR val_user SERVER val_user_srv
  OPTIONS (tls_certificate_key_file '/etc/ssl/private/host.pem');
CREATE USER MAPPING FOR val_user SERVER val_user_srv
  OPTIONS (username 'u', password 'pw', tls_certificate_key_file_password 'x',
           aws_session_token 't', auth_mechanism 'SCRAM-SHA-1');
RESET ROLE;
-- a superuser may waive the password for them
ALTER USER MAPPING FOR val_user SERVER val_srv OPTIONS (ADD password_required 'false');

-- Options are kept as given
SELECT srvname, srvoptions FROM pg_foreign_server WHERE srvname LIKE 'val%' ORDER BY 1;
SELECT c.relname, ft.ftoptions FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid
WHERE c.relname LIKE 'val%' ORDER BY 1;
SELECT attname, attfdwoptions FROM pg_attribute
WHERE attrelid = 'val_cols'::regclass AND attnum > 0 ORDER BY attnum;

SET client_min_messages = warning;
DROP OWNED BY val_user;
DROP ROLE val_user;
DROP SCHEMA validator CASCADE;
DROP SERVER val_srv, val_srv_srv, val_srv_dns, val_nodb, val_aws, val_tls, val_x509 CASCADE;
