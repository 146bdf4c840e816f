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
 * collection.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/plan.c
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

#include "nutragenie.h"

/*
 * Cost model.  A find costs one round trip before the first document;
 * every document costs transfer and BSON conversion, several times the work
 * of a local heap tuple.  Measured on loopback, a round trip costs as much
 * as streaming a few hundred documents, which is what these ratios say.
 * Without ANALYZE a collection is assumed to hold NG_DEFAULT_DOCS documents.
 */
#define NG_STARTUP_COST		25.0
#define NG_PER_DOC_COST		0.05
#define NG_DEFAULT_DOCS		1000.0

/* What the planner keeps about a foreign relation in fdw_private. */
typedef struct NgRelInfo
{
	NgTableOptions *opts;
	List	   *remote_conds;	/* RestrictInfos sent to MongoDB */
	List	   *local_conds;	/* RestrictInfos evaluated here (incl.
								 * rechecks of pushed ones) */
} NgRelInfo;

typedef struct EcMatchArg
{
	AttrNumber	attnum;
} EcMatchArg;

static void cost_path(RelOptInfo *baserel, double rows,
					  Cost *startup, Cost *total);
static bool ec_member_matches_column(PlannerInfo *root, RelOptInfo *rel,
									 EquivalenceClass *ec,
									 EquivalenceMember *em, void *arg);
static List *pushable_join_clauses(PlannerInfo *root, RelOptInfo *baserel,
								   NgRelInfo *fpinfo);
static List *retrieved_columns(NgRelInfo *fpinfo, Bitmapset *attrs);

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

	baserel->fdw_private = fpinfo;
	fpinfo->opts = ng_options_for_rel(foreigntableid, userid);

	ng_classify_conditions(root, baserel, fpinfo->opts,
						   baserel->baserestrictinfo,
						   &fpinfo->remote_conds, &fpinfo->local_conds);

	/* Without ANALYZE statistics assume a modest collection. */
	if (baserel->tuples < 0)
		baserel->tuples = NG_DEFAULT_DOCS;

	sel = clauselist_selectivity(root, baserel->baserestrictinfo, 0,
								 JOIN_INNER, NULL);
	baserel->rows = clamp_row_est(baserel->tuples * sel);
}

static void
cost_path(RelOptInfo *baserel, double rows, Cost *startup, Cost *total)
{
	*startup = NG_STARTUP_COST;
	*total = NG_STARTUP_COST + rows * (NG_PER_DOC_COST + cpu_tuple_cost);
}

/*
 * The plain scan, plus one parameterized path per set of outer relations
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

	cost_path(baserel, baserel->rows, &startup, &total);
	add_path(baserel, (Path *)
			 create_foreignscan_path(root, baserel, NULL, baserel->rows,
									 startup, total, NIL,
									 baserel->lateral_relids, NULL, NIL));

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
		cost_path(baserel, param_info->ppi_rows, &startup, &total);
		add_path(baserel, (Path *)
				 create_foreignscan_path(root, baserel, NULL,
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
 * The attnums (as Integer nodes) of the columns in attrs (offset by
 * FirstLowInvalidHeapAttributeNumber; whole-row means every column),
 * checking that each has a type the scan can convert.
 */
static List *
retrieved_columns(NgRelInfo *fpinfo, Bitmapset *attrs)
{
	List	   *result = NIL;
	bool		whole_row = bms_is_member(0 - FirstLowInvalidHeapAttributeNumber,
										  attrs);
	AttrNumber	attnum;

	for (attnum = 1; attnum <= fpinfo->opts->natts; attnum++)
	{
		NgColumn   *col = ng_options_column(fpinfo->opts, attnum);

		if (col == NULL)
			continue;
		if (!whole_row &&
			!bms_is_member(attnum - FirstLowInvalidHeapAttributeNumber, attrs))
			continue;
		if (!ng_type_is_supported(col->typid))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("column \"%s\" of foreign table \"%s\" has type %s, which cannot be read from BSON",
							col->attname, fpinfo->opts->relname,
							format_type_be(col->typid)),
					 errhint("Use a json or jsonb column for this field.")));
		result = lappend(result, makeInteger(attnum));
	}
	return result;
}

/*
 * Build the ForeignScan: pushed clauses in fdw_exprs, the rest as the plan's
 * quals, and in fdw_private the options and the columns to convert.
 */
ForeignScan *
ngGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
				 ForeignPath *best_path, List *tlist, List *scan_clauses,
				 Plan *outer_plan)
{
	NgRelInfo  *fpinfo = (NgRelInfo *) baserel->fdw_private;
	List	   *remote_exprs = NIL;
	List	   *local_exprs = NIL;
	List	   *retrieved;
	List	   *cond_only;
	Bitmapset  *attrs_used = NULL;
	Bitmapset  *cond_attrs = NULL;
	ListCell   *lc;

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
	retrieved = retrieved_columns(fpinfo, attrs_used);

	/*
	 * And the columns only the pushed conditions use: the scan evaluates
	 * those conditions itself for documents MongoDB did not filter (the
	 * transaction's own writes, documents re-read for UPDATE or DELETE).
	 */
	pull_varattnos((Node *) remote_exprs, baserel->relid, &cond_attrs);
	cond_attrs = bms_del_members(cond_attrs, attrs_used);
	if (bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, attrs_used))
		cond_attrs = NULL;
	cond_only = retrieved_columns(fpinfo, cond_attrs);

	return make_foreignscan(tlist, local_exprs, baserel->relid,
							remote_exprs,
							list_make3(ng_options_to_list(fpinfo->opts),
									   retrieved, cond_only),
							NIL, NIL, outer_plan);
}
