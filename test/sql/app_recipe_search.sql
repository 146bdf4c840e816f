-- The app: ng_search_recipes by title prefix, cuisine, category, tag,
-- calories, difficulty, diet and allergies (or a user's), best rated first.
SET search_path = public, nutragenie;
\getenv mongo_uri MONGODB_URI
CREATE SERVER app_recipe_search_srv FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (uri :'mongo_uri');
CREATE USER MAPPING FOR CURRENT_USER SERVER app_recipe_search_srv;
SELECT nutragenie_fdw.run_command('app_recipe_search_srv', '{"dropDatabase": 1}', 'ng_app_recipe_search') ->> 'ok' AS dropped;
TRUNCATE users, recipes, payments, nutrition_goals, nutrition_entries, recipe_ratings,
         chat_messages, cooking_sessions, event_log RESTART IDENTITY CASCADE;
SELECT ng_attach_mongo('app_recipe_search_srv', 'ng_app_recipe_search') ->> 'database' AS attached;

CREATE FUNCTION pg_temp.try(cmd text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE cmd;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT ng_create_user('{"email": "vera@example.com", "passwordHash": "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
  "dietaryProfile": {"dietType": "vegan", "allergies": ["gluten", "mushrooms"]}}') AS vera;
SELECT ng_create_recipe(r::jsonb) FROM (VALUES
 ('{"title": "Lentil soup", "category": "lunch", "cuisine": "indian", "tags": ["vegan", "Quick"], "difficultyLevel": 1,
    "ingredients": [{"name": "red lentils"}, {"name": "onion"}], "nutrition": {"calories": 320, "carbs_g": 40}}'),
 ('{"title": "Lentil salad", "category": "lunch", "cuisine": "mediterranean", "tags": ["vegetarian"], "difficultyLevel": 2,
    "ingredients": [{"name": "lentils"}, {"name": "feta"}], "nutrition": {"calories": 410, "carbs_g": 30}}'),
 ('{"title": "Mushroom risotto", "category": "dinner", "cuisine": "italian", "tags": ["vegan"], "difficultyLevel": 3,
    "ingredients": [{"name": "rice"}, {"name": "Mushrooms"}], "nutrition": {"calories": 520, "carbs_g": 80}}'),
 ('{"title": "Chicken pasta", "category": "dinner", "cuisine": "italian", "tags": ["quick"], "difficultyLevel": 2,
    "ingredients": [{"name": "chicken breast"}, {"name": "pasta"}], "nutrition": {"calories": 650, "carbs_g": 70}}'),
 ('{"title": "100% rye toast", "category": "breakfast", "cuisine": "nordic", "tags": ["vegan"], "difficultyLevel": 1,
    "ingredients": [{"name": "rye bread"}], "nutrition": {"calories": 180, "carbs_g": 30}}'),
 ('{"title": "Egg-free eggplant bake", "category": "dinner", "cuisine": "italian", "tags": ["vegan"], "difficultyLevel": 4,
    "ingredients": [{"name": "eggplant"}, {"name": "tomato"}], "nutrition": {"calories": 380, "carbs_g": 25}}')) v(r);
SELECT ng_rate_recipe(1, 2, 5);
SELECT ng_rate_recipe(1, 4, 4);

SELECT recipe_id, title FROM ng_search_recipes('{"text": "Lentil"}');
SELECT recipe_id, title FROM ng_search_recipes('{"text": "lentil"}');          -- case matters (pushed as a regex prefix)
SELECT recipe_id, title FROM ng_search_recipes('{"text": "100%"}');            -- LIKE wildcards are literal
SELECT recipe_id, title FROM ng_search_recipes('{"text": "10_%"}');
SELECT recipe_id, title, cuisine, calories FROM ng_search_recipes('{"cuisine": "italian", "maxCalories": 600}');
SELECT recipe_id, title, category FROM ng_search_recipes('{"category": "dinner", "maxDifficulty": 3}');
SELECT recipe_id, title, tags FROM ng_search_recipes('{"tag": "QUICK"}');
SELECT recipe_id, title FROM ng_search_recipes('{"diet": "vegetarian"}');
SELECT recipe_id, title FROM ng_search_recipes('{"diet": "vegan", "excludeAllergens": ["gluten"]}');
-- the user's diet (vegan) and allergies (gluten, and mushrooms, which has no rule: matched by name)
SELECT recipe_id, title FROM ng_search_recipes('{"forUser": 1}');
SELECT recipe_id, title, average_rating, rating_count FROM ng_search_recipes('{}', 3);

SELECT pg_temp.try($$SELECT * FROM ng_search_recipes('{"colour": "red"}')$$);
SELECT pg_temp.try($$SELECT * FROM ng_search_recipes('{"diet": "carnivore"}')$$);
SELECT pg_temp.try($$SELECT * FROM ng_search_recipes('{"maxCalories": "400"}')$$);
SELECT pg_temp.try($$SELECT * FROM ng_search_recipes('{"forUser": 9}')$$);
SELECT pg_temp.try($$SELECT * FROM ng_search_recipes('[]')$$);
SELECT pg_temp.try($$SELECT * FROM ng_search_recipes('{}', 0)$$);

SET client_min_messages = warning;
SELECT ng_detach_mongo();
TRUNCATE users, recipes, payments, nutrition_goals, nutrition_entries, recipe_ratings,
         chat_messages, cooking_sessions, event_log RESTART IDENTITY CASCADE;
SELECT nutragenie_fdw.run_command('app_recipe_search_srv', '{"dropDatabase": 1}', 'ng_app_recipe_search') ->> 'ok' AS dropped;
DROP SERVER app_recipe_search_srv CASCADE;
