#!/usr/bin/env bash
# An operation the server drops the connection on every time (FerretDB 1.x
# panics on a Decimal128) must not stall the queue: the applier finds it
# among the rows sent with it, retries it alone nutragenie.applier_max_attempts
# times, dead-letters it with what happened (and the later change of the same
# document with it), and later commits go through.  Skipped (77) where the
# server stores Decimal128, e.g. a real MongoDB through MONGODB_URI.
source "$(dirname "$0")/lib/common.bash"
N=ng_poison
setup_dual $N
q <<SQL >/dev/null
DROP FOREIGN TABLE IF EXISTS ${N}_dec;
CREATE FOREIGN TABLE ${N}_dec (_id int, v text, n numeric OPTIONS (bson_type 'decimal'))
  SERVER $N OPTIONS (collection '$N');
SQL

# does the server drop the connection on a Decimal128 (and only on it)?
probe=$(q -c "SELECT nutragenie_fdw.run_command('$N', '{\"insert\": \"${N}_probe\", \"documents\": [{\"_id\": 1, \"d\": {\"\$numberDecimal\": \"1.5\"}}]}')" 2>&1) && {
    echo "the server stores Decimal128: no poison to test ($probe)"
    exit 77
}
grep -q 'could not connect' <<<"$probe" || fail "unexpected probe failure: $probe"
q -c "SELECT nutragenie_fdw.run_command('$N', '{\"ping\": 1}')" >/dev/null || fail "the server should answer after the dropped connection"

# fewer attempts than the default, to see the setting used
reset_guc() {
    psql -X -q -c "ALTER SYSTEM RESET nutragenie.applier_max_attempts" -c "SELECT pg_reload_conf()" >/dev/null || true
}
trap reset_guc EXIT
psql -X -q -c "ALTER SYSTEM SET nutragenie.applier_max_attempts = 3" -c "SELECT pg_reload_conf()" >/dev/null

dead_before=$(q -c "SELECT coalesce(max(id), 0) FROM nutragenie_fdw.dead_letters")
q -c "INSERT INTO ${N}_docs VALUES (1, 'before', 1)"
q -c "INSERT INTO ${N}_local VALUES (1, 'before', 1)"
# one transaction: a good document sent in the same bulk write as the
# poison, the poison, and a later change of the poisoned document
out=$(q <<SQL 2>&1
SET nutragenie.commit_timeout = 0;
BEGIN;
INSERT INTO ${N}_docs VALUES (3, 'with', 3);
INSERT INTO ${N}_dec VALUES (2, 'poison', 2);
UPDATE ${N}_docs SET v = 'later' WHERE _id = 2;
COMMIT;
SQL
) || fail "the poisoned transaction should commit: $out"
q -c "INSERT INTO ${N}_local VALUES (3, 'with', 3)"
# later commits are applied once the poison is out of the way
out=$(q -c "INSERT INTO ${N}_docs VALUES (4, 'after', 4)" 2>&1) || fail "a later commit failed: $out"
q -c "INSERT INTO ${N}_local VALUES (4, 'after', 4)"
wait_queue_empty 120
check_dual $N

dl=$(q -c "SELECT string_agg(format('%s %s %s: %s', _id, operation, attempts, error), E'\n' ORDER BY seq)
           FROM nutragenie_fdw.dead_letter_queue WHERE collection = '$N' AND id > $dead_before")
echo "dead letters:"; echo "$dl"
[[ $(wc -l <<<"$dl") == 2 ]] || fail "expected two dead letters"
head -1 <<<"$dl" | grep -q '^2 insert .*server closed the connection while applying this operation 3 times: .*socket' \
    || fail "the poison's dead letter should say what happened"
tail -1 <<<"$dl" | grep -q '^2 update .*earlier operation on the same document (outbox row [0-9]*) was moved to nutragenie_fdw.dead_letters' \
    || fail "the later change of the poisoned document should follow it"

# and the queue keeps moving
q -c "UPDATE ${N}_docs SET n = 40 WHERE _id = 4"
q -c "UPDATE ${N}_local SET n = 40 WHERE id = 4"
wait_queue_empty 30
check_dual $N

# Many poison rows in one statement are isolated without the back-off
# between attempts, and rows on other documents (here another collection
# of the same server and role) do not wait for all of them to be buried:
# a commit made after them is applied while some are still queued.
q <<SQL >/dev/null
DROP FOREIGN TABLE IF EXISTS ${N}_other;
CREATE FOREIGN TABLE ${N}_other (_id int, v text) SERVER $N OPTIONS (collection '${N}_other');
SQL
q -c "DO \$\$ BEGIN PERFORM nutragenie_fdw.run_command('$N', '{\"drop\": \"${N}_other\"}'); EXCEPTION WHEN fdw_table_not_found THEN NULL; END \$\$;" >/dev/null
out=$(q -c "SET nutragenie.commit_timeout = 0" -c "INSERT INTO ${N}_dec SELECT g, 'poison', g FROM generate_series(100, 119) g" 2>&1) \
    || fail "the poison statement should commit: $out"
out=$(q -c "SET nutragenie.commit_timeout = '120s'" -c "INSERT INTO ${N}_other VALUES (1, 'good')" 2>&1) \
    || fail "the later commit failed: $out"
grep -q 'not applied' <<<"$out" && fail "the later commit waited for the poison rows: $out"
left=$(q -c "SELECT count(*) FROM nutragenie_fdw.outbox WHERE collection = '$N'")
echo "poison rows still queued when the later commit was applied: $left of 20"
[[ $left -gt 0 ]] || fail "the later commit was applied only after every poison row was buried"
got=$(q -c "SELECT d->>'v' FROM jsonb_array_elements(nutragenie_fdw.run_command('$N', '{\"find\": \"${N}_other\"}')->'cursor'->'firstBatch') d")
[[ $got == good ]] || fail "the later commit's document is not in MongoDB: $got"
t0=$(now_ms)
wait_queue_empty 240
echo "20 poison rows buried in $(( ($(now_ms) - t0) / 1000 )) s after that"
[[ $(q -c "SELECT count(*) FROM nutragenie_fdw.dead_letter_queue WHERE collection = '$N' AND id > $dead_before AND _id::text::int >= 100") == 20 ]] \
    || fail "expected the 20 poison rows in the dead letters"
q -c "SELECT nutragenie_fdw.run_command('$N', '{\"drop\": \"${N}_other\"}')" >/dev/null 2>&1 || true
q -c "DROP FOREIGN TABLE ${N}_other"
q -c "SELECT nutragenie_fdw.run_command('$N', '{\"drop\": \"${N}_probe\"}')" >/dev/null 2>&1 || true
# leave no dead letters behind for the scripts that follow
q -c "SELECT nutragenie_fdw.discard_dead_letter(id) FROM nutragenie_fdw.dead_letter_queue WHERE collection = '$N'" >/dev/null
ok "poisoned operations are dead-lettered and the queue moves on"
