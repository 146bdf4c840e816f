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

-- ---------------------------------------------------------------------------
-- Options and credentials.
-- ---------------------------------------------------------------------------

-- ---------------------------------------------------------------------------
-- Derived data (ratings, nutrition analytics) stays exact under concurrency.
-- ---------------------------------------------------------------------------

-- ---------------------------------------------------------------------------
-- Error messages.
-- ---------------------------------------------------------------------------
