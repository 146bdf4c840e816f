#!/usr/bin/env bash
# A MongoDB server restart between queries is survived by reconnecting; a
# stopped server is a clear connection error, never an empty result; a
# PostgreSQL restart needs nothing special.
source "$(dirname "$0")/lib/common.bash"

is_stack_mongo || { echo "MONGODB_URI is an external server: cannot restart it"; exit 77; }

make_server ng_restart "$MONGODB_URI"
q <<'SQL' >/dev/null
DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('ng_restart', '{"drop": "restart_docs"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;
SELECT nutragenie_fdw.run_command('ng_restart', '{"insert": "restart_docs", "documents": [{"_id": 1}, {"_id": 2}, {"_id": 3}]}');
CREATE FOREIGN TABLE IF NOT EXISTS restart_t (_id int) SERVER ng_restart OPTIONS (collection 'restart_docs');
SQL

# One session across restarts of the MongoDB server.
out=$(q -v VERBOSITY=verbose <<SQL 2>&1
SET nutragenie.connect_timeout = 2000;
SELECT 'first', count(*) FROM restart_t;
\\! bash test/stack restart-mongo >/dev/null 2>&1
SELECT 'after-restart', count(*) FROM restart_t;
\\! bash test/stack restart-mongo --kill >/dev/null 2>&1
SELECT 'after-kill', count(*) FROM restart_t;
\\! bash test/stack stop-mongo >/dev/null 2>&1
\\set ON_ERROR_STOP 0
SELECT 'while-down', count(*) FROM restart_t;
\\set ON_ERROR_STOP 1
SELECT server_name, valid FROM nutragenie_fdw.connections() WHERE server_name = 'ng_restart';
\\! bash test/stack start-mongo >/dev/null 2>&1
SELECT 'back', count(*) FROM restart_t;
SQL
) || { bash test/stack start-mongo >/dev/null 2>&1 || true; fail "restart session failed: $out"; }
bash test/stack start-mongo >/dev/null 2>&1 || true

for want in 'first|3' 'after-restart|3' 'after-kill|3' 'back|3'; do
    grep -qx "$want" <<<"$out" || fail "expected '$want' in: $out"
done
grep -q 'while-down' <<<"$out" && fail "a query on a stopped server returned rows: $out"
grep -q 'HV00N' <<<"$out" || fail "a stopped server should be HV00N: $out"
grep -qx 'ng_restart|f' <<<"$out" || fail "the failed connection should be listed as not valid: $out"
ok "restarts survived, outage reported as HV00N"

# PostgreSQL restart: a new backend simply connects again.
bash test/stack restart-pg -m immediate >/dev/null 2>&1 || fail "could not restart PostgreSQL"
[[ $(q -c "SELECT count(*) FROM restart_t") == 3 ]] || fail "no rows after a PostgreSQL restart"
ok "PostgreSQL restart"

q -c "SELECT nutragenie_fdw.run_command('ng_restart', '{\"drop\": \"restart_docs\"}')" >/dev/null
q -c "SET client_min_messages = warning; DROP SERVER ng_restart CASCADE"
