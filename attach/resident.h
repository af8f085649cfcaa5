/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_RESIDENT_H
#define DRAM_RESIDENT_H

#include <stddef.h>

/* For a process that stays in the swap I/O path (a proxy, a FUSE
 * server, the ioctl child): its memory must never be swapped out, its
 * writes must not be throttled by the reclaim it serves, and the OOM
 * killer must leave it alone.  Otherwise reclaim can end up waiting for
 * itself.
 *
 * Every page the process touches is locked, and so, in full and at
 * once, are its anonymous memory and the executable and the libraries
 * whose names start with one of LIBS (NULL-terminated): the code of the
 * data path, which must not need a page-in when memory is short.
 * Libraries the data path never uses are not pinned: libnbd brings
 * 30 MB of ICU data with libxml2.
 */
extern int become_resident (const char *const *libs);

/* SIZE bytes of zeroed memory for the data path, resident and locked
 * now (and kept until the process exits), whatever mlockall was told.
 * Returns NULL after reporting.
 */
extern void *resident_alloc (size_t size);

/* The libraries on the data path of a process that talks to the donor
 * through libnbd.
 */
extern const char *const resident_libnbd_libs[];

/* Leaves the session that started it: a new session, /, stdin and
 * stdout on /dev/null.  Messages still go to stderr.
 */
extern int leave_session (void);

/* From now on messages go to syslog (or $DRAM_ATTACH_LOG), written by
 * a thread of their own, and stderr to /dev/null.
 */
extern void quiet_stderr (void);

/* Both at once. */
extern int daemonize_io (void);

/* _exit (STATUS), once what was reported is written (a second at most). */
extern void resident_exit (int status) __attribute__ ((noreturn));

/* Gives the calling thread's TCP page fragment a page, by sending 4 KiB
 * over a loopback connection of its own.  TCP copies what a thread
 * sends into that thread's fragment (current->task_frag), reused once
 * what was sent is freed; a thread that never sent must allocate it at
 * its first send.  Seen in the test VM with sysrq-t: a monitor that
 * never reconnected sat in its first handshake's sendto, in
 * skb_page_frag_refill, reclaiming, while swap waited for it.
 * Without loopback it does nothing (the first send allocates as before).
 */
extern void warm_send_path (void);

/* One malloc arena, never trimmed, and RESERVE bytes of heap touched
 * now (so locked, in a resident process) and left free: the small
 * allocations a library makes later, under pressure, reuse memory that
 * is already there (mallocs of 4 MiB or more still map their own).
 */
#define RESIDENT_HEAP (1024 * 1024)
extern void resident_heap (size_t reserve);

/* Touches the next 64 KiB of the calling thread's stack, so that they
 * are there (and, after mlockall, locked) before it serves requests.
 */
extern void prefault_stack (void);

#endif /* DRAM_RESIDENT_H */
