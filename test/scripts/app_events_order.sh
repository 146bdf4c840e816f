#!/usr/bin/env bash
# The event log's order across concurrent transactions: transaction A starts
# first and writes its event last (a higher id), B commits its event (a
# lower id) while A is open.  A consumer reading then sees nothing (B could
# otherwise be read before A's lower-ordered event appears); after A commits
# it reads A's event, then B's, and a cursor on A's returns B's.
source "$(dirname "$0")/lib/common.bash"
S=ng_app_events_order_sh
setup_domain $S 1 1 0
q -c "TRUNCATE event_log" >/dev/null

coproc A { PGOPTIONS='-c search_path=public,nutragenie' psql -X -q -At -v ON_ERROR_STOP=1 2>&1; }
a() {
    local line out=
    printf '%s\n\\echo __done__\n' "$1" >&"${A[1]}"
    while IFS= read -r -t 60 line <&"${A[0]}"; do
        [[ $line == __done__ ]] && { printf '%s' "$out"; return; }
        out+=$line
    done
    fail "session A did not answer: $out"
}
a "BEGIN; SELECT pg_current_xact_id() IS NOT NULL;" >/dev/null
q -c "SELECT ng_publish('test.b', '{\"who\": \"B\"}')" >/dev/null
a "SELECT ng_publish('test.a', '{\"who\": \"A\"}');" >/dev/null
ids=$(q -c "SELECT string_agg(event || '=' || id, ',' ORDER BY id) FROM event_log")
[[ $ids == test.b=* ]] || fail "B's event should be the only one visible, got $ids"
seen=$(q -c "SELECT count(*) FROM ng_events()")
[[ $seen == 0 ]] || fail "a reader saw $seen events while the older transaction A was open"
ok "B's committed event is held back while A (older) is open"
a "COMMIT;" >/dev/null
order=
for _ in $(seq 100); do
    order=$(q -c "SELECT string_agg(event, ',' ORDER BY n) FROM (SELECT event, row_number() OVER () AS n FROM ng_events()) e")
    [[ $order == test.a,test.b ]] && break
    sleep 0.1
done
[[ $order == test.a,test.b ]] || fail "expected A then B, got $order"
after_a=$(q -c "SELECT string_agg(e.event, ',') FROM ng_events((SELECT id FROM event_log WHERE event = 'test.a')) e")
[[ $after_a == test.b ]] || fail "the cursor after A should give B, got $after_a"
ok "after A commits: A then B, although A's id ($(q -c "SELECT id FROM event_log WHERE event = 'test.a'")) is higher"
printf '\\q\n' >&"${A[1]}"
wait "$A_PID" 2>/dev/null || true
clear_domain $S
