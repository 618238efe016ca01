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
 * The call site is the first of _RET_IP_, V0 (the return address above
 * it) and V1 (the one above V0) that is not in the DMA API: _RET_IP_
 * itself when the DMA API function tail-called the op (6.1 without
 * DMA_API_DEBUG), V0 usually, V1 under a wrapper such as dma_map_sgtable().
 * Whether an address is in the DMA API is decided by its symbol's name,
 * once per address.
 *
 * The stack is read where the unwinder once found those frames. Between
 * altdma_map_site()'s local "anchor" and V0's slot, every frame belongs to
 * code that is the same for every call through one _RET_IP_, so the
 * distance is the same too; between V0's slot and V1's lies the frame of
 * the function V0 returns into, whose size depends only on V0. Both are
 * learnt from the unwinder (altdma_ret_slots(), in altdma_compat.h) the
 * first time a _RET_IP_ or a V0 is seen; after that a map looks up one or
 * two small tables and reads at most two stack words. Table entries are
 * written once: a full table means "do not know" (site 0), never a
 * rewrite.
 */

#include <linux/compiler.h>
#include <linux/hash.h>
#include <linux/kallsyms.h>
#include <linux/stacktrace.h>
#include <linux/string.h>

#include "altdma_compat.h"
#include "dma_iommu_ops.h"

/*
 * Entries probed per lookup, and the table sizes (log2). Where the DMA API
 * tail-calls the op (6.1), every driver call site is a _RET_IP_ of its
 * own: the stock test VM, with its drivers and test modules, has dozens,
 * and with 32 entries and windows of 8 a new site could find its window
 * full and come out as 0 (one CI run reported a misuse "mapped by 0x0").
 * 512 entries of 24 bytes and windows of 16 leave room for hundreds.
 */
#define ALTDMA_SITE_PROBE	16
#define ALTDMA_SITE_RET_BITS	9
#define ALTDMA_SITE_V0_BITS	9
/* An entry being written; never a return address. */
#define ALTDMA_SITE_BUSY	1UL
/* Largest distance learnt, in words; farther means another stack. */
#define ALTDMA_SITE_MAX_WORDS	1024
/* Frames of the unwind without altdma_ret_slots(): helper, op, API, V0, V1. */
#define ALTDMA_SITE_FRAMES	8

/**
 * struct altdma_site_ent - what is learnt of one return address
 * @key: the return address; 0 free, %ALTDMA_SITE_BUSY being written.
 *	Published with a release store after the other fields.
 * @off: words from the anchor to V0's slot (table by _RET_IP_), or from
 *	V0's slot to V1's (table by V0); 0: not known
 * @api: @key is inside the DMA API, so the site is further up
 */
struct altdma_site_ent {
	unsigned long key;
	unsigned long off;
	bool api;
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
		/* pairs with the release in site_put(): the fields are set */
		k = smp_load_acquire(&e->key);
		if (k == key)
			return e;
		if (!k && !*free)
			*free = e;
	}
	return NULL;
}

static void site_put(struct altdma_site_ent *e, unsigned long key,
		     unsigned long from, unsigned long to, bool api)
{
	unsigned long off = (to - from) / sizeof(long);

	if (to <= from || off >= ALTDMA_SITE_MAX_WORDS)
		off = 0;
	if (!e || cmpxchg(&e->key, 0, ALTDMA_SITE_BUSY) != 0)
		return;
	WRITE_ONCE(e->off, off);
	WRITE_ONCE(e->api, api);
	/* pairs with the acquire in site_find(): publish the fields */
	smp_store_release(&e->key, key);
}

static unsigned long stack_word(unsigned long base, unsigned long off)
{
	return READ_ONCE_NOCHECK(*(unsigned long *)(base + off * sizeof(long)));
}

/* Inside a DMA API function (dma_*, __dma_*, dmam_*)? */
static bool in_dma_api(unsigned long addr)
{
	char sym[KSYM_SYMBOL_LEN];

	sprint_symbol_no_offset(sym, addr);
	return !strncmp(sym, "dma_", 4) || !strncmp(sym, "__dma_", 6) ||
	       !strncmp(sym, "dmam_", 5);
}

/* The slow path: one unwind gives V0, V1 and where they are kept. */
static noinline unsigned long site_learn(unsigned long ret,
					 unsigned long anchor)
{
	bool ret_api = in_dma_api(ret), v0_api;
	struct altdma_site_ent *free;
	unsigned long slot[2], val[2] = { 0, 0 };
	unsigned int n;

	n = ret_api ? altdma_ret_slots(ret, slot, val, 2) : 0;
	if (!site_find(site_by_ret, ALTDMA_SITE_RET_BITS, ret, &free))
		site_put(free, ret, anchor, n ? slot[0] : 0, ret_api);
	if (!ret_api)
		return ret;
	if (!n)
		return 0;
	v0_api = in_dma_api(val[0]);
	if (!site_find(site_by_v0, ALTDMA_SITE_V0_BITS, val[0], &free))
		site_put(free, val[0], slot[0], n == 2 ? slot[1] : 0, v0_api);
	return v0_api ? val[1] : val[0];
}

/* Without altdma_ret_slots(): an unwind on every map. */
static noinline unsigned long site_unwind(unsigned long ret)
{
	unsigned long entries[ALTDMA_SITE_FRAMES];
	unsigned int n, i;

	if (!in_dma_api(ret))
		return ret;
	n = stack_trace_save(entries, ARRAY_SIZE(entries), 0);
	for (i = 0; i + 1 < n; i++) {
		if (entries[i] != ret)
			continue;
		if (i + 2 < n && in_dma_api(entries[i + 1]))
			return entries[i + 2];
		return entries[i + 1];
	}
	return 0;
}

/**
 * altdma_map_site() - the driver's call site of a new mapping
 * @ret: the op's return address (_RET_IP_): inside the DMA API, or in the
 *	driver when the DMA API tail-called the op
 *
 * Once learnt: one or two table lookups and at most two stack reads. The
 * first map through a new _RET_IP_ or V0 unwinds the stack once.
 *
 * Context: any context.
 * Return: the first return address of the call chain outside the DMA API,
 * or 0 when the "callers" parameter is off or nothing is known.
 */
noinline unsigned long altdma_map_site(unsigned long ret)
{
	unsigned long anchor = 0, base, w0, v0;
	struct altdma_site_ent *e, *free;

	if (!READ_ONCE(altdma_track_callers))
		return 0;
	if (!ALTDMA_HAVE_RET_SLOTS)
		return IS_ENABLED(CONFIG_STACKTRACE) ? site_unwind(ret) : 0;
	/* a local of this function is the reference point of the distances */
	base = (unsigned long)&anchor;
	OPTIMIZER_HIDE_VAR(base);
	e = site_find(site_by_ret, ALTDMA_SITE_RET_BITS, ret, &free);
	if (!e)
		return free ? site_learn(ret, base) : 0;
	if (!READ_ONCE(e->api))
		return ret;
	w0 = READ_ONCE(e->off);
	if (!w0)
		return 0;
	v0 = stack_word(base, w0);
	e = site_find(site_by_v0, ALTDMA_SITE_V0_BITS, v0, &free);
	if (!e)
		return free ? site_learn(ret, base) : 0;
	if (!READ_ONCE(e->api))
		return v0;
	return READ_ONCE(e->off) ? stack_word(base, w0 + READ_ONCE(e->off)) : 0;
}
