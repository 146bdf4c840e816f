CREATE OR REPLACE FUNCTION @extschema@.ng_create_recipe(recipe jsonb)
RETURNS bigint
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    oid @fdw@.objectid := @fdw@.objectid_generate();
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
            (recipe ->> 'servings')::int, (recipe ->> 'createdBy')::bigint, oid)
    RETURNING id INTO new_id;

    doc := jsonb_strip_nulls(jsonb_build_object(
        'postgresId', new_id, 'title', recipe ->> 'title',
        'description', recipe -> 'description', 'cuisine', recipe -> 'cuisine',
        'ingredients', norm -> 'ingredients', 'steps', norm -> 'steps', 'nutrition', norm -> 'nutrition',
        'tags', norm -> 'tags',
        'createdAt', @extschema@.ng_bson_date(now()),
        'updatedAt', @extschema@.ng_bson_date(now())));
    INSERT INTO @extschema@.recipe_content (_id, doc) VALUES (oid, doc);
    PERFORM @extschema@.ng_store_recipe_features(ARRAY[new_id], ARRAY[doc]);
    RETURN new_id;
END
$fn$;

CREATE OR REPLACE FUNCTION @extschema@.ng_create_user("user" jsonb)
RETURNS bigint
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    what constant text := 'the user';
    u jsonb := "user";
    new_id bigint;
    k text;
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
    IF EXISTS (SELECT FROM @extschema@.users x WHERE lower(x.email) = lower(u ->> 'email')) THEN
        RAISE EXCEPTION 'a user with email "%" already exists', u ->> 'email'
            USING ERRCODE = 'unique_violation';
    END IF;

    -- the AFTER INSERT trigger turns the profile into the user_profiles
    -- document and clears the column
    INSERT INTO @extschema@.users (email, password_hash, nickname, first_name, last_name,
                                   date_of_birth, gender, height_cm, weight_kg, profile)
    VALUES (u ->> 'email', coalesce(u ->> 'passwordHash', @extschema@.ng_hash_password(u ->> 'password')), u ->> 'nickname', u ->> 'firstName',
            u ->> 'lastName', (u ->> 'dateOfBirth')::date, u ->> 'gender',
            (u ->> 'heightCm')::numeric, (u ->> 'weightKg')::numeric,
            jsonb_strip_nulls(jsonb_build_object('dietaryProfile', u -> 'dietaryProfile',
                                                 'cookingProfile', u -> 'cookingProfile')))
    RETURNING id INTO new_id;
    RETURN new_id;
END
$fn$;

