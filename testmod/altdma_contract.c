// SPDX-License-Identifier: GPL-2.0-only
/*
 * altdma_contract.ko: the DMA API contract of issue 14, walked on one real
 * device, whatever DMA layer it is on (altdma's ops, or the kernel's
 * dma-iommu when it is not attached), so the same checks show what each
 * layer gives a driver.
 *
 *   insmod altdma_contract.ko dev=0000:00:05.0
 *
 * The device must have no driver (its DMA parameters are changed for a
 * moment and put back). One line per check:
 *
 *   altdma_contract: <layer>: <check>: ok
 *   altdma_contract: <layer>: <check>: FAILED (<what>)
 *   altdma_contract: <layer>: <check>: not run: <why>
 *
 * where <layer> is "altdma" or "dma-iommu", then "altdma_contract: <layer>:
 * N passed, N failed". The load fails (-EIO) if a check failed. A check
 * dma-iommu is known to fail is not run there, and says so.
 */

#include <linux/dma-map-ops.h>
#include <linux/dma-mapping.h>
#include <linux/module.h>
#include <linux/mm.h>
#include <linux/pci.h>
#include <linux/scatterlist.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "altdma_api.h"

static char *dev_name_param = "";
module_param_named(dev, dev_name_param, charp, 0444);
MODULE_PARM_DESC(dev, "PCI name of the device (no driver bound)");

/**
 * struct contract - one run of the checks
 * @dev: the device
 * @layer: "altdma" or "dma-iommu"
 * @passed: checks passed
 * @failed: checks failed
 */
struct contract {
	struct device *dev;
	const char *layer;
	unsigned int passed;
	unsigned int failed;
};

static void verdict(struct contract *c, const char *check, const char *bad)
{
	if (bad) {
		c->failed++;
		pr_info("altdma_contract: %s: %s: FAILED (%s)\n", c->layer,
			check, bad);
	} else {
		c->passed++;
		pr_info("altdma_contract: %s: %s: ok\n", c->layer, check);
	}
}

/*
 * dma_alloc_pages() memory is zeroed: pages are dirtied and freed first,
 * so that (with init_on_alloc=0) an allocation that is not zeroed finds
 * the dirt.
 */
static const char *check_alloc_pages_zeroed(struct contract *c)
{
	const size_t size = SZ_16K;
	const char *bad = NULL;
	struct page *dirty, *page;
	unsigned int round;
	dma_addr_t dma;

	for (round = 0; round < 16 && !bad; round++) {
		dirty = alloc_pages(GFP_KERNEL, get_order(size));
		if (!dirty)
			return "no memory for the dirty pages";
		memset(page_address(dirty), 0xa5, size);
		__free_pages(dirty, get_order(size));
		page = dma_alloc_pages(c->dev, size, &dma, DMA_BIDIRECTIONAL,
				       GFP_KERNEL);
		if (!page)
			return "dma_alloc_pages failed";
		if (memchr_inv(page_address(page), 0, size))
			bad = "memory not zeroed";
		dma_free_pages(c->dev, size, page, dma, DMA_BIDIRECTIONAL);
	}
	return bad;
}

/* Coherent allocations of 8 and 16 MiB work, zeroed. */
static const char *check_large_coherent(struct contract *c)
{
	static const size_t sizes[] = { SZ_8M, SZ_16M };
	unsigned int i;
	dma_addr_t dma;
	void *cpu;
	bool zero;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		cpu = dma_alloc_coherent(c->dev, sizes[i], &dma, GFP_KERNEL);
		if (!cpu)
			return i ? "16 MiB failed" : "8 MiB failed";
		zero = !memchr_inv(cpu, 0, sizes[i]);
		dma_free_coherent(c->dev, sizes[i], cpu, dma);
		if (!zero)
			return "memory not zeroed";
	}
	return NULL;
}

/* Whether a DMA segment of the list crosses @bmask's boundary. */
static bool sg_crosses(struct scatterlist *sgl, int count, u64 bmask)
{
	struct scatterlist *s;
	int i;

	for_each_sg(sgl, s, count, i)
		if ((sg_dma_address(s) & ~bmask) !=
		    ((sg_dma_address(s) + sg_dma_len(s) - 1) & ~bmask))
			return true;
	return false;
}

/*
 * Entries longer than 128 KiB under a 256 KiB segment boundary and a
 * 256 KiB max segment size: no DMA segment crosses a boundary, in 256
 * maps of the list (with a 128 KiB mapping between every other pair, so
 * an allocator that places each range below the last puts the list at
 * both halves of a boundary window).
 */
static const char *check_sg_boundary(struct contract *c, void *buf)
{
	unsigned long old_bmask = dma_get_seg_boundary(c->dev);
	unsigned int old_max = dma_get_max_seg_size(c->dev), round;
	const char *bad = NULL;
	struct scatterlist sg[3];
	dma_addr_t dma;
	int n;

	/* (the setters return int on 6.1, nothing on 6.12) */
	if (!c->dev->dma_parms)
		return "the device has no DMA parameters";
	dma_set_seg_boundary(c->dev, SZ_256K - 1);
	dma_set_max_seg_size(c->dev, SZ_256K);
	for (round = 0; round < 256 && !bad; round++) {
		if (round & 1) {
			dma = dma_map_single(c->dev, buf, SZ_128K,
					     DMA_TO_DEVICE);
			if (!dma_mapping_error(c->dev, dma))
				dma_unmap_single(c->dev, dma, SZ_128K,
						 DMA_TO_DEVICE);
		}
		sg_init_table(sg, 3);
		sg_set_buf(&sg[0], buf, SZ_128K + SZ_64K);
		sg_set_buf(&sg[1], buf + SZ_64K, SZ_128K + SZ_16K);
		sg_set_buf(&sg[2], buf + (round % 16) * SZ_4K, SZ_8K + 0x10);
		n = dma_map_sg(c->dev, sg, 3, DMA_TO_DEVICE);
		if (n <= 0) {
			bad = "map_sg failed";
			break;
		}
		if (sg_crosses(sg, n, SZ_256K - 1))
			bad = "a DMA segment crosses the boundary";
		dma_unmap_sg(c->dev, sg, 3, DMA_TO_DEVICE);
	}
	dma_set_seg_boundary(c->dev, old_bmask);
	dma_set_max_seg_size(c->dev, old_max);
	return bad;
}

/*
 * Syncs of parts of a mapping at offsets inside it, both ways, on
 * streaming mappings of each direction: accepted (altdma counts a refused
 * sync; the VM script checks its refusal count stays 0).
 */
static const char *check_sync_ranges(struct contract *c, void *buf)
{
	dma_addr_t dma;

	dma = dma_map_single(c->dev, buf, SZ_16K, DMA_FROM_DEVICE);
	if (dma_mapping_error(c->dev, dma))
		return "map failed";
	dma_sync_single_range_for_cpu(c->dev, dma, SZ_4K + 0x100, 0x200,
				      DMA_FROM_DEVICE);
	dma_sync_single_range_for_device(c->dev, dma, SZ_8K, SZ_8K,
					 DMA_FROM_DEVICE);
	dma_unmap_single(c->dev, dma, SZ_16K, DMA_FROM_DEVICE);
	dma = dma_map_single(c->dev, buf, SZ_16K, DMA_TO_DEVICE);
	if (dma_mapping_error(c->dev, dma))
		return "map failed";
	dma_sync_single_range_for_device(c->dev, dma, 0x10, 0x30,
					 DMA_TO_DEVICE);
	dma_unmap_single(c->dev, dma, SZ_16K, DMA_TO_DEVICE);
	return NULL;
}

/* Under a 32-bit mask every address, streaming and coherent, is below 4 GiB. */
static const char *check_mask32(struct contract *c, void *buf)
{
	u64 old = dma_get_mask(c->dev), old_coh = c->dev->coherent_dma_mask;
	dma_addr_t dma[64], cdma;
	const char *bad = NULL;
	unsigned int i, n;
	void *cpu;

	if (dma_set_mask_and_coherent(c->dev, DMA_BIT_MASK(32)))
		return "the device refuses a 32-bit mask";
	for (n = 0; n < ARRAY_SIZE(dma); n++) {
		dma[n] = dma_map_single(c->dev, buf + n * 64, 64,
					DMA_TO_DEVICE);
		if (dma_mapping_error(c->dev, dma[n])) {
			bad = "map failed";
			break;
		}
		if (dma[n] + 63 > DMA_BIT_MASK(32))
			bad = "a streaming address above 4 GiB";
	}
	for (i = 0; i < n; i++)
		dma_unmap_single(c->dev, dma[i], 64, DMA_TO_DEVICE);
	cpu = dma_alloc_coherent(c->dev, SZ_64K, &cdma, GFP_KERNEL);
	if (!cpu)
		bad = bad ?: "coherent allocation failed";
	else if (cdma + SZ_64K - 1 > DMA_BIT_MASK(32))
		bad = bad ?: "a coherent address above 4 GiB";
	if (cpu)
		dma_free_coherent(c->dev, SZ_64K, cpu, cdma);
	dma_set_mask(c->dev, old);
	dma_set_coherent_mask(c->dev, old_coh);
	return bad;
}

/* A buffer whose size runs past the end of the address space is refused. */
static const char *check_wrap_refused(struct contract *c, void *buf)
{
	dma_addr_t dma;

	dma = dma_map_page(c->dev, virt_to_page(buf), 0x10, SIZE_MAX - 8,
			   DMA_TO_DEVICE);
	if (!dma_mapping_error(c->dev, dma))
		return "mapped (and the unmap of such a size is not safe to try)";
	return NULL;
}

static void run_checks(struct contract *c, bool on_altdma)
{
	void *buf = (void *)__get_free_pages(GFP_KERNEL, get_order(SZ_256K));

	if (!buf) {
		verdict(c, "buffer", "no memory");
		return;
	}
	verdict(c, "dma_alloc_pages memory is zeroed",
		check_alloc_pages_zeroed(c));
	verdict(c, "coherent allocations of 8 and 16 MiB",
		check_large_coherent(c));
	verdict(c, "sg entries over 128 KiB never cross a 256 KiB boundary",
		check_sg_boundary(c, buf));
	verdict(c, "syncs of ranges inside mappings", check_sync_ranges(c, buf));
	verdict(c, "a 32-bit mask holds for every address",
		check_mask32(c, buf));
	if (on_altdma)
		verdict(c, "a size that wraps the address space is refused",
			check_wrap_refused(c, buf));
	else
		pr_info("altdma_contract: %s: a size that wraps the address space is refused: not run: dma-iommu maps such a buffer (issue 14, item 7)\n",
			c->layer);
	free_pages((unsigned long)buf, get_order(SZ_256K));
}

static int __init altdma_contract_init(void)
{
	const struct dma_map_ops *ops;
	struct contract c = { };
	struct pci_dev *pdev = NULL;
	unsigned int dom, bus, slot, fn;
	bool on_altdma;

	if (sscanf(dev_name_param, "%x:%x:%x.%x", &dom, &bus, &slot, &fn) != 4)
		return -EINVAL;
	pdev = pci_get_domain_bus_and_slot(dom, bus, PCI_DEVFN(slot, fn));
	if (!pdev)
		return -ENODEV;
	c.dev = &pdev->dev;
	if (c.dev->driver) {
		pr_err("altdma_contract: %s has a driver; unbind it first\n",
		       dev_name_param);
		pci_dev_put(pdev);
		return -EBUSY;
	}
	ops = symbol_get(altdma_dma_ops);
	on_altdma = ops && get_dma_ops(c.dev) == ops;
	if (ops)
		symbol_put(altdma_dma_ops);
	c.layer = on_altdma ? "altdma" : "dma-iommu";
	run_checks(&c, on_altdma);
	pr_info("altdma_contract: %s: %u passed, %u failed\n", c.layer,
		c.passed, c.failed);
	pci_dev_put(pdev);
	return c.failed ? -EIO : 0;
}

static void __exit altdma_contract_exit(void)
{
}

module_init(altdma_contract_init);
module_exit(altdma_contract_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("altdma: the DMA API contract on one device, on any DMA layer");
