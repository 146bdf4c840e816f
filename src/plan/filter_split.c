/*-------------------------------------------------------------------------
 *
 * filter_split.c
 *		  Splits a filter too large for one command into several finds, by
 *		  its BSON size computed before it is written.
 *
 * filter_size(f) is the number of bytes ng_filter_append(doc, f) adds to a
 * document.  A filter over the caller's limit (MongoDB refuses commands
 * over 16 MB) is split into several finds, each with a slice of its
 * largest $in (its distinct values sorted, so that values MongoDB finds
 * equal stay together), or loses the terms that cannot be split, which
 * the scan then checks locally (ng_filter_split, ng_deparse_filter_parts).
 * The result, NgFilterParts, is what scans and EXPLAIN read
 * (ng_filter_parts_*).
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/plan/filter_split.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"

#include "plan/filter.h"

static Size index_key_size(int i);
static Size value_element_size(Size keysize, const NgFilterValue *v);
static Size ops_size(List *ops);
static Size filter_array_size(const char *key, List *filters);
static Size filter_size(NgFilter *f);
static int	split_value_cmp(const void *a, const void *b);
static int	splittable_in(NgFilter *f);
static int	term_size_cmp(const void *a, const void *b);
static NgFilter *part_filter(const NgFilterParts *parts, int i);


/* ------------------------------------------------------------------------
 * The parts of a filter
 * ------------------------------------------------------------------------
 */

/*
 * ng_filter_parts_count
 *		How many finds "parts" takes (at least 1).
 */
int
ng_filter_parts_count(const NgFilterParts *parts)
{
	return parts->nparts;
}

/*
 * ng_filter_parts_lossy
 *		Were conditions left out of the filter?  Then the finds return a
 *		superset and every pushed condition must be checked locally.
 */
bool
ng_filter_parts_lossy(const NgFilterParts *parts)
{
	return parts->lossy;
}

/*
 * ng_filter_parts_append
 *		Append to "filter" (initialized, empty) the filter of find i
 *		(0-based).  An empty filter means "every document".  Does not throw
 *		once its palloc's are done.
 */
void
ng_filter_parts_append(bson_t *filter, const NgFilterParts *parts, int i)
{
	Assert(i >= 0 && i < parts->nparts);
	ng_filter_append(filter, part_filter(parts, i));
}

/*
 * ng_filter_parts_describe
 *		For EXPLAIN: how the filter was split or shortened, or NULL when it
 *		is sent whole in one find.  palloc'd.
 */
char *
ng_filter_parts_describe(const NgFilterParts *parts)
{
	StringInfoData buf;

	if (parts->field == NULL && !parts->lossy)
		return NULL;
	initStringInfo(&buf);
	if (parts->field != NULL && parts->in_values == parts->nvalues)
		appendStringInfo(&buf, "%d values of \"$in\" on \"%s\" in %d finds",
						 parts->nvalues, parts->field->path, parts->nparts);
	else if (parts->field != NULL)
		appendStringInfo(&buf, "%d values of \"$in\" on \"%s\" (%d distinct) in %d finds",
						 parts->in_values, parts->field->path,
						 parts->nvalues, parts->nparts);
	if (parts->lossy)
		appendStringInfo(&buf, "%s%d filter %s too large to send, checked locally",
						 parts->field != NULL ? "; " : "", parts->dropped,
						 parts->dropped == 1 ? "term" : "terms");
	return buf.data;
}

/* ------------------------------------------------------------------------
 * Sizes.  filter_size(f) is the number of bytes append_filter(doc, f) adds
 * to a document, so that a filter's size is known before it is written.
 * ------------------------------------------------------------------------
 */

/* Bytes of the decimal array index i and its terminating NUL. */
static Size
index_key_size(int i)
{
	Size		n = 2;

	while (i >= 10)
	{
		i /= 10;
		n++;
	}
	return n;
}

/* Bytes of an element "key: v" (type byte, key, value). */
static Size
value_element_size(Size keysize, const NgFilterValue *v)
{
	Size		size = 1 + keysize;

	if (v->label != NULL)
	{
		/* {"$param": label[, "$as": derived]} */
		size += 4 + 1 + 7 + 4 + strlen(v->label) + 1 + 1;
		if (v->derived != NULL)
			size += 1 + 4 + 4 + strlen(v->derived) + 1;
		return size;
	}
	switch (v->value.value_type)
	{
		case BSON_TYPE_INT64:
		case BSON_TYPE_DOUBLE:
		case BSON_TYPE_DATE_TIME:
		case BSON_TYPE_TIMESTAMP:
			return size + 8;
		case BSON_TYPE_INT32:
			return size + 4;
		case BSON_TYPE_UTF8:
			return size + 4 + v->value.value.v_utf8.len + 1;
		case BSON_TYPE_OID:
			return size + 12;
		case BSON_TYPE_BOOL:
			return size + 1;
		case BSON_TYPE_NULL:
			return size;
		case BSON_TYPE_BINARY:
			return size + 4 + 1 + v->value.value.v_binary.data_len;
		default:
			{
				/* not made by this file today; measure it */
				bson_t		tmp = BSON_INITIALIZER;
				Size		len;

				bson_append_value(&tmp, "", 0, &v->value);
				len = tmp.len - 5 - 1 - 1;
				bson_destroy(&tmp);
				return size + len;
			}
	}
}

/* Bytes of the elements ng_filter_append_ops(doc, ops) adds. */
static Size
ops_size(List *ops)
{
	Size		size = 0;
	ListCell   *lc;

	foreach(lc, ops)
	{
		NgFilterOp *op = lfirst(lc);
		Size		keysize = strlen(op->name) + 1;

		if (op->sub != NIL)
			size += 1 + keysize + 5 + ops_size(op->sub);
		else if (op->is_list)
		{
			ListCell   *lc2;

			size += 1 + keysize + 5;
			foreach(lc2, op->values)
				size += value_element_size(index_key_size(foreach_current_index(lc2)),
										   lfirst(lc2));
		}
		else
			size += value_element_size(keysize, op->value);
	}
	return size;
}

/* Bytes of an element "key: [ {filter}, ... ]". */
static Size
filter_array_size(const char *key, List *filters)
{
	Size		size = 1 + strlen(key) + 1 + 5;
	ListCell   *lc;

	foreach(lc, filters)
		size += 1 + index_key_size(foreach_current_index(lc)) + 5 +
			filter_size(lfirst(lc));
	return size;
}

/* Bytes ng_filter_append(doc, f) adds to doc. */
static Size
filter_size(NgFilter *f)
{
	Size		size = 0;
	ListCell   *lc;

	switch (f->kind)
	{
		case NG_F_ALL:
			return 0;
		case NG_F_NONE:
			/* "_id": {"$in": []} */
			return 1 + 4 + 5 + (1 + 4 + 5);
		case NG_F_FIELD:
			{
				NgFilterOp *first = linitial(f->ops);
				Size		keysize = strlen(f->path) + 1;

				if (list_length(f->ops) == 1 &&
					strcmp(first->name, "$eq") == 0 && !first->is_list &&
					first->sub == NIL && first->value->label == NULL)
					return value_element_size(keysize, first->value);
				return 1 + keysize + 5 + ops_size(f->ops);
			}
		case NG_F_AND:
			if (ng_filter_and_inlinable(f))
			{
				foreach(lc, f->children)
					size += filter_size(lfirst(lc));
				return size;
			}
			return filter_array_size("$and", f->children);
		case NG_F_OR:
			return filter_array_size("$or", f->children);
		case NG_F_NOR:
			return filter_array_size("$nor", f->children);
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * Splitting a filter too large for one command
 * ------------------------------------------------------------------------
 */

/*
 * Order of the values of an $in for splitting it: values MongoDB finds
 * equal compare equal (numbers of any BSON type by value, -0.0 and 0.0
 * alike), so that equal values can be kept together and duplicates
 * dropped.  Any total order does; this one is by type class, then value.
 */
static int
split_value_cmp(const void *a, const void *b)
{
	const bson_value_t *x = &(*(NgFilterValue *const *) a)->value;
	const bson_value_t *y = &(*(NgFilterValue *const *) b)->value;
	bool		xnum = (x->value_type == BSON_TYPE_INT64 ||
						x->value_type == BSON_TYPE_INT32 ||
						x->value_type == BSON_TYPE_DOUBLE);
	bool		ynum = (y->value_type == BSON_TYPE_INT64 ||
						y->value_type == BSON_TYPE_INT32 ||
						y->value_type == BSON_TYPE_DOUBLE);

	if (xnum && ynum)
	{
		long double xv;
		long double yv;

		xv = x->value_type == BSON_TYPE_INT64 ? (long double) x->value.v_int64 :
			x->value_type == BSON_TYPE_INT32 ? (long double) x->value.v_int32 :
			(long double) x->value.v_double;
		yv = y->value_type == BSON_TYPE_INT64 ? (long double) y->value.v_int64 :
			y->value_type == BSON_TYPE_INT32 ? (long double) y->value.v_int32 :
			(long double) y->value.v_double;
		return xv < yv ? -1 : (xv > yv ? 1 : 0);
	}
	if (xnum != ynum)
		return xnum ? -1 : 1;
	if (x->value_type != y->value_type)
		return x->value_type < y->value_type ? -1 : 1;
	switch (x->value_type)
	{
		case BSON_TYPE_UTF8:
			{
				uint32		n = Min(x->value.v_utf8.len, y->value.v_utf8.len);
				int			c = memcmp(x->value.v_utf8.str, y->value.v_utf8.str, n);

				if (c != 0)
					return c;
				return x->value.v_utf8.len < y->value.v_utf8.len ? -1 :
					(x->value.v_utf8.len > y->value.v_utf8.len ? 1 : 0);
			}
		case BSON_TYPE_OID:
			return memcmp(x->value.v_oid.bytes, y->value.v_oid.bytes, 12);
		case BSON_TYPE_BOOL:
			return (int) x->value.v_bool - (int) y->value.v_bool;
		case BSON_TYPE_DATE_TIME:
			return x->value.v_datetime < y->value.v_datetime ? -1 :
				(x->value.v_datetime > y->value.v_datetime ? 1 : 0);
		case BSON_TYPE_BINARY:
			if (x->value.v_binary.subtype != y->value.v_binary.subtype)
				return x->value.v_binary.subtype < y->value.v_binary.subtype ? -1 : 1;
			if (x->value.v_binary.data_len != y->value.v_binary.data_len)
				return x->value.v_binary.data_len < y->value.v_binary.data_len ? -1 : 1;
			return memcmp(x->value.v_binary.data, y->value.v_binary.data,
						  x->value.v_binary.data_len);
		default:
			return 0;
	}
}

/*
 * The $in op of FIELD f that may be split: a list of known values of a
 * type split_value_cmp orders.  Returns its position in f->ops, or -1.
 */
static int
splittable_in(NgFilter *f)
{
	ListCell   *lc;

	if (f->kind != NG_F_FIELD)
		return -1;
	foreach(lc, f->ops)
	{
		NgFilterOp *op = lfirst(lc);
		ListCell   *lc2;
		bool		ok = op->is_list && strcmp(op->name, "$in") == 0;

		foreach(lc2, op->values)
		{
			NgFilterValue *v = lfirst(lc2);

			if (!ok)
				break;
			switch (v->label ? BSON_TYPE_EOD : v->value.value_type)
			{
				case BSON_TYPE_INT64:
				case BSON_TYPE_INT32:
				case BSON_TYPE_DOUBLE:
				case BSON_TYPE_UTF8:
				case BSON_TYPE_OID:
				case BSON_TYPE_BOOL:
				case BSON_TYPE_DATE_TIME:
				case BSON_TYPE_BINARY:
					break;
				default:
					ok = false;
			}
		}
		if (ok)
			return foreach_current_index(lc);
	}
	return -1;
}

/* Largest first. */
static int
term_size_cmp(const void *a, const void *b)
{
	Size		x = ((const NgTermSize *) a)->size;
	Size		y = ((const NgTermSize *) b)->size;

	return x > y ? -1 : (x < y ? 1 : 0);
}

/* The filter "parts" sends as its find number i (0-based). */
static NgFilter *
part_filter(const NgFilterParts *parts, int i)
{
	NgFilter   *field;
	NgFilterOp *in;
	List	   *values = NIL;
	List	   *children;
	NgFilter   *f;
	int			j;

	if (parts->field == NULL)
		return parts->whole;

	in = palloc(sizeof(NgFilterOp));
	memcpy(in, list_nth(parts->field->ops, parts->in_index), sizeof(NgFilterOp));
	for (j = parts->starts[i]; j < parts->starts[i + 1]; j++)
		values = lappend(values, parts->values[j]);
	in->values = values;
	field = palloc(sizeof(NgFilter));
	memcpy(field, parts->field, sizeof(NgFilter));
	field->ops = list_copy(parts->field->ops);
	lfirst(list_nth_cell(field->ops, parts->in_index)) = in;

	children = lappend(list_copy(parts->rest), field);
	if (list_length(children) == 1)
		return field;
	f = palloc0(sizeof(NgFilter));
	f->kind = NG_F_AND;
	f->children = children;
	return f;
}

/*
 * Make "parts" send filter f in finds of at most max_bytes each.
 *
 * f is a conjunction of terms (or one term).  When it is too large, its
 * largest $in of known values is split: each find repeats the other terms
 * with a slice of the values, sorted and without duplicates, so every
 * document MongoDB returns matches the values of exactly one slice and
 * comes back once.  (A document whose field is an array could match
 * several slices, but such a field never converts to a row: it is a
 * conversion error, or NULL and then rejected by the local recheck every
 * type_mismatch 'null' column gets.)  Terms too large even so are left
 * out, largest first, and the scan checks every pushed condition locally
 * (parts->lossy): the finds then return a superset.
 */
void
ng_filter_split(NgFilterParts *parts, NgFilter *f, Size max_bytes)
{
	List	   *terms;
	NgFilter   *field = NULL;
	int			in_index = -1;
	int			best = -1;
	Size		field_base = 0;
	Size		rest_size = 0;
	Size		max_elem = 0;
	Size		budget;
	Size		used;
	NgFilterOp *in;
	int			nterms;
	int			n;
	int			k;
	int			j;
	ListCell   *lc;

	parts->whole = f;
	parts->nparts = 1;
	if (5 + filter_size(f) <= max_bytes)
		return;

	terms = (f->kind == NG_F_AND) ? list_copy(f->children) : list_make1(f);

	/* the term with the largest splittable $in */
	foreach(lc, terms)
	{
		NgFilter   *t = lfirst(lc);
		int			idx = splittable_in(t);

		if (idx >= 0 &&
			(field == NULL ||
			 list_length(((NgFilterOp *) list_nth(t->ops, idx))->values) > best))
		{
			field = t;
			in_index = idx;
			best = list_length(((NgFilterOp *) list_nth(t->ops, idx))->values);
		}
	}
	if (field != NULL)
	{
		NgFilterOp *empty;

		terms = list_delete_ptr(terms, field);
		in = list_nth(field->ops, in_index);
		/* the field's size with an empty $in */
		empty = palloc(sizeof(NgFilterOp));
		memcpy(empty, in, sizeof(NgFilterOp));
		empty->values = NIL;
		{
			NgFilter	tmp;

			memcpy(&tmp, field, sizeof(NgFilter));
			tmp.ops = list_copy(field->ops);
			lfirst(list_nth_cell(tmp.ops, in_index)) = empty;
			field_base = 1 + strlen(field->path) + 1 + 5 + ops_size(tmp.ops);
		}
		foreach(lc, in->values)
		{
			Size		s = value_element_size(index_key_size(list_length(in->values)),
										   lfirst(lc));

			max_elem = Max(max_elem, s);
		}
	}

	/*
	 * Leave out the largest other terms until one value fits beside the
	 * rest (or, with nothing to split, until the rest fits).  Each term is
	 * counted as an element of {$and: [...]}, a slight overestimate when
	 * the conjunction is written inline.
	 */
	nterms = list_length(terms);
	if (nterms > 0)
	{
		NgTermSize *sizes = palloc(sizeof(NgTermSize) * nterms);
		bool	   *drop = palloc0(sizeof(bool) * nterms);
		List	   *kept = NIL;

		foreach(lc, terms)
		{
			int			t = foreach_current_index(lc);

			sizes[t].index = t;
			sizes[t].size = 1 + 8 + 5 + filter_size(lfirst(lc));
			rest_size += sizes[t].size;
		}
		qsort(sizes, nterms, sizeof(NgTermSize), term_size_cmp);
		for (j = 0; j < nterms; j++)
		{
			if (5 + (1 + 5 + 5) + rest_size +
				(field ? 1 + 8 + 5 + field_base + max_elem : 0) <= max_bytes)
				break;
			drop[sizes[j].index] = true;
			rest_size -= sizes[j].size;
			parts->dropped++;
		}
		foreach(lc, terms)
		{
			if (!drop[foreach_current_index(lc)])
				kept = lappend(kept, lfirst(lc));
		}
		terms = kept;
	}

	if (field != NULL && 5 + (1 + 5 + 5) + rest_size +
		(1 + 8 + 5 + field_base + max_elem) > max_bytes)
	{
		/* not even one value fits: the $in goes too */
		field = NULL;
		parts->dropped++;
	}
	parts->lossy = parts->dropped > 0;
	parts->rest = terms;

	if (field == NULL)
	{
		parts->whole = (terms == NIL) ? ng_filter_all() :
			(list_length(terms) == 1 ? linitial(terms) :
			 ng_filter_combine(NG_F_AND, terms));
		return;
	}

	/* sorted distinct values, cut where the next one would not fit */
	in = list_nth(field->ops, in_index);
	n = list_length(in->values);
	parts->values = palloc(sizeof(NgFilterValue *) * Max(n, 1));
	foreach(lc, in->values)
		parts->values[foreach_current_index(lc)] = lfirst(lc);
	qsort(parts->values, n, sizeof(NgFilterValue *), split_value_cmp);
	parts->nvalues = 0;
	for (j = 0; j < n; j++)
	{
		if (parts->nvalues > 0 &&
			split_value_cmp(&parts->values[parts->nvalues - 1],
							&parts->values[j]) == 0)
			continue;
		parts->values[parts->nvalues++] = parts->values[j];
	}
	parts->in_values = n;

	budget = max_bytes - (5 + (1 + 5 + 5) + rest_size +
						  (1 + 8 + 5 + field_base));
	parts->starts = palloc(sizeof(int) * (parts->nvalues + 1));
	k = 0;
	parts->starts[0] = 0;
	used = 0;
	for (j = 0; j < parts->nvalues; j++)
	{
		Size		s = value_element_size(index_key_size(j - parts->starts[k]),
										   parts->values[j]);

		if (used + s > budget && j > parts->starts[k])
		{
			parts->starts[++k] = j;
			used = value_element_size(index_key_size(0), parts->values[j]);
		}
		else
			used += s;
	}
	parts->starts[++k] = parts->nvalues;
	parts->nparts = k;
	parts->field = field;
	parts->in_index = in_index;
	parts->whole = NULL;
}
