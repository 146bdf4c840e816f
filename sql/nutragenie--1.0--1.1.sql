/* nutragenie--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION nutragenie UPDATE TO '1.1'" to load this file. \quit

-- The statement-time check for queued operations on the documents a
-- statement writes (src/modify.c, ng_outbox_check_queued) asks
--   serverid = $1 AND database = $2 AND collection = $3 AND doc_id = ANY ($4)
-- With doc_id last in the index, the ANY was evaluated as a filter over
-- every queued row of the collection, once per statement or batch: a COPY
-- or a long transaction went quadratic.  Lead with doc_id, which alone
-- nearly identifies a row.  The applier reads and deletes by seq (the
-- primary key) and does not use this index.

DROP INDEX outbox_document_idx;
CREATE INDEX outbox_document_idx ON outbox (doc_id, collection, database, serverid);

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
    SELECT jsonb_build_object(
        'postgresSessionId', s.id, 'postgresUserId', s.user_id, 'postgresRecipeId', s.recipe_id,
        'sessionMetadata', jsonb_build_object('mode', s.mode, 'status', s.status,
                                              'totalSteps', s.total_steps, 'restored', true,
                                              'startedAt', @extschema@.ng_bson_date(s.started_at)),
        'voiceInteractions', '[]'::jsonb, 'stepProgress', '[]'::jsonb,
        'createdAt', @extschema@.ng_bson_date(now()), 'updatedAt', @extschema@.ng_bson_date(now()))
$$;

COMMENT ON FUNCTION ng_session_document(cooking_sessions) IS 'a cooking_session_details document restored from a session row (no voice interactions or step progress)';

CREATE OR REPLACE FUNCTION ng_repair_consistency(dry_run boolean DEFAULT true)
RETURNS TABLE (issue text, pg_table text, pg_id bigint, collection text, mongo_id text, action text, applied boolean)
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
DECLARE
    i record;
    p record;
    linked text[] := '{}';      -- 'table:id' of rows an orphan was linked to
    oid @extschema@.objectid;
    target bigint;
    stamp CONSTANT text := 'updated_at = date_trunc(''milliseconds'', now())';
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    -- Orphans first: an orphan whose back-reference names a row that has
    -- no document of its own is linked to it (the row's pointer was lost);
    -- other orphans are deleted.  Then rows still without a document get
    -- a new one (a default profile, placeholder content or details), and
    -- back-references are corrected.
    FOR i IN
        SELECT * FROM @extschema@.ng_check_consistency() c
        ORDER BY CASE WHEN c.issue LIKE 'orphan%' THEN 0 WHEN c.issue LIKE '%without%' THEN 1 ELSE 2 END,
                 c.issue, c.pg_id NULLS LAST, c.mongo_id
    LOOP
        issue := i.issue; pg_table := i.pg_table; pg_id := i.pg_id; collection := i.collection;
        mongo_id := i.mongo_id; applied := NOT dry_run;

        IF i.issue = 'orphan_user_behavior' THEN
            action := 'delete the document';
            IF NOT dry_run THEN
                DELETE FROM @extschema@.user_behavior WHERE _id = i.pg_id;
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
                           ' AND (t.%I IS NULL OR NOT EXISTS (SELECT FROM @extschema@.%I d WHERE d._id = t.%I))',
                           p.tab, p.tab || ':', p.pointer, p.coll, p.pointer)
                INTO target USING i.pg_id, linked;
            IF target IS NOT NULL THEN
                action := format('link the document to %s %s', p.noun, target);
                linked := linked || (p.tab || ':' || target);
                IF NOT dry_run THEN
                    EXECUTE format('UPDATE @extschema@.%I SET %I = $1, %s WHERE id = $2', p.tab, p.pointer, stamp)
                        USING i.mongo_id::@extschema@.objectid, target;
                END IF;
            ELSE
                action := 'delete the document';
                IF NOT dry_run THEN
                    EXECUTE format('DELETE FROM @extschema@.%I WHERE _id = $1', p.coll)
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
            END IF;
        ELSE
            -- a back-reference that disagrees
            action := format('set %s to %s', p.backref_field, i.pg_id);
            IF NOT dry_run THEN
                EXECUTE format('UPDATE @extschema@.%I SET %I = $1, %s WHERE _id = $2', p.coll, p.backref, stamp)
                    USING i.pg_id, i.mongo_id::@extschema@.objectid;
            END IF;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$fn$;
