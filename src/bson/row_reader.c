/*-------------------------------------------------------------------------
 *
 * row_reader.c
 *		  Turns one BSON document into the values of a foreign table's columns.
 *
 * A reader is prepared once per table and list of columns: each column's
 * field path is split at its first dot and its converter set up, so that a
 * document costs one pass over its top-level keys, descending only into
 * the keys that some column path starts with.  A column whose field is
 * $$ROOT receives the whole document.  A missing field, a path that runs
 * into a scalar and BSON null all read as SQL NULL; a path that crosses an
 * array is a mismatch (MongoDB would match it element by element, and a
 * column holds one value), handled by the column's type_mismatch policy.
 *
 * These are the same rules scan.c applies to the rows of a foreign scan;
 * ANALYZE uses this file, and scan.c is meant to move onto it.  Conversion
 * errors carry a context line naming the column, the foreign table, the
 * field path and the document's _id.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/bson/row_reader.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "nodes/pg_list.h"
#include "utils/builtins.h"

#include <bson/bson.h>

#include "bson/bson_map.h"

/* A column the reader converts, with its path split for fast matching. */
typedef struct NgDocColumn
{
	NgColumn   *col;
	int			attidx;			/* attnum - 1 */
	const char *first;			/* first path segment */
	int			firstlen;
	const char *rest;			/* the path after the first dot, or NULL */
	NgConverter conv;
} NgDocColumn;

struct NgDocReader
{
	NgTableOptions *opts;
	int			width;			/* length of the values/isnull arrays */
	int			ncols;
	NgDocColumn *cols;
	bool	   *found;			/* per column, for the current document */

	/* for the error context callback */
	const bson_t *doc;
	NgDocColumn *current;
};

static void convert_path(NgDocColumn *dc, const bson_iter_t *iter,
						 Datum *value, bool *isnull);
static void document_error_callback(void *arg);

/*
 * ng_document_check_readable
 *		Raise the error for a column whose type no BSON value converts to.
 *		Checked when planning a scan and again for every reader (ANALYZE and
 *		DELETE ... RETURNING read without a scan plan).
 */
void
ng_document_check_readable(NgTableOptions *opts, NgColumn *col)
{
	if (!ng_type_is_supported(col->typid))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("column \"%s\" of foreign table \"%s\" has type %s, which cannot be read from BSON",
						col->attname, opts->relname,
						format_type_be(col->typid)),
				 errhint("Use a json or jsonb column for this field.")));
}

/*
 * ng_document_reader_create
 *		Prepare to convert documents of the table described by opts into the
 *		columns whose attribute numbers are in attnums (a List of Integer).
 *		positions (a List of Integer, or NIL) gives each column's index in
 *		the output arrays, which are width long (0: opts->natts, indexed by
 *		attnum - 1).
 *
 * The reader and its converters are allocated in CurrentMemoryContext,
 * which must outlive every call of ng_document_to_values with it.  Raises
 * ERRCODE_FDW_INVALID_DATA_TYPE for a column whose type cannot be read from
 * BSON, and elog(ERROR) for an attnum that is not a live column.
 */
NgDocReader *
ng_document_reader_create(NgTableOptions *opts, List *attnums,
						  List *positions, int width)
{
	NgDocReader *reader = palloc0(sizeof(NgDocReader));
	ListCell   *lc;
	int			i = 0;

	reader->opts = opts;
	reader->width = width > 0 ? width : opts->natts;
	reader->ncols = list_length(attnums);
	reader->cols = palloc0(sizeof(NgDocColumn) * Max(reader->ncols, 1));
	reader->found = palloc0(sizeof(bool) * Max(reader->ncols, 1));

	foreach(lc, attnums)
	{
		NgDocColumn *dc = &reader->cols[i++];
		NgColumn   *col = ng_options_column(opts, (AttrNumber) intVal(lfirst(lc)));
		const char *dot;

		if (col == NULL)
			elog(ERROR, "attribute %d of foreign table \"%s\" is not a column",
				 intVal(lfirst(lc)), opts->relname);

		ng_document_check_readable(opts, col);

		dc->col = col;
		dc->attidx = positions != NIL ? intVal(list_nth(positions, i - 1))
			: col->attnum - 1;
		dc->first = col->field;
		dot = strchr(col->field, '.');
		dc->firstlen = dot ? (int) (dot - col->field) : (int) strlen(col->field);
		dc->rest = dot ? dot + 1 : NULL;
		ng_converter_init(&dc->conv, col->typid, col->typmod,
						  col->mismatch, col->json_mode);
	}

	return reader;
}

/*
 * ng_document_to_values
 *		Fill values[] and isnull[] (as laid out at the reader's creation)
 *		from one document.
 *
 * Columns not in the reader's list are set to NULL.  Converted values are
 * allocated in CurrentMemoryContext and share nothing with doc, which the
 * caller may free or reuse at once.  Raises on a mismatch under the
 * "error" policy, with the conversion error context.
 */
void
ng_document_to_values(NgDocReader *reader, const bson_t *doc,
					  Datum *values, bool *isnull)
{
	ErrorContextCallback errcallback;
	bson_iter_t iter;
	int			remaining = 0;
	int			i;

	memset(isnull, true, sizeof(bool) * reader->width);

	reader->doc = doc;
	reader->current = NULL;
	errcallback.callback = document_error_callback;
	errcallback.arg = reader;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	for (i = 0; i < reader->ncols; i++)
	{
		NgDocColumn *dc = &reader->cols[i];

		if (dc->col->is_root)
		{
			reader->current = dc;
			values[dc->attidx] = ng_bson_document_to_datum(&dc->conv, doc,
														   &isnull[dc->attidx]);
			reader->found[i] = true;
		}
		else
		{
			reader->found[i] = false;
			remaining++;
		}
	}

	if (remaining > 0 && bson_iter_init(&iter, doc))
	{
		while (remaining > 0 && bson_iter_next(&iter))
		{
			const char *key = bson_iter_key(&iter);
			int			keylen = (int) bson_iter_key_len(&iter);

			/* several columns may read the same field, or paths under it */
			for (i = 0; i < reader->ncols; i++)
			{
				NgDocColumn *dc = &reader->cols[i];

				if (reader->found[i] || dc->firstlen != keylen ||
					memcmp(dc->first, key, keylen) != 0)
					continue;

				reader->found[i] = true;
				remaining--;
				reader->current = dc;
				if (dc->rest == NULL)
					values[dc->attidx] = ng_bson_to_datum(&dc->conv, &iter,
														  &isnull[dc->attidx]);
				else
					convert_path(dc, &iter, &values[dc->attidx],
								 &isnull[dc->attidx]);
			}
		}
	}

	error_context_stack = errcallback.previous;
	reader->doc = NULL;
	reader->current = NULL;
}

/*
 * Follow the rest of a column's dotted path from the value at iter and
 * convert what it reaches.  A missing segment, or one under a scalar, is
 * NULL; crossing an array is a mismatch.
 */
static void
convert_path(NgDocColumn *dc, const bson_iter_t *iter, Datum *value,
			 bool *isnull)
{
	bson_iter_t cur = *iter;
	const char *seg = dc->rest;

	for (;;)
	{
		const char *dot = strchr(seg, '.');
		int			len = dot ? (int) (dot - seg) : (int) strlen(seg);
		bson_iter_t child;

		if (BSON_ITER_HOLDS_ARRAY(&cur))
		{
			*isnull = true;
			if (dc->col->mismatch == NG_MISMATCH_NULL)
				return;
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("field path \"%s\" crosses an array", dc->col->field),
					 errhint("Map the array to an array or jsonb column, or choose a path without arrays.")));
		}
		if (!BSON_ITER_HOLDS_DOCUMENT(&cur) || !bson_iter_recurse(&cur, &child) ||
			!bson_iter_find_w_len(&child, seg, len))
		{
			*isnull = true;
			return;
		}
		cur = child;
		if (dot == NULL)
			break;
		seg = dot + 1;
	}

	*value = ng_bson_to_datum(&dc->conv, &cur, isnull);
}

/*
 * Error context for conversions: which column, table, field and document.
 */
static void
document_error_callback(void *arg)
{
	NgDocReader *reader = (NgDocReader *) arg;
	bson_iter_t iter;
	char	   *id = NULL;

	if (reader->doc == NULL || reader->current == NULL)
		return;

	if (bson_iter_init_find(&iter, reader->doc, "_id"))
		id = ng_bson_value_to_text(bson_iter_value(&iter));

	errcontext("column \"%s\" of foreign table \"%s\", field \"%s\", document _id %s",
			   reader->current->col->attname, reader->opts->relname,
			   reader->current->col->field, id ? id : "(none)");
}
