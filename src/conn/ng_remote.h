/*-------------------------------------------------------------------------
 *
 * ng_remote.h
 *		  The connection API for the files that talk to a MongoDB server.
 *
 * This is the only header that includes <mongoc/mongoc.h>; conn.h declares
 * the driver-free part of the connection layer, for everyone else.  A
 * connection is a single-threaded mongoc_client_t owned by the per-backend
 * cache in connection.c; callers borrow it with ng_conn_get() and give it
 * back with ng_conn_release() so that a client is never destroyed under a
 * live cursor.
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

#include "conn/conn.h"

/* in connection.c */
extern mongoc_client_t *ng_conn_client(NgConnEntry *entry);

#endif							/* NG_REMOTE_H */
