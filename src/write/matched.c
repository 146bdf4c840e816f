/*-------------------------------------------------------------------------
 *
 * matched.c
 *		  Which of the updates and deletes the applier sent matched no
 *		  document.
 *
 * An UPDATE or DELETE is queued only for a document its statement read and
 * locked, so when the applier sends it the document should be there.  If
 * another MongoDB client deleted it in between, MongoDB answers the update
 * or delete with a matched count of 0, and the change must not vanish
 * silently: the applier records it (dead_letters.c).  MongoDB's bulk write
 * reply has totals per bulk (nMatched, nRemoved), not per operation, so
 * this file works out which operation matched nothing.
 *
 * The model: within one run of rows (one collection), a document's
 * existence before each of its operations follows from its existence
 * before the run and the operations before: an insert (insert-as-replace)
 * leaves it present, a delete absent, an update as it was.  So an update or
 * delete matches exactly when its document was present before the run and
 * nothing since removed it, or something since inserted it.  The only
 * unknowns are the documents whose first operation in the run is an update
 * or a delete; they are assumed present, and checked only when needed:
 *
 * - When the totals agree with the assumption, every document assumed
 *   present was (a missing one can only lower the counts).
 * - A shortfall with one unknown document among the rows is that document.
 * - A shortfall with several: those on which only updates have been
 *   applied are as they were before the run, and a find of their _ids
 *   tells (after the write, and only then).
 * - A delete leaves no trace of whether it matched, so documents with a
 *   delete that depends on their unknown state are looked up before the
 *   run is sent, when there are two or more of them.
 *
 * Finds of many _ids are slow on some servers (FerretDB 1.x scans the
 * collection for an $in), which is why the common case asks nothing.  A
 * totals mismatch that the model cannot explain (a third client changed a
 * document between a look-up and the write) is reported by ng_match_check
 * as unknown; the applier then records nothing and logs it.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/write/matched.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "lib/stringinfo.h"

#include "write/write_int.h"

/* A document's existence before the run. */
typedef enum NgStartState
{
	NG_START_UNKNOWN,			/* assumed present until the totals say */
	NG_START_PRESENT,
	NG_START_ABSENT
} NgStartState;

struct NgMatchPlan
{
	int			n;
	char	   *ops;			/* 'i', 'u' or 'd', in the order applied;
								 * '-' for a row that was not applied */
	const uint8 **ids;			/* BSON {"_id": v} of each */
	uint32	   *idlens;
	char	  **keys;			/* ng_match_id_key, or the bytes */
	int		   *keylens;
	int		   *first;			/* the document's first row in the run */
	int		   *prior;			/* the document's previous row, or -1 */
	NgStartState *start;		/* at first rows: existence before the run */
	bool	   *asked;			/* at first rows: in the current look-up */
	bool	   *expect;			/* update/delete expected to match */
	bool	   *depends;		/* ... and that depends on start[first] */
};

typedef struct NgKeyRef
{
	const char *key;
	int			keylen;
	int			pos;
} NgKeyRef;

static int	compare_keyref(const void *a, const void *b);
static void predict(NgMatchPlan *plan);
static void expected_totals(NgMatchPlan *plan, int start, int end,
							int64 *matched, int64 *removed);

/*
 * ng_match_id_key
 *		A byte string equal for two {"_id": v} documents exactly when
 *		MongoDB takes them for the same _id, or NULL when that cannot be
 *		told from the bytes: numbers compare by value across BSON types
 *		(1, 1L and 1.0 are one _id), so integral numbers get one form;
 *		documents, arrays and decimals (which may hold such numbers) give
 *		NULL.  Palloc'd in the current context.
 *
 * XXX: a collection whose default collation ignores case makes "A" and "a"
 * one _id; such a collection should keep seq order.
 */
char *
ng_match_id_key(const uint8 *id, uint32 idlen, int *keylen)
{
	bson_t		doc;
	bson_iter_t iter;
	const bson_value_t *v;
	StringInfoData key;

	if (!bson_init_static(&doc, id, idlen) ||
		!bson_iter_init_find(&iter, &doc, "_id"))
		return NULL;
	v = bson_iter_value(&iter);

	initStringInfo(&key);
	switch (v->value_type)
	{
		case BSON_TYPE_INT32:
			appendStringInfo(&key, "n%d", v->value.v_int32);
			break;
		case BSON_TYPE_INT64:
			appendStringInfo(&key, "n" INT64_FORMAT, v->value.v_int64);
			break;
		case BSON_TYPE_DOUBLE:
			{
				double		f = v->value.v_double;

				if (f == floor(f) && f >= -9.2e18 && f <= 9.2e18)
					appendStringInfo(&key, "n" INT64_FORMAT, (int64) f);
				else
				{
					appendStringInfoChar(&key, 'f');
					appendBinaryStringInfo(&key, (char *) &f, sizeof(f));
				}
				break;
			}
		case BSON_TYPE_DOCUMENT:
		case BSON_TYPE_ARRAY:
		case BSON_TYPE_DECIMAL128:
			pfree(key.data);
			return NULL;
		default:
			/* other types compare within their type, by value bytes */
			appendStringInfoChar(&key, 'b');
			appendBinaryStringInfo(&key, (const char *) id, idlen);
			break;
	}
	*keylen = key.len;
	return key.data;
}

/*
 * The key of an _id for matching rows to documents: ng_match_id_key, or
 * the exact bytes where that cannot tell.  (Writes address the exact _id
 * they read, so two rows of one document carry the same bytes.)
 */
static char *
match_key(const uint8 *id, uint32 idlen, int *keylen)
{
	char	   *key = ng_match_id_key(id, idlen, keylen);

	if (key == NULL)
	{
		key = palloc(idlen + 1);
		key[0] = 'r';
		memcpy(key + 1, id, idlen);
		*keylen = idlen + 1;
	}
	return key;
}

static int
compare_keyref(const void *a, const void *b)
{
	const NgKeyRef *x = (const NgKeyRef *) a;
	const NgKeyRef *y = (const NgKeyRef *) b;
	int			c = memcmp(x->key, y->key, Min(x->keylen, y->keylen));

	if (c != 0)
		return c;
	if (x->keylen != y->keylen)
		return x->keylen < y->keylen ? -1 : 1;
	return x->pos - y->pos;
}

/*
 * ng_match_plan_create
 *		The model of a run of n operations, in the order they are applied:
 *		ops[i] is 'i', 'u' or 'd' and ids[i] (idlens[i] bytes) its BSON
 *		{"_id": v}, which must stay valid while the plan is used.  Every
 *		document whose existence before the run matters is assumed present.
 *		Palloc'd in the current context.
 */
NgMatchPlan *
ng_match_plan_create(int n, const char *ops, const uint8 **ids,
					 const uint32 *idlens)
{
	NgMatchPlan *plan = palloc0(sizeof(NgMatchPlan));
	NgKeyRef   *refs = palloc(sizeof(NgKeyRef) * Max(n, 1));
	int			i;

	plan->n = n;
	plan->ops = palloc(Max(n, 1));
	memcpy(plan->ops, ops, n);
	plan->ids = palloc(sizeof(uint8 *) * Max(n, 1));
	memcpy(plan->ids, ids, sizeof(uint8 *) * n);
	plan->idlens = palloc(sizeof(uint32) * Max(n, 1));
	memcpy(plan->idlens, idlens, sizeof(uint32) * n);
	plan->keys = palloc(sizeof(char *) * Max(n, 1));
	plan->keylens = palloc(sizeof(int) * Max(n, 1));
	plan->first = palloc(sizeof(int) * Max(n, 1));
	plan->prior = palloc(sizeof(int) * Max(n, 1));
	plan->start = palloc0(sizeof(NgStartState) * Max(n, 1));
	plan->asked = palloc0(sizeof(bool) * Max(n, 1));
	plan->expect = palloc0(sizeof(bool) * Max(n, 1));
	plan->depends = palloc0(sizeof(bool) * Max(n, 1));

	for (i = 0; i < n; i++)
	{
		plan->keys[i] = match_key(ids[i], idlens[i], &plan->keylens[i]);
		refs[i].key = plan->keys[i];
		refs[i].keylen = plan->keylens[i];
		refs[i].pos = i;
	}

	/* rows of one document next to each other, in the order applied */
	if (n > 1)
		qsort(refs, n, sizeof(NgKeyRef), compare_keyref);
	for (i = 0; i < n; i++)
	{
		int			pos = refs[i].pos;

		if (i > 0 && refs[i].keylen == refs[i - 1].keylen &&
			memcmp(refs[i].key, refs[i - 1].key, refs[i].keylen) == 0)
		{
			plan->prior[pos] = refs[i - 1].pos;
			plan->first[pos] = plan->first[refs[i - 1].pos];
		}
		else
		{
			plan->prior[pos] = -1;
			plan->first[pos] = pos;
		}
	}
	pfree(refs);

	predict(plan);
	return plan;
}

/*
 * Which updates and deletes are expected to match, from the start states.
 * Rows come in the order applied, so a row's prior is done before it.
 */
static void
predict(NgMatchPlan *plan)
{
	int			i;

	for (i = 0; i < plan->n; i++)
	{
		int			p = plan->prior[i];
		bool		present;
		bool		depends;

		if (p < 0)
		{
			present = plan->start[i] != NG_START_ABSENT;
			depends = plan->start[i] == NG_START_UNKNOWN;
		}
		else if (plan->ops[p] == 'i')
		{
			present = true;
			depends = false;
		}
		else if (plan->ops[p] == 'd')
		{
			present = false;
			depends = false;
		}
		else
		{
			/* an update, or a row not applied, leaves it as it was */
			present = plan->expect[p];
			depends = plan->depends[p];
		}
		plan->expect[i] = present;
		plan->depends[i] = depends;
	}
}

/*
 * ng_match_skip
 *		Row i was not applied after all (MongoDB or the driver refused
 *		it): it changes nothing, and the rows after it are predicted so.
 */
void
ng_match_skip(NgMatchPlan *plan, int i)
{
	if (plan->ops[i] == '-')
		return;
	plan->ops[i] = '-';
	predict(plan);
}

/*
 * ng_match_lookup
 *		Choose the documents to look up, and append their _ids to the BSON
 *		array "in" (keys "0", "1", ...; NULL: only count them).  Returns
 *		how many.  before: ahead of sending the run, the unknown documents
 *		with a delete that depends on their state (all of them, even one:
 *		the caller decides whether one is worth a find).  Otherwise, after
 *		rows [0, end) were applied, the unknown documents with rows in
 *		[start, end) on which only updates were applied.
 */
int
ng_match_lookup(NgMatchPlan *plan, bool before, int start, int end,
				bson_t *in)
{
	bool	   *pick = palloc0(sizeof(bool) * Max(plan->n, 1));
	int			count = 0;
	int			i;

	if (before)
	{
		for (i = 0; i < plan->n; i++)
		{
			if (plan->depends[i] && plan->ops[i] == 'd')
				pick[plan->first[i]] = true;
		}
	}
	else
	{
		bool	   *other = palloc0(sizeof(bool) * Max(plan->n, 1));

		for (i = 0; i < end; i++)
		{
			if (plan->ops[i] != 'u' && plan->ops[i] != '-')
				other[plan->first[i]] = true;
		}
		for (i = start; i < end; i++)
		{
			if (plan->depends[i] && !other[plan->first[i]])
				pick[plan->first[i]] = true;
		}
		pfree(other);
	}

	for (i = 0; i < plan->n; i++)
	{
		bson_t		id;
		bson_iter_t iter;
		char		buf[16];
		const char *key;

		plan->asked[i] = pick[i] && plan->start[i] == NG_START_UNKNOWN;
		if (!plan->asked[i])
			continue;
		if (in != NULL &&
			bson_init_static(&id, plan->ids[i], plan->idlens[i]) &&
			bson_iter_init_find(&iter, &id, "_id"))
		{
			bson_uint32_to_string(count, &key, buf, sizeof(buf));
			bson_append_iter(in, key, -1, &iter);
		}
		count++;
	}
	pfree(pick);
	return count;
}

/*
 * ng_match_set_found
 *		Record the answer of the look-up ng_match_lookup chose: found holds
 *		the {"_id": v} of each document found (nfound of them, BSON bytes);
 *		every other document asked about was absent.
 */
void
ng_match_set_found(NgMatchPlan *plan, const uint8 **found,
				   const uint32 *foundlens, int nfound)
{
	NgKeyRef   *refs = palloc(sizeof(NgKeyRef) * Max(nfound, 1));
	int			i;

	for (i = 0; i < nfound; i++)
	{
		refs[i].key = match_key(found[i], foundlens[i], &refs[i].keylen);
		refs[i].pos = 0;
	}
	if (nfound > 1)
		qsort(refs, nfound, sizeof(NgKeyRef), compare_keyref);

	for (i = 0; i < plan->n; i++)
	{
		NgKeyRef	probe;

		if (!plan->asked[i])
			continue;
		plan->asked[i] = false;
		probe.key = plan->keys[i];
		probe.keylen = plan->keylens[i];
		probe.pos = 0;
		plan->start[i] = nfound > 0 &&
			bsearch(&probe, refs, nfound, sizeof(NgKeyRef),
					compare_keyref) != NULL ?
			NG_START_PRESENT : NG_START_ABSENT;
	}
	predict(plan);
}

/* The matched and removed counts expected of rows [start, end). */
static void
expected_totals(NgMatchPlan *plan, int start, int end, int64 *matched,
				int64 *removed)
{
	int			i;

	*matched = 0;
	*removed = 0;
	for (i = start; i < end; i++)
	{
		if (!plan->expect[i])
			continue;
		if (plan->ops[i] == 'u')
			(*matched)++;
		else if (plan->ops[i] == 'd')
			(*removed)++;
	}
}

/*
 * ng_match_check
 *		Rows [start, end) were applied, and MongoDB reported matched
 *		updates and removed documents for them.  Set unmatched[i] (for i in
 *		[start, end)) for each update or delete that matched no document
 *		and return NG_MATCH_OK; or return NG_MATCH_ASK when a look-up
 *		(ng_match_lookup with before false) would tell, or NG_MATCH_UNKNOWN
 *		when the totals cannot be explained.  No row is set unless OK.
 */
NgMatchResult
ng_match_check(NgMatchPlan *plan, int start, int end, int64 matched,
			   int64 removed, bool *unmatched)
{
	int64		want_matched;
	int64		want_removed;
	int			i;

	expected_totals(plan, start, end, &want_matched, &want_removed);
	if (matched != want_matched || removed != want_removed)
	{
		int			only = -1;
		int			unknowns = 0;

		/*
		 * Fewer matches than expected: if one document's existence before
		 * the run was unknown and rows here depend on it, it was absent.
		 */
		for (i = start; i < end; i++)
		{
			if (plan->depends[i] &&
				(plan->ops[i] == 'u' || plan->ops[i] == 'd') &&
				plan->first[i] != only)
			{
				if (only >= 0)
				{
					unknowns = 2;
					break;
				}
				only = plan->first[i];
				unknowns = 1;
			}
		}
		if (matched > want_matched || removed > want_removed || unknowns == 0)
			return NG_MATCH_UNKNOWN;
		if (unknowns > 1)
			return ng_match_lookup(plan, false, start, end, NULL) > 0 ?
				NG_MATCH_ASK : NG_MATCH_UNKNOWN;
		plan->start[only] = NG_START_ABSENT;
		predict(plan);
		expected_totals(plan, start, end, &want_matched, &want_removed);
		if (matched != want_matched || removed != want_removed)
		{
			plan->start[only] = NG_START_UNKNOWN;
			predict(plan);
			return NG_MATCH_UNKNOWN;
		}
	}

	/* the totals agree: the documents assumed present were */
	for (i = start; i < end; i++)
	{
		if (plan->depends[i] &&
			(plan->ops[i] == 'u' || plan->ops[i] == 'd') &&
			plan->start[plan->first[i]] == NG_START_UNKNOWN)
			plan->start[plan->first[i]] = NG_START_PRESENT;
		unmatched[i] = (plan->ops[i] == 'u' || plan->ops[i] == 'd') &&
			!plan->expect[i];
	}
	predict(plan);
	return NG_MATCH_OK;
}
