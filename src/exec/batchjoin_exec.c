/*-------------------------------------------------------------------------
 *
 * batchjoin_exec.c
 *		  Runs a batched key join: reads a batch of outer rows, looks up
 *		  their keys with one find, and joins the documents to them.
 *
 * plan/batchjoin.c explains the design and when the join is planned; its
 * plan (custom_private) is an NgBatchPlan (contract.c).  Per batch, up to
 * keys_per_find outer rows (fewer if their distinct keys grow past
 * NG_BATCH_KEY_BYTES) are copied into a batch memory context and hashed by
 * key; their distinct keys go to the inner ForeignScan (ng_scan_set_batch),
 * which is rescanned.  Each document that comes back is joined with the
 * batch's outer rows of its key, found through the hash chains; for a left
 * join, the outer rows no document matched follow, null-extended.  Only
 * one batch of outer rows is held, however many documents match.  The
 * join's conditions, the key condition included, are evaluated by
 * PostgreSQL on each joined row: the hash only narrows the candidates.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/exec/batchjoin_exec.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/extensible.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "utils/array.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/ruleutils.h"

#include "exec/exec.h"

/*
 * A batch also ends once its distinct keys take this much memory, so that
 * the find stays well below MongoDB's 16 MB limit on a command (a key's
 * BSON form is a few bytes longer than its datum).
 */
#define NG_BATCH_KEY_BYTES (4 * 1024 * 1024)

/* An outer row of a batch: its values, copied, and its key's hash. */
typedef struct NgStoredRow
{
	Datum	   *values;
	bool	   *isnull;
	Datum		key;			/* the key, copied (not NULL) */
	uint32		hash;
	bool		null_key;		/* never matches */
	bool		matched;		/* left joins: some inner row matched */
	int			next;			/* next row in its hash chain, -1: none */
} NgStoredRow;

typedef struct NgBatchJoinState
{
	CustomScanState css;
	NgBatchPlan *plan;			/* custom_private, read once */
	JoinType	jointype;
	int			keys_per_find;
	PlanState  *outer_ps;
	ForeignScanState *inner_ps;
	int			nouter;			/* columns of the outer plan's output */
	int			ninner;			/* ... of the inner plan's */
	ExprState  *outer_key;
	ExprState  *inner_key;
	ExprState  *joinqual;		/* left joins: the join conditions */
	FmgrInfo	outer_hash;
	FmgrInfo	inner_hash;
	Oid			collation;
	Oid			key_type;
	int16		key_len;
	bool		key_byval;
	char		key_align;
	ExprContext *key_econtext;	/* key and join-condition evaluation */
	MemoryContext batch_cxt;	/* the current batch, reset for the next */

	/* the current batch: its outer rows, hashed by key */
	NgStoredRow *outer_rows;
	int			n_outer;
	int		   *buckets;		/* heads of the hash chains */
	uint32		bucket_mask;
	bool		have_batch;		/* outer rows loaded, inner scan running */
	bool		outer_done;		/* the outer plan has no more rows */

	/* the inner row being joined, and its next candidate outer row */
	TupleTableSlot *inner_slot; /* NULL: fetch the next inner row */
	uint32		inner_hash_value;
	int			candidate;
	int			unmatched;		/* left joins, after the inner rows: the
								 * next outer row to null-extend */

	/* EXPLAIN ANALYZE */
	int64		batches;
	int64		keys_sent;
} NgBatchJoinState;

static Node *create_batched_join_state(CustomScan *cscan);
static void begin_batched_join(CustomScanState *node, EState *estate,
							   int eflags);
static TupleTableSlot *exec_batched_join(CustomScanState *node);
static TupleTableSlot *next_joined_row(ScanState *ss);
static bool recheck_joined_row(ScanState *ss, TupleTableSlot *slot);
static bool load_batch(NgBatchJoinState *bs);
static void store_row(NgStoredRow *row, TupleTableSlot *src, int natts);
static void fill_scan_slot(NgBatchJoinState *bs, NgStoredRow *outer,
						   TupleTableSlot *inner);
static uint32 key_hash(NgBatchJoinState *bs, ExprState *key, FmgrInfo *hash,
					   Datum *value, bool *isnull);
static void end_batched_join(CustomScanState *node);
static void rescan_batched_join(CustomScanState *node);
static void explain_batched_join(CustomScanState *node, List *ancestors,
								 ExplainState *es);


static const CustomScanMethods batch_scan_methods = {
	.CustomName = NG_BATCH_JOIN_NAME,
	.CreateCustomScanState = create_batched_join_state,
};

static const CustomExecMethods batch_exec_methods = {
	.CustomName = NG_BATCH_JOIN_NAME,
	.BeginCustomScan = begin_batched_join,
	.ExecCustomScan = exec_batched_join,
	.EndCustomScan = end_batched_join,
	.ReScanCustomScan = rescan_batched_join,
	.ExplainCustomScan = explain_batched_join,
};

/*
 * ng_batchjoin_exec_init
 *		Module load: register the plan node's methods, so that a plan can
 *		name them (plan/batchjoin.c looks them up by name).
 */
void
ng_batchjoin_exec_init(void)
{
	RegisterCustomScanMethods(&batch_scan_methods);
}

static Node *
create_batched_join_state(CustomScan *cscan)
{
	NgBatchJoinState *bs = (NgBatchJoinState *) newNode(sizeof(NgBatchJoinState),
														T_CustomScanState);

	bs->css.methods = &batch_exec_methods;
	return (Node *) bs;
}

/*
 * BeginCustomScan: start both children; no query is sent yet.
 */
static void
begin_batched_join(CustomScanState *node, EState *estate, int eflags)
{
	NgBatchJoinState *bs = (NgBatchJoinState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
	Plan	   *outer_plan = (Plan *) linitial(cscan->custom_plans);
	Plan	   *inner_plan = (Plan *) lsecond(cscan->custom_plans);
	PlanState  *inner;

	bs->plan = ng_batch_plan_from_list(cscan->custom_private);
	bs->jointype = bs->plan->jointype;
	bs->keys_per_find = bs->plan->keys_per_find;
	bs->key_type = bs->plan->key_type;
	bs->collation = bs->plan->collation;
	fmgr_info(bs->plan->outer_hash, &bs->outer_hash);
	fmgr_info(bs->plan->inner_hash, &bs->inner_hash);
	get_typlenbyvalalign(bs->key_type, &bs->key_len, &bs->key_byval,
						 &bs->key_align);

	bs->outer_ps = ExecInitNode(outer_plan, estate, eflags);
	inner = ExecInitNode(inner_plan, estate, eflags);
	if (!IsA(inner, ForeignScanState))
		elog(ERROR, "inner plan of a batched key join is not a foreign scan");
	bs->inner_ps = (ForeignScanState *) inner;
	node->custom_ps = list_make2(bs->outer_ps, inner);
	bs->nouter = list_length(outer_plan->targetlist);
	bs->ninner = list_length(inner_plan->targetlist);

	bs->outer_key = ExecInitExpr(linitial(cscan->custom_exprs), &node->ss.ps);
	bs->inner_key = ExecInitExpr(lsecond(cscan->custom_exprs), &node->ss.ps);
	bs->joinqual = ExecInitQual(list_copy_tail(cscan->custom_exprs, 2),
								&node->ss.ps);
	bs->key_econtext = CreateExprContext(estate);
	bs->batch_cxt = AllocSetContextCreate(estate->es_query_cxt,
										  "nutragenie batched join",
										  ALLOCSET_DEFAULT_SIZES);
	bs->n_outer = 0;
	bs->have_batch = false;
	bs->outer_done = false;
}

static TupleTableSlot *
exec_batched_join(CustomScanState *node)
{
	return ExecScan(&node->ss, next_joined_row, recheck_joined_row);
}

/* Row marks are refused at plan time, so there is nothing to recheck. */
static bool
recheck_joined_row(ScanState *ss, TupleTableSlot *slot)
{
	return true;
}

/*
 * The next joined row in the scan slot (ExecScan then applies the plan's
 * conditions and projection), or an empty slot at the end.
 *
 * Per batch: the inner scan's documents stream in, and each is joined with
 * the batch's outer rows of the same key (found through the hash chains);
 * for a left join, the outer rows no document matched follow, null-
 * extended.  Only one batch of outer rows is held, however many documents
 * match.
 */
static TupleTableSlot *
next_joined_row(ScanState *ss)
{
	NgBatchJoinState *bs = (NgBatchJoinState *) ss;
	TupleTableSlot *slot = ss->ss_ScanTupleSlot;

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();

		if (!bs->have_batch)
		{
			if (bs->outer_done || !load_batch(bs))
				return ExecClearTuple(slot);
		}

		/* the current inner row against its next candidate */
		while (bs->inner_slot != NULL && bs->candidate >= 0)
		{
			NgStoredRow *outer = &bs->outer_rows[bs->candidate];

			bs->candidate = outer->next;
			if (outer->null_key || outer->hash != bs->inner_hash_value)
				continue;
			fill_scan_slot(bs, outer, bs->inner_slot);
			if (bs->joinqual != NULL)
			{
				ResetExprContext(bs->key_econtext);
				bs->key_econtext->ecxt_scantuple = slot;
				if (!ExecQual(bs->joinqual, bs->key_econtext))
					continue;
			}
			outer->matched = true;
			return slot;
		}

		/* the next inner row */
		if (bs->unmatched < 0)
		{
			TupleTableSlot *inner = ExecProcNode(&bs->inner_ps->ss.ps);

			if (!TupIsNull(inner))
			{
				bool		isnull;

				slot_getallattrs(inner);
				bs->inner_slot = inner;
				fill_scan_slot(bs, NULL, inner);
				bs->inner_hash_value = key_hash(bs, bs->inner_key,
												&bs->inner_hash, NULL,
												&isnull);
				bs->candidate = isnull ? -1 :
					bs->buckets[bs->inner_hash_value & bs->bucket_mask];
				continue;
			}
			/* the inner rows of this batch are done */
			bs->inner_slot = NULL;
			bs->unmatched = 0;
		}

		/* left joins: the outer rows nothing matched */
		if (bs->jointype == JOIN_LEFT)
		{
			while (bs->unmatched < bs->n_outer)
			{
				NgStoredRow *outer = &bs->outer_rows[bs->unmatched++];

				if (!outer->matched)
				{
					fill_scan_slot(bs, outer, NULL);
					return slot;
				}
			}
		}
		bs->have_batch = false;
	}
}

/*
 * Read the next batch of outer rows, hash them by key, and start the inner
 * scan with their distinct keys.  False when the outer side has no more
 * rows.
 */
static bool
load_batch(NgBatchJoinState *bs)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	Datum	   *keys;
	int			nkeys = 0;
	Size		key_bytes = 0;
	uint32		nbuckets;
	int			i;

	MemoryContextReset(bs->batch_cxt);
	MemoryContextSwitchTo(bs->batch_cxt);

	bs->outer_rows = palloc(sizeof(NgStoredRow) * bs->keys_per_find);
	bs->n_outer = 0;
	bs->inner_slot = NULL;
	bs->candidate = -1;
	bs->unmatched = -1;
	keys = palloc(sizeof(Datum) * bs->keys_per_find);
	nbuckets = 16;
	while (nbuckets < (uint32) bs->keys_per_find * 2)
		nbuckets <<= 1;
	bs->bucket_mask = nbuckets - 1;
	bs->buckets = palloc(sizeof(int) * nbuckets);
	memset(bs->buckets, -1, sizeof(int) * nbuckets);

	while (bs->n_outer < bs->keys_per_find && key_bytes < NG_BATCH_KEY_BYTES)
	{
		TupleTableSlot *os;
		NgStoredRow *row;
		Datum		key;
		bool		isnull;
		int			k;

		/* the children run in the query's context, not the batch's */
		MemoryContextSwitchTo(oldcxt);
		os = ExecProcNode(bs->outer_ps);
		MemoryContextSwitchTo(bs->batch_cxt);
		if (TupIsNull(os))
		{
			bs->outer_done = true;
			break;
		}
		i = bs->n_outer++;
		row = &bs->outer_rows[i];
		store_row(row, os, bs->nouter);
		fill_scan_slot(bs, row, NULL);
		row->hash = key_hash(bs, bs->outer_key, &bs->outer_hash, &key, &isnull);
		row->null_key = isnull;
		row->matched = false;
		row->next = -1;
		if (isnull)
			continue;

		/*
		 * Chain the row; its key goes to MongoDB unless a row chained
		 * before it has the same (binary-equal) key.
		 */
		row->key = key;
		for (k = bs->buckets[row->hash & bs->bucket_mask]; k >= 0;
			 k = bs->outer_rows[k].next)
		{
			NgStoredRow *other = &bs->outer_rows[k];

			if (other->hash == row->hash &&
				datumIsEqual(other->key, key, bs->key_byval, bs->key_len))
				break;
		}
		if (k < 0)
		{
			keys[nkeys++] = key;
			key_bytes += bs->key_byval ? sizeof(Datum) :
				datumGetSize(key, false, bs->key_len);
		}
		row->next = bs->buckets[row->hash & bs->bucket_mask];
		bs->buckets[row->hash & bs->bucket_mask] = i;
	}

	if (nkeys > 0)
	{
		ArrayType  *array;

		array = construct_array(keys, nkeys, bs->key_type, bs->key_len,
								bs->key_byval, bs->key_align);
		MemoryContextSwitchTo(oldcxt);
		ng_scan_set_batch(bs->inner_ps, PointerGetDatum(array));
		ExecReScan(&bs->inner_ps->ss.ps);
		bs->batches++;
		bs->keys_sent += nkeys;
	}
	else
	{
		/* no key to look up: every outer row is unmatched */
		bs->unmatched = 0;
	}

	MemoryContextSwitchTo(oldcxt);
	bs->have_batch = bs->n_outer > 0;
	return bs->have_batch;
}

/*
 * Copy the values of src (deformed) into row, in the current memory
 * context.
 */
static void
store_row(NgStoredRow *row, TupleTableSlot *src, int natts)
{
	TupleDesc	desc = src->tts_tupleDescriptor;
	int			i;

	slot_getallattrs(src);
	row->values = palloc(sizeof(Datum) * Max(natts, 1));
	row->isnull = palloc(sizeof(bool) * Max(natts, 1));
	for (i = 0; i < natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		row->isnull[i] = src->tts_isnull[i];
		row->values[i] = src->tts_isnull[i] ? (Datum) 0 :
			datumCopy(src->tts_values[i], att->attbyval, att->attlen);
	}
}

/*
 * Put an outer row and the inner scan's current row (either may be NULL:
 * all nulls) into the scan slot.  The values stay owned by the batch and
 * by the inner slot.
 */
static void
fill_scan_slot(NgBatchJoinState *bs, NgStoredRow *outer, TupleTableSlot *inner)
{
	TupleTableSlot *slot = bs->css.ss.ss_ScanTupleSlot;

	ExecClearTuple(slot);
	if (outer != NULL)
	{
		memcpy(slot->tts_values, outer->values, sizeof(Datum) * bs->nouter);
		memcpy(slot->tts_isnull, outer->isnull, sizeof(bool) * bs->nouter);
	}
	else
	{
		memset(slot->tts_values, 0, sizeof(Datum) * bs->nouter);
		memset(slot->tts_isnull, true, sizeof(bool) * bs->nouter);
	}
	if (inner != NULL)
	{
		memcpy(slot->tts_values + bs->nouter, inner->tts_values,
			   sizeof(Datum) * bs->ninner);
		memcpy(slot->tts_isnull + bs->nouter, inner->tts_isnull,
			   sizeof(bool) * bs->ninner);
	}
	else
	{
		memset(slot->tts_values + bs->nouter, 0, sizeof(Datum) * bs->ninner);
		memset(slot->tts_isnull + bs->nouter, true, sizeof(bool) * bs->ninner);
	}
	ExecStoreVirtualTuple(slot);
}

/*
 * Evaluate a key over the scan slot and hash it, in the key context's
 * per-tuple memory.  With value, the key is also copied into the current
 * memory context (the batch's).  0 for NULL.
 */
static uint32
key_hash(NgBatchJoinState *bs, ExprState *key, FmgrInfo *hash, Datum *value,
		 bool *isnull)
{
	ExprContext *econtext = bs->key_econtext;
	MemoryContext cxt = CurrentMemoryContext;
	Datum		d;
	uint32		h;

	ResetExprContext(econtext);
	econtext->ecxt_scantuple = bs->css.ss.ss_ScanTupleSlot;
	d = ExecEvalExprSwitchContext(key, econtext, isnull);
	if (*isnull)
		return 0;
	MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
	h = DatumGetUInt32(FunctionCall1Coll(hash, bs->collation, d));
	MemoryContextSwitchTo(cxt);
	if (value != NULL)
		*value = datumCopy(d, bs->key_byval, bs->key_len);
	return h;
}

static void
end_batched_join(CustomScanState *node)
{
	NgBatchJoinState *bs = (NgBatchJoinState *) node;

	ExecEndNode(bs->outer_ps);
	ExecEndNode(&bs->inner_ps->ss.ps);
	MemoryContextDelete(bs->batch_cxt);
	bs->batch_cxt = NULL;
}

/*
 * ReScanCustomScan: start again from the first outer row.  The inner scan
 * is rescanned for every batch anyway.
 */
static void
rescan_batched_join(CustomScanState *node)
{
	NgBatchJoinState *bs = (NgBatchJoinState *) node;

	MemoryContextReset(bs->batch_cxt);
	bs->n_outer = 0;
	bs->inner_slot = NULL;
	bs->have_batch = false;
	bs->outer_done = false;
	if (node->ss.ps.chgParam != NULL)
	{
		UpdateChangedParamSet(bs->outer_ps, node->ss.ps.chgParam);
		UpdateChangedParamSet(&bs->inner_ps->ss.ps, node->ss.ps.chgParam);
	}
	if (bs->outer_ps->chgParam == NULL)
		ExecReScan(bs->outer_ps);
}

/*
 * EXPLAIN: the join type and key; with ANALYZE, the finds and keys sent.
 * (The inner ForeignScan shows the find, with the keys as {"$param":
 * "batch"}.)
 */
static void
explain_batched_join(CustomScanState *node, List *ancestors, ExplainState *es)
{
	NgBatchJoinState *bs = (NgBatchJoinState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
	List	   *context;
	List	   *joinquals = list_copy_tail(cscan->custom_exprs, 2);
	bool		useprefix = list_length(es->rtable) > 1 || es->verbose;

	context = set_deparse_context_plan(es->deparse_cxt, node->ss.ps.plan,
									   ancestors);
	ExplainPropertyText("Join Type",
						bs->jointype == JOIN_LEFT ?
						"Left" : "Inner", es);
	if (joinquals != NIL)
		ExplainPropertyText("Join Filter",
							deparse_expression((Node *) make_ands_explicit(joinquals),
											   context, useprefix, false),
							es);
	ExplainPropertyText("MongoDB Key Field",
						bs->plan->field, es);
	ExplainPropertyText("Outer Key",
						deparse_expression(linitial(cscan->custom_exprs), context,
										   useprefix, false),
						es);
	ExplainPropertyInteger("MongoDB Outer Rows per Find", NULL,
						   bs->keys_per_find,
						   es);
	if (es->analyze)
	{
		ExplainPropertyInteger("MongoDB Batches", NULL, bs->batches, es);
		ExplainPropertyInteger("MongoDB Keys Sent", NULL, bs->keys_sent, es);
	}
}
