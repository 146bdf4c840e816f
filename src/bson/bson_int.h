/*-------------------------------------------------------------------------
 *
 * bson_int.h
 *		  What the files of the BSON layer share among themselves.
 *
 * The column-type classification (a "kind" per type, stored in
 * NgConverter.kind) is common to the read map (bson_read.c) and the write
 * map (bson_write.c); the Extended JSON renderer (extjson.c) uses the read
 * map's string and numeric helpers.  Nothing outside src/bson/ includes
 * this header.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/bson/bson_int.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef NG_BSON_INT_H
#define NG_BSON_INT_H

#include "bson/bson_map.h"

#include "datatype/timestamp.h"
#include "utils/numeric.h"

/*
 * What a column type converts as.  Stored in NgConverter.kind.
 *
 * Kinds that do not use a type input function borrow NgConverter.infunc's
 * fn_extra and fn_mcxt for their own per-scan cache: CONV_NUMERIC keeps the
 * typmod's magnitude bound there, CONV_DOMAIN keeps domain_check's cache.
 */
typedef enum NgConvKind
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
} NgConvKind;

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

/* in bson_read.c */
extern NgConvKind ng_bson_classify_type(Oid typid);
pg_noreturn extern void ng_bson_report_corrupt(void);
extern const char *ng_bson_server_string(const char *s, int len,
										 int *outlen);
extern Numeric ng_bson_cstring_to_numeric(const char *str);

/* in extjson.c */
extern Datum ng_extjson_datum(NgJsonMode mode, bool as_text,
							  const bson_value_t *v, const uint8_t *docdata,
							  uint32_t doclen);

#endif							/* NG_BSON_INT_H */
