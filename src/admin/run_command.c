/*-------------------------------------------------------------------------
 *
 * run_command.c
 *		  ng_run_command: one MongoDB database command, run from SQL.
 *
 * ng_run_command() runs one MongoDB database command on a server through
 * the caller's user mapping, with the command given as Extended JSON.  It is
 * how a DBA creates indexes or inspects a server from SQL, and how tests
 * load BSON values that SQL cannot yet write.  The command is json, not
 * jsonb, because MongoDB takes the command name from the first key and
 * jsonb does not keep key order.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/admin/run_command.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"

#include "bson/bson_map.h"
#include "conn/conn.h"
#include "write/write.h"

/*
 * Is the command one that never writes documents?  Only a short list of
 * well-known read commands; anything else counts as a write.
 */
static bool
command_is_read_only(const bson_t *command)
{
	static const char *const readers[] = {
		"ping", "buildInfo", "buildinfo", "hello", "isMaster", "ismaster",
		"serverStatus", "listCollections", "listDatabases", "listIndexes",
		"count", "find", "distinct", "dbStats", "collStats", "getParameter",
		"hostInfo", "connectionStatus", "explain", "getMore", NULL
	};
	bson_iter_t it;
	const char *name;

	if (!bson_iter_init(&it, command) || !bson_iter_next(&it))
		return true;
	name = bson_iter_key(&it);
	for (int i = 0; readers[i] != NULL; i++)
		if (strcmp(name, readers[i]) == 0)
			return true;
	return false;
}

PG_FUNCTION_INFO_V1(ng_run_command);

/*
 * ng_run_command(server name, command json, database text DEFAULT NULL)
 * RETURNS jsonb: the server's reply, as relaxed Extended JSON.
 */
Datum
ng_run_command(PG_FUNCTION_ARGS)
{
	ForeignServer *server;
	char	   *json;
	char	   *database;
	bson_t	   *command;
	bson_t		reply;
	bson_error_t error;
	NgConnEntry *entry;
	NgConverter conv;
	AclResult	aclresult;
	Datum		result;
	bool		isnull = false;
	bool		ok;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("server and command must not be null")));

	server = GetForeignServerByName(NameStr(*PG_GETARG_NAME(0)), false);
	aclresult = ng_foreign_server_aclcheck(server->serverid, GetUserId(),
										   ACL_USAGE);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FOREIGN_SERVER, server->servername);

	if (!PG_ARGISNULL(2))
		database = text_to_cstring(PG_GETARG_TEXT_PP(2));
	else if ((database = ng_server_database(server)) == NULL)
		database = "admin";
	json = text_to_cstring(PG_GETARG_TEXT_PP(1));

	ng_converter_init(&conv, JSONBOID, -1, NG_MISMATCH_ERROR, NG_JSON_RELAXED);

	command = bson_new_from_json((const uint8_t *) json, -1, &error);
	if (command == NULL)
	{
		char		detail[sizeof(error.message)];

		strlcpy(detail, error.message, sizeof(detail));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid MongoDB command"),
				 errdetail_internal("%s", detail)));
	}

	PG_TRY();
	{
		entry = ng_conn_get(server->serverid, InvalidOid);
	}
	PG_CATCH();
	{
		bson_destroy(command);
		PG_RE_THROW();
	}
	PG_END_TRY();

	ok = ng_conn_command(entry, database, command, &reply, &error);
	ng_conn_release(entry);

	/*
	 * A command that may write (even one that failed half-way) empties the
	 * document cache: we cannot tell which documents it touched.
	 */
	if (!command_is_read_only(command))
		ng_cache_invalidate_all();
	bson_destroy(command);

	if (!ok)
	{
		bson_destroy(&reply);
		ng_conn_report_error(entry, &error,
							 psprintf("run a command on database \"%s\"",
									  database));
	}

	PG_TRY();
	{
		result = ng_bson_document_to_datum(&conv, &reply, &isnull);
	}
	PG_FINALLY();
	{
		bson_destroy(&reply);
	}
	PG_END_TRY();

	PG_RETURN_DATUM(result);
}
