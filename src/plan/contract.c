/*-------------------------------------------------------------------------
 *
 * contract.c
 *		  The plan contract: NgScanPlan and NgBatchPlan to and from the node
 *		  lists that a plan tree carries.
 *
 * A plan must survive copyObject, plan caching and, in parallel queries,
 * serialization, so what the planner tells the executor travels as a List
 * of nodes (fdw_private of a ForeignScan, custom_private of the batched key
 * join's CustomScan).  This file is the only one that knows the lists'
 * layout: builders fill a struct and call *_to_list, the executor calls
 * *_from_list once when the scan begins.  The layout is positional, with
 * the slot names below; nested items (sort keys, guards, outputs) are
 * sublists of their own fixed layout.  Both directions run in the caller's
 * memory context and only allocate.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/plan/contract.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "nodes/pg_list.h"
#include "nodes/value.h"

#include "plan/plan.h"

/* fdw_private of a ForeignScan. */
typedef enum NgScanPrivateIndex
{
	NgScanPrivateOptions,		/* List: ng_options_to_list() */
	NgScanPrivateRetrieved,		/* List of Integer */
	NgScanPrivateCondColumns,	/* List of Integer */
	NgScanPrivateSlots,			/* List of Integer */
	NgScanPrivateCounts,		/* NIL, or two Integers: nwhere, nhaving */
	NgScanPrivateSort,			/* List of sort keys (NgSortKeyIndex) */
	NgScanPrivateLimit,			/* NIL, or two Integers: limit_index,
								 * offset_index */
	NgScanPrivateGroup,			/* NIL, or two Lists (NgGroupIndex) */
	NgScanPrivateGuards,		/* List of guards (NgGuardIndex) */
	NgScanPrivateBatch,			/* NIL, or one ScalarArrayOpExpr */
	NgScanPrivateCount			/* number of slots, not a slot */
} NgScanPrivateIndex;

/* One sort key. */
typedef enum NgSortKeyIndex
{
	NgSortKeyField,				/* String */
	NgSortKeyDescending,		/* Integer: 1 for DESC */
	NgSortKeyNullsFirst,		/* Integer: 1 for NULLS FIRST */
	NgSortKeyAttno,				/* Integer */
	NgSortKeySortop,			/* Integer: Oid */
	NgSortKeyCollation,			/* Integer: Oid */
	NgSortKeyFlags,				/* Integer: NG_SORT_FLAG_* */
	NgSortKeyCount
} NgSortKeyIndex;

/* One guard. */
typedef enum NgGuardIndex
{
	NgGuardField,				/* String */
	NgGuardKindSlot,			/* Integer: NgGuardKind */
	NgGuardCount
} NgGuardIndex;

/* An aggregation. */
typedef enum NgGroupIndex
{
	NgGroupFields,				/* List of String */
	NgGroupOutputs,				/* List of outputs (NgOutputIndex) */
	NgGroupPartial,				/* Integer: 1 for partial groups */
	NgGroupCount
} NgGroupIndex;

/* One output of an aggregation. */
typedef enum NgOutputIndex
{
	NgOutputKindSlot,			/* Integer: NgOutputKind */
	NgOutputField,				/* String */
	NgOutputName,				/* String */
	NgOutputTypeClass,			/* Integer: NgTypeClass */
	NgOutputArgType,			/* Integer: Oid */
	NgOutputCount
} NgOutputIndex;

/* custom_private of a batched key join's CustomScan. */
typedef enum NgBatchPrivateIndex
{
	NgBatchPrivateJoinType,		/* Integer */
	NgBatchPrivateKeysPerFind,	/* Integer */
	NgBatchPrivateKeyType,		/* Integer: Oid */
	NgBatchPrivateOuterHash,	/* Integer: Oid */
	NgBatchPrivateInnerHash,	/* Integer: Oid */
	NgBatchPrivateCollation,	/* Integer: Oid */
	NgBatchPrivateField,		/* String */
	NgBatchPrivateCount
} NgBatchPrivateIndex;

static List *sort_keys_to_list(List *keys);
static List *sort_keys_from_list(List *list);
static List *guards_to_list(List *guards);
static List *guards_from_list(List *list);
static List *outputs_to_list(List *outputs);
static List *outputs_from_list(List *list);

/*
 * ng_scan_plan_create
 *		A plan of a plain scan of the table: nothing retrieved or pushed yet.
 */
NgScanPlan *
ng_scan_plan_create(NgTableOptions *opts)
{
	NgScanPlan *plan = palloc0(sizeof(NgScanPlan));

	plan->opts = opts;
	plan->nwhere = -1;
	plan->limit_index = -1;
	plan->offset_index = -1;
	return plan;
}

/*
 * ng_scan_plan_to_list
 *		The fdw_private form of a scan plan.
 */
List *
ng_scan_plan_to_list(const NgScanPlan *plan)
{
	List	   *list = NIL;
	List	   *counts = NIL;
	List	   *limit = NIL;
	List	   *group = NIL;

	if (plan->nwhere >= 0)
		counts = list_make2(makeInteger(plan->nwhere),
							makeInteger(plan->nhaving));
	if (plan->has_limit)
		limit = list_make2(makeInteger(plan->limit_index),
						   makeInteger(plan->offset_index));
	if (plan->grouped)
		group = list_make3(plan->group_fields,
						   outputs_to_list(plan->outputs),
						   makeInteger(plan->partial ? 1 : 0));

	list = lappend(list, ng_options_to_list(plan->opts));
	list = lappend(list, plan->retrieved);
	list = lappend(list, plan->cond_columns);
	list = lappend(list, plan->slots);
	list = lappend(list, counts);
	list = lappend(list, sort_keys_to_list(plan->sort_keys));
	list = lappend(list, limit);
	list = lappend(list, group);
	list = lappend(list, guards_to_list(plan->guards));
	list = lappend(list, plan->batch_key ? list_make1(plan->batch_key) : NIL);
	Assert(list_length(list) == NgScanPrivateCount);
	return list;
}

/*
 * ng_scan_plan_from_list
 *		The scan plan of a ForeignScan's fdw_private.  The lists and nodes
 *		of the result point into "list" (a plan is read-only).
 */
NgScanPlan *
ng_scan_plan_from_list(List *list)
{
	NgScanPlan *plan;
	NgTableOptions *opts;
	List	   *counts = list_nth(list, NgScanPrivateCounts);
	List	   *limit = list_nth(list, NgScanPrivateLimit);
	List	   *group = list_nth(list, NgScanPrivateGroup);
	List	   *batch = list_nth(list, NgScanPrivateBatch);

	Assert(list_length(list) == NgScanPrivateCount);
	opts = ng_options_from_list(list_nth(list, NgScanPrivateOptions));
	plan = ng_scan_plan_create(opts);
	plan->retrieved = list_nth(list, NgScanPrivateRetrieved);
	plan->cond_columns = list_nth(list, NgScanPrivateCondColumns);
	plan->slots = list_nth(list, NgScanPrivateSlots);
	if (counts != NIL)
	{
		plan->nwhere = intVal(linitial(counts));
		plan->nhaving = intVal(lsecond(counts));
	}
	if (limit != NIL)
	{
		plan->has_limit = true;
		plan->limit_index = intVal(linitial(limit));
		plan->offset_index = intVal(lsecond(limit));
	}
	plan->sort_keys = sort_keys_from_list(list_nth(list, NgScanPrivateSort));
	if (group != NIL)
	{
		plan->grouped = true;
		plan->group_fields = list_nth(group, NgGroupFields);
		plan->outputs = outputs_from_list(list_nth(group, NgGroupOutputs));
		plan->partial = intVal(list_nth(group, NgGroupPartial)) != 0;
	}
	plan->guards = guards_from_list(list_nth(list, NgScanPrivateGuards));
	if (batch != NIL)
		plan->batch_key = linitial_node(ScalarArrayOpExpr, batch);
	return plan;
}

/*
 * ng_batch_plan_to_list
 *		The custom_private form of a batched key join's plan.
 */
List *
ng_batch_plan_to_list(const NgBatchPlan *plan)
{
	List	   *list = NIL;

	list = lappend(list, makeInteger(plan->jointype));
	list = lappend(list, makeInteger(plan->keys_per_find));
	list = lappend(list, makeInteger((int) plan->key_type));
	list = lappend(list, makeInteger((int) plan->outer_hash));
	list = lappend(list, makeInteger((int) plan->inner_hash));
	list = lappend(list, makeInteger((int) plan->collation));
	list = lappend(list, makeString(pstrdup(plan->field)));
	Assert(list_length(list) == NgBatchPrivateCount);
	return list;
}

/*
 * ng_batch_plan_from_list
 *		A batched key join's plan from its CustomScan's custom_private.
 */
NgBatchPlan *
ng_batch_plan_from_list(List *list)
{
	NgBatchPlan *plan = palloc0(sizeof(NgBatchPlan));

	Assert(list_length(list) == NgBatchPrivateCount);
	plan->jointype = (JoinType) intVal(list_nth(list, NgBatchPrivateJoinType));
	plan->keys_per_find = intVal(list_nth(list, NgBatchPrivateKeysPerFind));
	plan->key_type = (Oid) intVal(list_nth(list, NgBatchPrivateKeyType));
	plan->outer_hash = (Oid) intVal(list_nth(list, NgBatchPrivateOuterHash));
	plan->inner_hash = (Oid) intVal(list_nth(list, NgBatchPrivateInnerHash));
	plan->collation = (Oid) intVal(list_nth(list, NgBatchPrivateCollation));
	plan->field = strVal(list_nth(list, NgBatchPrivateField));
	return plan;
}

/*
 * ng_plan_guard_add
 *		Append a guard of this kind on this field to a list of
 *		NgPlanGuard, unless it holds one already.
 */
List *
ng_plan_guard_add(List *guards, const char *field, NgGuardKind kind)
{
	NgPlanGuard *guard;
	ListCell   *lc;

	foreach(lc, guards)
	{
		NgPlanGuard *g = (NgPlanGuard *) lfirst(lc);

		if (g->kind == kind && strcmp(g->field, field) == 0)
			return guards;
	}
	guard = palloc(sizeof(NgPlanGuard));
	guard->field = pstrdup(field);
	guard->kind = kind;
	return lappend(guards, guard);
}

static List *
sort_keys_to_list(List *keys)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, keys)
	{
		NgPlanSortKey *key = (NgPlanSortKey *) lfirst(lc);
		List	   *item = NIL;

		item = lappend(item, makeString(pstrdup(key->field)));
		item = lappend(item, makeInteger(key->descending ? 1 : 0));
		item = lappend(item, makeInteger(key->nulls_first ? 1 : 0));
		item = lappend(item, makeInteger(key->attno));
		item = lappend(item, makeInteger((int) key->sortop));
		item = lappend(item, makeInteger((int) key->collation));
		item = lappend(item, makeInteger(key->flags));
		Assert(list_length(item) == NgSortKeyCount);
		result = lappend(result, item);
	}
	return result;
}

static List *
sort_keys_from_list(List *list)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, list)
	{
		List	   *item = (List *) lfirst(lc);
		NgPlanSortKey *key = palloc(sizeof(NgPlanSortKey));

		key->field = strVal(list_nth(item, NgSortKeyField));
		key->descending = intVal(list_nth(item, NgSortKeyDescending)) != 0;
		key->nulls_first = intVal(list_nth(item, NgSortKeyNullsFirst)) != 0;
		key->attno = (AttrNumber) intVal(list_nth(item, NgSortKeyAttno));
		key->sortop = (Oid) intVal(list_nth(item, NgSortKeySortop));
		key->collation = (Oid) intVal(list_nth(item, NgSortKeyCollation));
		key->flags = intVal(list_nth(item, NgSortKeyFlags));
		result = lappend(result, key);
	}
	return result;
}

static List *
guards_to_list(List *guards)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, guards)
	{
		NgPlanGuard *guard = (NgPlanGuard *) lfirst(lc);

		result = lappend(result,
						 list_make2(makeString(pstrdup(guard->field)),
									makeInteger(guard->kind)));
	}
	return result;
}

static List *
guards_from_list(List *list)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, list)
	{
		List	   *item = (List *) lfirst(lc);
		NgPlanGuard *guard = palloc(sizeof(NgPlanGuard));

		guard->field = strVal(list_nth(item, NgGuardField));
		guard->kind = (NgGuardKind) intVal(list_nth(item, NgGuardKindSlot));
		result = lappend(result, guard);
	}
	return result;
}

static List *
outputs_to_list(List *outputs)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, outputs)
	{
		NgPlanOutput *out = (NgPlanOutput *) lfirst(lc);

		result = lappend(result,
						 lappend(list_make4(makeInteger(out->kind),
											makeString(pstrdup(out->field)),
											makeString(pstrdup(out->name)),
											makeInteger(out->tclass)),
								 makeInteger((int) out->argtype)));
	}
	return result;
}

static List *
outputs_from_list(List *list)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, list)
	{
		List	   *item = (List *) lfirst(lc);
		NgPlanOutput *out = palloc(sizeof(NgPlanOutput));

		out->kind = (NgOutputKind) intVal(list_nth(item, NgOutputKindSlot));
		out->field = strVal(list_nth(item, NgOutputField));
		out->name = strVal(list_nth(item, NgOutputName));
		out->tclass = intVal(list_nth(item, NgOutputTypeClass));
		out->argtype = (Oid) intVal(list_nth(item, NgOutputArgType));
		result = lappend(result, out);
	}
	return result;
}
