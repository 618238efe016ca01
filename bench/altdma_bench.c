// SPDX-License-Identifier: GPL-2.0-only
/*
 * altdma's benchmark command file: /sys/kernel/debug/altdma_bench.
 *
 * Write one command, then read its result line:
 *
 *   map dev=0000:00:03.0 size=4096 threads=1 iters=2000 [off=N] [untrusted=1]
 *       [bufs=N]
 *	map+unmap through the device's current DMA ops (the kernel's
 *	dma-iommu or altdma's, whichever the device has); with bufs=N each
 *	thread maps N distinct buffers in turn, allocated before the clock
 *	starts (default 1: the same buffer every time)
 *   floor dev=... size=... threads=... iters=... [bufs=N]
 *	bare iommu_map + iommu_unmap_fast + IOTLB sync on an unmanaged domain
 *	with a bump allocator (the device must be unbound and on its default
 *	domain)
 *   iova-fast kernel=0|1 npages=1 iters=N [nocache=1 nfill=N]
 *   iova-frag kernel=0|1 nfill=262144 iters=N budget_ms=M seed=S [nocache=1]
 *	the kernel's IOVA allocator or altdma's, alone
 *   mem dev=...
 *	per-domain memory of the altdma context attached to dev, and the
 *	kernel's for the same number of CPUs
 *
 * Built into altdma.ko only with BENCH=1 (Kbuild: CONFIG_ALTDMA_BENCH).
 */

#define pr_fmt(fmt) "altdma_bench: " fmt

#include <linux/debugfs.h>
#include <linux/kernel.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "../altdma_bench.h"
#include "bench.h"

/* guards out_buf and serialises the commands */
static DEFINE_MUTEX(bench_lock);
static char out_buf[ALTDMA_BENCH_OUT_MAX];
static struct dentry *bench_file;

static int bench_ul(const char *val, unsigned long *v)
{
	return kstrtoul(val, 0, v);
}

static int bench_kv(struct altdma_bench_args *a, char *key, char *val)
{
	unsigned long v;

	if (!strcmp(key, "dev")) {
		if (a->dev)
			return -EINVAL;
		a->dev = bus_find_device_by_name(&pci_bus_type, NULL, val);
		return a->dev ? 0 : -ENODEV;
	}
	if (bench_ul(val, &v))
		return -EINVAL;
	if (!strcmp(key, "size"))
		a->size = v;
	else if (!strcmp(key, "off"))
		a->off = v;
	else if (!strcmp(key, "threads"))
		a->threads = v;
	else if (!strcmp(key, "iters"))
		a->iters = v;
	else if (!strcmp(key, "bufs"))
		a->bufs = min_t(unsigned long, v, ALTDMA_BENCH_BUFS_MAX + 1);
	else if (!strcmp(key, "untrusted"))
		a->untrusted = v;
	else if (!strcmp(key, "npages"))
		a->npages = v;
	else if (!strcmp(key, "nfill"))
		a->nfill = v;
	else if (!strcmp(key, "budget_ms"))
		a->budget_ms = v;
	else if (!strcmp(key, "seed"))
		a->seed = v;
	else if (!strcmp(key, "kernel"))
		a->kernel = v;
	else if (!strcmp(key, "nocache"))
		a->nocache = v;
	else
		return -EINVAL;
	return 0;
}

static int bench_parse(char *args, struct altdma_bench_args *a)
{
	char *tok, *val;
	int ret;

	*a = (struct altdma_bench_args) {
		.size = PAGE_SIZE, .threads = 1, .iters = 1000, .bufs = 1,
		.npages = 1,
		.nfill = 1UL << 18, .budget_ms = 10000, .seed = 1,
	};
	while ((tok = strsep(&args, " \t\n"))) {
		if (!*tok)
			continue;
		val = strchr(tok, '=');
		if (!val) {
			pr_err("argument %s: expected key=value\n", tok);
			return -EINVAL;
		}
		*val++ = '\0';
		ret = bench_kv(a, tok, val);
		if (ret) {
			pr_err("argument %s=%s refused (%d)\n", tok, val, ret);
			return ret;
		}
	}
	if (!a->threads || a->threads > num_online_cpus() || !a->iters ||
	    !a->size || a->off >= PAGE_SIZE || !a->npages || !a->bufs ||
	    a->bufs > ALTDMA_BENCH_BUFS_MAX)
		return -EINVAL;
	return 0;
}

static int run_cmd(const char *cmd, struct altdma_bench_args *a)
{
	if (!strcmp(cmd, "iova-fast"))
		return altdma_bench_iova_fast(a, out_buf, sizeof(out_buf));
	if (!strcmp(cmd, "iova-frag"))
		return altdma_bench_iova_frag(a, out_buf, sizeof(out_buf));
	if (!a->dev || !dev_is_pci(a->dev))
		return -EINVAL;
	if (!strcmp(cmd, "map"))
		return altdma_bench_map(a, out_buf, sizeof(out_buf));
	if (!strcmp(cmd, "floor"))
		return altdma_bench_floor(a, out_buf, sizeof(out_buf));
	if (!strcmp(cmd, "mem"))
		return altdma_bench_mem(a, out_buf, sizeof(out_buf));
	return -EINVAL;
}

static ssize_t bench_write(struct file *file, const char __user *ubuf,
			   size_t count, loff_t *ppos)
{
	struct altdma_bench_args a;
	char *buf, *args, *cmd;
	int ret;

	if (count >= 256)
		return -EINVAL;
	buf = memdup_user_nul(ubuf, count);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	args = strim(buf);
	cmd = strsep(&args, " \t");
	mutex_lock(&bench_lock);
	out_buf[0] = '\0';
	ret = bench_parse(args, &a);
	if (!ret)
		ret = run_cmd(cmd, &a);
	if (ret)
		scnprintf(out_buf, sizeof(out_buf), "error=%d\n", ret);
	mutex_unlock(&bench_lock);
	put_device(a.dev);
	kfree(buf);
	return ret ? ret : count;
}

static ssize_t bench_read(struct file *file, char __user *ubuf, size_t count,
			  loff_t *ppos)
{
	ssize_t ret;

	mutex_lock(&bench_lock);
	ret = simple_read_from_buffer(ubuf, count, ppos, out_buf,
				      strlen(out_buf));
	mutex_unlock(&bench_lock);
	return ret;
}

static const struct file_operations bench_fops = {
	.owner = THIS_MODULE,
	.write = bench_write,
	.read = bench_read,
	.llseek = default_llseek,
};

/**
 * altdma_bench_init() - create /sys/kernel/debug/altdma_bench
 *
 * Context: process context (module init).
 */
void altdma_bench_init(void)
{
	bench_file = debugfs_create_file("altdma_bench", 0600, NULL, NULL,
					 &bench_fops);
}

/**
 * altdma_bench_exit() - remove the command file (waits for a running one)
 *
 * Context: process context (module exit).
 */
void altdma_bench_exit(void)
{
	debugfs_remove(bench_file);
}
