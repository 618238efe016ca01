// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit suite altdma_viommu_inval: what a real device reaches after an
 * unmap, through the vIOMMU of the kunit.py VM (intel-iommu, virtio-iommu
 * or amd-iommu) and the translations it caches. The other suites read the
 * IOMMU's page tables; here the device itself writes.
 *
 * The device is QEMU's "edu" PCI device (scripts/kunit.sh adds one to every
 * profile), which has no Linux driver: the cases drive its DMA engine. With
 * no driver it is behind intel-iommu and amd-iommu, not behind virtio-iommu
 * (which sets up a device when a driver binds): skipped there. edu
 * copies between a 4 KiB buffer of its own and a DMA address, one transfer
 * per command, and clears the command's run bit when it is done (100 ms of
 * the VM's clock later).
 *
 * Each case has the device write a page through an IOVA (the vIOMMU now
 * holds that translation), unmaps the IOVA and has the device write to it
 * again: once a strict unmap has returned, and once a deferred unmap's
 * flush has happened, the page must stay as the CPU left it. intel-iommu
 * and amd-iommu keep the translations a device used in an IOTLB of their
 * own until the driver invalidates them; virtio-iommu holds its unmap
 * requests until the sync (pt_backend_iommu.c): a missing invalidation
 * lets the write through.
 */

#include <kunit/test.h>
#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/io.h>
#include <linux/iommu.h>
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/pci.h>

#include "../altdma_dev.h"
#include "../altdma_fq.h"
#include "../attach.h"
#include "../iova_alloc.h"

#define EDU_VENDOR		0x1234
#define EDU_DEVICE		0x11e8
#define EDU_REG_ID		0x00
#define EDU_ID			0x010000ed	/* version 1.0, "ed" */
#define EDU_REG_DMA_SRC		0x80
#define EDU_REG_DMA_DST		0x88
#define EDU_REG_DMA_CNT		0x90
#define EDU_REG_DMA_CMD		0x98
#define EDU_CMD_RUN		BIT(0)
#define EDU_CMD_TO_RAM		BIT(1)	/* edu's buffer to the DMA address */
#define EDU_BUF			0x40000	/* edu's buffer, in its own space */
/*
 * Bytes per transfer: less than the 4 KiB buffer, since QEMU 7.2's range
 * check stops the VM on a transfer that ends at the buffer's last byte.
 */
#define EDU_XFER		2048

/* The bound on a transfer's wait, far above what a loaded host needs */
#define EDU_DMA_WAIT_MS		60000

/**
 * struct inval_ctx - one case's edu device and its pages
 * @pdev: the edu device, or NULL when the VM has none
 * @dev: its struct device
 * @regs: its register BAR
 * @orig_domain: its IOMMU domain before the case
 * @src: a page of pattern bytes, which the device reads into its buffer
 * @dst: the page the device writes to through the IOVA under test
 *
 * Context: KUnit case context.
 */
struct inval_ctx {
	struct pci_dev *pdev;
	struct device *dev;
	void __iomem *regs;
	struct iommu_domain *orig_domain;
	u8 *src;
	u8 *dst;
};

static int inval_init(struct kunit *test)
{
	struct inval_ctx *c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);

	if (!c)
		return -ENOMEM;
	test->priv = c;
	c->src = kunit_kmalloc(test, PAGE_SIZE, GFP_KERNEL);
	c->dst = kunit_kmalloc(test, PAGE_SIZE, GFP_KERNEL);
	if (!c->src || !c->dst)
		return -ENOMEM;
	c->pdev = pci_get_device(EDU_VENDOR, EDU_DEVICE, NULL);
	if (!c->pdev)
		return 0;
	c->dev = &c->pdev->dev;
	c->orig_domain = iommu_get_domain_for_dev(c->dev);
	if (pci_enable_device_mem(c->pdev))
		return -EIO;
	pci_set_master(c->pdev);
	c->regs = pci_iomap(c->pdev, 0, 0);
	if (!c->regs) {
		pci_disable_device(c->pdev);
		return -EIO;
	}
	return 0;
}

static void inval_exit(struct kunit *test)
{
	struct inval_ctx *c = test->priv;

	if (!c || !c->pdev)
		return;
	if (iommu_get_domain_for_dev(c->dev) != c->orig_domain)
		altdma_detach_dev(c->dev);
	if (c->regs) {
		pci_iounmap(c->pdev, c->regs);
		pci_clear_master(c->pdev);
		pci_disable_device(c->pdev);
	}
	pci_dev_put(c->pdev);
}

/*
 * One edu transfer of EDU_XFER bytes between its buffer and @dma, and
 * the wait for its end (the run bit cleared), polled; a transfer that did
 * not end is a failure that says how long it was waited for.
 */
static int edu_dma(struct kunit *test, struct inval_ctx *c, bool to_ram,
		   dma_addr_t dma)
{
	unsigned long start = jiffies;
	unsigned int polls = 0;

	writeq(to_ram ? EDU_BUF : dma, c->regs + EDU_REG_DMA_SRC);
	writeq(to_ram ? dma : EDU_BUF, c->regs + EDU_REG_DMA_DST);
	writeq(EDU_XFER, c->regs + EDU_REG_DMA_CNT);
	writeq(EDU_CMD_RUN | (to_ram ? EDU_CMD_TO_RAM : 0),
	       c->regs + EDU_REG_DMA_CMD);
	while (readq(c->regs + EDU_REG_DMA_CMD) & EDU_CMD_RUN) {
		if (time_after(jiffies, start + msecs_to_jiffies(EDU_DMA_WAIT_MS))) {
			kunit_err(test, "edu transfer %s still running after %u ms (%u polls)\n",
				  to_ram ? "to memory" : "from memory",
				  jiffies_to_msecs(jiffies - start), polls);
			return -ETIMEDOUT;
		}
		usleep_range(2000, 4000);
		polls++;
	}
	return 0;
}

/* Bytes of the first EDU_XFER of @p that are not @v. */
static unsigned int bytes_not(const u8 *p, u8 v)
{
	unsigned int i, n = 0;

	for (i = 0; i < EDU_XFER; i++)
		n += p[i] != v;
	return n;
}

/*
 * Attach the edu device with @inval (no bounce: the device reaches the
 * page itself), load edu's buffer with the pattern byte 0xa5 from the
 * source page, map the destination page and have the device write the
 * pattern into it. Returns the IOVA, mapped, with its translation used by
 * the device.
 */
static dma_addr_t inval_setup(struct kunit *test, struct inval_ctx *c,
			      enum altdma_inval_mode inval)
{
	struct altdma_attach_opts opts = altdma_default_opts;
	dma_addr_t s, x;

	if (!c->pdev)
		kunit_skip(test, "no edu device (QEMU -device edu) in this VM");
	/*
	 * virtio-iommu (ACPI VIOT) puts a device behind it when a driver
	 * binds, and edu has no driver
	 */
	if (!c->orig_domain)
		kunit_skip(test, "edu is behind no IOMMU (%s)",
			   "virtio-iommu sets a device up when a driver binds");
	KUNIT_ASSERT_EQ(test, readl(c->regs + EDU_REG_ID), EDU_ID);
	opts.bounce = ALTDMA_BOUNCE_OFF;
	opts.inval = inval;
	KUNIT_ASSERT_EQ(test, altdma_attach_dev(c->dev, &opts), 0);
	KUNIT_ASSERT_PTR_EQ(test, c->dev->dma_ops, &altdma_dma_ops);

	memset(c->src, 0xa5, PAGE_SIZE);
	s = dma_map_single(c->dev, c->src, PAGE_SIZE, DMA_TO_DEVICE);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(c->dev, s));
	KUNIT_ASSERT_EQ(test, edu_dma(test, c, false, s), 0);
	dma_unmap_single(c->dev, s, PAGE_SIZE, DMA_TO_DEVICE);

	memset(c->dst, 0x5a, PAGE_SIZE);
	x = dma_map_single(c->dev, c->dst, PAGE_SIZE, DMA_BIDIRECTIONAL);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(c->dev, x));
	KUNIT_ASSERT_EQ(test, edu_dma(test, c, true, x), 0);
	dma_sync_single_for_cpu(c->dev, x, PAGE_SIZE, DMA_BIDIRECTIONAL);
	/* the device reached the page through its mapping */
	KUNIT_ASSERT_EQ_MSG(test, bytes_not(c->dst, 0xa5), 0U,
			    "the device's write through a live mapping did not arrive");
	memset(c->dst, 0x5a, PAGE_SIZE);
	return x;
}

/*
 * After a strict unmap returns, the device no longer reaches the page: the
 * IOMMU's cached translation went with the unmap.
 */
static void strict_unmap_is_unreachable(struct kunit *test)
{
	struct inval_ctx *c = test->priv;
	struct iommu_domain *dom;
	struct altdma_dev_stats st;
	struct altdma_dev *adev;
	dma_addr_t x;

	x = inval_setup(test, c, ALTDMA_INVAL_STRICT);
	dom = iommu_get_domain_for_dev(c->dev);
	dma_unmap_single(c->dev, x, PAGE_SIZE, DMA_BIDIRECTIONAL);
	KUNIT_EXPECT_EQ(test, iommu_iova_to_phys(dom, x), 0);
	KUNIT_ASSERT_EQ(test, edu_dma(test, c, true, x), 0);
	KUNIT_EXPECT_EQ_MSG(test, bytes_not(c->dst, 0x5a), 0U,
			    "the device wrote the page through an IOVA whose strict unmap had returned");
	adev = altdma_dev_get(c->dev);
	KUNIT_ASSERT_NOT_NULL(test, adev);
	altdma_dev_get_stats(adev, &st);
	altdma_dev_put(adev);
	KUNIT_EXPECT_EQ(test, st.iotlb_syncs, 2ULL);
	KUNIT_EXPECT_EQ(test, st.deferred, 0ULL);
	KUNIT_EXPECT_EQ(test, altdma_detach_dev(c->dev), 0);
}

/*
 * A deferred unmap leaves the IOMMU's cached translation until the flush of
 * the queue (the flush timer, ALTDMA_FQ_TIMEOUT_MS later); once it has run,
 * the device no longer reaches the page.
 */
static void deferred_unmap_is_unreachable_after_flush(struct kunit *test)
{
	struct inval_ctx *c = test->priv;
	struct altdma_iova_stats is;
	struct altdma_dev_stats st;
	struct altdma_dev *adev;
	dma_addr_t x;
	unsigned int i;

	x = inval_setup(test, c, ALTDMA_INVAL_DEFERRED);
	adev = altdma_dev_get(c->dev);
	KUNIT_ASSERT_NOT_NULL(test, adev);
	dma_unmap_single(c->dev, x, PAGE_SIZE, DMA_BIDIRECTIONAL);

	/*
	 * The flush timer's event: every IOVA given back (only a flush of
	 * the IOTLB frees a queued one), up to 30 s
	 */
	for (i = 0; i < 3000; i++) {
		altdma_iova_get_stats(&adev->iovad, &is);
		if (!is.live_ranges)
			break;
		msleep(ALTDMA_FQ_TIMEOUT_MS);
	}
	altdma_dev_get_stats(adev, &st);
	KUNIT_ASSERT_EQ_MSG(test, is.live_ranges, 0ULL,
			    "IOVA ranges still queued after %u waits of %u ms",
			    i, ALTDMA_FQ_TIMEOUT_MS);
	KUNIT_EXPECT_GE(test, st.flush_alls, 1ULL);
	KUNIT_EXPECT_EQ(test, edu_dma(test, c, true, x), 0);
	KUNIT_EXPECT_EQ_MSG(test, bytes_not(c->dst, 0x5a), 0U,
			    "the device wrote the page through an IOVA whose deferred unmap was flushed");
	KUNIT_EXPECT_EQ(test, st.iotlb_syncs, 0ULL);
	KUNIT_EXPECT_EQ(test, st.deferred, 2ULL);
	altdma_dev_put(adev);
	KUNIT_EXPECT_EQ(test, altdma_detach_dev(c->dev), 0);
}

static struct kunit_case inval_cases[] = {
	KUNIT_CASE(strict_unmap_is_unreachable),
	KUNIT_CASE(deferred_unmap_is_unreachable_after_flush),
	{}
};

static struct kunit_suite inval_suite = {
	.name = "altdma_viommu_inval",
	.init = inval_init,
	.exit = inval_exit,
	.test_cases = inval_cases,
};

kunit_test_suites(&inval_suite);
