/*-------------------------------------------------------------------------
 *
 * extjson.c
 *		  The Extended JSON v2 renderer: BSON to json, jsonb and message text.
 *
 * json and jsonb columns receive Extended JSON v2 (relaxed or canonical).
 * Both are rendered by one walker here, so a json and a jsonb column show
 * the same content; the walker writes jsonb's binary format itself (the
 * bytes PostgreSQL's jsonb input would give) rather than going through text
 * or a JsonbValue tree.  Doubles are written with the shortest
 * decimal that reads back as the same double.  The same walker, in a lenient
 * text mode that never raises, renders values for error messages
 * (ng_bson_value_to_text).
 *
 * Results are palloc'd in CurrentMemoryContext.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/bson/extjson.c
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
 * A finished value inside an open jsonb container, as jsonb bytes in the
 * sink's buffer (see the jsonb writer below).
 */
typedef struct JbItem
{
	const char *key;			/* object members: the key (not terminated) */
	int			keylen;
	int			order;			/* position among the container's members */
	uint32		type;			/* JENTRY_IS... */
	uint32		off;			/* the bytes: jb.data[off, off + len) */
	uint32		len;
	bool		align;			/* starts at a 4-byte boundary */
} JbItem;

/* An open jsonb array or object. */
typedef struct JbLevel
{
	bool		is_array;
	int			first;			/* index of its first item in items[] */
	uint32		start;			/* where its values start in jb (aligned) */
	const char *key;			/* the key given for the next member */
	int			keylen;
} JbLevel;

/*
 * Where a json or jsonb value is being built: text (json columns, error
 * messages) or jsonb's binary format (jsonb columns).
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
	/* jsonb output: the varlena being written, and its open containers */
	StringInfoData jb;
	JbItem	   *items;
	int			nitems;
	int			maxitems;
	JbLevel    *levels;
	int			nlevels;
	int			maxlevels;
	StringInfoData scratch;		/* a container's values while reordering */
	JbItem	   *sortbuf;		/* room for 64 items while sorting */
} JsonSink;

/* integers whose jsonb numerics small_int_numeric keeps */
#define NG_SMALL_INT_MIN	(-128)
#define NG_SMALL_INT_MAX	1023

/* ng_bson_value_to_text renders at most about this many bytes */
#define NG_VALUE_TEXT_MAX	100

static void sink_init(JsonSink *s, NgJsonMode mode, bool as_text,
					  bool lenient);
static void jb_pad(StringInfo buf);
static void jb_push_item(JsonSink *s, uint32 type, uint32 off, uint32 len,
						 bool align);
static void jb_close(JsonSink *s);
static int	jb_item_cmp(const void *a, const void *b);
static inline uint64 jb_sort_key(const JbItem *item);
static void jb_sort_members(JsonSink *s, JbItem *items, int n);
static Jsonb *jb_finish(JsonSink *s);
static void sink_comma(JsonSink *s);
static void sink_scalar(JsonSink *s, JsonbValue *jv);
static void sink_begin(JsonSink *s, bool is_array);
static void sink_end(JsonSink *s, bool is_array);
static void sink_key(JsonSink *s, const char *key, int len, bool from_bson);
static void sink_string(JsonSink *s, const char *str, int len,
						bool from_bson);
static void sink_number(JsonSink *s, const char *str, int len);
static void sink_int(JsonSink *s, int64 val);
static Numeric small_int_numeric(int64 val);
static void sink_bool(JsonSink *s, bool val);
static void sink_null(JsonSink *s);
static void sink_wrapped_string(JsonSink *s, const char *key,
								const char *str);
static void append_json_chars(StringInfo buf, const char *s, int len,
							  bool ascii_only);
static void append_lenient_string(StringInfo buf, const char *s, int len);
static void json_value(JsonSink *s, const bson_value_t *v);
static void json_iter_value(JsonSink *s, bson_iter_t *it);
static void json_container(JsonSink *s, const uint8_t *data, uint32_t len,
						   bool is_array);
static void json_double(JsonSink *s, double d);
static void json_date(JsonSink *s, int64 ms);
static void json_binary(JsonSink *s, const uint8_t *data, uint32_t len,
						bson_subtype_t subtype);
static void json_regex(JsonSink *s, const char *pattern, const char *options);

/*
 * ng_extjson_datum
 *		A json (as_text) or jsonb Datum holding a BSON value (v), or a whole
 *		document (docdata/doclen, when v is NULL), as Extended JSON v2 in
 *		mode.  Palloc'd in CurrentMemoryContext; raises for strings that are
 *		not valid UTF-8 or that the server encoding cannot hold.
 */
Datum
ng_extjson_datum(NgJsonMode mode, bool as_text, const bson_value_t *v,
				 const uint8_t *docdata, uint32_t doclen)
{
	JsonSink	s;

	sink_init(&s, mode, as_text, false);
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
	return JsonbPGetDatum(jb_finish(&s));
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
	else
	{
		initStringInfo(&s->jb);
		appendStringInfoSpaces(&s->jb, VARHDRSZ);	/* the varlena header */
		s->maxitems = 32;
		s->items = palloc(sizeof(JbItem) * s->maxitems);
		s->maxlevels = 8;
		s->levels = palloc(sizeof(JbLevel) * s->maxlevels);
		s->sortbuf = palloc(sizeof(JbItem) * 64);
	}
}

/* ----------------------------------------------------------------
 *		The jsonb writer
 *
 * jsonb columns are written straight in jsonb's binary format, the bytes
 * JsonbValueToJsonb would produce from the same values (a test compares
 * them), without a JsonbValue tree.  A container is a header word, one
 * JEntry per element (objects: all keys' JEntries, then all values'), then
 * the keys' bytes, then the values' bytes; numerics and containers start
 * at a 4-byte boundary (the padding counts in the preceding JEntry's
 * length), and every JB_OFFSET_STRIDE-th JEntry holds an end offset rather
 * than a length.  Object keys are sorted by length, then bytes, and of
 * duplicate keys the last one is kept, as jsonb always does.
 *
 * Values are written in document order, each finished value becoming a
 * JbItem; when a container closes, its items' bytes are laid out behind
 * the header, the JEntries and the keys, in key order for an object.
 * Strings are checked (and converted) in document order, so the first
 * invalid string raises, as before.
 * ----------------------------------------------------------------
 */

/* Pad the buffer with zeros to a 4-byte boundary. */
static inline void
jb_pad(StringInfo buf)
{
	int			padlen = INTALIGN(buf->len) - buf->len;

	if (padlen > 0)
	{
		enlargeStringInfo(buf, padlen);
		memset(buf->data + buf->len, 0, padlen);
		buf->len += padlen;
	}
}

/*
 * jb_push_item
 *		Record a finished value: a member of the innermost open container
 *		(under the key given last), or the whole result.
 */
static void
jb_push_item(JsonSink *s, uint32 type, uint32 off, uint32 len, bool align)
{
	JbItem	   *item;

	if (s->nitems == s->maxitems)
	{
		s->maxitems *= 2;
		s->items = repalloc(s->items, sizeof(JbItem) * s->maxitems);
	}
	item = &s->items[s->nitems];
	item->type = type;
	item->off = off;
	item->len = len;
	item->align = align;
	if (s->nlevels > 0)
	{
		JbLevel    *level = &s->levels[s->nlevels - 1];

		item->key = level->key;
		item->keylen = level->keylen;
		item->order = s->nitems - level->first;
	}
	else
	{
		item->key = NULL;
		item->keylen = 0;
		item->order = 0;
	}
	s->nitems++;
}

/* Order object members as jsonb does: key length, key bytes, then order. */
static int
jb_item_cmp(const void *a, const void *b)
{
	const JbItem *ia = (const JbItem *) a;
	const JbItem *ib = (const JbItem *) b;
	int			cmp;

	if (ia->keylen != ib->keylen)
		return ia->keylen < ib->keylen ? -1 : 1;
	cmp = memcmp(ia->key, ib->key, ia->keylen);
	if (cmp != 0)
		return cmp;
	return ia->order < ib->order ? -1 : (ia->order > ib->order ? 1 : 0);
}

/*
 * jb_sort_key
 *		A 64-bit key ordering members as jb_item_cmp does as far as it goes:
 *		the key length, then its first six bytes.  Equal sort keys are
 *		compared in full.
 */
static inline uint64
jb_sort_key(const JbItem *item)
{
	uint64		k = (uint64) Min(item->keylen, 0xFFFF) << 48;
	int			i;

	for (i = 0; i < 6 && i < item->keylen; i++)
		k |= (uint64) (unsigned char) item->key[i] << (40 - 8 * i);
	return k;
}

/*
 * jb_sort_members
 *		Sort an object's members as jsonb does (jb_item_cmp): an insertion
 *		sort on 64-bit sort keys for the usual few dozen members, qsort
 *		beyond.  Members arrive in document order, so equal keys keep it.
 */
static void
jb_sort_members(JsonSink *s, JbItem *items, int n)
{
	typedef struct
	{
		uint64		key;
		int			idx;
	} SortSlot;
	SortSlot	slots_buf[64];
	SortSlot   *slots;
	JbItem	   *sorted;
	bool		moved = false;
	int			i;

	if (n > 64)
	{
		qsort(items, n, sizeof(JbItem), jb_item_cmp);
		return;
	}

	slots = slots_buf;
	for (i = 0; i < n; i++)
	{
		SortSlot	tmp;
		int			j = i;

		tmp.key = jb_sort_key(&items[i]);
		tmp.idx = i;
		while (j > 0 &&
			   (slots[j - 1].key > tmp.key ||
				(slots[j - 1].key == tmp.key &&
				 jb_item_cmp(&items[slots[j - 1].idx], &items[i]) > 0)))
		{
			slots[j] = slots[j - 1];
			j--;
		}
		if (j != i)
			moved = true;
		slots[j] = tmp;
	}
	if (!moved)
		return;

	sorted = s->sortbuf;
	for (i = 0; i < n; i++)
		sorted[i] = items[slots[i].idx];
	memcpy(items, sorted, sizeof(JbItem) * n);
}

/*
 * jb_close
 *		Close the innermost container: lay out its header, JEntries, keys
 *		and values at its start, and record it as a value of its parent.
 */
static void
jb_close(JsonSink *s)
{
	JbLevel    *level = &s->levels[s->nlevels - 1];
	JbItem	   *items = &s->items[level->first];
	int			n = s->nitems - level->first;
	uint32		start = level->start;
	uint32		rlen = s->jb.len - start;
	uint32		header;
	int			nentries;
	uint32		jentries;
	uint32		totallen = 0;
	uint32		keybytes = 0;
	char	   *out;
	int			i;

	if (!level->is_array && n > 1)
	{
		int			m = 1;

		jb_sort_members(s, items, n);

		/* of equal keys, keep the last (items move only after a duplicate) */
		for (i = 1; i < n; i++)
		{
			if (items[i].keylen == items[m - 1].keylen &&
				memcmp(items[i].key, items[m - 1].key, items[i].keylen) == 0)
				items[m - 1] = items[i];
			else
			{
				if (m != i)
					items[m] = items[i];
				m++;
			}
		}
		n = m;
	}
	if (!level->is_array)
		for (i = 0; i < n; i++)
			keybytes += items[i].keylen;

	/* the values, in document order, move aside */
	if (s->scratch.data == NULL)
		initStringInfo(&s->scratch);
	resetStringInfo(&s->scratch);
	enlargeStringInfo(&s->scratch, rlen);
	memcpy(s->scratch.data, s->jb.data + start, rlen);
	s->jb.len = start;

	nentries = level->is_array ? n : 2 * n;
	/* header, JEntries, keys, values and at most 3 bytes of padding each */
	enlargeStringInfo(&s->jb, sizeof(uint32) + sizeof(JEntry) * nentries +
					  keybytes + rlen + 3 * n);
	out = s->jb.data;

	header = (uint32) n | (level->is_array ? JB_FARRAY : JB_FOBJECT);
	memcpy(out + s->jb.len, &header, sizeof(uint32));
	s->jb.len += sizeof(uint32);
	jentries = s->jb.len;
	s->jb.len += sizeof(JEntry) * nentries;

	for (i = 0; i < nentries; i++)
	{
		JbItem	   *item = &items[level->is_array || i < n ? i : i - n];
		uint32		len;
		JEntry		meta;

		if (!level->is_array && i < n)
		{
			memcpy(out + s->jb.len, item->key, item->keylen);
			s->jb.len += item->keylen;
			len = item->keylen;
			meta = JENTRY_ISSTRING;
		}
		else
		{
			uint32		before = s->jb.len;

			if (item->align)
				while (s->jb.len % sizeof(uint32) != 0)
					out[s->jb.len++] = '\0';
			memcpy(out + s->jb.len, s->scratch.data + (item->off - start),
				   item->len);
			s->jb.len += item->len;
			len = s->jb.len - before;
			meta = item->type;
		}
		totallen += len;
		if (totallen > JENTRY_OFFLENMASK)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("total size of jsonb %s elements exceeds the maximum of %d bytes",
							level->is_array ? "array" : "object",
							JENTRY_OFFLENMASK)));
		if ((i % JB_OFFSET_STRIDE) == 0)
			meta |= JENTRY_HAS_OFF | totallen;
		else
			meta |= len;
		memcpy(out + jentries + sizeof(JEntry) * i, &meta, sizeof(JEntry));
	}
	out[s->jb.len] = '\0';

	s->nitems = level->first;
	s->nlevels--;
	jb_push_item(s, JENTRY_ISCONTAINER, start, s->jb.len - start, true);
}

/*
 * jb_finish
 *		The finished jsonb: the root container as written, or a scalar
 *		wrapped in a one-element raw-scalar array, as jsonb stores scalars.
 */
static Jsonb *
jb_finish(JsonSink *s)
{
	JbItem		root = s->items[0];

	Assert(s->nlevels == 0 && s->nitems == 1);
	if (root.type != JENTRY_ISCONTAINER)
	{
		uint32		header = 1 | JB_FARRAY | JB_FSCALAR;
		JEntry		meta;

		if (s->scratch.data == NULL)
			initStringInfo(&s->scratch);
		resetStringInfo(&s->scratch);
		appendBinaryStringInfo(&s->scratch, s->jb.data + root.off, root.len);
		s->jb.len = VARHDRSZ;
		appendBinaryStringInfo(&s->jb, (char *) &header, sizeof(uint32));
		s->jb.len += sizeof(JEntry);
		if (root.align)
			jb_pad(&s->jb);
		appendBinaryStringInfo(&s->jb, s->scratch.data, root.len);
		/* the only JEntry is at a stride boundary: it holds the end offset */
		meta = root.type | JENTRY_HAS_OFF |
			(s->jb.len - VARHDRSZ - sizeof(uint32) - sizeof(JEntry));
		memcpy(s->jb.data + VARHDRSZ + sizeof(uint32), &meta, sizeof(JEntry));
	}
	SET_VARSIZE(s->jb.data, s->jb.len);
	return (Jsonb *) s->jb.data;
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
	uint32		off;

	switch (jv->type)
	{
		case jbvString:
			off = s->jb.len;
			if (s->jb.len + jv->val.string.len >= s->jb.maxlen)
				enlargeStringInfo(&s->jb, jv->val.string.len);
			memcpy(s->jb.data + s->jb.len, jv->val.string.val,
				   jv->val.string.len);
			s->jb.len += jv->val.string.len;
			jb_push_item(s, JENTRY_ISSTRING, off, jv->val.string.len, false);
			break;
		case jbvNumeric:
			{
				uint32		len = VARSIZE_ANY(jv->val.numeric);

				/* room for the padding too */
				if (s->jb.len + len + 3 >= s->jb.maxlen)
					enlargeStringInfo(&s->jb, len + 3);
				while (s->jb.len % sizeof(uint32) != 0)
					s->jb.data[s->jb.len++] = '\0';
				off = s->jb.len;
				memcpy(s->jb.data + off, jv->val.numeric, len);
				s->jb.len += len;
				jb_push_item(s, JENTRY_ISNUMERIC, off, len, true);
				break;
			}
		case jbvBool:
			jb_push_item(s, jv->val.boolean ? JENTRY_ISBOOL_TRUE :
						 JENTRY_ISBOOL_FALSE, s->jb.len, 0, false);
			break;
		case jbvNull:
			jb_push_item(s, JENTRY_ISNULL, s->jb.len, 0, false);
			break;
		default:
			elog(ERROR, "unexpected jsonb value type: %d", (int) jv->type);
	}
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
	{
		JbLevel    *level;

		if (s->nlevels == s->maxlevels)
		{
			s->maxlevels *= 2;
			s->levels = repalloc(s->levels, sizeof(JbLevel) * s->maxlevels);
		}
		jb_pad(&s->jb);
		level = &s->levels[s->nlevels++];
		level->is_array = is_array;
		level->first = s->nitems;
		level->start = s->jb.len;
		level->key = NULL;
		level->keylen = 0;
	}
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
		jb_close(s);
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
				key = ng_bson_server_string(key, len, &len);
			appendStringInfoChar(&s->buf, '"');
			append_json_chars(&s->buf, key, len, false);
			appendStringInfoChar(&s->buf, '"');
		}
		appendBinaryStringInfo(&s->buf, ": ", 2);
		s->need_comma = false;
	}
	else
	{
		JbLevel    *level = &s->levels[s->nlevels - 1];

		if (from_bson)
			key = ng_bson_server_string(key, len, &len);

		/*
		 * Points into the document, which outlives the sink, or is one of our
		 * string literals.
		 */
		level->key = key;
		level->keylen = len;
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
				str = ng_bson_server_string(str, len, &len);
			appendStringInfoChar(&s->buf, '"');
			append_json_chars(&s->buf, str, len, false);
			appendStringInfoChar(&s->buf, '"');
		}
	}
	else
	{
		JsonbValue	jv;

		/* copied into the jsonb at once */
		if (from_bson)
			str = ng_bson_server_string(str, len, &len);
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
		jv.val.numeric = ng_bson_cstring_to_numeric(str);
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
		jv.val.numeric = small_int_numeric(val);
		if (jv.val.numeric == NULL)
			jv.val.numeric = int64_to_numeric(val);
		sink_scalar(s, &jv);
	}
}

/*
 * small_int_numeric
 *		int64_to_numeric's result for small integers, made once per backend
 *		(in TopMemoryContext) and shared: counts and quantities repeat in
 *		every document.  NULL for other values.
 */
static Numeric
small_int_numeric(int64 val)
{
	static Numeric cache[NG_SMALL_INT_MAX - NG_SMALL_INT_MIN + 1];
	Numeric    *slot;

	if (val < NG_SMALL_INT_MIN || val > NG_SMALL_INT_MAX)
		return NULL;
	slot = &cache[val - NG_SMALL_INT_MIN];
	if (*slot == NULL)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(TopMemoryContext);

		*slot = int64_to_numeric(val);
		MemoryContextSwitchTo(oldcxt);
	}
	return *slot;
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
				ng_bson_report_corrupt();
			break;
	}
}

/*
 * json_iter_value
 *		json_value for the value at an iterator: the common types are read
 *		in place, the others decoded first.
 */
static void
json_iter_value(JsonSink *s, bson_iter_t *it)
{
	switch (bson_iter_type_unsafe(it))
	{
		case BSON_TYPE_UTF8:
			{
				uint32		len;
				const char *str = bson_iter_utf8(it, &len);

				sink_string(s, str, (int) len, true);
				return;
			}
		case BSON_TYPE_DOCUMENT:
		case BSON_TYPE_ARRAY:
			{
				uint32		len;
				const uint8_t *data;

				if (bson_iter_type_unsafe(it) == BSON_TYPE_DOCUMENT)
					bson_iter_document(it, &len, &data);
				else
					bson_iter_array(it, &len, &data);
				json_container(s, data, len,
							   bson_iter_type_unsafe(it) == BSON_TYPE_ARRAY);
				return;
			}
		case BSON_TYPE_INT32:
			if (s->mode != NG_JSON_CANONICAL)
			{
				sink_int(s, bson_iter_int32(it));
				return;
			}
			break;
		case BSON_TYPE_BOOL:
			sink_bool(s, bson_iter_bool(it));
			return;
		case BSON_TYPE_NULL:
			sink_null(s);
			return;
		default:
			break;
	}
	json_value(s, bson_iter_value(it));
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
			ng_bson_report_corrupt();
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
			sink_key(s, bson_iter_key_unsafe(&it),
					 (int) (it.d1 - it.key - 1), true);
		json_iter_value(s, &it);
	}
	if (it.err_off != 0)
	{
		if (!s->lenient)
			ng_bson_report_corrupt();
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
		jv.val.numeric = ng_bson_cstring_to_numeric(buf);

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

PG_FUNCTION_INFO_V1(ng_bson_to_jsonb);

/*
 * SQL: a BSON document (bytea) as relaxed Extended JSON jsonb.  Raises
 * invalid_parameter_value for bytes that are not one well-formed document.
 */
Datum
ng_bson_to_jsonb(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	NgConverter conv;
	bson_t		doc;
	bson_error_t error;
	bool		isnull;
	Datum		result;

	if (!bson_init_static(&doc, (const uint8_t *) VARDATA_ANY(data),
						  VARSIZE_ANY_EXHDR(data)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid BSON document"),
				 errdetail("The length of the value does not match its BSON header.")));
	if (!bson_validate_with_error(&doc, BSON_VALIDATE_NONE, &error))
	{
		char		detail[sizeof(error.message)];

		strlcpy(detail, error.message, sizeof(detail));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid BSON document"),
				 errdetail_internal("%s", detail)));
	}

	ng_converter_init(&conv, JSONBOID, -1, NG_MISMATCH_ERROR, NG_JSON_RELAXED);
	result = ng_bson_document_to_datum(&conv, &doc, &isnull);
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}
