-- -------------------------------------------------------------- consistency

CREATE FUNCTION ng_check_consistency()
RETURNS TABLE (issue text, pg_table text, pg_id bigint, collection text, mongo_id text, detail text)
LANGUAGE plpgsql STABLE STRICT PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    docs text;      -- one CTE per pair: the documents' _id and back-reference
    pairs text;     -- the three kinds of issue of every pair
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    -- Per pair of ng_document_pairs(): rows without their document, back-
    -- references that disagree, and orphan documents, from one find per
    -- collection fetching _id and the back-reference only.
    SELECT string_agg(format('%I AS MATERIALIZED (SELECT x._id, x.%I AS ref FROM @extschema@.%I x)',
                             'docs_' || p.coll, p.backref, p.coll), ', '),
           string_agg(format($q$
        SELECT %1$L AS issue, %2$L AS pg_table, t.id AS pg_id, %3$L AS collection, t.%4$I::text AS mongo_id,
               CASE %5$s WHEN t.%4$I IS NULL THEN %6$L ELSE 'no document with this _id' END AS detail
        FROM @extschema@.%2$I t LEFT JOIN %7$I d ON d._id = t.%4$I
        WHERE d._id IS NULL
        UNION ALL
        SELECT %8$L, %2$L, t.id, %3$L, d._id::text, format(%9$L, coalesce(d.ref::text, 'missing'))
        FROM @extschema@.%2$I t JOIN %7$I d ON d._id = t.%4$I
        WHERE d.ref IS DISTINCT FROM t.id
        UNION ALL
        SELECT %10$L, %2$L, d.ref, %3$L, d._id::text, %11$L
        FROM %7$I d WHERE NOT EXISTS (SELECT FROM @extschema@.%2$I t WHERE t.%4$I = d._id)$q$,
                  p.missing_issue, p.tab, p.coll, p.pointer,
                  CASE WHEN p.source IS NOT NULL
                       THEN format('WHEN t.%I IS NOT NULL THEN %L', p.source,
                                   p.source || ' not migrated to MongoDB yet')
                       ELSE '' END,
                  p.tab || '.' || p.pointer || ' is NULL', 'docs_' || p.coll,
                  p.mismatch_issue, p.backref_field || ' is %s',
                  p.orphan_issue, 'no ' || p.noun || ' refers to this document'),
                  ' UNION ALL ')
    INTO docs, pairs
    FROM @extschema@.ng_document_pairs() p;

    RETURN QUERY EXECUTE
    'WITH ' || docs || $q$,
         c AS MATERIALIZED (SELECT x._id, x.rating_analytics AS analytics FROM @extschema@.recipe_content x),
         b AS MATERIALIZED (SELECT x._id, x.rating_stats, x.nutrition_analytics FROM @extschema@.user_behavior x),
         ra AS MATERIALIZED (SELECT * FROM @extschema@.ng_rating_aggregates(ARRAY(SELECT r.id FROM @extschema@.recipes r))),
         rs AS MATERIALIZED (SELECT * FROM @extschema@.ng_rating_stats(ARRAY(SELECT u.id FROM @extschema@.users u))),
         na AS MATERIALIZED (SELECT * FROM @extschema@.ng_nutrition_analytics(ARRAY(SELECT u.id FROM @extschema@.users u))),
         issues AS ($q$ || pairs || $q$
        UNION ALL
        SELECT 'orphan_user_behavior', 'users', b._id, 'user_behavior', b._id::text,
               'no user with this id'
        FROM b WHERE NOT EXISTS (SELECT FROM @extschema@.users u WHERE u.id = b._id)
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
        JOIN c ON c._id = r.mongodb_recipe_id
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
    ORDER BY i.issue, i.pg_id NULLS LAST, i.pg_table, i.collection NULLS FIRST, i.mongo_id$q$;
END
$fn$;
COMMENT ON FUNCTION ng_check_consistency() IS 'one row per cross-store inconsistency: users without profile, recipes without content, sessions without details, back-references that disagree, orphan documents, derived values (rating_drift, nutrition_drift) that differ from their rows in either store';
-- The pairs of a PostgreSQL table and its collection, described once for
-- ng_check_consistency, ng_repair_consistency and ng_migrate_to_mongo: the
-- row's pointer to its
-- document, the document's back-reference (column and field), the
-- PostgreSQL-first column a document is migrated from, the function that
-- makes a document of a row, and the words used in reports.  In migration
-- order (recipes first).
CREATE FUNCTION ng_document_pairs()
RETURNS TABLE (tab text, coll text, pointer text, backref text, backref_field text, noun text,
               source text, builder text, migrate_action text, create_action text, label text,
               missing_issue text, mismatch_issue text, orphan_issue text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $$
    VALUES
        ('recipes', 'recipe_content', 'mongodb_recipe_id', 'postgres_id', 'postgresId',
         'recipe', 'content', 'ng_recipe_document',
         'create the content document from recipes.content', 'create a placeholder content document',
         'recipes', 'recipe_without_content', 'recipe_backref_mismatch', 'orphan_recipe_content'),
        ('users', 'user_profiles', 'mongodb_profile_id', 'postgres_user_id', 'postgresUserId',
         'user', 'profile', 'ng_profile_document',
         'create a profile document from users.profile', 'create a profile document with defaults',
         'user profiles', 'user_without_profile', 'profile_backref_mismatch', 'orphan_profile'),
        ('cooking_sessions', 'cooking_session_details', 'mongodb_session_id', 'postgres_session_id',
         'postgresSessionId', 'cooking session', NULL, 'ng_session_document',
         NULL, 'create a detail document from the session row',
         'cooking session details', 'session_without_details', 'session_backref_mismatch',
         'orphan_session_details')
$$;

COMMENT ON FUNCTION ng_document_pairs() IS 'the pairs of a PostgreSQL table and its MongoDB collection (pointer, back-reference, PostgreSQL-first column, document builder), in migration order';

CREATE FUNCTION ng_repair_consistency(dry_run boolean DEFAULT true)
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
    oid objectid;
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

        -- the pair (ng_document_pairs)
        SELECT * INTO p FROM @extschema@.ng_document_pairs() v
        WHERE v.tab = i.pg_table AND v.coll = i.collection;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'unexpected consistency issue "%"', i.issue USING ERRCODE = 'internal_error';
        END IF;

        IF i.issue LIKE 'orphan%' THEN
            target := NULL;
            EXECUTE format('SELECT t.id FROM @extschema@.%I t WHERE t.id = $1 AND NOT %L || t.id = ANY ($2)'
                           ' AND (t.%I IS NULL OR NOT EXISTS (SELECT FROM @extschema@.%I d'
                           ' WHERE d._id = t.%I))',
                           p.tab, p.tab || ':', p.pointer, p.coll, p.pointer)
                INTO target USING i.pg_id, linked;
            IF target IS NOT NULL THEN
                action := format('link the document to %s %s', p.noun, target);
                linked := linked || (p.tab || ':' || target);
                IF NOT dry_run THEN
                    EXECUTE format('UPDATE @extschema@.%I SET %I = $1, %s WHERE id = $2', p.tab, p.pointer, stamp)
                        USING i.mongo_id::objectid, target;
                    IF p.tab = 'recipes' THEN
                        new_content := new_content || target;
                    END IF;
                END IF;
            ELSE
                action := 'delete the document';
                IF NOT dry_run THEN
                    EXECUTE format('DELETE FROM @extschema@.%I WHERE _id = $1', p.coll)
                        USING i.mongo_id::objectid;
                END IF;
            END IF;
        ELSIF i.issue LIKE '%without%' THEN
            IF (p.tab || ':' || i.pg_id) = ANY (linked) THEN
                CONTINUE;
            END IF;
            action := CASE WHEN i.detail LIKE '% not migrated%' THEN p.migrate_action ELSE p.create_action END;
            IF NOT dry_run THEN
                oid := coalesce(i.mongo_id::objectid, objectid_generate());
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
                EXECUTE format('UPDATE @extschema@.%I SET %I = $1, %s WHERE _id = $2',
                               p.coll, p.backref, stamp)
                    USING i.pg_id, i.mongo_id::objectid;
            END IF;
        END IF;
        RETURN NEXT;
    END LOOP;
    IF new_content <> '{}' THEN
        PERFORM @extschema@.ng_apply_ratings(new_content, '{}');
        PERFORM @extschema@.ng_refresh_recipe_features(new_content);
    END IF;
END
$fn$;
COMMENT ON FUNCTION ng_repair_consistency(boolean) IS 'repair what ng_check_consistency reports (link or delete orphan documents, create missing documents, fix back-references, recompute derived values); with dry_run (the default) only report what it would do';
CREATE FUNCTION ng_recipe_document(r recipes)
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

COMMENT ON FUNCTION ng_recipe_document(recipes) IS 'a recipe_content document for a recipe row, from its PostgreSQL-first content column (or an empty placeholder)';


-- ng_repair_consistency, table-driven: the three pairs of a PostgreSQL
-- table and its collection (users and user_profiles, recipes and
-- recipe_content, cooking_sessions and cooking_session_details) are
-- repaired by one block per kind of issue instead of one per pair.  What it
-- does and reports is unchanged.

CREATE FUNCTION ng_profile_document(u users)
RETURNS jsonb
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$
    SELECT @extschema@.ng_profile_document(u.id, u.profile)
$$;

COMMENT ON FUNCTION ng_profile_document(users) IS 'a user_profiles document for a user row, from its PostgreSQL-first profile column (or the default profile)';


CREATE FUNCTION ng_session_document(s cooking_sessions)
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

COMMENT ON FUNCTION ng_session_document(cooking_sessions) IS 'a cooking_session_details document restored from a session row (no voice interactions or step progress)';

-- -------------------------------------------------------------- health and report

CREATE FUNCTION ng_health()
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
    IF has_table_privilege('nutragenie_fdw.outbox'::regclass, 'SELECT')
       AND has_table_privilege('nutragenie_fdw.dead_letters'::regclass, 'SELECT') THEN
        SELECT * INTO q FROM nutragenie_fdw.write_queue_status();
        queue := jsonb_build_object('pending', q.pending,
            'oldestAgeSeconds', round(extract(epoch FROM q.oldest_age)::numeric, 3),
            'lastError', q.last_error, 'deadLetters', q.dead_letters);
    ELSE
        queue := jsonb_build_object('pending', NULL, 'oldestAgeSeconds', NULL,
            'lastError', NULL, 'deadLetters', NULL,
            'note', 'not shown: reading the write queue needs SELECT on nutragenie_fdw.outbox and nutragenie_fdw.dead_letters');
    END IF;
    IF srv IS NULL THEN
        mongo := jsonb_build_object('ok', false, 'error', 'not attached (run ng_attach_mongo)');
    ELSIF NOT has_function_privilege('nutragenie_fdw.run_command(name, json, text)'::regprocedure, 'EXECUTE') THEN
        SELECT database INTO db FROM @extschema@.mongo_attachment;
        mongo := jsonb_build_object('ok', NULL, 'server', srv, 'database', db,
            'note', 'not checked: pinging MongoDB needs EXECUTE on nutragenie_fdw.run_command');
    ELSE
        SELECT database INTO db FROM @extschema@.mongo_attachment;
        BEGIN
            t0 := clock_timestamp();
            PERFORM nutragenie_fdw.run_command(srv, '{"ping": 1}', db);
            mongo := jsonb_build_object('ok', true, 'server', srv, 'database', db,
                'latencyMs', round(extract(epoch FROM clock_timestamp() - t0) * 1000, 3));
            info := nutragenie_fdw.run_command(srv, '{"buildInfo": 1}', db);
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
                  FROM nutragenie_fdw.cache_stats() c));
END
$fn$;
COMMENT ON FUNCTION ng_health() IS 'health of both stores: reachability, round-trip latency and versions, MongoDB write-queue backlog and dead letters (NULL with a note for a role that may not read the outbox and dead letters), document cache hits and misses; "status" is ok or degraded';

CREATE FUNCTION ng_report()
RETURNS jsonb
LANGUAGE plpgsql STABLE STRICT PARALLEL RESTRICTED
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
DECLARE
    issues jsonb;
    docs jsonb;
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    SELECT jsonb_build_object('total', count(*),
                              'byKind', coalesce(jsonb_object_agg(k.issue, k.n) FILTER (WHERE k.issue IS NOT NULL), '{}'))
    INTO issues
    FROM (SELECT c.issue, count(*) AS n FROM @extschema@.ng_check_consistency() c GROUP BY c.issue) k;
    issues := jsonb_set(issues, '{total}', to_jsonb(coalesce((SELECT sum(v::int) FROM jsonb_each_text(issues -> 'byKind') e(k, v)), 0)));
    docs := jsonb_build_object(
        'recipe_content', (SELECT count(*) FROM @extschema@.recipe_content),
        'user_profiles', (SELECT count(*) FROM @extschema@.user_profiles),
        'cooking_session_details', (SELECT count(*) FROM @extschema@.cooking_session_details),
        'chef_personalities', (SELECT count(*) FROM @extschema@.chef_personalities),
        'user_behavior', (SELECT count(*) FROM @extschema@.user_behavior));
    RETURN jsonb_build_object(
        'users', (SELECT count(*) FROM @extschema@.users),
        'recipes', (SELECT count(*) FROM @extschema@.recipes),
        'ratings', (SELECT count(*) FROM @extschema@.recipe_ratings),
        'nutritionEntries', (SELECT count(*) FROM @extschema@.nutrition_entries),
        'payments', (SELECT count(*) FROM @extschema@.payments),
        'chatMessages', (SELECT count(*) FROM @extschema@.chat_messages),
        'sessions', (SELECT jsonb_build_object('total', count(*),
                                               'active', count(*) FILTER (WHERE status = 'active'),
                                               'completed', count(*) FILTER (WHERE status = 'completed'),
                                               'abandoned', count(*) FILTER (WHERE status = 'abandoned'))
                     FROM @extschema@.cooking_sessions),
        'documents', docs,
        'consistencyIssues', issues);
END
$fn$;

COMMENT ON FUNCTION ng_report() IS 'counts of users, recipes, ratings, entries, sessions and MongoDB documents, and the consistency issues by kind';

-- -------------------------------------------------------------- migration

CREATE PROCEDURE ng_migrate_to_mongo(batch_size int DEFAULT 1000)
LANGUAGE plpgsql
AS $fn$
DECLARE
    caller_path pg_catalog.text := pg_catalog.current_setting('search_path');
    -- the search_path the install script pinned on the other functions
    -- (sql/app/pin.sql): this extension's schema and nutragenie_fdw's
    pinned pg_catalog.text := (
        SELECT pg_catalog.substr(c, 13)
        FROM pg_catalog.pg_proc p, pg_catalog.unnest(p.proconfig) c
        WHERE p.oid OPERATOR(pg_catalog.=) '@extschema@.ng_require_mongo()'::pg_catalog.regprocedure
          AND pg_catalog.starts_with(c, 'search_path='));
    -- per kind (the pairs with a PostgreSQL-first column, ng_document_pairs):
    -- the table, its jsonb column, its reference column, the collection,
    -- the document builder, and the kind's name
    tabs pg_catalog.text[];
    cols pg_catalog.text[];
    refs pg_catalog.text[];
    colls pg_catalog.text[];
    builders pg_catalog.text[];
    names pg_catalog.text[];
    total bigint[] := ARRAY[0, 0];
    done bigint[] := ARRAY[0, 0];
    n bigint;
BEGIN
    PERFORM pg_catalog.set_config('search_path', pinned, true);
    PERFORM @extschema@.ng_require_mongo();
    IF batch_size IS NULL OR batch_size < 1 THEN
        RAISE EXCEPTION 'batch_size must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT array_agg(p.tab ORDER BY p.ord), array_agg(p.source ORDER BY p.ord), array_agg(p.pointer ORDER BY p.ord),
           array_agg(p.coll ORDER BY p.ord), array_agg(p.builder ORDER BY p.ord), array_agg(p.label ORDER BY p.ord)
    INTO tabs, cols, refs, colls, builders, names
    FROM @extschema@.ng_document_pairs() WITH ORDINALITY
         p(tab, coll, pointer, backref, backref_field, noun, source, builder, migrate_action, create_action, label,
           missing_issue, mismatch_issue, orphan_issue, ord)
    WHERE p.source IS NOT NULL;
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
    CREATE TEMP TABLE IF NOT EXISTS ng_migration_batch (id bigint, oid objectid, doc jsonb);
    FOR i IN 1..2 LOOP
        LOOP
            TRUNCATE pg_temp.ng_migration_batch;
            EXECUTE format('INSERT INTO pg_temp.ng_migration_batch'
                           ' SELECT r.id, coalesce(r.%2$I, objectid_generate()), @extschema@.%4$I(r)'
                           ' FROM @extschema@.%1$I r WHERE r.%3$I IS NOT NULL OR r.%2$I IS NULL'
                           ' ORDER BY r.id LIMIT $1 FOR UPDATE',
                           tabs[i], refs[i], cols[i], builders[i])
            USING batch_size;
            GET DIAGNOSTICS n = ROW_COUNT;
            EXIT WHEN n = 0;
            -- a document the row already points to is replaced
            EXECUTE format('DELETE FROM @extschema@.%I c WHERE c._id ='
                           ' ANY (ARRAY(SELECT b.oid FROM pg_temp.ng_migration_batch b))', colls[i]);
            EXECUTE format('INSERT INTO @extschema@.%I (_id, doc)'
                           ' SELECT b.oid, b.doc FROM pg_temp.ng_migration_batch b', colls[i]);
            EXECUTE format('UPDATE @extschema@.%1$I r SET %2$I = b.oid, %3$I = NULL,'
                           ' updated_at = date_trunc(''milliseconds'', now())'
                           ' FROM pg_temp.ng_migration_batch b WHERE r.id = b.id',
                           tabs[i], refs[i], cols[i]);
            COMMIT;
            PERFORM pg_catalog.set_config('search_path', pinned, true);
            done[i] := done[i] + n;
            RAISE NOTICE '%: % of % migrated', names[i], done[i], total[i];
        END LOOP;
    END LOOP;
    DROP TABLE pg_temp.ng_migration_batch;
    -- the migrated recipes' searchable features (recipe_features)
    PERFORM @extschema@.ng_refresh_recipe_features();
    RAISE NOTICE 'migration complete: % recipes, % user profiles', done[1], done[2];
    PERFORM pg_catalog.set_config('search_path', caller_path, true);
END
$fn$;

COMMENT ON PROCEDURE ng_migrate_to_mongo(int) IS 'move recipe content (recipes.content) and user profiles (users.profile) of a PostgreSQL-first deployment into MongoDB, batch by batch (one transaction each, resumable, idempotent), reporting progress as NOTICEs';
