/*-------------------------------------------------------------------------
 *
 * cursor.c
 *		  A collection handle for readers: the borrowed connection, the
 *		  collection and one streaming cursor, released with its memory
 *		  context.
 *
 * A handle is allocated in the caller's memory context (a scan's, or the
 * planner's) and registers a reset callback there, so that an error at any
 * point (a conversion error, a cancel, a lost connection) still destroys
 * the cursor and the collection and gives the connection back.  It holds
 * at most one streaming cursor (a find or an aggregate); one-document finds
 * and counts run to completion inside one call, copying what they return
 * into palloc'd memory before anything can throw.
 *
 * Nothing here reports an error by itself: each call returns the driver's
 * bson_error_t, and the caller, which knows what it was doing, calls
 * ng_coll_report_error with that action.  Cursor errors are checked after
 * the iteration ends (ng_coll_cursor_failed): a failed query is an error,
 * never an empty result.
 *
 * Every command sent here is counted in the remote statistics
 * (stats/remote_stats.h): the handle finds its local counters once per
 * command, then adds each document's size and the time spent in the
 * driver, and the caller reports each document's conversion with
 * ng_coll_stats_converted.  This is the read side's only hook.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/conn/cursor.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/memutils.h"

#include "cursor.h"
#include "ng_remote.h"
#include "stats/remote_stats.h"

/*
 * Server error codes meaning "this pipeline uses something I do not
 * implement": NotImplemented (FerretDB), InvalidPipelineOperator, and the
 * "unknown group operator" of older MongoDB releases.
 */
#define NG_ERR_NOT_IMPLEMENTED		238
#define NG_ERR_INVALID_PIPELINE_OP	168
#define NG_ERR_UNKNOWN_GROUP_OP		15952

struct NgCollHandle
{
	NgConnEntry *conn;			/* borrowed; NULL once released */
	mongoc_collection_t *coll;
	mongoc_cursor_t *cursor;	/* the streaming cursor, or NULL */
	char	   *database;

	/* remote statistics */
	Oid			userid;
	Oid			relid;			/* foreign table, or InvalidOid */
	NgStatsMode mode;			/* of the next streaming command */
	NgStatsCounters *counters;	/* the streaming cursor's, or NULL */
	bool		timing;			/* time each of its documents */
	bool		doc_pending;	/* a document came, not yet converted */
	instr_time	doc_time;		/* ... at this time */
};

static void release_callback(void *arg);
static NgStatsCounters *count_command(NgCollHandle *h, NgStatsCommand command,
									  NgStatsMode mode, Size sent);
static void count_reply(NgStatsCounters *c, instr_time start, bool failed);

/*
 * ng_coll_open
 *		Borrow the connection of (serverid, userid) and open the collection,
 *		in a handle allocated in CurrentMemoryContext whose reset releases
 *		it.  May raise (connection errors).
 */
NgCollHandle *
ng_coll_open(Oid serverid, Oid userid, const char *database,
			 const char *collection)
{
	NgCollHandle *h = palloc0(sizeof(NgCollHandle));
	MemoryContextCallback *cb = palloc0(sizeof(MemoryContextCallback));

	h->database = pstrdup(database);
	h->userid = OidIsValid(userid) ? userid : GetUserId();
	h->mode = NG_STATS_DIRECT;
	cb->func = release_callback;
	cb->arg = h;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);

	h->conn = ng_conn_get(serverid, userid);
	h->coll = mongoc_client_get_collection(ng_conn_client(h->conn), database,
										   collection);
	return h;
}

static void
release_callback(void *arg)
{
	ng_coll_release((NgCollHandle *) arg);
}

/*
 * ng_coll_track
 *		Count the handle's commands under foreign table relid, its
 *		streaming ones (finds, aggregates, existence checks) in mode.
 *		One-document finds always count as NG_STATS_SINGLE.
 */
void
ng_coll_track(NgCollHandle *h, Oid relid, NgStatsMode mode)
{
	h->relid = relid;
	h->mode = mode;
}

/*
 * The local counters of one command of the handle, with the command and
 * the bytes it sends counted; NULL when statistics are off.
 */
static NgStatsCounters *
count_command(NgCollHandle *h, NgStatsCommand command, NgStatsMode mode,
			  Size sent)
{
	NgStatsCounters *c;

	h->doc_pending = false;
	c = ng_stats_entry(h->relid, h->userid, h->database,
					   mongoc_collection_get_name(h->coll), command, mode);
	if (c != NULL)
	{
		c->calls++;
		c->bytes_sent += sent;
	}
	return c;
}

/*
 * A one-shot command that began at start has its reply: count the wait,
 * and the error if it failed.
 */
static void
count_reply(NgStatsCounters *c, instr_time start, bool failed)
{
	instr_time	end;

	if (c == NULL)
		return;
	INSTR_TIME_SET_CURRENT(end);
	INSTR_TIME_ACCUM_DIFF(c->wait_time, end, start);
	if (failed)
		c->errors++;
}

/*
 * ng_coll_stats_converted
 *		The document ng_coll_next returned last has been converted: count
 *		the time since it came as conversion time.  Cheap; does nothing
 *		when statistics are off or no document is pending.
 */
void
ng_coll_stats_converted(NgCollHandle *h)
{
	instr_time	now;

	if (!h->doc_pending)
		return;
	h->doc_pending = false;
	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_ACCUM_DIFF(h->counters->convert_time, now, h->doc_time);
}

/*
 * ng_coll_release
 *		Destroy the cursor and the collection and give the connection back,
 *		now rather than at the context's reset.  Never raises; a released
 *		handle must not be used again.
 */
void
ng_coll_release(NgCollHandle *h)
{
	ng_coll_close_cursor(h);
	if (h->coll != NULL)
	{
		mongoc_collection_destroy(h->coll);
		h->coll = NULL;
	}
	if (h->conn != NULL)
	{
		ng_conn_release(h->conn);
		h->conn = NULL;
	}
}

/*
 * ng_coll_find
 *		Start a find as the handle's cursor (replacing any), with the
 *		driver's options document (projection, sort, batchSize ...).  The
 *		command is sent on the first ng_coll_next.
 */
void
ng_coll_find(NgCollHandle *h, const bson_t *filter, const bson_t *opts)
{
	ng_coll_close_cursor(h);
	h->counters = count_command(h, NG_STATS_FIND, h->mode,
								filter->len + (opts ? opts->len : 0));
	h->timing = ng_track_remote_timing;
	h->cursor = mongoc_collection_find_with_opts(h->coll, filter, opts, NULL);
}

/*
 * ng_coll_aggregate
 *		Start an aggregate as the handle's cursor; pipeline is
 *		{"pipeline": [...]}.
 */
void
ng_coll_aggregate(NgCollHandle *h, const bson_t *pipeline, const bson_t *opts)
{
	ng_coll_close_cursor(h);
	h->counters = count_command(h, NG_STATS_AGGREGATE, h->mode,
								pipeline->len + (opts ? opts->len : 0));
	h->timing = ng_track_remote_timing;
	h->cursor = mongoc_collection_aggregate(h->coll, MONGOC_QUERY_NONE,
											pipeline, opts, NULL);
}

/*
 * ng_coll_next
 *		The cursor's next document, valid until the next call; false at the
 *		end or on an error (ng_coll_cursor_failed tells).
 */
bool
ng_coll_next(NgCollHandle *h, const bson_t **doc)
{
	instr_time	start;
	bool		got;

	if (h->cursor == NULL)
		return false;
	if (h->counters == NULL)
		return mongoc_cursor_next(h->cursor, doc);
	if (!h->timing)
	{
		got = mongoc_cursor_next(h->cursor, doc);
		if (got)
		{
			h->counters->documents++;
			h->counters->bytes_received += (*doc)->len;
		}
		return got;
	}

	INSTR_TIME_SET_CURRENT(start);
	got = mongoc_cursor_next(h->cursor, doc);
	INSTR_TIME_SET_CURRENT(h->doc_time);
	INSTR_TIME_ACCUM_DIFF(h->counters->wait_time, h->doc_time, start);
	if (got)
	{
		h->counters->documents++;
		h->counters->bytes_received += (*doc)->len;
	}
	h->doc_pending = got;
	return got;
}

/*
 * ng_coll_cursor_failed
 *		After ng_coll_next returned false: did the cursor fail?
 */
bool
ng_coll_cursor_failed(NgCollHandle *h, bson_error_t *error)
{
	if (h->cursor == NULL || !mongoc_cursor_error(h->cursor, error))
		return false;
	if (h->counters != NULL)
		h->counters->errors++;
	return true;
}

/* Destroy the streaming cursor, if any. */
void
ng_coll_close_cursor(NgCollHandle *h)
{
	if (h->cursor != NULL)
	{
		mongoc_cursor_destroy(h->cursor);
		h->cursor = NULL;
	}
	h->counters = NULL;
	h->doc_pending = false;
}

/*
 * ng_coll_find_one
 *		Run a find for its first document: true if there is one, and then,
 *		if found is not NULL, a copy of it in palloc'd memory (a static
 *		bson_t: nothing to destroy).  On an error returns false with *failed
 *		set and *error filled.  The handle's streaming cursor is untouched.
 */
bool
ng_coll_find_one(NgCollHandle *h, const bson_t *filter, const bson_t *opts,
				 bson_t *found, bson_error_t *error, bool *failed)
{
	mongoc_cursor_t *cursor;
	const bson_t *doc;
	uint8	   *volatile copy = NULL;
	volatile uint32 len = 0;
	volatile bool exists = false;
	NgStatsCounters *c;
	instr_time	start;
	instr_time	end;

	c = count_command(h, NG_STATS_FIND, NG_STATS_SINGLE,
					  filter->len + (opts ? opts->len : 0));
	cursor = mongoc_collection_find_with_opts(h->coll, filter, opts, NULL);
	PG_TRY();
	{
		INSTR_TIME_SET_CURRENT(start);
		exists = mongoc_cursor_next(cursor, &doc);
		INSTR_TIME_SET_CURRENT(end);
		if (c != NULL)
		{
			INSTR_TIME_ACCUM_DIFF(c->wait_time, end, start);
			if (exists)
			{
				c->documents++;
				c->bytes_received += doc->len;
			}
		}
		if (exists && found != NULL)
		{
			len = doc->len;
			copy = palloc(len);
			memcpy(copy, bson_get_data(doc), len);
		}
	}
	PG_CATCH();
	{
		mongoc_cursor_destroy(cursor);
		PG_RE_THROW();
	}
	PG_END_TRY();
	*failed = mongoc_cursor_error(cursor, error);
	mongoc_cursor_destroy(cursor);
	if (*failed)
	{
		if (c != NULL)
			c->errors++;
		return false;
	}
	if (exists && found != NULL)
		bson_init_static(found, copy, len);
	return exists;
}

/*
 * ng_coll_exists
 *		Does the collection exist in its database?  False with error->code
 *		not 0 when the question failed.
 */
bool
ng_coll_exists(NgCollHandle *h, bson_error_t *error)
{
	mongoc_database_t *db;
	bool		exists;
	NgStatsCounters *c;
	instr_time	start;

	c = count_command(h, NG_STATS_COMMAND, h->mode, 0);
	INSTR_TIME_SET_CURRENT(start);
	db = mongoc_client_get_database(ng_conn_client(h->conn), h->database);
	error->code = 0;
	exists = mongoc_database_has_collection(db,
											mongoc_collection_get_name(h->coll),
											error);
	mongoc_database_destroy(db);
	count_reply(c, start, !exists && error->code != 0);
	return exists;
}

/*
 * ng_coll_read_command
 *		Run a read command (collStats ...) on the collection's database with
 *		the collection's read preference.  *reply is always initialised and
 *		must be destroyed by the caller; false, with *error set, when the
 *		command failed.
 */
bool
ng_coll_read_command(NgCollHandle *h, const bson_t *command, bson_t *reply,
					 bson_error_t *error)
{
	return mongoc_collection_read_command_with_opts(h->coll, command, NULL,
													NULL, reply, error);
}

/*
 * ng_coll_estimated_count
 *		The collection's document count from its metadata (no scan); -1 on
 *		an error.
 */
int64
ng_coll_estimated_count(NgCollHandle *h, bson_error_t *error)
{
	NgStatsCounters *c = count_command(h, NG_STATS_COUNT, h->mode, 0);
	instr_time	start;
	int64		n;

	INSTR_TIME_SET_CURRENT(start);
	n = mongoc_collection_estimated_document_count(h->coll, NULL, NULL,
												   NULL, error);
	count_reply(c, start, n < 0);
	return n;
}

/*
 * ng_coll_count
 *		How many documents match filter; -1 on an error.
 */
int64
ng_coll_count(NgCollHandle *h, const bson_t *filter, bson_error_t *error)
{
	NgStatsCounters *c = count_command(h, NG_STATS_COUNT, h->mode,
									   filter->len);
	instr_time	start;
	int64		n;

	INSTR_TIME_SET_CURRENT(start);
	n = mongoc_collection_count_documents(h->coll, filter, NULL, NULL,
										  NULL, error);
	count_reply(c, start, n < 0);
	return n;
}

/*
 * ng_coll_error_is_unsupported
 *		Did the server reject a pipeline because it does not implement
 *		something in it (and so a local plan can compute it instead)?
 */
bool
ng_coll_error_is_unsupported(const bson_error_t *error)
{
	return (error->domain == MONGOC_ERROR_SERVER ||
			error->domain == MONGOC_ERROR_QUERY) &&
		(error->code == NG_ERR_NOT_IMPLEMENTED ||
		 error->code == NG_ERR_INVALID_PIPELINE_OP ||
		 error->code == NG_ERR_UNKNOWN_GROUP_OP);
}

/*
 * ng_coll_report_error
 *		Release the handle and raise the error of an action ("read
 *		collection ..."), as ng_conn_report_error does.
 */
void
ng_coll_report_error(NgCollHandle *h, const bson_error_t *error,
					 const char *action)
{
	NgConnEntry *conn = h->conn;

	ng_coll_release(h);
	ng_conn_report_error(conn, error, action);
}
