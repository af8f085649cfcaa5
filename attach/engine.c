/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Carrying requests to the donor from a resident process (the FUSE
 * server, the TLS proxy).
 *
 * Each connection has one thread running one event loop, which reads
 * the donor's replies: each request completes there, by its done ()
 * callback.  A request is issued by whichever thread has it (libnbd
 * serialises calls on a handle), so it goes out on the socket at once,
 * with no hand-over to the loop: per request, one thread wakes to send
 * it and one to finish it.  The loop is woken (eventfd) only when
 * libnbd could not send everything and the loop must wait for the
 * socket to take more, or to stop.  Nothing is allocated per request.
 */

#include <config.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include <libnbd.h>

#include "engine.h"
#include "nbdproto.h"
#include "report.h"
#include "resident.h"

struct engine_conn {
  struct nbd_handle *h;
  struct engine_source src;
  bool has_src;
  int wake;                     /* eventfd: look again at the handle */
  atomic_bool stopping;
  atomic_bool dead;
  atomic_uint in_flight;
  bool src_done;                /* the loop's thread only */
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

static int
completed (void *opaque, int *error)
{
  struct engine_req *r = opaque;

  atomic_fetch_sub (&r->conn->in_flight, 1);
  finish (r, *error);
  return 1;                     /* retire the command */
}

void
engine_issue (struct engine_conn *c, struct engine_req *r)
{
  nbd_completion_callback cb = { .callback = completed, .user_data = r };
  uint32_t flags = r->fua ? LIBNBD_CMD_FLAG_FUA : 0;
  int64_t cookie;

  r->conn = c;
  if (r->type != NBD_CMD_READ && r->type != NBD_CMD_WRITE &&
      r->type != NBD_CMD_FLUSH && r->type != NBD_CMD_TRIM) {
    finish (r, EINVAL);
    return;
  }
  if (atomic_load (&c->dead)) {
    finish (r, ENOTCONN);
    return;
  }
  /* Counted first: the reply may come before nbd_aio_* returns. */
  atomic_fetch_add (&c->in_flight, 1);
  switch (r->type) {
  case NBD_CMD_READ:
    cookie = nbd_aio_pread (c->h, r->buf, r->len, r->offset, cb, 0);
    break;
  case NBD_CMD_WRITE:
    cookie = nbd_aio_pwrite (c->h, r->buf, r->len, r->offset, cb, flags);
    break;
  case NBD_CMD_FLUSH:
    cookie = nbd_aio_flush (c->h, cb, 0);
    break;
  default:                      /* NBD_CMD_TRIM */
    cookie = nbd_aio_trim (c->h, r->len, r->offset, cb, flags);
    break;
  }
  if (cookie == -1) {
    /* Not started, so libnbd will not call back. */
    atomic_fetch_sub (&c->in_flight, 1);
    dram_error ("donor: %s", nbd_get_error ());
    finish (r, nbd_get_errno () ? nbd_get_errno () : EIO);
    return;
  }
  /* Part of it still to send: the loop must wait for the socket. */
  if (!pthread_equal (pthread_self (), c->thread) &&
      nbd_aio_get_direction (c->h) & LIBNBD_AIO_DIRECTION_WRITE)
    wake_loop (c);
}

static void
check_dead (struct engine_conn *c)
{
  if (atomic_load (&c->dead) ||
      !(nbd_aio_is_dead (c->h) || nbd_aio_is_closed (c->h)))
    return;
  /* libnbd has failed whatever was in flight. */
  dram_error ("lost the donor: %s", nbd_get_error ());
  atomic_store (&c->dead, true);
}

static void *
loop (void *arg)
{
  struct engine_conn *c = arg;
  struct pollfd pfd[3];
  unsigned dir;
  uint64_t v;
  nfds_t n;
  bool stopping, dead;

  prefault_stack ();
  for (;;) {
    stopping = atomic_load (&c->stopping) || c->src_done;
    if (stopping && atomic_load (&c->in_flight) == 0)
      break;
    dead = atomic_load (&c->dead);
    /* With a source the loop exists for it: a dead donor ends it. */
    if (dead && c->has_src)
      break;

    pfd[0] = (struct pollfd) { .fd = c->wake, .events = POLLIN };
    pfd[1] = (struct pollfd) { .fd = -1 };
    if (!dead) {
      pfd[1].fd = nbd_aio_get_fd (c->h);
      dir = nbd_aio_get_direction (c->h);
      pfd[1].events = (dir & LIBNBD_AIO_DIRECTION_READ ? POLLIN : 0) |
                      (dir & LIBNBD_AIO_DIRECTION_WRITE ? POLLOUT : 0);
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
    /* Reading first: a reply is for an older command than any write. */
    if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))
      nbd_aio_notify_read (c->h);
    else if (pfd[1].revents & POLLOUT)
      nbd_aio_notify_write (c->h);
    check_dead (c);
    if (n == 3 && pfd[2].revents & (POLLIN | POLLHUP | POLLERR) &&
        c->src.readable (c->src.opaque) == -1)
      c->src_done = true;
  }
  if (!atomic_load (&c->dead) && nbd_aio_is_ready (c->h))
    nbd_shutdown (c->h, 0);
  return NULL;
}

struct engine_conn *
engine_start (struct nbd_handle *h, const struct engine_source *src)
{
  struct engine_conn *c = calloc (1, sizeof *c);

  if (c == NULL) {
    dram_error ("calloc: %m");
    return NULL;
  }
  c->h = h;
  if (src) {
    c->src = *src;
    c->has_src = true;
  }
  c->wake = eventfd (0, EFD_CLOEXEC);
  if (c->wake == -1) {
    dram_error ("eventfd: %m");
    free (c);
    return NULL;
  }
  errno = pthread_create (&c->thread, NULL, loop, c);
  if (errno) {
    dram_error ("pthread_create: %m");
    close (c->wake);
    free (c);
    return NULL;
  }
  return c;
}

void
engine_wait (struct engine_conn *c)
{
  pthread_join (c->thread, NULL);
  close (c->wake);
  nbd_close (c->h);
  free (c);
}

void
engine_stop (struct engine_conn *c)
{
  atomic_store (&c->stopping, true);
  wake_loop (c);
  engine_wait (c);
}
