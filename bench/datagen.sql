-- bench/datagen.sql: deterministic recipe-like documents for the read-path
-- benchmarks (bench/run).  Every value is a function of (document number,
-- seed) through hashint8extended() and md5(), so the same seed gives the
-- same collection on every machine and every run.  Documents are inserted
-- through the FDW itself: nutragenie_fdw.run_command(server, insert command)
-- with one batch of JSON (Extended JSON for int64/date/ObjectId) per call.
--
-- Shape of one document (19 top-level fields, ~700 bytes of BSON):
--   _id ObjectId (bench.oid(i)), recipe_no int32 (= i), title, slug, cuisine,
--   instructions (strings, the last 1-2 sentences), category_id
--   int32 in 0..99 (indexed; = k selects 1%), nutrition {calories int32,
--   protein_g, fat_g, carbs_g double}, author {name, country}, tags [1-6
--   strings], ingredients [2-6 {name, grams int32}], views int64 (> 2^32),
--   rating double, created_at date, owner_id ObjectId, is_public, is_vegan
--   bool, servings, prep_minutes int32.
-- FerretDB 1.24 cannot store Decimal128/NaN/Infinity: none are generated.

CREATE SCHEMA IF NOT EXISTS bench;

-- h(i, k): the k-th pseudo-random non-negative bigint of document i.
CREATE OR REPLACE FUNCTION bench.h(i bigint, k int, seed bigint)
RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT hashint8extended(i * 64 + k, seed) & 9223372036854775807 $$;

-- oid(i): the ObjectId of document i, as 24 hex digits: a creation second
-- (2020-01-01 + i s), 5 pseudo-random bytes and a 3-byte counter, like a
-- driver-generated one.  Distinct for every i < 2^32.
CREATE OR REPLACE FUNCTION bench.oid(i bigint, seed bigint)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT lpad(to_hex(1577836800 + i), 8, '0')
          || substr(md5('oid/' || seed || '/' || i), 1, 10)
          || lpad(to_hex(i % 16777216), 6, '0') $$;

-- pick(arr, i, k): a deterministic element of arr.
CREATE OR REPLACE FUNCTION bench.pick(arr text[], i bigint, k int, seed bigint)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT arr[1 + bench.h(i, k, seed) % cardinality(arr)] $$;

CREATE OR REPLACE FUNCTION bench.doc(i bigint, seed bigint)
RETURNS json LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$fn$
WITH w AS (
  SELECT
    ARRAY['Smoky','Crispy','Creamy','Spicy','Zesty','Golden','Rustic','Tangy',
          'Hearty','Fresh','Roasted','Sweet','Savory','Herbed','Charred','Silky',
          'Garlicky','Lemony','Nutty','Fiery'] AS adj,
    ARRAY['Lentil Soup','Chicken Curry','Tofu Bowl','Pasta Primavera','Fish Tacos',
          'Quinoa Salad','Beef Stew','Veggie Burger','Shakshuka','Pad Thai',
          'Risotto','Ramen','Falafel Wrap','Paella','Chili','Gnocchi','Poke Bowl',
          'Omelette','Pancakes','Curry Laksa','Stir Fry','Tagine','Frittata',
          'Burrito','Dal','Moussaka','Pho','Bibimbap','Ceviche','Goulash'] AS dish,
    ARRAY['italian','mexican','indian','thai','japanese','french','greek',
          'spanish','korean','moroccan','vietnamese','american'] AS cuisine,
    ARRAY['vegan','vegetarian','gluten-free','dairy-free','high-protein',
          'low-carb','keto','paleo','quick','budget','kid-friendly','spicy',
          'comfort-food','meal-prep','one-pot','healthy','low-fat','nut-free',
          'breakfast','lunch','dinner','dessert','snack','summer','winter'] AS tag,
    ARRAY['olive oil','garlic','onion','tomato','chickpeas','rice','quinoa',
          'chicken breast','salmon','tofu','spinach','kale','carrot','potato',
          'sweet potato','lentils','black beans','coconut milk','ginger','lime',
          'lemon','basil','cilantro','cumin','paprika','turmeric','egg','flour',
          'butter','yogurt','feta','parmesan','mushroom','bell pepper','zucchini',
          'eggplant','soy sauce','honey','oats','almonds'] AS ingr,
    ARRAY['Ana','Ben','Chloe','Dev','Elena','Farid','Grace','Hiro','Ines',
          'Jonas','Kemi','Liam','Mara','Noah','Olga','Priya','Quinn','Rosa',
          'Sami','Tara'] AS first,
    ARRAY['Garcia','Smith','Nguyen','Kim','Rossi','Müller','Dubois','Sato',
          'Okafor','Silva','Novak','Haddad','Jensen','Kowalski','Singh'] AS last,
    ARRAY['US','GB','FR','DE','IT','ES','MX','IN','JP','KR','TH','VN','GR',
          'MA','BR','NG','SE','PL','CA','AU'] AS country,
    ARRAY['Chop','Dice','Slice','Whisk','Simmer','Roast','Saute','Fold',
          'Season','Blend','Grill','Toast','Stir','Bake','Marinate'] AS verb
)
SELECT json_build_object(
  '_id', json_build_object('$oid', bench.oid(i, seed)),
  'recipe_no', i,
  'title', bench.pick(adj, i, 1, seed) || ' ' || bench.pick(dish, i, 2, seed) || ' #' || i,
  'slug', 'recipe-' || i,
  'category_id', bench.h(i, 3, seed) % 100,
  'cuisine', bench.pick(cuisine, i, 4, seed),
  'nutrition', json_build_object(
      'calories', 80 + bench.h(i, 5, seed) % 1200,
      'protein_g', round((bench.h(i, 6, seed) % 800) / 10.0 + 0.25, 2),
      'fat_g', round((bench.h(i, 7, seed) % 600) / 10.0 + 0.25, 2),
      'carbs_g', round((bench.h(i, 8, seed) % 1500) / 10.0 + 0.25, 2)),
  'author', json_build_object(
      'name', bench.pick(first, i, 9, seed) || ' ' || bench.pick(last, i, 10, seed),
      'country', bench.pick(country, i, 11, seed)),
  'tags', (SELECT json_agg(bench.pick(tag, i, 20 + t, seed))
             FROM generate_series(1, 1 + (bench.h(i, 12, seed) % 6)::int) t),
  'ingredients', (SELECT json_agg(json_build_object(
                           'name', bench.pick(ingr, i, 30 + t, seed),
                           'grams', 5 + bench.h(i, 50 + t, seed) % 500))
                    FROM generate_series(1, 2 + (bench.h(i, 13, seed) % 5)::int) t),
  'views', json_build_object('$numberLong',
               (5000000000 + bench.h(i, 14, seed) % 1000000000)::text),
  'rating', round(1 + (bench.h(i, 15, seed) % 400) / 100.0 + 0.005, 3),
  'created_at', json_build_object('$date', json_build_object('$numberLong',
               (1577836800000 + bench.h(i, 16, seed) % 157680000000)::text)),
  'owner_id', json_build_object('$oid', substr(md5(seed::text || '/' || i), 1, 24)),
  'is_public', bench.h(i, 17, seed) % 10 < 8,
  'is_vegan', bench.h(i, 18, seed) % 5 = 0,
  'servings', 1 + bench.h(i, 19, seed) % 8,
  'prep_minutes', 5 + bench.h(i, 62, seed) % 120,
  'instructions', (SELECT string_agg(bench.pick(verb, i, 40 + t, seed) || ' the '
                             || bench.pick(ingr, i, 30 + t, seed)
                             || ' for ' || (1 + bench.h(i, 63 + t, seed) % 15)
                             || ' minutes, then set aside.', ' ')
                     FROM generate_series(1, 1 + (bench.h(i, 13, seed) % 2)::int) t))
FROM w
$fn$;

-- Insert documents first..last into collection coll of server srv, batch
-- documents per insert command; returns the number inserted.
CREATE OR REPLACE FUNCTION bench.load(srv name, coll text, first bigint, last bigint,
                                      seed bigint, batch int DEFAULT 1000)
RETURNS bigint LANGUAGE plpgsql AS
$$
DECLARE
  b bigint := first;
  n bigint := 0;
  reply jsonb;
BEGIN
  WHILE b <= last LOOP
    SELECT nutragenie_fdw.run_command(srv, json_build_object(
             'insert', coll, 'ordered', false,
             'documents', json_agg(bench.doc(i, seed) ORDER BY i)))
      INTO reply
      FROM generate_series(b, least(b + batch - 1, last)) i;
    IF (reply->>'ok')::float8 <> 1 OR reply ? 'writeErrors' THEN
      RAISE EXCEPTION 'insert into % failed: %', coll, left(reply::text, 500);
    END IF;
    n := n + (reply->>'n')::bigint;
    b := b + batch;
  END LOOP;
  RETURN n;
END
$$;
