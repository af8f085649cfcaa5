/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_GUARD_H
#define DRAM_GUARD_H

#include <stddef.h>

/* A store through a shared mapping of a tmpfs or hugetlbfs file raises
 * SIGBUS when the filesystem has no page to give (tmpfs full, huge
 * pages gone).  Uncaught, that kills the donor and every recipient's
 * swap with it.  The guard turns it into an error for that one request.
 *
 * The handler covers only the bytes a guarded_copy is storing to at
 * that moment, on that thread: a SIGBUS anywhere else keeps its
 * default action.  So one handler serves any number of regions, each
 * mapped and unmapped on its own.  Every guard_install is paired with
 * a guard_remove; the handler stays while any region needs it.
 */
extern int guard_install (void);
extern void guard_remove (void);

/* memcpy (memset to zero when SRC is NULL) that returns -1 instead of
 * dying of SIGBUS raised by a store into [DST, DST+N).
 */
extern int guarded_copy (void *dst, const void *src, size_t n);

#endif /* DRAM_GUARD_H */
