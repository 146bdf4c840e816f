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
#include "executor/spi.h"
#include "fmgr.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "nodes/execnodes.h"
#include "nodes/pathnodes.h"
#include "utils/relcache.h"

#include "ng_compat.h"

/*
 * The fixed schema of the write queue and the administration functions,
 * created by the nutragenie_fdw extension (the type objectid and the wrapper
 * are in the schema the extension is installed into).
 */
#define NG_SCHEMA_NAME "nutragenie_fdw"

/* The extension whose schema holds the type objectid. */
#define NG_EXTENSION_NAME "nutragenie_fdw"

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
	Oid			umid;			/* that user's mapping, looked up by xact.c
								 * when first needed; not serialized */
	char	   *database;
	char	   *collection;
	int			batch_size;
	bool		use_remote_estimate;	/* plan time only, not serialized */
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

/* in modify.c */
extern void ngAddForeignUpdateTargets(PlannerInfo *root, Index rtindex,
									  RangeTblEntry *target_rte,
									  Relation target_relation);
extern List *ngPlanForeignModify(PlannerInfo *root, ModifyTable *plan,
								 Index resultRelation, int subplan_index);
extern void ngBeginForeignModify(ModifyTableState *mtstate,
								 ResultRelInfo *rinfo, List *fdw_private,
								 int subplan_index, int eflags);
extern TupleTableSlot *ngExecForeignInsert(EState *estate,
										   ResultRelInfo *rinfo,
										   TupleTableSlot *slot,
										   TupleTableSlot *planSlot);
extern TupleTableSlot **ngExecForeignBatchInsert(EState *estate,
												 ResultRelInfo *rinfo,
												 TupleTableSlot **slots,
												 TupleTableSlot **planSlots,
												 int *numSlots);
extern int	ngGetForeignModifyBatchSize(ResultRelInfo *rinfo);
extern TupleTableSlot *ngExecForeignUpdate(EState *estate,
										   ResultRelInfo *rinfo,
										   TupleTableSlot *slot,
										   TupleTableSlot *planSlot);
extern TupleTableSlot *ngExecForeignDelete(EState *estate,
										   ResultRelInfo *rinfo,
										   TupleTableSlot *slot,
										   TupleTableSlot *planSlot);
extern void ngEndForeignModify(EState *estate, ResultRelInfo *rinfo);
extern void ngBeginForeignInsert(ModifyTableState *mtstate,
								 ResultRelInfo *rinfo);
extern void ngEndForeignInsert(EState *estate, ResultRelInfo *rinfo);
extern int	ngIsForeignRelUpdatable(Relation rel);
extern void ng_outbox_check_queued(NgTableOptions *opts, bson_t **ids, int n);
extern void ngExplainForeignModify(ModifyTableState *mtstate,
								   ResultRelInfo *rinfo, List *fdw_private,
								   int subplan_index, ExplainState *es);

/* in internal_sql.c */
extern int	ng_internal_sql_execute(SPIPlanPtr *planp, const char *sql,
									int nargs, const Oid *argtypes,
									Datum *values, const char *nulls,
									bool read_only);

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
extern bool ng_column_append_bson(bson_t *doc, const char *key,
								  NgColumn *col, Datum value, bool isnull);
pg_noreturn extern void ng_column_report_unstorable(NgColumn *col, const char *relname,
										Datum value);
extern const char *ng_bson_type_name(bson_type_t type);

/*
 * MongoDB's nesting limit for stored documents (its default maxBSONDepth of
 * 200 less the 20 levels it keeps for itself); see ng_bson_check_document.
 */
#define NG_MAX_DOCUMENT_DEPTH 180

/* Why ng_bson_check_document or ng_bson_check_update refused a document. */
typedef struct NgUnstorable
{
	char	   *field;			/* dotted key path, array indexes as digits */
	char	   *path;			/* the same for messages: steps[2].$bad */
	char	   *reason;			/* a full sentence: what MongoDB refuses */
} NgUnstorable;

extern bool ng_bson_check_document(const bson_t *doc, NgUnstorable *bad);
extern bool ng_bson_check_update(const bson_t *update, const bson_t *current,
								 NgUnstorable *bad);
extern char *ng_bson_value_to_text(const bson_value_t *value);

/* in estimate.c */
extern void ng_estimate_remote(NgTableOptions *opts, Index relid,
							   List *remote_conds, double *total,
							   double *matching);

/* in xact.c */
typedef struct NgOverlayItem
{
	const uint8 *data;			/* BSON bytes of a document */
	uint32		len;
	uint32		ref;			/* ng_xact_document_ref() of the document */
} NgOverlayItem;
extern void ng_xact_init(void);
extern void ng_xact_lock_document(NgTableOptions *opts, const uint8 *id,
								  uint32 idlen);
extern void ng_xact_record_document(NgTableOptions *opts, const uint8 *id,
									uint32 idlen, const bson_t *doc,
									bool written, CommandId cid);
extern void ng_xact_note_outbox_write(void);
extern bool ng_xact_lookup(NgTableOptions *opts, const uint8 *id,
						   uint32 idlen, CommandId before,
						   const uint8 **data, uint32 *len, bool *deleted);
extern bool ng_xact_has_documents(NgTableOptions *opts);
extern uint32 ng_xact_document_ref(NgTableOptions *opts, const uint8 *id,
								   uint32 idlen);
extern bool ng_xact_document_id(NgTableOptions *opts, uint32 ref,
								const uint8 **id, uint32 *idlen);
extern List *ng_xact_collection_documents(NgTableOptions *opts,
										  CommandId before);

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

/* in applier.c */
extern void ng_applier_define_gucs(void);
extern void ng_applier_shmem_init(void);
extern bool ng_applier_available(void);
extern void ng_applier_ensure_worker(void);
extern void ng_applier_wait_for_commit(void);

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

/* in document.c */
typedef struct NgDocReader NgDocReader;
extern void ng_document_check_readable(NgTableOptions *opts, NgColumn *col);
extern NgDocReader *ng_document_reader_create(NgTableOptions *opts,
											  List *attnums, List *positions,
											  int width);
extern void ng_document_to_values(NgDocReader *reader, const bson_t *doc,
								  Datum *values, bool *isnull);

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

#endif							/* NUTRAGENIE_H */
