/*-------------------------------------------------------------------------
 *
 * applier_worker.c
 *		  An applier worker's life and rounds: attach to its database's
 *		  slot, read committed outbox rows, apply them group by group, finish
 *		  the round in the outbox, back off.
 *
 * The ordering, poison and "nothing is lost" rules the rounds keep are
 * stated in applier_int.h; sending a run of rows is applier_apply.c's job.
 *
 * Each round runs in a PG_TRY that logs the error, aborts the transaction,
 * records the error on the row that failed and backs off instead of
 * letting the worker die.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/write/applier_worker.c
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

typedef enum NgRoundResult
{
	NG_ROUND_IDLE,				/* no committed row left */
	NG_ROUND_MORE,				/* a full batch applied; go on */
	NG_ROUND_FAILED,			/* stopped at a failure; back off */
	NG_ROUND_NO_EXTENSION		/* the extension is not installed here */
} NgRoundResult;

/*
 * The worker's statements on the outbox, prepared on first use and kept for
 * the worker's life (the plan cache re-plans them after DDL, such as the
 * extension being dropped and created again).  Parsing and planning them
 * every round cost as much as the rest of the round.
 */
typedef enum NgApplierStmt
{
	NG_STMT_READ,				/* the next rows to apply */
	NG_STMT_READ_HELD,			/* the same, skipping held groups' rows */
	NG_STMT_XIDS,				/* transactions with rows left */
	NG_STMT_DELETE,				/* applied rows */
	NG_STMT_BURY,				/* a dead row to nutragenie_fdw.dead_letters */
	NG_STMT_FAILED,				/* note a failed attempt on a row */
	NG_STMT_COUNT
} NgApplierStmt;

typedef struct NgApplierStmtDef
{
	const char *sql;
	int			nargs;
	Oid			argtypes[3];
} NgApplierStmtDef;

/* A row's group as one int8, for NG_STMT_READ_HELD. */
#define NG_GROUP_KEY_SQL(t) \
	"(" t ".serverid::pg_catalog.int8 OPERATOR(pg_catalog.<<) 32" \
	" OPERATOR(pg_catalog.|) " t ".userid::pg_catalog.int8)"


static const NgApplierStmtDef applier_stmts[NG_STMT_COUNT] = {
	[NG_STMT_READ] = {
		"SELECT seq, xid::pg_catalog.text, serverid, userid, database,"
		" collection, op, doc_id, body"
		" FROM " NG_SCHEMA_NAME ".outbox ORDER BY seq LIMIT $1",
		1, {INT4OID}
	},
	[NG_STMT_READ_HELD] = {
		"SELECT seq, xid::pg_catalog.text, serverid, userid, database,"
		" collection, op, doc_id, body"
		" FROM " NG_SCHEMA_NAME ".outbox o"
		" WHERE NOT " NG_GROUP_KEY_SQL("o") " OPERATOR(pg_catalog.=) ANY ($2)"
		" AND NOT EXISTS (SELECT FROM " NG_SCHEMA_NAME ".outbox h"
		"  WHERE " NG_GROUP_KEY_SQL("h") " OPERATOR(pg_catalog.=) ANY ($2)"
		"  AND h.seq OPERATOR(pg_catalog.<) o.seq"
		"  AND h.serverid OPERATOR(pg_catalog.=) o.serverid"
		"  AND h.database OPERATOR(pg_catalog.=) o.database"
		"  AND h.collection OPERATOR(pg_catalog.=) o.collection"
		"  AND h.doc_id OPERATOR(pg_catalog.=) o.doc_id)"
		" ORDER BY seq LIMIT $1",
		2, {INT4OID, INT8ARRAYOID}
	},
	[NG_STMT_XIDS] = {
		"SELECT DISTINCT xid::pg_catalog.text FROM " NG_SCHEMA_NAME ".outbox",
		0, {InvalidOid}
	},
	[NG_STMT_DELETE] = {
		"DELETE FROM " NG_SCHEMA_NAME ".outbox"
		" WHERE seq OPERATOR(pg_catalog.=) ANY ($1)",
		1, {INT8ARRAYOID}
	},
	[NG_STMT_BURY] = {
		"WITH moved AS ("
		" DELETE FROM " NG_SCHEMA_NAME ".outbox"
		" WHERE seq OPERATOR(pg_catalog.=) $1"
		" RETURNING *)"
		" INSERT INTO " NG_SCHEMA_NAME ".dead_letters"
		" (seq, xid, serverid, userid, database, collection, op,"
		" doc_id, body, created_at, attempts, failed_at, error,"
		" error_code)"
		" SELECT seq, xid, serverid, userid, database, collection,"
		" op, doc_id, body, created_at, attempts OPERATOR(pg_catalog.+) 1,"
		" pg_catalog.now(), $2, $3"
		" FROM moved",
		3, {INT8OID, TEXTOID, INT4OID}
	},
	[NG_STMT_FAILED] = {
		"UPDATE " NG_SCHEMA_NAME ".outbox"
		" SET attempts = attempts OPERATOR(pg_catalog.+) 1, last_error = $2,"
		" last_attempt = pg_catalog.now() WHERE seq OPERATOR(pg_catalog.=) $1",
		2, {INT8OID, TEXTOID}
	},
};

static SPIPlanPtr applier_plans[NG_STMT_COUNT];

/* worker state */
NgApplierDb *ng_applier_slot = NULL;
MemoryContext ng_applier_round_cxt = NULL;
int64		ng_applier_failing_seq = 0; /* the row a round is at, for its
										 * error */
static char *last_logged_message = NULL;
static TimestampTz last_logged_at = 0;

/*
 * Rows that may have been sent to MongoDB before (see "Nothing is lost
 * silently" in applier_int.h): those of transactions that began before
 * the server started (ng_applier_startup_fxid), those up to
 * ng_applier_resend_floor (the slot's inflight_seq when this worker
 * started: a worker that died may have sent them), and those in
 * resent_rows (applier_apply.c), which this process sent in a round that
 * did not remove them from the outbox.
 */
int64		ng_applier_resend_floor = 0;
uint64		ng_applier_startup_fxid = 0;

/*
 * Operations the server drops the connection on (see applier_int.h):
 * the round's rows, for burying the later rows of a document; the first row
 * of the last run of rows the server dropped the connection on while still
 * answering, from which the next round sends rows one at a time; and the
 * row sent alone that it last dropped the connection on, with how many
 * times it did (the row stays at the head of the queue meanwhile).  Worker
 * memory: a restarted worker starts counting again.
 */
NgOutboxRow *ng_applier_round_rows = NULL;
int			ng_applier_round_nrows = 0;
static HTAB *group_states = NULL;
NgGroupState *ng_applier_cur_group = NULL;	/* the group being applied */
static bool round_retry_now = false;	/* a group wants the next round now */
static List *round_failures = NIL;	/* NgRowFailure, in ng_applier_round_cxt */
static bool round_holds = false;	/* a group or row was held this round */
static bool held_any = false;	/* this round's transactions with held rows */
static uint64 held_xids[NG_HELD_XID_WORDS];


static void worker_attach(Oid dboid);
static void worker_detach(int code, Datum arg);
static void worker_exit_no_extension(uint64 gen);
static void worker_handle_signals(void);
static void publish_done(uint64 gen);
static void backoff_sleep(int ms);
static NgRoundResult apply_round(void);
static NgOutboxRow *read_rows(int *nrows);
static void apply_group(NgOutboxRow **rows, int n, NgGroupState *g);
static void hold_group(NgGroupState *g, int64 seq, ErrorData *edata,
					   bool retry_now);
static NgGroupState *group_state(Oid serverid, Oid userid);
static bool row_held(NgOutboxRow *rows, int i);
static bool group_should_log(NgGroupState *g, const char *message);
static void finish_round(NgOutboxRow *rows, int n);
static long held_retry_ms(void);
static void start_round_groups(void);
static void note_held_xids(void);
static void record_failure(int64 seq, ErrorData *edata);
static int	run_statement(NgApplierStmt which, Datum *values,
						  const char *nulls, bool read_only);
static bool should_log_failure(const char *message);

/*
 * Worker entry point: apply the outbox of one database (main_arg is its
 * OID) until told to stop, or exit quietly if the extension is not
 * installed there or another worker already serves it.
 */
void
ng_applier_worker_main(Datum main_arg)
{
	Oid			dboid = DatumGetObjectId(main_arg);
	int			backoff_ms = 0;

	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();

	worker_attach(dboid);

	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	pgstat_report_appname("nutragenie applier");

	ng_applier_note_startup_xid();
	LWLockAcquire(ng_applier_shared->lock, LW_SHARED);
	ng_applier_startup_fxid = ng_applier_shared->startup_fxid;
	LWLockRelease(ng_applier_shared->lock);
	ng_applier_resend_floor =
		(int64) pg_atomic_read_u64(&ng_applier_slot->inflight_seq);

	/* The worker is a superuser: resolve nothing through a user's schema. */
	SetConfigOption("search_path", "pg_catalog", PGC_SUSET, PGC_S_OVERRIDE);

	ng_applier_round_cxt = AllocSetContextCreate(TopMemoryContext,
												 "nutragenie applier round",
												 ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		uint64		gen;
		NgRoundResult result;

		worker_handle_signals();

		/* read before the round's snapshot: see applier_int.h */
		gen = pg_atomic_read_u64(&ng_applier_slot->request_gen);
		pg_memory_barrier();

		pgstat_report_activity(STATE_RUNNING, "applying queued MongoDB writes");
		result = apply_round();

		switch (result)
		{
			case NG_ROUND_NO_EXTENSION:
				worker_exit_no_extension(gen);
				break;
			case NG_ROUND_FAILED:
				backoff_ms = backoff_ms == 0 ? NG_BACKOFF_FIRST_MS :
					Min(backoff_ms * 2, NG_BACKOFF_MAX_MS);
				pgstat_report_activity(STATE_IDLE, NULL);
				backoff_sleep(backoff_ms);
				continue;
			case NG_ROUND_MORE:
			case NG_ROUND_IDLE:
				if (last_logged_message != NULL)
				{
					ereport(LOG,
							(errmsg("nutragenie applier is applying queued MongoDB writes again")));
					pfree(last_logged_message);
					last_logged_message = NULL;
				}
				backoff_ms = 0;
				break;
		}
		if (result == NG_ROUND_MORE)
			continue;
		publish_done(gen);

		/*
		 * Sleep unless a commit was announced during the round or a group is
		 * to be tried again at once; until the first held group's back-off is
		 * over at most.
		 */
		if (pg_atomic_read_u64(&ng_applier_slot->request_gen) != gen ||
			round_retry_now)
			continue;
		pgstat_report_activity(STATE_IDLE, NULL);
		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 held_retry_ms(), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * Take the database's slot for this process, or exit quietly if another
 * worker holds it.  Runs before connecting, so that a failure to connect
 * (a dropped database) still releases the slot through worker_detach.
 */
static void
worker_attach(Oid dboid)
{
	NgApplierDb *slot;

	LWLockAcquire(ng_applier_shared->lock, LW_EXCLUSIVE);
	slot = ng_applier_claim_slot(dboid);
	if (slot == NULL || (slot->pid != 0 && slot->pid != MyProcPid))
	{
		LWLockRelease(ng_applier_shared->lock);
		proc_exit(0);
	}
	slot->pid = MyProcPid;
	slot->procno = MyProcNumber;
	slot->starting = false;
	LWLockRelease(ng_applier_shared->lock);

	ng_applier_slot = slot;
	before_shmem_exit(worker_detach, (Datum) 0);
}

/*
 * Remember, once per server start, the transaction id from which on
 * committed rows cannot have been sent before the start (see "Nothing is
 * lost silently" in applier_int.h): the launcher does it as it starts,
 * a worker if it runs first.
 */
void
ng_applier_note_startup_xid(void)
{
	LWLockAcquire(ng_applier_shared->lock, LW_EXCLUSIVE);
	if (ng_applier_shared->startup_fxid == 0)
		ng_applier_shared->startup_fxid =
			U64FromFullTransactionId(ReadNextFullTransactionId());
	LWLockRelease(ng_applier_shared->lock);
}

static void
worker_detach(int code, Datum arg)
{
	if (ng_applier_slot == NULL)
		return;
	LWLockAcquire(ng_applier_shared->lock, LW_EXCLUSIVE);
	if (ng_applier_slot->pid == MyProcPid)
	{
		ng_applier_slot->pid = 0;
		ng_applier_slot->procno = -1;
		ng_applier_slot->exited_at = GetCurrentTimestamp();
	}
	LWLockRelease(ng_applier_shared->lock);
	ng_applier_slot = NULL;
}

/*
 * The extension is not installed (or was dropped): nothing can be queued
 * here, so every commit announced before the check is done.  Wake the
 * waiters, give the slot back and exit with code 0, which unregisters the
 * worker.  A later writer starts a new one.
 */
static void
worker_exit_no_extension(uint64 gen)
{
	publish_done(gen);

	LWLockAcquire(ng_applier_shared->lock, LW_EXCLUSIVE);
	if (pg_atomic_read_u64(&ng_applier_slot->request_gen) == gen)
		ng_applier_free_slot(ng_applier_slot);
	else
	{
		/* a commit came in meanwhile: keep the slot so it is restarted */
		ng_applier_slot->pid = 0;
		ng_applier_slot->procno = -1;
		ng_applier_slot->exited_at = GetCurrentTimestamp();
	}
	LWLockRelease(ng_applier_shared->lock);
	ng_applier_slot = NULL;

	ereport(DEBUG1,
			(errmsg_internal("nutragenie applier exiting: extension not installed in this database")));
	proc_exit(0);
}

/* SIGTERM (through CHECK_FOR_INTERRUPTS) and SIGHUP. */
static void
worker_handle_signals(void)
{
	CHECK_FOR_INTERRUPTS();
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
	}
}

/* Everything announced up to gen is applied: tell the waiters. */
static void
publish_done(uint64 gen)
{
	LWLockAcquire(ng_applier_shared->lock, LW_EXCLUSIVE);
	if (held_any || ng_applier_slot->held_any)
		memcpy(ng_applier_slot->held_xids, held_xids, sizeof(held_xids));
	ng_applier_slot->held_any = held_any;
	LWLockRelease(ng_applier_shared->lock);
	if (pg_atomic_read_u64(&ng_applier_slot->done_gen) < gen)
		pg_atomic_write_u64(&ng_applier_slot->done_gen, gen);
	ConditionVariableBroadcast(&ng_applier_slot->done_cv);
}

/*
 * Sleep after a failed round.  Commits announced meanwhile do not end the
 * sleep (MongoDB is probably still down); ng_applier_wake() does.
 */
static void
backoff_sleep(int ms)
{
	TimestampTz start = GetCurrentTimestamp();

	for (;;)
	{
		long		elapsed;
		bool		woken;

		worker_handle_signals();

		LWLockAcquire(ng_applier_shared->lock, LW_EXCLUSIVE);
		woken = ng_applier_slot->wake;
		ng_applier_slot->wake = false;
		LWLockRelease(ng_applier_shared->lock);
		if (woken)
			return;

		elapsed = TimestampDifferenceMilliseconds(start, GetCurrentTimestamp());
		if (elapsed >= ms)
			return;
		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 ms - elapsed, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * Apply up to nutragenie.applier_batch_size committed outbox rows, in one
 * transaction: the applied rows are deleted and the dead ones moved when it
 * commits.  A transient failure commits the progress made before it, then
 * is raised (through ng_conn_report_error, which also marks a broken
 * connection for rebuilding) and caught here like any other error.
 */
static NgRoundResult
apply_round(void)
{
	volatile NgRoundResult result = NG_ROUND_IDLE;

	MemoryContextReset(ng_applier_round_cxt);
	ng_applier_round_rows = NULL;
	ng_applier_round_nrows = 0;
	ng_applier_failing_seq = 0;
	round_failures = NIL;
	round_retry_now = false;
	round_holds = false;
	start_round_groups();

	PG_TRY();
	{
		NgOutboxRow *rows;
		NgOutboxRow **run;
		int			nrows = 0;
		int			i = 0;

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());

		if (!OidIsValid(get_extension_oid(NG_EXTENSION_NAME, true)))
		{
			PopActiveSnapshot();
			CommitTransactionCommand();
			result = NG_ROUND_NO_EXTENSION;
		}
		else
		{
			if (SPI_connect() != SPI_OK_CONNECT)
				elog(ERROR, "SPI_connect failed");

			rows = read_rows(&nrows);
			ng_applier_round_rows = rows;
			ng_applier_round_nrows = nrows;

			for (i = 0; i < nrows; i++)
				rows[i].group = group_state(rows[i].serverid, rows[i].userid);

			/*
			 * Runs of rows for one (server, user, database, collection),
			 * passing over the rows that must wait for a held group.
			 */
			run = MemoryContextAlloc(ng_applier_round_cxt,
									 sizeof(NgOutboxRow *) * Max(nrows, 1));
			i = 0;
			while (i < nrows)
			{
				int			m = 0;
				int			j;

				if (rows[i].outcome != NG_ROW_PENDING || row_held(rows, i))
				{
					i++;
					continue;
				}
				run[m++] = &rows[i];
				for (j = i + 1; j < nrows; j++)
				{
					if (rows[j].outcome != NG_ROW_PENDING || row_held(rows, j))
						continue;
					if (rows[j].group != rows[i].group ||
						strcmp(rows[j].database, rows[i].database) != 0 ||
						strcmp(rows[j].collection, rows[i].collection) != 0)
						break;
					run[m++] = &rows[j];
				}
				apply_group(run, m, rows[i].group);
				i = j;
			}

			finish_round(rows, nrows);
			note_held_xids();

			SPI_finish();
			PopActiveSnapshot();
			CommitTransactionCommand();

			ng_applier_remember_sent(rows, nrows, true);
			ng_applier_round_rows = NULL;
			ng_applier_round_nrows = 0;
			ng_applier_note_dead_letters(rows, nrows);

			result = nrows < ng_applier_batch_size ? NG_ROUND_IDLE :
				NG_ROUND_MORE;
		}
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(ng_applier_round_cxt);
		edata = CopyErrorData();
		if (should_log_failure(edata->message ? edata->message : ""))
			EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(ng_applier_round_cxt);

		/* nothing of the round was committed: what it sent may come again */
		ng_applier_remember_sent(ng_applier_round_rows, ng_applier_round_nrows,
								 false);
		ng_applier_round_rows = NULL;
		ng_applier_round_nrows = 0;

		if (ng_applier_failing_seq != 0)
			record_failure(ng_applier_failing_seq, edata);
		result = NG_ROUND_FAILED;
	}
	PG_END_TRY();

	return result;
}

/*
 * Read the first committed outbox rows into the round's context.
 */
static NgOutboxRow *
read_rows(int *nrows)
{
	Datum		values[2];
	NgOutboxRow *rows;
	uint64		n;
	uint64		i;
	int			ret;
	int			nheld = 0;

	values[0] = Int32GetDatum(ng_applier_batch_size);
	if (group_states != NULL)
	{
		HASH_SEQ_STATUS status;
		NgGroupState *g;
		Datum	   *keys = palloc(sizeof(Datum) *
								  Max(hash_get_num_entries(group_states), 1));

		hash_seq_init(&status, group_states);
		while ((g = hash_seq_search(&status)) != NULL)
		{
			if (g->held)
				keys[nheld++] = Int64GetDatum(((int64) g->serverid << 32) |
											  (int64) g->userid);
		}
		if (nheld > 0)
			values[1] = PointerGetDatum(construct_array(keys, nheld, INT8OID,
														sizeof(int64),
														FLOAT8PASSBYVAL,
														TYPALIGN_DOUBLE));
	}
	ret = run_statement(nheld > 0 ? NG_STMT_READ_HELD : NG_STMT_READ,
						values, NULL, true);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read nutragenie_fdw.outbox: %s",
			 SPI_result_code_string(ret));

	n = SPI_processed;
	rows = MemoryContextAllocZero(ng_applier_round_cxt,
								  sizeof(NgOutboxRow) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		NgOutboxRow *row = &rows[i];
		MemoryContext oldcxt;
		Datum		d;
		bool		isnull;

		row->seq = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		d = SPI_getbinval(tup, desc, 2, &isnull);
		row->xid = isnull ? 0 :
			strtou64(TextDatumGetCString(d), NULL, 10);
		row->serverid = DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull));
		row->userid = DatumGetObjectId(SPI_getbinval(tup, desc, 4, &isnull));

		oldcxt = MemoryContextSwitchTo(ng_applier_round_cxt);
		row->database = TextDatumGetCString(SPI_getbinval(tup, desc, 5, &isnull));
		row->collection = TextDatumGetCString(SPI_getbinval(tup, desc, 6, &isnull));
		row->op = DatumGetChar(SPI_getbinval(tup, desc, 7, &isnull));
		d = SPI_getbinval(tup, desc, 8, &isnull);
		row->doc_id = isnull ? NULL : DatumGetByteaPCopy(d);
		d = SPI_getbinval(tup, desc, 9, &isnull);
		row->body = isnull ? NULL : DatumGetByteaPCopy(d);
		MemoryContextSwitchTo(oldcxt);

		row->outcome = NG_ROW_PENDING;
	}
	SPI_freetuptable(SPI_tuptable);

	*nrows = (int) n;
	return rows;
}

/*
 * Apply a run of rows of one group (see NgGroupState) and one collection,
 * in a subtransaction: a failure (the user mapping cannot connect or
 * authenticate, or is gone; the server refused the command) holds the
 * group, with the error recorded on the row it stopped at, instead of
 * ending the round.  Rows applied or dead-lettered before the failure keep
 * their outcome.
 */
static void
apply_group(NgOutboxRow **rows, int n, NgGroupState *g)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	NgApplyFailure failure;

	memset(&failure, 0, sizeof(failure));
	ng_applier_cur_group = g;
	ng_applier_failing_seq = rows[0]->seq;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		if (!ng_applier_apply_run(rows, n, &failure))
		{
			ng_applier_failing_seq = failure.seq;
			ng_conn_report_error(failure.entry, &failure.error,
								 failure.action);
		}
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;

		if (g->logged != NULL)
		{
			ereport(LOG,
					(errmsg("nutragenie applier is applying the queued MongoDB writes of user %u on server %u again",
							g->userid, g->serverid)));
			pfree(g->logged);
			g->logged = NULL;
		}
		g->backoff_ms = 0;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(ng_applier_round_cxt);
		edata = CopyErrorData();
		if (group_should_log(g, edata->message ? edata->message : ""))
			EmitErrorReport();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		hold_group(g, ng_applier_failing_seq, edata, failure.retry_now);
	}
	PG_END_TRY();
	ng_applier_cur_group = NULL;
}

/*
 * Hold a group whose run failed at row seq: its rows, and later rows of
 * the documents they touch, wait until its back-off is over.  retry_now
 * (the server dropped the connection on an operation): only the run's
 * unapplied rows wait, marked held by apply_ops, and only for the next
 * round.  The error goes on the row in finish_round.
 */
static void
hold_group(NgGroupState *g, int64 seq, ErrorData *edata, bool retry_now)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(ng_applier_round_cxt);
	NgRowFailure *f = palloc(sizeof(NgRowFailure));

	f->seq = seq;
	if (edata->detail != NULL)
		f->text = psprintf("%s: %s", edata->message ? edata->message : "",
						   edata->detail);
	else
		f->text = pstrdup(edata->message ? edata->message : "unknown error");
	round_failures = lappend(round_failures, f);
	MemoryContextSwitchTo(oldcxt);

	round_holds = true;

	if (retry_now)
		round_retry_now = true;
	else
	{
		g->held = true;
		g->backoff_ms = g->backoff_ms == 0 ? NG_BACKOFF_FIRST_MS :
			Min(g->backoff_ms * 2, NG_BACKOFF_MAX_MS);
		g->retry_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
												  g->backoff_ms);
	}
}

/* The state of a row's group, created on first use. */
static NgGroupState *
group_state(Oid serverid, Oid userid)
{
	NgGroupState key;
	NgGroupState *g;
	bool		found;

	if (group_states == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = offsetof(NgGroupState, held);
		ctl.entrysize = sizeof(NgGroupState);
		ctl.hcxt = TopMemoryContext;
		group_states = hash_create("nutragenie applier groups", 16, &ctl,
								   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	memset(&key, 0, sizeof(key));
	key.serverid = serverid;
	key.userid = userid;
	g = hash_search(group_states, &key, HASH_ENTER, &found);
	if (!found)
	{
		g->held = false;
		g->backoff_ms = 0;
		g->retry_at = 0;
		g->suspect_seq = 0;
		g->drop_seq = 0;
		g->drop_count = 0;
		g->logged = NULL;
		g->logged_at = 0;
	}
	return g;
}

/*
 * Must rows[i] wait this round?  It must if it or its group is held, or if
 * an earlier row of the round on the same document (server, database,
 * collection, _id) is held: rows of a document are never applied out of
 * order.
 *
 * XXX: _ids are compared by their bytes, as in ng_applier_bury_document_after.
 */
static bool
row_held(NgOutboxRow *rows, int i)
{
	NgOutboxRow *row = &rows[i];
	int			j;

	if (row->held || row->group->held)
		return true;
	if (!round_holds)
		return false;			/* rows of groups held before: not read */
	for (j = 0; j < i; j++)
	{
		NgOutboxRow *r = &rows[j];

		if (r->outcome != NG_ROW_PENDING || !(r->held || r->group->held) ||
			r->serverid != row->serverid ||
			VARSIZE_ANY_EXHDR(r->doc_id) != VARSIZE_ANY_EXHDR(row->doc_id) ||
			strcmp(r->database, row->database) != 0 ||
			strcmp(r->collection, row->collection) != 0 ||
			memcmp(VARDATA_ANY(r->doc_id), VARDATA_ANY(row->doc_id),
				   VARSIZE_ANY_EXHDR(row->doc_id)) != 0)
			continue;
		return true;
	}
	return false;
}

/* Log a held group's error when it changes, else once a minute. */
static bool
group_should_log(NgGroupState *g, const char *message)
{
	TimestampTz now = GetCurrentTimestamp();

	if (g->logged != NULL && strcmp(g->logged, message) == 0 &&
		!TimestampDifferenceExceeds(g->logged_at, now, NG_LOG_REPEAT_MS))
		return false;
	if (g->logged != NULL)
		pfree(g->logged);
	g->logged = MemoryContextStrdup(TopMemoryContext, message);
	g->logged_at = now;
	return true;
}

/*
 * In the round's transaction: delete the applied rows and move the dead
 * ones to nutragenie_fdw.dead_letters.
 */
static void
finish_round(NgOutboxRow *rows, int n)
{
	Datum	   *seqs = palloc(sizeof(Datum) * Max(n, 1));
	int			napplied = 0;
	ListCell   *lc;
	int			i;
	int			ret;

	for (i = 0; i < n; i++)
	{
		if (rows[i].outcome == NG_ROW_APPLIED)
			seqs[napplied++] = Int64GetDatum(rows[i].seq);
	}

	if (napplied > 0)
	{
		Datum		values[1];

		values[0] = PointerGetDatum(construct_array(seqs, napplied, INT8OID,
													sizeof(int64),
													FLOAT8PASSBYVAL,
													TYPALIGN_DOUBLE));
		ret = run_statement(NG_STMT_DELETE, values, NULL, false);
		if (ret != SPI_OK_DELETE)
			elog(ERROR, "could not delete applied rows from nutragenie_fdw.outbox: %s",
				 SPI_result_code_string(ret));
	}

	for (i = 0; i < n; i++)
	{
		Datum		values[3];
		char		nulls[3] = {' ', ' ', ' '};
		NgOutboxRow *row = &rows[i];

		if (row->outcome != NG_ROW_DEAD)
			continue;

		values[0] = Int64GetDatum(row->seq);
		values[1] = CStringGetTextDatum(row->err_text);
		values[2] = Int32GetDatum(row->err_code);
		if (!row->has_code)
			nulls[2] = 'n';
		ret = run_statement(NG_STMT_BURY, values, nulls, false);
		if (ret != SPI_OK_INSERT)
			elog(ERROR, "could not move a row to nutragenie_fdw.dead_letters: %s",
				 SPI_result_code_string(ret));
	}

	/* the held groups' errors, on the rows they stopped at */
	foreach(lc, round_failures)
	{
		NgRowFailure *f = (NgRowFailure *) lfirst(lc);
		Datum		values[2];

		values[0] = Int64GetDatum(f->seq);
		values[1] = CStringGetTextDatum(f->text);
		ret = run_statement(NG_STMT_FAILED, values, NULL, false);
		if (ret != SPI_OK_UPDATE)
			elog(ERROR, "could not record a failure in nutragenie_fdw.outbox: %s",
				 SPI_result_code_string(ret));
	}
}

/* How long the worker may sleep before a held group is to be retried. */
static long
held_retry_ms(void)
{
	HASH_SEQ_STATUS status;
	NgGroupState *g;
	TimestampTz now = GetCurrentTimestamp();
	long		ms = NG_APPLIER_NAPTIME_MS;

	if (group_states == NULL)
		return ms;
	hash_seq_init(&status, group_states);
	while ((g = hash_seq_search(&status)) != NULL)
	{
		if (g->held)
			ms = Min(ms, Max(TimestampDifferenceMilliseconds(now, g->retry_at), 1));
	}
	return ms;
}

/*
 * At the start of a round: the groups whose back-off is over (all of them
 * after ng_applier_wake()) are tried again; the others stay held.
 */
static void
start_round_groups(void)
{
	HASH_SEQ_STATUS status;
	NgGroupState *g;
	TimestampTz now = GetCurrentTimestamp();
	bool		woken;

	if (group_states == NULL)
		return;
	LWLockAcquire(ng_applier_shared->lock, LW_EXCLUSIVE);
	woken = ng_applier_slot->wake;
	ng_applier_slot->wake = false;
	LWLockRelease(ng_applier_shared->lock);

	hash_seq_init(&status, group_states);
	while ((g = hash_seq_search(&status)) != NULL)
	{
		if (woken)
			g->retry_at = now;
		g->held = g->held && g->retry_at > now;
	}
}

/*
 * In the round's transaction, after finish_round: when a group is held,
 * note the transactions that still have rows in the outbox, for
 * publish_done (their committers are not done).
 */
static void
note_held_xids(void)
{
	HASH_SEQ_STATUS status;
	NgGroupState *g;
	bool		any = false;
	uint64		i;
	int			ret;

	memset(held_xids, 0, sizeof(held_xids));
	held_any = false;
	if (group_states == NULL)
		return;
	any = round_retry_now;
	hash_seq_init(&status, group_states);
	while ((g = hash_seq_search(&status)) != NULL)
		any |= g->held;
	if (!any)
		return;

	ret = run_statement(NG_STMT_XIDS, NULL, NULL, true);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read nutragenie_fdw.outbox: %s",
			 SPI_result_code_string(ret));
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[i],
									  SPI_tuptable->tupdesc, 1, &isnull);
		uint64		xid;

		if (isnull)
			continue;
		xid = strtou64(TextDatumGetCString(d), NULL, 10) % NG_HELD_XID_BITS;
		held_xids[xid / 64] |= UINT64CONST(1) << (xid % 64);
		held_any = true;
	}
	SPI_freetuptable(SPI_tuptable);
}

/*
 * Note a failed attempt on the row the round stopped at, in a transaction
 * of its own.  Failing to do so is only logged.
 */
static void
record_failure(int64 seq, ErrorData *edata)
{
	char	   *text;

	if (edata->detail != NULL)
		text = psprintf("%s: %s", edata->message ? edata->message : "",
						edata->detail);

	else
		text = pstrdup(edata->message ? edata->message : "unknown error");

	PG_TRY();
	{
		Datum		values[2];
		int			ret;

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");

		values[0] = Int64GetDatum(seq);
		values[1] = CStringGetTextDatum(text);
		ret = run_statement(NG_STMT_FAILED, values, NULL, false);
		if (ret != SPI_OK_UPDATE)
			elog(ERROR, "could not record a failure in nutragenie_fdw.outbox: %s",
				 SPI_result_code_string(ret));

		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(ng_applier_round_cxt);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(ng_applier_round_cxt);
	}
	PG_END_TRY();
}

/*
 * Run one of the worker's statements (inside SPI_connect), preparing it on
 * first use, through ng_internal_sql_execute (pinned search_path, as the
 * outbox owner).  Returns SPI_execute_plan's result.
 */
static int
run_statement(NgApplierStmt which, Datum *values, const char *nulls,
			  bool read_only)
{
	const NgApplierStmtDef *def = &applier_stmts[which];

	return ng_internal_sql_execute(&applier_plans[which], def->sql,
								   def->nargs, def->argtypes, values, nulls,
								   read_only);
}

/*
 * Log a failed round only when its message differs from the previous one,
 * or once a minute: an outage must not flood the log every back-off step.
 */
static bool
should_log_failure(const char *message)
{
	TimestampTz now = GetCurrentTimestamp();

	if (last_logged_message != NULL &&
		strcmp(last_logged_message, message) == 0 &&
		!TimestampDifferenceExceeds(last_logged_at, now, NG_LOG_REPEAT_MS))
		return false;

	if (last_logged_message != NULL)
		pfree(last_logged_message);
	last_logged_message = MemoryContextStrdup(TopMemoryContext, message);
	last_logged_at = now;
	return true;
}
