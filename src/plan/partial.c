/*-------------------------------------------------------------------------
 *
 * partial.c
 *		  Decides which aggregates MongoDB computes as partial groups, and
 *		  writes the $group stage that returns them.
 *
 * MongoDB cannot compute sum, avg, or min/max of float8, numeric and text
 * exactly as PostgreSQL does: its $sum turns an int64 overflow into a
 * double and sums doubles with extra precision, its order puts NaN below
 * every number, compares decimal128 and double values by their exact
 * binary value (PostgreSQL reads a double as the shortest decimal that
 * reads back the same), and puts every ObjectId after every string.  It
 * can compute them exactly per BSON type, though.  So the pipeline groups
 * by the GROUP BY keys and by the $type of each aggregated field, and the
 * scan merges the partial groups of a key and finalizes each aggregate in
 * PostgreSQL (exec/finalize.c), where the rules below are checked against
 * the types actually present:
 *
 *	SELECT cat, sum(n), avg(n), min(f) FROM t GROUP BY cat
 *
 *	{$group: {_id: {k0: "$cat", t0: {$type: "$n"}, t1: {$type: "$f"},
 *				   n1: {$lt: ["$f", -Infinity]}},
 *			  c: {$sum: 1},
 *			  o1: {$sum: "$n"}, o2: {$sum: "$n"},
 *			  o3: {$min: "$f"},
 *			  z: {$sum: 1}}}
 *
 *	sum/avg of int2/int4/int8: exact from "int" and "long" partials whose
 *		$sum came back as an integer (a double means MongoDB's int64 sum
 *		overflowed): the partial sums are added as numeric here.
 *	sum/avg of numeric: the same, and "decimal" partials whose sum has
 *		fewer than 34 significant digits (so decimal128 did not round).
 *		Doubles are not summed: PostgreSQL adds their shortest decimal
 *		readings, MongoDB their binary values.
 *	float8 sum/avg: never.  PostgreSQL adds doubles one by one in scan
 *		order (avg too: float8_accum's Sx), so its result depends on an
 *		order no pipeline can reproduce (1e16 + 1 - 1e16 is 0 in that order,
 *		1 in another, and MongoDB sums with extra precision).
 *	min/max of float8 and numeric: from "double", "int" and "long"
 *		partials, NaN (MongoDB's lowest number, PostgreSQL's highest) in a
 *		partial group of its own ("n1": NaN is the only number below
 *		-Infinity).  A float8 result of zero is not trusted:
 *		PostgreSQL returns the last of equal values (0 or -0) in scan order.
 *		decimal128 is not used: 5 and 5.0 are equal, and which one
 *		PostgreSQL returns depends on the scan order again.
 *	min/max of text under "C" (byte order, MongoDB's order of strings):
 *		"string" and "objectId" partials, the ObjectId read as hex digits.
 *
 * A partial of any other type (a string in a numeric column, say) means
 * PostgreSQL would raise a conversion error, or could: the scan then runs
 * the local plan, which raises it with the document's _id.  Because the
 * scan reads every partial group before it returns a row, it can still
 * choose the local plan after seeing them all.
 *
 * The same merge replaces the guards of GROUP BY (upper.c): a text key's
 * string and ObjectId of the same hex digits, a missing and a null key of a
 * compound _id, the split null group of a nested path on DocumentDB all
 * arrive as separate partial groups and are merged here by PostgreSQL's
 * equality, at no extra round trip.
 *
 * "c" counts the documents of a partial group; "z", appended when there
 * is more than one $sum, must equal it: FerretDB 1.x returns 0 for every
 * $sum but the first of a $group, and the scan then computes locally.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/plan/partial.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "nodes/pg_list.h"
#include "nodes/value.h"
#include "utils/fmgroids.h"

#include "plan/plan.h"

static void append_field_ref(bson_t *doc, const char *key, const char *field);
static void append_accumulator(bson_t *group, const char *name,
							   const char *op, const char *field);

/*
 * ng_partial_output_kind
 *		The output kind of aggregate "aggfnoid" over a column of class tclass
 *		(typmod: the column's) when only partial groups can compute it
 *		exactly, NG_OUT_NONE when it cannot be pushed that way either.
 *		collation is the aggregate's input collation.
 */
NgOutputKind
ng_partial_output_kind(Oid aggfnoid, NgTypeClass tclass, int32 typmod,
					   Oid collation)
{
	switch (aggfnoid)
	{
		case F_SUM_INT2:
		case F_SUM_INT4:
		case F_SUM_INT8:
			return tclass == NG_TC_INT ? NG_OUT_SUM : NG_OUT_NONE;
		case F_AVG_INT2:
		case F_AVG_INT4:
		case F_AVG_INT8:
			return tclass == NG_TC_INT ? NG_OUT_AVG : NG_OUT_NONE;
		case F_SUM_NUMERIC:
			return (tclass == NG_TC_NUMERIC && typmod < 0) ?
				NG_OUT_SUM : NG_OUT_NONE;
		case F_AVG_NUMERIC:
			return (tclass == NG_TC_NUMERIC && typmod < 0) ?
				NG_OUT_AVG : NG_OUT_NONE;
		case F_MIN_FLOAT8:
		case F_MAX_FLOAT8:
			if (tclass != NG_TC_FLOAT8)
				return NG_OUT_NONE;
			return aggfnoid == F_MIN_FLOAT8 ? NG_OUT_MIN : NG_OUT_MAX;
		case F_MIN_NUMERIC:
		case F_MAX_NUMERIC:
			if (tclass != NG_TC_NUMERIC || typmod >= 0)
				return NG_OUT_NONE;
			return aggfnoid == F_MIN_NUMERIC ? NG_OUT_MIN : NG_OUT_MAX;
		case F_MIN_TEXT:
		case F_MAX_TEXT:
			/* MongoDB orders strings by their UTF-8 bytes */
			if (tclass != NG_TC_TEXT || GetDatabaseEncoding() != PG_UTF8 ||
				!OidIsValid(collation) || !ng_collate_is_c(collation))
				return NG_OUT_NONE;
			return aggfnoid == F_MIN_TEXT ? NG_OUT_MIN : NG_OUT_MAX;
		default:
			return NG_OUT_NONE;
	}
}

/*
 * ng_partial_output_is_typed
 *		Does an output of this kind, over a column of class tclass, need the
 *		$type of its field among the keys of partial groups?  Counts do
 *		(count(col) counts the non-null partials), sum and avg, and min/max
 *		of float8, numeric and text.
 */
bool
ng_partial_output_is_typed(NgOutputKind kind, int tclass)
{
	return kind == NG_OUT_SUM || kind == NG_OUT_AVG || kind == NG_OUT_COUNT ||
		((kind == NG_OUT_MIN || kind == NG_OUT_MAX) &&
		 (tclass == NG_TC_FLOAT8 || tclass == NG_TC_NUMERIC ||
		  tclass == NG_TC_TEXT));
}

/*
 * ng_partial_type_field
 *		Index of the "t<n>" _id field holding the $type of the field output
 *		"index" of the plan's outputs (NgPlanOutput) reads, or -1 when the
 *		output needs none.  Outputs reading the same field share one.
 */
int
ng_partial_type_field(List *outputs, int index)
{
	int			n = 0;
	ListCell   *lc;
	List	   *fields = NIL;

	foreach(lc, outputs)
	{
		NgPlanOutput *out = (NgPlanOutput *) lfirst(lc);
		const char *field = out->field;
		bool		typed = ng_partial_output_is_typed(out->kind, out->tclass);
		ListCell   *lc2;
		int			pos = -1;

		if (typed)
		{
			foreach(lc2, fields)
			{
				if (strcmp(strVal(lfirst(lc2)), field) == 0)
					pos = foreach_current_index(lc2);
			}
			if (pos < 0)
			{
				fields = lappend(fields, makeString((char *) field));
				pos = n++;
			}
		}
		if (foreach_current_index(lc) == index)
		{
			list_free_deep(fields);
			return typed ? pos : -1;
		}
	}
	list_free_deep(fields);
	return -1;
}

/*
 * ng_partial_type_count
 *		How many "t<n>" fields the _id of this output list has.
 */
int
ng_partial_type_count(List *outputs)
{
	int			n = 0;
	int			i;

	for (i = 0; i < list_length(outputs); i++)
		n = Max(n, ng_partial_type_field(outputs, i) + 1);
	return n;
}

/*
 * ng_partial_nan_field
 *		The field whose $type is "t<t>" when min or max of a float8 or
 *		numeric column reads it (its partial groups are split by "n<t>":
 *		NaN or not), else NULL.
 */
const char *
ng_partial_nan_field(List *outputs, int t)
{
	ListCell   *lc;

	foreach(lc, outputs)
	{
		NgPlanOutput *out = (NgPlanOutput *) lfirst(lc);

		if ((out->kind == NG_OUT_MIN || out->kind == NG_OUT_MAX) &&
			(out->tclass == NG_TC_FLOAT8 || out->tclass == NG_TC_NUMERIC) &&
			ng_partial_type_field(outputs, foreach_current_index(lc)) == t)
			return out->field;
	}
	return NULL;
}

/*
 * ng_partial_distinct_field
 *		The column of count(DISTINCT col) outputs (one per aggregation), whose
 *		value splits the partial groups as "d", or NULL.
 */
const char *
ng_partial_distinct_field(List *outputs)
{
	ListCell   *lc;

	foreach(lc, outputs)
	{
		NgPlanOutput *out = (NgPlanOutput *) lfirst(lc);

		if (out->kind == NG_OUT_COUNT_DISTINCT)
			return out->field;
	}
	return NULL;
}

/*
 * ng_partial_needs_canary
 *		Does the $group of this output list hold more than one $sum (so
 *		that "z" checks the server computes every one of them)?
 */
bool
ng_partial_needs_canary(List *outputs)
{
	ListCell   *lc;

	foreach(lc, outputs)
	{
		NgOutputKind kind = ((NgPlanOutput *) lfirst(lc))->kind;

		if (kind == NG_OUT_SUM || kind == NG_OUT_AVG)
			return true;
	}
	return false;
}

/*
 * ng_partial_group_body
 *		Append the body of the $group stage of the plan's partial
 *		aggregation; see the file header.
 *		Allocates only libbson memory, freed before returning; never throws
 *		once appending has started (the names are built first).
 */
void
ng_partial_group_body(bson_t *group, const NgScanPlan *plan)
{
	List	   *keys = plan->group_fields;
	List	   *outputs = plan->outputs;
	ListCell   *lc;
	bson_t		id;
	int			ntypes = 0;
	int			t;

	/* one key and no types: the key itself, as an unsplit $group has it */
	if (list_length(keys) == 1 && ng_partial_type_count(outputs) == 0 &&
		ng_partial_distinct_field(outputs) == NULL)
	{
		append_field_ref(group, "_id", strVal(linitial(keys)));
		goto accumulators;
	}

	bson_append_document_begin(group, "_id", 3, &id);
	foreach(lc, keys)
	{
		char		name[16];

		snprintf(name, sizeof(name), "k%d", foreach_current_index(lc));
		append_field_ref(&id, name, strVal(lfirst(lc)));
	}
	foreach(lc, outputs)
	{
		t = ng_partial_type_field(outputs, foreach_current_index(lc));
		if (t == ntypes)
		{
			char		name[16];
			bson_t		type;

			snprintf(name, sizeof(name), "t%d", t);
			bson_append_document_begin(&id, name, -1, &type);
			append_field_ref(&type, "$type", ((NgPlanOutput *) lfirst(lc))->field);
			bson_append_document_end(&id, &type);
			ntypes++;
		}
	}
	if (ng_partial_distinct_field(outputs) != NULL)
		append_field_ref(&id, "d", ng_partial_distinct_field(outputs));
	for (t = 0; t < ntypes; t++)
	{
		const char *field = ng_partial_nan_field(outputs, t);

		if (field != NULL)
		{
			char		name[16];
			bson_t		expr;
			bson_t		args;

			/* NaN is the only number below -Infinity in MongoDB's order */
			snprintf(name, sizeof(name), "n%d", t);
			bson_append_document_begin(&id, name, -1, &expr);
			bson_append_array_unsafe_begin(&expr, "$lt", 3, &args);
			append_field_ref(&args, "0", field);
			bson_append_double(&args, "1", 1, -INFINITY);
			bson_append_array_end(&expr, &args);
			bson_append_document_end(&id, &expr);
		}
	}
	bson_append_document_end(group, &id);

accumulators:
	/* the documents of the partial group: count(*), count(col), avg */
	{
		bson_t		acc;

		bson_append_document_begin(group, "c", 1, &acc);
		bson_append_int32(&acc, "$sum", 4, 1);
		bson_append_document_end(group, &acc);
	}

	foreach(lc, outputs)
	{
		NgPlanOutput *out = (NgPlanOutput *) lfirst(lc);
		NgOutputKind kind = out->kind;
		const char *field = out->field;
		const char *name = out->name;

		switch (kind)
		{
			case NG_OUT_SUM:
			case NG_OUT_AVG:
				append_accumulator(group, name, "$sum", field);
				break;
			case NG_OUT_MIN:
			case NG_OUT_MAX:
				append_accumulator(group, name,
								   kind == NG_OUT_MIN ? "$min" : "$max", field);
				break;
			default:
				break;
		}
	}

	if (ng_partial_needs_canary(outputs))
	{
		bson_t		acc;

		bson_append_document_begin(group, "z", 1, &acc);
		bson_append_int32(&acc, "$sum", 4, 1);
		bson_append_document_end(group, &acc);
	}
}

/* key: "$field" */
static void
append_field_ref(bson_t *doc, const char *key, const char *field)
{
	char	   *ref = bson_strdup_printf("$%s", field);

	bson_append_utf8(doc, key, -1, ref, -1);
	bson_free(ref);
}

/* name: {op: "$field"} */
static void
append_accumulator(bson_t *group, const char *name, const char *op,
				   const char *field)
{
	bson_t		acc;

	bson_append_document_begin(group, name, -1, &acc);
	append_field_ref(&acc, op, field);
	bson_append_document_end(group, &acc);
}
