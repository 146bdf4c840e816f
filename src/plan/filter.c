/*-------------------------------------------------------------------------
 *
 * filter.c
 *		  The filter tree: building, merging and writing it as BSON.
 *
 * A filter is built as a palloc'd tree (NgFilter) and written into a
 * bson_t only once complete, by code that does not throw, so no malloc'd
 * libbson memory can leak on an error.  Conjunctions merge the operators
 * of one field into one {path: {...}} document where MongoDB reads them the
 * same way, comparing a term with a bounded number of others so that
 * building stays linear in the conditions' size.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/plan/filter.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/float.h"

#include "plan/filter.h"

static List *merge_and_fields(List *children);
static List *merge_or_fields(List *children);
static void append_filter_array(bson_t *doc, const char *key, List *filters);
static void append_field(bson_t *doc, NgFilter *f);
static void append_value(bson_t *doc, const char *key, NgFilterValue *v);
static int	ops_depth(List *ops);
static const char *filter_top_key(NgFilter *f);


/* ------------------------------------------------------------------------
 * Filter trees
 * ------------------------------------------------------------------------
 */

NgFilter *
ng_filter_all(void)
{
	NgFilter   *f = palloc0(sizeof(NgFilter));

	f->kind = NG_F_ALL;
	return f;
}

NgFilter *
ng_filter_none(void)
{
	NgFilter   *f = palloc0(sizeof(NgFilter));

	f->kind = NG_F_NONE;
	return f;
}

NgFilter *
ng_filter_field(const char *path, const char *opname, NgFilterValue *value)
{
	NgFilter   *f = palloc0(sizeof(NgFilter));
	NgFilterOp *op = palloc0(sizeof(NgFilterOp));

	op->name = opname;
	op->value = value;
	f->kind = NG_F_FIELD;
	f->path = path;
	f->ops = list_make1(op);
	return f;
}

NgFilter *
ng_filter_field_list(const char *path, const char *opname, List *values)
{
	NgFilter   *f = palloc0(sizeof(NgFilter));
	NgFilterOp *op = palloc0(sizeof(NgFilterOp));

	op->name = opname;
	op->is_list = true;
	op->values = values;
	f->kind = NG_F_FIELD;
	f->path = path;
	f->ops = list_make1(op);
	return f;
}

/*
 * AND or OR of "children", simplified: nested nodes of the same kind are
 * flattened, ALL and NONE absorbed, and conditions on the same field
 * merged ({a: {$gt: 1}} and {a: {$lt: 5}} into {a: {$gt: 1, $lt: 5}};
 * {a: 1} or {a: 2} into {a: {$in: [1, 2]}}).
 */
NgFilter *
ng_filter_combine(NgFilterKind kind, List *children)
{
	List	   *flat = NIL;
	ListCell   *lc;
	NgFilter   *f;

	Assert(kind == NG_F_AND || kind == NG_F_OR);
	foreach(lc, children)
	{
		NgFilter   *child = (NgFilter *) lfirst(lc);

		if (child->kind == kind)
			flat = list_concat(flat, child->children);
		else if (child->kind == (kind == NG_F_AND ? NG_F_ALL : NG_F_NONE))
			continue;
		else if (child->kind == (kind == NG_F_AND ? NG_F_NONE : NG_F_ALL))
			return child;
		else
			flat = lappend(flat, child);
	}

	flat = (kind == NG_F_AND) ? merge_and_fields(flat) : merge_or_fields(flat);

	if (flat == NIL)
		return (kind == NG_F_AND) ? ng_filter_all() : ng_filter_none();
	if (list_length(flat) == 1)
		return (NgFilter *) linitial(flat);

	f = palloc0(sizeof(NgFilter));
	f->kind = kind;
	f->children = flat;
	return f;
}

/*
 * The documents where "path" is NaN:
 *
 *	{f: {$not: {$gte: -Infinity}, $type: "number"}}
 *
 * NaN is the only number not >= -Infinity.  This avoids sending a NaN
 * literal, which some servers (FerretDB 1.x) reject outright; with MongoDB
 * it is equivalent to {f: NaN}.  "$not" comes first so that Extended JSON
 * parsers do not take the document for a legacy {"$type": ...} binary.
 */
NgFilter *
ng_filter_is_nan(const char *path)
{
	NgFilter   *f = ng_filter_field(path, "$type", ng_value_utf8("number"));
	NgFilterOp *negation = palloc0(sizeof(NgFilterOp));
	NgFilterOp *gte = palloc0(sizeof(NgFilterOp));

	gte->name = "$gte";
	gte->value = ng_value_double(-get_float8_infinity());
	negation->name = "$not";
	negation->sub = list_make1(gte);
	f->ops = lcons(negation, f->ops);
	return f;
}

/*
 * $nor of "children": matches what none of them matches.  NONE children
 * are dropped; an ALL child makes it NONE, no children makes it ALL.
 */
NgFilter *
ng_filter_nor(List *children)
{
	List	   *kept = NIL;
	ListCell   *lc;
	NgFilter   *f;

	foreach(lc, children)
	{
		NgFilter   *child = (NgFilter *) lfirst(lc);

		if (child->kind == NG_F_NONE)
			continue;
		if (child->kind == NG_F_ALL)
			return ng_filter_none();
		if (child->kind == NG_F_OR)
			kept = list_concat(kept, child->children);
		else
			kept = lappend(kept, child);
	}
	if (kept == NIL)
		return ng_filter_all();
	f = palloc0(sizeof(NgFilter));
	f->kind = NG_F_NOR;
	f->children = kept;
	return f;
}

/* Is f a FIELD with the single operator "name" (of list form if list)? */
bool
ng_filter_single_op(NgFilter *f, const char *name, bool list)
{
	NgFilterOp *op;

	if (f->kind != NG_F_FIELD || list_length(f->ops) != 1)
		return false;
	op = (NgFilterOp *) linitial(f->ops);
	return strcmp(op->name, name) == 0 && op->is_list == list;
}

/*
 * In a conjunction, fold conditions on one path into one FIELD: $nin lists
 * are united; otherwise operators are combined when no name repeats.  The
 * result is a new list; the input nodes are not modified.
 *
 * Linear in the number of children: a child is compared only with the
 * first NG_MERGE_SLOTS_PER_PATH FIELDs of its path (the set of paths is
 * bounded by the table's columns), and a $nin list made here grows in
 * place rather than being copied at each union.
 */
static List *
merge_and_fields(List *children)
{
	List	   *result = NIL;
	NgMergeSlot *slots;
	int			nslots = 0;
	ListCell   *lc;

	slots = palloc(sizeof(NgMergeSlot) * Max(list_length(children), 1));
	foreach(lc, children)
	{
		NgFilter   *child = (NgFilter *) lfirst(lc);
		bool		merged = false;
		int			same_path = 0;
		int			i;

		if (child->kind != NG_F_FIELD)
		{
			result = lappend(result, child);
			continue;
		}
		for (i = 0; i < nslots && !merged; i++)
		{
			NgMergeSlot *slot = &slots[i];
			NgFilter   *prev;
			NgFilter   *combined;
			ListCell   *lc3;
			bool		clash = false;

			if (strcmp(slot->path, child->path) != 0)
				continue;
			same_path++;
			prev = (NgFilter *) list_nth(result, slot->index);

			if (ng_filter_single_op(prev, "$nin", true) &&
				ng_filter_single_op(child, "$nin", true))
			{
				NgFilterOp *a = linitial(prev->ops);
				NgFilterOp *b = linitial(child->ops);
				List	   *values;
				ListCell   *lc4;

				if (slot->owned)
					values = a->values;
				else
					values = list_copy(a->values);
				/* one null is enough */
				foreach(lc4, b->values)
				{
					NgFilterValue *v = lfirst(lc4);

					if (v->label == NULL &&
						v->value.value_type == BSON_TYPE_NULL)
						continue;
					values = lappend(values, v);
				}
				if (slot->owned)
					a->values = values;
				else
				{
					list_nth_cell(result, slot->index)->ptr_value =
						ng_filter_field_list(prev->path, "$nin", values);
					slot->owned = true;
				}
				merged = true;
				break;
			}

			foreach(lc3, child->ops)
			{
				NgFilterOp *op = lfirst(lc3);
				ListCell   *lc4;

				foreach(lc4, prev->ops)
				{
					if (strcmp(((NgFilterOp *) lfirst(lc4))->name, op->name) == 0)
						clash = true;
				}
			}
			if (clash)
				continue;
			combined = palloc0(sizeof(NgFilter));
			combined->kind = NG_F_FIELD;
			combined->path = prev->path;
			combined->ops = list_concat_copy(prev->ops, child->ops);
			list_nth_cell(result, slot->index)->ptr_value = combined;
			slot->owned = false;
			merged = true;
		}
		if (!merged)
		{
			if (same_path < NG_MERGE_SLOTS_PER_PATH)
			{
				slots[nslots].path = child->path;
				slots[nslots].index = list_length(result);
				slots[nslots].owned = false;
				nslots++;
			}
			result = lappend(result, child);
		}
	}
	pfree(slots);
	return result;
}

/*
 * In a disjunction, fold $eq and $in (of known values) on one path into
 * one $in.  Returns a new list; the input nodes are not modified.  As in
 * merge_and_fields, an $in made here grows in place, and each path has one
 * slot, so this is linear in the number of children.
 */
static List *
merge_or_fields(List *children)
{
	List	   *result = NIL;
	NgMergeSlot *slots;
	int			nslots = 0;
	ListCell   *lc;

	slots = palloc(sizeof(NgMergeSlot) * Max(list_length(children), 1));
	foreach(lc, children)
	{
		NgFilter   *child = (NgFilter *) lfirst(lc);
		NgMergeSlot *slot = NULL;
		NgFilter   *prev;
		NgFilterOp *op;
		List	   *values;
		int			i;

		if (!ng_filter_single_op(child, "$eq", false) &&
			!ng_filter_single_op(child, "$in", true))
		{
			result = lappend(result, child);
			continue;
		}
		for (i = 0; i < nslots; i++)
		{
			if (strcmp(slots[i].path, child->path) == 0)
			{
				slot = &slots[i];
				break;
			}
		}
		if (slot == NULL)
		{
			slots[nslots].path = child->path;
			slots[nslots].index = list_length(result);
			slots[nslots].owned = false;
			nslots++;
			result = lappend(result, child);
			continue;
		}

		prev = (NgFilter *) list_nth(result, slot->index);
		if (slot->owned)
			values = ((NgFilterOp *) linitial(prev->ops))->values;
		else
		{
			op = linitial(prev->ops);
			values = op->is_list ? list_copy(op->values) :
				list_make1(op->value);
		}
		op = linitial(child->ops);
		if (op->is_list)
			values = list_concat(values, op->values);
		else
			values = lappend(values, op->value);
		if (slot->owned)
			((NgFilterOp *) linitial(prev->ops))->values = values;
		else
		{
			list_nth_cell(result, slot->index)->ptr_value =
				ng_filter_field_list(prev->path, "$in", values);
			slot->owned = true;
		}
	}
	pfree(slots);
	return result;
}

/* ------------------------------------------------------------------------
 * Writing BSON.  Nothing below throws: the tree is complete and palloc'd,
 * libbson aborts rather than return on out-of-memory.
 * ------------------------------------------------------------------------
 */

/* The key a node contributes when written inline into a document. */
static const char *
filter_top_key(NgFilter *f)
{
	switch (f->kind)
	{
		case NG_F_FIELD:
			return f->path;
		case NG_F_OR:
			return "$or";
		case NG_F_NOR:
			return "$nor";
		case NG_F_AND:
			return "$and";
		case NG_F_NONE:
			return "_id";
		case NG_F_ALL:
			break;
	}
	return NULL;
}

/* Can a conjunction be written as one document with distinct keys? */
bool
ng_filter_and_inlinable(NgFilter *f)
{
	int			n = list_length(f->children);
	int			i;
	int			j;

	for (i = 0; i < n; i++)
	{
		const char *key = filter_top_key(list_nth(f->children, i));

		if (key == NULL)
			return false;
		for (j = 0; j < i; j++)
		{
			if (strcmp(key, filter_top_key(list_nth(f->children, j))) == 0)
				return false;
		}
	}
	return true;
}

/* Append the keys of filter f to document doc. */
void
ng_filter_append(bson_t *doc, NgFilter *f)
{
	ListCell   *lc;

	switch (f->kind)
	{
		case NG_F_ALL:
			break;
		case NG_F_NONE:
			{
				bson_t		child;
				bson_t		arr;

				bson_append_document_begin(doc, "_id", -1, &child);
				bson_append_array_unsafe_begin(&child, "$in", -1, &arr);
				bson_append_array_end(&child, &arr);
				bson_append_document_end(doc, &child);
			}
			break;
		case NG_F_FIELD:
			append_field(doc, f);
			break;
		case NG_F_AND:
			if (ng_filter_and_inlinable(f))
			{
				foreach(lc, f->children)
					ng_filter_append(doc, lfirst(lc));
			}
			else
				append_filter_array(doc, "$and", f->children);
			break;
		case NG_F_OR:
			append_filter_array(doc, "$or", f->children);
			break;
		case NG_F_NOR:
			append_filter_array(doc, "$nor", f->children);
			break;
	}
}

/* key: [ {filter}, ... ] */
static void
append_filter_array(bson_t *doc, const char *key, List *filters)
{
	bson_t		arr;
	ListCell   *lc;

	bson_append_array_unsafe_begin(doc, key, -1, &arr);
	foreach(lc, filters)
	{
		char		buf[16];
		const char *idx;
		bson_t		child;

		bson_uint32_to_string(foreach_current_index(lc), &idx, buf,
							  sizeof(buf));
		bson_append_document_begin(&arr, idx, -1, &child);
		ng_filter_append(&child, lfirst(lc));
		bson_append_document_end(&arr, &child);
	}
	bson_append_array_end(doc, &arr);
}

/*
 * path: value for a lone $eq of a plain scalar, else path: {op: value, ...}
 */
static void
append_field(bson_t *doc, NgFilter *f)
{
	NgFilterOp *first = linitial(f->ops);
	bson_t		ops;

	if (list_length(f->ops) == 1 && strcmp(first->name, "$eq") == 0 &&
		!first->is_list && first->sub == NIL && first->value->label == NULL)
	{
		append_value(doc, f->path, first->value);
		return;
	}

	bson_append_document_begin(doc, f->path, -1, &ops);
	ng_filter_append_ops(&ops, f->ops);
	bson_append_document_end(doc, &ops);
}

/* op: value, ... for each operator in "ops" */
void
ng_filter_append_ops(bson_t *doc, List *ops)
{
	ListCell   *lc;

	foreach(lc, ops)
	{
		NgFilterOp *op = lfirst(lc);

		if (op->sub != NIL)
		{
			bson_t		sub;

			bson_append_document_begin(doc, op->name, -1, &sub);
			ng_filter_append_ops(&sub, op->sub);
			bson_append_document_end(doc, &sub);
		}
		else if (op->is_list)
		{
			bson_t		arr;
			ListCell   *lc2;

			bson_append_array_unsafe_begin(doc, op->name, -1, &arr);
			foreach(lc2, op->values)
			{
				char		buf[16];
				const char *idx;

				bson_uint32_to_string(foreach_current_index(lc2), &idx, buf,
									  sizeof(buf));
				append_value(&arr, idx, lfirst(lc2));
			}
			bson_append_array_end(doc, &arr);
		}
		else
			append_value(doc, op->name, op->value);
	}
}

/* key: value, or key: {"$param": label[, "$as": derived]} */
static void
append_value(bson_t *doc, const char *key, NgFilterValue *v)
{
	if (v->label != NULL)
	{
		bson_t		p;

		bson_append_document_begin(doc, key, -1, &p);
		bson_append_utf8(&p, "$param", -1, v->label, -1);
		if (v->derived != NULL)
			bson_append_utf8(&p, "$as", -1, v->derived, -1);
		bson_append_document_end(doc, &p);
	}
	else
		bson_append_value(doc, key, -1, &v->value);
}

/*
 * BSON levels of the document ng_filter_append(doc, f) fills, counting doc as
 * level 1 (whether empty or not: an overestimate is harmless).
 */
int
ng_filter_depth(NgFilter *f)
{
	int			depth = 0;
	ListCell   *lc;

	check_stack_depth();
	switch (f->kind)
	{
		case NG_F_ALL:
			return 1;
		case NG_F_NONE:
			return 3;			/* {"_id": {"$in": []}} */
		case NG_F_FIELD:
			return 2 + ops_depth(f->ops);	/* path: {op: value} */
		case NG_F_AND:
			if (ng_filter_and_inlinable(f))
			{
				foreach(lc, f->children)
				{
					int			d = ng_filter_depth(lfirst(lc));

					depth = Max(depth, d);
				}
				return Max(depth, 1);
			}
			/* FALLTHROUGH */
		case NG_F_OR:
		case NG_F_NOR:
			/* key: [ {child}, ... ] */
			foreach(lc, f->children)
			{
				int			d = ng_filter_depth(lfirst(lc));

				depth = Max(depth, d);
			}
			return 2 + Max(depth, 1);
	}
	return 1;
}

/*
 * Levels below the document holding "ops": a list or a sub-document adds
 * one, a run-time value ({"$param": ...} in EXPLAIN) one.
 */
static int
ops_depth(List *ops)
{
	int			depth = 0;
	ListCell   *lc;

	foreach(lc, ops)
	{
		NgFilterOp *op = lfirst(lc);

		if (op->sub != NIL)
		{
			int			d = 1 + ops_depth(op->sub);

			depth = Max(depth, d);
		}
		else if (op->is_list || op->value->label != NULL)
			depth = Max(depth, 1);
	}
	return depth;
}
