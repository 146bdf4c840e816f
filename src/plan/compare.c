/*-------------------------------------------------------------------------
 *
 * compare.c
 *		  Translates one comparison of a column with a value into a filter,
 *		  by the column's type, and resolves its operands and operator.
 *
 * These are the leaves of deparse.c's algebra: each builds T(col op v),
 * and F comes from the negated operator.  The rules per type (the column
 * must be a plain Var of the scanned relation, not $$ROOT, possibly
 * varchar->text or domain->base relabeled, and "value" is a Const, a Param,
 * an outer Var or a stable expression without Vars of this relation,
 * evaluated once per scan):
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
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/plan/compare.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/float.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "plan/filter.h"

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
static bool is_run_time_value(NgDeparseCtx *ctx, Node *node);
static bool run_time_value_walker(Node *node, NgDeparseCtx *ctx);
static NgTypeClass type_class(Oid typid);
static const char *cmp_operator(NgCmp cmp);


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
NgFilter *
ng_compare_build(NgDeparseCtx *ctx, NgColumnRef *col, NgCmp cmp,
				 NgValueRef *val, Oid collid)
{
	const char *path = col->column->field;

	if (col->column->mismatch == NG_MISMATCH_NULL)
		ctx->recheck = true;
	if (val->known && val->isnull)
		return ng_filter_none();

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
											   ng_value_placeholder(val, NULL));
			return build_simple_comparison(path, cmp,
										   ng_value_oid_bytes(DatumGetNgObjectIdP(val->datum)->data));
		case NG_TC_BOOL:
			return build_bool_comparison(path, cmp, val);
		case NG_TC_UUID:
			if (!val->known)
				return build_simple_comparison(path, cmp,
											   ng_value_placeholder(val, NULL));
			return build_simple_comparison(path, cmp,
										   ng_value_uuid(DatumGetUUIDP(val->datum)));
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
		return ng_filter_field_list(path, "$nin",
									list_make2(value, ng_value_null()));
	return ng_filter_field(path, cmp_operator(cmp), value);
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
									   ng_value_placeholder(val, NULL));
	if (!ng_datum_to_int64(val->datum, val->typid, &v))
		return NULL;
	return build_simple_comparison(path, cmp, ng_value_int64(v));
}

/*
 * NaN-aware comparison of a float8 or numeric column with a number v.
 * PostgreSQL puts NaN above every number, NaN = NaN; MongoDB's $lt, $lte,
 * $gt and $gte never match NaN, so with ISNAN the filter matching exactly
 * NaN (see ng_filter_is_nan):
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
	NgFilter   *nan = ng_filter_is_nan(path);

	if (v_is_nan)
	{
		NgFilter   *numbers = ng_filter_field(path, "$gte",
											  ng_value_double(-get_float8_infinity()));

		switch (cmp)
		{
			case NG_CMP_EQ:
			case NG_CMP_GE:
				return nan;
			case NG_CMP_LT:
			case NG_CMP_NE:
				return numbers;
			case NG_CMP_LE:
				return ng_filter_combine(NG_F_OR, list_make2(numbers, nan));
			case NG_CMP_GT:
				return ng_filter_none();
		}
	}
	if (cmp == NG_CMP_GT || cmp == NG_CMP_GE)
		return ng_filter_combine(NG_F_OR,
								 list_make2(ng_filter_field(path, cmp_operator(cmp),
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
		return nan_aware_comparison(path, cmp, ng_value_placeholder(val, NULL),
									false);
	if (val->typid == FLOAT4OID)
		v = (double) DatumGetFloat4(val->datum);
	else if (val->typid == FLOAT8OID)
		v = DatumGetFloat8(val->datum);
	else
		return NULL;
	return nan_aware_comparison(path, cmp, ng_value_double(v), isnan(v));
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
		return nan_aware_comparison(path, cmp, ng_value_placeholder(val, NULL),
									false);
	}
	if (val->typid != NUMERICOID)
		return NULL;
	if (!ng_numeric_to_int64(val->datum, &v))
		return ctx->planning ? NULL : ng_filter_all();
	return nan_aware_comparison(path, cmp, ng_value_int64(v), false);
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
		NgFilterValue *p = ng_value_placeholder(val, NULL);

		if (cmp == NG_CMP_EQ || cmp == NG_CMP_NE)
			return build_simple_comparison(path, cmp, p);
		return ng_filter_combine(NG_F_OR,
								 list_make2(ng_filter_field(path, cmp_operator(cmp), p),
											ng_filter_field(path, cmp_operator(cmp),
															ng_value_placeholder(val, "objectId"))));
	}

	return build_string_comparison(path, cmp, ng_datum_to_utf8(val->datum));
}

/* build_text_comparison for a known UTF-8 string s */
static NgFilter *
build_string_comparison(const char *path, NgCmp cmp, const char *s)
{
	switch (cmp)
	{
		case NG_CMP_EQ:
			if (ng_is_objectid_hex(s, strlen(s)))
				return ng_filter_field_list(path, "$in",
											list_make2(ng_value_utf8(s),
													   ng_value_oid_hex(s)));
			return ng_filter_field(path, "$eq", ng_value_utf8(s));
		case NG_CMP_NE:
			if (ng_is_objectid_hex(s, strlen(s)))
				return ng_filter_field_list(path, "$nin",
											list_make3(ng_value_utf8(s),
													   ng_value_oid_hex(s),
													   ng_value_null()));
			return ng_filter_field_list(path, "$nin",
										list_make2(ng_value_utf8(s), ng_value_null()));
		default:
			return ng_filter_combine(NG_F_OR,
									 list_make2(ng_filter_field(path, cmp_operator(cmp),
																ng_value_utf8(s)),
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
				return ng_filter_field(path, "$lte", ng_value_oid_hex(k));
			if (overflow)
				return ng_filter_field(path, "$lte",
									   ng_value_oid_hex("ffffffffffffffffffffffff"));
			if (strspn(k, "0") == NG_OID_HEX_LEN)
				return ng_filter_none();
			return ng_filter_field(path, "$lt", ng_value_oid_hex(k));
		case NG_CMP_GT:
		case NG_CMP_GE:
			if (exact && cmp == NG_CMP_GT)
				return ng_filter_field(path, "$gt", ng_value_oid_hex(k));
			if (overflow)
				return ng_filter_none();
			return ng_filter_field(path, "$gte", ng_value_oid_hex(k));
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
NgFilter *
ng_compare_text_pattern(NgDeparseCtx *ctx, const char *path, bool is_like,
						NgValueRef *val, bool negate)
{
	NgPatternKind kind;
	char	   *literal;
	NgFilter   *regex;
	NgFilter   *objectids;

	if (val->known && val->isnull)
		return ng_filter_none();
	if (!val->known)
	{
		if (is_like)
			ctx->recheck = true;
		regex = ng_filter_field(path, "$regex", ng_value_placeholder(val, "regex"));
		if (!negate)
			return regex;
		return ng_filter_nor(list_make2(regex,
										ng_filter_field(path, "$eq", ng_value_null())));
	}

	if (is_like)
	{
		char	   *pattern = TextDatumGetCString(val->datum);

		if (!ng_like_pattern_parse(pattern, &kind, &literal))
			return ctx->planning ? NULL : ng_filter_all();
	}
	else
	{
		kind = NG_PAT_PREFIX;
		literal = ng_datum_to_utf8(val->datum);
	}

	if (kind == NG_PAT_EQUAL)
		return build_string_comparison(path, negate ? NG_CMP_NE : NG_CMP_EQ,
									   literal);

	regex = ng_filter_field(path, "$regex",
							ng_value_utf8(ng_regex_escape_prefix(literal)));
	if (ng_is_hex_prefix(literal))
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
		objectids = ng_filter_combine(NG_F_AND,
									  list_make2(ng_filter_field(path, "$gte",
																 ng_value_oid_hex(lo)),
												 ng_filter_field(path, "$lte",
																 ng_value_oid_hex(hi))));
	}
	else
		objectids = ng_filter_none();

	if (!negate)
		return ng_filter_combine(NG_F_OR, list_make2(regex, objectids));
	return ng_filter_nor(list_make3(regex, objectids,
									ng_filter_field(path, "$eq", ng_value_null())));
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
									   ng_value_placeholder(val, NULL));
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
		return ng_filter_field_list(path, "$in",
									list_make2(ng_value_bool(false),
											   ng_value_bool(true)));
	if (match_false || match_true)
		return ng_filter_field(path, "$eq", ng_value_bool(match_true));
	return ng_filter_none();
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
									   ng_value_placeholder(val, NULL));
	}
	ts = DatumGetTimestamp(val->datum);
	if (TIMESTAMP_NOT_FINITE(ts) || ts % 1000 != 0)
		return ctx->planning ? NULL : ng_filter_all();
	return build_simple_comparison(path, cmp,
								   ng_value_date(ts / 1000 + NG_PG_EPOCH_MS));
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
									   ng_value_placeholder(val, NULL));
	}
	d = DatumGetDateADT(val->datum);
	if (DATE_NOT_FINITE(d))
		return ctx->planning ? NULL : ng_filter_all();
	return build_simple_comparison(path, cmp,
								   ng_value_date((int64) d * NG_MS_PER_DAY +
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
bool
ng_operand_column(NgDeparseCtx *ctx, Node *node, NgColumnRef *col)
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
bool
ng_operand_value(NgDeparseCtx *ctx, Expr *expr, Oid typid, NgValueRef *val)
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
bool
ng_operator_fits(NgTypeClass tclass, Oid coltype, Oid optype, Oid valtype)
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
bool
ng_operator_lookup(const char *name, NgCmp *cmp, bool *c_order)
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
NgCmp
ng_cmp_commute(NgCmp cmp)
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
NgCmp
ng_cmp_negate(NgCmp cmp)
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
