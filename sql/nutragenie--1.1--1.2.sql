/* nutragenie--1.1--1.2.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION nutragenie UPDATE TO '1.2'" to load this file. \quit

-- 1.2: the hardening release.  Every section below belongs to one concern;
-- keep additions inside their section.

-- ---------------------------------------------------------------------------
-- Internal statements never depend on the caller's search_path; functions
-- run with pinned search_path and least privilege.
-- ---------------------------------------------------------------------------

-- The rule (README, "Security"): no statement the extension runs is parsed
-- with the caller's search_path.  The C code runs its statements on the
-- outbox through one helper that pins search_path (src/internal_sql.c).
-- Here: a PL/pgSQL function or a SQL function that cannot be inlined gets
-- SET search_path = pg_catalog, nutragenie, pg_temp (the schema holds only
-- the extension's objects and only its owner may create in it; pg_temp
-- last, so that no temporary table or type shadows ours).  A SQL function
-- the planner inlines into its caller loses that with a SET clause (one
-- call of ng_profile_document took 35 us instead of 9 us), so those name
-- every function, operator and type with its schema instead and stay
-- inlinable.

ALTER FUNCTION ng_require_mongo() SET search_path = pg_catalog, @extschema@, pg_temp;
ALTER FUNCTION ng_check_field(jsonb, text, text, boolean, text) SET search_path = pg_catalog, @extschema@, pg_temp;
ALTER FUNCTION ng_retry_dead_letter(bigint) SET search_path = pg_catalog, @extschema@, pg_temp;
ALTER FUNCTION ng_write_queue_status() SET search_path = pg_catalog, @extschema@, pg_temp;
ALTER FUNCTION ng_discard_dead_letter(bigint) SET search_path = pg_catalog, @extschema@, pg_temp;

-- ng_mongo_server() and ng_profile_document(users) already name everything
-- with its schema; the other inlinable helpers now do too.

CREATE OR REPLACE FUNCTION ng_bson_date(ts timestamptz)
RETURNS jsonb
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$
    SELECT pg_catalog.jsonb_build_object('$date',
        pg_catalog.to_char($1 AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
$$;

CREATE OR REPLACE FUNCTION ng_default_profile()
RETURNS jsonb
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT '{"dietaryProfile": {"dietType": "omnivore", "allergies": [], "restrictions": [], "calorieTarget": 2000},
             "cookingProfile": {"skillLevel": "beginner", "favoriteCuisines": [], "equipment": [], "preferredChef": "chef_maria"}}'::pg_catalog.jsonb
$$;

CREATE OR REPLACE FUNCTION ng_profile_document(user_id bigint, profile jsonb)
RETURNS jsonb
LANGUAGE sql STABLE CALLED ON NULL INPUT PARALLEL SAFE
AS $$
    SELECT pg_catalog.jsonb_build_object(
        'postgresUserId', $1,
        'dietaryProfile', (@extschema@.ng_default_profile() OPERATOR(pg_catalog.->) 'dietaryProfile')
                          OPERATOR(pg_catalog.||)
                          coalesce($2 OPERATOR(pg_catalog.->) 'dietaryProfile', '{}'::pg_catalog.jsonb),
        'cookingProfile', (@extschema@.ng_default_profile() OPERATOR(pg_catalog.->) 'cookingProfile')
                          OPERATOR(pg_catalog.||)
                          coalesce($2 OPERATOR(pg_catalog.->) 'cookingProfile', '{}'::pg_catalog.jsonb),
        'createdAt', @extschema@.ng_bson_date(pg_catalog.now()),
        'updatedAt', @extschema@.ng_bson_date(pg_catalog.now()))
$$;

CREATE OR REPLACE FUNCTION ng_recipe_document(r recipes)
RETURNS jsonb
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$
    SELECT pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
        'postgresId', r.id, 'title', r.title,
        'description', r.content OPERATOR(pg_catalog.->) 'description',
        'cuisine', r.content OPERATOR(pg_catalog.->) 'cuisine',
        'ingredients', coalesce(r.content OPERATOR(pg_catalog.->) 'ingredients', '[]'::pg_catalog.jsonb),
        'steps', coalesce(r.content OPERATOR(pg_catalog.->) 'steps', '[]'::pg_catalog.jsonb),
        'nutrition', coalesce(r.content OPERATOR(pg_catalog.->) 'nutrition', '{}'::pg_catalog.jsonb),
        'tags', coalesce(r.content OPERATOR(pg_catalog.->) 'tags', '[]'::pg_catalog.jsonb),
        'placeholder', CASE WHEN r.content IS NULL THEN true END,
        'createdAt', @extschema@.ng_bson_date(r.created_at),
        'updatedAt', @extschema@.ng_bson_date(pg_catalog.now())))
$$;

CREATE OR REPLACE FUNCTION ng_session_document(s cooking_sessions)
RETURNS jsonb
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$
    SELECT pg_catalog.jsonb_build_object(
        'postgresSessionId', s.id, 'postgresUserId', s.user_id, 'postgresRecipeId', s.recipe_id,
        'sessionMetadata', pg_catalog.jsonb_build_object('mode', s.mode, 'status', s.status,
                                              'totalSteps', s.total_steps, 'restored', true,
                                              'startedAt', @extschema@.ng_bson_date(s.started_at)),
        'voiceInteractions', '[]'::pg_catalog.jsonb, 'stepProgress', '[]'::pg_catalog.jsonb,
        'createdAt', @extschema@.ng_bson_date(pg_catalog.now()),
        'updatedAt', @extschema@.ng_bson_date(pg_catalog.now()))
$$;

CREATE OR REPLACE FUNCTION ng_publish(event text, payload jsonb)
RETURNS void
LANGUAGE sql VOLATILE STRICT PARALLEL UNSAFE
AS $$
    SELECT pg_catalog.pg_notify('nutragenie_events',
                                (pg_catalog.jsonb_build_object('event', $1)
                                 OPERATOR(pg_catalog.||) $2)::pg_catalog.text)
$$;

-- A procedure with a SET clause cannot COMMIT: ng_migrate_to_mongo pins
-- search_path itself, in each of its transactions, before any statement of
-- its own is parsed (its variables' types are qualified: they are resolved
-- before), and gives the caller's back at the end.  Its two kinds of rows
-- are now one loop over a table of what moves where.
CREATE OR REPLACE PROCEDURE ng_migrate_to_mongo(batch_size int DEFAULT 1000)
LANGUAGE plpgsql
AS $fn$
DECLARE
    caller_path pg_catalog.text := pg_catalog.current_setting('search_path');
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
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, @extschema@, pg_temp', true);
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
    CREATE TEMP TABLE IF NOT EXISTS ng_migration_batch (id bigint, oid @extschema@.objectid, doc jsonb);
    FOR i IN 1..2 LOOP
        LOOP
            TRUNCATE pg_temp.ng_migration_batch;
            EXECUTE format('INSERT INTO pg_temp.ng_migration_batch'
                           ' SELECT r.id, coalesce(r.%2$I, @extschema@.objectid_generate()), %4$s'
                           ' FROM @extschema@.%1$I r WHERE r.%3$I IS NOT NULL OR r.%2$I IS NULL'
                           ' ORDER BY r.id LIMIT $1 FOR UPDATE',
                           tabs[i], refs[i], cols[i], docs[i])
            USING batch_size;
            GET DIAGNOSTICS n = ROW_COUNT;
            EXIT WHEN n = 0;
            -- a document the row already points to is replaced
            EXECUTE format('DELETE FROM @extschema@.%I c WHERE c._id OPERATOR(@extschema@.=)'
                           ' ANY (ARRAY(SELECT b.oid FROM pg_temp.ng_migration_batch b))', colls[i]);
            EXECUTE format('INSERT INTO @extschema@.%I (_id, doc)'
                           ' SELECT b.oid, b.doc FROM pg_temp.ng_migration_batch b', colls[i]);
            EXECUTE format('UPDATE @extschema@.%1$I r SET %2$I = b.oid, %3$I = NULL,'
                           ' updated_at = date_trunc(''milliseconds'', now())'
                           ' FROM pg_temp.ng_migration_batch b WHERE r.id = b.id',
                           tabs[i], refs[i], cols[i]);
            COMMIT;
            PERFORM pg_catalog.set_config('search_path', 'pg_catalog, @extschema@, pg_temp', true);
            done[i] := done[i] + n;
            RAISE NOTICE '%: % of % migrated', names[i], done[i], total[i];
        END LOOP;
    END LOOP;
    DROP TABLE pg_temp.ng_migration_batch;
    RAISE NOTICE 'migration complete: % recipes, % user profiles', done[1], done[2];
    PERFORM pg_catalog.set_config('search_path', caller_path, true);
END
$fn$;

-- ---------------------------------------------------------------------------
-- Writes that matched nothing are recorded, never silent.
-- ---------------------------------------------------------------------------

-- The applier moves an update or delete that matched no document (another
-- client deleted it after the statement read it) to the dead letters, with
-- the error "update matched no document: ..." and no error_code.  An
-- UPDATE of a $$ROOT column is queued as op 'u' with the whole document
-- as its body (a replace) instead of 'i'; rows queued as 'i' by 1.1 are
-- still applied as before.
COMMENT ON TABLE @extschema@.dead_letters IS 'MongoDB operations that MongoDB rejected, or that matched no document, after their transaction committed';
COMMENT ON VIEW @extschema@.dead_letter_queue IS 'MongoDB operations MongoDB rejected, or that matched no document, after commit, with the reason';

-- ---------------------------------------------------------------------------
-- Operations MongoDB keeps failing on leave the queue.
-- ---------------------------------------------------------------------------

-- ---------------------------------------------------------------------------
-- The document cache and EXECUTE grants respect access rights.
-- ---------------------------------------------------------------------------

-- EXECUTE for PUBLIC (README, "Security", lists every function):
--  * kept: the objectid type's functions, the FDW handler and validator,
--    ng_bson_to_jsonb (pure functions); ng_connections / ng_disconnect* (this
--    backend's own connections); ng_cache_stats (counters only);
--    ng_cached_document (checks USAGE on the server and reads through the
--    caller's own user mapping, the cache included); the domain functions
--    and views' helpers, which are not SECURITY DEFINER and so can do
--    nothing the caller's table privileges do not allow; ng_write_queue_status
--    (needs SELECT on the outbox, which PUBLIC does not have).
--  * revoked since 1.0: ng_run_command, ng_applier_wake, ng_cache_reset,
--    ng_retry_dead_letter, ng_discard_dead_letter.
--  * revoked now: ng_publish, so that only roles the DBA trusts with the
--    domain emit "nutragenie_events".  The domain's triggers call it as the
--    role that writes the table: grant EXECUTE on it to application roles
--    together with their table privileges.  (PostgreSQL does not restrict
--    NOTIFY itself: a listener must still treat an event as a hint and read
--    the state it announces.)
REVOKE EXECUTE ON FUNCTION ng_publish(text, jsonb) FROM PUBLIC;

-- ng_health for a role that may not read the outbox and the dead letters
-- (PUBLIC may not): the health of both stores, with the write-queue numbers
-- NULL and a note saying why, instead of "permission denied" from
-- ng_write_queue_status.  Not SECURITY DEFINER: the backlog counts are not
-- documents, but how many writes wait and since when tell one role about
-- the writes of the others, and the last error quotes document values (a
-- duplicate key, a failing validator), so the table privileges decide, as
-- they do for ng_write_queue_status.  Likewise a role that may not execute
-- ng_run_command (PUBLIC may not) gets "ok": null and a note for MongoDB
-- rather than "ok": false with "permission denied": MongoDB was not pinged,
-- not found down.  "status" reflects what the caller can see.
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
    IF has_table_privilege('@extschema@.outbox'::regclass, 'SELECT')
       AND has_table_privilege('@extschema@.dead_letters'::regclass, 'SELECT') THEN
        SELECT * INTO q FROM @extschema@.ng_write_queue_status();
        queue := jsonb_build_object('pending', q.pending,
            'oldestAgeSeconds', round(extract(epoch FROM q.oldest_age)::numeric, 3),
            'lastError', q.last_error, 'deadLetters', q.dead_letters);
    ELSE
        queue := jsonb_build_object('pending', NULL, 'oldestAgeSeconds', NULL,
            'lastError', NULL, 'deadLetters', NULL,
            'note', 'not shown: reading the write queue needs SELECT on @extschema@.outbox and @extschema@.dead_letters');
    END IF;
    IF srv IS NULL THEN
        mongo := jsonb_build_object('ok', false, 'error', 'not attached (run ng_attach_mongo)');
    ELSIF NOT has_function_privilege('@extschema@.ng_run_command(name, json, text)'::regprocedure, 'EXECUTE') THEN
        SELECT database INTO db FROM @extschema@.mongo_attachment;
        mongo := jsonb_build_object('ok', NULL, 'server', srv, 'database', db,
            'note', 'not checked: pinging MongoDB needs EXECUTE on @extschema@.ng_run_command');
    ELSE
        SELECT database INTO db FROM @extschema@.mongo_attachment;
        BEGIN
            t0 := clock_timestamp();
            PERFORM @extschema@.ng_run_command(srv, '{"ping": 1}', db);
            mongo := jsonb_build_object('ok', true, 'server', srv, 'database', db,
                'latencyMs', round(extract(epoch FROM clock_timestamp() - t0) * 1000, 3));
            info := @extschema@.ng_run_command(srv, '{"buildInfo": 1}', db);
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
                  FROM @extschema@.ng_cache_stats() c));
END
$fn$;

COMMENT ON FUNCTION ng_health() IS 'health of both stores: reachability, round-trip latency and versions, MongoDB write-queue backlog and dead letters (NULL with a note for a role that may not read the outbox and dead letters), document cache hits and misses; "status" is ok or degraded';

-- ---------------------------------------------------------------------------
-- Options and credentials.
-- ---------------------------------------------------------------------------

-- What the option validator cannot see (a column's type) is checked when a
-- foreign table of this wrapper is created or altered: a "$$ROOT" column
-- must be json or jsonb.  Planning checks the same again.
CREATE FUNCTION nutragenie_fdw_check_ddl() RETURNS event_trigger
    LANGUAGE C VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'nutragenie_fdw_check_ddl';
COMMENT ON FUNCTION nutragenie_fdw_check_ddl() IS
    'event trigger: checks the column options of nutragenie_fdw foreign tables';
REVOKE ALL ON FUNCTION nutragenie_fdw_check_ddl() FROM PUBLIC;
CREATE EVENT TRIGGER nutragenie_fdw_check_ddl ON ddl_command_end
    WHEN TAG IN ('CREATE FOREIGN TABLE', 'ALTER FOREIGN TABLE', 'ALTER TABLE')
    EXECUTE FUNCTION nutragenie_fdw_check_ddl();
COMMENT ON EVENT TRIGGER nutragenie_fdw_check_ddl IS
    'refuses nutragenie_fdw foreign tables whose column options cannot work';

-- ---------------------------------------------------------------------------
-- Derived data (ratings, nutrition analytics) stays exact under concurrency.
-- ---------------------------------------------------------------------------
--
-- Derived values are absolute values recomputed from the rows they summarise:
-- recipes.rating_count/rating_sum/average_rating and the recipe's
-- ratingAnalytics (from its recipe_ratings), a user's ratingStats (from the
-- user's ratings) and nutritionAnalytics (from the user's nutrition_entries).
--
-- Why they drifted: in READ COMMITTED every statement reads a snapshot taken
-- when it starts.  Two transactions that add a rating to one recipe at the
-- same time each recomputed from a snapshot without the other's uncommitted
-- row; the second then waited for the first at the recipes row (or at the
-- MongoDB document lock), but only to overwrite it with its own stale value:
-- waiting did not make it recompute.
--
-- What makes them exact: recomputation is serialised per parent row.  Before
-- it reads anything it derives from, the recomputing transaction locks the
-- recipes and users rows concerned (FOR NO KEY UPDATE; in id order, recipes
-- before users), keeps the locks to its end, and only then computes, in new
-- statements, each with a new snapshot.  Every transaction that changes a
-- recipe's ratings (or a user's ratings or entries) goes through that lock
-- before it commits (the statement triggers), and holds it until it has
-- committed, so these transactions take it one after the other in commit
-- order, and each sees every change committed by those before it: the last
-- to commit computes last, from all the rows.  FOR NO KEY UPDATE does not
-- conflict with the FOR KEY SHARE locks that foreign-key checks take, so
-- inserting ratings or entries for a locked recipe or user does not wait;
-- only the recomputations queue.
--
-- MongoDB gets the value computed under the lock: the document writes follow
-- the row locks in the same transaction, and a document lock is held until
-- the transaction's outbox rows are applied (xact.c).  A derived field is
-- written only by a transaction that holds the parent row, so its document is
-- locked -- and the $set applied -- in the order the row was locked: the
-- last value applied is the last one computed.  A user_behavior document that does
-- not exist yet is created with ON CONFLICT DO NOTHING: the insert takes the
-- document lock before it looks, so a concurrent creator is waited for and
-- skipped instead of raising unique_violation.
--
-- One statement never deadlocks on these locks.  A transaction that rates in
-- one statement and logs nutrition for the same user in an earlier one holds
-- the user before the recipe and may be chosen as a deadlock victim by a
-- concurrent rater of that recipe: retry it.  Under REPEATABLE READ or
-- SERIALIZABLE a concurrent recomputation is a serialization failure (retry).
--
-- Nutrition analytics are kept by triggers on nutrition_entries now, like
-- the rating aggregates, so plain INSERT/UPDATE/DELETE keep them too and
-- ng_log_nutrition leaves it to the trigger.  ng_check_consistency() reports
-- derived values that differ from their rows in either store (rating_drift,
-- nutrition_drift) and ng_repair_consistency() recomputes them under the
-- same locks.
--
-- Functions replaced here are fully qualified and run with search_path
-- pg_catalog, pg_temp.

-- The rating aggregates of recipes, as the recipe_ratings rows give them:
-- the recipes columns and ratingAnalytics (without lastRatedAt).
CREATE FUNCTION ng_rating_aggregates(recipe_ids bigint[])
RETURNS TABLE (recipe_id bigint, rating_count int, rating_sum int, average_rating numeric, analytics jsonb)
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT x.id, count(rr.rating)::int, coalesce(sum(rr.rating), 0)::int,
           round(sum(rr.rating)::numeric / nullif(count(rr.rating), 0), 2),
           jsonb_build_object(
               'count', count(rr.rating), 'sum', coalesce(sum(rr.rating), 0),
               'average', coalesce(round(sum(rr.rating)::numeric / nullif(count(rr.rating), 0), 2), 0)::float8,
               'distribution', jsonb_build_object(
                   '1', count(*) FILTER (WHERE rr.rating = 1), '2', count(*) FILTER (WHERE rr.rating = 2),
                   '3', count(*) FILTER (WHERE rr.rating = 3), '4', count(*) FILTER (WHERE rr.rating = 4),
                   '5', count(*) FILTER (WHERE rr.rating = 5)))
    FROM (SELECT DISTINCT i.id FROM unnest(recipe_ids) i(id)) x
    LEFT JOIN @extschema@.recipe_ratings rr ON rr.recipe_id = x.id
    GROUP BY x.id
$$;

COMMENT ON FUNCTION ng_rating_aggregates(bigint[]) IS 'the rating aggregates of recipes as their ratings give them: recipes.rating_count, rating_sum, average_rating and ratingAnalytics (without lastRatedAt)';

-- The ratingStats of users, as their ratings give them.
CREATE FUNCTION ng_rating_stats(user_ids bigint[])
RETURNS TABLE (user_id bigint, rating_count bigint, stats jsonb)
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT x.id, count(rr.rating),
           jsonb_build_object(
               'count', count(rr.rating),
               'average', coalesce(round(avg(rr.rating), 2), 0)::float8,
               'favoriteCategory', (SELECT r.category
                                    FROM @extschema@.recipe_ratings r2
                                    JOIN @extschema@.recipes r ON r.id = r2.recipe_id
                                    WHERE r2.user_id = x.id AND r2.rating >= 4
                                    GROUP BY r.category ORDER BY count(*) DESC, r.category LIMIT 1))
    FROM (SELECT DISTINCT i.id FROM unnest(user_ids) i(id)) x
    LEFT JOIN @extschema@.recipe_ratings rr ON rr.user_id = x.id
    GROUP BY x.id
$$;

COMMENT ON FUNCTION ng_rating_stats(bigint[]) IS 'the ratingStats of users (count, average, favoriteCategory) as their ratings give them';

-- The nutritionAnalytics of users, as their entries give them (NULL for a
-- user without entries).
CREATE FUNCTION ng_nutrition_analytics(user_ids bigint[])
RETURNS TABLE (user_id bigint, analytics jsonb)
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT x.id,
           CASE WHEN count(ne.id) > 0 THEN jsonb_build_object(
               'entries', count(ne.id), 'daysLogged', count(DISTINCT ne.entry_date),
               'totalCalories', sum(ne.calories)::float8,
               'avgDailyCalories', round(sum(ne.calories) / count(DISTINCT ne.entry_date), 1)::float8,
               'avgDailyProteinG', round(coalesce(sum(ne.protein_g), 0) / count(DISTINCT ne.entry_date), 1)::float8,
               'firstEntryDate', min(ne.entry_date), 'lastEntryDate', max(ne.entry_date)) END
    FROM (SELECT DISTINCT i.id FROM unnest(user_ids) i(id)) x
    LEFT JOIN @extschema@.nutrition_entries ne ON ne.user_id = x.id
    GROUP BY x.id
$$;

COMMENT ON FUNCTION ng_nutrition_analytics(bigint[]) IS 'the nutritionAnalytics of users as their nutrition entries give them; NULL for a user without entries';

-- How a stored derived value differs from what its rows give, for
-- ng_check_consistency: "ratingAnalytics.count is 2, the ratings give 3; ...".
CREATE FUNCTION ng_derived_difference(what text, stored jsonb, expected jsonb, source text)
RETURNS text
LANGUAGE sql IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN stored IS NULL THEN format('%s is missing; %s give %s', what, source, expected)
        WHEN expected IS NULL THEN format('%s is %s; there are no %s', what, stored, source)
        WHEN jsonb_typeof(stored) <> 'object' OR jsonb_typeof(expected) <> 'object'
            THEN format('%s is %s; %s give %s', what, stored, source, expected)
        ELSE (SELECT string_agg(format('%s.%s is %s, %s give %s', what, k, coalesce(stored -> k, '"missing"'),
                                       source, coalesce(expected -> k, '"missing"')), '; ' ORDER BY k)
              FROM (SELECT jsonb_object_keys(stored) UNION SELECT jsonb_object_keys(expected)) t(k)
              WHERE (stored -> k) IS DISTINCT FROM (expected -> k))
        END
$$;

COMMENT ON FUNCTION ng_derived_difference(text, jsonb, jsonb, text) IS 'the fields in which a stored derived document differs from the expected one, as text';

-- A user_behavior document for each of these users that has none.  The
-- insert takes the document lock before it checks, so a concurrent creator
-- is waited for and skipped (ON CONFLICT DO NOTHING), not a unique_violation.
CREATE FUNCTION ng_behavior_documents(user_ids bigint[])
RETURNS void
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    -- (plpgsql: the foreign table exists only once ng_attach_mongo ran)
    INSERT INTO @extschema@.user_behavior (_id, doc)
    SELECT u.id, jsonb_build_object('patterns', '{}'::jsonb, 'recommendations', '[]'::jsonb,
                                    'updatedAt', @extschema@.ng_bson_date(now()))
    FROM @extschema@.users u
    WHERE u.id = ANY (user_ids)
      AND NOT EXISTS (SELECT FROM @extschema@.user_behavior b WHERE b._id = u.id)
    ORDER BY u.id
    ON CONFLICT DO NOTHING;
END
$fn$;

COMMENT ON FUNCTION ng_behavior_documents(bigint[]) IS 'create the user_behavior documents that these users lack';

-- Ratings: lock, then recompute (see above).
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
        WHERE c._id OPERATOR(@extschema@.=) rec.oid;
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

COMMENT ON FUNCTION ng_apply_ratings(bigint[], bigint[]) IS 'recompute rating aggregates of recipes (PostgreSQL and ratingAnalytics in MongoDB) and rating stats of users (user_behavior), serialised per recipe and user by row locks';

-- Nutrition: lock, then recompute.
CREATE FUNCTION ng_apply_nutrition(user_ids bigint[])
RETURNS void
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    rec record;
BEGIN
    IF @extschema@.ng_mongo_server() IS NULL THEN
        RETURN;
    END IF;
    PERFORM FROM @extschema@.users u WHERE u.id = ANY (user_ids) ORDER BY u.id FOR NO KEY UPDATE;

    PERFORM @extschema@.ng_behavior_documents(
        ARRAY(SELECT DISTINCT ne.user_id FROM @extschema@.nutrition_entries ne WHERE ne.user_id = ANY (user_ids)));
    -- NULL (no entries left) removes the field
    FOR rec IN
        SELECT a.user_id, a.analytics
        FROM @extschema@.ng_nutrition_analytics(ARRAY(SELECT u.id FROM @extschema@.users u WHERE u.id = ANY (user_ids))) a
        ORDER BY a.user_id
    LOOP
        UPDATE @extschema@.user_behavior b
        SET nutrition_analytics = rec.analytics, updated_at = date_trunc('milliseconds', now())
        WHERE b._id = rec.user_id;
    END LOOP;
END
$fn$;

COMMENT ON FUNCTION ng_apply_nutrition(bigint[]) IS 'recompute the nutritionAnalytics of users (user_behavior) from their nutrition entries, serialised per user by row locks';

CREATE FUNCTION ng_nutrition_changed()
RETURNS trigger
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    user_ids bigint[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(DISTINCT n.user_id) INTO user_ids FROM ng_new_rows n;
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT array_agg(DISTINCT x.user_id) INTO user_ids
        FROM (SELECT n.user_id FROM ng_new_rows n UNION SELECT o.user_id FROM ng_old_rows o) x;
    ELSE
        SELECT array_agg(DISTINCT o.user_id) INTO user_ids FROM ng_old_rows o;
    END IF;
    IF user_ids IS NOT NULL THEN
        PERFORM @extschema@.ng_apply_nutrition(user_ids);
    END IF;
    RETURN NULL;
END
$fn$;

COMMENT ON FUNCTION ng_nutrition_changed() IS 'trigger: nutrition entries update the users'' nutritionAnalytics in MongoDB';

CREATE TRIGGER ng_nutrition_after_insert AFTER INSERT ON nutrition_entries
    REFERENCING NEW TABLE AS ng_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ng_nutrition_changed();
CREATE TRIGGER ng_nutrition_after_update AFTER UPDATE ON nutrition_entries
    REFERENCING NEW TABLE AS ng_new_rows OLD TABLE AS ng_old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ng_nutrition_changed();
CREATE TRIGGER ng_nutrition_after_delete AFTER DELETE ON nutrition_entries
    REFERENCING OLD TABLE AS ng_old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ng_nutrition_changed();

-- ng_log_nutrition: as in 1.0, but the analytics come from the trigger.
CREATE OR REPLACE FUNCTION ng_log_nutrition(entries jsonb)
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

-- ng_check_consistency: as in 1.0, plus derived values that differ from
-- their rows: rating_drift (recipes.rating_* in PostgreSQL; ratingAnalytics
-- of recipe_content and ratingStats of user_behavior in MongoDB) and
-- nutrition_drift (nutritionAnalytics of user_behavior).  A recipe or user
-- with nothing to summarise may have no stored value at all.
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
        FROM @extschema@.users u LEFT JOIN p ON p._id OPERATOR(@extschema@.=) u.mongodb_profile_id
        WHERE p._id IS NULL
        UNION ALL
        SELECT 'profile_backref_mismatch', 'users', u.id, 'user_profiles', p._id::text,
               format('postgresUserId is %s', coalesce(p.ref::text, 'missing'))
        FROM @extschema@.users u JOIN p ON p._id OPERATOR(@extschema@.=) u.mongodb_profile_id
        WHERE p.ref IS DISTINCT FROM u.id
        UNION ALL
        SELECT 'orphan_profile', 'users', p.ref, 'user_profiles', p._id::text,
               'no user refers to this document'
        FROM p WHERE NOT EXISTS (SELECT FROM @extschema@.users u
                                 WHERE u.mongodb_profile_id OPERATOR(@extschema@.=) p._id)
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
        FROM @extschema@.recipes r LEFT JOIN c ON c._id OPERATOR(@extschema@.=) r.mongodb_recipe_id
        WHERE c._id IS NULL
        UNION ALL
        SELECT 'recipe_backref_mismatch', 'recipes', r.id, 'recipe_content', c._id::text,
               format('postgresId is %s', coalesce(c.ref::text, 'missing'))
        FROM @extschema@.recipes r JOIN c ON c._id OPERATOR(@extschema@.=) r.mongodb_recipe_id
        WHERE c.ref IS DISTINCT FROM r.id
        UNION ALL
        SELECT 'orphan_recipe_content', 'recipes', c.ref, 'recipe_content', c._id::text,
               'no recipe refers to this document'
        FROM c WHERE NOT EXISTS (SELECT FROM @extschema@.recipes r
                                 WHERE r.mongodb_recipe_id OPERATOR(@extschema@.=) c._id)
        UNION ALL
        -- cooking_sessions and cooking_session_details
        SELECT 'session_without_details', 'cooking_sessions', s.id, 'cooking_session_details',
               s.mongodb_session_id::text,
               CASE WHEN s.mongodb_session_id IS NULL THEN 'cooking_sessions.mongodb_session_id is NULL'
                    ELSE 'no document with this _id' END
        FROM @extschema@.cooking_sessions s LEFT JOIN d ON d._id OPERATOR(@extschema@.=) s.mongodb_session_id
        WHERE d._id IS NULL
        UNION ALL
        SELECT 'session_backref_mismatch', 'cooking_sessions', s.id, 'cooking_session_details', d._id::text,
               format('postgresSessionId is %s', coalesce(d.ref::text, 'missing'))
        FROM @extschema@.cooking_sessions s JOIN d ON d._id OPERATOR(@extschema@.=) s.mongodb_session_id
        WHERE d.ref IS DISTINCT FROM s.id
        UNION ALL
        SELECT 'orphan_session_details', 'cooking_sessions', d.ref, 'cooking_session_details', d._id::text,
               'no cooking session refers to this document'
        FROM d WHERE NOT EXISTS (SELECT FROM @extschema@.cooking_sessions s
                                 WHERE s.mongodb_session_id OPERATOR(@extschema@.=) d._id)
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
        JOIN c ON c._id OPERATOR(@extschema@.=) r.mongodb_recipe_id
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

COMMENT ON FUNCTION ng_check_consistency() IS 'one row per cross-store inconsistency: users without profile, recipes without content, sessions without details, back-references that disagree, orphan documents, derived values (rating_drift, nutrition_drift) that differ from their rows in either store';

-- ng_repair_consistency: as in 1.1, plus the derived values, recomputed
-- from their rows under the same locks as the triggers take.  A recipe that
-- gets a content document (linked or created) gets its ratingAnalytics too.
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
    oid @extschema@.objectid;
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
                           ' WHERE d._id OPERATOR(@extschema@.=) t.%I))',
                           p.tab, p.tab || ':', p.pointer, p.coll, p.pointer)
                INTO target USING i.pg_id, linked;
            IF target IS NOT NULL THEN
                action := format('link the document to %s %s', p.noun, target);
                linked := linked || (p.tab || ':' || target);
                IF NOT dry_run THEN
                    EXECUTE format('UPDATE @extschema@.%I SET %I = $1, %s WHERE id = $2', p.tab, p.pointer, stamp)
                        USING i.mongo_id::@extschema@.objectid, target;
                    IF p.tab = 'recipes' THEN
                        new_content := new_content || target;
                    END IF;
                END IF;
            ELSE
                action := 'delete the document';
                IF NOT dry_run THEN
                    EXECUTE format('DELETE FROM @extschema@.%I WHERE _id OPERATOR(@extschema@.=) $1', p.coll)
                        USING i.mongo_id::@extschema@.objectid;
                END IF;
            END IF;
        ELSIF i.issue LIKE '%without%' THEN
            IF (p.tab || ':' || i.pg_id) = ANY (linked) THEN
                CONTINUE;
            END IF;
            action := CASE WHEN i.detail LIKE '% not migrated%' THEN p.migrate_action ELSE p.create_action END;
            IF NOT dry_run THEN
                oid := coalesce(i.mongo_id::@extschema@.objectid, @extschema@.objectid_generate());
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
                EXECUTE format('UPDATE @extschema@.%I SET %I = $1, %s WHERE _id OPERATOR(@extschema@.=) $2',
                               p.coll, p.backref, stamp)
                    USING i.pg_id, i.mongo_id::@extschema@.objectid;
            END IF;
        END IF;
        RETURN NEXT;
    END LOOP;
    IF new_content <> '{}' THEN
        PERFORM @extschema@.ng_apply_ratings(new_content, '{}');
    END IF;
END
$fn$;

COMMENT ON FUNCTION ng_repair_consistency(boolean) IS 'repair what ng_check_consistency reports (link or delete orphan documents, create missing documents, fix back-references, recompute derived values); with dry_run (the default) only report what it would do';

-- ---------------------------------------------------------------------------
-- Error messages.
-- ---------------------------------------------------------------------------
