/*-------------------------------------------------------------------------
 *
 * plan.h
 *		  What the planner layer offers: the FDW planning callbacks, the plan
 *		  contract the executor reads, the cost model and the translation of
 *		  conditions into MongoDB filters.
 *
 * Nothing in src/plan/ talks to a server, with one named exception:
 * estimate.c asks MongoDB for counts when "use_remote_estimate" is on,
 * through the connection layer.  The planner hands its decisions to the
 * executor in one struct, NgScanPlan (a batched key join's in NgBatchPlan),
 * which contract.c alone turns into the node lists a plan is made of and
 * back; no other file knows a slot position of fdw_private.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/plan/plan.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef NG_PLAN_H
#define NG_PLAN_H

#include "nutragenie.h"

#include "nodes/pathnodes.h"
#include "nodes/plannodes.h"
#include "nodes/primnodes.h"

/*
 * Evaluates a non-Const value expression (a Param, or an outer Var turned
 * into one) found in a pushed-down condition.  Used by the executor; the
 * planner (EXPLAIN) deparses with no evaluator and prints placeholders.
 */
typedef Datum (*NgParamEval) (void *arg, Expr *expr, bool *isnull);

/* ----------------------------------------------------------------
 * The plan contract (contract.c)
 * ----------------------------------------------------------------
 */

/*
 * A guard: a run-time check, before the pushed operation is used, that the
 * documents it applies to hold no values on which MongoDB's order or
 * grouping differs from PostgreSQL's.  If they do, the scan computes the
 * result locally instead.
 */
typedef enum NgGuardKind
{
	NG_GUARD_STRING_OBJECTID,	/* some value is a string, another an
								 * ObjectId (a text column reads both) */
	NG_GUARD_MISSING_NULL		/* the field is missing in some document and
								 * null in another (distinct keys of a
								 * compound $group _id) */
} NgGuardKind;

typedef struct NgPlanGuard
{
	char	   *field;			/* MongoDB path */
	NgGuardKind kind;
} NgPlanGuard;

/* One pushed sort key. */
typedef struct NgPlanSortKey
{
	char	   *field;			/* MongoDB path */
	bool		descending;
	bool		nulls_first;
	AttrNumber	attno;			/* 1-based position in the scan tuple (for
								 * sorting locally) */
	Oid			sortop;
	Oid			collation;
	int			flags;			/* NG_SORT_FLAG_*: computed keys sorted on
								 * before the field (pipeline.c) */
} NgPlanSortKey;

/*
 * Computed sort keys: a sort with any of them is sent as an aggregation
 * ($addFields, $sort) instead of a find.
 */
#define NG_SORT_FLAG_NULLS	1	/* "null or missing" first or last, as the
								 * key's NULLS FIRST/LAST says */
#define NG_SORT_FLAG_NAN	2	/* NaN above every number (float8) */

/* What one column of an aggregation's scan tuple holds. */
typedef enum NgOutputKind
{
	NG_OUT_NONE,				/* not filled: a column only pushed WHERE
								 * conditions use */
	NG_OUT_KEY,					/* a GROUP BY column */
	NG_OUT_COUNT_STAR,			/* count(*) */
	NG_OUT_COUNT,				/* count(col) */
	NG_OUT_MIN,					/* min(col) */
	NG_OUT_MAX,					/* max(col) */
	NG_OUT_SUM,					/* sum(col): partial groups only */
	NG_OUT_AVG,					/* avg(col): partial groups only */
	NG_OUT_COUNT_DISTINCT		/* count(DISTINCT col): partial groups
								 * only */
} NgOutputKind;

typedef struct NgPlanOutput
{
	NgOutputKind kind;
	char	   *field;			/* the field read from ("" for none) */
	char	   *name;			/* its name in the result document ("" for
								 * none) */
	int			tclass;			/* NgTypeClass of the column read
								 * (NG_TC_NONE for none) */
	Oid			argtype;		/* count(DISTINCT col): the column's type */
} NgPlanOutput;

/*
 * Everything a ForeignScan of ours tells the executor, besides fdw_exprs
 * (the pushed WHERE conditions, then the pushed HAVING conditions, then
 * the LIMIT count and the OFFSET value) and fdw_scan_tlist.  Written by
 * ngGetForeignPlan (plan.c) for a base relation and ng_upper_plan (upper.c)
 * for an upper one; read once per scan by ngBeginForeignScan (exec/).
 */
typedef struct NgScanPlan
{
	NgTableOptions *opts;		/* the foreign table's resolved options */
	List	   *retrieved;		/* Integer: attnums to convert */
	List	   *cond_columns;	/* Integer: attnums only the pushed
								 * conditions use */
	List	   *slots;			/* Integer: for each attnum of the two lists
								 * above, its 0-based position in the scan
								 * tuple; NIL: attnum - 1 */
	int			nwhere;			/* fdw_exprs that are WHERE conditions; -1:
								 * all of them */
	int			nhaving;		/* ... then HAVING conditions */
	bool		has_limit;		/* LIMIT/OFFSET pushed */
	int			limit_index;	/* fdw_exprs index of the LIMIT count, -1:
								 * none */
	int			offset_index;	/* ... of the OFFSET value, -1: none */
	List	   *sort_keys;		/* NgPlanSortKey *; NIL: no sort pushed */
	bool		grouped;		/* an aggregation: see the next three */
	bool		partial;		/* its pipeline returns partial groups
								 * (partial.c) that the scan merges and
								 * finalizes (exec/finalize.c) */
	List	   *group_fields;	/* String: paths of the GROUP BY columns */
	List	   *outputs;		/* NgPlanOutput *, one per scan tuple column */
	List	   *guards;			/* NgPlanGuard * */
	ScalarArrayOpExpr *batch_key;	/* the inner side of a batched key join:
									 * "col op ANY(placeholder)"; else NULL */
} NgScanPlan;

/*
 * custom_private of a batched key join's CustomScan (batchjoin.c plans it,
 * exec/batchjoin_exec.c runs it).
 */
typedef struct NgBatchPlan
{
	JoinType	jointype;		/* JOIN_INNER or JOIN_LEFT */
	int			keys_per_find;	/* outer rows per batch */
	Oid			key_type;		/* type of the keys sent */
	Oid			outer_hash;		/* hash function of the outer key */
	Oid			inner_hash;		/* ... of the foreign column */
	Oid			collation;		/* the comparison's collation */
	char	   *field;			/* MongoDB path of the key (EXPLAIN) */
} NgBatchPlan;

/* The custom name of the batched key join's path and plan nodes. */
#define NG_BATCH_JOIN_NAME "NutragenieBatchedKeyJoin"

/*
 * The paramid of the placeholder for a batch's keys in the key condition a
 * batched key join pushes ("col = ANY($batch)"): a PARAM_EXTERN, whose real
 * ids start at 1.  Never evaluated; EXPLAIN shows it as "batch".
 */
#define NG_BATCH_PARAMID 0

extern NgScanPlan *ng_scan_plan_create(NgTableOptions *opts);
extern List *ng_scan_plan_to_list(const NgScanPlan *plan);
extern NgScanPlan *ng_scan_plan_from_list(List *list);
extern List *ng_batch_plan_to_list(const NgBatchPlan *plan);
extern NgBatchPlan *ng_batch_plan_from_list(List *list);
extern List *ng_plan_guard_add(List *guards, const char *field,
							   NgGuardKind kind);

/* ----------------------------------------------------------------
 * Planner data of a relation (fdw_private of its RelOptInfo)
 * ----------------------------------------------------------------
 */

/* Tells the planner data of a foreign base relation from an upper one's. */
typedef enum NgRelKind
{
	NG_REL_BASE = 1,			/* NgRelInfo */
	NG_REL_UPPER				/* NgUpperInfo, private to upper.c */
} NgRelKind;

/* What the planner keeps about a foreign base relation. */
typedef struct NgRelInfo
{
	NgRelKind	kind;			/* NG_REL_BASE */
	NgTableOptions *opts;
	List	   *remote_conds;	/* RestrictInfos sent to MongoDB */
	List	   *local_conds;	/* RestrictInfos evaluated here (incl.
								 * rechecks of pushed ones) */
} NgRelInfo;

/* ----------------------------------------------------------------
 * The cost model (cost.c)
 * ----------------------------------------------------------------
 */

/* Without ANALYZE a collection is assumed to hold this many documents. */
#define NG_DEFAULT_DOCS		1000.0

extern void ng_cost_scan(double rows, int batch_size, Cost *startup,
						 Cost *total);
extern Cost ng_cost_server_work(double rows, int nguards);
extern void ng_cost_pushed(double server_rows, int nguards, double rows,
						   Cost *startup, Cost *total);
extern Cost ng_cost_keyed_find(double collection_docs, bool keyed_by_id);
extern void ng_cost_batched_inner(double docs_per_find, Cost per_find,
								  Cost *startup, Cost *total);
extern void ng_cost_batched_join(Path *outer_path, double outer_rows,
								 int keys_per_find, double batches,
								 Cost per_find, double inner_docs,
								 Cost qual_per_tuple, double join_rows,
								 Cost *startup, Cost *total);

/* What kind of column a condition (or sort key, or aggregate) applies to. */
typedef enum NgTypeClass
{
	NG_TC_NONE,					/* not pushable */
	NG_TC_INT,
	NG_TC_FLOAT8,
	NG_TC_NUMERIC,
	NG_TC_TEXT,
	NG_TC_OBJECTID,
	NG_TC_BOOL,
	NG_TC_UUID,
	NG_TC_TIMESTAMP,			/* timestamp and timestamptz */
	NG_TC_DATE
} NgTypeClass;

/* ----------------------------------------------------------------
 * Planning callbacks and paths
 * ----------------------------------------------------------------
 */

/* in plan.c */
extern void ngGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel,
								Oid foreigntableid);
extern void ngGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel,
							  Oid foreigntableid);
extern ForeignScan *ngGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel,
									 Oid foreigntableid, ForeignPath *best_path,
									 List *tlist, List *scan_clauses,
									 Plan *outer_plan);
extern List *ng_plan_retrieved_columns(NgTableOptions *opts,
									   Bitmapset *attrs);

/* in sort.c */

/* A sort key MongoDB can apply, while planning. */
typedef struct NgSortKey
{
	const char *field;			/* MongoDB path */
	bool		descending;
	bool		nulls_first;
	Oid			sortop;
	Oid			collation;
	Expr	   *expr;			/* the column, or the aggregation output */
	AttrNumber	attnum;			/* base column (0 for grouped outputs) */
	bool		guard;			/* text: strings and ObjectIds may mix */
	int			flags;			/* NG_SORT_FLAG_*: computed keys */
} NgSortKey;

extern void ng_sort_add_paths(PlannerInfo *root, RelOptInfo *baserel,
							  NgRelInfo *fpinfo, Cost startup, Cost total);
extern List *ng_sort_base_plan(PlannerInfo *root, RelOptInfo *baserel,
							   ForeignPath *best_path, List **guards);
extern bool ng_sort_keys_for_base(PlannerInfo *root, RelOptInfo *baserel,
								  NgRelInfo *fpinfo, List *pathkeys,
								  List **keys);
extern NgSortKey *ng_sort_key_make(PathKey *pk, EquivalenceClass *ec,
								   Oid datatype, Expr *expr,
								   const char *field);
extern bool ng_sort_type_is_exact(NgTypeClass tclass, Oid basetype,
								  Oid opfamily, Oid collation);
extern bool ng_sort_column_nonnull(RelOptInfo *baserel, AttrNumber attnum);
extern int	ng_sort_guarded_keys(List *keys);
extern int	ng_sort_computed_keys(List *keys);
extern List *ng_sort_plan_keys(List *keys, List *scan_tlist);

/* in upper.c */
extern void ngGetForeignUpperPaths(PlannerInfo *root,
								   UpperRelationKind stage,
								   RelOptInfo *input_rel,
								   RelOptInfo *output_rel, void *extra);
extern ForeignScan *ng_upper_plan(PlannerInfo *root, RelOptInfo *rel,
								  ForeignPath *best_path, List *tlist,
								  Plan *outer_plan);
extern NgTableOptions *ng_upper_result_options(List *outputs,
											   List *scan_tlist);

/* in batchjoin.c */
extern void ng_batchjoin_init(void);

/* in estimate.c: the planner's one use of the server */
extern void ng_estimate_remote(NgTableOptions *opts, Index relid,
							   List *remote_conds, double *total,
							   double *matching);

/* ----------------------------------------------------------------
 * Conditions and commands
 * ----------------------------------------------------------------
 */

/* in shippable.c */
extern bool ng_is_shippable_op(Oid opno);


/* in deparse.c */
extern void ng_classify_conditions(PlannerInfo *root, RelOptInfo *baserel,
								   NgTableOptions *opts, List *input_conds,
								   List **remote_conds, List **local_conds);
extern bool ng_is_foreign_expr(PlannerInfo *root, RelOptInfo *baserel,
							   NgTableOptions *opts, Expr *expr,
							   bool *needs_recheck);
extern bool ng_is_foreign_expr_on(NgTableOptions *opts, Index relid,
								  Expr *expr, bool *needs_recheck);
extern NgColumn *ng_deparse_column(NgTableOptions *opts, Index relid,
								   Node *node, Oid *basetype,
								   NgTypeClass *tclass);
typedef struct NgFilterParts NgFilterParts;
extern NgFilterParts *ng_deparse_filter_parts(NgTableOptions *opts,
											  List *remote_conds,
											  NgParamEval eval,
											  void *eval_arg,
											  Size max_bytes);
extern int	ng_filter_parts_count(const NgFilterParts *parts);
extern bool ng_filter_parts_lossy(const NgFilterParts *parts);
extern void ng_filter_parts_append(bson_t *filter,
								   const NgFilterParts *parts, int i);
extern char *ng_filter_parts_describe(const NgFilterParts *parts);
extern void ng_deparse_projection(bson_t *projection, NgTableOptions *opts,
								  Bitmapset *attrs_used);
extern char *ng_bson_as_json(const bson_t *doc);

/* in pipeline.c */

/* A pushed LIMIT count or OFFSET value, or its placeholder for EXPLAIN. */
typedef struct NgLimitValue
{
	bool		present;		/* false: nothing to send */
	int64		value;			/* when label == NULL */
	const char *label;			/* unknown yet: {"$param": label} */
} NgLimitValue;

extern void ng_pipeline_sort(bson_t *sort, List *sort_keys);
extern void ng_pipeline_group(bson_t *group, const NgScanPlan *plan);
extern void ng_pipeline_find_options(bson_t *opts, const bson_t *projection,
									 List *sort_keys, const NgLimitValue *skip,
									 const NgLimitValue *limit);
extern void ng_pipeline_stages(bson_t *array, const bson_t *filter,
							   const NgScanPlan *plan, const bson_t *having,
							   const NgLimitValue *skip,
							   const NgLimitValue *limit);
extern bool ng_pipeline_sort_is_computed(List *sort_keys);
extern void ng_pipeline_sorted_stages(bson_t *array, const bson_t *filter,
									  const bson_t *projection,
									  List *sort_keys,
									  const NgLimitValue *skip,
									  const NgLimitValue *limit);
extern bool ng_field_is_expression_safe(const char *field);
extern char *ng_pipeline_guard_describe(const NgPlanGuard *guard);
extern void ng_pipeline_guard_filter(bson_t *doc, const bson_t *filter,
									 const NgPlanGuard *guard, bool second);

/* in partial.c */
extern NgOutputKind ng_partial_output_kind(Oid aggfnoid, NgTypeClass tclass,
										   int32 typmod, Oid collation);
extern bool ng_partial_output_is_typed(NgOutputKind kind, int tclass);
extern int	ng_partial_type_field(List *outputs, int index);
extern int	ng_partial_type_count(List *outputs);
extern const char *ng_partial_nan_field(List *outputs, int t);
extern bool ng_partial_needs_canary(List *outputs);
extern const char *ng_partial_distinct_field(List *outputs);
extern void ng_partial_group_body(bson_t *group, const NgScanPlan *plan);

#endif							/* NG_PLAN_H */
