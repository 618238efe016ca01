// SPDX-License-Identifier: GPL-2.0-only
/*
 * altdma IOVA index. Each allocated or cached range is stored under a key
 * that counts down from the top of its region (iova_alloc.c), so the keys
 * the caches keep reusing are small. Keys below table_keys go to a table
 * of up to 16 leaves of 512 slots, a leaf allocated the first time one of
 * its keys is stored: a lookup there is two loads with no call, no lock
 * and no RCU nesting of its own, and a store or an erase is one pointer
 * write. Larger keys go to an xarray.
 *
 * Leaves stay until the index is destroyed, so a domain holds at most
 * 64 KiB of them, and only for the parts of the top of its regions it uses.
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
	for (i = 0; i < ALTDMA_IOVA_LEAVES; i++)
		RCU_INIT_POINTER(ix->leaves[i], NULL);
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
	unsigned int i;

	for (i = 0; i < ALTDMA_IOVA_LEAVES; i++) {
		kfree(rcu_dereference_protected(ix->leaves[i], true));
		RCU_INIT_POINTER(ix->leaves[i], NULL);
	}
	xa_destroy(&ix->xa);
}

/* The leaf holding table key @key, allocated if it is not there yet. */
static struct altdma_iova_leaf *leaf_of(struct altdma_iova_index *ix,
					unsigned long key)
{
	struct altdma_iova_leaf __rcu **p;
	struct altdma_iova_leaf *leaf;

	p = &ix->leaves[key >> ALTDMA_IOVA_LEAF_SHIFT];
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
	leaf = rcu_dereference_protected(ix->leaves[key >> ALTDMA_IOVA_LEAF_SHIFT],
					 true);
	if (leaf)
		RCU_INIT_POINTER(leaf->slot[key & (ALTDMA_IOVA_LEAF_KEYS - 1)],
				 NULL);
}

/**
 * altdma_iova_index_load_xa() - altdma_iova_index_load() for a key above
 *	the table
 * @ix: the index
 * @key: a key of at least &altdma_iova_index.table_keys
 *
 * Context: as altdma_iova_index_load().
 * Return: the range, or NULL.
 */
struct altdma_iova_range *altdma_iova_index_load_xa(struct altdma_iova_index *ix,
						    unsigned long key)
{
	return xa_load(&ix->xa, key);
}

/* The first range in the table at or after *@key, or NULL (*@key moves). */
static struct altdma_iova_range *table_find(struct altdma_iova_index *ix,
					    unsigned long *key)
{
	struct altdma_iova_range *r;
	struct altdma_iova_leaf *leaf;
	unsigned long k;

	for (k = *key; k < ix->table_keys; k++) {
		leaf = rcu_dereference_check(ix->leaves[k >> ALTDMA_IOVA_LEAF_SHIFT],
					     rcu_read_lock_any_held());
		if (!leaf) {
			k |= ALTDMA_IOVA_LEAF_KEYS - 1;
			continue;
		}
		r = rcu_dereference_check(leaf->slot[k & (ALTDMA_IOVA_LEAF_KEYS - 1)],
					  rcu_read_lock_any_held());
		if (r) {
			*key = k;
			return r;
		}
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
