#!/usr/bin/env bash
# The source tree's layering (docs/architecture.md, "Source map"): which
# folder of src/ may include which other folder's headers, and that only
# src/conn/ includes the driver.  Needs no server; fails listing each
# include that points the wrong way.
set -euo pipefail
cd "${NG_ROOT:-$(dirname "$0")/../..}/src"

# folder -> the other folders it may include
declare -A allowed=(
    [bson]=""
    [stats]=""
    [conn]="stats"
    [plan]="bson conn stats"
    [write]="bson conn stats"
    [exec]="plan write bson conn stats"
    [admin]="plan write bson conn stats"
    [.]="admin exec write conn stats"
)
bad=0
for dir in "${!allowed[@]}"; do
    if [[ $dir == . ]]; then files=(*.c *.h); else files=("$dir"/*.c "$dir"/*.h); fi
    for f in "${files[@]}"; do
        [[ -e $f ]] || continue
        while IFS= read -r inc; do
            layer=${inc%%/*}
            [[ $layer == "$dir" ]] && continue
            if [[ " ${allowed[$dir]} " != *" $layer "* ]]; then
                echo "$f includes \"$inc\": $dir/ may not use $layer/"
                bad=1
            fi
        done < <(sed -nE 's/^#include "((bson|plan|exec|write|conn|admin|stats)\/[^"]*)".*/\1/p' "$f")
        if [[ $dir != conn ]] && grep -qE '^#include ("ng_remote\.h"|<mongoc/)' "$f"; then
            echo "$f includes the driver: only src/conn/ may"
            bad=1
        fi
    done
done
# plan/ reaches the server only in estimate.c
for f in plan/*.c plan/*.h; do
    [[ $f == plan/estimate.c ]] && continue
    if grep -q '^#include "conn/' "$f"; then
        echo "$f includes conn/: in plan/ only estimate.c may (the planner does no I/O)"
        bad=1
    fi
done
# option.c uses conn/ only for uri parsing
if grep '^#include "conn/' option.c | grep -vq 'conn/uri.h'; then
    echo "option.c includes conn/ beyond conn/uri.h"
    bad=1
fi
exit $bad
