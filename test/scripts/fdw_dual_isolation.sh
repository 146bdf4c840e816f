#!/usr/bin/env bash
# One role's broken connection must not hold back another role's MongoDB
# writes: the applier holds the rows of a (server, user mapping) whose
# connection or authentication fails, with the error on them, and goes on
# with the other mappings' rows; a later row on a document the held rows
# touch waits with them (per-document order); mending the mapping applies
# the held rows.  Repro A: a mapping that loses its password exemption in
# the writing transaction ("password is required"); repro B: a role's own
# server whose uri is set to a closed port in the writing transaction.
source "$(dirname "$0")/lib/common.bash"
N=ng_iso
A=${N}_alice
M=${N}_mallory
closed=$(free_port)

cleanup() {
    q <<SQL >/dev/null 2>&1 || true
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS $N CASCADE;
DROP SERVER IF EXISTS ${N}_m CASCADE;
DROP SERVER IF EXISTS ${N}_mb CASCADE;
DROP OWNED BY $A, $M CASCADE;
DROP ROLE IF EXISTS $A;
DROP ROLE IF EXISTS $M;
SQL
}
cleanup
trap cleanup EXIT

make_server ${N}_m "$MONGODB_URI"
q <<SQL >/dev/null
SET client_min_messages = warning;
SELECT nutragenie_fdw.discard_dead_letter(id) FROM nutragenie_fdw.dead_letter_queue WHERE collection LIKE '${N}%';
CREATE ROLE $A LOGIN;
CREATE ROLE $M LOGIN;
GRANT USAGE ON FOREIGN DATA WRAPPER nutragenie_fdw TO $M;
GRANT USAGE ON FOREIGN SERVER ${N}_m TO $A, $M;
CREATE USER MAPPING FOR $A SERVER ${N}_m OPTIONS (password_required 'false');
CREATE USER MAPPING FOR $M SERVER ${N}_m OPTIONS (password_required 'false');
CREATE SCHEMA $N;
GRANT USAGE ON SCHEMA $N TO $A, $M;
CREATE FOREIGN TABLE $N.secret (_id int, v text) SERVER ${N}_m OPTIONS (collection '${N}_secret');
CREATE FOREIGN TABLE $N.t1 (_id int, v text) SERVER ${N}_m OPTIONS (collection '${N}_t1');
CREATE FOREIGN TABLE $N.shared (_id int, v text) SERVER ${N}_m OPTIONS (collection '${N}_shared');
GRANT SELECT, INSERT, UPDATE, DELETE ON $N.secret, $N.shared TO $A;
GRANT SELECT, INSERT, UPDATE, DELETE ON $N.t1, $N.shared TO $M;
SQL
for c in secret t1 shared tb; do
    q -c "DO \$\$ BEGIN PERFORM nutragenie_fdw.run_command('${N}_m', '{\"drop\": \"${N}_$c\"}'); EXCEPTION WHEN fdw_table_not_found THEN NULL; END \$\$;" >/dev/null
done
# mallory's own server (repro B), on the real server for now
q <<SQL >/dev/null
SET ROLE $M;
CREATE SERVER ${N}_mb FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (uri '$MONGODB_URI', database 'ng_scripts');
RESET ROLE;
CREATE USER MAPPING FOR $M SERVER ${N}_mb OPTIONS (password_required 'false');
CREATE FOREIGN TABLE $N.tb (_id int, v text) SERVER ${N}_mb OPTIONS (collection '${N}_tb');
GRANT SELECT, INSERT, UPDATE, DELETE ON $N.tb TO $M;
SQL

as() { local who=$1; shift; PGUSER=$who q "$@"; }
mongo_v() {   # mongo_v COLLECTION ID: the document's v, or nothing
    q -c "SELECT d->>'v' FROM jsonb_array_elements(nutragenie_fdw.run_command('${N}_m', '{\"find\": \"${N}_$1\", \"filter\": {\"_id\": $2}}')->'cursor'->'firstBatch') d"
}
queued() {    # queued COLLECTION: rows of it in the outbox
    q -c "SELECT count(*) FROM nutragenie_fdw.outbox WHERE collection = '${N}_$1'"
}
# alice's commit is applied while it waits: no "not applied" warning
alice_commit() {
    local out
    out=$(as $A -c "SET nutragenie.commit_timeout = '20s'" -c "$1" 2>&1) || fail "alice: $1: $out"
    grep -q 'not applied' <<<"$out" && fail "alice's commit was held back by mallory's broken connection: $out
$(q -c "SELECT seq, userid::regrole, collection, attempts, last_error FROM nutragenie_fdw.outbox ORDER BY seq")"
    return 0
}

# a document both write, written directly: the applier must not have a
# connection of mallory's yet.  (A live one would be reused for her
# transaction's rows: the committer waits for the applier before its
# catalog invalidations are sent, so the applier does not see a mapping
# change made in the same transaction.)
q -c "SELECT nutragenie_fdw.run_command('${N}_m', '{\"insert\": \"${N}_shared\", \"documents\": [{\"_id\": 7, \"v\": \"orig\"}]}')" >/dev/null
[[ $(mongo_v shared 7) == orig ]] || fail "document 7 is not in MongoDB"

# --- repro A: mallory's mapping loses its password exemption in her
# transaction, which also changes document 7.  Per-document order: while
# her change of document 7 is held, nobody else's change of it may be
# queued behind it out of order.  Two mappings cannot meet on one document
# inside one transaction (the overlay is per mapping, see security_mapping),
# and a later transaction is refused at the statement while the document
# has another transaction's queued change (ng_outbox_check_queued).
out=$(q 2>&1 <<SQL
SET nutragenie.commit_timeout = '1s';
BEGIN;
SET LOCAL ROLE $M;
INSERT INTO $N.t1 VALUES (300, 'mallory');
UPDATE $N.shared SET v = 'mallory' WHERE _id = 7;
RESET ROLE;
ALTER USER MAPPING FOR $M SERVER ${N}_m OPTIONS (DROP password_required);
COMMIT;
SQL
) || fail "mallory's transaction failed: $out"
grep -q 'not applied' <<<"$out" || fail "mallory's commit should warn: $out"
alice_commit "INSERT INTO $N.secret VALUES (1, 'alice')"
[[ $(mongo_v secret 1) == alice ]] || fail "alice's document is not in MongoDB"
[[ $(queued t1) == 1 ]] || fail "mallory's row should still be queued"
err=$(q -c "SELECT last_error FROM nutragenie_fdw.outbox WHERE collection = '${N}_t1'")
grep -q 'password is required' <<<"$err" || fail "mallory's row should show her error, not: $err"
ok "a mapping without its password does not hold back another role's commit"

# alice cannot change document 7 behind mallory's held change: refused at
# the statement (serialization_failure, retry later), nothing queued
[[ $(queued shared) == 1 ]] || fail "mallory's change of document 7 should be queued: $(queued shared)"
out=$(as $A -v VERBOSITY=verbose -c "UPDATE $N.shared SET v = 'alice' WHERE _id = 7" 2>&1) \
    && fail "alice's change of a document with a held change was accepted: $out"
grep -q '40001' <<<"$out" || fail "expected serialization_failure for alice's change of document 7: $out"
[[ $(queued shared) == 1 ]] || fail "alice's refused change was queued: $(queued shared)"
[[ $(mongo_v shared 7) == orig ]] || fail "document 7 should be unchanged yet: $(mongo_v shared 7)"

# an unrelated commit of alice's still goes through
alice_commit "INSERT INTO $N.secret VALUES (2, 'alice')"
[[ $(mongo_v secret 2) == alice ]] || fail "alice's second document is not in MongoDB"
ok "a change of a document with a held change is refused at the statement, nothing queued behind it"

# mending the mapping applies mallory's rows, then alice's, in order
q -c "ALTER USER MAPPING FOR $M SERVER ${N}_m OPTIONS (ADD password_required 'false')" >/dev/null
q -c "SELECT nutragenie_fdw.applier_wake()" >/dev/null
wait_queue_empty 60
[[ $(mongo_v t1 300) == mallory ]] || fail "mallory's held row was not applied"
[[ $(mongo_v shared 7) == mallory ]] || fail "document 7 should have mallory's change: $(mongo_v shared 7)"
alice_commit "UPDATE $N.shared SET v = 'alice' WHERE _id = 7"
[[ $(mongo_v shared 7) == alice ]] || fail "document 7 should have alice's change after mallory's: $(mongo_v shared 7)"
ok "the held rows are applied once the mapping is mended"

# --- repro B: mallory's own server moves to a closed port in her transaction
out=$(q 2>&1 <<SQL
SET nutragenie.commit_timeout = '1s';
SET ROLE $M;
BEGIN;
INSERT INTO $N.tb VALUES (1, 'mallory');
ALTER SERVER ${N}_mb OPTIONS (SET uri 'mongodb://127.0.0.1:$closed/');
COMMIT;
SQL
) || fail "mallory's transaction failed: $out"
alice_commit "INSERT INTO $N.secret VALUES (3, 'alice')"
[[ $(mongo_v secret 3) == alice ]] || fail "alice's third document is not in MongoDB"
[[ $(queued tb) == 1 ]] || fail "mallory's row on her broken server should still be queued"
st=$(q -c "SELECT last_error FROM nutragenie_fdw.outbox WHERE collection = '${N}_tb'")
[[ -n $st ]] || fail "mallory's row should show her error"
echo "mallory's row: $st"
q -c "ALTER SERVER ${N}_mb OPTIONS (SET uri '$MONGODB_URI')" >/dev/null
q -c "SELECT nutragenie_fdw.applier_wake()" >/dev/null
wait_queue_empty 60
[[ $(mongo_v tb 1) == mallory ]] || fail "mallory's row was not applied after her server was mended"
ok "a server moved to a closed port does not hold back another role's commit"
