/*-------------------------------------------------------------------------
 *
 * admin.h
 *		  What the administration layer offers the FDW handler: IMPORT
 *		  FOREIGN SCHEMA and ANALYZE.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/admin/admin.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef NG_ADMIN_H
#define NG_ADMIN_H

#include "nutragenie.h"

/* in import.c */
extern List *ngImportForeignSchema(ImportForeignSchemaStmt *stmt,
								   Oid serverOid);

/* in analyze.c */
extern bool ngAnalyzeForeignTable(Relation relation,
								  AcquireSampleRowsFunc *func,
								  BlockNumber *totalpages);

#endif							/* NG_ADMIN_H */
