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
    what constant text := 'the recipe';
    oid objectid := objectid_generate();
    new_id bigint;
    difficulty int;
    creator bigint;
    steps jsonb;
    ingredients jsonb;
    nutrition jsonb;
    k text;
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    IF jsonb_typeof(recipe) <> 'object' THEN
        RAISE EXCEPTION 'the recipe must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM @extschema@.ng_check_field(recipe, 'title', 'text', true, what);
    PERFORM @extschema@.ng_check_field(recipe, 'category', 'text', false, what);
    PERFORM @extschema@.ng_check_field(recipe, 'description', 'text', false, what);
    PERFORM @extschema@.ng_check_field(recipe, 'cuisine', 'text', false, what);
    PERFORM @extschema@.ng_check_field(recipe, 'tags', 'text_array', false, what);
    difficulty := @extschema@.ng_check_field(recipe, 'difficultyLevel', 'integer', false, what);
    IF difficulty NOT BETWEEN 1 AND 5 THEN
        RAISE EXCEPTION 'field "difficultyLevel" of the recipe must be between 1 and 5'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', difficulty);
    END IF;
    FOREACH k IN ARRAY ARRAY['prepTimeMinutes', 'cookTimeMinutes', 'servings'] LOOP
        IF (@extschema@.ng_check_field(recipe, k, 'integer', false, what))::int < 0 THEN
            RAISE EXCEPTION 'field "%" of the recipe must not be negative', k
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;
    creator := @extschema@.ng_check_field(recipe, 'createdBy', 'integer', false, what);
    IF creator IS NOT NULL AND NOT EXISTS (SELECT FROM @extschema@.users WHERE id = creator) THEN
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

    INSERT INTO @extschema@.recipes (title, category, difficulty_level, prep_time_minutes,
                                     cook_time_minutes, servings, created_by, mongodb_recipe_id)
    VALUES (recipe ->> 'title', coalesce(recipe ->> 'category', 'main'), coalesce(difficulty, 1),
            (recipe ->> 'prepTimeMinutes')::int, (recipe ->> 'cookTimeMinutes')::int,
            (recipe ->> 'servings')::int, creator, oid)
    RETURNING id INTO new_id;

    INSERT INTO @extschema@.recipe_content (_id, doc)
    VALUES (oid, jsonb_strip_nulls(jsonb_build_object(
        'postgresId', new_id, 'title', recipe ->> 'title',
        'description', recipe -> 'description', 'cuisine', recipe -> 'cuisine',
        'ingredients', ingredients, 'steps', steps, 'nutrition', nutrition,
        'tags', coalesce(recipe -> 'tags', '[]'),
        'createdAt', @extschema@.ng_bson_date(now()),
        'updatedAt', @extschema@.ng_bson_date(now()))));
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
    IF NOT EXISTS (SELECT FROM @extschema@.users u WHERE u.id = ng_start_cooking_session.user_id) THEN
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
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    -- one find per collection, fetching _id, the back-reference and the
    -- derived values only
    RETURN QUERY
    WITH p AS MATERIALIZED (SELECT x._id, x.postgres_user_id AS ref FROM @extschema@.user_profiles x),
         c AS MATERIALIZED (SELECT x._id, x.postgres_id AS ref, x.rating_analytics AS analytics
                            FROM @extschema@.recipe_content x),
         d AS MATERIALIZED (SELECT x._id, x.postgres_session_id AS ref FROM @extschema@.cooking_session_details x),
         b AS MATERIALIZED (SELECT x._id, x.rating_stats, x.nutrition_analytics FROM @extschema@.user_behavior x),
         ra AS MATERIALIZED (SELECT * FROM @extschema@.ng_rating_aggregates(ARRAY(SELECT r.id FROM @extschema@.recipes r))),
         rs AS MATERIALIZED (SELECT * FROM @extschema@.ng_rating_stats(ARRAY(SELECT u.id FROM @extschema@.users u))),
         na AS MATERIALIZED (SELECT * FROM @extschema@.ng_nutrition_analytics(ARRAY(SELECT u.id FROM @extschema@.users u))),
         issues AS (
        -- users and user_profiles
        SELECT 'user_without_profile' AS issue, 'users' AS pg_table, u.id AS pg_id,
               'user_profiles' AS collection, u.mongodb_profile_id::text AS mongo_id,
               CASE WHEN u.profile IS NOT NULL THEN 'profile not migrated to MongoDB yet'
                    WHEN u.mongodb_profile_id IS NULL THEN 'users.mongodb_profile_id is NULL'
                    ELSE 'no document with this _id' END AS detail
        FROM @extschema@.users u LEFT JOIN p ON p._id = u.mongodb_profile_id
        WHERE p._id IS NULL
        UNION ALL
        SELECT 'profile_backref_mismatch', 'users', u.id, 'user_profiles', p._id::text,
               format('postgresUserId is %s', coalesce(p.ref::text, 'missing'))
        FROM @extschema@.users u JOIN p ON p._id = u.mongodb_profile_id
        WHERE p.ref IS DISTINCT FROM u.id
        UNION ALL
        SELECT 'orphan_profile', 'users', p.ref, 'user_profiles', p._id::text,
               'no user refers to this document'
        FROM p WHERE NOT EXISTS (SELECT FROM @extschema@.users u
                                 WHERE u.mongodb_profile_id = p._id)
        UNION ALL
        SELECT 'orphan_user_behavior', 'users', b._id, 'user_behavior', b._id::text,
               'no user with this id'
        FROM b WHERE NOT EXISTS (SELECT FROM @extschema@.users u WHERE u.id = b._id)
        UNION ALL
        -- recipes and recipe_content
        SELECT 'recipe_without_content', 'recipes', r.id, 'recipe_content', r.mongodb_recipe_id::text,
               CASE WHEN r.content IS NOT NULL THEN 'content not migrated to MongoDB yet'
                    WHEN r.mongodb_recipe_id IS NULL THEN 'recipes.mongodb_recipe_id is NULL'
                    ELSE 'no document with this _id' END
        FROM @extschema@.recipes r LEFT JOIN c ON c._id = r.mongodb_recipe_id
        WHERE c._id IS NULL
        UNION ALL
        SELECT 'recipe_backref_mismatch', 'recipes', r.id, 'recipe_content', c._id::text,
               format('postgresId is %s', coalesce(c.ref::text, 'missing'))
        FROM @extschema@.recipes r JOIN c ON c._id = r.mongodb_recipe_id
        WHERE c.ref IS DISTINCT FROM r.id
        UNION ALL
        SELECT 'orphan_recipe_content', 'recipes', c.ref, 'recipe_content', c._id::text,
               'no recipe refers to this document'
        FROM c WHERE NOT EXISTS (SELECT FROM @extschema@.recipes r
                                 WHERE r.mongodb_recipe_id = c._id)
        UNION ALL
        -- cooking_sessions and cooking_session_details
        SELECT 'session_without_details', 'cooking_sessions', s.id, 'cooking_session_details',
               s.mongodb_session_id::text,
               CASE WHEN s.mongodb_session_id IS NULL THEN 'cooking_sessions.mongodb_session_id is NULL'
                    ELSE 'no document with this _id' END
        FROM @extschema@.cooking_sessions s LEFT JOIN d ON d._id = s.mongodb_session_id
        WHERE d._id IS NULL
        UNION ALL
        SELECT 'session_backref_mismatch', 'cooking_sessions', s.id, 'cooking_session_details', d._id::text,
               format('postgresSessionId is %s', coalesce(d.ref::text, 'missing'))
        FROM @extschema@.cooking_sessions s JOIN d ON d._id = s.mongodb_session_id
        WHERE d.ref IS DISTINCT FROM s.id
        UNION ALL
        SELECT 'orphan_session_details', 'cooking_sessions', d.ref, 'cooking_session_details', d._id::text,
               'no cooking session refers to this document'
        FROM d WHERE NOT EXISTS (SELECT FROM @extschema@.cooking_sessions s
                                 WHERE s.mongodb_session_id = d._id)
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
    ORDER BY i.issue, i.pg_id NULLS LAST, i.pg_table, i.collection NULLS FIRST, i.mongo_id;
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

        -- the pair: the row's pointer to its document, the document's
        -- back-reference, the PostgreSQL-first column a new document is
        -- made from, and the function that makes it
        SELECT * INTO p FROM (VALUES
            ('users', 'user_profiles', 'mongodb_profile_id', 'postgres_user_id', 'postgresUserId',
             'user', 'profile', 'ng_profile_document',
             'create a profile document from users.profile', 'create a profile document with defaults'),
            ('recipes', 'recipe_content', 'mongodb_recipe_id', 'postgres_id', 'postgresId',
             'recipe', 'content', 'ng_recipe_document',
             'create the content document from recipes.content', 'create a placeholder content document'),
            ('cooking_sessions', 'cooking_session_details', 'mongodb_session_id', 'postgres_session_id',
             'postgresSessionId', 'cooking session', NULL, 'ng_session_document',
             NULL, 'create a detail document from the session row'))
            AS v(tab, coll, pointer, backref, backref_field, noun, source, builder,
                 migrate_action, create_action)
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
    -- per kind: the table, its jsonb column, its reference column, the
    -- collection, the document of a row r, and the kind's name
    tabs CONSTANT pg_catalog.text[] := ARRAY['recipes', 'users'];
    cols CONSTANT pg_catalog.text[] := ARRAY['content', 'profile'];
    refs CONSTANT pg_catalog.text[] := ARRAY['mongodb_recipe_id', 'mongodb_profile_id'];
    colls CONSTANT pg_catalog.text[] := ARRAY['recipe_content', 'user_profiles'];
    docs CONSTANT pg_catalog.text[] := ARRAY['@extschema@.ng_recipe_document(r)',
                                             '@extschema@.ng_profile_document(r.id, r.profile)'];
    names CONSTANT pg_catalog.text[] := ARRAY['recipes', 'user profiles'];
    total bigint[] := ARRAY[0, 0];
    done bigint[] := ARRAY[0, 0];
    n bigint;
BEGIN
    PERFORM pg_catalog.set_config('search_path', pinned, true);
    PERFORM @extschema@.ng_require_mongo();
    IF batch_size IS NULL OR batch_size < 1 THEN
        RAISE EXCEPTION 'batch_size must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
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
                           ' SELECT r.id, coalesce(r.%2$I, objectid_generate()), %4$s'
                           ' FROM @extschema@.%1$I r WHERE r.%3$I IS NOT NULL OR r.%2$I IS NULL'
                           ' ORDER BY r.id LIMIT $1 FOR UPDATE',
                           tabs[i], refs[i], cols[i], docs[i])
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
    RAISE NOTICE 'migration complete: % recipes, % user profiles', done[1], done[2];
    PERFORM pg_catalog.set_config('search_path', caller_path, true);
END
$fn$;

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
    f record;
BEGIN
    IF fdw_schema IS NULL THEN
        RAISE EXCEPTION 'extension "nutragenie_fdw" is not installed'
            USING ERRCODE = 'object_not_in_prerequisite_state';
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
