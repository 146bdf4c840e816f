-- Included (\i, from the repository root, where pg_regress runs) by the
-- tests whose checks depend on what the MongoDB server can do.  With
-- :probe_srv naming a foreign server, it sets the psql
-- booleans has_sample ($sample), has_min_max ($min, $max and $cond in
-- $group) and stores_decimal (Decimal128 and NaN stored), each from a
-- command of our own on a scratch collection ng_probe, and ng_server
-- (NG_SERVER, or empty).  FerretDB 1.x has none of them; MongoDB and
-- FerretDB 2 on DocumentDB have all, and with NG_SERVER=documentdb the
-- server must.  It prints one row, the same on every server.
\getenv ng_server NG_SERVER
\if :{?ng_server}
\else
\set ng_server ''
\endif
CREATE FUNCTION pg_temp.server_runs(srv name, command json) RETURNS bool
LANGUAGE plpgsql AS $$
DECLARE
    reply jsonb;
BEGIN
    reply := nutragenie_fdw.run_command(srv, command);
    RETURN NOT reply ? 'writeErrors';
EXCEPTION WHEN OTHERS THEN
    RETURN false;
END $$;
SELECT pg_temp.server_runs(:'probe_srv', '{"drop": "ng_probe"}') IS NOT NULL AS dropped,
       pg_temp.server_runs(:'probe_srv', '{"insert": "ng_probe", "documents": [{"_id": 1, "n": 1}]}') AS inserted
\gset
SELECT pg_temp.server_runs(:'probe_srv', '{"aggregate": "ng_probe", "cursor": {},
           "pipeline": [{"$sample": {"size": 1}}]}') AS has_sample,
       pg_temp.server_runs(:'probe_srv', '{"aggregate": "ng_probe", "cursor": {},
           "pipeline": [{"$group": {"_id": null, "lo": {"$min": "$n"}, "hi": {"$max": "$n"},
                                    "c": {"$sum": {"$cond": [{"$gt": ["$n", null]}, 1, 0]}}}}]}') AS has_min_max,
       pg_temp.server_runs(:'probe_srv', '{"insert": "ng_probe", "documents": [
           {"_id": 2, "d": {"$numberDecimal": "-2.50"}, "f": {"$numberDouble": "NaN"}}]}') AS stores_decimal
\gset
SELECT pg_temp.server_runs(:'probe_srv', '{"drop": "ng_probe"}') AND :'inserted'::bool AS probed,
       (:'has_sample'::bool AND :'has_min_max'::bool AND :'stores_decimal'::bool)
       OR :'ng_server' <> 'documentdb' AS server_as_expected;
