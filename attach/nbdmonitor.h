/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_NBDMONITOR_H
#define DRAM_NBDMONITOR_H

#include <stdbool.h>
#include <sys/types.h>

#include "donor.h"
#include "options.h"

/* Starts the resident process that keeps /dev/nbdINDEX connected to
 * D (BACKEND: the identifier given to NBD_CMD_CONNECT; FDS: the NR
 * sockets given to the kernel, in order, which the process keeps
 * duplicates of): on each connection the kernel gives up on, it makes a new one to the same
 * region (with kernel TLS when KTLS) and gives it to the
 * kernel; when the region is gone or GIVE_UP seconds pass, it
 * disconnects the device so that its requests fail.  It keeps HEALTH
 * (health.h) up to date.  Returns its pid once it listens, or -1 after
 * reporting.
 */
extern pid_t nbd_monitor_start (const struct options *o,
                                const struct donor *d, int index,
                                const char *backend, unsigned give_up,
                                bool ktls, const int *fds, unsigned nr,
                                const char *health);

#endif /* DRAM_NBDMONITOR_H */
