/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * altdma attach/detach: give a device altdma's DMA ops over its own
 * unmanaged IOMMU domain, and give it back its own domain and ops.
 */
#ifndef _ALTDMA_ATTACH_H
#define _ALTDMA_ATTACH_H

#include <linux/device.h>
#include <linux/iommu.h>
#include <linux/list.h>

#include "dma_iommu_ops.h"

/**
 * struct altdma_attach_opts - per-device options of an attach
 * @bounce: &enum altdma_bounce_mode
 * @inval: &enum altdma_inval_mode
 * @wrap: use the wrap-around IOVA policy instead of the tree
 * @iova_pages: if non-zero, shrink the IOVA space to this many granules
 *	(exhaustion tests)
 * @bounce_pages: if non-zero, the bounce pool's size in granules
 *
 * Context: plain data, filled by altdma_attach_parse_opts().
 */
struct altdma_attach_opts {
	enum altdma_bounce_mode bounce;
	enum altdma_inval_mode inval;
	bool wrap;
	unsigned long iova_pages;
	unsigned long bounce_pages;
};

/**
 * struct altdma_attached - one device attached to altdma
 * @node: in the list of attached devices (under the attach mutex)
 * @dev: the DMA device (a reference is held while attached)
 * @domain: the unmanaged domain altdma attached it to
 * @orig_ops: the device's dma_ops before the attach (restored on detach)
 * @orig_dma_iommu: whether the DMA API called dma-iommu directly for the
 *	device before the attach (6.10+; restored on detach)
 * @prev: that layer, which the unmaps of mappings it made before the
 *	attach go back to (prev_layer.h); NULL if the device was not on
 *	dma-iommu
 * @adev: the DMA layer's context
 * @opts: the options in force
 * @dir: its debugfs directory, or NULL
 * @busy: an attach or a detach owns the entry between its two sections
 *	under the attach mutex (the driver is being released); another
 *	attach or detach of the device is refused, the bus notifier does
 *	not free it
 * @live: the domain is attached and the ops installed (@adev and @domain
 *	valid): a detach or a removal must tear it down
 * @removed: the bus notifier saw the device go (hot-unplug)
 *
 * Context: created, changed and freed under the attach mutex, in process
 * context (docs/design.md, "Lifecycle").
 */
struct altdma_attached {
	struct list_head node;
	struct device *dev;
	struct iommu_domain *domain;
	const struct dma_map_ops *orig_ops;
	bool orig_dma_iommu;
	struct altdma_prev_layer *prev;
	struct altdma_dev *adev;
	struct altdma_attach_opts opts;
	struct dentry *dir;
	bool busy;
	bool live;
	bool removed;
};

/*
 * Called for each range kept out of a device's IOVA space: its first and
 * last byte (bus addresses) and its kind ("msi", "pci-window", ...); a
 * non-zero return stops the walk.
 */
typedef int (*altdma_resv_fn)(void *arg, u64 first, u64 last,
			      const char *what);

int altdma_walk_resv_regions(const struct list_head *regions,
			     altdma_resv_fn fn, void *arg);
int altdma_walk_pci_windows(struct device *dev, altdma_resv_fn fn, void *arg);
int altdma_walk_reserved(struct device *dev, altdma_resv_fn fn, void *arg);
int altdma_reserve_one(void *arg, u64 first, u64 last, const char *what);

extern struct altdma_attach_opts altdma_default_opts;
extern const char * const altdma_bounce_names[4];
extern const char * const altdma_inval_names[2];
extern const char * const altdma_policy_names[2];

int altdma_attach_parse_opts(char *args, struct altdma_attach_opts *opts);
int altdma_attach_dev(struct device *dev, const struct altdma_attach_opts *opts);
int altdma_detach_dev(struct device *dev);
int altdma_attach_by_name(const char *name,
			  const struct altdma_attach_opts *opts);
int altdma_detach_by_name(const char *name);
int altdma_attach_request(char *req);
void altdma_detach_all(void);
int altdma_attach_init(void);
void altdma_attach_exit(void);
void altdma_attach_for_each(void (*fn)(struct altdma_attached *at, void *arg),
			    void *arg);

#if IS_ENABLED(CONFIG_ALTDMA_KUNIT_TEST)
/**
 * enum altdma_attach_step - points of an attach or detach a test can watch
 * @ALTDMA_STEP_UNBOUND: the driver was released; no lock is held (a bind
 *	or a removal may come in here)
 * @ALTDMA_STEP_DOMAIN_ATTACHED: attach: altdma's domain is attached, no
 *	context is registered yet
 * @ALTDMA_STEP_UNREGISTERED: teardown: the context is unregistered
 * @ALTDMA_STEP_DOMAIN_BACK: teardown: the group is back on its own domain
 *	and the original ops are restored
 * @ALTDMA_STEP_DESTROYED: teardown: the context (bounce pool, IOVA space)
 *	is freed
 *
 * Context: KUnit builds only (kunit/attach_kunit.c).
 */
enum altdma_attach_step {
	ALTDMA_STEP_UNBOUND,
	ALTDMA_STEP_DOMAIN_ATTACHED,
	ALTDMA_STEP_UNREGISTERED,
	ALTDMA_STEP_DOMAIN_BACK,
	ALTDMA_STEP_DESTROYED,
};

extern void (*altdma_attach_test_hook)(struct device *dev,
				       enum altdma_attach_step step);
int altdma_attach_test_notify(struct device *dev, unsigned long action);
#endif

/* altdma_debugfs.c */
void altdma_debugfs_init(void);
void altdma_debugfs_exit(void);
void altdma_debugfs_add(struct altdma_attached *at);
void altdma_debugfs_remove(struct altdma_attached *at);

#endif /* _ALTDMA_ATTACH_H */
