/*-------------------------------------------------------------------------
 *
 * applier_backend.c
 *		  What an ordinary backend runs for the applier: starting its
 *		  database's worker, the commit wait, the DROP DATABASE hook and
 *		  ng_applier_wake.
 *
 * A transaction that wrote outbox rows makes sure its database has a
 * worker, then, after its commit became visible, waits for the worker to
 * apply its rows (overlay.c calls ng_applier_wait_for_commit).
 *
 * Commit wait.  Each database has a request generation, bumped by every
 * committing writer after its commit became visible, and a done
 * generation.  A round reads the request generation before its snapshot;
 * when it has read every committed row (fewer than a batch), everything
 * committed before that bump has been applied or is held, so it
 * publishes the value as done, with a bitmap of the transactions that
 * still have rows in the outbox (held_xids), and broadcasts a condition
 * variable that the committers sleep on (with a timeout).  A committer
 * whose transaction is in the bitmap keeps waiting.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/write/applier_backend.c
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

/* this process's database name, for naming a worker it starts */
static char my_dbname[NAMEDATALEN];

/* a transaction that locked the outbox against the applier: do not wait */
static FullTransactionId outbox_locked_fxid = {0};


/*
 * DROP DATABASE waits only a few seconds for other sessions to leave, and
 * an applier worker is one: stop the database's worker first (the launcher
 * restarts it after NG_LAUNCHER_NAPTIME_MS if the database is still there).
 * The hook runs before dropdb() checks anything, so it acts only when
 * dropdb() would go on: the database exists (DROP DATABASE IF EXISTS on a
 * missing one does nothing), is not the current one, and the user owns it
 * (or is a superuser).  Any other user would merely get "must be owner",
 * and must not be able to stop another database's applier by trying.
 */
static ProcessUtility_hook_type prev_process_utility_hook = NULL;

static void note_outbox_lock(void);
static NgApplierDb *start_worker_nothrow(Oid dboid);
static void wait_for_generation(NgApplierDb *slot, uint64 gen);
static bool xid_in_ring(const uint64 *ring, uint64 xid);
static bool xid_held(NgApplierDb *slot, uint64 xid);

static void
stop_worker_for_drop(const char *dbname)
{
	Oid			dboid = get_database_oid(dbname, true);
	NgApplierDb *slot;
	pid_t		pid = 0;
	int			i;

	if (!OidIsValid(dboid) || dboid == MyDatabaseId ||
		ng_applier_shared == NULL ||
		!ng_database_ownercheck(dboid, GetUserId()))
		return;

	LWLockAcquire(ng_applier_shared->lock, LW_SHARED);
	slot = ng_applier_find_slot(dboid);
	if (slot != NULL)
		pid = slot->pid;
	LWLockRelease(ng_applier_shared->lock);
	if (pid == 0)
		return;

	(void) kill(pid, SIGTERM);
	for (i = 0; i < 500; i++)
	{
		bool		gone;

		LWLockAcquire(ng_applier_shared->lock, LW_SHARED);
		gone = slot->dboid != dboid || slot->pid != pid;
		LWLockRelease(ng_applier_shared->lock);
		if (gone)
			break;
		CHECK_FOR_INTERRUPTS();
		pg_usleep(10 * 1000L);
	}
}

static void
applier_process_utility(PlannedStmt *pstmt, const char *queryString,
						bool readOnlyTree, ProcessUtilityContext context,
						ParamListInfo params, QueryEnvironment *queryEnv,
						DestReceiver *dest, QueryCompletion *qc)
{
	if (IsA(pstmt->utilityStmt, DropdbStmt))
		stop_worker_for_drop(((DropdbStmt *) pstmt->utilityStmt)->dbname);

	if (prev_process_utility_hook)
		prev_process_utility_hook(pstmt, queryString, readOnlyTree, context,
								  params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
}

/*
 * ng_applier_install_utility_hook
 *		Install the DROP DATABASE hook above.  Called from the postmaster
 *		while shared_preload_libraries loads the library.
 */
void
ng_applier_install_utility_hook(void)
{
	prev_process_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = applier_process_utility;
}

/*
 * Make sure a worker runs for the current database: start one if none is
 * running or starting (and none was started in the last few seconds: the
 * launcher deals with a worker that keeps failing).  Called by writers in
 * their transaction, before the first outbox row, so it may raise.  Not finding a free background worker
 * slot is only a WARNING: the rows are queued durably and the launcher
 * keeps trying to start the worker.
 */
void
ng_applier_ensure_worker(void)
{
	NgApplierDb *slot;
	bool		needed;
	bool		registered = true;
	char	   *dbname;

	if (ng_applier_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the nutragenie applier is not running"),
				 errhint("Add nutragenie to shared_preload_libraries and restart the server.")));

	note_outbox_lock();

	LWLockAcquire(ng_applier_shared->lock, LW_SHARED);
	slot = ng_applier_find_slot(MyDatabaseId);
	needed = (slot == NULL ||
			  ng_applier_worker_needed(slot, GetCurrentTimestamp(),
									   NG_WORKER_RESTART_MS));
	LWLockRelease(ng_applier_shared->lock);
	if (!needed)
		return;

	/* catalog access outside the lock */
	dbname = get_database_name(MyDatabaseId);
	if (dbname != NULL)
		strlcpy(my_dbname, dbname, sizeof(my_dbname));

	LWLockAcquire(ng_applier_shared->lock, LW_EXCLUSIVE);
	slot = ng_applier_claim_slot(MyDatabaseId);
	if (slot != NULL && ng_applier_worker_needed(slot, GetCurrentTimestamp(),
												 NG_WORKER_RESTART_MS))
		registered = ng_applier_register_worker(slot, my_dbname);
	LWLockRelease(ng_applier_shared->lock);

	if (slot == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("too many databases write through nutragenie"),
				 errdetail("At most %d databases can have a nutragenie applier at the same time.",
						   NG_APPLIER_MAX_DATABASES)));
	if (!registered)
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start the nutragenie applier for database \"%s\"",
						my_dbname),
				 errdetail("MongoDB writes stay queued until a background worker slot is free."),
				 errhint("Raise max_worker_processes.")));
}

/*
 * Remember whether this transaction holds a lock on the outbox or the
 * dead letters that the applier's SELECT, DELETE or INSERT would wait for
 * (CREATE EXTENSION, ALTER EXTENSION UPDATE, LOCK TABLE or TRUNCATE in the
 * writing transaction).  Its locks are released only after the commit
 * wait, so waiting would stall until nutragenie.commit_timeout; such a
 * transaction returns from COMMIT at once and its rows are applied as soon
 * as its locks are gone.  Checked from ng_applier_ensure_worker, in the
 * transaction, since the commit callback cannot read the catalogs.
 */
static void
note_outbox_lock(void)
{
	static const char *const tables[] = {"outbox", "dead_letters"};
	Oid			nsp = get_namespace_oid(NG_SCHEMA_NAME, true);
	int			i;

	if (!OidIsValid(nsp))
		return;
	for (i = 0; i < lengthof(tables); i++)
	{
		Oid			relid = get_relname_relid(tables[i], nsp);
		LOCKTAG		tag;
		LOCKMODE	mode;

		if (!OidIsValid(relid))
			continue;
		SET_LOCKTAG_RELATION(tag, MyDatabaseId, relid);
		for (mode = ShareLock; mode <= AccessExclusiveLock; mode++)
		{
			if (ng_lock_held_by_me(&tag, mode))
			{
				outbox_locked_fxid = GetTopFullTransactionId();
				return;
			}
		}
	}
}

/*
 * Find or create the slot of a database and start its worker if it needs
 * one, without raising: used after commit, where errors are not allowed.
 * Returns the slot, or NULL if none is free.
 */
static NgApplierDb *
start_worker_nothrow(Oid dboid)
{
	NgApplierDb *slot;

	LWLockAcquire(ng_applier_shared->lock, LW_EXCLUSIVE);
	slot = ng_applier_claim_slot(dboid);
	if (slot != NULL && ng_applier_worker_needed(slot, GetCurrentTimestamp(),
												 NG_WORKER_RESTART_MS))
		(void) ng_applier_register_worker(slot, my_dbname);
	LWLockRelease(ng_applier_shared->lock);
	return slot;
}

/*
 * Called after a transaction that wrote outbox rows has committed (from
 * the XACT_EVENT_COMMIT callback, with interrupts held): announce the
 * commit to the applier and wait, at most nutragenie.commit_timeout, until
 * it has applied everything committed so far.  Never raises an error:
 * the transaction is committed.  It warns when it stops waiting before
 * the rows were applied, and when one of this transaction's rows was
 * dead-lettered.
 */
void
ng_applier_wait_for_commit(void)
{
	NgApplierDb *slot;
	uint64		gen = 0;
	int			procno = -1;

	if (ng_applier_shared == NULL)
		return;

	LWLockAcquire(ng_applier_shared->lock, LW_SHARED);
	slot = ng_applier_find_slot(MyDatabaseId);
	if (slot != NULL)
	{
		gen = pg_atomic_add_fetch_u64(&slot->request_gen, 1);
		procno = slot->procno;
	}
	LWLockRelease(ng_applier_shared->lock);

	if (slot == NULL)
	{
		/* The worker found no extension and left; start a new one. */
		slot = start_worker_nothrow(MyDatabaseId);
		if (slot == NULL)
		{
			ereport(WARNING,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("MongoDB has not applied this transaction's changes yet"),
					 errdetail("No nutragenie applier can run for this database: at most %d databases can have one.",
							   NG_APPLIER_MAX_DATABASES)));
			return;
		}
		gen = pg_atomic_add_fetch_u64(&slot->request_gen, 1);
	}

	if (procno >= 0)
		SetLatch(&ProcGlobal->allProcs[procno].procLatch);

	if (ng_commit_timeout_ms <= 0)
		return;
	if (FullTransactionIdIsValid(outbox_locked_fxid) &&
		FullTransactionIdEquals(GetTopFullTransactionIdIfAny(),
								outbox_locked_fxid))
		return;

	wait_for_generation(slot, gen);
}

/*
 * The commit wait proper: sleep on the slot's condition variable until
 * done_gen reaches gen, the timeout passes, or the session is cancelled or
 * terminated (interrupts are held, so those only set flags).
 */
static void
wait_for_generation(NgApplierDb *slot, uint64 gen)
{
	TimestampTz start = GetCurrentTimestamp();
	bool		applied = false;
	bool		interrupted = false;
	FullTransactionId fxid = GetTopFullTransactionIdIfAny();

	ConditionVariablePrepareToSleep(&slot->done_cv);
	for (;;)
	{
		long		elapsed;
		long		slice;
		bool		restart;

		if (pg_atomic_read_u64(&slot->done_gen) >= gen)
		{
			bool		held = false;

			/* not if some of its rows are held: see "Order" */
			if (FullTransactionIdIsValid(fxid))
			{
				LWLockAcquire(ng_applier_shared->lock, LW_SHARED);
				held = xid_held(slot, U64FromFullTransactionId(fxid));
				LWLockRelease(ng_applier_shared->lock);
			}
			if (!held)
			{
				applied = true;
				break;
			}
		}
		if (ProcDiePending || QueryCancelPending)
		{
			interrupted = true;
			break;
		}
		elapsed = TimestampDifferenceMilliseconds(start, GetCurrentTimestamp());
		if (elapsed >= ng_commit_timeout_ms)
			break;
		slice = Min(ng_commit_timeout_ms - elapsed, NG_COMMIT_WAIT_SLICE_MS);
		(void) ConditionVariableTimedSleep(&slot->done_cv, slice,
										   PG_WAIT_EXTENSION);

		/* A worker that died is restarted here too, not only by the launcher. */
		LWLockAcquire(ng_applier_shared->lock, LW_SHARED);
		restart = ng_applier_worker_needed(slot, GetCurrentTimestamp(),
										   NG_WORKER_RESTART_MS);
		LWLockRelease(ng_applier_shared->lock);
		if (restart)
			(void) start_worker_nothrow(MyDatabaseId);
	}
	ConditionVariableCancelSleep();

	if (applied)
	{
		bool		dead = false;
		bool		unmatched = false;

		if (FullTransactionIdIsValid(fxid))
		{
			uint64		xid = U64FromFullTransactionId(fxid);

			LWLockAcquire(ng_applier_shared->lock, LW_SHARED);
			dead = xid_in_ring(slot->dead_xids, xid);
			unmatched = xid_in_ring(slot->unmatched_xids, xid);
			LWLockRelease(ng_applier_shared->lock);
		}
		if (unmatched)
			ereport(WARNING,
					(errcode(ERRCODE_WARNING),
					 errmsg("some of this transaction's changes matched no document in MongoDB"),
					 errdetail("Their documents were gone when MongoDB applied them (deleted by another client, or never inserted); the changes were moved to nutragenie_fdw.dead_letters."),
					 errhint("See nutragenie_fdw.dead_letter_queue.")));
		if (dead)
			ereport(WARNING,
					(errcode(ERRCODE_WARNING),
					 errmsg("MongoDB rejected some of this transaction's changes"),
					 errdetail("The rejected operations were moved to nutragenie_fdw.dead_letters with the server's error."),
					 errhint("See nutragenie_fdw.dead_letter_queue; fix the cause, then retry them with nutragenie_fdw.retry_dead_letter() or drop them with nutragenie_fdw.discard_dead_letter().")));
		return;
	}

	if (interrupted)
	{
		/* Do not let a cancel meant for the wait hit the next statement. */
		if (QueryCancelPending && !ProcDiePending)
			QueryCancelPending = false;
		ereport(WARNING,
				(errcode(ERRCODE_WARNING),
				 errmsg("canceled the wait for MongoDB to apply this transaction's changes"),
				 errdetail("The transaction has committed; its MongoDB changes are queued and will be applied in commit order."),
				 errhint("See nutragenie_fdw.write_queue for the backlog.")));
		return;
	}

	ereport(WARNING,
			(errcode(ERRCODE_WARNING),
			 errmsg("MongoDB has not applied this transaction's changes yet"),
			 errdetail("They are queued and will be applied in commit order when MongoDB is reachable."),
			 errhint("See nutragenie_fdw.write_queue for the backlog and its last error.")));
}

/*
 * Is xid in a ring of recent transactions (dead_xids or unmatched_xids)?
 * Lock held.
 */
static bool
xid_in_ring(const uint64 *ring, uint64 xid)
{
	int			i;

	for (i = 0; i < NG_DEAD_XID_RING; i++)
	{
		if (ring[i] == xid)
			return true;
	}
	return false;
}

/*
 * Has xid rows left in the outbox, held, as of the last publish_done?
 * Lock held.  May say yes wrongly for a transaction whose xid is a multiple
 * of 65536 away from a held one's: its committer then waits out
 * nutragenie.commit_timeout and warns.
 */
static bool
xid_held(NgApplierDb *slot, uint64 xid)
{
	xid %= NG_HELD_XID_BITS;
	return slot->held_any &&
		(slot->held_xids[xid / 64] & (UINT64CONST(1) << (xid % 64))) != 0;
}

PG_FUNCTION_INFO_V1(ng_applier_wake);

/*
 * SQL: wake the applier of the current database now (e.g. once MongoDB is
 * back), ending its back-off.  Returns whether a worker was running; if
 * none was, one is started and false returned.
 */
Datum
ng_applier_wake(PG_FUNCTION_ARGS)
{
	NgApplierDb *slot;
	int			procno = -1;

	if (ng_applier_shared == NULL)
		PG_RETURN_BOOL(false);

	LWLockAcquire(ng_applier_shared->lock, LW_EXCLUSIVE);
	slot = ng_applier_find_slot(MyDatabaseId);
	if (slot != NULL && slot->pid != 0)
	{
		slot->wake = true;
		procno = slot->procno;
	}
	LWLockRelease(ng_applier_shared->lock);

	if (procno < 0)
	{
		ng_applier_ensure_worker();
		PG_RETURN_BOOL(false);
	}
	SetLatch(&ProcGlobal->allProcs[procno].procLatch);
	PG_RETURN_BOOL(true);
}
