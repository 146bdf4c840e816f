/*-------------------------------------------------------------------------
 *
 * option.c
 *		  Validates nutragenie_fdw options and merges them into NgTableOptions.
 *
 * Every option the wrapper understands is listed once, in ng_options[],
 * with the catalog it belongs to and the kind of value it takes.  The
 * validator walks that table at DDL time so that a bad name or value never
 * reaches the planner; ng_options_for_rel() resolves server, table and
 * column options once per plan, and the result travels to the executor in
 * fdw_private (ng_options_to_list / ng_options_from_list).
 *
 * Each kind of value has one parser here, used both by the validator and
 * when the options are read for a plan or a connection, so that what DDL
 * accepts is exactly what a scan understands ("1e3" is no batch size).
 *
 * Credentials live only in user mappings: a server "uri" that embeds a user
 * name, a password or another secret (a key file's password, an AWS session
 * token) is refused, so that none can leak through the catalog of the
 * server, which every user with USAGE can read.  Options that name a file
 * the server process reads (TLS CA and key files), in the uri or on their
 * own, may be set only by a superuser, as postgres_fdw does for sslcert and
 * sslkey: otherwise any user could make the backend present the host's own
 * key.  What the validator cannot see (a column's type) is checked by
 * ng_options_check_columns(), at DDL time from an event trigger and again
 * when a table is planned.  Several columns may read one field (in several
 * types), but a write that sets the field from two of them is refused
 * (ng_options_check_shared_fields).
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/option.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/reloptions.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "commands/event_trigger.h"
#include "executor/tuptable.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "nutragenie.h"
#include "conn/uri.h"

typedef enum NgOptionKind
{
	NG_OPT_STRING,				/* any non-empty string */
	NG_OPT_SECRET,				/* a string never shown anywhere */
	NG_OPT_FILE,				/* an absolute file path; superuser-only */
	NG_OPT_BOOL,
	NG_OPT_INT,					/* integer within [min, max] */
	NG_OPT_ENUM,				/* one of enumvals */
	NG_OPT_URI,					/* a MongoDB connection string */
	NG_OPT_FIELD,				/* a dotted field path or $$ROOT */
	NG_OPT_COLLECTION			/* a collection name */
} NgOptionKind;

typedef struct NgOption
{
	const char *name;
	Oid			context;		/* catalog the option belongs to */
	NgOptionKind kind;
	int			min;
	int			max;
	const char *const *enumvals;
} NgOption;

static const char *const mismatch_values[] = {"error", "null", NULL};
static const char *const json_mode_values[] = {"relaxed", "canonical", NULL};
static const char *const null_mode_values[] = {"unset", "null", NULL};

/* in NgTimestampRounding order */
static const char *const rounding_values[] = {"error", "round", "truncate", NULL};

/* the mechanisms libmongoc knows, spelled as it wants them */
static const char *const auth_mechanism_values[] = {"SCRAM-SHA-256",
	"SCRAM-SHA-1", "PLAIN", "MONGODB-X509", "MONGODB-AWS", "GSSAPI", NULL};


/* in NgBsonWriteType order */
static const char *const bson_type_values[] = {"auto", "decimal", "double",
"long", "int", "string", NULL};

/* The one list of options; README's option tables follow it. */
static const NgOption ng_options[] = {
	{"uri", ForeignServerRelationId, NG_OPT_URI},
	{"database", ForeignServerRelationId, NG_OPT_STRING},
	{"batch_size", ForeignServerRelationId, NG_OPT_INT, 1, 100000},
	{"use_remote_estimate", ForeignServerRelationId, NG_OPT_BOOL},
	{"tls_ca_file", ForeignServerRelationId, NG_OPT_FILE},

	{"username", UserMappingRelationId, NG_OPT_STRING},
	{"password", UserMappingRelationId, NG_OPT_SECRET},
	{"password_required", UserMappingRelationId, NG_OPT_BOOL},
	{"auth_mechanism", UserMappingRelationId, NG_OPT_ENUM, 0, 0, auth_mechanism_values},
	{"tls_certificate_key_file", UserMappingRelationId, NG_OPT_FILE},
	{"tls_certificate_key_file_password", UserMappingRelationId, NG_OPT_SECRET},
	{"aws_session_token", UserMappingRelationId, NG_OPT_SECRET},

	{"database", ForeignTableRelationId, NG_OPT_STRING},
	{"collection", ForeignTableRelationId, NG_OPT_COLLECTION},
	{"batch_size", ForeignTableRelationId, NG_OPT_INT, 1, 100000},
	{"use_remote_estimate", ForeignTableRelationId, NG_OPT_BOOL},
	{"type_mismatch", ForeignTableRelationId, NG_OPT_ENUM, 0, 0, mismatch_values},
	{"json_mode", ForeignTableRelationId, NG_OPT_ENUM, 0, 0, json_mode_values},
	{"null_mode", ForeignTableRelationId, NG_OPT_ENUM, 0, 0, null_mode_values},
	{"timestamp_rounding", ForeignTableRelationId, NG_OPT_ENUM, 0, 0, rounding_values},

	{"field", AttributeRelationId, NG_OPT_FIELD},
	{"type_mismatch", AttributeRelationId, NG_OPT_ENUM, 0, 0, mismatch_values},
	{"json_mode", AttributeRelationId, NG_OPT_ENUM, 0, 0, json_mode_values},
	{"null_mode", AttributeRelationId, NG_OPT_ENUM, 0, 0, null_mode_values},
	{"bson_type", AttributeRelationId, NG_OPT_ENUM, 0, 0, bson_type_values},
	{"timestamp_rounding", AttributeRelationId, NG_OPT_ENUM, 0, 0, rounding_values},

	{NULL}
};

static const NgOption *find_option(const char *name, Oid context);
static const char *context_name(Oid context);
static char *valid_options_list(Oid context);
static void validate_value(const NgOption *opt, DefElem *def);
static void validate_field_path(const char *path);
static void validate_uri(const char *value);
static void require_superuser_for_file(const char *name);
static bool parse_option_int(const char *value, int *result);
static bool parse_option_bool(const char *value, bool *result);
static int	parse_enum(const char *value, const char *const *values);
static int	enum_option(List *options, const char *name,
						const char *const *values, int dflt);
static void batch_size_option(List *options, int *batch_size);
static void resolve_columns(NgTableOptions *opts, List *tabopts);
static int	column_field_cmp(const void *a, const void *b);
static bool column_sets_field(NgColumn *col, TupleTableSlot *slot,
							  bool for_insert);

PG_FUNCTION_INFO_V1(nutragenie_fdw_validator);

/*
 * Validate the options given to a CREATE or ALTER of a server, user mapping,
 * foreign table or column of nutragenie_fdw.  Raises an error for the first
 * bad option.
 */
Datum
nutragenie_fdw_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	ListCell   *cell;

	foreach(cell, options)
	{
		DefElem    *def = (DefElem *) lfirst(cell);
		const NgOption *opt = find_option(def->defname, catalog);

		if (opt == NULL)
		{
			char	   *valid = valid_options_list(catalog);

			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid option \"%s\" for %s", def->defname,
							context_name(catalog)),
					 valid[0] != '\0'
					 ? errhint("Valid options in this context are: %s.", valid)
					 : errhint("There are no valid options in this context.")));
		}

		validate_value(opt, def);
	}

	PG_RETURN_VOID();
}

static const NgOption *
find_option(const char *name, Oid context)
{
	const NgOption *opt;

	for (opt = ng_options; opt->name != NULL; opt++)
	{
		if (opt->context == context && strcmp(opt->name, name) == 0)
			return opt;
	}
	return NULL;
}

static const char *
context_name(Oid context)
{
	switch (context)
	{
		case ForeignServerRelationId:
			return "a nutragenie_fdw server";
		case UserMappingRelationId:
			return "a nutragenie_fdw user mapping";
		case ForeignTableRelationId:
			return "a nutragenie_fdw foreign table";
		case AttributeRelationId:
			return "a nutragenie_fdw foreign table column";
		default:
			return "the nutragenie_fdw foreign-data wrapper";
	}
}

/*
 * The names of the options valid for a catalog, comma-separated, for hints.
 */
static char *
valid_options_list(Oid context)
{
	StringInfoData buf;
	const NgOption *opt;

	initStringInfo(&buf);
	for (opt = ng_options; opt->name != NULL; opt++)
	{
		if (opt->context != context)
			continue;
		if (buf.len > 0)
			appendStringInfoString(&buf, ", ");
		appendStringInfoString(&buf, opt->name);
	}
	return buf.data;
}

/*
 * Check one option's value according to its kind; raises on a bad value.
 * Each kind is checked with the parser that reads it for a plan or a
 * connection.
 */
static void
validate_value(const NgOption *opt, DefElem *def)
{
	char	   *value = defGetString(def);

	switch (opt->kind)
	{
		case NG_OPT_STRING:
		case NG_OPT_SECRET:
			if (value[0] == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"%s\" must not be empty", opt->name)));
			break;

		case NG_OPT_FILE:
			require_superuser_for_file(opt->name);
			if (!is_absolute_path(value))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"%s\": \"%s\"",
								opt->name, value),
						 errdetail("The value must be an absolute file path.")));
			break;

		case NG_OPT_BOOL:
			{
				bool		flag = ng_option_parse_bool(opt->name, value);

				/*
				 * Only a superuser may let a non-superuser connect without a
				 * password, as with postgres_fdw: it lets that user borrow
				 * whatever the server trusts this machine with.
				 */
				if (strcmp(opt->name, "password_required") == 0 && !flag &&
					!superuser())
					ereport(ERROR,
							(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
							 errmsg("password_required=false is superuser-only"),
							 errhint("User mappings with the password_required option set to false may only be created or modified by the superuser.")));
			}
			break;

		case NG_OPT_INT:
			(void) ng_option_parse_int(opt->name, value, opt->min, opt->max);
			break;

		case NG_OPT_ENUM:
			if (parse_enum(value, opt->enumvals) < 0)
			{
				StringInfoData buf;
				const char *const *v;

				initStringInfo(&buf);
				for (v = opt->enumvals; *v != NULL; v++)
					appendStringInfo(&buf, "%s\"%s\"", buf.len > 0 ? ", " : "", *v);
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"%s\": \"%s\"",
								opt->name, value),
						 errhint("Valid values are %s.", buf.data)));
			}
			break;

		case NG_OPT_URI:
			validate_uri(value);
			break;

		case NG_OPT_FIELD:
			validate_field_path(value);
			break;

		case NG_OPT_COLLECTION:
			if (value[0] == '\0' || strchr(value, '$') != NULL ||
				strncmp(value, "system.", 7) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"collection\": \"%s\"",
								value),
						 errdetail("A collection name must not be empty, contain \"$\" or start with \"system.\".")));
			break;
	}
}

/*
 * Options naming a file the backend reads are superuser-only: a
 * non-superuser could otherwise make the server present the host's own
 * client key, or read files through the TLS library.
 */
static void
require_superuser_for_file(const char *name)
{
	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("option \"%s\" is superuser-only", name),
				 errhint("Options naming files that the server process reads may only be set by a superuser.")));
}

/*
 * Check a server's connection string: libmongoc must accept it, it must not
 * carry credentials or other secrets, and only a superuser may name files
 * in it.  Everything the driver allocates is freed before an error.
 */
static void
validate_uri(const char *value)
{
	NgUriFacts	facts;
	char	   *detail;

	if (!ng_uri_inspect(value, &facts, &detail))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"uri\""),
				 errdetail_internal("%s", detail)));

	if (facts.has_credentials)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"uri\" must not contain a user name or password"),
				 errhint("Put credentials in the \"username\" and \"password\" options of a user mapping.")));
	if (facts.secret != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"uri\" must not contain \"%s\"", facts.secret),
				 errdetail("Every user with USAGE on the server can read its options; secrets belong in user mappings."),
				 facts.secret_home != NULL
				 ? errhint("Put the value in the \"%s\" option of a user mapping.",
						   facts.secret_home)
				 : errhint("Only these authMechanismProperties may be given in the uri: SERVICE_NAME, CANONICALIZE_HOST_NAME, SERVICE_REALM, SERVICE_HOST, ENVIRONMENT, TOKEN_RESOURCE.")));
	if (facts.file != NULL)
		require_superuser_for_file(facts.file);
}

/*
 * A field path is "$$ROOT" or dot-separated non-empty names, none starting
 * with "$" (MongoDB reserves those for operators).
 */
static void
validate_field_path(const char *path)
{
	const char *seg = path;

	if (strcmp(path, NG_ROOT_FIELD) == 0)
		return;

	for (;;)
	{
		const char *dot = strchr(seg, '.');
		size_t		len = dot ? (size_t) (dot - seg) : strlen(seg);

		if (len == 0 || seg[0] == '$')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid value for option \"field\": \"%s\"", path),
					 errdetail("A field path is \"$$ROOT\" or field names separated by dots; names must not be empty or start with \"$\".")));
		if (dot == NULL)
			break;
		seg = dot + 1;
	}
}

/*
 * The integer options' one parser: an optional minus sign and decimal
 * digits, nothing else ("1e3", "5.5", " 5" and "0x10" are not integers,
 * though parse_int() would take some of them).
 */
static bool
parse_option_int(const char *value, int *result)
{
	const char *p = value;
	int64		n = 0;
	bool		neg = false;

	if (*p == '-')
	{
		neg = true;
		p++;
	}
	if (*p == '\0')
		return false;
	for (; *p; p++)
	{
		if (*p < '0' || *p > '9')
			return false;
		n = n * 10 + (*p - '0');
		if (n > (int64) PG_INT32_MAX + 1)
			return false;
	}
	if (neg)
		n = -n;
	if (n < PG_INT32_MIN || n > PG_INT32_MAX)
		return false;
	*result = (int) n;
	return true;
}

/*
 * The boolean options' one parser: "true" or "false", "on" or "off", case
 * aside, as defGetBoolean() takes them.
 */
static bool
parse_option_bool(const char *value, bool *result)
{
	if (pg_strcasecmp(value, "true") == 0 || pg_strcasecmp(value, "on") == 0)
		*result = true;
	else if (pg_strcasecmp(value, "false") == 0 ||
			 pg_strcasecmp(value, "off") == 0)
		*result = false;
	else
		return false;
	return true;
}

/*
 * The value of integer option "name", written as value, which must be
 * decimal digits (parse_option_int) between min and max; raises the
 * option error otherwise.  The validator and IMPORT FOREIGN SCHEMA both
 * parse integer options with it, so both take and refuse the same values.
 */
int
ng_option_parse_int(const char *name, const char *value, int min, int max)
{
	int			n;

	if (!parse_option_int(value, &n) || n < min || n > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"",
						name, value),
				 errdetail("The value must be an integer between %d and %d, written in decimal digits only.",
						   min, max)));
	return n;
}

/*
 * The value of boolean option "name", written as value (parse_option_bool);
 * raises the option error otherwise.  Shared by the validator and IMPORT
 * FOREIGN SCHEMA, as ng_option_parse_int is.
 */
bool
ng_option_parse_bool(const char *name, const char *value)
{
	bool		result;

	if (!parse_option_bool(value, &result))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"",
						name, value),
				 errhint("Valid values are \"true\" and \"false\".")));
	return result;
}

static int
parse_enum(const char *value, const char *const *values)
{
	int			i;

	for (i = 0; values[i] != NULL; i++)
	{
		if (pg_strcasecmp(value, values[i]) == 0)
			return i;
	}
	return -1;
}

/*
 * The value of enum option "name" in options, as its index in values, or
 * dflt when the option is absent.  The validator has accepted the value;
 * one that no longer parses (a catalog edited by hand) raises.
 */
static int
enum_option(List *options, const char *name, const char *const *values,
			int dflt)
{
	const char *s = ng_option_value(options, name);
	int			i;

	if (s == NULL)
		return dflt;
	i = parse_enum(s, values);
	if (i < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", name, s)));
	return i;
}

/*
 * The value of boolean option "name" in options, or dflt when it is absent;
 * parsed as the validator parses it.
 */
bool
ng_option_bool(List *options, const char *name, bool dflt)
{
	const char *s = ng_option_value(options, name);
	bool		result;

	if (s == NULL)
		return dflt;
	if (!parse_option_bool(s, &result))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", name, s)));
	return result;
}

/*
 * The canonical name of the authentication mechanism a user mapping's
 * "auth_mechanism" option asks for, or NULL.
 */
const char *
ng_option_auth_mechanism(List *options)
{
	int			i = enum_option(options, "auth_mechanism", auth_mechanism_values, -1);

	return i < 0 ? NULL : auth_mechanism_values[i];
}

/* the wrapper's handler, in nutragenie.c: identifies our tables */
extern PGDLLEXPORT Datum nutragenie_fdw_handler(PG_FUNCTION_ARGS);

PG_FUNCTION_INFO_V1(nutragenie_fdw_check_ddl);

/*
 * Event trigger (ddl_command_end) for CREATE FOREIGN TABLE and ALTER
 * [FOREIGN] TABLE: run ng_options_check_columns() on the table the command
 * named when it is a table of this wrapper, so that a "$$ROOT" column that
 * is not json or jsonb is refused by the statement that makes it rather
 * than by the first query.
 */
Datum
nutragenie_fdw_check_ddl(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	RangeVar   *rv = NULL;
	Oid			relid;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_EVENT_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"nutragenie_fdw_check_ddl\" must be called as an event trigger")));
	trigdata = (EventTriggerData *) fcinfo->context;

	if (IsA(trigdata->parsetree, CreateForeignTableStmt))
		rv = ((CreateForeignTableStmt *) trigdata->parsetree)->base.relation;
	else if (IsA(trigdata->parsetree, AlterTableStmt))
		rv = ((AlterTableStmt *) trigdata->parsetree)->relation;
	else if (IsA(trigdata->parsetree, RenameStmt) &&
			 ((RenameStmt *) trigdata->parsetree)->renameType == OBJECT_COLUMN)
		rv = ((RenameStmt *) trigdata->parsetree)->relation;
	if (rv == NULL)
		PG_RETURN_VOID();

	relid = RangeVarGetRelid(rv, NoLock, true);
	if (OidIsValid(relid) && get_rel_relkind(relid) == RELKIND_FOREIGN_TABLE)
	{
		ForeignTable *table = GetForeignTable(relid);
		ForeignServer *server = GetForeignServer(table->serverid);
		ForeignDataWrapper *fdw = GetForeignDataWrapper(server->fdwid);
		FmgrInfo	handler;

		if (OidIsValid(fdw->fdwhandler))
		{
			fmgr_info(fdw->fdwhandler, &handler);
			if (handler.fn_addr == nutragenie_fdw_handler)
				ng_options_check_columns(relid);
		}
	}
	PG_RETURN_VOID();
}

/*
 * The value of option "name" in a list of DefElems, or NULL.
 */
const char *
ng_option_value(List *options, const char *name)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, name) == 0)
			return defGetString(def);
	}
	return NULL;
}

/*
 * The default database of a server: its "database" option, else the path
 * of its uri, else NULL.  palloc'd.
 */
char *
ng_server_database(ForeignServer *server)
{
	const char *s = ng_option_value(server->options, "database");
	char	   *db = NULL;

	if (s != NULL)
		return pstrdup(s);
	if ((s = ng_option_value(server->options, "uri")) != NULL)
		db = ng_uri_database(s);
	return db;
}

/*
 * Resolve the options of foreign table relid for a scan run as userid:
 * table options override server options, column options override table
 * options.  The result is palloc'd in the current memory context.
 *
 * The database is taken from the table, then the server, then the path of
 * the server's uri; without any of them it is an error.  The columns are
 * checked as ng_options_check_columns() checks them.
 */
NgTableOptions *
ng_options_for_rel(Oid relid, Oid userid)
{
	NgTableOptions *opts = palloc0(sizeof(NgTableOptions));
	ForeignTable *table = GetForeignTable(relid);
	ForeignServer *server = GetForeignServer(table->serverid);
	const char *s;

	opts->relid = relid;
	opts->relname = get_rel_name(relid);
	opts->serverid = server->serverid;
	opts->userid = userid;
	opts->batch_size = NG_DEFAULT_BATCH_SIZE;

	batch_size_option(server->options, &opts->batch_size);
	batch_size_option(table->options, &opts->batch_size);
	opts->use_remote_estimate =
		ng_option_bool(table->options, "use_remote_estimate",
					   ng_option_bool(server->options, "use_remote_estimate",
									  false));

	if ((s = ng_option_value(table->options, "database")) == NULL)
		s = ng_server_database(server);
	if (s == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("no MongoDB database given for foreign table \"%s\"",
						opts->relname),
				 errhint("Set the \"database\" option of the foreign table or of server \"%s\".",
						 server->servername)));
	opts->database = pstrdup(s);

	s = ng_option_value(table->options, "collection");
	opts->collection = pstrdup(s ? s : opts->relname);

	resolve_columns(opts, table->options);

	return opts;
}

/*
 * Check what the validator cannot see, because it is shown one column's
 * options at a time and no types: that a "$$ROOT" column is json or jsonb.
 * Run from the DDL event trigger after a foreign table is created or
 * altered, and again for every plan (tables made before the trigger
 * existed, or with event triggers disabled).
 */
void
ng_options_check_columns(Oid relid)
{
	NgTableOptions *opts = palloc0(sizeof(NgTableOptions));
	ForeignTable *table = GetForeignTable(relid);

	opts->relid = relid;
	opts->relname = get_rel_name(relid);
	resolve_columns(opts, table->options);
}

/*
 * The "batch_size" option in options, if any, into *batch_size.
 */
static void
batch_size_option(List *options, int *batch_size)
{
	const char *s = ng_option_value(options, "batch_size");

	if (s != NULL && !parse_option_int(s, batch_size))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"batch_size\": \"%s\"", s)));
}

/*
 * Fill opts->columns from the relation's columns, their options and the
 * table's options (tabopts), and check them.
 */
static void
resolve_columns(NgTableOptions *opts, List *tabopts)
{
	Relation	rel;
	TupleDesc	tupdesc;
	int			mismatch = enum_option(tabopts, "type_mismatch",
									   mismatch_values, NG_MISMATCH_ERROR);
	int			json_mode = enum_option(tabopts, "json_mode",
										json_mode_values, NG_JSON_RELAXED);
	int			null_mode = enum_option(tabopts, "null_mode",
										null_mode_values, NG_NULL_UNSET);
	int			rounding = enum_option(tabopts, "timestamp_rounding",
									   rounding_values, NG_TS_ROUND_ERROR);
	int			i;

	rel = table_open(opts->relid, AccessShareLock);
	tupdesc = RelationGetDescr(rel);
	opts->natts = tupdesc->natts;
	opts->columns = palloc0(sizeof(NgColumn) * Max(tupdesc->natts, 1));

	for (i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		NgColumn   *col = &opts->columns[i];
		List	   *colopts;
		const char *s;

		col->attnum = att->attnum;
		if (att->attisdropped)
			continue;

		col->attname = pstrdup(NameStr(att->attname));
		col->typid = att->atttypid;
		col->typmod = att->atttypmod;

		colopts = GetForeignColumnOptions(opts->relid, att->attnum);
		s = ng_option_value(colopts, "field");
		col->field = pstrdup(s ? s : col->attname);
		col->mismatch = (NgMismatchPolicy)
			enum_option(colopts, "type_mismatch", mismatch_values, mismatch);
		col->json_mode = (NgJsonMode)
			enum_option(colopts, "json_mode", json_mode_values, json_mode);
		col->null_mode = (NgNullMode)
			enum_option(colopts, "null_mode", null_mode_values, null_mode);
		col->write_type = (NgBsonWriteType)
			enum_option(colopts, "bson_type", bson_type_values, NG_WRITE_AUTO);
		col->ts_rounding = (NgTimestampRounding)
			enum_option(colopts, "timestamp_rounding", rounding_values,
						rounding);

		col->is_root = strcmp(col->field, NG_ROOT_FIELD) == 0;
		col->is_id = strcmp(col->field, "_id") == 0;

		if (col->is_root &&
			getBaseType(col->typid) != JSONBOID &&
			getBaseType(col->typid) != JSONOID)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("column \"%s\" of foreign table \"%s\" uses field \"$$ROOT\" but has type %s",
							col->attname, opts->relname,
							format_type_be(col->typid)),
					 errhint("The whole document can only be read into a json or jsonb column.")));
	}
	table_close(rel, AccessShareLock);
}

/* qsort comparator: columns by field, then by attnum; dropped ones last */
static int
column_field_cmp(const void *a, const void *b)
{
	const NgColumn *ca = *(NgColumn *const *) a;
	const NgColumn *cb = *(NgColumn *const *) b;
	int			r;

	r = strcmp(ca->field, cb->field);
	if (r != 0)
		return r;
	return (ca->attnum > cb->attnum) - (ca->attnum < cb->attnum);
}

/*
 * The pairs of columns among target_attrs (an integer List of attnums) that
 * map to the same field, as a flat integer List (a1, b1, a2, b2 ...), NIL
 * when there are none (the usual case, which costs writes nothing more).
 * Several columns may read one field, in several types; a write that sets
 * two of them is refused by ng_options_check_shared_fields().  Sorting
 * keeps this O(n log n) for wide tables.
 */
List *
ng_options_shared_fields(NgTableOptions *opts, List *target_attrs)
{
	NgColumn  **cols = palloc(sizeof(NgColumn *) *
							  Max(list_length(target_attrs), 1));
	List	   *pairs = NIL;
	int			n = 0;
	int			i;
	ListCell   *lc;

	foreach(lc, target_attrs)
	{
		NgColumn   *col = ng_options_column(opts, intVal(lfirst(lc)));

		if (col != NULL)
			cols[n++] = col;
	}
	if (n > 1)
		qsort(cols, n, sizeof(NgColumn *), column_field_cmp);
	for (i = 0; i < n; i++)
	{
		int			j;

		for (j = i + 1; j < n && strcmp(cols[i]->field, cols[j]->field) == 0; j++)
			pairs = lappend_int(lappend_int(pairs, cols[i]->attnum),
								cols[j]->attnum);
	}
	pfree(cols);
	return pairs;
}

/*
 * Refuse a row that would set one field from two columns: pairs comes from
 * ng_options_shared_fields().  A column sets its field unless it is NULL
 * and an INSERT leaves it out (null_mode 'unset', or a $$ROOT column); with
 * slot NULL every assigned column sets it (an UPDATE's SET list), so any
 * pair is refused before the first row.
 */
void
ng_options_check_shared_fields(NgTableOptions *opts, List *pairs,
							   TupleTableSlot *slot, bool for_insert)
{
	ListCell   *lc;

	for (lc = list_head(pairs); lc != NULL; lc = lnext(pairs, lnext(pairs, lc)))
	{
		NgColumn   *a = ng_options_column(opts, lfirst_int(lc));
		NgColumn   *b = ng_options_column(opts, lfirst_int(lnext(pairs, lc)));

		if (slot != NULL &&
			(!column_sets_field(a, slot, for_insert) ||
			 !column_sets_field(b, slot, for_insert)))
			continue;
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_COLUMN),
				 errmsg("columns \"%s\" and \"%s\" of foreign table \"%s\" both map to field \"%s\"",
						a->attname, b->attname, opts->relname, a->field),
				 errdetail("The write would set the field twice."),
				 errhint("Assign only one of them, or write through a foreign table that maps each field to one column.")));
	}
}

/* Does col's value in slot (all attributes fetched) set its field? */
static bool
column_sets_field(NgColumn *col, TupleTableSlot *slot, bool for_insert)
{
	if (!slot->tts_isnull[col->attnum - 1])
		return true;
	if (col->is_root)
		return false;
	return !(for_insert && col->null_mode == NG_NULL_UNSET);
}

/*
 * Serialise options into a List of plain nodes, for fdw_private.
 */
List *
ng_options_to_list(NgTableOptions *opts)
{
	List	   *list = NIL;
	int			i;

	list = lappend(list, makeInteger((int) opts->relid));
	list = lappend(list, makeString(opts->relname));
	list = lappend(list, makeInteger((int) opts->serverid));
	list = lappend(list, makeInteger((int) opts->userid));
	list = lappend(list, makeString(opts->database));
	list = lappend(list, makeString(opts->collection));
	list = lappend(list, makeInteger(opts->batch_size));
	list = lappend(list, makeInteger(opts->natts));
	for (i = 0; i < opts->natts; i++)
	{
		NgColumn   *col = &opts->columns[i];

		if (col->field == NULL)
		{
			list = lappend(list, makeString(""));
			continue;
		}
		list = lappend(list, makeString(col->field));
		list = lappend(list, makeString(col->attname));
		list = lappend(list, makeInteger((int) col->typid));
		list = lappend(list, makeInteger(col->typmod));
		list = lappend(list, makeInteger((int) col->mismatch));
		list = lappend(list, makeInteger((int) col->json_mode));
		list = lappend(list, makeInteger((int) col->null_mode));
		list = lappend(list, makeInteger((int) col->write_type));
		list = lappend(list, makeInteger((int) col->ts_rounding));
	}
	return list;
}

/*
 * Rebuild options from ng_options_to_list()'s output, in the current memory
 * context.
 */
NgTableOptions *
ng_options_from_list(List *list)
{
	NgTableOptions *opts = palloc0(sizeof(NgTableOptions));
	ListCell   *lc = list_head(list);
	int			i;

#define NEXT_INT() (lc = lnext(list, lc), intVal(lfirst(lc)))
#define NEXT_STR() (lc = lnext(list, lc), strVal(lfirst(lc)))

	opts->relid = (Oid) intVal(lfirst(lc));
	opts->relname = NEXT_STR();
	opts->serverid = (Oid) NEXT_INT();
	opts->userid = (Oid) NEXT_INT();
	opts->database = NEXT_STR();
	opts->collection = NEXT_STR();
	opts->batch_size = NEXT_INT();
	opts->natts = NEXT_INT();
	opts->columns = palloc0(sizeof(NgColumn) * Max(opts->natts, 1));
	for (i = 0; i < opts->natts; i++)
	{
		NgColumn   *col = &opts->columns[i];
		char	   *field = NEXT_STR();

		col->attnum = i + 1;
		if (field[0] == '\0')
			continue;
		col->field = field;
		col->attname = NEXT_STR();
		col->typid = (Oid) NEXT_INT();
		col->typmod = NEXT_INT();
		col->mismatch = (NgMismatchPolicy) NEXT_INT();
		col->json_mode = (NgJsonMode) NEXT_INT();
		col->null_mode = (NgNullMode) NEXT_INT();
		col->write_type = (NgBsonWriteType) NEXT_INT();
		col->ts_rounding = (NgTimestampRounding) NEXT_INT();
		col->is_root = strcmp(field, NG_ROOT_FIELD) == 0;
		col->is_id = strcmp(field, "_id") == 0;
	}
#undef NEXT_INT
#undef NEXT_STR

	return opts;
}

/*
 * The column for attnum, or NULL for a system or dropped column.
 */
NgColumn *
ng_options_column(NgTableOptions *opts, AttrNumber attnum)
{
	if (attnum < 1 || attnum > opts->natts)
		return NULL;
	if (opts->columns[attnum - 1].field == NULL)
		return NULL;
	return &opts->columns[attnum - 1];
}
