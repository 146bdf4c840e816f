/*-------------------------------------------------------------------------
 *
 * remote_stats.c
 *		  Collecting remote statistics: a backend's local counters and
 *		  their flush into the shared table.
 *
 * The hot path (a document read, a row converted) only adds to a
 * backend-local NgStatsCounters that the caller found once per command
 * with ng_stats_entry; no lock is taken and nothing is shared.  The local
 * entries live in a hash in TopMemoryContext and are never removed, so
 * that a pointer held by an open cursor or bulk writer stays valid.
 * ng_stats_flush adds every local entry with activity to the shared table
 * and zeroes it: at the end of a scan, after each bulk write and at the
 * end of every transaction (committed or not: statistics are not
 * transactional).
 *
 * The shared table holds at most nutragenie.stats_max entries.  When a
 * new entry finds it full, the entry with the fewest calls is evicted and
 * counted in "evicted" (nutragenie_fdw.remote_stats_info()).  Without
 * shared_preload_libraries nothing is collected.
 *
 * XXX: the local hash grows with the number of distinct (table,
 * collection, command, mode, role) a backend touches and is only emptied
 * when the backend exits.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/stats/remote_stats.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "stats/stats_int.h"

#define NG_STATS_TRANCHE	"nutragenie stats"

/* A backend-local entry: the key and what has not been flushed yet. */
typedef struct NgStatsLocal
{
	NgStatsKey	key;
	NgStatsCounters counters;
} NgStatsLocal;

/* GUCs */
bool		ng_track_remote_stats = true;
bool		ng_track_remote_timing = true;
static int	ng_stats_max = 5000;

NgStatsShared *ng_stats_shared = NULL;
HTAB	   *ng_stats_hash = NULL;

static HTAB *local_hash = NULL;
static bool local_pending = false;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static Size stats_shmem_size(void);
static void stats_shmem_request(void);
static void stats_shmem_startup(void);
static void stats_xact_callback(XactEvent event, void *arg);
static bool counters_empty(const NgStatsCounters *c);
static NgStatsEntry *shared_entry(const NgStatsKey *key);
static void evict_one(void);

/*
 * Define the GUCs.  Called from _PG_init before the "nutragenie" prefix is
 * reserved; also registers the transaction callback that flushes.
 */
void
ng_stats_define_gucs(void)
{
	DefineCustomBoolVariable("nutragenie.track_remote_stats",
							 "Collects the statistics of nutragenie_fdw.remote_stats.",
							 NULL,
							 &ng_track_remote_stats,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("nutragenie.track_remote_timing",
							 "Times each document's wait and conversion for nutragenie_fdw.remote_stats.",
							 "Three clock readings per document; off, only whole "
							 "commands (one-document finds, counts, bulk writes) "
							 "are timed.",
							 &ng_track_remote_timing,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("nutragenie.stats_max",
							"Entries nutragenie_fdw.remote_stats holds.",
							"When it is full, the entry with the fewest calls "
							"makes room.  Needs shared_preload_libraries.",
							&ng_stats_max,
							5000, 100, 1000000,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	RegisterXactCallback(stats_xact_callback, NULL);
}

/*
 * Ask for the shared table.  Does nothing unless the library is being
 * preloaded.
 */
void
ng_stats_shmem_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = stats_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = stats_shmem_startup;
}

static Size
stats_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(NgStatsShared)),
					hash_estimate_size(ng_stats_max, sizeof(NgStatsEntry)));
}

static void
stats_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(stats_shmem_size());
	RequestNamedLWLockTranche(NG_STATS_TRANCHE, 1);
}

static void
stats_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	ng_stats_shared = ShmemInitStruct("nutragenie stats",
									  sizeof(NgStatsShared), &found);
	if (!found)
	{
		ng_stats_shared->lock = &(GetNamedLWLockTranche(NG_STATS_TRANCHE))->lock;
		ng_stats_shared->max_entries = ng_stats_max;
		ng_stats_shared->evicted = 0;
		ng_stats_shared->reset_time = GetCurrentTimestamp();
	}
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(NgStatsKey);
	info.entrysize = sizeof(NgStatsEntry);
	ng_stats_hash = ShmemInitHash("nutragenie stats hash",
								  ng_stats_max, ng_stats_max,
								  &info, HASH_ELEM | HASH_BLOBS);
	LWLockRelease(AddinShmemInitLock);
}

/*
 * ng_stats_enabled
 *		Is collecting on: the GUC set and the shared table there?
 */
bool
ng_stats_enabled(void)
{
	return ng_track_remote_stats && ng_stats_hash != NULL;
}

/*
 * ng_stats_entry
 *		The local counters of a command, or NULL when collecting is off.
 *		relid may be InvalidOid (the applier, the document cache); the
 *		collection is named by database and collection.  The result stays
 *		valid for the backend's life.  May raise (out of memory).
 */
NgStatsCounters *
ng_stats_entry(Oid relid, Oid userid, const char *database,
			   const char *collection, NgStatsCommand command,
			   NgStatsMode mode)
{
	NgStatsKey	key;
	NgStatsLocal *local;
	bool		found;

	if (!ng_stats_enabled())
		return NULL;

	if (local_hash == NULL)
	{
		HASHCTL		info;

		memset(&info, 0, sizeof(info));
		info.keysize = sizeof(NgStatsKey);
		info.entrysize = sizeof(NgStatsLocal);
		info.hcxt = TopMemoryContext;
		local_hash = hash_create("nutragenie local stats", 64, &info,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}

	memset(&key, 0, sizeof(key));
	key.dbid = MyDatabaseId;
	key.relid = relid;
	key.userid = userid;
	key.command = (int16) command;
	key.mode = (int16) mode;
	snprintf(key.collection, NG_STATS_NAME_LEN, "%s.%s",
			 database ? database : "", collection ? collection : "");

	local = hash_search(local_hash, &key, HASH_ENTER, &found);
	if (!found)
		memset(&local->counters, 0, sizeof(NgStatsCounters));
	local_pending = true;
	return &local->counters;
}

static bool
counters_empty(const NgStatsCounters *c)
{
	return c->calls == 0 && c->documents == 0 && c->bytes_received == 0 &&
		c->bytes_sent == 0 && c->fallbacks == 0 && c->errors == 0 &&
		INSTR_TIME_IS_ZERO(c->wait_time) &&
		INSTR_TIME_IS_ZERO(c->convert_time);
}

/*
 * ng_stats_flush
 *		Add this backend's local counters to the shared table and zero
 *		them.  Cheap when nothing is pending.  Never raises, so that it may
 *		run in abort paths.
 */
void
ng_stats_flush(void)
{
	HASH_SEQ_STATUS seq;
	NgStatsLocal *local;

	if (!local_pending || local_hash == NULL)
		return;
	local_pending = false;
	if (ng_stats_hash == NULL)
		return;

	hash_seq_init(&seq, local_hash);
	while ((local = hash_seq_search(&seq)) != NULL)
	{
		NgStatsCounters *c = &local->counters;
		NgStatsEntry *e;

		if (counters_empty(c))
			continue;

		LWLockAcquire(ng_stats_shared->lock, LW_SHARED);
		e = hash_search(ng_stats_hash, &local->key, HASH_FIND, NULL);
		if (e == NULL)
		{
			LWLockRelease(ng_stats_shared->lock);
			LWLockAcquire(ng_stats_shared->lock, LW_EXCLUSIVE);
			e = shared_entry(&local->key);
		}
		if (e != NULL)
		{
			SpinLockAcquire(&e->mutex);
			e->calls += c->calls;
			e->documents += c->documents;
			e->bytes_received += c->bytes_received;
			e->bytes_sent += c->bytes_sent;
			e->fallbacks += c->fallbacks;
			e->errors += c->errors;
			e->wait_ms += INSTR_TIME_GET_MILLISEC(c->wait_time);
			e->convert_ms += INSTR_TIME_GET_MILLISEC(c->convert_time);
			SpinLockRelease(&e->mutex);
		}
		LWLockRelease(ng_stats_shared->lock);
		memset(c, 0, sizeof(NgStatsCounters));
	}
}

/*
 * The shared entry of key, added (evicting another if the table is full)
 * when missing.  The caller holds the lock exclusively.  NULL only if the
 * table cannot take it even after an eviction.
 */
static NgStatsEntry *
shared_entry(const NgStatsKey *key)
{
	NgStatsEntry *e;
	bool		found;

	e = hash_search(ng_stats_hash, key, HASH_FIND, NULL);
	if (e != NULL)
		return e;
	if (hash_get_num_entries(ng_stats_hash) >= ng_stats_shared->max_entries)
		evict_one();
	e = hash_search(ng_stats_hash, key, HASH_ENTER_NULL, &found);
	if (e != NULL && !found)
	{
		SpinLockInit(&e->mutex);
		e->calls = e->documents = e->bytes_received = e->bytes_sent = 0;
		e->fallbacks = e->errors = 0;
		e->wait_ms = e->convert_ms = 0;
	}
	return e;
}

/*
 * Remove the entry with the fewest calls.  The caller holds the lock
 * exclusively.  A full scan, but only when a new entry finds the table
 * full.
 */
static void
evict_one(void)
{
	HASH_SEQ_STATUS seq;
	NgStatsEntry *e;
	NgStatsEntry *victim = NULL;

	hash_seq_init(&seq, ng_stats_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
		if (victim == NULL || e->calls < victim->calls)
			victim = e;
	if (victim != NULL)
	{
		hash_search(ng_stats_hash, &victim->key, HASH_REMOVE, NULL);
		ng_stats_shared->evicted++;
	}
}

/*
 * ng_stats_discard_local
 *		Zero this backend's unflushed counters (a reset's own backend).
 */
void
ng_stats_discard_local(void)
{
	HASH_SEQ_STATUS seq;
	NgStatsLocal *local;

	if (local_hash == NULL)
		return;
	hash_seq_init(&seq, local_hash);
	while ((local = hash_seq_search(&seq)) != NULL)
		memset(&local->counters, 0, sizeof(NgStatsCounters));
	local_pending = false;
}

static void
stats_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			ng_stats_flush();
			break;
		default:
			break;
	}
}
