/*-------------------------------------------------------------------------
 *
 * ng_compat.h
 *		  The one place where PostgreSQL and libbson version differences are
 *		  handled.
 *
 * The code is written against the oldest supported PostgreSQL (15) and
 * libbson/libmongoc (1.23); every call whose signature or name changed in a
 * later release goes through a macro or inline function defined here, so
 * that no other file needs a version test.  Supported and tested:
 * PostgreSQL 15, 17 and 18; libmongoc 1.23, 1.30 and 2.x.  PostgreSQL 16
 * goes through the same PG_VERSION_NUM tests but is not packaged on the
 * Debian suites the tests run on, so it is untested.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/ng_compat.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef NG_COMPAT_H
#define NG_COMPAT_H

#include "postgres.h"

#include <bson/bson.h>

#include "access/stratnum.h"
#include "access/sysattr.h"
#include "commands/explain.h"
#if PG_VERSION_NUM >= 180000
#include "commands/explain_format.h"
#include "commands/explain_state.h"
#endif
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/pathnodes.h"
#include "nodes/primnodes.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "utils/acl.h"
#include "utils/pg_locale.h"
#if PG_VERSION_NUM >= 160000
#include "catalog/pg_database.h"
#include "catalog/pg_foreign_server.h"
#include "nodes/multibitmapset.h"
#endif

/*
 * The module magic block; 18+ also reports the module's name and version
 * (NG_MODULE_VERSION, set by the Makefile from the control file).
 */
#ifdef PG_MODULE_MAGIC_EXT
#define NG_MODULE_MAGIC \
	PG_MODULE_MAGIC_EXT(.name = "nutragenie_fdw", .version = NG_MODULE_VERSION)
#else
#define NG_MODULE_MAGIC PG_MODULE_MAGIC
#endif

/*
 * Functions that never return: PostgreSQL 18 replaced the trailing
 * pg_attribute_noreturn() by the leading specifier pg_noreturn.  Declare
 * them as "pg_noreturn static void f(void);".
 */
#if PG_VERSION_NUM < 180000
#define pg_noreturn pg_attribute_noreturn()
#endif

/*
 * Path constructors: 17 added fdw_restrictinfo (the quals a foreign join or
 * upper path evaluates remotely; we never hand any over), 18 added
 * disabled_nodes (we never disable our own paths).  The ng_ versions take
 * PostgreSQL 15's arguments.
 */
#if PG_VERSION_NUM >= 180000
#define ng_create_foreignscan_path(root, rel, target, rows, startup, total, \
								   pathkeys, required_outer, outerpath, private) \
	create_foreignscan_path((root), (rel), (target), (rows), 0, (startup), \
							(total), (pathkeys), (required_outer), \
							(outerpath), NIL, (private))
#define ng_create_foreign_upper_path(root, rel, target, rows, startup, total, \
									 pathkeys, outerpath, private) \
	create_foreign_upper_path((root), (rel), (target), (rows), 0, (startup), \
							  (total), (pathkeys), (outerpath), NIL, (private))
#elif PG_VERSION_NUM >= 170000
#define ng_create_foreignscan_path(root, rel, target, rows, startup, total, \
								   pathkeys, required_outer, outerpath, private) \
	create_foreignscan_path((root), (rel), (target), (rows), (startup), \
							(total), (pathkeys), (required_outer), \
							(outerpath), NIL, (private))
#define ng_create_foreign_upper_path(root, rel, target, rows, startup, total, \
									 pathkeys, outerpath, private) \
	create_foreign_upper_path((root), (rel), (target), (rows), (startup), \
							  (total), (pathkeys), (outerpath), NIL, (private))
#else
#define ng_create_foreignscan_path create_foreignscan_path
#define ng_create_foreign_upper_path create_foreign_upper_path
#endif

/*
 * Privilege checks: 16 replaced the per-class functions by object_aclcheck()
 * and object_ownercheck().
 */
#if PG_VERSION_NUM >= 160000
#define ng_foreign_server_aclcheck(serverid, roleid, mode) \
	object_aclcheck(ForeignServerRelationId, (serverid), (roleid), (mode))
#define ng_database_ownercheck(dbid, roleid) \
	object_ownercheck(DatabaseRelationId, (dbid), (roleid))
#else
#define ng_foreign_server_aclcheck pg_foreign_server_aclcheck
#define ng_database_ownercheck pg_database_ownercheck
#endif

/*
 * The role a ModifyTable's result relation is checked as (the view owner's
 * for a security-invoker-less view, else the current user): 16 moved
 * checkAsUser from the range table entry to RTEPermissionInfo and added
 * ExecGetResultRelCheckAsUser().
 */
#if PG_VERSION_NUM >= 160000
#define ng_result_rel_user(rinfo, estate) \
	ExecGetResultRelCheckAsUser((rinfo), (estate))
#else
static inline Oid
ng_result_rel_user(ResultRelInfo *rinfo, EState *estate)
{
	if (rinfo->ri_RangeTableIndex != 0)
	{
		RangeTblEntry *rte = exec_rt_fetch(rinfo->ri_RangeTableIndex, estate);

		if (OidIsValid(rte->checkAsUser))
			return rte->checkAsUser;
	}
	return GetUserId();
}
#endif

/*
 * The role a foreign scan runs as, whose user mapping it must use: the
 * owner of a view it reads through, else the executing user, decided when
 * the plan is run, not when it was made (a cached plan may run as another
 * role).  16 stores the role in the plan (ForeignScan.checkAsUser); 15 has
 * it in the range table entry of the scan's (first) relation.
 */
#if PG_VERSION_NUM >= 160000
static inline Oid
ng_foreign_scan_user(ForeignScan *fsplan, EState *estate)
{
	return OidIsValid(fsplan->checkAsUser) ? fsplan->checkAsUser : GetUserId();
}
#else
static inline Oid
ng_foreign_scan_user(ForeignScan *fsplan, EState *estate)
{
	Index		rtindex = fsplan->scan.scanrelid;
	RangeTblEntry *rte;

	if (rtindex == 0)
		rtindex = bms_next_member(fsplan->fs_relids, -1);
	rte = exec_rt_fetch(rtindex, estate);
	return OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
}
#endif

/* 17: LockHeldByMe() can also accept a stronger lock; we want that mode exactly. */
#if PG_VERSION_NUM >= 170000
#define ng_lock_held_by_me(tag, mode) LockHeldByMe((tag), (mode), false)
#else
#define ng_lock_held_by_me(tag, mode) LockHeldByMe((tag), (mode))
#endif

/* 17: a backend's PGPROC number is MyProcNumber, no longer MyProc->pgprocno. */
#if PG_VERSION_NUM < 170000
#define MyProcNumber (MyProc->pgprocno)
#endif

/* 18: vacuum_delay_point() says whether it is called from ANALYZE. */
#if PG_VERSION_NUM >= 180000
#define ng_analyze_delay_point() vacuum_delay_point(true)
#else
#define ng_analyze_delay_point() vacuum_delay_point()
#endif

/*
 * Does collation "collid" sort by bytes (C/POSIX)?  18 removed
 * lc_collate_is_c(); the answer is in the collation's pg_locale_t.
 */
static inline bool
ng_collate_is_c(Oid collid)
{
	if (!OidIsValid(collid))
		return false;
#if PG_VERSION_NUM >= 180000
	return pg_newlocale_from_collation(collid)->collate_is_c;
#else
	return lc_collate_is_c(collid);
#endif
}

/*
 * The btree strategy (BTLessStrategyNumber or BTGreaterStrategyNumber) of a
 * pathkey: 18 replaced pk_strategy by the index-AM-neutral pk_cmptype.
 */
#if PG_VERSION_NUM >= 180000
#define ng_pathkey_strategy(pk) \
	((pk)->pk_cmptype == COMPARE_LT ? BTLessStrategyNumber : \
	 (pk)->pk_cmptype == COMPARE_GT ? BTGreaterStrategyNumber : \
	 InvalidStrategy)
#else
#define ng_pathkey_strategy(pk) ((pk)->pk_strategy)
#endif

/*
 * Does "clause" prove column "attno" of range table entry "varno" non-null
 * (is it strict in that column, at the top level)?  Since 16
 * find_nonnullable_vars() returns a multibitmapset (a List indexed by varno
 * of attribute-number sets, with NULL for varnos it has nothing for), no
 * longer a List of Vars.
 */
static inline bool
ng_clause_proves_nonnull(Node *clause, Index varno, AttrNumber attno)
{
	List	   *vars = find_nonnullable_vars(clause);
#if PG_VERSION_NUM >= 160000
	return mbms_is_member(varno, attno - FirstLowInvalidHeapAttributeNumber,
						  vars);
#else
	ListCell   *lc;

	foreach(lc, vars)
	{
		Var		   *var = (Var *) lfirst(lc);

		if (IsA(var, Var) && var->varno == varno &&
			var->varlevelsup == 0 && var->varattno == attno)
			return true;
	}
	return false;
#endif
}

/* 18: pg_b64_encode() takes its input as uint8, no longer char. */
#if PG_VERSION_NUM >= 180000
#define ng_b64_encode(src, len, dst, dstlen) \
	pg_b64_encode((const uint8 *) (src), (len), (dst), (dstlen))
#else
#define ng_b64_encode(src, len, dst, dstlen) \
	pg_b64_encode((const char *) (src), (len), (dst), (dstlen))
#endif

/*
 * libbson 2 deprecates bson_append_array_begin() under the name
 * bson_append_array_unsafe_begin() (same contract: the caller writes the
 * "0", "1", ... keys); older libbson has only the old name.
 */
#if BSON_MAJOR_VERSION < 2
#define bson_append_array_unsafe_begin bson_append_array_begin
#endif

/* in compat.c: a custom join's scan tuple and nulling relids (16+) */
extern void ng_scan_tlist_nullingrels(List *scan_tlist, List *above);
extern Node *ng_adopt_scan_nullingrels(Node *expr, List *scan_tlist);
extern List *ng_outer_side_first(PlannerInfo *root, List *quals,
								 Relids outer_relids);

#endif							/* NG_COMPAT_H */
