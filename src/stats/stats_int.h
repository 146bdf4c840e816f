/*-------------------------------------------------------------------------
 *
 * stats_int.h
 *		  The shared table of remote statistics, private to src/stats/.
 *
 * remote_stats.c owns the table (creation, flushes, eviction, reset);
 * remote_stats_view.c reads it for the SQL functions.  Entries are found
 * under the table's LWLock (shared to find or update, exclusive to add,
 * evict or remove); an entry's counters change under its spinlock.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/stats/stats_int.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef NG_STATS_INT_H
#define NG_STATS_INT_H

#include "storage/lwlock.h"
#include "storage/spin.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

#include "stats/remote_stats.h"

/* "database.collection", truncated to fit (zero-padded: the key is hashed) */
#define NG_STATS_NAME_LEN	128

typedef struct NgStatsKey
{
	Oid			dbid;			/* PostgreSQL database */
	Oid			relid;			/* foreign table, or InvalidOid (applier) */
	Oid			userid;			/* role whose user mapping sent it */
	int16		command;		/* NgStatsCommand */
	int16		mode;			/* NgStatsMode */
	char		collection[NG_STATS_NAME_LEN];
} NgStatsKey;

/* One entry of the shared table. */
typedef struct NgStatsEntry
{
	NgStatsKey	key;
	slock_t		mutex;			/* protects the counters */
	int64		calls;
	int64		documents;
	int64		bytes_received;
	int64		bytes_sent;
	int64		fallbacks;
	int64		errors;
	double		wait_ms;
	double		convert_ms;
} NgStatsEntry;

/* The table's header. */
typedef struct NgStatsShared
{
	LWLock	   *lock;
	int			max_entries;
	int64		evicted;		/* entries dropped to make room (under lock,
								 * exclusive) */
	TimestampTz reset_time;
} NgStatsShared;

extern NgStatsShared *ng_stats_shared;
extern HTAB *ng_stats_hash;

extern void ng_stats_discard_local(void);

#endif							/* NG_STATS_INT_H */
