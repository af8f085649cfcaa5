/* dram — SPDX-License-Identifier: BSD-3-Clause */
#ifndef DRAM_HELPER_H
#define DRAM_HELPER_H

#include <sys/types.h>

#define CONNECT_WAIT 10         /* seconds for a device to come up */

/* Ends the resident helper PID (if it is one of ours): politely, then
 * not.
 */
extern void stop_helper (pid_t pid);

/* Waits for the helper PID (WHAT, for messages) to write a byte to FD,
 * saying it serves, or to die.  Returns 0, or -1 after reporting.
 */
extern int wait_helper_ready (int fd, pid_t pid, const char *what);

#endif /* DRAM_HELPER_H */
