/*-------------------------------------------------------------------------
 *
 * scan_explain.c
 *		  EXPLAIN of a foreign scan: the MongoDB command it sends, its
 *		  fallback, and with ANALYZE what it did.
 *
 * The command is printed as Extended JSON that can be run in a MongoDB
 * shell (db.runCommand(EJSON.parse('...'))), built by the same code that
 * builds what the scan sends (deparse.c, pipeline.c), with run-time values
 * shown as placeholders.  No server is needed: a scan begun for EXPLAIN
 * only never connects.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/exec/scan_explain.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "exec/scan_state.h"

static void explain_limit_value(NgScanState *st, Expr *expr,
								NgLimitValue *v);

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
		NgFilterParts *parts = ng_scan_build_filter(st, NULL);

		/* a split filter shows its first find */
		ng_filter_parts_append(&filter, parts, 0);
		split = ng_filter_parts_describe(parts);
		if (st->grouped)
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
			ng_pipeline_stages(&pipeline, &filter, st->plan, &having,
							   &skip, &limit);
			bson_append_array_end(&command, &pipeline);
			BSON_APPEND_DOCUMENT_BEGIN(&command, "cursor", &cursor);
			bson_append_document_end(&command, &cursor);
		}
		else
		{
			ng_scan_build_projection(st, &projection,
									 ng_filter_parts_lossy(parts));
			if (ng_pipeline_sort_is_computed(st->sort_keys))
			{
				bson_t		pipeline;
				bson_t		cursor;

				BSON_APPEND_UTF8(&command, "aggregate", st->opts->collection);
				bson_append_array_unsafe_begin(&command, "pipeline", -1,
											   &pipeline);
				ng_pipeline_sorted_stages(&pipeline, &filter, &projection,
										  st->sort_keys, &skip, &limit);
				bson_append_array_end(&command, &pipeline);
				BSON_APPEND_DOCUMENT_BEGIN(&command, "cursor", &cursor);
				bson_append_document_end(&command, &cursor);
			}
			else
			{
				BSON_APPEND_UTF8(&command, "find", st->opts->collection);
				BSON_APPEND_DOCUMENT(&command, "filter", &filter);
				ng_pipeline_find_options(&command, &projection, st->sort_keys,
										 &skip, &limit);
			}
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

	if (st->grouped || st->guards != NIL ||
		ng_pipeline_sort_is_computed(st->sort_keys))
	{
		StringInfoData buf;
		bool		first = true;

		initStringInfo(&buf);
		if (st->grouped)
		{
			appendStringInfoString(&buf, "the plan below, if the transaction has written the collection or the server cannot run the pipeline");
			if (st->plan->partial)
				appendStringInfoString(&buf, ", or if its partial groups cannot be finalized exactly");
			first = false;
		}
		else
			appendStringInfoString(&buf, "sort locally");
		if (!st->grouped && ng_pipeline_sort_is_computed(st->sort_keys))
		{
			appendStringInfoString(&buf, " if the server cannot run the pipeline");
			first = false;
		}
		foreach(lc, st->guards)
		{
			appendStringInfo(&buf, "%s if %s", first ? "" : ", or",
							 ng_pipeline_guard_describe(lfirst(lc)));
			first = false;
		}
		ExplainPropertyText("MongoDB Fallback", buf.data, es);
	}

	if (es->analyze)
	{
		if (!st->grouped || st->finds > 0)
			ExplainPropertyInteger("MongoDB Finds", NULL, st->finds, es);
		if (st->grouped)
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
