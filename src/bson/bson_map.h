/*-------------------------------------------------------------------------
 *
 * bson_map.h
 *		  What the BSON layer offers: the type map between BSON values and
 *		  PostgreSQL Datums, in both directions, and the row reader.
 *
 * Nothing here knows the planner, the executor or a server: the layer takes
 * column descriptions (NgColumn, NgTableOptions from nutragenie.h) and BSON
 * documents, and gives Datums, BSON and reasons why MongoDB would refuse a
 * document.  Results are palloc'd in CurrentMemoryContext.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/bson/bson_map.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef NG_BSON_MAP_H
#define NG_BSON_MAP_H

#include "nutragenie.h"

/*
 * A prepared BSON-to-Datum converter for one column (or one array element
 * type).  Set up once per scan by ng_converter_init; used once per row.
 */
typedef struct NgConverter
{
	Oid			typid;
	int32		typmod;
	NgMismatchPolicy mismatch;
	NgJsonMode	json_mode;
	int			kind;			/* private to the bson/ layer */
	/* for arrays: the element converter and layout */
	struct NgConverter *elem;
	int16		elmlen;
	bool		elmbyval;
	char		elmalign;
	/* for types converted from BSON strings through their input function */
	FmgrInfo	infunc;
	Oid			ioparam;
} NgConverter;

/* in bson_read.c */
extern void ng_converter_init(NgConverter *conv, Oid typid, int32 typmod,
							  NgMismatchPolicy mismatch, NgJsonMode json_mode);
extern Datum ng_bson_to_datum(NgConverter *conv, const bson_iter_t *iter,
							  bool *isnull);
extern Datum ng_bson_document_to_datum(NgConverter *conv, const bson_t *doc,
									   bool *isnull);
extern bool ng_type_is_supported(Oid typid);

/* in extjson.c */
extern char *ng_bson_value_to_text(const bson_value_t *value);

/* in bson_write.c */
extern bool ng_datum_append_bson(bson_t *doc, const char *key, int keylen,
								 Datum value, bool isnull, Oid typid);
extern bool ng_column_append_bson(bson_t *doc, const char *key,
								  NgColumn *col, Datum value, bool isnull);
pg_noreturn extern void ng_column_report_unstorable(NgColumn *col,
													const char *relname,
													Datum value);

/* in bson_check.c */

/*
 * MongoDB's nesting limit for stored documents (its default maxBSONDepth of
 * 200 less the 20 levels it keeps for itself); see ng_bson_check_document.
 */
#define NG_MAX_DOCUMENT_DEPTH 180

/* Why ng_bson_check_document or ng_bson_check_update refused a document. */
typedef struct NgUnstorable
{
	char	   *field;			/* dotted key path, array indexes as digits */
	char	   *path;			/* the same for messages: steps[2].$bad */
	char	   *reason;			/* a full sentence: what MongoDB refuses */
} NgUnstorable;

extern bool ng_bson_check_document(const bson_t *doc, NgUnstorable *bad);
extern bool ng_bson_check_update(const bson_t *update, const bson_t *current,
								 NgUnstorable *bad);

/* in row_reader.c */
typedef struct NgDocReader NgDocReader;
extern void ng_document_check_readable(NgTableOptions *opts, NgColumn *col);
extern NgDocReader *ng_document_reader_create(NgTableOptions *opts,
											  List *attnums, List *positions,
											  int width);
extern void ng_document_to_values(NgDocReader *reader, const bson_t *doc,
								  Datum *values, bool *isnull);

#endif							/* NG_BSON_MAP_H */
