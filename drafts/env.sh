export PGHOST=/tmp/ngstack-app14/pg/socket PGPORT=40153 PGUSER=postgres PGDATABASE=draft MONGODB_URI=mongodb://127.0.0.1:46715/
export PG_CONFIG=/opt/ngpg/app14/usr/lib/postgresql/15/bin/pg_config
