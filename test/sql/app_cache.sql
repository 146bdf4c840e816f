-- The NutraGenie domain: the shared document cache behind ng_full_recipe and
-- ng_user_full_profile (hits, misses, TTL 0, invalidation by our own writes).
SET search_path = public, nutragenie;
\getenv mongo_uri MONGODB_URI
CREATE SERVER dom_cache_srv FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (uri :'mongo_uri');
CREATE USER MAPPING FOR CURRENT_USER SERVER dom_cache_srv;
SELECT nutragenie_fdw.run_command('dom_cache_srv', '{"dropDatabase": 1}', 'ng_dom_cache') ->> 'ok' AS dropped;
TRUNCATE users, recipes, payments, nutrition_goals, nutrition_entries, recipe_ratings,
         chat_messages, cooking_sessions RESTART IDENTITY CASCADE;
SELECT ng_attach_mongo('dom_cache_srv', 'ng_dom_cache') ->> 'database' AS attached;
\set ECHO none
\i test/demo_seed.sql
\set ECHO all
SELECT nutragenie_demo.ng_seed_demo(3, 4, 0);
SELECT nutragenie_fdw.cache_reset();
SHOW nutragenie.cache_ttl;
CREATE FUNCTION pg_temp.stats() RETURNS TABLE (hits bigint, misses bigint) LANGUAGE sql AS $$
  SELECT hits, misses FROM nutragenie_fdw.cache_stats()
$$;

-- the first read is a miss, the second a hit, with the same result
SELECT ng_full_recipe(2) -> 'content' ->> 'cuisine' IS NOT NULL AS has_content;
SELECT * FROM pg_temp.stats();
SELECT ng_full_recipe(2) = ng_full_recipe(2) AS same;
SELECT * FROM pg_temp.stats();
SELECT ng_user_full_profile(1) ->> 'profileMissing' AS missing;
SELECT ng_user_full_profile(1) ->> 'profileMissing' AS missing;
SELECT * FROM pg_temp.stats();

-- the cached document is the foreign table's $$ROOT
SELECT nutragenie_fdw.cached_document('dom_cache_srv', 'ng_dom_cache', 'recipe_content',
                          jsonb_build_object('$oid', r.mongodb_recipe_id::text)) = c.doc AS same_doc
FROM recipes r JOIN recipe_content c ON c._id = r.mongodb_recipe_id WHERE r.id = 2;
SELECT nutragenie_fdw.cached_document('dom_cache_srv', 'ng_dom_cache', 'recipe_content',
                          '{"$oid": "000000000000000000000000"}') AS no_such_document;
SELECT nutragenie_fdw.cached_document('dom_cache_srv', 'ng_dom_cache', 'recipe_content', '{"$oid": 1}');

-- nutragenie.cache_ttl = 0: every read goes to MongoDB, nothing is counted
SELECT nutragenie_fdw.cache_reset();
SET nutragenie.cache_ttl = 0;
SELECT ng_full_recipe(3) IS NOT NULL AS found;
SELECT ng_full_recipe(3) IS NOT NULL AS found;
SELECT * FROM pg_temp.stats();
SELECT enabled, ttl_ms FROM nutragenie_fdw.cache_stats();
RESET nutragenie.cache_ttl;

-- a write through the foreign table invalidates the document at once
SELECT ng_full_recipe(1) -> 'content' ->> 'description' AS before;
SELECT ng_full_recipe(1) -> 'content' ->> 'description' AS cached;
SELECT * FROM pg_temp.stats();
UPDATE recipe_content SET description = 'rewritten'
WHERE _id = (SELECT mongodb_recipe_id FROM recipes WHERE id = 1);
SELECT ng_full_recipe(1) -> 'content' ->> 'description' AS after;
SELECT * FROM pg_temp.stats();
SELECT invalidations > 0 AS invalidated FROM nutragenie_fdw.cache_stats();

-- inside a transaction its own write is read from the overlay, not the cache
BEGIN;
UPDATE recipe_content SET description = 'in transaction'
WHERE _id = (SELECT mongodb_recipe_id FROM recipes WHERE id = 1);
SELECT ng_full_recipe(1) -> 'content' ->> 'description' AS own_write;
ROLLBACK;
SELECT ng_full_recipe(1) -> 'content' ->> 'description' AS after_rollback;

-- deleting the document: the next read sees it missing
DELETE FROM recipe_content WHERE _id = (SELECT mongodb_recipe_id FROM recipes WHERE id = 4);
SELECT ng_full_recipe(4) ->> 'contentMissing' AS missing;

-- health reports the counters
SELECT (ng_health() -> 'cache') ?& ARRAY['enabled', 'hits', 'misses', 'invalidations'] AS health_has_cache;

-- reset empties the cache and zeroes the counters
SELECT nutragenie_fdw.cache_reset();
SELECT hits, misses, stores, invalidations, entries FROM nutragenie_fdw.cache_stats();
SELECT ng_full_recipe(1) -> 'content' ->> 'description' AS reread;
SELECT * FROM pg_temp.stats();

SELECT ng_detach_mongo() IS NOT NULL AS detached;
SELECT nutragenie_fdw.run_command('dom_cache_srv', '{"dropDatabase": 1}', 'ng_dom_cache') ->> 'ok' AS dropped;
DROP SERVER dom_cache_srv CASCADE;
