/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * altdma's side-by-side benchmarks (bench/, built into altdma.ko with
 * BENCH=1): the arguments of a command and the cases it runs.
 */
#ifndef _ALTDMA_BENCH_BENCH_H
#define _ALTDMA_BENCH_BENCH_H

#include <linux/device.h>
#include <linux/types.h>

/* Longest result text of one command. */
#define ALTDMA_BENCH_OUT_MAX	1024

/* Most distinct buffers per thread (bufs=). */
#define ALTDMA_BENCH_BUFS_MAX	4096

/**
 * struct altdma_bench_args - the key=value arguments of one command
 * @dev: the PCI device (a reference is held), or NULL
 * @size: bytes per mapping
 * @off: offset of the buffer in its first page
 * @threads: kthreads, one per online CPU at most
 * @iters: iterations per thread
 * @bufs: distinct buffers per thread, mapped in turn (iteration i maps
 *	buffer i % @bufs); 1 maps the same buffer every time
 * @untrusted: set pci_dev->untrusted during the run
 * @npages: IOVA pages per allocation
 * @nfill: ranges that fill the 32-bit space in the fragmented case
 * @budget_ms: stop a slow case after this long
 * @seed: seed of the pseudo-random choices
 * @kernel: run the kernel's implementation instead of altdma's
 * @nocache: the IOVA allocators without their per-CPU caches
 *
 * Context: filled by the command parser, read-only afterwards.
 */
struct altdma_bench_args {
	struct device *dev;
	size_t size;
	unsigned int off;
	unsigned int threads;
	unsigned int iters;
	unsigned int bufs;
	bool untrusted;
	unsigned long npages;
	unsigned long nfill;
	unsigned int budget_ms;
	u32 seed;
	bool kernel;
	bool nocache;
};

int altdma_bench_map(const struct altdma_bench_args *a, char *out, size_t len);
int altdma_bench_floor(const struct altdma_bench_args *a, char *out,
		       size_t len);
int altdma_bench_iova_fast(const struct altdma_bench_args *a, char *out,
			   size_t len);
int altdma_bench_iova_frag(const struct altdma_bench_args *a, char *out,
			   size_t len);
int altdma_bench_mem(const struct altdma_bench_args *a, char *out, size_t len);

#endif /* _ALTDMA_BENCH_BENCH_H */
