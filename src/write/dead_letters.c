/*-------------------------------------------------------------------------
 *
 * dead_letters.c
 *		  Rows that can never be applied: marking them for
 *		  nutragenie_fdw.dead_letters, and telling their committers.
 *
 * A permanent failure about one document moves exactly that row to the
 * dead letters (and the later rows of its document, never applied past a
 * missing change); finish_round (applier_worker.c) moves them in the
 * round's transaction, and after the round committed
 * ng_applier_note_dead_letters records their transactions in the slot so
 * that a waiting committer warns.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/write/dead_letters.c
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

static char *clean_message(const char *message);

/*
 * After row was buried for the server dropping the connection on it: bury
 * the round's later rows of the same document too, so that none of them is
 * applied to a document that lacks it (nutragenie_fdw.retry_dead_letter puts
 * them back in order).  Rows committed after this round are applied.
 *
 * XXX: _ids are compared by their bytes: a later row naming the document
 * by another BSON type of the same number (1 and 1.0) is not buried.
 */
void
ng_applier_bury_document_after(NgOutboxRow *row)
{
	int			i;

	for (i = 0; i < ng_applier_round_nrows; i++)
	{
		NgOutboxRow *r = &ng_applier_round_rows[i];
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
		ng_error_set_invalid(&error,
							 "not applied: an earlier operation on the same document (outbox row %lld) was moved to nutragenie_fdw.dead_letters",
							 (long long) row->seq);
		ng_applier_mark_dead(r, &error, false);
	}
}

/*
 * Mark a row for the dead letters.  server_code: error->code is a MongoDB
 * error code (else the row gets no code; the text says what the driver
 * refused).
 */
void
ng_applier_mark_dead(NgOutboxRow *row, const bson_error_t *error,
					 bool server_code)
{
	row->outcome = NG_ROW_DEAD;
	row->has_code = server_code;
	row->err_code = (int32) error->code;
	row->err_text = clean_message(error->message);
}

/*
 * After the round committed: log each dead letter and remember its
 * transaction, so that a committer still waiting for it can warn.
 */
void
ng_applier_note_dead_letters(NgOutboxRow *rows, int n)
{
	NgApplierDb *slot = ng_applier_slot;
	int			i;

	for (i = 0; i < n; i++)
	{
		NgOutboxRow *row = &rows[i];

		if (row->outcome != NG_ROW_DEAD)
			continue;

		LWLockAcquire(ng_applier_shared->lock, LW_EXCLUSIVE);
		if (row->unmatched)
		{
			slot->unmatched_xids[slot->unmatched_next % NG_DEAD_XID_RING] =
				row->xid;
			slot->unmatched_next++;
		}
		else
		{
			slot->dead_xids[slot->dead_next % NG_DEAD_XID_RING] = row->xid;
			slot->dead_next++;
		}
		LWLockRelease(ng_applier_shared->lock);

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
 * A driver or server message as text the database can store: bytes that
 * are not valid in the server encoding become '?'.  Palloc'd in the
 * round's context.
 */
static char *
clean_message(const char *message)
{
	char	   *text = MemoryContextStrdup(ng_applier_round_cxt, message);
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
