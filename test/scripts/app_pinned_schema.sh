#!/usr/bin/env bash
# The app's functions find the FDW's type through the schema nutragenie_fdw
# was installed into, which is on their pinned search_path: the app refuses
# to install when a role other than that schema's owner may create objects
# there (CREATE EXTENSION nutragenie CASCADE into a world-writable public, as
# in a database upgraded from PostgreSQL 14), and installed with the FDW in a
# schema of its own a hostile role's overloads in public never run.
source "$(dirname "$0")/lib/common.bash"
DB=ng_pinned_schema_sh
H=ng_pinned_schema_hostile
cleanup() {
    psql -X -q -d postgres >/dev/null 2>&1 <<SQL || true
SET client_min_messages = warning;
DROP DATABASE IF EXISTS $DB;
DROP ROLE IF EXISTS $H;
SQL
}
cleanup
trap cleanup EXIT
psql -X -q -v ON_ERROR_STOP=1 -d postgres >/dev/null <<SQL
CREATE DATABASE $DB;
CREATE ROLE $H LOGIN;
SQL
d() { psql -X -q -At -v ON_ERROR_STOP=1 -d $DB "$@"; }

# 1. public writable by every role: the app refuses, naming the schema
d -c 'GRANT CREATE ON SCHEMA public TO PUBLIC' >/dev/null
out=$(d -v VERBOSITY=verbose -c 'CREATE EXTENSION nutragenie CASCADE' 2>&1) &&
    fail "the app installed on a world-writable schema: $out"
[[ $out == *42501* && $out == *'schema "public" of extension "nutragenie_fdw" is writable'* ]] ||
    fail "unexpected refusal: $out"
[[ $(d -c "SELECT count(*) FROM pg_extension WHERE extname = 'nutragenie'") == 0 ]] ||
    fail "the app is installed after the refusal"
ok "refused with public writable by PUBLIC"

# 2. one role (not the owner) granted CREATE: refused, naming the role
d -c 'REVOKE CREATE ON SCHEMA public FROM PUBLIC' -c "GRANT CREATE ON SCHEMA public TO $H" >/dev/null
out=$(d -c 'CREATE EXTENSION nutragenie CASCADE' 2>&1) && fail "installed with $H able to create in public"
[[ $out == *"role \"$H\" may create objects"* ]] || fail "unexpected refusal: $out"
ok "refused with one other role able to create in public"

# 3. the FDW in a schema of its own: installs; the hostile role's better
#    matching overload in (writable) public never runs for the superuser
d >/dev/null <<SQL
DROP EXTENSION IF EXISTS nutragenie_fdw CASCADE;
GRANT CREATE ON SCHEMA public TO PUBLIC;
CREATE SCHEMA mongo;
CREATE EXTENSION nutragenie_fdw SCHEMA mongo;
CREATE EXTENSION pgcrypto SCHEMA mongo;
CREATE EXTENSION nutragenie;
SQL
PGUSER=$H d >/dev/null <<'SQL'
CREATE FUNCTION public.jsonb_build_object(text, bigint) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER ROLE %I SUPERUSER', 'ng_pinned_schema_hostile');
    RETURN '{}';
END $$;
CREATE FUNCTION public.lower(text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER ROLE %I SUPERUSER', 'ng_pinned_schema_hostile');
    RETURN $1;
END $$;
SQL
d >/dev/null <<'SQL'
INSERT INTO nutragenie.users (email, password_hash, first_name, last_name)
VALUES ('pin@example.org', 'x', 'Pin', 'Test');
SELECT nutragenie.ng_set_password(u.id, 'a long password') FROM nutragenie.users u WHERE u.email = 'pin@example.org';
SQL
[[ $(d -c "SELECT rolsuper FROM pg_roles WHERE rolname = '$H'") == f ]] ||
    fail "the hostile role became superuser"
[[ $(d -c "SELECT nutragenie.ng_verify_login('pin@example.org', 'a long password') IS NOT NULL") == t ]] ||
    fail "the password was not set"
ok "FDW in its own schema: shadows in public never ran"
