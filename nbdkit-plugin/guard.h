/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_GUARD_H
#define DRAM_GUARD_H

#include <stddef.h>

/* A store through a shared mapping of a tmpfs or hugetlbfs file raises
 * SIGBUS when the filesystem has no page to give (tmpfs full, huge
 * pages gone).  Uncaught, that kills the donor and every recipient's
 * swap with it.  The guard turns it into an error for that one request.
 *
 * guard_install covers [START, START+LEN); a SIGBUS elsewhere keeps
 * its default action.
 */
extern int guard_install (void *start, size_t len);
extern void guard_remove (void);

/* memcpy (memset to zero when SRC is NULL) that returns -1 instead of
 * dying of SIGBUS.
 */
extern int guarded_copy (void *dst, const void *src, size_t n);

#endif /* DRAM_GUARD_H */
