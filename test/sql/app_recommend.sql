-- The app: ng_recommend_recipes respects diet, allergies and the calorie
-- goal, ranks by the user's ratings, popularity and favourite cuisines, and
-- says why; ng_refresh_behavior keeps patterns and recommendations in
-- user_behavior.
SET search_path = public, nutragenie;
\getenv mongo_uri MONGODB_URI
CREATE SERVER app_recommend_srv FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (uri :'mongo_uri');
CREATE USER MAPPING FOR CURRENT_USER SERVER app_recommend_srv;
SELECT nutragenie_fdw.run_command('app_recommend_srv', '{"dropDatabase": 1}', 'ng_app_recommend') ->> 'ok' AS dropped;
TRUNCATE users, recipes, payments, nutrition_goals, nutrition_entries, recipe_ratings,
         chat_messages, cooking_sessions, event_log RESTART IDENTITY CASCADE;
SELECT ng_attach_mongo('app_recommend_srv', 'ng_app_recommend') ->> 'database' AS attached;

CREATE FUNCTION pg_temp.try(cmd text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE cmd;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT ng_create_user('{"email": "vera@example.com", "passwordHash": "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
  "dietaryProfile": {"dietType": "vegetarian", "allergies": ["peanuts"], "calorieTarget": 2000},
  "cookingProfile": {"favoriteCuisines": ["thai"]}}') AS vera;
SELECT ng_create_user(format('{"email": "rater%s@example.com", "passwordHash": "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"}', g)::jsonb) FROM generate_series(1, 4) g;
SELECT ng_create_recipe(r::jsonb) FROM (VALUES
 ('{"title": "Dal", "category": "dinner", "cuisine": "indian", "ingredients": [{"name": "lentils"}], "nutrition": {"calories": 450}}'),
 ('{"title": "Chana masala", "category": "dinner", "cuisine": "indian", "ingredients": [{"name": "chickpeas"}], "nutrition": {"calories": 500}}'),
 ('{"title": "Palak paneer", "category": "dinner", "cuisine": "indian", "ingredients": [{"name": "paneer"}], "nutrition": {"calories": 600}}'),
 ('{"title": "Green curry", "category": "dinner", "cuisine": "thai", "ingredients": [{"name": "tofu"}], "nutrition": {"calories": 550}}'),
 ('{"title": "Pad thai", "category": "dinner", "cuisine": "thai", "ingredients": [{"name": "rice noodles"}, {"name": "peanuts"}], "nutrition": {"calories": 600}}'),
 ('{"title": "Chicken satay", "category": "dinner", "cuisine": "thai", "ingredients": [{"name": "chicken"}], "nutrition": {"calories": 500}}'),
 ('{"title": "Pancakes", "category": "breakfast", "cuisine": "american", "ingredients": [{"name": "flour"}, {"name": "milk"}], "nutrition": {"calories": 700}}'),
 ('{"title": "Waffles", "category": "breakfast", "cuisine": "american", "ingredients": [{"name": "flour"}], "nutrition": {"calories": 900}}'),
 ('{"title": "Fruit salad", "category": "breakfast", "cuisine": "american", "ingredients": [{"name": "apple"}]}')) v(r);
-- the crowd loves the breakfasts; vera rated Indian dinners high, breakfast low
INSERT INTO recipe_ratings (user_id, recipe_id, rating)
SELECT u, r, 5 FROM generate_series(2, 5) u, unnest(ARRAY[7, 8, 9]) r;
INSERT INTO recipe_ratings (user_id, recipe_id, rating) VALUES (1, 1, 5), (1, 2, 5), (1, 7, 2), (2, 4, 3);

SELECT rank, recipe_id, title, score, reasons FROM ng_recommend_recipes(1, 5);
-- after a goal of 1200 kcal (480 per meal at most) only the light ones are left
SELECT ng_set_nutrition_goal(1, '{"calories": 1200}') ->> 'calories' AS goal;
SELECT rank, title, calories, reasons[array_upper(reasons, 1)] AS why_it_fits FROM ng_recommend_recipes(1, 5);
-- a new user (default profile, no ratings): popularity only
SELECT ng_create_user('{"email": "new@example.com", "passwordHash": "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"}') AS newbie;
SELECT rank, title, reasons FROM ng_recommend_recipes(6, 3);
SELECT pg_temp.try('SELECT * FROM ng_recommend_recipes(1, 0)');
SELECT pg_temp.try('SELECT * FROM ng_recommend_recipes(9, 3)');

-- patterns and the top recommendations, in MongoDB
SELECT ng_refresh_behavior(ARRAY[1]::bigint[]);
SELECT patterns -> 'ratings' AS ratings, jsonb_path_query_array(recommendations, '$[*].recipeId') AS recommended
FROM user_behavior WHERE _id = 1;
SELECT ng_refresh_behavior() AS users;

SET client_min_messages = warning;
SELECT ng_detach_mongo();
TRUNCATE users, recipes, payments, nutrition_goals, nutrition_entries, recipe_ratings,
         chat_messages, cooking_sessions, event_log RESTART IDENTITY CASCADE;
SELECT nutragenie_fdw.run_command('app_recommend_srv', '{"dropDatabase": 1}', 'ng_app_recommend') ->> 'ok' AS dropped;
DROP SERVER app_recommend_srv CASCADE;
