-- The NutraGenie domain: recipes, users, ratings and nutrition through the
-- ng_* functions, in both stores.
SET search_path = public, nutragenie;
\getenv mongo_uri MONGODB_URI
CREATE SERVER dom_recipes_srv FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (uri :'mongo_uri');
CREATE USER MAPPING FOR CURRENT_USER SERVER dom_recipes_srv;
SELECT nutragenie_fdw.run_command('dom_recipes_srv', '{"dropDatabase": 1}', 'ng_dom_recipes') ->> 'ok' AS dropped;
TRUNCATE users, recipes, payments, nutrition_goals, nutrition_entries, recipe_ratings,
         chat_messages, cooking_sessions RESTART IDENTITY CASCADE;
SELECT ng_attach_mongo('dom_recipes_srv', 'ng_dom_recipes') ->> 'database' AS attached;

CREATE FUNCTION pg_temp.try(cmd text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE cmd;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- a document as MongoDB holds it, read by a plain find, without volatile fields
CREATE FUNCTION pg_temp.mongo_doc(coll text, filter json) RETURNS jsonb LANGUAGE sql AS $$
  SELECT (nutragenie_fdw.run_command('dom_recipes_srv', json_build_object('find', coll, 'filter', filter),
                         'ng_dom_recipes') -> 'cursor' -> 'firstBatch' -> 0)
         - '_id' - 'createdAt' - 'updatedAt'
$$;

-- users
SELECT ng_create_user('{"email": "ana@example.com", "passwordHash": "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", "nickname": "ana",
                        "firstName": "Ana", "dateOfBirth": "1990-04-01", "heightCm": 168,
                        "dietaryProfile": {"dietType": "vegetarian", "allergies": ["peanuts"]},
                        "cookingProfile": {"skillLevel": "advanced"}}') AS ana;
SELECT ng_create_user('{"email": "ben@example.com", "passwordHash": "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"}') AS ben;
SELECT pg_temp.mongo_doc('user_profiles', '{"postgresUserId": 1}');
SELECT ng_user_full_profile(1) - 'mongodbProfileId';
SELECT ng_user_full_profile(2) -> 'dietaryProfile' AS defaults;
SELECT ng_user_full_profile(99) IS NULL AS unknown_is_null;
SELECT pg_temp.try('SELECT ng_create_user(''{"email": "ana@example.com", "passwordHash": "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"}'')');
SELECT pg_temp.try('SELECT ng_create_user(''{"email": "not-an-email", "passwordHash": "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"}'')');
SELECT pg_temp.try('SELECT ng_create_user(''{"email": "c@example.com"}'')');
SELECT pg_temp.try('SELECT ng_create_user(''{"email": "c@example.com", "passwordHash": "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", "dateOfBirth": "1990-02-30"}'')');
SELECT pg_temp.try('SELECT ng_create_user(''{"email": "c@example.com", "passwordHash": "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", "dietaryProfile": []}'')');
SELECT pg_temp.try('SELECT ng_create_user(''"c@example.com"'')');
SELECT count(*) AS users, (SELECT count(*) FROM user_profiles) AS profiles FROM users;

-- recipes
SELECT ng_create_recipe('{"title": "Lentil soup", "category": "lunch", "difficultyLevel": 2,
                          "prepTimeMinutes": 10, "cookTimeMinutes": 30, "servings": 4, "createdBy": 1,
                          "description": "Warming and cheap.", "cuisine": "turkish",
                          "ingredients": [{"name": "red lentils", "quantity": 250, "unit": "g"},
                                          {"name": "onion", "quantity": 1, "unit": "piece"}],
                          "steps": ["Fry the onion.", {"instruction": "Add lentils and water.", "durationMinutes": 25}],
                          "nutrition": {"calories": 320, "protein_g": 18.5},
                          "tags": ["vegan", "budget"]}') AS soup;
SELECT ng_create_recipe('{"title": "Toast"}') AS toast;
SELECT jsonb_pretty(ng_full_recipe(1) - 'mongodbRecipeId');
SELECT pg_temp.mongo_doc('recipe_content', '{"postgresId": 1}');
SELECT r.id, r.mongodb_recipe_id = c._id AS linked, c.postgres_id, c.calories, c.tags
FROM recipes r JOIN recipe_content c ON c._id = r.mongodb_recipe_id ORDER BY r.id;
SELECT ng_full_recipe(2) -> 'content' AS minimal_content;
SELECT ng_full_recipe(42) IS NULL AS unknown_is_null;
SELECT pg_temp.try('SELECT ng_create_recipe(''{"title": ""}'')');
SELECT pg_temp.try('SELECT ng_create_recipe(''{"title": "x", "difficultyLevel": 6}'')');
SELECT pg_temp.try('SELECT ng_create_recipe(''{"title": "x", "difficultyLevel": 2.5}'')');
SELECT pg_temp.try('SELECT ng_create_recipe(''{"title": "x", "servings": -1}'')');
SELECT pg_temp.try('SELECT ng_create_recipe(''{"title": "x", "tags": ["a", 1]}'')');
SELECT pg_temp.try('SELECT ng_create_recipe(''{"title": "x", "steps": [{"text": "no instruction"}]}'')');
SELECT pg_temp.try('SELECT ng_create_recipe(''{"title": "x", "ingredients": ["salt"]}'')');
SELECT pg_temp.try('SELECT ng_create_recipe(''{"title": "x", "nutrition": {"calories": "many"}}'')');
SELECT pg_temp.try('SELECT ng_create_recipe(''{"title": "x", "createdBy": 77}'')');
SELECT count(*) AS recipes, (SELECT count(*) FROM recipe_content) AS documents FROM recipes;

-- a recipe whose content document is missing is flagged, not an error
SELECT nutragenie_fdw.run_command('dom_recipes_srv', '{"delete": "recipe_content", "deletes": [{"q": {"postgresId": 2}, "limit": 1}]}', 'ng_dom_recipes') ->> 'n' AS deleted;
SELECT ng_full_recipe(2) -> 'contentMissing' AS missing, ng_full_recipe(2) -> 'content' AS content;

-- ratings: aggregates in PostgreSQL, analytics in MongoDB, together
SELECT ng_rate_recipe(1, 1, 5, 'Great!');
SELECT ng_rate_recipe(2, 1, 3);
SELECT ng_rate_recipe(2, 1, 4, 'Better the second time');
SELECT id, rating_count, rating_sum, average_rating FROM recipes WHERE id = 1;
SELECT rating_analytics - 'lastRatedAt' AS analytics FROM recipe_content WHERE postgres_id = 1;
SELECT _id, rating_stats FROM user_behavior ORDER BY _id;
SELECT pg_temp.try('SELECT ng_rate_recipe(1, 1, 0)');
SELECT pg_temp.try('SELECT ng_rate_recipe(1, 1, 6)');
SELECT pg_temp.try('SELECT ng_rate_recipe(1, 99, 3)');
SELECT pg_temp.try('SELECT ng_rate_recipe(99, 1, 3)');
SELECT pg_temp.try('SELECT ng_rate_recipe(1, 1, NULL)');
-- plain SQL on recipe_ratings goes through the same trigger
DELETE FROM recipe_ratings WHERE user_id = 2;
SELECT rating_count, average_rating FROM recipes WHERE id = 1;
SELECT (rating_analytics ->> 'count')::int AS mongo_count FROM recipe_content WHERE postgres_id = 1;

-- popular recipes: ranked in PostgreSQL, content in one request
SELECT ng_create_recipe(jsonb_build_object('title', 'Dish ' || g, 'tags', jsonb_build_array('t' || g))) FROM generate_series(1, 4) g;
SELECT ng_rate_recipe(u, r, 1 + (u * r) % 5) FROM generate_series(1, 2) u, generate_series(3, 6) r;
SELECT rank, recipe_id, title, average_rating, rating_count, score, content -> 'tags' AS tags
FROM ng_popular_recipes(4);
SELECT count(*) FROM ng_popular_recipes();
SELECT pg_temp.try('SELECT * FROM ng_popular_recipes(0)');

-- nutrition: a batch in one statement, analytics per user in MongoDB
SELECT ng_log_nutrition('[
  {"userId": 1, "date": "2026-03-01", "mealType": "breakfast", "foodName": "Oats", "calories": 350, "proteinG": 12},
  {"userId": 1, "date": "2026-03-01", "mealType": "lunch", "foodName": "Lentil soup", "calories": 320, "proteinG": 18.5, "recipeId": 1},
  {"userId": 1, "date": "2026-03-02", "mealType": "dinner", "foodName": "Pasta", "calories": 610.5},
  {"userId": 2, "date": "2026-03-01", "foodName": "Apple", "calories": 80}]') AS logged;
SELECT user_id, entry_date, meal_type, food_name, calories, recipe_id FROM nutrition_entries ORDER BY id;
SELECT _id, nutrition_analytics FROM user_behavior ORDER BY _id;
SELECT ng_log_nutrition('{"userId": 2, "date": "2026-03-02", "foodName": "Pear", "calories": 90}') AS single;
SELECT ng_log_nutrition('[]') AS none;
SELECT pg_temp.try('SELECT ng_log_nutrition(''[{"userId": 1, "date": "2026-03-01", "foodName": "x"}]'')');
SELECT pg_temp.try('SELECT ng_log_nutrition(''[{"userId": 1, "date": "03/01/2026", "foodName": "x", "calories": 1}]'')');
SELECT pg_temp.try('SELECT ng_log_nutrition(''[{"userId": 1, "date": "2026-03-01", "foodName": "x", "calories": -5}]'')');
SELECT pg_temp.try('SELECT ng_log_nutrition(''[{"userId": 1, "date": "2026-03-01", "foodName": "x", "calories": 5, "mealType": "brunch"}]'')');
SELECT pg_temp.try('SELECT ng_log_nutrition(''[{"userId": 1, "date": "2026-03-01", "foodName": "x", "calories": 5}, {"userId": 55, "date": "2026-03-01", "foodName": "x", "calories": 5}]'')');
SELECT pg_temp.try('SELECT ng_log_nutrition(''[1]'')');
SELECT pg_temp.try('SELECT ng_log_nutrition(''"x"'')');
SELECT count(*) AS entries FROM nutrition_entries;

-- deleting a recipe deletes its content document
DELETE FROM recipes WHERE id = 1;
SELECT count(*) AS documents_left FROM recipe_content WHERE postgres_id = 1;

SELECT issue, pg_id FROM ng_check_consistency();
SELECT pending, dead_letters FROM nutragenie_fdw.write_queue_status();

SET client_min_messages = warning;
SELECT ng_detach_mongo();
TRUNCATE users, recipes, payments, nutrition_goals, nutrition_entries, recipe_ratings,
         chat_messages, cooking_sessions RESTART IDENTITY CASCADE;
SELECT nutragenie_fdw.run_command('dom_recipes_srv', '{"dropDatabase": 1}', 'ng_dom_recipes') ->> 'ok' AS dropped;
DROP SERVER dom_recipes_srv CASCADE;
