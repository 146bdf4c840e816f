/*-------------------------------------------------------------------------
 *
 * cost.c
 *		  The cost model of every path the planner offers: plain, sorted,
 *		  aggregated and limited scans, and batched key joins.
 *
 * Three quantities make every cost:
 *
 *	- a round trip (NG_ROUND_TRIP_COST) before a command's first document,
 *	  paid once per find or aggregate, and once per guard check;
 *	- a document returned (NG_PER_DOC_COST, plus cpu_tuple_cost for the row
 *	  it becomes): transfer and BSON conversion, several times the work of a
 *	  local heap tuple;
 *	- server-side work per document sorted or grouped (cpu_operator_cost):
 *	  cheaper than a local sort or aggregation of the same rows, which also
 *	  pay for transfer.
 *
 * Measured on loopback, a round trip costs as much as streaming a few
 * hundred documents, which is what these ratios say.  A find returns its
 * first batch (up to batch_size documents) before the first row can be
 * read; the rest streams.  Plans in the regression outputs depend on these
 * numbers: change them only with the expected outputs.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/plan/cost.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "optimizer/cost.h"

#include "plan/plan.h"

#define NG_ROUND_TRIP_COST	25.0
#define NG_PER_DOC_COST		0.05

/*
 * A key other than _id may have no index in MongoDB, in which case each
 * keyed find reads the collection on the server: a tenth of a document's
 * transfer for each document of the collection.
 */
#define NG_UNINDEXED_DOC_SHARE 0.1

/* Transfer and conversion of "docs" documents into rows. */
static inline Cost
docs_cost(double docs)
{
	return docs * (NG_PER_DOC_COST + cpu_tuple_cost);
}

/*
 * ng_cost_scan
 *		A find returning "rows" documents in batches of batch_size.
 */
void
ng_cost_scan(double rows, int batch_size, Cost *startup, Cost *total)
{
	*startup = NG_ROUND_TRIP_COST +
		Min(rows, (double) batch_size) * NG_PER_DOC_COST;
	*total = NG_ROUND_TRIP_COST + docs_cost(rows);
}

/*
 * ng_cost_server_work
 *		What MongoDB's sorting or grouping of "rows" documents adds, with
 *		the round trips of nguards guards checked first.
 */
Cost
ng_cost_server_work(double rows, int nguards)
{
	return rows * cpu_operator_cost + NG_ROUND_TRIP_COST * nguards;
}

/*
 * ng_cost_pushed
 *		A command whose sort, aggregation or limit MongoDB does: one round
 *		trip, the server's work over server_rows documents and nguards
 *		guards, before the first of "rows" result documents.
 */
void
ng_cost_pushed(double server_rows, int nguards, double rows,
			   Cost *startup, Cost *total)
{
	*startup = NG_ROUND_TRIP_COST + ng_cost_server_work(server_rows, nguards);
	*total = *startup + docs_cost(rows);
}

/*
 * ng_cost_keyed_find
 *		One find of a batched key join: a round trip, and for a key that may
 *		have no index a share of the collection's documents.
 */
Cost
ng_cost_keyed_find(double collection_docs, bool keyed_by_id)
{
	Cost		per_find = NG_ROUND_TRIP_COST;

	if (!keyed_by_id)
		per_find += collection_docs * NG_PER_DOC_COST * NG_UNINDEXED_DOC_SHARE;
	return per_find;
}

/*
 * ng_cost_batched_inner
 *		The inner ForeignScan of a batched key join: per_find
 *		(ng_cost_keyed_find), then docs_per_find documents.
 */
void
ng_cost_batched_inner(double docs_per_find, Cost per_find,
					  Cost *startup, Cost *total)
{
	*startup = per_find;
	*total = per_find + docs_cost(docs_per_find);
}

/*
 * ng_cost_batched_join
 *		A batched key join: the outer path; one find per batch of
 *		keys_per_find outer rows (the first one before the first row); the
 *		inner_docs matching documents, each with the join's conditions
 *		(qual_per_tuple); hashing each outer row twice; each joined row.
 */
void
ng_cost_batched_join(Path *outer_path, double outer_rows, int keys_per_find,
					 double batches, Cost per_find, double inner_docs,
					 Cost qual_per_tuple, double join_rows,
					 Cost *startup, Cost *total)
{
	*startup = outer_path->startup_cost +
		(outer_path->total_cost - outer_path->startup_cost) *
		Min(1.0, keys_per_find / outer_rows) + per_find;
	*total = outer_path->total_cost +
		batches * per_find +
		inner_docs * (NG_PER_DOC_COST + cpu_tuple_cost + qual_per_tuple) +
		outer_rows * 2 * cpu_operator_cost +
		join_rows * cpu_tuple_cost;
}
