/*-------------------------------------------------------------------------
 *
 * scan_aggregate.c
 *		  A scan that reads a pushed aggregation's pipeline, or runs its
 *		  outer plan when the pipeline cannot be used.
 *
 * The scan tuple of an aggregation holds its outputs (GROUP BY columns and
 * aggregates, NgPlanOutput), read from the fields of each result document
 * as if they were a table's columns (ng_upper_result_options).  The outer
 * plan computes the same rows locally: the scan runs it when the
 * transaction has written the collection, a guard trips, the HAVING filter
 * is too large, or the server rejects the pipeline as unsupported before
 * returning anything.  An aggregation without GROUP BY over no documents
 * still returns its one row (count 0, NULL for min and max).  A pipeline
 * of partial groups (plan/partial.c) is read to its end before the first
 * row: finalize.c merges and finalizes the groups, or says that they
 * cannot be made exact, and the outer plan runs instead.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/exec/scan_aggregate.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"

#include "exec/scan_state.h"

static bool run_outer_instead(NgScanState *st, TupleTableSlot *slot,
							  const char *why);
static bool next_partial_row(NgScanState *st, TupleTableSlot *slot);

/*
 * ng_scan_aggregate_begin
 *		Set up the conversion of an aggregation's result documents: one
 *		column per output, named in errors as the output it is.  Runs in
 *		the scan's memory context.
 */
void
ng_scan_aggregate_begin(NgScanState *st)
{
	NgTableOptions *ro = st->result_opts;
	List	   *outputs = NIL;
	ListCell   *lc;
	int			i = 0;

	foreach(lc, st->plan->outputs)
	{
		NgPlanOutput *out = (NgPlanOutput *) lfirst(lc);
		NgColumn   *col = &ro->columns[foreach_current_index(lc)];

		if (col->field == NULL)
			continue;
		switch (out->kind)
		{
			case NG_OUT_KEY:
				col->attname = psprintf("GROUP BY \"%s\"", out->field);
				break;
			case NG_OUT_COUNT_STAR:
				col->attname = "count(*)";
				break;
			case NG_OUT_COUNT:
				col->attname = psprintf("count(\"%s\")", out->field);
				break;
			case NG_OUT_MIN:
				col->attname = psprintf("min(\"%s\")", out->field);
				break;
			case NG_OUT_MAX:
				col->attname = psprintf("max(\"%s\")", out->field);
				break;
			case NG_OUT_SUM:
				col->attname = psprintf("sum(\"%s\")", out->field);
				break;
			case NG_OUT_AVG:
				col->attname = psprintf("avg(\"%s\")", out->field);
				break;
			case NG_OUT_COUNT_DISTINCT:
				col->attname = psprintf("count(DISTINCT \"%s\")", out->field);
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
}

/*
 * Send the aggregation pipeline; false, sending nothing, when its HAVING
 * filter is too large for one command (the scan then runs its outer plan).
 */
bool
ng_scan_send_aggregate(NgScanState *st, const bson_t *filter)
{
	bson_t		having;
	bson_t		command;
	bson_t		pipeline;
	bson_t		opts;
	NgLimitValue skip;
	NgLimitValue limit;
	NgFilterParts *having_parts;

	having_parts = ng_deparse_filter_parts(st->result_opts, st->having_exprs,
										   ng_scan_eval_param, st,
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
		ng_pipeline_stages(&pipeline, filter, st->plan, &having,
						   &skip, &limit);
		bson_append_array_end(&command, &pipeline);
		BSON_APPEND_INT32(&opts, "batchSize", st->opts->batch_size);
		BSON_APPEND_BOOL(&opts, "allowDiskUse", true);
		ng_coll_aggregate(st->remote, &command, &opts);
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
 * The next result document of the aggregation as a row.  A server that
 * rejects the pipeline as unsupported before sending anything hands the
 * scan over to the outer plan; an aggregation without GROUP BY over no
 * documents still returns its one row.
 */
bool
ng_scan_next_group_row(NgScanState *st, TupleTableSlot *slot)
{
	const bson_t *doc;

	if (st->plan->partial)
		return next_partial_row(st, slot);
	ExecClearTuple(slot);
	if (st->empty_row_due)
	{
		TupleDesc	tupdesc = slot->tts_tupleDescriptor;
		ListCell   *lc;

		st->empty_row_due = false;
		memset(slot->tts_isnull, true, sizeof(bool) * tupdesc->natts);
		foreach(lc, st->plan->outputs)
		{
			NgOutputKind kind = ((NgPlanOutput *) lfirst(lc))->kind;
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

	if (!ng_coll_next(st->remote, &doc))
	{
		bson_error_t error;

		if (ng_coll_cursor_failed(st->remote, &error))
		{
			if (st->scan_docs == 0 && ng_coll_error_is_unsupported(&error))
				return run_outer_instead(st, slot, error.message);
			ng_scan_report_cursor_error(st, &error);
		}
		st->mongo_done = true;
		if (st->scan_docs == 0)
		{
			if (!st->coll_verified)
				ng_scan_verify_collection(st);
			if (st->plan->group_fields == NIL)
			{
				st->empty_row_due = true;
				return ng_scan_next_group_row(st, slot);
			}
		}
		return false;
	}
	st->docs_fetched++;
	st->scan_docs++;
	CHECK_FOR_INTERRUPTS();
	ng_scan_convert_document(st, doc, slot, st->ncols);
	ExecStoreVirtualTuple(slot);
	return true;
}

/*
 * Give the scan over to the outer plan, before any row was returned, and
 * return its first row; why says why, for DEBUG1.
 */
static bool
run_outer_instead(NgScanState *st, TupleTableSlot *slot, const char *why)
{
	ereport(DEBUG1,
			(errmsg_internal("aggregating foreign table \"%s\" locally: %s",
							 st->opts->relname, why)));
	ng_coll_close_cursor(st->remote);
	st->use_outer = true;
	st->fallbacks++;
	return ng_scan_next_outer_row(st, slot);
}

/*
 * The next merged group of an aggregation that returns partial groups
 * (plan/partial.c).  The first call reads them all and finalize.c merges
 * them; if they cannot be finalized exactly, or the server rejects the
 * pipeline, the scan runs its outer plan instead, having returned nothing.
 */
static bool
next_partial_row(NgScanState *st, TupleTableSlot *slot)
{
	NgPartialGroups *g = st->partial_groups;

	ExecClearTuple(slot);
	if (g == NULL)
	{
		const bson_t *doc;
		bson_error_t error;
		bool		ok = true;

		if (st->partial_cxt == NULL)
			st->partial_cxt = AllocSetContextCreate(st->scan_cxt,
													"nutragenie partial groups",
													ALLOCSET_DEFAULT_SIZES);
		else
			MemoryContextReset(st->partial_cxt);
		g = ng_finalize_begin(st->plan, st->result_opts, st->partial_cxt);
		while (ok && ng_coll_next(st->remote, &doc))
		{
			st->docs_fetched++;
			st->scan_docs++;
			CHECK_FOR_INTERRUPTS();
			ok = ng_finalize_add(g, doc);
		}
		if (ok && ng_coll_cursor_failed(st->remote, &error))
		{
			if (st->scan_docs == 0 && ng_coll_error_is_unsupported(&error))
				return run_outer_instead(st, slot, error.message);
			ng_scan_report_cursor_error(st, &error);
		}
		if (ok)
		{
			ng_finalize_end(g);
			ok = ng_finalize_check(g);
		}
		if (!ok)
			return run_outer_instead(st, slot,
									 "a partial group cannot be finalized exactly");
		if (st->scan_docs == 0 && !st->coll_verified)
			ng_scan_verify_collection(st);
		st->mongo_done = true;
		st->partial_groups = g;
	}
	if (!ng_finalize_next(g, slot->tts_values, slot->tts_isnull))
		return false;
	ExecStoreVirtualTuple(slot);
	return true;
}

/*
 * The next row of the outer plan (the local plan of an aggregation), in
 * the scan tuple: its columns are the scan tuple's first ones; the rest
 * (columns only pushed WHERE conditions use) stay NULL.
 */
bool
ng_scan_next_outer_row(NgScanState *st, TupleTableSlot *slot)
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
