/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* A link (link.h) on the bare socket, after libnbd's handshake: NBD's
 * transmission phase with simple replies, spoken here.
 *
 * Why not libnbd: a process in the swap path must not need new memory
 * to send what swap writes, or swap-out ends up waiting for itself (see
 * README, "Deadlocks").  A normal TCP send copies into pages the kernel
 * allocates for the socket; with MSG_ZEROCOPY the kernel sends from the
 * sender's own pages, which here are locked buffers, and allocates only
 * small socket buffers.  The price: those pages must not change until
 * the kernel says it is done with them (a notification on the socket's
 * error queue, SO_EE_ORIGIN_ZEROCOPY), so a request ends only when both
 * the donor's reply and the kernel's notification have come.
 *
 * Requests are sent whole (header and data, one sendmsg) by the thread
 * that issues them, one at a time (send_lock), on the blocking socket.
 * The engine's loop reads the replies without blocking, and the
 * notifications.  A table of entries (lock) holds what is in flight:
 * the NBD handle of a request names its entry, and each entry keeps the
 * header the kernel may still be sending.  Whoever removes the last
 * thing a request waits for (its sender, its reply, its notification)
 * ends it.
 */

#include <config.h>

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <linux/errqueue.h>

#include "link.h"
#include "nbdproto.h"
#include "report.h"

#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif
#ifndef SO_EE_ORIGIN_ZEROCOPY
#define SO_EE_ORIGIN_ZEROCOPY 5
#endif

#define MAX_IN_FLIGHT SOCKET_LINK_MAX_IN_FLIGHT
/* Zero-copy sends the kernel may hold at once: the kernel numbers them
 * in order, and each number's place in a ring says whose send it was.
 * A send whose place is still taken copies instead.
 */
#define ZC_RING 256

/* The last failure seen by this thread, for the engine's message. */
static __thread char last_error[400];

struct entry {
  struct engine_req *req;
  struct nbd_request hdr;       /* the kernel may send from here */
  uint32_t gen;                 /* in the handle: a stale reply is caught */
  unsigned zc_pending;          /* zero-copy sends not yet released */
  bool busy;
  bool sending;                 /* its sender is still at it */
  bool replied;                 /* or failed with the connection */
  int error;
};

struct zc_send {
  uint32_t id;
  uint8_t index;                /* its entry */
  bool pending;
};

struct socklink {
  struct link link;
  int fd;
  bool zerocopy;

  pthread_mutex_t send_lock;    /* one sender on the socket at a time */
  uint32_t zc_next;             /* send_lock: the kernel's next id */

  pthread_mutex_t lock;         /* the rest */
  struct entry e[MAX_IN_FLIGHT];
  struct zc_send zc[ZC_RING];   /* by id % ZC_RING */
  atomic_bool dead;
  char why[400];                /* why it died, set once */

  /* The loop's thread only: the reply being read. */
  struct nbd_simple_reply reply;
  size_t reply_got;
  struct entry *reading;        /* its data, into reading->req->buf */
  size_t data_got;
  unsigned zc_waiting;          /* lock: answered, waiting for the kernel */
};

static struct socklink *
sock (struct link *l)
{
  return (struct socklink *) l;
}

/* Under lock: whether E's request can end now. */
static bool
ready (const struct entry *e)
{
  return e->busy && e->replied && !e->sending && e->zc_pending == 0;
}

/* Under lock: frees E and returns its request, to be ended (outside
 * the lock: its end may send the next request at once).
 */
static struct engine_req *
release (struct entry *e, int *err)
{
  *err = e->error;
  e->busy = false;
  return e->req;
}

/* The first failure of the connection: nothing more is sent or read,
 * and a sender blocked on the socket wakes.
 */
static void
set_dead (struct socklink *s, const char *why)
{
  pthread_mutex_lock (&s->lock);
  if (!atomic_load (&s->dead)) {
    snprintf (s->why, sizeof s->why, "%s", why);
    atomic_store (&s->dead, true);
    shutdown (s->fd, SHUT_RDWR);
  }
  pthread_mutex_unlock (&s->lock);
}

/* Ends every request that waits for nothing but the dead connection:
 * with ENOTCONN, which the engine takes for "send it again elsewhere".
 * The kernel drops what it held of them with the socket.
 */
static void
fail_in_flight (struct socklink *s)
{
  struct engine_req *done[MAX_IN_FLIGHT];
  int err[MAX_IN_FLIGHT];
  unsigned i, n = 0;

  pthread_mutex_lock (&s->lock);
  for (i = 0; i < MAX_IN_FLIGHT; i++) {
    struct entry *e = &s->e[i];

    if (!e->busy)
      continue;
    if (!e->replied) {
      e->replied = true;
      e->error = ENOTCONN;
    }
    e->zc_pending = 0;
    if (ready (e))
      done[n] = release (e, &err[n]), n++;
  }
  for (i = 0; i < ZC_RING; i++)
    s->zc[i].pending = false;
  s->zc_waiting = 0;
  pthread_mutex_unlock (&s->lock);
  for (i = 0; i < n; i++)
    link_completed (done[i], err[i]);
}

static void
encode (struct entry *e, unsigned index)
{
  const struct engine_req *r = e->req;
  uint64_t handle = (uint64_t) e->gen << 32 | index;
  uint16_t flags = r->fua ? NBD_CMD_FLAG_FUA : 0;

  e->hdr.magic = htobe32 (NBD_REQUEST_MAGIC);
  e->hdr.type = htobe32 ((uint32_t) flags << 16 | r->type);
  memcpy (e->hdr.handle, &handle, sizeof handle);
  e->hdr.from = htobe64 (r->type == NBD_CMD_FLUSH ? 0 : r->offset);
  e->hdr.len = htobe32 (r->type == NBD_CMD_FLUSH ? 0 : r->len);
}

/* Under lock: a free entry for R, or NULL. */
static struct entry *
take_entry (struct socklink *s, struct engine_req *r, unsigned *index)
{
  unsigned i;

  for (i = 0; i < MAX_IN_FLIGHT; i++) {
    struct entry *e = &s->e[i];

    if (e->busy)
      continue;
    e->busy = e->sending = true;
    e->replied = false;
    e->error = 0;
    e->zc_pending = 0;
    e->gen++;
    e->req = r;
    *index = i;
    return e;
  }
  return NULL;
}

/* Under send_lock: one sendmsg of what is left in MSG, zero-copy when
 * the kernel can and not too much is held.  Returns what sendmsg did.
 */
static ssize_t
send_some (struct socklink *s, struct entry *e, unsigned index,
           struct msghdr *msg)
{
  struct zc_send *z = &s->zc[s->zc_next % ZC_RING];
  bool zc;
  ssize_t n;

  pthread_mutex_lock (&s->lock);
  zc = s->zerocopy && !z->pending && !atomic_load (&s->dead);
  if (zc) {
    /* Before the send: its notification may come at once. */
    *z = (struct zc_send) { .id = s->zc_next, .index = index,
                            .pending = true };
    e->zc_pending++;
  }
  pthread_mutex_unlock (&s->lock);

  n = sendmsg (s->fd, msg, MSG_NOSIGNAL | (zc ? MSG_ZEROCOPY : 0));
  if (zc && n >= 0) {
    s->zc_next++;
    return n;
  }
  if (zc) {
    /* The kernel took nothing and gave the id back. */
    int err = errno;

    pthread_mutex_lock (&s->lock);
    z->pending = false;
    e->zc_pending--;
    pthread_mutex_unlock (&s->lock);
    errno = err;
    /* Out of room for notifications: copy this one. */
    if (err == ENOBUFS)
      return sendmsg (s->fd, msg, MSG_NOSIGNAL);
  }
  return n;
}

/* Under send_lock: all of MSG, or -1. */
static int
send_all (struct socklink *s, struct entry *e, unsigned index,
          struct msghdr *msg)
{
  ssize_t n;

  while (msg->msg_iovlen > 0) {
    n = send_some (s, e, index, msg);
    if (n == -1 && errno == EINTR)
      continue;
    if (n == -1)
      return -1;
    while (msg->msg_iovlen > 0 && (size_t) n >= msg->msg_iov->iov_len) {
      n -= msg->msg_iov->iov_len;
      msg->msg_iov++;
      msg->msg_iovlen--;
    }
    if (msg->msg_iovlen > 0) {
      msg->msg_iov->iov_base = (char *) msg->msg_iov->iov_base + n;
      msg->msg_iov->iov_len -= n;
    }
  }
  return 0;
}

static int
sl_send (struct link *l, struct engine_req *r)
{
  struct socklink *s = sock (l);
  struct iovec iov[2];
  struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 1 };
  struct engine_req *done = NULL;
  struct entry *e;
  unsigned index;
  int r_send, err, end_err = 0;
  bool started, was_dead;

  pthread_mutex_lock (&s->lock);
  e = atomic_load (&s->dead) ? NULL : take_entry (s, r, &index);
  pthread_mutex_unlock (&s->lock);
  if (e == NULL) {
    if (atomic_load (&s->dead)) {
      snprintf (last_error, sizeof last_error, "%s", s->why);
      errno = ENOTCONN;
    }
    else {
      snprintf (last_error, sizeof last_error,
                "more than %d requests in flight", MAX_IN_FLIGHT);
      errno = EBUSY;
    }
    return -1;
  }
  encode (e, index);
  iov[0] = (struct iovec) { .iov_base = &e->hdr, .iov_len = sizeof e->hdr };
  if (r->type == NBD_CMD_WRITE) {
    iov[1] = (struct iovec) { .iov_base = r->buf, .iov_len = r->len };
    msg.msg_iovlen = 2;
  }

  pthread_mutex_lock (&s->send_lock);
  was_dead = atomic_load (&s->dead);
  if (was_dead) {
    r_send = -1;
    err = ENOTCONN;
  }
  else {
    r_send = send_all (s, e, index, &msg);
    err = r_send == -1 ? errno : 0;
  }
  started = msg.msg_iov != iov || iov[0].iov_len != sizeof e->hdr;
  pthread_mutex_unlock (&s->send_lock);

  if (r_send == -1 && !was_dead) {
    char why[300];

    snprintf (why, sizeof why, "send: %s", strerror (err));
    set_dead (s, why);
  }

  pthread_mutex_lock (&s->lock);
  e->sending = false;
  if (r_send == -1 && !started) {
    /* Nothing of it went out: not sent at all. */
    e->zc_pending = 0;
    e->busy = false;
    pthread_mutex_unlock (&s->lock);
    snprintf (last_error, sizeof last_error, "%s", s->why);
    errno = err;
    return -1;
  }
  if (r_send == -1 && !e->replied) {
    /* Part of it went out on a connection now dead. */
    e->replied = true;
    e->error = ENOTCONN;
  }
  /* Dead (perhaps while this was being sent, after fail_in_flight):
   * nothing more is read from the socket, so nothing waits for it.
   */
  if (atomic_load (&s->dead))
    e->zc_pending = 0;
  if (ready (e))
    done = release (e, &end_err);
  pthread_mutex_unlock (&s->lock);
  if (done)
    link_completed (done, end_err);
  return 0;
}

static int
sl_fd (struct link *l)
{
  return sock (l)->fd;
}

static short
sl_events (struct link *l)
{
  return POLLIN;                /* POLLERR (notifications) always */
}

/* The kernel's notifications that zero-copy sends [LO, HI] are done. */
static void
released (struct socklink *s, uint32_t lo, uint32_t hi,
          struct engine_req **done, int *err, unsigned *n)
{
  struct zc_send *z;
  struct entry *e;
  uint32_t id;

  for (id = lo;; id++) {
    z = &s->zc[id % ZC_RING];
    if (z->pending && z->id == id) {
      z->pending = false;
      e = &s->e[z->index];
      e->zc_pending--;
      if (e->zc_pending == 0 && e->replied)
        s->zc_waiting--;
      if (ready (e))
        done[*n] = release (e, &err[*n]), (*n)++;
    }
    if (id == hi)
      break;
  }
}

/* Reads the kernel's notifications: all of them (DRAIN), or until no
 * answered request waits for one.
 */
static void
read_notifications (struct socklink *s, bool drain)
{
  struct engine_req *done[MAX_IN_FLIGHT];
  int err[MAX_IN_FLIGHT];
  unsigned i, n = 0;
  char control[256];
  struct msghdr msg;
  struct cmsghdr *cm;
  struct sock_extended_err *ee;

  for (;;) {
    pthread_mutex_lock (&s->lock);
    if (!drain && s->zc_waiting == 0) {
      pthread_mutex_unlock (&s->lock);
      break;
    }
    pthread_mutex_unlock (&s->lock);
    msg = (struct msghdr) {
      .msg_control = control, .msg_controllen = sizeof control,
    };
    if (recvmsg (s->fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) == -1)
      break;
    pthread_mutex_lock (&s->lock);
    for (cm = CMSG_FIRSTHDR (&msg); cm; cm = CMSG_NXTHDR (&msg, cm)) {
      if (!((cm->cmsg_level == SOL_IP && cm->cmsg_type == IP_RECVERR) ||
            (cm->cmsg_level == SOL_IPV6 && cm->cmsg_type == IPV6_RECVERR)))
        continue;
      ee = (struct sock_extended_err *) CMSG_DATA (cm);
      if (ee->ee_errno == 0 && ee->ee_origin == SO_EE_ORIGIN_ZEROCOPY)
        released (s, ee->ee_info, ee->ee_data, done, err, &n);
    }
    pthread_mutex_unlock (&s->lock);
    for (i = 0; i < n; i++)
      link_completed (done[i], err[i]);
    n = 0;
  }
}

/* The reply in s->reply has come: its entry, or NULL after failing. */
static struct entry *
replied_entry (struct socklink *s)
{
  uint64_t handle;
  uint32_t index, gen;
  struct entry *e;

  if (be32toh (s->reply.magic) != NBD_SIMPLE_REPLY_MAGIC) {
    snprintf (last_error, sizeof last_error,
              "the donor sent a reply with a bad magic (0x%08x)",
              be32toh (s->reply.magic));
    return NULL;
  }
  memcpy (&handle, s->reply.handle, sizeof handle);
  index = handle & 0xffffffff;
  gen = handle >> 32;
  e = index < MAX_IN_FLIGHT ? &s->e[index] : NULL;
  pthread_mutex_lock (&s->lock);
  if (e && (!e->busy || e->gen != gen || e->replied))
    e = NULL;
  pthread_mutex_unlock (&s->lock);
  if (e == NULL)
    snprintf (last_error, sizeof last_error,
              "the donor answered a request that was not asked (handle "
              "0x%016llx)", (unsigned long long) handle);
  return e;
}

static void
reply_done (struct socklink *s, struct entry *e, int err)
{
  struct engine_req *done = NULL;
  int end_err = 0;

  pthread_mutex_lock (&s->lock);
  e->replied = true;
  e->error = err;
  if (ready (e))
    done = release (e, &end_err);
  else if (e->zc_pending > 0)
    s->zc_waiting++;
  pthread_mutex_unlock (&s->lock);
  if (done)
    link_completed (done, end_err);
}

/* Reads what has come, without blocking.  Returns -1 when the
 * connection failed (last_error says why).
 */
static int
read_replies (struct socklink *s)
{
  struct entry *e;
  ssize_t n;
  int err;

  for (;;) {
    if (s->reading == NULL)
      n = recv (s->fd, (char *) &s->reply + s->reply_got,
                sizeof s->reply - s->reply_got, MSG_DONTWAIT);
    else
      n = recv (s->fd, (char *) s->reading->req->buf + s->data_got,
                s->reading->req->len - s->data_got, MSG_DONTWAIT);
    if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return 0;
    if (n == -1 && errno == EINTR)
      continue;
    if (n <= 0) {
      snprintf (last_error, sizeof last_error, "%s",
                n == 0 ? "the donor closed the connection"
                       : strerror (errno));
      return -1;
    }
    if (s->reading) {
      s->data_got += n;
      if (s->data_got == s->reading->req->len) {
        e = s->reading;
        s->reading = NULL;
        reply_done (s, e, 0);
      }
      continue;
    }
    s->reply_got += n;
    if (s->reply_got < sizeof s->reply)
      continue;
    s->reply_got = 0;
    e = replied_entry (s);
    if (e == NULL)
      return -1;
    err = nbd_errno_from_wire (be32toh (s->reply.error));
    if (err == 0 && e->req->type == NBD_CMD_READ && e->req->len > 0) {
      s->reading = e;
      s->data_got = 0;
    }
    else
      reply_done (s, e, err);
  }
}

static int
sl_notify (struct link *l, short revents)
{
  struct socklink *s = sock (l);

  if (atomic_load (&s->dead))
    return -1;
  if (revents & (POLLIN | POLLHUP | POLLERR) && read_replies (s) == -1) {
    set_dead (s, last_error);
    fail_in_flight (s);
    return -1;
  }
  /* The notifications of what was just answered are usually there. */
  if (s->zerocopy)
    read_notifications (s, revents & POLLERR);
  return 0;
}

static bool
sl_dead (struct link *l)
{
  return atomic_load (&sock (l)->dead);
}

static const char *
sl_error (struct link *l)
{
  return last_error[0] ? last_error : sock (l)->why;
}

static void
sl_shutdown (struct link *l)
{
  struct socklink *s = sock (l);
  struct nbd_request disc = {
    .magic = htobe32 (NBD_REQUEST_MAGIC), .type = htobe32 (NBD_CMD_DISC),
  };

  if (atomic_load (&s->dead))
    return;
  pthread_mutex_lock (&s->send_lock);
  if (send (s->fd, &disc, sizeof disc, MSG_NOSIGNAL) == sizeof disc)
    shutdown (s->fd, SHUT_WR);
  pthread_mutex_unlock (&s->send_lock);
}

static void
sl_close (struct link *l)
{
  struct socklink *s = sock (l);

  set_dead (s, "closed");
  fail_in_flight (s);
  close (s->fd);
  pthread_mutex_destroy (&s->lock);
  pthread_mutex_destroy (&s->send_lock);
  free (s);
}

static const struct link_ops ops = {
  .send = sl_send, .fd = sl_fd, .events = sl_events, .notify = sl_notify,
  .dead = sl_dead, .error = sl_error, .shutdown = sl_shutdown,
  .close = sl_close,
};

struct link *
socket_link (int fd, const char *name)
{
  struct socklink *s = calloc (1, sizeof *s);
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  int one = 1;

  if (s == NULL) {
    dram_error ("calloc: %m");
    close (fd);
    return NULL;
  }
  s->link.ops = &ops;
  s->fd = fd;
  pthread_mutex_init (&s->lock, NULL);
  pthread_mutex_init (&s->send_lock, NULL);
  /* TCP only: a Unix socket copies, and a kernel older than 4.14 has
   * no zero-copy (it copies too).
   */
  if (getsockname (fd, (struct sockaddr *) &ss, &len) == 0 &&
      (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) &&
      setsockopt (fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof one) == 0)
    s->zerocopy = true;
  else
    dram_debug ("donor %s: sending without zero-copy", name);
  return &s->link;
}
