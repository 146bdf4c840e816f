-- The app: ng_update_recipe (partial changes to the row and the document),
-- ng_delete_recipe, and recipe input errors that name the field.
SET search_path = public, nutragenie;
\getenv mongo_uri MONGODB_URI
CREATE SERVER app_recipe_edit_srv FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (uri :'mongo_uri');
CREATE USER MAPPING FOR CURRENT_USER SERVER app_recipe_edit_srv;
SELECT nutragenie_fdw.run_command('app_recipe_edit_srv', '{"dropDatabase": 1}', 'ng_app_recipe_edit') ->> 'ok' AS dropped;
TRUNCATE users, recipes, payments, nutrition_goals, nutrition_entries, recipe_ratings,
         chat_messages, cooking_sessions, event_log RESTART IDENTITY CASCADE;
SELECT ng_attach_mongo('app_recipe_edit_srv', 'ng_app_recipe_edit') ->> 'database' AS attached;

CREATE FUNCTION pg_temp.try(cmd text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE cmd;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- events appear once every older transaction has ended (the applier's too)
CREATE FUNCTION pg_temp.settle() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..1000 LOOP
    EXIT WHEN NOT EXISTS (SELECT FROM event_log e WHERE e.xact >= pg_snapshot_xmin(pg_current_snapshot()));
    PERFORM pg_sleep(0.01);
  END LOOP;
END $$;
SELECT ng_create_user('{"email": "cook@example.com", "passwordHash": "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"}') AS cook;
SELECT ng_create_recipe('{"title": "Lentil soup", "category": "lunch", "servings": 2, "cuisine": "indian",
  "tags": ["vegan"], "ingredients": [{"name": "lentils"}, {"name": "onion"}],
  "steps": ["Rinse", "Simmer"], "nutrition": {"calories": 320, "carbs_g": 40}}') AS soup;

-- metadata and content in one call; only the fields given change
SELECT (ng_update_recipe(1, '{"title": "Red lentil soup", "servings": 4, "difficultyLevel": 2,
  "steps": ["Rinse", "Simmer", "Blend"], "tags": ["vegan", "quick"], "description": null}')
        #- '{content,ratingAnalytics}') - 'mongodbRecipeId' AS recipe;
SELECT r.title, r.servings, r.difficulty_level, r.category, c.title AS doc_title, c.cuisine, c.tags,
       jsonb_array_length(c.steps) AS steps, c.calories, c.description
FROM recipes r JOIN recipe_content c ON c._id = r.mongodb_recipe_id;
SELECT cuisine, tags, ingredients, calories, carbs_g, conflicts FROM recipe_features WHERE recipe_id = 1;
-- a content change is searchable at once: the features follow
SELECT ng_update_recipe(1, '{"ingredients": [{"name": "lentils"}, {"name": "butter"}]}') -> 'content' -> 'ingredients' AS ingredients;
SELECT ingredients, conflicts FROM recipe_features WHERE recipe_id = 1;
-- a row-only change does not touch the document
SELECT ng_update_recipe(1, '{"category": "dinner"}') ->> 'category' AS category;

-- bad input names the field
SELECT pg_temp.try($$SELECT ng_update_recipe(1, '{"servings": 0}')$$);
SELECT pg_temp.try($$SELECT ng_update_recipe(1, '{"title": null}')$$);
SELECT pg_temp.try($$SELECT ng_update_recipe(1, '{"titel": "x"}')$$);
SELECT pg_temp.try($$SELECT ng_update_recipe(1, '{"tags": "vegan"}')$$);
SELECT pg_temp.try($$SELECT ng_update_recipe(1, '{"createdBy": 99}')$$);
SELECT pg_temp.try($$SELECT ng_update_recipe(99, '{"servings": 2}')$$);
SELECT pg_temp.try($$SELECT ng_create_recipe('{"title": "Big", "servings": -3, "prepTimeMinutes": 1e10}')$$);
SELECT pg_temp.try($$SELECT ng_create_recipe('{"title": "Big", "servings": -3}')$$);
SELECT pg_temp.try($$SELECT ng_create_recipe('{"title": "Big", "cookTimeMinutes": 2147483648}')$$);
SELECT pg_temp.try($$SELECT ng_create_recipe('{"title": "Big", "difficultyLevel": 1e10}')$$);
SELECT title, servings FROM recipes ORDER BY id;

-- delete: the row, its document, its ratings and sessions (and their documents)
SELECT ng_rate_recipe(1, 1, 5);
SELECT ng_start_cooking_session(1, 1) AS session;
SELECT ng_delete_recipe(1);
SELECT (SELECT count(*) FROM recipes) AS recipes, (SELECT count(*) FROM recipe_content) AS documents,
       (SELECT count(*) FROM recipe_ratings) AS ratings, (SELECT count(*) FROM cooking_sessions) AS sessions,
       (SELECT count(*) FROM cooking_session_details) AS session_documents,
       (SELECT count(*) FROM recipe_features) AS features;
SELECT pg_temp.try('SELECT ng_delete_recipe(1)');
SELECT pg_temp.settle();
SELECT event, payload - 'mongodbRecipeId' AS payload FROM ng_events() WHERE event LIKE 'recipe.%' ORDER BY id;

SET client_min_messages = warning;
SELECT ng_detach_mongo();
TRUNCATE users, recipes, payments, nutrition_goals, nutrition_entries, recipe_ratings,
         chat_messages, cooking_sessions, event_log RESTART IDENTITY CASCADE;
SELECT nutragenie_fdw.run_command('app_recipe_edit_srv', '{"dropDatabase": 1}', 'ng_app_recipe_edit') ->> 'ok' AS dropped;
DROP SERVER app_recipe_edit_srv CASCADE;
