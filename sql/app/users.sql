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
