-- bench/recommend_precision.sql: precision of ng_recommend_recipes against
-- "most popular" on held-out favourites.  Run on a database with the
-- NutraGenie domain attached and seeded (make demo's, or any
-- ng_seed_demo); changes nothing (everything is rolled back).
--
-- Held out: every rating >= 4 whose (user_id + recipe_id) is even.  They
-- are deleted (the aggregates follow, as if those ratings had never been
-- given), then for every user with a held-out favourite each method picks
-- :k recipes the user has not rated: ng_recommend_recipes(user, :k); the
-- popular baseline ranks by the same Bayesian score ng_popular_recipes
-- uses, once with the same diet/allergy/calorie filter ("popular, filtered")
-- and once without ("popular").  precision@k = held-out favourites among
-- the picks / picks; recall@k = held-out favourites picked / held out.
\set ON_ERROR_STOP 1
\if :{?k}
\else
\set k 5
\endif
SET search_path = public, nutragenie;
BEGIN;
CREATE TEMP TABLE heldout ON COMMIT DROP AS
SELECT user_id, recipe_id FROM nutragenie.recipe_ratings WHERE rating >= 4 AND (user_id + recipe_id) % 2 = 0;
DELETE FROM nutragenie.recipe_ratings rr USING heldout h WHERE rr.user_id = h.user_id AND rr.recipe_id = h.recipe_id;
CREATE TEMP TABLE evalusers ON COMMIT DROP AS SELECT DISTINCT user_id FROM heldout;

CREATE TEMP TABLE picks ON COMMIT DROP AS
SELECT 'recommend' AS method, e.user_id, x.recipe_id
FROM evalusers e, nutragenie.ng_recommend_recipes(e.user_id, :k) x;

-- the popular baseline: the same Bayesian score (5 virtual votes at the mean)
CREATE TEMP TABLE pop ON COMMIT DROP AS
SELECT r.id, (r.rating_sum + 5 * g.m) / (r.rating_count + 5) AS bayes
FROM nutragenie.recipes r,
     (SELECT sum(rating_sum)::numeric / nullif(sum(rating_count), 0) AS m FROM nutragenie.recipes) g;

INSERT INTO picks
SELECT 'popular', e.user_id, t.id
FROM evalusers e
CROSS JOIN LATERAL (
    SELECT p.id FROM pop p
    WHERE NOT EXISTS (SELECT FROM nutragenie.recipe_ratings x WHERE x.user_id = e.user_id AND x.recipe_id = p.id)
    ORDER BY p.bayes DESC, p.id LIMIT :k) t;

INSERT INTO picks
SELECT 'popular, filtered', e.user_id, t.id
FROM evalusers e
JOIN nutragenie.users u ON u.id = e.user_id
LEFT JOIN nutragenie.user_profiles pr ON pr._id = u.mongodb_profile_id
CROSS JOIN LATERAL (
    SELECT coalesce((nutragenie.ng_nutrition_goal(u.id) ->> 'calories')::int, pr.calorie_target::int) * 0.4 AS budget,
           nutragenie.ng_food_avoid(lower(pr.diet_type), ARRAY(SELECT lower(a) FROM unnest(pr.allergies) a)) AS avoid) c
CROSS JOIN LATERAL (
    SELECT p.id FROM pop p JOIN nutragenie.recipe_features f ON f.recipe_id = p.id
    WHERE NOT EXISTS (SELECT FROM nutragenie.recipe_ratings x WHERE x.user_id = e.user_id AND x.recipe_id = p.id)
      AND NOT (f.conflicts && c.avoid)
      AND (c.budget IS NULL OR f.calories IS NULL OR f.calories <= c.budget)
    ORDER BY p.bayes DESC, p.id LIMIT :k) t;

SELECT (SELECT count(*) FROM evalusers) AS users, (SELECT count(*) FROM heldout) AS held_out,
       (SELECT count(*) FROM nutragenie.recipes) AS recipes, :k AS k;
SELECT p.method, count(*) AS picks, count(h.user_id) AS hits,
       round(count(h.user_id)::numeric / count(*), 3) AS precision_at_k,
       round(count(h.user_id)::numeric / (SELECT count(*) FROM heldout), 3) AS recall_at_k
FROM picks p LEFT JOIN heldout h ON h.user_id = p.user_id AND h.recipe_id = p.recipe_id
GROUP BY p.method ORDER BY p.method;
ROLLBACK;
