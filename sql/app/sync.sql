-- -------------------------------------------------------------- events and sync triggers
-- Triggers keep the stores in step whatever path a write takes (an ng_*
-- function or plain SQL) and publish each event with NOTIFY
-- nutragenie_events.  Statement-level triggers with transition tables
-- write MongoDB in one statement per batch, not one per row.  Before
-- ng_attach_mongo they only publish events.

CREATE FUNCTION ng_default_profile()
RETURNS jsonb
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT '{"dietaryProfile": {"dietType": "omnivore", "allergies": [], "restrictions": [], "calorieTarget": 2000},
             "cookingProfile": {"skillLevel": "beginner", "favoriteCuisines": [], "equipment": [], "preferredChef": "chef_maria"}}'::pg_catalog.jsonb
$$;

COMMENT ON FUNCTION ng_default_profile() IS 'the profile document a new user gets (dietaryProfile, cookingProfile)';
CREATE FUNCTION ng_profile_document(user_id bigint, profile jsonb)
RETURNS jsonb
LANGUAGE sql STABLE CALLED ON NULL INPUT PARALLEL SAFE
AS $$
    SELECT pg_catalog.jsonb_build_object(
        'postgresUserId', $1,
        'dietaryProfile', (@extschema@.ng_default_profile() OPERATOR(pg_catalog.->) 'dietaryProfile')
                          OPERATOR(pg_catalog.||)
                          coalesce($2 OPERATOR(pg_catalog.->) 'dietaryProfile', '{}'::pg_catalog.jsonb),
        'cookingProfile', (@extschema@.ng_default_profile() OPERATOR(pg_catalog.->) 'cookingProfile')
                          OPERATOR(pg_catalog.||)
                          coalesce($2 OPERATOR(pg_catalog.->) 'cookingProfile', '{}'::pg_catalog.jsonb),
        'createdAt', @extschema@.ng_bson_date(pg_catalog.now()),
        'updatedAt', @extschema@.ng_bson_date(pg_catalog.now()))
$$;

COMMENT ON FUNCTION ng_profile_document(bigint, jsonb) IS 'a user_profiles document: the default profile overlaid with the given dietaryProfile and cookingProfile';

CREATE FUNCTION ng_users_after_insert()
RETURNS trigger
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
BEGIN
    IF @extschema@.ng_mongo_server() IS NOT NULL THEN
        -- every new user gets a profile document; a profile given in the
        -- row (ng_create_user, or a PostgreSQL-first client) fills it
        WITH p AS MATERIALIZED (
            SELECT n.id AS user_id, objectid_generate() AS oid, n.profile
            FROM ng_new_rows n WHERE n.mongodb_profile_id IS NULL),
        docs AS (
            INSERT INTO @extschema@.user_profiles (_id, doc)
            SELECT p.oid, @extschema@.ng_profile_document(p.user_id, p.profile) FROM p)
        UPDATE @extschema@.users u SET mongodb_profile_id = p.oid, profile = NULL
        FROM p WHERE u.id = p.user_id;
    END IF;
    PERFORM @extschema@.ng_publish('user.created', jsonb_build_object('userId', n.id, 'email', n.email))
    FROM ng_new_rows n ORDER BY n.id;
    RETURN NULL;
END
$fn$;

COMMENT ON FUNCTION ng_users_after_insert() IS 'trigger: new users get a profile document (default, or from users.profile); publishes user.created';

CREATE TRIGGER ng_users_after_insert AFTER INSERT ON users
    REFERENCING NEW TABLE AS ng_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ng_users_after_insert();

CREATE FUNCTION ng_users_after_delete()
RETURNS trigger
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
BEGIN
    IF @extschema@.ng_mongo_server() IS NOT NULL THEN
        DELETE FROM @extschema@.user_profiles
        WHERE _id = ANY (ARRAY(SELECT o.mongodb_profile_id FROM ng_old_rows o
                               WHERE o.mongodb_profile_id IS NOT NULL));
        DELETE FROM @extschema@.user_behavior
        WHERE _id = ANY (ARRAY(SELECT o.id FROM ng_old_rows o));
    END IF;
    PERFORM @extschema@.ng_publish('user.deleted', jsonb_build_object('userId', o.id))
    FROM ng_old_rows o ORDER BY o.id;
    RETURN NULL;
END
$fn$;

COMMENT ON FUNCTION ng_users_after_delete() IS 'trigger: deleting users deletes their profile and behaviour documents; publishes user.deleted';

CREATE TRIGGER ng_users_after_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS ng_old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ng_users_after_delete();

CREATE FUNCTION ng_recipes_after_insert()
RETURNS trigger
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
BEGIN
    PERFORM @extschema@.ng_publish('recipe.created',
        jsonb_build_object('recipeId', n.id, 'title', n.title,
                           'mongodbRecipeId', n.mongodb_recipe_id::text))
    FROM ng_new_rows n ORDER BY n.id;
    RETURN NULL;
END
$fn$;

COMMENT ON FUNCTION ng_recipes_after_insert() IS 'trigger: publishes recipe.created';

CREATE TRIGGER ng_recipes_after_insert AFTER INSERT ON recipes
    REFERENCING NEW TABLE AS ng_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ng_recipes_after_insert();

CREATE FUNCTION ng_recipes_after_delete()
RETURNS trigger
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
BEGIN
    IF @extschema@.ng_mongo_server() IS NOT NULL THEN
        DELETE FROM @extschema@.recipe_content
        WHERE _id = ANY (ARRAY(SELECT o.mongodb_recipe_id FROM ng_old_rows o
                               WHERE o.mongodb_recipe_id IS NOT NULL));
    END IF;
    PERFORM @extschema@.ng_publish('recipe.deleted', jsonb_build_object('recipeId', o.id))
    FROM ng_old_rows o ORDER BY o.id;
    RETURN NULL;
END
$fn$;

COMMENT ON FUNCTION ng_recipes_after_delete() IS 'trigger: deleting recipes deletes their content documents; publishes recipe.deleted';

CREATE TRIGGER ng_recipes_after_delete AFTER DELETE ON recipes
    REFERENCING OLD TABLE AS ng_old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ng_recipes_after_delete();

-- -------------------------------------------------------------- derived data
-- Derived data (ratings, nutrition analytics) stays exact under concurrency.
--
-- Derived values are absolute values recomputed from the rows they summarise:
-- recipes.rating_count/rating_sum/average_rating and the recipe's
-- ratingAnalytics (from its recipe_ratings), a user's ratingStats (from the
-- user's ratings) and nutritionAnalytics (from the user's nutrition_entries).
--
-- In READ COMMITTED every statement reads a snapshot taken when it starts:
-- two transactions that add a rating to one recipe at the same time would
-- each recompute from a snapshot without the other's uncommitted row, and
-- waiting for the other's lock would not make the second recompute.
--
-- What makes them exact: recomputation is serialised per parent row.  Before
-- it reads anything it derives from, the recomputing transaction locks the
-- recipes and users rows concerned (FOR NO KEY UPDATE; in id order, recipes
-- before users), keeps the locks to its end, and only then computes, in new
-- statements, each with a new snapshot.  Every transaction that changes a
-- recipe's ratings (or a user's ratings or entries) goes through that lock
-- before it commits (the statement triggers), and holds it until it has
-- committed, so these transactions take it one after the other in commit
-- order, and each sees every change committed by those before it: the last
-- to commit computes last, from all the rows.  FOR NO KEY UPDATE does not
-- conflict with the FOR KEY SHARE locks that foreign-key checks take, so
-- inserting ratings or entries for a locked recipe or user does not wait;
-- only the recomputations queue.
--
-- MongoDB gets the value computed under the lock: the document writes follow
-- the row locks in the same transaction, and a document lock is held until
-- the transaction's outbox rows are applied (xact.c).  A derived field is
-- written only by a transaction that holds the parent row, so its document is
-- locked -- and the $set applied -- in the order the row was locked: the
-- last value applied is the last one computed.  A user_behavior document that does
-- not exist yet is created with ON CONFLICT DO NOTHING: the insert takes the
-- document lock before it looks, so a concurrent creator is waited for and
-- skipped instead of raising unique_violation.
--
-- One statement never deadlocks on these locks.  A transaction that rates in
-- one statement and logs nutrition for the same user in an earlier one holds
-- the user before the recipe and may be chosen as a deadlock victim by a
-- concurrent rater of that recipe: retry it.  Under REPEATABLE READ or
-- SERIALIZABLE a concurrent recomputation is a serialization failure (retry).
--
-- Nutrition analytics are kept by triggers on nutrition_entries, like
-- the rating aggregates, so plain INSERT/UPDATE/DELETE keep them too and
-- ng_log_nutrition leaves it to the trigger.  ng_check_consistency() reports
-- derived values that differ from their rows in either store (rating_drift,
-- nutrition_drift) and ng_repair_consistency() recomputes them under the
-- same locks.

-- The rating aggregates of recipes, as the recipe_ratings rows give them:
-- the recipes columns and ratingAnalytics (without lastRatedAt).
CREATE FUNCTION ng_rating_aggregates(recipe_ids bigint[])
RETURNS TABLE (recipe_id bigint, rating_count int, rating_sum int, average_rating numeric, analytics jsonb)
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT x.id, count(rr.rating)::int, coalesce(sum(rr.rating), 0)::int,
           round(sum(rr.rating)::numeric / nullif(count(rr.rating), 0), 2),
           jsonb_build_object(
               'count', count(rr.rating), 'sum', coalesce(sum(rr.rating), 0),
               'average', coalesce(round(sum(rr.rating)::numeric / nullif(count(rr.rating), 0), 2), 0)::float8,
               'distribution', jsonb_build_object(
                   '1', count(*) FILTER (WHERE rr.rating = 1), '2', count(*) FILTER (WHERE rr.rating = 2),
                   '3', count(*) FILTER (WHERE rr.rating = 3), '4', count(*) FILTER (WHERE rr.rating = 4),
                   '5', count(*) FILTER (WHERE rr.rating = 5)))
    FROM (SELECT DISTINCT i.id FROM unnest(recipe_ids) i(id)) x
    LEFT JOIN @extschema@.recipe_ratings rr ON rr.recipe_id = x.id
    GROUP BY x.id
$$;

COMMENT ON FUNCTION ng_rating_aggregates(bigint[]) IS 'the rating aggregates of recipes as their ratings give them: recipes.rating_count, rating_sum, average_rating and ratingAnalytics (without lastRatedAt)';

-- The ratingStats of users, as their ratings give them.
CREATE FUNCTION ng_rating_stats(user_ids bigint[])
RETURNS TABLE (user_id bigint, rating_count bigint, stats jsonb)
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT x.id, count(rr.rating),
           jsonb_build_object(
               'count', count(rr.rating),
               'average', coalesce(round(avg(rr.rating), 2), 0)::float8,
               'favoriteCategory', (SELECT r.category
                                    FROM @extschema@.recipe_ratings r2
                                    JOIN @extschema@.recipes r ON r.id = r2.recipe_id
                                    WHERE r2.user_id = x.id AND r2.rating >= 4
                                    GROUP BY r.category ORDER BY count(*) DESC, r.category LIMIT 1))
    FROM (SELECT DISTINCT i.id FROM unnest(user_ids) i(id)) x
    LEFT JOIN @extschema@.recipe_ratings rr ON rr.user_id = x.id
    GROUP BY x.id
$$;

COMMENT ON FUNCTION ng_rating_stats(bigint[]) IS 'the ratingStats of users (count, average, favoriteCategory) as their ratings give them';

-- The nutritionAnalytics of users, as their entries give them (NULL for a
-- user without entries).
CREATE FUNCTION ng_nutrition_analytics(user_ids bigint[])
RETURNS TABLE (user_id bigint, analytics jsonb)
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT x.id,
           CASE WHEN count(ne.id) > 0 THEN jsonb_build_object(
               'entries', count(ne.id), 'daysLogged', count(DISTINCT ne.entry_date),
               'totalCalories', sum(ne.calories)::float8,
               'avgDailyCalories', round(sum(ne.calories) / count(DISTINCT ne.entry_date), 1)::float8,
               'avgDailyProteinG', round(coalesce(sum(ne.protein_g), 0) / count(DISTINCT ne.entry_date), 1)::float8,
               'firstEntryDate', min(ne.entry_date), 'lastEntryDate', max(ne.entry_date)) END
    FROM (SELECT DISTINCT i.id FROM unnest(user_ids) i(id)) x
    LEFT JOIN @extschema@.nutrition_entries ne ON ne.user_id = x.id
    GROUP BY x.id
$$;

COMMENT ON FUNCTION ng_nutrition_analytics(bigint[]) IS 'the nutritionAnalytics of users as their nutrition entries give them; NULL for a user without entries';

-- How a stored derived value differs from what its rows give, for
-- ng_check_consistency: "ratingAnalytics.count is 2, the ratings give 3; ...".
CREATE FUNCTION ng_derived_difference(what text, stored jsonb, expected jsonb, source text)
RETURNS text
LANGUAGE sql IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN stored IS NULL THEN format('%s is missing; %s give %s', what, source, expected)
        WHEN expected IS NULL THEN format('%s is %s; there are no %s', what, stored, source)
        WHEN jsonb_typeof(stored) <> 'object' OR jsonb_typeof(expected) <> 'object'
            THEN format('%s is %s; %s give %s', what, stored, source, expected)
        ELSE (SELECT string_agg(format('%s.%s is %s, %s give %s', what, k, coalesce(stored -> k, '"missing"'),
                                       source, coalesce(expected -> k, '"missing"')), '; ' ORDER BY k)
              FROM (SELECT jsonb_object_keys(stored) UNION SELECT jsonb_object_keys(expected)) t(k)
              WHERE (stored -> k) IS DISTINCT FROM (expected -> k))
        END
$$;

COMMENT ON FUNCTION ng_derived_difference(text, jsonb, jsonb, text) IS 'the fields in which a stored derived document differs from the expected one, as text';

-- A user_behavior document for each of these users that has none.  The
-- insert takes the document lock before it checks, so a concurrent creator
-- is waited for and skipped (ON CONFLICT DO NOTHING), not a unique_violation.
CREATE FUNCTION ng_behavior_documents(user_ids bigint[])
RETURNS void
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    -- (plpgsql: the foreign table exists only once ng_attach_mongo ran)
    INSERT INTO @extschema@.user_behavior (_id, doc)
    SELECT u.id, jsonb_build_object('patterns', '{}'::jsonb, 'recommendations', '[]'::jsonb,
                                    'updatedAt', @extschema@.ng_bson_date(now()))
    FROM @extschema@.users u
    WHERE u.id = ANY (user_ids)
      AND NOT EXISTS (SELECT FROM @extschema@.user_behavior b WHERE b._id = u.id)
    ORDER BY u.id
    ON CONFLICT DO NOTHING;
END
$fn$;

COMMENT ON FUNCTION ng_behavior_documents(bigint[]) IS 'create the user_behavior documents that these users lack';

-- Ratings: recompute the aggregates of every recipe a statement touched
-- (absolute values, so the MongoDB update is idempotent) in PostgreSQL and
-- in the recipe's ratingAnalytics, and the raters' ratingStats.
CREATE FUNCTION ng_apply_ratings(recipe_ids bigint[], user_ids bigint[])
RETURNS void
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    rec record;
BEGIN
    -- serialise the recomputation per recipe and per user: lock first, then
    -- read the ratings in later statements (new snapshots)
    PERFORM FROM @extschema@.recipes r WHERE r.id = ANY (recipe_ids) ORDER BY r.id FOR NO KEY UPDATE;

    UPDATE @extschema@.recipes r
    SET rating_count = a.rating_count, rating_sum = a.rating_sum, average_rating = a.average_rating,
        updated_at = date_trunc('milliseconds', now())
    FROM @extschema@.ng_rating_aggregates(recipe_ids) a
    WHERE r.id = a.recipe_id;

    IF @extschema@.ng_mongo_server() IS NULL THEN
        RETURN;
    END IF;
    PERFORM FROM @extschema@.users u WHERE u.id = ANY (user_ids) ORDER BY u.id FOR NO KEY UPDATE;

    FOR rec IN
        SELECT r.mongodb_recipe_id AS oid,
               a.analytics || jsonb_build_object('lastRatedAt', @extschema@.ng_bson_date(now())) AS analytics
        FROM @extschema@.recipes r
        JOIN @extschema@.ng_rating_aggregates(recipe_ids) a ON a.recipe_id = r.id
        WHERE r.mongodb_recipe_id IS NOT NULL
        ORDER BY r.id
    LOOP
        UPDATE @extschema@.recipe_content c
        SET rating_analytics = rec.analytics, updated_at = date_trunc('milliseconds', now())
        WHERE c._id = rec.oid;
    END LOOP;

    PERFORM @extschema@.ng_behavior_documents(user_ids);
    FOR rec IN
        SELECT s.user_id, s.stats
        FROM @extschema@.ng_rating_stats(ARRAY(SELECT u.id FROM @extschema@.users u WHERE u.id = ANY (user_ids))) s
        ORDER BY s.user_id
    LOOP
        UPDATE @extschema@.user_behavior b
        SET rating_stats = rec.stats, updated_at = date_trunc('milliseconds', now())
        WHERE b._id = rec.user_id;
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION ng_apply_ratings(bigint[], bigint[]) IS 'recompute rating aggregates of recipes (PostgreSQL and ratingAnalytics in MongoDB) and rating stats of users (user_behavior), serialised per recipe and user by row locks';

CREATE FUNCTION ng_ratings_changed()
RETURNS trigger
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
DECLARE
    recipe_ids bigint[];
    user_ids bigint[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(DISTINCT recipe_id), array_agg(DISTINCT user_id) INTO recipe_ids, user_ids FROM ng_new_rows;
        PERFORM @extschema@.ng_publish('recipe.rated',
            jsonb_build_object('recipeId', n.recipe_id, 'userId', n.user_id, 'rating', n.rating))
        FROM ng_new_rows n ORDER BY n.recipe_id, n.user_id;
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT array_agg(DISTINCT x.recipe_id), array_agg(DISTINCT x.user_id) INTO recipe_ids, user_ids
        FROM (SELECT recipe_id, user_id FROM ng_new_rows UNION SELECT recipe_id, user_id FROM ng_old_rows) x;
        PERFORM @extschema@.ng_publish('recipe.rated',
            jsonb_build_object('recipeId', n.recipe_id, 'userId', n.user_id, 'rating', n.rating))
        FROM ng_new_rows n ORDER BY n.recipe_id, n.user_id;
    ELSE
        SELECT array_agg(DISTINCT recipe_id), array_agg(DISTINCT user_id) INTO recipe_ids, user_ids FROM ng_old_rows;
        PERFORM @extschema@.ng_publish('recipe.unrated',
            jsonb_build_object('recipeId', o.recipe_id, 'userId', o.user_id))
        FROM ng_old_rows o ORDER BY o.recipe_id, o.user_id;
    END IF;
    IF recipe_ids IS NOT NULL THEN
        PERFORM @extschema@.ng_apply_ratings(recipe_ids, user_ids);
    END IF;
    RETURN NULL;
END
$fn$;

COMMENT ON FUNCTION ng_ratings_changed() IS 'trigger: ratings update the recipe aggregates and MongoDB analytics; publishes recipe.rated / recipe.unrated';

CREATE TRIGGER ng_ratings_after_insert AFTER INSERT ON recipe_ratings
    REFERENCING NEW TABLE AS ng_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ng_ratings_changed();
CREATE TRIGGER ng_ratings_after_update AFTER UPDATE ON recipe_ratings
    REFERENCING NEW TABLE AS ng_new_rows OLD TABLE AS ng_old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ng_ratings_changed();
CREATE TRIGGER ng_ratings_after_delete AFTER DELETE ON recipe_ratings
    REFERENCING OLD TABLE AS ng_old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ng_ratings_changed();

-- Nutrition: lock, then recompute.
CREATE FUNCTION ng_apply_nutrition(user_ids bigint[])
RETURNS void
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    rec record;
BEGIN
    IF @extschema@.ng_mongo_server() IS NULL THEN
        RETURN;
    END IF;
    PERFORM FROM @extschema@.users u WHERE u.id = ANY (user_ids) ORDER BY u.id FOR NO KEY UPDATE;

    PERFORM @extschema@.ng_behavior_documents(
        ARRAY(SELECT DISTINCT ne.user_id FROM @extschema@.nutrition_entries ne WHERE ne.user_id = ANY (user_ids)));
    -- NULL (no entries left) removes the field
    FOR rec IN
        SELECT a.user_id, a.analytics
        FROM @extschema@.ng_nutrition_analytics(ARRAY(SELECT u.id FROM @extschema@.users u WHERE u.id = ANY (user_ids))) a
        ORDER BY a.user_id
    LOOP
        UPDATE @extschema@.user_behavior b
        SET nutrition_analytics = rec.analytics, updated_at = date_trunc('milliseconds', now())
        WHERE b._id = rec.user_id;
    END LOOP;
END
$fn$;

COMMENT ON FUNCTION ng_apply_nutrition(bigint[]) IS 'recompute the nutritionAnalytics of users (user_behavior) from their nutrition entries, serialised per user by row locks';

CREATE FUNCTION ng_nutrition_changed()
RETURNS trigger
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    user_ids bigint[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(DISTINCT n.user_id) INTO user_ids FROM ng_new_rows n;
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT array_agg(DISTINCT x.user_id) INTO user_ids
        FROM (SELECT n.user_id FROM ng_new_rows n UNION SELECT o.user_id FROM ng_old_rows o) x;
    ELSE
        SELECT array_agg(DISTINCT o.user_id) INTO user_ids FROM ng_old_rows o;
    END IF;
    IF user_ids IS NOT NULL THEN
        PERFORM @extschema@.ng_apply_nutrition(user_ids);
    END IF;
    RETURN NULL;
END
$fn$;

COMMENT ON FUNCTION ng_nutrition_changed() IS 'trigger: nutrition entries update the users'' nutritionAnalytics in MongoDB';

CREATE TRIGGER ng_nutrition_after_insert AFTER INSERT ON nutrition_entries
    REFERENCING NEW TABLE AS ng_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ng_nutrition_changed();
CREATE TRIGGER ng_nutrition_after_update AFTER UPDATE ON nutrition_entries
    REFERENCING NEW TABLE AS ng_new_rows OLD TABLE AS ng_old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ng_nutrition_changed();
CREATE TRIGGER ng_nutrition_after_delete AFTER DELETE ON nutrition_entries
    REFERENCING OLD TABLE AS ng_old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ng_nutrition_changed();

CREATE FUNCTION ng_sessions_changed()
RETURNS trigger
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM @extschema@.ng_publish('session.started',
            jsonb_build_object('sessionId', n.id, 'userId', n.user_id, 'recipeId', n.recipe_id, 'mode', n.mode))
        FROM ng_new_rows n ORDER BY n.id;
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM @extschema@.ng_publish('session.' || n.status,
            jsonb_build_object('sessionId', n.id, 'userId', n.user_id, 'recipeId', n.recipe_id))
        FROM ng_new_rows n JOIN ng_old_rows o ON o.id = n.id
        WHERE n.status IS DISTINCT FROM o.status
        ORDER BY n.id;
    ELSE
        IF @extschema@.ng_mongo_server() IS NOT NULL THEN
            DELETE FROM @extschema@.cooking_session_details
            WHERE _id = ANY (ARRAY(SELECT o.mongodb_session_id FROM ng_old_rows o
                                   WHERE o.mongodb_session_id IS NOT NULL));
        END IF;
        PERFORM @extschema@.ng_publish('session.deleted', jsonb_build_object('sessionId', o.id))
        FROM ng_old_rows o ORDER BY o.id;
    END IF;
    RETURN NULL;
END
$fn$;

COMMENT ON FUNCTION ng_sessions_changed() IS 'trigger: publishes session.started / session.completed / session.abandoned; deleting sessions deletes their detail documents';

CREATE TRIGGER ng_sessions_after_insert AFTER INSERT ON cooking_sessions
    REFERENCING NEW TABLE AS ng_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ng_sessions_changed();
CREATE TRIGGER ng_sessions_after_update AFTER UPDATE ON cooking_sessions
    REFERENCING NEW TABLE AS ng_new_rows OLD TABLE AS ng_old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ng_sessions_changed();
CREATE TRIGGER ng_sessions_after_delete AFTER DELETE ON cooking_sessions
    REFERENCING OLD TABLE AS ng_old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ng_sessions_changed();
