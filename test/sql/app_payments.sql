-- The app: payments recorded once per provider reference, status
-- transitions enforced for every writer, the history kept.
SET search_path = public, nutragenie;
\getenv mongo_uri MONGODB_URI
CREATE SERVER app_payments_srv FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (uri :'mongo_uri');
CREATE USER MAPPING FOR CURRENT_USER SERVER app_payments_srv;
SELECT nutragenie_fdw.run_command('app_payments_srv', '{"dropDatabase": 1}', 'ng_app_payments') ->> 'ok' AS dropped;
TRUNCATE users, recipes, payments, nutrition_goals, nutrition_entries, recipe_ratings,
         chat_messages, cooking_sessions, event_log RESTART IDENTITY CASCADE;
SELECT ng_attach_mongo('app_payments_srv', 'ng_app_payments') ->> 'database' AS attached;

CREATE FUNCTION pg_temp.try(cmd text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE cmd;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- events appear once every older transaction has ended (the applier's too)
CREATE FUNCTION pg_temp.settle() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..1000 LOOP
    EXIT WHEN NOT EXISTS (SELECT FROM event_log e WHERE e.xact >= pg_snapshot_xmin(pg_current_snapshot()));
    PERFORM pg_sleep(0.01);
  END LOOP;
END $$;
SELECT ng_create_user('{"email": "ana@example.com", "passwordHash": "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"}') AS ana;
SELECT ng_create_user('{"email": "ben@example.com", "passwordHash": "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"}') AS ben;
CREATE FUNCTION pg_temp.p(j jsonb) RETURNS jsonb LANGUAGE sql AS $$
  SELECT (j - 'createdAt') || jsonb_build_object('history',
           (SELECT jsonb_agg(h - 'at') FROM jsonb_array_elements(j -> 'history') h)) $$;

SELECT pg_temp.p(ng_record_payment('{"userId": 1, "amount": 9.99, "currency": "EUR", "provider": "stripe",
                                     "providerReference": "pi_1", "description": "Premium, 1 month"}'));
-- the same notification again: no change, no second row
SELECT pg_temp.p(ng_record_payment('{"userId": 1, "amount": 9.99, "currency": "EUR", "provider": "stripe",
                                     "providerReference": "pi_1"}')) - 'history';
-- the provider reports success: moved on
SELECT pg_temp.p(ng_record_payment('{"userId": 1, "amount": 9.99, "currency": "EUR", "provider": "stripe",
                                     "providerReference": "pi_1", "status": "succeeded"}'));
-- a stale "pending" after that is ignored
SELECT ng_record_payment('{"userId": 1, "amount": 9.99, "currency": "EUR", "provider": "stripe",
                           "providerReference": "pi_1", "status": "pending"}') ->> 'status' AS still;
-- the same reference with other details is refused
SELECT pg_temp.try($$SELECT ng_record_payment('{"userId": 2, "amount": 9.99, "currency": "EUR", "provider": "stripe", "providerReference": "pi_1"}')$$);
SELECT pg_temp.try($$SELECT ng_record_payment('{"userId": 1, "amount": 19.99, "currency": "EUR", "provider": "stripe", "providerReference": "pi_1"}')$$);
-- another provider may reuse the reference
SELECT ng_record_payment('{"userId": 2, "amount": 5, "provider": "paypal", "providerReference": "pi_1", "status": "failed"}') ->> 'paymentId' AS other;

-- transitions
SELECT pg_temp.p(ng_set_payment_status(1, 'refunded')) -> 'history' AS history;
SELECT ng_set_payment_status(1, 'refunded') ->> 'changed' AS again;
SELECT pg_temp.try($$SELECT ng_set_payment_status(1, 'succeeded')$$);
SELECT pg_temp.try($$SELECT ng_set_payment_status(2, 'succeeded')$$);
SELECT pg_temp.try($$SELECT ng_set_payment_status(2, 'lost')$$);
SELECT pg_temp.try($$SELECT ng_set_payment_status(9, 'failed')$$);
-- enforced for plain SQL too, and recorded
SELECT pg_temp.try($$UPDATE payments SET status = 'pending' WHERE id = 1$$);
SELECT pg_temp.try($$UPDATE payments SET amount = 1 WHERE id = 1$$);
SELECT pg_temp.try($$INSERT INTO payments (user_id, amount, provider, provider_reference, status) VALUES (1, 3, 'cash', 'c1', 'refunded')$$);
INSERT INTO payments (user_id, amount, provider, provider_reference) VALUES (1, 3, 'cash', 'c1');
UPDATE payments SET status = 'succeeded' WHERE provider_reference = 'c1';
SELECT payment_id, from_status, to_status, changed_by = current_user AS by_me FROM payment_status_history ORDER BY id;

-- bad input names the field
SELECT pg_temp.try($$SELECT ng_record_payment('{"userId": 1, "amount": 0, "provider": "x", "providerReference": "r"}')$$);
SELECT pg_temp.try($$SELECT ng_record_payment('{"userId": 1, "amount": 1.001, "provider": "x", "providerReference": "r"}')$$);
SELECT pg_temp.try($$SELECT ng_record_payment('{"userId": 1, "amount": 1, "provider": "x"}')$$);
SELECT pg_temp.try($$SELECT ng_record_payment('{"userId": 1, "amount": 1, "currency": "eur", "provider": "x", "providerReference": "r"}')$$);
SELECT pg_temp.try($$SELECT ng_record_payment('{"userId": 1, "amount": 1, "provider": "x", "providerReference": "r", "status": "refunded"}')$$);
SELECT pg_temp.try($$SELECT ng_record_payment('{"userId": 9, "amount": 1, "provider": "x", "providerReference": "r"}')$$);
SELECT pg_temp.try($$SELECT ng_record_payment('{"userId": 1, "amount": 1, "provider": "x", "providerReference": "r", "tip": 1}')$$);

SELECT p ->> 'paymentId' AS id, p ->> 'status' AS status, p ->> 'provider' AS provider,
       jsonb_path_query_array(p, '$.history[*].to') AS statuses
FROM ng_user_payments(1) p;
SELECT pg_temp.settle();
SELECT event, payload ->> 'paymentId' AS payment FROM ng_events() WHERE event LIKE 'payment.%' ORDER BY id;

SET client_min_messages = warning;
SELECT ng_detach_mongo();
TRUNCATE users, recipes, payments, nutrition_goals, nutrition_entries, recipe_ratings,
         chat_messages, cooking_sessions, event_log RESTART IDENTITY CASCADE;
SELECT nutragenie_fdw.run_command('app_payments_srv', '{"dropDatabase": 1}', 'ng_app_payments') ->> 'ok' AS dropped;
DROP SERVER app_payments_srv CASCADE;
