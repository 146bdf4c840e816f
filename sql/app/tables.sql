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
-- emails are unique up to case (ng_verify_login finds exactly one user)
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
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
