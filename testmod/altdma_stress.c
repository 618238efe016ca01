// SPDX-License-Identifier: GPL-2.0-only
/*
 * altdma_stress: a test driver that uses the DMA API on real PCI devices
 * attached to altdma, the way a driver would, and checks every mapping
 * through the IOMMU: what the device's domain translates each IOVA page
 * to (iommu_iova_to_phys()) is the memory the device would reach, so the
 * bytes there are compared with the buffer (the "device view").
 *
 * It runs one mode when loaded and fails the load (-EIO) if a check
 * failed; the figures are printed as one "altdma_stress: <mode>: ..." line.
 *
 *   mode=stress   threads= kthreads over the devices of devs=, iters= rounds
 *                 each (bound by work done, not by time):
 *                 random single, scatter-gather and coherent mappings, of
 *                 random sizes, offsets and directions, some held while
 *                 others come and go; random syncs; translation and every
 *                 byte checked, after the CPU and after the "device" wrote
 *   mode=misuse   on the first device: a double unmap, a wrong-size unmap,
 *                 an unmap of a never-mapped address, a sync of an
 *                 unmapped address, an unmap with the wrong direction and a
 *                 map never unmapped (kept until the module is removed)
 *   mode=faults   sweep every allocation point of a map_page, a bounced
 *                 map_page, a map_sg and an alloc_coherent on the first
 *                 device (fail-nth, see below): each failure returns an
 *                 error or is survived, the next call succeeds
 *   mode=faults:attach  the same over altdma's attach of the first device
 *                 (not attached; bounce=force inval=deferred), each
 *                 followed by a clean attach and detach
 *   mode=exhaust  fill the device's IOVA space, then its bounce pool, until
 *                 a map fails; free all; fill again: the same count
 *   mode=seed002  one coherent buffer kept, maps= (10^6) streaming maps on
 *                 the first device: none fails, each translates right
 *   mode=untrusted  on a device altdma treats as untrusted: sub-granule
 *                 buffers bounced, padding zero on both sides, aligned
 *                 buffers not bounced, nothing translated after an unmap
 *   mode=mark     mark the first device untrusted (pci_dev->untrusted), as
 *                 firmware does for an external-facing port; attach after
 *   mode=coherent  issue 18 on the first device: rounds= rounds of 100
 *                 buffers of random sizes (1 B to 64 KiB) from
 *                 dma_alloc_coherent(), dma_alloc_attrs() with attributes
 *                 and dma_alloc_pages(), zeroed, filled, translated right,
 *                 no two overlapping, freed in random order: each free
 *                 leaves nothing of its buffer translated
 *   mode=churn    issue 13 on the first device: maps= (10^6) map/unmap
 *                 pairs of one page, a few in flight: none fails (the VM
 *                 reads the slab's growth around it)
 *   mode=pttables issue 14 item 9 on the first device (attached with
 *                 inval=deferred): rounds= map/unmap pairs of one buffer
 *                 of 4 MiB less a page; each unmap clears a whole 2 MiB
 *                 block, whose page-table page the IOMMU driver (VT-d)
 *                 frees through altdma's flush queue. Waits for the
 *                 queue's timer; the VM reads nr_iommu_pages around it
 *                 (6.11+)
 *
 * Only for test machines: it maps memory for a device it does not drive.
 */

#define pr_fmt(fmt) "altdma_stress: " fmt

#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/iommu.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/prandom.h>
#include <linux/scatterlist.h>
#include <linux/sched.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vmalloc.h>

#include "altdma_api.h"

static char *mode = "stress";
module_param(mode, charp, 0444);
MODULE_PARM_DESC(mode, "stress, misuse, faults, exhaust, seed002, untrusted, mark, coherent, churn or pttables");

static char *devs;
module_param(devs, charp, 0444);
MODULE_PARM_DESC(devs, "PCI devices attached to altdma, comma-separated");

static unsigned int threads = 4;
module_param(threads, uint, 0444);
MODULE_PARM_DESC(threads, "stress: kthreads");

static unsigned int iters = 5000;
module_param(iters, uint, 0444);
MODULE_PARM_DESC(iters, "stress: rounds of random operations per thread");

static unsigned int maps = 1000000;
module_param(maps, uint, 0444);
MODULE_PARM_DESC(maps, "seed002: streaming maps; churn: map/unmap pairs");

static unsigned int seed = 1;
module_param(seed, uint, 0444);
MODULE_PARM_DESC(seed, "stress and coherent: random seed");

static unsigned int rounds = 20;
module_param(rounds, uint, 0444);
MODULE_PARM_DESC(rounds, "coherent: rounds of 100 allocations; pttables: map/unmap pairs of 4 MiB");

#define ST_MAX_DEVS	4
#define ST_MAX_THREADS	16
#define ST_HELD		8
#define ST_SG_MAX	6

/**
 * struct st_dev - a device under test
 * @dev: the PCI device (a reference is held)
 * @dom: the domain altdma attached it to
 */
struct st_dev {
	struct device *dev;
	struct iommu_domain *dom;
};

/**
 * struct st_map - a single mapping and what its buffer must hold
 * @pg: its pages
 * @order: their order
 * @off: offset of the buffer in @pg
 * @len: its length
 * @dir: direction
 * @dma: device address
 * @pat: pattern the device view and, after unmap, the buffer must hold
 */
struct st_map {
	struct page *pg;
	unsigned int order;
	size_t off;
	size_t len;
	enum dma_data_direction dir;
	dma_addr_t dma;
	u32 pat;
};

/**
 * struct st_worker - one stress kthread
 * @d: its device
 * @rnd: its random state
 * @held: mappings kept live across operations
 * @nheld: entries in @held
 * @ops: DMA API calls made
 * @bytes: bytes compared through the translation or after the DMA
 * @errors: failed checks
 * @done: completed when the thread ends
 * @id: its number
 */
struct st_worker {
	struct st_dev *d;
	struct rnd_state rnd;
	struct st_map held[ST_HELD];
	unsigned int nheld;
	u64 ops;
	u64 bytes;
	u64 errors;
	struct completion done;
	int id;
};

static struct st_dev st_devs[ST_MAX_DEVS];
static unsigned int st_ndevs;
static struct page *leak_pg;

/* ---- patterns and the device view ---- */

static u8 pat_byte(u32 pat, size_t i)
{
	return (u8)(pat + i * 131 + (i >> 8));
}

static void pat_fill(u8 *p, size_t len, u32 pat)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = pat_byte(pat, i);
}

/* The offset of the first byte of @p that does not hold @pat, or -1. */
static long pat_check(const u8 *p, size_t len, u32 pat)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != pat_byte(pat, i))
			return i;
	return -1;
}

/* What the device reaches at @dma, or NULL if nothing is mapped there. */
static u8 *xlate(struct st_dev *d, dma_addr_t dma)
{
	phys_addr_t phys = iommu_iova_to_phys(d->dom, dma);

	return phys ? phys_to_virt(phys) : NULL;
}

enum view_op { VIEW_CHECK, VIEW_WRITE };

/*
 * Walk [@dma, @dma + @len) a page at a time through the translation: check
 * the device view holds @pat (from byte @pos of the pattern), or write
 * @pat there as the device would. Returns the bytes done, or -1 when
 * something is not mapped or does not match.
 */
static long view(struct st_dev *d, dma_addr_t dma, size_t len, u32 pat,
		 size_t pos, enum view_op op)
{
	size_t done = 0, n, i;
	u8 *p;

	while (done < len) {
		n = min_t(size_t, len - done,
			  PAGE_SIZE - ((dma + done) & (PAGE_SIZE - 1)));
		p = xlate(d, dma + done);
		if (!p) {
			pr_err("%s: dma %pad + %zu translates to nothing\n",
			       dev_name(d->dev), &dma, done);
			return -1;
		}
		for (i = 0; i < n; i++) {
			if (op == VIEW_WRITE) {
				p[i] = pat_byte(pat, pos + done + i);
			} else if (p[i] != pat_byte(pat, pos + done + i)) {
				pr_err("%s: dma %pad byte %zu: device sees %02x, expected %02x\n",
				       dev_name(d->dev), &dma, done + i, p[i],
				       pat_byte(pat, pos + done + i));
				return -1;
			}
		}
		done += n;
	}
	return done;
}

/* ---- devices ---- */

static int get_devs(void)
{
	char *buf, *p, *name;
	struct device *dev;
	int ret = 0;

	if (!devs || !*devs) {
		pr_err("devs= is required\n");
		return -EINVAL;
	}
	buf = kstrdup(devs, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	p = buf;
	while ((name = strsep(&p, ",")) && st_ndevs < ST_MAX_DEVS) {
		dev = bus_find_device_by_name(&pci_bus_type, NULL, name);
		if (!dev) {
			pr_err("%s: no such PCI device\n", name);
			ret = -ENODEV;
			break;
		}
		st_devs[st_ndevs].dev = dev;
		st_devs[st_ndevs++].dom = iommu_get_domain_for_dev(dev);
	}
	kfree(buf);
	return ret;
}

static void put_devs(void)
{
	while (st_ndevs)
		put_device(st_devs[--st_ndevs].dev);
}

/* An attached device sits in altdma's unmanaged domain. */
static int check_attached(struct st_dev *d)
{
	if (!d->dom || d->dom->type != IOMMU_DOMAIN_UNMANAGED) {
		pr_err("%s: not attached to altdma (no unmanaged domain)\n",
		       dev_name(d->dev));
		return -EINVAL;
	}
	return 0;
}

/* ---- stress: single mappings ---- */

static u32 rnd(struct st_worker *w)
{
	return prandom_u32_state(&w->rnd);
}

static void err(struct st_worker *w, const char *what, dma_addr_t dma)
{
	w->errors++;
	if (w->errors <= 5)
		pr_err("thread %d, %s: %s at dma %pad\n", w->id,
		       dev_name(w->d->dev), what, &dma);
}

static u8 *map_buf(const struct st_map *m)
{
	return (u8 *)page_address(m->pg) + m->off;
}

/* Map a random buffer; its pages, offset, size and direction are random. */
static int single_map(struct st_worker *w, struct st_map *m)
{
	size_t cap;
	long n;

	m->order = rnd(w) % 3;
	cap = PAGE_SIZE << m->order;
	m->pg = alloc_pages(GFP_KERNEL, m->order);
	if (!m->pg)
		return -ENOMEM;
	m->off = rnd(w) % 4 ? rnd(w) % cap : 0;
	m->len = rnd(w) % 4 ? 1 + rnd(w) % (cap - m->off) : cap - m->off;
	m->dir = rnd(w) % 3;	/* DMA_BIDIRECTIONAL, _TO_DEVICE, _FROM_ */
	m->pat = rnd(w);
	pat_fill(map_buf(m), m->len, m->pat);
	m->dma = dma_map_page(w->d->dev, m->pg, m->off, m->len, m->dir);
	w->ops++;
	if (dma_mapping_error(w->d->dev, m->dma)) {
		err(w, "map_page failed", 0);
		__free_pages(m->pg, m->order);
		return -ENOMEM;
	}
	if (m->dir != DMA_FROM_DEVICE) {
		n = view(w->d, m->dma, m->len, m->pat, 0, VIEW_CHECK);
		if (n < 0)
			err(w, "device view of a new mapping", m->dma);
		else
			w->bytes += n;
	}
	if (m->dir != DMA_TO_DEVICE) {
		/* the device writes a new pattern */
		m->pat = rnd(w);
		if (view(w->d, m->dma, m->len, m->pat, 0, VIEW_WRITE) < 0)
			err(w, "device write", m->dma);
	}
	return 0;
}

/* A sync round trip on a mapping the device may write. */
static void single_sync(struct st_worker *w, struct st_map *m)
{
	struct device *dev = w->d->dev;
	long n;

	dma_sync_single_for_cpu(dev, m->dma, m->len, m->dir);
	w->ops++;
	if (pat_check(map_buf(m), m->len, m->pat) >= 0)
		err(w, "CPU view after sync_for_cpu", m->dma);
	else
		w->bytes += m->len;
	if (m->dir != DMA_BIDIRECTIONAL)
		return;
	/* the CPU writes, then gives the buffer back to the device */
	m->pat = rnd(w);
	pat_fill(map_buf(m), m->len, m->pat);
	dma_sync_single_for_device(dev, m->dma, m->len, m->dir);
	w->ops++;
	n = view(w->d, m->dma, m->len, m->pat, 0, VIEW_CHECK);
	if (n < 0)
		err(w, "device view after sync_for_device", m->dma);
	else
		w->bytes += n;
}

/* Check the device view again, unmap, check the buffer, free. */
static void single_unmap(struct st_worker *w, struct st_map *m)
{
	long n = view(w->d, m->dma, m->len, m->pat, 0, VIEW_CHECK);

	if (n < 0)
		err(w, "device view before unmap", m->dma);
	else
		w->bytes += n;
	dma_unmap_page(w->d->dev, m->dma, m->len, m->dir);
	w->ops++;
	if (m->dir != DMA_TO_DEVICE) {
		if (pat_check(map_buf(m), m->len, m->pat) >= 0)
			err(w, "buffer after unmap does not hold the device's data",
			    m->dma);
		else
			w->bytes += m->len;
	}
	__free_pages(m->pg, m->order);
}

static void op_single(struct st_worker *w)
{
	struct st_map m;

	if (single_map(w, &m))
		return;
	if (m.dir != DMA_TO_DEVICE && rnd(w) % 2)
		single_sync(w, &m);
	if (w->nheld < ST_HELD && rnd(w) % 2) {
		w->held[w->nheld++] = m;
		return;
	}
	single_unmap(w, &m);
}

/* Unmap a random held mapping (checked first: nobody may have taken it). */
static void op_release_held(struct st_worker *w)
{
	unsigned int i;

	if (!w->nheld)
		return;
	i = rnd(w) % w->nheld;
	single_unmap(w, &w->held[i]);
	w->held[i] = w->held[--w->nheld];
}

/* ---- stress: scatter-gather ---- */

/**
 * struct st_sg - a scatter-gather mapping under test
 * @sgl: the list
 * @pg: a page per entry
 * @pat: the pattern of each entry
 * @n: entries
 * @count: DMA segments the map returned
 * @dir: direction
 */
struct st_sg {
	struct scatterlist sgl[ST_SG_MAX];
	struct page *pg[ST_SG_MAX];
	u32 pat[ST_SG_MAX];
	int n;
	int count;
	enum dma_data_direction dir;
};

/*
 * Walk the DMA segments and the entries side by side (merged entries
 * follow each other in IOVA) and check or write each entry's pattern
 * through the translation. Returns bytes done or -1.
 */
static long sg_view(struct st_worker *w, struct st_sg *s, enum view_op op)
{
	struct scatterlist *seg, *ent = s->sgl;
	size_t pos = 0, chunk, left;
	dma_addr_t dma;
	long done = 0;
	int i, e = 0;

	for_each_sg(s->sgl, seg, s->count, i) {
		dma = sg_dma_address(seg);
		left = sg_dma_len(seg);
		while (left) {
			if (e >= s->n)
				return -1;
			chunk = min_t(size_t, left, ent->length - pos);
			if (view(w->d, dma, chunk, s->pat[e], pos, op) < 0)
				return -1;
			dma += chunk;
			left -= chunk;
			pos += chunk;
			done += chunk;
			if (pos == ent->length) {
				ent = sg_next(ent);
				e++;
				pos = 0;
			}
		}
	}
	return e == s->n ? done : -1;
}

static int sg_setup(struct st_worker *w, struct st_sg *s)
{
	size_t off, len;
	int i;

	s->n = 1 + rnd(w) % ST_SG_MAX;
	s->dir = rnd(w) % 3;
	sg_init_table(s->sgl, s->n);
	for (i = 0; i < s->n; i++) {
		s->pg[i] = alloc_page(GFP_KERNEL);
		if (!s->pg[i]) {
			while (i--)
				__free_page(s->pg[i]);
			return -ENOMEM;
		}
		/* whole pages (which merge) or random pieces */
		off = rnd(w) % 2 ? 0 : rnd(w) % PAGE_SIZE;
		len = off ? 1 + rnd(w) % (PAGE_SIZE - off) : PAGE_SIZE;
		s->pat[i] = rnd(w);
		pat_fill((u8 *)page_address(s->pg[i]) + off, len, s->pat[i]);
		sg_set_page(&s->sgl[i], s->pg[i], len, off);
	}
	return 0;
}

static void sg_check_cpu(struct st_worker *w, struct st_sg *s,
			 const char *what)
{
	struct scatterlist *ent;
	int i;

	for_each_sg(s->sgl, ent, s->n, i) {
		if (pat_check(sg_virt(ent), ent->length, s->pat[i]) >= 0) {
			err(w, what, sg_dma_address(s->sgl));
			return;
		}
		w->bytes += ent->length;
	}
}

static void op_sg(struct st_worker *w)
{
	struct device *dev = w->d->dev;
	struct st_sg s;
	long n;
	int i;

	if (sg_setup(w, &s))
		return;
	s.count = dma_map_sg(dev, s.sgl, s.n, s.dir);
	w->ops++;
	if (!s.count) {
		err(w, "map_sg failed", 0);
		goto free;
	}
	if (s.dir != DMA_FROM_DEVICE) {
		n = sg_view(w, &s, VIEW_CHECK);
		if (n < 0)
			err(w, "device view of an sg mapping", sg_dma_address(s.sgl));
		else
			w->bytes += n;
	}
	if (s.dir != DMA_TO_DEVICE) {
		for (i = 0; i < s.n; i++)
			s.pat[i] = rnd(w);
		if (sg_view(w, &s, VIEW_WRITE) < 0)
			err(w, "device write to an sg mapping", sg_dma_address(s.sgl));
		if (rnd(w) % 2) {
			dma_sync_sg_for_cpu(dev, s.sgl, s.n, s.dir);
			w->ops++;
			sg_check_cpu(w, &s, "sg CPU view after sync_sg_for_cpu");
		}
	}
	dma_unmap_sg(dev, s.sgl, s.n, s.dir);
	w->ops++;
	if (s.dir != DMA_TO_DEVICE)
		sg_check_cpu(w, &s, "sg buffer after unmap_sg");
free:
	for (i = 0; i < s.n; i++)
		__free_page(s.pg[i]);
}

/* ---- stress: coherent memory ---- */

static void op_coherent(struct st_worker *w)
{
	struct device *dev = w->d->dev;
	size_t size = 1 + rnd(w) % (4 * PAGE_SIZE);
	u32 pat = rnd(w);
	dma_addr_t dma;
	long n;
	u8 *cpu;

	cpu = dma_alloc_coherent(dev, size, &dma, GFP_KERNEL);
	w->ops++;
	if (!cpu) {
		err(w, "alloc_coherent failed", 0);
		return;
	}
	/* coherent memory is never bounced: the device reaches @cpu itself */
	if (xlate(w->d, dma) != cpu)
		err(w, "coherent memory translates elsewhere", dma);
	pat_fill(cpu, size, pat);
	n = view(w->d, dma, size, pat, 0, VIEW_CHECK);
	if (n < 0)
		err(w, "device view of coherent memory", dma);
	else
		w->bytes += n;
	pat = rnd(w);
	if (view(w->d, dma, size, pat, 0, VIEW_WRITE) < 0 ||
	    pat_check(cpu, size, pat) >= 0)
		err(w, "CPU view of what the device wrote", dma);
	else
		w->bytes += size;
	dma_free_coherent(dev, size, cpu, dma);
	w->ops++;
}

static int stress_thread(void *arg)
{
	struct st_worker *w = arg;
	unsigned int i;
	u32 r;

	for (i = 0; i < iters && !w->errors; i++) {
		r = rnd(w) % 8;
		if (r < 3)
			op_single(w);
		else if (r < 5)
			op_sg(w);
		else if (r < 6)
			op_coherent(w);
		else
			op_release_held(w);
		cond_resched();
	}
	while (w->nheld)
		single_unmap(w, &w->held[--w->nheld]);
	complete(&w->done);
	return 0;
}

static int run_stress(void)
{
	struct st_worker *ws;
	struct task_struct *t;
	u64 ops = 0, bytes = 0, errors = 0;
	unsigned int i, n = clamp(threads, 1U, (unsigned int)ST_MAX_THREADS);

	for (i = 0; i < st_ndevs; i++)
		if (check_attached(&st_devs[i]))
			return -EINVAL;
	ws = kcalloc(n, sizeof(*ws), GFP_KERNEL);
	if (!ws)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		ws[i].id = i;
		ws[i].d = &st_devs[i % st_ndevs];
		prandom_seed_state(&ws[i].rnd, seed * 1000003ULL + i);
		init_completion(&ws[i].done);
		t = kthread_run(stress_thread, &ws[i], "altdma_stress/%u", i);
		if (IS_ERR(t)) {
			ws[i].errors++;
			complete(&ws[i].done);
		}
	}
	for (i = 0; i < n; i++) {
		wait_for_completion(&ws[i].done);
		ops += ws[i].ops;
		bytes += ws[i].bytes;
		errors += ws[i].errors;
	}
	kfree(ws);
	pr_info("stress: %u threads on %u devices, %u rounds each: ops=%llu bytes_verified=%llu errors=%llu\n",
		n, st_ndevs, iters, ops, bytes, errors);
	return errors ? -EIO : 0;
}

/* ---- misuse ---- */

/**
 * struct misuse - state of the misuse run
 * @d: the device
 * @pg: a page the mappings use
 * @bad: failed checks
 */
struct misuse {
	struct st_dev *d;
	struct page *pg;
	int bad;
};

static void mis_check(struct misuse *ms, bool ok, const char *what)
{
	if (!ok) {
		ms->bad++;
		pr_err("misuse: %s\n", what);
	}
}

/* A refused unmap left the mapping whole: translation and bytes. */
static void mis_intact(struct misuse *ms, dma_addr_t dma, size_t len, u32 pat)
{
	mis_check(ms, view(ms->d, dma, len, pat, 0, VIEW_CHECK) == len,
		  "a refused call changed the mapping");
}

static void mis_double_unmap(struct misuse *ms, dma_addr_t *freed)
{
	struct device *dev = ms->d->dev;
	dma_addr_t dma = dma_map_page(dev, ms->pg, 0x100, 512, DMA_TO_DEVICE);

	mis_check(ms, !dma_mapping_error(dev, dma), "map for the double unmap");
	dma_unmap_page(dev, dma, 512, DMA_TO_DEVICE);
	dma_unmap_page(dev, dma, 512, DMA_TO_DEVICE);	/* misuse 1 */
	*freed = dma;
}

static void mis_wrong_size(struct misuse *ms)
{
	struct device *dev = ms->d->dev;
	u8 *buf = page_address(ms->pg);
	dma_addr_t dma;

	dma = dma_map_page(dev, ms->pg, 0x200, 1000, DMA_BIDIRECTIONAL);
	mis_check(ms, !dma_mapping_error(dev, dma), "map for the wrong size");
	view(ms->d, dma, 1000, 0x5a5a, 0, VIEW_WRITE);
	dma_unmap_page(dev, dma, 999, DMA_BIDIRECTIONAL);	/* misuse 2 */
	mis_intact(ms, dma, 1000, 0x5a5a);
	dma_unmap_page(dev, dma, 1000, DMA_BIDIRECTIONAL);
	mis_check(ms, pat_check(buf + 0x200, 1000, 0x5a5a) < 0,
		  "data after the right unmap");
}

static void mis_never_mapped(struct misuse *ms)
{
	dma_addr_t dma;

	/* a low IOVA page nothing translates (the allocator works top-down) */
	for (dma = 0x10000; dma < 0x1000000; dma += PAGE_SIZE)
		if (!iommu_iova_to_phys(ms->d->dom, dma))
			break;
	dma_unmap_page(ms->d->dev, dma, PAGE_SIZE, DMA_TO_DEVICE); /* misuse 3 */
}

static void mis_wrong_dir(struct misuse *ms)
{
	struct device *dev = ms->d->dev;
	u8 *buf = page_address(ms->pg);
	dma_addr_t dma;

	pat_fill(buf + 0x800, 2048, 0x77);
	dma = dma_map_page(dev, ms->pg, 0x800, 2048, DMA_TO_DEVICE);
	mis_check(ms, !dma_mapping_error(dev, dma), "map for the wrong direction");
	dma_unmap_page(dev, dma, 2048, DMA_FROM_DEVICE);	/* misuse 5 */
	mis_intact(ms, dma, 2048, 0x77);
	dma_unmap_page(dev, dma, 2048, DMA_TO_DEVICE);
	mis_check(ms, pat_check(buf + 0x800, 2048, 0x77) < 0,
		  "a TO_DEVICE buffer changed");
}

static int run_misuse(void)
{
	struct misuse ms = { .d = &st_devs[0] };
	struct device *dev = ms.d->dev;
	dma_addr_t freed, leaked;

	if (check_attached(ms.d))
		return -EINVAL;
	ms.pg = alloc_page(GFP_KERNEL | __GFP_ZERO);
	leak_pg = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!ms.pg || !leak_pg)
		goto nomem;
	mis_double_unmap(&ms, &freed);
	mis_wrong_size(&ms);
	mis_never_mapped(&ms);
	/* misuse 4: a sync of the address unmapped above */
	mis_check(&ms, !iommu_iova_to_phys(ms.d->dom, freed),
		  "an unmapped address still translates");
	dma_sync_single_for_cpu(dev, freed, 512, DMA_TO_DEVICE);
	mis_wrong_dir(&ms);
	/* misuse 6: a map never unmapped (its page is freed at rmmod) */
	leaked = dma_map_page(dev, leak_pg, 0x40, 100, DMA_BIDIRECTIONAL);
	mis_check(&ms, !dma_mapping_error(dev, leaked), "map to leak");
	__free_page(ms.pg);
	pr_info("misuse: %s: 6 cases, leaked mapping at dma %pad, %d failed checks\n",
		dev_name(dev), &leaked, ms.bad);
	return ms.bad ? -EIO : 0;
nomem:
	if (ms.pg)
		__free_page(ms.pg);
	return -ENOMEM;
}

/* ---- fault injection ---- */

/*
 * The sweep fails the n-th fault-injectable allocation (failslab,
 * fail_page_alloc) of this task inside a window around one DMA API call
 * (current->fail_nth, as /proc/self/fail-nth does), for n = 1, 2, ...
 * until a call completes without reaching the n-th: every allocation
 * point on the call's path is failed once. fail_function on altdma's
 * ALLOW_ERROR_INJECTION hooks is not used here: on 6.1 its kprobe handler
 * runs in int3 (NMI-like) context, where task-filter never matches and
 * should_fail() takes a lock lockdep reports.
 */
#ifdef CONFIG_FAULT_INJECTION
static unsigned int fi_n, fi_left;

static void fi_begin(void)
{
	WRITE_ONCE(current->fail_nth, fi_n);
}

static void fi_end(void)
{
	fi_left = READ_ONCE(current->fail_nth);
	WRITE_ONCE(current->fail_nth, 0);
}
#else
static void fi_begin(void) { }
static void fi_end(void) { }
#endif

/*
 * One call of each kind, checked; 0, -ENOMEM when the map or allocation
 * was refused (cleanly), -EIO when a check failed. Buffers are allocated
 * outside the window.
 */
static int fop_single(struct st_dev *d, size_t off, size_t len)
{
	struct page *pg = alloc_page(GFP_KERNEL);
	dma_addr_t dma;
	int ret = 0;

	if (!pg)
		return -EIO;
	pat_fill((u8 *)page_address(pg) + off, len, 0x33);
	fi_begin();
	dma = dma_map_page(d->dev, pg, off, len, DMA_BIDIRECTIONAL);
	fi_end();
	if (dma_mapping_error(d->dev, dma)) {
		ret = -ENOMEM;
	} else {
		if (view(d, dma, len, 0x33, 0, VIEW_CHECK) != len)
			ret = -EIO;
		dma_unmap_page(d->dev, dma, len, DMA_BIDIRECTIONAL);
	}
	__free_page(pg);
	return ret;
}

static int fop_aligned(struct st_dev *d)
{
	return fop_single(d, 0, PAGE_SIZE);
}

static int fop_unaligned(struct st_dev *d)
{
	return fop_single(d, 0x80, 300);
}

static int fop_sg(struct st_dev *d)
{
	struct scatterlist sgl[3];
	struct page *pg[3];
	int i, count, ret = 0;

	sg_init_table(sgl, 3);
	for (i = 0; i < 3; i++) {
		pg[i] = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!pg[i]) {
			while (i--)
				__free_page(pg[i]);
			return -EIO;
		}
		sg_set_page(&sgl[i], pg[i], i == 1 ? 700 : PAGE_SIZE,
			    i == 1 ? 0x10 : 0);
	}
	fi_begin();
	count = dma_map_sg(d->dev, sgl, 3, DMA_TO_DEVICE);
	fi_end();
	if (!count)
		ret = -ENOMEM;
	else
		dma_unmap_sg(d->dev, sgl, 3, DMA_TO_DEVICE);
	for (i = 0; i < 3; i++)
		__free_page(pg[i]);
	return ret;
}

static int fop_coherent(struct st_dev *d)
{
	dma_addr_t dma;
	void *cpu;
	int ret = 0;

	fi_begin();
	cpu = dma_alloc_coherent(d->dev, 5000, &dma, GFP_KERNEL);
	fi_end();
	if (!cpu)
		return -ENOMEM;
	memset(cpu, 0x44, 5000);
	if (view(d, dma, 5000, 0, 0, VIEW_WRITE) != 5000 ||
	    xlate(d, dma) != cpu)
		ret = -EIO;
	dma_free_coherent(d->dev, 5000, cpu, dma);
	return ret;
}

static const struct {
	const char *name;
	int (*fn)(struct st_dev *d);
} fops[] __maybe_unused = {
	{ "map_page", fop_aligned },
	{ "map_page (bounced)", fop_unaligned },
	{ "map_sg", fop_sg },
	{ "alloc_coherent", fop_coherent },
};

/**
 * struct fi_tally - what a sweep saw
 * @faults: allocations failed (each a different point on the path)
 * @errors: failures the call returned as an error
 * @absorbed: failures the call survived (a fallback) and succeeded
 * @bad: failed checks
 */
struct fi_tally {
	int faults;
	int errors;
	int absorbed;
	int bad;
};

#ifdef CONFIG_FAULT_INJECTION
/* Sweep one map/alloc call; the call right after each fault must work. */
static void fi_sweep_op(struct st_dev *d, int i, struct fi_tally *t)
{
	int n, first, again, faults = 0;

	for (n = 1; n < 1000; n++) {
		fi_n = n;
		first = fops[i].fn(d);
		fi_n = 0;
		if (fi_left) {
			/* the n-th allocation was not reached: all swept */
			t->bad += first != 0;
			break;
		}
		faults++;
		t->errors += first == -ENOMEM;
		t->absorbed += !first;
		again = fops[i].fn(d);
		t->bad += first == -EIO || again;
		if (first == -EIO || again)
			pr_err("faults: %s, allocation %d failed: %d, then %d\n",
			       fops[i].name, n, first, again);
	}
	t->faults += faults;
	pr_info("faults: %s: %d allocation points failed in turn\n",
		fops[i].name, faults);
}

/* The attach path: altdma's own interface, reached through symbol_get(). */

static bool in_altdma(struct st_dev *d)
{
	struct iommu_domain *dom = iommu_get_domain_for_dev(d->dev);

	return dom && dom->type == IOMMU_DOMAIN_UNMANAGED;
}

static int fi_attach(struct st_dev *d, const char *opts, bool armed)
{
	char req[128];
	int ret;

	snprintf(req, sizeof(req), "%s %s", dev_name(d->dev), opts);
	if (armed)
		fi_begin();
	ret = altdma_attach_request(req);
	if (armed)
		fi_end();
	return ret;
}

static void fi_sweep_attach(struct st_dev *d, const char *opts,
			    struct fi_tally *t)
{
	int n, first, again, faults = 0;

	for (n = 1; n < 5000; n++) {
		fi_n = n;
		first = fi_attach(d, opts, true);
		fi_n = 0;
		if (!fi_left)
			faults++;
		if (first) {
			t->errors += !fi_left;
			t->bad += !!fi_left || in_altdma(d);
		} else {
			t->absorbed += !fi_left;
			t->bad += !in_altdma(d) ||
				  altdma_detach_by_name(dev_name(d->dev));
		}
		/* the next attach and detach work, and leave nothing */
		again = fi_attach(d, opts, false);
		t->bad += again || !in_altdma(d) ||
			  altdma_detach_by_name(dev_name(d->dev)) ||
			  in_altdma(d);
		if (fi_left)
			break;
	}
	t->faults += faults;
	pr_info("faults: attach: %d allocation points failed in turn\n",
		faults);
}

static int run_faults(void)
{
	struct fi_tally t = { };
	struct st_dev *d = &st_devs[0];
	int i;

	if (mode[6] == ':') {
		/* mode=faults:attach: the device must not be attached */
		if (!symbol_get(altdma_attach_request))
			return -ENOENT;
		if (!symbol_get(altdma_detach_by_name)) {
			symbol_put(altdma_attach_request);
			return -ENOENT;
		}
		fi_sweep_attach(d, "bounce=force inval=deferred", &t);
		symbol_put(altdma_detach_by_name);
		symbol_put(altdma_attach_request);
	} else {
		if (check_attached(d))
			return -EINVAL;
		for (i = 0; i < ARRAY_SIZE(fops); i++)
			fi_sweep_op(d, i, &t);
	}
	pr_info("faults: %s: faults=%d errors=%d absorbed=%d bad=%d\n",
		dev_name(d->dev), t.faults, t.errors, t.absorbed, t.bad);
	return t.bad || !t.faults ? -EIO : 0;
}
#else
static int run_faults(void)
{
	pr_err("faults: needs CONFIG_FAULT_INJECTION\n");
	return -EOPNOTSUPP;
}
#endif

/* ---- exhaustion ---- */

#define EX_MAX	4096

/* Map @len-byte buffers at @off until a map fails; returns how many. */
static int ex_fill(struct st_dev *d, struct page **pgs, dma_addr_t *dmas,
		   size_t off, size_t len)
{
	int n;

	for (n = 0; n < EX_MAX; n++) {
		pgs[n] = alloc_page(GFP_KERNEL);
		if (!pgs[n])
			break;
		dmas[n] = dma_map_page(d->dev, pgs[n], off, len, DMA_TO_DEVICE);
		if (dma_mapping_error(d->dev, dmas[n])) {
			__free_page(pgs[n]);
			break;
		}
	}
	return n;
}

static void ex_free(struct st_dev *d, struct page **pgs, dma_addr_t *dmas,
		    int n, size_t len)
{
	while (n--) {
		dma_unmap_page(d->dev, dmas[n], len, DMA_TO_DEVICE);
		__free_page(pgs[n]);
	}
}

/* Fill, free, fill again: the same count, and a failure both times. */
static int ex_round(struct st_dev *d, struct page **pgs, dma_addr_t *dmas,
		    size_t off, size_t len, const char *what)
{
	int n1, n2;

	n1 = ex_fill(d, pgs, dmas, off, len);
	ex_free(d, pgs, dmas, n1, len);
	n2 = ex_fill(d, pgs, dmas, off, len);
	ex_free(d, pgs, dmas, n2, len);
	pr_info("exhaust: %s: %d maps before the first failure, %d after freeing all\n",
		what, n1, n2);
	return n1 > 0 && n1 < EX_MAX && n1 == n2 ? 0 : -EIO;
}

static int run_exhaust(void)
{
	struct st_dev *d = &st_devs[0];
	struct page **pgs;
	dma_addr_t *dmas;
	int ret;

	if (check_attached(d))
		return -EINVAL;
	pgs = kcalloc(EX_MAX, sizeof(*pgs), GFP_KERNEL);
	dmas = kcalloc(EX_MAX, sizeof(*dmas), GFP_KERNEL);
	ret = -ENOMEM;
	if (pgs && dmas) {
		ret = ex_round(d, pgs, dmas, 0, PAGE_SIZE, "IOVA space (whole pages)");
		ret |= ex_round(d, pgs, dmas, 0x10, 100,
				"bounce pool (100-byte buffers)");
	}
	kfree(pgs);
	kfree(dmas);
	return ret ? -EIO : 0;
}

/* ---- seed 002 ---- */

#define S2_INFLIGHT	8

/*
 * One coherent buffer kept for good, maps= streaming maps of 1 to 4 pages
 * (8 in flight) through the device's IOVA space (shrink it with the
 * iova_pages= attach option): none may fail, each must translate to its
 * buffer.
 */
static int run_seed002(void)
{
	struct st_dev *d = &st_devs[0];
	dma_addr_t ring[S2_INFLIGHT] = { }, coh;
	size_t sizes[S2_INFLIGHT];
	unsigned int i, slot, failed = 0, wrong = 0;
	struct page *pg;
	void *cpu;

	if (check_attached(d))
		return -EINVAL;
	pg = alloc_pages(GFP_KERNEL, 2);
	cpu = dma_alloc_coherent(d->dev, 3 * PAGE_SIZE, &coh, GFP_KERNEL);
	if (!pg || !cpu)
		goto nomem;
	for (i = 0; i < maps; i++) {
		slot = i % S2_INFLIGHT;
		if (ring[slot])
			dma_unmap_page(d->dev, ring[slot], sizes[slot],
				       DMA_TO_DEVICE);
		sizes[slot] = (i % 4 + 1) * PAGE_SIZE;
		ring[slot] = dma_map_page(d->dev, pg, 0, sizes[slot],
					  DMA_TO_DEVICE);
		if (dma_mapping_error(d->dev, ring[slot])) {
			ring[slot] = 0;
			failed++;
		} else if (iommu_iova_to_phys(d->dom, ring[slot]) !=
			   page_to_phys(pg)) {
			wrong++;
		}
		if (!(i % 1024))
			cond_resched();
	}
	for (slot = 0; slot < S2_INFLIGHT; slot++)
		if (ring[slot])
			dma_unmap_page(d->dev, ring[slot], sizes[slot],
				       DMA_TO_DEVICE);
	if (iommu_iova_to_phys(d->dom, coh) != virt_to_phys(cpu))
		wrong++;
	dma_free_coherent(d->dev, 3 * PAGE_SIZE, cpu, coh);
	__free_pages(pg, 2);
	pr_info("seed002: %s: %u streaming maps beside one coherent buffer: %u failed, %u translated wrong\n",
		dev_name(d->dev), maps, failed, wrong);
	return failed || wrong ? -EIO : 0;
nomem:
	if (cpu)
		dma_free_coherent(d->dev, 3 * PAGE_SIZE, cpu, coh);
	if (pg)
		__free_pages(pg, 2);
	return -ENOMEM;
}

/* ---- churn (issue 13: bounded memory) ---- */

#define CH_INFLIGHT	4

/*
 * maps= map/unmap pairs of one page, CH_INFLIGHT in flight, on the first
 * device: none may fail. Under policy=wrap each map takes an IOVA not used
 * before, so whatever altdma keeps per IOVA after the unmap shows as slab
 * growth (the VM reads /proc/meminfo around the run).
 */
static int run_churn(void)
{
	struct st_dev *d = &st_devs[0];
	dma_addr_t ring[CH_INFLIGHT];
	unsigned int i, slot, failed = 0;
	struct page *pg;

	if (check_attached(d))
		return -EINVAL;
	pg = alloc_page(GFP_KERNEL);
	if (!pg)
		return -ENOMEM;
	for (slot = 0; slot < CH_INFLIGHT; slot++)
		ring[slot] = DMA_MAPPING_ERROR;
	for (i = 0; i < maps; i++) {
		slot = i % CH_INFLIGHT;
		if (ring[slot] != DMA_MAPPING_ERROR)
			dma_unmap_page(d->dev, ring[slot], PAGE_SIZE,
				       DMA_TO_DEVICE);
		ring[slot] = dma_map_page(d->dev, pg, 0, PAGE_SIZE,
					  DMA_TO_DEVICE);
		if (dma_mapping_error(d->dev, ring[slot])) {
			ring[slot] = DMA_MAPPING_ERROR;
			failed++;
		}
		if (!(i % 1024))
			cond_resched();
	}
	for (slot = 0; slot < CH_INFLIGHT; slot++)
		if (ring[slot] != DMA_MAPPING_ERROR)
			dma_unmap_page(d->dev, ring[slot], PAGE_SIZE,
				       DMA_TO_DEVICE);
	__free_page(pg);
	pr_info("churn: %s: %u of %u map/unmap pairs of one page (%u in flight) done, %u maps failed\n",
		dev_name(d->dev), maps - failed, maps, CH_INFLIGHT, failed);
	return failed ? -EIO : 0;
}

/* ---- pttables (issue 14 item 9) ---- */

/*
 * One mapping of 4 MiB less a page, from the second page of a 4 MiB block:
 * one backend unmap clears at least one whole 2 MiB block of IOVA (the
 * range is aligned to 128 KiB), whose page-table page VT-d then frees; the
 * buffer and its IOVA are never congruent modulo 2 MiB, so no superpage
 * stands in for that table.
 */
static int run_pttables(void)
{
	const size_t len = SZ_4M - PAGE_SIZE;
	struct st_dev *d = &st_devs[0];
	unsigned int i, failed = 0;
	struct page *pg;
	dma_addr_t dma;

	pg = alloc_pages(GFP_KERNEL, get_order(SZ_4M));
	if (!pg)
		return -ENOMEM;
	for (i = 0; i < rounds; i++) {
		dma = dma_map_page(d->dev, pg, PAGE_SIZE, len, DMA_TO_DEVICE);
		if (dma_mapping_error(d->dev, dma)) {
			failed++;
			continue;
		}
		dma_unmap_page(d->dev, dma, len, DMA_TO_DEVICE);
		cond_resched();
	}
	/* the flush queue's timer frees what the last rounds queued */
	msleep(200);
	__free_pages(pg, get_order(SZ_4M));
	pr_info("pttables: %s: %u of %u map/unmap pairs of %zu bytes done, %u maps failed\n",
		dev_name(d->dev), rounds - failed, rounds, len, failed);
	return failed ? -EIO : 0;
}

/* ---- coherent (issue 18) ---- */

#define CO_BUFS		100

/**
 * struct co_buf - one allocation of mode=coherent
 * @cpu: its kernel address
 * @page: its first page (dma_alloc_pages() only)
 * @dma: its DMA address
 * @size: the size asked for (and given to the free)
 * @attrs: attributes of a dma_alloc_attrs() allocation
 * @kind: 0 dma_alloc_coherent(), 1 dma_alloc_attrs(), 2 dma_alloc_pages()
 * @dir: direction of a dma_alloc_pages() allocation
 * @fill: the byte it is filled with
 *
 * Context: the module's init, in process context (mode=coherent).
 */
struct co_buf {
	u8 *cpu;
	struct page *page;
	dma_addr_t dma;
	size_t size;
	unsigned long attrs;
	unsigned int kind;
	enum dma_data_direction dir;
	u8 fill;
};

static const unsigned long co_attrs[] = {
	DMA_ATTR_NO_WARN, DMA_ATTR_WEAK_ORDERING,
	DMA_ATTR_NO_WARN | DMA_ATTR_WEAK_ORDERING,
};

static int co_alloc(struct st_dev *d, struct co_buf *b, struct rnd_state *r)
{
	b->kind = prandom_u32_state(r) % 3;
	b->size = 1 + prandom_u32_state(r) % SZ_64K;
	b->attrs = 0;
	b->dir = DMA_BIDIRECTIONAL;
	b->page = NULL;
	if (b->kind == 0) {
		b->cpu = dma_alloc_coherent(d->dev, b->size, &b->dma,
					    GFP_KERNEL);
	} else if (b->kind == 1) {
		b->attrs = co_attrs[prandom_u32_state(r) % ARRAY_SIZE(co_attrs)];
		b->cpu = dma_alloc_attrs(d->dev, b->size, &b->dma, GFP_KERNEL,
					 b->attrs);
	} else {
		b->dir = prandom_u32_state(r) & 1 ? DMA_TO_DEVICE :
						    DMA_FROM_DEVICE;
		b->page = dma_alloc_pages(d->dev, b->size, &b->dma, b->dir,
					  GFP_KERNEL);
		/* DMA_API_DEBUG wants the address checked, as for a map */
		if (b->page && dma_mapping_error(d->dev, b->dma))
			pr_err("%s: dma_alloc_pages() gave an error address\n",
			       dev_name(d->dev));
		b->cpu = b->page ? page_address(b->page) : NULL;
	}
	if (!b->cpu) {
		pr_err("%s: allocation %u of %zu bytes failed\n",
		       dev_name(d->dev), b->kind, b->size);
		return -ENOMEM;
	}
	if (b->kind != 2 && memchr_inv(b->cpu, 0, b->size)) {
		pr_err("%s: coherent buffer at dma %pad (%zu bytes) not zeroed\n",
		       dev_name(d->dev), &b->dma, b->size);
		return -EIO;
	}
	b->fill = prandom_u32_state(r) | 1;
	memset(b->cpu, b->fill, b->size);
	return 0;
}

static void co_free(struct st_dev *d, struct co_buf *b)
{
	if (b->kind == 2)
		dma_free_pages(d->dev, b->size, b->page, b->dma, b->dir);
	else
		dma_free_attrs(d->dev, b->size, b->cpu, b->dma, b->attrs);
	b->cpu = NULL;
}

/* The physical address of a byte of an allocation, remapped or not. */
static phys_addr_t co_phys(void *cpu)
{
	if (is_vmalloc_addr(cpu))
		return page_to_phys(vmalloc_to_page(cpu)) + offset_in_page(cpu);
	return virt_to_phys(cpu);
}

/* Every page of @b translates to its own memory; nothing overlaps it. */
static int co_check(struct st_dev *d, struct co_buf *bufs, unsigned int n)
{
	struct co_buf *b = &bufs[n];
	size_t off;
	unsigned int i;

	for (off = 0; off < b->size; off += PAGE_SIZE)
		if (iommu_iova_to_phys(d->dom, b->dma + off) !=
		    co_phys(b->cpu + off)) {
			pr_err("%s: dma %pad + %zu does not reach its buffer\n",
			       dev_name(d->dev), &b->dma, off);
			return -EIO;
		}
	for (i = 0; i < n; i++)
		if (b->dma < bufs[i].dma + bufs[i].size &&
		    bufs[i].dma < b->dma + b->size) {
			pr_err("%s: dma %pad (%zu bytes) overlaps dma %pad\n",
			       dev_name(d->dev), &b->dma, b->size,
			       &bufs[i].dma);
			return -EIO;
		}
	return 0;
}

/*
 * Issue 18: coherent buffers of random sizes freed in random order. The
 * VM's /init compares altdma's stats (live mappings, IOVA pages in use)
 * and the debugfs list of live mappings before and after.
 */
static int run_coherent(void)
{
	unsigned int round, i, j, n, order[CO_BUFS], errors = 0, stale = 0;
	struct st_dev *d = &st_devs[0];
	struct rnd_state r;
	struct co_buf *bufs;
	int ret = 0;

	if (check_attached(d))
		return -EINVAL;
	bufs = kcalloc(CO_BUFS, sizeof(*bufs), GFP_KERNEL);
	if (!bufs)
		return -ENOMEM;
	prandom_seed_state(&r, seed);
	for (round = 0; round < rounds && !ret; round++) {
		for (n = 0; n < CO_BUFS && !ret; n++) {
			ret = co_alloc(d, &bufs[n], &r);
			if (!ret)
				ret = co_check(d, bufs, n);
		}
		for (i = 0; i < CO_BUFS; i++)
			order[i] = i;
		for (i = CO_BUFS - 1; i > 0; i--) {
			j = prandom_u32_state(&r) % (i + 1);
			swap(order[i], order[j]);
		}
		for (i = 0; i < CO_BUFS; i++) {
			struct co_buf *b = &bufs[order[i]];

			if (order[i] >= n || !b->cpu)
				continue;
			if (memchr_inv(b->cpu, b->fill, b->size) &&
			    errors++ < 5)
				pr_err("%s: dma %pad lost its pattern\n",
				       dev_name(d->dev), &b->dma);
			co_free(d, b);
			if (iommu_iova_to_phys(d->dom, b->dma) && stale++ < 5)
				pr_err("%s: dma %pad (%zu bytes) still translates after its free\n",
				       dev_name(d->dev), &b->dma, b->size);
		}
		cond_resched();
	}
	kfree(bufs);
	pr_info("coherent: %s: %u rounds of %u allocations freed in random order: %u still translated after the free, %u patterns lost\n",
		dev_name(d->dev), round, CO_BUFS, stale, errors);
	if (ret)
		return ret;
	return stale || errors ? -EIO : 0;
}

/* ---- untrusted ---- */

/* Every byte of the mapped granules outside [@off, @off + @len) is zero. */
static bool padding_zero(struct st_dev *d, dma_addr_t dma, size_t len)
{
	dma_addr_t start = dma & PAGE_MASK, end = PAGE_ALIGN(dma + len), a;
	size_t i;
	u8 *p;

	for (a = start; a < end; a += PAGE_SIZE) {
		p = xlate(d, a);
		if (!p)
			return false;
		for (i = 0; i < PAGE_SIZE; i++)
			if ((a + i < dma || a + i >= dma + len) && p[i])
				return false;
	}
	return true;
}

/* Nothing of [@dma, @dma + @len) translates. */
static bool gone(struct st_dev *d, dma_addr_t dma, size_t len)
{
	dma_addr_t a;

	for (a = dma & PAGE_MASK; a < dma + len; a += PAGE_SIZE)
		if (iommu_iova_to_phys(d->dom, a))
			return false;
	return true;
}

static int untrusted_one(struct st_dev *d, struct page *pg, size_t off,
			 size_t len, enum dma_data_direction dir)
{
	u8 *buf = (u8 *)page_address(pg) + off;
	bool sub = (off | len) & (PAGE_SIZE - 1);
	phys_addr_t phys;
	dma_addr_t dma;
	int bad = 0;

	memset(page_address(pg), 0xee, PAGE_SIZE);
	pat_fill(buf, len, 0x99);
	dma = dma_map_page(d->dev, pg, off, len, dir);
	if (dma_mapping_error(d->dev, dma))
		return 1;
	phys = iommu_iova_to_phys(d->dom, dma);
	/* sub-granule: bounced (the device never sees the 0xee around it) */
	bad += sub == (phys == page_to_phys(pg) + off);
	if (sub)
		bad += !padding_zero(d, dma, len);
	if (dir != DMA_FROM_DEVICE)
		bad += view(d, dma, len, 0x99, 0, VIEW_CHECK) != len;
	dma_unmap_page(d->dev, dma, len, dir);
	bad += !gone(d, dma, len);
	if (bad)
		pr_err("untrusted: off %zu len %zu dir %d: %d failed checks\n",
		       off, len, dir, bad);
	return bad;
}

static int run_untrusted(void)
{
	static const size_t cases[][2] = {
		{ 0, 1 }, { 1, 100 }, { 0x123, 2000 }, { 0xfff, 1 },
		{ 0x800, 0x800 }, { 0, PAGE_SIZE },
	};
	struct st_dev *d = &st_devs[0];
	int i, dir, bad = 0, n = 0;
	struct page *pg;

	if (check_attached(d))
		return -EINVAL;
	pg = alloc_page(GFP_KERNEL);
	if (!pg)
		return -ENOMEM;
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		for (dir = DMA_BIDIRECTIONAL; dir <= DMA_FROM_DEVICE; dir++, n++)
			bad += untrusted_one(d, pg, cases[i][0], cases[i][1],
					     dir);
	__free_page(pg);
	pr_info("untrusted: %s: %d mappings, %d failed checks\n",
		dev_name(d->dev), n, bad);
	return bad ? -EIO : 0;
}

static int run_mark(void)
{
	struct device *dev = st_devs[0].dev;

	to_pci_dev(dev)->untrusted = 1;
	pr_info("mark: %s is now untrusted\n", dev_name(dev));
	return 0;
}

static int __init st_init(void)
{
	int ret = get_devs();

	if (ret)
		goto out;
	if (!strcmp(mode, "stress"))
		ret = run_stress();
	else if (!strcmp(mode, "misuse"))
		ret = run_misuse();
	else if (!strncmp(mode, "faults", 6))
		ret = run_faults();
	else if (!strcmp(mode, "exhaust"))
		ret = run_exhaust();
	else if (!strcmp(mode, "seed002"))
		ret = run_seed002();
	else if (!strcmp(mode, "untrusted"))
		ret = run_untrusted();
	else if (!strcmp(mode, "mark"))
		ret = run_mark();
	else if (!strcmp(mode, "coherent"))
		ret = run_coherent();
	else if (!strcmp(mode, "churn"))
		ret = run_churn();
	else if (!strcmp(mode, "pttables"))
		ret = run_pttables();
	else
		ret = -EINVAL;
out:
	put_devs();
	if (ret && leak_pg) {
		__free_page(leak_pg);
		leak_pg = NULL;
	}
	pr_info("%s: %s\n", mode, ret ? "FAILED" : "passed");
	return ret ? -EIO : 0;
}
module_init(st_init);

static void __exit st_exit(void)
{
	if (leak_pg)
		__free_page(leak_pg);
}
module_exit(st_exit);

MODULE_DESCRIPTION("altdma_stress: a DMA API test driver for devices attached to altdma");
MODULE_LICENSE("GPL");
