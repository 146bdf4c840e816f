/*-------------------------------------------------------------------------
 *
 * modify.c
 *		  INSERT, UPDATE, DELETE and COPY on foreign tables, as outbox rows.
 *
 * A write never goes to MongoDB from here.  Each row becomes one
 * idempotent operation in nutragenie_fdw.outbox, inserted in the user's
 * transaction, and the applier sends it after COMMIT (docs/dual-write.md).
 * What this file checks at the statement, where it is cheap: the document
 * lock (xact.c), a duplicate _id on INSERT (unique_violation, or skipped for
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

#include "ng_remote.h"

/* fdw_private of a ModifyTable's foreign-table entry */
enum NgModifyPrivateIndex
{
	NgModifyPrivateTargetAttrs, /* Integer list of assigned attnums */
	NgModifyPrivateConflictNothing	/* Integer: ON CONFLICT DO NOTHING */
};

/* Name of the row identity junk column (a ctid: see ngAddForeignUpdateTargets). */
#define NG_ROWID_NAME "ng_id"

typedef struct NgModifyState
{
	NgTableOptions *opts;
	CmdType		operation;
	List	   *target_attrs;	/* assigned attnums (INSERT: all) */
	List	   *shared_fields;	/* pairs of them mapped to one field */
	AttrNumber	id_attnum;		/* column mapped to _id, or 0 */
	AttrNumber	root_attnum;	/* $$ROOT column, or 0 */
	AttrNumber	junk_id_resno;	/* UPDATE/DELETE: ng_id in the plan's tlist */
	bool		conflict_nothing;
	int			batch_size;
	bool		buffer_rows;	/* COPY: hold rows, queue them per batch */
	struct NgInsertRow *rows;	/* INSERT: rows built, not yet queued */
	int			nrows;
	int			maxrows;
#if PG_VERSION_NUM < 160000
	CopyFromState copy;			/* buffered COPY: its state, for line numbers */
#endif
	uint64		error_lineno;	/* COPY line of the row being reported */
	MemoryContext query_cxt;	/* holds this state and rows[] */
	CommandId	output_cid;		/* the statement's command, for the overlay */
	MemoryContext tuple_cxt;	/* the executor's per-row memory */
	MemoryContext temp_cxt;		/* reset per row or batch */
	NgConnEntry *conn;			/* borrowed for existence checks */
	mongoc_collection_t *coll;
	NgDocReader *returning;		/* DELETE ... RETURNING: old row values */
	NgDocReader *id_reader;		/* UPDATE: reads the _id column, on demand */
	MemoryContext returning_cxt;	/* holds them until the next row */
} NgModifyState;

/*
 * One row of an INSERT or COPY between being built (prepare_insert) and
 * being queued (flush_inserts).  doc and id are libbson's: flush_inserts
 * destroys them, or release_modify if the statement fails first.
 */
typedef struct NgInsertRow
{
	bson_t	   *doc;			/* the document, _id first */
	bson_t	   *id;				/* {"_id": v} */
	uint64		lineno;			/* buffered COPY: its line, else 0 */
	bool		exists;			/* the _id is known to exist */
	bool		check;			/* ask the outbox and MongoDB about it */
} NgInsertRow;

/* One field assignment of a document update. */
typedef struct NgAssign
{
	const char *path;			/* dotted path */
	bool		unset;			/* remove the field */
	bson_value_t value;			/* the value (when !unset); points into a
								 * values document.  Not a bson_iter_t:
								 * libbson declares that 128-byte aligned,
								 * which palloc'd memory is not. */
} NgAssign;

static NgModifyState *begin_modify(ModifyTableState *mtstate,
								   ResultRelInfo *rinfo, List *fdw_private,
								   CmdType operation, bool explain_only);
static void release_modify(void *arg);
static void ensure_remote(NgModifyState *ms);
static void document_id(const bson_t *doc, bson_t *iddoc);
static void slot_assignments(NgModifyState *ms, TupleTableSlot *slot,
							 bool for_insert, bson_t *values, NgAssign **assigns,
							 int *nassigns, const bson_t **root_doc,
							 bson_t *root_storage);
static bool new_insert_document(NgModifyState *ms, TupleTableSlot *slot,
								bson_t *doc);
static bool rows_can_wait(ResultRelInfo *rinfo);
static bool copy_can_buffer(ModifyTableState *mtstate,
							ResultRelInfo *rinfo) pg_attribute_unused();
static void prepare_insert(NgModifyState *ms, TupleTableSlot *slot);
static int	flush_inserts(NgModifyState *ms, TupleTableSlot **slots);
static void discard_inserts(NgModifyState *ms);
static void copy_line_context(void *arg);
static int	insert_batch(NgModifyState *ms, TupleTableSlot **slots, int n);
static void existing_ids(NgModifyState *ms, bson_t **ids, int n, bool *exists);
static void outbox_append(NgModifyState *ms, char op, bson_t **ids,
						  bson_t **bodies, int n);
static void check_writable(NgTableOptions *opts);
static void check_size(NgModifyState *ms, const bson_t *doc);
static void check_storable(NgModifyState *ms, const bson_t *doc,
						   const bson_t *iddoc, bool is_update,
						   const bson_t *current);
static NgColumn *column_for_field(NgTableOptions *opts, const char *field);

/* MongoDB's document size limit (maxBsonObjectSize). */
#define NG_MAX_DOCUMENT_SIZE (16 * 1024 * 1024)
static const char *id_text(const bson_t *iddoc);

/*
 * Apply assignments (dotted paths, already sorted so that paths sharing a
 * prefix are adjacent) to a document: copy "old" with the assigned fields
 * replaced, removed or added, into "out".  Used both to build new
 * documents and to compute the overlay version after an update.
 */
static void apply_level(bson_iter_t *old, NgAssign *assigns, int n,
						int depth, bson_t *out);

static const char *
segment(const char *path, int depth, int *len)
{
	const char *p = path;
	const char *dot;
	int			i;

	for (i = 0; i < depth; i++)
		p = strchr(p, '.') + 1;
	dot = strchr(p, '.');
	*len = dot ? (int) (dot - p) : (int) strlen(p);
	return p;
}

static bool
is_leaf(const char *path, int depth)
{
	const char *p = path;
	int			i;

	for (i = 0; i < depth; i++)
		p = strchr(p, '.') + 1;
	return strchr(p, '.') == NULL;
}

/*
 * Order of paths: byte order, except that "." sorts before every other
 * byte, so that a path is directly followed by the paths nested in it
 * ("a", "a.b", "a-x"; plain strcmp would put "a-x" between the first two,
 * and "a" and "a.b" would not be found to conflict).
 */
static int
assign_cmp(const void *a, const void *b)
{
	const unsigned char *p = (const unsigned char *) ((const NgAssign *) a)->path;
	const unsigned char *q = (const unsigned char *) ((const NgAssign *) b)->path;

	while (*p != '\0' && *p == *q)
	{
		p++;
		q++;
	}
	if (*p == *q)
		return 0;
	if (*p == '\0' || *q == '\0')
		return *p == '\0' ? -1 : 1;
	if (*p == '.' || *q == '.')
		return *p == '.' ? -1 : 1;
	return *p < *q ? -1 : 1;
}

/*
 * Copy the group of assignments [lo, hi) that share the segment at depth
 * into out as field "seg": a value, a removal, or a subdocument built from
 * the old subdocument (oldsub, may be NULL).
 */
static void
apply_group(NgAssign *assigns, int lo, int hi, int depth,
			const char *seg, int seglen, bson_iter_t *oldsub, bson_t *out)
{
	bson_t		child;
	bson_iter_t sub;
	bool		has_sub = false;

	if (is_leaf(assigns[lo].path, depth))
	{
		if (hi - lo > 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_COLUMN_REFERENCE),
					 errmsg("field \"%s\" is assigned together with field \"%s\" nested in it",
							assigns[lo].path, assigns[lo + 1].path),
					 errdetail("MongoDB cannot set a field and a field inside it in one write."),
					 errhint("Assign only one of the columns mapped to them.")));
		if (!assigns[lo].unset)
			bson_append_value(out, seg, seglen, &assigns[lo].value);
		return;
	}

	if (oldsub != NULL && BSON_ITER_HOLDS_DOCUMENT(oldsub) &&
		bson_iter_recurse(oldsub, &sub))
		has_sub = true;

	/*
	 * Removals under a missing field or a value that is not a document
	 * change nothing, as for MongoDB's $unset.  (A $set there is refused
	 * by check_storable; an INSERT's base document has it replaced.)
	 */
	if (!has_sub)
	{
		int			i;
		bool		all_unset = true;

		for (i = lo; i < hi; i++)
			if (!assigns[i].unset)
				all_unset = false;
		if (all_unset)
		{
			if (oldsub != NULL)
				bson_append_iter(out, seg, seglen, oldsub);
			return;
		}
	}

	bson_append_document_begin(out, seg, seglen, &child);
	apply_level(has_sub ? &sub : NULL, assigns + lo, hi - lo, depth + 1, &child);
	bson_append_document_end(out, &child);
}

static void
apply_level(bson_iter_t *old, NgAssign *assigns, int n, int depth, bson_t *out)
{
	bool	   *used = palloc0(sizeof(bool) * Max(n, 1));
	int			i;

	if (old != NULL)
	{
		while (bson_iter_next(old))
		{
			const char *key = bson_iter_key(old);
			int			keylen = (int) bson_iter_key_len(old);
			int			lo = -1;
			int			hi;

			for (i = 0; i < n; i++)
			{
				int			len;
				const char *s = segment(assigns[i].path, depth, &len);

				if (len == keylen && memcmp(s, key, len) == 0)
				{
					lo = i;
					break;
				}
			}
			if (lo < 0)
			{
				bson_append_iter(out, key, keylen, old);
				continue;
			}
			for (hi = lo; hi < n; hi++)
			{
				int			len;
				const char *s = segment(assigns[hi].path, depth, &len);

				if (len != keylen || memcmp(s, key, len) != 0)
					break;
				used[hi] = true;
			}
			apply_group(assigns, lo, hi, depth, key, keylen, old, out);
		}
	}

	/* fields that did not exist yet, in path order */
	i = 0;
	while (i < n)
	{
		int			len;
		const char *s = segment(assigns[i].path, depth, &len);
		int			hi;

		if (used[i])
		{
			i++;
			continue;
		}
		for (hi = i + 1; hi < n; hi++)
		{
			int			len2;
			const char *s2 = segment(assigns[hi].path, depth, &len2);

			if (len2 != len || memcmp(s2, s, len) != 0)
				break;
		}
		{
			char	   *seg = pnstrdup(s, len);

			apply_group(assigns, i, hi, depth, seg, len, NULL, out);
		}
		i = hi;
	}
	pfree(used);
}

/*
 * ng_bson_apply_assignments: out = old with the assignments applied.
 * old may be NULL (a new document).
 */
static void
apply_assignments(const bson_t *old, NgAssign *assigns, int n, bson_t *out)
{
	bson_iter_t iter;

	if (n > 1)
		qsort(assigns, n, sizeof(NgAssign), assign_cmp);
	if (old != NULL && bson_iter_init(&iter, old))
		apply_level(&iter, assigns, n, 0, out);
	else
		apply_level(NULL, assigns, n, 0, out);
}

/* ------------------------------------------------------------------------
 * Planning
 * ------------------------------------------------------------------------
 */

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
 * overlay (scan.c's set_row_ref, xact.c's ng_xact_document_ref); the
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

/*
 * Writes need the applier, which lives in shared memory.
 */
static void
check_writable(NgTableOptions *opts)
{
	if (!ng_applier_available())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot write to foreign table \"%s\"", opts->relname),
				 errdetail("Writes through nutragenie are applied by a background worker, which needs the library preloaded."),
				 errhint("Add nutragenie to shared_preload_libraries and restart the server.")));
	if (IsInParallelMode())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("cannot write to foreign table \"%s\" in a parallel operation",
						opts->relname)));
}

/*
 * A document MongoDB would refuse for its size is refused at the
 * statement, not dead-lettered after COMMIT.
 */
static void
check_size(NgModifyState *ms, const bson_t *doc)
{
	if (doc->len > NG_MAX_DOCUMENT_SIZE)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("document of %u bytes is too large for collection \"%s.%s\"",
						doc->len, ms->opts->database, ms->opts->collection),
				 errdetail("MongoDB stores documents of at most %d bytes.",
						   NG_MAX_DOCUMENT_SIZE)));
}

/*
 * What MongoDB will certainly refuse (a field name with "." or a leading
 * "$", an empty one, nesting beyond its limit, an array _id: see
 * ng_bson_check_document) is refused at the statement, naming the column,
 * the key path and the document, rather than dead-lettered after COMMIT.
 * doc is the document to store, or (is_update) a {$set, $unset} update
 * of the document's version current (NULL if unknown): a $set through a
 * scalar or an array of it is refused too.
 */
static void
check_storable(NgModifyState *ms, const bson_t *doc, const bson_t *iddoc,
			   bool is_update, const bson_t *current)
{
	NgUnstorable bad;
	NgColumn   *col;

	if (is_update ? ng_bson_check_update(doc, current, &bad) :
		ng_bson_check_document(doc, &bad))
		return;

	col = column_for_field(ms->opts, bad.field);
	if (col != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot store key path \"%s\" of column \"%s\" of foreign table \"%s\" in MongoDB",
						bad.path, col->attname, ms->opts->relname),
				 errdetail("%s The document's _id is %s.", bad.reason,
						   id_text(iddoc))));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("cannot store key path \"%s\" of foreign table \"%s\" in MongoDB",
					bad.path, ms->opts->relname),
			 errdetail("%s The document's _id is %s.", bad.reason,
					   id_text(iddoc))));
}

/*
 * The column a field of the document comes from: the one mapped to the
 * longest prefix of the dotted path, else the $$ROOT column; NULL if none.
 */
static NgColumn *
column_for_field(NgTableOptions *opts, const char *field)
{
	NgColumn   *best = NULL;
	NgColumn   *root = NULL;
	size_t		bestlen = 0;
	int			i;

	for (i = 0; i < opts->natts; i++)
	{
		NgColumn   *col = &opts->columns[i];
		size_t		len;

		if (col->field == NULL)
			continue;
		if (col->is_root)
		{
			root = col;
			continue;
		}
		len = strlen(col->field);
		if (len > bestlen && strncmp(field, col->field, len) == 0 &&
			(field[len] == '\0' || field[len] == '.'))
		{
			best = col;
			bestlen = len;
		}
	}
	return best != NULL ? best : root;
}

/* ------------------------------------------------------------------------
 * Execution
 * ------------------------------------------------------------------------
 */

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

	check_writable(ms->opts);

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

	discard_inserts(ms);
	if (ms->coll != NULL)
	{
		mongoc_collection_destroy(ms->coll);
		ms->coll = NULL;
	}
	if (ms->conn != NULL)
	{
		ng_conn_release(ms->conn);
		ms->conn = NULL;
	}
}

static void
ensure_remote(NgModifyState *ms)
{
	if (ms->conn == NULL)
		ms->conn = ng_conn_get(ms->opts->serverid, ms->opts->userid);
	if (ms->coll == NULL)
		ms->coll = mongoc_client_get_collection(ng_conn_client(ms->conn),
												ms->opts->database,
												ms->opts->collection);
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
		(void) flush_inserts(ms, NULL);
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
 * {"_id": value} from a document.
 */
static void
document_id(const bson_t *doc, bson_t *iddoc)
{
	bson_iter_t iter;

	if (!bson_iter_init_find(&iter, doc, "_id"))
		elog(ERROR, "document has no _id");
	bson_append_iter(iddoc, "_id", 3, &iter);
}

/*
 * A short rendering of {"_id": v} for messages.
 */
static const char *
id_text(const bson_t *iddoc)
{
	bson_iter_t iter;

	if (!bson_iter_init_find(&iter, iddoc, "_id"))
		return "(none)";
	return ng_bson_value_to_text(bson_iter_value(&iter));
}

/*
 * The assignments a slot makes to the target columns.  Values are appended
 * to "values" (keys "0", "1", ...), which must outlive the assignments.  A
 * non-null $$ROOT column is returned separately as a document (copied into
 * root_storage).  NULLs become removals unless the column's null_mode is
 * 'null'; for an INSERT a removal is simply no field.
 */
static void
slot_assignments(NgModifyState *ms, TupleTableSlot *slot, bool for_insert,
				 bson_t *values, NgAssign **assigns, int *nassigns,
				 const bson_t **root_doc, bson_t *root_storage)
{
	ListCell   *lc;
	int			n = 0;
	NgAssign   *out = palloc0(sizeof(NgAssign) * Max(list_length(ms->target_attrs), 1));
	int			k = 0;
	bson_iter_t iter;

	*root_doc = NULL;
	slot_getallattrs(slot);
	if (ms->shared_fields != NIL)
		ng_options_check_shared_fields(ms->opts, ms->shared_fields, slot,
									   for_insert);

	foreach(lc, ms->target_attrs)
	{
		AttrNumber	attnum = intVal(lfirst(lc));
		NgColumn   *col = ng_options_column(ms->opts, attnum);
		Datum		value = slot->tts_values[attnum - 1];
		bool		isnull = slot->tts_isnull[attnum - 1];
		char		key[16];
		const char *keyp;

		if (col == NULL)
			continue;

		if (col->is_root)
		{
			bson_t		tmp;
			bson_iter_t it;
			bson_iter_t child;

			if (isnull)
				continue;
			bson_init(&tmp);
			if (!ng_datum_append_bson(&tmp, "v", 1, value, false, col->typid))
			{
				bson_destroy(&tmp);
				ng_column_report_unstorable(col, ms->opts->relname, value);
			}
			if (!bson_iter_init_find(&it, &tmp, "v") ||
				!BSON_ITER_HOLDS_DOCUMENT(&it))
			{
				bson_destroy(&tmp);
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("column \"%s\" of foreign table \"%s\" must hold a JSON object to be stored as the document",
								col->attname, ms->opts->relname)));
			}
			{
				const uint8_t *data;
				uint32_t	len;
				bson_t		sub;

				bson_iter_document(&it, &len, &data);
				bson_init_static(&sub, data, len);
				bson_copy_to(&sub, root_storage);
			}
			(void) child;
			bson_destroy(&tmp);
			*root_doc = root_storage;
			continue;
		}

		if (isnull && col->null_mode == NG_NULL_UNSET)
		{
			if (for_insert)
				continue;
			out[n].path = col->field;
			out[n].unset = true;
			n++;
			continue;
		}

		(void) bson_uint32_to_string(k++, &keyp, key, sizeof(key));
		if (!ng_column_append_bson(values, keyp, col, value, isnull))
			ng_column_report_unstorable(col, ms->opts->relname, value);
		out[n].path = col->field;
		out[n].unset = false;
		n++;
	}

	/* point the assignments at their values, now that "values" is final */
	k = 0;
	if (bson_iter_init(&iter, values))
	{
		int			i;

		for (i = 0; i < n; i++)
		{
			if (out[i].unset)
				continue;
			if (!bson_iter_next(&iter))
				elog(ERROR, "lost a value while building a document");
			out[i].value = *bson_iter_value(&iter);
		}
	}

	*assigns = out;
	*nassigns = n;
}

/*
 * Build the document an INSERT stores, with its _id: the $$ROOT value (if
 * any) with the other columns applied, the _id column first.  A missing
 * _id gets a new ObjectId, written back into the slot when the column can
 * hold it.  Returns whether the _id was generated here.
 */
static bool
new_insert_document(NgModifyState *ms, TupleTableSlot *slot, bson_t *doc)
{
	bson_t		values;
	bson_t		root_storage;
	bson_t		body;
	const bson_t *root = NULL;
	NgAssign   *assigns;
	int			n;
	bson_iter_t iter;
	bool		have_id = false;

	bson_init(&values);
	bson_init(&root_storage);
	bson_init(&body);
	PG_TRY();
	{
		slot_assignments(ms, slot, true, &values, &assigns, &n, &root,
						 &root_storage);
		apply_assignments(root, assigns, n, &body);

		/* _id first, as MongoDB stores it */
		if (bson_iter_init_find(&iter, &body, "_id") &&
			!BSON_ITER_HOLDS_NULL(&iter))
		{
			bson_append_iter(doc, "_id", 3, &iter);
			have_id = true;
		}
		else
		{
			bson_oid_t	oid;
			NgColumn   *idcol = ms->id_attnum ?
				ng_options_column(ms->opts, ms->id_attnum) : NULL;

			bson_oid_init(&oid, NULL);
			BSON_APPEND_OID(doc, "_id", &oid);
			if (idcol != NULL)
			{
				int			i = ms->id_attnum - 1;

				/*
				 * The value must last as long as the slot's other values
				 * (RETURNING, AFTER triggers): the executor's per-row
				 * memory, not temp_cxt.
				 */
				if (idcol->typid == ng_objectid_typoid())
				{
					NgObjectId *o = MemoryContextAlloc(ms->tuple_cxt,
													   sizeof(NgObjectId));

					memcpy(o->data, oid.bytes, NG_OBJECTID_LEN);
					slot->tts_values[i] = NgObjectIdPGetDatum(o);
					slot->tts_isnull[i] = false;
				}
				else if (getBaseType(idcol->typid) == TEXTOID ||
						 getBaseType(idcol->typid) == VARCHAROID)
				{
					char		hex[25];
					MemoryContext cxt = MemoryContextSwitchTo(ms->tuple_cxt);

					bson_oid_to_string(&oid, hex);
					slot->tts_values[i] = CStringGetTextDatum(hex);
					slot->tts_isnull[i] = false;
					MemoryContextSwitchTo(cxt);
				}
				else
					ereport(ERROR,
							(errcode(ERRCODE_NOT_NULL_VIOLATION),
							 errmsg("column \"%s\" of foreign table \"%s\" needs a value",
									idcol->attname, ms->opts->relname),
							 errdetail("A new _id is generated only for objectid and text columns.")));
			}
		}

		if (bson_iter_init(&iter, &body))
		{
			while (bson_iter_next(&iter))
			{
				if (strcmp(bson_iter_key(&iter), "_id") == 0)
					continue;
				bson_append_iter(doc, bson_iter_key(&iter),
								 (int) bson_iter_key_len(&iter), &iter);
			}
		}
	}
	PG_FINALLY();
	{
		bson_destroy(&values);
		bson_destroy(&root_storage);
		bson_destroy(&body);
	}
	PG_END_TRY();

	return !have_id;
}

/*
 * Which of the n documents {"_id": v} exist in MongoDB: one find, with
 * {"_id": v} for one scalar _id (servers such as FerretDB answer that
 * from their _id index far faster than an $in) and $in otherwise.  An _id
 * that is a document, an array or a regex keeps $in, where it means
 * equality and not an operator expression or a pattern.
 */
static void
existing_ids(NgModifyState *ms, bson_t **ids, int n, bool *exists)
{
	bson_t		filter;
	bson_t		opts;
	bson_t		in;
	bson_t		arr;
	bson_t		proj;
	bson_iter_t one;
	mongoc_cursor_t *cursor;
	const bson_t *doc;
	bson_error_t error;
	int			i;
	bool		failed;

	memset(exists, 0, sizeof(bool) * n);
	ensure_remote(ms);

	bson_init(&filter);
	if (n == 1 && bson_iter_init_find(&one, ids[0], "_id") &&
		!BSON_ITER_HOLDS_DOCUMENT(&one) && !BSON_ITER_HOLDS_ARRAY(&one) &&
		!BSON_ITER_HOLDS_REGEX(&one))
		bson_append_iter(&filter, "_id", 3, &one);
	else
	{
		bson_append_document_begin(&filter, "_id", 3, &in);
		bson_append_array_unsafe_begin(&in, "$in", 3, &arr);
		for (i = 0; i < n; i++)
		{
			bson_iter_t it;
			char		key[16];
			const char *keyp;

			bson_uint32_to_string(i, &keyp, key, sizeof(key));
			if (bson_iter_init_find(&it, ids[i], "_id"))
				bson_append_iter(&arr, keyp, -1, &it);
		}
		bson_append_array_end(&in, &arr);
		bson_append_document_end(&filter, &in);
	}

	bson_init(&opts);
	bson_append_document_begin(&opts, "projection", -1, &proj);
	BSON_APPEND_INT32(&proj, "_id", 1);
	bson_append_document_end(&opts, &proj);

	cursor = mongoc_collection_find_with_opts(ms->coll, &filter, &opts, NULL);
	bson_destroy(&filter);
	bson_destroy(&opts);

	while (mongoc_cursor_next(cursor, &doc))
	{
		bson_t		found;

		bson_init(&found);
		document_id(doc, &found);
		for (i = 0; i < n; i++)
		{
			if (ids[i]->len == found.len &&
				memcmp(bson_get_data(ids[i]), bson_get_data(&found), found.len) == 0)
				exists[i] = true;
		}
		bson_destroy(&found);
	}
	failed = mongoc_cursor_error(cursor, &error);
	mongoc_cursor_destroy(cursor);
	if (failed)
		ng_conn_report_error(ms->conn, &error,
							 psprintf("check for existing documents in collection \"%s.%s\"",
									  ms->opts->database, ms->opts->collection));
}

/*
 * The outbox statements of this backend, prepared on first use.
 */
static SPIPlanPtr outbox_insert_plan = NULL;
static SPIPlanPtr outbox_queued_plan = NULL;

/*
 * Run an outbox statement through ng_internal_sql_execute (as the owner of
 * the outbox, which users cannot write directly, with a pinned
 * search_path).  Returns the int4 of the first row when returns_count.
 */
static int
run_outbox_plan(SPIPlanPtr *planp, const char *sql, int nargs, Oid *argtypes,
				Datum *values, bool returns_count)
{
	int			ret;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/*
	 * Not read-only, so that READ COMMITTED takes a new snapshot: a count of
	 * queued operations must see the deletions the applier committed while
	 * this statement waited for a document lock.
	 */
	(void) ng_internal_sql_execute(planp, sql, nargs, argtypes, values, NULL,
								   false);
	if (returns_count && SPI_processed > 0)
	{
		bool		isnull;

		ret = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
										  SPI_tuptable->tupdesc, 1, &isnull));
	}
	else
		ret = 0;
	SPI_finish();
	return ret;
}

static Datum
bson_array_datum(bson_t **docs, int n)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(n, 1));
	int			dims[1] = {n};
	int			lbs[1] = {1};
	int			i;

	for (i = 0; i < n; i++)
	{
		if (docs[i] == NULL)
		{
			nulls[i] = true;
			elems[i] = (Datum) 0;
			continue;
		}
		nulls[i] = false;
		elems[i] = PointerGetDatum(cstring_to_text_with_len((const char *) bson_get_data(docs[i]),
															docs[i]->len));
		SET_VARSIZE(DatumGetPointer(elems[i]), docs[i]->len + VARHDRSZ);
	}
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs,
											  BYTEAOID, -1, false, TYPALIGN_INT));
}

/*
 * Refuse documents that another transaction changed and whose change is
 * still queued: MongoDB's copy of them is stale.  ids are {"_id": v}
 * documents of the table's collection.
 */
void
ng_outbox_check_queued(NgTableOptions *opts, bson_t **ids, int n)
{
	Oid			argtypes[4] = {OIDOID, TEXTOID, TEXTOID, BYTEAARRAYOID};
	Datum		values[4];
	int			count;

	values[0] = ObjectIdGetDatum(opts->serverid);
	values[1] = CStringGetTextDatum(opts->database);
	values[2] = CStringGetTextDatum(opts->collection);
	values[3] = bson_array_datum(ids, n);
	count = run_outbox_plan(&outbox_queued_plan,
							"SELECT pg_catalog.count(*)::pg_catalog.int4"
							" FROM " NG_SCHEMA_NAME ".outbox"
							" WHERE serverid OPERATOR(pg_catalog.=) $1"
							" AND database OPERATOR(pg_catalog.=) $2"
							" AND collection OPERATOR(pg_catalog.=) $3"
							" AND doc_id OPERATOR(pg_catalog.=) ANY ($4)"
							" AND xid OPERATOR(pg_catalog.<>) pg_catalog.pg_current_xact_id()",
							4, argtypes, values, true);
	if (count > 0)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not serialize access to a document of collection \"%s.%s\"",
						opts->database, opts->collection),
				 errdetail("Changes committed by another transaction have not been applied to MongoDB yet."),
				 errhint("Retry the transaction once MongoDB is reachable; see nutragenie_fdw.write_queue.")));
}

/*
 * Put n operations into the outbox, in order.
 */
static void
outbox_append(NgModifyState *ms, char op, bson_t **ids, bson_t **bodies,
			  int n)
{
	Oid			argtypes[7] = {OIDOID, OIDOID, TEXTOID, TEXTOID, CHAROID,
	BYTEAARRAYOID, BYTEAARRAYOID};
	Datum		values[7];
	Oid			userid = OidIsValid(ms->opts->userid) ? ms->opts->userid : GetUserId();

	values[0] = ObjectIdGetDatum(ms->opts->serverid);
	values[1] = ObjectIdGetDatum(userid);
	values[2] = CStringGetTextDatum(ms->opts->database);
	values[3] = CStringGetTextDatum(ms->opts->collection);
	values[4] = CharGetDatum(op);
	values[5] = bson_array_datum(ids, n);
	values[6] = bson_array_datum(bodies, n);
	(void) run_outbox_plan(&outbox_insert_plan,
						   "INSERT INTO " NG_SCHEMA_NAME ".outbox"
						   " (serverid, userid, database, collection, op, doc_id, body)"
						   " SELECT $1, $2, $3, $4, $5, i.id, i.body"
						   " FROM ROWS FROM (pg_catalog.unnest($6::pg_catalog.bytea[]),"
						   " pg_catalog.unnest($7::pg_catalog.bytea[]))"
						   " WITH ORDINALITY AS i(id, body, n)"
						   " ORDER BY i.n",
						   7, argtypes, values, false);
	ng_xact_note_outbox_write();
}

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
 * checked by flush_inserts, for the whole batch at once.  Runs in the
 * caller's context (temp_cxt); the row's documents belong to ms->rows from
 * the moment they exist, so an error leaves them to release_modify.
 */
static void
prepare_insert(NgModifyState *ms, TupleTableSlot *slot)
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

	generated = new_insert_document(ms, slot, row->doc);
	check_size(ms, row->doc);
	document_id(row->doc, row->id);
	check_storable(ms, row->doc, row->id, false, NULL);

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
static void
discard_inserts(NgModifyState *ms)
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
static int
flush_inserts(NgModifyState *ms, TupleTableSlot **slots)
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
		 * A buffered COPY reports a row by its own line: COPY's context
		 * names the line being read, a later one (PostgreSQL's own COPY
		 * batches do the same).
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
			existing_ids(ms, check, nchecks, found);
			for (i = 0; i < nchecks; i++)
				rows[check_at[i]].exists = found[i];
		}

		/*
		 * Duplicates: rows whose _id exists, and every row but the first of
		 * those sharing an _id within the batch.  Sorting row numbers by
		 * _id (then position) finds the latter in O(n log n).
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
								id_text(rows[i].id), ms->opts->database,
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
			outbox_append(ms, 'i', qids, qdocs, kept);
		error_context_stack = save_context;
	}
	PG_FINALLY();
	{
		discard_inserts(ms);
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
static int
insert_batch(NgModifyState *ms, TupleTableSlot **slots, int n)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(ms->temp_cxt);
	int			i;

	Assert(ms->nrows == 0);
	reserve_rows(ms, n);
	for (i = 0; i < n; i++)
		prepare_insert(ms, slots[i]);
	MemoryContextSwitchTo(oldcxt);
	return flush_inserts(ms, slots);
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
		return insert_batch(ms, slots, 1) == 0 ? NULL : slot;

	oldcxt = MemoryContextSwitchTo(ms->temp_cxt);
	prepare_insert(ms, slot);
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
		(void) flush_inserts(ms, NULL);
	return slot;
}

TupleTableSlot **
ngExecForeignBatchInsert(EState *estate, ResultRelInfo *rinfo,
						 TupleTableSlot **slots, TupleTableSlot **planSlots,
						 int *numSlots)
{
	NgModifyState *ms = (NgModifyState *) rinfo->ri_FdwState;

	*numSlots = insert_batch(ms, slots, *numSlots);
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

		slot_assignments(ms, slot, false, &values, &assigns, &n, &root,
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
			apply_assignments(root, assigns, n, &body);
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
			apply_assignments(have_old ? &old : NULL, assigns, n, &newdoc);
			op = 'u';
			bodies[0] = &update;
		}

		check_size(ms, &newdoc);
		if (bodies[0] == &newdoc)
			check_storable(ms, &newdoc, &iddoc, false, NULL);
		else
			check_storable(ms, &update, &iddoc, true,
						   have_old ? &old : NULL);
		if (bodies[0] == &newdoc || !bson_empty(&update))
		{
			outbox_append(ms, op, ids, bodies, 1);
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
		outbox_append(ms, 'd', ids, bodies, 1);
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
