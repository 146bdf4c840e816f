/*-------------------------------------------------------------------------
 *
 * applier_launcher.c
 *		  The applier launcher: a static background worker that keeps one
 *		  applier worker running per database.
 *
 * Supervision.  A static launcher starts a worker for every database that
 * allows connections; a worker exits quietly where the extension is not
 * installed.  Workers never restart themselves (a dropped database would
 * make them fail forever): the launcher restarts those that died and
 * forgets databases that are gone, and a writing backend starts the
 * worker of its database when none is running.  A second worker for the
 * same database exits at once.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/write/applier_launcher.c
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

static void launcher_detach(int code, Datum arg);
static void launcher_scan(bool first, MemoryContext scan_cxt);

/*
 * Launcher entry point: start a worker for every database that allows
 * connections, then keep restarting those that die (it is notified of
 * their exit) and forget databases that were dropped.
 */
void
ng_applier_launcher_main(Datum main_arg)
{
	MemoryContext scan_cxt;
	bool		first = true;

	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();

	/* no database: only the shared catalogs (pg_database) */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	LWLockAcquire(ng_applier_shared->lock, LW_EXCLUSIVE);
	ng_applier_shared->launcher_pid = MyProcPid;
	LWLockRelease(ng_applier_shared->lock);
	before_shmem_exit(launcher_detach, (Datum) 0);
	ng_applier_note_startup_xid();

	scan_cxt = AllocSetContextCreate(TopMemoryContext,
									 "nutragenie applier launcher",
									 ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		launcher_scan(first, scan_cxt);
		first = false;

		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 NG_LAUNCHER_NAPTIME_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

static void
launcher_detach(int code, Datum arg)
{
	LWLockAcquire(ng_applier_shared->lock, LW_EXCLUSIVE);
	if (ng_applier_shared->launcher_pid == MyProcPid)
		ng_applier_shared->launcher_pid = 0;
	LWLockRelease(ng_applier_shared->lock);
}

/*
 * One pass of the launcher.  The first pass starts a worker for each
 * database that allows connections (templates excepted); later passes
 * restart the workers of databases that still want one.  Slots of dropped
 * databases are freed.  Errors are not caught: the launcher then exits and
 * the postmaster starts it again.
 */
static void
launcher_scan(bool first, MemoryContext scan_cxt)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	List	   *oids = NIL;
	List	   *names = NIL;
	ListCell   *lc1;
	ListCell   *lc2;
	MemoryContext oldcxt;
	TimestampTz now;
	bool		full = false;
	int			i;

	MemoryContextReset(scan_cxt);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (!db->datallowconn || db->datistemplate)
			continue;
		oldcxt = MemoryContextSwitchTo(scan_cxt);
		oids = lappend_oid(oids, db->oid);
		names = lappend(names, pstrdup(NameStr(db->datname)));
		MemoryContextSwitchTo(oldcxt);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();

	now = GetCurrentTimestamp();
	LWLockAcquire(ng_applier_shared->lock, LW_EXCLUSIVE);

	/* forget dropped databases (a worker cannot still run in one) */
	for (i = 0; i < NG_APPLIER_MAX_DATABASES; i++)
	{
		NgApplierDb *slot = &ng_applier_shared->dbs[i];

		if (OidIsValid(slot->dboid) && slot->pid == 0 &&
			!list_member_oid(oids, slot->dboid))
			ng_applier_free_slot(slot);
	}

	forboth(lc1, oids, lc2, names)
	{
		Oid			dboid = lfirst_oid(lc1);
		NgApplierDb *slot;

		slot = first ? ng_applier_claim_slot(dboid) :
			ng_applier_find_slot(dboid);
		if (slot == NULL)
		{
			/* only the first pass claims slots; later ones find none */
			full = full || first;
			continue;
		}
		if (ng_applier_worker_needed(slot, now,
									 first ? 0 : NG_WORKER_RESTART_MS))
			(void) ng_applier_register_worker(slot, (char *) lfirst(lc2));
	}
	LWLockRelease(ng_applier_shared->lock);

	if (full)
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("more databases than nutragenie appliers"),
				 errdetail("At most %d databases can have a nutragenie applier; the others get one when they first write.",
						   NG_APPLIER_MAX_DATABASES)));
}
