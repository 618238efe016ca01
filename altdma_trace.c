// SPDX-License-Identifier: GPL-2.0-only
/*
 * altdma trace events: the one place they are instantiated
 * (CREATE_TRACE_POINTS). The events are declared in altdma_trace.h.
 */

#define CREATE_TRACE_POINTS
#include "altdma_trace.h"
