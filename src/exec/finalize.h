/*-------------------------------------------------------------------------
 *
 * finalize.h
 *		  Merging the partial groups of an aggregation pipeline and
 *		  finalizing its aggregates (finalize.c), for the scan.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/exec/finalize.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef NG_FINALIZE_H
#define NG_FINALIZE_H

#include "bson/bson_map.h"
#include "plan/plan.h"

typedef struct NgPartialGroups NgPartialGroups;

extern NgPartialGroups *ng_finalize_begin(const NgScanPlan *plan,
										  NgTableOptions *result_opts,
										  MemoryContext cxt);
extern bool ng_finalize_add(NgPartialGroups *groups, const bson_t *doc);
extern void ng_finalize_end(NgPartialGroups *groups);
extern bool ng_finalize_check(NgPartialGroups *groups);
extern bool ng_finalize_next(NgPartialGroups *groups, Datum *values,
							 bool *isnull);

#endif							/* NG_FINALIZE_H */
