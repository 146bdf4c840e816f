/*-------------------------------------------------------------------------
 *
 * write.h
 *		  What the write layer offers: the FDW modify callbacks, the
 *		  transaction's overlay of its unapplied writes, and the applier.
 *
 * Writes to MongoDB foreign tables become outbox rows in the writing
 * transaction and are applied after COMMIT by the applier; the design is
 * docs/dual-write.md.  Scans read the overlay (read your own writes);
 * _PG_init sets the applier up.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/write/write.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef NG_WRITE_H
#define NG_WRITE_H

#include "nutragenie.h"

/* in modify.c: the FDW modify callbacks */
extern void ngAddForeignUpdateTargets(PlannerInfo *root, Index rtindex,
									  RangeTblEntry *target_rte,
									  Relation target_relation);
extern List *ngPlanForeignModify(PlannerInfo *root, ModifyTable *plan,
								 Index resultRelation, int subplan_index);
extern void ngBeginForeignModify(ModifyTableState *mtstate,
								 ResultRelInfo *rinfo, List *fdw_private,
								 int subplan_index, int eflags);
extern TupleTableSlot *ngExecForeignInsert(EState *estate,
										   ResultRelInfo *rinfo,
										   TupleTableSlot *slot,
										   TupleTableSlot *planSlot);
extern TupleTableSlot **ngExecForeignBatchInsert(EState *estate,
												 ResultRelInfo *rinfo,
												 TupleTableSlot **slots,
												 TupleTableSlot **planSlots,
												 int *numSlots);
extern int	ngGetForeignModifyBatchSize(ResultRelInfo *rinfo);
extern TupleTableSlot *ngExecForeignUpdate(EState *estate,
										   ResultRelInfo *rinfo,
										   TupleTableSlot *slot,
										   TupleTableSlot *planSlot);
extern TupleTableSlot *ngExecForeignDelete(EState *estate,
										   ResultRelInfo *rinfo,
										   TupleTableSlot *slot,
										   TupleTableSlot *planSlot);
extern void ngEndForeignModify(EState *estate, ResultRelInfo *rinfo);
extern void ngBeginForeignInsert(ModifyTableState *mtstate,
								 ResultRelInfo *rinfo);
extern void ngEndForeignInsert(EState *estate, ResultRelInfo *rinfo);
extern int	ngIsForeignRelUpdatable(Relation rel);
extern void ngExplainForeignModify(ModifyTableState *mtstate,
								   ResultRelInfo *rinfo, List *fdw_private,
								   int subplan_index, ExplainState *es);

/* in outbox.c: does another transaction have these documents queued? */
extern void ng_outbox_check_queued(NgTableOptions *opts, bson_t **ids, int n);

/* in doclock.c: writers of one document serialized in commit order */
extern void ng_xact_lock_document(NgTableOptions *opts, const uint8 *id,
								  uint32 idlen);

/* in overlay.c: a transaction's unapplied writes */
typedef struct NgOverlayItem
{
	const uint8 *data;			/* BSON bytes of a document */
	uint32		len;
	uint32		ref;			/* ng_xact_document_ref() of the document */
} NgOverlayItem;
extern void ng_xact_init(void);
extern void ng_xact_record_document(NgTableOptions *opts, const uint8 *id,
									uint32 idlen, const bson_t *doc,
									bool written, CommandId cid);
extern void ng_xact_note_outbox_write(void);
extern bool ng_xact_lookup(NgTableOptions *opts, const uint8 *id,
						   uint32 idlen, CommandId before,
						   const uint8 **data, uint32 *len, bool *deleted);
extern bool ng_xact_has_documents(NgTableOptions *opts);
extern uint32 ng_xact_document_ref(NgTableOptions *opts, const uint8 *id,
								   uint32 idlen);
extern bool ng_xact_document_id(NgTableOptions *opts, uint32 ref,
								const uint8 **id, uint32 *idlen);
extern List *ng_xact_collection_documents(NgTableOptions *opts,
										  CommandId before);

/* the applier (applier_shmem.c, applier_backend.c) */
extern void ng_applier_define_gucs(void);
extern void ng_applier_shmem_init(void);
extern bool ng_applier_available(void);
extern void ng_applier_ensure_worker(void);
extern void ng_applier_wait_for_commit(void);

/* in doc_cache.c: the shared document cache, invalidated by the writes */
extern void ng_cache_define_gucs(void);
extern void ng_cache_shmem_init(void);
extern void ng_cache_invalidate(Oid serverid, const char *database,
								const char *collection, const uint8 *id,
								uint32 idlen);
extern void ng_cache_invalidate_all(void);

#endif							/* NG_WRITE_H */
