-- -------------------------------------------------------------- recipes

CREATE FUNCTION ng_full_recipe(recipe_id bigint)
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

COMMENT ON FUNCTION ng_full_recipe(bigint) IS 'a recipe: PostgreSQL metadata and ratings merged with its MongoDB content; NULL for an unknown id, "contentMissing": true when the document is missing';

CREATE FUNCTION ng_create_recipe(recipe jsonb)
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

COMMENT ON FUNCTION ng_create_recipe(jsonb) IS 'create a recipe: the PostgreSQL row and the MongoDB content document, each naming the other, in the caller''s transaction; returns the recipe id';

CREATE FUNCTION ng_popular_recipes(lim int DEFAULT 10)
RETURNS TABLE (rank int, recipe_id bigint, title text, category text,
               average_rating numeric, rating_count int, score numeric, content jsonb)
LANGUAGE plpgsql STABLE STRICT PARALLEL RESTRICTED
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    IF lim < 1 OR lim > 1000 THEN
        RAISE EXCEPTION 'lim must be between 1 and 1000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- rank in PostgreSQL: a Bayesian average (5 virtual votes at the
    -- overall mean) so that one 5-star vote does not top the list
    RETURN QUERY
    WITH top AS MATERIALIZED (
        SELECT row_number() OVER (ORDER BY t.score DESC, t.n DESC, r.id)::int AS rank, r.id,
               r.title, r.category, round(t.avg, 2) AS avg, t.n::int AS n,
               round(t.score, 3) AS score, r.mongodb_recipe_id AS oid
        FROM (SELECT rr.recipe_id, count(*) AS n, avg(rr.rating) AS avg,
                     (sum(rr.rating) + 5 * (SELECT avg(x.rating) FROM @extschema@.recipe_ratings x))
                     / (count(*) + 5) AS score
              FROM @extschema@.recipe_ratings rr GROUP BY rr.recipe_id) t
        JOIN @extschema@.recipes r ON r.id = t.recipe_id
        ORDER BY t.score DESC, t.n DESC, r.id
        LIMIT lim),
    -- one find with {"_id": {"$in": [...]}} for all of them
    docs AS MATERIALIZED (
        SELECT c._id, c.description, c.cuisine, c.nutrition, c.tags, c.ingredients, c.steps
        FROM @extschema@.recipe_content c
        WHERE c._id = ANY (ARRAY(SELECT top.oid FROM top WHERE top.oid IS NOT NULL)))
    SELECT p.rank, p.id, p.title, p.category, p.avg, p.n, p.score,
           CASE WHEN d._id IS NOT NULL THEN jsonb_build_object(
               'description', d.description, 'cuisine', d.cuisine, 'nutrition', d.nutrition,
               'tags', to_jsonb(d.tags), 'ingredients', d.ingredients, 'steps', d.steps) END
    FROM top p LEFT JOIN docs d ON d._id = p.oid
    ORDER BY p.rank;
END
$fn$;

COMMENT ON FUNCTION ng_popular_recipes(int) IS 'the best-rated recipes (Bayesian average of ratings, computed in PostgreSQL) with their MongoDB content fetched in one request; content is NULL when the document is missing';

CREATE FUNCTION ng_rate_recipe(user_id bigint, recipe_id bigint, rating int, review text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
DECLARE
    r @extschema@.recipes;
BEGIN
    IF user_id IS NULL OR recipe_id IS NULL OR rating IS NULL THEN
        RAISE EXCEPTION 'user_id, recipe_id and rating must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF rating NOT BETWEEN 1 AND 5 THEN
        RAISE EXCEPTION 'rating must be between 1 and 5' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('Got %s.', rating);
    END IF;
    PERFORM @extschema@.ng_require_mongo();
    IF NOT EXISTS (SELECT FROM @extschema@.users u WHERE u.id = ng_rate_recipe.user_id) THEN
        RAISE EXCEPTION 'user % does not exist', user_id USING ERRCODE = 'no_data_found';
    END IF;
    IF NOT EXISTS (SELECT FROM @extschema@.recipes x WHERE x.id = ng_rate_recipe.recipe_id) THEN
        RAISE EXCEPTION 'recipe % does not exist', recipe_id USING ERRCODE = 'no_data_found';
    END IF;
    INSERT INTO @extschema@.recipe_ratings AS rr (user_id, recipe_id, rating, review)
    VALUES (ng_rate_recipe.user_id, ng_rate_recipe.recipe_id, ng_rate_recipe.rating, ng_rate_recipe.review)
    ON CONFLICT ON CONSTRAINT recipe_ratings_pkey DO UPDATE
        SET rating = excluded.rating, review = excluded.review, updated_at = date_trunc('milliseconds', now());
    SELECT * INTO r FROM @extschema@.recipes x WHERE x.id = ng_rate_recipe.recipe_id;
    RETURN jsonb_build_object('recipeId', r.id, 'userId', user_id, 'rating', rating,
                              'averageRating', r.average_rating, 'ratingCount', r.rating_count);
END
$fn$;

COMMENT ON FUNCTION ng_rate_recipe(bigint, bigint, int, text) IS 'rate a recipe 1 to 5 (again: replaces the user''s rating); updates the aggregates in PostgreSQL and the rating analytics in MongoDB together';

-- -------------------------------------------------------------- users

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

CREATE FUNCTION ng_create_user("user" jsonb)
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

COMMENT ON FUNCTION ng_create_user(jsonb) IS 'create a user (email, password or passwordHash, nickname, firstName, lastName, dateOfBirth, gender, heightCm, weightKg) and the profile document (dietaryProfile, cookingProfile, defaults filled in) in one transaction; returns the user id';

CREATE FUNCTION ng_user_full_profile(user_id bigint)
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

COMMENT ON FUNCTION ng_user_full_profile(bigint) IS 'a user (without the password hash) with the MongoDB profile and behaviour documents, current goal and activity counts; NULL for an unknown id, "profileMissing": true when the profile document is missing';

-- -------------------------------------------------------------- cooking sessions

CREATE FUNCTION ng_start_cooking_session(user_id bigint, recipe_id bigint, mode text DEFAULT 'voice')
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

COMMENT ON FUNCTION ng_start_cooking_session(bigint, bigint, text) IS 'start a cooking session (voice, manual or guided): the PostgreSQL row and the MongoDB detail document; returns the session id';

CREATE FUNCTION ng_log_voice_interaction(session_id bigint, interaction jsonb)
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

-- -------------------------------------------------------------- nutrition

CREATE FUNCTION ng_log_nutrition(entries jsonb)
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
