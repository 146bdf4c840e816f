/*-------------------------------------------------------------------------
 *
 * remote_stats.h
 *		  Statistics of what the wrapper sends to MongoDB and what it costs:
 *		  per-backend counters, flushed into a shared table.
 *
 * The layers that talk to the server (conn/cursor.c for reads,
 * conn/bulk.c for the applier's writes) and the executor (exec/scan.c,
 * for conversion time and fallbacks) add to a backend-local entry, found
 * once per command and then updated with plain additions; ng_stats_flush
 * moves every local entry into shared memory (remote_stats.c) at the end
 * of a scan, of a bulk write and of each transaction.  The view
 * nutragenie_fdw.remote_stats reads the shared table (remote_stats_view.c).
 *
 * This header depends on PostgreSQL only, so that every layer may use it.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/stats/remote_stats.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef NG_REMOTE_STATS_H
#define NG_REMOTE_STATS_H

#include "portability/instr_time.h"

/* The command sent (the view's "command" column). */
typedef enum NgStatsCommand
{
	NG_STATS_FIND,
	NG_STATS_AGGREGATE,
	NG_STATS_COUNT,
	NG_STATS_INSERT,
	NG_STATS_UPDATE,
	NG_STATS_DELETE,
	NG_STATS_COMMAND,
	NG_STATS_NCOMMANDS
} NgStatsCommand;

/* Why it was sent (the view's "mode" column). */
typedef enum NgStatsMode
{
	NG_STATS_PUSHED,			/* a scan's query, as planned */
	NG_STATS_KEY_JOIN,			/* a batched key join's finds */
	NG_STATS_FALLBACK,			/* a scan's query while it computes locally */
	NG_STATS_SINGLE,			/* one-document finds: guards, re-reads,
								 * the document cache */
	NG_STATS_APPLIER,			/* the applier's writes */
	NG_STATS_DIRECT,			/* anything else (planner estimates) */
	NG_STATS_NMODES
} NgStatsMode;

/* The counters of one (table, collection, command, mode). */
typedef struct NgStatsCounters
{
	int64		calls;			/* commands (and cursor batches' start) */
	int64		documents;		/* documents received (reads) or sent
								 * (writes) */
	int64		bytes_received;
	int64		bytes_sent;
	int64		fallbacks;
	int64		errors;
	instr_time	wait_time;		/* inside the driver, waiting on the server */
	instr_time	convert_time;	/* documents into rows */
} NgStatsCounters;

/* GUCs */
extern PGDLLIMPORT bool ng_track_remote_stats;
extern PGDLLIMPORT bool ng_track_remote_timing;

extern void ng_stats_define_gucs(void);
extern void ng_stats_shmem_init(void);
extern NgStatsCounters *ng_stats_entry(Oid relid, Oid userid,
									   const char *database,
									   const char *collection,
									   NgStatsCommand command,
									   NgStatsMode mode);
extern void ng_stats_flush(void);

/* Is collecting on (GUC set, shared memory there)? */
extern bool ng_stats_enabled(void);

#endif							/* NG_REMOTE_STATS_H */
