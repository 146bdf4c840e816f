/*-------------------------------------------------------------------------
 *
 * scan.c
 *		  Executor callbacks that stream a MongoDB find or aggregate into
 *		  tuples.
 *
 * One find (or aggregate) per scan, and per rescan with the new parameter
 * values: the filter is built from the pushed conditions once their
 * run-time values are known, the projection from the columns the plan
 * needs; a pushed sort, skip and limit (and for an aggregation the $group,
 * HAVING $match ... built by pipeline.c) go with it.  The cursor pulls
 * batch_size documents per round trip, so memory stays flat however large
 * the collection; each document is converted in a per-row context that is
 * reset before the next one.
 *
 * A filter larger than nutragenie.max_filter_size is sent as a series of
 * finds, each with a slice of its largest $in, one after the other in the
 * same scan; a filter that had to leave conditions out makes the scan
 * check every pushed condition on each document (deparse.c decides).
 * Either way nothing is pushed that needs the whole result in one find: a
 * sort, skip or limit is done here, an aggregation runs its outer plan.
 *
 * The cursor, the collection handle and the borrowed connection are owned
 * by the scan state and released from a reset callback on its memory
 * context, so an error at any point (a conversion error, a cancel, a lost
 * connection) still frees the driver objects.  Cursor errors are checked
 * after the loop: a failed query is an error, never an empty result.
 *
 * Pushed upper operations fall back to local work at run time (upper.c
 * explains why): when the transaction has written the collection, or a
 * guard finds values MongoDB would order or group differently, a find that
 * pushed a sort, skip or limit is sent without them and the scan sorts
 * (tuplesort), skips and limits itself; an aggregation runs its outer plan,
 * the equivalent local plan, instead, as it also does when the server
 * rejects the pipeline as unsupported before returning anything.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/exec/scan.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/tuplesort.h"

#include "ng_remote.h"

/*
 * Server error codes meaning "this pipeline uses something I do not
 * implement": NotImplemented (FerretDB), InvalidPipelineOperator, and the
 * "unknown group operator" of older MongoDB releases.
 */
#define NG_ERR_NOT_IMPLEMENTED		238
#define NG_ERR_INVALID_PIPELINE_OP	168
#define NG_ERR_UNKNOWN_GROUP_OP		15952

/* A run-time value expression of the pushed conditions and its state. */
typedef struct NgParamSlot
{
	Expr	   *expr;
	ExprState  *state;
} NgParamSlot;

typedef struct NgScanState
{
	NgTableOptions *opts;
	List	   *remote_exprs;	/* pushed WHERE conditions, Vars numbered by
								 * the table's attnums (for deparse.c) */
	List	   *having_exprs;	/* pushed HAVING conditions, Vars numbered by
								 * result_opts */
	NgTableOptions *result_opts;	/* an aggregation's result document */
	Expr	   *count_expr;		/* pushed LIMIT count, or NULL */
	Expr	   *offset_expr;	/* pushed OFFSET value, or NULL */
	bool		has_limit;		/* LIMIT/OFFSET pushed */
	List	   *sort_keys;		/* fdw_private form, NIL: no sort pushed */
	List	   *group;			/* fdw_private form, NIL: a find */
	List	   *guards;			/* fdw_private form */
	ScalarArrayOpExpr *batch_template;	/* batched key join: "col op
										 * ANY(placeholder)", or NULL */
	Const	   *batch_keys;		/* ... and the keys of the current batch */
	ForeignScanState *node;
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
	NgDocReader *reader;		/* converts the ncols output columns */
	NgDocReader *full_reader;	/* ... and those of the pushed conditions */

	uint64		docs_fetched;
	int			finds;
	int			aggregates;
	int			checks;			/* guard finds */
	int			fallbacks;		/* scans computed locally */
	int			split_scans;	/* (re)scans whose filter took several finds
								 * or left conditions out */
	bool		coll_verified;	/* the collection is known to exist */

	/* writes: the transaction's own documents, and UPDATE/DELETE targets */
	ExprState  *remote_qual;	/* pushed conditions, evaluated locally */
	bool		is_target;		/* scanning the table an UPDATE/DELETE
								 * changes */
	bool		overlay;		/* the transaction wrote this collection */
	bool		mongo_done;		/* the cursor is exhausted */
	List	   *overlay_items;	/* NgOverlayItem * still to return */
	MemoryContext overlay_cxt;	/* holds overlay_items, reset per (re)scan */

	/* per (re)scan */
	MemoryContext filter_cxt;	/* holds parts, reset per (re)scan */
	NgFilterParts *parts;		/* the filter, in one find or several */
	int			next_part;		/* the find to send when this one ends */
	bool		lossy;			/* the filter leaves conditions out: check
								 * them here */
	bool		started;		/* the query was sent (or found needless) */
	bool		done;			/* nothing more to return */
	bool		local;			/* find: sort, skip, limit done here */
	bool		use_outer;		/* aggregation: the outer plan runs */
	bool		empty_row_due;	/* aggregation without GROUP BY over no
								 * documents: return its one row */
	int64		skip_left;		/* local OFFSET still to skip */
	int64		limit_left;		/* local LIMIT left, -1: none */
	uint64		scan_docs;		/* documents of this (re)scan */
	Tuplesortstate *sorter;		/* local sort */
	TupleTableSlot *sort_slot;
	bool		sorted;
} NgScanState;

static void release_driver_objects(void *arg);
static void end_local_sort(NgScanState *st);
static Node *index_var_to_column(Node *node, List *scan_tlist);
static void start_scan(NgScanState *st);
static bool eval_limit(NgScanState *st, Expr *expr, const char *what,
					   int64 *value);
static NgFilterParts *build_filter(NgScanState *st, NgParamEval eval);
static void build_projection(NgScanState *st, bson_t *projection,
							 bool with_conds);
static bool guards_trip(NgScanState *st, const bson_t *filter);
static void send_find(NgScanState *st, const bson_t *filter, bool pushed);
static bool send_next_part(NgScanState *st);
static bool send_aggregate(NgScanState *st, const bson_t *filter);
static Datum eval_param(void *arg, Expr *expr, bool *isnull);
static bool next_row(NgScanState *st, TupleTableSlot *slot);
static bool next_local_row(NgScanState *st, TupleTableSlot *slot);
static bool next_group_row(NgScanState *st, TupleTableSlot *slot);
static bool next_outer_row(NgScanState *st, TupleTableSlot *slot);
static void report_cursor_error(NgScanState *st, bson_error_t *error);
static void convert_document(NgScanState *st, const bson_t *doc,
							 TupleTableSlot *slot, int ncols);
static void verify_collection(NgScanState *st);
static bool lock_and_reread(NgScanState *st, const bson_t *doc,
							bson_t *fresh, uint32 *ref);
static void set_row_ref(NgScanState *st, TupleTableSlot *slot, uint32 ref);
static bool pushed_conditions_hold(NgScanState *st, TupleTableSlot *slot);
static void explain_limit_value(NgScanState *st, Expr *expr,
								NgLimitValue *v);

/*
 * Set up the scan state.  No connection is made here: EXPLAIN without
 * ANALYZE never talks to the server, and a scan that is never read never
 * sends a query.
 */
void
ngBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	List	   *private = fsplan->fdw_private;
	MemoryContext scan_cxt;
	MemoryContext oldcxt;
	NgScanState *st;
	List	   *retrieved;
	List	   *slots;
	int			width;
	List	   *counts;
	List	   *limit;
	List	   *where;
	ListCell   *lc;
	int			nwhere;
	int			nhaving;
	int			i;
	MemoryContextCallback *cb;

	scan_cxt = AllocSetContextCreate(CurrentMemoryContext,
									 "nutragenie scan",
									 ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(scan_cxt);

	st = palloc0(sizeof(NgScanState));
	st->scan_cxt = scan_cxt;
	st->node = node;
	st->ps = &node->ss.ps;
	st->opts = ng_options_from_list(list_nth(private, NgScanPrivateOptions));
	/* the mapping of who runs the plan, not of who planned it */
	st->opts->userid = ng_foreign_scan_user(fsplan, st->ps->state);
	node->fdw_state = st;

	cb = palloc0(sizeof(MemoryContextCallback));
	cb->func = release_driver_objects;
	cb->arg = st;
	MemoryContextRegisterResetCallback(scan_cxt, cb);

	/* fdw_exprs: WHERE conditions, HAVING conditions, LIMIT, OFFSET */
	counts = list_nth(private, NgScanPrivateCounts);
	nwhere = counts ? intVal(linitial(counts)) : list_length(fsplan->fdw_exprs);
	nhaving = counts ? intVal(lsecond(counts)) : 0;
	where = list_copy_head(fsplan->fdw_exprs, nwhere);
	st->having_exprs = list_copy_head(list_copy_tail(fsplan->fdw_exprs, nwhere),
									  nhaving);
	if (fsplan->scan.scanrelid == 0)
		st->remote_exprs = (List *)
			index_var_to_column((Node *) where, fsplan->fdw_scan_tlist);
	else
		st->remote_exprs = where;

	limit = list_nth(private, NgScanPrivateLimit);
	if (limit != NIL)
	{
		st->has_limit = true;
		if (intVal(linitial(limit)) >= 0)
			st->count_expr = list_nth(fsplan->fdw_exprs, intVal(linitial(limit)));
		if (intVal(lsecond(limit)) >= 0)
			st->offset_expr = list_nth(fsplan->fdw_exprs, intVal(lsecond(limit)));
	}
	st->sort_keys = list_nth(private, NgScanPrivateSort);
	st->group = list_nth(private, NgScanPrivateGroup);
	st->guards = list_nth(private, NgScanPrivateGuards);
	if (list_nth(private, NgScanPrivateBatch) != NIL)
		st->batch_template = linitial_node(ScalarArrayOpExpr,
										   list_nth(private, NgScanPrivateBatch));
	if (st->group != NIL)
		st->result_opts = ng_upper_result_options(st->group,
												  fsplan->fdw_scan_tlist);

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
	{
		MemoryContextSwitchTo(oldcxt);
		return;
	}

	st->row_cxt = AllocSetContextCreate(scan_cxt, "nutragenie row",
										ALLOCSET_DEFAULT_SIZES);
	st->is_target = fsplan->scan.scanrelid > 0 &&
		ExecRelationIsTargetRelation(node->ss.ps.state, fsplan->scan.scanrelid);

	if (st->group != NIL)
	{
		/* an aggregation: one column per output of the result document */
		NgTableOptions *ro = st->result_opts;

		List	   *outputs = NIL;

		i = 0;
		foreach(lc, (List *) list_nth(st->group, NgGroupOutputs))
		{
			List	   *out = (List *) lfirst(lc);
			NgColumn   *col = &ro->columns[foreach_current_index(lc)];
			if (col->field == NULL)
				continue;
			switch ((NgOutputKind) intVal(linitial(out)))
			{
				case NG_OUT_KEY:
					col->attname = psprintf("GROUP BY \"%s\"",
											strVal(lsecond(out)));
					break;
				case NG_OUT_COUNT_STAR:
					col->attname = "count(*)";
					break;
				case NG_OUT_COUNT:
					col->attname = psprintf("count(\"%s\")", strVal(lsecond(out)));
					break;
				case NG_OUT_MIN:
					col->attname = psprintf("min(\"%s\")", strVal(lsecond(out)));
					break;
				case NG_OUT_MAX:
					col->attname = psprintf("max(\"%s\")", strVal(lsecond(out)));
					break;
				case NG_OUT_NONE:
					break;
			}
			col->mismatch = NG_MISMATCH_ERROR;
			col->json_mode = NG_JSON_RELAXED;
			outputs = lappend(outputs, makeInteger(col->attnum));
			i++;
		}
		/* errors name the foreign table, and the output as the column */
		ro->relname = st->opts->relname;
		st->reader = ng_document_reader_create(ro, outputs, NIL, 0);
		st->full_reader = st->reader;
		st->ncols = st->nallcols = i;
		MemoryContextSwitchTo(oldcxt);
		return;
	}

	st->remote_qual = ExecInitQual(where, &node->ss.ps);

	retrieved = list_nth(private, NgScanPrivateRetrieved);
	slots = list_nth(private, NgScanPrivateSlots);
	width = node->ss.ss_ScanTupleSlot->tts_tupleDescriptor->natts;
	st->ncols = list_length(retrieved);
	st->reader = ng_document_reader_create(st->opts, retrieved,
										   slots ? list_copy_head(slots, st->ncols) : NIL,
										   width);
	retrieved = list_concat_copy(retrieved,
								 list_nth(private, NgScanPrivateCondColumns));
	st->nallcols = list_length(retrieved);
	st->full_reader = st->nallcols == st->ncols ? st->reader :
		ng_document_reader_create(st->opts, retrieved, slots, width);

	MemoryContextSwitchTo(oldcxt);
}

/*
 * In the pushed conditions of a scan with a scan tuple of its own
 * (scanrelid 0), setrefs.c made each Var point at its column of that tuple
 * (INDEX_VAR, position).  deparse.c reads Vars as the table's attnums: put
 * back the table's Var found at that position.
 */
static Node *
index_var_to_column(Node *node, List *scan_tlist)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Var) && ((Var *) node)->varno == INDEX_VAR)
	{
		Var		   *var = (Var *) node;
		TargetEntry *tle = list_nth(scan_tlist, var->varattno - 1);

		if (!IsA(tle->expr, Var))
			elog(ERROR, "unexpected expression in the scan tuple of a foreign scan");
		return (Node *) copyObject(tle->expr);
	}
	return expression_tree_mutator(node, index_var_to_column,
								   (void *) scan_tlist);
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

/* End a local sort, if any. */
static void
end_local_sort(NgScanState *st)
{
	if (st->sorter != NULL)
	{
		tuplesort_end(st->sorter);
		st->sorter = NULL;
	}
	st->sorted = false;
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
 * The value of a pushed LIMIT count (what "LIMIT") or OFFSET: false for
 * NULL (no limit, no offset).  Negative values are errors, as for a Limit
 * node.
 */
static bool
eval_limit(NgScanState *st, Expr *expr, const char *what, int64 *value)
{
	bool		isnull;
	Datum		d;

	if (expr == NULL)
		return false;
	d = eval_param(st, expr, &isnull);
	if (isnull)
		return false;
	*value = DatumGetInt64(d);
	if (*value < 0)
		ereport(ERROR,
				(errcode(strcmp(what, "LIMIT") == 0 ?
						 ERRCODE_INVALID_ROW_COUNT_IN_LIMIT_CLAUSE :
						 ERRCODE_INVALID_ROW_COUNT_IN_RESULT_OFFSET_CLAUSE),
				 errmsg("%s must not be negative", what)));
	return true;
}

/*
 * The filter of this scan's find or $match, in one find or several (see
 * ng_deparse_filter_parts), in the current memory context.  With eval
 * NULL, run-time values print as placeholders (EXPLAIN).
 */
static NgFilterParts *
build_filter(NgScanState *st, NgParamEval eval)
{
	List	   *conds = st->remote_exprs;

	/*
	 * The inner side of a batched key join also matches the batch's keys:
	 * "col op ANY(keys)" with the keys as a constant array, deparsed like
	 * any such condition (EXPLAIN shows the placeholder).
	 */
	if (st->batch_template != NULL)
	{
		ScalarArrayOpExpr *saop = st->batch_template;

		if (eval != NULL)
		{
			if (st->batch_keys == NULL)
				elog(ERROR, "batched key lookup started without keys");
			saop = (ScalarArrayOpExpr *) copyObject(saop);
			lsecond(saop->args) = st->batch_keys;
		}
		conds = lappend(list_copy(conds), saop);
	}
	return ng_deparse_filter_parts(st->opts, conds, eval, st,
								   NG_MAX_FILTER_BYTES);
}

/*
 * ng_scan_set_batch
 *		Give the inner scan of a batched key join (batchjoin.c) the keys of
 *		the next batch: a non-empty array of the key condition's right-hand
 *		type.  The caller then rescans the node.  The array is copied into
 *		the scan's context; the previous one is freed.
 */
void
ng_scan_set_batch(ForeignScanState *node, Datum keys)
{
	NgScanState *st = (NgScanState *) node->fdw_state;
	Oid			arraytype;
	MemoryContext oldcxt;

	if (st == NULL || st->batch_template == NULL)
		elog(ERROR, "foreign scan is not the inner side of a batched key join");
	arraytype = exprType(lsecond(st->batch_template->args));
	if (st->batch_keys != NULL)
	{
		pfree(DatumGetPointer(st->batch_keys->constvalue));
		pfree(st->batch_keys);
	}
	oldcxt = MemoryContextSwitchTo(st->scan_cxt);
	st->batch_keys = makeConst(arraytype, -1, InvalidOid, -1,
							   PointerGetDatum(PG_DETOAST_DATUM_COPY(keys)),
							   false, false);
	MemoryContextSwitchTo(oldcxt);
}

/*
 * The projection of this scan's find: the columns of the plan's output,
 * and with with_conds those of the pushed conditions, for a scan that
 * checks them itself.
 */
static void
build_projection(NgScanState *st, bson_t *projection, bool with_conds)
{
	ForeignScan *fsplan = (ForeignScan *) st->ps->plan;
	Bitmapset  *attrs = NULL;
	ListCell   *lc;

	foreach(lc, (List *) list_nth(fsplan->fdw_private, NgScanPrivateRetrieved))
		attrs = bms_add_member(attrs, intVal(lfirst(lc)) -
							   FirstLowInvalidHeapAttributeNumber);
	if (with_conds)
		foreach(lc, (List *) list_nth(fsplan->fdw_private,
									  NgScanPrivateCondColumns))
			attrs = bms_add_member(attrs, intVal(lfirst(lc)) -
								   FirstLowInvalidHeapAttributeNumber);
	ng_deparse_projection(projection, st->opts, attrs);
}

/*
 * Start a (re)scan: decide whether the pushed upper operations can be used,
 * and send the query.
 */
static void
start_scan(NgScanState *st)
{
	bson_t		filter;
	int64		count = -1;
	int64		offset = 0;
	bool		fallback;
	bool		split;

	st->started = true;
	st->done = false;
	st->local = false;
	st->use_outer = false;
	st->empty_row_due = false;
	st->scan_docs = 0;
	st->mongo_done = false;
	end_local_sort(st);

	if (st->has_limit)
	{
		if (!eval_limit(st, st->count_expr, "LIMIT", &count))
			count = -1;
		if (!eval_limit(st, st->offset_expr, "OFFSET", &offset))
			offset = 0;
		if (count == 0)
		{
			/* MongoDB reads a limit of 0 as none; nothing to fetch */
			st->done = true;
			return;
		}
	}
	st->skip_left = offset;
	st->limit_left = count;

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
		MemoryContext cxt;

		/* the previous (re)scan's list goes: a rescan per batch adds up */
		if (st->overlay_cxt == NULL)
			st->overlay_cxt = AllocSetContextCreate(st->scan_cxt,
													"nutragenie overlay",
													ALLOCSET_SMALL_SIZES);
		else
			MemoryContextReset(st->overlay_cxt);
		cxt = MemoryContextSwitchTo(st->overlay_cxt);
		st->overlay_items =
			ng_xact_collection_documents(st->opts,
										 st->ps->state->es_snapshot->curcid);
		MemoryContextSwitchTo(cxt);
	}
	st->overlay = ng_xact_has_documents(st->opts);

	/*
	 * The filter, kept for the scan's further finds when it is split.  A
	 * split or shortened filter cannot carry a sort, skip, limit or
	 * grouping: each find sees only part of the documents.
	 */
	if (st->filter_cxt == NULL)
		st->filter_cxt = AllocSetContextCreate(st->scan_cxt,
											   "nutragenie filter",
											   ALLOCSET_DEFAULT_SIZES);
	else
		MemoryContextReset(st->filter_cxt);
	{
		MemoryContext cxt = MemoryContextSwitchTo(st->filter_cxt);

		st->parts = build_filter(st, eval_param);
		MemoryContextSwitchTo(cxt);
	}
	st->next_part = 1;
	st->lossy = ng_filter_parts_lossy(st->parts);
	split = st->lossy || ng_filter_parts_count(st->parts) > 1;
	if (split)
		st->split_scans++;

	bson_init(&filter);
	PG_TRY();
	{
		ng_filter_parts_append(&filter, st->parts, 0);

		fallback = st->overlay || split ||
			((st->group != NIL || st->sort_keys != NIL) &&
			 guards_trip(st, &filter));
		if (st->group != NIL)
		{
			if (fallback || !send_aggregate(st, &filter))
				st->use_outer = true;
		}
		else
		{
			st->local = fallback &&
				(st->sort_keys != NIL || st->has_limit);
			send_find(st, &filter, !st->local);
		}
		if (st->local || st->use_outer)
			st->fallbacks++;
	}
	PG_FINALLY();
	{
		bson_destroy(&filter);
	}
	PG_END_TRY();

	if (!st->local)
	{
		/* MongoDB skips and limits */
		st->skip_left = 0;
		st->limit_left = -1;
	}
}

/*
 * Do the guards find values on which MongoDB's order or grouping differs
 * from PostgreSQL's?  Each guard is up to two finds with limit 1: the
 * second only when the first finds a document.
 */
static bool
guards_trip(NgScanState *st, const bson_t *filter)
{
	ListCell   *lc;

	foreach(lc, st->guards)
	{
		List	   *guard = (List *) lfirst(lc);
		int			step;
		bool		found = true;

		for (step = 0; step < 2 && found; step++)
		{
			bson_t		query;
			bson_t		opts;
			bson_t		proj;
			mongoc_cursor_t *cursor;
			const bson_t *doc;
			bson_error_t error;
			bool		failed;

			bson_init(&query);
			bson_init(&opts);
			ng_pipeline_guard_filter(&query, filter, guard, step == 1);
			BSON_APPEND_INT64(&opts, "limit", 1);
			BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
			BSON_APPEND_INT32(&proj, "_id", 1);
			bson_append_document_end(&opts, &proj);
			cursor = mongoc_collection_find_with_opts(st->coll, &query, &opts,
													  NULL);
			bson_destroy(&query);
			bson_destroy(&opts);
			found = mongoc_cursor_next(cursor, &doc);
			failed = mongoc_cursor_error(cursor, &error);
			mongoc_cursor_destroy(cursor);
			st->checks++;
			if (failed)
				ng_conn_report_error(st->conn, &error,
									 psprintf("check collection \"%s.%s\" for foreign table \"%s\"",
											  st->opts->database,
											  st->opts->collection,
											  st->opts->relname));
		}
		if (found)
			return true;
	}
	return false;
}

/*
 * Send the find.  With pushed false, the sort, skip and limit are left out
 * (the scan applies them itself).
 */
static void
send_find(NgScanState *st, const bson_t *filter, bool pushed)
{
	bson_t		opts;
	bson_t		projection;
	NgLimitValue skip;
	NgLimitValue limit;

	memset(&skip, 0, sizeof(skip));
	memset(&limit, 0, sizeof(limit));
	if (pushed && st->has_limit)
	{
		skip.present = st->skip_left > 0;
		skip.value = st->skip_left;
		limit.present = st->limit_left > 0;
		limit.value = st->limit_left;
	}

	bson_init(&opts);
	bson_init(&projection);
	PG_TRY();
	{
		build_projection(st, &projection, st->lossy);
		ng_pipeline_find_options(&opts, &projection,
								 pushed ? st->sort_keys : NIL, &skip, &limit);
		BSON_APPEND_INT32(&opts, "batchSize", st->opts->batch_size);
		/* a large sort must spill, as a local one would, rather than fail */
		if (pushed && st->sort_keys != NIL)
			BSON_APPEND_BOOL(&opts, "allowDiskUse", true);
		/* the filter fits (deparse.c made sure); the rest should too */
		if ((Size) filter->len + opts.len > NG_MAX_COMMAND_BYTES)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("MongoDB find for foreign table \"%s\" would exceed the server's 16 MB command limit",
							st->opts->relname),
					 errdetail("The filter takes %u bytes, the projection and options %u bytes.",
							   filter->len, opts.len),
					 errhint("Lower \"nutragenie.max_filter_size\".")));
		st->cursor = mongoc_collection_find_with_opts(st->coll, filter,
													  &opts, NULL);
	}
	PG_FINALLY();
	{
		bson_destroy(&opts);
		bson_destroy(&projection);
	}
	PG_END_TRY();
	st->finds++;
}

/*
 * The find of a split filter's next part, if any is left: the previous
 * cursor is done with.  False when the last part's cursor was the last.
 */
static bool
send_next_part(NgScanState *st)
{
	bson_t		filter;

	if (st->parts == NULL ||
		st->next_part >= ng_filter_parts_count(st->parts))
		return false;
	mongoc_cursor_destroy(st->cursor);
	st->cursor = NULL;
	bson_init(&filter);
	PG_TRY();
	{
		ng_filter_parts_append(&filter, st->parts, st->next_part);
		send_find(st, &filter, !st->local);
	}
	PG_FINALLY();
	{
		bson_destroy(&filter);
	}
	PG_END_TRY();
	st->next_part++;
	return true;
}

/*
 * Send the aggregation pipeline; false, sending nothing, when its HAVING
 * filter is too large for one command (the scan then runs its outer plan).
 */
static bool
send_aggregate(NgScanState *st, const bson_t *filter)
{
	bson_t		having;
	bson_t		command;
	bson_t		pipeline;
	bson_t		opts;
	NgLimitValue skip;
	NgLimitValue limit;
	NgFilterParts *having_parts;

	having_parts = ng_deparse_filter_parts(st->result_opts, st->having_exprs,
										   eval_param, st,
										   NG_MAX_FILTER_BYTES - filter->len);
	if (ng_filter_parts_count(having_parts) != 1 ||
		ng_filter_parts_lossy(having_parts))
		return false;

	memset(&skip, 0, sizeof(skip));
	memset(&limit, 0, sizeof(limit));
	skip.present = st->skip_left > 0;
	skip.value = st->skip_left;
	limit.present = st->limit_left > 0;
	limit.value = st->limit_left;

	bson_init(&having);
	bson_init(&command);
	bson_init(&opts);
	PG_TRY();
	{
		ng_filter_parts_append(&having, having_parts, 0);
		bson_append_array_unsafe_begin(&command, "pipeline", -1, &pipeline);
		ng_pipeline_stages(&pipeline, filter, st->group, &having,
						   st->sort_keys, &skip, &limit);
		bson_append_array_end(&command, &pipeline);
		BSON_APPEND_INT32(&opts, "batchSize", st->opts->batch_size);
		BSON_APPEND_BOOL(&opts, "allowDiskUse", true);
		st->cursor = mongoc_collection_aggregate(st->coll, MONGOC_QUERY_NONE,
												 &command, &opts, NULL);
	}
	PG_FINALLY();
	{
		bson_destroy(&having);
		bson_destroy(&command);
		bson_destroy(&opts);
	}
	PG_END_TRY();
	st->aggregates++;
	return true;
}

/*
 * Return the next row, or an empty slot at the end.
 */
TupleTableSlot *
ngIterateForeignScan(ForeignScanState *node)
{
	NgScanState *st = (NgScanState *) node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	MemoryContext oldcxt;
	bool		have_row = false;

	MemoryContextReset(st->row_cxt);
	oldcxt = MemoryContextSwitchTo(st->row_cxt);

	if (!st->started)
		start_scan(st);

	if (!st->done)
	{
		if (st->use_outer)
			have_row = next_outer_row(st, slot);
		else if (st->group != NIL)
			have_row = next_group_row(st, slot);
		else if (st->local)
			have_row = next_local_row(st, slot);
		else
			have_row = next_row(st, slot);
		if (!have_row)
			st->done = true;
	}

	if (!have_row)
		ExecClearTuple(slot);

	MemoryContextSwitchTo(oldcxt);
	return slot;
}

/*
 * The next document of the find as a row in slot; false at the end.
 *
 * Documents this transaction wrote come from its overlay instead of
 * MongoDB: MongoDB's copies are skipped, and the overlay's versions that
 * satisfy the pushed conditions follow the cursor's documents.  For the
 * table an UPDATE or DELETE changes, each document is locked and re-read
 * before it is returned, so that concurrent writers serialize.
 */
static bool
next_row(NgScanState *st, TupleTableSlot *slot)
{
	const bson_t *doc;

	for (;;)
	{
		ExecClearTuple(slot);

		if (!st->mongo_done)
		{
			bson_t		fresh;
			uint32		ref = 0;

			if (!mongoc_cursor_next(st->cursor, &doc))
			{
				bson_error_t error;

				if (mongoc_cursor_error(st->cursor, &error))
					report_cursor_error(st, &error);
				if (send_next_part(st))
					continue;
				if (st->scan_docs == 0 && !st->coll_verified && !st->overlay)
					verify_collection(st);
				st->mongo_done = true;
				continue;
			}
			st->docs_fetched++;
			st->scan_docs++;
			CHECK_FOR_INTERRUPTS();

			if (!st->overlay && !st->is_target && !st->lossy)
			{
				convert_document(st, doc, slot, st->ncols);
				ExecStoreVirtualTuple(slot);
				return true;
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
									   iddoc.len,
									   st->ps->state->es_snapshot->curcid,
									   &data, &len, &deleted);
				bson_destroy(&iddoc);
				if (known)
					continue;	/* the overlay's version comes later */
			}

			if (!lock_and_reread(st, doc, &fresh, &ref))
				continue;

			/*
			 * MongoDB filtered this document; a re-read one may have changed
			 * since (and only then are the columns the conditions use
			 * converted too).
			 */
			convert_document(st, &fresh, slot,
							 (st->is_target || st->lossy) ?
							 st->nallcols : st->ncols);
			ExecStoreVirtualTuple(slot);
			set_row_ref(st, slot, ref);
			if ((st->is_target || st->lossy) &&
				!pushed_conditions_hold(st, slot))
				continue;
			return true;
		}

		if (st->overlay_items == NIL)
			return false;
		{
			NgOverlayItem *item = (NgOverlayItem *) linitial(st->overlay_items);
			bson_t		odoc;

			st->overlay_items = list_delete_first(st->overlay_items);
			bson_init_static(&odoc, item->data, item->len);
			convert_document(st, &odoc, slot, st->nallcols);
			ExecStoreVirtualTuple(slot);
			set_row_ref(st, slot, item->ref);
			if (!pushed_conditions_hold(st, slot))
				continue;
			return true;
		}
	}
}

/*
 * next_row with the pushed sort, skip and limit done here: all rows go
 * through a tuplesort first when the plan pushed a sort.
 */
static bool
next_local_row(NgScanState *st, TupleTableSlot *slot)
{
	for (;;)
	{
		if (st->limit_left == 0)
			return false;

		if (st->sort_keys != NIL)
		{
			if (!st->sorted)
			{
				int			nkeys = list_length(st->sort_keys);
				AttrNumber *attnums = palloc(sizeof(AttrNumber) * nkeys);
				Oid		   *sortops = palloc(sizeof(Oid) * nkeys);
				Oid		   *collations = palloc(sizeof(Oid) * nkeys);
				bool	   *nulls_first = palloc(sizeof(bool) * nkeys);
				TupleDesc	tupdesc = slot->tts_tupleDescriptor;
				MemoryContext oldcxt;
				ListCell   *lc;

				foreach(lc, st->sort_keys)
				{
					List	   *key = (List *) lfirst(lc);
					int			i = foreach_current_index(lc);

					attnums[i] = intVal(list_nth(key, NgSortKeyAttno));
					sortops[i] = (Oid) intVal(list_nth(key, NgSortKeySortop));
					collations[i] = (Oid) intVal(list_nth(key, NgSortKeyCollation));
					nulls_first[i] = intVal(list_nth(key, NgSortKeyNullsFirst)) != 0;
				}
				oldcxt = MemoryContextSwitchTo(st->scan_cxt);
				st->sorter = tuplesort_begin_heap(tupdesc, nkeys, attnums,
												  sortops, collations,
												  nulls_first, work_mem,
												  NULL, TUPLESORT_NONE);
				if (st->sort_slot == NULL)
					st->sort_slot = MakeSingleTupleTableSlot(tupdesc,
															 &TTSOpsMinimalTuple);
				MemoryContextSwitchTo(oldcxt);

				while (next_row(st, slot))
				{
					tuplesort_puttupleslot(st->sorter, slot);
					MemoryContextReset(st->row_cxt);
				}
				tuplesort_performsort(st->sorter);
				st->sorted = true;
			}
			if (!tuplesort_gettupleslot(st->sorter, true, false,
										st->sort_slot, NULL))
				return false;
			ExecCopySlot(slot, st->sort_slot);
		}
		else if (!next_row(st, slot))
			return false;

		if (st->skip_left > 0)
		{
			st->skip_left--;
			continue;
		}
		if (st->limit_left > 0)
			st->limit_left--;
		return true;
	}
}

/*
 * The next result document of the aggregation as a row.  A server that
 * rejects the pipeline as unsupported before sending anything hands the
 * scan over to the outer plan; an aggregation without GROUP BY over no
 * documents still returns its one row.
 */
static bool
next_group_row(NgScanState *st, TupleTableSlot *slot)
{
	const bson_t *doc;

	ExecClearTuple(slot);
	if (st->empty_row_due)
	{
		TupleDesc	tupdesc = slot->tts_tupleDescriptor;
		ListCell   *lc;

		st->empty_row_due = false;
		memset(slot->tts_isnull, true, sizeof(bool) * tupdesc->natts);
		foreach(lc, (List *) list_nth(st->group, NgGroupOutputs))
		{
			NgOutputKind kind = (NgOutputKind) intVal(linitial((List *) lfirst(lc)));
			int			i = foreach_current_index(lc);

			if (kind == NG_OUT_COUNT_STAR || kind == NG_OUT_COUNT)
			{
				slot->tts_values[i] = Int64GetDatum(0);
				slot->tts_isnull[i] = false;
			}
		}
		ExecStoreVirtualTuple(slot);
		return true;
	}
	if (st->mongo_done)
		return false;

	if (!mongoc_cursor_next(st->cursor, &doc))
	{
		bson_error_t error;

		if (mongoc_cursor_error(st->cursor, &error))
		{
			if (st->scan_docs == 0 &&
				(error.domain == MONGOC_ERROR_SERVER ||
				 error.domain == MONGOC_ERROR_QUERY) &&
				(error.code == NG_ERR_NOT_IMPLEMENTED ||
				 error.code == NG_ERR_INVALID_PIPELINE_OP ||
				 error.code == NG_ERR_UNKNOWN_GROUP_OP))
			{
				ereport(DEBUG1,
						(errmsg_internal("aggregating foreign table \"%s\" locally: %s",
										 st->opts->relname, error.message)));
				mongoc_cursor_destroy(st->cursor);
				st->cursor = NULL;
				st->use_outer = true;
				st->fallbacks++;
				return next_outer_row(st, slot);
			}
			report_cursor_error(st, &error);
		}
		st->mongo_done = true;
		if (st->scan_docs == 0)
		{
			if (!st->coll_verified)
				verify_collection(st);
			if (list_nth(st->group, NgGroupKeys) == NIL)
			{
				st->empty_row_due = true;
				return next_group_row(st, slot);
			}
		}
		return false;
	}
	st->docs_fetched++;
	st->scan_docs++;
	CHECK_FOR_INTERRUPTS();
	convert_document(st, doc, slot, st->ncols);
	ExecStoreVirtualTuple(slot);
	return true;
}

/*
 * The next row of the outer plan (the local plan of an aggregation), in
 * the scan tuple: its columns are the scan tuple's first ones; the rest
 * (columns only pushed WHERE conditions use) stay NULL.
 */
static bool
next_outer_row(NgScanState *st, TupleTableSlot *slot)
{
	PlanState  *outer = outerPlanState(st->node);
	TupleTableSlot *oslot;
	int			natts = slot->tts_tupleDescriptor->natts;
	int			n;

	MemoryContext oldcxt;

	if (outer == NULL)
		elog(ERROR, "foreign scan has no local plan to fall back on");

	/* the plan's nodes keep state across rows: not in the per-row context */
	oldcxt = MemoryContextSwitchTo(st->ps->state->es_query_cxt);
	oslot = ExecProcNode(outer);
	MemoryContextSwitchTo(oldcxt);
	ExecClearTuple(slot);
	if (TupIsNull(oslot))
		return false;
	slot_getallattrs(oslot);
	n = Min(natts, oslot->tts_tupleDescriptor->natts);
	memset(slot->tts_isnull, true, sizeof(bool) * natts);
	memcpy(slot->tts_values, oslot->tts_values, sizeof(Datum) * n);
	memcpy(slot->tts_isnull, oslot->tts_isnull, sizeof(bool) * n);
	ExecStoreVirtualTuple(slot);
	return true;
}

/* A failed query is an error, never an empty result. */
static void
report_cursor_error(NgScanState *st, bson_error_t *error)
{
	char	   *action;

	mongoc_cursor_destroy(st->cursor);
	st->cursor = NULL;
	action = psprintf("read collection \"%s.%s\" for foreign table \"%s\"",
					  st->opts->database, st->opts->collection,
					  st->opts->relname);
	ng_conn_report_error(st->conn, error, action);
}

/*
 * For a document the scan would return: if this scan feeds an UPDATE or
 * DELETE, lock it, refuse it if another transaction's changes to it are
 * still queued, and re-read it, since a writer may have committed a change
 * between the find and the lock.  The fresh version goes into the overlay
 * (as a read, not a write), *fresh points at it and *ref is its overlay
 * number (ng_xact_document_ref).  Otherwise *fresh is the document as
 * found.  Returns false if the document is gone.
 */
static bool
lock_and_reread(NgScanState *st, const bson_t *doc, bson_t *fresh,
				uint32 *ref)
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
								found, false, st->ps->state->es_output_cid);
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
					   InvalidCommandId, &data, &len, &deleted) && !deleted)
	{
		bson_init_static(fresh, data, len);
		*ref = ng_xact_document_ref(st->opts, bson_get_data(&iddoc),
									iddoc.len);
	}
	else
		exists = false;
	bson_destroy(&iddoc);
	return exists;
}

/*
 * A row of the table an UPDATE or DELETE changes carries, as its ctid,
 * the overlay number of its document (the row identity modify.c asked
 * for in ngAddForeignUpdateTargets): the write then addresses the exact
 * BSON _id read, not one converted back from the _id column.
 */
static void
set_row_ref(NgScanState *st, TupleTableSlot *slot, uint32 ref)
{
	if (!st->is_target)
		return;
	if (ref == 0)
		elog(ERROR, "a document read for a write is not in the transaction's overlay");
	ItemPointerSet(&slot->tts_tid, (BlockNumber) ref, FirstOffsetNumber);
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
	/* documents rejected here do not go back to ExecScan, which resets it */
	ResetExprContext(econtext);
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
 * Fill the slot's values from one document.  ncols says which columns: the
 * plan's output columns (st->ncols), or those plus the columns only the
 * pushed conditions use (st->nallcols), needed for documents MongoDB did
 * not filter.  document.c does the work and names table, column, field and
 * _id in conversion errors.
 */
static void
convert_document(NgScanState *st, const bson_t *doc, TupleTableSlot *slot,
				 int ncols)
{
	ng_document_to_values(ncols == st->ncols ? st->reader : st->full_reader,
						  doc, slot->tts_values, slot->tts_isnull);
}

/*
 * Restart the scan: the next fetch sends a new query with the current
 * parameter values.  (The executor rescans the outer plan itself.)
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
	end_local_sort(st);
	st->started = false;
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
	{
		release_driver_objects(st);
		end_local_sort(st);
		if (st->sort_slot != NULL)
		{
			ExecDropSingleTupleTableSlot(st->sort_slot);
			st->sort_slot = NULL;
		}
	}
}

/*
 * A LIMIT or OFFSET value for EXPLAIN: a constant's value, else a
 * placeholder.
 */
static void
explain_limit_value(NgScanState *st, Expr *expr, NgLimitValue *v)
{
	memset(v, 0, sizeof(NgLimitValue));
	if (expr == NULL)
		return;
	if (IsA(expr, Const))
	{
		Const	   *c = (Const *) expr;

		if (c->constisnull)
			return;
		v->present = true;
		v->value = DatumGetInt64(c->constvalue);
		if (v->value == 0 && expr == st->offset_expr)
			v->present = false;
		return;
	}
	v->present = true;
	if (IsA(expr, Param))
		v->label = psprintf("$%d", ((Param *) expr)->paramid);
	else
		v->label = "expr";
}

/*
 * EXPLAIN: the find or aggregate command as Extended JSON that can be run
 * in a MongoDB shell (db.runCommand(EJSON.parse('...'))), with run-time
 * values shown as placeholders.
 */
void
ngExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	NgScanState *st = (NgScanState *) node->fdw_state;
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	bson_t		command;
	bson_t		filter;
	bson_t		projection;
	bson_t		having;
	NgLimitValue skip;
	NgLimitValue limit;
	char	   *json;
	char	   *split = NULL;
	ListCell   *lc;

	explain_limit_value(st, st->offset_expr, &skip);
	explain_limit_value(st, st->count_expr, &limit);

	bson_init(&command);
	bson_init(&filter);
	bson_init(&projection);
	bson_init(&having);
	PG_TRY();
	{
		NgFilterParts *parts = build_filter(st, NULL);

		/* a split filter shows its first find */
		ng_filter_parts_append(&filter, parts, 0);
		split = ng_filter_parts_describe(parts);
		if (st->group != NIL)
		{
			bson_t		pipeline;
			bson_t		cursor;
			NgFilterParts *having_parts;

			having_parts = ng_deparse_filter_parts(st->result_opts,
												   st->having_exprs,
												   NULL, NULL,
												   NG_MAX_FILTER_BYTES);
			ng_filter_parts_append(&having, having_parts, 0);
			BSON_APPEND_UTF8(&command, "aggregate", st->opts->collection);
			bson_append_array_unsafe_begin(&command, "pipeline", -1, &pipeline);
			ng_pipeline_stages(&pipeline, &filter, st->group, &having,
							   st->sort_keys, &skip, &limit);
			bson_append_array_end(&command, &pipeline);
			BSON_APPEND_DOCUMENT_BEGIN(&command, "cursor", &cursor);
			bson_append_document_end(&command, &cursor);
		}
		else
		{
			build_projection(st, &projection, ng_filter_parts_lossy(parts));
			BSON_APPEND_UTF8(&command, "find", st->opts->collection);
			BSON_APPEND_DOCUMENT(&command, "filter", &filter);
			ng_pipeline_find_options(&command, &projection, st->sort_keys,
									 &skip, &limit);
		}
		json = ng_bson_as_json(&command);
	}
	PG_FINALLY();
	{
		bson_destroy(&command);
		bson_destroy(&filter);
		bson_destroy(&projection);
		bson_destroy(&having);
	}
	PG_END_TRY();

	if (fsplan->scan.scanrelid == 0)
		ExplainPropertyText("Foreign Table",
							psprintf("%s.%s",
									 quote_identifier(get_namespace_name(get_rel_namespace(st->opts->relid))),
									 quote_identifier(st->opts->relname)),
							es);
	ExplainPropertyText("MongoDB Database", st->opts->database, es);
	ExplainPropertyText("MongoDB Command", json, es);
	if (split != NULL)
		ExplainPropertyText("MongoDB Filter Split", split, es);

	if (st->group != NIL || st->guards != NIL)
	{
		StringInfoData buf;

		initStringInfo(&buf);
		if (st->group != NIL)
			appendStringInfoString(&buf, "the plan below, if the transaction has written the collection or the server cannot run the pipeline");
		else
			appendStringInfoString(&buf, "sort locally");
		foreach(lc, st->guards)
			appendStringInfo(&buf, "%s if %s",
							 (st->group == NIL && foreach_current_index(lc) == 0) ? "" : ", or",
							 ng_pipeline_guard_describe((List *) lfirst(lc)));
		ExplainPropertyText("MongoDB Fallback", buf.data, es);
	}

	if (es->analyze)
	{
		if (st->group == NIL || st->finds > 0)
			ExplainPropertyInteger("MongoDB Finds", NULL, st->finds, es);
		if (st->group != NIL)
			ExplainPropertyInteger("MongoDB Aggregates", NULL,
								   st->aggregates, es);
		if (st->checks > 0)
			ExplainPropertyInteger("MongoDB Checks", NULL, st->checks, es);
		ExplainPropertyInteger("MongoDB Documents", NULL,
							   (int64) st->docs_fetched, es);
		if (st->fallbacks > 0)
			ExplainPropertyInteger("MongoDB Fallbacks", NULL,
								   st->fallbacks, es);
		if (st->split_scans > 0)
			ExplainPropertyInteger("MongoDB Split Scans", NULL,
								   st->split_scans, es);
	}
}
