// SPDX-License-Identifier: GPL-2.0-only
/*
 * altdma IOVA allocator.
 *
 * Ranges live in a red-black tree ordered by address. Each range records the
 * free gap between itself and the range before it, and each node what the
 * gaps of its subtree can hold (struct altdma_iova_aug). Two sentinels close
 * the domain at both ends, so every free page belongs to the gap of exactly
 * one range. Finding the highest place that fits is a walk up and down one
 * path of the tree: O(log n) in the number of live ranges, exact, with no
 * scan however fragmented the space is.
 *
 * Freed ranges of small power-of-two sizes are parked in per-CPU magazines
 * and a bounded depot (they stay in the tree, in state CACHED), so the hot
 * path does not take the domain lock. A free is checked against an xarray of
 * ranges indexed by first pfn (see altdma_iova_key()), read under RCU: an
 * unknown pfn, a pfn inside a range, a wrong size or a second free is
 * refused and reported, and nothing invalid ever reaches a cache (seed 000).
 */

#define pr_fmt(fmt) "altdma: " fmt

#include <linux/bitops.h>
#include <linux/dma-mapping.h>
#include <linux/error-injection.h>
#include <linux/log2.h>
#include <linux/minmax.h>
#include <linux/rbtree_augmented.h>
#include <linux/sizes.h>
#include <linux/slab.h>

#include "iova_alloc.h"

/* A bare range is one 64-byte slab object (a slab page holds 64 of them). */
static_assert(sizeof(struct altdma_iova_range) <= 64);
/* &altdma_iova_aug.usable holds the cap */
static_assert(BIT(24) > ALTDMA_IOVA_USABLE_CAP);

static inline struct altdma_iova_range *to_range(struct rb_node *n)
{
	return n ? rb_entry(n, struct altdma_iova_range, rb) : NULL;
}

static inline struct altdma_iova_range *range_parent(struct altdma_iova_range *r)
{
	return to_range(rb_parent(&r->rb));
}

/*
 * What the gap below @r holds: pages from an ALIGN_MAX-aligned start, and
 * the largest aligned power-of-two block (as order + 1, 0 for none). With
 * 2^k <= gap < 2^(k+1), a block of 2^(k-1) always fits (any 2 * 2^(k-1)
 * pages hold one aligned block of 2^(k-1)), so only 2^k needs a test.
 */
static inline struct altdma_iova_aug gap_aug(const struct altdma_iova_range *r)
{
	struct altdma_iova_aug a = { 0, 0 };
	unsigned long gap = r->gap, g_lo = r->pfn_lo - gap, p;
	int k;

	if (!gap)
		return a;
	p = round_up(g_lo, ALTDMA_IOVA_ALIGN_MAX);
	if (p < r->pfn_lo)
		a.usable = min(r->pfn_lo - p, ALTDMA_IOVA_USABLE_CAP);
	k = min_t(int, __fls(gap), ALTDMA_IOVA_ALIGN_ORDER);
	if (round_up(g_lo, 1UL << k) + (1UL << k) > r->pfn_lo)
		k--;
	a.order = k + 1;
	return a;
}

static inline void aug_merge(struct altdma_iova_aug *a, struct rb_node *n)
{
	struct altdma_iova_range *c = to_range(n);

	if (!c)
		return;
	if (c->sub.usable > a->usable)
		a->usable = c->sub.usable;
	if (c->sub.order > a->order)
		a->order = c->sub.order;
}

/* Set @r's gap and what it holds. */
static inline void gap_set(struct altdma_iova_range *r, unsigned long gap)
{
	r->gap = gap;
	r->own = gap_aug(r);
}

/* @r's subtree value from its own gap's and its children's values. */
static struct altdma_iova_aug aug_compute(const struct altdma_iova_range *r)
{
	struct altdma_iova_aug a = r->own;

	aug_merge(&a, r->rb.rb_left);
	aug_merge(&a, r->rb.rb_right);
	return a;
}

static inline bool aug_compute_cb(struct altdma_iova_range *r, bool exit)
{
	struct altdma_iova_aug a = aug_compute(r);

	if (exit && a.usable == r->sub.usable && a.order == r->sub.order)
		return true;
	r->sub = a;
	return false;
}

RB_DECLARE_CALLBACKS(static, gap_callbacks, struct altdma_iova_range, rb, sub,
		     aug_compute_cb)

/*
 * Recompute the subtree values from @r up to the root. @changed is the one
 * other range whose own gap changed (an ancestor of @r, or @r itself):
 * past it, a range whose value comes out as before has none above it
 * changing either, and the walk stops there.
 */
static void fix_up(struct altdma_iova_range *r,
		   const struct altdma_iova_range *changed)
{
	struct altdma_iova_aug a;
	bool past = false;

	for (; r; r = range_parent(r)) {
		a = aug_compute(r);
		if (past && a.usable == r->sub.usable && a.order == r->sub.order)
			return;
		r->sub = a;
		past |= r == changed;
	}
}

/*
 * Insert @new, which lies inside one gap. Its in-order neighbours are on
 * the insertion path, so fixing the values from @new to the root also covers
 * the successor whose gap shrank. Called with the domain lock held.
 */
static void tree_insert(struct altdma_iova_domain *iovad,
			struct altdma_iova_range *new)
{
	struct rb_node **link = &iovad->tree.rb_node, *parent = NULL;
	struct altdma_iova_range *pred = NULL, *succ = NULL, *r;

	while (*link) {
		parent = *link;
		r = to_range(parent);
		if (new->pfn_lo < r->pfn_lo) {
			succ = r;
			link = &parent->rb_left;
		} else {
			pred = r;
			link = &parent->rb_right;
		}
	}
	gap_set(new, new->pfn_lo - pred->pfn_hi - 1);
	gap_set(succ, succ->pfn_lo - new->pfn_hi - 1);
	rb_link_node(&new->rb, parent, link);
	/* the successor, whose gap shrank, is an ancestor of the leaf @new */
	fix_up(new, succ);
	rb_insert_augmented(&new->rb, &iovad->tree, &gap_callbacks);
}

/*
 * Insert @new into the gap below @succ (where the policy placed it): its link
 * is @succ's empty left slot, or the empty right slot of @succ's in-order
 * predecessor, so there is no walk down from the root. Domain lock held.
 */
static void tree_insert_below(struct altdma_iova_domain *iovad,
			      struct altdma_iova_range *new,
			      struct altdma_iova_range *succ)
{
	unsigned long g_lo = succ->pfn_lo - succ->gap;
	struct rb_node *parent = &succ->rb, **link = &parent->rb_left;

	while (*link) {
		parent = *link;
		link = &parent->rb_right;
	}
	gap_set(new, new->pfn_lo - g_lo);
	gap_set(succ, succ->pfn_lo - new->pfn_hi - 1);
	rb_link_node(&new->rb, parent, link);
	/* @new is a leaf in @succ's left subtree */
	fix_up(new, succ);
	rb_insert_augmented(&new->rb, &iovad->tree, &gap_callbacks);
}

/*
 * @r leaves the tree and its pages join the gap of @succ, its successor.
 * A hint's range stays where its search may start (no gap above it fits its
 * request, and it starts at or below the hint's limit) if @r lies below
 * it, or above the limit and is not the hint's range: that free changes no
 * gap above the hint's range at or below the limit. Otherwise @succ is the
 * new start, as the kernel's cached node moves up: the gaps above @succ did
 * not change, and @succ's own is the first one a search tries. If @succ
 * starts above the limit, the hint goes: a range inserted later between
 * the limit and @succ would sit above the start with a gap the search
 * cannot clip, and the search without a hint starts at the range that
 * straddles the limit, which @succ then is.
 */
static void hints_move(struct altdma_iova_domain *iovad,
		       const struct altdma_iova_range *r,
		       struct altdma_iova_range *succ)
{
	struct altdma_iova_hint *h;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(iovad->hints); i++) {
		h = &iovad->hints[i];
		if (h->r == r ||
		    (h->r && r->pfn_lo > h->r->pfn_lo && r->pfn_lo <= h->hi))
			h->r = succ->pfn_lo <= h->hi ? succ : NULL;
	}
}

/* Remove @r; its pages join the successor's gap. Domain lock held. */
static void tree_erase(struct altdma_iova_domain *iovad,
		       struct altdma_iova_range *r)
{
	struct altdma_iova_range *succ = to_range(rb_next(&r->rb));

	hints_move(iovad, r, succ);

	rb_erase_augmented(&r->rb, &iovad->tree, &gap_callbacks);
	gap_set(succ, succ->gap + r->gap + altdma_iova_range_pages(r));
	fix_up(succ, succ);
}

/* The range containing @pfn, or NULL. Domain lock held. */
static struct altdma_iova_range *tree_find(struct altdma_iova_domain *iovad,
					   unsigned long pfn)
{
	struct rb_node *n = iovad->tree.rb_node;
	struct altdma_iova_range *r;

	while (n) {
		r = to_range(n);
		if (pfn < r->pfn_lo)
			n = n->rb_left;
		else if (pfn > r->pfn_hi)
			n = n->rb_right;
		else
			return r;
	}
	return NULL;
}

/* The lowest range starting above @pfn; the top sentinel at worst. */
static struct altdma_iova_range *first_above(struct altdma_iova_domain *iovad,
					     unsigned long pfn)
{
	struct rb_node *n = iovad->tree.rb_node;
	struct altdma_iova_range *r, *best = &iovad->hi_end;

	while (n) {
		r = to_range(n);
		if (r->pfn_lo > pfn) {
			best = r;
			n = n->rb_left;
		} else {
			n = n->rb_right;
		}
	}
	return best;
}

/*
 * A placement request: a power of two of at most ALIGN_MAX pages aligned to
 * itself (@order), or more pages aligned to ALIGN_MAX (@order < 0).
 */
struct fit_req {
	unsigned long npages;
	int order;
};

/* Exact for @q of at most ALTDMA_IOVA_USABLE_CAP pages (prev_fit_large()). */
static inline bool aug_fits(struct altdma_iova_aug a, const struct fit_req *q)
{
	return q->order >= 0 ? a.order > q->order : a.usable >= q->npages;
}

static inline bool sub_fits(struct rb_node *n, const struct fit_req *q)
{
	return n && aug_fits(to_range(n)->sub, q);
}

/* The highest range in @r's subtree whose gap fits @q (the subtree does). */
static struct altdma_iova_range *descend(struct altdma_iova_range *r,
					 const struct fit_req *q)
{
	while (r) {
		if (sub_fits(r->rb.rb_right, q)) {
			r = to_range(r->rb.rb_right);
			continue;
		}
		if (aug_fits(r->own, q))
			return r;
		r = to_range(r->rb.rb_left);
	}
	return NULL;
}

/*
 * The highest range below @r in address order whose gap fits @q: first @r's
 * left subtree, then, going up, each ancestor we are right of and its left
 * subtree. One descent at most: O(log n).
 */
static struct altdma_iova_range *prev_fit(struct altdma_iova_range *r,
					  const struct fit_req *q)
{
	struct altdma_iova_range *c, *p;

	if (sub_fits(r->rb.rb_left, q))
		return descend(to_range(r->rb.rb_left), q);
	for (c = r, p = range_parent(r); p; c = p, p = range_parent(p)) {
		if (p->rb.rb_right != &c->rb)
			continue;
		if (aug_fits(p->own, q))
			return p;
		if (sub_fits(p->rb.rb_left, q))
			return descend(to_range(p->rb.rb_left), q);
	}
	return NULL;
}

/*
 * Highest @align-aligned start of @npages inside the gap below @r, clipped
 * at @hi, or 0. Pfn 0 is never in a gap (start_pfn >= 1).
 */
static unsigned long gap_fit(const struct altdma_iova_range *r,
			     unsigned long npages, unsigned long align,
			     unsigned long hi)
{
	unsigned long g_lo = r->pfn_lo - r->gap, g_hi, pfn;

	g_hi = min(r->pfn_lo - 1, hi);
	if (!r->gap || g_hi < g_lo || g_hi - g_lo + 1 < npages)
		return 0;
	pfn = (g_hi - npages + 1) & ~(align - 1);
	return pfn >= g_lo ? pfn : 0;
}

/*
 * prev_fit() for a request of more than ALTDMA_IOVA_USABLE_CAP pages, which
 * the annotations count as the cap: each gap below @r that holds the cap or
 * more (those the annotations find), highest first, until one holds the
 * request. O(log n) per such gap passed: 16 at most below 4 GiB.
 */
static struct altdma_iova_range *prev_fit_large(struct altdma_iova_range *r,
						unsigned long size,
						unsigned long align)
{
	const struct fit_req q = { .npages = ALTDMA_IOVA_USABLE_CAP, .order = -1 };

	while ((r = prev_fit(r, &q)))
		if (gap_fit(r, size, align, r->pfn_lo - 1))
			return r;
	return NULL;
}

/*
 * The highest aligned place for @size pages at or below @hi: the gap that
 * straddles @hi is clipped and tried first; every gap below it is whole, and
 * its annotation says exactly whether the request fits, so one walk of
 * O(log n) finds the highest one that does.
 */
/*
 * Whether @h's range is where a search for @q below @hi may start: no gap
 * above it fits the request @h recorded, and every request @q covers fits
 * only where that one would (a larger power of two; or, from a power of two
 * of at most ALIGN_MAX pages, any size above ALIGN_MAX, whose aligned start
 * needs an aligned block of ALIGN_MAX pages).
 */
static bool hint_covers(const struct altdma_iova_hint *h, unsigned long hi,
			const struct fit_req *q)
{
	if (!h->r || h->hi != hi)
		return false;
	if (h->order >= 0)
		return q->order < 0 || q->order >= h->order;
	return q->order < 0 && q->npages >= h->npages;
}

/* Record the placement in progress; the insert sets the hint (tree_alloc()). */
static void hint_note(struct altdma_iova_domain *iovad, unsigned long hi,
		      const struct fit_req *q)
{
	iovad->hint_next = &iovad->hints[hi > iovad->line32];
	iovad->hint_req.hi = hi;
	iovad->hint_req.npages = q->npages;
	iovad->hint_req.order = q->order;
}

static unsigned long find_top_down(struct altdma_iova_domain *iovad,
				   unsigned long size, unsigned long hi)
{
	struct fit_req q = { .npages = size, .order = -1 };
	unsigned long align = ALTDMA_IOVA_ALIGN_MAX, pfn;
	struct altdma_iova_hint *hint;
	struct altdma_iova_range *h, *r;

	if (hi < iovad->start_pfn || hi - iovad->start_pfn + 1 < size)
		return 0;
	if (size <= ALTDMA_IOVA_ALIGN_MAX) {
		q.order = ilog2(size);
		align = size;
	}
	hint = &iovad->hints[hi > iovad->line32];
	/* nothing above the hint's range fits: start there, not at @hi */
	h = hint_covers(hint, hi, &q) ? hint->r : first_above(iovad, hi);
	pfn = gap_fit(h, size, align, hi);
	if (pfn) {
		iovad->placed_below = h;
		hint_note(iovad, hi, &q);
		return pfn;
	}
	if (size > ALTDMA_IOVA_USABLE_CAP)
		r = prev_fit_large(h, size, align);
	else
		r = prev_fit(h, &q);
	pfn = r ? gap_fit(r, size, align, hi) : 0;
	iovad->placed_below = r;
	if (pfn)
		hint_note(iovad, hi, &q);
	return pfn;
}

static unsigned long tree_place(struct altdma_iova_domain *iovad,
				unsigned long size, unsigned long limit)
{
	return find_top_down(iovad, size, limit);
}

/*
 * One-way wrap-around (seed 002): each allocation goes below the previous
 * one; only when nothing fits there does the search wrap to the top. A freed
 * range is not handed out again before the cursor has gone all the way
 * round, and the space never needs to drain to empty.
 */
static unsigned long wrap_place(struct altdma_iova_domain *iovad,
				unsigned long size, unsigned long limit)
{
	unsigned long pfn = 0;

	if (iovad->wrap_next > iovad->start_pfn)
		pfn = find_top_down(iovad, size,
				    min(limit, iovad->wrap_next - 1));
	if (!pfn)
		pfn = find_top_down(iovad, size, limit);
	if (pfn)
		iovad->wrap_next = pfn;
	return pfn;
}

const struct altdma_iova_policy altdma_iova_policy_tree = {
	.name = "tree",
	.cached = true,
	.place = tree_place,
};

const struct altdma_iova_policy altdma_iova_policy_wrap = {
	.name = "wrap",
	.cached = false,
	.place = wrap_place,
};

/* ---- "no room at or below this limit" ---- */

/*
 * &altdma_iova_domain.nofit is (limit << 3) | (order + 1), or 0: no aligned
 * block of 2^order pages or more is free at or below pfn limit. It is set
 * under the domain lock when the placement of a power-of-two request fails
 * and cleared under it as soon as a range at or below the limit leaves the
 * tree (the only change that frees space), so while it is set it is true,
 * never stale; allocations read it without the lock and fail at once.
 */
#define NOFIT_SHIFT	3

static __always_inline bool nofit(const struct altdma_iova_domain *iovad,
				  unsigned long size, unsigned long limit)
{
	unsigned long h = READ_ONCE(iovad->nofit);

	/* unset while there is room: one load and a branch */
	if (likely(!h) || size > ALTDMA_IOVA_ALIGN_MAX)
		return false;
	return limit <= h >> NOFIT_SHIFT &&
	       ilog2(size) + 1 >= (h & (BIT(NOFIT_SHIFT) - 1));
}

/* A placement of @size pages at or below @limit failed. Lock held. */
static void nofit_set(struct altdma_iova_domain *iovad, unsigned long size,
		      unsigned long limit)
{
	unsigned long h = iovad->nofit;

	if (size > ALTDMA_IOVA_ALIGN_MAX)
		return;
	if (h >> NOFIT_SHIFT == limit &&
	    (h & (BIT(NOFIT_SHIFT) - 1)) <= ilog2(size) + 1)
		return;
	WRITE_ONCE(iovad->nofit, (limit << NOFIT_SHIFT) | (ilog2(size) + 1));
}

/* @r leaves the tree: space at or below the hint's limit may be free. */
static void nofit_clear(struct altdma_iova_domain *iovad,
			const struct altdma_iova_range *r)
{
	unsigned long h = iovad->nofit;

	if (h && r->pfn_lo <= h >> NOFIT_SHIFT)
		WRITE_ONCE(iovad->nofit, 0);
}

/*
 * Ranges parked in the low bands' caches (those that end at or below the
 * 32-bit line) are counted per CPU (the sum is exact; one CPU's share may
 * be negative), so that a request that found no room below that line
 * flushes the caches only when they hold something a flush could give it.
 * @n ranges came into (> 0) or left (< 0) a cache of index @ci.
 */
static void note_cached(struct altdma_iova_domain *iovad, unsigned int ci,
			long n)
{
	if (ci % ALTDMA_IOVA_BANDS == 0)
		this_cpu_add(iovad->stats->cached_low, n);
}

static bool flush_may_help(struct altdma_iova_domain *iovad,
			   unsigned long limit)
{
	long low = 0;
	int cpu;

	if (limit > iovad->line32)
		return true;
	for_each_possible_cpu(cpu)
		low += READ_ONCE(per_cpu_ptr(iovad->stats, cpu)->cached_low);
	return low > 0;
}

/* ---- ranges in and out of the tree ---- */

/* Take @r out of the tree and the index; freed after a grace period. */
static void range_release_locked(struct altdma_iova_domain *iovad,
				 struct altdma_iova_range *r)
{
	nofit_clear(iovad, r);
	WRITE_ONCE(r->state, ALTDMA_IOVA_DEAD);
	altdma_iova_index_erase(&iovad->index, altdma_iova_key(iovad, r->pfn_lo));
	tree_erase(iovad, r);
	kfree_rcu(r, rcu);
}

/*
 * A zeroed range object of @size bytes (the domain's object size: a user
 * such as the DMA layer embeds the range in a larger object). The one
 * allocation point of the allocator's slow path, so tests can fail it by
 * name with fail_function; a cache hit never comes here.
 */
static noinline __noipa struct altdma_iova_range *
range_obj_alloc(size_t size, gfp_t gfp)
{
	return kzalloc(size, gfp | __GFP_NOWARN);
}

ALLOW_ERROR_INJECTION(range_obj_alloc, NULL);

/*
 * Whether the range the policy placed at @pfn must be kept out (the avoid
 * hook says so): it is, for good, as a reserved range, so that the next
 * placement looks elsewhere. Called with the domain lock held.
 */
static bool avoid_placed(struct altdma_iova_domain *iovad, unsigned long pfn,
			 unsigned long size, bool *stuck)
{
	struct altdma_iova_range *k;

	if (!iovad->avoid(iovad->avoid_arg, pfn, pfn + size - 1))
		return false;
	k = kzalloc(sizeof(*k), GFP_ATOMIC | __GFP_NOWARN);
	if (!k) {
		*stuck = true;
		return true;
	}
	k->pfn_lo = pfn;
	k->pfn_hi = pfn + size - 1;
	k->state = ALTDMA_IOVA_RESERVED;
	tree_insert(iovad, k);
	atomic64_inc(&iovad->avoided);
	return true;
}

/* A placement the avoid hook lets through, or 0; domain lock held. */
static unsigned long place_checked(struct altdma_iova_domain *iovad,
				   unsigned long size, unsigned long limit)
{
	bool stuck = false;
	unsigned long pfn;
	int tries;

	iovad->placed_below = NULL;
	iovad->hint_next = NULL;
	pfn = iovad->policy->place(iovad, size, limit);
	if (likely(!iovad->avoid))
		goto out;
	for (tries = 0; pfn && avoid_placed(iovad, pfn, size, &stuck); tries++) {
		if (stuck || tries >= ALTDMA_IOVA_AVOID_TRIES)
			return 0;
		iovad->placed_below = NULL;
		iovad->hint_next = NULL;
		pfn = iovad->policy->place(iovad, size, limit);
	}
out:
	if (!pfn)
		nofit_set(iovad, size, limit);
	return pfn;
}

/* A new range from the tree, or NULL; the caller checked nofit(). */
static struct altdma_iova_range *tree_alloc(struct altdma_iova_domain *iovad,
					    unsigned long npages,
					    unsigned long size,
					    unsigned long limit, gfp_t gfp)
{
	struct altdma_iova_range *r;
	unsigned long flags, pfn;

	r = range_obj_alloc(iovad->obj_size, gfp);
	if (!r)
		return NULL;
	spin_lock_irqsave(&iovad->lock, flags);
	pfn = place_checked(iovad, size, limit);
	if (pfn) {
		r->pfn_lo = pfn;
		r->pfn_hi = pfn + size - 1;
		r->npages = npages;
		r->state = ALTDMA_IOVA_ALLOCATED;
		if (altdma_iova_index_store(&iovad->index,
					    altdma_iova_key(iovad, pfn), r))
			pfn = 0;
		else if (iovad->placed_below)
			tree_insert_below(iovad, r, iovad->placed_below);
		else
			tree_insert(iovad, r);
		if (pfn && iovad->hint_next) {
			*iovad->hint_next = iovad->hint_req;
			iovad->hint_next->r = r;
		}
	}
	spin_unlock_irqrestore(&iovad->lock, flags);
	if (!pfn) {
		kfree(r);
		return NULL;
	}
	return r;
}

/*
 * Give every range in @mag, a magazine of cache index @ci, back to the
 * tree and free the magazine.
 */
static noinline void mag_drain(struct altdma_iova_domain *iovad,
			       struct altdma_iova_mag *mag, unsigned int ci)
{
	unsigned long flags, i;

	if (!mag)
		return;
	note_cached(iovad, ci, -(long)mag->count);
	spin_lock_irqsave(&iovad->lock, flags);
	for (i = 0; i < mag->count; i++)
		range_release_locked(iovad, mag->ranges[i]);
	spin_unlock_irqrestore(&iovad->lock, flags);
	kfree(mag);
}

/* ---- per-CPU caches and depot ---- */

/* The cache index of class @cls, high band (above line32) or low. */
static __always_inline unsigned int cache_idx(unsigned int cls, bool high)
{
	return cls * ALTDMA_IOVA_BANDS + high;
}

/*
 * The cache index a range of class @cls is parked at: by where it ends. A
 * cached range is aligned to its size up to %ALTDMA_IOVA_ALIGN_MAX pages,
 * so only a larger one can start below the line and end above it: it is
 * of no use to a 32-bit request, and sits in the high band, where a wider
 * request finds it.
 */
static __always_inline unsigned int
range_idx(const struct altdma_iova_domain *iovad, unsigned int cls,
	  const struct altdma_iova_range *r)
{
	return cache_idx(cls, r->pfn_hi > iovad->line32);
}

static inline struct altdma_iova_cpu_cache *
cpu_cache(struct altdma_iova_domain *iovad, int cpu, unsigned int ci)
{
	return per_cpu_ptr(iovad->cpu_caches, cpu) + ci;
}

static struct altdma_iova_mag *mag_alloc(gfp_t gfp)
{
	return kzalloc(sizeof(struct altdma_iova_mag), gfp | __GFP_NOWARN);
}

/*
 * Pop a range at or below @limit, searching from the top of @mag (which may
 * be NULL: a CPU's magazines are allocated when it first parks a range).
 */
static struct altdma_iova_range *mag_pop(struct altdma_iova_mag *mag,
					 unsigned long limit)
{
	struct altdma_iova_range *r;
	unsigned long i;

	if (!mag)
		return NULL;
	for (i = mag->count; i-- > 0;) {
		r = mag->ranges[i];
		if (r->pfn_hi <= limit) {
			mag->ranges[i] = mag->ranges[--mag->count];
			return r;
		}
	}
	return NULL;
}

/*
 * A full magazine from the depot, or NULL. Caller holds a CPU cache lock.
 * An empty depot is seen without its lock: a magazine pushed meanwhile is
 * found by the next miss, as if it had come a moment later.
 */
static struct altdma_iova_mag *depot_pop(struct altdma_iova_depot *depot)
{
	struct altdma_iova_mag *mag;

	if (!READ_ONCE(depot->count))
		return NULL;
	spin_lock(&depot->lock);
	mag = depot->top;
	if (mag) {
		depot->top = mag->next;
		WRITE_ONCE(depot->count, depot->count - 1);
		depot->used = true;
	}
	spin_unlock(&depot->lock);
	return mag;
}

/* Park a full magazine; returns false when the depot is at its bound. */
static bool depot_push(struct altdma_iova_domain *iovad,
		       struct altdma_iova_depot *depot,
		       struct altdma_iova_mag *mag)
{
	bool ok;

	spin_lock(&depot->lock);
	ok = depot->count < iovad->depot_max;
	if (ok) {
		mag->next = depot->top;
		depot->top = mag;
		WRITE_ONCE(depot->count, depot->count + 1);
	}
	spin_unlock(&depot->lock);
	if (ok)
		schedule_delayed_work(&iovad->reclaim, iovad->reclaim_delay);
	return ok;
}

/*
 * band_get() when the loaded magazine has nothing at or below @limit: the
 * previous one, swapped in, or a full one from the depot in place of an
 * empty loaded one. Lock of @cc, this CPU's cache of index @ci, held.
 */
static noinline struct altdma_iova_range *
cache_get_slow(struct altdma_iova_domain *iovad,
	       struct altdma_iova_cpu_cache *cc, unsigned int ci,
	       unsigned long limit)
{
	struct altdma_iova_range *r = mag_pop(cc->prev, limit);
	struct altdma_iova_mag *full;

	if (r) {
		swap(cc->loaded, cc->prev);
	} else if (!cc->loaded || !cc->loaded->count) {
		full = depot_pop(&iovad->depots[ci]);
		if (full) {
			kfree(cc->loaded);
			cc->loaded = full;
			r = mag_pop(full, limit);
		}
	}
	return r;
}

/* A range at or below @limit from this CPU's cache of index @ci, or NULL. */
static __always_inline struct altdma_iova_range *
band_get(struct altdma_iova_domain *iovad, unsigned int ci,
	 unsigned long limit)
{
	struct altdma_iova_cpu_cache *cc;
	struct altdma_iova_range *r;
	unsigned long flags;

	cc = raw_cpu_ptr(iovad->cpu_caches) + ci;
	spin_lock_irqsave(&cc->lock, flags);
	r = mag_pop(cc->loaded, limit);
	if (unlikely(!r))
		r = cache_get_slow(iovad, cc, ci, limit);
	if (r) {
		note_cached(iovad, ci, -1);
		cc->hits++;
	}
	spin_unlock_irqrestore(&cc->lock, flags);
	return r;
}

/*
 * A cached range of class @cls at or below @limit, or NULL. A request
 * limited at or below the 32-bit line takes from the low band, whose
 * ranges all end at or below the line (one limited at the line pops one at
 * once; a lower limit may pass over some); a request that reaches above
 * the line takes from the high band only and leaves the low ranges to the
 * requests that can use no other (when the space is full, the flush that
 * precedes its second try gives them back to the tree, see
 * alloc_from_tree()).
 */
static __always_inline struct altdma_iova_range *
cache_get(struct altdma_iova_domain *iovad, unsigned int cls,
	  unsigned long limit)
{
	return band_get(iovad, cache_idx(cls, limit > iovad->line32), limit);
}

/*
 * cache_make_room() when @cc->loaded is missing or full: swap in a
 * @cc->prev with room, or start a new magazine (the full prev goes to the
 * depot). Lock of @cc held. Returns NULL, or a full magazine the depot had
 * no room for (to go back to the tree), or ERR_PTR(-ENOMEM) when no
 * magazine could be allocated.
 */
static noinline struct altdma_iova_mag *
cache_make_room_slow(struct altdma_iova_domain *iovad,
		     struct altdma_iova_cpu_cache *cc, unsigned int ci)
{
	struct altdma_iova_mag *fresh, *spill = NULL;

	if (cc->prev && cc->prev->count < ALTDMA_IOVA_MAG_SIZE) {
		swap(cc->loaded, cc->prev);
		return NULL;
	}
	fresh = mag_alloc(GFP_ATOMIC);
	if (!fresh)
		return ERR_PTR(-ENOMEM);
	if (cc->prev && !depot_push(iovad, &iovad->depots[ci], cc->prev))
		spill = cc->prev;
	cc->prev = cc->loaded;
	cc->loaded = fresh;
	return spill;
}

/*
 * Make room in @cc->loaded; a full magazine that must go back to the tree
 * comes back in *@spill. Lock of @cc held. Returns false when no magazine
 * could be allocated.
 */
static __always_inline bool cache_make_room(struct altdma_iova_domain *iovad,
					    struct altdma_iova_cpu_cache *cc,
					    unsigned int ci,
					    struct altdma_iova_mag **spill)
{
	struct altdma_iova_mag *out;

	if (likely(cc->loaded && cc->loaded->count < ALTDMA_IOVA_MAG_SIZE))
		return true;
	out = cache_make_room_slow(iovad, cc, ci);
	if (IS_ERR(out))
		return false;
	*spill = out;
	return true;
}

/*
 * cache_put() with the lock of @cc, this CPU's cache of index @ci (the
 * class and band of @r), held; a full magazine that must go back to the
 * tree comes back in *@spill.
 */
static __always_inline bool cache_put_locked(struct altdma_iova_domain *iovad,
					     struct altdma_iova_cpu_cache *cc,
					     unsigned int ci,
					     struct altdma_iova_range *r,
					     struct altdma_iova_mag **spill)
{
	if (!cache_make_room(iovad, cc, ci, spill))
		return false;
	cc->loaded->ranges[cc->loaded->count++] = r;
	note_cached(iovad, ci, 1);
	cc->puts++;
	return true;
}

/*
 * Park a freed range (state CACHED) in this CPU's cache. Returns false if no
 * magazine could take it; the caller then gives it back to the tree.
 */
static __always_inline bool cache_put(struct altdma_iova_domain *iovad,
				      unsigned int cls,
				      struct altdma_iova_range *r)
{
	struct altdma_iova_mag *spill = NULL;
	struct altdma_iova_cpu_cache *cc;
	unsigned long flags;
	unsigned int ci;
	bool ok;

	ci = range_idx(iovad, cls, r);
	cc = raw_cpu_ptr(iovad->cpu_caches) + ci;
	spin_lock_irqsave(&cc->lock, flags);
	ok = cache_put_locked(iovad, cc, ci, r, &spill);
	spin_unlock_irqrestore(&cc->lock, flags);
	if (unlikely(spill))
		mag_drain(iovad, spill, ci);
	return ok;
}

/*
 * Take one CPU's magazines out under its cache lock, then give their ranges
 * back to the tree and free them with no cache lock held (the CPU allocates
 * new ones when it next parks a range).
 */
static void cpu_cache_flush(struct altdma_iova_domain *iovad,
			    struct altdma_iova_cpu_cache *cc, unsigned int ci)
{
	struct altdma_iova_mag *loaded, *prev;
	unsigned long flags;

	spin_lock_irqsave(&cc->lock, flags);
	loaded = cc->loaded;
	prev = cc->prev;
	cc->loaded = NULL;
	cc->prev = NULL;
	spin_unlock_irqrestore(&cc->lock, flags);
	mag_drain(iovad, loaded, ci);
	mag_drain(iovad, prev, ci);
}

static void depot_flush(struct altdma_iova_domain *iovad, unsigned int ci)
{
	struct altdma_iova_depot *depot = &iovad->depots[ci];
	struct altdma_iova_mag *mag, *next;
	unsigned long flags;

	spin_lock_irqsave(&depot->lock, flags);
	mag = depot->top;
	depot->top = NULL;
	WRITE_ONCE(depot->count, 0);
	spin_unlock_irqrestore(&depot->lock, flags);
	for (; mag; mag = next) {
		next = mag->next;
		mag_drain(iovad, mag, ci);
	}
}

/**
 * altdma_iova_flush_caches() - give every cached range back to the tree
 * @iovad: the domain
 *
 * The magazines go too (a CPU allocates new ones when it next parks a
 * range), so a flush also gives their memory back.
 *
 * Context: any context; takes the cache, depot and domain locks in turn,
 * never two at once.
 */
void altdma_iova_flush_caches(struct altdma_iova_domain *iovad)
{
	unsigned int ci;
	int cpu;

	if (!iovad->nr_classes)
		return;
	atomic64_inc(&iovad->cache_flushes);
	for (ci = 0; ci < altdma_iova_nr_caches(iovad); ci++) {
		for_each_possible_cpu(cpu)
			cpu_cache_flush(iovad, cpu_cache(iovad, cpu, ci), ci);
		depot_flush(iovad, ci);
	}
}

/* Give back one magazine per depot that nobody took from lately. */
static void altdma_iova_reclaim(struct work_struct *work)
{
	struct altdma_iova_domain *iovad =
		container_of(to_delayed_work(work), struct altdma_iova_domain,
			     reclaim);
	struct altdma_iova_depot *depot;
	struct altdma_iova_mag *mag;
	unsigned long flags, i;
	unsigned int ci;
	bool more = false;

	for (ci = 0; ci < altdma_iova_nr_caches(iovad); ci++) {
		depot = &iovad->depots[ci];
		mag = NULL;
		/*
		 * The magazine leaves the depot and its ranges the tree under
		 * the domain lock, so altdma_iova_check() never sees them in
		 * between (this work runs whenever it likes).
		 */
		spin_lock_irqsave(&iovad->lock, flags);
		spin_lock(&depot->lock);
		if (depot->top && !depot->used) {
			mag = depot->top;
			depot->top = mag->next;
			WRITE_ONCE(depot->count, depot->count - 1);
		}
		depot->used = false;
		more |= depot->count > 0;
		spin_unlock(&depot->lock);
		if (mag)
			note_cached(iovad, ci, -(long)mag->count);
		for (i = 0; mag && i < mag->count; i++)
			range_release_locked(iovad, mag->ranges[i]);
		spin_unlock_irqrestore(&iovad->lock, flags);
		kfree(mag);
	}
	if (more)
		schedule_delayed_work(&iovad->reclaim, iovad->reclaim_delay);
}

/* ---- allocation and free ---- */

/* The cache class of an occupied size, or -1 when it is not cached. */
static __always_inline int size_class(const struct altdma_iova_domain *iovad,
				      unsigned long size)
{
	if (!is_power_of_2(size) || size > (1UL << iovad->nr_classes) / 2)
		return -1;
	return ilog2(size);
}

/*
 * The cache class of a request of @npages, or -1: size_class() of
 * altdma_iova_alloc_size(), from the domain's table for the sizes that are
 * rounded up (larger ones are kept as they are).
 */
static __always_inline int npages_class(const struct altdma_iova_domain *iovad,
					unsigned long npages)
{
	if (likely(npages <= ALTDMA_IOVA_ALIGN_MAX))
		return iovad->cls_of[npages];
	return size_class(iovad, npages);
}

/* A range given out or taken back by the tree (the caches count their own). */
static void count_tree(struct altdma_iova_domain *iovad,
		       struct altdma_iova_range *r, bool alloc)
{
	unsigned long size = altdma_iova_range_pages(r);

	if (alloc) {
		this_cpu_inc(iovad->stats->allocs);
		this_cpu_add(iovad->stats->pages_alloc, size);
	} else {
		this_cpu_inc(iovad->stats->frees);
		this_cpu_add(iovad->stats->pages_freed, size);
	}
}

/*
 * altdma_iova_alloc_range() past the caches: a new range from the tree,
 * and when there is no room, the caches flushed back into the tree (if
 * that can help) and one more try. Out of line: the cached path stays
 * short.
 */
static noinline struct altdma_iova_range *
alloc_from_tree(struct altdma_iova_domain *iovad, unsigned long npages,
		unsigned long limit, gfp_t gfp)
{
	struct altdma_iova_range *r = NULL;
	unsigned long size;

	if (!npages || npages > UINT_MAX || limit < iovad->start_pfn)
		goto fail;
	size = altdma_iova_alloc_size(iovad, npages);
	/* "no room" is known without the lock, and without a call */
	if (!nofit(iovad, size, limit))
		r = tree_alloc(iovad, npages, size, limit, gfp);
	if (!r && iovad->nr_classes && flush_may_help(iovad, limit)) {
		altdma_iova_flush_caches(iovad);
		if (!nofit(iovad, size, limit))
			r = tree_alloc(iovad, npages, size, limit, gfp);
	}
	if (r) {
		count_tree(iovad, r, true);
		return r;
	}
fail:
	this_cpu_inc(iovad->stats->failed_allocs);
	return NULL;
}

/**
 * altdma_iova_alloc_range() - allocate a range of IOVA pages, as an object
 * @iovad: the domain
 * @npages: size in pages; kept in the range (&altdma_iova_range.npages)
 * @limit_pfn: highest page the range may use (inclusive), e.g. the
 *	device's DMA mask shifted by the granule
 * @gfp: allocation flags for a new range object (GFP_ATOMIC where the
 *	caller cannot sleep)
 *
 * Small sizes come from the per-CPU caches when they can: the object comes
 * back as it was parked, still indexed, with whatever its user stored
 * beyond the &struct altdma_iova_range at its start (no allocation, no
 * index insert). Otherwise the domain's policy places a new, zeroed object
 * of &altdma_iova_domain.obj_size bytes. If there is no room, every cache is
 * flushed back into the tree and the placement is tried once more.
 *
 * Context: any context if @gfp does not sleep; takes the domain lock and
 * this CPU's cache lock with interrupts off.
 * Return: the range, in state %ALTDMA_IOVA_ALLOCATED and owned by the
 * caller until it gives it back, or NULL on failure.
 */
struct altdma_iova_range *
altdma_iova_alloc_range(struct altdma_iova_domain *iovad, unsigned long npages,
			unsigned long limit_pfn, gfp_t gfp)
{
	unsigned long limit = min(limit_pfn, iovad->end_pfn);
	int cls = npages_class(iovad, npages);
	struct altdma_iova_range *r;

	/* a cached range lies in the domain: none fits a limit below it */
	if (cls >= 0) {
		r = cache_get(iovad, cls, limit);
		if (r) {
			WRITE_ONCE(r->npages, npages);
			/* Orders @npages before the state a free checks. */
			smp_store_release(&r->state, ALTDMA_IOVA_ALLOCATED);
			return r;
		}
		if (limit >= iovad->start_pfn)
			this_cpu_inc(iovad->stats->cache_misses);
	}
	return alloc_from_tree(iovad, npages, limit, gfp);
}

static const char * const refusal_names[ALTDMA_IOVA_REFUSE_KINDS] = {
	[ALTDMA_IOVA_REFUSE_UNKNOWN] = "unknown address",
	[ALTDMA_IOVA_REFUSE_MIDDLE] = "not the start of a range",
	[ALTDMA_IOVA_REFUSE_SIZE] = "wrong size",
	[ALTDMA_IOVA_REFUSE_DOUBLE] = "double free",
	[ALTDMA_IOVA_REFUSE_RESERVED] = "reserved range",
};

/*
 * Count a refused free and report the first of each kind in this domain, in
 * one line: domain, what was asked, what the allocator holds there, caller.
 */
static int refuse(struct altdma_iova_domain *iovad,
		  enum altdma_iova_refusal kind, unsigned long pfn,
		  unsigned long npages, const struct altdma_iova_range *held,
		  unsigned int held_npages, unsigned long caller)
{
	atomic64_inc(&iovad->refused[kind]);
	if (test_and_set_bit(kind, &iovad->reported))
		return -EINVAL;
	if (held)
		pr_warn("%s: refused IOVA free (%s): pfn %#lx, %lu pages; allocator holds [%#lx-%#lx] allocated as %u pages; caller %pS\n",
			iovad->name, refusal_names[kind], pfn, npages,
			held->pfn_lo, held->pfn_hi, held_npages,
			(void *)caller);
	else
		pr_warn("%s: refused IOVA free (%s): pfn %#lx, %lu pages; no range there; caller %pS\n",
			iovad->name, refusal_names[kind], pfn, npages,
			(void *)caller);
	return -EINVAL;
}

/* Slow path for a pfn that starts no indexed range: what is there? */
static int refuse_unindexed(struct altdma_iova_domain *iovad,
			    unsigned long pfn, unsigned long npages,
			    unsigned long caller)
{
	struct altdma_iova_range *r, held;
	enum altdma_iova_refusal kind = ALTDMA_IOVA_REFUSE_UNKNOWN;
	unsigned long flags;

	spin_lock_irqsave(&iovad->lock, flags);
	r = tree_find(iovad, pfn);
	if (r && r->state == ALTDMA_IOVA_RESERVED)
		kind = ALTDMA_IOVA_REFUSE_RESERVED;
	else if (r && r->state != ALTDMA_IOVA_SENTINEL)
		kind = ALTDMA_IOVA_REFUSE_MIDDLE;
	else
		r = NULL;
	if (r)
		held = *r;
	spin_unlock_irqrestore(&iovad->lock, flags);
	return refuse(iovad, kind, pfn, npages, r ? &held : NULL,
		      r ? held.npages : 0, caller);
}

/* Give @r (state CACHED, not in any cache) back to the tree. */
static void range_release(struct altdma_iova_domain *iovad,
			  struct altdma_iova_range *r)
{
	unsigned long flags;

	count_tree(iovad, r, false);
	spin_lock_irqsave(&iovad->lock, flags);
	range_release_locked(iovad, r);
	spin_unlock_irqrestore(&iovad->lock, flags);
}

/*
 * Refuse a free of the indexed range @r, with a snapshot of it for the
 * report (out of line: the free's fast path keeps no copy on its stack).
 * Called in an RCU read-side section: @r may be freed once it ends.
 */
static noinline int refuse_held(struct altdma_iova_domain *iovad,
				enum altdma_iova_refusal kind,
				unsigned long pfn, unsigned long npages,
				const struct altdma_iova_range *r,
				unsigned int held_npages, unsigned long caller)
{
	struct altdma_iova_range held = *r;

	return refuse(iovad, kind, pfn, npages, &held, held_npages, caller);
}

/*
 * The free's check of @r, the range indexed at the pfn freed: if it was
 * allocated as @npages, claim it (state ALLOCATED to CACHED: of two racing
 * frees, one wins) and return %ALTDMA_IOVA_REFUSE_KINDS; otherwise, why
 * the free is refused. *@held gets the size @r was allocated as. Called in
 * an RCU read-side section of any kind.
 */
static __always_inline enum altdma_iova_refusal
free_claim(struct altdma_iova_range *r, unsigned long npages,
	   unsigned int *held)
{
	/* Pairs with the release in altdma_iova_alloc(): npages is current. */
	int state = smp_load_acquire(&r->state);

	*held = READ_ONCE(r->npages);
	if (state != ALTDMA_IOVA_ALLOCATED)
		return ALTDMA_IOVA_REFUSE_DOUBLE;
	if (*held != npages)
		return ALTDMA_IOVA_REFUSE_SIZE;
	if (cmpxchg(&r->state, ALTDMA_IOVA_ALLOCATED,
		    ALTDMA_IOVA_CACHED) != ALTDMA_IOVA_ALLOCATED)
		return ALTDMA_IOVA_REFUSE_DOUBLE;
	return ALTDMA_IOVA_REFUSE_KINDS;
}

/*
 * A free refused by the check made under the lock of @cc (taken with
 * @flags): a snapshot of @r (NULL: no range starts at @pfn) for the report,
 * the lock dropped, then the refusal. Out of line: the free's fast path
 * keeps no copy on its stack.
 */
static noinline int refuse_in_cache(struct altdma_iova_domain *iovad,
				    struct altdma_iova_cpu_cache *cc,
				    unsigned long flags,
				    enum altdma_iova_refusal kind,
				    unsigned long pfn, unsigned long npages,
				    const struct altdma_iova_range *r,
				    unsigned int held_npages,
				    unsigned long caller)
	__releases(&cc->lock)
{
	struct altdma_iova_range held;

	if (r)
		held = *r;
	spin_unlock_irqrestore(&cc->lock, flags);
	if (!r)
		return refuse_unindexed(iovad, pfn, npages, caller);
	return refuse(iovad, kind, pfn, npages, &held, held_npages, caller);
}

/* altdma_iova_free() of a size the caches do not take: to the tree. */
static noinline int free_uncached(struct altdma_iova_domain *iovad,
				  unsigned long pfn, unsigned long npages,
				  unsigned long caller)
{
	enum altdma_iova_refusal kind;
	struct altdma_iova_range *r;
	unsigned int held_npages;
	int ret;

	rcu_read_lock_sched();
	r = altdma_iova_index_load(&iovad->index, altdma_iova_key(iovad, pfn));
	if (!r) {
		rcu_read_unlock_sched();
		return refuse_unindexed(iovad, pfn, npages, caller);
	}
	kind = free_claim(r, npages, &held_npages);
	if (kind != ALTDMA_IOVA_REFUSE_KINDS) {
		ret = refuse_held(iovad, kind, pfn, npages, r, held_npages,
				  caller);
		rcu_read_unlock_sched();
		return ret;
	}
	rcu_read_unlock_sched();

	/* the cmpxchg made the range ours (CACHED): it cannot go away */
	range_release(iovad, r);
	return 0;
}

/**
 * altdma_iova_free() - free a range, strictly
 * @iovad: the domain
 * @pfn: first page of the range, as altdma_iova_alloc() returned it
 * @npages: the size given to altdma_iova_alloc()
 *
 * The range is looked up first. An unknown pfn, a pfn inside a range, a
 * wrong size, a reserved range or a second free is refused: counted,
 * reported once per kind, and nothing changes. Only a valid range reaches a
 * cache or goes back to the tree. For a size the caches take, the lookup,
 * the check and the parking happen under this CPU's cache lock, taken
 * once.
 *
 * Context: any context. A lock-free lookup with interrupts off (under this
 * CPU's cache lock) or preemption off: either is a read-side section of
 * the RCU grace period that frees a range. The cache lock, or the domain
 * lock, is taken with interrupts off.
 * Return: 0, or -EINVAL if the free was refused.
 */
int altdma_iova_free(struct altdma_iova_domain *iovad, unsigned long pfn,
		     unsigned long npages)
{
	enum altdma_iova_refusal kind = ALTDMA_IOVA_REFUSE_UNKNOWN;
	int cls = npages_class(iovad, npages);
	struct altdma_iova_mag *spill = NULL;
	struct altdma_iova_cpu_cache *cc;
	struct altdma_iova_range *r;
	unsigned int held_npages = 0, ci;
	unsigned long flags;
	bool parked;

	if (cls < 0)
		return free_uncached(iovad, pfn, npages, _RET_IP_);
	/* the band range_idx() gives a valid range: it has 2^cls pages */
	ci = cache_idx(cls, pfn + BIT(cls) - 1 > iovad->line32);
	cc = raw_cpu_ptr(iovad->cpu_caches) + ci;
	spin_lock_irqsave(&cc->lock, flags);
	r = altdma_iova_index_load(&iovad->index, altdma_iova_key(iovad, pfn));
	if (r)
		kind = free_claim(r, npages, &held_npages);
	if (unlikely(kind != ALTDMA_IOVA_REFUSE_KINDS))
		return refuse_in_cache(iovad, cc, flags, kind, pfn, npages, r,
				       held_npages, _RET_IP_);
	parked = cache_put_locked(iovad, cc, ci, r, &spill);
	spin_unlock_irqrestore(&cc->lock, flags);
	if (unlikely(spill))
		mag_drain(iovad, spill, ci);
	/* the cmpxchg made the range ours (CACHED): it cannot go away */
	if (unlikely(!parked))
		range_release(iovad, r);
	return 0;
}

/**
 * altdma_iova_put_range() - give back a range its owner has checked
 * @iovad: the domain
 * @r: a range from altdma_iova_alloc_range(), in state
 *	%ALTDMA_IOVA_ALLOCATED, that the caller owns: it won it by its own
 *	check (e.g. the DMA layer's claim of the mapping the range belongs to)
 *
 * The free with no second lookup and no second check: the range goes to
 * this CPU's cache (keeping its index entry and its object) or back to the
 * tree. Only an owner that has validated the free may call this (seed 000:
 * nothing unchecked reaches a cache); everyone else calls
 * altdma_iova_free().
 *
 * Context: any context; this CPU's cache lock or the domain lock with
 * interrupts off.
 */
void altdma_iova_put_range(struct altdma_iova_domain *iovad,
			   struct altdma_iova_range *r)
{
	int cls = npages_class(iovad, r->npages);

	WRITE_ONCE(r->state, ALTDMA_IOVA_CACHED);
	if (cls < 0 || !cache_put(iovad, cls, r))
		range_release(iovad, r);
}

/*
 * Park a run of owned ranges of @rs[0]'s class and band under one lock of
 * @cpu's cache; returns how many were given back (at least one: a range the
 * caches do not take goes to the tree).
 */
static unsigned int put_run(struct altdma_iova_domain *iovad, int cpu,
			    struct altdma_iova_range **rs, unsigned int n)
{
	int cls = npages_class(iovad, rs[0]->npages);
	struct altdma_iova_mag *spill = NULL;
	struct altdma_iova_cpu_cache *cc;
	unsigned long flags;
	unsigned int i, ci;

	if (cls < 0)
		goto one;
	ci = range_idx(iovad, cls, rs[0]);
	cc = cpu_cache(iovad, cpu, ci);
	spin_lock_irqsave(&cc->lock, flags);
	for (i = 0; i < n && !spill; i++) {
		if (npages_class(iovad, rs[i]->npages) != cls ||
		    range_idx(iovad, cls, rs[i]) != ci)
			break;
		/* one the caches cannot take goes to the tree (below), owned */
		WRITE_ONCE(rs[i]->state, ALTDMA_IOVA_CACHED);
		if (!cache_put_locked(iovad, cc, ci, rs[i], &spill))
			break;
	}
	spin_unlock_irqrestore(&cc->lock, flags);
	mag_drain(iovad, spill, ci);
	if (i)
		return i;
one:
	altdma_iova_put_range(iovad, rs[0]);
	return 1;
}

/**
 * altdma_iova_put_ranges() - give back ranges their owner has checked
 * @iovad: the domain
 * @cpu: the CPU whose cache takes them: the one that freed them (a flush
 *	queue drained by a timer on another CPU gives its ranges back to the
 *	CPU that queued them, which is the one that will map again)
 * @rs: ranges as for altdma_iova_put_range()
 * @n: how many
 *
 * altdma_iova_put_range() for a batch (a flush queue's entries after their
 * flush): each run of ranges of one size and band goes to @cpu's cache
 * under one lock.
 *
 * Context: any context; @cpu's cache locks or the domain lock with
 * interrupts off.
 */
void altdma_iova_put_ranges(struct altdma_iova_domain *iovad, int cpu,
			    struct altdma_iova_range **rs, unsigned int n)
{
	unsigned int i = 0;

	while (i < n)
		i += put_run(iovad, cpu, rs + i, n - i);
}

/**
 * altdma_iova_find() - the allocated or cached range holding a page
 * @iovad: the domain
 * @pfn: any page
 *
 * The slow path of altdma_iova_lookup() (iova_alloc.h) for a page that may lie inside a
 * range: a walk of the tree under the domain lock.
 *
 * Context: any context, in an RCU read-side section (see
 * altdma_iova_lookup());
 * takes the domain lock with interrupts off.
 * Return: the range holding @pfn if it is allocated or cached, or NULL.
 */
struct altdma_iova_range *altdma_iova_find(struct altdma_iova_domain *iovad,
					   unsigned long pfn)
{
	struct altdma_iova_range *r;
	unsigned long flags;

	spin_lock_irqsave(&iovad->lock, flags);
	r = tree_find(iovad, pfn);
	if (r && r->state != ALTDMA_IOVA_ALLOCATED &&
	    r->state != ALTDMA_IOVA_CACHED)
		r = NULL;
	spin_unlock_irqrestore(&iovad->lock, flags);
	return r;
}

/* Count a quarantined range (a copy, or one nobody can free) and say so. */
static void quarantine_report(struct altdma_iova_domain *iovad,
			      const struct altdma_iova_range *r)
{
	atomic64_inc(&iovad->quarantined);
	atomic64_add(altdma_iova_range_pages(r), &iovad->quarantined_pages);
	pr_warn_ratelimited("%s: IOVA [%#lx-%#lx] quarantined (%u pages), never reused\n",
			    iovad->name, r->pfn_lo, r->pfn_hi, r->npages);
}

/**
 * altdma_iova_quarantine_range() - keep an owned range out of use for good
 * @iovad: the domain
 * @r: a range in state %ALTDMA_IOVA_ALLOCATED that the caller owns (as for
 *	altdma_iova_put_range())
 *
 * altdma_iova_quarantine() without the lookup and its checks.
 *
 * Context: any context; takes the domain lock with interrupts off.
 */
void altdma_iova_quarantine_range(struct altdma_iova_domain *iovad,
				  struct altdma_iova_range *r)
{
	unsigned long flags;

	spin_lock_irqsave(&iovad->lock, flags);
	WRITE_ONCE(r->state, ALTDMA_IOVA_RESERVED);
	altdma_iova_index_erase(&iovad->index, altdma_iova_key(iovad, r->pfn_lo));
	spin_unlock_irqrestore(&iovad->lock, flags);
	quarantine_report(iovad, r);
}

/**
 * altdma_iova_quarantine() - keep an allocated range out of use for good
 * @iovad: the domain
 * @pfn: first page of the range, as altdma_iova_alloc() returned it
 * @npages: the size given to altdma_iova_alloc()
 *
 * For a range whose page-table state is unknown (the backend unmapped less
 * than was mapped, seed 000): it must neither be freed with another size
 * nor be reused. The range becomes reserved: it stays in the tree, leaves
 * the index (so a later free of it is refused as a reserved range), never
 * reaches a cache, and is counted in &altdma_iova_stats.quarantined. The
 * same lookup rules as altdma_iova_free() apply first.
 *
 * Context: any context; takes the domain lock with interrupts off.
 * Return: 0, or -EINVAL if the range is not allocated with that size
 * (counted and reported as a refused free; nothing changes).
 */
int altdma_iova_quarantine(struct altdma_iova_domain *iovad,
			   unsigned long pfn, unsigned long npages)
{
	enum altdma_iova_refusal kind = ALTDMA_IOVA_REFUSE_KINDS;
	struct altdma_iova_range *r, held;
	unsigned long flags;

	spin_lock_irqsave(&iovad->lock, flags);
	r = altdma_iova_index_load(&iovad->index, altdma_iova_key(iovad, pfn));
	if (!r) {
		spin_unlock_irqrestore(&iovad->lock, flags);
		return refuse_unindexed(iovad, pfn, npages, _RET_IP_);
	}
	held = *r;
	if (r->npages != npages)
		kind = ALTDMA_IOVA_REFUSE_SIZE;
	else if (cmpxchg(&r->state, ALTDMA_IOVA_ALLOCATED,
			 ALTDMA_IOVA_RESERVED) != ALTDMA_IOVA_ALLOCATED)
		kind = ALTDMA_IOVA_REFUSE_DOUBLE;
	else
		altdma_iova_index_erase(&iovad->index, altdma_iova_key(iovad, pfn));
	spin_unlock_irqrestore(&iovad->lock, flags);
	if (kind != ALTDMA_IOVA_REFUSE_KINDS)
		return refuse(iovad, kind, pfn, npages, &held, held.npages,
			      _RET_IP_);
	quarantine_report(iovad, &held);
	return 0;
}

/* ---- reserved ranges ---- */

/**
 * altdma_iova_reserve() - keep a range of pages out of every allocation
 * @iovad: the domain
 * @pfn_lo: first page
 * @pfn_hi: last page (inclusive)
 *
 * The range is clipped to the domain. Reserved ranges that overlap it are
 * merged with it.
 *
 * Context: process context, may sleep; takes the domain lock.
 * Return: 0; -EINVAL if @pfn_lo > @pfn_hi or the range lies wholly outside
 * the domain; -EBUSY if it overlaps an allocated or cached range (nothing
 * changes then); -ENOMEM.
 */
int altdma_iova_reserve(struct altdma_iova_domain *iovad,
			unsigned long pfn_lo, unsigned long pfn_hi)
{
	struct altdma_iova_range *new, *r, *prev;
	unsigned long flags;
	int ret = 0;

	if (pfn_lo > pfn_hi || pfn_hi < iovad->start_pfn ||
	    pfn_lo > iovad->end_pfn)
		return -EINVAL;
	pfn_lo = max(pfn_lo, iovad->start_pfn);
	pfn_hi = min(pfn_hi, iovad->end_pfn);
	new = kzalloc(sizeof(*new), GFP_KERNEL);
	if (!new)
		return -ENOMEM;

	spin_lock_irqsave(&iovad->lock, flags);
	/* Ranges overlapping [lo, hi] end at or after lo and start at or below hi. */
	for (r = to_range(rb_prev(&first_above(iovad, pfn_hi)->rb));
	     r && r->pfn_hi >= pfn_lo; r = to_range(rb_prev(&r->rb))) {
		if (r->state != ALTDMA_IOVA_RESERVED) {
			ret = -EBUSY;
			goto unlock;
		}
	}
	r = to_range(rb_prev(&first_above(iovad, pfn_hi)->rb));
	while (r && r->pfn_hi >= pfn_lo) {
		prev = to_range(rb_prev(&r->rb));
		pfn_lo = min(pfn_lo, r->pfn_lo);
		pfn_hi = max(pfn_hi, r->pfn_hi);
		tree_erase(iovad, r);
		/* a quarantined mapping object may still be read under RCU */
		kfree_rcu(r, rcu);
		r = prev;
	}
	new->pfn_lo = pfn_lo;
	new->pfn_hi = pfn_hi;
	new->state = ALTDMA_IOVA_RESERVED;
	tree_insert(iovad, new);
	new = NULL;
unlock:
	spin_unlock_irqrestore(&iovad->lock, flags);
	kfree(new);
	return ret;
}

/* ---- set-up and tear-down ---- */

static void init_sentinels(struct altdma_iova_domain *iovad)
{
	struct altdma_iova_range *lo = &iovad->lo_end, *hi = &iovad->hi_end;

	iovad->tree = RB_ROOT;
	lo->pfn_lo = iovad->start_pfn - 1;
	lo->pfn_hi = lo->pfn_lo;
	lo->state = ALTDMA_IOVA_SENTINEL;
	rb_link_node(&lo->rb, NULL, &iovad->tree.rb_node);
	rb_insert_color(&lo->rb, &iovad->tree);

	hi->pfn_lo = iovad->end_pfn + 1;
	hi->pfn_hi = hi->pfn_lo;
	hi->state = ALTDMA_IOVA_SENTINEL;
	gap_set(hi, iovad->end_pfn - iovad->start_pfn + 1);
	rb_link_node(&hi->rb, &lo->rb, &lo->rb.rb_right);
	fix_up(hi, NULL);
	rb_insert_augmented(&hi->rb, &iovad->tree, &gap_callbacks);
}

static int init_caches(struct altdma_iova_domain *iovad)
{
	unsigned int ci, n = altdma_iova_nr_caches(iovad);
	struct altdma_iova_cpu_cache *cc;
	int cpu;

	if (!n)
		return 0;
	iovad->depots = kcalloc(n, sizeof(*iovad->depots), GFP_KERNEL);
	if (!iovad->depots)
		return -ENOMEM;
	for (ci = 0; ci < n; ci++)
		spin_lock_init(&iovad->depots[ci].lock);
	iovad->cpu_caches = __alloc_percpu(sizeof(*cc) * n, __alignof__(*cc));
	if (!iovad->cpu_caches)
		return -ENOMEM;
	for_each_possible_cpu(cpu) {
		for (ci = 0; ci < n; ci++) {
			cc = cpu_cache(iovad, cpu, ci);
			spin_lock_init(&cc->lock);
			/* magazines come when the CPU first parks a range */
			cc->loaded = NULL;
			cc->prev = NULL;
		}
	}
	return 0;
}

static void free_caches(struct altdma_iova_domain *iovad)
{
	struct altdma_iova_cpu_cache *cc;
	unsigned int ci;
	int cpu;

	kfree(iovad->depots);
	iovad->depots = NULL;
	if (!iovad->cpu_caches)
		return;
	for_each_possible_cpu(cpu) {
		for (ci = 0; ci < altdma_iova_nr_caches(iovad); ci++) {
			cc = cpu_cache(iovad, cpu, ci);
			kfree(cc->loaded);
			kfree(cc->prev);
		}
	}
	free_percpu(iovad->cpu_caches);
	iovad->cpu_caches = NULL;
}

/**
 * altdma_iova_domain_init() - set up an IOVA domain
 * @iovad: the domain, zeroed or not
 * @cfg: granule, bounds, policy and cache settings
 *
 * Context: process context, may sleep.
 * Return: 0, -EINVAL for a bad granule or bounds, or -ENOMEM.
 */
int altdma_iova_domain_init(struct altdma_iova_domain *iovad,
			    const struct altdma_iova_config *cfg)
{
	unsigned long limit, classes, n;
	unsigned int shift;
	int ret;

	if (!is_power_of_2(cfg->granule) || cfg->granule < SZ_4K)
		return -EINVAL;
	shift = ilog2(cfg->granule);
	memset(iovad, 0, sizeof(*iovad));
	iovad->name = cfg->name ?: "altdma-iova";
	iovad->granule = cfg->granule;
	iovad->shift = shift;
	iovad->start_pfn = max_t(unsigned long, 1,
				 DIV_ROUND_UP_ULL(cfg->start, cfg->granule));
	iovad->end_pfn = cfg->end >> shift;
	iovad->line32 = min_t(unsigned long, iovad->end_pfn,
			      DMA_BIT_MASK(32) >> shift);
	if (iovad->end_pfn < iovad->start_pfn || iovad->end_pfn >= ULONG_MAX - 1)
		return -EINVAL;
	iovad->policy = cfg->policy ?: &altdma_iova_policy_tree;
	iovad->obj_size = max(cfg->obj_size, sizeof(struct altdma_iova_range));

	limit = cfg->cache_limit ?: ALTDMA_IOVA_DEFAULT_CACHE_LIMIT;
	classes = ilog2(max(limit >> shift, 1UL)) + 1;
	classes = min_t(unsigned long, classes, ALTDMA_IOVA_MAX_CLASSES);
	if (iovad->policy->cached && !cfg->nocache)
		iovad->nr_classes = classes;
	iovad->cls_of[0] = -1;
	for (n = 1; n <= ALTDMA_IOVA_ALIGN_MAX; n++)
		iovad->cls_of[n] = size_class(iovad, roundup_pow_of_two(n));
	iovad->depot_max = cfg->depot_max ?: ALTDMA_IOVA_DEFAULT_DEPOT_MAX;

	spin_lock_init(&iovad->lock);
	altdma_iova_index_init(&iovad->index, cfg->table_keys);
	init_sentinels(iovad);
	iovad->wrap_next = iovad->end_pfn + 1;
	INIT_DELAYED_WORK(&iovad->reclaim, altdma_iova_reclaim);
	iovad->reclaim_delay = msecs_to_jiffies(cfg->reclaim_ms ?:
						ALTDMA_IOVA_DEFAULT_RECLAIM_MS);

	iovad->stats = alloc_percpu(struct altdma_iova_pcpu_stats);
	ret = iovad->stats ? init_caches(iovad) : -ENOMEM;
	if (ret) {
		free_caches(iovad);
		free_percpu(iovad->stats);
		iovad->stats = NULL;
	}
	return ret;
}

/**
 * altdma_iova_domain_destroy() - tear a domain down
 * @iovad: the domain; nobody may use it any more
 *
 * Ranges still allocated are counted in one warning and freed.
 *
 * Context: process context, may sleep (waits for the reclaim work).
 */
void altdma_iova_domain_destroy(struct altdma_iova_domain *iovad)
{
	struct altdma_iova_range *r;
	struct rb_node *n;
	unsigned long leaked = 0;

	cancel_delayed_work_sync(&iovad->reclaim);
	altdma_iova_flush_caches(iovad);
	while ((n = rb_first(&iovad->tree))) {
		r = to_range(n);
		rb_erase(n, &iovad->tree);
		if (r->state == ALTDMA_IOVA_SENTINEL)
			continue;
		leaked += r->state == ALTDMA_IOVA_ALLOCATED;
		kfree(r);
	}
	if (leaked)
		pr_warn("%s: %lu IOVA ranges still allocated at teardown\n",
			iovad->name, leaked);
	altdma_iova_index_destroy(&iovad->index);
	free_caches(iovad);
	free_percpu(iovad->stats);
	iovad->stats = NULL;
}

/* ---- counters ---- */

/*
 * What the caches hold (ranges, full magazines in the depots) and what
 * they served and took (added to @st's allocations and frees, their pages
 * to *@pages_alloc and *@pages_freed).
 */
static void count_caches(struct altdma_iova_domain *iovad,
			 struct altdma_iova_stats *st, u64 *pages_alloc,
			 u64 *pages_freed)
{
	struct altdma_iova_cpu_cache *cc;
	struct altdma_iova_depot *depot;
	struct altdma_iova_mag *mag;
	unsigned int ci, cls;
	unsigned long flags;
	int cpu;

	for (ci = 0; ci < altdma_iova_nr_caches(iovad); ci++) {
		cls = ci / ALTDMA_IOVA_BANDS;
		for_each_possible_cpu(cpu) {
			cc = cpu_cache(iovad, cpu, ci);
			spin_lock_irqsave(&cc->lock, flags);
			st->cached_ranges += (cc->loaded ? cc->loaded->count : 0) +
					     (cc->prev ? cc->prev->count : 0);
			st->cache_hits += cc->hits;
			st->allocs += cc->hits;
			*pages_alloc += cc->hits << cls;
			st->frees += cc->puts;
			*pages_freed += cc->puts << cls;
			spin_unlock_irqrestore(&cc->lock, flags);
		}
		depot = &iovad->depots[ci];
		spin_lock_irqsave(&depot->lock, flags);
		for (mag = depot->top; mag; mag = mag->next)
			st->cached_ranges += mag->count;
		st->depot_mags += depot->count;
		spin_unlock_irqrestore(&depot->lock, flags);
	}
}

/**
 * altdma_iova_get_stats() - snapshot a domain's counters
 * @iovad: the domain
 * @st: filled in
 *
 * Exact while nothing allocates or frees; taken while the domain is in
 * use, it may lag by the operations in flight (never below 0).
 *
 * Context: any context; takes each cache and depot lock in turn.
 */
void altdma_iova_get_stats(struct altdma_iova_domain *iovad,
			   struct altdma_iova_stats *st)
{
	struct altdma_iova_pcpu_stats *p;
	u64 pages_alloc = 0, pages_freed = 0;
	int cpu, k;

	memset(st, 0, sizeof(*st));
	for_each_possible_cpu(cpu) {
		p = per_cpu_ptr(iovad->stats, cpu);
		st->allocs += p->allocs;
		st->frees += p->frees;
		st->cache_misses += p->cache_misses;
		st->failed_allocs += p->failed_allocs;
		pages_alloc += p->pages_alloc;
		pages_freed += p->pages_freed;
	}
	count_caches(iovad, st, &pages_alloc, &pages_freed);
	st->quarantined = atomic64_read(&iovad->quarantined);
	st->quarantined_pages = atomic64_read(&iovad->quarantined_pages);
	/*
	 * Taken while the domain is in use, the sums may see the free of a
	 * range and not its allocation: say 0 then, not a wrapped count.
	 */
	pages_freed += st->quarantined_pages;
	st->live_ranges = st->allocs - min(st->allocs, st->frees + st->quarantined);
	st->pages_in_use = pages_alloc - min(pages_alloc, pages_freed);
	for (k = 0; k < ALTDMA_IOVA_REFUSE_KINDS; k++) {
		st->refused[k] = atomic64_read(&iovad->refused[k]);
		st->refused_total += st->refused[k];
	}
	st->cache_flushes = atomic64_read(&iovad->cache_flushes);
	st->avoided = atomic64_read(&iovad->avoided);
}

/**
 * altdma_iova_set_avoid() - keep out the ranges a check refuses
 * @iovad: the domain, before its first allocation
 * @avoid: called under the domain lock (so it must not sleep) for each
 *	range the policy places in the tree, with its first and last page;
 *	true keeps that range out for good, as a reserved range. Ranges
 *	from the caches were placed, and checked, before.
 * @arg: passed to @avoid
 *
 * Context: process context, before the domain is used.
 */
void altdma_iova_set_avoid(struct altdma_iova_domain *iovad,
			   bool (*avoid)(void *arg, unsigned long pfn_lo,
					 unsigned long pfn_hi),
			   void *arg)
{
	iovad->avoid_arg = arg;
	iovad->avoid = avoid;
}

/* ---- invariant checker ---- */

static int check_fail(struct altdma_iova_domain *iovad, const char *what,
		      const struct altdma_iova_range *r)
{
	pr_err("%s: IOVA invariant broken: %s at [%#lx-%#lx] state %d gap %lu\n",
	       iovad->name, what, r->pfn_lo, r->pfn_hi, r->state, r->gap);
	return -EUCLEAN;
}

/* gap_aug() the long way, block size by block size, for the check. */
static struct altdma_iova_aug gap_aug_slow(const struct altdma_iova_range *r)
{
	struct altdma_iova_aug a = { 0, 0 };
	unsigned long g_lo = r->pfn_lo - r->gap;
	int k;

	if (round_up(g_lo, ALTDMA_IOVA_ALIGN_MAX) < r->pfn_lo)
		a.usable = min(r->pfn_lo - round_up(g_lo, ALTDMA_IOVA_ALIGN_MAX),
			       ALTDMA_IOVA_USABLE_CAP);
	for (k = ALTDMA_IOVA_ALIGN_ORDER; k >= 0 && !a.order; k--)
		if (round_up(g_lo, 1UL << k) + (1UL << k) <= r->pfn_lo)
			a.order = k + 1;
	return a;
}

/*
 * Each placement hint: its range is in the tree, and no gap above it,
 * clipped at the hint's limit, fits the request it records.
 */
static int check_hints(struct altdma_iova_domain *iovad)
{
	const struct altdma_iova_hint *h;
	struct altdma_iova_range *x;
	unsigned long size, align;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(iovad->hints); i++) {
		h = &iovad->hints[i];
		if (!h->r)
			continue;
		if (first_above(iovad, h->r->pfn_lo - 1) != h->r) {
			pr_err("%s: IOVA invariant broken: placement hint %u not in the tree\n",
			       iovad->name, i);
			return -EUCLEAN;
		}
		if (h->r->pfn_lo > h->hi) {
			pr_err("%s: IOVA invariant broken: placement hint %u starts above its limit\n",
			       iovad->name, i);
			return -EUCLEAN;
		}
		size = h->order < 0 ? h->npages : BIT(h->order);
		align = h->order < 0 ? ALTDMA_IOVA_ALIGN_MAX : size;
		for (x = to_range(rb_next(&h->r->rb)); x;
		     x = to_range(rb_next(&x->rb))) {
			if (x->pfn_lo - x->gap > h->hi)
				break;
			if (gap_fit(x, size, align, h->hi)) {
				pr_err("%s: IOVA invariant broken: a gap above placement hint %u fits its request (%lu pages)\n",
				       iovad->name, i, size);
				return -EUCLEAN;
			}
		}
	}
	return 0;
}

/* Walk the tree in order: no overlap, exact gaps and maxima, index. */
static int check_tree(struct altdma_iova_domain *iovad, unsigned long *cached)
{
	struct altdma_iova_range *r, *prev = NULL;
	struct altdma_iova_aug a;
	struct rb_node *n;

	for (n = rb_first(&iovad->tree); n; n = rb_next(n)) {
		r = to_range(n);
		if (r->pfn_lo > r->pfn_hi)
			return check_fail(iovad, "inverted range", r);
		if (prev && r->pfn_lo <= prev->pfn_hi)
			return check_fail(iovad, "overlap", r);
		if (r->gap != (prev ? r->pfn_lo - prev->pfn_hi - 1 : 0))
			return check_fail(iovad, "wrong gap", r);
		a = gap_aug_slow(r);
		if (a.usable != r->own.usable || a.order != r->own.order)
			return check_fail(iovad, "wrong gap annotation", r);
		a = aug_compute(r);
		if (a.usable != r->sub.usable || a.order != r->sub.order)
			return check_fail(iovad, "wrong subtree annotation", r);
		if (r->state == ALTDMA_IOVA_ALLOCATED ||
		    r->state == ALTDMA_IOVA_CACHED) {
			if (altdma_iova_index_load(&iovad->index,
						   altdma_iova_key(iovad, r->pfn_lo)) != r)
				return check_fail(iovad, "not indexed", r);
			*cached += r->state == ALTDMA_IOVA_CACHED;
		} else if (r->state == ALTDMA_IOVA_DEAD) {
			return check_fail(iovad, "dead range in tree", r);
		}
		prev = r;
	}
	if (prev != &iovad->hi_end || rb_first(&iovad->tree) != &iovad->lo_end.rb)
		return check_fail(iovad, "sentinel misplaced", &iovad->hi_end);
	return 0;
}

/* The cached ranges a check has seen: their keys, and how many. */
struct check_seen {
	struct xarray keys;
	unsigned long count;
};

/*
 * Each cached range of a magazine of cache index @ci: indexed, in state
 * CACHED, of the index's class and band, and seen only once.
 */
static int check_mag(struct altdma_iova_domain *iovad,
		     struct altdma_iova_mag *mag, unsigned int ci,
		     struct check_seen *seen)
{
	unsigned int cls = ci / ALTDMA_IOVA_BANDS;
	struct altdma_iova_range *r;
	unsigned long i, key;
	int ret;

	for (i = 0; mag && i < mag->count; i++) {
		r = mag->ranges[i];
		key = altdma_iova_key(iovad, r->pfn_lo);
		if (altdma_iova_index_load(&iovad->index, key) != r ||
		    r->state != ALTDMA_IOVA_CACHED)
			return check_fail(iovad, "cached range not held", r);
		if (altdma_iova_range_pages(r) != 1UL << cls ||
		    npages_class(iovad, r->npages) != cls)
			return check_fail(iovad, "cached in wrong class", r);
		if (range_idx(iovad, cls, r) != ci)
			return check_fail(iovad, "cached in wrong band", r);
		ret = xa_insert(&seen->keys, key, r, GFP_ATOMIC | __GFP_NOWARN);
		if (ret == -EBUSY)
			return check_fail(iovad, "cached twice", r);
		if (ret) {
			pr_err("%s: IOVA check: no memory to finish\n",
			       iovad->name);
			return ret;
		}
		seen->count++;
	}
	return 0;
}

static int check_caches(struct altdma_iova_domain *iovad,
			struct check_seen *seen)
{
	struct altdma_iova_cpu_cache *cc;
	struct altdma_iova_depot *depot;
	struct altdma_iova_mag *mag;
	unsigned int ci;
	int cpu, ret = 0;

	for (ci = 0; ci < altdma_iova_nr_caches(iovad) && !ret; ci++) {
		for_each_possible_cpu(cpu) {
			cc = cpu_cache(iovad, cpu, ci);
			spin_lock(&cc->lock);
			ret = check_mag(iovad, cc->loaded, ci, seen) ?:
			      check_mag(iovad, cc->prev, ci, seen);
			spin_unlock(&cc->lock);
			if (ret)
				break;
		}
		depot = &iovad->depots[ci];
		spin_lock(&depot->lock);
		for (mag = depot->top; mag && !ret; mag = mag->next)
			ret = check_mag(iovad, mag, ci, seen);
		spin_unlock(&depot->lock);
	}
	return ret;
}

/**
 * altdma_iova_check() - verify a domain's invariants
 * @iovad: the domain; no free may be in flight
 *
 * Checks that ranges do not overlap, that every gap and subtree maximum is
 * exact, that every allocated or cached range is indexed, and that every
 * range in a cache is in the tree, in state CACHED (not handed out), in the
 * right class and band and in one cache only, with no CACHED range
 * missing.
 *
 * Context: any context; holds the domain lock and takes the cache and depot
 * locks inside it.
 * Return: 0, -EUCLEAN after a pr_err naming the first broken rule, or
 * -ENOMEM if the check could not be finished.
 */
int altdma_iova_check(struct altdma_iova_domain *iovad)
{
	struct check_seen seen = { .count = 0 };
	unsigned long flags, in_tree = 0;
	int ret;

	xa_init(&seen.keys);
	spin_lock_irqsave(&iovad->lock, flags);
	ret = check_tree(iovad, &in_tree) ?: check_hints(iovad) ?:
	      check_caches(iovad, &seen);
	spin_unlock_irqrestore(&iovad->lock, flags);
	if (!ret && in_tree != seen.count) {
		pr_err("%s: IOVA invariant broken: %lu ranges CACHED in the tree, %lu in caches\n",
		       iovad->name, in_tree, seen.count);
		ret = -EUCLEAN;
	}
	xa_destroy(&seen.keys);
	return ret;
}

/**
 * altdma_iova_get_space() - walk a domain's tree: free gaps and ranges
 * @iovad: the domain
 * @sp: filled in
 *
 * For debugfs: the walk is O(n) in the ranges, under the domain lock with
 * interrupts off, so it is not for a fast path.
 *
 * Context: any context; takes the domain lock.
 */
void altdma_iova_get_space(struct altdma_iova_domain *iovad,
			   struct altdma_iova_space *sp)
{
	struct altdma_iova_range *r;
	unsigned long flags;
	struct rb_node *n;

	memset(sp, 0, sizeof(*sp));
	sp->pages = iovad->end_pfn - iovad->start_pfn + 1;
	spin_lock_irqsave(&iovad->lock, flags);
	for (n = rb_first(&iovad->tree); n; n = rb_next(n)) {
		r = to_range(n);
		sp->free_pages += r->gap;
		sp->free_gaps += r->gap != 0;
		sp->largest_gap = max(sp->largest_gap, r->gap);
		if (r->state == ALTDMA_IOVA_SENTINEL ||
		    r->state >= ALTDMA_IOVA_DEAD)
			continue;
		sp->ranges[r->state]++;
		sp->range_pages[r->state] += altdma_iova_range_pages(r);
	}
	spin_unlock_irqrestore(&iovad->lock, flags);
}
