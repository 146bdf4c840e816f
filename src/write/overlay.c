/*-------------------------------------------------------------------------
 *
 * overlay.c
 *		  A transaction's unapplied writes: the overlay that lets it read its
 *		  own writes, and the transaction callbacks that end them.
 *
 * A write to a MongoDB document is recorded in the outbox (outbox.c) and
 * becomes visible in MongoDB only after the PostgreSQL transaction commits
 * and the applier has run (applier_*.c).  Until then the writing transaction
 * reads its own changes from the overlay kept here: for every document it
 * wrote (or, for UPDATE/DELETE, locked and re-read) the overlay holds the
 * current full document or a tombstone.  Versions are stacked by
 * subtransaction level so that ROLLBACK TO SAVEPOINT drops exactly the
 * changes made after the savepoint, as the outbox rows themselves are, and
 * by command, so that a scan sees the versions made before its statement
 * started and not those the statement itself makes (as PostgreSQL's own
 * tables do: INSERT INTO t SELECT ... FROM t reads t as it was).
 *
 * Writers of a document are serialized by the document locks of
 * doclock.c, which this file's transaction callbacks reset.
 *
 * Every overlay document has a number for the rest of the transaction (its
 * "ref", never reused, even when a savepoint's versions are dropped): a scan
 * that feeds an UPDATE or DELETE hands each row's ref to modify.c, which so
 * changes exactly the document the scan read, by its BSON _id as MongoDB
 * stores it, whatever the type of the column mapped to _id.
 *
 * Every version remembers the user mapping it was written or re-read
 * through, and is shown only to readers using that same mapping: within one
 * transaction several roles may read and write (a SECURITY DEFINER
 * function, SET ROLE, a view owned by another role), and a document one
 * mapping could read must not reach a role whose mapping cannot.  A reader
 * with another mapping sees MongoDB as its own credentials show it, that
 * is without the transaction's pending change; a write through another
 * mapping to a document the overlay holds is refused, since it would
 * stack on a version its writer was not shown.
 *
 * All overlay memory lives in TopTransactionContext: nothing to free on
 * abort, and no driver objects are kept here.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/write/overlay.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "common/hashfn.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "write/write_int.h"

/* One version of a document in the overlay. */
typedef struct NgOverlayVersion
{
	int			level;			/* subtransaction nesting level */
	CommandId	cid;			/* the command that made it */
	Oid			umid;			/* the user mapping it came through */
	bool		deleted;		/* tombstone */
	uint8	   *data;			/* BSON bytes of the document */
	uint32		len;
	struct NgOverlayVersion *next;	/* older version */
} NgOverlayVersion;

/* One document of the overlay. */
typedef struct NgOverlayDoc
{
	Oid			serverid;
	char	   *ns;				/* "database\0collection" */
	int			nslen;
	uint8	   *id;				/* BSON {"_id": value} */
	uint32		idlen;
	uint32		ref;			/* 1 + its position in overlay_docs */
	NgOverlayVersion *top;
} NgOverlayDoc;

/* Hash entry: documents whose key hashes alike. */
typedef struct NgOverlayEntry
{
	uint64		hash;
	List	   *docs;
} NgOverlayEntry;

static HTAB *overlay = NULL;
static List *overlay_docs = NIL;	/* every NgOverlayDoc, in first-write
									 * order */
static bool wrote_outbox = false;

static void xact_callback(XactEvent event, void *arg);
static void subxact_callback(SubXactEvent event, SubTransactionId mySubid,
							 SubTransactionId parentSubid, void *arg);
static void reset_state(void);
static char *make_ns(NgTableOptions *opts, int *len);
static Oid	opts_mapping(NgTableOptions *opts);
static NgOverlayVersion *visible_version(NgOverlayDoc *od, CommandId before,
										 Oid umid);
static NgOverlayDoc *find_doc(NgTableOptions *opts, const uint8 *id,
							  uint32 idlen, bool create);

/*
 * Register the transaction callbacks; once per backend, from _PG_init.
 */
void
ng_xact_init(void)
{
	RegisterXactCallback(xact_callback, NULL);
	RegisterSubXactCallback(subxact_callback, NULL);
}

static void
reset_state(void)
{
	/* the memory went with TopTransactionContext */
	overlay = NULL;
	overlay_docs = NIL;
	ng_doclock_reset();
	wrote_outbox = false;
}

static void
xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			if (wrote_outbox || overlay_docs != NIL)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot prepare a transaction that wrote to MongoDB foreign tables"),
						 errdetail("nutragenie applies MongoDB changes when the transaction commits, which a prepared transaction defers to another session.")));
			break;
		case XACT_EVENT_COMMIT:
			if (wrote_outbox)
			{
				/*
				 * Committed: wait (bounded, never raising) until the applier
				 * has sent our operations; we still hold our document
				 * locks, so the next writer of a document sees it applied.
				 */
				reset_state();
				ng_applier_wait_for_commit();
			}
			else
				reset_state();
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PARALLEL_COMMIT:
			reset_state();
			break;
		default:
			break;
	}
}

/*
 * Savepoints: on rollback drop the versions made inside, on release hand
 * them to the parent level.
 */
static void
subxact_callback(SubXactEvent event, SubTransactionId mySubid,
				 SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();
	ListCell   *lc;

	if (event != SUBXACT_EVENT_ABORT_SUB && event != SUBXACT_EVENT_COMMIT_SUB)
		return;

	foreach(lc, overlay_docs)
	{
		NgOverlayDoc *doc = (NgOverlayDoc *) lfirst(lc);

		if (event == SUBXACT_EVENT_ABORT_SUB)
		{
			while (doc->top != NULL && doc->top->level >= level)
				doc->top = doc->top->next;
		}
		else
		{
			NgOverlayVersion *v;

			/*
			 * The subtransaction's versions become the parent's; older ones
			 * stay, for scans that started before them.
			 */
			for (v = doc->top; v != NULL && v->level >= level; v = v->next)
				v->level = level - 1;
		}
	}
}

/*
 * The user mapping the table's options read and write through, looked up
 * once per options struct.
 */
static Oid
opts_mapping(NgTableOptions *opts)
{
	if (!OidIsValid(opts->umid))
	{
		Oid			userid = OidIsValid(opts->userid) ? opts->userid : GetUserId();

		opts->umid = GetUserMapping(userid, opts->serverid)->umid;
	}
	return opts->umid;
}

static char *
make_ns(NgTableOptions *opts, int *len)
{
	int			dblen = strlen(opts->database);
	int			colllen = strlen(opts->collection);
	char	   *ns = palloc(dblen + colllen + 2);

	memcpy(ns, opts->database, dblen + 1);
	memcpy(ns + dblen + 1, opts->collection, colllen + 1);
	*len = dblen + colllen + 2;
	return ns;
}

/*
 * The overlay document for a key, optionally created (without versions).
 */
static NgOverlayDoc *
find_doc(NgTableOptions *opts, const uint8 *id, uint32 idlen, bool create)
{
	uint64		h;
	NgOverlayEntry *entry;
	NgOverlayDoc *doc;
	ListCell   *lc;
	bool		found;
	int			nslen;
	char	   *ns;
	MemoryContext oldcxt;

	if (overlay == NULL)
	{
		HASHCTL		ctl;

		if (!create)
			return NULL;
		ctl.keysize = sizeof(uint64);
		ctl.entrysize = sizeof(NgOverlayEntry);
		ctl.hcxt = TopTransactionContext;
		overlay = hash_create("nutragenie overlay", 64, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}

	h = ng_doclock_document_hash(opts, id, idlen);
	entry = hash_search(overlay, &h, create ? HASH_ENTER : HASH_FIND, &found);
	if (entry == NULL)
		return NULL;
	if (!found)
		entry->docs = NIL;

	ns = make_ns(opts, &nslen);
	foreach(lc, entry->docs)
	{
		doc = (NgOverlayDoc *) lfirst(lc);
		if (doc->serverid == opts->serverid && doc->nslen == nslen &&
			memcmp(doc->ns, ns, nslen) == 0 && doc->idlen == idlen &&
			memcmp(doc->id, id, idlen) == 0)
		{
			pfree(ns);
			return doc;
		}
	}
	pfree(ns);
	if (!create)
		return NULL;

	oldcxt = MemoryContextSwitchTo(TopTransactionContext);
	doc = palloc0(sizeof(NgOverlayDoc));
	doc->serverid = opts->serverid;
	doc->ns = make_ns(opts, &doc->nslen);
	doc->id = palloc(idlen);
	memcpy(doc->id, id, idlen);
	doc->idlen = idlen;
	entry->docs = lappend(entry->docs, doc);
	overlay_docs = lappend(overlay_docs, doc);
	doc->ref = (uint32) list_length(overlay_docs);
	MemoryContextSwitchTo(oldcxt);
	return doc;
}

/*
 * Record the current state of a document: its new full version, or a
 * tombstone when doc is NULL.  written says whether this is a write of the
 * transaction (false for a locked re-read before UPDATE/DELETE); cid is
 * the writing statement's command (its executor's es_output_cid), which
 * decides which scans see the version.
 */
void
ng_xact_record_document(NgTableOptions *opts, const uint8 *id, uint32 idlen,
						const bson_t *doc, bool written, CommandId cid)
{
	NgOverlayDoc *od = find_doc(opts, id, idlen, true);
	int			level = GetCurrentTransactionNestLevel();
	Oid			umid = opts_mapping(opts);
	NgOverlayVersion *v;

	if (od->top != NULL && od->top->umid != umid)
	{
		bson_t		iddoc;
		bson_iter_t iter;
		const char *idtext = "(none)";

		if (bson_init_static(&iddoc, id, idlen) &&
			bson_iter_init_find(&iter, &iddoc, "_id"))
			idtext = ng_bson_value_to_text(bson_iter_value(&iter));
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("document with _id %s of foreign table \"%s\" was changed in this transaction through another user mapping",
						idtext, opts->relname),
				 errdetail("A transaction changes a document through one user mapping only; this one holds a pending version made through the user mapping of another role."),
				 errhint("Make the change in another transaction, or as the role that made the first change.")));
	}

	if (od->top != NULL && od->top->level == level && od->top->cid == cid)
		v = od->top;			/* replace this level's and command's version */
	else
	{
		v = MemoryContextAllocZero(TopTransactionContext,
								   sizeof(NgOverlayVersion));
		v->level = level;
		v->cid = cid;
		v->umid = umid;
		v->next = od->top;
		od->top = v;
	}
	v->deleted = (doc == NULL);
	/* other backends may serve the old version until the applier has run */
	if (written)
		ng_cache_invalidate(opts->serverid, opts->database, opts->collection,
							id, idlen);
	v->data = NULL;
	v->len = 0;
	if (doc != NULL)
	{
		v->len = doc->len;
		v->data = MemoryContextAlloc(TopTransactionContext, doc->len);
		memcpy(v->data, bson_get_data(doc), doc->len);
	}
}

/*
 * Note that this transaction put rows into the outbox, so that COMMIT waits
 * for them to be applied.
 */
void
ng_xact_note_outbox_write(void)
{
	wrote_outbox = true;
}

/*
 * The newest version of od made by a command before "before", or NULL; also
 * NULL when that version came through another user mapping than umid.
 */
static NgOverlayVersion *
visible_version(NgOverlayDoc *od, CommandId before, Oid umid)
{
	NgOverlayVersion *v;

	for (v = od->top; v != NULL; v = v->next)
	{
		if (v->cid < before)
			return v->umid == umid ? v : NULL;
	}
	return NULL;
}

/*
 * Look a document up in the overlay, as commands before "before" left it
 * (InvalidCommandId: the newest version; a scan passes its snapshot's
 * curcid).  Returns false if the transaction knows nothing about it then;
 * otherwise sets *deleted, and for a live document sets *data and *len to
 * its BSON bytes (valid until the transaction ends).
 */
bool
ng_xact_lookup(NgTableOptions *opts, const uint8 *id, uint32 idlen,
			   CommandId before, const uint8 **data, uint32 *len,
			   bool *deleted)
{
	NgOverlayDoc *od;
	NgOverlayVersion *v;

	if (overlay_docs == NIL)
		return false;
	od = find_doc(opts, id, idlen, false);
	if (od == NULL ||
		(v = visible_version(od, before, opts_mapping(opts))) == NULL)
		return false;
	*deleted = v->deleted;
	*data = v->data;
	*len = v->len;
	return true;
}

/*
 * Does the transaction hold overlay documents of this table's collection?
 */
bool
ng_xact_has_documents(NgTableOptions *opts)
{
	ListCell   *lc;
	int			nslen;
	char	   *ns;
	bool		result = false;
	Oid			umid;

	if (overlay_docs == NIL)
		return false;
	umid = opts_mapping(opts);
	ns = make_ns(opts, &nslen);
	foreach(lc, overlay_docs)
	{
		NgOverlayDoc *doc = (NgOverlayDoc *) lfirst(lc);

		if (doc->top != NULL && doc->top->umid == umid &&
			doc->serverid == opts->serverid &&
			doc->nslen == nslen && memcmp(doc->ns, ns, nslen) == 0)
		{
			result = true;
			break;
		}
	}
	pfree(ns);
	return result;
}

/*
 * The live overlay documents of this table's collection, as a List of
 * NgOverlayItem (palloc'd in the current context; data points into the
 * overlay).
 */
List *
ng_xact_collection_documents(NgTableOptions *opts, CommandId before)
{
	List	   *result = NIL;
	ListCell   *lc;
	int			nslen;
	char	   *ns;
	Oid			umid;

	if (overlay_docs == NIL)
		return NIL;
	umid = opts_mapping(opts);
	ns = make_ns(opts, &nslen);
	foreach(lc, overlay_docs)
	{
		NgOverlayDoc *doc = (NgOverlayDoc *) lfirst(lc);
		NgOverlayVersion *v;
		NgOverlayItem *item;

		if (doc->serverid != opts->serverid || doc->nslen != nslen ||
			memcmp(doc->ns, ns, nslen) != 0)
			continue;
		v = visible_version(doc, before, umid);
		if (v == NULL || v->deleted)
			continue;
		item = palloc(sizeof(NgOverlayItem));
		item->data = v->data;
		item->len = v->len;
		item->ref = doc->ref;
		result = lappend(result, item);
	}
	pfree(ns);
	return result;
}

/*
 * The ref of an overlay document (see the file header), or 0 when the
 * transaction has no version of it.
 */
uint32
ng_xact_document_ref(NgTableOptions *opts, const uint8 *id, uint32 idlen)
{
	NgOverlayDoc *od;

	if (overlay_docs == NIL)
		return 0;
	od = find_doc(opts, id, idlen, false);
	return od != NULL ? od->ref : 0;
}

/*
 * The BSON {"_id": value} of the overlay document numbered ref, which must
 * belong to the table's collection: false if there is no such document.
 * *id points into the overlay (valid until the transaction ends).
 */
bool
ng_xact_document_id(NgTableOptions *opts, uint32 ref, const uint8 **id,
					uint32 *idlen)
{
	NgOverlayDoc *od;
	int			nslen;
	char	   *ns;
	bool		same;

	if (ref == 0 || ref > (uint32) list_length(overlay_docs))
		return false;
	od = (NgOverlayDoc *) list_nth(overlay_docs, ref - 1);
	ns = make_ns(opts, &nslen);
	same = od->serverid == opts->serverid && od->nslen == nslen &&
		memcmp(od->ns, ns, nslen) == 0;
	pfree(ns);
	if (!same)
		return false;
	*id = od->id;
	*idlen = od->idlen;
	return true;
}
