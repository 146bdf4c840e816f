/*-------------------------------------------------------------------------
 *
 * deparse.c
 *		  Decides which conditions MongoDB evaluates exactly and translates
 *		  them, through the three-valued filter algebra, into filters.
 *
 * A WHERE condition is sent to MongoDB only when MongoDB evaluates it with
 * exactly PostgreSQL's result for every document, or when the filter sent
 * is a superset of the rows the condition accepts and the condition is also
 * checked locally ("recheck").  Everything else stays local.  This file
 * holds both halves of that promise: the planner-time test
 * (ng_classify_conditions, ng_is_foreign_expr) and the executor-time
 * translation (ng_deparse_filter_parts).  They share one code path, so a
 * condition is pushed exactly when it can be translated.  No I/O here.
 * upper.c reuses both: ng_deparse_column for the columns it sorts and
 * groups by, and ng_is_foreign_expr_on for HAVING conditions, read as
 * conditions on the fields of an aggregation's result document.
 *
 * The code is in five files: this one (entry points and the walk over
 * AND/OR/NOT, operators, arrays and NULL tests), compare.c (a column
 * compared with a value, per type), filter_value.c (operand values as BSON),
 * filter.c (the filter tree, merged and written as BSON) and filter_split.c
 * (sizes, and splitting a filter too large for one command); filter.h holds
 * what they share.
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
 * The leaves follow per-type rules, stated in compare.c.
 *
 * Size.  A filter is built in time and memory linear in its conditions:
 * an array's elements are folded into one $in/$nin list as they come
 * (fold_element), lists grow in place, and merging compares a term only
 * with a bounded number of others.  Its BSON size is computed before it is
 * written; one over the caller's limit (MongoDB refuses commands over
 * 16 MB) is split into several finds, each with a slice of its largest
 * $in, or loses the terms that cannot be split, which the scan then checks
 * locally (filter_split.c).
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/plan/deparse.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/sysattr.h"
#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "utils/array.h"
#include "utils/arrayaccess.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/pg_locale.h"

#include "plan/filter.h"

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
 * True when ng_deparse_filter_parts can translate it.  *needs_recheck is
 * then set when the translation may match more documents than the
 * condition accepts (values known only at run time that may turn out not
 * representable, or a column with type_mismatch 'null'): the caller must
 * also evaluate the condition locally.  Vars of other relations count as run-time values, as
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
	if (f != NULL && ng_filter_depth(f) > NG_MAX_FILTER_DEPTH)
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

	if (node == NULL || !ng_operand_column(&ctx, node, &col))
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
 * A filter larger than max_bytes is split (ng_filter_split): the finds
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

	f = ng_filter_combine(NG_F_AND, parts);
	ng_filter_split(result, f, max_bytes);
	result->dropped += left_out;
	result->lossy = result->dropped > 0;
	return result;
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
			if (ng_operand_column(ctx, node, &col) && col.tclass == NG_TC_BOOL)
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
					return ng_filter_none();
				return (DatumGetBool(c->constvalue) != negate) ?
					ng_filter_all() : ng_filter_none();
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
	return ng_filter_combine(kind, children);
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

	if (ng_operand_column(ctx, left, &col))
		col_on_left = true;
	else if (ng_operand_column(ctx, right, &col))
		col_on_left = false;
	else
		return NULL;

	valexpr = (Expr *) (col_on_left ? right : left);
	coloptype = col_on_left ? lefttype : righttype;
	valoptype = col_on_left ? righttype : lefttype;
	if (!ng_operator_fits(col.tclass, col.typid, coloptype, valoptype))
		return NULL;
	if (!ng_operand_value(ctx, valexpr, valoptype, &val))
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
		return ng_compare_text_pattern(ctx, col.column->field,
									   strcmp(opname, "^@") != 0, &val,
									   negate != not_like);
	}

	if (!ng_operator_lookup(opname, &cmp, &c_order))
		return NULL;
	if (!col_on_left)
		cmp = ng_cmp_commute(cmp);
	if (negate)
		cmp = ng_cmp_negate(cmp);
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

	return ng_compare_build(ctx, &col, cmp, &val, expr->inputcollid);
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
	if (!ng_operand_column(ctx, left, &col))
		return NULL;
	op_input_types(expr->opno, &lefttype, &righttype);
	if (!ng_operator_fits(col.tclass, col.typid, lefttype, righttype))
		return NULL;
	opname = get_opname(expr->opno);
	if (opname == NULL || !ng_operator_lookup(opname, &cmp, &c_order))
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
	af.cmp = negate ? ng_cmp_negate(cmp) : cmp;
	af.foldable = (af.disjunction && af.cmp == NG_CMP_EQ) ||
		(!af.disjunction && af.cmp == NG_CMP_NE);
	af.outer = CurrentMemoryContext;

	/* Fold the elements in, one by one. */
	if (IsA(right, Const))
	{
		Const	   *c = (Const *) right;

		if (c->constisnull)
			return ng_filter_none();
		if (!fold_array(&af, c->constvalue, righttype))
			return NULL;
	}
	else if (IsA(right, ArrayExpr) && !((ArrayExpr *) right)->multidims)
	{
		foreach(lc, ((ArrayExpr *) right)->elements)
		{
			NgValueRef	val;

			if (!ng_operand_value(ctx, (Expr *) lfirst(lc), righttype, &val) ||
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
		if (!ng_operand_value(ctx, (Expr *) right, exprType(right), &arrval))
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
			if (ng_compare_build(ctx, &col, cmp, &probe,
								 expr->inputcollid) == NULL)
				return NULL;
			v = ng_value_placeholder(&arrval, NULL);
			if (positive)
				return ng_filter_field(col.column->field, "$in", v);
			return ng_filter_combine(NG_F_AND,
									 list_make2(ng_filter_field(col.column->field,
																"$nin", v),
												ng_filter_field(col.column->field,
																"$ne",
																ng_value_null())));
		}
		else if (arrval.isnull)
			return ng_filter_none();
		else if (!fold_array(&af, arrval.datum, righttype))
			return NULL;
	}
	fold_done(&af);

	if (ctx->planning)
		return ng_filter_all(); /* only "pushable or not" is asked */
	if (!af.disjunction && af.has_null)
		return ng_filter_none();
	if (af.folded != NULL && af.nfolded == 1 && af.single_eq)
	{
		/* a single "=" keeps its plain form {f: v} */
		NgFilterOp *op = linitial(af.folded->ops);

		op->name = "$eq";
		op->is_list = false;
		op->value = linitial(op->values);
		op->values = NIL;
	}
	result = ng_filter_combine(af.disjunction ? NG_F_OR : NG_F_AND, af.parts);
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
		part = ng_compare_build(af->ctx, af->col, af->cmp, val, af->collid);
		if (part == NULL)
			return false;
		af->parts = lappend(af->parts, part);
		return true;
	}

	if (af->scratch == NULL)
		af->scratch = AllocSetContextCreate(af->outer, "nutragenie array",
											ALLOCSET_SMALL_SIZES);
	oldcxt = MemoryContextSwitchTo(af->scratch);
	part = ng_compare_build(af->ctx, af->col, af->cmp, val, af->collid);
	MemoryContextSwitchTo(oldcxt);
	if (part == NULL)
		return false;
	if (af->ctx->planning)
	{
		MemoryContextReset(af->scratch);
		return true;
	}

	if (!(af->disjunction ?
		  (ng_filter_single_op(part, "$eq", false) ||
		   ng_filter_single_op(part, "$in", true)) :
		  ng_filter_single_op(part, "$nin", true)))
	{
		/* not a plain list member: build it again where it is kept */
		MemoryContextReset(af->scratch);
		part = ng_compare_build(af->ctx, af->col, af->cmp, val, af->collid);
		Assert(part != NULL);
		af->parts = lappend(af->parts, part);
		return true;
	}

	op = linitial(part->ops);
	if (af->folded == NULL)
	{
		af->folded = ng_filter_field_list(af->col->column->field,
										  af->disjunction ? "$in" : "$nin", NIL);
		af->folded_op = linitial(af->folded->ops);
		af->single_eq = !op->is_list;
		af->parts = lappend(af->parts, af->folded);
	}
	if (!op->is_list)
		af->folded_op->values = lappend(af->folded_op->values,
										ng_value_copy(op->value));
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
											ng_value_copy(v));
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

	if (expr->argisrow || !ng_operand_column(ctx, (Node *) expr->arg, &col) ||
		col.column->mismatch == NG_MISMATCH_NULL)
		return NULL;

	want_null = (expr->nulltesttype == IS_NULL) != negate;
	if (want_null)
		return ng_filter_field(col.column->field, "$eq", ng_value_null());
	return ng_filter_field(col.column->field, "$ne", ng_value_null());
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

	if (!ng_operand_column(ctx, (Node *) expr->arg, &col) ||
		col.tclass != NG_TC_BOOL ||
		col.column->mismatch == NG_MISMATCH_NULL)
		return NULL;

	switch (expr->booltesttype)
	{
		case IS_TRUE:
		case IS_NOT_TRUE:
			v = ng_value_bool(true);
			positive = (expr->booltesttype == IS_TRUE);
			break;
		case IS_FALSE:
		case IS_NOT_FALSE:
			v = ng_value_bool(false);
			positive = (expr->booltesttype == IS_FALSE);
			break;
		case IS_UNKNOWN:
		case IS_NOT_UNKNOWN:
			v = ng_value_null();
			positive = (expr->booltesttype == IS_UNKNOWN);
			break;
		default:
			return NULL;
	}
	if (positive != negate)
		return ng_filter_field(col.column->field, "$eq", v);
	return ng_filter_field(col.column->field, "$ne", v);
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
	return ng_filter_field(col->column->field, "$eq", ng_value_bool(!negate));
}
