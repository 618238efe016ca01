// SPDX-License-Identifier: GPL-2.0-only
/*
 * altdma DMA ownership sanitizer (bounce=sanitize).
 *
 * Every streaming mapping of a sanitized device goes through a bounce slot
 * (dma_iommu_ops.c bounces every page and sg entry, aligned or not), so
 * the driver's buffer and the device's copy are apart. For each pool byte
 * the sanitizer keeps a shadow byte and an owner bit:
 *
 * - Hand-off to the device (map, sync_for_device), after the pool copied
 *   the buffer into the slot: the shadow takes the buffer's bytes, the
 *   owner bits are set, and a DMA_FROM_DEVICE or DMA_BIDIRECTIONAL buffer
 *   is poisoned (ALTDMA_SAN_POISON): its bytes are undefined for the CPU
 *   until the next sync_for_cpu or unmap, so a driver that reads early
 *   reads poison, not stale data that looks right.
 * - Hand-off to the CPU (sync_for_cpu, unmap), before the pool copies the
 *   slot back: every byte the device owned must be as the CPU left it
 *   (the shadow for DMA_TO_DEVICE, the poison otherwise); a change is a
 *   CPU write while the device owned the buffer. At unmap the slot's
 *   padding must still be zero (the pool zeroes it at map) and a
 *   DMA_TO_DEVICE slot must still hold the shadow: else the device wrote
 *   where it may not. Then the poisoned bytes get their shadow back and
 *   the owner bits are cleared, so whatever the pool copies (or, with
 *   DMA_ATTR_SKIP_CPU_SYNC, does not copy) leaves the buffer exactly as
 *   swiotlb would.
 *
 * Before a sync_for_device the owned bytes are unpoisoned the same way, so
 * the pool copies the CPU's view into the slot, as swiotlb does.
 * Findings are counted per kind, traced (altdma_sanitize), kept (the last
 * of each kind, for debugfs and tests) and reported in one rate-limited
 * line per device and kind; the mapping itself goes on unchanged.
 */

#define pr_fmt(fmt) "altdma: " fmt

#include <linux/bitmap.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vmalloc.h>

#include "altdma_dev.h"
#include "altdma_trace.h"
#include "sanitize.h"

const char * const altdma_san_kind_names[ALTDMA_SAN_KINDS] = {
	[ALTDMA_SAN_CPU_WRITE] = "CPU wrote to a buffer the device owned",
	[ALTDMA_SAN_DEV_OUTSIDE] = "device wrote outside its mapping",
	[ALTDMA_SAN_DEV_TO_DEVICE] = "device wrote into a to-device mapping",
};

static const char * const san_dir_names[] = {
	[DMA_BIDIRECTIONAL] = "bidi",
	[DMA_TO_DEVICE] = "to_dev",
	[DMA_FROM_DEVICE] = "from_dev",
	[DMA_NONE] = "none",
};

/* Changed bytes found by a check, as offsets from the mapping's data. */
struct san_diff {
	long first;
	long last;
	size_t n;
};

/*
 * Add to @d the bytes of @a that differ from @b, or from @pat when @b is
 * NULL; @base is the offset of @a[0]. Called in increasing offset order.
 */
static void diff_bytes(const u8 *a, const u8 *b, u8 pat, size_t len,
		       long base, struct san_diff *d)
{
	size_t i;

	if (!len || (b ? !memcmp(a, b, len) : !memchr_inv(a, pat, len)))
		return;
	for (i = 0; i < len; i++) {
		if (a[i] == (b ? b[i] : pat))
			continue;
		if (!d->n)
			d->first = base + (long)i;
		d->last = base + (long)i;
		d->n++;
	}
}

/* The bytes still poisoned get back what the CPU had handed over. */
static void unpoison(u8 *orig, const u8 *shadow, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (orig[i] == ALTDMA_SAN_POISON)
			orig[i] = shadow[i];
}

/**
 * altdma_san_create() - set up the sanitizer of a device
 * @dev: the device
 * @pool: its bounce pool
 *
 * Allocates a shadow byte and an owner bit for every pool byte.
 *
 * Context: process context, may sleep.
 * Return: the state, or NULL without memory.
 */
struct altdma_san *altdma_san_create(struct device *dev,
				     struct altdma_bounce_pool *pool)
{
	struct altdma_san *san = kzalloc(sizeof(*san), GFP_KERNEL);
	int i;

	if (!san)
		return NULL;
	san->dev = dev;
	san->pool = pool;
	spin_lock_init(&san->lock);
	san->shadow = vzalloc(pool->size);
	san->own = vzalloc(BITS_TO_LONGS(pool->size) * sizeof(long));
	if (!san->shadow || !san->own) {
		altdma_san_destroy(san);
		return NULL;
	}
	for (i = 0; i < ALTDMA_SAN_KINDS; i++)
		ratelimit_state_init(&san->rs[i], 5 * HZ, 3);
	return san;
}

/**
 * altdma_san_destroy() - free a sanitizer
 * @san: the state, or NULL
 *
 * Context: process context; no mapping may use it any more.
 */
void altdma_san_destroy(struct altdma_san *san)
{
	if (!san)
		return;
	vfree(san->shadow);
	vfree(san->own);
	kfree(san);
}

/**
 * altdma_san_to_device() - the device takes a range of a bounced buffer
 * @san: the device's sanitizer
 * @addr: bounce address of the range
 * @size: bytes
 *
 * Called after the pool filled the slot (map) or copied the range into it
 * (sync_for_device): the shadow takes the buffer's bytes, the device owns
 * them, and a buffer the device may write is poisoned.
 *
 * Context: any context.
 */
void altdma_san_to_device(struct altdma_san *san, phys_addr_t addr,
			  size_t size)
{
	struct altdma_bounce_where w;
	unsigned long flags;
	size_t idx;
	u8 *orig;

	if (altdma_bounce_locate(san->pool, addr, size, &w))
		return;
	idx = w.index + (addr - w.data);
	orig = phys_to_virt(w.orig + (addr - w.data));
	spin_lock_irqsave(&san->lock, flags);
	memcpy(san->shadow + idx, orig, size);
	bitmap_set(san->own, idx, size);
	if (w.dir != DMA_TO_DEVICE)
		memset(orig, ALTDMA_SAN_POISON, size);
	spin_unlock_irqrestore(&san->lock, flags);
}

/*
 * Walk the runs of bytes the device owns in [@idx, @idx + @size) of the
 * pool: check each against the shadow or the poison (@d may be NULL: no
 * check), unpoison it, and give it to the CPU. Under the lock.
 */
static void take_owned(struct altdma_san *san,
		       const struct altdma_bounce_where *w, size_t idx,
		       size_t size, struct san_diff *d)
{
	size_t end = idx + size, run, run_end, off;
	u8 *orig = phys_to_virt(w->orig);

	for (run = find_next_bit(san->own, end, idx); run < end;
	     run = find_next_bit(san->own, end, run_end)) {
		run_end = find_next_zero_bit(san->own, end, run);
		off = run - w->index;
		if (w->dir == DMA_TO_DEVICE) {
			if (d)
				diff_bytes(orig + off, san->shadow + run, 0,
					   run_end - run, off, d);
		} else {
			if (d)
				diff_bytes(orig + off, NULL, ALTDMA_SAN_POISON,
					   run_end - run, off, d);
			unpoison(orig + off, san->shadow + run, run_end - run);
		}
		bitmap_clear(san->own, run, run_end - run);
	}
}

/**
 * altdma_san_undo() - give a range back to the CPU unchecked
 * @san: the device's sanitizer
 * @addr: bounce address of the range
 * @size: bytes
 *
 * The poisoned bytes get back what the CPU had handed over and the device
 * no longer owns them: before the pool copies the buffer into the slot
 * again (sync_for_device), and on the error path of a map.
 *
 * Context: any context.
 */
void altdma_san_undo(struct altdma_san *san, phys_addr_t addr, size_t size)
{
	struct altdma_bounce_where w;
	unsigned long flags;

	if (altdma_bounce_locate(san->pool, addr, size, &w))
		return;
	spin_lock_irqsave(&san->lock, flags);
	take_owned(san, &w, w.index + (addr - w.data), size, NULL);
	spin_unlock_irqrestore(&san->lock, flags);
}

/* Count, trace, keep and (rate-limited) report one finding. */
static noinline void san_report(struct altdma_san *san,
				enum altdma_san_kind kind,
				const struct san_diff *d,
				const struct altdma_bounce_where *w,
				phys_addr_t addr,
				const struct altdma_san_call *call)
{
	struct altdma_san_report r = {
		.what = call->what,
		.dma = call->dma - (addr - w->data),
		.size = w->size,
		.dir = w->dir,
		.first = d->first,
		.last = d->last,
		.changed = d->n,
		.site = call->site,
		.caller = call->caller,
		.found = altdma_caller_of(call->caller),
	};
	unsigned long flags;

	atomic64_inc(&san->found[kind]);
	trace_altdma_sanitize(san->dev, altdma_san_kind_names[kind], r.what,
			      r.dma, r.size, r.dir, r.first, r.last, r.site,
			      r.found ?: r.caller);
	spin_lock_irqsave(&san->lock, flags);
	san->last[kind] = r;
	spin_unlock_irqrestore(&san->lock, flags);
	if (!__ratelimit(&san->rs[kind]))
		return;
	dev_warn(san->dev, "altdma: sanitize: %s: dma %pad size %zu dir %s: bytes %ld..%ld of the data changed (%zu bytes); mapped by %pS; found by %s, caller %pS (from %pS)\n",
		 altdma_san_kind_names[kind], &r.dma, r.size,
		 san_dir_names[r.dir & 3], r.first, r.last, r.changed,
		 (void *)r.site, r.what, (void *)r.caller, (void *)r.found);
}

/**
 * altdma_san_to_cpu() - the CPU takes a range back: check it
 * @san: the device's sanitizer
 * @addr: bounce address of the range
 * @size: bytes
 * @unmap: the whole mapping is being unmapped: check the slot too
 * @call: the call, for the report
 *
 * Called before the pool copies the slot back. The bytes the device owned
 * must be as the CPU handed them over; at unmap the padding around the
 * data must be zero and a DMA_TO_DEVICE slot must hold what was handed
 * over. Each kind found is reported once per call. Then the range is
 * unpoisoned and belongs to the CPU; nothing else changes.
 *
 * Context: any context.
 */
void altdma_san_to_cpu(struct altdma_san *san, phys_addr_t addr, size_t size,
		       bool unmap, const struct altdma_san_call *call)
{
	struct san_diff d[ALTDMA_SAN_KINDS] = { };
	struct altdma_bounce_where w;
	unsigned long flags;
	size_t before, after;
	u8 *slot;
	int k;

	if (altdma_bounce_locate(san->pool, addr, size, &w))
		return;
	slot = phys_to_virt(w.data);
	before = w.data - w.span;
	after = w.span_len - before - w.size;
	atomic64_inc(&san->checks);
	spin_lock_irqsave(&san->lock, flags);
	take_owned(san, &w, w.index + (addr - w.data), size,
		   &d[ALTDMA_SAN_CPU_WRITE]);
	if (unmap) {
		diff_bytes(slot - before, NULL, 0, before, -(long)before,
			   &d[ALTDMA_SAN_DEV_OUTSIDE]);
		diff_bytes(slot + w.size, NULL, 0, after, w.size,
			   &d[ALTDMA_SAN_DEV_OUTSIDE]);
		if (w.dir == DMA_TO_DEVICE)
			diff_bytes(slot, san->shadow + w.index, 0, w.size, 0,
				   &d[ALTDMA_SAN_DEV_TO_DEVICE]);
	}
	spin_unlock_irqrestore(&san->lock, flags);
	for (k = 0; k < ALTDMA_SAN_KINDS; k++)
		if (unlikely(d[k].n))
			san_report(san, k, &d[k], &w, addr, call);
}

/**
 * altdma_san_last() - the last finding of a kind
 * @san: the device's sanitizer
 * @kind: the kind
 * @rep: filled in
 *
 * Context: any context.
 * Return: true if there was one.
 */
bool altdma_san_last(struct altdma_san *san, enum altdma_san_kind kind,
		     struct altdma_san_report *rep)
{
	unsigned long flags;

	spin_lock_irqsave(&san->lock, flags);
	*rep = san->last[kind];
	spin_unlock_irqrestore(&san->lock, flags);
	return atomic64_read(&san->found[kind]) != 0;
}
