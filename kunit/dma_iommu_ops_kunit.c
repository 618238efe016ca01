// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit suites for the altdma DMA mapping layer, on the software page table
 * (pt_backend_soft.c).
 *
 * Each case makes a fake device (a root device with its own DMA masks and
 * dma_parms), gives it an altdma context over a software page table and
 * calls the real DMA API, so DMA_API_DEBUG watches the valid calls too.
 * Misuse (bad unmaps, syncs of unknown lists) calls the ops table directly:
 * DMA_API_DEBUG would otherwise WARN about the same driver bug.
 *
 * altdma_dma_unmap: seeds 000 and 001 (partial unmap, double unmap, unknown
 *	address, wrong size, direction or call).
 * altdma_dma_map: protections, sg merging and limits, allocations,
 *	injected failures.
 * altdma_dma_bounce: seed 003 (bounce rules, min_align_mask, sync_sg on
 *	bounced lists, one copy per direction, cache maintenance).
 * altdma_dma_inval: strict and deferred invalidation.
 */

#include <kunit/test.h>
#include <linux/delay.h>
#include <linux/device.h>
#include <linux/dma-map-ops.h>
#include <linux/dma-mapping.h>
#include <linux/gfp.h>
#include <linux/completion.h>
#include <linux/iommu.h>
#include <linux/jiffies.h>
#include <linux/kallsyms.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/prandom.h>
#include <linux/rcupdate.h>
#include <linux/scatterlist.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vmalloc.h>

#include "../altdma_trace.h"
#include "../dma_iommu_ops.h"
#include "pt_backend_soft.h"

#define OPS_BUFS	8
#define OPS_IOVA_END	(SZ_4G - 1)

/* Test context in test->priv; everything in it is released by .exit. */
struct ops_ctx {
	struct device *dev;
	u64 dma_mask;
	struct device_dma_parameters parms;
	struct pt_soft pt;
	struct altdma_dev *adev;
	bool registered;
	unsigned long bufs[OPS_BUFS];
	unsigned int orders[OPS_BUFS];
};

/* What a misuse must leave as it was. */
struct ops_snap {
	unsigned long ptes;
	u32 pt_hash;
	struct altdma_iova_stats iova;
	struct altdma_bounce_stats pool;
	struct altdma_dev_stats dev;
};

static const struct dma_map_ops *ops = &altdma_dma_ops;

static int ops_init(struct kunit *test)
{
	struct ops_ctx *ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);

	if (!ctx)
		return -ENOMEM;
	test->priv = ctx;
	return 0;
}

/*
 * The invariant every case ends on (issue 18): maps - unmaps - mappings
 * gone to quarantine equals the live mappings listed (what debugfs
 * "mappings" counts). A free or publish that loses a record, or leaves it
 * neither live nor released, or releases without counting, breaks it. (A
 * free that silently leaves its mapping live does not: the cases' own
 * before/after checks catch that.)
 */
static void ops_expect_accounted(struct kunit *test, struct altdma_dev *adev)
{
	struct altdma_dev_stats st;
	unsigned long listed;

	altdma_dev_get_stats(adev, &st);
	listed = altdma_dev_count_live(adev);
	KUNIT_EXPECT_EQ_MSG(test, st.maps - st.unmaps - st.quarantined_live,
			    (u64)listed,
			    "maps %llu, unmaps %llu, quarantined live %llu, listed %lu",
			    st.maps, st.unmaps, st.quarantined_live, listed);
	KUNIT_EXPECT_EQ(test, st.live, (u64)listed);
}

/*
 * The mapping objects in the IOVA index (issue 13): a parked object
 * (range CACHED) holds no mapping and no claim is left half done. Nothing
 * invalid ever reaches a cache. (That the live objects are the ones
 * counted live is ops_expect_accounted()'s check.)
 */
static void ops_expect_objects_sane(struct kunit *test,
				    struct altdma_dev *adev)
{
	unsigned long index, bad = 0;
	struct altdma_iova_range *r;
	u32 ms;

	rcu_read_lock();
	altdma_iova_index_for_each(&adev->iovad.index, index, r) {
		ms = READ_ONCE(altdma_map_of(r)->state) & ALTDMA_MAP_STATE_MASK;
		bad += ms == ALTDMA_MAP_UNMAPPING ||
		       ms == ALTDMA_MAP_QUARANTINED ||
		       (READ_ONCE(r->state) == ALTDMA_IOVA_CACHED &&
			ms != ALTDMA_MAP_RELEASED);
	}
	rcu_read_unlock();
	KUNIT_EXPECT_EQ_MSG(test, bad, 0UL,
			    "objects in the index in a state they may not have");
}

static void ops_exit(struct kunit *test)
{
	struct ops_ctx *ctx = test->priv;
	unsigned int i;

	if (!ctx)
		return;
	if (!IS_ERR_OR_NULL(ctx->adev)) {
		ops_expect_accounted(test, ctx->adev);
		ops_expect_objects_sane(test, ctx->adev);
	}
	if (ctx->registered)
		altdma_dev_unregister(ctx->adev);
	altdma_dev_destroy(ctx->adev);
	if (ctx->dev) {
		set_dma_ops(ctx->dev, NULL);
		ctx->dev->dma_parms = NULL;
		root_device_unregister(ctx->dev);
	}
	if (ctx->pt.granule)
		pt_soft_destroy(&ctx->pt);
	for (i = 0; i < OPS_BUFS; i++)
		if (ctx->bufs[i])
			free_pages(ctx->bufs[i], ctx->orders[i]);
}

/* Zeroed pages owned by the test. */
static u8 *ops_buf(struct kunit *test, unsigned int order)
{
	struct ops_ctx *ctx = test->priv;
	unsigned int i;

	for (i = 0; i < OPS_BUFS && ctx->bufs[i]; i++)
		;
	KUNIT_ASSERT_LT(test, i, OPS_BUFS);
	ctx->bufs[i] = __get_free_pages(GFP_KERNEL | __GFP_ZERO, order);
	KUNIT_ASSERT_NE(test, ctx->bufs[i], 0UL);
	ctx->orders[i] = order;
	return (u8 *)ctx->bufs[i];
}

struct ops_setup {
	unsigned long granule;
	enum altdma_bounce_mode bounce;
	bool untrusted;
	enum altdma_inval_mode inval;
	bool noncoherent;
	dma_addr_t iova_end;
	size_t bounce_size;
	const struct altdma_iova_policy *policy;
};

/* A fake device with an altdma context over a fresh software page table. */
static struct altdma_dev *ops_dev(struct kunit *test,
				  const struct ops_setup *s)
{
	struct ops_ctx *ctx = test->priv;
	struct altdma_dev_config cfg = {
		.pt = &pt_soft_ops,
		.pt_priv = &ctx->pt,
		.granule = s->granule ?: SZ_4K,
		.iova_end = s->iova_end ?: OPS_IOVA_END,
		.bounce = s->bounce,
		.untrusted = s->untrusted,
		.inval = s->inval,
		.bounce_size = s->bounce_size ?: SZ_1M,
		.policy = s->policy,
	};

	pt_soft_init(&ctx->pt, cfg.granule);
	ctx->pt.noncoherent = s->noncoherent;
	ctx->dev = root_device_register("altdma-kunit-ops");
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(ctx->dev));
	ctx->dma_mask = DMA_BIT_MASK(32);
	ctx->dev->dma_mask = &ctx->dma_mask;
	ctx->dev->coherent_dma_mask = DMA_BIT_MASK(32);
	ctx->dev->dma_parms = &ctx->parms;
	dma_set_max_seg_size(ctx->dev, SZ_64K);
	dma_set_seg_boundary(ctx->dev, DMA_BIT_MASK(32));
	cfg.dev = ctx->dev;
	ctx->adev = altdma_dev_create(&cfg);
	KUNIT_ASSERT_FALSE(test, IS_ERR(ctx->adev));
	KUNIT_ASSERT_EQ(test, altdma_dev_register(ctx->adev), 0);
	ctx->registered = true;
	set_dma_ops(ctx->dev, &altdma_dma_ops);
	return ctx->adev;
}

static struct altdma_dev *ops_plain(struct kunit *test)
{
	struct ops_setup s = { };

	return ops_dev(test, &s);
}

static struct altdma_dev *ops_untrusted(struct kunit *test)
{
	struct ops_setup s = { .untrusted = true };

	return ops_dev(test, &s);
}

static struct pt_soft *ops_pt(struct kunit *test)
{
	return &((struct ops_ctx *)test->priv)->pt;
}

static void ops_snap(struct altdma_dev *adev, struct pt_soft *pt,
		     struct ops_snap *sn)
{
	memset(sn, 0, sizeof(*sn));
	sn->ptes = pt_soft_count(pt);
	sn->pt_hash = pt_soft_hash(pt);
	altdma_iova_get_stats(&adev->iovad, &sn->iova);
	if (adev->pool)
		altdma_bounce_get_stats(adev->pool, &sn->pool);
	altdma_dev_get_stats(adev, &sn->dev);
}

/* A refused call: counted under @kind once, and nothing else changed. */
static void ops_expect_refused(struct kunit *test, struct altdma_dev *adev,
			       const struct ops_snap *a,
			       enum altdma_refusal kind)
{
	struct ops_snap b;
	int k;

	ops_snap(adev, ops_pt(test), &b);
	for (k = 0; k < ALTDMA_REFUSE_KINDS; k++)
		KUNIT_EXPECT_EQ_MSG(test, b.dev.refused[k],
				    a->dev.refused[k] + (k == kind),
				    "refusal kind %d", k);
	KUNIT_EXPECT_TRUE(test, test_bit(kind, &adev->reported));
	KUNIT_EXPECT_EQ(test, b.ptes, a->ptes);
	KUNIT_EXPECT_EQ(test, b.pt_hash, a->pt_hash);
	KUNIT_EXPECT_EQ(test, b.iova.live_ranges, a->iova.live_ranges);
	KUNIT_EXPECT_EQ(test, b.iova.pages_in_use, a->iova.pages_in_use);
	KUNIT_EXPECT_EQ(test, b.iova.frees, a->iova.frees);
	KUNIT_EXPECT_EQ(test, b.iova.refused_total, a->iova.refused_total);
	KUNIT_EXPECT_EQ(test, b.pool.live_mappings, a->pool.live_mappings);
	KUNIT_EXPECT_EQ(test, b.pool.unmaps, a->pool.unmaps);
	KUNIT_EXPECT_EQ(test, b.pool.bytes_to_cpu, a->pool.bytes_to_cpu);
	KUNIT_EXPECT_EQ(test, b.dev.unmaps, a->dev.unmaps);
	KUNIT_EXPECT_EQ(test, b.dev.live, a->dev.live);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(&adev->iovad), 0);
}

/* Nothing of any mapping is left anywhere. */
static void ops_expect_clean(struct kunit *test, struct altdma_dev *adev)
{
	struct ops_snap s;

	ops_snap(adev, ops_pt(test), &s);
	KUNIT_EXPECT_EQ(test, s.ptes, 0UL);
	KUNIT_EXPECT_EQ(test, s.iova.live_ranges, 0ULL);
	KUNIT_EXPECT_EQ(test, s.iova.pages_in_use, 0ULL);
	KUNIT_EXPECT_EQ(test, s.pool.live_mappings, 0ULL);
	KUNIT_EXPECT_EQ(test, s.pool.granules_in_use, 0ULL);
	KUNIT_EXPECT_EQ(test, s.dev.live, 0ULL);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(&adev->iovad), 0);
}

static dma_addr_t ops_map(struct kunit *test, struct altdma_dev *adev,
			  void *buf, size_t size, enum dma_data_direction dir,
			  unsigned long attrs)
{
	dma_addr_t dma;

	dma = dma_map_single_attrs(adev->dev, buf, size, dir, attrs);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(adev->dev, dma));
	return dma;
}

/* What the device sees at @dma, through the software page table. */
static u8 *ops_dev_mem(struct kunit *test, dma_addr_t dma)
{
	phys_addr_t phys = pt_soft_ops.iova_to_phys(ops_pt(test), dma);

	KUNIT_ASSERT_NE(test, phys, (phys_addr_t)0);
	return phys_to_virt(phys);
}

/* ---- altdma_dma_unmap ---- */

/*
 * seed 000: the backend unmaps short, so the IOVA must never be reused:
 * it is quarantined and counted, and 10,000 later maps never overlap it.
 */
static void partial_unmap_quarantines_iova(struct kunit *test)
{
	struct altdma_dev *adev = ops_plain(test);
	struct pt_soft *pt = ops_pt(test);
	u8 *buf = ops_buf(test, 2);
	struct altdma_dev_stats st;
	struct altdma_iova_stats is;
	dma_addr_t dma, q, lo, hi;
	unsigned long i;
	size_t len;

	dma = ops_map(test, adev, buf, 2 * SZ_4K, DMA_TO_DEVICE, 0);
	KUNIT_EXPECT_EQ(test, pt_soft_count(pt), 2UL);
	pt->short_by = SZ_4K;
	dma_unmap_single(adev->dev, dma, 2 * SZ_4K, DMA_TO_DEVICE);
	pt->short_by = 0;

	altdma_dev_get_stats(adev, &st);
	altdma_iova_get_stats(&adev->iovad, &is);
	KUNIT_EXPECT_EQ(test, st.quarantined, 1ULL);
	KUNIT_EXPECT_EQ(test, st.unmaps, 0ULL);
	KUNIT_EXPECT_EQ(test, is.quarantined, 1ULL);
	KUNIT_EXPECT_EQ(test, is.frees, 0ULL);
	KUNIT_EXPECT_EQ(test, pt_soft_count(pt), 1UL);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(&adev->iovad), 0);

	/* a second unmap of it is a double unmap: refused */
	ops->unmap_page(adev->dev, dma, 2 * SZ_4K, DMA_TO_DEVICE, 0);
	altdma_dev_get_stats(adev, &st);
	KUNIT_EXPECT_EQ(test, st.refused[ALTDMA_REFUSE_DOUBLE], 1ULL);

	lo = dma & ~(dma_addr_t)(SZ_4K - 1);
	hi = lo + 2 * SZ_4K;
	for (i = 0; i < 10000; i++) {
		len = SZ_4K * (1 + i % 4);
		q = ops->map_page(adev->dev, virt_to_page(buf), 0, len,
				  DMA_BIDIRECTIONAL, 0);
		if (q == DMA_MAPPING_ERROR) {
			KUNIT_FAIL(test, "map %lu failed", i);
			break;
		}
		if (q < hi && q + len > lo) {
			KUNIT_FAIL(test, "map %lu at %pad overlaps the quarantined IOVA %pad",
				   i, &q, &lo);
			break;
		}
		ops->unmap_page(adev->dev, q, len, DMA_BIDIRECTIONAL, 0);
		/* a quiescent state now and then: slow under KASAN/kmemleak */
		if (!(i % 256))
			cond_resched();
	}
	altdma_iova_get_stats(&adev->iovad, &is);
	KUNIT_EXPECT_EQ(test, is.live_ranges, 0ULL);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(&adev->iovad), 0);
	KUNIT_EXPECT_EQ(test, pt_soft_count(pt), 1UL);
}

/* seed 001: a second unmap is refused and touches nothing. */
static void double_unmap_is_refused_and_changes_nothing(struct kunit *test)
{
	struct altdma_dev *adev = ops_plain(test);
	u8 *a = ops_buf(test, 0), *b = ops_buf(test, 1);
	dma_addr_t da, db;
	struct ops_snap s;

	da = ops_map(test, adev, a + 0x40, 0x200, DMA_TO_DEVICE, 0);
	db = ops_map(test, adev, b, 2 * SZ_4K, DMA_FROM_DEVICE, 0);
	dma_unmap_single(adev->dev, da, 0x200, DMA_TO_DEVICE);
	ops_snap(adev, ops_pt(test), &s);
	KUNIT_EXPECT_EQ(test, s.ptes, 2UL);

	ops->unmap_page(adev->dev, da, 0x200, DMA_TO_DEVICE, 0);
	ops_expect_refused(test, adev, &s, ALTDMA_REFUSE_DOUBLE);

	/* the victim is intact and unmaps normally */
	dma_unmap_single(adev->dev, db, 2 * SZ_4K, DMA_FROM_DEVICE);
	ops_expect_clean(test, adev);
}

/* seed 001: a second free of a coherent buffer is refused. */
static void double_free_is_refused_and_changes_nothing(struct kunit *test)
{
	struct altdma_dev *adev = ops_plain(test);
	dma_addr_t da, db;
	struct ops_snap s;
	void *a, *b;

	a = dma_alloc_coherent(adev->dev, SZ_8K, &da, GFP_KERNEL);
	b = dma_alloc_coherent(adev->dev, SZ_4K, &db, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, a);
	KUNIT_ASSERT_NOT_NULL(test, b);
	dma_free_coherent(adev->dev, SZ_8K, a, da);
	ops_snap(adev, ops_pt(test), &s);

	ops->free(adev->dev, SZ_8K, a, da, 0);
	ops_expect_refused(test, adev, &s, ALTDMA_REFUSE_DOUBLE);

	dma_free_coherent(adev->dev, SZ_4K, b, db);
	ops_expect_clean(test, adev);
}

/*
 * dma_free_pages() with the right address, size and direction but other
 * pages, or none: releasing the mapping would free someone else's pages or
 * leak the allocation's, so it is refused like a free with the wrong CPU
 * address; the right free then releases everything.
 */
static void free_pages_with_wrong_page_is_refused(struct kunit *test)
{
	struct altdma_dev *adev = ops_plain(test);
	u8 *other = ops_buf(test, 1);
	struct ops_snap s;
	struct page *page;
	dma_addr_t dma;

	page = dma_alloc_pages(adev->dev, SZ_8K, &dma, DMA_TO_DEVICE,
			       GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(adev->dev, dma));
	ops_snap(adev, ops_pt(test), &s);

	ops->free_pages(adev->dev, SZ_8K, virt_to_page(other), dma,
			DMA_TO_DEVICE);
	ops_expect_refused(test, adev, &s, ALTDMA_REFUSE_UNKNOWN);
	ops_snap(adev, ops_pt(test), &s);
	ops->free_pages(adev->dev, SZ_8K, NULL, dma, DMA_TO_DEVICE);
	ops_expect_refused(test, adev, &s, ALTDMA_REFUSE_UNKNOWN);
	KUNIT_EXPECT_EQ(test, pt_soft_ops.iova_to_phys(ops_pt(test), dma),
			page_to_phys(page));

	dma_free_pages(adev->dev, SZ_8K, page, dma, DMA_TO_DEVICE);
	ops_expect_clean(test, adev);
}

/* An address no mapping starts at is refused: outside, or inside one. */
static void unknown_address_is_refused(struct kunit *test)
{
	struct altdma_dev *adev = ops_plain(test);
	u8 *b = ops_buf(test, 2);
	struct ops_snap s;
	dma_addr_t db;

	db = ops_map(test, adev, b, 3 * SZ_4K, DMA_BIDIRECTIONAL, 0);
	ops_snap(adev, ops_pt(test), &s);
	ops->unmap_page(adev->dev, 0xdead000, SZ_4K, DMA_BIDIRECTIONAL, 0);
	ops_expect_refused(test, adev, &s, ALTDMA_REFUSE_UNKNOWN);
	ops_snap(adev, ops_pt(test), &s);
	ops->unmap_page(adev->dev, db + SZ_4K, SZ_4K, DMA_BIDIRECTIONAL, 0);
	ops_expect_refused(test, adev, &s, ALTDMA_REFUSE_UNKNOWN);
	ops_snap(adev, ops_pt(test), &s);
	ops->unmap_page(adev->dev, db + 8, 3 * SZ_4K - 8, DMA_BIDIRECTIONAL, 0);
	ops_expect_refused(test, adev, &s, ALTDMA_REFUSE_UNKNOWN);
	ops_snap(adev, ops_pt(test), &s);
	ops->unmap_page(adev->dev, DMA_MAPPING_ERROR, 0, DMA_NONE, 0);
	ops_expect_refused(test, adev, &s, ALTDMA_REFUSE_UNKNOWN);

	dma_unmap_single(adev->dev, db, 3 * SZ_4K, DMA_BIDIRECTIONAL);
	ops_expect_clean(test, adev);
}

/* seed 000: a wrong size is refused, not freed with either size. */
static void wrong_size_is_refused(struct kunit *test)
{
	struct altdma_dev *adev = ops_plain(test);
	u8 *b = ops_buf(test, 2);
	struct ops_snap s;
	dma_addr_t db;

	db = ops_map(test, adev, b, 3 * SZ_4K, DMA_TO_DEVICE, 0);
	ops_snap(adev, ops_pt(test), &s);
	ops->unmap_page(adev->dev, db, SZ_4K, DMA_TO_DEVICE, 0);
	ops_expect_refused(test, adev, &s, ALTDMA_REFUSE_SIZE);
	ops_snap(adev, ops_pt(test), &s);
	ops->unmap_page(adev->dev, db, 4 * SZ_4K, DMA_TO_DEVICE, 0);
	ops_expect_refused(test, adev, &s, ALTDMA_REFUSE_SIZE);

	dma_unmap_single(adev->dev, db, 3 * SZ_4K, DMA_TO_DEVICE);
	ops_expect_clean(test, adev);
}

/*
 * Policy: an unmap with another direction than the map is refused like the
 * other misuses (DMA_API_DEBUG calls it a driver bug): the mapping stays
 * live and must be unmapped with its own direction.
 */
static void wrong_direction_is_refused(struct kunit *test)
{
	struct altdma_dev *adev = ops_untrusted(test);
	u8 *b = ops_buf(test, 0);
	struct ops_snap s;
	dma_addr_t db;

	db = ops_map(test, adev, b + 0x100, 0x300, DMA_TO_DEVICE, 0);
	ops_snap(adev, ops_pt(test), &s);
	KUNIT_EXPECT_EQ(test, s.pool.live_mappings, 1ULL);
	ops->unmap_page(adev->dev, db, 0x300, DMA_FROM_DEVICE, 0);
	ops_expect_refused(test, adev, &s, ALTDMA_REFUSE_DIR);

	dma_unmap_single(adev->dev, db, 0x300, DMA_TO_DEVICE);
	ops_expect_clean(test, adev);
}

/* dma_unmap_page() of an sg mapping (or the reverse) is refused. */
static void wrong_kind_of_unmap_is_refused(struct kunit *test)
{
	struct altdma_dev *adev = ops_plain(test);
	u8 *b = ops_buf(test, 1);
	struct scatterlist sg[2];
	struct ops_snap s;
	dma_addr_t db;
	int n;

	sg_init_table(sg, 2);
	sg_set_buf(&sg[0], b, SZ_4K);
	sg_set_buf(&sg[1], b + SZ_4K, SZ_4K);
	n = dma_map_sg(adev->dev, sg, 2, DMA_TO_DEVICE);
	KUNIT_ASSERT_EQ(test, n, 1);
	ops_snap(adev, ops_pt(test), &s);
	ops->unmap_page(adev->dev, sg_dma_address(&sg[0]), 2 * SZ_4K,
			DMA_TO_DEVICE, 0);
	ops_expect_refused(test, adev, &s, ALTDMA_REFUSE_TYPE);
	dma_unmap_sg(adev->dev, sg, 2, DMA_TO_DEVICE);
	ops_expect_clean(test, adev);

	db = ops_map(test, adev, b, SZ_4K, DMA_TO_DEVICE, 0);
	sg_init_table(sg, 1);
	sg_set_buf(&sg[0], b, SZ_4K);
	sg_dma_address(&sg[0]) = db;
	ops_snap(adev, ops_pt(test), &s);
	ops->unmap_sg(adev->dev, sg, 1, DMA_TO_DEVICE, 0);
	ops_expect_refused(test, adev, &s, ALTDMA_REFUSE_TYPE);
	dma_unmap_single(adev->dev, db, SZ_4K, DMA_TO_DEVICE);
	ops_expect_clean(test, adev);
}

/* Two racers unmap one mapping at once, @rounds times. */
struct ops_race {
	struct altdma_dev *adev;
	dma_addr_t dma;
	unsigned int rounds;
	struct ops_racer {
		struct ops_race *race;
		struct completion go;
		struct completion done;
	} racer[2];
};

static int ops_race_fn(void *arg)
{
	struct ops_racer *me = arg;
	struct ops_race *r = me->race;
	unsigned int i, rounds = r->rounds;

	for (i = 0; i < rounds; i++) {
		wait_for_completion(&me->go);
		ops->unmap_page(r->adev->dev, READ_ONCE(r->dma), SZ_4K,
				DMA_TO_DEVICE, 0);
		complete(&me->done);
	}
	return 0;
}

/* seed 001: of two racing unmaps of one mapping, exactly one wins. */
static void racing_double_unmap_has_one_winner(struct kunit *test)
{
	struct altdma_dev *adev = ops_plain(test);
	struct task_struct *t[2];
	struct altdma_dev_stats st;
	struct ops_race *r;
	u8 *b = ops_buf(test, 0);
	unsigned int i;

	r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, r);
	r->adev = adev;
	r->rounds = 200;
	for (i = 0; i < 2; i++) {
		r->racer[i].race = r;
		init_completion(&r->racer[i].go);
		init_completion(&r->racer[i].done);
		t[i] = kthread_create(ops_race_fn, &r->racer[i], "altdma-race%u", i);
	}
	if (IS_ERR(t[0]) || IS_ERR(t[1])) {
		for (i = 0; i < 2; i++)
			if (!IS_ERR(t[i]))
				kthread_stop(t[i]);
		KUNIT_FAIL(test, "kthread_create failed");
		return;
	}
	wake_up_process(t[0]);
	wake_up_process(t[1]);
	for (i = 0; i < r->rounds; i++) {
		WRITE_ONCE(r->dma, ops->map_page(adev->dev, virt_to_page(b), 0,
						 SZ_4K, DMA_TO_DEVICE, 0));
		if (r->dma == DMA_MAPPING_ERROR)
			KUNIT_FAIL(test, "map %u failed", i);
		complete(&r->racer[0].go);
		complete(&r->racer[1].go);
		wait_for_completion(&r->racer[0].done);
		wait_for_completion(&r->racer[1].done);
	}
	altdma_dev_get_stats(adev, &st);
	KUNIT_EXPECT_EQ(test, st.unmaps, (u64)r->rounds);
	KUNIT_EXPECT_EQ(test, st.refused[ALTDMA_REFUSE_DOUBLE], (u64)r->rounds);
	KUNIT_EXPECT_EQ(test, st.refused_total, (u64)r->rounds);
	ops_expect_clean(test, adev);
}

/* A device with no altdma context, or no device: an error, never a crash. */
static void device_without_context_is_refused(struct kunit *test)
{
	struct device *dev = root_device_register("altdma-kunit-none");
	struct scatterlist sg;
	u8 *b = ops_buf(test, 0);
	dma_addr_t dma = 0;

	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(dev));
	sg_init_one(&sg, b, 64);
	KUNIT_EXPECT_EQ(test, ops->map_page(dev, virt_to_page(b), 0, 64,
					    DMA_TO_DEVICE, 0),
			DMA_MAPPING_ERROR);
	KUNIT_EXPECT_EQ(test, ops->map_page(NULL, NULL, 0, 64, DMA_TO_DEVICE,
					    0), DMA_MAPPING_ERROR);
	KUNIT_EXPECT_EQ(test, ops->map_sg(dev, &sg, 1, DMA_TO_DEVICE, 0),
			-EINVAL);
	KUNIT_EXPECT_NULL(test, ops->alloc(dev, SZ_4K, &dma, GFP_KERNEL, 0));
	ops->unmap_page(dev, 0x1000, 64, DMA_TO_DEVICE, 0);
	ops->unmap_sg(NULL, NULL, 1, DMA_TO_DEVICE, 0);
	ops->sync_sg_for_cpu(dev, &sg, 1, DMA_TO_DEVICE);
	ops->free(dev, SZ_4K, b, 0x1000, 0);
	root_device_unregister(dev);
}

/* How many entries of the CPUs' lookup caches hold @adev. */
static unsigned int lookup_cached(const struct altdma_dev *adev)
{
	unsigned int cpu, i, n = 0;

	for_each_possible_cpu(cpu)
		for (i = 0; i < ARRAY_SIZE(altdma_dev_last.adev); i++)
			n += READ_ONCE(per_cpu(altdma_dev_last.adev[i], cpu)) ==
			     adev;
	return n;
}

/*
 * An op finds the context in its CPU's lookup cache. Once the context is
 * unregistered, every op refuses, whatever a cache held, and no cache
 * holds it; a mapping made before stays as it was (the teardown reports
 * and unmaps it).
 */
static void unregistered_context_leaves_every_lookup_cache(struct kunit *test)
{
	struct altdma_dev *adev = ops_plain(test);
	struct ops_ctx *ctx = test->priv;
	u8 *b = ops_buf(test, 0);
	struct ops_snap a, c;
	dma_addr_t kept, dma;

	/* past the DMA API (and its debug entries): teardown unmaps it */
	kept = ops->map_page(adev->dev, virt_to_page(b), 0, 64, DMA_TO_DEVICE,
			     0);
	KUNIT_ASSERT_NE(test, kept, DMA_MAPPING_ERROR);
	KUNIT_EXPECT_GE(test, lookup_cached(adev), 1U);
	altdma_dev_unregister(adev);
	ctx->registered = false;
	KUNIT_EXPECT_EQ(test, lookup_cached(adev), 0U);
	ops_snap(adev, ops_pt(test), &a);
	KUNIT_EXPECT_EQ(test, ops->map_page(adev->dev, virt_to_page(b), 64, 64,
					    DMA_TO_DEVICE, 0),
			DMA_MAPPING_ERROR);
	ops->unmap_page(adev->dev, kept, 64, DMA_TO_DEVICE, 0);
	ops_snap(adev, ops_pt(test), &c);
	KUNIT_EXPECT_EQ(test, c.ptes, a.ptes);
	KUNIT_EXPECT_EQ(test, c.pt_hash, a.pt_hash);
	KUNIT_EXPECT_EQ(test, c.dev.maps, a.dev.maps);
	KUNIT_EXPECT_EQ(test, c.dev.unmaps, a.dev.unmaps);
	KUNIT_EXPECT_EQ(test, c.dev.failed, a.dev.failed);
	KUNIT_EXPECT_EQ(test, c.dev.live, 1ULL);
	KUNIT_EXPECT_EQ(test, lookup_cached(adev), 0U);

	/* an entry stored by an op that raced with the unregistration */
	preempt_disable();
	this_cpu_write(altdma_dev_last.adev[hash_ptr(adev->dev,
						     ALTDMA_DEV_LAST_BITS)],
		       adev);
	dma = ops->map_page(adev->dev, virt_to_page(b), 64, 64, DMA_TO_DEVICE,
			    0);
	this_cpu_write(altdma_dev_last.adev[hash_ptr(adev->dev,
						     ALTDMA_DEV_LAST_BITS)],
		       NULL);
	preempt_enable();
	KUNIT_EXPECT_EQ(test, dma, DMA_MAPPING_ERROR);
	ops_snap(adev, ops_pt(test), &c);
	KUNIT_EXPECT_EQ(test, c.ptes, a.ptes);
	KUNIT_EXPECT_EQ(test, c.dev.maps, a.dev.maps);
}

/**
 * struct trace_seen - what a probe of the trace cases saw of one device
 * @dev: the device whose events are counted
 * @n: events seen
 * @kind: the misuse event's kind
 * @dma: the event's DMA address
 * @size: the event's size
 * @site: the map event's caller
 */
struct trace_seen {
	struct device *dev;
	unsigned int n;
	char kind[32];
	dma_addr_t dma;
	size_t size;
	unsigned long site;
};

static void seen_map(void *data, struct device *dev, u32 type, dma_addr_t dma,
		     size_t size, u32 dir, dma_addr_t iova,
		     unsigned long npages, unsigned long site)
{
	struct trace_seen *s = data;

	if (dev != s->dev)
		return;
	s->n++;
	s->dma = dma;
	s->size = size;
	s->site = site;
}

static void seen_misuse(void *data, struct device *dev, const char *kind,
			const char *what, dma_addr_t dma, size_t size, u32 dir,
			unsigned long caller)
{
	struct trace_seen *s = data;

	if (dev != s->dev)
		return;
	s->n++;
	strscpy(s->kind, kind, sizeof(s->kind));
	s->dma = dma;
	s->size = size;
}

/* A driver's call site: not a tail call, so it is a frame of its own. */
static noinline dma_addr_t map_here(struct device *dev, void *buf, size_t size)
{
	dma_addr_t dma = dma_map_single(dev, buf, size, DMA_TO_DEVICE);

	return dma_mapping_error(dev, dma) ? DMA_MAPPING_ERROR : dma;
}

/* Map @size bytes for one of the call sites below, in its own frame. */
static __always_inline dma_addr_t site_map(struct device *dev, void *buf,
					   size_t size)
{
	dma_addr_t dma = dma_map_single(dev, buf, size, DMA_TO_DEVICE);

	return dma_mapping_error(dev, dma) ? DMA_MAPPING_ERROR : dma;
}

/* Many call sites of one driver, each a function (and a frame) of its own. */
#define DEFINE_SITE_FN(n)						\
	static noinline dma_addr_t site_fn_##n(struct device *dev,	\
					       void *buf)		\
	{								\
		return site_map(dev, buf, 0x40 + (n));			\
	}

DEFINE_SITE_FN(10) DEFINE_SITE_FN(11) DEFINE_SITE_FN(12) DEFINE_SITE_FN(13)
DEFINE_SITE_FN(14) DEFINE_SITE_FN(15) DEFINE_SITE_FN(16) DEFINE_SITE_FN(17)
DEFINE_SITE_FN(20) DEFINE_SITE_FN(21) DEFINE_SITE_FN(22) DEFINE_SITE_FN(23)
DEFINE_SITE_FN(24) DEFINE_SITE_FN(25) DEFINE_SITE_FN(26) DEFINE_SITE_FN(27)
DEFINE_SITE_FN(30) DEFINE_SITE_FN(31) DEFINE_SITE_FN(32) DEFINE_SITE_FN(33)
DEFINE_SITE_FN(34) DEFINE_SITE_FN(35) DEFINE_SITE_FN(36) DEFINE_SITE_FN(37)
DEFINE_SITE_FN(40) DEFINE_SITE_FN(41) DEFINE_SITE_FN(42) DEFINE_SITE_FN(43)
DEFINE_SITE_FN(44) DEFINE_SITE_FN(45) DEFINE_SITE_FN(46) DEFINE_SITE_FN(47)
DEFINE_SITE_FN(50) DEFINE_SITE_FN(51) DEFINE_SITE_FN(52) DEFINE_SITE_FN(53)
DEFINE_SITE_FN(54) DEFINE_SITE_FN(55) DEFINE_SITE_FN(56) DEFINE_SITE_FN(57)
DEFINE_SITE_FN(60) DEFINE_SITE_FN(61) DEFINE_SITE_FN(62) DEFINE_SITE_FN(63)
DEFINE_SITE_FN(64) DEFINE_SITE_FN(65) DEFINE_SITE_FN(66) DEFINE_SITE_FN(67)
DEFINE_SITE_FN(70) DEFINE_SITE_FN(71) DEFINE_SITE_FN(72) DEFINE_SITE_FN(73)
DEFINE_SITE_FN(74) DEFINE_SITE_FN(75) DEFINE_SITE_FN(76) DEFINE_SITE_FN(77)
DEFINE_SITE_FN(80) DEFINE_SITE_FN(81) DEFINE_SITE_FN(82) DEFINE_SITE_FN(83)
DEFINE_SITE_FN(84) DEFINE_SITE_FN(85) DEFINE_SITE_FN(86) DEFINE_SITE_FN(87)
DEFINE_SITE_FN(90) DEFINE_SITE_FN(91) DEFINE_SITE_FN(92) DEFINE_SITE_FN(93)
DEFINE_SITE_FN(94) DEFINE_SITE_FN(95) DEFINE_SITE_FN(96) DEFINE_SITE_FN(97)
DEFINE_SITE_FN(100) DEFINE_SITE_FN(101) DEFINE_SITE_FN(102) DEFINE_SITE_FN(103)
DEFINE_SITE_FN(104) DEFINE_SITE_FN(105) DEFINE_SITE_FN(106) DEFINE_SITE_FN(107)
DEFINE_SITE_FN(110) DEFINE_SITE_FN(111) DEFINE_SITE_FN(112) DEFINE_SITE_FN(113)
DEFINE_SITE_FN(114) DEFINE_SITE_FN(115) DEFINE_SITE_FN(116) DEFINE_SITE_FN(117)
DEFINE_SITE_FN(120) DEFINE_SITE_FN(121) DEFINE_SITE_FN(122) DEFINE_SITE_FN(123)
DEFINE_SITE_FN(124) DEFINE_SITE_FN(125) DEFINE_SITE_FN(126) DEFINE_SITE_FN(127)
DEFINE_SITE_FN(130) DEFINE_SITE_FN(131) DEFINE_SITE_FN(132) DEFINE_SITE_FN(133)
DEFINE_SITE_FN(134) DEFINE_SITE_FN(135) DEFINE_SITE_FN(136) DEFINE_SITE_FN(137)
DEFINE_SITE_FN(140) DEFINE_SITE_FN(141) DEFINE_SITE_FN(142) DEFINE_SITE_FN(143)
DEFINE_SITE_FN(144) DEFINE_SITE_FN(145) DEFINE_SITE_FN(146) DEFINE_SITE_FN(147)
DEFINE_SITE_FN(150) DEFINE_SITE_FN(151) DEFINE_SITE_FN(152) DEFINE_SITE_FN(153)
DEFINE_SITE_FN(154) DEFINE_SITE_FN(155) DEFINE_SITE_FN(156) DEFINE_SITE_FN(157)
DEFINE_SITE_FN(160) DEFINE_SITE_FN(161) DEFINE_SITE_FN(162) DEFINE_SITE_FN(163)
DEFINE_SITE_FN(164) DEFINE_SITE_FN(165) DEFINE_SITE_FN(166) DEFINE_SITE_FN(167)

static dma_addr_t (*const site_fns[])(struct device *, void *) = {
	site_fn_10, site_fn_11, site_fn_12, site_fn_13,
	site_fn_14, site_fn_15, site_fn_16, site_fn_17,
	site_fn_20, site_fn_21, site_fn_22, site_fn_23,
	site_fn_24, site_fn_25, site_fn_26, site_fn_27,
	site_fn_30, site_fn_31, site_fn_32, site_fn_33,
	site_fn_34, site_fn_35, site_fn_36, site_fn_37,
	site_fn_40, site_fn_41, site_fn_42, site_fn_43,
	site_fn_44, site_fn_45, site_fn_46, site_fn_47,
	site_fn_50, site_fn_51, site_fn_52, site_fn_53,
	site_fn_54, site_fn_55, site_fn_56, site_fn_57,
	site_fn_60, site_fn_61, site_fn_62, site_fn_63,
	site_fn_64, site_fn_65, site_fn_66, site_fn_67,
	site_fn_70, site_fn_71, site_fn_72, site_fn_73,
	site_fn_74, site_fn_75, site_fn_76, site_fn_77,
	site_fn_80, site_fn_81, site_fn_82, site_fn_83,
	site_fn_84, site_fn_85, site_fn_86, site_fn_87,
	site_fn_90, site_fn_91, site_fn_92, site_fn_93,
	site_fn_94, site_fn_95, site_fn_96, site_fn_97,
	site_fn_100, site_fn_101, site_fn_102, site_fn_103,
	site_fn_104, site_fn_105, site_fn_106, site_fn_107,
	site_fn_110, site_fn_111, site_fn_112, site_fn_113,
	site_fn_114, site_fn_115, site_fn_116, site_fn_117,
	site_fn_120, site_fn_121, site_fn_122, site_fn_123,
	site_fn_124, site_fn_125, site_fn_126, site_fn_127,
	site_fn_130, site_fn_131, site_fn_132, site_fn_133,
	site_fn_134, site_fn_135, site_fn_136, site_fn_137,
	site_fn_140, site_fn_141, site_fn_142, site_fn_143,
	site_fn_144, site_fn_145, site_fn_146, site_fn_147,
	site_fn_150, site_fn_151, site_fn_152, site_fn_153,
	site_fn_154, site_fn_155, site_fn_156, site_fn_157,
	site_fn_160, site_fn_161, site_fn_162, site_fn_163,
	site_fn_164, site_fn_165, site_fn_166, site_fn_167,
};

/* The size site_fns[@i] maps (site_fn_##n maps 0x40 + n bytes). */
static size_t site_fn_size(unsigned int i)
{
	return 0x40 + (i / 8 + 1) * 10 + i % 8;
}

/*
 * 128 call sites in a row, each new: every mapping knows its own. With the
 * first tables (32 and 128 entries, windows of 8) a new site could find its
 * window full and come out as 0, as one CI run of the stock VM saw; 128
 * new sites cannot all fit there.
 */
static void many_call_sites_are_all_known(struct kunit *test)
{
	struct altdma_dev *adev = ops_plain(test);
	char sym[KSYM_SYMBOL_LEN];
	struct altdma_iova_range *r;
	unsigned int i, unknown = 0;
	u8 *a = ops_buf(test, 0);
	unsigned long site;
	dma_addr_t da;

	for (i = 0; i < ARRAY_SIZE(site_fns); i++) {
		da = site_fns[i](adev->dev, a);
		KUNIT_ASSERT_NE(test, da, DMA_MAPPING_ERROR);
		rcu_read_lock();
		r = altdma_iova_lookup(&adev->iovad, da >> adev->shift);
		site = r ? altdma_map_of(r)->site : 0;
		rcu_read_unlock();
		dma_unmap_single(adev->dev, da, site_fn_size(i), DMA_TO_DEVICE);
		sprint_symbol_no_offset(sym, site);
		if (strncmp(sym, "site_fn_", 8)) {
			kunit_info(test, "site %u: %s", i, site ? sym : "0");
			unknown++;
		}
	}
	KUNIT_EXPECT_EQ_MSG(test, unknown, 0U, "of %zu call sites",
			    ARRAY_SIZE(site_fns));
	ops_expect_clean(test, adev);
}

/*
 * The altdma_map event names the driver's call site (not the DMA API),
 * or 0 with callers=0; a refused unmap fires altdma_misuse with its kind.
 */
static void trace_events_name_caller_and_misuse(struct kunit *test)
{
	struct altdma_dev *adev = ops_plain(test);
	struct trace_seen map = { .dev = adev->dev }, mis = { .dev = adev->dev };
	char sym[KSYM_SYMBOL_LEN];
	struct altdma_iova_range *r;
	u8 *a = ops_buf(test, 0);
	dma_addr_t da;
	int r1, r2;

	if (!IS_ENABLED(CONFIG_TRACEPOINTS))
		kunit_skip(test, "no tracepoints in this kernel");
	r1 = register_trace_altdma_map(seen_map, &map);
	r2 = register_trace_altdma_misuse(seen_misuse, &mis);
	if (!r1 && !r2) {
		da = map_here(adev->dev, a, 0x100);
		dma_unmap_single(adev->dev, da, 0x100, DMA_TO_DEVICE);
		ops->unmap_page(adev->dev, da, 0x100, DMA_TO_DEVICE, 0);
		WRITE_ONCE(altdma_track_callers, false);
		da = map_here(adev->dev, a, 0x100);
		WRITE_ONCE(altdma_track_callers, true);
		dma_unmap_single(adev->dev, da, 0x100, DMA_TO_DEVICE);
	}
	if (!r1)
		unregister_trace_altdma_map(seen_map, &map);
	if (!r2)
		unregister_trace_altdma_misuse(seen_misuse, &mis);
	tracepoint_synchronize_unregister();
	KUNIT_ASSERT_EQ(test, r1, 0);
	KUNIT_ASSERT_EQ(test, r2, 0);

	KUNIT_EXPECT_EQ(test, map.n, 2U);
	KUNIT_EXPECT_EQ(test, map.site, 0UL);
	KUNIT_EXPECT_EQ(test, mis.n, 1U);
	KUNIT_EXPECT_STREQ(test, mis.kind, "double unmap");
	KUNIT_EXPECT_EQ(test, mis.size, (size_t)0x100);

	/* the first map's caller, seen again with callers on */
	map.n = 0;
	KUNIT_ASSERT_EQ(test, register_trace_altdma_map(seen_map, &map), 0);
	da = map_here(adev->dev, a, 0x100);
	unregister_trace_altdma_map(seen_map, &map);
	tracepoint_synchronize_unregister();
	/* the mapping keeps the same caller (debugfs "mappings" shows it) */
	rcu_read_lock();
	r = altdma_iova_lookup(&adev->iovad, da >> adev->shift);
	KUNIT_EXPECT_EQ(test, r ? altdma_map_of(r)->site : 0, map.site);
	rcu_read_unlock();
	dma_unmap_single(adev->dev, da, 0x100, DMA_TO_DEVICE);
	KUNIT_EXPECT_EQ(test, map.n, 1U);
	KUNIT_EXPECT_EQ(test, map.dma, da);
	sprint_symbol_no_offset(sym, map.site);
	KUNIT_EXPECT_EQ_MSG(test, strncmp(sym, "map_here", 8), 0,
			    "caller %s", sym);

	ops_expect_clean(test, adev);
}

/*
 * Map @buf + @off for 0x100 bytes on this CPU's IOVA cache: with strict
 * invalidation the object an unmap gives back is the next one handed out.
 */
static dma_addr_t ops_map_small(struct kunit *test, struct altdma_dev *adev,
				u8 *buf, size_t off)
{
	return ops_map(test, adev, buf + off, 0x100, DMA_TO_DEVICE, 0);
}

/*
 * Issue 13: an unmap of an address whose object was recycled for another
 * mapping is refused and changes nothing: while the object holds the new
 * mapping (the old address is a stale one now: unknown) and after the new
 * mapping was unmapped in turn (its own address then is a double unmap,
 * the old one still unknown).
 */
static void recycled_object_refuses_stale_address(struct kunit *test)
{
	struct altdma_dev *adev = ops_plain(test);
	u8 *a = ops_buf(test, 0), *b = ops_buf(test, 0);
	struct ops_snap s;
	dma_addr_t da, db;

	a[0x100] = 0x11;
	b[0x300] = 0x5a;
	migrate_disable();
	da = ops_map_small(test, adev, a, 0x100);
	dma_unmap_single(adev->dev, da, 0x100, DMA_TO_DEVICE);
	db = ops_map_small(test, adev, b, 0x300);
	migrate_enable();
	/* the same object, the same IOVA page, another address */
	KUNIT_ASSERT_EQ(test, da >> PAGE_SHIFT, db >> PAGE_SHIFT);
	KUNIT_ASSERT_NE(test, da, db);

	ops_snap(adev, ops_pt(test), &s);
	ops->unmap_page(adev->dev, da, 0x100, DMA_TO_DEVICE, 0);
	ops_expect_refused(test, adev, &s, ALTDMA_REFUSE_UNKNOWN);
	KUNIT_EXPECT_EQ(test, *ops_dev_mem(test, db), 0x5a);

	dma_unmap_single(adev->dev, db, 0x100, DMA_TO_DEVICE);
	ops_snap(adev, ops_pt(test), &s);
	ops->unmap_page(adev->dev, db, 0x100, DMA_TO_DEVICE, 0);
	ops_expect_refused(test, adev, &s, ALTDMA_REFUSE_DOUBLE);
	ops_snap(adev, ops_pt(test), &s);
	ops->unmap_page(adev->dev, da, 0x100, DMA_TO_DEVICE, 0);
	ops_expect_refused(test, adev, &s, ALTDMA_REFUSE_UNKNOWN);
	ops_expect_clean(test, adev);
}

/*
 * Issue 13: a mapping whose object goes straight back to the IOVA tree
 * (40 pages: above 32 pages only powers of two are cached) leaves a
 * bounded trace, so a second unmap is still told apart from an unknown
 * address. A 64-page one (cached: the device's caches go up to 2 MiB) is
 * found in its cache.
 */
static void uncached_double_unmap_is_told_apart(struct kunit *test)
{
	struct altdma_dev *adev = ops_plain(test);
	u8 *a = ops_buf(test, 6);
	size_t sz[] = { 40 * SZ_4K, 64 * SZ_4K };
	struct ops_snap s;
	unsigned int i;
	dma_addr_t da;

	for (i = 0; i < ARRAY_SIZE(sz); i++) {
		da = ops_map(test, adev, a, sz[i], DMA_FROM_DEVICE, 0);
		dma_unmap_single(adev->dev, da, sz[i], DMA_FROM_DEVICE);
		ops_snap(adev, ops_pt(test), &s);
		KUNIT_EXPECT_EQ(test, s.iova.cached_ranges, (u64)i);
		ops->unmap_page(adev->dev, da, sz[i], DMA_FROM_DEVICE, 0);
		ops_expect_refused(test, adev, &s, ALTDMA_REFUSE_DOUBLE);
	}
	ops_expect_clean(test, adev);
}

/* Indexed objects of @adev, and of them those holding a live mapping. */
static unsigned long ops_indexed(struct altdma_dev *adev)
{
	struct altdma_iova_range *r;
	unsigned long index, n = 0;

	rcu_read_lock();
	altdma_iova_index_for_each(&adev->iovad.index, index, r)
		n++;
	rcu_read_unlock();
	return n;
}

/*
 * Issue 13, bounded memory: what a device holds does not grow with the
 * IOVAs it has used. Under the wrap policy every map takes a fresh IOVA:
 * after 4096 map/unmap pairs no object is left; under the tree policy the
 * objects left are exactly the ones the bounded caches park.
 */
static void released_objects_do_not_accumulate(struct kunit *test)
{
	const struct altdma_iova_policy *pol[] = {
		&altdma_iova_policy_wrap, &altdma_iova_policy_tree,
	};
	struct ops_ctx *ctx = test->priv;
	struct ops_setup setup = { };
	struct altdma_iova_stats is;
	struct altdma_dev *adev;
	unsigned int p, i;
	dma_addr_t da;
	u8 *a = ops_buf(test, 2);

	for (p = 0; p < ARRAY_SIZE(pol); p++) {
		setup.policy = pol[p];
		if (p) {
			/* a second context on a fresh device */
			ops_exit(test);
			memset(ctx, 0, sizeof(*ctx));
			a = ops_buf(test, 2);
		}
		adev = ops_dev(test, &setup);
		for (i = 0; i < 4096; i++) {
			da = ops_map(test, adev, a, SZ_4K << (i % 3),
				     DMA_TO_DEVICE, 0);
			dma_unmap_single(adev->dev, da, SZ_4K << (i % 3),
					 DMA_TO_DEVICE);
			if (!(i % 256))
				cond_resched();
		}
		altdma_iova_get_stats(&adev->iovad, &is);
		KUNIT_EXPECT_EQ_MSG(test, ops_indexed(adev), is.cached_ranges,
				    "policy %s", pol[p]->name);
		KUNIT_EXPECT_LE_MSG(test, ops_indexed(adev), p ? 3 * 2 *
				    ALTDMA_IOVA_MAG_SIZE * num_possible_cpus() :
				    0, "policy %s", pol[p]->name);
		ops_expect_clean(test, adev);
	}
}

static struct kunit_case unmap_cases[] = {
	KUNIT_CASE(recycled_object_refuses_stale_address),
	KUNIT_CASE(uncached_double_unmap_is_told_apart),
	KUNIT_CASE(released_objects_do_not_accumulate),
	KUNIT_CASE(partial_unmap_quarantines_iova),
	KUNIT_CASE(double_unmap_is_refused_and_changes_nothing),
	KUNIT_CASE(double_free_is_refused_and_changes_nothing),
	KUNIT_CASE(free_pages_with_wrong_page_is_refused),
	KUNIT_CASE(unknown_address_is_refused),
	KUNIT_CASE(wrong_size_is_refused),
	KUNIT_CASE(wrong_direction_is_refused),
	KUNIT_CASE(wrong_kind_of_unmap_is_refused),
	KUNIT_CASE(racing_double_unmap_has_one_winner),
	KUNIT_CASE(device_without_context_is_refused),
	KUNIT_CASE(unregistered_context_leaves_every_lookup_cache),
	KUNIT_CASE(trace_events_name_caller_and_misuse),
	KUNIT_CASE(many_call_sites_are_all_known),
	{}
};

static struct kunit_suite unmap_suite = {
	.name = "altdma_dma_unmap",
	.init = ops_init,
	.exit = ops_exit,
	.test_cases = unmap_cases,
};

/* ---- altdma_dma_map ---- */

/* A buffer's granules are mapped, and the address keeps its offset. */
static void map_page_maps_the_buffer_granules(struct kunit *test)
{
	struct altdma_dev *adev = ops_plain(test);
	struct pt_soft *pt = ops_pt(test);
	u8 *b = ops_buf(test, 2);
	phys_addr_t phys;
	dma_addr_t dma;
	int prot;

	dma = ops_map(test, adev, b + 0xf00, 0x300, DMA_TO_DEVICE, 0);
	KUNIT_EXPECT_EQ(test, dma & (SZ_4K - 1), (dma_addr_t)0xf00);
	KUNIT_EXPECT_EQ(test, pt_soft_count(pt), 2UL);
	KUNIT_ASSERT_TRUE(test, pt_soft_lookup(pt, dma, &phys, &prot));
	KUNIT_EXPECT_EQ(test, phys, virt_to_phys(b + 0xf00));
	KUNIT_ASSERT_TRUE(test, pt_soft_lookup(pt, dma + 0x200, &phys, &prot));
	KUNIT_EXPECT_EQ(test, phys, virt_to_phys(b + 0x1100));
	dma_unmap_single(adev->dev, dma, 0x300, DMA_TO_DEVICE);
	ops_expect_clean(test, adev);
}

/* A 64 KiB granule: whole granules are mapped, and bounced when unaligned. */
static void granule_64k_maps_whole_granules(struct kunit *test)
{
	struct ops_setup s = { .granule = SZ_64K, .untrusted = true,
			       .bounce_size = SZ_1M };
	struct altdma_dev *adev = ops_dev(test, &s);
	struct pt_soft *pt = ops_pt(test);
	u8 *b = ops_buf(test, get_order(2 * SZ_64K));
	dma_addr_t dma;
	phys_addr_t p;

	/* aligned to the granule at start and size: mapped in place */
	dma = ops_map(test, adev, b, SZ_64K, DMA_TO_DEVICE, 0);
	KUNIT_EXPECT_EQ(test, dma & (SZ_64K - 1), (dma_addr_t)0);
	KUNIT_EXPECT_EQ(test, pt_soft_count(pt), 1UL);
	KUNIT_EXPECT_PTR_EQ(test, ops_dev_mem(test, dma + 0x1234), b + 0x1234);
	dma_unmap_single(adev->dev, dma, SZ_64K, DMA_TO_DEVICE);

	/* page-aligned but not granule-aligned: bounced, one granule */
	dma_set_min_align_mask(adev->dev, 0xfff);
	dma = ops_map(test, adev, b + 0x3000, 0x1800, DMA_TO_DEVICE, 0);
	p = virt_to_phys(ops_dev_mem(test, dma));
	KUNIT_EXPECT_TRUE(test, altdma_bounce_owns(adev->pool, p));
	KUNIT_EXPECT_EQ(test, dma & 0xfff, virt_to_phys(b + 0x3000) & 0xfff);
	KUNIT_EXPECT_EQ(test, pt_soft_count(pt), 1UL);
	KUNIT_EXPECT_EQ(test, dma_get_merge_boundary(adev->dev),
			(unsigned long)SZ_64K - 1);
	dma_unmap_single(adev->dev, dma, 0x1800, DMA_TO_DEVICE);
	ops_expect_clean(test, adev);
}

static int ops_prot_of(struct kunit *test, dma_addr_t dma)
{
	phys_addr_t phys;
	int prot = -1;

	KUNIT_EXPECT_TRUE(test, pt_soft_lookup(ops_pt(test), dma, &phys, &prot));
	return prot;
}

/*
 * IOMMU_CACHE on a mapping of RAM: only for a device whose DMA is coherent
 * (every device on x86; not the suites' root device on arm64, which has no
 * firmware node saying it is).
 */
static int ops_cache(const struct altdma_dev *adev)
{
	return dev_is_dma_coherent(adev->dev) ? IOMMU_CACHE : 0;
}

/* Read-only to device, write-only from it, both; PRIV; MMIO for resources. */
static void permissions_follow_direction(struct kunit *test)
{
	static const struct {
		enum dma_data_direction dir;
		unsigned long attrs;
		int prot;
	} cases[] = {
		{ DMA_TO_DEVICE, 0, IOMMU_READ },
		{ DMA_FROM_DEVICE, 0, IOMMU_WRITE },
		{ DMA_BIDIRECTIONAL, 0, IOMMU_READ | IOMMU_WRITE },
		{ DMA_TO_DEVICE, DMA_ATTR_PRIVILEGED, IOMMU_READ | IOMMU_PRIV },
	};
	struct altdma_dev *adev = ops_plain(test);
	u8 *b = ops_buf(test, 0);
	phys_addr_t mmio = (phys_addr_t)SZ_1G * 1024;
	dma_addr_t dma;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		dma = ops_map(test, adev, b, SZ_4K, cases[i].dir,
			      cases[i].attrs);
		KUNIT_EXPECT_EQ_MSG(test, ops_prot_of(test, dma),
				    cases[i].prot | ops_cache(adev), "case %u", i);
		dma_unmap_single_attrs(adev->dev, dma, SZ_4K, cases[i].dir,
				       cases[i].attrs);
	}
	/* resources: called directly, the DMA API refuses RAM there */
	dma = ops->map_resource(adev->dev, mmio, SZ_4K, DMA_FROM_DEVICE, 0);
	KUNIT_ASSERT_NE(test, dma, DMA_MAPPING_ERROR);
	KUNIT_EXPECT_EQ(test, ops_prot_of(test, dma), IOMMU_WRITE | IOMMU_MMIO);
	ops->unmap_resource(adev->dev, dma, SZ_4K, DMA_FROM_DEVICE, 0);
	dma = ops->map_resource(adev->dev, mmio + 0x10, 8, DMA_BIDIRECTIONAL, 0);
	KUNIT_ASSERT_NE(test, dma, DMA_MAPPING_ERROR);
	KUNIT_EXPECT_EQ(test, ops_prot_of(test, dma),
			IOMMU_READ | IOMMU_WRITE | IOMMU_MMIO);
	ops->unmap_resource(adev->dev, dma, 8, DMA_BIDIRECTIONAL, 0);
	/* no direction: no mapping */
	KUNIT_EXPECT_EQ(test, ops->map_page(adev->dev, virt_to_page(b), 0, 64,
					    DMA_NONE, 0), DMA_MAPPING_ERROR);
	ops_expect_clean(test, adev);
}

/* Every DMA segment of @sg within the max size and the boundary. */
static void ops_expect_sg_limits(struct kunit *test, struct scatterlist *sgl,
				 int count, size_t max_seg, unsigned long bmask)
{
	struct scatterlist *s;
	dma_addr_t a;
	int i;

	for_each_sg(sgl, s, count, i) {
		a = sg_dma_address(s);
		KUNIT_EXPECT_LE(test, sg_dma_len(s), max_seg);
		KUNIT_EXPECT_EQ_MSG(test, a & ~(dma_addr_t)bmask,
				    (a + sg_dma_len(s) - 1) & ~(dma_addr_t)bmask,
				    "segment %d crosses the boundary", i);
	}
}

/* Granule-aligned neighbours merge into one DMA segment; others do not. */
static void map_sg_merges_granule_aligned_segments(struct kunit *test)
{
	struct altdma_dev *adev = ops_plain(test);
	u8 *b = ops_buf(test, 3);
	struct scatterlist sg[4];
	dma_addr_t dma;
	int n;

	sg_init_table(sg, 4);
	sg_set_buf(&sg[0], b + 5 * SZ_4K, SZ_4K);
	sg_set_buf(&sg[1], b + 2 * SZ_4K, SZ_8K);
	sg_set_buf(&sg[2], b, 0x800);
	sg_set_buf(&sg[3], b + 7 * SZ_4K + 0x40, 0x100);
	n = dma_map_sg(adev->dev, sg, 4, DMA_TO_DEVICE);
	KUNIT_ASSERT_EQ(test, n, 2);
	KUNIT_EXPECT_EQ(test, sg_dma_len(&sg[0]), 3 * SZ_4K + 0x800);
	KUNIT_EXPECT_EQ(test, sg_dma_len(&sg[1]), 0x100u);
	KUNIT_EXPECT_EQ(test, sg_dma_address(&sg[1]) & (SZ_4K - 1),
			(dma_addr_t)0x40);
	KUNIT_EXPECT_EQ(test, sg_dma_len(&sg[2]), 0u);
	KUNIT_EXPECT_EQ(test, pt_soft_count(ops_pt(test)), 5UL);
	/* the device sees the segments back to back */
	dma = sg_dma_address(&sg[0]);
	KUNIT_EXPECT_PTR_EQ(test, ops_dev_mem(test, dma + SZ_4K), b + 2 * SZ_4K);
	KUNIT_EXPECT_PTR_EQ(test, ops_dev_mem(test, dma + 3 * SZ_4K), b);
	dma_unmap_sg(adev->dev, sg, 4, DMA_TO_DEVICE);
	ops_expect_clean(test, adev);
}

/* Merging stops at dma_get_max_seg_size(). */
static void map_sg_honours_max_segment_size(struct kunit *test)
{
	struct altdma_dev *adev = ops_plain(test);
	u8 *b = ops_buf(test, 3);
	struct scatterlist sg[6];
	int n, i;

	dma_set_max_seg_size(adev->dev, SZ_8K);
	sg_init_table(sg, 6);
	for (i = 0; i < 6; i++)
		sg_set_buf(&sg[i], b + i * SZ_4K, SZ_4K);
	n = dma_map_sg(adev->dev, sg, 6, DMA_BIDIRECTIONAL);
	KUNIT_ASSERT_EQ(test, n, 3);
	ops_expect_sg_limits(test, sg, n, SZ_8K, DMA_BIT_MASK(32));
	for (i = 0; i < 3; i++)
		KUNIT_EXPECT_EQ(test, sg_dma_len(&sg[i]), (unsigned int)SZ_8K);
	dma_unmap_sg(adev->dev, sg, 6, DMA_BIDIRECTIONAL);
	ops_expect_clean(test, adev);
}

/* No DMA segment crosses dma_get_seg_boundary(), merged or not. */
static void map_sg_honours_segment_boundary(struct kunit *test)
{
	struct altdma_dev *adev = ops_plain(test);
	u8 *b = ops_buf(test, 3);
	struct scatterlist sg[5];
	int n;

	dma_set_seg_boundary(adev->dev, SZ_16K - 1);
	sg_init_table(sg, 5);
	sg_set_buf(&sg[0], b + 0x200, 0x100);
	sg_set_buf(&sg[1], b + SZ_4K + 0x800, SZ_4K + 0x800);
	sg_set_buf(&sg[2], b + 3 * SZ_4K, SZ_8K);
	sg_set_buf(&sg[3], b + 5 * SZ_4K, SZ_8K);
	sg_set_buf(&sg[4], b + 7 * SZ_4K + 0x100, 0xe00);
	n = dma_map_sg(adev->dev, sg, 5, DMA_TO_DEVICE);
	KUNIT_ASSERT_GT(test, n, 0);
	ops_expect_sg_limits(test, sg, n, SZ_64K, SZ_16K - 1);
	dma_unmap_sg(adev->dev, sg, 5, DMA_TO_DEVICE);
	ops_expect_clean(test, adev);
}

/* dma_alloc_coherent: zeroed, mapped, aligned, unmapped by the free. */
static void alloc_is_zeroed_mapped_and_unmapped(struct kunit *test)
{
	struct altdma_dev *adev = ops_plain(test);
	struct pt_soft *pt = ops_pt(test);
	struct sg_table sgt;
	struct page *page;
	dma_addr_t dma;
	size_t i;
	u8 *cpu;

	cpu = dma_alloc_coherent(adev->dev, 3 * SZ_4K - 100, &dma, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, cpu);
	for (i = 0; i < 3 * SZ_4K; i++)
		if (cpu[i]) {
			KUNIT_FAIL(test, "byte %zu is %#x", i, cpu[i]);
			break;
		}
	KUNIT_EXPECT_EQ(test, dma & (4 * SZ_4K - 1), (dma_addr_t)0);
	KUNIT_EXPECT_EQ(test, pt_soft_count(pt), 3UL);
	KUNIT_EXPECT_EQ(test, virt_to_phys(ops_dev_mem(test, dma + 2 * SZ_4K)),
			virt_to_phys(cpu + 2 * SZ_4K));
	KUNIT_EXPECT_EQ(test, ops_prot_of(test, dma),
			IOMMU_READ | IOMMU_WRITE | ops_cache(adev));
	KUNIT_ASSERT_EQ(test, dma_get_sgtable(adev->dev, &sgt, cpu, dma,
					      3 * SZ_4K - 100), 0);
	KUNIT_EXPECT_PTR_EQ(test, sg_page(sgt.sgl), virt_to_page(cpu));
	sg_free_table(&sgt);
	dma_free_coherent(adev->dev, 3 * SZ_4K - 100, cpu, dma);
	ops_expect_clean(test, adev);

	page = dma_alloc_pages(adev->dev, SZ_8K, &dma, DMA_FROM_DEVICE,
			       GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_EXPECT_FALSE(test, dma_mapping_error(adev->dev, dma));
	KUNIT_EXPECT_EQ(test, pt_soft_count(pt), 2UL);
	KUNIT_EXPECT_EQ(test, ops_prot_of(test, dma),
			IOMMU_WRITE | ops_cache(adev));
	dma_free_pages(adev->dev, SZ_8K, page, dma, DMA_FROM_DEVICE);
	ops_expect_clean(test, adev);
}

/*
 * Issue 18: a driver allocates coherent buffers of random sizes (1 B to
 * 64 KiB) with dma_alloc_coherent(), dma_alloc_attrs() with attributes and
 * dma_alloc_pages(), and frees them in random order, each with exactly
 * what it got. Every free must unmap its buffer at once (the software page
 * table no longer translates its address), and after each round the live
 * count, the IOVA ranges and pages in use and the page table are back
 * where they started, with nothing refused or quarantined.
 */
#define RF_ROUNDS	20
#define RF_BUFS		100
#define RF_SEED		0x18

enum rf_kind { RF_COHERENT, RF_ATTRS, RF_PAGES, RF_KINDS };

static const unsigned long rf_attrs[] = {
	DMA_ATTR_NO_WARN, DMA_ATTR_WEAK_ORDERING, DMA_ATTR_PRIVILEGED,
	DMA_ATTR_NO_WARN | DMA_ATTR_PRIVILEGED,
};

struct rf_buf {
	u8 *cpu;
	struct page *page;
	dma_addr_t dma;
	size_t size;
	unsigned long attrs;
	enum rf_kind kind;
	enum dma_data_direction dir;
	u8 fill;
};

/* Where the round stood before its first allocation. */
struct rf_base {
	struct altdma_dev_stats dev;
	struct altdma_iova_stats iova;
	unsigned long ptes;
};

static bool rf_alloc(struct kunit *test, struct altdma_dev *adev,
		     struct rf_buf *b, struct rnd_state *rnd)
{
	struct device *dev = adev->dev;

	b->kind = prandom_u32_state(rnd) % RF_KINDS;
	b->size = 1 + prandom_u32_state(rnd) % SZ_64K;
	b->attrs = 0;
	b->dir = DMA_BIDIRECTIONAL;
	switch (b->kind) {
	case RF_COHERENT:
		b->cpu = dma_alloc_coherent(dev, b->size, &b->dma, GFP_KERNEL);
		break;
	case RF_ATTRS:
		b->attrs = rf_attrs[prandom_u32_state(rnd) %
				    ARRAY_SIZE(rf_attrs)];
		b->cpu = dma_alloc_attrs(dev, b->size, &b->dma, GFP_KERNEL,
					 b->attrs);
		break;
	default:
		b->dir = prandom_u32_state(rnd) & 1 ? DMA_TO_DEVICE :
						      DMA_FROM_DEVICE;
		b->page = dma_alloc_pages(dev, b->size, &b->dma, b->dir,
					  GFP_KERNEL);
		/* DMA_API_DEBUG wants the address checked, as for a map */
		if (b->page && dma_mapping_error(dev, b->dma))
			KUNIT_FAIL(test, "dma_alloc_pages() gave an error address");
		b->cpu = b->page ? page_address(b->page) : NULL;
		break;
	}
	if (!b->cpu) {
		KUNIT_FAIL(test, "kind %d of %zu bytes failed", b->kind,
			   b->size);
		return false;
	}
	/* coherent memory comes zeroed (dma_alloc_pages() need not) */
	if (b->kind != RF_PAGES && memchr_inv(b->cpu, 0, b->size)) {
		KUNIT_FAIL(test, "coherent buffer of %zu bytes not zeroed",
			   b->size);
		return false;
	}
	b->fill = prandom_u32_state(rnd) | 1;
	memset(b->cpu, b->fill, b->size);
	return true;
}

static void rf_free(struct altdma_dev *adev, struct rf_buf *b)
{
	if (b->kind == RF_PAGES)
		dma_free_pages(adev->dev, b->size, b->page, b->dma, b->dir);
	else
		dma_free_attrs(adev->dev, b->size, b->cpu, b->dma, b->attrs);
	b->cpu = NULL;
}

/* The physical address of a byte of an allocation, remapped or not. */
static phys_addr_t cpu_phys(void *cpu)
{
	if (is_vmalloc_addr(cpu))
		return page_to_phys(vmalloc_to_page(cpu)) + offset_in_page(cpu);
	return virt_to_phys(cpu);
}

/* The device reaches exactly @b's memory; no other buffer overlaps it. */
static bool rf_check_mapped(struct kunit *test, struct rf_buf *bufs,
			    unsigned int n)
{
	phys_addr_t last = (bufs[n].size - 1) & ~(phys_addr_t)(SZ_4K - 1);
	struct pt_soft *pt = ops_pt(test);
	struct rf_buf *b = &bufs[n];
	unsigned int i;

	if (pt_soft_ops.iova_to_phys(pt, b->dma) != cpu_phys(b->cpu) ||
	    pt_soft_ops.iova_to_phys(pt, b->dma + last) !=
	    cpu_phys(b->cpu + last)) {
		KUNIT_FAIL(test, "dma %pad (%zu bytes) does not reach its buffer",
			   &b->dma, b->size);
		return false;
	}
	for (i = 0; i < n; i++) {
		if (b->dma < bufs[i].dma + bufs[i].size &&
		    bufs[i].dma < b->dma + b->size) {
			KUNIT_FAIL(test, "dma %pad (%zu bytes) overlaps dma %pad (%zu bytes)",
				   &b->dma, b->size, &bufs[i].dma,
				   bufs[i].size);
			return false;
		}
	}
	return true;
}

static void rf_base_take(struct kunit *test, struct altdma_dev *adev,
			 struct rf_base *base)
{
	altdma_dev_get_stats(adev, &base->dev);
	altdma_iova_get_stats(&adev->iovad, &base->iova);
	base->ptes = pt_soft_count(ops_pt(test));
}

/* Everything of the round is gone: returns false (and fails) if not. */
static bool rf_round_clean(struct kunit *test, struct altdma_dev *adev,
			   const struct rf_base *a, unsigned int round)
{
	struct rf_base b;

	/* ranges waiting for a flush-all are not in use by a mapping */
	altdma_fq_flush(adev);
	rf_base_take(test, adev, &b);
	KUNIT_EXPECT_EQ_MSG(test, b.dev.live, a->dev.live, "round %u", round);
	KUNIT_EXPECT_EQ_MSG(test, b.dev.maps - a->dev.maps,
			    (u64)RF_BUFS, "round %u", round);
	KUNIT_EXPECT_EQ_MSG(test, b.dev.unmaps - a->dev.unmaps,
			    (u64)RF_BUFS, "round %u", round);
	KUNIT_EXPECT_EQ_MSG(test, b.dev.refused_total, a->dev.refused_total,
			    "round %u", round);
	KUNIT_EXPECT_EQ_MSG(test, b.dev.quarantined, a->dev.quarantined,
			    "round %u", round);
	KUNIT_EXPECT_EQ_MSG(test, b.iova.live_ranges, a->iova.live_ranges,
			    "round %u", round);
	KUNIT_EXPECT_EQ_MSG(test, b.iova.pages_in_use, a->iova.pages_in_use,
			    "round %u", round);
	KUNIT_EXPECT_EQ_MSG(test, b.iova.refused_total, a->iova.refused_total,
			    "round %u", round);
	KUNIT_EXPECT_EQ_MSG(test, b.ptes, a->ptes, "round %u", round);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(&adev->iovad), 0);
	return b.dev.live == a->dev.live && b.dev.unmaps - a->dev.unmaps ==
	       RF_BUFS && b.dev.refused_total == a->dev.refused_total &&
	       b.iova.live_ranges == a->iova.live_ranges &&
	       b.iova.pages_in_use == a->iova.pages_in_use &&
	       b.ptes == a->ptes;
}

static void rf_run(struct kunit *test, const struct ops_setup *s)
{
	struct altdma_dev *adev = ops_dev(test, s);
	struct pt_soft *pt = ops_pt(test);
	unsigned int round, i, j, n, order[RF_BUFS], stale = 0;
	struct rnd_state rnd;
	struct rf_base base;
	struct rf_buf *bufs;
	bool ok = true;

	bufs = kunit_kcalloc(test, RF_BUFS, sizeof(*bufs), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, bufs);
	prandom_seed_state(&rnd, RF_SEED);
	for (round = 0; round < RF_ROUNDS && ok; round++) {
		rf_base_take(test, adev, &base);
		for (n = 0; n < RF_BUFS && ok; n++) {
			ok = rf_alloc(test, adev, &bufs[n], &rnd) &&
			     rf_check_mapped(test, bufs, n);
		}
		/* a random order of the frees (Fisher-Yates) */
		for (i = 0; i < RF_BUFS; i++)
			order[i] = i;
		for (i = RF_BUFS - 1; i > 0; i--) {
			j = prandom_u32_state(&rnd) % (i + 1);
			swap(order[i], order[j]);
		}
		for (i = 0; i < RF_BUFS; i++) {
			struct rf_buf *b = &bufs[order[i]];

			if (order[i] >= n || !b->cpu)
				continue;
			if (memchr_inv(b->cpu, b->fill, b->size)) {
				KUNIT_FAIL(test, "dma %pad lost its pattern",
					   &b->dma);
				ok = false;
			}
			rf_free(adev, b);
			/* unmapped by the free itself, in either mode */
			if (pt_soft_ops.iova_to_phys(pt, b->dma) && !stale++)
				KUNIT_FAIL(test,
					   "round %u: dma %pad (%zu B) mapped after its free",
					   round, &b->dma, b->size);
		}
		ok &= !stale;
		ok &= rf_round_clean(test, adev, &base, round);
		cond_resched();
	}
	KUNIT_EXPECT_EQ(test, stale, 0U);
	KUNIT_EXPECT_EQ(test, atomic_read(&pt->overmaps), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&pt->stale_reuse), 0);
	ops_expect_clean(test, adev);
}

static void coherent_random_free_order_strict(struct kunit *test)
{
	struct ops_setup s = { };

	rf_run(test, &s);
}

static void coherent_random_free_order_deferred(struct kunit *test)
{
	struct ops_setup s = { .inval = ALTDMA_INVAL_DEFERRED };

	rf_run(test, &s);
}

static void coherent_random_free_order_bounce_wrap(struct kunit *test)
{
	struct ops_setup s = {
		.bounce = ALTDMA_BOUNCE_FORCE,
		.policy = &altdma_iova_policy_wrap,
	};

	rf_run(test, &s);
}

/* The limits a driver asks for. */
static void limits_are_reported(struct kunit *test)
{
	struct altdma_dev *adev = ops_untrusted(test);

	KUNIT_EXPECT_EQ(test, dma_get_merge_boundary(adev->dev),
			(unsigned long)SZ_4K - 1);
	KUNIT_EXPECT_EQ(test, dma_get_required_mask(adev->dev),
			DMA_BIT_MASK(32));
	/* the DMA API caps the cache limit (2 MiB) at the bounce pool's */
	KUNIT_EXPECT_EQ(test, dma_opt_mapping_size(adev->dev),
			min_t(size_t, ALTDMA_DEV_CACHE_LIMIT,
			      dma_max_mapping_size(adev->dev)));
	KUNIT_EXPECT_EQ(test, dma_max_mapping_size(adev->dev),
			altdma_bounce_max_mapping_size(adev->pool, 0));
	KUNIT_EXPECT_LE(test, dma_max_mapping_size(adev->dev), (size_t)SZ_1M);
}

/* A backend map failure at each step: an error, and nothing leaks. */
static void injected_failures_leak_nothing(struct kunit *test)
{
	struct ops_setup s = { .bounce = ALTDMA_BOUNCE_FORCE };
	struct altdma_dev *adev = ops_dev(test, &s);
	struct pt_soft *pt = ops_pt(test);
	u8 *b = ops_buf(test, 3);
	struct scatterlist sg[3];
	struct altdma_dev_stats st;
	struct sg_table sgt;
	dma_addr_t dma;
	int step, ret;
	void *cpu;

	/* map_page, bounced and not */
	atomic_set(&pt->maps, 0);
	atomic_set(&pt->fail_map_at, 1);
	dma = dma_map_single(adev->dev, b + 0x10, 0x100, DMA_TO_DEVICE);
	KUNIT_EXPECT_TRUE(test, dma_mapping_error(adev->dev, dma));
	ops_expect_clean(test, adev);
	atomic_set(&pt->maps, 0);
	dma = dma_map_single(adev->dev, b, SZ_4K, DMA_TO_DEVICE);
	KUNIT_EXPECT_TRUE(test, dma_mapping_error(adev->dev, dma));
	ops_expect_clean(test, adev);

	/* map_sg: a failure at each of its three spans */
	sgt.sgl = sg;
	sgt.orig_nents = 3;
	for (step = 1; step <= 3; step++) {
		sg_init_table(sg, 3);
		sg_set_buf(&sg[0], b + 0x40, 0x100);
		sg_set_buf(&sg[1], b + SZ_4K, SZ_4K);
		sg_set_buf(&sg[2], b + 3 * SZ_4K + 0x80, 0x1000);
		atomic_set(&pt->maps, 0);
		atomic_set(&pt->fail_map_at, step);
		ret = dma_map_sgtable(adev->dev, &sgt, DMA_BIDIRECTIONAL, 0);
		KUNIT_EXPECT_EQ_MSG(test, ret, -EIO, "step %d", step);
		ops_expect_clean(test, adev);
	}

	/* alloc */
	atomic_set(&pt->maps, 0);
	atomic_set(&pt->fail_map_at, 1);
	cpu = dma_alloc_coherent(adev->dev, SZ_4K, &dma, GFP_KERNEL);
	KUNIT_EXPECT_NULL(test, cpu);
	atomic_set(&pt->fail_map_at, 0);
	ops_expect_clean(test, adev);
	altdma_dev_get_stats(adev, &st);
	KUNIT_EXPECT_EQ(test, st.failed, 6ULL);
	KUNIT_EXPECT_EQ(test, st.maps, 0ULL);
}

/* seed 000 on the error path: undoing a failed map unmaps short. */
static void short_unmap_while_undoing_a_map_quarantines(struct kunit *test)
{
	struct altdma_dev *adev = ops_plain(test);
	struct pt_soft *pt = ops_pt(test);
	u8 *b = ops_buf(test, 2);
	struct altdma_iova_stats is;
	struct altdma_dev_stats st;
	struct scatterlist sg[2];
	struct sg_table sgt = { .sgl = sg, .orig_nents = 2 };

	sg_init_table(sg, 2);
	sg_set_buf(&sg[0], b, 0x800);
	sg_set_buf(&sg[1], b + 2 * SZ_4K, SZ_4K);
	atomic_set(&pt->fail_map_at, 2);
	pt->short_by = SZ_4K;
	KUNIT_EXPECT_EQ(test, dma_map_sgtable(adev->dev, &sgt, DMA_TO_DEVICE, 0),
			-EIO);
	pt->short_by = 0;
	atomic_set(&pt->fail_map_at, 0);
	altdma_dev_get_stats(adev, &st);
	altdma_iova_get_stats(&adev->iovad, &is);
	KUNIT_EXPECT_EQ(test, st.quarantined, 1ULL);
	KUNIT_EXPECT_EQ(test, st.live, 0ULL);
	KUNIT_EXPECT_EQ(test, is.quarantined, 1ULL);
	KUNIT_EXPECT_EQ(test, is.live_ranges, 0ULL);
	KUNIT_EXPECT_EQ(test, pt_soft_count(pt), 1UL);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(&adev->iovad), 0);
}

/* No IOVA or no bounce slot left: an error, and nothing leaks. */
static void exhaustion_fails_cleanly(struct kunit *test)
{
	struct ops_setup s = {
		.untrusted = true, .iova_end = 64 * SZ_4K - 1,
		.bounce_size = SZ_64K,
	};
	struct altdma_dev *adev = ops_dev(test, &s);
	u8 *b = ops_buf(test, 3);
	dma_addr_t dma[64];
	int n, i;

	/* the bounce pool (16 granules) runs out first */
	for (n = 0; n < 64; n++) {
		dma[n] = ops->map_page(adev->dev, virt_to_page(b), 0x100 + n * 64,
				       0x40, DMA_TO_DEVICE, 0);
		if (dma[n] == DMA_MAPPING_ERROR)
			break;
	}
	KUNIT_EXPECT_EQ(test, n, 16);
	for (i = 0; i < n; i++)
		ops->unmap_page(adev->dev, dma[i], 0x40, DMA_TO_DEVICE, 0);
	ops_expect_clean(test, adev);

	/* then the IOVA space (63 pages) with aligned, unbounced buffers */
	for (n = 0; n < 64; n++) {
		dma[n] = ops->map_page(adev->dev, virt_to_page(b), 0, SZ_4K,
				       DMA_TO_DEVICE, 0);
		if (dma[n] == DMA_MAPPING_ERROR)
			break;
	}
	KUNIT_EXPECT_EQ(test, n, 63);
	for (i = 0; i < n; i++)
		ops->unmap_page(adev->dev, dma[i], SZ_4K, DMA_TO_DEVICE, 0);
	ops_expect_clean(test, adev);
}

/*
 * Seed 002: a device keeps one coherent buffer for good and streams the
 * rest through a small IOVA space, so the allocator is never empty again.
 * 2 x 10^4 streaming maps of 1 to 4 pages (up to 8 in flight) must all
 * succeed, each at an address the page table maps to its buffer. (The
 * 10^6 run is on a real device, on the stock kernel: scripts/vm-unload.sh;
 * under TCG with KASAN 10^6 takes minutes.)
 */
#define SEED002_MAPS	20000
#define SEED002_INFLIGHT	8

static void seed002_never_fails(struct kunit *test)
{
	struct ops_setup s = { .iova_end = 512 * SZ_4K - 1 };
	struct altdma_dev *adev = ops_dev(test, &s);
	struct pt_soft *pt = ops_pt(test);
	dma_addr_t ring[SEED002_INFLIGHT], coh;
	size_t sizes[SEED002_INFLIGHT];
	u8 *b = ops_buf(test, 2);
	unsigned int i, slot, failed = 0, wrong = 0;
	void *cpu;

	cpu = ops->alloc(adev->dev, 3 * SZ_4K, &coh, GFP_KERNEL, 0);
	KUNIT_ASSERT_NOT_NULL(test, cpu);
	memset(ring, 0, sizeof(ring));
	for (i = 0; i < SEED002_MAPS; i++) {
		slot = i % SEED002_INFLIGHT;
		if (ring[slot])
			ops->unmap_page(adev->dev, ring[slot], sizes[slot],
					DMA_TO_DEVICE, 0);
		sizes[slot] = (i % 4 + 1) * SZ_4K;
		ring[slot] = ops->map_page(adev->dev, virt_to_page(b), 0,
					   sizes[slot], DMA_TO_DEVICE, 0);
		if (ring[slot] == DMA_MAPPING_ERROR) {
			ring[slot] = 0;
			failed++;
		} else if (pt_soft_ops.iova_to_phys(pt, ring[slot]) !=
			   virt_to_phys(b)) {
			wrong++;
		}
		if (!(i % 4096))
			cond_resched();
	}
	for (slot = 0; slot < SEED002_INFLIGHT; slot++)
		if (ring[slot])
			ops->unmap_page(adev->dev, ring[slot], sizes[slot],
					DMA_TO_DEVICE, 0);
	KUNIT_EXPECT_EQ(test, failed, 0U);
	KUNIT_EXPECT_EQ(test, wrong, 0U);
	KUNIT_EXPECT_EQ(test, pt_soft_ops.iova_to_phys(pt, coh),
			virt_to_phys(cpu));
	ops->free(adev->dev, 3 * SZ_4K, cpu, coh, 0);
	ops_expect_clean(test, adev);
}

static struct kunit_case map_cases[] = {
	KUNIT_CASE(map_page_maps_the_buffer_granules),
	KUNIT_CASE(granule_64k_maps_whole_granules),
	KUNIT_CASE(permissions_follow_direction),
	KUNIT_CASE(map_sg_merges_granule_aligned_segments),
	KUNIT_CASE(map_sg_honours_max_segment_size),
	KUNIT_CASE(map_sg_honours_segment_boundary),
	KUNIT_CASE(alloc_is_zeroed_mapped_and_unmapped),
	KUNIT_CASE(coherent_random_free_order_strict),
	KUNIT_CASE(coherent_random_free_order_deferred),
	KUNIT_CASE(coherent_random_free_order_bounce_wrap),
	KUNIT_CASE(limits_are_reported),
	KUNIT_CASE(injected_failures_leak_nothing),
	KUNIT_CASE(short_unmap_while_undoing_a_map_quarantines),
	KUNIT_CASE(exhaustion_fails_cleanly),
	KUNIT_CASE(seed002_never_fails),
	{}
};

static struct kunit_suite map_suite = {
	.name = "altdma_dma_map",
	.init = ops_init,
	.exit = ops_exit,
	.test_cases = map_cases,
};

/* ---- altdma_dma_bounce ---- */

/* Untrusted: unaligned buffers go through the pool, aligned ones do not. */
static void untrusted_bounces_only_unaligned_buffers(struct kunit *test)
{
	struct altdma_dev *adev = ops_untrusted(test);
	u8 *b = ops_buf(test, 1);
	dma_addr_t dma;
	phys_addr_t p;

	dma = ops_map(test, adev, b, SZ_4K, DMA_TO_DEVICE, 0);
	p = virt_to_phys(ops_dev_mem(test, dma));
	KUNIT_EXPECT_EQ(test, p, virt_to_phys(b));
	dma_unmap_single(adev->dev, dma, SZ_4K, DMA_TO_DEVICE);

	dma = ops_map(test, adev, b, SZ_4K + 8, DMA_TO_DEVICE, 0);
	p = virt_to_phys(ops_dev_mem(test, dma));
	KUNIT_EXPECT_TRUE(test, altdma_bounce_owns(adev->pool, p));
	dma_unmap_single(adev->dev, dma, SZ_4K + 8, DMA_TO_DEVICE);

	dma = ops_map(test, adev, b + 0x80, SZ_4K, DMA_TO_DEVICE, 0);
	p = virt_to_phys(ops_dev_mem(test, dma));
	KUNIT_EXPECT_TRUE(test, altdma_bounce_owns(adev->pool, p));
	dma_unmap_single(adev->dev, dma, SZ_4K, DMA_TO_DEVICE);
	ops_expect_clean(test, adev);
}

/*
 * The page table holds exactly the slot's granules, each mapped to the
 * slot in order, the data is where the address says, and nothing outside
 * the data is visible but zeroes.
 */
static void ops_expect_exact_slot(struct kunit *test, dma_addr_t dma,
				  const u8 *orig, size_t size, bool alone)
{
	struct pt_soft *pt = ops_pt(test);
	dma_addr_t first = dma & ~(dma_addr_t)(SZ_4K - 1);
	size_t span = ALIGN((dma & (SZ_4K - 1)) + size, SZ_4K), i;
	phys_addr_t base = virt_to_phys(ops_dev_mem(test, first));
	const u8 *dev = phys_to_virt(base);
	phys_addr_t p;
	int prot;

	if (alone) {
		KUNIT_EXPECT_FALSE(test, pt_soft_lookup(pt, first - 1, &p, &prot));
		KUNIT_EXPECT_FALSE(test, pt_soft_lookup(pt, first + span, &p,
							&prot));
	}
	for (i = 0; i < span; i += SZ_4K) {
		KUNIT_EXPECT_TRUE(test, pt_soft_lookup(pt, first + i, &p, &prot));
		KUNIT_EXPECT_EQ(test, p, base + i);
	}
	for (i = 0; i < span; i++) {
		size_t off = dma - first;
		u8 want = i >= off && i < off + size ? orig[i - off] : 0;

		if (dev[i] != want) {
			KUNIT_FAIL(test, "device byte %zu of the span is %#x, not %#x",
				   i, dev[i], want);
			break;
		}
	}
}

static const unsigned int ops_masks[] = { 0x7ff, 0xfff };
static const unsigned int ops_offsets[] = { 0x8, 0x7c0, 0x840, 0xfc0 };

/* seed 003 fix 4: (dma & mask) == (phys & mask) on dma_map_page. */
static void min_align_mask_holds_on_map_page(struct kunit *test)
{
	struct altdma_dev *adev = ops_untrusted(test);
	struct pt_soft *pt = ops_pt(test);
	u8 *b = ops_buf(test, 2);
	unsigned int m, o;
	dma_addr_t dma;
	size_t size = 0x1234, i;

	for (i = 0; i < 4 * SZ_4K; i++)
		b[i] = i * 7 + 1;
	for (m = 0; m < ARRAY_SIZE(ops_masks); m++) {
		dma_set_min_align_mask(adev->dev, ops_masks[m]);
		for (o = 0; o < ARRAY_SIZE(ops_offsets); o++) {
			u8 *buf = b + ops_offsets[o];

			dma = ops_map(test, adev, buf, size, DMA_TO_DEVICE, 0);
			KUNIT_EXPECT_EQ_MSG(test, dma & ops_masks[m],
					    virt_to_phys(buf) & ops_masks[m],
					    "mask %#x offset %#x", ops_masks[m],
					    ops_offsets[o]);
			KUNIT_EXPECT_EQ(test, pt_soft_count(pt),
					ALIGN((dma & (SZ_4K - 1)) + size, SZ_4K) /
					SZ_4K);
			ops_expect_exact_slot(test, dma, buf, size, true);
			dma_unmap_single(adev->dev, dma, size, DMA_TO_DEVICE);
			KUNIT_EXPECT_EQ(test, pt_soft_count(pt), 0UL);
		}
	}
	ops_expect_clean(test, adev);
}

/*
 * A min_align_mask wider than a granule puts the data more than a granule
 * into its slot: the address the driver gets back still unmaps cleanly.
 */
static void wide_min_align_mask_unmaps_cleanly(struct kunit *test)
{
	struct altdma_dev *adev = ops_untrusted(test);
	struct pt_soft *pt = ops_pt(test);
	u8 *b = ops_buf(test, 2);
	struct altdma_dev_stats st;
	const unsigned int mask = 0x1fff;
	const size_t size = 0x600;
	u8 *buf = b + 0x1840;
	dma_addr_t dma;

	dma_set_min_align_mask(adev->dev, mask);
	dma = ops_map(test, adev, buf, size, DMA_TO_DEVICE, 0);
	KUNIT_EXPECT_EQ(test, dma & mask, virt_to_phys(buf) & mask);
	KUNIT_EXPECT_GE(test, dma & mask, (dma_addr_t)SZ_4K);
	/* the slot's first granule is zeroed padding, mapped with the slot */
	KUNIT_EXPECT_EQ(test, pt_soft_count(pt), 2UL);
	ops_expect_exact_slot(test, dma, buf, size, false);
	dma_unmap_single(adev->dev, dma, size, DMA_TO_DEVICE);
	altdma_dev_get_stats(adev, &st);
	KUNIT_EXPECT_EQ(test, st.refused_total, 0ULL);
	ops_expect_clean(test, adev);
}

/* seed 003 fix 4 on the map_sg path, every segment. */
static void min_align_mask_holds_on_map_sg(struct kunit *test)
{
	struct altdma_dev *adev = ops_untrusted(test);
	struct pt_soft *pt = ops_pt(test);
	u8 *b = ops_buf(test, 3);
	struct scatterlist sg[4], *s;
	unsigned int m, o;
	size_t i, pages;
	int n, k;

	for (i = 0; i < 8 * SZ_4K; i++)
		b[i] = i * 13 + 5;
	for (m = 0; m < ARRAY_SIZE(ops_masks); m++) {
		dma_set_min_align_mask(adev->dev, ops_masks[m]);
		sg_init_table(sg, 4);
		for (o = 0; o < 4; o++)
			sg_set_buf(&sg[o], b + o * 2 * SZ_4K + ops_offsets[o],
				   0x300 + o * 0x400);
		n = dma_map_sg(adev->dev, sg, 4, DMA_TO_DEVICE);
		KUNIT_ASSERT_EQ(test, n, 4);
		pages = 0;
		for_each_sg(sg, s, n, k) {
			KUNIT_EXPECT_EQ_MSG(test, sg_dma_address(s) & ops_masks[m],
					    sg_phys(s) & ops_masks[m],
					    "mask %#x segment %d", ops_masks[m], k);
			ops_expect_exact_slot(test, sg_dma_address(s), sg_virt(s),
					      s->length, false);
			pages += ALIGN((sg_dma_address(s) & (SZ_4K - 1)) +
				       s->length, SZ_4K) / SZ_4K;
		}
		KUNIT_EXPECT_EQ(test, pt_soft_count(pt), pages);
		dma_unmap_sg(adev->dev, sg, 4, DMA_TO_DEVICE);
		KUNIT_EXPECT_EQ(test, pt_soft_count(pt), 0UL);
	}
	ops_expect_clean(test, adev);
}

/*
 * seed 003 fix 1: with SKIP_CPU_SYNC at map and unmap, the map still puts
 * the buffer into the slots (as swiotlb does, issue 14 item 6), the syncs
 * move the data, and each goes through the slot behind the segment's DMA
 * address.
 */
static void sync_sg_on_bounced_list_moves_data_both_ways(struct kunit *test)
{
	struct altdma_dev *adev = ops_untrusted(test);
	u8 *b = ops_buf(test, 2);
	struct scatterlist sg[3], *s;
	struct altdma_bounce_stats bs;
	u8 *dev;
	int n, k;
	size_t i;

	sg_init_table(sg, 3);
	sg_set_buf(&sg[0], b + 0x40, 0x300);
	sg_set_buf(&sg[1], b + SZ_4K + 0x100, 0x700);
	sg_set_buf(&sg[2], b + 3 * SZ_4K + 0x80, 0x500);
	n = dma_map_sg_attrs(adev->dev, sg, 3, DMA_BIDIRECTIONAL,
			     DMA_ATTR_SKIP_CPU_SYNC);
	KUNIT_ASSERT_EQ(test, n, 3);
	altdma_bounce_get_stats(adev->pool, &bs);
	KUNIT_EXPECT_EQ(test, bs.live_mappings, 3ULL);
	/* the map copies the buffer in even so (issue 14, item 6) */
	KUNIT_EXPECT_EQ(test, bs.bytes_to_device, 0x300ULL + 0x700 + 0x500);

	for_each_sg(sg, s, 3, k)
		memset(sg_virt(s), 0xa0 + k, s->length);
	dma_sync_sg_for_device(adev->dev, sg, 3, DMA_BIDIRECTIONAL);
	for_each_sg(sg, s, 3, k) {
		dev = ops_dev_mem(test, sg_dma_address(s));
		KUNIT_EXPECT_TRUE(test, altdma_bounce_owns(adev->pool,
							   virt_to_phys(dev)));
		for (i = 0; i < s->length; i++)
			if (dev[i] != 0xa0 + k) {
				KUNIT_FAIL(test, "segment %d byte %zu did not reach the device",
					   k, i);
				break;
			}
		memset(dev, 0x50 + k, s->length);	/* the device writes */
	}
	dma_sync_sg_for_cpu(adev->dev, sg, 3, DMA_BIDIRECTIONAL);
	dma_unmap_sg_attrs(adev->dev, sg, 3, DMA_BIDIRECTIONAL,
			   DMA_ATTR_SKIP_CPU_SYNC);
	for_each_sg(sg, s, 3, k) {
		u8 *cpu = sg_virt(s);

		for (i = 0; i < s->length; i++)
			if (cpu[i] != 0x50 + k) {
				KUNIT_FAIL(test, "segment %d byte %zu did not reach the CPU",
					   k, i);
				break;
			}
	}
	altdma_bounce_get_stats(adev->pool, &bs);
	KUNIT_EXPECT_EQ(test, bs.bytes_to_device,
			2 * (0x300ULL + 0x700 + 0x500));
	KUNIT_EXPECT_EQ(test, bs.bytes_to_cpu, 0x300ULL + 0x700 + 0x500);
	ops_expect_clean(test, adev);
}

/* seed 003 fix 3: map copies once to the device, unmap once back. */
static void bounce_copies_once_per_direction(struct kunit *test)
{
	struct altdma_dev *adev = ops_untrusted(test);
	u8 *b = ops_buf(test, 1);
	struct altdma_bounce_stats bs;
	struct scatterlist sg[2];
	dma_addr_t dma;
	int n;

	dma = ops_map(test, adev, b + 0x10, 0x210, DMA_BIDIRECTIONAL, 0);
	altdma_bounce_get_stats(adev->pool, &bs);
	KUNIT_EXPECT_EQ(test, bs.bytes_to_device, 0x210ULL);
	KUNIT_EXPECT_EQ(test, bs.bytes_to_cpu, 0ULL);
	dma_unmap_single(adev->dev, dma, 0x210, DMA_BIDIRECTIONAL);
	altdma_bounce_get_stats(adev->pool, &bs);
	KUNIT_EXPECT_EQ(test, bs.bytes_to_device, 0x210ULL);
	KUNIT_EXPECT_EQ(test, bs.bytes_to_cpu, 0x210ULL);

	sg_init_table(sg, 2);
	sg_set_buf(&sg[0], b + 0x400, 0x100);
	sg_set_buf(&sg[1], b + SZ_4K + 0x40, 0x80);
	n = dma_map_sg(adev->dev, sg, 2, DMA_FROM_DEVICE);
	KUNIT_ASSERT_EQ(test, n, 2);
	dma_unmap_sg(adev->dev, sg, 2, DMA_FROM_DEVICE);
	altdma_bounce_get_stats(adev->pool, &bs);
	KUNIT_EXPECT_EQ(test, bs.bytes_to_device, 0x210ULL + 0x180);
	KUNIT_EXPECT_EQ(test, bs.bytes_to_cpu, 0x210ULL + 0x180);
	KUNIT_EXPECT_EQ(test, bs.syncs, 0ULL);
	ops_expect_clean(test, adev);
}

/* seed 003 fix 2: cache maintenance goes to the slot the device uses. */
static void noncoherent_maintenance_goes_to_bounce_slot(struct kunit *test)
{
	struct ops_setup s = { .untrusted = true, .noncoherent = true };
	struct altdma_dev *adev = ops_dev(test, &s);
	struct pt_soft *pt = ops_pt(test);
	u8 *b = ops_buf(test, 1);
	phys_addr_t slot;
	dma_addr_t dma;

	KUNIT_EXPECT_FALSE(test, adev->coherent);
	dma = ops_map(test, adev, b + 0x20, 0x100, DMA_FROM_DEVICE, 0);
	slot = virt_to_phys(ops_dev_mem(test, dma));
	KUNIT_EXPECT_EQ(test, ops_prot_of(test, dma), IOMMU_WRITE);
	KUNIT_ASSERT_EQ(test, pt->nr_cache_ops, 1U);
	KUNIT_EXPECT_EQ(test, pt->cache_ops[0].phys, slot);
	KUNIT_EXPECT_EQ(test, pt->cache_ops[0].size, (size_t)0x100);
	KUNIT_EXPECT_TRUE(test, pt->cache_ops[0].for_device);
	dma_sync_single_for_cpu(adev->dev, dma, 0x100, DMA_FROM_DEVICE);
	KUNIT_ASSERT_EQ(test, pt->nr_cache_ops, 2U);
	KUNIT_EXPECT_EQ(test, pt->cache_ops[1].phys, slot);
	KUNIT_EXPECT_FALSE(test, pt->cache_ops[1].for_device);
	dma_unmap_single(adev->dev, dma, 0x100, DMA_FROM_DEVICE);
	KUNIT_ASSERT_EQ(test, pt->nr_cache_ops, 3U);
	KUNIT_EXPECT_EQ(test, pt->cache_ops[2].phys, slot);
	KUNIT_EXPECT_FALSE(test, pt->cache_ops[2].for_device);

	/* not bounced: the buffer itself */
	dma = ops_map(test, adev, b + SZ_4K, SZ_4K, DMA_TO_DEVICE, 0);
	KUNIT_ASSERT_EQ(test, pt->nr_cache_ops, 4U);
	KUNIT_EXPECT_EQ(test, pt->cache_ops[3].phys, virt_to_phys(b + SZ_4K));
	/* SKIP_CPU_SYNC: none */
	dma_unmap_single_attrs(adev->dev, dma, SZ_4K, DMA_TO_DEVICE,
			       DMA_ATTR_SKIP_CPU_SYNC);
	KUNIT_EXPECT_EQ(test, pt->nr_cache_ops, 4U);
	ops_expect_clean(test, adev);
}

/*
 * Issue 13: a bounced mapping's slot is released by the pool's owner's
 * unmap, after the mapping's own claim, with no second check in the pool:
 * so a wrong size and a second unmap must be refused by the claim, before
 * the pool, with nothing changed (no slot freed, no byte copied back).
 */
static void bounced_double_unmap_and_wrong_size_are_refused(struct kunit *test)
{
	struct altdma_dev *adev = ops_untrusted(test);
	u8 *a = ops_buf(test, 0), *b = ops_buf(test, 1);
	struct ops_snap s;
	dma_addr_t da, db;

	da = ops_map(test, adev, a + 0x100, 0x300, DMA_FROM_DEVICE, 0);
	db = ops_map(test, adev, b + 0x80, SZ_4K, DMA_BIDIRECTIONAL, 0);
	ops_snap(adev, ops_pt(test), &s);
	KUNIT_EXPECT_EQ(test, s.pool.live_mappings, 2ULL);
	ops->unmap_page(adev->dev, db, SZ_4K + 1, DMA_BIDIRECTIONAL, 0);
	ops_expect_refused(test, adev, &s, ALTDMA_REFUSE_SIZE);
	ops_snap(adev, ops_pt(test), &s);
	ops->unmap_page(adev->dev, db, SZ_4K - 1, DMA_BIDIRECTIONAL, 0);
	ops_expect_refused(test, adev, &s, ALTDMA_REFUSE_SIZE);

	dma_unmap_single(adev->dev, da, 0x300, DMA_FROM_DEVICE);
	ops_snap(adev, ops_pt(test), &s);
	KUNIT_EXPECT_EQ(test, s.pool.live_mappings, 1ULL);
	/* a second copy back would overwrite these bytes */
	memset(a + 0x100, 0x5a, 0x300);
	ops->unmap_page(adev->dev, da, 0x300, DMA_FROM_DEVICE, 0);
	ops_expect_refused(test, adev, &s, ALTDMA_REFUSE_DOUBLE);
	KUNIT_EXPECT_NULL(test, memchr_inv(a + 0x100, 0x5a, 0x300));
	ops_snap(adev, ops_pt(test), &s);
	KUNIT_EXPECT_EQ(test, s.pool.live_mappings, 1ULL);
	KUNIT_EXPECT_EQ(test, s.pool.refused_total, 0ULL);

	dma_unmap_single(adev->dev, db, SZ_4K, DMA_BIDIRECTIONAL);
	ops_expect_clean(test, adev);
}

static struct kunit_case bounce_cases[] = {
	KUNIT_CASE(untrusted_bounces_only_unaligned_buffers),
	KUNIT_CASE(min_align_mask_holds_on_map_page),
	KUNIT_CASE(wide_min_align_mask_unmaps_cleanly),
	KUNIT_CASE(min_align_mask_holds_on_map_sg),
	KUNIT_CASE(sync_sg_on_bounced_list_moves_data_both_ways),
	KUNIT_CASE(bounce_copies_once_per_direction),
	KUNIT_CASE(noncoherent_maintenance_goes_to_bounce_slot),
	KUNIT_CASE(bounced_double_unmap_and_wrong_size_are_refused),
	{}
};

static struct kunit_suite bounce_suite = {
	.name = "altdma_dma_bounce",
	.init = ops_init,
	.exit = ops_exit,
	.test_cases = bounce_cases,
};

/* ---- altdma_dma_inval ---- */

/* Strict: every unmap syncs the IOTLB before its IOVA can be reused. */
static void strict_syncs_before_reuse(struct kunit *test)
{
	struct altdma_dev *adev = ops_plain(test);
	struct pt_soft *pt = ops_pt(test);
	u8 *b = ops_buf(test, 0);
	dma_addr_t dma;
	int i;

	for (i = 0; i < 300; i++) {
		dma = ops->map_page(adev->dev, virt_to_page(b), 0, SZ_4K,
				    DMA_TO_DEVICE, 0);
		KUNIT_ASSERT_NE(test, dma, DMA_MAPPING_ERROR);
		ops->unmap_page(adev->dev, dma, SZ_4K, DMA_TO_DEVICE, 0);
	}
	KUNIT_EXPECT_EQ(test, atomic_read(&pt->stale_reuse), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&pt->syncs), 300);
	KUNIT_EXPECT_EQ(test, atomic_read(&pt->flush_alls), 0);
	ops_expect_clean(test, adev);
}

/* Deferred: an IOVA goes back to the allocator only after a flush-all. */
static void deferred_never_reuses_iova_before_flush(struct kunit *test)
{
	struct ops_setup s = { .inval = ALTDMA_INVAL_DEFERRED };
	struct altdma_dev *adev = ops_dev(test, &s);
	struct pt_soft *pt = ops_pt(test);
	struct altdma_iova_stats is;
	struct altdma_dev_stats st;
	u8 *b = ops_buf(test, 0);
	unsigned long start, elapsed;
	dma_addr_t dma, first;
	int i;

	KUNIT_ASSERT_EQ(test, adev->inval, ALTDMA_INVAL_DEFERRED);
	first = ops->map_page(adev->dev, virt_to_page(b), 0, SZ_4K,
			      DMA_TO_DEVICE, 0);
	ops->unmap_page(adev->dev, first, SZ_4K, DMA_TO_DEVICE, 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&pt->syncs), 0);
	altdma_iova_get_stats(&adev->iovad, &is);
	KUNIT_EXPECT_EQ(test, is.live_ranges, 1ULL);

	/* many more, with no flush in between: never the same IOVA */
	start = jiffies;
	for (i = 0; i < 1000; i++) {
		dma = ops->map_page(adev->dev, virt_to_page(b), 0, SZ_4K,
				    DMA_TO_DEVICE, 0);
		KUNIT_ASSERT_NE(test, dma, DMA_MAPPING_ERROR);
		if (atomic_read(&pt->flush_alls) == 0)
			KUNIT_EXPECT_NE(test, dma, first);
		ops->unmap_page(adev->dev, dma, SZ_4K, DMA_TO_DEVICE, 0);
	}
	/*
	 * Flushed in batches, never one by one: a full queue (256 entries)
	 * or the timer (at most once per ALTDMA_FQ_TIMEOUT_MS) flushes.
	 */
	elapsed = jiffies_to_msecs(jiffies - start);
	KUNIT_EXPECT_GE(test, atomic_read(&pt->flush_alls), 1);
	KUNIT_EXPECT_LE(test, atomic_read(&pt->flush_alls),
			1001 / ALTDMA_FQ_SIZE + 3 + elapsed / ALTDMA_FQ_TIMEOUT_MS);
	KUNIT_EXPECT_EQ(test, atomic_read(&pt->stale_reuse), 0);

	/*
	 * The timer flushes what is left: wait for that event, up to 30 s
	 * (a loaded host running TCG may keep the vCPU off for a while).
	 */
	for (i = 0; i < 3000; i++) {
		msleep(ALTDMA_FQ_TIMEOUT_MS);
		altdma_iova_get_stats(&adev->iovad, &is);
		if (!is.live_ranges)
			break;
	}
	KUNIT_EXPECT_EQ(test, is.live_ranges, 0ULL);
	altdma_dev_get_stats(adev, &st);
	KUNIT_EXPECT_EQ(test, st.deferred, 1001ULL);
	KUNIT_EXPECT_EQ(test, st.iotlb_syncs, 0ULL);
	ops_expect_clean(test, adev);
}

/* Pages of one 1 MiB mapping at the suites' 4 KiB granule. */
#define FQ_TEST_MAP_PAGES	(SZ_1M / SZ_4K)

/*
 * Issue 13 item 7: a CPU's flush queue holds at most ALTDMA_FQ_PAGES pages
 * of IOVA. Large unmapped ranges are flushed and reused after a few unmaps
 * instead of waiting by the hundred (256 entries of 1 MiB would hold
 * 256 MiB of IOVA per CPU) while every map takes fresh space from the
 * tree. On one CPU: no more than ALTDMA_FQ_PAGES pages wait after any
 * unmap, a flush comes at least once every (ALTDMA_FQ_PAGES / 256 + 1)
 * unmaps, so that many distinct IOVAs at most are ever used, and nothing
 * is reused before a flush. The timer may flush more often, never less.
 * A range larger than the bound is not queued at all: its unmap syncs it
 * (one sync, no flush of all, nothing queued).
 */
static void deferred_queue_holds_bounded_iova(struct kunit *test)
{
	struct ops_setup s = { .inval = ALTDMA_INVAL_DEFERRED };
	struct altdma_dev *adev = ops_dev(test, &s);
	const unsigned int per_flush = ALTDMA_FQ_PAGES / FQ_TEST_MAP_PAGES + 1;
	dma_addr_t seen[ALTDMA_FQ_PAGES / FQ_TEST_MAP_PAGES + 2];
	const size_t big = (ALTDMA_FQ_PAGES + 1) * SZ_4K;
	unsigned int i, j, nseen = 0, flushes, syncs, over = 0;
	struct pt_soft *pt = ops_pt(test);
	const unsigned int n = 64;
	u64 queued;
	u8 *b = ops_buf(test, 8);
	struct altdma_dev_stats st;
	unsigned long pages;
	dma_addr_t dma;
	int cpu;

	KUNIT_ASSERT_EQ(test, adev->inval, ALTDMA_INVAL_DEFERRED);
	KUNIT_ASSERT_EQ(test, adev->granule, (unsigned long)SZ_4K);
	migrate_disable();
	for (i = 0; i < n; i++) {
		dma = dma_map_single(adev->dev, b, SZ_1M, DMA_TO_DEVICE);
		if (dma_mapping_error(adev->dev, dma))
			break;
		for (j = 0; j < nseen && seen[j] != dma; j++)
			;
		if (j == nseen && nseen < ARRAY_SIZE(seen))
			seen[nseen++] = dma;
		dma_unmap_single(adev->dev, dma, SZ_1M, DMA_TO_DEVICE);
		for_each_possible_cpu(cpu) {
			pages = READ_ONCE(per_cpu_ptr(adev->fq, cpu)->pages);
			if (pages > ALTDMA_FQ_PAGES)
				over++;
		}
	}
	migrate_enable();
	flushes = atomic_read(&pt->flush_alls);
	KUNIT_EXPECT_EQ_MSG(test, i, n, "map %u of %u failed", i + 1, n);
	KUNIT_EXPECT_EQ_MSG(test, over, 0U,
			    "a queue held more than %u pages after an unmap",
			    ALTDMA_FQ_PAGES);
	KUNIT_EXPECT_GE(test, flushes, n / per_flush);
	KUNIT_EXPECT_LE(test, nseen, per_flush);
	KUNIT_EXPECT_EQ(test, atomic_read(&pt->stale_reuse), 0);
	altdma_fq_flush(adev);

	/* larger than a queue may hold: synced at once, never queued */
	altdma_dev_get_stats(adev, &st);
	dma = ops->map_resource(adev->dev, (phys_addr_t)SZ_1G * 1024, big,
				DMA_FROM_DEVICE, 0);
	KUNIT_ASSERT_NE(test, dma, DMA_MAPPING_ERROR);
	flushes = atomic_read(&pt->flush_alls);
	syncs = atomic_read(&pt->syncs);
	queued = st.deferred;
	ops->unmap_resource(adev->dev, dma, big, DMA_FROM_DEVICE, 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&pt->syncs), syncs + 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&pt->flush_alls), flushes);
	altdma_dev_get_stats(adev, &st);
	KUNIT_EXPECT_EQ(test, st.deferred, queued);
	ops_expect_clean(test, adev);
}

/*
 * Wait for the flush queue's timer to expire (the event; at most 30 s) and
 * for its handler to finish. Returns false if it was still pending.
 */
static bool fq_timer_wait(struct altdma_dev *adev)
{
	unsigned long deadline = jiffies + 30 * HZ;

	while (timer_pending(&adev->fq_timer) && time_before(jiffies, deadline))
		msleep(20);
	if (timer_pending(&adev->fq_timer))
		return false;
	/* not pending any more: this waits for a handler still running */
	del_timer_sync(&adev->fq_timer);
	return true;
}

/*
 * The flush queue's timer flushes for the entries that wait, and only for
 * them: with an entry queued it flushes once; fired with every queue
 * empty (as after a full queue's unmap drained them all), it flushes
 * nothing.
 */
static void deferred_timer_flushes_only_for_entries(struct kunit *test)
{
	struct ops_setup s = { .inval = ALTDMA_INVAL_DEFERRED };
	struct altdma_dev *adev = ops_dev(test, &s);
	struct pt_soft *pt = ops_pt(test);
	u8 *b = ops_buf(test, 0);
	unsigned int flushes;
	dma_addr_t dma;

	flushes = atomic_read(&pt->flush_alls);
	dma = dma_map_single(adev->dev, b, SZ_4K, DMA_TO_DEVICE);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(adev->dev, dma));
	dma_unmap_single(adev->dev, dma, SZ_4K, DMA_TO_DEVICE);
	KUNIT_ASSERT_TRUE_MSG(test, fq_timer_wait(adev),
			      "the timer armed by an unmap did not expire in 30 s");
	KUNIT_EXPECT_EQ(test, atomic_read(&pt->flush_alls), flushes + 1);

	/* every queue empty: the timer's expiry flushes nothing */
	mod_timer(&adev->fq_timer, jiffies + 1);
	KUNIT_ASSERT_TRUE_MSG(test, fq_timer_wait(adev),
			      "the timer did not expire in 30 s");
	KUNIT_EXPECT_EQ(test, atomic_read(&pt->flush_alls), flushes + 1);
	ops_expect_clean(test, adev);
}

/* Untrusted devices and bounced mappings are strict whatever was asked. */
static void untrusted_device_is_always_strict(struct kunit *test)
{
	struct ops_setup s = {
		.untrusted = true, .inval = ALTDMA_INVAL_DEFERRED,
	};
	struct altdma_dev *adev = ops_dev(test, &s);
	u8 *b = ops_buf(test, 0);
	dma_addr_t dma;

	KUNIT_EXPECT_EQ(test, adev->inval, ALTDMA_INVAL_STRICT);
	KUNIT_EXPECT_NULL(test, adev->fq);
	dma = ops_map(test, adev, b + 4, 8, DMA_TO_DEVICE, 0);
	dma_unmap_single(adev->dev, dma, 8, DMA_TO_DEVICE);
	KUNIT_EXPECT_EQ(test, atomic_read(&ops_pt(test)->syncs), 1);
	ops_expect_clean(test, adev);
}

/*
 * Issue 14 item 8: a short unmap in deferred mode quarantines the IOVA and
 * invalidates what was unmapped at once. The range never reaches a flush
 * queue, and the gather of a deferred unmap holds no range (the backend,
 * like the IOMMU drivers, leaves a queued gather empty for a later flush
 * of all): the quarantine path must sync the mapping's whole range itself.
 */
static void deferred_short_unmap_is_invalidated_at_once(struct kunit *test)
{
	struct ops_setup s = { .inval = ALTDMA_INVAL_DEFERRED };
	struct altdma_dev *adev = ops_dev(test, &s);
	struct pt_soft *pt = ops_pt(test);
	u8 *b = ops_buf(test, 2);
	struct altdma_dev_stats st;
	unsigned int stale = 0;
	unsigned long index;
	dma_addr_t dma;
	void *e;

	KUNIT_ASSERT_EQ(test, adev->inval, ALTDMA_INVAL_DEFERRED);
	dma = ops_map(test, adev, b, 4 * SZ_4K, DMA_TO_DEVICE, 0);
	pt->short_by = SZ_4K;
	dma_unmap_single(adev->dev, dma, 4 * SZ_4K, DMA_TO_DEVICE);
	pt->short_by = 0;
	altdma_dev_get_stats(adev, &st);
	KUNIT_EXPECT_EQ(test, st.quarantined, 1ULL);
	KUNIT_EXPECT_EQ(test, st.deferred, 0ULL);
	KUNIT_EXPECT_EQ(test, pt_soft_count(pt), 1UL);
	/* no flush of all happened: the quarantine's own sync invalidated */
	KUNIT_EXPECT_EQ(test, atomic_read(&pt->flush_alls), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&pt->syncs), 1);
	xa_for_each(&pt->stale, index, e)
		stale++;
	KUNIT_EXPECT_EQ_MSG(test, stale, 0U,
			    "%u unmapped pages of the quarantined range left in the IOTLB",
			    stale);
}

static struct kunit_case inval_cases[] = {
	KUNIT_CASE(strict_syncs_before_reuse),
	KUNIT_CASE(deferred_never_reuses_iova_before_flush),
	KUNIT_CASE(deferred_queue_holds_bounded_iova),
	KUNIT_CASE(deferred_timer_flushes_only_for_entries),
	KUNIT_CASE(untrusted_device_is_always_strict),
	KUNIT_CASE(deferred_short_unmap_is_invalidated_at_once),
	{}
};

static struct kunit_suite inval_suite = {
	.name = "altdma_dma_inval",
	.init = ops_init,
	.exit = ops_exit,
	.test_cases = inval_cases,
};

/* ---- altdma_dma_contract (issue 14) ---- */

/*
 * Item 1: dma_alloc_pages() and dma_alloc_noncoherent() memory is zeroed.
 * The suites boot with init_on_alloc=0, so the page allocator hands back
 * what the last owner left: each round dirties and frees pages first, so
 * an allocation that is not zeroed finds the dirt.
 */
static void alloc_pages_memory_is_zeroed(struct kunit *test)
{
	struct altdma_dev *adev = ops_plain(test);
	unsigned int round, order = 2;
	size_t size = PAGE_SIZE << order;
	struct page *dirty, *page;
	dma_addr_t dma;
	void *va;

	for (round = 0; round < 16; round++) {
		dirty = alloc_pages(GFP_KERNEL, order);
		KUNIT_ASSERT_NOT_NULL(test, dirty);
		memset(page_address(dirty), 0xa5, size);
		__free_pages(dirty, order);
		if (round & 1) {
			va = dma_alloc_noncoherent(adev->dev, size, &dma,
						   DMA_BIDIRECTIONAL,
						   GFP_KERNEL);
			KUNIT_ASSERT_NOT_NULL(test, va);
		} else {
			page = dma_alloc_pages(adev->dev, size, &dma,
					       DMA_BIDIRECTIONAL, GFP_KERNEL);
			KUNIT_ASSERT_NOT_NULL(test, page);
			va = page_address(page);
		}
		/* 6.1's dma_alloc_pages() leaves the handle unchecked */
		KUNIT_EXPECT_FALSE(test, dma_mapping_error(adev->dev, dma));
		KUNIT_EXPECT_TRUE_MSG(test, !memchr_inv(va, 0, size),
				      "round %u: memory not zeroed", round);
		if (round & 1)
			dma_free_noncoherent(adev->dev, size, va, dma,
					     DMA_BIDIRECTIONAL);
		else
			dma_free_pages(adev->dev, size, virt_to_page(va), dma,
				       DMA_BIDIRECTIONAL);
	}
	ops_expect_clean(test, adev);
}

/*
 * Item 6: DMA_ATTR_SKIP_CPU_SYNC at map still puts the buffer into the
 * bounce slot, so the bytes a device does not write come back unchanged
 * by an unmap that copies back.
 */
static void skip_cpu_sync_map_keeps_unwritten_bytes(struct kunit *test)
{
	struct ops_setup s = { .bounce = ALTDMA_BOUNCE_FORCE };
	struct altdma_dev *adev = ops_dev(test, &s);
	u8 *b = ops_buf(test, 0);
	dma_addr_t dma;

	memset(b, 0x5a, 0x400);
	dma = ops_map(test, adev, b, 0x400, DMA_FROM_DEVICE,
		      DMA_ATTR_SKIP_CPU_SYNC);
	memset(ops_dev_mem(test, dma), 0x11, 0x40);	/* the device */
	dma_unmap_single(adev->dev, dma, 0x400, DMA_FROM_DEVICE);
	KUNIT_EXPECT_TRUE(test, !memchr_inv(b, 0x11, 0x40));
	KUNIT_EXPECT_TRUE_MSG(test, !memchr_inv(b + 0x40, 0x5a, 0x3c0),
			      "bytes the device never wrote were changed");
	ops_expect_clean(test, adev);
}

/*
 * Item 7: a buffer that wraps past the end of the address space is
 * refused (dma-iommu would map its first page and record the size), and
 * nothing changes.
 */
static void wrapping_buffer_is_refused(struct kunit *test)
{
	struct altdma_dev *adev = ops_plain(test);
	u8 *b = ops_buf(test, 0);
	struct ops_snap a, c;
	dma_addr_t dma;

	ops_snap(adev, ops_pt(test), &a);
	dma = ops->map_page(adev->dev, virt_to_page(b), 0x10, SIZE_MAX - 8,
			    DMA_TO_DEVICE, 0);
	KUNIT_EXPECT_EQ(test, dma, DMA_MAPPING_ERROR);
	ops_snap(adev, ops_pt(test), &c);
	KUNIT_EXPECT_EQ(test, c.ptes, a.ptes);
	KUNIT_EXPECT_EQ(test, c.pt_hash, a.pt_hash);
	KUNIT_EXPECT_EQ(test, c.iova.live_ranges, a.iova.live_ranges);
	KUNIT_EXPECT_EQ(test, c.dev.live, a.dev.live);
	KUNIT_EXPECT_EQ(test, c.dev.maps, a.dev.maps);
	KUNIT_EXPECT_EQ(test, c.dev.failed, a.dev.failed + 1);
	ops_expect_clean(test, adev);
}

/*
 * Item 7: an aperture reaching the top of the 64-bit space never hands out
 * the granule that holds DMA_MAPPING_ERROR: the domain ends below it, and
 * a wrap-around allocator that starts at the top maps the last usable
 * granule, never the error value.
 */
static void top_of_aperture_never_gives_the_error_value(struct kunit *test)
{
	struct ops_setup s = {
		.iova_end = U64_MAX,
		.policy = &altdma_iova_policy_wrap,
	};
	struct altdma_dev *adev = ops_dev(test, &s);
	u8 *b = ops_buf(test, 0);
	dma_addr_t dma, top = 0;
	unsigned int i;

	KUNIT_EXPECT_EQ(test, adev->iovad.end_pfn,
			(unsigned long)(U64_MAX >> adev->shift) - 1);
	*adev->dev->dma_mask = DMA_BIT_MASK(64);
	for (i = 0; i < 64; i++) {
		dma = ops_map(test, adev, b + PAGE_SIZE - 1, 1, DMA_TO_DEVICE,
			      0);
		KUNIT_EXPECT_NE(test, dma, DMA_MAPPING_ERROR);
		top = max(top, dma);
		dma_unmap_single(adev->dev, dma, 1, DMA_TO_DEVICE);
	}
	KUNIT_EXPECT_LT(test, top, DMA_MAPPING_ERROR);
	ops_expect_clean(test, adev);
}

/*
 * Item 14: a sync in another direction than a (not bidirectional)
 * mapping's, or outside it, is refused and changes nothing; a sync of a
 * part of the mapping at an offset, or of a bidirectional mapping in
 * either direction, is not.
 */
static void sync_in_other_direction_is_refused(struct kunit *test)
{
	struct altdma_dev *adev = ops_plain(test);
	u8 *b = ops_buf(test, 2);
	struct scatterlist sg[2];
	struct ops_snap a;
	dma_addr_t dma, bidi;

	dma = ops_map(test, adev, b, SZ_4K, DMA_TO_DEVICE, 0);
	bidi = ops_map(test, adev, b + SZ_4K, 0x300, DMA_BIDIRECTIONAL, 0);
	dma_sync_single_range_for_device(adev->dev, dma, 0x800, 0x100,
					 DMA_TO_DEVICE);
	dma_sync_single_for_cpu(adev->dev, bidi, 0x300, DMA_FROM_DEVICE);
	dma_sync_single_for_device(adev->dev, bidi, 0x300, DMA_TO_DEVICE);
	ops_snap(adev, ops_pt(test), &a);
	ops->sync_single_for_cpu(adev->dev, dma, SZ_4K, DMA_FROM_DEVICE);
	ops_expect_refused(test, adev, &a, ALTDMA_REFUSE_DIR);
	ops_snap(adev, ops_pt(test), &a);
	ops->sync_single_for_device(adev->dev, dma + 0x800, SZ_4K,
				    DMA_TO_DEVICE);
	ops_expect_refused(test, adev, &a, ALTDMA_REFUSE_SIZE);
	ops_snap(adev, ops_pt(test), &a);
	ops->sync_single_for_cpu(adev->dev, bidi + 0x300, 0x10,
				 DMA_BIDIRECTIONAL);
	ops_expect_refused(test, adev, &a, ALTDMA_REFUSE_SIZE);

	sg_init_table(sg, 2);
	sg_set_buf(&sg[0], b + SZ_8K, 0x200);
	sg_set_buf(&sg[1], b + SZ_8K + SZ_4K, 0x200);
	KUNIT_ASSERT_EQ(test, dma_map_sg(adev->dev, sg, 2, DMA_FROM_DEVICE), 2);
	dma_sync_sg_for_cpu(adev->dev, sg, 2, DMA_FROM_DEVICE);
	ops_snap(adev, ops_pt(test), &a);
	ops->sync_sg_for_device(adev->dev, sg, 2, DMA_TO_DEVICE);
	ops_expect_refused(test, adev, &a, ALTDMA_REFUSE_DIR);
	dma_unmap_sg(adev->dev, sg, 2, DMA_FROM_DEVICE);
	dma_unmap_single(adev->dev, bidi, 0x300, DMA_BIDIRECTIONAL);
	dma_unmap_single(adev->dev, dma, SZ_4K, DMA_TO_DEVICE);
	ops_expect_clean(test, adev);
}

/*
 * Item 3: entries longer than 128 KiB (the allocator's largest alignment)
 * under a 256 KiB segment boundary and a raised max segment size: no DMA
 * segment ever crosses a boundary, wherever the wrap-around policy puts
 * the list: each allocation goes below the last, and a 128 KiB mapping
 * on every other round moves the list's 128 KiB-aligned start to the
 * other half of a boundary window.
 */
static void long_entries_never_cross_the_boundary(struct kunit *test)
{
	struct ops_setup s = {
		.policy = &altdma_iova_policy_wrap,
		.iova_end = SZ_64M - 1,
	};
	struct altdma_dev *adev = ops_dev(test, &s);
	u8 *b = ops_buf(test, 6);
	struct scatterlist sg[3];
	unsigned int round;
	dma_addr_t dma;
	int n;

	dma_set_seg_boundary(adev->dev, SZ_256K - 1);
	dma_set_max_seg_size(adev->dev, SZ_256K);
	for (round = 0; round < 200; round++) {
		if (round & 1) {
			dma = ops_map(test, adev, b, SZ_128K, DMA_TO_DEVICE, 0);
			dma_unmap_single(adev->dev, dma, SZ_128K,
					 DMA_TO_DEVICE);
		}
		sg_init_table(sg, 3);
		sg_set_buf(&sg[0], b, SZ_128K + SZ_64K);
		sg_set_buf(&sg[1], b + SZ_64K, SZ_128K + SZ_16K);
		sg_set_buf(&sg[2], b + (round % 16) * SZ_4K, SZ_8K + 0x10);
		n = dma_map_sg(adev->dev, sg, 3, DMA_TO_DEVICE);
		KUNIT_ASSERT_GT_MSG(test, n, 0, "round %u", round);
		ops_expect_sg_limits(test, sg, n, SZ_256K, SZ_256K - 1);
		dma_unmap_sg(adev->dev, sg, 3, DMA_TO_DEVICE);
		if (test->status == KUNIT_FAILURE)
			break;
	}
	ops_expect_clean(test, adev);
}

/*
 * Item 5: a 64 MiB list of 4 KiB entries (all on one page: the IOVA is
 * what is large; 16384 segments, many pages of them) maps and unmaps, with
 * its segments kept in chunks of at most a page: no map needs a high-order
 * atomic allocation. (A 1 GiB list made the one array of the old code fail
 * outright, but its map and unmap are 2^18 segments of work in one
 * non-preemptible section: over 20 s under TCG on a loaded host, an RCU
 * stall. The chunk sizes are what the test checks.)
 */
static void huge_list_needs_no_high_order_allocation(struct kunit *test)
{
	struct altdma_dev *adev = ops_plain(test);
	unsigned int nents = SZ_64M / SZ_4K, chunks = 0;
	struct altdma_map_segs *ext;
	struct scatterlist *s;
	struct sg_table sgt;
	struct altdma_map *m;
	u8 *b = ops_buf(test, 0);
	unsigned long pfn;
	int i, n;

	dma_set_max_seg_size(adev->dev, SZ_1G);
	KUNIT_ASSERT_EQ(test, sg_alloc_table(&sgt, nents, GFP_KERNEL), 0);
	for_each_sg(sgt.sgl, s, nents, i)
		sg_set_buf(s, b, SZ_4K);
	/* the ops directly: DMA_API_DEBUG would track 2^18 entries */
	n = ops->map_sg(adev->dev, sgt.sgl, nents, DMA_TO_DEVICE, 0);
	KUNIT_EXPECT_GT(test, n, 0);
	if (n > 0) {
		pfn = sg_dma_address(sgt.sgl) >> adev->shift;
		rcu_read_lock();
		m = altdma_map_of(altdma_iova_lookup(&adev->iovad, pfn));
		for (ext = m->ext; ext; ext = ext->next, chunks++)
			KUNIT_EXPECT_LE(test, ksize(ext), PAGE_SIZE);
		rcu_read_unlock();
		KUNIT_EXPECT_EQ(test, chunks,
				DIV_ROUND_UP(nents,
					     ALTDMA_MAP_SEGS_PER_CHUNK));
		ops->unmap_sg(adev->dev, sgt.sgl, nents, DMA_TO_DEVICE, 0);
	}
	sg_free_table(&sgt);
	ops_expect_clean(test, adev);
}

/*
 * The device sees the CPU's bytes of an allocation at every page: a
 * pattern written through @cpu is read back through the page table at the
 * same offset of @dma, one word per page.
 */
static void expect_same_memory(struct kunit *test, u8 *cpu, dma_addr_t dma,
			       size_t size)
{
	size_t off;
	u32 bad = 0;

	for (off = 0; off < size; off += PAGE_SIZE)
		*(u32 *)(cpu + off) = (u32)off ^ 0x5eed;
	for (off = 0; off < size; off += PAGE_SIZE)
		bad += *(u32 *)ops_dev_mem(test, dma + off) !=
		       ((u32)off ^ 0x5eed);
	KUNIT_EXPECT_EQ_MSG(test, bad, 0U, "pages where the device sees other memory");
}

/*
 * Item 2: coherent allocations of 8 and 16 MiB (at and above the page
 * allocator's largest block) succeed, built of separate pages mapped
 * contiguously: zeroed, one contiguous DMA range, the device sees the
 * CPU's memory everywhere, get_sgtable lists every page; freed clean.
 */
static void large_coherent_allocations_work(struct kunit *test)
{
	struct altdma_dev *adev = ops_plain(test);
	static const size_t sizes[] = { SZ_8M, SZ_16M, SZ_2M + SZ_128K };
	struct sg_page_iter piter;
	unsigned int i, n, bad;
	struct sg_table sgt;
	dma_addr_t dma;
	u8 *cpu;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		cpu = dma_alloc_coherent(adev->dev, sizes[i], &dma,
					 GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL_MSG(test, cpu, "size %zu", sizes[i]);
		KUNIT_EXPECT_TRUE(test, !memchr_inv(cpu, 0, sizes[i]));
		expect_same_memory(test, cpu, dma, sizes[i]);
		KUNIT_ASSERT_EQ(test, dma_get_sgtable(adev->dev, &sgt, cpu, dma,
						      sizes[i]), 0);
		n = 0;
		bad = 0;
		for_each_sgtable_page(&sgt, &piter, 0)
			bad += sg_page_iter_page(&piter) !=
			       vmalloc_to_page(cpu + ((size_t)n++ << PAGE_SHIFT));
		KUNIT_EXPECT_EQ(test, (size_t)n << PAGE_SHIFT, sizes[i]);
		KUNIT_EXPECT_EQ_MSG(test, bad, 0U,
				    "get_sgtable pages that are not the buffer's");
		sg_free_table(&sgt);
		dma_free_coherent(adev->dev, sizes[i], cpu, dma);
		ops_expect_clean(test, adev);
	}
}

/*
 * Item 2: the attributes dma-iommu honours. FORCE_CONTIGUOUS gives one
 * block in the linear map; ALLOC_SINGLE_PAGES a remapped buffer of single
 * pages; NO_KERNEL_MAPPING a cookie (no kernel mapping) that the free
 * takes back; NO_WARN an impossible size that fails quietly.
 */
static void allocation_attributes_are_honoured(struct kunit *test)
{
	struct altdma_dev *adev = ops_plain(test);
	dma_addr_t dma;
	void *cpu;

	cpu = dma_alloc_attrs(adev->dev, SZ_1M, &dma, GFP_KERNEL,
			      DMA_ATTR_FORCE_CONTIGUOUS);
	KUNIT_ASSERT_NOT_NULL(test, cpu);
	KUNIT_EXPECT_TRUE(test, virt_addr_valid(cpu));
	expect_same_memory(test, cpu, dma, SZ_1M);
	dma_free_attrs(adev->dev, SZ_1M, cpu, dma, DMA_ATTR_FORCE_CONTIGUOUS);

	cpu = dma_alloc_attrs(adev->dev, SZ_16K, &dma, GFP_KERNEL,
			      DMA_ATTR_ALLOC_SINGLE_PAGES);
	KUNIT_ASSERT_NOT_NULL(test, cpu);
	KUNIT_EXPECT_TRUE(test, is_vmalloc_addr(cpu));
	expect_same_memory(test, cpu, dma, SZ_16K);
	dma_free_attrs(adev->dev, SZ_16K, cpu, dma,
		       DMA_ATTR_ALLOC_SINGLE_PAGES);

	cpu = dma_alloc_attrs(adev->dev, SZ_4M, &dma, GFP_KERNEL,
			      DMA_ATTR_NO_KERNEL_MAPPING);
	KUNIT_ASSERT_NOT_NULL(test, cpu);
	KUNIT_EXPECT_FALSE(test, is_vmalloc_addr(cpu));
	KUNIT_EXPECT_EQ(test, altdma_dev_count_live(adev), 1UL);
	dma_free_attrs(adev->dev, SZ_4M, cpu, dma,
		       DMA_ATTR_NO_KERNEL_MAPPING);

	cpu = dma_alloc_attrs(adev->dev, SZ_64M, &dma, GFP_NOWAIT,
			      DMA_ATTR_NO_WARN);
	KUNIT_EXPECT_NULL(test, cpu);
	ops_expect_clean(test, adev);
}

/*
 * Item 2: dma_alloc_noncontiguous() of 8 MiB: one DMA segment over
 * separate pages, zeroed, mapped for the CPU by dma_vmap_noncontiguous(),
 * the device sees the same memory; freed clean. (The buffer is one DMA
 * segment by definition: a device using such buffers takes its length.)
 */
static void noncontiguous_allocation_works(struct kunit *test)
{
	struct altdma_dev *adev = ops_plain(test);
	struct sg_table *sgt;
	u8 *cpu;

	dma_set_max_seg_size(adev->dev, SZ_8M);
	sgt = dma_alloc_noncontiguous(adev->dev, SZ_8M, DMA_BIDIRECTIONAL,
				      GFP_KERNEL, 0);
	KUNIT_ASSERT_NOT_NULL(test, sgt);
	KUNIT_EXPECT_EQ(test, sgt->nents, 1U);
	KUNIT_EXPECT_EQ(test, sg_dma_len(sgt->sgl), (unsigned int)SZ_8M);
	cpu = dma_vmap_noncontiguous(adev->dev, SZ_8M, sgt);
	KUNIT_ASSERT_NOT_NULL(test, cpu);
	KUNIT_EXPECT_TRUE(test, !memchr_inv(cpu, 0, SZ_8M));
	expect_same_memory(test, cpu, sg_dma_address(sgt->sgl), SZ_8M);
	dma_vunmap_noncontiguous(adev->dev, cpu);
	dma_free_noncontiguous(adev->dev, SZ_8M, sgt, DMA_BIDIRECTIONAL);
	ops_expect_clean(test, adev);
}

static struct kunit_case contract_cases[] = {
	KUNIT_CASE(alloc_pages_memory_is_zeroed),
	KUNIT_CASE(skip_cpu_sync_map_keeps_unwritten_bytes),
	KUNIT_CASE(wrapping_buffer_is_refused),
	KUNIT_CASE(top_of_aperture_never_gives_the_error_value),
	KUNIT_CASE(sync_in_other_direction_is_refused),
	KUNIT_CASE(long_entries_never_cross_the_boundary),
	KUNIT_CASE(huge_list_needs_no_high_order_allocation),
	KUNIT_CASE(large_coherent_allocations_work),
	KUNIT_CASE(allocation_attributes_are_honoured),
	KUNIT_CASE(noncontiguous_allocation_works),
	{}
};

static struct kunit_suite contract_suite = {
	.name = "altdma_dma_contract",
	.init = ops_init,
	.exit = ops_exit,
	.test_cases = contract_cases,
};

/* ---- altdma_dma_sanitize (issue 16) ---- */

static struct altdma_dev *ops_sanitized(struct kunit *test)
{
	struct ops_setup s = { .bounce = ALTDMA_BOUNCE_SANITIZE };
	struct altdma_dev *adev = ops_dev(test, &s);

	KUNIT_ASSERT_NOT_NULL(test, adev->san);
	return adev;
}

/*
 * A driver's call sites, each a frame of its own: the barrier after the
 * call keeps it from being a tail call.
 */
static noinline dma_addr_t san_map_here(struct device *dev, void *buf,
					size_t size,
					enum dma_data_direction dir,
					unsigned long attrs)
{
	dma_addr_t dma = dma_map_single_attrs(dev, buf, size, dir, attrs);

	barrier();
	return dma;
}

static noinline void san_unmap_here(struct device *dev, dma_addr_t dma,
				    size_t size, enum dma_data_direction dir,
				    unsigned long attrs)
{
	dma_unmap_single_attrs(dev, dma, size, dir, attrs);
	barrier();
}

static noinline void san_sync_here(struct device *dev, dma_addr_t dma,
				   size_t size, enum dma_data_direction dir)
{
	dma_sync_single_for_cpu(dev, dma, size, dir);
	barrier();
}

/* The sanitizer's findings, total and of @kind. */
static u64 san_found(struct altdma_dev *adev, int kind)
{
	struct altdma_dev_stats st;

	altdma_dev_get_stats(adev, &st);
	return kind < 0 ? st.san_found_total : st.san_found[kind];
}

/* A symbol starts with @name. */
static void expect_sym(struct kunit *test, unsigned long addr,
		       const char *name)
{
	char sym[KSYM_SYMBOL_LEN];

	sprint_symbol_no_offset(sym, addr);
	KUNIT_EXPECT_EQ_MSG(test, strncmp(sym, name, strlen(name)), 0,
			    "%s is not %s", sym, name);
}

/* The one finding of @kind: where, what changed, who mapped, who found. */
static void expect_report(struct kunit *test, struct altdma_dev *adev,
			  enum altdma_san_kind kind, dma_addr_t dma,
			  size_t size, enum dma_data_direction dir,
			  long first, long last, size_t changed,
			  const char *found)
{
	struct altdma_san_report r;
	int k;

	for (k = 0; k < ALTDMA_SAN_KINDS; k++)
		KUNIT_EXPECT_EQ_MSG(test, san_found(adev, k),
				    (u64)(k == kind), "kind %d", k);
	KUNIT_ASSERT_TRUE(test, altdma_san_last(adev->san, kind, &r));
	KUNIT_EXPECT_EQ(test, r.dma, dma);
	KUNIT_EXPECT_EQ(test, r.size, size);
	KUNIT_EXPECT_EQ(test, r.dir, (u32)dir);
	KUNIT_EXPECT_EQ(test, r.first, first);
	KUNIT_EXPECT_EQ(test, r.last, last);
	KUNIT_EXPECT_EQ(test, r.changed, changed);
	expect_sym(test, r.site, "san_map_here");
	expect_sym(test, r.found, found);
}

/* Fill @p with a pattern no poison or zero run looks like. */
static void san_pattern(u8 *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (u8)(i * 7 + 3) ^ 0x5a;
}

/*
 * A page mapping bounces even when aligned, and the device never sees the
 * buffer itself; an allocation does not bounce.
 */
static void sanitize_bounces_every_streaming_mapping(struct kunit *test)
{
	struct altdma_dev *adev = ops_sanitized(test);
	u8 *a = ops_buf(test, 0), *cpu;
	dma_addr_t dma;

	dma = ops_map(test, adev, a, PAGE_SIZE, DMA_TO_DEVICE, 0);
	KUNIT_EXPECT_PTR_NE(test, ops_dev_mem(test, dma), a);
	dma_unmap_single(adev->dev, dma, PAGE_SIZE, DMA_TO_DEVICE);
	cpu = dma_alloc_coherent(adev->dev, PAGE_SIZE, &dma, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, cpu);
	KUNIT_EXPECT_PTR_EQ(test, ops_dev_mem(test, dma), cpu);
	dma_free_coherent(adev->dev, PAGE_SIZE, cpu, dma);
	KUNIT_EXPECT_EQ(test, san_found(adev, -1), 0ULL);
	ops_expect_clean(test, adev);
}

/*
 * Kind 1: the driver writes 8 bytes of a to-device buffer between map and
 * unmap. Reported at the unmap with the exact bytes, the mapping's and the
 * unmap's callers; the device saw the bytes handed over, the unmap went on
 * as always, the driver's write stays.
 */
static void cpu_write_while_device_owns_is_reported(struct kunit *test)
{
	struct altdma_dev *adev = ops_sanitized(test);
	u8 *a = ops_buf(test, 0), *want = kunit_kzalloc(test, 0x300, GFP_KERNEL);
	struct ops_snap before, after;
	dma_addr_t dma;

	KUNIT_ASSERT_NOT_NULL(test, want);
	san_pattern(a + 0x10, 0x300);
	dma = san_map_here(adev->dev, a + 0x10, 0x300, DMA_TO_DEVICE, 0);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(adev->dev, dma));
	KUNIT_EXPECT_EQ(test, memcmp(ops_dev_mem(test, dma), a + 0x10, 0x300),
			0);
	memset(a + 0x10 + 0x40, 0xee, 8);
	memcpy(want, a + 0x10, 0x300);
	ops_snap(adev, ops_pt(test), &before);
	san_unmap_here(adev->dev, dma, 0x300, DMA_TO_DEVICE, 0);
	ops_snap(adev, ops_pt(test), &after);
	expect_report(test, adev, ALTDMA_SAN_CPU_WRITE, dma, 0x300,
		      DMA_TO_DEVICE, 0x40, 0x47, 8, "san_unmap_here");
	KUNIT_EXPECT_EQ(test, memcmp(a + 0x10, want, 0x300), 0);
	KUNIT_EXPECT_EQ(test, after.dev.unmaps, before.dev.unmaps + 1);
	KUNIT_EXPECT_EQ(test, after.pool.unmaps, before.pool.unmaps + 1);
	KUNIT_EXPECT_EQ(test, after.dev.refused_total,
			before.dev.refused_total);
	ops_expect_clean(test, adev);
}

/*
 * Kind 1 on a bidirectional buffer, found by a sync_for_cpu: the byte the
 * driver wrote over the poison is reported, then the device's data comes
 * back as always.
 */
static void cpu_write_to_bidirectional_found_by_sync(struct kunit *test)
{
	struct altdma_dev *adev = ops_sanitized(test);
	u8 *a = ops_buf(test, 0), *d;
	dma_addr_t dma;

	san_pattern(a, 0x100);
	dma = san_map_here(adev->dev, a, 0x100, DMA_BIDIRECTIONAL, 0);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(adev->dev, dma));
	d = ops_dev_mem(test, dma);
	memset(d, 0x42, 0x100);
	a[5] = 0x01;
	san_sync_here(adev->dev, dma, 0x100, DMA_BIDIRECTIONAL);
	expect_report(test, adev, ALTDMA_SAN_CPU_WRITE, dma, 0x100,
		      DMA_BIDIRECTIONAL, 5, 5, 1, "san_sync_here");
	KUNIT_EXPECT_FALSE(test, memchr_inv(a, 0x42, 0x100));
	dma_unmap_single(adev->dev, dma, 0x100, DMA_BIDIRECTIONAL);
	KUNIT_EXPECT_EQ(test, san_found(adev, -1), 1ULL);
	ops_expect_clean(test, adev);
}

/*
 * Kind 2: a from-device buffer reads as poison until the sync, the synced
 * part then reads the device's bytes, the rest stays poison until the
 * unmap, which gives back the device's bytes and, where it wrote nothing,
 * the buffer's own. With DMA_ATTR_SKIP_CPU_SYNC at the unmap and no sync,
 * the buffer's own bytes come back (nothing is copied, as with swiotlb).
 */
static void cpu_read_before_sync_reads_poison(struct kunit *test)
{
	struct altdma_dev *adev = ops_sanitized(test);
	u8 *a = ops_buf(test, 0), *want = kunit_kzalloc(test, 0x200, GFP_KERNEL);
	dma_addr_t dma;

	KUNIT_ASSERT_NOT_NULL(test, want);
	san_pattern(a, 0x200);
	memcpy(want, a, 0x200);
	dma = ops_map(test, adev, a, 0x200, DMA_FROM_DEVICE, 0);
	KUNIT_EXPECT_FALSE(test, memchr_inv(a, ALTDMA_SAN_POISON, 0x200));
	memset(ops_dev_mem(test, dma), 0x77, 0x100);
	KUNIT_EXPECT_FALSE(test, memchr_inv(a, ALTDMA_SAN_POISON, 0x200));
	dma_sync_single_for_cpu(adev->dev, dma, 0x100, DMA_FROM_DEVICE);
	KUNIT_EXPECT_FALSE(test, memchr_inv(a, 0x77, 0x100));
	KUNIT_EXPECT_FALSE(test, memchr_inv(a + 0x100, ALTDMA_SAN_POISON,
					    0x100));
	dma_unmap_single(adev->dev, dma, 0x200, DMA_FROM_DEVICE);
	KUNIT_EXPECT_FALSE(test, memchr_inv(a, 0x77, 0x100));
	KUNIT_EXPECT_EQ(test, memcmp(a + 0x100, want + 0x100, 0x100), 0);

	/* no sync, SKIP_CPU_SYNC at the unmap: the buffer's own bytes */
	san_pattern(a, 0x200);
	dma = ops_map(test, adev, a, 0x200, DMA_FROM_DEVICE, 0);
	KUNIT_EXPECT_FALSE(test, memchr_inv(a, ALTDMA_SAN_POISON, 0x200));
	memset(ops_dev_mem(test, dma), 0x77, 0x200);
	dma_unmap_single_attrs(adev->dev, dma, 0x200, DMA_FROM_DEVICE,
			       DMA_ATTR_SKIP_CPU_SYNC);
	KUNIT_EXPECT_EQ(test, memcmp(a, want, 0x200), 0);
	KUNIT_EXPECT_EQ(test, san_found(adev, -1), 0ULL);
	ops_expect_clean(test, adev);
}

/*
 * Kind 3: the device writes 2 bytes before its data and 4 after it:
 * reported at the unmap as bytes -2..0x103; the buffer around the mapping
 * is untouched and the device's data comes back.
 */
static void device_write_outside_mapping_is_reported(struct kunit *test)
{
	struct altdma_dev *adev = ops_sanitized(test);
	u8 *a = ops_buf(test, 0), *d;
	dma_addr_t dma;

	/* the data keeps its page offset: 0x80 bytes of padding before it */
	dma_set_min_align_mask(adev->dev, 0xfff);
	san_pattern(a, PAGE_SIZE);
	dma = san_map_here(adev->dev, a + 0x80, 0x100, DMA_FROM_DEVICE, 0);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(adev->dev, dma));
	d = ops_dev_mem(test, dma);
	memset(d, 0x33, 0x100);
	memset(d - 2, 0x99, 2);
	memset(d + 0x100, 0x99, 4);
	san_unmap_here(adev->dev, dma, 0x100, DMA_FROM_DEVICE, 0);
	expect_report(test, adev, ALTDMA_SAN_DEV_OUTSIDE, dma, 0x100,
		      DMA_FROM_DEVICE, -2, 0x103, 6, "san_unmap_here");
	KUNIT_EXPECT_FALSE(test, memchr_inv(a + 0x80, 0x33, 0x100));
	KUNIT_EXPECT_NE(test, a[0x7f], 0x99);
	KUNIT_EXPECT_NE(test, a[0x180], 0x99);
	ops_expect_clean(test, adev);
}

/*
 * Kind 3: the device writes 16 bytes of a to-device mapping: reported at
 * the unmap; nothing is copied back.
 */
static void device_write_to_device_mapping_is_reported(struct kunit *test)
{
	struct altdma_dev *adev = ops_sanitized(test);
	u8 *a = ops_buf(test, 0), *want = kunit_kzalloc(test, 0x100, GFP_KERNEL);
	dma_addr_t dma;

	KUNIT_ASSERT_NOT_NULL(test, want);
	san_pattern(a, 0x100);
	memcpy(want, a, 0x100);
	dma = san_map_here(adev->dev, a, 0x100, DMA_TO_DEVICE, 0);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(adev->dev, dma));
	memset(ops_dev_mem(test, dma) + 0x20, 0x00, 0x10);
	san_unmap_here(adev->dev, dma, 0x100, DMA_TO_DEVICE, 0);
	expect_report(test, adev, ALTDMA_SAN_DEV_TO_DEVICE, dma, 0x100,
		      DMA_TO_DEVICE, 0x20, 0x2f, 0x10, "san_unmap_here");
	KUNIT_EXPECT_EQ(test, memcmp(a, want, 0x100), 0);
	ops_expect_clean(test, adev);
}

/*
 * One legal life of a buffer in @dir with @attrs at map and unmap: (with
 * SKIP_CPU_SYNC, a sync_for_device first, as page_pool does); the device
 * writes the first 0x100 bytes (not for to-device); sync_for_cpu of them;
 * the CPU reads them and writes 0x10; sync_for_device; sync_for_cpu of
 * all; unmap; the CPU writes after. No finding, and the buffer ends as
 * swiotlb leaves it.
 */
static void san_legal_life(struct kunit *test, struct altdma_dev *adev,
			   u8 *a, enum dma_data_direction dir,
			   unsigned long attrs)
{
	u8 *want = kunit_kzalloc(test, 0x400, GFP_KERNEL);
	dma_addr_t dma;

	KUNIT_ASSERT_NOT_NULL(test, want);
	san_pattern(a, 0x400);
	memcpy(want, a, 0x400);
	dma = ops_map(test, adev, a, 0x400, dir, attrs);
	if (attrs & DMA_ATTR_SKIP_CPU_SYNC)
		dma_sync_single_for_device(adev->dev, dma, 0x400, dir);
	if (dir != DMA_TO_DEVICE) {
		memset(ops_dev_mem(test, dma), 0xa1, 0x100);
		memset(want, 0xa1, 0x100);
	}
	dma_sync_single_for_cpu(adev->dev, dma, 0x100, dir);
	KUNIT_EXPECT_EQ(test, memcmp(a, want, 0x100), 0);
	memset(a, 0xc3, 0x10);
	dma_sync_single_for_device(adev->dev, dma, 0x100, dir);
	/* a from-device slot keeps the device's bytes (swiotlb copies none) */
	if (dir != DMA_FROM_DEVICE)
		memset(want, 0xc3, 0x10);
	dma_sync_single_for_cpu(adev->dev, dma, 0x400, dir);
	if (dir == DMA_TO_DEVICE)
		memset(want, 0xc3, 0x10);
	KUNIT_EXPECT_EQ(test, memcmp(a, want, 0x400), 0);
	dma_unmap_single_attrs(adev->dev, dma, 0x400, dir, attrs);
	KUNIT_EXPECT_EQ(test, memcmp(a, want, 0x400), 0);
	a[0x200] ^= 0xff;
	KUNIT_EXPECT_EQ_MSG(test, san_found(adev, -1), 0ULL,
			    "dir %d attrs %#lx", dir, attrs);
}

/*
 * No false positive over the legal sequences of every direction, with and
 * without SKIP_CPU_SYNC, for pages and for an sg list.
 */
static void legal_sequences_report_nothing(struct kunit *test)
{
	static const enum dma_data_direction dirs[] = {
		DMA_TO_DEVICE, DMA_FROM_DEVICE, DMA_BIDIRECTIONAL,
	};
	struct altdma_dev *adev = ops_sanitized(test);
	u8 *a = ops_buf(test, 0), *b = ops_buf(test, 0);
	struct altdma_dev_stats st;
	struct scatterlist sg[2];
	unsigned int i;
	int n;

	for (i = 0; i < ARRAY_SIZE(dirs); i++) {
		san_legal_life(test, adev, a + 0x30, dirs[i], 0);
		san_legal_life(test, adev, a + 0x30, dirs[i],
			       DMA_ATTR_SKIP_CPU_SYNC);
	}
	for (i = 0; i < ARRAY_SIZE(dirs); i++) {
		san_pattern(a, 0x200);
		san_pattern(b, 0x300);
		sg_init_table(sg, 2);
		sg_set_buf(&sg[0], a, 0x200);
		sg_set_buf(&sg[1], b, 0x300);
		n = dma_map_sg(adev->dev, sg, 2, dirs[i]);
		KUNIT_ASSERT_GT(test, n, 0);
		dma_sync_sg_for_cpu(adev->dev, sg, 2, dirs[i]);
		a[1] = 0x11;
		dma_sync_sg_for_device(adev->dev, sg, 2, dirs[i]);
		dma_unmap_sg(adev->dev, sg, 2, dirs[i]);
		b[2] = 0x22;
	}
	altdma_dev_get_stats(adev, &st);
	KUNIT_EXPECT_GT(test, st.san_checks, 0ULL);
	KUNIT_EXPECT_EQ(test, st.san_found_total, 0ULL);
	ops_expect_clean(test, adev);
}

/*
 * Kind 1 in an sg list: a write into the second entry is reported at the
 * unmap with that entry's address and the bytes from its start.
 */
static void cpu_write_in_sg_entry_is_reported(struct kunit *test)
{
	struct altdma_dev *adev = ops_sanitized(test);
	u8 *a = ops_buf(test, 0), *b = ops_buf(test, 0);
	struct altdma_san_report r;
	struct scatterlist sg[2];
	int n;

	sg_init_table(sg, 2);
	sg_set_buf(&sg[0], a, 0x200);
	sg_set_buf(&sg[1], b + 0x40, 0x300);
	n = dma_map_sg(adev->dev, sg, 2, DMA_TO_DEVICE);
	KUNIT_ASSERT_EQ(test, n, 2);
	b[0x40 + 0x123] = 0xff;
	dma_unmap_sg(adev->dev, sg, 2, DMA_TO_DEVICE);
	KUNIT_EXPECT_EQ(test, san_found(adev, ALTDMA_SAN_CPU_WRITE), 1ULL);
	KUNIT_ASSERT_TRUE(test, altdma_san_last(adev->san,
						ALTDMA_SAN_CPU_WRITE, &r));
	KUNIT_EXPECT_EQ(test, r.dma, sg_dma_address(&sg[1]));
	KUNIT_EXPECT_EQ(test, r.size, (size_t)0x300);
	KUNIT_EXPECT_EQ(test, r.first, 0x123L);
	KUNIT_EXPECT_EQ(test, r.last, 0x123L);
	KUNIT_EXPECT_STREQ(test, r.what, "unmap_sg");
	ops_expect_clean(test, adev);
}

static struct kunit_case sanitize_cases[] = {
	KUNIT_CASE(sanitize_bounces_every_streaming_mapping),
	KUNIT_CASE(cpu_write_while_device_owns_is_reported),
	KUNIT_CASE(cpu_write_to_bidirectional_found_by_sync),
	KUNIT_CASE(cpu_write_in_sg_entry_is_reported),
	KUNIT_CASE(cpu_read_before_sync_reads_poison),
	KUNIT_CASE(device_write_outside_mapping_is_reported),
	KUNIT_CASE(device_write_to_device_mapping_is_reported),
	KUNIT_CASE(legal_sequences_report_nothing),
	{}
};

static struct kunit_suite sanitize_suite = {
	.name = "altdma_dma_sanitize",
	.init = ops_init,
	.exit = ops_exit,
	.test_cases = sanitize_cases,
};

kunit_test_suites(&unmap_suite, &map_suite, &bounce_suite, &inval_suite,
		  &contract_suite, &sanitize_suite);
