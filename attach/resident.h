/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_RESIDENT_H
#define DRAM_RESIDENT_H

/* For a process that stays in the swap I/O path (a proxy, a FUSE
 * server, the ioctl child): its memory must never be swapped out, its
 * writes must not be throttled by the reclaim it serves, and the OOM
 * killer must leave it alone.  Otherwise reclaim can end up waiting for
 * itself.
 */
extern int become_resident (void);

/* Detaches from the terminal and session that started it. */
extern int daemonize_io (void);

#endif /* DRAM_RESIDENT_H */
