// SPDX-License-Identifier: GPL-2.0-only
/*
 * altdma: the driver's call site of every mapping, cheaply.
 *
 * An op's own return address (_RET_IP_) is inside the DMA API function
 * that called it (dma_map_page_attrs(), __dma_map_sg_attrs(), ...), which
 * names no driver, and without frame pointers __builtin_return_address(1)
 * is not reliable. An unwind per map (stack_trace_save()) is, but costs
 * more than the rest of the map (README, Observability).
 *
 * So the stack is read where the unwinder once found the frames. Between
 * altdma_map_site()'s local "anchor" and the slot holding the return
 * address above _RET_IP_ (V0: the driver, or a DMA API wrapper such as
 * dma_map_sgtable()), every frame belongs to code that is the same for
 * every call through one _RET_IP_, so the distance is the same too; and
 * between V0's slot and the next one (V1) lies the frame of the function
 * V0 returns into, whose size depends only on V0. Both distances are
 * learnt from the unwinder (altdma_ret_slots(), in altdma_compat.h) the
 * first time a _RET_IP_ or a V0 is seen; after that a map reads two stack
 * words and looks two small tables up. Table entries are written once: a
 * full table means "do not know" (no V1, or no site), never a rewrite.
 */

#include <linux/compiler.h>
#include <linux/hash.h>
#include <linux/stacktrace.h>

#include "altdma_compat.h"
#include "dma_iommu_ops.h"

/* Entries probed per lookup, and the table sizes (log2). */
#define ALTDMA_SITE_PROBE	8
#define ALTDMA_SITE_RET_BITS	5
#define ALTDMA_SITE_V0_BITS	7
/* An entry being written; never a return address. */
#define ALTDMA_SITE_BUSY	1UL
/* Largest distance learnt, in words; farther means another stack. */
#define ALTDMA_SITE_MAX_WORDS	1024
/* Frames of the unwind without altdma_ret_slots(): helper, op, API, V0, V1. */
#define ALTDMA_SITE_FRAMES	8

/**
 * struct altdma_site_ent - one learnt distance
 * @key: the return address it is for; 0 free, %ALTDMA_SITE_BUSY being
 *	written. Published with a release store after @off.
 * @off: words from the anchor to V0's slot (table by _RET_IP_), or from
 *	V0's slot to V1's (table by V0); 0: not known
 */
struct altdma_site_ent {
	unsigned long key;
	unsigned long off;
};

static struct altdma_site_ent site_by_ret[1 << ALTDMA_SITE_RET_BITS];
static struct altdma_site_ent site_by_v0[1 << ALTDMA_SITE_V0_BITS];

/* Module parameter "callers"; read once per map. */
bool altdma_track_callers = true;

/* The entry for @key, or NULL; then *@free is a free entry or NULL. */
static struct altdma_site_ent *site_find(struct altdma_site_ent *tab,
					 unsigned int bits, unsigned long key,
					 struct altdma_site_ent **free)
{
	unsigned long h = hash_long(key, bits), k;
	struct altdma_site_ent *e;
	unsigned int i;

	*free = NULL;
	for (i = 0; i < ALTDMA_SITE_PROBE; i++) {
		e = &tab[(h + i) & ((1UL << bits) - 1)];
		/* pairs with the release in site_put(): @off is set */
		k = smp_load_acquire(&e->key);
		if (k == key)
			return e;
		if (!k && !*free)
			*free = e;
	}
	return NULL;
}

static void site_put(struct altdma_site_ent *e, unsigned long key,
		     unsigned long from, unsigned long to)
{
	unsigned long off = (to - from) / sizeof(long);

	if (to <= from || off >= ALTDMA_SITE_MAX_WORDS)
		off = 0;
	if (!e || cmpxchg(&e->key, 0, ALTDMA_SITE_BUSY) != 0)
		return;
	WRITE_ONCE(e->off, off);
	smp_store_release(&e->key, key);
}

static unsigned long stack_word(unsigned long base, unsigned long off)
{
	return READ_ONCE_NOCHECK(*(unsigned long *)(base + off * sizeof(long)));
}

/* The slow path: one unwind gives V0, V1 and where they are kept. */
static noinline void site_learn(unsigned long ret, unsigned long anchor,
				unsigned long site[2])
{
	struct altdma_site_ent *free;
	unsigned long slot[2];
	unsigned int n;

	n = altdma_ret_slots(ret, slot, site, 2);
	if (!n)
		return;
	if (!site_find(site_by_ret, ALTDMA_SITE_RET_BITS, ret, &free))
		site_put(free, ret, anchor, slot[0]);
	if (n == 2 &&
	    !site_find(site_by_v0, ALTDMA_SITE_V0_BITS, site[0], &free))
		site_put(free, site[0], slot[0], slot[1]);
}

/* Without altdma_ret_slots(): an unwind on every map. */
static noinline void site_unwind(unsigned long ret, unsigned long site[2])
{
	unsigned long entries[ALTDMA_SITE_FRAMES];
	unsigned int n, i;

	n = stack_trace_save(entries, ARRAY_SIZE(entries), 0);
	for (i = 0; i + 1 < n; i++) {
		if (entries[i] != ret)
			continue;
		site[0] = entries[i + 1];
		if (i + 2 < n)
			site[1] = entries[i + 2];
		return;
	}
}

/**
 * altdma_map_site() - the driver's call site of a new mapping
 * @ret: the op's return address (_RET_IP_), inside the DMA API
 * @site: gets V0, the return address above @ret (the driver, or a DMA API
 *	wrapper such as dma_map_sgtable()), and V1, the one above V0; zeroes
 *	when the "callers" parameter is off or nothing is known
 *
 * Once learnt: two table lookups and two stack reads. The first map
 * through a new _RET_IP_ or V0 unwinds the stack once.
 *
 * Context: any context.
 */
noinline void altdma_map_site(unsigned long ret, unsigned long site[2])
{
	unsigned long anchor = 0, base, w0;
	struct altdma_site_ent *e, *free;

	site[0] = 0;
	site[1] = 0;
	if (!READ_ONCE(altdma_track_callers))
		return;
	if (!ALTDMA_HAVE_RET_SLOTS) {
		if (IS_ENABLED(CONFIG_STACKTRACE))
			site_unwind(ret, site);
		return;
	}
	/* a local of this function is the reference point of the distances */
	base = (unsigned long)&anchor;
	OPTIMIZER_HIDE_VAR(base);
	e = site_find(site_by_ret, ALTDMA_SITE_RET_BITS, ret, &free);
	if (!e) {
		if (free)
			site_learn(ret, base, site);
		return;
	}
	w0 = READ_ONCE(e->off);
	if (!w0)
		return;
	site[0] = stack_word(base, w0);
	e = site_find(site_by_v0, ALTDMA_SITE_V0_BITS, site[0], &free);
	if (e && READ_ONCE(e->off))
		site[1] = stack_word(base, w0 + READ_ONCE(e->off));
	else if (!e && free)
		site_learn(ret, base, site);
}
