#!/usr/bin/env bash
# phase-1 harness: a fresh database "draft" with nutragenie 1.2 + the drafts
set -euo pipefail
cd "$(dirname "$0")"
psql -X -q -d nutragenie -c 'DROP DATABASE IF EXISTS draft WITH (FORCE)' -c 'CREATE DATABASE draft'
psql -X -q -d draft -c 'CREATE EXTENSION nutragenie'
./load.sh | psql -X -q -1 -v ON_ERROR_STOP=1 -d draft
