// SPDX-License-Identifier: GPL-2.0-only
/*
 * altdma_lateunmap.ko: a driver whose buffers outlive a change of DMA
 * layer, as page_pool's pages in flight outlive their driver's unbind
 * (issue 15, defect 5). It keeps mappings on one device across an attach
 * to altdma or a detach from it, and unmaps them afterwards; every unmap
 * must reach the layer that made the mapping.
 *
 *   insmod altdma_lateunmap.ko dev=0000:00:05.0
 *   echo "map A" > /sys/module/altdma_lateunmap/parameters/cmd
 *   (attach or detach the device)
 *   echo "unmap A" > /sys/module/altdma_lateunmap/parameters/cmd
 *
 * A set (A or B) is ALTDMA_LATE_PAGES pages mapped as page_pool maps them
 * (DMA_FROM_DEVICE, DMA_ATTR_SKIP_CPU_SYNC), one two-entry scatterlist and
 * one coherent allocation, on whatever layer the device is on. At "unmap",
 * each page and the list are synced for the CPU, then everything is
 * unmapped or freed; for a set made on the kernel's dma-iommu (the group's
 * default domain, which outlives any attach) the check is that the default
 * domain mapped each page before its unmap and no longer does after it. A
 * set made while another is live must not reuse one of its addresses: an
 * address names one layer's mapping only. One line per check:
 *
 *   altdma_lateunmap: <cmd>: <check>: ok
 *   altdma_lateunmap: <cmd>: <check>: FAILED (<what>)
 *
 * and the command's write fails (-EIO) if a check failed.
 */

#include <linux/dma-mapping.h>
#include <linux/iommu.h>
#include <linux/module.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/scatterlist.h>
#include <linux/sizes.h>
#include <linux/string.h>
#include <linux/vmalloc.h>

/* Pages of a set mapped one by one, as page_pool does */
#define ALTDMA_LATE_PAGES	8
/* Its scatterlist's entries */
#define ALTDMA_LATE_SG		2

static char *dev_name_param = "";
module_param_named(dev, dev_name_param, charp, 0444);
MODULE_PARM_DESC(dev, "PCI name of the device");

/**
 * struct late_set - mappings kept across a change of layer
 * @live: mapped and not yet unmapped
 * @dflt: made on the group's default domain (dma-iommu)
 * @domain: the domain the device was on when the set was made
 * @page: the pages mapped one by one
 * @dma: their DMA addresses
 * @sg_pages: the pages of the list
 * @sgl: the list
 * @cpu: the coherent allocation
 * @cpu_dma: its DMA address
 */
struct late_set {
	bool live;
	bool dflt;
	struct iommu_domain *domain;
	struct page *page[ALTDMA_LATE_PAGES];
	dma_addr_t dma[ALTDMA_LATE_PAGES];
	struct page *sg_pages[ALTDMA_LATE_SG];
	struct scatterlist sgl[ALTDMA_LATE_SG];
	void *cpu;
	dma_addr_t cpu_dma;
};

static DEFINE_MUTEX(late_lock);
static struct late_set late_sets[2];
static struct device *late_dev;

static int verdict(const char *cmd, const char *check, const char *bad)
{
	if (bad) {
		pr_info("altdma_lateunmap: %s: %s: FAILED (%s)\n", cmd, check,
			bad);
		return -EIO;
	}
	pr_info("altdma_lateunmap: %s: %s: ok\n", cmd, check);
	return 0;
}

/* Whether [@dma, @dma + @len) overlaps a mapping of the live set @o. */
static bool overlaps(const struct late_set *o, dma_addr_t dma, size_t len)
{
	int i;

	if (!o->live)
		return false;
	for (i = 0; i < ALTDMA_LATE_PAGES; i++)
		if (dma < o->dma[i] + PAGE_SIZE && o->dma[i] < dma + len)
			return true;
	for (i = 0; i < ALTDMA_LATE_SG; i++)
		if (dma < sg_dma_address(&o->sgl[i]) + sg_dma_len(&o->sgl[i]) &&
		    sg_dma_address(&o->sgl[i]) < dma + len)
			return true;
	return dma < o->cpu_dma + 2 * PAGE_SIZE && o->cpu_dma < dma + len;
}

static void set_free_pages(struct late_set *s)
{
	int i;

	for (i = 0; i < ALTDMA_LATE_PAGES; i++)
		if (s->page[i])
			__free_page(s->page[i]);
	for (i = 0; i < ALTDMA_LATE_SG; i++)
		if (s->sg_pages[i])
			__free_page(s->sg_pages[i]);
	memset(s, 0, sizeof(*s));
}

/* Map every buffer of set @s; nothing stays on failure. */
static const char *set_map_all(struct late_set *s)
{
	struct device *dev = late_dev;
	int i, mapped = 0;

	s->domain = iommu_get_domain_for_dev(dev);
	s->dflt = s->domain && (s->domain->type & __IOMMU_DOMAIN_DMA_API);
	for (i = 0; i < ALTDMA_LATE_PAGES; i++) {
		s->page[i] = alloc_page(GFP_KERNEL);
		if (!s->page[i])
			goto undo;
		s->dma[i] = dma_map_page_attrs(dev, s->page[i], 0, PAGE_SIZE,
					       DMA_FROM_DEVICE,
					       DMA_ATTR_SKIP_CPU_SYNC);
		if (dma_mapping_error(dev, s->dma[i]))
			goto undo;
		mapped++;
	}
	sg_init_table(s->sgl, ALTDMA_LATE_SG);
	for (i = 0; i < ALTDMA_LATE_SG; i++) {
		s->sg_pages[i] = alloc_page(GFP_KERNEL);
		if (!s->sg_pages[i])
			goto undo;
		sg_set_page(&s->sgl[i], s->sg_pages[i], PAGE_SIZE, 0);
	}
	if (dma_map_sg(dev, s->sgl, ALTDMA_LATE_SG, DMA_BIDIRECTIONAL) <= 0)
		goto undo;
	s->cpu = dma_alloc_coherent(dev, 2 * PAGE_SIZE, &s->cpu_dma,
				    GFP_KERNEL);
	if (!s->cpu) {
		dma_unmap_sg(dev, s->sgl, ALTDMA_LATE_SG, DMA_BIDIRECTIONAL);
		goto undo;
	}
	s->live = true;
	return NULL;

undo:
	for (i = 0; i < mapped; i++)
		dma_unmap_page_attrs(dev, s->dma[i], PAGE_SIZE, DMA_FROM_DEVICE,
				     DMA_ATTR_SKIP_CPU_SYNC);
	set_free_pages(s);
	return "a map or an allocation failed";
}

/*
 * Map set @s on the device's current layer; nothing stays on failure.
 * Under a 32-bit mask: both layers then place top-down below 4 GiB, where
 * the other set is.
 */
static const char *set_map(struct late_set *s)
{
	u64 mask = dma_get_mask(late_dev), cmask = late_dev->coherent_dma_mask;
	const char *bad;

	if (dma_set_mask_and_coherent(late_dev, DMA_BIT_MASK(32)))
		return "the 32-bit mask was refused";
	bad = set_map_all(s);
	dma_set_mask(late_dev, mask);
	dma_set_coherent_mask(late_dev, cmask);
	return bad;
}

/* Whether the default domain maps @dma to @phys (any set not on it: yes) */
static bool dflt_maps(const struct late_set *s, dma_addr_t dma,
		      phys_addr_t phys)
{
	return !s->dflt || iommu_iova_to_phys(s->domain, dma) == phys;
}

/* The first page of a coherent allocation (dma-iommu may remap it) */
static phys_addr_t cpu_phys(void *cpu)
{
	if (is_vmalloc_addr(cpu))
		return PFN_PHYS(vmalloc_to_pfn(cpu));
	return virt_to_phys(cpu);
}

static bool dflt_unmapped(const struct late_set *s, dma_addr_t dma)
{
	return !s->dflt || !iommu_iova_to_phys(s->domain, dma);
}

/*
 * Sync, then unmap and free set @s; *@gone counts the mappings of a set
 * made on the default domain that it mapped before and no longer maps.
 */
static void set_unmap(struct late_set *s, int *gone, int *total)
{
	struct device *dev = late_dev;
	phys_addr_t phys;
	bool before;
	int i;

	for (i = 0; i < ALTDMA_LATE_PAGES; i++) {
		phys = page_to_phys(s->page[i]);
		before = dflt_maps(s, s->dma[i], phys);
		dma_sync_single_for_cpu(dev, s->dma[i], PAGE_SIZE,
					DMA_FROM_DEVICE);
		dma_unmap_page_attrs(dev, s->dma[i], PAGE_SIZE, DMA_FROM_DEVICE,
				     DMA_ATTR_SKIP_CPU_SYNC);
		*gone += before && dflt_unmapped(s, s->dma[i]);
	}
	before = dflt_maps(s, sg_dma_address(s->sgl), sg_phys(s->sgl));
	dma_sync_sg_for_cpu(dev, s->sgl, ALTDMA_LATE_SG, DMA_BIDIRECTIONAL);
	dma_unmap_sg(dev, s->sgl, ALTDMA_LATE_SG, DMA_BIDIRECTIONAL);
	*gone += before && dflt_unmapped(s, sg_dma_address(s->sgl));
	before = dflt_maps(s, s->cpu_dma, cpu_phys(s->cpu));
	dma_free_coherent(dev, 2 * PAGE_SIZE, s->cpu, s->cpu_dma);
	*gone += before && dflt_unmapped(s, s->cpu_dma);
	*total = ALTDMA_LATE_PAGES + 2;
	set_free_pages(s);
}

static int cmd_map(const char *cmd, struct late_set *s, struct late_set *o)
{
	const char *bad = NULL;
	int i;

	if (s->live)
		return verdict(cmd, "mapped", "the set is live already");
	bad = set_map(s);
	if (verdict(cmd, "mapped", bad))
		return -EIO;
	pr_info("altdma_lateunmap: %s: %d mappings on %s\n", cmd,
		ALTDMA_LATE_PAGES + 2,
		s->dflt ? "the default domain" : "another domain");
	for (i = 0; i < ALTDMA_LATE_PAGES && !bad; i++)
		if (overlaps(o, s->dma[i], PAGE_SIZE))
			bad = "a page's address is a live mapping of the other set";
	if (!bad && overlaps(o, sg_dma_address(s->sgl), sg_dma_len(s->sgl)))
		bad = "the list's address is a live mapping of the other set";
	if (!bad && overlaps(o, s->cpu_dma, 2 * PAGE_SIZE))
		bad = "the allocation's address is a live mapping of the other set";
	return verdict(cmd, "no address of the other set reused", bad);
}

static int cmd_unmap(const char *cmd, struct late_set *s)
{
	int gone = 0, total = 0;
	bool dflt = s->dflt;

	if (!s->live)
		return verdict(cmd, "unmapped", "the set is not live");
	set_unmap(s, &gone, &total);
	if (!dflt)
		return verdict(cmd, "unmapped", NULL);
	pr_info("altdma_lateunmap: %s: %d of %d gone from the default domain\n",
		cmd, gone, total);
	return verdict(cmd, "every mapping gone from the default domain",
		       gone == total ? NULL : "the default domain still maps some");
}

static int cmd_set(const char *val, const struct kernel_param *kp)
{
	char cmd[16];
	struct late_set *s, *o;
	int ret = -EINVAL;

	strscpy(cmd, val, sizeof(cmd));
	strim(cmd);
	if (strlen(cmd) < 3 || (cmd[strlen(cmd) - 1] != 'A' &&
				cmd[strlen(cmd) - 1] != 'B'))
		return -EINVAL;
	s = &late_sets[cmd[strlen(cmd) - 1] == 'B'];
	o = &late_sets[cmd[strlen(cmd) - 1] != 'B'];
	mutex_lock(&late_lock);
	if (!strncmp(cmd, "map ", 4))
		ret = cmd_map(cmd, s, o);
	else if (!strncmp(cmd, "unmap ", 6))
		ret = cmd_unmap(cmd, s);
	mutex_unlock(&late_lock);
	return ret;
}

static const struct kernel_param_ops cmd_ops = {
	.set = cmd_set,
};
module_param_cb(cmd, &cmd_ops, NULL, 0200);
MODULE_PARM_DESC(cmd, "\"map A|B\" or \"unmap A|B\"");

static int __init late_init(void)
{
	struct pci_dev *pdev;
	unsigned int dom, bus, slot, fn;

	if (sscanf(dev_name_param, "%x:%x:%x.%x", &dom, &bus, &slot, &fn) != 4)
		return -EINVAL;
	pdev = pci_get_domain_bus_and_slot(dom, bus, PCI_DEVFN(slot, fn));
	if (!pdev)
		return -ENODEV;
	late_dev = &pdev->dev;
	return 0;
}

static void __exit late_exit(void)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(late_sets); i++)
		if (late_sets[i].live)
			pr_info("altdma_lateunmap: set %c still live at unload: left mapped\n",
				'A' + i);
	pci_dev_put(to_pci_dev(late_dev));
}

module_init(late_init);
module_exit(late_exit);
MODULE_DESCRIPTION("altdma test: mappings that outlive a change of DMA layer");
MODULE_LICENSE("GPL");
