/*-------------------------------------------------------------------------
 *
 * upper.c
 *		  Plans the work above the scan that MongoDB can do exactly: ORDER BY,
 *		  LIMIT/OFFSET and aggregates.
 *
 * PostgreSQL offers these through sorted base paths (GetForeignPaths with
 * pathkeys: sort.c, which states the ORDER BY rules and guards) and
 * through upper relations (GetForeignUpperPaths for UPPERREL_GROUP_AGG,
 * UPPERREL_DISTINCT, UPPERREL_ORDERED and UPPERREL_FINAL, here).  A pushed operation must
 * give PostgreSQL's result for every document; what cannot be proven so
 * stays local.  The rules:
 *
 * LIMIT/OFFSET (UPPERREL_FINAL) are pushed when the input is the foreign
 * table itself, or its pushed sort, or a pushed aggregation with GROUP BY,
 * with no condition left to evaluate locally, constant or parameter values,
 * no FETCH ... WITH TIES, no FOR UPDATE and no set-returning functions in the
 * target list.
 *
 * Aggregates (UPPERREL_GROUP_AGG) become one aggregate command:
 *
 *	SELECT cat, count(*), count(kcal), min(kcal), max(kcal) FROM recipes
 *	WHERE published GROUP BY cat HAVING count(*) > 1
 *
 *	[{$match: {published: true}},
 *	 {$group: {_id: "$cat", o1: {$sum: 1},
 *			   o2: {$sum: {$cond: [{$gt: ["$kcal", null]}, 1, 0]}},
 *			   o3: {$min: "$kcal"}, o4: {$max: "$kcal"}}},
 *	 {$match: {o1: {$gt: 1}}}]
 *
 * when every WHERE condition is pushed exactly, there are no grouping sets,
 * and
 *	- each GROUP BY item is a column of a type whose equality MongoDB shares:
 *	  the integer types, bool, objectid, uuid, timestamptz, timestamp, date,
 *	  text and varchar under a deterministic collation (guarded); not float8
 *	  (0 and -0 are one group whose key MongoDB and PostgreSQL may print
 *	  differently) nor numeric;
 *	- each aggregate is count(*); count(col) of any column with a field path
 *	  (a missing field and null both count as NULL); min(col) or max(col) of
 *	  an integer, timestamp or date column (the types whose MongoDB order is
 *	  PostgreSQL's and for which PostgreSQL has min/max), without DISTINCT,
 *	  ORDER BY or FILTER; or sum/avg of an integer or numeric column, or
 *	  min/max of float8, numeric or text ("C"), which MongoDB computes
 *	  exactly only per BSON type: these make the pipeline return partial
 *	  groups that the scan merges and finalizes (partial.c states the rules
 *	  and what stays local: float8 sum and avg, always).
 *	- Partial groups also replace the guards of GROUP BY (a text key, several
 *	  keys) and the $ifNull of a nested key, when MongoDB is not asked to
 *	  sort or limit the groups: the merge joins what MongoDB kept apart.
 *	  Over partial groups HAVING, ORDER BY and LIMIT stay local.
 *	- a HAVING condition is pushed ($match after $group) when, read as a
 *	  condition on the result document's fields, deparse.c would push it as
 *	  a WHERE condition; only with GROUP BY, since without it PostgreSQL
 *	  returns one row even for no input and HAVING applies to that row.
 * Aggregates over no rows without GROUP BY give one row (count 0, NULL for
 * min/max), which the scan adds when the pipeline returns nothing.
 *
 * SELECT DISTINCT of columns (UPPERREL_DISTINCT, no DISTINCT ON) is planned
 * as a GROUP BY of them without aggregates, by the same rules.
 *
 * Fallback.  A pushed operation would miss the documents the current
 * transaction has written but not yet committed (they are only in its
 * overlay, see xact.c), and a server may lack an operator ($min, $cond:
 * FerretDB 1.x).  Neither is known when planning.  So the scan decides at
 * run time: a find that pushed a sort, skip or limit sends the plain find
 * instead, merges the overlay, and sorts, skips and limits locally; an
 * aggregation carries the local plan that computes the same rows (Agg over
 * the plain scan, with Sort/Limit above as pushed) as its outer plan, and
 * runs it instead.  EXPLAIN shows that plan below the Foreign Scan.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/plan/upper.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/sysattr.h"
#include "catalog/pg_aggregate.h"
#include "catalog/pg_opfamily.h"
#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/prep.h"
#include "optimizer/tlist.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/pg_locale.h"
#include "utils/selfuncs.h"
#include "utils/typcache.h"

#include "plan/plan.h"

/* One column of an aggregation's scan tuple. */
typedef struct NgOutput
{
	NgOutputKind kind;
	NgColumn   *column;			/* the GROUP BY column or aggregate argument */
	Oid			basetype;		/* keys, min, max: the column's base type */
	NgTypeClass tclass;			/* ... and its class */
	char	   *name;			/* its field in the result document */
} NgOutput;

/* What upper.c keeps about an upper relation whose work it pushed. */
typedef struct NgUpperInfo
{
	NgRelKind	kind;			/* NG_REL_UPPER */
	RelOptInfo *baserel;		/* the foreign table */
	NgRelInfo  *base;			/* its planner data */

	/* aggregation */
	bool		grouped;
	bool		partial;		/* partial groups, merged by the scan */
	List	   *group_fields;	/* String: GROUP BY column paths */
	PathTarget *scan_target;	/* scan tuple: keys, then aggregates */
	List	   *outputs;		/* NgOutput *, parallel to scan_target */
	List	   *having_remote;	/* HAVING conditions sent */
	List	   *having_local;	/* HAVING conditions evaluated here */
	List	   *guards;			/* NgPlanGuard * */
	Path	   *fallback;		/* local path computing the same rows */
	double		rows;			/* estimated rows of the aggregation */

	/* ORDER BY */
	bool		sortable;		/* over a base relation: the sort pushes */
	List	   *sort_keys;		/* NgSortKey * */

	/* LIMIT/OFFSET */
	bool		limited;
	Node	   *limit_count;
	Node	   *limit_offset;
} NgUpperInfo;

static void add_grouped_path(PlannerInfo *root, RelOptInfo *input_rel,
							 RelOptInfo *grouped_rel, PathTarget *target,
							 List *group_clause, List *having,
							 List *group_pathkeys, bool can_sort,
							 bool can_hash);
static bool aggregate_output(NgRelInfo *fpinfo, Index relid, Aggref *agg,
							 NgOutput *out);
static bool distinct_output(NgRelInfo *fpinfo, Index relid, Aggref *agg,
							NgOutput *out);
static bool grouping_equality_is_exact(NgTypeClass tclass, Oid basetype,
									   Oid collation, Oid eqop);
static NgTableOptions *result_options(List *outputs, List *exprs);
static Node *outputs_to_vars(Node *node, List *exprs);
static void add_ordered_path(PlannerInfo *root, RelOptInfo *input_rel,
							 RelOptInfo *ordered_rel);
static bool grouped_sort_keys(PlannerInfo *root, NgUpperInfo *info,
							  List *pathkeys, List **keys);
static void add_final_path(PlannerInfo *root, RelOptInfo *input_rel,
						   RelOptInfo *final_rel, FinalPathExtraData *extra);
static bool limit_value_is_pushable(Node *node);
static bool target_is_plain(NgUpperInfo *info, PathTarget *target);
static NgUpperInfo *copy_info(NgUpperInfo *info);

/*
 * ngGetForeignUpperPaths
 *		Offer a ForeignPath for an upper relation whose work MongoDB can do.
 */
void
ngGetForeignUpperPaths(PlannerInfo *root, UpperRelationKind stage,
					   RelOptInfo *input_rel, RelOptInfo *output_rel,
					   void *extra)
{
	if (input_rel->fdw_private == NULL || output_rel->fdw_private != NULL ||
		root->parse->commandType != CMD_SELECT)
		return;

	switch (stage)
	{
		case UPPERREL_GROUP_AGG:
			{
				GroupPathExtraData *gextra = (GroupPathExtraData *) extra;

				if (gextra->patype == PARTITIONWISE_AGGREGATE_NONE)
					add_grouped_path(root, input_rel, output_rel,
									 output_rel->reltarget,
									 root->parse->groupClause,
									 (List *) gextra->havingQual,
									 root->group_pathkeys,
									 (gextra->flags & GROUPING_CAN_USE_SORT) != 0,
									 (gextra->flags & GROUPING_CAN_USE_HASH) != 0);
				break;
			}
		case UPPERREL_DISTINCT:
			/* SELECT DISTINCT columns of the table: GROUP BY them */
			if (!root->parse->hasDistinctOn && !root->parse->hasAggs &&
				root->parse->groupClause == NIL &&
				*(NgRelKind *) input_rel->fdw_private == NG_REL_BASE)
				add_grouped_path(root, input_rel, output_rel,
								 root->upper_targets[UPPERREL_DISTINCT],
								 root->parse->distinctClause, NIL,
								 root->distinct_pathkeys,
								 grouping_is_sortable(root->parse->distinctClause),
								 grouping_is_hashable(root->parse->distinctClause));
			break;
		case UPPERREL_ORDERED:
			add_ordered_path(root, input_rel, output_rel);
			break;
		case UPPERREL_FINAL:
			add_final_path(root, input_rel, output_rel,
						   (FinalPathExtraData *) extra);
			break;
		default:
			break;
	}
}

/*
 * GROUP BY and aggregates over the foreign table, or SELECT DISTINCT of its
 * columns (a GROUP BY without aggregates): target is the upper relation's
 * output, group_clause the grouping, having its HAVING conditions;
 * group_pathkeys, can_sort and can_hash say how the local plan may group.
 */
static void
add_grouped_path(PlannerInfo *root, RelOptInfo *input_rel,
				 RelOptInfo *grouped_rel, PathTarget *target,
				 List *group_clause, List *having, List *group_pathkeys,
				 bool can_sort, bool can_hash)
{
	Query	   *parse = root->parse;
	NgRelInfo  *fpinfo = (NgRelInfo *) input_rel->fdw_private;
	NgUpperInfo *info;
	PathTarget *scan_target;
	List	   *outputs = NIL;
	List	   *group_fields = NIL;
	List	   *guards = NIL;
	List	   *group_exprs = NIL;
	List	   *aggs;
	List	   *having_remote = NIL;
	List	   *having_local = NIL;
	NgTableOptions *out_opts;
	ListCell   *lc;
	double		input_rows = input_rel->rows;
	double		groups;
	double		rows;
	Cost		startup;
	Cost		total;
	Path	   *sub;
	AggStrategy strategy;
	AggClauseCosts aggcosts;
	int			i;
	bool		partial = false;
	bool		nested_key = false;

	/*
	 * Partial groups (partial.c) replace the guards of GROUP BY, and their
	 * round trips, unless MongoDB is to sort or limit the groups (the scan
	 * returns merged groups in no particular order).
	 */
	bool		fold = parse->sortClause == NIL &&
		parse->limitCount == NULL && parse->limitOffset == NULL;

	if (fpinfo->kind != NG_REL_BASE || fpinfo->local_conds != NIL ||
		parse->groupingSets != NIL || !IS_SIMPLE_REL(input_rel))
		return;

	/* the scan tuple: GROUP BY columns first */
	scan_target = create_empty_pathtarget();
	foreach(lc, group_clause)
	{
		SortGroupClause *sgc = (SortGroupClause *) lfirst(lc);
		TargetEntry *tle = get_sortgroupclause_tle(sgc, root->processed_tlist);
		NgColumn   *column;
		Oid			basetype;
		NgTypeClass tclass;
		NgOutput   *out;

		column = ng_deparse_column(fpinfo->opts, input_rel->relid,
								   (Node *) tle->expr, &basetype, &tclass);
		if (column == NULL || column->mismatch == NG_MISMATCH_NULL ||
			!ng_field_is_expression_safe(column->field))
			return;
		if (!grouping_equality_is_exact(tclass, basetype,
										exprCollation((Node *) tle->expr),
										sgc->eqop))
			return;
		if (tclass == NG_TC_TEXT)
			guards = ng_plan_guard_add(guards, column->field,
									   NG_GUARD_STRING_OBJECTID);

		if (strchr(column->field, '.') != NULL)
			nested_key = true;
		out = palloc0(sizeof(NgOutput));
		out->kind = NG_OUT_KEY;
		out->column = column;
		out->basetype = basetype;
		out->tclass = tclass;
		group_fields = lappend(group_fields, makeString(column->field));
		group_exprs = lappend(group_exprs, tle->expr);
		add_column_to_pathtarget(scan_target, tle->expr, sgc->tleSortGroupRef);
		outputs = lappend(outputs, out);
	}
	i = 0;
	foreach(lc, outputs)
	{
		NgOutput   *out = (NgOutput *) lfirst(lc);

		out->name = (list_length(outputs) == 1) ? pstrdup("_id") :
			psprintf("_id.k%d", i);
		if (list_length(outputs) > 1)
			guards = ng_plan_guard_add(guards, out->column->field,
									   NG_GUARD_MISSING_NULL);
		i++;
	}

	/* then every aggregate of the target list and of HAVING */
	aggs = pull_var_clause((Node *) list_concat_copy(target->exprs, having),
						   PVC_INCLUDE_AGGREGATES | PVC_INCLUDE_PLACEHOLDERS |
						   PVC_INCLUDE_WINDOWFUNCS);
	foreach(lc, aggs)
	{
		Node	   *node = (Node *) lfirst(lc);
		NgOutput   *out;
		ListCell   *lc2;
		bool		found = false;

		if (IsA(node, Var))
		{
			/* outside aggregates, only GROUP BY columns may appear */
			foreach(lc2, group_exprs)
			{
				if (equal(node, lfirst(lc2)))
					found = true;
			}
			if (!found)
				return;
			continue;
		}
		if (!IsA(node, Aggref))
			return;
		foreach(lc2, scan_target->exprs)
		{
			if (equal(node, lfirst(lc2)))
				found = true;
		}
		if (found)
			continue;
		out = palloc0(sizeof(NgOutput));
		if (!aggregate_output(fpinfo, input_rel->relid, (Aggref *) node, out))
			return;
		if (out->kind == NG_OUT_SUM || out->kind == NG_OUT_AVG ||
			out->kind == NG_OUT_COUNT_DISTINCT ||
			(ng_partial_output_is_typed(out->kind, out->tclass) &&
			 out->kind != NG_OUT_COUNT))
			partial = true;
		/* one distinct column: it splits the partial groups */
		if (out->kind == NG_OUT_COUNT_DISTINCT)
		{
			foreach(lc2, outputs)
			{
				NgOutput   *other = (NgOutput *) lfirst(lc2);

				if (other->kind == NG_OUT_COUNT_DISTINCT &&
					strcmp(other->column->field, out->column->field) != 0)
					return;
			}
		}
		out->name = psprintf("o%d", list_length(outputs));
		add_column_to_pathtarget(scan_target, (Expr *) node, 0);
		outputs = lappend(outputs, out);
	}

	/* sort/group references of the grouping target, for the local plans */
	i = 0;
	foreach(lc, target->exprs)
	{
		Index		ref = get_pathtarget_sortgroupref(target, i);
		int			j = 0;
		ListCell   *lc2;

		i++;
		if (ref == 0)
			continue;
		foreach(lc2, scan_target->exprs)
		{
			if (equal(lfirst(lc), lfirst(lc2)) &&
				scan_target->sortgrouprefs[j] == 0)
				scan_target->sortgrouprefs[j] = ref;
			j++;
		}
	}
	set_pathtarget_cost_width(root, scan_target);

	if (fold && (guards != NIL || nested_key))
		partial = true;
	if (partial)
	{
		/*
		 * Keys are _id.k0, _id.k1 ..., a single key without types the _id
		 * itself (partial.c); the merge makes the guards needless.
		 */
		bool		typed = false;

		foreach(lc, outputs)
		{
			NgOutput   *out = (NgOutput *) lfirst(lc);

			if (ng_partial_output_is_typed(out->kind, out->tclass) ||
				out->kind == NG_OUT_COUNT_DISTINCT)
				typed = true;
		}
		i = 0;
		foreach(lc, outputs)
		{
			NgOutput   *out = (NgOutput *) lfirst(lc);

			if (out->kind == NG_OUT_KEY)
				out->name = (list_length(group_fields) == 1 && !typed) ?
					pstrdup("_id") : psprintf("_id.k%d", i++);
		}
		guards = NIL;
	}

	/* HAVING: pushed when it reads as an exact condition on the result */
	out_opts = result_options(outputs, scan_target->exprs);
	foreach(lc, having)
	{
		Expr	   *clause = (Expr *) lfirst(lc);
		Node	   *mapped = outputs_to_vars((Node *) clause, scan_target->exprs);
		bool		recheck = false;
		ListCell   *lc2;
		bool		clean = true;

		foreach(lc2, pull_var_clause(mapped, PVC_INCLUDE_AGGREGATES |
									 PVC_INCLUDE_PLACEHOLDERS |
									 PVC_INCLUDE_WINDOWFUNCS))
		{
			Var		   *var = (Var *) lfirst(lc2);

			if (!IsA(var, Var) || var->varno != INDEX_VAR)
				clean = false;
		}
		if (group_clause != NIL && clean && !partial &&
			ng_is_foreign_expr_on(out_opts, INDEX_VAR, (Expr *) mapped,
								  &recheck))
		{
			having_remote = lappend(having_remote, clause);
			if (recheck)
				having_local = lappend(having_local, clause);
		}
		else
			having_local = lappend(having_local, clause);
	}

	/* the local plan, for the scans that cannot use the pipeline */
	sub = input_rel->cheapest_total_path;
	if (group_clause == NIL)
		strategy = AGG_PLAIN;
	else if (can_sort)
	{
		if (!pathkeys_contained_in(group_pathkeys, sub->pathkeys))
			sub = (Path *) create_sort_path(root, grouped_rel, sub,
											group_pathkeys, -1.0);
		strategy = AGG_SORTED;
	}
	else if (can_hash)
		strategy = AGG_HASHED;
	else
		return;

	if (group_clause == NIL)
		groups = 1;
	else
		groups = estimate_num_groups(root, group_exprs, input_rows, NULL, NULL);
	MemSet(&aggcosts, 0, sizeof(aggcosts));
	get_agg_clause_costs(root, AGGSPLIT_SIMPLE, &aggcosts);

	info = palloc0(sizeof(NgUpperInfo));
	info->kind = NG_REL_UPPER;
	info->baserel = input_rel;
	info->base = fpinfo;
	info->grouped = true;
	info->partial = partial;
	info->group_fields = group_fields;
	info->scan_target = scan_target;
	info->outputs = outputs;
	info->having_remote = having_remote;
	info->having_local = having_local;
	info->guards = guards;
	info->fallback = (Path *)
		create_agg_path(root, grouped_rel, sub, scan_target, strategy,
						AGGSPLIT_SIMPLE, group_clause, having,
						&aggcosts, groups);

	rows = clamp_row_est(groups *
						 clauselist_selectivity(root, having, 0, JOIN_INNER,
												NULL));
	ng_cost_pushed(input_rows, list_length(guards), rows, &startup, &total);

	info->rows = rows;
	grouped_rel->fdw_private = info;
	add_path(grouped_rel, (Path *)
			 ng_create_foreign_upper_path(root, grouped_rel, target, rows,
										  startup, total, NIL, info->fallback,
										  NIL));
}

/*
 * Can MongoDB compute this aggregate exactly?  Fills *out (not its name).
 */
static bool
aggregate_output(NgRelInfo *fpinfo, Index relid, Aggref *agg, NgOutput *out)
{
	Node	   *arg;
	Var		   *var;
	NgColumn   *column;
	Oid			basetype;
	NgTypeClass tclass;

	if (agg->aggorder != NIL ||
		agg->aggfilter != NULL || agg->aggvariadic ||
		agg->agglevelsup != 0 || agg->aggsplit != AGGSPLIT_SIMPLE ||
		agg->aggkind != AGGKIND_NORMAL)
		return false;
	if (agg->aggdistinct != NIL)
		return distinct_output(fpinfo, relid, agg, out);

	if (agg->aggfnoid == F_COUNT_ && agg->aggstar)
	{
		out->kind = NG_OUT_COUNT_STAR;
		return true;
	}
	if (list_length(agg->args) != 1)
		return false;
	arg = (Node *) ((TargetEntry *) linitial(agg->args))->expr;

	switch (agg->aggfnoid)
	{
		case F_COUNT_ANY:
			/* any column: MongoDB counts values neither null nor missing */
			while (IsA(arg, RelabelType))
				arg = (Node *) ((RelabelType *) arg)->arg;
			if (!IsA(arg, Var))
				return false;
			var = (Var *) arg;
			if (var->varno != relid || var->varlevelsup != 0 ||
				var->varattno <= 0)
				return false;
			column = ng_options_column(fpinfo->opts, var->varattno);
			if (column == NULL || column->is_root ||
				column->mismatch == NG_MISMATCH_NULL ||
				!ng_field_is_expression_safe(column->field))
				return false;
			out->kind = NG_OUT_COUNT;
			out->column = column;
			return true;

		case F_MIN_INT2:
		case F_MIN_INT4:
		case F_MIN_INT8:
		case F_MIN_TIMESTAMP:
		case F_MIN_TIMESTAMPTZ:
		case F_MIN_DATE:
		case F_MAX_INT2:
		case F_MAX_INT4:
		case F_MAX_INT8:
		case F_MAX_TIMESTAMP:
		case F_MAX_TIMESTAMPTZ:
		case F_MAX_DATE:
			column = ng_deparse_column(fpinfo->opts, relid, arg, &basetype,
									   &tclass);
			if (column == NULL || column->mismatch == NG_MISMATCH_NULL ||
				!ng_field_is_expression_safe(column->field) ||
				(tclass != NG_TC_INT && tclass != NG_TC_TIMESTAMP &&
				 tclass != NG_TC_DATE) ||
				basetype != linitial_oid(agg->aggargtypes))
				return false;
			switch (agg->aggfnoid)
			{
				case F_MIN_INT2:
				case F_MIN_INT4:
				case F_MIN_INT8:
				case F_MIN_TIMESTAMP:
				case F_MIN_TIMESTAMPTZ:
				case F_MIN_DATE:
					out->kind = NG_OUT_MIN;
					break;
				default:
					out->kind = NG_OUT_MAX;
					break;
			}
			out->column = column;
			out->basetype = basetype;
			out->tclass = tclass;
			return true;

		default:
			/* sum, avg, min/max of float8, numeric, text: partial groups */
			column = ng_deparse_column(fpinfo->opts, relid, arg, &basetype,
									   &tclass);
			if (column == NULL || column->mismatch == NG_MISMATCH_NULL ||
				!ng_field_is_expression_safe(column->field) ||
				basetype != linitial_oid(agg->aggargtypes))
				return false;
			out->kind = ng_partial_output_kind(agg->aggfnoid, tclass,
											   column->typmod,
											   agg->inputcollid);
			if (out->kind == NG_OUT_NONE)
				return false;
			out->column = column;
			out->basetype = basetype;
			out->tclass = tclass;
			return true;
	}
}

/*
 * Is eqop, with this collation, the equality under which MongoDB groups the
 * values a column of class tclass (base type basetype) reads, up to the
 * merge of partial groups?  The integer types, bool, objectid, uuid,
 * timestamps and date under their default equality; text and varchar
 * under a deterministic collation (a string and an ObjectId of the same
 * hex digits excepted: guarded, or merged).  Not float8 (0 and -0 are one
 * group whose key MongoDB and PostgreSQL may print differently) nor
 * numeric.
 */
static bool
grouping_equality_is_exact(NgTypeClass tclass, Oid basetype, Oid collation,
						   Oid eqop)
{
	Oid			eqtype;

	switch (tclass)
	{
		case NG_TC_INT:
		case NG_TC_OBJECTID:
		case NG_TC_BOOL:
		case NG_TC_UUID:
		case NG_TC_TIMESTAMP:
		case NG_TC_DATE:
			eqtype = basetype;
			break;
		case NG_TC_TEXT:
			if (!OidIsValid(collation) ||
				!get_collation_isdeterministic(collation))
				return false;
			eqtype = TEXTOID;
			break;
		default:
			return false;
	}
	return eqop == lookup_type_cache(eqtype, TYPECACHE_EQ_OPR)->eq_opr;
}

/*
 * count(DISTINCT col): partial groups split by the column's value too
 * (partial.c), whose distinct values the merge counts.  For the columns
 * whose equality is the equality of their output text (the GROUP BY
 * types), under the type's default equality; one distinct column per
 * aggregation (add_grouped_path checks).
 */
static bool
distinct_output(NgRelInfo *fpinfo, Index relid, Aggref *agg, NgOutput *out)
{
	Node	   *arg;
	NgColumn   *column;
	Oid			basetype;
	NgTypeClass tclass;
	SortGroupClause *sgc;

	if (agg->aggfnoid != F_COUNT_ANY || agg->aggstar ||
		list_length(agg->args) != 1 || list_length(agg->aggdistinct) != 1)
		return false;
	arg = (Node *) ((TargetEntry *) linitial(agg->args))->expr;
	column = ng_deparse_column(fpinfo->opts, relid, arg, &basetype, &tclass);
	if (column == NULL || column->mismatch == NG_MISMATCH_NULL ||
		!ng_field_is_expression_safe(column->field))
		return false;
	sgc = (SortGroupClause *) linitial(agg->aggdistinct);
	if (!grouping_equality_is_exact(tclass, basetype, agg->inputcollid,
									sgc->eqop))
		return false;
	out->kind = NG_OUT_COUNT_DISTINCT;
	out->column = column;
	out->basetype = exprType(arg);
	out->tclass = tclass;
	return true;
}

/*
 * The result document of an aggregation described as a foreign table's
 * columns: column i is scan tuple column i, read from its field of the
 * result document, with the type of exprs[i].  Lets deparse.c translate
 * HAVING conditions, and scan_aggregate.c convert the results.  Outputs of
 * kind NG_OUT_NONE (and columns beyond the outputs) have no field.
 */
static NgTableOptions *
result_options(List *outputs, List *exprs)
{
	NgTableOptions *opts = palloc0(sizeof(NgTableOptions));
	int			i;

	opts->natts = list_length(exprs);
	opts->columns = palloc0(sizeof(NgColumn) * Max(opts->natts, 1));
	opts->relname = "aggregation";
	for (i = 0; i < opts->natts; i++)
	{
		NgColumn   *col = &opts->columns[i];
		Node	   *expr = (Node *) list_nth(exprs, i);
		NgOutput   *out = (i < list_length(outputs)) ?
			(NgOutput *) list_nth(outputs, i) : NULL;

		col->attnum = i + 1;
		col->typid = exprType(expr);
		col->typmod = exprTypmod(expr);
		col->mismatch = NG_MISMATCH_ERROR;
		col->attname = psprintf("output %d", i + 1);
		if (out != NULL && out->kind != NG_OUT_NONE)
			col->field = out->name;
	}
	return opts;
}

/*
 * ng_upper_result_options
 *		result_options for the executor, from the plan's outputs
 *		(NgPlanOutput) and the fdw_scan_tlist.
 */
NgTableOptions *
ng_upper_result_options(List *plan_outputs, List *scan_tlist)
{
	List	   *outputs = NIL;
	List	   *exprs = NIL;
	ListCell   *lc;

	foreach(lc, plan_outputs)
	{
		NgPlanOutput *o = (NgPlanOutput *) lfirst(lc);
		NgOutput   *out = palloc0(sizeof(NgOutput));

		out->kind = o->kind;
		out->name = o->name;
		out->tclass = (NgTypeClass) o->tclass;
		outputs = lappend(outputs, out);
	}
	foreach(lc, scan_tlist)
		exprs = lappend(exprs, ((TargetEntry *) lfirst(lc))->expr);
	return result_options(outputs, exprs);
}

/*
 * Replace each subexpression equal to exprs[i] by a Var (INDEX_VAR, i + 1),
 * as setrefs.c will do with the fdw_scan_tlist.
 */
static Node *
outputs_to_vars(Node *node, List *exprs)
{
	ListCell   *lc;

	if (node == NULL)
		return NULL;
	foreach(lc, exprs)
	{
		if (equal(node, lfirst(lc)))
			return (Node *) makeVar(INDEX_VAR,
									foreach_current_index(lc) + 1,
									exprType(node), exprTypmod(node),
									exprCollation(node), 0);
	}
	return expression_tree_mutator(node, outputs_to_vars, (void *) exprs);
}

/*
 * ORDER BY.  Over the foreign table only note whether the sort pushes (the
 * sorted base path already offers it; UPPERREL_FINAL needs to know); over a
 * pushed aggregation add the $sort.
 */
static void
add_ordered_path(PlannerInfo *root, RelOptInfo *input_rel,
				 RelOptInfo *ordered_rel)
{
	NgRelKind	kind = *(NgRelKind *) input_rel->fdw_private;
	NgUpperInfo *info;
	List	   *keys;
	double		rows;
	Cost		startup;
	Cost		total;
	ListCell   *lc;

	if (kind == NG_REL_BASE)
	{
		NgRelInfo  *fpinfo = (NgRelInfo *) input_rel->fdw_private;

		if (!IS_SIMPLE_REL(input_rel))
			return;
		info = palloc0(sizeof(NgUpperInfo));
		info->kind = NG_REL_UPPER;
		info->baserel = input_rel;
		info->base = fpinfo;
		info->sortable = ng_sort_keys_for_base(root, input_rel, fpinfo,
											   root->sort_pathkeys, &keys);
		if (info->sortable)
			info->sort_keys = keys;
		ordered_rel->fdw_private = info;
		return;
	}

	/* over a pushed aggregation with GROUP BY (no GROUP BY: one row) */
	info = (NgUpperInfo *) input_rel->fdw_private;
	if (!info->grouped || info->partial || info->sort_keys != NIL ||
		info->limited ||
		info->group_fields == NIL ||
		!grouped_sort_keys(root, info, root->sort_pathkeys, &keys))
		return;

	info = copy_info(info);
	info->sort_keys = keys;
	foreach(lc, keys)
	{
		NgSortKey  *key = (NgSortKey *) lfirst(lc);

		if (key->guard)
			info->guards = ng_plan_guard_add(info->guards, key->field,
											 NG_GUARD_STRING_OBJECTID);
	}
	if (!pathkeys_contained_in(root->sort_pathkeys, info->fallback->pathkeys))
		info->fallback = (Path *)
			create_sort_path(root, ordered_rel, info->fallback,
							 root->sort_pathkeys, -1.0);

	rows = info->rows;
	ng_cost_pushed(info->baserel->rows + rows, list_length(info->guards),
				   rows, &startup, &total);

	ordered_rel->fdw_private = info;
	add_path(ordered_rel, (Path *)
			 ng_create_foreign_upper_path(root, ordered_rel,
										  root->upper_targets[UPPERREL_ORDERED],
										  rows, startup, total,
										  root->sort_pathkeys, info->fallback,
										  NIL));
}

/*
 * Sort keys over the outputs of a pushed aggregation: GROUP BY columns and
 * min/max by the rules of columns, counts (integers, never NULL) always.
 */
static bool
grouped_sort_keys(PlannerInfo *root, NgUpperInfo *info, List *pathkeys,
				  List **keys)
{
	ListCell   *lc;

	*keys = NIL;
	foreach(lc, pathkeys)
	{
		PathKey    *pk = (PathKey *) lfirst(lc);
		EquivalenceClass *ec = pk->pk_eclass;
		NgOutput   *out = NULL;
		Expr	   *expr = NULL;
		Oid			datatype = InvalidOid;
		bool		nonnull;
		NgSortKey  *key;
		ListCell   *lc2;

		if (ec->ec_has_volatile ||
			(ng_pathkey_strategy(pk) != BTLessStrategyNumber &&
			 ng_pathkey_strategy(pk) != BTGreaterStrategyNumber))
			return false;
		foreach(lc2, ec->ec_members)
		{
			EquivalenceMember *em = (EquivalenceMember *) lfirst(lc2);
			Expr	   *e = em->em_expr;
			ListCell   *lc3;

			while (IsA(e, RelabelType))
				e = ((RelabelType *) e)->arg;
			foreach(lc3, info->scan_target->exprs)
			{
				if (equal(e, lfirst(lc3)))
				{
					out = list_nth(info->outputs, foreach_current_index(lc3));
					expr = em->em_expr;
					datatype = em->em_datatype;
					break;
				}
			}
			if (out != NULL)
				break;
		}
		if (out == NULL)
			return false;

		switch (out->kind)
		{
			case NG_OUT_COUNT_STAR:
			case NG_OUT_COUNT:
				if (pk->pk_opfamily !=
					lookup_type_cache(INT8OID, TYPECACHE_BTREE_OPFAMILY)->btree_opf)
					return false;
				nonnull = true;
				break;
			case NG_OUT_KEY:
			case NG_OUT_MIN:
			case NG_OUT_MAX:
				if (!ng_sort_type_is_exact(out->tclass, out->basetype,
										   pk->pk_opfamily, ec->ec_collation))
					return false;
				nonnull = ng_sort_column_nonnull(info->baserel, out->column->attnum);
				break;
			default:
				return false;
		}
		if (pk->pk_nulls_first != (ng_pathkey_strategy(pk) == BTLessStrategyNumber) &&
			!nonnull)
			return false;

		key = ng_sort_key_make(pk, ec, datatype, expr, out->name);
		key->guard = false;		/* text keys are guarded already */
		if (!OidIsValid(key->sortop))
			return false;
		*keys = lappend(*keys, key);
	}
	return true;
}

/*
 * LIMIT/OFFSET, over the foreign table, its pushed sort, or a pushed
 * aggregation with GROUP BY.
 */
static void
add_final_path(PlannerInfo *root, RelOptInfo *input_rel,
			   RelOptInfo *final_rel, FinalPathExtraData *extra)
{
	Query	   *parse = root->parse;
	NgRelKind	kind = *(NgRelKind *) input_rel->fdw_private;
	NgUpperInfo *info;
	PathTarget *target = root->upper_targets[UPPERREL_FINAL];
	double		rows;
	double		input_rows;
	Cost		startup;
	Cost		total;
	List	   *pathkeys = NIL;

	if (!extra->limit_needed || parse->rowMarks != NIL ||
		parse->hasTargetSRFs || parse->limitOption == LIMIT_OPTION_WITH_TIES ||
		!limit_value_is_pushable(parse->limitCount) ||
		!limit_value_is_pushable(parse->limitOffset))
		return;

	/* LIMIT 0 needs no query at all (and MongoDB reads it as no limit) */
	if (parse->limitCount != NULL && IsA(parse->limitCount, Const) &&
		!((Const *) parse->limitCount)->constisnull &&
		DatumGetInt64(((Const *) parse->limitCount)->constvalue) == 0)
		return;

	if (kind == NG_REL_BASE)
	{
		NgRelInfo  *fpinfo = (NgRelInfo *) input_rel->fdw_private;

		if (!IS_SIMPLE_REL(input_rel) || parse->sortClause != NIL)
			return;
		info = palloc0(sizeof(NgUpperInfo));
		info->kind = NG_REL_UPPER;
		info->baserel = input_rel;
		info->base = fpinfo;
	}
	else
	{
		info = (NgUpperInfo *) input_rel->fdw_private;
		if (info->limited || info->partial)
			return;
		if (!info->grouped && !info->sortable)
			return;
		if (info->grouped && (info->group_fields == NIL ||
							  info->having_local != NIL))
			return;
		if (parse->sortClause != NIL && info->sort_keys == NIL)
			return;
		info = copy_info(info);
	}
	if (info->base->local_conds != NIL)
		return;
	if (!info->grouped && !target_is_plain(info, target))
		return;

	info->limited = true;
	info->limit_count = parse->limitCount;
	info->limit_offset = parse->limitOffset;
	if (info->sort_keys != NIL)
		pathkeys = root->sort_pathkeys;

	input_rows = info->grouped ? info->rows : info->baserel->rows;
	if (info->fallback != NULL)
		info->fallback = (Path *)
			create_limit_path(root, final_rel, info->fallback,
							  parse->limitOffset, parse->limitCount,
							  parse->limitOption, extra->offset_est,
							  extra->count_est);

	/* rows as a Limit node would estimate them */
	{
		Cost		dummy_startup = 0;
		Cost		dummy_total = 0;

		rows = input_rows;
		adjust_limit_rows_costs(&rows, &dummy_startup, &dummy_total,
								extra->offset_est, extra->count_est);
	}

	if (info->grouped)
		ng_cost_pushed(info->baserel->rows, list_length(info->guards), rows,
					   &startup, &total);
	else
		ng_cost_pushed(info->sort_keys != NIL ? input_rows : 0,
					   ng_sort_guarded_keys(info->sort_keys), rows,
					   &startup, &total);

	final_rel->fdw_private = info;
	add_path(final_rel, (Path *)
			 ng_create_foreign_upper_path(root, final_rel, target, rows,
										  startup, total, pathkeys,
										  info->fallback, NIL));
}

/* A LIMIT or OFFSET value the scan can evaluate: none, a Const, a Param. */
static bool
limit_value_is_pushable(Node *node)
{
	if (node == NULL || IsA(node, Const))
		return true;
	if (IsA(node, Param))
		return ((Param *) node)->paramkind == PARAM_EXTERN ||
			((Param *) node)->paramkind == PARAM_EXEC;
	return false;
}

/*
 * Does the target use only columns of the foreign table the scan can
 * return (no whole-row or system columns)?
 */
static bool
target_is_plain(NgUpperInfo *info, PathTarget *target)
{
	ListCell   *lc;

	foreach(lc, pull_var_clause((Node *) target->exprs,
								PVC_RECURSE_PLACEHOLDERS))
	{
		Var		   *var = (Var *) lfirst(lc);

		if (!IsA(var, Var) || var->varno != info->baserel->relid ||
			var->varlevelsup != 0 || var->varattno <= 0 ||
			ng_options_column(info->base->opts, var->varattno) == NULL)
			return false;
	}
	return true;
}

static NgUpperInfo *
copy_info(NgUpperInfo *info)
{
	NgUpperInfo *copy = palloc(sizeof(NgUpperInfo));

	memcpy(copy, info, sizeof(NgUpperInfo));
	copy->guards = list_copy(info->guards);
	return copy;
}

/*
 * ng_upper_plan
 *		The ForeignScan of an upper relation (scanrelid 0).
 *
 * The scan tuple (fdw_scan_tlist) holds the columns the target list needs,
 * or for an aggregation its outputs; then the columns the pushed WHERE
 * conditions use, so that setrefs.c can make those conditions refer to the
 * scan tuple.  fdw_exprs: the WHERE conditions, the pushed HAVING
 * conditions, the LIMIT count and the OFFSET value.
 */
ForeignScan *
ng_upper_plan(PlannerInfo *root, RelOptInfo *rel, ForeignPath *best_path,
			  List *tlist, Plan *outer_plan)
{
	NgUpperInfo *info = (NgUpperInfo *) rel->fdw_private;
	NgRelInfo  *fpinfo = info->base;
	NgScanPlan *plan = ng_scan_plan_create(fpinfo->opts);
	List	   *scan_tlist = NIL;
	List	   *where = NIL;
	List	   *fdw_exprs;
	List	   *qual = NIL;
	Bitmapset  *attrs = NULL;
	ListCell   *lc;
	int			i;

	plan->guards = list_copy(info->guards);
	foreach(lc, fpinfo->remote_conds)
		where = lappend(where, ((RestrictInfo *) lfirst(lc))->clause);

	if (info->grouped)
	{
		i = 0;
		foreach(lc, info->scan_target->exprs)
		{
			NgOutput   *out = (NgOutput *) list_nth(info->outputs, i);
			NgPlanOutput *po = palloc(sizeof(NgPlanOutput));

			scan_tlist = lappend(scan_tlist,
								 makeTargetEntry((Expr *) lfirst(lc), i + 1,
												 NULL, false));
			po->kind = out->kind;
			po->field = out->column ? pstrdup(out->column->field) : "";
			po->name = pstrdup(out->name);
			po->tclass = out->tclass;
			po->argtype = (out->kind == NG_OUT_COUNT_DISTINCT) ?
				out->basetype : InvalidOid;
			plan->outputs = lappend(plan->outputs, po);
			i++;
		}
		scan_tlist = add_to_flat_tlist(scan_tlist,
									   pull_var_clause((Node *) where,
													   PVC_RECURSE_PLACEHOLDERS));
		for (; i < list_length(scan_tlist); i++)
		{
			NgPlanOutput *po = palloc(sizeof(NgPlanOutput));

			po->kind = NG_OUT_NONE;
			po->field = "";
			po->name = "";
			po->tclass = NG_TC_NONE;
			po->argtype = InvalidOid;
			plan->outputs = lappend(plan->outputs, po);
		}
		plan->grouped = true;
		plan->partial = info->partial;
		plan->group_fields = info->group_fields;
		qual = info->having_local;
	}
	else
	{
		List	   *vars;
		int			ntarget;

		vars = pull_var_clause((Node *) tlist, PVC_RECURSE_PLACEHOLDERS);
		foreach(lc, info->sort_keys)
		{
			Expr	   *e = ((NgSortKey *) lfirst(lc))->expr;

			while (IsA(e, RelabelType))
				e = ((RelabelType *) e)->arg;
			vars = lappend(vars, e);
		}
		scan_tlist = add_to_flat_tlist(NIL, vars);
		ntarget = list_length(scan_tlist);
		scan_tlist = add_to_flat_tlist(scan_tlist,
									   pull_var_clause((Node *) where,
													   PVC_RECURSE_PLACEHOLDERS));

		/* the columns to convert, and where they go */
		foreach(lc, scan_tlist)
		{
			Var		   *var = (Var *) ((TargetEntry *) lfirst(lc))->expr;

			if (!IsA(var, Var) || var->varattno <= 0)
				elog(ERROR, "unexpected expression in the scan tuple of a foreign scan");
			if (foreach_current_index(lc) < ntarget)
				attrs = bms_add_member(attrs, var->varattno -
									   FirstLowInvalidHeapAttributeNumber);
		}
		/* (checks that every column has a type the scan can convert) */
		(void) ng_plan_retrieved_columns(fpinfo->opts, attrs);
		foreach(lc, scan_tlist)
		{
			Var		   *var = (Var *) ((TargetEntry *) lfirst(lc))->expr;

			if (foreach_current_index(lc) < ntarget)
			{
				plan->retrieved = lappend(plan->retrieved,
										  makeInteger(var->varattno));
				plan->slots = lappend(plan->slots,
									  makeInteger(foreach_current_index(lc)));
			}
		}
		foreach(lc, scan_tlist)
		{
			Var		   *var = (Var *) ((TargetEntry *) lfirst(lc))->expr;

			if (foreach_current_index(lc) >= ntarget)
			{
				plan->cond_columns = lappend(plan->cond_columns,
											 makeInteger(var->varattno));
				plan->slots = lappend(plan->slots,
									  makeInteger(foreach_current_index(lc)));
			}
		}
		foreach(lc, info->sort_keys)
		{
			NgSortKey  *key = (NgSortKey *) lfirst(lc);

			if (key->guard)
				plan->guards = ng_plan_guard_add(plan->guards, key->field,
												 NG_GUARD_STRING_OBJECTID);
		}
	}

	fdw_exprs = list_concat_copy(where, info->having_remote);
	plan->nwhere = list_length(where);
	plan->nhaving = list_length(info->having_remote);
	if (info->limited)
	{
		plan->has_limit = true;
		if (info->limit_count != NULL)
		{
			plan->limit_index = list_length(fdw_exprs);
			fdw_exprs = lappend(fdw_exprs, info->limit_count);
		}
		if (info->limit_offset != NULL)
		{
			plan->offset_index = list_length(fdw_exprs);
			fdw_exprs = lappend(fdw_exprs, info->limit_offset);
		}
	}
	plan->sort_keys = ng_sort_plan_keys(info->sort_keys,
										info->grouped ? NIL : scan_tlist);

	return make_foreignscan(tlist, qual, 0, fdw_exprs,
							ng_scan_plan_to_list(plan), scan_tlist,
							NIL, outer_plan);
}
