/*-------------------------------------------------------------------------
 *
 * nutragenie.h
 *		  Private declarations shared by the nutragenie MongoDB foreign data
 *		  wrapper's source files.
 *
 * Only PostgreSQL and libbson types appear here; everything that needs the
 * driver itself (mongoc_client_t and friends) is declared in ng_remote.h, so
 * that files which never talk to a server cannot start doing so by accident.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/nutragenie.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef NUTRAGENIE_H
#define NUTRAGENIE_H

#include "postgres.h"

#include <bson/bson.h>

#include "access/attnum.h"
#include "commands/explain.h"
#include "fmgr.h"
#include "foreign/foreign.h"
#include "nodes/execnodes.h"
#include "nodes/pathnodes.h"
#include "utils/relcache.h"

/* Name of the extension's schema; the control file pins it. */
#define NG_SCHEMA_NAME "nutragenie"

/* The field option value that maps a json/jsonb column to the document. */
#define NG_ROOT_FIELD "$$ROOT"

/* Default number of documents per cursor batch. */
#define NG_DEFAULT_BATCH_SIZE 1000

/*
 * What to do with a BSON value that does not fit its column (wrong BSON
 * type, out of range, not integral ...).  The default is to raise an error;
 * NULL must be chosen explicitly with the "type_mismatch" option.
 */
typedef enum NgMismatchPolicy
{
	NG_MISMATCH_ERROR,
	NG_MISMATCH_NULL
} NgMismatchPolicy;

/* How BSON-only types are rendered into json/jsonb columns. */
typedef enum NgJsonMode
{
	NG_JSON_RELAXED,			/* Relaxed Extended JSON v2 */
	NG_JSON_CANONICAL			/* Canonical Extended JSON v2 */
} NgJsonMode;

/*
 * One column of a foreign table, with its options resolved.  Dropped
 * columns have field == NULL.
 */
typedef struct NgColumn
{
	AttrNumber	attnum;
	char	   *attname;
	Oid			typid;
	int32		typmod;
	char	   *field;			/* dotted path, or NG_ROOT_FIELD */
	bool		is_root;		/* field is NG_ROOT_FIELD */
	bool		is_id;			/* field is "_id" */
	NgMismatchPolicy mismatch;
	NgJsonMode	json_mode;
} NgColumn;

/*
 * Everything the planner and executor need to know about one foreign table:
 * server, user mapping, namespace and columns.  Built once per plan by
 * ng_options_for_rel() and carried to the executor through fdw_private
 * (ng_options_to_list / ng_options_from_list).
 */
typedef struct NgTableOptions
{
	Oid			relid;
	char	   *relname;
	Oid			serverid;
	Oid			userid;			/* user whose mapping is used; InvalidOid =
								 * current user */
	char	   *database;
	char	   *collection;
	int			batch_size;
	int			natts;			/* length of columns[] (= relnatts) */
	NgColumn   *columns;		/* indexed by attnum - 1 */
} NgTableOptions;

/*
 * A prepared BSON-to-Datum converter for one column (or one array element
 * type).  Set up once per scan by ng_converter_init; used once per row.
 */
typedef struct NgConverter
{
	Oid			typid;
	int32		typmod;
	NgMismatchPolicy mismatch;
	NgJsonMode	json_mode;
	int			kind;			/* private to bson_datum.c */
	/* for arrays: the element converter and layout */
	struct NgConverter *elem;
	int16		elmlen;
	bool		elmbyval;
	char		elmalign;
	/* for types converted from BSON strings through their input function */
	FmgrInfo	infunc;
	Oid			ioparam;
} NgConverter;

/*
 * Evaluates a non-Const value expression (a Param, or an outer Var turned
 * into one) found in a pushed-down condition.  Used by the executor; the
 * planner (EXPLAIN) deparses with no evaluator and prints placeholders.
 */
typedef Datum (*NgParamEval) (void *arg, Expr *expr, bool *isnull);

/* in nutragenie.c */
extern int	ng_connect_timeout_ms;
extern int	ng_socket_timeout_ms;
extern void _PG_init(void);

/* in plan.c */
extern void ngGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel,
								Oid foreigntableid);
extern void ngGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel,
							  Oid foreigntableid);
extern ForeignScan *ngGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel,
									 Oid foreigntableid, ForeignPath *best_path,
									 List *tlist, List *scan_clauses,
									 Plan *outer_plan);

/*
 * fdw_private of a ForeignScan: indexes into the list built by
 * ngGetForeignPlan.
 */
typedef enum NgScanPrivateIndex
{
	NgScanPrivateOptions,		/* List: ng_options_to_list() */
	NgScanPrivateRetrieved		/* List of Integer: attnums to convert */
} NgScanPrivateIndex;

/* in scan.c */
extern void ngBeginForeignScan(ForeignScanState *node, int eflags);
extern TupleTableSlot *ngIterateForeignScan(ForeignScanState *node);
extern void ngReScanForeignScan(ForeignScanState *node);
extern void ngEndForeignScan(ForeignScanState *node);
extern void ngExplainForeignScan(ForeignScanState *node, ExplainState *es);

/* in option.c */
extern const char *ng_option_value(List *options, const char *name);
extern char *ng_server_database(ForeignServer *server);
extern NgTableOptions *ng_options_for_rel(Oid relid, Oid userid);
extern List *ng_options_to_list(NgTableOptions *opts);
extern NgTableOptions *ng_options_from_list(List *list);
extern NgColumn *ng_options_column(NgTableOptions *opts, AttrNumber attnum);

/* in objectid.c */
#define NG_OBJECTID_LEN 12
typedef struct NgObjectId
{
	uint8		data[NG_OBJECTID_LEN];
} NgObjectId;
#define DatumGetNgObjectIdP(X)	((NgObjectId *) DatumGetPointer(X))
#define NgObjectIdPGetDatum(X)	PointerGetDatum(X)
#define PG_GETARG_NGOBJECTID_P(n) DatumGetNgObjectIdP(PG_GETARG_DATUM(n))
#define PG_RETURN_NGOBJECTID_P(x) return NgObjectIdPGetDatum(x)
extern Oid	ng_objectid_typoid(void);
extern Oid	ng_objectid_array_typoid(void);

/* in bson_datum.c */
extern void ng_converter_init(NgConverter *conv, Oid typid, int32 typmod,
							  NgMismatchPolicy mismatch, NgJsonMode json_mode);
extern Datum ng_bson_to_datum(NgConverter *conv, const bson_iter_t *iter,
							  bool *isnull);
extern Datum ng_bson_document_to_datum(NgConverter *conv, const bson_t *doc,
									   bool *isnull);
extern bool ng_type_is_supported(Oid typid);
extern bool ng_datum_append_bson(bson_t *doc, const char *key, int keylen,
								 Datum value, bool isnull, Oid typid);
extern const char *ng_bson_type_name(bson_type_t type);
extern char *ng_bson_value_to_text(const bson_value_t *value);

/* in shippable.c */
extern bool ng_is_shippable_op(Oid opno);

/* in deparse.c */
extern void ng_classify_conditions(PlannerInfo *root, RelOptInfo *baserel,
								   NgTableOptions *opts, List *input_conds,
								   List **remote_conds, List **local_conds);
extern bool ng_is_foreign_expr(PlannerInfo *root, RelOptInfo *baserel,
							   NgTableOptions *opts, Expr *expr,
							   bool *needs_recheck);
extern void ng_deparse_filter(bson_t *filter, NgTableOptions *opts,
							  List *remote_conds, NgParamEval eval,
							  void *eval_arg);
extern void ng_deparse_projection(bson_t *projection, NgTableOptions *opts,
								  Bitmapset *attrs_used);
extern char *ng_bson_as_json(const bson_t *doc);

#endif							/* NUTRAGENIE_H */
