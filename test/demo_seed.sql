-- test/demo_seed.sql: the demo's data generator, nutragenie_demo.ng_seed_demo
-- (not part of the extensions: demo data does not belong in the production
-- schema).  Loaded by "make demo" (test/demo.sql), the tests that seed the
-- domain and bench/; run it again to replace the function.  Needs the
-- extension nutragenie; runs with the search_path of the app's functions.

DO $schema$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_namespace n
                   WHERE n.nspname OPERATOR(pg_catalog.=) 'nutragenie_demo') THEN
        CREATE SCHEMA nutragenie_demo;
    END IF;
END
$schema$;
COMMENT ON SCHEMA nutragenie_demo IS 'NutraGenie demo data generator (test/demo_seed.sql)';

CREATE OR REPLACE FUNCTION nutragenie_demo.ng_seed_demo(users int, recipes int, sessions int)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
AS $fn$
#variable_conflict use_variable
DECLARE
    ubase bigint;
    user_ids bigint[];
    recipe_ids bigint[];
    nratings int;
    nentries int;
    nsessions int;
    nchefs int;
    base_ts constant timestamptz := '2026-01-05 07:00:00+00';
BEGIN
    PERFORM nutragenie.ng_require_mongo();
    IF users NOT BETWEEN 1 AND 100000 OR recipes NOT BETWEEN 1 AND 100000 OR sessions NOT BETWEEN 0 AND 100000 THEN
        RAISE EXCEPTION 'users and recipes must be between 1 and 100000, sessions between 0 and 100000'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- AI chefs (fixed ids: seeding again keeps them)
    -- (NOT EXISTS rather than ON CONFLICT DO NOTHING: a multi-row ON
    -- CONFLICT on a foreign table crashes the engine, see the report)
    INSERT INTO nutragenie.chef_personalities (_id, doc)
    SELECT v.id, v.doc::jsonb FROM (VALUES
      ('chef_maria', '{"name": "Maria", "style": "warm and encouraging", "cuisines": ["italian", "mediterranean"],
        "greeting": "Ciao! Let''s cook something simple and delicious.",
        "adaptiveResponses": [{"trigger": "user_struggling", "response": "No worries, we can slow down. Tell me when you are ready."},
                              {"trigger": "step_completed", "response": "Perfetto! On to the next step."},
                              {"trigger": "substitution", "response": "Good idea, that works just as well."}],
        "voice": {"pace": "slow", "tone": "friendly"}}'),
      ('chef_kenji', '{"name": "Kenji", "style": "precise and calm", "cuisines": ["japanese", "asian"],
        "greeting": "Welcome. Mise en place first, then we begin.",
        "adaptiveResponses": [{"trigger": "user_struggling", "response": "Breathe. Read the step again, one motion at a time."},
                              {"trigger": "step_completed", "response": "Clean work. Next."},
                              {"trigger": "timer", "response": "I will tell you when the time is up."}],
        "voice": {"pace": "medium", "tone": "calm"}}'),
      ('chef_lena', '{"name": "Lena", "style": "energetic, nutrition-focused", "cuisines": ["healthy", "vegan"],
        "greeting": "Hi! Ready for something tasty and good for you?",
        "adaptiveResponses": [{"trigger": "user_struggling", "response": "You have got this! Want a shortcut?"},
                              {"trigger": "step_completed", "response": "Great job, that is the protein sorted!"},
                              {"trigger": "nutrition_question", "response": "Let me pull up the macros for you."}],
        "voice": {"pace": "fast", "tone": "upbeat"}}')) v(id, doc)
    WHERE NOT EXISTS (SELECT FROM nutragenie.chef_personalities c WHERE c._id = v.id);
    SELECT count(*) INTO nchefs FROM nutragenie.chef_personalities;

    -- users: the AFTER INSERT trigger creates their profile documents
    SELECT coalesce(max(id), 0) INTO ubase FROM nutragenie.users;
    WITH ins AS (
        INSERT INTO nutragenie.users (email, password_hash, nickname, first_name, last_name,
                                       date_of_birth, gender, height_cm, weight_kg, profile)
        SELECT format('%s.%s%s@demo.nutragenie.app', lower(fn), lower(ln), ubase + g),
               'demo$' || md5('demo' || (ubase + g)), lower(fn) || (ubase + g), fn, ln,
               date '1970-01-01' + ((g * 397) % 12000), (ARRAY['female', 'male', 'other'])[1 + g % 3],
               150 + (g * 7) % 45, 50 + (g * 11) % 50,
               jsonb_build_object(
                   'dietaryProfile', jsonb_build_object(
                       'dietType', (ARRAY['omnivore', 'vegetarian', 'vegan', 'pescatarian', 'keto'])[1 + g % 5],
                       'allergies', (ARRAY['[]', '["peanuts"]', '["gluten"]', '[]', '["lactose", "shellfish"]']::jsonb[])[1 + g % 5],
                       'calorieTarget', 1600 + (g % 8) * 100),
                   'cookingProfile', jsonb_build_object(
                       'skillLevel', (ARRAY['beginner', 'intermediate', 'advanced'])[1 + g % 3],
                       'favoriteCuisines', (ARRAY['["italian"]', '["japanese", "thai"]', '["mexican"]', '["indian", "vegan"]']::jsonb[])[1 + g % 4],
                       'preferredChef', (ARRAY['chef_maria', 'chef_kenji', 'chef_lena'])[1 + g % 3]))
        FROM generate_series(1, users) g,
             LATERAL (SELECT (ARRAY['Ana', 'Ben', 'Chloe', 'Dev', 'Emma', 'Farid', 'Grace', 'Hiro', 'Ines', 'Jonas'])[1 + g % 10] AS fn,
                             (ARRAY['Silva', 'Novak', 'Okafor', 'Tanaka', 'Meyer', 'Rossi', 'Kaur'])[1 + (g * 3) % 7] AS ln) names
        ORDER BY g
        RETURNING id)
    SELECT array_agg(id ORDER BY id) INTO user_ids FROM ins;

    INSERT INTO nutragenie.nutrition_goals (user_id, calories, protein_g, carbs_g, fat_g, valid_from)
    SELECT u, 1600 + (o % 8) * 100, 60 + o % 60, 180 + o % 100, 50 + o % 30, date '2026-01-01'
    FROM unnest(user_ids) WITH ORDINALITY x(u, o);

    -- recipes: rows, then their content documents in one statement
    WITH src AS (
        SELECT g, (ARRAY['Overnight oats', 'Lentil soup', 'Chicken stir-fry', 'Greek salad', 'Salmon bowl',
                         'Veggie chili', 'Banana pancakes', 'Tofu curry', 'Shakshuka', 'Miso ramen',
                         'Quinoa salad', 'Beef tacos'])[1 + (g - 1) % 12] AS dish
        FROM generate_series(1, recipes) g),
    ins AS (
        INSERT INTO nutragenie.recipes (title, category, difficulty_level, prep_time_minutes, cook_time_minutes,
                                         servings, created_by, mongodb_recipe_id)
        SELECT CASE WHEN recipes > 12 THEN dish || ' #' || g ELSE dish END,
               (ARRAY['breakfast', 'lunch', 'dinner', 'snack'])[1 + g % 4], 1 + g % 5,
               5 + (g * 7) % 25, (g * 13) % 45, 1 + g % 4,
               user_ids[1 + g % array_length(user_ids, 1)], objectid_generate()
        FROM src ORDER BY g
        RETURNING id, title, mongodb_recipe_id)
    INSERT INTO nutragenie.recipe_content (_id, doc)
    SELECT ins.mongodb_recipe_id, jsonb_build_object(
        'postgresId', ins.id, 'title', ins.title,
        'description', format('A %s take on %s, ready in under an hour.',
                              (ARRAY['quick', 'classic', 'light', 'hearty'])[1 + k % 4], lower(ins.title)),
        'cuisine', (ARRAY['international', 'italian', 'japanese', 'mexican', 'indian', 'mediterranean'])[1 + k % 6],
        'ingredients', jsonb_build_array(
            jsonb_build_object('name', (ARRAY['oats', 'lentils', 'chicken breast', 'feta', 'salmon', 'beans'])[1 + k % 6],
                               'quantity', 100 + (k * 17) % 200, 'unit', 'g'),
            jsonb_build_object('name', (ARRAY['onion', 'tomato', 'spinach', 'pepper'])[1 + k % 4],
                               'quantity', 1 + k % 3, 'unit', 'piece'),
            jsonb_build_object('name', 'olive oil', 'quantity', 1, 'unit', 'tbsp')),
        'steps', (SELECT jsonb_agg(jsonb_build_object('order', s, 'instruction', instr, 'durationMinutes', 2 + (k + s) % 8) ORDER BY s)
                  FROM unnest(ARRAY['Prepare and measure the ingredients.', 'Heat the pan with the oil.',
                                    'Cook the main ingredient until done.', 'Add the vegetables and season.',
                                    'Plate and serve.']) WITH ORDINALITY t(instr, s)
                  WHERE s <= 3 + k % 3),
        'nutrition', jsonb_build_object('calories', 250 + (k * 37) % 500, 'protein_g', 5 + (k * 13) % 40,
                                        'carbs_g', 10 + (k * 7) % 60, 'fat_g', 3 + (k * 5) % 25),
        'tags', (ARRAY['["vegan", "quick"]', '["high-protein"]', '["gluten-free"]', '["comfort-food", "batch-cooking"]']::jsonb[])[1 + k % 4],
        'createdAt', nutragenie.ng_bson_date(base_ts), 'updatedAt', nutragenie.ng_bson_date(base_ts))
    FROM ins, LATERAL (SELECT (ins.id % 1000)::int AS k) kk;
    SELECT array_agg(id ORDER BY id) INTO recipe_ids
    FROM (SELECT id FROM nutragenie.recipes ORDER BY id DESC LIMIT recipes) r;

    -- searchable features of the new recipes (the ratings below use them)
    PERFORM nutragenie.ng_refresh_recipe_features(recipe_ids);

    -- ratings: each user rates 35% of the recipes (at most 40), picked by
    -- a permutation of the recipes; the rating follows a simple taste model
    -- (so that recommendations have something to learn): a quality per
    -- recipe, +1.5 for a cuisine among the user's favoriteCuisines, +1 for
    -- one category the user likes (not in the profile), -1 for difficulty
    -- 4-5 for beginners, -2 for a recipe against the user's diet or
    -- allergies, and some noise.  One statement: the trigger refreshes
    -- aggregates and analytics per recipe.
    INSERT INTO nutragenie.recipe_ratings (user_id, recipe_id, rating, review)
    SELECT u, r, least(5, greatest(1, round(2.6 + q + pref + noise)))::int,
           CASE WHEN (uo + ro) % 4 = 0 THEN (ARRAY['Loved it!', 'Easy and tasty.', 'Too salty for me.', 'Will cook again.'])[1 + (uo * ro) % 4] END
    FROM unnest(user_ids) WITH ORDINALITY a(u, uo), unnest(recipe_ids) WITH ORDINALITY b(r, ro),
         LATERAL (SELECT (ARRAY['international', 'italian', 'japanese', 'mexican', 'indian', 'mediterranean'])[1 + (r % 1000) % 6] AS cuisine,
                         ((ro * 5) % 7 - 3) / 3.0 AS q,
                         ((uo * 7 + ro * 3) % 5 - 2) * 0.3 AS noise) x,
         LATERAL (SELECT CASE WHEN x.cuisine = ANY ((ARRAY[ARRAY['italian', '-'], ARRAY['japanese', 'thai'], ARRAY['mexican', '-'],
                                                          ARRAY['indian', 'vegan']])[1 + uo % 4:1 + uo % 4]) THEN 1.5 ELSE 0 END
                       + CASE WHEN ro % 4 = uo % 4 THEN 1 ELSE 0 END
                       + CASE WHEN uo % 3 = 0 AND 1 + ro % 5 >= 4 THEN -1 ELSE 0 END
                       + CASE WHEN (SELECT f.conflicts FROM nutragenie.recipe_features f WHERE f.recipe_id = r)
                                   && nutragenie.ng_food_avoid(
                                          (ARRAY['omnivore', 'vegetarian', 'vegan', 'pescatarian', 'keto'])[1 + uo % 5],
                                          (ARRAY[ARRAY['-', '-'], ARRAY['peanuts', '-'], ARRAY['gluten', '-'], ARRAY['-', '-'],
                                                 ARRAY['lactose', 'shellfish']])[1 + uo % 5:1 + uo % 5])
                              THEN -2 ELSE 0 END AS pref) p
    WHERE (uo * 7 + ro * 11) % array_length(recipe_ids, 1) < greatest(1, least(ceil(array_length(recipe_ids, 1) * 0.35), 40))
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS nratings = ROW_COUNT;

    -- a week of meals per user, through ng_log_nutrition
    SELECT nutragenie.ng_log_nutrition(jsonb_agg(jsonb_build_object(
               'userId', u, 'date', date '2026-01-05' + d, 'mealType', meal,
               'foodName', (ARRAY['Oatmeal', 'Chicken salad', 'Pasta', 'Apple', 'Rice bowl', 'Yogurt'])[1 + (uo + d + mo) % 6],
               'calories', 200 + ((uo * 31 + d * 17 + mo * 53) % 600),
               'proteinG', 5 + (uo + d * 3 + mo) % 40, 'carbsG', 10 + (uo * 2 + d + mo * 5) % 80,
               'fatG', 2 + (uo + d + mo * 3) % 30) ORDER BY u, d, mo))
    INTO nentries
    FROM unnest(user_ids) WITH ORDINALITY a(u, uo), generate_series(0, 6) d,
         unnest(ARRAY['breakfast', 'lunch', 'dinner']) WITH ORDINALITY m(meal, mo);

    -- cooking sessions with their voice logs
    WITH src AS (
        SELECT s, user_ids[1 + s % array_length(user_ids, 1)] AS u,
               recipe_ids[1 + (s * 3) % array_length(recipe_ids, 1)] AS r,
               base_ts + s * interval '3 hours' AS started,
               CASE WHEN s % 5 = 0 THEN 'active' WHEN s % 7 = 0 THEN 'abandoned' ELSE 'completed' END AS status,
               (ARRAY['voice', 'voice', 'guided', 'manual'])[1 + s % 4] AS mode,
               2 + s % 5 AS nvoice
        FROM generate_series(1, sessions) s),
    ins AS (
        INSERT INTO nutragenie.cooking_sessions (user_id, recipe_id, mode, status, started_at, ended_at,
                                                  total_steps, steps_completed, voice_interactions,
                                                  duration_seconds, mongodb_session_id)
        SELECT src.u, src.r, src.mode, src.status, src.started,
               CASE WHEN src.status <> 'active' THEN src.started + (15 + src.s % 40) * interval '1 minute' END,
               jsonb_array_length(c.steps),
               CASE WHEN src.status = 'completed' THEN jsonb_array_length(c.steps) ELSE 1 END,
               CASE WHEN src.mode = 'voice' THEN src.nvoice ELSE 0 END,
               CASE WHEN src.status <> 'active' THEN (15 + src.s % 40) * 60 END,
               objectid_generate()
        FROM src JOIN nutragenie.recipes rr ON rr.id = src.r
        LEFT JOIN nutragenie.recipe_content c ON c._id = rr.mongodb_recipe_id
        ORDER BY src.s
        RETURNING *)
    INSERT INTO nutragenie.cooking_session_details (_id, doc)
    SELECT ins.mongodb_session_id, jsonb_build_object(
        'postgresSessionId', ins.id, 'postgresUserId', ins.user_id, 'postgresRecipeId', ins.recipe_id,
        'sessionMetadata', jsonb_strip_nulls(jsonb_build_object(
            'mode', ins.mode, 'status', ins.status, 'totalSteps', ins.total_steps,
            'device', (ARRAY['smart-speaker', 'phone', 'tablet'])[1 + ins.id % 3],
            'startedAt', nutragenie.ng_bson_date(ins.started_at),
            'endedAt', CASE WHEN ins.ended_at IS NOT NULL THEN nutragenie.ng_bson_date(ins.ended_at) END)),
        'voiceInteractions', coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                'seq', v, 'at', nutragenie.ng_bson_date(ins.started_at + v * interval '2 minutes'),
                'command', (ARRAY['next step', 'repeat that', 'set a timer', 'how much salt?', 'what can I use instead of butter?'])[1 + (ins.id + v) % 5],
                'response', (ARRAY['Moving on.', 'Sure, here it is again.', 'Timer set for 5 minutes.', 'A pinch is enough.', 'Olive oil works well.'])[1 + (ins.id + v) % 5],
                'step', least(v, greatest(ins.total_steps, 1)), 'durationMs', 800 + (ins.id * v * 37) % 2000) ORDER BY v)
            FROM generate_series(1, ins.voice_interactions) v), '[]'),
        'stepProgress', coalesce((
            SELECT jsonb_agg(jsonb_build_object('step', st, 'completedAt',
                                                nutragenie.ng_bson_date(ins.started_at + st * interval '4 minutes')) ORDER BY st)
            FROM generate_series(1, ins.steps_completed) st), '[]'),
        'summary', CASE WHEN ins.status = 'completed' THEN jsonb_build_object(
            'durationSeconds', ins.duration_seconds, 'voiceInteractions', ins.voice_interactions,
            'stepsCompleted', ins.steps_completed, 'totalSteps', ins.total_steps, 'completionRate', 1.0) END,
        'createdAt', nutragenie.ng_bson_date(ins.started_at), 'updatedAt', nutragenie.ng_bson_date(ins.started_at))
    FROM ins;
    GET DIAGNOSTICS nsessions = ROW_COUNT;

    -- derived: behaviour patterns and recommendations of the new users
    PERFORM nutragenie.ng_refresh_behavior(user_ids);

    RETURN jsonb_build_object('users', array_length(user_ids, 1), 'recipes', array_length(recipe_ids, 1),
                              'ratings', nratings, 'nutritionEntries', nentries,
                              'cookingSessions', nsessions, 'chefs', nchefs);
END
$fn$;

COMMENT ON FUNCTION nutragenie_demo.ng_seed_demo(int, int, int) IS 'add realistic, deterministic demo data to both stores: users with profiles, goals and a week of meals, recipes with content and ratings, cooking sessions with voice logs, AI chefs; returns the counts';

-- the search_path the extension pinned on its own functions (its schema and
-- nutragenie_fdw's)
DO $pin$
BEGIN
    EXECUTE pg_catalog.format('ALTER FUNCTION nutragenie_demo.ng_seed_demo(int, int, int) SET search_path = %s',
        (SELECT pg_catalog.substr(c, 13)
         FROM pg_catalog.pg_proc p, pg_catalog.unnest(p.proconfig) c
         WHERE p.oid OPERATOR(pg_catalog.=) 'nutragenie.ng_require_mongo()'::pg_catalog.regprocedure
           AND pg_catalog.starts_with(c, 'search_path=')));
END
$pin$;
