-- nutragenie_fdw.run_command: one MongoDB command, Extended JSON in, reply as jsonb.
\set VERBOSITY default
CREATE SCHEMA command;
SET search_path = command, public;
\getenv mongo_uri MONGODB_URI
CREATE SERVER cmd_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri :'mongo_uri', database 'ng_regress');
CREATE USER MAPPING FOR CURRENT_USER SERVER cmd_srv;

SELECT nutragenie_fdw.run_command('cmd_srv', '{"ping": 1}');
DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('cmd_srv', '{"drop": "cmd_coll"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;
SELECT nutragenie_fdw.run_command('cmd_srv', '{"insert": "cmd_coll", "documents": [{"_id": 1, "d": {"$date": "2020-01-02T03:04:05.678Z"}, "x": {"$numberLong": "9007199254740993"}, "o": {"$oid": "507f1f77bcf86cd799439011"}}]}');
SELECT nutragenie_fdw.run_command('cmd_srv', '{"find": "cmd_coll", "filter": {"_id": 1}}')->'cursor'->'firstBatch';
-- the database argument overrides the server's
SELECT nutragenie_fdw.run_command('cmd_srv', '{"count": "cmd_coll"}', 'ng_regress_other')->>'n';
SELECT nutragenie_fdw.run_command('cmd_srv', '{"count": "cmd_coll"}')->>'n';

-- errors: malformed JSON, a command the server rejects, NULLs, unknown server
SELECT nutragenie_fdw.run_command('cmd_srv', '{"ping": ');
SELECT nutragenie_fdw.run_command('cmd_srv', '{"find": "x", "filter": {"_id": {"$oid": "not-hex"}}}');
\set VERBOSITY terse
SELECT nutragenie_fdw.run_command('cmd_srv', '{"noSuchCommand": 1}');
\set VERBOSITY default
SELECT nutragenie_fdw.run_command(NULL, '{"ping": 1}');
SELECT nutragenie_fdw.run_command('cmd_srv', NULL);
SELECT nutragenie_fdw.run_command('no_srv', '{"ping": 1}');

-- a role without USAGE on the server cannot use it
CREATE ROLE cmd_user;
GRANT EXECUTE ON FUNCTION nutragenie_fdw.run_command(name, json, text) TO cmd_user;
GRANT USAGE ON SCHEMA nutragenie TO cmd_user;
SET ROLE cmd_user;
SELECT nutragenie_fdw.run_command('cmd_srv', '{"ping": 1}');
RESET ROLE;

SELECT nutragenie_fdw.run_command('cmd_srv', '{"drop": "cmd_coll"}')->>'ok';
SET client_min_messages = warning;
DROP OWNED BY cmd_user;
DROP ROLE cmd_user;
DROP SCHEMA command CASCADE;
DROP SERVER cmd_srv CASCADE;
