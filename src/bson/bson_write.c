/*-------------------------------------------------------------------------
 *
 * bson_write.c
 *		  The write map: PostgreSQL Datums to BSON values.
 *
 * The write direction (Datum to BSON, for pushed-down constants and writes)
 * is the inverse of the read map in bson_read.c; it refuses (returns false
 * for) values that BSON cannot hold exactly, such as timestamps with
 * sub-millisecond digits.  bson_check.c says whether MongoDB will store a
 * document or apply an update built this way.
 *
 * Nothing here allocates with libbson's allocator except the JSON parsing
 * and temporary array documents, which are freed before any error is
 * raised.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/bson/bson_write.c
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

#include "bson/bson_int.h"

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

static NgConvKind classify_write_type(Oid *typid);
static bool append_value(bson_t *doc, const char *key, int keylen,
						 Datum value, Oid typid, NgConvKind kind,
						 NgTimestampRounding rounding);
static bool append_datum(bson_t *doc, const char *key, int keylen,
						 Datum value, bool isnull, Oid typid,
						 NgTimestampRounding rounding);
static bool round_timestamp(int64 *ts, NgTimestampRounding rounding);
static bool append_numeric(bson_t *doc, const char *key, int keylen,
						   Numeric num);
static bool append_json(bson_t *doc, const char *key, int keylen,
						Datum value, NgConvKind kind);
static bool append_array(bson_t *doc, const char *key, int keylen,
						 ArrayType *arr, NgTimestampRounding rounding);
static void unstorable_reason(Datum value, Oid typid, Unstorable *why);
static bson_t *json_to_bson(Datum value, NgConvKind kind, bson_error_t *error);
pg_noreturn static void append_failed(const char *key, int keylen);

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
static NgConvKind
classify_write_type(Oid *typid)
{
	NgConvKind	kind = ng_bson_classify_type(*typid);

	if (kind == CONV_DOMAIN)
	{
		*typid = getBaseType(*typid);
		kind = ng_bson_classify_type(*typid);
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
	NgConvKind	kind = classify_write_type(&typid);

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
			 Oid typid, NgConvKind kind, NgTimestampRounding rounding)
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
			NgConvKind kind)
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
json_to_bson(Datum value, NgConvKind kind, bson_error_t *error)
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
	NgConvKind	kind = classify_write_type(&basetype);

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
	NgConvKind	elemkind = classify_write_type(&basetype);
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
