-- Options of nutragenie_fdw objects: every option in every context, bad
-- values, and the superuser-only ones.  Needs no MongoDB server.
\set VERBOSITY default
SET client_min_messages = notice;
CREATE SCHEMA validator;
SET search_path = validator, nutragenie;

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

-- Table options
CREATE FOREIGN TABLE val_t (_id nutragenie.objectid, n int)
  SERVER val_srv OPTIONS (database 'other', collection 'things', batch_size '10',
                          type_mismatch 'null', json_mode 'canonical');
CREATE FOREIGN TABLE val_bad (a int) SERVER val_srv OPTIONS (uri 'mongodb://x');
CREATE FOREIGN TABLE val_bad (a int) SERVER val_srv OPTIONS (collection '');
CREATE FOREIGN TABLE val_bad (a int) SERVER val_srv OPTIONS (collection 'a$b');
CREATE FOREIGN TABLE val_bad (a int) SERVER val_srv OPTIONS (collection 'system.users');
CREATE FOREIGN TABLE val_bad (a int) SERVER val_srv OPTIONS (type_mismatch 'ignore');
CREATE FOREIGN TABLE val_bad (a int) SERVER val_srv OPTIONS (json_mode 'shell');
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
ALTER FOREIGN TABLE val_cols ALTER COLUMN kcal OPTIONS (SET type_mismatch 'error');

-- $$ROOT only fits json and jsonb, checked when the table is planned
CREATE FOREIGN TABLE val_root_text (doc text OPTIONS (field '$$ROOT')) SERVER val_srv;
EXPLAIN (COSTS OFF) SELECT * FROM val_root_text;

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
GRANT USAGE ON FOREIGN SERVER val_srv TO val_user;
GRANT USAGE, CREATE ON SCHEMA validator TO val_user;
GRANT USAGE ON SCHEMA nutragenie TO val_user;
SET ROLE val_user;
CREATE USER MAPPING FOR val_user SERVER val_srv OPTIONS (password_required 'false');
CREATE USER MAPPING FOR val_user SERVER val_srv OPTIONS (username 'u');
CREATE FOREIGN TABLE val_user_t (_id nutragenie.objectid) SERVER val_srv;
-- refused before any connection attempt
SELECT * FROM val_user_t;
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
DROP SERVER val_srv, val_srv_srv, val_srv_dns, val_nodb CASCADE;
