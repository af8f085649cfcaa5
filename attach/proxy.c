/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* The TLS proxy, the fallback where the kernel cannot do TLS (see
 * ktls.c).  The kernel's NBD driver gets one end of a socketpair per
 * connection, and a resident process carries each request to the
 * donor over libnbd's TLS connection: the socketpair is the source of
 * an engine loop (engine.c), and each reply is written when its
 * request completes.  Buffers are allocated before the process locks
 * its memory and goes to work; a request larger than a buffer (the
 * device's max_sectors_kb is lowered to prevent that) gets its own.
 */

#include <config.h>

#include <endian.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <libnbd.h>

#include "engine.h"
#include "link.h"
#include "nbdproto.h"
#include "proxy.h"
#include "report.h"
#include "resident.h"

#define SLOTS 32                /* requests in flight per connection */

struct conn;

struct slot {
  struct engine_req req;
  struct conn *c;
  bool busy;
  char handle[8];               /* the kernel's, echoed in the reply */
  char *buf;                    /* preallocated, PROXY_MAX_REQUEST bytes */
  char *big;                    /* a larger request's own buffer */
};

struct conn {
  struct engine_conn *engine;
  int kfd;                      /* our end of the kernel's socketpair */
  unsigned busy;
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

static void
slot_release (struct slot *s)
{
  free (s->big);
  s->big = NULL;
  s->busy = false;
  s->c->busy--;
}

/* Sends the kernel its reply; the data follows a successful read. */
static void
reply (struct engine_req *r)
{
  struct slot *s = r->opaque;
  struct nbd_simple_reply rep;

  if (r->error)
    dram_error ("proxy: request type %u of %u bytes failed at the donor: %s",
                r->type, r->len, strerror (r->error));
  rep.magic = htobe32 (NBD_SIMPLE_REPLY_MAGIC);
  rep.error = htobe32 (nbd_errno_to_wire (r->error));
  memcpy (rep.handle, s->handle, sizeof rep.handle);
  if (write_full (s->c->kfd, &rep, sizeof rep) == -1 ||
      (r->error == 0 && r->type == NBD_CMD_READ &&
       write_full (s->c->kfd, r->buf, r->len) == -1))
    dram_error ("proxy: replying to the kernel: %m");
  slot_release (s);
}

static bool
want_requests (void *opaque)
{
  struct conn *c = opaque;

  return c->busy < SLOTS;
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
 * the kernel said goodbye, went away, or broke the protocol.
 */
static int
take_request (void *opaque)
{
  struct conn *c = opaque;
  struct slot *s = free_slot (c);
  struct nbd_request rq;
  uint32_t type;

  if (read_full (c->kfd, &rq, sizeof rq) <= 0)
    return -1;
  if (be32toh (rq.magic) != NBD_REQUEST_MAGIC) {
    dram_error ("proxy: bad request magic from the kernel");
    return -1;
  }
  type = be32toh (rq.type) & 0xffff;
  if (type == NBD_CMD_DISC)
    return -1;

  s->busy = true;
  c->busy++;
  memcpy (s->handle, rq.handle, sizeof s->handle);
  s->req = (struct engine_req) {
    .type = type,
    .fua = (be32toh (rq.type) >> 16) & NBD_CMD_FLAG_FUA,
    .len = be32toh (rq.len),
    .offset = be64toh (rq.from),
    .buf = s->buf,
    .done = reply,
    .opaque = s,
  };
  if ((type == NBD_CMD_READ || type == NBD_CMD_WRITE) &&
      s->req.len > PROXY_MAX_REQUEST) {
    s->big = malloc (s->req.len);
    if (s->big == NULL) {
      dram_error ("proxy: no memory for a request of %u bytes", s->req.len);
      return -1;
    }
    s->req.buf = s->big;
  }
  if (type == NBD_CMD_WRITE &&
      read_full (c->kfd, s->req.buf, s->req.len) <= 0)
    return -1;
  engine_issue (c->engine, &s->req);
  return 0;
}

static int
conn_init (struct conn *c, int kfd)
{
  char *bufs;
  unsigned i;

  memset (c, 0, sizeof *c);
  c->kfd = kfd;
  bufs = resident_alloc ((size_t) SLOTS * PROXY_MAX_REQUEST);
  if (bufs == NULL)
    return -1;
  for (i = 0; i < SLOTS; i++) {
    c->slot[i].c = c;
    c->slot[i].buf = bufs + (size_t) i * PROXY_MAX_REQUEST;
  }
  return 0;
}

/* The resident process: never returns. */
static void __attribute__ ((noreturn))
proxy_main (struct donor *d, const int *ours)
{
  static struct conn conns[MAX_CONNECTIONS];
  unsigned i;

  signal (SIGPIPE, SIG_IGN);
  if (daemonize_io () == -1)
    resident_exit (EXIT_FAILURE);
  for (i = 0; i < d->nr; i++)
    if (conn_init (&conns[i], ours[i]) == -1)
      resident_exit (EXIT_FAILURE);
  resident_heap (RESIDENT_HEAP);
  if (become_resident (resident_libnbd_libs) == -1)
    resident_exit (EXIT_FAILURE);
  for (i = 0; i < d->nr; i++) {
    struct engine_source src = {
      .fd = ours[i], .want = want_requests, .readable = take_request,
      .opaque = &conns[i],
    };
    struct link *l = nbd_link (d->h[i]);

    d->h[i] = NULL;             /* the link's, and then the engine's */
    conns[i].engine = l ? engine_start (l, &src, NULL) : NULL;
    if (conns[i].engine == NULL)
      resident_exit (EXIT_FAILURE);
  }
  for (i = 0; i < d->nr; i++) {
    engine_wait (conns[i].engine);
    /* The kernel sees the end of its socket and fails what is left. */
    shutdown (conns[i].kfd, SHUT_RDWR);
  }
  resident_exit (EXIT_SUCCESS);
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
