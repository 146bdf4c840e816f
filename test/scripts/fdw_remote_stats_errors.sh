#!/usr/bin/env bash
# nutragenie_fdw.remote_stats counts failures: a scan while the MongoDB
# server is down counts one call and one error under its foreign table
# (flushed although the statement fails), and the applier's bulk writes
# that fail during the outage count as errors of the collection's writes,
# the retry after it as one more call.
source "$(dirname "$0")/lib/common.bash"

is_stack_mongo || { echo "MONGODB_URI is an external server: cannot stop it"; exit 77; }

make_server ng_rstats "$MONGODB_URI"
q <<'SQL' >/dev/null
SET client_min_messages = warning;
DO $$ BEGIN
  PERFORM nutragenie_fdw.run_command('ng_rstats', '{"drop": "rstats_docs"}');
EXCEPTION WHEN fdw_table_not_found THEN NULL;
END $$;
SELECT nutragenie_fdw.run_command('ng_rstats', '{"insert": "rstats_docs", "documents": [{"_id": 1}, {"_id": 2}]}');
DROP FOREIGN TABLE IF EXISTS rstats_t;
CREATE FOREIGN TABLE rstats_t (_id int) SERVER ng_rstats OPTIONS (collection 'rstats_docs');
SQL

stats() {
    q -c "SELECT command || ' ' || mode || ' calls=' || calls || ' documents=' || documents || ' errors=' || errors
          FROM nutragenie_fdw.remote_stats
          WHERE collection = 'ng_scripts.rstats_docs'
          ORDER BY command, mode"
}

out=$(q -v VERBOSITY=terse <<'SQL' 2>&1
SET nutragenie.connect_timeout = 1000;
SET nutragenie.commit_timeout = 0;
SELECT nutragenie_fdw.remote_stats_reset();
SELECT 'before', count(*) FROM rstats_t;
BEGIN;
INSERT INTO rstats_t VALUES (3);
\! bash test/stack stop-mongo >/dev/null 2>&1
COMMIT;
\set ON_ERROR_STOP 0
SELECT 'while-down', count(*) FROM rstats_t;
\set ON_ERROR_STOP 1
SQL
) || { bash test/stack start-mongo >/dev/null 2>&1 || true; fail "session failed: $out"; }
grep -q 'while-down' <<<"$out" && { bash test/stack start-mongo >/dev/null 2>&1 || true; fail "a query on a stopped server returned rows: $out"; }

# the applier has tried (COMMIT woke it, and returned at once) while the
# server is down
for _ in $(seq 1 300); do
    [[ $(q -c "SELECT coalesce(sum(errors), 0) FROM nutragenie_fdw.remote_stats
               WHERE collection = 'ng_scripts.rstats_docs' AND mode = 'applier'") -ge 1 ]] && break
    sleep 0.2
done
bash test/stack start-mongo >/dev/null 2>&1 || fail "could not start MongoDB again"
wait_queue_empty 60 || fail "the queued insert was not applied after the outage"

s=$(stats)
# the pushed aggregate count(*): one before the outage (no error), one during it (an error)
grep -qx 'aggregate pushed calls=2 documents=1 errors=1' <<<"$s" || fail "the failed scan is not counted: $s"
ok "a scan failing while the server is down counts a call and an error"
line=$(grep '^insert applier' <<<"$s") || fail "no applier insert counted: $s"
[[ $line =~ calls=([0-9]+)\ documents=([0-9]+)\ errors=([0-9]+) ]] || fail "unexpected line: $line"
(( BASH_REMATCH[3] >= 1 )) || fail "the applier's failed bulk write is not counted as an error: $line"
(( BASH_REMATCH[1] > BASH_REMATCH[3] && BASH_REMATCH[2] >= 1 )) || fail "the applier's calls should include the one that applied: $line"
ok "the applier counts failed bulk writes as errors, and the one that applied"

q -c "SELECT nutragenie_fdw.run_command('ng_rstats', '{\"drop\": \"rstats_docs\"}')" >/dev/null
q -c "SET client_min_messages = warning; DROP SERVER ng_rstats CASCADE"
