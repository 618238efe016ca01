// SPDX-License-Identifier: GPL-2.0-only
/*
 * altdma_san_misuse.ko: one DMA ownership mistake (issue 16) on a real
 * device attached to altdma with bounce=sanitize, per load:
 *
 *   insmod altdma_san_misuse.ko dev=0000:00:05.0 mistake=NAME
 *
 * NAME is one of
 *
 *   cpu_write_to_dev  the CPU writes a DMA_TO_DEVICE buffer between map
 *                     and unmap
 *   cpu_write_bidi    the CPU writes a DMA_BIDIRECTIONAL buffer the device
 *                     owns (which the device also writes), then syncs it
 *                     for the CPU
 *   cpu_read_early    the CPU reads a DMA_FROM_DEVICE buffer before any
 *                     sync_for_cpu or unmap (never reported: it must read
 *                     the poison)
 *   dev_outside       the device writes past the end of a DMA_FROM_DEVICE
 *                     mapping
 *   dev_to_dev        the device writes into a DMA_TO_DEVICE mapping
 *
 * A device cannot be made to misbehave, so "the device writes" is done by
 * the CPU at the address the device's IOMMU translates the DMA address to
 * (iommu_iova_to_phys() on the domain the device is attached to): the
 * memory a device write to that DMA address would reach, whatever layer
 * maps it. (On altdma that is the bounce slot; a real device's write into
 * a DMA_TO_DEVICE mapping would also fault, since it is mapped read-only.)
 *
 * The device must have no driver. Each load prints
 *
 *   altdma_san_misuse: NAME: expect: kind=K dma=D size=S dir=R bytes=F..L
 *       changed=N fn=FUNCTION op=OP
 *
 * (the one report the mistake must get, none for cpu_read_early) and one
 * line per check of what the data did:
 *
 *   altdma_san_misuse: NAME: CHECK: ok | FAILED (WHAT)
 *
 * then "altdma_san_misuse: NAME: N passed, N failed". The load succeeds
 * once the mistake was made, whatever the checks found (the log has the
 * verdicts; busybox's insmod loads a module again with init_module() when
 * finit_module() fails, which would make the mistake twice): rmmod it.
 */

#include <linux/dma-mapping.h>
#include <linux/iommu.h>
#include <linux/module.h>
#include <linux/mm.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/string.h>

static char *dev_name_param = "";
module_param_named(dev, dev_name_param, charp, 0444);
MODULE_PARM_DESC(dev, "PCI name of the device (no driver bound)");

static char *mistake_param = "";
module_param_named(mistake, mistake_param, charp, 0444);
MODULE_PARM_DESC(mistake,
		 "cpu_write_to_dev, cpu_write_bidi, cpu_read_early, dev_outside or dev_to_dev");

/**
 * struct misuse - one load
 * @dev: the device
 * @domain: the IOMMU domain it is attached to (translates its DMA)
 * @name: the mistake
 * @buf: a page of memory the buffers live in
 * @ref: what @buf held when the mapping was made
 * @passed: checks passed
 * @failed: checks failed
 */
struct misuse {
	struct device *dev;
	struct iommu_domain *domain;
	const char *name;
	u8 *buf;
	u8 ref[PAGE_SIZE];
	unsigned int passed;
	unsigned int failed;
};

static const char * const dir_names[] = {
	[DMA_BIDIRECTIONAL] = "bidi",
	[DMA_TO_DEVICE] = "to_dev",
	[DMA_FROM_DEVICE] = "from_dev",
};

static void verdict(struct misuse *t, const char *check, const char *bad)
{
	if (bad) {
		t->failed++;
		pr_info("altdma_san_misuse: %s: %s: FAILED (%s)\n", t->name,
			check, bad);
	} else {
		t->passed++;
		pr_info("altdma_san_misuse: %s: %s: ok\n", t->name, check);
	}
}

/* The report the mistake must get; @fn mapped the buffer, @op finds it. */
static void report_due(struct misuse *t, const char *kind, dma_addr_t dma,
		       size_t size, enum dma_data_direction dir, long first,
		       long last, void *fn, const char *op)
{
	pr_info("altdma_san_misuse: %s: expect: kind=%s dma=%pad size=%zu dir=%s bytes=%ld..%ld changed=%ld fn=%ps op=%s\n",
		t->name, kind, &dma, size, dir_names[dir], first, last,
		last - first + 1, fn, op);
}

/*
 * The bytes a device write to @dma would reach (through the device's
 * IOMMU domain), or NULL; valid up to the end of @dma's IOMMU page.
 */
static u8 *device_view(struct misuse *t, dma_addr_t dma)
{
	phys_addr_t phys = iommu_iova_to_phys(t->domain, dma);

	return phys ? phys_to_virt(phys) : NULL;
}

/* The buffer's own bytes: never 0xdd (the poison), nor their complement. */
static void fill(struct misuse *t)
{
	size_t i;

	for (i = 0; i < PAGE_SIZE; i++)
		t->buf[i] = 0x40 + i % 61;
	memcpy(t->ref, t->buf, PAGE_SIZE);
}

/* What the device writes into a buffer: not the buffer's bytes. */
static u8 dev_byte(size_t i)
{
	return 0x80 + i % 53;
}

static void device_writes(u8 *at, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		at[i] = dev_byte(i);
}

static bool device_wrote(const u8 *at, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (at[i] != dev_byte(i))
			return false;
	return true;
}

/* The CPU (or the device) changes bytes [@first, @last] of @at. */
static void flip(u8 *at, long first, long last)
{
	for (; first <= last; first++)
		at[first] = ~at[first];
}

/*
 * Outside the @len bytes at @skip (what the device wrote), the page holds
 * what it should (@ref): else what is wrong.
 */
static const char *rest_is_ref(struct misuse *t, size_t skip, size_t len)
{
	if (memcmp(t->buf, t->ref, skip) ||
	    memcmp(t->buf + skip + len, t->ref + skip + len,
		   PAGE_SIZE - skip - len))
		return "bytes the device did not write are not what they should be";
	return NULL;
}

/*
 * The device wrote its @len bytes through @dv to the buffer at @off, and
 * the rest of the page is as it should be: else what is wrong.
 */
static const char *got_device_bytes(struct misuse *t, const u8 *dv,
				    size_t off, size_t len)
{
	if (!dv)
		return "the DMA address does not translate";
	if (!device_wrote(t->buf + off, len))
		return "the buffer does not have the device's bytes";
	return rest_is_ref(t, off, len);
}

/*
 * Fill the buffer, then map @size bytes of it at @off in @dir; a failed
 * map is a failed check and gives DMA_MAPPING_ERROR. Inline: the report
 * names the function that maps as the mapping's caller, each mistake's.
 */
static __always_inline dma_addr_t
fill_and_map(struct misuse *t, size_t off, size_t size,
	     enum dma_data_direction dir)
{
	dma_addr_t dma;

	fill(t);
	dma = dma_map_single(t->dev, t->buf + off, size, dir);
	if (dma_mapping_error(t->dev, dma)) {
		verdict(t, "map", "map failed");
		return DMA_MAPPING_ERROR;
	}
	return dma;
}

/*
 * (a) DMA_TO_DEVICE: bytes 64..71 written between map and unmap. The
 * device's copy stays what was handed over at map; unmap copies nothing
 * back, so the buffer keeps the CPU's write.
 */
static noinline void cpu_write_to_dev(struct misuse *t)
{
	const size_t off = 0x10, size = 768;
	dma_addr_t dma;
	u8 *dv;

	dma = fill_and_map(t, off, size, DMA_TO_DEVICE);
	if (dma == DMA_MAPPING_ERROR)
		return;
	flip(t->buf + off, 64, 71);
	dv = device_view(t, dma);
	verdict(t, "the device reads what the CPU handed over at map",
		!dv ? "the DMA address does not translate" :
		memcmp(dv, t->ref + off, size) ? "the CPU's late write reached the device" :
		NULL);
	report_due(t, "cpu_write", dma, size, DMA_TO_DEVICE, 64, 71,
		   cpu_write_to_dev, "unmap_page");
	dma_unmap_single(t->dev, dma, size, DMA_TO_DEVICE);
	flip(t->ref + off, 64, 71);
	verdict(t, "unmap copies nothing back: the buffer keeps the CPU's write",
		rest_is_ref(t, 0, 0));
}

/*
 * (a) DMA_BIDIRECTIONAL: the device writes bytes 0..255, the CPU writes
 * bytes 300..303 while the device owns the buffer, then syncs it for the
 * CPU: as with swiotlb, the buffer gets the device's copy (the device's
 * bytes, and what was handed over where the device wrote none), so the
 * CPU's write is lost.
 */
static noinline void cpu_write_bidi(struct misuse *t)
{
	const size_t off = 0x20, size = 512;
	dma_addr_t dma;
	u8 *dv;

	dma = fill_and_map(t, off, size, DMA_BIDIRECTIONAL);
	if (dma == DMA_MAPPING_ERROR)
		return;
	dv = device_view(t, dma);
	if (dv)
		device_writes(dv, 256);
	flip(t->buf + off, 300, 303);
	report_due(t, "cpu_write", dma, size, DMA_BIDIRECTIONAL, 300, 303,
		   cpu_write_bidi, "sync_single_for_cpu");
	dma_sync_single_for_cpu(t->dev, dma, size, DMA_BIDIRECTIONAL);
	verdict(t, "after sync_for_cpu the buffer holds the device's copy, the CPU's write is lost",
		got_device_bytes(t, dv, off, 256));
	dma_unmap_single(t->dev, dma, size, DMA_BIDIRECTIONAL);
	verdict(t, "unmap leaves it so", got_device_bytes(t, dv, off, 256));
}

/*
 * (b) DMA_FROM_DEVICE: the CPU reads the buffer before any sync: it must
 * read the poison, not the stale bytes it held. Then the device writes
 * bytes 0..511 and the buffer is unmapped: the device's bytes, and the
 * buffer's own where the device wrote none.
 */
static noinline void cpu_read_early(struct misuse *t)
{
	const size_t off = 0x40, size = 1024;
	char why[64];
	size_t i, n = 0;
	dma_addr_t dma;
	u8 *dv;

	dma = fill_and_map(t, off, size, DMA_FROM_DEVICE);
	if (dma == DMA_MAPPING_ERROR)
		return;
	for (i = 0; i < size; i++)
		n += READ_ONCE(t->buf[off + i]) == 0xdd;
	snprintf(why, sizeof(why), "%zu of %zu bytes were 0xdd", n, size);
	verdict(t, "a read before the sync reads the poison (0xdd)",
		n == size ? NULL : why);
	dv = device_view(t, dma);
	if (dv)
		device_writes(dv, 512);
	dma_unmap_single(t->dev, dma, size, DMA_FROM_DEVICE);
	verdict(t, "unmap gives the device's bytes, and the buffer's own where it wrote none",
		got_device_bytes(t, dv, off, 512));
}

/*
 * (c) DMA_FROM_DEVICE: the device writes its 200 bytes and 4 more past
 * the end (the same IOMMU page): only the 200 reach the buffer.
 */
static noinline void dev_outside(struct misuse *t)
{
	const size_t off = 0x80, size = 200;
	dma_addr_t dma;
	u8 *dv, *past;

	dma = fill_and_map(t, off, size, DMA_FROM_DEVICE);
	if (dma == DMA_MAPPING_ERROR)
		return;
	dv = device_view(t, dma);
	past = device_view(t, dma + size);
	if (dv)
		device_writes(dv, size);
	if (past)
		flip(past, 0, 3);
	report_due(t, "dev_outside", dma, size, DMA_FROM_DEVICE, size,
		   size + 3, dev_outside, "unmap_page");
	dma_unmap_single(t->dev, dma, size, DMA_FROM_DEVICE);
	verdict(t, "unmap gives the device's 200 bytes and nothing past them",
		!past ? "the DMA address past the end does not translate" :
		got_device_bytes(t, dv, off, size));
}

/*
 * (c) DMA_TO_DEVICE: the device writes bytes 16..19 of its copy; unmap
 * copies nothing back, the buffer is untouched.
 */
static noinline void dev_to_dev(struct misuse *t)
{
	const size_t off = 0x30, size = 256;
	dma_addr_t dma;
	u8 *dv;

	dma = fill_and_map(t, off, size, DMA_TO_DEVICE);
	if (dma == DMA_MAPPING_ERROR)
		return;
	dv = device_view(t, dma);
	if (dv)
		flip(dv, 16, 19);
	report_due(t, "dev_to_device", dma, size, DMA_TO_DEVICE, 16, 19,
		   dev_to_dev, "unmap_page");
	dma_unmap_single(t->dev, dma, size, DMA_TO_DEVICE);
	verdict(t, "unmap copies nothing back: the buffer is untouched",
		!dv ? "the DMA address does not translate" :
		rest_is_ref(t, 0, 0));
}

static const struct {
	const char *name;
	void (*run)(struct misuse *t);
} mistakes[] = {
	{ "cpu_write_to_dev", cpu_write_to_dev },
	{ "cpu_write_bidi", cpu_write_bidi },
	{ "cpu_read_early", cpu_read_early },
	{ "dev_outside", dev_outside },
	{ "dev_to_dev", dev_to_dev },
};

static int run(struct misuse *t)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(mistakes); i++)
		if (!strcmp(mistake_param, mistakes[i].name))
			break;
	if (i == ARRAY_SIZE(mistakes))
		return -EINVAL;
	t->name = mistakes[i].name;
	t->domain = iommu_get_domain_for_dev(t->dev);
	if (!t->domain) {
		pr_err("altdma_san_misuse: %s is behind no IOMMU domain\n",
		       dev_name_param);
		return -ENODEV;
	}
	t->buf = (u8 *)__get_free_page(GFP_KERNEL);
	if (!t->buf)
		return -ENOMEM;
	mistakes[i].run(t);
	free_page((unsigned long)t->buf);
	pr_info("altdma_san_misuse: %s: %u passed, %u failed\n", t->name,
		t->passed, t->failed);
	return 0;
}

static int __init altdma_san_misuse_init(void)
{
	unsigned int dom, bus, slot, fn;
	struct pci_dev *pdev;
	struct misuse *t;
	int ret;

	if (sscanf(dev_name_param, "%x:%x:%x.%x", &dom, &bus, &slot, &fn) != 4)
		return -EINVAL;
	pdev = pci_get_domain_bus_and_slot(dom, bus, PCI_DEVFN(slot, fn));
	if (!pdev)
		return -ENODEV;
	ret = -EBUSY;
	if (pdev->dev.driver) {
		pr_err("altdma_san_misuse: %s has a driver; unbind it first\n",
		       dev_name_param);
		goto out;
	}
	ret = -ENOMEM;
	t = kzalloc(sizeof(*t), GFP_KERNEL);
	if (!t)
		goto out;
	t->dev = &pdev->dev;
	ret = run(t);
	kfree(t);
out:
	pci_dev_put(pdev);
	return ret;
}

static void __exit altdma_san_misuse_exit(void)
{
}

module_init(altdma_san_misuse_init);
module_exit(altdma_san_misuse_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("altdma: one DMA ownership mistake on a device under bounce=sanitize");
