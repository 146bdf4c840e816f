#!/usr/bin/env bash
# A change that matched no document is reported only when the applier can
# know that it did not send it before.  A delete queued before a PostgreSQL
# crash may have been applied before the crash; re-sent after it, it
# matches nothing, and that is not reported.  The same delete committed
# after the restart is reported: a dead letter and a WARNING at COMMIT.
source "$(dirname "$0")/lib/common.bash"
is_stack_mongo || { echo "MONGODB_URI is an external server: cannot stop it"; exit 77; }
N=ng_unm
setup_dual $N
q -c "INSERT INTO ${N}_docs VALUES (1, 'one', 1), (2, 'two', 2), (3, 'three', 3)"
q -c "SELECT nutragenie_fdw.discard_dead_letter(id) FROM nutragenie_fdw.dead_letters WHERE collection = '$N'" >/dev/null
dead() { q -c "SELECT count(*) FROM nutragenie_fdw.dead_letters WHERE collection = '$N'"; }

# Queued with MongoDB down, its document deleted behind its back, then
# PostgreSQL crashes: after the restart the delete matches nothing.
out=$(q <<SQL 2>&1
SET nutragenie.commit_timeout = 500;
BEGIN;
DELETE FROM ${N}_docs WHERE _id = 1;
SELECT nutragenie_fdw.run_command('$N', '{"delete": "$N", "deletes": [{"q": {"_id": 1}, "limit": 1}]}')->>'n';
\\! bash test/stack stop-mongo >/dev/null 2>&1
COMMIT;
SQL
) || { bash test/stack start-mongo >/dev/null 2>&1; fail "the transaction failed: $out"; }
grep -q 'has not applied' <<<"$out" || { bash test/stack start-mongo >/dev/null 2>&1; fail "expected the change to stay queued: $out"; }
bash test/stack restart-pg -m immediate >/dev/null 2>&1 || { bash test/stack start-mongo >/dev/null 2>&1; fail "could not restart PostgreSQL"; }
wait_pg
bash test/stack start-mongo >/dev/null 2>&1 || fail "could not restart MongoDB"
q -c "SELECT nutragenie_fdw.applier_wake()" >/dev/null
wait_queue_empty 60
[[ $(dead) == 0 ]] || fail "a delete queued before the crash was reported: $(q -c "SELECT error FROM nutragenie_fdw.dead_letters WHERE collection = '$N'")"
ok "a change queued before a crash that matches nothing after it is not reported"

# The same after the restart: reported.
out=$(q <<SQL 2>&1
BEGIN;
DELETE FROM ${N}_docs WHERE _id = 2;
SELECT nutragenie_fdw.run_command('$N', '{"delete": "$N", "deletes": [{"q": {"_id": 2}, "limit": 1}]}')->>'n';
COMMIT;
SQL
) || fail "the transaction failed: $out"
grep -q 'matched no document' <<<"$out" || fail "no WARNING at COMMIT: $out"
[[ $(dead) == 1 ]] || fail "expected one dead letter, found $(dead)"
[[ $(q -c "SELECT error FROM nutragenie_fdw.dead_letter_queue WHERE collection = '$N'") == "delete matched no document: "* ]] ||
    fail "unexpected dead letter: $(q -c "SELECT error FROM nutragenie_fdw.dead_letter_queue WHERE collection = '$N'")"
ok "a delete whose document another client deleted is a dead letter and a WARNING"

q -c "SELECT nutragenie_fdw.discard_dead_letter(id) FROM nutragenie_fdw.dead_letters WHERE collection = '$N'" >/dev/null
q -c "SELECT nutragenie_fdw.run_command('$N', '{\"drop\": \"$N\"}')" >/dev/null
q -c "SET client_min_messages = warning; DROP SERVER $N CASCADE; DROP TABLE ${N}_local"
