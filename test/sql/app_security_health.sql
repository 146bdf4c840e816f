-- Security: ng_health for a role that may not read the write queue (the
-- outbox and the dead letters) or execute nutragenie_fdw.run_command, which PUBLIC may
-- not: the health of both stores, with what it may not see NULL and a note
-- saying which privilege would show it, rather than "permission denied" or
-- a MongoDB "ok": false.  A role with those privileges sees it all.
\getenv mongo_uri MONGODB_URI
CREATE SCHEMA security_health;
CREATE SERVER sec_health_srv FOREIGN DATA WRAPPER nutragenie_fdw OPTIONS (uri :'mongo_uri');
CREATE USER MAPPING FOR CURRENT_USER SERVER sec_health_srv;
SELECT nutragenie.ng_attach_mongo('sec_health_srv', 'ng_sec_health') ->> 'database' AS attached;
-- the writeQueue and mongodb members: their value's type, or the note
CREATE FUNCTION security_health.health() RETURNS TABLE (member text, key text, value text)
LANGUAGE sql AS $$
    SELECT m, k, CASE k WHEN 'note' THEN h -> m ->> k ELSE jsonb_typeof(h -> m -> k) END
    FROM (SELECT nutragenie.ng_health() AS h) s,
         unnest(ARRAY['writeQueue', 'mongodb']) m,
         jsonb_object_keys(h -> m) k
    WHERE k NOT IN ('server', 'database')
    UNION ALL
    SELECT 'status', NULL, h ->> 'status' FROM (SELECT nutragenie.ng_health() AS h) s
$$;
CREATE ROLE sec_health_user NOLOGIN;
GRANT USAGE ON SCHEMA nutragenie, security_health TO sec_health_user;
GRANT SELECT ON nutragenie.users, nutragenie.mongo_attachment TO sec_health_user;
GRANT USAGE ON FOREIGN SERVER sec_health_srv TO sec_health_user;
CREATE USER MAPPING FOR sec_health_user SERVER sec_health_srv OPTIONS (password_required 'false');

-- the extension's owner: numbers, and MongoDB pinged
SELECT * FROM security_health.health() ORDER BY member, key;

-- a role with neither privilege: notes, no error
SET ROLE sec_health_user;
SELECT * FROM security_health.health() ORDER BY member, key;
\set VERBOSITY terse
SELECT * FROM nutragenie_fdw.write_queue_status();
\set VERBOSITY default
RESET ROLE;

-- SELECT on the outbox alone is not enough (the dead letters are counted
-- too); with both, and EXECUTE on nutragenie_fdw.run_command, the role sees it all
GRANT SELECT ON nutragenie_fdw.outbox TO sec_health_user;
SET ROLE sec_health_user;
SELECT nutragenie.ng_health() #> '{writeQueue,pending}' AS pending;
RESET ROLE;
GRANT SELECT ON nutragenie_fdw.dead_letters TO sec_health_user;
GRANT EXECUTE ON FUNCTION nutragenie_fdw.run_command(name, json, text) TO sec_health_user;
SET ROLE sec_health_user;
SELECT * FROM security_health.health() ORDER BY member, key;
RESET ROLE;

REVOKE ALL ON nutragenie.users, nutragenie.mongo_attachment, nutragenie_fdw.outbox,
              nutragenie_fdw.dead_letters FROM sec_health_user;
REVOKE EXECUTE ON FUNCTION nutragenie_fdw.run_command(name, json, text) FROM sec_health_user;
REVOKE USAGE ON SCHEMA nutragenie FROM sec_health_user;
SELECT nutragenie_fdw.run_command('sec_health_srv', '{"dropDatabase": 1}', 'ng_sec_health') ->> 'ok' AS dropped;
SELECT nutragenie.ng_detach_mongo() IS NOT NULL AS detached;
SET client_min_messages = warning;
DROP SERVER sec_health_srv CASCADE;
DROP SCHEMA security_health CASCADE;
RESET client_min_messages;
DROP ROLE sec_health_user;
