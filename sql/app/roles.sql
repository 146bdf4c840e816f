-- ---------------------------------------------------------------------------
-- Roles: what an application role and an analyst role may do; optional
-- per-user isolation for the application role.
-- ---------------------------------------------------------------------------
-- The services run with their caller's rights (but ng_publish, the
-- payments history trigger and the functions that reach the per-user
-- collections: SECURITY DEFINER, below), so an application role needs the
-- table privileges its services use: ng_setup_app_role grants exactly
-- those (never the outbox, the dead letters, the FDW's administration, or
-- writing event_log and payment_status_history), EXECUTE on ng_publish
-- (the services call it) and USAGE on the attached server; its
-- MongoDB credentials are its own user mapping, which the DBA creates.
-- ng_setup_analyst_role grants reading the views (which reach MongoDB with
-- their owner's mapping) and the tables, without password hashes, chat
-- messages or the event log.  Both are remembered in role_setup and granted
-- again by ng_attach_mongo, which recreates the foreign tables and views.
--
-- Per-user isolation (user_isolation => true): while the setting
-- nutragenie_app.user_id names a user, the role sees and changes only that
-- user's rows (users, payments and their history, goals, nutrition
-- entries, chat messages, cooking sessions, events), rates only as that
-- user (ratings stay readable: they make the recipes' aggregates) and
-- changes only the recipes that user created.  It has no privilege on the
-- per-user foreign tables (no row-level security there): the services
-- reach them as the owner, filtering with ng_acting_for.  With the
-- setting empty it acts for no user in particular (sign-up, login,
-- background jobs) and sees all rows.  It guards against a request handler
-- that acts on another user's id, not against a client that can run any
-- SQL: such a client can change the setting.

CREATE TABLE role_setup (
    role           name PRIMARY KEY,
    kind           text NOT NULL CHECK (kind IN ('app', 'analyst')),
    user_isolation boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE @extschema@.role_setup IS 'the roles ng_setup_app_role and ng_setup_analyst_role set up (granted again by ng_attach_mongo)';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.role_setup', '');

-- The user the current request acts for (setting nutragenie_app.user_id),
-- NULL when it is empty or unset.
CREATE FUNCTION ng_app_user()
RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN pg_catalog.current_setting('nutragenie_app.user_id', true) OPERATOR(pg_catalog.<>) ''
                THEN pg_catalog.current_setting('nutragenie_app.user_id', true)::pg_catalog.int8 END
$$;

COMMENT ON FUNCTION @extschema@.ng_app_user() IS 'the user id in setting nutragenie_app.user_id (the user an application request acts for), NULL when empty';

-- Whether the current request may act on this user's rows: it acts for no
-- user in particular, or for this one.  The SECURITY DEFINER services (which
-- bypass row-level security) filter with it.
CREATE FUNCTION ng_acting_for(user_id bigint)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT @extschema@.ng_app_user() IS NULL OR $1 OPERATOR(pg_catalog.=) @extschema@.ng_app_user()
$$;

COMMENT ON FUNCTION @extschema@.ng_acting_for(bigint) IS 'whether the current request may act on this user''s rows: setting nutragenie_app.user_id is empty or names this user';

CREATE FUNCTION ng_apply_role_grants()
RETURNS void
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    rs record;
    t record;
    srv name := @extschema@.ng_mongo_server();
    attached boolean;
    isolated text;
    cmd text;
    pol name;
    fdw_schema name;
BEGIN
    attached := to_regclass('@extschema@.recipe_content') IS NOT NULL;
    SELECT e.extnamespace::regnamespace::name INTO fdw_schema FROM pg_extension e WHERE e.extname = 'nutragenie_fdw';
    FOR rs IN SELECT * FROM @extschema@.role_setup ORDER BY role LOOP
        IF NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = rs.role) THEN
            CONTINUE;
        END IF;
        -- this schema, the FDW's (its type and operators) and its fixed
        -- schema nutragenie_fdw (the document cache the services read through)
        EXECUTE format('GRANT USAGE ON SCHEMA @extschema@, %I, nutragenie_fdw TO %I', fdw_schema, rs.role);
        IF rs.kind = 'app' THEN
            FOR t IN SELECT * FROM (VALUES
                ('users', 'SELECT, INSERT, UPDATE, DELETE'), ('payments', 'SELECT, INSERT, UPDATE'),
                ('payment_status_history', 'SELECT'), ('nutrition_goals', 'SELECT, INSERT, UPDATE, DELETE'),
                ('nutrition_entries', 'SELECT, INSERT, UPDATE, DELETE'), ('recipes', 'SELECT, INSERT, UPDATE, DELETE'),
                ('recipe_ratings', 'SELECT, INSERT, UPDATE, DELETE'), ('chat_messages', 'SELECT, INSERT'),
                ('cooking_sessions', 'SELECT, INSERT, UPDATE, DELETE'), ('recipe_features', 'SELECT, INSERT, UPDATE, DELETE'),
                ('event_log', 'SELECT'), ('mongo_attachment', 'SELECT'), ('food_rules', 'SELECT'),
                ('chat_triggers', 'SELECT')) v(tab, privs)
            LOOP
                EXECUTE format('GRANT %s ON @extschema@.%I TO %I', t.privs, t.tab, rs.role);
            END LOOP;
            EXECUTE format('GRANT USAGE ON ALL SEQUENCES IN SCHEMA @extschema@ TO %I', rs.role);
            EXECUTE format('GRANT EXECUTE ON FUNCTION @extschema@.ng_publish(text, jsonb), '
                           '@extschema@.ng_behavior_documents(bigint[]), @extschema@.ng_apply_ratings(bigint[], bigint[]), '
                           '@extschema@.ng_apply_nutrition(bigint[]), @extschema@.ng_refresh_behavior(bigint[]), '
                           '@extschema@.ng_update_user(bigint, jsonb), @extschema@.ng_search_recipes(jsonb, int), '
                           '@extschema@.ng_start_cooking_session(bigint, bigint, text), '
                           '@extschema@.ng_log_voice_interaction(bigint, jsonb), '
                           '@extschema@.ng_end_cooking_session(bigint, text, text), @extschema@.ng_cooking_progress(bigint) TO %I',
                           rs.role);
            -- the history and the log are written by SECURITY DEFINER triggers
            -- and ng_publish only (in case an earlier version granted more)
            EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON @extschema@.payment_status_history, @extschema@.event_log FROM %I',
                           rs.role);
            IF attached THEN
                EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.recipe_content, @extschema@.chef_personalities TO %I',
                               rs.role);
                -- the per-user collections have no row-level security: an
                -- isolated role reaches them only through the services
                -- (SECURITY DEFINER, filtered by ng_acting_for)
                EXECUTE format('%s SELECT, INSERT, UPDATE, DELETE ON @extschema@.user_profiles, '
                               '@extschema@.cooking_session_details, @extschema@.user_behavior %s %I',
                               CASE WHEN rs.user_isolation THEN 'REVOKE' ELSE 'GRANT' END,
                               CASE WHEN rs.user_isolation THEN 'FROM' ELSE 'TO' END, rs.role);
            END IF;
            IF srv IS NOT NULL THEN
                EXECUTE format('GRANT USAGE ON FOREIGN SERVER %I TO %I', srv, rs.role);
            END IF;
        ELSE
            EXECUTE format('GRANT SELECT ON @extschema@.recipes, @extschema@.recipe_ratings, @extschema@.recipe_features, '
                           '@extschema@.nutrition_entries, @extschema@.nutrition_goals, @extschema@.cooking_sessions, '
                           '@extschema@.payments, @extschema@.payment_status_history, @extschema@.food_rules, '
                           '@extschema@.mongo_attachment TO %I', rs.role);
            EXECUTE format('GRANT SELECT (%s) ON @extschema@.users TO %I',
                           (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) FROM pg_attribute a
                            WHERE a.attrelid = '@extschema@.users'::regclass AND a.attnum > 0 AND NOT a.attisdropped
                              AND a.attname <> 'password_hash'),
                           rs.role);
            IF attached THEN
                EXECUTE format('GRANT SELECT ON @extschema@.recipe_full, @extschema@.user_full_profile, '
                               '@extschema@.cooking_session_analytics, @extschema@.nutrition_vs_goals TO %I', rs.role);
            END IF;
        END IF;
    END LOOP;

    -- per-user isolation: a permissive policy for everyone, and for the
    -- isolated roles a restrictive one on the user's own rows
    SELECT string_agg(quote_ident(r.role), ', ' ORDER BY r.role) INTO isolated
    FROM @extschema@.role_setup r
    WHERE r.user_isolation AND EXISTS (SELECT FROM pg_roles x WHERE x.rolname = r.role);
    FOR t IN SELECT * FROM (VALUES
        ('users', 'id', 'ALL'), ('payments', 'user_id', 'ALL'), ('nutrition_goals', 'user_id', 'ALL'),
        ('nutrition_entries', 'user_id', 'ALL'), ('chat_messages', 'user_id', 'ALL'),
        ('cooking_sessions', 'user_id', 'ALL'), ('recipe_ratings', 'user_id', 'INSERT'),
        ('recipe_ratings', 'user_id', 'UPDATE'), ('recipe_ratings', 'user_id', 'DELETE'),
        ('payment_status_history', NULL, 'ALL'), ('event_log', 'user_id', 'ALL'),
        ('recipes', 'created_by', 'INSERT'), ('recipes', 'created_by', 'UPDATE'),
        ('recipes', 'created_by', 'DELETE')) v(tab, col, cmd)
    LOOP
        FOR pol IN SELECT p.polname FROM pg_policy p
                   WHERE p.polrelid = format('@extschema@.%I', t.tab)::regclass
                     AND p.polname IN ('ng_all_rows', 'ng_user_isolation_' || lower(t.cmd))
        LOOP
            EXECUTE format('DROP POLICY %I ON @extschema@.%I', pol, t.tab);
        END LOOP;
        IF isolated IS NULL THEN
            EXECUTE format('ALTER TABLE @extschema@.%I DISABLE ROW LEVEL SECURITY', t.tab);
            CONTINUE;
        END IF;
        cmd := CASE WHEN t.col IS NULL
                    THEN '@extschema@.ng_app_user() IS NULL OR payment_id IN (SELECT p.id FROM @extschema@.payments p)'
                    ELSE format('@extschema@.ng_app_user() IS NULL OR %I OPERATOR(pg_catalog.=) @extschema@.ng_app_user()', t.col) END;
        EXECUTE format('CREATE POLICY ng_all_rows ON @extschema@.%I USING (true) WITH CHECK (true)', t.tab);
        EXECUTE format('CREATE POLICY %I ON @extschema@.%I AS RESTRICTIVE FOR %s TO %s %s',
                       'ng_user_isolation_' || lower(t.cmd), t.tab, t.cmd, isolated,
                       CASE t.cmd WHEN 'INSERT' THEN format('WITH CHECK (%s)', cmd)
                                  WHEN 'DELETE' THEN format('USING (%s)', cmd)
                                  ELSE format('USING (%s) WITH CHECK (%s)', cmd, cmd) END);
        EXECUTE format('ALTER TABLE @extschema@.%I ENABLE ROW LEVEL SECURITY', t.tab);
    END LOOP;
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_apply_role_grants() IS 'grant the privileges of the roles in role_setup and (re)create the per-user isolation policies';
REVOKE EXECUTE ON FUNCTION @extschema@.ng_apply_role_grants() FROM PUBLIC;

CREATE FUNCTION ng_setup_app_role(role name, user_isolation boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = role) THEN
        RAISE EXCEPTION 'role "%" does not exist', role USING ERRCODE = 'undefined_object';
    END IF;
    INSERT INTO @extschema@.role_setup AS s (role, kind, user_isolation) VALUES (role, 'app', user_isolation)
    ON CONFLICT ON CONSTRAINT role_setup_pkey DO UPDATE SET kind = 'app', user_isolation = excluded.user_isolation;
    PERFORM @extschema@.ng_apply_role_grants();
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_setup_app_role(name, boolean) IS 'grant a role what the NutraGenie services need (tables, sequences, foreign tables, the server, ng_publish; never the outbox) and, with user_isolation, restrict it to the user in setting nutragenie_app.user_id';
REVOKE EXECUTE ON FUNCTION @extschema@.ng_setup_app_role(name, boolean) FROM PUBLIC;

CREATE FUNCTION ng_setup_analyst_role(role name)
RETURNS void
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = role) THEN
        RAISE EXCEPTION 'role "%" does not exist', role USING ERRCODE = 'undefined_object';
    END IF;
    INSERT INTO @extschema@.role_setup AS s (role, kind) VALUES (role, 'analyst')
    ON CONFLICT ON CONSTRAINT role_setup_pkey DO UPDATE SET kind = 'analyst', user_isolation = false;
    PERFORM @extschema@.ng_apply_role_grants();
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_setup_analyst_role(name) IS 'grant a role read access to the NutraGenie views and tables (no password hashes, chat messages or event log)';
REVOKE EXECUTE ON FUNCTION @extschema@.ng_setup_analyst_role(name) FROM PUBLIC;

-- The functions that read or write the per-user collections
-- (user_profiles, user_behavior, cooking_session_details) run as the
-- extension's owner, so that an isolated application role needs no
-- privilege on them; the services among them find their rows with
-- ng_acting_for, the triggers and helpers act on rows the caller could
-- change.
DO $secdef$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['ng_users_after_insert()', 'ng_users_after_delete()', 'ng_sessions_changed()',
                             'ng_behavior_documents(bigint[])', 'ng_apply_ratings(bigint[], bigint[])',
                             'ng_apply_nutrition(bigint[])', 'ng_refresh_behavior(bigint[])',
                             'ng_update_user(bigint, jsonb)', 'ng_search_recipes(jsonb, int)',
                             'ng_start_cooking_session(bigint, bigint, text)', 'ng_log_voice_interaction(bigint, jsonb)',
                             'ng_end_cooking_session(bigint, text, text)', 'ng_cooking_progress(bigint)'] LOOP
        EXECUTE pg_catalog.format('ALTER FUNCTION @extschema@.%s SECURITY DEFINER', f);
        -- they bypass the table privileges: only the application roles
        -- (ng_apply_role_grants) and the owner may call them
        IF f !~ '^ng_(users_after_insert|users_after_delete|sessions_changed)\(' THEN
            EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION @extschema@.%s FROM PUBLIC', f);
        END IF;
    END LOOP;
END
$secdef$;
