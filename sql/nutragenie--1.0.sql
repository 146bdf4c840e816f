/* nutragenie--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION nutragenie" to load this file. \quit

-- objectid: a 12-byte MongoDB ObjectId (src/objectid.c)

CREATE TYPE objectid;

CREATE FUNCTION objectid_in(cstring) RETURNS objectid
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION objectid_out(objectid) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION objectid_recv(internal) RETURNS objectid
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION objectid_send(objectid) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE objectid (
	INPUT = objectid_in,
	OUTPUT = objectid_out,
	RECEIVE = objectid_recv,
	SEND = objectid_send,
	INTERNALLENGTH = 12,
	ALIGNMENT = char,
	STORAGE = plain
);

COMMENT ON TYPE objectid IS 'MongoDB ObjectId (12 bytes, written as 24 hexadecimal digits)';
COMMENT ON FUNCTION objectid_in(cstring) IS 'I/O';
COMMENT ON FUNCTION objectid_out(objectid) IS 'I/O';
COMMENT ON FUNCTION objectid_recv(internal) IS 'I/O';
COMMENT ON FUNCTION objectid_send(objectid) IS 'I/O';

-- comparison: memcmp order, which is MongoDB's ObjectId order

CREATE FUNCTION objectid_eq(objectid, objectid) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION objectid_ne(objectid, objectid) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION objectid_lt(objectid, objectid) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION objectid_le(objectid, objectid) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION objectid_gt(objectid, objectid) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION objectid_ge(objectid, objectid) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION objectid_cmp(objectid, objectid) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION objectid_sortsupport(internal) RETURNS void
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION objectid_hash(objectid) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION objectid_hash_extended(objectid, bigint) RETURNS bigint
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

COMMENT ON FUNCTION objectid_eq(objectid, objectid) IS 'implementation of = operator';
COMMENT ON FUNCTION objectid_ne(objectid, objectid) IS 'implementation of <> operator';
COMMENT ON FUNCTION objectid_lt(objectid, objectid) IS 'implementation of < operator';
COMMENT ON FUNCTION objectid_le(objectid, objectid) IS 'implementation of <= operator';
COMMENT ON FUNCTION objectid_gt(objectid, objectid) IS 'implementation of > operator';
COMMENT ON FUNCTION objectid_ge(objectid, objectid) IS 'implementation of >= operator';
COMMENT ON FUNCTION objectid_cmp(objectid, objectid) IS 'less-equal-greater';
COMMENT ON FUNCTION objectid_sortsupport(internal) IS 'sort support';
COMMENT ON FUNCTION objectid_hash(objectid) IS 'hash';
COMMENT ON FUNCTION objectid_hash_extended(objectid, bigint) IS 'hash';

CREATE OPERATOR = (
	LEFTARG = objectid, RIGHTARG = objectid, FUNCTION = objectid_eq,
	COMMUTATOR = =, NEGATOR = <>,
	RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES
);

CREATE OPERATOR <> (
	LEFTARG = objectid, RIGHTARG = objectid, FUNCTION = objectid_ne,
	COMMUTATOR = <>, NEGATOR = =,
	RESTRICT = neqsel, JOIN = neqjoinsel
);

CREATE OPERATOR < (
	LEFTARG = objectid, RIGHTARG = objectid, FUNCTION = objectid_lt,
	COMMUTATOR = >, NEGATOR = >=,
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);

CREATE OPERATOR <= (
	LEFTARG = objectid, RIGHTARG = objectid, FUNCTION = objectid_le,
	COMMUTATOR = >=, NEGATOR = >,
	RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);

CREATE OPERATOR > (
	LEFTARG = objectid, RIGHTARG = objectid, FUNCTION = objectid_gt,
	COMMUTATOR = <, NEGATOR = <=,
	RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);

CREATE OPERATOR >= (
	LEFTARG = objectid, RIGHTARG = objectid, FUNCTION = objectid_ge,
	COMMUTATOR = <=, NEGATOR = <,
	RESTRICT = scalargesel, JOIN = scalargejoinsel
);

COMMENT ON OPERATOR = (objectid, objectid) IS 'equal';
COMMENT ON OPERATOR <> (objectid, objectid) IS 'not equal';
COMMENT ON OPERATOR < (objectid, objectid) IS 'less than';
COMMENT ON OPERATOR <= (objectid, objectid) IS 'less than or equal';
COMMENT ON OPERATOR > (objectid, objectid) IS 'greater than';
COMMENT ON OPERATOR >= (objectid, objectid) IS 'greater than or equal';

-- btequalimage: equal objectids are bytewise equal, so btree deduplication
-- is safe.
CREATE OPERATOR CLASS objectid_ops
	DEFAULT FOR TYPE objectid USING btree AS
		OPERATOR 1 <,
		OPERATOR 2 <=,
		OPERATOR 3 =,
		OPERATOR 4 >=,
		OPERATOR 5 >,
		FUNCTION 1 objectid_cmp(objectid, objectid),
		FUNCTION 2 objectid_sortsupport(internal),
		FUNCTION 4 btequalimage(oid);

CREATE OPERATOR CLASS objectid_ops
	DEFAULT FOR TYPE objectid USING hash AS
		OPERATOR 1 =,
		FUNCTION 1 objectid_hash(objectid),
		FUNCTION 2 objectid_hash_extended(objectid, bigint);

-- ObjectId functions

CREATE FUNCTION objectid_generate() RETURNS objectid
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE STRICT PARALLEL SAFE;

CREATE FUNCTION objectid_timestamp(objectid) RETURNS timestamptz
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION objectid_from_timestamp(timestamptz) RETURNS objectid
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION objectid_generate() IS 'new ObjectId made from the current time, per-process random bytes and a counter';
COMMENT ON FUNCTION objectid_timestamp(objectid) IS 'creation time stored in an ObjectId, to the second';
COMMENT ON FUNCTION objectid_from_timestamp(timestamptz) IS 'smallest ObjectId of the second containing the given time, for range conditions';

-- casts to and from bytea (the 12 raw bytes); text casts come from I/O

CREATE FUNCTION objectid_to_bytea(objectid) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE FUNCTION objectid_from_bytea(bytea) RETURNS objectid
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION objectid_to_bytea(objectid) IS 'the 12 bytes of an ObjectId';
COMMENT ON FUNCTION objectid_from_bytea(bytea) IS 'ObjectId from exactly 12 bytes';

CREATE CAST (objectid AS bytea) WITH FUNCTION objectid_to_bytea(objectid);
CREATE CAST (bytea AS objectid) WITH FUNCTION objectid_from_bytea(bytea);

CREATE FUNCTION nutragenie_fdw_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION nutragenie_fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

CREATE FOREIGN DATA WRAPPER nutragenie_fdw
  HANDLER nutragenie_fdw_handler
  VALIDATOR nutragenie_fdw_validator;

COMMENT ON FOREIGN DATA WRAPPER nutragenie_fdw IS 'MongoDB foreign data wrapper';
COMMENT ON FUNCTION nutragenie_fdw_handler() IS 'foreign data wrapper handler of nutragenie_fdw';
COMMENT ON FUNCTION nutragenie_fdw_validator(text[], oid) IS 'option validator of nutragenie_fdw';

-- Connections held by this backend

CREATE FUNCTION ng_connections(
    OUT server_name text,
    OUT user_name text,
    OUT valid boolean,
    OUT in_use boolean)
RETURNS SETOF record
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

COMMENT ON FUNCTION ng_connections() IS 'MongoDB connections held by this backend';

CREATE FUNCTION ng_disconnect(server name)
RETURNS boolean
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

COMMENT ON FUNCTION ng_disconnect(name) IS 'close this backend''s idle connections to a server';

CREATE FUNCTION ng_disconnect_all()
RETURNS boolean
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

COMMENT ON FUNCTION ng_disconnect_all() IS 'close all of this backend''s idle MongoDB connections';

-- Running a MongoDB command

CREATE FUNCTION ng_run_command(server name, command json, database text DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME'
LANGUAGE C CALLED ON NULL INPUT VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION ng_run_command(name, json, text) IS 'run one MongoDB command (Extended JSON) through the caller''s user mapping and return the reply';

REVOKE EXECUTE ON FUNCTION ng_run_command(name, json, text) FROM PUBLIC;

-- Writes: the transactional outbox (docs/dual-write.md)

CREATE TABLE outbox (
    seq          bigserial PRIMARY KEY,
    xid          xid8 NOT NULL DEFAULT pg_current_xact_id(),
    serverid     oid NOT NULL,
    userid       oid NOT NULL,
    database     text NOT NULL,
    collection   text NOT NULL,
    op           "char" NOT NULL CHECK (op IN ('i', 'u', 'd')),
    doc_id       bytea NOT NULL,
    body         bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    attempts     int NOT NULL DEFAULT 0,
    last_error   text,
    last_attempt timestamptz
);
CREATE INDEX outbox_document_idx ON outbox (serverid, database, collection, doc_id);

COMMENT ON TABLE outbox IS 'MongoDB operations of committed (or running) transactions, applied in order by the nutragenie applier';

CREATE TABLE dead_letters (
    id           bigserial PRIMARY KEY,
    seq          bigint NOT NULL,
    xid          xid8 NOT NULL,
    serverid     oid NOT NULL,
    userid       oid NOT NULL,
    database     text NOT NULL,
    collection   text NOT NULL,
    op           "char" NOT NULL,
    doc_id       bytea NOT NULL,
    body         bytea,
    created_at   timestamptz NOT NULL,
    attempts     int NOT NULL DEFAULT 0,
    failed_at    timestamptz NOT NULL DEFAULT now(),
    error        text NOT NULL,
    error_code   int
);

COMMENT ON TABLE dead_letters IS 'MongoDB operations that MongoDB rejected after their transaction committed';

REVOKE ALL ON outbox, dead_letters FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('outbox', '');
SELECT pg_catalog.pg_extension_config_dump('outbox_seq_seq', '');
SELECT pg_catalog.pg_extension_config_dump('dead_letters', '');
SELECT pg_catalog.pg_extension_config_dump('dead_letters_id_seq', '');

CREATE FUNCTION ng_bson_to_jsonb(bytea)
RETURNS jsonb
AS 'MODULE_PATHNAME'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION ng_bson_to_jsonb(bytea) IS 'a BSON document as relaxed Extended JSON';

CREATE FUNCTION ng_applier_wake()
RETURNS boolean
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION ng_applier_wake() IS 'wake this database''s applier now (for example when MongoDB is back); false if none is running';

CREATE VIEW write_queue AS
SELECT o.seq, o.xid, s.srvname AS server, o.database, o.collection,
       CASE o.op WHEN 'i' THEN 'insert' WHEN 'u' THEN 'update' ELSE 'delete' END AS operation,
       ng_bson_to_jsonb(o.doc_id) -> '_id' AS _id,
       ng_bson_to_jsonb(o.body) AS body,
       o.created_at, o.attempts, o.last_error, o.last_attempt
FROM outbox o LEFT JOIN pg_catalog.pg_foreign_server s ON s.oid = o.serverid;

COMMENT ON VIEW write_queue IS 'MongoDB operations waiting to be applied, oldest first';

CREATE VIEW dead_letter_queue AS
SELECT d.id, d.seq, d.xid, s.srvname AS server, d.database, d.collection,
       CASE d.op WHEN 'i' THEN 'insert' WHEN 'u' THEN 'update' ELSE 'delete' END AS operation,
       ng_bson_to_jsonb(d.doc_id) -> '_id' AS _id,
       ng_bson_to_jsonb(d.body) AS body,
       d.created_at, d.failed_at, d.attempts, d.error, d.error_code
FROM dead_letters d LEFT JOIN pg_catalog.pg_foreign_server s ON s.oid = d.serverid;

COMMENT ON VIEW dead_letter_queue IS 'MongoDB operations MongoDB rejected after commit, with its error';

REVOKE ALL ON write_queue, dead_letter_queue FROM PUBLIC;

CREATE FUNCTION ng_write_queue_status(
    OUT pending bigint,
    OUT oldest_age interval,
    OUT last_error text,
    OUT dead_letters bigint)
RETURNS record
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$
    SELECT (SELECT count(*) FROM @extschema@.outbox),
           (SELECT now() - min(created_at) FROM @extschema@.outbox),
           (SELECT o.last_error FROM @extschema@.outbox o
            WHERE o.last_error IS NOT NULL ORDER BY o.last_attempt DESC NULLS LAST LIMIT 1),
           (SELECT count(*) FROM @extschema@.dead_letters)
$$;

COMMENT ON FUNCTION ng_write_queue_status() IS 'backlog of MongoDB operations: pending count, age of the oldest, last error, dead letters';

CREATE FUNCTION ng_retry_dead_letter(id bigint)
RETURNS bigint
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
AS $$
DECLARE
    d @extschema@.dead_letters;
    new_seq bigint;
BEGIN
    DELETE FROM @extschema@.dead_letters WHERE dead_letters.id = ng_retry_dead_letter.id
    RETURNING * INTO d;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'dead letter % does not exist', id
            USING ERRCODE = 'no_data_found';
    END IF;
    INSERT INTO @extschema@.outbox (serverid, userid, database, collection, op, doc_id, body, created_at)
    VALUES (d.serverid, d.userid, d.database, d.collection, d.op, d.doc_id, d.body, d.created_at)
    RETURNING seq INTO new_seq;
    PERFORM @extschema@.ng_applier_wake();
    RETURN new_seq;
END
$$;

COMMENT ON FUNCTION ng_retry_dead_letter(bigint) IS 'queue a dead-lettered operation again, after the operations already queued; returns its new sequence number';

CREATE FUNCTION ng_discard_dead_letter(id bigint)
RETURNS boolean
LANGUAGE sql VOLATILE STRICT PARALLEL UNSAFE
AS $$
    WITH gone AS (DELETE FROM @extschema@.dead_letters d WHERE d.id = $1 RETURNING 1)
    SELECT count(*) > 0 FROM gone
$$;

COMMENT ON FUNCTION ng_discard_dead_letter(bigint) IS 'forget a dead-lettered operation; returns whether it existed';

REVOKE EXECUTE ON FUNCTION ng_retry_dead_letter(bigint), ng_discard_dead_letter(bigint), ng_applier_wake() FROM PUBLIC;

-- ==== NutraGenie domain ====
-- The NutraGenie schema across both stores (README, "The NutraGenie
-- domain"): PostgreSQL tables created here; MongoDB foreign tables and the
-- views over them created by ng_attach_mongo(); triggers that keep the
-- stores in step and publish events; the ng_* functions that replace the
-- seed's service classes.  Every function runs in the caller's transaction:
-- its PostgreSQL and MongoDB writes commit together or not at all.

-- -------------------------------------------------------------- tables

CREATE TABLE mongo_attachment (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    server      name NOT NULL,
    database    text NOT NULL,
    attached_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE mongo_attachment IS 'the foreign server and MongoDB database the NutraGenie collections live in (set by ng_attach_mongo)';

CREATE TABLE users (
    id                 bigserial PRIMARY KEY,
    email              text NOT NULL UNIQUE CHECK (email ~ '^[^@\s]+@[^@\s]+$'),
    password_hash      text NOT NULL CHECK (password_hash <> ''),
    nickname           text,
    first_name         text,
    last_name          text,
    date_of_birth      date,
    gender             text CHECK (gender IN ('female', 'male', 'other', 'unspecified')),
    height_cm          numeric(5,1) CHECK (height_cm > 0 AND height_cm < 300),
    weight_kg          numeric(5,1) CHECK (weight_kg > 0 AND weight_kg < 700),
    mongodb_profile_id objectid UNIQUE,
    profile            jsonb CHECK (profile IS NULL OR jsonb_typeof(profile) = 'object'),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE users IS 'NutraGenie users; the profile document is user_profiles._id = mongodb_profile_id';
COMMENT ON COLUMN users.profile IS 'PostgreSQL-first deployments only: the profile as jsonb, moved to MongoDB by ng_migrate_to_mongo and then NULL';

CREATE TABLE payments (
    id                 bigserial PRIMARY KEY,
    user_id            bigint NOT NULL REFERENCES users ON DELETE RESTRICT,
    amount             numeric(12,2) NOT NULL CHECK (amount > 0),
    currency           char(3) NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
    status             text NOT NULL DEFAULT 'pending'
                       CHECK (status IN ('pending', 'succeeded', 'failed', 'refunded')),
    provider           text NOT NULL,
    provider_reference text,
    description        text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (provider, provider_reference)
);
CREATE INDEX payments_user_idx ON payments (user_id, created_at);
COMMENT ON TABLE payments IS 'financial transactions of users (PostgreSQL only)';

CREATE TABLE nutrition_goals (
    id             bigserial PRIMARY KEY,
    user_id        bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    calories       int NOT NULL CHECK (calories BETWEEN 500 AND 10000),
    protein_g      numeric(6,1) CHECK (protein_g >= 0),
    carbs_g        numeric(6,1) CHECK (carbs_g >= 0),
    fat_g          numeric(6,1) CHECK (fat_g >= 0),
    valid_from     date NOT NULL DEFAULT current_date,
    valid_to       date,
    CHECK (valid_to IS NULL OR valid_to >= valid_from),
    UNIQUE (user_id, valid_from)
);
COMMENT ON TABLE nutrition_goals IS 'daily nutrition targets of a user, valid from a date (to a date)';

CREATE TABLE recipes (
    id                bigserial PRIMARY KEY,
    title             text NOT NULL CHECK (title <> ''),
    category          text NOT NULL DEFAULT 'main',
    difficulty_level  int NOT NULL DEFAULT 1 CHECK (difficulty_level BETWEEN 1 AND 5),
    prep_time_minutes int CHECK (prep_time_minutes >= 0),
    cook_time_minutes int CHECK (cook_time_minutes >= 0),
    servings          int CHECK (servings > 0),
    created_by        bigint REFERENCES users ON DELETE SET NULL,
    mongodb_recipe_id objectid UNIQUE,
    content           jsonb CHECK (content IS NULL OR jsonb_typeof(content) = 'object'),
    rating_count      int NOT NULL DEFAULT 0,
    rating_sum        int NOT NULL DEFAULT 0,
    average_rating    numeric(3,2),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX recipes_category_idx ON recipes (category);
CREATE INDEX recipes_popularity_idx ON recipes (rating_count DESC, average_rating DESC);
COMMENT ON TABLE recipes IS 'recipe metadata and rating aggregates; the content document is recipe_content._id = mongodb_recipe_id';
COMMENT ON COLUMN recipes.content IS 'PostgreSQL-first deployments only: the content as jsonb, moved to MongoDB by ng_migrate_to_mongo and then NULL';

CREATE TABLE nutrition_entries (
    id         bigserial PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    entry_date date NOT NULL,
    meal_type  text NOT NULL DEFAULT 'snack'
               CHECK (meal_type IN ('breakfast', 'lunch', 'dinner', 'snack')),
    food_name  text NOT NULL,
    recipe_id  bigint REFERENCES recipes ON DELETE SET NULL,
    calories   numeric(7,1) NOT NULL CHECK (calories >= 0),
    protein_g  numeric(6,1) CHECK (protein_g >= 0),
    carbs_g    numeric(6,1) CHECK (carbs_g >= 0),
    fat_g      numeric(6,1) CHECK (fat_g >= 0),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX nutrition_entries_user_date_idx ON nutrition_entries (user_id, entry_date);
COMMENT ON TABLE nutrition_entries IS 'what a user ate, one row per food per meal and day';

CREATE TABLE recipe_ratings (
    user_id    bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    recipe_id  bigint NOT NULL REFERENCES recipes ON DELETE CASCADE,
    rating     int NOT NULL CHECK (rating BETWEEN 1 AND 5),
    review     text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, recipe_id)
);
CREATE INDEX recipe_ratings_recipe_idx ON recipe_ratings (recipe_id);
COMMENT ON TABLE recipe_ratings IS 'one rating (1 to 5) per user and recipe';

CREATE TABLE chat_messages (
    id              bigserial PRIMARY KEY,
    user_id         bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    chef_id         text,
    role            text NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
    content         text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_messages_user_idx ON chat_messages (user_id, created_at);
COMMENT ON TABLE chat_messages IS 'conversations of users with an AI chef (chef_personalities._id)';

CREATE TABLE cooking_sessions (
    id                 bigserial PRIMARY KEY,
    user_id            bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    recipe_id          bigint NOT NULL REFERENCES recipes ON DELETE CASCADE,
    mode               text NOT NULL DEFAULT 'voice' CHECK (mode IN ('voice', 'manual', 'guided')),
    status             text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'completed', 'abandoned')),
    started_at         timestamptz NOT NULL DEFAULT now(),
    ended_at           timestamptz CHECK (ended_at IS NULL OR ended_at >= started_at),
    total_steps        int NOT NULL DEFAULT 0,
    steps_completed    int NOT NULL DEFAULT 0,
    voice_interactions int NOT NULL DEFAULT 0,
    duration_seconds   int,
    mongodb_session_id objectid UNIQUE,
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cooking_sessions_user_idx ON cooking_sessions (user_id, started_at);
CREATE INDEX cooking_sessions_recipe_idx ON cooking_sessions (recipe_id);
COMMENT ON TABLE cooking_sessions IS 'cooking sessions; the detail document (voice log, step progress) is cooking_session_details._id = mongodb_session_id';

-- pg_dump dumps the data of these extension tables
SELECT pg_catalog.pg_extension_config_dump('mongo_attachment', '');
SELECT pg_catalog.pg_extension_config_dump('users', '');
SELECT pg_catalog.pg_extension_config_dump('users_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('payments', '');
SELECT pg_catalog.pg_extension_config_dump('payments_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('nutrition_goals', '');
SELECT pg_catalog.pg_extension_config_dump('nutrition_goals_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('recipes', '');
SELECT pg_catalog.pg_extension_config_dump('recipes_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('nutrition_entries', '');
SELECT pg_catalog.pg_extension_config_dump('nutrition_entries_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('recipe_ratings', '');
SELECT pg_catalog.pg_extension_config_dump('chat_messages', '');
SELECT pg_catalog.pg_extension_config_dump('chat_messages_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('cooking_sessions', '');
SELECT pg_catalog.pg_extension_config_dump('cooking_sessions_id_seq', '');

-- -------------------------------------------------------------- helpers

CREATE FUNCTION ng_mongo_server()
RETURNS name
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$ SELECT server FROM @extschema@.mongo_attachment $$;

COMMENT ON FUNCTION ng_mongo_server() IS 'the foreign server the NutraGenie collections are attached to, NULL before ng_attach_mongo';

CREATE FUNCTION ng_require_mongo()
RETURNS name
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    srv name := @extschema@.ng_mongo_server();
BEGIN
    IF srv IS NULL THEN
        RAISE EXCEPTION 'the NutraGenie collections are not attached'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Create a nutragenie_fdw server and run nutragenie.ng_attach_mongo(server).';
    END IF;
    RETURN srv;
END
$$;

COMMENT ON FUNCTION ng_require_mongo() IS 'the attached server; an error when ng_attach_mongo has not run';

CREATE FUNCTION ng_bson_date(ts timestamptz)
RETURNS jsonb
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$
    SELECT jsonb_build_object('$date',
        to_char($1 AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
$$;

COMMENT ON FUNCTION ng_bson_date(timestamptz) IS 'a timestamp as an Extended JSON date ({"$date": ...}), stored by MongoDB as a BSON date';

CREATE FUNCTION ng_check_field(obj jsonb, field text, kind text, required boolean, what text)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE
AS $$
DECLARE
    v jsonb := obj -> field;
    t text := jsonb_typeof(obj -> field);
BEGIN
    IF v IS NULL OR t = 'null' THEN
        IF required THEN
            RAISE EXCEPTION '% needs the field "%"', what, field
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        RETURN NULL;
    END IF;
    IF kind = 'integer' THEN
        IF t <> 'number' OR v::numeric <> trunc(v::numeric) THEN
            RAISE EXCEPTION 'field "%" of % must be an integer', field, what
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', v);
        END IF;
    ELSIF kind = 'text' THEN
        IF t <> 'string' OR v #>> '{}' = '' THEN
            RAISE EXCEPTION 'field "%" of % must be a non-empty string', field, what
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', v);
        END IF;
    ELSIF kind = 'text_array' THEN
        IF t <> 'array' OR EXISTS (SELECT FROM jsonb_array_elements(v) e WHERE jsonb_typeof(e) <> 'string') THEN
            RAISE EXCEPTION 'field "%" of % must be an array of strings', field, what
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', v);
        END IF;
    ELSIF kind = 'date' THEN
        IF t <> 'string' OR (v #>> '{}') !~ '^\d{4}-\d{2}-\d{2}$' THEN
            RAISE EXCEPTION 'field "%" of % must be a date (YYYY-MM-DD)', field, what
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', v);
        END IF;
        BEGIN
            PERFORM (v #>> '{}')::date;
        EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
            RAISE EXCEPTION 'field "%" of % must be a date (YYYY-MM-DD)', field, what
                USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', v);
        END;
    ELSIF t <> kind THEN
        RAISE EXCEPTION 'field "%" of % must be a JSON %', field, what, kind
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', v);
    END IF;
    RETURN v;
END
$$;

COMMENT ON FUNCTION ng_check_field(jsonb, text, text, boolean, text) IS 'the field of a jsonb argument, checked to be of a kind (integer, number, text, text_array, date, object, array, boolean); invalid_parameter_value naming the field otherwise';

CREATE FUNCTION ng_publish(event text, payload jsonb)
RETURNS void
LANGUAGE sql VOLATILE STRICT PARALLEL UNSAFE
AS $$
    SELECT pg_notify('nutragenie_events',
                     (jsonb_build_object('event', $1) || $2)::text)
$$;

COMMENT ON FUNCTION ng_publish(text, jsonb) IS 'publish a NutraGenie event on channel nutragenie_events (delivered at commit, never for a rolled-back transaction)';

-- -------------------------------------------------------------- attaching MongoDB

CREATE FUNCTION ng_detach_mongo()
RETURNS boolean
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $$
DECLARE
    was boolean := @extschema@.ng_mongo_server() IS NOT NULL;
    obj regclass;
BEGIN
    -- (quietly: "does not exist, skipping" notices are noise here)
    FOR obj IN SELECT c.oid::regclass FROM pg_class c
               WHERE c.relnamespace = '@extschema@'::regnamespace
                 AND c.relname IN ('recipe_full', 'user_full_profile', 'cooking_session_analytics',
                                   'nutrition_vs_goals')
                 AND c.relkind = 'v'
    LOOP
        EXECUTE format('DROP VIEW %s', obj);
    END LOOP;
    FOR obj IN SELECT c.oid::regclass FROM pg_class c
               WHERE c.relnamespace = '@extschema@'::regnamespace
                 AND c.relname IN ('recipe_content', 'user_profiles', 'cooking_session_details',
                                   'chef_personalities', 'user_behavior')
                 AND c.relkind = 'f'
    LOOP
        EXECUTE format('DROP FOREIGN TABLE %s', obj);
    END LOOP;
    DELETE FROM @extschema@.mongo_attachment;
    RETURN was;
END
$$;

COMMENT ON FUNCTION ng_detach_mongo() IS 'drop the NutraGenie foreign tables and views (MongoDB data is kept); returns whether they were attached';

CREATE FUNCTION ng_attach_mongo(server name, database text DEFAULT 'nutragenie')
RETURNS jsonb
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
DECLARE
    coll text;
    idx json;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
                   WHERE s.srvname = server AND w.fdwname = 'nutragenie_fdw') THEN
        RAISE EXCEPTION 'server "%" does not exist or is not a nutragenie_fdw server', server
            USING ERRCODE = 'undefined_object';
    END IF;
    IF database = '' THEN
        RAISE EXCEPTION 'database name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- the collections and the indexes the domain's lookups use
    -- one index per command: FerretDB 1.24 fails on a createIndexes of
    -- several indexes that all exist already
    FOR coll, idx IN VALUES
        ('recipe_content', '{"key": {"postgresId": 1}, "name": "postgresId_1"}'::json),
        ('recipe_content', '{"key": {"tags": 1}, "name": "tags_1"}'),
        ('user_profiles', '{"key": {"postgresUserId": 1}, "name": "postgresUserId_1"}'),
        ('cooking_session_details', '{"key": {"postgresSessionId": 1}, "name": "postgresSessionId_1"}'),
        ('cooking_session_details', '{"key": {"postgresUserId": 1}, "name": "postgresUserId_1"}'),
        ('chef_personalities', '{"key": {"name": 1}, "name": "name_1"}'),
        ('user_behavior', '{"key": {"updatedAt": 1}, "name": "updatedAt_1"}')
    LOOP
        PERFORM @extschema@.ng_run_command(server,
            json_build_object('createIndexes', coll, 'indexes', json_build_array(idx)), database);
    END LOOP;

    PERFORM @extschema@.ng_detach_mongo();

    EXECUTE format($ddl$
CREATE FOREIGN TABLE @extschema@.recipe_content (
    _id               @extschema@.objectid,
    postgres_id       bigint           OPTIONS (field 'postgresId'),
    title             text,
    description       text,
    cuisine           text,
    ingredients       jsonb,
    steps             jsonb,
    nutrition         jsonb,
    calories          double precision OPTIONS (field 'nutrition.calories'),
    protein_g         double precision OPTIONS (field 'nutrition.protein_g'),
    carbs_g           double precision OPTIONS (field 'nutrition.carbs_g'),
    fat_g             double precision OPTIONS (field 'nutrition.fat_g'),
    tags              text[],
    rating_analytics  jsonb            OPTIONS (field 'ratingAnalytics'),
    created_at        timestamptz      OPTIONS (field 'createdAt'),
    updated_at        timestamptz      OPTIONS (field 'updatedAt'),
    doc               jsonb            OPTIONS (field '$$ROOT')
) SERVER %1$I OPTIONS (database %2$L, collection 'recipe_content');

CREATE FOREIGN TABLE @extschema@.user_profiles (
    _id                 @extschema@.objectid,
    postgres_user_id    bigint           OPTIONS (field 'postgresUserId'),
    dietary_profile     jsonb            OPTIONS (field 'dietaryProfile'),
    diet_type           text             OPTIONS (field 'dietaryProfile.dietType'),
    calorie_target      double precision OPTIONS (field 'dietaryProfile.calorieTarget'),
    allergies           text[]           OPTIONS (field 'dietaryProfile.allergies'),
    cooking_profile     jsonb            OPTIONS (field 'cookingProfile'),
    skill_level         text             OPTIONS (field 'cookingProfile.skillLevel'),
    preferred_chef      text             OPTIONS (field 'cookingProfile.preferredChef'),
    created_at          timestamptz      OPTIONS (field 'createdAt'),
    updated_at          timestamptz      OPTIONS (field 'updatedAt'),
    doc                 jsonb            OPTIONS (field '$$ROOT')
) SERVER %1$I OPTIONS (database %2$L, collection 'user_profiles');

CREATE FOREIGN TABLE @extschema@.cooking_session_details (
    _id                  @extschema@.objectid,
    postgres_session_id  bigint      OPTIONS (field 'postgresSessionId'),
    postgres_user_id     bigint      OPTIONS (field 'postgresUserId'),
    postgres_recipe_id   bigint      OPTIONS (field 'postgresRecipeId'),
    session_metadata     jsonb       OPTIONS (field 'sessionMetadata'),
    mode                 text        OPTIONS (field 'sessionMetadata.mode'),
    voice_interactions   jsonb       OPTIONS (field 'voiceInteractions'),
    step_progress        jsonb       OPTIONS (field 'stepProgress'),
    summary              jsonb,
    created_at           timestamptz OPTIONS (field 'createdAt'),
    updated_at           timestamptz OPTIONS (field 'updatedAt'),
    doc                  jsonb       OPTIONS (field '$$ROOT')
) SERVER %1$I OPTIONS (database %2$L, collection 'cooking_session_details');

CREATE FOREIGN TABLE @extschema@.chef_personalities (
    _id                 text,
    name                text,
    style               text,
    cuisines            text[],
    greeting            text,
    adaptive_responses  jsonb OPTIONS (field 'adaptiveResponses'),
    doc                 jsonb OPTIONS (field '$$ROOT')
) SERVER %1$I OPTIONS (database %2$L, collection 'chef_personalities');

CREATE FOREIGN TABLE @extschema@.user_behavior (
    _id                 bigint,
    patterns            jsonb,
    recommendations     jsonb,
    nutrition_analytics jsonb       OPTIONS (field 'nutritionAnalytics'),
    rating_stats        jsonb       OPTIONS (field 'ratingStats'),
    updated_at          timestamptz OPTIONS (field 'updatedAt'),
    doc                 jsonb       OPTIONS (field '$$ROOT')
) SERVER %1$I OPTIONS (database %2$L, collection 'user_behavior');
$ddl$, server, database);

    COMMENT ON FOREIGN TABLE @extschema@.recipe_content IS 'MongoDB: full recipe content (ingredients, steps, nutrition, tags, rating analytics); postgresId = recipes.id';
    COMMENT ON FOREIGN TABLE @extschema@.user_profiles IS 'MongoDB: dietary and cooking profile of a user; postgresUserId = users.id';
    COMMENT ON FOREIGN TABLE @extschema@.cooking_session_details IS 'MongoDB: metadata, voice interaction log and step progress of a cooking session; postgresSessionId = cooking_sessions.id';
    COMMENT ON FOREIGN TABLE @extschema@.chef_personalities IS 'MongoDB: AI chef personalities and their adaptive response patterns';
    COMMENT ON FOREIGN TABLE @extschema@.user_behavior IS 'MongoDB: behaviour patterns, recommendations and analytics of a user; _id = users.id';

    -- Views for analysts.  Each joins the PostgreSQL table to its documents
    -- on _id, so that a selective condition on the PostgreSQL side becomes
    -- one keyed find per row (a parameterized foreign scan).
    CREATE VIEW @extschema@.recipe_full AS
    SELECT r.id, r.title, r.category, r.difficulty_level, r.prep_time_minutes,
           r.cook_time_minutes, r.servings, r.created_by, r.average_rating, r.rating_count,
           r.mongodb_recipe_id, c.description, c.cuisine, c.calories, c.protein_g,
           c.carbs_g, c.fat_g, c.tags, c.ingredients, c.steps,
           c._id IS NULL AS content_missing, r.created_at, r.updated_at
    FROM @extschema@.recipes r
    LEFT JOIN @extschema@.recipe_content c ON c._id = r.mongodb_recipe_id;
    COMMENT ON VIEW @extschema@.recipe_full IS 'recipes with their MongoDB content';

    CREATE VIEW @extschema@.user_full_profile AS
    SELECT u.id, u.email, u.nickname, u.first_name, u.last_name, u.date_of_birth,
           u.gender, u.height_cm, u.weight_kg, u.mongodb_profile_id,
           p.diet_type, p.calorie_target, p.allergies, p.skill_level, p.preferred_chef,
           p.dietary_profile, p.cooking_profile, b.patterns, b.recommendations,
           b.nutrition_analytics, p._id IS NULL AS profile_missing, u.created_at
    FROM @extschema@.users u
    LEFT JOIN @extschema@.user_profiles p ON p._id = u.mongodb_profile_id
    LEFT JOIN @extschema@.user_behavior b ON b._id = u.id;
    COMMENT ON VIEW @extschema@.user_full_profile IS 'users with their MongoDB profile and behaviour documents (no password hash)';

    CREATE VIEW @extschema@.cooking_session_analytics AS
    SELECT s.id AS session_id, s.user_id, s.recipe_id, r.title AS recipe_title, s.mode,
           s.status, s.started_at, s.ended_at,
           extract(epoch FROM coalesce(s.ended_at, now()) - s.started_at)::int AS duration_seconds,
           s.total_steps,
           coalesce(jsonb_array_length(d.step_progress), 0) AS steps_completed,
           coalesce(jsonb_array_length(d.voice_interactions), 0) AS voice_interaction_count,
           CASE WHEN s.total_steps > 0
                THEN round(100.0 * coalesce(jsonb_array_length(d.step_progress), 0) / s.total_steps, 1)
           END AS percent_complete,
           d._id IS NULL AS details_missing
    FROM @extschema@.cooking_sessions s
    JOIN @extschema@.recipes r ON r.id = s.recipe_id
    LEFT JOIN @extschema@.cooking_session_details d ON d._id = s.mongodb_session_id;
    COMMENT ON VIEW @extschema@.cooking_session_analytics IS 'per cooking session: duration, steps completed and voice interactions (from the MongoDB detail document)';

    CREATE VIEW @extschema@.nutrition_vs_goals AS
    SELECT d.user_id, d.entry_date, d.entries, d.calories, d.protein_g, d.carbs_g, d.fat_g,
           g.calories AS goal_calories, g.protein_g AS goal_protein_g,
           g.carbs_g AS goal_carbs_g, g.fat_g AS goal_fat_g,
           CASE WHEN g.calories > 0 THEN round(100 * d.calories / g.calories, 1) END AS calories_pct_of_goal,
           p.diet_type, p.calorie_target AS profile_calorie_target,
           d.calories - g.calories AS calories_over_goal
    FROM (SELECT e.user_id, e.entry_date, count(*) AS entries, sum(e.calories) AS calories,
                 sum(e.protein_g) AS protein_g, sum(e.carbs_g) AS carbs_g, sum(e.fat_g) AS fat_g
          FROM @extschema@.nutrition_entries e
          GROUP BY e.user_id, e.entry_date) d
    JOIN @extschema@.users u ON u.id = d.user_id
    LEFT JOIN LATERAL (
        SELECT g.* FROM @extschema@.nutrition_goals g
        WHERE g.user_id = d.user_id AND g.valid_from <= d.entry_date
          AND (g.valid_to IS NULL OR g.valid_to >= d.entry_date)
        ORDER BY g.valid_from DESC LIMIT 1) g ON true
    LEFT JOIN @extschema@.user_profiles p ON p._id = u.mongodb_profile_id;
    COMMENT ON VIEW @extschema@.nutrition_vs_goals IS 'daily nutrition totals per user against the goal valid that day and the MongoDB dietary profile';

    INSERT INTO @extschema@.mongo_attachment (server, database) VALUES (server, database);

    RETURN jsonb_build_object('server', server, 'database', database,
        'foreign_tables', jsonb_build_array('recipe_content', 'user_profiles',
            'cooking_session_details', 'chef_personalities', 'user_behavior'),
        'views', jsonb_build_array('recipe_full', 'user_full_profile',
            'cooking_session_analytics', 'nutrition_vs_goals'));
END
$fn$;

COMMENT ON FUNCTION ng_attach_mongo(name, text) IS 'create the NutraGenie collections and indexes in a MongoDB database and the foreign tables and views over them (idempotent: recreates them)';

-- -------------------------------------------------------------- events and sync triggers
-- Triggers keep the stores in step whatever path a write takes (an ng_*
-- function or plain SQL) and publish each event with NOTIFY
-- nutragenie_events.  Statement-level triggers with transition tables
-- write MongoDB in one statement per batch, not one per row.  Before
-- ng_attach_mongo they only publish events.

CREATE FUNCTION ng_default_profile()
RETURNS jsonb
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT '{"dietaryProfile": {"dietType": "omnivore", "allergies": [], "restrictions": [], "calorieTarget": 2000},
             "cookingProfile": {"skillLevel": "beginner", "favoriteCuisines": [], "equipment": [], "preferredChef": "chef_maria"}}'::jsonb
$$;

COMMENT ON FUNCTION ng_default_profile() IS 'the profile document a new user gets (dietaryProfile, cookingProfile)';

CREATE FUNCTION ng_profile_document(user_id bigint, profile jsonb)
RETURNS jsonb
LANGUAGE sql STABLE CALLED ON NULL INPUT PARALLEL SAFE
AS $$
    SELECT jsonb_build_object(
        'postgresUserId', $1,
        'dietaryProfile', (@extschema@.ng_default_profile() -> 'dietaryProfile')
                          || coalesce($2 -> 'dietaryProfile', '{}'),
        'cookingProfile', (@extschema@.ng_default_profile() -> 'cookingProfile')
                          || coalesce($2 -> 'cookingProfile', '{}'),
        'createdAt', @extschema@.ng_bson_date(now()),
        'updatedAt', @extschema@.ng_bson_date(now()))
$$;

COMMENT ON FUNCTION ng_profile_document(bigint, jsonb) IS 'a user_profiles document: the default profile overlaid with the given dietaryProfile and cookingProfile';

CREATE FUNCTION ng_users_after_insert()
RETURNS trigger
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
BEGIN
    IF @extschema@.ng_mongo_server() IS NOT NULL THEN
        -- every new user gets a profile document; a profile given in the
        -- row (ng_create_user, or a PostgreSQL-first client) fills it
        WITH p AS MATERIALIZED (
            SELECT n.id AS user_id, @extschema@.objectid_generate() AS oid, n.profile
            FROM ng_new_rows n WHERE n.mongodb_profile_id IS NULL),
        docs AS (
            INSERT INTO @extschema@.user_profiles (_id, doc)
            SELECT p.oid, @extschema@.ng_profile_document(p.user_id, p.profile) FROM p)
        UPDATE @extschema@.users u SET mongodb_profile_id = p.oid, profile = NULL
        FROM p WHERE u.id = p.user_id;
    END IF;
    PERFORM @extschema@.ng_publish('user.created', jsonb_build_object('userId', n.id, 'email', n.email))
    FROM ng_new_rows n ORDER BY n.id;
    RETURN NULL;
END
$fn$;

COMMENT ON FUNCTION ng_users_after_insert() IS 'trigger: new users get a profile document (default, or from users.profile); publishes user.created';

CREATE TRIGGER ng_users_after_insert AFTER INSERT ON users
    REFERENCING NEW TABLE AS ng_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ng_users_after_insert();

CREATE FUNCTION ng_users_after_delete()
RETURNS trigger
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
BEGIN
    IF @extschema@.ng_mongo_server() IS NOT NULL THEN
        DELETE FROM @extschema@.user_profiles
        WHERE _id = ANY (ARRAY(SELECT o.mongodb_profile_id FROM ng_old_rows o
                               WHERE o.mongodb_profile_id IS NOT NULL));
        DELETE FROM @extschema@.user_behavior
        WHERE _id = ANY (ARRAY(SELECT o.id FROM ng_old_rows o));
    END IF;
    PERFORM @extschema@.ng_publish('user.deleted', jsonb_build_object('userId', o.id))
    FROM ng_old_rows o ORDER BY o.id;
    RETURN NULL;
END
$fn$;

COMMENT ON FUNCTION ng_users_after_delete() IS 'trigger: deleting users deletes their profile and behaviour documents; publishes user.deleted';

CREATE TRIGGER ng_users_after_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS ng_old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ng_users_after_delete();

CREATE FUNCTION ng_recipes_after_insert()
RETURNS trigger
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
BEGIN
    PERFORM @extschema@.ng_publish('recipe.created',
        jsonb_build_object('recipeId', n.id, 'title', n.title,
                           'mongodbRecipeId', n.mongodb_recipe_id::text))
    FROM ng_new_rows n ORDER BY n.id;
    RETURN NULL;
END
$fn$;

COMMENT ON FUNCTION ng_recipes_after_insert() IS 'trigger: publishes recipe.created';

CREATE TRIGGER ng_recipes_after_insert AFTER INSERT ON recipes
    REFERENCING NEW TABLE AS ng_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ng_recipes_after_insert();

CREATE FUNCTION ng_recipes_after_delete()
RETURNS trigger
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
BEGIN
    IF @extschema@.ng_mongo_server() IS NOT NULL THEN
        DELETE FROM @extschema@.recipe_content
        WHERE _id = ANY (ARRAY(SELECT o.mongodb_recipe_id FROM ng_old_rows o
                               WHERE o.mongodb_recipe_id IS NOT NULL));
    END IF;
    PERFORM @extschema@.ng_publish('recipe.deleted', jsonb_build_object('recipeId', o.id))
    FROM ng_old_rows o ORDER BY o.id;
    RETURN NULL;
END
$fn$;

COMMENT ON FUNCTION ng_recipes_after_delete() IS 'trigger: deleting recipes deletes their content documents; publishes recipe.deleted';

CREATE TRIGGER ng_recipes_after_delete AFTER DELETE ON recipes
    REFERENCING OLD TABLE AS ng_old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ng_recipes_after_delete();

-- Ratings: recompute the aggregates of every recipe a statement touched
-- (absolute values, so the MongoDB update is idempotent) in PostgreSQL and
-- in the recipe's ratingAnalytics, and the raters' ratingStats.
CREATE FUNCTION ng_apply_ratings(recipe_ids bigint[], user_ids bigint[])
RETURNS void
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
DECLARE
    rec record;
BEGIN
    UPDATE @extschema@.recipes r
    SET rating_count = coalesce(a.n, 0), rating_sum = coalesce(a.s, 0),
        average_rating = round(a.s::numeric / nullif(a.n, 0), 2), updated_at = date_trunc('milliseconds', now())
    FROM (SELECT x.id, count(rr.rating)::int AS n, sum(rr.rating)::int AS s
          FROM unnest(recipe_ids) x(id)
          LEFT JOIN @extschema@.recipe_ratings rr ON rr.recipe_id = x.id
          GROUP BY x.id) a
    WHERE r.id = a.id;

    IF @extschema@.ng_mongo_server() IS NULL THEN
        RETURN;
    END IF;

    FOR rec IN
        SELECT r.mongodb_recipe_id AS oid,
               jsonb_build_object(
                   'count', r.rating_count, 'sum', r.rating_sum,
                   'average', coalesce(r.average_rating, 0)::float8,
                   'distribution', (SELECT jsonb_object_agg(v, (SELECT count(*) FROM @extschema@.recipe_ratings rr
                                                                   WHERE rr.recipe_id = r.id AND rr.rating = v))
                                    FROM generate_series(1, 5) v),
                   'lastRatedAt', @extschema@.ng_bson_date(now())) AS analytics
        FROM @extschema@.recipes r
        WHERE r.id = ANY (recipe_ids) AND r.mongodb_recipe_id IS NOT NULL
        ORDER BY r.id
    LOOP
        UPDATE @extschema@.recipe_content SET rating_analytics = rec.analytics, updated_at = date_trunc('milliseconds', now())
        WHERE _id = rec.oid;
    END LOOP;

    INSERT INTO @extschema@.user_behavior (_id, doc)
    SELECT u, jsonb_build_object('patterns', '{}'::jsonb, 'recommendations', '[]'::jsonb,
                                 'updatedAt', @extschema@.ng_bson_date(now()))
    FROM unnest(user_ids) u
    WHERE EXISTS (SELECT FROM @extschema@.users WHERE id = u)
      AND NOT EXISTS (SELECT FROM @extschema@.user_behavior b WHERE b._id = u);
    FOR rec IN
        SELECT u AS user_id,
               jsonb_build_object('count', count(rr.rating),
                                  'average', coalesce(round(avg(rr.rating), 2), 0)::float8,
                                  'favoriteCategory', (SELECT r.category FROM @extschema@.recipe_ratings r2
                                                       JOIN @extschema@.recipes r ON r.id = r2.recipe_id
                                                       WHERE r2.user_id = u AND r2.rating >= 4
                                                       GROUP BY r.category ORDER BY count(*) DESC, r.category LIMIT 1)) AS stats
        FROM unnest(user_ids) u
        LEFT JOIN @extschema@.recipe_ratings rr ON rr.user_id = u
        WHERE EXISTS (SELECT FROM @extschema@.users WHERE id = u)
        GROUP BY u ORDER BY u
    LOOP
        UPDATE @extschema@.user_behavior SET rating_stats = rec.stats, updated_at = date_trunc('milliseconds', now())
        WHERE _id = rec.user_id;
    END LOOP;
END
$fn$;

COMMENT ON FUNCTION ng_apply_ratings(bigint[], bigint[]) IS 'recompute rating aggregates of recipes (PostgreSQL and ratingAnalytics in MongoDB) and rating stats of users (user_behavior)';

CREATE FUNCTION ng_ratings_changed()
RETURNS trigger
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
DECLARE
    recipe_ids bigint[];
    user_ids bigint[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(DISTINCT recipe_id), array_agg(DISTINCT user_id) INTO recipe_ids, user_ids FROM ng_new_rows;
        PERFORM @extschema@.ng_publish('recipe.rated',
            jsonb_build_object('recipeId', n.recipe_id, 'userId', n.user_id, 'rating', n.rating))
        FROM ng_new_rows n ORDER BY n.recipe_id, n.user_id;
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT array_agg(DISTINCT x.recipe_id), array_agg(DISTINCT x.user_id) INTO recipe_ids, user_ids
        FROM (SELECT recipe_id, user_id FROM ng_new_rows UNION SELECT recipe_id, user_id FROM ng_old_rows) x;
        PERFORM @extschema@.ng_publish('recipe.rated',
            jsonb_build_object('recipeId', n.recipe_id, 'userId', n.user_id, 'rating', n.rating))
        FROM ng_new_rows n ORDER BY n.recipe_id, n.user_id;
    ELSE
        SELECT array_agg(DISTINCT recipe_id), array_agg(DISTINCT user_id) INTO recipe_ids, user_ids FROM ng_old_rows;
        PERFORM @extschema@.ng_publish('recipe.unrated',
            jsonb_build_object('recipeId', o.recipe_id, 'userId', o.user_id))
        FROM ng_old_rows o ORDER BY o.recipe_id, o.user_id;
    END IF;
    IF recipe_ids IS NOT NULL THEN
        PERFORM @extschema@.ng_apply_ratings(recipe_ids, user_ids);
    END IF;
    RETURN NULL;
END
$fn$;

COMMENT ON FUNCTION ng_ratings_changed() IS 'trigger: ratings update the recipe aggregates and MongoDB analytics; publishes recipe.rated / recipe.unrated';

CREATE TRIGGER ng_ratings_after_insert AFTER INSERT ON recipe_ratings
    REFERENCING NEW TABLE AS ng_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ng_ratings_changed();
CREATE TRIGGER ng_ratings_after_update AFTER UPDATE ON recipe_ratings
    REFERENCING NEW TABLE AS ng_new_rows OLD TABLE AS ng_old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ng_ratings_changed();
CREATE TRIGGER ng_ratings_after_delete AFTER DELETE ON recipe_ratings
    REFERENCING OLD TABLE AS ng_old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ng_ratings_changed();

CREATE FUNCTION ng_sessions_changed()
RETURNS trigger
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM @extschema@.ng_publish('session.started',
            jsonb_build_object('sessionId', n.id, 'userId', n.user_id, 'recipeId', n.recipe_id, 'mode', n.mode))
        FROM ng_new_rows n ORDER BY n.id;
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM @extschema@.ng_publish('session.' || n.status,
            jsonb_build_object('sessionId', n.id, 'userId', n.user_id, 'recipeId', n.recipe_id))
        FROM ng_new_rows n JOIN ng_old_rows o ON o.id = n.id
        WHERE n.status IS DISTINCT FROM o.status
        ORDER BY n.id;
    ELSE
        IF @extschema@.ng_mongo_server() IS NOT NULL THEN
            DELETE FROM @extschema@.cooking_session_details
            WHERE _id = ANY (ARRAY(SELECT o.mongodb_session_id FROM ng_old_rows o
                                   WHERE o.mongodb_session_id IS NOT NULL));
        END IF;
        PERFORM @extschema@.ng_publish('session.deleted', jsonb_build_object('sessionId', o.id))
        FROM ng_old_rows o ORDER BY o.id;
    END IF;
    RETURN NULL;
END
$fn$;

COMMENT ON FUNCTION ng_sessions_changed() IS 'trigger: publishes session.started / session.completed / session.abandoned; deleting sessions deletes their detail documents';

CREATE TRIGGER ng_sessions_after_insert AFTER INSERT ON cooking_sessions
    REFERENCING NEW TABLE AS ng_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ng_sessions_changed();
CREATE TRIGGER ng_sessions_after_update AFTER UPDATE ON cooking_sessions
    REFERENCING NEW TABLE AS ng_new_rows OLD TABLE AS ng_old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ng_sessions_changed();
CREATE TRIGGER ng_sessions_after_delete AFTER DELETE ON cooking_sessions
    REFERENCING OLD TABLE AS ng_old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ng_sessions_changed();

-- -------------------------------------------------------------- document cache

CREATE FUNCTION ng_cached_document(server name, database text, collection text, id jsonb)
RETURNS jsonb
AS 'MODULE_PATHNAME'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION ng_cached_document(name, text, text, jsonb) IS 'a MongoDB document by _id (relaxed Extended JSON, e.g. {"$oid": "..."}): the transaction''s own version, else the shared cache while younger than nutragenie.cache_ttl, else read through the server and cached; NULL when there is none';

CREATE FUNCTION ng_cache_stats(OUT enabled boolean, OUT slots integer, OUT entries bigint,
                               OUT hits bigint, OUT misses bigint, OUT stores bigint,
                               OUT invalidations bigint, OUT ttl_ms integer)
RETURNS record
AS 'MODULE_PATHNAME'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION ng_cache_stats() IS 'the shared document cache: whether it is on for this session, slots, cached documents, and hits, misses, stores and invalidations since start or the last ng_cache_reset()';

CREATE FUNCTION ng_cache_reset()
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

COMMENT ON FUNCTION ng_cache_reset() IS 'empty the shared document cache and zero its counters';

REVOKE EXECUTE ON FUNCTION ng_cache_reset() FROM PUBLIC;

-- -------------------------------------------------------------- recipes

CREATE FUNCTION ng_full_recipe(recipe_id bigint)
RETURNS jsonb
LANGUAGE plpgsql STABLE STRICT PARALLEL RESTRICTED
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
DECLARE
    r @extschema@.recipes;
    content jsonb;
    have_content boolean := false;
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    SELECT * INTO r FROM @extschema@.recipes WHERE id = recipe_id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF r.mongodb_recipe_id IS NOT NULL THEN
        -- through the document cache; a JSON null field reads as a NULL column would
        SELECT jsonb_build_object(
                   'description', d -> 'description', 'cuisine', d -> 'cuisine',
                   'ingredients', coalesce(nullif(d -> 'ingredients', 'null'), '[]'),
                   'steps', coalesce(nullif(d -> 'steps', 'null'), '[]'),
                   'nutrition', coalesce(nullif(d -> 'nutrition', 'null'), '{}'),
                   'tags', coalesce(nullif(d -> 'tags', 'null'), '[]'),
                   'ratingAnalytics', d -> 'ratingAnalytics')
        INTO content
        FROM @extschema@.ng_cached_document(@extschema@.ng_mongo_server(),
                 (SELECT a.database FROM @extschema@.mongo_attachment a),
                 'recipe_content', jsonb_build_object('$oid', r.mongodb_recipe_id::text)) AS d
        WHERE d IS NOT NULL;
        have_content := FOUND;
    END IF;
    RETURN jsonb_build_object(
        'id', r.id, 'title', r.title, 'category', r.category,
        'difficultyLevel', r.difficulty_level, 'prepTimeMinutes', r.prep_time_minutes,
        'cookTimeMinutes', r.cook_time_minutes, 'servings', r.servings,
        'createdBy', r.created_by,
        'rating', jsonb_build_object('average', r.average_rating, 'count', r.rating_count),
        'mongodbRecipeId', r.mongodb_recipe_id::text,
        'contentMissing', NOT have_content,
        'content', content);
END
$fn$;

COMMENT ON FUNCTION ng_full_recipe(bigint) IS 'a recipe: PostgreSQL metadata and ratings merged with its MongoDB content; NULL for an unknown id, "contentMissing": true when the document is missing';

CREATE FUNCTION ng_create_recipe(recipe jsonb)
RETURNS bigint
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
DECLARE
    what constant text := 'the recipe';
    oid @extschema@.objectid := @extschema@.objectid_generate();
    new_id bigint;
    difficulty int;
    creator bigint;
    steps jsonb;
    ingredients jsonb;
    nutrition jsonb;
    k text;
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    IF jsonb_typeof(recipe) <> 'object' THEN
        RAISE EXCEPTION 'the recipe must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM @extschema@.ng_check_field(recipe, 'title', 'text', true, what);
    PERFORM @extschema@.ng_check_field(recipe, 'category', 'text', false, what);
    PERFORM @extschema@.ng_check_field(recipe, 'description', 'text', false, what);
    PERFORM @extschema@.ng_check_field(recipe, 'cuisine', 'text', false, what);
    PERFORM @extschema@.ng_check_field(recipe, 'tags', 'text_array', false, what);
    difficulty := @extschema@.ng_check_field(recipe, 'difficultyLevel', 'integer', false, what);
    IF difficulty NOT BETWEEN 1 AND 5 THEN
        RAISE EXCEPTION 'field "difficultyLevel" of the recipe must be between 1 and 5'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', difficulty);
    END IF;
    FOREACH k IN ARRAY ARRAY['prepTimeMinutes', 'cookTimeMinutes', 'servings'] LOOP
        IF (@extschema@.ng_check_field(recipe, k, 'integer', false, what))::int < 0 THEN
            RAISE EXCEPTION 'field "%" of the recipe must not be negative', k
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;
    creator := @extschema@.ng_check_field(recipe, 'createdBy', 'integer', false, what);
    IF creator IS NOT NULL AND NOT EXISTS (SELECT FROM @extschema@.users WHERE id = creator) THEN
        RAISE EXCEPTION 'user % does not exist', creator USING ERRCODE = 'no_data_found';
    END IF;
    ingredients := coalesce(@extschema@.ng_check_field(recipe, 'ingredients', 'array', false, what), '[]');
    IF EXISTS (SELECT FROM jsonb_array_elements(ingredients) e
               WHERE jsonb_typeof(e) <> 'object' OR jsonb_typeof(e -> 'name') IS DISTINCT FROM 'string') THEN
        RAISE EXCEPTION 'field "ingredients" of the recipe must be an array of objects with a "name"'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- steps: strings or objects with an "instruction"; stored as objects
    -- numbered from 1
    steps := coalesce(@extschema@.ng_check_field(recipe, 'steps', 'array', false, what), '[]');
    IF EXISTS (SELECT FROM jsonb_array_elements(steps) e
               WHERE jsonb_typeof(e) <> 'string'
                 AND (jsonb_typeof(e) <> 'object' OR jsonb_typeof(e -> 'instruction') IS DISTINCT FROM 'string')) THEN
        RAISE EXCEPTION 'field "steps" of the recipe must be an array of strings or of objects with an "instruction"'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT coalesce(jsonb_agg(CASE WHEN jsonb_typeof(e) = 'string'
                                   THEN jsonb_build_object('order', i, 'instruction', e)
                                   ELSE jsonb_build_object('order', i) || e END ORDER BY i), '[]')
    INTO steps FROM jsonb_array_elements(steps) WITH ORDINALITY s(e, i);
    nutrition := coalesce(@extschema@.ng_check_field(recipe, 'nutrition', 'object', false, what), '{}');
    IF EXISTS (SELECT FROM jsonb_each(nutrition) n WHERE jsonb_typeof(n.value) <> 'number') THEN
        RAISE EXCEPTION 'field "nutrition" of the recipe must map names to numbers'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    INSERT INTO @extschema@.recipes (title, category, difficulty_level, prep_time_minutes,
                                     cook_time_minutes, servings, created_by, mongodb_recipe_id)
    VALUES (recipe ->> 'title', coalesce(recipe ->> 'category', 'main'), coalesce(difficulty, 1),
            (recipe ->> 'prepTimeMinutes')::int, (recipe ->> 'cookTimeMinutes')::int,
            (recipe ->> 'servings')::int, creator, oid)
    RETURNING id INTO new_id;

    INSERT INTO @extschema@.recipe_content (_id, doc)
    VALUES (oid, jsonb_strip_nulls(jsonb_build_object(
        'postgresId', new_id, 'title', recipe ->> 'title',
        'description', recipe -> 'description', 'cuisine', recipe -> 'cuisine',
        'ingredients', ingredients, 'steps', steps, 'nutrition', nutrition,
        'tags', coalesce(recipe -> 'tags', '[]'),
        'createdAt', @extschema@.ng_bson_date(now()),
        'updatedAt', @extschema@.ng_bson_date(now()))));
    RETURN new_id;
END
$fn$;

COMMENT ON FUNCTION ng_create_recipe(jsonb) IS 'create a recipe: the PostgreSQL row and the MongoDB content document, each naming the other, in the caller''s transaction; returns the recipe id';

CREATE FUNCTION ng_popular_recipes(lim int DEFAULT 10)
RETURNS TABLE (rank int, recipe_id bigint, title text, category text,
               average_rating numeric, rating_count int, score numeric, content jsonb)
LANGUAGE plpgsql STABLE STRICT PARALLEL RESTRICTED
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    IF lim < 1 OR lim > 1000 THEN
        RAISE EXCEPTION 'lim must be between 1 and 1000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- rank in PostgreSQL: a Bayesian average (5 virtual votes at the
    -- overall mean) so that one 5-star vote does not top the list
    RETURN QUERY
    WITH top AS MATERIALIZED (
        SELECT row_number() OVER (ORDER BY t.score DESC, t.n DESC, r.id)::int AS rank, r.id,
               r.title, r.category, round(t.avg, 2) AS avg, t.n::int AS n,
               round(t.score, 3) AS score, r.mongodb_recipe_id AS oid
        FROM (SELECT rr.recipe_id, count(*) AS n, avg(rr.rating) AS avg,
                     (sum(rr.rating) + 5 * (SELECT avg(x.rating) FROM @extschema@.recipe_ratings x))
                     / (count(*) + 5) AS score
              FROM @extschema@.recipe_ratings rr GROUP BY rr.recipe_id) t
        JOIN @extschema@.recipes r ON r.id = t.recipe_id
        ORDER BY t.score DESC, t.n DESC, r.id
        LIMIT lim),
    -- one find with {"_id": {"$in": [...]}} for all of them
    docs AS MATERIALIZED (
        SELECT c._id, c.description, c.cuisine, c.nutrition, c.tags, c.ingredients, c.steps
        FROM @extschema@.recipe_content c
        WHERE c._id = ANY (ARRAY(SELECT top.oid FROM top WHERE top.oid IS NOT NULL)))
    SELECT p.rank, p.id, p.title, p.category, p.avg, p.n, p.score,
           CASE WHEN d._id IS NOT NULL THEN jsonb_build_object(
               'description', d.description, 'cuisine', d.cuisine, 'nutrition', d.nutrition,
               'tags', to_jsonb(d.tags), 'ingredients', d.ingredients, 'steps', d.steps) END
    FROM top p LEFT JOIN docs d ON d._id = p.oid
    ORDER BY p.rank;
END
$fn$;

COMMENT ON FUNCTION ng_popular_recipes(int) IS 'the best-rated recipes (Bayesian average of ratings, computed in PostgreSQL) with their MongoDB content fetched in one request; content is NULL when the document is missing';

CREATE FUNCTION ng_rate_recipe(user_id bigint, recipe_id bigint, rating int, review text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
DECLARE
    r @extschema@.recipes;
BEGIN
    IF user_id IS NULL OR recipe_id IS NULL OR rating IS NULL THEN
        RAISE EXCEPTION 'user_id, recipe_id and rating must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF rating NOT BETWEEN 1 AND 5 THEN
        RAISE EXCEPTION 'rating must be between 1 and 5' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('Got %s.', rating);
    END IF;
    PERFORM @extschema@.ng_require_mongo();
    IF NOT EXISTS (SELECT FROM @extschema@.users u WHERE u.id = ng_rate_recipe.user_id) THEN
        RAISE EXCEPTION 'user % does not exist', user_id USING ERRCODE = 'no_data_found';
    END IF;
    IF NOT EXISTS (SELECT FROM @extschema@.recipes x WHERE x.id = ng_rate_recipe.recipe_id) THEN
        RAISE EXCEPTION 'recipe % does not exist', recipe_id USING ERRCODE = 'no_data_found';
    END IF;
    INSERT INTO @extschema@.recipe_ratings AS rr (user_id, recipe_id, rating, review)
    VALUES (ng_rate_recipe.user_id, ng_rate_recipe.recipe_id, ng_rate_recipe.rating, ng_rate_recipe.review)
    ON CONFLICT ON CONSTRAINT recipe_ratings_pkey DO UPDATE
        SET rating = excluded.rating, review = excluded.review, updated_at = date_trunc('milliseconds', now());
    SELECT * INTO r FROM @extschema@.recipes x WHERE x.id = ng_rate_recipe.recipe_id;
    RETURN jsonb_build_object('recipeId', r.id, 'userId', user_id, 'rating', rating,
                              'averageRating', r.average_rating, 'ratingCount', r.rating_count);
END
$fn$;

COMMENT ON FUNCTION ng_rate_recipe(bigint, bigint, int, text) IS 'rate a recipe 1 to 5 (again: replaces the user''s rating); updates the aggregates in PostgreSQL and the rating analytics in MongoDB together';

-- -------------------------------------------------------------- users

CREATE FUNCTION ng_create_user("user" jsonb)
RETURNS bigint
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
DECLARE
    what constant text := 'the user';
    u jsonb := "user";
    new_id bigint;
    k text;
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    IF jsonb_typeof(u) <> 'object' THEN
        RAISE EXCEPTION 'the user must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM @extschema@.ng_check_field(u, 'email', 'text', true, what);
    IF (u ->> 'email') !~ '^[^@\s]+@[^@\s]+$' THEN
        RAISE EXCEPTION 'field "email" of the user is not an email address'
            USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', u -> 'email');
    END IF;
    PERFORM @extschema@.ng_check_field(u, 'passwordHash', 'text', true, what);
    FOREACH k IN ARRAY ARRAY['nickname', 'firstName', 'lastName'] LOOP
        PERFORM @extschema@.ng_check_field(u, k, 'text', false, what);
    END LOOP;
    PERFORM @extschema@.ng_check_field(u, 'dateOfBirth', 'date', false, what);
    IF @extschema@.ng_check_field(u, 'gender', 'text', false, what) IS NOT NULL
       AND (u ->> 'gender') NOT IN ('female', 'male', 'other', 'unspecified') THEN
        RAISE EXCEPTION 'field "gender" of the user must be one of female, male, other, unspecified'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM @extschema@.ng_check_field(u, 'heightCm', 'number', false, what);
    PERFORM @extschema@.ng_check_field(u, 'weightKg', 'number', false, what);
    PERFORM @extschema@.ng_check_field(u, 'dietaryProfile', 'object', false, what);
    PERFORM @extschema@.ng_check_field(u, 'cookingProfile', 'object', false, what);
    IF EXISTS (SELECT FROM @extschema@.users x WHERE lower(x.email) = lower(u ->> 'email')) THEN
        RAISE EXCEPTION 'a user with email "%" already exists', u ->> 'email'
            USING ERRCODE = 'unique_violation';
    END IF;

    -- the AFTER INSERT trigger turns the profile into the user_profiles
    -- document and clears the column
    INSERT INTO @extschema@.users (email, password_hash, nickname, first_name, last_name,
                                   date_of_birth, gender, height_cm, weight_kg, profile)
    VALUES (u ->> 'email', u ->> 'passwordHash', u ->> 'nickname', u ->> 'firstName',
            u ->> 'lastName', (u ->> 'dateOfBirth')::date, u ->> 'gender',
            (u ->> 'heightCm')::numeric, (u ->> 'weightKg')::numeric,
            jsonb_strip_nulls(jsonb_build_object('dietaryProfile', u -> 'dietaryProfile',
                                                 'cookingProfile', u -> 'cookingProfile')))
    RETURNING id INTO new_id;
    RETURN new_id;
END
$fn$;

COMMENT ON FUNCTION ng_create_user(jsonb) IS 'create a user (email, passwordHash, nickname, firstName, lastName, dateOfBirth, gender, heightCm, weightKg) and the profile document (dietaryProfile, cookingProfile, defaults filled in) in one transaction; returns the user id';

CREATE FUNCTION ng_user_full_profile(user_id bigint)
RETURNS jsonb
LANGUAGE plpgsql STABLE STRICT PARALLEL RESTRICTED
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
DECLARE
    u @extschema@.users;
    p jsonb;
    b jsonb;
    have_profile boolean := false;
    srv name;
    db text;
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    SELECT * INTO u FROM @extschema@.users x WHERE x.id = user_id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    -- both documents through the document cache
    SELECT a.server, a.database INTO srv, db FROM @extschema@.mongo_attachment a;
    IF u.mongodb_profile_id IS NOT NULL THEN
        SELECT jsonb_build_object('dietaryProfile', d -> 'dietaryProfile', 'cookingProfile', d -> 'cookingProfile') INTO p
        FROM @extschema@.ng_cached_document(srv, db, 'user_profiles',
                 jsonb_build_object('$oid', u.mongodb_profile_id::text)) AS d
        WHERE d IS NOT NULL;
        have_profile := FOUND;
    END IF;
    SELECT jsonb_strip_nulls(jsonb_build_object(
               'patterns', d -> 'patterns', 'recommendations', d -> 'recommendations',
               'nutritionAnalytics', d -> 'nutritionAnalytics', 'ratingStats', d -> 'ratingStats')) INTO b
    FROM @extschema@.ng_cached_document(srv, db, 'user_behavior', to_jsonb(u.id)) AS d
    WHERE d IS NOT NULL;
    RETURN jsonb_build_object(
        'id', u.id, 'email', u.email, 'nickname', u.nickname, 'firstName', u.first_name,
        'lastName', u.last_name, 'dateOfBirth', u.date_of_birth, 'gender', u.gender,
        'heightCm', u.height_cm, 'weightKg', u.weight_kg,
        'mongodbProfileId', u.mongodb_profile_id::text,
        'profileMissing', NOT have_profile,
        'dietaryProfile', p -> 'dietaryProfile',
        'cookingProfile', p -> 'cookingProfile',
        'behavior', b,
        'currentGoal', (SELECT jsonb_build_object('calories', g.calories, 'proteinG', g.protein_g,
                                                  'carbsG', g.carbs_g, 'fatG', g.fat_g, 'validFrom', g.valid_from)
                        FROM @extschema@.nutrition_goals g
                        WHERE g.user_id = u.id AND g.valid_from <= current_date
                          AND (g.valid_to IS NULL OR g.valid_to >= current_date)
                        ORDER BY g.valid_from DESC LIMIT 1),
        'stats', jsonb_build_object(
            'ratings', (SELECT count(*) FROM @extschema@.recipe_ratings r WHERE r.user_id = u.id),
            'cookingSessions', (SELECT count(*) FROM @extschema@.cooking_sessions s WHERE s.user_id = u.id),
            'nutritionEntries', (SELECT count(*) FROM @extschema@.nutrition_entries e WHERE e.user_id = u.id)));
END
$fn$;

COMMENT ON FUNCTION ng_user_full_profile(bigint) IS 'a user (without the password hash) with the MongoDB profile and behaviour documents, current goal and activity counts; NULL for an unknown id, "profileMissing": true when the profile document is missing';

-- -------------------------------------------------------------- cooking sessions

CREATE FUNCTION ng_start_cooking_session(user_id bigint, recipe_id bigint, mode text DEFAULT 'voice')
RETURNS bigint
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
DECLARE
    r @extschema@.recipes;
    oid @extschema@.objectid := @extschema@.objectid_generate();
    nsteps int := 0;
    new_id bigint;
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    IF mode NOT IN ('voice', 'manual', 'guided') THEN
        RAISE EXCEPTION 'mode must be one of voice, manual, guided' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('Got "%s".', mode);
    END IF;
    IF NOT EXISTS (SELECT FROM @extschema@.users u WHERE u.id = ng_start_cooking_session.user_id) THEN
        RAISE EXCEPTION 'user % does not exist', user_id USING ERRCODE = 'no_data_found';
    END IF;
    SELECT * INTO r FROM @extschema@.recipes x WHERE x.id = ng_start_cooking_session.recipe_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'recipe % does not exist', recipe_id USING ERRCODE = 'no_data_found';
    END IF;
    IF r.mongodb_recipe_id IS NOT NULL THEN
        SELECT coalesce(jsonb_array_length(c.steps), 0) INTO nsteps
        FROM @extschema@.recipe_content c WHERE c._id = r.mongodb_recipe_id;
    END IF;

    INSERT INTO @extschema@.cooking_sessions (user_id, recipe_id, mode, total_steps, mongodb_session_id)
    VALUES (ng_start_cooking_session.user_id, r.id, ng_start_cooking_session.mode, coalesce(nsteps, 0), oid)
    RETURNING id INTO new_id;
    INSERT INTO @extschema@.cooking_session_details (_id, doc)
    VALUES (oid, jsonb_build_object(
        'postgresSessionId', new_id, 'postgresUserId', user_id, 'postgresRecipeId', r.id,
        'sessionMetadata', jsonb_build_object('mode', mode, 'status', 'active',
                                              'recipeTitle', r.title, 'totalSteps', coalesce(nsteps, 0),
                                              'startedAt', @extschema@.ng_bson_date(now())),
        'voiceInteractions', '[]'::jsonb, 'stepProgress', '[]'::jsonb,
        'createdAt', @extschema@.ng_bson_date(now()), 'updatedAt', @extschema@.ng_bson_date(now())));
    RETURN new_id;
END
$fn$;

COMMENT ON FUNCTION ng_start_cooking_session(bigint, bigint, text) IS 'start a cooking session (voice, manual or guided): the PostgreSQL row and the MongoDB detail document; returns the session id';

CREATE FUNCTION ng_log_voice_interaction(session_id bigint, interaction jsonb)
RETURNS int
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
DECLARE
    what constant text := 'the interaction';
    s @extschema@.cooking_sessions;
    d record;
    n int;
    step int;
    progress jsonb;
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    IF jsonb_typeof(interaction) <> 'object' THEN
        RAISE EXCEPTION 'the interaction must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT (interaction ? 'transcript' OR interaction ? 'command') THEN
        RAISE EXCEPTION 'the interaction needs the field "transcript" or "command"'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM @extschema@.ng_check_field(interaction, 'transcript', 'text', false, what);
    PERFORM @extschema@.ng_check_field(interaction, 'command', 'text', false, what);
    PERFORM @extschema@.ng_check_field(interaction, 'response', 'text', false, what);
    PERFORM @extschema@.ng_check_field(interaction, 'durationMs', 'number', false, what);
    PERFORM @extschema@.ng_check_field(interaction, 'stepCompleted', 'boolean', false, what);
    step := @extschema@.ng_check_field(interaction, 'step', 'integer', false, what);

    -- the row lock serializes interactions of one session
    SELECT * INTO s FROM @extschema@.cooking_sessions x WHERE x.id = session_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'cooking session % does not exist', session_id USING ERRCODE = 'no_data_found';
    END IF;
    IF s.status <> 'active' THEN
        RAISE EXCEPTION 'cooking session % is %', session_id, s.status
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF step IS NOT NULL AND (step < 1 OR (s.total_steps > 0 AND step > s.total_steps)) THEN
        RAISE EXCEPTION 'field "step" of the interaction must be between 1 and %', greatest(s.total_steps, 1)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT x.voice_interactions, x.step_progress INTO d
    FROM @extschema@.cooking_session_details x WHERE x._id = s.mongodb_session_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the detail document of cooking session % is missing', session_id
            USING ERRCODE = 'no_data_found', HINT = 'Run nutragenie.ng_repair_consistency(false).';
    END IF;

    n := coalesce(jsonb_array_length(d.voice_interactions), 0) + 1;
    progress := coalesce(d.step_progress, '[]');
    IF step IS NOT NULL AND coalesce((interaction ->> 'stepCompleted')::boolean, false)
       AND NOT progress @> jsonb_build_array(jsonb_build_object('step', step)) THEN
        progress := progress || jsonb_build_array(jsonb_build_object(
            'step', step, 'completedAt', @extschema@.ng_bson_date(now())));
    END IF;
    -- the element carries its sequence number: re-applying the update
    -- (absolute $set of the array) cannot duplicate it
    UPDATE @extschema@.cooking_session_details
    SET voice_interactions = coalesce(d.voice_interactions, '[]')
            || jsonb_build_array(jsonb_build_object('seq', n, 'at', @extschema@.ng_bson_date(now())) || interaction),
        step_progress = progress, updated_at = date_trunc('milliseconds', now())
    WHERE _id = s.mongodb_session_id;
    UPDATE @extschema@.cooking_sessions
    SET voice_interactions = n, steps_completed = jsonb_array_length(progress), updated_at = date_trunc('milliseconds', now())
    WHERE id = s.id;
    RETURN n;
END
$fn$;

COMMENT ON FUNCTION ng_log_voice_interaction(bigint, jsonb) IS 'append a voice interaction (transcript or command, response, step, stepCompleted, durationMs) to an active session''s document and touch its row; returns the number of interactions';

CREATE FUNCTION ng_finish_cooking_session(session_id bigint)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
DECLARE
    s @extschema@.cooking_sessions;
    d record;
    stats jsonb;
    ended timestamptz := now();
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    SELECT * INTO s FROM @extschema@.cooking_sessions x WHERE x.id = session_id FOR UPDATE;
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
    stats := jsonb_build_object(
        'durationSeconds', extract(epoch FROM ended - s.started_at)::int,
        'voiceInteractions', coalesce(jsonb_array_length(d.voice_interactions), 0),
        'stepsCompleted', coalesce(jsonb_array_length(d.step_progress), 0),
        'totalSteps', s.total_steps,
        'completionRate', CASE WHEN s.total_steps > 0
                               THEN round(coalesce(jsonb_array_length(d.step_progress), 0)::numeric / s.total_steps, 2) END);
    UPDATE @extschema@.cooking_sessions
    SET status = 'completed', ended_at = ended, duration_seconds = (stats ->> 'durationSeconds')::int,
        steps_completed = (stats ->> 'stepsCompleted')::int,
        voice_interactions = (stats ->> 'voiceInteractions')::int, updated_at = date_trunc('milliseconds', now())
    WHERE id = s.id;
    UPDATE @extschema@.cooking_session_details
    SET summary = stats,
        session_metadata = coalesce(d.session_metadata, '{}')
            || jsonb_build_object('status', 'completed', 'endedAt', @extschema@.ng_bson_date(ended)),
        updated_at = date_trunc('milliseconds', now())
    WHERE _id = s.mongodb_session_id;
    RETURN jsonb_build_object('sessionId', s.id) || stats;
END
$fn$;

COMMENT ON FUNCTION ng_finish_cooking_session(bigint) IS 'complete an active cooking session: status, end time and summary statistics in PostgreSQL, the summary in its MongoDB document; returns the summary';

-- -------------------------------------------------------------- nutrition

CREATE FUNCTION ng_log_nutrition(entries jsonb)
RETURNS int
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
DECLARE
    e jsonb;
    i int := 0;
    what text;
    k text;
    missing bigint;
    n int;
    rec record;
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    IF jsonb_typeof(entries) = 'object' THEN
        entries := jsonb_build_array(entries);
    ELSIF jsonb_typeof(entries) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'entries must be a JSON array of objects' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR e IN SELECT x FROM jsonb_array_elements(entries) x LOOP
        i := i + 1;
        what := format('entry %s', i);
        IF jsonb_typeof(e) <> 'object' THEN
            RAISE EXCEPTION '% must be a JSON object', what USING ERRCODE = 'invalid_parameter_value';
        END IF;
        PERFORM @extschema@.ng_check_field(e, 'userId', 'integer', true, what);
        PERFORM @extschema@.ng_check_field(e, 'date', 'date', true, what);
        PERFORM @extschema@.ng_check_field(e, 'foodName', 'text', true, what);
        PERFORM @extschema@.ng_check_field(e, 'calories', 'number', true, what);
        PERFORM @extschema@.ng_check_field(e, 'recipeId', 'integer', false, what);
        FOREACH k IN ARRAY ARRAY['calories', 'proteinG', 'carbsG', 'fatG'] LOOP
            IF (@extschema@.ng_check_field(e, k, 'number', false, what))::numeric < 0 THEN
                RAISE EXCEPTION 'field "%" of % must not be negative', k, what
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
        END LOOP;
        IF @extschema@.ng_check_field(e, 'mealType', 'text', false, what) IS NOT NULL
           AND (e ->> 'mealType') NOT IN ('breakfast', 'lunch', 'dinner', 'snack') THEN
            RAISE EXCEPTION 'field "mealType" of % must be one of breakfast, lunch, dinner, snack', what
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;
    IF i = 0 THEN
        RETURN 0;
    END IF;
    SELECT (x ->> 'userId')::bigint INTO missing FROM jsonb_array_elements(entries) x
    WHERE NOT EXISTS (SELECT FROM @extschema@.users u WHERE u.id = (x ->> 'userId')::bigint) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'user % does not exist', missing USING ERRCODE = 'no_data_found';
    END IF;

    INSERT INTO @extschema@.nutrition_entries (user_id, entry_date, meal_type, food_name, recipe_id,
                                               calories, protein_g, carbs_g, fat_g)
    SELECT (x ->> 'userId')::bigint, (x ->> 'date')::date, coalesce(x ->> 'mealType', 'snack'),
           x ->> 'foodName', (x ->> 'recipeId')::bigint, (x ->> 'calories')::numeric,
           (x ->> 'proteinG')::numeric, (x ->> 'carbsG')::numeric, (x ->> 'fatG')::numeric
    FROM jsonb_array_elements(entries) WITH ORDINALITY AS t(x, o)
    ORDER BY o;
    GET DIAGNOSTICS n = ROW_COUNT;

    -- per-user analytics in user_behavior, recomputed from all of the
    -- user's entries (absolute values: idempotent)
    INSERT INTO @extschema@.user_behavior (_id, doc)
    SELECT DISTINCT (x ->> 'userId')::bigint,
           jsonb_build_object('patterns', '{}'::jsonb, 'recommendations', '[]'::jsonb,
                              'updatedAt', @extschema@.ng_bson_date(now()))
    FROM jsonb_array_elements(entries) x
    WHERE NOT EXISTS (SELECT FROM @extschema@.user_behavior b WHERE b._id = (x ->> 'userId')::bigint);
    FOR rec IN
        SELECT ne.user_id,
               jsonb_build_object(
                   'entries', count(*), 'daysLogged', count(DISTINCT ne.entry_date),
                   'totalCalories', sum(ne.calories)::float8,
                   'avgDailyCalories', round(sum(ne.calories) / count(DISTINCT ne.entry_date), 1)::float8,
                   'avgDailyProteinG', round(coalesce(sum(ne.protein_g), 0) / count(DISTINCT ne.entry_date), 1)::float8,
                   'firstEntryDate', min(ne.entry_date), 'lastEntryDate', max(ne.entry_date)) AS analytics
        FROM @extschema@.nutrition_entries ne
        WHERE ne.user_id IN (SELECT DISTINCT (x ->> 'userId')::bigint FROM jsonb_array_elements(entries) x)
        GROUP BY ne.user_id ORDER BY ne.user_id
    LOOP
        UPDATE @extschema@.user_behavior SET nutrition_analytics = rec.analytics, updated_at = date_trunc('milliseconds', now())
        WHERE _id = rec.user_id;
    END LOOP;
    PERFORM @extschema@.ng_publish('nutrition.logged', jsonb_build_object('entries', n));
    RETURN n;
END
$fn$;

COMMENT ON FUNCTION ng_log_nutrition(jsonb) IS 'log a batch of daily nutrition entries (userId, date, mealType, foodName, calories, proteinG, carbsG, fatG, recipeId) in one statement and refresh the users'' nutrition analytics in MongoDB; returns the number of entries';

-- -------------------------------------------------------------- consistency

CREATE FUNCTION ng_check_consistency()
RETURNS TABLE (issue text, pg_table text, pg_id bigint, collection text, mongo_id text, detail text)
LANGUAGE plpgsql STABLE STRICT PARALLEL RESTRICTED
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    -- one find per collection, fetching _id and the back-reference only
    RETURN QUERY
    WITH p AS MATERIALIZED (SELECT x._id, x.postgres_user_id AS ref FROM @extschema@.user_profiles x),
         c AS MATERIALIZED (SELECT x._id, x.postgres_id AS ref FROM @extschema@.recipe_content x),
         d AS MATERIALIZED (SELECT x._id, x.postgres_session_id AS ref FROM @extschema@.cooking_session_details x),
         b AS MATERIALIZED (SELECT x._id FROM @extschema@.user_behavior x),
         issues AS (
        -- users and user_profiles
        SELECT 'user_without_profile' AS issue, 'users' AS pg_table, u.id AS pg_id,
               'user_profiles' AS collection, u.mongodb_profile_id::text AS mongo_id,
               CASE WHEN u.profile IS NOT NULL THEN 'profile not migrated to MongoDB yet'
                    WHEN u.mongodb_profile_id IS NULL THEN 'users.mongodb_profile_id is NULL'
                    ELSE 'no document with this _id' END AS detail
        FROM @extschema@.users u LEFT JOIN p ON p._id = u.mongodb_profile_id
        WHERE p._id IS NULL
        UNION ALL
        SELECT 'profile_backref_mismatch', 'users', u.id, 'user_profiles', p._id::text,
               format('postgresUserId is %s', coalesce(p.ref::text, 'missing'))
        FROM @extschema@.users u JOIN p ON p._id = u.mongodb_profile_id
        WHERE p.ref IS DISTINCT FROM u.id
        UNION ALL
        SELECT 'orphan_profile', 'users', p.ref, 'user_profiles', p._id::text,
               'no user refers to this document'
        FROM p WHERE NOT EXISTS (SELECT FROM @extschema@.users u WHERE u.mongodb_profile_id = p._id)
        UNION ALL
        SELECT 'orphan_user_behavior', 'users', b._id, 'user_behavior', b._id::text,
               'no user with this id'
        FROM b WHERE NOT EXISTS (SELECT FROM @extschema@.users u WHERE u.id = b._id)
        UNION ALL
        -- recipes and recipe_content
        SELECT 'recipe_without_content', 'recipes', r.id, 'recipe_content', r.mongodb_recipe_id::text,
               CASE WHEN r.content IS NOT NULL THEN 'content not migrated to MongoDB yet'
                    WHEN r.mongodb_recipe_id IS NULL THEN 'recipes.mongodb_recipe_id is NULL'
                    ELSE 'no document with this _id' END
        FROM @extschema@.recipes r LEFT JOIN c ON c._id = r.mongodb_recipe_id
        WHERE c._id IS NULL
        UNION ALL
        SELECT 'recipe_backref_mismatch', 'recipes', r.id, 'recipe_content', c._id::text,
               format('postgresId is %s', coalesce(c.ref::text, 'missing'))
        FROM @extschema@.recipes r JOIN c ON c._id = r.mongodb_recipe_id
        WHERE c.ref IS DISTINCT FROM r.id
        UNION ALL
        SELECT 'orphan_recipe_content', 'recipes', c.ref, 'recipe_content', c._id::text,
               'no recipe refers to this document'
        FROM c WHERE NOT EXISTS (SELECT FROM @extschema@.recipes r WHERE r.mongodb_recipe_id = c._id)
        UNION ALL
        -- cooking_sessions and cooking_session_details
        SELECT 'session_without_details', 'cooking_sessions', s.id, 'cooking_session_details',
               s.mongodb_session_id::text,
               CASE WHEN s.mongodb_session_id IS NULL THEN 'cooking_sessions.mongodb_session_id is NULL'
                    ELSE 'no document with this _id' END
        FROM @extschema@.cooking_sessions s LEFT JOIN d ON d._id = s.mongodb_session_id
        WHERE d._id IS NULL
        UNION ALL
        SELECT 'session_backref_mismatch', 'cooking_sessions', s.id, 'cooking_session_details', d._id::text,
               format('postgresSessionId is %s', coalesce(d.ref::text, 'missing'))
        FROM @extschema@.cooking_sessions s JOIN d ON d._id = s.mongodb_session_id
        WHERE d.ref IS DISTINCT FROM s.id
        UNION ALL
        SELECT 'orphan_session_details', 'cooking_sessions', d.ref, 'cooking_session_details', d._id::text,
               'no cooking session refers to this document'
        FROM d WHERE NOT EXISTS (SELECT FROM @extschema@.cooking_sessions s WHERE s.mongodb_session_id = d._id))
    SELECT * FROM issues i ORDER BY i.issue, i.pg_id NULLS LAST, i.mongo_id;
END
$fn$;

COMMENT ON FUNCTION ng_check_consistency() IS 'one row per cross-store inconsistency: users without profile, recipes without content, sessions without details, back-references that disagree, orphan documents';

CREATE FUNCTION ng_repair_consistency(dry_run boolean DEFAULT true)
RETURNS TABLE (issue text, pg_table text, pg_id bigint, collection text, mongo_id text, action text, applied boolean)
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
DECLARE
    i record;
    linked_users bigint[] := '{}';
    linked_recipes bigint[] := '{}';
    linked_sessions bigint[] := '{}';
    oid @extschema@.objectid;
    target bigint;
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
        CASE i.issue
        WHEN 'orphan_profile' THEN
            SELECT u.id INTO target FROM @extschema@.users u
            WHERE u.id = i.pg_id AND NOT u.id = ANY (linked_users)
              AND (u.mongodb_profile_id IS NULL
                   OR NOT EXISTS (SELECT FROM @extschema@.user_profiles p WHERE p._id = u.mongodb_profile_id));
            IF FOUND THEN
                action := format('link the document to user %s', target);
                linked_users := linked_users || target;
                IF NOT dry_run THEN
                    UPDATE @extschema@.users SET mongodb_profile_id = i.mongo_id::@extschema@.objectid, updated_at = date_trunc('milliseconds', now())
                    WHERE id = target;
                END IF;
            ELSE
                action := 'delete the document';
                IF NOT dry_run THEN
                    DELETE FROM @extschema@.user_profiles WHERE _id = i.mongo_id::@extschema@.objectid;
                END IF;
            END IF;
        WHEN 'orphan_user_behavior' THEN
            action := 'delete the document';
            IF NOT dry_run THEN
                DELETE FROM @extschema@.user_behavior WHERE _id = i.pg_id;
            END IF;
        WHEN 'orphan_recipe_content' THEN
            SELECT r.id INTO target FROM @extschema@.recipes r
            WHERE r.id = i.pg_id AND NOT r.id = ANY (linked_recipes)
              AND (r.mongodb_recipe_id IS NULL
                   OR NOT EXISTS (SELECT FROM @extschema@.recipe_content c WHERE c._id = r.mongodb_recipe_id));
            IF FOUND THEN
                action := format('link the document to recipe %s', target);
                linked_recipes := linked_recipes || target;
                IF NOT dry_run THEN
                    UPDATE @extschema@.recipes SET mongodb_recipe_id = i.mongo_id::@extschema@.objectid, updated_at = date_trunc('milliseconds', now())
                    WHERE id = target;
                END IF;
            ELSE
                action := 'delete the document';
                IF NOT dry_run THEN
                    DELETE FROM @extschema@.recipe_content WHERE _id = i.mongo_id::@extschema@.objectid;
                END IF;
            END IF;
        WHEN 'orphan_session_details' THEN
            SELECT s.id INTO target FROM @extschema@.cooking_sessions s
            WHERE s.id = i.pg_id AND NOT s.id = ANY (linked_sessions)
              AND (s.mongodb_session_id IS NULL
                   OR NOT EXISTS (SELECT FROM @extschema@.cooking_session_details d WHERE d._id = s.mongodb_session_id));
            IF FOUND THEN
                action := format('link the document to cooking session %s', target);
                linked_sessions := linked_sessions || target;
                IF NOT dry_run THEN
                    UPDATE @extschema@.cooking_sessions SET mongodb_session_id = i.mongo_id::@extschema@.objectid, updated_at = date_trunc('milliseconds', now())
                    WHERE id = target;
                END IF;
            ELSE
                action := 'delete the document';
                IF NOT dry_run THEN
                    DELETE FROM @extschema@.cooking_session_details WHERE _id = i.mongo_id::@extschema@.objectid;
                END IF;
            END IF;
        WHEN 'user_without_profile' THEN
            IF i.pg_id = ANY (linked_users) THEN
                CONTINUE;
            END IF;
            action := 'create a profile document' || CASE WHEN i.detail LIKE 'profile not migrated%'
                                                          THEN ' from users.profile' ELSE ' with defaults' END;
            IF NOT dry_run THEN
                oid := coalesce(i.mongo_id::@extschema@.objectid, @extschema@.objectid_generate());
                INSERT INTO @extschema@.user_profiles (_id, doc)
                SELECT oid, @extschema@.ng_profile_document(u.id, u.profile)
                FROM @extschema@.users u WHERE u.id = i.pg_id;
                UPDATE @extschema@.users SET mongodb_profile_id = oid, profile = NULL, updated_at = date_trunc('milliseconds', now())
                WHERE id = i.pg_id;
            END IF;
        WHEN 'recipe_without_content' THEN
            IF i.pg_id = ANY (linked_recipes) THEN
                CONTINUE;
            END IF;
            action := CASE WHEN i.detail LIKE 'content not migrated%'
                           THEN 'create the content document from recipes.content'
                           ELSE 'create a placeholder content document' END;
            IF NOT dry_run THEN
                oid := coalesce(i.mongo_id::@extschema@.objectid, @extschema@.objectid_generate());
                INSERT INTO @extschema@.recipe_content (_id, doc)
                SELECT oid, @extschema@.ng_recipe_document(r) FROM @extschema@.recipes r WHERE r.id = i.pg_id;
                UPDATE @extschema@.recipes SET mongodb_recipe_id = oid, content = NULL, updated_at = date_trunc('milliseconds', now())
                WHERE id = i.pg_id;
            END IF;
        WHEN 'session_without_details' THEN
            IF i.pg_id = ANY (linked_sessions) THEN
                CONTINUE;
            END IF;
            action := 'create a detail document from the session row';
            IF NOT dry_run THEN
                oid := coalesce(i.mongo_id::@extschema@.objectid, @extschema@.objectid_generate());
                INSERT INTO @extschema@.cooking_session_details (_id, doc)
                SELECT oid, jsonb_build_object(
                    'postgresSessionId', s.id, 'postgresUserId', s.user_id, 'postgresRecipeId', s.recipe_id,
                    'sessionMetadata', jsonb_build_object('mode', s.mode, 'status', s.status,
                                                          'totalSteps', s.total_steps, 'restored', true,
                                                          'startedAt', @extschema@.ng_bson_date(s.started_at)),
                    'voiceInteractions', '[]'::jsonb, 'stepProgress', '[]'::jsonb,
                    'createdAt', @extschema@.ng_bson_date(now()), 'updatedAt', @extschema@.ng_bson_date(now()))
                FROM @extschema@.cooking_sessions s WHERE s.id = i.pg_id;
                UPDATE @extschema@.cooking_sessions SET mongodb_session_id = oid, updated_at = date_trunc('milliseconds', now())
                WHERE id = i.pg_id;
            END IF;
        WHEN 'profile_backref_mismatch' THEN
            action := format('set postgresUserId to %s', i.pg_id);
            IF NOT dry_run THEN
                UPDATE @extschema@.user_profiles SET postgres_user_id = i.pg_id, updated_at = date_trunc('milliseconds', now())
                WHERE _id = i.mongo_id::@extschema@.objectid;
            END IF;
        WHEN 'recipe_backref_mismatch' THEN
            action := format('set postgresId to %s', i.pg_id);
            IF NOT dry_run THEN
                UPDATE @extschema@.recipe_content SET postgres_id = i.pg_id, updated_at = date_trunc('milliseconds', now())
                WHERE _id = i.mongo_id::@extschema@.objectid;
            END IF;
        WHEN 'session_backref_mismatch' THEN
            action := format('set postgresSessionId to %s', i.pg_id);
            IF NOT dry_run THEN
                UPDATE @extschema@.cooking_session_details SET postgres_session_id = i.pg_id, updated_at = date_trunc('milliseconds', now())
                WHERE _id = i.mongo_id::@extschema@.objectid;
            END IF;
        ELSE
            RAISE EXCEPTION 'unexpected consistency issue "%"', i.issue USING ERRCODE = 'internal_error';
        END CASE;
        RETURN NEXT;
    END LOOP;
END
$fn$;

COMMENT ON FUNCTION ng_repair_consistency(boolean) IS 'repair what ng_check_consistency reports (link or delete orphan documents, create missing documents, fix back-references); with dry_run (the default) only report what it would do';

CREATE FUNCTION ng_recipe_document(r recipes)
RETURNS jsonb
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'postgresId', r.id, 'title', r.title,
        'description', r.content -> 'description', 'cuisine', r.content -> 'cuisine',
        'ingredients', coalesce(r.content -> 'ingredients', '[]'),
        'steps', coalesce(r.content -> 'steps', '[]'),
        'nutrition', coalesce(r.content -> 'nutrition', '{}'),
        'tags', coalesce(r.content -> 'tags', '[]'),
        'placeholder', CASE WHEN r.content IS NULL THEN true END,
        'createdAt', @extschema@.ng_bson_date(r.created_at),
        'updatedAt', @extschema@.ng_bson_date(now())))
$$;

COMMENT ON FUNCTION ng_recipe_document(recipes) IS 'a recipe_content document for a recipe row, from its PostgreSQL-first content column (or an empty placeholder)';

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
    info jsonb;
BEGIN
    SELECT * INTO q FROM @extschema@.ng_write_queue_status();
    IF srv IS NULL THEN
        mongo := jsonb_build_object('ok', false, 'error', 'not attached (run ng_attach_mongo)');
    ELSE
        SELECT database INTO db FROM @extschema@.mongo_attachment;
        BEGIN
            t0 := clock_timestamp();
            PERFORM @extschema@.ng_run_command(srv, '{"ping": 1}', db);
            mongo := jsonb_build_object('ok', true, 'server', srv, 'database', db,
                'latencyMs', round(extract(epoch FROM clock_timestamp() - t0) * 1000, 3));
            info := @extschema@.ng_run_command(srv, '{"buildInfo": 1}', db);
            mongo := mongo || jsonb_build_object('version', info ->> 'version');
        EXCEPTION WHEN OTHERS THEN
            mongo := jsonb_build_object('ok', false, 'server', srv, 'database', db, 'error', SQLERRM,
                                        'sqlstate', SQLSTATE);
        END;
    END IF;
    t0 := clock_timestamp();
    PERFORM 1 FROM @extschema@.users LIMIT 1;
    RETURN jsonb_build_object(
        'status', CASE WHEN (mongo ->> 'ok')::boolean AND q.dead_letters = 0 THEN 'ok' ELSE 'degraded' END,
        'postgresql', jsonb_build_object('ok', true, 'version', current_setting('server_version'),
            'latencyMs', round(extract(epoch FROM clock_timestamp() - t0) * 1000, 3)),
        'mongodb', mongo,
        'writeQueue', jsonb_build_object('pending', q.pending,
            'oldestAgeSeconds', round(extract(epoch FROM q.oldest_age)::numeric, 3),
            'lastError', q.last_error, 'deadLetters', q.dead_letters),
        'cache', (SELECT jsonb_build_object('enabled', c.enabled, 'entries', c.entries,
                      'hits', c.hits, 'misses', c.misses, 'invalidations', c.invalidations)
                  FROM @extschema@.ng_cache_stats() c));
END
$fn$;

COMMENT ON FUNCTION ng_health() IS 'health of both stores: reachability, round-trip latency and versions, MongoDB write-queue backlog and dead letters, document cache hits and misses; "status" is ok or degraded';

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

-- -------------------------------------------------------------- demo data

CREATE FUNCTION ng_seed_demo(users int, recipes int, sessions int)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, @extschema@, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    ubase bigint;
    user_ids bigint[];
    recipe_ids bigint[];
    nratings int;
    nentries int;
    nsessions int;
    nchefs int;
    base_ts constant timestamptz := '2026-01-05 07:00:00+00';
BEGIN
    PERFORM @extschema@.ng_require_mongo();
    IF users NOT BETWEEN 1 AND 100000 OR recipes NOT BETWEEN 1 AND 100000 OR sessions NOT BETWEEN 0 AND 100000 THEN
        RAISE EXCEPTION 'users and recipes must be between 1 and 100000, sessions between 0 and 100000'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- AI chefs (fixed ids: seeding again keeps them)
    -- (NOT EXISTS rather than ON CONFLICT DO NOTHING: a multi-row ON
    -- CONFLICT on a foreign table crashes the engine, see the report)
    INSERT INTO @extschema@.chef_personalities (_id, doc)
    SELECT v.id, v.doc::jsonb FROM (VALUES
      ('chef_maria', '{"name": "Maria", "style": "warm and encouraging", "cuisines": ["italian", "mediterranean"],
        "greeting": "Ciao! Let''s cook something simple and delicious.",
        "adaptiveResponses": [{"trigger": "user_struggling", "response": "No worries, we can slow down. Tell me when you are ready."},
                              {"trigger": "step_completed", "response": "Perfetto! On to the next step."},
                              {"trigger": "substitution", "response": "Good idea, that works just as well."}],
        "voice": {"pace": "slow", "tone": "friendly"}}'),
      ('chef_kenji', '{"name": "Kenji", "style": "precise and calm", "cuisines": ["japanese", "asian"],
        "greeting": "Welcome. Mise en place first, then we begin.",
        "adaptiveResponses": [{"trigger": "user_struggling", "response": "Breathe. Read the step again, one motion at a time."},
                              {"trigger": "step_completed", "response": "Clean work. Next."},
                              {"trigger": "timer", "response": "I will tell you when the time is up."}],
        "voice": {"pace": "medium", "tone": "calm"}}'),
      ('chef_lena', '{"name": "Lena", "style": "energetic, nutrition-focused", "cuisines": ["healthy", "vegan"],
        "greeting": "Hi! Ready for something tasty and good for you?",
        "adaptiveResponses": [{"trigger": "user_struggling", "response": "You have got this! Want a shortcut?"},
                              {"trigger": "step_completed", "response": "Great job, that is the protein sorted!"},
                              {"trigger": "nutrition_question", "response": "Let me pull up the macros for you."}],
        "voice": {"pace": "fast", "tone": "upbeat"}}')) v(id, doc)
    WHERE NOT EXISTS (SELECT FROM @extschema@.chef_personalities c WHERE c._id = v.id);
    SELECT count(*) INTO nchefs FROM @extschema@.chef_personalities;

    -- users: the AFTER INSERT trigger creates their profile documents
    SELECT coalesce(max(id), 0) INTO ubase FROM @extschema@.users;
    WITH ins AS (
        INSERT INTO @extschema@.users (email, password_hash, nickname, first_name, last_name,
                                       date_of_birth, gender, height_cm, weight_kg, profile)
        SELECT format('%s.%s%s@demo.nutragenie.app', lower(fn), lower(ln), ubase + g),
               'demo$' || md5('demo' || (ubase + g)), lower(fn) || (ubase + g), fn, ln,
               date '1970-01-01' + ((g * 397) % 12000), (ARRAY['female', 'male', 'other'])[1 + g % 3],
               150 + (g * 7) % 45, 50 + (g * 11) % 50,
               jsonb_build_object(
                   'dietaryProfile', jsonb_build_object(
                       'dietType', (ARRAY['omnivore', 'vegetarian', 'vegan', 'pescatarian', 'keto'])[1 + g % 5],
                       'allergies', (ARRAY['[]', '["peanuts"]', '["gluten"]', '[]', '["lactose", "shellfish"]']::jsonb[])[1 + g % 5],
                       'calorieTarget', 1600 + (g % 8) * 100),
                   'cookingProfile', jsonb_build_object(
                       'skillLevel', (ARRAY['beginner', 'intermediate', 'advanced'])[1 + g % 3],
                       'favoriteCuisines', (ARRAY['["italian"]', '["japanese", "thai"]', '["mexican"]', '["indian", "vegan"]']::jsonb[])[1 + g % 4],
                       'preferredChef', (ARRAY['chef_maria', 'chef_kenji', 'chef_lena'])[1 + g % 3]))
        FROM generate_series(1, users) g,
             LATERAL (SELECT (ARRAY['Ana', 'Ben', 'Chloe', 'Dev', 'Emma', 'Farid', 'Grace', 'Hiro', 'Ines', 'Jonas'])[1 + g % 10] AS fn,
                             (ARRAY['Silva', 'Novak', 'Okafor', 'Tanaka', 'Meyer', 'Rossi', 'Kaur'])[1 + (g * 3) % 7] AS ln) names
        ORDER BY g
        RETURNING id)
    SELECT array_agg(id ORDER BY id) INTO user_ids FROM ins;

    INSERT INTO @extschema@.nutrition_goals (user_id, calories, protein_g, carbs_g, fat_g, valid_from)
    SELECT u, 1600 + (o % 8) * 100, 60 + o % 60, 180 + o % 100, 50 + o % 30, date '2026-01-01'
    FROM unnest(user_ids) WITH ORDINALITY x(u, o);

    -- recipes: rows, then their content documents in one statement
    WITH src AS (
        SELECT g, (ARRAY['Overnight oats', 'Lentil soup', 'Chicken stir-fry', 'Greek salad', 'Salmon bowl',
                         'Veggie chili', 'Banana pancakes', 'Tofu curry', 'Shakshuka', 'Miso ramen',
                         'Quinoa salad', 'Beef tacos'])[1 + (g - 1) % 12] AS dish
        FROM generate_series(1, recipes) g),
    ins AS (
        INSERT INTO @extschema@.recipes (title, category, difficulty_level, prep_time_minutes, cook_time_minutes,
                                         servings, created_by, mongodb_recipe_id)
        SELECT CASE WHEN recipes > 12 THEN dish || ' #' || g ELSE dish END,
               (ARRAY['breakfast', 'lunch', 'dinner', 'snack'])[1 + g % 4], 1 + g % 5,
               5 + (g * 7) % 25, (g * 13) % 45, 1 + g % 4,
               user_ids[1 + g % array_length(user_ids, 1)], @extschema@.objectid_generate()
        FROM src ORDER BY g
        RETURNING id, title, mongodb_recipe_id)
    INSERT INTO @extschema@.recipe_content (_id, doc)
    SELECT ins.mongodb_recipe_id, jsonb_build_object(
        'postgresId', ins.id, 'title', ins.title,
        'description', format('A %s take on %s, ready in under an hour.',
                              (ARRAY['quick', 'classic', 'light', 'hearty'])[1 + k % 4], lower(ins.title)),
        'cuisine', (ARRAY['international', 'italian', 'japanese', 'mexican', 'indian', 'mediterranean'])[1 + k % 6],
        'ingredients', jsonb_build_array(
            jsonb_build_object('name', (ARRAY['oats', 'lentils', 'chicken breast', 'feta', 'salmon', 'beans'])[1 + k % 6],
                               'quantity', 100 + (k * 17) % 200, 'unit', 'g'),
            jsonb_build_object('name', (ARRAY['onion', 'tomato', 'spinach', 'pepper'])[1 + k % 4],
                               'quantity', 1 + k % 3, 'unit', 'piece'),
            jsonb_build_object('name', 'olive oil', 'quantity', 1, 'unit', 'tbsp')),
        'steps', (SELECT jsonb_agg(jsonb_build_object('order', s, 'instruction', instr, 'durationMinutes', 2 + (k + s) % 8) ORDER BY s)
                  FROM unnest(ARRAY['Prepare and measure the ingredients.', 'Heat the pan with the oil.',
                                    'Cook the main ingredient until done.', 'Add the vegetables and season.',
                                    'Plate and serve.']) WITH ORDINALITY t(instr, s)
                  WHERE s <= 3 + k % 3),
        'nutrition', jsonb_build_object('calories', 250 + (k * 37) % 500, 'protein_g', 5 + (k * 13) % 40,
                                        'carbs_g', 10 + (k * 7) % 60, 'fat_g', 3 + (k * 5) % 25),
        'tags', (ARRAY['["vegan", "quick"]', '["high-protein"]', '["gluten-free"]', '["comfort-food", "batch-cooking"]']::jsonb[])[1 + k % 4],
        'createdAt', @extschema@.ng_bson_date(base_ts), 'updatedAt', @extschema@.ng_bson_date(base_ts))
    FROM ins, LATERAL (SELECT (ins.id % 1000)::int AS k) kk;
    SELECT array_agg(id ORDER BY id) INTO recipe_ids
    FROM (SELECT id FROM @extschema@.recipes ORDER BY id DESC LIMIT recipes) r;

    -- ratings: about a third of (user, recipe) pairs, skewed so that some
    -- recipes are clearly popular; one statement (the trigger refreshes
    -- aggregates and analytics per recipe)
    INSERT INTO @extschema@.recipe_ratings (user_id, recipe_id, rating, review)
    SELECT u, r, least(5, 1 + (uo + ro * ro) % 5 + CASE WHEN ro % 4 = 1 THEN 2 ELSE 0 END),
           CASE WHEN (uo + ro) % 4 = 0 THEN (ARRAY['Loved it!', 'Easy and tasty.', 'Too salty for me.', 'Will cook again.'])[1 + (uo * ro) % 4] END
    FROM unnest(user_ids) WITH ORDINALITY a(u, uo), unnest(recipe_ids) WITH ORDINALITY b(r, ro)
    WHERE (uo * 7 + ro * 3) % 3 = 0
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS nratings = ROW_COUNT;

    -- a week of meals per user, through ng_log_nutrition
    SELECT @extschema@.ng_log_nutrition(jsonb_agg(jsonb_build_object(
               'userId', u, 'date', date '2026-01-05' + d, 'mealType', meal,
               'foodName', (ARRAY['Oatmeal', 'Chicken salad', 'Pasta', 'Apple', 'Rice bowl', 'Yogurt'])[1 + (uo + d + mo) % 6],
               'calories', 200 + ((uo * 31 + d * 17 + mo * 53) % 600),
               'proteinG', 5 + (uo + d * 3 + mo) % 40, 'carbsG', 10 + (uo * 2 + d + mo * 5) % 80,
               'fatG', 2 + (uo + d + mo * 3) % 30) ORDER BY u, d, mo))
    INTO nentries
    FROM unnest(user_ids) WITH ORDINALITY a(u, uo), generate_series(0, 6) d,
         unnest(ARRAY['breakfast', 'lunch', 'dinner']) WITH ORDINALITY m(meal, mo);

    -- cooking sessions with their voice logs
    WITH src AS (
        SELECT s, user_ids[1 + s % array_length(user_ids, 1)] AS u,
               recipe_ids[1 + (s * 3) % array_length(recipe_ids, 1)] AS r,
               base_ts + s * interval '3 hours' AS started,
               CASE WHEN s % 5 = 0 THEN 'active' WHEN s % 7 = 0 THEN 'abandoned' ELSE 'completed' END AS status,
               (ARRAY['voice', 'voice', 'guided', 'manual'])[1 + s % 4] AS mode,
               2 + s % 5 AS nvoice
        FROM generate_series(1, sessions) s),
    ins AS (
        INSERT INTO @extschema@.cooking_sessions (user_id, recipe_id, mode, status, started_at, ended_at,
                                                  total_steps, steps_completed, voice_interactions,
                                                  duration_seconds, mongodb_session_id)
        SELECT src.u, src.r, src.mode, src.status, src.started,
               CASE WHEN src.status <> 'active' THEN src.started + (15 + src.s % 40) * interval '1 minute' END,
               jsonb_array_length(c.steps),
               CASE WHEN src.status = 'completed' THEN jsonb_array_length(c.steps) ELSE 1 END,
               CASE WHEN src.mode = 'voice' THEN src.nvoice ELSE 0 END,
               CASE WHEN src.status <> 'active' THEN (15 + src.s % 40) * 60 END,
               @extschema@.objectid_generate()
        FROM src JOIN @extschema@.recipes rr ON rr.id = src.r
        LEFT JOIN @extschema@.recipe_content c ON c._id = rr.mongodb_recipe_id
        ORDER BY src.s
        RETURNING *)
    INSERT INTO @extschema@.cooking_session_details (_id, doc)
    SELECT ins.mongodb_session_id, jsonb_build_object(
        'postgresSessionId', ins.id, 'postgresUserId', ins.user_id, 'postgresRecipeId', ins.recipe_id,
        'sessionMetadata', jsonb_strip_nulls(jsonb_build_object(
            'mode', ins.mode, 'status', ins.status, 'totalSteps', ins.total_steps,
            'device', (ARRAY['smart-speaker', 'phone', 'tablet'])[1 + ins.id % 3],
            'startedAt', @extschema@.ng_bson_date(ins.started_at),
            'endedAt', CASE WHEN ins.ended_at IS NOT NULL THEN @extschema@.ng_bson_date(ins.ended_at) END)),
        'voiceInteractions', coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                'seq', v, 'at', @extschema@.ng_bson_date(ins.started_at + v * interval '2 minutes'),
                'command', (ARRAY['next step', 'repeat that', 'set a timer', 'how much salt?', 'what can I use instead of butter?'])[1 + (ins.id + v) % 5],
                'response', (ARRAY['Moving on.', 'Sure, here it is again.', 'Timer set for 5 minutes.', 'A pinch is enough.', 'Olive oil works well.'])[1 + (ins.id + v) % 5],
                'step', least(v, greatest(ins.total_steps, 1)), 'durationMs', 800 + (ins.id * v * 37) % 2000) ORDER BY v)
            FROM generate_series(1, ins.voice_interactions) v), '[]'),
        'stepProgress', coalesce((
            SELECT jsonb_agg(jsonb_build_object('step', st, 'completedAt',
                                                @extschema@.ng_bson_date(ins.started_at + st * interval '4 minutes')) ORDER BY st)
            FROM generate_series(1, ins.steps_completed) st), '[]'),
        'summary', CASE WHEN ins.status = 'completed' THEN jsonb_build_object(
            'durationSeconds', ins.duration_seconds, 'voiceInteractions', ins.voice_interactions,
            'stepsCompleted', ins.steps_completed, 'totalSteps', ins.total_steps, 'completionRate', 1.0) END,
        'createdAt', @extschema@.ng_bson_date(ins.started_at), 'updatedAt', @extschema@.ng_bson_date(ins.started_at))
    FROM ins;
    GET DIAGNOSTICS nsessions = ROW_COUNT;

    RETURN jsonb_build_object('users', array_length(user_ids, 1), 'recipes', array_length(recipe_ids, 1),
                              'ratings', nratings, 'nutritionEntries', nentries,
                              'cookingSessions', nsessions, 'chefs', nchefs);
END
$fn$;

COMMENT ON FUNCTION ng_seed_demo(int, int, int) IS 'add realistic, deterministic demo data to both stores: users with profiles, goals and a week of meals, recipes with content and ratings, cooking sessions with voice logs, AI chefs; returns the counts';

-- -------------------------------------------------------------- migration

CREATE PROCEDURE ng_migrate_to_mongo(batch_size int DEFAULT 1000)
LANGUAGE plpgsql
-- no SET clause: a procedure with one cannot COMMIT; names are qualified
AS $fn$
DECLARE
    total_r bigint;
    total_u bigint;
    done_r bigint := 0;
    done_u bigint := 0;
    n bigint;
BEGIN
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
        TRUNCATE ng_migration_batch;
        INSERT INTO ng_migration_batch
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
        WHERE c._id OPERATOR(@extschema@.=) ANY (ARRAY(SELECT b.oid FROM ng_migration_batch b));
        INSERT INTO @extschema@.recipe_content (_id, doc) SELECT b.oid, b.doc FROM ng_migration_batch b;
        UPDATE @extschema@.recipes r SET mongodb_recipe_id = b.oid, content = NULL, updated_at = date_trunc('milliseconds', now())
        FROM ng_migration_batch b WHERE r.id = b.id;
        COMMIT;
        done_r := done_r + n;
        RAISE NOTICE 'recipes: % of % migrated', done_r, total_r;
    END LOOP;

    LOOP
        TRUNCATE ng_migration_batch;
        INSERT INTO ng_migration_batch
        SELECT u.id, coalesce(u.mongodb_profile_id, @extschema@.objectid_generate()),
               @extschema@.ng_profile_document(u.id, u.profile)
        FROM @extschema@.users u
        WHERE u.profile IS NOT NULL OR u.mongodb_profile_id IS NULL
        ORDER BY u.id LIMIT batch_size
        FOR UPDATE;
        GET DIAGNOSTICS n = ROW_COUNT;
        EXIT WHEN n = 0;
        DELETE FROM @extschema@.user_profiles p
        WHERE p._id OPERATOR(@extschema@.=) ANY (ARRAY(SELECT b.oid FROM ng_migration_batch b));
        INSERT INTO @extschema@.user_profiles (_id, doc) SELECT b.oid, b.doc FROM ng_migration_batch b;
        UPDATE @extschema@.users u SET mongodb_profile_id = b.oid, profile = NULL, updated_at = date_trunc('milliseconds', now())
        FROM ng_migration_batch b WHERE u.id = b.id;
        COMMIT;
        done_u := done_u + n;
        RAISE NOTICE 'user profiles: % of % migrated', done_u, total_u;
    END LOOP;
    DROP TABLE ng_migration_batch;
    RAISE NOTICE 'migration complete: % recipes, % user profiles', done_r, done_u;
END
$fn$;

COMMENT ON PROCEDURE ng_migrate_to_mongo(int) IS 'move recipe content (recipes.content) and user profiles (users.profile) of a PostgreSQL-first deployment into MongoDB, batch by batch (one transaction each, resumable, idempotent), reporting progress as NOTICEs';
