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
