/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests: the resident processes' syslog (logsock.c) against a
 * daemon of our own on a Unix datagram socket: what it receives, a
 * daemon that stops reading (the sender must not wait, and says later
 * how much it dropped), a daemon that restarts, and none at all.
 */

#include <config.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>

#include <check.h>

#include "logsock.h"
#include "unit.h"

static char dir[] = "/tmp/dram-logsock.XXXXXX";
static char path[sizeof dir + 8];

/* A daemon's socket at PATH, bound now. */
static int
daemon_socket (void)
{
  struct sockaddr_un sun = { .sun_family = AF_UNIX };
  int fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  ck_assert_int_ge (fd, 0);
  snprintf (sun.sun_path, sizeof sun.sun_path, "%s", path);
  unlink (path);
  ck_assert_int_eq (bind (fd, (struct sockaddr *) &sun, sizeof sun), 0);
  return fd;
}

static int
send_msg (struct logsock *ls, const char *fmt, ...)
{
  va_list ap;
  int r;

  va_start (ap, fmt);
  r = logsock_vsend (ls, LOG_DAEMON | LOG_ERR, fmt, ap);
  va_end (ap);
  return r;
}

/* The next message the daemon FD has, NUL-terminated in BUF. */
static void
receive (int fd, char *buf, size_t len)
{
  ssize_t n = recv (fd, buf, len - 1, MSG_DONTWAIT);

  ck_assert_int_gt (n, 0);
  buf[n] = '\0';
}

static void
setup (void)
{
  ck_assert_ptr_nonnull (mkdtemp (dir));
  snprintf (path, sizeof path, "%s/log", dir);
}

static void
teardown (void)
{
  unlink (path);
  rmdir (dir);
  memcpy (dir + strlen (dir) - 6, "XXXXXX", 6);
}

START_TEST (format)
{
  int d = daemon_socket ();
  struct logsock ls;
  char buf[4096], want[256];

  ck_assert_int_eq (logsock_open (&ls, path, "dram-attach"), 0);
  errno = ENOSPC;
  ck_assert_int_eq (send_msg (&ls, "/dev/nbd%d: %m", 3), 0);
  receive (d, buf, sizeof buf);
  /* LOG_DAEMON (3) * 8 + LOG_ERR (3). */
  snprintf (want, sizeof want, "<27>dram-attach[%d]: /dev/nbd3: %s",
            (int) getpid (), strerror (ENOSPC));
  ck_assert_str_eq (buf, want);
  close (ls.fd);
  close (d);
}
END_TEST

/* The daemon reads nothing: every send still returns at once (the
 * alarm fails the test if one waits), the overflow is dropped, and the
 * first message through afterwards says how many were.
 */
START_TEST (daemon_not_reading)
{
  int d = daemon_socket (), i, sent = 0, dropped = 0;
  struct logsock ls;
  char buf[4096], want[128], *p;

  ck_assert_int_eq (logsock_open (&ls, path, "dram-attach"), 0);
  alarm (10);
  for (i = 0; i < 5000; i++) {
    if (send_msg (&ls, "lost the donor: message %d", i) == 0)
      sent++;
    else {
      ck_assert_int_eq (errno, EAGAIN);
      dropped++;
    }
  }
  alarm (0);
  ck_assert_int_gt (sent, 0);
  ck_assert_int_gt (dropped, 0);
  ck_assert_int_eq (sent + dropped, 5000);
  /* The daemon catches up; the next message carries the count. */
  while (recv (d, buf, sizeof buf, MSG_DONTWAIT) > 0)
    ;
  ck_assert_int_eq (send_msg (&ls, "reconnected"), 0);
  receive (d, buf, sizeof buf);
  p = strstr (buf, "]: reconnected (");
  ck_assert_ptr_nonnull (p);
  snprintf (want, sizeof want, "(%d earlier message(s) dropped", dropped);
  ck_assert_ptr_nonnull (strstr (p, want));
  /* And only once. */
  ck_assert_int_eq (send_msg (&ls, "again"), 0);
  receive (d, buf, sizeof buf);
  ck_assert_ptr_null (strstr (buf, "dropped"));
  close (ls.fd);
  close (d);
}
END_TEST

/* The daemon restarts (a new socket at the same path): the next
 * message reaches the new one.
 */
START_TEST (daemon_restarts)
{
  int d = daemon_socket ();
  struct logsock ls;
  char buf[4096];

  ck_assert_int_eq (logsock_open (&ls, path, "dram-attach"), 0);
  close (d);
  d = daemon_socket ();
  ck_assert_int_eq (send_msg (&ls, "after the restart"), 0);
  receive (d, buf, sizeof buf);
  ck_assert_ptr_nonnull (strstr (buf, "]: after the restart"));
  close (ls.fd);
  close (d);
}
END_TEST

/* No daemon: opening fails, sending drops, neither waits nor crashes;
 * a daemon that appears later gets the next message.
 */
START_TEST (no_daemon)
{
  struct logsock ls;
  char buf[4096];
  int d;

  ck_assert_int_eq (logsock_open (&ls, path, "dram-attach"), -1);
  ck_assert_int_eq (ls.fd, -1);
  ck_assert_int_eq (send_msg (&ls, "nobody hears this"), -1);
  d = daemon_socket ();
  ck_assert_int_eq (send_msg (&ls, "now somebody does"), 0);
  receive (d, buf, sizeof buf);
  ck_assert_ptr_nonnull (strstr (buf, "]: now somebody does (1 earlier"));
  close (ls.fd);
  close (d);
}
END_TEST

int
main (void)
{
  TCase *tc = tcase_create ("logsock");

  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, format);
  tcase_add_test (tc, daemon_not_reading);
  tcase_add_test (tc, daemon_restarts);
  tcase_add_test (tc, no_daemon);
  return run_tcase ("logsock", tc);
}
