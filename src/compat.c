/*-------------------------------------------------------------------------
 *
 * compat.c
 *		  The version-dependent functions that are too large for ng_compat.h.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/compat.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "utils/lsyscache.h"

#include "nutragenie.h"

#if PG_VERSION_NUM >= 160000

/*
 * The nulling relids that "var" (a Var or PlaceHolderVar) has in "vars", the
 * list found above the join; NULL (and *found false) if it is not there.
 */
static Relids
nullingrels_above(Node *var, List *vars, bool *found)
{
	ListCell   *lc;

	foreach(lc, vars)
	{
		Node	   *v = (Node *) lfirst(lc);

		if (IsA(var, Var) && IsA(v, Var) &&
			((Var *) v)->varno == ((Var *) var)->varno &&
			((Var *) v)->varattno == ((Var *) var)->varattno &&
			((Var *) v)->varlevelsup == 0)
		{
			*found = true;
			return ((Var *) v)->varnullingrels;
		}
		if (IsA(var, PlaceHolderVar) && IsA(v, PlaceHolderVar) &&
			((PlaceHolderVar *) v)->phid == ((PlaceHolderVar *) var)->phid)
		{
			*found = true;
			return ((PlaceHolderVar *) v)->phnullingrels;
		}
	}
	*found = false;
	return NULL;
}

/* ng_adopt_scan_nullingrels's walker: the scan tuple's nulling relids */
static Node *
adopt_nullingrels_mutator(Node *node, List *scan_tlist)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Var) || IsA(node, PlaceHolderVar))
	{
		ListCell   *lc;

		if (IsA(node, Var) && ((Var *) node)->varlevelsup != 0)
			return copyObject(node);
		foreach(lc, scan_tlist)
		{
			Node	   *expr = (Node *) lfirst_node(TargetEntry, lc)->expr;

			if (IsA(node, Var) && IsA(expr, Var) &&
				((Var *) expr)->varno == ((Var *) node)->varno &&
				((Var *) expr)->varattno == ((Var *) node)->varattno)
			{
				Var		   *var = (Var *) copyObject(node);

				var->varnullingrels = bms_copy(((Var *) expr)->varnullingrels);
				return (Node *) var;
			}
			if (IsA(node, PlaceHolderVar) && IsA(expr, PlaceHolderVar) &&
				((PlaceHolderVar *) expr)->phid == ((PlaceHolderVar *) node)->phid)
			{
				PlaceHolderVar *phv = (PlaceHolderVar *) copyObject(node);

				phv->phnullingrels =
					bms_copy(((PlaceHolderVar *) expr)->phnullingrels);
				return (Node *) phv;
			}
		}
		return copyObject(node);
	}
	return expression_tree_mutator(node, adopt_nullingrels_mutator,
								   (void *) scan_tlist);
}

#endif							/* PG_VERSION_NUM >= 160000 */

/*
 * ng_scan_tlist_nullingrels
 *		Give a custom join's scan tuple the nulling relids of the join.
 *
 * A custom scan that joins (scanrelid 0) describes its scan tuple with
 * custom_scan_tlist, built from its children's target lists; since
 * PostgreSQL 16 setrefs.c requires every Var of the node's target list,
 * quals and custom_exprs to match its scan tuple entry exactly, nulling
 * relids included, and the join's target list has the nullable side's Vars
 * marked as nulled by the join.  This gives each entry of scan_tlist (in
 * place) the nulling relids its Var or PlaceHolderVar has in "above" (the
 * target list and the quals evaluated above the join); expressions
 * evaluated on the scan tuple before null extension (join conditions, keys)
 * then go through ng_adopt_scan_nullingrels.  The executor does not look at
 * nulling relids: they only keep the planner's bookkeeping consistent.
 * A no-op before 16.
 */
void
ng_scan_tlist_nullingrels(List *scan_tlist, List *above)
{
#if PG_VERSION_NUM >= 160000
	List	   *vars;
	ListCell   *lc;

	vars = pull_var_clause((Node *) above,
						   PVC_RECURSE_AGGREGATES | PVC_RECURSE_WINDOWFUNCS |
						   PVC_INCLUDE_PLACEHOLDERS);
	foreach(lc, scan_tlist)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		Relids		relids;
		bool		found;

		if (!IsA(tle->expr, Var) && !IsA(tle->expr, PlaceHolderVar))
			continue;
		relids = nullingrels_above((Node *) tle->expr, vars, &found);
		if (!found)
			continue;
		if (IsA(tle->expr, Var))
			((Var *) tle->expr)->varnullingrels = bms_copy(relids);
		else
			((PlaceHolderVar *) tle->expr)->phnullingrels = bms_copy(relids);
	}
	list_free(vars);
#endif
}

/*
 * ng_adopt_scan_nullingrels
 *		A copy of "expr" whose Vars and PlaceHolderVars carry the nulling
 *		relids of their entry in scan_tlist (see ng_scan_tlist_nullingrels).
 *		Just a copy before 16.
 */
Node *
ng_adopt_scan_nullingrels(Node *expr, List *scan_tlist)
{
#if PG_VERSION_NUM >= 160000
	return adopt_nullingrels_mutator(expr, scan_tlist);
#else
	return copyObject(expr);
#endif
}

/*
 * ng_outer_side_first
 *		The join conditions "quals" (bare clauses), each comparison between
 *		the two sides written outer side first, as PostgreSQL shows its own
 *		joins' conditions.
 *
 * Which way round the planner builds a join condition it derives from an
 * equivalence class ("a = b" or "b = a") differs between PostgreSQL
 * versions; a custom join that shows its conditions normalizes them so that
 * EXPLAIN reads the same everywhere.  Returns a new list; a switched clause
 * is a copy.
 */
List *
ng_outer_side_first(PlannerInfo *root, List *quals, Relids outer_relids)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, quals)
	{
		Node	   *qual = (Node *) lfirst(lc);

		if (IsA(qual, OpExpr) && list_length(((OpExpr *) qual)->args) == 2)
		{
			OpExpr	   *op = (OpExpr *) qual;
			Relids		left = pull_varnos(root, linitial(op->args));
			Relids		right = pull_varnos(root, lsecond(op->args));

			if (!bms_is_empty(left) && !bms_is_empty(right) &&
				!bms_overlap(left, outer_relids) &&
				bms_is_subset(right, outer_relids) &&
				OidIsValid(get_commutator(op->opno)))
			{
				op = copyObject(op);
				CommuteOpExpr(op);
				qual = (Node *) op;
			}
		}
		result = lappend(result, qual);
	}
	return result;
}
