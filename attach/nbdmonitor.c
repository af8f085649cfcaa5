/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* The nbd mode's resident monitor: the kernel's NBD driver holds the
 * sockets, queues requests while a connection is dead (for the
 * dead-connection timeout given at NBD_CMD_CONNECT) and says so on its
 * netlink multicast group (NBD_CMD_LINK_DEAD, the device's index).
 * The monitor also holds a duplicate of every socket the kernel has,
 * and sees it hang up when the kernel gives up on it (the kernel shuts
 * a dead socket down): the notification needs a small allocation that
 * can fail under memory pressure, exactly when swap needs the device.
 * The monitor then makes a new connection to the same region and hands
 * it over with NBD_CMD_RECONFIGURE, which puts it in the place of the
 * first dead one (the kernel's order is the order of the sockets).  A donor that now serves another region never gets
 * the device: its RAM, and the swapped-out pages in it, are gone, and
 * reads must fail rather than return zeros, so the monitor disconnects
 * the device, which fails every queued and later request.
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libnbd.h>

#include "backoff.h"
#include "clock.h"
#include "device.h"
#include "health.h"
#include "ktls.h"
#include "modes.h"
#include "nbdmonitor.h"
#include "netlink.h"
#include "report.h"
#include "resident.h"

#define CHECK_MS 10000

struct monitor {
  const struct options *o;
  const struct donor *d;
  int index;
  unsigned give_up;             /* seconds */
  bool ktls;
  char backend[600];            /* as given at NBD_CMD_CONNECT */
  struct health *health;
  struct nbd_events *ev;
  int sock[MAX_CONNECTIONS];    /* duplicates of the kernel's sockets */
  bool is_dead[MAX_CONNECTIONS];
  unsigned nr;
  unsigned dead;                /* seen dead and not yet replaced */
  char lost_why[300];
};

/* Drains the kernel's notifications, which only say to look: the
 * sockets themselves say which connection died.
 */
static int
take_events (struct monitor *m)
{
  bool overrun;
  int n = nbd_events_read (m->ev, &overrun);

  if (n == -1)
    return -1;
  if (n > 0 || overrun)
    dram_debug ("/dev/nbd%d: the kernel reports %d dead connection(s)%s",
                m->index, n, overrun ? " and dropped notifications" : "");
  return 0;
}

/* The poll set: the notifications, then every live socket. */
static nfds_t
fill_poll (const struct monitor *m, struct pollfd *pfd)
{
  nfds_t n = 1;
  unsigned i;

  pfd[0] = (struct pollfd) { .fd = nbd_events_fd (m->ev), .events = POLLIN };
  for (i = 0; i < m->nr; i++)
    pfd[n++] = (struct pollfd) {
      .fd = m->is_dead[i] ? -1 : m->sock[i], .events = POLLRDHUP,
    };
  return n;
}

/* After a poll: notifications drained, sockets that hung up counted. */
static int
look (struct monitor *m, const struct pollfd *pfd)
{
  unsigned i;

  if (pfd[0].revents & POLLIN && take_events (m) == -1)
    return -1;
  for (i = 0; i < m->nr; i++) {
    if (m->is_dead[i] ||
        !(pfd[i + 1].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)))
      continue;
    m->is_dead[i] = true;
    m->dead++;
    snprintf (m->lost_why, sizeof m->lost_why, "lost the donor: "
              "connection %u of /dev/nbd%d is dead", i + 1, m->index);
    dram_error ("%s", m->lost_why);
    health_lost (m->health, m->lost_why);
  }
  return 0;
}

/* Polls for at most MS (-1: no limit); returns poll's result. */
static int
wait_for (struct monitor *m, int ms)
{
  struct pollfd pfd[MAX_CONNECTIONS + 1];
  nfds_t n = fill_poll (m, pfd);
  int r = poll (pfd, n, ms);

  if (r > 0 && look (m, pfd) == -1)
    return -1;
  return r == -1 && errno != EINTR ? -1 : r;
}

/* Sleeps MS, counting the deaths seen meanwhile. */
static int
pause_ms (struct monitor *m, int64_t ms)
{
  int64_t end = monotonic_ms () + ms;

  while (ms > 0) {
    if (wait_for (m, ms) == -1)
      return -1;
    ms = end - monotonic_ms ();
  }
  return 0;
}

/* A socket to the same region, handshaken, blocking, with the kernel
 * doing TLS when M->ktls; -1 with WHY filled (*LOST: another region).
 */
static int
new_socket (struct monitor *m, int timeout, bool *lost, char *why,
            size_t len)
{
  struct nbd_handle *h;
  gnutls_session_t session;
  int fd;

  ktls_take_session ();         /* forgets an earlier attempt's */
  h = donor_reconnect (m->o, m->d, timeout, lost, why, len);
  if (h == NULL)
    return -1;
  session = ktls_take_session ();
  fd = donor_dup_socket (h, why, len);
  if (fd == -1)
    goto out_close;
  if (m->ktls) {
    if (session == NULL) {
      snprintf (why, len, "libnbd's TLS session could not be found");
      goto out_close_fd;
    }
    if (ktls_install (fd, session, why, len) < 0)
      goto out_close_fd;
  }
  /* As donor_take_sockets: libnbd closes only its own descriptor. */
  nbd_close (h);
  return fd;

 out_close_fd:
  close (fd);
 out_close:
  nbd_close (h);
  return -1;
}

/* The device's data is unreachable: every request fails from now on,
 * and the kernel kills what needs a page it cannot read.
 */
static void
give_up (struct monitor *m, const char *why)
{
  dram_error ("/dev/nbd%d: %s; failing this device's requests from now "
              "on", m->index, why);
  health_failed (m->health, why);
  if (nbd_netlink_disconnect (m->index) != 0)
    dram_error ("/dev/nbd%d: could not disconnect it", m->index);
}

/* Replaces every dead connection, each with backoff, until none is
 * left.  Returns 0, or -1 when the device was given up.
 */
static int
recover (struct monitor *m)
{
  struct backoff b;
  char why[600] = "", msg[800];
  unsigned i;
  bool lost;
  int fd, r, timeout;

  if (m->give_up == 0) {
    /* No way back: the queued requests fail now. */
    give_up (m, m->lost_why);
    return -1;
  }
  backoff_start (&b, monotonic_ms, m->give_up);
  while (m->dead > 0) {
    timeout = backoff_attempt (&b, why, m->lost_why, msg, sizeof msg);
    if (timeout == -1) {
      give_up (m, msg);
      return -1;
    }
    fd = new_socket (m, timeout, &lost, why, sizeof why);
    if (fd >= 0) {
      r = nbd_netlink_reconfigure (m->index, m->backend, &fd, 1);
      if (r != 0) {
        /* A hang-up the kernel has not yet seen: try again. */
        close (fd);
        snprintf (why, sizeof why, "the kernel did not take the new "
                  "connection");
        if (pause_ms (m, backoff_pause (&b)) == -1)
          return -1;
        continue;
      }
      /* It took the first dead one's place; ours is watched there. */
      for (i = 0; !m->is_dead[i]; i++)
        ;
      close (m->sock[i]);
      m->sock[i] = fd;
      m->is_dead[i] = false;
      m->dead--;
      backoff_done (&b, msg, sizeof msg);
      dram_error ("/dev/nbd%d: %s", m->index, msg);
      health_back (m->health);
      /* The next dead one, if any, has its own time. */
      backoff_start (&b, monotonic_ms, m->give_up);
      continue;
    }
    if (lost) {
      give_up (m, why);
      return -1;
    }
    dram_debug ("reconnecting: %s", why);
    if (pause_ms (m, backoff_failed (&b)) == -1)
      return -1;
  }
  return 0;
}

/* Until the device is given up, or disconnected by someone else (it
 * is checked every CHECK_MS: the kernel sends nothing then).
 */
static int
watch (struct monitor *m)
{
  int r;

  prefault_stack ();
  for (;;) {
    r = wait_for (m, CHECK_MS);
    if (r == -1)
      return -1;
    if (r == 0 && !nbd_connected (m->index)) {
      dram_error ("/dev/nbd%d is no longer connected: the monitor stops",
                  m->index);
      return 0;
    }
    if (m->dead > 0 && recover (m) == -1)
      return -1;
  }
}

/* The libraries of the reconnecting path: libnbd's and libnl's. */
static const char *const *
monitor_libs (void)
{
  static const char *libs[64];
  size_t n = 0, i;

  for (i = 0; resident_libnbd_libs[i] && n < 60; i++)
    libs[n++] = resident_libnbd_libs[i];
  libs[n++] = "libnl-3.";
  libs[n++] = "libnl-genl-3.";
  libs[n] = NULL;
  return libs;
}

/* The child: set up, say so on READY, then watch for good. */
static void __attribute__ ((noreturn))
run (struct monitor *m, const char *health, int ready)
{
  if (leave_session () == -1)
    _exit (EXIT_FAILURE);
  /* A reconnect's allocations (libnbd's handle, GnuTLS's session) reuse
   * locked heap rather than fault fresh pages under pressure.
   */
  resident_heap (RESIDENT_HEAP);
  if (become_resident (monitor_libs ()) == -1)
    _exit (EXIT_FAILURE);
  m->ev = nbd_events_open (m->index);
  if (m->ev == NULL)
    _exit (EXIT_FAILURE);
  m->health = health_create (health, m->d->nr);
  if (m->health == NULL)
    _exit (EXIT_FAILURE);
  /* This thread makes every new connection: its handshakes' sends
   * then take no fresh page.
   */
  warm_send_path ();
  /* Before swap can be on this device: the log's writer thread too. */
  quiet_stderr ();
  if (write (ready, "r", 1) != 1)
    resident_exit (EXIT_FAILURE);
  close (ready);
  resident_exit (watch (m) == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}

pid_t
nbd_monitor_start (const struct options *o, const struct donor *d,
                   int index, const char *backend, unsigned give_up,
                   bool ktls, const int *fds, unsigned nr,
                   const char *health)
{
  struct monitor m = {
    .o = o, .d = d, .index = index, .give_up = give_up, .ktls = ktls,
    .nr = nr,
  };
  int ready[2];
  pid_t pid;

  memcpy (m.sock, fds, nr * sizeof *fds);
  snprintf (m.backend, sizeof m.backend, "%s", backend);
  if (pipe2 (ready, O_CLOEXEC) == -1) {
    dram_error ("pipe: %m");
    return -1;
  }
  fflush (stdout);
  pid = fork ();
  if (pid == -1) {
    dram_error ("fork: %m");
    close (ready[0]);
    close (ready[1]);
    return -1;
  }
  if (pid == 0) {
    close (ready[0]);
    run (&m, health, ready[1]);
  }
  close (ready[1]);
  if (wait_helper_ready (ready[0], pid, "reconnecting monitor") == -1) {
    close (ready[0]);
    stop_helper (pid);
    return -1;
  }
  close (ready[0]);
  return pid;
}
