-- -------------------------------------------------------------- helpers

CREATE FUNCTION ng_mongo_server()
RETURNS name
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$ SELECT server FROM @extschema@.mongo_attachment $$;

COMMENT ON FUNCTION ng_mongo_server() IS 'the foreign server the NutraGenie collections are attached to, NULL before ng_attach_mongo';

CREATE FUNCTION ng_require_mongo()
RETURNS name
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $$
DECLARE
    srv name := @extschema@.ng_mongo_server();
BEGIN
    IF srv IS NULL THEN
        RAISE EXCEPTION 'the NutraGenie collections are not attached'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Create a nutragenie_fdw server and run nutragenie.ng_attach_mongo(server).';
    END IF;
    RETURN srv;
END
$$;

COMMENT ON FUNCTION ng_require_mongo() IS 'the attached server; an error when ng_attach_mongo has not run';
CREATE FUNCTION ng_bson_date(ts timestamptz)
RETURNS jsonb
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$
    SELECT pg_catalog.jsonb_build_object('$date',
        pg_catalog.to_char($1 AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
$$;

COMMENT ON FUNCTION ng_bson_date(timestamptz) IS 'a timestamp as an Extended JSON date ({"$date": ...}), stored by MongoDB as a BSON date';

CREATE FUNCTION ng_check_field(obj jsonb, field text, kind text, required boolean, what text)
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

CREATE FUNCTION ng_check_keys(obj jsonb, fields text[], what text)
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

COMMENT ON FUNCTION ng_check_keys(jsonb, text[], text) IS 'invalid_parameter_value naming the first field of a jsonb argument that is not one of fields';

COMMENT ON FUNCTION ng_check_field(jsonb, text, text, boolean, text) IS 'the field of a jsonb argument, checked to be of a kind (integer, number, text, text_array, date, object, array, boolean); invalid_parameter_value naming the field otherwise';
-- SECURITY DEFINER: the application roles may not write event_log
-- themselves.  While a request acts for a user (ng_app_user()), only the
-- extension's functions and triggers may publish: a direct call is refused.
CREATE FUNCTION ng_publish(event text, payload jsonb)
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
REVOKE EXECUTE ON FUNCTION ng_publish(text, jsonb) FROM PUBLIC;

-- -------------------------------------------------------------- attaching MongoDB

CREATE FUNCTION ng_detach_mongo()
RETURNS boolean
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $$
DECLARE
    was boolean := @extschema@.ng_mongo_server() IS NOT NULL;
    obj regclass;
BEGIN
    -- (quietly: "does not exist, skipping" notices are noise here)
    FOR obj IN SELECT c.oid::regclass FROM pg_class c
               WHERE c.relnamespace = '@extschema@'::regnamespace
                 AND c.relname IN ('recipe_full', 'user_full_profile', 'cooking_session_analytics',
                                   'nutrition_vs_goals')
                 AND c.relkind = 'v'
    LOOP
        EXECUTE format('DROP VIEW %s', obj);
    END LOOP;
    FOR obj IN SELECT c.oid::regclass FROM pg_class c
               WHERE c.relnamespace = '@extschema@'::regnamespace
                 AND c.relname IN ('recipe_content', 'user_profiles', 'cooking_session_details',
                                   'chef_personalities', 'user_behavior')
                 AND c.relkind = 'f'
    LOOP
        EXECUTE format('DROP FOREIGN TABLE %s', obj);
    END LOOP;
    DELETE FROM @extschema@.mongo_attachment;
    RETURN was;
END
$$;

COMMENT ON FUNCTION ng_detach_mongo() IS 'drop the NutraGenie foreign tables and views (MongoDB data is kept); returns whether they were attached';

CREATE FUNCTION ng_attach_mongo(server name, database text DEFAULT 'nutragenie')
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

COMMENT ON FUNCTION ng_attach_mongo(name, text) IS 'create the NutraGenie collections and indexes in a MongoDB database and the foreign tables and views over them (idempotent: recreates them)';
