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
-- search_path itself, for each of its transactions, before any statement
-- of its own is parsed, and gives the caller's back at the end.
CREATE OR REPLACE PROCEDURE ng_migrate_to_mongo(batch_size int DEFAULT 1000)
LANGUAGE plpgsql
AS $fn$
DECLARE
    caller_path text := pg_catalog.current_setting('search_path');
    total_r bigint;
    total_u bigint;
    done_r bigint := 0;
    done_u bigint := 0;
    n bigint;
BEGIN
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, @extschema@, pg_temp', true);
    PERFORM @extschema@.ng_require_mongo();
    IF batch_size IS NULL OR batch_size < 1 THEN
        RAISE EXCEPTION 'batch_size must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT count(*) INTO total_r FROM @extschema@.recipes WHERE content IS NOT NULL OR mongodb_recipe_id IS NULL;
    SELECT count(*) INTO total_u FROM @extschema@.users WHERE profile IS NOT NULL OR mongodb_profile_id IS NULL;
    RAISE NOTICE 'migrating % recipes and % user profiles to MongoDB, % per batch', total_r, total_u, batch_size;

    -- Each batch is one transaction: its documents and the rows' new
    -- references commit together.  A row leaves the work list when it is
    -- migrated (content/profile set to NULL, reference set), so a run that
    -- was interrupted resumes where it stopped, and a second run does
    -- nothing.
    CREATE TEMP TABLE IF NOT EXISTS ng_migration_batch (id bigint, oid @extschema@.objectid, doc jsonb);
    LOOP
        TRUNCATE pg_temp.ng_migration_batch;
        INSERT INTO pg_temp.ng_migration_batch
        SELECT r.id, coalesce(r.mongodb_recipe_id, @extschema@.objectid_generate()),
               @extschema@.ng_recipe_document(r)
        FROM @extschema@.recipes r
        WHERE r.content IS NOT NULL OR r.mongodb_recipe_id IS NULL
        ORDER BY r.id LIMIT batch_size
        FOR UPDATE;
        GET DIAGNOSTICS n = ROW_COUNT;
        EXIT WHEN n = 0;
        -- a document the row already points to is replaced
        DELETE FROM @extschema@.recipe_content c
        WHERE c._id OPERATOR(@extschema@.=) ANY (ARRAY(SELECT b.oid FROM pg_temp.ng_migration_batch b));
        INSERT INTO @extschema@.recipe_content (_id, doc) SELECT b.oid, b.doc FROM pg_temp.ng_migration_batch b;
        UPDATE @extschema@.recipes r SET mongodb_recipe_id = b.oid, content = NULL, updated_at = date_trunc('milliseconds', now())
        FROM pg_temp.ng_migration_batch b WHERE r.id = b.id;
        COMMIT;
        PERFORM pg_catalog.set_config('search_path', 'pg_catalog, @extschema@, pg_temp', true);
        done_r := done_r + n;
        RAISE NOTICE 'recipes: % of % migrated', done_r, total_r;
    END LOOP;

    LOOP
        TRUNCATE pg_temp.ng_migration_batch;
        INSERT INTO pg_temp.ng_migration_batch
        SELECT u.id, coalesce(u.mongodb_profile_id, @extschema@.objectid_generate()),
               @extschema@.ng_profile_document(u.id, u.profile)
        FROM @extschema@.users u
        WHERE u.profile IS NOT NULL OR u.mongodb_profile_id IS NULL
        ORDER BY u.id LIMIT batch_size
        FOR UPDATE;
        GET DIAGNOSTICS n = ROW_COUNT;
        EXIT WHEN n = 0;
        DELETE FROM @extschema@.user_profiles p
        WHERE p._id OPERATOR(@extschema@.=) ANY (ARRAY(SELECT b.oid FROM pg_temp.ng_migration_batch b));
        INSERT INTO @extschema@.user_profiles (_id, doc) SELECT b.oid, b.doc FROM pg_temp.ng_migration_batch b;
        UPDATE @extschema@.users u SET mongodb_profile_id = b.oid, profile = NULL, updated_at = date_trunc('milliseconds', now())
        FROM pg_temp.ng_migration_batch b WHERE u.id = b.id;
        COMMIT;
        PERFORM pg_catalog.set_config('search_path', 'pg_catalog, @extschema@, pg_temp', true);
        done_u := done_u + n;
        RAISE NOTICE 'user profiles: % of % migrated', done_u, total_u;
    END LOOP;
    DROP TABLE pg_temp.ng_migration_batch;
    RAISE NOTICE 'migration complete: % recipes, % user profiles', done_r, done_u;
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
