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
 *   MODE aggregate ARG = an aggregate command as Extended JSON, as the FDW's
 *                  EXPLAIN shows it ({"aggregate": ..., "pipeline": [...],
 *                  "cursor": {...}}): the same pipeline through
 *                  mongoc_collection_aggregate (batchSize from its "cursor"
 *                  document if it has one), every value of every result
 *                  document touched; finds=1 counts the one command
 * options: --batch N (default 1000) --keys KEYFILE --repeat R (default 1)
 *
 * Per repetition it prints one line:
 *   wall_ms=... cpu_ms=... finds=... docs=... values=... checksum=...
 * cpu_ms is this process's CPU time (user + system) during the repetition.
 * The connection is made and checked (ping) before the first repetition,
 * as the FDW's is by the warm-up query of its session.
 *
 * Write-path modes (the reference for the FDW's INSERT/COPY and for a
 * transaction that writes one PostgreSQL row and one document):
 *   MODE insert    ARG = a file of documents, one Extended JSON document per
 *                  line.  All are parsed into BSON before timing; the timed
 *                  part is mongoc_collection_insert_many (ordered, the
 *                  default write concern) in batches of --batch documents
 *                  (0: all in one call).  Prints
 *                  wall_ms=... cpu_ms=... docs=... calls=... bytes=...
 *   MODE digest    ARG ignored: reads the whole collection and prints
 *                  docs=... bytes=... digest=... where digest is the sum of
 *                  a 64-bit FNV-1a hash of each document's raw BSON (field
 *                  order, types and values; independent of document order),
 *                  to check that two loads stored the same documents.
 *   MODE txn       ARG = a PostgreSQL table (user_id int, amount_cents int,
 *                  note text, ...).  --reps N times, sequentially: an INSERT
 *                  of one row into it through libpq (PQexec, autocommit),
 *                  then mongoc_collection_insert_one of one small document
 *                  {user_id, kind, n, note, at} (the driver adds the _id).
 *                  No atomicity: what a client does by hand.  Both
 *                  connections are opened and used once before timing.
 *                  Prints one line "us=... pg_us=... mongo_us=..." per
 *                  repetition (its latency and the two parts), then
 *                  wall_ms=... cpu_ms=... reps=... median_us=...
 *                  --pg CONNINFO (default "": the PG* environment),
 *                  --seed S (user ids; default 42).
 *
 * Build: cc -O2 -o baseline baseline.c $(pkg-config --cflags --libs libmongoc-1.0 libpq)
 */
#include <libpq-fe.h>
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

/* Reads a file of Extended JSON documents, one per line. */
static bson_t **
read_documents(const char *path, size_t *ndocs, uint64_t *nbytes)
{
	FILE	   *f = fopen(path, "r");
	char	   *line = NULL;
	size_t		linecap = 0,
				n = 0,
				cap = 1024;
	ssize_t		len;
	bson_t	  **docs = malloc(cap * sizeof(bson_t *));
	bson_error_t error;

	if (f == NULL)
	{
		perror(path);
		exit(1);
	}
	*nbytes = 0;
	while ((len = getline(&line, &linecap, f)) > 0)
	{
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0)
			continue;
		if (n == cap)
			docs = realloc(docs, (cap *= 2) * sizeof(bson_t *));
		docs[n] = bson_new_from_json((const uint8_t *) line, len, &error);
		if (docs[n] == NULL)
		{
			fprintf(stderr, "baseline: %s: document %zu: %s\n", path, n + 1, error.message);
			exit(1);
		}
		*nbytes += docs[n]->len;
		n++;
	}
	free(line);
	fclose(f);
	*ndocs = n;
	return docs;
}

static uint64_t
fnv1a(const uint8_t *p, size_t n)
{
	uint64_t	h = 0xcbf29ce484222325ULL;
	size_t		i;

	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

/* One PostgreSQL statement that must succeed. */
static void
pg_exec(PGconn *pg, const char *sql)
{
	PGresult   *res = PQexec(pg, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		fprintf(stderr, "baseline: %s: %s", sql, PQerrorMessage(pg));
		exit(1);
	}
	PQclear(res);
}

/*
 * MODE txn: per repetition an autocommit INSERT through libpq, then one
 * insert_one; the latency of each pair, in microseconds, on stdout.
 */
static int
run_txn(mongoc_collection_t *coll, const char *table, const char *conninfo,
		int reps, uint64_t seed)
{
	PGconn	   *pg = PQconnectdb(conninfo);
	char		sql[512];
	double	   *lat = malloc(sizeof(double) * (reps > 0 ? reps : 1));
	double	   *lat_pg = malloc(sizeof(double) * (reps > 0 ? reps : 1));
	double		t0,
				c0;
	bson_error_t error;
	uint64_t	x = seed * 2654435761ULL + 1;
	int			r;

	if (PQstatus(pg) != CONNECTION_OK)
	{
		fprintf(stderr, "baseline: connecting to PostgreSQL: %s", PQerrorMessage(pg));
		return 1;
	}
	pg_exec(pg, "SET application_name = 'nutragenie-bench-baseline'");
	pg_exec(pg, "SELECT 1");

	t0 = now_ms(CLOCK_MONOTONIC);
	c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
	for (r = 0; r < reps; r++)
	{
		double		s = now_ms(CLOCK_MONOTONIC);
		int			uid;
		bson_t	   *doc;
		struct timespec ts;

		/* xorshift64: user ids 1..100000, like pgbench's random(1, 100000) */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uid = 1 + (int) (x % 100000);
		snprintf(sql, sizeof sql,
				 "INSERT INTO %s (user_id, amount_cents, note) VALUES (%d, %d, 'bench')",
				 table, uid, uid % 1000);
		pg_exec(pg, sql);
		lat_pg[r] = (now_ms(CLOCK_MONOTONIC) - s) * 1000.0;

		clock_gettime(CLOCK_REALTIME, &ts);
		doc = BCON_NEW("user_id", BCON_INT32(uid), "kind", BCON_UTF8("event"),
					   "n", BCON_INT32(1), "note", BCON_UTF8("bench"),
					   "at", BCON_DATE_TIME((int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000));
		if (!mongoc_collection_insert_one(coll, doc, NULL, NULL, &error))
			die("insert_one", &error);
		bson_destroy(doc);
		lat[r] = (now_ms(CLOCK_MONOTONIC) - s) * 1000.0;
	}
	{
		double		wall = now_ms(CLOCK_MONOTONIC) - t0;
		double		cpu = now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;

		for (r = 0; r < reps; r++)
			printf("us=%.1f pg_us=%.1f mongo_us=%.1f\n", lat[r], lat_pg[r], lat[r] - lat_pg[r]);
		qsort(lat, reps, sizeof(double), cmp_double);
		printf("wall_ms=%.3f cpu_ms=%.3f reps=%d median_us=%.1f\n", wall, cpu, reps,
			   reps > 0 ? lat[reps / 2] : 0.0);
	}
	free(lat);
	free(lat_pg);
	PQfinish(pg);
	return 0;
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
	const char *conninfo = "";
	int			batch = 1000,
				repeat = 1,
				reps = 1000,
				i,
				r;
	uint64_t	seed = 42;
	bson_error_t error;
	mongoc_uri_t *uri;
	mongoc_client_t *client;
	mongoc_collection_t *coll;
	bson_t	   *command;
	bson_t		filter = BSON_INITIALIZER,
				pipeline = BSON_INITIALIZER,
				opts = BSON_INITIALIZER,
				ping = BSON_INITIALIZER;
	bson_iter_t it;
	bson_oid_t *keys = NULL;
	size_t		nkeys = 0;

	if (argc < 6)
	{
		fprintf(stderr, "usage: %s URI DATABASE COLLECTION find|in|each|aggregate|insert|digest|txn ARG [--batch N] [--keys FILE] [--repeat R] [--reps N] [--seed S] [--pg CONNINFO]\n", argv[0]);
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
		else if (strcmp(argv[i], "--reps") == 0)
			reps = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--seed") == 0)
			seed = strtoull(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--pg") == 0)
			conninfo = argv[i + 1];
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

	if (strcmp(mode, "insert") == 0 || strcmp(mode, "digest") == 0 ||
		strcmp(mode, "txn") == 0)
	{
		int			rc = 0;

		BSON_APPEND_INT32(&ping, "ping", 1);
		if (strcmp(mode, "insert") == 0)
		{
			uint64_t	nbytes;
			size_t		ndocs;
			bson_t	  **docs = read_documents(command_json, &ndocs, &nbytes);
			size_t		per = batch > 0 ? (size_t) batch : ndocs;

			if (!mongoc_client_command_simple(client, dbname, &ping, NULL, NULL, &error))
				die("ping", &error);
			for (r = 0; r < repeat; r++)
			{
				double		t0 = now_ms(CLOCK_MONOTONIC);
				double		c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
				size_t		off;
				int			calls = 0;

				for (off = 0; off < ndocs; off += per)
				{
					size_t		n = ndocs - off < per ? ndocs - off : per;

					if (!mongoc_collection_insert_many(coll, (const bson_t **) docs + off, n,
													   NULL, NULL, &error))
						die("insert_many", &error);
					calls++;
				}
				printf("wall_ms=%.3f cpu_ms=%.3f docs=%zu calls=%d bytes=%llu\n",
					   now_ms(CLOCK_MONOTONIC) - t0,
					   now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0, ndocs, calls,
					   (unsigned long long) nbytes);
				fflush(stdout);
			}
			for (size_t k = 0; k < ndocs; k++)
				bson_destroy(docs[k]);
			free(docs);
		}
		else if (strcmp(mode, "digest") == 0)
		{
			bson_t		all = BSON_INITIALIZER;
			mongoc_cursor_t *cursor;
			const bson_t *doc;
			uint64_t	n = 0,
						nbytes = 0,
						digest = 0;

			BSON_APPEND_INT32(&opts, "batchSize", batch > 0 ? batch : 1000);
			cursor = mongoc_collection_find_with_opts(coll, &all, &opts, NULL);
			while (mongoc_cursor_next(cursor, &doc))
			{
				n++;
				nbytes += doc->len;
				digest += fnv1a(bson_get_data(doc), doc->len);
			}
			if (mongoc_cursor_error(cursor, &error))
				die("find failed", &error);
			mongoc_cursor_destroy(cursor);
			printf("docs=%llu bytes=%llu digest=%016llx\n", (unsigned long long) n,
				   (unsigned long long) nbytes, (unsigned long long) digest);
		}
		else
		{
			if (!mongoc_client_command_simple(client, dbname, &ping, NULL, NULL, &error))
				die("ping", &error);
			rc = run_txn(coll, command_json, conninfo, reps, seed);
		}
		bson_destroy(&opts);
		bson_destroy(&ping);
		mongoc_collection_destroy(coll);
		mongoc_client_destroy(client);
		mongoc_uri_destroy(uri);
		mongoc_cleanup();
		return rc;
	}

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
	if (strcmp(mode, "aggregate") == 0)
	{
		bson_t		cursor_opts;

		/* the pipeline as {"pipeline": [...]}, the form the driver accepts */
		if (!bson_iter_init_find(&it, command, "pipeline") || !BSON_ITER_HOLDS_ARRAY(&it))
		{
			fprintf(stderr, "baseline: mode aggregate needs a command with a \"pipeline\" array\n");
			return 2;
		}
		bson_append_iter(&pipeline, "pipeline", -1, &it);
		if (bson_iter_init_find(&it, command, "cursor") && BSON_ITER_HOLDS_DOCUMENT(&it))
		{
			uint32_t	len;
			const uint8_t *data;
			bson_iter_t bs;

			bson_iter_document(&it, &len, &data);
			bson_init_static(&cursor_opts, data, len);
			if (bson_iter_init_find(&bs, &cursor_opts, "batchSize") && BSON_ITER_HOLDS_NUMBER(&bs))
				BSON_APPEND_INT32(&opts, "batchSize", (int32_t) bson_iter_as_int64(&bs));
		}
	}
	else
		BSON_APPEND_INT32(&opts, "batchSize", batch);

	if (strcmp(mode, "find") != 0 && strcmp(mode, "aggregate") != 0)
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
		else if (strcmp(mode, "aggregate") == 0)
		{
			drain(mongoc_collection_aggregate(coll, MONGOC_QUERY_NONE, &pipeline, &opts, NULL), &st);
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
	bson_destroy(&pipeline);
	bson_destroy(command);
	bson_destroy(&opts);
	bson_destroy(&ping);
	mongoc_collection_destroy(coll);
	mongoc_client_destroy(client);
	mongoc_uri_destroy(uri);
	mongoc_cleanup();
	return 0;
}
