/*-------------------------------------------------------------------------
 *
 * command.c
 *		  One-shot requests on a borrowed connection: a command, a find
 *		  read to the end, the list of a database's collections, a ping.
 *
 * Each function creates the driver objects it needs on the connection the
 * caller borrowed (ng_conn_get) and destroys them before it returns, also
 * when a callback raises (PG_FINALLY): libmongoc allocates with malloc, and
 * ereport's longjmp frees none of it.  Failures are returned in a
 * bson_error_t for the caller to report (ng_conn_report_error) or classify;
 * nothing here raises for a server's answer.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/conn/command.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "ng_remote.h"

static bool read_cursor(mongoc_cursor_t *cursor, NgDocCallback callback,
						void *arg, bson_error_t *error);

/*
 * ng_conn_command
 *		Run command on database; *reply is always initialised and must be
 *		destroyed by the caller.  False, with *error set, if the command or
 *		the connection failed.
 */
bool
ng_conn_command(NgConnEntry *entry, const char *database,
				const bson_t *command, bson_t *reply, bson_error_t *error)
{
	return mongoc_client_command_simple(ng_conn_client(entry), database,
										command, NULL, reply, error);
}

/*
 * ng_conn_find_each
 *		Send one find on database.collection with filter and opts, and pass
 *		every document of its result to callback.  False, with *error set,
 *		if the find failed (callback may have seen some documents).
 *
 * Takes filter and opts over: they are destroyed (bson_destroy) as soon as
 * the cursor holds its copies, before anything can raise.  The callback
 * may raise; the cursor is destroyed all the same.
 */
bool
ng_conn_find_each(NgConnEntry *entry, const char *database,
				  const char *collection, bson_t *filter, bson_t *opts,
				  NgDocCallback callback, void *arg, bson_error_t *error)
{
	mongoc_collection_t *coll;
	mongoc_cursor_t *cursor;
	volatile bool ok = false;

	coll = mongoc_client_get_collection(ng_conn_client(entry), database,
										collection);
	cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
	bson_destroy(filter);
	bson_destroy(opts);
	PG_TRY();
	{
		ok = read_cursor(cursor, callback, arg, error);
	}
	PG_FINALLY();
	{
		mongoc_cursor_destroy(cursor);
		mongoc_collection_destroy(coll);
	}
	PG_END_TRY();
	return ok;
}

/*
 * ng_conn_find_ids
 *		ng_conn_find_each with a projection of _id alone: which documents
 *		that filter matches exist (the callback gets {"_id": v}).  Takes
 *		filter over likewise.
 */
bool
ng_conn_find_ids(NgConnEntry *entry, const char *database,
				 const char *collection, bson_t *filter,
				 NgDocCallback callback, void *arg, bson_error_t *error)
{
	bson_t		opts;
	bson_t		proj;

	bson_init(&opts);
	bson_append_document_begin(&opts, "projection", -1, &proj);
	BSON_APPEND_INT32(&proj, "_id", 1);
	bson_append_document_end(&opts, &proj);
	return ng_conn_find_each(entry, database, collection, filter, &opts,
							 callback, arg, error);
}

/*
 * ng_conn_list_collections
 *		Pass the listCollections document of every collection and view of
 *		database to callback.  False, with *error set, on failure.  The
 *		callback may raise.
 */
bool
ng_conn_list_collections(NgConnEntry *entry, const char *database,
						 NgDocCallback callback, void *arg,
						 bson_error_t *error)
{
	mongoc_database_t *db;
	mongoc_cursor_t *cursor;
	volatile bool ok = false;

	db = mongoc_client_get_database(ng_conn_client(entry), database);
	cursor = mongoc_database_find_collections_with_opts(db, NULL);
	PG_TRY();
	{
		ok = read_cursor(cursor, callback, arg, error);
	}
	PG_FINALLY();
	{
		mongoc_cursor_destroy(cursor);
		mongoc_database_destroy(db);
	}
	PG_END_TRY();
	return ok;
}

/*
 * ng_conn_ping
 *		Whether the server answers a ping (the driver reconnects first if
 *		the connection broke).  Never raises for the answer.
 */
bool
ng_conn_ping(NgConnEntry *entry)
{
	bson_t		cmd;
	bson_t		reply;
	bson_error_t error;
	bool		ok;

	bson_init(&cmd);
	BSON_APPEND_INT32(&cmd, "ping", 1);
	ok = mongoc_client_command_simple(ng_conn_client(entry), "admin", &cmd,
									  NULL, &reply, &error);
	bson_destroy(&cmd);
	bson_destroy(&reply);
	return ok;
}

/*
 * read_cursor
 *		Iterate cursor to its end, passing each document to callback; then
 *		whether it ended without an error (else *error is set).
 */
static bool
read_cursor(mongoc_cursor_t *cursor, NgDocCallback callback, void *arg,
			bson_error_t *error)
{
	const bson_t *doc;

	while (mongoc_cursor_next(cursor, &doc))
		callback(doc, arg);
	return !mongoc_cursor_error(cursor, error);
}
