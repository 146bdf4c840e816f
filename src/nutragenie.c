/*-------------------------------------------------------------------------
 *
 * nutragenie.c
 *		  Module entry points: the module magic, _PG_init and the FDW handler.
 *
 * _PG_init defines the GUCs and initialises libmongoc once per process; the
 * driver is cleaned up only at process exit, since it cannot be initialised
 * again afterwards.  The handler only fills in the FdwRoutine: every callback
 * lives in the file that owns its concern (plan.c, scan.c).
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/nutragenie.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "foreign/fdwapi.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "admin/admin.h"
#include "conn/conn.h"
#include "exec/exec.h"
#include "stats/remote_stats.h"
#include "write/write.h"

NG_MODULE_MAGIC;

/* GUCs: driver timeouts used when the server's uri does not set them */
int			ng_connect_timeout_ms = 5000;
int			ng_socket_timeout_ms = 30000;
int			ng_max_filter_size_kb = 15 * 1024;


/*
 * Module load: GUCs and driver initialisation.
 */
void
_PG_init(void)
{
	DefineCustomIntVariable("nutragenie.connect_timeout",
							"Time allowed to connect to a MongoDB server and select it.",
							"Used as connectTimeoutMS and serverSelectionTimeoutMS "
							"unless the server's uri sets them.",
							&ng_connect_timeout_ms,
							5000, 1, INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("nutragenie.socket_timeout",
							"Time allowed for one MongoDB network operation.",
							"Used as socketTimeoutMS unless the server's uri sets it; "
							"it bounds how long a query cancel can take to act.",
							&ng_socket_timeout_ms,
							30000, 1, INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("nutragenie.max_filter_size",
							"Largest filter sent in one MongoDB find or aggregate.",
							"A larger filter is sent as several finds, each with a "
							"slice of its largest $in list, or checked locally. "
							"MongoDB refuses commands over 16 MB; the most allowed "
							"leaves 64 kB for the rest of the command.",
							&ng_max_filter_size_kb,
							15 * 1024, 1, 16 * 1024 - 64,
							PGC_USERSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	ng_applier_define_gucs();
	ng_cache_define_gucs();
	ng_stats_define_gucs();
	ng_batchjoin_init();
	ng_batchjoin_exec_init();

	MarkGUCPrefixReserved("nutragenie");

	if (process_shared_preload_libraries_in_progress)
	{
		ng_applier_shmem_init();
		ng_cache_shmem_init();
		ng_stats_shmem_init();
	}

	ng_conn_init_driver();
	ng_xact_init();
}

PG_FUNCTION_INFO_V1(nutragenie_fdw_handler);

/*
 * The foreign data wrapper handler: returns the callback table.
 */
Datum
nutragenie_fdw_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	/* planning (plan.c) */
	routine->GetForeignRelSize = ngGetForeignRelSize;
	routine->GetForeignPaths = ngGetForeignPaths;
	routine->GetForeignPlan = ngGetForeignPlan;
	routine->GetForeignUpperPaths = ngGetForeignUpperPaths;

	/* scanning (scan.c) */
	routine->BeginForeignScan = ngBeginForeignScan;
	routine->IterateForeignScan = ngIterateForeignScan;
	routine->ReScanForeignScan = ngReScanForeignScan;
	routine->EndForeignScan = ngEndForeignScan;
	routine->ExplainForeignScan = ngExplainForeignScan;

	/* writing (modify.c) */
	routine->AddForeignUpdateTargets = ngAddForeignUpdateTargets;
	routine->PlanForeignModify = ngPlanForeignModify;
	routine->BeginForeignModify = ngBeginForeignModify;
	routine->ExecForeignInsert = ngExecForeignInsert;
	routine->ExecForeignBatchInsert = ngExecForeignBatchInsert;
	routine->GetForeignModifyBatchSize = ngGetForeignModifyBatchSize;
	routine->ExecForeignUpdate = ngExecForeignUpdate;
	routine->ExecForeignDelete = ngExecForeignDelete;
	routine->EndForeignModify = ngEndForeignModify;
	routine->BeginForeignInsert = ngBeginForeignInsert;
	routine->EndForeignInsert = ngEndForeignInsert;
	routine->IsForeignRelUpdatable = ngIsForeignRelUpdatable;
	routine->ExplainForeignModify = ngExplainForeignModify;

	routine->AnalyzeForeignTable = ngAnalyzeForeignTable;
	routine->ImportForeignSchema = ngImportForeignSchema;

	PG_RETURN_POINTER(routine);
}
