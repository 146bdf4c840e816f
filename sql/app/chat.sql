-- ---------------------------------------------------------------------------
-- Chat with the AI chefs: deterministic, explainable replies.
-- ---------------------------------------------------------------------------
-- A chef document (chef_personalities) lists adaptiveResponses {trigger,
-- response}.  ng_chat finds the triggers a message sets off with the rules
-- below (tried in priority order; the first one the chef has a response for
-- wins), personalises the reply with the user's profile (allergies on a
-- substitution, the calorie goal on a nutrition question), logs both
-- messages in chat_messages and refreshes the user's behaviour patterns.
-- No language model: the same message, chef and profile give the same reply,
-- and the result says which rule matched which words.

CREATE TABLE chat_triggers (
    trigger  text PRIMARY KEY,
    priority int NOT NULL UNIQUE,
    pattern  text NOT NULL
);
COMMENT ON TABLE @extschema@.chat_triggers IS 'when a chat message sets off an adaptiveResponses trigger: a case-insensitive regular expression, tried in priority order';
INSERT INTO @extschema@.chat_triggers (trigger, priority, pattern) VALUES
 ('user_struggling', 10, '\m(help|stuck|confus\w*|lost|difficult|hard|burn\w*|messed|struggl\w*|not working|went wrong)\M'),
 ('substitution', 20, '\m(instead|substitut\w*|replace\w*|swap|alternative|out of|(do not|don''t|dont) have)\M'),
 ('timer', 30, '\m(timer|how long|minutes?|seconds?|remind me)\M'),
 ('nutrition_question', 40, '\m(calories?|kcal|protein|carbs?|fat|macros?|healthy|nutrition\w*)\M'),
 ('step_completed', 50, '\m(done|finished|next|ready|completed?)\M');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.chat_triggers', '');

-- The triggers a message sets off, in priority order, with the words that
-- matched.
CREATE FUNCTION ng_chat_triggers(message text)
RETURNS TABLE (trigger text, priority int, matched text)
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.trigger, t.priority, (regexp_match(message, t.pattern, 'i'))[1]
    FROM @extschema@.chat_triggers t
    WHERE message ~* t.pattern
    ORDER BY t.priority
$$;

COMMENT ON FUNCTION @extschema@.ng_chat_triggers(text) IS 'the chat triggers a message sets off, in priority order, with the words that matched';

CREATE FUNCTION ng_chat(user_id bigint, message text, chef_id text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    profile jsonb;
    chef jsonb;
    chef_name text;
    hit record;
    reply text;
    trig text;
    matched text;
    personal text[] := '{}';
    goal int;
    user_msg bigint;
    reply_msg bigint;
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    IF user_id IS NULL OR message IS NULL THEN
        RAISE EXCEPTION 'user_id and message must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF btrim(message) = '' OR length(message) > 4000 THEN
        RAISE EXCEPTION 'message must have 1 to 4000 characters' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- one conversation step at a time per user (and their behaviour patterns)
    PERFORM FROM @extschema@.users u WHERE u.id = ng_chat.user_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'user % does not exist', user_id USING ERRCODE = 'no_data_found';
    END IF;
    profile := @extschema@.ng_user_profile(user_id);
    chef_id := coalesce(chef_id, profile #>> '{cookingProfile,preferredChef}', 'chef_maria');
    SELECT c.doc INTO chef FROM @extschema@.chef_personalities c WHERE c._id = chef_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'chef "%" does not exist', chef_id USING ERRCODE = 'no_data_found',
            HINT = 'The chefs are the documents of chef_personalities.';
    END IF;
    chef_name := coalesce(chef ->> 'name', chef_id);

    FOR hit IN SELECT * FROM @extschema@.ng_chat_triggers(message) LOOP
        SELECT r ->> 'response' INTO reply
        FROM jsonb_array_elements(CASE WHEN jsonb_typeof(chef -> 'adaptiveResponses') = 'array'
                                       THEN chef -> 'adaptiveResponses' ELSE '[]' END) r
        WHERE r ->> 'trigger' = hit.trigger AND jsonb_typeof(r -> 'response') = 'string'
        LIMIT 1;
        IF reply IS NOT NULL THEN
            trig := hit.trigger;
            matched := hit.matched;
            EXIT;
        END IF;
    END LOOP;
    IF trig IS NULL THEN
        IF NOT EXISTS (SELECT FROM @extschema@.chat_messages m
                       WHERE m.user_id = ng_chat.user_id AND m.chef_id = ng_chat.chef_id) THEN
            trig := 'greeting';
            reply := coalesce(chef ->> 'greeting', format('Hello, I am %s.', chef_name));
        ELSE
            trig := 'fallback';
            reply := format('%s here. Tell me which step you are on, or ask me for a substitution, a timer or the nutrition facts.', chef_name);
        END IF;
    END IF;

    -- personalised with the profile
    IF trig = 'substitution' AND jsonb_typeof(profile #> '{dietaryProfile,allergies}') = 'array'
       AND jsonb_array_length(profile #> '{dietaryProfile,allergies}') > 0 THEN
        reply := reply || format(' Keep it free of %s.',
                                 (SELECT string_agg(a, ', ' ORDER BY o)
                                  FROM jsonb_array_elements_text(profile #> '{dietaryProfile,allergies}') WITH ORDINALITY x(a, o)));
        personal := personal || 'dietaryProfile.allergies'::text;
    END IF;
    IF trig = 'nutrition_question' THEN
        goal := coalesce((@extschema@.ng_nutrition_goal(user_id) ->> 'calories')::int,
                         CASE WHEN jsonb_typeof(profile #> '{dietaryProfile,calorieTarget}') = 'number'
                              THEN (profile #>> '{dietaryProfile,calorieTarget}')::numeric::int END);
        IF goal IS NOT NULL THEN
            reply := reply || format(' Your daily goal is %s kcal.', goal);
            personal := personal || 'nutritionGoal.calories'::text;
        END IF;
    END IF;

    INSERT INTO @extschema@.chat_messages (user_id, chef_id, role, content)
    VALUES (user_id, chef_id, 'user', message) RETURNING id INTO user_msg;
    INSERT INTO @extschema@.chat_messages (user_id, chef_id, role, content)
    VALUES (user_id, chef_id, 'assistant', reply) RETURNING id INTO reply_msg;
    PERFORM @extschema@.ng_publish('chat.replied', jsonb_build_object(
        'userId', user_id, 'chefId', chef_id, 'trigger', trig, 'messageId', user_msg, 'replyId', reply_msg));
    PERFORM @extschema@.ng_refresh_behavior(ARRAY[user_id]);
    RETURN jsonb_build_object(
        'chefId', chef_id, 'chef', chef_name, 'reply', reply,
        'explanation', jsonb_strip_nulls(jsonb_build_object(
            'trigger', trig, 'matched', matched,
            'rule', CASE WHEN matched IS NOT NULL THEN 'chat_triggers.' || trig END,
            'personalisedWith', CASE WHEN personal <> '{}' THEN to_jsonb(personal) END)),
        'messageId', user_msg, 'replyId', reply_msg);
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_chat(bigint, text, text) IS 'a user''s message to an AI chef (default: the profile''s preferredChef): the chef''s adaptive response for the first trigger the message sets off (chat_triggers), personalised with the profile; both messages logged, behaviour patterns refreshed; returns the reply and why';

CREATE FUNCTION ng_chat_history(user_id bigint, chef_id text DEFAULT NULL, lim int DEFAULT 50)
RETURNS TABLE (message_id bigint, chef_id text, role text, content text, created_at timestamptz)
LANGUAGE sql STABLE CALLED ON NULL INPUT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT m.id, m.chef_id, m.role, m.content, m.created_at
    FROM (SELECT * FROM @extschema@.chat_messages m
          WHERE m.user_id = $1 AND ($2 IS NULL OR m.chef_id = $2)
          ORDER BY m.id DESC LIMIT least(greatest(coalesce($3, 50), 1), 1000)) m
    ORDER BY m.id
$$;

COMMENT ON FUNCTION @extschema@.ng_chat_history(bigint, text, int) IS 'the last lim (default 50) chat messages of a user (with one chef, or all), oldest first';
