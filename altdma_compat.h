/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * altdma: what differs between kernel versions and architectures, in one
 * place. No .c file tests a kernel version; each difference is a helper or
 * a macro here. Tested lines: Debian 12's 6.1 and 6.12. What differs by
 * architecture or IOMMU driver is in altdma_arch.h, included here.
 *
 * Version differences:
 *  - 6.3: iommu_map() takes a gfp argument and iommu_map_atomic() is gone;
 *  - 6.8: MAX_ORDER (exclusive) became MAX_PAGE_ORDER (inclusive);
 *  - 6.9: dma_map_ops.alloc_pages became alloc_pages_op;
 *  - 6.10: dma_map_ops lost alloc_noncontiguous/free_noncontiguous;
 *  - 6.10: the DMA API calls dma-iommu directly, before dev->dma_ops, for
 *    a device whose dev->dma_iommu is set (its group's default domain is a
 *    DMA domain); an attach clears it and a detach restores it;
 *  - 6.10: __assign_str() in a trace event takes only the field;
 *  - 6.10: dma-iommu's entry points are reached only through the DMA API
 *    on a device with dma_iommu set (struct altdma_prev_layer);
 *  - 6.11: iommu_paging_domain_alloc(dev) allocates an unmanaged domain
 *    for the IOMMU instance of the device (iommu_domain_alloc(bus) is on
 *    its way out);
 *  - 6.11: the IOMMU drivers count their page-table pages in
 *    NR_IOMMU_PAGES and NR_SECONDARY_PAGETABLE, and uncount them when
 *    they free them (iommu_put_pages_list(), not available to modules).
 */
#ifndef _ALTDMA_COMPAT_H
#define _ALTDMA_COMPAT_H

#include <linux/device.h>
#include <linux/dma-map-ops.h>
#include <linux/err.h>
#include <linux/gfp.h>
#include <linux/iommu.h>
#include <linux/iova.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/rcupdate.h>
#include <linux/scatterlist.h>
#include <linux/version.h>
#include <linux/vmstat.h>

#include "altdma_arch.h"

/* The largest order the page allocator hands out (inclusive). */
#if KERNEL_VERSION(6, 8, 0) <= LINUX_VERSION_CODE
#define ALTDMA_MAX_PAGE_ORDER	MAX_PAGE_ORDER
#else
#define ALTDMA_MAX_PAGE_ORDER	(MAX_ORDER - 1)
#endif

/*
 * dma_alloc_noncontiguous() calls a layer's alloc_noncontiguous op, which
 * returns the sg_table of a struct dma_sgt_handle, up to 6.9; from 6.10
 * only dma-iommu builds such buffers and every other layer gets one
 * contiguous block from its alloc_pages op, so the ops are left out.
 */
#if KERNEL_VERSION(6, 10, 0) <= LINUX_VERSION_CODE
#define ALTDMA_OP_NONCONTIG(alloc, free)
/**
 * struct altdma_sgt_handle - a noncontiguous allocation (not an op on this
 *	kernel: the DMA layer's functions build but are never called)
 * @sgt: the table of its pages, mapped as one DMA segment
 * @pages: its pages
 */
struct altdma_sgt_handle {
	struct sg_table sgt;
	struct page **pages;
};
#else
#define ALTDMA_OP_NONCONTIG(alloc, free)				\
	.alloc_noncontiguous = (alloc), .free_noncontiguous = (free),
#define altdma_sgt_handle dma_sgt_handle
#endif

/* The designated initializer of the dma_alloc_pages() op. */
#if KERNEL_VERSION(6, 9, 0) <= LINUX_VERSION_CODE
#define ALTDMA_OP_ALLOC_PAGES(fn)	.alloc_pages_op = (fn)
#else
#define ALTDMA_OP_ALLOC_PAGES(fn)	.alloc_pages = (fn)
#endif

/* __assign_str() of a trace event's __string() field */
#if KERNEL_VERSION(6, 10, 0) <= LINUX_VERSION_CODE
#define ALTDMA_TRACE_ASSIGN_STR(field, src)	__assign_str(field)
#else
#define ALTDMA_TRACE_ASSIGN_STR(field, src)	__assign_str(field, src)
#endif

/* iommu_map() in any context: @gfp says whether it may sleep. */
static inline int altdma_iommu_map(struct iommu_domain *domain,
				   unsigned long iova, phys_addr_t phys,
				   size_t size, int prot, gfp_t gfp)
{
#if KERNEL_VERSION(6, 3, 0) <= LINUX_VERSION_CODE
	return iommu_map(domain, iova, phys, size, prot, gfp);
#else
	if (gfpflags_allow_blocking(gfp))
		return iommu_map(domain, iova, phys, size, prot);
	return iommu_map_atomic(domain, iova, phys, size, prot);
#endif
}

/* An unmanaged paging domain for @dev's IOMMU; an ERR_PTR() on failure. */
static inline struct iommu_domain *altdma_domain_alloc(struct device *dev)
{
#if KERNEL_VERSION(6, 11, 0) <= LINUX_VERSION_CODE
	return iommu_paging_domain_alloc(dev);
#else
	struct iommu_domain *domain = iommu_domain_alloc(dev->bus);

	return domain ?: ERR_PTR(-ENODEV);
#endif
}

/*
 * Give back the page-table pages an IOMMU driver put on a gather's
 * freelist (deferred mode keeps them until the flush). From 6.11 the
 * drivers count each such page (order 0) in NR_IOMMU_PAGES and
 * NR_SECONDARY_PAGETABLE and free them with iommu_put_pages_list(), a
 * helper of drivers/iommu/iommu-pages.h that modules cannot use: uncount
 * them the same way, then put them, or the counters drift up.
 */
static inline void altdma_put_pt_pages(struct list_head *pages)
{
#if KERNEL_VERSION(6, 11, 0) <= LINUX_VERSION_CODE
	struct page *p, *next;

	list_for_each_entry_safe(p, next, pages, lru) {
		list_del(&p->lru);
		mod_node_page_state(page_pgdat(p), NR_IOMMU_PAGES, -1);
		mod_lruvec_page_state(p, NR_SECONDARY_PAGETABLE, -1);
		put_page(p);
	}
#else
	put_pages_list(pages);
#endif
}

/*
 * Make the DMA API call dev->dma_ops for @dev (it is unbound): clear the
 * dma-iommu shortcut, and the skip of syncs the DMA API set for a coherent
 * device on dma-iommu (6.10+, CONFIG_DMA_NEED_SYNC: recomputed only by
 * dma_set_mask(), which a driver that keeps the default mask never calls),
 * as altdma's bounced mappings need their syncs. Returns what to give
 * altdma_dev_restore_dma().
 */
static inline bool altdma_dev_take_dma(struct device *dev)
{
#if KERNEL_VERSION(6, 10, 0) <= LINUX_VERSION_CODE && IS_ENABLED(CONFIG_IOMMU_DMA)
	bool was = dev->dma_iommu;

	dev->dma_iommu = false;
#ifdef CONFIG_DMA_NEED_SYNC
	dev->dma_skip_sync = false;
#endif
	return was;
#else
	return false;
#endif
}

/* Undo altdma_dev_take_dma() once the default domain is back. */
static inline void altdma_dev_restore_dma(struct device *dev, bool was)
{
#if KERNEL_VERSION(6, 10, 0) <= LINUX_VERSION_CODE && IS_ENABLED(CONFIG_IOMMU_DMA)
	dev->dma_iommu = was;
#endif
}

/*
 * dma-iommu's IOVA allocator of a DMA domain. Its cookie is private to
 * dma-iommu.c, but from 4.x until 6.15 split the cookie kinds apart it
 * starts with the cookie type (0, IOMMU_DMA_IOVA_COOKIE, for a DMA domain)
 * followed by the public struct iova_domain. Nothing checks that layout at
 * build time: the caller checks what it reads before it trusts it
 * (prev_layer.c), and does without it when that fails.
 */
#if IS_ENABLED(CONFIG_IOMMU_DMA) && KERNEL_VERSION(6, 15, 0) > LINUX_VERSION_CODE
struct altdma_dma_cookie_head {
	int type;
	struct iova_domain iovad;
};

static inline struct iova_domain *altdma_prev_iovad(struct iommu_domain *domain)
{
	struct altdma_dma_cookie_head *c = (void *)domain->iova_cookie;

	return c && c->type == 0 ? &c->iovad : NULL;
}
#else
static inline struct iova_domain *altdma_prev_iovad(struct iommu_domain *domain)
{
	return NULL;
}
#endif

/*
 * The layer a device was on before its attach (dma-iommu over its group's
 * default domain), kept so that the unmaps, frees and syncs of mappings
 * that layer made before the attach still reach it (prev_layer.c).
 * Before 6.10 the DMA API went through dev->dma_ops, so the ops saved at
 * attach are called directly with the real device (the DMA API's own
 * checks, dma-debug included, already ran for it). From 6.10 dma-iommu's
 * entry points are not exported and the DMA API reaches them only for a
 * device whose dma_iommu bit is set: a stand-in device that is never
 * registered carries the real one's IOMMU group (whose default domain
 * dma-iommu uses), masks, coherence and bounce pool, and no ops, and the
 * calls go through the DMA API on it. @spans (@nr_spans of them, sorted)
 * are the address ranges dma-iommu's allocator held at the attach, where
 * its leftover mappings can only be; NULL when that was not read, and then
 * every address may hold one (prev_layer.c).
 */
struct altdma_prev_layer {
	struct iommu_domain *domain;
	unsigned int shift;
	struct altdma_prev_span *spans;
	unsigned int nr_spans;
#if KERNEL_VERSION(6, 10, 0) <= LINUX_VERSION_CODE && IS_ENABLED(CONFIG_IOMMU_DMA)
	struct device standin;
#else
	struct device *dev;
	const struct dma_map_ops *ops;
#endif
};

#if KERNEL_VERSION(6, 10, 0) <= LINUX_VERSION_CODE && IS_ENABLED(CONFIG_IOMMU_DMA)
/* Set @p up for @dev; false if its previous layer was not dma-iommu. */
static inline bool altdma_prev_init(struct altdma_prev_layer *p,
				    struct device *dev,
				    const struct dma_map_ops *ops, bool dma_iommu)
{
	struct device *s = &p->standin;

	if (!dma_iommu)
		return false;
	s->init_name = dev_name(dev);
	s->iommu_group = dev->iommu_group;
	s->dma_iommu = true;
	s->dma_mask = dev->dma_mask;
	s->coherent_dma_mask = dev->coherent_dma_mask;
	s->bus_dma_limit = dev->bus_dma_limit;
	s->dma_parms = dev->dma_parms;
#if IS_ENABLED(CONFIG_ARCH_HAS_SYNC_DMA_FOR_DEVICE) || \
	IS_ENABLED(CONFIG_ARCH_HAS_SYNC_DMA_FOR_CPU) || \
	IS_ENABLED(CONFIG_ARCH_HAS_SYNC_DMA_FOR_CPU_ALL)
	s->dma_coherent = dev->dma_coherent;
#endif
#ifdef CONFIG_SWIOTLB
	s->dma_io_tlb_mem = dev->dma_io_tlb_mem;
#endif
#ifdef CONFIG_SWIOTLB_DYNAMIC
	/* the dynamic pools the real device used are not seen from here */
	INIT_LIST_HEAD(&s->dma_io_tlb_pools);
	spin_lock_init(&s->dma_io_tlb_lock);
	s->dma_uses_io_tlb = dev->dma_uses_io_tlb;
#endif
#ifdef CONFIG_DMA_CMA
	s->cma_area = dev->cma_area;
#endif
	return true;
}

static inline void altdma_prev_unmap_page(struct altdma_prev_layer *p,
					  dma_addr_t dma, size_t size,
					  enum dma_data_direction dir,
					  unsigned long attrs)
{
	dma_unmap_page_attrs(&p->standin, dma, size, dir, attrs);
}

static inline void altdma_prev_unmap_resource(struct altdma_prev_layer *p,
					      dma_addr_t dma, size_t size,
					      enum dma_data_direction dir,
					      unsigned long attrs)
{
	dma_unmap_resource(&p->standin, dma, size, dir, attrs);
}

static inline void altdma_prev_unmap_sg(struct altdma_prev_layer *p,
					struct scatterlist *sgl, int nents,
					enum dma_data_direction dir,
					unsigned long attrs)
{
	dma_unmap_sg_attrs(&p->standin, sgl, nents, dir, attrs);
}

static inline void altdma_prev_free(struct altdma_prev_layer *p, size_t size,
				    void *cpu_addr, dma_addr_t dma,
				    unsigned long attrs)
{
	dma_free_attrs(&p->standin, size, cpu_addr, dma, attrs);
}

static inline void altdma_prev_free_pages(struct altdma_prev_layer *p,
					  size_t size, struct page *page,
					  dma_addr_t dma,
					  enum dma_data_direction dir)
{
	dma_free_pages(&p->standin, size, page, dma, dir);
}

static inline void altdma_prev_sync_single(struct altdma_prev_layer *p,
					   dma_addr_t dma, size_t size,
					   enum dma_data_direction dir,
					   bool for_device)
{
	if (for_device)
		dma_sync_single_for_device(&p->standin, dma, size, dir);
	else
		dma_sync_single_for_cpu(&p->standin, dma, size, dir);
}

static inline void altdma_prev_sync_sg(struct altdma_prev_layer *p,
				       struct scatterlist *sgl, int nents,
				       enum dma_data_direction dir,
				       bool for_device)
{
	if (for_device)
		dma_sync_sg_for_device(&p->standin, sgl, nents, dir);
	else
		dma_sync_sg_for_cpu(&p->standin, sgl, nents, dir);
}
#else
static inline bool altdma_prev_init(struct altdma_prev_layer *p,
				    struct device *dev,
				    const struct dma_map_ops *ops, bool dma_iommu)
{
	p->dev = dev;
	p->ops = ops;
	return ops && ops->unmap_page && ops->free;
}

static inline void altdma_prev_unmap_page(struct altdma_prev_layer *p,
					  dma_addr_t dma, size_t size,
					  enum dma_data_direction dir,
					  unsigned long attrs)
{
	p->ops->unmap_page(p->dev, dma, size, dir, attrs);
}

static inline void altdma_prev_unmap_resource(struct altdma_prev_layer *p,
					      dma_addr_t dma, size_t size,
					      enum dma_data_direction dir,
					      unsigned long attrs)
{
	if (p->ops->unmap_resource)
		p->ops->unmap_resource(p->dev, dma, size, dir, attrs);
}

static inline void altdma_prev_unmap_sg(struct altdma_prev_layer *p,
					struct scatterlist *sgl, int nents,
					enum dma_data_direction dir,
					unsigned long attrs)
{
	if (p->ops->unmap_sg)
		p->ops->unmap_sg(p->dev, sgl, nents, dir, attrs);
}

static inline void altdma_prev_free(struct altdma_prev_layer *p, size_t size,
				    void *cpu_addr, dma_addr_t dma,
				    unsigned long attrs)
{
	p->ops->free(p->dev, size, cpu_addr, dma, attrs);
}

static inline void altdma_prev_free_pages(struct altdma_prev_layer *p,
					  size_t size, struct page *page,
					  dma_addr_t dma,
					  enum dma_data_direction dir)
{
	if (p->ops->free_pages)
		p->ops->free_pages(p->dev, size, page, dma, dir);
}

static inline void altdma_prev_sync_single(struct altdma_prev_layer *p,
					   dma_addr_t dma, size_t size,
					   enum dma_data_direction dir,
					   bool for_device)
{
	if (for_device && p->ops->sync_single_for_device)
		p->ops->sync_single_for_device(p->dev, dma, size, dir);
	else if (!for_device && p->ops->sync_single_for_cpu)
		p->ops->sync_single_for_cpu(p->dev, dma, size, dir);
}

static inline void altdma_prev_sync_sg(struct altdma_prev_layer *p,
				       struct scatterlist *sgl, int nents,
				       enum dma_data_direction dir,
				       bool for_device)
{
	if (for_device && p->ops->sync_sg_for_device)
		p->ops->sync_sg_for_device(p->dev, sgl, nents, dir);
	else if (!for_device && p->ops->sync_sg_for_cpu)
		p->ops->sync_sg_for_cpu(p->dev, sgl, nents, dir);
}
#endif

/*
 * Where on the stack the return addresses above @ret are kept: walk the
 * current stack with the ORC unwinder (x86's default) and, past the frame
 * returning to @ret, give the address of each return address slot and its
 * value, up to @n of them, stopping at an interrupt frame. Returns how
 * many were found. Other unwinders do not say where a frame's return
 * address is kept: 0 (altdma then unwinds on every map, see call_site.c).
 */
#if IS_ENABLED(CONFIG_UNWINDER_ORC)
#include <asm/unwind.h>

#define ALTDMA_HAVE_RET_SLOTS	1

static inline unsigned int altdma_ret_slots(unsigned long ret,
					    unsigned long *slot,
					    unsigned long *val, unsigned int n)
{
	struct unwind_state state;
	unsigned long addr;
	unsigned int i = 0;
	bool past = false;

	for (unwind_start(&state, current, NULL, NULL);
	     !unwind_done(&state) && i < n; unwind_next_frame(&state)) {
		addr = unwind_get_return_address(&state);
		if (!addr || (past && (state.regs || !state.sp)))
			break;
		if (!past) {
			past = addr == ret;
			continue;
		}
		slot[i] = state.sp - sizeof(long);
		val[i++] = addr;
	}
	return i;
}
#else
#define ALTDMA_HAVE_RET_SLOTS	0

static inline unsigned int altdma_ret_slots(unsigned long ret,
					    unsigned long *slot,
					    unsigned long *val, unsigned int n)
{
	return 0;
}
#endif

/*
 * The read-side section of a DMA op that does not sleep (it holds the
 * device's context and the mapping objects it finds; see dma_iommu_ops.c):
 * preemption off, inline, where spinlocks spin; an RCU read lock on
 * PREEMPT_RT, where the spinlocks the op takes may sleep. Grace periods
 * (synchronize_rcu(), kfree_rcu()) wait for either.
 */
#ifdef CONFIG_PREEMPT_RT
#define altdma_op_lock()	rcu_read_lock()
#define altdma_op_unlock()	rcu_read_unlock()
#else
#define altdma_op_lock()	rcu_read_lock_sched()
#define altdma_op_unlock()	rcu_read_unlock_sched()
#endif

/*
 * A local of a DMA op's fast path whose every field the op sets before any
 * use: the compiler does not zero it first for CONFIG_INIT_STACK_ALL_ZERO
 * (Debian's 6.1 and 6.12 set it; a struct of a few words is then filled on
 * every call). GCC 12 and clang 16 have the attribute; older ones zero.
 */
#if __has_attribute(__uninitialized__)
#define altdma_uninit	__attribute__((__uninitialized__))
#else
#define altdma_uninit
#endif

/*
 * Wait until no task can be running altdma_dma_ops code it found in
 * dev->dma_ops before the ops were restored: one that loaded the pointer
 * and was preempted before the call, or is still returning from the op.
 * An RCU Tasks grace period ends only when every task has scheduled
 * voluntarily (or run in user space), which such a task has not; ops
 * themselves sleep only while they hold a context's users reference, which
 * the detach already waited for. Without CONFIG_TASKS_RCU (then kernels
 * without preemption), synchronize_rcu_tasks() is synchronize_rcu(), which
 * waits for those tasks too. Same on 6.1 and 6.12.
 */
static inline void altdma_sync_op_callers(void)
{
	synchronize_rcu_tasks();
}

#endif /* _ALTDMA_COMPAT_H */
