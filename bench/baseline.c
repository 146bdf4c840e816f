/*
 * bench/baseline.c: the reference the FDW's read path is measured against.
 *
 * A plain libmongoc client that runs the same find as the foreign scan (the
 * filter and projection are taken verbatim from the FDW's EXPLAIN output,
 * the batch size is the foreign table's) and reads every field of every
 * document: it walks all keys recursively and touches every value (each
 * byte of every string and binary, every number, date, ObjectId, boolean),
 * folding them into a checksum so that nothing can be optimised away.
 *
 * usage: baseline URI DATABASE COLLECTION MODE [ARG] [options]
 *   MODE find      ARG = a find command as Extended JSON ({"find": ...,
 *                  "filter": {...}, "projection": {...}}): one find
 *   MODE in        ARG = the same command; KEYFILE holds one 24-hex ObjectId
 *                  per line: the filter becomes {_id: {$in: [keys]}}
 *   MODE each      like "in", but one find {_id: key} per key (what a
 *                  parameterized nested loop does), sequentially
 * options: --batch N (default 1000) --keys KEYFILE --repeat R (default 1)
 *
 * Per repetition it prints one line:
 *   wall_ms=... cpu_ms=... finds=... docs=... values=... checksum=...
 * cpu_ms is this process's CPU time (user + system) during the repetition.
 * The connection is made and checked (ping) before the first repetition,
 * as the FDW's is by the warm-up query of its session.
 *
 * Build: cc -O2 -o baseline baseline.c $(pkg-config --cflags --libs libmongoc-1.0)
 */
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct Stats
{
	uint64_t	docs;
	uint64_t	values;
	uint64_t	checksum;
} Stats;

static void
die(const char *what, const bson_error_t *error)
{
	fprintf(stderr, "baseline: %s: %s\n", what, error ? error->message : "");
	exit(1);
}

static double
now_ms(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static inline uint64_t
mix(uint64_t h, uint64_t v)
{
	return (h ^ v) * 0x100000001b3ULL;
}

static uint64_t
bytes_sum(const uint8_t *p, size_t n)
{
	uint64_t	s = 0;
	size_t		i;

	for (i = 0; i < n; i++)
		s += p[i];
	return s;
}

/* Walk every key of a document or array, touching every value. */
static void
touch(bson_iter_t *it, Stats *st)
{
	while (bson_iter_next(it))
	{
		uint32_t	len;
		uint64_t	v = 0;

		st->values++;
		v = bson_iter_key_len(it);
		switch (bson_iter_type(it))
		{
			case BSON_TYPE_UTF8:
				{
					const char *s = bson_iter_utf8(it, &len);

					v += bytes_sum((const uint8_t *) s, len);
					break;
				}
			case BSON_TYPE_INT32:
				v += (uint64_t) bson_iter_int32(it);
				break;
			case BSON_TYPE_INT64:
				v += (uint64_t) bson_iter_int64(it);
				break;
			case BSON_TYPE_DOUBLE:
				{
					double		d = bson_iter_double(it);

					memcpy(&v, &d, sizeof v);
					break;
				}
			case BSON_TYPE_BOOL:
				v += bson_iter_bool(it);
				break;
			case BSON_TYPE_DATE_TIME:
				v += (uint64_t) bson_iter_date_time(it);
				break;
			case BSON_TYPE_OID:
				v += bytes_sum(bson_iter_oid(it)->bytes, 12);
				break;
			case BSON_TYPE_DECIMAL128:
				{
					bson_decimal128_t d;

					bson_iter_decimal128(it, &d);
					v += d.low ^ d.high;
					break;
				}
			case BSON_TYPE_BINARY:
				{
					bson_subtype_t sub;
					const uint8_t *b;

					bson_iter_binary(it, &sub, &len, &b);
					v += bytes_sum(b, len);
					break;
				}
			case BSON_TYPE_DOCUMENT:
			case BSON_TYPE_ARRAY:
				{
					bson_iter_t child;

					if (bson_iter_recurse(it, &child))
						touch(&child, st);
					break;
				}
			default:
				v += bson_iter_type(it);
				break;
		}
		st->checksum = mix(st->checksum, v);
	}
}

static void
drain(mongoc_cursor_t *cursor, Stats *st)
{
	const bson_t *doc;
	bson_error_t error;

	while (mongoc_cursor_next(cursor, &doc))
	{
		bson_iter_t it;

		st->docs++;
		if (bson_iter_init(&it, doc))
			touch(&it, st);
	}
	if (mongoc_cursor_error(cursor, &error))
		die("find failed", &error);
	mongoc_cursor_destroy(cursor);
}

/* Reads one 24-hex ObjectId per line. */
static bson_oid_t *
read_keys(const char *path, size_t *nkeys)
{
	FILE	   *f = fopen(path, "r");
	char		line[128];
	size_t		n = 0,
				cap = 1024;
	bson_oid_t *keys = malloc(cap * sizeof(bson_oid_t));

	if (f == NULL)
	{
		perror(path);
		exit(1);
	}
	while (fgets(line, sizeof line, f))
	{
		line[strcspn(line, "\r\n \t")] = '\0';
		if (line[0] == '\0')
			continue;
		if (!bson_oid_is_valid(line, strlen(line)))
		{
			fprintf(stderr, "baseline: %s: not an ObjectId: %s\n", path, line);
			exit(1);
		}
		if (n == cap)
			keys = realloc(keys, (cap *= 2) * sizeof(bson_oid_t));
		bson_oid_init_from_string(&keys[n++], line);
	}
	fclose(f);
	*nkeys = n;
	return keys;
}

int
main(int argc, char **argv)
{
	const char *uri_str,
			   *dbname,
			   *collname,
			   *mode,
			   *command_json;
	const char *keyfile = NULL;
	int			batch = 1000,
				repeat = 1,
				i,
				r;
	bson_error_t error;
	mongoc_uri_t *uri;
	mongoc_client_t *client;
	mongoc_collection_t *coll;
	bson_t	   *command;
	bson_t		filter = BSON_INITIALIZER,
				opts = BSON_INITIALIZER,
				ping = BSON_INITIALIZER;
	bson_iter_t it;
	bson_oid_t *keys = NULL;
	size_t		nkeys = 0;

	if (argc < 6)
	{
		fprintf(stderr, "usage: %s URI DATABASE COLLECTION find|in|each COMMAND-JSON [--batch N] [--keys FILE] [--repeat R]\n", argv[0]);
		return 2;
	}
	uri_str = argv[1];
	dbname = argv[2];
	collname = argv[3];
	mode = argv[4];
	command_json = argv[5];
	for (i = 6; i + 1 < argc; i += 2)
	{
		if (strcmp(argv[i], "--batch") == 0)
			batch = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--keys") == 0)
			keyfile = argv[i + 1];
		else if (strcmp(argv[i], "--repeat") == 0)
			repeat = atoi(argv[i + 1]);
		else
		{
			fprintf(stderr, "baseline: unknown option %s\n", argv[i]);
			return 2;
		}
	}

	mongoc_init();
	uri = mongoc_uri_new_with_error(uri_str, &error);
	if (uri == NULL)
		die("bad URI", &error);
	client = mongoc_client_new_from_uri_with_error(uri, &error);
	if (client == NULL)
		die("client", &error);
	mongoc_client_set_appname(client, "nutragenie-bench-baseline");
	coll = mongoc_client_get_collection(client, dbname, collname);

	command = bson_new_from_json((const uint8_t *) command_json, -1, &error);
	if (command == NULL)
		die("command JSON", &error);
	if (bson_iter_init_find(&it, command, "filter") && BSON_ITER_HOLDS_DOCUMENT(&it))
	{
		uint32_t	len;
		const uint8_t *data;

		bson_iter_document(&it, &len, &data);
		bson_destroy(&filter);
		bson_init_static(&filter, data, len);
	}
	if (bson_iter_init_find(&it, command, "projection") && BSON_ITER_HOLDS_DOCUMENT(&it))
	{
		uint32_t	len;
		const uint8_t *data;
		bson_t		proj;

		bson_iter_document(&it, &len, &data);
		bson_init_static(&proj, data, len);
		BSON_APPEND_DOCUMENT(&opts, "projection", &proj);
	}
	BSON_APPEND_INT32(&opts, "batchSize", batch);

	if (strcmp(mode, "find") != 0)
	{
		if (keyfile == NULL)
		{
			fprintf(stderr, "baseline: mode %s needs --keys\n", mode);
			return 2;
		}
		keys = read_keys(keyfile, &nkeys);
	}

	/* Connect before timing (the FDW's session is warm too). */
	BSON_APPEND_INT32(&ping, "ping", 1);
	if (!mongoc_client_command_simple(client, dbname, &ping, NULL, NULL, &error))
		die("ping", &error);

	for (r = 0; r < repeat; r++)
	{
		Stats		st = {0, 0, 0xcbf29ce484222325ULL};
		double		t0 = now_ms(CLOCK_MONOTONIC);
		double		c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
		int			finds = 0;

		if (strcmp(mode, "find") == 0)
		{
			drain(mongoc_collection_find_with_opts(coll, &filter, &opts, NULL), &st);
			finds = 1;
		}
		else if (strcmp(mode, "in") == 0)
		{
			bson_t		f = BSON_INITIALIZER,
						idd,
						arr;
			size_t		k;

			BSON_APPEND_DOCUMENT_BEGIN(&f, "_id", &idd);
			BSON_APPEND_ARRAY_BEGIN(&idd, "$in", &arr);
			for (k = 0; k < nkeys; k++)
			{
				char		idx[16];
				const char *key;

				bson_uint32_to_string((uint32_t) k, &key, idx, sizeof idx);
				bson_append_oid(&arr, key, -1, &keys[k]);
			}
			bson_append_array_end(&idd, &arr);
			bson_append_document_end(&f, &idd);
			drain(mongoc_collection_find_with_opts(coll, &f, &opts, NULL), &st);
			bson_destroy(&f);
			finds = 1;
		}
		else if (strcmp(mode, "each") == 0)
		{
			size_t		k;

			for (k = 0; k < nkeys; k++)
			{
				bson_t		f = BSON_INITIALIZER;

				BSON_APPEND_OID(&f, "_id", &keys[k]);
				drain(mongoc_collection_find_with_opts(coll, &f, &opts, NULL), &st);
				bson_destroy(&f);
				finds++;
			}
		}
		else
		{
			fprintf(stderr, "baseline: unknown mode %s\n", mode);
			return 2;
		}
		printf("wall_ms=%.3f cpu_ms=%.3f finds=%d docs=%llu values=%llu checksum=%016llx\n",
			   now_ms(CLOCK_MONOTONIC) - t0,
			   now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0, finds,
			   (unsigned long long) st.docs, (unsigned long long) st.values,
			   (unsigned long long) st.checksum);
		fflush(stdout);
	}

	free(keys);
	bson_destroy(command);
	bson_destroy(&opts);
	bson_destroy(&ping);
	mongoc_collection_destroy(coll);
	mongoc_client_destroy(client);
	mongoc_uri_destroy(uri);
	mongoc_cleanup();
	return 0;
}
