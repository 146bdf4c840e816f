/*-------------------------------------------------------------------------
 *
 * cursor.h
 *		  Reading a collection without the driver's headers: a collection
 *		  handle owned by a memory context, its cursor, and one-document
 *		  finds and counts.
 *
 * Scans and the planner's remote estimate read MongoDB through this API
 * (cursor.c), so that only src/conn/ includes <mongoc/mongoc.h>.  Errors
 * come back as libbson's bson_error_t; the caller names what it was doing
 * when it reports them with ng_coll_report_error.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/conn/cursor.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef NG_CURSOR_H
#define NG_CURSOR_H

#include "nutragenie.h"
#include "stats/remote_stats.h"

typedef struct NgCollHandle NgCollHandle;

extern NgCollHandle *ng_coll_open(Oid serverid, Oid userid,
								  const char *database,
								  const char *collection);
extern void ng_coll_release(NgCollHandle *h);
extern void ng_coll_track(NgCollHandle *h, Oid relid, NgStatsMode mode);
extern void ng_coll_stats_converted(NgCollHandle *h);
extern void ng_coll_find(NgCollHandle *h, const bson_t *filter,
						 const bson_t *opts);
extern void ng_coll_aggregate(NgCollHandle *h, const bson_t *pipeline,
							  const bson_t *opts);
extern bool ng_coll_next(NgCollHandle *h, const bson_t **doc);
extern bool ng_coll_cursor_failed(NgCollHandle *h, bson_error_t *error);
extern void ng_coll_close_cursor(NgCollHandle *h);
extern bool ng_coll_find_one(NgCollHandle *h, const bson_t *filter,
							 const bson_t *opts, bson_t *found,
							 bson_error_t *error, bool *failed);
extern bool ng_coll_exists(NgCollHandle *h, bson_error_t *error);
extern bool ng_coll_read_command(NgCollHandle *h, const bson_t *command,
								 bson_t *reply, bson_error_t *error);
extern int64 ng_coll_estimated_count(NgCollHandle *h, bson_error_t *error);
extern int64 ng_coll_count(NgCollHandle *h, const bson_t *filter,
						   bson_error_t *error);
extern bool ng_coll_error_is_unsupported(const bson_error_t *error);
pg_noreturn extern void ng_coll_report_error(NgCollHandle *h,
											 const bson_error_t *error,
											 const char *action);

#endif							/* NG_CURSOR_H */
