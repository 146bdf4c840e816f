/*-------------------------------------------------------------------------
 *
 * modify_document.c
 *		  The documents a write sends: a row's fields as BSON, and the checks
 *		  that MongoDB will store them.
 *
 * An INSERT becomes a whole document (_id first; a new ObjectId when the
 * row has none), an UPDATE the assignments of its target columns
 * (ng_modify_slot_assignments), which patch.c applies to the current document.
 * What MongoDB would certainly refuse (a size over 16 MB, names it cannot
 * store, an _id that changes) is refused at the statement, naming the
 * table, the column or field, and the _id.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/write/modify_document.c
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

static NgColumn *column_for_field(NgTableOptions *opts, const char *field);

/*
 * Writes need the applier, which lives in shared memory.
 */
void
ng_modify_check_writable(NgTableOptions *opts)
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
void
ng_modify_check_size(NgModifyState *ms, const bson_t *doc)
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
void
ng_modify_check_storable(NgModifyState *ms, const bson_t *doc, const bson_t *iddoc,
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
						   ng_modify_id_text(iddoc))));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("cannot store key path \"%s\" of foreign table \"%s\" in MongoDB",
					bad.path, ms->opts->relname),
			 errdetail("%s The document's _id is %s.", bad.reason,
					   ng_modify_id_text(iddoc))));
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

/*
 * {"_id": value} from a document.
 */
void
ng_modify_document_id(const bson_t *doc, bson_t *iddoc)
{
	bson_iter_t iter;

	if (!bson_iter_init_find(&iter, doc, "_id"))
		elog(ERROR, "document has no _id");
	bson_append_iter(iddoc, "_id", 3, &iter);
}

/*
 * A short rendering of {"_id": v} for messages.
 */
const char *
ng_modify_id_text(const bson_t *iddoc)
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
void
ng_modify_slot_assignments(NgModifyState *ms, TupleTableSlot *slot,
						   bool for_insert, bson_t *values, NgAssign **assigns,
						   int *nassigns, const bson_t **root_doc,
						   bson_t *root_storage)
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
bool
ng_modify_new_insert_document(NgModifyState *ms, TupleTableSlot *slot,
							  bson_t *doc)
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
		ng_modify_slot_assignments(ms, slot, true, &values, &assigns, &n, &root,
								   &root_storage);
		ng_patch_apply(root, assigns, n, &body);

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
				 * (RETURNING, AFTER triggers): the executor's per-row memory,
				 * not temp_cxt.
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
