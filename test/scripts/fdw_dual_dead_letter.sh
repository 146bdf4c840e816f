#!/usr/bin/env bash
# A change MongoDB rejects after commit (here a unique index on another
# field) becomes a dead letter with the server's error; it can be retried
# or discarded from SQL, and the other changes are applied.
source "$(dirname "$0")/lib/common.bash"
N=ng_dl
setup_dual $N
q -c "SELECT nutragenie_fdw.run_command('$N', '{\"createIndexes\": \"$N\", \"indexes\": [{\"key\": {\"v\": 1}, \"name\": \"v_unique\", \"unique\": true}]}')" >/dev/null
q -c "INSERT INTO ${N}_docs VALUES (1, 'same', 1)"
q -c "INSERT INTO ${N}_local VALUES (1, 'same', 1)"
# a clash only MongoDB can see: the same v under another _id
out=$(q -c "INSERT INTO ${N}_docs VALUES (2, 'same', 2), (3, 'other', 3)" 2>&1) || fail "insert failed: $out"
q -c "INSERT INTO ${N}_local VALUES (3, 'other', 3)"
wait_queue_empty 30
check_dual $N
dl=$(q -c "SELECT count(*) FROM nutragenie_fdw.dead_letter_queue WHERE collection = '$N'")
err=$(q -c "SELECT error FROM nutragenie_fdw.dead_letter_queue WHERE collection = '$N'")
echo "dead letters: $dl ($err)"
[[ $dl == 1 ]] || fail "expected one dead letter, found $dl"
grep -qi 'duplicate' <<<"$err" || fail "the dead letter should carry MongoDB's duplicate-key error: $err"
[[ $(q -c "SELECT _id FROM nutragenie_fdw.dead_letter_queue WHERE collection = '$N'") == 2 ]] || fail "wrong document dead-lettered"

# retry: fails again while the clash remains, then succeeds after it is fixed
id=$(q -c "SELECT id FROM nutragenie_fdw.dead_letter_queue WHERE collection = '$N'")
q -c "SELECT nutragenie_fdw.retry_dead_letter($id)" >/dev/null
q -c "SELECT nutragenie_fdw.applier_wake()" >/dev/null
wait_queue_empty 30
[[ $(q -c "SELECT count(*) FROM nutragenie_fdw.dead_letter_queue WHERE collection = '$N'") == 1 ]] || fail "the retried operation should fail again"
q -c "UPDATE ${N}_docs SET v = 'moved' WHERE _id = 1"
q -c "UPDATE ${N}_local SET v = 'moved' WHERE id = 1"
id=$(q -c "SELECT id FROM nutragenie_fdw.dead_letter_queue WHERE collection = '$N'")
q -c "SELECT nutragenie_fdw.retry_dead_letter($id)" >/dev/null
q -c "SELECT nutragenie_fdw.applier_wake()" >/dev/null
wait_queue_empty 30
q -c "INSERT INTO ${N}_local VALUES (2, 'same', 2)"
[[ $(q -c "SELECT count(*) FROM nutragenie_fdw.dead_letter_queue WHERE collection = '$N'") == 0 ]] || fail "the retry should have succeeded"
check_dual $N

# discard
q -c "INSERT INTO ${N}_docs VALUES (4, 'same', 4)" >/dev/null
wait_queue_empty 30
id=$(q -c "SELECT id FROM nutragenie_fdw.dead_letter_queue WHERE collection = '$N'")
[[ -n $id ]] || fail "expected a new dead letter"
[[ $(q -c "SELECT nutragenie_fdw.discard_dead_letter($id)") == t ]] || fail "discard failed"
[[ $(q -c "SELECT count(*) FROM nutragenie_fdw.dead_letter_queue WHERE collection = '$N'") == 0 ]] || fail "dead letter not discarded"
check_dual $N
ok "dead letter reported, retried and discarded"
