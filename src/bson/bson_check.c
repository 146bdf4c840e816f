/*-------------------------------------------------------------------------
 *
 * bson_check.c
 *		  Whether MongoDB will store a document, or apply an update, that a
 *		  write built.
 *
 * Writes call ng_bson_check_document and ng_bson_check_update before
 * anything is queued (field names, nesting, _id type), so that what the
 * server will certainly refuse is refused at the statement.  Never raises
 * for a document's content; the reasons are palloc'd in
 * CurrentMemoryContext.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/bson/bson_check.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/base64.h"
#include "common/int.h"
#include "common/shortest_dec.h"
#include "datatype/timestamp.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/syscache.h"
#include "utils/uuid.h"

#include <bson/bson.h>

#include "bson/bson_int.h"

/* ----------------------------------------------------------------
 *		What MongoDB will store
 * ----------------------------------------------------------------
 */

/*
 * A write is queued at the statement and sent after COMMIT; what the server
 * will certainly refuse must be refused at the statement, or PostgreSQL
 * keeps its side of the transaction while MongoDB never gets the document.
 * The rules below are the intersection of what the supported servers store
 * (MongoDB 4.4 to 8.x, FerretDB, Amazon DocumentDB), so that a document
 * that passes is refused only for reasons only the server knows (a unique
 * secondary index, a validator):
 *
 * - Field names must not be empty, start with "$" or contain ".".  MongoDB
 *   5.0 and later store such names in inserted documents, but its update
 *   operators cannot address them (a "$set" path is split at "." and a
 *   "$"-prefixed segment is an operator), libmongoc refuses empty keys in
 *   inserts and replacements, and FerretDB and DocumentDB refuse all three.
 *   Embedded NUL bytes cannot reach us: BSON field names are C strings, and
 *   neither text nor jsonb holds a NUL.
 * - Nesting: the document itself is level 1 and each non-empty embedded
 *   document or array adds a level (empty ones do not count); MongoDB
 *   refuses to store more than NG_MAX_DOCUMENT_DEPTH levels (with the
 *   default maxBSONDepth; its manual promises 100).
 * - The top-level _id must not be an array, a regular expression or
 *   undefined.
 * - Size (16 MB) is checked by the callers on the final document.
 *
 * Array elements are not checked for names (their keys are indexes).
 */

static bool check_level(bson_iter_t *iter, bool is_array, int level,
						StringInfo field, StringInfo path, NgUnstorable *bad);
static bool check_name(const char *key, int keylen, NgUnstorable *bad);
static bool check_update_path(const bson_t *current, const char *key,
							  bool is_set, NgUnstorable *bad);
static bool check_value(bson_iter_t *iter, int level, StringInfo field,
						StringInfo path, NgUnstorable *bad);
static void unstorable(NgUnstorable *bad, StringInfo field, StringInfo path,
					   char *reason);
static const char *bson_type_alias(bson_type_t type);

/*
 * ng_bson_check_document
 *		Whether MongoDB will store doc as a whole document (an insert or a
 *		replacement); if not, *bad says where and why (palloc'd in
 *		CurrentMemoryContext) and false is returned.  Never raises for the
 *		document's content.
 */
bool
ng_bson_check_document(const bson_t *doc, NgUnstorable *bad)
{
	bson_iter_t iter;
	StringInfoData field;
	StringInfoData path;

	if (bson_iter_init_find(&iter, doc, "_id"))
	{
		const char *reason = NULL;

		switch (bson_iter_type(&iter))
		{
			case BSON_TYPE_ARRAY:
				reason = "The _id of a document cannot be an array.";
				break;
			case BSON_TYPE_REGEX:
				reason = "The _id of a document cannot be a regular expression.";
				break;
			case BSON_TYPE_UNDEFINED:
				reason = "The _id of a document cannot be undefined.";
				break;
			default:
				break;
		}
		if (reason != NULL)
		{
			initStringInfo(&field);
			initStringInfo(&path);
			appendStringInfoString(&field, "_id");
			appendStringInfoString(&path, "_id");
			unstorable(bad, &field, &path, pstrdup(reason));
			return false;
		}
	}

	if (!bson_iter_init(&iter, doc))
		elog(ERROR, "invalid BSON document");
	initStringInfo(&field);
	initStringInfo(&path);
	return check_level(&iter, false, 1, &field, &path, bad);
}

/*
 * ng_bson_check_update
 *		Whether MongoDB will apply an update document of the form
 *		{"$set": {path: value, ...}, "$unset": {path: "", ...}} to the
 *		document "current" (the version this transaction last read or wrote;
 *		NULL if unknown): every path segment must be a name MongoDB accepts,
 *		the levels the path creates plus those of the value must stay within
 *		the nesting limit, and a $set path must not go through a value that
 *		is not an embedded document, nor an $unset path through an array
 *		(check_update_path).  Returns false with
 *		*bad filled in otherwise, as ng_bson_check_document.
 */
bool
ng_bson_check_update(const bson_t *update, const bson_t *current,
					 NgUnstorable *bad)
{
	bson_iter_t op;

	if (!bson_iter_init(&op, update))
		elog(ERROR, "invalid BSON document");
	while (bson_iter_next(&op))
	{
		bson_iter_t iter;
		bool		is_set = strcmp(bson_iter_key(&op), "$set") == 0;

		if (!BSON_ITER_HOLDS_DOCUMENT(&op) || !bson_iter_recurse(&op, &iter))
			continue;
		while (bson_iter_next(&iter))
		{
			const char *key = bson_iter_key(&iter);
			StringInfoData field;
			StringInfoData path;
			int			level = 1;
			const char *seg = key;

			initStringInfo(&field);
			initStringInfo(&path);
			for (;;)
			{
				const char *dot = strchr(seg, '.');
				int			len = dot ? (int) (dot - seg) : (int) strlen(seg);

				if (field.len > 0)
				{
					appendStringInfoChar(&field, '.');
					appendStringInfoChar(&path, '.');
				}
				appendBinaryStringInfo(&field, seg, len);
				appendBinaryStringInfo(&path, seg, len);
				if (!check_name(seg, len, bad))
				{
					unstorable(bad, &field, &path, bad->reason);
					return false;
				}
				if (dot == NULL)
					break;
				/* the segment names a document holding the rest */
				if (++level > NG_MAX_DOCUMENT_DEPTH)
				{
					unstorable(bad, &field, &path,
							   psprintf("The path creates more than %d levels of nesting, which MongoDB refuses to store.",
										NG_MAX_DOCUMENT_DEPTH));
					return false;
				}
				seg = dot + 1;
			}
			if (is_set && !check_value(&iter, level, &field, &path, bad))
				return false;
			if (current != NULL &&
				!check_update_path(current, key, is_set, bad))
				return false;
		}
	}
	return true;
}

/*
 * check_level
 *		Check the members of the document or array iter walks, which is at
 *		the given level; field and path name it and are restored on return.
 */
static bool
check_level(bson_iter_t *iter, bool is_array, int level, StringInfo field,
			StringInfo path, NgUnstorable *bad)
{
	int			index = 0;

	check_stack_depth();
	while (bson_iter_next(iter))
	{
		const char *key = bson_iter_key(iter);
		int			keylen = (int) bson_iter_key_len(iter);
		int			field_len = field->len;
		int			path_len = path->len;

		if (field->len > 0)
			appendStringInfoChar(field, '.');
		appendBinaryStringInfo(field, key, keylen);
		if (is_array)
			appendStringInfo(path, "[%d]", index);
		else
		{
			if (path->len > 0)
				appendStringInfoChar(path, '.');
			appendBinaryStringInfo(path, key, keylen);
			if (!check_name(key, keylen, bad))
			{
				unstorable(bad, field, path, bad->reason);
				return false;
			}
		}
		if (!check_value(iter, level, field, path, bad))
			return false;

		field->len = field_len;
		field->data[field_len] = '\0';
		path->len = path_len;
		path->data[path_len] = '\0';
		index++;
	}
	return true;
}

/*
 * check_value
 *		Check the value iter is at, a member of a document at the given
 *		level: a non-empty document or array is one level deeper.
 */
static bool
check_value(bson_iter_t *iter, int level, StringInfo field, StringInfo path,
			NgUnstorable *bad)
{
	bson_iter_t child;
	bool		is_array = BSON_ITER_HOLDS_ARRAY(iter);
	const uint8_t *data;
	uint32_t	len;

	if (!is_array && !BSON_ITER_HOLDS_DOCUMENT(iter))
		return true;
	if (is_array)
		bson_iter_array(iter, &len, &data);
	else
		bson_iter_document(iter, &len, &data);
	if (len <= 5)
		return true;			/* empty: no level */
	if (level + 1 > NG_MAX_DOCUMENT_DEPTH)
	{
		unstorable(bad, field, path,
				   psprintf("The value is nested more than %d levels deep, which MongoDB refuses to store.",
							NG_MAX_DOCUMENT_DEPTH));
		return false;
	}
	if (!bson_iter_recurse(iter, &child))
		elog(ERROR, "invalid BSON document");
	return check_level(&child, is_array, level + 1, field, path, bad);
}

/*
 * check_update_path
 *		Whether MongoDB can $set (is_set) or $unset the dotted path "key"
 *		in the document "current", and the overlay follow it.  It walks the
 *		path and creates what is missing, but
 *		fails ("Cannot create field ... in element ...") where a proper
 *		prefix of the path holds a value that is not an embedded document:
 *		a scalar, null, or an array under a name that is not an index.
 *		Under an index (a.0.b) it would change the array element, which
 *		the overlay cannot follow and reading such a path reports as a
 *		mismatch ("crosses an array"), so that is refused too.  The last
 *		segment may hold anything, as a $set replaces it.  An $unset
 *		(is_set false) of a path under a scalar or a missing field is a
 *		no-op for MongoDB and is kept; one through an array is refused:
 *		under an index it would set the element to null, and under a name
 *		MongoDB ignores it but DocumentDB (FerretDB 2) refuses the update.
 */
static bool
check_update_path(const bson_t *current, const char *key, bool is_set,
				  NgUnstorable *bad)
{
	bson_iter_t iter;
	const char *seg = key;

	if (!bson_iter_init(&iter, current))
		elog(ERROR, "invalid BSON document");
	for (;;)
	{
		const char *dot = strchr(seg, '.');
		int			len = dot ? (int) (dot - seg) : (int) strlen(seg);
		bson_iter_t child;
		bson_type_t type;
		StringInfoData field;
		StringInfoData path;
		const char *next;
		int			nextlen;
		bool		index;
		int			i;

		if (dot == NULL || !bson_iter_find_w_len(&iter, seg, len))
			return true;		/* the last segment, or created from here */
		type = bson_iter_type(&iter);
		if (type == BSON_TYPE_DOCUMENT)
		{
			if (!bson_iter_recurse(&iter, &child))
				elog(ERROR, "invalid BSON document");
			iter = child;
			seg = dot + 1;
			continue;
		}

		/* refused (but for most $unsets): name the prefix that blocks */
		next = dot + 1;
		nextlen = strchr(next, '.') ? (int) (strchr(next, '.') - next) :
			(int) strlen(next);
		index = nextlen > 0;
		for (i = 0; i < nextlen; i++)
			if (next[i] < '0' || next[i] > '9')
				index = false;
		if (!is_set && type != BSON_TYPE_ARRAY)
			return true;
		initStringInfo(&field);
		initStringInfo(&path);
		appendStringInfoString(&field, key);
		appendStringInfoString(&path, key);
		if (type != BSON_TYPE_ARRAY)
			unstorable(bad, &field, &path,
					   psprintf("MongoDB cannot create field \"%.*s\" under \"%.*s\", which holds a value of BSON type %s, not an embedded document.",
								nextlen, next, (int) (dot - key), key,
								bson_type_alias(type)));
		else if (!index && is_set)
			unstorable(bad, &field, &path,
					   psprintf("MongoDB cannot create field \"%.*s\" under \"%.*s\", which holds an array.",
								nextlen, next, (int) (dot - key), key));
		else
			unstorable(bad, &field, &path,
					   psprintf("\"%.*s\" holds an array, and nutragenie writes only through embedded documents.",
								(int) (dot - key), key));
		return false;
	}
}

/*
 * check_name
 *		Whether a field name (keylen bytes) is one MongoDB accepts; if not,
 *		bad->reason says why.
 */
static bool
check_name(const char *key, int keylen, NgUnstorable *bad)
{
	if (keylen == 0)
		bad->reason = pstrdup("MongoDB field names cannot be empty.");
	else if (key[0] == '$')
		bad->reason = pstrdup("MongoDB field names cannot start with \"$\".");
	else if (memchr(key, '.', keylen) != NULL)
		bad->reason = pstrdup("MongoDB field names cannot contain \".\".");
	else
		return true;
	return false;
}

/* Fill in *bad; a path too long to read in a message is cut. */
static void
unstorable(NgUnstorable *bad, StringInfo field, StringInfo path, char *reason)
{
	bad->field = pstrdup(field->data);
	if (path->len > 100)
		bad->path = psprintf("%s...", pnstrdup(path->data,
											   pg_mbcliplen(path->data,
															path->len, 100)));
	else
		bad->path = pstrdup(path->data);
	bad->reason = reason;
}


/*
 * bson_type_alias
 *		The name MongoDB's $type operator uses for a BSON type.
 */
static const char *
bson_type_alias(bson_type_t type)
{
	switch (type)
	{
		case BSON_TYPE_DOUBLE:
			return "double";
		case BSON_TYPE_UTF8:
			return "string";
		case BSON_TYPE_DOCUMENT:
			return "object";
		case BSON_TYPE_ARRAY:
			return "array";
		case BSON_TYPE_BINARY:
			return "binData";
		case BSON_TYPE_UNDEFINED:
			return "undefined";
		case BSON_TYPE_OID:
			return "objectId";
		case BSON_TYPE_BOOL:
			return "bool";
		case BSON_TYPE_DATE_TIME:
			return "date";
		case BSON_TYPE_NULL:
			return "null";
		case BSON_TYPE_REGEX:
			return "regex";
		case BSON_TYPE_DBPOINTER:
			return "dbPointer";
		case BSON_TYPE_CODE:
			return "javascript";
		case BSON_TYPE_SYMBOL:
			return "symbol";
		case BSON_TYPE_CODEWSCOPE:
			return "javascriptWithScope";
		case BSON_TYPE_INT32:
			return "int";
		case BSON_TYPE_TIMESTAMP:
			return "timestamp";
		case BSON_TYPE_INT64:
			return "long";
		case BSON_TYPE_DECIMAL128:
			return "decimal";
		case BSON_TYPE_MAXKEY:
			return "maxKey";
		case BSON_TYPE_MINKEY:
			return "minKey";
		case BSON_TYPE_EOD:
			return "missing";
	}
	return "unknown";
}
