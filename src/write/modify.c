/*-------------------------------------------------------------------------
 *
 * modify.c
 *		  INSERT, UPDATE, DELETE and COPY on foreign tables, as outbox rows:
 *		  the FDW modify callbacks.
 *
 * A write never goes to MongoDB from here.  Each row becomes one
 * idempotent operation in nutragenie_fdw.outbox, inserted in the user's
 * transaction, and the applier sends it after COMMIT (docs/dual-write.md).
 * What this file checks at the statement, where it is cheap: the document
 * lock (overlay.c), a duplicate _id on INSERT (unique_violation, or skipped for
 * ON CONFLICT DO NOTHING), and documents that still have another
 * transaction's operations queued (serialization_failure: MongoDB's copy is
 * stale).  The transaction's own view of each written document goes into
 * the overlay so that its later reads see it.
 *
 * INSERT and COPY check and queue rows batch_size at a time: one find for
 * the batch's _ids, one outbox statement.  PostgreSQL 15 hands COPY rows to
 * a foreign table one by one, so when nothing needs them back at once
 * (RETURNING, row or statement triggers) a COPY's rows are held here until
 * a batch is full or the COPY ends.
 *
 * UPDATE and DELETE change the document the scan read, by its exact BSON
 * _id, which the scan hands over through the row's ctid (see
 * ngAddForeignUpdateTargets); the table still needs a column mapped to
 * "_id".  An INSERT without one gets a new ObjectId (returned by RETURNING
 * when the column is objectid or text).
 * UPDATE sends only the assigned fields: {$set: {...}, $unset: {...}} with
 * dotted paths for nested fields; a NULL is $unset by default (null_mode
 * 'unset') or BSON null (null_mode 'null').  Assigning the $$ROOT column
 * replaces the whole document (an update whose body has no operators).
 *
 * The documents are built in modify_document.c, INSERT and COPY rows are
 * batched in ng_modify_insert_batch.c, and operations are queued in outbox.c.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/write/modify.c
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

static NgModifyState *begin_modify(ModifyTableState *mtstate,
								   ResultRelInfo *rinfo, List *fdw_private,
								   CmdType operation, bool explain_only);
static void release_modify(void *arg);
static bool rows_can_wait(ResultRelInfo *rinfo);
static bool copy_can_buffer(ModifyTableState *mtstate,
							ResultRelInfo *rinfo) pg_attribute_unused();

static AttrNumber
id_column(Relation rel, NgTableOptions *opts)
{
	AttrNumber	attnum;

	for (attnum = 1; attnum <= opts->natts; attnum++)
	{
		NgColumn   *col = ng_options_column(opts, attnum);

		if (col != NULL && col->is_id)
			return attnum;
	}
	return InvalidAttrNumber;
}

/*
 * UPDATE and DELETE identify a document by the exact BSON _id of the
 * version the scan read, never by converting the _id column's value back
 * to BSON: a text column shows an ObjectId and a string alike, a jsonb
 * column cannot tell an int32 from an int64.  The row identity is the
 * ctid, in which the scan puts the document's number in the transaction's
 * overlay (scan.c's set_row_ref, overlay.c's ng_xact_document_ref); the
 * overlay keeps its {"_id": value} for the rest of the transaction.
 *
 * The table still needs a column mapped to _id, as before.
 */
void
ngAddForeignUpdateTargets(PlannerInfo *root, Index rtindex,
						  RangeTblEntry *target_rte, Relation target_relation)
{
	NgTableOptions *opts = ng_options_for_rel(RelationGetRelid(target_relation),
											  InvalidOid);
	AttrNumber	attnum = id_column(target_relation, opts);
	Var		   *var;

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot update or delete from foreign table \"%s\" because it has no column for field \"_id\"",
						RelationGetRelationName(target_relation)),
				 errhint("Add a column mapped to \"_id\", for example \"_id objectid\".")));

	var = makeVar(rtindex, SelfItemPointerAttributeNumber, TIDOID, -1,
				  InvalidOid, 0);
	add_row_identity_var(root, var, rtindex, NG_ROWID_NAME);
}

/*
 * Remember which columns the statement assigns and whether it is
 * ON CONFLICT DO NOTHING.
 */
List *
ngPlanForeignModify(PlannerInfo *root, ModifyTable *plan,
					Index resultRelation, int subplan_index)
{
	CmdType		operation = plan->operation;
	RangeTblEntry *rte = planner_rt_fetch(resultRelation, root);
	Relation	rel = table_open(rte->relid, NoLock);
	TupleDesc	tupdesc = RelationGetDescr(rel);
	List	   *target_attrs = NIL;
	int			attnum;

	if (operation == CMD_INSERT)
	{
		for (attnum = 1; attnum <= tupdesc->natts; attnum++)
		{
			if (!TupleDescAttr(tupdesc, attnum - 1)->attisdropped)
				target_attrs = lappend(target_attrs, makeInteger(attnum));
		}
	}
	else if (operation == CMD_UPDATE)
	{
		RelOptInfo *rel_info = find_base_rel(root, resultRelation);
		Bitmapset  *cols = get_rel_all_updated_cols(root, rel_info);
		int			col = -1;

		while ((col = bms_next_member(cols, col)) >= 0)
		{
			attnum = col + FirstLowInvalidHeapAttributeNumber;
			if (attnum <= InvalidAttrNumber)
				elog(ERROR, "system-column update is not supported");
			target_attrs = lappend(target_attrs, makeInteger(attnum));
		}
	}

	if (plan->onConflictAction == ONCONFLICT_UPDATE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("ON CONFLICT DO UPDATE is not supported on foreign table \"%s\"",
						RelationGetRelationName(rel))));

	table_close(rel, NoLock);

	return list_make2(target_attrs,
					  makeInteger(plan->onConflictAction == ONCONFLICT_NOTHING));
}

static NgModifyState *
begin_modify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
			 List *fdw_private, CmdType operation, bool explain_only)
{
	Relation	rel = rinfo->ri_RelationDesc;
	EState	   *estate = mtstate->ps.state;
	NgModifyState *ms = palloc0(sizeof(NgModifyState));
	MemoryContextCallback *cb;
	Oid			userid;
	AttrNumber	attnum;

	userid = ng_result_rel_user(rinfo, estate);
	ms->opts = ng_options_for_rel(RelationGetRelid(rel), userid);
	ms->operation = operation;
	ms->batch_size = ms->opts->batch_size;
	ms->query_cxt = estate->es_query_cxt;
	ms->output_cid = estate->es_output_cid;
	ms->tuple_cxt = GetPerTupleMemoryContext(estate);
	if (explain_only)
		return ms;

	ng_modify_check_writable(ms->opts);

	if (fdw_private != NIL)
	{
		ms->target_attrs = (List *) list_nth(fdw_private,
											 NgModifyPrivateTargetAttrs);
		ms->conflict_nothing = intVal(list_nth(fdw_private,
											   NgModifyPrivateConflictNothing));
	}
	else
	{
		/* COPY and tuple routing: every column */
		for (attnum = 1; attnum <= ms->opts->natts; attnum++)
		{
			if (ng_options_column(ms->opts, attnum) != NULL)
				ms->target_attrs = lappend(ms->target_attrs,
										   makeInteger(attnum));
		}
	}
	ms->shared_fields = ng_options_shared_fields(ms->opts, ms->target_attrs);
	if (operation == CMD_UPDATE)
		ng_options_check_shared_fields(ms->opts, ms->shared_fields, NULL, false);

	ms->id_attnum = id_column(rel, ms->opts);
	for (attnum = 1; attnum <= ms->opts->natts; attnum++)
	{
		NgColumn   *col = ng_options_column(ms->opts, attnum);

		if (col != NULL && col->is_root)
			ms->root_attnum = attnum;
	}

	/* (ri_projectReturning is not set up yet when we are called) */
	if (operation == CMD_DELETE && mtstate->ps.plan != NULL &&
		((ModifyTable *) mtstate->ps.plan)->returningLists != NIL)
	{
		List	   *all = NIL;

		for (attnum = 1; attnum <= ms->opts->natts; attnum++)
		{
			if (ng_options_column(ms->opts, attnum) != NULL)
				all = lappend(all, makeInteger(attnum));
		}
		ms->returning = ng_document_reader_create(ms->opts, all, NIL, 0);
		ms->returning_cxt = AllocSetContextCreate(estate->es_query_cxt,
												  "nutragenie returning",
												  ALLOCSET_DEFAULT_SIZES);
	}

	if (operation == CMD_UPDATE || operation == CMD_DELETE)
	{
		Plan	   *subplan = outerPlanState(mtstate)->plan;

		ms->junk_id_resno = ExecFindJunkAttributeInTlist(subplan->targetlist,
														 NG_ROWID_NAME);
		if (!AttributeNumberIsValid(ms->junk_id_resno))
			elog(ERROR, "could not find junk column \"%s\"", NG_ROWID_NAME);
	}

	ms->temp_cxt = AllocSetContextCreate(estate->es_query_cxt,
										 "nutragenie modify",
										 ALLOCSET_DEFAULT_SIZES);

	/*
	 * The driver objects are released when the query's memory goes, error
	 * or not: a callback on a context of its own, since temp_cxt is reset
	 * per row and reset callbacks fire once.
	 */
	{
		MemoryContext owner = AllocSetContextCreate(estate->es_query_cxt,
													"nutragenie modify driver",
													ALLOCSET_SMALL_SIZES);

		cb = MemoryContextAllocZero(owner, sizeof(MemoryContextCallback));
		cb->func = release_modify;
		cb->arg = ms;
		MemoryContextRegisterResetCallback(owner, cb);
	}

	ng_applier_ensure_worker();
	return ms;
}

static void
release_modify(void *arg)
{
	NgModifyState *ms = (NgModifyState *) arg;

	ng_modify_discard_inserts(ms);
	if (ms->conn != NULL)
	{
		ng_conn_release(ms->conn);
		ms->conn = NULL;
	}
}

void
ng_modify_ensure_remote(NgModifyState *ms)
{
	if (ms->conn == NULL)
		ms->conn = ng_conn_get(ms->opts->serverid, ms->opts->userid);
}

void
ngBeginForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
					 List *fdw_private, int subplan_index, int eflags)
{
	rinfo->ri_FdwState = begin_modify(mtstate, rinfo, fdw_private,
									  mtstate->operation,
									  (eflags & EXEC_FLAG_EXPLAIN_ONLY) != 0);
}

/*
 * Tuple routing (INSERT into a partitioned table) and COPY.  A COPY whose
 * rows can wait is buffered here, since PostgreSQL 15 does not batch COPY
 * into foreign tables: ngExecForeignInsert builds each row's document and
 * queues them batch_size at a time, and ngEndForeignInsert queues the rest.
 */
void
ngBeginForeignInsert(ModifyTableState *mtstate, ResultRelInfo *rinfo)
{
	List	   *fdw_private = NIL;
	NgModifyState *ms;

	if (mtstate->operation == CMD_INSERT && rinfo->ri_usesFdwDirectModify == false &&
		mtstate->ps.plan != NULL &&
		((ModifyTable *) mtstate->ps.plan)->onConflictAction == ONCONFLICT_UPDATE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("ON CONFLICT DO UPDATE is not supported on foreign table \"%s\"",
						RelationGetRelationName(rinfo->ri_RelationDesc))));
	ms = begin_modify(mtstate, rinfo, fdw_private, CMD_INSERT, false);
	rinfo->ri_FdwState = ms;
	if (mtstate->ps.plan != NULL &&
		((ModifyTable *) mtstate->ps.plan)->onConflictAction == ONCONFLICT_NOTHING)
		ms->conflict_nothing = true;

	/*
	 * COPY has no plan (and no ON CONFLICT).  From PostgreSQL 16 on, COPY
	 * itself uses ngExecForeignBatchInsert.
	 */
#if PG_VERSION_NUM < 160000
	if (mtstate->ps.plan == NULL && ms->batch_size > 1 &&
		copy_can_buffer(mtstate, rinfo))
		ms->buffer_rows = true;
#endif
}

/*
 * Queue the rows a COPY still holds, then let the driver objects go.  An
 * error here (a duplicate _id in the last batch) fails the statement like
 * one raised for any other row.
 */
void
ngEndForeignModify(EState *estate, ResultRelInfo *rinfo)
{
	NgModifyState *ms = (NgModifyState *) rinfo->ri_FdwState;

	if (ms == NULL || ms->temp_cxt == NULL)
		return;
	if (ms->nrows > 0)
		(void) ng_modify_flush_inserts(ms, NULL);
	release_modify(ms);
}

void
ngEndForeignInsert(EState *estate, ResultRelInfo *rinfo)
{
	ngEndForeignModify(estate, rinfo);
}

/*
 * Can the rows of an insert into this table be queued in batches, some time
 * after the executor handed them over?  Not with RETURNING or WITH CHECK
 * OPTIONs, which need each row back at once, nor with row triggers on
 * INSERT, which may look for the statement's earlier rows.
 */
static bool
rows_can_wait(ResultRelInfo *rinfo)
{
	TriggerDesc *trig = rinfo->ri_TrigDesc;

	if (rinfo->ri_projectReturning != NULL ||
		rinfo->ri_WithCheckOptions != NIL)
		return false;
	if (trig != NULL &&
		(trig->trig_insert_before_row || trig->trig_insert_after_row ||
		 trig->trig_insert_instead_row))
		return false;
	return true;
}

/*
 * Can a COPY hold its rows until batch_size of them are there, or until
 * ngEndForeignInsert?  As rows_can_wait, and PostgreSQL 15 fires the AFTER
 * STATEMENT triggers of a COPY (of the table or, for tuple routing, of the
 * table copied into) before it calls EndForeignInsert: with such triggers
 * the rows are queued one by one, so that the triggers see all of them.
 *
 * XXX: a volatile DEFAULT of another column that reads this table would
 * not see the rows still held; COPY does not tell us about those.
 */
static bool
copy_can_buffer(ModifyTableState *mtstate, ResultRelInfo *rinfo)
{
	ResultRelInfo *rels[2] = {rinfo, mtstate->rootResultRelInfo};
	int			i;

	if (!rows_can_wait(rinfo))
		return false;
	for (i = 0; i < 2; i++)
	{
		TriggerDesc *trig = rels[i] ? rels[i]->ri_TrigDesc : NULL;

		if (trig != NULL &&
			(trig->trig_insert_after_statement || trig->trig_insert_new_table))
			return false;
	}
	return true;
}

/*
 * Batches for INSERT: one existence query and one outbox insert per batch,
 * when the rows can wait for their batch (rows_can_wait).
 */
int
ngGetForeignModifyBatchSize(ResultRelInfo *rinfo)
{
	NgModifyState *ms = (NgModifyState *) rinfo->ri_FdwState;

	if (!rows_can_wait(rinfo))
		return 1;
	return ms ? ms->batch_size : NG_DEFAULT_BATCH_SIZE;
}

int
ngIsForeignRelUpdatable(Relation rel)
{
	return (1 << CMD_INSERT) | (1 << CMD_UPDATE) | (1 << CMD_DELETE);
}

/*
 * One row of an INSERT that is not batched, or of a COPY.  A buffered COPY
 * (ms->buffer_rows) keeps the row's document, since the slot is reused for
 * the next row, and queues batch_size rows at a time; the row counts as
 * inserted at once, and an error about it (a duplicate _id) is raised when
 * its batch is queued.
 */
TupleTableSlot *
ngExecForeignInsert(EState *estate, ResultRelInfo *rinfo,
					TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	NgModifyState *ms = (NgModifyState *) rinfo->ri_FdwState;
	TupleTableSlot *slots[1] = {slot};
	MemoryContext oldcxt;

	if (!ms->buffer_rows)
		return ng_modify_insert_batch(ms, slots, 1) == 0 ? NULL : slot;

	oldcxt = MemoryContextSwitchTo(ms->temp_cxt);
	ng_modify_prepare_insert(ms, slot);
	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(ms->temp_cxt);

#if PG_VERSION_NUM < 160000
	/* COPY is the innermost error context while it hands us a row */
	if (ms->copy == NULL && error_context_stack != NULL &&
		error_context_stack->callback == CopyFromErrorCallback)
		ms->copy = (CopyFromState) error_context_stack->arg;
	if (ms->copy != NULL)
		ms->rows[ms->nrows - 1].lineno = ms->copy->cur_lineno;
#endif

	if (ms->nrows >= ms->batch_size)
		(void) ng_modify_flush_inserts(ms, NULL);
	return slot;
}

TupleTableSlot **
ngExecForeignBatchInsert(EState *estate, ResultRelInfo *rinfo,
						 TupleTableSlot **slots, TupleTableSlot **planSlots,
						 int *numSlots)
{
	NgModifyState *ms = (NgModifyState *) rinfo->ri_FdwState;

	*numSlots = ng_modify_insert_batch(ms, slots, *numSlots);
	return slots;
}

/*
 * The {"_id": v} of the row an UPDATE or DELETE is about: the exact _id of
 * the document the scan read, found by the overlay number the junk column
 * carries (see ngAddForeignUpdateTargets).
 */
static void
row_id(NgModifyState *ms, TupleTableSlot *planSlot, bson_t *iddoc)
{
	bool		isnull;
	Datum		value = ExecGetJunkAttribute(planSlot, ms->junk_id_resno, &isnull);
	ItemPointer tid;
	const uint8 *id;
	uint32		idlen;
	bson_t		stored;

	if (isnull)
		elog(ERROR, "could not identify the document to change");
	tid = (ItemPointer) DatumGetPointer(value);
	if (!ItemPointerIsValid(tid) ||
		!ng_xact_document_id(ms->opts, ItemPointerGetBlockNumberNoCheck(tid),
							 &id, &idlen) ||
		!bson_init_static(&stored, id, idlen) ||
		!bson_concat(iddoc, &stored))
		elog(ERROR, "could not identify the document to change");
}

/*
 * Does an UPDATE's assignment to the _id column keep the _id?  newid is
 * the assigned value as BSON; iddoc the document's exact _id.  Equal bytes
 * do; otherwise the assignment still keeps it when the column shows the
 * same value for both (SET _id = _id through a text column over an
 * ObjectId), and is then no change at all.
 */
static bool
same_id_value(NgModifyState *ms, TupleTableSlot *slot, const bson_t *newid,
			  const bson_t *iddoc)
{
	NgColumn   *col = ng_options_column(ms->opts, ms->id_attnum);
	int			natts = Max(slot->tts_tupleDescriptor->natts, ms->opts->natts);
	Datum	   *values;
	bool	   *isnull;
	Oid			outfunc;
	bool		varlena;

	if (newid->len == iddoc->len &&
		memcmp(bson_get_data(newid), bson_get_data(iddoc), iddoc->len) == 0)
		return true;
	if (col == NULL || slot->tts_isnull[ms->id_attnum - 1])
		return false;

	if (ms->id_reader == NULL)
	{
		MemoryContext cxt = MemoryContextSwitchTo(ms->query_cxt);

		ms->id_reader = ng_document_reader_create(ms->opts,
												  list_make1(makeInteger(ms->id_attnum)),
												  NIL, 0);
		MemoryContextSwitchTo(cxt);
	}
	values = palloc0(sizeof(Datum) * natts);
	isnull = palloc(sizeof(bool) * natts);
	memset(isnull, true, sizeof(bool) * natts);
	ng_document_to_values(ms->id_reader, iddoc, values, isnull);
	if (isnull[ms->id_attnum - 1])
		return false;
	getTypeOutputInfo(col->typid, &outfunc, &varlena);
	return strcmp(OidOutputFunctionCall(outfunc, values[ms->id_attnum - 1]),
				  OidOutputFunctionCall(outfunc,
										slot->tts_values[ms->id_attnum - 1])) == 0;
}

/*
 * Does the assignment "assign" to the _id column keep the document's _id
 * (iddoc)?  same_id_value on the assigned value, in a function of its own
 * so that its cleanup does not nest inside the caller's PG_TRY.
 */
static bool
assignment_keeps_id(NgModifyState *ms, TupleTableSlot *slot,
					const NgAssign *assign, const bson_t *iddoc)
{
	bson_t		newid;
	volatile bool same = false;

	if (assign->unset)
		return false;
	bson_init(&newid);
	bson_append_value(&newid, "_id", 3, &assign->value);
	PG_TRY();
	{
		same = same_id_value(ms, slot, &newid, iddoc);
	}
	PG_FINALLY();
	{
		bson_destroy(&newid);
	}
	PG_END_TRY();
	return same;
}

/*
 * The current version of a document this transaction is changing: the
 * overlay holds it, since the scan locked and re-read it.
 */
static bool
current_document(NgModifyState *ms, bson_t *iddoc, bson_t *doc)
{
	const uint8 *data;
	uint32		len;
	bool		deleted;

	if (!ng_xact_lookup(ms->opts, bson_get_data(iddoc), iddoc->len,
						InvalidCommandId, &data, &len, &deleted) || deleted)
		return false;
	bson_init_static(doc, data, len);
	return true;
}

TupleTableSlot *
ngExecForeignUpdate(EState *estate, ResultRelInfo *rinfo,
					TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	NgModifyState *ms = (NgModifyState *) rinfo->ri_FdwState;
	MemoryContext oldcxt = MemoryContextSwitchTo(ms->temp_cxt);
	bson_t		iddoc;
	bson_t		values;
	bson_t		root_storage;
	bson_t		newdoc;
	bson_t		update;
	bson_t		old;
	bool		have_old;
	TupleTableSlot *result = slot;

	bson_init(&iddoc);
	bson_init(&values);
	bson_init(&root_storage);
	bson_init(&newdoc);
	bson_init(&update);
	PG_TRY();
	{
		NgAssign   *assigns;
		int			n;
		const bson_t *root;
		int			i;
		bson_t	   *ids[1] = {&iddoc};
		bson_t	   *bodies[1];
		char		op;

		row_id(ms, planSlot, &iddoc);
		ng_xact_lock_document(ms->opts, bson_get_data(&iddoc), iddoc.len);
		have_old = current_document(ms, &iddoc, &old);

		ng_modify_slot_assignments(ms, slot, false, &values, &assigns, &n, &root,
								   &root_storage);

		/*
		 * _id cannot change.  An assignment that keeps it is dropped, so
		 * that the document keeps its _id's BSON type.
		 */
		for (i = 0; i < n; i++)
		{
			if (strcmp(assigns[i].path, "_id") == 0)
			{
				if (!assignment_keeps_id(ms, slot, &assigns[i], &iddoc))
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("cannot change the _id of a document of foreign table \"%s\"",
									ms->opts->relname),
							 errhint("Delete the document and insert it with the new _id.")));
				assigns[i] = assigns[--n];
				i--;
			}
		}

		if (root != NULL)
		{
			/* a whole new document, keeping the _id */
			bson_t		body;
			bson_iter_t it;

			bson_init(&body);
			ng_patch_apply(root, assigns, n, &body);
			bson_iter_init_find(&it, &iddoc, "_id");
			bson_append_iter(&newdoc, "_id", 3, &it);
			if (bson_iter_init(&it, &body))
				while (bson_iter_next(&it))
					if (strcmp(bson_iter_key(&it), "_id") != 0)
						bson_append_iter(&newdoc, bson_iter_key(&it),
										 (int) bson_iter_key_len(&it), &it);
			bson_destroy(&body);

			/*
			 * Queued as an update whose body is the whole document: the
			 * applier sends it as a replace, which matches the document
			 * or reports that it matched nothing (an insert would bring a
			 * document another client deleted back).
			 */
			op = 'u';
			bodies[0] = &newdoc;
		}
		else
		{
			bson_t		set;
			bson_t		unset;
			bool		any_set = false;
			bool		any_unset = false;

			for (i = 0; i < n; i++)
			{
				if (assigns[i].unset)
					any_unset = true;
				else
					any_set = true;
			}
			if (any_set)
			{
				bson_append_document_begin(&update, "$set", 4, &set);
				for (i = 0; i < n; i++)
					if (!assigns[i].unset)
						bson_append_value(&set, assigns[i].path, -1, &assigns[i].value);
				bson_append_document_end(&update, &set);
			}
			if (any_unset)
			{
				bson_append_document_begin(&update, "$unset", 6, &unset);
				for (i = 0; i < n; i++)
					if (assigns[i].unset)
						BSON_APPEND_UTF8(&unset, assigns[i].path, "");
				bson_append_document_end(&update, &unset);
			}
			ng_patch_apply(have_old ? &old : NULL, assigns, n, &newdoc);
			op = 'u';
			bodies[0] = &update;
		}

		ng_modify_check_size(ms, &newdoc);
		if (bodies[0] == &newdoc)
			ng_modify_check_storable(ms, &newdoc, &iddoc, false, NULL);
		else
			ng_modify_check_storable(ms, &update, &iddoc, true,
									 have_old ? &old : NULL);
		if (bodies[0] == &newdoc || !bson_empty(&update))
		{
			ng_modify_outbox_append(ms, op, ids, bodies, 1);
			ng_xact_record_document(ms->opts, bson_get_data(&iddoc), iddoc.len,
									&newdoc, true, ms->output_cid);
		}
	}
	PG_FINALLY();
	{
		bson_destroy(&iddoc);
		bson_destroy(&values);
		bson_destroy(&root_storage);
		bson_destroy(&newdoc);
		bson_destroy(&update);
	}
	PG_END_TRY();

	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(ms->temp_cxt);
	return result;
}

TupleTableSlot *
ngExecForeignDelete(EState *estate, ResultRelInfo *rinfo,
					TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	NgModifyState *ms = (NgModifyState *) rinfo->ri_FdwState;
	MemoryContext oldcxt = MemoryContextSwitchTo(ms->temp_cxt);
	bson_t		iddoc;

	bson_init(&iddoc);
	PG_TRY();
	{
		bson_t	   *ids[1] = {&iddoc};
		bson_t	   *bodies[1] = {NULL};

		row_id(ms, planSlot, &iddoc);
		ng_xact_lock_document(ms->opts, bson_get_data(&iddoc), iddoc.len);

		/* RETURNING shows the document as it was */
		if (ms->returning != NULL)
		{
			bson_t		old;

			ExecClearTuple(slot);
			MemoryContextReset(ms->returning_cxt);
			if (current_document(ms, &iddoc, &old))
			{
				MemoryContext cxt = MemoryContextSwitchTo(ms->returning_cxt);

				ng_document_to_values(ms->returning, &old, slot->tts_values,
									  slot->tts_isnull);
				MemoryContextSwitchTo(cxt);
			}
			else
				memset(slot->tts_isnull, true,
					   sizeof(bool) * slot->tts_tupleDescriptor->natts);
			ExecStoreVirtualTuple(slot);
		}
		ng_modify_outbox_append(ms, 'd', ids, bodies, 1);
		ng_xact_record_document(ms->opts, bson_get_data(&iddoc), iddoc.len,
								NULL, true, ms->output_cid);
	}
	PG_FINALLY();
	{
		bson_destroy(&iddoc);
	}
	PG_END_TRY();

	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(ms->temp_cxt);
	return slot;
}

void
ngExplainForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
					   List *fdw_private, int subplan_index, ExplainState *es)
{
	NgModifyState *ms = (NgModifyState *) rinfo->ri_FdwState;

	if (ms != NULL)
		ExplainPropertyText("MongoDB Namespace",
							psprintf("%s.%s", ms->opts->database,
									 ms->opts->collection), es);
	ExplainPropertyText("MongoDB Write", "queued in nutragenie_fdw.outbox, applied at commit", es);
}
