/*-------------------------------------------------------------------------
 *
 * uri.c
 *		  What a server's MongoDB connection string says, read with the
 *		  driver's own parser.
 *
 * The option validator (option.c) refuses a "uri" that libmongoc would
 * refuse, one that carries credentials or other secrets (every user with
 * USAGE on the server can read its options), and, for non-superusers, one
 * naming files the server process would read.  It asks this file, so that
 * the parsing is the driver's and only src/conn/ includes it.  Everything
 * the driver allocates is freed before these functions return.
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/conn/uri.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "ng_remote.h"

/*
 * Options of a server uri that hold a secret: the driver's (lower-case) key,
 * the spelling for messages, and the user mapping option that takes it
 * instead.  libmongoc folds the deprecated ssl* spellings into these keys.
 */
static const char *const uri_secret_options[][3] = {
	{MONGOC_URI_TLSCERTIFICATEKEYFILEPASSWORD, "tlsCertificateKeyFilePassword",
	"tls_certificate_key_file_password"},
	{NULL, NULL, NULL}
};

/* Options of a server uri that name a file the backend reads, likewise. */
static const char *const uri_file_options[][2] = {
	{MONGOC_URI_TLSCAFILE, "tlsCAFile"},
	{MONGOC_URI_TLSCERTIFICATEKEYFILE, "tlsCertificateKeyFile"},
	{"tlscrlfile", "tlsCRLFile"},
	{NULL, NULL}
};

/*
 * authMechanismProperties a server uri may carry: none of them is a secret.
 * Any other (AWS_SESSION_TOKEN above all) is refused there.
 */
static const char *const uri_public_mechanism_properties[] = {
	"SERVICE_NAME", "CANONICALIZE_HOST_NAME", "SERVICE_REALM", "SERVICE_HOST",
	"ENVIRONMENT", "TOKEN_RESOURCE", NULL
};

/*
 * ng_uri_inspect
 *		Parse a server's connection string.  False, with the driver's message
 *		palloc'd in *detail, when libmongoc refuses it; else true, with
 *		*facts saying whether it carries credentials, an option holding a
 *		secret (the first one found) and an option naming a file.  Never
 *		raises for the content.
 */
bool
ng_uri_inspect(const char *value, NgUriFacts *facts, char **detail)
{
	bson_error_t error;
	mongoc_uri_t *uri = mongoc_uri_new_with_error(value, &error);
	const char *secret = NULL;
	const char *secret_home = NULL;
	const char *file = NULL;
	bson_iter_t it;
	bson_iter_t props;
	int			i;

	memset(facts, 0, sizeof(NgUriFacts));
	if (uri == NULL)
	{
		*detail = pstrdup(error.message);
		return false;
	}
	facts->has_credentials = mongoc_uri_get_username(uri) != NULL ||
		mongoc_uri_get_password(uri) != NULL;

	/* option names are lower case in the driver's parsed options */
	for (i = 0; uri_secret_options[i][0] != NULL && secret == NULL; i++)
	{
		if (mongoc_uri_has_option(uri, uri_secret_options[i][0]))
		{
			secret = uri_secret_options[i][1];
			secret_home = uri_secret_options[i][2];
		}
	}
	for (i = 0; uri_file_options[i][0] != NULL && file == NULL; i++)
	{
		if (mongoc_uri_has_option(uri, uri_file_options[i][0]))
			file = uri_file_options[i][1];
	}
	if (secret == NULL &&
		bson_iter_init_find_case(&it, mongoc_uri_get_credentials(uri),
								 MONGOC_URI_AUTHMECHANISMPROPERTIES) &&
		BSON_ITER_HOLDS_DOCUMENT(&it) &&
		bson_iter_recurse(&it, &props))
	{
		while (secret == NULL && bson_iter_next(&props))
		{
			const char *key = bson_iter_key(&props);

			for (i = 0; uri_public_mechanism_properties[i] != NULL; i++)
			{
				if (pg_strcasecmp(key, uri_public_mechanism_properties[i]) == 0)
					break;
			}
			if (uri_public_mechanism_properties[i] == NULL)
			{
				/* copied: the driver's copy goes away below */
				secret = pstrdup(key);
				secret_home = pg_strcasecmp(key, "AWS_SESSION_TOKEN") == 0 ?
					"aws_session_token" : NULL;
			}
		}
	}
	mongoc_uri_destroy(uri);

	facts->secret = secret;
	facts->secret_home = secret_home;
	facts->file = file;
	return true;
}

/*
 * ng_uri_database
 *		The database a connection string names in its path, palloc'd, or
 *		NULL (none, or a string the driver refuses).
 */
char *
ng_uri_database(const char *value)
{
	mongoc_uri_t *uri = mongoc_uri_new(value);
	char	   *db = NULL;

	if (uri != NULL)
	{
		if (mongoc_uri_get_database(uri) != NULL)
			db = pstrdup(mongoc_uri_get_database(uri));
		mongoc_uri_destroy(uri);
	}
	return db;
}
