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
	Oid			umid;			/* that user's mapping, looked up by overlay.c
								 * when first needed; not serialized */
	char	   *database;
	char	   *collection;
	int			batch_size;
	bool		use_remote_estimate;	/* plan time only, not serialized */
	int			natts;			/* length of columns[] (= relnatts) */
	NgColumn   *columns;		/* indexed by attnum - 1 */
} NgTableOptions;

/* in nutragenie.c */
extern int	ng_connect_timeout_ms;
extern int	ng_socket_timeout_ms;
extern int	ng_max_filter_size_kb;

/* The most filter bytes one find or aggregate may carry. */
#define NG_MAX_FILTER_BYTES ((Size) ng_max_filter_size_kb * 1024)
/* MongoDB's limit on a document, and so on a command's body. */
#define NG_MAX_COMMAND_BYTES ((Size) 16 * 1024 * 1024)
extern void _PG_init(void);

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

#endif							/* NUTRAGENIE_H */
