/*-------------------------------------------------------------------------
 *
 * finalize.c
 *		  Merges the partial groups of an aggregation pipeline and finalizes
 *		  each aggregate as PostgreSQL computes it.
 *
 * plan/partial.c explains the partial groups: one result document per
 * GROUP BY key and BSON type of each aggregated field.  The scan hands
 * every document of the result to ng_finalize_add before it returns a row;
 * documents whose keys read as equal PostgreSQL values (by their output
 * text, which for the GROUP BY types upper.c allows is equality) are merged,
 * and each aggregate is finalized by PostgreSQL's own arithmetic and
 * comparisons.  When a partial group holds something the rules of
 * partial.c cannot make exact (a type PostgreSQL would not read, an
 * overflowed or rounded sum, a float8 minimum of zero, a server that left
 * a $sum at 0), ng_finalize_add returns false and the scan runs the local
 * plan instead: nothing has been returned yet.
 *
 * Memory: every partial group and result row lives in the context given to
 * ng_finalize_begin, which the scan resets per (re)scan.  The number of
 * groups is the number the pipeline returns; they are held at once.
 * XXX: that is not bounded by work_mem, as a local HashAggregate would be.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/exec/finalize.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/value.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/typcache.h"

#include "exec/finalize.h"

/* One aggregate's part of a partial group, and then of a merged group. */
typedef struct NgPartialValue
{
	Datum		value;			/* sum (numeric), or min/max */
	bool		isnull;			/* no value */
	int64		count;			/* documents, or non-null values */
	bool		nan;			/* min/max: a NaN was seen */
} NgPartialValue;

/* One output column of the aggregation. */
typedef struct NgPartialOutput
{
	NgOutputKind kind;
	NgTypeClass tclass;			/* class of the column aggregated */
	Oid			typid;			/* result type */
	const char *name;			/* field in the result document */
	int			typefield;		/* t<n> of its field, or -1 */
	NgConverter conv;			/* min/max: reads the values */
	FmgrInfo	cmp;			/* min/max: the type's btree comparison */
	Oid			collation;
} NgPartialOutput;

typedef struct NgPartialRow
{
	char	   *key;			/* the keys' output text, for merging */
	char	   *dkey;			/* count(DISTINCT col): the value's output
								 * text, NULL for null or missing */
	Datum	   *values;			/* the keys (and, merged, the results) */
	bool	   *isnull;
	NgPartialValue *parts;		/* per output */
} NgPartialRow;

struct NgPartialGroups
{
	MemoryContext cxt;
	int			nout;
	NgPartialOutput *outputs;
	NgDocReader *key_reader;	/* converts the GROUP BY keys */
	List	   *key_columns;	/* Integer: their scan tuple positions */
	FmgrInfo   *key_out;		/* output functions of the keys */
	int			ntypes;
	bool		distinct;		/* partial groups are split by "d" */
	NgConverter dconv;			/* ... which this reads */
	FmgrInfo	dout;			/* ... and this writes as text */
	bool		canary;
	bool		grouped;		/* there is a GROUP BY */
	NgPartialRow **rows;
	int			nrows;
	int			maxrows;
	int			next;			/* after ng_finalize_end: the next row */
};

static bool read_part(NgPartialGroups *g, NgPartialOutput *out,
					  const bson_t *doc, const char *type, bool nan,
					  int64 docs, NgPartialValue *part);
static bool read_int64(const bson_t *doc, const char *name, int64 *value);
static bool read_float8(bson_iter_t *it, float8 *value);
static void merge_part(NgPartialOutput *out, NgPartialValue *into,
					   NgPartialValue *part);
static bool finalize_part(NgPartialOutput *out, NgPartialValue *part,
						  Datum *value, bool *isnull);
static int	compare_rows(const void *a, const void *b);

/*
 * ng_finalize_begin
 *		Set up the merge of the partial groups of the plan's aggregation,
 *		whose result columns result_opts describes, in cxt.
 */
NgPartialGroups *
ng_finalize_begin(const NgScanPlan *plan, NgTableOptions *result_opts,
				  MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	List	   *outputs = plan->outputs;
	NgPartialGroups *g = palloc0(sizeof(NgPartialGroups));
	ListCell   *lc;
	int			i = 0;

	g->cxt = cxt;
	g->nout = list_length(outputs);
	g->outputs = palloc0(sizeof(NgPartialOutput) * Max(g->nout, 1));
	g->key_out = palloc0(sizeof(FmgrInfo) * Max(g->nout, 1));
	g->canary = ng_partial_needs_canary(outputs);
	g->grouped = plan->group_fields != NIL;
	foreach(lc, outputs)
	{
		NgPlanOutput *o = (NgPlanOutput *) lfirst(lc);
		NgPartialOutput *out = &g->outputs[i];
		NgColumn   *col = &result_opts->columns[i];

		out->kind = o->kind;
		out->name = o->name;
		out->tclass = (NgTypeClass) o->tclass;
		out->typid = col->typid;
		out->typefield = ng_partial_type_field(outputs, i);
		if (out->typefield > g->ntypes - 1)
			g->ntypes = out->typefield + 1;
		if (out->kind == NG_OUT_KEY)
		{
			Oid			fn;
			bool		varlena;

			g->key_columns = lappend(g->key_columns, makeInteger(col->attnum));
			getTypeOutputInfo(col->typid, &fn, &varlena);
			fmgr_info(fn, &g->key_out[i]);
		}
		else if (out->kind == NG_OUT_MIN || out->kind == NG_OUT_MAX)
		{
			TypeCacheEntry *tc = lookup_type_cache(col->typid,
												   TYPECACHE_CMP_PROC_FINFO);

			ng_converter_init(&out->conv, col->typid, -1, NG_MISMATCH_ERROR,
							  NG_JSON_RELAXED);
			fmgr_info_copy(&out->cmp, &tc->cmp_proc_finfo, cxt);
			out->collation = (out->tclass == NG_TC_TEXT) ? C_COLLATION_OID :
				InvalidOid;
		}
		else if (out->kind == NG_OUT_SUM || out->kind == NG_OUT_AVG)
			ng_converter_init(&out->conv, NUMERICOID, -1, NG_MISMATCH_ERROR,
							  NG_JSON_RELAXED);
		else if (out->kind == NG_OUT_COUNT_DISTINCT && !g->distinct)
		{
			Oid			fn;
			bool		varlena;

			g->distinct = true;
			ng_converter_init(&g->dconv, o->argtype, -1, NG_MISMATCH_ERROR,
							  NG_JSON_RELAXED);
			getTypeOutputInfo(o->argtype, &fn, &varlena);
			fmgr_info(fn, &g->dout);
		}
		i++;
	}
	g->key_reader = ng_document_reader_create(result_opts, g->key_columns,
											  NIL, g->nout);
	g->maxrows = 64;
	g->rows = palloc(sizeof(NgPartialRow *) * g->maxrows);
	MemoryContextSwitchTo(old);
	return g;
}

/*
 * ng_finalize_add
 *		Take one document of the pipeline's result.  False when the result
 *		cannot be made exact: the caller then computes it locally.  May
 *		throw the conversion errors of a GROUP BY key that does not fit its
 *		column, as reading that document would.
 */
bool
ng_finalize_add(NgPartialGroups *g, const bson_t *doc)
{
	MemoryContext old = MemoryContextSwitchTo(g->cxt);
	NgPartialRow *row = palloc0(sizeof(NgPartialRow));
	StringInfoData key;
	const char **types;
	bool	   *nans;
	int64		docs;
	int			i;
	bool		ok = true;

	/* c counts the documents; z, if sent, must agree (see partial.c) */
	if (!read_int64(doc, "c", &docs) || docs <= 0)
		ok = false;
	if (ok && g->canary)
	{
		int64		z;

		if (!read_int64(doc, "z", &z) || z != docs)
			ok = false;
	}

	types = palloc0(sizeof(char *) * Max(g->ntypes, 1));
	nans = palloc0(sizeof(bool) * Max(g->ntypes, 1));
	for (i = 0; ok && i < g->ntypes; i++)
	{
		bson_iter_t it;
		bson_iter_t t;
		char		path[32];

		snprintf(path, sizeof(path), "_id.t%d", i);
		if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &t) &&
			BSON_ITER_HOLDS_UTF8(&t))
			types[i] = pstrdup(bson_iter_utf8(&t, NULL));
		else
			ok = false;
		snprintf(path, sizeof(path), "_id.n%d", i);
		if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &t) &&
			BSON_ITER_HOLDS_BOOL(&t))
			nans[i] = bson_iter_bool(&t);
	}

	if (ok)
	{
		row->values = palloc0(sizeof(Datum) * Max(g->nout, 1));
		row->isnull = palloc(sizeof(bool) * Max(g->nout, 1));
		memset(row->isnull, true, sizeof(bool) * Max(g->nout, 1));
		row->parts = palloc0(sizeof(NgPartialValue) * Max(g->nout, 1));
		ng_document_to_values(g->key_reader, doc, row->values, row->isnull);

		initStringInfo(&key);
		for (i = 0; i < g->nout && ok; i++)
		{
			NgPartialOutput *out = &g->outputs[i];

			if (out->kind == NG_OUT_KEY)
			{
				if (row->isnull[i])
					appendStringInfoString(&key, "N|");
				else
				{
					char	   *s = OutputFunctionCall(&g->key_out[i],
													   row->values[i]);

					appendStringInfo(&key, "V%zu:%s|", strlen(s), s);
				}
				continue;
			}
			ok = read_part(g, out, doc,
						   out->typefield >= 0 ? types[out->typefield] : NULL,
						   out->typefield >= 0 ? nans[out->typefield] : false,
						   docs, &row->parts[i]);
		}
		row->key = key.data;

		/* the distinct value as text: equal text, equal value */
		if (g->distinct)
		{
			bson_iter_t it;
			bson_iter_t d;
			bool		isnull = true;
			Datum		v = (Datum) 0;

			if (bson_iter_init(&it, doc) &&
				bson_iter_find_descendant(&it, "_id.d", &d))
				v = ng_bson_to_datum(&g->dconv, &d, &isnull);
			row->dkey = isnull ? NULL : OutputFunctionCall(&g->dout, v);
		}
	}

	if (ok)
	{
		if (g->nrows == g->maxrows)
		{
			g->maxrows *= 2;
			g->rows = repalloc(g->rows, sizeof(NgPartialRow *) * g->maxrows);
		}
		g->rows[g->nrows++] = row;
	}
	MemoryContextSwitchTo(old);
	return ok;
}

/*
 * Read output "out" of a partial group document into *part; false when
 * the partial cannot be finalized exactly.  type is the $type of the
 * output's field in this partial group (NULL when it has none), nan whether
 * the group holds its NaN values, docs its document count.
 */
static bool
read_part(NgPartialGroups *g, NgPartialOutput *out, const bson_t *doc,
		  const char *type, bool nan, int64 docs, NgPartialValue *part)
{
	bool		absent = type != NULL &&
		(strcmp(type, "missing") == 0 || strcmp(type, "null") == 0);
	bson_iter_t it;

	part->isnull = true;
	switch (out->kind)
	{
		case NG_OUT_COUNT_STAR:
			part->count = docs;
			return true;

		case NG_OUT_COUNT:
			part->count = absent ? 0 : docs;
			return true;

		case NG_OUT_SUM:
		case NG_OUT_AVG:
			if (absent)
				return true;
			if (!bson_iter_init_find(&it, doc, out->name))
				return false;
			if (strcmp(type, "int") == 0 || strcmp(type, "long") == 0)
			{
				/* a double here means MongoDB's int64 sum overflowed */
				if (BSON_ITER_HOLDS_INT32(&it))
					part->value = NumericGetDatum(int64_to_numeric(bson_iter_int32(&it)));
				else if (BSON_ITER_HOLDS_INT64(&it))
					part->value = NumericGetDatum(int64_to_numeric(bson_iter_int64(&it)));
				else
					return false;
			}
			else if (strcmp(type, "decimal") == 0 && out->tclass == NG_TC_NUMERIC &&
					 BSON_ITER_HOLDS_DECIMAL128(&it))
			{
				bson_decimal128_t dec;
				char		str[BSON_DECIMAL128_STRING];
				int			digits = 0;
				const char *p;
				bool		isnull;

				/* 34 significant digits: decimal128 may have rounded */
				bson_iter_decimal128(&it, &dec);
				bson_decimal128_to_string(&dec, str);
				for (p = str; *p && *p != 'E'; p++)
				{
					if (*p >= '0' && *p <= '9' && (digits > 0 || *p != '0'))
						digits++;
				}
				if (digits >= 34)
					return false;
				part->value = ng_bson_to_datum(&out->conv, &it, &isnull);
				if (isnull)
					return false;
			}
			else
				return false;	/* PostgreSQL would not read it, or not
								 * add it exactly */
			part->isnull = false;
			part->count = docs;
			return true;

		case NG_OUT_MIN:
		case NG_OUT_MAX:
			if (absent)
				return true;
			if (!bson_iter_init_find(&it, doc, out->name))
				return false;
			if (BSON_ITER_HOLDS_NULL(&it))
				return true;	/* (integer, timestamp and date columns) */
			switch (out->tclass)
			{
				case NG_TC_FLOAT8:
				case NG_TC_NUMERIC:
					{
						float8		main;

						if (strcmp(type, "double") != 0 &&
							strcmp(type, "int") != 0 &&
							strcmp(type, "long") != 0)
							return false;
						if (!read_float8(&it, &main))
							return false;
						/* NaN values come in a partial group of their own */
						if (nan || isnan(main))
						{
							if (!nan || !isnan(main))
								return false;
							part->nan = true;
							return true;
						}
						if (out->tclass == NG_TC_FLOAT8)
						{
							/* int64 values float8 cannot hold: not read */
							if (BSON_ITER_HOLDS_INT64(&it) &&
								(int64) main != bson_iter_int64(&it))
								return false;
							part->value = Float8GetDatum(main);
							part->isnull = false;
							return true;
						}
						break;	/* numeric: read by the converter */
					}
				case NG_TC_TEXT:
					if (strcmp(type, "string") != 0 &&
						strcmp(type, "objectId") != 0)
						return false;
					break;
				default:
					break;
			}
			part->value = ng_bson_to_datum(&out->conv, &it, &part->isnull);
			return true;

		default:
			return true;
	}
}

/* An integer field of the document's top level. */
static bool
read_int64(const bson_t *doc, const char *name, int64 *value)
{
	bson_iter_t it;

	if (!bson_iter_init_find(&it, doc, name))
		return false;
	if (BSON_ITER_HOLDS_INT32(&it))
		*value = bson_iter_int32(&it);
	else if (BSON_ITER_HOLDS_INT64(&it))
		*value = bson_iter_int64(&it);
	else
		return false;
	return true;
}

/* A number as float8 (for NaN tests and float8 results). */
static bool
read_float8(bson_iter_t *it, float8 *value)
{
	if (BSON_ITER_HOLDS_DOUBLE(it))
		*value = bson_iter_double(it);
	else if (BSON_ITER_HOLDS_INT32(it))
		*value = bson_iter_int32(it);
	else if (BSON_ITER_HOLDS_INT64(it))
		*value = (float8) bson_iter_int64(it);
	else
		return false;
	return true;
}

/*
 * ng_finalize_end
 *		All documents are in: merge the partial groups of each key.
 */
void
ng_finalize_end(NgPartialGroups *g)
{
	MemoryContext old = MemoryContextSwitchTo(g->cxt);
	int			n = 0;
	int			i;

	if (g->nrows > 1)
		qsort(g->rows, g->nrows, sizeof(NgPartialRow *), compare_rows);
	for (i = 0; i < g->nrows; i++)
	{
		NgPartialRow *row = g->rows[i];
		NgPartialRow *prev = i > 0 ? g->rows[i - 1] : NULL;
		bool		new_value;
		int			j;

		/* rows of a key are sorted by their distinct value, NULL first */
		new_value = row->dkey != NULL &&
			(prev == NULL || strcmp(prev->key, row->key) != 0 ||
			 prev->dkey == NULL || strcmp(prev->dkey, row->dkey) != 0);
		if (n > 0 && strcmp(g->rows[n - 1]->key, row->key) == 0)
		{
			NgPartialRow *into = g->rows[n - 1];

			for (j = 0; j < g->nout; j++)
			{
				if (g->outputs[j].kind == NG_OUT_COUNT_DISTINCT)
					into->parts[j].count += new_value ? 1 : 0;
				else
					merge_part(&g->outputs[j], &into->parts[j], &row->parts[j]);
			}
		}
		else
		{
			for (j = 0; j < g->nout; j++)
			{
				if (g->outputs[j].kind == NG_OUT_COUNT_DISTINCT)
					row->parts[j].count = new_value ? 1 : 0;
			}
			g->rows[n++] = row;
		}
	}
	g->nrows = n;

	/* no GROUP BY: one row even for no documents */
	if (!g->grouped && g->nrows == 0)
	{
		NgPartialRow *row = palloc0(sizeof(NgPartialRow));

		row->values = palloc0(sizeof(Datum) * Max(g->nout, 1));
		row->isnull = palloc(sizeof(bool) * Max(g->nout, 1));
		memset(row->isnull, true, sizeof(bool) * Max(g->nout, 1));
		row->parts = palloc0(sizeof(NgPartialValue) * Max(g->nout, 1));
		for (i = 0; i < g->nout; i++)
			row->parts[i].isnull = true;
		row->key = "";
		g->rows[0] = row;
		g->nrows = 1;
	}
	g->next = 0;
	MemoryContextSwitchTo(old);
}

static int
compare_rows(const void *a, const void *b)
{
	const NgPartialRow *ra = *(NgPartialRow *const *) a;
	const NgPartialRow *rb = *(NgPartialRow *const *) b;
	int			c = strcmp(ra->key, rb->key);

	if (c != 0)
		return c;
	if (ra->dkey == NULL || rb->dkey == NULL)
		return (ra->dkey == NULL) - (rb->dkey == NULL) == 0 ? 0 :
			(ra->dkey == NULL ? -1 : 1);
	return strcmp(ra->dkey, rb->dkey);
}

/* Merge a partial group's part of one output into another's. */
static void
merge_part(NgPartialOutput *out, NgPartialValue *into, NgPartialValue *part)
{
	into->count += part->count;
	into->nan |= part->nan;
	if (part->isnull)
		return;
	if (into->isnull)
	{
		into->value = part->value;
		into->isnull = false;
		return;
	}
	switch (out->kind)
	{
		case NG_OUT_SUM:
		case NG_OUT_AVG:
			into->value = DirectFunctionCall2(numeric_add, into->value,
											  part->value);
			break;
		case NG_OUT_MIN:
		case NG_OUT_MAX:
			{
				int32		c = DatumGetInt32(FunctionCall2Coll(&out->cmp,
																out->collation,
																part->value,
																into->value));

				if ((out->kind == NG_OUT_MIN && c < 0) ||
					(out->kind == NG_OUT_MAX && c > 0))
					into->value = part->value;
				break;
			}
		default:
			break;
	}
}

/*
 * ng_finalize_next
 *		The next merged group as scan tuple values; false after the last
 *		one.  ng_finalize_check has said every group can be finalized.
 */
bool
ng_finalize_next(NgPartialGroups *g, Datum *values, bool *isnull)
{
	NgPartialRow *row;
	int			i;

	if (g->next >= g->nrows)
		return false;
	row = g->rows[g->next++];
	for (i = 0; i < g->nout; i++)
	{
		NgPartialOutput *out = &g->outputs[i];

		if (out->kind == NG_OUT_KEY)
		{
			values[i] = row->values[i];
			isnull[i] = row->isnull[i];
		}
		else if (!finalize_part(out, &row->parts[i], &values[i], &isnull[i]))
			elog(ERROR, "partial group finalized twice");
	}
	return true;
}

/*
 * ng_finalize_check
 *		Can every merged group be finalized exactly?  Called once after
 *		ng_finalize_end, before any row is returned.
 */
bool
ng_finalize_check(NgPartialGroups *g)
{
	int			r;
	int			i;

	for (r = 0; r < g->nrows; r++)
	{
		for (i = 0; i < g->nout; i++)
		{
			Datum		v;
			bool		n;

			if (g->outputs[i].kind != NG_OUT_KEY &&
				!finalize_part(&g->outputs[i], &g->rows[r]->parts[i], &v, &n))
				return false;
		}
	}
	return true;
}

/*
 * The final value of one output of a merged group, as PostgreSQL's
 * aggregate would return it; false when it cannot be known exactly.
 */
static bool
finalize_part(NgPartialOutput *out, NgPartialValue *part, Datum *value,
			  bool *isnull)
{
	*isnull = false;
	switch (out->kind)
	{
		case NG_OUT_COUNT_STAR:
		case NG_OUT_COUNT:
		case NG_OUT_COUNT_DISTINCT:
			*value = Int64GetDatum(part->count);
			return true;

		case NG_OUT_SUM:
			if (part->isnull)
			{
				*isnull = true;
				return true;
			}
			if (out->typid == INT8OID)
			{
				/* sum(int2/int4): out of bigint's range, PostgreSQL errs */
				Datum		lo = NumericGetDatum(int64_to_numeric(PG_INT64_MIN));
				Datum		hi = NumericGetDatum(int64_to_numeric(PG_INT64_MAX));

				if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, part->value, lo)) < 0 ||
					DatumGetInt32(DirectFunctionCall2(numeric_cmp, part->value, hi)) > 0)
					return false;
				*value = DirectFunctionCall1(numeric_int8, part->value);
				return true;
			}
			*value = part->value;
			return true;

		case NG_OUT_AVG:
			if (part->isnull)
			{
				*isnull = true;
				return true;
			}
			*value = DirectFunctionCall2(numeric_div, part->value,
										 NumericGetDatum(int64_to_numeric(part->count)));
			return true;

		case NG_OUT_MIN:
		case NG_OUT_MAX:
			if (part->nan && (out->kind == NG_OUT_MAX || part->isnull))
			{
				*value = (out->tclass == NG_TC_FLOAT8) ?
					Float8GetDatum(get_float8_nan()) :
					DirectFunctionCall3(numeric_in, CStringGetDatum("NaN"),
										ObjectIdGetDatum(InvalidOid),
										Int32GetDatum(-1));
				return true;
			}
			if (part->isnull)
			{
				*isnull = true;
				return true;
			}
			/* 0 or -0: PostgreSQL returns the last of them in scan order */
			if (out->tclass == NG_TC_FLOAT8 && DatumGetFloat8(part->value) == 0.0)
				return false;
			*value = part->value;
			return true;

		default:
			*isnull = true;
			return true;
	}
}
