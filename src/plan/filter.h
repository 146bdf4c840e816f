/*-------------------------------------------------------------------------
 *
 * filter.h
 *		  The filter tree and the deparser's internals, shared by deparse.c,
 *		  compare.c, filter_value.c, filter.c and filter_split.c.
 *
 * Private to those files; the rest of the planner and the executor use
 * plan/plan.h.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/plan/filter.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef NG_FILTER_H
#define NG_FILTER_H

#include "plan/plan.h"

#include "utils/uuid.h"


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
 * A filter ready to send, as one find or several (ng_filter_split).
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

/* A term of a conjunction and the bytes it takes (ng_filter_split). */
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

/* in compare.c */
extern NgFilter *ng_compare_build(NgDeparseCtx *ctx, NgColumnRef *col,
								  NgCmp cmp, NgValueRef *val, Oid collid);
extern NgFilter *ng_compare_text_pattern(NgDeparseCtx *ctx, const char *path,
										 bool is_like, NgValueRef *val,
										 bool negate);
extern bool ng_operand_column(NgDeparseCtx *ctx, Node *node, NgColumnRef *col);
extern bool ng_operand_value(NgDeparseCtx *ctx, Expr *expr, Oid typid,
							 NgValueRef *val);
extern bool ng_operator_fits(NgTypeClass tclass, Oid coltype, Oid optype,
							 Oid valtype);
extern bool ng_operator_lookup(const char *name, NgCmp *cmp, bool *c_order);
extern NgCmp ng_cmp_commute(NgCmp cmp);
extern NgCmp ng_cmp_negate(NgCmp cmp);

/* in filter_value.c */
extern bool ng_datum_to_int64(Datum datum, Oid typid, int64 *result);
extern bool ng_numeric_to_int64(Datum datum, int64 *result);
extern char *ng_datum_to_utf8(Datum datum);
extern bool ng_like_pattern_parse(const char *pattern, NgPatternKind *kind,
								  char **literal);
extern char *ng_regex_escape_prefix(const char *literal);
extern bool ng_is_objectid_hex(const char *s, size_t len);
extern bool ng_is_hex_prefix(const char *s);
extern NgFilterValue *ng_value_placeholder(NgValueRef *val, const char *derived);
extern NgFilterValue *ng_value_int64(int64 v);
extern NgFilterValue *ng_value_double(double v);
extern NgFilterValue *ng_value_utf8(const char *s);
extern NgFilterValue *ng_value_oid_hex(const char *hex);
extern NgFilterValue *ng_value_oid_bytes(const uint8 *bytes);
extern NgFilterValue *ng_value_bool(bool v);
extern NgFilterValue *ng_value_null(void);
extern NgFilterValue *ng_value_date(int64 ms);
extern NgFilterValue *ng_value_uuid(const pg_uuid_t *uuid);
extern NgFilterValue *ng_value_copy(const NgFilterValue *v);

/* in filter.c */
extern NgFilter *ng_filter_all(void);
extern NgFilter *ng_filter_none(void);
extern NgFilter *ng_filter_field(const char *path, const char *opname,
								 NgFilterValue *value);
extern NgFilter *ng_filter_field_list(const char *path, const char *opname,
									  List *values);
extern NgFilter *ng_filter_is_nan(const char *path);
extern NgFilter *ng_filter_combine(NgFilterKind kind, List *children);
extern NgFilter *ng_filter_nor(List *children);
extern bool ng_filter_single_op(NgFilter *f, const char *name, bool list);
extern void ng_filter_append(bson_t *doc, NgFilter *f);
extern void ng_filter_append_ops(bson_t *doc, List *ops);
extern bool ng_filter_and_inlinable(NgFilter *f);
extern int	ng_filter_depth(NgFilter *f);

/* in filter_split.c */
extern void ng_filter_split(NgFilterParts *parts, NgFilter *f, Size max_bytes);

#endif							/* NG_FILTER_H */
