/*-------------------------------------------------------------------------
 *
 * uri.h
 *		  What a server's connection string says, read with the driver's
 *		  parser: the one piece of conn/ the option validator uses.
 *
 * A leaf: uri.c calls nothing else of nutragenie, so option.c may use it
 * without depending on the connection code.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/conn/uri.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef NG_URI_H
#define NG_URI_H

/* What a server's connection string says, for the option validator. */
typedef struct NgUriFacts
{
	bool		has_credentials;	/* a user name or password */
	const char *secret;			/* an option holding a secret, or NULL */
	const char *secret_home;	/* the user mapping option for it, or NULL */
	const char *file;			/* an option naming a file, or NULL */
} NgUriFacts;

extern bool ng_uri_inspect(const char *uri, NgUriFacts *facts,
						   char **detail);
extern char *ng_uri_database(const char *uri);

#endif							/* NG_URI_H */
