/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_LOGRING_H
#define DRAM_LOGRING_H

#include <stdarg.h>

/* The messages of a process in the swap path, written by a thread of
 * their own.  Writing a message can wait for the very swap that waits
 * for the process: appending to a log file on tmpfs swaps its last page
 * in (and a new page is an allocation, which under that pressure waits
 * for reclaim, which waits for the swap); a syslog socket's buffer is
 * an allocation too.  So the thread that reports only copies the
 * message into a slot of a ring allocated in advance and wakes the
 * writer; when the writer is stuck and the ring is full, the message is
 * dropped and counted, and the next one that gets through says how
 * many were.  One ring per process.
 */

/* Writes one message (NUL-terminated, no newline) at PRIORITY. */
typedef void (*logring_sink) (void *arg, int priority, const char *text);

/* Starts the writer, which hands each message to SINK (called from that
 * thread only).  Once per process; after a fork, the child may start
 * its own.  Returns 0, or -1 with errno set.
 */
extern int logring_start (logring_sink sink, void *arg);

/* Whether this process's writer is running. */
extern int logring_running (void);

/* Queues one message, formatted from FMT (%m allowed), never waiting
 * for the writer.  Returns 0, or -1 when it was dropped (ring full).
 */
extern int logring_vput (int priority, const char *fmt, va_list ap)
  __attribute__ ((format (printf, 2, 0)));

/* Waits at most MS milliseconds for the writer to have written
 * everything queued (before the process exits).  Returns 0, or -1 when
 * some is still unwritten.
 */
extern int logring_flush (unsigned ms);

#endif /* DRAM_LOGRING_H */
