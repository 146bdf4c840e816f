#!/usr/bin/env bash
# Changes queued for a foreign server that is dropped before they are
# applied can never be applied: they become dead letters saying so, and the
# queue moves on (before, the applier stopped at them forever and every
# later COMMIT in the database waited nutragenie.commit_timeout).
source "$(dirname "$0")/lib/common.bash"
is_stack_mongo || { echo "MONGODB_URI is an external server: cannot stop it"; exit 77; }
N=ng_dropsrv
setup_dual $N
make_server ${N}_gone "$MONGODB_URI"
q -c "CREATE FOREIGN TABLE ${N}_gone_docs (_id objectid, v text) SERVER ${N}_gone OPTIONS (collection '$N')"

# queue a change for the doomed server while MongoDB is down (a generated
# ObjectId needs no round trip at the statement), then drop the server
bash test/stack stop-mongo >/dev/null 2>&1
out=$(q <<SQL 2>&1
SET nutragenie.commit_timeout = 0;
INSERT INTO ${N}_gone_docs (v) VALUES ('orphan');
SQL
) || { bash test/stack start-mongo >/dev/null 2>&1; fail "the insert should be queued: $out"; }
q -c "DROP SERVER ${N}_gone CASCADE" 2>/dev/null
bash test/stack start-mongo >/dev/null 2>&1
q -c "SELECT nutragenie_fdw.applier_wake()" >/dev/null

out=$(q -c "INSERT INTO ${N}_docs VALUES (1, 'after', 1)" 2>&1) || fail "a later commit failed: $out"
q -c "INSERT INTO ${N}_local VALUES (1, 'after', 1)"
wait_queue_empty 60
check_dual $N
err=$(q -c "SELECT error FROM nutragenie_fdw.dead_letter_queue WHERE collection = '$N' AND server IS NULL")
echo "dead letter: $err"
grep -q 'foreign server [0-9]* was dropped before this operation was applied' <<<"$err" \
    || fail "the orphaned change should be a dead letter saying why"
# leave no dead letters behind for the scripts that follow
q -c "SELECT nutragenie_fdw.discard_dead_letter(id) FROM nutragenie_fdw.dead_letter_queue WHERE collection = '$N'" >/dev/null
ok "changes of a dropped server are dead-lettered and the queue moves on"
