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

/* in nutragenie.c */
extern int	ng_connect_timeout_ms;
extern int	ng_socket_timeout_ms;
extern int	ng_max_filter_size_kb;

/* The most filter bytes one find or aggregate may carry. */
#define NG_MAX_FILTER_BYTES ((Size) ng_max_filter_size_kb * 1024)
/* MongoDB's limit on a document, and so on a command's body. */
#define NG_MAX_COMMAND_BYTES ((Size) 16 * 1024 * 1024)
extern void _PG_init(void);

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
