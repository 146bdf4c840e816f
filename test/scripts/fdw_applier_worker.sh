#!/usr/bin/env bash
# The applier itself: a launcher and one worker per database that has the
# extension; COMMIT returns once MongoDB has the changes; a terminated worker
# is replaced; a database without the extension keeps no worker; CREATE
# EXTENSION and writes in one transaction do not stall COMMIT; an insert
# applied twice (a re-apply) is harmless; rows are applied in order across
# several rounds; a rejected change warns its committer; a failed DROP
# DATABASE by a non-owner stops no worker; nutragenie_fdw.bson_to_jsonb.
source "$(dirname "$0")/lib/common.bash"
N=ng_apw
setup_dual $N
q -c "DELETE FROM nutragenie_fdw.dead_letters WHERE collection = '$N'"

workers() {  # workers connected to database $1 (default: ours)
    q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'nutragenie applier' AND datname = '${1:-$PGDATABASE}'"
}
wait_for_worker() {  # wait until database $1 has exactly one worker
    local i
    for ((i = 0; i < 300; i++)); do
        [[ $(workers "${1:-}") == 1 ]] && return 0
        sleep 0.1
    done
    fail "no applier worker for ${1:-$PGDATABASE}: $(q -c "SELECT string_agg(backend_type || '/' || coalesce(datname, '-'), ', ') FROM pg_stat_activity WHERE backend_type LIKE 'nutragenie%'")"
}

# --- launcher and worker
[[ $(q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'nutragenie applier launcher'") == 1 ]] \
    || fail "the launcher is not running"
q -c "INSERT INTO ${N}_docs VALUES (1, 'one', 1)"
wait_for_worker
[[ $(q -c "SELECT nutragenie_fdw.applier_wake()") == t ]] || fail "nutragenie_fdw.applier_wake() should find the running worker"
ok "launcher and worker"

# --- COMMIT returns after MongoDB has the change: read it back at once
out=$(q <<SQL
BEGIN;
INSERT INTO ${N}_docs VALUES (2, 'two', 2);
UPDATE ${N}_docs SET n = 10 WHERE _id = 1;
COMMIT;
SELECT nutragenie_fdw.run_command('$N', '{"find": "$N", "filter": {"_id": {"\$in": [1, 2]}}, "sort": {"_id": 1}}')->'cursor'->'firstBatch';
SQL
)
[[ $out == *'"n": 10'*'"_id": 2'* ]] || fail "MongoDB did not have the changes when COMMIT returned: $out"
q -c "INSERT INTO ${N}_local VALUES (1, 'one', 10), (2, 'two', 2)"
check_dual $N
ok "COMMIT waits until the changes are applied"

# --- a terminated worker is replaced and the next commit is applied
old=$(q -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'nutragenie applier' AND datname = current_database()")
q -c "SELECT pg_terminate_backend($old)" >/dev/null
for ((i = 0; i < 300; i++)); do
    new=$(q -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'nutragenie applier' AND datname = current_database()")
    [[ -n $new && $new != "$old" ]] && break
    sleep 0.1
done
[[ -n $new && $new != "$old" ]] || fail "the terminated worker was not replaced"
out=$(q -c "UPDATE ${N}_docs SET v = 'uno' WHERE _id = 1" 2>&1)
[[ $out != *WARNING* ]] || fail "commit after the restart warned: $out"
q -c "UPDATE ${N}_local SET v = 'uno' WHERE id = 1"
check_dual $N
ok "terminated worker replaced ($old -> $new)"

# --- rows applied in order over several rounds (batch size 4)
q -c "ALTER SYSTEM SET nutragenie.applier_batch_size = 4" >/dev/null
q -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
q <<SQL >/dev/null
BEGIN;
INSERT INTO ${N}_docs SELECT g, 'v' || g, g FROM generate_series(10, 29) g;
UPDATE ${N}_docs SET n = n * 2 WHERE _id BETWEEN 10 AND 19;
DELETE FROM ${N}_docs WHERE _id BETWEEN 25 AND 29;
UPDATE ${N}_docs SET n = n + 1 WHERE _id BETWEEN 15 AND 24;
COMMIT;
INSERT INTO ${N}_local SELECT g, 'v' || g, g FROM generate_series(10, 29) g;
UPDATE ${N}_local SET n = n * 2 WHERE id BETWEEN 10 AND 19;
DELETE FROM ${N}_local WHERE id BETWEEN 25 AND 29;
UPDATE ${N}_local SET n = n + 1 WHERE id BETWEEN 15 AND 24;
SQL
q -c "ALTER SYSTEM RESET nutragenie.applier_batch_size" >/dev/null
q -c "SELECT pg_reload_conf()" >/dev/null
[[ $(q -c "SELECT pending FROM nutragenie_fdw.write_queue_status()") == 0 ]] || fail "rows left in the outbox after COMMIT"
check_dual $N
ok "ordered over several rounds"

# --- a change MongoDB rejects warns the transaction that committed it
q -c "SELECT nutragenie_fdw.run_command('$N', '{\"createIndexes\": \"$N\", \"indexes\": [{\"key\": {\"v\": 1}, \"name\": \"v_unique\", \"unique\": true}]}')" >/dev/null
out=$(q -c "INSERT INTO ${N}_docs VALUES (3, 'two', 3)" 2>&1)
[[ $out == *"MongoDB rejected some of this transaction's changes"* ]] || fail "no warning for a dead letter: $out"
[[ $(q -c "SELECT count(*) FROM nutragenie_fdw.dead_letter_queue WHERE collection = '$N' AND _id = '3'") == 1 ]] \
    || fail "the rejected insert is not a dead letter"
check_dual $N
ok "dead letter reported to its committer"

# --- an insert applied twice (as after a crash between apply and delete)
if is_stack_mongo; then
    q <<SQL >/dev/null
SET nutragenie.commit_timeout = 0;
BEGIN;
INSERT INTO ${N}_docs VALUES (4, 'four', 4);
\\! bash test/stack stop-mongo >/dev/null 2>&1
COMMIT;
SQL
    q <<SQL >/dev/null
INSERT INTO nutragenie_fdw.outbox (serverid, userid, database, collection, op, doc_id, body)
SELECT serverid, userid, database, collection, op, doc_id, body FROM nutragenie_fdw.outbox
WHERE collection = '$N' ORDER BY seq;
SQL
    [[ $(q -c "SELECT count(*) FROM nutragenie_fdw.outbox WHERE collection = '$N'") == 2 ]] || fail "expected the insert queued twice"
    bash test/stack start-mongo >/dev/null 2>&1
    q -c "SELECT nutragenie_fdw.applier_wake()" >/dev/null
    wait_queue_empty 30
    q -c "INSERT INTO ${N}_local VALUES (4, 'four', 4)"
    [[ $(q -c "SELECT count(*) FROM nutragenie_fdw.dead_letter_queue WHERE collection = '$N' AND _id = '4'") == 0 ]] \
        || fail "the re-applied insert became a dead letter"
    check_dual $N
    ok "re-applied insert"
fi

# --- the launcher started a worker for "postgres" too, which left since the
# extension is not there; CREATE EXTENSION and a write in one transaction
# commit without waiting for the timeout (the applier cannot read the new
# outbox before COMMIT releases its locks)
[[ $(workers postgres) == 0 ]] || fail "a worker stays in a database without the extension"
D=ng_applier_other
q -c "DROP DATABASE IF EXISTS $D WITH (FORCE)" >/dev/null
q -c "CREATE DATABASE $D" >/dev/null
t0=$(now_ms)
out=$(PGDATABASE=$D q -v uri="$MONGODB_URI" <<SQL 2>&1
SET nutragenie.commit_timeout = 20000;
BEGIN;
CREATE EXTENSION nutragenie_fdw;
CREATE SERVER $N FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (uri :'uri', database 'ng_scripts');
CREATE USER MAPPING FOR CURRENT_USER SERVER $N;
CREATE FOREIGN TABLE ${N}_docs (_id int, v text, n int) SERVER $N OPTIONS (collection '$N');
INSERT INTO ${N}_docs VALUES (5, 'five', 5);
COMMIT;
SQL
)
t1=$(now_ms)
((t1 - t0 < 10000)) || fail "COMMIT after CREATE EXTENSION took $((t1 - t0)) ms: $out"
wait_for_worker $D
for ((i = 0; i < 100; i++)); do
    [[ $(PGDATABASE=$D q -c "SELECT pending FROM nutragenie_fdw.write_queue_status()") == 0 ]] && break
    sleep 0.1
done
q -c "INSERT INTO ${N}_local VALUES (5, 'five', 5)"
check_dual $N
ok "extension created and written in one transaction ($((t1 - t0)) ms)"

# --- DROP DATABASE stops the database's worker first (so that the drop need
# not wait for it), but only for a role that may drop the database: another
# role's attempt fails with "must be owner" and leaves the worker running
pid=$(q -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'nutragenie applier' AND datname = '$D'")
[[ -n $pid ]] || fail "no applier worker for $D"
q -c "DROP ROLE IF EXISTS ${N}_intruder" -c "CREATE ROLE ${N}_intruder LOGIN" >/dev/null
for stmt in "DROP DATABASE $D" "DROP DATABASE $D WITH (FORCE)"; do
    out=$(PGUSER=${N}_intruder PGDATABASE=postgres q -c "$stmt" 2>&1) && fail "$stmt by a non-owner succeeded"
    [[ $out == *"must be owner of database $D"* ]] || fail "$stmt by a non-owner: $out"
done
now=$(q -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'nutragenie applier' AND datname = '$D'")
[[ $now == "$pid" ]] || fail "a failed DROP DATABASE by a non-owner stopped the applier of $D ($pid -> ${now:-none})"
q -c "DROP ROLE ${N}_intruder"
q -c "DROP DATABASE $D WITH (FORCE)" >/dev/null
[[ $(q -c "SELECT count(*) FROM pg_database WHERE datname = '$D'") == 0 ]] || fail "the owner could not drop $D"
ok "a non-owner's DROP DATABASE leaves the worker running"

# --- nutragenie_fdw.bson_to_jsonb
[[ $(q -c "SELECT nutragenie_fdw.bson_to_jsonb('\\x0c0000001061000500000000'::bytea)") == '{"a": 5}' ]] \
    || fail "nutragenie_fdw.bson_to_jsonb of {a: 5}: $(q -c "SELECT nutragenie_fdw.bson_to_jsonb('\\x0c0000001061000500000000'::bytea)" 2>&1)"
out=$(q -v VERBOSITY=verbose -c "SELECT nutragenie_fdw.bson_to_jsonb('\\x0500'::bytea)" 2>&1) && fail "invalid BSON accepted"
[[ $out == *22023* ]] || fail "invalid BSON should raise 22023: $out"
ok "nutragenie_fdw.bson_to_jsonb"

q -c "SELECT nutragenie_fdw.run_command('$N', '{\"drop\": \"$N\"}')" >/dev/null
q -c "DELETE FROM nutragenie_fdw.dead_letters WHERE collection = '$N'"
q -c "SET client_min_messages = warning; DROP SERVER $N CASCADE; DROP TABLE ${N}_local"
