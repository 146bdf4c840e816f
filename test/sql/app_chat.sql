-- The app: ng_chat picks an AI chef's adaptive response by the triggers
-- a message sets off and the user's profile, logs both messages and
-- refreshes the user's behaviour patterns; ng_chat_history.
SET search_path = public, nutragenie;
\getenv mongo_uri MONGODB_URI
CREATE SERVER app_chat_srv FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (uri :'mongo_uri');
CREATE USER MAPPING FOR CURRENT_USER SERVER app_chat_srv;
SELECT nutragenie_fdw.run_command('app_chat_srv', '{"dropDatabase": 1}', 'ng_app_chat') ->> 'ok' AS dropped;
TRUNCATE users, recipes, payments, nutrition_goals, nutrition_entries, recipe_ratings,
         chat_messages, cooking_sessions, event_log RESTART IDENTITY CASCADE;
SELECT ng_attach_mongo('app_chat_srv', 'ng_app_chat') ->> 'database' AS attached;

CREATE FUNCTION pg_temp.try(cmd text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE cmd;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
INSERT INTO chef_personalities (_id, doc) VALUES
 ('chef_maria', '{"name": "Maria", "greeting": "Ciao!", "adaptiveResponses": [
    {"trigger": "user_struggling", "response": "No worries, we can slow down."},
    {"trigger": "substitution", "response": "Good idea, that works just as well."},
    {"trigger": "step_completed", "response": "Perfetto! On to the next step."}]}'),
 ('chef_lena', '{"name": "Lena", "adaptiveResponses": [
    {"trigger": "nutrition_question", "response": "Let me pull up the macros for you."},
    {"trigger": "timer", "response": 42}]}');
SELECT ng_create_user('{"email": "ana@example.com", "passwordHash": "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
  "dietaryProfile": {"allergies": ["peanuts", "lactose"], "calorieTarget": 1900},
  "cookingProfile": {"preferredChef": "chef_maria"}}') AS ana;

SELECT ng_chat(1, 'Hi there');                                        -- first time: the greeting
SELECT ng_chat(1, 'I am STUCK, the onions burned and I''m done');     -- two triggers: the first by priority
SELECT ng_chat(1, 'Can I use oil instead of butter?');                -- personalised: allergies
SELECT ng_chat(1, 'How many calories?');                              -- Maria has no nutrition response
SELECT ng_chat(1, 'How many calories?', 'chef_lena');                 -- Lena has: the calorie goal added
SELECT ng_chat(1, 'Set a timer please', 'chef_lena');                 -- a response that is not a string is skipped
SELECT ng_chat(1, 'Next step, I''m ready');
SELECT message_id, chef_id, role, content FROM ng_chat_history(1);
SELECT message_id, role FROM ng_chat_history(1, 'chef_lena', 2);
SELECT patterns -> 'chat' AS chat_patterns FROM user_behavior WHERE _id = 1;

SELECT pg_temp.try($$SELECT ng_chat(1, '   ')$$);
SELECT pg_temp.try($$SELECT ng_chat(1, NULL)$$);
SELECT pg_temp.try($$SELECT ng_chat(9, 'hello')$$);
SELECT pg_temp.try($$SELECT ng_chat(1, 'hello', 'chef_nobody')$$);
SELECT count(*) AS messages FROM chat_messages;
SELECT trigger, priority FROM chat_triggers ORDER BY priority;

SET client_min_messages = warning;
SELECT ng_detach_mongo();
TRUNCATE users, recipes, payments, nutrition_goals, nutrition_entries, recipe_ratings,
         chat_messages, cooking_sessions, event_log RESTART IDENTITY CASCADE;
SELECT nutragenie_fdw.run_command('app_chat_srv', '{"dropDatabase": 1}', 'ng_app_chat') ->> 'ok' AS dropped;
DROP SERVER app_chat_srv CASCADE;
