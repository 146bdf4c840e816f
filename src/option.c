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
 * Credentials live only in user mappings: a server "uri" that embeds a user
 * name or password is refused, so that they cannot leak through the catalog
 * of the server, which every user with USAGE can read.
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
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_user_mapping.h"
#include "catalog/pg_attribute.h"
#include "commands/defrem.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "ng_remote.h"

typedef enum NgOptionKind
{
	NG_OPT_STRING,				/* any non-empty string */
	NG_OPT_SECRET,				/* a string never shown anywhere */
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

/* in NgBsonWriteType order */
static const char *const bson_type_values[] = {"auto", "decimal", "double",
"long", "int", "string", NULL};

/* The one list of options; README's option tables follow it. */
static const NgOption ng_options[] = {
	{"uri", ForeignServerRelationId, NG_OPT_URI},
	{"database", ForeignServerRelationId, NG_OPT_STRING},
	{"batch_size", ForeignServerRelationId, NG_OPT_INT, 1, 100000},
	{"use_remote_estimate", ForeignServerRelationId, NG_OPT_BOOL},

	{"username", UserMappingRelationId, NG_OPT_STRING},
	{"password", UserMappingRelationId, NG_OPT_SECRET},
	{"password_required", UserMappingRelationId, NG_OPT_BOOL},

	{"database", ForeignTableRelationId, NG_OPT_STRING},
	{"collection", ForeignTableRelationId, NG_OPT_COLLECTION},
	{"batch_size", ForeignTableRelationId, NG_OPT_INT, 1, 100000},
	{"use_remote_estimate", ForeignTableRelationId, NG_OPT_BOOL},
	{"type_mismatch", ForeignTableRelationId, NG_OPT_ENUM, 0, 0, mismatch_values},
	{"json_mode", ForeignTableRelationId, NG_OPT_ENUM, 0, 0, json_mode_values},
	{"null_mode", ForeignTableRelationId, NG_OPT_ENUM, 0, 0, null_mode_values},

	{"field", AttributeRelationId, NG_OPT_FIELD},
	{"type_mismatch", AttributeRelationId, NG_OPT_ENUM, 0, 0, mismatch_values},
	{"json_mode", AttributeRelationId, NG_OPT_ENUM, 0, 0, json_mode_values},
	{"null_mode", AttributeRelationId, NG_OPT_ENUM, 0, 0, null_mode_values},
	{"bson_type", AttributeRelationId, NG_OPT_ENUM, 0, 0, bson_type_values},

	{NULL}
};

static const NgOption *find_option(const char *name, Oid context);
static const char *context_name(Oid context);
static char *valid_options_list(Oid context);
static void validate_value(const NgOption *opt, DefElem *def);
static void validate_field_path(const char *path);
static int	parse_enum(const char *value, const char *const *values);

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

		case NG_OPT_BOOL:
			{
				bool		flag = defGetBoolean(def);

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
			{
				int			n;
				const char *hintmsg = NULL;

				if (!parse_int(value, &n, 0, &hintmsg) ||
					n < opt->min || n > opt->max)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("invalid value for option \"%s\": \"%s\"",
									opt->name, value),
							 errdetail("The value must be an integer between %d and %d.",
									   opt->min, opt->max)));
			}
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
			{
				bson_error_t error;
				mongoc_uri_t *uri = mongoc_uri_new_with_error(value, &error);
				bool		has_credentials;

				if (uri == NULL)
				{
					char	   *detail = pstrdup(error.message);

					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("invalid value for option \"uri\""),
							 errdetail_internal("%s", detail)));
				}
				has_credentials = mongoc_uri_get_username(uri) != NULL ||
					mongoc_uri_get_password(uri) != NULL;
				mongoc_uri_destroy(uri);
				if (has_credentials)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("option \"uri\" must not contain a user name or password"),
							 errhint("Put credentials in the \"username\" and \"password\" options of a user mapping.")));
			}
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
	{
		mongoc_uri_t *uri = mongoc_uri_new(s);

		if (uri != NULL)
		{
			if (mongoc_uri_get_database(uri) != NULL)
				db = pstrdup(mongoc_uri_get_database(uri));
			mongoc_uri_destroy(uri);
		}
	}
	return db;
}

/*
 * Resolve the options of foreign table relid for a scan run as userid:
 * table options override server options, column options override table
 * options.  The result is palloc'd in the current memory context.
 *
 * The database is taken from the table, then the server, then the path of
 * the server's uri; without any of them it is an error.
 */
NgTableOptions *
ng_options_for_rel(Oid relid, Oid userid)
{
	NgTableOptions *opts = palloc0(sizeof(NgTableOptions));
	ForeignTable *table = GetForeignTable(relid);
	ForeignServer *server = GetForeignServer(table->serverid);
	Relation	rel;
	TupleDesc	tupdesc;
	const char *s;
	NgMismatchPolicy mismatch = NG_MISMATCH_ERROR;
	NgJsonMode	json_mode = NG_JSON_RELAXED;
	NgNullMode	null_mode = NG_NULL_UNSET;
	int			i;

	opts->relid = relid;
	opts->relname = get_rel_name(relid);
	opts->serverid = server->serverid;
	opts->userid = userid;
	opts->batch_size = NG_DEFAULT_BATCH_SIZE;

	if ((s = ng_option_value(server->options, "batch_size")) != NULL)
		opts->batch_size = pg_strtoint32(s);
	if ((s = ng_option_value(table->options, "batch_size")) != NULL)
		opts->batch_size = pg_strtoint32(s);
	if ((s = ng_option_value(server->options, "use_remote_estimate")) != NULL)
		(void) parse_bool(s, &opts->use_remote_estimate);
	if ((s = ng_option_value(table->options, "use_remote_estimate")) != NULL)
		(void) parse_bool(s, &opts->use_remote_estimate);

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

	if ((s = ng_option_value(table->options, "type_mismatch")) != NULL)
		mismatch = (NgMismatchPolicy) parse_enum(s, mismatch_values);
	if ((s = ng_option_value(table->options, "json_mode")) != NULL)
		json_mode = (NgJsonMode) parse_enum(s, json_mode_values);
	if ((s = ng_option_value(table->options, "null_mode")) != NULL)
		null_mode = (NgNullMode) parse_enum(s, null_mode_values);

	rel = table_open(relid, AccessShareLock);
	tupdesc = RelationGetDescr(rel);
	opts->natts = tupdesc->natts;
	opts->columns = palloc0(sizeof(NgColumn) * Max(tupdesc->natts, 1));

	for (i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		NgColumn   *col = &opts->columns[i];
		List	   *colopts;

		col->attnum = att->attnum;
		if (att->attisdropped)
			continue;

		col->attname = pstrdup(NameStr(att->attname));
		col->typid = att->atttypid;
		col->typmod = att->atttypmod;
		col->mismatch = mismatch;
		col->json_mode = json_mode;
		col->null_mode = null_mode;
		col->write_type = NG_WRITE_AUTO;

		colopts = GetForeignColumnOptions(relid, att->attnum);
		s = ng_option_value(colopts, "field");
		col->field = pstrdup(s ? s : col->attname);
		if ((s = ng_option_value(colopts, "type_mismatch")) != NULL)
			col->mismatch = (NgMismatchPolicy) parse_enum(s, mismatch_values);
		if ((s = ng_option_value(colopts, "json_mode")) != NULL)
			col->json_mode = (NgJsonMode) parse_enum(s, json_mode_values);
		if ((s = ng_option_value(colopts, "null_mode")) != NULL)
			col->null_mode = (NgNullMode) parse_enum(s, null_mode_values);
		if ((s = ng_option_value(colopts, "bson_type")) != NULL)
			col->write_type = (NgBsonWriteType) parse_enum(s, bson_type_values);

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

	return opts;
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
