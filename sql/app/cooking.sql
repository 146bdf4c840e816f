-- ---------------------------------------------------------------------------
-- Cooking sessions: ending (complete or abandon), a user's sessions,
-- progress.
-- ---------------------------------------------------------------------------

-- End an active session as 'completed' or 'abandoned': status, end time and
-- the counts on the row, the summary and status in the document.  The total
-- is never below the highest step completed (a recipe without steps, or
-- steps added since the session started).
CREATE FUNCTION ng_end_cooking_session(session_id bigint, status text, reason text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s @extschema@.cooking_sessions;
    d record;
    stats jsonb;
    done int;
    total int;
    ended timestamptz := now();
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    IF session_id IS NULL THEN
        RAISE EXCEPTION 'session_id must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO s FROM @extschema@.cooking_sessions x
    WHERE x.id = session_id AND @extschema@.ng_acting_for(x.user_id) FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'cooking session % does not exist', session_id USING ERRCODE = 'no_data_found';
    END IF;
    IF s.status <> 'active' THEN
        RAISE EXCEPTION 'cooking session % is already %', session_id, s.status
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    SELECT x.voice_interactions, x.step_progress, x.session_metadata INTO d
    FROM @extschema@.cooking_session_details x WHERE x._id = s.mongodb_session_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the detail document of cooking session % is missing', session_id
            USING ERRCODE = 'no_data_found', HINT = 'Run nutragenie.ng_repair_consistency(false).';
    END IF;
    done := coalesce(jsonb_array_length(d.step_progress), 0);
    total := greatest(s.total_steps,
                      coalesce((SELECT max((e ->> 'step')::int) FROM jsonb_array_elements(d.step_progress) e
                                WHERE jsonb_typeof(e -> 'step') = 'number'), 0));
    stats := jsonb_strip_nulls(jsonb_build_object(
        'status', status,
        'durationSeconds', extract(epoch FROM ended - s.started_at)::int,
        'voiceInteractions', coalesce(jsonb_array_length(d.voice_interactions), 0),
        'stepsCompleted', done,
        'totalSteps', total,
        'completionRate', CASE WHEN total > 0 THEN round(done::numeric / total, 2) END,
        'reason', reason));
    UPDATE @extschema@.cooking_sessions x
    SET status = ng_end_cooking_session.status, ended_at = ended,
        duration_seconds = (stats ->> 'durationSeconds')::int,
        steps_completed = done, total_steps = total,
        voice_interactions = (stats ->> 'voiceInteractions')::int, updated_at = date_trunc('milliseconds', now())
    WHERE x.id = s.id;
    UPDATE @extschema@.cooking_session_details x
    SET summary = stats - 'status',
        session_metadata = coalesce(d.session_metadata, '{}')
            || jsonb_build_object('status', status, 'totalSteps', total, 'endedAt', @extschema@.ng_bson_date(ended)),
        updated_at = date_trunc('milliseconds', now())
    WHERE x._id = s.mongodb_session_id;
    PERFORM @extschema@.ng_refresh_behavior(ARRAY[s.user_id]);
    RETURN jsonb_build_object('sessionId', s.id) || (stats - 'status');
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_end_cooking_session(bigint, text, text) IS 'end an active cooking session as completed or abandoned (used by ng_finish_cooking_session and ng_abandon_cooking_session)';

CREATE FUNCTION ng_finish_cooking_session(session_id bigint)
RETURNS jsonb
LANGUAGE sql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@.ng_end_cooking_session($1, 'completed', NULL) $$;

COMMENT ON FUNCTION ng_finish_cooking_session(bigint) IS 'complete an active cooking session: status, end time and summary statistics in PostgreSQL, the summary in its MongoDB document; returns the summary (the total of steps is never below the steps completed)';

CREATE FUNCTION ng_abandon_cooking_session(session_id bigint, reason text DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@.ng_end_cooking_session($1, 'abandoned', $2) $$;

COMMENT ON FUNCTION @extschema@.ng_abandon_cooking_session(bigint, text) IS 'abandon an active cooking session (with an optional reason): status, end time and counts on the row, the summary in its MongoDB document; returns the summary';

CREATE FUNCTION ng_user_cooking_sessions(user_id bigint, only_status text DEFAULT NULL, lim int DEFAULT 50)
RETURNS TABLE (session_id bigint, recipe_id bigint, recipe_title text, mode text, status text,
               started_at timestamptz, ended_at timestamptz, total_steps int, steps_completed int,
               percent_complete numeric, voice_interactions int, duration_seconds int)
LANGUAGE plpgsql STABLE CALLED ON NULL INPUT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF user_id IS NULL THEN
        RAISE EXCEPTION 'user_id must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF only_status IS NOT NULL AND only_status NOT IN ('active', 'completed', 'abandoned') THEN
        RAISE EXCEPTION 'only_status must be one of active, completed, abandoned' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('Got "%s".', only_status);
    END IF;
    IF lim IS NULL OR lim NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'lim must be between 1 and 1000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
    SELECT s.id, s.recipe_id, r.title, s.mode, s.status, s.started_at, s.ended_at, s.total_steps,
           s.steps_completed,
           CASE WHEN s.total_steps > 0 THEN round(100.0 * s.steps_completed / s.total_steps, 1) END,
           s.voice_interactions, s.duration_seconds
    FROM @extschema@.cooking_sessions s
    JOIN @extschema@.recipes r ON r.id = s.recipe_id
    WHERE s.user_id = ng_user_cooking_sessions.user_id
      AND (only_status IS NULL OR s.status = only_status)
    ORDER BY s.started_at DESC, s.id DESC
    LIMIT lim;
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_user_cooking_sessions(bigint, text, int) IS 'a user''s cooking sessions, newest first (optionally of one status): recipe, mode, status, times, steps and progress, from PostgreSQL alone';

CREATE FUNCTION ng_cooking_progress(session_id bigint)
RETURNS jsonb
LANGUAGE plpgsql STABLE STRICT PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s @extschema@.cooking_sessions;
    d record;
    steps jsonb;
    done int[];
    next_step jsonb;
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    SELECT * INTO s FROM @extschema@.cooking_sessions x WHERE x.id = session_id AND @extschema@.ng_acting_for(x.user_id);
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    SELECT x.step_progress, x.voice_interactions INTO d
    FROM @extschema@.cooking_session_details x WHERE x._id = s.mongodb_session_id;
    SELECT c.steps INTO steps
    FROM @extschema@.recipes r JOIN @extschema@.recipe_content c ON c._id = r.mongodb_recipe_id
    WHERE r.id = s.recipe_id;
    done := ARRAY(SELECT DISTINCT (e ->> 'step')::int FROM jsonb_array_elements(coalesce(d.step_progress, '[]')) e
                  WHERE jsonb_typeof(e -> 'step') = 'number' ORDER BY 1);
    SELECT e INTO next_step FROM jsonb_array_elements(coalesce(steps, '[]')) WITH ORDINALITY t(e, i)
    WHERE i::int <> ALL (done) ORDER BY i LIMIT 1;
    RETURN jsonb_build_object(
        'sessionId', s.id, 'recipeId', s.recipe_id, 'status', s.status, 'mode', s.mode,
        'totalSteps', s.total_steps, 'stepsCompleted', to_jsonb(done),
        'percentComplete', CASE WHEN s.total_steps > 0 THEN round(100.0 * cardinality(done) / s.total_steps, 1) END,
        'nextStep', CASE WHEN s.status = 'active' THEN next_step END,
        'voiceInteractions', coalesce(jsonb_array_length(d.voice_interactions), 0),
        'lastInteraction', d.voice_interactions -> -1,
        'detailsMissing', d IS NULL);
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_cooking_progress(bigint) IS 'where a cooking session stands: steps completed, the next step of the recipe, interactions and the last one (from the MongoDB documents); NULL for an unknown session';
