#!/usr/bin/env bash
# phase-1 harness: load the drafts on top of an installed nutragenie 1.2
set -euo pipefail
cd "$(dirname "$0")/app"
{
  echo 'CREATE EXTENSION IF NOT EXISTS pgcrypto SCHEMA public;'
  for f in fixes events recipes_more users_more sessions_more payments chat recommend roles create seed; do
    [[ -f $f.sql ]] && cat $f.sql
  done
} | grep -v pg_extension_config_dump | sed -e 's/@extschema@/nutragenie/g' -e 's/@fdw@/nutragenie/g' -e 's/@crypto@/public/g'
