/*-------------------------------------------------------------------------
 *
 * estimate.c
 *		  Asks MongoDB how many documents a foreign scan would read, for the
 *		  planner's row estimates (use_remote_estimate).
 *
 * Without ANALYZE statistics the planner knows nothing about a collection's
 * size or a filter's selectivity.  With use_remote_estimate on the server
 * or table, planning a scan sends two cheap commands: the collection's
 * estimated document count (metadata, no scan) and a count of the documents
 * matching the pushed conditions that are known at plan time.  Conditions
 * on run-time values (parameters, outer rows) are left out of the count and
 * estimated by PostgreSQL as usual.  Like postgres_fdw's, this costs round
 * trips at every planning, so it is off by default.
 *
 * This is the planner's only I/O, and it goes through the connection
 * layer's collection handle (conn/cursor.h), like a scan's.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/plan/estimate.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"

#include "conn/cursor.h"
#include "plan/plan.h"

static bool contains_run_time_value(Node *node, void *context);

/*
 * Does the condition depend on anything not known at plan time: a Param,
 * another relation's column, or a value the scan computes when it starts
 * (now() - interval '1 day')?  Those deparse to placeholders at plan time.
 */
static bool
contains_run_time_value(Node *node, void *context)
{
	Index		relid = *(Index *) context;

	if (node == NULL || IsA(node, Const))
		return false;
	if (IsA(node, Var))
		return ((Var *) node)->varno != relid ||
			((Var *) node)->varlevelsup != 0;
	if (IsA(node, Param))
		return true;
	if (!IsA(node, List) && !contain_var_clause(node))
		return true;
	return expression_tree_walker(node, contains_run_time_value, context);
}

/*
 * Estimate the documents of the table's collection (*total) and those
 * matching the plan-time part of remote_conds (RestrictInfos pushed to
 * MongoDB; *matching).  Raises on a failed command, naming the table.
 */
void
ng_estimate_remote(NgTableOptions *opts, Index relid, List *remote_conds,
				   double *total, double *matching)
{
	List	   *exprs = NIL;
	ListCell   *lc;
	NgCollHandle *coll;
	bson_t		filter;
	bson_error_t error;
	int64_t		n_total;
	int64_t		n_match;
	NgFilterParts *parts;
	int			nparts;
	int			i;

	foreach(lc, remote_conds)
	{
		Expr	   *clause = ((RestrictInfo *) lfirst(lc))->clause;

		if (!contains_run_time_value((Node *) clause, &relid))
			exprs = lappend(exprs, clause);
	}

	/*
	 * A filter too large for one command is counted in its parts, which
	 * match disjoint sets of documents; one that leaves conditions out
	 * overestimates, which is harmless here.
	 */
	parts = ng_deparse_filter_parts(opts, exprs, NULL, NULL,
									NG_MAX_FILTER_BYTES);
	nparts = ng_filter_parts_count(parts);

	coll = ng_coll_open(opts->serverid, opts->userid, opts->database,
						opts->collection);
	n_total = ng_coll_estimated_count(coll, &error);
	n_match = n_total >= 0 ? 0 : -1;
	for (i = 0; i < nparts && n_match >= 0; i++)
	{
		int64_t		n;

		bson_init(&filter);
		ng_filter_parts_append(&filter, parts, i);
		n = bson_empty(&filter) ? n_total :
			ng_coll_count(coll, &filter, &error);
		bson_destroy(&filter);
		n_match = n < 0 ? -1 : n_match + n;
	}
	if (n_total < 0 || n_match < 0)
		ng_coll_report_error(coll, &error,
							 psprintf("estimate the size of collection \"%s.%s\" for foreign table \"%s\"",
									  opts->database, opts->collection,
									  opts->relname));

	ng_coll_release(coll);
	*total = (double) n_total;
	*matching = (double) n_match;
}
