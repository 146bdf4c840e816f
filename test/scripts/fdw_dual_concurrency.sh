#!/usr/bin/env bash
# No lost updates: 8 sessions x 200 "UPDATE ... SET n = n + 1" on one
# document end at exactly 1600.
source "$(dirname "$0")/lib/common.bash"
N=ng_conc
setup_dual $N
q -c "INSERT INTO ${N}_docs VALUES (1, 'counter', 0)"
q -c "INSERT INTO ${N}_local VALUES (1, 'counter', 1600)"
SESSIONS=${NG_CONC_SESSIONS:-8}
ROUNDS=${NG_CONC_ROUNDS:-200}
script=$NG_STACK_DIR/conc.sql
for ((i = 0; i < ROUNDS; i++)); do echo "UPDATE ${N}_docs SET n = n + 1 WHERE _id = 1;"; done >"$script"
t0=$(now_ms)
pids=()
for ((s = 0; s < SESSIONS; s++)); do
    q -f "$script" >"$NG_STACK_DIR/conc.$s.out" 2>&1 &
    pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
elapsed=$(( $(now_ms) - t0 ))
((failed == 0)) || fail "$failed sessions failed: $(cat "$NG_STACK_DIR"/conc.*.out | head -5)"
n=$(q -c "SELECT n FROM ${N}_docs WHERE _id = 1")
echo "$SESSIONS sessions x $ROUNDS increments in ${elapsed} ms: n = $n"
[[ $n == $((SESSIONS * ROUNDS)) ]] || fail "lost updates: n = $n, expected $((SESSIONS * ROUNDS))"
q -c "UPDATE ${N}_local SET n = $((SESSIONS * ROUNDS))"
check_dual $N
ok "no lost updates"
