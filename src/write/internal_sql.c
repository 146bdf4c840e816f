/*-------------------------------------------------------------------------
 *
 * internal_sql.c
 *		  Runs nutragenie's own SQL statements out of the caller's reach.
 *
 * The engine keeps its state in tables of the extension's schema
 * (nutragenie_fdw.outbox, nutragenie_fdw.dead_letters) that users cannot write
 * directly, and reaches them with SQL through SPI: the statements of a
 * foreign-table write in the user's backend, and those of the applier
 * worker.  Every such statement goes through ng_internal_sql_execute, which
 * gives it three guarantees:
 *
 *	 - search_path is "pg_catalog, pg_temp" while the statement is parsed,
 *	   planned, re-planned by the plan cache and executed.  Nothing the
 *	   caller created (a schema first on its search_path holding an
 *	   operator =(bytea,bytea), a function count(), a table "outbox", a
 *	   type "int4") is resolved by our SQL, which also names every relation
 *	   with its schema.  The plan cache re-analyses a kept plan whenever the
 *	   search_path differs from the one it was made with, so pinning it only
 *	   for preparation would not be enough: it is pinned for the execution
 *	   too.
 *	 - it runs as the owner of nutragenie_fdw.outbox (the role that installed
 *	   the extension), the least privilege that can write the outbox, never
 *	   as the bootstrap superuser;
 *	 - with SECURITY_RESTRICTED_OPERATION, so that nothing it could reach
 *	   may change session state.
 *
 * The SQL given here must still qualify every relation with
 * NG_SCHEMA_NAME; functions and operators then come from pg_catalog.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/write/internal_sql.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "nutragenie.h"

/* what every internal statement resolves unqualified names with */
#define NG_INTERNAL_SEARCH_PATH "pg_catalog, pg_temp"

static Oid	internal_role(void);

/*
 * The role internal statements run as: the owner of nutragenie_fdw.outbox.
 * Raises undefined_table when the extension's tables are gone.
 */
static Oid
internal_role(void)
{
	Oid			nsp = get_namespace_oid(NG_SCHEMA_NAME, true);
	Oid			relid = InvalidOid;
	HeapTuple	tup;
	Oid			owner;

	if (OidIsValid(nsp))
		relid = get_relname_relid("outbox", nsp);
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"%s.outbox\" does not exist", NG_SCHEMA_NAME),
				 errhint("Create or update the extension nutragenie_fdw.")));
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/*
 * ng_internal_sql_execute
 *		Run one of nutragenie's own statements: prepare it on first use
 *		(*planp is NULL then, and keeps the plan for the life of the
 *		process), then execute it with values/nulls as SPI_execute_plan
 *		takes them.  The caller is inside SPI_connect and reads the result
 *		from SPI_tuptable/SPI_processed; the return value is
 *		SPI_execute_plan's.
 *
 *		Parsing, planning and execution see search_path "pg_catalog,
 *		pg_temp" and run as the owner of nutragenie_fdw.outbox under
 *		SECURITY_RESTRICTED_OPERATION (see the file header).  The caller's
 *		user, security context and search_path are back when this returns
 *		or raises.
 */
int
ng_internal_sql_execute(SPIPlanPtr *planp, const char *sql, int nargs,
						const Oid *argtypes, Datum *values, const char *nulls,
						bool read_only)
{
	Oid			owner = internal_role();
	Oid			save_userid;
	int			save_sec;
	int			save_nestlevel;
	int			ret;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	save_nestlevel = NewGUCNestLevel();
	PG_TRY();
	{
		(void) set_config_option("search_path", NG_INTERNAL_SEARCH_PATH,
								 PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		SetUserIdAndSecContext(owner,
							   save_sec | SECURITY_LOCAL_USERID_CHANGE |
							   SECURITY_RESTRICTED_OPERATION);
		if (*planp == NULL)
		{
			SPIPlanPtr	plan = SPI_prepare(sql, nargs, (Oid *) argtypes);

			if (plan == NULL)
				elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql,
					 SPI_result_code_string(SPI_result));
			if (SPI_keepplan(plan) != 0)
				elog(ERROR, "SPI_keepplan failed");
			*planp = plan;
		}
		ret = SPI_execute_plan(*planp, values, nulls, read_only, 0);
		if (ret < 0)
			elog(ERROR, "SPI_execute_plan failed for \"%s\": %s", sql,
				 SPI_result_code_string(ret));
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec);
		AtEOXact_GUC(false, save_nestlevel);
	}
	PG_END_TRY();
	return ret;
}
