/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What altdma_stress.ko calls in altdma itself, through symbol_get() (so
 * that it loads without altdma too): the attach/detach requests of
 * attach.c, declared here because the test driver builds apart from it.
 */
#ifndef _ALTDMA_STRESS_API_H
#define _ALTDMA_STRESS_API_H

int altdma_attach_request(char *req);
int altdma_detach_by_name(const char *name);

#endif /* _ALTDMA_STRESS_API_H */
