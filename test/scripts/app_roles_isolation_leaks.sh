#!/usr/bin/env bash
# Review findings (FAIL on main as of b3ff3c8): an application role set up
# with ng_setup_app_role(role, true), acting for user 1, must not read or
# change user 2's data through the objects ng_setup_app_role grants it:
# the MongoDB foreign tables (no RLS), the event log (not isolated), a
# recipe of user 2 deleted with user 2's ratings, a forged payment history
# row, and an email that differs from user 2's only by case.
source "$(dirname "$0")/lib/common.bash"
S=ng_review_iso
APP=${S}_app
setup_domain $S 3 4 0
cleanup() {
    q >/dev/null 2>&1 <<SQL || true
SET client_min_messages = warning;
DELETE FROM role_setup WHERE role = '$APP';
SELECT ng_apply_role_grants();
SELECT format('DROP OWNED BY %I', rolname) FROM pg_roles WHERE rolname = '$APP' \\gexec
DROP ROLE IF EXISTS $APP;
SQL
}
cleanup
q >/dev/null <<SQL
CREATE ROLE $APP LOGIN;
CREATE USER MAPPING FOR $APP SERVER $S OPTIONS (password_required 'false');
SELECT ng_setup_app_role('$APP', true);
SELECT ng_set_password(2, 'victim password');
SQL
trap cleanup EXIT
as() { local role=$1 user=$2; shift 2
    PGUSER=$role PGOPTIONS="-c search_path=public,nutragenie -c nutragenie_app.user_id=$user" \
        psql -X -q -At -v VERBOSITY=terse "$@" 2>&1 | tail -n 1; }
failed=0
expect() { if [[ $3 =~ $2 ]]; then ok "$1"; else printf 'FAIL: %s\n' "$1: expected /$2/, got: $3" >&2; failed=$((failed + 1)); fi; }

expect "user 1 reads no profile document of user 2" '^(0|.*permission denied.*)$' \
    "$(as $APP 1 -c "SELECT count(*) FROM user_profiles WHERE postgres_user_id = 2")"
expect "user 1 reads no behaviour document of user 2" '^(0|.*permission denied.*)$' \
    "$(as $APP 1 -c "SELECT count(*) FROM user_behavior WHERE _id = 2")"
as $APP 2 -c "SELECT ng_record_payment('{\"userId\": 2, \"amount\": 12.5, \"provider\": \"p\", \"providerReference\": \"r2\"}')" >/dev/null
expect "user 1 reads no event of user 2" '^(0|.*permission denied.*)$' \
    "$(as $APP 1 -c "SELECT count(*) FROM ng_events(0, 10000) WHERE payload ->> 'userId' = '2'")"
expect "user 1 deletes no event of user 2" '^(0|.*permission denied.*)$' \
    "$(as $APP 1 -c "WITH d AS (DELETE FROM event_log WHERE payload ->> 'userId' = '2' RETURNING 1) SELECT count(*) FROM d")"
R=$(q -c "SELECT min(r.id) FROM recipes r JOIN recipe_ratings rr ON rr.recipe_id = r.id AND rr.user_id = 2 WHERE r.created_by IS DISTINCT FROM 1")
as $APP 1 -c "SELECT ng_delete_recipe($R)" >/dev/null || true
expect "user 1 cannot delete recipe $R (and user 2's rating of it)" '^1$' \
    "$(q -c "SELECT count(*) FROM recipe_ratings WHERE recipe_id = $R AND user_id = 2")"
P=$(as $APP 1 -c "SELECT ng_record_payment('{\"userId\": 1, \"amount\": 3, \"provider\": \"p\", \"providerReference\": \"r1\", \"status\": \"succeeded\"}') ->> 'paymentId'")
expect "user 1 cannot write payment history rows" 'permission denied|row-level security|cannot' \
    "$(as $APP 1 -c "INSERT INTO payment_status_history (payment_id, from_status, to_status, changed_by) VALUES ($P, 'succeeded', 'refunded', 'postgres')")"
as $APP 1 -c "SELECT ng_update_user(1, jsonb_build_object('email', upper((SELECT 'chloe.kaur2@demo.nutragenie.app'))))" >/dev/null || true
expect "no two users share an email up to case" '^0$' \
    "$(q -c "SELECT count(*) FROM (SELECT lower(email) FROM users GROUP BY 1 HAVING count(*) > 1) d")"
# the fixes: the services still serve user 1's own documents and events
expect "user 1 changes his own profile through ng_update_user" '^\["sesame"\]$' \
    "$(as $APP 1 -c "SELECT ng_update_user(1, '{\"dietaryProfile\": {\"allergies\": [\"sesame\"]}}') -> 'dietaryProfile' -> 'allergies'")"
expect "user 1 cannot change user 2's profile through ng_update_user" 'user 2 does not exist' \
    "$(as $APP 1 -c "SELECT ng_update_user(2, '{\"dietaryProfile\": {\"allergies\": []}}')")"
expect "user 1 searches no recipe with user 2's profile" 'user 2 does not exist' \
    "$(as $APP 1 -c "SELECT count(*) FROM ng_search_recipes('{\"forUser\": 2}')")"
expect "user 1 reads his own payment events" '^[1-9][0-9]*$' \
    "$(as $APP 1 -c "SELECT count(*) FROM ng_events(0, 10000) WHERE payload ->> 'userId' = '1'")"
expect "user 1 reads only his events (none of no user)" '^0$' \
    "$(as $APP 1 -c "SELECT count(*) FROM event_log WHERE user_id IS DISTINCT FROM 1")"
expect "user 1 creates recipes as himself only" 'row-level security|user 2 does not exist' \
    "$(as $APP 1 -c "SELECT ng_create_recipe('{\"title\": \"Forged\", \"createdBy\": 2}')")"
expect "user 1 cannot insert events" 'permission denied' \
    "$(as $APP 1 -c "INSERT INTO event_log (event, payload, user_id) VALUES ('payment.refunded', '{\"userId\": 2}', 2)")"
expect "user 1 cannot publish events directly" 'published only by the NutraGenie services' \
    "$(as $APP 1 -c "SELECT ng_publish('payment.refunded', '{\"userId\": 2}')")"
expect "the app role cannot prune the event log" 'permission denied' \
    "$(as $APP '' -c "SELECT ng_prune_events(0)")"
expect "history rows name the session's role" "^$APP\$" \
    "$(q -c "SELECT changed_by FROM payment_status_history WHERE payment_id = $P")"
expect "a sign-up with an email taken up to case is refused naming the field" 'already exists' \
    "$(as $APP '' -c "SELECT ng_create_user('{\"email\": \"CHLOE.KAUR2@demo.nutragenie.app\", \"password\": \"long enough\"}')")"
expect "login finds exactly one user" '^2$' \
    "$(as $APP '' -c "SELECT ng_verify_login('Chloe.Kaur2@demo.nutragenie.app', 'victim password')")"
expect "a passwordHash that is not bcrypt is refused" 'field "passwordHash" of the user is not a bcrypt hash' \
    "$(as $APP '' -c "SELECT ng_create_user('{\"email\": \"new@example.com\", \"passwordHash\": \"h\"}')")"
expect "an unknown nutrition field is refused" 'protienG' \
    "$(as $APP 1 -c "SELECT ng_log_nutrition('{\"userId\": 1, \"date\": \"2026-03-01\", \"foodName\": \"Egg\", \"calories\": 70, \"protienG\": 6}')")"
expect "calories out of range names the field" 'field "calories" of entry 1 must be less than' \
    "$(as $APP 1 -c "SELECT ng_log_nutrition('{\"userId\": 1, \"date\": \"2026-03-01\", \"foodName\": \"Egg\", \"calories\": 1e7}')")"
expect "proteinG out of range names the field" 'field "proteinG" of entry 1 must be less than' \
    "$(as $APP 1 -c "SELECT ng_log_nutrition('{\"userId\": 1, \"date\": \"2026-03-01\", \"foodName\": \"Egg\", \"calories\": 70, \"proteinG\": 123456}')")"
[[ $failed -eq 0 ]] || fail "$failed isolation checks failed"
