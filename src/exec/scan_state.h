/*-------------------------------------------------------------------------
 *
 * scan_state.h
 *		  The state of a foreign scan, shared by the scan_*.c files of
 *		  src/exec/.
 *
 * Private to the executor's scan files: scan.c (callbacks, the filter,
 * starting a query), scan_find.c (a find and its local fallbacks),
 * scan_aggregate.c (a pushed aggregation) and scan_explain.c.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/exec/scan_state.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef NG_SCAN_STATE_H
#define NG_SCAN_STATE_H

#include "utils/tuplesort.h"

#include "bson/bson_map.h"
#include "conn/cursor.h"
#include "exec/exec.h"
#include "exec/finalize.h"
#include "write/write.h"

/* A run-time value expression of the pushed conditions and its state. */
typedef struct NgParamSlot
{
	Expr	   *expr;
	ExprState  *state;
} NgParamSlot;

/*
 * The state of one foreign scan.  The plan's decisions come first (read
 * once in ngBeginForeignScan), then what every mode shares, then the parts
 * of each mode: a find (scan_find.c) and an aggregation
 * (scan_aggregate.c).
 */
typedef struct NgScanState
{
	/* the plan, read once */
	NgScanPlan *plan;			/* fdw_private */
	NgTableOptions *opts;		/* plan->opts, for the executing user */
	List	   *remote_exprs;	/* pushed WHERE conditions, Vars numbered by
								 * the table's attnums (for deparse.c) */
	List	   *having_exprs;	/* pushed HAVING conditions, Vars numbered by
								 * result_opts */
	NgTableOptions *result_opts;	/* an aggregation's result document */
	Expr	   *count_expr;		/* pushed LIMIT count, or NULL */
	Expr	   *offset_expr;	/* pushed OFFSET value, or NULL */
	bool		has_limit;		/* LIMIT/OFFSET pushed */
	List	   *sort_keys;		/* NgPlanSortKey *, NIL: no sort pushed */
	bool		grouped;		/* an aggregation, else a find */
	List	   *guards;			/* NgPlanGuard * */
	ScalarArrayOpExpr *batch_template;	/* batched key join: "col op
										 * ANY(placeholder)", or NULL */
	Const	   *batch_keys;		/* ... and the keys of the current batch */

	/* every mode */
	ForeignScanState *node;
	PlanState  *ps;
	MemoryContext scan_cxt;		/* holds this struct and the collection
								 * handle, whose reset frees the driver
								 * objects */
	MemoryContext row_cxt;		/* per document */
	NgCollHandle *remote;		/* connection, collection and cursor; NULL
								 * until the first query */
	bool		coll_verified;	/* the collection is known to exist */
	List	   *params;			/* NgParamSlot * */
	int			ncols;			/* columns of documents MongoDB filtered */
	int			nallcols;		/* plus those only pushed conditions use */
	NgDocReader *reader;		/* converts the ncols output columns */
	NgDocReader *full_reader;	/* ... and those of the pushed conditions */

	/* EXPLAIN ANALYZE */
	uint64		docs_fetched;
	int			finds;
	int			aggregates;
	int			checks;			/* guard finds */
	int			fallbacks;		/* scans computed locally */
	int			split_scans;	/* (re)scans whose filter took several finds
								 * or left conditions out */
	int			stats_fallbacks;	/* fallbacks + split_scans already in the
									 * remote statistics */

	/* per (re)scan, every mode */
	MemoryContext filter_cxt;	/* holds parts, reset per (re)scan */
	NgFilterParts *parts;		/* the filter, in one find or several */
	bool		started;		/* the query was sent (or found needless) */
	bool		done;			/* nothing more to return */
	bool		mongo_done;		/* the cursor is exhausted */
	uint64		scan_docs;		/* documents of this (re)scan */

	/* a find (scan_find.c) */
	ExprState  *remote_qual;	/* pushed conditions, evaluated locally */
	bool		is_target;		/* scanning the table an UPDATE/DELETE
								 * changes */
	bool		overlay;		/* the transaction wrote this collection */
	List	   *overlay_items;	/* NgOverlayItem * still to return */
	MemoryContext overlay_cxt;	/* holds overlay_items, reset per (re)scan */
	int			next_part;		/* the find to send when this one ends */
	bool		lossy;			/* the filter leaves conditions out: check
								 * them here */
	bool		local;			/* sort, skip, limit done here */
	int64		skip_left;		/* local OFFSET still to skip */
	int64		limit_left;		/* local LIMIT left, -1: none */
	int64		offset_value;	/* this (re)scan's OFFSET and LIMIT (-1: */
	int64		count_value;	/* none), should it sort locally after all */
	Tuplesortstate *sorter;		/* local sort */
	TupleTableSlot *sort_slot;
	bool		sorted;

	/* an aggregation (scan_aggregate.c) */
	bool		use_outer;		/* the outer plan runs */
	bool		empty_row_due;	/* no GROUP BY, no documents: return its
								 * one row */
	MemoryContext partial_cxt;	/* partial groups (finalize.c), reset per
								 * (re)scan */
	NgPartialGroups *partial_groups;	/* merged groups; NULL until all
										 * are read */
} NgScanState;

/* in scan.c */
extern Datum ng_scan_eval_param(void *arg, Expr *expr, bool *isnull);
extern bool ng_scan_eval_limit(NgScanState *st, Expr *expr,
							   const char *what, int64 *value);
extern NgFilterParts *ng_scan_build_filter(NgScanState *st,
										   NgParamEval eval);
extern void ng_scan_build_projection(NgScanState *st, bson_t *projection,
									 bool with_conds);
extern void ng_scan_convert_document(NgScanState *st, const bson_t *doc,
									 TupleTableSlot *slot, int ncols);
extern void ng_scan_end_local_sort(NgScanState *st);

/* in scan_find.c */
extern bool ng_scan_guards_trip(NgScanState *st, const bson_t *filter);
extern void ng_scan_send_find(NgScanState *st, const bson_t *filter,
							  bool pushed);
extern bool ng_scan_next_row(NgScanState *st, TupleTableSlot *slot);
extern bool ng_scan_next_local_row(NgScanState *st, TupleTableSlot *slot);
extern void ng_scan_report_cursor_error(NgScanState *st,
										bson_error_t *error);
extern void ng_scan_verify_collection(NgScanState *st);

/* in scan_aggregate.c */
extern void ng_scan_aggregate_begin(NgScanState *st);
extern bool ng_scan_send_aggregate(NgScanState *st, const bson_t *filter);
extern bool ng_scan_next_group_row(NgScanState *st, TupleTableSlot *slot);
extern bool ng_scan_next_outer_row(NgScanState *st, TupleTableSlot *slot);

#endif							/* NG_SCAN_STATE_H */
