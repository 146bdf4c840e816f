/*-------------------------------------------------------------------------
 *
 * bulk.c
 *		  Ordered bulk writes to one collection, their replies, and what an
 *		  error of the driver or the server means for the operation.
 *
 * The applier sends each run of outbox rows as one ordered bulk write
 * (write/apply.c).  An NgBulkWriter holds the driver objects of one run:
 * the collection, the bulk operation being built or just sent, and its
 * reply.  ng_bulk_reset destroys the operation and the reply of a step;
 * ng_bulk_writer_destroy, safe in a PG_FINALLY, destroys everything.  The
 * writer does not own the connection it was made on.
 *
 * ng_error_classify says whether an error is about the operation (it can
 * never succeed: dead-letter it) or about the connection, the server or
 * the command (retry later).  The table of server codes follows MongoDB's
 * error codes; FerretDB's divergent report of a unique-index violation is
 * recognised by its message.
 *
 * Each bulk write is counted in the remote statistics (mode "applier",
 * with no foreign table: the queue knows only the collection) when it is
 * sent, and flushed at once: per operation type, one call, its operations
 * as documents and their BSON bytes as bytes sent.  The driver sends a
 * mixed bulk write as several commands; its time and reply are counted
 * under its most frequent operation type.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/conn/bulk.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "ng_remote.h"
#include "stats/remote_stats.h"

/* Driver objects alive while a run of rows is applied. */
struct NgBulkWriter
{
	mongoc_collection_t *coll;
	mongoc_bulk_operation_t *bulk;
	bson_t		reply;
	bool		reply_live;

	/* remote statistics of the operations appended since ng_bulk_start */
	Oid			userid;
	char	   *database;
	int64		ops[3];			/* inserts, updates, deletes */
	int64		bytes[3];
};

static bool is_replacement(const bson_t *body);
static void count_write(NgBulkWriter *w, instr_time start, bool failed);
static bool reply_write_error(const bson_t *reply, int *index,
							  bson_error_t *error);

/*
 * ng_bulk_writer_create
 *		A writer for database.collection on a borrowed connection, its
 *		writes counted under userid, the writer of the queued rows.  The
 *		struct is palloc'd in CurrentMemoryContext; its driver objects must
 *		be freed with ng_bulk_writer_destroy.
 */
NgBulkWriter *
ng_bulk_writer_create(NgConnEntry *entry, Oid userid, const char *database,
					  const char *collection)
{
	NgBulkWriter *w = palloc0(sizeof(NgBulkWriter));

	w->userid = userid;
	w->database = pstrdup(database);

	w->coll = mongoc_client_get_collection(ng_conn_client(entry), database,
										   collection);
	return w;
}

/*
 * ng_bulk_writer_destroy
 *		Destroy the writer's driver objects.  NULL is allowed.  Never raises.
 */
void
ng_bulk_writer_destroy(NgBulkWriter *w)
{
	if (w == NULL)
		return;
	ng_bulk_reset(w);
	if (w->coll != NULL)
		mongoc_collection_destroy(w->coll);
	w->coll = NULL;
}

/*
 * ng_bulk_start
 *		Begin a new ordered bulk write; the previous one must have been
 *		reset.
 */
void
ng_bulk_start(NgBulkWriter *w)
{
	bson_t		opts;

	memset(w->ops, 0, sizeof(w->ops));
	memset(w->bytes, 0, sizeof(w->bytes));
	bson_init(&opts);
	BSON_APPEND_BOOL(&opts, "ordered", true);
	w->bulk = mongoc_collection_create_bulk_operation_with_opts(w->coll,
																&opts);
	bson_destroy(&opts);
}

/*
 * ng_bulk_append
 *		Add one outbox operation to the bulk write: op 'i' inserts body, 'u'
 *		updates the document id names with body (update operators) or
 *		replaces it (a whole document), 'd' deletes it.  id or body is NULL
 *		when the queued bytes were not valid BSON.  False (with *error set)
 *		when the driver refuses the operation, e.g. keys an update document
 *		may not have.
 */
bool
ng_bulk_append(NgBulkWriter *w, char op, const bson_t *id,
			   const bson_t *body, bson_error_t *error)
{
	if (id == NULL)
	{
		bson_set_error(error, MONGOC_ERROR_BSON, MONGOC_ERROR_BSON_INVALID,
					   "the queued document id is not valid BSON");
		return false;
	}
	if (op != 'd' && body == NULL)
	{
		bson_set_error(error, MONGOC_ERROR_BSON, MONGOC_ERROR_BSON_INVALID,
					   "the queued document is not valid BSON");
		return false;
	}

	switch (op)
	{
		case 'i':
			if (!mongoc_bulk_operation_insert_with_opts(w->bulk, body, NULL,
														error))
				return false;
			w->ops[0]++;
			w->bytes[0] += body->len;
			return true;
		case 'u':
			if (is_replacement(body) ?
				!mongoc_bulk_operation_replace_one_with_opts(w->bulk, id, body,
															 NULL, error) :
				!mongoc_bulk_operation_update_one_with_opts(w->bulk, id, body,
															NULL, error))
				return false;
			w->ops[1]++;
			w->bytes[1] += id->len + body->len;
			return true;
		case 'd':
			if (!mongoc_bulk_operation_remove_one_with_opts(w->bulk, id,
															NULL, error))
				return false;
			w->ops[2]++;
			w->bytes[2] += id->len;
			return true;
		default:
			bson_set_error(error, MONGOC_ERROR_COMMAND,
						   MONGOC_ERROR_COMMAND_INVALID_ARG,
						   "unknown queued operation \"%c\"", op);
			return false;
	}
}

/*
 * ng_bulk_execute
 *		Send the bulk write; its reply stays in the writer until
 *		ng_bulk_reset.  False, with *error set, if any operation failed.
 */
bool
ng_bulk_execute(NgBulkWriter *w, bson_error_t *error)
{
	uint32_t	server;
	instr_time	start;

	INSTR_TIME_SET_CURRENT(start);
	server = mongoc_bulk_operation_execute(w->bulk, &w->reply, error);
	w->reply_live = true;
	count_write(w, start, server == 0);
	return server != 0;
}

/*
 * Count the bulk write sent at start (its reply is in the writer) in the
 * remote statistics, and flush them: the applier's rounds are few and
 * COMMIT waits for them, so their figures should be visible when it
 * returns.  Never raises but for out of memory.
 */
static void
count_write(NgBulkWriter *w, instr_time start, bool failed)
{
	static const NgStatsCommand commands[3] = {
		NG_STATS_INSERT, NG_STATS_UPDATE, NG_STATS_DELETE
	};
	instr_time	end;
	int			most = 0;

	if (!ng_stats_enabled())
		return;
	INSTR_TIME_SET_CURRENT(end);
	for (int i = 1; i < 3; i++)
		if (w->ops[i] > w->ops[most])
			most = i;
	for (int i = 0; i < 3; i++)
	{
		NgStatsCounters *c;

		if (w->ops[i] == 0 && i != most)
			continue;
		c = ng_stats_entry(InvalidOid, w->userid, w->database,
						   mongoc_collection_get_name(w->coll), commands[i],
						   NG_STATS_APPLIER);
		c->calls++;
		c->documents += w->ops[i];
		c->bytes_sent += w->bytes[i];
		if (i == most)
		{
			INSTR_TIME_ACCUM_DIFF(c->wait_time, end, start);
			c->bytes_received += w->reply.len;
			if (failed)
				c->errors++;
		}
	}
	memset(w->ops, 0, sizeof(w->ops));
	memset(w->bytes, 0, sizeof(w->bytes));
	ng_stats_flush();
}

/*
 * ng_bulk_write_error
 *		The first write error of the last reply: its operation's index and,
 *		in *error, its code and message (a server error).  False if the reply
 *		has none.
 */
bool
ng_bulk_write_error(NgBulkWriter *w, int *index, bson_error_t *error)
{
	return w->reply_live && reply_write_error(&w->reply, index, error);
}

/*
 * ng_bulk_reply_count
 *		A count of the last bulk write reply ("nMatched", "nRemoved"), 0 if
 *		absent.
 */
int64
ng_bulk_reply_count(NgBulkWriter *w, const char *field)
{
	bson_iter_t iter;

	if (w->reply_live &&
		bson_iter_init_find(&iter, &w->reply, field) &&
		BSON_ITER_HOLDS_NUMBER(&iter))
		return bson_iter_as_int64(&iter);
	return 0;
}

/*
 * ng_bulk_reset
 *		Destroy the bulk operation and reply of a step; keep the collection.
 */
void
ng_bulk_reset(NgBulkWriter *w)
{
	if (w->bulk != NULL)
	{
		mongoc_bulk_operation_destroy(w->bulk);
		w->bulk = NULL;
	}
	if (w->reply_live)
	{
		bson_destroy(&w->reply);
		w->reply_live = false;
	}
}

/*
 * ng_bulk_replace_upsert
 *		Send an insert again as a replace with upsert (its _id existed).  On
 *		failure *error is set and *write_error says whether the server
 *		refused this document (as opposed to the command or the connection
 *		failing).  Resets the writer's step.
 */
bool
ng_bulk_replace_upsert(NgBulkWriter *w, const bson_t *id, const bson_t *body,
					   bson_error_t *error, bool *write_error)
{
	bson_t		opts;
	bool		ok;
	int			index;
	instr_time	start;

	bson_init(&opts);
	BSON_APPEND_BOOL(&opts, "upsert", true);
	memset(w->ops, 0, sizeof(w->ops));
	memset(w->bytes, 0, sizeof(w->bytes));
	w->ops[1] = 1;
	w->bytes[1] = id->len + body->len;
	INSTR_TIME_SET_CURRENT(start);
	ok = mongoc_collection_replace_one(w->coll, id, body, &opts,
									   &w->reply, error);
	w->reply_live = true;
	count_write(w, start, !ok);
	bson_destroy(&opts);

	*write_error = false;
	if (!ok)
		*write_error = reply_write_error(&w->reply, &index, error);
	ng_bulk_reset(w);
	return ok;
}

/*
 * Is an update's body a whole document (UPDATE of a $$ROOT column) rather
 * than update operators?  Its first key says.
 */
static bool
is_replacement(const bson_t *body)
{
	bson_iter_t iter;

	return bson_iter_init(&iter, body) && bson_iter_next(&iter) &&
		bson_iter_key(&iter)[0] != '$';
}

/*
 * The first write error of a bulk or write reply: its operation's index
 * and, in *error, its code and message (domain MONGOC_ERROR_SERVER).
 */
static bool
reply_write_error(const bson_t *reply, int *index, bson_error_t *error)
{
	bson_iter_t iter;
	bson_iter_t errors;
	bson_iter_t fields;
	int			code = 0;
	const char *message = "unknown write error";

	if (!bson_iter_init_find(&iter, reply, "writeErrors") ||
		!BSON_ITER_HOLDS_ARRAY(&iter) ||
		!bson_iter_recurse(&iter, &errors) ||
		!bson_iter_next(&errors) ||
		!BSON_ITER_HOLDS_DOCUMENT(&errors) ||
		!bson_iter_recurse(&errors, &fields))
		return false;

	*index = -1;
	while (bson_iter_next(&fields))
	{
		const char *key = bson_iter_key(&fields);

		if (strcmp(key, "index") == 0 && BSON_ITER_HOLDS_NUMBER(&fields))
			*index = (int) bson_iter_as_int64(&fields);
		else if (strcmp(key, "code") == 0 && BSON_ITER_HOLDS_NUMBER(&fields))
			code = (int) bson_iter_as_int64(&fields);
		else if (strcmp(key, "errmsg") == 0 && BSON_ITER_HOLDS_UTF8(&fields))
			message = bson_iter_utf8(&fields, NULL);
	}

	bson_set_error(error, MONGOC_ERROR_SERVER, code, "%s", message);
	return true;
}

/*
 * ng_error_classify
 *		Transient or permanent?  write_error says the server refused one
 *		document in a write reply: that is permanent unless the code says
 *		the server could not take writes at the moment.  Other server errors
 *		are about the command, the user or the cluster and are retried,
 *		except a few that can only be about the document.  Driver errors
 *		other than connection failures are about the document (invalid, too
 *		large).
 */
NgErrorClass
ng_error_classify(const bson_error_t *error, bool write_error)
{
	if (ng_error_is_connection_failure(error))
		return NG_ERROR_TRANSIENT;
	if (error->domain == MONGOC_ERROR_WRITE_CONCERN)
		return NG_ERROR_TRANSIENT;

	if (error->domain == MONGOC_ERROR_SERVER)
	{
		/*
		 * FerretDB 1.x reports an update that breaks a unique index as an
		 * InternalError of the whole command, with its storage's message,
		 * where MongoDB sends write error 11000.
		 */
		if (error->code == 1 &&
			(strstr(error->message, "UNIQUE constraint failed") != NULL ||
			 strstr(error->message, "duplicate key value violates unique constraint") != NULL))
			return NG_ERROR_PERMANENT;

		switch (error->code)
		{
				/* not primary, shutting down, interrupted, timed out */
			case 6:				/* HostUnreachable */
			case 7:				/* HostNotFound */
			case 24:			/* LockTimeout */
			case 50:			/* MaxTimeMSExpired */
			case 89:			/* NetworkTimeout */
			case 91:			/* ShutdownInProgress */
			case 112:			/* WriteConflict */
			case 189:			/* PrimarySteppedDown */
			case 262:			/* ExceededTimeLimit */
			case 9001:			/* SocketException */
			case 10107:			/* NotWritablePrimary */
			case 11600:			/* InterruptedAtShutdown */
			case 11602:			/* InterruptedDueToReplStateChange */
			case 13435:			/* NotPrimaryNoSecondaryOk */
			case 13436:			/* NotPrimaryOrSecondary */
				return NG_ERROR_TRANSIENT;

				/* about the document whatever the reply's shape */
			case 2:				/* BadValue */
			case 14:			/* TypeMismatch */
			case 52:			/* DollarPrefixedFieldName */
			case 55:			/* InvalidDBRef */
			case 56:			/* EmptyFieldName */
			case 57:			/* DottedFieldName */
			case 66:			/* ImmutableField */
			case 121:			/* DocumentValidationFailure */
			case 10334:			/* BSONObjectTooLarge */
			case 11000:			/* DuplicateKey */
			case 17419:			/* document too large after update */
			case 17420:			/* document too large */
				return NG_ERROR_PERMANENT;

			default:
				return write_error ? NG_ERROR_PERMANENT : NG_ERROR_TRANSIENT;
		}
	}

	if (error->domain == MONGOC_ERROR_BSON ||
		(error->domain == MONGOC_ERROR_COMMAND &&
		 error->code == MONGOC_ERROR_COMMAND_INVALID_ARG))
		return NG_ERROR_PERMANENT;

	return NG_ERROR_TRANSIENT;
}

/*
 * ng_error_set_invalid
 *		Set *error to an error about the operation itself (an invalid
 *		argument), which ng_error_classify calls permanent.
 */
void
ng_error_set_invalid(bson_error_t *error, const char *fmt,...)
{
	va_list		ap;
	char		message[sizeof(error->message)];

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	bson_set_error(error, MONGOC_ERROR_COMMAND,
				   MONGOC_ERROR_COMMAND_INVALID_ARG, "%s", message);
}

/*
 * ng_error_is_server
 *		Whether error is the server's (its code is a MongoDB error code).
 */
bool
ng_error_is_server(const bson_error_t *error)
{
	return error->domain == MONGOC_ERROR_SERVER;
}

/*
 * ng_error_is_stream
 *		Whether error is a broken or refused network stream.
 */
bool
ng_error_is_stream(const bson_error_t *error)
{
	return error->domain == MONGOC_ERROR_STREAM;
}
