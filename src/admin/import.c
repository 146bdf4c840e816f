/*-------------------------------------------------------------------------
 *
 * import.c
 *		  IMPORT FOREIGN SCHEMA: a foreign table per collection, with columns
 *		  inferred from sampled documents.
 *
 * The "remote schema" is a MongoDB database.  Its collections come from
 * listCollections (system.* collections never; views only with option
 * import_views, or when LIMIT TO names them).  For each collection up to
 * sample_size documents are read (sample.c: all of them, a $sample, or the
 * first ones where the server has no $sample) and every field path is
 * tallied with the BSON types seen there.  The columns are then:
 *
 *	 - "_id" first, typed from the data;
 *	 - every other field, subdocuments flattened into dotted paths down to
 *	   option depth (a document deeper than that, or one that is sometimes
 *	   something else, becomes one jsonb column);
 *	 - a jsonb column holding the whole document ($$ROOT), named by option
 *	   root_column (default "doc"; '' or 'false' leaves it out).
 *
 * Types: int32 -> integer; int32 and int64 -> bigint; integers and doubles
 * -> double precision (numeric once a Decimal128, or an int64 beyond 2^53,
 * is seen, since double precision would not hold it exactly); string ->
 * text; bool -> boolean; date -> timestamp with time zone; ObjectId ->
 * objectid; binary subtype 4 of 16 bytes -> uuid; other binary
 * -> bytea; an array whose non-null elements all map to one such type ->
 * an array of it; anything else, and any other mix of types, -> jsonb,
 * which reads every BSON value.  A field seen only as null is jsonb too.
 * These are exactly the conversions bson_read.c accepts, so a sampled
 * document always reads back without a mismatch.
 *
 * Column order follows the documents' key order: every pair of keys seen
 * next to each other in a sampled document says which comes first, and the
 * fields are sorted by that relation, ties and contradictions broken by
 * name.  So the order depends on which documents were sampled, never on
 * the order they arrived in.  Column names are the paths with "." turned
 * into "_", MongoDB's spelling kept (or, with option snake_case, camelCase
 * turned into snake_case: postgresUserId -> postgres_user_id), cut to
 * NAMEDATALEN - 1 bytes on a character boundary; a name already taken
 * (by an earlier column, the root column or a system column such as
 * "xmin") gets "_2", "_3" ... appended.
 * A key that no field path can address (empty, starting with "$",
 * containing ".", or not valid in the database encoding) gets no column;
 * its value is still in the root column.
 *
 * A database that lists no collection at all does not exist (MongoDB makes
 * a database with its first collection), so that is an error rather than an
 * empty import: a misspelt database name must not pass silently.  Likewise
 * a LIMIT TO name that matches no collection.
 *
 * The statements are returned as text, as the FDW API asks; every
 * identifier goes through quote_identifier and every literal through
 * quote_literal_cstr.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/admin/import.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/heap.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "common/hashfn.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "bson/bson_map.h"
#include "admin/admin.h"
#include "conn/conn.h"

/* Option defaults and limits */
#define NG_IMPORT_SAMPLE_SIZE	1000
#define NG_IMPORT_SAMPLE_MAX	1000000
#define NG_IMPORT_DEPTH			2
#define NG_IMPORT_DEPTH_MAX		100 /* BSON's own nesting limit */
#define NG_IMPORT_ROOT_COLUMN	"doc"

/* BSON types seen at one field path (or among an array's elements) */
#define TY_NULL			0x0001
#define TY_INT32		0x0002
#define TY_INT64		0x0004
#define TY_INT64_BIG	0x0008	/* an int64 beyond +-2^53 */
#define TY_DOUBLE		0x0010
#define TY_DECIMAL		0x0020
#define TY_STRING		0x0040
#define TY_BOOL			0x0080
#define TY_DATE			0x0100
#define TY_OID			0x0200
#define TY_UUID			0x0400
#define TY_BINARY		0x0800
#define TY_DOCUMENT		0x1000
#define TY_ARRAY		0x2000
#define TY_OTHER		0x4000
#define TY_NUMBERS		(TY_INT32 | TY_INT64 | TY_INT64_BIG | TY_DOUBLE | \
						 TY_DECIMAL)

/* 2^53: larger integers are not all exact as doubles */
#define NG_DOUBLE_EXACT_INT		INT64CONST(9007199254740992)

typedef struct ImportOptions
{
	int			sample_size;
	int			depth;
	char	   *root_column;	/* NULL: no root column */
	bool		import_views;
	bool		snake_case;		/* column names userId -> user_id */
} ImportOptions;

/* One collection listCollections returned. */
typedef struct RemoteCollection
{
	char	   *name;
	bool		is_view;
	char	   *tablename;		/* the local name it would get */
} RemoteCollection;

typedef struct FieldSet FieldSet;

/* What the sample showed at one field path. */
typedef struct FieldStats
{
	char	   *key;			/* this path segment */
	int			keylen;
	char	   *path;			/* the dotted path from the top */
	int			level;			/* 1 for top-level keys */
	int			index;			/* in its FieldSet */
	uint32		types;			/* TY_* of the values */
	uint32		elemtypes;		/* TY_* of array elements */
	FieldSet   *children;		/* keys of subdocuments within depth */
	Bitmapset  *followers;		/* indexes of keys seen right after this */
} FieldStats;

/* The keys seen at one level under one parent, and their lookup table. */
struct FieldSet
{
	HTAB	   *hash;			/* FieldKey -> FieldStats */
	FieldStats **fields;
	int			nfields;
	int			maxfields;
	bool		overflow;		/* more distinct keys than a table's columns */
};

typedef struct FieldKey
{
	const char *key;
	int			len;
} FieldKey;

typedef struct FieldEntry
{
	FieldKey	key;			/* must be first */
	FieldStats *stats;
} FieldEntry;

/* A column to be created. */
typedef struct ImportColumn
{
	char	   *name;
	Oid			typid;
	const char *field;
} ImportColumn;

/* Per-collection inference state, for the sample callback. */
typedef struct Inference
{
	const ImportOptions *opts;
	FieldSet   *top;
	MemoryContext cxt;			/* holds the FieldSets */
} Inference;

static void parse_import_options(List *options, ImportOptions *opts);
pg_noreturn static void invalid_import_option(const char *name);
static List *list_collections(Oid serverid, const char *database);
static void collect_collection(const bson_t *doc, void *arg);
static bool collection_wanted(ImportForeignSchemaStmt *stmt,
							  const ImportOptions *opts,
							  RemoteCollection *rc);
static void check_limit_to(ImportForeignSchemaStmt *stmt, List *collections);
static char *import_collection(ImportForeignSchemaStmt *stmt, Oid serverid,
							   const ImportOptions *opts,
							   RemoteCollection *rc, bool *no_sample_stage);
static void infer_document(const bson_t *doc, void *arg);
static void record_keys(Inference *inf, FieldSet *set, bson_iter_t *iter,
						int level, const char *prefix);
static uint32 value_types(const bson_iter_t *iter);
static FieldSet *fieldset_create(void);
static FieldStats *fieldset_lookup(FieldSet *set, const char *key, int len,
								   int level, const char *prefix);
static uint32 fieldkey_hash(const void *key, Size keysize);
static int	fieldkey_match(const void *key1, const void *key2, Size keysize);
static bool key_is_addressable(const char *key, int len);
static bool text_is_usable(const char *s, int len);
static int	compare_collections(const ListCell *a, const ListCell *b);
static FieldStats **fieldset_order(FieldSet *set);
static Oid	scalar_type(uint32 types);
static bool field_is_flattened(FieldStats *fs);
static Oid	field_type(FieldStats *fs);
static void collect_columns(Inference *inf, FieldSet *set, List **columns,
							HTAB *names);
static HTAB *names_create(void);
static char *unique_name(HTAB *names, const char *base);
static bool name_taken(HTAB *names, const char *name);
static char *clip_name(const char *name, int maxlen);
static char *path_to_name(const char *path, bool snake_case);

/*
 * ngImportForeignSchema
 *		Return the CREATE FOREIGN TABLE statements for IMPORT FOREIGN SCHEMA
 *		from MongoDB database stmt->remote_schema.
 *
 * The statements are palloc'd in the caller's memory context; inference
 * work happens in a child context deleted before returning.  Connects as
 * the current user.  Raises for bad options, a database that does not
 * exist, a LIMIT TO name with no collection, and server errors.
 */
List *
ngImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	ImportOptions opts;
	List	   *collections;
	List	   *commands = NIL;
	ListCell   *lc;
	bool		no_sample_stage = false;

	parse_import_options(stmt->options, &opts);

	collections = list_collections(serverOid, stmt->remote_schema);
	if (collections == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_SCHEMA_NOT_FOUND),
				 errmsg("database \"%s\" does not exist on server \"%s\"",
						stmt->remote_schema, stmt->server_name),
				 errdetail("MongoDB lists no collections in it; a database exists once it has a collection."),
				 errhint("The database name of IMPORT FOREIGN SCHEMA is case-sensitive.")));

	if (stmt->list_type == FDW_IMPORT_SCHEMA_LIMIT_TO)
		check_limit_to(stmt, collections);

	foreach(lc, collections)
	{
		RemoteCollection *rc = (RemoteCollection *) lfirst(lc);

		if (!collection_wanted(stmt, &opts, rc))
			continue;
		commands = lappend(commands,
						   import_collection(stmt, serverOid, &opts, rc,
											 &no_sample_stage));
	}

	return commands;
}

/* ----------------------------------------------------------------
 *		Options
 * ----------------------------------------------------------------
 */

/*
 * The options of IMPORT FOREIGN SCHEMA belong to no catalog, so the
 * validator in option.c never sees them; they are checked here, when the
 * statement runs, with the validator's parsers (ng_option_parse_int and
 * ng_option_parse_bool), so that "1e3", "5.5" or " 5" is refused here as it
 * is in OPTIONS of a server or table.
 */
static const char *const import_option_names[] = {
	"sample_size", "depth", "root_column", "import_views", "snake_case", NULL
};

static void
parse_import_options(List *options, ImportOptions *opts)
{
	ListCell   *lc;
	bool		seen[lengthof(import_option_names)] = {false};

	opts->sample_size = NG_IMPORT_SAMPLE_SIZE;
	opts->depth = NG_IMPORT_DEPTH;
	opts->root_column = NG_IMPORT_ROOT_COLUMN;
	opts->import_views = false;
	opts->snake_case = false;

	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		int			i;

		for (i = 0; import_option_names[i] != NULL; i++)
		{
			if (strcmp(def->defname, import_option_names[i]) == 0)
				break;
		}
		if (import_option_names[i] == NULL)
			invalid_import_option(def->defname);
		if (seen[i])
			errorConflictingDefElem(def, NULL);
		seen[i] = true;

		if (strcmp(def->defname, "sample_size") == 0)
			opts->sample_size = ng_option_parse_int(def->defname,
													defGetString(def), 1,
													NG_IMPORT_SAMPLE_MAX);
		else if (strcmp(def->defname, "depth") == 0)
			opts->depth = ng_option_parse_int(def->defname,
											  defGetString(def), 1,
											  NG_IMPORT_DEPTH_MAX);
		else if (strcmp(def->defname, "root_column") == 0)
		{
			char	   *value = defGetString(def);

			if (value[0] == '\0' || pg_strcasecmp(value, "false") == 0)
				opts->root_column = NULL;
			else if (strlen(value) >= NAMEDATALEN)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"root_column\": \"%s\"",
								value),
						 errdetail("A column name must be shorter than %d bytes.",
								   NAMEDATALEN)));
			else if (SystemAttributeByName(value) != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"root_column\": \"%s\"",
								value),
						 errdetail("It is the name of a system column.")));
			else
				opts->root_column = value;
		}
		else if (strcmp(def->defname, "import_views") == 0)
			opts->import_views = ng_option_parse_bool(def->defname,
													  defGetString(def));
		else
			opts->snake_case = ng_option_parse_bool(def->defname,
													defGetString(def));
	}
}

static void
invalid_import_option(const char *name)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; import_option_names[i] != NULL; i++)
		appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "",
						 import_option_names[i]);
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
			 errmsg("invalid option \"%s\" for IMPORT FOREIGN SCHEMA", name),
			 errhint("Valid options are: %s.", buf.data)));
}


/* ----------------------------------------------------------------
 *		Collections
 * ----------------------------------------------------------------
 */

/*
 * Every collection and view of the database (system ones included, so that
 * an empty list really means "no such database"), sorted by name, with the
 * local table name each one would get.  Names that cannot become a table
 * or a "collection" option are left out with a WARNING.
 */
static List *
list_collections(Oid serverid, const char *database)
{
	NgConnEntry *entry = ng_conn_get(serverid, InvalidOid);
	List	   *result = NIL;
	HTAB	   *names;
	ListCell   *lc;
	bson_error_t error;

	PG_TRY();
	{
		if (!ng_conn_list_collections(entry, database, collect_collection,
									  &result, &error))
			ng_conn_report_error(entry, &error,
								 psprintf("list the collections of database \"%s\"",
										  database));
	}
	PG_FINALLY();
	{
		ng_conn_release(entry);
	}
	PG_END_TRY();

	list_sort(result, compare_collections);

	names = names_create();
	foreach(lc, result)
	{
		RemoteCollection *rc = (RemoteCollection *) lfirst(lc);
		int			len = strlen(rc->name);

		if (strncmp(rc->name, "system.", 7) == 0)
			continue;			/* stays in the list, never imported */
		if (!text_is_usable(rc->name, len))
		{
			ereport(WARNING,
					(errmsg("skipping a collection of database \"%s\" whose name is not valid in the database encoding",
							database)));
			continue;
		}
		if (strchr(rc->name, '$') != NULL)
		{
			ereport(WARNING,
					(errmsg("skipping collection \"%s\" of database \"%s\"",
							rc->name, database),
					 errdetail("The \"collection\" option does not accept names containing \"$\".")));
			continue;
		}
		rc->tablename = unique_name(names, rc->name);
	}
	return result;
}

/*
 * collect_collection
 *		list_collections' callback: append the name of a collection or view
 *		(and whether it is a view) to the List *arg, copied.
 */
static void
collect_collection(const bson_t *doc, void *arg)
{
	List	  **result = (List **) arg;
	bson_iter_t iter;
	RemoteCollection *rc;
	const char *name;
	uint32_t	len;

	if (!bson_iter_init_find(&iter, doc, "name") ||
		!BSON_ITER_HOLDS_UTF8(&iter))
		return;
	name = bson_iter_utf8(&iter, &len);

	rc = palloc0(sizeof(RemoteCollection));
	rc->name = pnstrdup(name, len);
	rc->is_view = bson_iter_init_find(&iter, doc, "type") &&
		BSON_ITER_HOLDS_UTF8(&iter) &&
		strcmp(bson_iter_utf8(&iter, NULL), "view") == 0;
	*result = lappend(*result, rc);
}

/*
 * Whether a collection is imported: not a system collection, a view only
 * when asked for, and allowed by LIMIT TO / EXCEPT (which name tables).
 */
static bool
collection_wanted(ImportForeignSchemaStmt *stmt, const ImportOptions *opts,
				  RemoteCollection *rc)
{
	bool		listed = false;
	ListCell   *lc;

	if (rc->tablename == NULL)
		return false;

	foreach(lc, stmt->table_list)
	{
		RangeVar   *rv = (RangeVar *) lfirst(lc);

		if (strcmp(rv->relname, rc->tablename) == 0)
			listed = true;
	}

	switch (stmt->list_type)
	{
		case FDW_IMPORT_SCHEMA_LIMIT_TO:
			return listed;
		case FDW_IMPORT_SCHEMA_EXCEPT:
			if (listed)
				return false;
			break;
		case FDW_IMPORT_SCHEMA_ALL:
			break;
	}
	return !rc->is_view || opts->import_views;
}

/*
 * Each LIMIT TO name must match a collection (or view): a misspelt name
 * would otherwise import nothing, silently.
 */
static void
check_limit_to(ImportForeignSchemaStmt *stmt, List *collections)
{
	ListCell   *lc;

	foreach(lc, stmt->table_list)
	{
		RangeVar   *rv = (RangeVar *) lfirst(lc);
		ListCell   *lc2;
		bool		found = false;

		foreach(lc2, collections)
		{
			RemoteCollection *rc = (RemoteCollection *) lfirst(lc2);

			if (rc->tablename != NULL && strcmp(rc->tablename, rv->relname) == 0)
				found = true;
		}
		if (!found)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
					 errmsg("collection \"%s\" does not exist in database \"%s\"",
							rv->relname, stmt->remote_schema),
					 strncmp(rv->relname, "system.", 7) == 0
					 ? errdetail("System collections cannot be imported.")
					 : errhint("Collection names are case-sensitive: write a name with capitals in double quotes.")));
	}
}

/* ----------------------------------------------------------------
 *		One collection
 * ----------------------------------------------------------------
 */

/*
 * Sample one collection and build its CREATE FOREIGN TABLE statement,
 * returned palloc'd in the current context.  *no_sample_stage carries
 * "the server has no $sample" from one collection to the next.
 */
static char *
import_collection(ImportForeignSchemaStmt *stmt, Oid serverid,
				  const ImportOptions *opts, RemoteCollection *rc,
				  bool *no_sample_stage)
{
	MemoryContext cxt;
	MemoryContext oldcxt;
	Inference	inf;
	NgSample	sample;
	List	   *columns = NIL;
	HTAB	   *names;
	StringInfoData buf;
	ListCell   *lc;
	char	   *root_name = NULL;

	initStringInfo(&buf);

	cxt = AllocSetContextCreate(CurrentMemoryContext,
								"nutragenie import",
								ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(cxt);

	inf.opts = opts;
	inf.cxt = cxt;
	inf.top = fieldset_create();

	memset(&sample, 0, sizeof(sample));
	sample.limit = opts->sample_size;
	sample.batch_size = NG_DEFAULT_BATCH_SIZE;
	sample.projection = NULL;
	sample.no_sample_stage = *no_sample_stage;
	ng_sample_collection(serverid, InvalidOid, stmt->remote_schema, rc->name,
						 &sample, infer_document, &inf);
	*no_sample_stage = sample.no_sample_stage;

	if (inf.top->overflow)
		ereport(ERROR,
				(errcode(ERRCODE_TOO_MANY_COLUMNS),
				 errmsg("collection \"%s\" has more than %d distinct top-level fields",
						rc->name, MaxHeapAttributeNumber),
				 errhint("Leave it out with EXCEPT and create its foreign table by hand, with a jsonb column for the whole document.")));

	/*
	 * Names: the root column keeps the name asked for, and system column
	 * names are never used; everything else yields in column order.
	 */
	names = names_create();
	if (opts->root_column != NULL)
		root_name = unique_name(names, opts->root_column);
	collect_columns(&inf, inf.top, &columns, names);

	if (list_length(columns) + (root_name ? 1 : 0) > MaxHeapAttributeNumber)
		ereport(ERROR,
				(errcode(ERRCODE_TOO_MANY_COLUMNS),
				 errmsg("collection \"%s\" would need %d columns, more than the maximum of %d",
						rc->name, list_length(columns) + (root_name ? 1 : 0),
						MaxHeapAttributeNumber),
				 errhint("Lower the \"depth\" option.")));

	MemoryContextSwitchTo(oldcxt);

	appendStringInfo(&buf, "CREATE FOREIGN TABLE %s.%s (",
					 quote_identifier(stmt->local_schema),
					 quote_identifier(rc->tablename));
	foreach(lc, columns)
	{
		ImportColumn *col = (ImportColumn *) lfirst(lc);

		appendStringInfo(&buf, "%s\n  %s %s OPTIONS (field %s)",
						 foreach_current_index(lc) > 0 ? "," : "",
						 quote_identifier(col->name),
						 format_type_be_qualified(col->typid),
						 quote_literal_cstr(col->field));
	}
	if (root_name != NULL)
		appendStringInfo(&buf, "%s\n  %s %s OPTIONS (field %s)",
						 columns != NIL ? "," : "",
						 quote_identifier(root_name),
						 format_type_be_qualified(JSONBOID),
						 quote_literal_cstr(NG_ROOT_FIELD));
	appendStringInfo(&buf, "\n) SERVER %s\nOPTIONS (database %s, collection %s)",
					 quote_identifier(stmt->server_name),
					 quote_literal_cstr(stmt->remote_schema),
					 quote_literal_cstr(rc->name));

	MemoryContextDelete(cxt);
	return buf.data;
}

/*
 * The sample callback: tally one document's keys and types, in the
 * inference context.
 */
static void
infer_document(const bson_t *doc, void *arg)
{
	Inference  *inf = (Inference *) arg;
	MemoryContext oldcxt = MemoryContextSwitchTo(inf->cxt);
	bson_iter_t iter;

	if (bson_iter_init(&iter, doc))
		record_keys(inf, inf->top, &iter, 1, NULL);
	MemoryContextSwitchTo(oldcxt);
}

/*
 * Record the keys of one (sub)document at iter, at nesting level "level"
 * under path prefix (NULL at the top), and descend into subdocuments
 * within the depth option.
 */
static void
record_keys(Inference *inf, FieldSet *set, bson_iter_t *iter, int level,
			const char *prefix)
{
	FieldStats *prev = NULL;

	check_stack_depth();

	while (bson_iter_next(iter))
	{
		const char *key = bson_iter_key(iter);
		int			keylen = (int) bson_iter_key_len(iter);
		FieldStats *fs;
		uint32		types;

		if (!key_is_addressable(key, keylen))
			continue;
		fs = fieldset_lookup(set, key, keylen, level, prefix);
		if (fs == NULL)
			continue;			/* the set overflowed */

		if (prev != NULL && prev != fs)
			prev->followers = bms_add_member(prev->followers, fs->index);
		prev = fs;

		types = value_types(iter);
		fs->types |= types;

		if (types == TY_ARRAY)
		{
			bson_iter_t elems;

			if (bson_iter_recurse(iter, &elems))
			{
				while (bson_iter_next(&elems))
					fs->elemtypes |= value_types(&elems);
			}
		}
		else if (types == TY_DOCUMENT && level < inf->opts->depth &&
				 !(level == 1 && strcmp(fs->key, "_id") == 0))
		{
			bson_iter_t child;

			if (fs->children == NULL)
				fs->children = fieldset_create();
			if (bson_iter_recurse(iter, &child))
				record_keys(inf, fs->children, &child, level + 1, fs->path);
		}
	}
}

/*
 * The TY_* flag of the value at iter.
 */
static uint32
value_types(const bson_iter_t *iter)
{
	switch (bson_iter_type(iter))
	{
		case BSON_TYPE_NULL:
		case BSON_TYPE_UNDEFINED:
			return TY_NULL;
		case BSON_TYPE_INT32:
			return TY_INT32;
		case BSON_TYPE_INT64:
			{
				int64		v = bson_iter_int64(iter);

				if (v > NG_DOUBLE_EXACT_INT || v < -NG_DOUBLE_EXACT_INT)
					return TY_INT64 | TY_INT64_BIG;
				return TY_INT64;
			}
		case BSON_TYPE_DOUBLE:
			return TY_DOUBLE;
		case BSON_TYPE_DECIMAL128:
			return TY_DECIMAL;
		case BSON_TYPE_UTF8:
			return TY_STRING;
		case BSON_TYPE_BOOL:
			return TY_BOOL;
		case BSON_TYPE_DATE_TIME:
			return TY_DATE;
		case BSON_TYPE_OID:
			return TY_OID;
		case BSON_TYPE_BINARY:
			{
				bson_subtype_t subtype;
				uint32_t	len;
				const uint8_t *data;

				bson_iter_binary(iter, &subtype, &len, &data);
				if (subtype == BSON_SUBTYPE_UUID && len == 16)
					return TY_UUID;
				return TY_BINARY;
			}
		case BSON_TYPE_DOCUMENT:
			return TY_DOCUMENT;
		case BSON_TYPE_ARRAY:
			return TY_ARRAY;
		default:
			return TY_OTHER;
	}
}

/* ----------------------------------------------------------------
 *		Field sets
 * ----------------------------------------------------------------
 */

static FieldSet *
fieldset_create(void)
{
	FieldSet   *set = palloc0(sizeof(FieldSet));
	HASHCTL		ctl;

	ctl.keysize = sizeof(FieldKey);
	ctl.entrysize = sizeof(FieldEntry);
	ctl.hash = fieldkey_hash;
	ctl.match = fieldkey_match;
	ctl.hcxt = CurrentMemoryContext;
	set->hash = hash_create("nutragenie import fields", 32, &ctl,
							HASH_ELEM | HASH_FUNCTION | HASH_COMPARE |
							HASH_CONTEXT);
	set->maxfields = 16;
	set->fields = palloc(sizeof(FieldStats *) * set->maxfields);
	return set;
}

/*
 * The stats of key in set, added if new; NULL once the set holds more keys
 * than a table can have columns (it is then a map, not a record).  Called
 * in the inference context.
 */
static FieldStats *
fieldset_lookup(FieldSet *set, const char *key, int len, int level,
				const char *prefix)
{
	FieldKey	fk;
	FieldEntry *entry;
	FieldStats *fs;
	bool		found;

	fk.key = key;
	fk.len = len;
	entry = (FieldEntry *) hash_search(set->hash, &fk, HASH_FIND, NULL);
	if (entry != NULL)
		return entry->stats;

	if (set->nfields >= MaxHeapAttributeNumber)
	{
		set->overflow = true;
		return NULL;
	}

	fs = palloc0(sizeof(FieldStats));
	fs->key = pnstrdup(key, len);
	fs->keylen = len;
	fs->path = prefix ? psprintf("%s.%s", prefix, fs->key) : fs->key;
	fs->level = level;
	fs->index = set->nfields;

	/* the hash keeps our copy of the key, not the document's */
	fk.key = fs->key;
	entry = (FieldEntry *) hash_search(set->hash, &fk, HASH_ENTER, &found);
	entry->stats = fs;

	if (set->nfields == set->maxfields)
	{
		set->maxfields *= 2;
		set->fields = repalloc(set->fields,
							   sizeof(FieldStats *) * set->maxfields);
	}
	set->fields[set->nfields++] = fs;
	return fs;
}

static uint32
fieldkey_hash(const void *key, Size keysize)
{
	const FieldKey *fk = (const FieldKey *) key;

	return hash_bytes((const unsigned char *) fk->key, fk->len);
}

static int
fieldkey_match(const void *key1, const void *key2, Size keysize)
{
	const FieldKey *a = (const FieldKey *) key1;
	const FieldKey *b = (const FieldKey *) key2;

	return (a->len == b->len && memcmp(a->key, b->key, a->len) == 0) ? 0 : 1;
}

/*
 * Can a field path name this key?  Not when it is empty, starts with "$"
 * or holds a "." (option.c's field-path rules), nor when it cannot be
 * written in the database (text_is_usable).
 */
static bool
key_is_addressable(const char *key, int len)
{
	if (len == 0 || key[0] == '$' || memchr(key, '.', len) != NULL)
		return false;
	return text_is_usable(key, len);
}

/*
 * Can these UTF-8 bytes from the server become an identifier or a literal
 * of this database?  In a UTF8 database when they are valid UTF-8; in any
 * other only when they are ASCII, since the scan compares field paths and
 * collection names with the server's UTF-8 byte for byte.
 */
static bool
text_is_usable(const char *s, int len)
{
	int			i;

	if (GetDatabaseEncoding() == PG_UTF8)
		return pg_verify_mbstr(PG_UTF8, s, len, true);
	for (i = 0; i < len; i++)
	{
		if (IS_HIGHBIT_SET(s[i]) || s[i] == '\0')
			return false;
	}
	return true;
}

/*
 * list_sort comparator: collections by name, bytewise.
 */
static int
compare_collections(const ListCell *a, const ListCell *b)
{
	const RemoteCollection *ra = (const RemoteCollection *) lfirst(a);
	const RemoteCollection *rb = (const RemoteCollection *) lfirst(b);

	return strcmp(ra->name, rb->name);
}

/*
 * The keys of a set in column order: sorted so that a key seen right
 * before another in some document comes first, taking the smallest name
 * (bytewise) whenever several are free to go next.  When documents
 * disagree on the order (a cycle), the next key is one that follows a key
 * already placed, again the smallest name, so that a run of keys stays
 * together.  The result depends only on which documents were sampled, not
 * on the order they arrived in.
 */
static FieldStats **
fieldset_order(FieldSet *set)
{
	int			n = set->nfields;
	FieldStats **result = palloc(sizeof(FieldStats *) * Max(n, 1));
	int		   *indegree = palloc0(sizeof(int) * Max(n, 1));
	bool	   *reached = palloc0(sizeof(bool) * Max(n, 1));
	bool	   *done = palloc0(sizeof(bool) * Max(n, 1));
	int			i;
	int			k;

	for (i = 0; i < n; i++)
	{
		int			j = -1;

		while ((j = bms_next_member(set->fields[i]->followers, j)) >= 0)
			indegree[j]++;
	}

	for (k = 0; k < n; k++)
	{
		int			best = -1;
		int			best_rank = 0;
		int			j;

		for (i = 0; i < n; i++)
		{
			/* 0: free to go; 1: follows a placed key; 2: neither */
			int			rank = indegree[i] == 0 ? 0 : reached[i] ? 1 : 2;

			if (done[i])
				continue;
			if (best < 0 || rank < best_rank ||
				(rank == best_rank &&
				 strcmp(set->fields[i]->key, set->fields[best]->key) < 0))
			{
				best = i;
				best_rank = rank;
			}
		}

		done[best] = true;
		result[k] = set->fields[best];
		j = -1;
		while ((j = bms_next_member(set->fields[best]->followers, j)) >= 0)
		{
			indegree[j]--;
			reached[j] = true;
		}
	}

	pfree(indegree);
	pfree(reached);
	pfree(done);
	return result;
}

/* ----------------------------------------------------------------
 *		Types and columns
 * ----------------------------------------------------------------
 */

/*
 * The column type for a set of scalar BSON types (nulls aside), or
 * InvalidOid when no single type reads them all exactly.
 */
static Oid
scalar_type(uint32 types)
{
	types &= ~TY_NULL;
	if (types == 0)
		return InvalidOid;

	if ((types & ~TY_NUMBERS) == 0)
	{
		if (types & TY_DECIMAL)
			return NUMERICOID;
		if (types & TY_DOUBLE)
			return (types & TY_INT64_BIG) ? NUMERICOID : FLOAT8OID;
		if (types & TY_INT64)
			return INT8OID;
		return INT4OID;
	}
	if ((types & ~(TY_UUID | TY_BINARY)) == 0)
		return (types & TY_BINARY) ? BYTEAOID : UUIDOID;

	switch (types)
	{
		case TY_STRING:
			return TEXTOID;
		case TY_BOOL:
			return BOOLOID;
		case TY_DATE:
			return TIMESTAMPTZOID;
		case TY_OID:
			return ng_objectid_typoid();
		default:
			return InvalidOid;
	}
}

/*
 * Is this field split into columns for its subfields?  Only when it was
 * always a document (or null), within depth, with some addressable keys,
 * and not so many that the subdocument must be a map.
 */
static bool
field_is_flattened(FieldStats *fs)
{
	return (fs->types & ~TY_NULL) == TY_DOCUMENT &&
		fs->children != NULL &&
		fs->children->nfields > 0 &&
		!fs->children->overflow;
}

/*
 * The column type of a field that is not flattened.
 */
static Oid
field_type(FieldStats *fs)
{
	uint32		types = fs->types & ~TY_NULL;
	Oid			typid;

	if (types == TY_ARRAY)
	{
		typid = scalar_type(fs->elemtypes);
		if (OidIsValid(typid))
			typid = get_array_type(typid);
	}
	else
		typid = scalar_type(types);

	return OidIsValid(typid) ? typid : JSONBOID;
}

/*
 * Append the columns of a field set to *columns, in column order, "_id"
 * first at the top, recursing into flattened subdocuments.  Allocates in
 * the current (inference) context.
 */
static void
collect_columns(Inference *inf, FieldSet *set, List **columns, HTAB *names)
{
	FieldStats **order = fieldset_order(set);
	int			pass;
	int			i;

	/* pass 0: "_id" (top level only); pass 1: the rest */
	for (pass = 0; pass < 2; pass++)
	{
		for (i = 0; i < set->nfields; i++)
		{
			FieldStats *fs = order[i];
			bool		is_id = fs->level == 1 && strcmp(fs->key, "_id") == 0;
			ImportColumn *col;

			if (is_id != (pass == 0))
				continue;

			if (!is_id && field_is_flattened(fs))
			{
				collect_columns(inf, fs->children, columns, names);
				continue;
			}

			col = palloc(sizeof(ImportColumn));
			col->name = unique_name(names, path_to_name(fs->path,
														 inf->opts->snake_case));
			col->typid = field_type(fs);
			col->field = fs->path;
			*columns = lappend(*columns, col);
		}
	}
}

/* ----------------------------------------------------------------
 *		Names
 * ----------------------------------------------------------------
 */

static HTAB *
names_create(void)
{
	HASHCTL		ctl;

	ctl.keysize = NAMEDATALEN;
	ctl.entrysize = NAMEDATALEN;
	ctl.hcxt = CurrentMemoryContext;
	return hash_create("nutragenie import names", 64, &ctl,
					   HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
}

/*
 * A name that fits in NAMEDATALEN - 1 bytes, is not taken yet and is not a
 * system column name: base, cut if need be, else base with "_2", "_3" ...
 * Marks it taken and returns it palloc'd.
 */
static char *
unique_name(HTAB *names, const char *base)
{
	char	   *name = clip_name(base, NAMEDATALEN - 1);
	int			n;

	for (n = 2; name_taken(names, name); n++)
	{
		char		suffix[16];

		snprintf(suffix, sizeof(suffix), "_%d", n);
		name = psprintf("%s%s",
						clip_name(base, NAMEDATALEN - 1 - strlen(suffix)),
						suffix);
	}
	hash_search(names, name, HASH_ENTER, NULL);
	return name;
}

static bool
name_taken(HTAB *names, const char *name)
{
	if (SystemAttributeByName(name) != NULL)
		return true;
	return hash_search(names, name, HASH_FIND, NULL) != NULL;
}

/*
 * name cut to at most maxlen bytes without splitting a character.
 */
static char *
clip_name(const char *name, int maxlen)
{
	int			len = strlen(name);

	if (len > maxlen)
		len = pg_mbcliplen(name, len, maxlen);
	return pnstrdup(name, len);
}

/*
 * The column name for a field path: dots become underscores; with
 * snake_case, camelCase words also become lower-case words joined by
 * underscores (the field option keeps the path).  Result palloc'd.
 */
static char *
path_to_name(const char *path, bool snake_case)
{
	StringInfoData buf;
	const char *p;

	initStringInfo(&buf);
	for (p = path; *p; p++)
	{
		unsigned char c = (unsigned char) *p;

		if (c == '.')
			appendStringInfoChar(&buf, '_');
		else if (snake_case && c >= 'A' && c <= 'Z')
		{
			/*
			 * A word starts at an ASCII capital after a lower-case letter or
			 * a digit, or at the last capital of a run followed by a
			 * lower-case letter: userId -> user_id, HTTPCode -> http_code.
			 */
			unsigned char prev = p > path ? (unsigned char) p[-1] : '.';
			unsigned char next = (unsigned char) p[1];

			if (prev != '.' &&
				((prev >= 'a' && prev <= 'z') || (prev >= '0' && prev <= '9') ||
				 (prev >= 'A' && prev <= 'Z' && next >= 'a' && next <= 'z')))
				appendStringInfoChar(&buf, '_');
			appendStringInfoChar(&buf, (char) (c - 'A' + 'a'));
		}
		else
			appendStringInfoChar(&buf, (char) c);
	}
	return buf.data;
}
