/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* The TLS proxy.  The kernel's NBD driver cannot speak TLS, so with
 * --tls-psk the kernel gets one end of a socketpair per connection and
 * a resident process carries each request to the donor over libnbd's
 * TLS connection.
 *
 * Each connection has one thread running one event loop: it reads the
 * kernel's requests (simple NBD requests), issues them on the libnbd
 * handle without waiting, and writes each reply when its completion
 * callback runs.  All libnbd calls for a handle happen on its thread.
 * Buffers are allocated before the process locks its memory and goes
 * to work; a request larger than a buffer (the device's max_sectors_kb
 * is lowered to prevent that) gets a buffer of its own.
 */

#include <config.h>

#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <libnbd.h>

#include "nbdproto.h"
#include "proxy.h"
#include "report.h"
#include "resident.h"

#define SLOTS 32                /* requests in flight per connection */

struct conn;

struct slot {
  struct conn *c;
  bool busy;
  char handle[8];               /* the kernel's, echoed in the reply */
  uint16_t type;
  uint32_t len;
  char *buf;                    /* preallocated, PROXY_MAX_REQUEST bytes */
  char *big;                    /* a larger request's own buffer */
};

struct conn {
  struct nbd_handle *h;
  int kfd;                      /* our end of the kernel's socketpair */
  unsigned busy;
  bool closing;                 /* the kernel sent NBD_CMD_DISC or left */
  struct slot slot[SLOTS];
};

/* Reads exactly LEN bytes; 0 at a clean end of stream. */
static ssize_t
read_full (int fd, void *buf, size_t len)
{
  size_t got = 0;
  ssize_t n;

  while (got < len) {
    n = recv (fd, (char *) buf + got, len - got, MSG_WAITALL);
    if (n == -1 && errno == EINTR)
      continue;
    if (n <= 0)
      return n == 0 && got == 0 ? 0 : -1;
    got += n;
  }
  return got;
}

static int
write_full (int fd, const void *buf, size_t len)
{
  size_t done = 0;
  ssize_t n;

  while (done < len) {
    n = send (fd, (const char *) buf + done, len - done, MSG_NOSIGNAL);
    if (n == -1 && errno == EINTR)
      continue;
    if (n == -1)
      return -1;
    done += n;
  }
  return 0;
}

static char *
slot_data (struct slot *s)
{
  return s->big ? s->big : s->buf;
}

static void
slot_release (struct slot *s)
{
  free (s->big);
  s->big = NULL;
  s->busy = false;
  s->c->busy--;
}

/* Sends the kernel its reply; the data follows a successful read. */
static int
reply (struct slot *s, int err)
{
  struct nbd_simple_reply r;

  r.magic = htobe32 (NBD_SIMPLE_REPLY_MAGIC);
  r.error = htobe32 (nbd_errno_to_wire (err));
  memcpy (r.handle, s->handle, sizeof r.handle);
  if (write_full (s->c->kfd, &r, sizeof r) == -1 ||
      (err == 0 && s->type == NBD_CMD_READ &&
       write_full (s->c->kfd, slot_data (s), s->len) == -1)) {
    dram_error ("proxy: replying to the kernel: %m");
    return -1;
  }
  return 0;
}

static int
completed (void *opaque, int *error)
{
  struct slot *s = opaque;

  if (*error)
    dram_error ("proxy: request type %u of %u bytes failed at the donor: %s",
                s->type, s->len, strerror (*error));
  reply (s, *error);
  slot_release (s);
  return 1;                     /* retire the command */
}

static struct slot *
free_slot (struct conn *c)
{
  unsigned i;

  for (i = 0; i < SLOTS; i++)
    if (!c->slot[i].busy)
      return &c->slot[i];
  return NULL;
}

/* Reads one request from the kernel and starts it.  Returns -1 when
 * the kernel has gone or broke the protocol.
 */
static int
take_request (struct conn *c)
{
  struct nbd_request rq;
  struct slot *s = free_slot (c);
  nbd_completion_callback cb = { .callback = completed, .user_data = s };
  uint64_t offset;
  uint32_t type, flags;
  int64_t r;
  ssize_t n;

  n = read_full (c->kfd, &rq, sizeof rq);
  if (n <= 0)
    return -1;
  if (be32toh (rq.magic) != NBD_REQUEST_MAGIC) {
    dram_error ("proxy: bad request magic from the kernel");
    return -1;
  }
  type = be32toh (rq.type) & 0xffff;
  flags = (be32toh (rq.type) >> 16) & NBD_CMD_FLAG_FUA ? LIBNBD_CMD_FLAG_FUA : 0;
  offset = be64toh (rq.from);

  s->busy = true;
  c->busy++;
  s->type = type;
  s->len = be32toh (rq.len);
  memcpy (s->handle, rq.handle, sizeof s->handle);
  if ((type == NBD_CMD_READ || type == NBD_CMD_WRITE) &&
      s->len > PROXY_MAX_REQUEST) {
    s->big = malloc (s->len);
    if (s->big == NULL) {
      dram_error ("proxy: no memory for a request of %u bytes", s->len);
      return -1;
    }
  }

  switch (type) {
  case NBD_CMD_READ:
    r = nbd_aio_pread (c->h, slot_data (s), s->len, offset, cb, 0);
    break;
  case NBD_CMD_WRITE:
    if (read_full (c->kfd, slot_data (s), s->len) <= 0)
      return -1;
    r = nbd_aio_pwrite (c->h, slot_data (s), s->len, offset, cb, flags);
    break;
  case NBD_CMD_FLUSH:
    r = nbd_aio_flush (c->h, cb, 0);
    break;
  case NBD_CMD_TRIM:
    r = nbd_aio_trim (c->h, s->len, offset, cb, flags);
    break;
  case NBD_CMD_DISC:
    slot_release (s);
    c->closing = true;
    return 0;
  default:
    reply (s, EINVAL);
    slot_release (s);
    return 0;
  }
  if (r == -1) {
    /* Not started, so no callback will come. */
    dram_error ("proxy: %s", nbd_get_error ());
    reply (s, nbd_get_errno () ? nbd_get_errno () : EIO);
    slot_release (s);
  }
  return 0;
}

static void *
conn_loop (void *arg)
{
  struct conn *c = arg;
  struct pollfd pfd[2];
  unsigned dir;

  for (;;) {
    if (c->closing && c->busy == 0)
      break;
    pfd[0].fd = c->kfd;
    pfd[0].events = !c->closing && c->busy < SLOTS ? POLLIN : 0;
    pfd[1].fd = nbd_aio_get_fd (c->h);
    dir = nbd_aio_get_direction (c->h);
    pfd[1].events = (dir & LIBNBD_AIO_DIRECTION_READ ? POLLIN : 0) |
                    (dir & LIBNBD_AIO_DIRECTION_WRITE ? POLLOUT : 0);
    if (poll (pfd, 2, -1) == -1) {
      if (errno == EINTR)
        continue;
      dram_error ("proxy: poll: %m");
      break;
    }
    if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))
      nbd_aio_notify_read (c->h);
    else if (pfd[1].revents & POLLOUT)
      nbd_aio_notify_write (c->h);
    if (nbd_aio_is_dead (c->h) || nbd_aio_is_closed (c->h)) {
      dram_error ("proxy: lost the donor: %s", nbd_get_error ());
      break;
    }
    if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR) &&
        take_request (c) == -1)
      c->closing = true;
  }
  /* The kernel sees the end of its socket and fails what is pending. */
  shutdown (c->kfd, SHUT_RDWR);
  if (nbd_aio_is_ready (c->h))
    nbd_shutdown (c->h, 0);
  return NULL;
}

static int
conn_init (struct conn *c, struct nbd_handle *h, int kfd)
{
  unsigned i;

  memset (c, 0, sizeof *c);
  c->h = h;
  c->kfd = kfd;
  for (i = 0; i < SLOTS; i++) {
    c->slot[i].c = c;
    c->slot[i].buf = malloc (PROXY_MAX_REQUEST);
    if (c->slot[i].buf == NULL) {
      dram_error ("proxy: malloc: %m");
      return -1;
    }
  }
  return 0;
}

/* The resident process: never returns. */
static void __attribute__ ((noreturn))
proxy_main (struct donor *d, const int *ours)
{
  static struct conn conns[MAX_CONNECTIONS];
  pthread_t threads[MAX_CONNECTIONS];
  unsigned i;

  signal (SIGPIPE, SIG_IGN);
  if (daemonize_io () == -1)
    _exit (EXIT_FAILURE);
  for (i = 0; i < d->nr; i++)
    if (conn_init (&conns[i], d->h[i], ours[i]) == -1)
      _exit (EXIT_FAILURE);
  if (become_resident (resident_libnbd_libs) == -1)
    _exit (EXIT_FAILURE);
  for (i = 0; i < d->nr; i++) {
    errno = pthread_create (&threads[i], NULL, conn_loop, &conns[i]);
    if (errno) {
      dram_error ("proxy: pthread_create: %m");
      _exit (EXIT_FAILURE);
    }
  }
  for (i = 0; i < d->nr; i++)
    pthread_join (threads[i], NULL);
  _exit (EXIT_SUCCESS);
}

pid_t
proxy_start (struct donor *d, int *kernel_fds)
{
  int pair[MAX_CONNECTIONS][2], ours[MAX_CONNECTIONS];
  unsigned i, made = 0;
  pid_t pid;

  for (i = 0; i < d->nr; i++, made++) {
    if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair[i]) == -1) {
      dram_error ("socketpair: %m");
      goto err;
    }
    ours[i] = pair[i][1];
  }
  pid = fork ();
  if (pid == -1) {
    dram_error ("fork: %m");
    goto err;
  }
  if (pid == 0) {
    for (i = 0; i < made; i++)
      close (pair[i][0]);
    proxy_main (d, ours);
  }
  /* The child owns the connections now.  The caller's donor_close
   * frees our copies only: libnbd sends nothing on close.
   */
  for (i = 0; i < made; i++) {
    close (pair[i][1]);
    kernel_fds[i] = pair[i][0];
  }
  return pid;

 err:
  for (i = 0; i < made; i++) {
    close (pair[i][0]);
    close (pair[i][1]);
  }
  return -1;
}
