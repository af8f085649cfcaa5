/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Syslog that never waits (see logsock.h): RFC 3164's
 * "<PRI>IDENT[PID]: MESSAGE" on a non-blocking datagram socket.  No
 * timestamp: the daemon stamps what it receives (journald, rsyslog and
 * busybox syslogd all do), and formatting local time could read the
 * time zone files.
 */

#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "logsock.h"

static int
connect_daemon (struct logsock *ls)
{
  struct sockaddr_un sun = { .sun_family = AF_UNIX };
  int err;

  if ((size_t) snprintf (sun.sun_path, sizeof sun.sun_path, "%s", ls->path)
      >= sizeof sun.sun_path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  ls->fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (ls->fd == -1)
    return -1;
  if (connect (ls->fd, (struct sockaddr *) &sun, sizeof sun) == -1) {
    err = errno;
    close (ls->fd);
    ls->fd = -1;
    errno = err;
    return -1;
  }
  return 0;
}

int
logsock_open (struct logsock *ls, const char *path, const char *ident)
{
  *ls = (struct logsock) { .fd = -1, .path = path, .ident = ident };
  return connect_daemon (ls);
}

/* The daemon went away (restarted): its socket is another one now. */
static bool
daemon_gone (int err)
{
  return err == ECONNREFUSED || err == ENOTCONN || err == ECONNRESET;
}

int
logsock_vsend (struct logsock *ls, int priority, const char *fmt,
               va_list ap)
{
  char buf[2048];
  int err = errno, n, len;

  n = snprintf (buf, sizeof buf, "<%d>%s[%d]: ", priority, ls->ident,
                (int) getpid ());
  errno = err;                  /* for %m */
  len = n + vsnprintf (buf + n, sizeof buf - n, fmt, ap);
  if (ls->dropped > 0 && (size_t) len < sizeof buf)
    len += snprintf (buf + len, sizeof buf - len, " (%lu earlier "
                     "message(s) dropped: the syslog daemon was not "
                     "reading)", ls->dropped);
  if ((size_t) len >= sizeof buf)
    len = sizeof buf - 1;
  if (ls->fd >= 0 &&
      send (ls->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t) len)
    goto sent;
  err = ls->fd >= 0 ? errno : ENOTCONN;
  if (daemon_gone (err)) {
    if (ls->fd >= 0)
      close (ls->fd);
    ls->fd = -1;
    if (connect_daemon (ls) == 0 &&
        send (ls->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t) len)
      goto sent;
    err = errno;
  }
  ls->dropped++;
  errno = err;
  return -1;

 sent:
  ls->dropped = 0;
  return 0;
}
