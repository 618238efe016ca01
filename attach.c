// SPDX-License-Identifier: GPL-2.0-only
/*
 * altdma attach/detach (what differs between kernel lines is in
 * altdma_compat.h).
 *
 * Attach: check the request (changes nothing when refused), allocate an
 * IOMMU_DOMAIN_UNMANAGED domain, release the driver and take the device
 * lock with no driver bound (no bind until the switch is done), install
 * altdma_dma_ops (they refuse every call until a context is registered),
 * attach the domain, build an altdma context over it (the IOVA space is the
 * domain's aperture less the group's reserved regions), register it, and
 * let the driver core bind a driver again (honouring driver_override). A
 * failure after the release puts the device back on its own domain and
 * rebinds it.
 *
 * Detach (and removal, from the bus notifier): release the driver and take
 * the device lock, unregister the context (the ops, still ours, refuse from
 * here), detach the domain (the group goes back to its default domain),
 * restore the original ops and the dma-iommu shortcut (6.10+), and only
 * then tear the context down (mappings a driver left are reported and
 * unmapped, the bounce pool freed) and free the domain: the device is never
 * on ops that do not match its domain, and never reaches freed memory.
 *
 * docs/design.md ("Lifecycle") has the state diagram.
 */

#define pr_fmt(fmt) "altdma: " fmt

#include <linux/delay.h>
#include <linux/dma-map-ops.h>
#include <linux/err.h>
#include <linux/error-injection.h>
#include <linux/mutex.h>
#include <linux/overflow.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "altdma_arch.h"
#include "altdma_compat.h"
#include "attach.h"
#include "prev_layer.h"

/*
 * altdma_attach_lock guards altdma_attached_list and every field of its
 * entries. It is the innermost of the driver core's locks: the device lock
 * and the PCI bus's notifier rwsem (held while a driver binds or unbinds,
 * and around the bus notifier) may be held when it is taken, and it is
 * never held while a driver is bound or released. So the bus notifier can
 * take it and detach a removed device at once. An attach or detach takes
 * it twice: once to claim the entry (&altdma_attached.busy), once, with the
 * device lock held and no driver bound, to switch the device.
 */
static DEFINE_MUTEX(altdma_attach_lock);
static LIST_HEAD(altdma_attached_list);

/* Releases of a driver that binds again at once before giving up. */
#define ALTDMA_UNBIND_TRIES	8

#if IS_ENABLED(CONFIG_ALTDMA_KUNIT_TEST)
/* Called at each step of an attach and a detach (kunit/attach_kunit.c). */
void (*altdma_attach_test_hook)(struct device *dev,
				enum altdma_attach_step step);

static void step(struct device *dev, enum altdma_attach_step s)
{
	void (*hook)(struct device *dev, enum altdma_attach_step step);

	hook = READ_ONCE(altdma_attach_test_hook);
	if (hook)
		hook(dev, s);
}
#else
#define step(dev, s)	do { } while (0)
#endif

/* Defaults of every attach; set from the module parameters at load. */
struct altdma_attach_opts altdma_default_opts = {
	.bounce = ALTDMA_BOUNCE_AUTO,
	.inval = ALTDMA_INVAL_STRICT,
};

/* Option values, indexed by their enum (policy: 0 tree, 1 wrap). */
const char * const altdma_bounce_names[4] = { "auto", "force", "off",
					       "sanitize" };
const char * const altdma_inval_names[2] = { "strict", "deferred" };
const char * const altdma_policy_names[2] = { "tree", "wrap" };

/*
 * bounce_pages=N: at most ALTDMA_BOUNCE_MAX_SIZE bytes of the smallest
 * granule (the attach checks N granules of the device's own).
 */
static int parse_bounce_pages(const char *val, struct altdma_attach_opts *opts)
{
	unsigned long n;

	if (kstrtoul(val, 0, &n)) {
		pr_err("unknown option bounce_pages=%s (bounce_pages=N)\n", val);
		return -EINVAL;
	}
	if (n > ALTDMA_BOUNCE_MAX_SIZE / PAGE_SIZE) {
		pr_err("option bounce_pages=%s refused: a bounce pool is at most 256 MiB (%lu pages)\n",
		       val, ALTDMA_BOUNCE_MAX_SIZE / PAGE_SIZE);
		return -EINVAL;
	}
	opts->bounce_pages = n;
	return 0;
}

static int parse_one_opt(const char *key, const char *val,
			 struct altdma_attach_opts *opts)
{
	int i = -EINVAL;

	if (!strcmp(key, "bounce")) {
		i = sysfs_match_string(altdma_bounce_names, val);
		if (i >= 0)
			opts->bounce = i;
	} else if (!strcmp(key, "inval")) {
		i = sysfs_match_string(altdma_inval_names, val);
		if (i >= 0)
			opts->inval = i;
	} else if (!strcmp(key, "policy")) {
		i = sysfs_match_string(altdma_policy_names, val);
		if (i >= 0)
			opts->wrap = i;
	} else if (!strcmp(key, "iova_pages")) {
		i = kstrtoul(val, 0, &opts->iova_pages);
	} else if (!strcmp(key, "bounce_pages")) {
		return parse_bounce_pages(val, opts);
	}
	if (i < 0)
		pr_err("unknown option %s=%s (bounce=auto|force|off|sanitize, inval=strict|deferred, policy=tree|wrap, iova_pages=N, bounce_pages=N)\n",
		       key, val);
	return i < 0 ? -EINVAL : 0;
}

/**
 * altdma_attach_parse_opts() - parse "key=value" options
 * @args: space-separated options (modified); may be empty
 * @opts: filled in place; keys not given keep their value
 *
 * Keys: bounce=auto|force|off|sanitize, inval=strict|deferred,
 * policy=tree|wrap,
 * iova_pages=N and bounce_pages=N (shrink the IOVA space and the bounce
 * pool to N granules; 0 keeps the default).
 *
 * Context: any context that may call strsep().
 * Return: 0, or -EINVAL (one error line) for an unknown key or value.
 */
int altdma_attach_parse_opts(char *args, struct altdma_attach_opts *opts)
{
	char *tok, *val;
	int ret;

	while ((tok = strsep(&args, " \t\n"))) {
		if (!*tok)
			continue;
		val = strchr(tok, '=');
		if (!val) {
			pr_err("option %s: expected key=value\n", tok);
			return -EINVAL;
		}
		*val++ = '\0';
		ret = parse_one_opt(tok, val, opts);
		if (ret)
			return ret;
	}
	return 0;
}

static struct altdma_attached *find_attached(struct device *dev)
{
	struct altdma_attached *at;

	list_for_each_entry(at, &altdma_attached_list, node)
		if (at->dev == dev)
			return at;
	return NULL;
}

static int count_dev(struct device *dev, void *data)
{
	(*(unsigned int *)data)++;
	return 0;
}

/* Refuse what an attach cannot do; nothing has changed yet. */
static int check_attachable(struct device *dev)
{
	struct iommu_group *group;
	unsigned int n = 0;

	if (find_attached(dev)) {
		dev_err(dev, "altdma: attach refused: already attached (or being attached or detached)\n");
		return -EBUSY;
	}
	group = iommu_group_get(dev);
	if (!group) {
		dev_err(dev, "altdma: attach refused: not behind an IOMMU (no IOMMU group)\n");
		return -ENODEV;
	}
	iommu_group_for_each_dev(group, &n, count_dev);
	iommu_group_put(group);
	if (n != 1) {
		dev_err(dev, "altdma: attach refused: its IOMMU group has %u devices, altdma needs a group of its own\n",
			n);
		return -EBUSY;
	}
	return 0;
}

/* How each kind of reserved region is shown (debugfs "iova"). */
static const char *resv_name(enum iommu_resv_type type)
{
	switch (type) {
	case IOMMU_RESV_DIRECT:
	case IOMMU_RESV_DIRECT_RELAXABLE:
		return "direct";
	case IOMMU_RESV_RESERVED:
		return "reserved";
	case IOMMU_RESV_MSI:
		return "msi";
	case IOMMU_RESV_SW_MSI:
		return "sw-msi";
	default:
		return "other";
	}
}

/**
 * altdma_walk_resv_regions() - call @fn for each IOMMU reserved region
 * @regions: a list of &struct iommu_resv_region
 *	(iommu_get_group_resv_regions())
 * @fn: called with the first and last byte of each region and its kind;
 *	a non-zero return stops the walk
 * @arg: passed to @fn
 *
 * A region of length zero holds nothing: it is skipped, and the walk goes
 * on to the regions after it.
 *
 * Context: any context @fn may run in.
 * Return: 0, or what @fn returned.
 */
int altdma_walk_resv_regions(const struct list_head *regions,
			     altdma_resv_fn fn, void *arg)
{
	const struct iommu_resv_region *r;
	int ret;

	list_for_each_entry(r, regions, list) {
		if (!r->length)
			continue;
		ret = fn(arg, r->start, r->start + r->length - 1,
			 resv_name(r->type));
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * The lowest DMA range of @bridge at or above bus address @pos, or NULL:
 * the list is not sorted (dma-iommu sorts it in place; we leave the
 * bridge's list alone).
 */
static struct resource_entry *next_dma_range(struct pci_host_bridge *bridge,
					     u64 pos)
{
	struct resource_entry *w, *next = NULL;

	resource_list_for_each_entry(w, &bridge->dma_ranges) {
		if (w->res->end - w->offset < pos)
			continue;
		if (!next || w->res->start - w->offset <
			     next->res->start - next->offset)
			next = w;
	}
	return next;
}

/**
 * altdma_walk_pci_windows() - call @fn for each bus range a PCI device's
 *	DMA must not use
 * @dev: the DMA device; nothing is walked unless it is a PCI device
 * @fn: called with the first and last bus address of each range and its
 *	kind; a non-zero return stops the walk
 * @arg: passed to @fn
 *
 * As dma-iommu's iova_reserve_pci_windows(): the memory windows of the
 * device's host bridge ("pci-window": a DMA address there would reach a
 * peer's BAR, not the IOMMU), and, when the bridge lists DMA ranges, the
 * holes between and above them ("pci-dma-hole").
 *
 * Context: any context @fn may run in.
 * Return: 0, or what @fn returned.
 */
int altdma_walk_pci_windows(struct device *dev, altdma_resv_fn fn, void *arg)
{
	struct pci_host_bridge *bridge;
	struct resource_entry *w;
	u64 pos = 0;
	int ret;

	if (!dev_is_pci(dev))
		return 0;
	bridge = pci_find_host_bridge(to_pci_dev(dev)->bus);
	resource_list_for_each_entry(w, &bridge->windows) {
		if (resource_type(w->res) != IORESOURCE_MEM)
			continue;
		ret = fn(arg, w->res->start - w->offset,
			 w->res->end - w->offset, "pci-window");
		if (ret)
			return ret;
	}
	if (list_empty(&bridge->dma_ranges))
		return 0;
	while ((w = next_dma_range(bridge, pos))) {
		if (w->res->start - w->offset > pos) {
			ret = fn(arg, pos, w->res->start - w->offset - 1,
				 "pci-dma-hole");
			if (ret)
				return ret;
		}
		pos = w->res->end - w->offset + 1;
		if (!pos)
			return 0;	/* the last range ends at the top */
	}
	return fn(arg, pos, U64_MAX, "pci-dma-hole");
}

/**
 * altdma_walk_reserved() - call @fn for every range kept out of a device's
 *	IOVA space
 * @dev: the DMA device
 * @fn: as altdma_walk_resv_regions()
 * @arg: passed to @fn
 *
 * Its IOMMU group's reserved regions, then its PCI host bridge's windows
 * (altdma_walk_pci_windows()).
 *
 * Context: process context, may sleep.
 * Return: 0, -ENODEV if @dev has no IOMMU group, or what @fn returned.
 */
int altdma_walk_reserved(struct device *dev, altdma_resv_fn fn, void *arg)
{
	struct iommu_group *group = iommu_group_get(dev);
	LIST_HEAD(regions);
	int ret;

	if (!group)
		return -ENODEV;
	ret = iommu_get_group_resv_regions(group, &regions);
	if (!ret)
		ret = altdma_walk_resv_regions(&regions, fn, arg);
	iommu_put_resv_regions(dev, &regions);
	iommu_group_put(group);
	if (!ret)
		ret = altdma_walk_pci_windows(dev, fn, arg);
	return ret;
}

/**
 * altdma_reserve_one() - an &altdma_resv_fn: keep a range out of a domain
 * @arg: the &struct altdma_iova_domain
 * @first: first byte
 * @last: last byte (inclusive)
 * @what: unused
 *
 * The part of the range inside the domain is reserved; a range wholly
 * outside it is nothing to reserve.
 *
 * Context: process context, may sleep.
 * Return: 0 or altdma_iova_reserve()'s error.
 */
int altdma_reserve_one(void *arg, u64 first, u64 last, const char *what)
{
	struct altdma_iova_domain *iovad = arg;
	unsigned long lo = first >> iovad->shift, hi = last >> iovad->shift;

	if (first > last || hi < iovad->start_pfn || lo > iovad->end_pfn)
		return 0;
	return altdma_iova_reserve(iovad, max(lo, iovad->start_pfn),
				   min(hi, iovad->end_pfn));
}

/* Keep the group's reserved regions and the bridge's windows out. */
static noinline __noipa int reserve_regions(struct altdma_dev *adev)
{
	return altdma_walk_reserved(adev->dev, altdma_reserve_one,
				    &adev->iovad);
}

ALLOW_ERROR_INJECTION(reserve_regions, ERRNO);

/*
 * Where the IOMMU translates MSI writes (arm64, see altdma_arch.h), give
 * altdma's domain an MSI cookie at the group's software-managed MSI
 * window, which the IOVA space keeps out like every reserved region.
 */
static int msi_cookie(struct device *dev, struct iommu_domain *domain)
{
	struct iommu_group *group = iommu_group_get(dev);
	struct iommu_resv_region *r;
	LIST_HEAD(regions);
	int ret;

	if (!group)
		return -ENODEV;
	ret = iommu_get_group_resv_regions(group, &regions);
	list_for_each_entry(r, &regions, list) {
		if (!ret && r->type == IOMMU_RESV_SW_MSI) {
			ret = altdma_msi_cookie(domain, r->start);
			break;
		}
	}
	iommu_put_resv_regions(dev, &regions);
	iommu_group_put(group);
	return ret;
}

/* The allocation points of an attach, each injectable. */
static noinline __noipa struct altdma_attached *attached_alloc(void)
{
	return kzalloc(sizeof(struct altdma_attached), GFP_KERNEL);
}

ALLOW_ERROR_INJECTION(attached_alloc, NULL);

static noinline __noipa struct iommu_domain *
domain_alloc(struct device *dev)
{
	return altdma_domain_alloc(dev);
}

ALLOW_ERROR_INJECTION(domain_alloc, ERRNO);

static noinline __noipa int domain_attach(struct iommu_domain *domain,
					  struct device *dev)
{
	return iommu_attach_device(domain, dev);
}

ALLOW_ERROR_INJECTION(domain_attach, ERRNO);

/*
 * The bounce_pages option: N granules of the device, within the bound of
 * a pool (no overflow, at most altdma_bounce_max_size()).
 */
static int bounce_size(struct altdma_dev_config *cfg,
		       const struct altdma_attach_opts *opts)
{
	size_t bytes;

	if (!opts->bounce_pages)
		return 0;
	if (check_mul_overflow((size_t)opts->bounce_pages,
			       (size_t)cfg->granule, &bytes) ||
	    bytes > altdma_bounce_max_size()) {
		dev_err(cfg->dev, "altdma: attach refused: bounce_pages=%lu of %lu bytes is more than a bounce pool may hold (%zu bytes)\n",
			opts->bounce_pages, cfg->granule,
			altdma_bounce_max_size());
		return -EINVAL;
	}
	cfg->bounce_size = bytes;
	return 0;
}

/* The iova_pages and bounce_pages options: a few granules of each. */
static int shrink(struct altdma_dev_config *cfg,
		  const struct altdma_attach_opts *opts)
{
	dma_addr_t first = max_t(dma_addr_t, cfg->iova_start, cfg->granule);

	if (opts->iova_pages &&
	    opts->iova_pages < (cfg->iova_end - first) / cfg->granule)
		cfg->iova_end = first + opts->iova_pages * cfg->granule - 1;
	return bounce_size(cfg, opts);
}

/* The IOVA page size over @domain: its smallest page, at least a CPU page. */
static unsigned long domain_granule(const struct iommu_domain *domain)
{
	return max_t(unsigned long, 1UL << __ffs(domain->pgsize_bitmap),
		     PAGE_SIZE);
}

/* The context over @domain: the aperture is the IOVA space. */
static struct altdma_dev *make_adev(struct device *dev,
				    struct iommu_domain *domain,
				    const struct altdma_attach_opts *opts,
				    struct altdma_prev_layer *prev)
{
	struct iommu_domain_geometry *geo = &domain->geometry;
	struct altdma_dev_config cfg = {
		.dev = dev,
		.pt = &altdma_pt_iommu_ops,
		.pt_priv = domain,
		.granule = domain_granule(domain),
		.iova_start = geo->aperture_start,
		.iova_end = geo->aperture_end,
		.bounce = opts->bounce,
		.inval = opts->inval,
		.policy = opts->wrap ? &altdma_iova_policy_wrap : NULL,
		.prev = prev,
	};
	struct altdma_dev *adev;
	int ret;

	if (!geo->force_aperture || geo->aperture_end <= geo->aperture_start)
		cfg.iova_end = DMA_BIT_MASK(48);
	ret = shrink(&cfg, opts);
	if (ret)
		return ERR_PTR(ret);
	adev = altdma_dev_create(&cfg);
	if (IS_ERR(adev))
		return adev;
	ret = reserve_regions(adev);
	if (ret) {
		altdma_dev_destroy(adev);
		return ERR_PTR(ret);
	}
	return adev;
}

/* Bind a driver again; a failure leaves the device unbound, reported. */
static void rebind(struct device *dev)
{
	int ret = device_attach(dev);

	if (ret < 0)
		dev_warn(dev, "altdma: no driver bound again (%d)\n", ret);
}

/*
 * Release @dev's driver and take its device lock with no driver bound: no
 * driver can bind (sysfs bind, a module load, driver_override) until the
 * caller unlocks it. A driver that binds between the release and the lock
 * is released again.
 */
static int unbind_and_lock(struct device *dev, const char *what)
{
	int i;

	for (i = 0; i < ALTDMA_UNBIND_TRIES; i++) {
		device_release_driver(dev);
		step(dev, ALTDMA_STEP_UNBOUND);
		device_lock(dev);
		if (!dev->driver)
			return 0;
		device_unlock(dev);
	}
	dev_err(dev, "altdma: %s refused: a driver bound again each of %d times it was released\n",
		what, i);
	return -EBUSY;
}

/*
 * The device is unbound and locked, the caller holds its IOMMU group.
 * altdma's ops first (with no context they refuse every call, so nothing
 * is mapped by a layer the device is not on), then the domain, then the
 * context (the IOMMU driver sets the final aperture at attach time, e.g.
 * VT-d narrows it to the IOMMU's address width).
 */
static int switch_to_altdma(struct altdma_attached *at)
{
	struct device *dev = at->dev;
	int ret;

	at->orig_ops = dev->dma_ops;
	at->orig_dma_iommu = altdma_dev_take_dma(dev);
	/* on the default domain still: the layer that made its mappings */
	at->prev = altdma_prev_create(dev, at->orig_ops, at->orig_dma_iommu,
				      domain_granule(at->domain));
	if (IS_ERR(at->prev)) {
		ret = PTR_ERR(at->prev);
		at->prev = NULL;
		dev_err(dev, "altdma: attach refused: no memory (%d)\n", ret);
		altdma_dev_restore_dma(dev, at->orig_dma_iommu);
		return ret;
	}
	set_dma_ops(dev, &altdma_dma_ops);
	ret = domain_attach(at->domain, dev);
	if (ret) {
		dev_err(dev, "altdma: attach refused: iommu_attach_device failed (%d)\n",
			ret);
		goto restore;
	}
	step(dev, ALTDMA_STEP_DOMAIN_ATTACHED);
	at->adev = make_adev(dev, at->domain, &at->opts, at->prev);
	if (IS_ERR(at->adev)) {
		ret = PTR_ERR(at->adev);
		dev_err(dev, "altdma: attach failed: no context (%d)\n", ret);
		goto detach;
	}
	ret = altdma_dev_register(at->adev);
	if (ret)
		goto detach;
	return 0;

detach:
	iommu_detach_device(at->domain, dev);
restore:
	altdma_dev_restore_dma(dev, at->orig_dma_iommu);
	set_dma_ops(dev, at->orig_ops);
	if (!IS_ERR_OR_NULL(at->adev))
		altdma_dev_destroy(at->adev);
	at->adev = NULL;
	altdma_prev_destroy(at->prev);
	at->prev = NULL;
	return ret;
}

/*
 * Switch the claimed, unbound and locked device; called with
 * altdma_attach_lock held. Refused if the device went in the meantime.
 */
static int attach_locked(struct altdma_attached *at)
{
	struct iommu_group *group;
	int ret;

	if (at->removed) {
		dev_err(at->dev, "altdma: attach abandoned: the device was removed during it\n");
		return -ENODEV;
	}
	/* iommu_attach_device() reads dev->iommu_group unreferenced */
	group = iommu_group_get(at->dev);
	if (!group) {
		dev_err(at->dev, "altdma: attach abandoned: the device left its IOMMU group\n");
		return -ENODEV;
	}
	ret = switch_to_altdma(at);
	iommu_group_put(group);
	return ret;
}

/**
 * altdma_attach_dev() - give a device altdma's DMA ops over its own domain
 * @dev: the DMA device (for virtio, the virtio PCI device)
 * @opts: per-device options
 *
 * Refuses, with one error line and no change, a device already attached
 * (or being attached or detached), one without an IOMMU group or whose
 * group has other devices. Otherwise releases its driver, attaches a new
 * unmanaged domain, installs altdma_dma_ops and binds a driver again. No
 * driver can bind in between (the device lock is held across the switch);
 * a removal of the device in between abandons the attach.
 *
 * Context: process context, may sleep; takes the device lock, so not from
 * the device's own probe or remove.
 * Return: 0, or a negative errno (the device is then unchanged).
 */
int altdma_attach_dev(struct device *dev, const struct altdma_attach_opts *opts)
{
	struct altdma_attached *at;
	int ret;

	mutex_lock(&altdma_attach_lock);
	ret = check_attachable(dev);
	if (ret)
		goto unlock;
	ret = -ENOMEM;
	at = attached_alloc();
	if (!at)
		goto unlock;
	at->dev = get_device(dev);
	at->opts = *opts;
	at->busy = true;
	list_add_tail(&at->node, &altdma_attached_list);
	mutex_unlock(&altdma_attach_lock);

	at->domain = domain_alloc(dev);
	if (IS_ERR(at->domain)) {
		ret = PTR_ERR(at->domain);
		at->domain = NULL;
		dev_err(dev, "altdma: attach refused: no unmanaged IOMMU domain for it (%d)\n",
			ret);
		goto drop;
	}
	ret = msi_cookie(dev, at->domain);
	if (ret) {
		dev_err(dev, "altdma: attach refused: no MSI window in its domain (%d)\n",
			ret);
		goto drop;
	}
	ret = unbind_and_lock(dev, "attach");
	if (ret)
		goto drop;
	mutex_lock(&altdma_attach_lock);
	ret = attach_locked(at);
	if (ret) {
		list_del(&at->node);
	} else {
		at->live = true;
		at->busy = false;
		altdma_debugfs_add(at);
		dev_info(dev, "altdma: attached (granule %lu, IOVA %pad-%pad)\n",
			 at->adev->granule, &at->domain->geometry.aperture_start,
			 &at->domain->geometry.aperture_end);
	}
	/* from here a removal may free @at: not used again */
	mutex_unlock(&altdma_attach_lock);
	device_unlock(dev);
	if (ret)
		goto free_at;
	rebind(dev);
	return 0;

drop:
	mutex_lock(&altdma_attach_lock);
	list_del(&at->node);
	mutex_unlock(&altdma_attach_lock);
free_at:
	rebind(dev);
	if (at->domain)
		iommu_domain_free(at->domain);
	put_device(dev);
	kfree(at);
	return ret;
unlock:
	mutex_unlock(&altdma_attach_lock);
	return ret;
}

/*
 * Give a device its own domain and ops back and free the context and the
 * domain; called with altdma_attach_lock held, the device unbound (and,
 * but from the bus notifier, locked). @at stays listed.
 */
static void teardown_locked(struct altdma_attached *at)
{
	struct device *dev = at->dev;
	struct iommu_group *group;

	altdma_debugfs_remove(at);
	/* the ops stay ours and refuse from here: no new mapping anywhere */
	altdma_dev_unregister(at->adev);
	step(dev, ALTDMA_STEP_UNREGISTERED);
	group = iommu_group_get(dev);
	if (group) {
		iommu_detach_device(at->domain, dev);
		iommu_group_put(group);
	}
	altdma_dev_restore_dma(dev, at->orig_dma_iommu);
	set_dma_ops(dev, at->orig_ops);
	step(dev, ALTDMA_STEP_DOMAIN_BACK);
	/*
	 * Nothing reaches altdma's domain now: unmap what a driver left,
	 * then free the bounce pool and the IOVA space.
	 */
	altdma_dev_destroy(at->adev);
	at->adev = NULL;
	altdma_prev_destroy(at->prev);
	at->prev = NULL;
	step(dev, ALTDMA_STEP_DESTROYED);
	iommu_domain_free(at->domain);
	at->domain = NULL;
	at->live = false;
}

/* Unlist and free @at; called with altdma_attach_lock held. */
static void release_locked(struct altdma_attached *at)
{
	struct device *dev = at->dev;

	list_del(&at->node);
	if (at->removed)
		dev_info(dev, "altdma: detached on removal of the device\n");
	else
		dev_info(dev, "altdma: detached, original domain and DMA ops restored\n");
	put_device(dev);
	kfree(at);
}

static unsigned int drain_ms = 5000;
module_param(drain_ms, uint, 0644);
MODULE_PARM_DESC(drain_ms, "How long a detach waits for the mappings an unbound driver left to be unmapped before it reports them as leaks (ms, default 5000)");

/* Poll period of drain(). */
#define ALTDMA_DRAIN_POLL_MS	10

/*
 * The device is unbound and locked, @at claimed: wait until the mappings
 * its driver left (buffers that outlive the driver, such as page_pool
 * pages in flight) are unmapped, for at most drain_ms: after the detach
 * their unmaps would reach dma-iommu, which does not know the addresses.
 * Returns how many are still live.
 */
static u64 drain(struct altdma_attached *at)
{
	unsigned long end = jiffies + msecs_to_jiffies(READ_ONCE(drain_ms));
	struct altdma_dev_stats st;
	bool said = false;

	for (;;) {
		altdma_dev_get_stats(at->adev, &st);
		if (!st.live || !time_before(jiffies, end) ||
		    READ_ONCE(at->removed))
			return st.live;
		if (!said)
			dev_info(at->dev, "altdma: detach waits for %llu mappings its unbound driver left (at most %u ms)\n",
				 st.live, drain_ms);
		said = true;
		msleep(ALTDMA_DRAIN_POLL_MS);
	}
}

/*
 * The unbound, locked device's detach: wait for the mappings its driver
 * left; those still there after drain_ms are leaks (a driver bug), listed
 * by the teardown as before. Said in one line, since an unmap of one of
 * them after the detach would reach dma-iommu, which cannot know it.
 */
static void drain_or_report(struct altdma_attached *at)
{
	u64 live = at->live ? drain(at) : 0;

	if (live && !at->removed)
		dev_warn(at->dev, "altdma: detach goes on with %llu mappings its unbound driver left not unmapped after %u ms: leaks, listed below (an unmap of one after this reaches dma-iommu)\n",
			 live, drain_ms);
}

/* Undo the attach of the entry the caller claimed (@at->busy). */
static int detach_claimed(struct altdma_attached *at)
{
	struct device *dev = get_device(at->dev);
	bool removed, locked;
	int ret;

	ret = unbind_and_lock(dev, "detach");
	locked = !ret;
	if (locked)
		drain_or_report(at);
	mutex_lock(&altdma_attach_lock);
	removed = at->removed;
	if (ret && !removed) {
		at->busy = false;
	} else {
		if (at->live)
			teardown_locked(at);
		release_locked(at);
	}
	mutex_unlock(&altdma_attach_lock);
	if (locked)
		device_unlock(dev);
	if (!removed)
		rebind(dev);
	put_device(dev);
	return removed ? 0 : ret;
}

/*
 * Where the driver core clears a device's DMA ops when its driver is
 * released (arm64: arch_teardown_dma_ops(), see altdma_arch.h), an
 * attached device would be left on no ops (dma-direct) over altdma's
 * domain: put altdma's back once the release is done, and before any
 * driver probes it (a failed probe clears them after its notification).
 */
static int keep_ops(struct device *dev)
{
	struct altdma_attached *at;
	bool put = false;

	mutex_lock(&altdma_attach_lock);
	at = find_attached(dev);
	if (at && at->live && dev->dma_ops != &altdma_dma_ops) {
		set_dma_ops(dev, &altdma_dma_ops);
		put = true;
	}
	mutex_unlock(&altdma_attach_lock);
	return put ? NOTIFY_OK : NOTIFY_DONE;
}

/*
 * A PCI device goes (hot-unplug, sysfs remove): the PCI core releases its
 * driver before device_del(), which sends BUS_NOTIFY_DEL_DEVICE and, after
 * its own release of the driver, BUS_NOTIFY_REMOVED_DEVICE, where the IOMMU
 * core releases the device from its group (6.12 warns if the group is not
 * on its default domain then). So the device is detached here, at
 * BUS_NOTIFY_DEL_DEVICE when no driver is bound, else at
 * BUS_NOTIFY_REMOVED_DEVICE (this notifier's priority puts it before the
 * IOMMU core's). The device is dead by then (kill_device()): no driver
 * binds again. An entry an attach or detach owns is torn down and marked;
 * its owner frees it.
 */
static int pci_removed(struct notifier_block *nb, unsigned long action,
		       void *data)
{
	struct device *dev = data;
	struct altdma_attached *at;

	if (action == BUS_NOTIFY_UNBOUND_DRIVER ||
	    action == BUS_NOTIFY_BIND_DRIVER)
		return keep_ops(dev);
	if (action == BUS_NOTIFY_DEL_DEVICE) {
		if (READ_ONCE(dev->driver))
			return NOTIFY_DONE;
	} else if (action != BUS_NOTIFY_REMOVED_DEVICE) {
		return NOTIFY_DONE;
	}
	mutex_lock(&altdma_attach_lock);
	at = find_attached(dev);
	if (at) {
		at->removed = true;
		if (at->live)
			teardown_locked(at);
		if (!at->busy)
			release_locked(at);
	}
	mutex_unlock(&altdma_attach_lock);
	return at ? NOTIFY_OK : NOTIFY_DONE;
}

static struct notifier_block altdma_pci_nb = {
	.notifier_call = pci_removed,
	/* before the IOMMU core's (0) at BUS_NOTIFY_REMOVED_DEVICE */
	.priority = 1,
};

#if IS_ENABLED(CONFIG_ALTDMA_KUNIT_TEST)
/**
 * altdma_attach_test_notify() - send altdma's bus notifier an event
 * @dev: the device
 * @action: BUS_NOTIFY_*
 *
 * Context: process context; KUnit builds only.
 * Return: what the notifier returned.
 */
int altdma_attach_test_notify(struct device *dev, unsigned long action)
{
	return pci_removed(&altdma_pci_nb, action, dev);
}
#endif

/**
 * altdma_attach_init() - watch for the removal of attached devices
 *
 * Context: process context (module init).
 * Return: 0 or a negative errno.
 */
int altdma_attach_init(void)
{
	return bus_register_notifier(&pci_bus_type, &altdma_pci_nb);
}

/**
 * altdma_attach_exit() - detach every device and stop watching removals
 *
 * Once every device has its own ops back, waits for whatever may still
 * run module code: a caller that loaded altdma_dma_ops from dev->dma_ops
 * before the restore and has not yet called the op, or is still returning
 * from it (altdma_sync_op_callers()), and RCU callbacks (the context's
 * users reference calls its release from one).
 *
 * Context: process context (module exit).
 */
void altdma_attach_exit(void)
{
	altdma_detach_all();
	bus_unregister_notifier(&pci_bus_type, &altdma_pci_nb);
	altdma_sync_op_callers();
	rcu_barrier();
}

/**
 * altdma_detach_dev() - give a device back its own domain and DMA ops
 * @dev: a device attached with altdma_attach_dev()
 *
 * Context: process context, may sleep; takes the device lock.
 * Waits (at most the drain_ms module parameter) for the mappings the
 * unbound driver left to be unmapped through altdma, which made them;
 * those left after that are reported as leaks and unmapped.
 *
 * Return: 0; -ENODEV (one error line, nothing changed) if @dev is not
 * attached; -EBUSY if an attach or detach of it is in progress, or its
 * driver keeps binding again (the device stays attached).
 */
int altdma_detach_dev(struct device *dev)
{
	struct altdma_attached *at;
	int ret = 0;

	mutex_lock(&altdma_attach_lock);
	at = find_attached(dev);
	if (!at) {
		dev_err(dev, "altdma: detach refused: not attached\n");
		ret = -ENODEV;
	} else if (at->busy) {
		dev_err(dev, "altdma: detach refused: an attach or detach of it is in progress\n");
		ret = -EBUSY;
	} else {
		at->busy = true;
	}
	mutex_unlock(&altdma_attach_lock);
	return ret ?: detach_claimed(at);
}

static struct device *find_pci(const char *name)
{
	struct device *dev;

	dev = bus_find_device_by_name(&pci_bus_type, NULL, name);
	if (!dev)
		pr_err("%s: no such PCI device\n", name);
	return dev;
}

/**
 * altdma_attach_by_name() - altdma_attach_dev() of a PCI device by name
 * @name: PCI name, e.g. "0000:00:03.0"
 * @opts: per-device options
 *
 * Context: process context, may sleep.
 * Return: 0, -ENODEV for no such device, or altdma_attach_dev()'s error.
 */
int altdma_attach_by_name(const char *name,
			  const struct altdma_attach_opts *opts)
{
	struct device *dev = find_pci(name);
	int ret;

	if (!dev)
		return -ENODEV;
	ret = altdma_attach_dev(dev, opts);
	put_device(dev);
	return ret;
}

/**
 * altdma_attach_request() - attach from a "PCI-NAME [key=value...]" request
 * @req: the request, as written to debugfs' attach file (modified)
 *
 * Options not given take the defaults (module parameters). Exported for
 * test drivers (testmod/altdma_stress.c sweeps the attach path's
 * allocations with it).
 *
 * Context: process context, may sleep.
 * Return: 0, -EINVAL for a bad option, or altdma_attach_by_name()'s error.
 */
int altdma_attach_request(char *req)
{
	struct altdma_attach_opts opts = altdma_default_opts;
	char *args = strim(req), *name;
	int ret;

	name = strsep(&args, " \t");
	ret = altdma_attach_parse_opts(args, &opts);
	if (!ret)
		ret = altdma_attach_by_name(name, &opts);
	return ret;
}
EXPORT_SYMBOL_GPL(altdma_attach_request);

/**
 * altdma_detach_by_name() - altdma_detach_dev() of a PCI device by name
 * @name: PCI name
 *
 * Context: process context, may sleep.
 * Return: 0 or -ENODEV.
 */
int altdma_detach_by_name(const char *name)
{
	struct device *dev = find_pci(name);
	int ret;

	if (!dev)
		return -ENODEV;
	ret = altdma_detach_dev(dev);
	put_device(dev);
	return ret;
}
EXPORT_SYMBOL_GPL(altdma_detach_by_name);

/**
 * altdma_detach_all() - detach every attached device (module unload)
 *
 * Context: process context, may sleep.
 */
void altdma_detach_all(void)
{
	struct altdma_attached *at, *claimed;

	do {
		claimed = NULL;
		mutex_lock(&altdma_attach_lock);
		list_for_each_entry(at, &altdma_attached_list, node) {
			if (!at->busy) {
				at->busy = true;
				claimed = at;
				break;
			}
		}
		mutex_unlock(&altdma_attach_lock);
		if (claimed)
			detach_claimed(claimed);
	} while (claimed);
}

/**
 * altdma_attach_for_each() - call @fn for every attached device
 * @fn: called under the attach mutex; must not attach or detach
 * @arg: passed to @fn
 *
 * Context: process context, may sleep.
 */
void altdma_attach_for_each(void (*fn)(struct altdma_attached *at, void *arg),
			    void *arg)
{
	struct altdma_attached *at;

	mutex_lock(&altdma_attach_lock);
	list_for_each_entry(at, &altdma_attached_list, node)
		if (at->live)
			fn(at, arg);
	mutex_unlock(&altdma_attach_lock);
}
