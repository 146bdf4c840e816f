/* nutragenie--1.1--1.2.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION nutragenie UPDATE TO '1.2'" to load this file. \quit

-- 1.2: the hardening release.  Every section below belongs to one concern;
-- keep additions inside their section.

-- ---------------------------------------------------------------------------
-- Internal statements never depend on the caller's search_path; functions
-- run with pinned search_path and least privilege.
-- ---------------------------------------------------------------------------

-- ---------------------------------------------------------------------------
-- Writes that matched nothing are recorded, never silent.
-- ---------------------------------------------------------------------------

-- ---------------------------------------------------------------------------
-- Operations MongoDB keeps failing on leave the queue.
-- ---------------------------------------------------------------------------

-- ---------------------------------------------------------------------------
-- The document cache and EXECUTE grants respect access rights.
-- ---------------------------------------------------------------------------

-- ---------------------------------------------------------------------------
-- Options and credentials.
-- ---------------------------------------------------------------------------

-- What the option validator cannot see (a column's type) is checked when a
-- foreign table of this wrapper is created or altered: a "$$ROOT" column
-- must be json or jsonb.  Planning checks the same again.
CREATE FUNCTION nutragenie_fdw_check_ddl() RETURNS event_trigger
    LANGUAGE C VOLATILE PARALLEL UNSAFE
    AS 'MODULE_PATHNAME', 'nutragenie_fdw_check_ddl';
COMMENT ON FUNCTION nutragenie_fdw_check_ddl() IS
    'event trigger: checks the column options of nutragenie_fdw foreign tables';
REVOKE ALL ON FUNCTION nutragenie_fdw_check_ddl() FROM PUBLIC;
CREATE EVENT TRIGGER nutragenie_fdw_check_ddl ON ddl_command_end
    WHEN TAG IN ('CREATE FOREIGN TABLE', 'ALTER FOREIGN TABLE', 'ALTER TABLE')
    EXECUTE FUNCTION nutragenie_fdw_check_ddl();
COMMENT ON EVENT TRIGGER nutragenie_fdw_check_ddl IS
    'refuses nutragenie_fdw foreign tables whose column options cannot work';

-- ---------------------------------------------------------------------------
-- Derived data (ratings, nutrition analytics) stays exact under concurrency.
-- ---------------------------------------------------------------------------

-- ---------------------------------------------------------------------------
-- Error messages.
-- ---------------------------------------------------------------------------
