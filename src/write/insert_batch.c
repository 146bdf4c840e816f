/*-------------------------------------------------------------------------
 *
 * ng_modify_insert_batch.c
 *		  INSERT and COPY rows, built one by one and checked and queued
 *		  batch_size at a time.
 *
 * PostgreSQL 15 hands COPY rows to a foreign table one by one, so when
 * nothing needs them back at once (RETURNING, row or statement triggers)
 * a COPY's rows are held here until a batch is full or the COPY ends.  A
 * batch costs one find for its _ids and one outbox statement.  Held rows
 * are libbson documents: ng_modify_discard_inserts frees them if the statement
 * fails first.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/write/ng_modify_insert_batch.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/copy.h"
#if PG_VERSION_NUM < 160000
#include "commands/copyfrom_internal.h"
#endif
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/appendinfo.h"
#include "optimizer/inherit.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "parser/parsetree.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "write/modify_int.h"

static void copy_line_context(void *arg);

/*
 * Error context of a row of a buffered COPY, in the words of COPY's own.
 */
static void
copy_line_context(void *arg)
{
#if PG_VERSION_NUM < 160000
	NgModifyState *ms = (NgModifyState *) arg;

	if (ms->error_lineno > 0 && ms->copy != NULL)
		errcontext("COPY %s, line %llu", ms->copy->cur_relname,
				   (unsigned long long) ms->error_lineno);
#endif
}

/*
 * Order of two {"_id": v} documents: by length, then bytes.  Only equality
 * means anything.
 */
static int
compare_ids(const bson_t *a, const bson_t *b)
{
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return memcmp(bson_get_data(a), bson_get_data(b), a->len);
}

/* qsort_arg order of row numbers into an NgInsertRow array: _id, position */
static int
compare_row_ids(const void *a, const void *b, void *arg)
{
	const NgInsertRow *rows = (const NgInsertRow *) arg;
	int			i = *(const int *) a;
	int			j = *(const int *) b;
	int			c = compare_ids(rows[i].id, rows[j].id);

	if (c != 0)
		return c;
	return (i > j) - (i < j);
}

/*
 * Make room for n more rows in ms->rows (in the query's memory).
 */
static void
reserve_rows(NgModifyState *ms, int n)
{
	int			want = ms->nrows + n;

	if (want <= ms->maxrows)
		return;
	want = Max(want, Max(ms->batch_size, 1));
	if (ms->rows == NULL)
		ms->rows = MemoryContextAlloc(ms->query_cxt, sizeof(NgInsertRow) * want);
	else
		ms->rows = repalloc(ms->rows, sizeof(NgInsertRow) * want);
	ms->maxrows = want;
}

/*
 * First half of inserting a row: build its document (a generated _id is
 * written back into the slot), lock it and look it up in the transaction's
 * overlay, and append it to ms->rows.  What the overlay does not know is
 * checked by ng_modify_flush_inserts, for the whole batch at once.  Runs in the
 * caller's context (temp_cxt); the row's documents belong to ms->rows from
 * the moment they exist, so an error leaves them to release_modify.
 */
void
ng_modify_prepare_insert(NgModifyState *ms, TupleTableSlot *slot)
{
	NgInsertRow *row;
	const uint8 *data;
	uint32		len;
	bool		deleted;
	bool		generated;

	reserve_rows(ms, 1);
	row = &ms->rows[ms->nrows];
	row->lineno = 0;
	row->exists = false;
	row->check = false;
	row->doc = bson_new();
	row->id = bson_new();
	ms->nrows++;

	generated = ng_modify_new_insert_document(ms, slot, row->doc);
	ng_modify_check_size(ms, row->doc);
	ng_modify_document_id(row->doc, row->id);
	ng_modify_check_storable(ms, row->doc, row->id, false, NULL);

	/*
	 * An ObjectId made here cannot exist anywhere yet, and no other
	 * transaction can name it before we commit: no lock, no round trip to
	 * check it.
	 */
	if (generated)
		return;
	ng_xact_lock_document(ms->opts, bson_get_data(row->id), row->id->len);
	if (ng_xact_lookup(ms->opts, bson_get_data(row->id), row->id->len,
					   InvalidCommandId, &data, &len, &deleted))
		row->exists = !deleted; /* this transaction knows it */
	else
		row->check = true;
}

/*
 * Forget the rows of ms->rows, destroying their documents.  Also the
 * error-path cleanup (from release_modify), so it must not raise.
 */
void
ng_modify_discard_inserts(NgModifyState *ms)
{
	int			i;

	for (i = 0; i < ms->nrows; i++)
	{
		if (ms->rows[i].doc != NULL)
			bson_destroy(ms->rows[i].doc);
		if (ms->rows[i].id != NULL)
			bson_destroy(ms->rows[i].id);
	}
	ms->nrows = 0;
}

/*
 * Second half: queue the rows of ms->rows.  Those whose _id exists already
 * are refused (unique_violation), or skipped for ON CONFLICT DO NOTHING;
 * the existence check is one outbox query and one find for the batch.  The
 * others go into the overlay and, with one statement, into the outbox.
 * slots, when not NULL, are the executor's slots of the same rows: the kept
 * ones are moved to the front.  Returns the number of rows kept.  The rows
 * are destroyed, error or not.
 */
int
ng_modify_flush_inserts(NgModifyState *ms, TupleTableSlot **slots)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(ms->temp_cxt);
	NgInsertRow *rows = ms->rows;
	int			n = ms->nrows;
	int			kept = 0;
	int			i;
	ErrorContextCallback errcallback;

	PG_TRY();
	{
		ErrorContextCallback *save_context = error_context_stack;
		bson_t	  **check = palloc(sizeof(bson_t *) * Max(n, 1));
		int		   *check_at = palloc(sizeof(int) * Max(n, 1));
		bool	   *skip = palloc0(sizeof(bool) * Max(n, 1));
		int		   *order = palloc(sizeof(int) * Max(n, 1));
		bson_t	  **qids = palloc(sizeof(bson_t *) * Max(n, 1));
		bson_t	  **qdocs = palloc(sizeof(bson_t *) * Max(n, 1));
		int			nchecks = 0;

		/*
		 * A buffered COPY reports a row by its own line: COPY's context names
		 * the line being read, a later one (PostgreSQL's own COPY batches do
		 * the same).
		 */
		if (n > 0 && rows[0].lineno > 0)
		{
			if (error_context_stack != NULL &&
				error_context_stack->callback == CopyFromErrorCallback)
				error_context_stack = error_context_stack->previous;
			ms->error_lineno = 0;
			errcallback.callback = copy_line_context;
			errcallback.arg = ms;
			errcallback.previous = error_context_stack;
			error_context_stack = &errcallback;
		}

		for (i = 0; i < n; i++)
		{
			if (rows[i].check)
			{
				check[nchecks] = rows[i].id;
				check_at[nchecks++] = i;
			}
		}
		if (nchecks > 0)
		{
			bool	   *found = palloc0(sizeof(bool) * nchecks);

			ng_outbox_check_queued(ms->opts, check, nchecks);
			ng_modify_existing_ids(ms, check, nchecks, found);
			for (i = 0; i < nchecks; i++)
				rows[check_at[i]].exists = found[i];
		}

		/*
		 * Duplicates: rows whose _id exists, and every row but the first of
		 * those sharing an _id within the batch.  Sorting row numbers by _id
		 * (then position) finds the latter in O(n log n).
		 */
		for (i = 0; i < n; i++)
		{
			order[i] = i;
			skip[i] = rows[i].exists;
		}
		if (n > 1)
			qsort_arg(order, n, sizeof(int), compare_row_ids, rows);
		for (i = 1; i < n; i++)
		{
			if (compare_ids(rows[order[i - 1]].id, rows[order[i]].id) == 0)
				skip[order[i]] = true;
		}
		for (i = 0; i < n; i++)
		{
			ms->error_lineno = rows[i].lineno;
			if (skip[i] && !ms->conflict_nothing)
				ereport(ERROR,
						(errcode(ERRCODE_UNIQUE_VIOLATION),
						 errmsg("duplicate _id %s in collection \"%s.%s\"",
								ng_modify_id_text(rows[i].id), ms->opts->database,
								ms->opts->collection),
						 errdetail("Foreign table \"%s\" already has a document with this _id.",
								   ms->opts->relname)));
		}
		ms->error_lineno = 0;

		for (i = 0; i < n; i++)
		{
			if (skip[i])
				continue;
			ng_xact_record_document(ms->opts, bson_get_data(rows[i].id),
									rows[i].id->len, rows[i].doc, true,
									ms->output_cid);
			qids[kept] = rows[i].id;
			qdocs[kept] = rows[i].doc;
			/* the executor owns these slots: move, never duplicate */
			if (slots != NULL && kept != i)
			{
				TupleTableSlot *tmp = slots[kept];

				slots[kept] = slots[i];
				slots[i] = tmp;
			}
			kept++;
		}
		if (kept > 0)
			ng_modify_outbox_append(ms, 'i', qids, qdocs, kept);
		error_context_stack = save_context;
	}
	PG_FINALLY();
	{
		ng_modify_discard_inserts(ms);
	}
	PG_END_TRY();

	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(ms->temp_cxt);
	return kept;
}

/*
 * Insert a batch of rows given as slots, now.  Returns the number of slots
 * kept in slots[] (fewer than n when ON CONFLICT DO NOTHING skipped some).
 */
int
ng_modify_insert_batch(NgModifyState *ms, TupleTableSlot **slots, int n)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(ms->temp_cxt);
	int			i;

	Assert(ms->nrows == 0);
	reserve_rows(ms, n);
	for (i = 0; i < n; i++)
		ng_modify_prepare_insert(ms, slots[i]);
	MemoryContextSwitchTo(oldcxt);
	return ng_modify_flush_inserts(ms, slots);
}
