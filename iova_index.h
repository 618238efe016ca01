/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * altdma IOVA index: the allocated and cached ranges of a domain by key
 * (iova_index.c). The keys the caches keep reusing, the small ones, sit in
 * a two-level table read with no call and no lock; the rest in an xarray.
 */
#ifndef _ALTDMA_IOVA_INDEX_H
#define _ALTDMA_IOVA_INDEX_H

#include <linux/rcupdate.h>
#include <linux/types.h>
#include <linux/xarray.h>

struct altdma_iova_range;

/* Keys in one table leaf (a 4 KiB page of pointers with 8-byte ones). */
#define ALTDMA_IOVA_LEAF_SHIFT		9
#define ALTDMA_IOVA_LEAF_KEYS		BIT(ALTDMA_IOVA_LEAF_SHIFT)
/* Leaves whose pointers sit in the index itself: keys below 8192. */
#define ALTDMA_IOVA_LEAVES		16
#define ALTDMA_IOVA_INLINE_KEYS		(ALTDMA_IOVA_LEAVES * ALTDMA_IOVA_LEAF_KEYS)
/* Leaves at most, the others through &altdma_iova_index.more: keys below 65536. */
#define ALTDMA_IOVA_ALL_LEAVES		128
#define ALTDMA_IOVA_TABLE_KEYS		(ALTDMA_IOVA_ALL_LEAVES * ALTDMA_IOVA_LEAF_KEYS)

/**
 * struct altdma_iova_leaf - one leaf of the table
 * @slot: the range whose key is the leaf's first key plus the slot, or NULL
 */
struct altdma_iova_leaf {
	struct altdma_iova_range __rcu *slot[ALTDMA_IOVA_LEAF_KEYS];
};

/**
 * struct altdma_iova_more - the table's leaves past the first
 *	%ALTDMA_IOVA_LEAVES
 * @leaves: as &altdma_iova_index.leaves, for keys from
 *	%ALTDMA_IOVA_INLINE_KEYS on
 */
struct altdma_iova_more {
	struct altdma_iova_leaf __rcu *leaves[ALTDMA_IOVA_ALL_LEAVES -
					      ALTDMA_IOVA_LEAVES];
};

/**
 * struct altdma_iova_index - ranges by key
 * @fast_keys: keys below this are in @leaves, read inline
 * @table_keys: keys below this are in the table (@leaves, then @more),
 *	the others in @xa; a multiple of %ALTDMA_IOVA_LEAF_KEYS, at most
 *	%ALTDMA_IOVA_TABLE_KEYS
 * @leaves: leaves allocated when a key in them is first stored, freed
 *	with the index
 * @more: the pointers to the other leaves, allocated when the first of
 *	them is, freed with the index
 * @xa: the other keys
 *
 * Writers hold their domain's lock; readers are lock-free (see
 * altdma_iova_index_load()).
 */
struct altdma_iova_index {
	unsigned long fast_keys;
	unsigned long table_keys;
	struct altdma_iova_leaf __rcu *leaves[ALTDMA_IOVA_LEAVES];
	struct altdma_iova_more __rcu *more;
	struct xarray xa;
};

void altdma_iova_index_init(struct altdma_iova_index *ix,
			    unsigned long table_keys);
void altdma_iova_index_destroy(struct altdma_iova_index *ix);
int altdma_iova_index_store(struct altdma_iova_index *ix, unsigned long key,
			    struct altdma_iova_range *r);
void altdma_iova_index_erase(struct altdma_iova_index *ix, unsigned long key);
struct altdma_iova_range *
altdma_iova_index_load_slow(struct altdma_iova_index *ix, unsigned long key);
struct altdma_iova_range *altdma_iova_index_find(struct altdma_iova_index *ix,
						 unsigned long *key);

/* The start of altdma_iova_index_for_each(): key 0. */
static inline unsigned long *altdma_iova_index_first(unsigned long *key)
{
	*key = 0;
	return key;
}

/**
 * altdma_iova_index_for_each() - walk an index in key order
 * @ix: the index
 * @key: an unsigned long, set to each range's key
 * @r: set to each range
 *
 * Context: as altdma_iova_index_find().
 */
#define altdma_iova_index_for_each(ix, key, r)				\
	for (unsigned long *__k = altdma_iova_index_first(&(key));	\
	     ((r) = altdma_iova_index_find((ix), __k)); (*__k)++)

/**
 * altdma_iova_index_load() - the range stored under a key
 * @ix: the index
 * @key: the key
 *
 * A key below &altdma_iova_index.fast_keys costs two dependent loads,
 * inline; one in the rest of the table three, and a call; any other an
 * xa_load().
 *
 * Context: any context, in an RCU read-side section of any kind (a range
 * or leaf leaving the index is freed after a grace period), or with the
 * domain lock held.
 * Return: the range, or NULL.
 */
static inline struct altdma_iova_range *
altdma_iova_index_load(struct altdma_iova_index *ix, unsigned long key)
{
	struct altdma_iova_leaf *leaf;

	if (unlikely(key >= ix->fast_keys))
		return altdma_iova_index_load_slow(ix, key);
	leaf = rcu_dereference_check(ix->leaves[key >> ALTDMA_IOVA_LEAF_SHIFT],
				     rcu_read_lock_any_held());
	if (!leaf)
		return NULL;
	return rcu_dereference_check(leaf->slot[key & (ALTDMA_IOVA_LEAF_KEYS - 1)],
				     rcu_read_lock_any_held());
}

#endif /* _ALTDMA_IOVA_INDEX_H */
