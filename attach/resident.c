/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Protecting processes in the swap I/O path (see resident.h). */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#include "report.h"
#include "resident.h"

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#endif

static int
set_oom_score_adj (const char *value)
{
  int fd = open ("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  ssize_t n;

  if (fd == -1) {
    dram_error ("/proc/self/oom_score_adj: %m");
    return -1;
  }
  n = write (fd, value, strlen (value));
  close (fd);
  if (n != (ssize_t) strlen (value)) {
    dram_error ("/proc/self/oom_score_adj: %m");
    return -1;
  }
  return 0;
}

int
become_resident (void)
{
  if (mlockall (MCL_CURRENT | MCL_FUTURE) == -1) {
    dram_error ("mlockall: %m");
    return -1;
  }
  /* Linux 5.6 and later; without it the process works, with less
   * protection from reclaim.
   */
  if (prctl (PR_SET_IO_FLUSHER, 1, 0, 0, 0) == -1) {
    if (errno != EINVAL) {
      dram_error ("prctl PR_SET_IO_FLUSHER: %m");
      return -1;
    }
    dram_debug ("this kernel has no PR_SET_IO_FLUSHER");
  }
  return set_oom_score_adj ("-1000");
}

int
daemonize_io (void)
{
  int fd;

  if (setsid () == -1 && errno != EPERM) {
    dram_error ("setsid: %m");
    return -1;
  }
  if (chdir ("/") == -1) {
    dram_error ("chdir /: %m");
    return -1;
  }
  fd = open ("/dev/null", O_RDWR | O_CLOEXEC);
  if (fd == -1) {
    dram_error ("/dev/null: %m");
    return -1;
  }
  dram_report_to_syslog ("dram-attach");
  dup2 (fd, 0);
  dup2 (fd, 1);
  dup2 (fd, 2);
  close (fd);
  return 0;
}
