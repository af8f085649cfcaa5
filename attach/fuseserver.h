/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_FUSESERVER_H
#define DRAM_FUSESERVER_H

#include "donor.h"

/* In the resident process: mounts the filesystem on MOUNTPOINT,
 * serves D's export as its file through D's connections (which it
 * takes), reconnecting to the same region as OPTS says, keeps the
 * connections' health (health.h) in HEALTH, writes one byte to
 * READY_FD once serving, and returns when the filesystem is unmounted
 * or the process is told to stop.
 */
extern int fuse_server_run (const struct options *opts, struct donor *d,
                            const char *mountpoint, const char *health,
                            int ready_fd);

#endif /* DRAM_FUSESERVER_H */
