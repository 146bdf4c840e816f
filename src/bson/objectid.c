/*-------------------------------------------------------------------------
 *
 * objectid.c
 *		  The objectid SQL type: a 12-byte MongoDB ObjectId.
 *
 * An objectid is stored as the 12 raw bytes of the ObjectId (NgObjectId in
 * nutragenie.h): fixed length, passed by reference, char alignment, plain
 * storage.  Its text form is 24 hexadecimal digits, accepted in either case
 * and always printed in lower case; its binary (send/recv) form is the 12
 * bytes unchanged.  Values compare with memcmp(), which is exactly MongoDB's
 * ObjectId order (unsigned bytes, most significant first), so a range
 * condition means the same thing on both sides and may be pushed down.  The
 * first four bytes are the big-endian count of seconds since the Unix epoch
 * at which the id was made; objectid_timestamp() and
 * objectid_from_timestamp() convert between that and timestamptz.
 *
 * Other files find the type through ng_objectid_typoid(), which looks it up
 * in the extension's schema and caches the OID until a pg_type invalidation
 * says it may have changed (the extension can be dropped and created again
 * within one session).
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/bson/objectid.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <string.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/sortsupport.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include <bson/bson.h>

#include "nutragenie.h"

/* Number of hexadecimal digits in the text form. */
#define NG_OBJECTID_HEX_LEN (NG_OBJECTID_LEN * 2)

/*
 * The timestamps an ObjectId can hold, in PostgreSQL's microseconds since
 * 2000-01-01: [1970-01-01 00:00:00, 2106-02-07 06:28:16).  Both bounds fit
 * in int64 with room to spare, so comparing against them cannot overflow.
 */
#define NG_UNIX_EPOCH_TS \
	((TimestampTz) (UNIX_EPOCH_JDATE - POSTGRES_EPOCH_JDATE) * USECS_PER_DAY)
#define NG_OBJECTID_TS_END \
	(NG_UNIX_EPOCH_TS + (TimestampTz) (UINT64CONST(1) << 32) * USECS_PER_SEC)

/* Cached type OIDs; InvalidOid means "look it up again". */
static Oid	objectid_oid = InvalidOid;
static Oid	objectid_array_oid = InvalidOid;
static uint32 objectid_oid_hash = 0;
static uint32 objectid_array_oid_hash = 0;
static bool objectid_callback_registered = false;

static int	decode_hex_digit(char c);
static inline int compare_args(FunctionCallInfo fcinfo);
static void lookup_objectid_type(void);
static void invalidate_type_cache(Datum arg, int cacheid, uint32 hashvalue);
static int	compare_datums(Datum x, Datum y, SortSupport ssup);


/*
 * Value of one hexadecimal digit, or -1 if c is not one.
 */
static int
decode_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * objectid_in
 *		Parse exactly 24 hexadecimal digits, either case, nothing else.
 *
 * Surrounding whitespace is refused as well: MongoDB never prints any.
 */
PG_FUNCTION_INFO_V1(objectid_in);
Datum
objectid_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	NgObjectId *result;
	int			i;

	if (strlen(str) != NG_OBJECTID_HEX_LEN)
		goto syntax_error;

	result = (NgObjectId *) palloc(sizeof(NgObjectId));
	for (i = 0; i < NG_OBJECTID_LEN; i++)
	{
		int			hi = decode_hex_digit(str[2 * i]);
		int			lo = decode_hex_digit(str[2 * i + 1]);

		if (hi < 0 || lo < 0)
			goto syntax_error;
		result->data[i] = (uint8) ((hi << 4) | lo);
	}

	PG_RETURN_NGOBJECTID_P(result);

syntax_error:
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type %s: \"%s\"",
					"objectid", str),
			 errdetail("An ObjectId is 24 hexadecimal digits.")));
}

/*
 * objectid_out
 *		24 lower-case hexadecimal digits, as MongoDB prints them.
 */
PG_FUNCTION_INFO_V1(objectid_out);
Datum
objectid_out(PG_FUNCTION_ARGS)
{
	NgObjectId *oid = PG_GETARG_NGOBJECTID_P(0);
	static const char hexdigits[] = "0123456789abcdef";
	char	   *result = palloc(NG_OBJECTID_HEX_LEN + 1);
	int			i;

	for (i = 0; i < NG_OBJECTID_LEN; i++)
	{
		result[2 * i] = hexdigits[oid->data[i] >> 4];
		result[2 * i + 1] = hexdigits[oid->data[i] & 0x0F];
	}
	result[NG_OBJECTID_HEX_LEN] = '\0';

	PG_RETURN_CSTRING(result);
}

/*
 * objectid_recv
 *		Binary input: exactly the 12 bytes of the ObjectId.
 *
 * The whole remaining message must be those 12 bytes; anything shorter or
 * longer is an error rather than a silently truncated value.
 */
PG_FUNCTION_INFO_V1(objectid_recv);
Datum
objectid_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			len = buf->len - buf->cursor;
	NgObjectId *result;

	if (len != NG_OBJECTID_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid length in external \"%s\" value", "objectid"),
				 errdetail("An ObjectId is %d bytes, but %d were received.",
						   NG_OBJECTID_LEN, len)));

	result = (NgObjectId *) palloc(sizeof(NgObjectId));
	memcpy(result->data, pq_getmsgbytes(buf, NG_OBJECTID_LEN), NG_OBJECTID_LEN);

	PG_RETURN_NGOBJECTID_P(result);
}

/*
 * objectid_send
 *		Binary output: the 12 bytes of the ObjectId.
 */
PG_FUNCTION_INFO_V1(objectid_send);
Datum
objectid_send(PG_FUNCTION_ARGS)
{
	NgObjectId *oid = PG_GETARG_NGOBJECTID_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbytes(&buf, (const char *) oid->data, NG_OBJECTID_LEN);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/*
 * Compare the two objectid arguments of a comparison function.  memcmp()
 * compares unsigned bytes from the first, which is how MongoDB orders
 * ObjectIds, so no byte swapping is needed.
 */
static inline int
compare_args(FunctionCallInfo fcinfo)
{
	return memcmp(PG_GETARG_NGOBJECTID_P(0)->data,
				  PG_GETARG_NGOBJECTID_P(1)->data, NG_OBJECTID_LEN);
}

PG_FUNCTION_INFO_V1(objectid_eq);
Datum
objectid_eq(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(compare_args(fcinfo) == 0);
}

PG_FUNCTION_INFO_V1(objectid_ne);
Datum
objectid_ne(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(compare_args(fcinfo) != 0);
}

PG_FUNCTION_INFO_V1(objectid_lt);
Datum
objectid_lt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(compare_args(fcinfo) < 0);
}

PG_FUNCTION_INFO_V1(objectid_le);
Datum
objectid_le(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(compare_args(fcinfo) <= 0);
}

PG_FUNCTION_INFO_V1(objectid_gt);
Datum
objectid_gt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(compare_args(fcinfo) > 0);
}

PG_FUNCTION_INFO_V1(objectid_ge);
Datum
objectid_ge(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(compare_args(fcinfo) >= 0);
}

/*
 * objectid_cmp
 *		btree support function 1: -1, 0 or 1.
 */
PG_FUNCTION_INFO_V1(objectid_cmp);
Datum
objectid_cmp(PG_FUNCTION_ARGS)
{
	int			cmp = compare_args(fcinfo);

	PG_RETURN_INT32(cmp < 0 ? -1 : (cmp > 0 ? 1 : 0));
}

/*
 * Comparator installed by objectid_sortsupport: the same memcmp() without
 * the fmgr call overhead.
 */
static int
compare_datums(Datum x, Datum y, SortSupport ssup)
{
	return memcmp(DatumGetNgObjectIdP(x)->data, DatumGetNgObjectIdP(y)->data,
				  NG_OBJECTID_LEN);
}

/*
 * objectid_sortsupport
 *		btree support function 2.
 *
 * XXX: no abbreviated keys.  The first eight bytes would make one, but
 * ids made by one process within one second share all eight of them (only
 * the trailing counter differs), which is the common bulk-load case, so the
 * abbreviation would mostly add a tie-break cost.
 */
PG_FUNCTION_INFO_V1(objectid_sortsupport);
Datum
objectid_sortsupport(PG_FUNCTION_ARGS)
{
	SortSupport ssup = (SortSupport) PG_GETARG_POINTER(0);

	ssup->comparator = compare_datums;
	PG_RETURN_VOID();
}

/*
 * objectid_hash
 *		hash support function 1.
 */
PG_FUNCTION_INFO_V1(objectid_hash);
Datum
objectid_hash(PG_FUNCTION_ARGS)
{
	NgObjectId *oid = PG_GETARG_NGOBJECTID_P(0);

	return hash_any(oid->data, NG_OBJECTID_LEN);
}

/*
 * objectid_hash_extended
 *		hash support function 2: 64-bit hash with a seed (hash partitioning).
 */
PG_FUNCTION_INFO_V1(objectid_hash_extended);
Datum
objectid_hash_extended(PG_FUNCTION_ARGS)
{
	NgObjectId *oid = PG_GETARG_NGOBJECTID_P(0);

	return hash_any_extended(oid->data, NG_OBJECTID_LEN,
							 PG_GETARG_INT64(1));
}

/*
 * objectid_generate
 *		A new ObjectId from libbson's default context.
 *
 * libbson puts the current time, five random bytes per process and a
 * counter into it.  The default context notices a change of process id and
 * draws new random bytes, so backends forked from one postmaster do not
 * share them.
 */
PG_FUNCTION_INFO_V1(objectid_generate);
Datum
objectid_generate(PG_FUNCTION_ARGS)
{
	bson_oid_t	oid;
	NgObjectId *result;

	bson_oid_init(&oid, NULL);

	StaticAssertStmt(sizeof(oid.bytes) == NG_OBJECTID_LEN,
					 "bson_oid_t and NgObjectId differ in size");
	result = (NgObjectId *) palloc(sizeof(NgObjectId));
	memcpy(result->data, oid.bytes, NG_OBJECTID_LEN);

	PG_RETURN_NGOBJECTID_P(result);
}

/*
 * objectid_timestamp
 *		The creation time held in the first four bytes (whole seconds).
 *
 * The seconds are unsigned, as in libbson's bson_oid_get_time_t, so every
 * value maps to a time between 1970 and 2106; it cannot fail.
 */
PG_FUNCTION_INFO_V1(objectid_timestamp);
Datum
objectid_timestamp(PG_FUNCTION_ARGS)
{
	NgObjectId *oid = PG_GETARG_NGOBJECTID_P(0);
	uint32		secs;

	secs = ((uint32) oid->data[0] << 24) |
		((uint32) oid->data[1] << 16) |
		((uint32) oid->data[2] << 8) |
		(uint32) oid->data[3];

	PG_RETURN_TIMESTAMPTZ(time_t_to_timestamptz((pg_time_t) secs));
}

/*
 * objectid_from_timestamp
 *		The smallest ObjectId of the second containing the given time: the
 *		four timestamp bytes followed by eight zero bytes.
 *
 * "_id >= objectid_from_timestamp(a) AND _id < objectid_from_timestamp(b)"
 * selects the ids made in [a, b) when a and b are whole seconds.  Fractions
 * of a second are truncated toward the past.  Raises an error for infinite
 * times and times an ObjectId cannot hold.
 */
PG_FUNCTION_INFO_V1(objectid_from_timestamp);
Datum
objectid_from_timestamp(PG_FUNCTION_ARGS)
{
	TimestampTz ts = PG_GETARG_TIMESTAMPTZ(0);
	NgObjectId *result;
	uint32		secs;

	if (TIMESTAMP_NOT_FINITE(ts) ||
		ts < NG_UNIX_EPOCH_TS || ts >= NG_OBJECTID_TS_END)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range for type %s", "objectid"),
				 errdetail("An ObjectId holds times from 1970-01-01 00:00:00+00 to 2106-02-07 06:28:15+00.")));

	/* ts is past the Unix epoch, so dividing truncates toward the past */
	secs = (uint32) ((ts - NG_UNIX_EPOCH_TS) / USECS_PER_SEC);

	result = (NgObjectId *) palloc0(sizeof(NgObjectId));
	result->data[0] = (uint8) (secs >> 24);
	result->data[1] = (uint8) (secs >> 16);
	result->data[2] = (uint8) (secs >> 8);
	result->data[3] = (uint8) secs;

	PG_RETURN_NGOBJECTID_P(result);
}

/*
 * objectid_to_bytea
 *		The 12 bytes of the ObjectId as a bytea (explicit cast).
 */
PG_FUNCTION_INFO_V1(objectid_to_bytea);
Datum
objectid_to_bytea(PG_FUNCTION_ARGS)
{
	NgObjectId *oid = PG_GETARG_NGOBJECTID_P(0);
	bytea	   *result = (bytea *) palloc(VARHDRSZ + NG_OBJECTID_LEN);

	SET_VARSIZE(result, VARHDRSZ + NG_OBJECTID_LEN);
	memcpy(VARDATA(result), oid->data, NG_OBJECTID_LEN);

	PG_RETURN_BYTEA_P(result);
}

/*
 * objectid_from_bytea
 *		A bytea of exactly 12 bytes as an ObjectId (explicit cast).
 */
PG_FUNCTION_INFO_V1(objectid_from_bytea);
Datum
objectid_from_bytea(PG_FUNCTION_ARGS)
{
	bytea	   *raw = PG_GETARG_BYTEA_PP(0);
	int			len = VARSIZE_ANY_EXHDR(raw);
	NgObjectId *result;

	if (len != NG_OBJECTID_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_LENGTH_MISMATCH),
				 errmsg("cannot cast bytea of length %d to type %s",
						len, "objectid"),
				 errdetail("An ObjectId is %d bytes.", NG_OBJECTID_LEN)));

	result = (NgObjectId *) palloc(sizeof(NgObjectId));
	memcpy(result->data, VARDATA_ANY(raw), NG_OBJECTID_LEN);

	PG_RETURN_NGOBJECTID_P(result);
}

/*
 * Syscache callback on TYPEOID: forget the cached OIDs when their pg_type
 * rows change or go away (DROP EXTENSION), or on a full cache reset
 * (hashvalue 0).  Other types' invalidations leave the cache alone.
 */
static void
invalidate_type_cache(Datum arg, int cacheid, uint32 hashvalue)
{
	if (hashvalue == 0 ||
		hashvalue == objectid_oid_hash ||
		hashvalue == objectid_array_oid_hash)
	{
		objectid_oid = InvalidOid;
		objectid_array_oid = InvalidOid;
	}
}

/*
 * The schema the nutragenie_fdw extension was installed into (the DBA's
 * choice), or InvalidOid when it is not installed.
 */
static Oid
extension_schema(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			nspid = InvalidOid;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum(NG_EXTENSION_NAME));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		nspid = ((Form_pg_extension) GETSTRUCT(tup))->extnamespace;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return nspid;
}

/*
 * Look up the type objectid of the nutragenie_fdw extension (in the
 * extension's schema) and its array type and fill the cache.  Raises an
 * error if the extension is not installed.  Needs a transaction.
 */
static void
lookup_objectid_type(void)
{
	Oid			nspid;
	Oid			typid = InvalidOid;
	Oid			arrayid = InvalidOid;

	if (!objectid_callback_registered)
	{
		CacheRegisterSyscacheCallback(TYPEOID, invalidate_type_cache,
									  (Datum) 0);
		objectid_callback_registered = true;
	}

	nspid = extension_schema();
	if (OidIsValid(nspid))
		typid = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
								CStringGetDatum("objectid"),
								ObjectIdGetDatum(nspid));
	if (OidIsValid(typid))
		arrayid = get_array_type(typid);

	if (!OidIsValid(typid) || !OidIsValid(arrayid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("type \"objectid\" of extension \"%s\" does not exist", NG_EXTENSION_NAME),
				 errhint("Install the extension with CREATE EXTENSION %s.", NG_EXTENSION_NAME)));

	/* Set the hashes first: the callback compares against them. */
	objectid_oid_hash = GetSysCacheHashValue1(TYPEOID,
											  ObjectIdGetDatum(typid));
	objectid_array_oid_hash = GetSysCacheHashValue1(TYPEOID,
													ObjectIdGetDatum(arrayid));
	objectid_oid = typid;
	objectid_array_oid = arrayid;
}

/*
 * ng_objectid_typoid
 *		OID of the type objectid of the nutragenie_fdw extension.
 *
 * Cached per backend and refreshed after the type is dropped or created
 * again.  Raises an error if the extension is not installed; must be called
 * inside a transaction.
 */
Oid
ng_objectid_typoid(void)
{
	if (!OidIsValid(objectid_oid))
		lookup_objectid_type();
	return objectid_oid;
}

/*
 * ng_objectid_array_typoid
 *		OID of the type objectid[]; same caching and errors as
 *		ng_objectid_typoid().
 */
Oid
ng_objectid_array_typoid(void)
{
	if (!OidIsValid(objectid_array_oid))
		lookup_objectid_type();
	return objectid_array_oid;
}
