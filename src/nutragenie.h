/*-------------------------------------------------------------------------
 *
 * nutragenie.h
 *		  Private declarations shared by the nutragenie MongoDB foreign data
 *		  wrapper's source files.
 *
 * Only PostgreSQL and libbson types appear here; everything that needs the
 * driver itself (mongoc_client_t and friends) is declared in ng_remote.h, so
 * that files which never talk to a server cannot start doing so by accident.
 * What one layer offers the others is in its own header: bson/bson_map.h,
 * write/write.h, conn/conn.h.
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
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "nodes/execnodes.h"
#include "nodes/pathnodes.h"
#include "utils/relcache.h"

#include "ng_compat.h"

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

/* How a SQL NULL is written: the field removed, or BSON null. */
typedef enum NgNullMode
{
	NG_NULL_UNSET,
	NG_NULL_NULL
} NgNullMode;

/* The BSON type a column's values are written as. */
typedef enum NgBsonWriteType
{
	NG_WRITE_AUTO,				/* the inverse of the read map */
	NG_WRITE_DECIMAL,
	NG_WRITE_DOUBLE,
	NG_WRITE_LONG,
	NG_WRITE_INT,
	NG_WRITE_STRING
} NgBsonWriteType;

/*
 * What writing a timestamp with sub-millisecond digits into a BSON date (which
 * holds milliseconds) does: raise (the default), round to the nearest
 * millisecond as a cast to timestamptz(3) does, or truncate as
 * date_trunc('milliseconds', ...) does.  The "timestamp_rounding" option.
 */
typedef enum NgTimestampRounding
{
	NG_TS_ROUND_ERROR,
	NG_TS_ROUND_NEAREST,
	NG_TS_ROUND_TRUNCATE
} NgTimestampRounding;

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
	NgNullMode	null_mode;
	NgBsonWriteType write_type;
	NgTimestampRounding ts_rounding;	/* for timestamp columns */
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
								 * current user.  A scan replaces the planning
								 * user by the executing one (scan.c). */
	Oid			umid;			/* that user's mapping, looked up by overlay.c
								 * when first needed; not serialized */
	char	   *database;
	char	   *collection;
	int			batch_size;
	bool		use_remote_estimate;	/* plan time only, not serialized */
	int			natts;			/* length of columns[] (= relnatts) */
	NgColumn   *columns;		/* indexed by attnum - 1 */
} NgTableOptions;

/*
 * Evaluates a non-Const value expression (a Param, or an outer Var turned
 * into one) found in a pushed-down condition.  Used by the executor; the
 * planner (EXPLAIN) deparses with no evaluator and prints placeholders.
 */
typedef Datum (*NgParamEval) (void *arg, Expr *expr, bool *isnull);

/* in nutragenie.c */
extern int	ng_connect_timeout_ms;
extern int	ng_socket_timeout_ms;
extern int	ng_max_filter_size_kb;

/* The most filter bytes one find or aggregate may carry. */
#define NG_MAX_FILTER_BYTES ((Size) ng_max_filter_size_kb * 1024)
/* MongoDB's limit on a document, and so on a command's body. */
#define NG_MAX_COMMAND_BYTES ((Size) 16 * 1024 * 1024)
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
extern List *ng_plan_retrieved_columns(NgTableOptions *opts,
									   Bitmapset *attrs);
extern List *ng_plan_private(NgTableOptions *opts, List *retrieved,
							 List *cond_only, List *slots, List *counts,
							 List *sort, List *limit, List *group,
							 List *guards, List *batch);

/*
 * Cost model shared by plan.c and upper.c.  A find costs one round trip
 * before the first document; every document costs transfer and BSON
 * conversion, several times the work of a local heap tuple.  Measured on
 * loopback, a round trip costs as much as streaming a few hundred documents,
 * which is what these ratios say.  Without ANALYZE a collection is assumed
 * to hold NG_DEFAULT_DOCS documents.
 */
#define NG_STARTUP_COST		25.0
#define NG_PER_DOC_COST		0.05
#define NG_DEFAULT_DOCS		1000.0

/* Tells the planner data of a foreign base relation from an upper one's. */
typedef enum NgRelKind
{
	NG_REL_BASE = 1,			/* NgRelInfo */
	NG_REL_UPPER				/* NgUpperInfo, private to upper.c */
} NgRelKind;

/* What the planner keeps about a foreign base relation in fdw_private. */
typedef struct NgRelInfo
{
	NgRelKind	kind;			/* NG_REL_BASE */
	NgTableOptions *opts;
	List	   *remote_conds;	/* RestrictInfos sent to MongoDB */
	List	   *local_conds;	/* RestrictInfos evaluated here (incl.
								 * rechecks of pushed ones) */
} NgRelInfo;

/*
 * fdw_private of a ForeignScan: indexes into the list built by
 * ngGetForeignPlan (base relations) or ng_upper_plan (upper relations).
 * The slots after NgScanPrivateCondColumns are NIL for a plain scan.
 */
typedef enum NgScanPrivateIndex
{
	NgScanPrivateOptions,		/* List: ng_options_to_list() */
	NgScanPrivateRetrieved,		/* List of Integer: attnums to convert */
	NgScanPrivateCondColumns,	/* List of Integer: attnums only the pushed
								 * conditions use */
	NgScanPrivateSlots,			/* List of Integer: for each attnum of the
								 * two lists above, its 0-based position in
								 * the scan tuple; NIL: attnum - 1 */
	NgScanPrivateCounts,		/* List of Integer: how many fdw_exprs are
								 * WHERE conditions, then how many are HAVING
								 * conditions; LIMIT/OFFSET values follow */
	NgScanPrivateSort,			/* List of sort keys, see NgSortKeyIndex */
	NgScanPrivateLimit,			/* List of two Integers: fdw_exprs index of
								 * the LIMIT count, of the OFFSET (-1: none);
								 * NIL: no LIMIT/OFFSET pushed */
	NgScanPrivateGroup,			/* NIL, or the aggregation: see
								 * NgGroupIndex */
	NgScanPrivateGuards,		/* List of guards, see NgGuardIndex */
	NgScanPrivateBatch,			/* NIL, or the inner side of a batched key
								 * join (batchjoin.c): a one-element List
								 * holding "col op ANY(placeholder)" */
	NgScanPrivateCount			/* number of slots, not a slot */
} NgScanPrivateIndex;

/* One pushed sort key: a List of these. */
typedef enum NgSortKeyIndex
{
	NgSortKeyField,				/* String: MongoDB path */
	NgSortKeyDescending,		/* Integer: 1 for DESC */
	NgSortKeyNullsFirst,		/* Integer: 1 for NULLS FIRST */
	NgSortKeyAttno,				/* Integer: 1-based position in the scan
								 * tuple (for sorting locally) */
	NgSortKeySortop,			/* Integer: the sort operator's OID */
	NgSortKeyCollation			/* Integer: the collation's OID */
} NgSortKeyIndex;

/*
 * A guard: a run-time check, before the pushed operation is used, that the
 * documents it applies to hold no values on which MongoDB's order or
 * grouping differs from PostgreSQL's.  If they do, the scan computes the
 * result locally instead.  A List of these.
 */
typedef enum NgGuardIndex
{
	NgGuardField,				/* String: MongoDB path */
	NgGuardKind					/* Integer: NgGuardKindValue */
} NgGuardIndex;

typedef enum NgGuardKindValue
{
	NG_GUARD_STRING_OBJECTID,	/* some value is a string, another an
								 * ObjectId (a text column reads both) */
	NG_GUARD_MISSING_NULL		/* the field is missing in some document and
								 * null in another (distinct keys of a
								 * compound $group _id) */
} NgGuardKindValue;

/* The aggregation of a grouped scan: a List of these. */
typedef enum NgGroupIndex
{
	NgGroupKeys,				/* List of String: paths of the GROUP BY
								 * columns */
	NgGroupOutputs				/* List, one per scan tuple column: each a
								 * List of Integer kind (NgOutputKind), String
								 * field read from, String name in the result
								 * document */
} NgGroupIndex;

typedef enum NgOutputKind
{
	NG_OUT_NONE,				/* not filled: a column only pushed WHERE
								 * conditions use */
	NG_OUT_KEY,					/* a GROUP BY column */
	NG_OUT_COUNT_STAR,			/* count(*) */
	NG_OUT_COUNT,				/* count(col) */
	NG_OUT_MIN,					/* min(col) */
	NG_OUT_MAX					/* max(col) */
} NgOutputKind;

/* in upper.c */
extern void ng_upper_add_sorted_paths(PlannerInfo *root, RelOptInfo *baserel,
									  NgRelInfo *fpinfo, Cost startup,
									  Cost total);
extern List *ng_upper_base_sort(PlannerInfo *root, RelOptInfo *baserel,
								ForeignPath *best_path, List **guards);
extern void ngGetForeignUpperPaths(PlannerInfo *root,
								   UpperRelationKind stage,
								   RelOptInfo *input_rel,
								   RelOptInfo *output_rel, void *extra);
extern ForeignScan *ng_upper_plan(PlannerInfo *root, RelOptInfo *rel,
								  ForeignPath *best_path, List *tlist,
								  Plan *outer_plan);
extern NgTableOptions *ng_upper_result_options(List *group, List *scan_tlist);

/* in pipeline.c */

/* A pushed LIMIT count or OFFSET value, or its placeholder for EXPLAIN. */
typedef struct NgLimitValue
{
	bool		present;		/* false: nothing to send */
	int64		value;			/* when label == NULL */
	const char *label;			/* unknown yet: {"$param": label} */
} NgLimitValue;

extern void ng_pipeline_sort(bson_t *sort, List *sort_keys);
extern void ng_pipeline_group(bson_t *group, List *description);
extern void ng_pipeline_find_options(bson_t *opts, const bson_t *projection,
									 List *sort_keys, const NgLimitValue *skip,
									 const NgLimitValue *limit);
extern void ng_pipeline_stages(bson_t *array, const bson_t *filter,
							   List *group, const bson_t *having,
							   List *sort_keys, const NgLimitValue *skip,
							   const NgLimitValue *limit);
extern char *ng_pipeline_guard_describe(List *guard);
extern void ng_pipeline_guard_filter(bson_t *doc, const bson_t *filter,
									 List *guard, bool second);

/* in scan.c */
extern void ngBeginForeignScan(ForeignScanState *node, int eflags);
extern TupleTableSlot *ngIterateForeignScan(ForeignScanState *node);
extern void ngReScanForeignScan(ForeignScanState *node);
extern void ngEndForeignScan(ForeignScanState *node);
extern void ngExplainForeignScan(ForeignScanState *node, ExplainState *es);
extern void ng_scan_set_batch(ForeignScanState *node, Datum keys);

/* in batchjoin.c */

/*
 * The paramid of the placeholder for a batch's keys in the key condition a
 * batched key join pushes ("col = ANY($batch)"): a PARAM_EXTERN, whose real
 * ids start at 1.  Never evaluated; EXPLAIN shows it as "batch".
 */
#define NG_BATCH_PARAMID 0
extern void ng_batchjoin_init(void);

/* in option.c */
extern const char *ng_option_value(List *options, const char *name);
extern char *ng_server_database(ForeignServer *server);
extern NgTableOptions *ng_options_for_rel(Oid relid, Oid userid);
extern List *ng_options_to_list(NgTableOptions *opts);
extern NgTableOptions *ng_options_from_list(List *list);
extern NgColumn *ng_options_column(NgTableOptions *opts, AttrNumber attnum);
extern void ng_options_check_columns(Oid relid);
extern List *ng_options_shared_fields(NgTableOptions *opts,
									  List *target_attrs);
extern void ng_options_check_shared_fields(NgTableOptions *opts, List *pairs,
										   TupleTableSlot *slot,
										   bool for_insert);
extern bool ng_option_bool(List *options, const char *name, bool dflt);
extern int	ng_option_parse_int(const char *name, const char *value,
								int min, int max);
extern bool ng_option_parse_bool(const char *name, const char *value);
extern const char *ng_option_auth_mechanism(List *options);

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

/* in estimate.c */
extern void ng_estimate_remote(NgTableOptions *opts, Index relid,
							   List *remote_conds, double *total,
							   double *matching);

/* in cache.c */
extern void ng_cache_define_gucs(void);
extern void ng_cache_shmem_init(void);
extern void ng_cache_invalidate(Oid serverid, const char *database,
								const char *collection, const uint8 *id,
								uint32 idlen);
extern void ng_cache_invalidate_all(void);

/* in shippable.c */
extern bool ng_is_shippable_op(Oid opno);

/* in deparse.c */
/* What kind of column a condition (or sort key, or aggregate) applies to. */
typedef enum NgTypeClass
{
	NG_TC_NONE,					/* not pushable */
	NG_TC_INT,
	NG_TC_FLOAT8,
	NG_TC_NUMERIC,
	NG_TC_TEXT,
	NG_TC_OBJECTID,
	NG_TC_BOOL,
	NG_TC_UUID,
	NG_TC_TIMESTAMP,			/* timestamp and timestamptz */
	NG_TC_DATE
} NgTypeClass;

extern void ng_classify_conditions(PlannerInfo *root, RelOptInfo *baserel,
								   NgTableOptions *opts, List *input_conds,
								   List **remote_conds, List **local_conds);
extern bool ng_is_foreign_expr(PlannerInfo *root, RelOptInfo *baserel,
							   NgTableOptions *opts, Expr *expr,
							   bool *needs_recheck);
extern bool ng_is_foreign_expr_on(NgTableOptions *opts, Index relid,
								  Expr *expr, bool *needs_recheck);
extern NgColumn *ng_deparse_column(NgTableOptions *opts, Index relid,
								   Node *node, Oid *basetype,
								   NgTypeClass *tclass);
typedef struct NgFilterParts NgFilterParts;
extern NgFilterParts *ng_deparse_filter_parts(NgTableOptions *opts,
											  List *remote_conds,
											  NgParamEval eval,
											  void *eval_arg,
											  Size max_bytes);
extern int	ng_filter_parts_count(const NgFilterParts *parts);
extern bool ng_filter_parts_lossy(const NgFilterParts *parts);
extern void ng_filter_parts_append(bson_t *filter,
								   const NgFilterParts *parts, int i);
extern char *ng_filter_parts_describe(const NgFilterParts *parts);
extern void ng_deparse_filter(bson_t *filter, NgTableOptions *opts,
							  List *remote_conds, NgParamEval eval,
							  void *eval_arg);
extern void ng_deparse_projection(bson_t *projection, NgTableOptions *opts,
								  Bitmapset *attrs_used);
extern char *ng_bson_as_json(const bson_t *doc);

/* in sample.c */
typedef enum NgSampleMethod
{
	NG_SAMPLE_ALL,				/* no more documents than asked for: all */
	NG_SAMPLE_RANDOM,			/* a $sample stage */
	NG_SAMPLE_FIRST				/* no $sample on the server: the first ones */
} NgSampleMethod;

/* Gets each sampled document; must copy what it keeps.  May raise. */
typedef void (*NgSampleCallback) (const bson_t *doc, void *arg);

typedef struct NgSample
{
	/* set by the caller */
	int			limit;			/* at most this many documents (> 0) */
	int			batch_size;		/* documents per round trip */
	const bson_t *projection;	/* NULL or empty: whole documents */
	bool		no_sample_stage;	/* skip $sample; set when it fails */
	/* set by ng_sample_collection */
	NgSampleMethod method;
	double		total_docs;		/* the count command's answer, or -1 */
	int64		docs;			/* documents passed to the callback */
} NgSample;

extern void ng_sample_collection(Oid serverid, Oid userid,
								 const char *database, const char *collection,
								 NgSample *sample, NgSampleCallback callback,
								 void *arg);

/* in import.c */
extern List *ngImportForeignSchema(ImportForeignSchemaStmt *stmt,
								   Oid serverOid);

/* in analyze.c */
extern bool ngAnalyzeForeignTable(Relation relation,
								  AcquireSampleRowsFunc *func,
								  BlockNumber *totalpages);

/*
 * XXX Transitional: the files of plan/, exec/, admin/analyze.c and
 * admin/sample.c, reshaped on another branch, still reach the BSON and write
 * layers through this header.  Remove these includes once each of them
 * includes the layer headers it uses.
 */
#include "bson/bson_map.h"
#include "write/write.h"

#endif							/* NUTRAGENIE_H */
