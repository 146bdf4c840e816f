-- The app: ng_update_user (row fields and a partial profile), passwords
-- with pgcrypto's bcrypt, ng_verify_login, nutrition goals.
SET search_path = public, nutragenie;
\getenv mongo_uri MONGODB_URI
CREATE SERVER app_user_account_srv FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (uri :'mongo_uri');
CREATE USER MAPPING FOR CURRENT_USER SERVER app_user_account_srv;
SELECT nutragenie_fdw.run_command('app_user_account_srv', '{"dropDatabase": 1}', 'ng_app_user_account') ->> 'ok' AS dropped;
TRUNCATE users, recipes, payments, nutrition_goals, nutrition_entries, recipe_ratings,
         chat_messages, cooking_sessions, event_log RESTART IDENTITY CASCADE;
SELECT ng_attach_mongo('app_user_account_srv', 'ng_app_user_account') ->> 'database' AS attached;

CREATE FUNCTION pg_temp.try(cmd text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE cmd;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT ng_create_user('{"email": "ana@example.com", "passwordHash": "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", "nickname": "ana",
  "dietaryProfile": {"dietType": "vegetarian", "allergies": ["peanuts"], "calorieTarget": 1900},
  "cookingProfile": {"skillLevel": "beginner", "favoriteCuisines": ["italian"]}}') AS ana;
SELECT ng_create_user('{"email": "ben@example.com", "passwordHash": "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"}') AS ben;

-- partial: the fields given change, the profile keys given replace theirs
SELECT ng_update_user(1, '{"nickname": "annie", "weightKg": 61.5, "lastName": "Silva",
  "dietaryProfile": {"allergies": ["peanuts", "sesame"]}, "cookingProfile": {"skillLevel": "intermediate"}}')
       - 'mongodbProfileId' - 'createdAt' AS profile;
SELECT nickname, last_name, weight_kg FROM users WHERE id = 1;
SELECT dietary_profile, cooking_profile FROM user_profiles WHERE postgres_user_id = 1;
SELECT ng_update_user(1, '{"lastName": null}') ->> 'lastName' AS cleared;

SELECT pg_temp.try($$SELECT ng_update_user(1, '{"email": "BEN@example.com"}')$$);
SELECT pg_temp.try($$SELECT ng_update_user(1, '{"email": "not-an-email"}')$$);
SELECT pg_temp.try($$SELECT ng_update_user(1, '{"password": "secret"}')$$);
SELECT pg_temp.try($$SELECT ng_update_user(1, '{"heightCm": 1000}')$$);
SELECT pg_temp.try($$SELECT ng_update_user(1, '{"dietaryProfile": {"calorieTarget": 90000}}')$$);
SELECT pg_temp.try($$SELECT ng_update_user(1, '{"dietaryProfile": {"allergies": "peanuts"}}')$$);
SELECT pg_temp.try($$SELECT ng_update_user(1, '{"cookingProfile": {"skillLevel": "wizard"}}')$$);
SELECT pg_temp.try($$SELECT ng_update_user(9, '{"nickname": "x"}')$$);

-- passwords: bcrypt, checked by crypt()
SELECT ng_set_password(1, 'correct horse battery');
SELECT password_hash ~ '^\$2a\$10\$.{53}$' AS bcrypt FROM users WHERE id = 1;
SELECT ng_verify_login('ana@example.com', 'correct horse battery') AS ok,
       ng_verify_login('ANA@example.com', 'correct horse battery') AS any_case,
       ng_verify_login('ana@example.com', 'correct horse batterY') AS wrong,
       ng_verify_login('ben@example.com', 'h') AS not_bcrypt,
       ng_verify_login('nobody@example.com', 'x') AS unknown,
       ng_verify_login('ana@example.com', NULL) AS no_password;
SELECT pg_temp.try($$SELECT ng_set_password(1, 'short')$$);
SELECT pg_temp.try($$SELECT ng_set_password(9, 'long enough')$$);
-- a new user with a password (hashed), not a hash
SELECT ng_create_user('{"email": "cy@example.com", "password": "open sesame 42"}') AS cy;
SELECT ng_verify_login('cy@example.com', 'open sesame 42') AS cy_ok;
SELECT pg_temp.try($$SELECT ng_create_user('{"email": "dee@example.com"}')$$);

-- goals: one in force per day; a new one ends the previous one
SELECT ng_set_nutrition_goal(1, '{"calories": 2000, "proteinG": 80, "validFrom": "2026-01-01"}');
SELECT ng_set_nutrition_goal(1, '{"calories": 1800, "validFrom": "2026-03-01"}');
SELECT ng_set_nutrition_goal(1, '{"calories": 1900, "validFrom": "2026-02-01"}');
SELECT ng_set_nutrition_goal(1, '{"calories": 1850, "validFrom": "2026-02-01"}') ->> 'calories' AS replaced;
SELECT calories, protein_g, valid_from, valid_to FROM nutrition_goals WHERE user_id = 1 ORDER BY valid_from;
SELECT ng_nutrition_goal(1, '2026-02-15') ->> 'calories' AS feb, ng_nutrition_goal(1, '2025-12-31') AS before;
SELECT pg_temp.try($$SELECT ng_set_nutrition_goal(1, '{"calories": 100}')$$);
SELECT pg_temp.try($$SELECT ng_set_nutrition_goal(1, '{"calories": 2000, "validFrom": "2026-02-30"}')$$);
SELECT pg_temp.try($$SELECT ng_set_nutrition_goal(1, '{"kcal": 2000}')$$);
SELECT pg_temp.try($$SELECT ng_set_nutrition_goal(9, '{"calories": 2000}')$$);

SET client_min_messages = warning;
SELECT ng_detach_mongo();
TRUNCATE users, recipes, payments, nutrition_goals, nutrition_entries, recipe_ratings,
         chat_messages, cooking_sessions, event_log RESTART IDENTITY CASCADE;
SELECT nutragenie_fdw.run_command('app_user_account_srv', '{"dropDatabase": 1}', 'ng_app_user_account') ->> 'ok' AS dropped;
DROP SERVER app_user_account_srv CASCADE;
