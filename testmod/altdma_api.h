/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the test modules use of altdma itself, through symbol_get() (so
 * that they load without altdma too): the attach/detach requests of
 * attach.c and the ops table, declared here because the test modules
 * build apart from it.
 */
#ifndef _ALTDMA_STRESS_API_H
#define _ALTDMA_STRESS_API_H

#include <linux/dma-map-ops.h>

int altdma_attach_request(char *req);
int altdma_detach_by_name(const char *name);

extern const struct dma_map_ops altdma_dma_ops;

#endif /* _ALTDMA_STRESS_API_H */
