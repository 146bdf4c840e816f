/*-------------------------------------------------------------------------
 *
 * scan.c
 *		  Executor callbacks that stream a MongoDB find into tuples.
 *
 * One find per scan (and per rescan, with the new parameter values): the
 * filter is built from the pushed conditions once their run-time values are
 * known, the projection from the columns the plan needs.  The cursor pulls
 * batch_size documents per round trip, so memory stays flat however large
 * the collection; each document is converted in a per-row context that is
 * reset before the next one.
 *
 * The cursor, the collection handle and the borrowed connection are owned
 * by the scan state and released from a reset callback on its memory
 * context, so an error at any point (a conversion error, a cancel, a lost
 * connection) still frees the driver objects.  Cursor errors are checked
 * after the loop: a failed query is an error, never an empty result.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/scan.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "ng_remote.h"

/* A column the scan converts, with its path split for fast matching. */
typedef struct NgScanColumn
{
	NgColumn   *col;
	int			attidx;			/* attnum - 1 */
	const char *first;			/* first path segment */
	int			firstlen;
	const char *rest;			/* remaining path after the first dot, or
								 * NULL */
	NgConverter conv;
} NgScanColumn;

/* A run-time value expression of the pushed conditions and its state. */
typedef struct NgParamSlot
{
	Expr	   *expr;
	ExprState  *state;
} NgParamSlot;

typedef struct NgScanState
{
	NgTableOptions *opts;
	List	   *remote_exprs;	/* pushed conditions (fdw_exprs) */
	PlanState  *ps;
	MemoryContext scan_cxt;		/* holds this struct; its reset frees the
								 * driver objects */
	MemoryContext row_cxt;		/* per document */

	NgConnEntry *conn;
	mongoc_collection_t *coll;
	mongoc_cursor_t *cursor;

	List	   *params;			/* NgParamSlot * */

	int			ncols;			/* columns of documents MongoDB filtered */
	int			nallcols;		/* plus those only pushed conditions use */
	NgScanColumn *cols;
	bool	   *found;

	/* for the error context callback */
	const bson_t *doc;
	NgScanColumn *current;

	uint64		docs_fetched;
	int			finds;
	bool		coll_verified;	/* the collection is known to exist */

	/* writes: the transaction's own documents, and UPDATE/DELETE targets */
	ExprState  *remote_qual;	/* pushed conditions, evaluated locally */
	bool		is_target;		/* scanning the table an UPDATE/DELETE
								 * changes */
	bool		overlay;		/* the transaction wrote this collection */
	bool		mongo_done;		/* the cursor is exhausted */
	List	   *overlay_items;	/* NgOverlayItem * still to return */
} NgScanState;

static void release_driver_objects(void *arg);
static void start_query(NgScanState *st);
static void build_command(NgScanState *st, bson_t *filter, bson_t *projection,
						  NgParamEval eval);
static Datum eval_param(void *arg, Expr *expr, bool *isnull);
static void convert_document(NgScanState *st, const bson_t *doc,
							 TupleTableSlot *slot, int ncols);
static void convert_path(NgScanState *st, NgScanColumn *sc,
						 bson_iter_t *iter, Datum *value, bool *isnull);
static void conversion_error_callback(void *arg);
static void verify_collection(NgScanState *st);
static bool lock_and_reread(NgScanState *st, const bson_t *doc,
							bson_t *fresh);
static bool pushed_conditions_hold(NgScanState *st, TupleTableSlot *slot);

/*
 * Set up the scan state.  No connection is made here: EXPLAIN without
 * ANALYZE never talks to the server, and a scan that is never read never
 * sends a query.
 */
void
ngBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	MemoryContext scan_cxt;
	MemoryContext oldcxt;
	NgScanState *st;
	List	   *retrieved;
	ListCell   *lc;
	int			i;
	MemoryContextCallback *cb;

	scan_cxt = AllocSetContextCreate(CurrentMemoryContext,
									 "nutragenie scan",
									 ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(scan_cxt);

	st = palloc0(sizeof(NgScanState));
	st->scan_cxt = scan_cxt;
	st->ps = &node->ss.ps;
	st->opts = ng_options_from_list(list_nth(fsplan->fdw_private,
											 NgScanPrivateOptions));
	st->remote_exprs = fsplan->fdw_exprs;
	node->fdw_state = st;

	cb = palloc0(sizeof(MemoryContextCallback));
	cb->func = release_driver_objects;
	cb->arg = st;
	MemoryContextRegisterResetCallback(scan_cxt, cb);

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
	{
		MemoryContextSwitchTo(oldcxt);
		return;
	}

	st->row_cxt = AllocSetContextCreate(scan_cxt, "nutragenie row",
										ALLOCSET_DEFAULT_SIZES);
	st->remote_qual = ExecInitQual(fsplan->fdw_exprs, &node->ss.ps);
	st->is_target = fsplan->scan.scanrelid > 0 &&
		ExecRelationIsTargetRelation(node->ss.ps.state, fsplan->scan.scanrelid);

	retrieved = list_nth(fsplan->fdw_private, NgScanPrivateRetrieved);
	st->ncols = list_length(retrieved);
	retrieved = list_concat_copy(retrieved,
								 list_nth(fsplan->fdw_private,
										  NgScanPrivateCondColumns));
	st->nallcols = list_length(retrieved);
	st->cols = palloc0(sizeof(NgScanColumn) * Max(st->nallcols, 1));
	st->found = palloc0(sizeof(bool) * Max(st->nallcols, 1));

	i = 0;
	foreach(lc, retrieved)
	{
		NgScanColumn *sc = &st->cols[i++];
		NgColumn   *col = ng_options_column(st->opts, intVal(lfirst(lc)));
		const char *dot;

		sc->col = col;
		sc->attidx = col->attnum - 1;
		sc->first = col->field;
		dot = strchr(col->field, '.');
		sc->firstlen = dot ? (int) (dot - col->field) : (int) strlen(col->field);
		sc->rest = dot ? dot + 1 : NULL;
		ng_converter_init(&sc->conv, col->typid, col->typmod,
						  col->mismatch, col->json_mode);
	}

	MemoryContextSwitchTo(oldcxt);
}

/*
 * Free the cursor and collection and give the connection back.  Runs at
 * EndForeignScan and, through the memory context callback, on error.
 */
static void
release_driver_objects(void *arg)
{
	NgScanState *st = (NgScanState *) arg;

	if (st->cursor != NULL)
	{
		mongoc_cursor_destroy(st->cursor);
		st->cursor = NULL;
	}
	if (st->coll != NULL)
	{
		mongoc_collection_destroy(st->coll);
		st->coll = NULL;
	}
	if (st->conn != NULL)
	{
		ng_conn_release(st->conn);
		st->conn = NULL;
	}
}

/*
 * Evaluate a Param (or other run-time value) of a pushed condition in the
 * scan's expression context.  ExprStates are made once per scan.
 */
static Datum
eval_param(void *arg, Expr *expr, bool *isnull)
{
	NgScanState *st = (NgScanState *) arg;
	NgParamSlot *slot = NULL;
	ListCell   *lc;

	foreach(lc, st->params)
	{
		NgParamSlot *p = (NgParamSlot *) lfirst(lc);

		if (p->expr == expr)
		{
			slot = p;
			break;
		}
	}
	if (slot == NULL)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(st->scan_cxt);

		slot = palloc(sizeof(NgParamSlot));
		slot->expr = expr;
		slot->state = ExecInitExpr(expr, st->ps);
		st->params = lappend(st->params, slot);
		MemoryContextSwitchTo(oldcxt);
	}

	return ExecEvalExpr(slot->state, st->ps->ps_ExprContext, isnull);
}

/*
 * Build the filter and projection documents of this scan's find.  With
 * eval NULL, run-time values print as placeholders (EXPLAIN).
 */
static void
build_command(NgScanState *st, bson_t *filter, bson_t *projection,
			  NgParamEval eval)
{
	Bitmapset  *attrs = NULL;
	int			i;

	ng_deparse_filter(filter, st->opts, st->remote_exprs, eval, st);

	for (i = 0; i < st->ncols; i++)
		attrs = bms_add_member(attrs, st->cols[i].col->attnum -
							   FirstLowInvalidHeapAttributeNumber);
	ng_deparse_projection(projection, st->opts, attrs);
}

/*
 * Send the find.  Called at the first fetch and after each rescan.
 */
static void
start_query(NgScanState *st)
{
	bson_t		filter;
	bson_t		opts;
	bson_t		projection;

	if (st->conn == NULL)
		st->conn = ng_conn_get(st->opts->serverid, st->opts->userid);
	if (st->coll == NULL)
		st->coll = mongoc_client_get_collection(ng_conn_client(st->conn),
												st->opts->database,
												st->opts->collection);

	/*
	 * The transaction's own documents as they are now: documents this very
	 * statement writes or re-reads later must not come back a second time.
	 */
	{
		MemoryContext cxt = MemoryContextSwitchTo(st->scan_cxt);

		st->overlay_items = ng_xact_collection_documents(st->opts);
		MemoryContextSwitchTo(cxt);
	}
	st->overlay = ng_xact_has_documents(st->opts);
	st->mongo_done = false;

	bson_init(&filter);
	bson_init(&opts);
	bson_init(&projection);
	PG_TRY();
	{
		build_command(st, &filter, &projection, eval_param);
		if (!bson_empty(&projection))
			BSON_APPEND_DOCUMENT(&opts, "projection", &projection);
		BSON_APPEND_INT32(&opts, "batchSize", st->opts->batch_size);
		st->cursor = mongoc_collection_find_with_opts(st->coll, &filter,
													  &opts, NULL);
	}
	PG_FINALLY();
	{
		bson_destroy(&filter);
		bson_destroy(&opts);
		bson_destroy(&projection);
	}
	PG_END_TRY();
	st->finds++;
}

/*
 * Return the next document as a tuple, or an empty slot at the end.
 *
 * Documents this transaction wrote come from its overlay instead of
 * MongoDB: MongoDB's copies are skipped, and the overlay's versions that
 * satisfy the pushed conditions follow the cursor's documents.  For the
 * table an UPDATE or DELETE changes, each document is locked and re-read
 * before it is returned, so that concurrent writers serialize.
 */
TupleTableSlot *
ngIterateForeignScan(ForeignScanState *node)
{
	NgScanState *st = (NgScanState *) node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	const bson_t *doc;
	MemoryContext oldcxt;
	bool		have_row = false;

	MemoryContextReset(st->row_cxt);
	oldcxt = MemoryContextSwitchTo(st->row_cxt);

	if (st->cursor == NULL && !st->mongo_done)
		start_query(st);

	for (;;)
	{
		ExecClearTuple(slot);

		if (!st->mongo_done)
		{
			bson_t		fresh;

			if (!mongoc_cursor_next(st->cursor, &doc))
			{
				bson_error_t error;

				if (mongoc_cursor_error(st->cursor, &error))
				{
					char	   *action;

					mongoc_cursor_destroy(st->cursor);
					st->cursor = NULL;
					action = psprintf("read collection \"%s.%s\" for foreign table \"%s\"",
									  st->opts->database, st->opts->collection,
									  st->opts->relname);
					ng_conn_report_error(st->conn, &error, action);
				}
				if (st->docs_fetched == 0 && !st->coll_verified && !st->overlay)
					verify_collection(st);
				st->mongo_done = true;
				continue;
			}
			st->docs_fetched++;
			CHECK_FOR_INTERRUPTS();

			if (!st->overlay && !st->is_target)
			{
				convert_document(st, doc, slot, st->ncols);
				ExecStoreVirtualTuple(slot);
				have_row = true;
				break;
			}

			{
				bson_t		iddoc;
				bson_iter_t it;
				const uint8 *data;
				uint32		len;
				bool		deleted;
				bool		known;

				bson_init(&iddoc);
				if (bson_iter_init_find(&it, doc, "_id"))
					bson_append_iter(&iddoc, "_id", 3, &it);
				known = ng_xact_lookup(st->opts, bson_get_data(&iddoc),
									   iddoc.len, &data, &len, &deleted);
				bson_destroy(&iddoc);
				if (known)
					continue;	/* the overlay's version comes later */
			}

			if (!lock_and_reread(st, doc, &fresh))
				continue;
			convert_document(st, &fresh, slot,
							 st->is_target ? st->nallcols : st->ncols);
			ExecStoreVirtualTuple(slot);
			if (!pushed_conditions_hold(st, slot))
				continue;
			have_row = true;
			break;
		}

		if (st->overlay_items == NIL)
			break;
		{
			NgOverlayItem *item = (NgOverlayItem *) linitial(st->overlay_items);
			bson_t		odoc;

			st->overlay_items = list_delete_first(st->overlay_items);
			bson_init_static(&odoc, item->data, item->len);
			convert_document(st, &odoc, slot, st->nallcols);
			ExecStoreVirtualTuple(slot);
			if (!pushed_conditions_hold(st, slot))
				continue;
			have_row = true;
			break;
		}
	}

	if (!have_row)
		ExecClearTuple(slot);

	MemoryContextSwitchTo(oldcxt);
	return slot;
}

/*
 * For a document the scan would return: if this scan feeds an UPDATE or
 * DELETE, lock it, refuse it if another transaction's changes to it are
 * still queued, and re-read it, since a writer may have committed a change
 * between the find and the lock.  The fresh version goes into the overlay
 * (as a read, not a write) and *fresh points at it.  Otherwise *fresh is
 * the document as found.  Returns false if the document is gone.
 */
static bool
lock_and_reread(NgScanState *st, const bson_t *doc, bson_t *fresh)
{
	bson_t		iddoc;
	bson_t	   *ids[1];
	bson_t		opts;
	mongoc_cursor_t *cursor;
	const bson_t *found;
	bson_error_t error;
	bool		failed;
	bool		exists = false;
	const uint8 *data;
	uint32		len;
	bool		deleted;
	bson_iter_t it;

	if (!st->is_target)
	{
		bson_init_static(fresh, bson_get_data(doc), doc->len);
		return true;
	}

	bson_init(&iddoc);
	if (bson_iter_init_find(&it, doc, "_id"))
		bson_append_iter(&iddoc, "_id", 3, &it);
	ids[0] = &iddoc;

	PG_TRY();
	{
		ng_xact_lock_document(st->opts, bson_get_data(&iddoc), iddoc.len);
		ng_outbox_check_queued(st->opts, ids, 1);
	}
	PG_CATCH();
	{
		bson_destroy(&iddoc);
		PG_RE_THROW();
	}
	PG_END_TRY();

	bson_init(&opts);
	BSON_APPEND_INT32(&opts, "limit", 1);
	cursor = mongoc_collection_find_with_opts(st->coll, &iddoc, &opts, NULL);
	bson_destroy(&opts);
	if (mongoc_cursor_next(cursor, &found))
	{
		ng_xact_record_document(st->opts, bson_get_data(&iddoc), iddoc.len,
								found, false);
		exists = true;
	}
	failed = mongoc_cursor_error(cursor, &error);
	mongoc_cursor_destroy(cursor);
	if (failed)
	{
		bson_destroy(&iddoc);
		ng_conn_report_error(st->conn, &error,
							 psprintf("re-read a document of collection \"%s.%s\"",
									  st->opts->database, st->opts->collection));
	}
	if (exists &&
		ng_xact_lookup(st->opts, bson_get_data(&iddoc), iddoc.len,
					   &data, &len, &deleted) && !deleted)
		bson_init_static(fresh, data, len);
	else
		exists = false;
	bson_destroy(&iddoc);
	return exists;
}

/*
 * Do the pushed conditions hold for the row in slot?  Needed for rows
 * MongoDB did not filter: the overlay's, and fresh re-reads.
 */
static bool
pushed_conditions_hold(NgScanState *st, TupleTableSlot *slot)
{
	ExprContext *econtext = st->ps->ps_ExprContext;

	if (st->remote_qual == NULL)
		return true;
	econtext->ecxt_scantuple = slot;
	return ExecQual(st->remote_qual, econtext);
}

/*
 * MongoDB answers a find on a collection that does not exist with no
 * documents.  A misspelt collection option must not pass for an empty
 * table, so an empty first result is followed by one existence check.
 */
static void
verify_collection(NgScanState *st)
{
	mongoc_database_t *db;
	bson_error_t error;
	bool		exists;

	db = mongoc_client_get_database(ng_conn_client(st->conn),
									st->opts->database);
	exists = mongoc_database_has_collection(db, st->opts->collection, &error);
	mongoc_database_destroy(db);

	if (!exists && error.code != 0)
		ng_conn_report_error(st->conn, &error,
							 psprintf("list the collections of database \"%s\"",
									  st->opts->database));
	if (!exists)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
				 errmsg("collection \"%s\" of foreign table \"%s\" does not exist in database \"%s\"",
						st->opts->collection, st->opts->relname,
						st->opts->database),
				 errhint("Check the \"collection\" and \"database\" options of the foreign table, or create the collection.")));
	st->coll_verified = true;
}

/*
 * Fill the slot's values from one document: one pass over its top-level
 * keys, descending only into those a column path starts with.  ncols is how
 * many of st->cols to convert: the plan's output columns come first, then
 * those only the pushed conditions use, needed for documents MongoDB did
 * not filter.
 */
static void
convert_document(NgScanState *st, const bson_t *doc, TupleTableSlot *slot,
				 int ncols)
{
	Datum	   *values = slot->tts_values;
	bool	   *isnull = slot->tts_isnull;
	ErrorContextCallback errcallback;
	bson_iter_t iter;
	int			remaining = 0;
	int			i;

	memset(isnull, true, sizeof(bool) * slot->tts_tupleDescriptor->natts);

	st->doc = doc;
	st->current = NULL;
	errcallback.callback = conversion_error_callback;
	errcallback.arg = st;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	for (i = 0; i < ncols; i++)
	{
		NgScanColumn *sc = &st->cols[i];

		if (sc->col->is_root)
		{
			st->current = sc;
			values[sc->attidx] = ng_bson_document_to_datum(&sc->conv, doc,
															&isnull[sc->attidx]);
			st->found[i] = true;
		}
		else
		{
			st->found[i] = false;
			remaining++;
		}
	}

	if (remaining > 0 && bson_iter_init(&iter, doc))
	{
		while (remaining > 0 && bson_iter_next(&iter))
		{
			const char *key = bson_iter_key(&iter);
			int			keylen = (int) bson_iter_key_len(&iter);

			for (i = 0; i < ncols; i++)
			{
				NgScanColumn *sc = &st->cols[i];

				if (st->found[i] || sc->firstlen != keylen ||
					memcmp(sc->first, key, keylen) != 0)
					continue;

				st->found[i] = true;
				remaining--;
				st->current = sc;
				if (sc->rest == NULL)
					values[sc->attidx] = ng_bson_to_datum(&sc->conv, &iter,
														  &isnull[sc->attidx]);
				else
					convert_path(st, sc, &iter, &values[sc->attidx],
								 &isnull[sc->attidx]);
			}
		}
	}

	error_context_stack = errcallback.previous;
	st->doc = NULL;
	st->current = NULL;
}

/*
 * Follow the rest of a dotted path from the value at iter.  A missing
 * segment, or one under a scalar, is SQL NULL (MongoDB also reports such a
 * path as missing).  A path through an array is a mismatch: MongoDB would
 * match it element-wise, and a column holds one value.
 */
static void
convert_path(NgScanState *st, NgScanColumn *sc, bson_iter_t *iter,
			 Datum *value, bool *isnull)
{
	bson_iter_t cur = *iter;
	const char *seg = sc->rest;

	for (;;)
	{
		const char *dot = strchr(seg, '.');
		int			len = dot ? (int) (dot - seg) : (int) strlen(seg);
		bson_iter_t child;

		if (BSON_ITER_HOLDS_ARRAY(&cur))
		{
			*isnull = true;
			if (sc->col->mismatch == NG_MISMATCH_NULL)
				return;
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("field path \"%s\" crosses an array", sc->col->field),
					 errhint("Map the array to an array or jsonb column, or choose a path without arrays.")));
		}
		if (!BSON_ITER_HOLDS_DOCUMENT(&cur) || !bson_iter_recurse(&cur, &child) ||
			!bson_iter_find_w_len(&child, seg, len))
		{
			*isnull = true;
			return;
		}
		cur = child;
		if (dot == NULL)
			break;
		seg = dot + 1;
	}

	*value = ng_bson_to_datum(&sc->conv, &cur, isnull);
}

/*
 * Error context for conversions: which column, table, field and document.
 */
static void
conversion_error_callback(void *arg)
{
	NgScanState *st = (NgScanState *) arg;
	bson_iter_t iter;
	char	   *id = NULL;

	if (st->doc == NULL || st->current == NULL)
		return;

	if (bson_iter_init_find(&iter, st->doc, "_id"))
		id = ng_bson_value_to_text(bson_iter_value(&iter));

	errcontext("column \"%s\" of foreign table \"%s\", field \"%s\", document _id %s",
			   st->current->col->attname, st->opts->relname,
			   st->current->col->field, id ? id : "(none)");
}

/*
 * Restart the scan: the next fetch sends a new find with the current
 * parameter values.
 */
void
ngReScanForeignScan(ForeignScanState *node)
{
	NgScanState *st = (NgScanState *) node->fdw_state;

	if (st->cursor != NULL)
	{
		mongoc_cursor_destroy(st->cursor);
		st->cursor = NULL;
	}
	st->mongo_done = false;
	st->overlay_items = NIL;
}

/*
 * Finish the scan: release the driver objects now rather than at the end
 * of the query.
 */
void
ngEndForeignScan(ForeignScanState *node)
{
	NgScanState *st = (NgScanState *) node->fdw_state;

	if (st != NULL)
		release_driver_objects(st);
}

/*
 * EXPLAIN: the find command as Extended JSON that can be run in a MongoDB
 * shell (db.runCommand(EJSON.parse('...'))), with run-time values shown as
 * placeholders.
 */
void
ngExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	NgScanState *st = (NgScanState *) node->fdw_state;
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	bson_t		command;
	bson_t		filter;
	bson_t		projection;
	Bitmapset  *attrs = NULL;
	ListCell   *lc;
	char	   *json;

	bson_init(&command);
	bson_init(&filter);
	bson_init(&projection);
	PG_TRY();
	{
		ng_deparse_filter(&filter, st->opts, st->remote_exprs, NULL, NULL);
		foreach(lc, (List *) list_nth(fsplan->fdw_private,
									  NgScanPrivateRetrieved))
			attrs = bms_add_member(attrs, intVal(lfirst(lc)) -
								   FirstLowInvalidHeapAttributeNumber);
		ng_deparse_projection(&projection, st->opts, attrs);

		BSON_APPEND_UTF8(&command, "find", st->opts->collection);
		BSON_APPEND_DOCUMENT(&command, "filter", &filter);
		if (!bson_empty(&projection))
			BSON_APPEND_DOCUMENT(&command, "projection", &projection);
		json = ng_bson_as_json(&command);
	}
	PG_FINALLY();
	{
		bson_destroy(&command);
		bson_destroy(&filter);
		bson_destroy(&projection);
	}
	PG_END_TRY();

	ExplainPropertyText("MongoDB Database", st->opts->database, es);
	ExplainPropertyText("MongoDB Command", json, es);
	if (es->analyze)
	{
		ExplainPropertyInteger("MongoDB Finds", NULL, st->finds, es);
		ExplainPropertyInteger("MongoDB Documents", NULL,
							   (int64) st->docs_fetched, es);
	}
}
