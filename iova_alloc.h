/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * altdma IOVA allocator: an address-ordered tree of ranges augmented with the
 * largest free gap of each subtree, per-CPU range caches (magazines and a
 * bounded depot), strict free semantics and a pluggable allocation policy.
 *
 * All addresses here are in IOVA pages ("pfns") of the domain's granule.
 */
#ifndef _ALTDMA_IOVA_ALLOC_H
#define _ALTDMA_IOVA_ALLOC_H

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/cache.h>
#include <linux/log2.h>
#include <linux/percpu.h>
#include <linux/rbtree.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include "iova_index.h"

/*
 * Sizes up to 2^ALTDMA_IOVA_ALIGN_ORDER pages are rounded up to a power of two
 * and aligned to it, as dma-iommu rounds them; larger sizes are aligned to
 * 2^ALTDMA_IOVA_ALIGN_ORDER pages. The same for every granule, as in Linux.
 */
#define ALTDMA_IOVA_ALIGN_ORDER		5
#define ALTDMA_IOVA_ALIGN_MAX		BIT(ALTDMA_IOVA_ALIGN_ORDER)
/*
 * Cache size classes: 1, 2, 4, ... 512 pages at most (2 MiB of 4 KiB
 * pages; the DMA layer asks for that much, other users get the default
 * below). Above %ALTDMA_IOVA_ALIGN_MAX only sizes that are a power of two
 * are cached.
 */
#define ALTDMA_IOVA_MAX_CLASSES		10
/*
 * Bands of each class's caches: ranges that end at or below
 * &altdma_iova_domain.line32 (band 0, low) and the others (band 1, high).
 * A request with a 32-bit limit pops from the low band, so it neither
 * scans past high ranges nor takes one it cannot use; a wider request
 * takes from the high band only and leaves the low ranges for it.
 */
#define ALTDMA_IOVA_BANDS		2
/* Ranges one magazine holds: the magazine is then exactly 1 KiB. */
#define ALTDMA_IOVA_MAG_SIZE		126
/* Default largest cached size in bytes, as in Linux (128 KiB). */
#define ALTDMA_IOVA_DEFAULT_CACHE_LIMIT	(128 * 1024)
/* Default bound on full magazines in each class's depot. */
#define ALTDMA_IOVA_DEFAULT_DEPOT_MAX	32
/* Default idle time after which the depot gives a magazine back, in ms. */
#define ALTDMA_IOVA_DEFAULT_RECLAIM_MS	100

/* Placements an allocation may have kept out by the avoid hook, at most */
#define ALTDMA_IOVA_AVOID_TRIES		64

/**
 * enum altdma_iova_state - what a range in the tree is
 * @ALTDMA_IOVA_SENTINEL: one of the two fixed end markers of the domain
 * @ALTDMA_IOVA_RESERVED: reserved at set-up; never handed out or freed
 * @ALTDMA_IOVA_ALLOCATED: handed out to a caller
 * @ALTDMA_IOVA_CACHED: freed by its caller, parked in a per-CPU cache or the
 *	depot; still in the tree so no one else can take it
 * @ALTDMA_IOVA_DEAD: removed from the tree, waiting for an RCU grace period
 */
enum altdma_iova_state {
	ALTDMA_IOVA_SENTINEL,
	ALTDMA_IOVA_RESERVED,
	ALTDMA_IOVA_ALLOCATED,
	ALTDMA_IOVA_CACHED,
	ALTDMA_IOVA_DEAD,
};

/*
 * &altdma_iova_aug.usable stops counting here (2^16 pages: 256 MiB of 4 KiB
 * pages). The free space at the top of a region, which every top-down
 * placement shrinks a little, is the largest gap in every subtree above
 * it: counted exactly, each placement would change the annotation of every
 * range up to the root. Counted up to this cap, it stays the same until
 * that space is nearly used, and the walk up stops early. The annotations
 * stay exact for every request of at most this many pages; a larger one
 * steps from gap to gap among those of this size or more (iova_alloc.c).
 */
#define ALTDMA_IOVA_USABLE_CAP		BIT(16)

/**
 * struct altdma_iova_aug - what a subtree's gaps can hold
 * @usable: most pages any gap in the subtree holds from an
 *	%ALTDMA_IOVA_ALIGN_MAX-aligned start (so a larger request fits in
 *	that gap exactly when its size is at most this), counted up to
 *	%ALTDMA_IOVA_USABLE_CAP
 * @order: 1 + the largest k <= %ALTDMA_IOVA_ALIGN_ORDER such that some gap
 *	holds an aligned block of 2^k pages; 0 if no gap has a free page
 *
 * Both depend only on the ranges' addresses, never on the domain, so the
 * rbtree's augment callbacks can keep them. Together they make placement
 * exact: a request fits in a gap if and only if the gap's own values say so.
 */
struct altdma_iova_aug {
	u32 usable : 24;
	u32 order : 8;
};

/**
 * struct altdma_iova_range - one range in the tree
 * @rb: link in &altdma_iova_domain.tree, under &altdma_iova_domain.lock
 * @rcu: used instead of @rb once the range has left the tree
 * @pfn_lo: first page of the range
 * @pfn_hi: last page of the range (inclusive)
 * @gap: free pages between the previous range and this one
 * @own: what @gap can hold, kept with it (a walk up the tree merges the
 *	children's @sub with it and never works it out again)
 * @sub: what the gaps in the subtree rooted here can hold
 * @npages: size the caller asked for; a free must give the same size. The
 *	range itself may be larger (rounded to a power of two).
 * @state: an &enum altdma_iova_state, changed with cmpxchg so that two
 *	racing frees of one range cannot both succeed
 *
 * A domain's user may embed the range at the start of a larger object of
 * &altdma_iova_config.obj_size bytes (the DMA layer's mapping object): the
 * object is allocated zeroed with the range, parked in the caches with it
 * (its contents kept) and freed with it, after an RCU grace period.
 */
struct altdma_iova_range {
	union {
		struct rb_node rb;
		struct rcu_head rcu;
	};
	unsigned long pfn_lo;
	unsigned long pfn_hi;
	unsigned long gap;
	struct altdma_iova_aug own;
	struct altdma_iova_aug sub;
	unsigned int npages;
	int state;
};

struct altdma_iova_domain;

/**
 * struct altdma_iova_hint - where the last top-down placement below a limit
 *	ended, so that the next one with that limit need not search from the top
 * @r: the range that placement created, or NULL. While it is set, no gap
 *	above @r (clipped at @hi) holds a request like the one recorded: the
 *	search found none, the gap it used keeps less than the request above
 *	@r, and since then ranges were only added above @r (when a range
 *	leaves the tree above @r, at or below @hi, or @r itself leaves, its
 *	successor becomes @r, or the hint goes if that one starts above @hi).
 *	@r starts at or below @hi
 * @hi: the placement's highest page (its limit, clipped to the domain)
 * @npages: the request's size in pages
 * @order: log2 of the request's size and alignment, or -1 for a size above
 *	%ALTDMA_IOVA_ALIGN_MAX pages, aligned to that
 */
struct altdma_iova_hint {
	struct altdma_iova_range *r;
	unsigned long hi;
	unsigned long npages;
	int order;
};

/**
 * struct altdma_iova_policy - where a domain places a new range
 * @name: shown in reports and stats
 * @cached: whether freed ranges may go through the per-CPU caches (a policy
 *	that must not reuse a range early says false)
 * @place: find room for @size pages (already rounded as
 *	altdma_iova_alloc_size() says, and aligned as %ALTDMA_IOVA_ALIGN_ORDER
 *	says) at or below @limit; returns the first pfn or 0 when there is
 *	none. It may set &altdma_iova_domain.placed_below to the range whose
 *	gap holds the pfn (the insert then needs no walk; left NULL, the
 *	insert walks from the root). Called with the domain lock held.
 *
 * The policy is a property of the IOVA domain (seed 002), chosen at init.
 */
struct altdma_iova_policy {
	const char *name;
	bool cached;
	unsigned long (*place)(struct altdma_iova_domain *iovad,
			       unsigned long size, unsigned long limit);
};

extern const struct altdma_iova_policy altdma_iova_policy_tree;
extern const struct altdma_iova_policy altdma_iova_policy_wrap;

/**
 * struct altdma_iova_mag - a magazine of cached ranges of one size class
 * @next: next full magazine while parked in a depot
 * @count: ranges held
 * @ranges: the ranges, all in state %ALTDMA_IOVA_CACHED
 */
struct altdma_iova_mag {
	struct altdma_iova_mag *next;
	unsigned long count;
	struct altdma_iova_range *ranges[ALTDMA_IOVA_MAG_SIZE];
};

/**
 * struct altdma_iova_cpu_cache - one CPU's magazines for one size class
 *	and band (%ALTDMA_IOVA_BANDS)
 * @lock: protects @loaded and @prev. Taken with interrupts off; may be taken
 *	by another CPU that flushes the caches. Lock order: domain lock (only
 *	in altdma_iova_check()), then this lock, then a depot lock.
 * @loaded: magazine allocations pop from and frees push to
 * @prev: a second magazine, swapped with @loaded when that one is empty/full
 * @hits: allocations this cache served (under @lock, as
 *	altdma_iova_get_stats() reads it to add them to the allocations)
 * @puts: frees this cache took (under @lock; added to the frees likewise)
 *
 * The two counters are the only ones a cached allocation or free updates:
 * their pages follow from the class, and the per-CPU
 * &struct altdma_iova_pcpu_stats count what goes through the tree.
 */
struct altdma_iova_cpu_cache {
	/* guards the fields below; see the kernel-doc above for the order */
	spinlock_t lock;
	struct altdma_iova_mag *loaded;
	struct altdma_iova_mag *prev;
	u64 hits;
	u64 puts;
};

/**
 * struct altdma_iova_depot - full magazines of one size class and band,
 *	shared
 * @lock: protects the fields below; taken with interrupts off. It nests
 *	inside a CPU cache lock (and, in altdma_iova_check() and the reclaim
 *	work, inside the domain lock); nothing is taken inside it.
 * @top: stack of full magazines
 * @count: number of magazines in @top, at most
 *	&altdma_iova_domain.depot_max; read without @lock to skip an empty
 *	depot
 * @used: set when a magazine was taken since the last reclaim pass
 */
struct altdma_iova_depot {
	/* guards the fields below, innermost lock; @count is also read without */
	spinlock_t lock;
	struct altdma_iova_mag *top;
	unsigned int count;
	bool used;
};

/**
 * struct altdma_iova_pcpu_stats - per-CPU event counters
 * @allocs: allocations served by the tree
 * @frees: accepted frees that gave a range back to the tree
 * @pages_alloc: pages of @allocs (range sizes)
 * @pages_freed: pages of @frees (range sizes)
 * @cache_misses: cacheable allocations that had to go to the tree
 * @failed_allocs: allocations that failed: no room below the limit (after
 *	a flush of the caches where one could help), an invalid request, or
 *	no memory for a new range object (per CPU: when the space below a
 *	limit is full, every allocation with that limit fails here)
 * @cached_low: ranges parked in a cache at or below
 *	&altdma_iova_domain.line32, put here minus taken here (only the sum
 *	over the CPUs means something)
 */
struct altdma_iova_pcpu_stats {
	u64 allocs;
	u64 frees;
	u64 pages_alloc;
	u64 pages_freed;
	u64 cache_misses;
	u64 failed_allocs;
	long cached_low;
};

/**
 * enum altdma_iova_refusal - why a free was refused
 * @ALTDMA_IOVA_REFUSE_UNKNOWN: no range starts or lies at that pfn
 * @ALTDMA_IOVA_REFUSE_MIDDLE: the pfn is inside a range but not its start
 * @ALTDMA_IOVA_REFUSE_SIZE: the size is not the one allocated
 * @ALTDMA_IOVA_REFUSE_DOUBLE: the range was already freed
 * @ALTDMA_IOVA_REFUSE_RESERVED: the range is reserved
 * @ALTDMA_IOVA_REFUSE_KINDS: number of kinds
 */
enum altdma_iova_refusal {
	ALTDMA_IOVA_REFUSE_UNKNOWN,
	ALTDMA_IOVA_REFUSE_MIDDLE,
	ALTDMA_IOVA_REFUSE_SIZE,
	ALTDMA_IOVA_REFUSE_DOUBLE,
	ALTDMA_IOVA_REFUSE_RESERVED,
	ALTDMA_IOVA_REFUSE_KINDS,
};

/**
 * struct altdma_iova_stats - a snapshot of a domain's counters
 * @live_ranges: ranges handed out and not yet freed or quarantined
 * @pages_in_use: pages of those ranges
 * @quarantined: ranges turned reserved by altdma_iova_quarantine()
 * @quarantined_pages: pages of those ranges
 * @cached_ranges: ranges parked in caches and depot
 * @allocs: successful allocations
 * @frees: accepted frees
 * @cache_hits: allocations served by a cache
 * @cache_misses: cacheable allocations served by the tree
 * @refused: refused frees, by &enum altdma_iova_refusal
 * @refused_total: sum of @refused
 * @failed_allocs: allocations that failed: no room below the limit (after
 *	a flush of the caches where one could help), an invalid request, or
 *	no memory for a new range object
 * @cache_flushes: full cache flushes (after a failed allocation or by call)
 * @depot_mags: full magazines in all depots
 * @avoided: placed ranges kept out by the domain's avoid hook
 */
struct altdma_iova_stats {
	u64 live_ranges;
	u64 pages_in_use;
	u64 quarantined;
	u64 quarantined_pages;
	u64 cached_ranges;
	u64 allocs;
	u64 frees;
	u64 cache_hits;
	u64 cache_misses;
	u64 refused[ALTDMA_IOVA_REFUSE_KINDS];
	u64 refused_total;
	u64 failed_allocs;
	u64 cache_flushes;
	u64 depot_mags;
	u64 avoided;
};

/**
 * struct altdma_iova_domain - an IOVA space
 * @name: used in every report (normally the device's name)
 * @granule: page size of the space in bytes, a power of two >= 4 KiB
 * @shift: log2(@granule)
 * @start_pfn: lowest page that can be handed out (at least 1: IOVA 0 is
 *	never handed out)
 * @end_pfn: highest page that can be handed out
 * @line32: the last page below 4 GiB (or @end_pfn if lower): ranges
 *	cached below it are counted, so a 32-bit request that finds no room
 *	flushes the caches only when that can help, and are cached in their
 *	classes' low band
 * @nofit: "no room at or below this limit for this size", exact, read
 *	without the lock (see iova_alloc.c)
 * @policy: placement policy
 * @obj_size: bytes of each range object (see &struct altdma_iova_range)
 * @cls_of: the cache class of a request of each size up to
 *	%ALTDMA_IOVA_ALIGN_MAX pages (sizes that are rounded up), -1 where it
 *	is not cached (and for 0); set at init, read on every allocation and
 *	free
 * @lock: protects @tree, the augmented gap data, range states other than
 *	the ALLOCATED<->CACHED transitions, @index updates, @wrap_next and
 *	@placed_below.
 *	A spinlock taken with interrupts off, so allocation and free work from
 *	any context. Never taken while a cache or depot lock is held;
 *	altdma_iova_check() takes those inside it, the reclaim work a depot
 *	lock.
 * @tree: ranges ordered by address, including @lo_end and @hi_end
 * @index: ALLOCATED and CACHED ranges by first pfn (the key counts down from
 *	the top of the pfn's region: see iova_alloc.c), read under RCU by the
 *	free path so it validates a free without taking @lock
 * @lo_end: sentinel at @start_pfn - 1
 * @hi_end: sentinel at @end_pfn + 1
 * @wrap_next: the wrap-around policy's cursor: next search starts below it
 * @placed_below: the range whose gap the last placement used, or NULL
 *	(cleared before each placement, set by the policy, read by the insert
 *	that follows it; all under @lock)
 * @hints: the last top-down placement at or below 4 GiB ([0]) and above
 *	([1]); a search with the same limit and a request the hint covers
 *	starts at its range (under @lock)
 * @hint_next: the hint the insert that follows a placement sets, or NULL
 *	(like @placed_below)
 * @hint_req: the limit and request it gets (its @r is not used)
 * @nr_classes: size classes cached (0: caching off)
 * @depot_max: bound on each depot
 * @cpu_caches: per-CPU caches, %ALTDMA_IOVA_BANDS * @nr_classes of them per
 *	CPU, by cache index: class c's low band at 2c, its high band at 2c + 1
 * @depots: one per cache index, allocated with @cpu_caches (NULL when
 *	caching is off)
 * @reclaim: delayed work giving depot magazines back when idle
 * @reclaim_delay: jiffies between two passes of @reclaim
 * @stats: per-CPU event counters
 * @refused: refused frees by kind
 * @reported: kinds of refusal already reported (each is reported once)
 * @cache_flushes: see &altdma_iova_stats
 * @quarantined: see &altdma_iova_stats
 * @quarantined_pages: see &altdma_iova_stats
 * @avoid: if set, called (under @lock) for each range the tree places;
 *	true keeps the range out for good, as a reserved range, and the
 *	placement looks again (altdma_iova_set_avoid())
 * @avoid_arg: passed to @avoid
 * @avoided: ranges @avoid kept out; see &altdma_iova_stats
 */
struct altdma_iova_domain {
	const char *name;
	unsigned long granule;
	unsigned int shift;
	unsigned long start_pfn;
	unsigned long end_pfn;
	unsigned long line32;
	const struct altdma_iova_policy *policy;
	size_t obj_size;
	s8 cls_of[ALTDMA_IOVA_ALIGN_MAX + 1];
	/*
	 * Read by every cached allocation or free, written at init: apart from
	 * the lock's lines. (Of @index, only its xarray's head is written
	 * after init, for keys beyond the table.)
	 */
	unsigned int nr_classes;
	unsigned int depot_max;
	struct altdma_iova_cpu_cache __percpu *cpu_caches;
	struct altdma_iova_depot *depots;
	struct altdma_iova_pcpu_stats __percpu *stats;
	struct altdma_iova_index index;

	/*
	 * guards the tree, gaps, index updates, @wrap_next, @placed_below and
	 * the hints
	 */
	spinlock_t lock ____cacheline_aligned_in_smp;
	struct rb_root tree;
	struct altdma_iova_range lo_end;
	struct altdma_iova_range hi_end;
	unsigned long wrap_next;
	struct altdma_iova_range *placed_below;
	struct altdma_iova_hint hints[2];
	struct altdma_iova_hint *hint_next;
	struct altdma_iova_hint hint_req;
	unsigned long nofit;

	struct delayed_work reclaim;
	unsigned long reclaim_delay;
	atomic64_t refused[ALTDMA_IOVA_REFUSE_KINDS];
	unsigned long reported;
	atomic64_t cache_flushes;
	atomic64_t quarantined;
	atomic64_t quarantined_pages;

	bool (*avoid)(void *arg, unsigned long pfn_lo, unsigned long pfn_hi);
	void *avoid_arg;
	atomic64_t avoided;
};

/**
 * struct altdma_iova_config - how to set up a domain
 * @name: for reports; the string must outlive the domain
 * @granule: IOVA page size in bytes (power of two, >= 4 KiB)
 * @start: lowest usable IOVA in bytes (rounded up; IOVA 0 is never used)
 * @end: highest usable IOVA in bytes (inclusive)
 * @policy: placement policy; NULL means &altdma_iova_policy_tree
 * @cache_limit: largest cached size in bytes; 0 means the default
 *	(%ALTDMA_IOVA_DEFAULT_CACHE_LIMIT). Caching is off for policies that
 *	do not allow it.
 * @depot_max: bound on each depot; 0 means %ALTDMA_IOVA_DEFAULT_DEPOT_MAX
 * @nocache: never cache freed ranges (every free goes back to the tree)
 * @reclaim_ms: how long a depot may sit unused before it gives one magazine
 *	per class back to the tree; 0 means %ALTDMA_IOVA_DEFAULT_RECLAIM_MS
 * @obj_size: bytes of each range object, for a user that embeds
 *	&struct altdma_iova_range at the start of its own object; 0 (or
 *	less than the range) means the range alone
 * @table_keys: index keys kept in the index's table rather than its
 *	xarray (altdma_iova_index_init()); 0 means the default, all the table
 *	can hold
 *
 * Caching covers the power-of-two sizes up to cache_limit / granule pages
 * (and at most 2^(%ALTDMA_IOVA_MAX_CLASSES - 1) pages).
 */
struct altdma_iova_config {
	const char *name;
	unsigned long granule;
	dma_addr_t start;
	dma_addr_t end;
	const struct altdma_iova_policy *policy;
	unsigned long cache_limit;
	unsigned int depot_max;
	bool nocache;
	unsigned int reclaim_ms;
	size_t obj_size;
	unsigned long table_keys;
};

/**
 * struct altdma_iova_space - a domain's address space, from one tree walk
 * @pages: pages from the domain's start pfn to its end pfn
 * @free_pages: pages in no range (the sum of the gaps)
 * @free_gaps: gaps of at least one page
 * @largest_gap: pages in the largest gap
 * @ranges: ranges in the tree by &enum altdma_iova_state (the two
 *	sentinels are not counted; quarantined ranges are reserved ones)
 * @range_pages: pages those ranges cover, by state
 *
 * Fragmentation is 1 - @largest_gap / @free_pages: 0 when the free space
 * is one gap, close to 1 when it is scattered.
 */
struct altdma_iova_space {
	unsigned long pages;
	unsigned long free_pages;
	unsigned long free_gaps;
	unsigned long largest_gap;
	unsigned long ranges[ALTDMA_IOVA_DEAD];
	unsigned long range_pages[ALTDMA_IOVA_DEAD];
};

/**
 * altdma_iova_range_pages() - pages a range occupies
 * @r: the range
 *
 * Context: any context.
 * Return: the range's size in pages (at least what was asked for: a
 * request is rounded as altdma_iova_alloc_size() says).
 */
static inline unsigned long
altdma_iova_range_pages(const struct altdma_iova_range *r)
{
	return r->pfn_hi - r->pfn_lo + 1;
}

/**
 * altdma_iova_nr_caches() - per-CPU caches (and depots) of a domain
 * @iovad: the domain
 *
 * Context: any context.
 * Return: %ALTDMA_IOVA_BANDS per cached size class (0: caching off); a
 * cache index is 2 * class + band.
 */
static inline unsigned int
altdma_iova_nr_caches(const struct altdma_iova_domain *iovad)
{
	return iovad->nr_classes * ALTDMA_IOVA_BANDS;
}

/**
 * altdma_iova_range_cached() - whether a free parks a range in a cache
 * @iovad: the domain
 * @r: one of its ranges
 *
 * Context: any context.
 * Return: true when the domain caches ranges of @r's size (a free may
 * still give it to the tree if no magazine can take it).
 */
static inline bool altdma_iova_range_cached(const struct altdma_iova_domain *iovad,
					    const struct altdma_iova_range *r)
{
	unsigned long size = altdma_iova_range_pages(r);

	return iovad->nr_classes && is_power_of_2(size) &&
	       size <= BIT(iovad->nr_classes - 1);
}

/**
 * altdma_iova_key() - the index key of the range starting at a page
 * @iovad: the domain
 * @pfn: the page
 *
 * The key is the page's distance from the top of its region, the space
 * below 4 GiB (even keys) or the space above (odd keys). Ranges are placed
 * top-down below a limit, which is the top of the domain or of its 32-bit
 * part (a 32-bit-first caller), and the caches reuse them, so the keys in
 * use stay small: most sit in the index's table (iova_index.h), two loads
 * away, and the rest in an xarray as deep as its largest key needs, where
 * the pfn itself would take five or six node loads in a 39- or 48-bit
 * space. Pfns outside the domain (an address no range can hold) get keys
 * no range has.
 *
 * Context: any context.
 * Return: the key.
 */
static inline unsigned long
altdma_iova_key(const struct altdma_iova_domain *iovad, unsigned long pfn)
{
	if (pfn <= iovad->line32)
		return 2 * (iovad->line32 - pfn);
	return 2 * (iovad->end_pfn - pfn) + 1;
}

/**
 * altdma_iova_lookup() - the allocated or cached range starting at a page
 * @iovad: the domain
 * @pfn: first page of the range
 *
 * Context: any context, in an RCU read-side section (rcu_read_lock(), or
 * preemption off: rcu_read_lock_sched()); the range stays valid
 * memory until rcu_read_unlock() (a range leaving the tree is freed after
 * a grace period), but its state and contents may change at any time.
 * Return: the range, or NULL.
 */
static inline struct altdma_iova_range *
altdma_iova_lookup(struct altdma_iova_domain *iovad, unsigned long pfn)
{
	return altdma_iova_index_load(&iovad->index, altdma_iova_key(iovad, pfn));
}

int altdma_iova_domain_init(struct altdma_iova_domain *iovad,
			    const struct altdma_iova_config *cfg);
void altdma_iova_domain_destroy(struct altdma_iova_domain *iovad);
int altdma_iova_reserve(struct altdma_iova_domain *iovad,
			unsigned long pfn_lo, unsigned long pfn_hi);
int altdma_iova_free(struct altdma_iova_domain *iovad, unsigned long pfn,
		     unsigned long npages);
struct altdma_iova_range *
altdma_iova_alloc_range(struct altdma_iova_domain *iovad, unsigned long npages,
			unsigned long limit_pfn, gfp_t gfp);
void altdma_iova_put_range(struct altdma_iova_domain *iovad,
			   struct altdma_iova_range *r);
void altdma_iova_put_ranges(struct altdma_iova_domain *iovad, int cpu,
			    struct altdma_iova_range **rs, unsigned int n);
struct altdma_iova_range *altdma_iova_find(struct altdma_iova_domain *iovad,
					   unsigned long pfn);
void altdma_iova_quarantine_range(struct altdma_iova_domain *iovad,
				  struct altdma_iova_range *r);
int altdma_iova_quarantine(struct altdma_iova_domain *iovad,
			   unsigned long pfn, unsigned long npages);
void altdma_iova_flush_caches(struct altdma_iova_domain *iovad);
void altdma_iova_set_avoid(struct altdma_iova_domain *iovad,
			   bool (*avoid)(void *arg, unsigned long pfn_lo,
					 unsigned long pfn_hi),
			   void *arg);
void altdma_iova_get_stats(struct altdma_iova_domain *iovad,
			   struct altdma_iova_stats *st);
int altdma_iova_check(struct altdma_iova_domain *iovad);
void altdma_iova_get_space(struct altdma_iova_domain *iovad,
			   struct altdma_iova_space *sp);

/**
 * altdma_iova_alloc_size() - pages a range of @npages really occupies
 * @iovad: the domain
 * @npages: requested size in pages
 *
 * Sizes up to %ALTDMA_IOVA_ALIGN_MAX are rounded up to a power of two (and
 * aligned to it); larger ones are kept as they are.
 *
 * Context: any context.
 * Return: the occupied size in pages.
 */
static inline unsigned long
altdma_iova_alloc_size(const struct altdma_iova_domain *iovad,
		       unsigned long npages)
{
	return npages <= ALTDMA_IOVA_ALIGN_MAX ? roundup_pow_of_two(npages) :
						 npages;
}

/**
 * altdma_iova_alloc() - allocate a range of IOVA pages
 * @iovad: the domain
 * @npages: size in pages; the same number must be given to the free
 * @limit_pfn: highest page the range may use (inclusive)
 * @gfp: allocation flags for the range's bookkeeping
 *
 * altdma_iova_alloc_range() for callers that keep only the first page and
 * give it back with altdma_iova_free().
 *
 * Context: as altdma_iova_alloc_range().
 * Return: the first page of the range, or 0 on failure.
 */
static inline unsigned long
altdma_iova_alloc(struct altdma_iova_domain *iovad, unsigned long npages,
		  unsigned long limit_pfn, gfp_t gfp)
{
	struct altdma_iova_range *r;

	r = altdma_iova_alloc_range(iovad, npages, limit_pfn, gfp);
	return r ? r->pfn_lo : 0;
}

#endif /* _ALTDMA_IOVA_ALLOC_H */
