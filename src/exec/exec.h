/*-------------------------------------------------------------------------
 *
 * exec.h
 *		  What the executor layer offers: the foreign scan callbacks and the
 *		  batched key join's hand-over of keys to its inner scan.
 *
 * A scan reads its plan (plan/plan.h's NgScanPlan) once when it begins and
 * talks to MongoDB only through the connection layer's cursor API
 * (conn/cursor.h); nothing here includes the driver's headers.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/exec/exec.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef NG_EXEC_H
#define NG_EXEC_H

#include "plan/plan.h"

#include "nodes/execnodes.h"

/* in scan.c */
extern void ngBeginForeignScan(ForeignScanState *node, int eflags);
extern TupleTableSlot *ngIterateForeignScan(ForeignScanState *node);
extern void ngReScanForeignScan(ForeignScanState *node);
extern void ngEndForeignScan(ForeignScanState *node);
extern void ngExplainForeignScan(ForeignScanState *node, ExplainState *es);
extern void ng_scan_set_batch(ForeignScanState *node, Datum keys);

/* in batchjoin_exec.c */
extern void ng_batchjoin_exec_init(void);

#endif							/* NG_EXEC_H */
