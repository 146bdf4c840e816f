/*-------------------------------------------------------------------------
 *
 * modify_int.h
 *		  What the files of the FDW modify path share: the state of one
 *		  ModifyTable's foreign-table entry, and the rows and documents
 *		  between them.
 *
 * modify.c holds the callbacks; modify_document.c builds and checks
 * documents; insert_batch.c batches INSERT and COPY rows; outbox.c queues
 * operations; patch.c applies field assignments to a document.  Nothing
 * outside src/write/ includes this header.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/write/modify_int.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef NG_MODIFY_INT_H
#define NG_MODIFY_INT_H

#include "commands/copy.h"
#if PG_VERSION_NUM < 160000
#include "commands/copyfrom_internal.h"
#endif

#include "write/write_int.h"


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

/* MongoDB's document size limit (maxBsonObjectSize). */
#define NG_MAX_DOCUMENT_SIZE (16 * 1024 * 1024)

/* in modify.c */
extern void ng_modify_ensure_remote(NgModifyState *ms);

/* in modify_document.c */
extern void ng_modify_check_size(NgModifyState *ms, const bson_t *doc);
extern void ng_modify_check_writable(NgTableOptions *opts);
extern void ng_modify_slot_assignments(NgModifyState *ms,
									   TupleTableSlot *slot, bool for_insert,
									   bson_t *values, NgAssign **assigns,
									   int *nassigns, const bson_t **root_doc,
									   bson_t *root_storage);
extern void ng_modify_check_storable(NgModifyState *ms, const bson_t *doc,
									 const bson_t *iddoc, bool is_update,
									 const bson_t *current);
extern void ng_modify_document_id(const bson_t *doc, bson_t *iddoc);
extern const char *ng_modify_id_text(const bson_t *iddoc);
extern bool ng_modify_new_insert_document(NgModifyState *ms,
										  TupleTableSlot *slot,
										  bson_t *doc);

/* in outbox.c */
extern void ng_modify_outbox_append(NgModifyState *ms, char op, bson_t **ids,
									bson_t **bodies, int n);
extern void ng_modify_existing_ids(NgModifyState *ms, bson_t **ids, int n,
								   bool *exists);

/* in insert_batch.c */
extern int	ng_modify_insert_batch(NgModifyState *ms, TupleTableSlot **slots,
								   int n);
extern void ng_modify_prepare_insert(NgModifyState *ms, TupleTableSlot *slot);
extern void ng_modify_discard_inserts(NgModifyState *ms);
extern int	ng_modify_flush_inserts(NgModifyState *ms, TupleTableSlot **slots);

/* in patch.c */
extern void ng_patch_apply(const bson_t *old, NgAssign *assigns, int n,
						   bson_t *out);

#endif							/* NG_MODIFY_INT_H */
