/*-------------------------------------------------------------------------
 *
 * applier_int.h
 *		  What the files of the applier share: its shared memory, the
 *		  rows of a round, and the worker's state.
 *
 * A write to a MongoDB foreign table becomes a row of nutragenie_fdw.outbox in
 * the writer's transaction (outbox.c).  After COMMIT, one applier worker per
 * database reads the committed rows in seq order, sends each run of rows
 * for one collection as one ordered bulk write, and deletes them once
 * MongoDB has accepted them.  The design is in docs/dual-write.md.
 *
 * The applier is code for three kinds of process: an ordinary backend
 * (applier_backend.c), the launcher (applier_launcher.c) and a worker
 * (applier_worker.c, applier_apply.c, dead_letters.c); applier_shmem.c
 * holds the GUCs and the shared state they meet in.  The invariants the
 * worker keeps are:
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
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/write/applier_int.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef NG_APPLIER_INT_H
#define NG_APPLIER_INT_H

#include "write/write_int.h"


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
	pg_atomic_uint64 inflight_seq;	/* newest row a worker sent that may still
									 * be in the outbox */
	bool		held_any;		/* held_xids has a bit set */
	uint64		held_xids[NG_HELD_XID_WORDS];	/* transactions with rows left
												 * in the outbox when done_gen
												 * was published, by xid
												 * modulo its bits */
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
 * its own while the other groups' rows are applied (see "Order" above).  Worker memory, in a hash table keyed by the first two
 * fields.
 */
typedef struct NgGroupState
{
	Oid			serverid;
	Oid			userid;
	bool		held;			/* failed: retry at retry_at */
	int			backoff_ms;		/* the last back-off, or 0 */
	TimestampTz retry_at;
	int64		suspect_seq;	/* see "Poison" above */
	int64		drop_seq;
	int			drop_count;
	char	   *logged;			/* last logged error (TopMemoryContext) */
	TimestampTz logged_at;
} NgGroupState;

/* A transient failure that stopped a round. */
typedef struct NgApplyFailure
{
	int64		seq;			/* the row it stopped at */
	NgConnEntry *entry;			/* released already; for the report */
	bson_error_t error;
	char	   *action;			/* for "could not %s" */
	bool		retry_now;		/* the server dropped the connection on an
								 * operation: retry in the next round, without
								 * back-off */
} NgApplyFailure;


/* in applier_shmem.c */
extern int	ng_commit_timeout_ms;
extern int	ng_applier_batch_size;
extern int	ng_applier_max_attempts;
extern NgApplierShared *ng_applier_shared;
extern NgApplierDb *ng_applier_find_slot(Oid dboid);
extern NgApplierDb *ng_applier_claim_slot(Oid dboid);
extern void ng_applier_free_slot(NgApplierDb *slot);
extern bool ng_applier_worker_needed(NgApplierDb *slot, TimestampTz now,
									 int restart_delay_ms);
extern bool ng_applier_register_worker(NgApplierDb *slot, const char *dbname);

/* in applier_backend.c */
extern void ng_applier_install_utility_hook(void);

/* in applier_launcher.c */
PGDLLEXPORT void ng_applier_launcher_main(Datum main_arg);

/* in applier_worker.c: the worker's state (worker memory) */
PGDLLEXPORT void ng_applier_worker_main(Datum main_arg);
extern NgApplierDb *ng_applier_slot;	/* this worker's database */
extern MemoryContext ng_applier_round_cxt;	/* the round's memory, reset per
											 * round */
extern int64 ng_applier_failing_seq;	/* the row a round is at, for its
										 * error */
extern int64 ng_applier_resend_floor;	/* see "Nothing is lost silently" */
extern uint64 ng_applier_startup_fxid;
extern NgOutboxRow *ng_applier_round_rows;	/* the round's rows, for burying */
extern int	ng_applier_round_nrows;
extern NgGroupState *ng_applier_cur_group;	/* the group being applied */
extern void ng_applier_note_startup_xid(void);

/* in applier_apply.c */
extern bool ng_applier_apply_run(NgOutboxRow **rows, int n,
								 NgApplyFailure *failure);
extern void ng_applier_remember_sent(NgOutboxRow *rows, int n, bool committed);

/* in dead_letters.c */
extern void ng_applier_bury_document_after(NgOutboxRow *row);
extern void ng_applier_mark_dead(NgOutboxRow *row, const bson_error_t *error,
								 bool server_code);
extern void ng_applier_note_dead_letters(NgOutboxRow *rows, int n);

#endif							/* NG_APPLIER_INT_H */
