/*-------------------------------------------------------------------------
 *
 * scan.c
 *		  The foreign scan callbacks: set up a scan from its plan, build
 *		  its filter, start its query and hand out its rows.
 *
 * One find (or aggregate) per scan, and per rescan with the new parameter
 * values: the filter is built from the pushed conditions once their
 * run-time values are known, the projection from the columns the plan
 * needs; a pushed sort, skip and limit (and for an aggregation the $group,
 * HAVING $match ... built by pipeline.c) go with it.  The cursor pulls
 * batch_size documents per round trip, so memory stays flat however large
 * the collection; each document is converted in a per-row context that is
 * reset before the next one.  A scan runs in one of these modes, chosen
 * when it starts:
 *
 *	find			a find, its documents merged with the transaction's own
 *					writes (scan_find.c)
 *	local			the same find without its pushed sort, skip and limit,
 *					which the scan does itself (scan_find.c)
 *	aggregate		the pushed aggregation's pipeline (scan_aggregate.c)
 *	outer			an aggregation computed by its outer plan, the equivalent
 *					local plan (scan_aggregate.c)
 *
 * and as the inner side of a batched key join it adds the batch's keys to
 * its filter (ng_scan_set_batch).
 *
 * Pushed upper operations fall back to local work at run time (upper.c
 * explains why): when the transaction has written the collection, or a
 * guard finds values MongoDB would order or group differently, a find that
 * pushed a sort, skip or limit becomes "local"; an aggregation runs its
 * outer plan instead, as it also does when the server rejects the pipeline
 * as unsupported before returning anything.  A filter larger than
 * nutragenie.max_filter_size is sent as a series of finds, each with a
 * slice of its largest $in; a filter that had to leave conditions out
 * makes the scan check every pushed condition on each document (deparse.c
 * decides).  Either way nothing is pushed that needs the whole result in
 * one find.
 *
 * The cursor, the collection and the borrowed connection belong to a
 * collection handle (conn/cursor.c) allocated in the scan's memory context,
 * whose reset callback releases them, so an error at any point (a
 * conversion error, a cancel, a lost connection) still frees the driver
 * objects.
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

#include "exec/scan_state.h"

static Node *index_var_to_column(Node *node, List *scan_tlist);
static void start_scan(NgScanState *st);
static void count_fallbacks(NgScanState *st);

/*
 * Set up the scan state.  No connection is made here: EXPLAIN without
 * ANALYZE never talks to the server, and a scan that is never read never
 * sends a query.
 */
void
ngBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	NgScanPlan *plan;
	MemoryContext scan_cxt;
	MemoryContext oldcxt;
	NgScanState *st;
	List	   *retrieved;
	List	   *slots;
	int			width;
	List	   *where;
	int			nwhere;
	int			nhaving;

	scan_cxt = AllocSetContextCreate(CurrentMemoryContext,
									 "nutragenie scan",
									 ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(scan_cxt);

	st = palloc0(sizeof(NgScanState));
	st->scan_cxt = scan_cxt;
	st->node = node;
	st->ps = &node->ss.ps;
	plan = ng_scan_plan_from_list(fsplan->fdw_private);
	st->plan = plan;
	st->opts = plan->opts;
	/* the mapping of who runs the plan, not of who planned it */
	st->opts->userid = ng_foreign_scan_user(fsplan, st->ps->state);
	node->fdw_state = st;

	/* fdw_exprs: WHERE conditions, HAVING conditions, LIMIT, OFFSET */
	nwhere = plan->nwhere >= 0 ? plan->nwhere : list_length(fsplan->fdw_exprs);
	nhaving = plan->nhaving;
	where = list_copy_head(fsplan->fdw_exprs, nwhere);
	st->having_exprs = list_copy_head(list_copy_tail(fsplan->fdw_exprs, nwhere),
									  nhaving);
	if (fsplan->scan.scanrelid == 0)
		st->remote_exprs = (List *)
			index_var_to_column((Node *) where, fsplan->fdw_scan_tlist);
	else
		st->remote_exprs = where;

	if (plan->has_limit)
	{
		st->has_limit = true;
		if (plan->limit_index >= 0)
			st->count_expr = list_nth(fsplan->fdw_exprs, plan->limit_index);
		if (plan->offset_index >= 0)
			st->offset_expr = list_nth(fsplan->fdw_exprs, plan->offset_index);
	}
	st->sort_keys = plan->sort_keys;
	st->grouped = plan->grouped;
	st->guards = plan->guards;
	st->batch_template = plan->batch_key;
	if (st->grouped)
		st->result_opts = ng_upper_result_options(plan->outputs,
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

	if (st->grouped)
	{
		ng_scan_aggregate_begin(st);
		MemoryContextSwitchTo(oldcxt);
		return;
	}

	st->remote_qual = ExecInitQual(where, &node->ss.ps);

	retrieved = plan->retrieved;
	slots = plan->slots;
	width = node->ss.ss_ScanTupleSlot->tts_tupleDescriptor->natts;
	st->ncols = list_length(retrieved);
	st->reader = ng_document_reader_create(st->opts, retrieved,
										   slots ? list_copy_head(slots, st->ncols) : NIL,
										   width);
	retrieved = list_concat_copy(retrieved,
								 plan->cond_columns);
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

/* End a local sort, if any. */
void
ng_scan_end_local_sort(NgScanState *st)
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
Datum
ng_scan_eval_param(void *arg, Expr *expr, bool *isnull)
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
bool
ng_scan_eval_limit(NgScanState *st, Expr *expr, const char *what, int64 *value)
{
	bool		isnull;
	Datum		d;

	if (expr == NULL)
		return false;
	d = ng_scan_eval_param(st, expr, &isnull);
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
NgFilterParts *
ng_scan_build_filter(NgScanState *st, NgParamEval eval)
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
void
ng_scan_build_projection(NgScanState *st, bson_t *projection, bool with_conds)
{
	Bitmapset  *attrs = NULL;
	ListCell   *lc;

	foreach(lc, st->plan->retrieved)
		attrs = bms_add_member(attrs, intVal(lfirst(lc)) -
							   FirstLowInvalidHeapAttributeNumber);
	if (with_conds)
		foreach(lc, st->plan->cond_columns)
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
	st->partial_groups = NULL;
	st->scan_docs = 0;
	st->mongo_done = false;
	ng_scan_end_local_sort(st);

	if (st->has_limit)
	{
		if (!ng_scan_eval_limit(st, st->count_expr, "LIMIT", &count))
			count = -1;
		if (!ng_scan_eval_limit(st, st->offset_expr, "OFFSET", &offset))
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
	st->offset_value = offset;
	st->count_value = count;

	if (st->remote == NULL)
	{
		MemoryContext cxt = MemoryContextSwitchTo(st->scan_cxt);

		st->remote = ng_coll_open(st->opts->serverid, st->opts->userid,
								  st->opts->database, st->opts->collection);
		MemoryContextSwitchTo(cxt);
	}

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

		st->parts = ng_scan_build_filter(st, ng_scan_eval_param);
		MemoryContextSwitchTo(cxt);
	}
	st->next_part = 1;
	st->lossy = ng_filter_parts_lossy(st->parts);
	split = st->lossy || ng_filter_parts_count(st->parts) > 1;
	if (split)
		st->split_scans++;

	ng_coll_track(st->remote, st->opts->relid,
				  st->batch_template ? NG_STATS_KEY_JOIN : NG_STATS_PUSHED);
	bson_init(&filter);
	PG_TRY();
	{
		ng_filter_parts_append(&filter, st->parts, 0);

		fallback = st->overlay || split ||
			((st->grouped || st->sort_keys != NIL) &&
			 ng_scan_guards_trip(st, &filter));
		if (fallback)
			ng_coll_track(st->remote, st->opts->relid, NG_STATS_FALLBACK);
		if (st->grouped)
		{
			if (fallback || !ng_scan_send_aggregate(st, &filter))
				st->use_outer = true;
		}
		else
		{
			st->local = fallback &&
				(st->sort_keys != NIL || st->has_limit);
			ng_scan_send_find(st, &filter, !st->local);
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
			have_row = ng_scan_next_outer_row(st, slot);
		else if (st->grouped)
			have_row = ng_scan_next_group_row(st, slot);
		else if (st->local)
			have_row = ng_scan_next_local_row(st, slot);
		else
			have_row = ng_scan_next_row(st, slot);
		if (!have_row)
			st->done = true;
	}

	if (!have_row)
		ExecClearTuple(slot);

	MemoryContextSwitchTo(oldcxt);
	return slot;
}

/*
 * Fill the slot's values from one document.  ncols says which columns: the
 * plan's output columns (st->ncols), or those plus the columns only the
 * pushed conditions use (st->nallcols), needed for documents MongoDB did
 * not filter.  document.c does the work and names table, column, field and
 * _id in conversion errors.
 */
void
ng_scan_convert_document(NgScanState *st, const bson_t *doc,
						 TupleTableSlot *slot, int ncols)
{
	ng_document_to_values(ncols == st->ncols ? st->reader : st->full_reader,
						  doc, slot->tts_values, slot->tts_isnull);
	if (st->remote != NULL)
		ng_coll_stats_converted(st->remote);
}

/*
 * Restart the scan: the next fetch sends a new query with the current
 * parameter values.  (The executor rescans the outer plan itself.)
 */
void
ngReScanForeignScan(ForeignScanState *node)
{
	NgScanState *st = (NgScanState *) node->fdw_state;

	if (st->remote != NULL)
		ng_coll_close_cursor(st->remote);
	count_fallbacks(st);
	ng_scan_end_local_sort(st);
	st->started = false;
	st->mongo_done = false;
	st->overlay_items = NIL;
}

/*
 * Add the scan's fallbacks (local sorts, limits or groupings, and split or
 * shortened filters: what EXPLAIN ANALYZE reports) since the last call to
 * the remote statistics.
 */
static void
count_fallbacks(NgScanState *st)
{
	int			n = st->fallbacks + st->split_scans;
	NgStatsCounters *c;

	if (n == st->stats_fallbacks)
		return;
	c = ng_stats_entry(st->opts->relid, st->opts->userid, st->opts->database,
					   st->opts->collection,
					   st->grouped ? NG_STATS_AGGREGATE : NG_STATS_FIND,
					   NG_STATS_FALLBACK);
	if (c != NULL)
		c->fallbacks += n - st->stats_fallbacks;
	st->stats_fallbacks = n;
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
		count_fallbacks(st);
		ng_stats_flush();
		if (st->remote != NULL)
			ng_coll_release(st->remote);
		ng_scan_end_local_sort(st);
		if (st->sort_slot != NULL)
		{
			ExecDropSingleTupleTableSlot(st->sort_slot);
			st->sort_slot = NULL;
		}
	}
}
