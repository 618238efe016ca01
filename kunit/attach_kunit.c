// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit suite altdma_viommu: attach altdma to a real virtio PCI device
 * behind the vIOMMU of the kunit.py VM (intel-iommu or virtio-iommu), map
 * through the DMA API, check every IOVA in the IOMMU domain's own page
 * tables with iommu_iova_to_phys(), detach and check that the device's
 * own domain and ops are back. The suites run after device probe, so the
 * device has its driver bound: attach and detach release and rebind it.
 */

#include <kunit/test.h>
#include <linux/dma-map-ops.h>
#include <linux/dma-mapping.h>
#include <linux/iommu.h>
#include <linux/mm.h>
#include <linux/pci.h>
#include <linux/scatterlist.h>
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

static void viommu_exit(struct kunit *test)
{
	struct viommu_ctx *c = test->priv;

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

static struct kunit_case viommu_cases[] = {
	KUNIT_CASE(map_single_translates),
	KUNIT_CASE(map_sg_translates),
	KUNIT_CASE(alloc_coherent_translates),
	KUNIT_CASE(bad_requests_change_nothing),
	{}
};

static struct kunit_suite viommu_suite = {
	.name = "altdma_viommu",
	.init = viommu_init,
	.exit = viommu_exit,
	.test_cases = viommu_cases,
};

kunit_test_suites(&viommu_suite);
