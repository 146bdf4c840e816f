-- IMPORT FOREIGN SCHEMA ... OPTIONS (snake_case 'true'): camelCase field
-- names become snake_case column names, so that no column needs quoting;
-- the field option keeps MongoDB's spelling, and names that meet are made
-- unique as usual.
SET timezone = 'UTC';
CREATE SCHEMA import_snake;
SET search_path = import_snake, public;
\getenv mongo_uri MONGODB_URI
CREATE SERVER import_snake_srv FOREIGN DATA WRAPPER nutragenie_fdw
  OPTIONS (uri :'mongo_uri', database 'ng_import_snake');
CREATE USER MAPPING FOR CURRENT_USER SERVER import_snake_srv;
SELECT nutragenie_fdw.run_command('import_snake_srv', '{"dropDatabase": 1}') ->> 'ok' AS dropped;
SELECT nutragenie_fdw.run_command('import_snake_srv', $$
{"insert": "profiles", "documents": [
  {"_id": 1, "postgresUserId": 7, "dietaryProfile": {"dietType": "vegan", "calorieTarget": 2000},
   "HTTPCode": 200, "userId": 1, "user_id": 2, "already_snake": 3, "ABC": 4, "v2Name": 5, "x": 6}]}
$$) ->> 'n' AS inserted;

IMPORT FOREIGN SCHEMA ng_import_snake FROM SERVER import_snake_srv INTO import_snake
  OPTIONS (snake_case 'true');
SELECT attname, format_type(atttypid, atttypmod) AS type, attfdwoptions
FROM pg_attribute WHERE attrelid = 'import_snake.profiles'::regclass AND attnum > 0
ORDER BY attnum;
SELECT postgres_user_id, dietary_profile_diet_type, dietary_profile_calorie_target, http_code,
       user_id, user_id_2, v2_name
FROM profiles;
DROP FOREIGN TABLE profiles;

-- without the option (or with 'false'), MongoDB's spelling
IMPORT FOREIGN SCHEMA ng_import_snake FROM SERVER import_snake_srv INTO import_snake
  OPTIONS (snake_case 'false');
SELECT "postgresUserId", "dietaryProfile_dietType" FROM profiles;

\set VERBOSITY terse
IMPORT FOREIGN SCHEMA ng_import_snake FROM SERVER import_snake_srv INTO import_snake
  OPTIONS (snake_case 'maybe');
\set VERBOSITY default

SET client_min_messages = warning;
SELECT nutragenie_fdw.run_command('import_snake_srv', '{"dropDatabase": 1}') ->> 'ok' AS dropped;
DROP SCHEMA import_snake CASCADE;
DROP SERVER import_snake_srv CASCADE;
