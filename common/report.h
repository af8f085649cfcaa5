/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* How shared code reports.  Each program defines these: the nbdkit
 * plugin forwards to nbdkit_verror/nbdkit_vdebug, dram-attach prints
 * to stderr, the unit tests keep the last message so they can check
 * it.  Messages may use %m.
 */
#ifndef DRAM_REPORT_H
#define DRAM_REPORT_H

extern void dram_error (const char *fmt, ...)
  __attribute__ ((format (printf, 1, 2)));
extern void dram_debug (const char *fmt, ...)
  __attribute__ ((format (printf, 1, 2)));

/* From now on, report to FD, or to syslog as IDENT when FD is -1, from
 * a thread that does nothing else: for a process that has left its
 * terminal behind and is in the swap path, whose reports must never
 * wait for the log (dram-attach's logring.h).
 */
extern void dram_report_in_background (const char *ident, int fd);

/* Before such a process exits: waits a little for what it reported to
 * be written.
 */
extern void dram_report_flush (void);

#endif /* DRAM_REPORT_H */
