/*-------------------------------------------------------------------------
 *
 * doclock.c
 *		  Document locks: writers of one MongoDB document serialized in
 *		  commit order.
 *
 * Document locks serialize writers of one document in commit order: they
 * are transaction-level heavyweight locks (LOCKTAG_ADVISORY in our own key
 * space) and are released by PostgreSQL after the commit callback, in which
 * the committer waits for the applier.  Past NG_LOCK_ESCALATION documents
 * of one collection a transaction takes one collection-wide lock instead.
 *
 * UPDATE and DELETE take the lock before reading the row they change
 * (modify.c re-reads the document once they hold it), which is what makes
 * "SET n = n + 1" from many sessions exact.  The bookkeeping lives in
 * TopTransactionContext; overlay.c's transaction callbacks forget it
 * (ng_doclock_reset).
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/write/doclock.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "write/write_int.h"

/* lock key spaces in LOCKTAG_ADVISORY's fourth field (ours, not SQL's 1/2) */
#define NG_LOCKSPACE_DOCUMENT	0x4E47
#define NG_LOCKSPACE_COLLECTION 0x4E48

/* documents of one collection locked one by one before escalating */
#define NG_LOCK_ESCALATION		256

/* Per-collection lock bookkeeping. */
typedef struct NgCollLock
{
	uint64		hash;
	int			documents;
	bool		escalated;
} NgCollLock;

static HTAB *coll_locks = NULL;

static uint64 collection_hash(NgTableOptions *opts);

/*
 * ng_doclock_reset
 *		Forget the transaction's lock bookkeeping (its memory went with
 *		TopTransactionContext; the locks themselves with the transaction).
 */
void
ng_doclock_reset(void)
{
	coll_locks = NULL;
}

static uint64
collection_hash(NgTableOptions *opts)
{
	uint64		h = hash_bytes_uint32_extended(opts->serverid, 0);

	h = hash_bytes_extended((const unsigned char *) opts->database,
							strlen(opts->database), h);
	return hash_bytes_extended((const unsigned char *) opts->collection,
							   strlen(opts->collection) + 1, h);
}

/*
 * ng_doclock_document_hash
 *		The hash of a document (server, namespace and BSON {"_id": value}):
 *		its lock key, and the overlay's hash key.
 */
uint64
ng_doclock_document_hash(NgTableOptions *opts, const uint8 *id, uint32 idlen)
{
	return hash_bytes_extended(id, idlen, collection_hash(opts));
}

/*
 * Lock a document of the table's collection for the rest of the
 * transaction, waiting for a concurrent writer to commit and be applied.
 * id is the BSON document {"_id": value}.
 */
void
ng_xact_lock_document(NgTableOptions *opts, const uint8 *id, uint32 idlen)
{
	uint64		ch = collection_hash(opts);
	NgCollLock *cl;
	LOCKTAG		tag;
	bool		found;

	if (coll_locks == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(uint64);
		ctl.entrysize = sizeof(NgCollLock);
		ctl.hcxt = TopTransactionContext;
		coll_locks = hash_create("nutragenie collection locks", 16, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	cl = hash_search(coll_locks, &ch, HASH_ENTER, &found);
	if (!found)
	{
		cl->documents = 0;
		cl->escalated = false;
		SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (ch >> 32),
							 (uint32) ch, NG_LOCKSPACE_COLLECTION);
		(void) LockAcquire(&tag, RowExclusiveLock, false, false);
	}
	if (cl->escalated)
		return;

	if (cl->documents >= NG_LOCK_ESCALATION)
	{
		SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (ch >> 32),
							 (uint32) ch, NG_LOCKSPACE_COLLECTION);
		(void) LockAcquire(&tag, ExclusiveLock, false, false);
		cl->escalated = true;
		return;
	}

	{
		uint64		dh = ng_doclock_document_hash(opts, id, idlen);

		SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (dh >> 32),
							 (uint32) dh, NG_LOCKSPACE_DOCUMENT);
		if (LockAcquire(&tag, ExclusiveLock, false, false) !=
			LOCKACQUIRE_ALREADY_HELD)
			cl->documents++;
	}
}
