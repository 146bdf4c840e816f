/*-------------------------------------------------------------------------
 *
 * applier_apply.c
 *		  Applying one run of outbox rows to MongoDB: the schedule, the
 *		  ordered bulk writes, and what each row's outcome is.
 *
 * A run is the rows of one group (user mapping) and one collection.  The
 * rows are scheduled per document (schedule_rows), sent as ordered bulk
 * writes through conn/bulk.c, and each row ends applied, dead or pending;
 * the rules are stated in applier_int.h.
 *
 * Driver objects are malloc'd and ereport longjmps: everything created
 * while applying a run of rows is destroyed in a PG_FINALLY.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/write/applier_apply.c
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

/* A row's place in a run, for scheduling. */
typedef struct NgSchedItem
{
	NgOutboxRow *row;
	int			pos;			/* position in seq order */
	int			wave;			/* rank among the rows of its document */
	char	   *key;			/* document_key() */
	int			keylen;
} NgSchedItem;

/* Driver objects alive while a run of rows is applied. */
typedef struct NgApplyDriver
{
	NgConnEntry *entry;			/* borrowed for the run */
	NgBulkWriter *writer;		/* its driver objects (conn/bulk.c) */
	const char *database;
	const char *collection;
} NgApplyDriver;

/* The _ids a lookup found, for ng_match_set_found. */
typedef struct NgFoundIds
{
	int			asked;			/* at most this many */
	int			nfound;
	const uint8 **found;
	uint32	   *foundlens;
} NgFoundIds;

/* rows this process sent in a round that did not remove them: see
 * "Nothing is lost silently" in applier_int.h */
static HTAB *resent_rows = NULL;


static NgOutboxRow **schedule_rows(NgOutboxRow **rows, int n);
static char *document_key(bytea *doc_id, int *keylen);
static int	compare_by_document(const void *a, const void *b);
static int	compare_by_wave(const void *a, const void *b);
static bool apply_ops(NgApplyDriver *d, NgOutboxRow **sched, int n,
					  NgApplyFailure *failure);
static bool append_op(NgApplyDriver *d, NgOutboxRow *row,
					  bson_error_t *error);
static bool replace_row(NgApplyDriver *d, NgOutboxRow *row,
						bson_error_t *error, bool *write_error);
static bool lookup_documents(NgApplyDriver *d, NgMatchPlan *plan,
							 bool before, int start, int end,
							 bson_error_t *error);
static void collect_found_id(const bson_t *doc, void *arg);
static void check_matched(NgApplyDriver *d, NgMatchPlan *plan,
						  NgOutboxRow **sched, int start, int end,
						  bool *unmatched);
static bool maybe_sent_before(NgOutboxRow *row);
static bool dropped_too_often(NgOutboxRow *row, const bson_error_t *error);
static bool bytea_as_bson(bytea *data, bson_t *doc);

/*
 * Apply a run of rows that share server, user, database and collection
 * (apply_group's body).  Returns false when it stopped at a transient
 * failure (described in *failure); rows before it are marked applied or
 * dead.  May raise (user
 * mapping gone, out of memory): driver objects are destroyed and the
 * connection released on every path.
 */
bool
ng_applier_apply_run(NgOutboxRow **rows, int n, NgApplyFailure *failure)
{
	NgConnEntry *entry;
	NgApplyDriver driver;
	NgApplyDriver *volatile d = &driver;
	volatile bool ok = false;

	memset(&driver, 0, sizeof(driver));
	ng_applier_failing_seq = rows[0]->seq;

	/*
	 * A server dropped after its rows were committed will never be there to
	 * apply them: bury them rather than stop at them forever.
	 */
	if (GetForeignServerExtended(rows[0]->serverid, FSV_MISSING_OK) == NULL)
	{
		bson_error_t error;

		ng_error_set_invalid(&error,
							 "foreign server %u was dropped before this operation was applied",
							 rows[0]->serverid);
		for (int i = 0; i < n; i++)
			ng_applier_mark_dead(rows[i], &error, false);
		return true;
	}

	entry = ng_conn_get(rows[0]->serverid, rows[0]->userid);
	PG_TRY();
	{
		d->entry = entry;
		d->database = rows[0]->database;
		d->collection = rows[0]->collection;
		d->writer = ng_bulk_writer_create(entry, rows[0]->userid,
										  rows[0]->database,
										  rows[0]->collection);
		ok = apply_ops(d, schedule_rows(rows, n), n, failure);
	}
	PG_FINALLY();
	{
		ng_bulk_writer_destroy(d->writer);
		d->writer = NULL;
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
		failure->action = MemoryContextStrdup(ng_applier_round_cxt,
											  psprintf("apply queued changes to collection \"%s.%s\"",
													   rows[0]->database,
													   rows[0]->collection));
	}
	return ok;
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
	NgOutboxRow **sched = MemoryContextAlloc(ng_applier_round_cxt,
											 sizeof(NgOutboxRow *) * n);
	NgSchedItem *items = MemoryContextAlloc(ng_applier_round_cxt,
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

		CHECK_FOR_INTERRUPTS();
		if (sched[start]->outcome == NG_ROW_DEAD)
		{
			/* buried with an earlier row of its document */
			start++;
			continue;
		}
		ng_applier_failing_seq = sched[start]->seq;
		if (sched[start]->seq == ng_applier_cur_group->suspect_seq)
			one_by_one = true;

		ng_bulk_start(d->writer);

		for (i = start; i < n && (!one_by_one || i == start); i++)
		{
			if (sched[i]->outcome == NG_ROW_DEAD)
				break;
			if (!append_op(d, sched[i], &append_error))
			{
				bad = i;
				break;
			}
		}
		end = i;

		if (end == start)
		{
			/* the driver refused the first operation itself */
			ng_bulk_reset(d->writer);
			ng_applier_mark_dead(sched[start], &append_error, false);
			start++;
			continue;
		}

		for (i = start; i < end; i++)
		{
			pg_atomic_uint64 *inflight = &ng_applier_slot->inflight_seq;

			sched[i]->sent = true;
			if ((uint64) sched[i]->seq > pg_atomic_read_u64(inflight))
				pg_atomic_write_u64(inflight, sched[i]->seq);
		}
		if (ng_bulk_execute(d->writer, &error))
		{
			for (i = start; i < end; i++)
				sched[i]->outcome = NG_ROW_APPLIED;
			check_matched(d, plan, sched, start, end, unmatched);
			ng_bulk_reset(d->writer);
			start = end;
			if (bad >= 0)
			{
				ng_applier_mark_dead(sched[bad], &append_error, false);
				start = bad + 1;
			}
			continue;
		}

		if (ng_bulk_write_error(d->writer, &index, &error) &&
			index >= 0 && start + index < end)
		{
			NgOutboxRow *row = sched[start + index];

			for (i = start; i < start + index; i++)
				sched[i]->outcome = NG_ROW_APPLIED;
			check_matched(d, plan, sched, start, start + index, unmatched);
			ng_bulk_reset(d->writer);
			ng_applier_failing_seq = row->seq;

			if (row->op == 'i' && error.code == NG_MONGO_DUPLICATE_KEY)
			{
				bool		write_error = false;

				if (replace_row(d, row, &error, &write_error))
				{
					row->outcome = NG_ROW_APPLIED;
					start = start + index + 1;
					continue;
				}
				if (ng_error_classify(&error, write_error) ==
					NG_ERROR_PERMANENT)
				{
					ng_applier_mark_dead(row, &error,
										 ng_error_is_server(&error));
					start = start + index + 1;
					continue;
				}
			}
			else if (ng_error_classify(&error, true) == NG_ERROR_PERMANENT)
			{
				ng_applier_mark_dead(row, &error, true);
				start = start + index + 1;
				continue;
			}

			failure->seq = row->seq;
			failure->error = error;
			return false;
		}

		ng_bulk_reset(d->writer);
		if (ng_error_classify(&error, false) == NG_ERROR_PERMANENT)
		{
			if (end - start > 1)
			{
				one_by_one = true;
				continue;
			}
			ng_applier_mark_dead(sched[start], &error,
								 ng_error_is_server(&error));
			start++;
			continue;
		}

		/*
		 * The connection broke.  If the server still answers, it dropped the
		 * connection on these operations: find which one by sending them one
		 * at a time from here on, and bury one that it keeps dropping the
		 * connection on.
		 */
		if (ng_error_is_stream(&error) && ng_conn_ping(d->entry))
		{
			ng_applier_cur_group->suspect_seq = sched[start]->seq;
			if (end - start == 1 && dropped_too_often(sched[start], &error))
			{
				ng_applier_bury_document_after(sched[start]);
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
 * Add one row's operation to the bulk write.  False (with *error set) when
 * the queued bytes are not valid BSON or the driver refuses the operation,
 * e.g. keys an update document may not have.
 */
static bool
append_op(NgApplyDriver *d, NgOutboxRow *row, bson_error_t *error)
{
	bson_t		id;
	bson_t		body;
	bool		have_id;
	bool		have_body;

	have_id = row->doc_id != NULL && bytea_as_bson(row->doc_id, &id);
	have_body = row->body != NULL && bytea_as_bson(row->body, &body);
	return ng_bulk_append(d->writer, row->op, have_id ? &id : NULL,
						  have_body ? &body : NULL, error);
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

	/* both were valid when the insert was appended */
	(void) bytea_as_bson(row->doc_id, &id);
	(void) bytea_as_bson(row->body, &body);

	return ng_bulk_replace_upsert(d->writer, &id, &body, error, write_error);
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
	NgFoundIds	ids;

	bson_init(&filter);
	bson_append_document_begin(&filter, "_id", 3, &cond);
	bson_append_array_unsafe_begin(&cond, "$in", 3, &in);
	ids.asked = ng_match_lookup(plan, before, start, end, &in);
	bson_append_array_end(&cond, &in);
	bson_append_document_end(&filter, &cond);

	ids.found = palloc(sizeof(uint8 *) * Max(ids.asked, 1));
	ids.foundlens = palloc(sizeof(uint32) * Max(ids.asked, 1));
	ids.nfound = 0;

	if (!ng_conn_find_ids(d->entry, d->database, d->collection, &filter,
						  collect_found_id, &ids, error))
		return false;
	ng_match_set_found(plan, ids.found, ids.foundlens, ids.nfound);
	return true;
}

/*
 * collect_found_id
 *		lookup_documents' callback: keep {"_id": v} of a document found, as
 *		modify_document.c builds it (the header, the element with its key, the
 *		terminating zero), palloc'd.
 */
static void
collect_found_id(const bson_t *doc, void *arg)
{
	NgFoundIds *ids = (NgFoundIds *) arg;
	bson_iter_t iter;
	bson_t		id = BSON_INITIALIZER;
	uint8	   *copy;

	if (ids->nfound >= ids->asked || !bson_iter_init_find(&iter, doc, "_id"))
		return;

	bson_append_iter(&id, "_id", 3, &iter);
	copy = palloc(id.len);
	memcpy(copy, bson_get_data(&id), id.len);
	ids->foundlens[ids->nfound] = id.len;
	bson_destroy(&id);
	ids->found[ids->nfound++] = copy;
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
	int64		matched = ng_bulk_reply_count(d->writer, "nMatched");
	int64		removed = ng_bulk_reply_count(d->writer, "nRemoved");
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

		/*
		 * (it must outlive the round's transaction:
		 * ng_applier_note_dead_letters)
		 */
		row->err_text = MemoryContextStrdup(ng_applier_round_cxt,
											psprintf("%s matched no document: another client deleted the document, or it was never inserted",
													 row->op == 'u' ? "update" : "delete"));
	}
}

/* May this row have been sent to MongoDB before this round? */
static bool
maybe_sent_before(NgOutboxRow *row)
{
	if (row->xid < ng_applier_startup_fxid ||
		row->seq <= ng_applier_resend_floor)
		return true;
	return resent_rows != NULL &&
		hash_search(resent_rows, &row->seq, HASH_FIND, NULL) != NULL;
}

/*
 * After a round: remember the rows it sent that are still in the outbox
 * (all of them when the round's transaction did not commit), and forget
 * those that left it.
 */
void
ng_applier_remember_sent(NgOutboxRow *rows, int n, bool committed)
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
		pg_atomic_write_u64(&ng_applier_slot->inflight_seq, (uint64) newest);
	}
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

	NgGroupState *g = ng_applier_cur_group;

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
	ng_applier_mark_dead(row, &dead, false);
	g->drop_seq = 0;
	g->drop_count = 0;
	g->suspect_seq = 0;
	return true;
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
