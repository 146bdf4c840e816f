/* nutragenie--1.2--2.0.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION nutragenie UPDATE TO '2.0'" to load this file. \quit

-- 2.0: nutragenie is the NutraGenie application alone; the foreign data
-- wrapper (the type objectid, the write queue, the administration functions)
-- is extension nutragenie_fdw, which must have taken it over first
-- (README, "Upgrading"):
--   CREATE EXTENSION nutragenie_fdw VERSION '1.2' SCHEMA nutragenie;
--   ALTER EXTENSION nutragenie_fdw UPDATE;
--   ALTER EXTENSION nutragenie UPDATE;
-- Updating to 2.0 makes nutragenie require nutragenie_fdw.  Generated once
-- from sql/app/ (the functions whose text changed), frozen since.

DO $check$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_depend d
               JOIN pg_catalog.pg_extension e ON e.oid OPERATOR(pg_catalog.=) d.refobjid
               WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_type'::pg_catalog.regclass
                 AND d.objid OPERATOR(pg_catalog.=) '@extschema@.objectid'::pg_catalog.regtype
                 AND d.deptype OPERATOR(pg_catalog.=) 'e'
                 AND e.extname OPERATOR(pg_catalog.=) 'nutragenie') THEN
        RAISE EXCEPTION 'extension nutragenie still holds the foreign data wrapper'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'First CREATE EXTENSION nutragenie_fdw VERSION ''1.2'' SCHEMA nutragenie and ALTER EXTENSION nutragenie_fdw UPDATE.';
    END IF;
END
$check$;

-- the demo data generator belongs to the demo (test/demo_seed.sql)
DROP FUNCTION ng_seed_demo(int, int, int);

-- functions that name the wrapper's objects: objectid and its functions
-- through the search_path pinned below, the administration functions and
-- the queue in schema nutragenie_fdw

CREATE OR REPLACE FUNCTION ng_attach_mongo(server name, database text DEFAULT 'nutragenie')
RETURNS jsonb
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
DECLARE
    coll text;
    idx json;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
                   WHERE s.srvname = server AND w.fdwname = 'nutragenie_fdw') THEN
        RAISE EXCEPTION 'server "%" does not exist or is not a nutragenie_fdw server', server
            USING ERRCODE = 'undefined_object';
    END IF;
    IF database = '' THEN
        RAISE EXCEPTION 'database name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- the collections and the indexes the domain's lookups use
    -- one index per command: FerretDB 1.24 fails on a createIndexes of
    -- several indexes that all exist already
    FOR coll, idx IN VALUES
        ('recipe_content', '{"key": {"postgresId": 1}, "name": "postgresId_1"}'::json),
        ('recipe_content', '{"key": {"tags": 1}, "name": "tags_1"}'),
        ('user_profiles', '{"key": {"postgresUserId": 1}, "name": "postgresUserId_1"}'),
        ('cooking_session_details', '{"key": {"postgresSessionId": 1}, "name": "postgresSessionId_1"}'),
        ('cooking_session_details', '{"key": {"postgresUserId": 1}, "name": "postgresUserId_1"}'),
        ('chef_personalities', '{"key": {"name": 1}, "name": "name_1"}'),
        ('user_behavior', '{"key": {"updatedAt": 1}, "name": "updatedAt_1"}')
    LOOP
        PERFORM nutragenie_fdw.run_command(server,
            json_build_object('createIndexes', coll, 'indexes', json_build_array(idx)), database);
    END LOOP;

    PERFORM @extschema@.ng_detach_mongo();

    EXECUTE format($ddl$
CREATE FOREIGN TABLE @extschema@.recipe_content (
    _id               objectid,
    postgres_id       bigint           OPTIONS (field 'postgresId'),
    title             text,
    description       text,
    cuisine           text,
    ingredients       jsonb,
    steps             jsonb,
    nutrition         jsonb,
    calories          double precision OPTIONS (field 'nutrition.calories'),
    protein_g         double precision OPTIONS (field 'nutrition.protein_g'),
    carbs_g           double precision OPTIONS (field 'nutrition.carbs_g'),
    fat_g             double precision OPTIONS (field 'nutrition.fat_g'),
    tags              text[],
    rating_analytics  jsonb            OPTIONS (field 'ratingAnalytics'),
    created_at        timestamptz      OPTIONS (field 'createdAt'),
    updated_at        timestamptz      OPTIONS (field 'updatedAt'),
    doc               jsonb            OPTIONS (field '$$ROOT')
) SERVER %1$I OPTIONS (database %2$L, collection 'recipe_content');

CREATE FOREIGN TABLE @extschema@.user_profiles (
    _id                 objectid,
    postgres_user_id    bigint           OPTIONS (field 'postgresUserId'),
    dietary_profile     jsonb            OPTIONS (field 'dietaryProfile'),
    diet_type           text             OPTIONS (field 'dietaryProfile.dietType'),
    calorie_target      double precision OPTIONS (field 'dietaryProfile.calorieTarget'),
    allergies           text[]           OPTIONS (field 'dietaryProfile.allergies'),
    cooking_profile     jsonb            OPTIONS (field 'cookingProfile'),
    skill_level         text             OPTIONS (field 'cookingProfile.skillLevel'),
    preferred_chef      text             OPTIONS (field 'cookingProfile.preferredChef'),
    created_at          timestamptz      OPTIONS (field 'createdAt'),
    updated_at          timestamptz      OPTIONS (field 'updatedAt'),
    doc                 jsonb            OPTIONS (field '$$ROOT')
) SERVER %1$I OPTIONS (database %2$L, collection 'user_profiles');

CREATE FOREIGN TABLE @extschema@.cooking_session_details (
    _id                  objectid,
    postgres_session_id  bigint      OPTIONS (field 'postgresSessionId'),
    postgres_user_id     bigint      OPTIONS (field 'postgresUserId'),
    postgres_recipe_id   bigint      OPTIONS (field 'postgresRecipeId'),
    session_metadata     jsonb       OPTIONS (field 'sessionMetadata'),
    mode                 text        OPTIONS (field 'sessionMetadata.mode'),
    voice_interactions   jsonb       OPTIONS (field 'voiceInteractions'),
    step_progress        jsonb       OPTIONS (field 'stepProgress'),
    summary              jsonb,
    created_at           timestamptz OPTIONS (field 'createdAt'),
    updated_at           timestamptz OPTIONS (field 'updatedAt'),
    doc                  jsonb       OPTIONS (field '$$ROOT')
) SERVER %1$I OPTIONS (database %2$L, collection 'cooking_session_details');

CREATE FOREIGN TABLE @extschema@.chef_personalities (
    _id                 text,
    name                text,
    style               text,
    cuisines            text[],
    greeting            text,
    adaptive_responses  jsonb OPTIONS (field 'adaptiveResponses'),
    doc                 jsonb OPTIONS (field '$$ROOT')
) SERVER %1$I OPTIONS (database %2$L, collection 'chef_personalities');

CREATE FOREIGN TABLE @extschema@.user_behavior (
    _id                 bigint,
    patterns            jsonb,
    recommendations     jsonb,
    nutrition_analytics jsonb       OPTIONS (field 'nutritionAnalytics'),
    rating_stats        jsonb       OPTIONS (field 'ratingStats'),
    updated_at          timestamptz OPTIONS (field 'updatedAt'),
    doc                 jsonb       OPTIONS (field '$$ROOT')
) SERVER %1$I OPTIONS (database %2$L, collection 'user_behavior');
$ddl$, server, database);

    COMMENT ON FOREIGN TABLE @extschema@.recipe_content IS 'MongoDB: full recipe content (ingredients, steps, nutrition, tags, rating analytics); postgresId = recipes.id';
    COMMENT ON FOREIGN TABLE @extschema@.user_profiles IS 'MongoDB: dietary and cooking profile of a user; postgresUserId = users.id';
    COMMENT ON FOREIGN TABLE @extschema@.cooking_session_details IS 'MongoDB: metadata, voice interaction log and step progress of a cooking session; postgresSessionId = cooking_sessions.id';
    COMMENT ON FOREIGN TABLE @extschema@.chef_personalities IS 'MongoDB: AI chef personalities and their adaptive response patterns';
    COMMENT ON FOREIGN TABLE @extschema@.user_behavior IS 'MongoDB: behaviour patterns, recommendations and analytics of a user; _id = users.id';

    -- Views for analysts.  Each joins the PostgreSQL table to its documents
    -- on _id, so that a selective condition on the PostgreSQL side becomes
    -- one keyed find per row (a parameterized foreign scan).
    CREATE VIEW @extschema@.recipe_full AS
    SELECT r.id, r.title, r.category, r.difficulty_level, r.prep_time_minutes,
           r.cook_time_minutes, r.servings, r.created_by, r.average_rating, r.rating_count,
           r.mongodb_recipe_id, c.description, c.cuisine, c.calories, c.protein_g,
           c.carbs_g, c.fat_g, c.tags, c.ingredients, c.steps,
           c._id IS NULL AS content_missing, r.created_at, r.updated_at
    FROM @extschema@.recipes r
    LEFT JOIN @extschema@.recipe_content c ON c._id = r.mongodb_recipe_id;
    COMMENT ON VIEW @extschema@.recipe_full IS 'recipes with their MongoDB content';

    CREATE VIEW @extschema@.user_full_profile AS
    SELECT u.id, u.email, u.nickname, u.first_name, u.last_name, u.date_of_birth,
           u.gender, u.height_cm, u.weight_kg, u.mongodb_profile_id,
           p.diet_type, p.calorie_target, p.allergies, p.skill_level, p.preferred_chef,
           p.dietary_profile, p.cooking_profile, b.patterns, b.recommendations,
           b.nutrition_analytics, p._id IS NULL AS profile_missing, u.created_at
    FROM @extschema@.users u
    LEFT JOIN @extschema@.user_profiles p ON p._id = u.mongodb_profile_id
    LEFT JOIN @extschema@.user_behavior b ON b._id = u.id;
    COMMENT ON VIEW @extschema@.user_full_profile IS 'users with their MongoDB profile and behaviour documents (no password hash)';

    CREATE VIEW @extschema@.cooking_session_analytics AS
    SELECT s.id AS session_id, s.user_id, s.recipe_id, r.title AS recipe_title, s.mode,
           s.status, s.started_at, s.ended_at,
           extract(epoch FROM coalesce(s.ended_at, now()) - s.started_at)::int AS duration_seconds,
           s.total_steps,
           coalesce(jsonb_array_length(d.step_progress), 0) AS steps_completed,
           coalesce(jsonb_array_length(d.voice_interactions), 0) AS voice_interaction_count,
           CASE WHEN s.total_steps > 0
                THEN round(100.0 * coalesce(jsonb_array_length(d.step_progress), 0) / s.total_steps, 1)
           END AS percent_complete,
           d._id IS NULL AS details_missing
    FROM @extschema@.cooking_sessions s
    JOIN @extschema@.recipes r ON r.id = s.recipe_id
    LEFT JOIN @extschema@.cooking_session_details d ON d._id = s.mongodb_session_id;
    COMMENT ON VIEW @extschema@.cooking_session_analytics IS 'per cooking session: duration, steps completed and voice interactions (from the MongoDB detail document)';

    CREATE VIEW @extschema@.nutrition_vs_goals AS
    SELECT d.user_id, d.entry_date, d.entries, d.calories, d.protein_g, d.carbs_g, d.fat_g,
           g.calories AS goal_calories, g.protein_g AS goal_protein_g,
           g.carbs_g AS goal_carbs_g, g.fat_g AS goal_fat_g,
           CASE WHEN g.calories > 0 THEN round(100 * d.calories / g.calories, 1) END AS calories_pct_of_goal,
           p.diet_type, p.calorie_target AS profile_calorie_target,
           d.calories - g.calories AS calories_over_goal
    FROM (SELECT e.user_id, e.entry_date, count(*) AS entries, sum(e.calories) AS calories,
                 sum(e.protein_g) AS protein_g, sum(e.carbs_g) AS carbs_g, sum(e.fat_g) AS fat_g
          FROM @extschema@.nutrition_entries e
          GROUP BY e.user_id, e.entry_date) d
    JOIN @extschema@.users u ON u.id = d.user_id
    LEFT JOIN LATERAL (
        SELECT g.* FROM @extschema@.nutrition_goals g
        WHERE g.user_id = d.user_id AND g.valid_from <= d.entry_date
          AND (g.valid_to IS NULL OR g.valid_to >= d.entry_date)
        ORDER BY g.valid_from DESC LIMIT 1) g ON true
    LEFT JOIN @extschema@.user_profiles p ON p._id = u.mongodb_profile_id;
    COMMENT ON VIEW @extschema@.nutrition_vs_goals IS 'daily nutrition totals per user against the goal valid that day and the MongoDB dietary profile';

    INSERT INTO @extschema@.mongo_attachment (server, database) VALUES (server, database);

    -- the foreign tables and views are new: grant them again to the roles
    -- set up with ng_setup_app_role / ng_setup_analyst_role
    IF EXISTS (SELECT FROM @extschema@.role_setup) THEN
        PERFORM @extschema@.ng_apply_role_grants();
    END IF;

    RETURN jsonb_build_object('server', server, 'database', database,
        'foreign_tables', jsonb_build_array('recipe_content', 'user_profiles',
            'cooking_session_details', 'chef_personalities', 'user_behavior'),
        'views', jsonb_build_array('recipe_full', 'user_full_profile',
            'cooking_session_analytics', 'nutrition_vs_goals'));
END
$fn$;

CREATE OR REPLACE FUNCTION ng_users_after_insert()
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

CREATE OR REPLACE FUNCTION ng_apply_ratings(recipe_ids bigint[], user_ids bigint[])
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

CREATE OR REPLACE FUNCTION ng_full_recipe(recipe_id bigint)
RETURNS jsonb
LANGUAGE plpgsql STABLE STRICT PARALLEL RESTRICTED
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
DECLARE
    r @extschema@.recipes;
    content jsonb;
    have_content boolean := false;
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    SELECT * INTO r FROM @extschema@.recipes WHERE id = recipe_id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF r.mongodb_recipe_id IS NOT NULL THEN
        -- through the document cache; a JSON null field reads as a NULL column would
        SELECT jsonb_build_object(
                   'description', d -> 'description', 'cuisine', d -> 'cuisine',
                   'ingredients', coalesce(nullif(d -> 'ingredients', 'null'), '[]'),
                   'steps', coalesce(nullif(d -> 'steps', 'null'), '[]'),
                   'nutrition', coalesce(nullif(d -> 'nutrition', 'null'), '{}'),
                   'tags', coalesce(nullif(d -> 'tags', 'null'), '[]'),
                   'ratingAnalytics', d -> 'ratingAnalytics')
        INTO content
        FROM nutragenie_fdw.cached_document(@extschema@.ng_mongo_server(),
                 (SELECT a.database FROM @extschema@.mongo_attachment a),
                 'recipe_content', jsonb_build_object('$oid', r.mongodb_recipe_id::text)) AS d
        WHERE d IS NOT NULL;
        have_content := FOUND;
    END IF;
    RETURN jsonb_build_object(
        'id', r.id, 'title', r.title, 'category', r.category,
        'difficultyLevel', r.difficulty_level, 'prepTimeMinutes', r.prep_time_minutes,
        'cookTimeMinutes', r.cook_time_minutes, 'servings', r.servings,
        'createdBy', r.created_by,
        'rating', jsonb_build_object('average', r.average_rating, 'count', r.rating_count),
        'mongodbRecipeId', r.mongodb_recipe_id::text,
        'contentMissing', NOT have_content,
        'content', content);
END
$fn$;

CREATE OR REPLACE FUNCTION ng_create_recipe(recipe jsonb)
RETURNS bigint
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
DECLARE
    oid objectid := objectid_generate();
    new_id bigint;
    norm jsonb;
    doc jsonb;
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    norm := @extschema@.ng_check_recipe(recipe, false);

    INSERT INTO @extschema@.recipes (title, category, difficulty_level, prep_time_minutes,
                                     cook_time_minutes, servings, created_by, mongodb_recipe_id)
    VALUES (recipe ->> 'title', coalesce(recipe ->> 'category', 'main'),
            coalesce((recipe ->> 'difficultyLevel')::int, 1),
            (recipe ->> 'prepTimeMinutes')::int, (recipe ->> 'cookTimeMinutes')::int,
            (recipe ->> 'servings')::int, coalesce((recipe ->> 'createdBy')::bigint, @extschema@.ng_app_user()), oid)
    RETURNING id INTO new_id;

    doc := jsonb_strip_nulls(jsonb_build_object(
        'postgresId', new_id, 'title', recipe ->> 'title',
        'description', recipe -> 'description', 'cuisine', recipe -> 'cuisine',
        'ingredients', norm -> 'ingredients', 'steps', norm -> 'steps', 'nutrition', norm -> 'nutrition',
        'tags', norm -> 'tags',
        'createdAt', @extschema@.ng_bson_date(now()),
        'updatedAt', @extschema@.ng_bson_date(now())));
    INSERT INTO @extschema@.recipe_content (_id, doc) VALUES (oid, doc);
    -- searchable at once (ng_search_recipes, ng_recommend_recipes)
    PERFORM @extschema@.ng_store_recipe_features(ARRAY[new_id], ARRAY[doc]);
    RETURN new_id;
END
$fn$;

CREATE OR REPLACE FUNCTION ng_user_full_profile(user_id bigint)
RETURNS jsonb
LANGUAGE plpgsql STABLE STRICT PARALLEL RESTRICTED
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
DECLARE
    u @extschema@.users;
    p jsonb;
    b jsonb;
    have_profile boolean := false;
    srv name;
    db text;
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    SELECT * INTO u FROM @extschema@.users x WHERE x.id = user_id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    -- both documents through the document cache
    SELECT a.server, a.database INTO srv, db FROM @extschema@.mongo_attachment a;
    IF u.mongodb_profile_id IS NOT NULL THEN
        SELECT jsonb_build_object('dietaryProfile', d -> 'dietaryProfile', 'cookingProfile', d -> 'cookingProfile') INTO p
        FROM nutragenie_fdw.cached_document(srv, db, 'user_profiles',
                 jsonb_build_object('$oid', u.mongodb_profile_id::text)) AS d
        WHERE d IS NOT NULL;
        have_profile := FOUND;
    END IF;
    SELECT jsonb_strip_nulls(jsonb_build_object(
               'patterns', d -> 'patterns', 'recommendations', d -> 'recommendations',
               'nutritionAnalytics', d -> 'nutritionAnalytics', 'ratingStats', d -> 'ratingStats')) INTO b
    FROM nutragenie_fdw.cached_document(srv, db, 'user_behavior', to_jsonb(u.id)) AS d
    WHERE d IS NOT NULL;
    RETURN jsonb_build_object(
        'id', u.id, 'email', u.email, 'nickname', u.nickname, 'firstName', u.first_name,
        'lastName', u.last_name, 'dateOfBirth', u.date_of_birth, 'gender', u.gender,
        'heightCm', u.height_cm, 'weightKg', u.weight_kg,
        'mongodbProfileId', u.mongodb_profile_id::text,
        'profileMissing', NOT have_profile,
        'dietaryProfile', p -> 'dietaryProfile',
        'cookingProfile', p -> 'cookingProfile',
        'behavior', b,
        'currentGoal', (SELECT jsonb_build_object('calories', g.calories, 'proteinG', g.protein_g,
                                                  'carbsG', g.carbs_g, 'fatG', g.fat_g, 'validFrom', g.valid_from)
                        FROM @extschema@.nutrition_goals g
                        WHERE g.user_id = u.id AND g.valid_from <= current_date
                          AND (g.valid_to IS NULL OR g.valid_to >= current_date)
                        ORDER BY g.valid_from DESC LIMIT 1),
        'stats', jsonb_build_object(
            'ratings', (SELECT count(*) FROM @extschema@.recipe_ratings r WHERE r.user_id = u.id),
            'cookingSessions', (SELECT count(*) FROM @extschema@.cooking_sessions s WHERE s.user_id = u.id),
            'nutritionEntries', (SELECT count(*) FROM @extschema@.nutrition_entries e WHERE e.user_id = u.id)));
END
$fn$;

CREATE OR REPLACE FUNCTION ng_start_cooking_session(user_id bigint, recipe_id bigint, mode text DEFAULT 'voice')
RETURNS bigint
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
DECLARE
    r @extschema@.recipes;
    oid objectid := objectid_generate();
    nsteps int := 0;
    new_id bigint;
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    IF mode NOT IN ('voice', 'manual', 'guided') THEN
        RAISE EXCEPTION 'mode must be one of voice, manual, guided' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('Got "%s".', mode);
    END IF;
    IF NOT EXISTS (SELECT FROM @extschema@.users u
                   WHERE u.id = ng_start_cooking_session.user_id AND @extschema@.ng_acting_for(u.id)) THEN
        RAISE EXCEPTION 'user % does not exist', user_id USING ERRCODE = 'no_data_found';
    END IF;
    SELECT * INTO r FROM @extschema@.recipes x WHERE x.id = ng_start_cooking_session.recipe_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'recipe % does not exist', recipe_id USING ERRCODE = 'no_data_found';
    END IF;
    IF r.mongodb_recipe_id IS NOT NULL THEN
        SELECT coalesce(jsonb_array_length(c.steps), 0) INTO nsteps
        FROM @extschema@.recipe_content c WHERE c._id = r.mongodb_recipe_id;
    END IF;

    INSERT INTO @extschema@.cooking_sessions (user_id, recipe_id, mode, total_steps, mongodb_session_id)
    VALUES (ng_start_cooking_session.user_id, r.id, ng_start_cooking_session.mode, coalesce(nsteps, 0), oid)
    RETURNING id INTO new_id;
    INSERT INTO @extschema@.cooking_session_details (_id, doc)
    VALUES (oid, jsonb_build_object(
        'postgresSessionId', new_id, 'postgresUserId', user_id, 'postgresRecipeId', r.id,
        'sessionMetadata', jsonb_build_object('mode', mode, 'status', 'active',
                                              'recipeTitle', r.title, 'totalSteps', coalesce(nsteps, 0),
                                              'startedAt', @extschema@.ng_bson_date(now())),
        'voiceInteractions', '[]'::jsonb, 'stepProgress', '[]'::jsonb,
        'createdAt', @extschema@.ng_bson_date(now()), 'updatedAt', @extschema@.ng_bson_date(now())));
    RETURN new_id;
END
$fn$;

CREATE OR REPLACE FUNCTION ng_check_consistency()
RETURNS TABLE (issue text, pg_table text, pg_id bigint, collection text, mongo_id text, detail text)
LANGUAGE plpgsql STABLE STRICT PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    docs text;      -- one CTE per pair: the documents' _id and back-reference
    pairs text;     -- the three kinds of issue of every pair
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    -- Per pair of ng_document_pairs(): rows without their document, back-
    -- references that disagree, and orphan documents, from one find per
    -- collection fetching _id and the back-reference only.
    SELECT string_agg(format('%I AS MATERIALIZED (SELECT x._id, x.%I AS ref FROM @extschema@.%I x)',
                             'docs_' || p.coll, p.backref, p.coll), ', '),
           string_agg(format($q$
        SELECT %1$L AS issue, %2$L AS pg_table, t.id AS pg_id, %3$L AS collection, t.%4$I::text AS mongo_id,
               CASE %5$s WHEN t.%4$I IS NULL THEN %6$L ELSE 'no document with this _id' END AS detail
        FROM @extschema@.%2$I t LEFT JOIN %7$I d ON d._id = t.%4$I
        WHERE d._id IS NULL
        UNION ALL
        SELECT %8$L, %2$L, t.id, %3$L, d._id::text, format(%9$L, coalesce(d.ref::text, 'missing'))
        FROM @extschema@.%2$I t JOIN %7$I d ON d._id = t.%4$I
        WHERE d.ref IS DISTINCT FROM t.id
        UNION ALL
        SELECT %10$L, %2$L, d.ref, %3$L, d._id::text, %11$L
        FROM %7$I d WHERE NOT EXISTS (SELECT FROM @extschema@.%2$I t WHERE t.%4$I = d._id)$q$,
                  p.missing_issue, p.tab, p.coll, p.pointer,
                  CASE WHEN p.source IS NOT NULL
                       THEN format('WHEN t.%I IS NOT NULL THEN %L', p.source,
                                   p.source || ' not migrated to MongoDB yet')
                       ELSE '' END,
                  p.tab || '.' || p.pointer || ' is NULL', 'docs_' || p.coll,
                  p.mismatch_issue, p.backref_field || ' is %s',
                  p.orphan_issue, 'no ' || p.noun || ' refers to this document'),
                  ' UNION ALL ')
    INTO docs, pairs
    FROM @extschema@.ng_document_pairs() p;

    RETURN QUERY EXECUTE
    'WITH ' || docs || $q$,
         c AS MATERIALIZED (SELECT x._id, x.rating_analytics AS analytics FROM @extschema@.recipe_content x),
         b AS MATERIALIZED (SELECT x._id, x.rating_stats, x.nutrition_analytics FROM @extschema@.user_behavior x),
         ra AS MATERIALIZED (SELECT * FROM @extschema@.ng_rating_aggregates(ARRAY(SELECT r.id FROM @extschema@.recipes r))),
         rs AS MATERIALIZED (SELECT * FROM @extschema@.ng_rating_stats(ARRAY(SELECT u.id FROM @extschema@.users u))),
         na AS MATERIALIZED (SELECT * FROM @extschema@.ng_nutrition_analytics(ARRAY(SELECT u.id FROM @extschema@.users u))),
         issues AS ($q$ || pairs || $q$
        UNION ALL
        SELECT 'orphan_user_behavior', 'users', b._id, 'user_behavior', b._id::text,
               'no user with this id'
        FROM b WHERE NOT EXISTS (SELECT FROM @extschema@.users u WHERE u.id = b._id)
        UNION ALL
        -- derived values: the recipes columns, in PostgreSQL
        SELECT 'rating_drift', 'recipes', r.id, NULL, NULL,
               format('rating_count %s, rating_sum %s, average_rating %s; the ratings give %s, %s, %s',
                      r.rating_count, r.rating_sum, coalesce(r.average_rating::text, 'NULL'),
                      ra.rating_count, ra.rating_sum, coalesce(ra.average_rating::text, 'NULL'))
        FROM @extschema@.recipes r JOIN ra ON ra.recipe_id = r.id
        WHERE (r.rating_count, r.rating_sum, r.average_rating)
              IS DISTINCT FROM (ra.rating_count, ra.rating_sum, ra.average_rating)
        UNION ALL
        -- ratingAnalytics of the recipe's document (lastRatedAt aside)
        SELECT 'rating_drift', 'recipes', r.id, 'recipe_content', c._id::text,
               @extschema@.ng_derived_difference('ratingAnalytics', x.stored, ra.analytics, 'the ratings')
        FROM @extschema@.recipes r
        JOIN c ON c._id = r.mongodb_recipe_id
        JOIN ra ON ra.recipe_id = r.id
        CROSS JOIN LATERAL (SELECT CASE WHEN jsonb_typeof(c.analytics) = 'object'
                                        THEN c.analytics - 'lastRatedAt' ELSE c.analytics END AS stored) x
        WHERE x.stored IS DISTINCT FROM ra.analytics
          AND NOT (x.stored IS NULL AND ra.rating_count = 0)
        UNION ALL
        -- ratingStats and nutritionAnalytics of the user's document
        SELECT 'rating_drift', 'users', u.id, 'user_behavior', u.id::text,
               @extschema@.ng_derived_difference('ratingStats', b.rating_stats, rs.stats, 'the ratings')
        FROM @extschema@.users u JOIN rs ON rs.user_id = u.id LEFT JOIN b ON b._id = u.id
        WHERE b.rating_stats IS DISTINCT FROM rs.stats
          AND NOT (b.rating_stats IS NULL AND rs.rating_count = 0)
        UNION ALL
        SELECT 'nutrition_drift', 'users', u.id, 'user_behavior', u.id::text,
               @extschema@.ng_derived_difference('nutritionAnalytics', b.nutrition_analytics, na.analytics,
                                                 'the nutrition entries')
        FROM @extschema@.users u JOIN na ON na.user_id = u.id LEFT JOIN b ON b._id = u.id
        WHERE b.nutrition_analytics IS DISTINCT FROM na.analytics)
    SELECT * FROM issues i
    ORDER BY i.issue, i.pg_id NULLS LAST, i.pg_table, i.collection NULLS FIRST, i.mongo_id$q$;
END
$fn$;

CREATE OR REPLACE FUNCTION ng_repair_consistency(dry_run boolean DEFAULT true)
RETURNS TABLE (issue text, pg_table text, pg_id bigint, collection text, mongo_id text, action text, applied boolean)
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    i record;
    p record;
    linked text[] := '{}';      -- 'table:id' of rows an orphan was linked to
    recomputed text[] := '{}';  -- 'issue:table:id' of derived values recomputed
    new_content bigint[] := '{}';   -- recipes that got a content document
    oid objectid;
    target bigint;
    stamp CONSTANT text := 'updated_at = date_trunc(''milliseconds'', now())';
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    -- Orphans first: an orphan whose back-reference names a row that has
    -- no document of its own is linked to it (the row's pointer was lost);
    -- other orphans are deleted.  Then rows still without a document get
    -- a new one (a default profile, placeholder content or details), and
    -- back-references and derived values are corrected.
    FOR i IN
        SELECT * FROM @extschema@.ng_check_consistency() c
        ORDER BY CASE WHEN c.issue LIKE 'orphan%' THEN 0 WHEN c.issue LIKE '%without%' THEN 1 ELSE 2 END,
                 c.issue, c.pg_id NULLS LAST, c.pg_table, c.collection NULLS FIRST, c.mongo_id
    LOOP
        issue := i.issue; pg_table := i.pg_table; pg_id := i.pg_id; collection := i.collection;
        mongo_id := i.mongo_id; applied := NOT dry_run;

        IF i.issue = 'orphan_user_behavior' THEN
            action := 'delete the document';
            IF NOT dry_run THEN
                DELETE FROM @extschema@.user_behavior b WHERE b._id = i.pg_id;
            END IF;
            RETURN NEXT;
            CONTINUE;
        END IF;

        IF i.issue IN ('rating_drift', 'nutrition_drift') THEN
            action := CASE
                WHEN i.issue = 'nutrition_drift' THEN 'recompute nutritionAnalytics from the nutrition entries'
                WHEN i.pg_table = 'users' THEN 'recompute ratingStats from the ratings'
                WHEN i.collection IS NULL THEN 'recompute rating_count, rating_sum and average_rating from the ratings'
                ELSE 'recompute ratingAnalytics from the ratings' END;
            -- ng_apply_ratings of a recipe recomputes both stores: once
            IF NOT dry_run
               AND NOT (i.issue || ':' || i.pg_table || ':' || i.pg_id) = ANY (recomputed) THEN
                recomputed := recomputed || (i.issue || ':' || i.pg_table || ':' || i.pg_id);
                IF i.issue = 'nutrition_drift' THEN
                    PERFORM @extschema@.ng_apply_nutrition(ARRAY[i.pg_id]);
                ELSIF i.pg_table = 'users' THEN
                    PERFORM @extschema@.ng_apply_ratings('{}', ARRAY[i.pg_id]);
                ELSE
                    PERFORM @extschema@.ng_apply_ratings(ARRAY[i.pg_id], '{}');
                END IF;
            END IF;
            RETURN NEXT;
            CONTINUE;
        END IF;

        -- the pair (ng_document_pairs)
        SELECT * INTO p FROM @extschema@.ng_document_pairs() v
        WHERE v.tab = i.pg_table AND v.coll = i.collection;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'unexpected consistency issue "%"', i.issue USING ERRCODE = 'internal_error';
        END IF;

        IF i.issue LIKE 'orphan%' THEN
            target := NULL;
            EXECUTE format('SELECT t.id FROM @extschema@.%I t WHERE t.id = $1 AND NOT %L || t.id = ANY ($2)'
                           ' AND (t.%I IS NULL OR NOT EXISTS (SELECT FROM @extschema@.%I d'
                           ' WHERE d._id = t.%I))',
                           p.tab, p.tab || ':', p.pointer, p.coll, p.pointer)
                INTO target USING i.pg_id, linked;
            IF target IS NOT NULL THEN
                action := format('link the document to %s %s', p.noun, target);
                linked := linked || (p.tab || ':' || target);
                IF NOT dry_run THEN
                    EXECUTE format('UPDATE @extschema@.%I SET %I = $1, %s WHERE id = $2', p.tab, p.pointer, stamp)
                        USING i.mongo_id::objectid, target;
                    IF p.tab = 'recipes' THEN
                        new_content := new_content || target;
                    END IF;
                END IF;
            ELSE
                action := 'delete the document';
                IF NOT dry_run THEN
                    EXECUTE format('DELETE FROM @extschema@.%I WHERE _id = $1', p.coll)
                        USING i.mongo_id::objectid;
                END IF;
            END IF;
        ELSIF i.issue LIKE '%without%' THEN
            IF (p.tab || ':' || i.pg_id) = ANY (linked) THEN
                CONTINUE;
            END IF;
            action := CASE WHEN i.detail LIKE '% not migrated%' THEN p.migrate_action ELSE p.create_action END;
            IF NOT dry_run THEN
                oid := coalesce(i.mongo_id::objectid, objectid_generate());
                EXECUTE format('INSERT INTO @extschema@.%I (_id, doc) SELECT $1, @extschema@.%I(t)'
                               ' FROM @extschema@.%I t WHERE t.id = $2', p.coll, p.builder, p.tab)
                    USING oid, i.pg_id;
                EXECUTE format('UPDATE @extschema@.%I SET %I = $1%s, %s WHERE id = $2', p.tab, p.pointer,
                               CASE WHEN p.source IS NOT NULL THEN format(', %I = NULL', p.source) ELSE '' END,
                               stamp)
                    USING oid, i.pg_id;
                IF p.tab = 'recipes' THEN
                    new_content := new_content || i.pg_id;
                END IF;
            END IF;
        ELSE
            -- a back-reference that disagrees
            action := format('set %s to %s', p.backref_field, i.pg_id);
            IF NOT dry_run THEN
                EXECUTE format('UPDATE @extschema@.%I SET %I = $1, %s WHERE _id = $2',
                               p.coll, p.backref, stamp)
                    USING i.pg_id, i.mongo_id::objectid;
            END IF;
        END IF;
        RETURN NEXT;
    END LOOP;
    IF new_content <> '{}' THEN
        PERFORM @extschema@.ng_apply_ratings(new_content, '{}');
        PERFORM @extschema@.ng_refresh_recipe_features(new_content);
    END IF;
END
$fn$;

CREATE OR REPLACE FUNCTION ng_health()
RETURNS jsonb
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
DECLARE
    srv name := @extschema@.ng_mongo_server();
    db text;
    t0 timestamptz;
    mongo jsonb;
    q record;
    queue jsonb;
    info jsonb;
BEGIN
    IF has_table_privilege('nutragenie_fdw.outbox'::regclass, 'SELECT')
       AND has_table_privilege('nutragenie_fdw.dead_letters'::regclass, 'SELECT') THEN
        SELECT * INTO q FROM nutragenie_fdw.write_queue_status();
        queue := jsonb_build_object('pending', q.pending,
            'oldestAgeSeconds', round(extract(epoch FROM q.oldest_age)::numeric, 3),
            'lastError', q.last_error, 'deadLetters', q.dead_letters);
    ELSE
        queue := jsonb_build_object('pending', NULL, 'oldestAgeSeconds', NULL,
            'lastError', NULL, 'deadLetters', NULL,
            'note', 'not shown: reading the write queue needs SELECT on nutragenie_fdw.outbox and nutragenie_fdw.dead_letters');
    END IF;
    IF srv IS NULL THEN
        mongo := jsonb_build_object('ok', false, 'error', 'not attached (run ng_attach_mongo)');
    ELSIF NOT has_function_privilege('nutragenie_fdw.run_command(name, json, text)'::regprocedure, 'EXECUTE') THEN
        SELECT database INTO db FROM @extschema@.mongo_attachment;
        mongo := jsonb_build_object('ok', NULL, 'server', srv, 'database', db,
            'note', 'not checked: pinging MongoDB needs EXECUTE on nutragenie_fdw.run_command');
    ELSE
        SELECT database INTO db FROM @extschema@.mongo_attachment;
        BEGIN
            t0 := clock_timestamp();
            PERFORM nutragenie_fdw.run_command(srv, '{"ping": 1}', db);
            mongo := jsonb_build_object('ok', true, 'server', srv, 'database', db,
                'latencyMs', round(extract(epoch FROM clock_timestamp() - t0) * 1000, 3));
            info := nutragenie_fdw.run_command(srv, '{"buildInfo": 1}', db);
            mongo := mongo || jsonb_build_object('version', info ->> 'version');
        EXCEPTION WHEN OTHERS THEN
            mongo := jsonb_build_object('ok', false, 'server', srv, 'database', db, 'error', SQLERRM,
                                        'sqlstate', SQLSTATE);
        END;
    END IF;
    t0 := clock_timestamp();
    PERFORM 1 FROM @extschema@.users LIMIT 1;
    RETURN jsonb_build_object(
        'status', CASE WHEN coalesce((mongo ->> 'ok')::boolean, true)
                            AND coalesce((queue ->> 'deadLetters')::bigint, 0) = 0
                       THEN 'ok' ELSE 'degraded' END,
        'postgresql', jsonb_build_object('ok', true, 'version', current_setting('server_version'),
            'latencyMs', round(extract(epoch FROM clock_timestamp() - t0) * 1000, 3)),
        'mongodb', mongo,
        'writeQueue', queue,
        'cache', (SELECT jsonb_build_object('enabled', c.enabled, 'entries', c.entries,
                      'hits', c.hits, 'misses', c.misses, 'invalidations', c.invalidations)
                  FROM nutragenie_fdw.cache_stats() c));
END
$fn$;

CREATE OR REPLACE PROCEDURE ng_migrate_to_mongo(batch_size int DEFAULT 1000)
LANGUAGE plpgsql
AS $fn$
DECLARE
    caller_path pg_catalog.text := pg_catalog.current_setting('search_path');
    -- the search_path the install script pinned on the other functions
    -- (sql/app/pin.sql): this extension's schema and nutragenie_fdw's
    pinned pg_catalog.text := (
        SELECT pg_catalog.substr(c, 13)
        FROM pg_catalog.pg_proc p, pg_catalog.unnest(p.proconfig) c
        WHERE p.oid OPERATOR(pg_catalog.=) '@extschema@.ng_require_mongo()'::pg_catalog.regprocedure
          AND pg_catalog.starts_with(c, 'search_path='));
    -- per kind (the pairs with a PostgreSQL-first column, ng_document_pairs):
    -- the table, its jsonb column, its reference column, the collection,
    -- the document builder, and the kind's name
    tabs pg_catalog.text[];
    cols pg_catalog.text[];
    refs pg_catalog.text[];
    colls pg_catalog.text[];
    builders pg_catalog.text[];
    names pg_catalog.text[];
    total bigint[] := ARRAY[0, 0];
    done bigint[] := ARRAY[0, 0];
    n bigint;
BEGIN
    PERFORM pg_catalog.set_config('search_path', pinned, true);
    PERFORM @extschema@.ng_require_mongo();
    IF batch_size IS NULL OR batch_size < 1 THEN
        RAISE EXCEPTION 'batch_size must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT array_agg(p.tab ORDER BY p.ord), array_agg(p.source ORDER BY p.ord), array_agg(p.pointer ORDER BY p.ord),
           array_agg(p.coll ORDER BY p.ord), array_agg(p.builder ORDER BY p.ord), array_agg(p.label ORDER BY p.ord)
    INTO tabs, cols, refs, colls, builders, names
    FROM @extschema@.ng_document_pairs() WITH ORDINALITY
         p(tab, coll, pointer, backref, backref_field, noun, source, builder, migrate_action, create_action, label,
           missing_issue, mismatch_issue, orphan_issue, ord)
    WHERE p.source IS NOT NULL;
    FOR i IN 1..2 LOOP
        EXECUTE format('SELECT count(*) FROM @extschema@.%I WHERE %I IS NOT NULL OR %I IS NULL',
                       tabs[i], cols[i], refs[i])
        INTO n;
        total[i] := n;
    END LOOP;
    RAISE NOTICE 'migrating % recipes and % user profiles to MongoDB, % per batch', total[1], total[2], batch_size;

    -- Each batch is one transaction: its documents and the rows' new
    -- references commit together.  A row leaves the work list when it is
    -- migrated (content/profile set to NULL, reference set), so a run that
    -- was interrupted resumes where it stopped, and a second run does
    -- nothing.
    CREATE TEMP TABLE IF NOT EXISTS ng_migration_batch (id bigint, oid objectid, doc jsonb);
    FOR i IN 1..2 LOOP
        LOOP
            TRUNCATE pg_temp.ng_migration_batch;
            EXECUTE format('INSERT INTO pg_temp.ng_migration_batch'
                           ' SELECT r.id, coalesce(r.%2$I, objectid_generate()), @extschema@.%4$I(r)'
                           ' FROM @extschema@.%1$I r WHERE r.%3$I IS NOT NULL OR r.%2$I IS NULL'
                           ' ORDER BY r.id LIMIT $1 FOR UPDATE',
                           tabs[i], refs[i], cols[i], builders[i])
            USING batch_size;
            GET DIAGNOSTICS n = ROW_COUNT;
            EXIT WHEN n = 0;
            -- a document the row already points to is replaced
            EXECUTE format('DELETE FROM @extschema@.%I c WHERE c._id ='
                           ' ANY (ARRAY(SELECT b.oid FROM pg_temp.ng_migration_batch b))', colls[i]);
            EXECUTE format('INSERT INTO @extschema@.%I (_id, doc)'
                           ' SELECT b.oid, b.doc FROM pg_temp.ng_migration_batch b', colls[i]);
            EXECUTE format('UPDATE @extschema@.%1$I r SET %2$I = b.oid, %3$I = NULL,'
                           ' updated_at = date_trunc(''milliseconds'', now())'
                           ' FROM pg_temp.ng_migration_batch b WHERE r.id = b.id',
                           tabs[i], refs[i], cols[i]);
            COMMIT;
            PERFORM pg_catalog.set_config('search_path', pinned, true);
            done[i] := done[i] + n;
            RAISE NOTICE '%: % of % migrated', names[i], done[i], total[i];
        END LOOP;
    END LOOP;
    DROP TABLE pg_temp.ng_migration_batch;
    -- the migrated recipes' searchable features (recipe_features)
    PERFORM @extschema@.ng_refresh_recipe_features();
    RAISE NOTICE 'migration complete: % recipes, % user profiles', done[1], done[2];
    PERFORM pg_catalog.set_config('search_path', caller_path, true);
END
$fn$;

-- ---------------------------------------------------------------------------
-- The app services of 2.0 (README, "The NutraGenie domain"): the event log,
-- recipe search and edits, accounts and goals, cooking progress, payments,
-- chat, recommendations, roles; sql/app/ holds the same text.
-- ---------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION ng_check_field(obj jsonb, field text, kind text, required boolean, what text)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $$
DECLARE
    v jsonb := obj -> field;
    t text := jsonb_typeof(obj -> field);
BEGIN
    IF v IS NULL OR t = 'null' THEN
        IF required THEN
            RAISE EXCEPTION '% needs the field "%"', what, field
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        RETURN NULL;
    END IF;
    IF kind = 'integer' THEN
        IF t <> 'number' OR v::numeric <> trunc(v::numeric) THEN
            RAISE EXCEPTION 'field "%" of % must be an integer', field, what
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', v);
        END IF;
        -- named here, not as a bare "integer out of range" from a cast later
        IF v::numeric NOT BETWEEN -2147483648 AND 2147483647 THEN
            RAISE EXCEPTION 'field "%" of % is out of range', field, what
                USING ERRCODE = 'numeric_value_out_of_range',
                      DETAIL = format('Got %s; the largest integer is 2147483647.', v);
        END IF;
    ELSIF kind = 'text' THEN
        IF t <> 'string' OR v #>> '{}' = '' THEN
            RAISE EXCEPTION 'field "%" of % must be a non-empty string', field, what
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', v);
        END IF;
    ELSIF kind = 'text_array' THEN
        IF t <> 'array' OR EXISTS (SELECT FROM jsonb_array_elements(v) e WHERE jsonb_typeof(e) <> 'string') THEN
            RAISE EXCEPTION 'field "%" of % must be an array of strings', field, what
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', v);
        END IF;
    ELSIF kind = 'date' THEN
        IF t <> 'string' OR (v #>> '{}') !~ '^\d{4}-\d{2}-\d{2}$' THEN
            RAISE EXCEPTION 'field "%" of % must be a date (YYYY-MM-DD)', field, what
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', v);
        END IF;
        BEGIN
            PERFORM (v #>> '{}')::date;
        EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
            RAISE EXCEPTION 'field "%" of % must be a date (YYYY-MM-DD)', field, what
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', v);
        END;
    ELSIF t <> kind THEN
        RAISE EXCEPTION 'field "%" of % must be a JSON %', field, what, kind
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', v);
    END IF;
    RETURN v;
END
$$;

CREATE OR REPLACE FUNCTION ng_check_keys(obj jsonb, fields text[], what text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
DECLARE
    k text := (SELECT min(x) FROM jsonb_object_keys(obj) x WHERE x <> ALL (fields));
BEGIN
    IF k IS NOT NULL THEN
        RAISE EXCEPTION '% has no field "%"', what, k USING ERRCODE = 'invalid_parameter_value',
            HINT = format('Fields: %s.', array_to_string(fields, ', '));
    END IF;
END
$fn$;

CREATE UNIQUE INDEX users_email_lower_key ON @extschema@.users (lower(email));

-- The error of a unique violation on a user's email (index
-- users_email_lower_key: emails are unique up to case); nothing for
-- another constraint, which the caller raises again.
CREATE FUNCTION ng_email_taken(email text, constraint_name text)
RETURNS void
LANGUAGE plpgsql STABLE CALLED ON NULL INPUT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF constraint_name IN ('users_email_lower_key', 'users_email_key') THEN
        RAISE EXCEPTION 'a user with email "%" already exists', email
            USING ERRCODE = 'unique_violation',
                  DETAIL = 'Field "email" of the user must be unique; emails that differ only by case are the same.';
    END IF;
END
$fn$;

COMMENT ON FUNCTION ng_email_taken(text, text) IS 'raise unique_violation naming field "email" when constraint_name is the unique index of users'' emails; nothing otherwise';

CREATE OR REPLACE FUNCTION ng_create_user("user" jsonb)
RETURNS bigint
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
DECLARE
    what constant text := 'the user';
    u jsonb := "user";
    new_id bigint;
    k text;
    c text;
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    IF jsonb_typeof(u) <> 'object' THEN
        RAISE EXCEPTION 'the user must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM @extschema@.ng_check_field(u, 'email', 'text', true, what);
    IF (u ->> 'email') !~ '^[^@\s]+@[^@\s]+$' THEN
        RAISE EXCEPTION 'field "email" of the user is not an email address'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', u -> 'email');
    END IF;
    -- a password (stored as its bcrypt hash) or a hash made elsewhere
    IF (u ? 'password') = (u ? 'passwordHash') THEN
        RAISE EXCEPTION 'the user needs the field "password" or "passwordHash" (not both)'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM @extschema@.ng_check_field(u, 'passwordHash', 'text', false, what);
    PERFORM @extschema@.ng_check_field(u, 'password', 'text', false, what);
    FOREACH k IN ARRAY ARRAY['nickname', 'firstName', 'lastName'] LOOP
        PERFORM @extschema@.ng_check_field(u, k, 'text', false, what);
    END LOOP;
    PERFORM @extschema@.ng_check_field(u, 'dateOfBirth', 'date', false, what);
    IF @extschema@.ng_check_field(u, 'gender', 'text', false, what) IS NOT NULL
       AND (u ->> 'gender') NOT IN ('female', 'male', 'other', 'unspecified') THEN
        RAISE EXCEPTION 'field "gender" of the user must be one of female, male, other, unspecified'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM @extschema@.ng_check_field(u, 'heightCm', 'number', false, what);
    PERFORM @extschema@.ng_check_field(u, 'weightKg', 'number', false, what);
    PERFORM @extschema@.ng_check_profile(u, what);
    -- a hash made elsewhere must be bcrypt, the only kind ng_verify_login checks
    IF (u ->> 'passwordHash') !~ '^\$2[abxy]\$\d\d\$.{53}$' THEN
        RAISE EXCEPTION 'field "passwordHash" of the user is not a bcrypt hash'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A bcrypt hash looks like $2b$10$ followed by 53 characters; no other kind can log in.',
                  HINT = 'Give the field "password" to have it hashed here.';
    END IF;

    -- the AFTER INSERT trigger turns the profile into the user_profiles
    -- document and clears the column; the unique index on lower(email)
    -- decides between concurrent sign-ups (and sees rows RLS hides)
    BEGIN
        INSERT INTO @extschema@.users (email, password_hash, nickname, first_name, last_name,
                                       date_of_birth, gender, height_cm, weight_kg, profile)
        VALUES (u ->> 'email', coalesce(u ->> 'passwordHash', @extschema@.ng_hash_password(u ->> 'password')), u ->> 'nickname', u ->> 'firstName',
                u ->> 'lastName', (u ->> 'dateOfBirth')::date, u ->> 'gender',
                (u ->> 'heightCm')::numeric, (u ->> 'weightKg')::numeric,
                jsonb_strip_nulls(jsonb_build_object('dietaryProfile', u -> 'dietaryProfile',
                                                     'cookingProfile', u -> 'cookingProfile')))
        RETURNING id INTO new_id;
    EXCEPTION WHEN unique_violation THEN
        GET STACKED DIAGNOSTICS c = CONSTRAINT_NAME;
        PERFORM @extschema@.ng_email_taken(u ->> 'email', c);
        RAISE;
    END;
    RETURN new_id;
END
$fn$;

-- SECURITY DEFINER: the application roles may not write event_log
-- themselves.  While a request acts for a user (ng_app_user()), only the
-- extension's functions and triggers may publish: a direct call is refused.
CREATE OR REPLACE FUNCTION ng_publish(event text, payload jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
DECLARE
    new_id bigint;
    ctx text;
    caller text;
BEGIN
    IF @extschema@.ng_app_user() IS NOT NULL THEN
        -- the innermost function frame under this one; the extension's own
        -- functions print unqualified (this search_path), others qualified
        GET DIAGNOSTICS ctx = PG_CONTEXT;
        SELECT l INTO caller FROM unnest(string_to_array(ctx, E'\n')) WITH ORDINALITY x(l, o)
        WHERE o > 1 AND l ~ '^(PL/pgSQL|SQL) function ' ORDER BY o LIMIT 1;
        IF caller IS NULL OR caller !~ '^(PL/pgSQL|SQL) function ng_[a-z_]+\(' THEN
            RAISE EXCEPTION 'events are published only by the NutraGenie services while a request acts for a user'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END IF;
    -- durable: a row of the event log in the caller's transaction (see
    -- events.sql); and the notification for listeners that are connected
    INSERT INTO @extschema@.event_log (event, payload, user_id)
    VALUES (event, payload, coalesce(CASE WHEN jsonb_typeof(payload -> 'userId') = 'number'
                                          THEN (payload ->> 'userId')::bigint END,
                                     @extschema@.ng_app_user()))
    RETURNING id INTO new_id;
    PERFORM pg_notify('nutragenie_events', (jsonb_build_object('event', event) || payload)::text);
    IF new_id % 1000 = 0 THEN
        PERFORM @extschema@.ng_prune_events();
    END IF;
END
$fn$;

COMMENT ON FUNCTION ng_publish(text, jsonb) IS 'publish a NutraGenie event: a row of event_log in the caller''s transaction (ng_events reads it) and a notification on channel nutragenie_events (delivered at commit, never for a rolled-back transaction)';

COMMENT ON FUNCTION ng_create_user(jsonb) IS 'create a user (email, password or passwordHash, nickname, firstName, lastName, dateOfBirth, gender, heightCm, weightKg) and the profile document (dietaryProfile, cookingProfile, defaults filled in) in one transaction; returns the user id';

CREATE FUNCTION ng_document_pairs()
RETURNS TABLE (tab text, coll text, pointer text, backref text, backref_field text, noun text,
               source text, builder text, migrate_action text, create_action text, label text,
               missing_issue text, mismatch_issue text, orphan_issue text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $$
    VALUES
        ('recipes', 'recipe_content', 'mongodb_recipe_id', 'postgres_id', 'postgresId',
         'recipe', 'content', 'ng_recipe_document',
         'create the content document from recipes.content', 'create a placeholder content document',
         'recipes', 'recipe_without_content', 'recipe_backref_mismatch', 'orphan_recipe_content'),
        ('users', 'user_profiles', 'mongodb_profile_id', 'postgres_user_id', 'postgresUserId',
         'user', 'profile', 'ng_profile_document',
         'create a profile document from users.profile', 'create a profile document with defaults',
         'user profiles', 'user_without_profile', 'profile_backref_mismatch', 'orphan_profile'),
        ('cooking_sessions', 'cooking_session_details', 'mongodb_session_id', 'postgres_session_id',
         'postgresSessionId', 'cooking session', NULL, 'ng_session_document',
         NULL, 'create a detail document from the session row',
         'cooking session details', 'session_without_details', 'session_backref_mismatch',
         'orphan_session_details')
$$;

COMMENT ON FUNCTION ng_document_pairs() IS 'the pairs of a PostgreSQL table and its MongoDB collection (pointer, back-reference, PostgreSQL-first column, document builder), in migration order';

COMMENT ON FUNCTION ng_check_keys(jsonb, text[], text) IS 'invalid_parameter_value naming the first field of a jsonb argument that is not one of fields';

-- ---------------------------------------------------------------------------
-- Events: a durable, bounded log written in the transaction of the change.
-- ---------------------------------------------------------------------------
-- NOTIFY is lost for a listener that is not connected.  Every event the
-- triggers and services publish (ng_publish) is also a row of event_log,
-- inserted by the same transaction, so it exists exactly when the change
-- committed.  Consumers read it from a cursor with ng_events(after).
--
-- Order.  Ids come from a sequence, so a transaction that started earlier can
-- commit an id lower than one a reader has already passed.  The log's order
-- is therefore (xact, id), where xact is the writing transaction's id, and
-- ng_events returns only rows of transactions older than the oldest one
-- still running (pg_snapshot_xmin): no row can later appear before a row
-- already returned.  A long transaction holds the log back until it ends.
--
-- Bound.  ng_prune_events(keep) deletes the oldest rows in that order beyond
-- the newest "keep" (a prefix of the log, so a reader never skips a row
-- silently); ng_publish runs it every 1000 events with the setting
-- nutragenie_app.event_log_size (default 100000).  A cursor that was pruned
-- is an error, so the consumer knows to resynchronise.

CREATE TABLE event_log (
    id      bigserial PRIMARY KEY,
    xact    xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id(),
    at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    event   text NOT NULL,
    payload jsonb NOT NULL,
    user_id bigint
);
CREATE INDEX event_log_order_idx ON @extschema@.event_log (xact, id);
COMMENT ON COLUMN @extschema@.event_log.user_id IS 'the user the event is about (payload userId, else the user the request acted for); per-user isolation shows a user only his events';
COMMENT ON TABLE @extschema@.event_log IS 'the domain''s events, written in the transaction of the change; read them with ng_events(after)';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.event_log', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.event_log_id_seq', '');

CREATE FUNCTION ng_prune_events(keep bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    n bigint;
    cut_xact xid8;
    cut_id bigint;
BEGIN
    keep := coalesce(keep, nullif(current_setting('nutragenie_app.event_log_size', true), '')::bigint, 100000);
    IF keep < 0 THEN
        RAISE EXCEPTION 'keep must not be negative' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- one pruner at a time; the others skip
    IF NOT pg_try_advisory_xact_lock(hashtext('nutragenie.event_log'), 0) THEN
        RETURN 0;
    END IF;
    SELECT e.xact, e.id INTO cut_xact, cut_id
    FROM @extschema@.event_log e
    WHERE e.xact < pg_snapshot_xmin(pg_current_snapshot())
    ORDER BY e.xact DESC, e.id DESC OFFSET keep LIMIT 1;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    DELETE FROM @extschema@.event_log e WHERE (e.xact, e.id) <= (cut_xact, cut_id);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_prune_events(bigint) IS 'delete the oldest events beyond the newest keep (default: setting nutragenie_app.event_log_size, else 100000); returns how many';
REVOKE EXECUTE ON FUNCTION @extschema@.ng_prune_events(bigint) FROM PUBLIC;

CREATE FUNCTION ng_events(after bigint DEFAULT 0, max_events int DEFAULT 100)
RETURNS TABLE (id bigint, at timestamptz, event text, payload jsonb)
LANGUAGE plpgsql STABLE STRICT PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    after_xact xid8 := '0';
BEGIN
    IF max_events NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION 'max_events must be between 1 and 10000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF after <> 0 THEN
        SELECT e.xact INTO after_xact FROM @extschema@.event_log e WHERE e.id = after;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'event % is not in the event log', after
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'It was pruned (the log keeps the newest nutragenie_app.event_log_size events) or never existed: read from 0 and resynchronise.';
        END IF;
    END IF;
    RETURN QUERY
    SELECT e.id, e.at, e.event, e.payload
    FROM @extschema@.event_log e
    WHERE (e.xact, e.id) > (after_xact, after)
      AND e.xact < pg_snapshot_xmin(pg_current_snapshot())
    ORDER BY e.xact, e.id
    LIMIT max_events;
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_events(bigint, int) IS 'the events after the one with id "after" (0: from the start), in log order, at most max_events; only events of finished transactions, so none can later appear before one returned';

-- ---------------------------------------------------------------------------
-- Recipes: diet and allergen rules, searchable features, update, delete,
-- search.
-- ---------------------------------------------------------------------------

-- What a diet or an allergy excludes.  An ingredient conflicts with a rule
-- when its name contains one of the rule's keywords as a word (singular or
-- plural: "egg" matches "eggs", not "eggplant"); a diet may also cap the
-- carbohydrates of a serving.  Conservative on purpose: "peanut butter"
-- counts as butter for lactose.  The table is the application's data
-- (dumped by pg_dump): add rules with INSERT.
CREATE TABLE food_rules (
    kind        text NOT NULL CHECK (kind IN ('diet', 'allergen')),
    name        text NOT NULL CHECK (name = lower(name) AND name <> ''),
    keywords    text[] NOT NULL DEFAULT '{}',
    max_carbs_g numeric CHECK (max_carbs_g >= 0),
    PRIMARY KEY (kind, name)
);
COMMENT ON TABLE @extschema@.food_rules IS 'ingredient keywords (and a carbohydrate cap) that a diet or an allergy excludes; used by ng_search_recipes and ng_recommend_recipes';
INSERT INTO @extschema@.food_rules (kind, name, keywords, max_carbs_g) VALUES
 ('diet', 'omnivore', '{}', NULL),
 ('diet', 'pescatarian', '{chicken,beef,pork,lamb,bacon,ham,turkey,sausage,veal,duck,gelatin}', NULL),
 ('diet', 'vegetarian', '{chicken,beef,pork,lamb,bacon,ham,turkey,sausage,veal,duck,gelatin,salmon,tuna,cod,fish,anchovy,sardine,trout,shrimp,prawn,crab,lobster,mussel,clam,oyster,scallop}', NULL),
 ('diet', 'vegan', '{chicken,beef,pork,lamb,bacon,ham,turkey,sausage,veal,duck,gelatin,salmon,tuna,cod,fish,anchovy,sardine,trout,shrimp,prawn,crab,lobster,mussel,clam,oyster,scallop,egg,milk,cheese,feta,parmesan,mozzarella,butter,cream,yogurt,yoghurt,honey,whey,ghee}', NULL),
 ('diet', 'keto', '{}', 20),
 ('allergen', 'peanuts', '{peanut}', NULL),
 ('allergen', 'gluten', '{wheat,flour,bread,pasta,noodle,ramen,barley,rye,couscous,tortilla,seitan,oats,breadcrumb}', NULL),
 ('allergen', 'lactose', '{milk,cheese,feta,parmesan,mozzarella,butter,cream,yogurt,yoghurt,whey}', NULL),
 ('allergen', 'shellfish', '{shrimp,prawn,crab,lobster,mussel,clam,oyster,scallop}', NULL),
 ('allergen', 'fish', '{salmon,tuna,cod,fish,anchovy,sardine,trout}', NULL),
 ('allergen', 'eggs', '{egg}', NULL),
 ('allergen', 'soy', '{soy,tofu,miso,edamame,tempeh}', NULL),
 ('allergen', 'tree nuts', '{almond,walnut,cashew,pecan,pistachio,hazelnut}', NULL),
 ('allergen', 'sesame', '{sesame,tahini}', NULL);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.food_rules', '');

-- The rules an ingredient list and carbohydrate figure break, as
-- 'diet:<name>' / 'allergen:<name>' keys.
CREATE FUNCTION ng_food_conflicts(ingredients text[], carbs_g double precision)
RETURNS text[]
LANGUAGE sql STABLE CALLED ON NULL INPUT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(array_agg(fr.kind || ':' || fr.name ORDER BY fr.kind, fr.name), '{}')
    FROM @extschema@.food_rules fr
    WHERE (fr.max_carbs_g IS NOT NULL AND carbs_g > fr.max_carbs_g)
       OR EXISTS (SELECT FROM unnest(ingredients) i, unnest(fr.keywords) k
                  WHERE i ~* ('\m' || k || '(s|es)?\M'))
$$;

COMMENT ON FUNCTION @extschema@.ng_food_conflicts(text[], double precision) IS 'the diet and allergen rules (food_rules) that a recipe with these ingredient names and carbohydrates per serving breaks, as diet:<name> and allergen:<name>';

-- The rule keys a user with this diet and these allergies must avoid; an
-- allergy without a rule avoids ingredients named like it.
CREATE FUNCTION ng_food_avoid(diet text, allergies text[])
RETURNS text[]
LANGUAGE sql IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE
AS $$
    SELECT pg_catalog.array_cat(
        CASE WHEN diet IS NOT NULL THEN ARRAY['diet:' OPERATOR(pg_catalog.||) pg_catalog.lower(diet)] ELSE '{}'::pg_catalog.text[] END,
        ARRAY(SELECT 'allergen:' OPERATOR(pg_catalog.||) pg_catalog.lower(a) FROM pg_catalog.unnest(allergies) a))
$$;

COMMENT ON FUNCTION @extschema@.ng_food_avoid(text, text[]) IS 'the food rule keys (diet:<name>, allergen:<name>) a user with this diet type and these allergies avoids';

-- Allergies with no rule of their own: an ingredient named like the allergy.
CREATE FUNCTION ng_unruled_allergen(ingredients text[], allergies text[])
RETURNS text
LANGUAGE sql STABLE CALLED ON NULL INPUT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT min(a) FROM unnest(allergies) a, unnest(ingredients) i
    WHERE NOT EXISTS (SELECT FROM @extschema@.food_rules fr WHERE fr.kind = 'allergen' AND fr.name = lower(a))
      AND i ~* ('\m' || regexp_replace(lower(a), 's$', '') || '(s|es)?\M')
$$;

COMMENT ON FUNCTION @extschema@.ng_unruled_allergen(text[], text[]) IS 'the first allergy without a food rule that an ingredient is named after, NULL if none';

-- Searchable features of each recipe's content, kept in PostgreSQL so that
-- recommendations rank thousands of recipes without reading MongoDB.  A
-- derived copy, like the rating aggregates: ng_create_recipe,
-- ng_update_recipe and ng_seed_demo write it; after writing recipe_content
-- by other means, run ng_refresh_recipe_features().
CREATE TABLE recipe_features (
    recipe_id    bigint PRIMARY KEY REFERENCES @extschema@.recipes ON DELETE CASCADE,
    cuisine      text,
    tags         text[] NOT NULL DEFAULT '{}',
    ingredients  text[] NOT NULL DEFAULT '{}',
    calories     double precision,
    protein_g    double precision,
    carbs_g      double precision,
    fat_g        double precision,
    conflicts    text[] NOT NULL DEFAULT '{}',
    refreshed_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE @extschema@.recipe_features IS 'derived from recipe_content: cuisine, tags, ingredient names, nutrition per serving and the food rules the recipe breaks (ng_refresh_recipe_features)';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.recipe_features', '');

-- Store the features of recipes from their content documents (as jsonb).
CREATE FUNCTION ng_store_recipe_features(recipe_ids bigint[], docs jsonb[])
RETURNS int
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    n int;
BEGIN
    INSERT INTO @extschema@.recipe_features AS f (recipe_id, cuisine, tags, ingredients, calories,
                                                  protein_g, carbs_g, fat_g, conflicts)
    SELECT x.id, x.doc ->> 'cuisine',
           CASE WHEN jsonb_typeof(x.doc -> 'tags') = 'array'
                THEN ARRAY(SELECT lower(t) FROM jsonb_array_elements_text(x.doc -> 'tags') t) ELSE '{}' END,
           ing.names,
           n.calories, n.protein_g, n.carbs_g, n.fat_g,
           @extschema@.ng_food_conflicts(ing.names, n.carbs_g)
    FROM unnest(recipe_ids, docs) x(id, doc)
    CROSS JOIN LATERAL (SELECT CASE WHEN jsonb_typeof(x.doc -> 'ingredients') = 'array'
                                    THEN ARRAY(SELECT lower(e ->> 'name') FROM jsonb_array_elements(x.doc -> 'ingredients') e
                                               WHERE jsonb_typeof(e -> 'name') = 'string')
                                    ELSE '{}' END AS names) ing
    CROSS JOIN LATERAL (SELECT CASE WHEN jsonb_typeof(x.doc #> '{nutrition,calories}') = 'number' THEN (x.doc #>> '{nutrition,calories}')::float8 END AS calories,
                               CASE WHEN jsonb_typeof(x.doc #> '{nutrition,protein_g}') = 'number' THEN (x.doc #>> '{nutrition,protein_g}')::float8 END AS protein_g,
                               CASE WHEN jsonb_typeof(x.doc #> '{nutrition,carbs_g}') = 'number' THEN (x.doc #>> '{nutrition,carbs_g}')::float8 END AS carbs_g,
                               CASE WHEN jsonb_typeof(x.doc #> '{nutrition,fat_g}') = 'number' THEN (x.doc #>> '{nutrition,fat_g}')::float8 END AS fat_g) n
    WHERE x.doc IS NOT NULL AND EXISTS (SELECT FROM @extschema@.recipes r WHERE r.id = x.id)
    ON CONFLICT (recipe_id) DO UPDATE
        SET cuisine = excluded.cuisine, tags = excluded.tags, ingredients = excluded.ingredients,
            calories = excluded.calories, protein_g = excluded.protein_g, carbs_g = excluded.carbs_g,
            fat_g = excluded.fat_g, conflicts = excluded.conflicts, refreshed_at = now();
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_store_recipe_features(bigint[], jsonb[]) IS 'store the recipe_features of recipes from their content documents';

CREATE FUNCTION ng_refresh_recipe_features(recipe_ids bigint[] DEFAULT NULL)
RETURNS int
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    ids bigint[];
    docs jsonb[];
    n int;
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    -- one find: {"_id": {"$in": [...]}} for the recipes asked for, or the
    -- whole collection
    SELECT array_agg(r.id ORDER BY r.id), array_agg(c.doc ORDER BY r.id) INTO ids, docs
    FROM @extschema@.recipes r
    JOIN @extschema@.recipe_content c ON c._id = r.mongodb_recipe_id
    WHERE recipe_ids IS NULL
       OR c._id = ANY (ARRAY(SELECT x.mongodb_recipe_id FROM @extschema@.recipes x
                                              WHERE x.id = ANY (recipe_ids) AND x.mongodb_recipe_id IS NOT NULL));
    n := coalesce(@extschema@.ng_store_recipe_features(ids, docs), 0);
    -- recipes without content have no features
    DELETE FROM @extschema@.recipe_features f
    WHERE (recipe_ids IS NULL OR f.recipe_id = ANY (recipe_ids))
      AND f.recipe_id <> ALL (coalesce(ids, '{}'));
    RETURN n;
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_refresh_recipe_features(bigint[]) IS 'recompute recipe_features from the content documents of these recipes (all when NULL); returns the number stored';

-- Check the fields of a recipe given to ng_create_recipe (partial false) or
-- ng_update_recipe (partial true: only those present, JSON null clears an
-- optional one); returns the content fields normalised as they are stored
-- (steps numbered objects).  Errors name the field.
CREATE FUNCTION ng_check_recipe(recipe jsonb, partial boolean)
RETURNS jsonb
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    what constant text := 'the recipe';
    difficulty int;
    creator bigint;
    steps jsonb;
    ingredients jsonb;
    nutrition jsonb;
    k text;
BEGIN
    IF jsonb_typeof(recipe) <> 'object' THEN
        RAISE EXCEPTION 'the recipe must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF partial THEN
        PERFORM @extschema@.ng_check_keys(recipe, ARRAY['title', 'category', 'difficultyLevel', 'prepTimeMinutes',
            'cookTimeMinutes', 'servings', 'createdBy', 'description', 'cuisine', 'ingredients', 'steps',
            'nutrition', 'tags'], what);
        FOREACH k IN ARRAY ARRAY['title', 'category'] LOOP
            IF recipe ? k AND jsonb_typeof(recipe -> k) = 'null' THEN
                RAISE EXCEPTION 'field "%" of the recipe cannot be null', k USING ERRCODE = 'invalid_parameter_value';
            END IF;
        END LOOP;
    END IF;
    PERFORM @extschema@.ng_check_field(recipe, 'title', 'text', NOT partial, what);
    PERFORM @extschema@.ng_check_field(recipe, 'category', 'text', false, what);
    PERFORM @extschema@.ng_check_field(recipe, 'description', 'text', false, what);
    PERFORM @extschema@.ng_check_field(recipe, 'cuisine', 'text', false, what);
    PERFORM @extschema@.ng_check_field(recipe, 'tags', 'text_array', false, what);
    difficulty := @extschema@.ng_check_field(recipe, 'difficultyLevel', 'integer', false, what);
    IF difficulty NOT BETWEEN 1 AND 5 THEN
        RAISE EXCEPTION 'field "difficultyLevel" of the recipe must be between 1 and 5'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', difficulty);
    END IF;
    FOREACH k IN ARRAY ARRAY['prepTimeMinutes', 'cookTimeMinutes'] LOOP
        IF (@extschema@.ng_check_field(recipe, k, 'integer', false, what))::int < 0 THEN
            RAISE EXCEPTION 'field "%" of the recipe must not be negative', k
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', recipe -> k);
        END IF;
    END LOOP;
    IF (@extschema@.ng_check_field(recipe, 'servings', 'integer', false, what))::int < 1 THEN
        RAISE EXCEPTION 'field "servings" of the recipe must be at least 1'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', recipe -> 'servings');
    END IF;
    creator := @extschema@.ng_check_field(recipe, 'createdBy', 'integer', false, what);
    IF creator IS NOT NULL AND NOT EXISTS (SELECT FROM @extschema@.users u WHERE u.id = creator) THEN
        RAISE EXCEPTION 'user % does not exist', creator USING ERRCODE = 'no_data_found';
    END IF;
    ingredients := coalesce(@extschema@.ng_check_field(recipe, 'ingredients', 'array', false, what), '[]');
    IF EXISTS (SELECT FROM jsonb_array_elements(ingredients) e
               WHERE jsonb_typeof(e) <> 'object' OR jsonb_typeof(e -> 'name') IS DISTINCT FROM 'string') THEN
        RAISE EXCEPTION 'field "ingredients" of the recipe must be an array of objects with a "name"'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- steps: strings or objects with an "instruction"; stored as objects
    -- numbered from 1
    steps := coalesce(@extschema@.ng_check_field(recipe, 'steps', 'array', false, what), '[]');
    IF EXISTS (SELECT FROM jsonb_array_elements(steps) e
               WHERE jsonb_typeof(e) <> 'string'
                 AND (jsonb_typeof(e) <> 'object' OR jsonb_typeof(e -> 'instruction') IS DISTINCT FROM 'string')) THEN
        RAISE EXCEPTION 'field "steps" of the recipe must be an array of strings or of objects with an "instruction"'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT coalesce(jsonb_agg(CASE WHEN jsonb_typeof(e) = 'string'
                                   THEN jsonb_build_object('order', i, 'instruction', e)
                                   ELSE jsonb_build_object('order', i) || e END ORDER BY i), '[]')
    INTO steps FROM jsonb_array_elements(steps) WITH ORDINALITY s(e, i);
    nutrition := coalesce(@extschema@.ng_check_field(recipe, 'nutrition', 'object', false, what), '{}');
    IF EXISTS (SELECT FROM jsonb_each(nutrition) n WHERE jsonb_typeof(n.value) <> 'number') THEN
        RAISE EXCEPTION 'field "nutrition" of the recipe must map names to numbers'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN jsonb_build_object('ingredients', ingredients, 'steps', steps, 'nutrition', nutrition,
                              'tags', coalesce(nullif(recipe -> 'tags', 'null'), '[]'));
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_check_recipe(jsonb, boolean) IS 'check the fields of a recipe (all required ones, or only those present when partial) and return its content fields normalised; invalid_parameter_value naming the field otherwise';

CREATE FUNCTION ng_update_recipe(recipe_id bigint, changes jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r @extschema@.recipes;
    norm jsonb;
    doc_sets text[] := '{}';
    k text;
    n int;
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    norm := @extschema@.ng_check_recipe(changes, true);
    SELECT * INTO r FROM @extschema@.recipes x WHERE x.id = recipe_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'recipe % does not exist', recipe_id USING ERRCODE = 'no_data_found';
    END IF;

    UPDATE @extschema@.recipes x SET
        title = CASE WHEN changes ? 'title' THEN changes ->> 'title' ELSE x.title END,
        category = CASE WHEN changes ? 'category' THEN changes ->> 'category' ELSE x.category END,
        difficulty_level = CASE WHEN changes ? 'difficultyLevel'
                                THEN coalesce((changes ->> 'difficultyLevel')::int, 1) ELSE x.difficulty_level END,
        prep_time_minutes = CASE WHEN changes ? 'prepTimeMinutes' THEN (changes ->> 'prepTimeMinutes')::int ELSE x.prep_time_minutes END,
        cook_time_minutes = CASE WHEN changes ? 'cookTimeMinutes' THEN (changes ->> 'cookTimeMinutes')::int ELSE x.cook_time_minutes END,
        servings = CASE WHEN changes ? 'servings' THEN (changes ->> 'servings')::int ELSE x.servings END,
        created_by = CASE WHEN changes ? 'createdBy' THEN (changes ->> 'createdBy')::bigint ELSE x.created_by END,
        updated_at = date_trunc('milliseconds', now())
    WHERE x.id = r.id;

    -- the content fields present, each set with its absolute value
    -- ($set; a JSON null stores null)
    FOREACH k IN ARRAY ARRAY['title', 'description', 'cuisine', 'ingredients', 'steps', 'nutrition', 'tags'] LOOP
        IF changes ? k THEN
            doc_sets := doc_sets || format('%I = %s', k,
                CASE k WHEN 'title' THEN '$2 ->> ''title'''
                       WHEN 'description' THEN '$2 ->> ''description'''
                       WHEN 'cuisine' THEN '$2 ->> ''cuisine'''
                       WHEN 'tags' THEN 'ARRAY(SELECT pg_catalog.jsonb_array_elements_text($3 -> ''tags''))'
                       ELSE format('$3 -> %L', k) END);
        END IF;
    END LOOP;
    IF doc_sets <> '{}' THEN
        IF r.mongodb_recipe_id IS NULL THEN
            RAISE EXCEPTION 'recipe % has no content document', r.id
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Run nutragenie.ng_repair_consistency(false).';
        END IF;
        EXECUTE format('UPDATE @extschema@.recipe_content SET %s, updated_at = pg_catalog.date_trunc(''milliseconds'', pg_catalog.now()) '
                       'WHERE _id = $1', array_to_string(doc_sets, ', '))
            USING r.mongodb_recipe_id, changes, norm;
        GET DIAGNOSTICS n = ROW_COUNT;
        IF n = 0 THEN
            RAISE EXCEPTION 'the content document of recipe % is missing', r.id
                USING ERRCODE = 'no_data_found', HINT = 'Run nutragenie.ng_repair_consistency(false).';
        END IF;
        PERFORM @extschema@.ng_store_recipe_features(ARRAY[r.id],
            ARRAY[(SELECT c.doc FROM @extschema@.recipe_content c WHERE c._id = r.mongodb_recipe_id)]);
    END IF;
    PERFORM @extschema@.ng_publish('recipe.updated', jsonb_build_object(
        'recipeId', r.id, 'fields', (SELECT jsonb_agg(x ORDER BY x) FROM jsonb_object_keys(changes) x)));
    RETURN @extschema@.ng_full_recipe(r.id);
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_update_recipe(bigint, jsonb) IS 'change some fields of a recipe (those of ng_create_recipe; JSON null clears an optional one): the PostgreSQL row and the MongoDB content document in the caller''s transaction; returns the recipe as ng_full_recipe gives it';

CREATE FUNCTION ng_delete_recipe(recipe_id bigint)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r @extschema@.recipes;
    nsessions bigint;
    nratings bigint;
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    SELECT * INTO r FROM @extschema@.recipes x WHERE x.id = recipe_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'recipe % does not exist', recipe_id USING ERRCODE = 'no_data_found';
    END IF;
    SELECT count(*) INTO nsessions FROM @extschema@.cooking_sessions s WHERE s.recipe_id = r.id;
    SELECT count(*) INTO nratings FROM @extschema@.recipe_ratings rr WHERE rr.recipe_id = r.id;
    -- the triggers delete the content document, the sessions' detail
    -- documents and recompute the raters' statistics
    DELETE FROM @extschema@.recipes x WHERE x.id = r.id;
    RETURN jsonb_build_object('recipeId', r.id, 'title', r.title, 'cookingSessions', nsessions, 'ratings', nratings);
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_delete_recipe(bigint) IS 'delete a recipe with its content document, ratings and cooking sessions (and their documents) in the caller''s transaction; returns what went';

-- Search.  Conditions on the content (title prefix, cuisine, calories) go
-- into the MongoDB find of recipe_content; the category and difficulty are
-- checked in PostgreSQL; tags, diet and allergies need the arrays of the
-- documents found and are checked on them (the FDW keeps array conditions
-- local).
CREATE FUNCTION ng_search_recipes(query jsonb DEFAULT '{}', lim int DEFAULT 20)
RETURNS TABLE (recipe_id bigint, title text, category text, cuisine text, calories double precision,
               tags text[], average_rating numeric, rating_count int)
LANGUAGE plpgsql STABLE STRICT PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    what constant text := 'the query';
    conds text[] := '{}';
    avoid text[];
    want_diet text;
    want_allergies text[];
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    IF jsonb_typeof(query) <> 'object' THEN
        RAISE EXCEPTION 'the query must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF lim NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'lim must be between 1 and 1000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM @extschema@.ng_check_keys(query, ARRAY['text', 'cuisine', 'category', 'tag', 'maxCalories', 'maxDifficulty',
                                                   'diet', 'excludeAllergens', 'forUser'], what);
    PERFORM @extschema@.ng_check_field(query, 'text', 'text', false, what);
    PERFORM @extschema@.ng_check_field(query, 'cuisine', 'text', false, what);
    PERFORM @extschema@.ng_check_field(query, 'category', 'text', false, what);
    PERFORM @extschema@.ng_check_field(query, 'tag', 'text', false, what);
    PERFORM @extschema@.ng_check_field(query, 'maxCalories', 'number', false, what);
    PERFORM @extschema@.ng_check_field(query, 'maxDifficulty', 'integer', false, what);
    PERFORM @extschema@.ng_check_field(query, 'diet', 'text', false, what);
    PERFORM @extschema@.ng_check_field(query, 'excludeAllergens', 'text_array', false, what);
    want_diet := query ->> 'diet';
    want_allergies := ARRAY(SELECT jsonb_array_elements_text(coalesce(query -> 'excludeAllergens', '[]')));
    IF @extschema@.ng_check_field(query, 'forUser', 'integer', false, what) IS NOT NULL THEN
        SELECT coalesce(want_diet, p.diet_type), want_allergies || coalesce(p.allergies, '{}') INTO want_diet, want_allergies
        FROM @extschema@.users u
        JOIN @extschema@.user_profiles p ON p._id = u.mongodb_profile_id
        WHERE u.id = (query ->> 'forUser')::bigint AND @extschema@.ng_acting_for(u.id);
        IF NOT FOUND THEN
            RAISE EXCEPTION 'user % does not exist or has no profile', query ->> 'forUser' USING ERRCODE = 'no_data_found';
        END IF;
    END IF;
    IF want_diet IS NOT NULL AND NOT EXISTS (SELECT FROM @extschema@.food_rules fr WHERE fr.kind = 'diet' AND fr.name = lower(want_diet)) THEN
        RAISE EXCEPTION 'field "diet" of the query is not a known diet' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('Got "%s".', want_diet),
            HINT = 'Diets are the rows of nutragenie.food_rules with kind ''diet''.';
    END IF;
    avoid := @extschema@.ng_food_avoid(want_diet, want_allergies);

    -- pushed to MongoDB
    IF query ? 'text' THEN
        conds := array_append(conds, 'c.title LIKE (pg_catalog.replace(pg_catalog.replace(pg_catalog.replace($1 ->> ''text'', ''\'', ''\\''), ''%'', ''\%''), ''_'', ''\_'') OPERATOR(pg_catalog.||) ''%'')');
    END IF;
    IF query ? 'cuisine' THEN
        conds := array_append(conds, 'c.cuisine OPERATOR(pg_catalog.=) ($1 ->> ''cuisine'')');
    END IF;
    IF query ? 'maxCalories' THEN
        conds := array_append(conds, 'c.calories OPERATOR(pg_catalog.<=) ($1 ->> ''maxCalories'')::pg_catalog.float8');
    END IF;
    -- PostgreSQL
    IF query ? 'category' THEN
        conds := array_append(conds, 'r.category OPERATOR(pg_catalog.=) ($1 ->> ''category'')');
    END IF;
    IF query ? 'maxDifficulty' THEN
        conds := array_append(conds, 'r.difficulty_level OPERATOR(pg_catalog.<=) ($1 ->> ''maxDifficulty'')::pg_catalog.int4');
    END IF;
    -- on the documents found
    IF query ? 'tag' THEN
        conds := array_append(conds, 'pg_catalog.lower($1 ->> ''tag'') OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT pg_catalog.lower(t) FROM pg_catalog.unnest(c.tags) t))');
    END IF;
    IF avoid <> '{}' THEN
        conds := array_append(conds, 'NOT (@extschema@.ng_food_conflicts(i.names, c.carbs_g) OPERATOR(pg_catalog.&&) $2)'
                       || ' AND @extschema@.ng_unruled_allergen(i.names, $3) IS NULL');
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT r.id, r.title, r.category, c.cuisine, c.calories, c.tags, r.average_rating, r.rating_count '
        'FROM @extschema@.recipe_content c '
        'JOIN @extschema@.recipes r ON r.mongodb_recipe_id = c._id '
        'CROSS JOIN LATERAL (SELECT ARRAY(SELECT pg_catalog.lower(e ->> ''name'') '
        '                                 FROM pg_catalog.jsonb_array_elements(CASE WHEN pg_catalog.jsonb_typeof(c.ingredients) OPERATOR(pg_catalog.=) ''array'' '
        '                                                                      THEN c.ingredients ELSE ''[]'' END) e) AS names) i '
        'WHERE %s '
        'ORDER BY r.average_rating DESC NULLS LAST, r.rating_count DESC, r.id LIMIT %s',
        coalesce(nullif(array_to_string(conds, ' AND '), ''), 'true'), lim)
    USING query, avoid, want_allergies;
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_search_recipes(jsonb, int) IS 'recipes by title prefix (text), cuisine, category, tag, maxCalories, maxDifficulty, diet and excludeAllergens (or the diet and allergies of forUser), best rated first; title, cuisine and calories are filtered by MongoDB';

-- ---------------------------------------------------------------------------
-- Users: profile updates, passwords and logins, nutrition goals.
-- ---------------------------------------------------------------------------

-- The profile document of a user (through the document cache), NULL when
-- the user or the document is missing.
CREATE FUNCTION ng_user_profile(user_id bigint)
RETURNS jsonb
LANGUAGE sql STABLE STRICT PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT nutragenie_fdw.cached_document(a.server, a.database, 'user_profiles',
                                    jsonb_build_object('$oid', u.mongodb_profile_id::text))
    FROM @extschema@.users u, @extschema@.mongo_attachment a
    WHERE u.id = user_id AND u.mongodb_profile_id IS NOT NULL
$$;

COMMENT ON FUNCTION @extschema@.ng_user_profile(bigint) IS 'the user_profiles document of a user (through the document cache); NULL when the user or the document is missing';

-- Check the dietaryProfile / cookingProfile given to ng_create_user or
-- ng_update_user: the known keys have the right kind, other keys are kept.
CREATE FUNCTION ng_check_profile(u jsonb, what text)
RETURNS void
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    d jsonb := @extschema@.ng_check_field(u, 'dietaryProfile', 'object', false, what);
    c jsonb := @extschema@.ng_check_field(u, 'cookingProfile', 'object', false, what);
    k text;
BEGIN
    IF d IS NOT NULL THEN
        PERFORM @extschema@.ng_check_field(d, 'dietType', 'text', false, 'dietaryProfile');
        PERFORM @extschema@.ng_check_field(d, 'allergies', 'text_array', false, 'dietaryProfile');
        PERFORM @extschema@.ng_check_field(d, 'restrictions', 'text_array', false, 'dietaryProfile');
        IF (@extschema@.ng_check_field(d, 'calorieTarget', 'integer', false, 'dietaryProfile'))::int NOT BETWEEN 500 AND 10000 THEN
            RAISE EXCEPTION 'field "calorieTarget" of dietaryProfile must be between 500 and 10000'
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', d -> 'calorieTarget');
        END IF;
    END IF;
    IF c IS NOT NULL THEN
        IF @extschema@.ng_check_field(c, 'skillLevel', 'text', false, 'cookingProfile') IS NOT NULL
           AND (c ->> 'skillLevel') NOT IN ('beginner', 'intermediate', 'advanced') THEN
            RAISE EXCEPTION 'field "skillLevel" of cookingProfile must be one of beginner, intermediate, advanced'
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', c -> 'skillLevel');
        END IF;
        FOREACH k IN ARRAY ARRAY['favoriteCuisines', 'equipment'] LOOP
            PERFORM @extschema@.ng_check_field(c, k, 'text_array', false, 'cookingProfile');
        END LOOP;
        PERFORM @extschema@.ng_check_field(c, 'preferredChef', 'text', false, 'cookingProfile');
    END IF;
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_check_profile(jsonb, text) IS 'check the dietaryProfile and cookingProfile fields of a user argument; invalid_parameter_value naming the field otherwise';

CREATE FUNCTION ng_update_user(user_id bigint, changes jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    what constant text := 'the user';
    u @extschema@.users;
    k text;
    n int;
    p jsonb;
    c text;
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    IF jsonb_typeof(changes) <> 'object' THEN
        RAISE EXCEPTION 'the user must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF changes ? 'password' OR changes ? 'passwordHash' THEN
        RAISE EXCEPTION 'the user has no field "%"', CASE WHEN changes ? 'password' THEN 'password' ELSE 'passwordHash' END
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Change a password with nutragenie.ng_set_password(user_id, password).';
    END IF;
    PERFORM @extschema@.ng_check_keys(changes, ARRAY['email', 'nickname', 'firstName', 'lastName', 'dateOfBirth', 'gender',
                                                     'heightCm', 'weightKg', 'dietaryProfile', 'cookingProfile'], what);
    IF changes ? 'email' THEN
        PERFORM @extschema@.ng_check_field(changes, 'email', 'text', true, what);
        IF (changes ->> 'email') !~ '^[^@\s]+@[^@\s]+$' THEN
            RAISE EXCEPTION 'field "email" of the user is not an email address'
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', changes -> 'email');
        END IF;
    END IF;
    FOREACH k IN ARRAY ARRAY['nickname', 'firstName', 'lastName'] LOOP
        PERFORM @extschema@.ng_check_field(changes, k, 'text', false, what);
    END LOOP;
    PERFORM @extschema@.ng_check_field(changes, 'dateOfBirth', 'date', false, what);
    IF @extschema@.ng_check_field(changes, 'gender', 'text', false, what) IS NOT NULL
       AND (changes ->> 'gender') NOT IN ('female', 'male', 'other', 'unspecified') THEN
        RAISE EXCEPTION 'field "gender" of the user must be one of female, male, other, unspecified'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF (@extschema@.ng_check_field(changes, 'heightCm', 'number', false, what))::numeric NOT BETWEEN 1 AND 299 THEN
        RAISE EXCEPTION 'field "heightCm" of the user must be between 1 and 299'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', changes -> 'heightCm');
    END IF;
    IF (@extschema@.ng_check_field(changes, 'weightKg', 'number', false, what))::numeric NOT BETWEEN 1 AND 699 THEN
        RAISE EXCEPTION 'field "weightKg" of the user must be between 1 and 699'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', changes -> 'weightKg');
    END IF;
    PERFORM @extschema@.ng_check_profile(changes, what);

    SELECT * INTO u FROM @extschema@.users x WHERE x.id = user_id AND @extschema@.ng_acting_for(x.id) FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'user % does not exist', user_id USING ERRCODE = 'no_data_found';
    END IF;
    -- the unique index on lower(email) decides (it sees the rows RLS hides)
    BEGIN
        UPDATE @extschema@.users x SET
            email = CASE WHEN changes ? 'email' THEN changes ->> 'email' ELSE x.email END,
            nickname = CASE WHEN changes ? 'nickname' THEN changes ->> 'nickname' ELSE x.nickname END,
            first_name = CASE WHEN changes ? 'firstName' THEN changes ->> 'firstName' ELSE x.first_name END,
            last_name = CASE WHEN changes ? 'lastName' THEN changes ->> 'lastName' ELSE x.last_name END,
            date_of_birth = CASE WHEN changes ? 'dateOfBirth' THEN (changes ->> 'dateOfBirth')::date ELSE x.date_of_birth END,
            gender = CASE WHEN changes ? 'gender' THEN changes ->> 'gender' ELSE x.gender END,
            height_cm = CASE WHEN changes ? 'heightCm' THEN (changes ->> 'heightCm')::numeric ELSE x.height_cm END,
            weight_kg = CASE WHEN changes ? 'weightKg' THEN (changes ->> 'weightKg')::numeric ELSE x.weight_kg END,
            updated_at = date_trunc('milliseconds', now())
        WHERE x.id = u.id;
    EXCEPTION WHEN unique_violation THEN
        GET STACKED DIAGNOSTICS c = CONSTRAINT_NAME;
        PERFORM @extschema@.ng_email_taken(changes ->> 'email', c);
        RAISE;
    END;

    -- the profile: the keys given replace those of the document, the others stay
    IF changes ? 'dietaryProfile' OR changes ? 'cookingProfile' THEN
        SELECT p2.doc INTO p FROM @extschema@.user_profiles p2 WHERE p2._id = u.mongodb_profile_id;
        IF u.mongodb_profile_id IS NULL OR p IS NULL THEN
            RAISE EXCEPTION 'the profile document of user % is missing', u.id
                USING ERRCODE = 'no_data_found', HINT = 'Run nutragenie.ng_repair_consistency(false).';
        END IF;
        UPDATE @extschema@.user_profiles p2 SET
            dietary_profile = coalesce(p -> 'dietaryProfile', '{}') || coalesce(changes -> 'dietaryProfile', '{}'),
            cooking_profile = coalesce(p -> 'cookingProfile', '{}') || coalesce(changes -> 'cookingProfile', '{}'),
            updated_at = date_trunc('milliseconds', now())
        WHERE p2._id = u.mongodb_profile_id;
        GET DIAGNOSTICS n = ROW_COUNT;
    END IF;
    PERFORM @extschema@.ng_publish('user.updated', jsonb_build_object(
        'userId', u.id, 'fields', (SELECT jsonb_agg(x ORDER BY x) FROM jsonb_object_keys(changes) x)));
    RETURN @extschema@.ng_user_full_profile(u.id);
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_update_user(bigint, jsonb) IS 'change some fields of a user (those of ng_create_user but the password; JSON null clears an optional one) and merge dietaryProfile / cookingProfile keys into the profile document, in the caller''s transaction; returns ng_user_full_profile';

-- Passwords: bcrypt through pgcrypto (crypt, gen_salt('bf')).

-- crypt(password, setting) of pgcrypto, in whichever schema it was
-- installed (PostgreSQL 15 has no @extschema:pgcrypto@); a new bcrypt salt
-- (cost 10) when setting is NULL.
CREATE FUNCTION ng_crypt(password text, setting text)
RETURNS text
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL SAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
DECLARE
    crypto name := (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
                    WHERE e.extname = 'pgcrypto');
    h text;
BEGIN
    IF crypto IS NULL THEN
        RAISE EXCEPTION 'extension "pgcrypto" is not installed' USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    EXECUTE format('SELECT %1$I.crypt($1, coalesce($2, %1$I.gen_salt(''bf'', 10)))', crypto)
        INTO h USING password, setting;
    RETURN h;
END
$fn$;

COMMENT ON FUNCTION ng_crypt(text, text) IS 'pgcrypto''s crypt() of a password with a hash or salt setting, or with a new bcrypt salt (cost 10) when the setting is NULL';
CREATE FUNCTION ng_hash_password(password text)
RETURNS text
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF password IS NULL OR length(password) < 8 THEN
        RAISE EXCEPTION 'a password must have at least 8 characters' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF octet_length(password) > 72 THEN
        RAISE EXCEPTION 'a password must have at most 72 bytes' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = 'bcrypt ignores what follows the 72nd byte.';
    END IF;
    RETURN @extschema@.ng_crypt(password, NULL);
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_hash_password(text) IS 'a bcrypt hash of a password (pgcrypto crypt() with gen_salt(''bf'', 10)); 8 characters to 72 bytes';

CREATE FUNCTION ng_set_password(user_id bigint, password text)
RETURNS void
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    h text := @extschema@.ng_hash_password(password);
BEGIN
    UPDATE @extschema@.users u SET password_hash = h, updated_at = date_trunc('milliseconds', now())
    WHERE u.id = user_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'user % does not exist', user_id USING ERRCODE = 'no_data_found';
    END IF;
    PERFORM @extschema@.ng_publish('user.password_changed', jsonb_build_object('userId', user_id));
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_set_password(bigint, text) IS 'store a bcrypt hash of a new password for a user';

CREATE FUNCTION ng_verify_login(email text, password text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    uid bigint;
    h text;
BEGIN
    -- exactly one user (the unique index on lower(email) makes it so)
    SELECT u.id, u.password_hash INTO uid, h FROM @extschema@.users u
    WHERE lower(u.email) = lower(ng_verify_login.email)
      AND (SELECT count(*) FROM @extschema@.users x WHERE lower(x.email) = lower(ng_verify_login.email)) = 1;
    IF uid IS NULL OR h IS NULL OR h !~ '^\$2[abxy]\$\d\d\$' THEN
        -- as costly as checking a password: an unknown email takes as long
        -- as a wrong password
        PERFORM @extschema@.ng_crypt(coalesce(password, ''), NULL);
        RETURN NULL;
    END IF;
    IF password IS NOT NULL AND @extschema@.ng_crypt(password, h) = h THEN
        RETURN uid;
    END IF;
    RETURN NULL;
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_verify_login(text, text) IS 'the id of the user with this email (case-insensitive) whose bcrypt password hash matches the password; NULL otherwise (unknown email, wrong password, or a hash that is not bcrypt)';

-- Nutrition goals.
CREATE FUNCTION ng_set_nutrition_goal(user_id bigint, goal jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    what constant text := 'the goal';
    k text;
    since date;
    next_from date;
BEGIN
    IF jsonb_typeof(goal) <> 'object' THEN
        RAISE EXCEPTION 'the goal must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM @extschema@.ng_check_keys(goal, ARRAY['calories', 'proteinG', 'carbsG', 'fatG', 'validFrom'], what);
    IF (@extschema@.ng_check_field(goal, 'calories', 'integer', true, what))::int NOT BETWEEN 500 AND 10000 THEN
        RAISE EXCEPTION 'field "calories" of the goal must be between 500 and 10000'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', goal -> 'calories');
    END IF;
    FOREACH k IN ARRAY ARRAY['proteinG', 'carbsG', 'fatG'] LOOP
        IF (@extschema@.ng_check_field(goal, k, 'number', false, what))::numeric NOT BETWEEN 0 AND 99999 THEN
            RAISE EXCEPTION 'field "%" of the goal must be between 0 and 99999', k
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', goal -> k);
        END IF;
    END LOOP;
    since := coalesce((@extschema@.ng_check_field(goal, 'validFrom', 'date', false, what) #>> '{}')::date, current_date);
    -- serialises goal changes of one user
    PERFORM FROM @extschema@.users u WHERE u.id = user_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'user % does not exist', user_id USING ERRCODE = 'no_data_found';
    END IF;
    -- the goal in force before ends the day before; a later goal ends this one
    UPDATE @extschema@.nutrition_goals g SET valid_to = since - 1
    WHERE g.user_id = ng_set_nutrition_goal.user_id AND g.valid_from < since
      AND (g.valid_to IS NULL OR g.valid_to >= since);
    SELECT min(g.valid_from) INTO next_from FROM @extschema@.nutrition_goals g
    WHERE g.user_id = ng_set_nutrition_goal.user_id AND g.valid_from > since;
    INSERT INTO @extschema@.nutrition_goals AS g (user_id, calories, protein_g, carbs_g, fat_g, valid_from, valid_to)
    VALUES (user_id, (goal ->> 'calories')::int, (goal ->> 'proteinG')::numeric, (goal ->> 'carbsG')::numeric,
            (goal ->> 'fatG')::numeric, since, next_from - 1)
    ON CONFLICT ON CONSTRAINT nutrition_goals_user_id_valid_from_key DO UPDATE
        SET calories = excluded.calories, protein_g = excluded.protein_g, carbs_g = excluded.carbs_g,
            fat_g = excluded.fat_g, valid_to = excluded.valid_to;
    PERFORM @extschema@.ng_publish('goal.set', jsonb_build_object('userId', user_id, 'validFrom', since));
    RETURN @extschema@.ng_nutrition_goal(user_id, since);
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_set_nutrition_goal(bigint, jsonb) IS 'set a user''s daily goal (calories 500 to 10000, proteinG, carbsG, fatG) from validFrom (default today): the goal in force before ends the day before; returns the goal';

CREATE FUNCTION ng_nutrition_goal(user_id bigint, on_date date DEFAULT current_date)
RETURNS jsonb
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object('userId', g.user_id, 'calories', g.calories, 'proteinG', g.protein_g,
                              'carbsG', g.carbs_g, 'fatG', g.fat_g, 'validFrom', g.valid_from, 'validTo', g.valid_to)
    FROM @extschema@.nutrition_goals g
    WHERE g.user_id = $1 AND g.valid_from <= $2 AND (g.valid_to IS NULL OR g.valid_to >= $2)
    ORDER BY g.valid_from DESC LIMIT 1
$$;

COMMENT ON FUNCTION @extschema@.ng_nutrition_goal(bigint, date) IS 'the goal of a user in force on a date (default today); NULL when none';

-- ---------------------------------------------------------------------------
-- Cooking sessions: ending (complete or abandon), a user's sessions,
-- progress.
-- ---------------------------------------------------------------------------

-- End an active session as 'completed' or 'abandoned': status, end time and
-- the counts on the row, the summary and status in the document.  The total
-- is never below the highest step completed (a recipe without steps, or
-- steps added since the session started).
CREATE FUNCTION ng_end_cooking_session(session_id bigint, status text, reason text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s @extschema@.cooking_sessions;
    d record;
    stats jsonb;
    done int;
    total int;
    ended timestamptz := now();
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    IF session_id IS NULL THEN
        RAISE EXCEPTION 'session_id must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO s FROM @extschema@.cooking_sessions x
    WHERE x.id = session_id AND @extschema@.ng_acting_for(x.user_id) FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'cooking session % does not exist', session_id USING ERRCODE = 'no_data_found';
    END IF;
    IF s.status <> 'active' THEN
        RAISE EXCEPTION 'cooking session % is already %', session_id, s.status
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    SELECT x.voice_interactions, x.step_progress, x.session_metadata INTO d
    FROM @extschema@.cooking_session_details x WHERE x._id = s.mongodb_session_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the detail document of cooking session % is missing', session_id
            USING ERRCODE = 'no_data_found', HINT = 'Run nutragenie.ng_repair_consistency(false).';
    END IF;
    done := coalesce(jsonb_array_length(d.step_progress), 0);
    total := greatest(s.total_steps,
                      coalesce((SELECT max((e ->> 'step')::int) FROM jsonb_array_elements(d.step_progress) e
                                WHERE jsonb_typeof(e -> 'step') = 'number'), 0));
    stats := jsonb_strip_nulls(jsonb_build_object(
        'status', status,
        'durationSeconds', extract(epoch FROM ended - s.started_at)::int,
        'voiceInteractions', coalesce(jsonb_array_length(d.voice_interactions), 0),
        'stepsCompleted', done,
        'totalSteps', total,
        'completionRate', CASE WHEN total > 0 THEN round(done::numeric / total, 2) END,
        'reason', reason));
    UPDATE @extschema@.cooking_sessions x
    SET status = ng_end_cooking_session.status, ended_at = ended,
        duration_seconds = (stats ->> 'durationSeconds')::int,
        steps_completed = done, total_steps = total,
        voice_interactions = (stats ->> 'voiceInteractions')::int, updated_at = date_trunc('milliseconds', now())
    WHERE x.id = s.id;
    UPDATE @extschema@.cooking_session_details x
    SET summary = stats - 'status',
        session_metadata = coalesce(d.session_metadata, '{}')
            || jsonb_build_object('status', status, 'totalSteps', total, 'endedAt', @extschema@.ng_bson_date(ended)),
        updated_at = date_trunc('milliseconds', now())
    WHERE x._id = s.mongodb_session_id;
    PERFORM @extschema@.ng_refresh_behavior(ARRAY[s.user_id]);
    RETURN jsonb_build_object('sessionId', s.id) || (stats - 'status');
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_end_cooking_session(bigint, text, text) IS 'end an active cooking session as completed or abandoned (used by ng_finish_cooking_session and ng_abandon_cooking_session)';

CREATE OR REPLACE FUNCTION ng_finish_cooking_session(session_id bigint)
RETURNS jsonb
LANGUAGE sql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@.ng_end_cooking_session($1, 'completed', NULL) $$;

COMMENT ON FUNCTION ng_finish_cooking_session(bigint) IS 'complete an active cooking session: status, end time and summary statistics in PostgreSQL, the summary in its MongoDB document; returns the summary (the total of steps is never below the steps completed)';

CREATE FUNCTION ng_abandon_cooking_session(session_id bigint, reason text DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@.ng_end_cooking_session($1, 'abandoned', $2) $$;

COMMENT ON FUNCTION @extschema@.ng_abandon_cooking_session(bigint, text) IS 'abandon an active cooking session (with an optional reason): status, end time and counts on the row, the summary in its MongoDB document; returns the summary';

CREATE FUNCTION ng_user_cooking_sessions(user_id bigint, only_status text DEFAULT NULL, lim int DEFAULT 50)
RETURNS TABLE (session_id bigint, recipe_id bigint, recipe_title text, mode text, status text,
               started_at timestamptz, ended_at timestamptz, total_steps int, steps_completed int,
               percent_complete numeric, voice_interactions int, duration_seconds int)
LANGUAGE plpgsql STABLE CALLED ON NULL INPUT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF user_id IS NULL THEN
        RAISE EXCEPTION 'user_id must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF only_status IS NOT NULL AND only_status NOT IN ('active', 'completed', 'abandoned') THEN
        RAISE EXCEPTION 'only_status must be one of active, completed, abandoned' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('Got "%s".', only_status);
    END IF;
    IF lim IS NULL OR lim NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'lim must be between 1 and 1000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
    SELECT s.id, s.recipe_id, r.title, s.mode, s.status, s.started_at, s.ended_at, s.total_steps,
           s.steps_completed,
           CASE WHEN s.total_steps > 0 THEN round(100.0 * s.steps_completed / s.total_steps, 1) END,
           s.voice_interactions, s.duration_seconds
    FROM @extschema@.cooking_sessions s
    JOIN @extschema@.recipes r ON r.id = s.recipe_id
    WHERE s.user_id = ng_user_cooking_sessions.user_id
      AND (only_status IS NULL OR s.status = only_status)
    ORDER BY s.started_at DESC, s.id DESC
    LIMIT lim;
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_user_cooking_sessions(bigint, text, int) IS 'a user''s cooking sessions, newest first (optionally of one status): recipe, mode, status, times, steps and progress, from PostgreSQL alone';

CREATE FUNCTION ng_cooking_progress(session_id bigint)
RETURNS jsonb
LANGUAGE plpgsql STABLE STRICT PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s @extschema@.cooking_sessions;
    d record;
    steps jsonb;
    done int[];
    next_step jsonb;
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    SELECT * INTO s FROM @extschema@.cooking_sessions x WHERE x.id = session_id AND @extschema@.ng_acting_for(x.user_id);
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    SELECT x.step_progress, x.voice_interactions INTO d
    FROM @extschema@.cooking_session_details x WHERE x._id = s.mongodb_session_id;
    SELECT c.steps INTO steps
    FROM @extschema@.recipes r JOIN @extschema@.recipe_content c ON c._id = r.mongodb_recipe_id
    WHERE r.id = s.recipe_id;
    done := ARRAY(SELECT DISTINCT (e ->> 'step')::int FROM jsonb_array_elements(coalesce(d.step_progress, '[]')) e
                  WHERE jsonb_typeof(e -> 'step') = 'number' ORDER BY 1);
    SELECT e INTO next_step FROM jsonb_array_elements(coalesce(steps, '[]')) WITH ORDINALITY t(e, i)
    WHERE i::int <> ALL (done) ORDER BY i LIMIT 1;
    RETURN jsonb_build_object(
        'sessionId', s.id, 'recipeId', s.recipe_id, 'status', s.status, 'mode', s.mode,
        'totalSteps', s.total_steps, 'stepsCompleted', to_jsonb(done),
        'percentComplete', CASE WHEN s.total_steps > 0 THEN round(100.0 * cardinality(done) / s.total_steps, 1) END,
        'nextStep', CASE WHEN s.status = 'active' THEN next_step END,
        'voiceInteractions', coalesce(jsonb_array_length(d.voice_interactions), 0),
        'lastInteraction', d.voice_interactions -> -1,
        'detailsMissing', d IS NULL);
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_cooking_progress(bigint) IS 'where a cooking session stands: steps completed, the next step of the recipe, interactions and the last one (from the MongoDB documents); NULL for an unknown session';

-- ---------------------------------------------------------------------------
-- Payments: recorded idempotently by the provider's reference, status
-- transitions enforced (for any writer), every change kept.
-- ---------------------------------------------------------------------------
--   pending -> succeeded | failed;  succeeded -> refunded
-- A payment may be recorded directly as succeeded or failed (a provider's
-- first notice).  The amount, currency, user, provider and reference never
-- change.

CREATE TABLE payment_status_history (
    id          bigserial PRIMARY KEY,
    payment_id  bigint NOT NULL REFERENCES @extschema@.payments ON DELETE CASCADE,
    from_status text,
    to_status   text NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    changed_by  name NOT NULL DEFAULT session_user
);
CREATE INDEX payment_status_history_payment_idx ON @extschema@.payment_status_history (payment_id, id);
COMMENT ON TABLE @extschema@.payment_status_history IS 'every status a payment took, with when and by which role (written by a trigger on payments)';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.payment_status_history', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.payment_status_history_id_seq', '');

CREATE FUNCTION ng_payment_transition_ok(from_status text, to_status text)
RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT (from_status, to_status) IN (('pending', 'succeeded'), ('pending', 'failed'), ('succeeded', 'refunded'))
$$;

COMMENT ON FUNCTION @extschema@.ng_payment_transition_ok(text, text) IS 'whether a payment may go from one status to another: pending to succeeded or failed, succeeded to refunded';

CREATE FUNCTION ng_payments_before_update()
RETURNS trigger
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF (NEW.user_id, NEW.amount, NEW.currency, NEW.provider, NEW.provider_reference)
       IS DISTINCT FROM (OLD.user_id, OLD.amount, OLD.currency, OLD.provider, OLD.provider_reference) THEN
        RAISE EXCEPTION 'the user, amount, currency, provider and reference of payment % cannot change', OLD.id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Record a new payment (and refund this one) instead.';
    END IF;
    IF NEW.status IS DISTINCT FROM OLD.status
       AND NOT @extschema@.ng_payment_transition_ok(OLD.status, NEW.status) THEN
        RAISE EXCEPTION 'payment % cannot go from "%" to "%"', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'A pending payment may succeed or fail; a succeeded one may be refunded.';
    END IF;
    RETURN NEW;
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_payments_before_update() IS 'trigger: refuses status transitions other than pending to succeeded/failed and succeeded to refunded, and changes of amount, currency, user, provider or reference';

CREATE TRIGGER ng_payments_before_update BEFORE UPDATE ON @extschema@.payments
    FOR EACH ROW EXECUTE FUNCTION @extschema@.ng_payments_before_update();

-- SECURITY DEFINER: the application roles may not write the history
-- themselves; changed_by is the session's role (current_user is the
-- owner here).
CREATE FUNCTION ng_payments_status_changed()
RETURNS trigger
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF TG_OP = 'INSERT' AND NEW.status = 'refunded' THEN
        RAISE EXCEPTION 'a payment cannot be recorded as refunded' USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Record it as succeeded, then change its status to refunded.';
    END IF;
    IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
        INSERT INTO @extschema@.payment_status_history (payment_id, from_status, to_status, changed_by)
        VALUES (NEW.id, CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END, NEW.status, session_user);
        PERFORM @extschema@.ng_publish('payment.' || NEW.status, jsonb_build_object(
            'paymentId', NEW.id, 'userId', NEW.user_id, 'amount', NEW.amount, 'currency', NEW.currency,
            'provider', NEW.provider, 'providerReference', NEW.provider_reference));
    END IF;
    RETURN NULL;
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_payments_status_changed() IS 'trigger: records each status of a payment in payment_status_history and publishes payment.<status>';

CREATE TRIGGER ng_payments_status_changed AFTER INSERT OR UPDATE ON @extschema@.payments
    FOR EACH ROW EXECUTE FUNCTION @extschema@.ng_payments_status_changed();

CREATE FUNCTION ng_payment_json(p @extschema@.payments)
RETURNS jsonb
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object(
        'paymentId', p.id, 'userId', p.user_id, 'amount', p.amount, 'currency', p.currency,
        'status', p.status, 'provider', p.provider, 'providerReference', p.provider_reference,
        'description', p.description, 'createdAt', p.created_at,
        'history', (SELECT jsonb_agg(jsonb_build_object('from', h.from_status, 'to', h.to_status, 'at', h.changed_at)
                                     ORDER BY h.id)
                    FROM @extschema@.payment_status_history h WHERE h.payment_id = p.id))
$$;

COMMENT ON FUNCTION @extschema@.ng_payment_json(@extschema@.payments) IS 'a payment with its status history as jsonb';

CREATE FUNCTION ng_record_payment(payment jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    what constant text := 'the payment';
    st text;
    p @extschema@.payments;
    created boolean := false;
    changed boolean := false;
BEGIN
    IF jsonb_typeof(payment) <> 'object' THEN
        RAISE EXCEPTION 'the payment must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM @extschema@.ng_check_keys(payment, ARRAY['userId', 'amount', 'currency', 'provider', 'providerReference',
                                                     'description', 'status'], what);
    PERFORM @extschema@.ng_check_field(payment, 'userId', 'integer', true, what);
    IF (@extschema@.ng_check_field(payment, 'amount', 'number', true, what))::numeric NOT BETWEEN 0.01 AND 9999999999.99
       OR (payment ->> 'amount')::numeric <> round((payment ->> 'amount')::numeric, 2) THEN
        RAISE EXCEPTION 'field "amount" of the payment must be between 0.01 and 9999999999.99, in cents'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', payment -> 'amount');
    END IF;
    IF @extschema@.ng_check_field(payment, 'currency', 'text', false, what) IS NOT NULL
       AND (payment ->> 'currency') !~ '^[A-Z]{3}$' THEN
        RAISE EXCEPTION 'field "currency" of the payment must be an ISO 4217 code such as "EUR"'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', payment -> 'currency');
    END IF;
    PERFORM @extschema@.ng_check_field(payment, 'provider', 'text', true, what);
    PERFORM @extschema@.ng_check_field(payment, 'providerReference', 'text', true, what);
    PERFORM @extschema@.ng_check_field(payment, 'description', 'text', false, what);
    st := coalesce(@extschema@.ng_check_field(payment, 'status', 'text', false, what) #>> '{}', 'pending');
    IF st NOT IN ('pending', 'succeeded', 'failed') THEN
        RAISE EXCEPTION 'field "status" of the payment must be one of pending, succeeded, failed'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got "%s".', st);
    END IF;
    IF NOT EXISTS (SELECT FROM @extschema@.users u WHERE u.id = (payment ->> 'userId')::bigint) THEN
        RAISE EXCEPTION 'user % does not exist', payment ->> 'userId' USING ERRCODE = 'no_data_found';
    END IF;

    -- (looked for first, so that a repeat does not use up an id; the
    -- insert's ON CONFLICT covers a concurrent first recording)
    SELECT * INTO p FROM @extschema@.payments x
    WHERE x.provider = payment ->> 'provider' AND x.provider_reference = payment ->> 'providerReference';
    IF NOT FOUND THEN
        INSERT INTO @extschema@.payments AS x (user_id, amount, currency, status, provider, provider_reference, description)
        VALUES ((payment ->> 'userId')::bigint, (payment ->> 'amount')::numeric, coalesce(payment ->> 'currency', 'USD'),
                st, payment ->> 'provider', payment ->> 'providerReference', payment ->> 'description')
        ON CONFLICT ON CONSTRAINT payments_provider_provider_reference_key DO NOTHING
        RETURNING * INTO p;
    ELSE
        p := NULL;
    END IF;
    IF p.id IS NOT NULL THEN
        created := true;
    ELSE
        -- seen before: the same payment again (a retry, a repeated
        -- notification) is no change; a later status moves it on; an
        -- earlier one is stale and ignored
        SELECT * INTO p FROM @extschema@.payments x
        WHERE x.provider = payment ->> 'provider' AND x.provider_reference = payment ->> 'providerReference'
        FOR UPDATE;
        IF (p.user_id, p.amount, p.currency) IS DISTINCT FROM
           ((payment ->> 'userId')::bigint, (payment ->> 'amount')::numeric, coalesce(payment ->> 'currency', 'USD')::char(3)) THEN
            RAISE EXCEPTION 'payment "%" of provider "%" is already recorded with another user, amount or currency',
                payment ->> 'providerReference', payment ->> 'provider'
                USING ERRCODE = 'unique_violation',
                      DETAIL = format('Recorded: user %s, %s %s.', p.user_id, p.amount, p.currency);
        END IF;
        IF @extschema@.ng_payment_transition_ok(p.status, st) THEN
            UPDATE @extschema@.payments x SET status = st WHERE x.id = p.id RETURNING * INTO p;
            changed := true;
        END IF;
    END IF;
    RETURN @extschema@.ng_payment_json(p) || jsonb_build_object('created', created, 'changed', created OR changed);
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_record_payment(jsonb) IS 'record a payment (userId, amount, currency, provider, providerReference, description, status pending/succeeded/failed) once per provider reference: a repeat is no change, a later status moves it on; returns the payment with "created" and "changed"';

CREATE FUNCTION ng_set_payment_status(payment_id bigint, status text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    p @extschema@.payments;
    changed boolean := false;
BEGIN
    IF status NOT IN ('pending', 'succeeded', 'failed', 'refunded') THEN
        RAISE EXCEPTION 'status must be one of pending, succeeded, failed, refunded' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('Got "%s".', status);
    END IF;
    SELECT * INTO p FROM @extschema@.payments x WHERE x.id = payment_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'payment % does not exist', payment_id USING ERRCODE = 'no_data_found';
    END IF;
    IF p.status <> status THEN
        -- the trigger refuses a transition that is not allowed
        UPDATE @extschema@.payments x SET status = ng_set_payment_status.status WHERE x.id = p.id RETURNING * INTO p;
        changed := true;
    END IF;
    RETURN @extschema@.ng_payment_json(p) || jsonb_build_object('changed', changed);
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_set_payment_status(bigint, text) IS 'move a payment to a status (pending to succeeded or failed, succeeded to refunded; the same status again is no change); returns the payment with its history and "changed"';

CREATE FUNCTION ng_user_payments(user_id bigint)
RETURNS SETOF jsonb
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT @extschema@.ng_payment_json(p) FROM @extschema@.payments p
    WHERE p.user_id = $1 ORDER BY p.created_at, p.id
$$;

COMMENT ON FUNCTION @extschema@.ng_user_payments(bigint) IS 'a user''s payments, oldest first, each with its status history';

-- ---------------------------------------------------------------------------
-- Chat with the AI chefs: deterministic, explainable replies.
-- ---------------------------------------------------------------------------
-- A chef document (chef_personalities) lists adaptiveResponses {trigger,
-- response}.  ng_chat finds the triggers a message sets off with the rules
-- below (tried in priority order; the first one the chef has a response for
-- wins), personalises the reply with the user's profile (allergies on a
-- substitution, the calorie goal on a nutrition question), logs both
-- messages in chat_messages and refreshes the user's behaviour patterns.
-- No language model: the same message, chef and profile give the same reply,
-- and the result says which rule matched which words.

CREATE TABLE chat_triggers (
    trigger  text PRIMARY KEY,
    priority int NOT NULL UNIQUE,
    pattern  text NOT NULL
);
COMMENT ON TABLE @extschema@.chat_triggers IS 'when a chat message sets off an adaptiveResponses trigger: a case-insensitive regular expression, tried in priority order';
INSERT INTO @extschema@.chat_triggers (trigger, priority, pattern) VALUES
 ('user_struggling', 10, '\m(help|stuck|confus\w*|lost|difficult|hard|burn\w*|messed|struggl\w*|not working|went wrong)\M'),
 ('substitution', 20, '\m(instead|substitut\w*|replace\w*|swap|alternative|out of|(do not|don''t|dont) have)\M'),
 ('timer', 30, '\m(timer|how long|minutes?|seconds?|remind me)\M'),
 ('nutrition_question', 40, '\m(calories?|kcal|protein|carbs?|fat|macros?|healthy|nutrition\w*)\M'),
 ('step_completed', 50, '\m(done|finished|next|ready|completed?)\M');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.chat_triggers', '');

-- The triggers a message sets off, in priority order, with the words that
-- matched.
CREATE FUNCTION ng_chat_triggers(message text)
RETURNS TABLE (trigger text, priority int, matched text)
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.trigger, t.priority, (regexp_match(message, t.pattern, 'i'))[1]
    FROM @extschema@.chat_triggers t
    WHERE message ~* t.pattern
    ORDER BY t.priority
$$;

COMMENT ON FUNCTION @extschema@.ng_chat_triggers(text) IS 'the chat triggers a message sets off, in priority order, with the words that matched';

CREATE FUNCTION ng_chat(user_id bigint, message text, chef_id text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    profile jsonb;
    chef jsonb;
    chef_name text;
    hit record;
    reply text;
    trig text;
    matched text;
    personal text[] := '{}';
    goal int;
    user_msg bigint;
    reply_msg bigint;
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    IF user_id IS NULL OR message IS NULL THEN
        RAISE EXCEPTION 'user_id and message must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF btrim(message) = '' OR length(message) > 4000 THEN
        RAISE EXCEPTION 'message must have 1 to 4000 characters' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- one conversation step at a time per user (and their behaviour patterns)
    PERFORM FROM @extschema@.users u WHERE u.id = ng_chat.user_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'user % does not exist', user_id USING ERRCODE = 'no_data_found';
    END IF;
    profile := @extschema@.ng_user_profile(user_id);
    chef_id := coalesce(chef_id, profile #>> '{cookingProfile,preferredChef}', 'chef_maria');
    SELECT c.doc INTO chef FROM @extschema@.chef_personalities c WHERE c._id = chef_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'chef "%" does not exist', chef_id USING ERRCODE = 'no_data_found',
            HINT = 'The chefs are the documents of chef_personalities.';
    END IF;
    chef_name := coalesce(chef ->> 'name', chef_id);

    FOR hit IN SELECT * FROM @extschema@.ng_chat_triggers(message) LOOP
        SELECT r ->> 'response' INTO reply
        FROM jsonb_array_elements(CASE WHEN jsonb_typeof(chef -> 'adaptiveResponses') = 'array'
                                       THEN chef -> 'adaptiveResponses' ELSE '[]' END) r
        WHERE r ->> 'trigger' = hit.trigger AND jsonb_typeof(r -> 'response') = 'string'
        LIMIT 1;
        IF reply IS NOT NULL THEN
            trig := hit.trigger;
            matched := hit.matched;
            EXIT;
        END IF;
    END LOOP;
    IF trig IS NULL THEN
        IF NOT EXISTS (SELECT FROM @extschema@.chat_messages m
                       WHERE m.user_id = ng_chat.user_id AND m.chef_id = ng_chat.chef_id) THEN
            trig := 'greeting';
            reply := coalesce(chef ->> 'greeting', format('Hello, I am %s.', chef_name));
        ELSE
            trig := 'fallback';
            reply := format('%s here. Tell me which step you are on, or ask me for a substitution, a timer or the nutrition facts.', chef_name);
        END IF;
    END IF;

    -- personalised with the profile
    IF trig = 'substitution' AND jsonb_typeof(profile #> '{dietaryProfile,allergies}') = 'array'
       AND jsonb_array_length(profile #> '{dietaryProfile,allergies}') > 0 THEN
        reply := reply || format(' Keep it free of %s.',
                                 (SELECT string_agg(a, ', ' ORDER BY o)
                                  FROM jsonb_array_elements_text(profile #> '{dietaryProfile,allergies}') WITH ORDINALITY x(a, o)));
        personal := personal || 'dietaryProfile.allergies'::text;
    END IF;
    IF trig = 'nutrition_question' THEN
        goal := coalesce((@extschema@.ng_nutrition_goal(user_id) ->> 'calories')::int,
                         CASE WHEN jsonb_typeof(profile #> '{dietaryProfile,calorieTarget}') = 'number'
                              THEN (profile #>> '{dietaryProfile,calorieTarget}')::numeric::int END);
        IF goal IS NOT NULL THEN
            reply := reply || format(' Your daily goal is %s kcal.', goal);
            personal := personal || 'nutritionGoal.calories'::text;
        END IF;
    END IF;

    INSERT INTO @extschema@.chat_messages (user_id, chef_id, role, content)
    VALUES (user_id, chef_id, 'user', message) RETURNING id INTO user_msg;
    INSERT INTO @extschema@.chat_messages (user_id, chef_id, role, content)
    VALUES (user_id, chef_id, 'assistant', reply) RETURNING id INTO reply_msg;
    PERFORM @extschema@.ng_publish('chat.replied', jsonb_build_object(
        'userId', user_id, 'chefId', chef_id, 'trigger', trig, 'messageId', user_msg, 'replyId', reply_msg));
    PERFORM @extschema@.ng_refresh_behavior(ARRAY[user_id]);
    RETURN jsonb_build_object(
        'chefId', chef_id, 'chef', chef_name, 'reply', reply,
        'explanation', jsonb_strip_nulls(jsonb_build_object(
            'trigger', trig, 'matched', matched,
            'rule', CASE WHEN matched IS NOT NULL THEN 'chat_triggers.' || trig END,
            'personalisedWith', CASE WHEN personal <> '{}' THEN to_jsonb(personal) END)),
        'messageId', user_msg, 'replyId', reply_msg);
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_chat(bigint, text, text) IS 'a user''s message to an AI chef (default: the profile''s preferredChef): the chef''s adaptive response for the first trigger the message sets off (chat_triggers), personalised with the profile; both messages logged, behaviour patterns refreshed; returns the reply and why';

CREATE FUNCTION ng_chat_history(user_id bigint, chef_id text DEFAULT NULL, lim int DEFAULT 50)
RETURNS TABLE (message_id bigint, chef_id text, role text, content text, created_at timestamptz)
LANGUAGE sql STABLE CALLED ON NULL INPUT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT m.id, m.chef_id, m.role, m.content, m.created_at
    FROM (SELECT * FROM @extschema@.chat_messages m
          WHERE m.user_id = $1 AND ($2 IS NULL OR m.chef_id = $2)
          ORDER BY m.id DESC LIMIT least(greatest(coalesce($3, 50), 1), 1000)) m
    ORDER BY m.id
$$;

COMMENT ON FUNCTION @extschema@.ng_chat_history(bigint, text, int) IS 'the last lim (default 50) chat messages of a user (with one chef, or all), oldest first';

-- ---------------------------------------------------------------------------
-- Behaviour patterns and recommendations.
-- ---------------------------------------------------------------------------
-- ng_recommend_recipes ranks, in PostgreSQL alone (recipe_features, ratings;
-- the profile through the document cache), the recipes a user has not rated
-- and may eat: none that breaks the user's diet or allergies (food_rules),
-- none over 40% of the daily calorie goal (the goal in force, else the
-- profile's calorieTarget).  Score = the user's affinity for each feature of
-- the recipe (category, cuisine, tag, difficulty: how far above the user's
-- own mean rating the recipes with that feature were rated, shrunk by five
-- virtual ratings at the mean: a user has few ratings) + the recipe's Bayesian popularity above the
-- overall mean (5 virtual votes, as ng_popular_recipes) + 1 for a favourite
-- cuisine of the profile.  Ties by id.  Each row says why.

CREATE FUNCTION ng_recommend_recipes(user_id bigint, n int DEFAULT 10)
RETURNS TABLE (rank int, recipe_id bigint, title text, category text, cuisine text,
               calories double precision, score numeric, reasons text[])
LANGUAGE plpgsql STABLE STRICT PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    uid constant bigint := user_id;
    profile jsonb;
    diet text;
    allergies text[];
    favs text[];
    target int;
    budget double precision;
    avoid text[];
    unruled text[];
    g numeric;
    affmap jsonb;
    affwhy jsonb;
    constraint_reasons text[] := '{}';
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    IF n NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION 'n must be between 1 and 100' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT FROM @extschema@.users u WHERE u.id = uid) THEN
        RAISE EXCEPTION 'user % does not exist', uid USING ERRCODE = 'no_data_found';
    END IF;
    profile := @extschema@.ng_user_profile(uid);
    diet := lower(profile #>> '{dietaryProfile,dietType}');
    allergies := CASE WHEN jsonb_typeof(profile #> '{dietaryProfile,allergies}') = 'array'
                      THEN ARRAY(SELECT lower(a) FROM jsonb_array_elements_text(profile #> '{dietaryProfile,allergies}') a)
                      ELSE '{}' END;
    favs := CASE WHEN jsonb_typeof(profile #> '{cookingProfile,favoriteCuisines}') = 'array'
                 THEN ARRAY(SELECT lower(a) FROM jsonb_array_elements_text(profile #> '{cookingProfile,favoriteCuisines}') a)
                 ELSE '{}' END;
    target := coalesce((@extschema@.ng_nutrition_goal(uid) ->> 'calories')::int,
                       CASE WHEN jsonb_typeof(profile #> '{dietaryProfile,calorieTarget}') = 'number'
                            THEN (profile #>> '{dietaryProfile,calorieTarget}')::numeric::int END);
    budget := round(target * 0.4);
    avoid := @extschema@.ng_food_avoid(diet, allergies);
    -- allergies without a rule of their own are matched by name, recipe by
    -- recipe: only when there are any
    unruled := ARRAY(SELECT a FROM unnest(allergies) a
                     WHERE NOT EXISTS (SELECT FROM @extschema@.food_rules fr
                                       WHERE fr.kind = 'allergen' AND fr.name = a));
    SELECT coalesce(sum(r.rating_sum)::numeric / nullif(sum(r.rating_count), 0), 3) INTO g FROM @extschema@.recipes r;

    IF diet IS NOT NULL AND diet <> 'omnivore' THEN
        constraint_reasons := constraint_reasons || format('fits your %s diet', diet);
    END IF;
    IF allergies <> '{}' THEN
        constraint_reasons := constraint_reasons || format('free of %s', array_to_string(allergies, ', '));
    END IF;

    -- the user's affinities, one per feature key (a few dozen at most), as
    -- a map the ranking looks keys up in: {"c:dinner": 0.3, ...}, and what
    -- the reasons say about each
    WITH mine AS MATERIALIZED (
        SELECT rr.rating, r.category, r.difficulty_level, f.cuisine, coalesce(f.tags, '{}') AS tags
        FROM @extschema@.recipe_ratings rr
        JOIN @extschema@.recipes r ON r.id = rr.recipe_id
        LEFT JOIN @extschema@.recipe_features f ON f.recipe_id = rr.recipe_id
        WHERE rr.user_id = uid),
    mu AS (SELECT coalesce(avg(mine.rating), g) AS m FROM mine)
    SELECT jsonb_object_agg(a.key, a.aff),
           jsonb_object_agg(a.key, format('you rated %s %s on average (%s)', a.label, a.avg_rating,
                                          CASE WHEN a.nrated = 1 THEN '1 rating' ELSE a.nrated || ' ratings' END))
    INTO affmap, affwhy
    FROM (SELECT k.key, k.label, sum(mine.rating - mu.m) / (count(*) + 5) AS aff,
                 count(*) AS nrated, round(avg(mine.rating), 1) AS avg_rating
          FROM mine CROSS JOIN mu
          CROSS JOIN LATERAL (
              SELECT 'c:' || mine.category, mine.category || ' recipes'
              UNION ALL SELECT 'q:' || mine.cuisine, mine.cuisine || ' cuisine' WHERE mine.cuisine IS NOT NULL
              UNION ALL SELECT 'd:' || mine.difficulty_level, 'difficulty ' || mine.difficulty_level || ' recipes'
              UNION ALL SELECT 't:' || t, '"' || t || '" recipes' FROM unnest(mine.tags) t) k(key, label)
          GROUP BY k.key, k.label) a;
    affmap := coalesce(affmap, '{}');

    -- every candidate scored by lookups in the map (tags through the few
    -- distinct tag sets); the reasons only for the n chosen
    RETURN QUERY
    WITH cand AS MATERIALIZED (
        SELECT r.id, r.title, r.category, r.difficulty_level, f.cuisine, f.tags, f.calories,
               (r.rating_sum + 5 * g) / (r.rating_count + 5) AS bayes, r.rating_count, r.average_rating
        FROM @extschema@.recipe_features f
        JOIN @extschema@.recipes r ON r.id = f.recipe_id
        WHERE NOT (f.conflicts && avoid)
          AND (budget IS NULL OR f.calories IS NULL OR f.calories <= budget)
          AND NOT EXISTS (SELECT FROM @extschema@.recipe_ratings x WHERE x.user_id = uid AND x.recipe_id = r.id)
          AND (unruled = '{}' OR @extschema@.ng_unruled_allergen(f.ingredients, unruled) IS NULL)),
    tagsets AS (
        SELECT t.tags, sum(a.value::numeric) AS aff
        FROM (SELECT DISTINCT c.tags FROM cand c) t
        JOIN jsonb_each_text(affmap) a ON a.key = ANY (ARRAY(SELECT 't:' || x FROM unnest(t.tags) x))
        GROUP BY t.tags),
    scored AS (
        SELECT z.* FROM (
            SELECT c.*,
                   coalesce((affmap ->> ('c:' || c.category))::numeric, 0)
                   + coalesce((affmap ->> ('q:' || c.cuisine))::numeric, 0)
                   + coalesce((affmap ->> ('d:' || c.difficulty_level))::numeric, 0)
                   + coalesce(ts.aff, 0)
                   + (c.bayes - g)
                   + CASE WHEN lower(c.cuisine) = ANY (favs) THEN 1.0 ELSE 0 END AS s
            FROM cand c
            LEFT JOIN tagsets ts ON ts.tags = c.tags) z
        ORDER BY z.s DESC, z.id
        LIMIT n)
    SELECT (row_number() OVER (ORDER BY s.s DESC, s.id))::int, s.id, s.title, s.category, s.cuisine, s.calories,
           round(s.s, 3),
           ARRAY(SELECT affwhy ->> k
                 FROM unnest(ARRAY['c:' || s.category, 'q:' || s.cuisine, 'd:' || s.difficulty_level]
                             || ARRAY(SELECT 't:' || t FROM unnest(s.tags) t)) k
                 WHERE (affmap ->> k)::numeric > 0
                 ORDER BY (affmap ->> k)::numeric DESC, k LIMIT 2)
           || CASE WHEN lower(s.cuisine) = ANY (favs) THEN ARRAY[s.cuisine || ' is one of your favourite cuisines'] ELSE '{}' END
           || CASE WHEN s.bayes > g AND s.rating_count > 0
                   THEN ARRAY[format('popular: %s stars from %s', s.average_rating,
                                     CASE WHEN s.rating_count = 1 THEN '1 rating' ELSE s.rating_count || ' ratings' END)]
                   ELSE '{}' END
           || constraint_reasons
           || CASE WHEN budget IS NOT NULL AND s.calories IS NOT NULL
                   THEN ARRAY[format('%s kcal fits your %s kcal daily goal', round(s.calories::numeric), target)] ELSE '{}' END
    FROM scored s
    ORDER BY 1;
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_recommend_recipes(bigint, int) IS 'the n recipes a user has not rated that fit the diet, allergies and calorie goal, best first: affinity from the user''s ratings, popularity and favourite cuisines, each with the reasons it was chosen';

-- What a user does, summarised from the PostgreSQL rows: ratings, cooking,
-- nutrition against the goal, chat topics.
CREATE FUNCTION ng_behavior_patterns(user_id bigint)
RETURNS jsonb
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object(
        'ratings', (SELECT jsonb_build_object(
                        'count', count(*), 'average', round(avg(rr.rating), 2),
                        'likedCategories', coalesce((SELECT jsonb_agg(x.category ORDER BY x.n DESC, x.category)
                                                     FROM (SELECT r.category, count(*) AS n
                                                           FROM @extschema@.recipe_ratings r2 JOIN @extschema@.recipes r ON r.id = r2.recipe_id
                                                           WHERE r2.user_id = $1 AND r2.rating >= 4
                                                           GROUP BY r.category ORDER BY n DESC, r.category LIMIT 3) x), '[]'),
                        'likedCuisines', coalesce((SELECT jsonb_agg(x.cuisine ORDER BY x.n DESC, x.cuisine)
                                                   FROM (SELECT f.cuisine, count(*) AS n
                                                         FROM @extschema@.recipe_ratings r2 JOIN @extschema@.recipe_features f ON f.recipe_id = r2.recipe_id
                                                         WHERE r2.user_id = $1 AND r2.rating >= 4 AND f.cuisine IS NOT NULL
                                                         GROUP BY f.cuisine ORDER BY n DESC, f.cuisine LIMIT 3) x), '[]'))
                    FROM @extschema@.recipe_ratings rr WHERE rr.user_id = $1),
        'cooking', (SELECT jsonb_build_object(
                        'sessions', count(*),
                        'completed', count(*) FILTER (WHERE s.status = 'completed'),
                        'abandoned', count(*) FILTER (WHERE s.status = 'abandoned'),
                        'active', count(*) FILTER (WHERE s.status = 'active'),
                        'completionRate', round((count(*) FILTER (WHERE s.status = 'completed'))::numeric
                                                / nullif(count(*) FILTER (WHERE s.status <> 'active'), 0), 2),
                        'preferredMode', mode() WITHIN GROUP (ORDER BY s.mode))
                    FROM @extschema@.cooking_sessions s WHERE s.user_id = $1),
        'nutrition', (SELECT jsonb_build_object(
                          'daysLogged', count(*), 'avgDailyCalories', round(avg(d.kcal), 1),
                          'daysOverGoal', count(*) FILTER (WHERE d.kcal > d.goal))
                      FROM (SELECT e.entry_date, sum(e.calories) AS kcal,
                                   (@extschema@.ng_nutrition_goal($1, e.entry_date) ->> 'calories')::int AS goal
                            FROM @extschema@.nutrition_entries e WHERE e.user_id = $1
                            GROUP BY e.entry_date) d),
        'chat', (SELECT jsonb_build_object(
                     'messages', count(*),
                     'topics', coalesce((SELECT jsonb_object_agg(t.trigger, t.n ORDER BY t.trigger)
                                         FROM (SELECT tr.trigger, count(*) AS n
                                               FROM @extschema@.chat_messages m2
                                               CROSS JOIN LATERAL (SELECT x.trigger FROM @extschema@.ng_chat_triggers(m2.content) x LIMIT 1) tr
                                               WHERE m2.user_id = $1 AND m2.role = 'user'
                                               GROUP BY tr.trigger) t), '{}'),
                     'lastChef', (SELECT m3.chef_id FROM @extschema@.chat_messages m3 WHERE m3.user_id = $1
                                  ORDER BY m3.id DESC LIMIT 1))
                 FROM @extschema@.chat_messages m WHERE m.user_id = $1 AND m.role = 'user'))
$$;

COMMENT ON FUNCTION @extschema@.ng_behavior_patterns(bigint) IS 'a user''s behaviour patterns from the PostgreSQL rows: ratings (liked categories and cuisines), cooking (completion, preferred mode), nutrition against the goal, chat topics';

CREATE FUNCTION ng_refresh_behavior(user_ids bigint[] DEFAULT NULL)
RETURNS int
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    ids bigint[];
    rec record;
    n int := 0;
BEGIN
    IF @extschema@.ng_mongo_server() IS NULL THEN
        RETURN 0;
    END IF;
    -- serialised per user, like the other derived values
    ids := ARRAY(SELECT u.id FROM @extschema@.users u WHERE user_ids IS NULL OR u.id = ANY (user_ids)
                 ORDER BY u.id FOR NO KEY UPDATE);
    PERFORM @extschema@.ng_behavior_documents(ids);
    FOR rec IN
        SELECT u.id, @extschema@.ng_behavior_patterns(u.id) AS patterns,
               (SELECT coalesce(jsonb_agg(jsonb_build_object('recipeId', x.recipe_id, 'score', x.score, 'reasons', x.reasons)
                                          ORDER BY x.rank), '[]')
                FROM @extschema@.ng_recommend_recipes(u.id, 5) x) AS recs
        FROM unnest(ids) u(id) ORDER BY u.id
    LOOP
        UPDATE @extschema@.user_behavior b
        SET patterns = rec.patterns, recommendations = rec.recs, updated_at = date_trunc('milliseconds', now())
        WHERE b._id = rec.id;
        n := n + 1;
    END LOOP;
    RETURN n;
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_refresh_behavior(bigint[]) IS 'recompute the patterns and the top 5 recommendations in the user_behavior documents of these users (all when NULL); ng_chat and ending a cooking session do it for their user; returns the number of users';

-- ---------------------------------------------------------------------------
-- Roles: what an application role and an analyst role may do; optional
-- per-user isolation for the application role.
-- ---------------------------------------------------------------------------
-- The services run with their caller's rights (but ng_publish, the
-- payments history trigger and the functions that reach the per-user
-- collections: SECURITY DEFINER, below), so an application role needs the
-- table privileges its services use: ng_setup_app_role grants exactly
-- those (never the outbox, the dead letters, the FDW's administration, or
-- writing event_log and payment_status_history), EXECUTE on ng_publish
-- (the services call it) and USAGE on the attached server; its
-- MongoDB credentials are its own user mapping, which the DBA creates.
-- ng_setup_analyst_role grants reading the views (which reach MongoDB with
-- their owner's mapping) and the tables, without password hashes, chat
-- messages or the event log.  Both are remembered in role_setup and granted
-- again by ng_attach_mongo, which recreates the foreign tables and views.
--
-- Per-user isolation (user_isolation => true): while the setting
-- nutragenie_app.user_id names a user, the role sees and changes only that
-- user's rows (users, payments and their history, goals, nutrition
-- entries, chat messages, cooking sessions, events), rates only as that
-- user (ratings stay readable: they make the recipes' aggregates) and
-- changes only the recipes that user created.  It has no privilege on the
-- per-user foreign tables (no row-level security there): the services
-- reach them as the owner, filtering with ng_acting_for.  With the
-- setting empty it acts for no user in particular (sign-up, login,
-- background jobs) and sees all rows.  It guards against a request handler
-- that acts on another user's id, not against a client that can run any
-- SQL: such a client can change the setting.

CREATE TABLE role_setup (
    role           name PRIMARY KEY,
    kind           text NOT NULL CHECK (kind IN ('app', 'analyst')),
    user_isolation boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE @extschema@.role_setup IS 'the roles ng_setup_app_role and ng_setup_analyst_role set up (granted again by ng_attach_mongo)';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.role_setup', '');

-- The user the current request acts for (setting nutragenie_app.user_id),
-- NULL when it is empty or unset.
CREATE FUNCTION ng_app_user()
RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN pg_catalog.current_setting('nutragenie_app.user_id', true) OPERATOR(pg_catalog.<>) ''
                THEN pg_catalog.current_setting('nutragenie_app.user_id', true)::pg_catalog.int8 END
$$;

COMMENT ON FUNCTION @extschema@.ng_app_user() IS 'the user id in setting nutragenie_app.user_id (the user an application request acts for), NULL when empty';

-- Whether the current request may act on this user's rows: it acts for no
-- user in particular, or for this one.  The SECURITY DEFINER services (which
-- bypass row-level security) filter with it.
CREATE FUNCTION ng_acting_for(user_id bigint)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT @extschema@.ng_app_user() IS NULL OR $1 OPERATOR(pg_catalog.=) @extschema@.ng_app_user()
$$;

COMMENT ON FUNCTION @extschema@.ng_acting_for(bigint) IS 'whether the current request may act on this user''s rows: setting nutragenie_app.user_id is empty or names this user';

CREATE FUNCTION ng_apply_role_grants()
RETURNS void
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    rs record;
    t record;
    srv name := @extschema@.ng_mongo_server();
    attached boolean;
    isolated text;
    cmd text;
    pol name;
    fdw_schema name;
BEGIN
    attached := to_regclass('@extschema@.recipe_content') IS NOT NULL;
    SELECT e.extnamespace::regnamespace::name INTO fdw_schema FROM pg_extension e WHERE e.extname = 'nutragenie_fdw';
    FOR rs IN SELECT * FROM @extschema@.role_setup ORDER BY role LOOP
        IF NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = rs.role) THEN
            CONTINUE;
        END IF;
        -- this schema, the FDW's (its type and operators) and its fixed
        -- schema nutragenie_fdw (the document cache the services read through)
        EXECUTE format('GRANT USAGE ON SCHEMA @extschema@, %I, nutragenie_fdw TO %I', fdw_schema, rs.role);
        IF rs.kind = 'app' THEN
            FOR t IN SELECT * FROM (VALUES
                ('users', 'SELECT, INSERT, UPDATE, DELETE'), ('payments', 'SELECT, INSERT, UPDATE'),
                ('payment_status_history', 'SELECT'), ('nutrition_goals', 'SELECT, INSERT, UPDATE, DELETE'),
                ('nutrition_entries', 'SELECT, INSERT, UPDATE, DELETE'), ('recipes', 'SELECT, INSERT, UPDATE, DELETE'),
                ('recipe_ratings', 'SELECT, INSERT, UPDATE, DELETE'), ('chat_messages', 'SELECT, INSERT'),
                ('cooking_sessions', 'SELECT, INSERT, UPDATE, DELETE'), ('recipe_features', 'SELECT, INSERT, UPDATE, DELETE'),
                ('event_log', 'SELECT'), ('mongo_attachment', 'SELECT'), ('food_rules', 'SELECT'),
                ('chat_triggers', 'SELECT')) v(tab, privs)
            LOOP
                EXECUTE format('GRANT %s ON @extschema@.%I TO %I', t.privs, t.tab, rs.role);
            END LOOP;
            EXECUTE format('GRANT USAGE ON ALL SEQUENCES IN SCHEMA @extschema@ TO %I', rs.role);
            EXECUTE format('GRANT EXECUTE ON FUNCTION @extschema@.ng_publish(text, jsonb), '
                           '@extschema@.ng_behavior_documents(bigint[]), @extschema@.ng_apply_ratings(bigint[], bigint[]), '
                           '@extschema@.ng_apply_nutrition(bigint[]), @extschema@.ng_refresh_behavior(bigint[]), '
                           '@extschema@.ng_update_user(bigint, jsonb), @extschema@.ng_search_recipes(jsonb, int), '
                           '@extschema@.ng_start_cooking_session(bigint, bigint, text), '
                           '@extschema@.ng_log_voice_interaction(bigint, jsonb), '
                           '@extschema@.ng_end_cooking_session(bigint, text, text), @extschema@.ng_cooking_progress(bigint) TO %I',
                           rs.role);
            -- the history and the log are written by SECURITY DEFINER triggers
            -- and ng_publish only (in case an earlier version granted more)
            EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON @extschema@.payment_status_history, @extschema@.event_log FROM %I',
                           rs.role);
            IF attached THEN
                EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.recipe_content, @extschema@.chef_personalities TO %I',
                               rs.role);
                -- the per-user collections have no row-level security: an
                -- isolated role reaches them only through the services
                -- (SECURITY DEFINER, filtered by ng_acting_for)
                EXECUTE format('%s SELECT, INSERT, UPDATE, DELETE ON @extschema@.user_profiles, '
                               '@extschema@.cooking_session_details, @extschema@.user_behavior %s %I',
                               CASE WHEN rs.user_isolation THEN 'REVOKE' ELSE 'GRANT' END,
                               CASE WHEN rs.user_isolation THEN 'FROM' ELSE 'TO' END, rs.role);
            END IF;
            IF srv IS NOT NULL THEN
                EXECUTE format('GRANT USAGE ON FOREIGN SERVER %I TO %I', srv, rs.role);
            END IF;
        ELSE
            EXECUTE format('GRANT SELECT ON @extschema@.recipes, @extschema@.recipe_ratings, @extschema@.recipe_features, '
                           '@extschema@.nutrition_entries, @extschema@.nutrition_goals, @extschema@.cooking_sessions, '
                           '@extschema@.payments, @extschema@.payment_status_history, @extschema@.food_rules, '
                           '@extschema@.mongo_attachment TO %I', rs.role);
            EXECUTE format('GRANT SELECT (%s) ON @extschema@.users TO %I',
                           (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) FROM pg_attribute a
                            WHERE a.attrelid = '@extschema@.users'::regclass AND a.attnum > 0 AND NOT a.attisdropped
                              AND a.attname <> 'password_hash'),
                           rs.role);
            IF attached THEN
                EXECUTE format('GRANT SELECT ON @extschema@.recipe_full, @extschema@.user_full_profile, '
                               '@extschema@.cooking_session_analytics, @extschema@.nutrition_vs_goals TO %I', rs.role);
            END IF;
        END IF;
    END LOOP;

    -- per-user isolation: a permissive policy for everyone, and for the
    -- isolated roles a restrictive one on the user's own rows
    SELECT string_agg(quote_ident(r.role), ', ' ORDER BY r.role) INTO isolated
    FROM @extschema@.role_setup r
    WHERE r.user_isolation AND EXISTS (SELECT FROM pg_roles x WHERE x.rolname = r.role);
    FOR t IN SELECT * FROM (VALUES
        ('users', 'id', 'ALL'), ('payments', 'user_id', 'ALL'), ('nutrition_goals', 'user_id', 'ALL'),
        ('nutrition_entries', 'user_id', 'ALL'), ('chat_messages', 'user_id', 'ALL'),
        ('cooking_sessions', 'user_id', 'ALL'), ('recipe_ratings', 'user_id', 'INSERT'),
        ('recipe_ratings', 'user_id', 'UPDATE'), ('recipe_ratings', 'user_id', 'DELETE'),
        ('payment_status_history', NULL, 'ALL'), ('event_log', 'user_id', 'ALL'),
        ('recipes', 'created_by', 'INSERT'), ('recipes', 'created_by', 'UPDATE'),
        ('recipes', 'created_by', 'DELETE')) v(tab, col, cmd)
    LOOP
        FOR pol IN SELECT p.polname FROM pg_policy p
                   WHERE p.polrelid = format('@extschema@.%I', t.tab)::regclass
                     AND p.polname IN ('ng_all_rows', 'ng_user_isolation_' || lower(t.cmd))
        LOOP
            EXECUTE format('DROP POLICY %I ON @extschema@.%I', pol, t.tab);
        END LOOP;
        IF isolated IS NULL THEN
            EXECUTE format('ALTER TABLE @extschema@.%I DISABLE ROW LEVEL SECURITY', t.tab);
            CONTINUE;
        END IF;
        cmd := CASE WHEN t.col IS NULL
                    THEN '@extschema@.ng_app_user() IS NULL OR payment_id IN (SELECT p.id FROM @extschema@.payments p)'
                    ELSE format('@extschema@.ng_app_user() IS NULL OR %I OPERATOR(pg_catalog.=) @extschema@.ng_app_user()', t.col) END;
        EXECUTE format('CREATE POLICY ng_all_rows ON @extschema@.%I USING (true) WITH CHECK (true)', t.tab);
        EXECUTE format('CREATE POLICY %I ON @extschema@.%I AS RESTRICTIVE FOR %s TO %s %s',
                       'ng_user_isolation_' || lower(t.cmd), t.tab, t.cmd, isolated,
                       CASE t.cmd WHEN 'INSERT' THEN format('WITH CHECK (%s)', cmd)
                                  WHEN 'DELETE' THEN format('USING (%s)', cmd)
                                  ELSE format('USING (%s) WITH CHECK (%s)', cmd, cmd) END);
        EXECUTE format('ALTER TABLE @extschema@.%I ENABLE ROW LEVEL SECURITY', t.tab);
    END LOOP;
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_apply_role_grants() IS 'grant the privileges of the roles in role_setup and (re)create the per-user isolation policies';
REVOKE EXECUTE ON FUNCTION @extschema@.ng_apply_role_grants() FROM PUBLIC;

CREATE FUNCTION ng_setup_app_role(role name, user_isolation boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = role) THEN
        RAISE EXCEPTION 'role "%" does not exist', role USING ERRCODE = 'undefined_object';
    END IF;
    INSERT INTO @extschema@.role_setup AS s (role, kind, user_isolation) VALUES (role, 'app', user_isolation)
    ON CONFLICT ON CONSTRAINT role_setup_pkey DO UPDATE SET kind = 'app', user_isolation = excluded.user_isolation;
    PERFORM @extschema@.ng_apply_role_grants();
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_setup_app_role(name, boolean) IS 'grant a role what the NutraGenie services need (tables, sequences, foreign tables, the server, ng_publish; never the outbox) and, with user_isolation, restrict it to the user in setting nutragenie_app.user_id';
REVOKE EXECUTE ON FUNCTION @extschema@.ng_setup_app_role(name, boolean) FROM PUBLIC;

CREATE FUNCTION ng_setup_analyst_role(role name)
RETURNS void
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = role) THEN
        RAISE EXCEPTION 'role "%" does not exist', role USING ERRCODE = 'undefined_object';
    END IF;
    INSERT INTO @extschema@.role_setup AS s (role, kind) VALUES (role, 'analyst')
    ON CONFLICT ON CONSTRAINT role_setup_pkey DO UPDATE SET kind = 'analyst', user_isolation = false;
    PERFORM @extschema@.ng_apply_role_grants();
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_setup_analyst_role(name) IS 'grant a role read access to the NutraGenie views and tables (no password hashes, chat messages or event log)';
REVOKE EXECUTE ON FUNCTION @extschema@.ng_setup_analyst_role(name) FROM PUBLIC;

-- unknown fields and out-of-range figures of a nutrition entry name the field
CREATE OR REPLACE FUNCTION ng_log_nutrition(entries jsonb)
RETURNS int
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    e jsonb;
    i int := 0;
    what text;
    k text;
    missing bigint;
    n int;
    cap numeric;
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    IF jsonb_typeof(entries) = 'object' THEN
        entries := jsonb_build_array(entries);
    ELSIF jsonb_typeof(entries) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'entries must be a JSON array of objects' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR e IN SELECT x FROM jsonb_array_elements(entries) x LOOP
        i := i + 1;
        what := format('entry %s', i);
        IF jsonb_typeof(e) <> 'object' THEN
            RAISE EXCEPTION '% must be a JSON object', what USING ERRCODE = 'invalid_parameter_value';
        END IF;
        PERFORM @extschema@.ng_check_keys(e, ARRAY['userId', 'date', 'mealType', 'foodName', 'calories', 'proteinG',
                                                   'carbsG', 'fatG', 'recipeId'], what);
        PERFORM @extschema@.ng_check_field(e, 'userId', 'integer', true, what);
        PERFORM @extschema@.ng_check_field(e, 'date', 'date', true, what);
        PERFORM @extschema@.ng_check_field(e, 'foodName', 'text', true, what);
        PERFORM @extschema@.ng_check_field(e, 'calories', 'number', true, what);
        PERFORM @extschema@.ng_check_field(e, 'recipeId', 'integer', false, what);
        FOREACH k IN ARRAY ARRAY['calories', 'proteinG', 'carbsG', 'fatG'] LOOP
            IF (@extschema@.ng_check_field(e, k, 'number', false, what))::numeric < 0 THEN
                RAISE EXCEPTION 'field "%" of % must not be negative', k, what
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            -- the columns' range: numeric(7,1) for calories, (6,1) for grams
            cap := CASE k WHEN 'calories' THEN 1000000 ELSE 100000 END;
            IF (e ->> k)::numeric >= cap THEN
                RAISE EXCEPTION 'field "%" of % must be less than %', k, what, cap
                    USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', e -> k);
            END IF;
        END LOOP;
        IF @extschema@.ng_check_field(e, 'mealType', 'text', false, what) IS NOT NULL
           AND (e ->> 'mealType') NOT IN ('breakfast', 'lunch', 'dinner', 'snack') THEN
            RAISE EXCEPTION 'field "mealType" of % must be one of breakfast, lunch, dinner, snack', what
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;
    IF i = 0 THEN
        RETURN 0;
    END IF;
    SELECT (x ->> 'userId')::bigint INTO missing FROM jsonb_array_elements(entries) x
    WHERE NOT EXISTS (SELECT FROM @extschema@.users u WHERE u.id = (x ->> 'userId')::bigint) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'user % does not exist', missing USING ERRCODE = 'no_data_found';
    END IF;

    -- one statement: the trigger on nutrition_entries refreshes each user's
    -- nutritionAnalytics once
    INSERT INTO @extschema@.nutrition_entries (user_id, entry_date, meal_type, food_name, recipe_id,
                                               calories, protein_g, carbs_g, fat_g)
    SELECT (x ->> 'userId')::bigint, (x ->> 'date')::date, coalesce(x ->> 'mealType', 'snack'),
           x ->> 'foodName', (x ->> 'recipeId')::bigint, (x ->> 'calories')::numeric,
           (x ->> 'proteinG')::numeric, (x ->> 'carbsG')::numeric, (x ->> 'fatG')::numeric
    FROM jsonb_array_elements(entries) WITH ORDINALITY AS t(x, o)
    ORDER BY o;
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM @extschema@.ng_publish('nutrition.logged', jsonb_build_object('entries', n));
    RETURN n;
END
$fn$;
COMMENT ON FUNCTION ng_log_nutrition(jsonb) IS 'log a batch of daily nutrition entries (userId, date, mealType, foodName, calories, proteinG, carbsG, fatG, recipeId) in one statement; the trigger refreshes the users'' nutrition analytics in MongoDB; returns the number of entries';

-- a session of another user is not found while a request acts for a user
CREATE OR REPLACE FUNCTION ng_log_voice_interaction(session_id bigint, interaction jsonb)
RETURNS int
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
DECLARE
    what constant text := 'the interaction';
    s @extschema@.cooking_sessions;
    d record;
    n int;
    step int;
    progress jsonb;
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    IF jsonb_typeof(interaction) <> 'object' THEN
        RAISE EXCEPTION 'the interaction must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT (interaction ? 'transcript' OR interaction ? 'command') THEN
        RAISE EXCEPTION 'the interaction needs the field "transcript" or "command"'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM @extschema@.ng_check_field(interaction, 'transcript', 'text', false, what);
    PERFORM @extschema@.ng_check_field(interaction, 'command', 'text', false, what);
    PERFORM @extschema@.ng_check_field(interaction, 'response', 'text', false, what);
    PERFORM @extschema@.ng_check_field(interaction, 'durationMs', 'number', false, what);
    PERFORM @extschema@.ng_check_field(interaction, 'stepCompleted', 'boolean', false, what);
    step := @extschema@.ng_check_field(interaction, 'step', 'integer', false, what);

    -- the row lock serializes interactions of one session
    SELECT * INTO s FROM @extschema@.cooking_sessions x
    WHERE x.id = session_id AND @extschema@.ng_acting_for(x.user_id) FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'cooking session % does not exist', session_id USING ERRCODE = 'no_data_found';
    END IF;
    IF s.status <> 'active' THEN
        RAISE EXCEPTION 'cooking session % is %', session_id, s.status
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF step IS NOT NULL AND (step < 1 OR (s.total_steps > 0 AND step > s.total_steps)) THEN
        RAISE EXCEPTION 'field "step" of the interaction must be between 1 and %', greatest(s.total_steps, 1)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT x.voice_interactions, x.step_progress INTO d
    FROM @extschema@.cooking_session_details x WHERE x._id = s.mongodb_session_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the detail document of cooking session % is missing', session_id
            USING ERRCODE = 'no_data_found', HINT = 'Run nutragenie.ng_repair_consistency(false).';
    END IF;

    n := coalesce(jsonb_array_length(d.voice_interactions), 0) + 1;
    progress := coalesce(d.step_progress, '[]');
    IF step IS NOT NULL AND coalesce((interaction ->> 'stepCompleted')::boolean, false)
       AND NOT progress @> jsonb_build_array(jsonb_build_object('step', step)) THEN
        progress := progress || jsonb_build_array(jsonb_build_object(
            'step', step, 'completedAt', @extschema@.ng_bson_date(now())));
    END IF;
    -- the element carries its sequence number: re-applying the update
    -- (absolute $set of the array) cannot duplicate it
    UPDATE @extschema@.cooking_session_details
    SET voice_interactions = coalesce(d.voice_interactions, '[]')
            || jsonb_build_array(jsonb_build_object('seq', n, 'at', @extschema@.ng_bson_date(now())) || interaction),
        step_progress = progress, updated_at = date_trunc('milliseconds', now())
    WHERE _id = s.mongodb_session_id;
    UPDATE @extschema@.cooking_sessions
    SET voice_interactions = n, steps_completed = jsonb_array_length(progress), updated_at = date_trunc('milliseconds', now())
    WHERE id = s.id;
    RETURN n;
END
$fn$;

COMMENT ON FUNCTION ng_log_voice_interaction(bigint, jsonb) IS 'append a voice interaction (transcript or command, response, step, stepCompleted, durationMs) to an active session''s document and touch its row; returns the number of interactions';
-- The functions that read or write the per-user collections
-- (user_profiles, user_behavior, cooking_session_details) run as the
-- extension's owner, so that an isolated application role needs no
-- privilege on them; the services among them find their rows with
-- ng_acting_for, the triggers and helpers act on rows the caller could
-- change.
DO $secdef$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['ng_users_after_insert()', 'ng_users_after_delete()', 'ng_sessions_changed()',
                             'ng_behavior_documents(bigint[])', 'ng_apply_ratings(bigint[], bigint[])',
                             'ng_apply_nutrition(bigint[])', 'ng_refresh_behavior(bigint[])',
                             'ng_update_user(bigint, jsonb)', 'ng_search_recipes(jsonb, int)',
                             'ng_start_cooking_session(bigint, bigint, text)', 'ng_log_voice_interaction(bigint, jsonb)',
                             'ng_end_cooking_session(bigint, text, text)', 'ng_cooking_progress(bigint)'] LOOP
        EXECUTE pg_catalog.format('ALTER FUNCTION @extschema@.%s SECURITY DEFINER', f);
        -- they bypass the table privileges: only the application roles
        -- (ng_apply_role_grants) and the owner may call them
        IF f !~ '^ng_(users_after_insert|users_after_delete|sessions_changed)\(' THEN
            EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION @extschema@.%s FROM PUBLIC', f);
        END IF;
    END LOOP;
END
$secdef$;

-- Every function above with a pinned search_path gets the same one: this
-- extension's schema and the schema nutragenie_fdw was installed into (found
-- here, at install time: PostgreSQL 15 has no @extschema:name@), pg_catalog
-- first and pg_temp last.  The functions name the FDW's type and functions
-- (objectid, objectid_generate) without a schema and resolve them through
-- this path; the FDW's queue and administration functions are in the fixed
-- schema nutragenie_fdw and named with it.  ng_migrate_to_mongo, which
-- cannot have a SET clause, reads the path from ng_require_mongo.
DO $pin$
DECLARE
    fdw_schema name := (SELECT n.nspname
                        FROM pg_catalog.pg_extension e
                        JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
                        WHERE e.extname OPERATOR(pg_catalog.=) 'nutragenie_fdw');
    path text;
    writer text;
    f record;
BEGIN
    IF fdw_schema IS NULL THEN
        RAISE EXCEPTION 'extension "nutragenie_fdw" is not installed'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    -- A role that can create objects in a schema on this path could make
    -- the app's functions run its code (an overload that matches better
    -- than pg_catalog's), with the caller's rights: the FDW's schema must
    -- be writable by its owner (and superusers) only.
    IF fdw_schema OPERATOR(pg_catalog.<>) '@extschema@' THEN
        SELECT r.rolname INTO writer
        FROM pg_catalog.pg_namespace n, pg_catalog.pg_roles r
        WHERE n.nspname OPERATOR(pg_catalog.=) fdw_schema
          AND NOT r.rolsuper
          AND pg_catalog.has_schema_privilege(r.oid, n.oid, 'CREATE')
          AND NOT pg_catalog.pg_has_role(r.oid, n.nspowner, 'USAGE')
        ORDER BY r.rolname LIMIT 1;
        IF writer IS NULL AND EXISTS (
                SELECT FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) a
                WHERE n.nspname OPERATOR(pg_catalog.=) fdw_schema
                  AND a.grantee OPERATOR(pg_catalog.=) 0
                  AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE') THEN
            writer := 'PUBLIC';
        END IF;
        IF writer IS NOT NULL THEN
            RAISE EXCEPTION 'schema "%" of extension "nutragenie_fdw" is writable by roles other than its owner',
                            fdw_schema
                USING ERRCODE = 'insufficient_privilege',
                      DETAIL = pg_catalog.format('The app''s functions find the type objectid through this schema, and %s may create objects in it that they would run.',
                                                 CASE writer WHEN 'PUBLIC' THEN 'every role' ELSE pg_catalog.format('role "%s"', writer) END),
                      HINT = pg_catalog.format('Revoke CREATE on schema %I from roles other than its owner, or install nutragenie_fdw into a schema of its own (CREATE SCHEMA mongo; CREATE EXTENSION nutragenie_fdw SCHEMA mongo;) before the app.', fdw_schema);
        END IF;
    END IF;
    path := CASE WHEN fdw_schema OPERATOR(pg_catalog.=) '@extschema@'
                 THEN pg_catalog.format('pg_catalog, %I, pg_temp', '@extschema@')
                 ELSE pg_catalog.format('pg_catalog, %I, %I, pg_temp', '@extschema@', fdw_schema) END;
    FOR f IN
        SELECT p.oid::pg_catalog.regprocedure AS fn, p.prokind
        FROM pg_catalog.pg_proc p
        JOIN pg_catalog.pg_depend d ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
                                   AND d.objid OPERATOR(pg_catalog.=) p.oid AND d.deptype OPERATOR(pg_catalog.=) 'e'
        JOIN pg_catalog.pg_extension e ON e.oid OPERATOR(pg_catalog.=) d.refobjid
        WHERE e.extname OPERATOR(pg_catalog.=) 'nutragenie'
          AND EXISTS (SELECT FROM pg_catalog.unnest(p.proconfig) c
                      WHERE pg_catalog.starts_with(c, 'search_path='))
        ORDER BY p.oid
    LOOP
        EXECUTE pg_catalog.format('ALTER %s %s SET search_path = %s',
                                  CASE f.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, f.fn, path);
    END LOOP;
END
$pin$;
