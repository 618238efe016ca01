// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit suites for the altdma IOVA allocator.
 *
 * altdma_iova: directed cases for each part of the API: domain geometry,
 * placement and size rounding, allocation limits, reserved ranges,
 * exhaustion, the strict free checks, the per-CPU caches and the
 * wrap-around policy.
 *
 * altdma_iova_model: long seeded random runs checked step by step against a
 * plain reference model (a bitmap of the pages in use), and a fragmentation
 * run over a whole 32-bit space of 64 KiB pages.
 *
 * Every test builds its own domains; they are destroyed by the suite's exit
 * hook, so a failed assertion never leaks a domain.
 */

#include <kunit/test.h>
#include <linux/bitmap.h>
#include <linux/bitops.h>
#include <linux/cpumask.h>
#include <linux/dma-mapping.h>
#include <linux/errno.h>
#include <linux/find.h>
#include <linux/gfp.h>
#include <linux/kernel.h>
#include <linux/log2.h>
#include <linux/math.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/prandom.h>
#include <linux/preempt.h>
#include <linux/sched.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/workqueue.h>

#include "../iova_alloc.h"

#define IOVA_KUNIT_DOMS		2
#define IOVA_KUNIT_BUFS		4

#define IOVA_REFUSE(kind)	BIT(ALTDMA_IOVA_REFUSE_##kind)
/* Every kind a free of a pfn that no live range starts at may get. */
#define IOVA_REFUSE_NOT_LIVE	(IOVA_REFUSE(UNKNOWN) | IOVA_REFUSE(MIDDLE) | \
				 IOVA_REFUSE(SIZE) | IOVA_REFUSE(DOUBLE))

/* Test context in test->priv; everything in it is released by .exit. */
struct iova_kunit_ctx {
	struct altdma_iova_domain *dom[IOVA_KUNIT_DOMS];
	void *mem[IOVA_KUNIT_BUFS];
};

static int iova_kunit_init(struct kunit *test)
{
	struct iova_kunit_ctx *ctx;

	ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	test->priv = ctx;
	return 0;
}

static void iova_kunit_exit(struct kunit *test)
{
	struct iova_kunit_ctx *ctx = test->priv;
	unsigned int i;

	if (!ctx)
		return;
	for (i = 0; i < IOVA_KUNIT_DOMS; i++) {
		if (ctx->dom[i])
			altdma_iova_domain_destroy(ctx->dom[i]);
		ctx->dom[i] = NULL;
	}
	for (i = 0; i < IOVA_KUNIT_BUFS; i++) {
		kvfree(ctx->mem[i]);
		ctx->mem[i] = NULL;
	}
}

/* A zeroed kvmalloc'd buffer, freed by iova_kvfree() or at the latest by .exit. */
static void *iova_kvzalloc(struct kunit *test, size_t size)
{
	struct iova_kunit_ctx *ctx = test->priv;
	unsigned int i;
	void *p;

	for (i = 0; i < IOVA_KUNIT_BUFS; i++)
		if (!ctx->mem[i])
			break;
	KUNIT_ASSERT_LT(test, i, IOVA_KUNIT_BUFS);
	p = kvzalloc(size, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	ctx->mem[i] = p;
	return p;
}

static void iova_kvfree(struct kunit *test, void *p)
{
	struct iova_kunit_ctx *ctx = test->priv;
	unsigned int i;

	for (i = 0; i < IOVA_KUNIT_BUFS; i++) {
		if (ctx->mem[i] == p) {
			ctx->mem[i] = NULL;
			kvfree(p);
			return;
		}
	}
	KUNIT_FAIL(test, "buffer %p not tracked", p);
}

/* Set up a domain owned by the test (destroyed by .exit). */
static struct altdma_iova_domain *iova_new(struct kunit *test,
					   const struct altdma_iova_config *cfg)
{
	struct iova_kunit_ctx *ctx = test->priv;
	struct altdma_iova_domain *dom;
	unsigned int i;

	for (i = 0; i < IOVA_KUNIT_DOMS; i++)
		if (!ctx->dom[i])
			break;
	KUNIT_ASSERT_LT(test, i, IOVA_KUNIT_DOMS);
	dom = kunit_kzalloc(test, sizeof(*dom), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, dom);
	KUNIT_ASSERT_EQ(test, altdma_iova_domain_init(dom, cfg), 0);
	ctx->dom[i] = dom;
	return dom;
}

/* Destroy a domain made by iova_new() before the end of the test. */
static void iova_drop(struct kunit *test, struct altdma_iova_domain *dom)
{
	struct iova_kunit_ctx *ctx = test->priv;
	unsigned int i;

	for (i = 0; i < IOVA_KUNIT_DOMS; i++) {
		if (ctx->dom[i] == dom) {
			ctx->dom[i] = NULL;
			altdma_iova_domain_destroy(dom);
			return;
		}
	}
	KUNIT_FAIL(test, "domain %p not tracked", dom);
}

/* A domain whose usable pages are exactly @first..@last (@first 0 means 1). */
static struct altdma_iova_domain *
iova_new_pfns(struct kunit *test, unsigned long granule, unsigned long first,
	      unsigned long last, const struct altdma_iova_policy *policy,
	      bool nocache)
{
	struct altdma_iova_config cfg = {
		.name = test->name,
		.granule = granule,
		.start = (dma_addr_t)first * granule,
		.end = (dma_addr_t)(last + 1) * granule - 1,
		.policy = policy,
		.nocache = nocache,
	};
	struct altdma_iova_domain *dom = iova_new(test, &cfg);

	KUNIT_ASSERT_EQ(test, dom->start_pfn, max(first, 1UL));
	KUNIT_ASSERT_EQ(test, dom->end_pfn, last);
	return dom;
}

/* Pages an allocation of @npages occupies. */
/* Largest cached size in pages (0: the domain caches nothing). */
static unsigned long iova_cache_max(const struct altdma_iova_domain *dom)
{
	return dom->nr_classes ? 1UL << (dom->nr_classes - 1) : 0;
}

static unsigned long iova_exp_size(unsigned long align_max, unsigned long npages)
{
	return npages <= align_max ? roundup_pow_of_two(npages) : npages;
}

/* Alignment, in pages, of an allocation of @npages. */
static unsigned long iova_exp_align(unsigned long align_max, unsigned long npages)
{
	return npages <= align_max ? roundup_pow_of_two(npages) : align_max;
}

/* Allocate without a limit. */
static unsigned long iova_take(struct altdma_iova_domain *dom, unsigned long npages)
{
	return altdma_iova_alloc(dom, npages, ULONG_MAX, GFP_KERNEL);
}

static void iova_stats(struct altdma_iova_domain *dom, struct altdma_iova_stats *st)
{
	memset(st, 0, sizeof(*st));
	altdma_iova_get_stats(dom, st);
}

static bool iova_verify(struct kunit *test, bool cond, const char *what,
			unsigned long pfn, unsigned long npages)
{
	if (!cond)
		KUNIT_FAIL(test, "free(%#lx, %lu): %s", pfn, npages, what);
	return cond;
}

/*
 * Free @pfn/@npages, which must be refused with -EINVAL and counted under
 * exactly one kind, one of @kinds, without changing anything else. When
 * @cached_stable, the number of cached ranges must not change either.
 * Returns whether all of that held.
 */
static bool iova_refused_mask(struct kunit *test, struct altdma_iova_domain *dom,
			      unsigned long pfn, unsigned long npages,
			      unsigned long kinds, bool cached_stable)
{
	struct altdma_iova_stats a, b;
	unsigned int k, moved = 0;
	bool ok = true;
	int ret;

	iova_stats(dom, &a);
	ret = altdma_iova_free(dom, pfn, npages);
	iova_stats(dom, &b);

	ok &= iova_verify(test, ret == -EINVAL, "not refused with -EINVAL", pfn, npages);
	for (k = 0; k < ALTDMA_IOVA_REFUSE_KINDS; k++) {
		u64 d = b.refused[k] - a.refused[k];

		if (!d)
			continue;
		moved++;
		if (d != 1 || !(kinds & BIT(k))) {
			KUNIT_FAIL(test,
				   "free(%#lx, %lu): refused[%u] went up by %llu (kinds %#lx)",
				   pfn, npages, k, d, kinds);
			ok = false;
		}
	}
	ok &= iova_verify(test, moved == 1, "not counted under exactly one kind", pfn, npages);
	ok &= iova_verify(test, b.refused_total == a.refused_total + 1,
			  "refused_total did not go up by one", pfn, npages);
	ok &= iova_verify(test, b.live_ranges == a.live_ranges, "live_ranges changed",
			  pfn, npages);
	ok &= iova_verify(test, b.pages_in_use == a.pages_in_use, "pages_in_use changed",
			  pfn, npages);
	ok &= iova_verify(test, b.allocs == a.allocs && b.frees == a.frees,
			  "allocs/frees changed", pfn, npages);
	if (cached_stable)
		ok &= iova_verify(test, b.cached_ranges == a.cached_ranges,
				  "cached_ranges changed", pfn, npages);
	ok &= iova_verify(test, altdma_iova_check(dom) == 0, "check() failed afterwards",
			  pfn, npages);
	return ok;
}

static bool iova_refused(struct kunit *test, struct altdma_iova_domain *dom,
			 unsigned long pfn, unsigned long npages,
			 enum altdma_iova_refusal kind)
{
	return iova_refused_mask(test, dom, pfn, npages, BIT(kind), true);
}

/*
 * Allocate single pages until the domain is full, free them all again and
 * return how many there were: the number of pages nothing occupies (after a
 * cache flush). Only for small domains.
 */
static unsigned long iova_count_free(struct kunit *test, struct altdma_iova_domain *dom)
{
	unsigned long cap = dom->end_pfn - dom->start_pfn + 1;
	unsigned long *pfns, pfn, n = 0, i;

	pfns = kunit_kcalloc(test, cap, sizeof(*pfns), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pfns);
	for (;;) {
		pfn = iova_take(dom, 1);
		if (!pfn)
			break;
		if (n == cap) {
			KUNIT_FAIL(test, "more single pages (%#lx) than the domain holds", pfn);
			KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, pfn, 1), 0);
			break;
		}
		KUNIT_EXPECT_GE(test, pfn, dom->start_pfn);
		KUNIT_EXPECT_LE(test, pfn, dom->end_pfn);
		pfns[n++] = pfn;
	}
	for (i = 0; i < n; i++)
		KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, pfns[i], 1), 0);
	kunit_kfree(test, pfns);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);
	return n;
}

/* ---- altdma_iova: directed cases ---- */

struct iova_geom_case {
	unsigned long granule;
	u64 start;
	u64 end;
	unsigned long cache_limit;
	unsigned int depot_max;
	bool nocache;
	bool wrap;
	unsigned long start_pfn;
	unsigned long end_pfn;
	unsigned long cache_max;
	unsigned int nr_classes;
	unsigned int exp_depot_max;	/* 0: not checked */
};

static const struct iova_geom_case iova_geom_cases[] = {
	{ .granule = SZ_4K, .start = 0, .end = SZ_1G - 1,
	  .start_pfn = 1, .end_pfn = SZ_1G / SZ_4K - 1, .cache_max = 32,
	  .nr_classes = 6, .exp_depot_max = ALTDMA_IOVA_DEFAULT_DEPOT_MAX },
	{ .granule = SZ_64K, .start = 0, .end = SZ_4G - 1,
	  .start_pfn = 1, .end_pfn = 65535, .cache_max = 2, .nr_classes = 2,
	  .exp_depot_max = ALTDMA_IOVA_DEFAULT_DEPOT_MAX },
	{ .granule = SZ_4K, .start = SZ_4K + 1, .end = SZ_1M - 1,
	  .start_pfn = 2, .end_pfn = 255, .cache_max = 32, .nr_classes = 6 },
	{ .granule = SZ_4K, .start = 0, .end = SZ_1M - 1,
	  .cache_limit = 48 * SZ_1K, .depot_max = 4,
	  .start_pfn = 1, .end_pfn = 255, .cache_max = 8, .nr_classes = 4,
	  .exp_depot_max = 4 },
	{ .granule = SZ_64K, .start = SZ_1M, .end = SZ_2M - 1,
	  .cache_limit = SZ_64K,
	  .start_pfn = 16, .end_pfn = 31, .cache_max = 1, .nr_classes = 1 },
	{ .granule = SZ_4K, .start = 0, .end = SZ_1M - 1, .nocache = true,
	  .start_pfn = 1, .end_pfn = 255, .cache_max = 0, .nr_classes = 0 },
	{ .granule = SZ_4K, .start = 0, .end = SZ_1M - 1, .wrap = true,
	  .start_pfn = 1, .end_pfn = 255, .cache_max = 0, .nr_classes = 0 },
};

/* Domain geometry and size classes follow the config; bad configs fail. */
static void iova_config(struct kunit *test)
{
	static const struct {
		unsigned long granule;
		u64 start;
		u64 end;
	} bad[] = {
		{ 0, 0, SZ_1M - 1 },
		{ 3000, 0, SZ_1M - 1 },
		{ SZ_2K, 0, SZ_1M - 1 },
		{ SZ_4K, SZ_1M, SZ_64K - 1 },
	};
	struct altdma_iova_config cfg;
	struct altdma_iova_domain *dom;
	struct altdma_iova_stats st;
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(iova_geom_cases); i++) {
		const struct iova_geom_case *c = &iova_geom_cases[i];

		memset(&cfg, 0, sizeof(cfg));
		cfg.name = test->name;
		cfg.granule = c->granule;
		cfg.start = c->start;
		cfg.end = c->end;
		cfg.cache_limit = c->cache_limit;
		cfg.depot_max = c->depot_max;
		cfg.nocache = c->nocache;
		cfg.policy = c->wrap ? &altdma_iova_policy_wrap : NULL;
		dom = iova_new(test, &cfg);

		KUNIT_EXPECT_EQ_MSG(test, dom->granule, c->granule, "case %u", i);
		KUNIT_EXPECT_EQ_MSG(test, dom->shift, (unsigned int)ilog2(c->granule),
				    "case %u", i);
		KUNIT_EXPECT_EQ_MSG(test, dom->start_pfn, c->start_pfn, "case %u", i);
		KUNIT_EXPECT_EQ_MSG(test, dom->end_pfn, c->end_pfn, "case %u", i);
		KUNIT_EXPECT_EQ_MSG(test, iova_cache_max(dom), c->cache_max, "case %u", i);
		KUNIT_EXPECT_EQ_MSG(test, dom->nr_classes, c->nr_classes, "case %u", i);
		if (c->exp_depot_max)
			KUNIT_EXPECT_EQ_MSG(test, dom->depot_max, c->exp_depot_max, "case %u", i);
		KUNIT_EXPECT_PTR_EQ_MSG(test, dom->policy,
					c->wrap ? &altdma_iova_policy_wrap :
						  &altdma_iova_policy_tree, "case %u", i);
		KUNIT_EXPECT_EQ_MSG(test, altdma_iova_check(dom), 0, "case %u", i);
		iova_stats(dom, &st);
		KUNIT_EXPECT_EQ_MSG(test, st.live_ranges + st.pages_in_use + st.cached_ranges +
				    st.allocs + st.frees + st.refused_total + st.failed_allocs,
				    0ULL, "case %u: a new domain has non-zero stats", i);
		iova_drop(test, dom);
	}

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		dom = kunit_kzalloc(test, sizeof(*dom), GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, dom);
		memset(&cfg, 0, sizeof(cfg));
		cfg.name = test->name;
		cfg.granule = bad[i].granule;
		cfg.start = bad[i].start;
		cfg.end = bad[i].end;
		ret = altdma_iova_domain_init(dom, &cfg);
		if (!ret) {
			altdma_iova_domain_destroy(dom);
			KUNIT_FAIL(test, "bad config %u (granule %lu, %#llx..%#llx) accepted",
				   i, bad[i].granule, bad[i].start, bad[i].end);
		}
		KUNIT_EXPECT_LT_MSG(test, ret, 0, "bad config %u", i);
	}
}

/* Alloc and free in a fresh cached domain; placement is top-down, counters move. */
static void iova_basic(struct kunit *test, unsigned long granule, unsigned long cache_max,
		       unsigned int nr_classes)
{
	struct altdma_iova_domain *dom;
	struct altdma_iova_stats s0, s;
	unsigned long p, q, top;

	dom = iova_new_pfns(test, granule, 0, 1023, NULL, false);
	top = dom->end_pfn;
	KUNIT_ASSERT_EQ(test, iova_cache_max(dom), cache_max);
	KUNIT_ASSERT_EQ(test, dom->nr_classes, nr_classes);
	KUNIT_EXPECT_EQ(test, dom->granule, granule);
	iova_stats(dom, &s0);

	p = iova_take(dom, 1);
	KUNIT_EXPECT_EQ(test, p, top);
	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.allocs, s0.allocs + 1);
	KUNIT_EXPECT_EQ(test, s.live_ranges, 1ULL);
	KUNIT_EXPECT_EQ(test, s.pages_in_use, 1ULL);
	KUNIT_EXPECT_EQ(test, s.cache_misses, s0.cache_misses + 1);
	KUNIT_EXPECT_EQ(test, s.cache_hits, s0.cache_hits);
	KUNIT_EXPECT_EQ(test, s.cached_ranges, 0ULL);

	/* two pages, aligned to two, right below the first page */
	q = iova_take(dom, 2);
	KUNIT_EXPECT_EQ(test, q, top - 3);
	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.allocs, s0.allocs + 2);
	KUNIT_EXPECT_EQ(test, s.live_ranges, 2ULL);
	KUNIT_EXPECT_EQ(test, s.pages_in_use, 3ULL);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);

	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, p, 1), 0);
	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.frees, s0.frees + 1);
	KUNIT_EXPECT_EQ(test, s.live_ranges, 1ULL);
	KUNIT_EXPECT_EQ(test, s.pages_in_use, 2ULL);
	KUNIT_EXPECT_EQ(test, s.cached_ranges, 1ULL);

	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, q, 2), 0);
	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.frees, s0.frees + 2);
	KUNIT_EXPECT_EQ(test, s.live_ranges, 0ULL);
	KUNIT_EXPECT_EQ(test, s.pages_in_use, 0ULL);
	KUNIT_EXPECT_EQ(test, s.cached_ranges, 2ULL);
	KUNIT_EXPECT_EQ(test, s.refused_total, 0ULL);
	KUNIT_EXPECT_EQ(test, s.failed_allocs, 0ULL);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);

	altdma_iova_flush_caches(dom);
	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.cached_ranges, 0ULL);
	KUNIT_EXPECT_EQ(test, s.cache_flushes, s0.cache_flushes + 1);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);

	/* everything is back in the tree: the top page is handed out again */
	p = iova_take(dom, 1);
	KUNIT_EXPECT_EQ(test, p, top);
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, p, 1), 0);
}

static void iova_basic_4k(struct kunit *test)
{
	iova_basic(test, SZ_4K, 32, 6);
}

static void iova_basic_64k(struct kunit *test)
{
	iova_basic(test, SZ_64K, 2, 2);
}

/* Every size up to ALTDMA_IOVA_ALIGN_MAX and some larger: size, alignment, placement. */
static void iova_size_align(struct kunit *test, unsigned long granule,
			    unsigned long align_max)
{
	struct altdma_iova_domain *dom;
	struct altdma_iova_stats s;
	unsigned long *sizes, *pfns, *npg;
	unsigned long amax, n, size, align, p, sum = 0;
	unsigned int cnt = 0, i, j;

	dom = iova_new_pfns(test, granule, 0, 4095, NULL, true);
	amax = ALTDMA_IOVA_ALIGN_MAX;
	KUNIT_ASSERT_EQ(test, amax, align_max);
	KUNIT_ASSERT_EQ(test, dom->nr_classes, 0U);
	sizes = kunit_kcalloc(test, amax + 6, sizeof(*sizes), GFP_KERNEL);
	pfns = kunit_kcalloc(test, amax + 6, sizeof(*pfns), GFP_KERNEL);
	npg = kunit_kcalloc(test, amax + 6, sizeof(*npg), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, sizes);
	KUNIT_ASSERT_NOT_NULL(test, pfns);
	KUNIT_ASSERT_NOT_NULL(test, npg);

	for (n = 1; n <= amax; n++)
		npg[cnt++] = n;
	npg[cnt++] = amax + 1;
	npg[cnt++] = amax + 3;
	npg[cnt++] = 2 * amax;
	npg[cnt++] = 2 * amax + 5;
	npg[cnt++] = 3 * amax - 1;
	npg[cnt++] = 100;

	KUNIT_EXPECT_EQ(test, iova_take(dom, 0), 0UL);
	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.live_ranges, 0ULL);

	/* one at a time in an empty domain: the highest aligned position */
	for (i = 0; i < cnt; i++) {
		n = npg[i];
		size = iova_exp_size(amax, n);
		align = iova_exp_align(amax, n);
		KUNIT_EXPECT_EQ_MSG(test, altdma_iova_alloc_size(dom, n), size, "npages %lu", n);
		p = iova_take(dom, n);
		KUNIT_EXPECT_EQ_MSG(test, p, round_down(dom->end_pfn + 1 - size, align),
				    "npages %lu", n);
		KUNIT_EXPECT_EQ_MSG(test, p % align, 0UL, "npages %lu", n);
		iova_stats(dom, &s);
		KUNIT_EXPECT_EQ_MSG(test, s.pages_in_use, (u64)size, "npages %lu", n);
		KUNIT_ASSERT_EQ_MSG(test, altdma_iova_free(dom, p, n), 0, "npages %lu", n);
	}

	/* all at once: aligned, in bounds, no overlaps */
	for (i = 0; i < cnt; i++) {
		n = npg[i];
		size = iova_exp_size(amax, n);
		align = iova_exp_align(amax, n);
		p = iova_take(dom, n);
		KUNIT_ASSERT_NE_MSG(test, p, 0UL, "npages %lu", n);
		KUNIT_EXPECT_EQ_MSG(test, p % align, 0UL, "npages %lu", n);
		KUNIT_EXPECT_GE(test, p, dom->start_pfn);
		KUNIT_EXPECT_LE(test, p + size - 1, dom->end_pfn);
		for (j = 0; j < i; j++)
			KUNIT_EXPECT_TRUE_MSG(test, p + size <= pfns[j] ||
					      pfns[j] + sizes[j] <= p,
					      "%#lx+%lu overlaps %#lx+%lu", p, size,
					      pfns[j], sizes[j]);
		pfns[i] = p;
		sizes[i] = size;
		sum += size;
	}
	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.live_ranges, (u64)cnt);
	KUNIT_EXPECT_EQ(test, s.pages_in_use, (u64)sum);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);
	for (i = 0; i < cnt; i++)
		KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, pfns[i], npg[i]), 0);
	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.live_ranges, 0ULL);
	KUNIT_EXPECT_EQ(test, s.pages_in_use, 0ULL);
}

static void iova_size_align_4k(struct kunit *test)
{
	iova_size_align(test, SZ_4K, 32);
}

static void iova_size_align_64k(struct kunit *test)
{
	iova_size_align(test, SZ_64K, 32);
}

/* 48-bit domain: 32-bit limits are honoured, placement is top-down. */
static void iova_limit_64bit(struct kunit *test)
{
	struct altdma_iova_config cfg = {
		.name = test->name,
		.granule = SZ_4K,
		.start = 0,
		.end = (1ULL << 48) - 1,
		.nocache = true,
	};
	struct altdma_iova_domain *dom;
	struct altdma_iova_stats s0, s;
	unsigned long top, lim32, p[9];
	unsigned int i;

	dom = iova_new(test, &cfg);
	top = dom->end_pfn;
	KUNIT_ASSERT_EQ(test, top, (1UL << 36) - 1);
	lim32 = (unsigned long)((1ULL << 32) >> dom->shift) - 1;
	iova_stats(dom, &s0);

	p[0] = altdma_iova_alloc(dom, 1, ULONG_MAX, GFP_KERNEL);
	KUNIT_EXPECT_EQ(test, p[0], top);
	p[1] = altdma_iova_alloc(dom, 1, lim32, GFP_KERNEL);
	KUNIT_EXPECT_EQ(test, p[1], lim32);
	p[2] = altdma_iova_alloc(dom, 1, lim32, GFP_KERNEL);
	KUNIT_EXPECT_EQ(test, p[2], lim32 - 1);
	p[3] = altdma_iova_alloc(dom, 1, top, GFP_KERNEL);
	KUNIT_EXPECT_EQ(test, p[3], top - 1);
	/* 5 pages: 8 occupied, 8-aligned, below the two pages under 4 GiB */
	p[4] = altdma_iova_alloc(dom, 5, lim32, GFP_KERNEL);
	KUNIT_EXPECT_EQ(test, p[4], lim32 + 1 - 16);
	/* 40 pages: 40 occupied, aligned to align_max (32) */
	p[5] = altdma_iova_alloc(dom, 40, lim32, GFP_KERNEL);
	KUNIT_EXPECT_EQ(test, p[5], 0xfffc0UL);
	/* the limit is inclusive and applies to the whole occupied range */
	p[6] = altdma_iova_alloc(dom, 1, 0x1000, GFP_KERNEL);
	KUNIT_EXPECT_EQ(test, p[6], 0x1000UL);
	p[7] = altdma_iova_alloc(dom, 3, 0x1000, GFP_KERNEL);
	KUNIT_EXPECT_EQ(test, p[7], 0xffcUL);
	p[8] = altdma_iova_alloc(dom, 1, 0x1003, GFP_KERNEL);
	KUNIT_EXPECT_EQ(test, p[8], 0x1003UL);

	for (i = 1; i < ARRAY_SIZE(p); i++) {
		if (i == 3)
			continue;
		KUNIT_EXPECT_LE_MSG(test, p[i], lim32, "alloc %u", i);
	}

	/* a limit below the first usable page cannot be met */
	KUNIT_EXPECT_EQ(test, altdma_iova_alloc(dom, 1, 0, GFP_KERNEL), 0UL);
	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.failed_allocs, s0.failed_allocs + 1);
	KUNIT_EXPECT_EQ(test, s.live_ranges, (u64)ARRAY_SIZE(p));
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);

	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, p[0], 1), 0);
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, p[4], 5), 0);
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, p[5], 40), 0);
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, p[7], 3), 0);
	for (i = 1; i < ARRAY_SIZE(p); i++) {
		if (i == 4 || i == 5 || i == 7)
			continue;
		KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, p[i], 1), 0);
	}
	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.live_ranges, 0ULL);
	KUNIT_EXPECT_EQ(test, s.pages_in_use, 0ULL);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);
}

/* A cached range above a limit is not handed to a limited allocation. */
static void iova_limit_cached(struct kunit *test)
{
	struct altdma_iova_config cfg = {
		.name = test->name,
		.granule = SZ_4K,
		.start = 0,
		.end = (1ULL << 48) - 1,
	};
	struct altdma_iova_domain *dom;
	unsigned long top, lim32, p, q, q2, r;
	int ret;

	dom = iova_new(test, &cfg);
	KUNIT_ASSERT_GT(test, dom->nr_classes, 0U);
	top = dom->end_pfn;
	lim32 = (unsigned long)((1ULL << 32) >> dom->shift) - 1;

	migrate_disable();
	p = iova_take(dom, 1);
	ret = altdma_iova_free(dom, p, 1);
	q = altdma_iova_alloc(dom, 1, lim32, GFP_KERNEL);
	r = iova_take(dom, 1);
	migrate_enable();

	KUNIT_EXPECT_EQ(test, p, top);
	KUNIT_EXPECT_EQ(test, ret, 0);
	KUNIT_EXPECT_EQ(test, q, lim32);
	/* the cached top page was left for an allocation it suits */
	KUNIT_EXPECT_EQ(test, r, top);

	/* the same in one band: a limit one page below the cached top page */
	migrate_disable();
	ret = altdma_iova_free(dom, r, 1);
	q2 = altdma_iova_alloc(dom, 1, top - 1, GFP_KERNEL);
	r = iova_take(dom, 1);
	migrate_enable();
	KUNIT_EXPECT_EQ(test, ret, 0);
	KUNIT_EXPECT_EQ(test, q2, top - 1);
	KUNIT_EXPECT_EQ(test, r, top);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, q, 1), 0);
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, q2, 1), 0);
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, r, 1), 0);
}

/* Reserved holes are never handed out, and every other page is. */
static void iova_reserved_fill(struct kunit *test)
{
	static const unsigned long resv[][2] = {
		{ 1, 2 }, { 17, 40 }, { 100, 100 }, { 255, 256 },
		{ 300, 363 }, { 500, 511 },
	};
	struct altdma_iova_domain *dom;
	struct altdma_iova_stats s;
	unsigned long *rbits, *used, *pfns, *npgs;
	unsigned long nbits, p, n4 = 0, n1 = 0, exp4 = 0, nresv = 0, cnt = 0, i;

	dom = iova_new_pfns(test, SZ_4K, 0, 511, NULL, false);
	nbits = dom->end_pfn + 1;
	rbits = kunit_kcalloc(test, BITS_TO_LONGS(nbits), sizeof(long), GFP_KERNEL);
	used = kunit_kcalloc(test, BITS_TO_LONGS(nbits), sizeof(long), GFP_KERNEL);
	pfns = kunit_kcalloc(test, nbits, sizeof(*pfns), GFP_KERNEL);
	npgs = kunit_kcalloc(test, nbits, sizeof(*npgs), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, rbits);
	KUNIT_ASSERT_NOT_NULL(test, used);
	KUNIT_ASSERT_NOT_NULL(test, pfns);
	KUNIT_ASSERT_NOT_NULL(test, npgs);

	for (i = 0; i < ARRAY_SIZE(resv); i++) {
		KUNIT_ASSERT_EQ(test, altdma_iova_reserve(dom, resv[i][0], resv[i][1]), 0);
		bitmap_set(rbits, resv[i][0], resv[i][1] - resv[i][0] + 1);
		nresv += resv[i][1] - resv[i][0] + 1;
	}
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);
	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.live_ranges, 0ULL);
	KUNIT_EXPECT_EQ(test, s.pages_in_use, 0ULL);

	/* aligned blocks of four are disjoint: top-down takes every free one */
	for (p = 4; p + 3 <= dom->end_pfn; p += 4)
		if (find_next_bit(rbits, p + 4, p) >= p + 4)
			exp4++;

	while ((p = iova_take(dom, 4)) != 0) {
		KUNIT_ASSERT_LT(test, cnt, nbits);
		KUNIT_ASSERT_EQ(test, p % 4, 0UL);
		KUNIT_ASSERT_GE(test, p, dom->start_pfn);
		KUNIT_ASSERT_LE(test, p + 3, dom->end_pfn);
		KUNIT_ASSERT_GE_MSG(test, find_next_bit(rbits, p + 4, p), p + 4,
				    "%#lx+4 hits a reserved page", p);
		KUNIT_ASSERT_GE_MSG(test, find_next_bit(used, p + 4, p), p + 4,
				    "%#lx+4 handed out twice", p);
		bitmap_set(used, p, 4);
		pfns[cnt] = p;
		npgs[cnt++] = 4;
		n4++;
	}
	KUNIT_EXPECT_EQ(test, n4, exp4);

	while ((p = iova_take(dom, 1)) != 0) {
		KUNIT_ASSERT_LT(test, cnt, nbits);
		KUNIT_ASSERT_GE(test, p, dom->start_pfn);
		KUNIT_ASSERT_LE(test, p, dom->end_pfn);
		KUNIT_ASSERT_FALSE_MSG(test, test_bit(p, rbits), "%#lx is reserved", p);
		KUNIT_ASSERT_FALSE_MSG(test, test_bit(p, used), "%#lx handed out twice", p);
		__set_bit(p, used);
		pfns[cnt] = p;
		npgs[cnt++] = 1;
		n1++;
	}
	/* exactly the free pages were handed out */
	KUNIT_EXPECT_EQ(test, 4 * n4 + n1, dom->end_pfn - dom->start_pfn + 1 - nresv);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);
	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.live_ranges, (u64)(n4 + n1));
	KUNIT_EXPECT_EQ(test, s.pages_in_use, (u64)(4 * n4 + n1));

	/* reserved ranges cannot be freed */
	iova_refused(test, dom, 100, 1, ALTDMA_IOVA_REFUSE_RESERVED);
	iova_refused(test, dom, 17, 24, ALTDMA_IOVA_REFUSE_RESERVED);
	iova_refused(test, dom, 500, 12, ALTDMA_IOVA_REFUSE_RESERVED);

	for (i = 0; i < cnt; i++)
		KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, pfns[i], npgs[i]), 0);
	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.live_ranges, 0ULL);
	KUNIT_EXPECT_EQ(test, s.pages_in_use, 0ULL);
	/* after a flush (forced by the fill) the same pages are free again */
	KUNIT_EXPECT_EQ(test, iova_count_free(test, dom),
			dom->end_pfn - dom->start_pfn + 1 - nresv);
}

/* Reserving over an allocated or cached range fails and changes nothing. */
static void iova_reserve_busy(struct kunit *test)
{
	struct altdma_iova_domain *dom;
	struct altdma_iova_stats s0, s;
	unsigned long p, q;

	dom = iova_new_pfns(test, SZ_4K, 0, 255, NULL, false);
	p = iova_take(dom, 3);
	KUNIT_ASSERT_EQ(test, p, 252UL);
	iova_stats(dom, &s0);

	KUNIT_EXPECT_EQ(test, altdma_iova_reserve(dom, p, p), -EBUSY);
	KUNIT_EXPECT_EQ(test, altdma_iova_reserve(dom, p + 3, p + 3), -EBUSY);
	KUNIT_EXPECT_EQ(test, altdma_iova_reserve(dom, p - 10, p), -EBUSY);
	KUNIT_EXPECT_EQ(test, altdma_iova_reserve(dom, 1, 255), -EBUSY);
	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.live_ranges, s0.live_ranges);
	KUNIT_EXPECT_EQ(test, s.pages_in_use, s0.pages_in_use);
	KUNIT_EXPECT_EQ(test, s.cached_ranges, s0.cached_ranges);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);

	/* nothing below it was reserved by the failed calls */
	q = iova_take(dom, 1);
	KUNIT_EXPECT_EQ(test, q, p - 1);
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, q, 1), 0);

	/* a cached range is busy too */
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, p, 3), 0);
	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.cached_ranges, 2ULL);
	KUNIT_EXPECT_EQ(test, altdma_iova_reserve(dom, p, p + 3), -EBUSY);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);

	/* once back in the tree it can be reserved, and is never handed out */
	altdma_iova_flush_caches(dom);
	KUNIT_EXPECT_EQ(test, altdma_iova_reserve(dom, p, p + 3), 0);
	q = iova_take(dom, 4);
	KUNIT_EXPECT_EQ(test, q, p - 4);
	iova_refused(test, dom, p, 4, ALTDMA_IOVA_REFUSE_RESERVED);
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, q, 4), 0);
	altdma_iova_flush_caches(dom);
	KUNIT_EXPECT_EQ(test, iova_count_free(test, dom), 255UL - 4);
}

/* Reserve calls outside the domain or with lo > hi fail with -EINVAL. */
static void iova_reserve_bounds(struct kunit *test)
{
	struct altdma_iova_domain *dom;
	struct altdma_iova_stats s0, s;
	unsigned long lo, hi;

	dom = iova_new_pfns(test, SZ_4K, 16, 255, NULL, true);
	lo = dom->start_pfn;
	hi = dom->end_pfn;
	iova_stats(dom, &s0);

	KUNIT_EXPECT_EQ(test, altdma_iova_reserve(dom, 100, 99), -EINVAL);
	KUNIT_EXPECT_EQ(test, altdma_iova_reserve(dom, 0, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, altdma_iova_reserve(dom, lo - 1, lo - 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, altdma_iova_reserve(dom, hi + 1, hi + 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, altdma_iova_reserve(dom, hi + 45, hi + 145), -EINVAL);
	KUNIT_EXPECT_EQ(test, altdma_iova_reserve(dom, hi + 1, ULONG_MAX), -EINVAL);
	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.live_ranges, s0.live_ranges);
	KUNIT_EXPECT_EQ(test, s.pages_in_use, s0.pages_in_use);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);
	/* nothing got reserved */
	KUNIT_EXPECT_EQ(test, iova_count_free(test, dom), hi - lo + 1);

	/* the domain's own edges can be reserved */
	KUNIT_EXPECT_EQ(test, altdma_iova_reserve(dom, lo, lo), 0);
	KUNIT_EXPECT_EQ(test, altdma_iova_reserve(dom, hi, hi), 0);
	KUNIT_EXPECT_EQ(test, iova_count_free(test, dom), hi - lo - 1);
}

/* A full domain fails allocations cleanly and recovers after frees. */
static void iova_exhaustion(struct kunit *test)
{
	struct altdma_iova_domain *dom;
	struct altdma_iova_stats s0, s;
	unsigned long p, i;

	dom = iova_new_pfns(test, SZ_4K, 64, 127, NULL, false);
	for (i = 0; i < 64; i++) {
		p = iova_take(dom, 1);
		KUNIT_ASSERT_EQ(test, p, 127 - i);
	}
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);

	iova_stats(dom, &s0);
	KUNIT_EXPECT_EQ(test, iova_take(dom, 1), 0UL);
	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.failed_allocs, s0.failed_allocs + 1);
	/* nothing is cached: a flush could not help, so none is done */
	KUNIT_EXPECT_EQ(test, s.cache_flushes, s0.cache_flushes);
	KUNIT_EXPECT_EQ(test, s.allocs, s0.allocs);
	KUNIT_EXPECT_EQ(test, s.live_ranges, 64ULL);
	KUNIT_EXPECT_EQ(test, s.pages_in_use, 64ULL);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);
	KUNIT_EXPECT_EQ(test, iova_take(dom, 2), 0UL);
	KUNIT_EXPECT_EQ(test, iova_take(dom, 65), 0UL);
	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.failed_allocs, s0.failed_allocs + 3);

	/* one page back: it is the one handed out next */
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, 100, 1), 0);
	KUNIT_EXPECT_EQ(test, iova_take(dom, 1), 100UL);

	/* two cached single pages make room for a pair only after a flush */
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, 100, 1), 0);
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, 101, 1), 0);
	iova_stats(dom, &s0);
	KUNIT_EXPECT_EQ(test, iova_take(dom, 2), 100UL);
	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.cache_flushes, s0.cache_flushes + 1);
	KUNIT_EXPECT_EQ(test, s.failed_allocs, s0.failed_allocs);
	KUNIT_EXPECT_EQ(test, s.cached_ranges, 0ULL);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);

	for (i = 64; i <= 127; i++) {
		if (i == 100 || i == 101)
			continue;
		KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, i, 1), 0);
	}
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, 100, 2), 0);
	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.live_ranges, 0ULL);
	KUNIT_EXPECT_EQ(test, s.pages_in_use, 0ULL);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);
	KUNIT_EXPECT_EQ(test, iova_count_free(test, dom), 64UL);
}

/*
 * Issue 13, the 32-bit space full: a request below 4 GiB that finds no
 * room fails without flushing caches that hold only ranges above 4 GiB
 * (the high ones stay cached), and keeps failing at once (the "no room"
 * hint); a range cached below 4 GiB is then handed out from the cache, and
 * a request a flush can help (two cached pages make a pair) flushes once,
 * which also clears the hint.
 */
static void iova_low_full_keeps_caches(struct kunit *test)
{
	/* in granules of the domain (4 KiB), not CPU pages */
	unsigned long lim32 = DMA_BIT_MASK(32) >> ilog2(SZ_4K), p, i;
	struct altdma_iova_domain *dom;
	struct altdma_iova_stats s0, s;
	unsigned long high[4];

	dom = iova_new_pfns(test, SZ_4K, lim32 - 63, lim32 + 1024, NULL,
			    false);
	for (i = 0; i < 64; i++)
		KUNIT_ASSERT_NE(test, altdma_iova_alloc(dom, 1, lim32,
							GFP_KERNEL), 0UL);
	for (i = 0; i < ARRAY_SIZE(high); i++) {
		high[i] = iova_take(dom, 1);
		KUNIT_ASSERT_GT(test, high[i], lim32);
	}
	for (i = 0; i < ARRAY_SIZE(high); i++)
		KUNIT_ASSERT_EQ(test, altdma_iova_free(dom, high[i], 1), 0);

	iova_stats(dom, &s0);
	KUNIT_EXPECT_EQ(test, s0.cached_ranges, 4ULL);
	for (i = 0; i < 3; i++)
		KUNIT_EXPECT_EQ(test, altdma_iova_alloc(dom, 1, lim32,
							GFP_KERNEL), 0UL);
	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.failed_allocs, s0.failed_allocs + 3);
	KUNIT_EXPECT_EQ(test, s.cache_flushes, s0.cache_flushes);
	KUNIT_EXPECT_EQ(test, s.cached_ranges, 4ULL);

	/* a page freed below 4 GiB comes back from the cache */
	KUNIT_ASSERT_EQ(test, altdma_iova_free(dom, lim32 - 10, 1), 0);
	KUNIT_EXPECT_EQ(test, altdma_iova_alloc(dom, 1, lim32, GFP_KERNEL),
			lim32 - 10);

	/* two cached low pages make a pair only after a flush */
	KUNIT_ASSERT_EQ(test, altdma_iova_free(dom, lim32 - 11, 1), 0);
	KUNIT_ASSERT_EQ(test, altdma_iova_free(dom, lim32 - 10, 1), 0);
	iova_stats(dom, &s0);
	p = altdma_iova_alloc(dom, 2, lim32, GFP_KERNEL);
	KUNIT_EXPECT_EQ(test, p, lim32 - 11);
	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.cache_flushes, s0.cache_flushes + 1);
	KUNIT_EXPECT_EQ(test, s.failed_allocs, s0.failed_allocs);
	KUNIT_EXPECT_EQ(test, s.cached_ranges, 0ULL);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);
}

/*
 * Issue 13 item 6, low and high bands: a page freed below 4 GiB before
 * more than two magazines of pages above it is still handed to a 32-bit
 * request from the cache (one magazine scan would have missed it: with one
 * mixed cache it sat in the depot behind two magazines of high pages); a
 * request without a limit takes a high page even when the low one was
 * freed last, and goes to the tree rather than take the low page when no
 * high one is cached, so the low page stays for the 32-bit request.
 */
static void iova_bands_keep_low_ranges(struct kunit *test)
{
	unsigned long lim32 = DMA_BIT_MASK(32) >> ilog2(SZ_4K), low, last, i;
	const unsigned int nhigh = 2 * ALTDMA_IOVA_MAG_SIZE + 8;
	unsigned long last2;
	struct altdma_iova_domain *dom;
	struct altdma_iova_stats s0, s;
	unsigned long *high;

	high = kunit_kcalloc(test, nhigh, sizeof(*high), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, high);
	dom = iova_new_pfns(test, SZ_4K, lim32 - 63, lim32 + 1024, NULL,
			    false);
	KUNIT_ASSERT_GT(test, dom->nr_classes, 0U);
	migrate_disable();
	low = altdma_iova_alloc(dom, 1, lim32, GFP_KERNEL);
	for (i = 0; i < nhigh; i++)
		high[i] = iova_take(dom, 1);
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, low, 1), 0);
	for (i = 0; i < nhigh; i++)
		KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, high[i], 1), 0);
	iova_stats(dom, &s0);
	KUNIT_EXPECT_EQ(test, altdma_iova_alloc(dom, 1, lim32, GFP_KERNEL),
			low);
	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.cache_hits, s0.cache_hits + 1);
	KUNIT_EXPECT_EQ(test, s.cache_misses, s0.cache_misses);

	/* the low page freed last: a request with no limit leaves it */
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, low, 1), 0);
	last = iova_take(dom, 1);
	KUNIT_EXPECT_GT(test, last, lim32);
	KUNIT_EXPECT_EQ(test, altdma_iova_alloc(dom, 1, lim32, GFP_KERNEL),
			low);
	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.cache_hits, s0.cache_hits + 3);
	KUNIT_EXPECT_EQ(test, s.cache_misses, s0.cache_misses);

	/* no high page cached: a request with no limit misses, low stays */
	altdma_iova_flush_caches(dom);
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, low, 1), 0);
	iova_stats(dom, &s0);
	last2 = iova_take(dom, 1);
	iova_stats(dom, &s);
	KUNIT_EXPECT_GT(test, last2, lim32);
	KUNIT_EXPECT_EQ(test, s.cache_misses, s0.cache_misses + 1);
	KUNIT_EXPECT_EQ(test, s.cached_ranges, 1ULL);
	KUNIT_EXPECT_EQ(test, altdma_iova_alloc(dom, 1, lim32, GFP_KERNEL),
			low);
	migrate_enable();
	KUNIT_EXPECT_EQ(test, low, lim32);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, low, 1), 0);
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, last, 1), 0);
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, last2, 1), 0);
}

/* A free with the wrong size is refused and leaves the range allocated. */
static void iova_free_wrong_size(struct kunit *test)
{
	struct altdma_iova_domain *dom, *cdom;
	unsigned long p, q;

	dom = iova_new_pfns(test, SZ_4K, 64, 127, NULL, true);
	p = iova_take(dom, 4);
	q = iova_take(dom, 3);
	KUNIT_ASSERT_EQ(test, p, 124UL);
	KUNIT_ASSERT_EQ(test, q, 120UL);

	/* seed 000: a 4-page range freed as 2 pages */
	iova_refused(test, dom, p, 2, ALTDMA_IOVA_REFUSE_SIZE);
	iova_refused(test, dom, p, 8, ALTDMA_IOVA_REFUSE_SIZE);
	iova_refused(test, dom, p, 1, ALTDMA_IOVA_REFUSE_SIZE);
	/* the size asked for counts, not the rounded one */
	iova_refused(test, dom, q, 4, ALTDMA_IOVA_REFUSE_SIZE);
	iova_refused(test, dom, q, 2, ALTDMA_IOVA_REFUSE_SIZE);

	/* both ranges are still there, whole */
	KUNIT_EXPECT_EQ(test, iova_count_free(test, dom), 64UL - 8);
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, p, 4), 0);
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, q, 3), 0);
	KUNIT_EXPECT_EQ(test, iova_count_free(test, dom), 64UL);

	/* the same with caching on */
	cdom = iova_new_pfns(test, SZ_4K, 64, 127, NULL, false);
	p = iova_take(cdom, 4);
	KUNIT_ASSERT_NE(test, p, 0UL);
	iova_refused(test, cdom, p, 2, ALTDMA_IOVA_REFUSE_SIZE);
	KUNIT_EXPECT_EQ(test, iova_count_free(test, cdom), 64UL - 4);
	KUNIT_EXPECT_EQ(test, altdma_iova_free(cdom, p, 4), 0);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(cdom), 0);
}

/*
 * seed 000: a quarantined range (the backend unmapped short) is never handed
 * out again, is not counted live, and cannot be freed afterwards.
 */
static void iova_quarantine_never_reused(struct kunit *test)
{
	struct altdma_iova_domain *dom;
	struct altdma_iova_stats a, b;
	unsigned long p, q, i;

	dom = iova_new_pfns(test, SZ_4K, 64, 127, NULL, false);
	p = iova_take(dom, 3);
	KUNIT_ASSERT_NE(test, p, 0UL);
	iova_stats(dom, &a);
	/* only the allocated size is accepted; nothing changes otherwise */
	KUNIT_EXPECT_EQ(test, altdma_iova_quarantine(dom, p, 2), -EINVAL);
	KUNIT_EXPECT_EQ(test, altdma_iova_quarantine(dom, p + 1, 3), -EINVAL);
	KUNIT_EXPECT_EQ(test, altdma_iova_quarantine(dom, p, 3), 0);
	iova_stats(dom, &b);
	KUNIT_EXPECT_EQ(test, b.quarantined, a.quarantined + 1);
	KUNIT_EXPECT_EQ(test, b.quarantined_pages, a.quarantined_pages + 4);
	KUNIT_EXPECT_EQ(test, b.live_ranges, a.live_ranges - 1);
	KUNIT_EXPECT_EQ(test, b.pages_in_use, a.pages_in_use - 4);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);

	/* neither a free nor a second quarantine reaches it */
	iova_refused(test, dom, p, 3, ALTDMA_IOVA_REFUSE_RESERVED);
	KUNIT_EXPECT_EQ(test, altdma_iova_quarantine(dom, p, 3), -EINVAL);

	/* 10,000 allocations of every small size never overlap it */
	for (i = 0; i < 10000; i++) {
		unsigned long n = 1 + i % 5;

		q = iova_take(dom, n);
		if (!q) {
			KUNIT_FAIL(test, "allocation %lu of %lu pages failed", i, n);
			break;
		}
		if (q + altdma_iova_alloc_size(dom, n) > p && q < p + 4)
			KUNIT_FAIL(test, "[%#lx+%lu] overlaps quarantined [%#lx+4]",
				   q, n, p);
		KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, q, n), 0);
	}
	KUNIT_EXPECT_EQ(test, iova_count_free(test, dom), 64UL - 4);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);
}

/* The pages the avoid hook of iova_avoid_hook() keeps out: 100, 120..123 */
static bool iova_avoid_test(void *arg, unsigned long lo, unsigned long hi)
{
	unsigned long *asked = arg;

	(*asked)++;
	return (lo <= 100 && hi >= 100) || (lo <= 123 && hi >= 120);
}

/*
 * An avoid hook keeps out, for good, every placed range it refuses (the
 * ranges of the previous layer, prev_layer.c), and sees only placements
 * by the tree, not cache hits.
 */
static void iova_avoid_hook(struct kunit *test)
{
	struct altdma_iova_domain *dom;
	struct altdma_iova_stats st;
	unsigned long asked = 0, hits = 0, q, i, n;

	dom = iova_new_pfns(test, SZ_4K, 64, 127, NULL, false);
	altdma_iova_set_avoid(dom, iova_avoid_test, &asked);
	for (i = 0; i < 2000; i++) {
		n = 1 + i % 3;
		q = iova_take(dom, n);
		if (!q) {
			KUNIT_FAIL(test, "allocation %lu of %lu pages failed", i, n);
			break;
		}
		if (iova_avoid_test(&hits, q, q + altdma_iova_alloc_size(dom, n) - 1))
			KUNIT_FAIL(test, "[%#lx+%lu] overlaps a page kept out", q, n);
		KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, q, n), 0);
	}
	iova_stats(dom, &st);
	/* the top-down tree places at 124..127 first, then must skip 120..123 */
	KUNIT_EXPECT_GE(test, st.avoided, 1ULL);
	/* cache hits are not asked about again */
	KUNIT_EXPECT_LT(test, asked, 2000UL);
	KUNIT_EXPECT_GT(test, st.cache_hits, 0ULL);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);
}

/* A second free of a cached range is refused and does not cache it twice. */
static void iova_free_double_cached(struct kunit *test)
{
	struct altdma_iova_domain *dom;
	unsigned long p, q, r;
	bool ok;
	int ret;

	dom = iova_new_pfns(test, SZ_4K, 64, 127, NULL, false);

	migrate_disable();
	p = iova_take(dom, 1);
	ret = altdma_iova_free(dom, p, 1);
	ok = iova_refused(test, dom, p, 1, ALTDMA_IOVA_REFUSE_DOUBLE);
	q = iova_take(dom, 1);
	r = iova_take(dom, 1);
	migrate_enable();

	KUNIT_EXPECT_TRUE(test, ok);
	KUNIT_EXPECT_EQ(test, ret, 0);
	KUNIT_EXPECT_EQ(test, p, 127UL);
	KUNIT_EXPECT_EQ(test, q, p);
	/* a second copy in the cache would hand p out again */
	KUNIT_EXPECT_NE(test, r, p);
	KUNIT_EXPECT_NE(test, r, 0UL);

	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, q, 1), 0);
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, r, 1), 0);
	iova_refused(test, dom, q, 1, ALTDMA_IOVA_REFUSE_DOUBLE);
	iova_refused(test, dom, r, 1, ALTDMA_IOVA_REFUSE_DOUBLE);

	/* back in the tree and not reused: the pfn is simply unknown */
	altdma_iova_flush_caches(dom);
	iova_refused(test, dom, q, 1, ALTDMA_IOVA_REFUSE_UNKNOWN);
	KUNIT_EXPECT_EQ(test, iova_count_free(test, dom), 64UL);
}

/* Whether the index holds a range starting at @pfn. */
static bool iova_indexed(struct altdma_iova_domain *dom, unsigned long pfn)
{
	struct altdma_iova_range *r;

	rcu_read_lock();
	r = altdma_iova_lookup(dom, pfn);
	rcu_read_unlock();
	return r;
}

/* Ranges the index holds in its xarray (keys above its table). */
static unsigned long iova_xa_count(struct altdma_iova_domain *dom)
{
	unsigned long key, n = 0;
	void *r;

	xa_for_each(&dom->index.xa, key, r)
		n++;
	return n;
}

/*
 * The index keeps the ranges near the top of each region in its table and
 * the others in its xarray: a range found through either is freed once,
 * refused the second time, and gone from the index afterwards.
 */
static void iova_index_table_and_xarray(struct kunit *test)
{
	struct altdma_iova_config cfg = {
		.name = test->name, .granule = SZ_4K,
		.end = DMA_BIT_MASK(36), .nocache = true,
		.table_keys = ALTDMA_IOVA_LEAF_KEYS,
	};
	const unsigned int shift = ilog2(SZ_4K);
	unsigned long top32 = DMA_BIT_MASK(32) >> shift, pfn[4], i;
	unsigned long limit[4] = {
		ULONG_MAX, top32, top32 - ALTDMA_IOVA_LEAF_KEYS,
		(DMA_BIT_MASK(36) >> shift) - ALTDMA_IOVA_LEAF_KEYS,
	};
	struct altdma_iova_domain *dom = iova_new(test, &cfg);

	/* keys: top of the 64-bit part, top of the 32-bit part, then deep */
	for (i = 0; i < ARRAY_SIZE(pfn); i++) {
		pfn[i] = altdma_iova_alloc(dom, 1, limit[i], GFP_KERNEL);
		KUNIT_ASSERT_EQ_MSG(test, pfn[i], min(limit[i], dom->end_pfn),
				    "range %lu", i);
		KUNIT_EXPECT_TRUE_MSG(test, iova_indexed(dom, pfn[i]), "range %lu", i);
	}
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);
	/* the two deep ones, and only they, are in the xarray */
	KUNIT_EXPECT_EQ(test, iova_xa_count(dom), 2UL);
	for (i = 0; i < ARRAY_SIZE(pfn); i++) {
		KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, pfn[i], 1), 0);
		KUNIT_EXPECT_FALSE_MSG(test, iova_indexed(dom, pfn[i]), "range %lu", i);
		iova_refused(test, dom, pfn[i], 1, ALTDMA_IOVA_REFUSE_UNKNOWN);
	}
	KUNIT_EXPECT_EQ(test, iova_xa_count(dom), 0UL);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);
}

/*
 * The default table holds keys below 65536 in three tiers: the leaves the
 * index points to itself (keys below 8192), the leaves behind its second
 * array (allocated with the first of them), then the xarray. A range in
 * each is found, walked in key order, freed once, refused the second time
 * and gone from the index afterwards.
 */
static void iova_index_three_tiers(struct kunit *test)
{
	struct altdma_iova_config cfg = {
		.name = test->name, .granule = SZ_4K,
		.end = DMA_BIT_MASK(36), .nocache = true,
	};
	const unsigned int shift = ilog2(SZ_4K);
	unsigned long top32 = DMA_BIT_MASK(32) >> shift, pfn[4], i, key, n;
	unsigned long top = DMA_BIT_MASK(36) >> shift;
	/* keys 0, 16384 (second array), 80000 (xarray), 20001 (second) */
	unsigned long limit[4] = { top32, top32 - 8192, top32 - 40000,
				   top - 10000 };
	struct altdma_iova_domain *dom = iova_new(test, &cfg);
	struct altdma_iova_range *r;

	KUNIT_ASSERT_EQ(test, dom->index.table_keys,
			(unsigned long)ALTDMA_IOVA_TABLE_KEYS);
	KUNIT_EXPECT_TRUE(test, !rcu_access_pointer(dom->index.more));
	for (i = 0; i < ARRAY_SIZE(pfn); i++) {
		pfn[i] = altdma_iova_alloc(dom, 1, limit[i], GFP_KERNEL);
		KUNIT_ASSERT_EQ_MSG(test, pfn[i], limit[i], "range %lu", i);
		KUNIT_EXPECT_TRUE_MSG(test, iova_indexed(dom, pfn[i]),
				      "range %lu", i);
	}
	KUNIT_EXPECT_TRUE(test, rcu_access_pointer(dom->index.more));
	KUNIT_EXPECT_EQ(test, iova_xa_count(dom), 1UL);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);
	n = 0;
	rcu_read_lock();
	altdma_iova_index_for_each(&dom->index, key, r) {
		KUNIT_EXPECT_EQ_MSG(test, altdma_iova_key(dom, r->pfn_lo), key,
				    "range %lu", n);
		n++;
	}
	rcu_read_unlock();
	KUNIT_EXPECT_EQ(test, n, ARRAY_SIZE(pfn));
	for (i = 0; i < ARRAY_SIZE(pfn); i++) {
		KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, pfn[i], 1), 0);
		KUNIT_EXPECT_FALSE_MSG(test, iova_indexed(dom, pfn[i]),
				       "range %lu", i);
		iova_refused(test, dom, pfn[i], 1, ALTDMA_IOVA_REFUSE_UNKNOWN);
	}
	KUNIT_EXPECT_EQ(test, iova_xa_count(dom), 0UL);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);
}

/* Without a cache a second free finds no range and is refused. */
static void iova_free_double_nocache(struct kunit *test)
{
	struct altdma_iova_domain *dom;
	unsigned long p, q;

	dom = iova_new_pfns(test, SZ_4K, 64, 127, NULL, true);
	p = iova_take(dom, 2);
	q = iova_take(dom, 1);
	KUNIT_ASSERT_EQ(test, p, 126UL);
	KUNIT_ASSERT_EQ(test, q, 125UL);
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, p, 2), 0);
	iova_refused(test, dom, p, 2, ALTDMA_IOVA_REFUSE_UNKNOWN);
	iova_refused(test, dom, p, 2, ALTDMA_IOVA_REFUSE_UNKNOWN);
	/* q is untouched */
	KUNIT_EXPECT_EQ(test, iova_count_free(test, dom), 63UL);
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, q, 1), 0);
	KUNIT_EXPECT_EQ(test, iova_count_free(test, dom), 64UL);
}

/* Frees of a pfn no range starts at are refused as unknown or middle. */
static void iova_free_unknown_middle(struct kunit *test)
{
	struct altdma_iova_domain *dom;
	unsigned long p, q;

	dom = iova_new_pfns(test, SZ_4K, 64, 127, NULL, true);
	p = iova_take(dom, 8);
	q = iova_take(dom, 3);
	KUNIT_ASSERT_EQ(test, p, 120UL);
	KUNIT_ASSERT_EQ(test, q, 116UL);

	iova_refused(test, dom, p + 1, 8, ALTDMA_IOVA_REFUSE_MIDDLE);
	iova_refused(test, dom, p + 7, 1, ALTDMA_IOVA_REFUSE_MIDDLE);
	iova_refused(test, dom, q + 1, 3, ALTDMA_IOVA_REFUSE_MIDDLE);
	/* the rounding page of a 3-page range is part of it */
	iova_refused(test, dom, q + 3, 3, ALTDMA_IOVA_REFUSE_MIDDLE);

	iova_refused(test, dom, 64, 1, ALTDMA_IOVA_REFUSE_UNKNOWN);
	iova_refused(test, dom, q - 1, 1, ALTDMA_IOVA_REFUSE_UNKNOWN);
	iova_refused(test, dom, 100, 4, ALTDMA_IOVA_REFUSE_UNKNOWN);
	iova_refused(test, dom, dom->end_pfn + 1000, 1, ALTDMA_IOVA_REFUSE_UNKNOWN);

	KUNIT_EXPECT_EQ(test, iova_count_free(test, dom), 64UL - 12);
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, p, 8), 0);
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, q, 3), 0);
	KUNIT_EXPECT_EQ(test, iova_count_free(test, dom), 64UL);
}

/* Each kind of refusal is counted every time but reported once. */
static void iova_refusal_once(struct kunit *test)
{
	struct altdma_iova_domain *dom;
	struct altdma_iova_stats s;
	unsigned long p;

	dom = iova_new_pfns(test, SZ_4K, 64, 127, NULL, false);
	KUNIT_EXPECT_EQ(test, READ_ONCE(dom->reported), 0UL);
	p = iova_take(dom, 4);
	KUNIT_ASSERT_NE(test, p, 0UL);

	iova_refused(test, dom, p, 2, ALTDMA_IOVA_REFUSE_SIZE);
	KUNIT_EXPECT_EQ(test, READ_ONCE(dom->reported), IOVA_REFUSE(SIZE));
	iova_refused(test, dom, p, 1, ALTDMA_IOVA_REFUSE_SIZE);
	KUNIT_EXPECT_EQ(test, READ_ONCE(dom->reported), IOVA_REFUSE(SIZE));
	iova_refused(test, dom, 64, 1, ALTDMA_IOVA_REFUSE_UNKNOWN);
	iova_refused(test, dom, 65, 1, ALTDMA_IOVA_REFUSE_UNKNOWN);
	KUNIT_EXPECT_EQ(test, READ_ONCE(dom->reported),
			IOVA_REFUSE(SIZE) | IOVA_REFUSE(UNKNOWN));

	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.refused[ALTDMA_IOVA_REFUSE_SIZE], 2ULL);
	KUNIT_EXPECT_EQ(test, s.refused[ALTDMA_IOVA_REFUSE_UNKNOWN], 2ULL);
	KUNIT_EXPECT_EQ(test, s.refused_total, 4ULL);
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, p, 4), 0);
}

/* A free and an allocation of the same class on one CPU round-trip the range. */
static void iova_cache_roundtrip(struct kunit *test)
{
	static const unsigned long npg[] = { 1, 3, 8, 32 };
	struct altdma_iova_domain *dom;
	struct altdma_iova_stats s0, s1;
	unsigned long p, q, n;
	unsigned int i;
	int ret;

	dom = iova_new_pfns(test, SZ_4K, 0, 1023, NULL, false);
	KUNIT_ASSERT_EQ(test, iova_cache_max(dom), 32UL);

	for (i = 0; i < ARRAY_SIZE(npg); i++) {
		n = npg[i];
		migrate_disable();
		p = iova_take(dom, n);
		ret = altdma_iova_free(dom, p, n);
		iova_stats(dom, &s0);
		q = iova_take(dom, n);
		iova_stats(dom, &s1);
		migrate_enable();

		KUNIT_EXPECT_NE_MSG(test, p, 0UL, "npages %lu", n);
		KUNIT_EXPECT_EQ_MSG(test, ret, 0, "npages %lu", n);
		KUNIT_EXPECT_EQ_MSG(test, s0.cached_ranges, 1ULL, "npages %lu", n);
		KUNIT_EXPECT_EQ_MSG(test, q, p, "npages %lu", n);
		KUNIT_EXPECT_EQ_MSG(test, s1.cache_hits, s0.cache_hits + 1, "npages %lu", n);
		KUNIT_EXPECT_EQ_MSG(test, s1.cache_misses, s0.cache_misses, "npages %lu", n);
		KUNIT_EXPECT_EQ_MSG(test, s1.cached_ranges, 0ULL, "npages %lu", n);
		KUNIT_EXPECT_EQ_MSG(test, s1.live_ranges, 1ULL, "npages %lu", n);
		KUNIT_EXPECT_EQ_MSG(test, s1.pages_in_use, (u64)roundup_pow_of_two(n),
				    "npages %lu", n);
		KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);
		KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, q, n), 0);
		altdma_iova_flush_caches(dom);
	}

	/* same class, other size: the new size is the one a free must give */
	migrate_disable();
	p = iova_take(dom, 3);
	ret = altdma_iova_free(dom, p, 3);
	q = iova_take(dom, 4);
	migrate_enable();
	KUNIT_EXPECT_NE(test, p, 0UL);
	KUNIT_EXPECT_EQ(test, ret, 0);
	KUNIT_EXPECT_EQ(test, q, p);
	iova_refused(test, dom, q, 3, ALTDMA_IOVA_REFUSE_SIZE);
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, q, 4), 0);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);
}

/* Ranges larger than the largest class bypass the caches. */
static void iova_cache_large_bypass(struct kunit *test)
{
	struct altdma_iova_domain *dom;
	struct altdma_iova_stats s0, s;
	unsigned long amax, p, q;

	dom = iova_new_pfns(test, SZ_4K, 0, 1023, NULL, false);
	amax = iova_cache_max(dom);
	KUNIT_ASSERT_EQ(test, amax, ALTDMA_IOVA_ALIGN_MAX);

	p = iova_take(dom, amax + 1);
	KUNIT_EXPECT_EQ(test, p, round_down(dom->end_pfn + 1 - (amax + 1), amax));
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, p, amax + 1), 0);
	iova_stats(dom, &s0);
	KUNIT_EXPECT_EQ(test, s0.cached_ranges, 0ULL);
	KUNIT_EXPECT_EQ(test, s0.live_ranges, 0ULL);
	q = iova_take(dom, amax + 1);
	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, q, p);
	KUNIT_EXPECT_EQ(test, s.cache_hits, s0.cache_hits);
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, q, amax + 1), 0);

	/* the largest class itself is cached */
	p = iova_take(dom, amax);
	KUNIT_EXPECT_EQ(test, p, round_down(dom->end_pfn + 1 - amax, amax));
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, p, amax), 0);
	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.cached_ranges, 1ULL);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);
}

/*
 * Requests of more than ALTDMA_IOVA_USABLE_CAP pages: the annotations count
 * every gap of the cap or more as the cap, so such a request is placed by a
 * walk through the gaps, still exactly at the highest place that fits. A
 * gap just too small sits above one that fits; a placement that trusted
 * the capped annotation would go into the first (and fail there).
 */
static void iova_large_requests_exact(struct kunit *test)
{
	const unsigned long cap = ALTDMA_IOVA_USABLE_CAP, amax = ALTDMA_IOVA_ALIGN_MAX;
	unsigned long t, a, b, c, d, e, f, g, last = 8 * cap - 1;
	struct altdma_iova_stats s0, s;
	struct altdma_iova_domain *dom;

	dom = iova_new_pfns(test, SZ_4K, 0, last, NULL, true);
	t = iova_take(dom, amax);
	KUNIT_ASSERT_EQ(test, t, last + 1 - amax);
	a = iova_take(dom, cap + 2 * amax);
	KUNIT_EXPECT_EQ(test, a, t - (cap + 2 * amax));
	b = iova_take(dom, amax);
	c = iova_take(dom, 2 * cap);
	d = iova_take(dom, amax);
	KUNIT_ASSERT_EQ(test, b, a - amax);
	KUNIT_ASSERT_EQ(test, c, b - 2 * cap);
	KUNIT_ASSERT_EQ(test, d, c - amax);
	/* gaps below t: cap + 64 pages, then 2 * cap, then the rest */
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, a, cap + 2 * amax), 0);
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, c, 2 * cap), 0);

	/* the first gap of the cap or more is too small: the next one */
	e = iova_take(dom, cap + 100);
	KUNIT_EXPECT_EQ(test, e, round_down(b - (cap + 100), amax));
	f = iova_take(dom, cap + amax);
	KUNIT_EXPECT_EQ(test, f, t - (cap + amax));
	/* exactly the cap: the annotations still decide, exactly */
	g = iova_take(dom, cap);
	KUNIT_EXPECT_EQ(test, g, d - cap);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);

	/* no gap holds it: refused, nothing changed */
	iova_stats(dom, &s0);
	KUNIT_EXPECT_EQ(test, iova_take(dom, 4 * cap), 0UL);
	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.live_ranges, s0.live_ranges);
	KUNIT_EXPECT_EQ(test, s.pages_in_use, s0.pages_in_use);
	KUNIT_EXPECT_EQ(test, s.failed_allocs, s0.failed_allocs + 1);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, e, cap + 100), 0);
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, f, cap + amax), 0);
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, g, cap), 0);
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, t, amax), 0);
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, b, amax), 0);
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, d, amax), 0);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);
}

/* Where placement hint @i of @dom starts a search: its range's pfn, or 0. */
static unsigned long iova_hint_pfn(struct altdma_iova_domain *dom,
				   unsigned int i)
{
	return dom->hints[i].r ? dom->hints[i].r->pfn_lo : 0;
}

/*
 * Free the page at @pfn; then hint 0 must start at @hint (0: no hint) and
 * the domain check pass.
 */
static void iova_free_hint(struct kunit *test, struct altdma_iova_domain *dom,
			   unsigned long pfn, unsigned long hint)
{
	KUNIT_EXPECT_EQ_MSG(test, altdma_iova_free(dom, pfn, 1), 0,
			    "pfn %#lx", pfn);
	KUNIT_EXPECT_EQ_MSG(test, iova_hint_pfn(dom, 0), hint,
			    "after the free of %#lx", pfn);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);
}

/*
 * A placement hint follows the frees above it, as the kernel's cached node
 * does: a range freed above the hint's range, at or below its limit, or
 * the hint's range itself, makes the freed range's successor the place the
 * next search starts, unless that successor starts above the limit, when
 * the hint goes (a range placed later between the limit and it must not
 * hide the space below). A range freed above the limit changes nothing
 * below it. Every placement stays the highest that fits, and the domain
 * check, which verifies each hint, passes after each step.
 */
static void iova_hint_follows_frees(struct kunit *test)
{
	unsigned long lim32 = DMA_BIT_MASK(32) >> ilog2(SZ_4K), top, i;
	struct altdma_iova_domain *dom;
	unsigned long low[4], x, y;

	dom = iova_new_pfns(test, SZ_4K, lim32 - 63, lim32 + 1024, NULL, true);
	top = lim32 + 1024;
	for (i = 0; i < ARRAY_SIZE(low); i++) {
		low[i] = altdma_iova_alloc(dom, 1, lim32, GFP_KERNEL);
		KUNIT_ASSERT_EQ(test, low[i], lim32 - i);
	}
	KUNIT_EXPECT_EQ(test, iova_hint_pfn(dom, 0), low[3]);
	x = iova_take(dom, 1);
	y = iova_take(dom, 1);
	KUNIT_ASSERT_EQ(test, x, top);
	KUNIT_ASSERT_EQ(test, y, top - 1);
	KUNIT_EXPECT_EQ(test, iova_hint_pfn(dom, 1), y);

	/* above hint 0's limit: it stays; hint 1's successor is the sentinel */
	iova_free_hint(test, dom, x, low[3]);
	KUNIT_EXPECT_EQ(test, iova_hint_pfn(dom, 1), 0UL);

	/* above hint 0's range, below its limit: the freed range's successor */
	iova_free_hint(test, dom, low[1], low[0]);
	KUNIT_EXPECT_EQ(test, altdma_iova_alloc(dom, 1, lim32, GFP_KERNEL),
			low[1]);
	KUNIT_EXPECT_EQ(test, iova_hint_pfn(dom, 0), low[1]);
	/* the hint's own range: its successor */
	iova_free_hint(test, dom, low[1], low[0]);
	KUNIT_EXPECT_EQ(test, altdma_iova_alloc(dom, 1, lim32, GFP_KERNEL),
			low[1]);
	KUNIT_EXPECT_EQ(test, iova_take(dom, 1), x);

	/* a successor above the limit: the hint goes ... */
	iova_free_hint(test, dom, low[0], 0);
	/* ... so a range placed between the limit and y hides nothing */
	KUNIT_EXPECT_EQ(test, altdma_iova_alloc(dom, 1, lim32 + 10,
						GFP_KERNEL), lim32 + 10);
	KUNIT_EXPECT_EQ(test, altdma_iova_alloc(dom, 2, lim32, GFP_KERNEL),
			round_down(low[3] - 2, 2));
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);
	/*
	 * low[3], above the pair: its successor; a request smaller than the
	 * pair the hint recorded searches from the limit, and finds low[0]'s
	 */
	iova_free_hint(test, dom, low[3], low[2]);
	KUNIT_EXPECT_EQ(test, altdma_iova_alloc(dom, 1, lim32, GFP_KERNEL),
			low[0]);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);
}

/* Cached pages block a large allocation only until the automatic flush. */
static void iova_flush_on_failure(struct kunit *test)
{
	struct altdma_iova_domain *dom;
	struct altdma_iova_stats s0, s;
	unsigned long *pfns, p;
	unsigned int i;

	dom = iova_new_pfns(test, SZ_4K, 64, 127, NULL, false);
	pfns = kunit_kcalloc(test, 64, sizeof(*pfns), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pfns);
	for (i = 0; i < 64; i++) {
		pfns[i] = iova_take(dom, 1);
		KUNIT_ASSERT_NE(test, pfns[i], 0UL);
	}
	for (i = 0; i < 64; i++)
		KUNIT_ASSERT_EQ(test, altdma_iova_free(dom, pfns[i], 1), 0);
	iova_stats(dom, &s0);
	KUNIT_EXPECT_EQ(test, s0.cached_ranges, 64ULL);
	KUNIT_EXPECT_EQ(test, s0.live_ranges, 0ULL);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);

	/* 60 pages, aligned to 32: only 64..123 fits */
	p = iova_take(dom, 60);
	KUNIT_EXPECT_EQ(test, p, 64UL);
	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.cache_flushes, s0.cache_flushes + 1);
	KUNIT_EXPECT_EQ(test, s.failed_allocs, s0.failed_allocs);
	KUNIT_EXPECT_EQ(test, s.cached_ranges, 0ULL);
	KUNIT_EXPECT_EQ(test, s.live_ranges, 1ULL);
	KUNIT_EXPECT_EQ(test, s.pages_in_use, 60ULL);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, p, 60), 0);
	KUNIT_EXPECT_EQ(test, iova_count_free(test, dom), 64UL);
}

/* Run the depot's reclaim pass now and wait for it. */
static void iova_run_reclaim(struct altdma_iova_domain *dom)
{
	mod_delayed_work(system_wq, &dom->reclaim, 0);
	flush_delayed_work(&dom->reclaim);
}

/*
 * An idle depot gives one magazine per pass back to the tree; a pass after
 * a magazine was taken from the depot gives nothing back.
 */
static void iova_depot_reclaim(struct kunit *test)
{
	struct altdma_iova_config cfg = {
		.name = test->name,
		.granule = SZ_4K,
		.start = 0,
		.end = 2048UL * SZ_4K - 1,
		.reclaim_ms = 3600 * 1000,	/* passes run only when asked */
	};
	const unsigned int mag = ALTDMA_IOVA_MAG_SIZE, n = 5 * mag;
	struct altdma_iova_domain *dom;
	struct altdma_iova_stats s0, s;
	unsigned long *pfns;
	unsigned int i;
	int cpu;

	dom = iova_new(test, &cfg);
	pfns = kunit_kcalloc(test, n, sizeof(*pfns), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pfns);
	/*
	 * The frees and the later allocations must meet the same CPU's
	 * magazines, with reclaim passes (which sleep) in between: this case's
	 * thread (one per case) stays on the CPU it starts on.
	 */
	cpu = raw_smp_processor_id();
	KUNIT_ASSERT_EQ(test, set_cpus_allowed_ptr(current, cpumask_of(cpu)), 0);

	/*
	 * On one CPU: the loaded and previous magazines take 2 * mag frees,
	 * and each further mag frees push one full magazine to the depot.
	 */
	migrate_disable();
	for (i = 0; i < n; i++)
		pfns[i] = altdma_iova_alloc(dom, 1, ULONG_MAX, GFP_ATOMIC);
	for (i = 0; i < n; i++)
		altdma_iova_free(dom, pfns[i], 1);
	migrate_enable();
	for (i = 0; i < n; i++)
		KUNIT_ASSERT_NE(test, pfns[i], 0UL);
	iova_stats(dom, &s0);
	KUNIT_ASSERT_EQ(test, s0.depot_mags, 3ULL);
	KUNIT_ASSERT_EQ(test, s0.cached_ranges, (u64)n);

	iova_run_reclaim(dom);
	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.depot_mags, 2ULL);
	KUNIT_EXPECT_EQ(test, s.cached_ranges, (u64)(n - mag));
	KUNIT_EXPECT_EQ(test, s.pages_in_use, 0ULL);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);

	/* empty this CPU's two magazines, then take one from the depot */
	migrate_disable();
	for (i = 0; i < 2 * mag + 1; i++)
		pfns[i] = altdma_iova_alloc(dom, 1, ULONG_MAX, GFP_ATOMIC);
	migrate_enable();
	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.depot_mags, 1ULL);
	KUNIT_EXPECT_EQ(test, s.cache_hits - s0.cache_hits, (u64)(2 * mag + 1));

	iova_run_reclaim(dom);		/* the depot was used: nothing back */
	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.depot_mags, 1ULL);
	iova_run_reclaim(dom);		/* idle since: one magazine back */
	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.depot_mags, 0ULL);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);

	for (i = 0; i < 2 * mag + 1; i++)
		KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, pfns[i], 1), 0);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);
}

/* Many frees with a one-magazine depot: bounded depot, nothing lost. */
static void iova_depot_bound(struct kunit *test)
{
	struct altdma_iova_config cfg = {
		.name = test->name,
		.granule = SZ_4K,
		.start = 0,
		.end = 2048UL * SZ_4K - 1,
		.depot_max = 1,
	};
	const unsigned int n = 4 * ALTDMA_IOVA_MAG_SIZE;
	struct altdma_iova_domain *dom;
	struct altdma_iova_stats s;
	unsigned long *pfns, p;
	unsigned int i;

	dom = iova_new(test, &cfg);
	KUNIT_ASSERT_EQ(test, dom->depot_max, 1U);
	pfns = kunit_kcalloc(test, n, sizeof(*pfns), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pfns);

	for (i = 0; i < n; i++) {
		pfns[i] = iova_take(dom, 1);
		KUNIT_ASSERT_NE(test, pfns[i], 0UL);
	}
	for (i = 0; i < n; i++)
		KUNIT_ASSERT_EQ(test, altdma_iova_free(dom, pfns[i], 1), 0);

	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.live_ranges, 0ULL);
	KUNIT_EXPECT_EQ(test, s.pages_in_use, 0ULL);
	KUNIT_EXPECT_LE(test, s.depot_mags, 1ULL);
	KUNIT_EXPECT_LE(test, s.cached_ranges,
			(u64)ALTDMA_IOVA_MAG_SIZE * (2 * nr_cpu_ids + 1));
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);

	altdma_iova_flush_caches(dom);
	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.cached_ranges, 0ULL);
	KUNIT_EXPECT_EQ(test, s.depot_mags, 0ULL);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);

	/* every page is free again: the largest aligned range fits */
	p = iova_take(dom, 2016);
	KUNIT_EXPECT_EQ(test, p, 32UL);
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, p, 2016), 0);
}

/* The wrap-around policy does not reuse a freed range before it wraps. */
static void iova_wrap_no_early_reuse(struct kunit *test)
{
	struct altdma_iova_domain *dom;
	struct altdma_iova_stats s0, s;
	unsigned long a, b, c, p, i;

	dom = iova_new_pfns(test, SZ_4K, 64, 127, &altdma_iova_policy_wrap, false);
	KUNIT_ASSERT_PTR_EQ(test, dom->policy, &altdma_iova_policy_wrap);
	KUNIT_ASSERT_EQ(test, dom->nr_classes, 0U);

	a = iova_take(dom, 1);
	b = iova_take(dom, 1);
	c = iova_take(dom, 1);
	KUNIT_ASSERT_EQ(test, a, 127UL);
	KUNIT_ASSERT_EQ(test, b, 126UL);
	KUNIT_ASSERT_EQ(test, c, 125UL);
	KUNIT_ASSERT_EQ(test, altdma_iova_free(dom, a, 1), 0);
	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.cached_ranges, 0ULL);
	KUNIT_EXPECT_EQ(test, s.live_ranges, 2ULL);

	/* everything below is used up first, a is never handed out */
	for (i = 0; i < 61; i++) {
		p = iova_take(dom, 1);
		KUNIT_ASSERT_EQ_MSG(test, p, 124 - i, "allocation %lu after the free", i);
	}
	/* then the search wraps and finds a's page */
	p = iova_take(dom, 1);
	KUNIT_EXPECT_EQ(test, p, a);

	iova_stats(dom, &s0);
	KUNIT_EXPECT_EQ(test, iova_take(dom, 1), 0UL);
	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.failed_allocs, s0.failed_allocs + 1);
	KUNIT_EXPECT_EQ(test, s.live_ranges, 64ULL);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);

	/* the cursor is now at a: the next search starts right below it */
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, c, 1), 0);
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, b, 1), 0);
	KUNIT_EXPECT_EQ(test, iova_take(dom, 1), b);
	KUNIT_EXPECT_EQ(test, iova_take(dom, 1), c);
	/* without caches a second free is an unknown pfn */
	KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, 64, 1), 0);
	iova_refused(test, dom, 64, 1, ALTDMA_IOVA_REFUSE_UNKNOWN);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);
}

static struct kunit_case iova_cases[] = {
	KUNIT_CASE(iova_config),
	KUNIT_CASE(iova_basic_4k),
	KUNIT_CASE(iova_basic_64k),
	KUNIT_CASE(iova_size_align_4k),
	KUNIT_CASE(iova_size_align_64k),
	KUNIT_CASE(iova_limit_64bit),
	KUNIT_CASE(iova_limit_cached),
	KUNIT_CASE(iova_reserved_fill),
	KUNIT_CASE(iova_reserve_busy),
	KUNIT_CASE(iova_reserve_bounds),
	KUNIT_CASE(iova_exhaustion),
	KUNIT_CASE(iova_low_full_keeps_caches),
	KUNIT_CASE(iova_bands_keep_low_ranges),
	KUNIT_CASE(iova_free_wrong_size),
	KUNIT_CASE(iova_quarantine_never_reused),
	KUNIT_CASE(iova_avoid_hook),
	KUNIT_CASE(iova_free_double_cached),
	KUNIT_CASE(iova_free_double_nocache),
	KUNIT_CASE(iova_index_table_and_xarray),
	KUNIT_CASE(iova_index_three_tiers),
	KUNIT_CASE(iova_free_unknown_middle),
	KUNIT_CASE(iova_refusal_once),
	KUNIT_CASE(iova_cache_roundtrip),
	KUNIT_CASE(iova_cache_large_bypass),
	KUNIT_CASE(iova_large_requests_exact),
	KUNIT_CASE(iova_hint_follows_frees),
	KUNIT_CASE(iova_flush_on_failure),
	KUNIT_CASE(iova_depot_bound),
	KUNIT_CASE(iova_depot_reclaim),
	KUNIT_CASE(iova_wrap_no_early_reuse),
	{}
};

static struct kunit_suite iova_suite = {
	.name = "altdma_iova",
	.init = iova_kunit_init,
	.exit = iova_kunit_exit,
	.test_cases = iova_cases,
};

/* ---- altdma_iova_model: random runs against a reference model ---- */

enum iova_model_variant {
	IOVA_MODEL_CACHED,
	IOVA_MODEL_NOCACHE,
	IOVA_MODEL_WRAP,
};

#define IOVA_MODEL_PAGES	2048
#define IOVA_MODEL_TABLE_KEYS	1024
#define IOVA_MODEL_OPS		20000
#define IOVA_MODEL_BATCH	256
#define IOVA_MODEL_SEED		0xa1d3a0000ULL

struct iova_model_ent {
	unsigned long pfn;
	unsigned long npages;
};

/*
 * The reference: @used has a bit set for each page of a live range (cached
 * ranges are free as far as the model goes), @live lists the live ranges.
 * The counters are what the domain's stats must show.
 */
struct iova_model {
	struct kunit *test;
	struct altdma_iova_domain *dom;
	enum iova_model_variant variant;
	struct rnd_state rnd;
	unsigned long nbits;
	unsigned long *used;
	struct iova_model_ent *live;
	unsigned int nr_live;
	unsigned long pages;
	unsigned long cursor;
	u64 allocs;
	u64 frees;
	u64 failed;
	u64 refused;
	u64 flushes;
};

static u32 iova_model_rand(struct iova_model *m, u32 n)
{
	return prandom_u32_state(&m->rnd) % n;
}

/*
 * Highest @align-aligned @size pages within @lo..@hi that @used has free,
 * or 0: placement is exact, so this is where the allocator must put them.
 */
static unsigned long iova_model_fit(const unsigned long *used, unsigned long lo,
				    unsigned long hi, unsigned long size,
				    unsigned long align)
{
	unsigned long pfn, busy;

	if (hi < lo || hi - lo + 1 < size)
		return 0;
	pfn = round_down(hi - size + 1, align);
	while (pfn >= lo) {
		busy = find_next_bit(used, pfn + size, pfn);
		if (busy >= pfn + size)
			return pfn;
		/* the next candidate must end below the first busy page */
		if (busy < lo + size)
			return 0;
		pfn = round_down(busy - size, align);
	}
	return 0;
}

static void iova_model_alloc(struct iova_model *m)
{
	struct altdma_iova_domain *dom = m->dom;
	struct kunit *test = m->test;
	unsigned long amax = ALTDMA_IOVA_ALIGN_MAX;
	unsigned long npages, size, align, limit, hi, want = 0, pfn;
	u32 r;

	npages = 1 + iova_model_rand(m, 2 * amax);
	size = iova_exp_size(amax, npages);
	align = iova_exp_align(amax, npages);
	KUNIT_ASSERT_EQ_MSG(test, altdma_iova_alloc_size(dom, npages), size,
			    "npages %lu", npages);

	r = iova_model_rand(m, 10);
	if (r < 4)
		limit = ULONG_MAX;
	else if (r < 6)
		limit = dom->end_pfn;
	else
		limit = iova_model_rand(m, dom->end_pfn + 33);
	hi = min(limit, dom->end_pfn);

	if (m->variant == IOVA_MODEL_WRAP)
		want = iova_model_fit(m->used, dom->start_pfn, min(hi, m->cursor - 1),
				      size, align);
	if (!want)
		want = iova_model_fit(m->used, dom->start_pfn, hi, size, align);

	pfn = altdma_iova_alloc(dom, npages, limit, GFP_KERNEL);
	if (!pfn) {
		KUNIT_ASSERT_EQ_MSG(test, want, 0UL,
				    "alloc(%lu, limit %#lx) failed; the model has room at %#lx",
				    npages, limit, want);
		m->failed++;
		return;
	}
	KUNIT_ASSERT_GE_MSG(test, pfn, dom->start_pfn, "alloc(%lu, limit %#lx)", npages, limit);
	KUNIT_ASSERT_LE_MSG(test, pfn + size - 1, hi, "alloc(%lu, limit %#lx) = %#lx",
			    npages, limit, pfn);
	KUNIT_ASSERT_EQ_MSG(test, pfn & (align - 1), 0UL, "alloc(%lu, limit %#lx) = %#lx",
			    npages, limit, pfn);
	KUNIT_ASSERT_GE_MSG(test, find_next_bit(m->used, pfn + size, pfn), pfn + size,
			    "alloc(%lu, limit %#lx) = %#lx overlaps a live range",
			    npages, limit, pfn);
	if (m->variant != IOVA_MODEL_CACHED)
		KUNIT_ASSERT_EQ_MSG(test, pfn, want,
				    "alloc(%lu, limit %#lx, cursor %#lx) not the model's fit",
				    npages, limit, m->cursor);
	KUNIT_ASSERT_LT(test, m->nr_live, IOVA_MODEL_PAGES);

	bitmap_set(m->used, pfn, size);
	m->live[m->nr_live].pfn = pfn;
	m->live[m->nr_live].npages = npages;
	m->nr_live++;
	m->pages += size;
	m->allocs++;
	m->cursor = pfn;
}

static void iova_model_free(struct iova_model *m, unsigned int idx)
{
	struct iova_model_ent e = m->live[idx];
	unsigned long size = iova_exp_size(ALTDMA_IOVA_ALIGN_MAX, e.npages);

	KUNIT_ASSERT_EQ_MSG(m->test, altdma_iova_free(m->dom, e.pfn, e.npages), 0,
			    "free(%#lx, %lu) of a live range", e.pfn, e.npages);
	bitmap_clear(m->used, e.pfn, size);
	m->pages -= size;
	m->frees++;
	m->live[idx] = m->live[--m->nr_live];
}

static void iova_model_refuse(struct iova_model *m, unsigned long pfn,
			      unsigned long npages, unsigned long kinds)
{
	bool ok;

	ok = iova_refused_mask(m->test, m->dom, pfn, npages, kinds,
			       m->variant != IOVA_MODEL_CACHED);
	m->refused++;
	KUNIT_ASSERT_TRUE(m->test, ok);
}

static void iova_model_bad_free(struct iova_model *m)
{
	bool cached = m->variant == IOVA_MODEL_CACHED;
	struct altdma_iova_domain *dom = m->dom;
	struct iova_model_ent e;
	unsigned long size, pfn = 0;
	unsigned int idx, tries;

	if (!m->nr_live)
		return;
	idx = iova_model_rand(m, m->nr_live);
	e = m->live[idx];
	size = iova_exp_size(ALTDMA_IOVA_ALIGN_MAX, e.npages);

	switch (iova_model_rand(m, 4)) {
	case 0:		/* wrong size */
		if (e.npages > 1 && iova_model_rand(m, 2))
			iova_model_refuse(m, e.pfn, 1 + iova_model_rand(m, e.npages - 1),
					  IOVA_REFUSE(SIZE));
		else
			iova_model_refuse(m, e.pfn, e.npages + 1 + iova_model_rand(m, 4),
					  IOVA_REFUSE(SIZE));
		break;
	case 1:		/* inside a live range */
		if (size < 2)
			return;
		iova_model_refuse(m, e.pfn + 1 + iova_model_rand(m, size - 1), e.npages,
				  IOVA_REFUSE(MIDDLE));
		break;
	case 2:		/* right after a good free */
		iova_model_free(m, idx);
		iova_model_refuse(m, e.pfn, e.npages,
				  cached ? IOVA_REFUSE(DOUBLE) | IOVA_REFUSE(UNKNOWN) :
					   IOVA_REFUSE(UNKNOWN));
		break;
	default:	/* a page no live range holds */
		for (tries = 0; tries < 8; tries++) {
			pfn = dom->start_pfn +
			      iova_model_rand(m, dom->end_pfn - dom->start_pfn + 1);
			if (!test_bit(pfn, m->used))
				break;
		}
		if (tries == 8)
			return;
		/* with caching on it may lie in a cached range */
		iova_model_refuse(m, pfn, 1 + iova_model_rand(m, 4),
				  cached ? IOVA_REFUSE_NOT_LIVE : IOVA_REFUSE(UNKNOWN));
		break;
	}
}

static void iova_model_flush(struct iova_model *m)
{
	struct altdma_iova_stats st;

	altdma_iova_flush_caches(m->dom);
	m->flushes++;
	iova_stats(m->dom, &st);
	KUNIT_ASSERT_EQ(m->test, st.cached_ranges, 0ULL);
}

static void iova_model_verify(struct iova_model *m, unsigned int op)
{
	struct kunit *test = m->test;
	struct altdma_iova_stats st;

	KUNIT_ASSERT_EQ_MSG(test, altdma_iova_check(m->dom), 0, "after op %u", op);
	iova_stats(m->dom, &st);
	KUNIT_ASSERT_EQ_MSG(test, st.live_ranges, (u64)m->nr_live, "after op %u", op);
	KUNIT_ASSERT_EQ_MSG(test, st.pages_in_use, (u64)m->pages, "after op %u", op);
	KUNIT_ASSERT_EQ_MSG(test, st.allocs, m->allocs, "after op %u", op);
	KUNIT_ASSERT_EQ_MSG(test, st.frees, m->frees, "after op %u", op);
	KUNIT_ASSERT_EQ_MSG(test, st.failed_allocs, m->failed, "after op %u", op);
	KUNIT_ASSERT_EQ_MSG(test, st.refused_total, m->refused, "after op %u", op);
	KUNIT_ASSERT_LE_MSG(test, st.cache_hits, st.allocs, "after op %u", op);
	if (m->variant == IOVA_MODEL_CACHED) {
		/* a failed allocation flushes only when ranges are cached */
		KUNIT_ASSERT_GE_MSG(test, st.cache_flushes, m->flushes,
				    "after op %u", op);
		KUNIT_ASSERT_LE_MSG(test, st.cache_flushes, m->failed + m->flushes,
				    "after op %u", op);
	} else {
		KUNIT_ASSERT_EQ_MSG(test, st.cached_ranges, 0ULL, "after op %u", op);
		KUNIT_ASSERT_EQ_MSG(test, st.cache_hits, 0ULL, "after op %u", op);
	}
	KUNIT_ASSERT_EQ(test, (unsigned long)bitmap_weight(m->used, m->nbits), m->pages);
}

static void iova_model_run(struct kunit *test, enum iova_model_variant variant)
{
	static const char * const names[] = { "tree, cached", "tree, nocache", "wrap" };
	u64 seed = IOVA_MODEL_SEED + variant;
	struct altdma_iova_domain *dom;
	struct iova_model *m;
	unsigned int i, r, alloc_pct;
	unsigned long p;

	struct altdma_iova_config cfg = {
		.name = test->name,
		.granule = SZ_4K,
		.end = (dma_addr_t)(IOVA_MODEL_PAGES + 1) * SZ_4K - 1,
		.policy = variant == IOVA_MODEL_WRAP ? &altdma_iova_policy_wrap : NULL,
		.nocache = variant == IOVA_MODEL_NOCACHE,
		/* the top 512 pages in the index's table, the rest in its xarray */
		.table_keys = IOVA_MODEL_TABLE_KEYS,
	};

	dom = iova_new(test, &cfg);
	KUNIT_ASSERT_EQ(test, dom->end_pfn, (unsigned long)IOVA_MODEL_PAGES);
	KUNIT_ASSERT_EQ(test, dom->index.table_keys, (unsigned long)IOVA_MODEL_TABLE_KEYS);
	if (variant == IOVA_MODEL_CACHED)
		KUNIT_ASSERT_GT(test, dom->nr_classes, 0U);
	else
		KUNIT_ASSERT_EQ(test, dom->nr_classes, 0U);

	m = kunit_kzalloc(test, sizeof(*m), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, m);
	m->test = test;
	m->dom = dom;
	m->variant = variant;
	m->nbits = dom->end_pfn + 1;
	m->used = iova_kvzalloc(test, BITS_TO_LONGS(m->nbits) * sizeof(long));
	m->live = iova_kvzalloc(test, IOVA_MODEL_PAGES * sizeof(*m->live));
	m->cursor = dom->end_pfn + 1;
	prandom_seed_state(&m->rnd, seed);
	kunit_info(test, "%s: seed %#llx, %u operations on pages %#lx..%#lx\n",
		   names[variant], seed, IOVA_MODEL_OPS, dom->start_pfn, dom->end_pfn);

	for (i = 0; i < IOVA_MODEL_OPS; i++) {
		/* alternate between filling up and draining */
		alloc_pct = ((i / 1024) & 1) ? 35 : 60;
		r = iova_model_rand(m, 100);
		if (r < alloc_pct)
			iova_model_alloc(m);
		else if (r < 92 && m->nr_live)
			iova_model_free(m, iova_model_rand(m, m->nr_live));
		else if (r < 98)
			iova_model_bad_free(m);
		else
			iova_model_flush(m);
		if ((i + 1) % IOVA_MODEL_BATCH == 0) {
			iova_model_verify(m, i);
			cond_resched();
		}
	}

	while (m->nr_live)
		iova_model_free(m, m->nr_live - 1);
	iova_model_verify(m, i);
	iova_model_flush(m);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);

	/* everything is free again: the one place for 2016 pages aligned to 32 */
	p = iova_take(dom, 2016);
	KUNIT_EXPECT_EQ(test, p, 32UL);
	if (p)
		KUNIT_EXPECT_EQ(test, altdma_iova_free(dom, p, 2016), 0);

	kunit_info(test, "%s: %llu allocs, %llu failed, %llu frees, %llu refused\n",
		   names[variant], m->allocs, m->failed, m->frees, m->refused);
	iova_kvfree(test, m->live);
	iova_kvfree(test, m->used);
}

static void iova_model_tree_cached(struct kunit *test)
{
	iova_model_run(test, IOVA_MODEL_CACHED);
}

static void iova_model_tree_nocache(struct kunit *test)
{
	iova_model_run(test, IOVA_MODEL_NOCACHE);
}

static void iova_model_wrap(struct kunit *test)
{
	iova_model_run(test, IOVA_MODEL_WRAP);
}

#define IOVA_FRAG_SEED		0xf4a6ULL

/*
 * The whole 32-bit space in 64 KiB pages, full of single pages, then holes
 * punched: every allocation finds the highest fitting hole, and exactly the
 * holes are found.
 */
static void iova_fragmentation_64k(struct kunit *test)
{
	struct altdma_iova_config cfg = {
		.name = test->name,
		.granule = SZ_64K,
		.start = SZ_64K,
		.end = SZ_4G - 1,
		.nocache = true,
	};
	struct altdma_iova_domain *dom;
	struct altdma_iova_stats s;
	struct rnd_state rnd;
	unsigned long *holes, *pairs;
	unsigned long lim, nbits, pfn, want, last, i;
	unsigned long nholes = 0, npairs = 0, got2 = 0, got1 = 0;
	bool punch;

	dom = iova_new(test, &cfg);
	KUNIT_ASSERT_EQ(test, dom->start_pfn, 1UL);
	KUNIT_ASSERT_EQ(test, dom->end_pfn, 65535UL);
	KUNIT_ASSERT_EQ(test, dom->nr_classes, 0U);
	lim = (unsigned long)((1ULL << 32) >> dom->shift) - 1;
	nbits = dom->end_pfn + 1;
	holes = iova_kvzalloc(test, BITS_TO_LONGS(nbits) * sizeof(long));
	pairs = iova_kvzalloc(test, BITS_TO_LONGS(nbits / 2) * sizeof(long));
	prandom_seed_state(&rnd, IOVA_FRAG_SEED);
	kunit_info(test, "seed %#llx\n", IOVA_FRAG_SEED);

	/* fill: top-down, one page after the other */
	for (i = 0; i < dom->end_pfn; i++) {
		pfn = altdma_iova_alloc(dom, 1, lim, GFP_KERNEL);
		if (pfn != dom->end_pfn - i) {
			KUNIT_FAIL(test, "fill %lu: got %#lx, expected %#lx", i, pfn,
				   dom->end_pfn - i);
			return;
		}
		if (!(i % 1024))
			cond_resched();
	}
	KUNIT_EXPECT_EQ(test, altdma_iova_alloc(dom, 1, lim, GFP_KERNEL), 0UL);
	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.live_ranges, 65535ULL);
	KUNIT_EXPECT_EQ(test, s.failed_allocs, 1ULL);
	KUNIT_ASSERT_EQ(test, altdma_iova_check(dom), 0);

	/* every other page of 4096..12287, and one in eight elsewhere */
	for (pfn = dom->start_pfn; pfn <= dom->end_pfn; pfn++) {
		if (pfn >= 4096 && pfn < 12288)
			punch = pfn & 1;
		else
			punch = !(prandom_u32_state(&rnd) & 7);
		if (!punch)
			continue;
		if (altdma_iova_free(dom, pfn, 1)) {
			KUNIT_FAIL(test, "free(%#lx, 1) refused", pfn);
			return;
		}
		__set_bit(pfn, holes);
		nholes++;
		if (!(nholes % 1024))
			cond_resched();
	}
	for (pfn = 2; pfn + 1 <= dom->end_pfn; pfn += 2) {
		if (test_bit(pfn, holes) && test_bit(pfn + 1, holes)) {
			__set_bit(pfn / 2, pairs);
			npairs++;
		}
	}
	kunit_info(test, "%lu holes, %lu aligned pairs\n", nholes, npairs);
	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.live_ranges, (u64)(65535 - nholes));
	KUNIT_ASSERT_EQ(test, altdma_iova_check(dom), 0);

	/* pairs: only where two holes form an aligned pair, highest first */
	last = nbits / 2;
	for (;;) {
		pfn = altdma_iova_alloc(dom, 2, lim, GFP_KERNEL);
		i = find_last_bit(pairs, last);
		want = i < last ? 2 * i : 0;
		if (pfn != want) {
			KUNIT_FAIL(test, "pair %lu: got %#lx, expected %#lx", got2, pfn, want);
			return;
		}
		if (!pfn)
			break;
		__clear_bit(i, pairs);
		__clear_bit(pfn, holes);
		__clear_bit(pfn + 1, holes);
		last = i;
		got2++;
	}
	KUNIT_EXPECT_EQ(test, got2, npairs);

	/* single pages: every remaining hole, highest first, then nothing */
	last = nbits;
	for (;;) {
		pfn = altdma_iova_alloc(dom, 1, lim, GFP_KERNEL);
		i = find_last_bit(holes, last);
		want = i < last ? i : 0;
		if (pfn != want) {
			KUNIT_FAIL(test, "single %lu: got %#lx, expected %#lx", got1, pfn, want);
			return;
		}
		if (!pfn)
			break;
		__clear_bit(i, holes);
		last = i;
		got1++;
		if (!(got1 % 1024))
			cond_resched();
	}
	KUNIT_EXPECT_EQ(test, got1, nholes - 2 * npairs);
	KUNIT_EXPECT_EQ(test, altdma_iova_alloc(dom, 2, lim, GFP_KERNEL), 0UL);

	iova_stats(dom, &s);
	KUNIT_EXPECT_EQ(test, s.live_ranges, (u64)(65535 - nholes + got2 + got1));
	KUNIT_EXPECT_EQ(test, s.pages_in_use, 65535ULL);
	KUNIT_EXPECT_EQ(test, s.failed_allocs, 4ULL);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(dom), 0);

	iova_kvfree(test, pairs);
	iova_kvfree(test, holes);
	/* the ranges still allocated are freed by altdma_iova_domain_destroy() */
}

static struct kunit_case iova_model_cases[] = {
	KUNIT_CASE(iova_model_tree_cached),
	KUNIT_CASE(iova_model_tree_nocache),
	KUNIT_CASE(iova_model_wrap),
	KUNIT_CASE(iova_fragmentation_64k),
	{}
};

static struct kunit_suite iova_model_suite = {
	.name = "altdma_iova_model",
	.init = iova_kunit_init,
	.exit = iova_kunit_exit,
	.test_cases = iova_model_cases,
};

kunit_test_suites(&iova_suite, &iova_model_suite);
