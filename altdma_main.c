// SPDX-License-Identifier: GPL-2.0-only
/*
 * altdma: alternate DMA mapping ops for chosen devices behind an IOMMU.
 *
 * This file holds the module's entry points and load-time parameters. The
 * IOVA allocator is in iova_alloc.c, the bounce-buffer pool in
 * swiotlb_bounce.c (its size parameter, bounce_pool_size, is declared
 * there), the DMA mapping layer in dma_iommu_ops.c (with altdma_dev.c,
 * flush_queue.c and the backends), attach/detach in attach.c and the
 * runtime interface in altdma_debugfs.c.
 */

#define pr_fmt(fmt) "altdma: " fmt

#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "altdma_bench.h"
#include "attach.h"

module_param_named(callers, altdma_track_callers, bool, 0644);
MODULE_PARM_DESC(callers, "record the driver's call site of every mapping, shown in debugfs mappings and the altdma_map trace event (one stack read per map once learnt; default Y, writable at runtime)");

static char *devices;
module_param(devices, charp, 0444);
MODULE_PARM_DESC(devices, "PCI devices to attach at load, comma-separated (e.g. 0000:00:03.0,0000:00:04.0)");

static char *bounce = "auto";
module_param(bounce, charp, 0444);
MODULE_PARM_DESC(bounce, "default bounce mode: auto (untrusted devices only), force, off, sanitize (every mapping, with the DMA ownership sanitizer)");

static char *inval = "strict";
module_param(inval, charp, 0444);
MODULE_PARM_DESC(inval, "default IOTLB invalidation: strict, deferred");

static char *policy = "tree";
module_param(policy, charp, 0444);
MODULE_PARM_DESC(policy, "default IOVA allocator policy: tree, wrap");

/* The defaults from the module parameters, as "key=value" options. */
static int set_defaults(void)
{
	char *buf;
	int ret;

	buf = kasprintf(GFP_KERNEL, "bounce=%s inval=%s policy=%s", bounce,
			inval, policy);
	if (!buf)
		return -ENOMEM;
	ret = altdma_attach_parse_opts(buf, &altdma_default_opts);
	kfree(buf);
	return ret;
}

/* Attach every device of the devices= parameter; a failure is reported. */
static void attach_param_devices(void)
{
	char *buf, *p, *name;

	if (!devices || !*devices)
		return;
	buf = kstrdup(devices, GFP_KERNEL);
	if (!buf)
		return;
	p = buf;
	while ((name = strsep(&p, ","))) {
		name = strim(name);
		if (*name)
			altdma_attach_by_name(name, &altdma_default_opts);
	}
	kfree(buf);
}

static int __init altdma_init(void)
{
	int ret = set_defaults();

	if (ret)
		return ret;
	ret = altdma_attach_init();
	if (ret)
		return ret;
	altdma_debugfs_init();
	attach_param_devices();
	altdma_bench_init();
	pr_info("loaded\n");
	return 0;
}
module_init(altdma_init);

static void __exit altdma_exit(void)
{
	altdma_bench_exit();
	altdma_attach_exit();
	altdma_debugfs_exit();
}
module_exit(altdma_exit);

MODULE_DESCRIPTION("altdma: alternate DMA mapping ops over an IOMMU domain");
MODULE_LICENSE("GPL");
