# Helpers shared by the scripted tests (sourced, not run).
set -euo pipefail
cd "${NG_ROOT:?run through test/run, or set NG_ROOT and the stack environment}"

fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
ok() { printf 'ok: %s\n' "$*"; }

# psql with errors fatal, unaligned, quiet; extension schema on the path.
q() { PGOPTIONS='-c search_path=public,nutragenie' psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }

psql -X -q -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION IF NOT EXISTS nutragenie' >/dev/null

# now_ms: monotonic-enough wall clock in milliseconds
now_ms() { date +%s%3N; }

# free_port: a free loopback TCP port
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# is_stack_mongo: true when MongoDB is the stack's own FerretDB (which the
# script may stop, start and freeze), false for an external MONGODB_URI.
is_stack_mongo() {
    [[ -f "$NG_STACK_DIR/mongo/pid" && ! -e "$NG_STACK_DIR/mongo/external" ]]
}

# make_server NAME URI: a server, a user mapping and nothing else
make_server() {
    q -v name="$1" -v uri="$2" <<'SQL'
SET client_min_messages = warning;
DROP SERVER IF EXISTS :"name" CASCADE;
CREATE SERVER :"name" FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (uri :'uri', database 'ng_scripts');
CREATE USER MAPPING FOR CURRENT_USER SERVER :"name";
SQL
}
