/*-------------------------------------------------------------------------
 *
 * filter_value.c
 *		  The operand values of filters: Datums converted to the BSON values
 *		  MongoDB compares, or placeholders for EXPLAIN.
 *
 * Conversions refuse what MongoDB would not compare as PostgreSQL does
 * (numeric beyond 2^53, timestamps with sub-millisecond digits ...): the
 * caller then keeps the condition local.  Everything is palloc'd; nothing
 * here touches libbson's allocator.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/plan/filter_value.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/uuid.h"

#include "plan/filter.h"

static void hex_to_oid(const char *hex, bson_oid_t *oid);


/* ------------------------------------------------------------------------
 * Values
 * ------------------------------------------------------------------------
 */

bool
ng_datum_to_int64(Datum datum, Oid typid, int64 *result)
{
	switch (typid)
	{
		case INT2OID:
			*result = DatumGetInt16(datum);
			return true;
		case INT4OID:
			*result = DatumGetInt32(datum);
			return true;
		case INT8OID:
			*result = DatumGetInt64(datum);
			return true;
		default:
			return false;
	}
}

/*
 * An integral numeric with |v| <= 2^53 as int64; false for anything else
 * (fractions, NaN, infinities, large values).  Works on the text form so
 * it cannot throw on unusual values.
 */
bool
ng_numeric_to_int64(Datum datum, int64 *result)
{
	char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out, datum));
	char	   *p = s;
	char	   *digits;
	int64		v = 0;
	bool		neg = false;

	if (*p == '-')
	{
		neg = true;
		p++;
	}
	digits = p;
	while (*p >= '0' && *p <= '9')
	{
		v = v * 10 + (*p - '0');
		if (v > NG_MAX_EXACT_DOUBLE_INT)
			return false;
		p++;
	}
	if (p == digits)
		return false;			/* NaN, Infinity */
	if (*p == '.')
	{
		p++;
		while (*p == '0')
			p++;
	}
	if (*p != '\0')
		return false;
	*result = neg ? -v : v;
	return true;
}

/* A text datum as a palloc'd UTF-8 string. */
char *
ng_datum_to_utf8(Datum datum)
{
	char	   *s = TextDatumGetCString(datum);

	return pg_server_to_any(s, strlen(s), PG_UTF8);
}

/*
 * Reduce a LIKE pattern (default escape '\') to a literal, or a literal
 * prefix followed only by '%'.  The literal is returned in UTF-8.  False
 * for '_', '%' before the end, or a trailing escape character (which LIKE
 * rejects).
 */
bool
ng_like_pattern_parse(const char *pattern, NgPatternKind *kind, char **literal)
{
	StringInfoData buf;
	const char *p = pattern;

	initStringInfo(&buf);
	*kind = NG_PAT_EQUAL;
	while (*p)
	{
		int			clen = pg_mblen(p);

		if (*p == '\\')
		{
			p++;
			if (*p == '\0')
				return false;
			clen = pg_mblen(p);
			appendBinaryStringInfo(&buf, p, clen);
			p += clen;
			continue;
		}
		if (*p == '_')
			return false;
		if (*p == '%')
		{
			while (*p == '%')
				p++;
			if (*p != '\0')
				return false;
			*kind = NG_PAT_PREFIX;
			break;
		}
		appendBinaryStringInfo(&buf, p, clen);
		p += clen;
	}
	*literal = pg_server_to_any(buf.data, buf.len, PG_UTF8);
	return true;
}

/*
 * "^" and the literal with every ASCII character other than a letter or
 * digit escaped with a backslash.  Both PCRE (MongoDB) and RE2 treat an
 * escaped non-alphanumeric ASCII character as itself; other bytes (UTF-8
 * sequences) are literals already.
 */
char *
ng_regex_escape_prefix(const char *literal)
{
	StringInfoData buf;
	const unsigned char *p;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '^');
	for (p = (const unsigned char *) literal; *p; p++)
	{
		if (*p < 0x80 && !((*p >= '0' && *p <= '9') ||
						   (*p >= 'a' && *p <= 'z') ||
						   (*p >= 'A' && *p <= 'Z')))
			appendStringInfoChar(&buf, '\\');
		appendStringInfoChar(&buf, (char) *p);
	}
	return buf.data;
}

/* Exactly 24 lowercase hex digits: how a text column reads an ObjectId. */
bool
ng_is_objectid_hex(const char *s, size_t len)
{
	size_t		i;

	if (len != NG_OID_HEX_LEN)
		return false;
	for (i = 0; i < len; i++)
	{
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return true;
}

/* Could an ObjectId's hex form start with s? */
bool
ng_is_hex_prefix(const char *s)
{
	size_t		len = strlen(s);

	return len <= NG_OID_HEX_LEN &&
		strspn(s, "0123456789abcdef") == len;
}

/* 24 lowercase hex digits to an ObjectId. */
static void
hex_to_oid(const char *hex, bson_oid_t *oid)
{
	int			i;

	for (i = 0; i < NG_OBJECTID_LEN; i++)
	{
		int			hi = hex[2 * i];
		int			lo = hex[2 * i + 1];

		hi = (hi <= '9') ? hi - '0' : hi - 'a' + 10;
		lo = (lo <= '9') ? lo - '0' : lo - 'a' + 10;
		oid->bytes[i] = (uint8) ((hi << 4) | lo);
	}
}

NgFilterValue *
ng_value_placeholder(NgValueRef *val, const char *derived)
{
	NgFilterValue *v = palloc0(sizeof(NgFilterValue));

	v->label = val->label ? val->label : "expr";
	v->derived = derived;
	return v;
}

NgFilterValue *
ng_value_int64(int64 i)
{
	NgFilterValue *v = palloc0(sizeof(NgFilterValue));

	v->value.value_type = BSON_TYPE_INT64;
	v->value.value.v_int64 = i;
	return v;
}

NgFilterValue *
ng_value_double(double d)
{
	NgFilterValue *v = palloc0(sizeof(NgFilterValue));

	v->value.value_type = BSON_TYPE_DOUBLE;
	v->value.value.v_double = d;
	return v;
}

NgFilterValue *
ng_value_utf8(const char *s)
{
	NgFilterValue *v = palloc0(sizeof(NgFilterValue));

	v->value.value_type = BSON_TYPE_UTF8;
	v->value.value.v_utf8.str = pstrdup(s);
	v->value.value.v_utf8.len = strlen(s);
	return v;
}

NgFilterValue *
ng_value_oid_hex(const char *hex)
{
	NgFilterValue *v = palloc0(sizeof(NgFilterValue));

	v->value.value_type = BSON_TYPE_OID;
	hex_to_oid(hex, &v->value.value.v_oid);
	return v;
}

NgFilterValue *
ng_value_oid_bytes(const uint8 *bytes)
{
	NgFilterValue *v = palloc0(sizeof(NgFilterValue));

	v->value.value_type = BSON_TYPE_OID;
	memcpy(v->value.value.v_oid.bytes, bytes, NG_OBJECTID_LEN);
	return v;
}

NgFilterValue *
ng_value_bool(bool b)
{
	NgFilterValue *v = palloc0(sizeof(NgFilterValue));

	v->value.value_type = BSON_TYPE_BOOL;
	v->value.value.v_bool = b;
	return v;
}

NgFilterValue *
ng_value_null(void)
{
	NgFilterValue *v = palloc0(sizeof(NgFilterValue));

	v->value.value_type = BSON_TYPE_NULL;
	return v;
}

NgFilterValue *
ng_value_date(int64 ms)
{
	NgFilterValue *v = palloc0(sizeof(NgFilterValue));

	v->value.value_type = BSON_TYPE_DATE_TIME;
	v->value.value.v_datetime = ms;
	return v;
}

NgFilterValue *
ng_value_uuid(const pg_uuid_t *uuid)
{
	NgFilterValue *v = palloc0(sizeof(NgFilterValue));
	uint8	   *data = palloc(UUID_LEN);

	memcpy(data, uuid->data, UUID_LEN);
	v->value.value_type = BSON_TYPE_BINARY;
	v->value.value.v_binary.subtype = BSON_SUBTYPE_UUID;
	v->value.value.v_binary.data = data;
	v->value.value.v_binary.data_len = UUID_LEN;
	return v;
}

/* A copy of v, with what it points to, in the current memory context. */
NgFilterValue *
ng_value_copy(const NgFilterValue *v)
{
	NgFilterValue *c = palloc(sizeof(NgFilterValue));

	memcpy(c, v, sizeof(NgFilterValue));
	if (v->label != NULL)
		c->label = pstrdup(v->label);
	if (v->derived != NULL)
		c->derived = pstrdup(v->derived);
	if (v->label == NULL && v->value.value_type == BSON_TYPE_UTF8)
		c->value.value.v_utf8.str = pnstrdup(v->value.value.v_utf8.str,
											 v->value.value.v_utf8.len);
	else if (v->label == NULL && v->value.value_type == BSON_TYPE_BINARY)
	{
		uint8	   *data = palloc(v->value.value.v_binary.data_len + 1);

		memcpy(data, v->value.value.v_binary.data,
			   v->value.value.v_binary.data_len);
		c->value.value.v_binary.data = data;
	}
	return c;
}
