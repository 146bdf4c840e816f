/*-------------------------------------------------------------------------
 *
 * connection.c
 *		  The per-backend cache of MongoDB clients, one per user mapping.
 *
 * A client is created on first use and kept for the life of the backend:
 * there is no ping per query; a broken connection is noticed when an
 * operation fails.  The client is a single-threaded mongoc_client_t (a pool
 * would start threads, and nothing in a backend is thread-safe).
 *
 * Callers borrow an entry with ng_conn_get() and return it with
 * ng_conn_release(); an entry in use is never rebuilt, so a cursor never
 * outlives its client.  An entry is rebuilt at the next ng_conn_get() after
 * its server or user mapping changed (syscache invalidation), after a
 * connection failure, or after ng_disconnect().
 *
 * The connection string comes from the server's "uri" option; credentials
 * from the user mapping are set with the driver's URI setters, never pasted
 * into a string, and neither the uri nor the password ever reaches a message.
 *
 * A non-superuser must authenticate with the password of their user mapping
 * (unless a superuser waived it with password_required 'false'): the check
 * is made on the connection settings the driver will use, so a mechanism
 * that ignores the password (MONGODB-X509 with the host's certificate,
 * GSSAPI with the host's ticket, MONGODB-AWS with the host's cloud role) is
 * refused, not merely a mapping without a "password" option.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/conn/connection.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "ng_remote.h"

struct NgConnEntry
{
	Oid			umid;			/* hash key: user mapping OID */
	Oid			serverid;
	Oid			userid;			/* user the mapping was looked up for */
	mongoc_client_t *client;	/* NULL until connected */
	int			refcount;		/* borrowers (open scans, commands) */
	bool		invalidated;	/* server or mapping changed */
	bool		broken;			/* a connection failure was seen */
	uint32		server_hashvalue;	/* for syscache invalidation */
	uint32		mapping_hashvalue;
};

static HTAB *ConnectionHash = NULL;

static void conn_init_hash(void);
static void conn_connect(NgConnEntry *entry, ForeignServer *server,
						 UserMapping *user);
static void conn_close(NgConnEntry *entry);
static void conn_inval_callback(Datum arg, int cacheid, uint32 hashvalue);
static void check_password(ForeignServer *server, UserMapping *user,
						   const mongoc_uri_t *uri);
static bool apply_mapping_options(mongoc_uri_t *uri, ForeignServer *server,
								  UserMapping *user);
static bool error_is_auth_failure(const bson_error_t *error);
static void driver_log(mongoc_log_level_t level, const char *domain,
					   const char *message, void *arg);
static void driver_proc_exit(int code, Datum arg);

static void
conn_init_hash(void)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(NgConnEntry);
	ConnectionHash = hash_create("nutragenie connections", 8, &ctl,
								 HASH_ELEM | HASH_BLOBS);

	CacheRegisterSyscacheCallback(FOREIGNSERVEROID, conn_inval_callback,
								  (Datum) 0);
	CacheRegisterSyscacheCallback(USERMAPPINGOID, conn_inval_callback,
								  (Datum) 0);
}

/*
 * Borrow the connection for (server, user), creating or rebuilding it as
 * needed.  userid InvalidOid means the current user.  The caller must call
 * ng_conn_release() when done, on success; on error, transaction abort
 * releases nothing, so callers that can throw while holding an entry
 * release it from a memory-context reset callback.
 */
NgConnEntry *
ng_conn_get(Oid serverid, Oid userid)
{
	ForeignServer *server = GetForeignServer(serverid);
	UserMapping *user;
	NgConnEntry *entry;
	bool		found;

	if (!OidIsValid(userid))
		userid = GetUserId();
	user = GetUserMapping(userid, serverid);

	if (ConnectionHash == NULL)
		conn_init_hash();

	entry = hash_search(ConnectionHash, &user->umid, HASH_ENTER, &found);
	if (!found)
	{
		entry->client = NULL;
		entry->refcount = 0;
		entry->invalidated = false;
		entry->broken = false;
	}

	/* Rebuild a stale client, but never under a live cursor. */
	if (entry->client != NULL && entry->refcount == 0 &&
		(entry->invalidated || entry->broken))
		conn_close(entry);

	if (entry->client == NULL)
	{
		entry->serverid = serverid;
		entry->userid = userid;
		entry->invalidated = false;
		entry->broken = false;
		entry->server_hashvalue =
			GetSysCacheHashValue1(FOREIGNSERVEROID, ObjectIdGetDatum(serverid));
		entry->mapping_hashvalue =
			GetSysCacheHashValue1(USERMAPPINGOID, ObjectIdGetDatum(user->umid));
		conn_connect(entry, server, user);
	}

	entry->refcount++;
	return entry;
}

/*
 * The driver client of a borrowed entry.
 */
mongoc_client_t *
ng_conn_client(NgConnEntry *entry)
{
	Assert(entry->refcount > 0 && entry->client != NULL);
	return entry->client;
}

/*
 * Give a borrowed entry back.  Safe to call from cleanup callbacks.
 */
void
ng_conn_release(NgConnEntry *entry)
{
	if (entry->refcount > 0)
		entry->refcount--;
}

/*
 * A non-superuser must authenticate with a password of their own unless a
 * superuser waived it with password_required 'false' on the mapping:
 * otherwise they could use whatever access the server grants this machine
 * (its certificate, Kerberos ticket or cloud credentials).  uri holds the
 * settings the connection will use, the mapping's credentials applied.
 */
static void
check_password(ForeignServer *server, UserMapping *user,
			   const mongoc_uri_t *uri)
{
	const char *mechanism;

	if (superuser_arg(user->userid))
		return;
	if (!ng_option_bool(user->options, "password_required", true))
		return;

	if (mongoc_uri_get_username(uri) == NULL ||
		mongoc_uri_get_password(uri) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
				 errmsg("password is required"),
				 errdetail("Non-superusers must provide a user name and a password in the user mapping for server \"%s\".",
						   server->servername)));

	/*
	 * No mechanism means the driver negotiates SCRAM.  MONGODB-AWS with a
	 * user name and password uses them as the access key and secret.
	 */
	mechanism = mongoc_uri_get_auth_mechanism(uri);
	if (mechanism != NULL &&
		pg_strcasecmp(mechanism, "SCRAM-SHA-256") != 0 &&
		pg_strcasecmp(mechanism, "SCRAM-SHA-1") != 0 &&
		pg_strcasecmp(mechanism, "PLAIN") != 0 &&
		pg_strcasecmp(mechanism, "MONGODB-AWS") != 0)
	{
		char	   *mech = pstrdup(mechanism);

		ereport(ERROR,
				(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
				 errmsg("password is required"),
				 errdetail("Non-superusers must authenticate to server \"%s\" with the password of their user mapping, which authentication mechanism \"%s\" does not use.",
						   server->servername, mech),
				 errhint("Use SCRAM-SHA-256, SCRAM-SHA-1 or PLAIN, or ask a superuser to set password_required to false on the user mapping.")));
	}
}

/*
 * Set the user mapping's credentials and the server's and mapping's TLS
 * options on uri.  Returns false if the driver refused one of them.
 */
static bool
apply_mapping_options(mongoc_uri_t *uri, ForeignServer *server,
					  UserMapping *user)
{
	const char *username = ng_option_value(user->options, "username");
	const char *password = ng_option_value(user->options, "password");
	const char *mechanism = ng_option_auth_mechanism(user->options);
	const char *token = ng_option_value(user->options, "aws_session_token");
	const char *s;
	bool		ok = true;

	if (username != NULL)
		ok = ok && mongoc_uri_set_username(uri, username);
	if (password != NULL)
		ok = ok && mongoc_uri_set_password(uri, password);
	if (mechanism != NULL)
		ok = ok && mongoc_uri_set_auth_mechanism(uri, mechanism);
	if ((s = ng_option_value(server->options, "tls_ca_file")) != NULL)
		ok = ok && mongoc_uri_set_option_as_utf8(uri, MONGOC_URI_TLSCAFILE, s);
	if ((s = ng_option_value(user->options, "tls_certificate_key_file")) != NULL)
		ok = ok && mongoc_uri_set_option_as_utf8(uri,
												 MONGOC_URI_TLSCERTIFICATEKEYFILE,
												 s);
	if ((s = ng_option_value(user->options,
							 "tls_certificate_key_file_password")) != NULL)
		ok = ok && mongoc_uri_set_option_as_utf8(uri,
												 MONGOC_URI_TLSCERTIFICATEKEYFILEPASSWORD,
												 s);
	if (ok && token != NULL)
	{
		bson_t		old;
		bson_t		props = BSON_INITIALIZER;

		/* keep the uri's public properties, add the token */
		if (mongoc_uri_get_mechanism_properties(uri, &old))
			bson_copy_to_excluding_noinit(&old, &props, "AWS_SESSION_TOKEN",
										  NULL);
		ok = BSON_APPEND_UTF8(&props, "AWS_SESSION_TOKEN", token) &&
			mongoc_uri_set_mechanism_properties(uri, &props);
		bson_destroy(&props);
	}
	return ok;
}

/*
 * Create the client for an entry from the server's uri and the mapping's
 * credentials.  Driver objects are destroyed before any error is raised.
 */
static void
conn_connect(NgConnEntry *entry, ForeignServer *server, UserMapping *user)
{
	const char *uristr = ng_option_value(server->options, "uri");
	mongoc_uri_t *uri;
	mongoc_client_t *client;
	bson_error_t error;
	char		detail[sizeof(error.message)];
	bool		ok;

	if (uristr == NULL)
		uristr = "mongodb://localhost:27017/";

	uri = mongoc_uri_new_with_error(uristr, &error);
	if (uri == NULL)
	{
		strlcpy(detail, error.message, sizeof(detail));
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid uri for server \"%s\"", server->servername),
				 errdetail_internal("%s", detail)));
	}

	PG_TRY();
	{
		ok = apply_mapping_options(uri, server, user);
		if (ok)
			check_password(server, user, uri);
	}
	PG_CATCH();
	{
		mongoc_uri_destroy(uri);
		PG_RE_THROW();
	}
	PG_END_TRY();

	/*
	 * Bound every wait: a server that accepts connections and never answers
	 * must not hang a backend, since cancel acts only between driver calls.
	 */
	if (!mongoc_uri_has_option(uri, MONGOC_URI_CONNECTTIMEOUTMS))
		ok = ok && mongoc_uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS,
												  ng_connect_timeout_ms);
	if (!mongoc_uri_has_option(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
		ok = ok && mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS,
												  ng_connect_timeout_ms);
	if (!mongoc_uri_has_option(uri, MONGOC_URI_SOCKETTIMEOUTMS))
		ok = ok && mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS,
												  ng_socket_timeout_ms);
	if (!mongoc_uri_has_option(uri, MONGOC_URI_APPNAME))
		ok = ok && mongoc_uri_set_appname(uri, "nutragenie");

	if (!ok)
	{
		mongoc_uri_destroy(uri);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("could not apply the connection settings of server \"%s\"",
						server->servername),
				 errhint("Check the options of the user mapping and the timeouts in the server's uri.")));
	}

	client = mongoc_client_new_from_uri(uri);
	mongoc_uri_destroy(uri);
	if (client == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not create a MongoDB client for server \"%s\"",
						server->servername),
				 errhint("Check the TLS options in the server's uri.")));

	if (!mongoc_client_set_error_api(client, MONGOC_ERROR_API_VERSION_2))
	{
		mongoc_client_destroy(client);
		elog(ERROR, "could not select the MongoDB driver's error API");
	}

	entry->client = client;
}

static void
conn_close(NgConnEntry *entry)
{
	if (entry->client != NULL)
	{
		mongoc_client_destroy(entry->client);
		entry->client = NULL;
	}
}

/*
 * Mark entries whose server or user mapping changed; they are rebuilt at
 * their next use.  hashvalue 0 means "everything".
 */
static void
conn_inval_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	HASH_SEQ_STATUS scan;
	NgConnEntry *entry;

	hash_seq_init(&scan, ConnectionHash);
	while ((entry = (NgConnEntry *) hash_seq_search(&scan)) != NULL)
	{
		if (entry->client == NULL)
			continue;
		if (hashvalue == 0 ||
			(cacheid == FOREIGNSERVEROID &&
			 entry->server_hashvalue == hashvalue) ||
			(cacheid == USERMAPPINGOID &&
			 entry->mapping_hashvalue == hashvalue))
			entry->invalidated = true;
	}
}

/*
 * Did authentication fail?  The driver reports a refused login as
 * CLIENT / CLIENT_AUTHENTICATE, a broken SCRAM or SASL conversation in its
 * own SCRAM and SASL domains, and a server may answer a command with
 * AuthenticationFailed (18).
 */
static bool
error_is_auth_failure(const bson_error_t *error)
{
	return (error->domain == MONGOC_ERROR_CLIENT &&
			error->code == MONGOC_ERROR_CLIENT_AUTHENTICATE) ||
		error->domain == MONGOC_ERROR_SCRAM ||
		error->domain == MONGOC_ERROR_SASL ||
		(error->domain == MONGOC_ERROR_SERVER && error->code == 18);
}

/*
 * Does this driver error mean the server could not be reached or would not
 * let us in (as opposed to the server rejecting a command)?
 */
bool
ng_error_is_connection_failure(const bson_error_t *error)
{
	if (error_is_auth_failure(error))
		return true;

	/* Server-side codes share numbers with driver codes: check domain. */
	if (error->domain == MONGOC_ERROR_SERVER ||
		error->domain == MONGOC_ERROR_WRITE_CONCERN)
		return false;

	if (error->domain == MONGOC_ERROR_STREAM ||
		error->domain == MONGOC_ERROR_SERVER_SELECTION)
		return true;

	/* e.g. a failed handshake is reported as CLIENT / STREAM_CONNECT */
	switch (error->code)
	{
		case MONGOC_ERROR_STREAM_NAME_RESOLUTION:
		case MONGOC_ERROR_STREAM_SOCKET:
		case MONGOC_ERROR_STREAM_CONNECT:
		case MONGOC_ERROR_STREAM_NOT_ESTABLISHED:
		case MONGOC_ERROR_CLIENT_AUTHENTICATE:
		case MONGOC_ERROR_CLIENT_NO_ACCEPTABLE_PEER:
		case MONGOC_ERROR_SERVER_SELECTION_FAILURE:
			return true;
		default:
			return false;
	}
}

/*
 * Raise an error for a failed driver call.  action says what was being done
 * ("run a find on collection \"x\"").  A connection failure marks the entry
 * broken so that the next use reconnects; the driver's text goes into the
 * detail.  The caller must have destroyed its own driver objects already.
 */
void
ng_conn_report_error(NgConnEntry *entry, const bson_error_t *error,
					 const char *action)
{
	char		detail[sizeof(error->message)];
	const char *servername = "";

	strlcpy(detail, error->message, sizeof(detail));

	if (entry != NULL)
	{
		ForeignServer *server = GetForeignServer(entry->serverid);

		servername = server->servername;
	}

	if (ng_error_is_connection_failure(error))
	{
		bool		auth = error_is_auth_failure(error);

		if (entry != NULL)
			entry->broken = true;
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 auth
				 ? errmsg("could not authenticate to MongoDB server \"%s\"",
						  servername)
				 : errmsg("could not connect to MongoDB server \"%s\"",
						  servername),
				 errdetail_internal("%s", detail),
				 auth
				 ? errhint("Check the \"username\" and \"password\" options of the user mapping and the authentication options in the server's uri.")
				 : errhint("Check that the server is running and that the \"uri\" option of server \"%s\" is right.",
						   servername)));
	}

	/* Namespace not found: the collection or database does not exist. */
	if (error->domain == MONGOC_ERROR_SERVER && error->code == 26)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
				 errmsg("could not %s", action),
				 errdetail_internal("%s", detail)));

	ereport(ERROR,
			(errcode(ERRCODE_FDW_ERROR),
			 errmsg("could not %s", action),
			 errdetail_internal("%s", detail)));
}

/*
 * Destroy every client: at process exit, before mongoc_cleanup().
 */
void
ng_conn_cleanup_all(void)
{
	HASH_SEQ_STATUS scan;
	NgConnEntry *entry;

	if (ConnectionHash == NULL)
		return;
	hash_seq_init(&scan, ConnectionHash);
	while ((entry = (NgConnEntry *) hash_seq_search(&scan)) != NULL)
		conn_close(entry);
}

/*
 * SQL: the connections this backend holds.
 */
PG_FUNCTION_INFO_V1(ng_connections);

Datum
ng_connections(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS scan;
	NgConnEntry *entry;

	InitMaterializedSRF(fcinfo, 0);

	if (ConnectionHash == NULL)
		return (Datum) 0;

	hash_seq_init(&scan, ConnectionHash);
	while ((entry = (NgConnEntry *) hash_seq_search(&scan)) != NULL)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};
		ForeignServer *server;

		if (entry->client == NULL)
			continue;

		/* The server may have been dropped: then it is not valid either. */
		server = GetForeignServerExtended(entry->serverid, FSV_MISSING_OK);
		if (server == NULL)
			nulls[0] = true;
		else
			values[0] = CStringGetTextDatum(server->servername);
		values[1] = CStringGetTextDatum(GetUserNameFromId(entry->userid, true)
										? GetUserNameFromId(entry->userid, true)
										: "");
		values[2] = BoolGetDatum(server != NULL && !entry->invalidated &&
								 !entry->broken);
		values[3] = BoolGetDatum(entry->refcount > 0);

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}

	return (Datum) 0;
}

/*
 * Close the idle connections matching serverid (InvalidOid: all).  Returns
 * whether any was closed; one still in use is left alone with a WARNING.
 */
static bool
disconnect_matching(Oid serverid)
{
	HASH_SEQ_STATUS scan;
	NgConnEntry *entry;
	bool		closed = false;

	if (ConnectionHash == NULL)
		return false;

	hash_seq_init(&scan, ConnectionHash);
	while ((entry = (NgConnEntry *) hash_seq_search(&scan)) != NULL)
	{
		if (entry->client == NULL)
			continue;
		if (OidIsValid(serverid) && entry->serverid != serverid)
			continue;
		if (entry->refcount > 0)
		{
			ForeignServer *server = GetForeignServerExtended(entry->serverid,
															 FSV_MISSING_OK);

			ereport(WARNING,
					(errmsg("cannot close the connection to server \"%s\" because it is still in use",
							server ? server->servername : "?")));
			continue;
		}
		conn_close(entry);
		closed = true;
	}
	return closed;
}

PG_FUNCTION_INFO_V1(ng_disconnect);

/*
 * SQL: close this backend's connections to one server.
 */
Datum
ng_disconnect(PG_FUNCTION_ARGS)
{
	ForeignServer *server = GetForeignServerByName(NameStr(*PG_GETARG_NAME(0)),
												   false);

	PG_RETURN_BOOL(disconnect_matching(server->serverid));
}

PG_FUNCTION_INFO_V1(ng_disconnect_all);

/*
 * SQL: close all of this backend's connections.
 */
Datum
ng_disconnect_all(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(disconnect_matching(InvalidOid));
}

/*
 * ng_conn_init_driver
 *		Initialise libmongoc for this process (at module load): its log lines
 *		go to the server log, and at process exit every client is closed
 *		before the driver is released.
 */
void
ng_conn_init_driver(void)
{
	mongoc_init();
	mongoc_log_set_handler(driver_log, NULL);
	on_proc_exit(driver_proc_exit, (Datum) 0);
}

/*
 * The driver's own log lines go to the server log instead of stderr: its
 * warnings (a failed endSessions on a dead connection ...) at DEBUG1, since
 * every failure that matters is also returned to us and reported; its
 * errors at LOG.  Never raises.
 */
static void
driver_log(mongoc_log_level_t level, const char *domain,
		   const char *message, void *arg)
{
	int			elevel;

	switch (level)
	{
		case MONGOC_LOG_LEVEL_ERROR:
		case MONGOC_LOG_LEVEL_CRITICAL:
			elevel = LOG;
			break;
		case MONGOC_LOG_LEVEL_WARNING:
			elevel = DEBUG1;
			break;
		default:
			elevel = DEBUG3;
			break;
	}
	ereport(elevel,
			(errmsg_internal("libmongoc %s: %s", domain, message)));
}

/*
 * Process exit: close every client, then release the driver.
 */
static void
driver_proc_exit(int code, Datum arg)
{
	ng_conn_cleanup_all();
	mongoc_cleanup();
}
