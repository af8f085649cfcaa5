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

/* From now on, report to syslog as IDENT: for a process that has left
 * its terminal behind.
 */
extern void dram_report_to_syslog (const char *ident);

#endif /* DRAM_REPORT_H */
