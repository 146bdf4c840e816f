#!/usr/bin/env bash
# An unreachable or silent server fails within the configured timeout with
# fdw_unable_to_establish_connection; a server that stops answering in the
# middle of a session fails within the socket timeout, and the session
# reconnects once it answers again.
source "$(dirname "$0")/lib/common.bash"

# 1. A server that accepts TCP connections and never says a word.
port=$(free_port)
timeout 120 python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(64)
held = []
while True:
    c, _ = s.accept()
    held.append(c)
' "$port" &
silent=$!
trap 'kill $silent 2>/dev/null || true' EXIT
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

make_server ng_silent "mongodb://127.0.0.1:$port/?connectTimeoutMS=1000&serverSelectionTimeoutMS=1000"
q -c "ALTER USER MAPPING FOR CURRENT_USER SERVER ng_silent OPTIONS (ADD username 'app', ADD password 'sekrit')"
q -c "CREATE FOREIGN TABLE IF NOT EXISTS ng_silent_t (_id int) SERVER ng_silent"
t0=$(now_ms)
out=$(q -v VERBOSITY=verbose -c "SELECT * FROM ng_silent_t" 2>&1) && fail "query on a silent server succeeded: $out"
elapsed=$(( $(now_ms) - t0 ))
grep -q 'HV00N' <<<"$out" || fail "silent server: expected SQLSTATE HV00N, got: $out"
grep -q 'could not connect to MongoDB server "ng_silent"' <<<"$out" || fail "silent server: unclear message: $out"
grep -q 'sekrit' <<<"$out" && fail "the password leaked into the message: $out"
((elapsed < 15000)) || fail "silent server: took ${elapsed} ms with a 1000 ms timeout"
ok "silent server refused in ${elapsed} ms (timeout 1000 ms)"

# 2. Nothing listening at all.
dead=$(free_port)
make_server ng_dead "mongodb://127.0.0.1:$dead/?connectTimeoutMS=1000&serverSelectionTimeoutMS=1000"
q -c "CREATE FOREIGN TABLE IF NOT EXISTS ng_dead_t (_id int) SERVER ng_dead"
t0=$(now_ms)
out=$(q -v VERBOSITY=verbose -c "SELECT * FROM ng_dead_t" 2>&1) && fail "query on a closed port succeeded"
elapsed=$(( $(now_ms) - t0 ))
grep -q 'HV00N' <<<"$out" || fail "closed port: expected HV00N, got: $out"
((elapsed < 15000)) || fail "closed port: took ${elapsed} ms"
ok "closed port refused in ${elapsed} ms"

# 3. The real server freezes mid-session (SIGSTOP): the socket timeout
#    bounds the wait; after SIGCONT the same session reconnects.
if is_stack_mongo; then
    pid=$(cat "$NG_STACK_DIR/mongo/pid")
    make_server ng_live "$MONGODB_URI"
    q -c "SELECT nutragenie_fdw.run_command('ng_live', '{\"insert\": \"frozen\", \"documents\": [{\"_id\": 1}]}')" >/dev/null
    q -c "CREATE FOREIGN TABLE IF NOT EXISTS ng_live_t (_id int) SERVER ng_live OPTIONS (collection 'frozen')"
    out=$(q -v VERBOSITY=verbose <<SQL 2>&1
SET nutragenie.socket_timeout = 1500;
SET nutragenie.connect_timeout = 1500;
SELECT 'before', count(*) FROM ng_live_t;
\\! kill -STOP $pid; for i in \$(seq 100); do grep -q '^State:[[:space:]]*T' /proc/$pid/status && break; sleep 0.05; done
\set ON_ERROR_STOP 0
SELECT 'frozen', count(*) FROM ng_live_t;
\set ON_ERROR_STOP 1
\\! kill -CONT $pid
SELECT 'after', count(*) FROM ng_live_t;
SQL
    ) || { kill -CONT "$pid"; fail "freeze session failed: $out"; }
    kill -CONT "$pid" 2>/dev/null || true
    grep -q '^before|1$' <<<"$out" || fail "no result before the freeze: $out"
    grep -q 'HV00N' <<<"$out" || fail "frozen server: expected HV00N: $out"
    grep -q '^after|1$' <<<"$out" || fail "no reconnect after the freeze: $out"
    ok "frozen server: error within the socket timeout, then reconnected"
    q -c "SELECT nutragenie_fdw.run_command('ng_live', '{\"drop\": \"frozen\"}')" >/dev/null
else
    echo "skipping the freeze case: MONGODB_URI is an external server"
fi

q -c "DROP SERVER ng_silent, ng_dead CASCADE; DROP SERVER IF EXISTS ng_live CASCADE" 2>/dev/null
