#!/usr/bin/env bash
# Real authentication, on FerretDB 2 with authentication on (the suite's own
# FerretDB 2 runs without it): a user made with the createUser command logs
# in with the right password from a user mapping; a wrong password is
# SQLSTATE HV00N; a mapping without credentials gets no data; a non-superuser
# needs a password in the mapping (password_required) and gets in with one.
# Skipped (77) unless the stack's server is FerretDB 2 on DocumentDB
# (NG_SERVER=documentdb): FerretDB 1.24 has no authentication.
source "$(dirname "$0")/lib/common.bash"

mg=$NG_STACK_DIR/mongo
if [[ $(cat "$mg/kind" 2>/dev/null) != documentdb || -e $mg/external ]]; then
    echo "the stack's server is not FerretDB 2 on DocumentDB: no authentication to test"
    exit 77
fi
bin=${NG_FERRETDB2_BIN:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/nutragenie/ferretdb2}
[[ -x $bin ]] || fail "FerretDB 2 ($bin) is missing"
docdb_url=$(<"$mg/docdb_url")

user=ng_auth_user
pass='right-pass'
state=$(mktemp -d /tmp/ng-auth.XXXXXX)
pid=
drop_objects() {
    q >/dev/null 2>&1 <<'SQL' || true
SET client_min_messages = warning;
DROP SERVER IF EXISTS ng_auth CASCADE;
DO $$ BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'ng_auth_plain') THEN
    DROP OWNED BY ng_auth_plain;
    DROP ROLE ng_auth_plain;
  END IF;
END $$;
SQL
}
cleanup() {
    [[ -z $pid ]] || { kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; } || true
    q -c "SELECT nutragenie_fdw.run_command('ng_auth_admin', '{\"dropUser\": \"$user\"}', 'admin')" >/dev/null 2>&1 || true
    drop_objects
    q -c "SET client_min_messages = warning; DROP SERVER IF EXISTS ng_auth_admin CASCADE" >/dev/null 2>&1 || true
    rm -rf "$state"
}
trap cleanup EXIT
drop_objects

# The user, made through the suite's FerretDB 2 (no authentication there).
make_server ng_auth_admin "$MONGODB_URI"
q -c "SELECT nutragenie_fdw.run_command('ng_auth_admin', '{\"dropUser\": \"$user\"}', 'admin')" >/dev/null 2>&1 || true
q -c "SELECT nutragenie_fdw.run_command('ng_auth_admin', '{\"createUser\": \"$user\", \"pwd\": \"$pass\", \"roles\": [{\"role\": \"readWriteAnyDatabase\", \"db\": \"admin\"}]}', 'admin')->>'ok'" \
    | grep -qx 1 || fail "createUser failed"
ok "user $user created with createUser"

# A second FerretDB 2 on the same DocumentDB, with authentication.
port=$(free_port)
"$bin" --postgresql-url="$docdb_url" --listen-addr="127.0.0.1:$port" --auth \
    --debug-addr= --telemetry=disable --log-level=WARN --state-dir "$state" \
    </dev/null >"$state/log" 2>&1 &
pid=$!
for ((i = 0; i < 300; i++)); do
    timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$port" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || fail "FerretDB 2 with authentication exited: $(cat "$state/log")"
    sleep 0.1
done
uri="mongodb://127.0.0.1:$port/?connectTimeoutMS=3000&serverSelectionTimeoutMS=3000"

out=$(q -v uri="$uri" -v user="$user" -v pass="$pass" 2>&1 <<'SQL'
SET client_min_messages = warning;
CREATE SERVER ng_auth FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (uri :'uri', database 'ng_auth');
CREATE USER MAPPING FOR CURRENT_USER SERVER ng_auth OPTIONS (username :'user', password :'pass');
CREATE FOREIGN TABLE ng_auth_t (_id int, v text) SERVER ng_auth OPTIONS (collection 'auth_docs');
DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('ng_auth', '{"drop": "auth_docs"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;
INSERT INTO ng_auth_t VALUES (1, 'one'), (2, 'two');
SELECT 'right', count(*) FROM ng_auth_t;
SQL
) || fail "the right password did not work: $out"
grep -qx 'right|2' <<<"$out" || fail "expected 2 rows with the right password: $out"
ok "the right password reads and writes"

# A wrong password: HV00N, and no rows.
out=$(q -v VERBOSITY=verbose -c "ALTER USER MAPPING FOR CURRENT_USER SERVER ng_auth OPTIONS (SET password 'wrong-pass')" \
        -c "SELECT 'wrong', count(*) FROM ng_auth_t" 2>&1) && fail "a wrong password was accepted: $out"
grep -q 'HV00N' <<<"$out" || fail "a wrong password should be SQLSTATE HV00N: $out"
grep -q '^wrong' <<<"$out" && fail "a wrong password returned rows: $out"
ok "a wrong password is HV00N"

# No credentials at all: the server refuses the command, no rows.
out=$(q -v VERBOSITY=verbose -c "ALTER USER MAPPING FOR CURRENT_USER SERVER ng_auth OPTIONS (DROP username, DROP password)" \
        -c "SELECT 'anonymous', count(*) FROM ng_auth_t" 2>&1) && fail "a mapping without credentials read data: $out"
grep -qi 'authentication' <<<"$out" || fail "expected an authentication error without credentials: $out"
ok "no credentials, no data"

# A non-superuser: no password in the mapping is refused before connecting;
# with the right one it gets in.
q -v user="$user" -v pass="$pass" >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE ROLE ng_auth_plain LOGIN;
GRANT USAGE ON SCHEMA public, nutragenie TO ng_auth_plain;
GRANT USAGE ON FOREIGN SERVER ng_auth TO ng_auth_plain;
GRANT SELECT ON ng_auth_t TO ng_auth_plain;
CREATE USER MAPPING FOR ng_auth_plain SERVER ng_auth OPTIONS (username :'user');
SQL
out=$(PGUSER=ng_auth_plain q -v VERBOSITY=verbose -c "SELECT 'plain', count(*) FROM ng_auth_t" 2>&1) &&
    fail "a non-superuser without a password got in: $out"
grep -q 'password is required' <<<"$out" || fail "expected 'password is required' for a non-superuser: $out"
q -v pass="$pass" >/dev/null <<'SQL'
ALTER USER MAPPING FOR ng_auth_plain SERVER ng_auth OPTIONS (ADD password :'pass');
SQL
out=$(PGUSER=ng_auth_plain q -c "SELECT 'plain', count(*) FROM ng_auth_t" 2>&1) ||
    fail "a non-superuser with the right password was refused: $out"
grep -qx 'plain|2' <<<"$out" || fail "expected 2 rows for the non-superuser: $out"
ok "password_required holds for a non-superuser, who gets in with the password"
