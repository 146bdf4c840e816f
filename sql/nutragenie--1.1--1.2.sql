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

-- ---------------------------------------------------------------------------
-- Derived data (ratings, nutrition analytics) stays exact under concurrency.
-- ---------------------------------------------------------------------------

-- ---------------------------------------------------------------------------
-- Error messages.
-- ---------------------------------------------------------------------------
