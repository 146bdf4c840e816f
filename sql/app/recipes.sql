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
