/*-------------------------------------------------------------------------
 *
 * row_reader.c
 *		  Turns one BSON document into the values of a foreign table's columns.
 *
 * A reader is prepared once per table and list of columns: the columns'
 * field paths become a prefix tree of hashed steps and each column's
 * converter is set up, so that a document costs one pass over its top-level
 * keys (stopping once every wanted field is seen) with one hash probe per
 * key, and one walk of each sub-document that dotted paths descend into,
 * however many columns read below it.  A column whose field is
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

/*
 * What a column's path reached in the current document (see PathNode).
 */
typedef enum NgPathState
{
	PATH_NULL = 0,				/* missing, or under a scalar */
	PATH_FOUND,					/* NgDocColumn.iter holds the value */
	PATH_ARRAY					/* the path crosses an array */
} NgPathState;

/* A column the reader converts. */
typedef struct NgDocColumn
{
	NgColumn   *col;
	int			attidx;			/* attnum - 1 */
	bool		dotted;			/* the field path has a dot */
	NgConverter conv;
	/* for dotted paths, per document: what the walk found */
	NgPathState state;

	/*
	 * The iterator at the value (PATH_FOUND), as bytes: bson_iter_t asks for
	 * an alignment palloc does not give, so it is copied in and out.
	 */
	char		iter[sizeof(bson_iter_t)];
} NgDocColumn;

/*
 * One step of the column paths: the fields under a document that some
 * column path names, as a prefix tree prepared once per reader.  Children
 * are found by an open-addressing hash of the key (a document costs one
 * probe per key instead of one comparison per column), and all the dotted
 * columns under one field share a single walk of its sub-document.
 */
typedef struct PathNode
{
	const char *key;			/* this step's field name (not terminated) */
	int			keylen;
	uint32		seen;			/* document serial of the last visit */
	int		   *here;			/* columns whose path ends here */
	int			nhere;
	int		   *below;			/* columns whose path goes deeper */
	int			nbelow;
	int		   *group;			/* for top-level steps: here + below, in
								 * column order */
	int			ngroup;
	struct PathNode **slots;	/* hash of children; NULL: none */
	uint32		mask;
	int			nchildren;
} PathNode;

struct NgDocReader
{
	NgTableOptions *opts;
	int			width;			/* length of the values/isnull arrays */
	int			ncols;
	NgDocColumn *cols;
	int		   *roots;			/* $$ROOT columns */
	int			nroots;
	PathNode	tree;			/* the document itself */
	int			ntop;			/* top-level steps (tree.nchildren) */
	uint32		serial;			/* documents read */

	/* for the error context callback */
	const bson_t *doc;
	NgDocColumn *current;
};

static inline PathNode *path_lookup(const PathNode *node, const char *key,
									int keylen);
static PathNode *path_child(PathNode *node, const char *key, int keylen);
static void path_add_column(int **list, int *n, int colidx);
static void walk_subdocument(NgDocReader *reader, PathNode *node,
							 const bson_iter_t *iter);
static void mark_array(NgDocReader *reader, PathNode *node);
static inline uint32 key_hash(const char *key, int keylen);
static inline int iter_key_len(const bson_iter_t *iter);
static void convert_column(NgDocReader *reader, NgDocColumn *dc,
						   const bson_iter_t *iter, Datum *values,
						   bool *isnull);
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
	reader->roots = palloc0(sizeof(int) * Max(reader->ncols, 1));

	foreach(lc, attnums)
	{
		NgDocColumn *dc = &reader->cols[i++];
		NgColumn   *col = ng_options_column(opts, (AttrNumber) intVal(lfirst(lc)));
		PathNode   *node = &reader->tree;
		PathNode   *top = NULL;
		const char *seg;

		if (col == NULL)
			elog(ERROR, "attribute %d of foreign table \"%s\" is not a column",
				 intVal(lfirst(lc)), opts->relname);

		ng_document_check_readable(opts, col);

		dc->col = col;
		dc->attidx = positions != NIL ? intVal(list_nth(positions, i - 1))
			: col->attnum - 1;
		ng_converter_init(&dc->conv, col->typid, col->typmod,
						  col->mismatch, col->json_mode);

		if (col->is_root)
		{
			reader->roots[reader->nroots++] = i - 1;
			continue;
		}

		/* enter the path into the tree, one step per segment */
		dc->dotted = (strchr(col->field, '.') != NULL);
		seg = col->field;
		for (;;)
		{
			const char *dot = strchr(seg, '.');
			int			len = dot ? (int) (dot - seg) : (int) strlen(seg);

			node = path_child(node, seg, len);
			if (top == NULL)
			{
				/* the columns under a top-level field, in column order */
				top = node;
				path_add_column(&top->group, &top->ngroup, i - 1);
			}
			if (dot == NULL)
				break;
			path_add_column(&node->below, &node->nbelow, i - 1);
			seg = dot + 1;
		}
		path_add_column(&node->here, &node->nhere, i - 1);
	}
	reader->ntop = reader->tree.nchildren;

	return reader;
}

/*
 * path_lookup
 *		The child of node for key, or NULL.  Called for every key of every
 *		document: kept inline.
 */
static pg_attribute_always_inline PathNode *
path_lookup(const PathNode *node, const char *key, int keylen)
{
	uint32		h;
	PathNode   *child;

	if (node->slots == NULL)
		return NULL;
	h = key_hash(key, keylen) & node->mask;
	while ((child = node->slots[h]) != NULL)
	{
		if (child->keylen == keylen && memcmp(child->key, key, keylen) == 0)
			return child;
		h = (h + 1) & node->mask;
	}
	return NULL;
}

/*
 * path_child
 *		The child of node for key, added if missing (while preparing).
 */
static PathNode *
path_child(PathNode *node, const char *key, int keylen)
{
	uint32		h;
	PathNode   *child = path_lookup(node, key, keylen);

	if (child != NULL)
		return child;

	/* keep the table at most half full */
	if (node->slots == NULL || (node->nchildren + 1) * 2 > (int) node->mask + 1)
	{
		uint32		size = node->slots ? (node->mask + 1) * 2 : 8;
		PathNode  **old = node->slots;
		uint32		oldsize = node->slots ? node->mask + 1 : 0;
		uint32		j;

		node->slots = palloc0(sizeof(PathNode *) * size);
		node->mask = size - 1;
		for (j = 0; j < oldsize; j++)
		{
			if (old[j] == NULL)
				continue;
			h = key_hash(old[j]->key, old[j]->keylen) & node->mask;
			while (node->slots[h] != NULL)
				h = (h + 1) & node->mask;
			node->slots[h] = old[j];
		}
	}

	child = palloc0(sizeof(PathNode));
	child->key = key;
	child->keylen = keylen;
	h = key_hash(key, keylen) & node->mask;
	while (node->slots[h] != NULL)
		h = (h + 1) & node->mask;
	node->slots[h] = child;
	node->nchildren++;
	return child;
}

/*
 * path_add_column
 *		Append column colidx to one of a node's column lists.  Called once
 *		per column and step while preparing, so the list just grows by one.
 */
static void
path_add_column(int **list, int *n, int colidx)
{
	*list = *list ? repalloc(*list, sizeof(int) * (*n + 1))
		: palloc(sizeof(int));
	(*list)[(*n)++] = colidx;
}

/*
 * key_hash
 *		A cheap hash of a field name for the path tables: its length and its
 *		first and last bytes (the tables are small; a probe compares keys).
 */
static inline uint32
key_hash(const char *key, int keylen)
{
	uint32		h = (uint32) keylen * 0x9E3779B1;

	if (keylen > 0)
		h ^= (uint32) (unsigned char) key[0] * 0x85EBCA77 +
			(uint32) (unsigned char) key[keylen - 1] * 0xC2B2AE3D;
	return h ^ (h >> 15);
}

/* The current key of an iterator (valid after bson_iter_next). */
static inline int
iter_key_len(const bson_iter_t *iter)
{
	/* the key is NUL-terminated just before the value at d1 */
	return (int) (iter->d1 - iter->key - 1);
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
 *
 * Columns are converted when the walk reaches the first occurrence of their
 * top-level field, the columns under one field in column order, so errors
 * come in the order of the document's fields; the walk stops once every
 * wanted top-level field has been seen.
 */
void
ng_document_to_values(NgDocReader *reader, const bson_t *doc,
					  Datum *values, bool *isnull)
{
	ErrorContextCallback errcallback;
	bson_iter_t iter;
	int			remaining = reader->ntop;
	uint32		serial;
	int			i;

	memset(isnull, true, sizeof(bool) * reader->width);

	reader->doc = doc;
	reader->current = NULL;
	errcallback.callback = document_error_callback;
	errcallback.arg = reader;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	/* a new mark for the steps this document visits (never 0) */
	serial = ++reader->serial;
	if (unlikely(serial == 0))
		serial = ++reader->serial;

	for (i = 0; i < reader->nroots; i++)
	{
		NgDocColumn *dc = &reader->cols[reader->roots[i]];

		reader->current = dc;
		values[dc->attidx] = ng_bson_document_to_datum(&dc->conv, doc,
													   &isnull[dc->attidx]);
	}

	if (remaining > 0 && bson_iter_init(&iter, doc))
	{
		while (remaining > 0 && bson_iter_next(&iter))
		{
			PathNode   *node;

			node = path_lookup(&reader->tree, bson_iter_key_unsafe(&iter),
							   iter_key_len(&iter));
			if (node == NULL || node->seen == serial)
				continue;		/* not wanted, or a later duplicate */
			node->seen = serial;
			remaining--;

			if (node->nbelow > 0)
			{
				for (i = 0; i < node->nbelow; i++)
					reader->cols[node->below[i]].state = PATH_NULL;
				if (BSON_ITER_HOLDS_DOCUMENT(&iter))
					walk_subdocument(reader, node, &iter);
				else if (BSON_ITER_HOLDS_ARRAY(&iter))
					mark_array(reader, node);
			}

			/* several columns may read the same field, or paths under it */
			for (i = 0; i < node->ngroup; i++)
				convert_column(reader, &reader->cols[node->group[i]], &iter,
							   values, isnull);
		}
	}

	error_context_stack = errcallback.previous;
	reader->doc = NULL;
	reader->current = NULL;
}

/*
 * walk_subdocument
 *		Walk the sub-document at iter once for every column path below node,
 *		recording in each column what its path reaches: the first occurrence
 *		of each field counts, as a search for the field would find.
 */
static void
walk_subdocument(NgDocReader *reader, PathNode *node, const bson_iter_t *iter)
{
	bson_iter_t child;
	int			left = node->nchildren;
	uint32		serial = reader->serial;

	if (!bson_iter_recurse(iter, &child))
		return;

	while (left > 0 && bson_iter_next(&child))
	{
		PathNode   *next;
		int			i;

		next = path_lookup(node, bson_iter_key_unsafe(&child),
						   iter_key_len(&child));
		if (next == NULL || next->seen == serial)
			continue;
		next->seen = serial;
		left--;

		for (i = 0; i < next->nhere; i++)
		{
			NgDocColumn *dc = &reader->cols[next->here[i]];

			dc->state = PATH_FOUND;
			memcpy(dc->iter, &child, sizeof(bson_iter_t));
		}
		if (next->nbelow > 0)
		{
			if (BSON_ITER_HOLDS_DOCUMENT(&child))
				walk_subdocument(reader, next, &child);
			else if (BSON_ITER_HOLDS_ARRAY(&child))
				mark_array(reader, next);
		}
	}
}

/* The paths below node run into an array. */
static void
mark_array(NgDocReader *reader, PathNode *node)
{
	int			i;

	for (i = 0; i < node->nbelow; i++)
		reader->cols[node->below[i]].state = PATH_ARRAY;
}

/*
 * convert_column
 *		Convert one column of a top-level field: the field's own value at
 *		iter, or what the walk recorded for a dotted path.  A missing
 *		segment, or one under a scalar, is NULL; crossing an array is a
 *		mismatch.
 */
static void
convert_column(NgDocReader *reader, NgDocColumn *dc, const bson_iter_t *iter,
			   Datum *values, bool *isnull)
{
	reader->current = dc;
	if (!dc->dotted)
	{
		values[dc->attidx] = ng_bson_to_datum(&dc->conv, iter,
											  &isnull[dc->attidx]);
		return;
	}

	switch (dc->state)
	{
		case PATH_NULL:
			break;
		case PATH_FOUND:
			{
				bson_iter_t found;

				memcpy(&found, dc->iter, sizeof(bson_iter_t));
				values[dc->attidx] = ng_bson_to_datum(&dc->conv, &found,
													  &isnull[dc->attidx]);
				break;
			}
		case PATH_ARRAY:
			if (dc->col->mismatch == NG_MISMATCH_NULL)
				break;
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("field path \"%s\" crosses an array", dc->col->field),
					 errhint("Map the array to an array or jsonb column, or choose a path without arrays.")));
	}
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
