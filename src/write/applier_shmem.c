/*-------------------------------------------------------------------------
 *
 * applier_shmem.c
 *		  The applier's GUCs and shared memory: one slot per database that
 *		  has a worker, and how a slot gets a worker registered.
 *
 * Loaded by shared_preload_libraries, the library asks for the shared
 * state (NgApplierShared, applier_int.h) and registers the launcher.
 * Every process that touches a slot holds the shared LWLock; the
 * generations are atomics read without it.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/write/applier_shmem.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_database.h"
#include "nodes/parsenodes.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "write/applier_int.h"

/* GUCs */
int			ng_commit_timeout_ms = 10000;
int			ng_applier_batch_size = 1000;
int			ng_applier_max_attempts = 5;

/* shared memory */
NgApplierShared *ng_applier_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;


static void applier_shmem_request(void);
static void applier_shmem_startup(void);

/*
 * Define the applier's GUCs.  Called from _PG_init before the
 * "nutragenie" prefix is reserved.
 */
void
ng_applier_define_gucs(void)
{
	DefineCustomIntVariable("nutragenie.commit_timeout",
							"Time COMMIT waits for MongoDB to apply the transaction's writes.",
							"After it, COMMIT returns with a warning and the writes stay "
							"queued in nutragenie_fdw.outbox; 0 returns at once without waiting.",
							&ng_commit_timeout_ms,
							10000, 0, INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("nutragenie.applier_batch_size",
							"Outbox rows the applier reads and sends per round.",
							NULL,
							&ng_applier_batch_size,
							1000, 1, 100000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("nutragenie.applier_max_attempts",
							"Times the applier sends one operation that MongoDB drops the connection on before dead-lettering it.",
							"Counted only while the server still answers a ping, so an "
							"outage never dead-letters anything.",
							&ng_applier_max_attempts,
							5, 1, 1000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);
}

/*
 * Ask for the applier's shared memory and register the launcher.  Does
 * nothing unless the library is being loaded by shared_preload_libraries
 * (only the postmaster can do either).
 */
void
ng_applier_shmem_init(void)
{
	BackgroundWorker worker;

	if (!process_shared_preload_libraries_in_progress)
		return;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = applier_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = applier_shmem_startup;
	ng_applier_install_utility_hook();

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = NG_LAUNCHER_NAPTIME_MS / 1000;
	strlcpy(worker.bgw_library_name, NG_LIBRARY_NAME, BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "ng_applier_launcher_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "nutragenie applier launcher", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "nutragenie applier launcher", BGW_MAXLEN);
	worker.bgw_main_arg = (Datum) 0;
	worker.bgw_notify_pid = 0;
	RegisterBackgroundWorker(&worker);
}

static void
applier_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();

	RequestAddinShmemSpace(MAXALIGN(sizeof(NgApplierShared)));
	RequestNamedLWLockTranche(NG_LWLOCK_TRANCHE, 1);
}

/*
 * Create (or, after a crash restart, re-create) the shared state.
 */
static void
applier_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	ng_applier_shared = ShmemInitStruct("nutragenie applier",
										sizeof(NgApplierShared), &found);
	if (!found)
	{
		int			i;

		memset(ng_applier_shared, 0, sizeof(NgApplierShared));
		ng_applier_shared->lock =
			&(GetNamedLWLockTranche(NG_LWLOCK_TRANCHE))->lock;
		ng_applier_shared->launcher_pid = 0;
		for (i = 0; i < NG_APPLIER_MAX_DATABASES; i++)
		{
			NgApplierDb *slot = &ng_applier_shared->dbs[i];

			slot->dboid = InvalidOid;
			slot->procno = -1;
			pg_atomic_init_u64(&slot->request_gen, 0);
			pg_atomic_init_u64(&slot->done_gen, 0);
			pg_atomic_init_u64(&slot->inflight_seq, 0);
			ConditionVariableInit(&slot->done_cv);
		}
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Is the applier there, i.e. was the library preloaded?
 */
bool
ng_applier_available(void)
{
	return ng_applier_shared != NULL;
}

/* The slot of a database, or NULL.  Caller holds the lock. */
NgApplierDb *
ng_applier_find_slot(Oid dboid)
{
	int			i;

	for (i = 0; i < NG_APPLIER_MAX_DATABASES; i++)
	{
		if (ng_applier_shared->dbs[i].dboid == dboid)
			return &ng_applier_shared->dbs[i];
	}
	return NULL;
}

/*
 * The slot of a database, taking a free one if it has none; NULL when all
 * are taken.  Caller holds the lock exclusively.
 */
NgApplierDb *
ng_applier_claim_slot(Oid dboid)
{
	NgApplierDb *slot = ng_applier_find_slot(dboid);

	if (slot != NULL)
		return slot;

	slot = ng_applier_find_slot(InvalidOid);
	if (slot == NULL)
		return NULL;

	slot->dboid = dboid;
	slot->pid = 0;
	slot->procno = -1;
	slot->starting = false;
	slot->started_at = 0;
	slot->exited_at = 0;
	slot->wake = false;
	pg_atomic_write_u64(&slot->request_gen, 0);
	pg_atomic_write_u64(&slot->done_gen, 0);
	slot->dead_next = 0;
	memset(slot->dead_xids, 0, sizeof(slot->dead_xids));
	slot->unmatched_next = 0;
	memset(slot->unmatched_xids, 0, sizeof(slot->unmatched_xids));
	pg_atomic_write_u64(&slot->inflight_seq, 0);
	return slot;
}

/* Give a slot back.  Caller holds the lock exclusively. */
void
ng_applier_free_slot(NgApplierDb *slot)
{
	slot->dboid = InvalidOid;
	slot->pid = 0;
	slot->procno = -1;
	slot->starting = false;
}

/*
 * Does this slot need a worker started now?  Not if one runs, or was
 * registered recently enough to be still starting, or started or exited
 * less than restart_delay_ms ago: a worker that keeps failing is not
 * restarted in a tight loop, and one terminated by DROP DATABASE is not
 * restarted before the drop commits.  Caller holds the lock.
 */
bool
ng_applier_worker_needed(NgApplierDb *slot, TimestampTz now,
						 int restart_delay_ms)
{
	if (slot->pid != 0)
		return false;
	if (slot->starting &&
		!TimestampDifferenceExceeds(slot->started_at, now,
									NG_WORKER_START_TIMEOUT_MS))
		return false;
	if (slot->started_at != 0 &&
		!TimestampDifferenceExceeds(slot->started_at, now, restart_delay_ms))
		return false;
	if (slot->exited_at != 0 &&
		!TimestampDifferenceExceeds(slot->exited_at, now, restart_delay_ms))
		return false;
	return true;
}

/*
 * Register a dynamic worker for the slot's database.  dbname only names
 * the process (NULL: use the OID).  Returns false when no background worker
 * slot is free.  Never raises; caller holds the lock exclusively.
 *
 * The launcher is told when the worker exits, so that it can restart one
 * that died.
 */
bool
ng_applier_register_worker(NgApplierDb *slot, const char *dbname)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, NG_LIBRARY_NAME, BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "ng_applier_worker_main", BGW_MAXLEN);
	if (dbname != NULL && dbname[0] != '\0')
		snprintf(worker.bgw_name, BGW_MAXLEN,
				 "nutragenie applier for database \"%s\"", dbname);
	else
		snprintf(worker.bgw_name, BGW_MAXLEN,
				 "nutragenie applier for database %u", slot->dboid);
	strlcpy(worker.bgw_type, "nutragenie applier", BGW_MAXLEN);
	worker.bgw_main_arg = ObjectIdGetDatum(slot->dboid);
	worker.bgw_notify_pid = ng_applier_shared->launcher_pid;

	slot->started_at = GetCurrentTimestamp();
	if (!RegisterDynamicBackgroundWorker(&worker, NULL))
	{
		slot->starting = false;
		return false;
	}
	slot->starting = true;
	return true;
}
