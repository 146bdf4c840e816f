/*-------------------------------------------------------------------------
 *
 * pipeline.c
 *		  Builds the sort, skip, limit and aggregation stages of a MongoDB
 *		  command from a plan's description of its pushed upper operations.
 *
 * upper.c decides what is pushed and records it in the scan plan (sort
 * keys, the outputs of an aggregation, guards: NgScanPlan, contract.c);
 * deparse.c builds the filters.
 * This file only writes BSON from those descriptions, for the scan and for
 * EXPLAIN alike, so that what EXPLAIN prints is what is sent.  No I/O, and
 * nothing here throws once it has started appending: callers build every
 * palloc'd input first.
 *
 * The aggregation of
 *
 *	SELECT cat, count(*), count(kcal), min(kcal) FROM t
 *	WHERE published GROUP BY cat HAVING count(*) > 1 ORDER BY cat LIMIT 10
 *
 * is sent as
 *
 *	{"aggregate": "t", "pipeline": [
 *		{"$match": {"published": true}},
 *		{"$group": {"_id": "$cat", "o1": {"$sum": 1},
 *					"o2": {"$sum": {"$cond": [{"$gt": ["$kcal", null]}, 1, 0]}},
 *					"o3": {"$min": "$kcal"}}},
 *		{"$match": {"o1": {"$gt": 1}}},
 *		{"$sort": {"_id": 1}}, {"$limit": 10}], "cursor": {}}
 *
 * A single GROUP BY column is the _id itself ("$cat": MongoDB groups a
 * missing field with null there); several are {"k0": "$a", "k1": "$b"}.
 * A single key on a nested path is {"$ifNull": ["$a.b", null]}, which means
 * the same to MongoDB, because DocumentDB 1.0 (the storage of FerretDB 2)
 * splits the null group of a bare "$a.b" when a is null or a string; a
 * server without $ifNull (FerretDB 1.x) rejects it and the scan falls back.
 * $sum of 1 counts documents; count(col) adds 1 where the field is neither
 * missing nor null (in aggregation expressions both compare below every
 * other value, and neither is greater than null).
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/plan/pipeline.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "nodes/pg_list.h"
#include "nodes/value.h"

#include "plan/plan.h"

static void append_limit_value(bson_t *doc, const char *key,
							   const NgLimitValue *v);
static void append_field_ref(bson_t *doc, const char *key, const char *field);
static void append_stage(bson_t *array, int *n, const char *name,
						 const bson_t *body);
static void append_limit_stages(bson_t *array, int *n,
								const NgLimitValue *skip,
								const NgLimitValue *limit);

/*
 * ng_pipeline_sort
 *		Append {field: 1 or -1, ...} for the plan's sort keys
 *		(NgPlanSortKey).
 */
void
ng_pipeline_sort(bson_t *sort, List *sort_keys)
{
	ListCell   *lc;

	foreach(lc, sort_keys)
	{
		NgPlanSortKey *key = (NgPlanSortKey *) lfirst(lc);
		char		name[32];

		/* true (null or missing) first for NULLS FIRST */
		if (key->flags & NG_SORT_FLAG_NULLS)
		{
			snprintf(name, sizeof(name), "__ng_s%d", foreach_current_index(lc));
			bson_append_int32(sort, name, -1, key->nulls_first ? -1 : 1);
		}
		/* NaN is PostgreSQL's greatest float8: last ascending */
		if (key->flags & NG_SORT_FLAG_NAN)
		{
			snprintf(name, sizeof(name), "__ng_n%d", foreach_current_index(lc));
			bson_append_int32(sort, name, -1, key->descending ? -1 : 1);
		}
		bson_append_int32(sort, key->field, -1, key->descending ? -1 : 1);
	}
}

/*
 * ng_pipeline_sort_is_computed
 *		Does the sort need computed keys, i.e. an aggregation instead of a
 *		find?
 */
bool
ng_pipeline_sort_is_computed(List *sort_keys)
{
	ListCell   *lc;

	foreach(lc, sort_keys)
	{
		if (((NgPlanSortKey *) lfirst(lc))->flags != 0)
			return true;
	}
	return false;
}

/*
 * ng_pipeline_sorted_stages
 *		Append to "array" the stages of a sorted find that needs computed
 *		sort keys (sort.c):
 *
 *	SELECT id, f FROM t ORDER BY f LIMIT 5	(ASC NULLS LAST, float8)
 *
 *	[{$match: filter},
 *	 {$addFields: {__ng_s0: {$lte: ["$f", null]},
 *				   __ng_n0: {$lt: ["$f", -Infinity]}}},
 *	 {$sort: {__ng_s0: 1, __ng_n0: 1, f: 1}}, {$limit: 5},
 *	 {$project: {_id: 1, f: 1}}]
 *
 * __ng_s is true for null and missing (nothing else compares below null),
 * so sorting on it puts them first or last; __ng_n is true for NaN (the
 * only number below -Infinity in MongoDB's order; null and missing too, but
 * __ng_s sorts those apart first), so NaN sorts above every number, as in
 * PostgreSQL.  The projection is the find's.
 */
void
ng_pipeline_sorted_stages(bson_t *array, const bson_t *filter,
						  const bson_t *projection, List *sort_keys,
						  const NgLimitValue *skip, const NgLimitValue *limit)
{
	int			n = 0;
	bson_t		body;
	ListCell   *lc;

	if (filter != NULL && !bson_empty(filter))
		append_stage(array, &n, "$match", filter);

	bson_init(&body);
	foreach(lc, sort_keys)
	{
		NgPlanSortKey *key = (NgPlanSortKey *) lfirst(lc);
		char		name[32];
		bson_t		expr;
		bson_t		args;

		if (key->flags & NG_SORT_FLAG_NULLS)
		{
			snprintf(name, sizeof(name), "__ng_s%d", foreach_current_index(lc));
			bson_append_document_begin(&body, name, -1, &expr);
			bson_append_array_unsafe_begin(&expr, "$lte", 4, &args);
			append_field_ref(&args, "0", key->field);
			bson_append_null(&args, "1", 1);
			bson_append_array_end(&expr, &args);
			bson_append_document_end(&body, &expr);
		}
		if (key->flags & NG_SORT_FLAG_NAN)
		{
			snprintf(name, sizeof(name), "__ng_n%d", foreach_current_index(lc));
			bson_append_document_begin(&body, name, -1, &expr);
			bson_append_array_unsafe_begin(&expr, "$lt", 3, &args);
			append_field_ref(&args, "0", key->field);
			bson_append_double(&args, "1", 1, -INFINITY);
			bson_append_array_end(&expr, &args);
			bson_append_document_end(&body, &expr);
		}
	}
	append_stage(array, &n, "$addFields", &body);
	bson_destroy(&body);

	bson_init(&body);
	ng_pipeline_sort(&body, sort_keys);
	append_stage(array, &n, "$sort", &body);
	bson_destroy(&body);

	append_limit_stages(array, &n, skip, limit);
	if (projection != NULL && !bson_empty(projection))
		append_stage(array, &n, "$project", projection);
}

/*
 * ng_field_is_expression_safe
 *		Can "$" + field name the field in an aggregation expression?  Not
 *		when a segment starts with "$" or is empty.
 */
bool
ng_field_is_expression_safe(const char *field)
{
	const char *p = field;

	for (;;)
	{
		const char *dot = strchr(p, '.');

		if (*p == '$' || *p == '.' || *p == '\0')
			return false;
		if (dot == NULL)
			return true;
		p = dot + 1;
	}
}

/*
 * ng_pipeline_group
 *		Append the body of the $group stage for the plan's aggregation
 *		(group_fields and outputs).
 */
void
ng_pipeline_group(bson_t *group, const NgScanPlan *plan)
{
	List	   *keys = plan->group_fields;
	ListCell   *lc;

	if (plan->partial)
	{
		ng_partial_group_body(group, plan);
		return;
	}
	if (keys == NIL)
		bson_append_null(group, "_id", 3);
	else if (list_length(keys) == 1 && strchr(strVal(linitial(keys)), '.') == NULL)
		append_field_ref(group, "_id", strVal(linitial(keys)));
	else if (list_length(keys) == 1)
	{
		bson_t		id;
		bson_t		args;

		bson_append_document_begin(group, "_id", 3, &id);
		bson_append_array_unsafe_begin(&id, "$ifNull", 7, &args);
		append_field_ref(&args, "0", strVal(linitial(keys)));
		bson_append_null(&args, "1", 1);
		bson_append_array_end(&id, &args);
		bson_append_document_end(group, &id);
	}
	else
	{
		bson_t		id;

		bson_append_document_begin(group, "_id", 3, &id);
		foreach(lc, keys)
		{
			char		name[16];

			snprintf(name, sizeof(name), "k%d", foreach_current_index(lc));
			append_field_ref(&id, name, strVal(lfirst(lc)));
		}
		bson_append_document_end(group, &id);
	}

	foreach(lc, plan->outputs)
	{
		NgPlanOutput *out = (NgPlanOutput *) lfirst(lc);
		NgOutputKind kind = out->kind;
		const char *field = out->field;
		const char *name = out->name;
		bson_t		acc;

		switch (kind)
		{
			case NG_OUT_NONE:
			case NG_OUT_KEY:
			case NG_OUT_SUM:	/* (partial groups only) */
			case NG_OUT_AVG:
			case NG_OUT_COUNT_DISTINCT:
				continue;
			case NG_OUT_COUNT_STAR:
				bson_append_document_begin(group, name, -1, &acc);
				bson_append_int32(&acc, "$sum", 4, 1);
				bson_append_document_end(group, &acc);
				break;
			case NG_OUT_COUNT:
				{
					bson_t		cond;
					bson_t		args;
					bson_t		gt;
					bson_t		gtargs;

					bson_append_document_begin(group, name, -1, &acc);
					bson_append_document_begin(&acc, "$sum", 4, &cond);
					bson_append_array_unsafe_begin(&cond, "$cond", 5, &args);
					bson_append_document_begin(&args, "0", 1, &gt);
					bson_append_array_unsafe_begin(&gt, "$gt", 3, &gtargs);
					append_field_ref(&gtargs, "0", field);
					bson_append_null(&gtargs, "1", 1);
					bson_append_array_end(&gt, &gtargs);
					bson_append_document_end(&args, &gt);
					bson_append_int32(&args, "1", 1, 1);
					bson_append_int32(&args, "2", 1, 0);
					bson_append_array_end(&cond, &args);
					bson_append_document_end(&acc, &cond);
					bson_append_document_end(group, &acc);
				}
				break;
			case NG_OUT_MIN:
			case NG_OUT_MAX:
				bson_append_document_begin(group, name, -1, &acc);
				append_field_ref(&acc, kind == NG_OUT_MIN ? "$min" : "$max",
								 field);
				bson_append_document_end(group, &acc);
				break;
		}
	}
}

/*
 * ng_pipeline_find_options
 *		Append "projection", "sort", "skip" and "limit" of a find, each only
 *		when there is one.
 */
void
ng_pipeline_find_options(bson_t *opts, const bson_t *projection,
						 List *sort_keys, const NgLimitValue *skip,
						 const NgLimitValue *limit)
{
	if (projection != NULL && !bson_empty(projection))
		bson_append_document(opts, "projection", -1, projection);
	if (sort_keys != NIL)
	{
		bson_t		sort;

		bson_append_document_begin(opts, "sort", -1, &sort);
		ng_pipeline_sort(&sort, sort_keys);
		bson_append_document_end(opts, &sort);
	}
	if (skip != NULL && skip->present)
		append_limit_value(opts, "skip", skip);
	if (limit != NULL && limit->present)
		append_limit_value(opts, "limit", limit);
}

/*
 * ng_pipeline_stages
 *		Append to "array" (an array being built) the stages of the plan's
 *		aggregation: $match of filter (unless empty), $group, $match of
 *		having (unless NULL or empty), $sort, $skip, $limit.
 */
void
ng_pipeline_stages(bson_t *array, const bson_t *filter,
				   const NgScanPlan *plan, const bson_t *having,
				   const NgLimitValue *skip, const NgLimitValue *limit)
{
	int			n = 0;
	bson_t		body;

	if (filter != NULL && !bson_empty(filter))
		append_stage(array, &n, "$match", filter);

	bson_init(&body);
	ng_pipeline_group(&body, plan);
	append_stage(array, &n, "$group", &body);
	bson_destroy(&body);

	if (having != NULL && !bson_empty(having))
		append_stage(array, &n, "$match", having);

	if (plan->sort_keys != NIL)
	{
		bson_init(&body);
		ng_pipeline_sort(&body, plan->sort_keys);
		append_stage(array, &n, "$sort", &body);
		bson_destroy(&body);
	}
	append_limit_stages(array, &n, skip, limit);
}

/* Append $skip and $limit stages, each only when there is one. */
static void
append_limit_stages(bson_t *array, int *n, const NgLimitValue *skip,
					const NgLimitValue *limit)
{
	if (skip != NULL && skip->present)
	{
		char		key[16];
		const char *idx;
		bson_t		stage;

		bson_uint32_to_string((*n)++, &idx, key, sizeof(key));
		bson_append_document_begin(array, idx, -1, &stage);
		append_limit_value(&stage, "$skip", skip);
		bson_append_document_end(array, &stage);
	}
	if (limit != NULL && limit->present)
	{
		char		key[16];
		const char *idx;
		bson_t		stage;

		bson_uint32_to_string((*n)++, &idx, key, sizeof(key));
		bson_append_document_begin(array, idx, -1, &stage);
		append_limit_value(&stage, "$limit", limit);
		bson_append_document_end(array, &stage);
	}
}

/*
 * ng_pipeline_guard_filter
 *		Append to "doc" the filter of one of a guard's two finds: the
 *		scan's filter and, for the first find, "the field holds an ObjectId"
 *		(NG_GUARD_STRING_OBJECTID) or "the field is missing"
 *		(NG_GUARD_MISSING_NULL); for the second, "... a string" or "... is
 *		null".  The guard trips when both finds find a document.
 */
void
ng_pipeline_guard_filter(bson_t *doc, const bson_t *filter,
						 const NgPlanGuard *guard, bool second)
{
	const char *field = guard->field;
	NgGuardKind kind = guard->kind;
	bson_t		cond;
	bson_t		ops;

	bson_init(&cond);
	bson_append_document_begin(&cond, field, -1, &ops);
	if (kind == NG_GUARD_STRING_OBJECTID)
		bson_append_utf8(&ops, "$type", 5, second ? "string" : "objectId", -1);
	else if (!second)
		bson_append_bool(&ops, "$exists", 7, false);
	else
		bson_append_utf8(&ops, "$type", 5, "null", -1);
	bson_append_document_end(&cond, &ops);

	if (filter == NULL || bson_empty(filter))
		bson_concat(doc, &cond);
	else
	{
		bson_t		and;
		bson_t		elem;

		bson_append_array_unsafe_begin(doc, "$and", 4, &and);
		bson_append_document_begin(&and, "0", 1, &elem);
		bson_concat(&elem, filter);
		bson_append_document_end(&and, &elem);
		bson_append_document(&and, "1", 1, &cond);
		bson_append_array_end(doc, &and);
	}
	bson_destroy(&cond);
}

/*
 * ng_pipeline_guard_describe
 *		What a guard checks, for EXPLAIN (palloc'd).
 */
char *
ng_pipeline_guard_describe(const NgPlanGuard *guard)
{
	const char *field = guard->field;

	if (guard->kind == NG_GUARD_STRING_OBJECTID)
		return psprintf("\"%s\" holds both strings and ObjectIds", field);
	return psprintf("\"%s\" is missing in some documents and null in others",
					field);
}

/* key: value, or key: {"$param": label} */
static void
append_limit_value(bson_t *doc, const char *key, const NgLimitValue *v)
{
	if (v->label != NULL)
	{
		bson_t		p;

		bson_append_document_begin(doc, key, -1, &p);
		bson_append_utf8(&p, "$param", -1, v->label, -1);
		bson_append_document_end(doc, &p);
	}
	else
		bson_append_int64(doc, key, -1, v->value);
}

/* key: "$field" */
static void
append_field_ref(bson_t *doc, const char *key, const char *field)
{
	char	   *ref = bson_strdup_printf("$%s", field);

	bson_append_utf8(doc, key, -1, ref, -1);
	bson_free(ref);
}

/* Append {name: body} as the next element of a pipeline array. */
static void
append_stage(bson_t *array, int *n, const char *name, const bson_t *body)
{
	char		key[16];
	const char *idx;
	bson_t		stage;

	bson_uint32_to_string((*n)++, &idx, key, sizeof(key));
	bson_append_document_begin(array, idx, -1, &stage);
	bson_append_document(&stage, name, -1, body);
	bson_append_document_end(array, &stage);
}
