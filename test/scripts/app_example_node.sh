#!/usr/bin/env bash
# The example application (examples/node/app.js, the pg driver only) runs
# the NutraGenie services through the SQL API as an application role with
# per-user isolation.  Skipped when node or npm is not installed (a chroot
# leg; test/setup installs them on the machine); its driver comes from npm
# (npm ci with the committed lockfile) on first use.
source "$(dirname "$0")/lib/common.bash"
command -v node >/dev/null && command -v npm >/dev/null || { echo "node/npm not installed: skipped"; exit 77; }
S=ng_app_example_node_sh
ROLE=${S}_app
setup_domain $S 3 6 0
if [[ ! -d examples/node/node_modules/pg ]]; then
    (cd examples/node && timeout 600 npm ci --no-audit --no-fund >/dev/null) || fail "npm ci in examples/node failed"
fi
drop_role() {
    q >/dev/null <<SQL
SET client_min_messages = warning;
DELETE FROM role_setup WHERE role = '$ROLE';
SELECT ng_apply_role_grants();
SELECT format('DROP OWNED BY %I', '$ROLE') FROM pg_roles WHERE rolname = '$ROLE' \gexec
DROP ROLE IF EXISTS $ROLE;
SQL
}
drop_role
q >/dev/null <<SQL
CREATE ROLE $ROLE LOGIN;
CREATE USER MAPPING FOR $ROLE SERVER $S OPTIONS (password_required 'false');
SELECT ng_setup_app_role('$ROLE', true);
SQL
out=$(PGUSER=$ROLE timeout 120 node examples/node/app.js 2>&1) || fail "the example failed: $out"
printf '%s\n' "$out"
[[ $(grep -c '^ok ' <<<"$out") -ge 14 ]] || fail "expected at least 14 steps, got: $out"
drop_role
clear_domain $S
