/*-------------------------------------------------------------------------
 *
 * plan.c
 *		  Planner callbacks: sizes, paths and the ForeignScan plan node.
 *
 * Options are resolved once here (ng_options_for_rel) and travel to the
 * executor in fdw_private.  Conditions are split by deparse.c into those
 * MongoDB evaluates exactly and those PostgreSQL keeps; the pushed ones go
 * into fdw_exprs as expressions, so that the planner turns outer references
 * of a parameterized path into executor Params which scan.c evaluates when
 * it builds the filter.  A condition whose exactness depends on a run-time
 * value is pushed and also kept as a local recheck.
 *
 * Besides the plain full scan, a parameterized path is offered for every
 * join clause that can be pushed (c._id = r.mongodb_recipe_id), so that a
 * nested loop sends one keyed find per outer row instead of scanning the
 * collection, and a sorted path when MongoDB can produce the order the
 * query wants.  What to sort by is sort.c's; everything above the scan
 * (LIMIT, aggregates: upper relations and their scanrelid-0 plans) is
 * upper.c's.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/plan/plan.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/sysattr.h"
#include "miscadmin.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "plan/plan.h"

typedef struct EcMatchArg
{
	AttrNumber	attnum;
} EcMatchArg;

static bool ec_member_matches_column(PlannerInfo *root, RelOptInfo *rel,
									 EquivalenceClass *ec,
									 EquivalenceMember *em, void *arg);
static List *pushable_join_clauses(PlannerInfo *root, RelOptInfo *baserel,
								   NgRelInfo *fpinfo);

/*
 * Resolve options, classify the restriction clauses and estimate the rows.
 */
void
ngGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel,
					Oid foreigntableid)
{
	NgRelInfo  *fpinfo = palloc0(sizeof(NgRelInfo));
	Oid			userid = OidIsValid(baserel->userid) ? baserel->userid : GetUserId();
	Selectivity sel;

	/*
	 * userid serves the planner (use_remote_estimate); the scan connects as
	 * whoever runs the plan (ngBeginForeignScan).
	 */
	baserel->fdw_private = fpinfo;
	fpinfo->kind = NG_REL_BASE;
	fpinfo->opts = ng_options_for_rel(foreigntableid, userid);

	ng_classify_conditions(root, baserel, fpinfo->opts,
						   baserel->baserestrictinfo,
						   &fpinfo->remote_conds, &fpinfo->local_conds);

	if (fpinfo->opts->use_remote_estimate)
	{
		double		total;
		double		matching;

		/*
		 * MongoDB counts the documents the pushed conditions (known at plan
		 * time) match; PostgreSQL's selectivity covers the rest.
		 */
		ng_estimate_remote(fpinfo->opts, baserel->relid, fpinfo->remote_conds,
						   &total, &matching);
		baserel->tuples = Max(total, 1);
		sel = clauselist_selectivity(root, fpinfo->local_conds, baserel->relid,
									 JOIN_INNER, NULL);
		baserel->rows = clamp_row_est(matching * sel);
		return;
	}

	/* Without ANALYZE statistics assume a modest collection. */
	if (baserel->tuples < 0)
		baserel->tuples = NG_DEFAULT_DOCS;

	sel = clauselist_selectivity(root, baserel->baserestrictinfo, 0,
								 JOIN_INNER, NULL);
	baserel->rows = clamp_row_est(baserel->tuples * sel);
}

/*
 * The plain scan, a sorted one when the query wants an order MongoDB can
 * produce (sort.c), and one parameterized path per set of outer relations
 * that pushable join clauses depend on.
 */
void
ngGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	NgRelInfo  *fpinfo = (NgRelInfo *) baserel->fdw_private;
	Cost		startup;
	Cost		total;
	List	   *join_clauses;
	List	   *outer_sets = NIL;
	ListCell   *lc;

	ng_cost_scan(baserel->rows, fpinfo->opts->batch_size, &startup, &total);
	add_path(baserel, (Path *)
			 ng_create_foreignscan_path(root, baserel, NULL, baserel->rows,
										startup, total, NIL,
										baserel->lateral_relids, NULL, NIL));
	ng_sort_add_paths(root, baserel, fpinfo, startup, total);

	join_clauses = pushable_join_clauses(root, baserel, fpinfo);

	foreach(lc, join_clauses)
	{
		RestrictInfo *rinfo = (RestrictInfo *) lfirst(lc);
		Relids		required_outer;
		ListCell   *lc2;
		bool		seen = false;

		required_outer = bms_union(rinfo->clause_relids,
								   baserel->lateral_relids);
		required_outer = bms_del_member(required_outer, baserel->relid);
		if (bms_is_empty(required_outer))
			continue;

		foreach(lc2, outer_sets)
		{
			if (bms_equal((Relids) lfirst(lc2), required_outer))
				seen = true;
		}
		if (!seen)
			outer_sets = lappend(outer_sets, required_outer);
	}

	foreach(lc, outer_sets)
	{
		Relids		required_outer = (Relids) lfirst(lc);
		ParamPathInfo *param_info;

		param_info = get_baserel_parampathinfo(root, baserel, required_outer);
		ng_cost_scan(param_info->ppi_rows, fpinfo->opts->batch_size,
					 &startup, &total);
		add_path(baserel, (Path *)
				 ng_create_foreignscan_path(root, baserel, NULL,
											param_info->ppi_rows,
											startup, total, NIL,
											required_outer, NULL, NIL));
	}
}

/*
 * Join clauses, from joininfo and from equivalence classes, that could be
 * evaluated by MongoDB once the outer side's value is known.
 */
static List *
pushable_join_clauses(PlannerInfo *root, RelOptInfo *baserel,
					  NgRelInfo *fpinfo)
{
	List	   *result = NIL;
	ListCell   *lc;
	AttrNumber	attnum;

	foreach(lc, baserel->joininfo)
	{
		RestrictInfo *rinfo = (RestrictInfo *) lfirst(lc);
		bool		recheck;

		if (!join_clause_is_movable_to(rinfo, baserel))
			continue;
		if (ng_is_foreign_expr(root, baserel, fpinfo->opts, rinfo->clause,
							   &recheck))
			result = lappend(result, rinfo);
	}

	if (!baserel->has_eclass_joins)
		return result;

	for (attnum = 1; attnum <= fpinfo->opts->natts; attnum++)
	{
		EcMatchArg	arg;
		List	   *clauses;
		ListCell   *lc2;

		if (ng_options_column(fpinfo->opts, attnum) == NULL)
			continue;
		arg.attnum = attnum;
		clauses = generate_implied_equalities_for_column(root, baserel,
														 ec_member_matches_column,
														 &arg,
														 baserel->lateral_referencers);
		foreach(lc2, clauses)
		{
			RestrictInfo *rinfo = (RestrictInfo *) lfirst(lc2);
			bool		recheck;

			if (ng_is_foreign_expr(root, baserel, fpinfo->opts,
								   rinfo->clause, &recheck))
				result = lappend(result, rinfo);
		}
	}
	return result;
}

static bool
ec_member_matches_column(PlannerInfo *root, RelOptInfo *rel,
						 EquivalenceClass *ec, EquivalenceMember *em,
						 void *arg)
{
	EcMatchArg *match = (EcMatchArg *) arg;
	Var		   *var = (Var *) em->em_expr;

	return IsA(var, Var) && var->varno == rel->relid &&
		var->varlevelsup == 0 && var->varattno == match->attnum;
}

/*
 * ng_plan_retrieved_columns
 *		The attnums (as Integer nodes) of the columns in attrs (offset by
 *		FirstLowInvalidHeapAttributeNumber; whole-row means every column),
 *		checking that each has a type the scan can convert.
 */
List *
ng_plan_retrieved_columns(NgTableOptions *opts, Bitmapset *attrs)
{
	List	   *result = NIL;
	bool		whole_row = bms_is_member(0 - FirstLowInvalidHeapAttributeNumber,
										  attrs);
	AttrNumber	attnum;

	for (attnum = 1; attnum <= opts->natts; attnum++)
	{
		NgColumn   *col = ng_options_column(opts, attnum);

		if (col == NULL)
			continue;
		if (!whole_row &&
			!bms_is_member(attnum - FirstLowInvalidHeapAttributeNumber, attrs))
			continue;
		ng_document_check_readable(opts, col);
		result = lappend(result, makeInteger(attnum));
	}
	return result;
}

/*
 * Build the ForeignScan: pushed clauses in fdw_exprs, the rest as the plan's
 * quals, and in fdw_private the scan plan (contract.c): the options, the
 * columns to convert, a pushed sort and the key of a batched join.
 */
ForeignScan *
ngGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
				 ForeignPath *best_path, List *tlist, List *scan_clauses,
				 Plan *outer_plan)
{
	NgRelInfo  *fpinfo;
	List	   *remote_exprs = NIL;
	List	   *local_exprs = NIL;
	List	   *retrieved;
	List	   *cond_only;
	NgScanPlan *plan;
	Bitmapset  *attrs_used = NULL;
	Bitmapset  *cond_attrs = NULL;
	ListCell   *lc;

	if (IS_UPPER_REL(baserel))
		return ng_upper_plan(root, baserel, best_path, tlist, outer_plan);
	fpinfo = (NgRelInfo *) baserel->fdw_private;

	foreach(lc, scan_clauses)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		bool		pushed;
		bool		kept;

		if (rinfo->pseudoconstant)
			continue;

		if (list_member_ptr(fpinfo->remote_conds, rinfo) ||
			list_member_ptr(fpinfo->local_conds, rinfo))
		{
			pushed = list_member_ptr(fpinfo->remote_conds, rinfo);
			kept = list_member_ptr(fpinfo->local_conds, rinfo);
		}
		else
		{
			bool		recheck = false;

			pushed = ng_is_foreign_expr(root, baserel, fpinfo->opts,
										rinfo->clause, &recheck);
			kept = !pushed || recheck;
		}

		if (pushed)
			remote_exprs = lappend(remote_exprs, rinfo->clause);
		if (kept)
			local_exprs = lappend(local_exprs, rinfo->clause);
	}

	/* The columns to convert: those the target list and local quals use. */
	pull_varattnos((Node *) baserel->reltarget->exprs, baserel->relid,
				   &attrs_used);
	pull_varattnos((Node *) local_exprs, baserel->relid, &attrs_used);
	retrieved = ng_plan_retrieved_columns(fpinfo->opts, attrs_used);

	/*
	 * And the columns only the pushed conditions use: the scan evaluates
	 * those conditions itself for documents MongoDB did not filter (the
	 * transaction's own writes, documents re-read for UPDATE or DELETE).
	 */
	pull_varattnos((Node *) remote_exprs, baserel->relid, &cond_attrs);
	cond_attrs = bms_del_members(cond_attrs, attrs_used);
	if (bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, attrs_used))
		cond_attrs = NULL;
	cond_only = ng_plan_retrieved_columns(fpinfo->opts, cond_attrs);

	plan = ng_scan_plan_create(fpinfo->opts);
	plan->retrieved = retrieved;
	plan->cond_columns = cond_only;
	plan->nwhere = list_length(remote_exprs);
	plan->nhaving = 0;

	/* a sorted path: the sort, and the guards it needs */
	plan->sort_keys = ng_sort_base_plan(root, baserel, best_path,
										&plan->guards);

	/*
	 * The inner side of a batched key join: batchjoin.c's path carries the
	 * key condition, with a placeholder for the keys, in fdw_private.
	 */
	if (best_path->path.pathkeys == NIL && best_path->fdw_private != NIL &&
		IsA(linitial(best_path->fdw_private), ScalarArrayOpExpr))
		plan->batch_key = linitial(best_path->fdw_private);

	return make_foreignscan(tlist, local_exprs, baserel->relid,
							remote_exprs, ng_scan_plan_to_list(plan),
							NIL, NIL, outer_plan);
}
