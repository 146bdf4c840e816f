/*-------------------------------------------------------------------------
 *
 * bson_read.c
 *		  The read map: BSON values to PostgreSQL Datums.
 *
 * The read direction is exact: a BSON value is accepted by a column only when
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
 * UTF8); libbson does not check it when iterating.  json and jsonb columns
 * are rendered by extjson.c.
 *
 * This file and bson_write.c are the only ones that know the type map
 * (ng_bson_classify_type is shared with the write direction).  Results are
 * palloc'd in CurrentMemoryContext.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/bson/bson_read.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

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

#include "bson/bson_int.h"

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
static int	numeric_to_int64(Numeric num, int64 *val);
static int	numeric_typmod_scale(int32 typmod);
static Numeric numeric_typmod_bound(int32 typmod);

/* ----------------------------------------------------------------
 *		Type classification
 * ----------------------------------------------------------------
 */

/*
 * ng_bson_classify_type
 *		The read-direction kind of a column type, or CONV_UNSUPPORTED.
 *
 * Arrays and domains are supported when their element or base type is.
 * Composite and pseudo-types are not: no BSON value maps to them yet.
 * Every other type is read from a BSON string through its input function.
 */
NgConvKind
ng_bson_classify_type(Oid typid)
{
	HeapTuple	tup;
	Form_pg_type typform;
	NgConvKind	kind;

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
		kind = ng_bson_classify_type(typform->typbasetype) != CONV_UNSUPPORTED ?
			CONV_DOMAIN : CONV_UNSUPPORTED;
	else if (typform->typtype == TYPTYPE_PSEUDO ||
			 typform->typtype == TYPTYPE_COMPOSITE)
		kind = CONV_UNSUPPORTED;
	else if (IsTrueArrayType(typform))
		kind = ng_bson_classify_type(typform->typelem) != CONV_UNSUPPORTED ?
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
	return ng_bson_classify_type(typid) != CONV_UNSUPPORTED;
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
	NgConvKind	kind = ng_bson_classify_type(typid);

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
	bson_iter_t it;

	/*
	 * The common pairs of BSON type and column type, read straight from the
	 * iterator; each gives what convert_value gives for the decoded value.
	 */
	switch (bson_iter_type(iter))
	{
		case BSON_TYPE_UTF8:
			if (conv->kind == CONV_TEXT)
			{
				uint32		len;
				const char *str = bson_iter_utf8(iter, &len);
				int			outlen;

				str = ng_bson_server_string(str, (int) len, &outlen);
				*isnull = false;
				return PointerGetDatum(cstring_to_text_with_len(str, outlen));
			}
			break;
		case BSON_TYPE_INT32:
			if (conv->kind == CONV_INT4)
			{
				*isnull = false;
				return Int32GetDatum(bson_iter_int32(iter));
			}
			if (conv->kind == CONV_INT8)
			{
				*isnull = false;
				return Int64GetDatum((int64) bson_iter_int32(iter));
			}
			break;
		case BSON_TYPE_INT64:
			if (conv->kind == CONV_INT8)
			{
				*isnull = false;
				return Int64GetDatum(bson_iter_int64(iter));
			}
			break;
		case BSON_TYPE_DOUBLE:
			if (conv->kind == CONV_FLOAT8)
			{
				*isnull = false;
				return Float8GetDatum(bson_iter_double(iter));
			}
			break;
		case BSON_TYPE_BOOL:
			if (conv->kind == CONV_BOOL)
			{
				*isnull = false;
				return BoolGetDatum(bson_iter_bool(iter));
			}
			break;
		case BSON_TYPE_NULL:
		case BSON_TYPE_UNDEFINED:
			*isnull = true;
			return (Datum) 0;
		default:
			break;
	}

	/* bson_iter_value wants an iterator it may write to */
	it = *iter;
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
	switch ((NgConvKind) conv->kind)
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

	switch ((NgConvKind) conv->kind)
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
 * ng_bson_report_corrupt
 *		Raise an error for BSON data that libbson cannot iterate.
 */
void
ng_bson_report_corrupt(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("invalid BSON document")));
}

/*
 * is_plain_ascii
 *		Whether s[0..len) is all ASCII without NUL bytes: most strings are,
 *		and they need no further UTF-8 check.  Sixteen bytes at a time with
 *		SSE2 (every x86-64 has it), eight otherwise.
 */
static inline bool
is_plain_ascii(const char *s, int len)
{
	const char *end = s + len;

#ifdef __SSE2__
	const __m128i zero = _mm_setzero_si128();

	while (end - s >= 16)
	{
		__m128i		v = _mm_loadu_si128((const __m128i *) s);

		/* a high bit set, or a zero byte */
		if (_mm_movemask_epi8(_mm_or_si128(v, _mm_cmpeq_epi8(v, zero))) != 0)
			return false;
		s += 16;
	}
#endif
	while (end - s >= 8)
	{
		uint64		w;

		memcpy(&w, s, 8);
		if ((w | ((w - UINT64CONST(0x0101010101010101)) & ~w)) &
			UINT64CONST(0x8080808080808080))
			return false;
		s += 8;
	}
	while (s < end)
	{
		if ((unsigned char) ((unsigned char) *s - 1) >= 0x7F)
			return false;
		s++;
	}
	return true;
}

/*
 * ng_bson_server_string
 *		Check a UTF-8 string from BSON and return it in the server encoding.
 *
 * s need not be NUL-terminated; the result is NUL-terminated only if it is
 * a converted copy (then *outlen is its length).  With a UTF8 server, this
 * is just validation and returns s.  Raises
 * ERRCODE_CHARACTER_NOT_IN_REPERTOIRE for invalid UTF-8 (including NUL
 * bytes), or an error for characters the server encoding lacks.
 */
const char *
ng_bson_server_string(const char *s, int len, int *outlen)
{
	char	   *converted;

	if (likely(GetDatabaseEncoding() == PG_UTF8))
	{
		/* plain ASCII without NULs is valid; anything else is checked fully */
		if (!is_plain_ascii(s, len))
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
		s = ng_bson_server_string(v->value.v_utf8.str, v->value.v_utf8.len, &len);
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
	return ng_bson_cstring_to_numeric(str);
}

/*
 * ng_bson_cstring_to_numeric
 *		numeric_in without a typmod.
 */
Numeric
ng_bson_cstring_to_numeric(const char *str)
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
	return ng_bson_cstring_to_numeric(buf);
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
					num = ng_bson_cstring_to_numeric("NaN");
				else if (isinf(d))
					num = ng_bson_cstring_to_numeric(d > 0 ? "Infinity" : "-Infinity");
				else
				{
					double_to_shortest_decimal_buf(d, buf);
					num = ng_bson_cstring_to_numeric(buf);
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
		ng_bson_report_corrupt();

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
		ng_bson_report_corrupt();

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

	s = ng_bson_server_string(v->value.v_utf8.str, v->value.v_utf8.len, &len);
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
	return ng_extjson_datum(conv->json_mode, conv->kind == CONV_JSON,
							v, docdata, doclen);
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
