/*-------------------------------------------------------------------------
 *
 * shippable.c
 *		  Decides which operators nutragenie may ever send to MongoDB.
 *
 * An operator is "shippable" when its semantics are fixed and known to
 * deparse.c, so that deparse.c can translate it into a MongoDB query operator
 * with exactly the same result.  That is true of two groups only:
 *
 *	- built-in operators (OID below FirstNormalObjectId): their names and
 *	  input types identify them, and no user can redefine them;
 *	- the comparison operators of our own "objectid" type: both inputs
 *	  objectid, named = <> < <= > >=, and owned by the nutragenie extension
 *	  (an operator of the same name that somebody else created on objectid is
 *	  not ours, and its meaning is unknown).
 *
 * In both groups the implementing function must be immutable.  Whether a
 * shippable operator is actually pushed also depends on its input types,
 * the column it is applied to and the collation: deparse.c decides that.
 *
 * Answers are cached per backend in a hash table keyed by operator OID and
 * flushed whenever pg_operator changes (the extension being dropped and
 * re-created, for instance).
 *
 * Copyright (c) 2026, nutragenie developers
 *
 * IDENTIFICATION
 *		  src/plan/shippable.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/transam.h"
#include "catalog/dependency.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "utils/catcache.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "plan/plan.h"

/* Extension that owns the objectid operators. */

/* One cached answer. */
typedef struct NgShippableEntry
{
	Oid			opno;			/* hash key: must be first */
	bool		shippable;
} NgShippableEntry;

/* Backend-lifetime cache, created on first use in CacheMemoryContext. */
static HTAB *ShippableCache = NULL;

static void shippable_cache_invalidate(Datum arg, int cacheid,
									   uint32 hashvalue);
static void shippable_cache_init(void);
static bool lookup_shippable(Oid opno);
static bool is_comparison_name(const char *name);

/*
 * Flush the whole cache when any pg_operator row changes.  Operators change
 * rarely, so precision is not worth the code.
 */
static void
shippable_cache_invalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	HASH_SEQ_STATUS status;
	NgShippableEntry *entry;

	hash_seq_init(&status, ShippableCache);
	while ((entry = (NgShippableEntry *) hash_seq_search(&status)) != NULL)
	{
		if (hash_search(ShippableCache, &entry->opno, HASH_REMOVE,
						NULL) == NULL)
			elog(ERROR, "hash table corrupted");
	}
}

/*
 * Create the cache and register its invalidation callback.  Can throw (out
 * of memory) only before anything is registered.
 */
static void
shippable_cache_init(void)
{
	HASHCTL		ctl;

	if (CacheMemoryContext == NULL)
		CreateCacheMemoryContext();

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(NgShippableEntry);
	ctl.hcxt = CacheMemoryContext;
	ShippableCache = hash_create("nutragenie shippable operators", 64, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	CacheRegisterSyscacheCallback(OPEROID, shippable_cache_invalidate,
								  (Datum) 0);
}

/* Is this one of the six comparison operator names? */
static bool
is_comparison_name(const char *name)
{
	return strcmp(name, "=") == 0 || strcmp(name, "<>") == 0 ||
		strcmp(name, "<") == 0 || strcmp(name, "<=") == 0 ||
		strcmp(name, ">") == 0 || strcmp(name, ">=") == 0;
}

/*
 * The uncached test.  Looks at pg_operator, pg_proc and pg_depend; can
 * throw only on catalog errors.
 */
static bool
lookup_shippable(Oid opno)
{
	HeapTuple	tup;
	Form_pg_operator form;
	bool		result = false;

	tup = SearchSysCache1(OPEROID, ObjectIdGetDatum(opno));
	if (!HeapTupleIsValid(tup))
		return false;			/* concurrently dropped: just don't ship */
	form = (Form_pg_operator) GETSTRUCT(tup);

	if (!OidIsValid(form->oprcode) ||
		func_volatile(form->oprcode) != PROVOLATILE_IMMUTABLE)
		result = false;
	else if (opno < FirstNormalObjectId)
		result = true;
	else
	{
		Oid			objectid_type = ng_objectid_typoid();

		if (OidIsValid(objectid_type) &&
			form->oprleft == objectid_type &&
			form->oprright == objectid_type &&
			form->oprresult == BOOLOID &&
			is_comparison_name(NameStr(form->oprname)))
		{
			Oid			extoid = get_extension_oid(NG_EXTENSION_NAME, true);

			result = OidIsValid(extoid) &&
				getExtensionOfObject(OperatorRelationId, opno) == extoid;
		}
	}

	ReleaseSysCache(tup);
	return result;
}

/*
 * ng_is_shippable_op
 *		May operator "opno" be evaluated by MongoDB at all?
 *
 * True for built-in operators and for the nutragenie objectid comparison
 * operators, provided their function is immutable.  The caller still has to
 * check the operator's name, input types and collation.  Can throw only on
 * catalog access errors.
 */
bool
ng_is_shippable_op(Oid opno)
{
	NgShippableEntry *entry;
	bool		found;
	bool		shippable;

	if (ShippableCache == NULL)
		shippable_cache_init();

	entry = (NgShippableEntry *) hash_search(ShippableCache, &opno,
											 HASH_FIND, NULL);
	if (entry != NULL)
		return entry->shippable;

	/*
	 * Compute before inserting: the lookup may run invalidation callbacks,
	 * which could remove an entry we had already created.
	 */
	shippable = lookup_shippable(opno);

	entry = (NgShippableEntry *) hash_search(ShippableCache, &opno,
											 HASH_ENTER, &found);
	entry->shippable = shippable;
	return shippable;
}
