/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_IOCTL_H
#define DRAM_IOCTL_H

#include <sys/types.h>

#include "netlink.h"

/* The old way, for kernels without the netlink family: configures
 * /dev/nbdINDEX with ioctls and leaves a resident child blocked in
 * NBD_DO_IT for as long as the device is connected.  Returns the
 * child's pid, or -1 after reporting.
 */
extern pid_t nbd_ioctl_connect (int index, const struct nbd_connect_req *req);

/* NBD_DISCONNECT and NBD_CLEAR_SOCK; the child then exits. */
extern int nbd_ioctl_disconnect (int index);

#endif /* DRAM_IOCTL_H */
