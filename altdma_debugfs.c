// SPDX-License-Identifier: GPL-2.0-only
/*
 * altdma's runtime interface, in debugfs:
 *
 *   /sys/kernel/debug/altdma/attach    write "PCI-NAME [key=value...]"
 *   /sys/kernel/debug/altdma/detach    write "PCI-NAME"
 *   /sys/kernel/debug/altdma/devices   one line per attached device
 *   /sys/kernel/debug/altdma/PCI-NAME/stats
 *
 * A refused write fails with the errno and one line in the kernel log.
 */

#define pr_fmt(fmt) "altdma: " fmt

#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/math64.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "attach.h"

static struct dentry *altdma_debugfs_root;

static void show_refused(struct seq_file *m, const struct altdma_dev_stats *st)
{
	static const char * const kinds[ALTDMA_REFUSE_KINDS] = {
		[ALTDMA_REFUSE_UNKNOWN] = "unknown",
		[ALTDMA_REFUSE_DOUBLE] = "double",
		[ALTDMA_REFUSE_SIZE] = "size",
		[ALTDMA_REFUSE_DIR] = "direction",
		[ALTDMA_REFUSE_TYPE] = "kind",
	};
	int i;

	seq_printf(m, "refused: %llu", st->refused_total);
	for (i = 0; i < ALTDMA_REFUSE_KINDS; i++)
		seq_printf(m, " %s=%llu", kinds[i], st->refused[i]);
	seq_putc(m, '\n');
}

static int stats_show(struct seq_file *m, void *unused)
{
	struct altdma_attached *at = m->private;
	struct altdma_iova_stats ist;
	struct altdma_dev_stats st;
	u64 lookups, permille = 0;

	altdma_dev_get_stats(at->adev, &st);
	altdma_iova_get_stats(&at->adev->iovad, &ist);
	lookups = ist.cache_hits + ist.cache_misses;
	if (lookups)
		permille = div64_u64(ist.cache_hits * 1000, lookups);
	seq_printf(m, "device: %s\n", dev_name(at->dev));
	seq_printf(m, "options: bounce=%s inval=%s policy=%s iova_pages=%lu bounce_pages=%lu\n",
		   altdma_bounce_names[at->adev->bounce],
		   altdma_inval_names[at->adev->inval],
		   altdma_policy_names[at->opts.wrap], at->opts.iova_pages,
		   at->opts.bounce_pages);
	seq_printf(m, "live: %llu\nmaps: %llu\nunmaps: %llu\nfailed: %llu\n",
		   st.live, st.maps, st.unmaps, st.failed);
	seq_printf(m, "bytes_bounced: %llu\n", st.bytes_bounced);
	show_refused(m, &st);
	seq_printf(m, "quarantined: %llu\n", st.quarantined);
	seq_printf(m, "iova_pages_in_use: %llu\n", ist.pages_in_use);
	seq_printf(m, "cache_hit_rate: %llu.%llu%% (%llu of %llu)\n",
		   permille / 10, permille % 10, ist.cache_hits, lookups);
	seq_printf(m, "iotlb_syncs: %llu\nflush_alls: %llu\ndeferred: %llu\n",
		   st.iotlb_syncs, st.flush_alls, st.deferred);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(stats);

static void show_one(struct altdma_attached *at, void *arg)
{
	seq_printf(arg, "%s\n", dev_name(at->dev));
}

static int devices_show(struct seq_file *m, void *unused)
{
	altdma_attach_for_each(show_one, m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(devices);

/* Copy a short user write into a NUL-terminated kernel string. */
static char *get_request(const char __user *ubuf, size_t len)
{
	if (len > 256)
		return ERR_PTR(-EINVAL);
	return memdup_user_nul(ubuf, len);
}

static ssize_t attach_write(struct file *file, const char __user *ubuf,
			    size_t len, loff_t *ppos)
{
	char *buf;
	int ret;

	buf = get_request(ubuf, len);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	ret = altdma_attach_request(buf);
	kfree(buf);
	return ret ? ret : len;
}

static ssize_t detach_write(struct file *file, const char __user *ubuf,
			    size_t len, loff_t *ppos)
{
	char *buf;
	int ret;

	buf = get_request(ubuf, len);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	ret = altdma_detach_by_name(strim(buf));
	kfree(buf);
	return ret ? ret : len;
}

static const struct file_operations attach_fops = {
	.owner = THIS_MODULE,
	.write = attach_write,
};

static const struct file_operations detach_fops = {
	.owner = THIS_MODULE,
	.write = detach_write,
};

/**
 * altdma_debugfs_init() - create /sys/kernel/debug/altdma
 *
 * Context: process context (module init).
 */
void altdma_debugfs_init(void)
{
	altdma_debugfs_root = debugfs_create_dir("altdma", NULL);
	debugfs_create_file("attach", 0200, altdma_debugfs_root, NULL,
			    &attach_fops);
	debugfs_create_file("detach", 0200, altdma_debugfs_root, NULL,
			    &detach_fops);
	debugfs_create_file("devices", 0400, altdma_debugfs_root, NULL,
			    &devices_fops);
}

/**
 * altdma_debugfs_exit() - remove /sys/kernel/debug/altdma
 *
 * Context: process context (module exit), after every detach.
 */
void altdma_debugfs_exit(void)
{
	debugfs_remove(altdma_debugfs_root);
	altdma_debugfs_root = NULL;
}

/**
 * altdma_debugfs_add() - create an attached device's directory and stats
 * @at: the attached device
 *
 * Context: process context, under the attach mutex.
 */
void altdma_debugfs_add(struct altdma_attached *at)
{
	at->dir = debugfs_create_dir(dev_name(at->dev), altdma_debugfs_root);
	debugfs_create_file("stats", 0400, at->dir, at, &stats_fops);
}

/**
 * altdma_debugfs_remove() - remove an attached device's directory
 * @at: the attached device; readers of its stats are waited for
 *
 * Context: process context, under the attach mutex.
 */
void altdma_debugfs_remove(struct altdma_attached *at)
{
	debugfs_remove(at->dir);
	at->dir = NULL;
}
