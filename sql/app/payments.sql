-- ---------------------------------------------------------------------------
-- Payments: recorded idempotently by the provider's reference, status
-- transitions enforced (for any writer), every change kept.
-- ---------------------------------------------------------------------------
--   pending -> succeeded | failed;  succeeded -> refunded
-- A payment may be recorded directly as succeeded or failed (a provider's
-- first notice).  The amount, currency, user, provider and reference never
-- change.

CREATE TABLE payment_status_history (
    id          bigserial PRIMARY KEY,
    payment_id  bigint NOT NULL REFERENCES @extschema@.payments ON DELETE CASCADE,
    from_status text,
    to_status   text NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    changed_by  name NOT NULL DEFAULT session_user
);
CREATE INDEX payment_status_history_payment_idx ON @extschema@.payment_status_history (payment_id, id);
COMMENT ON TABLE @extschema@.payment_status_history IS 'every status a payment took, with when and by which role (written by a trigger on payments)';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.payment_status_history', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.payment_status_history_id_seq', '');

CREATE FUNCTION ng_payment_transition_ok(from_status text, to_status text)
RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT (from_status, to_status) IN (('pending', 'succeeded'), ('pending', 'failed'), ('succeeded', 'refunded'))
$$;

COMMENT ON FUNCTION @extschema@.ng_payment_transition_ok(text, text) IS 'whether a payment may go from one status to another: pending to succeeded or failed, succeeded to refunded';

CREATE FUNCTION ng_payments_before_update()
RETURNS trigger
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF (NEW.user_id, NEW.amount, NEW.currency, NEW.provider, NEW.provider_reference)
       IS DISTINCT FROM (OLD.user_id, OLD.amount, OLD.currency, OLD.provider, OLD.provider_reference) THEN
        RAISE EXCEPTION 'the user, amount, currency, provider and reference of payment % cannot change', OLD.id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Record a new payment (and refund this one) instead.';
    END IF;
    IF NEW.status IS DISTINCT FROM OLD.status
       AND NOT @extschema@.ng_payment_transition_ok(OLD.status, NEW.status) THEN
        RAISE EXCEPTION 'payment % cannot go from "%" to "%"', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'A pending payment may succeed or fail; a succeeded one may be refunded.';
    END IF;
    RETURN NEW;
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_payments_before_update() IS 'trigger: refuses status transitions other than pending to succeeded/failed and succeeded to refunded, and changes of amount, currency, user, provider or reference';

CREATE TRIGGER ng_payments_before_update BEFORE UPDATE ON @extschema@.payments
    FOR EACH ROW EXECUTE FUNCTION @extschema@.ng_payments_before_update();

-- SECURITY DEFINER: the application roles may not write the history
-- themselves; changed_by is the session's role (current_user is the
-- owner here).
CREATE FUNCTION ng_payments_status_changed()
RETURNS trigger
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF TG_OP = 'INSERT' AND NEW.status = 'refunded' THEN
        RAISE EXCEPTION 'a payment cannot be recorded as refunded' USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Record it as succeeded, then change its status to refunded.';
    END IF;
    IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
        INSERT INTO @extschema@.payment_status_history (payment_id, from_status, to_status, changed_by)
        VALUES (NEW.id, CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END, NEW.status, session_user);
        PERFORM @extschema@.ng_publish('payment.' || NEW.status, jsonb_build_object(
            'paymentId', NEW.id, 'userId', NEW.user_id, 'amount', NEW.amount, 'currency', NEW.currency,
            'provider', NEW.provider, 'providerReference', NEW.provider_reference));
    END IF;
    RETURN NULL;
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_payments_status_changed() IS 'trigger: records each status of a payment in payment_status_history and publishes payment.<status>';

CREATE TRIGGER ng_payments_status_changed AFTER INSERT OR UPDATE ON @extschema@.payments
    FOR EACH ROW EXECUTE FUNCTION @extschema@.ng_payments_status_changed();

CREATE FUNCTION ng_payment_json(p @extschema@.payments)
RETURNS jsonb
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object(
        'paymentId', p.id, 'userId', p.user_id, 'amount', p.amount, 'currency', p.currency,
        'status', p.status, 'provider', p.provider, 'providerReference', p.provider_reference,
        'description', p.description, 'createdAt', p.created_at,
        'history', (SELECT jsonb_agg(jsonb_build_object('from', h.from_status, 'to', h.to_status, 'at', h.changed_at)
                                     ORDER BY h.id)
                    FROM @extschema@.payment_status_history h WHERE h.payment_id = p.id))
$$;

COMMENT ON FUNCTION @extschema@.ng_payment_json(@extschema@.payments) IS 'a payment with its status history as jsonb';

CREATE FUNCTION ng_record_payment(payment jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    what constant text := 'the payment';
    st text;
    p @extschema@.payments;
    created boolean := false;
    changed boolean := false;
BEGIN
    IF jsonb_typeof(payment) <> 'object' THEN
        RAISE EXCEPTION 'the payment must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM @extschema@.ng_check_keys(payment, ARRAY['userId', 'amount', 'currency', 'provider', 'providerReference',
                                                     'description', 'status'], what);
    PERFORM @extschema@.ng_check_field(payment, 'userId', 'integer', true, what);
    IF (@extschema@.ng_check_field(payment, 'amount', 'number', true, what))::numeric NOT BETWEEN 0.01 AND 9999999999.99
       OR (payment ->> 'amount')::numeric <> round((payment ->> 'amount')::numeric, 2) THEN
        RAISE EXCEPTION 'field "amount" of the payment must be between 0.01 and 9999999999.99, in cents'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', payment -> 'amount');
    END IF;
    IF @extschema@.ng_check_field(payment, 'currency', 'text', false, what) IS NOT NULL
       AND (payment ->> 'currency') !~ '^[A-Z]{3}$' THEN
        RAISE EXCEPTION 'field "currency" of the payment must be an ISO 4217 code such as "EUR"'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', payment -> 'currency');
    END IF;
    PERFORM @extschema@.ng_check_field(payment, 'provider', 'text', true, what);
    PERFORM @extschema@.ng_check_field(payment, 'providerReference', 'text', true, what);
    PERFORM @extschema@.ng_check_field(payment, 'description', 'text', false, what);
    st := coalesce(@extschema@.ng_check_field(payment, 'status', 'text', false, what) #>> '{}', 'pending');
    IF st NOT IN ('pending', 'succeeded', 'failed') THEN
        RAISE EXCEPTION 'field "status" of the payment must be one of pending, succeeded, failed'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got "%s".', st);
    END IF;
    IF NOT EXISTS (SELECT FROM @extschema@.users u WHERE u.id = (payment ->> 'userId')::bigint) THEN
        RAISE EXCEPTION 'user % does not exist', payment ->> 'userId' USING ERRCODE = 'no_data_found';
    END IF;

    -- (looked for first, so that a repeat does not use up an id; the
    -- insert's ON CONFLICT covers a concurrent first recording)
    SELECT * INTO p FROM @extschema@.payments x
    WHERE x.provider = payment ->> 'provider' AND x.provider_reference = payment ->> 'providerReference';
    IF NOT FOUND THEN
        INSERT INTO @extschema@.payments AS x (user_id, amount, currency, status, provider, provider_reference, description)
        VALUES ((payment ->> 'userId')::bigint, (payment ->> 'amount')::numeric, coalesce(payment ->> 'currency', 'USD'),
                st, payment ->> 'provider', payment ->> 'providerReference', payment ->> 'description')
        ON CONFLICT ON CONSTRAINT payments_provider_provider_reference_key DO NOTHING
        RETURNING * INTO p;
    ELSE
        p := NULL;
    END IF;
    IF p.id IS NOT NULL THEN
        created := true;
    ELSE
        -- seen before: the same payment again (a retry, a repeated
        -- notification) is no change; a later status moves it on; an
        -- earlier one is stale and ignored
        SELECT * INTO p FROM @extschema@.payments x
        WHERE x.provider = payment ->> 'provider' AND x.provider_reference = payment ->> 'providerReference'
        FOR UPDATE;
        IF (p.user_id, p.amount, p.currency) IS DISTINCT FROM
           ((payment ->> 'userId')::bigint, (payment ->> 'amount')::numeric, coalesce(payment ->> 'currency', 'USD')::char(3)) THEN
            RAISE EXCEPTION 'payment "%" of provider "%" is already recorded with another user, amount or currency',
                payment ->> 'providerReference', payment ->> 'provider'
                USING ERRCODE = 'unique_violation',
                      DETAIL = format('Recorded: user %s, %s %s.', p.user_id, p.amount, p.currency);
        END IF;
        IF @extschema@.ng_payment_transition_ok(p.status, st) THEN
            UPDATE @extschema@.payments x SET status = st WHERE x.id = p.id RETURNING * INTO p;
            changed := true;
        END IF;
    END IF;
    RETURN @extschema@.ng_payment_json(p) || jsonb_build_object('created', created, 'changed', created OR changed);
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_record_payment(jsonb) IS 'record a payment (userId, amount, currency, provider, providerReference, description, status pending/succeeded/failed) once per provider reference: a repeat is no change, a later status moves it on; returns the payment with "created" and "changed"';

CREATE FUNCTION ng_set_payment_status(payment_id bigint, status text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    p @extschema@.payments;
    changed boolean := false;
BEGIN
    IF status NOT IN ('pending', 'succeeded', 'failed', 'refunded') THEN
        RAISE EXCEPTION 'status must be one of pending, succeeded, failed, refunded' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('Got "%s".', status);
    END IF;
    SELECT * INTO p FROM @extschema@.payments x WHERE x.id = payment_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'payment % does not exist', payment_id USING ERRCODE = 'no_data_found';
    END IF;
    IF p.status <> status THEN
        -- the trigger refuses a transition that is not allowed
        UPDATE @extschema@.payments x SET status = ng_set_payment_status.status WHERE x.id = p.id RETURNING * INTO p;
        changed := true;
    END IF;
    RETURN @extschema@.ng_payment_json(p) || jsonb_build_object('changed', changed);
END
$fn$;

COMMENT ON FUNCTION @extschema@.ng_set_payment_status(bigint, text) IS 'move a payment to a status (pending to succeeded or failed, succeeded to refunded; the same status again is no change); returns the payment with its history and "changed"';

CREATE FUNCTION ng_user_payments(user_id bigint)
RETURNS SETOF jsonb
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT @extschema@.ng_payment_json(p) FROM @extschema@.payments p
    WHERE p.user_id = $1 ORDER BY p.created_at, p.id
$$;

COMMENT ON FUNCTION @extschema@.ng_user_payments(bigint) IS 'a user''s payments, oldest first, each with its status history';
