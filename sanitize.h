/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * altdma DMA ownership sanitizer (sanitize.c): bounce=sanitize. Every
 * streaming mapping goes through a bounce slot; a shadow byte and an owner
 * bit per pool byte tell what the CPU had given the device and which bytes
 * the device owns, so that the next hand-off to the CPU can see a CPU that
 * wrote while the device owned the buffer, and a device that wrote outside
 * its mapping or into a DMA_TO_DEVICE one.
 */
#ifndef _ALTDMA_SANITIZE_H
#define _ALTDMA_SANITIZE_H

#include <linux/atomic.h>
#include <linux/device.h>
#include <linux/dma-direction.h>
#include <linux/ratelimit.h>
#include <linux/spinlock.h>
#include <linux/types.h>

#include "swiotlb_bounce.h"

/*
 * The byte written over a DMA_FROM_DEVICE or DMA_BIDIRECTIONAL buffer
 * while the device owns it.
 */
#define ALTDMA_SAN_POISON	0xdd

/**
 * enum altdma_san_kind - what the sanitizer found
 * @ALTDMA_SAN_CPU_WRITE: the CPU changed a buffer while the device owned
 *	it (between map or sync_for_device and sync_for_cpu or unmap)
 * @ALTDMA_SAN_DEV_OUTSIDE: the device wrote into the slot's padding,
 *	before or after its data
 * @ALTDMA_SAN_DEV_TO_DEVICE: the device wrote into a DMA_TO_DEVICE mapping
 * @ALTDMA_SAN_KINDS: number of kinds
 */
enum altdma_san_kind {
	ALTDMA_SAN_CPU_WRITE,
	ALTDMA_SAN_DEV_OUTSIDE,
	ALTDMA_SAN_DEV_TO_DEVICE,
	ALTDMA_SAN_KINDS,
};

/**
 * struct altdma_san_call - the DMA call that hands a range to the CPU
 * @what: the call ("unmap_page", "sync_single_for_cpu", ...)
 * @dma: device address of the range's first byte
 * @site: the mapping's call site (&altdma_map.site), 0 if not known
 * @caller: return address of the op (inside the DMA API)
 */
struct altdma_san_call {
	const char *what;
	dma_addr_t dma;
	unsigned long site;
	unsigned long caller;
};

/**
 * struct altdma_san_report - one finding
 * @what: the call that found it
 * @dma: device address of the mapping's data (of its sg segment)
 * @size: bytes of that data
 * @dir: the mapping's direction
 * @first: first changed byte, as an offset from the data (negative: in
 *	the padding before it; at or above @size: in the padding after it)
 * @last: last changed byte, the same way
 * @changed: bytes changed between @first and @last
 * @site: the mapping's call site (0 if not known)
 * @caller: return address of the op that found it
 * @found: the first frame outside the DMA API above @caller
 *
 * Context: written under &altdma_san.lock.
 */
struct altdma_san_report {
	const char *what;
	dma_addr_t dma;
	size_t size;
	u32 dir;
	long first;
	long last;
	size_t changed;
	unsigned long site;
	unsigned long caller;
	unsigned long found;
};

/**
 * struct altdma_san - a device's sanitizer state
 * @dev: the device (reports)
 * @pool: its bounce pool, which every streaming mapping goes through
 * @lock: serialises the hand-offs (taken with interrupts off)
 * @shadow: one byte per pool byte: the buffer's bytes as the CPU handed
 *	them to the device at the last map or sync_for_device
 * @own: one bit per pool byte: set while the device owns the byte
 * @checks: hand-offs to the CPU checked (unmaps and sync_for_cpu ranges)
 * @found: findings by &enum altdma_san_kind
 * @rs: report rate limits, per kind
 * @last: the last finding of each kind
 *
 * Context: created and destroyed in process context; used from any
 * context.
 */
struct altdma_san {
	struct device *dev;
	struct altdma_bounce_pool *pool;
	spinlock_t lock;	/* the hand-offs: @shadow, @own, @last */
	u8 *shadow;
	unsigned long *own;
	atomic64_t checks;
	atomic64_t found[ALTDMA_SAN_KINDS];
	struct ratelimit_state rs[ALTDMA_SAN_KINDS];
	struct altdma_san_report last[ALTDMA_SAN_KINDS];
};

extern const char * const altdma_san_kind_names[ALTDMA_SAN_KINDS];

struct altdma_san *altdma_san_create(struct device *dev,
				     struct altdma_bounce_pool *pool);
void altdma_san_destroy(struct altdma_san *san);
void altdma_san_to_device(struct altdma_san *san, phys_addr_t addr,
			  size_t size);
void altdma_san_undo(struct altdma_san *san, phys_addr_t addr, size_t size);
void altdma_san_to_cpu(struct altdma_san *san, phys_addr_t addr, size_t size,
		       bool unmap, const struct altdma_san_call *call);
bool altdma_san_last(struct altdma_san *san, enum altdma_san_kind kind,
		     struct altdma_san_report *rep);

#endif /* _ALTDMA_SANITIZE_H */
