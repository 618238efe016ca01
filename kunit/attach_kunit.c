// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit suite altdma_viommu: attach altdma to a real virtio PCI device
 * behind the vIOMMU of the kunit.py VM (intel-iommu, virtio-iommu, or an
 * SMMUv3 on arm64), map through the DMA API, check every IOVA in the IOMMU
 * domain's own page tables with iommu_iova_to_phys(), detach and check
 * that the device's own domain and ops are back. The suites run after
 * device probe, so the device has its driver bound: attach and detach
 * release and rebind it.
 *
 * KUnit suite altdma_attach: what an attach does before it touches a
 * device, without one: the reserved regions it keeps out of an IOVA
 * space, the options it parses and their bounds.
 */

#include <kunit/test.h>
#include <linux/dma-map-ops.h>
#include <linux/dma-mapping.h>
#include <linux/iommu.h>
#include <linux/mm.h>
#include <linux/notifier.h>
#include <linux/pci.h>
#include <linux/rbtree.h>
#include <linux/scatterlist.h>
#include <linux/sizes.h>
#include <linux/slab.h>

#include "../attach.h"

#define VIRTIO_PCI_VENDOR	0x1af4

/* A modern virtio PCI device with an IOMMU group of its own, or NULL. */
static struct pci_dev *find_virtio_dev(void)
{
	struct pci_dev *pdev = NULL;
	struct iommu_group *group;

	while ((pdev = pci_get_device(VIRTIO_PCI_VENDOR, PCI_ANY_ID, pdev))) {
		if (pdev->device < 0x1040 || pdev->device == 0x1057)
			continue;	/* transitional, or the virtio-iommu */
		group = iommu_group_get(&pdev->dev);
		if (!group)
			continue;
		iommu_group_put(group);
		if (iommu_get_domain_for_dev(&pdev->dev))
			return pdev;
	}
	return NULL;
}

/**
 * struct viommu_ctx - one case's device and what it had before the attach
 * @pdev: the virtio PCI device (a reference is held)
 * @dev: its struct device
 * @orig_domain: its domain before the attach
 * @orig_ops: its dma_ops before the attach
 * @domain: altdma's domain while attached
 *
 * Context: KUnit case context.
 */
struct viommu_ctx {
	struct pci_dev *pdev;
	struct device *dev;
	struct iommu_domain *orig_domain;
	const struct dma_map_ops *orig_ops;
	struct iommu_domain *domain;
};

static int viommu_init(struct kunit *test)
{
	struct viommu_ctx *c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);

	if (!c)
		return -ENOMEM;
	c->pdev = find_virtio_dev();
	if (!c->pdev) {
		kunit_err(test, "no virtio PCI device behind the vIOMMU\n");
		return -ENODEV;
	}
	c->dev = &c->pdev->dev;
	c->orig_domain = iommu_get_domain_for_dev(c->dev);
	c->orig_ops = c->dev->dma_ops;
	test->priv = c;
	return 0;
}

/*
 * Issue 18's invariant, before every detach: maps - unmaps - mappings gone
 * to quarantine equals the live mappings listed (debugfs "mappings"). The
 * device's driver may map while we look: the counters are read again until
 * they did not move around the walk of the records.
 */
static void viommu_expect_accounted(struct kunit *test, struct device *dev)
{
	struct altdma_dev_stats a, b;
	struct altdma_dev *adev;
	unsigned long listed = 0;
	int tries;

	adev = altdma_dev_get(dev);
	if (!adev)
		return;
	for (tries = 0; tries < 20; tries++) {
		altdma_dev_get_stats(adev, &a);
		listed = altdma_dev_count_live(adev);
		altdma_dev_get_stats(adev, &b);
		if (a.maps == b.maps && a.unmaps == b.unmaps)
			break;
	}
	KUNIT_EXPECT_EQ_MSG(test, a.maps - a.unmaps - a.quarantined_live,
			    (u64)listed,
			    "maps %llu, unmaps %llu, quarantined live %llu, listed %lu",
			    a.maps, a.unmaps, a.quarantined_live, listed);
	altdma_dev_put(adev);
}

static struct notifier_block bind_nb;

static void viommu_exit(struct kunit *test)
{
	struct viommu_ctx *c = test->priv;

	/* a case that stopped early leaves no hook or notifier behind */
	WRITE_ONCE(altdma_attach_test_hook, NULL);
	bus_unregister_notifier(&pci_bus_type, &bind_nb);

	if (iommu_get_domain_for_dev(c->dev) != c->orig_domain) {
		viommu_expect_accounted(test, c->dev);
		altdma_detach_dev(c->dev);
	}
	pci_dev_put(c->pdev);
}

static void viommu_attach(struct kunit *test, struct viommu_ctx *c)
{
	struct altdma_attach_opts opts = altdma_default_opts;

	KUNIT_ASSERT_EQ(test, altdma_attach_dev(c->dev, &opts), 0);
	c->domain = iommu_get_domain_for_dev(c->dev);
	KUNIT_ASSERT_NOT_NULL(test, c->domain);
	KUNIT_EXPECT_PTR_NE(test, c->domain, c->orig_domain);
	KUNIT_EXPECT_EQ(test, c->domain->type, (unsigned int)IOMMU_DOMAIN_UNMANAGED);
	KUNIT_EXPECT_PTR_EQ(test, c->dev->dma_ops, &altdma_dma_ops);
	KUNIT_EXPECT_NOT_NULL(test, altdma_dev_find(c->dev));
}

static void viommu_detach(struct kunit *test, struct viommu_ctx *c)
{
	viommu_expect_accounted(test, c->dev);
	KUNIT_ASSERT_EQ(test, altdma_detach_dev(c->dev), 0);
	KUNIT_EXPECT_PTR_EQ(test, iommu_get_domain_for_dev(c->dev),
			    c->orig_domain);
	KUNIT_EXPECT_PTR_EQ(test, c->dev->dma_ops, c->orig_ops);
	KUNIT_EXPECT_NULL(test, altdma_dev_find(c->dev));
}

static void map_single_translates(struct kunit *test)
{
	struct viommu_ctx *c = test->priv;
	u8 *buf = kunit_kmalloc(test, 3 * PAGE_SIZE, GFP_KERNEL);
	dma_addr_t dma;
	size_t off;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	viommu_attach(test, c);
	KUNIT_EXPECT_NOT_NULL(test, c->dev->driver);
	dma = dma_map_single(c->dev, buf + 100, 2 * PAGE_SIZE, DMA_TO_DEVICE);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(c->dev, dma));
	for (off = 0; off < 2 * PAGE_SIZE; off += PAGE_SIZE / 2)
		KUNIT_EXPECT_EQ(test, iommu_iova_to_phys(c->domain, dma + off),
				virt_to_phys(buf + 100 + off));
	dma_unmap_single(c->dev, dma, 2 * PAGE_SIZE, DMA_TO_DEVICE);
	KUNIT_EXPECT_EQ(test, iommu_iova_to_phys(c->domain, dma), 0);
	KUNIT_EXPECT_EQ(test, iommu_iova_to_phys(c->domain, dma + PAGE_SIZE), 0);
	viommu_detach(test, c);
	KUNIT_EXPECT_NOT_NULL(test, c->dev->driver);
}

static void map_sg_translates(struct kunit *test)
{
	struct viommu_ctx *c = test->priv;
	struct scatterlist sgl[3], *sg;
	struct page *pages[3];
	dma_addr_t base;
	size_t off = 0;
	int i, n;

	for (i = 0; i < 3; i++) {
		pages[i] = alloc_page(GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, pages[i]);
	}
	sg_init_table(sgl, 3);
	for (i = 0; i < 3; i++)
		sg_set_page(&sgl[i], pages[i], PAGE_SIZE, 0);
	viommu_attach(test, c);
	n = dma_map_sg(c->dev, sgl, 3, DMA_BIDIRECTIONAL);
	KUNIT_ASSERT_GT(test, n, 0);
	base = sg_dma_address(sgl);
	/* one IOVA range, the entries laid out one after the other */
	for_each_sg(sgl, sg, 3, i) {
		KUNIT_EXPECT_EQ(test, iommu_iova_to_phys(c->domain, base + off),
				sg_phys(sg));
		off += sg->length;
	}
	dma_unmap_sg(c->dev, sgl, 3, DMA_BIDIRECTIONAL);
	KUNIT_EXPECT_EQ(test, iommu_iova_to_phys(c->domain, base), 0);
	viommu_detach(test, c);
	for (i = 0; i < 3; i++)
		__free_page(pages[i]);
}

static void alloc_coherent_translates(struct kunit *test)
{
	struct viommu_ctx *c = test->priv;
	dma_addr_t dma;
	void *cpu;

	viommu_attach(test, c);
	cpu = dma_alloc_coherent(c->dev, 2 * PAGE_SIZE, &dma, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, cpu);
	KUNIT_EXPECT_EQ(test, iommu_iova_to_phys(c->domain, dma),
			virt_to_phys(cpu));
	KUNIT_EXPECT_EQ(test, iommu_iova_to_phys(c->domain, dma + PAGE_SIZE),
			virt_to_phys(cpu + PAGE_SIZE));
	dma_free_coherent(c->dev, 2 * PAGE_SIZE, cpu, dma);
	KUNIT_EXPECT_EQ(test, iommu_iova_to_phys(c->domain, dma), 0);
	viommu_detach(test, c);
}

static void bad_requests_change_nothing(struct kunit *test)
{
	struct altdma_attach_opts opts = altdma_default_opts;
	struct viommu_ctx *c = test->priv;
	struct device *root;

	/* not attached: detach refused, device untouched */
	KUNIT_EXPECT_EQ(test, altdma_detach_dev(c->dev), -ENODEV);
	KUNIT_EXPECT_PTR_EQ(test, iommu_get_domain_for_dev(c->dev),
			    c->orig_domain);
	/* no such device */
	KUNIT_EXPECT_EQ(test, altdma_attach_by_name("0000:7f:1f.7", &opts),
			-ENODEV);
	/* a device with no IOMMU group */
	root = root_device_register("altdma_viommu_nogroup");
	KUNIT_ASSERT_FALSE(test, IS_ERR(root));
	KUNIT_EXPECT_EQ(test, altdma_attach_dev(root, &opts), -ENODEV);
	KUNIT_EXPECT_NULL(test, root->dma_ops);
	root_device_unregister(root);
	/* already attached: refused, same domain and ops */
	viommu_attach(test, c);
	KUNIT_EXPECT_EQ(test, altdma_attach_dev(c->dev, &opts), -EBUSY);
	KUNIT_EXPECT_PTR_EQ(test, iommu_get_domain_for_dev(c->dev), c->domain);
	KUNIT_EXPECT_PTR_EQ(test, c->dev->dma_ops, &altdma_dma_ops);
	/* bad options */
	KUNIT_EXPECT_EQ(test, altdma_attach_parse_opts((char[]){ "bounce=maybe" },
						       &opts), -EINVAL);
	viommu_detach(test, c);
	KUNIT_EXPECT_EQ(test, altdma_detach_dev(c->dev), -ENODEV);
}

/*
 * Whether [@lo, @hi] (pages) lies inside one reserved range of @iovad: the
 * tree walked under the domain lock.
 */
static bool iova_reserved(struct altdma_iova_domain *iovad, unsigned long lo,
			  unsigned long hi)
{
	struct altdma_iova_range *r;
	unsigned long flags;
	struct rb_node *n;
	bool found = false;

	spin_lock_irqsave(&iovad->lock, flags);
	for (n = rb_first(&iovad->tree); n && !found; n = rb_next(n)) {
		r = rb_entry(n, struct altdma_iova_range, rb);
		found = r->state == ALTDMA_IOVA_RESERVED && r->pfn_lo <= lo &&
			r->pfn_hi >= hi;
	}
	spin_unlock_irqrestore(&iovad->lock, flags);
	return found;
}

/**
 * struct window_check - what pci_windows_are_reserved() walks with
 * @test: the case
 * @iovad: the attached device's IOVA domain
 * @inside: windows that overlap the IOVA space
 * @listed: of the ranges altdma_walk_reserved() lists (debugfs "iova"),
 *	the PCI windows
 *
 * Context: KUnit case context.
 */
struct window_check {
	struct kunit *test;
	struct altdma_iova_domain *iovad;
	unsigned int inside;
	unsigned int listed;
};

static int check_window(void *arg, u64 first, u64 last, const char *what)
{
	struct window_check *wc = arg;
	struct altdma_iova_domain *iovad = wc->iovad;
	unsigned long lo = first >> iovad->shift, hi = last >> iovad->shift;

	bool reserved;

	if (hi < iovad->start_pfn || lo > iovad->end_pfn)
		return 0;
	wc->inside++;
	lo = max(lo, iovad->start_pfn);
	hi = min(hi, iovad->end_pfn);
	reserved = iova_reserved(iovad, lo, hi);
	KUNIT_EXPECT_TRUE_MSG(wc->test, reserved,
			      "%s 0x%llx-0x%llx is not reserved in the IOVA space",
			      what, first, last);
	return 0;
}

static int count_window(void *arg, u64 first, u64 last, const char *what)
{
	struct window_check *wc = arg;

	wc->listed += !strcmp(what, "pci-window");
	return 0;
}

/*
 * Issue 14 item 4: the memory windows of the device's host bridge are
 * reserved in its IOVA space, as dma-iommu does (a DMA address there would
 * reach a peer's BAR, not the IOMMU), and listed with the reserved ranges.
 */
static void pci_windows_are_reserved(struct kunit *test)
{
	struct viommu_ctx *c = test->priv;
	struct window_check wc = { .test = test };
	struct altdma_dev *adev;

	viommu_attach(test, c);
	adev = altdma_dev_get(c->dev);
	KUNIT_ASSERT_NOT_NULL(test, adev);
	wc.iovad = &adev->iovad;
	KUNIT_EXPECT_EQ(test, altdma_walk_pci_windows(c->dev, check_window, &wc),
			0);
	/* q35's 32-bit PCI hole lies inside every vIOMMU's aperture */
	KUNIT_EXPECT_GE(test, wc.inside, 1U);
	KUNIT_EXPECT_EQ(test, altdma_walk_reserved(c->dev, count_window, &wc), 0);
	KUNIT_EXPECT_GE(test, wc.listed, 1U);
	altdma_dev_put(adev);
	viommu_detach(test, c);
}

/*
 * Issue 14 item 12: a bounce pool of bounce_pages granules whose size in
 * bytes wraps (2^52 + 1024 pages of 4 KiB is 4 MiB modulo 2^64) or passes
 * the bound is refused at attach, and nothing changed.
 */
static void oversized_bounce_pool_is_refused(struct kunit *test)
{
	struct altdma_attach_opts opts = altdma_default_opts;
	struct viommu_ctx *c = test->priv;

	opts.bounce = ALTDMA_BOUNCE_FORCE;
	opts.bounce_pages = (1UL << 52) + 1024;
	KUNIT_EXPECT_EQ(test, altdma_attach_dev(c->dev, &opts), -EINVAL);
	KUNIT_EXPECT_PTR_EQ(test, iommu_get_domain_for_dev(c->dev),
			    c->orig_domain);
	KUNIT_EXPECT_PTR_EQ(test, c->dev->dma_ops, c->orig_ops);
	KUNIT_EXPECT_NULL(test, altdma_dev_find(c->dev));
	KUNIT_EXPECT_NOT_NULL(test, c->dev->driver);
	opts.bounce_pages = altdma_bounce_max_size() / PAGE_SIZE + 1;
	KUNIT_EXPECT_EQ(test, altdma_attach_dev(c->dev, &opts), -EINVAL);
	KUNIT_EXPECT_PTR_EQ(test, iommu_get_domain_for_dev(c->dev),
			    c->orig_domain);
	KUNIT_EXPECT_NOT_NULL(test, c->dev->driver);
}

/*
 * The lifecycle cases (issue 15) watch attach and teardown through
 * altdma_attach_test_hook, called at each step with the device. The hook
 * runs in the case's own thread (attach, detach and the notifier calls are
 * made from it).
 */
static struct kunit *step_test;
static struct viommu_ctx *step_ctx;
static unsigned int step_seen;		/* bit per enum altdma_attach_step */
static unsigned int step_bad;		/* inconsistent states seen */
static unsigned int step_binds;		/* binds the hook did in the window */
static unsigned long step_notify;	/* bus event the hook sends, or 0 */
static void *step_buf;			/* mapped in the teardown window */

/*
 * A device is on one layer at a time: the original ops only on the
 * original domain with no context; a registered context only under
 * altdma's ops on altdma's domain; once the context is freed (the bounce
 * pool with it) the device no longer reaches altdma's domain.
 */
static void step_check(struct device *dev, enum altdma_attach_step step)
{
	struct viommu_ctx *c = step_ctx;
	struct iommu_domain *dom = iommu_get_domain_for_dev(dev);
	bool ours = dev->dma_ops == &altdma_dma_ops;
	bool ctx = altdma_dev_find(dev);

	step_seen |= BIT(step);
	if (!ours && (dom != c->orig_domain || ctx)) {
		step_bad++;
		kunit_err(step_test, "step %d: original ops on %s domain%s\n",
			  step, dom == c->orig_domain ? "the original" : "altdma's",
			  ctx ? " with a registered context" : "");
	}
	if (ctx && (!ours || dom == c->orig_domain)) {
		step_bad++;
		kunit_err(step_test, "step %d: registered context with %s ops on the %s domain\n",
			  step, ours ? "altdma's" : "the original",
			  dom == c->orig_domain ? "original" : "altdma");
	}
	if (step == ALTDMA_STEP_DESTROYED && dom != c->orig_domain) {
		step_bad++;
		kunit_err(step_test, "step %d: context and bounce pool freed while the device is still on altdma's domain\n",
			  step);
	}
}

/*
 * A late DMA call in the teardown window (the context is gone, the device
 * still on altdma's domain) maps nothing: no layer but altdma's may map
 * for the device then, and altdma's has no context.
 */
static void step_late_map(struct device *dev, enum altdma_attach_step step)
{
	dma_addr_t dma;

	step_check(dev, step);
	if (step != ALTDMA_STEP_UNREGISTERED)
		return;
	dma = dma_map_single(dev, step_buf, 64, DMA_TO_DEVICE);
	if (dma_mapping_error(dev, dma))
		return;
	step_bad++;
	kunit_err(step_test, "a map in the teardown window succeeded through %s ops\n",
		  dev->dma_ops == &altdma_dma_ops ? "altdma's" : "the original");
	dma_unmap_single(dev, dma, 64, DMA_TO_DEVICE);
}

/* A driver binds in the attach window, once: a sysfs bind racing it. */
static void step_bind_once(struct device *dev, enum altdma_attach_step step)
{
	step_check(dev, step);
	if (step == ALTDMA_STEP_UNBOUND && !step_binds) {
		step_binds++;
		KUNIT_EXPECT_EQ(step_test, device_attach(dev), 1);
	}
}

/* The device goes (bus notifications) in the attach window, once. */
static void step_remove_once(struct device *dev, enum altdma_attach_step step)
{
	step_check(dev, step);
	if (step == ALTDMA_STEP_UNBOUND && step_notify) {
		altdma_attach_test_notify(dev, BUS_NOTIFY_DEL_DEVICE);
		altdma_attach_test_notify(dev, BUS_NOTIFY_REMOVED_DEVICE);
		step_notify = 0;
	}
}

static void step_start(struct kunit *test,
		       void (*hook)(struct device *dev,
				    enum altdma_attach_step step))
{
	step_test = test;
	step_ctx = test->priv;
	step_seen = 0;
	step_bad = 0;
	step_binds = 0;
	WRITE_ONCE(altdma_attach_test_hook, hook);
}

static void step_stop(void)
{
	WRITE_ONCE(altdma_attach_test_hook, NULL);
}

/*
 * Every bind of the device, with the layer it saw: a driver must never
 * bind on one layer and then run on another.
 */
static struct device *bind_dev;
static unsigned int bind_count;
static bool bind_last_altdma;
static bool bind_last_consistent;

static int bind_event(struct notifier_block *nb, unsigned long action,
		      void *data)
{
	struct device *dev = data;
	struct iommu_domain *dom;
	bool ours;

	if (dev != bind_dev || action != BUS_NOTIFY_BOUND_DRIVER)
		return NOTIFY_DONE;
	dom = iommu_get_domain_for_dev(dev);
	ours = dev->dma_ops == &altdma_dma_ops;
	bind_count++;
	bind_last_altdma = ours;
	bind_last_consistent = ours ? dom != step_ctx->orig_domain && altdma_dev_find(dev)
				    : dom == step_ctx->orig_domain;
	return NOTIFY_OK;
}

static struct notifier_block bind_nb = {
	.notifier_call = bind_event,
};

/* Issue 15 defect 4, issue 14 item 10: detach in an order never mixed. */
static void teardown_never_mixes_layers(struct kunit *test)
{
	struct altdma_attach_opts opts = altdma_default_opts;
	struct viommu_ctx *c = test->priv;
	u8 *buf = kunit_kmalloc(test, PAGE_SIZE, GFP_KERNEL);
	dma_addr_t dma;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	opts.bounce = ALTDMA_BOUNCE_FORCE;	/* a bounce pool to free */
	step_buf = buf;
	step_start(test, step_late_map);
	KUNIT_ASSERT_EQ(test, altdma_attach_dev(c->dev, &opts), 0);
	c->domain = iommu_get_domain_for_dev(c->dev);
	dma = dma_map_single(c->dev, buf + 64, 512, DMA_TO_DEVICE);
	KUNIT_EXPECT_FALSE(test, dma_mapping_error(c->dev, dma));
	if (!dma_mapping_error(c->dev, dma))
		dma_unmap_single(c->dev, dma, 512, DMA_TO_DEVICE);
	viommu_detach(test, c);
	step_stop();
	KUNIT_EXPECT_EQ(test, step_seen,
			BIT(ALTDMA_STEP_UNBOUND) | BIT(ALTDMA_STEP_DOMAIN_ATTACHED) |
			BIT(ALTDMA_STEP_UNREGISTERED) | BIT(ALTDMA_STEP_DOMAIN_BACK) |
			BIT(ALTDMA_STEP_DESTROYED));
	KUNIT_EXPECT_EQ(test, step_bad, 0U);
	KUNIT_EXPECT_NOT_NULL(test, c->dev->driver);
}

/* Issue 15 defect 3: a bind inside the attach window. */
static void bind_in_attach_window(struct kunit *test)
{
	struct viommu_ctx *c = test->priv;

	bind_dev = c->dev;
	bind_count = 0;
	KUNIT_ASSERT_EQ(test, bus_register_notifier(&pci_bus_type, &bind_nb), 0);
	step_start(test, step_bind_once);
	viommu_attach(test, c);
	step_stop();
	KUNIT_EXPECT_EQ(test, step_binds, 1U);
	KUNIT_EXPECT_EQ(test, step_bad, 0U);
	/* the racing bind, then the attach's own on altdma */
	KUNIT_EXPECT_EQ(test, bind_count, 2U);
	KUNIT_EXPECT_TRUE(test, bind_last_altdma);
	KUNIT_EXPECT_TRUE(test, bind_last_consistent);
	KUNIT_EXPECT_NOT_NULL(test, c->dev->driver);
	viommu_detach(test, c);
	KUNIT_EXPECT_FALSE(test, bind_last_altdma);
	KUNIT_EXPECT_TRUE(test, bind_last_consistent);
	bus_unregister_notifier(&pci_bus_type, &bind_nb);
}

/* Issue 15 defect 6: the device goes during an attach. */
static void removal_during_attach(struct kunit *test)
{
	struct altdma_attach_opts opts = altdma_default_opts;
	struct viommu_ctx *c = test->priv;

	step_notify = BUS_NOTIFY_DEL_DEVICE;
	step_start(test, step_remove_once);
	KUNIT_EXPECT_EQ(test, altdma_attach_dev(c->dev, &opts), -ENODEV);
	step_stop();
	KUNIT_EXPECT_EQ(test, step_notify, 0UL);
	KUNIT_EXPECT_EQ(test, step_bad, 0U);
	/* nothing left behind: not attached, its own domain and ops */
	KUNIT_EXPECT_PTR_EQ(test, iommu_get_domain_for_dev(c->dev),
			    c->orig_domain);
	KUNIT_EXPECT_PTR_EQ(test, c->dev->dma_ops, c->orig_ops);
	KUNIT_EXPECT_NULL(test, altdma_dev_find(c->dev));
	KUNIT_EXPECT_EQ(test, altdma_detach_dev(c->dev), -ENODEV);
	/* the removal was only notified: the driver comes back */
	KUNIT_EXPECT_NOT_NULL(test, c->dev->driver);
}

/*
 * Issue 15 defects 1 and 2: on a removal the device is detached in the
 * notifier, at BUS_NOTIFY_DEL_DEVICE (the PCI core has released the driver
 * before), so that the IOMMU core's release at BUS_NOTIFY_REMOVED_DEVICE
 * finds the group on its default domain.
 */
static void removal_detaches_at_once(struct kunit *test)
{
	struct viommu_ctx *c = test->priv;
	const struct dma_map_ops *unbound_ops;

	/* the ops of the device with no driver (arm64 clears them) */
	device_release_driver(c->dev);
	unbound_ops = c->dev->dma_ops;
	KUNIT_ASSERT_EQ(test, device_attach(c->dev), 1);
	viommu_attach(test, c);
	device_release_driver(c->dev);
	step_start(test, step_check);
	KUNIT_EXPECT_EQ(test, altdma_attach_test_notify(c->dev,
							BUS_NOTIFY_DEL_DEVICE),
			NOTIFY_OK);
	step_stop();
	KUNIT_EXPECT_EQ(test, step_bad, 0U);
	KUNIT_EXPECT_PTR_EQ(test, iommu_get_domain_for_dev(c->dev),
			    c->orig_domain);
	KUNIT_EXPECT_PTR_EQ(test, c->dev->dma_ops, unbound_ops);
	KUNIT_EXPECT_NULL(test, altdma_dev_find(c->dev));
	KUNIT_EXPECT_EQ(test, altdma_attach_test_notify(c->dev,
							BUS_NOTIFY_REMOVED_DEVICE),
			NOTIFY_DONE);
	KUNIT_EXPECT_EQ(test, altdma_detach_dev(c->dev), -ENODEV);
	KUNIT_EXPECT_EQ(test, device_attach(c->dev), 1);
}

static struct kunit_case viommu_cases[] = {
	KUNIT_CASE(map_single_translates),
	KUNIT_CASE(map_sg_translates),
	KUNIT_CASE(alloc_coherent_translates),
	KUNIT_CASE(bad_requests_change_nothing),
	KUNIT_CASE(pci_windows_are_reserved),
	KUNIT_CASE(oversized_bounce_pool_is_refused),
	KUNIT_CASE(teardown_never_mixes_layers),
	KUNIT_CASE(bind_in_attach_window),
	KUNIT_CASE(removal_during_attach),
	KUNIT_CASE(removal_detaches_at_once),
	{}
};

static struct kunit_suite viommu_suite = {
	.name = "altdma_viommu",
	.init = viommu_init,
	.exit = viommu_exit,
	.test_cases = viommu_cases,
};

/* ---- altdma_attach ---- */

static void attach_iova_init(struct kunit *test,
			     struct altdma_iova_domain *iovad)
{
	struct altdma_iova_config cfg = {
		.name = "altdma-kunit-attach",
		.granule = SZ_4K,
		.end = SZ_4G - 1,
	};

	KUNIT_ASSERT_EQ(test, altdma_iova_domain_init(iovad, &cfg), 0);
}

static void add_region(struct kunit *test, struct list_head *regions,
		       phys_addr_t start, size_t length,
		       enum iommu_resv_type type)
{
	struct iommu_resv_region *r = kunit_kzalloc(test, sizeof(*r),
						    GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, r);
	r->start = start;
	r->length = length;
	r->type = type;
	list_add_tail(&r->list, regions);
}

/*
 * Issue 14 item 13: a reserved region of length zero is skipped, and the
 * regions after it (here the MSI window) are still reserved.
 */
static void zero_length_region_is_skipped(struct kunit *test)
{
	struct altdma_iova_domain *iovad;
	struct altdma_iova_space sp;
	unsigned long pfn, *pfns;
	LIST_HEAD(regions);
	unsigned int n = 0;

	iovad = kunit_kzalloc(test, sizeof(*iovad), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, iovad);
	attach_iova_init(test, iovad);
	add_region(test, &regions, 0x100000, 4 * SZ_4K, IOMMU_RESV_RESERVED);
	add_region(test, &regions, 0x200000, 0, IOMMU_RESV_DIRECT);
	add_region(test, &regions, 0xfee00000, SZ_1M, IOMMU_RESV_MSI);
	/* and one wholly outside the space: nothing to reserve */
	add_region(test, &regions, SZ_4G, SZ_1M, IOMMU_RESV_RESERVED);
	KUNIT_EXPECT_EQ(test, altdma_walk_resv_regions(&regions,
						       altdma_reserve_one,
						       iovad), 0);
	altdma_iova_get_space(iovad, &sp);
	KUNIT_EXPECT_EQ(test, sp.ranges[ALTDMA_IOVA_RESERVED], 2UL);
	KUNIT_EXPECT_EQ(test, sp.range_pages[ALTDMA_IOVA_RESERVED],
			4UL + SZ_1M / SZ_4K);
	/* the MSI window is never handed out: fill the space, 1 MiB a time */
	pfns = kunit_kcalloc(test, SZ_4K, sizeof(*pfns), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pfns);
	while (n < SZ_4K && (pfn = altdma_iova_alloc(iovad, 256, iovad->end_pfn,
						     GFP_KERNEL))) {
		pfns[n++] = pfn;
		KUNIT_EXPECT_FALSE_MSG(test, pfn + 255 >= 0xfee00 && pfn <= 0xfeeff,
				       "pages 0x%lx+256 overlap the MSI window",
				       pfn);
	}
	KUNIT_EXPECT_GT(test, n, 4000U);
	KUNIT_EXPECT_EQ(test, altdma_iova_check(iovad), 0);
	while (n)
		KUNIT_EXPECT_EQ(test, altdma_iova_free(iovad, pfns[--n], 256), 0);
	altdma_iova_domain_destroy(iovad);
}

/*
 * Issue 14 item 12: bounce_pages is bounded (a pool is at most 256 MiB);
 * a larger or overflowing count is refused and leaves the options as
 * they were.
 */
static void bounce_pages_option_is_bounded(struct kunit *test)
{
	struct altdma_attach_opts opts = { .bounce_pages = 7 };
	char buf[64];

	snprintf(buf, sizeof(buf), "bounce_pages=%lu",
		 ALTDMA_BOUNCE_MAX_SIZE / PAGE_SIZE + 1);
	KUNIT_EXPECT_EQ(test, altdma_attach_parse_opts(buf, &opts), -EINVAL);
	KUNIT_EXPECT_EQ(test, opts.bounce_pages, 7UL);
	snprintf(buf, sizeof(buf), "bounce_pages=%lu", ULONG_MAX);
	KUNIT_EXPECT_EQ(test, altdma_attach_parse_opts(buf, &opts), -EINVAL);
	KUNIT_EXPECT_EQ(test, opts.bounce_pages, 7UL);
	snprintf(buf, sizeof(buf), "bounce_pages=%lu",
		 ALTDMA_BOUNCE_MAX_SIZE / PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, altdma_attach_parse_opts(buf, &opts), 0);
	KUNIT_EXPECT_EQ(test, opts.bounce_pages,
			ALTDMA_BOUNCE_MAX_SIZE / PAGE_SIZE);
	snprintf(buf, sizeof(buf), "bounce_pages=12");
	KUNIT_EXPECT_EQ(test, altdma_attach_parse_opts(buf, &opts), 0);
	KUNIT_EXPECT_EQ(test, opts.bounce_pages, 12UL);
}

/*
 * Issue 14 item 12: a pool above the bound is refused before anything is
 * allocated.
 */
static void bounce_pool_size_is_bounded(struct kunit *test)
{
	struct altdma_bounce_pool *pool;
	size_t max = altdma_bounce_max_size();

	KUNIT_EXPECT_LE(test, max, (size_t)ALTDMA_BOUNCE_MAX_SIZE);
	KUNIT_EXPECT_LE(test, max, (size_t)totalram_pages() << PAGE_SHIFT >> 2);
	pool = altdma_bounce_pool_create("altdma-kunit-big", max + PAGE_SIZE,
					 PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, PTR_ERR_OR_ZERO(pool), -EINVAL);
	if (!IS_ERR(pool))
		altdma_bounce_pool_destroy(pool);
}

static struct kunit_case attach_cases[] = {
	KUNIT_CASE(zero_length_region_is_skipped),
	KUNIT_CASE(bounce_pages_option_is_bounded),
	KUNIT_CASE(bounce_pool_size_is_bounded),
	{}
};

static struct kunit_suite attach_suite = {
	.name = "altdma_attach",
	.test_cases = attach_cases,
};

kunit_test_suites(&viommu_suite, &attach_suite);
