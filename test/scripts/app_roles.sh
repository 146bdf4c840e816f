#!/usr/bin/env bash
# Roles as non-superusers: an application role set up with
# ng_setup_app_role(role, true) runs the services, acts only for the user in
# nutragenie_app.user_id (or for anyone when it is empty) and cannot reach
# the outbox; an analyst role set up with ng_setup_analyst_role reads the
# views (MongoDB through the views' owner) but no password hashes, chat
# messages or writes.  The grants survive ng_attach_mongo again.
source "$(dirname "$0")/lib/common.bash"
S=ng_app_roles_sh
APP=${S}_app
ANALYST=${S}_analyst
setup_domain $S 3 4 0

cleanup() {
    q >/dev/null 2>&1 <<SQL || true
SET client_min_messages = warning;
SELECT ng_setup_app_role('$APP', false) WHERE EXISTS (SELECT FROM pg_roles WHERE rolname = '$APP');
DELETE FROM role_setup WHERE role IN ('$APP', '$ANALYST');
SELECT ng_apply_role_grants();
SELECT format('DROP OWNED BY %I', rolname) FROM pg_roles WHERE rolname IN ('$APP', '$ANALYST') \\gexec
DROP ROLE IF EXISTS $APP;
DROP ROLE IF EXISTS $ANALYST;
SQL
}
cleanup
q >/dev/null <<SQL
CREATE ROLE $APP LOGIN;
CREATE ROLE $ANALYST LOGIN;
CREATE USER MAPPING FOR $APP SERVER $S OPTIONS (password_required 'false');
SELECT ng_setup_app_role('$APP', true);
SELECT ng_setup_analyst_role('$ANALYST');
SQL
trap cleanup EXIT

# as ROLE, acting for USER ('' = nobody): the last line of output
as() {
    local role=$1 user=$2; shift 2
    PGUSER=$role PGOPTIONS="-c search_path=public,nutragenie -c nutragenie_app.user_id=$user" \
        psql -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=terse "$@" 2>&1 | tail -n 1
}
expect() {  # expect WHAT PATTERN OUTPUT
    [[ $3 =~ $2 ]] || fail "$1: expected /$2/, got: $3"
    ok "$1"
}

# the application role
expect "app signs a user up (no user set)" '^[0-9]+$' \
    "$(as $APP '' -c "SELECT ng_create_user('{\"email\": \"node@example.com\", \"password\": \"long enough pw\"}')")"
NEW=$(q -c "SELECT id FROM users WHERE email = 'node@example.com'")
expect "the new user got a profile document" '^t$' \
    "$(q -c "SELECT mongodb_profile_id IS NOT NULL FROM users WHERE id = $NEW")"
expect "app verifies a login" "^$NEW\$" "$(as $APP '' -c "SELECT ng_verify_login('node@example.com', 'long enough pw')")"
expect "app rates as user 1" '"ratingCount"' "$(as $APP 1 -c "SELECT ng_rate_recipe(1, 2, 4)")"
expect "app cannot rate on behalf of user 2" 'user 2 does not exist|row-level security' \
    "$(as $APP 1 -c "SELECT ng_rate_recipe(2, 2, 4)")"
expect "nor insert a rating for user 2 directly" 'row-level security' \
    "$(as $APP 1 -c "INSERT INTO recipe_ratings (user_id, recipe_id, rating) VALUES (2, 3, 1)")"
expect "app sees only user 1's row of users" '^1$' "$(as $APP 1 -c "SELECT string_agg(id::text, ',') FROM users")"
expect "app reads no profile of user 2" '^$' "$(as $APP 1 -c "SELECT ng_user_full_profile(2)")"
expect "app records a payment for user 1" '"created": true' \
    "$(as $APP 1 -c "SELECT ng_record_payment('{\"userId\": 1, \"amount\": 3.5, \"provider\": \"p\", \"providerReference\": \"r1\"}')")"
expect "not for user 2" 'user 2 does not exist|row-level security' \
    "$(as $APP 1 -c "SELECT ng_record_payment('{\"userId\": 2, \"amount\": 3.5, \"provider\": \"p\", \"providerReference\": \"r2\"}')")"
expect "user 2 sees no payment of user 1" '^0$' "$(as $APP 2 -c "SELECT count(*) FROM payments")"
expect "nor its history" '^0$' "$(as $APP 2 -c "SELECT count(*) FROM payment_status_history")"
expect "app runs a cooking session" '"stepsCompleted": 1' "$(as $APP 1 <<'SQL'
SELECT ng_start_cooking_session(1, 1) AS s \gset
SELECT ng_log_voice_interaction(:s, '{"transcript": "done", "step": 1, "stepCompleted": true}');
SELECT ng_finish_cooking_session(:s);
SQL
)"
expect "app chats with a chef" '"reply"' "$(as $APP 1 -c "SELECT ng_chat(1, 'I am stuck')")"
expect "app gets recommendations" '^[0-9]+$' "$(as $APP 1 -c "SELECT count(*) FROM ng_recommend_recipes(1, 3)")"
expect "app creates, updates and searches recipes" '^1$' "$(as $APP 1 <<'SQL'
SELECT ng_create_recipe('{"title": "Role soup", "cuisine": "nordic"}') AS r \gset
SELECT ng_update_recipe(:r, '{"servings": 2}') IS NOT NULL;
SELECT count(*) FROM ng_search_recipes('{"cuisine": "nordic"}');
SQL
)"
expect "app cannot read the outbox" 'permission denied' "$(as $APP 1 -c "SELECT count(*) FROM nutragenie_fdw.outbox")"
expect "app cannot run MongoDB commands" 'permission denied' \
    "$(as $APP 1 -c "SELECT nutragenie_fdw.run_command('$S', '{\"ping\": 1}')")"
expect "app cannot change the setup" 'permission denied' "$(as $APP 1 -c "SELECT ng_setup_app_role('$APP', false)")"
expect "app's writes reached MongoDB" '^1$' \
    "$(q -c "SELECT count(*) FROM recipe_content WHERE title = 'Role soup' AND postgres_id IS NOT NULL")"

# the analyst role
expect "analyst reads a view across both stores" '^[1-9][0-9]*$' "$(as $ANALYST '' -c "SELECT count(*) FROM recipe_full WHERE NOT content_missing")"
expect "analyst reads users without the hash" '^[1-9][0-9]*$' "$(as $ANALYST '' -c "SELECT count(email) FROM users")"
expect "analyst cannot read password hashes" 'permission denied' "$(as $ANALYST '' -c "SELECT password_hash FROM users")"
expect "analyst cannot read chat messages" 'permission denied' "$(as $ANALYST '' -c "SELECT count(*) FROM chat_messages")"
expect "analyst cannot write" 'permission denied' "$(as $ANALYST '' -c "SELECT ng_create_recipe('{\"title\": \"x\"}')")"

# grants survive re-attaching (the foreign tables and views are recreated)
q -v srv=$S -v db=$S >/dev/null <<'SQL'
SELECT ng_attach_mongo(:'srv', :'db');
SQL
expect "app still reaches the documents" '^[1-9][0-9]*$' "$(as $APP 1 -c "SELECT count(*) FROM recipe_content")"
expect "analyst still reads the views" '^[1-9][0-9]*$' "$(as $ANALYST '' -c "SELECT count(*) FROM recipe_full")"
