/* nutragenie--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION nutragenie UPDATE TO '1.1'" to load this file. \quit

-- The statement-time check for queued operations on the documents a
-- statement writes (src/modify.c, ng_outbox_check_queued) asks
--   serverid = $1 AND database = $2 AND collection = $3 AND doc_id = ANY ($4)
-- With doc_id last in the index, the ANY was evaluated as a filter over
-- every queued row of the collection, once per statement or batch: a COPY
-- or a long transaction went quadratic.  Lead with doc_id, which alone
-- nearly identifies a row.  The applier reads and deletes by seq (the
-- primary key) and does not use this index.

DROP INDEX outbox_document_idx;
CREATE INDEX outbox_document_idx ON outbox (doc_id, collection, database, serverid);
