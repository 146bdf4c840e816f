/*-------------------------------------------------------------------------
 *
 * applier.c
 *		  The applier: background workers that send committed outbox rows to
 *		  MongoDB in order and wake the transactions waiting for them.
 *
 * A write to a MongoDB foreign table becomes a row of nutragenie_fdw.outbox in
 * the writer's transaction (modify.c).  After COMMIT, one applier worker per
 * database reads the committed rows in seq order, sends each run of rows
 * for one collection as one ordered bulk write, and deletes them once
 * MongoDB has accepted them.  The design is in docs/dual-write.md; the
 * invariants this file keeps are:
 *
 * - Order.  The rows of a document (server, database, collection, _id)
 *   are applied in seq order (rows of different documents in one run are
 *   regrouped by operation type, see schedule_rows; runs follow each other
 *   in seq order), and a row is never applied past an unapplied earlier row
 *   of its document.  Order across documents is not kept, and that is what
 *   isolates roles from each other: a transient failure of a group (the
 *   rows of one user mapping, i.e. server and writing role, which share a
 *   connection: MongoDB unreachable, a refused login, "password is
 *   required", the mapping gone, a server error about the whole command)
 *   holds that group, not the queue.  Its run stops at the row that failed,
 *   the error is recorded on that row, and the group's rows, and any later
 *   row (of any group) on a document that a held row touches, wait while
 *   the round goes on with the others; the group is retried with a
 *   back-off of its own (NgGroupState; held groups' rows are left out of
 *   the next rounds' reads, NG_STMT_READ_HELD).  A held group is never
 *   dead-lettered for being held: a misconfigured mapping must not lose
 *   writes silently, so its rows wait with the error visible in
 *   nutragenie_fdw.write_queue until the mapping is mended or an administrator
 *   removes them.  Only a
 *   permanent failure about one document (a write error such as a duplicate
 *   key on a unique secondary index, or a document the driver cannot send)
 *   moves exactly that row to nutragenie_fdw.dead_letters, and the rest follow.
 *   Every operation is idempotent, so re-sending rows that MongoDB had
 *   already applied before a failure (or before a crash) is harmless; an
 *   insert that meets its own earlier copy is re-sent as an upsert replace.
 *
 * - Nothing is lost silently.  An update or delete that matched no document
 *   (another client deleted it after the writing statement read it) is
 *   moved to nutragenie_fdw.dead_letters as "matched no document", and its
 *   committer, if still waiting, gets a WARNING.  The bulk reply gives
 *   totals only; matched.c works out which rows matched nothing.  A row
 *   this process or an earlier one may have sent before (a round that
 *   failed after sending, a worker restart) is never flagged: re-sending
 *   an applied delete legitimately matches nothing.
 *
 * - Poison.  A server may drop the connection on one operation every time
 *   it gets it (FerretDB 1.x does on a Decimal128), which looks like an
 *   outage and would stop the queue forever.  After a broken connection the
 *   applier pings the server: if it answers, the connection was dropped on
 *   the operations just sent, and the next round, at once, sends them one
 *   at a time from there.  Meanwhile only the run's unapplied rows (and
 *   later rows of their documents) wait, and only until the next round; the
 *   group's other runs and the other groups go on.  One sent alone that the
 *   server drops the connection on nutragenie.applier_max_attempts times
 *   (once per round) is dead-lettered with that history, together with the
 *   round's later rows of the same document (never applied past a missing
 *   earlier change), and its run moves on.  k such rows thus cost about
 *   k * applier_max_attempts quick rounds, no back-off.  An outage, where
 *   the ping fails too, counts nothing and holds the group.
 *
 * - Commit wait.  Each database has a request generation, bumped by every
 *   committing writer after its commit became visible, and a done
 *   generation.  A round reads the request generation before its snapshot;
 *   when it has read every committed row (fewer than a batch), everything
 *   committed before that bump has been applied or is held, so it
 *   publishes the value as done, with a bitmap of the transactions that
 *   still have rows in the outbox (held_xids), and broadcasts a condition
 *   variable that the committers sleep on (with a timeout).  A committer
 *   whose transaction is in the bitmap keeps waiting.
 *
 * - Supervision.  A static launcher starts a worker for every database that
 *   allows connections; a worker exits quietly where the extension is not
 *   installed.  Workers never restart themselves (a dropped database would
 *   make them fail forever): the launcher restarts those that died and
 *   forgets databases that are gone, and a writing backend starts the
 *   worker of its database when none is running.  A second worker for the
 *   same database exits at once.
 *
 * Driver objects are malloc'd and ereport longjmps: everything created
 * while applying a run of rows is destroyed in a PG_FINALLY, and each round
 * runs in a PG_TRY that logs the error, aborts the transaction, records the
 * error on the row that failed and backs off instead of letting the worker
 * die.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/write/applier.c
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

#include "ng_remote.h"

/* Databases that can have an applier at the same time. */
#define NG_APPLIER_MAX_DATABASES	128

/* Recent transactions with a dead-lettered row, per database. */
#define NG_DEAD_XID_RING			32

/* Transactions with held rows: a bitmap of 65536 xids modulo its size. */
#define NG_HELD_XID_WORDS			1024
#define NG_HELD_XID_BITS			(NG_HELD_XID_WORDS * 64)

/* How long an idle worker sleeps before looking for rows nobody announced. */
#define NG_APPLIER_NAPTIME_MS		10000

/* Back-off after a failed round: doubles from the first to the last. */
#define NG_BACKOFF_FIRST_MS			100
#define NG_BACKOFF_MAX_MS			5000

/* The launcher's period; also the least time between two starts of a worker. */
#define NG_LAUNCHER_NAPTIME_MS		5000
#define NG_WORKER_RESTART_MS		5000

/* A registered worker that has not started after this long is presumed lost. */
#define NG_WORKER_START_TIMEOUT_MS	60000

/* How often a waiting committer looks at interrupts and the worker's health. */
#define NG_COMMIT_WAIT_SLICE_MS		500

/* A failed round is logged when its message changes, else this often. */
#define NG_LOG_REPEAT_MS			60000

/* MongoDB's "duplicate key" error code. */
#define NG_MONGO_DUPLICATE_KEY		11000

#define NG_LIBRARY_NAME				"nutragenie_fdw"
#define NG_LWLOCK_TRANCHE			"nutragenie applier"

/*
 * The applier state of one database.  dboid, pid, procno, starting,
 * started_at, wake and the dead-xid ring are protected by the shared
 * LWLock; the generations are atomics read without it.
 */
typedef struct NgApplierDb
{
	Oid			dboid;			/* InvalidOid: the slot is free */
	pid_t		pid;			/* the running worker, or 0 */
	int			procno;			/* its pgprocno (for its latch), or -1 */
	bool		starting;		/* registered, not yet running */
	TimestampTz started_at;		/* when a worker was last registered */
	TimestampTz exited_at;		/* when a worker last exited */
	bool		wake;			/* ng_applier_wake(): end the back-off */
	pg_atomic_uint64 request_gen;	/* bumped by each committing writer */
	pg_atomic_uint64 done_gen;	/* every commit up to it has been applied */
	ConditionVariable done_cv;	/* broadcast when done_gen advances */
	uint32		dead_next;		/* ring position of the next dead xid */
	uint64		dead_xids[NG_DEAD_XID_RING];	/* FullTransactionIds */
	uint32		unmatched_next; /* the same for changes that matched no
								 * document */
	uint64		unmatched_xids[NG_DEAD_XID_RING];
	pg_atomic_uint64 inflight_seq;	/* newest row a worker sent that may
									 * still be in the outbox */
	bool		held_any;		/* held_xids has a bit set */
	uint64		held_xids[NG_HELD_XID_WORDS];	/* transactions with rows
												 * left in the outbox when
												 * done_gen was published,
												 * by xid modulo its bits */
} NgApplierDb;

typedef struct NgApplierShared
{
	LWLock	   *lock;
	pid_t		launcher_pid;
	uint64		startup_fxid;	/* next FullTransactionId when the applier
								 * first ran after the server started */
	NgApplierDb dbs[NG_APPLIER_MAX_DATABASES];
} NgApplierShared;

/* What happened to one outbox row in this round. */
typedef enum NgRowOutcome
{
	NG_ROW_PENDING,				/* not (yet) applied: stays in the outbox */
	NG_ROW_APPLIED,				/* MongoDB accepted it: delete it */
	NG_ROW_DEAD					/* permanently refused: move it */
} NgRowOutcome;

/* One outbox row, copied into the round's memory context. */
typedef struct NgOutboxRow
{
	int64		seq;
	uint64		xid;			/* writer's FullTransactionId */
	Oid			serverid;
	Oid			userid;
	char	   *database;
	char	   *collection;
	char		op;				/* 'i', 'u' or 'd' */
	bytea	   *doc_id;			/* BSON {"_id": ...} */
	bytea	   *body;			/* BSON document, or NULL */
	NgRowOutcome outcome;
	bool		sent;			/* in a bulk write sent this round */
	bool		held;			/* waits for the next round (poison suspect) */
	bool		unmatched;		/* dead: it matched no document */
	bool		has_code;		/* err_code is a server error code */
	int32		err_code;
	char	   *err_text;		/* why it is dead */
	struct NgGroupState *group; /* its user mapping's state */
} NgOutboxRow;

/* A failed attempt to note on a row, in finish_round. */
typedef struct NgRowFailure
{
	int64		seq;
	char	   *text;
} NgRowFailure;

/*
 * The applier's state of one group of rows: those of one user mapping
 * (server and writing role), which share a connection.  A group whose
 * connection, authentication or command fails is held: its rows stay in
 * the outbox with the error on them, and are retried with a back-off of
 * its own while the other groups' rows are applied (see "Order" in the
 * file header).  Worker memory, in a hash table keyed by the first two
 * fields.
 */
typedef struct NgGroupState
{
	Oid			serverid;
	Oid			userid;
	bool		held;			/* failed: retry at retry_at */
	int			backoff_ms;		/* the last back-off, or 0 */
	TimestampTz retry_at;
	int64		suspect_seq;	/* see "Poison" in the file header */
	int64		drop_seq;
	int			drop_count;
	char	   *logged;			/* last logged error (TopMemoryContext) */
	TimestampTz logged_at;
} NgGroupState;

/* A row's place in a run, for scheduling. */
typedef struct NgSchedItem
{
	NgOutboxRow *row;
	int			pos;			/* position in seq order */
	int			wave;			/* rank among the rows of its document */
	char	   *key;			/* document_key() */
	int			keylen;
} NgSchedItem;

/* A transient failure that stopped a round. */
typedef struct NgApplyFailure
{
	int64		seq;			/* the row it stopped at */
	NgConnEntry *entry;			/* released already; for the report */
	bson_error_t error;
	char	   *action;			/* for "could not %s" */
	bool		retry_now;		/* the server dropped the connection on an
								 * operation: retry in the next round,
								 * without back-off */
} NgApplyFailure;

/* Driver objects alive while a run of rows is applied. */
typedef struct NgApplyDriver
{
	mongoc_client_t *client;	/* the connection's, for a ping */
	mongoc_collection_t *coll;
	mongoc_bulk_operation_t *bulk;
	bson_t		reply;
	bool		reply_live;
} NgApplyDriver;

/* How an error bears on the row it happened to. */
typedef enum NgErrorClass
{
	NG_ERROR_TRANSIENT,			/* retry the row later */
	NG_ERROR_PERMANENT			/* dead-letter the row */
} NgErrorClass;

typedef enum NgRoundResult
{
	NG_ROUND_IDLE,				/* no committed row left */
	NG_ROUND_MORE,				/* a full batch applied; go on */
	NG_ROUND_FAILED,			/* stopped at a failure; back off */
	NG_ROUND_NO_EXTENSION		/* the extension is not installed here */
} NgRoundResult;

/* GUCs */
static int	ng_commit_timeout_ms = 10000;
static int	ng_applier_batch_size = 1000;
static int	ng_applier_max_attempts = 5;

/* shared memory */
static NgApplierShared *applier_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* this process's database name, for naming a worker it starts */
static char my_dbname[NAMEDATALEN];

/* a transaction that locked the outbox against the applier: do not wait */
static FullTransactionId outbox_locked_fxid = {0};

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
static NgApplierDb *worker_slot = NULL;
static MemoryContext round_cxt = NULL;
static int64 failing_seq = 0;	/* the row a round is at, for its error */
static char *last_logged_message = NULL;
static TimestampTz last_logged_at = 0;

/*
 * Rows that may have been sent to MongoDB before (see "Nothing is lost
 * silently" in the file header): those of transactions that began before
 * the server started (startup_fxid), those up to resend_floor (the slot's
 * inflight_seq when this worker started: a worker that died may have sent
 * them), and those in resent_rows, which this process sent in a round that
 * did not remove them from the outbox.
 */
static int64 resend_floor = 0;
static uint64 startup_fxid = 0;
static HTAB *resent_rows = NULL;

/*
 * Operations the server drops the connection on (see the file header):
 * the round's rows, for burying the later rows of a document; the first row
 * of the last run of rows the server dropped the connection on while still
 * answering, from which the next round sends rows one at a time; and the
 * row sent alone that it last dropped the connection on, with how many
 * times it did (the row stays at the head of the queue meanwhile).  Worker
 * memory: a restarted worker starts counting again.
 */
static NgOutboxRow *round_rows = NULL;
static int	round_nrows = 0;
static HTAB *group_states = NULL;
static NgGroupState *cur_group = NULL;	/* the group being applied */
static bool round_retry_now = false;	/* a group wants the next round now */
static List *round_failures = NIL;	/* NgRowFailure, in round_cxt */
static bool round_holds = false;	/* a group or row was held this round */
static bool held_any = false;	/* this round's transactions with held rows */
static uint64 held_xids[NG_HELD_XID_WORDS];

PGDLLEXPORT void ng_applier_launcher_main(Datum main_arg);
PGDLLEXPORT void ng_applier_worker_main(Datum main_arg);

static void applier_shmem_request(void);
static void applier_shmem_startup(void);
static NgApplierDb *find_slot(Oid dboid);
static NgApplierDb *claim_slot(Oid dboid);
static void free_slot(NgApplierDb *slot);
static bool worker_needed(NgApplierDb *slot, TimestampTz now,
						  int restart_delay_ms);
static bool register_worker(NgApplierDb *slot, const char *dbname);
static NgApplierDb *start_worker_nothrow(Oid dboid);
static void note_outbox_lock(void);
static void wait_for_generation(NgApplierDb *slot, uint64 gen);
static bool xid_in_ring(const uint64 *ring, uint64 xid);

static void launcher_detach(int code, Datum arg);
static void launcher_scan(bool first, MemoryContext scan_cxt);

static void worker_attach(Oid dboid);
static void worker_detach(int code, Datum arg);
static void note_startup_xid(void);
static void worker_exit_no_extension(uint64 gen);
static void worker_handle_signals(void);
static void publish_done(uint64 gen);
static void backoff_sleep(int ms);
static NgRoundResult apply_round(void);
static NgOutboxRow *read_rows(int *nrows);
static bool apply_run(NgOutboxRow **rows, int n, NgApplyFailure *failure);
static void apply_group(NgOutboxRow **rows, int n, NgGroupState *g);
static void hold_group(NgGroupState *g, int64 seq, ErrorData *edata,
					   bool retry_now);
static NgGroupState *group_state(Oid serverid, Oid userid);
static bool row_held(NgOutboxRow *rows, int i);
static bool group_should_log(NgGroupState *g, const char *message);
static void start_round_groups(void);
static long held_retry_ms(void);
static void note_held_xids(void);
static bool xid_held(NgApplierDb *slot, uint64 xid);
static NgOutboxRow **schedule_rows(NgOutboxRow **rows, int n);
static char *document_key(bytea *doc_id, int *keylen);
static int	compare_by_document(const void *a, const void *b);
static int	compare_by_wave(const void *a, const void *b);
static bool apply_ops(NgApplyDriver *d, NgOutboxRow **sched, int n,
					  NgApplyFailure *failure);
static bool is_replacement(const bson_t *body);
static bool append_op(mongoc_bulk_operation_t *bulk, NgOutboxRow *row,
					  bson_error_t *error);
static bool replace_row(NgApplyDriver *d, NgOutboxRow *row,
						bson_error_t *error, bool *write_error);
static bool reply_write_error(const bson_t *reply, int *index,
							  bson_error_t *error);
static NgErrorClass classify_error(const bson_error_t *error,
								   bool write_error);
static void driver_reset(NgApplyDriver *d);
static bool lookup_documents(NgApplyDriver *d, NgMatchPlan *plan,
							 bool before, int start, int end,
							 bson_error_t *error);
static void check_matched(NgApplyDriver *d, NgMatchPlan *plan,
						  NgOutboxRow **sched, int start, int end,
						  bool *unmatched);
static bool maybe_sent_before(NgOutboxRow *row);
static void remember_sent(NgOutboxRow *rows, int n, bool committed);
static bool server_answers(NgApplyDriver *d);
static bool dropped_too_often(NgOutboxRow *row, const bson_error_t *error);
static void bury_document_after(NgOutboxRow *row);
static void mark_dead(NgOutboxRow *row, const bson_error_t *error,
					  bool server_code);
static void finish_round(NgOutboxRow *rows, int n);
static void note_dead_letters(NgOutboxRow *rows, int n);
static void record_failure(int64 seq, ErrorData *edata);
static bool should_log_failure(const char *message);
static char *clean_message(const char *message);
static bool bytea_as_bson(bytea *data, bson_t *doc);
static int	run_statement(NgApplierStmt which, Datum *values,
						  const char *nulls, bool read_only);


/* ------------------------------------------------------------------------
 * Set-up: GUCs, shared memory, the launcher
 * ------------------------------------------------------------------------
 */

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

static void
stop_worker_for_drop(const char *dbname)
{
	Oid			dboid = get_database_oid(dbname, true);
	NgApplierDb *slot;
	pid_t		pid = 0;
	int			i;

	if (!OidIsValid(dboid) || dboid == MyDatabaseId || applier_shared == NULL ||
		!ng_database_ownercheck(dboid, GetUserId()))
		return;

	LWLockAcquire(applier_shared->lock, LW_SHARED);
	slot = find_slot(dboid);
	if (slot != NULL)
		pid = slot->pid;
	LWLockRelease(applier_shared->lock);
	if (pid == 0)
		return;

	(void) kill(pid, SIGTERM);
	for (i = 0; i < 500; i++)
	{
		bool		gone;

		LWLockAcquire(applier_shared->lock, LW_SHARED);
		gone = slot->dboid != dboid || slot->pid != pid;
		LWLockRelease(applier_shared->lock);
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
	prev_process_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = applier_process_utility;

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
	applier_shared = ShmemInitStruct("nutragenie applier",
									 sizeof(NgApplierShared), &found);
	if (!found)
	{
		int			i;

		memset(applier_shared, 0, sizeof(NgApplierShared));
		applier_shared->lock = &(GetNamedLWLockTranche(NG_LWLOCK_TRANCHE))->lock;
		applier_shared->launcher_pid = 0;
		for (i = 0; i < NG_APPLIER_MAX_DATABASES; i++)
		{
			NgApplierDb *slot = &applier_shared->dbs[i];

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
	return applier_shared != NULL;
}


/* ------------------------------------------------------------------------
 * Slots and starting workers
 * ------------------------------------------------------------------------
 */

/* The slot of a database, or NULL.  Caller holds the lock. */
static NgApplierDb *
find_slot(Oid dboid)
{
	int			i;

	for (i = 0; i < NG_APPLIER_MAX_DATABASES; i++)
	{
		if (applier_shared->dbs[i].dboid == dboid)
			return &applier_shared->dbs[i];
	}
	return NULL;
}

/*
 * The slot of a database, taking a free one if it has none; NULL when all
 * are taken.  Caller holds the lock exclusively.
 */
static NgApplierDb *
claim_slot(Oid dboid)
{
	NgApplierDb *slot = find_slot(dboid);

	if (slot != NULL)
		return slot;

	slot = find_slot(InvalidOid);
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
static void
free_slot(NgApplierDb *slot)
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
static bool
worker_needed(NgApplierDb *slot, TimestampTz now, int restart_delay_ms)
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
static bool
register_worker(NgApplierDb *slot, const char *dbname)
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
	worker.bgw_notify_pid = applier_shared->launcher_pid;

	slot->started_at = GetCurrentTimestamp();
	if (!RegisterDynamicBackgroundWorker(&worker, NULL))
	{
		slot->starting = false;
		return false;
	}
	slot->starting = true;
	return true;
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

	if (applier_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the nutragenie applier is not running"),
				 errhint("Add nutragenie to shared_preload_libraries and restart the server.")));

	note_outbox_lock();

	LWLockAcquire(applier_shared->lock, LW_SHARED);
	slot = find_slot(MyDatabaseId);
	needed = (slot == NULL ||
			  worker_needed(slot, GetCurrentTimestamp(),
							NG_WORKER_RESTART_MS));
	LWLockRelease(applier_shared->lock);
	if (!needed)
		return;

	/* catalog access outside the lock */
	dbname = get_database_name(MyDatabaseId);
	if (dbname != NULL)
		strlcpy(my_dbname, dbname, sizeof(my_dbname));

	LWLockAcquire(applier_shared->lock, LW_EXCLUSIVE);
	slot = claim_slot(MyDatabaseId);
	if (slot != NULL && worker_needed(slot, GetCurrentTimestamp(),
									  NG_WORKER_RESTART_MS))
		registered = register_worker(slot, my_dbname);
	LWLockRelease(applier_shared->lock);

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

	LWLockAcquire(applier_shared->lock, LW_EXCLUSIVE);
	slot = claim_slot(dboid);
	if (slot != NULL && worker_needed(slot, GetCurrentTimestamp(),
									  NG_WORKER_RESTART_MS))
		(void) register_worker(slot, my_dbname);
	LWLockRelease(applier_shared->lock);
	return slot;
}


/* ------------------------------------------------------------------------
 * The committing backend
 * ------------------------------------------------------------------------
 */

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

	if (applier_shared == NULL)
		return;

	LWLockAcquire(applier_shared->lock, LW_SHARED);
	slot = find_slot(MyDatabaseId);
	if (slot != NULL)
	{
		gen = pg_atomic_add_fetch_u64(&slot->request_gen, 1);
		procno = slot->procno;
	}
	LWLockRelease(applier_shared->lock);

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
				LWLockAcquire(applier_shared->lock, LW_SHARED);
				held = xid_held(slot, U64FromFullTransactionId(fxid));
				LWLockRelease(applier_shared->lock);
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
		LWLockAcquire(applier_shared->lock, LW_SHARED);
		restart = worker_needed(slot, GetCurrentTimestamp(),
								NG_WORKER_RESTART_MS);
		LWLockRelease(applier_shared->lock);
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

			LWLockAcquire(applier_shared->lock, LW_SHARED);
			dead = xid_in_ring(slot->dead_xids, xid);
			unmatched = xid_in_ring(slot->unmatched_xids, xid);
			LWLockRelease(applier_shared->lock);
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


/* ------------------------------------------------------------------------
 * The launcher
 * ------------------------------------------------------------------------
 */

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

	LWLockAcquire(applier_shared->lock, LW_EXCLUSIVE);
	applier_shared->launcher_pid = MyProcPid;
	LWLockRelease(applier_shared->lock);
	before_shmem_exit(launcher_detach, (Datum) 0);
	note_startup_xid();

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
	LWLockAcquire(applier_shared->lock, LW_EXCLUSIVE);
	if (applier_shared->launcher_pid == MyProcPid)
		applier_shared->launcher_pid = 0;
	LWLockRelease(applier_shared->lock);
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
	LWLockAcquire(applier_shared->lock, LW_EXCLUSIVE);

	/* forget dropped databases (a worker cannot still run in one) */
	for (i = 0; i < NG_APPLIER_MAX_DATABASES; i++)
	{
		NgApplierDb *slot = &applier_shared->dbs[i];

		if (OidIsValid(slot->dboid) && slot->pid == 0 &&
			!list_member_oid(oids, slot->dboid))
			free_slot(slot);
	}

	forboth(lc1, oids, lc2, names)
	{
		Oid			dboid = lfirst_oid(lc1);
		NgApplierDb *slot;

		slot = first ? claim_slot(dboid) : find_slot(dboid);
		if (slot == NULL)
		{
			/* only the first pass claims slots; later ones find none */
			full = full || first;
			continue;
		}
		if (worker_needed(slot, now, first ? 0 : NG_WORKER_RESTART_MS))
			(void) register_worker(slot, (char *) lfirst(lc2));
	}
	LWLockRelease(applier_shared->lock);

	if (full)
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("more databases than nutragenie appliers"),
				 errdetail("At most %d databases can have a nutragenie applier; the others get one when they first write.",
						   NG_APPLIER_MAX_DATABASES)));
}


/* ------------------------------------------------------------------------
 * The worker
 * ------------------------------------------------------------------------
 */

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

	note_startup_xid();
	LWLockAcquire(applier_shared->lock, LW_SHARED);
	startup_fxid = applier_shared->startup_fxid;
	LWLockRelease(applier_shared->lock);
	resend_floor = (int64) pg_atomic_read_u64(&worker_slot->inflight_seq);

	/* The worker is a superuser: resolve nothing through a user's schema. */
	SetConfigOption("search_path", "pg_catalog", PGC_SUSET, PGC_S_OVERRIDE);

	round_cxt = AllocSetContextCreate(TopMemoryContext,
									  "nutragenie applier round",
									  ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		uint64		gen;
		NgRoundResult result;

		worker_handle_signals();

		/* read before the round's snapshot: see the file header */
		gen = pg_atomic_read_u64(&worker_slot->request_gen);
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
		 * Sleep unless a commit was announced during the round or a group
		 * is to be tried again at once; until the first held group's
		 * back-off is over at most.
		 */
		if (pg_atomic_read_u64(&worker_slot->request_gen) != gen ||
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

	LWLockAcquire(applier_shared->lock, LW_EXCLUSIVE);
	slot = claim_slot(dboid);
	if (slot == NULL || (slot->pid != 0 && slot->pid != MyProcPid))
	{
		LWLockRelease(applier_shared->lock);
		proc_exit(0);
	}
	slot->pid = MyProcPid;
	slot->procno = MyProcNumber;
	slot->starting = false;
	LWLockRelease(applier_shared->lock);

	worker_slot = slot;
	before_shmem_exit(worker_detach, (Datum) 0);
}

/*
 * Remember, once per server start, the transaction id from which on
 * committed rows cannot have been sent before the start (see "Nothing is
 * lost silently" in the file header): the launcher does it as it starts,
 * a worker if it runs first.
 */
static void
note_startup_xid(void)
{
	LWLockAcquire(applier_shared->lock, LW_EXCLUSIVE);
	if (applier_shared->startup_fxid == 0)
		applier_shared->startup_fxid =
			U64FromFullTransactionId(ReadNextFullTransactionId());
	LWLockRelease(applier_shared->lock);
}

static void
worker_detach(int code, Datum arg)
{
	if (worker_slot == NULL)
		return;
	LWLockAcquire(applier_shared->lock, LW_EXCLUSIVE);
	if (worker_slot->pid == MyProcPid)
	{
		worker_slot->pid = 0;
		worker_slot->procno = -1;
		worker_slot->exited_at = GetCurrentTimestamp();
	}
	LWLockRelease(applier_shared->lock);
	worker_slot = NULL;
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

	LWLockAcquire(applier_shared->lock, LW_EXCLUSIVE);
	if (pg_atomic_read_u64(&worker_slot->request_gen) == gen)
		free_slot(worker_slot);
	else
	{
		/* a commit came in meanwhile: keep the slot so it is restarted */
		worker_slot->pid = 0;
		worker_slot->procno = -1;
		worker_slot->exited_at = GetCurrentTimestamp();
	}
	LWLockRelease(applier_shared->lock);
	worker_slot = NULL;

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
	LWLockAcquire(applier_shared->lock, LW_EXCLUSIVE);
	if (held_any || worker_slot->held_any)
		memcpy(worker_slot->held_xids, held_xids, sizeof(held_xids));
	worker_slot->held_any = held_any;
	LWLockRelease(applier_shared->lock);
	if (pg_atomic_read_u64(&worker_slot->done_gen) < gen)
		pg_atomic_write_u64(&worker_slot->done_gen, gen);
	ConditionVariableBroadcast(&worker_slot->done_cv);
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

		LWLockAcquire(applier_shared->lock, LW_EXCLUSIVE);
		woken = worker_slot->wake;
		worker_slot->wake = false;
		LWLockRelease(applier_shared->lock);
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


/* ------------------------------------------------------------------------
 * A round: read, apply, delete
 * ------------------------------------------------------------------------
 */

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

	MemoryContextReset(round_cxt);
	round_rows = NULL;
	round_nrows = 0;
	failing_seq = 0;
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
			round_rows = rows;
			round_nrows = nrows;

			for (i = 0; i < nrows; i++)
				rows[i].group = group_state(rows[i].serverid, rows[i].userid);

			/*
			 * Runs of rows for one (server, user, database, collection),
			 * passing over the rows that must wait for a held group.
			 */
			run = MemoryContextAlloc(round_cxt,
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

			remember_sent(rows, nrows, true);
			round_rows = NULL;
			round_nrows = 0;
			note_dead_letters(rows, nrows);

			result = nrows < ng_applier_batch_size ? NG_ROUND_IDLE :
				NG_ROUND_MORE;
		}
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(round_cxt);
		edata = CopyErrorData();
		if (should_log_failure(edata->message ? edata->message : ""))
			EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(round_cxt);

		/* nothing of the round was committed: what it sent may come again */
		remember_sent(round_rows, round_nrows, false);
		round_rows = NULL;
		round_nrows = 0;

		if (failing_seq != 0)
			record_failure(failing_seq, edata);
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
	rows = MemoryContextAllocZero(round_cxt,
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

		oldcxt = MemoryContextSwitchTo(round_cxt);
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
 * Apply a run of rows that share server, user, database and collection
 * (apply_group's body).  Returns false when it stopped at a transient
 * failure (described in *failure); rows before it are marked applied or
 * dead.  May raise (user
 * mapping gone, out of memory): driver objects are destroyed and the
 * connection released on every path.
 */
static bool
apply_run(NgOutboxRow **rows, int n, NgApplyFailure *failure)
{
	NgConnEntry *entry;
	NgApplyDriver driver;
	NgApplyDriver *volatile d = &driver;
	volatile bool ok = false;

	memset(&driver, 0, sizeof(driver));
	failing_seq = rows[0]->seq;

	/*
	 * A server dropped after its rows were committed will never be there
	 * to apply them: bury them rather than stop at them forever.
	 */
	if (GetForeignServerExtended(rows[0]->serverid, FSV_MISSING_OK) == NULL)
	{
		bson_error_t error;

		bson_set_error(&error, MONGOC_ERROR_COMMAND,
					   MONGOC_ERROR_COMMAND_INVALID_ARG,
					   "foreign server %u was dropped before this operation was applied",
					   rows[0]->serverid);
		for (int i = 0; i < n; i++)
			mark_dead(rows[i], &error, false);
		return true;
	}

	entry = ng_conn_get(rows[0]->serverid, rows[0]->userid);
	PG_TRY();
	{
		d->client = ng_conn_client(entry);
		d->coll = mongoc_client_get_collection(d->client,
											   rows[0]->database,
											   rows[0]->collection);
		ok = apply_ops(d, schedule_rows(rows, n), n, failure);
	}
	PG_FINALLY();
	{
		driver_reset(d);
		if (d->coll != NULL)
			mongoc_collection_destroy(d->coll);
		d->coll = NULL;
		ng_conn_release(entry);
	}
	PG_END_TRY();

	/*
	 * MongoDB may now hold new versions of these documents (of some, if the
	 * write stopped half-way): other backends must stop serving the cached
	 * ones, and reads begun before this point must not store theirs.
	 */
	for (int i = 0; i < n; i++)
		ng_cache_invalidate(rows[i]->serverid, rows[i]->database,
							rows[i]->collection,
							(const uint8 *) VARDATA_ANY(rows[i]->doc_id),
							VARSIZE_ANY_EXHDR(rows[i]->doc_id));

	if (!ok)
	{
		failure->entry = entry;
		failure->action = MemoryContextStrdup(round_cxt,
											  psprintf("apply queued changes to collection \"%s.%s\"",
													   rows[0]->database,
													   rows[0]->collection));
	}
	return ok;
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
	cur_group = g;
	failing_seq = rows[0]->seq;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		if (!apply_run(rows, n, &failure))
		{
			failing_seq = failure.seq;
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

		MemoryContextSwitchTo(round_cxt);
		edata = CopyErrorData();
		if (group_should_log(g, edata->message ? edata->message : ""))
			EmitErrorReport();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		hold_group(g, failing_seq, edata, failure.retry_now);
	}
	PG_END_TRY();
	cur_group = NULL;
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
	MemoryContext oldcxt = MemoryContextSwitchTo(round_cxt);
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
 * XXX: _ids are compared by their bytes, as in bury_document_after.
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
 * The order in which to send a run of rows: per document in seq order, but
 * rows of different documents regrouped so that the bulk write is a few
 * commands rather than one per change of operation type.  A run of
 * transactions that each insert a document and then update it would
 * otherwise alternate insert and update commands, one round trip each.
 *
 * The k-th row of each document goes into wave k; waves are sent in order,
 * and within a wave (where every document appears at most once) inserts,
 * then updates, then deletes, each in seq order.  Operations on different
 * documents commute, so the result is that of seq order; an ordered bulk
 * write stops at the first failure, so no row is ever applied after an
 * unapplied earlier row of its own document.  When some _id cannot be
 * compared safely by its bytes (document_key returns NULL), the run keeps
 * seq order.  Returns an array allocated in the round's context.
 */
static NgOutboxRow **
schedule_rows(NgOutboxRow **rows, int n)
{
	NgOutboxRow **sched = MemoryContextAlloc(round_cxt,
											 sizeof(NgOutboxRow *) * n);
	NgSchedItem *items = MemoryContextAlloc(round_cxt,
											sizeof(NgSchedItem) * n);
	bool		reorder = n > 1;
	int			i;

	for (i = 0; i < n; i++)
	{
		items[i].row = rows[i];
		items[i].pos = i;
		items[i].wave = 0;
		items[i].key = NULL;
		items[i].keylen = 0;
		if (reorder)
		{
			items[i].key = document_key(rows[i]->doc_id, &items[i].keylen);
			if (items[i].key == NULL)
				reorder = false;
		}
	}

	if (reorder)
	{
		qsort(items, n, sizeof(NgSchedItem), compare_by_document);
		for (i = 1; i < n; i++)
		{
			if (items[i].keylen == items[i - 1].keylen &&
				memcmp(items[i].key, items[i - 1].key, items[i].keylen) == 0)
				items[i].wave = items[i - 1].wave + 1;
		}
		qsort(items, n, sizeof(NgSchedItem), compare_by_wave);
	}

	for (i = 0; i < n; i++)
		sched[i] = items[i].row;
	return sched;
}

/*
 * The document key of a row's _id (see ng_match_id_key), or NULL when its
 * bytes cannot tell.
 */
static char *
document_key(bytea *doc_id, int *keylen)
{
	if (doc_id == NULL)
		return NULL;
	return ng_match_id_key((const uint8 *) VARDATA_ANY(doc_id),
						   VARSIZE_ANY_EXHDR(doc_id), keylen);
}

/* qsort: by document key, then seq order */
static int
compare_by_document(const void *a, const void *b)
{
	const NgSchedItem *x = (const NgSchedItem *) a;
	const NgSchedItem *y = (const NgSchedItem *) b;
	int			c;

	c = memcmp(x->key, y->key, Min(x->keylen, y->keylen));
	if (c != 0)
		return c;
	if (x->keylen != y->keylen)
		return x->keylen < y->keylen ? -1 : 1;
	return x->pos - y->pos;
}

/* qsort: by wave, then inserts, updates, deletes, then seq order */
static int
compare_by_wave(const void *a, const void *b)
{
	const NgSchedItem *x = (const NgSchedItem *) a;
	const NgSchedItem *y = (const NgSchedItem *) b;
	int			xop = x->row->op == 'i' ? 0 : x->row->op == 'u' ? 1 : 2;
	int			yop = y->row->op == 'i' ? 0 : y->row->op == 'u' ? 1 : 2;

	if (x->wave != y->wave)
		return x->wave - y->wave;
	if (xop != yop)
		return xop - yop;
	return x->pos - y->pos;
}

/*
 * The body of apply_group: ordered bulk writes of the scheduled rows (see
 * schedule_rows), from the first unapplied one to the end of the run.
 *
 * A write error in the reply says which operation failed; those before it
 * were applied and those after it not sent.  An insert that hits a
 * duplicate key may be a re-apply of itself, so it is re-sent as an upsert
 * replace; only if that fails too is the key taken by another document.  A
 * failure without a write error that is still about a document (the driver
 * refused it, say for its size) does not say which one: the rest of the run
 * is then sent one operation at a time to find it.
 *
 * The matched counts of what was applied are checked against matched.c's
 * model of the run (check_matched); when the run deletes several documents
 * whose existence the model cannot know, one find asks MongoDB first.
 */
static bool
apply_ops(NgApplyDriver *d, NgOutboxRow **sched, int n,
		  NgApplyFailure *failure)
{
	bool		one_by_one = false;
	int			start = 0;
	bson_t		opts;
	NgMatchPlan *plan;
	bool	   *unmatched = palloc0(sizeof(bool) * Max(n, 1));

	{
		char	   *ops = palloc(Max(n, 1));
		const uint8 **ids = palloc(sizeof(uint8 *) * Max(n, 1));
		uint32	   *idlens = palloc(sizeof(uint32) * Max(n, 1));
		int			i;
		bson_error_t error;

		for (i = 0; i < n; i++)
		{
			ops[i] = sched[i]->op;
			ids[i] = (const uint8 *) VARDATA_ANY(sched[i]->doc_id);
			idlens[i] = VARSIZE_ANY_EXHDR(sched[i]->doc_id);
		}
		plan = ng_match_plan_create(n, ops, ids, idlens);
		if (ng_match_lookup(plan, true, 0, n, NULL) > 1 &&
			!lookup_documents(d, plan, true, 0, n, &error))
		{
			failure->seq = sched[0]->seq;
			failure->error = error;
			return false;
		}
	}

	while (start < n)
	{
		bson_error_t error;
		bson_error_t append_error;
		int			bad = -1;
		int			end;
		int			index;
		int			i;
		uint32_t	server;

		CHECK_FOR_INTERRUPTS();
		if (sched[start]->outcome == NG_ROW_DEAD)
		{
			/* buried with an earlier row of its document */
			start++;
			continue;
		}
		failing_seq = sched[start]->seq;
		if (sched[start]->seq == cur_group->suspect_seq)
			one_by_one = true;

		bson_init(&opts);
		BSON_APPEND_BOOL(&opts, "ordered", true);
		d->bulk = mongoc_collection_create_bulk_operation_with_opts(d->coll,
																	&opts);
		bson_destroy(&opts);

		for (i = start; i < n && (!one_by_one || i == start); i++)
		{
			if (sched[i]->outcome == NG_ROW_DEAD)
				break;
			if (!append_op(d->bulk, sched[i], &append_error))
			{
				bad = i;
				break;
			}
		}
		end = i;

		if (end == start)
		{
			/* the driver refused the first operation itself */
			driver_reset(d);
			mark_dead(sched[start], &append_error, false);
			start++;
			continue;
		}

		for (i = start; i < end; i++)
		{
			sched[i]->sent = true;
			if ((uint64) sched[i]->seq > pg_atomic_read_u64(&worker_slot->inflight_seq))
				pg_atomic_write_u64(&worker_slot->inflight_seq, sched[i]->seq);
		}
		server = mongoc_bulk_operation_execute(d->bulk, &d->reply, &error);
		d->reply_live = true;

		if (server != 0)
		{
			for (i = start; i < end; i++)
				sched[i]->outcome = NG_ROW_APPLIED;
			check_matched(d, plan, sched, start, end, unmatched);
			driver_reset(d);
			start = end;
			if (bad >= 0)
			{
				mark_dead(sched[bad], &append_error, false);
				start = bad + 1;
			}
			continue;
		}

		if (reply_write_error(&d->reply, &index, &error) &&
			index >= 0 && start + index < end)
		{
			NgOutboxRow *row = sched[start + index];

			for (i = start; i < start + index; i++)
				sched[i]->outcome = NG_ROW_APPLIED;
			check_matched(d, plan, sched, start, start + index, unmatched);
			driver_reset(d);
			failing_seq = row->seq;

			if (row->op == 'i' && error.code == NG_MONGO_DUPLICATE_KEY)
			{
				bool		write_error = false;

				if (replace_row(d, row, &error, &write_error))
				{
					row->outcome = NG_ROW_APPLIED;
					start = start + index + 1;
					continue;
				}
				if (classify_error(&error, write_error) == NG_ERROR_PERMANENT)
				{
					mark_dead(row, &error, error.domain == MONGOC_ERROR_SERVER);
					start = start + index + 1;
					continue;
				}
			}
			else if (classify_error(&error, true) == NG_ERROR_PERMANENT)
			{
				mark_dead(row, &error, true);
				start = start + index + 1;
				continue;
			}

			failure->seq = row->seq;
			failure->error = error;
			return false;
		}

		driver_reset(d);
		if (classify_error(&error, false) == NG_ERROR_PERMANENT)
		{
			if (end - start > 1)
			{
				one_by_one = true;
				continue;
			}
			mark_dead(sched[start], &error,
					  error.domain == MONGOC_ERROR_SERVER);
			start++;
			continue;
		}

		/*
		 * The connection broke.  If the server still answers, it dropped
		 * the connection on these operations: find which one by sending
		 * them one at a time from here on, and bury one that it keeps
		 * dropping the connection on.
		 */
		if (error.domain == MONGOC_ERROR_STREAM && server_answers(d))
		{
			cur_group->suspect_seq = sched[start]->seq;
			if (end - start == 1 && dropped_too_often(sched[start], &error))
			{
				bury_document_after(sched[start]);
				one_by_one = false;
				start++;
				continue;
			}

			/*
			 * Only these rows and later ones of their documents wait; the
			 * connection works, so the group's other rows go on.
			 */
			for (i = start; i < n; i++)
			{
				if (sched[i]->outcome == NG_ROW_PENDING)
					sched[i]->held = true;
			}
			failure->retry_now = true;
		}

		failure->seq = sched[start]->seq;
		failure->error = error;
		return false;
	}
	return true;
}

/*
 * Is an update's body a whole document (UPDATE of a $$ROOT column) rather
 * than update operators?  Its first key says.
 */
static bool
is_replacement(const bson_t *body)
{
	bson_iter_t iter;

	return bson_iter_init(&iter, body) && bson_iter_next(&iter) &&
		bson_iter_key(&iter)[0] != '$';
}

/*
 * Add one row's operation to a bulk write.  False (with *error set) when
 * the driver refuses it, e.g. keys an update document may not have.
 */
static bool
append_op(mongoc_bulk_operation_t *bulk, NgOutboxRow *row,
		  bson_error_t *error)
{
	bson_t		id;
	bson_t		body;

	if (row->doc_id == NULL || !bytea_as_bson(row->doc_id, &id))
	{
		bson_set_error(error, MONGOC_ERROR_BSON, MONGOC_ERROR_BSON_INVALID,
					   "the queued document id is not valid BSON");
		return false;
	}
	if (row->op != 'd' &&
		(row->body == NULL || !bytea_as_bson(row->body, &body)))
	{
		bson_set_error(error, MONGOC_ERROR_BSON, MONGOC_ERROR_BSON_INVALID,
					   "the queued document is not valid BSON");
		return false;
	}

	switch (row->op)
	{
		case 'i':
			return mongoc_bulk_operation_insert_with_opts(bulk, &body, NULL,
														  error);
		case 'u':
			if (is_replacement(&body))
				return mongoc_bulk_operation_replace_one_with_opts(bulk, &id,
																   &body, NULL,
																   error);
			return mongoc_bulk_operation_update_one_with_opts(bulk, &id, &body,
															  NULL, error);
		case 'd':
			return mongoc_bulk_operation_remove_one_with_opts(bulk, &id, NULL,
															  error);
		default:
			bson_set_error(error, MONGOC_ERROR_COMMAND,
						   MONGOC_ERROR_COMMAND_INVALID_ARG,
						   "unknown queued operation \"%c\"", row->op);
			return false;
	}
}

/*
 * Send an insert again as a replace with upsert.  On failure *error is set
 * and *write_error says whether the server refused this document (as
 * opposed to the command or the connection failing).
 */
static bool
replace_row(NgApplyDriver *d, NgOutboxRow *row, bson_error_t *error,
			bool *write_error)
{
	bson_t		id;
	bson_t		body;
	bson_t		opts;
	bool		ok;
	int			index;

	/* both were valid when the insert was appended */
	(void) bytea_as_bson(row->doc_id, &id);
	(void) bytea_as_bson(row->body, &body);

	bson_init(&opts);
	BSON_APPEND_BOOL(&opts, "upsert", true);
	ok = mongoc_collection_replace_one(d->coll, &id, &body, &opts,
									   &d->reply, error);
	d->reply_live = true;
	bson_destroy(&opts);

	*write_error = false;
	if (!ok)
		*write_error = reply_write_error(&d->reply, &index, error);
	driver_reset(d);
	return ok;
}

/*
 * The first write error of a bulk or write reply: its operation's index
 * and, in *error, its code and message (domain MONGOC_ERROR_SERVER).
 */
static bool
reply_write_error(const bson_t *reply, int *index, bson_error_t *error)
{
	bson_iter_t iter;
	bson_iter_t errors;
	bson_iter_t fields;
	int			code = 0;
	const char *message = "unknown write error";

	if (!bson_iter_init_find(&iter, reply, "writeErrors") ||
		!BSON_ITER_HOLDS_ARRAY(&iter) ||
		!bson_iter_recurse(&iter, &errors) ||
		!bson_iter_next(&errors) ||
		!BSON_ITER_HOLDS_DOCUMENT(&errors) ||
		!bson_iter_recurse(&errors, &fields))
		return false;

	*index = -1;
	while (bson_iter_next(&fields))
	{
		const char *key = bson_iter_key(&fields);

		if (strcmp(key, "index") == 0 && BSON_ITER_HOLDS_NUMBER(&fields))
			*index = (int) bson_iter_as_int64(&fields);
		else if (strcmp(key, "code") == 0 && BSON_ITER_HOLDS_NUMBER(&fields))
			code = (int) bson_iter_as_int64(&fields);
		else if (strcmp(key, "errmsg") == 0 && BSON_ITER_HOLDS_UTF8(&fields))
			message = bson_iter_utf8(&fields, NULL);
	}

	bson_set_error(error, MONGOC_ERROR_SERVER, code, "%s", message);
	return true;
}

/*
 * Transient or permanent?  write_error says the server refused one
 * document in a write reply: that is permanent unless the code says the
 * server could not take writes at the moment.  Other server errors are
 * about the command, the user or the cluster and are retried, except a few
 * that can only be about the document.  Driver errors other than
 * connection failures are about the document (invalid, too large).
 */
static NgErrorClass
classify_error(const bson_error_t *error, bool write_error)
{
	if (ng_error_is_connection_failure(error))
		return NG_ERROR_TRANSIENT;
	if (error->domain == MONGOC_ERROR_WRITE_CONCERN)
		return NG_ERROR_TRANSIENT;

	if (error->domain == MONGOC_ERROR_SERVER)
	{
		/*
		 * FerretDB 1.x reports an update that breaks a unique index as an
		 * InternalError of the whole command, with its storage's message,
		 * where MongoDB sends write error 11000.
		 */
		if (error->code == 1 &&
			(strstr(error->message, "UNIQUE constraint failed") != NULL ||
			 strstr(error->message, "duplicate key value violates unique constraint") != NULL))
			return NG_ERROR_PERMANENT;

		switch (error->code)
		{
				/* not primary, shutting down, interrupted, timed out */
			case 6:				/* HostUnreachable */
			case 7:				/* HostNotFound */
			case 24:			/* LockTimeout */
			case 50:			/* MaxTimeMSExpired */
			case 89:			/* NetworkTimeout */
			case 91:			/* ShutdownInProgress */
			case 112:			/* WriteConflict */
			case 189:			/* PrimarySteppedDown */
			case 262:			/* ExceededTimeLimit */
			case 9001:			/* SocketException */
			case 10107:			/* NotWritablePrimary */
			case 11600:			/* InterruptedAtShutdown */
			case 11602:			/* InterruptedDueToReplStateChange */
			case 13435:			/* NotPrimaryNoSecondaryOk */
			case 13436:			/* NotPrimaryOrSecondary */
				return NG_ERROR_TRANSIENT;

				/* about the document whatever the reply's shape */
			case 2:				/* BadValue */
			case 14:			/* TypeMismatch */
			case 52:			/* DollarPrefixedFieldName */
			case 55:			/* InvalidDBRef */
			case 56:			/* EmptyFieldName */
			case 57:			/* DottedFieldName */
			case 66:			/* ImmutableField */
			case 121:			/* DocumentValidationFailure */
			case 10334:			/* BSONObjectTooLarge */
			case 11000:			/* DuplicateKey */
			case 17419:			/* document too large after update */
			case 17420:			/* document too large */
				return NG_ERROR_PERMANENT;

			default:
				return write_error ? NG_ERROR_PERMANENT : NG_ERROR_TRANSIENT;
		}
	}

	if (error->domain == MONGOC_ERROR_BSON ||
		(error->domain == MONGOC_ERROR_COMMAND &&
		 error->code == MONGOC_ERROR_COMMAND_INVALID_ARG))
		return NG_ERROR_PERMANENT;

	return NG_ERROR_TRANSIENT;
}

/* Destroy the bulk operation and reply of a step; keep the collection. */
static void
driver_reset(NgApplyDriver *d)
{
	if (d->bulk != NULL)
	{
		mongoc_bulk_operation_destroy(d->bulk);
		d->bulk = NULL;
	}
	if (d->reply_live)
	{
		bson_destroy(&d->reply);
		d->reply_live = false;
	}
}

/*
 * Ask MongoDB which of the documents ng_match_lookup picks (before, start,
 * end: see there) exist, with one find of their _ids.  False, with *error
 * set, if the find failed.
 */
static bool
lookup_documents(NgApplyDriver *d, NgMatchPlan *plan, bool before,
				 int start, int end, bson_error_t *error)
{
	bson_t		filter;
	bson_t		cond;
	bson_t		in;
	bson_t		opts;
	bson_t		proj;
	mongoc_cursor_t *cursor;
	const bson_t *doc;
	int			asked;
	volatile int nfound = 0;
	const uint8 **found;
	uint32	   *foundlens;
	volatile bool failed = false;

	bson_init(&filter);
	bson_append_document_begin(&filter, "_id", 3, &cond);
	bson_append_array_unsafe_begin(&cond, "$in", 3, &in);
	asked = ng_match_lookup(plan, before, start, end, &in);
	bson_append_array_end(&cond, &in);
	bson_append_document_end(&filter, &cond);
	bson_init(&opts);
	bson_append_document_begin(&opts, "projection", -1, &proj);
	BSON_APPEND_INT32(&proj, "_id", 1);
	bson_append_document_end(&opts, &proj);

	found = palloc(sizeof(uint8 *) * Max(asked, 1));
	foundlens = palloc(sizeof(uint32) * Max(asked, 1));

	cursor = mongoc_collection_find_with_opts(d->coll, &filter, &opts, NULL);
	bson_destroy(&filter);
	bson_destroy(&opts);
	PG_TRY();
	{
		while (mongoc_cursor_next(cursor, &doc))
		{
			bson_iter_t iter;
			uint8	   *copy;

			if (nfound >= asked || !bson_iter_init_find(&iter, doc, "_id"))
				continue;

			/*
			 * {"_id": v} as modify.c builds it: the header, the element
			 * with its key, the terminating zero.
			 */
			{
				bson_t		id = BSON_INITIALIZER;

				bson_append_iter(&id, "_id", 3, &iter);
				copy = palloc(id.len);
				memcpy(copy, bson_get_data(&id), id.len);
				foundlens[nfound] = id.len;
				bson_destroy(&id);
			}
			found[nfound++] = copy;
		}
		failed = mongoc_cursor_error(cursor, error);
	}
	PG_FINALLY();
	{
		mongoc_cursor_destroy(cursor);
	}
	PG_END_TRY();
	if (failed)
		return false;
	ng_match_set_found(plan, found, foundlens, nfound);
	return true;
}

/* A count of a bulk write reply, 0 if absent. */
static int64
reply_count(const bson_t *reply, const char *field)
{
	bson_iter_t iter;

	if (bson_iter_init_find(&iter, reply, field) &&
		BSON_ITER_HOLDS_NUMBER(&iter))
		return bson_iter_as_int64(&iter);
	return 0;
}

/*
 * Rows [start, end) of the schedule were applied, with the reply in d:
 * mark for the dead letters each update or delete that matched no
 * document, unless it may have been sent before.  When the totals cannot
 * be explained (see matched.c), nothing is marked and the fact is logged.
 */
static void
check_matched(NgApplyDriver *d, NgMatchPlan *plan, NgOutboxRow **sched,
			  int start, int end, bool *unmatched)
{
	int64		matched = reply_count(&d->reply, "nMatched");
	int64		removed = reply_count(&d->reply, "nRemoved");
	NgMatchResult result;
	int			i;

	/* rows refused before these changed nothing */
	for (i = 0; i < start; i++)
	{
		if (sched[i]->outcome == NG_ROW_DEAD && !sched[i]->unmatched)
			ng_match_skip(plan, i);
	}

	for (i = start; i < end; i++)
	{
		if (sched[i]->op != 'i')
			break;
	}
	if (i == end)
		return;					/* inserts only */

	result = ng_match_check(plan, start, end, matched, removed, unmatched);
	if (result == NG_MATCH_ASK)
	{
		bson_error_t error;

		/* (the rows are applied: a failed look-up only leaves it unknown) */
		result = NG_MATCH_UNKNOWN;
		if (lookup_documents(d, plan, false, start, end, &error))
		{
			result = ng_match_check(plan, start, end, matched, removed,
									unmatched);
			if (result == NG_MATCH_ASK)
				result = NG_MATCH_UNKNOWN;
		}
	}
	if (result != NG_MATCH_OK)
	{
		ereport(WARNING,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not tell which queued changes to collection \"%s.%s\" matched no document",
						sched[start]->database, sched[start]->collection),
				 errdetail("MongoDB reported %lld matched updates and %lld removed documents for outbox rows %lld to %lld, which another client was changing at the same time.",
						   (long long) matched, (long long) removed,
						   (long long) sched[start]->seq,
						   (long long) sched[end - 1]->seq)));
		return;
	}

	for (i = start; i < end; i++)
	{
		NgOutboxRow *row = sched[i];

		if (!unmatched[i] || maybe_sent_before(row))
			continue;
		row->outcome = NG_ROW_DEAD;
		row->unmatched = true;
		row->has_code = false;
		/* (it must outlive the round's transaction: note_dead_letters) */
		row->err_text = MemoryContextStrdup(round_cxt,
											psprintf("%s matched no document: another client deleted the document, or it was never inserted",
													 row->op == 'u' ? "update" : "delete"));
	}
}

/* May this row have been sent to MongoDB before this round? */
static bool
maybe_sent_before(NgOutboxRow *row)
{
	if (row->xid < startup_fxid || row->seq <= resend_floor)
		return true;
	return resent_rows != NULL &&
		hash_search(resent_rows, &row->seq, HASH_FIND, NULL) != NULL;
}

/*
 * After a round: remember the rows it sent that are still in the outbox
 * (all of them when the round's transaction did not commit), and forget
 * those that left it.
 */
static void
remember_sent(NgOutboxRow *rows, int n, bool committed)
{
	int			i;

	if (rows == NULL)
		return;
	if (resent_rows == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(int64);
		ctl.hcxt = TopMemoryContext;
		resent_rows = hash_create("nutragenie rows sent", 64, &ctl,
								  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	for (i = 0; i < n; i++)
	{
		if (committed && rows[i].outcome != NG_ROW_PENDING)
			(void) hash_search(resent_rows, &rows[i].seq, HASH_REMOVE, NULL);
		else if (rows[i].sent)
			(void) hash_search(resent_rows, &rows[i].seq, HASH_ENTER, NULL);
	}

	/* what a successor would have to take as sent: those rows, if any */
	if (committed)
	{
		HASH_SEQ_STATUS status;
		int64	   *seq;
		int64		newest = 0;

		hash_seq_init(&status, resent_rows);
		while ((seq = hash_seq_search(&status)) != NULL)
			newest = Max(newest, *seq);
		pg_atomic_write_u64(&worker_slot->inflight_seq, (uint64) newest);
	}
}

/*
 * Whether the server answers a ping, on a new connection if the last one
 * broke: tells an operation the server drops the connection on from an
 * outage.
 */
static bool
server_answers(NgApplyDriver *d)
{
	bson_t		cmd;
	bson_t		reply;
	bson_error_t error;
	bool		ok;

	bson_init(&cmd);
	BSON_APPEND_INT32(&cmd, "ping", 1);
	ok = mongoc_client_command_simple(d->client, "admin", &cmd, NULL,
									  &reply, &error);
	bson_destroy(&cmd);
	bson_destroy(&reply);
	return ok;
}

/*
 * Count one more time the server dropped the connection on row, sent
 * alone while the server answered; at nutragenie.applier_max_attempts
 * mark it dead with that history and return true.
 */
static bool
dropped_too_often(NgOutboxRow *row, const bson_error_t *error)
{
	bson_error_t dead;

	NgGroupState *g = cur_group;

	if (g->drop_seq != row->seq)
	{
		g->drop_seq = row->seq;
		g->drop_count = 0;
	}
	g->drop_count++;
	if (g->drop_count < ng_applier_max_attempts)
		return false;

	bson_set_error(&dead, error->domain, error->code,
				   "server closed the connection while applying this operation %d times: %s",
				   g->drop_count, error->message);
	mark_dead(row, &dead, false);
	g->drop_seq = 0;
	g->drop_count = 0;
	g->suspect_seq = 0;
	return true;
}

/*
 * After row was buried for the server dropping the connection on it: bury
 * the round's later rows of the same document too, so that none of them is
 * applied to a document that lacks it (nutragenie_fdw.retry_dead_letter puts
 * them back in order).  Rows committed after this round are applied.
 *
 * XXX: _ids are compared by their bytes: a later row naming the document
 * by another BSON type of the same number (1 and 1.0) is not buried.
 */
static void
bury_document_after(NgOutboxRow *row)
{
	int			i;

	for (i = 0; i < round_nrows; i++)
	{
		NgOutboxRow *r = &round_rows[i];
		bson_error_t error;

		if (r->seq <= row->seq || r->outcome != NG_ROW_PENDING ||
			r->serverid != row->serverid || r->userid != row->userid ||
			strcmp(r->database, row->database) != 0 ||
			strcmp(r->collection, row->collection) != 0 ||
			r->doc_id == NULL || row->doc_id == NULL ||
			VARSIZE_ANY_EXHDR(r->doc_id) != VARSIZE_ANY_EXHDR(row->doc_id) ||
			memcmp(VARDATA_ANY(r->doc_id), VARDATA_ANY(row->doc_id),
				   VARSIZE_ANY_EXHDR(row->doc_id)) != 0)
			continue;
		bson_set_error(&error, MONGOC_ERROR_COMMAND,
					   MONGOC_ERROR_COMMAND_INVALID_ARG,
					   "not applied: an earlier operation on the same document (outbox row %lld) was moved to nutragenie_fdw.dead_letters",
					   (long long) row->seq);
		mark_dead(r, &error, false);
	}
}

/*
 * Mark a row for the dead letters.  server_code: error->code is a MongoDB
 * error code (else the row gets no code; the text says what the driver
 * refused).
 */
static void
mark_dead(NgOutboxRow *row, const bson_error_t *error, bool server_code)
{
	row->outcome = NG_ROW_DEAD;
	row->has_code = server_code;
	row->err_code = (int32) error->code;
	row->err_text = clean_message(error->message);
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
	LWLockAcquire(applier_shared->lock, LW_EXCLUSIVE);
	woken = worker_slot->wake;
	worker_slot->wake = false;
	LWLockRelease(applier_shared->lock);

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

/*
 * After the round committed: log each dead letter and remember its
 * transaction, so that a committer still waiting for it can warn.
 */
static void
note_dead_letters(NgOutboxRow *rows, int n)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		NgOutboxRow *row = &rows[i];

		if (row->outcome != NG_ROW_DEAD)
			continue;

		LWLockAcquire(applier_shared->lock, LW_EXCLUSIVE);
		if (row->unmatched)
		{
			worker_slot->unmatched_xids[worker_slot->unmatched_next % NG_DEAD_XID_RING] =
				row->xid;
			worker_slot->unmatched_next++;
		}
		else
		{
			worker_slot->dead_xids[worker_slot->dead_next % NG_DEAD_XID_RING] =
				row->xid;
			worker_slot->dead_next++;
		}
		LWLockRelease(applier_shared->lock);

		if (row->unmatched)
		{
			ereport(WARNING,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("a queued change to collection \"%s.%s\" matched no document",
							row->database, row->collection),
					 errdetail("Outbox row %lld was moved to nutragenie_fdw.dead_letters: %s.",
							   (long long) row->seq, row->err_text)));
			continue;
		}

		ereport(WARNING,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("MongoDB refused a queued change to collection \"%s.%s\"",
						row->database, row->collection),
				 errdetail("Outbox row %lld was moved to nutragenie_fdw.dead_letters: %s",
						   (long long) row->seq, row->err_text)));
	}
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
		MemoryContextSwitchTo(round_cxt);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		MemoryContextSwitchTo(round_cxt);
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

/*
 * A driver or server message as text the database can store: bytes that
 * are not valid in the server encoding become '?'.  Palloc'd in the
 * round's context.
 */
static char *
clean_message(const char *message)
{
	char	   *text = MemoryContextStrdup(round_cxt, message);
	int			len = strlen(text);
	int			i;

	if (pg_verifymbstr(text, len, true))
		return text;
	for (i = 0; i < len; i++)
	{
		if (IS_HIGHBIT_SET(text[i]))
			text[i] = '?';
	}
	return text;
}

/*
 * A read-only bson_t over a bytea's bytes (no copy).  False if the length
 * header does not match the bytea.
 */
static bool
bytea_as_bson(bytea *data, bson_t *doc)
{
	return bson_init_static(doc, (const uint8_t *) VARDATA_ANY(data),
							VARSIZE_ANY_EXHDR(data));
}


/* ------------------------------------------------------------------------
 * SQL-callable functions
 * ------------------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(ng_bson_to_jsonb);

/*
 * SQL: a BSON document (bytea) as relaxed Extended JSON jsonb.  Raises
 * invalid_parameter_value for bytes that are not one well-formed document.
 */
Datum
ng_bson_to_jsonb(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	NgConverter conv;
	bson_t		doc;
	bson_error_t error;
	bool		isnull;
	Datum		result;

	if (!bytea_as_bson(data, &doc))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid BSON document"),
				 errdetail("The length of the value does not match its BSON header.")));
	if (!bson_validate_with_error(&doc, BSON_VALIDATE_NONE, &error))
	{
		char		detail[sizeof(error.message)];

		strlcpy(detail, error.message, sizeof(detail));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid BSON document"),
				 errdetail_internal("%s", detail)));
	}

	ng_converter_init(&conv, JSONBOID, -1, NG_MISMATCH_ERROR, NG_JSON_RELAXED);
	result = ng_bson_document_to_datum(&conv, &doc, &isnull);
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
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

	if (applier_shared == NULL)
		PG_RETURN_BOOL(false);

	LWLockAcquire(applier_shared->lock, LW_EXCLUSIVE);
	slot = find_slot(MyDatabaseId);
	if (slot != NULL && slot->pid != 0)
	{
		slot->wake = true;
		procno = slot->procno;
	}
	LWLockRelease(applier_shared->lock);

	if (procno < 0)
	{
		ng_applier_ensure_worker();
		PG_RETURN_BOOL(false);
	}
	SetLatch(&ProcGlobal->allProcs[procno].procLatch);
	PG_RETURN_BOOL(true);
}
