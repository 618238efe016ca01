// SPDX-License-Identifier: GPL-2.0-only
/*
 * altdma bounce-buffer pool.
 *
 * Not written yet: nothing in altdma bounces a buffer today. The pool is the
 * subject of its own issue (granule-aligned slots, min_align_mask offsets,
 * zeroed padding, copies on map/unmap/sync, per-CPU fast path).
 */
