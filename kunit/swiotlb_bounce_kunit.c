// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit suites for the altdma bounce-buffer pool.
 *
 * altdma_bounce: directed cases, one property each: pool geometry and the
 * largest mapping, min_align_mask offsets, zeroed padding on both sides of
 * the data, granule-exclusive spans, what each direction copies and when,
 * DMA_ATTR_SKIP_CPU_SYNC, partial and refused syncs, exhaustion and
 * recovery, and refused double or unknown unmaps leaving everything as it
 * was; the owner's unmap releasing a slot as the checked one does, and
 * leaving nothing a later checked call could release again; granules in
 * use counted exactly over CPUs.
 *
 * altdma_bounce_stress: map and unmap from several kthreads at once with
 * every byte checked, and from contexts that must not sleep (interrupts
 * off, and a hard interrupt from an hrtimer).
 *
 * Pools, buffers, threads and timers live in the test context and are
 * released by the exit hook, so a failed assertion leaks nothing.
 */

#include <kunit/test.h>
#include <linux/bitmap.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/dma-mapping.h>
#include <linux/err.h>
#include <linux/hrtimer.h>
#include <linux/irqflags.h>
#include <linux/kthread.h>
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

#include "../swiotlb_bounce.h"

#define BK_POOLS	3
#define BK_BUFS		6
#define BK_THREADS	4
#define BK_POISON	0xa5

/* Test context in test->priv; everything in it is released by .exit. */
struct bk_ctx {
	struct altdma_bounce_pool *pool[BK_POOLS];
	void *buf[BK_BUFS];
	struct task_struct *task[BK_THREADS];
	struct hrtimer *timer;
};

static const enum dma_data_direction bk_dirs[] = {
	DMA_TO_DEVICE, DMA_FROM_DEVICE, DMA_BIDIRECTIONAL,
};

static int bk_init(struct kunit *test)
{
	struct bk_ctx *ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);

	if (!ctx)
		return -ENOMEM;
	test->priv = ctx;
	return 0;
}

static void bk_exit(struct kunit *test)
{
	struct bk_ctx *ctx = test->priv;
	unsigned int i;

	if (!ctx)
		return;
	if (ctx->timer)
		hrtimer_cancel(ctx->timer);
	for (i = 0; i < BK_THREADS; i++) {
		if (ctx->task[i]) {
			kthread_stop(ctx->task[i]);
			put_task_struct(ctx->task[i]);
		}
	}
	for (i = 0; i < BK_POOLS; i++)
		altdma_bounce_pool_destroy(ctx->pool[i]);
	for (i = 0; i < BK_BUFS; i++)
		kfree(ctx->buf[i]);
	memset(ctx, 0, sizeof(*ctx));
}

/*
 * The smallest granule a pool takes is the CPU page: 4 KiB on x86_64 and
 * arm64 with 4 KiB pages, 64 KiB with 64 KiB pages. The cases' geometry
 * (granules, pool and buffer sizes) is given in BK_G, so that each case
 * checks the same thing either way; on 4 KiB pages it is what it always
 * was.
 */
#define BK_G	((size_t)max_t(unsigned long, SZ_4K, PAGE_SIZE))
#define BK_F	(BK_G / SZ_4K)

/* A pool owned by the test (destroyed by .exit). */
static struct altdma_bounce_pool *bk_pool(struct kunit *test, size_t size,
					  unsigned long granule)
{
	struct bk_ctx *ctx = test->priv;
	struct altdma_bounce_pool *pool;
	unsigned int i;

	for (i = 0; i < BK_POOLS; i++)
		if (!ctx->pool[i])
			break;
	KUNIT_ASSERT_LT(test, i, BK_POOLS);
	pool = altdma_bounce_pool_create(test->name, size, granule);
	KUNIT_ASSERT_FALSE_MSG(test, IS_ERR(pool), "create: %ld",
			       PTR_ERR(pool));
	ctx->pool[i] = pool;
	return pool;
}

/* A physically contiguous buffer owned by the test (freed by .exit). */
static u8 *bk_buf(struct kunit *test, size_t len)
{
	struct bk_ctx *ctx = test->priv;
	unsigned int i;
	u8 *p;

	for (i = 0; i < BK_BUFS; i++)
		if (!ctx->buf[i])
			break;
	KUNIT_ASSERT_LT(test, i, BK_BUFS);
	p = kmalloc(len, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p);
	ctx->buf[i] = p;
	return p;
}

static inline u8 *bk_va(phys_addr_t pa)
{
	return phys_to_virt(pa);
}

static inline phys_addr_t bk_pa(void *p)
{
	return virt_to_phys(p);
}

/* Byte @i of pattern @seed; two patterns differ at every byte. */
static inline u8 bk_pat(u8 seed, size_t i)
{
	return seed ^ ((i * 7 + (i >> 8) * 3) & 0xff);
}

static void bk_fill(u8 *p, size_t len, u8 seed, size_t from)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = bk_pat(seed, from + i);
}

/* Whether @p holds bytes @from .. @from + @len - 1 of pattern @seed. */
static bool bk_holds(const u8 *p, size_t len, u8 seed, size_t from)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != bk_pat(seed, from + i))
			return false;
	return true;
}

static bool bk_zero(const void *p, size_t len)
{
	return !memchr_inv(p, 0, len);
}

/* Every byte of the span outside the data is zero. */
static bool bk_padding_zero(const struct altdma_bounce_slot *s, size_t size)
{
	u8 *span = bk_va(s->span_start);
	size_t lead = s->data - s->span_start;

	return bk_zero(span, lead) &&
	       bk_zero(span + lead + size, s->span_len - lead - size);
}

/* Write @c over every byte of the pool's memory. */
static void bk_poison(struct altdma_bounce_pool *pool, int c)
{
	unsigned int i;

	for (i = 0; i < pool->nr_segs; i++)
		memset(pool->segs[i].vaddr, c, PAGE_SIZE << pool->segs[i].order);
}

static void bk_stats(struct altdma_bounce_pool *pool,
		     struct altdma_bounce_stats *st)
{
	altdma_bounce_get_stats(pool, st);
}

/* Index of the granule holding @pa, counted over all segments. */
static long bk_gidx(struct altdma_bounce_pool *pool, phys_addr_t pa)
{
	struct altdma_bounce_seg *seg;
	unsigned long first = 0;
	unsigned int i;

	for (i = 0; i < pool->nr_segs; i++) {
		seg = &pool->segs[i];
		if (pa >= seg->base && pa - seg->base < PAGE_SIZE << seg->order)
			return first + ((pa - seg->base) >> pool->shift);
		first += seg->nr_granules;
	}
	return -1;
}

/* Slot alignment a mask asks for. */
static unsigned long bk_align(struct altdma_bounce_pool *pool,
			      unsigned int mask)
{
	if (mask < pool->granule)
		return pool->granule;
	return roundup_pow_of_two((unsigned long)mask + 1);
}

/* The counters a refused or failed call must leave as they were. */
static void bk_expect_same(struct kunit *test,
			   const struct altdma_bounce_stats *a,
			   const struct altdma_bounce_stats *b)
{
	KUNIT_EXPECT_EQ(test, a->granules_in_use, b->granules_in_use);
	KUNIT_EXPECT_EQ(test, a->live_mappings, b->live_mappings);
	KUNIT_EXPECT_EQ(test, a->maps, b->maps);
	KUNIT_EXPECT_EQ(test, a->unmaps, b->unmaps);
	KUNIT_EXPECT_EQ(test, a->syncs, b->syncs);
	KUNIT_EXPECT_EQ(test, a->bytes_to_device, b->bytes_to_device);
	KUNIT_EXPECT_EQ(test, a->bytes_to_cpu, b->bytes_to_cpu);
}

/* ---- altdma_bounce ---- */

static void bounce_geometry(struct kunit *test)
{
	struct altdma_bounce_pool *pool;
	struct altdma_bounce_stats st;
	struct altdma_bounce_seg *seg;
	size_t total = 0;
	unsigned int i;
	u8 *buf;

	KUNIT_EXPECT_EQ(test, PTR_ERR(altdma_bounce_pool_create("x", SZ_64K, 0)),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, PTR_ERR(altdma_bounce_pool_create("x", SZ_64K, 3 * BK_G)),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, PTR_ERR(altdma_bounce_pool_create("x", SZ_64K, SZ_2K)),
			-EINVAL);

	/* Size 0: the module parameter's default. */
	pool = bk_pool(test, 0, BK_G);
	bk_stats(pool, &st);
	KUNIT_EXPECT_EQ(test, st.pool_bytes, (u64)ALTDMA_BOUNCE_DEFAULT_SIZE);
	KUNIT_EXPECT_EQ(test, st.nr_granules, (u64)ALTDMA_BOUNCE_DEFAULT_SIZE / BK_G);

	/* 10000 bytes: three granules, as an order-1 and an order-0 block. */
	pool = bk_pool(test, 10000 * BK_F, BK_G);
	bk_stats(pool, &st);
	KUNIT_EXPECT_EQ(test, st.pool_bytes, 3ULL * BK_G);
	KUNIT_EXPECT_GE(test, st.nr_segs, 2ULL);
	KUNIT_EXPECT_LE(test, pool->seg_max, (size_t)(2 * BK_G));
	for (i = 0; i < pool->nr_segs; i++) {
		seg = &pool->segs[i];
		total += PAGE_SIZE << seg->order;
		KUNIT_EXPECT_EQ(test, seg->base & ((PAGE_SIZE << seg->order) - 1), 0ULL);
		if (i)
			KUNIT_EXPECT_GT(test, seg->base, pool->segs[i - 1].base);
		KUNIT_EXPECT_TRUE(test, altdma_bounce_owns(pool, seg->base));
		KUNIT_EXPECT_TRUE(test, altdma_bounce_owns(pool, seg->base +
					(PAGE_SIZE << seg->order) - 1));
	}
	KUNIT_EXPECT_EQ(test, total, (size_t)3 * BK_G);
	buf = bk_buf(test, (4 * BK_G));
	KUNIT_EXPECT_FALSE(test, altdma_bounce_owns(pool, bk_pa(buf)));

	/* 64 KiB granule: every segment holds whole granules. */
	pool = bk_pool(test, 100000, SZ_64K);
	bk_stats(pool, &st);
	KUNIT_EXPECT_EQ(test, st.pool_bytes, 2ULL * SZ_64K);
	for (i = 0; i < pool->nr_segs; i++)
		KUNIT_EXPECT_GE(test, PAGE_SIZE << pool->segs[i].order,
				(unsigned long)SZ_64K);
}

/* The largest mapping fits with the worst offset; one byte more is refused. */
static void bounce_max_mapping(struct kunit *test)
{
	static const unsigned int masks[] = { 0, 0x7ff, 0xfff, 0x1fff };
	struct altdma_bounce_pool *pool = bk_pool(test, (64 * BK_G), BK_G);
	struct altdma_bounce_stats st0, st;
	struct altdma_bounce_slot s;
	size_t max, span_end;
	phys_addr_t orig;
	unsigned int i;
	u8 *buf = bk_buf(test, (64 * BK_G) + (4 * BK_G));

	KUNIT_ASSERT_EQ(test, pool->seg_max, (size_t)(64 * BK_G));
	for (i = 0; i < ARRAY_SIZE(masks); i++) {
		max = altdma_bounce_max_mapping_size(pool, masks[i]);
		KUNIT_EXPECT_EQ(test, max, (size_t)(64 * BK_G) - masks[i]);
		/* An orig whose offset within the mask is the mask itself. */
		orig = bk_pa(buf + (2 * BK_G));
		orig += (masks[i] - (orig & masks[i])) & masks[i];
		KUNIT_ASSERT_EQ(test, altdma_bounce_map(pool, orig, max, masks[i],
							DMA_TO_DEVICE, 0, &s), 0);
		span_end = s.span_start + s.span_len;
		KUNIT_EXPECT_EQ(test, s.span_len, (size_t)(64 * BK_G));
		KUNIT_EXPECT_EQ(test, s.data + max, (phys_addr_t)span_end);
		KUNIT_EXPECT_EQ(test, altdma_bounce_unmap(pool, s.data, max,
							  DMA_TO_DEVICE, 0), 0);
		bk_stats(pool, &st0);
		KUNIT_EXPECT_EQ(test, altdma_bounce_map(pool, orig, max + 1, masks[i],
							DMA_TO_DEVICE, 0, &s),
				-EINVAL);
		bk_stats(pool, &st);
		KUNIT_EXPECT_EQ(test, st.refused[ALTDMA_BOUNCE_REFUSE_MAP],
				st0.refused[ALTDMA_BOUNCE_REFUSE_MAP] + 1);
		bk_expect_same(test, &st0, &st);
	}
	/* Alignment beyond the largest slot class (32 granules): impossible. */
	KUNIT_EXPECT_EQ(test, altdma_bounce_max_mapping_size(pool, 64 * BK_G - 1), 0);
	KUNIT_EXPECT_EQ(test, altdma_bounce_map(pool, bk_pa(buf), 1, 64 * BK_G - 1,
						DMA_TO_DEVICE, 0, &s), -EINVAL);
	/* Size 0 and no direction are refused too. */
	KUNIT_EXPECT_EQ(test, altdma_bounce_map(pool, bk_pa(buf), 0, 0,
						DMA_TO_DEVICE, 0, &s), -EINVAL);
	KUNIT_EXPECT_EQ(test, altdma_bounce_map(pool, bk_pa(buf), 8, 0,
						DMA_NONE, 0, &s), -EINVAL);
	bk_stats(pool, &st);
	KUNIT_EXPECT_EQ(test, st.refused[ALTDMA_BOUNCE_REFUSE_MAP],
			(u64)ARRAY_SIZE(masks) + 3);
	KUNIT_EXPECT_EQ(test, st.live_mappings, 0ULL);
	KUNIT_EXPECT_EQ(test, st.granules_in_use, 0ULL);
	KUNIT_EXPECT_EQ(test, st.failed, 0ULL);
}

/*
 * Map many (orig offset, size) pairs with @mask and check where the data
 * lands: same offset within the mask, exactly (orig & mask) into a slot
 * aligned to the granule (and to mask + 1 when that is larger), a span of
 * exactly the granules up to the end of the data, and the data copied.
 */
static void bk_min_align(struct kunit *test, struct altdma_bounce_pool *pool,
			 u8 *buf, size_t buflen, unsigned int mask)
{
	static const size_t offs[] = { 0, 1, 3, 0x200, 0x7ff, 0x801, 0xabc,
				       0xfff, 0x1abc, 0x1ffff };
	const size_t sizes[] = { 1, 512, BK_G, 3 * BK_G + 5,
				 pool->granule + 17 };
	unsigned long align = bk_align(pool, mask);
	struct altdma_bounce_slot s;
	unsigned int i, j;
	phys_addr_t orig;
	size_t off;
	u8 seed;

	for (i = 0; i < ARRAY_SIZE(offs); i++) {
		for (j = 0; j < ARRAY_SIZE(sizes); j++) {
			if (offs[i] + sizes[j] > buflen)
				continue;
			seed = 1 + i * ARRAY_SIZE(sizes) + j;
			orig = bk_pa(buf + offs[i]);
			off = orig & mask;
			bk_fill(buf + offs[i], sizes[j], seed, 0);
			KUNIT_ASSERT_EQ(test, altdma_bounce_map(pool, orig, sizes[j], mask,
								DMA_BIDIRECTIONAL, 0, &s), 0);
			KUNIT_EXPECT_EQ_MSG(test, (u64)(s.data & mask), (u64)(orig & mask),
					    "mask %#x orig %pa size %zu", mask, &orig,
					    sizes[j]);
			KUNIT_EXPECT_EQ(test, (u64)(s.data - s.span_start), (u64)off);
			KUNIT_EXPECT_EQ(test, (u64)(s.span_start & (align - 1)), 0ULL);
			KUNIT_EXPECT_EQ(test, s.span_len,
					(size_t)round_up(off + sizes[j], pool->granule));
			KUNIT_EXPECT_TRUE(test, bk_holds(bk_va(s.data), sizes[j], seed, 0));
			KUNIT_EXPECT_EQ(test, altdma_bounce_unmap(pool, s.data, sizes[j],
								  DMA_BIDIRECTIONAL, 0), 0);
		}
	}
}

/* A mask the slot allocator cannot align for is refused, and counted. */
static void bk_min_align_impossible(struct kunit *test,
				    struct altdma_bounce_pool *pool, u8 *buf,
				    unsigned int mask)
{
	struct altdma_bounce_stats st0, st;
	struct altdma_bounce_slot s;

	bk_stats(pool, &st0);
	KUNIT_EXPECT_EQ(test, altdma_bounce_map(pool, bk_pa(buf), 64, mask,
						DMA_TO_DEVICE, 0, &s), -EINVAL);
	bk_stats(pool, &st);
	KUNIT_EXPECT_EQ(test, st.refused[ALTDMA_BOUNCE_REFUSE_MAP],
			st0.refused[ALTDMA_BOUNCE_REFUSE_MAP] + 1);
	bk_expect_same(test, &st0, &st);
}

/*
 * Every mask in @masks is honoured on a pool of @granule granules, and
 * @impossible (more alignment than the slot allocator gives) is refused.
 */
static void bk_min_align_all(struct kunit *test, unsigned long granule,
			     const unsigned int *masks, unsigned int nr,
			     unsigned int impossible)
{
	struct altdma_bounce_pool *pool = bk_pool(test, (256 * BK_G), granule);
	u8 *buf = bk_buf(test, (64 * BK_G));
	struct altdma_bounce_stats st;
	unsigned int i;

	for (i = 0; i < nr; i++)
		bk_min_align(test, pool, buf, (64 * BK_G), masks[i]);
	bk_min_align_impossible(test, pool, buf, impossible);
	bk_stats(pool, &st);
	KUNIT_EXPECT_EQ(test, st.live_mappings, 0ULL);
	KUNIT_EXPECT_EQ(test, st.granules_in_use, 0ULL);
}

static void bounce_min_align_4k(struct kunit *test)
{
	static const unsigned int masks[] = { 0, 0x3, 0x7ff, 0xfff, 0x1fff,
					      0x3fff, 0x1ffff };

	/* 64 granules of alignment: more than the slot allocator gives */
	bk_min_align_all(test, BK_G, masks, ARRAY_SIZE(masks), 64 * BK_G - 1);
}

static void bounce_min_align_64k(struct kunit *test)
{
	static const unsigned int masks[] = { 0, 0x3, 0x7ff, 0xfff, 0xffff,
					      0x1ffff, 0x7ffff };

	bk_min_align_all(test, SZ_64K, masks, ARRAY_SIZE(masks), 0x3fffff);
}

/*
 * With the whole pool poisoned, map and check that every span byte before
 * and after the data is zero, that the data is the buffer's (under
 * SKIP_CPU_SYNC too: issue 14, item 6), and that the byte after the span
 * was not touched.
 */
static void bk_padding(struct kunit *test, struct altdma_bounce_pool *pool,
		       u8 *buf, unsigned int mask, size_t off, size_t size,
		       enum dma_data_direction dir, unsigned long attrs)
{
	struct altdma_bounce_slot s;
	phys_addr_t end;
	u8 *data;

	bk_fill(buf + off, size, 0x3c, 0);
	bk_poison(pool, BK_POISON);
	KUNIT_ASSERT_EQ(test, altdma_bounce_map(pool, bk_pa(buf + off), size, mask,
						dir, attrs, &s), 0);
	data = bk_va(s.data);
	KUNIT_EXPECT_TRUE_MSG(test, bk_padding_zero(&s, size),
			      "mask %#x off %#zx size %zu dir %d attrs %#lx: lead %zu",
			      mask, off, size, dir, attrs,
			      (size_t)(s.data - s.span_start));
	KUNIT_EXPECT_TRUE(test, bk_holds(data, size, 0x3c, 0));
	end = s.span_start + s.span_len;
	if (altdma_bounce_owns(pool, end))
		KUNIT_EXPECT_EQ(test, *bk_va(end), BK_POISON);
	KUNIT_EXPECT_EQ(test, altdma_bounce_unmap(pool, s.data, size, dir,
						  DMA_ATTR_SKIP_CPU_SYNC), 0);
}

static void bk_padding_pool(struct kunit *test, struct altdma_bounce_pool *pool,
			    u8 *buf, const unsigned int *masks,
			    unsigned int nmasks)
{
	static const size_t offs[] = { 0x123, 0x800, 0xfff, 0x1abc };
	const size_t sizes[] = { 1, 100, BK_G + 3, pool->granule + 5 };
	unsigned int d, m, o, z;

	for (d = 0; d < ARRAY_SIZE(bk_dirs); d++)
		for (m = 0; m < nmasks; m++)
			for (o = 0; o < ARRAY_SIZE(offs); o++)
				for (z = 0; z < ARRAY_SIZE(sizes); z++)
					bk_padding(test, pool, buf, masks[m],
						   offs[o], sizes[z], bk_dirs[d],
						   0);
	/* SKIP_CPU_SYNC: the buffer is copied in all the same. */
	for (d = 0; d < ARRAY_SIZE(bk_dirs); d++)
		bk_padding(test, pool, buf, 0xfff, 0xabc, 3000, bk_dirs[d],
			   DMA_ATTR_SKIP_CPU_SYNC);
}

static void bounce_zero_padding(struct kunit *test)
{
	static const unsigned int masks_4k[] = { 0, 0x7ff, 0xfff, 0x1fff };
	static const unsigned int masks_64k[] = { 0, 0xfff, 0xffff };
	u8 *buf = bk_buf(test, SZ_128K);

	bk_padding_pool(test, bk_pool(test, (64 * BK_G), BK_G), buf, masks_4k,
			ARRAY_SIZE(masks_4k));
	bk_padding_pool(test, bk_pool(test, SZ_512K, SZ_64K), buf, masks_64k,
			ARRAY_SIZE(masks_64k));
}

/* A mapping made by bk_map_many(). */
struct bk_live {
	struct altdma_bounce_slot s;
	size_t size;
	u8 seed;
};

/*
 * Fill @pool with random mappings until it is full or @max are live;
 * every span's granules must be free before it. Returns how many.
 */
static unsigned int bk_map_many(struct kunit *test,
				struct altdma_bounce_pool *pool, u8 *buf,
				struct bk_live *live, unsigned int max,
				unsigned long *used, struct rnd_state *rnd)
{
	static const unsigned int masks[] = { 0, 0x7ff, 0xfff };
	struct bk_live *l;
	unsigned int n, mask;
	size_t off;
	long g, i;
	int ret;

	for (n = 0; n < max; n++) {
		l = &live[n];
		l->size = 1 + prandom_u32_state(rnd) % (3 * pool->granule);
		off = prandom_u32_state(rnd) % BK_G;
		mask = masks[prandom_u32_state(rnd) % ARRAY_SIZE(masks)];
		l->seed = n + 1;
		bk_fill(buf + off, l->size, l->seed, 0);
		ret = altdma_bounce_map(pool, bk_pa(buf + off), l->size, mask,
					bk_dirs[n % 3], 0, &l->s);
		if (ret == -ENOMEM)
			break;
		KUNIT_ASSERT_EQ(test, ret, 0);
		g = bk_gidx(pool, l->s.span_start);
		KUNIT_ASSERT_GE(test, g, 0L);
		KUNIT_ASSERT_EQ(test, bk_gidx(pool, l->s.span_start + l->s.span_len - 1),
				g + (long)(l->s.span_len >> pool->shift) - 1);
		for (i = 0; i < (long)(l->s.span_len >> pool->shift); i++)
			KUNIT_EXPECT_FALSE_MSG(test, __test_and_set_bit(g + i, used),
					       "granule %ld shared", g + i);
	}
	return n;
}

static void bk_exclusive(struct kunit *test, struct altdma_bounce_pool *pool,
			 u8 *buf)
{
	const unsigned int max = 200;
	struct bk_live *live = kunit_kcalloc(test, max, sizeof(*live), GFP_KERNEL);
	unsigned long *used = kunit_kcalloc(test, BITS_TO_LONGS(pool->size >> pool->shift),
					    sizeof(long), GFP_KERNEL);
	struct altdma_bounce_stats st;
	struct rnd_state rnd;
	unsigned int n, i, j;

	KUNIT_ASSERT_NOT_NULL(test, live);
	KUNIT_ASSERT_NOT_NULL(test, used);
	prandom_seed_state(&rnd, 0x5eed + pool->shift);
	n = bk_map_many(test, pool, buf, live, max, used, &rnd);
	KUNIT_EXPECT_GE(test, n, 4U);
	bk_stats(pool, &st);
	KUNIT_EXPECT_EQ(test, st.live_mappings, (u64)n);
	KUNIT_EXPECT_GE(test, st.granules_in_use,
			(u64)bitmap_weight(used, pool->size >> pool->shift));
	/* No later map wrote into an earlier one. */
	for (i = 0; i < n; i++) {
		KUNIT_EXPECT_TRUE(test, bk_holds(bk_va(live[i].s.data), live[i].size,
						 live[i].seed, 0));
		KUNIT_EXPECT_TRUE(test, bk_padding_zero(&live[i].s, live[i].size));
	}
	/* Odd ones first, then even ones: holes all over the pool. */
	for (j = 0; j < 2; j++) {
		for (i = 1 - j; i < n; i += 2)
			KUNIT_EXPECT_EQ(test, altdma_bounce_unmap(pool, live[i].s.data,
								  live[i].size,
								  bk_dirs[i % 3],
								  DMA_ATTR_SKIP_CPU_SYNC), 0);
	}
	bk_stats(pool, &st);
	KUNIT_EXPECT_EQ(test, st.live_mappings, 0ULL);
	KUNIT_EXPECT_EQ(test, st.granules_in_use, 0ULL);
	KUNIT_EXPECT_EQ(test, st.refused_total, 0ULL);
}

static void bounce_granule_exclusive(struct kunit *test)
{
	u8 *buf = bk_buf(test, BK_G + 3 * SZ_64K);

	bk_exclusive(test, bk_pool(test, (256 * BK_G), BK_G), buf);
	bk_exclusive(test, bk_pool(test, SZ_2M, SZ_64K), buf);
}

/*
 * One direction, step by step: the map copies the buffer in, a device
 * write reaches the buffer only through sync_for_cpu or unmap, a CPU write
 * reaches the slot only through sync_for_device, each for the directions
 * that say so, and the byte counters move by exactly what was copied.
 */
static void bk_direction(struct kunit *test, struct altdma_bounce_pool *pool,
			 u8 *buf, enum dma_data_direction dir)
{
	const size_t off = 0x234, size = 2 * BK_G + 777, len = 4 * BK_G;
	bool to_cpu = dir != DMA_TO_DEVICE, to_dev = dir != DMA_FROM_DEVICE;
	struct altdma_bounce_stats st0, st;
	struct altdma_bounce_slot s;
	u8 *orig = buf + off, *slot;

	bk_fill(buf, len, 0xee, 0);		/* guard around the buffer */
	bk_fill(orig, size, 0x11, 0);		/* A */
	bk_stats(pool, &st0);
	KUNIT_ASSERT_EQ(test, altdma_bounce_map(pool, bk_pa(orig), size, 0xfff,
						dir, 0, &s), 0);
	slot = bk_va(s.data);
	bk_stats(pool, &st);
	KUNIT_EXPECT_TRUE(test, bk_holds(slot, size, 0x11, 0));
	KUNIT_EXPECT_EQ(test, st.bytes_to_device, st0.bytes_to_device + size);
	KUNIT_EXPECT_EQ(test, st.bytes_to_cpu, st0.bytes_to_cpu);

	bk_fill(slot, size, 0x22, 0);		/* device writes B */
	KUNIT_EXPECT_TRUE(test, bk_holds(orig, size, 0x11, 0));
	KUNIT_EXPECT_EQ(test, altdma_bounce_sync_for_cpu(pool, s.data, size, dir), 0);
	KUNIT_EXPECT_TRUE(test, bk_holds(orig, size, to_cpu ? 0x22 : 0x11, 0));
	KUNIT_EXPECT_TRUE(test, bk_holds(slot, size, 0x22, 0));
	st0 = st;
	bk_stats(pool, &st);
	KUNIT_EXPECT_EQ(test, st.bytes_to_cpu, st0.bytes_to_cpu + (to_cpu ? size : 0));
	KUNIT_EXPECT_EQ(test, st.bytes_to_device, st0.bytes_to_device);

	bk_fill(orig, size, 0x33, 0);		/* CPU writes C */
	KUNIT_EXPECT_EQ(test, altdma_bounce_sync_for_device(pool, s.data, size, dir), 0);
	KUNIT_EXPECT_TRUE(test, bk_holds(slot, size, to_dev ? 0x33 : 0x22, 0));
	KUNIT_EXPECT_TRUE(test, bk_holds(orig, size, 0x33, 0));
	st0 = st;
	bk_stats(pool, &st);
	KUNIT_EXPECT_EQ(test, st.bytes_to_device, st0.bytes_to_device + (to_dev ? size : 0));
	KUNIT_EXPECT_EQ(test, st.bytes_to_cpu, st0.bytes_to_cpu);

	bk_fill(slot, size, 0x44, 0);		/* device writes D */
	KUNIT_EXPECT_EQ(test, altdma_bounce_unmap(pool, s.data, size, dir, 0), 0);
	KUNIT_EXPECT_TRUE(test, bk_holds(orig, size, to_cpu ? 0x44 : 0x33, 0));
	st0 = st;
	bk_stats(pool, &st);
	KUNIT_EXPECT_EQ(test, st.bytes_to_cpu, st0.bytes_to_cpu + (to_cpu ? size : 0));
	KUNIT_EXPECT_EQ(test, st.bytes_to_device, st0.bytes_to_device);
	KUNIT_EXPECT_EQ(test, st.syncs, st0.syncs);
	KUNIT_EXPECT_EQ(test, st.unmaps, st0.unmaps + 1);

	/* Nothing around the buffer was written. */
	KUNIT_EXPECT_TRUE(test, bk_holds(buf, off, 0xee, 0));
	KUNIT_EXPECT_TRUE(test, bk_holds(orig + size, len - off - size, 0xee,
					 off + size));
}

static void bounce_directions(struct kunit *test)
{
	struct altdma_bounce_pool *pool = bk_pool(test, (64 * BK_G), BK_G);
	u8 *buf = bk_buf(test, 4 * BK_G);
	unsigned int d;

	for (d = 0; d < ARRAY_SIZE(bk_dirs); d++)
		bk_direction(test, pool, buf, bk_dirs[d]);
}

static void bounce_skip_cpu_sync(struct kunit *test)
{
	struct altdma_bounce_pool *pool = bk_pool(test, (64 * BK_G), BK_G);
	const size_t size = BK_G + 99;
	u8 *buf = bk_buf(test, 2 * BK_G);
	struct altdma_bounce_stats st0, st;
	struct altdma_bounce_slot s;
	unsigned int d;

	for (d = 0; d < ARRAY_SIZE(bk_dirs); d++) {
		bk_fill(buf, size, 0x11, 0);
		bk_poison(pool, BK_POISON);
		bk_stats(pool, &st0);
		KUNIT_ASSERT_EQ(test, altdma_bounce_map(pool, bk_pa(buf), size, 0,
							bk_dirs[d],
							DMA_ATTR_SKIP_CPU_SYNC,
							&s), 0);
		/*
		 * The buffer, not the old pool contents and not zeros: bytes
		 * a device does not write must come back as they were.
		 */
		KUNIT_EXPECT_TRUE(test, bk_holds(bk_va(s.data), size, 0x11, 0));
		bk_fill(bk_va(s.data), size, 0x22, 0);
		KUNIT_EXPECT_EQ(test, altdma_bounce_unmap(pool, s.data, size,
							  bk_dirs[d],
							  DMA_ATTR_SKIP_CPU_SYNC), 0);
		KUNIT_EXPECT_TRUE(test, bk_holds(buf, size, 0x11, 0));
		bk_stats(pool, &st);
		KUNIT_EXPECT_EQ(test, st.bytes_to_device,
				st0.bytes_to_device + size);
		KUNIT_EXPECT_EQ(test, st.bytes_to_cpu, st0.bytes_to_cpu);
		KUNIT_EXPECT_EQ(test, st.maps, st0.maps + 1);
		KUNIT_EXPECT_EQ(test, st.unmaps, st0.unmaps + 1);
	}
}

/* A sync that must be refused: counted by kind, nothing copied. */
static void bk_bad_sync(struct kunit *test, struct altdma_bounce_pool *pool,
			phys_addr_t addr, size_t size, bool for_cpu,
			enum altdma_bounce_refusal kind, const u8 *orig,
			const u8 *slot, size_t len)
{
	struct altdma_bounce_stats st0, st;
	u8 *o = kmemdup(orig, len, GFP_KERNEL);
	u8 *b = kmemdup(slot, len, GFP_KERNEL);
	int ret;

	KUNIT_ASSERT_NOT_NULL(test, o);
	KUNIT_ASSERT_NOT_NULL(test, b);
	bk_stats(pool, &st0);
	if (for_cpu)
		ret = altdma_bounce_sync_for_cpu(pool, addr, size, DMA_BIDIRECTIONAL);
	else
		ret = altdma_bounce_sync_for_device(pool, addr, size, DMA_BIDIRECTIONAL);
	bk_stats(pool, &st);
	KUNIT_EXPECT_EQ_MSG(test, ret, -EINVAL, "sync %pa+%zu", &addr, size);
	KUNIT_EXPECT_EQ(test, st.refused[kind], st0.refused[kind] + 1);
	KUNIT_EXPECT_EQ(test, st.refused_total, st0.refused_total + 1);
	KUNIT_EXPECT_TRUE(test, test_bit(kind, &pool->reported));
	bk_expect_same(test, &st0, &st);
	KUNIT_EXPECT_EQ(test, memcmp(o, orig, len), 0);
	KUNIT_EXPECT_EQ(test, memcmp(b, slot, len), 0);
	kfree(o);
	kfree(b);
}

static void bounce_partial_sync(struct kunit *test)
{
	struct altdma_bounce_pool *pool = bk_pool(test, (64 * BK_G), BK_G);
	const size_t size = 3 * BK_G + 100;
	struct altdma_bounce_stats st0, st;
	struct altdma_bounce_slot s;
	u8 *buf = bk_buf(test, 5 * BK_G);
	u8 *orig = buf + 0x321, *slot;
	phys_addr_t free_pa;

	bk_fill(orig, size, 0x11, 0);
	KUNIT_ASSERT_EQ(test, altdma_bounce_map(pool, bk_pa(orig), size, 0xfff,
						DMA_BIDIRECTIONAL, 0, &s), 0);
	KUNIT_ASSERT_GT(test, s.data, s.span_start);
	slot = bk_va(s.data);
	bk_fill(slot, size, 0x22, 0);

	bk_stats(pool, &st0);
	KUNIT_EXPECT_EQ(test, altdma_bounce_sync_for_cpu(pool, s.data + 100, 50,
							 DMA_BIDIRECTIONAL), 0);
	KUNIT_EXPECT_TRUE(test, bk_holds(orig, 100, 0x11, 0));
	KUNIT_EXPECT_TRUE(test, bk_holds(orig + 100, 50, 0x22, 100));
	KUNIT_EXPECT_TRUE(test, bk_holds(orig + 150, size - 150, 0x11, 150));
	bk_stats(pool, &st);
	KUNIT_EXPECT_EQ(test, st.bytes_to_cpu, st0.bytes_to_cpu + 50);

	bk_fill(orig, size, 0x33, 0);
	KUNIT_EXPECT_EQ(test, altdma_bounce_sync_for_device(pool, s.data + 4000, 300,
							    DMA_BIDIRECTIONAL), 0);
	KUNIT_EXPECT_TRUE(test, bk_holds(slot, 4000, 0x22, 0));
	KUNIT_EXPECT_TRUE(test, bk_holds(slot + 4000, 300, 0x33, 4000));
	KUNIT_EXPECT_TRUE(test, bk_holds(slot + 4300, size - 4300, 0x22, 4300));
	st0 = st;
	bk_stats(pool, &st);
	KUNIT_EXPECT_EQ(test, st.bytes_to_device, st0.bytes_to_device + 300);
	/* The last byte alone is inside. */
	KUNIT_EXPECT_EQ(test, altdma_bounce_sync_for_cpu(pool, s.data + size - 1, 1,
							 DMA_BIDIRECTIONAL), 0);
	KUNIT_EXPECT_EQ(test, orig[size - 1], bk_pat(0x22, size - 1));

	/* Past the end, in the padding before the data, in a free granule. */
	bk_bad_sync(test, pool, s.data + size - 10, 20, true,
		    ALTDMA_BOUNCE_REFUSE_RANGE, orig, slot, size);
	bk_bad_sync(test, pool, s.data + size - 10, 20, false,
		    ALTDMA_BOUNCE_REFUSE_RANGE, orig, slot, size);
	bk_bad_sync(test, pool, s.data - 1, 2, true,
		    ALTDMA_BOUNCE_REFUSE_RANGE, orig, slot, size);
	bk_bad_sync(test, pool, s.span_start, 1, false,
		    ALTDMA_BOUNCE_REFUSE_RANGE, orig, slot, size);
	free_pa = s.span_start == pool->segs[0].base ?
		  s.span_start + s.span_len : pool->segs[0].base;
	bk_bad_sync(test, pool, free_pa, 1, true,
		    ALTDMA_BOUNCE_REFUSE_UNKNOWN, orig, slot, size);
	bk_bad_sync(test, pool, bk_pa(buf), 1, false,
		    ALTDMA_BOUNCE_REFUSE_UNKNOWN, orig, slot, size);

	/* The mapping still works. */
	KUNIT_EXPECT_EQ(test, altdma_bounce_unmap(pool, s.data, size,
						  DMA_BIDIRECTIONAL, 0), 0);
	KUNIT_EXPECT_TRUE(test, bk_holds(orig, 4000, 0x22, 0));
	KUNIT_EXPECT_TRUE(test, bk_holds(orig + 4000, 300, 0x33, 4000));
}

/* Map one-granule buffers until the pool is full; returns how many. */
static unsigned int bk_fill_pool(struct kunit *test,
				 struct altdma_bounce_pool *pool, u8 *buf,
				 struct altdma_bounce_slot *s, unsigned int max)
{
	unsigned int n;
	int ret = 0;

	for (n = 0; n < max; n++) {
		ret = altdma_bounce_map(pool, bk_pa(buf), 64, 0, DMA_TO_DEVICE,
					0, &s[n]);
		if (ret)
			break;
	}
	KUNIT_EXPECT_EQ(test, ret, -ENOMEM);
	return n;
}

static void bk_exhaust(struct kunit *test, struct altdma_bounce_pool *pool,
		       u8 *buf)
{
	unsigned long nr = pool->size >> pool->shift, flags;
	struct altdma_bounce_slot *s = kunit_kcalloc(test, nr + 1, sizeof(*s),
						     GFP_KERNEL);
	struct altdma_bounce_stats st;
	unsigned int n, i;
	int ret;

	KUNIT_ASSERT_NOT_NULL(test, s);
	n = bk_fill_pool(test, pool, buf, s, nr + 1);
	KUNIT_EXPECT_EQ(test, n, (unsigned int)nr);
	/* Full: fails at once, also with interrupts off, and is counted. */
	local_irq_save(flags);
	ret = altdma_bounce_map(pool, bk_pa(buf), 64, 0, DMA_TO_DEVICE, 0,
				&s[nr]);
	local_irq_restore(flags);
	KUNIT_EXPECT_EQ(test, ret, -ENOMEM);
	bk_stats(pool, &st);
	KUNIT_EXPECT_EQ(test, st.failed, 2ULL);
	KUNIT_EXPECT_EQ(test, st.granules_in_use, (u64)nr);
	KUNIT_EXPECT_EQ(test, st.high_water, (u64)nr);
	KUNIT_EXPECT_EQ(test, st.live_mappings, (u64)nr);
	KUNIT_EXPECT_EQ(test, st.refused_total, 0ULL);

	/* Recovery: what is given back can be taken again. */
	for (i = 0; i < n; i += 2)
		KUNIT_EXPECT_EQ(test, altdma_bounce_unmap(pool, s[i].data, 64,
							  DMA_TO_DEVICE, 0), 0);
	for (i = 0; i < n; i += 2)
		KUNIT_EXPECT_EQ(test, altdma_bounce_map(pool, bk_pa(buf), 64, 0,
							DMA_TO_DEVICE, 0, &s[i]), 0);
	for (i = 0; i < n; i++)
		KUNIT_EXPECT_EQ(test, altdma_bounce_unmap(pool, s[i].data, 64,
							  DMA_TO_DEVICE, 0), 0);
	bk_stats(pool, &st);
	KUNIT_EXPECT_EQ(test, st.granules_in_use, 0ULL);
	KUNIT_EXPECT_EQ(test, st.live_mappings, 0ULL);
	KUNIT_EXPECT_EQ(test, st.high_water, (u64)nr);
	/* Single granules freed to per-CPU caches still make one big slot. */
	KUNIT_EXPECT_EQ(test, altdma_bounce_map(pool, bk_pa(buf), pool->size, 0,
						DMA_TO_DEVICE, 0, &s[0]), 0);
	KUNIT_EXPECT_EQ(test, altdma_bounce_unmap(pool, s[0].data, pool->size,
						  DMA_TO_DEVICE, 0), 0);
	bk_stats(pool, &st);
	KUNIT_EXPECT_EQ(test, st.failed, 2ULL);
}

static void bounce_exhaustion(struct kunit *test)
{
	u8 *buf = bk_buf(test, SZ_128K);

	bk_exhaust(test, bk_pool(test, 16 * BK_G, BK_G), buf);
	bk_exhaust(test, bk_pool(test, SZ_128K, SZ_64K), buf);
}

/*
 * A refused unmap: -EINVAL, counted under @kind and reported, and nothing
 * else changes: counters, the buffer and the slot bytes @keep of @len.
 */
static void bk_bad_unmap(struct kunit *test, struct altdma_bounce_pool *pool,
			 phys_addr_t addr, size_t size,
			 enum altdma_bounce_refusal kind, const u8 *orig,
			 const u8 *keep, size_t len)
{
	struct altdma_bounce_stats st0, st;
	u8 *o = kmemdup(orig, len, GFP_KERNEL);
	u8 *k = kmemdup(keep, len, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, o);
	KUNIT_ASSERT_NOT_NULL(test, k);
	bk_stats(pool, &st0);
	KUNIT_EXPECT_EQ_MSG(test, altdma_bounce_unmap(pool, addr, size,
						      DMA_BIDIRECTIONAL, 0),
			    -EINVAL, "unmap %pa+%zu", &addr, size);
	bk_stats(pool, &st);
	KUNIT_EXPECT_EQ_MSG(test, st.refused[kind], st0.refused[kind] + 1,
			    "kind %d", kind);
	KUNIT_EXPECT_EQ(test, st.refused_total, st0.refused_total + 1);
	KUNIT_EXPECT_TRUE(test, test_bit(kind, &pool->reported));
	bk_expect_same(test, &st0, &st);
	KUNIT_EXPECT_EQ(test, memcmp(o, orig, len), 0);
	KUNIT_EXPECT_EQ(test, memcmp(k, keep, len), 0);
	kfree(o);
	kfree(k);
}

/*
 * The set-up of the double-unmap cases: @x maps @bx + 8 (FROM_DEVICE) and
 * @y maps @by (BIDIRECTIONAL, its slot then holds 0x44), both of
 * BK_G + 500 bytes; @x is released, by the owner's unmap if @owned, and
 * its freed slot and buffer are then filled with 0x33 and 0x55, so that a
 * later copy either way shows.
 */
static void bk_two_release_x(struct kunit *test,
			     struct altdma_bounce_pool *pool, u8 *bx, u8 *by,
			     struct altdma_bounce_slot *x,
			     struct altdma_bounce_slot *y, bool owned)
{
	const size_t size = BK_G + 500;

	bk_fill(bx, size, 0x11, 0);
	bk_fill(by, size, 0x22, 0);
	KUNIT_ASSERT_EQ(test, altdma_bounce_map(pool, bk_pa(bx + 8), size, 0xfff,
						DMA_FROM_DEVICE, 0, x), 0);
	KUNIT_ASSERT_EQ(test, altdma_bounce_map(pool, bk_pa(by), size, 0xfff,
						DMA_BIDIRECTIONAL, 0, y), 0);
	bk_fill(bk_va(y->data), size, 0x44, 0);
	if (owned)
		KUNIT_ASSERT_EQ(test,
				altdma_bounce_unmap_owned(pool, x->data, size,
							  DMA_FROM_DEVICE, 0),
				0);
	else
		KUNIT_ASSERT_EQ(test, altdma_bounce_unmap(pool, x->data, size,
							  DMA_FROM_DEVICE, 0),
				0);
	bk_fill(bk_va(x->data), size, 0x33, 0);
	bk_fill(bx + 8, size, 0x55, 0);
}

/*
 * The live mapping @y of bk_two_release_x() after @refused refusals: still
 * mapped, and it unmaps as it should (its slot's 0x44 copied back).
 */
static void bk_release_y(struct kunit *test, struct altdma_bounce_pool *pool,
			 u8 *by, const struct altdma_bounce_slot *y,
			 u64 refused)
{
	const size_t size = BK_G + 500;
	struct altdma_bounce_stats st;

	bk_stats(pool, &st);
	KUNIT_EXPECT_EQ(test, st.live_mappings, 1ULL);
	KUNIT_EXPECT_EQ(test, st.granules_in_use, 2ULL);
	KUNIT_EXPECT_EQ(test, st.refused_total, refused);
	KUNIT_EXPECT_EQ(test, altdma_bounce_unmap(pool, y->data, size,
						  DMA_BIDIRECTIONAL, 0), 0);
	KUNIT_EXPECT_TRUE(test, bk_holds(by, size, 0x44, 0));
	bk_stats(pool, &st);
	KUNIT_EXPECT_EQ(test, st.live_mappings, 0ULL);
	KUNIT_EXPECT_EQ(test, st.granules_in_use, 0ULL);
}

static void bounce_double_unmap(struct kunit *test)
{
	struct altdma_bounce_pool *pool = bk_pool(test, (64 * BK_G), BK_G);
	const size_t size = BK_G + 500;
	struct altdma_bounce_slot x, y;
	struct altdma_bounce_stats st;
	u8 *bx = bk_buf(test, 2 * BK_G), *by = bk_buf(test, 2 * BK_G);

	bk_two_release_x(test, pool, bx, by, &x, &y, false);

	bk_bad_unmap(test, pool, x.data, size, ALTDMA_BOUNCE_REFUSE_DOUBLE,
		     bx + 8, bk_va(y.data), size);
	/* Counted every time, reported once. */
	bk_bad_unmap(test, pool, x.data, size, ALTDMA_BOUNCE_REFUSE_DOUBLE,
		     bx + 8, bk_va(y.data), size);
	/* Inside the released slot but not its start: still released. */
	bk_bad_unmap(test, pool, x.data + 5, size, ALTDMA_BOUNCE_REFUSE_DOUBLE,
		     bx + 8, bk_va(y.data), size);
	/* Wrong size and a middle address of the live mapping. */
	bk_bad_unmap(test, pool, y.data, size + 1, ALTDMA_BOUNCE_REFUSE_SIZE,
		     by, bk_va(y.data), size);
	bk_bad_unmap(test, pool, y.data, size - 1, ALTDMA_BOUNCE_REFUSE_SIZE,
		     by, bk_va(y.data), size);
	bk_bad_unmap(test, pool, y.data + 1, size - 1,
		     ALTDMA_BOUNCE_REFUSE_MIDDLE, by, bk_va(y.data), size);
	KUNIT_EXPECT_TRUE(test, bk_holds(bx + 8, size, 0x55, 0));

	/* The live mapping is intact and unmaps as it should. */
	bk_release_y(test, pool, by, &y, 6);
	bk_stats(pool, &st);
	KUNIT_EXPECT_EQ(test, st.refused_total, 6ULL);
	KUNIT_EXPECT_EQ(test, st.refused[ALTDMA_BOUNCE_REFUSE_DOUBLE], 3ULL);
	/* Now y is released too. */
	bk_bad_unmap(test, pool, y.data, size, ALTDMA_BOUNCE_REFUSE_DOUBLE,
		     by, by, size);
}

static void bounce_unknown_address(struct kunit *test)
{
	struct altdma_bounce_pool *pool = bk_pool(test, (64 * BK_G), BK_G);
	const size_t size = 700;
	struct altdma_bounce_slot m;
	struct altdma_bounce_stats st;
	u8 *buf = bk_buf(test, BK_G), *other = bk_buf(test, BK_G), *slot;
	phys_addr_t free_pa;

	bk_fill(buf, BK_G, 0x11, 0);
	KUNIT_ASSERT_EQ(test, altdma_bounce_map(pool, bk_pa(buf + 0x80), size,
						0xfff, DMA_BIDIRECTIONAL, 0,
						&m), 0);
	KUNIT_ASSERT_EQ(test, (u64)(m.data - m.span_start), 0x80ULL);
	slot = bk_va(m.data);
	bk_fill(slot, size, 0x22, 0);
	free_pa = m.span_start == pool->segs[0].base ?
		  m.span_start + 2 * BK_G + 16 : pool->segs[0].base + 16;
	KUNIT_ASSERT_TRUE(test, altdma_bounce_owns(pool, free_pa));

	/* Outside the pool; a granule never mapped; the pool's padding. */
	bk_bad_unmap(test, pool, bk_pa(other), size,
		     ALTDMA_BOUNCE_REFUSE_UNKNOWN, buf + 0x80, slot, size);
	bk_bad_unmap(test, pool, free_pa, size, ALTDMA_BOUNCE_REFUSE_UNKNOWN,
		     buf + 0x80, slot, size);
	bk_bad_unmap(test, pool, m.span_start, size,
		     ALTDMA_BOUNCE_REFUSE_MIDDLE, buf + 0x80, slot, size);
	bk_bad_unmap(test, pool, m.span_start + m.span_len, size,
		     ALTDMA_BOUNCE_REFUSE_UNKNOWN, buf + 0x80, slot, size);
	bk_bad_sync(test, pool, free_pa, 8, true, ALTDMA_BOUNCE_REFUSE_UNKNOWN,
		    buf + 0x80, slot, size);

	bk_stats(pool, &st);
	KUNIT_EXPECT_EQ(test, st.live_mappings, 1ULL);
	KUNIT_EXPECT_EQ(test, st.refused[ALTDMA_BOUNCE_REFUSE_UNKNOWN], 4ULL);
	KUNIT_EXPECT_EQ(test, altdma_bounce_unmap(pool, m.data, size,
						  DMA_BIDIRECTIONAL, 0), 0);
	KUNIT_EXPECT_TRUE(test, bk_holds(buf + 0x80, size, 0x22, 0));
	KUNIT_EXPECT_TRUE(test, bk_holds(buf, 0x80, 0x11, 0));
	KUNIT_EXPECT_TRUE(test, bk_holds(buf + 0x80 + size, BK_G - 0x80 - size,
					 0x11, 0x80 + size));
	bk_stats(pool, &st);
	KUNIT_EXPECT_EQ(test, st.live_mappings, 0ULL);
	KUNIT_EXPECT_EQ(test, st.granules_in_use, 0ULL);
}

/*
 * The owner's unmap of one mapping in @dir with @attrs, next to a live
 * mapping it must not touch: the data comes back exactly when the checked
 * unmap would copy it, the counters move as for a checked unmap, and every
 * granule of the pool can be taken again.
 */
static void bk_owned(struct kunit *test, struct altdma_bounce_pool *pool,
		     u8 *buf, u8 *other, enum dma_data_direction dir,
		     unsigned long attrs)
{
	const size_t off = 0x234, size = 2 * BK_G + 777;
	bool copy = dir != DMA_TO_DEVICE && !(attrs & DMA_ATTR_SKIP_CPU_SYNC);
	unsigned long nr = pool->size >> pool->shift;
	struct altdma_bounce_slot s, y, *all;
	struct altdma_bounce_stats st0, st;
	u8 *orig = buf + off;
	unsigned int n, i;

	bk_fill(other, BK_G, 0x66, 0);
	KUNIT_ASSERT_EQ(test, altdma_bounce_map(pool, bk_pa(other), BK_G, 0,
						DMA_BIDIRECTIONAL, 0, &y), 0);
	bk_fill(orig, size, 0x11, 0);
	bk_stats(pool, &st0);
	KUNIT_ASSERT_EQ(test, altdma_bounce_map(pool, bk_pa(orig), size, 0xfff,
						dir, attrs, &s), 0);
	bk_fill(bk_va(s.data), size, 0x22, 0);	/* the device writes */
	bk_fill(bk_va(y.data), BK_G, 0x77, 0);
	KUNIT_EXPECT_EQ(test, altdma_bounce_unmap_owned(pool, s.data, size, dir,
							attrs), 0);
	KUNIT_EXPECT_TRUE(test, bk_holds(orig, size, copy ? 0x22 : 0x11, 0));
	bk_stats(pool, &st);
	KUNIT_EXPECT_EQ(test, st.maps, st0.maps + 1);
	KUNIT_EXPECT_EQ(test, st.unmaps, st0.unmaps + 1);
	KUNIT_EXPECT_EQ(test, st.live_mappings, st0.live_mappings);
	KUNIT_EXPECT_EQ(test, st.granules_in_use, st0.granules_in_use);
	KUNIT_EXPECT_EQ(test, st.bytes_to_device, st0.bytes_to_device + size);
	KUNIT_EXPECT_EQ(test, st.bytes_to_cpu,
			st0.bytes_to_cpu + (copy ? size : 0));
	KUNIT_EXPECT_EQ(test, st.refused_total, st0.refused_total);

	/* The other mapping was not touched and unmaps as it should. */
	KUNIT_EXPECT_TRUE(test, bk_holds(other, BK_G, 0x66, 0));
	KUNIT_EXPECT_EQ(test, altdma_bounce_unmap(pool, y.data, BK_G,
						  DMA_BIDIRECTIONAL, 0), 0);
	KUNIT_EXPECT_TRUE(test, bk_holds(other, BK_G, 0x77, 0));
	bk_stats(pool, &st);
	KUNIT_EXPECT_EQ(test, st.granules_in_use, 0ULL);
	KUNIT_EXPECT_EQ(test, st.live_mappings, 0ULL);

	/* Every granule is free: the pool fills up again, to the last one. */
	all = kunit_kcalloc(test, nr + 1, sizeof(*all), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, all);
	n = bk_fill_pool(test, pool, buf, all, nr + 1);
	KUNIT_EXPECT_EQ(test, n, (unsigned int)nr);
	for (i = 0; i < n; i++)
		KUNIT_EXPECT_EQ(test, altdma_bounce_unmap_owned(pool, all[i].data,
								64,
								DMA_TO_DEVICE,
								0), 0);
	bk_stats(pool, &st);
	KUNIT_EXPECT_EQ(test, st.granules_in_use, 0ULL);
	KUNIT_EXPECT_EQ(test, st.live_mappings, 0ULL);
	KUNIT_EXPECT_EQ(test, st.refused_total, 0ULL);
}

/* Issue 13: the owner's unmap releases a slot as the checked one does. */
static void bounce_owned_unmap(struct kunit *test)
{
	struct altdma_bounce_pool *pool = bk_pool(test, 16 * BK_G, BK_G);
	u8 *buf = bk_buf(test, 4 * BK_G), *other = bk_buf(test, BK_G);
	unsigned int d;

	for (d = 0; d < ARRAY_SIZE(bk_dirs); d++) {
		bk_owned(test, pool, buf, other, bk_dirs[d], 0);
		bk_owned(test, pool, buf, other, bk_dirs[d],
			 DMA_ATTR_SKIP_CPU_SYNC);
	}
}

/*
 * An owner's unmap of @addr (BK_G + 500 bytes, BIDIRECTIONAL) that owns
 * nothing: -EINVAL, one refusal of @kind, and no other counter changed.
 */
static void bk_bad_owned(struct kunit *test, struct altdma_bounce_pool *pool,
			 phys_addr_t addr, enum altdma_bounce_refusal kind)
{
	struct altdma_bounce_stats st0, st;

	bk_stats(pool, &st0);
	KUNIT_EXPECT_EQ(test, altdma_bounce_unmap_owned(pool, addr, BK_G + 500,
							DMA_BIDIRECTIONAL, 0),
			-EINVAL);
	bk_stats(pool, &st);
	KUNIT_EXPECT_EQ(test, st.refused[kind], st0.refused[kind] + 1);
	bk_expect_same(test, &st0, &st);
}

/*
 * Issue 13: after the owner's unmap the mapping is released for every
 * checked call: an unmap or a sync of it is refused as a double one and
 * changes nothing, and so is a second owner's unmap (which owns nothing
 * and is handed to the checked unmap); an address outside the pool is
 * refused as unknown.
 */
static void bounce_owned_then_checked(struct kunit *test)
{
	struct altdma_bounce_pool *pool = bk_pool(test, (64 * BK_G), BK_G);
	const size_t size = BK_G + 500;
	struct altdma_bounce_slot x, y;
	u8 *bx = bk_buf(test, 2 * BK_G), *by = bk_buf(test, 2 * BK_G);

	bk_two_release_x(test, pool, bx, by, &x, &y, true);

	bk_bad_unmap(test, pool, x.data, size, ALTDMA_BOUNCE_REFUSE_DOUBLE,
		     bx + 8, bk_va(y.data), size);
	bk_bad_unmap(test, pool, x.data + 5, size, ALTDMA_BOUNCE_REFUSE_DOUBLE,
		     bx + 8, bk_va(y.data), size);
	bk_bad_sync(test, pool, x.data, size, true, ALTDMA_BOUNCE_REFUSE_DOUBLE,
		    bx + 8, bk_va(x.data), size);
	bk_bad_sync(test, pool, x.data + 5, 8, false,
		    ALTDMA_BOUNCE_REFUSE_DOUBLE, bx + 8, bk_va(x.data), size);

	/*
	 * A second owner's unmap owns nothing, nor does one of an address
	 * outside the pool: refused, nothing changed.
	 */
	bk_bad_owned(test, pool, x.data, ALTDMA_BOUNCE_REFUSE_DOUBLE);
	KUNIT_EXPECT_TRUE(test, bk_holds(bk_va(x.data), size, 0x33, 0));
	bk_bad_owned(test, pool, bk_pa(bx), ALTDMA_BOUNCE_REFUSE_UNKNOWN);
	KUNIT_EXPECT_TRUE(test, bk_holds(bx + 8, size, 0x55, 0));

	/* The live mapping is intact and unmaps as it should. */
	bk_release_y(test, pool, by, &y, 6);
}

/* A kthread whose work is done waits here for kthread_stop(). */
static void bk_wait_for_stop(void)
{
	while (!kthread_should_stop()) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (!kthread_should_stop())
			schedule();
		__set_current_state(TASK_RUNNING);
	}
}

/* A job for a kthread bound to one CPU: map or unmap @n small slots. */
struct bk_cpu_job {
	struct altdma_bounce_pool *pool;
	struct altdma_bounce_slot *s;
	phys_addr_t buf;
	unsigned int n;
	bool map;
	unsigned int errors;
	unsigned int cpu;
	struct completion done;
};

static int bk_cpu_job_fn(void *arg)
{
	struct bk_cpu_job *j = arg;
	unsigned int i;

	j->cpu = raw_smp_processor_id();
	for (i = 0; i < j->n; i++) {
		if (j->map)
			j->errors += !!altdma_bounce_map(j->pool, j->buf, 64, 0,
							 DMA_TO_DEVICE, 0,
							 &j->s[i]);
		else
			j->errors += !!altdma_bounce_unmap_owned(j->pool,
								 j->s[i].data,
								 64,
								 DMA_TO_DEVICE,
								 0);
	}
	complete(&j->done);
	bk_wait_for_stop();
	return 0;
}

/* Run @j in a kthread bound to @cpu, to the end. */
static void bk_on_cpu(struct kunit *test, struct bk_cpu_job *j,
		      unsigned int cpu)
{
	struct bk_ctx *ctx = test->priv;
	struct task_struct *t;

	init_completion(&j->done);
	j->errors = 0;
	j->cpu = UINT_MAX;
	t = kthread_create(bk_cpu_job_fn, j, "altdma-bk-cpu/%u", cpu);
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	kthread_bind(t, cpu);
	get_task_struct(t);
	ctx->task[0] = t;
	wake_up_process(t);
	wait_for_completion(&j->done);
	kthread_stop(t);
	put_task_struct(t);
	ctx->task[0] = NULL;
	KUNIT_EXPECT_EQ(test, j->errors, 0U);
	KUNIT_EXPECT_EQ(test, j->cpu, cpu);
}

/*
 * Issue 13: granules in use are counted per CPU and folded into the shared
 * count in batches; a read is exact however the maps and unmaps were
 * spread over CPUs (more than two batches on each side, so that shares
 * are folded both ways), and the high water keeps the peak a read saw.
 */
static void bounce_in_use_over_cpus(struct kunit *test)
{
	const unsigned int n = 2 * ALTDMA_BOUNCE_IN_USE_BATCH + 8;
	struct altdma_bounce_pool *pool = bk_pool(test, 128 * BK_G, BK_G);
	u8 *buf = bk_buf(test, BK_G);
	struct bk_cpu_job job = {
		.pool = pool, .buf = bk_pa(buf), .n = n,
	};
	struct altdma_bounce_stats st;
	unsigned int i, there;

	job.s = kunit_kcalloc(test, n, sizeof(*job.s), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, job.s);
	there = cpumask_any_but(cpu_online_mask, raw_smp_processor_id());
	if (there >= nr_cpu_ids)
		kunit_skip(test, "one CPU online");

	/* Mapped on another CPU, released here (owner's and checked). */
	job.map = true;
	bk_on_cpu(test, &job, there);
	bk_stats(pool, &st);
	KUNIT_EXPECT_EQ(test, st.granules_in_use, (u64)n);
	KUNIT_EXPECT_EQ(test, st.high_water, (u64)n);
	KUNIT_EXPECT_EQ(test, st.live_mappings, (u64)n);
	for (i = 0; i < n; i++) {
		if (i & 1)
			KUNIT_EXPECT_EQ(test, altdma_bounce_unmap(pool,
								  job.s[i].data,
								  64,
								  DMA_TO_DEVICE,
								  0), 0);
		else
			KUNIT_EXPECT_EQ(test,
					altdma_bounce_unmap_owned(pool,
								  job.s[i].data,
								  64,
								  DMA_TO_DEVICE,
								  0), 0);
	}
	bk_stats(pool, &st);
	KUNIT_EXPECT_EQ(test, st.granules_in_use, 0ULL);
	KUNIT_EXPECT_EQ(test, st.high_water, (u64)n);
	KUNIT_EXPECT_EQ(test, st.live_mappings, 0ULL);

	/* Mapped here, released on the other CPU. */
	for (i = 0; i < n; i++)
		KUNIT_ASSERT_EQ(test, altdma_bounce_map(pool, bk_pa(buf), 64, 0,
							DMA_TO_DEVICE, 0,
							&job.s[i]), 0);
	bk_stats(pool, &st);
	KUNIT_EXPECT_EQ(test, st.granules_in_use, (u64)n);
	job.map = false;
	bk_on_cpu(test, &job, there);
	bk_stats(pool, &st);
	KUNIT_EXPECT_EQ(test, st.granules_in_use, 0ULL);
	KUNIT_EXPECT_EQ(test, st.live_mappings, 0ULL);
	KUNIT_EXPECT_EQ(test, st.refused_total, 0ULL);
	/*
	 * The peak was n both times; a fold while another CPU held released
	 * granules may have raised the mark above it by the documented bound
	 * (this thread may have moved between CPUs).
	 */
	KUNIT_EXPECT_GE(test, st.high_water, (u64)n);
	KUNIT_EXPECT_LE(test, st.high_water,
			(u64)n + (ALTDMA_BOUNCE_IN_USE_BATCH - 1) *
			(nr_cpu_ids - 1));
}

static struct kunit_case bounce_cases[] = {
	KUNIT_CASE(bounce_geometry),
	KUNIT_CASE(bounce_max_mapping),
	KUNIT_CASE(bounce_min_align_4k),
	KUNIT_CASE(bounce_min_align_64k),
	KUNIT_CASE(bounce_zero_padding),
	KUNIT_CASE(bounce_granule_exclusive),
	KUNIT_CASE(bounce_directions),
	KUNIT_CASE(bounce_skip_cpu_sync),
	KUNIT_CASE(bounce_partial_sync),
	KUNIT_CASE(bounce_exhaustion),
	KUNIT_CASE(bounce_double_unmap),
	KUNIT_CASE(bounce_unknown_address),
	KUNIT_CASE(bounce_owned_unmap),
	KUNIT_CASE(bounce_owned_then_checked),
	KUNIT_CASE(bounce_in_use_over_cpus),
	{}
};

static struct kunit_suite bounce_suite = {
	.name = "altdma_bounce",
	.init = bk_init,
	.exit = bk_exit,
	.test_cases = bounce_cases,
};

/* ---- altdma_bounce_stress ---- */

#define BK_ITERS	3000
#define BK_HOLD		4
#define BK_REGION	(4 * BK_G)
#define BK_MAX_SIZE	12000
#define BK_PAT_LEN	SZ_64K

/* One mapping a worker holds. */
struct bk_held {
	bool live;
	struct altdma_bounce_slot s;
	u8 *orig;
	size_t size;
	enum dma_data_direction dir;
	const u8 *orig_pat;
	const u8 *dev_pat;
};

/* One kthread's state; the test reads it after kthread_stop(). */
struct bk_worker {
	struct altdma_bounce_pool *pool;
	u8 *buf;
	const u8 *pat;
	struct rnd_state rnd;
	struct bk_held held[BK_HOLD];
	unsigned int maps, enomem, errors;
	bool finished;
	struct completion done;
	char first[128];
};

static void bk_err(struct bk_worker *w, const char *what, unsigned int slot)
{
	if (!w->errors++)
		snprintf(w->first, sizeof(w->first), "%s (slot %u, size %zu, dir %d)",
			 what, slot, w->held[slot].size, w->held[slot].dir);
}

static const u8 *bk_rand_pat(struct bk_worker *w)
{
	return w->pat + prandom_u32_state(&w->rnd) % (BK_PAT_LEN - BK_MAX_SIZE);
}

/* Map into held slot @i and check the slot; simulate the device's write. */
static void bk_work_map(struct bk_worker *w, unsigned int i)
{
	static const unsigned int masks[] = { 0, 0x7ff, 0xfff };
	unsigned int mask = masks[prandom_u32_state(&w->rnd) % ARRAY_SIZE(masks)];
	struct bk_held *h = &w->held[i];
	phys_addr_t orig;
	u8 *data;
	int ret;

	h->size = 1 + prandom_u32_state(&w->rnd) % BK_MAX_SIZE;
	h->orig = w->buf + i * BK_REGION + prandom_u32_state(&w->rnd) % BK_G;
	h->dir = bk_dirs[prandom_u32_state(&w->rnd) % ARRAY_SIZE(bk_dirs)];
	h->orig_pat = bk_rand_pat(w);
	h->dev_pat = h->dir == DMA_TO_DEVICE ? h->orig_pat : bk_rand_pat(w);
	memcpy(h->orig, h->orig_pat, h->size);
	orig = bk_pa(h->orig);
	ret = altdma_bounce_map(w->pool, orig, h->size, mask, h->dir, 0, &h->s);
	if (ret == -ENOMEM) {
		w->enomem++;
		return;
	}
	if (ret) {
		bk_err(w, "map failed", i);
		return;
	}
	h->live = true;
	w->maps++;
	data = bk_va(h->s.data);
	if ((h->s.data & mask) != (orig & mask) ||
	    (h->s.span_start & (w->pool->granule - 1)))
		bk_err(w, "misplaced", i);
	if (memcmp(data, h->orig_pat, h->size))
		bk_err(w, "slot is not the buffer", i);
	if (!bk_padding_zero(&h->s, h->size))
		bk_err(w, "padding not zero", i);
	if (h->dir != DMA_TO_DEVICE)
		memcpy(data, h->dev_pat, h->size);
}

/* A partial sync_for_cpu of a held mapping, checked on the buffer. */
static void bk_work_sync(struct bk_worker *w, unsigned int i)
{
	struct bk_held *h = &w->held[i];
	size_t a = prandom_u32_state(&w->rnd) % h->size;
	size_t n = 1 + prandom_u32_state(&w->rnd) % (h->size - a);

	if (altdma_bounce_sync_for_cpu(w->pool, h->s.data + a, n, h->dir)) {
		bk_err(w, "sync refused", i);
		return;
	}
	if (memcmp(h->orig, h->orig_pat, a) ||
	    memcmp(h->orig + a, h->dev_pat + a, n) ||
	    memcmp(h->orig + a + n, h->orig_pat + a + n, h->size - a - n))
		bk_err(w, "partial sync copied the wrong bytes", i);
	/* Put the buffer back as it was, for the unmap check. */
	memcpy(h->orig + a, h->orig_pat + a, n);
}

static void bk_work_unmap(struct bk_worker *w, unsigned int i)
{
	struct bk_held *h = &w->held[i];

	h->live = false;
	if (altdma_bounce_unmap(w->pool, h->s.data, h->size, h->dir, 0))
		bk_err(w, "unmap refused", i);
	else if (memcmp(h->orig, h->dev_pat, h->size))
		bk_err(w, "buffer after unmap", i);
}

static int bk_worker_fn(void *arg)
{
	struct bk_worker *w = arg;
	unsigned int it, i;

	for (it = 0; it < BK_ITERS; it++) {
		i = prandom_u32_state(&w->rnd) % BK_HOLD;
		if (!w->held[i].live) {
			bk_work_map(w, i);
		} else {
			if (w->held[i].dir != DMA_TO_DEVICE &&
			    !(prandom_u32_state(&w->rnd) & 3))
				bk_work_sync(w, i);
			bk_work_unmap(w, i);
		}
		cond_resched();
	}
	for (i = 0; i < BK_HOLD; i++)
		if (w->held[i].live)
			bk_work_unmap(w, i);
	w->finished = true;
	complete(&w->done);
	bk_wait_for_stop();
	return 0;
}

/* A buffer of random bytes the workers take their patterns from. */
static u8 *bk_pattern(struct kunit *test, u64 seed)
{
	u8 *pat = bk_buf(test, BK_PAT_LEN);
	struct rnd_state rnd;

	prandom_seed_state(&rnd, seed);
	prandom_bytes_state(&rnd, pat, BK_PAT_LEN);
	return pat;
}

static void bounce_concurrent(struct kunit *test)
{
	struct altdma_bounce_pool *pool = bk_pool(test, (256 * BK_G), BK_G);
	struct bk_ctx *ctx = test->priv;
	const u8 *pat = bk_pattern(test, 0xb0b);
	struct altdma_bounce_stats st;
	unsigned int i, maps = 0, enomem = 0;
	struct task_struct *t;
	struct bk_worker *w;

	w = kunit_kcalloc(test, BK_THREADS, sizeof(*w), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, w);
	for (i = 0; i < BK_THREADS; i++) {
		w[i].pool = pool;
		w[i].pat = pat;
		w[i].buf = bk_buf(test, BK_HOLD * BK_REGION);
		prandom_seed_state(&w[i].rnd, 1000 + i);
		init_completion(&w[i].done);
	}
	for (i = 0; i < BK_THREADS; i++) {
		t = kthread_create(bk_worker_fn, &w[i], "altdma-bk/%u", i);
		KUNIT_ASSERT_FALSE(test, IS_ERR(t));
		get_task_struct(t);
		ctx->task[i] = t;
		wake_up_process(t);
	}
	/*
	 * Let every worker run its course first: a kthread stopped before it
	 * was first scheduled never runs its function at all.
	 */
	for (i = 0; i < BK_THREADS; i++)
		wait_for_completion(&w[i].done);
	for (i = 0; i < BK_THREADS; i++) {
		kthread_stop(ctx->task[i]);
		put_task_struct(ctx->task[i]);
		ctx->task[i] = NULL;
	}
	for (i = 0; i < BK_THREADS; i++) {
		KUNIT_EXPECT_TRUE(test, w[i].finished);
		KUNIT_EXPECT_EQ_MSG(test, w[i].errors, 0U, "worker %u: %s", i,
				    w[i].first);
		maps += w[i].maps;
		enomem += w[i].enomem;
	}
	bk_stats(pool, &st);
	KUNIT_EXPECT_GT(test, maps, BK_THREADS * BK_ITERS / 4U);
	KUNIT_EXPECT_EQ(test, st.maps, (u64)maps);
	KUNIT_EXPECT_EQ(test, st.unmaps, (u64)maps);
	KUNIT_EXPECT_EQ(test, st.failed, (u64)enomem);
	KUNIT_EXPECT_EQ(test, st.live_mappings, 0ULL);
	KUNIT_EXPECT_EQ(test, st.granules_in_use, 0ULL);
	KUNIT_EXPECT_EQ(test, st.refused_total, 0ULL);
}

/*
 * One full cycle that must not sleep: map, check, device write, partial
 * sync, unmap, check. Returns the number of failed checks.
 */
static unsigned int bk_cycle(struct altdma_bounce_pool *pool, u8 *buf,
			     const u8 *pat, unsigned int round)
{
	size_t size = 1000 + (round * 523) % 6000, off = (round * 97) % BK_G;
	const u8 *a = pat + round % 512, *b = pat + 1024 + round % 512;
	struct altdma_bounce_slot s;
	unsigned int bad = 0;

	memcpy(buf + off, a, size);
	if (altdma_bounce_map(pool, bk_pa(buf + off), size, 0xfff,
			      DMA_BIDIRECTIONAL, 0, &s))
		return 1;
	bad += !!memcmp(bk_va(s.data), a, size);
	bad += !bk_padding_zero(&s, size);
	memcpy(bk_va(s.data), b, size);
	bad += !!altdma_bounce_sync_for_cpu(pool, s.data + 10, 100,
					    DMA_BIDIRECTIONAL);
	bad += !!memcmp(buf + off + 10, b + 10, 100);
	bad += !!altdma_bounce_unmap(pool, s.data, size, DMA_BIDIRECTIONAL, 0);
	bad += !!memcmp(buf + off, b, size);
	return bad;
}

/* With interrupts off: cycles, then a full pool fails instead of waiting. */
static void bk_irqs_off(struct kunit *test, struct altdma_bounce_pool *pool,
			u8 *buf, const u8 *pat)
{
	struct altdma_bounce_slot s[17];
	unsigned int round, bad = 0, n;
	unsigned long flags;
	int last = 0;

	local_irq_save(flags);
	for (round = 0; round < 100; round++)
		bad += bk_cycle(pool, buf, pat, round);
	for (n = 0; n < ARRAY_SIZE(s); n++) {
		last = altdma_bounce_map(pool, bk_pa(buf), BK_G, 0,
					 DMA_TO_DEVICE, 0, &s[n]);
		if (last)
			break;
	}
	for (round = 0; round < n; round++)
		bad += !!altdma_bounce_unmap(pool, s[round].data, BK_G,
					     DMA_TO_DEVICE, 0);
	local_irq_restore(flags);
	KUNIT_EXPECT_EQ(test, bad, 0U);
	KUNIT_EXPECT_EQ(test, last, -ENOMEM);
	KUNIT_EXPECT_EQ(test, n, 16U);
}

/* The same cycles from a hard interrupt: an hrtimer in HARD mode. */
struct bk_irq {
	struct hrtimer timer;
	struct completion done;
	struct altdma_bounce_pool *pool;
	u8 *buf;
	const u8 *pat;
	unsigned int bad;
	bool hardirq;
};

static enum hrtimer_restart bk_irq_fn(struct hrtimer *timer)
{
	struct bk_irq *x = container_of(timer, struct bk_irq, timer);
	unsigned int round;

	x->hardirq = in_hardirq() && irqs_disabled();
	for (round = 0; round < 20; round++)
		x->bad += bk_cycle(x->pool, x->buf, x->pat, round);
	complete(&x->done);
	return HRTIMER_NORESTART;
}

static void bk_hardirq(struct kunit *test, struct altdma_bounce_pool *pool,
		       u8 *buf, const u8 *pat)
{
	struct bk_irq *x = kunit_kzalloc(test, sizeof(*x), GFP_KERNEL);
	struct bk_ctx *ctx = test->priv;
	unsigned long left;

	KUNIT_ASSERT_NOT_NULL(test, x);
	x->pool = pool;
	x->buf = buf;
	x->pat = pat;
	init_completion(&x->done);
	hrtimer_init(&x->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
	x->timer.function = bk_irq_fn;
	ctx->timer = &x->timer;
	hrtimer_start(&x->timer, ns_to_ktime(10 * NSEC_PER_USEC),
		      HRTIMER_MODE_REL_HARD);
	left = wait_for_completion_timeout(&x->done, 30 * HZ);
	hrtimer_cancel(&x->timer);
	ctx->timer = NULL;
	KUNIT_ASSERT_GT(test, left, 0UL);
	KUNIT_EXPECT_TRUE(test, x->hardirq);
	KUNIT_EXPECT_EQ(test, x->bad, 0U);
}

static void bounce_atomic_context(struct kunit *test)
{
	struct altdma_bounce_pool *pool = bk_pool(test, 16 * BK_G, BK_G);
	const u8 *pat = bk_pattern(test, 0xa70);
	u8 *buf = bk_buf(test, 2 * BK_G + 6000);
	struct altdma_bounce_stats st;

	bk_irqs_off(test, pool, buf, pat);
	bk_hardirq(test, pool, buf, pat);
	bk_stats(pool, &st);
	KUNIT_EXPECT_EQ(test, st.maps, 100ULL + 16 + 20);
	KUNIT_EXPECT_EQ(test, st.live_mappings, 0ULL);
	KUNIT_EXPECT_EQ(test, st.granules_in_use, 0ULL);
	KUNIT_EXPECT_EQ(test, st.failed, 1ULL);
	KUNIT_EXPECT_EQ(test, st.refused_total, 0ULL);
}

static struct kunit_case bounce_stress_cases[] = {
	KUNIT_CASE(bounce_concurrent),
	KUNIT_CASE(bounce_atomic_context),
	{}
};

static struct kunit_suite bounce_stress_suite = {
	.name = "altdma_bounce_stress",
	.init = bk_init,
	.exit = bk_exit,
	.test_cases = bounce_stress_cases,
};

kunit_test_suites(&bounce_suite, &bounce_stress_suite);
