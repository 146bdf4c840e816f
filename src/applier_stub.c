/*
 * applier_stub.c -- TEMPORARY weak placeholders for src/applier.c while it
 * is being written; the real definitions override these at link time.
 * To be deleted once src/applier.c lands.
 */
#include "postgres.h"

#include "fmgr.h"

#include "nutragenie.h"

#define NG_WEAK __attribute__((weak))

NG_WEAK void ng_applier_define_gucs(void) {}
NG_WEAK void ng_applier_shmem_init(void) {}
NG_WEAK bool ng_applier_available(void) { return false; }
NG_WEAK void ng_applier_ensure_worker(void) {}
NG_WEAK void ng_applier_wait_for_commit(void) {}

NG_WEAK PGDLLEXPORT Datum ng_bson_to_jsonb(PG_FUNCTION_ARGS);
NG_WEAK PGDLLEXPORT const Pg_finfo_record *pg_finfo_ng_bson_to_jsonb(void);
NG_WEAK const Pg_finfo_record *pg_finfo_ng_bson_to_jsonb(void)
{ static const Pg_finfo_record r = {1}; return &r; }
NG_WEAK Datum ng_bson_to_jsonb(PG_FUNCTION_ARGS) { PG_RETURN_NULL(); }

NG_WEAK PGDLLEXPORT Datum ng_applier_wake(PG_FUNCTION_ARGS);
NG_WEAK PGDLLEXPORT const Pg_finfo_record *pg_finfo_ng_applier_wake(void);
NG_WEAK const Pg_finfo_record *pg_finfo_ng_applier_wake(void)
{ static const Pg_finfo_record r = {1}; return &r; }
NG_WEAK Datum ng_applier_wake(PG_FUNCTION_ARGS) { PG_RETURN_BOOL(false); }
