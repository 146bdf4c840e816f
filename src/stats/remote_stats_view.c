/*-------------------------------------------------------------------------
 *
 * remote_stats_view.c
 *		  The SQL functions of the remote statistics: the rows of
 *		  nutragenie_fdw.remote_stats, its reset and its table's state.
 *
 * Who sees what.  A row names a foreign table (or, for the applier's
 * writes, a collection), the role whose user mapping sent the commands,
 * and how much was read and written.  Superusers and members of
 * pg_read_all_stats see every row, as in PostgreSQL's statistics views.
 * Anyone else sees the rows of their own commands, and, in the current
 * database, those of foreign tables they may SELECT from: a role that
 * cannot read a table learns neither its traffic nor its data volume.
 * Rows of other databases name no table (their OIDs mean nothing here).
 *
 * The reset is for superusers and the roles they grant EXECUTE to.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/stats/remote_stats_view.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/syscache.h"

#include "stats/stats_int.h"

#define NG_STATS_COLS	14

static const char *const command_names[NG_STATS_NCOMMANDS] = {
	"find", "aggregate", "count", "insert", "update", "delete", "command"
};

static const char *const mode_names[NG_STATS_NMODES] = {
	"pushed", "key join", "fallback", "single", "applier", "direct"
};

static void require_shared(void);
static bool row_visible(const NgStatsKey *key, bool all);

static void
require_shared(void)
{
	if (ng_stats_hash == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("remote statistics are not available"),
				 errhint("Add nutragenie_fdw to \"shared_preload_libraries\" and restart the server.")));
}

/*
 * May the current role see this row?  (The rules are in the file header.)
 */
static bool
row_visible(const NgStatsKey *key, bool all)
{
	if (all)
		return true;
	if (has_privs_of_role(GetUserId(), key->userid))
		return true;
	return key->dbid == MyDatabaseId && OidIsValid(key->relid) &&
		SearchSysCacheExists1(RELOID, ObjectIdGetDatum(key->relid)) &&
		pg_class_aclcheck(key->relid, GetUserId(), ACL_SELECT) == ACLCHECK_OK;
}

PG_FUNCTION_INFO_V1(nutragenie_fdw_remote_stats);

/*
 * nutragenie_fdw_remote_stats
 *		The rows of nutragenie_fdw.remote_stats the current role may see,
 *		after flushing this backend's own counters.
 */
Datum
nutragenie_fdw_remote_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS seq;
	NgStatsEntry *e;
	NgStatsEntry *copies;
	int			n = 0;
	bool		all;

	require_shared();
	ng_stats_flush();
	InitMaterializedSRF(fcinfo, 0);
	all = superuser() ||
		has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);

	/*
	 * Copy the entries out first: the privilege checks may read catalogs,
	 * which is no work to do under the table's lock.
	 */
	LWLockAcquire(ng_stats_shared->lock, LW_SHARED);
	copies = palloc(sizeof(NgStatsEntry) *
					Max(hash_get_num_entries(ng_stats_hash), 1));
	hash_seq_init(&seq, ng_stats_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		SpinLockAcquire(&e->mutex);
		copies[n++] = *e;
		SpinLockRelease(&e->mutex);
	}
	LWLockRelease(ng_stats_shared->lock);

	for (int r = 0; r < n; r++)
	{
		NgStatsEntry *c = &copies[r];
		Datum		values[NG_STATS_COLS];
		bool		nulls[NG_STATS_COLS];
		int			i = 0;

		if (!row_visible(&c->key, all))
			continue;

		memset(nulls, 0, sizeof(nulls));
		values[i++] = ObjectIdGetDatum(c->key.dbid);
		values[i++] = ObjectIdGetDatum(c->key.userid);
		if (OidIsValid(c->key.relid) && c->key.dbid == MyDatabaseId)
			values[i++] = ObjectIdGetDatum(c->key.relid);
		else
			nulls[i++] = true;
		values[i++] = CStringGetTextDatum(c->key.collection);
		values[i++] = CStringGetTextDatum(command_names[c->key.command]);
		values[i++] = CStringGetTextDatum(mode_names[c->key.mode]);
		values[i++] = Int64GetDatum(c->calls);
		values[i++] = Int64GetDatum(c->documents);
		values[i++] = Int64GetDatum(c->bytes_received);
		values[i++] = Int64GetDatum(c->bytes_sent);
		values[i++] = Float8GetDatum(c->wait_ms);
		values[i++] = Float8GetDatum(c->convert_ms);
		values[i++] = Int64GetDatum(c->fallbacks);
		values[i++] = Int64GetDatum(c->errors);
		Assert(i == NG_STATS_COLS);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values,
							 nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(nutragenie_fdw_remote_stats_reset);

/*
 * nutragenie_fdw_remote_stats_reset
 *		Remove every entry (of every database), including this backend's
 *		unflushed counters.  Other backends' unflushed counters arrive
 *		later.  EXECUTE is revoked from PUBLIC.
 */
Datum
nutragenie_fdw_remote_stats_reset(PG_FUNCTION_ARGS)
{
	HASH_SEQ_STATUS seq;
	NgStatsEntry *e;

	require_shared();
	ng_stats_discard_local();
	LWLockAcquire(ng_stats_shared->lock, LW_EXCLUSIVE);
	hash_seq_init(&seq, ng_stats_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
		hash_search(ng_stats_hash, &e->key, HASH_REMOVE, NULL);
	ng_stats_shared->evicted = 0;
	ng_stats_shared->reset_time = GetCurrentTimestamp();
	LWLockRelease(ng_stats_shared->lock);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(nutragenie_fdw_remote_stats_info);

/*
 * nutragenie_fdw_remote_stats_info
 *		The shared table's state: its capacity, entries, entries evicted
 *		and the last reset.
 */
Datum
nutragenie_fdw_remote_stats_info(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	require_shared();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	LWLockAcquire(ng_stats_shared->lock, LW_SHARED);
	values[0] = Int32GetDatum(ng_stats_shared->max_entries);
	values[1] = Int64GetDatum(hash_get_num_entries(ng_stats_hash));
	values[2] = Int64GetDatum(ng_stats_shared->evicted);
	values[3] = TimestampTzGetDatum(ng_stats_shared->reset_time);
	LWLockRelease(ng_stats_shared->lock);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
