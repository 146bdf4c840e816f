/*-------------------------------------------------------------------------
 *
 * batchjoin.c
 *		  Plans batched key joins: a relation joined to a foreign table on a
 *		  key sends one "$in" find per batch of outer rows.
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
 * The CustomScan runs in exec/batchjoin_exec.c; its plan is an NgBatchPlan
 * (contract.c).  The inner side is an ordinary ForeignScan of the foreign
 * table (exec/scan.c), whose plan carries the key condition with a
 * placeholder for the keys (NgScanPlan.batch_key); the CustomScan hands it
 * each batch's keys (ng_scan_set_batch) and rescans it.  So everything a scan does still holds: exact pushdown rules
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
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "plan/plan.h"

/*
 * custom_private of the CustomPath (planner only, not copied): what
 * add_batched_join_path found, for plan_batched_join.
 */
typedef enum NgBatchPathIndex
{
	NgBatchPathJoinType,		/* Integer: JOIN_INNER or JOIN_LEFT */
	NgBatchPathOuterKey,		/* Node: the outer side of the key condition */
	NgBatchPathInnerKey,		/* Node: the foreign column (maybe relabeled) */
	NgBatchPathScanPrivate,		/* List: the plan's custom_private
								 * (ng_batch_plan_to_list) */
	NgBatchPathRestrict,		/* List of RestrictInfo: the join's clauses */
	NgBatchPathCount
} NgBatchPathIndex;

/*
 * The CustomScan (see exec/batchjoin_exec.c): custom_private is an NgBatchPlan (contract.c);
 * custom_exprs holds the outer key, the inner key, then (left joins) the
 * join conditions; the plan's qual holds the other conditions (inner joins:
 * all of them).  The scan tuple is the outer plan's output followed by the
 * inner plan's.
 */

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

static const CustomPathMethods batch_path_methods = {
	.CustomName = NG_BATCH_JOIN_NAME,
	.PlanCustomPath = plan_batched_join,
};

/*
 * ng_batchjoin_init
 *		Module load: the GUC and the planner hook.  (The plan node's
 *		methods are registered by ng_batchjoin_exec_init.)
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
	Cost		per_find;
	Cost		startup;
	Cost		total;
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
	per_find = ng_cost_keyed_find(innerrel->tuples, col->is_id);
	cost_qual_eval(&qual_cost, extra->restrictlist, root);

	ng_cost_batched_inner(inner_docs / batches, per_find, &startup, &total);
	inner_path = ng_create_foreignscan_path(root, innerrel, NULL,
											clamp_row_est(inner_docs / batches),
											startup, total,
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
	ng_cost_batched_join(outer_path, outer_rows, fpinfo->opts->batch_size,
						 batches, per_find, inner_docs, qual_cost.per_tuple,
						 joinrel->rows, &cpath->path.startup_cost,
						 &cpath->path.total_cost);
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
	NgBatchPlan *bplan;
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
	bplan = palloc0(sizeof(NgBatchPlan));
	bplan->jointype = jointype;
	bplan->keys_per_find = fpinfo->opts->batch_size;
	bplan->key_type = rtype;
	bplan->outer_hash = outer_hash;
	bplan->inner_hash = inner_hash;
	bplan->collation = op->inputcollid;
	bplan->field = pstrdup(col->field);
	*scan_private = ng_batch_plan_to_list(bplan);
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
	cscan->methods = GetCustomScanMethods(NG_BATCH_JOIN_NAME, false);
	return &cscan->scan.plan;
}
