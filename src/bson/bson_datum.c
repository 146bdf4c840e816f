/*-------------------------------------------------------------------------
 *
 * bson_datum.c
 *		  Conversion between BSON values and PostgreSQL Datums.
 *
 * This is the only file that knows the type map.  The read direction
 * (BSON to Datum) is exact: a BSON value is accepted by a column only when
 * the conversion loses nothing (1.5 does not become 2, 2^53 + 1 does not
 * become a double, a date that is not midnight UTC does not become a date).
 * Anything else is a "mismatch", which raises an error or yields NULL
 * according to the column's NgMismatchPolicy.  Errors raised by a type's
 * input function (types read from BSON strings) and by domain constraints
 * are not mismatches and always raise: PostgreSQL 15 has no way to trap them
 * safely.
 *
 * The read direction runs once per field per row, so ng_converter_init
 * classifies the column type once into a "kind" and per-row conversion is a
 * switch on it: no catalog lookups, and direct C calls rather than fmgr
 * wherever PostgreSQL exports one.  Every string that enters PostgreSQL is
 * checked to be valid UTF-8 (and converted when the server encoding is not
 * UTF8); libbson does not check it when iterating.
 *
 * json and jsonb columns receive Extended JSON v2 (relaxed or canonical).
 * Both are rendered by one walker here, so a json and a jsonb column show
 * the same content; the walker builds a jsonb directly with pushJsonbValue
 * rather than going through text.  Doubles are written with the shortest
 * decimal that reads back as the same double.
 *
 * The write direction (Datum to BSON, for pushed-down constants and writes)
 * is the inverse map; it refuses (returns false for) values that BSON cannot
 * hold exactly, such as timestamps with sub-millisecond digits.
 * ng_bson_check_document and ng_bson_check_update, at its end, say whether
 * MongoDB will store a document or apply an update built that way (field
 * names, nesting, _id type): writes call them before anything is queued.
 *
 * Nothing here allocates with libbson's allocator except the write path's
 * JSON parsing and temporary array documents, which are freed before any
 * error is raised.  Results are palloc'd in CurrentMemoryContext.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/bson/bson_datum.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/base64.h"
#include "common/int.h"
#include "common/shortest_dec.h"
#include "datatype/timestamp.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/syscache.h"
#include "utils/uuid.h"

#include <bson/bson.h>

#include "nutragenie.h"

/*
 * What a column type converts as.  Stored in NgConverter.kind.
 *
 * Kinds that do not use a type input function borrow NgConverter.infunc's
 * fn_extra and fn_mcxt for their own per-scan cache: CONV_NUMERIC keeps the
 * typmod's magnitude bound there, CONV_DOMAIN keeps domain_check's cache.
 */
typedef enum ConvKind
{
	CONV_UNSUPPORTED = 0,
	CONV_TEXT,
	CONV_VARCHAR,
	CONV_BPCHAR,
	CONV_NAME,					/* write direction only */
	CONV_INT2,
	CONV_INT4,
	CONV_INT8,
	CONV_FLOAT4,
	CONV_FLOAT8,
	CONV_NUMERIC,
	CONV_BOOL,
	CONV_TIMESTAMPTZ,
	CONV_TIMESTAMP,
	CONV_DATE,
	CONV_OBJECTID,
	CONV_UUID,
	CONV_BYTEA,
	CONV_JSON,
	CONV_JSONB,
	CONV_ARRAY,					/* NgConverter.elem converts the elements */
	CONV_DOMAIN,				/* NgConverter.elem converts the base type */
	CONV_INPUT					/* BSON string through the input function */
} ConvKind;

/*
 * Where a json or jsonb value is being built: text (json columns, error
 * messages) or a JsonbValue tree (jsonb columns).
 */
typedef struct JsonSink
{
	NgJsonMode	mode;
	bool		as_text;		/* build text rather than jsonb */
	bool		lenient;		/* for messages: never raise on bad strings */
	int			limit;			/* stop walking past this many bytes; 0: no
								 * limit */
	bool		truncated;		/* walking stopped at the limit */
	/* text output */
	StringInfoData buf;
	bool		need_comma;
	/* jsonb output */
	JsonbParseState *state;
	JsonbValue *result;
	JsonbValue	root_scalar;
} JsonSink;

/*
 * Why the write direction refused a value, for the error that says so.
 */
typedef struct Unstorable
{
	int			sqlerrcode;
	bool		too_deep;		/* JSON nested beyond what BSON takes */
	char	   *detail;
	const char *hint;
} Unstorable;

/* milliseconds between the Unix epoch and the PostgreSQL epoch */
#define NG_EPOCH_DIFF_MS \
	(INT64CONST(1000) * SECS_PER_DAY * \
	 (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE))
#define NG_MS_PER_DAY	(INT64CONST(1000) * SECS_PER_DAY)
/* first millisecond of year 10000, the end of relaxed $date strings */
#define NG_YEAR_10000_MS	INT64CONST(253402300800000)

/* decimal128 limits: 34 digits, exponent of the last digit in this range */
#define NG_DEC128_MAX_DIGITS	34
#define NG_DEC128_MIN_EXP	(-6176)
#define NG_DEC128_MAX_EXP	6111

/* ng_bson_value_to_text renders at most about this many bytes */
#define NG_VALUE_TEXT_MAX	100

static ConvKind classify_type(Oid typid);
static ConvKind classify_write_type(Oid *typid);
static Datum convert_value(NgConverter *conv, const bson_value_t *v,
						   bool *isnull);
static Datum mismatch(NgConverter *conv, bson_type_t type, bool *isnull);
static Datum out_of_range(NgConverter *conv, const bson_value_t *v,
						  int sqlerrcode, bool *isnull);
static Datum not_exact(NgConverter *conv, const bson_value_t *v,
						bool is_inexact, bool *isnull);
static Datum uuid_mismatch(NgConverter *conv, const bson_value_t *v,
						   bool *isnull);
static const char *bson_type_label(bson_type_t type);
pg_noreturn static void corrupt_bson(void);
static const char *server_string(const char *s, int len, int *outlen);
static Datum convert_text(NgConverter *conv, const bson_value_t *v,
						  bool *isnull);
static Datum convert_int(NgConverter *conv, const bson_value_t *v,
						 bool *isnull);
static Datum convert_float(NgConverter *conv, const bson_value_t *v,
						   bool *isnull);
static Datum convert_numeric(NgConverter *conv, const bson_value_t *v,
							 bool *isnull);
static Datum convert_timestamp(NgConverter *conv, const bson_value_t *v,
							   bool *isnull);
static Datum convert_date(NgConverter *conv, const bson_value_t *v,
						  bool *isnull);
static Datum convert_array(NgConverter *conv, const bson_value_t *v,
						   bool *isnull);
static Datum convert_input(NgConverter *conv, const bson_value_t *v,
						   bool *isnull);
static Datum convert_json(NgConverter *conv, const bson_value_t *v,
						  const uint8_t *docdata, uint32_t doclen);
static Numeric decimal128_to_numeric(const bson_decimal128_t *dec);
static Numeric cstring_to_numeric(const char *str);
static int	numeric_to_int64(Numeric num, int64 *val);
static int	numeric_typmod_scale(int32 typmod);
static Numeric numeric_typmod_bound(int32 typmod);
static void sink_init(JsonSink *s, NgJsonMode mode, bool as_text,
					  bool lenient);
static void sink_comma(JsonSink *s);
static void sink_scalar(JsonSink *s, JsonbValue *jv);
static void sink_begin(JsonSink *s, bool is_array);
static void sink_end(JsonSink *s, bool is_array);
static void sink_key(JsonSink *s, const char *key, int len, bool from_bson);
static void sink_string(JsonSink *s, const char *str, int len,
						bool from_bson);
static void sink_number(JsonSink *s, const char *str, int len);
static void sink_int(JsonSink *s, int64 val);
static void sink_bool(JsonSink *s, bool val);
static void sink_null(JsonSink *s);
static void sink_wrapped_string(JsonSink *s, const char *key,
								const char *str);
static void append_json_chars(StringInfo buf, const char *s, int len,
							  bool ascii_only);
static void append_lenient_string(StringInfo buf, const char *s, int len);
static void json_value(JsonSink *s, const bson_value_t *v);
static void json_container(JsonSink *s, const uint8_t *data, uint32_t len,
						   bool is_array);
static void json_double(JsonSink *s, double d);
static void json_date(JsonSink *s, int64 ms);
static void json_binary(JsonSink *s, const uint8_t *data, uint32_t len,
						bson_subtype_t subtype);
static void json_regex(JsonSink *s, const char *pattern, const char *options);
static bool append_value(bson_t *doc, const char *key, int keylen,
						 Datum value, Oid typid, ConvKind kind,
						 NgTimestampRounding rounding);
static bool append_datum(bson_t *doc, const char *key, int keylen,
						 Datum value, bool isnull, Oid typid,
						 NgTimestampRounding rounding);
static bool round_timestamp(int64 *ts, NgTimestampRounding rounding);
static bool append_numeric(bson_t *doc, const char *key, int keylen,
						   Numeric num);
static bool append_json(bson_t *doc, const char *key, int keylen,
						Datum value, ConvKind kind);
static bool append_array(bson_t *doc, const char *key, int keylen,
						 ArrayType *arr, NgTimestampRounding rounding);
static void unstorable_reason(Datum value, Oid typid, Unstorable *why);
static bson_t *json_to_bson(Datum value, ConvKind kind, bson_error_t *error);
pg_noreturn static void append_failed(const char *key, int keylen);


/* ----------------------------------------------------------------
 *		Type classification
 * ----------------------------------------------------------------
 */

/*
 * classify_type
 *		The read-direction kind of a column type, or CONV_UNSUPPORTED.
 *
 * Arrays and domains are supported when their element or base type is.
 * Composite and pseudo-types are not: no BSON value maps to them yet.
 * Every other type is read from a BSON string through its input function.
 */
static ConvKind
classify_type(Oid typid)
{
	HeapTuple	tup;
	Form_pg_type typform;
	ConvKind	kind;

	switch (typid)
	{
		case TEXTOID:
			return CONV_TEXT;
		case VARCHAROID:
			return CONV_VARCHAR;
		case BPCHAROID:
			return CONV_BPCHAR;
		case INT2OID:
			return CONV_INT2;
		case INT4OID:
			return CONV_INT4;
		case INT8OID:
			return CONV_INT8;
		case FLOAT4OID:
			return CONV_FLOAT4;
		case FLOAT8OID:
			return CONV_FLOAT8;
		case NUMERICOID:
			return CONV_NUMERIC;
		case BOOLOID:
			return CONV_BOOL;
		case TIMESTAMPTZOID:
			return CONV_TIMESTAMPTZ;
		case TIMESTAMPOID:
			return CONV_TIMESTAMP;
		case DATEOID:
			return CONV_DATE;
		case UUIDOID:
			return CONV_UUID;
		case BYTEAOID:
			return CONV_BYTEA;
		case JSONOID:
			return CONV_JSON;
		case JSONBOID:
			return CONV_JSONB;
		default:
			break;
	}

	if (typid == ng_objectid_typoid())
		return CONV_OBJECTID;

	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for type %u", typid);
	typform = (Form_pg_type) GETSTRUCT(tup);

	if (!typform->typisdefined)
		kind = CONV_UNSUPPORTED;
	else if (typform->typtype == TYPTYPE_DOMAIN)
		kind = classify_type(typform->typbasetype) != CONV_UNSUPPORTED ?
			CONV_DOMAIN : CONV_UNSUPPORTED;
	else if (typform->typtype == TYPTYPE_PSEUDO ||
			 typform->typtype == TYPTYPE_COMPOSITE)
		kind = CONV_UNSUPPORTED;
	else if (IsTrueArrayType(typform))
		kind = classify_type(typform->typelem) != CONV_UNSUPPORTED ?
			CONV_ARRAY : CONV_UNSUPPORTED;
	else if (!OidIsValid(typform->typinput))
		kind = CONV_UNSUPPORTED;
	else
		kind = CONV_INPUT;

	ReleaseSysCache(tup);
	return kind;
}

/*
 * ng_type_is_supported
 *		Whether a column of this type can be read from BSON at all.
 *
 * Answers the question ng_converter_init would raise an error for, without
 * raising; used at plan time.
 */
bool
ng_type_is_supported(Oid typid)
{
	return classify_type(typid) != CONV_UNSUPPORTED;
}

/*
 * ng_converter_init
 *		Prepare conv to convert BSON values into a column of type typid with
 *		typmod typmod.
 *
 * Called once per scan and column.  Everything conv needs (element and base
 * type converters, input function, caches) is allocated in
 * CurrentMemoryContext, which must live as long as conv is used.  Raises
 * ERRCODE_FDW_INVALID_DATA_TYPE for a type that cannot be mapped.
 */
void
ng_converter_init(NgConverter *conv, Oid typid, int32 typmod,
				  NgMismatchPolicy mismatch, NgJsonMode json_mode)
{
	ConvKind	kind = classify_type(typid);

	if (kind == CONV_UNSUPPORTED)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("column type %s is not supported",
						format_type_be(typid))));

	memset(conv, 0, sizeof(NgConverter));
	conv->typid = typid;
	conv->typmod = typmod;
	conv->mismatch = mismatch;
	conv->json_mode = json_mode;
	conv->kind = kind;

	switch (kind)
	{
		case CONV_ARRAY:
			{
				/* an array column's typmod applies to its elements */
				Oid			elemtype = get_element_type(typid);

				conv->elem = palloc(sizeof(NgConverter));
				ng_converter_init(conv->elem, elemtype, typmod, mismatch,
								  json_mode);
				get_typlenbyvalalign(elemtype, &conv->elmlen,
									 &conv->elmbyval, &conv->elmalign);
				break;
			}
		case CONV_DOMAIN:
			{
				int32		basetypmod = typmod;
				Oid			basetype;

				basetype = getBaseTypeAndTypmod(typid, &basetypmod);

				conv->elem = palloc(sizeof(NgConverter));
				ng_converter_init(conv->elem, basetype, basetypmod, mismatch,
								  json_mode);
				/* domain_check keeps its cache here, for the whole scan */
				conv->infunc.fn_extra = NULL;
				conv->infunc.fn_mcxt = CurrentMemoryContext;
				break;
			}
		case CONV_NUMERIC:
			if (typmod >= (int32) VARHDRSZ)
				conv->infunc.fn_extra = numeric_typmod_bound(typmod);
			break;
		case CONV_INPUT:
			{
				Oid			infuncoid;

				getTypeInputInfo(typid, &infuncoid, &conv->ioparam);
				fmgr_info(infuncoid, &conv->infunc);
				break;
			}
		default:
			break;
	}
}


/* ----------------------------------------------------------------
 *		BSON to Datum
 * ----------------------------------------------------------------
 */

/*
 * ng_bson_to_datum
 *		Convert the BSON value at iter into conv's column type.
 *
 * BSON null and undefined give SQL NULL (*isnull = true); so does a
 * mismatch under NG_MISMATCH_NULL.  The result is allocated in
 * CurrentMemoryContext and shares nothing with the BSON document.  Raises
 * on mismatches under NG_MISMATCH_ERROR, on invalid strings, and whatever a
 * type input function or domain constraint raises.
 */
Datum
ng_bson_to_datum(NgConverter *conv, const bson_iter_t *iter, bool *isnull)
{
	/* bson_iter_value wants an iterator it may write to */
	bson_iter_t it = *iter;

	return convert_value(conv, bson_iter_value(&it), isnull);
}

/*
 * ng_bson_document_to_datum
 *		Convert a whole document into conv's column type.
 *
 * For a json or jsonb column (or a domain over one) whose field is $$ROOT.
 * Any other column type is a mismatch.  Same memory and error rules as
 * ng_bson_to_datum.
 */
Datum
ng_bson_document_to_datum(NgConverter *conv, const bson_t *doc, bool *isnull)
{
	Datum		result;

	*isnull = false;
	switch ((ConvKind) conv->kind)
	{
		case CONV_JSON:
		case CONV_JSONB:
			return convert_json(conv, NULL, bson_get_data(doc), doc->len);
		case CONV_DOMAIN:
			result = ng_bson_document_to_datum(conv->elem, doc, isnull);
			if (!*isnull)
				domain_check(result, false, conv->typid,
							 &conv->infunc.fn_extra, conv->infunc.fn_mcxt);
			return result;
		default:
			return mismatch(conv, BSON_TYPE_DOCUMENT, isnull);
	}
}

/*
 * convert_value
 *		The body of ng_bson_to_datum, for a decoded value.
 */
static Datum
convert_value(NgConverter *conv, const bson_value_t *v, bool *isnull)
{
	*isnull = false;

	if (unlikely(v->value_type == BSON_TYPE_NULL ||
				 v->value_type == BSON_TYPE_UNDEFINED))
	{
		*isnull = true;
		return (Datum) 0;
	}

	switch ((ConvKind) conv->kind)
	{
		case CONV_TEXT:
		case CONV_VARCHAR:
		case CONV_BPCHAR:
			return convert_text(conv, v, isnull);

		case CONV_INT2:
		case CONV_INT4:
		case CONV_INT8:
			return convert_int(conv, v, isnull);

		case CONV_FLOAT4:
		case CONV_FLOAT8:
			return convert_float(conv, v, isnull);

		case CONV_NUMERIC:
			return convert_numeric(conv, v, isnull);

		case CONV_BOOL:
			if (v->value_type != BSON_TYPE_BOOL)
				return mismatch(conv, v->value_type, isnull);
			return BoolGetDatum(v->value.v_bool);

		case CONV_TIMESTAMPTZ:
		case CONV_TIMESTAMP:
			return convert_timestamp(conv, v, isnull);

		case CONV_DATE:
			return convert_date(conv, v, isnull);

		case CONV_OBJECTID:
			{
				NgObjectId *oid;

				if (v->value_type != BSON_TYPE_OID)
					return mismatch(conv, v->value_type, isnull);
				oid = palloc(sizeof(NgObjectId));
				memcpy(oid->data, v->value.v_oid.bytes, NG_OBJECTID_LEN);
				return NgObjectIdPGetDatum(oid);
			}

		case CONV_UUID:
			{
				pg_uuid_t  *uuid;

				if (v->value_type != BSON_TYPE_BINARY)
					return mismatch(conv, v->value_type, isnull);
				if (v->value.v_binary.subtype != BSON_SUBTYPE_UUID ||
					v->value.v_binary.data_len != UUID_LEN)
					return uuid_mismatch(conv, v, isnull);
				uuid = palloc(sizeof(pg_uuid_t));
				memcpy(uuid->data, v->value.v_binary.data, UUID_LEN);
				return UUIDPGetDatum(uuid);
			}

		case CONV_BYTEA:
			{
				bytea	   *result;
				uint32		len;

				if (v->value_type != BSON_TYPE_BINARY)
					return mismatch(conv, v->value_type, isnull);
				len = v->value.v_binary.data_len;
				result = palloc(VARHDRSZ + len);
				SET_VARSIZE(result, VARHDRSZ + len);
				memcpy(VARDATA(result), v->value.v_binary.data, len);
				return PointerGetDatum(result);
			}

		case CONV_JSON:
		case CONV_JSONB:
			return convert_json(conv, v, NULL, 0);

		case CONV_ARRAY:
			return convert_array(conv, v, isnull);

		case CONV_DOMAIN:
			{
				Datum		result = convert_value(conv->elem, v, isnull);

				/*
				 * A NULL result (mismatch under NG_MISMATCH_NULL) is not
				 * checked, just as a missing field or a BSON null is not.
				 */
				if (!*isnull)
					domain_check(result, false, conv->typid,
								 &conv->infunc.fn_extra, conv->infunc.fn_mcxt);
				return result;
			}

		case CONV_INPUT:
			return convert_input(conv, v, isnull);

		case CONV_NAME:
		case CONV_UNSUPPORTED:
			break;
	}

	elog(ERROR, "unrecognized converter kind: %d", conv->kind);
	return (Datum) 0;			/* keep compiler quiet */
}

/*
 * mismatch
 *		Report a BSON value of a type the column cannot take: raise
 *		ERRCODE_DATATYPE_MISMATCH or, under NG_MISMATCH_NULL, return NULL.
 */
static pg_noinline Datum
mismatch(NgConverter *conv, bson_type_t type, bool *isnull)
{
	if (conv->mismatch == NG_MISMATCH_NULL)
	{
		*isnull = true;
		return (Datum) 0;
	}
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("cannot convert BSON %s to type %s",
					bson_type_label(type),
					format_type_with_typemod(conv->typid, conv->typmod))));
	return (Datum) 0;			/* keep compiler quiet */
}

/*
 * out_of_range
 *		Report a BSON value of a suitable type whose value does not fit the
 *		column (number too large, string too long ...): raise with sqlerrcode
 *		or, under NG_MISMATCH_NULL, return NULL.
 */
static pg_noinline Datum
out_of_range(NgConverter *conv, const bson_value_t *v, int sqlerrcode,
			 bool *isnull)
{
	if (conv->mismatch == NG_MISMATCH_NULL)
	{
		*isnull = true;
		return (Datum) 0;
	}
	if (sqlerrcode == ERRCODE_STRING_DATA_RIGHT_TRUNCATION)
		ereport(ERROR,
				(errcode(sqlerrcode),
				 errmsg("BSON %s value %s is too long for type %s",
						bson_type_label(v->value_type),
						ng_bson_value_to_text(v),
						format_type_with_typemod(conv->typid, conv->typmod))));
	ereport(ERROR,
			(errcode(sqlerrcode),
			 errmsg("BSON %s value %s is out of range for type %s",
					bson_type_label(v->value_type),
					ng_bson_value_to_text(v),
					format_type_with_typemod(conv->typid, conv->typmod))));
	return (Datum) 0;			/* keep compiler quiet */
}

/*
 * not_exact
 *		Report a number of a suitable type that the column cannot hold
 *		exactly, as a mismatch: a non-integral number for an integer column
 *		(is_inexact false), or an integer that lies between two values of a
 *		float column's type (is_inexact true; it is not beyond its range).
 */
static pg_noinline Datum
not_exact(NgConverter *conv, const bson_value_t *v, bool is_inexact,
		  bool *isnull)
{
	const char *label;
	char	   *text;
	char	   *type;

	if (conv->mismatch == NG_MISMATCH_NULL)
	{
		*isnull = true;
		return (Datum) 0;
	}
	label = bson_type_label(v->value_type);
	text = ng_bson_value_to_text(v);
	type = format_type_with_typemod(conv->typid, conv->typmod);
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 is_inexact
			 ? errmsg("BSON %s value %s cannot be represented exactly as type %s",
					  label, text, type)
			 : errmsg("cannot convert BSON %s value %s to type %s",
					  label, text, type),
			 is_inexact
			 ? errdetail("Converting it would round it to a different number.")
			 : errdetail("The value is not an integer."),
			 is_inexact
			 ? errhint("Use a numeric or bigint column to read it exactly.")
			 : 0));
	return (Datum) 0;			/* keep compiler quiet */
}

/*
 * uuid_mismatch
 *		Report binary data that is not a UUID for a uuid column, as a
 *		mismatch.
 */
static pg_noinline Datum
uuid_mismatch(NgConverter *conv, const bson_value_t *v, bool *isnull)
{
	if (conv->mismatch == NG_MISMATCH_NULL)
	{
		*isnull = true;
		return (Datum) 0;
	}
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("cannot convert BSON binary to type %s",
					format_type_be(conv->typid)),
			 errdetail("Only binary subtype 4 (UUID) of 16 bytes converts to type uuid. The value has subtype %d and %u bytes.",
					   (int) v->value.v_binary.subtype,
					   (unsigned int) v->value.v_binary.data_len)));
	return (Datum) 0;			/* keep compiler quiet */
}

/*
 * corrupt_bson
 *		Raise an error for BSON data that libbson cannot iterate.
 */
static void
corrupt_bson(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("invalid BSON document")));
}

/*
 * server_string
 *		Check a UTF-8 string from BSON and return it in the server encoding.
 *
 * s need not be NUL-terminated; the result is NUL-terminated only if it is
 * a converted copy (then *outlen is its length).  With a UTF8 server, this
 * is just validation and returns s.  Raises
 * ERRCODE_CHARACTER_NOT_IN_REPERTOIRE for invalid UTF-8 (including NUL
 * bytes), or an error for characters the server encoding lacks.
 */
static const char *
server_string(const char *s, int len, int *outlen)
{
	char	   *converted;

	if (likely(GetDatabaseEncoding() == PG_UTF8))
	{
		(void) pg_verifymbstr(s, len, false);
		*outlen = len;
		return s;
	}

	converted = pg_any_to_server(s, len, PG_UTF8);
	*outlen = (converted == s) ? len : strlen(converted);
	return converted;
}

/*
 * convert_text
 *		text, varchar(n) and bpchar(n) from a BSON string, or from an
 *		ObjectId as 24 lowercase hex digits.
 *
 * A string longer than varchar(n) or char(n) allows is out of range, except
 * that excess trailing spaces are dropped, as an assignment cast does; a
 * shorter char(n) value is padded with spaces.
 */
static Datum
convert_text(NgConverter *conv, const bson_value_t *v, bool *isnull)
{
	const char *s;
	int			len;
	char		hex[25];
	int			maxlen;
	int			charlen;
	text	   *result;

	if (v->value_type == BSON_TYPE_UTF8)
		s = server_string(v->value.v_utf8.str, v->value.v_utf8.len, &len);
	else if (v->value_type == BSON_TYPE_OID)
	{
		bson_oid_to_string(&v->value.v_oid, hex);
		s = hex;
		len = 24;
	}
	else
		return mismatch(conv, v->value_type, isnull);

	if (conv->kind == CONV_TEXT || conv->typmod < (int32) VARHDRSZ)
		return PointerGetDatum(cstring_to_text_with_len(s, len));

	maxlen = conv->typmod - VARHDRSZ;

	if (conv->kind == CONV_VARCHAR)
	{
		/* bytes >= characters, so a short string needs no counting */
		if (len > maxlen)
		{
			int			cliplen = pg_mbcharcliplen(s, len, maxlen);
			int			i;

			for (i = cliplen; i < len; i++)
				if (s[i] != ' ')
					return out_of_range(conv, v,
										ERRCODE_STRING_DATA_RIGHT_TRUNCATION,
										isnull);
			len = cliplen;
		}
		return PointerGetDatum(cstring_to_text_with_len(s, len));
	}

	/* bpchar(n) */
	charlen = pg_mbstrlen_with_len(s, len);
	if (charlen > maxlen)
	{
		int			cliplen = pg_mbcharcliplen(s, len, maxlen);
		int			i;

		for (i = cliplen; i < len; i++)
			if (s[i] != ' ')
				return out_of_range(conv, v,
									ERRCODE_STRING_DATA_RIGHT_TRUNCATION,
									isnull);
		len = cliplen;
		charlen = maxlen;
	}
	result = palloc(VARHDRSZ + len + (maxlen - charlen));
	SET_VARSIZE(result, VARHDRSZ + len + (maxlen - charlen));
	memcpy(VARDATA(result), s, len);
	memset(VARDATA(result) + len, ' ', maxlen - charlen);
	return PointerGetDatum(result);
}

/*
 * convert_int
 *		smallint, integer and bigint from int32, int64, and from double and
 *		decimal128 values that are integers.
 */
static Datum
convert_int(NgConverter *conv, const bson_value_t *v, bool *isnull)
{
	int64		val;

	switch (v->value_type)
	{
		case BSON_TYPE_INT32:
			if (conv->kind == CONV_INT4)
				return Int32GetDatum(v->value.v_int32);
			val = v->value.v_int32;
			break;

		case BSON_TYPE_INT64:
			val = v->value.v_int64;
			break;

		case BSON_TYPE_DOUBLE:
			{
				double		d = v->value.v_double;

				if (isinf(d))
					return out_of_range(conv, v,
										ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
										isnull);
				if (isnan(d) || d != floor(d))
					return not_exact(conv, v, false, isnull);
				if (!FLOAT8_FITS_IN_INT64(d))
					return out_of_range(conv, v,
										ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
										isnull);
				val = (int64) d;
				break;
			}

		case BSON_TYPE_DECIMAL128:
			{
				Numeric		num;
				int			status;

				num = decimal128_to_numeric(&v->value.v_decimal128);
				status = numeric_to_int64(num, &val);
				if (status < 0)
					return not_exact(conv, v, false, isnull);
				if (status > 0)
					return out_of_range(conv, v,
										ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
										isnull);
				break;
			}

		default:
			return mismatch(conv, v->value_type, isnull);
	}

	switch (conv->kind)
	{
		case CONV_INT2:
			if (val < PG_INT16_MIN || val > PG_INT16_MAX)
				return out_of_range(conv, v,
									ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
									isnull);
			return Int16GetDatum((int16) val);
		case CONV_INT4:
			if (val < PG_INT32_MIN || val > PG_INT32_MAX)
				return out_of_range(conv, v,
									ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
									isnull);
			return Int32GetDatum((int32) val);
		default:
			return Int64GetDatum(val);
	}
}

/*
 * convert_float
 *		real and double precision from double, and from int32 and int64
 *		values the float type represents exactly.
 *
 * A double that overflows or underflows real is out of range, as in
 * PostgreSQL's float8-to-float4 cast; rounding to real's precision is
 * accepted, as in that cast.  decimal128 is never converted: it would not be
 * exact.
 */
static Datum
convert_float(NgConverter *conv, const bson_value_t *v, bool *isnull)
{
	bool		is_float4 = (conv->kind == CONV_FLOAT4);

	switch (v->value_type)
	{
		case BSON_TYPE_DOUBLE:
			{
				double		d = v->value.v_double;
				float4		f;

				if (!is_float4)
					return Float8GetDatum(d);
				f = (float4) d;
				if ((isinf(f) && !isinf(d)) || (f == 0.0f && d != 0.0))
					return out_of_range(conv, v,
										ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
										isnull);
				return Float4GetDatum(f);
			}

		case BSON_TYPE_INT32:
			{
				int32		i = v->value.v_int32;
				float4		f;

				if (!is_float4)
					return Float8GetDatum((float8) i);
				f = (float4) i;
				if ((float8) f != (float8) i)
					return not_exact(conv, v, true, isnull);
				return Float4GetDatum(f);
			}

		case BSON_TYPE_INT64:
			{
				int64		i = v->value.v_int64;

				/*
				 * 2^63 is the only rounded value that does not convert back
				 * to int64; check it before converting back.
				 */
				if (!is_float4)
				{
					float8		d = (float8) i;

					if (d >= -(float8) PG_INT64_MIN || (int64) d != i)
						return not_exact(conv, v, true, isnull);
					return Float8GetDatum(d);
				}
				else
				{
					float4		f = (float4) i;

					if (f >= -(float4) PG_INT64_MIN || (int64) f != i)
						return not_exact(conv, v, true, isnull);
					return Float4GetDatum(f);
				}
			}

		default:
			return mismatch(conv, v->value_type, isnull);
	}
}

/*
 * decimal128_to_numeric
 *		A numeric with exactly the value of a decimal128, NaN and the
 *		infinities included.  Every decimal128 fits numeric's range.
 */
static Numeric
decimal128_to_numeric(const bson_decimal128_t *dec)
{
	char		str[BSON_DECIMAL128_STRING];

	bson_decimal128_to_string(dec, str);
	return cstring_to_numeric(str);
}

/*
 * cstring_to_numeric
 *		numeric_in without a typmod.
 */
static Numeric
cstring_to_numeric(const char *str)
{
	return DatumGetNumeric(DirectFunctionCall3(numeric_in,
											   CStringGetDatum(str),
											   ObjectIdGetDatum(InvalidOid),
											   Int32GetDatum(-1)));
}

/*
 * numeric_to_int64
 *		Store num in *val if it is an integer in int64's range and return 0;
 *		return -1 if num is not an integer (NaN included), 1 if it is out of
 *		range (the infinities included).
 */
static int
numeric_to_int64(Numeric num, int64 *val)
{
	Datum		d = NumericGetDatum(num);
	Datum		trunc;
	Datum		min;
	Datum		max;

	if (numeric_is_nan(num))
		return -1;
	if (numeric_is_inf(num))
		return 1;

	trunc = DirectFunctionCall2(numeric_trunc, d, Int32GetDatum(0));
	if (!DatumGetBool(DirectFunctionCall2(numeric_eq, d, trunc)))
		return -1;

	min = NumericGetDatum(int64_to_numeric(PG_INT64_MIN));
	max = NumericGetDatum(int64_to_numeric(PG_INT64_MAX));
	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, d, min)) < 0 ||
		DatumGetInt32(DirectFunctionCall2(numeric_cmp, d, max)) > 0)
		return 1;

	*val = DatumGetInt64(DirectFunctionCall1(numeric_int8, d));
	return 0;
}

/*
 * numeric_typmod_scale
 *		The scale of a numeric(precision, scale) typmod, decoded as
 *		PostgreSQL 15's numeric.c does (its helper is static): an 11-bit
 *		signed field, since scales may be negative.
 */
static int
numeric_typmod_scale(int32 typmod)
{
	return (((typmod - VARHDRSZ) & 0x7ff) ^ 1024) - 1024;
}

/*
 * numeric_typmod_bound
 *		10^(precision - scale) for a numeric(precision, scale) typmod: values
 *		that round to this magnitude or more do not fit the column.
 */
static Numeric
numeric_typmod_bound(int32 typmod)
{
	int			precision = ((typmod - VARHDRSZ) >> 16) & 0xffff;
	int			scale = numeric_typmod_scale(typmod);
	char		buf[32];

	snprintf(buf, sizeof(buf), "1e%d", precision - scale);
	return cstring_to_numeric(buf);
}

/*
 * convert_numeric
 *		numeric from decimal128, int32, int64 and double, then the column's
 *		typmod applied as a cast would.
 *
 * A double goes through the shortest decimal that reads back as the same
 * double, so 0.1 becomes 0.1 and not 0.1000000000000000055511151231257827.
 * A value that does not fit numeric(p,s) after rounding to s digits is out
 * of range; so is an infinity, as in PostgreSQL.
 */
static Datum
convert_numeric(NgConverter *conv, const bson_value_t *v, bool *isnull)
{
	Numeric		num;

	switch (v->value_type)
	{
		case BSON_TYPE_DECIMAL128:
			num = decimal128_to_numeric(&v->value.v_decimal128);
			break;
		case BSON_TYPE_INT32:
			num = int64_to_numeric(v->value.v_int32);
			break;
		case BSON_TYPE_INT64:
			num = int64_to_numeric(v->value.v_int64);
			break;
		case BSON_TYPE_DOUBLE:
			{
				double		d = v->value.v_double;
				char		buf[DOUBLE_SHORTEST_DECIMAL_LEN];

				if (isnan(d))
					num = cstring_to_numeric("NaN");
				else if (isinf(d))
					num = cstring_to_numeric(d > 0 ? "Infinity" : "-Infinity");
				else
				{
					double_to_shortest_decimal_buf(d, buf);
					num = cstring_to_numeric(buf);
				}
				break;
			}
		default:
			return mismatch(conv, v->value_type, isnull);
	}

	if (conv->typmod >= (int32) VARHDRSZ && !numeric_is_nan(num))
	{
		int			scale = numeric_typmod_scale(conv->typmod);
		Datum		bound = PointerGetDatum(conv->infunc.fn_extra);
		Datum		rounded;
		Datum		absval;

		if (numeric_is_inf(num))
			return out_of_range(conv, v, ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
								isnull);
		rounded = DirectFunctionCall2(numeric_round, NumericGetDatum(num),
									  Int32GetDatum(scale));
		absval = DirectFunctionCall1(numeric_abs, rounded);
		if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, absval, bound)) >= 0)
			return out_of_range(conv, v, ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
								isnull);
		/* cannot fail now; sets the display scale */
		return DirectFunctionCall2(numeric, rounded,
								   Int32GetDatum(conv->typmod));
	}

	return NumericGetDatum(num);
}

/*
 * convert_timestamp
 *		timestamp with or without time zone from a BSON date.
 *
 * A BSON date counts milliseconds since the Unix epoch in UTC; a timestamp
 * without time zone takes the UTC wall-clock time.
 */
static Datum
convert_timestamp(NgConverter *conv, const bson_value_t *v, bool *isnull)
{
	int64		ms;
	int64		ts;

	if (v->value_type != BSON_TYPE_DATE_TIME)
		return mismatch(conv, v->value_type, isnull);

	if (pg_sub_s64_overflow(v->value.v_datetime, NG_EPOCH_DIFF_MS, &ms) ||
		pg_mul_s64_overflow(ms, 1000, &ts) ||
		!IS_VALID_TIMESTAMP(ts))
		return out_of_range(conv, v, ERRCODE_DATETIME_VALUE_OUT_OF_RANGE,
							isnull);

	return TimestampGetDatum(ts);
}

/*
 * convert_date
 *		date from a BSON date that is exactly midnight UTC.
 */
static Datum
convert_date(NgConverter *conv, const bson_value_t *v, bool *isnull)
{
	int64		ms;
	int64		days;

	if (v->value_type != BSON_TYPE_DATE_TIME)
		return mismatch(conv, v->value_type, isnull);

	ms = v->value.v_datetime;
	if (ms % NG_MS_PER_DAY != 0)
	{
		if (conv->mismatch == NG_MISMATCH_NULL)
		{
			*isnull = true;
			return (Datum) 0;
		}
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("cannot convert BSON date value %s to type %s",
						ng_bson_value_to_text(v),
						format_type_be(conv->typid)),
				 errdetail("The value is not midnight UTC."),
				 errhint("Use a column of type timestamp or timestamptz.")));
	}

	days = ms / NG_MS_PER_DAY - (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE);
	if (!IS_VALID_DATE(days))
		return out_of_range(conv, v, ERRCODE_DATETIME_VALUE_OUT_OF_RANGE,
							isnull);

	return DateADTGetDatum((DateADT) days);
}

/*
 * convert_array
 *		A one-dimensional array from a BSON array, each element converted by
 *		conv->elem.
 *
 * The array's keys are ignored: elements are taken in document order.
 * Under NG_MISMATCH_NULL an element that does not fit becomes a NULL
 * element; the array itself is still returned.
 */
static Datum
convert_array(NgConverter *conv, const bson_value_t *v, bool *isnull)
{
	bson_iter_t it;
	int			nelems = 0;
	int			maxelems = 16;
	Datum	   *values;
	bool	   *nulls;
	int			dims[1];
	int			lbs[1];

	if (v->value_type != BSON_TYPE_ARRAY)
		return mismatch(conv, v->value_type, isnull);

	if (!bson_iter_init_from_data(&it, v->value.v_doc.data,
								  v->value.v_doc.data_len))
		corrupt_bson();

	values = palloc(maxelems * sizeof(Datum));
	nulls = palloc(maxelems * sizeof(bool));
	while (bson_iter_next(&it))
	{
		if (nelems == maxelems)
		{
			maxelems *= 2;
			values = repalloc(values, maxelems * sizeof(Datum));
			nulls = repalloc(nulls, maxelems * sizeof(bool));
		}
		values[nelems] = convert_value(conv->elem, bson_iter_value(&it),
									   &nulls[nelems]);
		nelems++;
	}
	if (it.err_off != 0)
		corrupt_bson();

	if (nelems == 0)
		return PointerGetDatum(construct_empty_array(conv->elem->typid));

	dims[0] = nelems;
	lbs[0] = 1;
	return PointerGetDatum(construct_md_array(values, nulls, 1, dims, lbs,
											  conv->elem->typid,
											  conv->elmlen, conv->elmbyval,
											  conv->elmalign));
}

/*
 * convert_input
 *		Any other type from a BSON string, through the type's input function
 *		with the column typmod.  Errors from the input function propagate.
 */
static Datum
convert_input(NgConverter *conv, const bson_value_t *v, bool *isnull)
{
	const char *s;
	int			len;
	char	   *cstr;

	if (v->value_type != BSON_TYPE_UTF8)
		return mismatch(conv, v->value_type, isnull);

	s = server_string(v->value.v_utf8.str, v->value.v_utf8.len, &len);
	/* a converted string is already a NUL-terminated palloc'd copy */
	cstr = (s == v->value.v_utf8.str) ? pnstrdup(s, len) : (char *) s;

	return InputFunctionCall(&conv->infunc, cstr, conv->ioparam,
							 conv->typmod);
}

/*
 * convert_json
 *		A json or jsonb Datum from a BSON value (v), or from a whole document
 *		(docdata/doclen, when v is NULL), as Extended JSON in conv's mode.
 */
static Datum
convert_json(NgConverter *conv, const bson_value_t *v,
			 const uint8_t *docdata, uint32_t doclen)
{
	JsonSink	s;

	sink_init(&s, conv->json_mode, conv->kind == CONV_JSON, false);
	if (s.as_text)
		appendStringInfoSpaces(&s.buf, VARHDRSZ);	/* room for the header */

	if (v != NULL)
		json_value(&s, v);
	else
		json_container(&s, docdata, doclen, false);

	if (s.as_text)
	{
		SET_VARSIZE(s.buf.data, s.buf.len);
		return PointerGetDatum(s.buf.data);
	}
	return JsonbPGetDatum(JsonbValueToJsonb(s.result));
}


/* ----------------------------------------------------------------
 *		BSON to Extended JSON
 * ----------------------------------------------------------------
 */

/*
 * sink_init
 *		Start an empty json text or jsonb.
 *
 * A lenient sink (text only) renders strings that are not valid UTF-8, or
 * that the server encoding cannot hold, without raising: it is for error
 * messages.
 */
static void
sink_init(JsonSink *s, NgJsonMode mode, bool as_text, bool lenient)
{
	memset(s, 0, sizeof(JsonSink));
	s->mode = mode;
	s->as_text = as_text;
	s->lenient = lenient;
	if (as_text)
		initStringInfo(&s->buf);
}

/* Text output: separate this item from the previous one. */
static inline void
sink_comma(JsonSink *s)
{
	if (s->need_comma)
		appendBinaryStringInfo(&s->buf, ", ", 2);
	s->need_comma = true;
}

/*
 * sink_scalar
 *		jsonb output: add a scalar as an array element, an object member's
 *		value, or the whole result.
 */
static void
sink_scalar(JsonSink *s, JsonbValue *jv)
{
	if (s->state == NULL)
	{
		/* JsonbValueToJsonb wraps a top-level scalar itself */
		s->root_scalar = *jv;
		s->result = &s->root_scalar;
	}
	else
		(void) pushJsonbValue(&s->state,
							  s->state->contVal.type == jbvArray ?
							  WJB_ELEM : WJB_VALUE, jv);
}

/* Open an array or object. */
static void
sink_begin(JsonSink *s, bool is_array)
{
	if (s->as_text)
	{
		sink_comma(s);
		appendStringInfoChar(&s->buf, is_array ? '[' : '{');
		s->need_comma = false;
	}
	else
		(void) pushJsonbValue(&s->state,
							  is_array ? WJB_BEGIN_ARRAY : WJB_BEGIN_OBJECT,
							  NULL);
}

/* Close the innermost array or object. */
static void
sink_end(JsonSink *s, bool is_array)
{
	if (s->as_text)
	{
		appendStringInfoChar(&s->buf, is_array ? ']' : '}');
		s->need_comma = true;
	}
	else
		s->result = pushJsonbValue(&s->state,
								   is_array ? WJB_END_ARRAY : WJB_END_OBJECT,
								   NULL);
}

/*
 * sink_key
 *		Add an object member's key.  from_bson says the key comes from the
 *		document and must be checked (and converted); our own keys are ASCII.
 */
static void
sink_key(JsonSink *s, const char *key, int len, bool from_bson)
{
	if (s->as_text)
	{
		sink_comma(s);
		if (from_bson && s->lenient)
			append_lenient_string(&s->buf, key, len);
		else
		{
			if (from_bson)
				key = server_string(key, len, &len);
			appendStringInfoChar(&s->buf, '"');
			append_json_chars(&s->buf, key, len, false);
			appendStringInfoChar(&s->buf, '"');
		}
		appendBinaryStringInfo(&s->buf, ": ", 2);
		s->need_comma = false;
	}
	else
	{
		JsonbValue	jv;

		if (from_bson)
			key = server_string(key, len, &len);
		jv.type = jbvString;

		/*
		 * Points into the document, which outlives the JsonbValue tree, or is
		 * one of our string literals.
		 */
		jv.val.string.val = (char *) key;
		jv.val.string.len = len;
		(void) pushJsonbValue(&s->state, WJB_KEY, &jv);
	}
}

/* Add a string value; from_bson as for sink_key. */
static void
sink_string(JsonSink *s, const char *str, int len, bool from_bson)
{
	if (s->as_text)
	{
		sink_comma(s);
		if (from_bson && s->lenient)
			append_lenient_string(&s->buf, str, len);
		else
		{
			if (from_bson)
				str = server_string(str, len, &len);
			appendStringInfoChar(&s->buf, '"');
			append_json_chars(&s->buf, str, len, false);
			appendStringInfoChar(&s->buf, '"');
		}
	}
	else
	{
		JsonbValue	jv;

		/*
		 * A string from the document outlives the JsonbValue tree; our own
		 * strings are often in the caller's stack buffers: copy those.
		 */
		if (from_bson)
			str = server_string(str, len, &len);
		else
			str = pnstrdup(str, len);
		jv.type = jbvString;
		jv.val.string.val = (char *) str;
		jv.val.string.len = len;
		sink_scalar(s, &jv);
	}
}

/* Add a number given as valid JSON number text. */
static void
sink_number(JsonSink *s, const char *str, int len)
{
	if (s->as_text)
	{
		sink_comma(s);
		appendBinaryStringInfo(&s->buf, str, len);
	}
	else
	{
		JsonbValue	jv;

		jv.type = jbvNumeric;
		jv.val.numeric = cstring_to_numeric(str);
		sink_scalar(s, &jv);
	}
}

/* Add an integer. */
static void
sink_int(JsonSink *s, int64 val)
{
	if (s->as_text)
	{
		char		buf[MAXINT8LEN + 1];
		int			len = pg_lltoa(val, buf);

		sink_comma(s);
		appendBinaryStringInfo(&s->buf, buf, len);
	}
	else
	{
		JsonbValue	jv;

		jv.type = jbvNumeric;
		jv.val.numeric = int64_to_numeric(val);
		sink_scalar(s, &jv);
	}
}

/* Add true or false. */
static void
sink_bool(JsonSink *s, bool val)
{
	if (s->as_text)
	{
		sink_comma(s);
		appendStringInfoString(&s->buf, val ? "true" : "false");
	}
	else
	{
		JsonbValue	jv;

		jv.type = jbvBool;
		jv.val.boolean = val;
		sink_scalar(s, &jv);
	}
}

/* Add null. */
static void
sink_null(JsonSink *s)
{
	if (s->as_text)
	{
		sink_comma(s);
		appendBinaryStringInfo(&s->buf, "null", 4);
	}
	else
	{
		JsonbValue	jv;

		jv.type = jbvNull;
		sink_scalar(s, &jv);
	}
}

/* Add {"<key>": "<str>"}; both are our own ASCII text. */
static void
sink_wrapped_string(JsonSink *s, const char *key, const char *str)
{
	sink_begin(s, false);
	sink_key(s, key, strlen(key), false);
	sink_string(s, str, strlen(str), false);
	sink_end(s, false);
}

/*
 * append_json_chars
 *		Append s[0..len) to buf escaped for a JSON string (no quotes).
 *
 * s must be valid in the server encoding.  With ascii_only, s must be valid
 * UTF-8 and non-ASCII characters become \u escapes (surrogate pairs beyond
 * the BMP), so the output is plain ASCII.
 */
static void
append_json_chars(StringInfo buf, const char *s, int len, bool ascii_only)
{
	const char *end = s + len;
	const char *run = s;

	while (s < end)
	{
		unsigned char c = (unsigned char) *s;

		if (likely(c >= 0x20 && c != '"' && c != '\\' &&
				   (c < 0x80 || !ascii_only)))
		{
			s++;
			continue;
		}

		/* flush the run of characters that need no escaping */
		if (s > run)
			appendBinaryStringInfo(buf, run, s - run);

		if (c >= 0x80)
		{
			pg_wchar	cp = utf8_to_unicode((const unsigned char *) s);

			if (cp > 0xFFFF)
			{
				cp -= 0x10000;
				appendStringInfo(buf, "\\u%04x\\u%04x",
								 (unsigned int) (0xD800 + (cp >> 10)),
								 (unsigned int) (0xDC00 + (cp & 0x3FF)));
			}
			else
				appendStringInfo(buf, "\\u%04x", (unsigned int) cp);
			s += pg_utf_mblen((const unsigned char *) s);
		}
		else
		{
			switch (c)
			{
				case '"':
					appendBinaryStringInfo(buf, "\\\"", 2);
					break;
				case '\\':
					appendBinaryStringInfo(buf, "\\\\", 2);
					break;
				case '\b':
					appendBinaryStringInfo(buf, "\\b", 2);
					break;
				case '\f':
					appendBinaryStringInfo(buf, "\\f", 2);
					break;
				case '\n':
					appendBinaryStringInfo(buf, "\\n", 2);
					break;
				case '\r':
					appendBinaryStringInfo(buf, "\\r", 2);
					break;
				case '\t':
					appendBinaryStringInfo(buf, "\\t", 2);
					break;
				default:
					appendStringInfo(buf, "\\u%04x", (unsigned int) c);
					break;
			}
			s++;
		}
		run = s;
	}
	if (s > run)
		appendBinaryStringInfo(buf, run, s - run);
}

/*
 * append_lenient_string
 *		Append a quoted JSON string for an error message, never raising.
 *
 * Renders the longest valid UTF-8 prefix (as \u escapes unless the server
 * encoding is UTF8) and marks anything after it with \ufffd.
 */
static void
append_lenient_string(StringInfo buf, const char *s, int len)
{
	int			validlen = pg_encoding_verifymbstr(PG_UTF8, s, len);

	appendStringInfoChar(buf, '"');
	append_json_chars(buf, s, validlen,
					  GetDatabaseEncoding() != PG_UTF8);
	if (validlen < len)
		appendStringInfoString(buf, "\\ufffd");
	appendStringInfoChar(buf, '"');
}

/*
 * json_value
 *		Render one BSON value as Extended JSON v2 in s's mode.
 *
 * Relaxed mode writes int32, int64 and finite doubles as JSON numbers and
 * dates from 1970 to 9999 as ISO-8601 strings; canonical mode wraps every
 * number and date.  Types without a JSON equivalent are always wrapped.
 */
static void
json_value(JsonSink *s, const bson_value_t *v)
{
	char		buf[32];

	switch (v->value_type)
	{
		case BSON_TYPE_DOUBLE:
			json_double(s, v->value.v_double);
			break;
		case BSON_TYPE_UTF8:
			sink_string(s, v->value.v_utf8.str, v->value.v_utf8.len, true);
			break;
		case BSON_TYPE_DOCUMENT:
			json_container(s, v->value.v_doc.data, v->value.v_doc.data_len,
						   false);
			break;
		case BSON_TYPE_ARRAY:
			json_container(s, v->value.v_doc.data, v->value.v_doc.data_len,
						   true);
			break;
		case BSON_TYPE_BINARY:
			json_binary(s, v->value.v_binary.data, v->value.v_binary.data_len,
						v->value.v_binary.subtype);
			break;
		case BSON_TYPE_UNDEFINED:
			sink_begin(s, false);
			sink_key(s, "$undefined", 10, false);
			sink_bool(s, true);
			sink_end(s, false);
			break;
		case BSON_TYPE_OID:
			bson_oid_to_string(&v->value.v_oid, buf);
			sink_wrapped_string(s, "$oid", buf);
			break;
		case BSON_TYPE_BOOL:
			sink_bool(s, v->value.v_bool);
			break;
		case BSON_TYPE_DATE_TIME:
			json_date(s, v->value.v_datetime);
			break;
		case BSON_TYPE_NULL:
			sink_null(s);
			break;
		case BSON_TYPE_REGEX:
			json_regex(s, v->value.v_regex.regex, v->value.v_regex.options);
			break;
		case BSON_TYPE_DBPOINTER:
			sink_begin(s, false);
			sink_key(s, "$dbPointer", 10, false);
			sink_begin(s, false);
			sink_key(s, "$ref", 4, false);
			sink_string(s, v->value.v_dbpointer.collection,
						v->value.v_dbpointer.collection_len, true);
			sink_key(s, "$id", 3, false);
			bson_oid_to_string(&v->value.v_dbpointer.oid, buf);
			sink_wrapped_string(s, "$oid", buf);
			sink_end(s, false);
			sink_end(s, false);
			break;
		case BSON_TYPE_CODE:
			sink_begin(s, false);
			sink_key(s, "$code", 5, false);
			sink_string(s, v->value.v_code.code, v->value.v_code.code_len,
						true);
			sink_end(s, false);
			break;
		case BSON_TYPE_SYMBOL:
			sink_begin(s, false);
			sink_key(s, "$symbol", 7, false);
			sink_string(s, v->value.v_symbol.symbol, v->value.v_symbol.len,
						true);
			sink_end(s, false);
			break;
		case BSON_TYPE_CODEWSCOPE:
			sink_begin(s, false);
			sink_key(s, "$code", 5, false);
			sink_string(s, v->value.v_codewscope.code,
						v->value.v_codewscope.code_len, true);
			sink_key(s, "$scope", 6, false);
			json_container(s, v->value.v_codewscope.scope_data,
						   v->value.v_codewscope.scope_len, false);
			sink_end(s, false);
			break;
		case BSON_TYPE_INT32:
			if (s->mode == NG_JSON_CANONICAL)
			{
				pg_ltoa(v->value.v_int32, buf);
				sink_wrapped_string(s, "$numberInt", buf);
			}
			else
				sink_int(s, v->value.v_int32);
			break;
		case BSON_TYPE_INT64:
			if (s->mode == NG_JSON_CANONICAL)
			{
				pg_lltoa(v->value.v_int64, buf);
				sink_wrapped_string(s, "$numberLong", buf);
			}
			else
				sink_int(s, v->value.v_int64);
			break;
		case BSON_TYPE_TIMESTAMP:
			sink_begin(s, false);
			sink_key(s, "$timestamp", 10, false);
			sink_begin(s, false);
			sink_key(s, "t", 1, false);
			sink_int(s, v->value.v_timestamp.timestamp);
			sink_key(s, "i", 1, false);
			sink_int(s, v->value.v_timestamp.increment);
			sink_end(s, false);
			sink_end(s, false);
			break;
		case BSON_TYPE_DECIMAL128:
			{
				char		dec[BSON_DECIMAL128_STRING];

				bson_decimal128_to_string(&v->value.v_decimal128, dec);
				sink_wrapped_string(s, "$numberDecimal", dec);
				break;
			}
		case BSON_TYPE_MAXKEY:
			sink_begin(s, false);
			sink_key(s, "$maxKey", 7, false);
			sink_int(s, 1);
			sink_end(s, false);
			break;
		case BSON_TYPE_MINKEY:
			sink_begin(s, false);
			sink_key(s, "$minKey", 7, false);
			sink_int(s, 1);
			sink_end(s, false);
			break;
		default:
			if (s->lenient)
				sink_null(s);
			else
				corrupt_bson();
			break;
	}
}

/*
 * json_container
 *		Render a BSON document or array (raw bytes) as an object or array.
 *
 * Object keys keep document order in json text; jsonb sorts them (and keeps
 * the last of duplicate keys) as it always does.
 */
static void
json_container(JsonSink *s, const uint8_t *data, uint32_t len, bool is_array)
{
	bson_iter_t it;

	check_stack_depth();

	if (!bson_iter_init_from_data(&it, data, len))
	{
		if (!s->lenient)
			corrupt_bson();
		sink_null(s);
		return;
	}

	sink_begin(s, is_array);
	while (bson_iter_next(&it))
	{
		if (s->limit > 0 && s->buf.len > s->limit)
		{
			s->truncated = true;
			break;
		}
		if (!is_array)
			sink_key(s, bson_iter_key(&it), bson_iter_key_len(&it), true);
		json_value(s, bson_iter_value(&it));
	}
	if (it.err_off != 0)
	{
		if (!s->lenient)
			corrupt_bson();
		s->truncated = true;	/* show that something is missing */
	}
	sink_end(s, is_array);
}

/*
 * json_double
 *		A double: a JSON number (relaxed, finite) written as the shortest
 *		decimal that reads back as the same double, with ".0" added to
 *		integral values so that they read back as doubles; otherwise
 *		{"$numberDouble": "..."}.
 */
static void
json_double(JsonSink *s, double d)
{
	char		buf[DOUBLE_SHORTEST_DECIMAL_LEN + 2];
	int			len;

	if (isnan(d))
	{
		sink_wrapped_string(s, "$numberDouble", "NaN");
		return;
	}
	if (isinf(d))
	{
		sink_wrapped_string(s, "$numberDouble",
							d > 0 ? "Infinity" : "-Infinity");
		return;
	}

	len = double_to_shortest_decimal_buf(d, buf);
	if (strpbrk(buf, ".e") == NULL)
	{
		memcpy(buf + len, ".0", 3);
		len += 2;
	}

	if (s->mode == NG_JSON_CANONICAL)
		sink_wrapped_string(s, "$numberDouble", buf);
	else if (s->as_text)
		sink_number(s, buf, len);
	else
	{
		JsonbValue	jv;

		jv.type = jbvNumeric;
		jv.val.numeric = cstring_to_numeric(buf);

		/*
		 * numeric never prints an exponent, so 1e+16 would come out as an
		 * integer literal, which Extended JSON parsers read as an int64 (or
		 * reject).  Give integral values a fractional digit instead.
		 */
		if (strchr(buf, 'e') != NULL && d == floor(d))
		{
			Datum		rounded;

			rounded = DirectFunctionCall2(numeric_round,
										  NumericGetDatum(jv.val.numeric),
										  Int32GetDatum(1));
			jv.val.numeric = DatumGetNumeric(rounded);
		}
		sink_scalar(s, &jv);
	}
}

/*
 * json_date
 *		A date: {"$date": "YYYY-MM-DDTHH:MM:SS.mmmZ"} in relaxed mode for
 *		years 1970 to 9999, otherwise {"$date": {"$numberLong": "<ms>"}}.
 */
static void
json_date(JsonSink *s, int64 ms)
{
	char		buf[32];

	sink_begin(s, false);
	sink_key(s, "$date", 5, false);
	if (s->mode == NG_JSON_RELAXED && ms >= 0 && ms < NG_YEAR_10000_MS)
	{
		int			year,
					month,
					day;
		int64		msofday = ms % NG_MS_PER_DAY;

		j2date((int) (ms / NG_MS_PER_DAY) + UNIX_EPOCH_JDATE,
			   &year, &month, &day);
		snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
				 year, month, day,
				 (int) (msofday / 3600000), (int) (msofday / 60000 % 60),
				 (int) (msofday / 1000 % 60), (int) (msofday % 1000));
		sink_string(s, buf, strlen(buf), false);
	}
	else
	{
		pg_lltoa(ms, buf);
		sink_wrapped_string(s, "$numberLong", buf);
	}
	sink_end(s, false);
}

/* {"$binary": {"base64": "...", "subType": "hh"}} */
static void
json_binary(JsonSink *s, const uint8_t *data, uint32_t len,
			bson_subtype_t subtype)
{
	int			b64size = pg_b64_enc_len(len) + 1;
	char	   *b64 = palloc(b64size);
	int			b64len;
	char		st[8];

	b64len = ng_b64_encode(data, len, b64, b64size);
	if (b64len < 0)
		elog(ERROR, "could not encode binary data as base64");
	b64[b64len] = '\0';
	snprintf(st, sizeof(st), "%02x", (unsigned int) subtype);

	sink_begin(s, false);
	sink_key(s, "$binary", 7, false);
	sink_begin(s, false);
	sink_key(s, "base64", 6, false);
	sink_string(s, b64, b64len, false);
	sink_key(s, "subType", 7, false);
	sink_string(s, st, strlen(st), false);
	sink_end(s, false);
	sink_end(s, false);
}

/*
 * {"$regularExpression": {"pattern": "...", "options": "..."}}, options in
 * alphabetical order as Extended JSON v2 requires.
 */
static void
json_regex(JsonSink *s, const char *pattern, const char *options)
{
	int			optlen = strlen(options);
	char	   *sorted = pnstrdup(options, optlen);
	int			i;

	/* insertion sort: there are only a handful of option letters */
	for (i = 1; i < optlen; i++)
	{
		char		c = sorted[i];
		int			j = i - 1;

		while (j >= 0 && sorted[j] > c)
		{
			sorted[j + 1] = sorted[j];
			j--;
		}
		sorted[j + 1] = c;
	}

	sink_begin(s, false);
	sink_key(s, "$regularExpression", 18, false);
	sink_begin(s, false);
	sink_key(s, "pattern", 7, false);
	sink_string(s, pattern, strlen(pattern), true);
	sink_key(s, "options", 7, false);
	sink_string(s, sorted, optlen, true);
	sink_end(s, false);
	sink_end(s, false);
}


/* ----------------------------------------------------------------
 *		Names and renderings for messages
 * ----------------------------------------------------------------
 */

/*
 * ng_bson_type_name
 *		The name MongoDB's $type operator uses for a BSON type.
 */
const char *
ng_bson_type_name(bson_type_t type)
{
	switch (type)
	{
		case BSON_TYPE_DOUBLE:
			return "double";
		case BSON_TYPE_UTF8:
			return "string";
		case BSON_TYPE_DOCUMENT:
			return "object";
		case BSON_TYPE_ARRAY:
			return "array";
		case BSON_TYPE_BINARY:
			return "binData";
		case BSON_TYPE_UNDEFINED:
			return "undefined";
		case BSON_TYPE_OID:
			return "objectId";
		case BSON_TYPE_BOOL:
			return "bool";
		case BSON_TYPE_DATE_TIME:
			return "date";
		case BSON_TYPE_NULL:
			return "null";
		case BSON_TYPE_REGEX:
			return "regex";
		case BSON_TYPE_DBPOINTER:
			return "dbPointer";
		case BSON_TYPE_CODE:
			return "javascript";
		case BSON_TYPE_SYMBOL:
			return "symbol";
		case BSON_TYPE_CODEWSCOPE:
			return "javascriptWithScope";
		case BSON_TYPE_INT32:
			return "int";
		case BSON_TYPE_TIMESTAMP:
			return "timestamp";
		case BSON_TYPE_INT64:
			return "long";
		case BSON_TYPE_DECIMAL128:
			return "decimal";
		case BSON_TYPE_MAXKEY:
			return "maxKey";
		case BSON_TYPE_MINKEY:
			return "minKey";
		case BSON_TYPE_EOD:
			return "missing";
	}
	return "unknown";
}

/*
 * bson_type_label
 *		The name of a BSON type in our error messages ("cannot convert BSON
 *		int64 to ...").  These are the BSON specification's names, which read
 *		better in a sentence than the $type aliases ("long", "object").
 */
static const char *
bson_type_label(bson_type_t type)
{
	switch (type)
	{
		case BSON_TYPE_DOUBLE:
			return "double";
		case BSON_TYPE_UTF8:
			return "string";
		case BSON_TYPE_DOCUMENT:
			return "document";
		case BSON_TYPE_ARRAY:
			return "array";
		case BSON_TYPE_BINARY:
			return "binary";
		case BSON_TYPE_UNDEFINED:
			return "undefined";
		case BSON_TYPE_OID:
			return "ObjectId";
		case BSON_TYPE_BOOL:
			return "boolean";
		case BSON_TYPE_DATE_TIME:
			return "date";
		case BSON_TYPE_NULL:
			return "null";
		case BSON_TYPE_REGEX:
			return "regular expression";
		case BSON_TYPE_DBPOINTER:
			return "DBPointer";
		case BSON_TYPE_CODE:
			return "JavaScript code";
		case BSON_TYPE_SYMBOL:
			return "symbol";
		case BSON_TYPE_CODEWSCOPE:
			return "JavaScript code with scope";
		case BSON_TYPE_INT32:
			return "int32";
		case BSON_TYPE_TIMESTAMP:
			return "timestamp";
		case BSON_TYPE_INT64:
			return "int64";
		case BSON_TYPE_DECIMAL128:
			return "decimal128";
		case BSON_TYPE_MAXKEY:
			return "MaxKey";
		case BSON_TYPE_MINKEY:
			return "MinKey";
		case BSON_TYPE_EOD:
			break;
	}
	return "value";
}

/*
 * ng_bson_value_to_text
 *		A short rendering of a BSON value for error messages and context
 *		lines: relaxed Extended JSON v2 (strings quoted, ObjectIds as
 *		{"$oid": "..."}), cut after about 100 bytes with "...".
 *
 * Returns a palloc'd string in the server encoding.  Never raises for bad
 * data (invalid UTF-8 ends the string with \ufffd), so it is safe in an
 * error context callback.
 */
char *
ng_bson_value_to_text(const bson_value_t *value)
{
	JsonSink	s;

	sink_init(&s, NG_JSON_RELAXED, true, true);
	s.limit = NG_VALUE_TEXT_MAX;
	json_value(&s, value);

	if (s.truncated || s.buf.len > NG_VALUE_TEXT_MAX)
	{
		int			cut;

		cut = pg_mbcliplen(s.buf.data, s.buf.len, NG_VALUE_TEXT_MAX);
		s.buf.len = cut;
		s.buf.data[cut] = '\0';
		appendStringInfoString(&s.buf, "...");
	}
	return s.buf.data;
}


/* ----------------------------------------------------------------
 *		Datum to BSON
 * ----------------------------------------------------------------
 */

/*
 * classify_write_type
 *		The write-direction kind of *typid, or CONV_UNSUPPORTED.  A domain is
 *		replaced by its base type in *typid.
 *
 * Types the read direction takes through their input function have no
 * inverse here.
 */
static ConvKind
classify_write_type(Oid *typid)
{
	ConvKind	kind = classify_type(*typid);

	if (kind == CONV_DOMAIN)
	{
		*typid = getBaseType(*typid);
		kind = classify_type(*typid);
	}

	if (*typid == NAMEOID)
		return CONV_NAME;

	if (kind == CONV_ARRAY)
	{
		Oid			elemtype = get_element_type(*typid);

		if (classify_write_type(&elemtype) == CONV_UNSUPPORTED)
			return CONV_UNSUPPORTED;
	}
	else if (kind == CONV_INPUT)
		return CONV_UNSUPPORTED;

	return kind;
}

/*
 * ng_datum_append_bson
 *		Append value, of type typid, to doc under key (keylen bytes, or -1 for
 *		a NUL-terminated key), as the inverse of the read map.
 *
 * Returns false, appending nothing, when BSON cannot hold the value exactly:
 * an unsupported type, a timestamp with sub-millisecond digits, an infinite
 * timestamp or date, a multi-dimensional array (or an array with any such
 * element), JSON that libbson's Extended JSON parser rejects.  The caller
 * decides what that means (keep a condition local, or raise).
 *
 * NULL becomes BSON null; text types become strings (char(n) without its
 * trailing spaces); integers int32 or int64; floats double; numeric
 * decimal128; timestamps and dates BSON dates (UTC; a timestamp without time
 * zone is taken as UTC, a date as its midnight); uuid binary subtype 4;
 * bytea binary subtype 0; json and jsonb the value their Extended JSON
 * denotes; one-dimensional arrays BSON arrays.  Domains are appended as
 * their base type.
 *
 * Raises ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE for a numeric that decimal128
 * cannot hold without rounding (more than 34 significant digits, or an
 * exponent out of its range).  Anything libbson allocates is freed before
 * an error propagates.
 */
bool
ng_datum_append_bson(bson_t *doc, const char *key, int keylen,
					 Datum value, bool isnull, Oid typid)
{
	return append_datum(doc, key, keylen, value, isnull, typid,
						NG_TS_ROUND_ERROR);
}

/*
 * append_datum
 *		ng_datum_append_bson, with timestamps (also inside arrays) rounded
 *		to milliseconds as rounding says.
 */
static bool
append_datum(bson_t *doc, const char *key, int keylen, Datum value,
			 bool isnull, Oid typid, NgTimestampRounding rounding)
{
	ConvKind	kind = classify_write_type(&typid);

	if (kind == CONV_UNSUPPORTED)
		return false;

	if (isnull)
	{
		if (!bson_append_null(doc, key, keylen))
			append_failed(key, keylen);
		return true;
	}

	return append_value(doc, key, keylen, value, typid, kind, rounding);
}

/*
 * ng_column_append_bson
 *		Append a column's value to doc under key (NUL-terminated), as the
 *		column's bson_type option asks: the inverse of the read map by
 *		default, or a chosen BSON type (decimal, double, long, int, string).
 *
 * Returns false when the value cannot be represented (see
 * ng_datum_append_bson; a timestamp with sub-millisecond digits is rounded
 * or truncated instead when the column's timestamp_rounding option says so;
 * ng_column_report_unstorable raises the error that explains it).  A chosen integer type rejects values that are not
 * integral or out of range (ERRCODE_DATATYPE_MISMATCH /
 * ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE); "double" rounds to the nearest
 * double, as the user asked for by choosing it.
 */
bool
ng_column_append_bson(bson_t *doc, const char *key, NgColumn *col,
					  Datum value, bool isnull)
{
	Oid			outfunc;
	bool		isvarlena;
	char	   *str;
	bool		ok;

	if (isnull || col->write_type == NG_WRITE_AUTO)
		return append_datum(doc, key, -1, value, isnull, col->typid,
							col->ts_rounding);

	getTypeOutputInfo(col->typid, &outfunc, &isvarlena);
	str = OidOutputFunctionCall(outfunc, value);

	switch (col->write_type)
	{
		case NG_WRITE_DECIMAL:
			return ng_datum_append_bson(doc, key, -1,
										DirectFunctionCall3(numeric_in,
															CStringGetDatum(str),
															ObjectIdGetDatum(InvalidOid),
															Int32GetDatum(-1)),
										false, NUMERICOID);
		case NG_WRITE_DOUBLE:
			ok = bson_append_double(doc, key, -1,
									DatumGetFloat8(DirectFunctionCall1(float8in,
																	   CStringGetDatum(str))));
			break;
		case NG_WRITE_LONG:
		case NG_WRITE_INT:
			{
				char	   *dot = strchr(str, '.');
				int64		v;

				/* "5.000" is the integer 5; "5.5" is not an integer */
				if (dot != NULL)
				{
					char	   *p = dot + 1;

					while (*p == '0')
						p++;
					if (*p != '\0')
						ereport(ERROR,
								(errcode(ERRCODE_DATATYPE_MISMATCH),
								 errmsg("value %s of column \"%s\" is not an integer", str,
										col->attname),
								 errdetail("The column is written as BSON %s.",
										   col->write_type == NG_WRITE_LONG ? "int64" : "int32")));
					*dot = '\0';
				}
				v = pg_strtoint64(str);
				if (col->write_type == NG_WRITE_INT)
				{
					if (v < PG_INT32_MIN || v > PG_INT32_MAX)
						ereport(ERROR,
								(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
								 errmsg("value %s of column \"%s\" is out of range for BSON int32",
										str, col->attname)));
					ok = bson_append_int32(doc, key, -1, (int32) v);
				}
				else
					ok = bson_append_int64(doc, key, -1, v);
			}
			break;
		case NG_WRITE_STRING:
			ok = bson_append_utf8(doc, key, -1, str, -1);
			break;
		default:
			return append_datum(doc, key, -1, value, false, col->typid,
								col->ts_rounding);
	}
	if (!ok)
		append_failed(key, -1);
	return true;
}

/*
 * append_value
 *		Append a non-null value of base type typid, of write kind kind.
 */
static bool
append_value(bson_t *doc, const char *key, int keylen, Datum value,
			 Oid typid, ConvKind kind, NgTimestampRounding rounding)
{
	bool		ok;

	switch (kind)
	{
		case CONV_TEXT:
		case CONV_VARCHAR:
		case CONV_BPCHAR:
		case CONV_NAME:
			{
				const char *s;
				int			len;
				char	   *utf8;

				if (kind == CONV_NAME)
				{
					s = NameStr(*DatumGetName(value));
					len = strlen(s);
				}
				else
				{
					text	   *t = DatumGetTextPP(value);

					s = VARDATA_ANY(t);
					len = VARSIZE_ANY_EXHDR(t);
				}
				/* char(n)'s padding is not part of the value */
				if (kind == CONV_BPCHAR)
					while (len > 0 && s[len - 1] == ' ')
						len--;

				utf8 = pg_server_to_any(s, len, PG_UTF8);
				if (utf8 != s)
					len = strlen(utf8);
				ok = bson_append_utf8(doc, key, keylen, utf8, len);
				break;
			}

		case CONV_INT2:
			ok = bson_append_int32(doc, key, keylen, DatumGetInt16(value));
			break;
		case CONV_INT4:
			ok = bson_append_int32(doc, key, keylen, DatumGetInt32(value));
			break;
		case CONV_INT8:
			ok = bson_append_int64(doc, key, keylen, DatumGetInt64(value));
			break;
		case CONV_FLOAT4:
			ok = bson_append_double(doc, key, keylen, DatumGetFloat4(value));
			break;
		case CONV_FLOAT8:
			ok = bson_append_double(doc, key, keylen, DatumGetFloat8(value));
			break;

		case CONV_NUMERIC:
			return append_numeric(doc, key, keylen, DatumGetNumeric(value));

		case CONV_BOOL:
			ok = bson_append_bool(doc, key, keylen, DatumGetBool(value));
			break;

		case CONV_TIMESTAMPTZ:
		case CONV_TIMESTAMP:
			{
				int64		ts = DatumGetTimestamp(value);

				/*
				 * A BSON date holds milliseconds: refuse rather than round a
				 * value with microseconds, which would change an equality
				 * filter's meaning, unless the column asks for rounding.
				 */
				if (TIMESTAMP_NOT_FINITE(ts) || !round_timestamp(&ts, rounding))
					return false;
				ok = bson_append_date_time(doc, key, keylen,
										   ts / 1000 + NG_EPOCH_DIFF_MS);
				break;
			}

		case CONV_DATE:
			{
				DateADT		d = DatumGetDateADT(value);

				if (DATE_NOT_FINITE(d))
					return false;
				ok = bson_append_date_time(doc, key, keylen,
										   (int64) d * NG_MS_PER_DAY +
										   NG_EPOCH_DIFF_MS);
				break;
			}

		case CONV_OBJECTID:
			{
				bson_oid_t	oid;

				bson_oid_init_from_data(&oid,
										DatumGetNgObjectIdP(value)->data);
				ok = bson_append_oid(doc, key, keylen, &oid);
				break;
			}

		case CONV_UUID:
			ok = bson_append_binary(doc, key, keylen, BSON_SUBTYPE_UUID,
									DatumGetUUIDP(value)->data, UUID_LEN);
			break;

		case CONV_BYTEA:
			{
				bytea	   *b = DatumGetByteaPP(value);

				ok = bson_append_binary(doc, key, keylen, BSON_SUBTYPE_BINARY,
										(const uint8_t *) VARDATA_ANY(b),
										VARSIZE_ANY_EXHDR(b));
				break;
			}

		case CONV_JSON:
		case CONV_JSONB:
			return append_json(doc, key, keylen, value, kind);

		case CONV_ARRAY:
			return append_array(doc, key, keylen, DatumGetArrayTypeP(value),
								rounding);

		default:
			elog(ERROR, "unexpected write kind %d for type %u", kind, typid);
			return false;		/* keep compiler quiet */
	}

	if (!ok)
		append_failed(key, keylen);
	return true;
}

/*
 * round_timestamp
 *		Make *ts (microseconds) a whole number of milliseconds as rounding
 *		says; false if it is not one and rounding is NG_TS_ROUND_ERROR.
 *
 * "round" goes to the nearest millisecond, halves away from zero, as a cast
 * to timestamptz(3) does; "truncate" goes down (towards the past), as
 * date_trunc('milliseconds', ...) does.
 */
static bool
round_timestamp(int64 *ts, NgTimestampRounding rounding)
{
	int64		rem = *ts % 1000;

	if (rem == 0)
		return true;
	switch (rounding)
	{
		case NG_TS_ROUND_ERROR:
			return false;
		case NG_TS_ROUND_TRUNCATE:
			*ts -= rem < 0 ? rem + 1000 : rem;
			break;
		case NG_TS_ROUND_NEAREST:
			if (*ts >= 0)
				*ts = ((*ts + 500) / 1000) * 1000;
			else
				*ts = -(((-*ts) + 500) / 1000) * 1000;
			break;
	}
	return true;
}

/*
 * append_failed
 *		Raise the error for a bson_append_* call that failed, which only
 *		happens when the document would exceed BSON's size limit.
 */
static void
append_failed(const char *key, int keylen)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("could not append field \"%s\" to BSON document",
					keylen < 0 ? key : pnstrdup(key, keylen)),
			 errdetail("The document would exceed the maximum BSON size.")));
}

/*
 * append_numeric
 *		Append a numeric as decimal128, exactly.
 *
 * numeric_out's plain notation is rewritten as <digits>E<exponent> with the
 * leading zeros dropped and, when needed to fit, trailing zeros moved into
 * the exponent (1.000...0 becomes 1E+0: the same value, a smaller scale).
 * What still has more than 34 digits, or an exponent outside decimal128's
 * range, raises: rounding would silently change a filter constant or a
 * stored value.
 */
static bool
append_numeric(bson_t *doc, const char *key, int keylen, Numeric num)
{
	char	   *str;
	bson_decimal128_t dec;
	const char *p;
	bool		neg = false;
	char	   *digits;
	int			ndigits = 0;
	int			exponent = 0;
	bool		seen_point = false;
	int			first = 0;
	char	   *dstr;

	str = DatumGetCString(DirectFunctionCall1(numeric_out,
											  NumericGetDatum(num)));
	if (numeric_is_nan(num) || numeric_is_inf(num))
	{
		/* numeric_out spells these as decimal128's parser expects */
		if (!bson_decimal128_from_string(str, &dec))
			elog(ERROR, "could not convert \"%s\" to decimal128", str);
		if (!bson_append_decimal128(doc, key, keylen, &dec))
			append_failed(key, keylen);
		return true;
	}

	p = str;
	if (*p == '-')
	{
		neg = true;
		p++;
	}
	digits = palloc(strlen(p) + NG_DEC128_MAX_DIGITS + 1);
	for (; *p; p++)
	{
		if (*p == '.')
			seen_point = true;
		else
		{
			digits[ndigits++] = *p;
			if (seen_point)
				exponent--;
		}
	}

	while (first < ndigits - 1 && digits[first] == '0')
		first++;
	digits += first;
	ndigits -= first;

	if (ndigits == 1 && digits[0] == '0')
	{
		/* zero: any exponent will do; keep the scale where it fits */
		exponent = Max(exponent, NG_DEC128_MIN_EXP);
	}
	else
	{
		while ((ndigits > NG_DEC128_MAX_DIGITS ||
				exponent < NG_DEC128_MIN_EXP) &&
			   digits[ndigits - 1] == '0')
		{
			ndigits--;
			exponent++;
		}
		/* a large exponent can be traded for trailing zeros */
		while (exponent > NG_DEC128_MAX_EXP && ndigits < NG_DEC128_MAX_DIGITS)
		{
			digits[ndigits++] = '0';
			exponent--;
		}
		if (ndigits > NG_DEC128_MAX_DIGITS ||
			exponent < NG_DEC128_MIN_EXP || exponent > NG_DEC128_MAX_EXP)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("numeric value %s cannot be represented exactly as BSON decimal128",
							strlen(str) > 40 ? psprintf("%.40s...", str) : str),
					 ndigits > NG_DEC128_MAX_DIGITS ?
					 errdetail("BSON decimal128 holds at most 34 significant digits.") :
					 errdetail("The value is outside the range of BSON decimal128.")));
	}

	dstr = psprintf("%s%.*sE%d", neg ? "-" : "", ndigits, digits, exponent);
	if (!bson_decimal128_from_string(dstr, &dec))
		elog(ERROR, "could not convert \"%s\" to decimal128", dstr);
	if (!bson_append_decimal128(doc, key, keylen, &dec))
		append_failed(key, keylen);
	return true;
}

/*
 * append_json
 *		Append the value a json or jsonb Datum denotes, reading Extended JSON
 *		({"$oid": ...}, {"$date": ...}, {"$numberDecimal": ...} ...) with
 *		libbson's parser.  Returns false if the parser rejects it.
 */
static bool
append_json(bson_t *doc, const char *key, int keylen, Datum value,
			ConvKind kind)
{
	bson_t	   *tmp;
	bson_error_t error;
	bson_iter_t it;
	bool		ok;

	tmp = json_to_bson(value, kind, &error);
	if (tmp == NULL)
		return false;

	ok = bson_iter_init_find(&it, tmp, "v") &&
		bson_append_iter(doc, key, keylen, &it);
	bson_destroy(tmp);

	if (!ok)
		append_failed(key, keylen);
	return true;
}

/*
 * json_to_bson
 *		The document {"v": value} for a json or jsonb Datum, from libbson's
 *		Extended JSON parser (the caller destroys it), or NULL with *error
 *		set.
 */
static bson_t *
json_to_bson(Datum value, ConvKind kind, bson_error_t *error)
{
	char	   *json;
	char	   *wrapped;
	char	   *utf8;

	if (kind == CONV_JSON)
		json = TextDatumGetCString(value);
	else
	{
		Jsonb	   *jb = DatumGetJsonbP(value);

		json = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
	}

	/* the parser wants a document: wrap the value and take it back out */
	wrapped = psprintf("{\"v\": %s}", json);
	utf8 = pg_server_to_any(wrapped, strlen(wrapped), PG_UTF8);

	return bson_new_from_json((const uint8_t *) utf8, strlen(utf8), error);
}

/*
 * ng_column_report_unstorable
 *		Raise the error for a value of col, of foreign table relname, that
 *		ng_column_append_bson() or ng_datum_append_bson() refused, saying
 *		why: sub-millisecond digits (with a hint to round them), an infinite
 *		date, JSON nested too deeply for BSON or not valid Extended JSON, a
 *		multi-dimensional array, a type BSON has no counterpart for.
 */
void
ng_column_report_unstorable(NgColumn *col, const char *relname, Datum value)
{
	Unstorable	why;

	unstorable_reason(value, col->typid, &why);
	if (why.too_deep)
		ereport(ERROR,
				(errcode(why.sqlerrcode),
				 errmsg("value of column \"%s\" of foreign table \"%s\" is nested too deeply to be stored as BSON",
						col->attname, relname),
				 errdetail_internal("%s", why.detail)));
	ereport(ERROR,
			(errcode(why.sqlerrcode),
			 errmsg("cannot store the value of column \"%s\" of foreign table \"%s\" as BSON",
					col->attname, relname),
			 errdetail_internal("%s", why.detail),
			 why.hint != NULL ? errhint("%s", why.hint) : 0));
}

/*
 * unstorable_reason
 *		Fill *why with the reason the write direction refuses value, of
 *		type typid.  Array elements are examined one by one.
 */
static void
unstorable_reason(Datum value, Oid typid, Unstorable *why)
{
	Oid			basetype = typid;
	ConvKind	kind = classify_write_type(&basetype);

	why->sqlerrcode = ERRCODE_FDW_INVALID_DATA_TYPE;
	why->too_deep = false;
	why->hint = NULL;
	why->detail = psprintf("Values of type %s cannot be represented exactly in BSON.",
						   format_type_be(typid));

	switch (kind)
	{
		case CONV_TIMESTAMP:
		case CONV_TIMESTAMPTZ:
			if (TIMESTAMP_NOT_FINITE(DatumGetTimestamp(value)))
				why->detail = pstrdup("A BSON date cannot hold an infinite timestamp.");
			else
			{
				why->detail = psprintf("A BSON date holds milliseconds, and the value %s has microseconds.",
									   kind == CONV_TIMESTAMP
									   ? DatumGetCString(DirectFunctionCall1(timestamp_out, value))
									   : DatumGetCString(DirectFunctionCall1(timestamptz_out, value)));
				why->hint = "Round the value to milliseconds, for example with date_trunc('milliseconds', ...), or set the \"timestamp_rounding\" option of the column or table to \"round\" or \"truncate\".";
			}
			break;

		case CONV_DATE:
			if (DATE_NOT_FINITE(DatumGetDateADT(value)))
				why->detail = pstrdup("A BSON date cannot hold an infinite date.");
			break;

		case CONV_JSON:
		case CONV_JSONB:
			{
				bson_error_t error;
				bson_t	   *tmp = json_to_bson(value, kind, &error);

				if (tmp != NULL)
				{
					bson_destroy(tmp);
					break;
				}

				/*
				 * libbson's reader stops at 100 levels of nesting, which is
				 * also MongoDB's limit for a stored document.
				 */
				if (strstr(error.message, "LEVELS_EXCEEDED") != NULL)
				{
					why->too_deep = true;
					why->sqlerrcode = ERRCODE_PROGRAM_LIMIT_EXCEEDED;
					why->detail = pstrdup("BSON documents can be nested at most 100 levels deep, counting the document itself and the fields above the value.");
				}
				else
					why->detail = psprintf("The value is not valid Extended JSON: %s.",
										   error.message);
			}
			break;

		case CONV_ARRAY:
			{
				ArrayType  *arr = DatumGetArrayTypeP(value);
				Oid			elemtype = ARR_ELEMTYPE(arr);
				int16		elmlen;
				bool		elmbyval;
				char		elmalign;
				Datum	   *elems;
				bool	   *nulls;
				int			nelems;
				int			i;

				if (ARR_NDIM(arr) > 1)
				{
					why->detail = psprintf("BSON arrays have one dimension, and the value has %d.",
										   ARR_NDIM(arr));
					break;
				}
				get_typlenbyvalalign(elemtype, &elmlen, &elmbyval, &elmalign);
				deconstruct_array(arr, elemtype, elmlen, elmbyval, elmalign,
								  &elems, &nulls, &nelems);
				for (i = 0; i < nelems; i++)
				{
					bson_t		scratch;
					volatile bool ok = true;

					if (nulls[i])
						continue;
					bson_init(&scratch);
					PG_TRY();
					{
						ok = append_datum(&scratch, "0", 1, elems[i], false,
										  elemtype, NG_TS_ROUND_ERROR);
					}
					PG_FINALLY();
					{
						bson_destroy(&scratch);
					}
					PG_END_TRY();
					if (!ok)
					{
						unstorable_reason(elems[i], elemtype, why);
						break;
					}
				}
			}
			break;

		default:
			break;
	}
}

/*
 * append_array
 *		Append a one-dimensional array as a BSON array (keys "0", "1", ...).
 *
 * The elements are collected in a separate document first, so that nothing
 * is appended to doc when an element cannot be represented; it is freed
 * before any error propagates.
 */
static bool
append_array(bson_t *doc, const char *key, int keylen, ArrayType *arr,
			 NgTimestampRounding rounding)
{
	Oid			elemtype = ARR_ELEMTYPE(arr);
	Oid			basetype = elemtype;
	ConvKind	elemkind = classify_write_type(&basetype);
	int16		elmlen;
	bool		elmbyval;
	char		elmalign;
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	bson_t	   *volatile child;
	volatile bool ok = true;

	if (ARR_NDIM(arr) > 1 || elemkind == CONV_UNSUPPORTED)
		return false;

	get_typlenbyvalalign(elemtype, &elmlen, &elmbyval, &elmalign);
	deconstruct_array(arr, elemtype, elmlen, elmbyval, elmalign,
					  &elems, &nulls, &nelems);

	child = bson_new();
	PG_TRY();
	{
		int			i;

		for (i = 0; i < nelems && ok; i++)
		{
			char		buf[16];
			const char *ikey;
			int			ikeylen = bson_uint32_to_string(i, &ikey, buf,
														sizeof(buf));

			if (nulls[i])
			{
				if (!bson_append_null(child, ikey, ikeylen))
					append_failed(ikey, ikeylen);
			}
			else
				ok = append_value(child, ikey, ikeylen, elems[i], basetype,
								  elemkind, rounding);
		}
		if (ok && !bson_append_array(doc, key, keylen, child))
			append_failed(key, keylen);
	}
	PG_FINALLY();
	{
		bson_destroy(child);
	}
	PG_END_TRY();

	return ok;
}


/* ----------------------------------------------------------------
 *		What MongoDB will store
 * ----------------------------------------------------------------
 */

/*
 * A write is queued at the statement and sent after COMMIT; what the server
 * will certainly refuse must be refused at the statement, or PostgreSQL
 * keeps its side of the transaction while MongoDB never gets the document.
 * The rules below are the intersection of what the supported servers store
 * (MongoDB 4.4 to 8.x, FerretDB, Amazon DocumentDB), so that a document
 * that passes is refused only for reasons only the server knows (a unique
 * secondary index, a validator):
 *
 * - Field names must not be empty, start with "$" or contain ".".  MongoDB
 *   5.0 and later store such names in inserted documents, but its update
 *   operators cannot address them (a "$set" path is split at "." and a
 *   "$"-prefixed segment is an operator), libmongoc refuses empty keys in
 *   inserts and replacements, and FerretDB and DocumentDB refuse all three.
 *   Embedded NUL bytes cannot reach us: BSON field names are C strings, and
 *   neither text nor jsonb holds a NUL.
 * - Nesting: the document itself is level 1 and each non-empty embedded
 *   document or array adds a level (empty ones do not count); MongoDB
 *   refuses to store more than NG_MAX_DOCUMENT_DEPTH levels (with the
 *   default maxBSONDepth; its manual promises 100).
 * - The top-level _id must not be an array, a regular expression or
 *   undefined.
 * - Size (16 MB) is checked by the callers on the final document.
 *
 * Array elements are not checked for names (their keys are indexes).
 */

static bool check_level(bson_iter_t *iter, bool is_array, int level,
						StringInfo field, StringInfo path, NgUnstorable *bad);
static bool check_name(const char *key, int keylen, NgUnstorable *bad);
static bool check_update_path(const bson_t *current, const char *key,
						   bool is_set, NgUnstorable *bad);
static bool check_value(bson_iter_t *iter, int level, StringInfo field,
						StringInfo path, NgUnstorable *bad);
static void unstorable(NgUnstorable *bad, StringInfo field, StringInfo path,
					   char *reason);

/*
 * ng_bson_check_document
 *		Whether MongoDB will store doc as a whole document (an insert or a
 *		replacement); if not, *bad says where and why (palloc'd in
 *		CurrentMemoryContext) and false is returned.  Never raises for the
 *		document's content.
 */
bool
ng_bson_check_document(const bson_t *doc, NgUnstorable *bad)
{
	bson_iter_t iter;
	StringInfoData field;
	StringInfoData path;

	if (bson_iter_init_find(&iter, doc, "_id"))
	{
		const char *reason = NULL;

		switch (bson_iter_type(&iter))
		{
			case BSON_TYPE_ARRAY:
				reason = "The _id of a document cannot be an array.";
				break;
			case BSON_TYPE_REGEX:
				reason = "The _id of a document cannot be a regular expression.";
				break;
			case BSON_TYPE_UNDEFINED:
				reason = "The _id of a document cannot be undefined.";
				break;
			default:
				break;
		}
		if (reason != NULL)
		{
			initStringInfo(&field);
			initStringInfo(&path);
			appendStringInfoString(&field, "_id");
			appendStringInfoString(&path, "_id");
			unstorable(bad, &field, &path, pstrdup(reason));
			return false;
		}
	}

	if (!bson_iter_init(&iter, doc))
		elog(ERROR, "invalid BSON document");
	initStringInfo(&field);
	initStringInfo(&path);
	return check_level(&iter, false, 1, &field, &path, bad);
}

/*
 * ng_bson_check_update
 *		Whether MongoDB will apply an update document of the form
 *		{"$set": {path: value, ...}, "$unset": {path: "", ...}} to the
 *		document "current" (the version this transaction last read or wrote;
 *		NULL if unknown): every path segment must be a name MongoDB accepts,
 *		the levels the path creates plus those of the value must stay within
 *		the nesting limit, and a $set path must not go through a value that
 *		is not an embedded document, nor an $unset path through an array
 *		(check_update_path).  Returns false with
 *		*bad filled in otherwise, as ng_bson_check_document.
 */
bool
ng_bson_check_update(const bson_t *update, const bson_t *current,
					 NgUnstorable *bad)
{
	bson_iter_t op;

	if (!bson_iter_init(&op, update))
		elog(ERROR, "invalid BSON document");
	while (bson_iter_next(&op))
	{
		bson_iter_t iter;
		bool		is_set = strcmp(bson_iter_key(&op), "$set") == 0;

		if (!BSON_ITER_HOLDS_DOCUMENT(&op) || !bson_iter_recurse(&op, &iter))
			continue;
		while (bson_iter_next(&iter))
		{
			const char *key = bson_iter_key(&iter);
			StringInfoData field;
			StringInfoData path;
			int			level = 1;
			const char *seg = key;

			initStringInfo(&field);
			initStringInfo(&path);
			for (;;)
			{
				const char *dot = strchr(seg, '.');
				int			len = dot ? (int) (dot - seg) : (int) strlen(seg);

				if (field.len > 0)
				{
					appendStringInfoChar(&field, '.');
					appendStringInfoChar(&path, '.');
				}
				appendBinaryStringInfo(&field, seg, len);
				appendBinaryStringInfo(&path, seg, len);
				if (!check_name(seg, len, bad))
				{
					unstorable(bad, &field, &path, bad->reason);
					return false;
				}
				if (dot == NULL)
					break;
				/* the segment names a document holding the rest */
				if (++level > NG_MAX_DOCUMENT_DEPTH)
				{
					unstorable(bad, &field, &path,
							   psprintf("The path creates more than %d levels of nesting, which MongoDB refuses to store.",
										NG_MAX_DOCUMENT_DEPTH));
					return false;
				}
				seg = dot + 1;
			}
			if (is_set && !check_value(&iter, level, &field, &path, bad))
				return false;
			if (current != NULL &&
				!check_update_path(current, key, is_set, bad))
				return false;
		}
	}
	return true;
}

/*
 * check_level
 *		Check the members of the document or array iter walks, which is at
 *		the given level; field and path name it and are restored on return.
 */
static bool
check_level(bson_iter_t *iter, bool is_array, int level, StringInfo field,
			StringInfo path, NgUnstorable *bad)
{
	int			index = 0;

	check_stack_depth();
	while (bson_iter_next(iter))
	{
		const char *key = bson_iter_key(iter);
		int			keylen = (int) bson_iter_key_len(iter);
		int			field_len = field->len;
		int			path_len = path->len;

		if (field->len > 0)
			appendStringInfoChar(field, '.');
		appendBinaryStringInfo(field, key, keylen);
		if (is_array)
			appendStringInfo(path, "[%d]", index);
		else
		{
			if (path->len > 0)
				appendStringInfoChar(path, '.');
			appendBinaryStringInfo(path, key, keylen);
			if (!check_name(key, keylen, bad))
			{
				unstorable(bad, field, path, bad->reason);
				return false;
			}
		}
		if (!check_value(iter, level, field, path, bad))
			return false;

		field->len = field_len;
		field->data[field_len] = '\0';
		path->len = path_len;
		path->data[path_len] = '\0';
		index++;
	}
	return true;
}

/*
 * check_value
 *		Check the value iter is at, a member of a document at the given
 *		level: a non-empty document or array is one level deeper.
 */
static bool
check_value(bson_iter_t *iter, int level, StringInfo field, StringInfo path,
			NgUnstorable *bad)
{
	bson_iter_t child;
	bool		is_array = BSON_ITER_HOLDS_ARRAY(iter);
	const uint8_t *data;
	uint32_t	len;

	if (!is_array && !BSON_ITER_HOLDS_DOCUMENT(iter))
		return true;
	if (is_array)
		bson_iter_array(iter, &len, &data);
	else
		bson_iter_document(iter, &len, &data);
	if (len <= 5)
		return true;			/* empty: no level */
	if (level + 1 > NG_MAX_DOCUMENT_DEPTH)
	{
		unstorable(bad, field, path,
				   psprintf("The value is nested more than %d levels deep, which MongoDB refuses to store.",
							NG_MAX_DOCUMENT_DEPTH));
		return false;
	}
	if (!bson_iter_recurse(iter, &child))
		elog(ERROR, "invalid BSON document");
	return check_level(&child, is_array, level + 1, field, path, bad);
}

/*
 * check_update_path
 *		Whether MongoDB can $set (is_set) or $unset the dotted path "key"
 *		in the document "current", and the overlay follow it.  It walks the
 *		path and creates what is missing, but
 *		fails ("Cannot create field ... in element ...") where a proper
 *		prefix of the path holds a value that is not an embedded document:
 *		a scalar, null, or an array under a name that is not an index.
 *		Under an index (a.0.b) it would change the array element, which
 *		the overlay cannot follow and reading such a path reports as a
 *		mismatch ("crosses an array"), so that is refused too.  The last
 *		segment may hold anything, as a $set replaces it.  An $unset
 *		(is_set false) of a path under a scalar or a missing field is a
 *		no-op for MongoDB and is kept; one through an array is refused:
 *		under an index it would set the element to null, and under a name
 *		MongoDB ignores it but DocumentDB (FerretDB 2) refuses the update.
 */
static bool
check_update_path(const bson_t *current, const char *key, bool is_set,
			   NgUnstorable *bad)
{
	bson_iter_t iter;
	const char *seg = key;

	if (!bson_iter_init(&iter, current))
		elog(ERROR, "invalid BSON document");
	for (;;)
	{
		const char *dot = strchr(seg, '.');
		int			len = dot ? (int) (dot - seg) : (int) strlen(seg);
		bson_iter_t child;
		bson_type_t type;
		StringInfoData field;
		StringInfoData path;
		const char *next;
		int			nextlen;
		bool		index;
		int			i;

		if (dot == NULL || !bson_iter_find_w_len(&iter, seg, len))
			return true;		/* the last segment, or created from here */
		type = bson_iter_type(&iter);
		if (type == BSON_TYPE_DOCUMENT)
		{
			if (!bson_iter_recurse(&iter, &child))
				elog(ERROR, "invalid BSON document");
			iter = child;
			seg = dot + 1;
			continue;
		}

		/* refused (but for most $unsets): name the prefix that blocks */
		next = dot + 1;
		nextlen = strchr(next, '.') ? (int) (strchr(next, '.') - next) :
			(int) strlen(next);
		index = nextlen > 0;
		for (i = 0; i < nextlen; i++)
			if (next[i] < '0' || next[i] > '9')
				index = false;
		if (!is_set && type != BSON_TYPE_ARRAY)
			return true;
		initStringInfo(&field);
		initStringInfo(&path);
		appendStringInfoString(&field, key);
		appendStringInfoString(&path, key);
		if (type != BSON_TYPE_ARRAY)
			unstorable(bad, &field, &path,
					   psprintf("MongoDB cannot create field \"%.*s\" under \"%.*s\", which holds a value of BSON type %s, not an embedded document.",
								nextlen, next, (int) (dot - key), key,
								ng_bson_type_name(type)));
		else if (!index && is_set)
			unstorable(bad, &field, &path,
					   psprintf("MongoDB cannot create field \"%.*s\" under \"%.*s\", which holds an array.",
								nextlen, next, (int) (dot - key), key));
		else
			unstorable(bad, &field, &path,
					   psprintf("\"%.*s\" holds an array, and nutragenie writes only through embedded documents.",
								(int) (dot - key), key));
		return false;
	}
}

/*
 * check_name
 *		Whether a field name (keylen bytes) is one MongoDB accepts; if not,
 *		bad->reason says why.
 */
static bool
check_name(const char *key, int keylen, NgUnstorable *bad)
{
	if (keylen == 0)
		bad->reason = pstrdup("MongoDB field names cannot be empty.");
	else if (key[0] == '$')
		bad->reason = pstrdup("MongoDB field names cannot start with \"$\".");
	else if (memchr(key, '.', keylen) != NULL)
		bad->reason = pstrdup("MongoDB field names cannot contain \".\".");
	else
		return true;
	return false;
}

/* Fill in *bad; a path too long to read in a message is cut. */
static void
unstorable(NgUnstorable *bad, StringInfo field, StringInfo path, char *reason)
{
	bad->field = pstrdup(field->data);
	if (path->len > 100)
		bad->path = psprintf("%s...", pnstrdup(path->data,
											   pg_mbcliplen(path->data,
															path->len, 100)));
	else
		bad->path = pstrdup(path->data);
	bad->reason = reason;
}
