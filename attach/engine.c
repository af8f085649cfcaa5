/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Carrying requests to the donor from a resident process (the FUSE
 * server, the TLS proxy).
 *
 * Each connection has one thread running one event loop, which reads
 * the donor's replies: each request completes there, by its done ()
 * callback.  A request is issued by whichever thread has it, so it
 * goes out on the socket at once, with no hand-over to the loop: per
 * request, one thread wakes to send it and one to finish it.  The loop
 * is woken (eventfd) only when the link could not send everything and
 * the loop must wait for the socket to take more, or to stop.  The
 * connection itself is a link (link.h): libnbd's handle, or the bare
 * socket after libnbd's handshake.
 *
 * When the connection dies, the link fails what was in flight with
 * ENOTCONN.  With a way to reconnect, those requests are not finished
 * but parked (a lock-free list), and so is every request issued while
 * the connection is down; the loop makes a new connection to the same
 * region and sends them all again.  Swap writes may be repeated: a
 * write is idempotent, and nothing else was waiting for it.
 */

#include <config.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "backoff.h"
#include "clock.h"
#include "engine.h"
#include "link.h"
#include "nbdproto.h"
#include "report.h"
#include "resident.h"

enum conn_state { UP, DOWN, FAILED };

struct engine_conn {
  struct link *link;
  struct engine_source src;
  bool has_src;
  struct engine_reconnect rc;
  bool has_rc;
  int wake;                     /* eventfd: look again at the link */
  atomic_bool stopping;
  _Atomic enum conn_state state;
  atomic_uint issuers;          /* threads sending on the link */
  atomic_uint in_flight;
  _Atomic (struct engine_req *) parked;
  bool src_done;                /* the loop's thread only */
  char lost_why[300];           /* the loop's thread only */
  pthread_t thread;
};

static void
finish (struct engine_req *r, int err)
{
  r->error = err;
  r->done (r);
}

static void
wake_loop (struct engine_conn *c)
{
  uint64_t one = 1;

  if (write (c->wake, &one, sizeof one) != sizeof one)
    abort ();                   /* an eventfd write cannot fail here */
}

/* From any thread: R waits for the connection to come back. */
static void
park (struct engine_conn *c, struct engine_req *r)
{
  struct engine_req *head = atomic_load (&c->parked);

  do
    r->next = head;
  while (!atomic_compare_exchange_weak (&c->parked, &head, r));
}

static struct engine_req *
take_parked (struct engine_conn *c)
{
  return atomic_exchange (&c->parked, NULL);
}

/* A request that failed with the connection, not by the donor's
 * answer, so that a new connection can carry it.  A donor can answer
 * only with the errors NBD has words for (ESHUTDOWN: it is going away);
 * anything else (ENOTCONN, EPIPE, ECONNRESET...) is the transport's.
 */
static bool
retryable (const struct engine_conn *c, int err)
{
  if (!c->has_rc)
    return false;
  switch (err) {
  case EPERM: case EIO: case ENOMEM: case EINVAL: case ENOSPC:
  case EOVERFLOW: case ENOTSUP:
    return false;
  default:
    return true;
  }
}

void
link_completed (struct engine_req *r, int err)
{
  struct engine_conn *c = r->conn;

  atomic_fetch_sub (&c->in_flight, 1);
  if (err && retryable (c, err)) {
    /* Perhaps inside the link: the loop looks at it later. */
    park (c, r);
    wake_loop (c);
    return;
  }
  finish (r, err);
}

/* Sends R on the link; the caller is counted in issuers. */
static void
send_now (struct engine_conn *c, struct engine_req *r)
{
  int sent, err;

  /* Counted first: the reply may come before send returns. */
  atomic_fetch_add (&c->in_flight, 1);
  sent = c->link->ops->send (c->link, r);
  if (sent == -1) {
    /* Not started, so the link will not finish it. */
    err = errno ? errno : EIO;
    atomic_fetch_sub (&c->in_flight, 1);
    if (c->has_rc && (c->link->ops->dead (c->link) || retryable (c, err))) {
      park (c, r);
      wake_loop (c);
      return;
    }
    dram_error ("donor: %s", c->link->ops->error (c->link));
    finish (r, err);
    return;
  }
  /* Part of it still to send: the loop must wait for the socket. */
  if (sent == 1 && !pthread_equal (pthread_self (), c->thread))
    wake_loop (c);
}

void
engine_issue (struct engine_conn *c, struct engine_req *r)
{
  r->conn = c;
  if (r->type != NBD_CMD_READ && r->type != NBD_CMD_WRITE &&
      r->type != NBD_CMD_FLUSH && r->type != NBD_CMD_TRIM) {
    finish (r, EINVAL);
    return;
  }
  /* Announced before looking at the state: the loop changes the
   * handle only after setting DOWN and seeing no issuer.
   */
  atomic_fetch_add (&c->issuers, 1);
  switch (atomic_load (&c->state)) {
  case UP:
    send_now (c, r);
    break;
  case DOWN:
    park (c, r);
    wake_loop (c);
    break;
  case FAILED:
    finish (r, c->has_rc ? EIO : ENOTCONN);
    break;
  }
  atomic_fetch_sub (&c->issuers, 1);
}

/* On the loop's thread: requests parked while UP (a race with the
 * death, or a send that found the handle dead before the loop did) go
 * out again; once FAILED they fail.
 */
static void
flush_parked (struct engine_conn *c)
{
  struct engine_req *r = take_parked (c), *next;
  enum conn_state s = atomic_load (&c->state);

  for (; r; r = next) {
    next = r->next;
    if (s == FAILED)
      finish (r, EIO);
    else if (s == DOWN)
      park (c, r);
    else {
      atomic_fetch_add (&c->issuers, 1);
      send_now (c, r);
      atomic_fetch_sub (&c->issuers, 1);
    }
  }
}

/* The link's error, when a call on the loop's thread failed: the first
 * reason is the one worth reporting.
 */
static void
note_failure (struct engine_conn *c, int r)
{
  const char *e;

  if (r != -1 || c->lost_why[0] != '\0')
    return;
  e = c->link->ops->error (c->link);
  if (e)
    snprintf (c->lost_why, sizeof c->lost_why, "%s", e);
}

static void
give_up (struct engine_conn *c, const char *why)
{
  atomic_store (&c->state, FAILED);
  dram_error ("%s; failing this device's requests from now on", why);
  health_failed (c->rc.health, why);
  flush_parked (c);
}

static void
check_dead (struct engine_conn *c)
{
  char msg[sizeof c->lost_why];

  if (atomic_load (&c->state) != UP || !c->link->ops->dead (c->link))
    return;
  /* The link has failed (or, with a way back, we parked) what was in
   * flight, or will when it is closed.  (A failed send on another
   * thread left its error there.)
   */
  snprintf (msg, sizeof msg, "%s",
            c->lost_why[0] ? c->lost_why : "the connection broke");
  snprintf (c->lost_why, sizeof c->lost_why, "lost the donor: %.280s", msg);
  if (c->has_rc) {
    dram_error ("%s", c->lost_why);
    atomic_store (&c->state, DOWN);
    health_lost (c->rc.health, c->lost_why);
  }
  else
    /* No way back (--reconnect-timeout 0): --status says failed. */
    give_up (c, c->lost_why);
}

/* Sleeps MS, or less if told to stop. */
static void
pause_ms (struct engine_conn *c, int64_t ms)
{
  struct pollfd pfd = { .fd = c->wake, .events = POLLIN };
  int64_t end = c->rc.now () + ms;
  uint64_t v;

  while (!atomic_load (&c->stopping) && ms > 0) {
    if (poll (&pfd, 1, ms) == 1 && read (c->wake, &v, sizeof v) == -1)
      break;
    ms = end - c->rc.now ();
  }
}

/* On the loop's thread, the connection being DOWN: makes a new one
 * with backoff, until it works, the region turns out lost, time runs
 * out, or the engine is stopped.
 */
static void
reconnect (struct engine_conn *c)
{
  struct backoff b;
  struct link *l;
  char why[600], msg[800];
  bool lost;
  int timeout;

  /* Nobody else may be inside the old link when it is closed. */
  while (atomic_load (&c->issuers) > 0)
    sched_yield ();
  c->link->ops->close (c->link);
  c->link = NULL;

  backoff_start (&b, c->rc.now, c->rc.give_up);
  for (;;) {
    if (atomic_load (&c->stopping)) {
      give_up (c, "stopped while reconnecting to the donor");
      return;
    }
    timeout = backoff_attempt (&b, why, c->lost_why, msg, sizeof msg);
    if (timeout == -1) {
      give_up (c, msg);
      return;
    }
    l = c->rc.connect (c->rc.opaque, timeout, &lost, why, sizeof why);
    if (l) {
      c->link = l;
      c->lost_why[0] = '\0';
      atomic_store (&c->state, UP);
      backoff_done (&b, msg, sizeof msg);
      dram_error ("%s", msg);
      health_back (c->rc.health);
      flush_parked (c);
      return;
    }
    if (lost) {
      give_up (c, why);
      return;
    }
    dram_debug ("reconnecting: %s", why);
    pause_ms (c, backoff_failed (&b));
  }
}

static void *
loop (void *arg)
{
  struct engine_conn *c = arg;
  struct pollfd pfd[3];
  enum conn_state s;
  uint64_t v;
  nfds_t n;
  bool stopping;

  prefault_stack ();
  /* This thread's reconnects' handshakes then send with no fresh page. */
  if (c->has_rc)
    warm_send_path ();
  for (;;) {
    s = atomic_load (&c->state);
    if (s == DOWN) {
      reconnect (c);
      continue;
    }
    if (atomic_load (&c->parked))
      flush_parked (c);
    stopping = atomic_load (&c->stopping) || c->src_done;
    if (stopping && atomic_load (&c->in_flight) == 0)
      break;
    /* With a source the loop exists for it: a dead donor ends it. */
    if (s == FAILED && c->has_src)
      break;

    pfd[0] = (struct pollfd) { .fd = c->wake, .events = POLLIN };
    pfd[1] = (struct pollfd) { .fd = -1 };
    if (s == UP) {
      pfd[1].fd = c->link->ops->fd (c->link);
      pfd[1].events = c->link->ops->events (c->link);
    }
    n = 2;
    if (c->has_src && !stopping &&
        (c->src.want == NULL || c->src.want (c->src.opaque))) {
      pfd[2] = (struct pollfd) { .fd = c->src.fd, .events = POLLIN };
      n = 3;
    }
    if (poll (pfd, n, -1) == -1) {
      if (errno == EINTR)
        continue;
      dram_error ("poll: %m");
      break;
    }
    if (pfd[0].revents & POLLIN && read (c->wake, &v, sizeof v) == -1)
      dram_error ("eventfd: %m");
    if (s == UP) {
      if (pfd[1].revents)
        note_failure (c, c->link->ops->notify (c->link, pfd[1].revents));
      check_dead (c);
    }
    if (n == 3 && pfd[2].revents & (POLLIN | POLLHUP | POLLERR) &&
        c->src.readable (c->src.opaque) == -1)
      c->src_done = true;
  }
  if (c->link && atomic_load (&c->state) == UP)
    c->link->ops->shutdown (c->link);
  return NULL;
}

struct engine_conn *
engine_start (struct link *l, const struct engine_source *src,
              const struct engine_reconnect *rc)
{
  struct engine_conn *c = calloc (1, sizeof *c);

  if (c == NULL) {
    dram_error ("calloc: %m");
    goto out_close_link;
  }
  c->link = l;
  if (src) {
    c->src = *src;
    c->has_src = true;
  }
  /* The health record is kept whether or not there is a way back. */
  if (rc) {
    c->rc = *rc;
    c->has_rc = rc->give_up > 0;
  }
  if (c->rc.now == NULL)
    c->rc.now = monotonic_ms;
  c->wake = eventfd (0, EFD_CLOEXEC);
  if (c->wake == -1) {
    dram_error ("eventfd: %m");
    goto out_free;
  }
  errno = pthread_create (&c->thread, NULL, loop, c);
  if (errno) {
    dram_error ("pthread_create: %m");
    goto out_close_wake;
  }
  return c;

 out_close_wake:
  close (c->wake);
 out_free:
  free (c);
 out_close_link:
  l->ops->close (l);
  return NULL;
}

void
engine_wait (struct engine_conn *c)
{
  pthread_join (c->thread, NULL);
  /* First: a link may end what it still held, which wakes the loop. */
  if (c->link)
    c->link->ops->close (c->link);
  close (c->wake);
  free (c);
}

void
engine_stop (struct engine_conn *c)
{
  atomic_store (&c->stopping, true);
  wake_loop (c);
  engine_wait (c);
}
