#!/usr/bin/env bash
# Atomicity: ROLLBACK, an error in a later statement, an error on row N of a
# multi-row statement, ROLLBACK TO SAVEPOINT, and a backend killed with
# SIGKILL before COMMIT leave no trace in MongoDB; COMMIT writes both.
source "$(dirname "$0")/lib/common.bash"
N=ng_rb
setup_dual $N

q <<SQL
BEGIN;
INSERT INTO ${N}_docs VALUES (1, 'one', 1), (2, 'two', 2);
INSERT INTO ${N}_local VALUES (1, 'one', 1), (2, 'two', 2);
COMMIT;
BEGIN;
INSERT INTO ${N}_docs VALUES (3, 'rolled back', 3);
UPDATE ${N}_docs SET n = 100 WHERE _id = 1;
DELETE FROM ${N}_docs WHERE _id = 2;
ROLLBACK;
SQL
check_dual $N

# an error in a later statement
q -v ON_ERROR_STOP=0 <<SQL 2>/dev/null
BEGIN;
INSERT INTO ${N}_docs VALUES (4, 'four', 4);
UPDATE ${N}_docs SET v = 'changed' WHERE _id = 1;
SELECT 1/0;
COMMIT;
SQL
check_dual $N

# an error on row 3 of a multi-row statement (a duplicate _id)
q -v ON_ERROR_STOP=0 -c "INSERT INTO ${N}_docs VALUES (5, 'five', 5), (6, 'six', 6), (1, 'dup', 0), (7, 'seven', 7)" 2>/dev/null && fail "the duplicate was accepted"
check_dual $N

# savepoints: only the rolled-back part disappears
q <<SQL
BEGIN;
INSERT INTO ${N}_docs VALUES (8, 'eight', 8);
INSERT INTO ${N}_local VALUES (8, 'eight', 8);
SAVEPOINT s1;
INSERT INTO ${N}_docs VALUES (9, 'nine', 9);
UPDATE ${N}_docs SET n = 88 WHERE _id = 8;
ROLLBACK TO SAVEPOINT s1;
UPDATE ${N}_docs SET n = 80 WHERE _id = 8;
UPDATE ${N}_local SET n = 80 WHERE id = 8;
COMMIT;
SQL
check_dual $N

# a backend killed with SIGKILL in the middle of a transaction
PGAPPNAME=ng_victim q <<SQL >/dev/null 2>&1 &
BEGIN;
INSERT INTO ${N}_docs VALUES (10, 'killed', 10);
UPDATE ${N}_docs SET v = 'killed' WHERE _id = 1;
DELETE FROM ${N}_docs WHERE _id = 2;
SELECT pg_sleep(60);
COMMIT;
SQL
victim_psql=$!
pid=
for _ in $(seq 100); do
    pid=$(q -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'ng_victim' AND query LIKE '%pg_sleep%'")
    [[ -n $pid ]] && break
    sleep 0.1
done
[[ -n $pid ]] || fail "the victim transaction did not start"
kill -KILL "$pid"
wait "$victim_psql" 2>/dev/null || true
wait_pg
sleep 1
wait_pg
check_dual $N
ok "rollback, errors, savepoints and SIGKILL left MongoDB as expected"
