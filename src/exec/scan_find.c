/*-------------------------------------------------------------------------
 *
 * scan_find.c
 *		  A scan that reads a find: its documents, the transaction's own
 *		  writes merged in, and the sort, skip and limit it may do itself.
 *
 * Documents this transaction wrote come from its overlay (xact.c) instead
 * of MongoDB: MongoDB's copies are skipped, and the overlay's versions that
 * satisfy the pushed conditions follow the cursor's documents.  For the
 * table an UPDATE or DELETE changes, each document is locked and re-read
 * before it is returned, so that concurrent writers serialize, and the row
 * carries the document's overlay number as its ctid.  A find whose pushed
 * sort, skip or limit cannot be used (the overlay, a split filter, a
 * tripped guard) is sent without them and the scan sorts (tuplesort), skips
 * and limits itself.  A sort with computed keys (plan/sort.c) is sent as an
 * aggregation with the find's filter and projection; a server that rejects
 * it as unsupported before returning anything gets the plain find, and
 * the scan sorts, skips and limits itself.  An empty first result is followed by one check that
 * the collection exists: MongoDB answers a find on a missing collection
 * with no documents.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/exec/scan_find.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/executor.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/tuplesort.h"

#include "exec/scan_state.h"

static bool send_next_part(NgScanState *st);
static void send_sorted_aggregate(NgScanState *st, const bson_t *filter,
								  const bson_t *projection,
								  const NgLimitValue *skip,
								  const NgLimitValue *limit);
static bool sort_locally_instead(NgScanState *st, const bson_error_t *error);
static bool lock_and_reread(NgScanState *st, const bson_t *doc,
							bson_t *fresh, uint32 *ref);
static void set_row_ref(NgScanState *st, TupleTableSlot *slot, uint32 ref);
static bool pushed_conditions_hold(NgScanState *st, TupleTableSlot *slot);

/*
 * Do the guards find values on which MongoDB's order or grouping differs
 * from PostgreSQL's?  Each guard is up to two finds with limit 1: the
 * second only when the first finds a document.
 */
bool
ng_scan_guards_trip(NgScanState *st, const bson_t *filter)
{
	ListCell   *lc;

	foreach(lc, st->guards)
	{
		NgPlanGuard *guard = (NgPlanGuard *) lfirst(lc);
		int			step;
		bool		found = true;

		for (step = 0; step < 2 && found; step++)
		{
			bson_t		query;
			bson_t		opts;
			bson_t		proj;
			bson_error_t error;
			bool		failed;

			bson_init(&query);
			bson_init(&opts);
			ng_pipeline_guard_filter(&query, filter, guard, step == 1);
			BSON_APPEND_INT64(&opts, "limit", 1);
			BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
			BSON_APPEND_INT32(&proj, "_id", 1);
			bson_append_document_end(&opts, &proj);
			found = ng_coll_find_one(st->remote, &query, &opts, NULL, &error,
									 &failed);
			bson_destroy(&query);
			bson_destroy(&opts);
			st->checks++;
			if (failed)
				ng_coll_report_error(st->remote, &error,
									 psprintf("check collection \"%s.%s\" for foreign table \"%s\"",
											  st->opts->database,
											  st->opts->collection,
											  st->opts->relname));
		}
		if (found)
			return true;
	}
	return false;
}

/*
 * Send the find.  With pushed false, the sort, skip and limit are left out
 * (the scan applies them itself).
 */
void
ng_scan_send_find(NgScanState *st, const bson_t *filter, bool pushed)
{
	bson_t		opts;
	bson_t		projection;
	NgLimitValue skip;
	NgLimitValue limit;

	memset(&skip, 0, sizeof(skip));
	memset(&limit, 0, sizeof(limit));
	if (pushed && st->has_limit)
	{
		skip.present = st->skip_left > 0;
		skip.value = st->skip_left;
		limit.present = st->limit_left > 0;
		limit.value = st->limit_left;
	}

	bson_init(&opts);
	bson_init(&projection);
	PG_TRY();
	{
		ng_scan_build_projection(st, &projection, st->lossy);
		if (pushed && ng_pipeline_sort_is_computed(st->sort_keys))
		{
			send_sorted_aggregate(st, filter, &projection, &skip, &limit);
			goto sent;
		}
		ng_pipeline_find_options(&opts, &projection,
								 pushed ? st->sort_keys : NIL, &skip, &limit);
		BSON_APPEND_INT32(&opts, "batchSize", st->opts->batch_size);
		/* a large sort must spill, as a local one would, rather than fail */
		if (pushed && st->sort_keys != NIL)
			BSON_APPEND_BOOL(&opts, "allowDiskUse", true);
		/* the filter fits (deparse.c made sure); the rest should too */
		if ((Size) filter->len + opts.len > NG_MAX_COMMAND_BYTES)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("MongoDB find for foreign table \"%s\" would exceed the server's 16 MB command limit",
							st->opts->relname),
					 errdetail("The filter takes %u bytes, the projection and options %u bytes.",
							   filter->len, opts.len),
					 errhint("Lower \"nutragenie.max_filter_size\".")));
		ng_coll_find(st->remote, filter, &opts);
sent:
		;
	}
	PG_FINALLY();
	{
		bson_destroy(&opts);
		bson_destroy(&projection);
	}
	PG_END_TRY();
	st->finds++;
}

/*
 * Send a sorted find whose sort needs computed keys as an aggregation
 * (pipeline.c): the same documents, with the same projection.
 */
static void
send_sorted_aggregate(NgScanState *st, const bson_t *filter,
					  const bson_t *projection, const NgLimitValue *skip,
					  const NgLimitValue *limit)
{
	bson_t		command;
	bson_t		pipeline;
	bson_t		opts;

	bson_init(&command);
	bson_init(&opts);
	bson_append_array_unsafe_begin(&command, "pipeline", -1, &pipeline);
	ng_pipeline_sorted_stages(&pipeline, filter, projection, st->sort_keys,
							  skip, limit);
	bson_append_array_end(&command, &pipeline);
	BSON_APPEND_INT32(&opts, "batchSize", st->opts->batch_size);
	BSON_APPEND_BOOL(&opts, "allowDiskUse", true);
	if ((Size) command.len > NG_MAX_COMMAND_BYTES)
	{
		uint32		len = command.len;

		bson_destroy(&command);
		bson_destroy(&opts);
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("MongoDB aggregate for foreign table \"%s\" would exceed the server's 16 MB command limit",
						st->opts->relname),
				 errdetail("The command takes %u bytes.", len),
				 errhint("Lower \"nutragenie.max_filter_size\".")));
	}
	PG_TRY();
	{
		ng_coll_aggregate(st->remote, &command, &opts);
	}
	PG_FINALLY();
	{
		bson_destroy(&command);
		bson_destroy(&opts);
	}
	PG_END_TRY();
}

/*
 * Did the server reject a sort with computed keys as unsupported before
 * returning anything?  Then send the plain find, and sort, skip and limit
 * here (true).
 */
static bool
sort_locally_instead(NgScanState *st, const bson_error_t *error)
{
	bson_t		filter;

	if (st->local || st->scan_docs != 0 ||
		!ng_pipeline_sort_is_computed(st->sort_keys) ||
		!ng_coll_error_is_unsupported(error))
		return false;
	ereport(DEBUG1,
			(errmsg_internal("sorting foreign table \"%s\" locally: %s",
							 st->opts->relname, error->message)));
	ng_coll_close_cursor(st->remote);
	st->local = true;
	st->fallbacks++;
	st->skip_left = st->offset_value;
	st->limit_left = st->count_value;
	bson_init(&filter);
	PG_TRY();
	{
		ng_filter_parts_append(&filter, st->parts, 0);
		ng_scan_send_find(st, &filter, false);
	}
	PG_FINALLY();
	{
		bson_destroy(&filter);
	}
	PG_END_TRY();
	return true;
}

/*
 * The find of a split filter's next part, if any is left: the previous
 * cursor is done with.  False when the last part's cursor was the last.
 */
static bool
send_next_part(NgScanState *st)
{
	bson_t		filter;

	if (st->parts == NULL ||
		st->next_part >= ng_filter_parts_count(st->parts))
		return false;
	ng_coll_close_cursor(st->remote);
	bson_init(&filter);
	PG_TRY();
	{
		ng_filter_parts_append(&filter, st->parts, st->next_part);
		ng_scan_send_find(st, &filter, !st->local);
	}
	PG_FINALLY();
	{
		bson_destroy(&filter);
	}
	PG_END_TRY();
	st->next_part++;
	return true;
}

/*
 * The next document of the find as a row in slot; false at the end.
 *
 * Documents this transaction wrote come from its overlay instead of
 * MongoDB: MongoDB's copies are skipped, and the overlay's versions that
 * satisfy the pushed conditions follow the cursor's documents.  For the
 * table an UPDATE or DELETE changes, each document is locked and re-read
 * before it is returned, so that concurrent writers serialize.
 */
bool
ng_scan_next_row(NgScanState *st, TupleTableSlot *slot)
{
	const bson_t *doc;

	for (;;)
	{
		ExecClearTuple(slot);

		if (!st->mongo_done)
		{
			bson_t		fresh;
			uint32		ref = 0;

			if (!ng_coll_next(st->remote, &doc))
			{
				bson_error_t error;

				if (ng_coll_cursor_failed(st->remote, &error))
				{
					if (sort_locally_instead(st, &error))
						return ng_scan_next_local_row(st, slot);
					ng_scan_report_cursor_error(st, &error);
				}
				if (send_next_part(st))
					continue;
				if (st->scan_docs == 0 && !st->coll_verified && !st->overlay)
					ng_scan_verify_collection(st);
				st->mongo_done = true;
				continue;
			}
			st->docs_fetched++;
			st->scan_docs++;
			CHECK_FOR_INTERRUPTS();

			if (!st->overlay && !st->is_target && !st->lossy)
			{
				ng_scan_convert_document(st, doc, slot, st->ncols);
				ExecStoreVirtualTuple(slot);
				return true;
			}

			{
				bson_t		iddoc;
				bson_iter_t it;
				const uint8 *data;
				uint32		len;
				bool		deleted;
				bool		known;

				bson_init(&iddoc);
				if (bson_iter_init_find(&it, doc, "_id"))
					bson_append_iter(&iddoc, "_id", 3, &it);
				known = ng_xact_lookup(st->opts, bson_get_data(&iddoc),
									   iddoc.len,
									   st->ps->state->es_snapshot->curcid,
									   &data, &len, &deleted);
				bson_destroy(&iddoc);
				if (known)
					continue;	/* the overlay's version comes later */
			}

			if (!lock_and_reread(st, doc, &fresh, &ref))
				continue;

			/*
			 * MongoDB filtered this document; a re-read one may have changed
			 * since (and only then are the columns the conditions use
			 * converted too).
			 */
			ng_scan_convert_document(st, &fresh, slot,
									 (st->is_target || st->lossy) ?
									 st->nallcols : st->ncols);
			ExecStoreVirtualTuple(slot);
			set_row_ref(st, slot, ref);
			if ((st->is_target || st->lossy) &&
				!pushed_conditions_hold(st, slot))
				continue;
			return true;
		}

		if (st->overlay_items == NIL)
			return false;
		{
			NgOverlayItem *item = (NgOverlayItem *) linitial(st->overlay_items);
			bson_t		odoc;

			st->overlay_items = list_delete_first(st->overlay_items);
			bson_init_static(&odoc, item->data, item->len);
			ng_scan_convert_document(st, &odoc, slot, st->nallcols);
			ExecStoreVirtualTuple(slot);
			set_row_ref(st, slot, item->ref);
			if (!pushed_conditions_hold(st, slot))
				continue;
			return true;
		}
	}
}

/*
 * next_row with the pushed sort, skip and limit done here: all rows go
 * through a tuplesort first when the plan pushed a sort.
 */
bool
ng_scan_next_local_row(NgScanState *st, TupleTableSlot *slot)
{
	for (;;)
	{
		if (st->limit_left == 0)
			return false;

		if (st->sort_keys != NIL)
		{
			if (!st->sorted)
			{
				int			nkeys = list_length(st->sort_keys);
				AttrNumber *attnums = palloc(sizeof(AttrNumber) * nkeys);
				Oid		   *sortops = palloc(sizeof(Oid) * nkeys);
				Oid		   *collations = palloc(sizeof(Oid) * nkeys);
				bool	   *nulls_first = palloc(sizeof(bool) * nkeys);
				TupleDesc	tupdesc = slot->tts_tupleDescriptor;
				MemoryContext oldcxt;
				ListCell   *lc;

				foreach(lc, st->sort_keys)
				{
					NgPlanSortKey *key = (NgPlanSortKey *) lfirst(lc);
					int			i = foreach_current_index(lc);

					attnums[i] = key->attno;
					sortops[i] = key->sortop;
					collations[i] = key->collation;
					nulls_first[i] = key->nulls_first;
				}
				oldcxt = MemoryContextSwitchTo(st->scan_cxt);
				st->sorter = tuplesort_begin_heap(tupdesc, nkeys, attnums,
												  sortops, collations,
												  nulls_first, work_mem,
												  NULL, TUPLESORT_NONE);
				if (st->sort_slot == NULL)
					st->sort_slot = MakeSingleTupleTableSlot(tupdesc,
															 &TTSOpsMinimalTuple);
				MemoryContextSwitchTo(oldcxt);

				while (ng_scan_next_row(st, slot))
				{
					tuplesort_puttupleslot(st->sorter, slot);
					MemoryContextReset(st->row_cxt);
				}
				tuplesort_performsort(st->sorter);
				st->sorted = true;
			}
			if (!tuplesort_gettupleslot(st->sorter, true, false,
										st->sort_slot, NULL))
				return false;
			ExecCopySlot(slot, st->sort_slot);
		}
		else if (!ng_scan_next_row(st, slot))
			return false;

		if (st->skip_left > 0)
		{
			st->skip_left--;
			continue;
		}
		if (st->limit_left > 0)
			st->limit_left--;
		return true;
	}
}

/* A failed query is an error, never an empty result. */
void
ng_scan_report_cursor_error(NgScanState *st, bson_error_t *error)
{
	char	   *action;

	action = psprintf("read collection \"%s.%s\" for foreign table \"%s\"",
					  st->opts->database, st->opts->collection,
					  st->opts->relname);
	ng_coll_report_error(st->remote, error, action);
}

/*
 * For a document the scan would return: if this scan feeds an UPDATE or
 * DELETE, lock it, refuse it if another transaction's changes to it are
 * still queued, and re-read it, since a writer may have committed a change
 * between the find and the lock.  The fresh version goes into the overlay
 * (as a read, not a write), *fresh points at it and *ref is its overlay
 * number (ng_xact_document_ref).  Otherwise *fresh is the document as
 * found.  Returns false if the document is gone.
 */
static bool
lock_and_reread(NgScanState *st, const bson_t *doc, bson_t *fresh,
				uint32 *ref)
{
	bson_t		iddoc;
	bson_t	   *ids[1];
	bson_t		opts;
	bson_t		found;
	bson_error_t error;
	bool		failed;
	bool		exists = false;
	const uint8 *data;
	uint32		len;
	bool		deleted;
	bson_iter_t it;

	if (!st->is_target)
	{
		bson_init_static(fresh, bson_get_data(doc), doc->len);
		return true;
	}

	bson_init(&iddoc);
	if (bson_iter_init_find(&it, doc, "_id"))
		bson_append_iter(&iddoc, "_id", 3, &it);
	ids[0] = &iddoc;

	PG_TRY();
	{
		ng_xact_lock_document(st->opts, bson_get_data(&iddoc), iddoc.len);
		ng_outbox_check_queued(st->opts, ids, 1);
	}
	PG_CATCH();
	{
		bson_destroy(&iddoc);
		PG_RE_THROW();
	}
	PG_END_TRY();

	bson_init(&opts);
	BSON_APPEND_INT32(&opts, "limit", 1);
	PG_TRY();
	{
		exists = ng_coll_find_one(st->remote, &iddoc, &opts, &found, &error,
								  &failed);
	}
	PG_CATCH();
	{
		bson_destroy(&opts);
		bson_destroy(&iddoc);
		PG_RE_THROW();
	}
	PG_END_TRY();
	bson_destroy(&opts);
	if (failed)
	{
		bson_destroy(&iddoc);
		ng_coll_report_error(st->remote, &error,
							 psprintf("re-read a document of collection \"%s.%s\"",
									  st->opts->database, st->opts->collection));
	}
	if (exists)
	{
		PG_TRY();
		{
			ng_xact_record_document(st->opts, bson_get_data(&iddoc), iddoc.len,
									&found, false,
									st->ps->state->es_output_cid);
		}
		PG_CATCH();
		{
			bson_destroy(&iddoc);
			PG_RE_THROW();
		}
		PG_END_TRY();
	}
	if (exists &&
		ng_xact_lookup(st->opts, bson_get_data(&iddoc), iddoc.len,
					   InvalidCommandId, &data, &len, &deleted) && !deleted)
	{
		bson_init_static(fresh, data, len);
		*ref = ng_xact_document_ref(st->opts, bson_get_data(&iddoc),
									iddoc.len);
	}
	else
		exists = false;
	bson_destroy(&iddoc);
	return exists;
}

/*
 * A row of the table an UPDATE or DELETE changes carries, as its ctid,
 * the overlay number of its document (the row identity modify.c asked
 * for in ngAddForeignUpdateTargets): the write then addresses the exact
 * BSON _id read, not one converted back from the _id column.
 */
static void
set_row_ref(NgScanState *st, TupleTableSlot *slot, uint32 ref)
{
	if (!st->is_target)
		return;
	if (ref == 0)
		elog(ERROR, "a document read for a write is not in the transaction's overlay");
	ItemPointerSet(&slot->tts_tid, (BlockNumber) ref, FirstOffsetNumber);
}

/*
 * Do the pushed conditions hold for the row in slot?  Needed for rows
 * MongoDB did not filter: the overlay's, and fresh re-reads.
 */
static bool
pushed_conditions_hold(NgScanState *st, TupleTableSlot *slot)
{
	ExprContext *econtext = st->ps->ps_ExprContext;

	if (st->remote_qual == NULL)
		return true;
	/* documents rejected here do not go back to ExecScan, which resets it */
	ResetExprContext(econtext);
	econtext->ecxt_scantuple = slot;
	return ExecQual(st->remote_qual, econtext);
}

/*
 * MongoDB answers a find on a collection that does not exist with no
 * documents.  A misspelt collection option must not pass for an empty
 * table, so an empty first result is followed by one existence check.
 */
void
ng_scan_verify_collection(NgScanState *st)
{
	bson_error_t error;
	bool		exists;

	exists = ng_coll_exists(st->remote, &error);
	if (!exists && error.code != 0)
		ng_coll_report_error(st->remote, &error,
							 psprintf("list the collections of database \"%s\"",
									  st->opts->database));
	if (!exists)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
				 errmsg("collection \"%s\" of foreign table \"%s\" does not exist in database \"%s\"",
						st->opts->collection, st->opts->relname,
						st->opts->database),
				 errhint("Check the \"collection\" and \"database\" options of the foreign table, or create the collection.")));
	st->coll_verified = true;
}
