/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Protecting processes in the swap I/O path (see resident.h). */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "donor.h"
#include "report.h"
#include "resident.h"

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#endif
#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4
#endif

const char *const resident_libnbd_libs[] = {
  "libc.", "ld-linux", "libnbd.", "libgnutls.", "libnettle.", "libhogweed.",
  "libgmp.", "libp11-kit.", "libtasn1.", "libidn2.", "libunistring.", NULL,
};

/* Without CAP_SYS_RESOURCE (some containers' root lacks it) neither
 * protection can be had; the process still works, and says so.
 */
static bool
denied (int err)
{
  return err == EPERM || err == EACCES;
}

static int
set_oom_score_adj (const char *value)
{
  int fd = open ("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  ssize_t n = -1;

  if (fd >= 0) {
    n = write (fd, value, strlen (value));
    close (fd);
  }
  if (n == (ssize_t) strlen (value))
    return 0;
  if (denied (errno)) {
    dram_error ("warning: cannot set oom_score_adj to %s without "
                "CAP_SYS_RESOURCE: the OOM killer may choose this process",
                value);
    return 0;
  }
  dram_error ("/proc/self/oom_score_adj: %m");
  return -1;
}

/* Whether a line of /proc/self/maps is worth locking in full: the
 * executable, the TLS key's copy (donor.c), and LIBS (their code, and their data, whose copy-on-write
 * pages the locking makes private now), and every anonymous mapping
 * that can be written (the heap, stacks, buffers).  Memory that was
 * allocated but never touched would otherwise be allocated on its first
 * use, perhaps under the memory pressure the process is there to
 * relieve (calloc, and the compiler's rewriting of malloc and memset
 * into calloc, leave fresh memory untouched).
 */
static bool
wanted (const char *perms, const char *path, const char *exe,
        const char *const *libs)
{
  const char *base = strrchr (path, '/');

  if (path[0] != '/')
    return (path[0] == '\0' || strcmp (path, "[heap]") == 0 ||
            strcmp (path, "[stack]") == 0) &&
           perms[0] == 'r' && perms[1] == 'w';
  if (strcmp (path, exe) == 0 ||
      strcmp (path, "/memfd:" PSK_MEMFD_NAME) == 0)
    return true;
  base = base ? base + 1 : path;
  for (; libs && *libs; libs++)
    if (strncmp (base, *libs, strlen (*libs)) == 0)
      return true;
  return false;
}

/* mlock (which populates) every mapping that wanted () names. */
static int
lock_mappings (const char *const *libs)
{
  FILE *fp = fopen ("/proc/self/maps", "re");
  char line[4096], perms[8], path[4096], exe[4096];
  unsigned long start, end;
  ssize_t n;
  int r = 0;

  n = readlink ("/proc/self/exe", exe, sizeof exe - 1);
  exe[n > 0 ? n : 0] = '\0';
  if (fp == NULL) {
    dram_error ("/proc/self/maps: %m");
    return -1;
  }
  while (fgets (line, sizeof line, fp) != NULL) {
    path[0] = '\0';
    if (sscanf (line, "%lx-%lx %7s %*s %*s %*s %4095s", &start, &end,
                perms, path) < 3 || !wanted (perms, path, exe, libs))
      continue;
    if (mlock ((void *) start, end - start) == -1) {
      dram_error ("mlock %s: %m", path[0] ? path : "anonymous memory");
      r = -1;
      break;
    }
  }
  fclose (fp);
  return r;
}

int
become_resident (const char *const *libs)
{
  /* First, so that locking memory cannot get it killed. */
  if (set_oom_score_adj ("-1000") == -1)
    return -1;
  /* Linux 5.6 and later; without it the process works, with less
   * protection from reclaim.
   */
  if (prctl (PR_SET_IO_FLUSHER, 1, 0, 0, 0) == -1) {
    if (denied (errno))
      dram_error ("warning: cannot mark this process as an I/O flusher "
                  "without CAP_SYS_RESOURCE: reclaim may throttle it");
    else if (errno == EINVAL)
      dram_debug ("this kernel has no PR_SET_IO_FLUSHER");
    else {
      dram_error ("prctl PR_SET_IO_FLUSHER: %m");
      return -1;
    }
  }
  if (mlockall (MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) == -1) {
    dram_error ("mlockall: %m");
    return -1;
  }
  return lock_mappings (libs);
}

void *
resident_alloc (size_t size)
{
  void *p = mmap (NULL, size, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

  if (p == MAP_FAILED) {
    dram_error ("mmap %zu bytes: %m", size);
    return NULL;
  }
  /* mlock populates it: nothing is allocated on its first use. */
  if (mlock (p, size) == -1) {
    dram_error ("mlock %zu bytes: %m", size);
    munmap (p, size);
    return NULL;
  }
  return p;
}

void
resident_heap (size_t reserve)
{
  volatile char *p;
  size_t i;

  mallopt (M_ARENA_MAX, 1);
  mallopt (M_TRIM_THRESHOLD, -1);
  mallopt (M_MMAP_THRESHOLD, 4 * 1024 * 1024);
  /* Written through a volatile pointer: a malloc, memset and free the
   * compiler could see through would be no allocation at all.
   */
  p = malloc (reserve);
  if (p == NULL)
    return;
  for (i = 0; i < reserve; i += 4096)
    p[i] = 0;
  free ((void *) p);
}

void
warm_send_path (void)
{
  struct sockaddr_in sin = {
    .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK),
  };
  socklen_t len = sizeof sin;
  char buf[4096] = "";          /* each thread its own: several warm at once */
  int l, c = -1, a = -1, r = -1;

  l = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (l == -1 || bind (l, (struct sockaddr *) &sin, len) == -1 ||
      listen (l, 1) == -1 ||
      getsockname (l, (struct sockaddr *) &sin, &len) == -1)
    goto out;
  c = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c == -1 || connect (c, (struct sockaddr *) &sin, len) == -1)
    goto out;
  a = accept4 (l, NULL, NULL, SOCK_CLOEXEC);
  if (a == -1 ||
      send (c, buf, sizeof buf, MSG_NOSIGNAL) != (ssize_t) sizeof buf ||
      recv (a, buf, sizeof buf, MSG_WAITALL) != (ssize_t) sizeof buf)
    goto out;
  r = 0;
 out:
  if (r == -1)
    dram_debug ("warming the send path on 127.0.0.1: %m");
  if (a >= 0)
    close (a);
  if (c >= 0)
    close (c);
  if (l >= 0)
    close (l);
}

void
prefault_stack (void)
{
  volatile char area[64 * 1024];
  size_t i;

  for (i = 0; i < sizeof area; i += 4096)
    area[i] = 0;
}

int
leave_session (void)
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
  dup2 (fd, 0);
  dup2 (fd, 1);
  close (fd);
  return 0;
}

void
quiet_stderr (void)
{
  const char *log = getenv ("DRAM_ATTACH_LOG");
  int fd;

  /* DRAM_ATTACH_LOG=FILE: messages there instead (tests, machines
   * without a syslog daemon).  Either way, written by a thread of their
   * own (report.h).
   */
  if (log && *log) {
    fd = open (log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
      dup2 (fd, 2);
      close (fd);
      dram_report_in_background ("dram-attach", 2);
      return;
    }
  }
  fd = open ("/dev/null", O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    dup2 (fd, 2);
    close (fd);
  }
  dram_report_in_background ("dram-attach", -1);
}

void
resident_exit (int status)
{
  dram_report_flush ();
  _exit (status);
}

int
daemonize_io (void)
{
  if (leave_session () == -1)
    return -1;
  quiet_stderr ();
  return 0;
}
