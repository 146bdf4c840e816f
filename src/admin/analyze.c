/*-------------------------------------------------------------------------
 *
 * analyze.c
 *		  ANALYZE of a foreign table: a bounded sample of its collection.
 *
 * ANALYZE asks for up to targrows rows (300 times the statistics target)
 * and the table's total row count.  The rows come from sample.c: the whole
 * collection when it holds no more than targrows documents, else a $sample
 * of targrows documents, else (a server without $sample, such as FerretDB
 * 1.24) the first targrows documents in natural order, which is bounded but
 * biased towards the oldest documents.  Each is converted by the same rules
 * as a scan (document.c), so a document that does not fit its column fails
 * ANALYZE as it would fail a SELECT, unless the column's type_mismatch is
 * 'null'.  Only the fields of the table's columns are fetched.
 *
 * totalrows is the count command's answer (collStats' count when the server
 * will not count), and there are never dead rows.  The page count ANALYZE
 * records is the collection's data size in blocks (from collStats); for a
 * foreign table it only weighs this table against its siblings when a
 * partitioned or inheritance parent is analyzed.
 *
 * The connection is the one of the table owner's user mapping, whoever
 * runs ANALYZE: statistics belong to the table.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/admin/analyze.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/sysattr.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "storage/block.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "ng_remote.h"
#include "plan/plan.h"

/* What the sample callback needs to turn documents into rows. */
typedef struct AnalyzeState
{
	NgDocReader *reader;
	TupleDesc	tupdesc;
	HeapTuple  *rows;
	int			targrows;
	int			numrows;
	Datum	   *values;
	bool	   *isnull;
	MemoryContext rows_cxt;		/* the caller's: holds the rows */
	MemoryContext row_cxt;		/* per document, reset each time */
} AnalyzeState;

static int	acquire_sample_rows(Relation relation, int elevel,
								HeapTuple *rows, int targrows,
								double *totalrows, double *totaldeadrows);
static void sample_row(const bson_t *doc, void *arg);
static bool collection_stats(NgTableOptions *opts, double *count,
							 double *size);
static void check_collection_exists(NgTableOptions *opts);

/*
 * ngAnalyzeForeignTable
 *		Tell ANALYZE how to sample the table, and its size in pages.
 *
 * Every nutragenie table can be analyzed.  Talks to the server once
 * (collStats); a server that refuses collStats (a view, or a server
 * without the command) leaves the size at one page.
 */
bool
ngAnalyzeForeignTable(Relation relation, AcquireSampleRowsFunc *func,
					  BlockNumber *totalpages)
{
	NgTableOptions *opts;
	double		count;
	double		size;

	opts = ng_options_for_rel(RelationGetRelid(relation),
							  relation->rd_rel->relowner);

	*func = acquire_sample_rows;
	*totalpages = 1;
	if (collection_stats(opts, &count, &size) && size > 0)
		*totalpages = (BlockNumber) Min(ceil(size / BLCKSZ),
										(double) MaxBlockNumber);
	return true;
}

/*
 * The AcquireSampleRowsFunc: up to targrows rows into rows[], palloc'd in
 * the caller's memory context; returns how many.  *totalrows is the
 * collection's document count, *totaldeadrows 0.
 */
static int
acquire_sample_rows(Relation relation, int elevel, HeapTuple *rows,
					int targrows, double *totalrows, double *totaldeadrows)
{
	NgTableOptions *opts;
	AnalyzeState st;
	NgSample	sample;
	MemoryContext work_cxt;
	MemoryContext oldcxt;
	List	   *attnums = NIL;
	Bitmapset  *attrs = NULL;
	bson_t		projection;
	int			i;

	memset(&st, 0, sizeof(st));
	st.rows_cxt = CurrentMemoryContext;
	st.rows = rows;
	st.targrows = targrows;
	st.tupdesc = RelationGetDescr(relation);

	work_cxt = AllocSetContextCreate(CurrentMemoryContext,
									 "nutragenie analyze",
									 ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(work_cxt);

	opts = ng_options_for_rel(RelationGetRelid(relation),
							  relation->rd_rel->relowner);
	for (i = 0; i < opts->natts; i++)
	{
		if (opts->columns[i].field == NULL)
			continue;
		attnums = lappend(attnums, makeInteger(opts->columns[i].attnum));
		attrs = bms_add_member(attrs, opts->columns[i].attnum -
							   FirstLowInvalidHeapAttributeNumber);
	}
	st.reader = ng_document_reader_create(opts, attnums, NIL, 0);
	st.values = palloc(sizeof(Datum) * Max(st.tupdesc->natts, 1));
	st.isnull = palloc(sizeof(bool) * Max(st.tupdesc->natts, 1));
	st.row_cxt = AllocSetContextCreate(work_cxt, "nutragenie analyze row",
									   ALLOCSET_DEFAULT_SIZES);

	memset(&sample, 0, sizeof(sample));
	sample.limit = targrows;
	sample.batch_size = opts->batch_size;

	bson_init(&projection);
	PG_TRY();
	{
		ng_deparse_projection(&projection, opts, attrs);
		sample.projection = &projection;
		ng_sample_collection(opts->serverid, opts->userid, opts->database,
							 opts->collection, &sample, sample_row, &st);
	}
	PG_FINALLY();
	{
		bson_destroy(&projection);
	}
	PG_END_TRY();

	/* as a scan does: an empty answer may be a misspelt collection */
	if (st.numrows == 0)
		check_collection_exists(opts);

	if (sample.total_docs < 0 && st.numrows >= targrows)
	{
		double		count;
		double		size;

		if (collection_stats(opts, &count, &size))
			sample.total_docs = count;
	}
	*totalrows = Max(sample.total_docs, (double) st.numrows);
	*totaldeadrows = 0;

	ereport(elevel,
			(errmsg("\"%s\": %d documents sampled from collection \"%s.%s\" %s; %.0f documents in the collection",
					RelationGetRelationName(relation), st.numrows,
					opts->database, opts->collection,
					sample.method == NG_SAMPLE_ALL ? "(all of them)" :
					sample.method == NG_SAMPLE_RANDOM ? "with $sample" :
					"(the first ones: the server has no $sample)",
					*totalrows)));

	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(work_cxt);

	return st.numrows;
}

/*
 * The sample callback: one document into one row.
 */
static void
sample_row(const bson_t *doc, void *arg)
{
	AnalyzeState *st = (AnalyzeState *) arg;
	MemoryContext oldcxt;

	if (st->numrows >= st->targrows)
		return;

	ng_analyze_delay_point();

	MemoryContextReset(st->row_cxt);
	oldcxt = MemoryContextSwitchTo(st->row_cxt);
	ng_document_to_values(st->reader, doc, st->values, st->isnull);

	MemoryContextSwitchTo(st->rows_cxt);
	st->rows[st->numrows++] = heap_form_tuple(st->tupdesc, st->values,
											  st->isnull);
	MemoryContextSwitchTo(oldcxt);
}

/*
 * The collection's document count and data size in bytes from collStats,
 * summed over shards.  Returns false, after a DEBUG1 message, when the
 * server refuses the command (a view, or no such command); connection
 * failures are raised.
 */
static bool
collection_stats(NgTableOptions *opts, double *count, double *size)
{
	NgConnEntry *entry = ng_conn_get(opts->serverid, opts->userid);
	mongoc_collection_t *coll;
	bson_t	   *command;
	bson_t		reply;
	bson_error_t error;
	bson_iter_t iter;
	bool		ok;

	coll = mongoc_client_get_collection(ng_conn_client(entry),
										opts->database, opts->collection);
	command = BCON_NEW("collStats", BCON_UTF8(opts->collection));
	/* reply is initialized by the call, on failure too */
	ok = mongoc_collection_read_command_with_opts(coll, command, NULL, NULL,
												  &reply, &error);
	*count = 0;
	*size = 0;
	if (ok)
	{
		if (bson_iter_init_find(&iter, &reply, "count") &&
			BSON_ITER_HOLDS_NUMBER(&iter))
			*count = (double) bson_iter_as_int64(&iter);
		if (bson_iter_init_find(&iter, &reply, "size") &&
			BSON_ITER_HOLDS_NUMBER(&iter))
			*size = BSON_ITER_HOLDS_DOUBLE(&iter) ? bson_iter_double(&iter) :
				(double) bson_iter_as_int64(&iter);
	}
	bson_destroy(&reply);
	bson_destroy(command);
	mongoc_collection_destroy(coll);
	ng_conn_release(entry);

	if (!ok)
	{
		if (ng_error_is_connection_failure(&error))
			ng_conn_report_error(entry, &error,
								 psprintf("get the statistics of collection \"%s.%s\"",
										  opts->database, opts->collection));
		ereport(DEBUG1,
				(errmsg("could not get the statistics of collection \"%s.%s\"",
						opts->database, opts->collection),
				 errdetail_internal("%s", error.message)));
	}
	return ok;
}

/*
 * MongoDB samples a missing collection as an empty one; ANALYZE reports it
 * the way a scan does.
 */
static void
check_collection_exists(NgTableOptions *opts)
{
	NgConnEntry *entry = ng_conn_get(opts->serverid, opts->userid);
	mongoc_database_t *db;
	bson_error_t error;
	bool		exists;

	memset(&error, 0, sizeof(error));
	db = mongoc_client_get_database(ng_conn_client(entry), opts->database);
	exists = mongoc_database_has_collection(db, opts->collection, &error);
	mongoc_database_destroy(db);
	ng_conn_release(entry);

	if (!exists && error.code != 0)
		ng_conn_report_error(entry, &error,
							 psprintf("list the collections of database \"%s\"",
									  opts->database));
	if (!exists)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
				 errmsg("collection \"%s\" of foreign table \"%s\" does not exist in database \"%s\"",
						opts->collection, opts->relname, opts->database),
				 errhint("Check the \"collection\" and \"database\" options of the foreign table, or create the collection.")));
}
