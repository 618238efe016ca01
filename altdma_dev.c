// SPDX-License-Identifier: GPL-2.0-only
/*
 * altdma per-device contexts: creation and teardown, the registry the DMA
 * ops find a device's context in, counters and the once-per-kind reports.
 */

#define pr_fmt(fmt) "altdma: " fmt

#include <linux/dma-map-ops.h>
#include <linux/error-injection.h>
#include <linux/hashtable.h>
#include <linux/log2.h>
#include <linux/pci.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/stacktrace.h>

#include "altdma_trace.h"
#include "dma_iommu_ops.h"
#include "prev_layer.h"

/*
 * struct device pointer -> struct altdma_dev, hashed: read under RCU on
 * every DMA call (one short chain walk), changed under altdma_registry_lock.
 */
#define ALTDMA_REGISTRY_BITS	6
static DEFINE_HASHTABLE(altdma_registry, ALTDMA_REGISTRY_BITS);
/* guards changes of altdma_registry */
static DEFINE_SPINLOCK(altdma_registry_lock);

/* Frames searched for the caller of the DMA API wrapper in a report. */
#define ALTDMA_REPORT_FRAMES	12

/**
 * altdma_caller_of() - who called the function @ret returns into
 * @ret: a return address in the current call chain (e.g. the _RET_IP_ of
 *	an op, which is inside the DMA API wrapper when a driver used it)
 *
 * Reports name the driver rather than dma_unmap_page_attrs(): this walks
 * the stack (only when a report is printed) and returns the frame above
 * @ret.
 *
 * Context: any context.
 * Return: the return address one frame above @ret, or 0 if not found.
 */
unsigned long altdma_caller_of(unsigned long ret)
{
	unsigned long entries[ALTDMA_REPORT_FRAMES];
	unsigned int n, i;

	if (!IS_ENABLED(CONFIG_STACKTRACE))
		return 0;
	n = stack_trace_save(entries, ARRAY_SIZE(entries), 0);
	for (i = 0; i + 1 < n; i++)
		if (entries[i] == ret)
			return entries[i + 1];
	return 0;
}

static const char * const refusal_names[ALTDMA_REFUSE_KINDS] = {
	[ALTDMA_REFUSE_UNKNOWN] = "unknown address",
	[ALTDMA_REFUSE_DOUBLE] = "double unmap",
	[ALTDMA_REFUSE_SIZE] = "wrong size",
	[ALTDMA_REFUSE_DIR] = "wrong direction",
	[ALTDMA_REFUSE_TYPE] = "wrong kind of unmap",
};

/**
 * altdma_dev_refuse() - count a refused call and report the first of its kind
 * @adev: the device context
 * @kind: why it was refused
 * @what: the call (e.g. "unmap_page")
 * @addr: the DMA address given
 * @size: the size given (entries for an sg call)
 * @dir: the direction given
 * @caller: return address of the DMA API call
 *
 * One line per kind and device: device, call, address, size, direction,
 * caller. The caller must change nothing else.
 *
 * Context: any context.
 */
void altdma_dev_refuse(struct altdma_dev *adev, enum altdma_refusal kind,
		       const char *what, dma_addr_t addr, size_t size,
		       enum dma_data_direction dir, unsigned long caller)
{
	atomic64_inc(&adev->refused[kind]);
	if (trace_altdma_misuse_enabled())
		trace_altdma_misuse(adev->dev, refusal_names[kind], what, addr,
				    size, dir,
				    altdma_caller_of(caller) ?: caller);
	if (test_and_set_bit(kind, &adev->reported))
		return;
	dev_warn(adev->dev, "altdma: refused %s (%s): dma %pad, size %zu, dir %d; caller %pS (from %pS); nothing unmapped\n",
		 what, refusal_names[kind], &addr, size, dir, (void *)caller,
		 (void *)altdma_caller_of(caller));
}

static bool dev_untrusted(const struct altdma_dev_config *cfg)
{
	if (cfg->untrusted)
		return true;
	return dev_is_pci(cfg->dev) && to_pci_dev(cfg->dev)->untrusted;
}

static int adev_check_config(const struct altdma_dev_config *cfg)
{
	const struct altdma_pt_ops *pt = cfg->pt;

	if (!cfg->dev || !pt || !pt->map || !pt->unmap || !pt->iova_to_phys ||
	    !pt->iotlb_sync || !pt->flush_all)
		return -EINVAL;
	if (!is_power_of_2(cfg->granule) || cfg->granule < PAGE_SIZE)
		return -EINVAL;
	if (cfg->bounce > ALTDMA_BOUNCE_SANITIZE || cfg->inval > ALTDMA_INVAL_DEFERRED)
		return -EINVAL;
	return 0;
}

/*
 * The last IOVA byte the domain hands out: never the granule that holds
 * DMA_MAPPING_ERROR, so no mapping can end up at the error value (an
 * aperture to the top of the 64-bit space, as virtio-iommu may advertise).
 */
static dma_addr_t iova_end(const struct altdma_dev_config *cfg)
{
	dma_addr_t top = DMA_MAPPING_ERROR & ~(dma_addr_t)(cfg->granule - 1);

	return cfg->iova_end >= top ? top - 1 : cfg->iova_end;
}

static int adev_init_iova(struct altdma_dev *adev,
			  const struct altdma_dev_config *cfg)
{
	struct altdma_iova_config icfg = {
		.name = dev_name(cfg->dev),
		.granule = cfg->granule,
		.start = cfg->iova_start,
		.end = iova_end(cfg),
		.policy = cfg->policy,
		/* every range is a mapping object */
		.obj_size = sizeof(struct altdma_map),
		.cache_limit = ALTDMA_DEV_CACHE_LIMIT,
	};

	int ret = altdma_iova_domain_init(&adev->iovad, &icfg);

	if (!ret && cfg->prev)
		altdma_iova_set_avoid(&adev->iovad, altdma_prev_maps_range,
				      cfg->prev);
	return ret;
}

/* The last DMA op using a killed context is done. */
static void adev_users_gone(struct percpu_ref *ref)
{
	struct altdma_dev *adev = container_of(ref, struct altdma_dev, users);

	complete(&adev->users_gone);
}

/*
 * A zeroed context with its users reference and its per-CPU counters (one
 * allocation point).
 */
static noinline __noipa struct altdma_dev *adev_alloc(void)
{
	struct altdma_dev *adev = kzalloc(sizeof(*adev), GFP_KERNEL);

	if (!adev)
		return NULL;
	adev->pcpu = alloc_percpu(struct altdma_dev_pcpu);
	if (!adev->pcpu)
		goto free_adev;
	init_completion(&adev->users_gone);
	if (percpu_ref_init(&adev->users, adev_users_gone, 0, GFP_KERNEL))
		goto free_pcpu;
	return adev;

free_pcpu:
	free_percpu(adev->pcpu);
free_adev:
	kfree(adev);
	return NULL;
}

/* Free what adev_alloc() allocated. */
static void adev_free(struct altdma_dev *adev)
{
	percpu_ref_exit(&adev->users);
	free_percpu(adev->pcpu);
	/* an op may have read it from a lookup cache just before the clear */
	kfree_rcu(adev, rcu);
}

ALLOW_ERROR_INJECTION(adev_alloc, NULL);

/* The allocation points of the sub-allocators a context is built from. */
ALLOW_ERROR_INJECTION(altdma_iova_domain_init, ERRNO);
ALLOW_ERROR_INJECTION(altdma_bounce_pool_create, ERRNO);
ALLOW_ERROR_INJECTION(altdma_fq_init, ERRNO);

/*
 * bounce=sanitize: every page and sg mapping bounces (a mask no size of
 * at least one byte passes), watched by the sanitizer.
 */
static noinline __noipa int adev_init_san(struct altdma_dev *adev)
{
	adev->san = altdma_san_create(adev->dev, adev->pool);
	if (!adev->san)
		return -ENOMEM;
	adev->bounce_mask = ~0UL;
	return 0;
}

ALLOW_ERROR_INJECTION(adev_init_san, ERRNO);

/**
 * altdma_dev_create() - set up altdma's state for a device
 * @cfg: the device, its backend and policies
 *
 * Makes the IOVA space, a bounce pool when the device may bounce, and the
 * flush queues in deferred mode. An untrusted device (PCI untrusted, or
 * @cfg->untrusted) always bounces unaligned buffers and is always strict.
 * The context is not yet visible to the DMA ops: see altdma_dev_register().
 *
 * Context: process context, may sleep.
 * Return: the context, or an ERR_PTR() (-EINVAL for a bad config, -ENOMEM).
 */
struct altdma_dev *altdma_dev_create(const struct altdma_dev_config *cfg)
{
	struct altdma_dev *adev;
	int ret;

	if (!cfg)
		return ERR_PTR(-EINVAL);
	ret = adev_check_config(cfg);
	if (ret)
		return ERR_PTR(ret);
	adev = adev_alloc();
	if (!adev)
		return ERR_PTR(-ENOMEM);
	INIT_HLIST_NODE(&adev->reg_node);
	adev->dev = cfg->dev;
	adev->pt = cfg->pt;
	adev->pt_priv = cfg->pt_priv;
	adev->prev = cfg->prev;
	adev->granule = cfg->granule;
	adev->shift = ilog2(cfg->granule);
	adev->untrusted = dev_untrusted(cfg);
	adev->bounce = cfg->bounce;
	if (adev->untrusted && adev->bounce == ALTDMA_BOUNCE_OFF)
		adev->bounce = ALTDMA_BOUNCE_AUTO;
	adev->inval = adev->untrusted ? ALTDMA_INVAL_STRICT : cfg->inval;
	adev->coherent = dev_is_dma_coherent(cfg->dev) &&
			(!cfg->pt->coherent || cfg->pt->coherent(cfg->pt_priv));

	ret = adev_init_iova(adev, cfg);
	if (ret)
		goto free_adev;
	adev->bounce_mask = cfg->granule - 1;
	if (adev->bounce == ALTDMA_BOUNCE_FORCE ||
	    adev->bounce == ALTDMA_BOUNCE_SANITIZE ||
	    (adev->bounce == ALTDMA_BOUNCE_AUTO && adev->untrusted)) {
		adev->pool = altdma_bounce_pool_create(dev_name(cfg->dev),
						       cfg->bounce_size,
						       cfg->granule);
		if (IS_ERR(adev->pool)) {
			ret = PTR_ERR(adev->pool);
			adev->pool = NULL;
			goto free_iova;
		}
	}
	if (adev->bounce == ALTDMA_BOUNCE_SANITIZE) {
		ret = adev_init_san(adev);
		if (ret)
			goto free_pool;
	}
	if (adev->inval == ALTDMA_INVAL_DEFERRED) {
		ret = altdma_fq_init(adev);
		if (ret)
			goto free_pool;
	}
	return adev;

free_pool:
	altdma_san_destroy(adev->san);
	if (adev->pool)
		altdma_bounce_pool_destroy(adev->pool);
free_iova:
	altdma_iova_domain_destroy(&adev->iovad);
free_adev:
	adev_free(adev);
	return ERR_PTR(ret);
}

/* Live mappings listed one per line at teardown, at most. */
#define ALTDMA_LIVE_REPORT_MAX	16

/*
 * Unmap what a driver left mapped: every live mapping object in the IOVA
 * index. List the first of them and count them; free their segment arrays
 * (the objects themselves go with the IOVA domain).
 */
static unsigned long adev_release_maps(struct altdma_dev *adev)
{
	struct iommu_iotlb_gather gather;
	struct altdma_iova_range *r;
	unsigned long index, live = 0;
	struct altdma_map_seg *seg;
	struct altdma_seg_iter it;
	struct altdma_map *m;
	unsigned int n;

	iommu_iotlb_gather_init(&gather);
	altdma_iova_index_for_each(&adev->iovad.index, index, r) {
		m = altdma_map_of(r);
		if (!altdma_map_live(m))
			continue;
		if (++live <= ALTDMA_LIVE_REPORT_MAX)
			dev_warn(adev->dev, "altdma: still live at teardown: dma %pad, size %zu, dir %u, mapped by %pS\n",
				 &m->dma, m->size, m->dir, (void *)m->caller);
		for (seg = altdma_map_segs(m, &n, &it); seg;
		     seg = altdma_segs_next(&it))
			altdma_pt_unmap(adev->pt, adev->pt_priv,
					altdma_map_iova(m, adev->shift) +
					seg->span_off, seg->span_len, &gather);
		altdma_map_segs_free(m->ext);
		m->ext = NULL;
	}
	altdma_pt_iotlb_sync(adev->pt, adev->pt_priv, &gather);
	return live;
}

/*
 * What the allocator and the bounce pool still hold once the flush queues
 * are drained and the records released: the ranges and slots of the @live
 * mappings a driver left, nothing else. One line either way.
 */
static void adev_report_held(struct altdma_dev *adev, unsigned long live)
{
	struct altdma_bounce_stats bst = { };
	struct altdma_iova_stats ist;

	altdma_iova_get_stats(&adev->iovad, &ist);
	if (adev->pool)
		altdma_bounce_get_stats(adev->pool, &bst);
	dev_info(adev->dev, "altdma: teardown: %llu IOVA ranges (%llu pages) and %llu bounce slots held, %lu by leaked mappings\n",
		 ist.live_ranges, ist.pages_in_use, bst.live_mappings, live);
}

/**
 * altdma_dev_destroy() - tear a device context down
 * @adev: the context (NULL or an ERR_PTR is ignored); it must be
 *	unregistered and the device must no longer map
 *
 * Drains the flush queues, unmaps and reports what is still mapped, then
 * frees the bounce pool (which reports its own live slots) and the IOVA
 * space.
 *
 * Context: process context, may sleep.
 */
void altdma_dev_destroy(struct altdma_dev *adev)
{
	unsigned long live;

	if (IS_ERR_OR_NULL(adev))
		return;
	if (adev->fq)
		altdma_fq_destroy(adev);
	live = adev_release_maps(adev);
	if (live)
		dev_warn(adev->dev, "altdma: %lu mappings still live at teardown, unmapped\n",
			 live);
	adev_report_held(adev, live);
	altdma_san_destroy(adev->san);
	if (adev->pool)
		altdma_bounce_pool_destroy(adev->pool);
	altdma_iova_domain_destroy(&adev->iovad);
	adev_free(adev);
}

/*
 * The registered context of @dev; called under rcu_read_lock() or
 * rcu_read_lock_sched().
 */
static struct altdma_dev *registry_lookup(struct device *dev)
{
	struct altdma_dev *adev;

	hash_for_each_possible_rcu(altdma_registry, adev, reg_node,
				   (unsigned long)dev)
		if (adev->dev == dev)
			return adev;
	return NULL;
}

DEFINE_PER_CPU(struct altdma_dev_last, altdma_dev_last);

/**
 * altdma_dev_lookup_slow() - altdma_dev_lookup() when this CPU's cache
 *	does not have the context
 * @dev: the device (NULL gives NULL)
 *
 * Looks @dev up in the registry and keeps the answer in this CPU's cache.
 * A context unregistered after the lookup may be stored here even so:
 * altdma_dev_unregister() clears the caches only after a grace period,
 * when no op can be between the lookup and the store.
 *
 * Context: as altdma_dev_lookup().
 * Return: the registered context, or NULL.
 */
struct altdma_dev *altdma_dev_lookup_slow(struct device *dev)
{
	struct altdma_dev *adev = dev ? registry_lookup(dev) : NULL;

	if (adev)
		this_cpu_write(altdma_dev_last.adev[hash_ptr(dev,
							     ALTDMA_DEV_LAST_BITS)],
			       adev);
	return adev;
}

/* Clear @adev, unregistered a grace period ago, from every CPU's cache. */
static void registry_forget(struct altdma_dev *adev)
{
	unsigned int cpu, i;

	for_each_possible_cpu(cpu)
		for (i = 0; i < ARRAY_SIZE(altdma_dev_last.adev); i++)
			cmpxchg(&per_cpu(altdma_dev_last.adev[i], cpu), adev,
				NULL);
}

/**
 * altdma_dev_register() - make a context visible to the DMA ops
 * @adev: the context
 *
 * After this, altdma_dma_ops called for @adev->dev use @adev.
 *
 * Context: process context, may sleep.
 * Return: 0, -EBUSY if the device already has a context, -ENOMEM.
 */
int altdma_dev_register(struct altdma_dev *adev)
{
	int ret = 0;

	spin_lock(&altdma_registry_lock);
	if (altdma_dev_find(adev->dev)) {
		ret = -EBUSY;
	} else {
		/* published by the insert's release */
		WRITE_ONCE(adev->op_dev, adev->dev);
		hash_add_rcu(altdma_registry, &adev->reg_node,
			     (unsigned long)adev->dev);
	}
	spin_unlock(&altdma_registry_lock);
	return ret;
}

ALLOW_ERROR_INJECTION(altdma_dev_register, ERRNO);

/**
 * altdma_dev_unregister() - hide a context from the DMA ops
 * @adev: the context
 *
 * Removes @adev from the registry, then waits until every DMA op that got
 * it with altdma_dev_get() has put it back, and for a grace period, after
 * which it clears @adev from every CPU's lookup cache (altdma_dev_lookup()
 * misses on it from the start of the call): when this returns, no call
 * uses @adev any more and altdma_dev_destroy() may free it, even if
 * something other than the device's (unbound) driver was still calling the
 * DMA API on the device, or the device was being hot-unplugged.
 *
 * Context: process context, may sleep. Call at most once per context.
 */
void altdma_dev_unregister(struct altdma_dev *adev)
{
	spin_lock(&altdma_registry_lock);
	/* an op that finds it in a CPU's lookup cache from now on misses */
	WRITE_ONCE(adev->op_dev, NULL);
	if (!hlist_unhashed(&adev->reg_node))
		hash_del_rcu(&adev->reg_node);
	spin_unlock(&altdma_registry_lock);
	/* no new op gets it; wait for those that hold it */
	percpu_ref_kill(&adev->users);
	wait_for_completion(&adev->users_gone);
	/*
	 * and for ops in a section that found it, in the registry or in a
	 * cache: none of them can still store it in a cache after this
	 */
	synchronize_rcu();
	registry_forget(adev);
}

/**
 * altdma_dev_find() - the context of a device
 * @dev: the device (NULL gives NULL)
 *
 * Context: any context; lock-free (RCU).
 * Return: the registered context, or NULL.
 */
struct altdma_dev *altdma_dev_find(struct device *dev)
{
	struct altdma_dev *adev;

	if (!dev)
		return NULL;
	rcu_read_lock();
	adev = registry_lookup(dev);
	rcu_read_unlock();
	return adev;
}

/**
 * altdma_dev_get() - the context of a device, held for a DMA op
 * @dev: the device (NULL gives NULL)
 *
 * The context cannot be freed until altdma_dev_put(): a concurrent
 * altdma_dev_unregister() waits for it.
 *
 * Context: any context; lock-free (RCU and a per-CPU reference).
 * Return: the registered context, held, or NULL (none, or being removed).
 */
struct altdma_dev *altdma_dev_get(struct device *dev)
{
	struct altdma_dev *adev;

	if (!dev)
		return NULL;
	rcu_read_lock();
	adev = registry_lookup(dev);
	if (adev && !percpu_ref_tryget_live(&adev->users))
		adev = NULL;
	rcu_read_unlock();
	return adev;
}

/**
 * altdma_dev_put() - release a context got with altdma_dev_get()
 * @adev: the context, or NULL
 *
 * Context: any context.
 */
void altdma_dev_put(struct altdma_dev *adev)
{
	if (adev)
		percpu_ref_put(&adev->users);
}

/* The sanitizer's counters (bounce=sanitize). */
static void adev_san_stats(struct altdma_san *san, struct altdma_dev_stats *st)
{
	int k;

	st->san_checks = atomic64_read(&san->checks);
	for (k = 0; k < ALTDMA_SAN_KINDS; k++) {
		st->san_found[k] = atomic64_read(&san->found[k]);
		st->san_found_total += st->san_found[k];
	}
}

/**
 * altdma_dev_get_stats() - snapshot a context's counters
 * @adev: the context
 * @st: filled in
 *
 * Context: any context.
 */
void altdma_dev_get_stats(struct altdma_dev *adev, struct altdma_dev_stats *st)
{
	const struct altdma_dev_pcpu *pc;
	u64 gone;
	int k, cpu;

	memset(st, 0, sizeof(*st));
	for_each_possible_cpu(cpu) {
		pc = per_cpu_ptr(adev->pcpu, cpu);
		st->maps += READ_ONCE(pc->maps);
		st->unmaps += READ_ONCE(pc->unmaps);
		st->bytes_bounced += READ_ONCE(pc->bytes_bounced);
		st->iotlb_syncs += READ_ONCE(pc->iotlb_syncs);
		st->deferred += READ_ONCE(pc->deferred);
	}
	st->failed = atomic64_read(&adev->failed);
	st->quarantined = atomic64_read(&adev->quarantined);
	st->flush_alls = atomic64_read(&adev->flush_alls);
	st->quarantined_live = atomic64_read(&adev->quarantined_live);
	st->prev_calls = atomic64_read(&adev->prev_calls);
	gone = st->unmaps + st->quarantined_live;
	/* per-CPU sums taken while mappings change may cross: never negative */
	st->live = st->maps > gone ? st->maps - gone : 0;
	for (k = 0; k < ALTDMA_REFUSE_KINDS; k++) {
		st->refused[k] = atomic64_read(&adev->refused[k]);
		st->refused_total += st->refused[k];
	}
	if (adev->san)
		adev_san_stats(adev->san, st);
}

/**
 * altdma_dev_count_live() - count the live mappings a context lists
 * @adev: the context
 *
 * Counts the mapping objects in state %ALTDMA_MAP_MAPPED in the IOVA
 * index: the mappings debugfs "mappings" lists and teardown reports. Once no call is
 * in flight it equals &altdma_dev_stats.maps - &altdma_dev_stats.unmaps -
 * &altdma_dev_stats.quarantined_live (that is, &altdma_dev_stats.live);
 * a mapping whose free was refused stays on both sides.
 *
 * Context: any context; lock-free (RCU). Taken while mappings come and go,
 * the count may be off by the calls in flight.
 * Return: the number of live records.
 */
unsigned long altdma_dev_count_live(struct altdma_dev *adev)
{
	struct altdma_iova_range *r;
	unsigned long index, live = 0;

	rcu_read_lock();
	altdma_iova_index_for_each(&adev->iovad.index, index, r)
		live += altdma_map_live(altdma_map_of(r));
	rcu_read_unlock();
	return live;
}
