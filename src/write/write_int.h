/*-------------------------------------------------------------------------
 *
 * write_int.h
 *		  What the files of the write layer share among themselves.
 *
 * Internal SQL on the outbox and dead letters (internal_sql.c), the model
 * of which applied changes matched no document (matched.c), and the
 * connection layer's driver-free API, which the modify callbacks and the
 * applier talk to MongoDB through.  Nothing outside src/write/ includes
 * this header.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/write/write_int.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef NG_WRITE_INT_H
#define NG_WRITE_INT_H

#include "executor/spi.h"

#include "bson/bson_map.h"
#include "conn/conn.h"
#include "write/write.h"

/* in internal_sql.c */
extern int	ng_internal_sql_execute(SPIPlanPtr *planp, const char *sql,
									int nargs, const Oid *argtypes,
									Datum *values, const char *nulls,
									bool read_only);

/* in doclock.c */
extern void ng_doclock_reset(void);
extern uint64 ng_doclock_document_hash(NgTableOptions *opts,
									   const uint8 *id, uint32 idlen);

/* in matched.c */
typedef struct NgMatchPlan NgMatchPlan;
extern char *ng_match_id_key(const uint8 *id, uint32 idlen, int *keylen);
extern NgMatchPlan *ng_match_plan_create(int n, const char *ops,
										 const uint8 **ids,
										 const uint32 *idlens);
typedef enum NgMatchResult
{
	NG_MATCH_OK,				/* the totals say which matched nothing */
	NG_MATCH_ASK,				/* a look-up of some _ids would tell */
	NG_MATCH_UNKNOWN			/* the totals cannot be explained */
} NgMatchResult;
extern void ng_match_skip(NgMatchPlan *plan, int i);
extern int	ng_match_lookup(NgMatchPlan *plan, bool before, int start,
							int end, bson_t *in);
extern void ng_match_set_found(NgMatchPlan *plan, const uint8 **found,
							   const uint32 *foundlens, int nfound);
extern NgMatchResult ng_match_check(NgMatchPlan *plan, int start, int end,
									int64 matched, int64 removed,
									bool *unmatched);

#endif							/* NG_WRITE_INT_H */
