/*-------------------------------------------------------------------------
 *
 * conn.h
 *		  What the connection layer offers to the layers that talk to a
 *		  MongoDB server without holding driver objects themselves.
 *
 * Everything here is declared with PostgreSQL and libbson types only: the
 * writers, the applier, IMPORT FOREIGN SCHEMA and the admin functions call
 * these functions, and only the files of src/conn/ include
 * <mongoc/mongoc.h> (through ng_remote.h).  A connection (NgConnEntry) is
 * borrowed from the per-backend cache with ng_conn_get() and given back
 * with ng_conn_release(); the functions below that take one do not release
 * it.  Driver objects they create are destroyed before they return or
 * raise.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/conn/conn.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef NG_CONN_H
#define NG_CONN_H

#include "nutragenie.h"
#include "conn/uri.h"

typedef struct NgConnEntry NgConnEntry;

/* in connection.c */
extern void ng_conn_init_driver(void);
extern NgConnEntry *ng_conn_get(Oid serverid, Oid userid);
extern void ng_conn_release(NgConnEntry *entry);
pg_noreturn extern void ng_conn_report_error(NgConnEntry *entry,
											 const bson_error_t *error,
											 const char *action);
extern bool ng_error_is_connection_failure(const bson_error_t *error);
extern void ng_conn_cleanup_all(void);

/* in sample.c: sampling a collection (ANALYZE, IMPORT FOREIGN SCHEMA) */
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

/* in command.c */

/* Gets each document of a reply or cursor; must copy what it keeps. */
typedef void (*NgDocCallback) (const bson_t *doc, void *arg);

extern bool ng_conn_command(NgConnEntry *entry, const char *database,
							const bson_t *command, bson_t *reply,
							bson_error_t *error);
extern bool ng_conn_find_each(NgConnEntry *entry, const char *database,
							  const char *collection, bson_t *filter,
							  bson_t *opts, NgDocCallback callback,
							  void *arg, bson_error_t *error);
extern bool ng_conn_find_ids(NgConnEntry *entry, const char *database,
							 const char *collection, bson_t *filter,
							 NgDocCallback callback, void *arg,
							 bson_error_t *error);
extern bool ng_conn_list_collections(NgConnEntry *entry,
									 const char *database,
									 NgDocCallback callback, void *arg,
									 bson_error_t *error);
extern bool ng_conn_ping(NgConnEntry *entry);

/* in bulk.c */

/* How an error bears on the operation it happened to. */
typedef enum NgErrorClass
{
	NG_ERROR_TRANSIENT,			/* retry the operation later */
	NG_ERROR_PERMANENT			/* the operation can never succeed */
} NgErrorClass;

/* MongoDB's "duplicate key" error code. */
#define NG_MONGO_DUPLICATE_KEY		11000

typedef struct NgBulkWriter NgBulkWriter;

extern NgBulkWriter *ng_bulk_writer_create(NgConnEntry *entry, Oid userid,
										   const char *database,
										   const char *collection);
extern void ng_bulk_writer_destroy(NgBulkWriter *w);
extern void ng_bulk_start(NgBulkWriter *w);
extern bool ng_bulk_append(NgBulkWriter *w, char op, const bson_t *id,
						   const bson_t *body, bson_error_t *error);
extern bool ng_bulk_execute(NgBulkWriter *w, bson_error_t *error);
extern bool ng_bulk_write_error(NgBulkWriter *w, int *index,
								bson_error_t *error);
extern int64 ng_bulk_reply_count(NgBulkWriter *w, const char *field);
extern void ng_bulk_reset(NgBulkWriter *w);
extern bool ng_bulk_replace_upsert(NgBulkWriter *w, const bson_t *id,
								   const bson_t *body, bson_error_t *error,
								   bool *write_error);
extern NgErrorClass ng_error_classify(const bson_error_t *error,
									  bool write_error);
extern void ng_error_set_invalid(bson_error_t *error, const char *fmt,...)
			pg_attribute_printf(2, 3);
extern bool ng_error_is_server(const bson_error_t *error);
extern bool ng_error_is_stream(const bson_error_t *error);

#endif							/* NG_CONN_H */
