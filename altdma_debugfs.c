// SPDX-License-Identifier: GPL-2.0-only
/*
 * altdma's runtime interface, in debugfs:
 *
 *   /sys/kernel/debug/altdma/attach    write "PCI-NAME [key=value...]"
 *   /sys/kernel/debug/altdma/detach    write "PCI-NAME"
 *   /sys/kernel/debug/altdma/devices   one line per attached device
 *   /sys/kernel/debug/altdma/PCI-NAME/stats      counters
 *   /sys/kernel/debug/altdma/PCI-NAME/mappings   live mappings, caller of each
 *   /sys/kernel/debug/altdma/PCI-NAME/iova       IOVA space, fragmentation,
 *                                                 reserved ranges
 *   /sys/kernel/debug/altdma/PCI-NAME/bounce     bounce pool state
 *   /sys/kernel/debug/altdma/PCI-NAME/sanitize   the sanitizer's findings
 *
 * A refused write fails with the errno and one line in the kernel log.
 */

#define pr_fmt(fmt) "altdma: " fmt

#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/kallsyms.h>
#include <linux/math64.h>
#include <linux/rcupdate.h>
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

/*
 * bounce=sanitize: hand-offs checked and findings by kind (cpu_write: the
 * CPU changed a buffer the device owned; dev_outside: the device wrote
 * into the slot's padding; dev_to_device: into a to-device mapping).
 */
static void show_sanitize(struct seq_file *m, const struct altdma_dev_stats *st)
{
	static const char * const kinds[ALTDMA_SAN_KINDS] = {
		"cpu_write", "dev_outside", "dev_to_device",
	};
	int k;

	seq_printf(m, "sanitize_checks: %llu\n", st->san_checks);
	seq_printf(m, "sanitize: %llu", st->san_found_total);
	for (k = 0; k < ALTDMA_SAN_KINDS; k++)
		seq_printf(m, " %s=%llu", kinds[k], st->san_found[k]);
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
	seq_printf(m, "quarantined_live: %llu\n", st.quarantined_live);
	seq_printf(m, "prev_calls: %llu\nprev_avoided: %llu\nprev_spans: %d\n",
		   st.prev_calls, ist.avoided,
		   at->prev ? altdma_prev_spans(at->prev) : 0);
	seq_printf(m, "iova_pages_in_use: %llu\n", ist.pages_in_use);
	seq_printf(m, "cache_hit_rate: %llu.%llu%% (%llu of %llu)\n",
		   permille / 10, permille % 10, ist.cache_hits, lookups);
	seq_printf(m, "iotlb_syncs: %llu\nflush_alls: %llu\ndeferred: %llu\n",
		   st.iotlb_syncs, st.flush_alls, st.deferred);
	if (at->adev->san)
		show_sanitize(m, &st);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(stats);

/* Mappings listed by "mappings", at most (the count is always exact). */
#define ALTDMA_DEBUGFS_MAPPINGS_MAX	2048

static const char * const map_type_names[] = {
	[ALTDMA_MAP_PAGE] = "page",
	[ALTDMA_MAP_SG] = "sg",
	[ALTDMA_MAP_RESOURCE] = "resource",
	[ALTDMA_MAP_COHERENT] = "coherent",
	[ALTDMA_MAP_PAGES] = "pages",
};

static const char * const dir_names[] = {
	[DMA_BIDIRECTIONAL] = "bidi",
	[DMA_TO_DEVICE] = "to_dev",
	[DMA_FROM_DEVICE] = "from_dev",
	[DMA_NONE] = "none",
};

/*
 * The caller of a mapping: its driver's call site (symbols are resolved
 * here, at read time, never when mapping). Without one ("callers" off),
 * the op's return address, usually in the DMA API.
 */
static void show_caller(struct seq_file *m, const struct altdma_map *rec,
			char *sym)
{
	if (rec->site) {
		sprint_symbol(sym, rec->site);
		seq_printf(m, " caller=%s\n", sym);
		return;
	}
	sprint_symbol(sym, rec->caller);
	seq_printf(m, " caller=%s (op return address; callers=0 or not known)\n",
		   sym);
}

static void show_rec(struct seq_file *m, struct altdma_map *rec,
		     unsigned int shift, char *sym)
{
	dma_addr_t iova = altdma_map_iova(rec, shift);
	struct altdma_map_seg *seg;
	struct altdma_seg_iter it;
	unsigned int n, bounced = 0;

	for (seg = altdma_map_segs(rec, &n, &it); seg;
	     seg = altdma_segs_next(&it))
		bounced += !!seg->bounce;
	seq_printf(m, "dma=%pad size=%zu dir=%s type=%s iova=%pad pages=%u bounced=%u",
		   &rec->dma, rec->size,
		   rec->dir < ARRAY_SIZE(dir_names) ? dir_names[rec->dir] : "?",
		   rec->type < ARRAY_SIZE(map_type_names) ?
		   map_type_names[rec->type] : "?",
		   &iova, rec->range.npages, bounced);
	show_caller(m, rec, sym);
}

/*
 * Mapping objects are freed after an RCU grace period and their segment
 * arrays too, so the walk of the IOVA index holds only the RCU read lock;
 * a mapping unmapped while it is printed may show fields of its next
 * life (a snapshot, like the count).
 */
static int mappings_show(struct seq_file *m, void *unused)
{
	struct altdma_attached *at = m->private;
	char sym[KSYM_SYMBOL_LEN];
	struct altdma_iova_range *r;
	unsigned long index, live = 0;

	rcu_read_lock();
	altdma_iova_index_for_each(&at->adev->iovad.index, index, r) {
		if (!altdma_map_live(altdma_map_of(r)))
			continue;
		if (++live <= ALTDMA_DEBUGFS_MAPPINGS_MAX)
			show_rec(m, altdma_map_of(r), at->adev->shift, sym);
	}
	rcu_read_unlock();
	seq_printf(m, "live: %lu (listed: %lu)\n", live,
		   min_t(unsigned long, live, ALTDMA_DEBUGFS_MAPPINGS_MAX));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(mappings);

/* @part / @whole as a percentage with one decimal. */
static void show_pct(struct seq_file *m, const char *key, u64 part, u64 whole)
{
	u64 permille = whole ? div64_u64(part * 1000, whole) : 0;

	seq_printf(m, "%s: %llu.%llu%%\n", key, permille / 10, permille % 10);
}

static void show_space(struct seq_file *m, const char *prefix,
		       const struct altdma_iova_space *sp)
{
	seq_printf(m, "%spages: %lu\n%sfree_pages: %lu\n%sfree_gaps: %lu\n%slargest_gap: %lu\n",
		   prefix, sp->pages, prefix, sp->free_pages, prefix,
		   sp->free_gaps, prefix, sp->largest_gap);
	seq_printf(m, "%s", prefix);
	show_pct(m, "fragmentation", sp->free_pages - sp->largest_gap,
		 sp->free_pages);
}

/* One "reserve:" line per range kept out of the space, as the attach did. */
static int show_reserved(void *arg, u64 first, u64 last, const char *what)
{
	struct seq_file *m = arg;

	seq_printf(m, "reserve: 0x%llx-0x%llx %s\n", first, last, what);
	return 0;
}

static int iova_show(struct seq_file *m, void *unused)
{
	struct altdma_attached *at = m->private;
	struct altdma_iova_domain *iovad = &at->adev->iovad;
	struct altdma_iova_stats ist;
	struct altdma_iova_space sp;

	altdma_iova_get_space(iovad, &sp);
	altdma_iova_get_stats(iovad, &ist);
	seq_printf(m, "policy: %s\ngranule: %lu\n", iovad->policy->name,
		   iovad->granule);
	seq_printf(m, "space: 0x%lx-0x%lx\n", iovad->start_pfn << iovad->shift,
		   ((iovad->end_pfn + 1) << iovad->shift) - 1);
	show_space(m, "", &sp);
	seq_printf(m, "allocated: %lu ranges, %lu pages\n",
		   sp.ranges[ALTDMA_IOVA_ALLOCATED],
		   sp.range_pages[ALTDMA_IOVA_ALLOCATED]);
	seq_printf(m, "cached: %lu ranges, %lu pages\n",
		   sp.ranges[ALTDMA_IOVA_CACHED],
		   sp.range_pages[ALTDMA_IOVA_CACHED]);
	seq_printf(m, "reserved: %lu ranges, %lu pages (quarantined: %llu ranges, %llu pages)\n",
		   sp.ranges[ALTDMA_IOVA_RESERVED],
		   sp.range_pages[ALTDMA_IOVA_RESERVED], ist.quarantined,
		   ist.quarantined_pages);
	altdma_walk_reserved(at->dev, show_reserved, m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(iova);

static int bounce_show(struct seq_file *m, void *unused)
{
	static const char * const kinds[ALTDMA_BOUNCE_REFUSE_KINDS] = {
		"unknown", "double", "middle", "size", "range", "map",
	};
	struct altdma_attached *at = m->private;
	struct altdma_bounce_pool *pool = at->adev->pool;
	struct altdma_iova_space sp;
	struct altdma_bounce_stats st;
	char prefix[24];
	unsigned int i;

	if (!pool) {
		seq_puts(m, "pool: none (this device never bounces)\n");
		return 0;
	}
	altdma_bounce_get_stats(pool, &st);
	seq_printf(m, "pool: %llu bytes, granule %llu, %llu segments\n",
		   st.pool_bytes, st.granule, st.nr_segs);
	seq_printf(m, "granules: %llu\ngranules_in_use: %llu\nhigh_water: %llu\n",
		   st.nr_granules, st.granules_in_use, st.high_water);
	seq_printf(m, "live: %llu\nmaps: %llu\nunmaps: %llu\nsyncs: %llu\nfailed: %llu\n",
		   st.live_mappings, st.maps, st.unmaps, st.syncs, st.failed);
	seq_printf(m, "bytes_to_device: %llu\nbytes_to_cpu: %llu\n",
		   st.bytes_to_device, st.bytes_to_cpu);
	seq_printf(m, "refused: %llu", st.refused_total);
	for (i = 0; i < ALTDMA_BOUNCE_REFUSE_KINDS; i++)
		seq_printf(m, " %s=%llu", kinds[i], st.refused[i]);
	seq_putc(m, '\n');
	for (i = 0; i < pool->nr_segs; i++) {
		altdma_iova_get_space(&pool->segs[i].iovad, &sp);
		seq_printf(m, "seg%u: base %pa\n", i, &pool->segs[i].base);
		snprintf(prefix, sizeof(prefix), "seg%u_", i);
		show_space(m, prefix, &sp);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(bounce);

/*
 * bounce=sanitize: per kind, the findings and the last one (symbols
 * resolved here, at read time).
 */
static int sanitize_show(struct seq_file *m, void *unused)
{
	static const char * const kinds[ALTDMA_SAN_KINDS] = {
		"cpu_write", "dev_outside", "dev_to_device",
	};
	struct altdma_attached *at = m->private;
	struct altdma_san *san = at->adev->san;
	struct altdma_san_report r;
	int k;

	if (!san) {
		seq_puts(m, "sanitize: off (attach with bounce=sanitize)\n");
		return 0;
	}
	seq_printf(m, "checks: %lld\n", (long long)atomic64_read(&san->checks));
	for (k = 0; k < ALTDMA_SAN_KINDS; k++) {
		seq_printf(m, "%s: %lld", kinds[k],
			   (long long)atomic64_read(&san->found[k]));
		if (altdma_san_last(san, k, &r))
			seq_printf(m, " last: dma=%pad size=%zu dir=%s bytes=%ld..%ld changed=%zu mapped_by=%pS found_by=%s caller=%pS from=%pS",
				   &r.dma, r.size, dir_names[r.dir & 3],
				   r.first, r.last, r.changed, (void *)r.site,
				   r.what, (void *)r.caller, (void *)r.found);
		seq_putc(m, '\n');
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(sanitize);

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
 * altdma_debugfs_add() - create an attached device's directory and files
 * @at: the attached device
 *
 * Context: process context, under the attach mutex.
 */
void altdma_debugfs_add(struct altdma_attached *at)
{
	at->dir = debugfs_create_dir(dev_name(at->dev), altdma_debugfs_root);
	debugfs_create_file("stats", 0400, at->dir, at, &stats_fops);
	debugfs_create_file("mappings", 0400, at->dir, at, &mappings_fops);
	debugfs_create_file("iova", 0400, at->dir, at, &iova_fops);
	debugfs_create_file("bounce", 0400, at->dir, at, &bounce_fops);
	debugfs_create_file("sanitize", 0400, at->dir, at, &sanitize_fops);
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
