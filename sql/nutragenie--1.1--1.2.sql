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

-- The applier moves an update or delete that matched no document (another
-- client deleted it after the statement read it) to the dead letters, with
-- the error "update matched no document: ..." and no error_code.  An
-- UPDATE of a $$ROOT column is queued as op 'u' with the whole document
-- as its body (a replace) instead of 'i'; rows queued as 'i' by 1.1 are
-- still applied as before.
COMMENT ON TABLE @extschema@.dead_letters IS 'MongoDB operations that MongoDB rejected, or that matched no document, after their transaction committed';
COMMENT ON VIEW @extschema@.dead_letter_queue IS 'MongoDB operations MongoDB rejected, or that matched no document, after commit, with the reason';

-- ---------------------------------------------------------------------------
-- Operations MongoDB keeps failing on leave the queue.
-- ---------------------------------------------------------------------------

-- ---------------------------------------------------------------------------
-- The document cache and EXECUTE grants respect access rights.
-- ---------------------------------------------------------------------------

-- ---------------------------------------------------------------------------
-- Options and credentials.
-- ---------------------------------------------------------------------------

-- ---------------------------------------------------------------------------
-- Derived data (ratings, nutrition analytics) stays exact under concurrency.
-- ---------------------------------------------------------------------------

-- ---------------------------------------------------------------------------
-- Error messages.
-- ---------------------------------------------------------------------------
