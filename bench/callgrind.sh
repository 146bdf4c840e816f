#!/usr/bin/env bash
# bench/callgrind.sh: nutragenie against mongo_fdw and a raw libmongoc client
# on PostgreSQL 18 + libmongoc 2 (a Debian sid chroot, test/chroot) and
# FerretDB 2 on DocumentDB (test/docdb), or a real MongoDB (MONGODB_URI):
#   1. instructions per document (valgrind --tool=callgrind, a 50,000- minus
#      a 0-document run, single-user backend) of the 23-column scan, the
#      $$ROOT scan, mongo_fdw's scan and the raw client (bench/baseline.c),
#      with the costliest functions per object;
#   2. wall clock, nutragenie vs mongo_fdw, alternating runs (medians), with
#      the two results compared: scan, filter, key joins, GROUP BY, ORDER BY
#      LIMIT, INSERT;
#   3. bench/out/callgrind.json and section 6 of docs/benchmarks.md
#      (bench/report.py --callgrind re-renders it).
# The product never depends on mongo_fdw or valgrind: only this script
# installs them, and only into its own chroot (NG_BENCH_CHROOT_DIR).  It
# builds the extension with make and talks SQL only.  Run as root, from any
# directory:  bash bench/callgrind.sh   (or: NG_BENCH_CALLGRIND=1 make bench)
# Environment (defaults in brackets):
#   NG_BENCH_CHROOT_DIR [/var/cache/nutragenie/chroot-bench]  its chroots
#                        (sid is copied from test/chroot's if that one exists,
#                        else made by debootstrap)
#   NG_BENCH_CG_DIR [/var/cache/nutragenie/bench-cg]  build copy, DocumentDB
#                        cluster, stack and callgrind files (kept for reuse)
#   NG_BENCH_CG_DOCS [50000]   documents of the scan collection
#   NG_BENCH_CG_RUNS [5]       wall-clock runs per variant (median)
#   NG_BENCH_CG_WRITE_DOCS [100000]  rows of the INSERT benchmark (0: skip it)
#   NG_BENCH_CG_CALLGRIND [1]  0: skip the callgrind part (keeps its last results)
#   NG_BENCH_CG_WALL [1]       0: skip the wall-clock part (likewise)
#   NG_BENCH_CG_KEEP_STACK=1   leave the stack ($NG_BENCH_CG_DIR/stack) running
#   MONGODB_URI                a real MongoDB instead of FerretDB 2 + DocumentDB
#                              (its database nutragenie_cg is dropped and reloaded)
set -euo pipefail

ME=$(readlink -f "${BASH_SOURCE[0]}")
ROOT=$(cd "$(dirname "$ME")/.." && pwd)
SUITE=sid
MAJOR=18
CG_DIR=$(realpath -m -- "${NG_BENCH_CG_DIR:-/var/cache/nutragenie/bench-cg}")
export NG_CHROOT_DIR=${NG_BENCH_CHROOT_DIR:-/var/cache/nutragenie/chroot-bench}
export NG_DOCDB_DIR=$CG_DIR/docdb
BUILD=$CG_DIR/build
STACK=$CG_DIR/stack
PG_CONFIG_IN=/usr/lib/postgresql/$MAJOR/bin/pg_config
EXTRA_PACKAGES=("postgresql-$MAJOR-documentdb" "postgresql-$MAJOR-mongo-fdw" valgrind libpq-dev)

say() { printf 'callgrind: %s\n' "$*" >&2; }
die() { printf 'callgrind: ERROR: %s\n' "$*" >&2; exit 1; }

# ------------------------------------------------------------------ inside the chroot
if [[ ${1:-} == --inner ]]; then
    # the build copy: make && make install into the chroot's PostgreSQL 18
    cd "$BUILD"
    NG_SETUP_GO=0 NG_SERVER=documentdb PG_CONFIG=$PG_CONFIG_IN bash test/setup >&2
    mkdir -p bench/out
    # shellcheck disable=SC2046
    cc -O2 -g -Wall -Wno-deprecated-declarations -o bench/out/baseline bench/baseline.c \
        $(pkg-config --cflags --libs mongoc2 libpq 2>/dev/null || pkg-config --cflags --libs libmongoc-1.0 libpq) ||
        die "building bench/baseline.c failed"
    server=documentdb
    [[ -n ${NG_DOCDB_URL:-} ]] || server=ferretdb    # MONGODB_URI: test/stack uses it instead
    stack() { NG_STACK_DIR=$STACK PG_CONFIG=$PG_CONFIG_IN NG_SERVER=$server bash test/stack "$@"; }
    [[ -n ${NG_BENCH_CG_KEEP_STACK:-} ]] || trap 'stack down >/dev/null 2>&1 || true' EXIT
    stack down >/dev/null 2>&1 || true    # a kept stack: its postmaster loads the new build
    envlines=$(stack up) || die "test/stack up failed"
    eval "$envlines"
    export PGHOST PGPORT PGUSER PGDATABASE MONGODB_URI
    say "stack: PostgreSQL $MAJOR on $PGPORT, MONGODB_URI=$MONGODB_URI"
    NG_CG_STACK=$STACK NG_CG_SERVER=$server NG_BENCH_OUT=$BUILD/bench/out PATH=/usr/lib/postgresql/$MAJOR/bin:$PATH \
        python3 bench/callgrind.py
    exit 0
fi

# ------------------------------------------------------------------ on the machine
((EUID == 0)) || die "bench/callgrind.sh must run as root (it uses a chroot)"
START=$SECONDS
mkdir -p "$CG_DIR" "$NG_CHROOT_DIR"
SHARED=/var/cache/nutragenie/chroot/$SUITE
if [[ ! -f $NG_CHROOT_DIR/$SUITE/.ng-chroot-ready && -f $SHARED/.ng-chroot-ready &&
      $(realpath -m "$NG_CHROOT_DIR") != $(realpath -m /var/cache/nutragenie/chroot) ]]; then
    say "copying $SHARED to $NG_CHROOT_DIR/$SUITE"
    rm -rf --one-file-system -- "${NG_CHROOT_DIR:?}/$SUITE.tmp"
    # a shared lock: test/chroot ensure (exclusive) is not installing meanwhile
    (flock -s -w 1800 8 && cp -a "$SHARED" "$NG_CHROOT_DIR/$SUITE.tmp") 8>>"$SHARED.lock" ||
        die "copying $SHARED failed"
    mv "$NG_CHROOT_DIR/$SUITE.tmp" "$NG_CHROOT_DIR/$SUITE"
fi
bash "$ROOT/test/chroot" ensure "$SUITE" "${EXTRA_PACKAGES[@]}" || die "test/chroot ensure failed"

DOCDB_STARTED=
cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    if [[ -n $DOCDB_STARTED ]]; then bash "$ROOT/test/docdb" down >/dev/null 2>&1 || true; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# A MONGODB_URI printed by a test/stack is not an external server.
if [[ -n ${MONGODB_URI:-} && ${MONGODB_URI} == "${NG_STACK_FERRETDB_URI:-}" ]]; then unset MONGODB_URI; fi
unset NG_STACK_FERRETDB_URI NG_DOCDB_URL
if [[ -z ${MONGODB_URI:-} ]]; then
    bash "$ROOT/test/docdb" status >/dev/null 2>&1 || DOCDB_STARTED=1
    lines=$(bash "$ROOT/test/docdb" up) || die "test/docdb up failed"
    eval "$lines"
    export NG_DOCDB_URL
fi

# a fresh build copy (no .git, no build output): files moved or deleted in
# the tree must not linger in it
rm -rf --one-file-system -- "$BUILD"
mkdir -p "$BUILD"
tar -C "$ROOT" --exclude=./.git --exclude=./bench/out --exclude=./bench/node/node_modules \
    --exclude=./results --exclude='*.o' --exclude='*.so' --exclude='*.bc' -cf - . |
    tar -C "$BUILD" -xf -
rm -rf -- "$BUILD/bench/out"
mkdir -p "$BUILD/bench/out"
if [[ -f $ROOT/bench/out/callgrind.json ]]; then cp "$ROOT/bench/out/callgrind.json" "$BUILD/bench/out/"; fi

EXTERNAL=0
[[ -z ${MONGODB_URI:-} ]] || EXTERNAL=1
bash "$ROOT/test/chroot" run "$SUITE" env NG_BENCH_CG_DIR="$CG_DIR" NG_BENCH_EXTERNAL=$EXTERNAL \
    NG_CG_COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || true)" \
    ${NG_DOCDB_URL:+NG_DOCDB_URL="$NG_DOCDB_URL"} \
    bash "$BUILD/bench/callgrind.sh" --inner || die "the benchmark failed inside the chroot"

mkdir -p "$ROOT/bench/out"
cp "$BUILD/bench/out/callgrind.json" "$ROOT/bench/out/callgrind.json"
rm -rf -- "$ROOT/bench/out/callgrind"
cp -r "$BUILD/bench/out/callgrind" "$ROOT/bench/out/callgrind" 2>/dev/null || true
/usr/bin/python3 "$ROOT/bench/report.py" --callgrind "$ROOT/bench/out/callgrind.json"
say "done in $((SECONDS - START)) s: bench/out/callgrind.json, section 6 of docs/benchmarks.md"
