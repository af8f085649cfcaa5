/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* The resident helpers a front-end starts (the FUSE server, the TLS
 * proxy, the NBD_DO_IT child, the reconnecting monitor): waiting for
 * one to serve, and ending one.
 */

#include <config.h>

#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "helper.h"
#include "report.h"

/* Whether PID is a dram-attach process (a pid in a state file may have
 * been reused since).
 */
static bool
is_ours (pid_t pid)
{
  char path[64], comm[64] = "";
  FILE *fp;

  if (pid <= 0)
    return false;
  snprintf (path, sizeof path, "/proc/%d/comm", (int) pid);
  fp = fopen (path, "re");
  if (fp == NULL)
    return false;
  if (fgets (comm, sizeof comm, fp) == NULL)
    comm[0] = '\0';
  fclose (fp);
  return strncmp (comm, "dram-attach", 11) == 0;
}

/* Ends a resident helper: politely, then not. */
void
stop_helper (pid_t pid)
{
  int i;

  if (!is_ours (pid))
    return;
  kill (pid, SIGTERM);
  for (i = 0; i < 100; i++) {
    waitpid (pid, NULL, WNOHANG);       /* reaps it if it is our child */
    if (kill (pid, 0) == -1)
      return;
    usleep (50000);
  }
  kill (pid, SIGKILL);
  waitpid (pid, NULL, 0);
}

int
wait_helper_ready (int fd, pid_t pid, const char *what)
{
  struct pollfd pfd = { .fd = fd, .events = POLLIN };
  char c;

  if (poll (&pfd, 1, CONNECT_WAIT * 1000) == 1 && read (fd, &c, 1) == 1)
    return 0;
  if (waitpid (pid, NULL, WNOHANG) == pid)
    dram_error ("the %s could not start", what);
  else
    dram_error ("the %s did not start within %d seconds", what,
                CONNECT_WAIT);
  return -1;
}
