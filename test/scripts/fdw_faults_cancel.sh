#!/usr/bin/env bash
# statement_timeout and query cancel stop a long foreign scan promptly (the
# scan checks for interrupts after every driver call), and the session is
# usable afterwards.
source "$(dirname "$0")/lib/common.bash"

make_server ng_cancel "$MONGODB_URI"
q <<'SQL' >/dev/null
DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('ng_cancel', '{"drop": "cancel_docs"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;
SELECT nutragenie_fdw.run_command('ng_cancel',
  json_build_object('insert', 'cancel_docs',
                    'documents', (SELECT json_agg(json_build_object('_id', g, 'v', g % 7))
                                  FROM generate_series(1, 500) g))::json);
CREATE FOREIGN TABLE IF NOT EXISTS cancel_t (_id int, v int) SERVER ng_cancel
  OPTIONS (collection 'cancel_docs');
SQL

# A query that sends one keyed find per outer row: many short driver calls.
LONG="SET enable_hashjoin = off; SET enable_mergejoin = off; SET enable_material = off;
SELECT count(*) FROM generate_series(1, 10000000) g JOIN cancel_t t ON t._id = g % 500;"

# 1. statement_timeout
t0=$(now_ms)
out=$(PGOPTIONS='-c search_path=public,nutragenie -c statement_timeout=1000' \
      psql -X -q -At -v VERBOSITY=verbose -c "$LONG" 2>&1) && fail "the long query finished: $out"
elapsed=$(( $(now_ms) - t0 ))
grep -q '57014' <<<"$out" || fail "statement_timeout: expected SQLSTATE 57014, got: $out"
((elapsed < 6000)) || fail "statement_timeout of 1000 ms took ${elapsed} ms to act"
ok "statement_timeout acted after ${elapsed} ms (limit 1000 ms)"

# 2. pg_cancel_backend from another session
PGAPPNAME=ng_cancel_victim PGOPTIONS='-c search_path=public,nutragenie' \
    psql -X -q -At -v VERBOSITY=verbose -c "$LONG" >"$NG_STACK_DIR/cancel.out" 2>&1 &
victim=$!
for _ in $(seq 100); do
    n=$(q -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ng_cancel_victim' AND state = 'active'")
    [[ $n == 1 ]] && break
    sleep 0.1
done
sleep 1
t0=$(now_ms)
[[ $(q -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'ng_cancel_victim'") == t ]] \
    || fail "could not find the query to cancel"
wait "$victim" && fail "the cancelled query finished normally: $(cat "$NG_STACK_DIR/cancel.out")"
elapsed=$(( $(now_ms) - t0 ))
grep -q '57014' "$NG_STACK_DIR/cancel.out" || fail "cancel: expected 57014, got: $(cat "$NG_STACK_DIR/cancel.out")"
((elapsed < 5000)) || fail "cancel took ${elapsed} ms to act"
ok "cancel acted after ${elapsed} ms"

# 3. the connection is still good after a cancel, in the same session
out=$(PGOPTIONS='-c search_path=public,nutragenie -c statement_timeout=500' psql -X -q -At <<SQL 2>&1
\set ON_ERROR_STOP 0
$LONG
\set ON_ERROR_STOP 1
RESET statement_timeout;
SELECT 'after', count(*) FROM cancel_t;
SQL
) || true
grep -q '^after|500$' <<<"$out" || fail "the session did not recover after a timeout: $out"
ok "session usable after the timeout"

q -c "SELECT nutragenie_fdw.run_command('ng_cancel', '{\"drop\": \"cancel_docs\"}')" >/dev/null
q -c "SET client_min_messages = warning; DROP SERVER ng_cancel CASCADE"
