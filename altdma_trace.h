/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * altdma trace events (TRACE_EVENT), for ftrace and perf:
 *
 *   altdma_map     a mapping made (any kind), with the driver's call site
 *   altdma_unmap   a mapping released (strict, or queued for a flush)
 *   altdma_bounce  a buffer copied into (map) or out of (unmap) its slot
 *   altdma_flush   an IOTLB invalidation: strict sync, or a flush of all
 *   altdma_misuse  a refused call of a driver, or a quarantined IOVA
 *
 * Enable with "echo 1 > /sys/kernel/tracing/events/altdma/enable" (or
 * "perf record -e 'altdma:*'"). altdma_trace.c instantiates them; Kbuild
 * adds altdma's directory to its include path, in tree and out of tree.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM altdma

#if !defined(_ALTDMA_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _ALTDMA_TRACE_H

#include <linux/device.h>
#include <linux/tracepoint.h>
#include <linux/types.h>

#include "altdma_compat.h"

TRACE_EVENT(altdma_map,
	    TP_PROTO(struct device *dev, u32 type, dma_addr_t dma,
		     size_t size, u32 dir, dma_addr_t iova,
		     unsigned long npages, unsigned long site),
	    TP_ARGS(dev, type, dma, size, dir, iova, npages, site),
	    TP_STRUCT__entry(__string(dev, dev_name(dev))
			     __field(u32, type)
			     __field(u32, dir)
			     __field(u64, dma)
			     __field(u64, iova)
			     __field(size_t, size)
			     __field(unsigned long, npages)
			     __field(unsigned long, site)
	    ),
	    TP_fast_assign(ALTDMA_TRACE_ASSIGN_STR(dev, dev_name(dev));
			   __entry->type = type;
			   __entry->dir = dir;
			   __entry->dma = dma;
			   __entry->iova = iova;
			   __entry->size = size;
			   __entry->npages = npages;
			   __entry->site = site;
	    ),
	    TP_printk("%s %s dma=0x%llx size=%zu dir=%s iova=0x%llx pages=%lu caller=%pS",
		      __get_str(dev),
		      __print_symbolic(__entry->type, { 0, "page" }, { 1, "sg" },
				       { 2, "resource" }, { 3, "coherent" }, { 4, "pages" }),
		      __entry->dma, __entry->size,
		      __print_symbolic(__entry->dir, { 0, "bidi" }, { 1, "to_dev" },
				       { 2, "from_dev" }, { 3, "none" }),
		      __entry->iova, __entry->npages, (void *)__entry->site)
);

TRACE_EVENT(altdma_unmap,
	    TP_PROTO(struct device *dev, u32 type, dma_addr_t dma,
		     size_t size, u32 dir, bool strict),
	    TP_ARGS(dev, type, dma, size, dir, strict),
	    TP_STRUCT__entry(__string(dev, dev_name(dev))
			     __field(u32, type)
			     __field(u32, dir)
			     __field(u64, dma)
			     __field(size_t, size)
			     __field(bool, strict)
	    ),
	    TP_fast_assign(ALTDMA_TRACE_ASSIGN_STR(dev, dev_name(dev));
			   __entry->type = type;
			   __entry->dir = dir;
			   __entry->dma = dma;
			   __entry->size = size;
			   __entry->strict = strict;
	    ),
	    TP_printk("%s %s dma=0x%llx size=%zu dir=%s %s",
		      __get_str(dev),
		      __print_symbolic(__entry->type, { 0, "page" }, { 1, "sg" },
				       { 2, "resource" }, { 3, "coherent" }, { 4, "pages" }),
		      __entry->dma, __entry->size,
		      __print_symbolic(__entry->dir, { 0, "bidi" }, { 1, "to_dev" },
				       { 2, "from_dev" }, { 3, "none" }),
		      __entry->strict ? "strict" : "deferred")
);

TRACE_EVENT(altdma_bounce,
	    TP_PROTO(struct device *dev, phys_addr_t orig, phys_addr_t slot,
		     size_t size, u32 dir, bool to_slot),
	    TP_ARGS(dev, orig, slot, size, dir, to_slot),
	    TP_STRUCT__entry(__string(dev, dev_name(dev))
			     __field(u64, orig)
			     __field(u64, slot)
			     __field(size_t, size)
			     __field(u32, dir)
			     __field(bool, to_slot)
	    ),
	    TP_fast_assign(ALTDMA_TRACE_ASSIGN_STR(dev, dev_name(dev));
			   __entry->orig = orig;
			   __entry->slot = slot;
			   __entry->size = size;
			   __entry->dir = dir;
			   __entry->to_slot = to_slot;
	    ),
	    TP_printk("%s %s orig=0x%llx slot=0x%llx size=%zu dir=%s",
		      __get_str(dev), __entry->to_slot ? "map" : "unmap",
		      __entry->orig, __entry->slot, __entry->size,
		      __print_symbolic(__entry->dir, { 0, "bidi" }, { 1, "to_dev" },
				       { 2, "from_dev" }, { 3, "none" }))
);

TRACE_EVENT(altdma_flush,
	    TP_PROTO(struct device *dev, bool all, u64 nr),
	    TP_ARGS(dev, all, nr),
	    TP_STRUCT__entry(__string(dev, dev_name(dev))
			     __field(bool, all)
			     __field(u64, nr)
	    ),
	    TP_fast_assign(ALTDMA_TRACE_ASSIGN_STR(dev, dev_name(dev));
			   __entry->all = all;
			   __entry->nr = nr;
	    ),
	    TP_printk("%s %s #%llu",
		      __get_str(dev),
		      __entry->all ? "flush_all" : "iotlb_sync", __entry->nr)
);

TRACE_EVENT(altdma_misuse,
	    TP_PROTO(struct device *dev, const char *kind, const char *what,
		     dma_addr_t dma, size_t size, u32 dir,
		     unsigned long caller),
	    TP_ARGS(dev, kind, what, dma, size, dir, caller),
	    TP_STRUCT__entry(__string(dev, dev_name(dev))
			     __string(kind, kind)
			     __string(what, what)
			     __field(u64, dma)
			     __field(size_t, size)
			     __field(u32, dir)
			     __field(unsigned long, caller)
	    ),
	    TP_fast_assign(ALTDMA_TRACE_ASSIGN_STR(dev, dev_name(dev));
			   ALTDMA_TRACE_ASSIGN_STR(kind, kind);
			   ALTDMA_TRACE_ASSIGN_STR(what, what);
			   __entry->dma = dma;
			   __entry->size = size;
			   __entry->dir = dir;
			   __entry->caller = caller;
	    ),
	    TP_printk("%s %s: %s dma=0x%llx size=%zu dir=%s caller=%pS",
		      __get_str(dev), __get_str(kind), __get_str(what),
		      __entry->dma, __entry->size,
		      __print_symbolic(__entry->dir, { 0, "bidi" }, { 1, "to_dev" },
				       { 2, "from_dev" }, { 3, "none" }),
		      (void *)__entry->caller)
);

TRACE_EVENT(altdma_sanitize,
	    TP_PROTO(struct device *dev, const char *kind, const char *what,
		     dma_addr_t dma, size_t size, u32 dir, long first,
		     long last, unsigned long site, unsigned long caller),
	    TP_ARGS(dev, kind, what, dma, size, dir, first, last, site,
		    caller),
	    TP_STRUCT__entry(__string(dev, dev_name(dev))
			     __string(kind, kind)
			     __string(what, what)
			     __field(u64, dma)
			     __field(size_t, size)
			     __field(u32, dir)
			     __field(long, first)
			     __field(long, last)
			     __field(unsigned long, site)
			     __field(unsigned long, caller)
	    ),
	    TP_fast_assign(ALTDMA_TRACE_ASSIGN_STR(dev, dev_name(dev));
			   ALTDMA_TRACE_ASSIGN_STR(kind, kind);
			   ALTDMA_TRACE_ASSIGN_STR(what, what);
			   __entry->dma = dma;
			   __entry->size = size;
			   __entry->dir = dir;
			   __entry->first = first;
			   __entry->last = last;
			   __entry->site = site;
			   __entry->caller = caller;
	    ),
	    TP_printk("%s %s: %s dma=0x%llx size=%zu dir=%s bytes=%ld..%ld mapped_by=%pS caller=%pS",
		      __get_str(dev), __get_str(kind), __get_str(what),
		      __entry->dma, __entry->size,
		      __print_symbolic(__entry->dir, { 0, "bidi" }, { 1, "to_dev" },
				       { 2, "from_dev" }, { 3, "none" }),
		      __entry->first, __entry->last, (void *)__entry->site,
		      (void *)__entry->caller)
);

#endif /* _ALTDMA_TRACE_H */

/* This part must be outside the include guard. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE altdma_trace
#include <trace/define_trace.h>
