/*-------------------------------------------------------------------------
 *
 * sort.c
 *		  Decides whether MongoDB can produce a query's sort order exactly,
 *		  and offers the foreign table's sorted path when it can.
 *
 * upper.c uses the same rules for ORDER BY over a pushed aggregation and
 * for LIMIT over a pushed sort.
 *
 * ORDER BY.  MongoDB sorts null and missing first in ascending order (last in
 * descending), brackets BSON types, compares numbers of all BSON types by
 * value and strings by their UTF-8 bytes.  A sort key is pushed when it is a
 * column of one of these types, where that order is PostgreSQL's:
 *
 *	int2/int4/int8, bool, objectid, uuid, timestamptz, timestamp, date
 *	text, varchar (no typmod)	under "C"/"POSIX" (or text_pattern_ops), in a
 *								UTF-8 database; guarded (below)
 *
 *	float8						with a computed key (below)
 *
 * A find's sort has MongoDB's NULL placement: ASC NULLS FIRST or DESC NULLS
 * LAST, or either placement when a WHERE condition proves the column NOT
 * NULL for the rows returned (col IS NOT NULL, col > 5, ...).  Otherwise
 * (PostgreSQL's defaults, ASC NULLS LAST and DESC NULLS FIRST) the sort
 * takes a computed key: the find becomes an aggregation that first sorts on
 * {$lte: ["$col", null]}, true for null and missing (pipeline.c).  float8
 * always takes one more, {$lt: ["$col", -Infinity]}, true for NaN (and null
 * and missing, sorted apart before it): MongoDB sorts NaN below every
 * number, PostgreSQL above.  A server without these expressions (FerretDB
 * 1.x) rejects the pipeline, and the scan sorts locally.  Not pushed:
 * numeric (decimal128 and double values with the same numeric reading,
 * 0.1, sort apart in MongoDB, and which one comes first decides the order
 * of the next key), columns with type_mismatch 'null' (an unfit value reads
 * as NULL but sorts by its BSON type), $$ROOT, expressions.  The whole
 * ORDER BY is pushed or none of it.
 *
 * Guards.  A text column also reads ObjectIds (as hex), which MongoDB sorts
 * after every string and never groups with the string of the same hex.  So
 * a scan that sorts or groups by a text column first asks MongoDB whether
 * the documents hold both strings and ObjectIds in that field (one or two
 * finds with limit 1); if they do, it sorts or aggregates locally instead.
 * The same device covers a GROUP BY of several columns: MongoDB's compound
 * _id keeps a missing field apart from a null one, PostgreSQL does not.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/plan/sort.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_opfamily.h"
#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/tlist.h"
#include "utils/lsyscache.h"
#include "utils/pg_locale.h"
#include "utils/typcache.h"

#include "plan/plan.h"

static bool computed_keys_allowed(NgTableOptions *opts);

/*
 * A sort key for MongoDB path "field" from a pathkey of its EC; attnum and
 * guard are the caller's to set.
 */
NgSortKey *
ng_sort_key_make(PathKey *pk, EquivalenceClass *ec, Oid datatype,
				 Expr *expr, const char *field)
{
	NgSortKey  *key = palloc0(sizeof(NgSortKey));

	key->field = field;
	key->descending = (ng_pathkey_strategy(pk) == BTGreaterStrategyNumber);
	key->nulls_first = pk->pk_nulls_first;
	key->sortop = get_opfamily_member(pk->pk_opfamily, datatype, datatype,
									  ng_pathkey_strategy(pk));
	key->collation = ec->ec_collation;
	key->expr = expr;
	return key;
}

/*
 * ng_sort_add_paths
 *		Add a path of the foreign table sorted as the query wants it
 *		(root->query_pathkeys), if MongoDB can sort that way exactly.
 *
 * startup and total are the costs of the plain path.  Only for SELECT: the
 * scans of UPDATE and DELETE targets re-read documents one by one.
 */
void
ng_sort_add_paths(PlannerInfo *root, RelOptInfo *baserel,
				  NgRelInfo *fpinfo, Cost startup, Cost total)
{
	List	   *keys;
	Cost		extra;

	if (root->parse->commandType != CMD_SELECT ||
		root->query_pathkeys == NIL ||
		!ng_sort_keys_for_base(root, baserel, fpinfo, root->query_pathkeys,
							   &keys))
		return;

	extra = ng_cost_server_work(baserel->rows, ng_sort_guarded_keys(keys));
	if (ng_sort_computed_keys(keys) > 0)
		extra += ng_cost_server_work(baserel->rows, 0);	/* $addFields */

	add_path(baserel, (Path *)
			 ng_create_foreignscan_path(root, baserel, NULL, baserel->rows,
										startup + extra, total + extra,
										root->query_pathkeys,
										baserel->lateral_relids, NULL,
										list_make1(makeInteger(1))));
}

/*
 * ng_sort_base_plan
 *		The fdw_private sort list of a sorted base path, and its guards in
 *		*guards.  NIL for an unsorted path.
 */
List *
ng_sort_base_plan(PlannerInfo *root, RelOptInfo *baserel,
				  ForeignPath *best_path, List **guards)
{
	NgRelInfo  *fpinfo = (NgRelInfo *) baserel->fdw_private;
	List	   *keys;
	List	   *result = NIL;
	ListCell   *lc;

	*guards = NIL;
	if (best_path->fdw_private == NIL || best_path->path.pathkeys == NIL)
		return NIL;
	if (!ng_sort_keys_for_base(root, baserel, fpinfo, best_path->path.pathkeys,
							   &keys))
		elog(ERROR, "could not translate the pushed-down sort order");

	foreach(lc, keys)
	{
		NgSortKey  *key = (NgSortKey *) lfirst(lc);

		if (key->guard)
			*guards = ng_plan_guard_add(*guards, key->field,
										NG_GUARD_STRING_OBJECTID);
	}
	result = ng_sort_plan_keys(keys, NIL);
	return result;
}

/*
 * The sort keys of "pathkeys" on the foreign table, into *keys; false if
 * any of them cannot be pushed.  Keys whose field an earlier key already
 * sorts by are dropped (they cannot change the order).
 */
bool
ng_sort_keys_for_base(PlannerInfo *root, RelOptInfo *baserel,
					  NgRelInfo *fpinfo, List *pathkeys, List **keys)
{
	ListCell   *lc;
	List	   *fields = NIL;

	*keys = NIL;
	foreach(lc, pathkeys)
	{
		PathKey    *pk = (PathKey *) lfirst(lc);
		EquivalenceClass *ec = pk->pk_eclass;
		NgColumn   *column = NULL;
		Oid			basetype = InvalidOid;
		NgTypeClass tclass = NG_TC_NONE;
		Expr	   *expr = NULL;
		Oid			datatype = InvalidOid;
		NgSortKey  *key;
		ListCell   *lc2;
		bool		seen = false;
		int			flags = 0;

		if (ec->ec_has_volatile)
			return false;
		foreach(lc2, ec->ec_members)
		{
			EquivalenceMember *em = (EquivalenceMember *) lfirst(lc2);

			if (em->em_is_const || !bms_equal(em->em_relids, baserel->relids))
				continue;
			column = ng_deparse_column(fpinfo->opts, baserel->relid,
									   (Node *) em->em_expr, &basetype,
									   &tclass);
			if (column != NULL)
			{
				expr = em->em_expr;
				datatype = em->em_datatype;
				break;
			}
		}
		if (column == NULL || column->mismatch == NG_MISMATCH_NULL)
			return false;
		if (ng_pathkey_strategy(pk) != BTLessStrategyNumber &&
			ng_pathkey_strategy(pk) != BTGreaterStrategyNumber)
			return false;
		if (!ng_sort_type_is_exact(tclass, basetype, pk->pk_opfamily,
								   ec->ec_collation))
		{
			/* float8: NaN sorted apart by a computed key, and so are nulls */
			if (tclass != NG_TC_FLOAT8 ||
				pk->pk_opfamily !=
				lookup_type_cache(FLOAT8OID, TYPECACHE_BTREE_OPFAMILY)->btree_opf ||
				!ng_field_is_expression_safe(column->field) ||
				!computed_keys_allowed(fpinfo->opts))
				return false;
			flags = NG_SORT_FLAG_NAN | NG_SORT_FLAG_NULLS;
		}

		/*
		 * MongoDB: ascending puts null and missing first, descending last;
		 * PostgreSQL's other placement takes a computed key
		 */
		if (pk->pk_nulls_first != (ng_pathkey_strategy(pk) == BTLessStrategyNumber) &&
			!ng_sort_column_nonnull(baserel, column->attnum))
		{
			if (!ng_field_is_expression_safe(column->field) ||
				!computed_keys_allowed(fpinfo->opts))
				return false;
			flags |= NG_SORT_FLAG_NULLS;
		}

		foreach(lc2, fields)
		{
			const char *other = (const char *) lfirst(lc2);
			size_t		olen = strlen(other);
			size_t		len = strlen(column->field);

			if (strcmp(other, column->field) == 0)
				seen = true;
			else if ((olen < len && strncmp(other, column->field, olen) == 0 &&
					  column->field[olen] == '.') ||
					 (len < olen && strncmp(other, column->field, len) == 0 &&
					  other[len] == '.'))
				return false;	/* "a" and "a.b": keep it simple */
		}
		if (seen)
			continue;
		fields = lappend(fields, column->field);

		key = ng_sort_key_make(pk, ec, datatype, expr, column->field);
		key->attnum = column->attnum;
		key->guard = (tclass == NG_TC_TEXT);
		key->flags = flags;
		if (!OidIsValid(key->sortop))
			return false;
		*keys = lappend(*keys, key);
	}
	return true;
}

/*
 * Does MongoDB order the values a column of this class reads as the btree
 * opfamily (with this collation) orders them?
 */
bool
ng_sort_type_is_exact(NgTypeClass tclass, Oid basetype, Oid opfamily,
					  Oid collation)
{
	switch (tclass)
	{
		case NG_TC_INT:
		case NG_TC_OBJECTID:
		case NG_TC_BOOL:
		case NG_TC_UUID:
		case NG_TC_TIMESTAMP:
		case NG_TC_DATE:
			return opfamily ==
				lookup_type_cache(basetype, TYPECACHE_BTREE_OPFAMILY)->btree_opf;
		case NG_TC_TEXT:
			if (GetDatabaseEncoding() != PG_UTF8)
				return false;
			if (opfamily == TEXT_PATTERN_BTREE_FAM_OID)
				return true;
			return opfamily == TEXT_BTREE_FAM_OID &&
				OidIsValid(collation) && ng_collate_is_c(collation);
		case NG_TC_FLOAT8:		/* NaN sorts first in MongoDB, last here */
		case NG_TC_NUMERIC:		/* NaN; decimal128 versus double */
		case NG_TC_NONE:
			break;
	}
	return false;
}

/*
 * Is the column NOT NULL in every row the scan returns, because a condition
 * of the scan is strict in it?  (col IS NOT NULL, col > 5, col IN (...) ...)
 */
bool
ng_sort_column_nonnull(RelOptInfo *baserel, AttrNumber attnum)
{
	ListCell   *lc;

	foreach(lc, baserel->baserestrictinfo)
	{
		RestrictInfo *rinfo = (RestrictInfo *) lfirst(lc);

		if (ng_clause_proves_nonnull((Node *) rinfo->clause, baserel->relid,
									 attnum))
			return true;
	}
	return false;
}

/*
 * May a sort of this table add computed fields (__ng_s<n>, __ng_n<n>) to
 * its documents?  Not when a column reads the whole document (it would
 * show them) or a field of that name (it would read them).
 */
static bool
computed_keys_allowed(NgTableOptions *opts)
{
	int			i;

	for (i = 0; i < opts->natts; i++)
	{
		NgColumn   *col = &opts->columns[i];

		if (col->field == NULL)
			continue;
		if (col->is_root || strncmp(col->field, "__ng_", 5) == 0)
			return false;
	}
	return true;
}

/* How many sort keys need computed keys. */
int
ng_sort_computed_keys(List *keys)
{
	ListCell   *lc;
	int			n = 0;

	foreach(lc, keys)
	{
		if (((NgSortKey *) lfirst(lc))->flags != 0)
			n++;
	}
	return n;
}

/* How many sort keys need a guard. */
int
ng_sort_guarded_keys(List *keys)
{
	ListCell   *lc;
	int			n = 0;

	foreach(lc, keys)
	{
		if (((NgSortKey *) lfirst(lc))->guard)
			n++;
	}
	return n;
}

/*
 * The plan contract's form of sort keys (NgPlanSortKey).  With scan_tlist,
 * a key's position is that of its column in the scan tuple; without, its
 * attnum.
 */
List *
ng_sort_plan_keys(List *keys, List *scan_tlist)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, keys)
	{
		NgSortKey  *key = (NgSortKey *) lfirst(lc);
		int			attno = key->attnum;
		NgPlanSortKey *pk;

		if (scan_tlist != NIL)
		{
			TargetEntry *tle = NULL;
			Expr	   *e = key->expr;

			while (IsA(e, RelabelType))
				e = ((RelabelType *) e)->arg;
			tle = tlist_member(e, scan_tlist);
			attno = tle ? tle->resno : 0;
		}
		pk = palloc(sizeof(NgPlanSortKey));
		pk->field = pstrdup(key->field);
		pk->descending = key->descending;
		pk->nulls_first = key->nulls_first;
		pk->attno = attno;
		pk->sortop = key->sortop;
		pk->collation = key->collation;
		pk->flags = key->flags;
		result = lappend(result, pk);
	}
	return result;
}
