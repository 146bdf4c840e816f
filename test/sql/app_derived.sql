-- The NutraGenie domain: derived values (recipes.rating_*, ratingAnalytics,
-- ratingStats, nutritionAnalytics) follow their rows whatever path a write
-- takes; ng_check_consistency() reports drift in either store and
-- ng_repair_consistency() recomputes it.  (The concurrent races are in
-- test/scripts/app_derived_race.sh and app_derived_pgbench.sh.)
CREATE SCHEMA domain_derived;
SET search_path = public, nutragenie;
\getenv mongo_uri MONGODB_URI
CREATE SERVER dom_der_srv FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (uri :'mongo_uri');
CREATE USER MAPPING FOR CURRENT_USER SERVER dom_der_srv;
SELECT nutragenie_fdw.run_command('dom_der_srv', '{"dropDatabase": 1}', 'ng_dom_der') ->> 'ok' AS dropped;
TRUNCATE users, recipes, payments, nutrition_goals, nutrition_entries, recipe_ratings,
         chat_messages, cooking_sessions RESTART IDENTITY CASCADE;
SELECT ng_attach_mongo('dom_der_srv', 'ng_dom_der') ->> 'database' AS attached;
\set ECHO none
\i test/demo_seed.sql
\set ECHO all
SELECT nutragenie_demo.ng_seed_demo(4, 3, 0) - 'chefs' AS seeded;
SELECT ng_rate_recipe(1, 1, 5) ->> 'ratingCount' AS r1, ng_rate_recipe(2, 1, 2) ->> 'ratingCount' AS r2,
       ng_rate_recipe(2, 2, 4) ->> 'ratingCount' AS r3;
SELECT * FROM ng_check_consistency();

-- what the documents hold
CREATE FUNCTION domain_derived.docs() RETURNS TABLE (what text, id bigint, value jsonb)
LANGUAGE sql AS $$
    SELECT 'ratingAnalytics', r.id, c.rating_analytics - 'lastRatedAt'
    FROM nutragenie.recipes r JOIN nutragenie.recipe_content c ON c._id = r.mongodb_recipe_id
    UNION ALL
    SELECT 'ratingStats', b._id, b.rating_stats FROM nutragenie.user_behavior b
    UNION ALL
    SELECT 'nutritionAnalytics', b._id, b.nutrition_analytics - 'firstEntryDate' - 'lastEntryDate'
    FROM nutragenie.user_behavior b
    ORDER BY 1, 2
$$;
SELECT id, rating_count, rating_sum, average_rating FROM recipes ORDER BY id;
SELECT * FROM domain_derived.docs();

-- plain writes to nutrition_entries refresh nutritionAnalytics, like
-- ng_log_nutrition (a trigger since 1.2)
INSERT INTO nutrition_entries (user_id, entry_date, food_name, calories, protein_g)
VALUES (1, '2026-02-01', 'Plain soup', 150, 10), (4, '2026-02-01', 'Plain tea', 2, NULL);
UPDATE nutrition_entries SET calories = calories + 100 WHERE user_id = 2 AND entry_date = '2026-01-05';
DELETE FROM nutrition_entries WHERE user_id = 3;
SELECT b._id, b.nutrition_analytics ->> 'entries' AS entries, b.nutrition_analytics ->> 'totalCalories' AS calories
FROM user_behavior b ORDER BY b._id;
SELECT * FROM ng_check_consistency();
-- and the user with no entries left has no nutritionAnalytics
SELECT b._id, b.doc ? 'nutritionAnalytics' AS has_analytics FROM user_behavior b WHERE b._id = 3;
INSERT INTO nutrition_entries (user_id, entry_date, food_name, calories) VALUES (3, '2026-02-02', 'Back', 500);
-- a rating replaced and one deleted by plain SQL
UPDATE recipe_ratings SET rating = 1 WHERE user_id = 1 AND recipe_id = 1;
DELETE FROM recipe_ratings WHERE user_id = 2 AND recipe_id = 2;
SELECT id, rating_count, rating_sum, average_rating FROM recipes ORDER BY id;
SELECT * FROM ng_check_consistency();

-- drift injected behind nutragenie's back, in each store
-- PostgreSQL: the recipes columns, and a rating written with triggers off
UPDATE recipes SET rating_count = rating_count + 1 WHERE id = 1;
SET session_replication_role = replica;
INSERT INTO recipe_ratings (user_id, recipe_id, rating) VALUES (4, 2, 5);
INSERT INTO nutrition_entries (user_id, entry_date, food_name, calories) VALUES (4, '2026-02-03', 'Sneaky', 300);
RESET session_replication_role;
-- MongoDB: ratingAnalytics changed and removed, ratingStats changed,
-- nutritionAnalytics changed, a whole user_behavior document deleted
SELECT nutragenie_fdw.run_command('dom_der_srv', '{"update": "recipe_content", "updates": [{"q": {"postgresId": 2}, "u": {"$set": {"ratingAnalytics.count": 99, "ratingAnalytics.average": 1.5}}}]}', 'ng_dom_der') ->> 'nModified' AS changed;
SELECT nutragenie_fdw.run_command('dom_der_srv', '{"update": "user_behavior", "updates": [{"q": {"_id": 3}, "u": {"$set": {"ratingStats.favoriteCategory": "dessert"}}}]}', 'ng_dom_der') ->> 'nModified' AS changed;
SELECT nutragenie_fdw.run_command('dom_der_srv', '{"update": "user_behavior", "updates": [{"q": {"_id": 1}, "u": {"$set": {"nutritionAnalytics.entries": 1}}}]}', 'ng_dom_der') ->> 'nModified' AS changed;
SELECT nutragenie_fdw.run_command('dom_der_srv', '{"delete": "user_behavior", "deletes": [{"q": {"_id": 2}, "limit": 1}]}', 'ng_dom_der') ->> 'n' AS deleted;
-- recipe 3's document is lost altogether (the repair gives the new one its ratingAnalytics)
SELECT nutragenie_fdw.run_command('dom_der_srv', '{"delete": "recipe_content", "deletes": [{"q": {"postgresId": 3}, "limit": 1}]}', 'ng_dom_der') ->> 'n' AS deleted;

SELECT issue, pg_table, pg_id, collection, detail FROM ng_check_consistency();
SELECT ng_report() -> 'consistencyIssues' AS issues;

-- dry run: says what it would do, changes nothing
SELECT issue, pg_table, pg_id, collection, action, applied FROM ng_repair_consistency();
SELECT count(*) AS still FROM ng_check_consistency();
-- repair
SELECT issue, pg_table, pg_id, collection, action, applied FROM ng_repair_consistency(false);
SELECT * FROM ng_check_consistency();
SELECT id, rating_count, rating_sum, average_rating FROM recipes ORDER BY id;
SELECT * FROM domain_derived.docs();
SELECT pending, dead_letters FROM nutragenie_fdw.write_queue_status();

SET client_min_messages = warning;
DROP SCHEMA domain_derived CASCADE;
SELECT ng_detach_mongo();
TRUNCATE users, recipes, payments, nutrition_goals, nutrition_entries, recipe_ratings,
         chat_messages, cooking_sessions RESTART IDENTITY CASCADE;
SELECT nutragenie_fdw.run_command('dom_der_srv', '{"dropDatabase": 1}', 'ng_dom_der') ->> 'ok' AS dropped;
DROP SERVER dom_der_srv CASCADE;
