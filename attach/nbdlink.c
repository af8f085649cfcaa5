/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* A link (link.h) on libnbd's handle: for connections whose TLS runs
 * in this process (gnutls, inside libnbd).  libnbd serialises calls on
 * a handle, so a request goes out on the calling thread at once.
 */

#include <config.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include <libnbd.h>

#include "link.h"
#include "nbdproto.h"
#include "report.h"

struct nbdlink {
  struct link link;
  struct nbd_handle *h;
};

static struct nbd_handle *
handle (struct link *l)
{
  return ((struct nbdlink *) l)->h;
}

static int
completed (void *opaque, int *error)
{
  link_completed (opaque, *error);
  return 1;                     /* retire the command */
}

static int
nl_send (struct link *l, struct engine_req *r)
{
  struct nbd_handle *h = handle (l);
  nbd_completion_callback cb = { .callback = completed, .user_data = r };
  uint32_t flags = r->fua ? LIBNBD_CMD_FLAG_FUA : 0;
  int64_t cookie;

  switch (r->type) {
  case NBD_CMD_READ:
    cookie = nbd_aio_pread (h, r->buf, r->len, r->offset, cb, 0);
    break;
  case NBD_CMD_WRITE:
    cookie = nbd_aio_pwrite (h, r->buf, r->len, r->offset, cb, flags);
    break;
  case NBD_CMD_FLUSH:
    cookie = nbd_aio_flush (h, cb, 0);
    break;
  default:                      /* NBD_CMD_TRIM */
    cookie = nbd_aio_trim (h, r->len, r->offset, cb, flags);
    break;
  }
  if (cookie == -1) {
    errno = nbd_get_errno () ? nbd_get_errno () : EIO;
    return -1;
  }
  return nbd_aio_get_direction (h) & LIBNBD_AIO_DIRECTION_WRITE ? 1 : 0;
}

static int
nl_fd (struct link *l)
{
  return nbd_aio_get_fd (handle (l));
}

static short
nl_events (struct link *l)
{
  unsigned dir = nbd_aio_get_direction (handle (l));

  return (dir & LIBNBD_AIO_DIRECTION_READ ? POLLIN : 0) |
         (dir & LIBNBD_AIO_DIRECTION_WRITE ? POLLOUT : 0);
}

static int
nl_notify (struct link *l, short revents)
{
  /* Reading first: a reply is for an older command than any write. */
  if (revents & (POLLIN | POLLHUP | POLLERR))
    return nbd_aio_notify_read (handle (l));
  if (revents & POLLOUT)
    return nbd_aio_notify_write (handle (l));
  return 0;
}

static bool
nl_dead (struct link *l)
{
  return nbd_aio_is_dead (handle (l)) || nbd_aio_is_closed (handle (l));
}

static const char *
nl_error (struct link *l)
{
  return nbd_get_error ();
}

static void
nl_shutdown (struct link *l)
{
  if (nbd_aio_is_ready (handle (l)))
    nbd_shutdown (handle (l), 0);
}

static void
nl_close (struct link *l)
{
  nbd_close (handle (l));
  free (l);
}

static const struct link_ops ops = {
  .send = nl_send, .fd = nl_fd, .events = nl_events, .notify = nl_notify,
  .dead = nl_dead, .error = nl_error, .shutdown = nl_shutdown,
  .close = nl_close,
};

struct link *
nbd_link (struct nbd_handle *h)
{
  struct nbdlink *nl = malloc (sizeof *nl);

  if (nl == NULL) {
    dram_error ("malloc: %m");
    nbd_close (h);
    return NULL;
  }
  nl->link.ops = &ops;
  nl->h = h;
  return &nl->link;
}
