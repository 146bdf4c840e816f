/*-------------------------------------------------------------------------
 *
 * batchjoin.c
 *		  Batched key joins: a relation joined to a foreign table on a key
 *		  sends one "$in" find per batch of outer rows.
 *
 * A nested loop over a parameterized foreign scan (plan.c) sends one find
 * per outer row; a hash join scans the whole collection.  When a few
 * thousand outer rows meet a large collection both are slow.  This file
 * adds a third plan for "outer JOIN foreign ON foreign.col = outer_expr"
 * (inner and left joins): a CustomScan that reads up to "batch_size" outer
 * rows, sends their distinct keys as one condition "col = ANY(keys)" (a
 * find with {col: {$in: [keys]}} and the table's other pushed conditions),
 * and joins each document that comes back with the batch's outer rows of
 * its key (hashed); for a left join, the outer rows nothing matched follow.
 * Memory holds one batch of outer rows, however many documents match.
 *
 * The inner side is an ordinary ForeignScan of the foreign table (scan.c),
 * whose fdw_private carries the key condition with a placeholder for the
 * keys; the CustomScan hands it each batch's keys (ng_scan_set_batch) and
 * rescans it.  So everything a scan does still holds: exact pushdown rules
 * (the key condition is deparsed like any "= ANY(array)"), the table's
 * local conditions, the transaction's own writes (read-your-writes), and
 * conversion errors naming the document.  The hash only narrows the
 * candidates: the join's conditions, the key condition included, are
 * evaluated by PostgreSQL on each joined row, so a key condition pushed
 * with a recheck (numeric, timestamps) stays exact.
 *
 * The path is offered only where it is simple to get right: no LATERAL
 * references, no row marks (SELECT FOR UPDATE, UPDATE/DELETE ... FROM),
 * the foreign table not being modified, a plain column on the foreign side
 * whose type's equality operator is hashable, and no whole-row or system
 * column of the foreign table needed.  Its cost is the outer path's plus
 * one round trip per batch and the matching documents; the planner still
 * picks a hash join over a single scan when that is cheaper.  The GUC
 * nutragenie.enable_batched_join turns it off.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/plan/batchjoin.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/extensible.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/restrictinfo.h"
#include "parser/parse_coerce.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/ruleutils.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "nutragenie.h"

#define NG_BATCH_JOIN_NAME "NutragenieBatchedKeyJoin"

/*
 * A batch also ends once its distinct keys take this much memory, so that
 * the find stays well below MongoDB's 16 MB limit on a command (a key's
 * BSON form is a few bytes longer than its datum).
 */
#define NG_BATCH_KEY_BYTES (4 * 1024 * 1024)

/*
 * custom_private of the CustomPath (planner only, not copied): what
 * add_batched_join_path found, for plan_batched_join.
 */
typedef enum NgBatchPathIndex
{
	NgBatchPathJoinType,		/* Integer: JOIN_INNER or JOIN_LEFT */
	NgBatchPathOuterKey,		/* Node: the outer side of the key condition */
	NgBatchPathInnerKey,		/* Node: the foreign column (maybe relabeled) */
	NgBatchPathScanPrivate,		/* List: the plan's custom_private */
	NgBatchPathRestrict,		/* List of RestrictInfo: the join's clauses */
	NgBatchPathCount
} NgBatchPathIndex;

/*
 * custom_private of the CustomScan.  custom_exprs holds the outer key, the
 * inner key, then (left joins) the join conditions; the plan's qual holds
 * the other conditions (inner joins: all of them).  The scan tuple is the
 * outer plan's output followed by the inner plan's.
 */
typedef enum NgBatchPrivateIndex
{
	NgBatchPrivateJoinType,		/* Integer: JOIN_INNER or JOIN_LEFT */
	NgBatchPrivateKeysPerFind,	/* Integer: outer rows per batch */
	NgBatchPrivateKeyType,		/* Integer: Oid of the keys' type */
	NgBatchPrivateOuterHash,	/* Integer: Oid of its hash function */
	NgBatchPrivateInnerHash,	/* Integer: Oid of the column's hash function */
	NgBatchPrivateCollation,	/* Integer: Oid of the comparison's collation */
	NgBatchPrivateField,		/* String: MongoDB path of the key (EXPLAIN) */
	NgBatchPrivateCount
} NgBatchPrivateIndex;

/* An outer row of a batch: its values, copied, and its key's hash. */
typedef struct NgStoredRow
{
	Datum	   *values;
	bool	   *isnull;
	Datum		key;			/* the key, copied (not NULL) */
	uint32		hash;
	bool		null_key;		/* never matches */
	bool		matched;		/* left joins: some inner row matched */
	int			next;			/* next row in its hash chain, -1: none */
} NgStoredRow;

typedef struct NgBatchJoinState
{
	CustomScanState css;
	JoinType	jointype;
	int			keys_per_find;
	PlanState  *outer_ps;
	ForeignScanState *inner_ps;
	int			nouter;			/* columns of the outer plan's output */
	int			ninner;			/* ... of the inner plan's */
	ExprState  *outer_key;
	ExprState  *inner_key;
	ExprState  *joinqual;		/* left joins: the join conditions */
	FmgrInfo	outer_hash;
	FmgrInfo	inner_hash;
	Oid			collation;
	Oid			key_type;
	int16		key_len;
	bool		key_byval;
	char		key_align;
	ExprContext *key_econtext;	/* key and join-condition evaluation */
	MemoryContext batch_cxt;	/* the current batch, reset for the next */

	/* the current batch: its outer rows, hashed by key */
	NgStoredRow *outer_rows;
	int			n_outer;
	int		   *buckets;		/* heads of the hash chains */
	uint32		bucket_mask;
	bool		have_batch;		/* outer rows loaded, inner scan running */
	bool		outer_done;		/* the outer plan has no more rows */

	/* the inner row being joined, and its next candidate outer row */
	TupleTableSlot *inner_slot; /* NULL: fetch the next inner row */
	uint32		inner_hash_value;
	int			candidate;
	int			unmatched;		/* left joins, after the inner rows: the
								 * next outer row to null-extend */

	/* EXPLAIN ANALYZE */
	int64		batches;
	int64		keys_sent;
} NgBatchJoinState;

static bool ng_enable_batched_join = true;
static set_join_pathlist_hook_type prev_join_pathlist_hook = NULL;

static void add_batched_join_path(PlannerInfo *root, RelOptInfo *joinrel,
								  RelOptInfo *outerrel, RelOptInfo *innerrel,
								  JoinType jointype,
								  JoinPathExtraData *extra);
static bool is_plain_foreign_rel(PlannerInfo *root, RelOptInfo *rel);
static ScalarArrayOpExpr *match_key_clause(RelOptInfo *joinrel,
										   RelOptInfo *outerrel,
										   RelOptInfo *innerrel,
										   NgRelInfo *fpinfo,
										   JoinType jointype,
										   RestrictInfo *rinfo,
										   Node **outer_key,
										   Node **inner_key,
										   NgColumn **key_col,
										   List **scan_private);
static Plan *plan_batched_join(PlannerInfo *root, RelOptInfo *rel,
							   CustomPath *best_path, List *tlist,
							   List *clauses, List *custom_plans);
static Node *create_batched_join_state(CustomScan *cscan);
static void begin_batched_join(CustomScanState *node, EState *estate,
							   int eflags);
static TupleTableSlot *exec_batched_join(CustomScanState *node);
static TupleTableSlot *next_joined_row(ScanState *ss);
static bool recheck_joined_row(ScanState *ss, TupleTableSlot *slot);
static bool load_batch(NgBatchJoinState *bs);
static void store_row(NgStoredRow *row, TupleTableSlot *src, int natts);
static void fill_scan_slot(NgBatchJoinState *bs, NgStoredRow *outer,
						   TupleTableSlot *inner);
static uint32 key_hash(NgBatchJoinState *bs, ExprState *key, FmgrInfo *hash,
					   Datum *value, bool *isnull);
static void end_batched_join(CustomScanState *node);
static void rescan_batched_join(CustomScanState *node);
static void explain_batched_join(CustomScanState *node, List *ancestors,
								 ExplainState *es);

static const CustomPathMethods batch_path_methods = {
	.CustomName = NG_BATCH_JOIN_NAME,
	.PlanCustomPath = plan_batched_join,
};

static const CustomScanMethods batch_scan_methods = {
	.CustomName = NG_BATCH_JOIN_NAME,
	.CreateCustomScanState = create_batched_join_state,
};

static const CustomExecMethods batch_exec_methods = {
	.CustomName = NG_BATCH_JOIN_NAME,
	.BeginCustomScan = begin_batched_join,
	.ExecCustomScan = exec_batched_join,
	.EndCustomScan = end_batched_join,
	.ReScanCustomScan = rescan_batched_join,
	.ExplainCustomScan = explain_batched_join,
};

/*
 * ng_batchjoin_init
 *		Module load: the GUC, the planner hook and the plan node's methods.
 */
void
ng_batchjoin_init(void)
{
	DefineCustomBoolVariable("nutragenie.enable_batched_join",
							 "Enables joins that look up the keys of a batch of outer rows with one find.",
							 "Without it a key join to a foreign table is a nested loop "
							 "(one find per outer row) or a hash or merge join over a full scan.",
							 &ng_enable_batched_join,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	RegisterCustomScanMethods(&batch_scan_methods);
	prev_join_pathlist_hook = set_join_pathlist_hook;
	set_join_pathlist_hook = add_batched_join_path;
}

/*
 * set_join_pathlist_hook: offer a batched key join when innerrel is a
 * foreign table of ours that a join clause ties to the outer side by key.
 */
static void
add_batched_join_path(PlannerInfo *root, RelOptInfo *joinrel,
					  RelOptInfo *outerrel, RelOptInfo *innerrel,
					  JoinType jointype, JoinPathExtraData *extra)
{
	NgRelInfo  *fpinfo;
	Path	   *outer_path;
	ScalarArrayOpExpr *saop = NULL;
	Node	   *outer_key = NULL;
	Node	   *inner_key = NULL;
	List	   *scan_private = NIL;
	ListCell   *lc;
	double		outer_rows;
	double		batches;
	double		inner_docs;
	double		per_find;
	QualCost	qual_cost;
	ForeignPath *inner_path;
	CustomPath *cpath;
	NgColumn   *col;

	if (prev_join_pathlist_hook)
		prev_join_pathlist_hook(root, joinrel, outerrel, innerrel, jointype,
								extra);

	if (!ng_enable_batched_join)
		return;
	if (jointype != JOIN_INNER && jointype != JOIN_LEFT)
		return;
	if (!is_plain_foreign_rel(root, innerrel))
		return;
	if (!bms_is_empty(joinrel->lateral_relids))
		return;
	outer_path = outerrel->cheapest_total_path;
	if (outer_path == NULL || PATH_REQ_OUTER(outer_path) != NULL)
		return;
	fpinfo = (NgRelInfo *) innerrel->fdw_private;

	foreach(lc, extra->restrictlist)
	{
		saop = match_key_clause(joinrel, outerrel, innerrel, fpinfo, jointype,
								lfirst_node(RestrictInfo, lc),
								&outer_key, &inner_key, &col, &scan_private);
		if (saop != NULL)
			break;
	}
	if (saop == NULL)
		return;

	/*
	 * Cost: the outer path, one find per batch, the matching documents, the
	 * join's conditions on each of them.  A key other than _id may have no
	 * index in MongoDB, in which case each find reads the collection on the
	 * server: charge a tenth of a document's transfer for each document.
	 */
	outer_rows = Max(outer_path->rows, 1);
	batches = ceil(outer_rows / fpinfo->opts->batch_size);
	inner_docs = Max(Min(joinrel->rows, innerrel->rows * batches), 1);
	per_find = NG_STARTUP_COST;
	if (!col->is_id)
		per_find += innerrel->tuples * NG_PER_DOC_COST * 0.1;
	cost_qual_eval(&qual_cost, extra->restrictlist, root);

	inner_path = ng_create_foreignscan_path(root, innerrel, NULL,
											clamp_row_est(inner_docs / batches),
											per_find,
											per_find + inner_docs / batches *
											(NG_PER_DOC_COST + cpu_tuple_cost),
											NIL, NULL, NULL,
											list_make1(saop));

	cpath = makeNode(CustomPath);
	cpath->path.pathtype = T_CustomScan;
	cpath->path.parent = joinrel;
	cpath->path.pathtarget = joinrel->reltarget;
	cpath->path.param_info = NULL;
	cpath->path.parallel_aware = false;
	cpath->path.parallel_safe = false;
	cpath->path.parallel_workers = 0;
	cpath->path.rows = joinrel->rows;
	cpath->path.startup_cost = outer_path->startup_cost +
		(outer_path->total_cost - outer_path->startup_cost) *
		Min(1.0, fpinfo->opts->batch_size / outer_rows) + per_find;
	cpath->path.total_cost = outer_path->total_cost +
		batches * per_find +
		inner_docs * (NG_PER_DOC_COST + cpu_tuple_cost +
					  qual_cost.per_tuple) +
		outer_rows * 2 * cpu_operator_cost +
		joinrel->rows * cpu_tuple_cost;
	cpath->path.pathkeys = NIL; /* rows come in the documents' order */
	cpath->flags = 0;
	cpath->custom_paths = list_make2(outer_path, inner_path);
	cpath->custom_private = list_make5(makeInteger(jointype), outer_key,
									   inner_key, scan_private,
									   extra->restrictlist);
	cpath->methods = &batch_path_methods;
	add_path(joinrel, (Path *) cpath);
}

/*
 * Is rel a scan of one of our foreign tables that a batched key join may
 * drive: a base relation, not modified or row-marked, with no LATERAL
 * references, needing plain columns only?
 */
static bool
is_plain_foreign_rel(PlannerInfo *root, RelOptInfo *rel)
{
	Bitmapset  *attrs = NULL;
	ListCell   *lc;
	int			attno;

	if (rel->reloptkind != RELOPT_BASEREL || rel->rtekind != RTE_RELATION ||
		rel->fdwroutine == NULL ||
		rel->fdwroutine->GetForeignRelSize != ngGetForeignRelSize ||
		rel->fdw_private == NULL ||
		((NgRelInfo *) rel->fdw_private)->kind != NG_REL_BASE)
		return false;
	if (root->rowMarks != NIL || root->parse->resultRelation == rel->relid)
		return false;
	if (!bms_is_empty(rel->lateral_relids))
		return false;

	/*
	 * A condition on the table that references none of its columns becomes
	 * a gating Result above the scan: the inner plan would not be the
	 * ForeignScan the join drives.
	 */
	foreach(lc, rel->baserestrictinfo)
	{
		if (lfirst_node(RestrictInfo, lc)->pseudoconstant)
			return false;
	}

	foreach(lc, rel->reltarget->exprs)
	{
		if (!IsA(lfirst(lc), Var))
			return false;
	}
	pull_varattnos((Node *) rel->reltarget->exprs, rel->relid, &attrs);
	attno = -1;
	while ((attno = bms_next_member(attrs, attno)) >= 0)
	{
		if (attno + FirstLowInvalidHeapAttributeNumber <= 0)
			return false;
	}
	return true;
}

/*
 * If rinfo is "foreign column op outer expression" (either way round) with
 * a hashable operator, and "column op ANY(array)" can be pushed to
 * MongoDB, return that condition with a placeholder array, and set the two
 * keys, the foreign column and the plan's custom_private.  Else NULL.
 */
static ScalarArrayOpExpr *
match_key_clause(RelOptInfo *joinrel, RelOptInfo *outerrel,
				 RelOptInfo *innerrel, NgRelInfo *fpinfo, JoinType jointype,
				 RestrictInfo *rinfo, Node **outer_key, Node **inner_key,
				 NgColumn **key_col, List **scan_private)
{
	OpExpr	   *op;
	Node	   *inner;
	Node	   *outer;
	Node	   *stripped;
	Oid			opno;
	Oid			ltype;
	Oid			rtype;
	Oid			array_type;
	RegProcedure inner_hash;
	RegProcedure outer_hash;
	Param	   *keys;
	ScalarArrayOpExpr *saop;
	bool		recheck;
	NgColumn   *col;
	Relids		inner_relids = innerrel->relids;

	if (rinfo->pseudoconstant || !is_opclause(rinfo->clause))
		return NULL;
	if (jointype == JOIN_LEFT && RINFO_IS_PUSHED_DOWN(rinfo, joinrel->relids))
		return NULL;
	op = (OpExpr *) rinfo->clause;
	if (list_length(op->args) != 2)
		return NULL;
	opno = op->opno;
	if (bms_equal(rinfo->left_relids, inner_relids) &&
		!bms_is_empty(rinfo->right_relids) &&
		bms_is_subset(rinfo->right_relids, outerrel->relids))
	{
		inner = linitial(op->args);
		outer = lsecond(op->args);
	}
	else if (bms_equal(rinfo->right_relids, inner_relids) &&
			 !bms_is_empty(rinfo->left_relids) &&
			 bms_is_subset(rinfo->left_relids, outerrel->relids))
	{
		inner = lsecond(op->args);
		outer = linitial(op->args);
		opno = get_commutator(opno);
		if (!OidIsValid(opno))
			return NULL;
	}
	else
		return NULL;

	if (contain_volatile_functions(outer) || contain_subplans(outer))
		return NULL;
	stripped = strip_implicit_coercions(inner);
	if (!IsA(stripped, Var) || ((Var *) stripped)->varattno <= 0)
		return NULL;
	col = ng_options_column(fpinfo->opts, ((Var *) stripped)->varattno);
	if (col == NULL || col->is_root)
		return NULL;

	if (!op_hashjoinable(opno, exprType(inner)) ||
		!get_op_hash_functions(opno, &inner_hash, &outer_hash))
		return NULL;
	op_input_types(opno, &ltype, &rtype);
	if (!IsBinaryCoercible(exprType(outer), rtype))
		return NULL;
	array_type = get_array_type(rtype);
	if (!OidIsValid(array_type))
		return NULL;

	keys = makeNode(Param);
	keys->paramkind = PARAM_EXTERN;
	keys->paramid = NG_BATCH_PARAMID;
	keys->paramtype = array_type;
	keys->paramtypmod = -1;
	keys->paramcollid = exprCollation(outer);
	keys->location = -1;

	saop = makeNode(ScalarArrayOpExpr);
	saop->opno = opno;
	saop->opfuncid = get_opcode(opno);
	saop->hashfuncid = InvalidOid;
	saop->negfuncid = InvalidOid;
	saop->useOr = true;
	saop->inputcollid = op->inputcollid;
	saop->args = list_make2(copyObject(inner), keys);
	saop->location = -1;
	if (!ng_is_foreign_expr_on(fpinfo->opts, innerrel->relid, (Expr *) saop,
							   &recheck))
		return NULL;

	*outer_key = outer;
	*inner_key = inner;
	*key_col = col;
	*scan_private = NIL;
	*scan_private = lappend(*scan_private, makeInteger(jointype));
	*scan_private = lappend(*scan_private,
							makeInteger(fpinfo->opts->batch_size));
	*scan_private = lappend(*scan_private, makeInteger((int) rtype));
	*scan_private = lappend(*scan_private, makeInteger((int) outer_hash));
	*scan_private = lappend(*scan_private, makeInteger((int) inner_hash));
	*scan_private = lappend(*scan_private, makeInteger((int) op->inputcollid));
	*scan_private = lappend(*scan_private, makeString(pstrdup(col->field)));
	Assert(list_length(*scan_private) == NgBatchPrivateCount);
	return saop;
}

/*
 * PlanCustomPath: the CustomScan over the outer plan and the inner
 * ForeignScan.  Its scan tuple is their two outputs side by side, so that
 * setrefs.c can point every Var of the target list and conditions at it.
 */
static Plan *
plan_batched_join(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path,
				  List *tlist, List *clauses, List *custom_plans)
{
	List	   *private = best_path->custom_private;
	JoinType	jointype = (JoinType) intVal(list_nth(private, NgBatchPathJoinType));
	List	   *scan_tlist = NIL;
	List	   *joinquals = NIL;
	List	   *otherquals = NIL;
	CustomScan *cscan;
	Relids		outer_relids = ((Path *) linitial(best_path->custom_paths))->parent->relids;
	Node	   *outer_key;
	Node	   *inner_key;
	ListCell   *lc;
	int			i;

	for (i = 0; i < 2; i++)
	{
		Plan	   *child = (Plan *) list_nth(custom_plans, i);

		foreach(lc, child->targetlist)
		{
			TargetEntry *tle = lfirst_node(TargetEntry, lc);

			scan_tlist = lappend(scan_tlist,
								 makeTargetEntry(copyObject(tle->expr),
												 list_length(scan_tlist) + 1,
												 NULL, false));
		}
	}

	/*
	 * A left join's own conditions decide which inner rows match (and when
	 * an outer row is null-extended); conditions pushed down to it from
	 * above, and all of an inner join's, filter the joined rows.
	 */
	foreach(lc, (List *) list_nth(private, NgBatchPathRestrict))
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);

		if (jointype == JOIN_LEFT && !RINFO_IS_PUSHED_DOWN(rinfo, rel->relids))
			joinquals = lappend(joinquals, rinfo->clause);
		else
			otherquals = lappend(otherquals, rinfo->clause);
	}
	otherquals = list_concat(otherquals, extract_actual_clauses(clauses, false));
	otherquals = ng_outer_side_first(root, otherquals, outer_relids);

	/*
	 * The scan tuple's Vars as the target list and the quals above the join
	 * see them (nulled by a left join), and the expressions evaluated before
	 * null extension marked the same way (16+; see compat.c).
	 */
	ng_scan_tlist_nullingrels(scan_tlist, list_concat_copy(tlist, otherquals));
	joinquals = (List *) ng_adopt_scan_nullingrels((Node *) joinquals,
												   scan_tlist);
	outer_key = ng_adopt_scan_nullingrels(list_nth(private, NgBatchPathOuterKey),
										  scan_tlist);
	inner_key = ng_adopt_scan_nullingrels(list_nth(private, NgBatchPathInnerKey),
										  scan_tlist);

	cscan = makeNode(CustomScan);
	cscan->scan.plan.targetlist = tlist;
	cscan->scan.plan.qual = otherquals;
	cscan->scan.scanrelid = 0;
	cscan->flags = best_path->flags;
	cscan->custom_plans = custom_plans;
	cscan->custom_exprs = list_concat(list_make2(outer_key, inner_key),
									  joinquals);
	cscan->custom_private = copyObject(list_nth(private, NgBatchPathScanPrivate));
	cscan->custom_scan_tlist = scan_tlist;
	cscan->methods = &batch_scan_methods;
	return &cscan->scan.plan;
}

static Node *
create_batched_join_state(CustomScan *cscan)
{
	NgBatchJoinState *bs = (NgBatchJoinState *) newNode(sizeof(NgBatchJoinState),
														T_CustomScanState);

	bs->css.methods = &batch_exec_methods;
	return (Node *) bs;
}

/*
 * BeginCustomScan: start both children; no query is sent yet.
 */
static void
begin_batched_join(CustomScanState *node, EState *estate, int eflags)
{
	NgBatchJoinState *bs = (NgBatchJoinState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
	List	   *private = cscan->custom_private;
	Plan	   *outer_plan = (Plan *) linitial(cscan->custom_plans);
	Plan	   *inner_plan = (Plan *) lsecond(cscan->custom_plans);
	PlanState  *inner;

	bs->jointype = (JoinType) intVal(list_nth(private, NgBatchPrivateJoinType));
	bs->keys_per_find = intVal(list_nth(private, NgBatchPrivateKeysPerFind));
	bs->key_type = (Oid) intVal(list_nth(private, NgBatchPrivateKeyType));
	bs->collation = (Oid) intVal(list_nth(private, NgBatchPrivateCollation));
	fmgr_info((Oid) intVal(list_nth(private, NgBatchPrivateOuterHash)),
			  &bs->outer_hash);
	fmgr_info((Oid) intVal(list_nth(private, NgBatchPrivateInnerHash)),
			  &bs->inner_hash);
	get_typlenbyvalalign(bs->key_type, &bs->key_len, &bs->key_byval,
						 &bs->key_align);

	bs->outer_ps = ExecInitNode(outer_plan, estate, eflags);
	inner = ExecInitNode(inner_plan, estate, eflags);
	if (!IsA(inner, ForeignScanState))
		elog(ERROR, "inner plan of a batched key join is not a foreign scan");
	bs->inner_ps = (ForeignScanState *) inner;
	node->custom_ps = list_make2(bs->outer_ps, inner);
	bs->nouter = list_length(outer_plan->targetlist);
	bs->ninner = list_length(inner_plan->targetlist);

	bs->outer_key = ExecInitExpr(linitial(cscan->custom_exprs), &node->ss.ps);
	bs->inner_key = ExecInitExpr(lsecond(cscan->custom_exprs), &node->ss.ps);
	bs->joinqual = ExecInitQual(list_copy_tail(cscan->custom_exprs, 2),
								&node->ss.ps);
	bs->key_econtext = CreateExprContext(estate);
	bs->batch_cxt = AllocSetContextCreate(estate->es_query_cxt,
										  "nutragenie batched join",
										  ALLOCSET_DEFAULT_SIZES);
	bs->n_outer = 0;
	bs->have_batch = false;
	bs->outer_done = false;
}

static TupleTableSlot *
exec_batched_join(CustomScanState *node)
{
	return ExecScan(&node->ss, next_joined_row, recheck_joined_row);
}

/* Row marks are refused at plan time, so there is nothing to recheck. */
static bool
recheck_joined_row(ScanState *ss, TupleTableSlot *slot)
{
	return true;
}

/*
 * The next joined row in the scan slot (ExecScan then applies the plan's
 * conditions and projection), or an empty slot at the end.
 *
 * Per batch: the inner scan's documents stream in, and each is joined with
 * the batch's outer rows of the same key (found through the hash chains);
 * for a left join, the outer rows no document matched follow, null-
 * extended.  Only one batch of outer rows is held, however many documents
 * match.
 */
static TupleTableSlot *
next_joined_row(ScanState *ss)
{
	NgBatchJoinState *bs = (NgBatchJoinState *) ss;
	TupleTableSlot *slot = ss->ss_ScanTupleSlot;

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();

		if (!bs->have_batch)
		{
			if (bs->outer_done || !load_batch(bs))
				return ExecClearTuple(slot);
		}

		/* the current inner row against its next candidate */
		while (bs->inner_slot != NULL && bs->candidate >= 0)
		{
			NgStoredRow *outer = &bs->outer_rows[bs->candidate];

			bs->candidate = outer->next;
			if (outer->null_key || outer->hash != bs->inner_hash_value)
				continue;
			fill_scan_slot(bs, outer, bs->inner_slot);
			if (bs->joinqual != NULL)
			{
				ResetExprContext(bs->key_econtext);
				bs->key_econtext->ecxt_scantuple = slot;
				if (!ExecQual(bs->joinqual, bs->key_econtext))
					continue;
			}
			outer->matched = true;
			return slot;
		}

		/* the next inner row */
		if (bs->unmatched < 0)
		{
			TupleTableSlot *inner = ExecProcNode(&bs->inner_ps->ss.ps);

			if (!TupIsNull(inner))
			{
				bool		isnull;

				slot_getallattrs(inner);
				bs->inner_slot = inner;
				fill_scan_slot(bs, NULL, inner);
				bs->inner_hash_value = key_hash(bs, bs->inner_key,
												&bs->inner_hash, NULL,
												&isnull);
				bs->candidate = isnull ? -1 :
					bs->buckets[bs->inner_hash_value & bs->bucket_mask];
				continue;
			}
			/* the inner rows of this batch are done */
			bs->inner_slot = NULL;
			bs->unmatched = 0;
		}

		/* left joins: the outer rows nothing matched */
		if (bs->jointype == JOIN_LEFT)
		{
			while (bs->unmatched < bs->n_outer)
			{
				NgStoredRow *outer = &bs->outer_rows[bs->unmatched++];

				if (!outer->matched)
				{
					fill_scan_slot(bs, outer, NULL);
					return slot;
				}
			}
		}
		bs->have_batch = false;
	}
}

/*
 * Read the next batch of outer rows, hash them by key, and start the inner
 * scan with their distinct keys.  False when the outer side has no more
 * rows.
 */
static bool
load_batch(NgBatchJoinState *bs)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	Datum	   *keys;
	int			nkeys = 0;
	Size		key_bytes = 0;
	uint32		nbuckets;
	int			i;

	MemoryContextReset(bs->batch_cxt);
	MemoryContextSwitchTo(bs->batch_cxt);

	bs->outer_rows = palloc(sizeof(NgStoredRow) * bs->keys_per_find);
	bs->n_outer = 0;
	bs->inner_slot = NULL;
	bs->candidate = -1;
	bs->unmatched = -1;
	keys = palloc(sizeof(Datum) * bs->keys_per_find);
	nbuckets = 16;
	while (nbuckets < (uint32) bs->keys_per_find * 2)
		nbuckets <<= 1;
	bs->bucket_mask = nbuckets - 1;
	bs->buckets = palloc(sizeof(int) * nbuckets);
	memset(bs->buckets, -1, sizeof(int) * nbuckets);

	while (bs->n_outer < bs->keys_per_find && key_bytes < NG_BATCH_KEY_BYTES)
	{
		TupleTableSlot *os;
		NgStoredRow *row;
		Datum		key;
		bool		isnull;
		int			k;

		/* the children run in the query's context, not the batch's */
		MemoryContextSwitchTo(oldcxt);
		os = ExecProcNode(bs->outer_ps);
		MemoryContextSwitchTo(bs->batch_cxt);
		if (TupIsNull(os))
		{
			bs->outer_done = true;
			break;
		}
		i = bs->n_outer++;
		row = &bs->outer_rows[i];
		store_row(row, os, bs->nouter);
		fill_scan_slot(bs, row, NULL);
		row->hash = key_hash(bs, bs->outer_key, &bs->outer_hash, &key, &isnull);
		row->null_key = isnull;
		row->matched = false;
		row->next = -1;
		if (isnull)
			continue;

		/*
		 * Chain the row; its key goes to MongoDB unless a row chained
		 * before it has the same (binary-equal) key.
		 */
		row->key = key;
		for (k = bs->buckets[row->hash & bs->bucket_mask]; k >= 0;
			 k = bs->outer_rows[k].next)
		{
			NgStoredRow *other = &bs->outer_rows[k];

			if (other->hash == row->hash &&
				datumIsEqual(other->key, key, bs->key_byval, bs->key_len))
				break;
		}
		if (k < 0)
		{
			keys[nkeys++] = key;
			key_bytes += bs->key_byval ? sizeof(Datum) :
				datumGetSize(key, false, bs->key_len);
		}
		row->next = bs->buckets[row->hash & bs->bucket_mask];
		bs->buckets[row->hash & bs->bucket_mask] = i;
	}

	if (nkeys > 0)
	{
		ArrayType  *array;

		array = construct_array(keys, nkeys, bs->key_type, bs->key_len,
								bs->key_byval, bs->key_align);
		MemoryContextSwitchTo(oldcxt);
		ng_scan_set_batch(bs->inner_ps, PointerGetDatum(array));
		ExecReScan(&bs->inner_ps->ss.ps);
		bs->batches++;
		bs->keys_sent += nkeys;
	}
	else
	{
		/* no key to look up: every outer row is unmatched */
		bs->unmatched = 0;
	}

	MemoryContextSwitchTo(oldcxt);
	bs->have_batch = bs->n_outer > 0;
	return bs->have_batch;
}

/*
 * Copy the values of src (deformed) into row, in the current memory
 * context.
 */
static void
store_row(NgStoredRow *row, TupleTableSlot *src, int natts)
{
	TupleDesc	desc = src->tts_tupleDescriptor;
	int			i;

	slot_getallattrs(src);
	row->values = palloc(sizeof(Datum) * Max(natts, 1));
	row->isnull = palloc(sizeof(bool) * Max(natts, 1));
	for (i = 0; i < natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		row->isnull[i] = src->tts_isnull[i];
		row->values[i] = src->tts_isnull[i] ? (Datum) 0 :
			datumCopy(src->tts_values[i], att->attbyval, att->attlen);
	}
}

/*
 * Put an outer row and the inner scan's current row (either may be NULL:
 * all nulls) into the scan slot.  The values stay owned by the batch and
 * by the inner slot.
 */
static void
fill_scan_slot(NgBatchJoinState *bs, NgStoredRow *outer, TupleTableSlot *inner)
{
	TupleTableSlot *slot = bs->css.ss.ss_ScanTupleSlot;

	ExecClearTuple(slot);
	if (outer != NULL)
	{
		memcpy(slot->tts_values, outer->values, sizeof(Datum) * bs->nouter);
		memcpy(slot->tts_isnull, outer->isnull, sizeof(bool) * bs->nouter);
	}
	else
	{
		memset(slot->tts_values, 0, sizeof(Datum) * bs->nouter);
		memset(slot->tts_isnull, true, sizeof(bool) * bs->nouter);
	}
	if (inner != NULL)
	{
		memcpy(slot->tts_values + bs->nouter, inner->tts_values,
			   sizeof(Datum) * bs->ninner);
		memcpy(slot->tts_isnull + bs->nouter, inner->tts_isnull,
			   sizeof(bool) * bs->ninner);
	}
	else
	{
		memset(slot->tts_values + bs->nouter, 0, sizeof(Datum) * bs->ninner);
		memset(slot->tts_isnull + bs->nouter, true, sizeof(bool) * bs->ninner);
	}
	ExecStoreVirtualTuple(slot);
}

/*
 * Evaluate a key over the scan slot and hash it, in the key context's
 * per-tuple memory.  With value, the key is also copied into the current
 * memory context (the batch's).  0 for NULL.
 */
static uint32
key_hash(NgBatchJoinState *bs, ExprState *key, FmgrInfo *hash, Datum *value,
		 bool *isnull)
{
	ExprContext *econtext = bs->key_econtext;
	MemoryContext cxt = CurrentMemoryContext;
	Datum		d;
	uint32		h;

	ResetExprContext(econtext);
	econtext->ecxt_scantuple = bs->css.ss.ss_ScanTupleSlot;
	d = ExecEvalExprSwitchContext(key, econtext, isnull);
	if (*isnull)
		return 0;
	MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
	h = DatumGetUInt32(FunctionCall1Coll(hash, bs->collation, d));
	MemoryContextSwitchTo(cxt);
	if (value != NULL)
		*value = datumCopy(d, bs->key_byval, bs->key_len);
	return h;
}

static void
end_batched_join(CustomScanState *node)
{
	NgBatchJoinState *bs = (NgBatchJoinState *) node;

	ExecEndNode(bs->outer_ps);
	ExecEndNode(&bs->inner_ps->ss.ps);
	MemoryContextDelete(bs->batch_cxt);
	bs->batch_cxt = NULL;
}

/*
 * ReScanCustomScan: start again from the first outer row.  The inner scan
 * is rescanned for every batch anyway.
 */
static void
rescan_batched_join(CustomScanState *node)
{
	NgBatchJoinState *bs = (NgBatchJoinState *) node;

	MemoryContextReset(bs->batch_cxt);
	bs->n_outer = 0;
	bs->inner_slot = NULL;
	bs->have_batch = false;
	bs->outer_done = false;
	if (node->ss.ps.chgParam != NULL)
	{
		UpdateChangedParamSet(bs->outer_ps, node->ss.ps.chgParam);
		UpdateChangedParamSet(&bs->inner_ps->ss.ps, node->ss.ps.chgParam);
	}
	if (bs->outer_ps->chgParam == NULL)
		ExecReScan(bs->outer_ps);
}

/*
 * EXPLAIN: the join type and key; with ANALYZE, the finds and keys sent.
 * (The inner ForeignScan shows the find, with the keys as {"$param":
 * "batch"}.)
 */
static void
explain_batched_join(CustomScanState *node, List *ancestors, ExplainState *es)
{
	NgBatchJoinState *bs = (NgBatchJoinState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
	List	   *private = cscan->custom_private;

	List	   *context;
	List	   *joinquals = list_copy_tail(cscan->custom_exprs, 2);
	bool		useprefix = list_length(es->rtable) > 1 || es->verbose;

	context = set_deparse_context_plan(es->deparse_cxt, node->ss.ps.plan,
									   ancestors);
	ExplainPropertyText("Join Type",
						intVal(list_nth(private, NgBatchPrivateJoinType)) == JOIN_LEFT ?
						"Left" : "Inner", es);
	if (joinquals != NIL)
		ExplainPropertyText("Join Filter",
							deparse_expression((Node *) make_ands_explicit(joinquals),
											   context, useprefix, false),
							es);
	ExplainPropertyText("MongoDB Key Field",
						strVal(list_nth(private, NgBatchPrivateField)), es);
	ExplainPropertyText("Outer Key",
						deparse_expression(linitial(cscan->custom_exprs), context,
										   useprefix, false),
						es);
	ExplainPropertyInteger("MongoDB Outer Rows per Find", NULL,
						   intVal(list_nth(private, NgBatchPrivateKeysPerFind)),
						   es);
	if (es->analyze)
	{
		ExplainPropertyInteger("MongoDB Batches", NULL, bs->batches, es);
		ExplainPropertyInteger("MongoDB Keys Sent", NULL, bs->keys_sent, es);
	}
}
