/*-------------------------------------------------------------------------
 *
 * sample.c
 *		  Reads a bounded sample of a collection's documents.
 *
 * ANALYZE and IMPORT FOREIGN SCHEMA both look at up to N documents of a
 * collection.  The work is bounded by N whatever the collection's size:
 *
 *	 - a "count" command first; a collection of at most N documents is read
 *	   whole with a plain find (limit N), which is exact and deterministic;
 *	 - otherwise an aggregate whose first stage is {$sample: {size: N}}, a
 *	   uniform random sample on MongoDB;
 *	 - a server without $sample (FerretDB 1.24 answers "not implemented")
 *	   gets a find with limit N instead: the first N documents in natural
 *	   order, which is bounded but not random.  The caller learns which of
 *	   the three happened; it is reported at DEBUG1 only, since the caller
 *	   decides how loud to be.
 *
 * Each document is handed to a callback while the cursor still owns it; the
 * callback must copy what it keeps.  The cursor, the collection handle and
 * the borrowed connection are released on every path, including an error
 * raised by the callback.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/conn/sample.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"

#include "ng_remote.h"

/*
 * Server error codes meaning "this stage or command does not exist here":
 * CommandNotFound, CommandNotSupported, NotImplemented (FerretDB), and the
 * unrecognized-pipeline-stage codes of MongoDB's aggregate.
 */
#define NG_ERR_COMMAND_NOT_FOUND		59
#define NG_ERR_COMMAND_NOT_SUPPORTED	115
#define NG_ERR_NOT_IMPLEMENTED			238
#define NG_ERR_UNKNOWN_STAGE_OLD		16436
#define NG_ERR_UNKNOWN_STAGE			40324

/* Driver objects of one sampling call; released by release_driver(). */
typedef struct SampleDriver
{
	NgConnEntry *conn;
	mongoc_collection_t *coll;
	mongoc_cursor_t *cursor;
	bson_t	   *command;		/* a pipeline, filter or count command */
	bson_t	   *opts;
} SampleDriver;

static bool sample_unsupported_error(const bson_error_t *error);
static double count_documents(SampleDriver *d, const char *database,
							  const char *collection);
static void open_find(SampleDriver *d, NgSample *sample);
static void open_sample_stage(SampleDriver *d, NgSample *sample);
static bool read_documents(SampleDriver *d, NgSample *sample,
						   NgSampleCallback callback, void *arg,
						   bson_error_t *error);
static void release_driver(SampleDriver *d);
static void destroy_bson(bson_t **doc);

/*
 * Does this driver error say that the server lacks a command or pipeline
 * stage (rather than that it failed)?
 */
static bool
sample_unsupported_error(const bson_error_t *error)
{
	if (error->domain != MONGOC_ERROR_SERVER)
		return false;
	switch (error->code)
	{
		case NG_ERR_COMMAND_NOT_FOUND:
		case NG_ERR_COMMAND_NOT_SUPPORTED:
		case NG_ERR_NOT_IMPLEMENTED:
		case NG_ERR_UNKNOWN_STAGE_OLD:
		case NG_ERR_UNKNOWN_STAGE:
			return true;
		default:
			return false;
	}
}

/*
 * ng_sample_collection
 *		Pass up to sample->limit documents of database.collection to
 *		callback, borrowing the connection of (serverid, userid).
 *
 * sample->limit, batch_size and projection (NULL: whole documents) are set
 * by the caller, as is no_sample_stage when an earlier call found that the
 * server has no $sample; the call sets it when it finds that out, and fills
 * in method, total_docs (the count command's answer, or -1 if the server
 * would not count) and docs.  Raises on any server or connection error
 * other than a missing $sample, and lets the callback's errors through;
 * every driver object is released either way.
 */
void
ng_sample_collection(Oid serverid, Oid userid, const char *database,
					 const char *collection, NgSample *sample,
					 NgSampleCallback callback, void *arg)
{
	SampleDriver *d = palloc0(sizeof(SampleDriver));

	Assert(sample->limit > 0);
	sample->docs = 0;
	sample->total_docs = -1;

	PG_TRY();
	{
		bson_error_t error;
		bool		done = false;

		d->conn = ng_conn_get(serverid, userid);
		d->coll = mongoc_client_get_collection(ng_conn_client(d->conn),
											   database, collection);

		sample->total_docs = count_documents(d, database, collection);

		if (sample->total_docs >= 0 && sample->total_docs <= sample->limit)
			sample->method = NG_SAMPLE_ALL;
		else if (!sample->no_sample_stage)
		{
			sample->method = NG_SAMPLE_RANDOM;
			open_sample_stage(d, sample);
			if (read_documents(d, sample, callback, arg, &error))
				done = true;
			else if (sample->docs == 0 && sample_unsupported_error(&error))
			{
				ereport(DEBUG1,
						(errmsg("server has no $sample stage; reading the first %d documents of collection \"%s.%s\" instead",
								sample->limit, database, collection),
						 errdetail_internal("%s", error.message)));
				mongoc_cursor_destroy(d->cursor);
				d->cursor = NULL;
				sample->no_sample_stage = true;
				sample->method = NG_SAMPLE_FIRST;
			}
			else
			{
				mongoc_cursor_destroy(d->cursor);
				d->cursor = NULL;
				ng_conn_report_error(d->conn, &error,
									 psprintf("sample collection \"%s.%s\"",
											  database, collection));
			}
		}
		else
			sample->method = NG_SAMPLE_FIRST;

		if (!done)
		{
			open_find(d, sample);
			if (!read_documents(d, sample, callback, arg, &error))
			{
				mongoc_cursor_destroy(d->cursor);
				d->cursor = NULL;
				ng_conn_report_error(d->conn, &error,
									 psprintf("read collection \"%s.%s\"",
											  database, collection));
			}
		}

		ereport(DEBUG1,
				(errmsg("read %lld documents of collection \"%s.%s\" %s",
						(long long) sample->docs, database, collection,
						sample->method == NG_SAMPLE_ALL ? "(all of them)" :
						sample->method == NG_SAMPLE_RANDOM ? "with $sample" :
						"in natural order (no $sample)")));
	}
	PG_FINALLY();
	{
		release_driver(d);
	}
	PG_END_TRY();

	pfree(d);
}

/*
 * The collection's document count from the "count" command, or -1 when the
 * server refuses it with an error other than a connection failure (which is
 * raised).
 */
static double
count_documents(SampleDriver *d, const char *database, const char *collection)
{
	bson_error_t error;
	bson_iter_t iter;
	bson_t		reply;
	double		count = -1;
	bool		ok;

	d->command = bson_new();
	BSON_APPEND_UTF8(d->command, "count", collection);
	/* reply is initialized by the call, on failure too */
	ok = mongoc_collection_read_command_with_opts(d->coll, d->command, NULL,
												  NULL, &reply, &error);
	if (ok && bson_iter_init_find(&iter, &reply, "n") &&
		BSON_ITER_HOLDS_NUMBER(&iter))
		count = Max((double) bson_iter_as_int64(&iter), 0);
	bson_destroy(&reply);
	destroy_bson(&d->command);

	if (!ok)
	{
		if (ng_error_is_connection_failure(&error))
			ng_conn_report_error(d->conn, &error,
								 psprintf("count the documents of collection \"%s.%s\"",
										  database, collection));
		ereport(DEBUG1,
				(errmsg("could not count the documents of collection \"%s.%s\"",
						database, collection),
				 errdetail_internal("%s", error.message)));
	}
	return count;
}

/*
 * A find returning the first sample->limit documents in natural order.
 */
static void
open_find(SampleDriver *d, NgSample *sample)
{
	d->command = bson_new();
	d->opts = bson_new();
	if (sample->projection != NULL && !bson_empty(sample->projection))
		BSON_APPEND_DOCUMENT(d->opts, "projection", sample->projection);
	BSON_APPEND_INT64(d->opts, "limit", sample->limit);
	BSON_APPEND_INT32(d->opts, "batchSize",
					  Min(sample->limit, Max(sample->batch_size, 1)));
	d->cursor = mongoc_collection_find_with_opts(d->coll, d->command,
												 d->opts, NULL);
	destroy_bson(&d->command);
	destroy_bson(&d->opts);
}

/*
 * An aggregate [{$sample: {size: limit}}, {$project: projection}].
 * allowDiskUse lets MongoDB sort a large sample (it sorts on random keys
 * when the sample is over 5% of the collection) beyond its memory limit.
 */
static void
open_sample_stage(SampleDriver *d, NgSample *sample)
{
	bson_t		pipeline;
	bson_t		stage;
	bson_t		spec;

	d->command = bson_new();
	d->opts = bson_new();

	bson_append_array_unsafe_begin(d->command, "pipeline", -1, &pipeline);
	BSON_APPEND_DOCUMENT_BEGIN(&pipeline, "0", &stage);
	BSON_APPEND_DOCUMENT_BEGIN(&stage, "$sample", &spec);
	BSON_APPEND_INT64(&spec, "size", sample->limit);
	bson_append_document_end(&stage, &spec);
	bson_append_document_end(&pipeline, &stage);
	if (sample->projection != NULL && !bson_empty(sample->projection))
	{
		BSON_APPEND_DOCUMENT_BEGIN(&pipeline, "1", &stage);
		BSON_APPEND_DOCUMENT(&stage, "$project", sample->projection);
		bson_append_document_end(&pipeline, &stage);
	}
	bson_append_array_end(d->command, &pipeline);

	BSON_APPEND_INT32(d->opts, "batchSize",
					  Min(sample->limit, Max(sample->batch_size, 1)));
	BSON_APPEND_BOOL(d->opts, "allowDiskUse", true);

	d->cursor = mongoc_collection_aggregate(d->coll, MONGOC_QUERY_NONE,
											d->command, d->opts, NULL);
	destroy_bson(&d->command);
	destroy_bson(&d->opts);
}

/*
 * Hand the cursor's documents to callback, up to sample->limit of them.
 * Returns false, with *error set and the cursor left open, if the cursor
 * failed.
 */
static bool
read_documents(SampleDriver *d, NgSample *sample, NgSampleCallback callback,
			   void *arg, bson_error_t *error)
{
	const bson_t *doc;

	while (sample->docs < sample->limit &&
		   mongoc_cursor_next(d->cursor, &doc))
	{
		sample->docs++;
		callback(doc, arg);
		CHECK_FOR_INTERRUPTS();
	}
	if (mongoc_cursor_error(d->cursor, error))
		return false;

	mongoc_cursor_destroy(d->cursor);
	d->cursor = NULL;
	return true;
}

/*
 * Free whatever driver objects are left and give the connection back.
 * Never raises: it runs while an error propagates.
 */
static void
release_driver(SampleDriver *d)
{
	if (d->cursor != NULL)
	{
		mongoc_cursor_destroy(d->cursor);
		d->cursor = NULL;
	}
	destroy_bson(&d->command);
	destroy_bson(&d->opts);
	if (d->coll != NULL)
	{
		mongoc_collection_destroy(d->coll);
		d->coll = NULL;
	}
	if (d->conn != NULL)
	{
		ng_conn_release(d->conn);
		d->conn = NULL;
	}
}

static void
destroy_bson(bson_t **doc)
{
	if (*doc != NULL)
	{
		bson_destroy(*doc);
		*doc = NULL;
	}
}
