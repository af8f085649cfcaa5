/* dram — SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests: the FUSE server's data path (engine.c on socklink.c)
 * against a fake donor on the other end of a socket, over a Unix
 * socket and over TCP on loopback (where the link sends with
 * MSG_ZEROCOPY): bytes written and read back, replies out of order, the
 * donor's errors, and a donor that breaks the protocol or goes away.
 */

#include <config.h>

#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <check.h>

#include "engine.h"
#include "link.h"
#include "nbdproto.h"
#include "unit.h"

#define DISK_SIZE (1 << 20)
#define MAX_HELD 16

/* How the fake donor answers. */
enum script {
  ANSWER,                       /* each request at once */
  REVERSE,                      /* BATCH requests, then last first */
  ENOSPC_WRITES,                /* writes fail with ENOSPC */
  BAD_MAGIC,                    /* a reply with a wrong magic */
  BAD_HANDLE,                   /* a reply to a request never made */
  HANG_UP,                      /* closes at the first request */
};

struct fake {
  int fd;
  enum script script;
  unsigned batch;
  char *disk;
  unsigned requests;            /* seen */
  pthread_t thread;
};

static int
read_full (int fd, void *buf, size_t len)
{
  ssize_t n;

  while (len > 0) {
    n = read (fd, buf, len);
    if (n <= 0)
      return -1;
    buf = (char *) buf + n;
    len -= n;
  }
  return 0;
}

static void
write_full (int fd, const void *buf, size_t len)
{
  ssize_t n;

  while (len > 0) {
    n = send (fd, buf, len, MSG_NOSIGNAL);
    if (n <= 0)
      return;
    buf = (const char *) buf + n;
    len -= n;
  }
}

struct held {
  struct nbd_simple_reply reply;
  uint32_t type, len;
  uint64_t from;
};

static void
answer (struct fake *f, const struct held *h)
{
  write_full (f->fd, &h->reply, sizeof h->reply);
  if (h->type == NBD_CMD_READ && h->reply.error == 0)
    write_full (f->fd, f->disk + h->from, h->len);
}

static void *
serve (void *arg)
{
  struct fake *f = arg;
  struct held held[MAX_HELD];
  struct nbd_request rq;
  unsigned nheld = 0;
  uint64_t handle;

  while (read_full (f->fd, &rq, sizeof rq) == 0) {
    struct held h = {
      .reply = { .magic = htobe32 (NBD_SIMPLE_REPLY_MAGIC) },
      .type = be32toh (rq.type) & 0xffff,
      .len = be32toh (rq.len), .from = be64toh (rq.from),
    };

    ck_assert_uint_eq (be32toh (rq.magic), NBD_REQUEST_MAGIC);
    if (h.type == NBD_CMD_DISC)
      break;
    f->requests++;
    memcpy (h.reply.handle, rq.handle, sizeof h.reply.handle);
    ck_assert_uint_le (h.from + h.len, DISK_SIZE);
    if (h.type == NBD_CMD_WRITE &&
        read_full (f->fd, f->disk + h.from, h.len) == -1)
      break;
    if (h.type == NBD_CMD_TRIM)
      memset (f->disk + h.from, 0, h.len);
    switch (f->script) {
    case ANSWER:
      answer (f, &h);
      break;
    case REVERSE:
      held[nheld++] = h;
      if (nheld == f->batch)
        while (nheld > 0)
          answer (f, &held[--nheld]);
      break;
    case ENOSPC_WRITES:
      if (h.type == NBD_CMD_WRITE)
        h.reply.error = htobe32 (28);
      answer (f, &h);
      break;
    case BAD_MAGIC:
      h.reply.magic = htobe32 (0x12345678);
      answer (f, &h);
      break;
    case BAD_HANDLE:
      memcpy (&handle, h.reply.handle, sizeof handle);
      handle ^= UINT64_C (0x5a5a) << 32;
      memcpy (h.reply.handle, &handle, sizeof handle);
      answer (f, &h);
      break;
    case HANG_UP:
      shutdown (f->fd, SHUT_RDWR);
      return NULL;
    }
  }
  return NULL;
}

/* A connected pair: [0] for the link, [1] for the fake donor. */
static void
connect_pair (bool tcp, int fds[2])
{
  struct sockaddr_in a = { .sin_family = AF_INET };
  socklen_t len = sizeof a;
  int l, one = 1;

  if (!tcp) {
    ck_assert_int_eq (socketpair (AF_UNIX, SOCK_STREAM, 0, fds), 0);
    return;
  }
  a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  l = socket (AF_INET, SOCK_STREAM, 0);
  ck_assert_int_ge (l, 0);
  ck_assert_int_eq (bind (l, (struct sockaddr *) &a, sizeof a), 0);
  ck_assert_int_eq (listen (l, 1), 0);
  ck_assert_int_eq (getsockname (l, (struct sockaddr *) &a, &len), 0);
  fds[0] = socket (AF_INET, SOCK_STREAM, 0);
  ck_assert_int_eq (connect (fds[0], (struct sockaddr *) &a, sizeof a), 0);
  fds[1] = accept (l, NULL, NULL);
  ck_assert_int_ge (fds[1], 0);
  setsockopt (fds[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt (fds[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  close (l);
}

struct rig {
  struct fake fake;
  struct engine_conn *conn;
};

static void
rig_up (struct rig *g, bool tcp, enum script script, unsigned batch)
{
  int fds[2];

  clear_error ();
  connect_pair (tcp, fds);
  g->fake = (struct fake) { .fd = fds[1], .script = script, .batch = batch };
  g->fake.disk = calloc (1, DISK_SIZE);
  ck_assert_ptr_nonnull (g->fake.disk);
  ck_assert_int_eq (pthread_create (&g->fake.thread, NULL, serve, &g->fake),
                    0);
  g->conn = engine_start (socket_link (fds[0], "fake"), NULL, NULL);
  ck_assert_ptr_nonnull (g->conn);
}

static void
rig_down (struct rig *g)
{
  engine_stop (g->conn);
  pthread_join (g->fake.thread, NULL);
  close (g->fake.fd);
  free (g->fake.disk);
}

/* A request and the wait for its end. */
struct op {
  struct engine_req req;
  sem_t done;
};

static void
op_done (struct engine_req *r)
{
  sem_post (&((struct op *) r->opaque)->done);
}

static void
op_issue (struct rig *g, struct op *o, uint16_t type, void *buf,
          uint32_t len, uint64_t off)
{
  sem_init (&o->done, 0, 0);
  o->req = (struct engine_req) {
    .type = type, .buf = buf, .len = len, .offset = off,
    .done = op_done, .opaque = o,
  };
  engine_issue (g->conn, &o->req);
}

static int
op_wait (struct op *o)
{
  while (sem_wait (&o->done) == -1 && errno == EINTR)
    ;
  sem_destroy (&o->done);
  return o->req.error;
}

static int
op (struct rig *g, uint16_t type, void *buf, uint32_t len, uint64_t off)
{
  struct op o;

  op_issue (g, &o, type, buf, len, off);
  return op_wait (&o);
}

static void
fill (char *buf, size_t len, unsigned seed)
{
  size_t i;

  for (i = 0; i < len; i++)
    buf[i] = (char) (i * 131 + seed * 7 + (i >> 12));
}

/* _i: 0 over a Unix socket, 1 over TCP (zero-copy). */
START_TEST (write_read_back)
{
  static const struct { uint32_t len; uint64_t off; } io[] = {
    { 4096, 0 }, { 65536, 8192 }, { 262144, 524288 }, { 512, 1048064 },
  };
  struct rig g;
  char *buf = malloc (262144), *back = malloc (262144);
  unsigned i;

  rig_up (&g, _i, ANSWER, 0);
  for (i = 0; i < sizeof io / sizeof io[0]; i++) {
    fill (buf, io[i].len, i);
    ck_assert_int_eq (op (&g, NBD_CMD_WRITE, buf, io[i].len, io[i].off), 0);
  }
  ck_assert_int_eq (op (&g, NBD_CMD_FLUSH, NULL, 0, 0), 0);
  for (i = 0; i < sizeof io / sizeof io[0]; i++) {
    fill (buf, io[i].len, i);
    memset (back, 0, io[i].len);
    ck_assert_int_eq (op (&g, NBD_CMD_READ, back, io[i].len, io[i].off), 0);
    ck_assert_mem_eq (back, buf, io[i].len);
  }
  /* A trim reaches the donor, which reads back zeros. */
  ck_assert_int_eq (op (&g, NBD_CMD_TRIM, NULL, 4096, 0), 0);
  ck_assert_int_eq (op (&g, NBD_CMD_READ, back, 4096, 0), 0);
  memset (buf, 0, 4096);
  ck_assert_mem_eq (back, buf, 4096);
  rig_down (&g);
  ck_assert_uint_eq (g.fake.requests, 11);
  free (buf);
  free (back);
}
END_TEST

/* Many in flight at once, answered last first: each reply finds its
 * own request and buffer.
 */
START_TEST (out_of_order)
{
  enum { N = 12, LEN = 16384 };
  struct rig g;
  struct op o[N];
  char *buf = malloc (N * LEN), *want = malloc (LEN);
  unsigned i;

  rig_up (&g, _i, REVERSE, N);
  for (i = 0; i < N; i++)
    fill (g.fake.disk + i * LEN, LEN, 100 + i);
  memset (buf, 0, N * LEN);
  for (i = 0; i < N; i++)
    op_issue (&g, &o[i], NBD_CMD_READ, buf + i * LEN, LEN, i * LEN);
  for (i = 0; i < N; i++) {
    ck_assert_int_eq (op_wait (&o[i]), 0);
    fill (want, LEN, 100 + i);
    ck_assert_mem_eq (buf + i * LEN, want, LEN);
  }
  rig_down (&g);
  free (buf);
  free (want);
}
END_TEST

/* The donor's error reaches the request, and the connection stays. */
START_TEST (donor_error)
{
  struct rig g;
  char buf[4096];

  rig_up (&g, _i, ENOSPC_WRITES, 0);
  memset (buf, 'x', sizeof buf);
  ck_assert_int_eq (op (&g, NBD_CMD_WRITE, buf, sizeof buf, 0), ENOSPC);
  ck_assert_int_eq (op (&g, NBD_CMD_READ, buf, sizeof buf, 0), 0);
  rig_down (&g);
}
END_TEST

/* A donor that breaks the protocol or hangs up: the request in flight
 * and every later one fail (no way back without reconnecting), and the
 * message says why.
 */
static const struct {
  enum script script;
  const char *why;
} broken[] = {
  { BAD_MAGIC, "bad magic (0x12345678)" },
  { BAD_HANDLE, "answered a request that was not asked" },
  { HANG_UP, "closed the connection" },
};

START_TEST (broken_donor)
{
  struct rig g;
  char buf[4096];
  unsigned k = _i / 2;

  rig_up (&g, _i % 2, broken[k].script, 0);
  ck_assert_int_eq (op (&g, NBD_CMD_READ, buf, sizeof buf, 0), ENOTCONN);
  ck_assert_int_eq (op (&g, NBD_CMD_WRITE, buf, sizeof buf, 0), ENOTCONN);
  rig_down (&g);
  /* Read once the loop has ended: it reports from its own thread. */
  ck_assert_msg (strstr (last_error, broken[k].why) != NULL,
                 "'%s' does not say '%s'", last_error, broken[k].why);
}
END_TEST

int
main (void)
{
  TCase *tc = tcase_create ("socklink");

  tcase_set_timeout (tc, 60);
  tcase_add_loop_test (tc, write_read_back, 0, 2);
  tcase_add_loop_test (tc, out_of_order, 0, 2);
  tcase_add_loop_test (tc, donor_error, 0, 2);
  tcase_add_loop_test (tc, broken_donor, 0,
                       2 * sizeof broken / sizeof broken[0]);
  return run_tcase ("socklink", tc);
}
