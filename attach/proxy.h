/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_PROXY_H
#define DRAM_PROXY_H

#include <sys/types.h>

#include "donor.h"

/* The largest request the proxy's preallocated buffers hold; the
 * device's max_sectors_kb is set to this.
 */
#define PROXY_MAX_REQUEST (128 * 1024)

/* Starts the resident proxy for D's connections (see proxy.c).  Fills
 * KERNEL_FDS[0..d->nr) with the sockets to give the kernel.  Returns
 * the proxy's pid, or -1 after reporting.
 */
extern pid_t proxy_start (struct donor *d, int *kernel_fds);

#endif /* DRAM_PROXY_H */
