/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * altdma's hooks for its benchmarks: bench/ is built into altdma.ko only
 * with BENCH=1 (Kbuild: CONFIG_ALTDMA_BENCH); otherwise these do nothing.
 */
#ifndef _ALTDMA_BENCH_H
#define _ALTDMA_BENCH_H

#ifdef CONFIG_ALTDMA_BENCH
void altdma_bench_init(void);
void altdma_bench_exit(void);
#else
static inline void altdma_bench_init(void) { }
static inline void altdma_bench_exit(void) { }
#endif

#endif /* _ALTDMA_BENCH_H */
