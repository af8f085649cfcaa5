/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_LOGSOCK_H
#define DRAM_LOGSOCK_H

#include <stdarg.h>

/* Syslog that never waits, for the processes in the swap path.
 * glibc's syslog(3) sends on a blocking socket: when the syslog
 * daemon stops reading (it may itself wait for a page in the swap
 * that waits for a reconnect) and its queue is full, the sender waits
 * too, and a reconnecting monitor that reports "lost the donor" would
 * never reconnect.  Here a message that cannot be queued at once is
 * dropped and counted.
 */
struct logsock {
  int fd;                       /* -1: not connected */
  const char *path;             /* the daemon's socket, /dev/log */
  const char *ident;
  unsigned long dropped;        /* since the last message that got through */
};

/* Connects LS to PATH (its lookup is done now, never again unless the
 * daemon restarts).  Returns 0, or -1 with errno set (LS stays usable:
 * every message is then dropped).
 */
extern int logsock_open (struct logsock *ls, const char *path,
                         const char *ident);

/* Sends one message at PRIORITY (facility included), formatted from
 * FMT (%m allowed), without ever waiting.  Returns 0, or -1 with errno
 * set when it was dropped (EAGAIN: the daemon's queue is full).
 */
extern int logsock_vsend (struct logsock *ls, int priority, const char *fmt,
                          va_list ap)
  __attribute__ ((format (printf, 3, 0)));

#endif /* DRAM_LOGSOCK_H */
