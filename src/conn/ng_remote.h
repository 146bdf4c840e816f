/*-------------------------------------------------------------------------
 *
 * ng_remote.h
 *		  The connection API for the files that talk to a MongoDB server.
 *
 * This is the only header that includes <mongoc/mongoc.h>.  A connection is
 * a single-threaded mongoc_client_t owned by the per-backend cache in
 * connection.c; callers borrow it with ng_conn_get() and give it back with
 * ng_conn_release() so that a client is never destroyed under a live cursor.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/conn/ng_remote.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef NG_REMOTE_H
#define NG_REMOTE_H

#include "nutragenie.h"

#include <mongoc/mongoc.h>

typedef struct NgConnEntry NgConnEntry;

/* in connection.c */
extern NgConnEntry *ng_conn_get(Oid serverid, Oid userid);
extern mongoc_client_t *ng_conn_client(NgConnEntry *entry);
extern void ng_conn_release(NgConnEntry *entry);
pg_noreturn extern void ng_conn_report_error(NgConnEntry *entry,
											 const bson_error_t *error,
											 const char *action);
extern bool ng_error_is_connection_failure(const bson_error_t *error);
extern void ng_conn_cleanup_all(void);

#endif							/* NG_REMOTE_H */
