#!/usr/bin/env bash
# Durability: with MongoDB down, COMMIT returns after a bounded wait with a
# WARNING and the changes stay queued; they are applied in commit order when
# MongoDB is back.  The same holds across a PostgreSQL crash (stop -m
# immediate) after commit and before the changes were applied.
source "$(dirname "$0")/lib/common.bash"
is_stack_mongo || { echo "MONGODB_URI is an external server: cannot stop it"; exit 77; }
N=ng_out
setup_dual $N
q -c "INSERT INTO ${N}_docs VALUES (1, 'one', 1)"
q -c "INSERT INTO ${N}_local VALUES (1, 'one', 1)"
check_dual $N

# MongoDB stops between the writes and COMMIT
t0=0
out=$(q <<SQL 2>&1
SET nutragenie.commit_timeout = 1000;
BEGIN;
INSERT INTO ${N}_docs VALUES (2, 'two', 2), (3, 'three', 3);
INSERT INTO ${N}_local VALUES (2, 'two', 2), (3, 'three', 3);
UPDATE ${N}_docs SET n = 10 WHERE _id = 1;
UPDATE ${N}_docs SET n = n + 1 WHERE _id = 1;
UPDATE ${N}_local SET n = 11 WHERE id = 1;
DELETE FROM ${N}_docs WHERE _id = 3;
DELETE FROM ${N}_local WHERE id = 3;
INSERT INTO ${N}_docs VALUES (4, 'four', 4);
INSERT INTO ${N}_local VALUES (4, 'four', 4);
\\! bash test/stack stop-mongo >/dev/null 2>&1
\\! date +%s%3N > $NG_STACK_DIR/t0
COMMIT;
SQL
) || { bash test/stack start-mongo >/dev/null 2>&1; fail "the transaction failed: $out"; }
t0=$(cat "$NG_STACK_DIR/t0")
elapsed=$(( $(now_ms) - t0 ))
grep -q 'WARNING' <<<"$out" || { bash test/stack start-mongo >/dev/null 2>&1; fail "no WARNING at COMMIT with MongoDB down: $out"; }
pending=$(q -c "SELECT pending FROM nutragenie_fdw.write_queue_status()")
echo "MongoDB down: COMMIT returned in ${elapsed} ms with a warning; ${pending} operations queued"
((pending >= 5)) || { bash test/stack start-mongo >/dev/null 2>&1; fail "expected queued operations, found $pending"; }

# PostgreSQL crashes before MongoDB is back: the queue survives.
bash test/stack restart-pg -m immediate >/dev/null 2>&1 || fail "could not restart PostgreSQL"
wait_pg
pending2=$(q -c "SELECT pending FROM nutragenie_fdw.write_queue_status()")
echo "after an immediate PostgreSQL restart: ${pending2} operations queued"
[[ $pending2 == "$pending" ]] || { bash test/stack start-mongo >/dev/null 2>&1; fail "queue changed across the crash: $pending -> $pending2"; }

bash test/stack start-mongo >/dev/null 2>&1 || fail "could not restart MongoDB"
q -c "SELECT nutragenie_fdw.applier_wake()" >/dev/null
wait_queue_empty 60
check_dual $N
ok "queued changes applied after the outage and the crash"
