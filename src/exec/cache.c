/*-------------------------------------------------------------------------
 *
 * cache.c
 *		  The shared cache of MongoDB documents read by the domain functions.
 *
 * ng_cached_document() reads one document by _id through a foreign server
 * and keeps its BSON bytes in shared memory for nutragenie.cache_ttl, so
 * that every backend serves repeated reads (ng_full_recipe ...) without a
 * round trip.  The cache is a direct-mapped array of nutragenie.cache_size
 * slots: a key (server OID, database, collection, {"_id": v}) hashes to
 * one slot, and a new document evicts whatever was there.  A slot holds
 * the key bytes, so a hash collision is a miss, never a wrong document.
 * Integral numeric _ids are keyed as int64, since MongoDB matches 5 and
 * NumberLong(5) alike and the writer and the reader may spell them
 * differently.
 *
 * Access.  A slot also records whose credentials read it: the user mapping
 * (OID, and a hash of its options and the server's, so that a changed
 * password or address is a different reader).  It is served only to a
 * caller whose own mapping is that one; anyone else reads MongoDB through
 * its own mapping, and gets its own error if that mapping cannot read
 * (the document then replaces the slot's).  The _id is always looked up
 * as a value ({"_id": {"$eq": v}}): an id such as {"$ne": null} is a
 * document _id, never a query operator.
 *
 * Invalidation.  nutragenie writes a document in two steps: the statement
 * records it in the transaction (ng_xact_record_document) and the applier
 * sends it to MongoDB after COMMIT.  Both invalidate the document's slot
 * (ng_cache_invalidate); the second one, made after MongoDB accepted the
 * write, is the one that matters for other backends, and since COMMIT waits
 * for the applier, the writer's COMMIT returns after it.  Every
 * invalidation bumps the slot's generation, and a reader only stores the
 * document it read from MongoDB if the generation is the one it saw before
 * the read: a read that raced with a write never puts the old version back.
 * A transaction that wrote the document reads its own version from the
 * overlay (xact.c) and never consults the cache.  Writes made behind
 * nutragenie's back (another MongoDB client, ng_run_command) are seen only
 * when the entry expires.
 *
 * The shared memory exists only when the library is preloaded; otherwise
 * the cache is off and ng_cached_document() always reads MongoDB.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/exec/cache.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "common/hashfn.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "conn/cursor.h"

#define NG_CACHE_TRANCHE		"nutragenie cache"
#define NG_CACHE_LOCKS			16
/* key and document bytes of one slot; larger documents are not cached */
#define NG_CACHE_SLOT_BYTES		16384

/* One cached document. */
typedef struct NgCacheSlot
{
	uint64		generation;		/* bumped by every invalidation */
	bool		valid;
	TimestampTz stored;
	Oid			umid;			/* the user mapping that read it */
	uint64		credhash;		/* its options and the server's */
	uint32		keylen;
	uint32		doclen;
	uint8		data[NG_CACHE_SLOT_BYTES];	/* key, then the document */
} NgCacheSlot;

/* The shared part: counters, then the slots. */
typedef struct NgCacheShared
{
	LWLockPadded *locks;		/* NG_CACHE_LOCKS of them */
	int			nslots;
	pg_atomic_uint64 hits;
	pg_atomic_uint64 misses;
	pg_atomic_uint64 invalidations;
	pg_atomic_uint64 stores;
	NgCacheSlot slots[FLEXIBLE_ARRAY_MEMBER];
} NgCacheShared;

/* GUCs */
static int	ng_cache_size = 1024;
static int	ng_cache_ttl_ms = 300000;

static NgCacheShared *cache_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static Size cache_shmem_size(void);
static void cache_shmem_request(void);
static void cache_shmem_startup(void);
static uint8 *make_key(Oid serverid, const char *database,
					   const char *collection, const uint8 *id,
					   uint32 idlen, uint32 *keylen);
static void append_id_value(StringInfo buf, const uint8 *id, uint32 idlen);
static NgCacheSlot *key_slot(const uint8 *key, uint32 keylen, LWLock **lock);
static uint64 credentials_hash(ForeignServer *server, UserMapping *um);
static bson_t *read_document(Oid serverid, const char *database,
							 const char *collection, const bson_t *iddoc);
static Datum bson_bytes_to_jsonb(const uint8 *data, uint32 len);

/*
 * Define the cache's GUCs.  Called from _PG_init before the "nutragenie"
 * prefix is reserved.
 */
void
ng_cache_define_gucs(void)
{
	DefineCustomIntVariable("nutragenie.cache_size",
							"Number of documents the shared document cache holds.",
							"Each slot takes about 16 kB of shared memory; 0 turns the "
							"cache off.  Needs shared_preload_libraries.",
							&ng_cache_size,
							1024, 0, 1000000,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("nutragenie.cache_ttl",
							"How long a cached document may be served.",
							"0 turns the cache off: every read goes to MongoDB.",
							&ng_cache_ttl_ms,
							300000, 0, INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
}

/*
 * Ask for the cache's shared memory.  Does nothing unless the library is
 * being preloaded.
 */
void
ng_cache_shmem_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = cache_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = cache_shmem_startup;
}

static Size
cache_shmem_size(void)
{
	return add_size(offsetof(NgCacheShared, slots),
					mul_size(sizeof(NgCacheSlot), ng_cache_size));
}

static void
cache_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	if (ng_cache_size <= 0)
		return;
	RequestAddinShmemSpace(MAXALIGN(cache_shmem_size()));
	RequestNamedLWLockTranche(NG_CACHE_TRANCHE, NG_CACHE_LOCKS);
}

static void
cache_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	if (ng_cache_size <= 0)
		return;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	cache_shared = ShmemInitStruct("nutragenie cache", cache_shmem_size(),
								   &found);
	if (!found)
	{
		int			i;

		cache_shared->locks = GetNamedLWLockTranche(NG_CACHE_TRANCHE);
		cache_shared->nslots = ng_cache_size;
		pg_atomic_init_u64(&cache_shared->hits, 0);
		pg_atomic_init_u64(&cache_shared->misses, 0);
		pg_atomic_init_u64(&cache_shared->invalidations, 0);
		pg_atomic_init_u64(&cache_shared->stores, 0);
		for (i = 0; i < ng_cache_size; i++)
		{
			cache_shared->slots[i].generation = 0;
			cache_shared->slots[i].valid = false;
		}
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * The value of {"_id": v} as key bytes: its BSON type and value, with
 * int32 and integral doubles written as int64.
 */
static void
append_id_value(StringInfo buf, const uint8 *id, uint32 idlen)
{
	bson_t		doc;
	bson_iter_t it;
	int64		n;
	uint8		type;

	if (!bson_init_static(&doc, id, idlen) ||
		!bson_iter_init_find(&it, &doc, "_id"))
	{
		appendBinaryStringInfo(buf, (const char *) id, idlen);
		return;
	}
	switch (bson_iter_type(&it))
	{
		case BSON_TYPE_INT32:
			n = bson_iter_int32(&it);
			break;
		case BSON_TYPE_INT64:
			n = bson_iter_int64(&it);
			break;
		case BSON_TYPE_DOUBLE:
			{
				double		d = bson_iter_double(&it);

				if (d >= -9.2e18 && d <= 9.2e18 && d == (double) (int64) d)
				{
					n = (int64) d;
					break;
				}
			}
			/* FALLTHROUGH */
		default:
			/* any other _id: its BSON document as it is */
			appendBinaryStringInfo(buf, (const char *) id, idlen);
			return;
	}
	type = (uint8) BSON_TYPE_INT64;
	appendBinaryStringInfo(buf, (const char *) &type, 1);
	appendBinaryStringInfo(buf, (const char *) &n, sizeof(n));
}

/*
 * The key of a document, palloc'd: server OID, "database\0collection\0",
 * then the _id (see append_id_value).
 */
static uint8 *
make_key(Oid serverid, const char *database, const char *collection,
		 const uint8 *id, uint32 idlen, uint32 *keylen)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, (const char *) &serverid, sizeof(Oid));
	appendBinaryStringInfo(&buf, database, strlen(database) + 1);
	appendBinaryStringInfo(&buf, collection, strlen(collection) + 1);
	append_id_value(&buf, id, idlen);
	*keylen = buf.len;
	return (uint8 *) buf.data;
}

/* The slot of a key and the lock that guards it. */
static NgCacheSlot *
key_slot(const uint8 *key, uint32 keylen, LWLock **lock)
{
	uint64		h = hash_bytes_extended(key, keylen, 0);
	uint32		i = (uint32) (h % (uint64) cache_shared->nslots);

	*lock = &cache_shared->locks[i % NG_CACHE_LOCKS].lock;
	return &cache_shared->slots[i];
}

/*
 * A hash of what a reader connects with: the server's options and the user
 * mapping's, names and values.
 */
static uint64
credentials_hash(ForeignServer *server, UserMapping *um)
{
	StringInfoData buf;
	List	   *lists[2] = {server->options, um->options};
	uint64		h;

	initStringInfo(&buf);
	for (int i = 0; i < 2; i++)
	{
		ListCell   *lc;

		foreach(lc, lists[i])
		{
			DefElem    *def = lfirst_node(DefElem, lc);

			appendStringInfo(&buf, "%s=", def->defname);
			appendBinaryStringInfo(&buf, defGetString(def),
								   strlen(defGetString(def)) + 1);
		}
		appendStringInfoChar(&buf, '\0');
	}
	h = hash_bytes_extended((const unsigned char *) buf.data, buf.len, 0);
	pfree(buf.data);
	return h;
}

/*
 * Stop serving a document: drop it from its slot (if it is there) and bump
 * the slot's generation so that no read begun earlier stores it again.
 * id is the BSON document {"_id": value}.  Called by writers (xact.c) and
 * by the applier once MongoDB has the change.  Never raises except on
 * out-of-memory.
 */
void
ng_cache_invalidate(Oid serverid, const char *database,
					const char *collection, const uint8 *id, uint32 idlen)
{
	uint8	   *key;
	uint32		keylen;
	NgCacheSlot *slot;
	LWLock	   *lock;

	if (cache_shared == NULL)
		return;
	key = make_key(serverid, database, collection, id, idlen, &keylen);
	slot = key_slot(key, keylen, &lock);
	LWLockAcquire(lock, LW_EXCLUSIVE);
	slot->generation++;
	if (slot->valid && slot->keylen == keylen &&
		memcmp(slot->data, key, keylen) == 0)
		slot->valid = false;
	LWLockRelease(lock);
	pg_atomic_fetch_add_u64(&cache_shared->invalidations, 1);
	pfree(key);
}

/*
 * Find a document by _id on the server with the current user's mapping.
 * iddoc is {"_id": v}; v is matched as a value with $eq, so that an _id
 * that is itself a document of $-keys is never read as query operators.
 * Returns a read-only bson_t over palloc'd bytes (nothing to destroy), or
 * NULL when there is none.  Raises on a driver error; the collection
 * handle releases its driver objects either way.
 */
static bson_t *
read_document(Oid serverid, const char *database, const char *collection,
			  const bson_t *iddoc)
{
	NgCollHandle *coll;
	bson_t	   *result = palloc(sizeof(bson_t));
	bson_t		opts;
	bson_t		filter;
	bson_t		eq;
	bson_iter_t it;
	bson_error_t error;
	bool		found;
	bool		failed;

	coll = ng_coll_open(serverid, GetUserId(), database, collection);
	bson_init(&filter);
	BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &eq);
	if (bson_iter_init_find(&it, iddoc, "_id"))
		bson_append_iter(&eq, "$eq", 3, &it);
	bson_append_document_end(&filter, &eq);
	bson_init(&opts);
	BSON_APPEND_INT32(&opts, "limit", 1);
	PG_TRY();
	{
		found = ng_coll_find_one(coll, &filter, &opts, result, &error,
								 &failed);
	}
	PG_FINALLY();
	{
		bson_destroy(&opts);
		bson_destroy(&filter);
	}
	PG_END_TRY();

	if (failed)
		ng_coll_report_error(coll, &error,
							 psprintf("read a document of collection \"%s.%s\"",
									  database, collection));
	ng_coll_release(coll);
	return found ? result : NULL;
}

/* A document's BSON bytes as relaxed Extended JSON jsonb. */
static Datum
bson_bytes_to_jsonb(const uint8 *data, uint32 len)
{
	NgConverter conv;
	bson_t		doc;
	bool		isnull;

	if (!bson_init_static(&doc, data, len))
		elog(ERROR, "invalid BSON document in the nutragenie cache");
	ng_converter_init(&conv, JSONBOID, -1, NG_MISMATCH_ERROR, NG_JSON_RELAXED);
	return ng_bson_document_to_datum(&conv, &doc, &isnull);
}

/*
 * Stop serving every cached document, e.g. after a command that may have
 * written documents we cannot name.  Never raises.
 */
void
ng_cache_invalidate_all(void)
{
	if (cache_shared == NULL)
		return;
	for (int i = 0; i < cache_shared->nslots; i++)
	{
		LWLock	   *lock = &cache_shared->locks[i % NG_CACHE_LOCKS].lock;

		LWLockAcquire(lock, LW_EXCLUSIVE);
		cache_shared->slots[i].generation++;
		cache_shared->slots[i].valid = false;
		LWLockRelease(lock);
	}
	pg_atomic_fetch_add_u64(&cache_shared->invalidations, 1);
}

PG_FUNCTION_INFO_V1(ng_cached_document);

/*
 * ng_cached_document(server name, database text, collection text,
 * id jsonb) RETURNS jsonb: the document with that _id (relaxed Extended
 * JSON, e.g. {"$oid": "..."} for an ObjectId), from the transaction's own
 * writes, else the cache when fresh, else MongoDB (then cached); NULL when
 * there is none.  The caller needs USAGE on the server and a user mapping,
 * as for a foreign table, and the cache answers only with what that same
 * mapping read (see the file header).
 */
Datum
ng_cached_document(PG_FUNCTION_ARGS)
{
	ForeignServer *server;
	UserMapping *um;
	uint64		credhash;
	AclResult	aclresult;
	char	   *database = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *collection = text_to_cstring(PG_GETARG_TEXT_PP(2));
	char	   *idjson;
	char	   *json;
	bson_t		iddoc;
	bson_error_t error;
	NgTableOptions opts;
	const uint8 *data;
	uint32		len;
	bool		deleted;
	bool		use_cache;
	uint8	   *key = NULL;
	uint32		keylen = 0;
	NgCacheSlot *slot = NULL;
	LWLock	   *lock = NULL;
	uint64		generation = 0;
	bson_t	   *doc;
	Datum		result;

	server = GetForeignServerByName(NameStr(*PG_GETARG_NAME(0)), false);
	aclresult = ng_foreign_server_aclcheck(server->serverid, GetUserId(),
										   ACL_USAGE);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FOREIGN_SERVER, server->servername);
	/* raises when the user has no mapping, as a foreign table read would */
	um = GetUserMapping(GetUserId(), server->serverid);
	credhash = credentials_hash(server, um);

	idjson = DatumGetCString(DirectFunctionCall1(jsonb_out,
												 PG_GETARG_DATUM(3)));
	json = psprintf("{\"_id\": %s}", idjson);
	if (!bson_init_from_json(&iddoc, json, -1, &error))
	{
		char		detail[sizeof(error.message)];

		strlcpy(detail, error.message, sizeof(detail));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid document id: %s", idjson),
				 errdetail_internal("%s", detail),
				 errhint("Write an ObjectId as {\"$oid\": \"...\"}.")));
	}

	/* the transaction's own version first: the cache may be older */
	memset(&opts, 0, sizeof(opts));
	opts.serverid = server->serverid;
	opts.database = database;
	opts.collection = collection;
	opts.umid = um->umid;		/* only what this mapping wrote or read */
	if (ng_xact_lookup(&opts, bson_get_data(&iddoc), iddoc.len,
					   InvalidCommandId, &data, &len, &deleted))
	{
		bson_destroy(&iddoc);
		if (deleted)
			PG_RETURN_NULL();
		PG_RETURN_DATUM(bson_bytes_to_jsonb(data, len));
	}

	use_cache = cache_shared != NULL && ng_cache_ttl_ms > 0;
	if (use_cache)
	{
		key = make_key(server->serverid, database, collection,
					   bson_get_data(&iddoc), iddoc.len, &keylen);
		slot = key_slot(key, keylen, &lock);
		LWLockAcquire(lock, LW_SHARED);
		if (slot->valid && slot->keylen == keylen &&
			memcmp(slot->data, key, keylen) == 0 &&
			slot->umid == um->umid && slot->credhash == credhash &&
			!TimestampDifferenceExceeds(slot->stored, GetCurrentTimestamp(),
										ng_cache_ttl_ms))
		{
			uint8	   *copy = palloc(slot->doclen);

			memcpy(copy, slot->data + keylen, slot->doclen);
			len = slot->doclen;
			LWLockRelease(lock);
			pg_atomic_fetch_add_u64(&cache_shared->hits, 1);
			bson_destroy(&iddoc);
			PG_RETURN_DATUM(bson_bytes_to_jsonb(copy, len));
		}
		generation = slot->generation;
		LWLockRelease(lock);
		pg_atomic_fetch_add_u64(&cache_shared->misses, 1);
	}

	PG_TRY();
	{
		doc = read_document(server->serverid, database, collection, &iddoc);
	}
	PG_FINALLY();
	{
		bson_destroy(&iddoc);
	}
	PG_END_TRY();

	if (doc == NULL)
		PG_RETURN_NULL();

	if (use_cache && keylen + doc->len <= NG_CACHE_SLOT_BYTES)
	{
		LWLockAcquire(lock, LW_EXCLUSIVE);
		/* an invalidation since our read began: what we read may be old */
		if (slot->generation == generation)
		{
			memcpy(slot->data, key, keylen);
			memcpy(slot->data + keylen, bson_get_data(doc), doc->len);
			slot->keylen = keylen;
			slot->doclen = doc->len;
			slot->umid = um->umid;
			slot->credhash = credhash;
			slot->stored = GetCurrentTimestamp();
			slot->valid = true;
			pg_atomic_fetch_add_u64(&cache_shared->stores, 1);
		}
		LWLockRelease(lock);
	}

	result = bson_bytes_to_jsonb(bson_get_data(doc), doc->len);
	PG_RETURN_DATUM(result);
}

PG_FUNCTION_INFO_V1(ng_cache_stats);

/*
 * ng_cache_stats(): one row of the cache's state and counters since the
 * server started (or the last ng_cache_reset).
 */
Datum
ng_cache_stats(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[8];
	bool		nulls[8];
	int64		entries = 0;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	memset(nulls, 0, sizeof(nulls));

	if (cache_shared != NULL)
	{
		int			i;

		for (i = 0; i < cache_shared->nslots; i++)
			if (cache_shared->slots[i].valid)
				entries++;	/* racy, a snapshot is good enough */
	}
	values[0] = BoolGetDatum(cache_shared != NULL && ng_cache_ttl_ms > 0);
	values[1] = Int32GetDatum(cache_shared != NULL ? cache_shared->nslots : 0);
	values[2] = Int64GetDatum(entries);
	values[3] = Int64GetDatum(cache_shared != NULL ?
							  (int64) pg_atomic_read_u64(&cache_shared->hits) : 0);
	values[4] = Int64GetDatum(cache_shared != NULL ?
							  (int64) pg_atomic_read_u64(&cache_shared->misses) : 0);
	values[5] = Int64GetDatum(cache_shared != NULL ?
							  (int64) pg_atomic_read_u64(&cache_shared->stores) : 0);
	values[6] = Int64GetDatum(cache_shared != NULL ?
							  (int64) pg_atomic_read_u64(&cache_shared->invalidations) : 0);
	values[7] = Int32GetDatum(ng_cache_ttl_ms);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values,
													  nulls)));
}

PG_FUNCTION_INFO_V1(ng_cache_reset);

/*
 * ng_cache_reset(): drop every cached document and zero the counters.
 * Bumps every generation, so reads under way store nothing.
 */
Datum
ng_cache_reset(PG_FUNCTION_ARGS)
{
	if (cache_shared == NULL)
		PG_RETURN_VOID();
	ng_cache_invalidate_all();
	pg_atomic_write_u64(&cache_shared->hits, 0);
	pg_atomic_write_u64(&cache_shared->misses, 0);
	pg_atomic_write_u64(&cache_shared->stores, 0);
	pg_atomic_write_u64(&cache_shared->invalidations, 0);
	PG_RETURN_VOID();
}
