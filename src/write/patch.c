/*-------------------------------------------------------------------------
 *
 * patch.c
 *		  The document-patch engine: a document with field assignments
 *		  (dotted paths) applied.
 *
 * Used both to build new documents and to compute the overlay version
 * after an update.  Assignments are sorted so that paths sharing a prefix
 * are adjacent (assign_cmp); the old document is copied once, level by
 * level, with the assigned fields replaced, removed or added.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/write/patch.c
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
	 * Removals under a missing field or a value that is not a document change
	 * nothing, as for MongoDB's $unset.  (A $set there is refused by
	 * ng_modify_check_storable; an INSERT's base document has it replaced.)
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
void
ng_patch_apply(const bson_t *old, NgAssign *assigns, int n, bson_t *out)
{
	bson_iter_t iter;

	if (n > 1)
		qsort(assigns, n, sizeof(NgAssign), assign_cmp);
	if (old != NULL && bson_iter_init(&iter, old))
		apply_level(&iter, assigns, n, 0, out);
	else
		apply_level(NULL, assigns, n, 0, out);
}
