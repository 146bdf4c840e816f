/*-------------------------------------------------------------------------
 *
 * deparse.c
 *		  Builds the MongoDB filter and projection documents for a scan.
 *
 * A WHERE condition is sent to MongoDB only when MongoDB evaluates it with
 * exactly PostgreSQL's result for every document, or when the filter sent
 * is a superset of the rows the condition accepts and the condition is also
 * checked locally ("recheck").  Everything else stays local.  This file
 * holds both halves of that promise: the planner-time test
 * (ng_classify_conditions, ng_is_foreign_expr) and the executor-time
 * translation (ng_deparse_filter).  They share one code path, so a
 * condition is pushed exactly when it can be translated.  No I/O here.
 * upper.c reuses both: ng_deparse_column for the columns it sorts and
 * groups by, and ng_is_foreign_expr_on for HAVING conditions, read as
 * conditions on the fields of an aggregation's result document.
 *
 * The model.  For a document d, a SQL condition C is TRUE, FALSE or NULL.
 * For every condition we build two MongoDB filters: T(C), matching the
 * documents where C is TRUE, and F(C), matching those where C is FALSE.
 * NOT swaps them; AND and OR combine them as three-valued logic demands:
 *
 *		T(NOT C)	= F(C)				F(NOT C)   = T(C)
 *		T(A AND B)	= T(A) $and T(B)	F(A AND B) = F(A) $or F(B)
 *		T(A OR B)	= T(A) $or T(B)		F(A OR B)  = F(A) $and F(B)
 *
 * so a negation never has to be expressed with $nor over something that
 * can be NULL.  Leaves get both filters from the definitions below; for a
 * comparison "col op v" with col and v not NULL exactly one of "col op v"
 * and "col negop v" holds (all our orders are total), hence
 * F(col op v) = T(col negop v), and both exclude NULL columns.
 *
 * What MongoDB does differently, and how each leaf copes:
 *
 *	- A missing field and BSON null read as SQL NULL.  $eq/$lt/$gt/$in never
 *	  match them, but $ne/$nin do:  col <> v  becomes  {f: {$nin: [v, null]}}.
 *	- Type bracketing: {$lt: 5} only matches numbers, {$lt: "x"} only
 *	  strings.  Numbers of different BSON types compare by exact value.
 *	- A value that does not fit its column raises a conversion error when
 *	  read (the default "type_mismatch" policy); which of such documents the
 *	  filter lets through does not matter.  Arrays are such values for every
 *	  column we push conditions on: {f: {$eq: v}} also matches arrays
 *	  containing v, and the row then fails to convert.
 *	- With type_mismatch 'null' such values read as NULL instead, which no
 *	  MongoDB operator can express; every filter below still matches a
 *	  superset of the rows, so conditions on those columns are pushed with
 *	  recheck, except IS [NOT] NULL / IS [NOT] TRUE..., which stay local.
 *	- NaN: PostgreSQL sorts NaN above every number and NaN = NaN; MongoDB
 *	  sorts it below every number, {$eq: NaN} matches NaN and no other
 *	  comparison with NaN holds.  Leaves on float8/numeric add or remove NaN
 *	  explicitly, without ever sending a NaN (FerretDB rejects it).  The
 *	  constants NaN and +-Infinity are allowed.
 *	- Strings compare by UTF-8 bytes (with the default "simple" collation),
 *	  which is PostgreSQL's "C" order in a UTF-8 database.
 *	- A text column reads an ObjectId as its 24 lowercase hex digits, so
 *	  conditions on text also match the ObjectIds whose hex form satisfies
 *	  them; since ObjectIds and their hex forms sort alike, that set is
 *	  always one $eq/$in or one range of ObjectIds.
 *
 * The pushdown table (f = the column's MongoDB path, v = the value as
 * BSON, ≡ = exact, R = pushed with local recheck):
 *
 *	SQL								MongoDB filter
 *	col = v							{f: v}											≡
 *	col <> v						{f: {$nin: [v, null]}}							≡
 *	col < v   (<= > >= alike)		{f: {$lt: v}}									≡
 *	col = ANY(array) / col IN (..)	{f: {$in: [non-null elements]}}					≡
 *	col <> ALL(array)/NOT IN (..)	{f: {$nin: [elements, null]}}, or nothing
 *									matches if an element is NULL					≡
 *	col op ANY/ALL(array)			$or/$and of the comparisons						≡
 *	col IS NULL / IS NOT NULL		{f: null} / {f: {$ne: null}}					≡
 *	boolcol, NOT boolcol			{f: true}, {f: false}							≡
 *	boolcol IS [NOT] TRUE/FALSE/	{f: true}, {f: {$ne: true}}, ... {f: null}		≡
 *	UNKNOWN
 *	A AND B, A OR B, NOT A			see above										≡
 *	comparison with NULL			{"_id": {"$in": []}} (matches nothing)			≡
 *
 * with these per-type rules (the column must be a plain Var of the scanned
 * relation, not $$ROOT, possibly varchar->text or domain->base relabeled,
 * and "value" is a Const, a Param, an outer Var or a stable expression
 * without Vars of this relation, evaluated once per scan):
 *
 *	column			values				operators				notes
 *	int2/4/8		int2/4/8			= <> < <= > >=			sent as int64
 *	float8			float8, float4		= <> < <= > >=			NaN rules below
 *	numeric			numeric				= <> < <= > >=			integral |v| <= 2^53 only,
 *	(no typmod)												sent as int64; NaN rules;
 *															R for run-time values
 *	text, varchar	text				= <> (deterministic		ObjectId alternatives;
 *	(no typmod)							collation)				UTF-8 database for the
 *										< <= > >= (C/POSIX		ordering ones
 *										collation), ~<~ etc.
 *										LIKE 'prefix%', ^@		R for run-time patterns
 *	objectid		objectid			= <> < <= > >=
 *	bool			bool				all six, IS TRUE ...
 *	uuid			uuid				all six					binary subtype 4
 *	timestamptz		timestamptz			all six					whole milliseconds only;
 *	timestamp		timestamp									R for run-time values
 *	date			date				all six					midnight UTC; R for
 *																run-time values
 *
 * Everything else is local: other types (bpchar, float4, bytea, json,
 * arrays ..., varchar(n) which drops trailing spaces beyond n, numeric(p,s)
 * which rounds), casts on the column, cross-type date/time comparisons
 * (they depend on TimeZone), ILIKE and regular expressions, LIKE with "_"
 * or an inner "%", column-to-column comparisons, volatile functions.
 *
 * Size.  A filter is built in time and memory linear in its conditions:
 * an array's elements are folded into one $in/$nin list as they come
 * (fold_element), lists grow in place, and merging compares a term only
 * with a bounded number of others.  Its BSON size is computed before it is
 * written (filter_size); one over the caller's limit (MongoDB refuses
 * commands over 16 MB) is split into several finds, each with a slice of
 * its largest $in, or loses the terms that cannot be split, which the scan
 * then checks locally (split_filter, ng_deparse_filter_parts).
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/plan/deparse.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/sysattr.h"
#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "utils/array.h"
#include "utils/arrayaccess.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/float.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/pg_locale.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "nutragenie.h"

/* Integers up to this magnitude are exact in a double. */
#define NG_MAX_EXACT_DOUBLE_INT ((int64) 1 << 53)

/* Milliseconds between 1970-01-01 and PostgreSQL's epoch 2000-01-01. */
#define NG_PG_EPOCH_MS \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000)
#define NG_MS_PER_DAY ((int64) SECS_PER_DAY * 1000)

/*
 * The deepest filter pushed, in BSON levels: the filter document is level
 * 1, and each document or array in it adds one.  MongoDB documents a limit
 * of 100 levels for a BSON document, and its query parser refuses a query
 * tree deeper than 100 ($and/$or/$nor/$not/$elemMatch each count one, and
 * take two BSON levels here).  The filter is sent at most three levels
 * down in its command (aggregate, pipeline array, $match stage; a find's
 * filter is one down), and ANDing the pushed conditions of a scan or the
 * split of a large $in may wrap it in an $and and a document, two more:
 * 100 - 3 - 2 = 95, rounded down to leave a margin.  A condition whose
 * filter would be deeper stays local.
 */
#define NG_MAX_FILTER_DEPTH 90

/* Hex digits of an ObjectId. */
#define NG_OID_HEX_LEN (NG_OBJECTID_LEN * 2)

/* The six comparisons, in an order where NG_CMP_LAST - x negates x. */
typedef enum NgCmp
{
	NG_CMP_EQ,
	NG_CMP_LT,
	NG_CMP_LE,
	NG_CMP_GT,
	NG_CMP_GE,
	NG_CMP_NE
} NgCmp;

/*
 * A filter under construction, in palloc'd memory.  Building it may throw
 * (catalog lookups, evaluating parameters, out of memory); only when it is
 * complete is it written into a bson_t, by code that does not throw, so no
 * malloc'd libbson memory can leak on an error.
 */
typedef enum NgFilterKind
{
	NG_F_ALL,					/* matches every document */
	NG_F_NONE,					/* matches no document */
	NG_F_AND,
	NG_F_OR,
	NG_F_NOR,
	NG_F_FIELD					/* {path: {op: value, ...}} */
} NgFilterKind;

/* One operand value: a BSON value, or a placeholder for EXPLAIN. */
typedef struct NgFilterValue
{
	bson_value_t value;			/* when label == NULL */
	const char *label;			/* run-time value: {"$param": label} */
	const char *derived;		/* ... transformed: {"$param": label, "$as":
								 * derived} */
} NgFilterValue;

/* One query operator applied to a field. */
typedef struct NgFilterOp
{
	const char *name;			/* "$eq", "$in", "$regex", ... */
	bool		is_list;		/* operand is an array of values */
	NgFilterValue *value;		/* operand unless is_list or sub */
	List	   *values;			/* NgFilterValue * list if is_list */
	List	   *sub;			/* operand {op: value, ...}: NgFilterOp * */
} NgFilterOp;

typedef struct NgFilter
{
	NgFilterKind kind;
	List	   *children;		/* AND, OR, NOR */
	const char *path;			/* FIELD */
	List	   *ops;			/* FIELD: NgFilterOp * list */
} NgFilter;

/*
 * A filter ready to send, as one find or several (split_filter).
 */
struct NgFilterParts
{
	NgFilter   *whole;			/* not split: the filter of the one find */
	/* split: find i sends rest AND field, field's $in holding the values */
	List	   *rest;			/* the terms every find repeats */
	NgFilter   *field;			/* the term whose $in is split */
	int			in_index;		/* position of that $in in field->ops */
	NgFilterValue **values;		/* its distinct values, sorted */
	int			nvalues;
	int			in_values;		/* values before duplicates were dropped */
	int		   *starts;			/* find i sends values[starts[i] ..
								 * starts[i + 1]) */
	int			nparts;			/* finds */
	int			dropped;		/* terms left out, checked locally */
	bool		lossy;			/* dropped > 0 */
};

/* A FIELD of a merge's result list that later children may merge into. */
typedef struct NgMergeSlot
{
	const char *path;
	int			index;			/* its position in the result list */
	bool		owned;			/* made by this merge: may grow in place */
} NgMergeSlot;

/* A term of a conjunction and the bytes it takes (split_filter). */
typedef struct NgTermSize
{
	int			index;			/* position among the terms */
	Size		size;
} NgTermSize;

/* FIELDs of one path a conjunction's child is compared with. */
#define NG_MERGE_SLOTS_PER_PATH 8

/* State of one walk over a condition. */
typedef struct NgDeparseCtx
{
	NgTableOptions *opts;
	Index		relid;			/* planner: the scanned relation's varno */
	bool		planning;		/* deciding only: values may be unknown */
	NgParamEval eval;			/* executor: evaluates run-time values */
	void	   *eval_arg;
	bool		recheck;		/* out: filter may be a strict superset */
	bool		too_large;		/* out: an array was too large to deparse */
} NgDeparseCtx;

/* A column operand. */
typedef struct NgColumnRef
{
	NgColumn   *column;
	NgTypeClass tclass;
	Oid			typid;			/* base type of the column */
} NgColumnRef;

/* A value operand. */
typedef struct NgValueRef
{
	bool		known;			/* false: run-time value not available */
	bool		isnull;
	Datum		datum;
	Oid			typid;			/* type the operator takes it as */
	const char *label;			/* for placeholders */
} NgValueRef;

/*
 * An array condition (col op ANY/ALL (array)) being built element by
 * element; see fold_element.
 */
typedef struct NgArrayFold
{
	NgDeparseCtx *ctx;
	NgColumnRef *col;
	NgCmp		cmp;			/* per element, negation applied */
	Oid			collid;
	bool		disjunction;	/* the parts are ORed (else ANDed) */
	bool		foldable;		/* "=" ORed or "<>" ANDed: one $in/$nin */
	MemoryContext outer;		/* where the result is built */
	MemoryContext scratch;		/* one element's filter, reset after it */
	bool		has_null;		/* a NULL element was seen */
	List	   *parts;			/* the parts, the folded list among them */
	NgFilter   *folded;			/* the $in or $nin collecting elements */
	NgFilterOp *folded_op;
	int			nfolded;		/* elements folded into it */
	bool		single_eq;		/* the first folded part was a lone $eq */
} NgArrayFold;

/*
 * What deparsing an array's elements may allocate, per element beyond the
 * array's own bytes (a value, its list cell, a copy of a string), and the
 * most we allow: an array beyond it is checked locally rather than sent.
 */
#define NG_FOLD_BYTES_PER_VALUE	128
#define NG_MAX_FOLD_BYTES		((Size) 512 * 1024 * 1024)

/* A LIKE-family condition, reduced to what we can push. */
typedef enum NgPatternKind
{
	NG_PAT_EQUAL,				/* no wildcard: equality */
	NG_PAT_PREFIX				/* literal prefix, then only '%' */
} NgPatternKind;

static NgFilter *build_condition(NgDeparseCtx *ctx, Node *node, bool negate);
static NgFilter *build_bool_expr(NgDeparseCtx *ctx, BoolExpr *expr,
								 bool negate);
static NgFilter *build_op_expr(NgDeparseCtx *ctx, OpExpr *expr, bool negate);
static NgFilter *build_array_op(NgDeparseCtx *ctx, ScalarArrayOpExpr *expr,
								bool negate);
static bool fold_array(NgArrayFold *af, Datum arraydatum, Oid righttype);
static bool fold_element(NgArrayFold *af, NgValueRef *val);
static void fold_done(NgArrayFold *af);
static NgFilter *build_null_test(NgDeparseCtx *ctx, NullTest *expr,
								 bool negate);
static NgFilter *build_boolean_test(NgDeparseCtx *ctx, BooleanTest *expr,
									bool negate);
static NgFilter *build_bool_column(NgDeparseCtx *ctx, NgColumnRef *col,
								   bool negate);
static NgFilter *build_comparison(NgDeparseCtx *ctx, NgColumnRef *col,
								  NgCmp cmp, NgValueRef *val, Oid collid);
static NgFilter *build_int_comparison(const char *path, NgCmp cmp,
									  NgValueRef *val);
static NgFilter *build_float_comparison(const char *path, NgCmp cmp,
										NgValueRef *val);
static NgFilter *nan_aware_comparison(const char *path, NgCmp cmp,
									  NgFilterValue *value, bool v_is_nan);
static NgFilter *build_numeric_comparison(NgDeparseCtx *ctx,
										  const char *path, NgCmp cmp,
										  NgValueRef *val);
static NgFilter *build_text_comparison(const char *path, NgCmp cmp,
									   NgValueRef *val);
static NgFilter *build_string_comparison(const char *path, NgCmp cmp,
										 const char *s);
static NgFilter *build_text_pattern(NgDeparseCtx *ctx, const char *path,
									bool is_like, NgValueRef *val,
									bool negate);
static NgFilter *build_bool_comparison(const char *path, NgCmp cmp,
									   NgValueRef *val);
static NgFilter *build_timestamp_comparison(NgDeparseCtx *ctx,
											const char *path, NgCmp cmp,
											NgValueRef *val);
static NgFilter *build_date_comparison(NgDeparseCtx *ctx, const char *path,
									   NgCmp cmp, NgValueRef *val);
static NgFilter *build_simple_comparison(const char *path, NgCmp cmp,
										 NgFilterValue *value);
static NgFilter *build_objectid_range(const char *path, NgCmp cmp,
									  const char *s);

static bool get_column(NgDeparseCtx *ctx, Node *node, NgColumnRef *col);
static bool get_value(NgDeparseCtx *ctx, Expr *expr, Oid typid,
					  NgValueRef *val);
static bool is_run_time_value(NgDeparseCtx *ctx, Node *node);
static bool run_time_value_walker(Node *node, NgDeparseCtx *ctx);
static NgTypeClass type_class(Oid typid);
static bool operator_fits(NgTypeClass tclass, Oid coltype, Oid optype,
						  Oid valtype);
static bool lookup_comparison(const char *name, NgCmp *cmp, bool *c_order);
static NgCmp commute_cmp(NgCmp cmp);
static NgCmp negate_cmp(NgCmp cmp);
static const char *cmp_operator(NgCmp cmp);

static bool datum_to_int64(Datum datum, Oid typid, int64 *result);
static bool numeric_to_int64(Datum datum, int64 *result);
static char *datum_to_utf8(Datum datum);
static bool parse_like_pattern(const char *pattern, NgPatternKind *kind,
							   char **literal);
static char *regex_escape_prefix(const char *literal);
static bool is_objectid_hex(const char *s, size_t len);
static bool is_hex_prefix(const char *s);
static void hex_to_oid(const char *hex, bson_oid_t *oid);

static NgFilterValue *value_placeholder(NgValueRef *val, const char *derived);
static NgFilterValue *value_int64(int64 v);
static NgFilterValue *value_double(double v);
static NgFilterValue *value_utf8(const char *s);
static NgFilterValue *value_oid_hex(const char *hex);
static NgFilterValue *value_oid_bytes(const uint8 *bytes);
static NgFilterValue *value_bool(bool v);
static NgFilterValue *value_null(void);
static NgFilterValue *value_date(int64 ms);
static NgFilterValue *value_uuid(const pg_uuid_t *uuid);
static NgFilterValue *copy_value(const NgFilterValue *v);

static NgFilter *filter_all(void);
static NgFilter *filter_none(void);
static NgFilter *filter_field(const char *path, const char *opname,
							  NgFilterValue *value);
static NgFilter *filter_field_list(const char *path, const char *opname,
								   List *values);
static NgFilter *filter_is_nan(const char *path);
static NgFilter *filter_combine(NgFilterKind kind, List *children);
static NgFilter *filter_nor(List *children);
static List *merge_and_fields(List *children);
static List *merge_or_fields(List *children);
static bool field_single_op(NgFilter *f, const char *name, bool list);

static void append_filter(bson_t *doc, NgFilter *f);
static void append_filter_array(bson_t *doc, const char *key, List *filters);
static void append_field(bson_t *doc, NgFilter *f);
static void append_ops(bson_t *doc, List *ops);
static void append_value(bson_t *doc, const char *key, NgFilterValue *v);
static bool and_is_inlinable(NgFilter *f);
static int	filter_depth(NgFilter *f);
static int	ops_depth(List *ops);
static const char *filter_top_key(NgFilter *f);

static Size index_key_size(int i);
static Size value_element_size(Size keysize, const NgFilterValue *v);
static Size ops_size(List *ops);
static Size filter_array_size(const char *key, List *filters);
static Size filter_size(NgFilter *f);
static int	split_value_cmp(const void *a, const void *b);
static int	splittable_in(NgFilter *f);
static int	term_size_cmp(const void *a, const void *b);
static NgFilter *part_filter(const NgFilterParts *parts, int i);
static void split_filter(NgFilterParts *parts, NgFilter *f, Size max_bytes);


/* ------------------------------------------------------------------------
 * Public entry points
 * ------------------------------------------------------------------------
 */

/*
 * ng_classify_conditions
 *		Split RestrictInfos into those MongoDB evaluates and those evaluated
 *		locally.
 *
 * A condition pushed as a superset of its rows (see ng_is_foreign_expr)
 * goes into both lists.  The lists are built in the current memory context;
 * the RestrictInfos are not copied.
 */
void
ng_classify_conditions(PlannerInfo *root, RelOptInfo *baserel,
					   NgTableOptions *opts, List *input_conds,
					   List **remote_conds, List **local_conds)
{
	ListCell   *lc;

	*remote_conds = NIL;
	*local_conds = NIL;

	foreach(lc, input_conds)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		bool		needs_recheck = false;

		if (ng_is_foreign_expr(root, baserel, opts, ri->clause,
							   &needs_recheck))
		{
			*remote_conds = lappend(*remote_conds, ri);
			if (needs_recheck)
				*local_conds = lappend(*local_conds, ri);
		}
		else
			*local_conds = lappend(*local_conds, ri);
	}
}

/*
 * ng_is_foreign_expr
 *		Can MongoDB evaluate boolean expression "expr" on "baserel"?
 *
 * True when ng_deparse_filter can translate it.  *needs_recheck is then set
 * when the translation may match more documents than the condition accepts
 * (values known only at run time that may turn out not representable, or a
 * column with type_mismatch 'null'): the caller must also evaluate the
 * condition locally.  Vars of other relations count as run-time values, as
 * they will be nested-loop parameters.  Works in the current memory context
 * and throws only on catalog errors.
 */
bool
ng_is_foreign_expr(PlannerInfo *root, RelOptInfo *baserel,
				   NgTableOptions *opts, Expr *expr, bool *needs_recheck)
{
	return ng_is_foreign_expr_on(opts, baserel->relid, expr, needs_recheck);
}

/*
 * ng_is_foreign_expr_on
 *		ng_is_foreign_expr for the relation whose Vars have varno "relid"
 *		and whose columns "opts" describes.
 *
 * upper.c uses it with a made-up relation: the columns of an aggregation's
 * result document (count in "o1", a GROUP BY column in "_id"), so that HAVING
 * conditions get exactly the rules of WHERE conditions.
 */
bool
ng_is_foreign_expr_on(NgTableOptions *opts, Index relid, Expr *expr,
					  bool *needs_recheck)
{
	NgDeparseCtx ctx;
	NgFilter   *f;
	MemoryContext cxt;
	MemoryContext oldcxt;

	memset(&ctx, 0, sizeof(ctx));
	ctx.opts = opts;
	ctx.relid = relid;
	ctx.planning = true;

	/* the filter built to decide is thrown away */
	cxt = AllocSetContextCreate(CurrentMemoryContext, "nutragenie deparse",
								ALLOCSET_SMALL_SIZES);
	oldcxt = MemoryContextSwitchTo(cxt);
	f = build_condition(&ctx, (Node *) expr, false);
	if (f != NULL && filter_depth(f) > NG_MAX_FILTER_DEPTH)
		f = NULL;				/* MongoDB would refuse it: keep it local */
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(cxt);
	if (needs_recheck)
		*needs_recheck = (f != NULL && ctx.recheck);
	return f != NULL;
}

/*
 * ng_deparse_column
 *		The column "node" stands for, if it is one conditions may be put on:
 *		a Var of relation "relid" (under RelabelTypes that do not change the
 *		value), not $$ROOT, of a type in one of the classes above.
 *
 * Sets *basetype (the column's type with domains resolved) and *tclass.
 * Returns NULL for anything else.  Used by upper.c to decide which sort
 * keys, GROUP BY columns and aggregate arguments MongoDB can handle.
 */
NgColumn *
ng_deparse_column(NgTableOptions *opts, Index relid, Node *node,
				  Oid *basetype, NgTypeClass *tclass)
{
	NgDeparseCtx ctx;
	NgColumnRef col;

	memset(&ctx, 0, sizeof(ctx));
	ctx.opts = opts;
	ctx.relid = relid;
	ctx.planning = true;

	if (node == NULL || !get_column(&ctx, node, &col))
		return NULL;
	*basetype = col.typid;
	*tclass = col.tclass;
	return col.column;
}

/*
 * ng_deparse_filter_parts
 *		The MongoDB filter for the AND of "remote_conds" (plain expressions,
 *		Vars all of the scanned relation, as produced by setrefs), as one or
 *		more finds of at most max_bytes of filter each.
 *
 * Non-Const values are computed with eval(eval_arg, node, &isnull); each
 * node passed is a value operand (or array element) of remote_conds.  With
 * eval NULL (EXPLAIN without execution) each such value is shown as
 * {"$param": "$n"} (a Param) or {"$param": "expr"} (another expression),
 * and {"$param": ..., "$as": "..."} where the filter uses a value derived
 * from it ("objectId": the ObjectId bound of a text comparison; "regex":
 * the regular expression made of a LIKE pattern).
 *
 * A filter larger than max_bytes is split (split_filter): the finds
 * together return each matching document once.  Where that cannot be done
 * exactly, terms are left out and ng_filter_parts_lossy says so: the
 * caller must then check every condition locally, and must not push a
 * sort, skip, limit or grouping.  An array too large to deparse at all is
 * left out the same way.  Build time and memory are linear in the
 * conditions' size.
 *
 * Builds in the current memory context and may throw (evaluation errors);
 * it never leaves malloc'd memory behind.
 */
NgFilterParts *
ng_deparse_filter_parts(NgTableOptions *opts, List *remote_conds,
						NgParamEval eval, void *eval_arg, Size max_bytes)
{
	NgDeparseCtx ctx;
	List	   *parts = NIL;
	ListCell   *lc;
	NgFilter   *f;
	NgFilterParts *result = palloc0(sizeof(NgFilterParts));
	int			left_out = 0;

	memset(&ctx, 0, sizeof(ctx));
	ctx.opts = opts;
	ctx.relid = 0;
	ctx.planning = false;
	ctx.eval = eval;
	ctx.eval_arg = eval_arg;

	foreach(lc, remote_conds)
	{
		Node	   *cond = (Node *) lfirst(lc);

		if (IsA(cond, RestrictInfo))
			cond = (Node *) ((RestrictInfo *) cond)->clause;
		ctx.too_large = false;
		f = build_condition(&ctx, cond, false);
		if (f == NULL && ctx.too_large)
		{
			left_out++;
			continue;
		}
		if (f == NULL)
			elog(ERROR, "could not translate a pushed-down condition into a MongoDB filter");
		parts = lappend(parts, f);
	}

	f = filter_combine(NG_F_AND, parts);
	split_filter(result, f, max_bytes);
	result->dropped += left_out;
	result->lossy = result->dropped > 0;
	return result;
}

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
	append_filter(filter, part_filter(parts, i));
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

/*
 * ng_deparse_filter
 *		Append to "filter" (initialized, empty) the MongoDB filter for the
 *		AND of "remote_conds", for a command that cannot be split
 *		(ng_deparse_filter_parts explains the arguments).  Raises
 *		program_limit_exceeded, before writing anything, when it would not
 *		fit in nutragenie.max_filter_size.
 */
void
ng_deparse_filter(bson_t *filter, NgTableOptions *opts, List *remote_conds,
				  NgParamEval eval, void *eval_arg)
{
	NgFilterParts *parts = ng_deparse_filter_parts(opts, remote_conds, eval,
												   eval_arg,
												   NG_MAX_FILTER_BYTES);

	if (parts->nparts != 1 || parts->lossy)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("MongoDB filter for foreign table \"%s\" is too large",
						opts->relname),
				 errdetail("The filter would exceed nutragenie.max_filter_size (%d kB).",
						   ng_max_filter_size_kb)));
	ng_filter_parts_append(filter, parts, 0);
}

/*
 * ng_deparse_projection
 *		Append to "projection" (initialized, empty) the MongoDB projection of
 *		the columns in attrs_used (attribute numbers offset by
 *		FirstLowInvalidHeapAttributeNumber).
 *
 * Appends nothing (= whole documents) when the whole row or a $$ROOT column
 * is needed.  Otherwise "_id" always comes first (the scan names documents
 * by it), then each needed column's path in attribute order, leaving out a
 * path when it or one of its prefixes is already there: MongoDB rejects
 * projections with colliding paths ("a" and "a.b").  With no column needed
 * the projection is {"_id": 1}.
 */
void
ng_deparse_projection(bson_t *projection, NgTableOptions *opts,
					  Bitmapset *attrs_used)
{
	List	   *paths = NIL;
	ListCell   *lc;
	int			i;

	if (bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, attrs_used))
		return;

	for (i = 0; i < opts->natts; i++)
	{
		NgColumn   *column = &opts->columns[i];

		if (column->field == NULL ||
			!bms_is_member(column->attnum - FirstLowInvalidHeapAttributeNumber,
						   attrs_used))
			continue;
		if (column->is_root)
			return;
		paths = lappend(paths, column->field);
	}

	/* "_id" first; then drop each path covered by another one. */
	paths = lcons("_id", paths);
	foreach(lc, paths)
	{
		const char *path = (const char *) lfirst(lc);
		size_t		len = strlen(path);
		bool		covered = false;
		ListCell   *lc2;

		foreach(lc2, paths)
		{
			const char *other = (const char *) lfirst(lc2);
			size_t		olen = strlen(other);

			if (lc2 == lc)
				continue;
			/* a proper prefix, or the same path appearing earlier */
			if ((olen < len && strncmp(path, other, olen) == 0 &&
				 path[olen] == '.') ||
				(olen == len && strcmp(path, other) == 0 &&
				 foreach_current_index(lc2) < foreach_current_index(lc)))
			{
				covered = true;
				break;
			}
		}
		if (!covered)
			bson_append_int32(projection, path, -1, 1);
	}
}

/*
 * ng_bson_as_json
 *		Relaxed Extended JSON text of "doc", palloc'd in the current context.
 *
 * Keys keep their order, so output for a given document is deterministic.
 * libbson pads every token with spaces ({ "a" : 1 }); the text is re-spaced
 * the way PostgreSQL prints json ({"a": 1}), leaving string contents alone.
 */
char *
ng_bson_as_json(const bson_t *doc)
{
	size_t		len;
	char	   *json;
	StringInfoData buf;
	bool		in_string = false;
	size_t		i;

	json = bson_as_relaxed_extended_json(doc, &len);
	if (json == NULL)
		elog(ERROR, "could not convert a BSON document to JSON");

	buf.data = palloc_extended(len + 1, MCXT_ALLOC_NO_OOM);
	if (buf.data == NULL)
	{
		bson_free(json);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	}
	buf.maxlen = len + 1;
	buf.len = 0;
	buf.cursor = 0;

	for (i = 0; i < len; i++)
	{
		char		c = json[i];

		if (in_string)
		{
			buf.data[buf.len++] = c;
			if (c == '\\' && i + 1 < len)
				buf.data[buf.len++] = json[++i];
			else if (c == '"')
				in_string = false;
			continue;
		}
		if (c == ' ')
			continue;
		buf.data[buf.len++] = c;
		if (c == '"')
			in_string = true;
		else if ((c == ':' || c == ',') && buf.len < (int) len)
			buf.data[buf.len++] = ' ';
	}
	buf.data[buf.len] = '\0';
	bson_free(json);
	return buf.data;
}


/* ------------------------------------------------------------------------
 * Walking conditions
 * ------------------------------------------------------------------------
 */

/*
 * Build T(node) (negate false) or F(node) (negate true); NULL when the
 * condition cannot be pushed.
 */
static NgFilter *
build_condition(NgDeparseCtx *ctx, Node *node, bool negate)
{
	NgColumnRef col;

	if (node == NULL)
		return NULL;

	check_stack_depth();
	switch (nodeTag(node))
	{
		case T_BoolExpr:
			return build_bool_expr(ctx, (BoolExpr *) node, negate);
		case T_OpExpr:
			return build_op_expr(ctx, (OpExpr *) node, negate);
		case T_ScalarArrayOpExpr:
			return build_array_op(ctx, (ScalarArrayOpExpr *) node, negate);
		case T_NullTest:
			return build_null_test(ctx, (NullTest *) node, negate);
		case T_BooleanTest:
			return build_boolean_test(ctx, (BooleanTest *) node, negate);
		case T_Var:
		case T_RelabelType:
			if (get_column(ctx, node, &col) && col.tclass == NG_TC_BOOL)
				return build_bool_column(ctx, &col, negate);
			return NULL;
		case T_Const:
			{
				Const	   *c = (Const *) node;

				/*
				 * WHERE ... OR true: TRUE everywhere, or FALSE everywhere; a
				 * NULL constant is neither.
				 */
				if (c->consttype != BOOLOID)
					return NULL;
				if (c->constisnull)
					return filter_none();
				return (DatumGetBool(c->constvalue) != negate) ?
					filter_all() : filter_none();
			}
		default:
			return NULL;
	}
}

/*
 * AND, OR and NOT through the three-valued identities in the file header:
 *
 *	a = 1 OR b = 2			{$or: [{a: 1}, {b: 2}]}
 *	NOT (a = 1 OR b = 2)	{a: {$nin: [1, null]}, b: {$nin: [2, null]}}
 *	NOT (a = 1 AND b = 2)	{$or: [{a: {$nin: [1, null]}}, {b: {$nin: [2, null]}}]}
 */
static NgFilter *
build_bool_expr(NgDeparseCtx *ctx, BoolExpr *expr, bool negate)
{
	List	   *children = NIL;
	ListCell   *lc;
	NgFilterKind kind;

	switch (expr->boolop)
	{
		case NOT_EXPR:
			return build_condition(ctx, linitial(expr->args), !negate);
		case AND_EXPR:
			kind = negate ? NG_F_OR : NG_F_AND;
			break;
		case OR_EXPR:
			kind = negate ? NG_F_AND : NG_F_OR;
			break;
		default:
			return NULL;
	}

	foreach(lc, expr->args)
	{
		NgFilter   *child = build_condition(ctx, lfirst(lc), negate);

		if (child == NULL)
			return NULL;
		children = lappend(children, child);
	}
	return filter_combine(kind, children);
}

/*
 * col op value, value op col, and the LIKE family.
 */
static NgFilter *
build_op_expr(NgDeparseCtx *ctx, OpExpr *expr, bool negate)
{
	Node	   *left;
	Node	   *right;
	NgColumnRef col;
	NgValueRef	val;
	Expr	   *valexpr;
	Oid			lefttype;
	Oid			righttype;
	Oid			coloptype;
	Oid			valoptype;
	const char *opname;
	NgCmp		cmp;
	bool		c_order = false;
	bool		col_on_left;

	if (list_length(expr->args) != 2 || !ng_is_shippable_op(expr->opno))
		return NULL;
	left = linitial(expr->args);
	right = lsecond(expr->args);
	op_input_types(expr->opno, &lefttype, &righttype);

	if (get_column(ctx, left, &col))
		col_on_left = true;
	else if (get_column(ctx, right, &col))
		col_on_left = false;
	else
		return NULL;

	valexpr = (Expr *) (col_on_left ? right : left);
	coloptype = col_on_left ? lefttype : righttype;
	valoptype = col_on_left ? righttype : lefttype;
	if (!operator_fits(col.tclass, col.typid, coloptype, valoptype))
		return NULL;
	if (!get_value(ctx, valexpr, valoptype, &val))
		return NULL;

	opname = get_opname(expr->opno);
	if (opname == NULL)
		return NULL;

	/* LIKE, NOT LIKE and ^@ (starts_with): text column on the left only. */
	if (strcmp(opname, "~~") == 0 || strcmp(opname, "!~~") == 0 ||
		strcmp(opname, "^@") == 0)
	{
		bool		not_like = (strcmp(opname, "!~~") == 0);

		if (col.tclass != NG_TC_TEXT || !col_on_left ||
			!OidIsValid(expr->inputcollid) ||
			!get_collation_isdeterministic(expr->inputcollid))
			return NULL;
		if (col.column->mismatch == NG_MISMATCH_NULL)
			ctx->recheck = true;
		return build_text_pattern(ctx, col.column->field,
								  strcmp(opname, "^@") != 0, &val,
								  negate != not_like);
	}

	if (!lookup_comparison(opname, &cmp, &c_order))
		return NULL;
	if (!col_on_left)
		cmp = commute_cmp(cmp);
	if (negate)
		cmp = negate_cmp(cmp);
	if (c_order && col.tclass != NG_TC_TEXT)
		return NULL;

	/*
	 * Text: equality is bytewise under every deterministic collation;
	 * ordering matches MongoDB's UTF-8 byte order only under "C"/"POSIX" in a
	 * UTF-8 database (or with the ~<~ family, which always compares bytes).
	 */
	if (col.tclass == NG_TC_TEXT)
	{
		if (!OidIsValid(expr->inputcollid))
			return NULL;
		if (cmp == NG_CMP_EQ || cmp == NG_CMP_NE)
		{
			if (!c_order && !get_collation_isdeterministic(expr->inputcollid))
				return NULL;
		}
		else if (GetDatabaseEncoding() != PG_UTF8 ||
				 (!c_order && !ng_collate_is_c(expr->inputcollid)))
			return NULL;
	}

	return build_comparison(ctx, &col, cmp, &val, expr->inputcollid);
}

/*
 * col op ANY (array) and col op ALL (array), for any of the six
 * comparisons.  With e1..en the array elements:
 *
 *	T(col op ANY) = T(col op e1) $or ... (NULL elements contribute nothing)
 *	F(col op ANY) = F(col op e1) $and ...  or nothing if an element is NULL
 *	T(col op ALL) = T(col op e1) $and ...  or nothing if an element is NULL
 *	F(col op ALL) = F(col op e1) $or ...
 *
 * An empty array makes ANY false and ALL true for every row, NULL columns
 * included; $or of nothing matches nothing and $and of nothing everything,
 * so the formulas hold for it too.  A NULL array makes the result NULL.
 * Merging then gives the familiar forms:
 *
 *	col IN (1, 2, NULL)			{col: {$in: [1, 2]}}
 *	col NOT IN (1, 2)			{col: {$nin: [1, null, 2]}}
 *	col NOT IN (1, NULL)		{"_id": {"$in": []}}
 *	col IN ('5f0c...', 'x')		{col: {$in: ["5f0c...", {"$oid": "5f0c..."}, "x"]}}
 *
 * The array is a constant, an ARRAY[...] of values, or (for = ANY and
 * <> ALL only) a run-time array value.
 */
static NgFilter *
build_array_op(NgDeparseCtx *ctx, ScalarArrayOpExpr *expr, bool negate)
{
	Node	   *left;
	Node	   *right;
	NgColumnRef col;
	Oid			lefttype;
	Oid			righttype;
	Oid			elemtype;
	const char *opname;
	NgCmp		cmp;
	bool		c_order = false;
	NgArrayFold af;
	ListCell   *lc;
	NgFilter   *result;

	if (list_length(expr->args) != 2 || !ng_is_shippable_op(expr->opno))
		return NULL;
	left = linitial(expr->args);
	right = lsecond(expr->args);
	if (!get_column(ctx, left, &col))
		return NULL;
	op_input_types(expr->opno, &lefttype, &righttype);
	if (!operator_fits(col.tclass, col.typid, lefttype, righttype))
		return NULL;
	opname = get_opname(expr->opno);
	if (opname == NULL || !lookup_comparison(opname, &cmp, &c_order))
		return NULL;
	if (c_order && col.tclass != NG_TC_TEXT)
		return NULL;
	if (col.tclass == NG_TC_TEXT)
	{
		if (!OidIsValid(expr->inputcollid))
			return NULL;
		if (cmp == NG_CMP_EQ || cmp == NG_CMP_NE)
		{
			if (!c_order && !get_collation_isdeterministic(expr->inputcollid))
				return NULL;
		}
		else if (GetDatabaseEncoding() != PG_UTF8 ||
				 (!c_order && !ng_collate_is_c(expr->inputcollid)))
			return NULL;
	}

	elemtype = get_element_type(exprType(right));
	if (!OidIsValid(elemtype))
		return NULL;

	/* ANY with T, or ALL with F, is a disjunction; the others conjunctions */
	memset(&af, 0, sizeof(af));
	af.ctx = ctx;
	af.col = &col;
	af.collid = expr->inputcollid;
	af.disjunction = (expr->useOr != negate);
	af.cmp = negate ? negate_cmp(cmp) : cmp;
	af.foldable = (af.disjunction && af.cmp == NG_CMP_EQ) ||
		(!af.disjunction && af.cmp == NG_CMP_NE);
	af.outer = CurrentMemoryContext;

	/* Fold the elements in, one by one. */
	if (IsA(right, Const))
	{
		Const	   *c = (Const *) right;

		if (c->constisnull)
			return filter_none();
		if (!fold_array(&af, c->constvalue, righttype))
			return NULL;
	}
	else if (IsA(right, ArrayExpr) && !((ArrayExpr *) right)->multidims)
	{
		foreach(lc, ((ArrayExpr *) right)->elements)
		{
			NgValueRef	val;

			if (!get_value(ctx, (Expr *) lfirst(lc), righttype, &val) ||
				!fold_element(&af, &val))
			{
				fold_done(&af);
				return NULL;
			}
		}
	}
	else
	{
		NgValueRef	arrval;

		/* A whole array known at run time: = ANY and <> ALL only. */
		if (!((cmp == NG_CMP_EQ && expr->useOr) ||
			  (cmp == NG_CMP_NE && !expr->useOr)))
			return NULL;
		if (!get_value(ctx, (Expr *) right, exprType(right), &arrval))
			return NULL;

		if (!arrval.known)
		{
			NgValueRef	probe;
			NgFilterValue *v;
			bool		positive = (expr->useOr != negate);

			/*
			 * Decide with an unknown element (this sets ctx->recheck for
			 * value-dependent types), then show the array as a whole.
			 */
			memset(&probe, 0, sizeof(probe));
			probe.typid = righttype;
			probe.label = arrval.label;
			if (build_comparison(ctx, &col, cmp, &probe,
								 expr->inputcollid) == NULL)
				return NULL;
			v = value_placeholder(&arrval, NULL);
			if (positive)
				return filter_field(col.column->field, "$in", v);
			return filter_combine(NG_F_AND,
								  list_make2(filter_field(col.column->field,
														  "$nin", v),
											 filter_field(col.column->field,
														  "$ne",
														  value_null())));
		}
		else if (arrval.isnull)
			return filter_none();
		else if (!fold_array(&af, arrval.datum, righttype))
			return NULL;
	}
	fold_done(&af);

	if (ctx->planning)
		return filter_all();	/* only "pushable or not" is asked */
	if (!af.disjunction && af.has_null)
		return filter_none();
	if (af.folded != NULL && af.nfolded == 1 && af.single_eq)
	{
		/* a single "=" keeps its plain form {f: v} */
		NgFilterOp *op = linitial(af.folded->ops);

		op->name = "$eq";
		op->is_list = false;
		op->value = linitial(op->values);
		op->values = NIL;
	}
	result = filter_combine(af.disjunction ? NG_F_OR : NG_F_AND, af.parts);
	return result;
}

/*
 * Fold every element of the array "arraydatum" into af.  An array too
 * large to be worth sending (NG_MAX_FOLD_BYTES, counting what deparsing it
 * would allocate) is not pushed: at planning time the condition stays
 * local, at run time the scan checks it locally (ctx->too_large), so that
 * no array, however large, can exhaust the backend's memory here.
 */
static bool
fold_array(NgArrayFold *af, Datum arraydatum, Oid righttype)
{
	ArrayType  *arr = DatumGetArrayTypeP(arraydatum);
	int			n = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
	int16		typlen;
	bool		typbyval;
	char		typalign;
	array_iter	it;
	int			i;

	if ((double) n * NG_FOLD_BYTES_PER_VALUE +
		2.0 * (double) ARR_SIZE(arr) > (double) NG_MAX_FOLD_BYTES)
	{
		af->ctx->too_large = true;
		return false;
	}
	get_typlenbyvalalign(ARR_ELEMTYPE(arr), &typlen, &typbyval, &typalign);
	array_iter_setup(&it, (AnyArrayType *) arr);
	for (i = 0; i < n; i++)
	{
		NgValueRef	val;

		memset(&val, 0, sizeof(val));
		val.known = true;
		val.typid = righttype;
		val.datum = array_iter_next(&it, &val.isnull, i, typlen, typbyval,
									typalign);
		if (!fold_element(af, &val))
		{
			fold_done(af);
			return false;
		}
		if ((i & 1023) == 1023)
			CHECK_FOR_INTERRUPTS();
	}
	return true;
}

/*
 * Add T(col cmp val) (cmp already negated for F) to the array condition
 * being built; false when it cannot be pushed.
 *
 * Equalities of a disjunction ($eq, or the $in of a text value and its
 * ObjectId) and inequalities of a conjunction ($nin) fold into one $in or
 * $nin list, built in place: each element's filter is made in a scratch
 * context, its values are copied out and the scratch is reset, so the
 * condition costs one value per element, in time and memory linear in the
 * array.  Anything else (a NaN, a range, a pattern) becomes a part of its
 * own.  At planning time nothing is kept: only pushability is asked.
 */
static bool
fold_element(NgArrayFold *af, NgValueRef *val)
{
	NgFilter   *part;
	MemoryContext oldcxt;
	NgFilterOp *op;
	ListCell   *lc;

	if (val->known && val->isnull)
	{
		af->has_null = true;
		return true;
	}

	if (!af->foldable && !af->ctx->planning)
	{
		part = build_comparison(af->ctx, af->col, af->cmp, val, af->collid);
		if (part == NULL)
			return false;
		af->parts = lappend(af->parts, part);
		return true;
	}

	if (af->scratch == NULL)
		af->scratch = AllocSetContextCreate(af->outer, "nutragenie array",
											ALLOCSET_SMALL_SIZES);
	oldcxt = MemoryContextSwitchTo(af->scratch);
	part = build_comparison(af->ctx, af->col, af->cmp, val, af->collid);
	MemoryContextSwitchTo(oldcxt);
	if (part == NULL)
		return false;
	if (af->ctx->planning)
	{
		MemoryContextReset(af->scratch);
		return true;
	}

	if (!(af->disjunction ?
		  (field_single_op(part, "$eq", false) ||
		   field_single_op(part, "$in", true)) :
		  field_single_op(part, "$nin", true)))
	{
		/* not a plain list member: build it again where it is kept */
		MemoryContextReset(af->scratch);
		part = build_comparison(af->ctx, af->col, af->cmp, val, af->collid);
		Assert(part != NULL);
		af->parts = lappend(af->parts, part);
		return true;
	}

	op = linitial(part->ops);
	if (af->folded == NULL)
	{
		af->folded = filter_field_list(af->col->column->field,
									   af->disjunction ? "$in" : "$nin", NIL);
		af->folded_op = linitial(af->folded->ops);
		af->single_eq = !op->is_list;
		af->parts = lappend(af->parts, af->folded);
	}
	if (!op->is_list)
		af->folded_op->values = lappend(af->folded_op->values,
										copy_value(op->value));
	else
	{
		foreach(lc, op->values)
		{
			NgFilterValue *v = lfirst(lc);

			/* in a $nin, the first element's null is enough */
			if (af->nfolded > 0 && !af->disjunction && v->label == NULL &&
				v->value.value_type == BSON_TYPE_NULL)
				continue;
			af->folded_op->values = lappend(af->folded_op->values,
											copy_value(v));
		}
	}
	af->nfolded++;
	MemoryContextReset(af->scratch);
	return true;
}

/* Free af's scratch context. */
static void
fold_done(NgArrayFold *af)
{
	if (af->scratch != NULL)
	{
		MemoryContextDelete(af->scratch);
		af->scratch = NULL;
	}
}

/*
 * col IS NULL			{f: null}			(missing or null)
 * col IS NOT NULL		{f: {$ne: null}}
 *
 * Never NULL itself, so F is the other one.  Not for type_mismatch 'null'
 * columns, where any unfit value reads as NULL too.
 */
static NgFilter *
build_null_test(NgDeparseCtx *ctx, NullTest *expr, bool negate)
{
	NgColumnRef col;
	bool		want_null;

	if (expr->argisrow || !get_column(ctx, (Node *) expr->arg, &col) ||
		col.column->mismatch == NG_MISMATCH_NULL)
		return NULL;

	want_null = (expr->nulltesttype == IS_NULL) != negate;
	if (want_null)
		return filter_field(col.column->field, "$eq", value_null());
	return filter_field(col.column->field, "$ne", value_null());
}

/*
 * boolcol IS TRUE			{f: true}			IS NOT TRUE		{f: {$ne: true}}
 * boolcol IS FALSE			{f: false}			IS NOT FALSE	{f: {$ne: false}}
 * boolcol IS UNKNOWN		{f: null}			IS NOT UNKNOWN	{f: {$ne: null}}
 *
 * $ne matches missing fields and null, as IS NOT TRUE must.  Never NULL,
 * so F is the opposite test.  Only on bool columns, not type_mismatch
 * 'null' ones.
 */
static NgFilter *
build_boolean_test(NgDeparseCtx *ctx, BooleanTest *expr, bool negate)
{
	NgColumnRef col;
	NgFilterValue *v;
	bool		positive;

	if (!get_column(ctx, (Node *) expr->arg, &col) ||
		col.tclass != NG_TC_BOOL ||
		col.column->mismatch == NG_MISMATCH_NULL)
		return NULL;

	switch (expr->booltesttype)
	{
		case IS_TRUE:
		case IS_NOT_TRUE:
			v = value_bool(true);
			positive = (expr->booltesttype == IS_TRUE);
			break;
		case IS_FALSE:
		case IS_NOT_FALSE:
			v = value_bool(false);
			positive = (expr->booltesttype == IS_FALSE);
			break;
		case IS_UNKNOWN:
		case IS_NOT_UNKNOWN:
			v = value_null();
			positive = (expr->booltesttype == IS_UNKNOWN);
			break;
		default:
			return NULL;
	}
	if (positive != negate)
		return filter_field(col.column->field, "$eq", v);
	return filter_field(col.column->field, "$ne", v);
}

/*
 * WHERE flag			{f: true}
 * WHERE NOT flag		{f: false}
 */
static NgFilter *
build_bool_column(NgDeparseCtx *ctx, NgColumnRef *col, bool negate)
{
	if (col->column->mismatch == NG_MISMATCH_NULL)
		ctx->recheck = true;
	return filter_field(col->column->field, "$eq", value_bool(!negate));
}


/* ------------------------------------------------------------------------
 * Comparisons, per column type
 * ------------------------------------------------------------------------
 */

/*
 * T(col cmp value) for a column of the given class; NULL if it cannot be
 * pushed.  A NULL value makes the comparison NULL: nothing matches.  A
 * value only known at run time is shown as a placeholder; at planning
 * time, types whose pushability depends on the value set ctx->recheck.
 */
static NgFilter *
build_comparison(NgDeparseCtx *ctx, NgColumnRef *col, NgCmp cmp,
				 NgValueRef *val, Oid collid)
{
	const char *path = col->column->field;

	if (col->column->mismatch == NG_MISMATCH_NULL)
		ctx->recheck = true;
	if (val->known && val->isnull)
		return filter_none();

	switch (col->tclass)
	{
		case NG_TC_INT:
			return build_int_comparison(path, cmp, val);
		case NG_TC_FLOAT8:
			return build_float_comparison(path, cmp, val);
		case NG_TC_NUMERIC:
			return build_numeric_comparison(ctx, path, cmp, val);
		case NG_TC_TEXT:
			return build_text_comparison(path, cmp, val);
		case NG_TC_OBJECTID:
			if (!val->known)
				return build_simple_comparison(path, cmp,
											   value_placeholder(val, NULL));
			return build_simple_comparison(path, cmp,
										   value_oid_bytes(DatumGetNgObjectIdP(val->datum)->data));
		case NG_TC_BOOL:
			return build_bool_comparison(path, cmp, val);
		case NG_TC_UUID:
			if (!val->known)
				return build_simple_comparison(path, cmp,
											   value_placeholder(val, NULL));
			return build_simple_comparison(path, cmp,
										   value_uuid(DatumGetUUIDP(val->datum)));
		case NG_TC_TIMESTAMP:
			return build_timestamp_comparison(ctx, path, cmp, val);
		case NG_TC_DATE:
			return build_date_comparison(ctx, path, cmp, val);
		case NG_TC_NONE:
			break;
	}
	return NULL;
}

/*
 * The plain translation, right when the column's values and v compare in
 * MongoDB as in PostgreSQL and neither can be NaN:
 *
 *	col = v		{f: v}			col < v		{f: {$lt: v}}	(<= > >= alike)
 *	col <> v	{f: {$nin: [v, null]}}	($ne alone would match null/missing)
 */
static NgFilter *
build_simple_comparison(const char *path, NgCmp cmp, NgFilterValue *value)
{
	if (cmp == NG_CMP_NE)
		return filter_field_list(path, "$nin",
								 list_make2(value, value_null()));
	return filter_field(path, cmp_operator(cmp), value);
}

/*
 * Integer columns compared with integers of any width.  The column holds
 * int32, int64 or integral doubles; MongoDB compares numbers of mixed BSON
 * types by exact value, so sending v as int64 is exact:
 *
 *	intcol = 5		{f: 5}		intcol >= 5		{f: {$gte: 5}}
 */
static NgFilter *
build_int_comparison(const char *path, NgCmp cmp, NgValueRef *val)
{
	int64		v;

	if (!val->known)
		return build_simple_comparison(path, cmp,
									   value_placeholder(val, NULL));
	if (!datum_to_int64(val->datum, val->typid, &v))
		return NULL;
	return build_simple_comparison(path, cmp, value_int64(v));
}

/*
 * NaN-aware comparison of a float8 or numeric column with a number v.
 * PostgreSQL puts NaN above every number, NaN = NaN; MongoDB's $lt, $lte,
 * $gt and $gte never match NaN, so with ISNAN the filter matching exactly
 * NaN (see filter_is_nan):
 *
 *	v not NaN:	col = v		{f: v}
 *				col <> v	{f: {$nin: [v, null]}}			(NaN matches, as it should)
 *				col < v		{f: {$lt: v}}					(<= alike)
 *				col > v		{$or: [{f: {$gt: v}}, ISNAN]}	(>= alike)
 *	v NaN:		col = v, col >= v		ISNAN
 *				col < v, col <> v		{f: {$gte: -Infinity}}		(every other number)
 *				col <= v				{$or: [{f: {$gte: -Infinity}}, ISNAN]}
 *				col > v					nothing
 */
static NgFilter *
nan_aware_comparison(const char *path, NgCmp cmp, NgFilterValue *value,
					 bool v_is_nan)
{
	NgFilter   *nan = filter_is_nan(path);

	if (v_is_nan)
	{
		NgFilter   *numbers = filter_field(path, "$gte",
										   value_double(-get_float8_infinity()));

		switch (cmp)
		{
			case NG_CMP_EQ:
			case NG_CMP_GE:
				return nan;
			case NG_CMP_LT:
			case NG_CMP_NE:
				return numbers;
			case NG_CMP_LE:
				return filter_combine(NG_F_OR, list_make2(numbers, nan));
			case NG_CMP_GT:
				return filter_none();
		}
	}
	if (cmp == NG_CMP_GT || cmp == NG_CMP_GE)
		return filter_combine(NG_F_OR,
							  list_make2(filter_field(path, cmp_operator(cmp),
													  value),
										 nan));
	return build_simple_comparison(path, cmp, value);
}

/*
 * float8 columns with float8 or float4 values (float4 widens exactly).  The
 * column reads doubles, and int32/int64 values only when a double holds
 * them exactly, so every value it reads compares with v in MongoDB as in
 * PostgreSQL, NaN apart.
 */
static NgFilter *
build_float_comparison(const char *path, NgCmp cmp, NgValueRef *val)
{
	double		v;

	if (!val->known)
		return nan_aware_comparison(path, cmp, value_placeholder(val, NULL),
									false);
	if (val->typid == FLOAT4OID)
		v = (double) DatumGetFloat4(val->datum);
	else if (val->typid == FLOAT8OID)
		v = DatumGetFloat8(val->datum);
	else
		return NULL;
	return nan_aware_comparison(path, cmp, value_double(v), isnan(v));
}

/*
 * numeric columns without a typmod (numeric(p,s) rounds what it reads, so
 * it stays local).  They read int32, int64, decimal128 exactly and doubles
 * through their shortest round-trip decimal form.  For an integer v with
 * |v| <= 2^53 every one of those compares with v in PostgreSQL as the BSON
 * value does in MongoDB (a double's shortest decimal lies strictly between
 * its neighbours' midpoints, and v, a double itself, is outside them), so
 * v is sent as int64 with the NaN rules of floats.  Other constants stay
 * local; run-time values that are not such integers add no constraint.
 */
static NgFilter *
build_numeric_comparison(NgDeparseCtx *ctx, const char *path, NgCmp cmp,
						 NgValueRef *val)
{
	int64		v;

	if (!val->known)
	{
		ctx->recheck = true;
		return nan_aware_comparison(path, cmp, value_placeholder(val, NULL),
									false);
	}
	if (val->typid != NUMERICOID)
		return NULL;
	if (!numeric_to_int64(val->datum, &v))
		return ctx->planning ? NULL : filter_all();
	return nan_aware_comparison(path, cmp, value_int64(v), false);
}

/*
 * Text columns.  Strings compare bytewise (the caller checked collation
 * and encoding); the column also reads ObjectIds as 24 lowercase hex
 * digits, so:
 *
 *	col = 'abc'			{f: "abc"}
 *	col = '5f0c...'		{f: {$in: ["5f0c...", {"$oid": "5f0c..."}]}}	(24 hex digits)
 *	col <> 'abc'		{f: {$nin: ["abc", null]}}
 *	col < 'abc'			{$or: [{f: {$lt: "abc"}}, {f: {$lt: {"$oid": "a00000000000000000000000"}}}]}
 *
 * (ObjectIds whose hex form is below "abc" are those below a00...0.)
 */
static NgFilter *
build_text_comparison(const char *path, NgCmp cmp, NgValueRef *val)
{
	if (!val->known)
	{
		NgFilterValue *p = value_placeholder(val, NULL);

		if (cmp == NG_CMP_EQ || cmp == NG_CMP_NE)
			return build_simple_comparison(path, cmp, p);
		return filter_combine(NG_F_OR,
							  list_make2(filter_field(path, cmp_operator(cmp), p),
										 filter_field(path, cmp_operator(cmp),
													  value_placeholder(val, "objectId"))));
	}

	return build_string_comparison(path, cmp, datum_to_utf8(val->datum));
}

/* build_text_comparison for a known UTF-8 string s */
static NgFilter *
build_string_comparison(const char *path, NgCmp cmp, const char *s)
{
	switch (cmp)
	{
		case NG_CMP_EQ:
			if (is_objectid_hex(s, strlen(s)))
				return filter_field_list(path, "$in",
										 list_make2(value_utf8(s),
													value_oid_hex(s)));
			return filter_field(path, "$eq", value_utf8(s));
		case NG_CMP_NE:
			if (is_objectid_hex(s, strlen(s)))
				return filter_field_list(path, "$nin",
										 list_make3(value_utf8(s),
													value_oid_hex(s),
													value_null()));
			return filter_field_list(path, "$nin",
									 list_make2(value_utf8(s), value_null()));
		default:
			return filter_combine(NG_F_OR,
								  list_make2(filter_field(path, cmp_operator(cmp),
														  value_utf8(s)),
											 build_objectid_range(path, cmp, s)));
	}
}

/*
 * The ObjectIds whose 24-digit hex form h satisfies "h cmp s" under byte
 * order.  Lowercase hex sorts like the ObjectId bytes, so the set is a
 * range: find K, the first hex string not below s, and whether s is itself
 * one (exact).  Then h < s iff h < K, and h <= s iff h < K, or h <= K when
 * exact.  K is found from the first position i where s stops looking like
 * an ObjectId:
 *
 *	s is 24 hex digits				K = s, exact
 *	longer, 24 hex digits first		K = s[0..24) + 1 (h <= s[0..24) are below s)
 *	shorter, all hex digits			K = s padded with "0"
 *	s[i] is not a hex digit			K = s[0..i), then the first digit above
 *									s[i] and "0"s; if no digit is above s[i]
 *									(s[i] > 'f'), s[0..i) + 1 and "0"s
 *
 * where "+ 1" carries into earlier digits and past the first one means
 * every ObjectId is below s.
 */
static NgFilter *
build_objectid_range(const char *path, NgCmp cmp, const char *s)
{
	char		k[NG_OID_HEX_LEN + 1];
	size_t		len = strlen(s);
	bool		exact = false;
	bool		overflow = false;	/* K is past the last ObjectId */
	int			carry_at = -1;	/* add 1 to the number k[0..carry_at] */
	int			i;

	memset(k, '0', NG_OID_HEX_LEN);
	k[NG_OID_HEX_LEN] = '\0';

	for (i = 0; i < NG_OID_HEX_LEN && (size_t) i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))
		{
			k[i] = (char) c;
			continue;
		}
		if (c < '0')
			k[i] = '0';
		else if (c < 'a')
			k[i] = 'a';
		else if (i == 0)
			overflow = true;
		else
			carry_at = i - 1;
		break;
	}
	if (i == NG_OID_HEX_LEN)
	{
		if (len == NG_OID_HEX_LEN)
			exact = true;
		else
			carry_at = NG_OID_HEX_LEN - 1;
	}

	while (carry_at >= 0)
	{
		if (k[carry_at] != 'f')
		{
			k[carry_at] = (k[carry_at] == '9') ? 'a' : k[carry_at] + 1;
			break;
		}
		k[carry_at] = '0';
		if (carry_at == 0)
			overflow = true;
		carry_at--;
	}

	switch (cmp)
	{
		case NG_CMP_LT:
		case NG_CMP_LE:
			if (exact && cmp == NG_CMP_LE)
				return filter_field(path, "$lte", value_oid_hex(k));
			if (overflow)
				return filter_field(path, "$lte",
									value_oid_hex("ffffffffffffffffffffffff"));
			if (strspn(k, "0") == NG_OID_HEX_LEN)
				return filter_none();
			return filter_field(path, "$lt", value_oid_hex(k));
		case NG_CMP_GT:
		case NG_CMP_GE:
			if (exact && cmp == NG_CMP_GT)
				return filter_field(path, "$gt", value_oid_hex(k));
			if (overflow)
				return filter_none();
			return filter_field(path, "$gte", value_oid_hex(k));
		default:
			elog(ERROR, "unexpected comparison %d", (int) cmp);
	}
	return NULL;				/* keep compiler quiet */
}

/*
 * LIKE, NOT LIKE and ^@ on text.  A pattern with no wildcard is an
 * equality; a literal prefix followed only by '%' (default escape
 * character '\') is an anchored regular expression with every
 * metacharacter escaped, plus the ObjectIds whose hex form starts with
 * the prefix (a range, when the prefix is at most 24 hex digits):
 *
 *	col LIKE 'ab.c%'		{f: {$regex: "^ab\.c"}}
 *	col LIKE '5f%'			{$or: [{f: {$regex: "^5f"}}, {f: {$gte: {"$oid": "5f00..."}, $lte: {"$oid": "5fff..."}}}]}
 *	col NOT LIKE 'ab%'		{$nor: [{f: {$regex: "^ab"}}, {f: null}]}
 *	col LIKE 'abc'			{f: "abc"}
 *	col ^@ 'ab'				{f: {$regex: "^ab"}}
 *
 * (NOT LIKE is FALSE for NULL, hence the null in $nor.)  Other patterns
 * stay local; a pattern known only at run time is pushed with recheck and
 * adds no constraint when it turns out not to be of these forms.
 */
static NgFilter *
build_text_pattern(NgDeparseCtx *ctx, const char *path, bool is_like,
				   NgValueRef *val, bool negate)
{
	NgPatternKind kind;
	char	   *literal;
	NgFilter   *regex;
	NgFilter   *objectids;

	if (val->known && val->isnull)
		return filter_none();
	if (!val->known)
	{
		if (is_like)
			ctx->recheck = true;
		regex = filter_field(path, "$regex", value_placeholder(val, "regex"));
		if (!negate)
			return regex;
		return filter_nor(list_make2(regex,
									 filter_field(path, "$eq", value_null())));
	}

	if (is_like)
	{
		char	   *pattern = TextDatumGetCString(val->datum);

		if (!parse_like_pattern(pattern, &kind, &literal))
			return ctx->planning ? NULL : filter_all();
	}
	else
	{
		kind = NG_PAT_PREFIX;
		literal = datum_to_utf8(val->datum);
	}

	if (kind == NG_PAT_EQUAL)
		return build_string_comparison(path, negate ? NG_CMP_NE : NG_CMP_EQ,
									   literal);

	regex = filter_field(path, "$regex",
						 value_utf8(regex_escape_prefix(literal)));
	if (is_hex_prefix(literal))
	{
		char		lo[NG_OID_HEX_LEN + 1];
		char		hi[NG_OID_HEX_LEN + 1];
		size_t		len = strlen(literal);

		memcpy(lo, literal, len);
		memset(lo + len, '0', NG_OID_HEX_LEN - len);
		lo[NG_OID_HEX_LEN] = '\0';
		memcpy(hi, literal, len);
		memset(hi + len, 'f', NG_OID_HEX_LEN - len);
		hi[NG_OID_HEX_LEN] = '\0';
		objectids = filter_combine(NG_F_AND,
								   list_make2(filter_field(path, "$gte",
														   value_oid_hex(lo)),
											  filter_field(path, "$lte",
														   value_oid_hex(hi))));
	}
	else
		objectids = filter_none();

	if (!negate)
		return filter_combine(NG_F_OR, list_make2(regex, objectids));
	return filter_nor(list_make3(regex, objectids,
								 filter_field(path, "$eq", value_null())));
}

/*
 * bool columns: the values satisfying the comparison, false < true:
 *
 *	flag = true		{f: true}		flag <> true	{f: false}
 *	flag <= true	{f: {$in: [false, true]}}		flag < false	nothing
 */
static NgFilter *
build_bool_comparison(const char *path, NgCmp cmp, NgValueRef *val)
{
	bool		v;
	bool		match_false;
	bool		match_true;

	if (!val->known)
		return build_simple_comparison(path, cmp,
									   value_placeholder(val, NULL));
	v = DatumGetBool(val->datum);
	switch (cmp)
	{
		case NG_CMP_EQ:
			match_false = !v;
			match_true = v;
			break;
		case NG_CMP_NE:
			match_false = v;
			match_true = !v;
			break;
		case NG_CMP_LT:
			match_false = v;
			match_true = false;
			break;
		case NG_CMP_LE:
			match_false = true;
			match_true = v;
			break;
		case NG_CMP_GT:
			match_false = false;
			match_true = !v;
			break;
		case NG_CMP_GE:
			match_false = !v;
			match_true = true;
			break;
		default:
			return NULL;
	}
	if (match_false && match_true)
		return filter_field_list(path, "$in",
								 list_make2(value_bool(false),
											value_bool(true)));
	if (match_false || match_true)
		return filter_field(path, "$eq", value_bool(match_true));
	return filter_none();
}

/*
 * timestamptz and timestamp columns (BSON dates, milliseconds since
 * 1970 UTC) compared with a value of the same type.  A value with
 * sub-millisecond digits, or an infinity, has no BSON date equivalent:
 * such constants stay local, such run-time values add no constraint.
 *
 *	ts >= '2024-01-01 00:00:00+00'	{f: {$gte: {"$date": "2024-01-01T00:00:00Z"}}}
 */
static NgFilter *
build_timestamp_comparison(NgDeparseCtx *ctx, const char *path, NgCmp cmp,
						   NgValueRef *val)
{
	Timestamp	ts;

	if (!val->known)
	{
		ctx->recheck = true;
		return build_simple_comparison(path, cmp,
									   value_placeholder(val, NULL));
	}
	ts = DatumGetTimestamp(val->datum);
	if (TIMESTAMP_NOT_FINITE(ts) || ts % 1000 != 0)
		return ctx->planning ? NULL : filter_all();
	return build_simple_comparison(path, cmp,
								   value_date(ts / 1000 + NG_PG_EPOCH_MS));
}

/*
 * date columns read only BSON dates at midnight UTC (any other date does
 * not fit), so a date is compared as the BSON date of its midnight:
 *
 *	d >= '2024-01-01'		{f: {$gte: {"$date": "2024-01-01T00:00:00Z"}}}
 *
 * Infinite dates stay local (as constants) or add no constraint.
 */
static NgFilter *
build_date_comparison(NgDeparseCtx *ctx, const char *path, NgCmp cmp,
					  NgValueRef *val)
{
	DateADT		d;

	if (!val->known)
	{
		ctx->recheck = true;
		return build_simple_comparison(path, cmp,
									   value_placeholder(val, NULL));
	}
	d = DatumGetDateADT(val->datum);
	if (DATE_NOT_FINITE(d))
		return ctx->planning ? NULL : filter_all();
	return build_simple_comparison(path, cmp,
								   value_date((int64) d * NG_MS_PER_DAY +
											  NG_PG_EPOCH_MS));
}


/* ------------------------------------------------------------------------
 * Operands and operators
 * ------------------------------------------------------------------------
 */

/*
 * Is "node" a column of the scanned relation we may put conditions on?
 * Accepts a plain Var, under RelabelTypes that only change the collation,
 * turn varchar into text, or a domain into its base type: none of those
 * changes the value.  Rejects $$ROOT columns, types we do not push, and
 * varchar(n) and numeric(p,s).
 */
static bool
get_column(NgDeparseCtx *ctx, Node *node, NgColumnRef *col)
{
	Var		   *var;
	NgColumn   *column;
	Oid			basetype;
	int32		typmod;

	while (IsA(node, RelabelType))
	{
		RelabelType *r = (RelabelType *) node;
		Oid			argtype = exprType((Node *) r->arg);

		if (r->resulttype != argtype &&
			!(r->resulttype == TEXTOID && argtype == VARCHAROID) &&
			getBaseType(argtype) != r->resulttype)
			return false;
		node = (Node *) r->arg;
	}
	if (!IsA(node, Var))
		return false;
	var = (Var *) node;
	if (var->varlevelsup != 0 || var->varattno <= 0 ||
		var->varattno > ctx->opts->natts)
		return false;
	if (ctx->planning && var->varno != ctx->relid)
		return false;

	column = &ctx->opts->columns[var->varattno - 1];
	if (column->field == NULL || column->is_root)
		return false;
	typmod = var->vartypmod;
	basetype = getBaseTypeAndTypmod(var->vartype, &typmod);

	/*
	 * varchar(n) drops excess trailing spaces and numeric(p,s) rounds what it
	 * reads: the value compared is not the one MongoDB compares.
	 */
	if ((basetype == VARCHAROID || basetype == NUMERICOID) && typmod >= 0)
		return false;

	col->column = column;
	col->typid = basetype;
	col->tclass = type_class(basetype);
	return col->tclass != NG_TC_NONE;
}

/*
 * Resolve a value operand: a Const, or a run-time value (Param, outer Var,
 * stable expression) evaluated now if we can.  "typid" is the type the
 * operator takes it as (binary-compatible with its own type).  False if
 * the node is neither.
 */
static bool
get_value(NgDeparseCtx *ctx, Expr *expr, Oid typid, NgValueRef *val)
{
	Node	   *node = (Node *) expr;

	memset(val, 0, sizeof(NgValueRef));
	val->typid = typid;

	while (IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;

	if (IsA(node, Const))
	{
		val->known = true;
		val->isnull = ((Const *) node)->constisnull;
		val->datum = ((Const *) node)->constvalue;
		return true;
	}
	if (!is_run_time_value(ctx, node))
		return false;

	if (IsA(node, Param) && ((Param *) node)->paramkind == PARAM_EXTERN &&
		((Param *) node)->paramid == NG_BATCH_PARAMID)
		val->label = "batch";
	else if (IsA(node, Param))
		val->label = psprintf("$%d", ((Param *) node)->paramid);
	else
		val->label = "expr";

	if (ctx->planning || ctx->eval == NULL)
		val->known = false;
	else
	{
		val->datum = ctx->eval(ctx->eval_arg, expr, &val->isnull);
		val->known = true;
	}
	return true;
}

/*
 * A value computable once per scan: no column of this relation, nothing
 * volatile, no sub-selects or aggregates.  Vars of other relations become
 * nested-loop parameters.
 */
static bool
is_run_time_value(NgDeparseCtx *ctx, Node *node)
{
	if (IsA(node, Param))
	{
		Param	   *p = (Param *) node;

		return p->paramkind == PARAM_EXTERN || p->paramkind == PARAM_EXEC;
	}
	if (contain_volatile_functions(node))
		return false;
	return !run_time_value_walker(node, ctx);
}

/* True when something in the tree prevents run-time evaluation. */
static bool
run_time_value_walker(Node *node, NgDeparseCtx *ctx)
{
	if (node == NULL)
		return false;
	switch (nodeTag(node))
	{
		case T_Var:
			{
				Var		   *var = (Var *) node;

				if (!ctx->planning || var->varlevelsup != 0 ||
					var->varno == ctx->relid)
					return true;
				return false;
			}
		case T_Param:
			{
				Param	   *p = (Param *) node;

				return p->paramkind != PARAM_EXTERN &&
					p->paramkind != PARAM_EXEC;
			}
		case T_PlaceHolderVar:
		case T_SubLink:
		case T_SubPlan:
		case T_AlternativeSubPlan:
		case T_Aggref:
		case T_WindowFunc:
		case T_GroupingFunc:
		case T_CurrentOfExpr:
		case T_NextValueExpr:
		case T_SetToDefault:
		case T_CaseTestExpr:
		case T_CoerceToDomainValue:
			return true;
		default:
			break;
	}
	return expression_tree_walker(node, run_time_value_walker, ctx);
}

/* The class of a column's base type. */
static NgTypeClass
type_class(Oid typid)
{
	switch (typid)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
			return NG_TC_INT;
		case FLOAT8OID:
			return NG_TC_FLOAT8;
		case NUMERICOID:
			return NG_TC_NUMERIC;
		case TEXTOID:
		case VARCHAROID:
			return NG_TC_TEXT;
		case BOOLOID:
			return NG_TC_BOOL;
		case UUIDOID:
			return NG_TC_UUID;
		case TIMESTAMPTZOID:
		case TIMESTAMPOID:
			return NG_TC_TIMESTAMP;
		case DATEOID:
			return NG_TC_DATE;
		default:
			if (OidIsValid(typid) && typid == ng_objectid_typoid())
				return NG_TC_OBJECTID;
			return NG_TC_NONE;
	}
}

/*
 * Does an operator taking (optype, valtype) compare a column of class
 * "tclass" and type "coltype" with a value we know how to send?  Cross-type
 * operators are accepted where the comparison is exact (int4 = int8,
 * float8 < float4), not where it depends on settings (date < timestamptz
 * depends on TimeZone).
 */
static bool
operator_fits(NgTypeClass tclass, Oid coltype, Oid optype, Oid valtype)
{
	switch (tclass)
	{
		case NG_TC_INT:
			return optype == coltype &&
				(valtype == INT2OID || valtype == INT4OID ||
				 valtype == INT8OID);
		case NG_TC_FLOAT8:
			return optype == FLOAT8OID &&
				(valtype == FLOAT8OID || valtype == FLOAT4OID);
		case NG_TC_TEXT:
			return optype == TEXTOID && valtype == TEXTOID;
		case NG_TC_NUMERIC:
		case NG_TC_OBJECTID:
		case NG_TC_BOOL:
		case NG_TC_UUID:
		case NG_TC_TIMESTAMP:
		case NG_TC_DATE:
			return optype == coltype && valtype == coltype;
		case NG_TC_NONE:
			break;
	}
	return false;
}

/*
 * Map an operator name to a comparison.  *c_order is set for the text
 * pattern operators (~<~ ...), which compare bytes whatever the collation.
 */
static bool
lookup_comparison(const char *name, NgCmp *cmp, bool *c_order)
{
	static const struct
	{
		const char *name;
		NgCmp		cmp;
		bool		c_order;
	}			ops[] =
	{
		{"=", NG_CMP_EQ, false},
		{"<>", NG_CMP_NE, false},
		{"<", NG_CMP_LT, false},
		{"<=", NG_CMP_LE, false},
		{">", NG_CMP_GT, false},
		{">=", NG_CMP_GE, false},
		{"~<~", NG_CMP_LT, true},
		{"~<=~", NG_CMP_LE, true},
		{"~>~", NG_CMP_GT, true},
		{"~>=~", NG_CMP_GE, true}
	};
	int			i;

	for (i = 0; i < lengthof(ops); i++)
	{
		if (strcmp(name, ops[i].name) == 0)
		{
			*cmp = ops[i].cmp;
			*c_order = ops[i].c_order;
			return true;
		}
	}
	return false;
}

/* v op col == col commute(op) v */
static NgCmp
commute_cmp(NgCmp cmp)
{
	switch (cmp)
	{
		case NG_CMP_LT:
			return NG_CMP_GT;
		case NG_CMP_LE:
			return NG_CMP_GE;
		case NG_CMP_GT:
			return NG_CMP_LT;
		case NG_CMP_GE:
			return NG_CMP_LE;
		default:
			return cmp;
	}
}

/* For non-null col and v in a total order: NOT (col op v) == col negate(op) v */
static NgCmp
negate_cmp(NgCmp cmp)
{
	return (NgCmp) (NG_CMP_NE - cmp);
}

static const char *
cmp_operator(NgCmp cmp)
{
	switch (cmp)
	{
		case NG_CMP_EQ:
			return "$eq";
		case NG_CMP_LT:
			return "$lt";
		case NG_CMP_LE:
			return "$lte";
		case NG_CMP_GT:
			return "$gt";
		case NG_CMP_GE:
			return "$gte";
		case NG_CMP_NE:
			return "$ne";
	}
	return NULL;				/* keep compiler quiet */
}


/* ------------------------------------------------------------------------
 * Values
 * ------------------------------------------------------------------------
 */

static bool
datum_to_int64(Datum datum, Oid typid, int64 *result)
{
	switch (typid)
	{
		case INT2OID:
			*result = DatumGetInt16(datum);
			return true;
		case INT4OID:
			*result = DatumGetInt32(datum);
			return true;
		case INT8OID:
			*result = DatumGetInt64(datum);
			return true;
		default:
			return false;
	}
}

/*
 * An integral numeric with |v| <= 2^53 as int64; false for anything else
 * (fractions, NaN, infinities, large values).  Works on the text form so
 * it cannot throw on unusual values.
 */
static bool
numeric_to_int64(Datum datum, int64 *result)
{
	char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out, datum));
	char	   *p = s;
	char	   *digits;
	int64		v = 0;
	bool		neg = false;

	if (*p == '-')
	{
		neg = true;
		p++;
	}
	digits = p;
	while (*p >= '0' && *p <= '9')
	{
		v = v * 10 + (*p - '0');
		if (v > NG_MAX_EXACT_DOUBLE_INT)
			return false;
		p++;
	}
	if (p == digits)
		return false;			/* NaN, Infinity */
	if (*p == '.')
	{
		p++;
		while (*p == '0')
			p++;
	}
	if (*p != '\0')
		return false;
	*result = neg ? -v : v;
	return true;
}

/* A text datum as a palloc'd UTF-8 string. */
static char *
datum_to_utf8(Datum datum)
{
	char	   *s = TextDatumGetCString(datum);

	return pg_server_to_any(s, strlen(s), PG_UTF8);
}

/*
 * Reduce a LIKE pattern (default escape '\') to a literal, or a literal
 * prefix followed only by '%'.  The literal is returned in UTF-8.  False
 * for '_', '%' before the end, or a trailing escape character (which LIKE
 * rejects).
 */
static bool
parse_like_pattern(const char *pattern, NgPatternKind *kind, char **literal)
{
	StringInfoData buf;
	const char *p = pattern;

	initStringInfo(&buf);
	*kind = NG_PAT_EQUAL;
	while (*p)
	{
		int			clen = pg_mblen(p);

		if (*p == '\\')
		{
			p++;
			if (*p == '\0')
				return false;
			clen = pg_mblen(p);
			appendBinaryStringInfo(&buf, p, clen);
			p += clen;
			continue;
		}
		if (*p == '_')
			return false;
		if (*p == '%')
		{
			while (*p == '%')
				p++;
			if (*p != '\0')
				return false;
			*kind = NG_PAT_PREFIX;
			break;
		}
		appendBinaryStringInfo(&buf, p, clen);
		p += clen;
	}
	*literal = pg_server_to_any(buf.data, buf.len, PG_UTF8);
	return true;
}

/*
 * "^" and the literal with every ASCII character other than a letter or
 * digit escaped with a backslash.  Both PCRE (MongoDB) and RE2 treat an
 * escaped non-alphanumeric ASCII character as itself; other bytes (UTF-8
 * sequences) are literals already.
 */
static char *
regex_escape_prefix(const char *literal)
{
	StringInfoData buf;
	const unsigned char *p;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '^');
	for (p = (const unsigned char *) literal; *p; p++)
	{
		if (*p < 0x80 && !((*p >= '0' && *p <= '9') ||
						   (*p >= 'a' && *p <= 'z') ||
						   (*p >= 'A' && *p <= 'Z')))
			appendStringInfoChar(&buf, '\\');
		appendStringInfoChar(&buf, (char) *p);
	}
	return buf.data;
}

/* Exactly 24 lowercase hex digits: how a text column reads an ObjectId. */
static bool
is_objectid_hex(const char *s, size_t len)
{
	size_t		i;

	if (len != NG_OID_HEX_LEN)
		return false;
	for (i = 0; i < len; i++)
	{
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return true;
}

/* Could an ObjectId's hex form start with s? */
static bool
is_hex_prefix(const char *s)
{
	size_t		len = strlen(s);

	return len <= NG_OID_HEX_LEN &&
		strspn(s, "0123456789abcdef") == len;
}

/* 24 lowercase hex digits to an ObjectId. */
static void
hex_to_oid(const char *hex, bson_oid_t *oid)
{
	int			i;

	for (i = 0; i < NG_OBJECTID_LEN; i++)
	{
		int			hi = hex[2 * i];
		int			lo = hex[2 * i + 1];

		hi = (hi <= '9') ? hi - '0' : hi - 'a' + 10;
		lo = (lo <= '9') ? lo - '0' : lo - 'a' + 10;
		oid->bytes[i] = (uint8) ((hi << 4) | lo);
	}
}

static NgFilterValue *
value_placeholder(NgValueRef *val, const char *derived)
{
	NgFilterValue *v = palloc0(sizeof(NgFilterValue));

	v->label = val->label ? val->label : "expr";
	v->derived = derived;
	return v;
}

static NgFilterValue *
value_int64(int64 i)
{
	NgFilterValue *v = palloc0(sizeof(NgFilterValue));

	v->value.value_type = BSON_TYPE_INT64;
	v->value.value.v_int64 = i;
	return v;
}

static NgFilterValue *
value_double(double d)
{
	NgFilterValue *v = palloc0(sizeof(NgFilterValue));

	v->value.value_type = BSON_TYPE_DOUBLE;
	v->value.value.v_double = d;
	return v;
}

static NgFilterValue *
value_utf8(const char *s)
{
	NgFilterValue *v = palloc0(sizeof(NgFilterValue));

	v->value.value_type = BSON_TYPE_UTF8;
	v->value.value.v_utf8.str = pstrdup(s);
	v->value.value.v_utf8.len = strlen(s);
	return v;
}

static NgFilterValue *
value_oid_hex(const char *hex)
{
	NgFilterValue *v = palloc0(sizeof(NgFilterValue));

	v->value.value_type = BSON_TYPE_OID;
	hex_to_oid(hex, &v->value.value.v_oid);
	return v;
}

static NgFilterValue *
value_oid_bytes(const uint8 *bytes)
{
	NgFilterValue *v = palloc0(sizeof(NgFilterValue));

	v->value.value_type = BSON_TYPE_OID;
	memcpy(v->value.value.v_oid.bytes, bytes, NG_OBJECTID_LEN);
	return v;
}

static NgFilterValue *
value_bool(bool b)
{
	NgFilterValue *v = palloc0(sizeof(NgFilterValue));

	v->value.value_type = BSON_TYPE_BOOL;
	v->value.value.v_bool = b;
	return v;
}

static NgFilterValue *
value_null(void)
{
	NgFilterValue *v = palloc0(sizeof(NgFilterValue));

	v->value.value_type = BSON_TYPE_NULL;
	return v;
}

static NgFilterValue *
value_date(int64 ms)
{
	NgFilterValue *v = palloc0(sizeof(NgFilterValue));

	v->value.value_type = BSON_TYPE_DATE_TIME;
	v->value.value.v_datetime = ms;
	return v;
}

static NgFilterValue *
value_uuid(const pg_uuid_t *uuid)
{
	NgFilterValue *v = palloc0(sizeof(NgFilterValue));
	uint8	   *data = palloc(UUID_LEN);

	memcpy(data, uuid->data, UUID_LEN);
	v->value.value_type = BSON_TYPE_BINARY;
	v->value.value.v_binary.subtype = BSON_SUBTYPE_UUID;
	v->value.value.v_binary.data = data;
	v->value.value.v_binary.data_len = UUID_LEN;
	return v;
}

/* A copy of v, with what it points to, in the current memory context. */
static NgFilterValue *
copy_value(const NgFilterValue *v)
{
	NgFilterValue *c = palloc(sizeof(NgFilterValue));

	memcpy(c, v, sizeof(NgFilterValue));
	if (v->label != NULL)
		c->label = pstrdup(v->label);
	if (v->derived != NULL)
		c->derived = pstrdup(v->derived);
	if (v->label == NULL && v->value.value_type == BSON_TYPE_UTF8)
		c->value.value.v_utf8.str = pnstrdup(v->value.value.v_utf8.str,
											 v->value.value.v_utf8.len);
	else if (v->label == NULL && v->value.value_type == BSON_TYPE_BINARY)
	{
		uint8	   *data = palloc(v->value.value.v_binary.data_len + 1);

		memcpy(data, v->value.value.v_binary.data,
			   v->value.value.v_binary.data_len);
		c->value.value.v_binary.data = data;
	}
	return c;
}


/* ------------------------------------------------------------------------
 * Filter trees
 * ------------------------------------------------------------------------
 */

static NgFilter *
filter_all(void)
{
	NgFilter   *f = palloc0(sizeof(NgFilter));

	f->kind = NG_F_ALL;
	return f;
}

static NgFilter *
filter_none(void)
{
	NgFilter   *f = palloc0(sizeof(NgFilter));

	f->kind = NG_F_NONE;
	return f;
}

static NgFilter *
filter_field(const char *path, const char *opname, NgFilterValue *value)
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

static NgFilter *
filter_field_list(const char *path, const char *opname, List *values)
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
static NgFilter *
filter_combine(NgFilterKind kind, List *children)
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
		return (kind == NG_F_AND) ? filter_all() : filter_none();
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
static NgFilter *
filter_is_nan(const char *path)
{
	NgFilter   *f = filter_field(path, "$type", value_utf8("number"));
	NgFilterOp *negation = palloc0(sizeof(NgFilterOp));
	NgFilterOp *gte = palloc0(sizeof(NgFilterOp));

	gte->name = "$gte";
	gte->value = value_double(-get_float8_infinity());
	negation->name = "$not";
	negation->sub = list_make1(gte);
	f->ops = lcons(negation, f->ops);
	return f;
}

/*
 * $nor of "children": matches what none of them matches.  NONE children
 * are dropped; an ALL child makes it NONE, no children makes it ALL.
 */
static NgFilter *
filter_nor(List *children)
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
			return filter_none();
		if (child->kind == NG_F_OR)
			kept = list_concat(kept, child->children);
		else
			kept = lappend(kept, child);
	}
	if (kept == NIL)
		return filter_all();
	f = palloc0(sizeof(NgFilter));
	f->kind = NG_F_NOR;
	f->children = kept;
	return f;
}

/* Is f a FIELD with the single operator "name" (of list form if list)? */
static bool
field_single_op(NgFilter *f, const char *name, bool list)
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

			if (field_single_op(prev, "$nin", true) &&
				field_single_op(child, "$nin", true))
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
						filter_field_list(prev->path, "$nin", values);
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

		if (!field_single_op(child, "$eq", false) &&
			!field_single_op(child, "$in", true))
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
				filter_field_list(prev->path, "$in", values);
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
static bool
and_is_inlinable(NgFilter *f)
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
static void
append_filter(bson_t *doc, NgFilter *f)
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
			if (and_is_inlinable(f))
			{
				foreach(lc, f->children)
					append_filter(doc, lfirst(lc));
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
		append_filter(&child, lfirst(lc));
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
	append_ops(&ops, f->ops);
	bson_append_document_end(doc, &ops);
}

/* op: value, ... for each operator in "ops" */
static void
append_ops(bson_t *doc, List *ops)
{
	ListCell   *lc;

	foreach(lc, ops)
	{
		NgFilterOp *op = lfirst(lc);

		if (op->sub != NIL)
		{
			bson_t		sub;

			bson_append_document_begin(doc, op->name, -1, &sub);
			append_ops(&sub, op->sub);
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
 * BSON levels of the document append_filter(doc, f) fills, counting doc as
 * level 1 (whether empty or not: an overestimate is harmless).
 */
static int
filter_depth(NgFilter *f)
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
			if (and_is_inlinable(f))
			{
				foreach(lc, f->children)
				{
					int			d = filter_depth(lfirst(lc));

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
				int			d = filter_depth(lfirst(lc));

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

/* Bytes of the elements append_ops(doc, ops) adds. */
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

/* Bytes append_filter(doc, f) adds to doc. */
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
			if (and_is_inlinable(f))
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
static void
split_filter(NgFilterParts *parts, NgFilter *f, Size max_bytes)
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
		parts->whole = (terms == NIL) ? filter_all() :
			(list_length(terms) == 1 ? linitial(terms) :
			 filter_combine(NG_F_AND, terms));
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
