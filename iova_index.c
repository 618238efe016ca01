// SPDX-License-Identifier: GPL-2.0-only
/*
 * altdma IOVA index. Each allocated or cached range is stored under a key
 * that counts down from the top of its region (iova_alloc.c), so the keys
 * the caches keep reusing are small. Keys below table_keys go to a table
 * of up to 128 leaves of 512 slots, a leaf allocated the first time one of
 * its keys is stored. The pointers to the first 16 leaves sit in the index:
 * a lookup there is two loads with no call, no lock and no RCU nesting of
 * its own. The other 112 sit in an array allocated with the first of them:
 * a lookup there is three loads and a call. A store or an erase is one
 * pointer write. Larger keys go to an xarray.
 *
 * Leaves stay until the index is destroyed, so a domain holds at most
 * 512 KiB of them (64 KiB for keys below 8192), and only for the parts of
 * the top of its regions it uses.
 */

#include <linux/bug.h>
#include <linux/slab.h>

#include "iova_index.h"

/**
 * altdma_iova_index_init() - set up an empty index
 * @ix: the index
 * @table_keys: keys the table covers (rounded up to whole leaves, at most
 *	%ALTDMA_IOVA_TABLE_KEYS); 0 means all of them. A smaller table puts
 *	more keys in the xarray (the model test of iova_alloc uses both).
 *
 * Context: any context.
 */
void altdma_iova_index_init(struct altdma_iova_index *ix,
			    unsigned long table_keys)
{
	unsigned int i;

	if (!table_keys || table_keys > ALTDMA_IOVA_TABLE_KEYS)
		table_keys = ALTDMA_IOVA_TABLE_KEYS;
	ix->table_keys = round_up(table_keys, ALTDMA_IOVA_LEAF_KEYS);
	ix->fast_keys = min_t(unsigned long, ix->table_keys,
			      ALTDMA_IOVA_INLINE_KEYS);
	for (i = 0; i < ALTDMA_IOVA_LEAVES; i++)
		RCU_INIT_POINTER(ix->leaves[i], NULL);
	RCU_INIT_POINTER(ix->more, NULL);
	xa_init_flags(&ix->xa, XA_FLAGS_LOCK_IRQ);
}

/**
 * altdma_iova_index_destroy() - free what an index holds (not the ranges)
 * @ix: the index; nobody may use it any more
 *
 * Context: process context.
 */
void altdma_iova_index_destroy(struct altdma_iova_index *ix)
{
	struct altdma_iova_more *more;
	unsigned int i;

	more = rcu_dereference_protected(ix->more, true);
	for (i = 0; i < ALTDMA_IOVA_LEAVES; i++) {
		kfree(rcu_dereference_protected(ix->leaves[i], true));
		RCU_INIT_POINTER(ix->leaves[i], NULL);
	}
	for (i = 0; more && i < ARRAY_SIZE(more->leaves); i++)
		kfree(rcu_dereference_protected(more->leaves[i], true));
	kfree(more);
	RCU_INIT_POINTER(ix->more, NULL);
	xa_destroy(&ix->xa);
}

/*
 * Leaf @li of the table, or NULL. Context: as altdma_iova_index_load() (an
 * RCU read-side section of any kind, or the domain lock).
 */
static struct altdma_iova_leaf *leaf_read(struct altdma_iova_index *ix,
					  unsigned long li)
{
	struct altdma_iova_more *more;

	if (li < ALTDMA_IOVA_LEAVES)
		return rcu_dereference_check(ix->leaves[li],
					     rcu_read_lock_any_held());
	more = rcu_dereference_check(ix->more, rcu_read_lock_any_held());
	if (!more)
		return NULL;
	return rcu_dereference_check(more->leaves[li - ALTDMA_IOVA_LEAVES],
				     rcu_read_lock_any_held());
}

/*
 * Where the pointer to leaf @li sits, with the array past the first leaves
 * allocated if it is not there yet; NULL without memory. Domain lock held.
 */
static struct altdma_iova_leaf __rcu **leaf_ptr(struct altdma_iova_index *ix,
						unsigned long li)
{
	struct altdma_iova_more *more;

	if (li < ALTDMA_IOVA_LEAVES)
		return &ix->leaves[li];
	more = rcu_dereference_protected(ix->more, true);
	if (!more) {
		more = kzalloc(sizeof(*more), GFP_ATOMIC | __GFP_NOWARN);
		if (!more)
			return NULL;
		rcu_assign_pointer(ix->more, more);
	}
	return &more->leaves[li - ALTDMA_IOVA_LEAVES];
}

/* The leaf holding table key @key, allocated if it is not there yet. */
static struct altdma_iova_leaf *leaf_of(struct altdma_iova_index *ix,
					unsigned long key)
{
	struct altdma_iova_leaf __rcu **p;
	struct altdma_iova_leaf *leaf;

	p = leaf_ptr(ix, key >> ALTDMA_IOVA_LEAF_SHIFT);
	if (!p)
		return NULL;
	leaf = rcu_dereference_protected(*p, true);
	if (leaf)
		return leaf;
	leaf = kzalloc(sizeof(*leaf), GFP_ATOMIC | __GFP_NOWARN);
	if (leaf)
		rcu_assign_pointer(*p, leaf);
	return leaf;
}

/**
 * altdma_iova_index_store() - store a range under a key that has none
 * @ix: the index
 * @key: the key
 * @r: the range
 *
 * Context: any context; the caller holds its domain's lock (which orders
 * every store and erase). Memory comes from GFP_ATOMIC.
 * Return: 0, or -ENOMEM (nothing stored).
 */
int altdma_iova_index_store(struct altdma_iova_index *ix, unsigned long key,
			    struct altdma_iova_range *r)
{
	struct altdma_iova_leaf *leaf;

	if (key >= ix->table_keys)
		return xa_err(xa_store(&ix->xa, key, r,
				       GFP_ATOMIC | __GFP_NOWARN));
	leaf = leaf_of(ix, key);
	if (!leaf)
		return -ENOMEM;
	/* the range's fields before the pointer; pairs with the reader's */
	rcu_assign_pointer(leaf->slot[key & (ALTDMA_IOVA_LEAF_KEYS - 1)], r);
	return 0;
}

/**
 * altdma_iova_index_erase() - remove what is stored under a key
 * @ix: the index
 * @key: the key
 *
 * Context: any context; the caller holds its domain's lock.
 */
void altdma_iova_index_erase(struct altdma_iova_index *ix, unsigned long key)
{
	struct altdma_iova_leaf *leaf;

	if (key >= ix->table_keys) {
		xa_erase(&ix->xa, key);
		return;
	}
	leaf = leaf_read(ix, key >> ALTDMA_IOVA_LEAF_SHIFT);
	if (leaf)
		RCU_INIT_POINTER(leaf->slot[key & (ALTDMA_IOVA_LEAF_KEYS - 1)],
				 NULL);
}

/**
 * altdma_iova_index_load_slow() - altdma_iova_index_load() for a key past
 *	the leaves it reads inline
 * @ix: the index
 * @key: a key of at least &altdma_iova_index.fast_keys
 *
 * Context: as altdma_iova_index_load().
 * Return: the range, or NULL.
 */
struct altdma_iova_range *
altdma_iova_index_load_slow(struct altdma_iova_index *ix, unsigned long key)
{
	struct altdma_iova_leaf *leaf;

	if (key >= ix->table_keys)
		return xa_load(&ix->xa, key);
	leaf = leaf_read(ix, key >> ALTDMA_IOVA_LEAF_SHIFT);
	if (!leaf)
		return NULL;
	return rcu_dereference_check(leaf->slot[key & (ALTDMA_IOVA_LEAF_KEYS - 1)],
				     rcu_read_lock_any_held());
}

/* The first range in the table at or after *@key, or NULL (*@key moves). */
static struct altdma_iova_range *table_find(struct altdma_iova_index *ix,
					    unsigned long *key)
{
	struct altdma_iova_range *r;
	struct altdma_iova_leaf *leaf;
	unsigned long k = *key, end;

	while (k < ix->table_keys) {
		leaf = leaf_read(ix, k >> ALTDMA_IOVA_LEAF_SHIFT);
		end = (k | (ALTDMA_IOVA_LEAF_KEYS - 1)) + 1;
		for (; leaf && k < end; k++) {
			r = rcu_dereference_check(leaf->slot[k & (ALTDMA_IOVA_LEAF_KEYS - 1)],
						  rcu_read_lock_any_held());
			if (r) {
				*key = k;
				return r;
			}
		}
		k = end;
	}
	*key = k;
	return NULL;
}

/**
 * altdma_iova_index_find() - the range with the smallest key at or above one
 * @ix: the index
 * @key: where to start; set to the key of the range found
 *
 * Context: any context. The range stays valid memory only while the
 * caller's RCU read-side section (or the domain lock, or its knowing that
 * nothing is freed) lasts. Ranges stored or erased meanwhile may or may
 * not be seen.
 * Return: the range, or NULL if there is none at or above *@key.
 */
struct altdma_iova_range *altdma_iova_index_find(struct altdma_iova_index *ix,
						 unsigned long *key)
{
	struct altdma_iova_range *r;

	/* as xa_find(), which the rest of the walk is */
	rcu_read_lock();
	r = table_find(ix, key);
	rcu_read_unlock();
	return r ?: xa_find(&ix->xa, key, ULONG_MAX, XA_PRESENT);
}
