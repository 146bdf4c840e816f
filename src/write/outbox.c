/*-------------------------------------------------------------------------
 *
 * outbox.c
 *		  Queuing write operations: one outbox statement per batch, and the
 *		  statement-time questions asked of the outbox and of MongoDB.
 *
 * ng_modify_outbox_append inserts one row per operation into
 * nutragenie_fdw.outbox in the user's transaction.  Before that, a statement
 * asks whether another transaction has operations queued on the same
 * documents (MongoDB's copy is then stale: serialization_failure) and, for
 * an INSERT, which _ids already exist in MongoDB (one find per batch).
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/write/outbox.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/copy.h"
#if PG_VERSION_NUM < 160000
#include "commands/copyfrom_internal.h"
#endif
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/appendinfo.h"
#include "optimizer/inherit.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "parser/parsetree.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "write/modify_int.h"

/* What existing_ids asks and learns, for its find's callback. */
typedef struct NgExistingIds
{
	bson_t	  **ids;			/* {"_id": v} documents */
	int			n;
	bool	   *exists;			/* set for each one found */
} NgExistingIds;

static void note_existing_id(const bson_t *doc, void *arg);

/*
 * Which of the n documents {"_id": v} exist in MongoDB: one find, with
 * {"_id": v} for one scalar _id (servers such as FerretDB answer that
 * from their _id index far faster than an $in) and $in otherwise.  An _id
 * that is a document, an array or a regex keeps $in, where it means
 * equality and not an operator expression or a pattern.
 */
void
ng_modify_existing_ids(NgModifyState *ms, bson_t **ids, int n, bool *exists)
{
	bson_t		filter;
	bson_t		in;
	bson_t		arr;
	bson_iter_t one;
	bson_error_t error;
	int			i;
	NgExistingIds found;

	memset(exists, 0, sizeof(bool) * n);
	ng_modify_ensure_remote(ms);

	bson_init(&filter);
	if (n == 1 && bson_iter_init_find(&one, ids[0], "_id") &&
		!BSON_ITER_HOLDS_DOCUMENT(&one) && !BSON_ITER_HOLDS_ARRAY(&one) &&
		!BSON_ITER_HOLDS_REGEX(&one))
		bson_append_iter(&filter, "_id", 3, &one);
	else
	{
		bson_append_document_begin(&filter, "_id", 3, &in);
		bson_append_array_unsafe_begin(&in, "$in", 3, &arr);
		for (i = 0; i < n; i++)
		{
			bson_iter_t it;
			char		key[16];
			const char *keyp;

			bson_uint32_to_string(i, &keyp, key, sizeof(key));
			if (bson_iter_init_find(&it, ids[i], "_id"))
				bson_append_iter(&arr, keyp, -1, &it);
		}
		bson_append_array_end(&in, &arr);
		bson_append_document_end(&filter, &in);
	}

	found.ids = ids;
	found.n = n;
	found.exists = exists;
	if (!ng_conn_find_ids(ms->conn, ms->opts->database, ms->opts->collection,
						  &filter, note_existing_id, &found, &error))
		ng_conn_report_error(ms->conn, &error,
							 psprintf("check for existing documents in collection \"%s.%s\"",
									  ms->opts->database, ms->opts->collection));
}

/*
 * note_existing_id
 *		ng_modify_existing_ids' callback: mark the asked _ids equal to a found
 *		document's.
 */
static void
note_existing_id(const bson_t *doc, void *arg)
{
	NgExistingIds *found = (NgExistingIds *) arg;
	bson_t		id;
	int			i;

	bson_init(&id);
	ng_modify_document_id(doc, &id);
	for (i = 0; i < found->n; i++)
	{
		if (found->ids[i]->len == id.len &&
			memcmp(bson_get_data(found->ids[i]), bson_get_data(&id),
				   id.len) == 0)
			found->exists[i] = true;
	}
	bson_destroy(&id);
}

/*
 * The outbox statements of this backend, prepared on first use.
 */
static SPIPlanPtr outbox_insert_plan = NULL;
static SPIPlanPtr outbox_queued_plan = NULL;

/*
 * Run an outbox statement through ng_internal_sql_execute (as the owner of
 * the outbox, which users cannot write directly, with a pinned
 * search_path).  Returns the int4 of the first row when returns_count.
 */
static int
run_outbox_plan(SPIPlanPtr *planp, const char *sql, int nargs, Oid *argtypes,
				Datum *values, bool returns_count)
{
	int			ret;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/*
	 * Not read-only, so that READ COMMITTED takes a new snapshot: a count of
	 * queued operations must see the deletions the applier committed while
	 * this statement waited for a document lock.
	 */
	(void) ng_internal_sql_execute(planp, sql, nargs, argtypes, values, NULL,
								   false);
	if (returns_count && SPI_processed > 0)
	{
		bool		isnull;

		ret = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
										  SPI_tuptable->tupdesc, 1, &isnull));
	}
	else
		ret = 0;
	SPI_finish();
	return ret;
}

static Datum
bson_array_datum(bson_t **docs, int n)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(n, 1));
	int			dims[1] = {n};
	int			lbs[1] = {1};
	int			i;

	for (i = 0; i < n; i++)
	{
		if (docs[i] == NULL)
		{
			nulls[i] = true;
			elems[i] = (Datum) 0;
			continue;
		}
		nulls[i] = false;
		elems[i] = PointerGetDatum(cstring_to_text_with_len((const char *) bson_get_data(docs[i]),
															docs[i]->len));
		SET_VARSIZE(DatumGetPointer(elems[i]), docs[i]->len + VARHDRSZ);
	}
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs,
											  BYTEAOID, -1, false, TYPALIGN_INT));
}

/*
 * Refuse documents that another transaction changed and whose change is
 * still queued: MongoDB's copy of them is stale.  ids are {"_id": v}
 * documents of the table's collection.
 */
void
ng_outbox_check_queued(NgTableOptions *opts, bson_t **ids, int n)
{
	Oid			argtypes[4] = {OIDOID, TEXTOID, TEXTOID, BYTEAARRAYOID};
	Datum		values[4];
	int			count;

	values[0] = ObjectIdGetDatum(opts->serverid);
	values[1] = CStringGetTextDatum(opts->database);
	values[2] = CStringGetTextDatum(opts->collection);
	values[3] = bson_array_datum(ids, n);
	count = run_outbox_plan(&outbox_queued_plan,
							"SELECT pg_catalog.count(*)::pg_catalog.int4"
							" FROM " NG_SCHEMA_NAME ".outbox"
							" WHERE serverid OPERATOR(pg_catalog.=) $1"
							" AND database OPERATOR(pg_catalog.=) $2"
							" AND collection OPERATOR(pg_catalog.=) $3"
							" AND doc_id OPERATOR(pg_catalog.=) ANY ($4)"
							" AND xid OPERATOR(pg_catalog.<>) pg_catalog.pg_current_xact_id()",
							4, argtypes, values, true);
	if (count > 0)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not serialize access to a document of collection \"%s.%s\"",
						opts->database, opts->collection),
				 errdetail("Changes committed by another transaction have not been applied to MongoDB yet."),
				 errhint("Retry the transaction once MongoDB is reachable; see nutragenie_fdw.write_queue.")));
}

/*
 * Put n operations into the outbox, in order.
 */
void
ng_modify_outbox_append(NgModifyState *ms, char op, bson_t **ids,
						bson_t **bodies, int n)
{
	Oid			argtypes[7] = {OIDOID, OIDOID, TEXTOID, TEXTOID, CHAROID,
	BYTEAARRAYOID, BYTEAARRAYOID};
	Datum		values[7];
	Oid			userid = OidIsValid(ms->opts->userid) ? ms->opts->userid : GetUserId();

	values[0] = ObjectIdGetDatum(ms->opts->serverid);
	values[1] = ObjectIdGetDatum(userid);
	values[2] = CStringGetTextDatum(ms->opts->database);
	values[3] = CStringGetTextDatum(ms->opts->collection);
	values[4] = CharGetDatum(op);
	values[5] = bson_array_datum(ids, n);
	values[6] = bson_array_datum(bodies, n);
	(void) run_outbox_plan(&outbox_insert_plan,
						   "INSERT INTO " NG_SCHEMA_NAME ".outbox"
						   " (serverid, userid, database, collection, op, doc_id, body)"
						   " SELECT $1, $2, $3, $4, $5, i.id, i.body"
						   " FROM ROWS FROM (pg_catalog.unnest($6::pg_catalog.bytea[]),"
						   " pg_catalog.unnest($7::pg_catalog.bytea[]))"
						   " WITH ORDINALITY AS i(id, body, n)"
						   " ORDER BY i.n",
						   7, argtypes, values, false);
	ng_xact_note_outbox_write();
}
